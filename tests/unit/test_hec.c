/* hec output: envelope formatter on hostile values, time parsing, reply parsers, init refusals. */
#include <config.h>

#include "unit.h"

#include <json-c/json.h>

#include "../../outputs/hec/hec.h"
#include "core/ms_config.h"
#include "core/ms_err.h"
#include "core/ms_log.h"

/* ------------------------------------------------------------------------------------------
 * helpers
 */

/* Parses s[0..len) with json-c in strict mode, UTF-8 validated, every byte consumed. */
static struct json_object *parse_strict(const char *s, size_t len)
{
    struct json_tokener *tok = json_tokener_new_ex(128); /* the formatter writes up to 64 */
    struct json_object *obj;

    assert_non_null(tok);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    obj = json_tokener_parse_ex(tok, s, (int)len);
    if (json_tokener_get_error(tok) != json_tokener_success || !obj) {
        fail_msg("not strict JSON (%s): %.200s",
                 json_tokener_error_desc(json_tokener_get_error(tok)), s);
    }
    assert_int_equal(json_tokener_get_parse_end(tok), len);
    json_tokener_free(tok);
    return obj;
}

static void ev_from(struct ms_event *ev, const char *json)
{
    struct json_object *st;

    memset(ev, 0, sizeof(*ev));
    ev->ev = json_tokener_parse(json);
    assert_non_null(ev->ev);
    if (json_object_object_get_ex(ev->ev, "source_type", &st) &&
        json_object_is_type(st, json_type_string)) {
        snprintf(ev->source_type, sizeof(ev->source_type), "%s", json_object_get_string(st));
    }
}

static void ev_free(struct ms_event *ev)
{
    json_object_put(ev->ev);
    ev->ev = NULL;
    free(ev->text);
    ev->text = NULL;
}

