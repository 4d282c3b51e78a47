/*
 * Mimecast API pages, pure: request bodies, response pages, fail[] classification, record times
 * and identities. Facts from /work/shared/specs/mimecast-api.md (section numbers below).
 */
#include <config.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../../core/ms_err.h"
#include "mimecast_parse.h"
#include "../../core/ms_time.h"

static const char *const url_keys[] = {"messageId", "date", "userEmailAddress", "url", NULL};
static const char *const attachment_keys[] = {"messageId", "date", "fileHash", "recipientAddress",
                                              NULL};
static const char *const impersonation_keys[] = {"id", NULL};
static const char *const impersonation_fallback[] = {"messageId", "eventTime", "recipientAddress",
                                                     NULL};
static const char *const tracking_keys[] = {"id", NULL};

const struct mc_stream_def mc_streams[MC_STREAM_MAX] = {
    {MC_TTP_URL, "ttp_url", "mimecast:ttp:url", "/api/ttp/url/get-logs", "clickLogs", "date",
     url_keys, NULL},
    {MC_TTP_ATTACHMENT, "ttp_attachment", "mimecast:ttp:attachment", "/api/ttp/attachment/get-logs",
     "attachmentLogs", "date", attachment_keys, NULL},
    {MC_TTP_IMPERSONATION, "ttp_impersonation", "mimecast:ttp:impersonation",
     "/api/ttp/impersonation/get-logs", "impersonationLogs", "eventTime", impersonation_keys,
     impersonation_fallback},
    {MC_MESSAGE_TRACKING, "message_tracking", "mimecast:message-tracking",
     "/api/message-finder/search", "trackedEmails", "received", tracking_keys, NULL},
};

const struct mc_stream_def *mc_stream_find(const char *name)
{
    size_t i;

    for (i = 0; i < MC_STREAM_MAX; i++) {
        if (strcmp(mc_streams[i].name, name) == 0) {
            return &mc_streams[i];
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------------
 * Times (§3.6: responses use yyyy-MM-dd'T'HH:mm:ss+0000, one second resolution)
 */

static bool digits(const char *s, size_t n, int64_t *out)
{
    size_t i;
    int64_t v = 0;

    for (i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

int mc_time_parse(const char *s, int64_t *epoch)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t y, mo, d, h, mi, se, oh = 0, om = 0;
    const char *p;
    int sign = 0;

    if (!s || strlen(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':') {
        return MS_EINVAL;
    }
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se)) {
        return MS_EINVAL;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60) {
        return MS_EINVAL;
    }
    if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) {
        return MS_EINVAL;
    }
    p = s + 19;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) {
            return MS_EINVAL;
        }
        while (isdigit((unsigned char)*p)) {
            p++;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    }
    else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p++;
        if (!digits(p, 2, &oh)) {
            return MS_EINVAL;
        }
        p += 2;
        if (*p == ':') {
            p++;
        }
        if (!digits(p, 2, &om) || oh > 23 || om > 59) {
            return MS_EINVAL;
        }
        p += 2;
    }
    else {
        return MS_EINVAL; /* a time without an offset is ambiguous */
    }
    if (*p != '\0') {
        return MS_EINVAL;
    }
    *epoch = ms_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se -
             sign * (oh * 3600 + om * 60);
    return MS_OK;
}

void mc_time_format(int64_t epoch, char *out, size_t len)
{
    int64_t days = epoch >= 0 ? epoch / 86400 : -((-epoch + 86399) / 86400);
    int64_t secs = epoch - days * 86400;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp + (mp < 10 ? 3 : -9);
    int64_t y = yoe + era * 400 + (m <= 2);

    snprintf(out, len, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld+0000", (long long)y, (long long)m,
             (long long)d, (long long)(secs / 3600), (long long)(secs / 60 % 60),
             (long long)(secs % 60));
}

int mc_record_time(const struct mc_stream_def *def, struct json_object *rec, int64_t *epoch)
{
    struct json_object *v;

    if (!json_object_object_get_ex(rec, def->time_field, &v) || /* borrowed */
        !json_object_is_type(v, json_type_string)) {
        return MS_EINVAL;
    }
    return mc_time_parse(json_object_get_string(v), epoch);
}

/* ------------------------------------------------------------------------------------------
 * Identity
 */

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

