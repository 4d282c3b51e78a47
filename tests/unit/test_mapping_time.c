/* Mapping stage: vendor time formats to UTC ISO 8601 with milliseconds. */
#include <config.h>

#include "unit.h"

#include "core/ms_err.h"
#include "mapping/ms_timeparse.h"

static void assert_time(const char *in, const char *want)
{
    char out[MS_TIME_ISO_LEN + 1];
    int64_t ms = 0;
    int rc = ms_time_parse(in, strlen(in), &ms);

    if (rc != MS_OK) {
        fail_msg("'%s' refused, want %s", in, want);
    }
    assert_int_equal(ms_time_format_iso(ms, out, sizeof(out)), MS_OK);
    if (strcmp(out, want) != 0) {
        fail_msg("'%s' -> %s, want %s", in, out, want);
    }
}

static void assert_refused(const char *in)
{
    int64_t ms = 0;

    if (ms_time_parse(in, strlen(in), &ms) != MS_EINVAL) {
        fail_msg("'%s' accepted as %lld", in, (long long)ms);
    }
}

static void test_vendor_formats(void **state)
{
    (void)state;
    /* Mimecast responses, request filters and their production variants (mimecast-api.md 3.6) */
    assert_time("2024-11-14T19:44:02+0000", "2024-11-14T19:44:02.000Z");
    assert_time("2024-11-14T19:44:02+00:00", "2024-11-14T19:44:02.000Z");
    assert_time("2024-11-14T19:44:02Z", "2024-11-14T19:44:02.000Z");
    assert_time("2024-11-14t19:44:02z", "2024-11-14T19:44:02.000Z");
    /* SER: yyyy-MM-dd'T'HH:mm:ss.SSSZ; licence dates as plain dates */
    assert_time("2020-06-01T00:00:00.000Z", "2020-06-01T00:00:00.000Z");
    assert_time("2025-12-31", "2025-12-31T00:00:00.000Z");
    /* PPS: YYYY-MM-DD HH:MM:SS in UTC, and its variants */
    assert_time("2020-01-15 20:00:00", "2020-01-15T20:00:00.000Z");
    assert_time("2020-01-15  20:00", "2020-01-15T20:00:00.000Z");
    assert_time("2020-01-15T20:00:00", "2020-01-15T20:00:00.000Z");
    assert_time("2020-01-15 14:00:00 [UTC-0600]", "2020-01-15T20:00:00.000Z");
    assert_time("2020-01-15 14:00:00 UTC-06:00", "2020-01-15T20:00:00.000Z");
    assert_time("2020-01-15 20:00:00 UTC", "2020-01-15T20:00:00.000Z");
    assert_time("2020-01-15 20:00:00 GMT", "2020-01-15T20:00:00.000Z");
    assert_time(" 2020-01-15 20:00:00\n", "2020-01-15T20:00:00.000Z");
    /* RFC 1123 / 2822 (x-mc-date, mail Date headers) */
    assert_time("Tue, 24 Nov 2015 12:50:11 UTC", "2015-11-24T12:50:11.000Z");
    assert_time("Tue, 24 Nov 2015 12:50:11 GMT", "2015-11-24T12:50:11.000Z");
    assert_time("24 Nov 2015 13:50:11 +0100", "2015-11-24T12:50:11.000Z");
    assert_time("4 Jul 2021 00:00 -0700", "2021-07-04T07:00:00.000Z");
}

static void test_offsets_and_fractions(void **state)
{
    (void)state;
    assert_time("2024-11-14T19:44:02.5+01:00", "2024-11-14T18:44:02.500Z");
    assert_time("2024-11-14T19:44:02,25Z", "2024-11-14T19:44:02.250Z");
    assert_time("2024-11-14T19:44:02.123456789Z", "2024-11-14T19:44:02.123Z"); /* truncated */
    assert_time("2024-11-14T23:30:00-05:30", "2024-11-15T05:00:00.000Z");      /* next day */
    assert_time("2024-01-01T00:30:00+0100", "2023-12-31T23:30:00.000Z");       /* previous year */
    assert_time("2024-11-14T19:44:02+05", "2024-11-14T14:44:02.000Z");
    assert_time("2024-02-29T12:00:00Z", "2024-02-29T12:00:00.000Z"); /* leap year */
    assert_time("2000-02-29T12:00:00Z", "2000-02-29T12:00:00.000Z");
    assert_time("2016-12-31T23:59:60Z", "2017-01-01T00:00:00.000Z"); /* leap second */
    assert_time("0000-01-01T00:00:00Z", "0000-01-01T00:00:00.000Z");
    assert_time("9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z");
}

