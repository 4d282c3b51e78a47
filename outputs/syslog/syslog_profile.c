/*
 * SIEM profiles of the syslog output: per source type, the LEEF/CEF header (Vendor, Product,
 * Version, EventID) and where `cat` comes from. They are data, read once at init from
 * mappings/siem-profiles.json (format: mappings/README.md); this file knows no vendor.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "../../src/core/ms_err.h"
#include "../../src/core/ms_json.h"
#include "syslog_format.h"

#define PROFILES_FILE_MAX  (1024L * 1024)
#define PROFILES_DEPTH_MAX 16
#define PTR_MAX            512
#define CAT_MAX            64 /* a cat value, NUL included */

/* Header field limits: the shorter of LEEF's and CEF's, so that no encoder cuts a profile value. */
#define HDR_VENDOR_MAX   63
#define HDR_PRODUCT_MAX  63
#define HDR_VERSION_MAX  31
#define HDR_EVENT_ID_MAX 255

struct sl_profile_item {
    struct sl_profile p;
    const char **cat_keys; /* owned array (NULL-terminated), or NULL when p.cat_keys is static */
    const char **cats;     /* owned array (NULL-terminated), or NULL */
};

struct sl_profiles {
    struct json_object *root;  /* owns every string the profiles point to */
    struct sl_profile_item *v; /* sorted by source type */
    size_t n;
};

/* The generic profile: what a source type without a profile (or a profile's missing key) gets. */
static const char *const generic_cat_keys[] = {"category", "action", NULL};
static const struct sl_profile generic_profile = {
    .version = "1.0",
    .cat_keys = generic_cat_keys,
};

static const char *const top_keys[] = {"profiles", NULL};
static const char *const profile_keys[] = {"vendor", "product", "version", "event_id", "cat", NULL};
static const char *const cat_obj_keys[] = {"from", "values", NULL};

/* Normalized event keys whose value is text (mappings/README.md), the only ones cat can read. */
static const char *const text_keys[] = {"action",      "vendor_action",
                                        "category",    "alert_type",
                                        "signature",   "sender",
                                        "recipient",   "user",
                                        "subject",     "message_id",
                                        "url",         "file_name",
                                        "file_hash",   "internal_message_id",
                                        "src_ip",      "dest",
                                        "vendor",      "product",
                                        "source_type", NULL};

