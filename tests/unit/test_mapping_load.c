/*
 * Mapping stage: the loader's refusals (file + JSON pointer of the fault), every expression
 * function and condition, drops, MITRE tags and their counts, API pages, the generic envelope.
 */
#include <config.h>

#include "unit.h"

#include "core/ms_err.h"
#include "mapping/ms_mapping.h"

#define NOW_MS 1893456000000LL /* 2030-01-01T00:00:00.000Z */

static const char *mitre_json = "{\"alert_types\": {\"Known\": {\"technique_id\": \"T1598.003\", "
                                "\"technique_name\": \"Spearphishing Link\"}}}";

/* Writes name (and mitre.json) into a fresh directory and loads it. */
static int load_one(const char *name,
                    const char *text,
                    char *dir,
                    struct ms_mapping_set **set,
                    struct ms_cfg_errors *errs)
{
    char path[PATH_MAX];

    unit_tmpdir(dir);
    unit_write_file(dir, "mitre.json", mitre_json, path);
    if (name) {
        unit_write_file(dir, name, text, path);
    }
    return ms_mapping_set_load(dir, set, errs);
}

/* Asserts that loading name/text is refused with a message containing want. */
static void assert_refused(const char *name, const char *text, const char *want)
{
    struct ms_cfg_errors errs = {NULL, 0};
    struct ms_mapping_set *set = NULL;
    char dir[PATH_MAX];
    size_t i;
    bool found = false;

    assert_int_equal(load_one(name, text, dir, &set, &errs), MS_EINVAL);
    assert_null(set);
    for (i = 0; i < errs.n; i++) {
        found = found || strstr(errs.msgs[i], want);
    }
    if (!found) {
        for (i = 0; i < errs.n; i++) {
            fprintf(stderr, "# got: %s\n", errs.msgs[i]);
        }
        fail_msg("no refusal contains: %s", want);
    }
    /* the file is named with its directory */
    assert_non_null(strstr(errs.msgs[0], dir));
    ms_cfg_errors_free(&errs);
    unit_rmtree(dir);
}

#define HEAD "{\"source_type\": \"t:x\", \"vendor\": \"V\", \"product\": \"P\", \"time\": \"$.t\", "

