/* Mapping stage: the JSONPath subset (compile errors, every step kind, odd data). */
#include <config.h>

#include "unit.h"

#include "mapping/ms_jpath.h"

static const char *doc_text =
    "{\"a\":{\"b\":\"x\",\"n\":7,\"z\":null},"
    "\"list\":[{\"name\":\"f1\",\"ip\":\"1.2.3.4\"},{\"name\":\"f2\"},{\"other\":1},null],"
    "\"2.X.X\":11,\"with space\":\"s\",\"nested\":[[1,2],[3]],"
    "\"data\":[{\"clickLogs\":[{\"id\":1},{\"id\":2}]},{\"clickLogs\":[{\"id\":3}]}]}";

static struct json_object *eval_text(struct json_object *doc, const char *path)
{
    char why[160];
    struct ms_jpath *p = ms_jpath_compile(path, why, sizeof(why));
    struct json_object *v;

    assert_non_null(p);
    v = ms_jpath_eval(p, doc);
    ms_jpath_destroy(p);
    return v;
}

/* The value at path as compact JSON ("(none)" when nothing). */
static void assert_eval(struct json_object *doc, const char *path, const char *want)
{
    struct json_object *v = eval_text(doc, path);

    assert_string_equal(v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) : "(none)",
                        want);
    json_object_put(v);
}

static void test_steps(void **state)
{
    struct json_object *doc = json_tokener_parse(doc_text);

    (void)state;
    assert_non_null(doc);
    assert_eval(doc, "$.a.b", "\"x\"");
    assert_eval(doc, "$.a.n", "7");
    assert_eval(doc, "$['a']['b']", "\"x\"");
    assert_eval(doc, "$[\"a\"].b", "\"x\"");
    assert_eval(doc, "$['2.X.X']", "11");
    assert_eval(doc, "$['with space']", "\"s\"");
    assert_eval(doc, "$.list[0].name", "\"f1\"");
    assert_eval(doc, "$.list[1].name", "\"f2\"");
    assert_eval(doc, "$.list[-3].name", "\"f2\"");
    assert_eval(doc, "$.nested[1][0]", "3");
    assert_eval(doc, "$.a", "{\"b\":\"x\",\"n\":7,\"z\":null}");
    json_object_put(doc);
}

static void test_wildcards(void **state)
{
    struct json_object *doc = json_tokener_parse(doc_text);
    char why[160];
    struct ms_jpath *p;

    (void)state;
    /* [*] collects, skipping elements without the member and JSON nulls */
    assert_eval(doc, "$.list[*].name", "[\"f1\",\"f2\"]");
    assert_eval(doc, "$.list[*].ip", "[\"1.2.3.4\"]");
    /* nested wildcards flatten into one list, in document order */
    assert_eval(doc, "$.data[*].clickLogs[*].id", "[1,2,3]");
    assert_eval(doc, "$.nested[*][*]", "[1,2,3]");
    /* .* on an object: its member values */
    assert_eval(doc, "$.a.*", "[\"x\",7]");
    /* a wildcard that reaches nothing gives nothing, not [] */
    assert_eval(doc, "$.list[*].missing", "(none)");
    assert_eval(doc, "$.a.b[*]", "(none)");
    p = ms_jpath_compile("$.data[*].clickLogs[*]", why, sizeof(why));
    assert_non_null(p);
    assert_true(ms_jpath_is_multi(p));
    assert_string_equal(ms_jpath_first_key(p), "data");
    assert_string_equal(ms_jpath_text(p), "$.data[*].clickLogs[*]");
    ms_jpath_destroy(p);
    p = ms_jpath_compile("$.a.b", why, sizeof(why));
    assert_false(ms_jpath_is_multi(p));
    ms_jpath_destroy(p);
    p = ms_jpath_compile("$[0]", why, sizeof(why));
    assert_null(ms_jpath_first_key(p));
    ms_jpath_destroy(p);
    json_object_put(doc);
}

static void test_odd_data(void **state)
{
    struct json_object *doc = json_tokener_parse(doc_text);
    struct json_object *scalar = json_object_new_string("text");
    struct json_object *v;

    (void)state;
    assert_eval(doc, "$.a.z", "(none)"); /* JSON null */
    assert_eval(doc, "$.a.missing", "(none)");
    assert_eval(doc, "$.a.b.c", "(none)");     /* member of a string */
    assert_eval(doc, "$.a[0]", "(none)");      /* index on an object */
    assert_eval(doc, "$.list.name", "(none)"); /* member of an array */
    assert_eval(doc, "$.list[4]", "(none)");   /* past the end */
    assert_eval(doc, "$.list[-5]", "(none)");  /* before the start */
    assert_eval(doc, "$.list[3]", "(none)");   /* a null element */
    v = eval_text(scalar, "$.a[*]");
    assert_null(v);
    v = eval_text(scalar, "$");
    assert_string_equal(json_object_get_string(v), "text");
    assert_ptr_equal(v, scalar); /* shared, not copied */
    json_object_put(v);
    json_object_put(scalar);
    json_object_put(doc);
}

static void assert_refused(const char *path, const char *want_in_why)
{
    char why[160];
    struct ms_jpath *p = ms_jpath_compile(path, why, sizeof(why));

    assert_null(p);
    if (!strstr(why, want_in_why)) {
        fail_msg("compile(%s): '%s' does not contain '%s'", path, why, want_in_why);
    }
}

static void test_refusals(void **state)
{
    (void)state;
    assert_refused("a.b", "starts with '$'");
    assert_refused("$a", "expected '.' or '['");
    assert_refused("$.", "expected a member name");
    assert_refused("$..a", "expected a member name");
    assert_refused("$.a[", "expected an index");
    assert_refused("$.a[1", "expected ']' at offset 5");
    assert_refused("$.a['b]", "unterminated");
    assert_refused("$.a['b'x", "expected ']'"); /* fuzz_mapping: leaked the copied name */
    assert_refused("$.a[x]", "expected an index");
    assert_refused("$.a[-]", "bad array index");
    assert_refused("$.a[99999999999999999999]", "bad array index");
    assert_refused("$.a b", "expected '.' or '['");
    assert_refused("$.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.A.B.C.D.E.F.G",
                   "too many steps");
    assert_true(ms_jpath_is_path_text("$"));
    assert_true(ms_jpath_is_path_text("$.a"));
    assert_true(ms_jpath_is_path_text("$[0]"));
    assert_false(ms_jpath_is_path_text("$100"));
    assert_false(ms_jpath_is_path_text("plain"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steps),
        cmocka_unit_test(test_wildcards),
        cmocka_unit_test(test_odd_data),
        cmocka_unit_test(test_refusals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
