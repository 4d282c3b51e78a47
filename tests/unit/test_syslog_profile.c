/*
 * SIEM profiles (mappings/siem-profiles.json): the shipped file, every refusal of the loader with
 * file and JSON pointer, a source type known only to the data, and how the syslog output's init
 * finds the file in the mappings directory.
 */
#include <config.h>

#include <signal.h>
#include <sys/stat.h>

#include "sl_unit.h"

#include "core/ms_config.h"
#include "core/ms_log.h"
#include "core/ms_plugin.h"
#include "core/ms_registry.h"

#define ERRORS_MAX 16384

/* Writes text as dir/siem-profiles.json and loads it; the refusals, one per line, into errors. */
static int load_text(const char *dir, const char *text, struct sl_profiles **ps, char *errors)
{
    struct ms_cfg_errors errs = {NULL, 0};
    char path[PATH_MAX];
    size_t i;
    int ret;

    unit_write_file(dir, "siem-profiles.json", text, path);
    ret = sl_profiles_load(path, ps, &errs);
    errors[0] = '\0';
    for (i = 0; i < errs.n; i++) {
        size_t used = strlen(errors);

        snprintf(errors + used, ERRORS_MAX - used, "%s\n", errs.msgs[i]);
    }
    ms_cfg_errors_free(&errs);
    return ret;
}

static void test_shipped_profiles(void **state)
{
    static const struct {
        const char *st, *vendor, *product, *version, *event_id, *cat_const;
    } rows[] = {
        {"mimecast:ttp:url", "Mimecast", "Email Security", "2.0", "TTP_URL", NULL},
        {"mimecast:ttp:attachment", "Mimecast", "Email Security", "2.0", "TTP_Attachment", NULL},
        {"mimecast:ttp:impersonation", "Mimecast", "Email Security", "2.0", "TTP_Impersonation",
         NULL},
        {"mimecast:message-tracking", "Mimecast", "Email Security", "2.0", "Message_Tracking",
         NULL},
        {"pps:quarantine", "Proofpoint", "Protection Server", "v1", "PPS_Quarantine",
         "quarantined"},
        {"ser:summary", "Proofpoint", "Secure Email Relay", "v1", "SER_Usage_Summary", "usage"},
        {"ser:entitlement", "Proofpoint", "Secure Email Relay", "v1", "SER_Entitlement",
         "entitlement"},
    };
    const struct sl_profiles *ps = sl_unit_profiles();
    const struct sl_profile *p;
    size_t i;

    (void)state;
    assert_int_equal(sl_profiles_count(ps), sizeof(rows) / sizeof(rows[0]));
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        p = sl_profile_get(ps, rows[i].st);
        assert_string_equal(p->source_type, rows[i].st);
        assert_string_equal(p->vendor, rows[i].vendor);
        assert_string_equal(p->product, rows[i].product);
        assert_string_equal(p->version, rows[i].version);
        assert_string_equal(p->event_id, rows[i].event_id);
        if (rows[i].cat_const) {
            assert_string_equal(p->cat_const, rows[i].cat_const);
        }
        else {
            assert_null(p->cat_const);
            assert_non_null(p->cat_keys);
            assert_non_null(p->cats);
        }
    }
    /* Anything else, and every source type without a table, gets the generic profile. */
    p = sl_profile_get(ps, "mimecast:ttp:url2");
    assert_null(p->source_type);
    assert_null(p->vendor);
    assert_null(p->event_id);
    assert_string_equal(p->version, "1.0");
    assert_string_equal(p->cat_keys[0], "category");
    assert_string_equal(p->cat_keys[1], "action");
    assert_null(p->cats);
    assert_ptr_equal(sl_profile_get(NULL, "mimecast:ttp:url"), p);
    assert_ptr_equal(sl_profile_get(ps, ""), p);
}

struct refusal {
    const char *text;
    const char *want; /* after "<path>: " */
};