static void test_refusals(void **state)
{
    (void)state;
    assert_refused("t-x.json",
                   "{\"source_type\": \"t:x\",\n \"vendor\": \"V\",\n \"time\" \"$.t\"}",
                   "t-x.json: line 3, column 9: not valid JSON");
    assert_refused("t-x.json", HEAD "\"event\": {\"subject\": {\"uppercase\": \"$.s\"}}}",
                   "t-x.json: /event/subject/uppercase: unknown function 'uppercase' (did you "
                   "mean 'upper'?)");
    assert_refused("t-x.json", HEAD "\"fields\": {\"x\": {\"coalesce\": [\"$.a\", \"$.b[\"]}}}",
                   "t-x.json: /fields/x/coalesce/1: bad path \"$.b[\": expected an index");
    assert_refused("t-x.json", HEAD "\"fields\": {\"x\": \"$a.b\"}}",
                   "/fields/x: bad path \"$a.b\"");
    assert_refused("t-x.json", HEAD "\"evnt\": {}}", "/evnt: unknown key (did you mean 'event'?)");
    assert_refused("t-x.json", "{\"source_type\": \"t:x\", \"vendor\": \"V\", \"product\": \"P\"}",
                   "t-x.json: /: missing \"time\"");
    assert_refused("t-x.json", "{\"source_type\": \"t:x\", \"product\": \"P\", \"time\": \"$.t\"}",
                   "/: missing \"vendor\"");
    assert_refused("other.json", HEAD "\"id\": \"$.i\"}",
                   "other.json: /source_type: \"t:x\" belongs in a file named after it");
    assert_refused("t-x.json",
                   HEAD "\"event\": {\"action\": {\"lookup\": \"$.a\", \"table\": "
                        "{\"allow\": \"delivered\", \"block\": \"denied\"}}}}",
                   "/event/action: \"denied\" is not a CIM Email action");
    assert_refused("t-x.json",
                   HEAD "\"event\": {\"severity\": {\"if_empty\": \"$.s\", \"then\": "
                        "11}}}",
                   "/event/severity: severity is a number from 0 to 10, not 11");
    assert_refused("t-x.json",
                   HEAD "\"event\": {\"action\": {\"lookup\": \"$.a\", \"table\": "
                        "\"acton\"}}, \"tables\": {\"action\": {}}}",
                   "/event/action/table: unknown table 'acton' (did you mean 'action'?)");
    assert_refused("t-x.json",
                   HEAD "\"fields\": {\"ip\": {\"regex\": \"$.h\", \"pattern\": "
                        "\"([\"}}}",
                   "/fields/ip/pattern: bad regular expression \"([\"");
    assert_refused("t-x.json",
                   HEAD "\"fields\": {\"ip\": {\"regex\": \"$.h\", \"pattern\": "
                        "\"(a)\", \"group\": 2}}}",
                   "/fields/ip/group: expected the number of a group");
    assert_refused("t-x.json", HEAD "\"drop\": [{\"path\": \"$.r\", \"reason\": \"x\"}]}",
                   "/drop/0: a condition needs one test");
    assert_refused("t-x.json",
                   HEAD "\"drop\": [{\"path\": \"$.r\", \"equals\": 1, \"in\": [2], \"reason\": "
                        "\"x\"}]}",
                   "/drop/0: a condition has exactly one test");
    assert_refused("t-x.json", HEAD "\"drop\": [{\"path\": \"$.r\", \"equals\": \"clean\"}]}",
                   "/drop/0: missing \"reason\"");
    assert_refused("t-x.json",
                   HEAD "\"drop\": [{\"path\": \"$.r\", \"equal\": \"clean\", "
                        "\"reason\": \"x\"}]}",
                   "/drop/0/equal: unknown key in a condition (did you mean 'equals'?)");
    assert_refused("t-x.json",
                   HEAD "\"drop\": [{\"path\": \"r\", \"missing\": true, \"reason\": "
                        "\"x\"}]}",
                   "/drop/0/path: expected a path");
    assert_refused("t-x.json",
                   HEAD "\"drop\": [{\"all\": [{\"path\": \"$.a\", \"in\": []}], "
                        "\"reason\": \"x\"}]}",
                   "/drop/0/all/0/in: expected a non-empty list of values");
    assert_refused("t-x.json",
                   HEAD "\"drop\": [{\"path\": \"$.a\", \"value\": \"$.b\", "
                        "\"missing\": true, \"reason\": \"x\"}]}",
                   "/drop/0: a condition tests \"path\" or \"value\", not both");
    assert_refused("t-x.json", HEAD "\"event\": {\"id\": \"$.i\"}}",
                   "/event/id: \"id\" is set by the engine");
    assert_refused("t-x.json", HEAD "\"event\": {\"sendr\": \"$.s\"}}",
                   "/event/sendr: not a normalized key (did you mean 'sender'?)");
    assert_refused("t-x.json",
                   HEAD "\"event\": {\"subject\": {\"lookup\": \"$.s\", \"table\": {}, "
                        "\"sep\": \",\"}}}",
                   "/event/subject/sep: 'lookup' takes no option 'sep'");
    assert_refused("t-x.json", HEAD "\"event\": {\"subject\": {\"lookup\": \"$.s\"}}}",
                   "/event/subject: 'lookup' needs 'table'");
    assert_refused("t-x.json",
                   HEAD "\"event\": {\"subject\": {\"lookup\": \"$.s\", "
                        "\"ignore_case\": true, \"table\": {\"A\": 1, \"a\": 2}}}}",
                   "/event/subject/table: keys differing only in case collide");
    assert_refused("t-x.json", HEAD "\"event\": {\"subject\": [\"$.a\"]}}",
                   "/event/subject: a list is not an expression");
    assert_refused("t-x.json", HEAD "\"event\": {\"subject\": {\"_note\": \"x\"}}}",
                   "/event/subject: an object here is a function call");
    assert_refused("t-x.json",
                   HEAD "\"event\": {\"subject\": {\"first\": \"$.a\", \"join\": "
                        "\"$.b\"}}}",
                   "one function per object");
    assert_refused("t-x.json", HEAD "\"records_path\": \"$[*]\"}",
                   "/records_path: the path must start with a member name");
    assert_refused("t-x.json", "[1, 2]", "t-x.json: /: a mapping file is a JSON object");
    assert_refused("t-x.json", HEAD "\"id\": []}", "/id: expected the vendor id field(s)");
    /* mitre.json */
    assert_refused("mitre.json",
                   "{\"alert_types\": {\"A\": {\"technique_id\": \"X1\", "
                   "\"technique_name\": \"n\"}}}",
                   "mitre.json: /alert_types/A/technique_id: expected a MITRE ATT&CK id");
    assert_refused("mitre.json",
                   "{\"alert_types\": {\"A/B~C\": {\"technique_id\": \"T1078\", "
                   "\"technique_name\": \"\"}}}",
                   "mitre.json: /alert_types/A~1B~0C/technique_name: expected the technique's "
                   "name");
    assert_refused("mitre.json", "{\"rows\": {}}", "mitre.json: /rows: unknown key");
}

