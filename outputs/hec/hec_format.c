/*
 * hec output, pure part: normalized event -> HEC envelope bytes, written straight into a reused
 * buffer with our own escaping (no json-c serialization per event); HEC reply parsers.
 */
#include <config.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/ms_err.h"
#include "hec.h"
#include "../../src/core/ms_time.h"

#define MAX_DEPTH 64 /* json-c parses at most 32 levels; deeper values are written as null */

/* ------------------------------------------------------------------------------------------
 * JSON strings
 */

/* Length of the valid UTF-8 sequence at p (n >= 1 bytes available), or 0 when it is invalid. */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];

    if (c < 0x80) {
        return 1;
    }
    if (c < 0xC2 || c > 0xF4) {
        return 0; /* continuation byte, overlong 2-byte lead, or past U+10FFFF */
    }
    if (c < 0xE0) {
        return n >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    }
    if (c < 0xF0) {
        if (n < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) {
            return 0;
        }
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F)) {
            return 0; /* overlong, or a UTF-16 surrogate */
        }
        return 3;
    }
    if (n < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) {
        return 0;
    }
    if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F)) {
        return 0; /* overlong, or past U+10FFFF */
    }
    return 4;
}

/*
 * True when none of the 8 bytes needs a look: no control character, '"', '\\' or non-ASCII byte
 * (SWAR "has less than" / "has zero byte" tests; a false alarm only costs the slow path).
 */
static bool word_plain(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL;
    const uint64_t high = 0x8080808080808080ULL;
    uint64_t quote = w ^ (ones * '"');
    uint64_t bslash = w ^ (ones * '\\');
    uint64_t bad = (w & high) | ((w - ones * 0x20) & ~w & high) | ((quote - ones) & ~quote & high) |
                   ((bslash - ones) & ~bslash & high);

    return bad == 0;
}

int hec_json_string(struct ms_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t start = 0;
    size_t i = 0;
    int ret;

    ret = ms_buf_putc(out, '"');
    while (ret == MS_OK && i < len) {
        unsigned char c;
        char esc[6];
        size_t esc_len = 2;
        size_t n;
        uint64_t w;

        while (i + 8 <= len) {
            memcpy(&w, p + i, 8);
            if (!word_plain(w)) {
                break;
            }
            i += 8;
        }
        if (i >= len) {
            break;
        }
        c = p[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        if (c >= 0x80) {
            n = utf8_seq_len(p + i, len - i);
            if (n) {
                i += n;
                continue;
            }
        }
        if (i > start) {
            ret = ms_buf_append(out, p + start, i - start);
            if (ret != MS_OK) {
                break;
            }
        }
        esc[0] = '\\';
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            if (c >= 0x80) {
                memcpy(esc, "\xEF\xBF\xBD", 3); /* U+FFFD REPLACEMENT CHARACTER */
                esc_len = 3;
            }
            else {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 0xF];
                esc_len = 6;
            }
            break;
        }
        ret = ms_buf_append(out, esc, esc_len);
        i++;
        start = i;
    }
    if (ret == MS_OK && i > start) {
        ret = ms_buf_append(out, p + start, i - start);
    }
    if (ret == MS_OK) {
        ret = ms_buf_putc(out, '"');
    }
    return ret;
}

static int put_cstr(struct ms_buf *out, const char *s)
{
    return hec_json_string(out, s, strlen(s));
}

/* Writes ,"key": (or "key": for the first member, *first is then cleared). */
static int put_key(struct ms_buf *out, bool *first, const char *key)
{
    int ret = MS_OK;

    if (!*first) {
        ret = ms_buf_putc(out, ',');
    }
    *first = false;
    if (ret == MS_OK) {
        ret = put_cstr(out, key);
    }
    if (ret == MS_OK) {
        ret = ms_buf_putc(out, ':');
    }
    return ret;
}

/* Empties out back to len bytes (drops what was written after a mark). */
static void buf_truncate(struct ms_buf *out, size_t len)
{
    if (out->data && len < out->len) {
        out->len = len;
        out->data[len] = '\0';
    }
}

/* ------------------------------------------------------------------------------------------
 * JSON values
 */

