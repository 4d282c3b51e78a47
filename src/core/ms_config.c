/* INI loading (libinih), value expansion, typed config maps and their refusals. */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ms_buf.h"
#include "ms_config.h"
#include "ms_err.h"
#include "ms_log.h"

#define CFG_FILE_VALUE_MAX (64 * 1024)
#define CFG_LINE_MAX       (64 * 1024)
#define CFG_INST_NAME_MAX  47

/* --------------------------------------------------------------------------------------------
 * Small helpers
 */

void ms_cfg_errors_add(struct ms_cfg_errors *errs, const char *fmt, ...)
{
    struct ms_buf buf;
    char **msgs;
    va_list ap;

    ms_buf_init(&buf, 4096);
    va_start(ap, fmt);
    if (ms_buf_vprintf(&buf, fmt, ap) != MS_OK) {
        va_end(ap);
        ms_buf_free(&buf);
        return;
    }
    va_end(ap);
    msgs = realloc(errs->msgs, (errs->n + 1) * sizeof(*msgs));
    if (!msgs) {
        ms_buf_free(&buf);
        return;
    }
    errs->msgs = msgs;
    errs->msgs[errs->n++] = ms_buf_take(&buf);
}

void ms_cfg_errors_free(struct ms_cfg_errors *errs)
{
    size_t i;

    for (i = 0; i < errs->n; i++) {
        free(errs->msgs[i]);
    }
    free(errs->msgs);
    errs->msgs = NULL;
    errs->n = 0;
}

void ms_secret_free(char *s)
{
    if (!s) {
        return;
    }
    explicit_bzero(s, strlen(s));
    free(s);
}

void ms_strlist_free(struct ms_strlist *l)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        free(l->items[i]);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void ms_kvlist_free(struct ms_kvlist *l)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        free(l->keys[i]);
        ms_secret_free(l->values[i]); /* pass-through values may hold passwords (sasl) */
    }
    free(l->keys);
    free(l->values);
    l->keys = NULL;
    l->values = NULL;
    l->n = 0;
}

bool ms_strlist_contains(const struct ms_strlist *l, const char *s)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        if (strcmp(l->items[i], s) == 0) {
            return true;
        }
    }
    return false;
}

static char *trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s)) {
        s++;
    }
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1])) {
        end--;
    }
    *end = '\0';
    return s;
}

/* --------------------------------------------------------------------------------------------
 * Scalar parsers
 */

int ms_parse_int(const char *s, int64_t *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end != '\0') {
        return MS_EINVAL;
    }
    *out = v;
    return MS_OK;
}

/* Parses "<number><unit>" where unit is looked up in units[] (case-insensitive). */
struct unit {
    const char *suffix;
    int64_t factor;
};

static int parse_with_units(const char *s, const struct unit *units, int64_t bare, int64_t *out)
{
    char *end;
    long long v;
    size_t i;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0) {
        return MS_EINVAL;
    }
    while (*end == ' ') {
        end++;
    }
    if (*end == '\0') {
        if (v > INT64_MAX / bare) {
            return MS_EINVAL;
        }
        *out = v * bare;
        return MS_OK;
    }
    for (i = 0; units[i].suffix; i++) {
        if (strcasecmp(end, units[i].suffix) == 0) {
            if (v > INT64_MAX / units[i].factor) {
                return MS_EINVAL;
            }
            *out = v * units[i].factor;
            return MS_OK;
        }
    }
    return MS_EINVAL;
}

