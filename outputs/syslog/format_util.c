/*
 * Shared pieces of the syslog encoders: the escaping writer (UTF-8 checked, table-driven), event
 * lookups that cope with missing keys and wrong types, and time parsing. The per-source-type
 * LEEF/CEF header profiles are data (mappings/siem-profiles.json, read by syslog_profile.c).
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/ms_err.h"
#include "syslog_format.h"
#include "../../src/core/ms_time.h"

#define UTF8_REPLACEMENT "\xEF\xBF\xBD"

void sl_buf_cut(struct ms_buf *out, size_t len)
{
    if (out->data && len <= out->len) {
        out->len = len;
        out->data[len] = '\0';
    }
}

/* ---- escape tables ---- */

static const char *const json_ctl[32] = {
    "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
    "\\b",     "\\t",     "\\n",     "\\u000b", "\\f",     "\\r",     "\\u000e", "\\u000f",
    "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
    "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
};

/* Drops every C0 control and DEL; everything else is copied. */
static void escape_base(struct sl_escape *e)
{
    int c;

    memset(e, 0, sizeof(*e));
    for (c = 0; c < 0x20; c++) {
        e->rep[c] = "";
    }
    e->rep[0x7f] = "";
}

void sl_format_opts_prepare(struct sl_format_opts *o)
{
    unsigned char d = o->payload == SL_PAYLOAD_LEEF1 ? '\t' : (unsigned char)o->delim;
    int c;

    /*
     * LEEF values. IBM defines no escapes and QRadar splits on the delimiter byte whatever
     * precedes it, so the delimiter itself must never appear: a tab becomes the two characters
     * "\t" and any other delimiter a space. '=' and '\' are backslash-escaped so that a value
     * holding "key=" cannot satisfy a "key=([^\t]+)" property regex; CR and LF become \r and \n.
     */
    escape_base(&o->leef_value);
    o->leef_value.rep['\\'] = "\\\\";
    o->leef_value.rep['='] = "\\=";
    o->leef_value.rep['\n'] = "\\n";
    o->leef_value.rep['\r'] = "\\r";
    o->leef_value.rep['\t'] = "\\t";
    if (d != '\t' && d < 0x80 && d != '\\' && d != '=') {
        o->leef_value.rep[d] = " ";
    }

    /* LEEF header fields: no escape is defined, so '|' and '\' are replaced. */
    escape_base(&o->leef_header);
    o->leef_header.rep['|'] = "_";
    o->leef_header.rep['\\'] = "_";
    o->leef_header.rep['\t'] = " ";
    o->leef_header.rep['\n'] = " ";
    o->leef_header.rep['\r'] = " ";

    /* CEF header: \| and \\ (CEF "Character Encoding"); no line breaks allowed. */
    escape_base(&o->cef_header);
    o->cef_header.rep['\\'] = "\\\\";
    o->cef_header.rep['|'] = "\\|";
    o->cef_header.rep['\t'] = " ";
    o->cef_header.rep['\n'] = " ";
    o->cef_header.rep['\r'] = " ";

    /* CEF extension values: \\, \=, \n, \r; pipes need no escape. */
    escape_base(&o->cef_value);
    o->cef_value.rep['\\'] = "\\\\";
    o->cef_value.rep['='] = "\\=";
    o->cef_value.rep['\n'] = "\\n";
    o->cef_value.rep['\r'] = "\\r";
    o->cef_value.rep['\t'] = " ";

    /* JSON strings (RFC 8259): every control escaped, so a record never holds a raw LF. */
    memset(&o->json, 0, sizeof(o->json));
    for (c = 0; c < 0x20; c++) {
        o->json.rep[c] = json_ctl[c];
    }
    o->json.rep['"'] = "\\\"";
    o->json.rep['\\'] = "\\\\";
    o->json.json = true;
}

/* ---- UTF-8 ---- */

/*
 * Decodes one sequence at s (n > 0 bytes, s[0] >= 0x80). Returns its length with *cp set, or 0
 * with *bad = the length of the maximal invalid subpart (Unicode 3.9 / Python's decoder).
 */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp, size_t *bad)
{
    unsigned c = s[0];
    unsigned lo = 0x80;
    unsigned hi = 0xBF;
    size_t need;
    size_t k;
    uint32_t v;

    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        v = c & 0x1F;
    }
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        v = c & 0x0F;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    }
    else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        v = c & 0x07;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    }
    else {
        *bad = 1;
        return 0;
    }
    for (k = 1; k <= need; k++) {
        if (k >= n || s[k] < lo || s[k] > hi) {
            *bad = k;
            return 0;
        }
        v = (v << 6) | (s[k] & 0x3F);
        lo = 0x80;
        hi = 0xBF;
    }
    *cp = v;
    return need + 1;
}

