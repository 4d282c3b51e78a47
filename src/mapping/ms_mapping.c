/*
 * Mapping stage: loads mappings/<source type>.json and mitre.json once, then turns each vendor
 * record into a normalized event (or a drop with its rule's reason) without re-reading them.
 */
#include <config.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../core/ms_err.h"
#include "../core/ms_json.h"
#include "../core/ms_log.h"
#include "ms_mapping_int.h"
#include "ms_timeparse.h"

#define SUMMARY_EVERY_MS (60 * 1000)
#define MAX_FILES        256
#define KEY_FLAGS        (JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT)

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(const struct ms_mapping_set *set)
{
    struct timespec ts;

    if (set && set->fixed_now_ms) {
        return set->fixed_now_ms;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ms_time_now_iso(char *out, size_t len)
{
    if (ms_time_format_iso(wall_ms(NULL), out, len) != MS_OK && len > 0) {
        out[0] = '\0';
    }
}

/* ------------------------------------------------------------------------------------------
 * Loading
 */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.json names in dir, sorted. Returns MS_OK, MS_EIO (errs) or MS_ENOMEM. */
static int list_json(const char *dir, char ***names, size_t *n, struct ms_cfg_errors *errs)
{
    struct dirent *de;
    DIR *d;
    int ret = MS_OK;

    *names = calloc(MAX_FILES, sizeof(**names));
    *n = 0;
    if (!*names) {
        return MS_ENOMEM;
    }
    d = opendir(dir);
    if (!d) {
        ms_cfg_errors_add(errs, "%s: mappings directory is not readable: %s", dir, strerror(errno));
        return MS_EIO;
    }
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);

        if (len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0 || de->d_name[0] == '.') {
            continue;
        }
        if (*n == MAX_FILES) {
            ms_cfg_errors_add(errs, "%s: more than %d mapping files", dir, MAX_FILES);
            ret = MS_EINVAL;
            break;
        }
        (*names)[*n] = strdup(de->d_name);
        if (!(*names)[*n]) {
            ret = MS_ENOMEM;
            break;
        }
        (*n)++;
    }
    closedir(d);
    qsort(*names, *n, sizeof(**names), name_cmp);
    return ret;
}

/* True when every part the loader compiled is there (a compile can fail on memory alone). */
static bool mapping_complete(const struct ms_mapping *m)
{
    size_t i;

    if (!m->source_type || !m->st_obj || !m->vendor || !m->product || !m->time) {
        return false;
    }
    for (i = 0; i < m->n_id; i++) {
        if (!m->id[i]) {
            return false;
        }
    }
    for (i = 0; i < m->n_drops; i++) {
        if (!m->drops[i].cond || !m->drops[i].reason) {
            return false;
        }
    }
    for (i = 0; i < m->n_fields; i++) {
        if (!m->fields[i].name || !m->fields[i].expr) {
            return false;
        }
    }
    return true;
}