/* Shortest "%.*g" text that reads back as d (d is finite). Always a valid JSON number. */
static void format_double(double d, char *out, size_t len)
{
    int prec;

    for (prec = 15; prec <= 17; prec++) {
        snprintf(out, len, "%.*g", prec, d);
        if (strtod(out, NULL) == d) {
            break;
        }
    }
}

/* Integer text of v (int type): json-c keeps values past INT64_MAX as uint64. */
static void format_int(struct json_object *v, char *out, size_t len)
{
    int64_t i = json_object_get_int64(v);

    if (i == INT64_MAX) {
        snprintf(out, len, "%" PRIu64, json_object_get_uint64(v));
    }
    else {
        snprintf(out, len, "%" PRId64, i);
    }
}

/* Scalar (bool, int, finite double) as text; returns false for other types. */
static bool scalar_text(struct json_object *v, char *out, size_t len)
{
    double d;

    switch (json_object_get_type(v)) {
    case json_type_boolean:
        snprintf(out, len, "%s", json_object_get_boolean(v) ? "true" : "false");
        return true;
    case json_type_int:
        format_int(v, out, len);
        return true;
    case json_type_double:
        d = json_object_get_double(v);
        if (!isfinite(d)) {
            return false;
        }
        format_double(d, out, len);
        return true;
    default:
        return false;
    }
}

static int put_value(struct ms_buf *out, struct json_object *v, int depth)
{
    char num[48];
    size_t i;
    size_t n;
    bool first = true;
    int ret = MS_OK;

    if (depth > MAX_DEPTH) {
        return ms_buf_puts(out, "null");
    }
    switch (json_object_get_type(v)) {
    case json_type_string:
        return hec_json_string(out, json_object_get_string(v),
                               (size_t)json_object_get_string_len(v));
    case json_type_object:
        ret = ms_buf_putc(out, '{');
        json_object_object_foreach(v, key, val) {
            if (ret == MS_OK) {
                ret = put_key(out, &first, key);
            }
            if (ret == MS_OK) {
                ret = put_value(out, val, depth + 1);
            }
        }
        return ret == MS_OK ? ms_buf_putc(out, '}') : ret;
    case json_type_array:
        ret = ms_buf_putc(out, '[');
        n = json_object_array_length(v);
        for (i = 0; ret == MS_OK && i < n; i++) {
            if (i) {
                ret = ms_buf_putc(out, ',');
            }
            if (ret == MS_OK) {
                ret = put_value(out, json_object_array_get_idx(v, i), depth + 1);
            }
        }
        return ret == MS_OK ? ms_buf_putc(out, ']') : ret;
    case json_type_null:
        return ms_buf_puts(out, "null");
    default:
        /* bool, int, double; NaN and infinities (json-c accepts them) are not JSON: null */
        return ms_buf_puts(out, scalar_text(v, num, sizeof(num)) ? num : "null");
    }
}

/* ------------------------------------------------------------------------------------------
 * Time
 */

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    int i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

int hec_time_parse(const char *s, int64_t *ms)
{
    const char *p;
    int y, mo, d, h, mi, sec;
    int frac = 0;
    int off_min = 0;
    int nd;

    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &sec)) {
        return MS_EINVAL;
    }
    p = s + 19;
    if (*p == '.' || *p == ',') {
        p++;
        if (*p < '0' || *p > '9') {
            return MS_EINVAL;
        }
        for (nd = 0; *p >= '0' && *p <= '9'; p++, nd++) {
            if (nd < 3) {
                frac = frac * 10 + (*p - '0');
            }
        }
        for (; nd < 3; nd++) {
            frac *= 10;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    }
    else if (*p == '+' || *p == '-') {
        int oh;
        int om;
        int sign = *p == '-' ? -1 : 1;

        if (!digits(p + 1, 2, &oh)) {
            return MS_EINVAL;
        }
        p += 3;
        if (*p == ':') {
            p++;
        }
        if (!digits(p, 2, &om) || oh > 23 || om > 59) {
            return MS_EINVAL;
        }
        p += 2;
        off_min = sign * (oh * 60 + om);
    }
    if (*p != '\0') {
        return MS_EINVAL;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60) {
        return MS_EINVAL;
    }
    *ms = ((ms_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) -
           (int64_t)off_min * 60) *
              1000 +
          frac;
    return MS_OK;
}