static void test_epochs(void **state)
{
    char out[MS_TIME_ISO_LEN + 1];
    int64_t ms = 0;
    struct json_object *v;

    (void)state;
    assert_time("1731613442", "2024-11-14T19:44:02.000Z");          /* seconds */
    assert_time("1731613442123", "2024-11-14T19:44:02.123Z");       /* milliseconds */
    assert_time("1731613442123456", "2024-11-14T19:44:02.123Z");    /* microseconds */
    assert_time("1731613442123456789", "2024-11-14T19:44:02.123Z"); /* nanoseconds */
    assert_time("1731613442.5", "2024-11-14T19:44:02.500Z");
    assert_time("0", "1970-01-01T00:00:00.000Z");
    assert_time("-1", "1969-12-31T23:59:59.000Z");
    v = json_object_new_int64(1731613442123LL);
    assert_int_equal(ms_time_from_json(v, &ms), MS_OK);
    assert_int_equal(ms, 1731613442123LL);
    json_object_put(v);
    v = json_object_new_double(1731613442.25);
    assert_int_equal(ms_time_from_json(v, &ms), MS_OK);
    assert_int_equal(ms, 1731613442250LL);
    json_object_put(v);
    v = json_object_new_string("2024-11-14T19:44:02+0000");
    assert_int_equal(ms_time_from_json(v, &ms), MS_OK);
    assert_int_equal(ms, 1731613442000LL);
    json_object_put(v);
    v = json_object_new_int64(INT64_MIN); /* found by fuzzing: -v overflowed */
    assert_int_equal(ms_time_from_json(v, &ms), MS_EINVAL);
    json_object_put(v);
    v = json_object_new_int64(INT64_MAX); /* as nanoseconds: 2262-04-11T23:47:16.854Z */
    assert_int_equal(ms_time_from_json(v, &ms), MS_OK);
    assert_int_equal(ms, 9223372036854LL);
    json_object_put(v);
    assert_time("-9223372036854775807", "1677-09-21T00:12:43.145Z"); /* nanoseconds */
    v = json_object_new_boolean(1);
    assert_int_equal(ms_time_from_json(v, &ms), MS_EINVAL);
    json_object_put(v);
    assert_int_equal(ms_time_from_json(NULL, &ms), MS_EINVAL);
    assert_int_equal(ms_time_from_epoch(1.0 / 0.0, &ms), MS_EINVAL);
    assert_int_equal(ms_time_from_epoch(1e300, &ms), MS_EINVAL);
    /* out of 0000-9999 */
    assert_int_equal(ms_time_format_iso(253402300800000LL, out, sizeof(out)), MS_EINVAL);
    assert_string_equal(out, "");
    assert_int_equal(ms_time_format_iso(0, out, 10), MS_EINVAL); /* buffer too small */
}

static void test_refusals(void **state)
{
    (void)state;
    assert_refused("");
    assert_refused("   ");
    assert_refused("yesterday");
    assert_refused("2024-02-30T10:00:00Z"); /* no February 30th */
    assert_refused("2023-02-29T10:00:00Z"); /* not a leap year */
    assert_refused("1900-02-29T10:00:00Z");
    assert_refused("2024-13-01T10:00:00Z");
    assert_refused("2024-00-10T10:00:00Z");
    assert_refused("2024-11-14T24:00:00Z");
    assert_refused("2024-11-14T23:60:00Z");
    assert_refused("2024-11-14T23:59:61Z");
    assert_refused("2024-11-14T19:44:02+2400");
    assert_refused("2024-11-14T19:44:02+05:60");
    assert_refused("2024-11-14T19:44:02 junk");
    assert_refused("2024-11-14T19:44:02.Z");
    assert_refused("2024-11-14T19:44:02.1234567890Z");
    assert_refused("2024-11-1419:44:02");
    assert_refused("2024-11-14T19");
    assert_refused("24-11-14T19:44:02Z");
    assert_refused("2024/11/14 19:44:02");
    assert_refused("0000-01-01T00:30:00+0100"); /* before year 0 */
    assert_refused("9999-12-31T23:30:00-0100"); /* after year 9999 */
    assert_refused("Tue, 31 Feb 2015 12:50:11 UTC");
    assert_refused("Tue, 24 Foo 2015 12:50:11 UTC");
    assert_refused("1e5");
    assert_refused("12.3.4");
    assert_refused("99999999999999999999999");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vendor_formats),
        cmocka_unit_test(test_offsets_and_fractions),
        cmocka_unit_test(test_epochs),
        cmocka_unit_test(test_refusals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