int ms_parse_duration_ms(const char *s, int64_t *out)
{
    static const struct unit units[] = {
        {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {NULL, 0},
    };
    return parse_with_units(s, units, 1000, out);
}

int ms_parse_size(const char *s, int64_t *out)
{
    static const struct unit units[] = {
        {"b", 1},
        {"k", 1024},
        {"kb", 1024},
        {"kib", 1024},
        {"m", 1024 * 1024},
        {"mb", 1024 * 1024},
        {"mib", 1024 * 1024},
        {"g", 1024LL * 1024 * 1024},
        {"gb", 1024LL * 1024 * 1024},
        {"gib", 1024LL * 1024 * 1024},
        {NULL, 0},
    };
    return parse_with_units(s, units, 1, out);
}

int ms_parse_bool(const char *s, bool *out)
{
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on") ||
        !strcmp(s, "1")) {
        *out = true;
        return MS_OK;
    }
    if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off") ||
        !strcmp(s, "0")) {
        *out = false;
        return MS_OK;
    }
    return MS_EINVAL;
}

/* --------------------------------------------------------------------------------------------
 * Value expansion: ${ENV} and @file
 */

static int read_value_file(const char *path, struct ms_buf *buf, char *why, size_t why_len)
{
    char chunk[4096];
    size_t n;
    FILE *f;
    int ret = MS_OK;

    f = fopen(path, "r");
    if (!f) {
        snprintf(why, why_len, "cannot read file '%s': %s", path, strerror(errno));
        return MS_EINVAL;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        ret = ms_buf_append(buf, chunk, n);
        if (ret != MS_OK) {
            snprintf(why, why_len, "file '%s' is larger than %d bytes", path, CFG_FILE_VALUE_MAX);
            ret = MS_EINVAL;
            goto out;
        }
    }
    if (ferror(f)) {
        snprintf(why, why_len, "cannot read file '%s': %s", path, strerror(errno));
        ret = MS_EINVAL;
        goto out;
    }
    while (buf->len && (buf->data[buf->len - 1] == '\n' || buf->data[buf->len - 1] == '\r')) {
        buf->data[--buf->len] = '\0';
    }
out:
    explicit_bzero(chunk, sizeof(chunk));
    fclose(f);
    return ret;
}

/*
 * True when s starts an environment reference "NAME}" with NAME in [A-Z_][A-Z0-9_]*. Lowercase
 * placeholders such as ${source_type} in a topic template stay literal for the plugin to fill.
 */
