/* Helpers for the syslog encoder unit tests: build events from JSON text, encode, compare. */
#ifndef MS_TEST_SL_UNIT_H
#define MS_TEST_SL_UNIT_H

#include "unit.h"

#include <json-c/json.h>

#include "core/ms_buf.h"
#include "core/ms_err.h"
#include "core/ms_event.h"
#include "../../outputs/syslog/syslog_format.h"

/* 2026-11-20T10:15:30.000Z in epoch milliseconds (checked with Python's calendar.timegm). */
#define SL_T0_MS "1795169730000"

/* Parses json (bytes taken as they are: no UTF-8 validation, like the spool reader) into ev. */
static inline void sl_ev_init(struct ms_event *ev, const char *json)
{
    struct json_tokener *tok = json_tokener_new();
    struct json_object *st;

    memset(ev, 0, sizeof(*ev));
    assert_non_null(tok);
    ev->ev = json_tokener_parse_ex(tok, json, (int)strlen(json));
    if (!ev->ev) {
        fprintf(stderr, "# bad test JSON: %s\n", json);
    }
    assert_non_null(ev->ev);
    json_tokener_free(tok);
    if (json_object_is_type(ev->ev, json_type_object) &&
        json_object_object_get_ex(ev->ev, "source_type", &st) &&
        json_object_is_type(st, json_type_string)) {
        snprintf(ev->source_type, sizeof(ev->source_type), "%s", json_object_get_string(st));
    }
}

static inline void sl_ev_free(struct ms_event *ev)
{
    json_object_put(ev->ev);
    free(ev->text);
    memset(ev, 0, sizeof(*ev));
}

/*
 * The shipped SIEM profiles ($MS_SRCDIR/mappings/siem-profiles.json, as make check sets it), loaded
 * on first use and kept for the life of the test binary. Fails the test when they do not load.
 */
static inline const struct sl_profiles *sl_unit_profiles(void)
{
    static struct sl_profiles *ps;
    struct ms_cfg_errors errs = {NULL, 0};
    const char *src = getenv("MS_SRCDIR");
    char path[PATH_MAX];
    size_t i;

    if (ps) {
        return ps;
    }
    snprintf(path, sizeof(path), "%s/mappings/siem-profiles.json", src ? src : ".");
    if (sl_profiles_load(path, &ps, &errs) != MS_OK || !ps) {
        for (i = 0; i < errs.n; i++) {
            fprintf(stderr, "# %s\n", errs.msgs[i]);
        }
        ms_cfg_errors_free(&errs);
        fail_msg("cannot load %s (MS_SRCDIR names the source tree)", path);
    }
    ms_cfg_errors_free(&errs);
    return ps;
}

/* Options for payload p with the shipped SIEM profiles. */
static inline void sl_opts(struct sl_format_opts *o, enum sl_payload p, char delim)
{
    memset(o, 0, sizeof(*o));
    o->payload = p;
    o->delim = delim;
    o->include_raw = true;
    o->profiles = sl_unit_profiles();
    sl_format_opts_prepare(o);
}

/* Encodes ev's payload; returns a malloc'ed copy (caller frees) and its length in *len. */
static inline char *
sl_encode(const struct sl_format_opts *o, const struct ms_event *ev, size_t *len)
{
    struct ms_buf buf;
    char *p;

    ms_buf_init(&buf, MS_CAP_EVENT);
    assert_int_equal(sl_format_payload(o, ev, &buf), MS_OK);
    *len = buf.len;
    p = ms_buf_take(&buf);
    if (!p) {
        p = calloc(1, 1);
        assert_non_null(p);
    }
    return p;
}

/* Encodes json with o and compares with want (a C string); prints both on mismatch. */
static inline void sl_expect(const struct sl_format_opts *o, const char *json, const char *want)
{
    struct ms_event ev;
    size_t len;
    char *got;

    sl_ev_init(&ev, json);
    got = sl_encode(o, &ev, &len);
    if (len != strlen(want) || memcmp(got, want, len) != 0) {
        fprintf(stderr, "# input: %s\n# want:  %s\n# got:   %s\n", json, want, got);
    }
    assert_int_equal(len, strlen(want));
    assert_memory_equal(got, want, len);
    free(got);
    sl_ev_free(&ev);
}

/* True when s[0..n) is valid UTF-8 (Python's strict decoder would accept it). */
static inline bool sl_valid_utf8(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        unsigned c = u[i];
        size_t need;
        unsigned lo = 0x80;
        unsigned hi = 0xBF;
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

/* Counts occurrences of needle in hay[0..n). */
static inline size_t sl_count(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    size_t c = 0;
    size_t i;

    for (i = 0; i + m <= n; i++) {
        if (memcmp(hay + i, needle, m) == 0) {
            c++;
        }
    }
    return c;
}

#endif