/* Gives ev the text the spool would hold (json-c's serialization), enabling the fast path. */
static void ev_with_text(struct ms_event *ev)
{
    size_t len;
    const char *t = json_object_to_json_string_length(
        ev->ev, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

    ev->text = strdup(t);
    assert_non_null(ev->text);
    ev->text_len = len;
}

/* Formats ev with opts and returns the envelope parsed strictly (caller puts it). */
static struct json_object *
format_parse(const struct hec_format_opts *opts, const struct ms_event *ev, struct ms_buf *out)
{
    ms_buf_reset(out);
    assert_int_equal(hec_format_event(opts, ev, out), MS_OK);
    assert_true(out->len > 2);
    assert_int_equal(out->data[out->len - 1], '\n');
    assert_null(memchr(out->data, '\n', out->len - 1)); /* one line per event */
    return parse_strict(out->data, out->len - 1);
}

static struct json_object *get(struct json_object *obj, const char *key)
{
    struct json_object *v = NULL;

    if (!json_object_object_get_ex(obj, key, &v)) {
        return NULL;
    }
    return v;
}

static const char *get_s(struct json_object *obj, const char *key)
{
    struct json_object *v = get(obj, key);

    assert_non_null(v);
    assert_true(json_object_is_type(v, json_type_string));
    return json_object_get_string(v);
}

static size_t count_substr(const char *hay, const char *needle)
{
    size_t n = 0;
    const char *p = hay;

    while ((p = strstr(p, needle))) {
        n++;
        p += strlen(needle);
    }
    return n;
}

static const char full_event[] =
    "{\"id\":\"9c1e000000000000000000000000000000000000000000000000000000000001\","
    "\"time\":\"2026-11-20T10:15:30.123Z\",\"vendor\":\"Mimecast\",\"product\":\"Email Security\","
    "\"source_type\":\"mimecast:ttp:url\",\"alert_type\":\"URL Protection\","
    "\"mitre\":{\"technique_id\":\"T1598.003\",\"technique_name\":\"Spearphishing Link\"},"
    "\"severity\":7,\"action\":\"blocked\",\"sender\":\"a@evil.example\","
    "\"recipient\":[\"b@corp.example\",\"c@corp.example\"],\"subject\":\"Invoice \\\"Q4\\\"\","
    "\"src_ip\":\"185.220.101.7\",\"url\":\"https://evil.example/x?a=1&b=2\",\"size\":1234,"
    "\"fields\":{\"route\":\"inbound\"},\"raw\":{\"action\":\"block\",\"n\":[1,2.5,null,true]}}";

/* ------------------------------------------------------------------------------------------
 * JSON string escaping, row by row
 */

static void test_escape_table(void **state)
{
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } rows[] = {
        {"plain", 5, "\"plain\""},
        {"", 0, "\"\""},
        {"a\"b", 3, "\"a\\\"b\""},
        {"a\\b", 3, "\"a\\\\b\""},
        {"a/b", 3, "\"a/b\""},
        {"\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\""},
        {"\x01\x1f", 2, "\"\\u0001\\u001f\""},
        {"\x7f", 1, "\"\x7f\""},
        {"a\0b", 3, "\"a\\u0000b\""},
        {"caf\xc3\xa9", 5, "\"caf\xc3\xa9\""},
        {"\xe6\x97\xa5\xe6\x9c\xac", 6, "\"\xe6\x97\xa5\xe6\x9c\xac\""},
        {"\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\""},
        {"\xe2\x80\xa8", 3, "\"\xe2\x80\xa8\""},
        {"\xf4\x8f\xbf\xbf", 4, "\"\xf4\x8f\xbf\xbf\""},
        /* invalid UTF-8: one U+FFFD per bad byte */
        {"\x80", 1, "\"\xef\xbf\xbd\""},
        {"a\xc3", 2, "\"a\xef\xbf\xbd\""},
        {"\xc3\x28", 2, "\"\xef\xbf\xbd(\""},
        {"\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\""},
        {"\xe0\x80\xaf", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
        {"\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
        {"\xf4\x90\x80\x80", 4, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
        {"\xf5", 1, "\"\xef\xbf\xbd\""},
        {"\xff\xfe", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\""},
        {"\xf0\x9f\x98", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
        {"x\xe2\x82", 3, "\"x\xef\xbf\xbd\xef\xbf\xbd\""},
        {"\"\\\n\x80", 4, "\"\\\"\\\\\\n\xef\xbf\xbd\""},
    };
    struct ms_buf out;
    size_t i;

    (void)state;
    ms_buf_init(&out, 1024);
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct json_object *obj;

        ms_buf_reset(&out);
        assert_int_equal(hec_json_string(&out, rows[i].in, rows[i].len), MS_OK);
        if (strcmp(ms_buf_cstr(&out), rows[i].want) != 0) {
            fail_msg("row %zu: got [%s], want [%s]", i, ms_buf_cstr(&out), rows[i].want);
        }
        obj = parse_strict(out.data, out.len); /* always valid JSON and valid UTF-8 */
        json_object_put(obj);
    }
    ms_buf_free(&out);
}

/* Every byte value, alone and after a lead byte: the output is always strict JSON. */
static void test_escape_every_byte(void **state)
{
    struct ms_buf out;
    char in[3];
    unsigned a;
    unsigned c;

    (void)state;
    ms_buf_init(&out, 1024);
    for (a = 0; a < 256; a++) {
        for (c = 0; c < 256; c += 17) {
            struct json_object *obj;

            in[0] = (char)a;
            in[1] = (char)c;
            in[2] = 'z';
            ms_buf_reset(&out);
            assert_int_equal(hec_json_string(&out, in, 3), MS_OK);
            obj = parse_strict(out.data, out.len);
            json_object_put(obj);
        }
    }
    ms_buf_free(&out);
}

static void test_escape_cap(void **state)
{
    struct ms_buf out;

    (void)state;
    ms_buf_init(&out, 8);
    assert_int_equal(hec_json_string(&out, "\"\"\"\"\"", 5), MS_ETOOBIG);
    assert_null(out.data); /* ms_buf frees on overflow */
    ms_buf_free(&out);
}

/* ------------------------------------------------------------------------------------------
 * Time
 */

static void test_time_table(void **state)
{
    static const struct {
        const char *in;
        int64_t ms;
        const char *text;
    } ok_rows[] = {
        {"2026-11-20T10:15:30.000Z", 1795169730000LL, "1795169730.000"},
        {"2026-11-20T10:15:30Z", 1795169730000LL, "1795169730.000"},
        {"2026-11-20T10:15:30.5Z", 1795169730500LL, "1795169730.500"},
        {"2026-11-20T10:15:30.05Z", 1795169730050LL, "1795169730.050"},
        {"2026-11-20T10:15:30.123Z", 1795169730123LL, "1795169730.123"},
        {"2026-11-20T10:15:30.123456789Z", 1795169730123LL, "1795169730.123"},
        {"2026-11-20T10:15:30.9999Z", 1795169730999LL, "1795169730.999"},
        {"2026-11-20T10:15:30,250Z", 1795169730250LL, "1795169730.250"},
        {"2026-11-20T12:15:30.250+02:00", 1795169730250LL, "1795169730.250"},
        {"2026-11-20T05:15:30-0500", 1795169730000LL, "1795169730.000"},
        {"2026-11-20T15:45:30.007+05:30", 1795169730007LL, "1795169730.007"},
        {"2026-11-20T10:15:30+0000", 1795169730000LL, "1795169730.000"},
        {"2026-11-20 10:15:30.001", 1795169730001LL, "1795169730.001"},
        {"2026-11-20t10:15:30.001z", 1795169730001LL, "1795169730.001"},
        {"2024-02-29T23:59:59.999Z", 1709251199999LL, "1709251199.999"},
        {"2000-01-01T00:00:00Z", 946684800000LL, "946684800.000"},
        {"2016-12-31T23:59:60Z", 1483228800000LL, "1483228800.000"},
        {"1970-01-01T00:00:00Z", 0, "0.000"},
        {"1969-12-31T23:59:59.500Z", -500, "-0.500"},
        {"1969-12-31T23:59:58.250Z", -1750, "-1.750"},
        {"0001-01-01T00:00:00Z", -62135596800000LL, "-62135596800.000"},
        {"9999-12-31T23:59:59.999Z", 253402300799999LL, "253402300799.999"},
    };
    static const char *const bad_rows[] = {
        "",
        "2026-11-20",
        "2026-11-20T10:15",
        "2026-13-01T00:00:00Z",
        "2026-00-10T00:00:00Z",
        "2026-02-29T00:00:00Z",
        "2026-11-31T00:00:00Z",
        "2026-11-00T00:00:00Z",
        "2026-11-20T24:00:00Z",
        "2026-11-20T10:60:00Z",
        "2026-11-20T10:15:61Z",
        "2026-11-20T10:15:30.Z",
        "2026-11-20T10:15:30+2",
        "2026-11-20T10:15:30+24:00",
        "2026-11-20T10:15:30+02:60",
        "2026-11-20T10:15:30Zjunk",
        "2026-11-20T10:15:30.000Z ",
        " 2026-11-20T10:15:30Z",
        "2O26-11-20T10:15:30Z",
        "+2026-11-20T10:15:30Z",
        "2026/11/20T10:15:30Z",
        "2026-11-20X10:15:30Z",
        "1795169730",
    };
    char text[48];
    int64_t ms;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(ok_rows) / sizeof(ok_rows[0]); i++) {
        ms = -42;
        if (hec_time_parse(ok_rows[i].in, &ms) != MS_OK || ms != ok_rows[i].ms) {
            fail_msg("'%s': got %lld, want %lld", ok_rows[i].in, (long long)ms,
                     (long long)ok_rows[i].ms);
        }
        hec_time_format(ms, text, sizeof(text));
        assert_string_equal(text, ok_rows[i].text);
    }
    for (i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
        if (hec_time_parse(bad_rows[i], &ms) != MS_EINVAL) {
            fail_msg("'%s' accepted as %lld", bad_rows[i], (long long)ms);
        }
    }
}

/* ------------------------------------------------------------------------------------------
 * Envelope
 */

static void test_envelope_metadata(void **state)
{
    struct ms_kvlist sts = {0};
    struct ms_kvlist idx = {0};
    char *st_keys[] = {"mimecast-ttp-attachment", "mimecast-ttp-url"};
    char *st_vals[] = {"other", "mimecast:url"};
    char *ix_keys[] = {"mimecast-ttp-url"};
    char *ix_vals[] = {"email_urls"};
    struct hec_format_opts opts = {0};
    struct json_object *env;
    struct ms_event ev;
    struct ms_buf out;

    (void)state;
    ms_buf_init(&out, 1 << 20);
    ev_from(&ev, full_event);

    /* Defaults: source msfwd:<source_type>, sourcetype = source_type, no host, no index. */
    env = format_parse(&opts, &ev, &out);
    assert_string_equal(get_s(env, "source"), "msfwd:mimecast:ttp:url");
    assert_string_equal(get_s(env, "sourcetype"), "mimecast:ttp:url");
    assert_null(get(env, "host"));
    assert_null(get(env, "index"));
    assert_null(get(env, "fields"));
    assert_true(json_object_is_type(get(env, "time"), json_type_double));
    /* time is written exactly, not through a double */
    assert_non_null(strstr(out.data, "{\"time\":1795169730.123,"));
    json_object_put(env);

    /* Configured values and per-source-type overrides ("-" stands for ":"). */
    sts.keys = st_keys;
    sts.values = st_vals;
    sts.n = 2;
    idx.keys = ix_keys;
    idx.values = ix_vals;
    idx.n = 1;
    opts.host = "mx-gw-01";
    opts.source = "email-security";
    opts.sourcetype = "_json";
    opts.sourcetypes = &sts;
    opts.index = "email";
    opts.indexes = &idx;
    env = format_parse(&opts, &ev, &out);
    assert_string_equal(get_s(env, "host"), "mx-gw-01");
    assert_string_equal(get_s(env, "source"), "email-security");
    assert_string_equal(get_s(env, "sourcetype"), "mimecast:url");
    assert_string_equal(get_s(env, "index"), "email_urls");
    json_object_put(env);

    /* Another source type: the global values apply. */
    ev_free(&ev);
    ev_from(&ev,
            "{\"id\":\"x\",\"time\":\"2026-11-20T10:15:30Z\",\"source_type\":\"pps:quarantine\"}");
    env = format_parse(&opts, &ev, &out);
    assert_string_equal(get_s(env, "sourcetype"), "_json");
    assert_string_equal(get_s(env, "index"), "email");
    json_object_put(env);

    ev_free(&ev);
    ms_buf_free(&out);
}

static void test_envelope_event_and_cim(void **state)
{
    struct hec_format_opts opts = {0};
    struct json_object *env;
    struct json_object *event;
    struct json_object *orig;
    struct ms_event ev;
    struct ms_buf out;

    (void)state;
    ms_buf_init(&out, 1 << 20);
    ev_from(&ev, full_event);
    orig = json_tokener_parse(full_event);
    opts.include_raw = true;
    opts.cim = true;
    env = format_parse(&opts, &ev, &out);
    event = get(env, "event");
    assert_non_null(event);
    /* every normalized key is there, unchanged (raw included) */
    json_object_object_foreach(orig, key, val) {
        if (!json_object_equal(val, get(event, key))) {
            fail_msg("event.%s differs", key);
        }
    }
    /* CIM names next to them */
    assert_string_equal(get_s(event, "src_user"), "a@evil.example");
    assert_string_equal(get_s(event, "src"), "185.220.101.7");
    assert_int_equal(json_object_get_int(get(event, "recipient_count")), 2);
    assert_true(json_object_is_type(get(event, "recipient_count"), json_type_int));
    assert_string_equal(get_s(event, "vendor_product"), "Mimecast Email Security");
    assert_string_equal(get_s(event, "mitre_technique_id"), "T1598.003");
    assert_string_equal(get_s(event, "mitre_technique"), "Spearphishing Link");
    assert_true(json_object_is_type(get(event, "severity"), json_type_int));
    assert_int_equal(json_object_object_length(event), json_object_object_length(orig) + 6);
    json_object_put(env);

    /* include_raw = false: no raw; cim off: no additions */
    opts.include_raw = false;
    opts.cim = false;
    env = format_parse(&opts, &ev, &out);
    event = get(env, "event");
    assert_null(get(event, "raw"));
    assert_null(get(event, "src_user"));
    assert_int_equal(json_object_object_length(event), json_object_object_length(orig) - 1);
    json_object_put(env);

    /* A normalized key with a CIM name is not written twice. */
    ev_free(&ev);
    ev_from(&ev, "{\"id\":\"x\",\"time\":\"2026-11-20T10:15:30Z\",\"source_type\":\"s\","
                 "\"sender\":\"a@x\",\"src_user\":\"mapped@x\"}");
    opts.cim = true;
    env = format_parse(&opts, &ev, &out);
    assert_int_equal(count_substr(out.data, "\"src_user\":"), 1);
    assert_string_equal(get_s(get(env, "event"), "src_user"), "mapped@x");
    json_object_put(env);

    json_object_put(orig);
    ev_free(&ev);
    ms_buf_free(&out);
}

static void test_envelope_fields(void **state)
{
    char *items[] = {"vendor",   "recipient", "severity", "mitre_technique_id", "raw",
                     "missing",  "vendor",    "tenant",   "recipient_count",    "fields",
                     "src_user", "flag",      "ratio",    "nothing_usable"};
    char *ck[] = {"tenant", "region"};
    char *cv[] = {"acme \"corp\"", "eu"};
    struct ms_strlist fields = {items, sizeof(items) / sizeof(items[0])};
    struct ms_kvlist consts = {ck, cv, 2};
    struct hec_format_opts opts = {0};
    struct json_object *env;
    struct json_object *f;
    struct json_object *r;
    struct ms_event ev;
    struct ms_buf out;

    (void)state;
    ms_buf_init(&out, 1 << 20);
    ev_from(&ev, "{\"id\":\"x\",\"time\":\"2026-11-20T10:15:30Z\",\"source_type\":\"s\","
                 "\"vendor\":\"Mimecast\",\"recipient\":[\"b@x\",7,{\"o\":1},null,\"c@x\",true],"
                 "\"severity\":7,\"tenant\":\"from-event\",\"sender\":\"a@x\","
                 "\"mitre\":[{\"technique_id\":\"T1\"},3,{\"technique_id\":\"T2\"}],"
                 "\"raw\":{\"a\":1},\"fields\":{\"k\":\"v\"},\"flag\":false,\"ratio\":0.25,"
                 "\"nothing_usable\":[{},[],null]}");
    opts.fields = &fields;
    opts.const_fields = &consts;
    env = format_parse(&opts, &ev, &out);
    f = get(env, "fields");
    assert_non_null(f);
    /* HEC accepts only strings and arrays of strings here */
    json_object_object_foreach(f, key, val) {
        size_t i;

        if (json_object_is_type(val, json_type_string)) {
            continue;
        }
        assert_true(json_object_is_type(val, json_type_array));
        for (i = 0; i < json_object_array_length(val); i++) {
            if (!json_object_is_type(json_object_array_get_idx(val, i), json_type_string)) {
                fail_msg("fields.%s[%zu] is not a string", key, i);
            }
        }
    }
    assert_string_equal(get_s(f, "tenant"), "acme \"corp\"");   /* constant wins, once */
    assert_int_equal(count_substr(out.data, "\"tenant\":"), 2); /* fields + event */
    assert_string_equal(get_s(f, "region"), "eu");
    assert_string_equal(get_s(f, "vendor"), "Mimecast");
    assert_string_equal(get_s(f, "severity"), "7");
    assert_string_equal(get_s(f, "flag"), "false");
    assert_string_equal(get_s(f, "ratio"), "0.25");
    assert_string_equal(get_s(f, "recipient_count"), "6");
    assert_string_equal(get_s(f, "src_user"), "a@x");
    r = get(f, "recipient");
    assert_int_equal(json_object_array_length(r), 4);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(r, 1)), "7");
    assert_string_equal(json_object_get_string(json_object_array_get_idx(r, 3)), "true");
    r = get(f, "mitre_technique_id");
    assert_int_equal(json_object_array_length(r), 2);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(r, 1)), "T2");
    assert_null(get(f, "raw"));
    assert_null(get(f, "fields"));
    assert_null(get(f, "missing"));
    assert_null(get(f, "nothing_usable"));
    assert_int_equal(json_object_object_length(f), 10);
    json_object_put(env);

    /* Nothing usable at all: no "fields" member. */
    fields.n = 1;
    fields.items = items + 5; /* "missing" */
    opts.const_fields = NULL;
    env = format_parse(&opts, &ev, &out);
    assert_null(get(env, "fields"));
    json_object_put(env);

    ev_free(&ev);
    ms_buf_free(&out);
}

