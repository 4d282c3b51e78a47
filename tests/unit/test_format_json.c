/* JSON encoder: fast path, include_raw, escaping of hostile strings, numbers, round trip. */
#include <config.h>

#include "sl_unit.h"

/* Parses out strictly (UTF-8 validated) and returns the object; fails the test otherwise. */
static struct json_object *parse_strict(const char *out, size_t len)
{
    struct json_tokener *tok = json_tokener_new();
    struct json_object *o;

    assert_non_null(tok);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    o = json_tokener_parse_ex(tok, out, (int)len);
    if (!o) {
        fprintf(stderr, "# not strict JSON (%s): %.*s\n",
                json_tokener_error_desc(json_tokener_get_error(tok)), (int)len, out);
    }
    assert_non_null(o);
    assert_int_equal(json_tokener_get_parse_end(tok), len);
    json_tokener_free(tok);
    return o;
}

static void test_fast_path_copies_spool_text(void **state)
{
    struct sl_format_opts o;
    struct ms_event ev;
    const char *text = "{\"id\":\"a\",\"subject\":\"Gr\xc3\xbc\xc3\x9f"
                       "e \\n\",\"raw\":{\"k\":1}}";
    size_t len;
    char *out;

    (void)state;
    sl_opts(&o, SL_PAYLOAD_JSON, '\t');
    sl_ev_init(&ev, text);
    ev.text = strdup(text);
    ev.text_len = strlen(text);
    out = sl_encode(&o, &ev, &len);
    assert_int_equal(len, strlen(text));
    assert_memory_equal(out, text, len);
    free(out);
    /* include_raw = false: walked, raw left out, the rest unchanged. */
    o.include_raw = false;
    out = sl_encode(&o, &ev, &len);
    assert_int_equal(len, strlen("{\"id\":\"a\",\"subject\":\"Gr\xc3\xbc\xc3\x9f"
                                 "e \\n\"}"));
    assert_memory_equal(out,
                        "{\"id\":\"a\",\"subject\":\"Gr\xc3\xbc\xc3\x9f"
                        "e \\n\"}",
                        len);
    free(out);
    sl_ev_free(&ev);
}

static void test_unclean_text_is_rewritten(void **state)
{
    struct sl_format_opts o;
    struct ms_event ev;
    /* Invalid UTF-8 in the spooled text: the walker replaces it. */
    const char *text = "{\"s\":\"a\xff"
                       "b\"}";
    size_t len;
    char *out;
    struct json_object *back;
    struct json_object *s;

    (void)state;
    sl_opts(&o, SL_PAYLOAD_JSON, '\t');
    sl_ev_init(&ev, text);
    ev.text = strdup(text);
    ev.text_len = strlen(text);
    out = sl_encode(&o, &ev, &len);
    back = parse_strict(out, len);
    assert_true(json_object_object_get_ex(back, "s", &s));
    assert_string_equal(json_object_get_string(s), "a\xef\xbf\xbd"
                                                   "b");
    json_object_put(back);
    free(out);
    sl_ev_free(&ev);
}

struct row {
    const char *in;   /* JSON string literal in the event */
    const char *want; /* what our encoder writes between the quotes */
    const char *back; /* the decoded value after a strict parse */
};

static const struct row rows[] = {
    {"\"a\\nb\"", "a\\nb", "a\nb"},
    {"\"a\\r\\tb\"", "a\\r\\tb", "a\r\tb"},
    {"\"q\\\"\\\\\"", "q\\\"\\\\", "q\"\\"},
    {"\"a\\u0000b\"", "a\\u0000b", NULL}, /* NUL kept, escaped (compared by length below) */
    {"\"\\u0001\\u001f\\u007f\"", "\\u0001\\u001f\x7f", "\x01\x1f\x7f"},
    {"\"\\u0085\"", "\\u0085", "\xc2\x85"}, /* C1 escaped, not dropped */
    {"\"\\u2028\\u2029\"", "\\u2028\\u2029", "\xe2\x80\xa8\xe2\x80\xa9"},
    {"\"a|b=c^d\"", "a|b=c^d", "a|b=c^d"},
    {"\"\xe8\xab\x8b\xe6\xb1\x82 Gr\xc3\xbc\xc3\x9f"
     "e\"",
     "\xe8\xab\x8b\xe6\xb1\x82 Gr\xc3\xbc\xc3\x9f"
     "e",
     "\xe8\xab\x8b\xe6\xb1\x82 Gr\xc3\xbc\xc3\x9f"
     "e"},
    {"\"\xc0\xaf"
     "x\xe3\x81\"",
     "\xef\xbf\xbd\xef\xbf\xbdx\xef\xbf\xbd", "\xef\xbf\xbd\xef\xbf\xbdx\xef\xbf\xbd"},
};