void hec_time_format(int64_t ms, char *out, size_t len)
{
    uint64_t a = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;

    snprintf(out, len, "%s%" PRIu64 ".%03u", ms < 0 ? "-" : "", a / 1000, (unsigned)(a % 1000));
}

/* The event's own time in ms: ISO text (normal), or epoch seconds as a number (coping). */
static bool event_time_ms(struct json_object *t, int64_t *ms)
{
    double d;

    switch (json_object_get_type(t)) {
    case json_type_string:
        return hec_time_parse(json_object_get_string(t), ms) == MS_OK;
    case json_type_int:
        if (json_object_get_int64(t) > 253402300799LL ||
            json_object_get_int64(t) < -62135596800LL) {
            return false; /* outside years 1..9999 */
        }
        *ms = json_object_get_int64(t) * 1000;
        return true;
    case json_type_double:
        d = json_object_get_double(t);
        if (!isfinite(d) || d > 253402300799.0 || d < -62135596800.0) {
            return false;
        }
        d *= 1000.0;
        *ms = (int64_t)(d < 0 ? d - 0.5 : d + 0.5); /* no libm: round half away from zero */
        return true;
    default:
        return false;
    }
}

/* ------------------------------------------------------------------------------------------
 * The top-level keys the formatter reads, found in one walk (json-c hash lookups cost more)
 */

enum {
    K_TIME,
    K_SOURCE_TYPE,
    K_SEVERITY,
    K_SIZE,
    K_SENDER,
    K_SRC_IP,
    K_RECIPIENT,
    K_VENDOR,
    K_PRODUCT,
    K_MITRE,
    K_RAW,
    /* CIM names (siem-conventions.md 2.4): added unless the event has them already */
    K_SRC_USER,
    K_SRC,
    K_RECIPIENT_COUNT,
    K_VENDOR_PRODUCT,
    K_MITRE_TECHNIQUE_ID,
    K_MITRE_TECHNIQUE,
    K_COUNT,
};

static const char *const known_keys[K_COUNT] = {
    "time",
    "source_type",
    "severity",
    "size",
    "sender",
    "src_ip",
    "recipient",
    "vendor",
    "product",
    "mitre",
    "raw",
    "src_user",
    "src",
    "recipient_count",
    "vendor_product",
    "mitre_technique_id",
    "mitre_technique",
};

/* Borrowed values of the known keys of one event. A key holding JSON null is present with v NULL.
 */
struct ev_view {
    struct json_object *obj;
    struct json_object *v[K_COUNT];
    unsigned present; /* bit per K_ */
};

static void view_init(struct ev_view *view, struct json_object *obj)
{
    int k;

    memset(view, 0, sizeof(*view));
    view->obj = obj;
    json_object_object_foreach(obj, key, val) {
        for (k = 0; k < K_COUNT; k++) {
            if (key[0] == known_keys[k][0] && strcmp(key, known_keys[k]) == 0) {
                view->v[k] = val;
                view->present |= 1u << k;
                break;
            }
        }
    }
}

static struct json_object *get_key(struct json_object *obj, const char *key)
{
    struct json_object *v = NULL; /* borrowed */

    if (!json_object_is_type(obj, json_type_object) || !json_object_object_get_ex(obj, key, &v)) {
        return NULL;
    }
    return v;
}

static const char *get_str(struct json_object *obj, const char *key, size_t *len)
{
    struct json_object *v = get_key(obj, key);

    if (!json_object_is_type(v, json_type_string)) {
        return NULL;
    }
    *len = (size_t)json_object_get_string_len(v);
    return json_object_get_string(v);
}

static const char *str_of(struct json_object *v, size_t *len)
{
    if (!json_object_is_type(v, json_type_string)) {
        return NULL;
    }
    *len = (size_t)json_object_get_string_len(v);
    return json_object_get_string(v);
}

/* ------------------------------------------------------------------------------------------
 * CIM names derived from the normalized event
 */

enum cim_kind {
    CIM_COPY,   /* the value of another top-level key */
    CIM_SUB,    /* a key inside an object (or inside each object of an array) */
    CIM_COUNT,  /* number of values of a key (string = 1, array = length) */
    CIM_CONCAT, /* "<a> <b>" of two string keys, or the one present */
};

