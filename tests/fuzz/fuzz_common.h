/* Helpers shared by the libFuzzer targets (tests/fuzz/fuzz_*.c): checks, JSON, files, logs. */
#ifndef MS_FUZZ_COMMON_H
#define MS_FUZZ_COMMON_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ms_err.h"
#include "core/ms_event.h"
#include "core/ms_log.h"

/* The source tree (mappings/, tests/): $MS_SRCDIR, else what scripts/fuzz.sh compiled in. */
#ifndef MS_FUZZ_SRCDIR
#define MS_FUZZ_SRCDIR "."
#endif

/* A property the code under test promises: a violation is a finding, like a crash. */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "\nfuzz check failed at %s:%d: %s\n  ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static inline const char *fuzz_srcdir(void)
{
    const char *s = getenv("MS_SRCDIR");

    return s && s[0] ? s : MS_FUZZ_SRCDIR;
}

/* Sends the log lines of the code under test to /dev/null (they are formatted all the same). */
static inline void fuzz_quiet_logs(void)
{
    static FILE *devnull;

    if (!devnull) {
        devnull = fopen("/dev/null", "w");
        ms_log_set_stream(devnull);
    }
}

/*
 * Parses data[0..size) as exactly one JSON value (blanks around it allowed), with json-c's
 * default depth (what the inputs and the spool reader use). strict: RFC 8259 only.
 * Returns true with *out (may be NULL for "null"; caller puts), false when it is not JSON.
 */
static inline bool
fuzz_json_parse(const uint8_t *data, size_t size, bool strict, struct json_object **out)
{
    struct json_tokener *tok;
    struct json_object *obj;
    size_t end;
    bool ok;

    *out = NULL;
    if (size > INT32_MAX) {
        return false;
    }
    tok = json_tokener_new();
    if (!tok) {
        return false;
    }
    if (strict) {
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    }
    obj = json_tokener_parse_ex(tok, (const char *)data, (int)size);
    ok = json_tokener_get_error(tok) == json_tokener_success;
    end = json_tokener_get_parse_end(tok);
    while (ok && end < size &&
           (data[end] == ' ' || data[end] == '\t' || data[end] == '\r' || data[end] == '\n')) {
        end++;
    }
    if (!ok || end != size) {
        json_object_put(obj);
        json_tokener_free(tok);
        return false;
    }
    json_tokener_free(tok);
    *out = obj;
    return true;
}

/* True when s[0..n) is valid UTF-8 (no overlong form, surrogate or code point past U+10FFFF). */
static inline bool fuzz_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        unsigned c = u[i];
        unsigned lo = 0x80;
        unsigned hi = 0xBF;
        size_t need;
        size_t k;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        }
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            lo = c == 0xE0 ? 0xA0 : 0x80;
            hi = c == 0xED ? 0x9F : 0xBF;
        }
        else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            lo = c == 0xF0 ? 0x90 : 0x80;
            hi = c == 0xF4 ? 0x8F : 0xBF;
        }
        else {
            return false;
        }
        for (k = 1; k <= need; k++) {
            if (i + k >= n || u[i + k] < lo || u[i + k] > hi) {
                return false;
            }
            lo = 0x80;
            hi = 0xBF;
        }
        i += need + 1;
    }
    return true;
}

/*
 * RFC 8259 validator (json-c's JSON_TOKENER_STRICT still takes NaN, Infinity, 'single quotes'
 * and raw control characters in strings, which receivers refuse). Returns the end of the value
 * that starts at *p (blanks skipped), or NULL when it is not one. With lax_numbers, numbers may
 * also have the forms json-c reads in vendor records and then writes back as they came
 * ("09000.5", "1.", "-.25"): a known gap of every output that copies json-c's text (see
 * tests/fuzz/README.md), checked apart from the rest.
 */
static inline const char *
fuzz_json_value(const char *p, const char *end, int depth, bool lax_numbers);

static inline const char *fuzz_json_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
    }
    return p;
}