int ms_mapping_set_load(const char *dir, struct ms_mapping_set **out, struct ms_cfg_errors *errs)
{
    struct ms_mapping_set *set;
    struct stat st;
    char **names = NULL;
    size_t n = 0;
    size_t i;
    size_t n_errs = errs->n;
    int ret;

    *out = NULL;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        ms_cfg_errors_add(errs, "%s: mappings directory is not readable: %s", dir,
                          errno ? strerror(errno) : "not a directory");
        return MS_EIO;
    }
    set = calloc(1, sizeof(*set));
    if (!set) {
        return MS_ENOMEM;
    }
    ms_buf_init(&set->idbuf, MS_CAP_EVENT);
    set->dir = strdup(dir);
    set->md = EVP_MD_CTX_new();
    if (!set->dir || !set->md) {
        ret = MS_ENOMEM;
        goto out;
    }
    ret = list_json(dir, &names, &n, errs);
    if (ret != MS_OK) {
        goto out;
    }
    set->maps = calloc(n ? n : 1, sizeof(*set->maps));
    if (!set->maps) {
        ret = MS_ENOMEM;
        goto out;
    }
    for (i = 0; i < n; i++) {
        char path[4096];
        char stem[256];
        size_t len = strlen(names[i]) - 5;
        int rc;

        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= sizeof(path) ||
            len >= sizeof(stem)) {
            ms_cfg_errors_add(errs, "%s/%s: path too long", dir, names[i]);
            ret = MS_EINVAL;
            continue;
        }
        memcpy(stem, names[i], len);
        stem[len] = '\0';
        if (strcmp(stem, "siem-profiles") == 0) {
            continue; /* not a mapping: the syslog output reads it (LEEF/CEF headers) */
        }
        if (strcmp(stem, "mitre") == 0) {
            set->mitre_file = strdup(path);
            rc = ms_mapping_load_mitre(path, &set->mitre, errs);
        }
        else {
            struct ms_mapping *m = &set->maps[set->n_maps++];

            rc = ms_mapping_load_file(m, path, stem, errs);
            if (rc == MS_OK && !mapping_complete(m)) {
                rc = MS_ENOMEM;
            }
        }
        if (rc == MS_ENOMEM) {
            ret = MS_ENOMEM;
            goto out;
        }
        if (rc != MS_OK) {
            ret = MS_EINVAL;
        }
    }
    if (ret == MS_OK && errs->n > n_errs) {
        ret = MS_EINVAL;
    }
    if (ret == MS_OK) {
        if (!set->mitre) {
            ms_log_warn(NULL, "%s: no mitre.json: events get no MITRE ATT&CK tags", dir);
        }
        if (set->n_maps == 0) {
            ms_log_warn(NULL, "%s: no mapping files: every event carries the generic envelope",
                        dir);
        }
        ms_log_debug(NULL, "mappings: %zu files loaded from %s", set->n_maps, dir);
        set->next_summary_ms = mono_ms() + SUMMARY_EVERY_MS;
    }
out:
    for (i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    if (ret != MS_OK) {
        ms_mapping_set_destroy(set);
        return ret;
    }
    *out = set;
    return MS_OK;
}

void ms_mapping_set_destroy(struct ms_mapping_set *set)
{
    size_t i;

    if (!set) {
        return;
    }
    if (set->next_summary_ms) {
        ms_mapping_log_summary(set);
    }
    for (i = 0; i < set->n_maps; i++) {
        ms_mapping_free(&set->maps[i]);
    }
    free(set->maps);
    json_object_put(set->mitre);
    free(set->mitre_file);
    ms_buf_free(&set->idbuf);
    EVP_MD_CTX_free(set->md);
    free(set->dir);
    free(set);
}

void ms_mapping_set_clock(struct ms_mapping_set *set, int64_t fixed_now_ms)
{
    set->fixed_now_ms = fixed_now_ms;
}

static struct ms_mapping *find_mapping(struct ms_mapping_set *set, const char *source_type)
{
    size_t i;

    if (set->last < set->n_maps && strcmp(set->maps[set->last].source_type, source_type) == 0) {
        return &set->maps[set->last];
    }
    for (i = 0; i < set->n_maps; i++) {
        if (strcmp(set->maps[i].source_type, source_type) == 0) {
            set->last = i;
            return &set->maps[i];
        }
    }
    return NULL;
}

static const struct ms_mapping *find_mapping_const(const struct ms_mapping_set *set,
                                                   const char *source_type)
{
    size_t i;

    for (i = 0; i < set->n_maps; i++) {
        if (strcmp(set->maps[i].source_type, source_type) == 0) {
            return &set->maps[i];
        }
    }
    return NULL;
}

bool ms_mapping_has(const struct ms_mapping_set *set, const char *source_type)
{
    return find_mapping_const(set, source_type) != NULL;
}

/* ------------------------------------------------------------------------------------------
 * Statistics and the summary
 */

/* Removes control characters so a vendor string cannot forge log lines. */
static void sanitize(char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            *s = '?';
        }
    }
}

static void count_untagged(struct ms_mapping *m, const char *alert_type)
{
    size_t i;

    m->counts.untagged++;
    for (i = 0; i < m->n_untagged; i++) {
        if (strcmp(m->untagged[i].name, alert_type) == 0) {
            m->untagged[i].count++;
            return;
        }
    }
    if (m->n_untagged < MS_UNTAGGED_NAMES) {
        m->untagged[m->n_untagged].name = strndup(alert_type, 80);
        if (m->untagged[m->n_untagged].name) {
            m->untagged[m->n_untagged].count = 1;
            m->n_untagged++;
            return;
        }
    }
    m->untagged_other++;
}