static bool env_name_at(const char *s)
{
    size_t i;

    if (!((s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_')) {
        return false;
    }
    for (i = 1; s[i] && s[i] != '}'; i++) {
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) {
            return false;
        }
    }
    return s[i] == '}';
}

int ms_config_expand(const char *raw, char **out, char *why, size_t why_len)
{
    struct ms_buf buf;
    const char *p = raw;
    int ret = MS_OK;

    *out = NULL;
    ms_buf_init(&buf, CFG_FILE_VALUE_MAX);
    if (raw[0] == '@') {
        ret = read_value_file(raw + 1, &buf, why, why_len);
        goto out;
    }
    while (*p) {
        if (p[0] == '$' && p[1] == '$') {
            ret = ms_buf_putc(&buf, '$');
            p += 2;
        }
        else if (p[0] == '$' && p[1] == '{' && env_name_at(p + 2)) {
            const char *close = strchr(p + 2, '}');
            char name[256];
            size_t n;
            const char *val;

            if (!close) {
                snprintf(why, why_len, "unterminated ${ in value");
                ret = MS_EINVAL;
                goto out;
            }
            n = (size_t)(close - (p + 2));
            if (n == 0 || n >= sizeof(name)) {
                snprintf(why, why_len, "bad environment variable name in ${...}");
                ret = MS_EINVAL;
                goto out;
            }
            memcpy(name, p + 2, n);
            name[n] = '\0';
            val = getenv(name);
            if (!val) {
                snprintf(why, why_len, "environment variable %s is not set", name);
                ret = MS_EINVAL;
                goto out;
            }
            ret = ms_buf_puts(&buf, val);
            p = close + 1;
        }
        else {
            ret = ms_buf_putc(&buf, *p);
            p++;
        }
        if (ret != MS_OK) {
            snprintf(why, why_len, "value is longer than %d bytes", CFG_FILE_VALUE_MAX);
            ret = MS_EINVAL;
            goto out;
        }
    }
out:
    if (ret == MS_OK) {
        if (!buf.data) {
            *out = strdup("");
            ret = *out ? MS_OK : MS_ENOMEM;
        }
        else {
            *out = ms_buf_take(&buf);
        }
    }
    else if (buf.data) {
        explicit_bzero(buf.data, buf.len);
    }
    ms_buf_free(&buf);
    return ret;
}

/* --------------------------------------------------------------------------------------------
 * Loading
 */

struct load_ctx {
    struct ms_config *cfg;
    struct ms_cfg_errors *errs;
    FILE *file;
    int line;     /* line of the text most recently handed to inih */
    int newlines; /* newlines handed to inih so far */
    bool bad;
};

static struct ms_config_section *section_get(struct load_ctx *lc, const char *name);

/*
 * Registers a section when its header line goes by, so that an empty section is still seen
 * (and refused when it lacks required keys) and its line is the header's own.
 */
static void note_section_header(struct load_ctx *lc, const char *text)
{
    const char *p = text;
    const char *close;
    char name[256];
    size_t n;
    size_t i;

    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (*p != '[') {
        return;
    }
    close = strchr(p, ']');
    if (!close) {
        return; /* inih reports the syntax error */
    }
    n = (size_t)(close - p - 1);
    if (n >= sizeof(name)) {
        return;
    }
    memcpy(name, p + 1, n);
    name[n] = '\0';
    for (i = 0; i < lc->cfg->n_sections; i++) {
        if (strcmp(lc->cfg->sections[i].name, trim(name)) == 0) {
            ms_cfg_errors_add(lc->errs, "%s:%d: [%s]: section given twice (first at line %d)",
                              lc->cfg->path, lc->line, trim(name), lc->cfg->sections[i].line);
            lc->bad = true;
            return;
        }
    }
    if (!section_get(lc, trim(name))) {
        lc->bad = true;
    }
}

/* fgets-style reader that counts lines so that the handler knows where it is. */
static char *load_reader(char *str, int num, void *stream)
{
    struct load_ctx *lc = stream;
    bool line_start = lc->line == 0 || lc->line == lc->newlines;
    char *p = fgets(str, num, lc->file);
    size_t n;

    if (!p) {
        return NULL;
    }
    lc->line = lc->newlines + 1;
    if (line_start) {
        note_section_header(lc, p);
    }
    n = strlen(p);
    if (n && p[n - 1] == '\n') {
        lc->newlines++;
    }
    return p;
}

static bool valid_inst_name(const char *s)
{
    size_t n = strlen(s);
    size_t i;

    if (n == 0 || n > CFG_INST_NAME_MAX) {
        return false;
    }
    for (i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') {
            return false;
        }
    }
    return true;
}

static struct ms_config_section *section_get(struct load_ctx *lc, const char *name)
{
    struct ms_config *cfg = lc->cfg;
    struct ms_config_section *sec;
    const char *dot;
    size_t i;

    for (i = 0; i < cfg->n_sections; i++) {
        if (strcmp(cfg->sections[i].name, name) == 0) {
            return &cfg->sections[i];
        }
    }
    if (strcmp(name, "service") != 0 && strncmp(name, "input.", 6) != 0 &&
        strncmp(name, "output.", 7) != 0) {
        ms_cfg_errors_add(lc->errs,
                          "%s:%d: [%s]: unknown section (expected [service], [input.NAME] or "
                          "[output.NAME])",
                          cfg->path, lc->line, name);
        return NULL;
    }
    dot = strchr(name, '.');
    if (dot && !valid_inst_name(dot + 1)) {
        ms_cfg_errors_add(lc->errs,
                          "%s:%d: [%s]: instance name must be 1-%d characters of A-Z a-z 0-9 . _ -",
                          cfg->path, lc->line, name, CFG_INST_NAME_MAX);
        return NULL;
    }
    sec = realloc(cfg->sections, (cfg->n_sections + 1) * sizeof(*sec));
    if (!sec) {
        return NULL;
    }
    cfg->sections = sec;
    sec = &cfg->sections[cfg->n_sections];
    memset(sec, 0, sizeof(*sec));
    sec->name = strdup(name);
    sec->kind = dot ? strndup(name, (size_t)(dot - name)) : strdup(name);
    sec->inst = strdup(dot ? dot + 1 : "");
    sec->line = lc->line;
    cfg->n_sections++;
    if (!sec->name || !sec->kind || !sec->inst) {
        return NULL;
    }
    return sec;
}

