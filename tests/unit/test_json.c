/* ms_json: the writer gives json-c's exact bytes; the scanner accepts only what json-c accepts. */
#include <config.h>

#include <json-c/json.h>

#include "core/ms_buf.h"
#include "core/ms_err.h"
#include "core/ms_json.h"
#include "unit.h"

#define JSONC_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* ms_json_write(v) must equal json-c's serialization of v, byte for byte. */
static void assert_writes_as_jsonc(struct json_object *v)
{
    struct ms_buf buf;
    const char *want;
    size_t want_len;

    ms_buf_init(&buf, MS_CAP_EVENT);
    assert_int_equal(ms_json_write(&buf, v), MS_OK);
    want = json_object_to_json_string_length(v, JSONC_FLAGS, &want_len);
    assert_non_null(want);
    if (buf.len != want_len || memcmp(buf.data, want, want_len) != 0) {
        fprintf(stderr, "# want %s\n# got  %s\n", want, ms_buf_cstr(&buf));
        fail();
    }
    ms_buf_free(&buf);
}

static void test_write_scalars_and_containers(void **state)
{
    static const char *const texts[] = {
        "{}",
        "[]",
        "{\"a\":[],\"b\":{},\"c\":[[],{}],\"d\":null,\"e\":[null,true,false]}",
        "{\"n\":0,\"neg\":-1,\"min\":-9223372036854775808,\"max\":9223372036854775807,"
        "\"big\":18446744073709551615,\"over\":9223372036854775808}",
        "{\"d1\":1.50,\"d2\":1e3,\"d3\":-0.0,\"d4\":12345678901234567890123,\"d5\":2.5E-3}",
        "{\"url\":\"https://a.example/p?q=1&r=/x\",\"uni\":\"\\u00fc\\u4e2d \xc3\xa9\"}",
        "{\"esc\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f\"}",
        "{\"bad utf8\":\"\xff\xfe \xc3\x28 \xed\xa0\x80\"}",
        "{\"k\\\"ey\\n\":1,\"\\u0001\":2}",
        "[1,\"two\",{\"three\":[3,3.0,\"3\"]},[[[[]]]]]",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct json_object *v = json_tokener_parse(texts[i]);

        assert_non_null(v);
        assert_writes_as_jsonc(v);
        json_object_put(v);
    }
    assert_writes_as_jsonc(NULL);
}

/* Every byte value in a value and in a key, plus NUL bytes inside a value. */
static void test_write_every_byte(void **state)
{
    struct json_object *obj = json_object_new_object();
    char s[256];
    char key[3];
    int c;

    (void)state;
    for (c = 0; c < 256; c++) {
        s[c] = (char)c;
    }
    json_object_object_add(obj, "all", json_object_new_string_len(s, 256));
    for (c = 1; c < 256; c++) {
        key[0] = (char)c;
        key[1] = 'k';
        key[2] = '\0';
        json_object_object_add(obj, key, json_object_new_int(c));
    }
    json_object_object_add(obj, "d", json_object_new_double(0.1));
    json_object_object_add(obj, "u", json_object_new_uint64(UINT64_MAX));
    json_object_object_add(obj, "i", json_object_new_int64(INT64_MIN));
    json_object_object_add(obj, "b", json_object_new_boolean(1));
    json_object_object_add(obj, "nul", NULL);
    assert_writes_as_jsonc(obj);
    json_object_put(obj);
}

/* The records and events of the fixtures, as the spool holds them. */
static void test_write_fixtures(void **state)
{
    static const char *const files[] = {
        "tests/fixtures/syslog/hostile-events.jsonl",
        "tests/fixtures/syslog/hostile-records.jsonl",
        "tests/fixtures/mimecast/ttp-url.jsonl",
    };
    const char *src = getenv("MS_SRCDIR");
    char path[PATH_MAX];
    char *line = NULL;
    size_t cap = 0;
    size_t i;
    int n = 0;

    (void)state;
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", src ? src : ".", files[i]);
        f = fopen(path, "r");
        assert_non_null(f);
        while (getline(&line, &cap, f) > 0) {
            struct json_object *v = json_tokener_parse(line);

            assert_non_null(v);
            assert_writes_as_jsonc(v);
            json_object_put(v);
            n++;
        }
        fclose(f);
    }
    free(line);
    assert_true(n >= 20);
}

static void test_write_cap(void **state)
{
    struct json_object *v = json_tokener_parse("{\"a\":\"0123456789012345678901234567890\"}");
    struct ms_buf buf;

    (void)state;
    ms_buf_init(&buf, 16);
    assert_int_equal(ms_json_write(&buf, v), MS_ETOOBIG);
    assert_null(buf.data);
    json_object_put(v);
}

struct members {
    char keys[8][32];
    char vals[8][64];
    size_t n;
};

static void collect(void *arg, const struct ms_json_member *m)
{
    struct members *ms = arg;

    if (ms->n < 8) {
        snprintf(ms->keys[ms->n], sizeof(ms->keys[0]), "%.*s", (int)m->key_len, m->key);
        snprintf(ms->vals[ms->n], sizeof(ms->vals[0]), "%.*s", (int)m->val_len, m->val);
        ms->n++;
    }
}