int sl_put_text(
    struct ms_buf *out, const char *s, size_t n, const struct sl_escape *esc, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t done = 0; /* bytes appended to out by this call */
    size_t run = 0;  /* start of the pending copy run in s */
    size_t i = 0;
    char ubuf[8];
    int ret;

    while (i < n) {
        const char *rep = NULL;
        size_t copy = 0;
        size_t adv = 1;
        size_t room = max - done - (i - run); /* bytes still allowed */
        size_t lim = n - i < room ? n : i + room;
        size_t rlen;

        /* Hot path: plain ASCII is copied as it is, in one run. */
        while (i < lim && u[i] < 0x80 && !esc->rep[u[i]]) {
            i++;
        }
        if (i >= n || i == lim) {
            break;
        }
        if (u[i] < 0x80) {
            rep = esc->rep[u[i]];
        }
        else {
            uint32_t cp = 0;
            size_t bad = 1;
            size_t len = utf8_next(u + i, n - i, &cp, &bad);

            if (len == 0) {
                adv = bad;
                rep = UTF8_REPLACEMENT;
            }
            else {
                adv = len;
                if (cp <= 0x9F || (esc->json && (cp == 0x2028 || cp == 0x2029))) {
                    if (esc->json) {
                        (void)snprintf(ubuf, sizeof(ubuf), "\\u%04" PRIx32, cp); /* cp <= 0x2029 */
                        rep = ubuf;
                    }
                    else {
                        rep = ""; /* C1 control */
                    }
                }
                else {
                    copy = len;
                }
            }
        }
        if (copy) {
            if (done + (i - run) + copy > max) {
                break;
            }
            i += adv;
            continue;
        }
        rlen = strlen(rep);
        if (done + (i - run) + rlen > max) {
            break;
        }
        ret = ms_buf_append(out, s + run, i - run);
        if (ret == MS_OK && rlen) {
            ret = ms_buf_append(out, rep, rlen);
        }
        if (ret != MS_OK) {
            return ret;
        }
        done += (i - run) + rlen;
        i += adv;
        run = i;
    }
    return ms_buf_append(out, s + run, i - run);
}

int sl_put_i64(struct ms_buf *out, int64_t v)
{
    char digits[24];
    char *p = digits + sizeof(digits);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) {
        *--p = '-';
    }
    return ms_buf_append(out, p, (size_t)(digits + sizeof(digits) - p));
}

static int
put_scalar(struct ms_buf *out, struct json_object *v, const struct sl_escape *esc, size_t max)
{
    char num[64];
    int64_t i64;
    double d;

    switch (json_object_get_type(v)) {
    case json_type_string:
        return sl_put_text(out, json_object_get_string(v), (size_t)json_object_get_string_len(v),
                           esc, max);
    case json_type_int:
        i64 = json_object_get_int64(v);
        if (i64 == INT64_MAX) {
            (void)snprintf(num, sizeof(num), "%" PRIu64, json_object_get_uint64(v));
        }
        else {
            (void)snprintf(num, sizeof(num), "%" PRId64, i64);
        }
        return sl_put_text(out, num, strlen(num), esc, max);
    case json_type_double:
        d = json_object_get_double(v);
        if (!isfinite(d)) {
            return MS_OK;
        }
        (void)snprintf(num, sizeof(num), "%.15g", d);
        return sl_put_text(out, num, strlen(num), esc, max);
    case json_type_boolean:
        return sl_put_text(out, json_object_get_boolean(v) ? "true" : "false",
                           json_object_get_boolean(v) ? 4 : 5, esc, max);
    default:
        return MS_OK;
    }
}

int sl_put_value(
    struct ms_buf *out, struct json_object *v, const struct sl_escape *esc, size_t max, bool *wrote)
{
    /* The join separator is escaped like the values: ',' may be the LEEF delimiter. */
    const char *sep = esc->rep[','] ? esc->rep[','] : ",";
    size_t sep_len = strlen(sep);
    size_t start = out->len;
    size_t i;
    size_t n;
    int ret = MS_OK;