static int load_handler(void *user, const char *section, const char *name, const char *value)
{
    struct load_ctx *lc = user;
    struct ms_config_section *sec;
    struct ms_config_entry *e;
    size_t i;

    if (section[0] == '\0') {
        ms_cfg_errors_add(lc->errs, "%s:%d: key '%s' appears before any [section]", lc->cfg->path,
                          lc->line, name);
        lc->bad = true;
        return 1;
    }
    sec = NULL;
    for (i = 0; i < lc->cfg->n_sections; i++) {
        if (strcmp(lc->cfg->sections[i].name, section) == 0) {
            sec = &lc->cfg->sections[i];
        }
    }
    if (!sec) {
        /* Its header was refused, and said so, when it went by. */
        lc->bad = true;
        return 1;
    }
    for (i = 0; i < sec->n_entries; i++) {
        if (strcmp(sec->entries[i].key, name) == 0) {
            ms_cfg_errors_add(lc->errs, "%s:%d: [%s] %s: key given twice (first at line %d)",
                              lc->cfg->path, lc->line, section, name, sec->entries[i].line);
            lc->bad = true;
            return 1;
        }
    }
    e = realloc(sec->entries, (sec->n_entries + 1) * sizeof(*e));
    if (!e) {
        lc->bad = true;
        return 0;
    }
    sec->entries = e;
    e = &sec->entries[sec->n_entries];
    e->key = strdup(name);
    e->value = strdup(value);
    e->line = lc->line;
    e->used = false;
    sec->n_entries++;
    if (!e->key || !e->value) {
        lc->bad = true;
        return 0;
    }
    return 1;
}

int ms_config_load(const char *path, struct ms_config **out, struct ms_cfg_errors *errs)
{
    struct load_ctx lc;
    struct ms_config *cfg;
    int rc;
    int ret = MS_OK;

    *out = NULL;
    cfg = calloc(1, sizeof(*cfg));
    if (!cfg) {
        return MS_ENOMEM;
    }
    cfg->path = strdup(path);
    memset(&lc, 0, sizeof(lc));
    lc.cfg = cfg;
    lc.errs = errs;
    lc.file = fopen(path, "r");
    if (!lc.file) {
        ms_cfg_errors_add(errs, "%s: cannot open configuration file: %s", path, strerror(errno));
        ret = MS_EIO;
        goto out;
    }
    /* libinih's settings are process-wide; ours: long lines allowed, no indented continuation
     * lines (an indented key would otherwise silently join the previous value). */
    ini_use_stack = false;
    ini_allow_realloc = true;
    ini_max_line = CFG_LINE_MAX;
    ini_allow_multiline = false;
    ini_allow_inline_comments = true;
    ini_allow_no_value = false;
    ini_stop_on_first_error = false;
    rc = ini_parse_stream(load_reader, &lc, load_handler, &lc);
    if (rc > 0) {
        ms_cfg_errors_add(errs, "%s:%d: syntax error (expected [section] or key = value)", path,
                          rc);
        ret = MS_EINVAL;
    }
    else if (rc < 0) {
        ms_cfg_errors_add(errs, "%s: cannot parse configuration (error %d)", path, rc);
        ret = MS_EIO;
    }
    if (lc.bad && ret == MS_OK) {
        ret = MS_EINVAL;
    }
out:
    if (lc.file) {
        fclose(lc.file);
    }
    if (ret != MS_OK) {
        ms_config_destroy(cfg);
        return ret;
    }
    *out = cfg;
    return MS_OK;
}