/* Keys missing or of the wrong type: no crash, strict JSON, the odd values left as they are. */
static void test_envelope_wrong_types(void **state)
{
    static const struct {
        const char *in;
        const char *has;     /* substring the output must contain, or NULL */
        const char *has_not; /* substring it must not contain, or NULL */
    } rows[] = {
        {"{\"id\":\"x\",\"source_type\":\"s\"}", NULL, "\"time\""},
        {"{\"id\":\"x\",\"time\":\"garbage\",\"source_type\":\"s\"}", NULL, "{\"time\""},
        {"{\"id\":\"x\",\"time\":null,\"source_type\":\"s\"}", NULL, "{\"time\""},
        {"{\"id\":\"x\",\"time\":{\"a\":1},\"source_type\":\"s\"}", NULL, "{\"time\""},
        {"{\"id\":\"x\",\"time\":1795169730,\"source_type\":\"s\"}", "{\"time\":1795169730.000,",
         NULL},
        {"{\"id\":\"x\",\"time\":1795169730.25,\"source_type\":\"s\"}", "{\"time\":1795169730.250,",
         NULL},
        {"{\"id\":\"x\",\"time\":1e300,\"source_type\":\"s\"}", NULL, "{\"time\""},
        {"{\"id\":\"x\",\"time\":\"2026-11-20T10:15:30Z\",\"source_type\":7}",
         "\"source\":\"msfwd\"", "\"sourcetype\""},
        {"{\"id\":\"x\",\"mitre\":\"T1566\"}", NULL, "mitre_technique"},
        {"{\"id\":\"x\",\"mitre\":{\"technique_id\":5}}", NULL, "mitre_technique_id"},
        {"{\"id\":\"x\",\"mitre\":[{\"technique_name\":\"A\"},{\"technique_name\":\"B\"}]}",
         "\"mitre_technique\":[\"A\",\"B\"]", "mitre_technique_id"},
        {"{\"id\":\"x\",\"recipient\":42}", NULL, "recipient_count"},
        {"{\"id\":\"x\",\"recipient\":\"\"}", "\"recipient_count\":0", NULL},
        {"{\"id\":\"x\",\"recipient\":\"b@x\"}", "\"recipient_count\":1", NULL},
        {"{\"id\":\"x\",\"sender\":{\"a\":1}}", NULL, "src_user"},
        {"{\"id\":\"x\",\"sender\":[\"a@x\",\"b@x\"]}", "\"src_user\":[\"a@x\",\"b@x\"]", NULL},
        {"{\"id\":\"x\",\"sender\":[\"a@x\",1]}", NULL, "src_user"},
        {"{\"id\":\"x\",\"vendor\":\"V\"}", "\"vendor_product\":\"V\"", NULL},
        {"{\"id\":\"x\",\"product\":\"P\",\"vendor\":3}", "\"vendor_product\":\"P\"", NULL},
        {"{\"id\":\"x\",\"severity\":\"7\"}", "\"severity\":7", NULL},
        {"{\"id\":\"x\",\"severity\":\"-3\"}", "\"severity\":-3", NULL},
        {"{\"id\":\"x\",\"severity\":\"high\"}", "\"severity\":\"high\"", NULL},
        {"{\"id\":\"x\",\"severity\":\"7.5\"}", "\"severity\":\"7.5\"", NULL},
        {"{\"id\":\"x\",\"size\":\"0012\"}", "\"size\":12", NULL},
        {"{\"id\":\"x\",\"size\":\"99999999999999999999\"}", "\"size\":\"99999999999999999999\"",
         NULL},
        {"{\"id\":\"x\",\"n\":NaN,\"i\":Infinity,\"m\":-Infinity}",
         "\"n\":null,\"i\":null,\"m\":null", NULL},
        {"{\"id\":\"x\",\"big\":18446744073709551615,\"neg\":-9223372036854775808}",
         "\"big\":18446744073709551615,\"neg\":-9223372036854775808", NULL},
        {"{\"id\":\"x\",\"d\":0.1,\"e\":1e300,\"z\":-0.0}", "\"d\":0.1,\"e\":1e+300,\"z\":-0",
         NULL},
        {"{\"id\":\"x\",\"k\\\"ey\\n\":\"v\"}", "\"k\\\"ey\\n\":\"v\"", NULL},
        {"{\"id\":\"x\",\"raw\":[1,[2,[3]],{\"a\":{}}]}", "\"raw\":[1,[2,[3]],{\"a\":{}}]", NULL},
    };
    struct hec_format_opts opts = {0};
    struct json_object *env;
    struct ms_event ev;
    struct ms_buf out;
    size_t i;

    (void)state;
    ms_buf_init(&out, 1 << 20);
    opts.include_raw = true;
    opts.cim = true;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        ev_from(&ev, rows[i].in);
        env = format_parse(&opts, &ev, &out);
        assert_non_null(get(env, "event"));
        if (rows[i].has && !strstr(out.data, rows[i].has)) {
            fail_msg("row %zu: [%s] lacks [%s]", i, out.data, rows[i].has);
        }
        if (rows[i].has_not && strstr(out.data, rows[i].has_not)) {
            fail_msg("row %zu: [%s] has [%s]", i, out.data, rows[i].has_not);
        }
        json_object_put(env);
        ev_free(&ev);
    }
    ms_buf_free(&out);
}