static void test_refusals(void **state)
{
    static const struct refusal cases[] = {
        {"[]", "/: a SIEM profile file is a JSON object with \"profiles\""},
        {"{\"profile\": {}}", "/profile: unknown key (did you mean 'profiles'?)"},
        {"{\"profile\": {}}", "/: missing \"profiles\""},
        {"{\"profiles\": []}", "/profiles: expected an object of \"<source type>\": {profile}"},
        {"{\"profiles\": {\"a:b\": \"Acme\"}}",
         "/profiles/a:b: expected an object with vendor, product, version, event_id and cat"},
        {"{\"profiles\": {\"a:b\": {\"vendr\": \"Acme\"}}}",
         "/profiles/a:b/vendr: unknown key (did you mean 'vendor'?)"},
        {"{\"profiles\": {\"a:b\": {\"vendor\": \"\"}}}",
         "/profiles/a:b/vendor: expected a non-empty string"},
        {"{\"profiles\": {\"a:b\": {\"product\": "
         "\"0123456789012345678901234567890123456789012345678901234567890123\"}}}",
         "/profiles/a:b/product: longer than 63 bytes (the product limit of LEEF and CEF)"},
        {"{\"profiles\": {\"a:b\": {\"version\": \"1\\u0001\"}}}",
         "/profiles/a:b/version: holds a control character"},
        {"{\"profiles\": {\"a:b\": {\"event_id\": 42}}}",
         "/profiles/a:b/event_id: expected a non-empty string"},
        {"{\"profiles\": {\"a:b\": {\"cat\": 7}}}",
         "/profiles/a:b/cat: expected a constant such as \"quarantined\", or {\"from\": [event "
         "keys], \"values\": [allowed values]}"},
        {"{\"profiles\": {\"a:b\": {\"cat\": \"Quarantined\"}}}",
         "/profiles/a:b/cat: \"Quarantined\": a constant cat is lower-case letters, digits, '-' "
         "and '_', at most 63 bytes"},
        {"{\"profiles\": {\"a:b\": {\"cat\": {\"value\": [\"x\"]}}}}",
         "/profiles/a:b/cat/value: unknown key (did you mean 'values'?)"},
        {"{\"profiles\": {\"a:b\": {\"cat\": {\"from\": [\"action\", \"vendor_acton\"]}}}}",
         "/profiles/a:b/cat/from/1: \"vendor_acton\": not a text key of the normalized event "
         "(did you mean 'vendor_action'?)"},
        {"{\"profiles\": {\"a:b\": {\"cat\": {\"from\": \"severity\"}}}}",
         "/profiles/a:b/cat/from: \"severity\": not a text key of the normalized event"},
        {"{\"profiles\": {\"a:b\": {\"cat\": {\"from\": []}}}}",
         "/profiles/a:b/cat/from: expected a non-empty list"},
        {"{\"profiles\": {\"a:b\": {\"cat\": {\"from\": {}}}}}",
         "/profiles/a:b/cat/from: expected a list of strings"},
        {"{\"profiles\": {\"a:b\": {\"cat\": {\"values\": [\"blocked\", \"Held\"]}}}}",
         "/profiles/a:b/cat/values/1: \"Held\": a cat value is lower-case letters, digits, '-' "
         "and '_', at most 63 bytes"},
        {"{\"profiles\": {\"a:b\": {\"cat\": {\"values\": [\"a|b\"]}}}}",
         "/profiles/a:b/cat/values/0: \"a|b\": a cat value is"},
        {"{\"profiles\": {\"a:b\": {\"cat\": {\"values\": [null]}}}}",
         "/profiles/a:b/cat/values/0: expected a string"},
        /* RFC 6901 escapes in the pointer */
        {"{\"profiles\": {\"a/b~c\": {\"cat\": 1}}}", "/profiles/a~1b~0c/cat: expected a constant"},
        {"{\"profiles\": {\"0123456789012345678901234567890123456789012345678901234567890123\": "
         "{}}}",
         "/profiles/0123456789012345678901234567890123456789012345678901234567890123: a source "
         "type has at most 63 bytes"},
        {"{\"profiles\": {\"\": {}}}",
         "/profiles/: expected a source type such as \"acme:gw:alert\", not \"\""},
        /* the file itself */
        {"{\n  \"profiles\": {\n    \"a:b\": {,\n", "line 3, column 13: not valid JSON"},
        {"{\"profiles\": {\"a:b\": {\"vendor\": \"x\",}}}", "line 1, column 37: not valid JSON"},
        {"{\"profiles\": {}} x", "line 1, column 18: not valid JSON: unexpected character"},
        {"{\"profiles\": {\"a:b\": {\"vendor\": \"\xc3\x28\"}}}",
         "line 1, column 35: not valid JSON: invalid utf-8 string"},
        {"", "line 1, column 1: not valid JSON: the file ends inside a JSON value"},
        {"null\n", "/: a SIEM profile file is a JSON object with \"profiles\", not null"},
    };
    struct sl_profiles *none = NULL;
    char dir[PATH_MAX];
    char *errors = malloc(ERRORS_MAX);
    char want[PATH_MAX + 1024];
    size_t i;

    (void)state;
    assert_non_null(errors);
    unit_tmpdir(dir);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_profiles *ps = (struct sl_profiles *)1;

        snprintf(want, sizeof(want), "%s/siem-profiles.json: %s", dir, cases[i].want);
        assert_int_equal(load_text(dir, cases[i].text, &ps, errors), MS_EINVAL);
        assert_null(ps);
        if (!strstr(errors, want)) {
            fprintf(stderr, "# case %zu: want %s\n# got:\n%s", i, want, errors);
        }
        assert_non_null(strstr(errors, want));
    }
    /* Every fault of the file is listed, not only the first. */
    assert_int_equal(load_text(dir,
                               "{\"_\": \"comments anywhere\", \"profiles\": {\"_x\": 1, "
                               "\"a:b\": {\"vendor\": 1, \"_y\": 2, \"cat\": {\"from\": "
                               "[\"x\"], \"values\": [\"Y\"]}}, \"c:d\": {\"version\": \"\"}}}",
                               &none, errors),
                     MS_EINVAL);
    assert_int_equal(sl_count(errors, strlen(errors), "\n"), 4);
    assert_non_null(strstr(errors, "/profiles/a:b/vendor: "));
    assert_non_null(strstr(errors, "/profiles/a:b/cat/from/0: "));
    assert_non_null(strstr(errors, "/profiles/a:b/cat/values/0: "));
    assert_non_null(strstr(errors, "/profiles/c:d/version: "));
    unit_rmtree(dir);
    free(errors);
}

