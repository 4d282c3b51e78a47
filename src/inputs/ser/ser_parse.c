/* ser input, pure part: summary responses -> records, the licence record, window arithmetic. */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../core/ms_err.h"
#include "../../core/ms_json.h"
#include "ser_parse.h"
#include "../../core/ms_time.h"

static const char *const status_counters[] = {
    "success",    "failure", "tempFailure",     "partialSuccess",
    "inProgress", "total",   "recipientsTotal", NULL,
};

static const char *const size_counters[] = {"messageSizeTotal", "deliveredSizeTotal", NULL};

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

void ser_format_ts(int64_t ms, char *out, size_t len)
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int64_t frac = ms - (int64_t)secs * 1000;
    struct tm tm;

    gmtime_r(&secs, &tm);
    snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
}

/* Reads exactly n digits at *p. */
static bool take_digits(const char **p, int n, int64_t *out)
{
    int64_t v = 0;
    int i;

    for (i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) {
            return false;
        }
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static int parse_iso(const char *s, int64_t *ms)
{
    const char *p = s;
    int64_t y;
    int64_t mo;
    int64_t d;
    int64_t h = 0;
    int64_t mi = 0;
    int64_t sec = 0;
    int64_t frac = 0;
    int64_t zone_min = 0;

    if (!take_digits(&p, 4, &y) || *p++ != '-' || !take_digits(&p, 2, &mo) || *p++ != '-' ||
        !take_digits(&p, 2, &d)) {
        return MS_EINVAL;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, (unsigned)mo)) {
        return MS_EINVAL;
    }
    if (*p == 'T' || *p == ' ') {
        p++;
        if (!take_digits(&p, 2, &h) || *p++ != ':' || !take_digits(&p, 2, &mi) || *p++ != ':' ||
            !take_digits(&p, 2, &sec) || h > 23 || mi > 59 || sec > 59) {
            return MS_EINVAL;
        }
        if (*p == '.') {
            int digits = 0;

            p++;
            while (isdigit((unsigned char)*p)) {
                if (digits < 3) {
                    frac = frac * 10 + (*p - '0');
                }
                digits++;
                p++;
            }
            if (digits == 0 || digits > 9) {
                return MS_EINVAL;
            }
            for (; digits < 3; digits++) {
                frac *= 10;
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        }
        else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1;
            int64_t zh;
            int64_t zm;

            p++;
            if (!take_digits(&p, 2, &zh)) {
                return MS_EINVAL;
            }
            if (*p == ':') {
                p++;
            }
            if (!take_digits(&p, 2, &zm) || zh > 23 || zm > 59) {
                return MS_EINVAL;
            }
            zone_min = sign * (zh * 60 + zm);
        }
    }
    if (*p != '\0') {
        return MS_EINVAL;
    }
    *ms = ((ms_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec) -
           zone_min * 60) *
              1000 +
          frac;
    return MS_OK;
}

static int epoch_to_ms(int64_t v, int64_t *ms)
{
    if (v < 0) {
        return MS_EINVAL;
    }
    *ms = v >= 100000000000LL ? v : v * 1000;
    return MS_OK;
}

int ser_parse_instant(struct json_object *v, int64_t *ms)
{
    const char *s;
    size_t n;
    int64_t num;
    char *end;

    if (!v) {
        return MS_EINVAL;
    }
    if (json_object_is_type(v, json_type_int)) {
        return epoch_to_ms(json_object_get_int64(v), ms);
    }
    if (!json_object_is_type(v, json_type_string)) {
        return MS_EINVAL;
    }
    s = json_object_get_string(v);
    n = strlen(s);
    if (n > 0 && n <= 16 && strspn(s, "0123456789") == n) {
        errno = 0;
        num = strtoll(s, &end, 10);
        if (errno || *end != '\0') {
            return MS_EINVAL;
        }
        return epoch_to_ms(num, ms);
    }
    return parse_iso(s, ms);
}