/*
 * The copy of the spooled text (fast path) and the walk of the parsed event (slow path) give the
 * same envelope, for plain and odd events; odd text (invalid UTF-8, NaN) falls back to the walk.
 */
static void test_envelope_fast_path_matches(void **state)
{
    static const struct {
        const char *in;
        bool fast; /* the text is copied as it is (json-c decodes a lone surrogate to U+FFFD) */
    } rows[] = {
        {full_event, true},
        {"{\"id\":\"x\",\"time\":\"2026-11-20T10:15:30Z\",\"source_type\":\"s\"}", true},
        {"{\"id\":\"x\",\"subject\":\"q\\\"b\\\\s/\\n\\u0001\\u007f caf\\u00e9 \\ud83d\\ude00\"}",
         true},
        {"{\"id\":\"x\",\"sender\":[\"a@x\",\"b@x\"],\"mitre\":[{\"technique_id\":\"T1\"}]}", true},
        {"{\"id\":\"x\",\"src_user\":\"m\",\"sender\":\"a\",\"recipient\":[]}", true},
        {"{\"id\":\"x\",\"big\":18446744073709551615,\"d\":0.1,\"e\":1e300,\"t\":[true,null]}",
         true},
        {"{\"id\":\"x\",\"severity\":\"7\",\"size\":\"12\"}", false},
        {"{\"id\":\"x\",\"n\":NaN,\"i\":-Infinity}", false},
        {"{\"id\":\"x\",\"subject\":\"NaN and Infinity as words\"}", false},
        {"{\"id\":\"x\",\"subject\":\"\\ud800 lone surrogate\"}", true},
    };
    struct hec_format_opts opts = {0};
    struct json_object *slow;
    struct json_object *fast;
    struct ms_event ev;
    struct ms_buf out;
    char *spaced;
    size_t i;
    int raw;

    (void)state;
    ms_buf_init(&out, 1 << 20);
    opts.cim = true;
    for (raw = 0; raw < 2; raw++) {
        opts.include_raw = raw;
        for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
            ev_from(&ev, rows[i].in);
            slow = format_parse(&opts, &ev, &out);
            ev_with_text(&ev);
            /*
             * "{ " marks the spooled text: the slow path never writes a space there, so the
             * mark in the envelope proves the text was copied.
             */
            spaced = malloc(ev.text_len + 2);
            assert_non_null(spaced);
            memcpy(spaced, "{ ", 2);
            memcpy(spaced + 2, ev.text + 1, ev.text_len);
            free(ev.text);
            ev.text = spaced;
            ev.text_len++;
            fast = format_parse(&opts, &ev, &out);
            if (!json_object_equal(slow, fast)) {
                fail_msg("row %zu raw %d: fast and slow paths differ: %s", i, raw, out.data);
            }
            if ((strstr(out.data, "\"event\":{ \"") != NULL) !=
                (rows[i].fast && (raw || !strstr(rows[i].in, "\"raw\"")))) {
                fail_msg("row %zu raw %d: unexpected path: %s", i, raw, out.data);
            }
            json_object_put(slow);
            json_object_put(fast);
            ev_free(&ev);
        }
    }
    ms_buf_free(&out);
}