static void test_missing_and_unreadable(void **state)
{
    struct ms_cfg_errors errs = {NULL, 0};
    struct sl_profiles *ps = NULL;
    char dir[PATH_MAX];
    char path[PATH_MAX + 32];
    char *errors = malloc(ERRORS_MAX);

    (void)state;
    assert_non_null(errors);
    unit_tmpdir(dir);
    /* Missing: not a fault (the output warns and uses the generic profile). */
    snprintf(path, sizeof(path), "%s/siem-profiles.json", dir);
    assert_int_equal(sl_profiles_load(path, &ps, &errs), MS_OK);
    assert_null(ps);
    assert_int_equal(errs.n, 0);
    /* Unreadable (here: a directory) is refused. */
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(sl_profiles_load(path, &ps, &errs), MS_EIO);
    assert_null(ps);
    assert_int_equal(errs.n, 1);
    snprintf(errors, ERRORS_MAX, "%s: cannot read: not a regular file", path);
    assert_string_equal(errs.msgs[0], errors);
    ms_cfg_errors_free(&errs);
    assert_int_equal(rmdir(path), 0);
    /* Larger than any profile table: refused before it is parsed. */
    {
        char *big = malloc(1024 * 1024 + 2);

        assert_non_null(big);
        memset(big, ' ', 1024 * 1024 + 1);
        big[1024 * 1024 + 1] = '\0';
        assert_int_equal(load_text(dir, big, &ps, errors), MS_EINVAL);
        assert_null(ps);
        assert_non_null(strstr(errors, "siem-profiles.json: larger than 1048576 bytes"));
        free(big);
    }
    /* An empty table is valid: every source type is generic. */
    assert_int_equal(load_text(dir, "{\"profiles\": {}}", &ps, errors), MS_OK);
    assert_non_null(ps);
    assert_int_equal(sl_profiles_count(ps), 0);
    assert_null(sl_profile_get(ps, "pps:quarantine")->source_type);
    sl_profiles_destroy(ps);
    sl_profiles_destroy(NULL);
    unit_rmtree(dir);
    free(errors);
}