static struct ms_generic *generic_slot(struct ms_mapping_set *set, const char *source_type)
{
    size_t i;

    for (i = 0; i < set->n_generic; i++) {
        if (strcmp(set->generic[i].name, source_type) == 0) {
            return &set->generic[i];
        }
    }
    if (set->n_generic == MS_GENERIC_TYPES) {
        return NULL;
    }
    snprintf(set->generic[set->n_generic].name, sizeof(set->generic[0].name), "%s", source_type);
    sanitize(set->generic[set->n_generic].name);
    ms_log_warn(NULL,
                "no mapping file for source type '%s' in %s: its events carry the generic "
                "envelope {id, time, source_type, raw}",
                set->generic[set->n_generic].name, set->dir);
    return &set->generic[set->n_generic++];
}

static bool counts_changed(const struct ms_mapping_counts *a, const struct ms_mapping_counts *b)
{
    return memcmp(a, b, sizeof(*a)) != 0;
}

static void log_mapping_summary(struct ms_mapping *m)
{
    struct ms_mapping_counts d;
    struct ms_buf buf;
    size_t i;
    bool first = true;

    d.mapped = m->counts.mapped - m->reported.mapped;
    d.dropped = m->counts.dropped - m->reported.dropped;
    d.rejected = m->counts.rejected - m->reported.rejected;
    d.untagged = m->counts.untagged - m->reported.untagged;
    ms_buf_init(&buf, 8192);
    ms_buf_printf(&buf, "mapping %s: %" PRIu64 " events, %" PRIu64 " dropped", m->source_type,
                  d.mapped, d.dropped);
    for (i = 0; i < m->n_drops; i++) {
        uint64_t h = m->drops[i].hits - m->drops[i].hits_reported;

        if (h) {
            ms_buf_printf(&buf, "%s%s: %" PRIu64, first ? " (" : "; ", m->drops[i].reason, h);
            first = false;
        }
        m->drops[i].hits_reported = m->drops[i].hits;
    }
    ms_buf_printf(&buf, "%s, %" PRIu64 " rejected", first ? "" : ")", d.rejected);
    if (d.untagged) {
        ms_buf_printf(
            &buf, "; %" PRIu64 " untagged (alert type without a row in mitre.json:", d.untagged);
        for (i = 0; i < m->n_untagged; i++) {
            ms_buf_printf(&buf, "%s '%s' %" PRIu64, i ? "," : "", m->untagged[i].name,
                          m->untagged[i].count);
            m->untagged[i].count = 0;
        }
        if (m->untagged_other) {
            ms_buf_printf(&buf, ", others %" PRIu64, m->untagged_other);
            m->untagged_other = 0;
        }
        ms_buf_puts(&buf, ")");
    }
    for (i = 0; i < m->n_untagged; i++) {
        free(m->untagged[i].name);
        m->untagged[i].name = NULL;
    }
    m->n_untagged = 0;
    if (buf.data) {
        sanitize(buf.data);
    }
    ms_log_info(NULL, "%s", ms_buf_cstr(&buf));
    ms_buf_free(&buf);
    m->reported = m->counts;
}

void ms_mapping_log_summary(struct ms_mapping_set *set)
{
    size_t i;

    for (i = 0; i < set->n_maps; i++) {
        if (counts_changed(&set->maps[i].counts, &set->maps[i].reported)) {
            log_mapping_summary(&set->maps[i]);
        }
    }
    for (i = 0; i < set->n_generic; i++) {
        struct ms_generic *g = &set->generic[i];

        if (counts_changed(&g->counts, &g->reported)) {
            ms_log_info(NULL,
                        "mapping %s (no mapping file, generic envelope): %" PRIu64
                        " events, %" PRIu64 " rejected",
                        g->name, g->counts.mapped - g->reported.mapped,
                        g->counts.rejected - g->reported.rejected);
            g->reported = g->counts;
        }
    }
}

void ms_mapping_get_stats(const struct ms_mapping_set *set,
                          const char *source_type,
                          struct ms_mapping_stats *out)
{
    const struct ms_mapping *m = find_mapping_const(set, source_type);
    const struct ms_mapping_counts *c = NULL;
    size_t i;