struct cim_def {
    int name; /* K_ */
    enum cim_kind kind;
    int a;           /* K_ of the source */
    int b;           /* K_ of the second source (CONCAT) */
    const char *sub; /* key inside a (SUB) */
};

static const struct cim_def cim_defs[] = {
    {K_SRC_USER, CIM_COPY, K_SENDER, 0, NULL},
    {K_SRC, CIM_COPY, K_SRC_IP, 0, NULL},
    {K_RECIPIENT_COUNT, CIM_COUNT, K_RECIPIENT, 0, NULL},
    {K_VENDOR_PRODUCT, CIM_CONCAT, K_VENDOR, K_PRODUCT, NULL},
    {K_MITRE_TECHNIQUE_ID, CIM_SUB, K_MITRE, 0, "technique_id"},
    {K_MITRE_TECHNIQUE, CIM_SUB, K_MITRE, 0, "technique_name"},
};

#define N_CIM (sizeof(cim_defs) / sizeof(cim_defs[0]))

static bool is_string_array(struct json_object *v)
{
    size_t i;
    size_t n;

    if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0) {
        return false;
    }
    n = json_object_array_length(v);
    for (i = 0; i < n; i++) {
        if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string)) {
            return false;
        }
    }
    return true;
}

/* Number of string values of the sub key across the objects of m (object or array). */
static size_t cim_sub_count(struct json_object *m, const char *sub)
{
    size_t i;
    size_t n;
    size_t count = 0;

    if (json_object_is_type(m, json_type_object)) {
        return json_object_is_type(get_key(m, sub), json_type_string) ? 1 : 0;
    }
    if (!json_object_is_type(m, json_type_array)) {
        return 0;
    }
    n = json_object_array_length(m);
    for (i = 0; i < n; i++) {
        count +=
            json_object_is_type(get_key(json_object_array_get_idx(m, i), sub), json_type_string);
    }
    return count;
}

/*
 * Writes the derived value of d after its key, or nothing when the event lacks what it needs.
 * as_field: indexed-field form (strings only: the count is written as a string).
 */
static int put_cim(struct ms_buf *out,
                   const struct ev_view *view,
                   const struct cim_def *d,
                   bool as_field,
                   bool *first)
{
    struct json_object *v = view->v[d->a];
    const char *a;
    const char *b;
    size_t alen = 0;
    size_t blen = 0;
    size_t i;
    size_t n;
    size_t count;
    char num[32];
    int ret = MS_OK;

    switch (d->kind) {
    case CIM_COPY:
        if (!json_object_is_type(v, json_type_string) && !is_string_array(v)) {
            return MS_OK;
        }
        ret = put_key(out, first, known_keys[d->name]);
        return ret == MS_OK ? put_value(out, v, 1) : ret;
    case CIM_COUNT:
        if (json_object_is_type(v, json_type_string)) {
            count = json_object_get_string_len(v) > 0 ? 1 : 0;
        }
        else if (json_object_is_type(v, json_type_array)) {
            count = json_object_array_length(v);
        }
        else {
            return MS_OK;
        }
        snprintf(num, sizeof(num), as_field ? "\"%zu\"" : "%zu", count);
        ret = put_key(out, first, known_keys[d->name]);
        return ret == MS_OK ? ms_buf_puts(out, num) : ret;
    case CIM_CONCAT:
        a = str_of(v, &alen);
        b = str_of(view->v[d->b], &blen);
        if (!a && !b) {
            return MS_OK;
        }
        ret = put_key(out, first, known_keys[d->name]);
        if (ret != MS_OK) {
            return ret;
        }
        if (a && b) {
            struct ms_buf tmp;

            ms_buf_init(&tmp, alen + blen + 2);
            ret = ms_buf_append(&tmp, a, alen);
            if (ret == MS_OK) {
                ret = ms_buf_putc(&tmp, ' ');
            }
            if (ret == MS_OK) {
                ret = ms_buf_append(&tmp, b, blen);
            }
            if (ret == MS_OK) {
                ret = hec_json_string(out, tmp.data, tmp.len);
            }
            ms_buf_free(&tmp);
            return ret;
        }
        return a ? hec_json_string(out, a, alen) : hec_json_string(out, b, blen);
    case CIM_SUB:
        count = cim_sub_count(v, d->sub);
        if (count == 0) {
            return MS_OK;
        }
        ret = put_key(out, first, known_keys[d->name]);
        if (ret != MS_OK) {
            return ret;
        }
        if (json_object_is_type(v, json_type_object)) {
            return put_value(out, get_key(v, d->sub), 1);
        }
        /* An array of technique objects: a multivalue field. */
        ret = ms_buf_putc(out, '[');
        n = json_object_array_length(v);
        count = 0;
        for (i = 0; ret == MS_OK && i < n; i++) {
            struct json_object *s = get_key(json_object_array_get_idx(v, i), d->sub);

            if (!json_object_is_type(s, json_type_string)) {
                continue;
            }
            if (count++) {
                ret = ms_buf_putc(out, ',');
            }
            if (ret == MS_OK) {
                ret = put_value(out, s, 1);
            }
        }
        return ret == MS_OK ? ms_buf_putc(out, ']') : ret;
    }
    return MS_OK;
}