static uint64_t fnv_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= b[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* Hashes the named fields; *found counts those present. */
static uint64_t
fnv_fields(uint64_t h, struct json_object *rec, const char *const *fields, int *found)
{
    size_t i;

    *found = 0;
    for (i = 0; fields[i]; i++) {
        struct json_object *v;
        const char *text;

        h = fnv_bytes(h, "\x1f", 1);
        if (!json_object_object_get_ex(rec, fields[i], &v) || !v) { /* borrowed */
            h = fnv_bytes(h, "\x00", 1);
            continue;
        }
        (*found)++;
        text = json_object_is_type(v, json_type_string)
                   ? json_object_get_string(v)
                   : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
        h = fnv_bytes(h, "\x01", 1);
        h = fnv_bytes(h, text, strlen(text));
    }
    return h;
}

uint64_t mc_record_key(const struct mc_stream_def *def, struct json_object *rec)
{
    uint64_t base = fnv_bytes(FNV_OFFSET, def->name, strlen(def->name));
    uint64_t h;
    int found = 0;

    h = fnv_fields(base, rec, def->key_fields, &found);
    if (!found && def->fallback_fields) {
        h = fnv_fields(fnv_bytes(base, "\x02", 1), rec, def->fallback_fields, &found);
    }
    if (!found) {
        const char *text = json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN);

        h = fnv_bytes(fnv_bytes(base, "\x03", 1), text, strlen(text));
    }
    return h ? h : 1;
}

/* ------------------------------------------------------------------------------------------
 * Message tracking details (§7.2)
 */

int mc_risk_rank(const char *risk)
{
    static const char *const ranks[] = {"negligible", "low", "medium", "high"};
    int i;

    for (i = 0; risk && i < 4; i++) {
        if (strcasecmp(risk, ranks[i]) == 0) {
            return i;
        }
    }
    return -1;
}

/* Follows a path of object keys; returns the string at its end (borrowed) or NULL. */
static const char *json_path_string(struct json_object *o, const char *const *path)
{
    size_t i;

    for (i = 0; path[i]; i++) {
        if (!json_object_is_type(o, json_type_object) ||
            !json_object_object_get_ex(o, path[i], &o)) { /* borrowed */
            return NULL;
        }
    }
    if (!json_object_is_type(o, json_type_string) || json_object_get_string_len(o) == 0) {
        return NULL;
    }
    return json_object_get_string(o);
}

const char *mc_info_risk(struct json_object *info)
{
    static const char *const path[] = {"spamInfo", "spamProcessingDetail", "verdict", "risk", NULL};

    return json_path_string(info, path);
}

const char *mc_info_queue_reason(struct json_object *info)
{
    static const char *const path[] = {"queueInfo", "reason", NULL};

    return json_path_string(info, path);
}

/* ------------------------------------------------------------------------------------------
 * Failures (§3.3, §3.4)
 */

static const char *str_member(struct json_object *o, const char *key)
{
    struct json_object *v;

    if (!json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, key, &v) || /* borrowed */
        !json_object_is_type(v, json_type_string)) {
        return NULL;
    }
    return json_object_get_string(v);
}

static bool bool_member(struct json_object *o, const char *key)
{
    struct json_object *v;

    return json_object_is_type(o, json_type_object) &&
           json_object_object_get_ex(o, key, &v) && /* borrowed */
           json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

/* Copies vendor text into a log-safe one-liner (control characters become spaces). */
static void safe_copy(char *out, size_t len, const char *a, const char *sep, const char *b)
{
    size_t i;

    snprintf(out, len, "%s%s%s", a ? a : "", a && b ? sep : "", b ? b : "");
    for (i = 0; out[i]; i++) {
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f) {
            out[i] = ' ';
        }
    }
}

static enum mc_fail_kind classify_code(const char *code, const char *field, bool retryable)
{
    if (code && strcmp(code, "err_xdk_binding_expired") == 0) {
        return MC_FAIL_KEYS_EXPIRED;
    }
    if ((field && strcmp(field, "pageToken") == 0) ||
        (code && (strstr(code, "pagination") || strstr(code, "page_token")))) {
        return MC_FAIL_PAGE_TOKEN;
    }
    if (code && (strncmp(code, "err_xdk_", 8) == 0 || strcmp(code, "err_developer_key") == 0 ||
                 strcmp(code, "token_expired") == 0 || strcmp(code, "unauthorized") == 0 ||
                 strcmp(code, "invalid_client") == 0 || strcmp(code, "invalid_token") == 0)) {
        return MC_FAIL_AUTH;
    }
    if (retryable || (code && (strstr(code, "rate_limit") || strstr(code, "throttl")))) {
        return MC_FAIL_RETRYABLE;
    }
    return MC_FAIL_OTHER;
}

static enum mc_fail_kind classify_item(struct json_object *item, char *desc, size_t len)
{
    struct json_object *errors;
    struct json_object *e = item;