/* Text json-c wrote from bytes that are not UTF-8: the slow path repairs them. */
static void test_envelope_fast_path_refuses_bad_text(void **state)
{
    struct hec_format_opts opts = {0};
    struct json_object *env;
    struct ms_event ev;
    struct ms_buf out;

    (void)state;
    memset(&ev, 0, sizeof(ev));
    ev.ev = json_object_new_object();
    json_object_object_add(ev.ev, "id", json_object_new_string("x"));
    json_object_object_add(ev.ev, "subject", json_object_new_string("bad \xc3\x28 \xff end"));
    ev_with_text(&ev);
    assert_non_null(strstr(ev.text, "\xff")); /* json-c passed the byte through */
    opts.include_raw = true;
    ms_buf_init(&out, 1 << 20);
    env = format_parse(&opts, &ev, &out);
    assert_string_equal(get_s(get(env, "event"), "subject"), "bad \xef\xbf\xbd( \xef\xbf\xbd end");
    json_object_put(env);
    /* A text that is not one object is not copied either. */
    free(ev.text);
    ev.text = strdup("[1]");
    ev.text_len = 3;
    env = format_parse(&opts, &ev, &out);
    assert_string_equal(get_s(get(env, "event"), "id"), "x");
    json_object_put(env);
    ev_free(&ev);
    ms_buf_free(&out);
}