static inline const char *fuzz_json_string(const char *p, const char *end)
{
    size_t k;

    if (p >= end || *p != '"') {
        return NULL;
    }
    for (p++; p < end; p++) {
        unsigned char c = (unsigned char)*p;

        if (c == '"') {
            return p + 1;
        }
        if (c < 0x20) {
            return NULL;
        }
        if (c == '\\') {
            if (++p >= end) {
                return NULL;
            }
            if (*p == 'u') {
                for (k = 1; k <= 4; k++) {
                    if (p + k >= end || !strchr("0123456789abcdefABCDEF", p[k]) || !p[k]) {
                        return NULL;
                    }
                }
                p += 4;
            }
            else if (!*p || !strchr("\"\\/bfnrt", *p)) {
                return NULL;
            }
        }
    }
    return NULL;
}

/* RFC 8259 number; lax: also json-c's forms (leading zeros, "1.", "-.25"): some digit somewhere. */
static inline const char *fuzz_json_number(const char *p, const char *end, bool lax)
{
    const char *d;
    size_t int_digits;
    size_t frac_digits = 0;

    if (p < end && *p == '-') {
        p++;
    }
    if (p < end && *p == '0' && !lax) {
        p++;
        int_digits = 1;
    }
    else {
        for (d = p; p < end && *p >= '0' && *p <= '9'; p++) {
        }
        int_digits = (size_t)(p - d);
        if (int_digits == 0 && !lax) {
            return NULL;
        }
    }
    if (p < end && *p == '.') {
        for (d = ++p; p < end && *p >= '0' && *p <= '9'; p++) {
        }
        frac_digits = (size_t)(p - d);
        if (frac_digits == 0 && !lax) {
            return NULL;
        }
    }
    if (int_digits + frac_digits == 0) {
        return NULL;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }
        for (d = p; p < end && *p >= '0' && *p <= '9'; p++) {
        }
        if (p == d) {
            return NULL;
        }
    }
    return p;
}

static inline const char *
fuzz_json_value(const char *p, const char *end, int depth, bool lax_numbers)
{
    bool first = true;
    char close;

    p = fuzz_json_ws(p, end);
    if (p >= end || depth > 512) {
        return NULL;
    }
    switch (*p) {
    case '"':
        return fuzz_json_string(p, end);
    case 't':
        return end - p >= 4 && memcmp(p, "true", 4) == 0 ? p + 4 : NULL;
    case 'f':
        return end - p >= 5 && memcmp(p, "false", 5) == 0 ? p + 5 : NULL;
    case 'n':
        return end - p >= 4 && memcmp(p, "null", 4) == 0 ? p + 4 : NULL;
    case '{':
    case '[':
        close = *p == '{' ? '}' : ']';
        p = fuzz_json_ws(p + 1, end);
        if (p < end && *p == close) {
            return p + 1;
        }
        while (p && p < end) {
            if (!first) {
                p = fuzz_json_ws(p, end);
                if (p < end && *p == close) {
                    return p + 1;
                }
                if (p >= end || *p != ',') {
                    return NULL;
                }
                p++;
            }
            first = false;
            if (close == '}') {
                p = fuzz_json_string(fuzz_json_ws(p, end), end);
                p = p ? fuzz_json_ws(p, end) : NULL;
                if (!p || p >= end || *p != ':') {
                    return NULL;
                }
                p++;
            }
            p = fuzz_json_value(p, end, depth + 1, lax_numbers);
        }
        return NULL;
    default:
        return fuzz_json_number(p, end, lax_numbers);
    }
}

/* True when s[0..n) is exactly one RFC 8259 JSON text (lax_numbers: see fuzz_json_value). */
static inline bool fuzz_json_valid(const char *s, size_t n, bool lax_numbers)
{
    const char *end = fuzz_json_value(s, s + n, 0, lax_numbers);

    return end && fuzz_json_ws(end, s + n) == s + n;
}

/* True when s[0..n) holds none of the bytes in set (may include NUL: give its length). */
static inline bool fuzz_none_of(const char *s, size_t n, const char *set, size_t set_len)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (memchr(set, s[i], set_len)) {
            return false;
        }
    }
    return true;
}