void ms_config_destroy(struct ms_config *cfg)
{
    size_t i;
    size_t j;

    if (!cfg) {
        return;
    }
    for (i = 0; i < cfg->n_sections; i++) {
        struct ms_config_section *sec = &cfg->sections[i];

        for (j = 0; j < sec->n_entries; j++) {
            free(sec->entries[j].key);
            ms_secret_free(sec->entries[j].value);
        }
        free(sec->entries);
        free(sec->name);
        free(sec->kind);
        free(sec->inst);
    }
    free(cfg->sections);
    free(cfg->path);
    free(cfg);
}

struct ms_config_section *ms_config_find(struct ms_config *cfg, const char *kind, const char *inst)
{
    size_t i;

    for (i = 0; i < cfg->n_sections; i++) {
        struct ms_config_section *sec = &cfg->sections[i];

        if (strcmp(sec->kind, kind) == 0 &&
            (strcmp(kind, "service") == 0 || strcmp(sec->inst, inst) == 0)) {
            return sec;
        }
    }
    return NULL;
}

const char *ms_config_peek(const struct ms_config_section *sec, const char *key)
{
    size_t i;

    for (i = 0; sec && i < sec->n_entries; i++) {
        if (strcmp(sec->entries[i].key, key) == 0) {
            return sec->entries[i].value;
        }
    }
    return NULL;
}

/* --------------------------------------------------------------------------------------------
 * Applying maps
 */

static bool choice_ok(const struct ms_config_map *m, const char *v)
{
    size_t i;

    if (!m->choices) {
        return true;
    }
    for (i = 0; m->choices[i]; i++) {
        if (strcmp(m->choices[i], v) == 0) {
            return true;
        }
    }
    return false;
}

static void choices_text(const struct ms_config_map *m, char *out, size_t len)
{
    size_t i;
    size_t used = 0;

    out[0] = '\0';
    for (i = 0; m->choices[i] && used < len; i++) {
        int n = snprintf(out + used, len - used, "%s%s", i ? " | " : "", m->choices[i]);
        if (n < 0) {
            break;
        }
        used += (size_t)n;
    }
}

static int split_list(const char *v, struct ms_strlist *l)
{
    char *copy = strdup(v);
    char *save = NULL;
    char *tok;
    int ret = MS_OK;

    if (!copy) {
        return MS_ENOMEM;
    }
    ms_strlist_free(l);
    for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *item = trim(tok);
        char **items;

        if (*item == '\0') {
            ret = MS_EINVAL;
            break;
        }
        items = realloc(l->items, (l->n + 1) * sizeof(*items));
        if (!items) {
            ret = MS_ENOMEM;
            break;
        }
        l->items = items;
        l->items[l->n] = strdup(item);
        if (!l->items[l->n]) {
            ret = MS_ENOMEM;
            break;
        }
        l->n++;
    }
    free(copy);
    if (ret == MS_OK && l->n == 0) {
        ret = MS_EINVAL;
    }
    return ret;
}

/*
 * Stores one value (already expanded) into ctx. why gets the reason on MS_EINVAL.
 */
