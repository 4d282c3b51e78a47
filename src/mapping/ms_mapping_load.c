/*
 * Mapping file loader and validator: reads one mappings/<source>.json or mitre.json, checks every
 * key, compiles every expression, and refuses faults naming the file and the JSON pointer.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/ms_err.h"
#include "../core/ms_json.h"
#include "ms_mapping_int.h"

#define MAPPING_FILE_MAX (1024 * 1024)
#define JSON_DEPTH_MAX   64

const struct ms_nk_desc ms_nkeys[MS_NK_COUNT] = {
    {"alert_type", NK_STR}, {"severity", NK_SEVERITY}, {"action", NK_ACTION},
    {"sender", NK_STR},     {"recipient", NK_STRS},    {"subject", NK_STR},
    {"message_id", NK_STR}, {"src_ip", NK_IP},         {"url", NK_STR},
    {"file_name", NK_STR},  {"file_hash", NK_STR},     {"internal_message_id", NK_STR},
    {"user", NK_STR},       {"dest", NK_STR},          {"size", NK_SIZE},
    {"signature", NK_STR},  {"category", NK_STR},      {"vendor_action", NK_STR},
};

const char *const ms_cim_actions[] = {"delivered", "blocked", "quarantined",
                                      "deleted",   "allowed", NULL};

static const char *const top_keys[] = {"source_type", "vendor", "product", "records_path",
                                       "id",          "time",   "drop",    "event",
                                       "fields",      "tables", NULL};

/* Keys the engine sets itself: explained when a file tries to set them under "event". */
static const char *const engine_keys[] = {"id",    "time",   "vendor", "product", "source_type",
                                          "mitre", "fields", "raw",    NULL};

static const char *const drop_extra[] = {"reason", NULL};

void ms_mapping_free(struct ms_mapping *m)
{
    size_t i;

    free(m->file);
    free(m->source_type);
    json_object_put(m->st_obj);
    json_object_put(m->vendor);
    json_object_put(m->product);
    ms_jpath_destroy(m->records_path);
    for (i = 0; i < m->n_id; i++) {
        ms_expr_destroy(m->id[i]);
    }
    free(m->id);
    ms_expr_destroy(m->time);
    for (i = 0; i < m->n_drops; i++) {
        ms_cond_destroy(m->drops[i].cond);
        free(m->drops[i].reason);
    }
    free(m->drops);
    for (i = 0; i < MS_NK_COUNT; i++) {
        ms_expr_destroy(m->nk[i]);
    }
    for (i = 0; i < m->n_fields; i++) {
        free(m->fields[i].name);
        ms_expr_destroy(m->fields[i].expr);
    }
    free(m->fields);
    for (i = 0; i < m->n_untagged; i++) {
        free(m->untagged[i].name);
    }
    memset(m, 0, sizeof(*m));
}

/* Reads and parses a JSON file; faults (I/O, size, syntax with line and column) into errs. */
static int read_json(const char *path, struct json_object **out, struct ms_cfg_errors *errs)
{
    int ret =
        ms_json_load_file(path, MAPPING_FILE_MAX, JSON_DEPTH_MAX, JSON_TOKENER_STRICT, out, errs);

    if (ret == MS_EOF) {
        ms_cfg_errors_add(errs, "%s: cannot read: %s", path, strerror(ENOENT));
        ret = MS_EIO;
    }
    return ret;
}