int ser_parse_count(struct json_object *v, int64_t *out)
{
    const char *s;
    double d;
    char *end;
    long long n;

    if (!v) {
        return MS_EINVAL;
    }
    switch (json_object_get_type(v)) {
    case json_type_int:
        *out = json_object_get_int64(v);
        return *out >= 0 ? MS_OK : MS_EINVAL;
    case json_type_double:
        d = json_object_get_double(v);
        if (!(d >= 0 && d < 9.2e18) || d != (double)(int64_t)d) {
            return MS_EINVAL;
        }
        *out = (int64_t)d;
        return MS_OK;
    case json_type_string:
        s = json_object_get_string(v);
        if (!isdigit((unsigned char)s[0])) {
            return MS_EINVAL;
        }
        errno = 0;
        n = strtoll(s, &end, 10);
        if (errno || *end != '\0') {
            return MS_EINVAL;
        }
        *out = n;
        return MS_OK;
    default:
        return MS_EINVAL;
    }
}

int64_t ser_align_down(int64_t t, int64_t step)
{
    int64_t r = t % step;

    return r < 0 ? t - r - step : t - r;
}

int64_t
ser_first_start(int64_t now_ms, int64_t lookback_ms, int64_t window_ms, int64_t license_start_ms)
{
    int64_t start = ser_align_down(now_ms - lookback_ms, window_ms);

    if (license_start_ms != SER_TIME_UNKNOWN && start < license_start_ms) {
        start = license_start_ms;
    }
    return start;
}

bool ser_window_due(
    int64_t start_ms, int64_t window_ms, int64_t now_ms, int64_t settle_ms, int64_t *end_ms)
{
    *end_ms = ser_align_down(start_ms, window_ms) + window_ms;
    return *end_ms <= now_ms - settle_ms;
}

/* ------------------------------------------------------------------------------------------ */

static void value_text(struct json_object *v, char *out, size_t len)
{
    const char *s = v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) : "null";

    snprintf(out, len, "%.40s%s", s, strlen(s) > 40 ? "..." : "");
}

/* Rewrites obj[key] as an integer when present. keys NULL: every key of obj. */
static int normalize_counts(
    struct json_object *obj, const char *const *keys, const char *where, char *why, size_t why_len)
{
    struct json_object *v;
    char shown[64];
    int64_t n;
    size_t i;

    if (!keys) {
        json_object_object_foreach(obj, key, val) {
            if (ser_parse_count(val, &n) != MS_OK) {
                value_text(val, shown, sizeof(shown));
                snprintf(why, why_len, "%s.%s: %s is not a count", where, key, shown);
                return MS_EINVAL;
            }
            if (!json_object_is_type(val, json_type_int)) {
                /* Replaces the value in place; the entry stays, so the iteration is safe. */
                json_object_object_add(obj, key, json_object_new_int64(n));
            }
        }
        return MS_OK;
    }
    for (i = 0; keys[i]; i++) {
        if (!json_object_object_get_ex(obj, keys[i], &v)) { /* borrowed */
            continue;
        }
        if (ser_parse_count(v, &n) != MS_OK) {
            value_text(v, shown, sizeof(shown));
            snprintf(why, why_len, "%s%s%s: %s is not a count", where, where[0] ? "." : "", keys[i],
                     shown);
            return MS_EINVAL;
        }
        if (!json_object_is_type(v, json_type_int)) {
            json_object_object_add(obj, keys[i], json_object_new_int64(n));
        }
    }
    return MS_OK;
}

static const char *str_field(struct json_object *obj, const char *key)
{
    struct json_object *v;

    if (json_object_object_get_ex(obj, key, &v) && json_object_is_type(v, json_type_string)) {
        return json_object_get_string(v); /* borrowed */
    }
    return NULL;
}

