/*
 * ms_mapping_apply_text (what the engine spools) writes exactly what ms_json_write writes of the
 * event ms_mapping_apply builds, with the same id, drop reasons and refusals: over every mapping
 * test case (tests/mappings/SOURCE/CASE.in.json) and the vendor fixtures.
 */
#include <config.h>

#include <dirent.h>
#include <json-c/json.h>

#include "core/ms_buf.h"
#include "core/ms_config.h"
#include "core/ms_err.h"
#include "core/ms_json.h"
#include "mapping/ms_mapping.h"
#include "mapping/ms_mapping_int.h"
#include "unit.h"

static struct ms_mapping_set *load_set(void)
{
    struct ms_cfg_errors errs = {NULL, 0};
    struct ms_mapping_set *set = NULL;
    const char *src = getenv("MS_SRCDIR");
    char dir[PATH_MAX];

    snprintf(dir, sizeof(dir), "%s/mappings", src ? src : ".");
    assert_int_equal(ms_mapping_set_load(dir, &set, &errs), MS_OK);
    ms_cfg_errors_free(&errs);
    ms_mapping_set_clock(set, 1795169730000LL); /* ingest times are equal in both calls */
    return set;
}

/* Maps rec both ways and compares; returns 1 when an event was made. */
static int compare_one(struct ms_mapping_set *set, const char *st, struct json_object *rec)
{
    struct json_object *ev = NULL;
    const char *why_obj = NULL;
    const char *why_text = NULL;
    struct ms_buf want;
    struct ms_buf got;
    char id[65];
    int rc_obj;
    int rc_text;

    ms_buf_init(&want, MS_CAP_EVENT);
    ms_buf_init(&got, MS_CAP_EVENT);
    assert_int_equal(ms_buf_puts(&got, "prefix"), MS_OK); /* appends, never overwrites */
    rc_obj = ms_mapping_apply(set, st, rec, &ev, &why_obj);
    rc_text = ms_mapping_apply_text(set, st, rec, &got, id, &why_text);
    assert_int_equal(rc_text, rc_obj);
    if (!ev) {
        assert_string_equal(ms_buf_cstr(&got), "prefix");
        assert_string_equal(id, "");
        assert_non_null(why_text);
        assert_string_equal(why_text, why_obj);
        ms_buf_free(&want);
        ms_buf_free(&got);
        return 0;
    }
    assert_int_equal(ms_json_write(&want, ev), MS_OK);
    if (got.len != want.len + 6 || memcmp(got.data + 6, want.data, want.len) != 0) {
        fprintf(stderr, "# %s\n# object: %s\n# text:   %s\n", st, ms_buf_cstr(&want),
                ms_buf_cstr(&got) + 6);
        fail();
    }
    assert_string_equal(id, json_object_get_string(json_object_object_get(ev, "id")));
    json_object_put(ev);
    ms_buf_free(&want);
    ms_buf_free(&got);
    return 1;
}

static struct json_object *read_json(const char *path)
{
    struct json_object *v = json_object_from_file(path);

    if (!v) {
        fprintf(stderr, "# cannot read %s\n", path);
    }
    return v;
}

static void test_cases_same_text(void **state)
{
    struct ms_mapping_set *set = load_set();
    const char *src = getenv("MS_SRCDIR");
    char dir[PATH_MAX];
    char path[PATH_MAX + 300];
    size_t i;
    int made = 0;
    int cases = 0;

    (void)state;
    for (i = 0; i <= set->n_maps; i++) {
        char st[128];
        struct dirent *de;
        DIR *d;
        size_t k;

        if (i < set->n_maps) {
            snprintf(st, sizeof(st), "%s", set->maps[i].source_type);
            snprintf(dir, sizeof(dir), "%s/tests/mappings/%s", src ? src : ".", st);
            for (k = strlen(src ? src : ".") + 16; dir[k]; k++) {
                dir[k] = dir[k] == ':' ? '-' : dir[k];
            }
        }
        else {
            FILE *f;

            snprintf(dir, sizeof(dir), "%s/tests/mappings/generic", src ? src : ".");
            snprintf(path, sizeof(path), "%s/source_type", dir);
            f = fopen(path, "r");
            assert_non_null(f);
            assert_non_null(fgets(st, sizeof(st), f));
            st[strcspn(st, "\r\n")] = '\0';
            fclose(f);
        }
        d = opendir(dir);
        if (!d) {
            continue;
        }
        while ((de = readdir(d)) != NULL) {
            size_t n = strlen(de->d_name);
            struct json_object *in;

            if (n < 9 || strcmp(de->d_name + n - 8, ".in.json") != 0) {
                continue;
            }
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            in = read_json(path);
            if (!in) {
                continue; /* some cases are not JSON on purpose: run_mappings checks them */
            }
            made += compare_one(set, st, in);
            cases++;
            json_object_put(in);
        }
        closedir(d);
    }
    assert_true(cases >= 30);
    assert_true(made >= 15);
    ms_mapping_set_destroy(set);
}

/* Vendor records of the fixtures, hostile ones included, and records that are not objects. */
static void test_fixtures_same_text(void **state)
{
    static const char *const files[] = {
        "tests/fixtures/syslog/hostile-records.jsonl",
        "tests/fixtures/mimecast/ttp-url.jsonl",
    };
    static const char *const types[] = {"mimecast:ttp:url", "mimecast:ttp:attachment",
                                        "pps:quarantine", "vendor:without:file"};
    struct ms_mapping_set *set = load_set();
    const char *src = getenv("MS_SRCDIR");
    char path[PATH_MAX];
    char *line = NULL;
    size_t cap = 0;
    size_t i;
    size_t t;
    int made = 0;

    (void)state;
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", src ? src : ".", files[i]);
        f = fopen(path, "r");
        assert_non_null(f);
        while (getline(&line, &cap, f) > 0) {
            struct json_object *rec = json_tokener_parse(line);

            for (t = 0; rec && t < sizeof(types) / sizeof(types[0]); t++) {
                made += compare_one(set, types[t], rec);
            }
            json_object_put(rec);
        }
        fclose(f);
    }
    free(line);
    for (t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
        struct json_object *arr = json_tokener_parse("[1,2]");

        compare_one(set, types[t], arr);
        compare_one(set, types[t], NULL);
        json_object_put(arr);
    }
    assert_true(made >= 20);
    ms_mapping_set_destroy(set);
}

/* Out of room: the buffer is freed (ms_buf's rule) and the call says so. */
static void test_text_cap(void **state)
{
    struct ms_mapping_set *set = load_set();
    struct json_object *rec =
        json_tokener_parse("{\"messageId\":\"<m@x>\",\"date\":\"2026-11-14T19:44:02+0000\","
                           "\"scanResult\":\"malicious\","
                           "\"userEmailAddress\":\"u@x\",\"url\":\"https://x\"}");
    const char *why = NULL;
    struct ms_buf out;
    char id[65];

    (void)state;
    ms_buf_init(&out, 64);
    assert_int_equal(ms_mapping_apply_text(set, "mimecast:ttp:url", rec, &out, id, &why),
                     MS_ETOOBIG);
    assert_null(out.data);
    assert_string_equal(id, "");
    assert_non_null(why);
    json_object_put(rec);
    ms_mapping_set_destroy(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases_same_text),
        cmocka_unit_test(test_fixtures_same_text),
        cmocka_unit_test(test_text_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
