/*
 * Mimecast input, pure parts: page parsing on fixtures (normal, empty, last-page quirk, fail[] with
 * HTTP 200, malformed, truncated, over the cap), fail[] classification, times, identities, request
 * bodies, API 1.0 signing (the spec's test vector), the cursor and seen set, and init refusals.
 */
#include <config.h>

#include "unit.h"

#include <json-c/json.h>

#include "core/ms_config.h"
#include "core/ms_err.h"
#include "core/ms_log.h"
#include "core/ms_plugin.h"
#include "inputs/mimecast/mimecast_auth.h"
#include "inputs/mimecast/mimecast_cursor.h"
#include "inputs/mimecast/mimecast_parse.h"

extern const struct ms_input_plugin in_mimecast_plugin;

/* Reads tests/fixtures/mimecast/pages/<name> (malloc'ed, NUL-terminated). */
static char *fixture(const char *name, size_t *len)
{
    const char *src = getenv("MS_SRCDIR");
    char path[PATH_MAX];
    char *text;
    long n;
    FILE *f;

    snprintf(path, sizeof(path), "%s/tests/fixtures/mimecast/pages/%s", src ? src : ".", name);
    f = fopen(path, "rb");
    if (!f) {
        fail_msg("cannot open fixture %s", path);
    }
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    text = malloc((size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    text[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return text;
}

/* Parses fixture name for stream def; returns the code, page filled on MS_OK. */
static int parse_fixture(const char *name,
                         const char *list_key,
                         const struct mc_parse_opts *opts,
                         struct mc_page *page,
                         char *why,
                         size_t why_len)
{
    size_t len;
    char *text = fixture(name, &len);
    int ret;

    why[0] = '\0';
    ret = mc_page_parse(text, len, list_key, opts, page, why, why_len);
    free(text);
    return ret;
}

static const struct mc_parse_opts default_opts = {64u * 1024 * 1024, 100000};

/* ------------------------------------------------------------------------------------------ */

static void test_parse_normal(void **state)
{
    const struct mc_stream_def *url = mc_stream_find("ttp_url");
    struct mc_page page;
    struct json_object *rec;
    char why[256];
    int64_t t;

    (void)state;
    assert_non_null(url);
    assert_int_equal(
        parse_fixture("url-normal.json", url->list_key, &default_opts, &page, why, sizeof(why)),
        MS_OK);
    assert_int_equal(page.fail, MC_FAIL_NONE);
    assert_int_equal(page.n_records, 2);
    assert_non_null(page.records);
    assert_int_equal(page.total, 5);
    assert_int_equal(page.meta_status, 200);
    assert_non_null(page.next);
    assert_true(strncmp(page.next, "eNpFjkEKgzAQ", 12) == 0);
    rec = json_object_array_get_idx(page.records, 0);
    assert_int_equal(mc_record_time(url, rec, &t), MS_OK);
    assert_int_equal(t, 1731613442); /* 2024-11-14T19:44:02Z */
    rec = json_object_array_get_idx(page.records, 1);
    assert_int_equal(mc_record_time(url, rec, &t), MS_OK);
    assert_int_equal(t, 1731613510);
    mc_page_free(&page);
    assert_null(page.root);
}

static void test_parse_each_stream(void **state)
{
    static const struct {
        const char *stream;
        const char *file;
        size_t n;
        int64_t t0;
    } cases[] = {
        {"ttp_attachment", "attachment-v2.json", 2, 1731813800},    /* 2024-11-17T03:23:20Z */
        {"ttp_impersonation", "impersonation.json", 1, 1634141527}, /* 2021-10-13T16:12:07Z */
        {"message_tracking", "tracking.json", 1, 1658150700},       /* 2022-07-18T13:25:00Z */
    };
    struct mc_page page;
    char why[256];
    size_t i;
    int64_t t;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct mc_stream_def *def = mc_stream_find(cases[i].stream);

        assert_non_null(def);
        assert_int_equal(
            parse_fixture(cases[i].file, def->list_key, &default_opts, &page, why, sizeof(why)),
            MS_OK);
        assert_int_equal(page.fail, MC_FAIL_NONE);
        assert_int_equal(page.n_records, cases[i].n);
        assert_int_equal(mc_record_time(def, json_object_array_get_idx(page.records, 0), &t),
                         MS_OK);
        assert_int_equal(t, cases[i].t0);
        mc_page_free(&page);
    }
    /* tracking has no next: the walk ends there */
    assert_int_equal(
        parse_fixture("tracking.json", "trackedEmails", &default_opts, &page, why, sizeof(why)),
        MS_OK);
    assert_null(page.next);
    assert_int_equal(page.total, -1);
    mc_page_free(&page);
    assert_string_equal(mc_stream_find("message_tracking")->source_type,
                        "mimecast:message-tracking");
    assert_string_equal(mc_stream_find("ttp_attachment")->source_type, "mimecast:ttp:attachment");
    assert_null(mc_stream_find("held"));
}

static void test_parse_empty_and_last_page_quirk(void **state)
{
    struct mc_page page;
    char why[256];

    (void)state;
    assert_int_equal(
        parse_fixture("empty.json", "clickLogs", &default_opts, &page, why, sizeof(why)), MS_OK);
    assert_int_equal(page.fail, MC_FAIL_NONE);
    assert_int_equal(page.n_records, 0);
    assert_null(page.records);
    assert_null(page.next);
    mc_page_free(&page);

    /* §3.2 trap 1: "next" on a page whose data is [] */
    assert_int_equal(
        parse_fixture("last-page-quirk.json", "clickLogs", &default_opts, &page, why, sizeof(why)),
        MS_OK);
    assert_int_equal(page.fail, MC_FAIL_NONE);
    assert_int_equal(page.n_records, 0);
    assert_string_equal(page.next, "next");
    mc_page_free(&page);
}

static void test_parse_fail_with_200(void **state)
{
    static const struct {
        const char *file;
        enum mc_fail_kind kind;
        const char *desc;
    } cases[] = {
        {"fail-200.json", MC_FAIL_OTHER, "err_validation_invalid_date: from is not a valid date"},
        {"fail-token-expired.json", MC_FAIL_AUTH, "token_expired: The access token has expired"},
        {"fail-binding-expired.json", MC_FAIL_KEYS_EXPIRED,
         "err_xdk_binding_expired: Binding "
         "Expired"},
        {"fail-page-token.json", MC_FAIL_PAGE_TOKEN,
         "err_pagination_invalid_token: The page "
         "token is not valid"},
        /* the newline of the vendor's message must not split our log line */
        {"fail-retryable.json", MC_FAIL_RETRYABLE,
         "err_internal_server_error: Internal Server "
         "Error line two"},
        {"meta-status-only.json", MC_FAIL_AUTH, "meta.status 403"},
        {"throttled-detail.json", MC_FAIL_RETRYABLE, "Over throttling limit (10000/hour)"},
    };
    struct mc_page page;
    char why[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(
            parse_fixture(cases[i].file, "clickLogs", &default_opts, &page, why, sizeof(why)),
            MS_OK);
        assert_int_equal(page.fail, cases[i].kind);
        assert_string_equal(page.fail_desc, cases[i].desc);
        assert_int_equal(page.n_records, 0);
        mc_page_free(&page);
    }
}

static void test_parse_message_info(void **state)
{
    struct mc_page page;
    struct json_object *info;
    char why[256];

    (void)state;
    /* found ids in data[], a missing one in fail[]: the data is still usable */
    assert_int_equal(
        parse_fixture("message-info.json", NULL, &default_opts, &page, why, sizeof(why)), MS_OK);
    assert_int_equal(page.fail, MC_FAIL_OTHER);
    assert_int_equal(page.n_records, 2);
    info = json_object_array_get_idx(page.records, 0);
    assert_string_equal(mc_info_risk(info), "high");
    assert_string_equal(mc_info_queue_reason(info), "Message Hold Applied - Spam Signature policy");
    info = json_object_array_get_idx(page.records, 1);
    assert_null(mc_info_risk(info));
    assert_null(mc_info_queue_reason(info));
    mc_page_free(&page);
    assert_int_equal(mc_risk_rank("negligible"), 0);
    assert_int_equal(mc_risk_rank("Low"), 1);
    assert_int_equal(mc_risk_rank("medium"), 2);
    assert_int_equal(mc_risk_rank("high"), 3);
    assert_int_equal(mc_risk_rank("critical"), -1);
    assert_int_equal(mc_risk_rank(NULL), -1);
}

static void test_parse_malformed_truncated(void **state)
{
    const char *cases[] = {"malformed.json", "truncated.json", "wrong-shape.json"};
    const char *expect[] = {"invalid JSON", "truncated JSON", "data[0] has no clickLogs array"};
    struct mc_page page;
    char why[256];
    size_t i;

    (void)state;
    for (i = 0; i < 3; i++) {
        assert_int_equal(
            parse_fixture(cases[i], "clickLogs", &default_opts, &page, why, sizeof(why)),
            MS_EINVAL);
        assert_non_null(strstr(why, expect[i]));
        assert_null(page.root);
    }
    assert_int_equal(
        mc_page_parse("{} trailing", 11, "clickLogs", &default_opts, &page, why, sizeof(why)),
        MS_EINVAL);
    assert_non_null(strstr(why, "after the document"));
    assert_int_equal(mc_page_parse("[1,2]", 5, "clickLogs", &default_opts, &page, why, sizeof(why)),
                     MS_EINVAL);
    assert_int_equal(mc_page_parse("", 0, "clickLogs", &default_opts, &page, why, sizeof(why)),
                     MS_EINVAL);
    assert_int_equal(
        mc_page_parse("{\"meta\":{}}", 11, "clickLogs", &default_opts, &page, why, sizeof(why)),
        MS_EINVAL);
    assert_non_null(strstr(why, "no data array"));
}

static void test_parse_over_the_cap(void **state)
{
    struct mc_parse_opts small_bytes = {512, 100000};
    struct mc_parse_opts one_record = {64u * 1024 * 1024, 1};
    struct mc_page page;
    char why[256];

    (void)state;
    assert_int_equal(
        parse_fixture("url-normal.json", "clickLogs", &small_bytes, &page, why, sizeof(why)),
        MS_ETOOBIG);
    assert_non_null(strstr(why, "larger than the cap of 512 bytes"));
    assert_null(page.root);
    assert_int_equal(
        parse_fixture("url-normal.json", "clickLogs", &one_record, &page, why, sizeof(why)),
        MS_ETOOBIG);
    assert_non_null(strstr(why, "page holds 2 records, more than the cap of 1"));
    assert_null(page.root);
}

static void test_bad_records_in_a_page(void **state)
{
    const struct mc_stream_def *url = mc_stream_find("ttp_url");
    struct mc_page page;
    char why[256];
    int64_t t;

    (void)state;
    assert_int_equal(
        parse_fixture("bad-records.json", "clickLogs", &default_opts, &page, why, sizeof(why)),
        MS_OK);
    assert_int_equal(page.n_records, 3);
    assert_false(json_object_is_type(json_object_array_get_idx(page.records, 1), json_type_object));
    assert_int_equal(mc_record_time(url, json_object_array_get_idx(page.records, 2), &t),
                     MS_EINVAL);
    mc_page_free(&page);
}

/* ------------------------------------------------------------------------------------------ */

static void test_time(void **state)
{
    int64_t t = 0;
    char out[40];

    (void)state;
    assert_int_equal(mc_time_parse("2024-11-17T20:16:00+0000", &t), MS_OK);
    assert_int_equal(t, 1731874560);
    assert_int_equal(mc_time_parse("2024-11-17T20:16:00Z", &t), MS_OK);
    assert_int_equal(t, 1731874560);
    assert_int_equal(mc_time_parse("2024-11-17T21:16:00+01:00", &t), MS_OK);
    assert_int_equal(t, 1731874560);
    assert_int_equal(mc_time_parse("2024-11-17T15:16:00.123-0500", &t), MS_OK);
    assert_int_equal(t, 1731874560);
    assert_int_equal(mc_time_parse("1970-01-01T00:00:00+0000", &t), MS_OK);
    assert_int_equal(t, 0);
    assert_int_equal(mc_time_parse("2024-02-29T00:00:00Z", &t), MS_OK);
    assert_int_equal(mc_time_parse("2023-02-29T00:00:00Z", &t), MS_EINVAL);
    assert_int_equal(mc_time_parse("2024-11-17T20:16:00", &t), MS_EINVAL); /* no offset */
    assert_int_equal(mc_time_parse("2024-13-01T00:00:00Z", &t), MS_EINVAL);
    assert_int_equal(mc_time_parse("2024-11-17 20:16", &t), MS_EINVAL);
    assert_int_equal(mc_time_parse("2024-11-17T20:16:00+0000x", &t), MS_EINVAL);
    assert_int_equal(mc_time_parse(NULL, &t), MS_EINVAL);
    mc_time_format(1731874560, out, sizeof(out));
    assert_string_equal(out, "2024-11-17T20:16:00+0000");
    mc_time_format(951782400, out, sizeof(out)); /* 2000-02-29 */
    assert_string_equal(out, "2000-02-29T00:00:00+0000");
    for (t = -86400 * 3; t < 4102444800LL; t += 86400 * 37 + 3671) {
        int64_t back = 0;

        mc_time_format(t, out, sizeof(out));
        assert_int_equal(mc_time_parse(out, &back), MS_OK);
        assert_int_equal(back, t);
    }
}

static void test_record_key(void **state)
{
    const struct mc_stream_def *att = mc_stream_find("ttp_attachment");
    const struct mc_stream_def *url = mc_stream_find("ttp_url");
    const struct mc_stream_def *imp = mc_stream_find("ttp_impersonation");
    struct json_object *a = json_tokener_parse(
        "{\"messageId\":\"<m1>\",\"date\":\"2024-11-17T03:23:20+0000\",\"fileHash\":\"ab\","
        "\"recipientAddress\":\"x@y\",\"result\":\"safe\"}");
    struct json_object *b = json_tokener_parse(
        "{\"messageId\":\"<m1>\",\"date\":\"2024-11-17T03:23:20+0000\",\"fileHash\":\"ab\","
        "\"recipientAddress\":\"z@y\",\"result\":\"safe\"}");
    struct json_object *c = json_tokener_parse(
        "{\"result\":\"malicious\",\"recipientAddress\":\"x@y\",\"fileHash\":\"ab\","
        "\"date\":\"2024-11-17T03:23:20+0000\",\"messageId\":\"<m1>\"}");
    struct json_object *i1 = json_tokener_parse("{\"id\":\"MTOKEN:1\",\"subject\":\"a\"}");
    struct json_object *i2 = json_tokener_parse("{\"id\":\"MTOKEN:1\",\"subject\":\"b\"}");
    struct json_object *i3 =
        json_tokener_parse("{\"messageId\":\"<m>\",\"eventTime\":\"2021-10-13T16:12:07+0000\","
                           "\"recipientAddress\":\"r@x\"}");
    struct json_object *n1 = json_tokener_parse("{\"other\":1}");
    struct json_object *n2 = json_tokener_parse("{\"other\":2}");

    (void)state;
    /* same identity fields (another recipient differs), other fields do not count */
    assert_int_not_equal(mc_record_key(att, a), mc_record_key(att, b));
    assert_int_equal(mc_record_key(att, a), mc_record_key(att, c));
    /* the stream is part of the identity */
    assert_int_not_equal(mc_record_key(att, a), mc_record_key(url, a));
    assert_int_equal(mc_record_key(imp, i1), mc_record_key(imp, i2));
    /* impersonation without an id falls back to messageId|eventTime|recipientAddress */
    assert_int_not_equal(mc_record_key(imp, i3), mc_record_key(imp, n1));
    /* nothing known: the record's JSON text */
    assert_int_not_equal(mc_record_key(url, n1), mc_record_key(url, n2));
    assert_int_not_equal(mc_record_key(url, n1), 0);
    /* stable across builds: stored in cursor files */
    assert_int_equal(mc_record_key(imp, i1), mc_record_key(imp, i1));
    json_object_put(a);
    json_object_put(b);
    json_object_put(c);
    json_object_put(i1);
    json_object_put(i2);
    json_object_put(i3);
    json_object_put(n1);
    json_object_put(n2);
}

static struct json_object *build(const char *stream, const struct mc_query *q)
{
    struct ms_buf buf;
    struct json_object *o;

    ms_buf_init(&buf, 64 * 1024);
    assert_int_equal(mc_request_build(mc_stream_find(stream), q, &buf), MS_OK);
    o = json_tokener_parse(ms_buf_cstr(&buf));
    assert_non_null(o);
    ms_buf_free(&buf);
    return o;
}

static const char *jstr(struct json_object *o, const char *pointer)
{
    struct json_object *v = NULL;

    if (json_pointer_get(o, pointer, &v) != 0) {
        return NULL;
    }
    return json_object_get_string(v);
}

static void test_request_build(void **state)
{
    struct ms_strlist status = {NULL, 0};
    struct ms_strlist route = {NULL, 0};
    char *status_items[] = {"held", "bounced"};
    struct mc_query q;
    struct json_object *o;
    struct ms_buf buf;
    const char *ids[] = {"a\"b", "c"};

    (void)state;
    memset(&q, 0, sizeof(q));
    q.from = 1731874560;
    q.to = 1731874620;
    q.page_size = 500;
    q.route = "all";
    q.result = "all";
    q.scan_result = "malicious";
    o = build("ttp_url", &q);
    assert_string_equal(jstr(o, "/meta/pagination/pageSize"), "500");
    assert_null(jstr(o, "/meta/pagination/pageToken"));
    assert_string_equal(jstr(o, "/data/0/from"), "2024-11-17T20:16:00+0000");
    assert_string_equal(jstr(o, "/data/0/to"), "2024-11-17T20:17:00+0000");
    assert_string_equal(jstr(o, "/data/0/scanResult"), "malicious");
    assert_string_equal(jstr(o, "/data/0/route"), "all");
    assert_string_equal(jstr(o, "/data/0/oldestFirst"), "true");
    assert_null(jstr(o, "/data/0/result"));
    json_object_put(o);

    q.page_token = "tok\"en";
    o = build("ttp_attachment", &q);
    assert_string_equal(jstr(o, "/meta/pagination/pageToken"), "tok\"en");
    assert_string_equal(jstr(o, "/data/0/result"), "all");
    assert_null(jstr(o, "/data/0/scanResult"));
    json_object_put(o);

    q.tagged_malicious = "true";
    o = build("ttp_impersonation", &q);
    assert_string_equal(jstr(o, "/data/0/taggedMalicious"), "true");
    assert_null(jstr(o, "/data/0/route"));
    json_object_put(o);

    status.items = status_items;
    status.n = 2;
    q.track_field = "to";
    q.track_value = "acme.example";
    q.track_status = &status;
    q.track_route = &route;
    o = build("message_tracking", &q);
    assert_string_equal(jstr(o, "/data/0/start"), "2024-11-17T20:16:00+0000");
    assert_string_equal(jstr(o, "/data/0/end"), "2024-11-17T20:17:00+0000");
    assert_string_equal(jstr(o, "/data/0/advancedTrackAndTraceOptions/to"), "acme.example");
    assert_string_equal(jstr(o, "/data/0/status/1"), "bounced");
    assert_null(jstr(o, "/data/0/route"));
    assert_null(jstr(o, "/data/0/from"));
    json_object_put(o);

    ms_buf_init(&buf, 1024);
    assert_int_equal(mc_info_request_build(ids, 2, &buf), MS_OK);
    assert_string_equal(ms_buf_cstr(&buf), "{\"data\":[{\"id\":\"a\\\"b\"},{\"id\":\"c\"}]}");
    ms_buf_free(&buf);
}

/* ------------------------------------------------------------------------------------------ */

static void test_hmac_vector(void **state)
{
    /* spec §1.1, computed with Python hmac and openssl dgst */
    const char *secret_b64 = "c2ltdWxhdG9yLXRlc3Qtc2VjcmV0LWtleS0wMTIzNDU2Nzg5";
    unsigned char key[128];
    char sig[MC_SIGNATURE_LEN + 1];
    char date[MC_DATE_LEN];
    size_t key_len = 0;

    (void)state;
    assert_int_equal(mc_b64_decode(secret_b64, key, sizeof(key), &key_len), MS_OK);
    assert_int_equal(key_len, strlen("simulator-test-secret-key-0123456789"));
    assert_memory_equal(key, "simulator-test-secret-key-0123456789", key_len);
    assert_int_equal(mc_hmac_sign(key, key_len, "Tue, 24 Nov 2015 12:50:11 UTC",
                                  "8578FCFC-A305-4D9A-99CB-F4D5ECEFE297", "/api/ttp/url/get-logs",
                                  "00000000-1111-2222-3333-444444444444", sig, sizeof(sig)),
                     MS_OK);
    assert_string_equal(sig, "hMv/W3c9qXgjcexojzB5/pkJIUs=");
    /* the signature covers the path */
    assert_int_equal(mc_hmac_sign(key, key_len, "Tue, 24 Nov 2015 12:50:11 UTC",
                                  "8578FCFC-A305-4D9A-99CB-F4D5ECEFE297",
                                  "/api/ttp/attachment/get-logs",
                                  "00000000-1111-2222-3333-444444444444", sig, sizeof(sig)),
                     MS_OK);
    assert_string_not_equal(sig, "hMv/W3c9qXgjcexojzB5/pkJIUs=");
    assert_int_equal(mc_hmac_sign(key, key_len, "d", "r", "/u", "k", sig, 10), MS_EINVAL);
    mc_http_date(1448369411, date, sizeof(date));
    assert_string_equal(date, "Tue, 24 Nov 2015 12:50:11 UTC");
}

static void test_b64_and_request_id(void **state)
{
    unsigned char out[16];
    char a[MC_REQ_ID_LEN];
    char b[MC_REQ_ID_LEN];
    size_t n = 99;
    size_t i;

    (void)state;
    assert_int_equal(mc_b64_decode("YQ==", out, sizeof(out), &n), MS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 'a');
    assert_int_equal(mc_b64_decode("YWI=", out, sizeof(out), &n), MS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(mc_b64_decode("YWJj", out, sizeof(out), &n), MS_OK);
    assert_int_equal(n, 3);
    assert_int_equal(mc_b64_decode("YQ", out, sizeof(out), &n), MS_EINVAL);   /* no padding */
    assert_int_equal(mc_b64_decode("Y!==", out, sizeof(out), &n), MS_EINVAL); /* bad char */
    assert_int_equal(mc_b64_decode("Y=Q=", out, sizeof(out), &n), MS_EINVAL); /* data after = */
    assert_int_equal(mc_b64_decode("", out, sizeof(out), &n), MS_EINVAL);
    assert_int_equal(mc_b64_decode("YWJjYWJjYWJj", out, 4, &n), MS_EINVAL); /* over cap */
    assert_int_equal(mc_request_id(a, sizeof(a)), MS_OK);
    assert_int_equal(mc_request_id(b, sizeof(b)), MS_OK);
    assert_int_equal(strlen(a), 36);
    assert_string_not_equal(a, b);
    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            assert_int_equal(a[i], '-');
        }
        else {
            assert_non_null(strchr("0123456789ABCDEF", a[i]));
        }
    }
    assert_int_equal(a[14], '4');
}

/* ------------------------------------------------------------------------------------------ */

static void test_seen_set(void **state)
{
    struct mc_seen s;
    struct mc_seen other;
    size_t over = 0;
    uint64_t k;

    (void)state;
    memset(&s, 0, sizeof(s));
    memset(&other, 0, sizeof(other));
    assert_false(mc_seen_has(&s, 42));
    for (k = 1; k <= 5000; k++) {
        assert_int_equal(mc_seen_add(&s, k * 0x9e3779b97f4a7c15ULL, (int64_t)(1000 + k / 10)),
                         MS_OK);
    }
    assert_int_equal(s.n, 5000);
    assert_int_equal(mc_seen_add(&s, 1 * 0x9e3779b97f4a7c15ULL, 5), MS_OK); /* present */
    assert_int_equal(s.n, 5000);
    assert_true(mc_seen_has(&s, 77 * 0x9e3779b97f4a7c15ULL));
    assert_false(mc_seen_has(&s, 5001 * 0x9e3779b97f4a7c15ULL));
    /* forget older than 1400: keys 4000..5000 stay (t = 1400..1500) */
    assert_int_equal(mc_seen_prune(&s, 1400, 100000, &over), MS_OK);
    assert_int_equal(over, 0);
    assert_int_equal(s.n, 1001);
    assert_false(mc_seen_has(&s, 3999 * 0x9e3779b97f4a7c15ULL));
    assert_true(mc_seen_has(&s, 4000 * 0x9e3779b97f4a7c15ULL));
    /* over the bound: the newest stay */
    assert_int_equal(mc_seen_prune(&s, 0, 10, &over), MS_OK);
    assert_int_equal(over, 991);
    assert_int_equal(s.n, 10);
    assert_true(mc_seen_has(&s, 5000 * 0x9e3779b97f4a7c15ULL));
    assert_false(mc_seen_has(&s, 4000 * 0x9e3779b97f4a7c15ULL));
    /* merge */
    assert_int_equal(mc_seen_add(&other, 7, 1), MS_OK);
    assert_int_equal(mc_seen_add(&other, 8, 2), MS_OK);
    assert_int_equal(mc_seen_merge(&s, &other), MS_OK);
    assert_int_equal(s.n, 12);
    assert_true(mc_seen_has(&s, 8));
    mc_seen_reset(&other);
    assert_int_equal(other.n, 0);
    assert_false(mc_seen_has(&other, 8));
    mc_seen_free(&s);
    mc_seen_free(&other);
    mc_seen_free(NULL);
}

static void test_cursor_walks(void **state)
{
    struct mc_cursor c;
    struct mc_page_stats ps;
    bool floored;

    (void)state;
    memset(&c, 0, sizeof(c));
    /* fresh: starts exactly at done (lookback), no overlap; window clamped to window_max */
    c.done = 1000000;
    c.fresh = true;
    mc_cursor_start_walk(&c, 1200000, 600, 86400, INT64_MIN, &floored);
    assert_false(floored);
    assert_true(c.walk.active);
    assert_int_equal(c.walk.from, 1000000);
    assert_int_equal(c.walk.to, 1086400);
    assert_true(c.walk.sorted);
    /* two pages in time order; identical timestamps across the page boundary stay sorted */
    mc_page_stats_init(&ps);
    mc_page_stats_add(&ps, 1000100);
    mc_page_stats_add(&ps, 1000200);
    mc_walk_page_done(&c.walk, &ps);
    assert_int_equal(mc_walk_set_token(&c.walk, "t2"), MS_OK);
    mc_page_stats_init(&ps);
    mc_page_stats_add(&ps, 1000200);
    mc_page_stats_add(&ps, 1000300);
    mc_walk_page_done(&c.walk, &ps);
    assert_true(c.walk.sorted);
    assert_int_equal(c.walk.max_t, 1000300);
    assert_int_equal(c.walk.page, 2);
    /* what the seen set keeps: from the latest record (a restart resumes there) */
    assert_int_equal(mc_cursor_keep_from(&c, 600, 1), 1000300);
    /* multi-lane walks keep everything since the walk's start */
    assert_int_equal(mc_cursor_keep_from(&c, 600, 2), 999400);
    /* a refused token: single-lane sorted walks resume at the latest record time */
    mc_walk_restart(&c.walk, 1);
    assert_null(c.walk.token);
    assert_int_equal(c.walk.from, 1000300);
    /* lane done ends the walk: done = to, not fresh any more */
    assert_true(mc_cursor_lane_done(&c, 1));
    assert_false(c.walk.active);
    assert_false(c.fresh);
    assert_int_equal(c.done, 1086400);
    assert_int_equal(mc_cursor_keep_from(&c, 600, 1), 1085800);
    /* next walk: overlap before done */
    mc_cursor_start_walk(&c, 1090000, 600, 86400, INT64_MIN, &floored);
    assert_int_equal(c.walk.from, 1085800);
    assert_int_equal(c.walk.to, 1090000);
    /* out of order pages: no longer sorted, restart goes back to from */
    mc_page_stats_init(&ps);
    mc_page_stats_add(&ps, 1089000);
    mc_page_stats_add(&ps, 1086000);
    mc_walk_page_done(&c.walk, &ps);
    assert_false(c.walk.sorted);
    assert_int_equal(mc_cursor_keep_from(&c, 600, 1), 1085800);
    mc_walk_restart(&c.walk, 1);
    assert_int_equal(c.walk.from, 1085800);
    /* two lanes: the first lane's end does not end the walk */
    assert_false(mc_cursor_lane_done(&c, 2));
    assert_int_equal(c.walk.lane, 1);
    assert_true(mc_cursor_lane_done(&c, 2));
    assert_int_equal(c.done, 1090000);
    /* a floor (tracking_max_back) cuts an old cursor */
    c.done = 100;
    mc_cursor_start_walk(&c, 1090000, 600, 86400 * 30, 1080000, &floored);
    assert_true(floored);
    assert_int_equal(c.walk.from, 1080000);
    /* the clock went back: never ask for the future */
    c.done = 2000000;
    c.walk.active = false;
    mc_cursor_start_walk(&c, 1090000, 600, 86400, INT64_MIN, &floored);
    assert_int_equal(c.walk.from, 1090000);
    assert_int_equal(c.walk.to, 1090000);
    mc_cursor_free(&c);
}

static void test_cursor_json_roundtrip(void **state)
{
    struct mc_cursor c;
    struct mc_cursor back;
    struct mc_cursor copy;
    struct mc_seen seen;
    struct mc_seen seen_back;
    struct json_object *o;
    struct json_object *bad;
    char why[256];

    (void)state;
    memset(&c, 0, sizeof(c));
    memset(&back, 0, sizeof(back));
    memset(&copy, 0, sizeof(copy));
    memset(&seen, 0, sizeof(seen));
    memset(&seen_back, 0, sizeof(seen_back));
    c.done = 1731874560;
    c.walk.active = true;
    c.walk.from = 1731870000;
    c.walk.to = 1731874560;
    c.walk.lane = 1;
    c.walk.page = 3;
    c.walk.any = true;
    c.walk.max_t = 1731872000;
    c.walk.sorted = false;
    assert_int_equal(mc_walk_set_token(&c.walk, "eNq-token"), MS_OK);
    assert_int_equal(mc_seen_add(&seen, 0xdeadbeefcafef00dULL, 1731872000), MS_OK);
    assert_int_equal(mc_seen_add(&seen, 0x0000000000000001ULL, 1731872000), MS_OK);
    assert_int_equal(mc_seen_add(&seen, 0xffffffffffffffffULL, 1731871000), MS_OK);
    o = mc_cursor_to_json(&c, &seen);
    assert_non_null(o);
    assert_int_equal(mc_cursor_from_json(o, &back, &seen_back, why, sizeof(why)), MS_OK);
    assert_int_equal(back.done, c.done);
    assert_true(back.walk.active);
    assert_int_equal(back.walk.from, c.walk.from);
    assert_int_equal(back.walk.to, c.walk.to);
    assert_int_equal(back.walk.lane, 1);
    assert_int_equal(back.walk.page, 3);
    assert_true(back.walk.any);
    assert_int_equal(back.walk.max_t, c.walk.max_t);
    assert_false(back.walk.sorted);
    assert_string_equal(back.walk.token, "eNq-token");
    assert_int_equal(seen_back.n, 3);
    assert_true(mc_seen_has(&seen_back, 0xdeadbeefcafef00dULL));
    assert_true(mc_seen_has(&seen_back, 0xffffffffffffffffULL));
    assert_int_equal(mc_cursor_copy(&copy, &back), MS_OK);
    assert_string_equal(copy.walk.token, "eNq-token");
    assert_ptr_not_equal(copy.walk.token, back.walk.token);
    json_object_put(o);

    /* refusals name what is wrong */
    bad = json_tokener_parse("{\"done\":\"yesterday\"}");
    assert_int_equal(mc_cursor_from_json(bad, &back, &seen_back, why, sizeof(why)), MS_EINVAL);
    json_object_put(bad);
    bad = json_tokener_parse("{\"done\":1,\"seen\":{\"12\":\"xyz\"}}");
    assert_int_equal(mc_cursor_from_json(bad, &back, &seen_back, why, sizeof(why)), MS_EINVAL);
    assert_non_null(strstr(why, "seen"));
    json_object_put(bad);
    bad = json_tokener_parse("{\"done\":1,\"walk\":{\"from\":1}}");
    assert_int_equal(mc_cursor_from_json(bad, &back, &seen_back, why, sizeof(why)), MS_EINVAL);
    json_object_put(bad);

    mc_cursor_free(&c);
    mc_cursor_free(&back);
    mc_cursor_free(&copy);
    mc_seen_free(&seen);
    mc_seen_free(&seen_back);
}

/* ------------------------------------------------------------------------------------------
 * init refusals (no network is touched)
 */

static int run_init(const char *body, char *errors, size_t len)
{
    char dir[PATH_MAX];
    char path[PATH_MAX];
    char text[4096];
    struct ms_config *cfg = NULL;
    struct ms_cfg_errors errs = {NULL, 0};
    struct ms_instance ins;
    const struct ms_config_map *maps[1] = {in_mimecast_plugin.config_map};
    void *ctxs[1];
    volatile sig_atomic_t stop = 0;
    struct ms_runtime rt = {.state_dir = "/nonexistent", .stop = &stop, .once = true};
    size_t i;
    int ret;

    unit_tmpdir(dir);
    snprintf(text, sizeof(text), "[input.mc]\n%s", body);
    unit_write_file(dir, "t.conf", text, path);
    assert_int_equal(ms_config_load(path, &cfg, &errs), MS_OK);
    memset(&ins, 0, sizeof(ins));
    ins.kind = "input";
    ins.plugin_name = "mimecast";
    snprintf(ins.name, sizeof(ins.name), "mc");
    ins.log_level = -1;
    ins.rt = &rt;
    ins.cfg = cfg;
    ins.sec = ms_config_find(cfg, "input", "mc");
    ins.ctx = calloc(1, in_mimecast_plugin.ctx_size);
    assert_non_null(ins.ctx);
    ctxs[0] = ins.ctx;
    ret = ms_config_apply(cfg, ms_config_find(cfg, "input", "mc"), maps, ctxs, 1, &errs);
    if (ret == MS_OK) {
        ret = in_mimecast_plugin.init(&ins, &errs);
        in_mimecast_plugin.destroy(&ins);
    }
    ms_config_map_free(in_mimecast_plugin.config_map, ins.ctx);
    free(ins.ctx);
    errors[0] = '\0';
    for (i = 0; i < errs.n; i++) {
        size_t used = strlen(errors);

        snprintf(errors + used, len - used, "%s\n", errs.msgs[i]);
    }
    ms_cfg_errors_free(&errs);
    ms_config_destroy(cfg);
    unit_rmtree(dir);
    return ret;
}

static void test_init_refusals(void **state)
{
    char errors[4096];

    (void)state;
    assert_int_equal(
        run_init("client_id = id\nclient_secret = s3cr3t-value\n", errors, sizeof(errors)), MS_OK);
    assert_string_equal(errors, "");
    /* 2.0 without its credentials */
    assert_int_equal(run_init("streams = ttp_url\n", errors, sizeof(errors)), MS_EINVAL);
    assert_non_null(strstr(errors, "[input.mc] client_id: required with api_version = 2"));
    assert_non_null(strstr(errors, "client_secret: required"));
    /* 1.0: keys, base64 secret, the region's host */
    assert_int_equal(run_init("api_version = 1\napp_id = a\n", errors, sizeof(errors)), MS_EINVAL);
    assert_non_null(strstr(errors, "app_key: required with api_version = 1"));
    assert_non_null(strstr(errors, "secret_key: required"));
    assert_non_null(strstr(errors, "base_url: API 1.0 is served by the region's host"));
    assert_int_equal(run_init("api_version = 1\nbase_url = https://eu-api.mimecast.com/\n"
                              "app_id = a\napp_key = k3y-value\naccess_key = acc3ss-key\n"
                              "secret_key = not*base64!\n",
                              errors, sizeof(errors)),
                     MS_EINVAL);
    assert_non_null(strstr(errors, "secret_key: is not base64"));
    assert_null(strstr(errors, "not*base64!")); /* the secret is not echoed */
    assert_int_equal(run_init("api_version = 1\nbase_url = https://eu-api.mimecast.com/\n"
                              "app_id = a\napp_key = k3y-value\naccess_key = acc3ss-key\n"
                              "secret_key = c2ltdWxhdG9yLXRlc3Qtc2VjcmV0LWtleS0wMTIzNDU2Nzg5\n",
                              errors, sizeof(errors)),
                     MS_OK);
    /* cross-key and value refusals */
    assert_int_equal(run_init("client_id = i\nclient_secret = s3cr3t-value\noverlap = 1h\n"
                              "window_max = 30m\n",
                              errors, sizeof(errors)),
                     MS_EINVAL);
    assert_non_null(strstr(errors, "window_max: must be at least overlap + 1m"));
    assert_int_equal(run_init("client_id = i\nclient_secret = s3cr3t-value\n"
                              "streams = ttp_url, ttp_url\n",
                              errors, sizeof(errors)),
                     MS_EINVAL);
    assert_non_null(strstr(errors, "'ttp_url' is listed twice"));
    assert_int_equal(run_init("client_id = i\nclient_secret = s3cr3t-value\nstreams = held\n",
                              errors, sizeof(errors)),
                     MS_EINVAL);
    assert_int_equal(run_init("client_id = i\nclient_secret = s3cr3t-value\nlookback = 31d\n",
                              errors, sizeof(errors)),
                     MS_EINVAL);
    assert_non_null(strstr(errors, "lookback"));
    assert_int_equal(run_init("client_id = i\nclient_secret = s3cr3t-value\n"
                              "ca_file = /nonexistent/ca.pem\n",
                              errors, sizeof(errors)),
                     MS_EINVAL);
    assert_non_null(strstr(errors, "ca_file: cannot read '/nonexistent/ca.pem'"));
    assert_int_equal(run_init("client_id = i\nclient_secret = s3cr3t-value\n"
                              "base_url = ftp://example.com\n",
                              errors, sizeof(errors)),
                     MS_EINVAL);
    assert_non_null(strstr(errors, "is not an http:// or https:// URL"));
    assert_int_equal(run_init("client_id = i\nclient_secret = s3cr3t-value\n"
                              "tracking_min_risk = severe\n",
                              errors, sizeof(errors)),
                     MS_EINVAL);
    assert_int_equal(run_init("client_id = i\nclient_secret = s3cr3t-value\n"
                              "streams = message_tracking\ntracking_domains = acme.example, "
                              "acme-labs.example\ntracking_min_risk = medium\n"
                              "tracking_status = held, bounced\nverify_tls = false\n",
                              errors, sizeof(errors)),
                     MS_OK);
    ms_log_clear_secrets();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_normal),
        cmocka_unit_test(test_parse_each_stream),
        cmocka_unit_test(test_parse_empty_and_last_page_quirk),
        cmocka_unit_test(test_parse_fail_with_200),
        cmocka_unit_test(test_parse_message_info),
        cmocka_unit_test(test_parse_malformed_truncated),
        cmocka_unit_test(test_parse_over_the_cap),
        cmocka_unit_test(test_bad_records_in_a_page),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_record_key),
        cmocka_unit_test(test_request_build),
        cmocka_unit_test(test_hmac_vector),
        cmocka_unit_test(test_b64_and_request_id),
        cmocka_unit_test(test_seen_set),
        cmocka_unit_test(test_cursor_walks),
        cmocka_unit_test(test_cursor_json_roundtrip),
        cmocka_unit_test(test_init_refusals),
    };

    ms_log_set_level(MS_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