static void test_all_faults_listed(void **state)
{
    struct ms_cfg_errors errs = {NULL, 0};
    struct ms_mapping_set *set = NULL;
    char dir[PATH_MAX];

    (void)state;
    assert_int_equal(load_one("t-x.json",
                              HEAD "\"event\": {\"sendr\": \"$.s\", \"subject\": {\"uper\": 1}}, "
                                   "\"fields\": {\"a\": \"$.[\", \"b\": {\"join\": []}}}",
                              dir, &set, &errs),
                     MS_EINVAL);
    assert_int_equal(errs.n, 4);
    ms_cfg_errors_free(&errs);
    unit_rmtree(dir);
    /* a directory that is not there */
    assert_int_equal(ms_mapping_set_load("/nonexistent/msfwd-mappings", &set, &errs), MS_EIO);
    assert_non_null(strstr(errs.msgs[0], "/nonexistent/msfwd-mappings: mappings directory"));
    ms_cfg_errors_free(&errs);
}

/* Maps rec with the file and returns the event (or NULL with the drop reason in reason_out). */
static struct json_object *
map_with(const char *file_text, const char *rec_text, char *reason_out, size_t reason_len)
{
    struct ms_cfg_errors errs = {NULL, 0};
    struct ms_mapping_set *set = NULL;
    struct json_object *rec = json_tokener_parse(rec_text);
    struct json_object *ev = NULL;
    const char *reason = NULL;
    char dir[PATH_MAX];
    size_t i;

    assert_non_null(rec);
    if (load_one("t-x.json", file_text, dir, &set, &errs) != MS_OK) {
        for (i = 0; i < errs.n; i++) {
            fprintf(stderr, "# %s\n", errs.msgs[i]);
        }
        fail_msg("mapping file refused");
    }
    ms_mapping_set_clock(set, NOW_MS);
    assert_int_equal(ms_mapping_apply(set, "t:x", rec, &ev, &reason), MS_OK);
    if (reason_out) {
        snprintf(reason_out, reason_len, "%s", reason ? reason : "");
    }
    json_object_put(rec);
    ms_mapping_set_destroy(set);
    ms_cfg_errors_free(&errs);
    unit_rmtree(dir);
    return ev;
}

