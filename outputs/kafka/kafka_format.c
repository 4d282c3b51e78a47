/*
 * kafka output, pure part: topic template rendering, message headers, the payload, and the
 * classification of librdkafka errors. No I/O and no globals, so unit tests call these directly.
 */
#include <config.h>

#include <string.h>

#include "../../src/core/ms_err.h"
#include "kafka.h"

#define KAFKA_UNKNOWN "unknown"

/* Placeholders a topic template may use: event fields whose values are short and stable. */
static const char *const topic_fields[] = {"source_type", "vendor", "product", NULL};

static bool topic_literal_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

static bool topic_field_known(const char *name, size_t n)
{
    size_t i;

    for (i = 0; topic_fields[i]; i++) {
        if (strlen(topic_fields[i]) == n && memcmp(topic_fields[i], name, n) == 0) {
            return true;
        }
    }
    return false;
}

/* Returns the string value of a top-level field (borrowed), or NULL when absent or empty. */
static const char *event_field(const struct ms_event *ev, const char *name, size_t n)
{
    struct json_object *v;
    char key[32];
    const char *s;

    if (n == strlen("source_type") && memcmp(name, "source_type", n) == 0 && ev->source_type[0]) {
        return ev->source_type;
    }
    if (!ev->ev || n >= sizeof(key)) {
        return NULL;
    }
    memcpy(key, name, n);
    key[n] = '\0';
    if (!json_object_object_get_ex(ev->ev, key, &v) || !json_object_is_type(v, json_type_string)) {
        return NULL; /* v is borrowed */
    }
    s = json_object_get_string(v);
    return s && s[0] ? s : NULL;
}

/* Appends c at *pos if it fits below KAFKA_TOPIC_MAX. */
static int topic_put(char *out, size_t out_size, size_t *pos, char c)
{
    if (*pos >= KAFKA_TOPIC_MAX || *pos + 1 >= out_size) {
        return MS_ETOOBIG;
    }
    out[(*pos)++] = c;
    return MS_OK;
}

static char topic_safe(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return (char)(c - 'A' + 'a');
    }
    if (c == ':') {
        return '.';
    }
    return topic_literal_ok(c) ? c : (char)'_';
}

/*
 * Walks the template; with ev NULL only checks it (placeholder values count as empty).
 * out may be NULL when ev is NULL.
 */
static int topic_expand(const char *tmpl,
                        const struct ms_event *ev,
                        char *out,
                        size_t out_size,
                        char *why,
                        size_t why_len)
{
    const char *p = tmpl;
    size_t pos = 0;
    size_t literal = 0;
    int ret = MS_OK;

    if (!tmpl[0]) {
        snprintf(why, why_len, "topic template is empty");
        return MS_EINVAL;
    }
    while (*p && ret == MS_OK) {
        if (p[0] == '$' && p[1] == '{') {
            const char *close = strchr(p + 2, '}');
            const char *val;
            size_t n;

            if (!close) {
                snprintf(why, why_len, "unterminated ${ in topic template");
                return MS_EINVAL;
            }
            n = (size_t)(close - (p + 2));
            if (!topic_field_known(p + 2, n)) {
                snprintf(why, why_len,
                         "unknown placeholder ${%.*s} (known: ${source_type}, ${vendor}, "
                         "${product})",
                         (int)(n > 40 ? 40 : n), p + 2);
                return MS_EINVAL;
            }
            if (ev) {
                val = event_field(ev, p + 2, n);
                for (val = val ? val : KAFKA_UNKNOWN; *val && ret == MS_OK; val++) {
                    ret = topic_put(out, out_size, &pos, topic_safe(*val));
                }
            }
            p = close + 1;
            continue;
        }
        if (!topic_literal_ok(*p)) {
            snprintf(why, why_len,
                     "character '%c' is not allowed in a topic name (only A-Z a-z 0-9 . _ - and "
                     "${placeholders})",
                     *p);
            return MS_EINVAL;
        }
        literal++;
        if (ev) {
            ret = topic_put(out, out_size, &pos, *p);
        }
        p++;
    }
    if (literal > KAFKA_TOPIC_MAX) {
        snprintf(why, why_len, "topic template is longer than %d characters", KAFKA_TOPIC_MAX);
        return MS_EINVAL;
    }
    if (ret != MS_OK) {
        snprintf(why, why_len, "rendered topic is longer than %d characters", KAFKA_TOPIC_MAX);
        return ret;
    }
    if (ev) {
        out[pos] = '\0';
        if (strcmp(out, ".") == 0 || strcmp(out, "..") == 0) {
            snprintf(why, why_len, "rendered topic '%s' is not a valid name", out);
            return MS_EINVAL;
        }
    }
    else if (strcmp(tmpl, ".") == 0 || strcmp(tmpl, "..") == 0) {
        snprintf(why, why_len, "'%s' is not a valid topic name", tmpl);
        return MS_EINVAL;
    }
    return MS_OK;
}