static void test_envelope_refused(void **state)
{
    static const char *const rows[] = {"{}", "[1,2]", "\"text\"", "42", "null"};
    struct hec_format_opts opts = {0};
    struct ms_event ev;
    struct ms_buf out;
    size_t i;

    (void)state;
    ms_buf_init(&out, 1024);
    assert_int_equal(ms_buf_puts(&out, "keep"), MS_OK);
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        memset(&ev, 0, sizeof(ev));
        ev.ev = json_tokener_parse(rows[i]);
        assert_int_equal(hec_format_event(&opts, &ev, &out), MS_EINVAL);
        assert_string_equal(ms_buf_cstr(&out), "keep"); /* nothing appended */
        json_object_put(ev.ev);
    }
    memset(&ev, 0, sizeof(ev));
    assert_int_equal(hec_format_event(&opts, &ev, &out), MS_EINVAL); /* no object at all */
    ms_buf_free(&out);
}

/* Hostile values built through the API (json-c keeps the bytes as given). */
static void test_envelope_hostile_strings(void **state)
{
    static const char bad[] =
        "q\"b\\s/\n\r\t\x01\x1f\x7f nul:\0:\x80\xc3(\xed\xa0\x80\xf4\x90\x80\x80"
        "\xe2\x80\xa8 \xf0\x9f\x98\x80 <script>";
    struct hec_format_opts opts = {0};
    struct json_object *obj = json_object_new_object();
    struct json_object *env;
    struct json_object *event;
    struct json_object *deep = json_object_new_string("bottom");
    struct ms_event ev;
    struct ms_buf out;
    int i;

    (void)state;
    json_object_object_add(obj, "id", json_object_new_string("x"));
    json_object_object_add(obj, "time", json_object_new_string("2026-11-20T10:15:30.000Z"));
    json_object_object_add(obj, "source_type", json_object_new_string_len(bad, sizeof(bad) - 1));
    json_object_object_add(obj, "subject", json_object_new_string_len(bad, sizeof(bad) - 1));
    json_object_object_add(obj, "sender", json_object_new_string_len(bad, sizeof(bad) - 1));
    json_object_object_add(obj, "k\xff\"\n", json_object_new_string("key is hostile"));
    for (i = 0; i < 100; i++) {
        struct json_object *a = json_object_new_array();

        json_object_array_add(a, deep);
        deep = a;
    }
    json_object_object_add(obj, "raw", deep);
    memset(&ev, 0, sizeof(ev));
    ev.ev = obj;
    snprintf(ev.source_type, sizeof(ev.source_type), "mimecast:\"x\n");
    opts.host = "h\"o\nst\xc3";
    opts.include_raw = true;
    opts.cim = true;
    ms_buf_init(&out, 1 << 20);
    env = format_parse(&opts, &ev, &out);
    event = get(env, "event");
    assert_string_equal(get_s(env, "host"), "h\"o\nst\xef\xbf\xbd");
    assert_string_equal(get_s(env, "sourcetype"), "mimecast:\"x\n");
    assert_string_equal(get_s(event, "subject"), "q\"b\\s/\n\r\t\x01\x1f\x7f nul:");
    assert_int_equal(json_object_get_string_len(get(event, "subject")),
                     json_object_get_string_len(get(event, "src_user")));
    assert_non_null(strstr(out.data, "nul:\\u0000:\xef\xbf\xbd\xef\xbf\xbd(\xef\xbf\xbd\xef"));
    assert_non_null(get(event, "k\xef\xbf\xbd\"\n"));
    assert_non_null(strstr(out.data, "null")); /* the part past MAX_DEPTH */
    json_object_put(env);
    json_object_put(obj);
    ms_buf_free(&out);
}

