/* CEF encoder: header and extension escaping row by row, lengths, labels, hostile values. */
#include <config.h>

#include "sl_unit.h"

#define EV_FULL                                                                                    \
    "{\"id\":\"ab12\",\"time\":\"2026-11-20T10:15:30.000Z\",\"vendor\":\"Mimecast\","              \
    "\"product\":\"Email Security\",\"source_type\":\"mimecast:ttp:url\",\"alert_type\":\"URL "    \
    "Protection\",\"mitre\":{\"technique_id\":\"T1598.003\",\"technique_name\":\"Spearphishing "   \
    "Link\"},\"severity\":7,\"action\":\"blocked\",\"vendor_action\":\"block\",\"sender\":\"a@x."  \
    "org\",\"recipient\":\"b@y.com\",\"subject\":\"Hello\",\"message_id\":\"<m1@x>\",\"src_ip\":"  \
    "\"185.220.101.7\",\"url\":\"https://e.x/?a=1\",\"signature\":\"Inbound URL\",\"size\":1234}"

static void test_full_event(void **state)
{
    struct sl_format_opts o;

    (void)state;
    sl_opts(&o, SL_PAYLOAD_CEF, '\t');
    sl_expect(&o, EV_FULL,
              "CEF:0|Mimecast|Email Security|2.0|TTP_URL|URL Protection|7|rt=" SL_T0_MS
              " cat=blocked act=blocked suser=a@x.org duser=b@y.com src=185.220.101.7"
              " request=https://e.x/?a\\=1 reason=Inbound URL cs1Label=subject cs1=Hello"
              " cs2Label=messageId cs2=<m1@x> cs3Label=mitreTechnique cs3=T1598.003"
              " flexString1Label=mitreTechniqueName flexString1=Spearphishing Link"
              " cs4Label=eventId cs4=ab12 cs5Label=sourceType cs5=mimecast:ttp:url"
              " flexString2Label=vendorAction flexString2=block cn1Label=size cn1=1234");
}

/* Returns the value of cs1 (the subject) for a subject given as JSON, or NULL. */
static char *cs1_of(const struct sl_format_opts *o, const char *json_value)
{
    char json[4096];
    struct ms_event ev;
    size_t len;
    char *out;
    char *p;
    char *end;
    char *val;

    snprintf(json, sizeof(json), "{\"source_type\":\"x:y\",\"subject\":%s}", json_value);
    sl_ev_init(&ev, json);
    out = sl_encode(o, &ev, &len);
    sl_ev_free(&ev);
    assert_true(sl_valid_utf8(out, len));
    assert_null(memchr(out, '\n', len));
    assert_null(memchr(out, '\r', len));
    p = strstr(out, " cs1=");
    if (!p) {
        free(out);
        return NULL;
    }
    p += strlen(" cs1=");
    end = strstr(p, " cs5Label=");
    assert_non_null(end);
    val = strndup(p, (size_t)(end - p));
    assert_non_null(val);
    free(out);
    return val;
}

struct row {
    const char *in;
    const char *want;
};

/* CEF "Character Encoding": extension values escape \ and = and encode line breaks. */
static const struct row ext_rows[] = {
    {"\"plain text\"", "plain text"},
    {"\"a=b\"", "a\\=b"},
    {"\"a\\\\b\"", "a\\\\b"},
    {"\"a|b\"", "a|b"}, /* pipes need no escape in the extension */
    {"\"a\\nb\"", "a\\nb"},
    {"\"a\\rb\"", "a\\rb"},
    {"\"a\\tb\"", "a b"}, /* tab: whitespace */
    {"\"x act=deleted\"", "x act\\=deleted"},
    {"\"end\\\\\"", "end\\\\"},
    {"\"a\\u0000b\\u0007c\\u007f\"", "abc"},
    {"\"a\\u009bb\"", "ab"}, /* C1 CSI dropped */
    {"\"Gr\xc3\xbc\xc3\x9f"
     "e\"",
     "Gr\xc3\xbc\xc3\x9f"
     "e"},
    {"\"\xe8\xab\x8b\xe6\xb1\x82\xe6\x9b\xb8\"", "\xe8\xab\x8b\xe6\xb1\x82\xe6\x9b\xb8"},
    {"\"a\xfe\xff"
     "b\"",
     "a\xef\xbf\xbd\xef\xbf\xbd"
     "b"},
    {"\"\xe2\x82\"", "\xef\xbf\xbd"},
    {"12", "12"},
    {"false", "false"},
    {"[\"a=1\",\"b\"]", "a\\=1,b"},
};

