/*
 * Mapping expressions: the function table, the compiler (which refuses a bad mapping with the file
 * and JSON pointer of the fault) and the evaluator (no parsing, no copies of record values).
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/ms_buf.h"
#include "../core/ms_err.h"
#include "ms_expr.h"
#include "ms_jpath.h"
#include "ms_timeparse.h"

#define TEXT_BUF       64  /* formatting one number */
#define ICASE_KEY_MAX  256 /* longest key of a table used with ignore_case */
#define MAX_TABLE_LIST 64  /* table names offered in a "did you mean" */

enum ex_op {
    EX_PATH,
    EX_CONST,
    EX_COALESCE,
    EX_IF_EMPTY,
    EX_IF,
    EX_LOOKUP,
    EX_RANGE,
    EX_TO_NUMBER,
    EX_TO_INT,
    EX_TO_STRING,
    EX_TO_ISO8601,
    EX_TO_EPOCH,
    EX_TO_EPOCH_MS,
    EX_LOWER,
    EX_UPPER,
    EX_TRIM,
    EX_REGEX,
    EX_IP,
    EX_FIRST,
    EX_JOIN,
    EX_COUNT,
    EX_MAX,
    EX_MIN,
    EX_CONCAT,
    EX_SPLIT,
};

enum arg_kind {
    ARG_ONE,         /* one expression */
    ARG_LIST,        /* a list of expressions */
    ARG_ONE_OR_LIST, /* either */
    ARG_COND,        /* a condition */
    ARG_JSON,        /* any JSON, taken as it is */
};

enum opt_bit {
    OPT_THEN = 1u << 0,
    OPT_ELSE = 1u << 1,
    OPT_TABLE = 1u << 2,
    OPT_DEFAULT = 1u << 3,
    OPT_IGNORE_CASE = 1u << 4,
    OPT_AT_LEAST = 1u << 5,
    OPT_PATTERN = 1u << 6,
    OPT_GROUP = 1u << 7,
    OPT_SEP = 1u << 8,
};

static const char *const opt_names[] = {"then",     "else",    "table", "default", "ignore_case",
                                        "at_least", "pattern", "group", "sep",     NULL};

struct fn_desc {
    const char *name;
    enum ex_op op;
    enum arg_kind arg;
    unsigned opts;     /* options allowed */
    unsigned required; /* options required */
    bool elementwise;  /* applied to each element when given a list */
};

static const struct fn_desc functions[] = {
    {"const", EX_CONST, ARG_JSON, 0, 0, false},
    {"coalesce", EX_COALESCE, ARG_LIST, 0, 0, false},
    {"if_empty", EX_IF_EMPTY, ARG_ONE, OPT_THEN | OPT_ELSE, OPT_THEN, false},
    {"if", EX_IF, ARG_COND, OPT_THEN | OPT_ELSE, OPT_THEN, false},
    {"lookup", EX_LOOKUP, ARG_ONE, OPT_TABLE | OPT_DEFAULT | OPT_IGNORE_CASE, OPT_TABLE, true},
    {"range", EX_RANGE, ARG_ONE, OPT_AT_LEAST | OPT_DEFAULT, OPT_AT_LEAST, true},
    {"to_number", EX_TO_NUMBER, ARG_ONE, 0, 0, true},
    {"to_int", EX_TO_INT, ARG_ONE, 0, 0, true},
    {"to_string", EX_TO_STRING, ARG_ONE, 0, 0, true},
    {"to_iso8601", EX_TO_ISO8601, ARG_ONE, 0, 0, true},
    {"to_epoch", EX_TO_EPOCH, ARG_ONE, 0, 0, true},
    {"to_epoch_ms", EX_TO_EPOCH_MS, ARG_ONE, 0, 0, true},
    {"lower", EX_LOWER, ARG_ONE, 0, 0, true},
    {"upper", EX_UPPER, ARG_ONE, 0, 0, true},
    {"trim", EX_TRIM, ARG_ONE, 0, 0, true},
    {"regex", EX_REGEX, ARG_ONE, OPT_PATTERN | OPT_GROUP | OPT_IGNORE_CASE, OPT_PATTERN, true},
    {"ip", EX_IP, ARG_ONE, 0, 0, true},
    {"first", EX_FIRST, ARG_ONE, 0, 0, false},
    {"join", EX_JOIN, ARG_ONE, OPT_SEP, 0, false},
    {"count", EX_COUNT, ARG_ONE, 0, 0, false},
    {"max", EX_MAX, ARG_ONE_OR_LIST, 0, 0, false},
    {"min", EX_MIN, ARG_ONE_OR_LIST, 0, 0, false},
    {"concat", EX_CONCAT, ARG_LIST, 0, 0, false},
    {"split", EX_SPLIT, ARG_ONE, OPT_SEP, 0, false},
    {NULL, 0, 0, 0, 0, false},
};

static const char *const function_names[] = {
    "const",  "coalesce",  "if_empty",   "if",       "lookup",      "range", "to_number",
    "to_int", "to_string", "to_iso8601", "to_epoch", "to_epoch_ms", "lower", "upper",
    "trim",   "regex",     "ip",         "first",    "join",        "count", "max",
    "min",    "concat",    "split",      NULL};

struct range_row {
    double min;
    struct json_object *value; /* owned reference */
};

struct ms_expr {
    const struct fn_desc *fn; /* NULL for paths and plain constants */
    enum ex_op op;
    struct ms_jpath *path;     /* EX_PATH */
    struct json_object *value; /* EX_CONST constant; EX_LOOKUP table; owned reference */
    struct ms_expr **args;
    size_t n_args;
    struct ms_cond *cond; /* EX_IF */
    struct ms_expr *then_e;
    struct ms_expr *else_e;
    struct ms_expr *dflt;
    bool ignore_case;
    struct range_row *rows; /* EX_RANGE, sorted by min, highest first */
    size_t n_rows;
    regex_t re; /* EX_REGEX */
    bool has_re;
    size_t group;
    char *sep; /* EX_JOIN */
};

enum cond_kind {
    CK_TEST,
    CK_ALL,
    CK_ANY,
};

enum cond_test {
    CT_EQUALS,
    CT_IN,
    CT_CONTAINS,
    CT_MATCHES,
    CT_MISSING,
};

struct ms_cond {
    enum cond_kind kind;
    bool negate;
    struct ms_cond **kids;
    size_t n_kids;
    struct ms_expr *subject;
    enum cond_test test;
    struct json_object *operand; /* owned: equals (scalar), in (array), contains (string) */
    bool missing;
    bool ignore_case;
    regex_t re;
    bool has_re;
};

/* ------------------------------------------------------------------------------------------
 * Load context
 */

void ms_mload_init(struct ms_mload *ld, const char *file, struct ms_cfg_errors *errs)
{
    memset(ld, 0, sizeof(*ld));
    ld->file = file;
    ld->errs = errs;
}