static void test_string_escaping_table(void **state)
{
    struct sl_format_opts o;
    size_t i;

    (void)state;
    sl_opts(&o, SL_PAYLOAD_JSON, '\t');
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char json[512];
        char want[512];
        struct ms_event ev;
        struct json_object *back;
        struct json_object *v;
        size_t len;
        char *out;

        snprintf(json, sizeof(json), "{\"v\":%s}", rows[i].in);
        snprintf(want, sizeof(want), "{\"v\":\"%s\"}", rows[i].want);
        sl_ev_init(&ev, json);
        out = sl_encode(&o, &ev, &len);
        if (len != strlen(want) || memcmp(out, want, len) != 0) {
            fprintf(stderr, "# row %zu: want %s got %s\n", i, want, out);
        }
        assert_int_equal(len, strlen(want));
        assert_memory_equal(out, want, len);
        assert_null(memchr(out, '\n', len));
        back = parse_strict(out, len);
        assert_true(json_object_object_get_ex(back, "v", &v));
        if (rows[i].back) {
            assert_int_equal(json_object_get_string_len(v), strlen(rows[i].back));
            assert_memory_equal(json_object_get_string(v), rows[i].back, strlen(rows[i].back));
        }
        else {
            assert_int_equal(json_object_get_string_len(v), 3);
            assert_memory_equal(json_object_get_string(v), "a\0b", 3);
        }
        json_object_put(back);
        free(out);
        sl_ev_free(&ev);
    }
}

static void test_types_and_nesting(void **state)
{
    struct sl_format_opts o;

    (void)state;
    sl_opts(&o, SL_PAYLOAD_JSON, '\t');
    sl_expect(&o,
              "{\"i\":-9223372036854775808,\"u\":18446744073709551615,\"m\":9223372036854775807,"
              "\"d\":0.1,\"e\":1e300,\"t\":true,\"f\":false,\"n\":null,\"a\":[1,[2,{\"k\":\"v\"}],"
              "[]],\"o\":{},\"k\\\"ey\\n\":\"x\"}",
              "{\"i\":-9223372036854775808,\"u\":18446744073709551615,\"m\":9223372036854775807,"
              "\"d\":0.1,\"e\":1e300,\"t\":true,\"f\":false,\"n\":null,\"a\":[1,[2,{\"k\":\"v\"}],"
              "[]],\"o\":{},\"k\\\"ey\\n\":\"x\"}");
    /* include_raw = false only removes the top-level "raw". */
    o.include_raw = false;
    sl_expect(&o, "{\"id\":\"x\",\"raw\":{\"raw\":1},\"fields\":{\"raw\":2}}",
              "{\"id\":\"x\",\"fields\":{\"raw\":2}}");
    /* Not an object: written as it is. */
    sl_expect(&o, "[1,\"a\\u0001\"]", "[1,\"a\\u0001\"]");
}

/* fuzz_syslog_format: json-c reads NaN and Infinity in vendor records and writes them back. */
static void test_nan_and_infinity(void **state)
{
    struct sl_format_opts o;
    struct ms_event ev;
    const char *text = "{\"id\":\"x\",\"raw\":{\"score\":NaN,\"l\":[Infinity,-Infinity]},"
                       "\"subject\":\"NaN Infinity\"}";
    const char *want = "{\"id\":\"x\",\"raw\":{\"score\":null,\"l\":[null,null]},"
                       "\"subject\":\"NaN Infinity\"}";
    size_t len;
    char *out;

    (void)state;
    sl_opts(&o, SL_PAYLOAD_JSON, '\t');
    sl_expect(&o, text, want);
    /* The spooled text is not copied as it is (the fast path). */
    sl_ev_init(&ev, text);
    ev.text = strdup(text);
    ev.text_len = strlen(text);
    out = sl_encode(&o, &ev, &len);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(out, want, len);
    free(out);
    sl_ev_free(&ev);
}

static void test_missing_event(void **state)
{
    struct sl_format_opts o;
    struct ms_event ev;
    size_t len;
    char *out;

    (void)state;
    sl_opts(&o, SL_PAYLOAD_JSON, '\t');
    memset(&ev, 0, sizeof(ev));
    out = sl_encode(&o, &ev, &len);
    assert_string_equal(out, "{}");
    free(out);
}

static void test_huge_value_round_trips(void **state)
{
    struct sl_format_opts o;
    struct ms_event ev;
    struct json_object *obj;
    struct json_object *back;
    struct json_object *v;
    char *big;
    size_t len;
    size_t i;
    char *out;

    (void)state;
    sl_opts(&o, SL_PAYLOAD_JSON, '\t');
    big = malloc(1000001);
    assert_non_null(big);
    for (i = 0; i < 1000000; i++) {
        big[i] = (char)(i % 7 == 0 ? '\n' : 'a' + (char)(i % 26));
    }
    big[1000000] = '\0';
    obj = json_object_new_object();
    json_object_object_add(obj, "subject", json_object_new_string(big));
    memset(&ev, 0, sizeof(ev));
    ev.ev = obj;
    out = sl_encode(&o, &ev, &len);
    assert_null(memchr(out, '\n', len));
    back = parse_strict(out, len);
    assert_true(json_object_object_get_ex(back, "subject", &v));
    assert_string_equal(json_object_get_string(v), big);
    json_object_put(back);
    free(out);
    free(big);
    json_object_put(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_path_copies_spool_text),
        cmocka_unit_test(test_unclean_text_is_rewritten),
        cmocka_unit_test(test_string_escaping_table),
        cmocka_unit_test(test_types_and_nesting),
        cmocka_unit_test(test_nan_and_infinity),
        cmocka_unit_test(test_missing_event),
        cmocka_unit_test(test_huge_value_round_trips),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