static void test_envelope_huge_string(void **state)
{
    size_t n = 6u * 1024 * 1024;
    char *big = malloc(n);
    struct hec_format_opts opts = {0};
    struct json_object *env;
    struct ms_event ev;
    struct ms_buf out;
    size_t i;

    (void)state;
    assert_non_null(big);
    for (i = 0; i < n; i++) {
        big[i] = "\"\\\n\x01"
                 "a\xc3\xa9"[i % 7];
    }
    memset(&ev, 0, sizeof(ev));
    ev.ev = json_object_new_object();
    json_object_object_add(ev.ev, "id", json_object_new_string("x"));
    json_object_object_add(ev.ev, "subject", json_object_new_string_len(big, (int)n));
    ms_buf_init(&out, 64u * 1024 * 1024);
    env = format_parse(&opts, &ev, &out);
    assert_int_equal(json_object_get_string_len(get(get(env, "event"), "subject")), n);
    assert_memory_equal(json_object_get_string(get(get(env, "event"), "subject")), big, n);
    json_object_put(env);
    /* A cap smaller than the envelope: ETOOBIG, not a torn event. */
    ms_buf_free(&out);
    ms_buf_init(&out, 1u * 1024 * 1024);
    assert_int_equal(hec_format_event(&opts, &ev, &out), MS_ETOOBIG);
    json_object_put(ev.ev);
    ms_buf_free(&out);
    free(big);
}

/* Several envelopes in one buffer: the concatenated body HEC reads. */
static void test_envelope_batch_body(void **state)
{
    struct hec_format_opts opts = {0};
    struct ms_event ev;
    struct ms_buf out;
    char json[256];
    const char *p;
    int i;

    (void)state;
    ms_buf_init(&out, 1 << 20);
    for (i = 0; i < 50; i++) {
        snprintf(json, sizeof(json),
                 "{\"id\":\"e%d\",\"time\":\"2026-11-20T10:15:%02d.%03dZ\",\"source_type\":\"s\"}",
                 i, i % 60, i * 7);
        ev_from(&ev, json);
        assert_int_equal(hec_format_event(&opts, &ev, &out), MS_OK);
        ev_free(&ev);
    }
    for (i = 0, p = out.data; *p; i++) {
        const char *nl = strchr(p, '\n');
        struct json_object *env;
        char want[32];

        assert_non_null(nl);
        env = parse_strict(p, (size_t)(nl - p));
        snprintf(want, sizeof(want), "e%d", i);
        assert_string_equal(get_s(get(env, "event"), "id"), want);
        snprintf(want, sizeof(want), "{\"time\":%lld.%03d,", 1795169700LL + i % 60, i * 7);
        assert_memory_equal(p, want, strlen(want));
        json_object_put(env);
        p = nl + 1;
    }
    assert_int_equal(i, 50);
    ms_buf_free(&out);
}

/* ------------------------------------------------------------------------------------------
 * Replies
 */

#define RP(s, r) hec_reply_parse((s), strlen(s), (r))

static void test_reply_parse(void **state)
{
    static const char ctl[] = "{\"text\":\"bad\\nline\\u0007\",\"code\":6}";
    struct hec_reply r;

    (void)state;
    RP("{\"text\":\"Success\",\"code\":0,\"ackId\":7}", &r);
    assert_int_equal(r.code, 0);
    assert_int_equal(r.ack_id, 7);
    assert_int_equal(r.event_number, -1);
    assert_string_equal(r.text, "Success");
    RP("{\"text\":\"Invalid data format\",\"code\":6,\"invalid-event-number\":75}", &r);
    assert_int_equal(r.code, 6);
    assert_int_equal(r.event_number, 75);
    assert_int_equal(r.ack_id, -1);
    RP("<html>404</html>", &r);
    assert_int_equal(r.code, -1);
    assert_string_equal(r.text, "");
    hec_reply_parse(NULL, 0, &r);
    assert_int_equal(r.code, -1);
    RP("{\"code\":\"6\",\"invalid-event-number\":\"3\"}", &r);
    assert_int_equal(r.code, -1);
    assert_int_equal(r.event_number, -1);
    RP("{\"code\":6} trailing", &r);
    assert_int_equal(r.code, -1);
    RP("{\"code\":6", &r); /* truncated */
    assert_int_equal(r.code, -1);
    hec_reply_parse(ctl, sizeof(ctl) - 1, &r);
    assert_string_equal(r.text, "bad line ");
}

static void test_ack_reply_parse(void **state)
{
    static const char body[] = "{\"acks\":{\"7\":true,\"8\":false,\"10\":\"true\"}}";
    static const char ack_off[] = "{\"text\":\"ACK is disabled\",\"code\":14}";
    int64_t ids[] = {7, 8, 9, 10};
    bool done[4] = {false, false, false, false};

    (void)state;
    assert_int_equal(hec_ack_reply_parse(body, sizeof(body) - 1, ids, done, 4), MS_OK);
    assert_true(done[0]);
    assert_false(done[1]);
    assert_false(done[2]);
    assert_false(done[3]);
    assert_int_equal(hec_ack_reply_parse("{\"acks\":[7]}", 12, ids, done, 4), MS_EINVAL);
    assert_int_equal(hec_ack_reply_parse(ack_off, sizeof(ack_off) - 1, ids, done, 4), MS_EINVAL);
    assert_int_equal(hec_ack_reply_parse("", 0, ids, done, 4), MS_EINVAL);
}

/* ------------------------------------------------------------------------------------------
 * init: refusals name the key, never show the token; warnings at start
 */

struct init_case {
    char dir[PATH_MAX];
    char path[PATH_MAX];
    char log_path[PATH_MAX + 8];
    FILE *log;
    struct ms_config *cfg;
    struct ms_cfg_errors errs;
    struct ms_instance ins;
    struct hec_ctx ctx;
    int ret;
};

