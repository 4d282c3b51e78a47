/* Syslog headers (RFC 5424/3164), time parsing, truncation at UTF-8 boundaries, framing. */
#include <config.h>

#include "sl_unit.h"

static char *header_of(const struct sl_header_opts *h, const char *json, int64_t now_ms)
{
    struct ms_event ev;
    struct ms_buf buf;
    char *p;

    sl_ev_init(&ev, json);
    ms_buf_init(&buf, 4096);
    assert_int_equal(sl_header_write(h, &ev, now_ms, &buf), MS_OK);
    p = ms_buf_take(&buf);
    assert_non_null(p);
    sl_ev_free(&ev);
    return p;
}

static void
expect_header(const struct sl_header_opts *h, const char *json, int64_t now_ms, const char *want)
{
    char *got = header_of(h, json, now_ms);

    if (strcmp(got, want) != 0) {
        fprintf(stderr, "# want [%s]\n# got  [%s]\n", want, got);
    }
    assert_string_equal(got, want);
    free(got);
}

static void test_rfc5424(void **state)
{
    struct sl_header_opts h = {
        .kind = SL_HEADER_RFC5424, .facility = 16, .hostname = "mx-gw-01", .app_name = "msfwd"};

    (void)state;
    /* local0 (16) * 8 + informational (6) = 134: no severity. */
    expect_header(&h, "{\"time\":\"2026-11-20T10:15:30.000Z\"}", 0,
                  "<134>1 2026-11-20T10:15:30.000Z mx-gw-01 msfwd - - - ");
    /* Severity 0..10 -> syslog severity; offsets are converted to UTC. */
    expect_header(&h, "{\"time\":\"2026-11-20T11:15:30.123+01:00\",\"severity\":10}", 0,
                  "<130>1 2026-11-20T10:15:30.123Z mx-gw-01 msfwd - - - ");
    expect_header(&h, "{\"time\":\"2026-11-20T10:15:30Z\",\"severity\":7}", 0,
                  "<131>1 2026-11-20T10:15:30.000Z mx-gw-01 msfwd - - - ");
    expect_header(&h, "{\"time\":\"2026-11-20T10:15:30Z\",\"severity\":\"4\"}", 0,
                  "<132>1 2026-11-20T10:15:30.000Z mx-gw-01 msfwd - - - ");
    expect_header(&h, "{\"time\":\"2026-11-20T10:15:30Z\",\"severity\":1}", 0,
                  "<133>1 2026-11-20T10:15:30.000Z mx-gw-01 msfwd - - - ");
    /* No usable time: the clock given by the caller. */
    expect_header(&h, "{\"time\":\"not a time\"}", 1795169730042LL,
                  "<134>1 2026-11-20T10:15:30.042Z mx-gw-01 msfwd - - - ");
    expect_header(&h, "[]", 1795169730042LL,
                  "<134>1 2026-11-20T10:15:30.042Z mx-gw-01 msfwd - - - ");
    /* Hostile host and app names: printable ASCII only, bounded; empty -> NILVALUE. */
    h.hostname = "bad host\n\xc3\xbc";
    h.app_name = "";
    expect_header(&h, "{\"time\":\"2026-11-20T10:15:30Z\"}", 0,
                  "<134>1 2026-11-20T10:15:30.000Z bad_host___ - - - - ");
    h.hostname = "";
    h.app_name = "an-app-name-that-is-far-longer-than-forty-eight-characters";
    expect_header(
        &h, "{\"time\":\"2026-11-20T10:15:30Z\"}", 0,
        "<134>1 2026-11-20T10:15:30.000Z - an-app-name-that-is-far-longer-than-forty-eight- "
        "- - - ");
}