static void test_scan_members(void **state)
{
    const char *text = " { \"id\" : \"x\\\"y\" ,\"n\":-1.5e3,\"o\":{\"a\":[1,{}]},\"e\\u0041\":[] ,"
                       "\"t\":true}\n";
    struct members ms;

    (void)state;
    memset(&ms, 0, sizeof(ms));
    assert_true(ms_json_scan(text, strlen(text), collect, &ms));
    assert_int_equal(ms.n, 5);
    assert_string_equal(ms.keys[0], "id");
    assert_string_equal(ms.vals[0], "\"x\\\"y\"");
    assert_string_equal(ms.keys[1], "n");
    assert_string_equal(ms.vals[1], "-1.5e3");
    assert_string_equal(ms.vals[2], "{\"a\":[1,{}]}");
    assert_string_equal(ms.keys[3], "e\\u0041");
    assert_string_equal(ms.vals[4], "true");
}

/* Texts the strict scanner must refuse; json-c is then asked (some it accepts, some not). */
static const char *const not_strict[] = {
    "",
    "[]",
    "\"s\"",
    "{",
    "{\"a\":1",
    "{\"a\":1,}",
    "{\"a\" 1}",
    "{a:1}",
    "{'a':1}",
    "{\"a\":01}",
    "{\"a\":1.}",
    "{\"a\":.5}",
    "{\"a\":+1}",
    "{\"a\":NaN}",
    "{\"a\":Infinity}",
    "{\"a\":True}",
    "{\"a\":nul}",
    "{\"a\":\"tab\there\"}",
    "{\"a\":\"\\x\"}",
    "{\"a\":\"\\u12\"}",
    "{\"a\":\"\\ud800\"}",
    "{\"a\":\"\\udc00\\ud800\"}",
    "{\"a\":\"\\ud83d\\ude00\"}", /* a valid pair too: json-c decides about surrogates */
    "{\"a\":1} x",
    "{\"a\":1}{}",
    "/* c */{\"a\":1}",
    "{\"a\":[1,2,]}",
    "\xef\xbb\xbf{}",
};

static void test_scan_refuses(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(not_strict) / sizeof(not_strict[0]); i++) {
        if (ms_json_scan(not_strict[i], strlen(not_strict[i]), NULL, NULL)) {
            fprintf(stderr, "# accepted: %s\n", not_strict[i]);
            fail();
        }
    }
    /* A NUL byte is never part of a strict text (json-c would stop reading there). */
    assert_false(ms_json_scan("{\"a\":\"x\0y\"}", 11, NULL, NULL));
    assert_false(ms_json_scan("{\"a\":1}\0", 8, NULL, NULL));
}

static void test_scan_depth(void **state)
{
    char text[256];
    int depth;

    (void)state;
    for (depth = 1; depth <= 40; depth++) {
        size_t n = 0;
        int i;

        text[n++] = '{';
        text[n++] = '"';
        text[n++] = 'a';
        text[n++] = '"';
        text[n++] = ':';
        for (i = 1; i < depth; i++) {
            text[n++] = '[';
        }
        text[n++] = '1';
        for (i = 1; i < depth; i++) {
            text[n++] = ']';
        }
        text[n++] = '}';
        text[n] = '\0';
        assert_int_equal(ms_json_scan(text, n, NULL, NULL), depth <= MS_JSON_SCAN_DEPTH);
        if (depth <= MS_JSON_SCAN_DEPTH) {
            struct json_object *v = json_tokener_parse(text);

            assert_non_null(v); /* what the scanner accepts, json-c accepts */
            json_object_put(v);
        }
    }
}

/* Whatever the scanner accepts, json-c parses into an object with the same top-level members. */
static void test_scan_implies_jsonc(void **state)
{
    static const char *const texts[] = {
        "{}",
        " {\"a\" : 1 } ",
        "{\"a\":1,\"a\":2}",
        "{\"s\":\"\\u0000\\u00e9\\u20ac\",\"e\":-0.0E+5,\"z\":0}",
        "{\"x\":\"\xff\xfe raw bytes\",\"y\":[true,false,null,{\"k\":[]}]}",
        "{\"big\":123456789012345678901234567890,\"exp\":1e999}",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct members ms;
        struct json_object *v;

        memset(&ms, 0, sizeof(ms));
        assert_true(ms_json_scan(texts[i], strlen(texts[i]), collect, &ms));
        v = json_tokener_parse(texts[i]);
        assert_non_null(v);
        assert_true(json_object_is_type(v, json_type_object));
        /* duplicates collapse in json-c */
        assert_true((size_t)json_object_object_length(v) <= ms.n);
        json_object_put(v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_scalars_and_containers),
        cmocka_unit_test(test_write_every_byte),
        cmocka_unit_test(test_write_fixtures),
        cmocka_unit_test(test_write_cap),
        cmocka_unit_test(test_scan_members),
        cmocka_unit_test(test_scan_refuses),
        cmocka_unit_test(test_scan_depth),
        cmocka_unit_test(test_scan_implies_jsonc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