    if (json_object_is_type(item, json_type_string)) {
        safe_copy(desc, len, json_object_get_string(item), "", NULL);
        return MC_FAIL_OTHER;
    }
    if (!json_object_is_type(item, json_type_object)) {
        safe_copy(desc, len, "fail[] item of an unexpected type", "", NULL);
        return MC_FAIL_OTHER;
    }
    if (json_object_object_get_ex(item, "errors", &errors) && /* borrowed */
        json_object_is_type(errors, json_type_array) && json_object_array_length(errors) > 0) {
        e = json_object_array_get_idx(errors, 0); /* borrowed */
    }
    safe_copy(desc, len, str_member(e, "code"), ": ", str_member(e, "message"));
    if (!desc[0]) {
        safe_copy(desc, len, "fail[] without code or message", "", NULL);
    }
    return classify_code(str_member(e, "code"), str_member(e, "field"),
                         bool_member(e, "retryable"));
}

enum mc_fail_kind mc_fail_classify(struct json_object *root, char *desc, size_t desc_len)
{
    struct json_object *fail;
    struct json_object *meta;
    struct json_object *v;
    int status = 0;

    desc[0] = '\0';
    if (!json_object_is_type(root, json_type_object)) {
        return MC_FAIL_NONE;
    }
    if (json_object_object_get_ex(root, "fail", &fail)) { /* borrowed */
        if (json_object_is_type(fail, json_type_array) && json_object_array_length(fail) > 0) {
            return classify_item(json_object_array_get_idx(fail, 0), desc, desc_len);
        }
        if (json_object_is_type(fail, json_type_object) ||
            (json_object_is_type(fail, json_type_string) && json_object_get_string_len(fail))) {
            return classify_item(fail, desc, desc_len);
        }
    }
    if (json_object_object_get_ex(root, "error", &v) && /* borrowed */
        json_object_is_type(v, json_type_object)) {
        return classify_item(v, desc, desc_len);
    }
    if (str_member(root, "detail")) { /* API 2.0 gateway: {"detail": "Over throttling limit"} */
        safe_copy(desc, desc_len, str_member(root, "detail"), "", NULL);
        return strstr(desc, "throttl") ? MC_FAIL_RETRYABLE : MC_FAIL_OTHER;
    }
    if (json_object_object_get_ex(root, "meta", &meta) && /* borrowed */
        json_object_object_get_ex(meta, "status", &v)) {
        status = json_object_get_int(v);
    }
    if (status == 0 || status == 200) {
        return MC_FAIL_NONE;
    }
    snprintf(desc, desc_len, "meta.status %d", status);
    if (status == 401 || status == 403) {
        return MC_FAIL_AUTH;
    }
    if (status == 418) {
        return MC_FAIL_KEYS_EXPIRED;
    }
    if (status == 429 || status >= 500) {
        return MC_FAIL_RETRYABLE;
    }
    return MC_FAIL_OTHER;
}

/* ------------------------------------------------------------------------------------------
 * Pages (§3.2)
 */

void mc_page_free(struct mc_page *page)
{
    json_object_put(page->root);
    memset(page, 0, sizeof(*page));
}