int kafka_topic_check(const char *tmpl, char *why, size_t why_len)
{
    return topic_expand(tmpl, NULL, NULL, 0, why, why_len);
}

int kafka_topic_render(const char *tmpl, const struct ms_event *ev, char *out, size_t out_size)
{
    char why[128];
    int ret;

    ret = topic_expand(tmpl, ev, out, out_size, why, sizeof(why));
    if (ret != MS_OK && out_size > 0) {
        out[0] = '\0';
    }
    return ret;
}

static int header_add(rd_kafka_headers_t *hdrs, const char *name, const char *value)
{
    return rd_kafka_header_add(hdrs, name, -1, value, -1) == RD_KAFKA_RESP_ERR_NO_ERROR ? MS_OK
                                                                                        : MS_ENOMEM;
}

rd_kafka_headers_t *kafka_headers_build(const struct kafka_hdr_opts *o, const struct ms_event *ev)
{
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(o->splunk ? 8 : 3);
    const char *vendor = event_field(ev, "vendor", strlen("vendor"));
    const char *product = event_field(ev, "product", strlen("product"));
    int ret;

    if (!hdrs) {
        return NULL;
    }
    ret = header_add(hdrs, "source_type", ev->source_type);
    if (ret == MS_OK && vendor) {
        ret = header_add(hdrs, "vendor", vendor);
    }
    if (ret == MS_OK && product) {
        ret = header_add(hdrs, "product", product);
    }
    if (ret == MS_OK && o->splunk) {
        ret = header_add(hdrs, "splunk.header.sourcetype", ev->source_type);
        if (ret == MS_OK) {
            ret = header_add(hdrs, "splunk.header.source", "msfwd");
        }
        if (ret == MS_OK && o->splunk_index && o->splunk_index[0]) {
            ret = header_add(hdrs, "splunk.header.index", o->splunk_index);
        }
        if (ret == MS_OK && o->splunk_host && o->splunk_host[0]) {
            ret = header_add(hdrs, "splunk.header.host", o->splunk_host);
        }
    }
    if (ret != MS_OK) {
        rd_kafka_headers_destroy(hdrs);
        return NULL;
    }
    return hdrs;
}

int kafka_payload(const struct ms_event *ev,
                  bool include_raw,
                  struct ms_buf *scratch,
                  const char **data,
                  size_t *len)
{
    struct json_object *copy;
    const char *text;
    size_t n;
    int ret;

    if (include_raw && ev->text) {
        *data = ev->text;
        *len = ev->text_len;
        return MS_OK;
    }
    ms_buf_reset(scratch);
    copy = json_object_new_object();
    if (!copy) {
        return MS_ENOMEM;
    }
    if (ev->ev && json_object_is_type(ev->ev, json_type_object)) {
        json_object_object_foreach(ev->ev, key, val) {
            if (include_raw || strcmp(key, "raw") != 0) {
                json_object_object_add(copy, key, json_object_get(val));
            }
        }
    }
    text = json_object_to_json_string_length(
        copy, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    ret = text ? ms_buf_append(scratch, text, n) : MS_ENOMEM;
    json_object_put(copy);
    if (ret == MS_OK) {
        *data = ms_buf_cstr(scratch);
        *len = scratch->len;
    }
    return ret;
}

enum kafka_class kafka_classify(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return KAFKA_C_OK;
    /* This message can never be written as it is. */
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION: /* the topic rendered from this event is invalid */
        return KAFKA_C_DEAD;
    /* The cluster or its configuration refuses us: the operator must act; keep the data. */
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
        return KAFKA_C_REFUSED;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
        return KAFKA_C_AUTH;
    default:
        /* Timeouts, purges, transport errors, leader changes, fatal idempotence errors. */
        return KAFKA_C_RETRY;
    }
}