    memset(out, 0, sizeof(*out));
    if (m) {
        c = &m->counts;
    }
    for (i = 0; !c && i < set->n_generic; i++) {
        if (strcmp(set->generic[i].name, source_type) == 0) {
            c = &set->generic[i].counts;
        }
    }
    if (c) {
        out->mapped = c->mapped;
        out->dropped = c->dropped;
        out->rejected = c->rejected;
        out->untagged = c->untagged;
    }
}

static void maybe_summary(struct ms_mapping_set *set)
{
    int64_t now = mono_ms();

    if (now >= set->next_summary_ms) {
        ms_mapping_log_summary(set);
        set->next_summary_ms = now + SUMMARY_EVERY_MS;
    }
}

/* ------------------------------------------------------------------------------------------
 * Identity
 */

static void
hex_digest(EVP_MD_CTX *ctx, const char *source_type, const char *bytes, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    unsigned int i;

    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, source_type, strlen(source_type) + 1) != 1 ||
        EVP_DigestUpdate(ctx, bytes, len) != 1 || EVP_DigestFinal_ex(ctx, md, &md_len) != 1) {
        md_len = 0;
    }
    for (i = 0; i < md_len && i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * i] = '\0';
}

void ms_event_id(const char *source_type,
                 const char *vendor_id,
                 struct json_object *raw,
                 char out[65])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const char *bytes;
    size_t len;

    if (vendor_id) {
        bytes = vendor_id;
        len = strlen(vendor_id);
    }
    else {
        bytes = json_object_to_json_string_length(raw, JSON_C_TO_STRING_PLAIN, &len);
    }
    hex_digest(ctx, source_type, bytes, len, out);
    EVP_MD_CTX_free(ctx);
}

/* Text of one id value: scalars as text, lists and objects as compact JSON. */
static const char *id_text(struct json_object *v, char *buf, size_t buf_len, size_t *len)
{
    const char *t = ms_value_text(v, buf, buf_len, len);

    if (!t) {
        t = json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN, len);
    }
    return t;
}

/* The event id from the mapping's id fields, or the record's canonical bytes without any. */
static int event_id(struct ms_mapping_set *set,
                    const struct ms_mapping *m,
                    struct json_object *raw,
                    char out[65])
{
    char nbuf[64];
    const char *bytes;
    size_t len;
    size_t i;
    bool any = false;
    int ret = MS_OK;

    ms_buf_reset(&set->idbuf);
    for (i = 0; i < m->n_id && ret == MS_OK; i++) {
        struct json_object *v = ms_expr_eval(m->id[i], raw);

        if (!ms_value_empty(v)) {
            any = true;
            bytes = id_text(v, nbuf, sizeof(nbuf), &len);
        }
        else {
            bytes = "";
            len = 0;
        }
        if (m->n_id == 1) {
            ret = ms_buf_append(&set->idbuf, bytes, len);
        }
        else {
            char num[24];
            size_t k = sizeof(num);
            size_t rest = len;

            num[--k] = ':';
            do {
                num[--k] = (char)('0' + rest % 10);
                rest /= 10;
            } while (rest);
            ret = ms_buf_append(&set->idbuf, num + k, sizeof(num) - k);
            if (ret == MS_OK) {
                ret = ms_buf_append(&set->idbuf, bytes, len);
            }
        }
        json_object_put(v);
    }
    if (ret != MS_OK) {
        return ret;
    }
    if (any) {
        hex_digest(set->md, m->source_type, ms_buf_cstr(&set->idbuf), set->idbuf.len, out);
    }
    else {
        bytes = json_object_to_json_string_length(raw, JSON_C_TO_STRING_PLAIN, &len);
        hex_digest(set->md, m->source_type, bytes, len, out);
    }
    return out[0] ? MS_OK : MS_ENOMEM;
}

/* ------------------------------------------------------------------------------------------
 * Mapping
 */

static bool is_scalar(struct json_object *v)
{
    json_type t = json_object_get_type(v);

    return t == json_type_string || t == json_type_int || t == json_type_double ||
           t == json_type_boolean;
}

/* A scalar as a JSON string (shared when it is one). */
static struct json_object *as_string(struct json_object *v)
{
    char buf[64];
    const char *t;
    size_t n;

