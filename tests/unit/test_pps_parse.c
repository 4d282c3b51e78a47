/* pps input, pure part: quarantine pages -> records, dates, dedupe set, pieces. */
#include <config.h>

#include "unit.h"

#include "core/ms_err.h"
#include "inputs/pps/pps_parse.h"

/* Reads tests/fixtures/pps/<name> (malloc'ed, NUL-terminated). */
static char *fixture(const char *name, size_t *len)
{
    const char *src = getenv("MS_SRCDIR");
    char path[PATH_MAX];
    char *data;
    long n;
    FILE *f;

    snprintf(path, sizeof(path), "%s/tests/fixtures/pps/%s", src ? src : ".", name);
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

static struct json_object *field(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;

    assert_true(json_object_object_get_ex(o, key, &v));
    return v;
}

static int64_t int_field(struct json_object *o, const char *key)
{
    struct json_object *v = field(o, key);

    assert_true(json_object_is_type(v, json_type_int));
    return json_object_get_int64(v);
}

static int64_t date(const char *s, int offset)
{
    int64_t t = -1;

    return pps_parse_date(s, offset, &t) == MS_OK ? t : -1;
}

static void test_dates(void **state)
{
    char out[32];

    (void)state;
    assert_int_equal(date("2025-06-15 12:00:00", 0), 1749988800);
    assert_int_equal(date("2025-06-15T12:00:00", 0), 1749988800);
    assert_int_equal(date("2024-02-29 00:00:00", 0), 1709164800);
    assert_int_equal(date("2025-06-15 07:00:00", -300), 1749988800); /* appliance at UTC-5 */
    assert_int_equal(date("2025-02-29 00:00:00", 0), -1);
    assert_int_equal(date("2025-06-15 24:00:00", 0), -1);
    assert_int_equal(date("2025-06-15 12:00", 0), -1);
    assert_int_equal(date("2025-06-15 12:00:00Z", 0), -1);
    assert_int_equal(date("2025/06/15 12:00:00", 0), -1);
    assert_int_equal(date("", 0), -1);
    assert_int_equal(pps_parse_date(NULL, 0, &(int64_t){0}), MS_EINVAL);
    pps_format_date(1749988800, 0, out, sizeof(out));
    assert_string_equal(out, "2025-06-15 12:00:00");
    pps_format_date(1749988800, -300, out, sizeof(out));
    assert_string_equal(out, "2025-06-15 07:00:00");
    pps_format_date(0, 0, out, sizeof(out));
    assert_string_equal(out, "1970-01-01 00:00:00");
}

static void test_xs2_onprem(void **state)
{
    struct pps_page p;
    struct json_object *r;
    char why[256] = "";
    size_t len;
    char *text = fixture("xs2-onprem.json", &len);

    (void)state;
    assert_int_equal(pps_parse_page(text, len, "Quarantine", 0, &p, why, sizeof(why)), MS_OK);
    assert_int_equal(p.returned, 2);
    assert_int_equal(p.count, 2);
    assert_int_equal(p.meta_limit, -1);
    assert_int_equal(p.rejected, 0);
    assert_int_equal(json_object_array_length(p.records), 2);
    /* newest first on the wire, oldest first here */
    r = json_object_array_get_idx(p.records, 0);
    assert_string_equal(pps_record_guid(r), "lR_SjEF1Llfn9gML8YZzpVPUukjXQcPO");
    assert_int_equal(p.dates[0], date("2020-01-15 20:00:00", 0));
    assert_int_equal(int_field(r, "size"), 6496);
    assert_int_equal(int_field(r, "spamscore"), 100);
    assert_string_equal(json_object_get_string(field(r, "localguid")), "6:6:239");
    assert_string_equal(json_object_get_string(field(r, "host_ip")), "[10.54.40.3] [10.54.40.3]");
    r = json_object_array_get_idx(p.records, 1);
    assert_string_equal(pps_record_guid(r), "edlp0pU9YXkWB5nmat91i9HUl7J-K-ep");
    assert_int_equal(p.dates[1], date("2020-01-22 10:00:18", 0));
    assert_true(pps_page_full(&p, 2));
    assert_false(pps_page_full(&p, 3));
    assert_false(pps_page_full(&p, 100));
    pps_page_free(&p);
    free(text);
}

static void test_pod_numbers(void **state)
{
    struct pps_page p;
    struct json_object *r;
    struct json_object *st;
    char why[256] = "";
    size_t len;
    char *text = fixture("pod-numbers.json", &len);

    (void)state;
    assert_int_equal(pps_parse_page(text, len, "Quarantine", 0, &p, why, sizeof(why)), MS_OK);
    assert_int_equal(p.returned, 3);
    assert_int_equal(p.meta_limit, 3);
    assert_int_equal(json_object_array_length(p.records), 3);
    /* the server says it used limit 3: full although we asked for 100 */
    assert_true(pps_page_full(&p, 100));
    r = json_object_array_get_idx(p.records, 0);
    assert_string_equal(json_object_get_string(field(r, "folder")), "Spam");
    assert_string_equal(json_object_get_string(field(r, "dlpviolation")), "Not Applicable");
    r = json_object_array_get_idx(p.records, 1);
    assert_string_equal(pps_record_guid(r), "Gx3Hd-8q_J2kLmNoPqRsTuVwXyZ01234");
    assert_string_equal(json_object_get_string(field(r, "folder")), "Quarantine"); /* searched */
    assert_string_equal(json_object_get_string(field(r, "size")), "-");            /* left alone */
    assert_int_equal(int_field(r, "spamscore"), 0);
    assert_true(json_object_is_type(field(r, "dlpviolation"), json_type_object));
    r = json_object_array_get_idx(p.records, 2);
    assert_string_equal(pps_record_guid(r), "72wWvWN8qIx-jclF-uv6feVwEFDkkidM");
    assert_int_equal(int_field(r, "size"), 23104551);
    assert_int_equal(int_field(r, "phishscore"), 80);
    assert_int_equal(json_object_array_length(field(r, "rcpts")), 2);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(field(r, "rcpts"), 1)),
                        "second@example.com");
    st = json_object_array_get_idx(field(r, "messagestatus"), 0);
    assert_int_equal(int_field(st, "status"), 0);
    assert_int_equal(int_field(st, "id"), 0);
    assert_string_equal(json_object_get_string(field(st, "statusdesc")), "New");
    pps_page_free(&p);
    free(text);
}