/*
 * Turns one application user into a record (see ser_parse_summary). Returns MS_OK with *out and
 * *size (messageSizeTotal, 0 when absent), MS_EINVAL with why, MS_ENOMEM.
 */
static int build_user_record(struct json_object *user,
                             bool want_record,
                             int64_t start_ms,
                             int64_t end_ms,
                             struct json_object **out,
                             int64_t *size,
                             char *why,
                             size_t why_len)
{
    struct json_object *rec = NULL;
    struct json_object *status = NULL;
    struct json_object *details = NULL;
    struct json_object *v;
    const char *app;
    const char *user_name;
    char label[84];
    char reason[128];
    size_t i;
    char ts[40];
    int ret = MS_OK;

    *out = NULL;
    *size = 0;
    if (!json_object_is_type(user, json_type_object)) {
        snprintf(why, why_len, "an application user is not a JSON object");
        return MS_EINVAL;
    }
    app = str_field(user, "applicationName");
    user_name = str_field(user, "applicationUserName");
    if ((!app || !app[0]) && (!user_name || !user_name[0])) {
        snprintf(why, why_len,
                 "an application user has neither applicationName nor "
                 "applicationUserName");
        return MS_EINVAL;
    }
    rec = json_object_new_object();
    if (!rec) {
        return MS_ENOMEM;
    }
    if (start_ms != SER_TIME_UNKNOWN) {
        ser_format_ts(start_ms, ts, sizeof(ts));
        json_object_object_add(rec, "window_start", json_object_new_string(ts));
        ser_format_ts(end_ms, ts, sizeof(ts));
        json_object_object_add(rec, "window_end", json_object_new_string(ts));
    }
    json_object_object_foreach(user, key, val) {
        struct json_object *copy = NULL;

        if (strcmp(key, "window_start") == 0 || strcmp(key, "window_end") == 0) {
            continue;
        }
        if (val && json_object_deep_copy(val, &copy, NULL) != 0) {
            ret = MS_ENOMEM;
            goto out;
        }
        json_object_object_add(rec, key, copy);
    }
    snprintf(label, sizeof(label), "%.40s/%.40s", app ? app : "", user_name ? user_name : "");
    ret = normalize_counts(rec, size_counters, "", reason, sizeof(reason));
    if (ret != MS_OK) {
        goto out;
    }
    if (json_object_object_get_ex(rec, "status", &status)) { /* borrowed */
        if (!json_object_is_type(status, json_type_object)) {
            snprintf(reason, sizeof(reason), "status is not an object");
            ret = MS_EINVAL;
            goto out;
        }
        ret = normalize_counts(status, status_counters, "status", reason, sizeof(reason));
        if (ret == MS_OK) {
            ret = normalize_counts(status, size_counters, "status", reason, sizeof(reason));
        }
        if (ret != MS_OK) {
            goto out;
        }
        /* The seed's table leaves open whether the sizes sit in status or beside it. */
        for (i = 0; size_counters[i]; i++) {
            if (!json_object_object_get_ex(rec, size_counters[i], NULL) &&
                json_object_object_get_ex(status, size_counters[i], &v)) { /* borrowed */
                json_object_object_add(rec, size_counters[i],
                                       json_object_new_int64(json_object_get_int64(v)));
            }
        }
        if (json_object_object_get_ex(status, "details", &v)) { /* borrowed */
            if (!json_object_is_type(v, json_type_object)) {
                snprintf(reason, sizeof(reason), "status.details is not an object");
                ret = MS_EINVAL;
                goto out;
            }
            ret = normalize_counts(v, NULL, "status.details", reason, sizeof(reason));
            if (ret != MS_OK) {
                goto out;
            }
            details = v;
        }
    }
    if (json_object_object_get_ex(rec, "details", &v)) { /* borrowed */
        if (!json_object_is_type(v, json_type_object)) {
            snprintf(reason, sizeof(reason), "details is not an object");
            ret = MS_EINVAL;
            goto out;
        }
        ret = normalize_counts(v, NULL, "details", reason, sizeof(reason));
        if (ret != MS_OK) {
            goto out;
        }
    }
    else if (details) {
        struct json_object *copy = NULL;

        if (json_object_deep_copy(details, &copy, NULL) != 0) {
            ret = MS_ENOMEM;
            goto out;
        }
        json_object_object_add(rec, "details", copy);
    }
    if (json_object_object_get_ex(rec, "messageSizeTotal", &v)) { /* borrowed */
        *size = json_object_get_int64(v);
    }
out:
    if (ret != MS_OK) {
        if (ret == MS_EINVAL) {
            /* Name the application user: the reason alone does not say which one. */
            snprintf(why, why_len, "%s: %.100s", label, reason);
        }
        json_object_put(rec);
        return ret;
    }
    if (want_record) {
        *out = rec;
    }
    else {
        json_object_put(rec);
    }
    return MS_OK;
}