static void test_rfc3164(void **state)
{
    struct sl_header_opts h = {.kind = SL_HEADER_RFC3164,
                               .facility = 1,
                               .hostname = "qradar-src",
                               .app_name = "msfwd",
                               .utc = true};

    (void)state;
    expect_header(&h, "{\"time\":\"2026-11-20T10:15:30.999Z\",\"severity\":9}", 0,
                  "<10>Nov 20 10:15:30 qradar-src msfwd: ");
    /* Day padded with a space; no TAG when app_name is empty (IBM's shape). */
    h.app_name = "";
    expect_header(&h, "{\"time\":\"2026-03-05T01:02:03Z\"}", 0, "<14>Mar  5 01:02:03 qradar-src ");
    /* TAG: alphanumerics and _.-/ only, at most 32. */
    h.app_name = "my app:with[pid]and-a-very-long-name-indeed";
    expect_header(&h, "{\"time\":\"2026-03-05T01:02:03Z\"}", 0,
                  "<14>Mar  5 01:02:03 qradar-src my_app_with_pid_and-a-very-long-: ");
}

static void test_time_parse(void **state)
{
    static const char *const bad[] = {
        "",
        "2026-11-20",
        "2026-11-20T10:15:30",       /* no zone */
        "2026-11-20T10:15:30.Z",     /* empty fraction */
        "2026-13-20T10:15:30Z",      /* month */
        "2026-02-29T10:15:30Z",      /* not a leap year */
        "2026-11-20T24:00:00Z",      /* hour */
        "2026-11-20T10:15:30Zjunk",  /* trailing */
        "2026-11-20T10:15:30+1:00",  /* offset digits */
        "2026-11-20T10:15:30+25:00", /* offset range */
        "２０２６-11-20T10:15:30Z",  /* non-ASCII digits */
        "2026/11/20T10:15:30Z",
    };
    int64_t ms = 0;
    size_t i;

    (void)state;
    assert_int_equal(sl_time_parse("2026-11-20T10:15:30.000Z", &ms), MS_OK);
    assert_int_equal(ms, 1795169730000LL);
    assert_int_equal(sl_time_parse("2026-11-20T10:15:30.123456Z", &ms), MS_OK);
    assert_int_equal(ms, 1795169730123LL);
    assert_int_equal(sl_time_parse("2026-11-20T05:15:30.5-0500", &ms), MS_OK);
    assert_int_equal(ms, 1795169730500LL);
    assert_int_equal(sl_time_parse("1970-01-01T00:00:00Z", &ms), MS_OK);
    assert_int_equal(ms, 0);
    assert_int_equal(sl_time_parse("2024-02-29T00:00:00Z", &ms), MS_OK); /* leap year */
    assert_int_equal(ms, 1709164800000LL);
    assert_int_equal(sl_time_parse("2016-12-31T23:59:60Z", &ms), MS_OK); /* leap second */
    assert_int_equal(ms, 1483228799000LL);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (sl_time_parse(bad[i], &ms) != MS_EINVAL) {
            fprintf(stderr, "# accepted: %s\n", bad[i]);
        }
        assert_int_equal(sl_time_parse(bad[i], &ms), MS_EINVAL);
    }
}

static void test_truncate(void **state)
{
    /* "ab" + U+00FC (2 bytes) + U+65E5 (3 bytes) + U+1F4E7 (4 bytes) = 11 bytes */
    const char *m = "ab\xc3\xbc\xe6\x97\xa5\xf0\x9f\x93\xa7";
    size_t i;

    (void)state;
    assert_int_equal(sl_truncate_len(m, 11, 11), 11);
    assert_int_equal(sl_truncate_len(m, 11, 100), 11);
    assert_int_equal(sl_truncate_len(m, 11, 2), 2);
    assert_int_equal(sl_truncate_len(m, 11, 3), 2); /* inside the umlaut */
    assert_int_equal(sl_truncate_len(m, 11, 4), 4);
    assert_int_equal(sl_truncate_len(m, 11, 5), 4);
    assert_int_equal(sl_truncate_len(m, 11, 6), 4);
    assert_int_equal(sl_truncate_len(m, 11, 7), 7);
    assert_int_equal(sl_truncate_len(m, 11, 10), 7);
    /* Every cut of a valid string stays valid UTF-8 and never grows. */
    for (i = 0; i <= 11; i++) {
        size_t n = sl_truncate_len(m, 11, i);

        assert_true(n <= i);
        assert_true(sl_valid_utf8(m, n));
    }
    /* An escape pair is not cut in half; an escaped backslash pair is kept whole. */
    assert_int_equal(sl_truncate_len("ab\\=cd", 6, 3), 2);
    assert_int_equal(sl_truncate_len("ab\\\\cd", 6, 4), 4);
    assert_int_equal(sl_truncate_len("a\\\\\\=x", 6, 4), 3);
}