static const struct cim_def *cim_find(const char *name)
{
    size_t i;

    for (i = 0; i < N_CIM; i++) {
        if (strcmp(known_keys[cim_defs[i].name], name) == 0) {
            return &cim_defs[i];
        }
    }
    return NULL;
}

/* Writes the CIM names the event lacks, after the members already written. */
static int put_cims(struct ms_buf *out, const struct ev_view *view, bool *first)
{
    size_t i;
    int ret = MS_OK;

    for (i = 0; ret == MS_OK && i < N_CIM; i++) {
        if (!(view->present & (1u << cim_defs[i].name))) {
            ret = put_cim(out, view, &cim_defs[i], false, first);
        }
    }
    return ret;
}

/* ------------------------------------------------------------------------------------------
 * Envelope
 */

/* True when v is a string holding a plain decimal integer that fits in int64. */
static bool int_string(struct json_object *v, long long *out)
{
    const char *s;
    char *end;

    if (!json_object_is_type(v, json_type_string)) {
        return false;
    }
    s = json_object_get_string(v);
    if (!((*s >= '0' && *s <= '9') || (*s == '-' && s[1] >= '0' && s[1] <= '9')) ||
        json_object_get_string_len(v) > 19) {
        return false;
    }
    *out = strtoll(s, &end, 10);
    return *end == '\0';
}

/* Source type key match: "mimecast-ttp-url" names "mimecast:ttp:url" (INI keys cannot hold ':'). */
static bool st_key_match(const char *key, const char *st)
{
    for (; *key && *st; key++, st++) {
        if (*key != *st && !(*key == '-' && *st == ':')) {
            return false;
        }
    }
    return *key == '\0' && *st == '\0';
}

static const char *per_st(const struct ms_kvlist *l, const char *st, const char *def)
{
    size_t i;

    for (i = 0; l && i < l->n; i++) {
        if (st_key_match(l->keys[i], st)) {
            return l->values[i];
        }
    }
    return def;
}

/* Indexed-field form of v: a string, or an array of strings (scalars as text). */
static bool field_value_ok(struct json_object *v)
{
    char num[48];
    size_t i;
    size_t n;

    if (json_object_is_type(v, json_type_string) || scalar_text(v, num, sizeof(num))) {
        return true;
    }
    if (!json_object_is_type(v, json_type_array)) {
        return false;
    }
    n = json_object_array_length(v);
    for (i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(v, i);

        if (json_object_is_type(e, json_type_string) || scalar_text(e, num, sizeof(num))) {
            return true;
        }
    }
    return false;
}

static int put_field_scalar(struct ms_buf *out, struct json_object *v)
{
    char num[48];

    if (json_object_is_type(v, json_type_string)) {
        return put_value(out, v, 1);
    }
    if (!scalar_text(v, num, sizeof(num))) {
        return MS_EINVAL;
    }
    return put_cstr(out, num);
}