    if (json_object_is_type(v, json_type_string)) {
        return json_object_get(v);
    }
    t = ms_value_text(v, buf, sizeof(buf), &n);
    return t ? json_object_new_string_len(t, (int)n) : NULL;
}

/* First non-empty scalar of a list, or v itself. Borrowed. */
static struct json_object *first_scalar(struct json_object *v)
{
    size_t i;

    if (!json_object_is_type(v, json_type_array)) {
        return v;
    }
    for (i = 0; i < json_object_array_length(v); i++) {
        struct json_object *el = json_object_array_get_idx(v, i);

        if (is_scalar(el) && !ms_value_empty(el)) {
            return el;
        }
    }
    return NULL;
}

static struct json_object *coerce_int(struct json_object *v, double lo, double hi, bool list_max)
{
    double best = 0;
    double d;
    bool found = false;
    size_t i;

    if (json_object_is_type(v, json_type_array) && list_max) {
        for (i = 0; i < json_object_array_length(v); i++) {
            if (ms_value_number(json_object_array_get_idx(v, i), &d) && (!found || d > best)) {
                best = d;
                found = true;
            }
        }
    }
    else {
        found = ms_value_number(first_scalar(v), &best);
    }
    if (!found || best < lo) {
        return NULL;
    }
    best = round(best);
    if (best > hi) {
        best = hi;
    }
    return json_object_new_int64((int64_t)best);
}

/* Coerces v (a new reference, consumed) to what the normalized key k holds; NULL leaves it out. */
static struct json_object *coerce_nk(size_t k, struct json_object *v)
{
    struct json_object *out = NULL;
    struct json_object *s;
    size_t i;

    if (ms_value_empty(v)) {
        json_object_put(v);
        return NULL;
    }
    switch (ms_nkeys[k].type) {
    case NK_STR:
    case NK_IP:
    case NK_ACTION:
        s = first_scalar(v);
        out = is_scalar(s) ? as_string(s) : NULL;
        if (out && ms_nkeys[k].type == NK_ACTION) {
            for (i = 0; ms_cim_actions[i]; i++) {
                if (strcmp(json_object_get_string(out), ms_cim_actions[i]) == 0) {
                    break;
                }
            }
            if (!ms_cim_actions[i]) {
                json_object_put(out);
                out = NULL;
            }
        }
        if (out && ms_nkeys[k].type == NK_IP) {
            char buf[64];
            unsigned char addr[16];
            int n = json_object_get_string_len(out);

            if (n <= 0 || (size_t)n >= sizeof(buf)) {
                json_object_put(out);
                out = NULL;
            }
            else {
                memcpy(buf, json_object_get_string(out), (size_t)n + 1);
                if (inet_pton(AF_INET, buf, addr) != 1 && inet_pton(AF_INET6, buf, addr) != 1) {
                    json_object_put(out);
                    out = NULL;
                }
            }
        }
        break;
    case NK_STRS:
        if (!json_object_is_type(v, json_type_array)) {
            out = is_scalar(v) ? as_string(v) : NULL;
            break;
        }
        for (i = 0; i < json_object_array_length(v); i++) {
            struct json_object *el = json_object_array_get_idx(v, i);

            if (!is_scalar(el) || ms_value_empty(el)) {
                continue;
            }
            if (!out) {
                out = json_object_new_array();
                if (!out) {
                    break;
                }
            }
            s = as_string(el);
            if (s && json_object_array_add(out, s) != 0) {
                json_object_put(s);
            }
        }
        break;
    case NK_SEVERITY:
        out = coerce_int(v, 0, 10, true);
        break;
    case NK_SIZE:
        out = coerce_int(v, 0, 9.0e18, false);
        break;
    }
    json_object_put(v);
    return out;
}

/* A "fields" value: scalars, or lists of scalars (other elements left out). Consumes v. */
static struct json_object *flat_field(struct json_object *v)
{
    struct json_object *out;
    size_t i;
    size_t n;
    bool all = true;

    if (ms_value_empty(v) || json_object_is_type(v, json_type_object)) {
        json_object_put(v);
        return NULL;
    }
    if (!json_object_is_type(v, json_type_array)) {
        return v;
    }
    n = json_object_array_length(v);
    for (i = 0; i < n && all; i++) {
        all = is_scalar(json_object_array_get_idx(v, i));
    }
    if (all) {
        return v;
    }
    out = NULL;
    for (i = 0; i < n; i++) {
        struct json_object *el = json_object_array_get_idx(v, i);

        if (!is_scalar(el)) {
            continue;
        }
        if (!out) {
            out = json_object_new_array();
            if (!out) {
                break;
            }
        }
        if (json_object_array_add(out, json_object_get(el)) != 0) {
            json_object_put(el);
        }
    }
    json_object_put(v);
    return out;
}