static int
store_value(const struct ms_config_map *m, void *ctx, const char *v, char *why, size_t why_len)
{
    char *field = (char *)ctx + m->offset;
    char choices[256];
    int64_t n = 0;
    int ret;

    switch (m->type) {
    case MS_CFG_STR:
        if (!choice_ok(m, v)) {
            choices_text(m, choices, sizeof(choices));
            snprintf(why, why_len, "'%s' is not one of: %s", v, choices);
            return MS_EINVAL;
        }
        if (m->flags & MS_CFG_SECRET) {
            ms_secret_free(*(char **)field);
            ms_log_register_secret(v);
        }
        else {
            free(*(char **)field);
        }
        *(char **)field = strdup(v);
        return *(char **)field ? MS_OK : MS_ENOMEM;
    case MS_CFG_BOOL:
        if (ms_parse_bool(v, (bool *)field) != MS_OK) {
            snprintf(why, why_len, "'%s' is not a boolean (true/false, yes/no, on/off)", v);
            return MS_EINVAL;
        }
        return MS_OK;
    case MS_CFG_INT:
    case MS_CFG_SIZE:
    case MS_CFG_TIME:
        if (m->type == MS_CFG_INT) {
            ret = ms_parse_int(v, &n);
        }
        else if (m->type == MS_CFG_SIZE) {
            ret = ms_parse_size(v, &n);
        }
        else {
            ret = ms_parse_duration_ms(v, &n);
        }
        if (ret != MS_OK) {
            snprintf(why, why_len, "'%s' is not %s", v,
                     m->type == MS_CFG_INT    ? "an integer"
                     : m->type == MS_CFG_SIZE ? "a size (e.g. 512, 64K, 10M, 2G)"
                                              : "a duration (e.g. 250ms, 30s, 5m, 1h, 7d)");
            return MS_EINVAL;
        }
        if (m->min < m->max && (n < m->min || n > m->max)) {
            snprintf(why, why_len, "'%s' is out of range (%lld..%lld%s)", v, (long long)m->min,
                     (long long)m->max,
                     m->type == MS_CFG_TIME   ? " ms"
                     : m->type == MS_CFG_SIZE ? " bytes"
                                              : "");
            return MS_EINVAL;
        }
        *(int64_t *)field = n;
        return MS_OK;
    case MS_CFG_STRLIST: {
        struct ms_strlist *l = (struct ms_strlist *)field;
        size_t i;

        ret = split_list(v, l);
        if (ret == MS_EINVAL) {
            snprintf(why, why_len, "'%s' is not a comma-separated list of non-empty items", v);
            return ret;
        }
        for (i = 0; ret == MS_OK && i < l->n; i++) {
            if (!choice_ok(m, l->items[i])) {
                choices_text(m, choices, sizeof(choices));
                snprintf(why, why_len, "'%s' is not one of: %s", l->items[i], choices);
                return MS_EINVAL;
            }
        }
        return ret;
    }
    case MS_CFG_PREFIX:
        break;
    }
    return MS_EINVAL;
}

static int kvlist_add(struct ms_kvlist *l, const char *key, const char *value)
{
    char **keys = realloc(l->keys, (l->n + 1) * sizeof(*keys));
    char **values;

    if (!keys) {
        return MS_ENOMEM;
    }
    l->keys = keys;
    values = realloc(l->values, (l->n + 1) * sizeof(*values));
    if (!values) {
        return MS_ENOMEM;
    }
    l->values = values;
    l->keys[l->n] = strdup(key);
    l->values[l->n] = strdup(value);
    if (!l->keys[l->n] || !l->values[l->n]) {
        free(l->keys[l->n]);
        free(l->values[l->n]);
        return MS_ENOMEM;
    }
    l->n++;
    return MS_OK;
}