/* The "fields" of the event mapping rec with the given fields object, as compact JSON. */
static void assert_fields(const char *fields, const char *rec, const char *want)
{
    char file[4096];
    struct json_object *ev;
    struct json_object *f = NULL;
    const char *got;

    snprintf(file, sizeof(file), HEAD "\"fields\": %s}", fields);
    ev = map_with(file, rec, NULL, 0);
    assert_non_null(ev);
    json_object_object_get_ex(ev, "fields", &f);
    got = f ? json_object_to_json_string_ext(f, JSON_C_TO_STRING_PLAIN |
                                                    JSON_C_TO_STRING_NOSLASHESCAPE)
            : "(none)";
    if (strcmp(got, want) != 0) {
        fail_msg("fields %s on %s:\n got  %s\n want %s", fields, rec, got, want);
    }
    json_object_put(ev);
}

static void test_functions(void **state)
{
    (void)state;
    assert_fields("{\"c\": {\"coalesce\": [\"$.a\", \"$.b\", \"$.c\"]}}",
                  "{\"a\": \"\", \"b\": [], \"c\": \"third\"}", "{\"c\":\"third\"}");
    assert_fields("{\"e\": {\"if_empty\": \"$.a\", \"then\": \"$.b\", \"else\": \"$.c\"},"
                  " \"f\": {\"if_empty\": \"$.c\", \"then\": \"$.b\"}}",
                  "{\"b\": \"B\", \"c\": \"C\"}", "{\"e\":\"B\",\"f\":\"C\"}");
    assert_fields("{\"x\": {\"const\": \"$.not a path\"}, \"y\": \"plain\", \"n\": 3.5,"
                  " \"z\": null, \"l\": {\"const\": [1, \"two\"]}}",
                  "{}", "{\"x\":\"$.not a path\",\"y\":\"plain\",\"n\":3.5,\"l\":[1,\"two\"]}");
    assert_fields(
        "{\"l\": {\"lookup\": \"$.v\", \"table\": {\"Allow\": \"A\"}},"
        " \"i\": {\"lookup\": \"$.v\", \"table\": {\"Allow\": \"A\"}, \"ignore_case\": true},"
        " \"d\": {\"lookup\": \"$.w\", \"table\": {\"x\": 1}, \"default\": \"dflt\"},"
        " \"m\": {\"lookup\": \"$.missing\", \"table\": {\"x\": 1}, \"default\": 2},"
        " \"n\": {\"lookup\": \"$.num\", \"table\": {\"3\": \"three\"}},"
        " \"e\": {\"lookup\": \"$.list\", \"table\": {\"a\": 1, \"b\": 2}}}",
        "{\"v\": \"ALLOW\", \"w\": \"y\", \"num\": 3, \"list\": [\"a\", \"c\", \"b\"]}",
        "{\"i\":\"A\",\"d\":\"dflt\",\"n\":\"three\",\"e\":[1,2]}");
    assert_fields("{\"r\": {\"range\": \"$.s\", \"at_least\": [[50, \"mid\"], [90, \"high\"]],"
                  " \"default\": \"low\"}, \"q\": {\"range\": \"$.t\", \"at_least\": [[50, 1]],"
                  " \"default\": 0}, \"u\": {\"range\": \"$.x\", \"at_least\": [[0, 1]]}}",
                  "{\"s\": \"95\", \"t\": 10, \"x\": \"n/a\"}", "{\"r\":\"high\",\"q\":0}");
    assert_fields("{\"a\": {\"to_number\": \"$.a\"}, \"b\": {\"to_number\": \"$.b\"},"
                  " \"c\": {\"to_int\": \"$.b\"}, \"d\": {\"to_string\": \"$.d\"},"
                  " \"e\": {\"to_number\": \"$.e\"}, \"f\": {\"to_string\": \"$.f\"}}",
                  "{\"a\": \" 6496 \", \"b\": \"2.75\", \"d\": 12, \"e\": \"12abc\", \"f\": true}",
                  "{\"a\":6496,\"b\":2.75,\"c\":2,\"d\":\"12\",\"f\":\"true\"}");
    assert_fields("{\"i\": {\"to_iso8601\": \"$.t\"}, \"s\": {\"to_epoch\": \"$.t\"},"
                  " \"m\": {\"to_epoch_ms\": \"$.t\"}, \"j\": {\"to_iso8601\": \"$.e\"},"
                  " \"x\": {\"to_iso8601\": \"$.bad\"}}",
                  "{\"t\": \"2024-11-14 19:44:02\", \"e\": 1731613442123, \"bad\": \"soon\"}",
                  "{\"i\":\"2024-11-14T19:44:02.000Z\",\"s\":1731613442,\"m\":1731613442000,"
                  "\"j\":\"2024-11-14T19:44:02.123Z\"}");
    assert_fields("{\"l\": {\"lower\": \"$.s\"}, \"u\": {\"upper\": \"$.s\"},"
                  " \"t\": {\"trim\": \"$.p\"}, \"b\": {\"trim\": \"$.blank\"}}",
                  "{\"s\": \"MiXed\", \"p\": \"  pad \\r\\n\", \"blank\": \"   \"}",
                  "{\"l\":\"mixed\",\"u\":\"MIXED\",\"t\":\"pad\"}");
    assert_fields("{\"g\": {\"regex\": \"$.h\", \"pattern\": \"\\\\[([0-9.]+)\\\\]\"},"
                  " \"w\": {\"regex\": \"$.h\", \"pattern\": \"[a-z]+\"},"
                  " \"c\": {\"regex\": \"$.h\", \"pattern\": \"RELAY\", \"ignore_case\": true},"
                  " \"n\": {\"regex\": \"$.h\", \"pattern\": \"nothing\"}}",
                  "{\"h\": \"relay [10.0.0.1] [10.0.0.1]\"}",
                  "{\"g\":\"10.0.0.1\",\"w\":\"relay\",\"c\":\"relay\"}");
    assert_fields("{\"a\": {\"ip\": \"$.a\"}, \"b\": {\"ip\": \"$.b\"}, \"c\": {\"ip\": \"$.c\"},"
                  " \"d\": {\"ip\": \"$.d\"}}",
                  "{\"a\": \" 10.1.2.3 \", \"b\": \"Internal IP\", \"c\": \"2001:db8::1\","
                  " \"d\": [\"x\", \"192.0.2.1\"]}",
                  "{\"a\":\"10.1.2.3\",\"c\":\"2001:db8::1\",\"d\":[\"192.0.2.1\"]}");
    assert_fields("{\"f\": {\"first\": \"$.l[*].n\"}, \"j\": {\"join\": \"$.l[*].n\"},"
                  " \"k\": {\"join\": \"$.l[*].n\", \"sep\": \"|\"}, \"c\": {\"count\": \"$.l\"},"
                  " \"z\": {\"count\": \"$.e\"}, \"s\": {\"count\": \"$.x\"}}",
                  "{\"l\": [{\"n\": \"\"}, {\"n\": \"a\"}, {\"n\": 2}], \"e\": [], \"x\": \"one\"}",
                  "{\"f\":\"a\",\"j\":\"a, 2\",\"k\":\"a|2\",\"c\":3,\"z\":0,\"s\":1}");
    assert_fields("{\"hi\": {\"max\": [\"$.a\", \"$.l\", 3]}, \"lo\": {\"min\": \"$.l\"},"
                  " \"no\": {\"max\": [\"$.none\", \"$.text\"]}}",
                  "{\"a\": \"7\", \"l\": [1, 9.5, \"x\", \"-2\"], \"text\": \"x\"}",
                  "{\"hi\":9.5,\"lo\":-2}");
    assert_fields("{\"c\": {\"concat\": [\"$.a\", \" <\", \"$.b\", \">\"]},"
                  " \"n\": {\"concat\": [\"$.none\"]}}",
                  "{\"a\": \"Ana\", \"b\": \"ana@x\"}", "{\"c\":\"Ana <ana@x>\"}");
    assert_fields("{\"s\": {\"split\": \"$.r\"}, \"t\": {\"split\": \"$.l\", \"sep\": \";\"}}",
                  "{\"r\": \" a@x , b@y,,\", \"l\": [\"c;d\", 5, \"e\"]}",
                  "{\"s\":[\"a@x\",\"b@y\"],\"t\":[\"c\",\"d\",\"e\"]}");
    /* fields are flat: objects left out, lists keep their scalars */
    assert_fields("{\"o\": \"$.o\", \"l\": \"$.l\", \"e\": \"$.e\"}",
                  "{\"o\": {\"a\": 1}, \"l\": [1, {\"a\": 1}, \"x\", null], \"e\": \"\"}",
                  "{\"l\":[1,\"x\"]}");
}