int mc_page_parse(const char *body,
                  size_t len,
                  const char *list_key,
                  const struct mc_parse_opts *opts,
                  struct mc_page *page,
                  char *why,
                  size_t why_len)
{
    struct json_tokener *tok = NULL;
    struct json_object *root = NULL;
    struct json_object *meta;
    struct json_object *pag;
    struct json_object *data;
    struct json_object *first;
    struct json_object *list;
    struct json_object *v;
    enum json_tokener_error jerr;
    size_t end;
    int ret = MS_EINVAL;

    memset(page, 0, sizeof(*page));
    page->total = -1;
    if (opts && opts->max_bytes && len > opts->max_bytes) {
        snprintf(why, why_len, "body of %zu bytes is larger than the cap of %zu bytes", len,
                 opts->max_bytes);
        return MS_ETOOBIG;
    }
    if (len == 0) {
        snprintf(why, why_len, "empty body");
        return MS_EINVAL;
    }
    if (len > (size_t)INT32_MAX) {
        snprintf(why, why_len, "body of %zu bytes is too large to parse", len);
        return MS_ETOOBIG;
    }
    tok = json_tokener_new();
    if (!tok) {
        snprintf(why, why_len, "out of memory");
        return MS_ENOMEM;
    }
    root = json_tokener_parse_ex(tok, body, (int)len);
    jerr = json_tokener_get_error(tok);
    end = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue) {
        snprintf(why, why_len, "truncated JSON: the body ends after %zu bytes inside the document",
                 len);
        goto out;
    }
    if (jerr != json_tokener_success || !root) {
        snprintf(why, why_len, "invalid JSON at byte %zu: %s", end, json_tokener_error_desc(jerr));
        goto out;
    }
    while (end < len && isspace((unsigned char)body[end])) {
        end++;
    }
    if (end < len) {
        snprintf(why, why_len, "invalid JSON: unexpected bytes after the document at byte %zu",
                 end);
        goto out;
    }
    if (!json_object_is_type(root, json_type_object)) {
        snprintf(why, why_len, "the body is JSON but not an object");
        goto out;
    }
    if (json_object_object_get_ex(root, "meta", &meta)) { /* borrowed */
        if (json_object_object_get_ex(meta, "status", &v)) {
            page->meta_status = json_object_get_int(v);
        }
        if (json_object_object_get_ex(meta, "pagination", &pag) &&
            json_object_is_type(pag, json_type_object)) {
            if (json_object_object_get_ex(pag, "next", &v) &&
                json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0) {
                page->next = json_object_get_string(v);
            }
            if (json_object_object_get_ex(pag, "totalCount", &v) &&
                json_object_is_type(v, json_type_int)) {
                page->total = json_object_get_int64(v);
            }
        }
    }
    page->fail = mc_fail_classify(root, page->fail_desc, sizeof(page->fail_desc));
    /* With a failure the data is still read when it is well formed (get-message-info answers
     * found ids in data[] and missing ones in fail[]); shape errors only matter without one. */
    if (!json_object_object_get_ex(root, "data", &data) || /* borrowed */
        !json_object_is_type(data, json_type_array)) {
        if (page->fail != MC_FAIL_NONE) {
            ret = MS_OK;
            goto out;
        }
        snprintf(why, why_len, "not a Mimecast page: no data array");
        goto out;
    }
    if (json_object_array_length(data) == 0) {
        ret = MS_OK; /* the last-page quirk, or nothing in the window */
        goto out;
    }
    list = data;
    if (list_key) {
        first = json_object_array_get_idx(data, 0); /* borrowed */
        if (!json_object_is_type(first, json_type_object) ||
            !json_object_object_get_ex(first, list_key, &list) || /* borrowed */
            !json_object_is_type(list, json_type_array)) {
            if (page->fail != MC_FAIL_NONE) {
                ret = MS_OK;
                goto out;
            }
            snprintf(why, why_len, "not a Mimecast page: data[0] has no %s array", list_key);
            goto out;
        }
    }
    page->n_records = json_object_array_length(list);
    if (opts && opts->max_records && page->n_records > opts->max_records) {
        snprintf(why, why_len, "page holds %zu records, more than the cap of %zu", page->n_records,
                 opts->max_records);
        ret = MS_ETOOBIG;
        goto out;
    }
    page->records = page->n_records ? list : NULL;
    ret = MS_OK;
out:
    if (tok) {
        json_tokener_free(tok); /* json-c 0.16 dereferences NULL */
    }
    if (ret == MS_OK) {
        page->root = root;
    }
    else {
        json_object_put(root);
        memset(page, 0, sizeof(*page));
        page->total = -1;
    }
    return ret;
}

/* ------------------------------------------------------------------------------------------
 * Requests (§3.1, §4-§7)
 */

static int add_str(struct json_object *o, const char *key, const char *value)
{
    struct json_object *v = json_object_new_string(value);

    if (!v) {
        return MS_ENOMEM;
    }
    return json_object_object_add(o, key, v) == 0 ? MS_OK : MS_ENOMEM;
}

static int add_time(struct json_object *o, const char *key, int64_t epoch)
{
    char text[40];

    mc_time_format(epoch, text, sizeof(text));
    return add_str(o, key, text);
}

static int add_list(struct json_object *o, const char *key, const struct ms_strlist *l)
{
    struct json_object *arr = json_object_new_array();
    size_t i;

    if (!arr) {
        return MS_ENOMEM;
    }
    for (i = 0; i < l->n; i++) {
        struct json_object *v = json_object_new_string(l->items[i]);

        if (!v || json_object_array_add(arr, v) != 0) {
            json_object_put(v);
            json_object_put(arr);
            return MS_ENOMEM;
        }
    }
    return json_object_object_add(o, key, arr) == 0 ? MS_OK : MS_ENOMEM;
}