static void init_run(struct init_case *c, const char *section_body)
{
    const struct ms_config_map *maps[1] = {hec_config_map};
    void *ctxs[1];
    char text[4096];

    memset(c, 0, sizeof(*c));
    unit_tmpdir(c->dir);
    snprintf(text, sizeof(text), "[output.splunk]\n%s", section_body);
    unit_write_file(c->dir, "t.conf", text, c->path);
    snprintf(c->log_path, sizeof(c->log_path), "%s/log", c->dir);
    c->log = fopen(c->log_path, "w+");
    assert_non_null(c->log);
    ms_log_set_stream(c->log);
    assert_int_equal(ms_config_load(c->path, &c->cfg, &c->errs), MS_OK);
    c->ins.kind = "output";
    c->ins.plugin_name = "hec";
    snprintf(c->ins.name, sizeof(c->ins.name), "splunk");
    c->ins.log_level = -1;
    c->ins.include_raw = true;
    c->ins.ctx = &c->ctx;
    c->ins.cfg = c->cfg;
    c->ins.sec = ms_config_find(c->cfg, "output", "splunk");
    ctxs[0] = &c->ctx;
    c->ret =
        ms_config_apply(c->cfg, (struct ms_config_section *)c->ins.sec, maps, ctxs, 1, &c->errs);
    if (c->ret == MS_OK) {
        c->ret = hec_conf_init(&c->ins, &c->errs);
        hec_conf_destroy(&c->ins);
    }
    ms_config_map_free(hec_config_map, &c->ctx);
    fflush(c->log);
}

static bool init_errs_have(const struct init_case *c, const char *needle)
{
    size_t i;

    for (i = 0; i < c->errs.n; i++) {
        if (strstr(c->errs.msgs[i], needle)) {
            return true;
        }
    }
    return false;
}

static bool init_log_has(const struct init_case *c, const char *needle)
{
    char buf[8192];
    size_t n;

    rewind(c->log);
    n = fread(buf, 1, sizeof(buf) - 1, c->log);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

static void init_done(struct init_case *c)
{
    ms_log_set_stream(NULL);
    fclose(c->log);
    ms_cfg_errors_free(&c->errs);
    ms_config_destroy(c->cfg);
    ms_log_clear_secrets();
    unit_rmtree(c->dir);
}

static void test_init_ok_and_warnings(void **state)
{
    struct init_case c;

    (void)state;
    init_run(&c, "url = http://127.0.0.1:8088/\ntoken = s3cr3t-T0KEN-value\nverify_tls = false\n"
                 "sourcetype.mimecast-ttp-url = mc:url\nfield.tenant = acme\n"
                 "fields = vendor, action\n");
    assert_int_equal(c.ret, MS_OK);
    assert_int_equal(c.errs.n, 0);
    assert_true(init_log_has(&c, "verify_tls = false"));
    assert_true(init_log_has(&c, "plain http"));
    assert_false(init_log_has(&c, "s3cr3t-T0KEN-value"));
    init_done(&c);
}

#define X16  "xxxxxxxxxxxxxxxx"
#define X256 X16 X16 X16 X16 X16 X16 X16 X16 X16 X16 X16 X16 X16 X16 X16 X16

static void test_init_refusals(void **state)
{
    static const struct {
        const char *body;
        const char *want;
    } rows[] = {
        {"url = ftp://x\ntoken = abcdefgh\n", "url: 'ftp://x' is not an http:// or https:// URL"},
        {"url = https://x:8088/services?x=1\ntoken = abcdefgh\n", "url: give the base URL"},
        {"url = https://x:8088\ntoken = Splunk abcdefgh\n", "token: give the bare token"},
        {"url = https://x:8088\ntoken = abc defgh\n", "token: contains spaces"},
        {"url = https://x:8088\ntoken = abcdefgh\nca_file = /nonexistent/ca.pem\n",
         "ca_file: cannot read /nonexistent/ca.pem"},
        {"token = abcdefgh\n", "url: required key is missing"},
        {"url = https://x:8088\n", "token: required key is missing"},
        {"url = https://x:8088\ntoken = abcdefgh\ngzip_level = 10\n", "gzip_level: '10' is out"},
        {"url = https://x:8088\ntoken = abcdefgh\nack_timeout = soon\n", "ack_timeout: 'soon'"},
        {"url = https://x:8088\ntoken = abcdefgh\nsourcetypes = x\n", "sourcetypes: unknown key"},
        {"url = https://x:8088\ntoken = abcdefgh\nhost = " X256 "\n",
         "host: longer than 255 bytes"},
    };
    struct init_case c;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        init_run(&c, rows[i].body);
        if (c.ret == MS_OK || !init_errs_have(&c, rows[i].want)) {
            fail_msg("row %zu: ret %d, want error '%s', got %zu: %s", i, c.ret, rows[i].want,
                     c.errs.n, c.errs.n ? c.errs.msgs[0] : "(none)");
        }
        if (init_errs_have(&c, "abcdefgh") || init_log_has(&c, "abcdefgh")) {
            fail_msg("row %zu: the token shows in a message", i);
        }
        init_done(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_table),
        cmocka_unit_test(test_escape_every_byte),
        cmocka_unit_test(test_escape_cap),
        cmocka_unit_test(test_time_table),
        cmocka_unit_test(test_envelope_metadata),
        cmocka_unit_test(test_envelope_event_and_cim),
        cmocka_unit_test(test_envelope_fields),
        cmocka_unit_test(test_envelope_wrong_types),
        cmocka_unit_test(test_envelope_fast_path_matches),
        cmocka_unit_test(test_envelope_fast_path_refuses_bad_text),
        cmocka_unit_test(test_envelope_refused),
        cmocka_unit_test(test_envelope_hostile_strings),
        cmocka_unit_test(test_envelope_huge_string),
        cmocka_unit_test(test_envelope_batch_body),
        cmocka_unit_test(test_reply_parse),
        cmocka_unit_test(test_ack_reply_parse),
        cmocka_unit_test(test_init_ok_and_warnings),
        cmocka_unit_test(test_init_refusals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