static void test_bare_array(void **state)
{
    struct pps_page p;
    char why[256] = "";
    size_t len;
    char *text = fixture("bare-array.json", &len);

    (void)state;
    assert_int_equal(pps_parse_page(text, len, "Quarantine", 0, &p, why, sizeof(why)), MS_OK);
    assert_int_equal(p.count, -1);
    assert_int_equal(p.returned, 2);
    assert_string_equal(pps_record_guid(json_object_array_get_idx(p.records, 0)),
                        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_int_equal(int_field(json_object_array_get_idx(p.records, 1), "spamscore"), 99);
    assert_true(pps_page_full(&p, 2));
    pps_page_free(&p);
    free(text);
}

static void test_malformed_records(void **state)
{
    struct pps_page p;
    char why[256] = "";
    size_t len;
    char *text = fixture("malformed-records.json", &len);

    (void)state;
    assert_int_equal(pps_parse_page(text, len, "Quarantine", 0, &p, why, sizeof(why)), MS_OK);
    assert_int_equal(p.returned, 6);
    assert_int_equal(p.rejected, 5);
    assert_int_equal(json_object_array_length(p.records), 1);
    assert_string_equal(pps_record_guid(json_object_array_get_idx(p.records, 0)),
                        "good0000000000000000000000000000");
    assert_int_equal(p.dates[0], date("2025-06-15 11:59:59", 0));
    /* the first refused in wire order is the last in the file (they are walked backwards) */
    assert_non_null(strstr(p.reject_reason, "nodate"));
    /* refused records still count towards the limit */
    assert_true(pps_page_full(&p, 6));
    assert_false(pps_page_full(&p, 7));
    pps_page_free(&p);
    free(text);
}

static void test_unusable_bodies(void **state)
{
    static const char *const bad[] = {
        "",
        "{",
        "{\"count\": 2, \"records\": [{\"guid\": \"x\"",
        "<html><body>Internal</body></html>",
        "{\"records\": 5}",
        "{\"foo\": 1}",
        "\"text\"",
        "{\"count\": 0} {\"count\": 0}",
        "{\"count\": 1, \"records\": [{\"guid\": \"x\", \"date\": \"2025-06-15 12:00:00\"}],,",
        NULL,
    };
    static const char *const good[] = {"{\"count\": 0}", "{\"count\": 0, \"records\": []}", "[]",
                                       "{\"records\": null, \"count\": \"0\"}", NULL};
    struct pps_page p;
    const char *text;
    char why[256];
    size_t i;

    (void)state;
    for (i = 0; bad[i]; i++) {
        why[0] = '\0';
        assert_int_equal(pps_parse_page(bad[i], strlen(bad[i]), "Q", 0, &p, why, sizeof(why)),
                         MS_EINVAL);
        assert_true(why[0] != '\0');
        pps_page_free(&p);
    }
    for (i = 0; good[i]; i++) {
        assert_int_equal(pps_parse_page(good[i], strlen(good[i]), "Q", 0, &p, why, sizeof(why)),
                         MS_OK);
        assert_int_equal(json_object_array_length(p.records), 0);
        assert_false(pps_page_full(&p, 1));
        pps_page_free(&p);
    }
    /* a count larger than what came back: cut short */
    text = "{\"count\": 5, \"records\": []}";
    assert_int_equal(pps_parse_page(text, strlen(text), "Q", 0, &p, why, sizeof(why)), MS_OK);
    assert_true(pps_page_full(&p, 100));
    pps_page_free(&p);
    assert_int_equal(pps_parse_page("{\"count\": 0}", 5, "Q", 0, &p, why, sizeof(why)), MS_EINVAL);
    assert_string_equal(why, "truncated JSON");
    pps_page_free(&p);
}

static void test_seen_set(void **state)
{
    struct json_object *seen = json_object_new_object();
    char guid[16];
    int i;

    (void)state;
    assert_false(pps_seen_has(seen, "a"));
    assert_int_equal(pps_seen_add(seen, "a", 100), MS_OK);
    assert_int_equal(pps_seen_add(seen, "b", 200), MS_OK);
    assert_int_equal(pps_seen_add(seen, "c", 300), MS_OK);
    assert_true(pps_seen_has(seen, "b"));
    assert_int_equal(pps_seen_prune(seen, 200), 1); /* strictly before */
    assert_false(pps_seen_has(seen, "a"));
    assert_true(pps_seen_has(seen, "b"));
    assert_int_equal(pps_seen_prune(seen, 0), 0);
    for (i = 0; i < 50; i++) {
        snprintf(guid, sizeof(guid), "g%02d", i);
        assert_int_equal(pps_seen_add(seen, guid, 1000 - i), MS_OK);
    }
    assert_int_equal(json_object_object_length(seen), 52);
    assert_int_equal(pps_seen_trim(seen, 10), 42);
    assert_int_equal(json_object_object_length(seen), 10);
    /* the newest stay: g00..g09 are dated 1000..991 */
    assert_true(pps_seen_has(seen, "g00"));
    assert_true(pps_seen_has(seen, "g09"));
    assert_false(pps_seen_has(seen, "g10"));
    assert_false(pps_seen_has(seen, "c"));
    assert_int_equal(pps_seen_trim(seen, 10), 0);
    json_object_put(seen);
}

static void test_suspect(void **state)
{
    struct pps_page p;

    (void)state;
    memset(&p, 0, sizeof(p));
    p.count = -1;
    p.meta_limit = -1;
    p.returned = 100;
    assert_false(pps_page_full(&p, 1000));
    assert_true(pps_page_suspect(&p, 0));    /* the largest answer so far */
    assert_true(pps_page_suspect(&p, 100));  /* as large as the largest: a cap? */
    assert_false(pps_page_suspect(&p, 101)); /* the server answered more before */
    p.returned = 99;
    assert_false(pps_page_suspect(&p, 0)); /* caps below 100 are not suspected */
}

static void test_pieces(void **state)
{
    (void)state;
    assert_int_equal(pps_piece_end(1000, 3600, 100000), 4599);
    assert_int_equal(pps_piece_end(1000, 3600, 2000), 2000);
    assert_int_equal(pps_split_end(1000, 4599), 2799);
    assert_int_equal(pps_split_end(1000, 1001), 1000);
    assert_int_equal(pps_split_end(1000, 1000), 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_xs2_onprem),
        cmocka_unit_test(test_pod_numbers),
        cmocka_unit_test(test_bare_array),
        cmocka_unit_test(test_malformed_records),
        cmocka_unit_test(test_unusable_bodies),
        cmocka_unit_test(test_seen_set),
        cmocka_unit_test(test_suspect),
        cmocka_unit_test(test_pieces),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