static int put_field_value(struct ms_buf *out, struct json_object *v)
{
    size_t i;
    size_t n;
    size_t count = 0;
    int ret;

    if (!json_object_is_type(v, json_type_array)) {
        return put_field_scalar(out, v);
    }
    ret = ms_buf_putc(out, '[');
    n = json_object_array_length(v);
    for (i = 0; ret == MS_OK && i < n; i++) {
        struct json_object *e = json_object_array_get_idx(v, i);
        char num[48];

        if (!json_object_is_type(e, json_type_string) && !scalar_text(e, num, sizeof(num))) {
            continue; /* objects, arrays and nulls cannot be indexed fields */
        }
        if (count++) {
            ret = ms_buf_putc(out, ',');
        }
        if (ret == MS_OK) {
            ret = put_field_scalar(out, e);
        }
    }
    return ret == MS_OK ? ms_buf_putc(out, ']') : ret;
}

static bool name_in_kv(const struct ms_kvlist *l, const char *name)
{
    size_t i;

    for (i = 0; l && i < l->n; i++) {
        if (strcmp(l->keys[i], name) == 0) {
            return true;
        }
    }
    return false;
}

/* "fields":{...} with the constant fields and the configured event keys; nothing when empty. */
static int put_fields(struct ms_buf *out,
                      const struct hec_format_opts *opts,
                      const struct ev_view *view,
                      bool *first_member)
{
    size_t mark = out->len;
    bool first_member_before = *first_member;
    bool first = true;
    size_t i;
    size_t j;
    int ret;

    if ((!opts->const_fields || opts->const_fields->n == 0) &&
        (!opts->fields || opts->fields->n == 0)) {
        return MS_OK;
    }
    ret = put_key(out, first_member, "fields");
    if (ret == MS_OK) {
        ret = ms_buf_putc(out, '{');
    }
    for (i = 0; ret == MS_OK && opts->const_fields && i < opts->const_fields->n; i++) {
        ret = put_key(out, &first, opts->const_fields->keys[i]);
        if (ret == MS_OK) {
            ret = put_cstr(out, opts->const_fields->values[i]);
        }
    }
    for (i = 0; ret == MS_OK && opts->fields && i < opts->fields->n; i++) {
        const char *name = opts->fields->items[i];
        struct json_object *v = NULL; /* borrowed */
        const struct cim_def *d;
        bool dup = name_in_kv(opts->const_fields, name);

        for (j = 0; j < i && !dup; j++) {
            dup = strcmp(opts->fields->items[j], name) == 0;
        }
        if (dup) {
            continue;
        }
        if (json_object_object_get_ex(view->obj, name, &v)) {
            if (field_value_ok(v)) {
                ret = put_key(out, &first, name);
                if (ret == MS_OK) {
                    ret = put_field_value(out, v);
                }
            }
        }
        else if ((d = cim_find(name))) {
            ret = put_cim(out, view, d, true, &first);
        }
    }
    if (ret != MS_OK) {
        return ret;
    }
    if (first) {
        /* No field had a usable value: leave "fields" out. */
        buf_truncate(out, mark);
        *first_member = first_member_before;
        return MS_OK;
    }
    return ms_buf_putc(out, '}');
}

/*
 * True when text (json-c's serialization of the event, as the spool holds it) may be copied into
 * the envelope as it is: one object, valid UTF-8, no raw control byte, and no bare NaN or Infinity
 * (json-c writes those, JSON has none). The words are searched anywhere: a subject saying "NaN"
 * only sends that event down the slow path.
 */
static bool text_copyable(const char *t, size_t n)
{
    const uint64_t ones = 0x0101010101010101ULL;
    const uint64_t high = 0x8080808080808080ULL;
    const unsigned char *p = (const unsigned char *)t;
    size_t i = 0;

    if (!t || n < 3 || t[0] != '{' || t[n - 1] != '}') {
        return false;
    }
    while (i < n) {
        uint64_t w;
        uint64_t cap_n;
        uint64_t cap_i;
        size_t k;

        if (i + 8 <= n) {
            memcpy(&w, p + i, 8);
            cap_n = w ^ (ones * 'N');
            cap_i = w ^ (ones * 'I');
            if (((w & high) | ((w - ones * 0x20) & ~w & high) | ((cap_n - ones) & ~cap_n & high) |
                 ((cap_i - ones) & ~cap_i & high)) == 0) {
                i += 8;
                continue;
            }
        }
        if (p[i] < 0x20) {
            return false;
        }
        if (p[i] >= 0x80) {
            k = utf8_seq_len(p + i, n - i);
            if (!k) {
                return false;
            }
            i += k;
            continue;
        }
        if ((p[i] == 'N' && n - i >= 3 && memcmp(p + i, "NaN", 3) == 0) ||
            (p[i] == 'I' && n - i >= 8 && memcmp(p + i, "Infinity", 8) == 0)) {
            return false;
        }
        i++;
    }
    return true;
}