static void test_extension_escaping_table(void **state)
{
    struct sl_format_opts o;
    size_t i;

    (void)state;
    sl_opts(&o, SL_PAYLOAD_CEF, '\t');
    for (i = 0; i < sizeof(ext_rows) / sizeof(ext_rows[0]); i++) {
        char *got = cs1_of(&o, ext_rows[i].in);

        if (!got || strcmp(got, ext_rows[i].want) != 0) {
            fprintf(stderr, "# row %zu: in %s want [%s] got [%s]\n", i, ext_rows[i].in,
                    ext_rows[i].want, got ? got : "(absent)");
        }
        assert_non_null(got);
        assert_string_equal(got, ext_rows[i].want);
        free(got);
    }
    /* No value: neither cs1 nor its label. */
    assert_null(cs1_of(&o, "null"));
    assert_null(cs1_of(&o, "{\"a\":1}"));
    assert_null(cs1_of(&o, "\"\\u0000\""));
}

static void test_header_escaping_table(void **state)
{
    struct sl_format_opts o;

    (void)state;
    sl_opts(&o, SL_PAYLOAD_CEF, '\t');
    /* Header: | -> \|, \ -> \\, = stays, line breaks and tabs become spaces, controls dropped. */
    o.vendor = "Ac|me";
    o.product = "Back\\slash";
    o.version = "1=2";
    o.event_id = "id\r\nX";
    sl_expect(&o, "{\"alert_type\":\"Na|me\\n\\u0001\\\\\"}",
              "CEF:0|Ac\\|me|Back\\\\slash|1=2|id  X|Na\\|me \\\\|Unknown|cat=other");
}

static void test_header_lengths_and_severity(void **state)
{
    struct sl_format_opts o;
    struct ms_event ev;
    char json[8192];
    char big[2000];
    size_t len;
    char *out;
    char *f[8];
    char *p;
    int i;

    (void)state;
    sl_opts(&o, SL_PAYLOAD_CEF, '\t');
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    o.vendor = big;
    o.product = big;
    o.version = big;
    o.event_id = big;
    snprintf(json, sizeof(json), "{\"alert_type\":\"%s\",\"severity\":11}", big);
    sl_ev_init(&ev, json);
    out = sl_encode(&o, &ev, &len);
    /* Split the 7 header fields and the extension (no \| inside: the values hold only 'v'). */
    p = out;
    for (i = 0; i < 7; i++) {
        f[i] = p;
        p = strchr(p, '|');
        assert_non_null(p);
        *p++ = '\0';
    }
    assert_string_equal(f[0], "CEF:0");
    assert_int_equal(strlen(f[1]), 63);
    assert_int_equal(strlen(f[2]), 63);
    assert_int_equal(strlen(f[3]), 31);
    assert_int_equal(strlen(f[4]), 1023);
    assert_int_equal(strlen(f[5]), 512);
    assert_string_equal(f[6], "10"); /* clamped to 0..10 */
    f[7] = p;
    assert_string_equal(f[7], "cat=other");
    free(out);
    sl_ev_free(&ev);

    sl_opts(&o, SL_PAYLOAD_CEF, '\t');
    sl_expect(&o, "{\"severity\":-1}", "CEF:0|Unknown|Unknown|1.0|EVENT|EVENT|0|cat=other");
    sl_expect(&o, "{\"severity\":\"high\"}",
              "CEF:0|Unknown|Unknown|1.0|EVENT|EVENT|Unknown|cat=other");
    sl_expect(&o, "{\"severity\":\"4\"}", "CEF:0|Unknown|Unknown|1.0|EVENT|EVENT|4|cat=other");
}