static unsigned edit_distance(const char *a, const char *b)
{
    unsigned row[64];
    size_t la = strlen(a);
    size_t lb = strlen(b);
    size_t i;
    size_t j;

    if (la >= 63 || lb >= 63) {
        return 99;
    }
    for (j = 0; j <= lb; j++) {
        row[j] = (unsigned)j;
    }
    for (i = 1; i <= la; i++) {
        unsigned prev = row[0];

        row[0] = (unsigned)i;
        for (j = 1; j <= lb; j++) {
            unsigned cur = row[j];
            unsigned best = prev + (a[i - 1] != b[j - 1]);

            if (row[j] + 1 < best) {
                best = row[j] + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb];
}

static const char *suggest(const char *key, const struct ms_config_map *const *maps, size_t n_maps)
{
    const char *best = NULL;
    unsigned best_d = 3;
    size_t i;
    const struct ms_config_map *m;

    for (i = 0; i < n_maps; i++) {
        for (m = maps[i]; m->name; m++) {
            unsigned d;

            if (m->type == MS_CFG_PREFIX) {
                continue;
            }
            d = edit_distance(key, m->name);
            if (d < best_d) {
                best_d = d;
                best = m->name;
            }
        }
    }
    return best;
}

static int apply_one(const struct ms_config *cfg,
                     struct ms_config_section *sec,
                     const struct ms_config_map *m,
                     void *ctx,
                     struct ms_cfg_errors *errs)
{
    const char *path = cfg ? cfg->path : "(defaults)";
    const char *sec_name = sec ? sec->name : "?";
    struct ms_config_entry *e = NULL;
    char why[1024];
    char *expanded = NULL;
    size_t i;
    int ret;

    if (m->type == MS_CFG_PREFIX) {
        struct ms_kvlist *l = (struct ms_kvlist *)((char *)ctx + m->offset);
        size_t plen = strlen(m->name);

        ret = MS_OK;
        for (i = 0; sec && i < sec->n_entries; i++) {
            e = &sec->entries[i];
            if (strncmp(e->key, m->name, plen) != 0 || e->key[plen] == '\0') {
                continue;
            }
            e->used = true;
            if (ms_config_expand(e->value, &expanded, why, sizeof(why)) != MS_OK) {
                ms_cfg_errors_add(errs, "%s:%d: [%s] %s: %s", path, e->line, sec_name, e->key, why);
                ret = MS_EINVAL;
                continue;
            }
            if (kvlist_add(l, e->key + plen, expanded) != MS_OK) {
                ret = MS_ENOMEM;
            }
            ms_secret_free(expanded);
            expanded = NULL;
        }
        return ret;
    }
    for (i = 0; sec && i < sec->n_entries; i++) {
        if (strcmp(sec->entries[i].key, m->name) == 0) {
            e = &sec->entries[i];
            break;
        }
    }
    if (!e) {
        if (m->flags & MS_CFG_REQUIRED) {
            ms_cfg_errors_add(errs, "%s:%d: [%s] %s: required key is missing (%s)", path,
                              sec ? sec->line : 0, sec_name, m->name, m->desc);
            return MS_EINVAL;
        }
        if (!m->def) {
            return MS_OK;
        }
        ret = store_value(m, ctx, m->def, why, sizeof(why));
        if (ret != MS_OK) {
            /* A bad default is our bug, not the user's; say so plainly. */
            ms_cfg_errors_add(errs, "[%s] %s: built-in default is invalid: %s", sec_name, m->name,
                              why);
        }
        return ret;
    }
    e->used = true;
    if (ms_config_expand(e->value, &expanded, why, sizeof(why)) != MS_OK) {
        ms_cfg_errors_add(errs, "%s:%d: [%s] %s: %s", path, e->line, sec_name, m->name, why);
        return MS_EINVAL;
    }
    if (expanded[0] == '\0' && m->type == MS_CFG_STRLIST && !(m->flags & MS_CFG_REQUIRED)) {
        /* "key =" on an optional list: the list is empty (e.g. no filter). */
        ms_strlist_free((struct ms_strlist *)((char *)ctx + m->offset));
        ms_secret_free(expanded);
        return MS_OK;
    }
    if (expanded[0] == '\0' && (m->flags & MS_CFG_REQUIRED)) {
        ms_cfg_errors_add(errs, "%s:%d: [%s] %s: value is empty", path, e->line, sec_name, m->name);
        ms_secret_free(expanded);
        return MS_EINVAL;
    }
    ret = store_value(m, ctx, expanded, why, sizeof(why));
    if (ret == MS_EINVAL) {
        if (m->flags & MS_CFG_SECRET) {
            snprintf(why, sizeof(why), "invalid value (not shown: secret)");
        }
        ms_cfg_errors_add(errs, "%s:%d: [%s] %s: %s", path, e->line, sec_name, m->name, why);
    }
    ms_secret_free(expanded);
    return ret;
}

int ms_config_apply(const struct ms_config *cfg,
                    struct ms_config_section *sec,
                    const struct ms_config_map *const *maps,
                    void *const *ctxs,
                    size_t n_maps,
                    struct ms_cfg_errors *errs)
{
    const struct ms_config_map *m;
    int ret = MS_OK;
    size_t i;

    for (i = 0; i < n_maps; i++) {
        for (m = maps[i]; m->name; m++) {
            int rc = apply_one(cfg, sec, m, ctxs[i], errs);

            if (rc != MS_OK) {
                ret = rc == MS_ENOMEM ? MS_ENOMEM : MS_EINVAL;
            }
        }
    }
    for (i = 0; sec && i < sec->n_entries; i++) {
        struct ms_config_entry *e = &sec->entries[i];
        const char *hint;

        if (e->used) {
            continue;
        }
        hint = suggest(e->key, maps, n_maps);
        if (hint) {
            ms_cfg_errors_add(errs, "%s:%d: [%s] %s: unknown key (did you mean '%s'?)", cfg->path,
                              e->line, sec->name, e->key, hint);
        }
        else {
            ms_cfg_errors_add(errs, "%s:%d: [%s] %s: unknown key", cfg->path, e->line, sec->name,
                              e->key);
        }
        ret = MS_EINVAL;
    }
    return ret;
}

void ms_config_map_free(const struct ms_config_map *map, void *ctx)
{
    const struct ms_config_map *m;

    for (m = map; m->name; m++) {
        char *field = (char *)ctx + m->offset;

        switch (m->type) {
        case MS_CFG_STR:
            if (m->flags & MS_CFG_SECRET) {
                ms_secret_free(*(char **)field);
            }
            else {
                free(*(char **)field);
            }
            *(char **)field = NULL;
            break;
        case MS_CFG_STRLIST:
            ms_strlist_free((struct ms_strlist *)field);
            break;
        case MS_CFG_PREFIX:
            ms_kvlist_free((struct ms_kvlist *)field);
            break;
        default:
            break;
        }
    }
}

static bool key_looks_secret(const char *key)
{
    return strstr(key, "password") || strstr(key, "secret") || strstr(key, "token") ||
           strstr(key, "key");
}

void ms_config_map_dump(const struct ms_config_map *map, const void *ctx, FILE *out)
{
    const struct ms_config_map *m;
    size_t i;

    for (m = map; m->name; m++) {
        const char *field = (const char *)ctx + m->offset;

        switch (m->type) {
        case MS_CFG_STR: {
            const char *v = *(char *const *)field;

            if (!v) {
                break;
            }
            fprintf(out, "%s = %s\n", m->name, (m->flags & MS_CFG_SECRET) ? "<redacted>" : v);
            break;
        }
        case MS_CFG_BOOL:
            fprintf(out, "%s = %s\n", m->name, *(const bool *)field ? "true" : "false");
            break;
        case MS_CFG_INT:
            fprintf(out, "%s = %lld\n", m->name, (long long)*(const int64_t *)field);
            break;
        case MS_CFG_SIZE:
            fprintf(out, "%s = %lld\n", m->name, (long long)*(const int64_t *)field);
            break;
        case MS_CFG_TIME:
            fprintf(out, "%s = %lldms\n", m->name, (long long)*(const int64_t *)field);
            break;
        case MS_CFG_STRLIST: {
            const struct ms_strlist *l = (const struct ms_strlist *)field;

            if (!l->n) {
                break;
            }
            fprintf(out, "%s = ", m->name);
            for (i = 0; i < l->n; i++) {
                fprintf(out, "%s%s", i ? ", " : "", l->items[i]);
            }
            fprintf(out, "\n");
            break;
        }
        case MS_CFG_PREFIX: {
            const struct ms_kvlist *l = (const struct ms_kvlist *)field;

            for (i = 0; i < l->n; i++) {
                fprintf(out, "%s%s = %s\n", m->name, l->keys[i],
                        key_looks_secret(l->keys[i]) ? "<redacted>" : l->values[i]);
            }
            break;
        }
        }
    }
}