static int compare_names(const void *a, const void *b)
{
    struct json_object *ra = *(struct json_object *const *)a;
    struct json_object *rb = *(struct json_object *const *)b;
    const char *na = str_field(ra, "applicationName");
    const char *nb = str_field(rb, "applicationName");
    int c = strcmp(na ? na : "", nb ? nb : "");

    if (c != 0) {
        return c;
    }
    na = str_field(ra, "applicationUserName");
    nb = str_field(rb, "applicationUserName");
    return strcmp(na ? na : "", nb ? nb : "");
}

static void parse_entitlement(struct json_object *ent, struct ser_summary *out)
{
    struct json_object *v;
    int64_t n;

    out->entitlement = json_object_get(ent);
    if (json_object_object_get_ex(ent, "annual_throughput", &v) && /* borrowed */
        ser_parse_count(v, &n) == MS_OK) {
        out->annual_throughput = n;
    }
    if (json_object_object_get_ex(ent, "license_start", &v) && /* borrowed */
        ser_parse_instant(v, &n) == MS_OK) {
        out->license_start_ms = n;
    }
    if (json_object_object_get_ex(ent, "license_end", &v) && /* borrowed */
        ser_parse_instant(v, &n) == MS_OK) {
        out->license_end_ms = n;
    }
}

void ser_summary_free(struct ser_summary *s)
{
    json_object_put(s->records);
    json_object_put(s->entitlement);
    s->records = NULL;
    s->entitlement = NULL;
}