static void test_extension_lengths(void **state)
{
    struct sl_format_opts o;
    struct ms_event ev;
    struct ms_buf json;
    size_t len;
    size_t i;
    char *out;
    char *v;

    (void)state;
    sl_opts(&o, SL_PAYLOAD_CEF, '\t');
    ms_buf_init(&json, 4u * 1024 * 1024);
    assert_int_equal(ms_buf_puts(&json, "{\"source_type\":\"x:y\",\"sender\":\""), MS_OK);
    for (i = 0; i < 100000; i++) {
        assert_int_equal(ms_buf_puts(&json, "\xc3\xa4"), MS_OK); /* a umlaut, 2 bytes */
    }
    assert_int_equal(ms_buf_puts(&json, "\",\"action\":\""), MS_OK);
    for (i = 0; i < 1000; i++) {
        assert_int_equal(ms_buf_puts(&json, "="), MS_OK);
    }
    assert_int_equal(ms_buf_puts(&json, "\",\"subject\":\""), MS_OK);
    for (i = 0; i < 100000; i++) {
        assert_int_equal(ms_buf_puts(&json, "\\n"), MS_OK);
    }
    assert_int_equal(ms_buf_puts(&json, "\"}"), MS_OK);
    sl_ev_init(&ev, ms_buf_cstr(&json));
    ms_buf_free(&json);
    out = sl_encode(&o, &ev, &len);
    assert_true(sl_valid_utf8(out, len));
    v = strstr(out, " suser=") + strlen(" suser=");
    assert_int_equal(strchr(v, ' ') - v, 1022); /* 1023 max: 511 whole umlauts */
    v = strstr(out, " act=") + strlen(" act=");
    assert_int_equal(strchr(v, ' ') - v, 62); /* 63 max: 31 whole \= pairs */
    v = strstr(out, " cs1=") + strlen(" cs1=");
    assert_int_equal(strchr(v, ' ') - v, 4000); /* 2000 \n pairs */
    free(out);
    sl_ev_free(&ev);
}

static void test_missing_and_wrong_types(void **state)
{
    struct sl_format_opts o;

    (void)state;
    sl_opts(&o, SL_PAYLOAD_CEF, '\t');
    sl_expect(&o,
              "{\"id\":\"i1\",\"time\":\"2026-11-20T10:15:30.000Z\","
              "\"source_type\":\"mimecast:ttp:url\",\"raw\":{\"a\":\"b\"}}",
              "CEF:0|Mimecast|Email Security|2.0|TTP_URL|TTP_URL|Unknown|rt=" SL_T0_MS
              " cat=other cs4Label=eventId cs4=i1 cs5Label=sourceType cs5=mimecast:ttp:url");
    sl_expect(&o, "[]", "CEF:0|Unknown|Unknown|1.0|EVENT|EVENT|Unknown|cat=other");
    sl_expect(&o,
              "{\"source_type\":\"x:y\",\"alert_type\":{\"a\":1},\"recipient\":[\"a@b\",2],"
              "\"dest\":\"mx1\",\"src_ip\":\"999.1.1.1\",\"src_port\":25,\"size\":\"big\","
              "\"mitre\":[1]}",
              "CEF:0|Unknown|Unknown|1.0|X_Y|X_Y|Unknown|cat=other duser=a@b,2 spt=25 dhost=mx1"
              " cs5Label=sourceType cs5=x:y");
    sl_expect(&o,
              "{\"source_type\":\"pps:quarantine\",\"dest\":\"10.1.2.3\",\"dest_port\":\"587\"}",
              "CEF:0|Proofpoint|Protection Server|v1|PPS_Quarantine|PPS_Quarantine|Unknown"
              "|cat=quarantined dst=10.1.2.3 dpt=587 cs5Label=sourceType cs5=pps:quarantine");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_event),
        cmocka_unit_test(test_extension_escaping_table),
        cmocka_unit_test(test_header_escaping_table),
        cmocka_unit_test(test_header_lengths_and_severity),
        cmocka_unit_test(test_extension_lengths),
        cmocka_unit_test(test_missing_and_wrong_types),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