    *wrote = false;
    if (!v) {
        return MS_OK;
    }
    if (!json_object_is_type(v, json_type_array)) {
        ret = put_scalar(out, v, esc, max);
        *wrote = ret == MS_OK && out->len > start;
        return ret;
    }
    n = json_object_array_length(v);
    for (i = 0; i < n && ret == MS_OK; i++) {
        struct json_object *e = json_object_array_get_idx(v, i); /* borrowed */
        size_t before = out->len;
        size_t used = out->len - start;

        if (!e || json_object_is_type(e, json_type_array) ||
            json_object_is_type(e, json_type_object)) {
            continue;
        }
        if (used > 0) {
            if (used + sep_len >= max) {
                break;
            }
            ret = ms_buf_append(out, sep, sep_len);
            used += sep_len;
        }
        if (ret == MS_OK) {
            ret = put_scalar(out, e, esc, max - used);
        }
        if (ret == MS_OK && used > 0 && out->len == before + sep_len) {
            sl_buf_cut(out, before); /* empty element: no dangling separator */
        }
    }
    *wrote = ret == MS_OK && out->len > start;
    return ret;
}

/* ---- event lookups ---- */

struct json_object *sl_ev_get(const struct ms_event *ev, const char *key)
{
    struct json_object *v = NULL;

    if (!ev->ev || !json_object_is_type(ev->ev, json_type_object)) {
        return NULL;
    }
    if (!json_object_object_get_ex(ev->ev, key, &v)) { /* borrowed */
        return NULL;
    }
    return v;
}

const char *sl_ev_str(const struct ms_event *ev, const char *key)
{
    struct json_object *v = sl_ev_get(ev, key);

    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

bool sl_ev_int(const struct ms_event *ev, const char *key, int64_t *out)
{
    struct json_object *v = sl_ev_get(ev, key);
    const char *s;
    char *end;
    double d;
    long long n;

    if (!v) {
        return false;
    }
    switch (json_object_get_type(v)) {
    case json_type_int:
        *out = json_object_get_int64(v);
        return true;
    case json_type_double:
        d = json_object_get_double(v);
        if (!isfinite(d) || d > 9e18 || d < -9e18) {
            return false;
        }
        *out = (int64_t)d;
        return true;
    case json_type_string:
        s = json_object_get_string(v);
        errno = 0;
        n = strtoll(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0') {
            return false;
        }
        *out = n;
        return true;
    default:
        return false;
    }
}

bool sl_ev_time_ms(const struct ms_event *ev, int64_t *ms)
{
    const char *t = sl_ev_str(ev, "time");

    return t && sl_time_parse(t, ms) == MS_OK;
}

const char *sl_ev_source_type(const struct ms_event *ev)
{
    const char *s;

    if (ev->source_type[0]) {
        return ev->source_type;
    }
    s = sl_ev_str(ev, "source_type");
    return s ? s : "";
}

bool sl_is_ip(const char *s)
{
    unsigned char addr[16];

    if (strlen(s) > 45) {
        return false;
    }
    return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1;
}

/* ---- time ---- */

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
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : dm[m - 1];
}

int sl_time_parse(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec;
    int frac = 0;
    int fdigits = 0;
    int off = 0;
    const char *p;

    if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &sec)) {
        return MS_EINVAL;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60) {
        return MS_EINVAL;
    }
    p = s + 19;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            if (fdigits < 3) {
                frac = frac * 10 + (*p - '0');
            }
            fdigits++;
            p++;
        }
        if (fdigits == 0) {
            return MS_EINVAL;
        }
        while (fdigits < 3) {
            frac *= 10;
            fdigits++;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    }
    else if (*p == '+' || *p == '-') {
        int oh, om;
        int sign = *p == '-' ? -1 : 1;

        if (!digits(p + 1, 2, &oh)) {
            return MS_EINVAL;
        }
        if (p[3] == ':') {
            if (!digits(p + 4, 2, &om)) {
                return MS_EINVAL;
            }
            p += 6;
        }
        else {
            if (!digits(p + 3, 2, &om)) {
                return MS_EINVAL;
            }
            p += 5;
        }
        if (oh > 23 || om > 59) {
            return MS_EINVAL;
        }
        off = sign * (oh * 60 + om);
    }
    else {
        return MS_EINVAL;
    }
    if (*p != '\0') {
        return MS_EINVAL;
    }
    if (sec == 60) {
        sec = 59; /* leap second: the nearest representable instant */
    }
    *ms = ((ms_days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + sec) -
           (int64_t)off * 60) *
              1000 +
          frac;
    return MS_OK;
}