/* Adds a refusal unless errs holds it already: every syslog output reads the same file. */
static void add_error(struct ms_cfg_errors *errs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add_error(struct ms_cfg_errors *errs, const char *fmt, ...)
{
    struct ms_buf buf;
    va_list ap;
    size_t i;

    ms_buf_init(&buf, 8192);
    va_start(ap, fmt);
    if (ms_buf_vprintf(&buf, fmt, ap) == MS_OK) {
        for (i = 0; i < errs->n && strcmp(errs->msgs[i], ms_buf_cstr(&buf)) != 0; i++) {
        }
        if (i == errs->n) {
            ms_cfg_errors_add(errs, "%s", ms_buf_cstr(&buf));
        }
    }
    va_end(ap);
    ms_buf_free(&buf);
}

/* ---- loader context: file name, JSON pointer of the value being checked, collected faults ---- */

struct prof_ld {
    const char *file;
    struct ms_cfg_errors *errs;
    char ptr[PTR_MAX];
    size_t len;
    size_t n_errors;
};

static void ld_error(struct prof_ld *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void ld_error(struct prof_ld *ld, const char *fmt, ...)
{
    struct ms_buf buf;
    va_list ap;

    ld->n_errors++;
    ms_buf_init(&buf, 4096);
    va_start(ap, fmt);
    if (ms_buf_vprintf(&buf, fmt, ap) == MS_OK) {
        add_error(ld->errs, "%s: %s: %s", ld->file, ld->len ? ld->ptr : "/", ms_buf_cstr(&buf));
    }
    va_end(ap);
    ms_buf_free(&buf);
}

/* Appends "/key" (RFC 6901: '~' -> "~0", '/' -> "~1") to the pointer; returns the length to pop
 * back to. A pointer longer than PTR_MAX is cut (the message stays readable). */
static size_t ld_push(struct prof_ld *ld, const char *key)
{
    size_t saved = ld->len;
    const char *k;

    if (ld->len + 1 < sizeof(ld->ptr)) {
        ld->ptr[ld->len++] = '/';
    }
    for (k = key; *k && ld->len + 2 < sizeof(ld->ptr); k++) {
        if (*k == '~' || *k == '/') {
            ld->ptr[ld->len++] = '~';
            ld->ptr[ld->len++] = *k == '~' ? '0' : '1';
        }
        else {
            ld->ptr[ld->len++] = *k;
        }
    }
    ld->ptr[ld->len] = '\0';
    return saved;
}

static size_t ld_push_index(struct prof_ld *ld, size_t i)
{
    char num[24];

    (void)snprintf(num, sizeof(num), "%zu", i);
    return ld_push(ld, num);
}

static void ld_pop(struct prof_ld *ld, size_t saved)
{
    ld->len = saved;
    ld->ptr[saved] = '\0';
}

static bool in_list(const char *s, const char *const *list)
{
    size_t i;

    for (i = 0; list[i]; i++) {
        if (strcmp(list[i], s) == 0) {
            return true;
        }
    }
    return false;
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    size_t row[CAT_MAX + 1];
    size_t i;
    size_t j;

    if (la > CAT_MAX || lb > CAT_MAX) {
        return (size_t)-1;
    }
    for (j = 0; j <= lb; j++) {
        row[j] = j;
    }
    for (i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);

            if (up + 1 < best) {
                best = up + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

/* The list item at most two edits away from s, or NULL. */
static const char *suggest(const char *s, const char *const *list)
{
    const char *best = NULL;
    size_t best_d = 3;
    size_t i;

    for (i = 0; list[i]; i++) {
        size_t d = edit_distance(s, list[i]);

        if (d < best_d) {
            best_d = d;
            best = list[i];
        }
    }
    return best;
}

/* Refuses every member of obj that is neither in known nor a comment ("_..."). */
static void check_keys(struct prof_ld *ld, struct json_object *obj, const char *const *known)
{
    json_object_object_foreach(obj, key, val) {
        const char *hint;
        size_t saved;

        (void)val;
        if (key[0] == '_' || in_list(key, known)) {
            continue;
        }
        hint = suggest(key, known);
        saved = ld_push(ld, key);
        ld_error(ld, "unknown key%s%s%s", hint ? " (did you mean '" : "", hint ? hint : "",
                 hint ? "'?)" : "");
        ld_pop(ld, saved);
    }
}

static bool has_control(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return true;
        }
    }
    return false;
}

/* ---- reading ---- */

/*
 * Reads and parses the file. A missing file gives MS_OK with *out NULL. Other faults (I/O, size,
 * JSON syntax with line and column) go into errs, once even when several outputs read the file.
 */
static int read_json(const char *path, struct json_object **out, struct ms_cfg_errors *errs)
{
    struct ms_cfg_errors mine = {NULL, 0};
    size_t i;
    int ret;

    ret = ms_json_load_file(path, PROFILES_FILE_MAX, PROFILES_DEPTH_MAX,
                            JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8, out, &mine);
    if (ret == MS_EOF) {
        ret = MS_OK; /* *out stays NULL: the caller warns */
    }
    else if (ret == MS_OK && !*out) {
        add_error(errs, "%s: /: a SIEM profile file is a JSON object with \"profiles\", not null",
                  path);
        ret = MS_EINVAL;
    }
    for (i = 0; i < mine.n; i++) {
        add_error(errs, "%s", mine.msgs[i]);
    }
    ms_cfg_errors_free(&mine);
    return ret;
}

/* ---- checking ---- */

/* A header field: non-empty text without control characters, at most max bytes. */
static void load_header(
    struct prof_ld *ld, struct json_object *prof, const char *key, size_t max, const char **dst)
{
    struct json_object *v;
    const char *s;
    size_t saved;

    if (!json_object_object_get_ex(prof, key, &v)) { /* borrowed */
        return;
    }
    saved = ld_push(ld, key);
    s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
    if (!s || !s[0]) {
        ld_error(ld, "expected a non-empty string");
    }
    else if (strlen(s) > max) {
        ld_error(ld, "longer than %zu bytes (the %s limit of LEEF and CEF)", max, key);
    }
    else if (has_control(s)) {
        ld_error(ld, "holds a control character");
    }
    else {
        *dst = s;
    }
    ld_pop(ld, saved);
}

/* A cat word as msfwd writes it: lower-case ASCII letters, digits, '-' and '_' (a QID map key). */
static bool cat_word_ok(const char *s)
{
    size_t n = strlen(s);
    size_t i;

    if (n == 0 || n >= CAT_MAX) {
        return false;
    }
    for (i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
            return false;
        }
    }
    return true;
}

#define CAT_WORD_RULE "lower-case letters, digits, '-' and '_', at most 63 bytes"

/*
 * A list of strings (or one string) checked by ok; returns a new NULL-terminated array of the
 * strings (borrowed from v), or NULL after a fault (in ld) or when memory ran out (*nomem).
 */
static const char **load_words(struct prof_ld *ld,
                               struct json_object *v,
                               bool (*ok)(const char *s, char *why, size_t why_len),
                               bool *nomem)
{
    const char **words;
    size_t n = 1;
    size_t i;
    size_t faults = ld->n_errors;

    if (json_object_is_type(v, json_type_array)) {
        n = json_object_array_length(v);
        if (n == 0) {
            ld_error(ld, "expected a non-empty list");
            return NULL;
        }
    }
    else if (!json_object_is_type(v, json_type_string)) {
        ld_error(ld, "expected a list of strings");
        return NULL;
    }
    words = calloc(n + 1, sizeof(*words));
    if (!words) {
        *nomem = true;
        return NULL;
    }
    for (i = 0; i < n; i++) {
        struct json_object *e = json_object_is_type(v, json_type_array)
                                    ? json_object_array_get_idx(v, i) /* borrowed */
                                    : v;
        char why[160];
        size_t saved = json_object_is_type(v, json_type_array) ? ld_push_index(ld, i) : ld->len;

        if (!json_object_is_type(e, json_type_string)) {
            ld_error(ld, "expected a string");
        }
        else if (!ok(json_object_get_string(e), why, sizeof(why))) {
            ld_error(ld, "\"%s\": %s", json_object_get_string(e), why);
        }
        else {
            words[i] = json_object_get_string(e);
        }
        ld_pop(ld, saved);
    }
    if (ld->n_errors > faults) {
        free(words);
        return NULL;
    }
    return words;
}

static bool text_key_ok(const char *s, char *why, size_t why_len)
{
    const char *hint;

    if (in_list(s, text_keys)) {
        return true;
    }
    hint = suggest(s, text_keys);
    (void)snprintf(why, why_len, "not a text key of the normalized event%s%s%s",
                   hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
    return false;
}

static bool cat_value_ok(const char *s, char *why, size_t why_len)
{
    (void)snprintf(why, why_len, "a cat value is " CAT_WORD_RULE);
    return cat_word_ok(s);
}

/* "cat": "constant" or {"from": [event keys], "values": [closed vocabulary]}. */
static int load_cat(struct prof_ld *ld, struct json_object *v, struct sl_profile_item *it)
{
    struct json_object *m;
    bool nomem = false;
    size_t saved;

    if (json_object_is_type(v, json_type_string)) {
        if (!cat_word_ok(json_object_get_string(v))) {
            ld_error(ld, "\"%s\": a constant cat is " CAT_WORD_RULE, json_object_get_string(v));
        }
        else {
            it->p.cat_const = json_object_get_string(v);
        }
        return MS_OK;
    }
    if (!json_object_is_type(v, json_type_object)) {
        ld_error(ld, "expected a constant such as \"quarantined\", or {\"from\": [event keys], "
                     "\"values\": [allowed values]}");
        return MS_OK;
    }
    check_keys(ld, v, cat_obj_keys);
    it->p.cat_keys = generic_cat_keys;
    if (json_object_object_get_ex(v, "from", &m)) { /* borrowed */
        saved = ld_push(ld, "from");
        it->cat_keys = load_words(ld, m, text_key_ok, &nomem);
        if (it->cat_keys) {
            it->p.cat_keys = it->cat_keys;
        }
        ld_pop(ld, saved);
    }
    if (!nomem && json_object_object_get_ex(v, "values", &m)) { /* borrowed */
        saved = ld_push(ld, "values");
        it->cats = load_words(ld, m, cat_value_ok, &nomem);
        it->p.cats = it->cats;
        ld_pop(ld, saved);
    }
    return nomem ? MS_ENOMEM : MS_OK;
}

static int load_profile(struct prof_ld *ld,
                        const char *source_type,
                        struct json_object *prof,
                        struct sl_profile_item *it)
{
    struct json_object *v;
    size_t saved;
    int ret = MS_OK;

    it->p.source_type = source_type;
    if (!source_type[0]) {
        ld_error(ld, "expected a source type such as \"acme:gw:alert\", not \"\"");
    }
    else if (strlen(source_type) >= MS_SOURCE_TYPE_MAX) {
        ld_error(ld, "a source type has at most %d bytes", MS_SOURCE_TYPE_MAX - 1);
    }
    else if (has_control(source_type)) {
        ld_error(ld, "the source type holds a control character");
    }
    if (!json_object_is_type(prof, json_type_object)) {
        ld_error(ld, "expected an object with vendor, product, version, event_id and cat");
        return MS_OK;
    }
    check_keys(ld, prof, profile_keys);
    load_header(ld, prof, "vendor", HDR_VENDOR_MAX, &it->p.vendor);
    load_header(ld, prof, "product", HDR_PRODUCT_MAX, &it->p.product);
    load_header(ld, prof, "version", HDR_VERSION_MAX, &it->p.version);
    load_header(ld, prof, "event_id", HDR_EVENT_ID_MAX, &it->p.event_id);
    if (json_object_object_get_ex(prof, "cat", &v)) { /* borrowed */
        saved = ld_push(ld, "cat");
        ret = load_cat(ld, v, it);
        ld_pop(ld, saved);
    }
    else {
        it->p.cat_keys = generic_cat_keys;
    }
    return ret;
}

static int item_cmp(const void *a, const void *b)
{
    const struct sl_profile_item *x = a;
    const struct sl_profile_item *y = b;

    return strcmp(x->p.source_type, y->p.source_type);
}

int sl_profiles_load(const char *path, struct sl_profiles **out, struct ms_cfg_errors *errs)
{
    struct sl_profiles *ps = NULL;
    struct json_object *root = NULL;
    struct json_object *profs = NULL;
    struct prof_ld ld;
    size_t saved;
    size_t n = 0;
    int ret;

    *out = NULL;
    ret = read_json(path, &root, errs);
    if (ret != MS_OK || !root) {
        return ret;
    }
    memset(&ld, 0, sizeof(ld));
    ld.file = path;
    ld.errs = errs;
    ps = calloc(1, sizeof(*ps));
    if (!ps) {
        json_object_put(root);
        return MS_ENOMEM;
    }
    ps->root = root;
    if (!json_object_is_type(root, json_type_object)) {
        ld_error(&ld, "a SIEM profile file is a JSON object with \"profiles\"");
        goto out;
    }
    check_keys(&ld, root, top_keys);
    if (!json_object_object_get_ex(root, "profiles", &profs)) { /* borrowed */
        ld_error(&ld, "missing \"profiles\": {\"<source type>\": {\"vendor\": ..., \"product\": "
                      "..., \"version\": ..., \"event_id\": ..., \"cat\": ...}}");
        goto out;
    }
    saved = ld_push(&ld, "profiles");
    if (!json_object_is_type(profs, json_type_object)) {
        ld_error(&ld, "expected an object of \"<source type>\": {profile}");
        ld_pop(&ld, saved);
        goto out;
    }
    ps->v = calloc((size_t)json_object_object_length(profs) + 1, sizeof(*ps->v));
    if (!ps->v) {
        ret = MS_ENOMEM;
        goto out;
    }
    json_object_object_foreach(profs, st, prof) {
        size_t saved_st;

        if (st[0] == '_') {
            continue;
        }
        saved_st = ld_push(&ld, st);
        ret = load_profile(&ld, st, prof, &ps->v[n++]);
        ld_pop(&ld, saved_st);
        ps->n = n;
        if (ret != MS_OK) {
            goto out;
        }
    }
    ld_pop(&ld, saved);
    qsort(ps->v, ps->n, sizeof(*ps->v), item_cmp);
out:
    if (ret == MS_OK && ld.n_errors) {
        ret = MS_EINVAL;
    }
    if (ret != MS_OK) {
        sl_profiles_destroy(ps);
        return ret;
    }
    *out = ps;
    return MS_OK;
}

void sl_profiles_destroy(struct sl_profiles *ps)
{
    size_t i;

    if (!ps) {
        return;
    }
    for (i = 0; i < ps->n; i++) {
        free(ps->v[i].cat_keys);
        free(ps->v[i].cats);
    }
    free(ps->v);
    json_object_put(ps->root);
    free(ps);
}

size_t sl_profiles_count(const struct sl_profiles *ps)
{
    return ps ? ps->n : 0;
}

const struct sl_profile *sl_profile_get(const struct sl_profiles *ps, const char *source_type)
{
    size_t lo = 0;
    size_t hi = ps ? ps->n : 0;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(source_type, ps->v[mid].p.source_type);

        if (c == 0) {
            return &ps->v[mid].p;
        }
        if (c < 0) {
            hi = mid;
        }
        else {
            lo = mid + 1;
        }
    }
    return &generic_profile;
}

/* ---- header and cat values ---- */

void sl_derive_event_id(const char *source_type, char *out, size_t len)
{
    size_t i;

    if (!source_type[0]) {
        (void)snprintf(out, len, "EVENT");
        return;
    }
    for (i = 0; source_type[i] && i + 1 < len; i++) {
        char c = source_type[i];

        if (c >= 'a' && c <= 'z') {
            c = (char)(c - 'a' + 'A');
        }
        else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
            c = '_';
        }
        out[i] = c;
    }
    out[i] = '\0';
}

