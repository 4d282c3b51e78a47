/*
 * Vendor time values to UTC milliseconds and back to ISO 8601. Calendar arithmetic after Howard
 * Hinnant's days_from_civil / civil_from_days, so neither timegm() nor the locale is involved.
 */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/ms_err.h"
#include "ms_timeparse.h"
#include "../core/ms_time.h"

#define MS_PER_DAY 86400000LL
/* 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z */
#define TIME_MIN_MS (-719528LL * MS_PER_DAY)
#define TIME_MAX_MS (2932897LL * MS_PER_DAY - 1)

struct cur {
    const char *p;
    const char *end;
};

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

static bool at_end(const struct cur *c)
{
    return c->p >= c->end;
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static char lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

static void skip_blanks(struct cur *c)
{
    while (!at_end(c) && is_blank(*c->p)) {
        c->p++;
    }
}

/* Reads exactly n digits. */
static bool digits(struct cur *c, int n, int *out)
{
    int v = 0;
    int i;

    if (c->end - c->p < n) {
        return false;
    }
    for (i = 0; i < n; i++) {
        if (!is_digit(c->p[i])) {
            return false;
        }
        v = v * 10 + (c->p[i] - '0');
    }
    c->p += n;
    *out = v;
    return true;
}

/* Reads one or two digits. */
static bool digits12(struct cur *c, int *out)
{
    if (digits(c, 2, out)) {
        return true;
    }
    return digits(c, 1, out);
}

static bool accept(struct cur *c, char ch)
{
    if (!at_end(c) && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* Case-insensitive keyword. */
static bool accept_word(struct cur *c, const char *w)
{
    size_t n = strlen(w);
    size_t i;

    if ((size_t)(c->end - c->p) < n) {
        return false;
    }
    for (i = 0; i < n; i++) {
        if (lower(c->p[i]) != w[i]) {
            return false;
        }
    }
    c->p += n;
    return true;
}

/* "+HH", "+HHMM", "+HH:MM" (or '-'): offset east of UTC in minutes. */
static bool numeric_offset(struct cur *c, int *off_min)
{
    int sign;
    int hh;
    int mm = 0;

    if (accept(c, '+')) {
        sign = 1;
    }
    else if (accept(c, '-')) {
        sign = -1;
    }
    else {
        return false;
    }
    if (!digits(c, 2, &hh) || hh > 23) {
        return false;
    }
    if (accept(c, ':')) {
        if (!digits(c, 2, &mm)) {
            return false;
        }
    }
    else if (!at_end(c) && is_digit(*c->p)) {
        if (!digits(c, 2, &mm)) {
            return false;
        }
    }
    if (mm > 59) {
        return false;
    }
    *off_min = sign * (hh * 60 + mm);
    return true;
}

/* Zone after the time; none at all means UTC. Consumes the rest of the input or fails. */
static bool zone(struct cur *c, int *off_min)
{
    bool bracket;

    *off_min = 0;
    skip_blanks(c);
    if (at_end(c)) {
        return true;
    }
    bracket = accept(c, '[');
    if (accept(c, 'Z') || accept(c, 'z')) {
        /* UTC */
    }
    else if (accept_word(c, "utc") || accept_word(c, "gmt") || accept_word(c, "ut")) {
        if (!at_end(c) && (*c->p == '+' || *c->p == '-') && !numeric_offset(c, off_min)) {
            return false;
        }
    }
    else if (!numeric_offset(c, off_min)) {
        return false;
    }
    if (bracket && !accept(c, ']')) {
        return false;
    }
    skip_blanks(c);
    return at_end(c);
}

/* HH:MM[:SS[.fff]] */
static bool clock_time(struct cur *c, int *h, int *mi, int *s, int *ms)
{
    int n = 0;

    *s = 0;
    *ms = 0;
    if (!digits(c, 2, h) || !accept(c, ':') || !digits(c, 2, mi)) {
        return false;
    }
    if (accept(c, ':')) {
        if (!digits(c, 2, s)) {
            return false;
        }
        if (accept(c, '.') || accept(c, ',')) {
            while (!at_end(c) && is_digit(*c->p) && n < 9) {
                if (n < 3) {
                    *ms = *ms * 10 + (*c->p - '0');
                }
                n++;
                c->p++;
            }
            if (n == 0 || (!at_end(c) && is_digit(*c->p))) {
                return false;
            }
            for (; n < 3; n++) {
                *ms *= 10;
            }
        }
    }
    return *h <= 23 && *mi <= 59 && *s <= 60;
}

static bool
assemble(int64_t y, int mo, int d, int h, int mi, int s, int ms, int off_min, int64_t *out)
{
    int64_t v;

    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) {
        return false;
    }
    v = ms_days_from_civil(y, mo, d) * MS_PER_DAY +
        ((int64_t)h * 3600 + (int64_t)mi * 60 + s - (int64_t)off_min * 60) * 1000 + ms;
    if (v < TIME_MIN_MS || v > TIME_MAX_MS) {
        return false;
    }
    *out = v;
    return true;
}

static bool parse_iso(struct cur *c, int64_t *out)
{
    int y;
    int mo;
    int d;
    int h = 0;
    int mi = 0;
    int s = 0;
    int ms = 0;
    int off = 0;
    const char *date_end;

    if (!digits(c, 4, &y) || !accept(c, '-') || !digits(c, 2, &mo) || !accept(c, '-') ||
        !digits(c, 2, &d)) {
        return false;
    }
    date_end = c->p;
    skip_blanks(c);
    if (!at_end(c)) {
        /* 'T', or the blank(s) just skipped (PPS "YYYY-MM-DD HH:MM:SS") */
        if (!accept(c, 'T') && !accept(c, 't') && c->p == date_end) {
            return false;
        }
        if (!clock_time(c, &h, &mi, &s, &ms) || !zone(c, &off)) {
            return false;
        }
    }
    return assemble(y, mo, d, h, mi, s, ms, off, out);
}

static bool parse_rfc2822(struct cur *c, int64_t *out)
{
    static const char *const months[12] = {"jan", "feb", "mar", "apr", "may", "jun",
                                           "jul", "aug", "sep", "oct", "nov", "dec"};
    int y;
    int mo = 0;
    int d;
    int h;
    int mi;
    int s;
    int ms;
    int off;
    int i;

    if (!at_end(c) && !is_digit(*c->p)) {
        /* day name */
        while (!at_end(c) && lower(*c->p) >= 'a' && lower(*c->p) <= 'z') {
            c->p++;
        }
        if (!accept(c, ',')) {
            return false;
        }
        skip_blanks(c);
    }
    if (!digits12(c, &d) || !accept(c, ' ')) {
        return false;
    }
    for (i = 0; i < 12 && !mo; i++) {
        if (accept_word(c, months[i])) {
            mo = i + 1;
        }
    }
    if (!mo || !accept(c, ' ') || !digits(c, 4, &y) || !accept(c, ' ')) {
        return false;
    }
    skip_blanks(c);
    if (!clock_time(c, &h, &mi, &s, &ms) || !zone(c, &off)) {
        return false;
    }
    return assemble(y, mo, d, h, mi, s, ms, off, out);
}

static int from_epoch_int(int64_t v, int64_t *ms_out)
{
    int64_t a;
    int64_t ms;

    if (v == INT64_MIN) {
        return MS_EINVAL; /* -v would overflow */
    }
    a = v < 0 ? -v : v;
    if (a < 100000000000LL) {
        ms = v * 1000;
    }
    else if (a < 100000000000000LL) {
        ms = v;
    }
    else if (a < 100000000000000000LL) {
        ms = v / 1000 - (v % 1000 < 0);
    }
    else {
        ms = v / 1000000 - (v % 1000000 < 0);
    }
    if (ms < TIME_MIN_MS || ms > TIME_MAX_MS) {
        return MS_EINVAL;
    }
    *ms_out = ms;
    return MS_OK;
}

int ms_time_from_epoch(double v, int64_t *ms_out)
{
    double a = fabs(v);
    double ms;

    if (!isfinite(v)) {
        return MS_EINVAL;
    }
    if (a < 1e11) {
        ms = v * 1000.0;
    }
    else if (a < 1e14) {
        ms = v;
    }
    else if (a < 1e17) {
        ms = v / 1000.0;
    }
    else {
        ms = v / 1000000.0;
    }
    ms = floor(ms);
    if (ms < (double)TIME_MIN_MS || ms > (double)TIME_MAX_MS) {
        return MS_EINVAL;
    }
    *ms_out = (int64_t)ms;
    return MS_OK;
}

/* All digits, with an optional sign and an optional fraction. */
static int parse_epoch_text(const char *p, const char *end, int64_t *ms_out)
{
    char buf[40];
    const char *q = p;
    bool dot = false;
    size_t n = (size_t)(end - p);
    char *stop;

    if (n == 0 || n >= sizeof(buf)) {
        return MS_EINVAL;
    }
    if (*q == '-' || *q == '+') {
        q++;
    }
    if (q == end) {
        return MS_EINVAL;
    }
    for (; q < end; q++) {
        if (*q == '.' && !dot) {
            dot = true;
        }
        else if (!is_digit(*q)) {
            return MS_EINVAL;
        }
    }
    memcpy(buf, p, n);
    buf[n] = '\0';
    if (dot) {
        double d = strtod(buf, &stop);

        return *stop ? MS_EINVAL : ms_time_from_epoch(d, ms_out);
    }
    else {
        long long v;

        errno = 0;
        v = strtoll(buf, &stop, 10);
        if (errno || *stop) {
            return MS_EINVAL;
        }
        return from_epoch_int((int64_t)v, ms_out);
    }
}

int ms_time_parse(const char *s, size_t len, int64_t *ms_out)
{
    struct cur c = {s, s + len};
    const char *end;
    int64_t v;

    skip_blanks(&c);
    end = c.end;
    while (end > c.p && is_blank(end[-1])) {
        end--;
    }
    c.end = end;
    if (at_end(&c)) {
        return MS_EINVAL;
    }
    if (parse_epoch_text(c.p, c.end, &v) == MS_OK) {
        *ms_out = v;
        return MS_OK;
    }
    if (c.end - c.p >= 5 && is_digit(c.p[0]) && is_digit(c.p[1]) && is_digit(c.p[2]) &&
        is_digit(c.p[3]) && c.p[4] == '-') {
        if (!parse_iso(&c, &v)) {
            return MS_EINVAL;
        }
    }
    else if (!parse_rfc2822(&c, &v)) {
        return MS_EINVAL;
    }
    *ms_out = v;
    return MS_OK;
}

int ms_time_from_json(struct json_object *v, int64_t *ms_out)
{
    switch (json_object_get_type(v)) {
    case json_type_string:
        return ms_time_parse(json_object_get_string(v), (size_t)json_object_get_string_len(v),
                             ms_out);
    case json_type_int:
        return from_epoch_int(json_object_get_int64(v), ms_out);
    case json_type_double:
        return ms_time_from_epoch(json_object_get_double(v), ms_out);
    default:
        return MS_EINVAL;
    }
}

static void put_digits(char *out, int v, int width)
{
    int i;

    for (i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

int ms_time_format_iso(int64_t ms, char *out, size_t out_len)
{
    int64_t days;
    int64_t rem;
    int64_t y;
    int m;
    int d;

    if (out_len > 0) {
        out[0] = '\0';
    }
    if (ms < TIME_MIN_MS || ms > TIME_MAX_MS || out_len < MS_TIME_ISO_LEN + 1) {
        return MS_EINVAL;
    }
    days = ms / MS_PER_DAY;
    rem = ms % MS_PER_DAY;
    if (rem < 0) {
        rem += MS_PER_DAY;
        days--;
    }
    ms_civil_from_days(days, &y, &m, &d);
    /* written digit by digit: this runs once per event */
    put_digits(out, (int)y, 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    out[10] = 'T';
    put_digits(out + 11, (int)(rem / 3600000), 2);
    out[13] = ':';
    put_digits(out + 14, (int)(rem / 60000 % 60), 2);
    out[16] = ':';
    put_digits(out + 17, (int)(rem / 1000 % 60), 2);
    out[19] = '.';
    put_digits(out + 20, (int)(rem % 1000), 3);
    out[23] = 'Z';
    out[24] = '\0';
    return MS_OK;
}