static void test_conditions(void **state)
{
    (void)state;
    assert_fields("{\"eq\": {\"if\": {\"path\": \"$.a\", \"equals\": \"Clean\"}, \"then\": 1,"
                  " \"else\": 0},"
                  " \"eqi\": {\"if\": {\"path\": \"$.a\", \"equals\": \"Clean\", \"ignore_case\": "
                  "true}, \"then\": 1, \"else\": 0},"
                  " \"num\": {\"if\": {\"path\": \"$.n\", \"equals\": 2}, \"then\": 1},"
                  " \"bool\": {\"if\": {\"path\": \"$.b\", \"equals\": false}, \"then\": 1},"
                  " \"in\": {\"if\": {\"path\": \"$.a\", \"in\": [\"x\", \"clean\"]}, \"then\": 1},"
                  " \"list\": {\"if\": {\"path\": \"$.l\", \"in\": [\"z\"]}, \"then\": 1},"
                  " \"has\": {\"if\": {\"path\": \"$.t\", \"contains\": \"RELEASE\", "
                  "\"ignore_case\": true}, \"then\": 1},"
                  " \"re\": {\"if\": {\"path\": \"$.t\", \"matches\": \"^user .*none$\"}, "
                  "\"then\": 1},"
                  " \"miss\": {\"if\": {\"path\": \"$.gone\", \"missing\": true}, \"then\": 1},"
                  " \"empty\": {\"if\": {\"path\": \"$.e\", \"missing\": true}, \"then\": 1},"
                  " \"pres\": {\"if\": {\"path\": \"$.a\", \"missing\": false}, \"then\": 1},"
                  " \"not\": {\"if\": {\"path\": \"$.a\", \"equals\": \"clean\", \"not\": true},"
                  " \"then\": 1, \"else\": 0},"
                  " \"all\": {\"if\": {\"all\": [{\"path\": \"$.n\", \"equals\": 2},"
                  " {\"path\": \"$.a\", \"equals\": \"clean\"}]}, \"then\": 1, \"else\": 0},"
                  " \"any\": {\"if\": {\"any\": [{\"path\": \"$.n\", \"equals\": 3},"
                  " {\"path\": \"$.a\", \"equals\": \"clean\"}]}, \"then\": 1, \"else\": 0},"
                  " \"val\": {\"if\": {\"value\": {\"lower\": \"$.u\"}, \"equals\": \"up\"},"
                  " \"then\": 1}}",
                  "{\"a\": \"clean\", \"n\": \"2\", \"b\": false, \"l\": [\"y\", \"z\"],"
                  " \"t\": \"user release, none\", \"e\": \"\", \"u\": \"UP\"}",
                  "{\"eq\":0,\"eqi\":1,\"num\":1,\"bool\":1,\"in\":1,\"list\":1,\"has\":1,\"re\":1,"
                  "\"miss\":1,\"empty\":1,\"pres\":1,\"not\":0,\"all\":1,\"any\":1,\"val\":1}");
}