/* "event":{...}: the normalized event (raw only when asked), then the CIM names it lacks. */
static int put_event(struct ms_buf *out,
                     const struct hec_format_opts *opts,
                     const struct ms_event *event,
                     const struct ev_view *view,
                     bool *first_member)
{
    struct json_object *full = NULL;
    struct json_object *obj = view->obj;
    bool has_raw = (view->present & (1u << K_RAW)) || event->raw_stripped;
    bool first = true;
    long long n;
    int ret;

    ret = put_key(out, first_member, "event");
    if (ret != MS_OK) {
        return ret;
    }
    if ((opts->include_raw || !has_raw) && !int_string(view->v[K_SEVERITY], &n) &&
        !int_string(view->v[K_SIZE], &n) && text_copyable(event->text, event->text_len)) {
        /* Fast path: the spooled text without its closing brace, then the additions. */
        ret = ms_buf_append(out, event->text, event->text_len - 1);
        first = false;
    }
    else {
        if (opts->include_raw && event->raw_stripped && event->text) {
            /* The spool reader left "raw" out (MS_VIEW_NO_RAW); this rare path needs it. */
            full = json_tokener_parse(event->text);
            if (!json_object_is_type(full, json_type_object)) {
                json_object_put(full);
                return MS_ENOMEM;
            }
            obj = full;
        }
        ret = ms_buf_putc(out, '{');
        json_object_object_foreach(obj, key, val) {
            if (ret != MS_OK) {
                break;
            }
            if (!opts->include_raw && strcmp(key, "raw") == 0) {
                continue;
            }
            ret = put_key(out, &first, key);
            if (ret != MS_OK) {
                break;
            }
            /* Integers some vendors send as text go out as numbers. */
            if ((strcmp(key, "severity") == 0 || strcmp(key, "size") == 0) && int_string(val, &n)) {
                ret = ms_buf_printf(out, "%lld", n);
            }
            else {
                ret = put_value(out, val, 1);
            }
        }
        json_object_put(full);
    }
    if (ret == MS_OK && opts->cim) {
        ret = put_cims(out, view, &first);
    }
    return ret == MS_OK ? ms_buf_putc(out, '}') : ret;
}

int hec_format_event(const struct hec_format_opts *opts,
                     const struct ms_event *ev,
                     struct ms_buf *out)
{
    struct json_object *obj = ev->ev;
    struct ev_view view;
    const char *st = ev->source_type;
    const char *sourcetype;
    const char *index;
    char tbuf[48];
    char src[MS_SOURCE_TYPE_MAX + 16];
    size_t st_len;
    int64_t ms;
    bool first = true;
    int ret;