static bool in_list(const char *s, const char *const *list)
{
    size_t i;

    for (i = 0; list[i]; i++) {
        if (strcmp(s, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* A required (or optional) non-empty string member; NULL when absent or refused. */
static const char *
string_member(struct ms_mload *ld, struct json_object *root, const char *key, bool required)
{
    struct json_object *v = NULL;
    size_t saved;

    if (!json_object_object_get_ex(root, key, &v)) {
        if (required) {
            ms_mload_error(ld, "missing \"%s\"", key);
        }
        return NULL;
    }
    if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0) {
        saved = ms_mload_push(ld, key);
        ms_mload_error(ld, "expected a non-empty string");
        ms_mload_pop(ld, saved);
        return NULL;
    }
    return json_object_get_string(v);
}

struct const_check {
    struct ms_mload *ld;
    enum ms_nk_type type;
    const char *key;
};

/* Checks a constant a normalized key can receive against the key's type. */
static void check_const(struct json_object *v, void *arg)
{
    struct const_check *cc = arg;
    double d;

    if (!v) {
        return; /* null: the key is left out */
    }
    switch (cc->type) {
    case NK_ACTION:
        if (!json_object_is_type(v, json_type_string) ||
            !in_list(json_object_get_string(v), ms_cim_actions)) {
            ms_mload_error(cc->ld,
                           "\"%s\" is not a CIM Email action (delivered, blocked, quarantined, "
                           "deleted, allowed); keep the vendor's word in vendor_action",
                           json_object_get_string(v));
        }
        break;
    case NK_SEVERITY:
        if (!ms_value_number(v, &d) || d < 0 || d > 10) {
            ms_mload_error(cc->ld, "%s is a number from 0 to 10, not %s", cc->key,
                           json_object_to_json_string(v));
        }
        break;
    case NK_SIZE:
        if (!ms_value_number(v, &d) || d < 0) {
            ms_mload_error(cc->ld, "%s is a number of bytes, not %s", cc->key,
                           json_object_to_json_string(v));
        }
        break;
    default:
        break;
    }
}

static int load_tables(struct ms_mload *ld, struct json_object *root)
{
    struct json_object *tables = NULL;
    size_t saved;
    int ret = MS_OK;

    if (!json_object_object_get_ex(root, "tables", &tables)) {
        return MS_OK;
    }
    saved = ms_mload_push(ld, "tables");
    if (!json_object_is_type(tables, json_type_object)) {
        ms_mload_error(ld, "expected an object of named tables");
        ret = MS_EINVAL;
    }
    else {
        json_object_object_foreach(tables, name, table) {
            size_t s2;

            if (name[0] == '_') {
                continue;
            }
            s2 = ms_mload_push(ld, name);
            if (!json_object_is_type(table, json_type_object)) {
                ms_mload_error(ld, "a table is an object of \"vendor value\": result pairs");
                ret = MS_EINVAL;
            }
            ms_mload_pop(ld, s2);
        }
        ld->tables = tables;
    }
    ms_mload_pop(ld, saved);
    return ret;
}

static void load_id(struct ms_mload *ld, struct json_object *root, struct ms_mapping *m)
{
    struct json_object *id = NULL;
    size_t saved;
    size_t n;
    size_t i;

    if (!json_object_object_get_ex(root, "id", &id)) {
        return; /* the record's canonical bytes */
    }
    saved = ms_mload_push(ld, "id");
    n = json_object_is_type(id, json_type_array) ? json_object_array_length(id) : 1;
    if (n == 0) {
        ms_mload_error(ld, "expected the vendor id field(s): a path or a list of paths");
        goto out;
    }
    m->id = calloc(n, sizeof(*m->id));
    if (!m->id) {
        ms_mload_error(ld, "out of memory");
        goto out;
    }
    if (!json_object_is_type(id, json_type_array)) {
        m->id[0] = ms_expr_compile(ld, id);
        m->n_id = 1;
        goto out;
    }
    for (i = 0; i < n; i++) {
        size_t s2 = ms_mload_push_index(ld, i);

        m->id[i] = ms_expr_compile(ld, json_object_array_get_idx(id, i));
        m->n_id = i + 1;
        ms_mload_pop(ld, s2);
    }
out:
    ms_mload_pop(ld, saved);
}

static void load_drops(struct ms_mload *ld, struct json_object *root, struct ms_mapping *m)
{
    struct json_object *drop = NULL;
    size_t saved;
    size_t n;
    size_t i;

    if (!json_object_object_get_ex(root, "drop", &drop)) {
        return;
    }
    saved = ms_mload_push(ld, "drop");
    if (!json_object_is_type(drop, json_type_array)) {
        ms_mload_error(ld, "expected a list of drop rules");
        goto out;
    }
    n = json_object_array_length(drop);
    m->drops = calloc(n ? n : 1, sizeof(*m->drops));
    if (!m->drops) {
        ms_mload_error(ld, "out of memory");
        goto out;
    }
    for (i = 0; i < n; i++) {
        struct json_object *rule = json_object_array_get_idx(drop, i);
        struct ms_drop_rule *d = &m->drops[m->n_drops];
        size_t s2 = ms_mload_push_index(ld, i);
        const char *reason;

        d->cond = ms_cond_compile(ld, rule, drop_extra);
        reason = json_object_is_type(rule, json_type_object)
                     ? string_member(ld, rule, "reason", true)
                     : NULL;
        if (reason) {
            d->reason = strdup(reason);
        }
        m->n_drops++;
        ms_mload_pop(ld, s2);
    }
out:
    ms_mload_pop(ld, saved);
}

static void load_event(struct ms_mload *ld, struct json_object *root, struct ms_mapping *m)
{
    static const char *nk_names[MS_NK_COUNT + 1];
    struct json_object *event = NULL;
    size_t saved;
    size_t k;

    for (k = 0; k < MS_NK_COUNT; k++) {
        nk_names[k] = ms_nkeys[k].name;
    }
    if (!json_object_object_get_ex(root, "event", &event)) {
        return;
    }
    saved = ms_mload_push(ld, "event");
    if (!json_object_is_type(event, json_type_object)) {
        ms_mload_error(ld, "expected an object of normalized keys");
        ms_mload_pop(ld, saved);
        return;
    }
    json_object_object_foreach(event, key, val) {
        size_t s2;

        if (key[0] == '_') {
            continue;
        }
        s2 = ms_mload_push(ld, key);
        for (k = 0; k < MS_NK_COUNT && strcmp(ms_nkeys[k].name, key) != 0; k++) {
        }
        if (k == MS_NK_COUNT) {
            const char *hint = ms_mload_suggest(key, nk_names);

            if (in_list(key, engine_keys)) {
                ms_mload_error(ld,
                               "\"%s\" is set by the engine (it has its own top-level key or "
                               "none)",
                               key);
            }
            else {
                ms_mload_error(ld, "not a normalized key%s%s%s; vendor fields go under /fields",
                               hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
            }
        }
        else {
            m->nk[k] = ms_expr_compile(ld, val);
            if (m->nk[k]) {
                struct const_check cc = {ld, ms_nkeys[k].type, key};

                ms_expr_foreach_const(m->nk[k], check_const, &cc);
            }
        }
        ms_mload_pop(ld, s2);
    }
    ms_mload_pop(ld, saved);
}

static void load_fields(struct ms_mload *ld, struct json_object *root, struct ms_mapping *m)
{
    struct json_object *fields = NULL;
    size_t saved;

    if (!json_object_object_get_ex(root, "fields", &fields)) {
        return;
    }
    saved = ms_mload_push(ld, "fields");
    if (!json_object_is_type(fields, json_type_object)) {
        ms_mload_error(ld, "expected an object of field name: expression");
        ms_mload_pop(ld, saved);
        return;
    }
    m->fields = calloc((size_t)json_object_object_length(fields) + 1, sizeof(*m->fields));
    if (!m->fields) {
        ms_mload_error(ld, "out of memory");
        ms_mload_pop(ld, saved);
        return;
    }
    json_object_object_foreach(fields, key, val) {
        struct ms_field *f;
        size_t s2;

        if (key[0] == '_') {
            continue;
        }
        s2 = ms_mload_push(ld, key);
        f = &m->fields[m->n_fields++];
        f->name = strdup(key);
        if (!f->name) {
            ms_mload_error(ld, "out of memory");
        }
        f->expr = ms_expr_compile(ld, val);
        ms_mload_pop(ld, s2);
    }
    ms_mload_pop(ld, saved);
}

int ms_mapping_load_file(struct ms_mapping *m,
                         const char *path,
                         const char *stem,
                         struct ms_cfg_errors *errs)
{
    struct json_object *root = NULL;
    struct json_object *v = NULL;
    struct ms_mload ld;
    const char *s;
    char why[160];
    size_t saved;
    size_t i;
    int ret;

    m->file = strdup(path);
    if (!m->file) {
        return MS_ENOMEM;
    }
    ret = read_json(path, &root, errs);
    if (ret != MS_OK) {
        return ret;
    }
    ms_mload_init(&ld, path, errs);
    if (!json_object_is_type(root, json_type_object)) {
        ms_mload_error(&ld, "a mapping file is a JSON object");
        ret = MS_EINVAL;
        goto out;
    }
    json_object_object_foreach(root, key, val) {
        (void)val;
        if (key[0] != '_' && !in_list(key, top_keys)) {
            const char *hint = ms_mload_suggest(key, top_keys);

            saved = ms_mload_push(&ld, key);
            ms_mload_error(&ld, "unknown key%s%s%s", hint ? " (did you mean '" : "",
                           hint ? hint : "", hint ? "'?)" : "");
            ms_mload_pop(&ld, saved);
        }
    }
    s = string_member(&ld, root, "source_type", true);
    if (s) {
        m->source_type = strdup(s);
        m->st_obj = json_object_new_string(s);
        for (i = 0; m->source_type && m->source_type[i]; i++) {
            if (stem[i] != (m->source_type[i] == ':' ? '-' : m->source_type[i])) {
                break;
            }
        }
        if (m->source_type && (m->source_type[i] || stem[i])) {
            saved = ms_mload_push(&ld, "source_type");
            ms_mload_error(&ld,
                           "\"%s\" belongs in a file named after it (':' becomes '-'), not "
                           "in %s.json",
                           s, stem);
            ms_mload_pop(&ld, saved);
        }
    }
    s = string_member(&ld, root, "vendor", true);
    m->vendor = s ? json_object_new_string(s) : NULL;
    s = string_member(&ld, root, "product", true);
    m->product = s ? json_object_new_string(s) : NULL;
    if (json_object_object_get_ex(root, "records_path", &v)) {
        saved = ms_mload_push(&ld, "records_path");
        if (!json_object_is_type(v, json_type_string)) {
            ms_mload_error(&ld, "expected a path such as \"$.data[*].clickLogs[*]\"");
        }
        else {
            m->records_path = ms_jpath_compile(json_object_get_string(v), why, sizeof(why));
            if (!m->records_path) {
                ms_mload_error(&ld, "bad path \"%s\": %s", json_object_get_string(v), why);
            }
            else if (!ms_jpath_first_key(m->records_path)) {
                ms_mload_error(&ld, "the path must start with a member name (\"$.records[*]\"), "
                                    "so a page can be told from a record");
            }
        }
        ms_mload_pop(&ld, saved);
    }
    load_tables(&ld, root);
    load_id(&ld, root, m);
    if (!json_object_object_get_ex(root, "time", &v)) {
        ms_mload_error(&ld, "missing \"time\" (the path of the vendor's event time)");
    }
    else {
        saved = ms_mload_push(&ld, "time");
        m->time = ms_expr_compile(&ld, v);
        ms_mload_pop(&ld, saved);
    }
    load_drops(&ld, root, m);
    load_event(&ld, root, m);
    load_fields(&ld, root, m);
    if (!m->st_obj || !m->vendor || !m->product) {
        ld.n_errors += m->source_type && !m->st_obj; /* allocation failures count as faults */
    }
    ret = ld.n_errors ? MS_EINVAL : MS_OK;
out:
    json_object_put(root);
    return ret;
}

/* "T1598", "T1598.003" or "TA0001". */
static bool technique_id_ok(const char *s)
{
    regex_t re;
    bool ok;

    if (regcomp(&re, "^(T[0-9]{4}(\\.[0-9]{3})?|TA[0-9]{4})$", REG_EXTENDED | REG_NOSUB) != 0) {
        return false;
    }
    ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

int ms_mapping_load_mitre(const char *path, struct json_object **out, struct ms_cfg_errors *errs)
{
    struct json_object *root = NULL;
    struct json_object *rows = NULL;
    struct json_object *table = NULL;
    struct ms_mload ld;
    size_t saved;
    int ret;

    *out = NULL;
    ret = read_json(path, &root, errs);
    if (ret != MS_OK) {
        return ret;
    }
    ms_mload_init(&ld, path, errs);
    if (!json_object_is_type(root, json_type_object)) {
        ms_mload_error(&ld, "mitre.json is a JSON object with \"alert_types\"");
        ret = MS_EINVAL;
        goto out;
    }
    json_object_object_foreach(root, key, val) {
        (void)val;
        if (key[0] != '_' && strcmp(key, "alert_types") != 0) {
            saved = ms_mload_push(&ld, key);
            ms_mload_error(&ld, "unknown key (mitre.json holds \"alert_types\")");
            ms_mload_pop(&ld, saved);
        }
    }
    if (!json_object_object_get_ex(root, "alert_types", &rows) ||
        !json_object_is_type(rows, json_type_object)) {
        ms_mload_error(&ld, "missing \"alert_types\": {\"<alert type>\": {\"technique_id\": ..., "
                            "\"technique_name\": ...}, ...}");
        ret = MS_EINVAL;
        goto out;
    }
    table = json_object_new_object();
    if (!table) {
        ret = MS_ENOMEM;
        goto out;
    }
    saved = ms_mload_push(&ld, "alert_types");
    json_object_object_foreach(rows, alert, row) {
        struct json_object *tid = NULL;
        struct json_object *tname = NULL;
        struct json_object *tag;
        size_t s2;

        if (alert[0] == '_') {
            continue;
        }
        s2 = ms_mload_push(&ld, alert);
        if (!json_object_is_type(row, json_type_object)) {
            ms_mload_error(&ld, "expected {\"technique_id\": ..., \"technique_name\": ...}");
            ms_mload_pop(&ld, s2);
            continue;
        }
        json_object_object_foreach(row, rkey, rval) {
            (void)rval;
            if (rkey[0] != '_' && strcmp(rkey, "technique_id") != 0 &&
                strcmp(rkey, "technique_name") != 0) {
                size_t s3 = ms_mload_push(&ld, rkey);

                ms_mload_error(&ld, "unknown key (a row has technique_id and technique_name)");
                ms_mload_pop(&ld, s3);
            }
        }
        json_object_object_get_ex(row, "technique_id", &tid);
        json_object_object_get_ex(row, "technique_name", &tname);
        if (!json_object_is_type(tid, json_type_string) ||
            !technique_id_ok(json_object_get_string(tid))) {
            size_t s3 = ms_mload_push(&ld, "technique_id");

            ms_mload_error(&ld, "expected a MITRE ATT&CK id such as \"T1598.003\" or \"TA0001\"");
            ms_mload_pop(&ld, s3);
        }
        else if (!json_object_is_type(tname, json_type_string) ||
                 json_object_get_string_len(tname) == 0) {
            size_t s3 = ms_mload_push(&ld, "technique_name");

            ms_mload_error(&ld, "expected the technique's name");
            ms_mload_pop(&ld, s3);
        }
        else {
            tag = json_object_new_object();
            if (!tag || json_object_object_add(tag, "technique_id", json_object_get(tid)) != 0 ||
                json_object_object_add(tag, "technique_name", json_object_get(tname)) != 0 ||
                json_object_object_add(table, alert, tag) != 0) {
                json_object_put(tag);
                ret = MS_ENOMEM;
            }
        }
        ms_mload_pop(&ld, s2);
    }
    ms_mload_pop(&ld, saved);
    if (ret == MS_OK && ld.n_errors) {
        ret = MS_EINVAL;
    }
    if (ret == MS_OK) {
        *out = table;
        table = NULL;
    }
out:
    json_object_put(table);
    json_object_put(root);
    return ret;
}