static void test_event_keys(void **state)
{
    struct json_object *ev;
    char reason[128];
    const char *file =
        HEAD "\"id\": [\"$.m\", \"$.d\"], \"drop\": [{\"path\": \"$.v\", \"in\": [\"clean\", "
             "\"safe\"], \"ignore_case\": true, \"reason\": \"clean verdict\"}], "
             "\"event\": {\"alert_type\": \"$.at\", \"severity\": \"$.sev\", \"action\": "
             "{\"lookup\": \"$.act\", \"table\": {\"blk\": \"blocked\"}}, \"recipient\": \"$.r\", "
             "\"src_ip\": \"$.ip\", \"size\": \"$.size\", \"sender\": \"$.s\", \"user\": \"$.r\"}}";

    (void)state;
    ev = map_with(file,
                  "{\"t\": \"2024-11-14T19:44:02+0000\", \"m\": \"<id@x>\", \"d\": 5, \"at\": "
                  "\"Known\", \"sev\": \"12.6\", \"act\": \"blk\", \"r\": [\"a@x\", 7, {}], "
                  "\"ip\": \"Internal IP\", \"size\": \"6496\", \"s\": [\"\", \"first@x\"]}",
                  NULL, 0);
    assert_non_null(ev);
    assert_string_equal(
        json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
        "{\"id\":\"24f047558934100ea57f7419a87b241d3c744abc034519fbbdcb4ed55a8c8396\","
        "\"time\":\"2024-11-14T19:44:02.000Z\",\"vendor\":\"V\",\"product\":\"P\","
        "\"source_type\":\"t:x\",\"alert_type\":\"Known\",\"mitre\":{\"technique_id\":"
        "\"T1598.003\",\"technique_name\":\"Spearphishing Link\"},\"severity\":10,"
        "\"action\":\"blocked\",\"sender\":\"first@x\",\"recipient\":[\"a@x\",\"7\"],"
        "\"user\":\"a@x\",\"size\":6496,\"raw\":{\"t\":\"2024-11-14T19:44:02+0000\","
        "\"m\":\"<id@x>\",\"d\":5,\"at\":\"Known\",\"sev\":\"12.6\",\"act\":\"blk\","
        "\"r\":[\"a@x\",7,{}],\"ip\":\"Internal IP\",\"size\":\"6496\",\"s\":[\"\",\"first@x\"]}}");
    json_object_put(ev);
    /* a negative size, a negative severity and an unknown action word are left out */
    ev = map_with(file, "{\"size\": -1, \"sev\": -3, \"act\": \"other\", \"ip\": \"10.0.0.1\"}",
                  NULL, 0);
    assert_false(json_object_object_get_ex(ev, "size", NULL));
    assert_false(json_object_object_get_ex(ev, "severity", NULL));
    assert_false(json_object_object_get_ex(ev, "action", NULL));
    assert_string_equal(json_object_get_string(json_object_object_get(ev, "src_ip")), "10.0.0.1");
    assert_string_equal(json_object_get_string(json_object_object_get(ev, "time")),
                        "2030-01-01T00:00:00.000Z");
    json_object_put(ev);
    /* drops name their rule */
    ev = map_with(file, "{\"v\": \"SAFE\"}", reason, sizeof(reason));
    assert_null(ev);
    assert_string_equal(reason, "clean verdict");
}