int ser_parse_summary(const char *text,
                      size_t len,
                      bool want_records,
                      int64_t start_ms,
                      int64_t end_ms,
                      struct ser_summary *out,
                      char *why,
                      size_t why_len)
{
    struct json_object *root;
    struct json_object *users = NULL;
    struct json_object *ent = NULL;
    bool has_users;
    bool has_ent;
    size_t i;
    size_t n;
    int ret = MS_OK;

    memset(out, 0, sizeof(*out));
    out->annual_throughput = -1;
    out->license_start_ms = SER_TIME_UNKNOWN;
    out->license_end_ms = SER_TIME_UNKNOWN;
    root = ms_json_parse_one(text, len, why, why_len);
    if (!root) {
        return MS_EINVAL;
    }
    if (!json_object_is_type(root, json_type_object)) {
        snprintf(why, why_len, "the body is not a JSON object");
        ret = MS_EINVAL;
        goto out;
    }
    has_users = json_object_object_get_ex(root, "applicationUsers", &users); /* borrowed */
    has_ent = json_object_object_get_ex(root, "entitlement", &ent);          /* borrowed */
    if (!has_users && !has_ent) {
        snprintf(why, why_len, "neither applicationUsers nor entitlement in the body");
        ret = MS_EINVAL;
        goto out;
    }
    if (has_users && !json_object_is_type(users, json_type_array) &&
        !json_object_is_type(users, json_type_null)) {
        snprintf(why, why_len, "applicationUsers is not an array");
        ret = MS_EINVAL;
        goto out;
    }
    if (has_ent && json_object_is_type(ent, json_type_object)) {
        parse_entitlement(ent, out);
    }
    if (want_records) {
        out->records = json_object_new_array();
        if (!out->records) {
            ret = MS_ENOMEM;
            goto out;
        }
    }
    n = has_users && json_object_is_type(users, json_type_array) ? json_object_array_length(users)
                                                                 : 0;
    for (i = 0; i < n; i++) {
        struct json_object *rec = NULL;
        char reason[sizeof(out->reject_reason)];
        int64_t size = 0;
        int rc;

        rc = build_user_record(json_object_array_get_idx(users, i), want_records, start_ms, end_ms,
                               &rec, &size, reason, sizeof(reason));
        if (rc == MS_ENOMEM) {
            ret = rc;
            goto out;
        }
        if (rc != MS_OK) {
            if (out->rejected++ == 0) {
                snprintf(out->reject_reason, sizeof(out->reject_reason), "%s", reason);
            }
            continue;
        }
        out->users++;
        /* Counters are int64 on the wire: their sum saturates rather than overflow. */
        out->size_total = size > INT64_MAX - out->size_total ? INT64_MAX : out->size_total + size;
        if (rec && json_object_array_add(out->records, rec) != 0) {
            json_object_put(rec);
            ret = MS_ENOMEM;
            goto out;
        }
    }
    if (out->records) {
        json_object_array_sort(out->records, compare_names);
    }
out:
    json_object_put(root);
    return ret;
}

int ser_license_record(const struct ser_summary *s,
                       int64_t as_of_ms,
                       struct json_object **out,
                       char *why,
                       size_t why_len)
{
    struct json_object *rec;
    struct json_object *copy = NULL;
    char ts[40];
    char pct[32];

    *out = NULL;
    if (!s->entitlement) {
        snprintf(why, why_len, "the summary has no entitlement block (or it is not an object)");
        return MS_EINVAL;
    }
    rec = json_object_new_object();
    if (!rec) {
        return MS_ENOMEM;
    }
    ser_format_ts(as_of_ms, ts, sizeof(ts));
    json_object_object_add(rec, "as_of", json_object_new_string(ts));
    if (s->license_start_ms != SER_TIME_UNKNOWN) {
        ser_format_ts(s->license_start_ms, ts, sizeof(ts));
        json_object_object_add(rec, "license_start", json_object_new_string(ts));
    }
    if (s->license_end_ms != SER_TIME_UNKNOWN) {
        int64_t left = s->license_end_ms - as_of_ms;

        ser_format_ts(s->license_end_ms, ts, sizeof(ts));
        json_object_object_add(rec, "license_end", json_object_new_string(ts));
        json_object_object_add(rec, "days_left",
                               json_object_new_int64(left > 0 ? left / SER_DAY_MS : 0));
    }
    json_object_object_add(rec, "throughput_used", json_object_new_int64(s->size_total));
    if (s->annual_throughput >= 0) {
        json_object_object_add(rec, "annual_throughput",
                               json_object_new_int64(s->annual_throughput));
        json_object_object_add(rec, "throughput_remaining",
                               json_object_new_int64(s->annual_throughput - s->size_total));
        if (s->annual_throughput > 0) {
            double p = (double)s->size_total * 100.0 / (double)s->annual_throughput;

            snprintf(pct, sizeof(pct), "%.2f", p);
            json_object_object_add(rec, "throughput_used_percent",
                                   json_object_new_double_s(strtod(pct, NULL), pct));
        }
    }
    json_object_object_add(rec, "application_users", json_object_new_int64((int64_t)s->users));
    if (json_object_deep_copy(s->entitlement, &copy, NULL) != 0) {
        json_object_put(rec);
        return MS_ENOMEM;
    }
    json_object_object_add(rec, "entitlement", copy);
    *out = rec;
    return MS_OK;
}