    if (!json_object_is_type(obj, json_type_object) ||
        (json_object_object_length(obj) == 0 && !ev->raw_stripped)) {
        return MS_EINVAL; /* (an event of nothing but "raw" read without it is not empty) */
    }
    view_init(&view, obj);
    if (!st[0]) {
        st = str_of(view.v[K_SOURCE_TYPE], &st_len);
        st = st ? st : "";
    }
    ret = ms_buf_putc(out, '{');
    if (ret == MS_OK && event_time_ms(view.v[K_TIME], &ms)) {
        hec_time_format(ms, tbuf, sizeof(tbuf));
        ret = put_key(out, &first, "time");
        if (ret == MS_OK) {
            ret = ms_buf_puts(out, tbuf);
        }
    }
    if (ret == MS_OK && opts->host && opts->host[0]) {
        ret = put_key(out, &first, "host");
        if (ret == MS_OK) {
            ret = put_cstr(out, opts->host);
        }
    }
    if (ret == MS_OK) {
        if (opts->source && opts->source[0]) {
            snprintf(src, sizeof(src), "%s", opts->source);
        }
        else {
            snprintf(src, sizeof(src), "msfwd%s%.*s", st[0] ? ":" : "", MS_SOURCE_TYPE_MAX, st);
        }
        ret = put_key(out, &first, "source");
        if (ret == MS_OK) {
            ret = put_cstr(out, opts->source && opts->source[0] ? opts->source : src);
        }
    }
    sourcetype =
        per_st(opts->sourcetypes, st,
               opts->sourcetype && opts->sourcetype[0] ? opts->sourcetype : (st[0] ? st : NULL));
    if (ret == MS_OK && sourcetype && sourcetype[0]) {
        ret = put_key(out, &first, "sourcetype");
        if (ret == MS_OK) {
            ret = put_cstr(out, sourcetype);
        }
    }
    index = per_st(opts->indexes, st, opts->index);
    if (ret == MS_OK && index && index[0]) {
        ret = put_key(out, &first, "index");
        if (ret == MS_OK) {
            ret = put_cstr(out, index);
        }
    }
    if (ret == MS_OK) {
        ret = put_fields(out, opts, &view, &first);
    }
    if (ret == MS_OK) {
        ret = put_event(out, opts, ev, &view, &first);
    }
    if (ret == MS_OK) {
        ret = ms_buf_puts(out, "}\n");
    }
    return ret;
}

/* ------------------------------------------------------------------------------------------
 * Replies
 */

static struct json_object *parse_body(const char *body, size_t len)
{
    struct json_tokener *tok;
    struct json_object *obj;

    if (!body || len == 0 || len > INT32_MAX) {
        return NULL;
    }
    tok = json_tokener_new();
    if (!tok) {
        return NULL;
    }
    obj = json_tokener_parse_ex(tok, body, (int)len);
    if (json_tokener_get_error(tok) == json_tokener_success) {
        size_t end = json_tokener_get_parse_end(tok);

        while (end < len &&
               (body[end] == ' ' || body[end] == '\t' || body[end] == '\r' || body[end] == '\n')) {
            end++;
        }
        if (end != len) {
            json_object_put(obj); /* trailing bytes: not one JSON answer */
            obj = NULL;
        }
    }
    else {
        json_object_put(obj);
        obj = NULL;
    }
    json_tokener_free(tok);
    return obj;
}

static int64_t get_int(struct json_object *obj, const char *key)
{
    struct json_object *v = get_key(obj, key);

    if (!json_object_is_type(v, json_type_int)) {
        return -1;
    }
    return json_object_get_int64(v);
}

void hec_reply_parse(const char *body, size_t len, struct hec_reply *r)
{
    struct json_object *obj = parse_body(body, len);
    const char *text;
    size_t tlen = 0;
    size_t i;
    int64_t code;

    r->code = -1;
    r->event_number = -1;
    r->ack_id = -1;
    r->text[0] = '\0';
    if (!json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        return;
    }
    code = get_int(obj, "code");
    r->code = code >= 0 && code <= INT32_MAX ? (int)code : -1;
    r->event_number = get_int(obj, "invalid-event-number");
    r->ack_id = get_int(obj, "ackId");
    text = get_str(obj, "text", &tlen);
    if (text) {
        snprintf(r->text, sizeof(r->text), "%s", text);
        for (i = 0; r->text[i]; i++) {
            if ((unsigned char)r->text[i] < 0x20 || r->text[i] == 0x7f) {
                r->text[i] = ' '; /* it goes into a log line */
            }
        }
    }
    json_object_put(obj);
}

int hec_ack_reply_parse(const char *body, size_t len, const int64_t *ids, bool *done, size_t n)
{
    struct json_object *obj = parse_body(body, len);
    struct json_object *acks = get_key(obj, "acks");
    char key[32];
    size_t i;

    if (!json_object_is_type(acks, json_type_object)) {
        json_object_put(obj);
        return MS_EINVAL;
    }
    for (i = 0; i < n; i++) {
        struct json_object *v;

        snprintf(key, sizeof(key), "%" PRId64, ids[i]);
        v = get_key(acks, key);
        if (json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v)) {
            done[i] = true;
        }
    }
    json_object_put(obj);
    return MS_OK;
}