/* Lower-cased, trimmed copy of s into out (at most CAT_MAX bytes). False if empty or too long. */
static bool cat_normalize(const char *s, char *out)
{
    size_t n = strlen(s);
    size_t i;

    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
        n--;
    }
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    if (n == 0 || n >= CAT_MAX) {
        return false;
    }
    for (i = 0; i < n; i++) {
        char c = s[i];

        out[i] = c;
        if (c >= 'A' && c <= 'Z') {
            out[i] = (char)(c + ('a' - 'A'));
        }
    }
    out[n] = '\0';
    return true;
}

/* The vocabulary item matching v exactly or as a verb ("block" -> "blocked"), or NULL. */
static const char *cat_lookup(const char *const *cats, const char *v)
{
    size_t n = strlen(v);
    size_t i;

    for (i = 0; cats[i]; i++) {
        size_t m = strlen(cats[i]);

        if (strcmp(cats[i], v) == 0) {
            return cats[i];
        }
        if (m > n && strncmp(cats[i], v, n) == 0 &&
            (strcmp(cats[i] + n, "ed") == 0 || strcmp(cats[i] + n, "d") == 0)) {
            return cats[i];
        }
    }
    return NULL;
}

int sl_put_cat(struct ms_buf *out, const struct sl_profile *p, const struct ms_event *ev)
{
    char norm[CAT_MAX];
    const char *s = NULL;
    size_t i;

    if (p->cat_const) {
        return ms_buf_puts(out, p->cat_const);
    }
    for (i = 0; p->cat_keys && p->cat_keys[i]; i++) {
        s = sl_ev_str(ev, p->cat_keys[i]);
        if (s) {
            break;
        }
    }
    if (!s || !cat_normalize(s, norm)) {
        return ms_buf_puts(out, "other");
    }
    if (p->cats) {
        const char *hit = cat_lookup(p->cats, norm);

        return ms_buf_puts(out, hit ? hit : "other");
    }
    /* Free vocabulary: a QID-map key, so ASCII letters, digits, '_' and '-' only. */
    for (i = 0; norm[i]; i++) {
        char c = norm[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
            norm[i] = '_';
        }
    }
    return ms_buf_puts(out, norm);
}