/* Adds val under a static key; val is consumed (NULL adds nothing). */
static int add_static(struct json_object *ev, const char *key, struct json_object *val)
{
    if (!val) {
        return MS_OK;
    }
    if (json_object_object_add_ex(ev, key, val, KEY_FLAGS) != 0) {
        json_object_put(val);
        return MS_ENOMEM;
    }
    return MS_OK;
}

/*
 * Where an event goes as it is made: into a json-c object (ms_mapping_apply), or straight out as
 * JSON text (ms_mapping_apply_text), member by member in the same order, so the text is what
 * ms_json_write would write of the object.
 */
struct emitter {
    struct json_object *obj; /* object mode */
    struct ms_buf *out;      /* text mode (obj NULL) */
    bool first;              /* text mode: no member written yet */
};

static int emit_key(struct emitter *e, const char *key)
{
    int ret = MS_OK;

    if (!e->first) {
        ret = ms_buf_putc(e->out, ',');
    }
    e->first = false;
    if (ret == MS_OK) {
        ret = ms_json_write_string(e->out, key, strlen(key));
    }
    return ret == MS_OK ? ms_buf_putc(e->out, ':') : ret;
}

/* Adds val (consumed; NULL adds nothing) under key. Object mode: key must be static. */
static int emit(struct emitter *e, const char *key, struct json_object *val)
{
    int ret;

    if (!val) {
        return MS_OK;
    }
    if (e->obj) {
        return add_static(e->obj, key, val);
    }
    ret = emit_key(e, key);
    if (ret == MS_OK) {
        ret = ms_json_write(e->out, val);
    }
    json_object_put(val);
    return ret;
}

/* Adds the string s[0..n) under a static key. */
static int emit_str(struct emitter *e, const char *key, const char *s, size_t n)
{
    int ret;

    if (e->obj) {
        return add_static(e->obj, key, json_object_new_string_len(s, (int)n));
    }
    ret = emit_key(e, key);
    return ret == MS_OK ? ms_json_write_string(e->out, s, n) : ret;
}

/* The vendor's event time, normalized; the ingest time when the record has none usable. */
static void event_time(const struct ms_mapping_set *set,
                       const struct ms_mapping *m,
                       struct json_object *raw,
                       char iso[MS_TIME_ISO_LEN + 1])
{
    struct json_object *v = ms_expr_eval(m->time, raw);
    int64_t ms = 0;
    int rc;

    rc = ms_time_from_json(first_scalar(v), &ms);
    json_object_put(v);
    if (rc != MS_OK || ms_time_format_iso(ms, iso, MS_TIME_ISO_LEN + 1) != MS_OK) {
        ms_time_format_iso(wall_ms(set), iso, MS_TIME_ISO_LEN + 1);
    }
}

/* "fields": made lazily at the first value, so an event without any has none. */
static int emit_fields(struct ms_mapping *m, struct json_object *raw, struct emitter *e)
{
    struct json_object *fields = NULL;
    bool open = false;
    size_t i;
    int ret = MS_OK;

    for (i = 0; i < m->n_fields && ret == MS_OK; i++) {
        struct json_object *v = flat_field(ms_expr_eval(m->fields[i].expr, raw));

        if (!v) {
            continue;
        }
        if (!e->obj) {
            if (!open) {
                ret = emit_key(e, "fields");
                if (ret == MS_OK) {
                    ret = ms_buf_putc(e->out, '{');
                }
            }
            if (ret == MS_OK && open) {
                ret = ms_buf_putc(e->out, ',');
            }
            open = true;
            if (ret == MS_OK) {
                ret = ms_json_write_string(e->out, m->fields[i].name, strlen(m->fields[i].name));
            }
            if (ret == MS_OK) {
                ret = ms_buf_putc(e->out, ':');
            }
            if (ret == MS_OK) {
                ret = ms_json_write(e->out, v);
            }
            json_object_put(v);
            continue;
        }
        if (!fields) {
            fields = json_object_new_object();
            if (!fields) {
                json_object_put(v);
                ret = MS_ENOMEM;
                break;
            }
        }
        if (json_object_object_add(fields, m->fields[i].name, v) != 0) {
            json_object_put(v);
            ret = MS_ENOMEM;
        }
    }
    if (e->obj) {
        if (ret == MS_OK) {
            ret = add_static(e->obj, "fields", fields);
            fields = NULL;
        }
        json_object_put(fields);
        return ret;
    }
    return ret == MS_OK && open ? ms_buf_putc(e->out, '}') : ret;
}

