/* pps input, pure part: quarantine pages -> records, dates, the dedupe set, window arithmetic. */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../core/ms_err.h"
#include "../../core/ms_json.h"
#include "pps_parse.h"
#include "../../core/ms_time.h"

static const char *const number_fields[] = {"size", "spamscore", "phishscore", NULL};

static bool two_digits(const char *p, int64_t *out)
{
    if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1])) {
        return false;
    }
    *out = (p[0] - '0') * 10 + (p[1] - '0');
    return true;
}

int pps_parse_date(const char *s, int offset_min, int64_t *out)
{
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t c;
    int64_t yy;
    int64_t mo;
    int64_t d;
    int64_t h;
    int64_t mi;
    int64_t sec;
    unsigned dim;

    if (!s || strlen(s) != 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') ||
        s[13] != ':' || s[16] != ':') {
        return MS_EINVAL;
    }
    if (!two_digits(s, &c) || !two_digits(s + 2, &yy) || !two_digits(s + 5, &mo) ||
        !two_digits(s + 8, &d) || !two_digits(s + 11, &h) || !two_digits(s + 14, &mi) ||
        !two_digits(s + 17, &sec)) {
        return MS_EINVAL;
    }
    yy += c * 100;
    if (mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 59) {
        return MS_EINVAL;
    }
    dim = mdays[mo - 1];
    if (mo == 2 && ((yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0)) {
        dim = 29;
    }
    if (d < 1 || d > dim) {
        return MS_EINVAL;
    }
    *out = ms_days_from_civil(yy, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec -
           (int64_t)offset_min * 60;
    return MS_OK;
}

void pps_format_date(int64_t t, int offset_min, char *out, size_t len)
{
    time_t local = (time_t)(t + (int64_t)offset_min * 60);
    struct tm tm;

    gmtime_r(&local, &tm);
    snprintf(out, len, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ------------------------------------------------------------------------------------------ */

/* Digit string -> integer; anything else is left alone (returns false). */
static bool digits_value(struct json_object *v, int64_t *out)
{
    const char *s;
    char *end;
    long long n;

    if (!json_object_is_type(v, json_type_string)) {
        return false;
    }
    s = json_object_get_string(v);
    if (!isdigit((unsigned char)s[0]) && !(s[0] == '-' && isdigit((unsigned char)s[1]))) {
        return false;
    }
    errno = 0;
    n = strtoll(s, &end, 10);
    if (errno || *end != '\0') {
        return false;
    }
    *out = n;
    return true;
}

static void numbers_to_ints(struct json_object *obj, const char *const *keys)
{
    struct json_object *v;
    int64_t n;
    size_t i;

    for (i = 0; keys[i]; i++) {
        if (json_object_object_get_ex(obj, keys[i], &v) && digits_value(v, &n)) { /* borrowed */
            json_object_object_add(obj, keys[i], json_object_new_int64(n));
        }
    }
}

/* "a@x.com, b@y.com" -> ["a@x.com", "b@y.com"]. Returns NULL on allocation failure. */
static struct json_object *split_rcpts(const char *s)
{
    struct json_object *arr = json_object_new_array();
    const char *p = s;

    while (arr && *p) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *a = p;
        const char *b = end;

        while (a < b && isspace((unsigned char)*a)) {
            a++;
        }
        while (b > a && isspace((unsigned char)b[-1])) {
            b--;
        }
        if (b > a && json_object_array_add(arr, json_object_new_string_len(a, (int)(b - a)))) {
            json_object_put(arr);
            return NULL;
        }
        p = comma ? comma + 1 : end;
    }
    return arr;
}

/*
 * Validates and normalizes one record in place. Returns MS_OK with *date, MS_EINVAL with why,
 * MS_ENOMEM.
 */
static int normalize_record(struct json_object *rec,
                            const char *folder,
                            int offset_min,
                            int64_t *date,
                            char *why,
                            size_t why_len)
{
    static const char *const status_numbers[] = {"status", "id", NULL};
    struct json_object *v;
    size_t i;

    if (!json_object_is_type(rec, json_type_object)) {
        snprintf(why, why_len, "a record is not a JSON object");
        return MS_EINVAL;
    }
    if (!json_object_object_get_ex(rec, "guid", &v) || /* borrowed */
        !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0) {
        snprintf(why, why_len, "a record has no guid");
        return MS_EINVAL;
    }
    if (!json_object_object_get_ex(rec, "date", &v) || /* borrowed */
        !json_object_is_type(v, json_type_string) ||
        pps_parse_date(json_object_get_string(v), offset_min, date) != MS_OK) {
        snprintf(why, why_len, "record %.40s: date %.40s is not YYYY-MM-DD HH:MM:SS",
                 pps_record_guid(rec), v ? json_object_to_json_string(v) : "(none)");
        return MS_EINVAL;
    }
    numbers_to_ints(rec, number_fields);
    if (json_object_object_get_ex(rec, "rcpts", &v) && /* borrowed */
        json_object_is_type(v, json_type_string)) {
        struct json_object *arr = split_rcpts(json_object_get_string(v));

        if (!arr) {
            return MS_ENOMEM;
        }
        json_object_object_add(rec, "rcpts", arr);
    }
    if (json_object_object_get_ex(rec, "messagestatus", &v) && /* borrowed */
        json_object_is_type(v, json_type_array)) {
        for (i = 0; i < json_object_array_length(v); i++) {
            struct json_object *st = json_object_array_get_idx(v, i);

            if (json_object_is_type(st, json_type_object)) {
                numbers_to_ints(st, status_numbers);
            }
        }
    }
    if (!json_object_object_get_ex(rec, "folder", &v) || /* borrowed */
        !json_object_is_type(v, json_type_string)) {
        json_object_object_add(rec, "folder", json_object_new_string(folder));
    }
    return MS_OK;
}

const char *pps_record_guid(struct json_object *rec)
{
    struct json_object *v;

    if (json_object_object_get_ex(rec, "guid", &v) && json_object_is_type(v, json_type_string)) {
        return json_object_get_string(v); /* borrowed */
    }
    return "";
}

void pps_page_free(struct pps_page *p)
{
    json_object_put(p->records);
    free(p->dates);
    p->records = NULL;
    p->dates = NULL;
}

static int64_t lenient_int(struct json_object *v)
{
    int64_t n;

    if (json_object_is_type(v, json_type_int)) {
        return json_object_get_int64(v);
    }
    if (digits_value(v, &n)) {
        return n;
    }
    return -1;
}

int pps_parse_page(const char *text,
                   size_t len,
                   const char *folder,
                   int offset_min,
                   struct pps_page *out,
                   char *why,
                   size_t why_len)
{
    struct json_object *root;
    struct json_object *recs = NULL;
    struct json_object *v;
    size_t n;
    size_t i;
    int ret = MS_OK;

    memset(out, 0, sizeof(*out));
    out->count = -1;
    out->meta_limit = -1;
    root = ms_json_parse_one(text, len, why, why_len);
    if (!root) {
        return MS_EINVAL;
    }
    if (json_object_is_type(root, json_type_array)) {
        recs = root;
    }
    else if (json_object_is_type(root, json_type_object)) {
        if (json_object_object_get_ex(root, "records", &recs)) { /* borrowed */
            if (json_object_is_type(recs, json_type_null)) {
                recs = NULL;
            }
            else if (!json_object_is_type(recs, json_type_array)) {
                snprintf(why, why_len, "records is not an array");
                ret = MS_EINVAL;
                goto out;
            }
        }
        else if (!json_object_object_get_ex(root, "count", NULL)) {
            snprintf(why, why_len, "neither records nor count in the body");
            ret = MS_EINVAL;
            goto out;
        }
        if (json_object_object_get_ex(root, "count", &v)) { /* borrowed */
            out->count = lenient_int(v);
        }
        if (json_object_object_get_ex(root, "meta", &v) && /* borrowed */
            json_object_object_get_ex(v, "limit", &v)) {
            out->meta_limit = lenient_int(v);
        }
    }
    else {
        snprintf(why, why_len, "the body is neither a JSON object nor an array");
        ret = MS_EINVAL;
        goto out;
    }
    n = recs ? json_object_array_length(recs) : 0;
    out->returned = n;
    out->records = json_object_new_array_ext(n ? (int)n : 1);
    out->dates = calloc(n ? n : 1, sizeof(*out->dates));
    if (!out->records || !out->dates) {
        ret = MS_ENOMEM;
        goto out;
    }
    /* Newest first on the wire: walk backwards to hand them on oldest first. */
    for (i = n; i-- > 0;) {
        struct json_object *rec = json_object_array_get_idx(recs, i);
        char reason[sizeof(out->reject_reason)];
        int64_t date = 0;
        int rc;

        rc = normalize_record(rec, folder, offset_min, &date, reason, sizeof(reason));
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
        out->dates[json_object_array_length(out->records)] = date;
        if (json_object_array_add(out->records, json_object_get(rec)) != 0) {
            json_object_put(rec);
            ret = MS_ENOMEM;
            goto out;
        }
    }
out:
    json_object_put(root);
    return ret;
}

bool pps_page_full(const struct pps_page *p, int64_t limit)
{
    if (p->meta_limit > 0 && p->meta_limit < limit) {
        limit = p->meta_limit;
    }
    return (int64_t)p->returned >= limit || p->count > (int64_t)p->returned;
}

bool pps_page_suspect(const struct pps_page *p, int64_t max_seen)
{
    return p->returned >= 100 && (int64_t)p->returned >= max_seen;
}

/* ------------------------------------------------------------------------------------------ */

bool pps_seen_has(struct json_object *seen, const char *guid)
{
    return json_object_object_get_ex(seen, guid, NULL);
}

int pps_seen_add(struct json_object *seen, const char *guid, int64_t date)
{
    struct json_object *v = json_object_new_int64(date);

    if (!v) {
        return MS_ENOMEM;
    }
    return json_object_object_add(seen, guid, v) == 0 ? MS_OK : MS_ENOMEM;
}

struct seen_entry {
    char *guid;
    int64_t date;
};

static int by_date(const void *a, const void *b)
{
    const struct seen_entry *x = a;
    const struct seen_entry *y = b;

    if (x->date != y->date) {
        return x->date < y->date ? -1 : 1;
    }
    return strcmp(x->guid, y->guid);
}

/*
 * Removes the first `drop` entries in date order among those dated before `before` (all of them
 * when drop is SIZE_MAX). Entries are collected first: json-c objects must not change while they
 * are iterated.
 */
static size_t seen_remove(struct json_object *seen, int64_t before, size_t drop)
{
    struct seen_entry *list;
    size_t n = 0;
    size_t cap = (size_t)json_object_object_length(seen);
    size_t i;

    if (cap == 0) {
        return 0;
    }
    list = calloc(cap, sizeof(*list));
    if (!list) {
        return 0;
    }
    json_object_object_foreach(seen, key, val) {
        int64_t d = json_object_get_int64(val);

        if (d < before && n < cap) {
            list[n].guid = strdup(key);
            list[n].date = d;
            if (!list[n].guid) {
                break;
            }
            n++;
        }
    }
    if (drop < n) {
        qsort(list, n, sizeof(*list), by_date);
    }
    for (i = 0; i < n; i++) {
        if (i < drop) {
            json_object_object_del(seen, list[i].guid);
        }
        free(list[i].guid);
    }
    free(list);
    return n < drop ? n : drop;
}

size_t pps_seen_prune(struct json_object *seen, int64_t before)
{
    return seen_remove(seen, before, SIZE_MAX);
}

size_t pps_seen_trim(struct json_object *seen, size_t max)
{
    size_t n = (size_t)json_object_object_length(seen);

    if (n <= max) {
        return 0;
    }
    return seen_remove(seen, INT64_MAX, n - max);
}

int64_t pps_piece_end(int64_t pos, int64_t span, int64_t target)
{
    int64_t end = pos + span - 1;

    return end < target ? end : target;
}

int64_t pps_split_end(int64_t pos, int64_t end)
{
    return pos + (end - pos) / 2;
}