static void test_set_behaviour(void **state)
{
    struct ms_cfg_errors errs = {NULL, 0};
    struct ms_mapping_set *set = NULL;
    struct ms_mapping_stats st;
    struct json_object *rec;
    struct json_object *ev = NULL;
    struct json_object *page;
    struct json_object *recs;
    const char *reason = NULL;
    char dir[PATH_MAX];
    int i;

    (void)state;
    assert_int_equal(load_one("t-x.json",
                              HEAD "\"records_path\": \"$.data[*].logs\", \"event\": "
                                   "{\"alert_type\": \"$.at\"}, \"drop\": [{\"path\": \"$.v\", "
                                   "\"equals\": \"clean\", \"reason\": \"clean\"}]}",
                              dir, &set, &errs),
                     MS_OK);
    ms_mapping_set_clock(set, NOW_MS);
    assert_true(ms_mapping_has(set, "t:x"));
    assert_false(ms_mapping_has(set, "t:y"));
    for (i = 0; i < 3; i++) {
        rec = json_tokener_parse(i == 0   ? "{\"at\": \"Known\"}"
                                 : i == 1 ? "{\"at\": \"Unknown\"}"
                                          : "{\"v\": \"clean\"}");
        assert_int_equal(ms_mapping_apply(set, "t:x", rec, &ev, &reason), MS_OK);
        json_object_put(ev);
        ev = NULL;
        json_object_put(rec);
    }
    rec = json_object_new_array();
    assert_int_equal(ms_mapping_apply(set, "t:x", rec, &ev, &reason), MS_EINVAL);
    assert_string_equal(reason, "record is not a JSON object");
    json_object_put(rec);
    ms_mapping_get_stats(set, "t:x", &st);
    assert_int_equal(st.mapped, 2);
    assert_int_equal(st.untagged, 1);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(st.rejected, 1);

    /* a source type without a file: the generic envelope, ingest time */
    rec = json_tokener_parse("{\"k\": 1}");
    assert_int_equal(ms_mapping_apply(set, "no:file", rec, &ev, &reason), MS_OK);
    assert_string_equal(json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN),
                        "{\"id\":\"6953705cc80941291f50b6b6a9637a876885f196c532416497d659ef96cb"
                        "c9f1\",\"time\":\"2030-01-01T00:00:00.000Z\",\"source_type\":\"no:file\","
                        "\"raw\":{\"k\":1}}");
    json_object_put(ev);
    json_object_put(rec);
    ms_mapping_get_stats(set, "no:file", &st);
    assert_int_equal(st.mapped, 1);

    /* API pages: found by the first key of records_path; a path without [*] at the end yields
     * lists, which are flattened; arrays give their elements; anything else is one record */
    page = json_tokener_parse("{\"meta\": {}, \"data\": [{\"logs\": [{\"a\": 1}, {\"a\": 2}]},"
                              " {\"logs\": [{\"a\": 3}]}]}");
    recs = ms_mapping_page_records(set, "t:x", page);
    assert_string_equal(json_object_to_json_string_ext(recs, JSON_C_TO_STRING_PLAIN),
                        "[{\"a\":1},{\"a\":2},{\"a\":3}]");
    json_object_put(recs);
    json_object_put(page);
    page = json_tokener_parse("{\"data\": []}");
    recs = ms_mapping_page_records(set, "t:x", page);
    assert_int_equal(json_object_array_length(recs), 0);
    json_object_put(recs);
    json_object_put(page);
    page = json_tokener_parse("{\"a\": 1}");
    recs = ms_mapping_page_records(set, "t:x", page);
    assert_int_equal(json_object_array_length(recs), 1);
    json_object_put(recs);
    recs = ms_mapping_page_records(set, "no:file", page);
    assert_int_equal(json_object_array_length(recs), 1);
    json_object_put(recs);
    json_object_put(page);
    page = json_tokener_parse("[{\"a\": 1}, 2]");
    recs = ms_mapping_page_records(set, "t:x", page);
    assert_int_equal(json_object_array_length(recs), 2);
    json_object_put(recs);
    json_object_put(page);

    ms_mapping_log_summary(set);
    ms_mapping_set_destroy(set);
    ms_cfg_errors_free(&errs);
    unit_rmtree(dir);
}

static void test_event_id(void **state)
{
    char id[65];
    struct json_object *raw = json_tokener_parse("{\"b\":1}");

    (void)state;
    /* sha256("src\0vendor-id") and sha256("src\0{\"b\":1}"), computed with Python's hashlib */
    ms_event_id("src", "vendor-id", raw, id);
    assert_string_equal(id, "0b99008646044f52ae2bfb953a44a0943c62deed4228c9496f0fdca16334c6ed");
    ms_event_id("src", NULL, raw, id);
    assert_string_equal(id, "00f33a137285b6582ec055f79cf203220dfef6de9b40f9b18b461aa4dfa795b2");
    json_object_put(raw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),   cmocka_unit_test(test_all_faults_listed),
        cmocka_unit_test(test_functions),  cmocka_unit_test(test_conditions),
        cmocka_unit_test(test_event_keys), cmocka_unit_test(test_set_behaviour),
        cmocka_unit_test(test_event_id),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