/*
 * The event an output receives: text as the spool holds it, read back by the spool reader with
 * the output's view (ms_batch_add_text into b, which is reset first). Checks the reader against
 * json-c, which it promises to agree with: the same verdict as json_tokener_parse, the members it
 * parses minus those the view leaves out, the same id and source type. Returns the event (valid
 * until b is reset) or NULL when the text is refused.
 */
static inline struct ms_event *
fuzz_spooled_event(struct ms_batch *b, const char *text, size_t len, enum ms_event_view view)
{
    struct json_object *full = NULL;
    struct json_object *v;
    struct ms_event *ev;
    char want[MS_EVENT_ID_LEN + 1];
    char *copy;
    bool has_raw;
    int ret;

    ms_batch_reset(b);
    ret = ms_batch_add_text(b, text, len, view);
    FUZZ_CHECK(ret == MS_OK || ret == MS_EINVAL, "spool reader: unexpected return %d", ret);
    ev = ret == MS_OK ? &b->events[b->n - 1] : NULL;
    if (memchr(text, '\0', len)) {
        return ev; /* json_tokener_parse would see less of it: no reference (json-c's texts
                    * never hold a raw NUL) */
    }
    copy = strndup(text, len);
    FUZZ_CHECK(copy != NULL, "allocation");
    full = json_tokener_parse(copy);
    free(copy);
    if (!json_object_is_type(full, json_type_object)) {
        FUZZ_CHECK(!ev, "spool reader: json-c refuses what the reader took: %.*s", (int)len, text);
        json_object_put(full);
        return NULL;
    }
    FUZZ_CHECK(ev != NULL, "spool reader: refuses what json-c takes: %.*s", (int)len, text);
    FUZZ_CHECK(ev->text_len == len && memcmp(ev->text, text, len) == 0 && ev->text[len] == '\0',
               "spool reader: the event keeps its text");
    want[0] = '\0';
    if (json_object_object_get_ex(full, "id", &v)) {
        snprintf(want, sizeof(want), "%s", json_object_get_string(v));
    }
    FUZZ_CHECK(strcmp(ev->id, want) == 0, "spool reader: id '%s', json-c '%s'", ev->id, want);
    want[0] = '\0';
    if (json_object_object_get_ex(full, "source_type", &v)) {
        snprintf(want, sizeof(want), "%s", json_object_get_string(v));
    }
    FUZZ_CHECK(strncmp(ev->source_type, want, MS_SOURCE_TYPE_MAX - 1) == 0,
               "spool reader: source_type '%s', json-c '%s'", ev->source_type, want);
    has_raw = json_object_object_get_ex(full, "raw", NULL);
    if (view == MS_VIEW_NO_RAW || view == MS_VIEW_NORMALIZED) {
        json_object_object_del(full, "raw");
        FUZZ_CHECK(ev->raw_stripped == has_raw, "spool reader: raw_stripped");
    }
    if (view == MS_VIEW_NORMALIZED) {
        json_object_object_del(full, "fields");
    }
    if (view == MS_VIEW_TEXT) {
        FUZZ_CHECK(ev->ev == NULL && ev->partial, "spool reader: the text view decodes nothing");
    }
    else {
        /* Compared as text: NaN is not equal to itself. */
        copy = strdup(json_object_to_json_string_ext(full, JSON_C_TO_STRING_PLAIN));
        FUZZ_CHECK(
            copy && json_object_is_type(ev->ev, json_type_object) &&
                strcmp(copy, json_object_to_json_string_ext(ev->ev, JSON_C_TO_STRING_PLAIN)) == 0,
            "spool reader: view %d decodes what json-c does:\n  %s\n  %s", (int)view,
            json_object_to_json_string_ext(ev->ev, JSON_C_TO_STRING_PLAIN), copy);
        free(copy);
    }
    json_object_put(full);
    return ev;
}

/* Reads a whole file (NUL-terminated). Returns it (caller frees) or NULL. */
static inline char *fuzz_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    long n;

    if (!f) {
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        text = malloc((size_t)n + 1);
        if (text && fread(text, 1, (size_t)n, f) != (size_t)n) {
            free(text);
            text = NULL;
        }
        if (text) {
            text[n] = '\0';
            *len = (size_t)n;
        }
    }
    fclose(f);
    return text;
}

#endif