static void test_frame(void **state)
{
    struct ms_buf buf;

    (void)state;
    ms_buf_init(&buf, 1024);
    assert_int_equal(sl_frame(SL_FRAMING_OCTET, "<134>1 x", 8, &buf), MS_OK);
    assert_int_equal(sl_frame(SL_FRAMING_OCTET, "\xc3\xbc", 2, &buf), MS_OK);
    assert_string_equal(ms_buf_cstr(&buf), "8 <134>1 x2 \xc3\xbc");
    ms_buf_reset(&buf);
    assert_int_equal(sl_frame(SL_FRAMING_LF, "a", 1, &buf), MS_OK);
    assert_int_equal(sl_frame(SL_FRAMING_LF, "b", 1, &buf), MS_OK);
    assert_string_equal(ms_buf_cstr(&buf), "a\nb\n");
    ms_buf_reset(&buf);
    assert_int_equal(sl_frame(SL_FRAMING_NONE, "a", 1, &buf), MS_OK);
    assert_string_equal(ms_buf_cstr(&buf), "a");
    ms_buf_free(&buf);
}

static void test_put_i64(void **state)
{
    struct ms_buf buf;

    (void)state;
    ms_buf_init(&buf, 1024);
    assert_int_equal(sl_put_i64(&buf, 0), MS_OK);
    assert_int_equal(ms_buf_putc(&buf, ' '), MS_OK);
    assert_int_equal(sl_put_i64(&buf, -42), MS_OK);
    assert_int_equal(ms_buf_putc(&buf, ' '), MS_OK);
    assert_int_equal(sl_put_i64(&buf, INT64_MAX), MS_OK);
    assert_int_equal(ms_buf_putc(&buf, ' '), MS_OK);
    assert_int_equal(sl_put_i64(&buf, INT64_MIN), MS_OK);
    assert_string_equal(ms_buf_cstr(&buf), "0 -42 9223372036854775807 -9223372036854775808");
    ms_buf_free(&buf);
}

/* Header + LEEF with every hostile value at once: LF framing cannot be broken. */
static void test_message_has_no_line_break(void **state)
{
    struct sl_header_opts h = {
        .kind = SL_HEADER_RFC5424, .facility = 16, .hostname = "h\nx", .app_name = "a\rb"};
    enum sl_payload payloads[] = {SL_PAYLOAD_LEEF2, SL_PAYLOAD_LEEF1, SL_PAYLOAD_CEF,
                                  SL_PAYLOAD_JSON};
    const char *json = "{\"source_type\":\"x\\ny\",\"vendor\":\"v\\r\\n\",\"subject\":\"l1\\nl2"
                       "\\rl3\\u2028\\u0085\\u0000\",\"alert_type\":\"a\\nb\",\"recipient\":"
                       "[\"x\\ny\"],\"mitre\":{\"technique_id\":\"T\\n1\"},\"raw\":{\"k\\n\":"
                       "\"v\\n\"}}";
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        struct sl_format_opts o;
        struct ms_event ev;
        struct ms_buf buf;

        sl_opts(&o, payloads[i], '^');
        sl_ev_init(&ev, json);
        ms_buf_init(&buf, 65536);
        assert_int_equal(sl_header_write(&h, &ev, 0, &buf), MS_OK);
        assert_int_equal(sl_format_payload(&o, &ev, &buf), MS_OK);
        assert_null(memchr(buf.data, '\n', buf.len));
        assert_null(memchr(buf.data, '\r', buf.len));
        assert_null(memchr(buf.data, '\0', buf.len));
        assert_true(sl_valid_utf8(buf.data, buf.len));
        ms_buf_free(&buf);
        sl_ev_free(&ev);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5424),
        cmocka_unit_test(test_rfc3164),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_frame),
        cmocka_unit_test(test_put_i64),
        cmocka_unit_test(test_message_has_no_line_break),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