static int append_json(struct json_object *root, struct ms_buf *out)
{
    size_t n = 0;
    const char *text = json_object_to_json_string_length(root, JSON_C_TO_STRING_PLAIN, &n);

    if (!text) {
        return MS_ENOMEM;
    }
    return ms_buf_append(out, text, n);
}

static int
build_filter(const struct mc_stream_def *def, const struct mc_query *q, struct json_object *item)
{
    struct json_object *opts;
    int ret = MS_OK;

    if (def->id == MC_MESSAGE_TRACKING) {
        /* message-finder search: start/end; one of messageId or advancedTrackAndTraceOptions */
        ret = add_time(item, "start", q->from);
        if (ret == MS_OK) {
            ret = add_time(item, "end", q->to);
        }
        opts = json_object_new_object();
        if (!opts || json_object_object_add(item, "advancedTrackAndTraceOptions", opts) != 0) {
            json_object_put(opts);
            return MS_ENOMEM;
        }
        if (ret == MS_OK && q->track_field && q->track_value) {
            ret = add_str(opts, q->track_field, q->track_value);
        }
        if (ret == MS_OK && q->track_status && q->track_status->n) {
            ret = add_list(item, "status", q->track_status);
        }
        if (ret == MS_OK && q->track_route && q->track_route->n) {
            ret = add_list(item, "route", q->track_route);
        }
    }
    else {
        ret = add_time(item, "from", q->from);
        if (ret == MS_OK) {
            ret = add_time(item, "to", q->to);
        }
        if (ret == MS_OK && def->id != MC_TTP_IMPERSONATION && q->route) {
            ret = add_str(item, "route", q->route);
        }
        if (ret == MS_OK && def->id == MC_TTP_ATTACHMENT && q->result) {
            ret = add_str(item, "result", q->result);
        }
        if (ret == MS_OK && def->id == MC_TTP_URL && q->scan_result) {
            ret = add_str(item, "scanResult", q->scan_result);
        }
        if (ret == MS_OK && def->id == MC_TTP_IMPERSONATION && q->tagged_malicious) {
            struct json_object *b =
                json_object_new_boolean(strcmp(q->tagged_malicious, "true") == 0);

            if (!b || json_object_object_add(item, "taggedMalicious", b) != 0) {
                json_object_put(b);
                ret = MS_ENOMEM;
            }
        }
    }
    if (ret == MS_OK) {
        /* Oldest first makes the walk's progress a time: a refused token resumes there. */
        struct json_object *b = json_object_new_boolean(1);

        if (!b || json_object_object_add(item, "oldestFirst", b) != 0) {
            json_object_put(b);
            ret = MS_ENOMEM;
        }
    }
    return ret;
}

int mc_request_build(const struct mc_stream_def *def, const struct mc_query *q, struct ms_buf *out)
{
    struct json_object *root = json_object_new_object();
    struct json_object *meta = json_object_new_object();
    struct json_object *pag = json_object_new_object();
    struct json_object *data = json_object_new_array();
    struct json_object *item = json_object_new_object();
    struct json_object *size;
    int ret = MS_ENOMEM;

    if (!root || !meta || !pag || !data || !item) {
        json_object_put(meta);
        json_object_put(pag);
        json_object_put(data);
        json_object_put(item);
        goto out;
    }
    json_object_object_add(root, "meta", meta);
    json_object_object_add(meta, "pagination", pag);
    json_object_object_add(root, "data", data);
    if (json_object_array_add(data, item) != 0) {
        json_object_put(item);
        goto out;
    }
    size = json_object_new_int64(q->page_size);
    if (!size || json_object_object_add(pag, "pageSize", size) != 0) {
        json_object_put(size);
        goto out;
    }
    if (q->page_token && add_str(pag, "pageToken", q->page_token) != MS_OK) {
        goto out;
    }
    ret = build_filter(def, q, item);
    if (ret == MS_OK) {
        ret = append_json(root, out);
    }
out:
    json_object_put(root);
    return ret;
}

int mc_info_request_build(const char *const *ids, size_t n, struct ms_buf *out)
{
    struct json_object *root = json_object_new_object();
    struct json_object *data = json_object_new_array();
    size_t i;
    int ret = MS_ENOMEM;

    if (!root || !data) {
        json_object_put(data);
        goto out;
    }
    json_object_object_add(root, "data", data);
    for (i = 0; i < n; i++) {
        struct json_object *item = json_object_new_object();

        if (!item || json_object_array_add(data, item) != 0) {
            json_object_put(item);
            goto out;
        }
        if (add_str(item, "id", ids[i]) != MS_OK) {
            goto out;
        }
    }
    ret = append_json(root, out);
out:
    json_object_put(root);
    return ret;
}