/* A made-up source type gets its header and cat from the data alone: no C knows "acme". */
static void test_profile_in_data_only(void **state)
{
    const char *text =
        "{\"profiles\": {"
        "\"acme:gw:alert\": {\"vendor\": \"Acme Corp\", \"product\": \"Mail Gateway\", "
        "\"version\": \"3.1\", \"event_id\": \"GW_Alert\", \"cat\": {\"from\": "
        "[\"vendor_action\", \"action\"], \"values\": [\"quarantined\", \"blocked\"]}},"
        "\"acme:gw:audit\": {\"event_id\": \"GW_Audit\", \"cat\": \"audit\"}}}";
    const char *ev = "{\"id\":\"e1\",\"time\":\"2026-11-20T10:15:30.000Z\",\"vendor\":\"Acme\","
                     "\"product\":\"Gateway\",\"source_type\":\"acme:gw:alert\",\"severity\":5,"
                     "\"action\":\"blocked\",\"vendor_action\":\"Quarantine\",\"sender\":\"a@x."
                     "org\",\"recipient\":\"b@y.com\"}";
    struct sl_profiles *ps = NULL;
    struct sl_format_opts o;
    char dir[PATH_MAX];
    char *errors = malloc(ERRORS_MAX);

    (void)state;
    assert_non_null(errors);
    unit_tmpdir(dir);
    assert_int_equal(load_text(dir, text, &ps, errors), MS_OK);
    assert_string_equal(errors, "");
    assert_int_equal(sl_profiles_count(ps), 2);

    sl_opts(&o, SL_PAYLOAD_LEEF2, '\t');
    o.profiles = ps;
    sl_expect(&o, ev,
              "LEEF:2.0|Acme Corp|Mail Gateway|3.1|GW_Alert|x09|devTime=" SL_T0_MS
              "\tcat=quarantined\tsev=5\tusrName=b@y.com\tsuser=a@x.org\tduser=b@y.com"
              "\taction=blocked\tvendorAction=Quarantine\teventId=e1\tsourceType=acme:gw:alert");
    /* A value outside the closed vocabulary is "other". */
    sl_expect(&o, "{\"source_type\":\"acme:gw:alert\",\"vendor_action\":\"Released\"}",
              "LEEF:2.0|Acme Corp|Mail Gateway|3.1|GW_Alert|x09|cat=other"
              "\tvendorAction=Released\tsourceType=acme:gw:alert");
    /* Keys a profile leaves out behave as the generic profile: vendor and product from the event.
     */
    sl_expect(&o,
              "{\"source_type\":\"acme:gw:audit\",\"vendor\":\"Acme\",\"product\":\"Gateway\","
              "\"action\":\"blocked\"}",
              "LEEF:2.0|Acme|Gateway|1.0|GW_Audit|x09|cat=audit\taction=blocked"
              "\tsourceType=acme:gw:audit");
    sl_opts(&o, SL_PAYLOAD_CEF, '\t');
    o.profiles = ps;
    sl_expect(&o, ev,
              "CEF:0|Acme Corp|Mail Gateway|3.1|GW_Alert|GW_Alert|5|rt=" SL_T0_MS
              " cat=quarantined act=blocked suser=a@x.org duser=b@y.com cs4Label=eventId cs4=e1"
              " cs5Label=sourceType cs5=acme:gw:alert flexString2Label=vendorAction"
              " flexString2=Quarantine");
    /* Without the table the same event is generic. */
    sl_opts(&o, SL_PAYLOAD_LEEF2, '\t');
    o.profiles = NULL;
    sl_expect(&o, ev,
              "LEEF:2.0|Acme|Gateway|1.0|ACME_GW_ALERT|x09|devTime=" SL_T0_MS
              "\tcat=blocked\tsev=5\tusrName=b@y.com\tsuser=a@x.org\tduser=b@y.com"
              "\taction=blocked\tvendorAction=Quarantine\teventId=e1\tsourceType=acme:gw:alert");
    sl_profiles_destroy(ps);
    unit_rmtree(dir);
    free(errors);
}

/*
 * Runs the syslog output's init with mappings_dir (NULL: no runtime at all); the refusals go to
 * errors and the log lines to log (both one per line).
 */