static int build_event(struct ms_mapping_set *set,
                       struct ms_mapping *m,
                       struct json_object *raw,
                       struct emitter *e,
                       char id[65])
{
    char iso[MS_TIME_ISO_LEN + 1];
    size_t k;
    int ret;

    ret = event_id(set, m, raw, id);
    if (ret != MS_OK) {
        return ret;
    }
    event_time(set, m, raw, iso);
    ret = emit_str(e, "id", id, 64);
    if (ret == MS_OK) {
        ret = emit_str(e, "time", iso, MS_TIME_ISO_LEN);
    }
    if (ret == MS_OK) {
        ret = emit(e, "vendor", json_object_get(m->vendor));
    }
    if (ret == MS_OK) {
        ret = emit(e, "product", json_object_get(m->product));
    }
    if (ret == MS_OK) {
        ret = emit(e, "source_type", json_object_get(m->st_obj));
    }
    for (k = 0; k < MS_NK_COUNT && ret == MS_OK; k++) {
        struct json_object *v;

        if (!m->nk[k]) {
            continue;
        }
        v = coerce_nk(k, ms_expr_eval(m->nk[k], raw));
        if (k == MS_NK_ALERT_TYPE && v) {
            struct json_object *tag = NULL;

            /* held while the MITRE row is looked up, then handed to the event */
            ret = emit(e, "alert_type", json_object_get(v));
            if (ret == MS_OK && set->mitre &&
                json_object_object_get_ex(set->mitre, json_object_get_string(v), &tag)) {
                ret = emit(e, "mitre", json_object_get(tag));
            }
            else if (ret == MS_OK) {
                count_untagged(m, json_object_get_string(v));
            }
            json_object_put(v);
            continue;
        }
        ret = emit(e, ms_nkeys[k].name, v);
    }
    if (ret == MS_OK) {
        ret = emit_fields(m, raw, e);
    }
    if (ret == MS_OK) {
        ret = emit(e, "raw", json_object_get(raw));
    }
    return ret;
}

static int generic_event(struct ms_mapping_set *set,
                         const char *source_type,
                         struct json_object *raw,
                         struct emitter *e,
                         char id[65])
{
    char iso[MS_TIME_ISO_LEN + 1];
    size_t len;
    const char *bytes;
    int ret;

    bytes = json_object_to_json_string_length(raw, JSON_C_TO_STRING_PLAIN, &len);
    hex_digest(set->md, source_type, bytes, len, id);
    ms_time_format_iso(wall_ms(set), iso, sizeof(iso));
    if (!id[0]) {
        return MS_ENOMEM;
    }
    ret = emit_str(e, "id", id, 64);
    if (ret == MS_OK) {
        ret = emit_str(e, "time", iso, MS_TIME_ISO_LEN);
    }
    if (ret == MS_OK) {
        ret = emit_str(e, "source_type", source_type, strlen(source_type));
    }
    if (ret == MS_OK) {
        ret = emit(e, "raw", json_object_get(raw));
    }
    return ret;
}