size_t ms_mload_push(struct ms_mload *ld, const char *key)
{
    size_t old = ld->len;
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
    return old;
}

size_t ms_mload_push_index(struct ms_mload *ld, size_t index)
{
    char num[24];

    snprintf(num, sizeof(num), "%zu", index);
    return ms_mload_push(ld, num);
}

void ms_mload_pop(struct ms_mload *ld, size_t len)
{
    ld->len = len;
    ld->ptr[len] = '\0';
}

void ms_mload_error(struct ms_mload *ld, const char *fmt, ...)
{
    struct ms_buf buf;
    va_list ap;

    ld->n_errors++;
    ms_buf_init(&buf, 4096);
    va_start(ap, fmt);
    if (ms_buf_vprintf(&buf, fmt, ap) == MS_OK) {
        ms_cfg_errors_add(ld->errs, "%s: %s: %s", ld->file, ld->len ? ld->ptr : "/",
                          ms_buf_cstr(&buf));
    }
    va_end(ap);
    ms_buf_free(&buf);
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    size_t row[65];
    size_t i;
    size_t j;

    if (la > 64 || lb > 64) {
        return 99;
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

            if (row[j] + 1 < best) {
                best = row[j] + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *ms_mload_suggest(const char *word, const char *const *candidates)
{
    const char *best = NULL;
    size_t best_d = 3;
    size_t i;

    for (i = 0; candidates[i]; i++) {
        size_t d = edit_distance(word, candidates[i]);
        size_t lc = strlen(candidates[i]);

        /* "uppercase" for "upper": a known name that starts the unknown word */
        if (d >= best_d && lc >= 4 && strncmp(word, candidates[i], lc) == 0) {
            d = best_d - 1;
        }
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best;
}

/* ------------------------------------------------------------------------------------------
 * Values
 */

bool ms_value_empty(struct json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null:
        return true;
    case json_type_string:
        return json_object_get_string_len(v) == 0;
    case json_type_array:
        return json_object_array_length(v) == 0;
    case json_type_object:
        return json_object_object_length(v) == 0;
    default:
        return false;
    }
}

const char *ms_value_text(struct json_object *v, char *buf, size_t buf_len, size_t *len_out)
{
    int n;

    switch (json_object_get_type(v)) {
    case json_type_string:
        *len_out = (size_t)json_object_get_string_len(v);
        return json_object_get_string(v);
    case json_type_int:
        n = snprintf(buf, buf_len, "%lld", (long long)json_object_get_int64(v));
        break;
    case json_type_double:
        n = snprintf(buf, buf_len, "%.15g", json_object_get_double(v));
        break;
    case json_type_boolean:
        n = snprintf(buf, buf_len, "%s", json_object_get_boolean(v) ? "true" : "false");
        break;
    default:
        return NULL;
    }
    if (n < 0 || (size_t)n >= buf_len) {
        return NULL;
    }
    *len_out = (size_t)n;
    return buf;
}

/* Parses all of s (blanks around allowed) as a number. */
static bool text_number(const char *s, double *out, bool *is_int, int64_t *iv)
{
    char *stop;
    double d;
    long long ll;

    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (!*s) {
        return false;
    }
    errno = 0;
    ll = strtoll(s, &stop, 10);
    if (stop != s && errno == 0) {
        const char *t = stop;

        while (*t == ' ' || *t == '\t') {
            t++;
        }
        if (!*t) {
            *is_int = true;
            *iv = (int64_t)ll;
            *out = (double)ll;
            return true;
        }
    }
    errno = 0;
    d = strtod(s, &stop);
    if (stop == s || errno != 0 || !isfinite(d)) {
        return false;
    }
    while (*stop == ' ' || *stop == '\t') {
        stop++;
    }
    if (*stop) {
        return false;
    }
    *is_int = false;
    *out = d;
    return true;
}

bool ms_value_number(struct json_object *v, double *out)
{
    bool is_int;
    int64_t iv;

    switch (json_object_get_type(v)) {
    case json_type_int:
        *out = (double)json_object_get_int64(v);
        return true;
    case json_type_double:
        *out = json_object_get_double(v);
        return isfinite(*out);
    case json_type_string:
        return text_number(json_object_get_string(v), out, &is_int, &iv);
    default:
        return false;
    }
}

static bool is_scalar(struct json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_string:
    case json_type_int:
    case json_type_double:
    case json_type_boolean:
        return true;
    default:
        return false;
    }
}

/* ------------------------------------------------------------------------------------------
 * Compiling
 */

void ms_expr_destroy(struct ms_expr *e)
{
    size_t i;

    if (!e) {
        return;
    }
    ms_jpath_destroy(e->path);
    json_object_put(e->value);
    for (i = 0; i < e->n_args; i++) {
        ms_expr_destroy(e->args[i]);
    }
    free(e->args);
    ms_cond_destroy(e->cond);
    ms_expr_destroy(e->then_e);
    ms_expr_destroy(e->else_e);
    ms_expr_destroy(e->dflt);
    for (i = 0; i < e->n_rows; i++) {
        json_object_put(e->rows[i].value);
    }
    free(e->rows);
    if (e->has_re) {
        regfree(&e->re);
    }
    free(e->sep);
    free(e);
}

void ms_cond_destroy(struct ms_cond *c)
{
    size_t i;

    if (!c) {
        return;
    }
    for (i = 0; i < c->n_kids; i++) {
        ms_cond_destroy(c->kids[i]);
    }
    free(c->kids);
    ms_expr_destroy(c->subject);
    json_object_put(c->operand);
    if (c->has_re) {
        regfree(&c->re);
    }
    free(c);
}

static const struct fn_desc *find_function(const char *name)
{
    const struct fn_desc *f;

    for (f = functions; f->name; f++) {
        if (strcmp(f->name, name) == 0) {
            return f;
        }
    }
    return NULL;
}

static int find_option(const char *name)
{
    int i;

    for (i = 0; opt_names[i]; i++) {
        if (strcmp(opt_names[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

static bool is_comment_key(const char *key)
{
    return key[0] == '_';
}

static const char *json_type_label(struct json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "a boolean";
    case json_type_int:
    case json_type_double:
        return "a number";
    case json_type_string:
        return "a string";
    case json_type_array:
        return "a list";
    default:
        return "an object";
    }
}

/* Compiles the member key of obj as an expression (pointer pushed). */
static struct ms_expr *compile_member(struct ms_mload *ld, struct json_object *obj, const char *key)
{
    struct json_object *v = NULL;
    struct ms_expr *e;
    size_t saved;

    json_object_object_get_ex(obj, key, &v); /* borrowed */
    saved = ms_mload_push(ld, key);
    e = ms_expr_compile(ld, v);
    ms_mload_pop(ld, saved);
    return e;
}

static int compile_list(struct ms_mload *ld, struct json_object *list, struct ms_expr *e)
{
    size_t n = json_object_array_length(list);
    size_t i;
    int ret = MS_OK;

    if (n == 0) {
        ms_mload_error(ld, "the list of expressions is empty");
        return MS_EINVAL;
    }
    e->args = calloc(n, sizeof(*e->args));
    if (!e->args) {
        return MS_ENOMEM;
    }
    for (i = 0; i < n; i++) {
        size_t saved = ms_mload_push_index(ld, i);

        e->args[i] = ms_expr_compile(ld, json_object_array_get_idx(list, i));
        ms_mload_pop(ld, saved);
        if (!e->args[i]) {
            ret = MS_EINVAL;
        }
    }
    e->n_args = n;
    return ret;
}

/* Resolves the "table" option: a name in the file's "tables", or an inline object. */
static int compile_table(struct ms_mload *ld, struct json_object *spec, struct ms_expr *e)
{
    struct json_object *table = NULL;
    size_t saved = ms_mload_push(ld, "table");
    int ret = MS_OK;

    if (json_object_is_type(spec, json_type_string)) {
        const char *name = json_object_get_string(spec);

        if (!ld->tables || !json_object_object_get_ex(ld->tables, name, &table)) {
            const char *names[MAX_TABLE_LIST + 1];
            const char *hint;
            size_t n = 0;

            if (ld->tables) {
                json_object_object_foreach(ld->tables, tkey, tval) {
                    (void)tval;
                    if (n < MAX_TABLE_LIST) {
                        names[n++] = tkey;
                    }
                }
            }
            names[n] = NULL;
            hint = ms_mload_suggest(name, names);
            ms_mload_error(ld, "unknown table '%s'%s%s%s", name, hint ? " (did you mean '" : "",
                           hint ? hint : "", hint ? "'?)" : " (tables are defined under /tables)");
            ret = MS_EINVAL;
            goto out;
        }
    }
    else {
        table = spec;
    }
    if (!json_object_is_type(table, json_type_object)) {
        ms_mload_error(ld, "a table is an object of \"vendor value\": result pairs, not %s",
                       json_type_label(table));
        ret = MS_EINVAL;
        goto out;
    }
    if (!e->ignore_case) {
        e->value = json_object_get(table);
        goto out;
    }
    /* ignore_case: a private copy with lower-case keys, so a lookup lower-cases only the value */
    e->value = json_object_new_object();
    if (!e->value) {
        ret = MS_ENOMEM;
        goto out;
    }
    json_object_object_foreach(table, key, val) {
        char low[ICASE_KEY_MAX + 1];
        size_t n = strlen(key);
        size_t i;

        if (n > ICASE_KEY_MAX) {
            ms_mload_error(ld, "key '%.40s...' is too long for ignore_case (at most %d bytes)", key,
                           ICASE_KEY_MAX);
            ret = MS_EINVAL;
            continue;
        }
        for (i = 0; i <= n; i++) {
            low[i] = (char)(key[i] >= 'A' && key[i] <= 'Z' ? key[i] - 'A' + 'a' : key[i]);
        }
        if (json_object_object_get_ex(e->value, low, NULL)) {
            ms_mload_error(ld, "keys differing only in case collide under ignore_case: '%s'", key);
            ret = MS_EINVAL;
            continue;
        }
        if (json_object_object_add(e->value, low, json_object_get(val)) != 0) {
            json_object_put(val);
            ret = MS_ENOMEM;
        }
    }
out:
    ms_mload_pop(ld, saved);
    return ret;
}

static int row_cmp(const void *a, const void *b)
{
    const struct range_row *ra = a;
    const struct range_row *rb = b;

    return ra->min < rb->min ? 1 : ra->min > rb->min ? -1 : 0;
}

/* "at_least": [[number, value], ...] */
static int compile_rows(struct ms_mload *ld, struct json_object *spec, struct ms_expr *e)
{
    size_t saved = ms_mload_push(ld, "at_least");
    size_t n;
    size_t i;
    int ret = MS_OK;

    if (!json_object_is_type(spec, json_type_array) || json_object_array_length(spec) == 0) {
        ms_mload_error(ld, "expected a list of [number, value] pairs, highest first or not");
        ret = MS_EINVAL;
        goto out;
    }
    n = json_object_array_length(spec);
    e->rows = calloc(n, sizeof(*e->rows));
    if (!e->rows) {
        ret = MS_ENOMEM;
        goto out;
    }
    for (i = 0; i < n; i++) {
        struct json_object *pair = json_object_array_get_idx(spec, i);
        size_t s2 = ms_mload_push_index(ld, i);

        if (!json_object_is_type(pair, json_type_array) || json_object_array_length(pair) != 2 ||
            !(json_object_is_type(json_object_array_get_idx(pair, 0), json_type_int) ||
              json_object_is_type(json_object_array_get_idx(pair, 0), json_type_double))) {
            ms_mload_error(ld, "expected [number, value]");
            ret = MS_EINVAL;
        }
        else {
            e->rows[e->n_rows].min = json_object_get_double(json_object_array_get_idx(pair, 0));
            e->rows[e->n_rows].value = json_object_get(json_object_array_get_idx(pair, 1));
            e->n_rows++;
        }
        ms_mload_pop(ld, s2);
    }
    qsort(e->rows, e->n_rows, sizeof(*e->rows), row_cmp);
out:
    ms_mload_pop(ld, saved);
    return ret;
}

static int compile_regex(
    struct ms_mload *ld, const char *key, const char *pattern, bool icase, int flags, regex_t *re)
{
    size_t saved = ms_mload_push(ld, key);
    int rc = regcomp(re, pattern, REG_EXTENDED | flags | (icase ? REG_ICASE : 0));

    if (rc != 0) {
        char msg[128];

        regerror(rc, re, msg, sizeof(msg));
        ms_mload_error(ld, "bad regular expression \"%s\": %s", pattern, msg);
    }
    ms_mload_pop(ld, saved);
    return rc == 0 ? MS_OK : MS_EINVAL;
}

/* Compiles {"<function>": arg, options...}. */
static struct ms_expr *compile_call(struct ms_mload *ld, struct json_object *obj)
{
    const struct fn_desc *fn = NULL;
    const char *fn_key = NULL;
    struct json_object *opt[9] = {NULL};
    unsigned present = 0;
    struct ms_expr *e = NULL;
    struct json_object *arg;
    bool bad = false;
    int i;
    int rc = MS_OK;

    json_object_object_foreach(obj, key, val) {
        const struct fn_desc *f;
        int o;

        if (is_comment_key(key)) {
            continue;
        }
        f = find_function(key);
        o = find_option(key);
        if (f) {
            if (fn) {
                size_t saved = ms_mload_push(ld, key);

                ms_mload_error(ld, "one function per object ('%s' and '%s'): nest them instead",
                               fn_key, key);
                ms_mload_pop(ld, saved);
                bad = true;
            }
            fn = f;
            fn_key = key;
        }
        else if (o >= 0) {
            opt[o] = val;
            present |= 1u << o;
        }
        else {
            size_t saved = ms_mload_push(ld, key);
            const char *hint = ms_mload_suggest(key, function_names);

            if (!hint) {
                hint = ms_mload_suggest(key, opt_names);
            }
            ms_mload_error(ld, "unknown function '%s'%s%s%s", key, hint ? " (did you mean '" : "",
                           hint ? hint : "", hint ? "'?)" : "");
            ms_mload_pop(ld, saved);
            bad = true;
        }
    }
    if (!fn) {
        if (!bad) {
            ms_mload_error(ld, "an object here is a function call, and this one names no function "
                               "(coalesce, if_empty, if, lookup, const, ...)");
        }
        return NULL;
    }
    for (i = 0; opt_names[i]; i++) {
        if ((present & (1u << i)) && !(fn->opts & (1u << i))) {
            size_t saved = ms_mload_push(ld, opt_names[i]);

            ms_mload_error(ld, "'%s' takes no option '%s'", fn->name, opt_names[i]);
            ms_mload_pop(ld, saved);
            bad = true;
        }
        if ((fn->required & (1u << i)) && !(present & (1u << i))) {
            ms_mload_error(ld, "'%s' needs '%s'", fn->name, opt_names[i]);
            bad = true;
        }
    }
    if (bad) {
        return NULL;
    }
    e = calloc(1, sizeof(*e));
    if (!e) {
        return NULL;
    }
    e->fn = fn;
    e->op = fn->op;
    json_object_object_get_ex(obj, fn_key, &arg); /* borrowed */
    if (present & OPT_IGNORE_CASE) {
        if (!json_object_is_type(opt[4], json_type_boolean)) {
            size_t saved = ms_mload_push(ld, "ignore_case");

            ms_mload_error(ld, "expected true or false");
            ms_mload_pop(ld, saved);
            rc = MS_EINVAL;
        }
        e->ignore_case = json_object_get_boolean(opt[4]);
    }
    switch (fn->arg) {
    case ARG_JSON:
        e->value = json_object_get(arg);
        break;
    case ARG_ONE:
        e->args = calloc(1, sizeof(*e->args));
        if (!e->args) {
            rc = MS_ENOMEM;
            break;
        }
        e->args[0] = compile_member(ld, obj, fn_key);
        e->n_args = 1;
        if (!e->args[0]) {
            rc = MS_EINVAL;
        }
        break;
    case ARG_LIST:
    case ARG_ONE_OR_LIST: {
        size_t saved = ms_mload_push(ld, fn_key);

        if (json_object_is_type(arg, json_type_array)) {
            if (compile_list(ld, arg, e) != MS_OK) {
                rc = MS_EINVAL;
            }
        }
        else if (fn->arg == ARG_LIST) {
            ms_mload_error(ld, "'%s' takes a list of expressions", fn->name);
            rc = MS_EINVAL;
        }
        ms_mload_pop(ld, saved);
        if (fn->arg == ARG_ONE_OR_LIST && !json_object_is_type(arg, json_type_array)) {
            e->args = calloc(1, sizeof(*e->args));
            if (!e->args) {
                rc = MS_ENOMEM;
                break;
            }
            e->args[0] = compile_member(ld, obj, fn_key);
            e->n_args = 1;
            if (!e->args[0]) {
                rc = MS_EINVAL;
            }
        }
        break;
    }
    case ARG_COND: {
        size_t saved = ms_mload_push(ld, fn_key);

        e->cond = ms_cond_compile(ld, arg, NULL);
        ms_mload_pop(ld, saved);
        if (!e->cond) {
            rc = MS_EINVAL;
        }
        break;
    }
    }
    if (present & OPT_THEN) {
        e->then_e = compile_member(ld, obj, "then");
        rc = e->then_e ? rc : MS_EINVAL;
    }
    if (present & OPT_ELSE) {
        e->else_e = compile_member(ld, obj, "else");
        rc = e->else_e ? rc : MS_EINVAL;
    }
    if (present & OPT_DEFAULT) {
        e->dflt = compile_member(ld, obj, "default");
        rc = e->dflt ? rc : MS_EINVAL;
    }
    if ((present & OPT_TABLE) && compile_table(ld, opt[2], e) != MS_OK) {
        rc = MS_EINVAL;
    }
    if ((present & OPT_AT_LEAST) && compile_rows(ld, opt[5], e) != MS_OK) {
        rc = MS_EINVAL;
    }
    if (present & OPT_PATTERN) {
        if (!json_object_is_type(opt[6], json_type_string)) {
            size_t saved = ms_mload_push(ld, "pattern");

            ms_mload_error(ld, "expected a regular expression (POSIX extended) as a string");
            ms_mload_pop(ld, saved);
            rc = MS_EINVAL;
        }
        else if (compile_regex(ld, "pattern", json_object_get_string(opt[6]), e->ignore_case, 0,
                               &e->re) == MS_OK) {
            e->has_re = true;
            e->group = e->re.re_nsub >= 1 ? 1 : 0;
        }
        else {
            rc = MS_EINVAL;
        }
    }
    if (present & OPT_GROUP) {
        size_t saved = ms_mload_push(ld, "group");

        if (!json_object_is_type(opt[7], json_type_int) || json_object_get_int64(opt[7]) < 0 ||
            (e->has_re && (size_t)json_object_get_int64(opt[7]) > e->re.re_nsub)) {
            ms_mload_error(ld, "expected the number of a group of the pattern (0 = whole match)");
            rc = MS_EINVAL;
        }
        else {
            e->group = (size_t)json_object_get_int64(opt[7]);
        }
        ms_mload_pop(ld, saved);
    }
    if (present & OPT_SEP) {
        if (!json_object_is_type(opt[8], json_type_string)) {
            size_t saved = ms_mload_push(ld, "sep");

            ms_mload_error(ld, "expected a string");
            ms_mload_pop(ld, saved);
            rc = MS_EINVAL;
        }
        else {
            e->sep = strdup(json_object_get_string(opt[8]));
            rc = e->sep ? rc : MS_ENOMEM;
        }
    }
    if ((fn->op == EX_MAX || fn->op == EX_MIN) && e->n_args > 16) {
        size_t saved = ms_mload_push(ld, fn_key);

        ms_mload_error(ld, "'%s' takes at most 16 expressions", fn->name);
        ms_mload_pop(ld, saved);
        rc = MS_EINVAL;
    }
    if (fn->op == EX_SPLIT && e->sep && !e->sep[0]) {
        size_t saved = ms_mload_push(ld, "sep");

        ms_mload_error(ld, "'split' needs a non-empty separator");
        ms_mload_pop(ld, saved);
        rc = MS_EINVAL;
    }
    if ((fn->op == EX_JOIN || fn->op == EX_SPLIT) && !e->sep && rc == MS_OK) {
        e->sep = strdup(fn->op == EX_JOIN ? ", " : ",");
        rc = e->sep ? rc : MS_ENOMEM;
    }
    if (rc != MS_OK) {
        ms_expr_destroy(e);
        return NULL;
    }
    return e;
}

struct ms_expr *ms_expr_compile(struct ms_mload *ld, struct json_object *json)
{
    struct ms_expr *e;

    if (json_object_is_type(json, json_type_object)) {
        return compile_call(ld, json);
    }
    if (json_object_is_type(json, json_type_array)) {
        ms_mload_error(ld, "a list is not an expression (use {\"const\": [...]} for a constant "
                           "list, or a function such as coalesce)");
        return NULL;
    }
    e = calloc(1, sizeof(*e));
    if (!e) {
        return NULL;
    }
    if (json_object_is_type(json, json_type_string) && json_object_get_string(json)[0] == '$') {
        char why[160];

        e->op = EX_PATH;
        e->path = ms_jpath_compile(json_object_get_string(json), why, sizeof(why));
        if (!e->path) {
            ms_mload_error(ld,
                           "bad path \"%s\": %s (text starting with '$' is a path; write "
                           "{\"const\": \"...\"} for literal text)",
                           json_object_get_string(json), why);
            free(e);
            return NULL;
        }
        return e;
    }
    e->op = EX_CONST;
    e->value = json_object_get(json);
    return e;
}

struct ms_cond *
ms_cond_compile(struct ms_mload *ld, struct json_object *json, const char *const *extra)
{
    static const char *const cond_keys[] = {"path",     "value",   "equals",  "in",
                                            "contains", "matches", "missing", "ignore_case",
                                            "not",      "all",     "any",     NULL};
    struct json_object *subject = NULL;
    struct ms_cond *c;
    int n_tests = 0;
    int rc = MS_OK;
    size_t i;

    if (!json_object_is_type(json, json_type_object)) {
        ms_mload_error(ld,
                       "a condition is an object such as {\"path\": \"$.x\", \"equals\": "
                       "\"y\"}, not %s",
                       json_type_label(json));
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        return NULL;
    }
    json_object_object_foreach(json, key, val) {
        size_t saved;
        bool known = false;

        if (is_comment_key(key)) {
            continue;
        }
        for (i = 0; cond_keys[i] && !known; i++) {
            known = strcmp(key, cond_keys[i]) == 0;
        }
        for (i = 0; extra && extra[i] && !known; i++) {
            known = strcmp(key, extra[i]) == 0;
        }
        saved = ms_mload_push(ld, key);
        if (!known) {
            const char *hint = ms_mload_suggest(key, cond_keys);

            ms_mload_error(ld, "unknown key in a condition%s%s%s", hint ? " (did you mean '" : "",
                           hint ? hint : "", hint ? "'?)" : "");
            rc = MS_EINVAL;
        }
        else if (strcmp(key, "all") == 0 || strcmp(key, "any") == 0) {
            size_t n;

            n_tests++;
            c->kind = key[1] == 'l' ? CK_ALL : CK_ANY;
            if (!json_object_is_type(val, json_type_array) || json_object_array_length(val) == 0) {
                ms_mload_error(ld, "expected a non-empty list of conditions");
                rc = MS_EINVAL;
            }
            else {
                for (i = 0; i < c->n_kids; i++) {
                    ms_cond_destroy(c->kids[i]);
                }
                free(c->kids);
                c->n_kids = 0;
                n = json_object_array_length(val);
                c->kids = calloc(n, sizeof(*c->kids));
                if (!c->kids) {
                    rc = MS_ENOMEM;
                }
                for (i = 0; c->kids && i < n; i++) {
                    size_t s2 = ms_mload_push_index(ld, i);

                    c->kids[i] = ms_cond_compile(ld, json_object_array_get_idx(val, i), NULL);
                    ms_mload_pop(ld, s2);
                    if (!c->kids[i]) {
                        rc = MS_EINVAL;
                    }
                    c->n_kids = i + 1;
                }
            }
        }
        else if (strcmp(key, "path") == 0) {
            if (!json_object_is_type(val, json_type_string) ||
                json_object_get_string(val)[0] != '$') {
                ms_mload_error(ld, "expected a path such as \"$.scanResult\"");
                rc = MS_EINVAL;
            }
            else {
                subject = val;
            }
        }
        else if (strcmp(key, "value") == 0) {
            subject = val;
        }
        else if (strcmp(key, "equals") == 0) {
            n_tests++;
            c->test = CT_EQUALS;
            if (!is_scalar(val)) {
                ms_mload_error(ld, "expected a string, number or boolean");
                rc = MS_EINVAL;
            }
            json_object_put(c->operand);
            c->operand = json_object_get(val);
        }
        else if (strcmp(key, "in") == 0) {
            n_tests++;
            c->test = CT_IN;
            if (!json_object_is_type(val, json_type_array) || json_object_array_length(val) == 0) {
                ms_mload_error(ld, "expected a non-empty list of values");
                rc = MS_EINVAL;
            }
            else {
                for (i = 0; i < json_object_array_length(val); i++) {
                    if (!is_scalar(json_object_array_get_idx(val, i))) {
                        size_t s2 = ms_mload_push_index(ld, i);

                        ms_mload_error(ld, "expected a string, number or boolean");
                        ms_mload_pop(ld, s2);
                        rc = MS_EINVAL;
                    }
                }
            }
            json_object_put(c->operand);
            c->operand = json_object_get(val);
        }
        else if (strcmp(key, "contains") == 0) {
            n_tests++;
            c->test = CT_CONTAINS;
            if (!json_object_is_type(val, json_type_string) ||
                json_object_get_string_len(val) == 0) {
                ms_mload_error(ld, "expected a non-empty string");
                rc = MS_EINVAL;
            }
            json_object_put(c->operand);
            c->operand = json_object_get(val);
        }
        else if (strcmp(key, "matches") == 0) {
            n_tests++;
            c->test = CT_MATCHES;
            json_object_put(c->operand);
            c->operand = json_object_get(val);
            if (!json_object_is_type(val, json_type_string)) {
                ms_mload_error(ld, "expected a regular expression (POSIX extended) as a string");
                rc = MS_EINVAL;
            }
        }
        else if (strcmp(key, "missing") == 0) {
            n_tests++;
            c->test = CT_MISSING;
            if (!json_object_is_type(val, json_type_boolean)) {
                ms_mload_error(ld, "expected true (matches an empty or absent value) or false");
                rc = MS_EINVAL;
            }
            c->missing = json_object_get_boolean(val);
        }
        else if (strcmp(key, "ignore_case") == 0 || strcmp(key, "not") == 0) {
            if (!json_object_is_type(val, json_type_boolean)) {
                ms_mload_error(ld, "expected true or false");
                rc = MS_EINVAL;
            }
            if (key[0] == 'n') {
                c->negate = json_object_get_boolean(val);
            }
            else {
                c->ignore_case = json_object_get_boolean(val);
            }
        }
        ms_mload_pop(ld, saved);
    }
    if (rc == MS_OK && json_object_object_get_ex(json, "path", NULL) &&
        json_object_object_get_ex(json, "value", NULL)) {
        ms_mload_error(ld, "a condition tests \"path\" or \"value\", not both");
        rc = MS_EINVAL;
    }
    if (rc == MS_OK && n_tests != 1) {
        ms_mload_error(ld, n_tests ? "a condition has exactly one test; combine several with "
                                     "\"all\" or \"any\""
                                   : "a condition needs one test: equals, in, contains, matches, "
                                     "missing, all or any");
        rc = MS_EINVAL;
    }
    if (rc == MS_OK && c->kind == CK_TEST) {
        if (!subject) {
            ms_mload_error(ld, "a condition needs \"path\" (or \"value\") to test");
            rc = MS_EINVAL;
        }
        else {
            c->subject = compile_member(
                ld, json, json_object_object_get_ex(json, "path", NULL) ? "path" : "value");
            rc = c->subject ? rc : MS_EINVAL;
        }
        if (rc == MS_OK && c->test == CT_MATCHES) {
            rc = compile_regex(ld, "matches", json_object_get_string(c->operand), c->ignore_case,
                               REG_NOSUB, &c->re);
            c->has_re = rc == MS_OK;
        }
    }
    else if (rc == MS_OK && subject) {
        ms_mload_error(ld, "\"all\"/\"any\" test their own conditions: remove \"path\"/\"value\"");
        rc = MS_EINVAL;
    }
    if (rc != MS_OK) {
        ms_cond_destroy(c);
        return NULL;
    }
    return c;
}

/* ------------------------------------------------------------------------------------------
 * Evaluating
 */

static struct json_object *new_text(const char *s, size_t n)
{
    return json_object_new_string_len(s, (int)n);
}

static struct json_object *number_from_text(struct json_object *v, bool want_int)
{
    double d;
    bool is_int = false;
    int64_t iv = 0;

    if (!text_number(json_object_get_string(v), &d, &is_int, &iv)) {
        return NULL;
    }
    if (is_int) {
        return json_object_new_int64(iv);
    }
    if (want_int) {
        if (d >= 9.2e18 || d <= -9.2e18) {
            return NULL;
        }
        return json_object_new_int64((int64_t)d);
    }
    return json_object_new_double(d);
}

static struct json_object *case_convert(struct json_object *v, bool up)
{
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    struct json_object *out;
    char *copy;
    size_t i;
    bool change = false;

    for (i = 0; i < n && !change; i++) {
        change = up ? (s[i] >= 'a' && s[i] <= 'z') : (s[i] >= 'A' && s[i] <= 'Z');
    }
    if (!change) {
        return json_object_get(v);
    }
    copy = malloc(n + 1);
    if (!copy) {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        char c = s[i];

        if (up && c >= 'a' && c <= 'z') {
            c = (char)(c - 'a' + 'A');
        }
        else if (!up && c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        copy[i] = c;
    }
    out = new_text(copy, n);
    free(copy);
    return out;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static struct json_object *trim_text(struct json_object *v)
{
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    size_t a = 0;

    while (a < n && blank(s[a])) {
        a++;
    }
    while (n > a && blank(s[n - 1])) {
        n--;
    }
    if (a == 0 && n == (size_t)json_object_get_string_len(v)) {
        return json_object_get(v);
    }
    return n > a ? new_text(s + a, n - a) : NULL;
}

static struct json_object *ip_text(struct json_object *v)
{
    unsigned char addr[16];
    char buf[64];
    struct json_object *t = trim_text(v);
    const char *s;
    size_t n;

    if (!t) {
        return NULL;
    }
    s = json_object_get_string(t);
    n = (size_t)json_object_get_string_len(t);
    if (n < sizeof(buf)) {
        memcpy(buf, s, n + 1);
        if (inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1) {
            return t;
        }
    }
    json_object_put(t);
    return NULL;
}

static struct json_object *
lookup(const struct ms_expr *e, struct json_object *v, struct json_object *rec)
{
    char buf[TEXT_BUF];
    char low[ICASE_KEY_MAX + 1];
    struct json_object *hit = NULL;
    const char *key;
    size_t n;
    size_t i;

    key = ms_value_text(v, buf, sizeof(buf), &n);
    if (!key) {
        return NULL;
    }
    if (e->ignore_case) {
        if (n > ICASE_KEY_MAX) {
            goto miss;
        }
        for (i = 0; i < n; i++) {
            low[i] = (char)(key[i] >= 'A' && key[i] <= 'Z' ? key[i] - 'A' + 'a' : key[i]);
        }
        low[n] = '\0';
        key = low;
    }
    if (strlen(key) == n && json_object_object_get_ex(e->value, key, &hit)) {
        return json_object_get(hit);
    }
miss:
    return e->dflt ? ms_expr_eval(e->dflt, rec) : NULL;
}

static struct json_object *
range(const struct ms_expr *e, struct json_object *v, struct json_object *rec)
{
    double d;
    size_t i;

    if (!ms_value_number(v, &d)) {
        return NULL;
    }
    for (i = 0; i < e->n_rows; i++) {
        if (d >= e->rows[i].min) {
            return json_object_get(e->rows[i].value);
        }
    }
    return e->dflt ? ms_expr_eval(e->dflt, rec) : NULL;
}

static struct json_object *regex_extract(const struct ms_expr *e, struct json_object *v)
{
    char buf[TEXT_BUF];
    regmatch_t m[10];
    const char *s;
    size_t n;

    s = ms_value_text(v, buf, sizeof(buf), &n);
    if (!s || e->group >= 10 || regexec(&e->re, s, e->group + 1, m, 0) != 0 ||
        m[e->group].rm_so < 0 || m[e->group].rm_eo <= m[e->group].rm_so) {
        return NULL;
    }
    return new_text(s + m[e->group].rm_so, (size_t)(m[e->group].rm_eo - m[e->group].rm_so));
}

/* One scalar through an elementwise function; new reference or NULL. */
static struct json_object *
apply_scalar(const struct ms_expr *e, struct json_object *v, struct json_object *rec)
{
    char buf[MS_TIME_ISO_LEN + 1];
    char nbuf[TEXT_BUF];
    const char *t;
    int64_t ms;
    size_t n;
    double d;

    if (!is_scalar(v)) {
        return NULL;
    }
    switch (e->op) {
    case EX_LOOKUP:
        return lookup(e, v, rec);
    case EX_RANGE:
        return range(e, v, rec);
    case EX_TO_NUMBER:
        if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) {
            return json_object_get(v);
        }
        return json_object_is_type(v, json_type_string) ? number_from_text(v, false) : NULL;
    case EX_TO_INT:
        if (json_object_is_type(v, json_type_int)) {
            return json_object_get(v);
        }
        if (json_object_is_type(v, json_type_double)) {
            d = json_object_get_double(v);
            return isfinite(d) && d < 9.2e18 && d > -9.2e18 ? json_object_new_int64((int64_t)d)
                                                            : NULL;
        }
        return json_object_is_type(v, json_type_string) ? number_from_text(v, true) : NULL;
    case EX_TO_STRING:
        if (json_object_is_type(v, json_type_string)) {
            return json_object_get(v);
        }
        t = ms_value_text(v, nbuf, sizeof(nbuf), &n);
        return t ? new_text(t, n) : NULL;
    case EX_TO_ISO8601:
        if (ms_time_from_json(v, &ms) != MS_OK ||
            ms_time_format_iso(ms, buf, sizeof(buf)) != MS_OK) {
            return NULL;
        }
        return new_text(buf, MS_TIME_ISO_LEN);
    case EX_TO_EPOCH:
    case EX_TO_EPOCH_MS:
        if (ms_time_from_json(v, &ms) != MS_OK) {
            return NULL;
        }
        if (e->op == EX_TO_EPOCH) {
            ms = ms / 1000 - (ms % 1000 < 0);
        }
        return json_object_new_int64(ms);
    case EX_LOWER:
    case EX_UPPER:
        if (!json_object_is_type(v, json_type_string)) {
            return json_object_get(v);
        }
        return case_convert(v, e->op == EX_UPPER);
    case EX_TRIM:
        return json_object_is_type(v, json_type_string) ? trim_text(v) : json_object_get(v);
    case EX_REGEX:
        return regex_extract(e, v);
    case EX_IP:
        return json_object_is_type(v, json_type_string) ? ip_text(v) : NULL;
    default:
        return NULL;
    }
}

/* An elementwise function on a value that may be a list. */
static struct json_object *
apply_elementwise(const struct ms_expr *e, struct json_object *v, struct json_object *rec)
{
    struct json_object *out = NULL;
    size_t n;
    size_t i;

    if (!json_object_is_type(v, json_type_array)) {
        return apply_scalar(e, v, rec);
    }
    n = json_object_array_length(v);
    for (i = 0; i < n; i++) {
        struct json_object *r = apply_scalar(e, json_object_array_get_idx(v, i), rec);

        if (!r) {
            continue;
        }
        if (!out) {
            out = json_object_new_array();
        }
        if (!out || json_object_array_add(out, r) != 0) {
            json_object_put(r);
        }
    }
    return out;
}

/* Best of the numbers in v (a number, a numeric string, or a list of them). */
static void extreme_of(struct json_object *v, bool want_max, struct json_object **best, double *bd)
{
    double d;
    size_t i;

    if (json_object_is_type(v, json_type_array)) {
        for (i = 0; i < json_object_array_length(v); i++) {
            struct json_object *el = json_object_array_get_idx(v, i);

            if (!json_object_is_type(el, json_type_array)) {
                extreme_of(el, want_max, best, bd);
            }
        }
        return;
    }
    if (!ms_value_number(v, &d)) {
        return;
    }
    if (!*best || (want_max ? d > *bd : d < *bd)) {
        *best = v;
        *bd = d;
    }
}

static struct json_object *extreme(const struct ms_expr *e, struct json_object *rec)
{
    struct json_object *vals[16];
    struct json_object *best = NULL;
    struct json_object *out = NULL;
    double bd = 0;
    size_t n = e->n_args < 16 ? e->n_args : 16;
    size_t i;

    for (i = 0; i < n; i++) {
        vals[i] = ms_expr_eval(e->args[i], rec);
        extreme_of(vals[i], e->op == EX_MAX, &best, &bd);
    }
    if (best) {
        if (json_object_is_type(best, json_type_string)) {
            out = number_from_text(best, false);
        }
        else {
            out = json_object_get(best);
        }
    }
    for (i = 0; i < n; i++) {
        json_object_put(vals[i]);
    }
    return out;
}

/* Appends the text of v (lists: each scalar, separated by sep). */
static int append_text(struct ms_buf *buf, struct json_object *v, const char *sep, bool *any)
{
    char nbuf[TEXT_BUF];
    const char *t;
    size_t n;
    size_t i;
    int ret = MS_OK;

    if (json_object_is_type(v, json_type_array)) {
        for (i = 0; i < json_object_array_length(v) && ret == MS_OK; i++) {
            struct json_object *el = json_object_array_get_idx(v, i);

            if (!is_scalar(el) || ms_value_empty(el)) {
                continue;
            }
            if (*any && sep) {
                ret = ms_buf_puts(buf, sep);
            }
            if (ret == MS_OK) {
                ret = append_text(buf, el, sep, any);
            }
        }
        return ret;
    }
    t = ms_value_text(v, nbuf, sizeof(nbuf), &n);
    if (!t) {
        return MS_OK;
    }
    *any = true;
    return ms_buf_append(buf, t, n);
}

static struct json_object *join_text(const struct ms_expr *e, struct json_object *rec)
{
    struct json_object *out = NULL;
    struct ms_buf buf;
    bool any = false;
    size_t i;
    int ret = MS_OK;

    ms_buf_init(&buf, MS_CAP_EVENT);
    for (i = 0; i < e->n_args && ret == MS_OK; i++) {
        struct json_object *v = ms_expr_eval(e->args[i], rec);

        ret = append_text(&buf, v, e->op == EX_JOIN ? e->sep : "", &any);
        json_object_put(v);
    }
    if (ret == MS_OK && any) {
        out = new_text(ms_buf_cstr(&buf), buf.len);
    }
    ms_buf_free(&buf);
    return out;
}

/* Appends the trimmed, non-empty parts of the string v (split on sep) to *out. */
static void split_into(struct json_object *v, const char *sep, struct json_object **out)
{
    const char *s = json_object_get_string(v);
    const char *end = s + json_object_get_string_len(v);
    size_t sl = strlen(sep);

    while (s <= end) {
        const char *hit = sl ? strstr(s, sep) : NULL;
        const char *stop = hit && hit < end ? hit : end;
        const char *a = s;
        const char *b = stop;

        while (a < b && blank(*a)) {
            a++;
        }
        while (b > a && blank(b[-1])) {
            b--;
        }
        if (b > a) {
            struct json_object *part = new_text(a, (size_t)(b - a));

            if (!*out) {
                *out = json_object_new_array();
            }
            if (part && (!*out || json_object_array_add(*out, part) != 0)) {
                json_object_put(part);
            }
        }
        s = stop + sl;
        if (stop == end) {
            break;
        }
    }
}

static struct json_object *split_text(const struct ms_expr *e, struct json_object *v)
{
    struct json_object *out = NULL;
    size_t i;

    if (json_object_is_type(v, json_type_string)) {
        split_into(v, e->sep, &out);
    }
    else if (json_object_is_type(v, json_type_array)) {
        for (i = 0; i < json_object_array_length(v); i++) {
            struct json_object *el = json_object_array_get_idx(v, i);

            if (json_object_is_type(el, json_type_string)) {
                split_into(el, e->sep, &out);
            }
        }
    }
    return out;
}

struct json_object *ms_expr_eval(const struct ms_expr *e, struct json_object *rec)
{
    struct json_object *v;
    struct json_object *r;
    size_t i;

    switch (e->op) {
    case EX_PATH:
        return ms_jpath_eval(e->path, rec);
    case EX_CONST:
        return json_object_get(e->value);
    case EX_COALESCE:
        for (i = 0; i < e->n_args; i++) {
            v = ms_expr_eval(e->args[i], rec);
            if (!ms_value_empty(v)) {
                return v;
            }
            json_object_put(v);
        }
        return NULL;
    case EX_IF_EMPTY:
        v = ms_expr_eval(e->args[0], rec);
        if (ms_value_empty(v)) {
            json_object_put(v);
            return ms_expr_eval(e->then_e, rec);
        }
        if (e->else_e) {
            json_object_put(v);
            return ms_expr_eval(e->else_e, rec);
        }
        return v;
    case EX_IF:
        if (ms_cond_eval(e->cond, rec)) {
            return ms_expr_eval(e->then_e, rec);
        }
        return e->else_e ? ms_expr_eval(e->else_e, rec) : NULL;
    case EX_FIRST:
        v = ms_expr_eval(e->args[0], rec);
        if (!json_object_is_type(v, json_type_array)) {
            return v;
        }
        r = NULL;
        for (i = 0; i < json_object_array_length(v) && !r; i++) {
            struct json_object *el = json_object_array_get_idx(v, i);

            if (!ms_value_empty(el)) {
                r = json_object_get(el);
            }
        }
        json_object_put(v);
        return r;
    case EX_COUNT:
        v = ms_expr_eval(e->args[0], rec);
        if (!v) {
            return NULL;
        }
        r = json_object_new_int64(
            json_object_is_type(v, json_type_array) ? (int64_t)json_object_array_length(v) : 1);
        json_object_put(v);
        return r;
    case EX_JOIN:
    case EX_CONCAT:
        return join_text(e, rec);
    case EX_MAX:
    case EX_MIN:
        return extreme(e, rec);
    case EX_SPLIT:
        v = ms_expr_eval(e->args[0], rec);
        r = split_text(e, v);
        json_object_put(v);
        return r;
    default:
        v = ms_expr_eval(e->args[0], rec);
        r = v ? apply_elementwise(e, v, rec) : NULL;
        json_object_put(v);
        return r;
    }
}

void ms_expr_foreach_const(const struct ms_expr *e,
                           void (*fn)(struct json_object *value, void *arg),
                           void *arg)
{
    size_t i;

    if (!e) {
        return;
    }
    switch (e->op) {
    case EX_CONST:
        fn(e->value, arg);
        break;
    case EX_LOOKUP: {
        json_object_object_foreach(e->value, key, val) {
            (void)key;
            fn(val, arg);
        }
        ms_expr_foreach_const(e->dflt, fn, arg);
        break;
    }
    case EX_RANGE:
        for (i = 0; i < e->n_rows; i++) {
            fn(e->rows[i].value, arg);
        }
        ms_expr_foreach_const(e->dflt, fn, arg);
        break;
    case EX_IF_EMPTY:
        if (!e->else_e) {
            ms_expr_foreach_const(e->args[0], fn, arg);
        }
        ms_expr_foreach_const(e->then_e, fn, arg);
        ms_expr_foreach_const(e->else_e, fn, arg);
        break;
    case EX_IF:
        ms_expr_foreach_const(e->then_e, fn, arg);
        ms_expr_foreach_const(e->else_e, fn, arg);
        break;
    case EX_COALESCE:
    case EX_FIRST:
        for (i = 0; i < e->n_args; i++) {
            ms_expr_foreach_const(e->args[i], fn, arg);
        }
        break;
    default:
        break;
    }
}

/* One scalar against the condition's test. */
static bool test_scalar(const struct ms_cond *c, struct json_object *v)
{
    char buf[TEXT_BUF];
    char obuf[TEXT_BUF];
    const char *s;
    const char *o;
    size_t n;
    size_t on;
    size_t i;

    s = ms_value_text(v, buf, sizeof(buf), &n);
    if (!s) {
        return false;
    }
    switch (c->test) {
    case CT_EQUALS:
        o = ms_value_text(c->operand, obuf, sizeof(obuf), &on);
        return o && on == n && (c->ignore_case ? strncasecmp(s, o, n) : memcmp(s, o, n)) == 0;
    case CT_IN:
        for (i = 0; i < json_object_array_length(c->operand); i++) {
            o = ms_value_text(json_object_array_get_idx(c->operand, i), obuf, sizeof(obuf), &on);
            if (o && on == n && (c->ignore_case ? strncasecmp(s, o, n) : memcmp(s, o, n)) == 0) {
                return true;
            }
        }
        return false;
    case CT_CONTAINS:
        o = json_object_get_string(c->operand);
        return (c->ignore_case ? strcasestr(s, o) : strstr(s, o)) != NULL;
    case CT_MATCHES:
        return regexec(&c->re, s, 0, NULL, 0) == 0;
    default:
        return false;
    }
}

bool ms_cond_eval(const struct ms_cond *c, struct json_object *rec)
{
    struct json_object *v;
    bool r = false;
    size_t i;

    switch (c->kind) {
    case CK_ALL:
        r = true;
        for (i = 0; i < c->n_kids && r; i++) {
            r = ms_cond_eval(c->kids[i], rec);
        }
        break;
    case CK_ANY:
        for (i = 0; i < c->n_kids && !r; i++) {
            r = ms_cond_eval(c->kids[i], rec);
        }
        break;
    case CK_TEST:
        v = ms_expr_eval(c->subject, rec);
        if (c->test == CT_MISSING) {
            r = ms_value_empty(v) == c->missing;
        }
        else if (json_object_is_type(v, json_type_array)) {
            for (i = 0; i < json_object_array_length(v) && !r; i++) {
                r = test_scalar(c, json_object_array_get_idx(v, i));
            }
        }
        else {
            r = test_scalar(c, v);
        }
        json_object_put(v);
        break;
    }
    return c->negate ? !r : r;
}