static int run_init(const char *mappings_dir, char *errors, char *log, size_t len)
{
    const struct ms_output_plugin *p = ms_registry_output("syslog");
    const struct ms_config_map *maps[1];
    struct ms_cfg_errors errs = {NULL, 0};
    struct ms_config *cfg = NULL;
    struct ms_instance ins;
    struct ms_runtime rt;
    volatile sig_atomic_t stop = 0;
    char dir[PATH_MAX];
    char path[PATH_MAX];
    void *ctxs[1];
    FILE *f = tmpfile();
    size_t n;
    size_t i;
    int ret;

    assert_non_null(p);
    assert_non_null(f);
    unit_tmpdir(dir);
    unit_write_file(dir, "t.conf", "[output.q]\nhost = 127.0.0.1\ntransport = tcp\n", path);
    assert_int_equal(ms_config_load(path, &cfg, &errs), MS_OK);
    memset(&rt, 0, sizeof(rt));
    rt.state_dir = dir;
    rt.mappings_dir = mappings_dir;
    rt.stop = &stop;
    memset(&ins, 0, sizeof(ins));
    ins.kind = "output";
    ins.plugin_name = p->name;
    snprintf(ins.name, sizeof(ins.name), "q");
    ins.log_level = -1;
    ins.rt = mappings_dir ? &rt : NULL;
    ins.cfg = cfg;
    ins.sec = ms_config_find(cfg, "output", "q");
    ins.ctx = calloc(1, p->ctx_size);
    assert_non_null(ins.ctx);
    maps[0] = p->config_map;
    ctxs[0] = ins.ctx;
    ms_log_set_stream(f);
    ret = ms_config_apply(cfg, ms_config_find(cfg, "output", "q"), maps, ctxs, 1, &errs);
    if (ret == MS_OK) {
        ret = p->init(&ins, &errs);
        p->destroy(&ins);
    }
    ms_log_set_stream(NULL);
    ms_config_map_free(p->config_map, ins.ctx);
    free(ins.ctx);
    errors[0] = '\0';
    for (i = 0; i < errs.n; i++) {
        size_t used = strlen(errors);

        snprintf(errors + used, len - used, "%s\n", errs.msgs[i]);
    }
    rewind(f);
    n = fread(log, 1, len - 1, f);
    log[n] = '\0';
    fclose(f);
    ms_cfg_errors_free(&errs);
    ms_config_destroy(cfg);
    unit_rmtree(dir);
    return ret;
}

static void test_init_reads_mappings_dir(void **state)
{
    char dir[PATH_MAX];
    char path[PATH_MAX];
    char want[PATH_MAX + 128];
    char *errors = malloc(ERRORS_MAX);
    char *log = malloc(ERRORS_MAX);
    const char *src = getenv("MS_SRCDIR");

    (void)state;
    assert_non_null(errors);
    assert_non_null(log);
    unit_tmpdir(dir);
    /* The shipped directory: no refusal, no warning. */
    snprintf(path, sizeof(path), "%s/mappings", src ? src : ".");
    assert_int_equal(run_init(path, errors, log, ERRORS_MAX), MS_OK);
    assert_string_equal(errors, "");
    assert_null(strstr(log, "siem-profiles.json"));
    /* No file in the directory: one warning, then the generic profile. */
    assert_int_equal(run_init(dir, errors, log, ERRORS_MAX), MS_OK);
    assert_string_equal(errors, "");
    snprintf(want, sizeof(want), "%s/siem-profiles.json does not exist", dir);
    assert_int_equal(sl_count(log, strlen(log), want), 1);
    assert_non_null(strstr(log, "[output:syslog:q]"));
    /* A malformed file stops msfwd check: file and JSON pointer, next to the other refusals. */
    unit_write_file(dir, "siem-profiles.json",
                    "{\"profiles\": {\"acme:gw:alert\": {\"cat\": {\"values\": [\"Blocked\"]}}}}",
                    path);
    assert_int_equal(run_init(dir, errors, log, ERRORS_MAX), MS_EINVAL);
    snprintf(want, sizeof(want),
             "%s: /profiles/acme:gw:alert/cat/values/0: \"Blocked\": a cat value is", path);
    assert_non_null(strstr(errors, want));
    /* No runtime (a unit test harness): generic, silently. */
    assert_int_equal(run_init(NULL, errors, log, ERRORS_MAX), MS_OK);
    assert_string_equal(errors, "");
    assert_null(strstr(log, "siem-profiles"));
    unit_rmtree(dir);
    free(errors);
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_profiles),        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_missing_and_unreadable),  cmocka_unit_test(test_profile_in_data_only),
        cmocka_unit_test(test_init_reads_mappings_dir),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