/* ms_mapping_apply and ms_mapping_apply_text: e says where the event goes. */
static int apply(struct ms_mapping_set *set,
                 const char *source_type,
                 struct json_object *raw,
                 struct emitter *e,
                 char id[65],
                 bool *made,
                 const char **drop_reason)
{
    struct ms_mapping *m;
    struct ms_generic *g = NULL;
    size_t i;
    int ret;

    *made = false;
    *drop_reason = NULL;
    maybe_summary(set);
    m = find_mapping(set, source_type);
    if (!m) {
        g = generic_slot(set, source_type);
    }
    if (!raw || !json_object_is_type(raw, json_type_object)) {
        if (m) {
            m->counts.rejected++;
        }
        else if (g) {
            g->counts.rejected++;
        }
        *drop_reason = "record is not a JSON object";
        return MS_EINVAL;
    }
    if (!m) {
        ret = generic_event(set, source_type, raw, e, id);
        if (ret == MS_OK && g) {
            g->counts.mapped++;
        }
        else if (ret != MS_OK) {
            *drop_reason = "out of memory";
        }
        *made = ret == MS_OK;
        return ret;
    }
    for (i = 0; i < m->n_drops; i++) {
        if (ms_cond_eval(m->drops[i].cond, raw)) {
            m->drops[i].hits++;
            m->counts.dropped++;
            *drop_reason = m->drops[i].reason;
            return MS_OK;
        }
    }
    ret = build_event(set, m, raw, e, id);
    if (ret != MS_OK) {
        *drop_reason = "out of memory";
        return ret;
    }
    m->counts.mapped++;
    *made = true;
    return MS_OK;
}

int ms_mapping_apply(struct ms_mapping_set *set,
                     const char *source_type,
                     struct json_object *raw,
                     struct json_object **event_out,
                     const char **drop_reason)
{
    struct emitter e = {NULL, NULL, true};
    char id[65];
    bool made;
    int ret;

    *event_out = NULL;
    e.obj = json_object_new_object();
    if (!e.obj) {
        *drop_reason = "out of memory";
        return MS_ENOMEM;
    }
    ret = apply(set, source_type, raw, &e, id, &made, drop_reason);
    if (ret == MS_OK && made) {
        *event_out = e.obj;
        return MS_OK;
    }
    json_object_put(e.obj);
    return ret;
}

int ms_mapping_apply_text(struct ms_mapping_set *set,
                          const char *source_type,
                          struct json_object *raw,
                          struct ms_buf *out,
                          char id_out[65],
                          const char **drop_reason)
{
    struct emitter e = {NULL, out, true};
    size_t mark = out->len;
    bool made;
    int ret;

    id_out[0] = '\0';
    ret = ms_buf_putc(out, '{');
    if (ret != MS_OK) {
        *drop_reason = "out of memory";
        return ret;
    }
    ret = apply(set, source_type, raw, &e, id_out, &made, drop_reason);
    if (ret == MS_OK && made) {
        ret = ms_buf_putc(out, '}');
    }
    if (ret != MS_OK || !made) {
        id_out[0] = '\0';
        if (out->data) {
            ms_buf_truncate(out, mark);
        }
        if (ret != MS_OK && !*drop_reason) {
            *drop_reason = ret == MS_ENOMEM ? "out of memory" : "event too large";
        }
    }
    return ret;
}

/* Appends v to out; with flatten, a list's elements instead (a path without a final [*]). */
static void add_records(struct json_object *out, struct json_object *v, bool flatten)
{
    size_t i;

    if (flatten && json_object_is_type(v, json_type_array)) {
        for (i = 0; i < json_object_array_length(v); i++) {
            add_records(out, json_object_array_get_idx(v, i), false);
        }
        return;
    }
    if (json_object_array_add(out, json_object_get(v)) != 0) {
        json_object_put(v);
    }
}

struct json_object *ms_mapping_page_records(const struct ms_mapping_set *set,
                                            const char *source_type,
                                            struct json_object *value)
{
    const struct ms_mapping *m = find_mapping_const(set, source_type);
    struct json_object *out;
    struct json_object *found;
    size_t i;

    if (json_object_is_type(value, json_type_array)) {
        return json_object_get(value);
    }
    out = json_object_new_array();
    if (!out) {
        return NULL;
    }
    if (m && m->records_path && json_object_is_type(value, json_type_object) &&
        json_object_object_get_ex(value, ms_jpath_first_key(m->records_path), NULL)) {
        found = ms_jpath_eval(m->records_path, value);
        if (json_object_is_type(found, json_type_array)) {
            for (i = 0; i < json_object_array_length(found); i++) {
                add_records(out, json_object_array_get_idx(found, i),
                            ms_jpath_is_multi(m->records_path));
            }
        }
        else if (found) {
            add_records(out, found, false);
        }
        json_object_put(found);
        return out;
    }
    add_records(out, value, false);
    return out;
}
