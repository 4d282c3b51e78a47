/* ser input, pure part: summaries -> records, licence record, timestamps, windows. */
#include <config.h>

#include "unit.h"

#include "core/ms_err.h"
#include "inputs/ser/ser_parse.h"

#define HOUR (3600LL * 1000)

/* Reads tests/fixtures/ser/<name> (malloc'ed, NUL-terminated). */
static char *fixture(const char *name, size_t *len)
{
    const char *src = getenv("MS_SRCDIR");
    char path[PATH_MAX];
    char *data;
    long n;
    FILE *f;

    snprintf(path, sizeof(path), "%s/tests/fixtures/ser/%s", src ? src : ".", name);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    data = malloc((size_t)n + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    data[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return data;
}

static int64_t get_int(struct json_object *o, const char *path)
{
    struct json_object *cur = o;
    char buf[128];
    char *save = NULL;
    char *tok;

    snprintf(buf, sizeof(buf), "%s", path);
    for (tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        assert_true(json_object_object_get_ex(cur, tok, &cur));
    }
    assert_true(json_object_is_type(cur, json_type_int));
    return json_object_get_int64(cur);
}

static const char *get_str(struct json_object *o, const char *key)
{
    struct json_object *v;

    assert_true(json_object_object_get_ex(o, key, &v));
    return json_object_get_string(v);
}

static int64_t instant(const char *text)
{
    struct json_object *v = json_object_new_string(text);
    int64_t ms = -1;
    int rc = ser_parse_instant(v, &ms);

    json_object_put(v);
    return rc == MS_OK ? ms : -1;
}

static void test_format_ts(void **state)
{
    char out[40];

    (void)state;
    ser_format_ts(0, out, sizeof(out));
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    ser_format_ts(1749990896789LL, out, sizeof(out));
    assert_string_equal(out, "2025-06-15T12:34:56.789Z");
}

static void test_parse_instant(void **state)
{
    struct json_object *v;
    int64_t ms = 0;

    (void)state;
    assert_int_equal(instant("2025-01-01"), 1735689600000LL);
    assert_int_equal(instant("2025-01-01T00:00:00.000Z"), 1735689600000LL);
    assert_int_equal(instant("2025-01-01T00:00:00Z"), 1735689600000LL);
    assert_int_equal(instant("2025-01-01 00:00:00"), 1735689600000LL);
    assert_int_equal(instant("2025-01-01T02:00:00.000+0200"), 1735689600000LL);
    assert_int_equal(instant("2024-12-31T19:00:00-05:00"), 1735689600000LL);
    assert_int_equal(instant("2025-06-15T12:34:56.7891234Z"), 1749990896789LL);
    assert_int_equal(instant("2025-06-15T12:34:56.7Z"), 1749990896700LL);
    assert_int_equal(instant("2024-02-29"), 1709164800000LL);
    assert_int_equal(instant("1735689600000"), 1735689600000LL); /* epoch ms as text */
    assert_int_equal(instant("1735689600"), 1735689600000LL);    /* epoch seconds as text */
    assert_int_equal(instant("2025-02-29"), -1);
    assert_int_equal(instant("2025-13-01"), -1);
    assert_int_equal(instant("2025-01-01T24:00:00Z"), -1);
    assert_int_equal(instant("2025-01-01T00:00:00.Z"), -1);
    assert_int_equal(instant("2025-01-01T00:00:00Zjunk"), -1);
    assert_int_equal(instant("yesterday"), -1);
    assert_int_equal(instant(""), -1);
    v = json_object_new_int64(1735689600000LL);
    assert_int_equal(ser_parse_instant(v, &ms), MS_OK);
    assert_int_equal(ms, 1735689600000LL);
    json_object_put(v);
    v = json_object_new_int64(-5);
    assert_int_equal(ser_parse_instant(v, &ms), MS_EINVAL);
    json_object_put(v);
    v = json_object_new_boolean(1);
    assert_int_equal(ser_parse_instant(v, &ms), MS_EINVAL);
    json_object_put(v);
    assert_int_equal(ser_parse_instant(NULL, &ms), MS_EINVAL);
}

static void test_parse_count(void **state)
{
    static const char *const bad[] = {"12a", "-1", " 1", "", "1.5", "0x10", "99999999999999999999",
                                      NULL};
    struct json_object *v;
    int64_t n = -1;
    size_t i;

    (void)state;
    v = json_object_new_int64(42);
    assert_int_equal(ser_parse_count(v, &n), MS_OK);
    assert_int_equal(n, 42);
    json_object_put(v);
    v = json_object_new_string("1099511627776");
    assert_int_equal(ser_parse_count(v, &n), MS_OK);
    assert_int_equal(n, 1099511627776LL);
    json_object_put(v);
    v = json_object_new_double(12.0);
    assert_int_equal(ser_parse_count(v, &n), MS_OK);
    assert_int_equal(n, 12);
    json_object_put(v);
    for (i = 0; bad[i]; i++) {
        v = json_object_new_string(bad[i]);
        assert_int_equal(ser_parse_count(v, &n), MS_EINVAL);
        json_object_put(v);
    }
    v = json_object_new_int64(-1);
    assert_int_equal(ser_parse_count(v, &n), MS_EINVAL);
    json_object_put(v);
    v = json_object_new_double(1.5);
    assert_int_equal(ser_parse_count(v, &n), MS_EINVAL);
    json_object_put(v);
    v = json_object_new_boolean(1);
    assert_int_equal(ser_parse_count(v, &n), MS_EINVAL);
    json_object_put(v);
    assert_int_equal(ser_parse_count(NULL, &n), MS_EINVAL);
}

static void test_windows(void **state)
{
    int64_t now = 1749990896789LL; /* 2025-06-15T12:34:56.789Z */
    int64_t end = 0;

    (void)state;
    assert_int_equal(ser_align_down(now, HOUR), 1749988800000LL);
    assert_int_equal(ser_align_down(-1, HOUR), -HOUR);
    /* 24h lookback, 1h windows: starts at 2025-06-14T12:00 */
    assert_int_equal(ser_first_start(now, 24 * HOUR, HOUR, SER_TIME_UNKNOWN),
                     1749988800000LL - 24 * HOUR);
    /* never before the licence start, even an unaligned one */
    assert_int_equal(ser_first_start(now, 24 * HOUR, HOUR, now - 90 * 60 * 1000),
                     now - 90 * 60 * 1000);
    assert_int_equal(ser_first_start(now, 24 * HOUR, HOUR, 0), 1749988800000LL - 24 * HOUR);
    /* the first window after an unaligned start ends at the next boundary */
    assert_true(ser_window_due(1749988800000LL - 30 * 60 * 1000, HOUR, now, 0, &end));
    assert_int_equal(end, 1749988800000LL);
    /* due exactly when end == now - settle */
    assert_true(ser_window_due(1749985200000LL, HOUR, 1749988800000LL + 900000, 900000, &end));
    assert_int_equal(end, 1749988800000LL);
    assert_false(ser_window_due(1749985200000LL, HOUR, 1749988800000LL + 899999, 900000, &end));
    assert_false(ser_window_due(1749988800000LL, HOUR, now, 0, &end));
}

static void test_summary_ints(void **state)
{
    struct ser_summary s;
    struct json_object *r;
    char why[256] = "";
    size_t len;
    char *text = fixture("summary-ints.json", &len);

    (void)state;
    assert_int_equal(
        ser_parse_summary(text, len, true, 1749985200000LL, 1749988800000LL, &s, why, sizeof(why)),
        MS_OK);
    assert_int_equal(s.users, 2);
    assert_int_equal(s.rejected, 0);
    assert_int_equal(json_object_array_length(s.records), 2);
    /* sorted by applicationName */
    r = json_object_array_get_idx(s.records, 0);
    assert_string_equal(get_str(r, "applicationName"), "Salesforce");
    assert_string_equal(get_str(r, "window_start"), "2025-06-15T11:00:00.000Z");
    assert_string_equal(get_str(r, "window_end"), "2025-06-15T12:00:00.000Z");
    assert_string_equal(get_str(r, "fromEnvelope"), "bounce.example.com");
    assert_int_equal(get_int(r, "status/total"), 1016);
    assert_int_equal(get_int(r, "status/recipientsTotal"), 1040);
    assert_int_equal(get_int(r, "details/5.X.X"), 11);
    assert_int_equal(get_int(r, "deliveredSizeTotal"), 37500000);
    assert_true(json_object_object_get_ex(r, "vendorExtra", NULL)); /* unknown keys kept */
    r = json_object_array_get_idx(s.records, 1);
    assert_string_equal(get_str(r, "applicationUserName"), "workday_notify");
    assert_int_equal(get_int(r, "status/inProgress"), 3);
    assert_int_equal(s.size_total, 38690000);
    assert_int_equal(s.annual_throughput, 1099511627776LL);
    assert_int_equal(s.license_start_ms, 1735689600000LL);
    assert_int_equal(s.license_end_ms, 1767225600000LL);
    ser_summary_free(&s);
    /* without records: only the sums and the entitlement */
    assert_int_equal(ser_parse_summary(text, len, false, SER_TIME_UNKNOWN, 0, &s, why, sizeof(why)),
                     MS_OK);
    assert_null(s.records);
    assert_int_equal(s.size_total, 38690000);
    ser_summary_free(&s);
    free(text);
}

static void test_summary_strings(void **state)
{
    struct ser_summary s;
    struct json_object *r;
    char why[256] = "";
    size_t len;
    char *text = fixture("summary-strings.json", &len);

    (void)state;
    assert_int_equal(ser_parse_summary(text, len, true, 0, HOUR, &s, why, sizeof(why)), MS_OK);
    assert_int_equal(json_object_array_length(s.records), 1);
    r = json_object_array_get_idx(s.records, 0);
    assert_int_equal(get_int(r, "status/total"), 123);
    assert_int_equal(get_int(r, "status/details/5.X.X"), 3);
    assert_int_equal(get_int(r, "details/2.X.X"), 120); /* copied to the top level */
    assert_int_equal(get_int(r, "status/messageSizeTotal"), 11685000);
    assert_int_equal(get_int(r, "messageSizeTotal"), 11685000); /* copied beside status */
    assert_int_equal(get_int(r, "deliveredSizeTotal"), 11400000);
    assert_int_equal(s.size_total, 11685000);
    assert_int_equal(s.annual_throughput, 5000000000LL);
    assert_int_equal(s.license_start_ms, 1735689600000LL);
    assert_int_equal(s.license_end_ms, 1767225600000LL);
    ser_summary_free(&s);
    free(text);
}

static void test_summary_missing_blocks(void **state)
{
    struct ser_summary s;
    struct json_object *r;
    struct json_object *lic = NULL;
    char why[256] = "";
    size_t len;
    char *text = fixture("summary-missing.json", &len);

    (void)state;
    assert_int_equal(ser_parse_summary(text, len, true, 0, HOUR, &s, why, sizeof(why)), MS_OK);
    assert_int_equal(s.users, 2);
    assert_int_equal(s.rejected, 0);
    r = json_object_array_get_idx(s.records, 0); /* "" sorts before "Zendesk" */
    assert_string_equal(get_str(r, "applicationUserName"), "only-a-user-name");
    assert_int_equal(get_int(r, "status/total"), 2);
    r = json_object_array_get_idx(s.records, 1);
    assert_false(json_object_object_get_ex(r, "status", NULL)); /* no counts invented */
    assert_false(json_object_object_get_ex(r, "details", NULL));
    assert_null(s.entitlement);
    assert_int_equal(s.annual_throughput, -1);
    assert_int_equal(ser_license_record(&s, 0, &lic, why, sizeof(why)), MS_EINVAL);
    assert_null(lic);
    assert_non_null(strstr(why, "entitlement"));
    ser_summary_free(&s);
    free(text);
}

static void test_summary_malformed_users(void **state)
{
    struct ser_summary s;
    struct json_object *r;
    char why[256] = "";
    size_t len;
    char *text = fixture("summary-malformed.json", &len);

    (void)state;
    assert_int_equal(ser_parse_summary(text, len, true, 0, HOUR, &s, why, sizeof(why)), MS_OK);
    assert_int_equal(s.users, 1);
    assert_int_equal(s.rejected, 6);
    assert_non_null(strstr(s.reject_reason, "ServiceNow/snow_prod"));
    assert_non_null(strstr(s.reject_reason, "status.total"));
    assert_non_null(strstr(s.reject_reason, "12a"));
    r = json_object_array_get_idx(s.records, 0);
    assert_string_equal(get_str(r, "applicationName"), "Good");
    assert_int_equal(s.size_total, 2048);
    /* epoch ms number and epoch seconds string are both read */
    assert_int_equal(s.license_start_ms, 1735689600000LL);
    assert_int_equal(s.license_end_ms, 1767225600000LL);
    assert_int_equal(s.annual_throughput, 0);
    ser_summary_free(&s);
    free(text);
}

static void test_summary_unusable_bodies(void **state)
{
    static const char *const bad[] = {
        "",
        "{",
        "{\"applicationUsers\": [",
        "[1, 2]",
        "\"text\"",
        "{\"applicationUsers\": 5}",
        "{\"foo\": 1}",
        "{\"applicationUsers\": []} trailing",
        "<html><body>Internal Server Error</body></html>",
        "{\"applicationUsers\": [{\"applicationName\": \"x\"}],,\"<html>oops",
        NULL,
    };
    struct ser_summary s;
    const char *text;
    char why[256];
    size_t i;

    (void)state;
    for (i = 0; bad[i]; i++) {
        why[0] = '\0';
        assert_int_equal(
            ser_parse_summary(bad[i], strlen(bad[i]), true, 0, HOUR, &s, why, sizeof(why)),
            MS_EINVAL);
        assert_true(why[0] != '\0');
        ser_summary_free(&s);
    }
    /* A length shorter than the text: the body was cut. */
    assert_int_equal(
        ser_parse_summary("{\"applicationUsers\": []}", 10, true, 0, HOUR, &s, why, sizeof(why)),
        MS_EINVAL);
    assert_string_equal(why, "truncated JSON");
    ser_summary_free(&s);
    /* no users at all is fine */
    text = "{\"applicationUsers\": [], \"entitlement\": {}}";
    assert_int_equal(ser_parse_summary(text, strlen(text), true, 0, HOUR, &s, why, sizeof(why)),
                     MS_OK);
    assert_int_equal(json_object_array_length(s.records), 0);
    ser_summary_free(&s);
    text = "{\"applicationUsers\": null, \"entitlement\": {}}";
    assert_int_equal(ser_parse_summary(text, strlen(text), true, 0, HOUR, &s, why, sizeof(why)),
                     MS_OK);
    ser_summary_free(&s);
}

static void test_license_record(void **state)
{
    struct ser_summary s;
    struct json_object *lic = NULL;
    struct json_object *v;
    char why[256] = "";
    size_t len;
    char *text = fixture("summary-ints.json", &len);
    int64_t as_of = 1749990896789LL; /* 2025-06-15T12:34:56.789Z */

    (void)state;
    assert_int_equal(
        ser_parse_summary(text, len, false, SER_TIME_UNKNOWN, as_of, &s, why, sizeof(why)), MS_OK);
    assert_int_equal(ser_license_record(&s, as_of, &lic, why, sizeof(why)), MS_OK);
    assert_string_equal(get_str(lic, "as_of"), "2025-06-15T12:34:56.789Z");
    assert_string_equal(get_str(lic, "license_start"), "2025-01-01T00:00:00.000Z");
    assert_string_equal(get_str(lic, "license_end"), "2026-01-01T00:00:00.000Z");
    assert_int_equal(get_int(lic, "throughput_used"), 38690000);
    assert_int_equal(get_int(lic, "annual_throughput"), 1099511627776LL);
    assert_int_equal(get_int(lic, "throughput_remaining"), 1099511627776LL - 38690000);
    assert_int_equal(get_int(lic, "days_left"), 199); /* 199.47 days, whole days */
    assert_int_equal(get_int(lic, "application_users"), 2);
    assert_true(json_object_object_get_ex(lic, "throughput_used_percent", &v));
    assert_string_equal(json_object_to_json_string(v), "0.00");
    assert_int_equal(get_int(lic, "entitlement/annual_throughput"), 1099511627776LL);
    json_object_put(lic);
    /* 38690000 of 50000000 bytes */
    s.annual_throughput = 50000000;
    assert_int_equal(ser_license_record(&s, as_of, &lic, why, sizeof(why)), MS_OK);
    assert_true(json_object_object_get_ex(lic, "throughput_used_percent", &v));
    assert_string_equal(json_object_to_json_string(v), "77.38");
    assert_true(json_object_get_double(v) > 77.37 && json_object_get_double(v) < 77.39);
    json_object_put(lic);
    /* past the end: no negative days; annual 0: no percent */
    s.annual_throughput = 0;
    assert_int_equal(
        ser_license_record(&s, 1767225600000LL + 5 * SER_DAY_MS, &lic, why, sizeof(why)), MS_OK);
    assert_int_equal(get_int(lic, "days_left"), 0);
    assert_false(json_object_object_get_ex(lic, "throughput_used_percent", NULL));
    json_object_put(lic);
    ser_summary_free(&s);
    free(text);
}

/* fuzz_vendor_pages: the sum of two large messageSizeTotal overflowed int64 (UB). */
static void test_size_total_saturates(void **state)
{
    static const char body[] =
        "{\"applicationUsers\":[{\"applicationName\":\"a\",\"messageSizeTotal\":"
        "9000000000000000000},"
        "{\"applicationName\":\"b\",\"messageSizeTotal\":\"9000000000000000000\"}],"
        "\"entitlement\":{\"annual_throughput\":1}}";
    struct ser_summary s;
    struct json_object *lic = NULL;
    char why[256] = "";

    (void)state;
    assert_int_equal(ser_parse_summary(body, sizeof(body) - 1, true, SER_TIME_UNKNOWN,
                                       SER_TIME_UNKNOWN, &s, why, sizeof(why)),
                     MS_OK);
    assert_int_equal(s.users, 2);
    assert_true(s.size_total == INT64_MAX);
    assert_int_equal(ser_license_record(&s, 1749990896789LL, &lic, why, sizeof(why)), MS_OK);
    assert_true(get_int(lic, "throughput_used") == INT64_MAX);
    assert_true(get_int(lic, "throughput_remaining") == 1 - INT64_MAX);
    json_object_put(lic);
    ser_summary_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_ts),
        cmocka_unit_test(test_parse_instant),
        cmocka_unit_test(test_parse_count),
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_summary_ints),
        cmocka_unit_test(test_summary_strings),
        cmocka_unit_test(test_summary_missing_blocks),
        cmocka_unit_test(test_summary_malformed_users),
        cmocka_unit_test(test_summary_unusable_bodies),
        cmocka_unit_test(test_license_record),
        cmocka_unit_test(test_size_total_saturates),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
