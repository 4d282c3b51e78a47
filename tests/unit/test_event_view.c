/*
 * Spooled events read with less than the whole object (ms_batch_add_text, enum ms_event_view):
 * every view accepts and refuses exactly what json_tokener_parse does, with the same id, source
 * type and text, and every output formats the same bytes from the view it asks for as from the
 * whole event. Also the batch's text store: reused across resets, bounded.
 */
#include <config.h>

#include <json-c/json.h>
#include <sys/stat.h>

#include "core/ms_buf.h"
#include "core/ms_deadletter.h"
#include "core/ms_err.h"
#include "core/ms_event.h"
#include "core/ms_json.h"
#include "core/ms_plugin.h"
#include "../../outputs/hec/hec.h"
#include "../../outputs/kafka/kafka.h"
#include "sl_unit.h"

#define JSONC_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define MAX_TEXTS   128

static const enum ms_event_view views[] = {MS_VIEW_FULL, MS_VIEW_NO_RAW, MS_VIEW_TEXT,
                                           MS_VIEW_NORMALIZED};

/* Texts as a spool may hold them: odd ones next to the normal shapes. */
static const char *const odd_texts[] = {
    "{\"id\":\"abc\",\"source_type\":\"x:y\",\"raw\":{\"a\":1}}",
    "{\"raw\":[1,2],\"id\":\"a\",\"vendor\":\"V\"}",
    "{\"raw\":1}",
    "{\"raw\":1,\"id\":\"a\",\"raw\":{\"b\":2}}",
    "{\"r\\u0061w\":{\"x\":1},\"id\":\"a\"}",
    "{\"raw\\u0000x\":1,\"id\":\"b\"}",
    "{\"\\u0069d\":\"escaped key\",\"source_type\":\"s\"}",
    "{\"id\":5,\"source_type\":null}",
    "{\"id\":{\"o\":1},\"source_type\":[1,2]}",
    "{\"id\":\"a\\\"b\",\"source_type\":\"s\\\\t\"}",
    "{\"id\":\"first\",\"id\":\"second\",\"source_type\":\"a\",\"source_type\":\"b\"}",
    "{\"source_type\":\"0123456789012345678901234567890123456789012345678901234567890123456789\"}",
    "{\"id\":\"0123456789012345678901234567890123456789012345678901234567890123456789\"}",
    "{\"raw\":NaN,\"id\":\"x\"}",
    "{\"id\":\"a\",\"raw\":{\"deep\":[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]}}",
    "{\"id\":\"a\"} trailing",
    "  {\"id\" : \"ws\" , \"raw\" : { } }  ",
    "{\"id\":\"tab\tinside\",\"raw\":2}",
    "{\"id\":\"lone \\ud800\",\"raw\":3}",
    "{\"id\":\"\xff\xfe\",\"source_type\":\"\xc3\xa9\"}",
    "{}",
    "[]",
    "\"text\"",
    "null",
    "",
    "{\"id\":\"x\"",
    "not json",
    "{\"id\":\"nul\\u0000inside\",\"raw\":1}",
};

struct corpus {
    char *texts[MAX_TEXTS];
    size_t lens[MAX_TEXTS];
    size_t n;
};

static void corpus_add(struct corpus *c, const char *text, size_t len)
{
    assert_true(c->n < MAX_TEXTS);
    c->texts[c->n] = malloc(len + 1);
    assert_non_null(c->texts[c->n]);
    memcpy(c->texts[c->n], text, len);
    c->texts[c->n][len] = '\0';
    c->lens[c->n] = len;
    c->n++;
}

static void corpus_add_obj(struct corpus *c, struct json_object *obj)
{
    struct ms_buf buf;

    ms_buf_init(&buf, MS_CAP_EVENT);
    assert_int_equal(ms_json_write(&buf, obj), MS_OK);
    corpus_add(c, buf.data, buf.len);
    ms_buf_free(&buf);
}

static struct json_object **read_lines(const char *name, size_t *n)
{
    static struct json_object *objs[64];
    const char *src = getenv("MS_SRCDIR");
    char path[PATH_MAX];
    char *line = NULL;
    size_t cap = 0;
    FILE *f;

    *n = 0;
    snprintf(path, sizeof(path), "%s/%s", src ? src : ".", name);
    f = fopen(path, "r");
    assert_non_null(f);
    while (getline(&line, &cap, f) > 0 && *n < 64) {
        objs[*n] = json_tokener_parse(line);
        assert_non_null(objs[*n]);
        (*n)++;
    }
    fclose(f);
    free(line);
    return objs;
}

/*
 * The normalized events of the syslog fixtures as the spool holds them: as they are, with the
 * matching hostile vendor record as "raw" (last, as the mapping puts it), and with "raw" first.
 */
static void corpus_fill(struct corpus *c)
{
    struct json_object **events;
    struct json_object *recs[64];
    size_t n_ev;
    size_t n_rec;
    size_t i;

    memset(c, 0, sizeof(*c));
    events = read_lines("tests/fixtures/syslog/hostile-records.jsonl", &n_rec);
    memcpy(recs, events, n_rec * sizeof(*recs));
    events = read_lines("tests/fixtures/syslog/hostile-events.jsonl", &n_ev);
    assert_true(n_ev > 0 && n_rec > 0);
    for (i = 0; i < n_ev; i++) {
        struct json_object *front = json_object_new_object();

        corpus_add_obj(c, events[i]);
        json_object_object_add(front, "raw", json_object_get(recs[i % n_rec]));
        json_object_object_foreach(events[i], key, val) {
            json_object_object_add(front, key, json_object_get(val));
        }
        corpus_add_obj(c, front);
        json_object_put(front);
        json_object_object_add(events[i], "raw", json_object_get(recs[i % n_rec]));
        corpus_add_obj(c, events[i]);
        json_object_put(events[i]);
    }
    for (i = 0; i < n_rec; i++) {
        json_object_put(recs[i]);
    }
    for (i = 0; i < sizeof(odd_texts) / sizeof(odd_texts[0]); i++) {
        corpus_add(c, odd_texts[i], strlen(odd_texts[i]));
    }
    corpus_add(c, "{\"id\":\"x\0y\",\"raw\":1}", 20); /* a NUL byte: json-c stops there */
}

static void corpus_free(struct corpus *c)
{
    size_t i;

    for (i = 0; i < c->n; i++) {
        free(c->texts[i]);
    }
}

static void assert_same_json(struct json_object *a, struct json_object *b)
{
    assert_string_equal(json_object_to_json_string_ext(a, JSONC_FLAGS),
                        json_object_to_json_string_ext(b, JSONC_FLAGS));
}

/* Every view agrees with json_tokener_parse + the former ms_batch_add_spooled on every text. */
static void test_views_match_jsonc(void **state)
{
    struct corpus c;
    struct ms_batch b;
    size_t i;
    size_t v;

    (void)state;
    corpus_fill(&c);
    assert_int_equal(ms_batch_init(&b, 4), MS_OK);
    for (i = 0; i < c.n; i++) {
        struct json_object *want = json_tokener_parse(c.texts[i]);
        bool ok = want && json_object_is_type(want, json_type_object);
        struct ms_batch ref;

        assert_int_equal(ms_batch_init(&ref, 1), MS_OK);
        if (ok) {
            assert_int_equal(
                ms_batch_add_spooled(&ref, strdup(c.texts[i]), c.lens[i], json_object_get(want)),
                MS_OK);
        }
        for (v = 0; v < sizeof(views) / sizeof(views[0]); v++) {
            const struct ms_event *ev;
            int rc;

            ms_batch_reset(&b);
            rc = ms_batch_add_text(&b, c.texts[i], c.lens[i], views[v]);
            if (rc != (ok ? MS_OK : MS_EINVAL)) {
                fprintf(stderr, "# view %d: %d for %s\n", (int)views[v], rc, c.texts[i]);
                fail();
            }
            if (!ok) {
                assert_int_equal(b.n, 0);
                continue;
            }
            ev = &b.events[0];
            assert_int_equal(ev->text_len, c.lens[i]);
            assert_memory_equal(ev->text, c.texts[i], c.lens[i]);
            assert_int_equal(ev->text[ev->text_len], '\0');
            assert_string_equal(ev->id, ref.events[0].id);
            assert_string_equal(ev->source_type, ref.events[0].source_type);
            if (views[v] == MS_VIEW_TEXT) {
                assert_null(ev->ev);
                assert_true(ev->partial);
                assert_false(ev->raw_stripped);
            }
            else if (views[v] == MS_VIEW_FULL) {
                assert_same_json(ev->ev, want);
                assert_false(ev->raw_stripped);
                assert_false(ev->partial);
            }
            else {
                struct json_object *less = json_tokener_parse(c.texts[i]);
                bool had_raw = json_object_object_get_ex(less, "raw", NULL);
                bool had_fields = json_object_object_get_ex(less, "fields", NULL);

                json_object_object_del(less, "raw");
                if (views[v] == MS_VIEW_NORMALIZED) {
                    json_object_object_del(less, "fields");
                }
                else {
                    had_fields = false;
                }
                assert_same_json(ev->ev, less);
                assert_int_equal(ev->raw_stripped, had_raw);
                assert_int_equal(ev->partial, had_raw || had_fields);
                json_object_put(less);
            }
        }
        ms_batch_free(&ref);
        json_object_put(want);
    }
    ms_batch_free(&b);
    corpus_free(&c);
}

/* Reads every corpus event with view into b (one event each, b holds all). */
static void read_all(struct ms_batch *b, const struct corpus *c, enum ms_event_view view)
{
    size_t i;

    assert_int_equal(ms_batch_init(b, MAX_TEXTS), MS_OK);
    for (i = 0; i < c->n; i++) {
        int rc = ms_batch_add_text(b, c->texts[i], c->lens[i], view);

        assert_true(rc == MS_OK || rc == MS_EINVAL);
    }
}

static char *hec_bytes(const struct ms_event *ev, bool raw)
{
    struct hec_format_opts o;
    struct ms_buf buf;
    char *p;

    memset(&o, 0, sizeof(o));
    o.include_raw = raw;
    o.cim = true;
    ms_buf_init(&buf, MS_CAP_EVENT);
    if (hec_format_event(&o, ev, &buf) != MS_OK) {
        ms_buf_free(&buf);
        return strdup("(refused)");
    }
    p = strdup(ms_buf_cstr(&buf));
    ms_buf_free(&buf);
    return p;
}

static char *syslog_bytes(const struct ms_event *ev, enum sl_payload pl, bool raw)
{
    struct sl_format_opts o;
    size_t len;

    sl_opts(&o, pl, '^');
    o.include_raw = raw;
    sl_format_opts_prepare(&o);
    return sl_encode(&o, ev, &len);
}

static char *kafka_bytes(const struct ms_event *ev, bool raw)
{
    struct ms_buf scratch;
    const char *data;
    size_t len;
    char topic[300];
    char *p;

    ms_buf_init(&scratch, MS_CAP_EVENT);
    assert_int_equal(kafka_payload(ev, raw, &scratch, &data, &len), MS_OK);
    kafka_topic_render("t.${vendor}.${product}.${source_type}", ev, topic, sizeof(topic));
    p = malloc(len + strlen(topic) + 2);
    assert_non_null(p);
    memcpy(p, data, len);
    p[len] = '|';
    memcpy(p + len + 1, topic, strlen(topic) + 1);
    ms_buf_free(&scratch);
    return p;
}

static void assert_same_bytes(char *full, char *less, const char *what)
{
    if (strcmp(full, less) != 0) {
        fprintf(stderr, "# %s differs\n# full: %s\n# view: %s\n", what, full, less);
        fail();
    }
    free(full);
    free(less);
}

/* What each output asks for formats the same bytes as the whole event. */
static void test_outputs_same_bytes(void **state)
{
    struct corpus c;
    struct ms_batch full;
    struct ms_batch less;
    struct ms_batch norm;
    size_t i;
    int raw;

    (void)state;
    corpus_fill(&c);
    read_all(&full, &c, MS_VIEW_FULL);
    read_all(&less, &c, MS_VIEW_NO_RAW);
    read_all(&norm, &c, MS_VIEW_NORMALIZED);
    assert_int_equal(full.n, less.n);
    assert_int_equal(full.n, norm.n);
    assert_true(full.n > 30);
    for (i = 0; i < full.n; i++) {
        const struct ms_event *f = &full.events[i];
        const struct ms_event *l = &less.events[i];
        const struct ms_event *m = &norm.events[i];

        /* LEEF, CEF and Kafka with raw read MS_VIEW_NORMALIZED */
        assert_same_bytes(syslog_bytes(f, SL_PAYLOAD_LEEF2, true),
                          syslog_bytes(m, SL_PAYLOAD_LEEF2, true), "leef2 normalized");
        assert_same_bytes(syslog_bytes(f, SL_PAYLOAD_LEEF1, true),
                          syslog_bytes(m, SL_PAYLOAD_LEEF1, true), "leef1 normalized");
        assert_same_bytes(syslog_bytes(f, SL_PAYLOAD_CEF, true),
                          syslog_bytes(m, SL_PAYLOAD_CEF, true), "cef normalized");
        assert_same_bytes(kafka_bytes(f, true), kafka_bytes(m, true), "kafka normalized");

        for (raw = 0; raw <= 1; raw++) {
            assert_same_bytes(hec_bytes(f, raw), hec_bytes(l, raw), "hec");
            assert_same_bytes(kafka_bytes(f, raw), kafka_bytes(l, raw), "kafka");
        }
        assert_same_bytes(syslog_bytes(f, SL_PAYLOAD_LEEF2, true),
                          syslog_bytes(l, SL_PAYLOAD_LEEF2, true), "leef2");
        assert_same_bytes(syslog_bytes(f, SL_PAYLOAD_LEEF1, true),
                          syslog_bytes(l, SL_PAYLOAD_LEEF1, true), "leef1");
        assert_same_bytes(syslog_bytes(f, SL_PAYLOAD_CEF, true),
                          syslog_bytes(l, SL_PAYLOAD_CEF, true), "cef");
        assert_same_bytes(syslog_bytes(f, SL_PAYLOAD_JSON, false),
                          syslog_bytes(l, SL_PAYLOAD_JSON, false), "json without raw");
    }
    ms_batch_free(&full);
    ms_batch_free(&less);
    ms_batch_free(&norm);
    corpus_free(&c);
}

/* A dead letter holds the whole event whatever the output read of it. */
static void test_deadletter_whole_event(void **state)
{
    struct ms_runtime rt;
    struct ms_instance ins;
    struct ms_batch b;
    char dir[PATH_MAX];
    char path[PATH_MAX + 64];
    char line[65536];
    const char *text = "{\"id\":\"dl\",\"source_type\":\"a:b\",\"raw\":{\"k\":\"v\"}}";
    size_t v;
    FILE *f;

    (void)state;
    unit_tmpdir(dir);
    memset(&rt, 0, sizeof(rt));
    rt.state_dir = dir;
    memset(&ins, 0, sizeof(ins));
    ins.kind = "output";
    ins.plugin_name = "test";
    snprintf(ins.name, sizeof(ins.name), "dl");
    ins.log_level = -1;
    ins.rt = &rt;
    for (v = 0; v < sizeof(views) / sizeof(views[0]); v++) {
        assert_int_equal(ms_batch_init(&b, 1), MS_OK);
        assert_int_equal(ms_batch_add_text(&b, text, strlen(text), views[v]), MS_OK);
        assert_int_equal(ms_deadletter_write(&ins, &b.events[0], "test"), MS_OK);
        ms_batch_free(&b);
    }
    snprintf(path, sizeof(path), "%s/deadletter/dl.jsonl", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    for (v = 0; v < sizeof(views) / sizeof(views[0]); v++) {
        struct json_object *obj;
        struct json_object *ev;

        assert_non_null(fgets(line, sizeof(line), f));
        obj = json_tokener_parse(line);
        assert_true(json_object_object_get_ex(obj, "event", &ev));
        assert_string_equal(json_object_to_json_string_ext(ev, JSONC_FLAGS), text);
        json_object_put(obj);
    }
    fclose(f);
    unit_rmtree(dir);
}

/* The text store is reused from batch to batch; a refused text gives its room back. */
static void test_text_store_reuse(void **state)
{
    static char text[8192];
    struct ms_batch b;
    size_t round;
    size_t i;

    (void)state;
    memset(text, 'a', sizeof(text));
    memcpy(text, "{\"id\":\"", 7);
    memcpy(text + sizeof(text) - 3, "\"}", 2);
    text[sizeof(text) - 1] = '\0';
    assert_int_equal(ms_batch_init(&b, 1000), MS_OK);
    for (round = 0; round < 5; round++) {
        for (i = 0; i < 1000; i++) {
            assert_int_equal(ms_batch_add_text(&b, "{bad", 4, MS_VIEW_TEXT), MS_EINVAL);
            assert_int_equal(ms_batch_add_text(&b, text, sizeof(text) - 1, MS_VIEW_TEXT), MS_OK);
        }
        assert_int_equal(b.n, 1000);
        assert_memory_equal(b.events[999].text, text, sizeof(text));
        /* 1000 texts of 8 KiB fill eight 1 MiB chunks, refused ones taking no room; the same
         * chunks serve every round. */
        assert_int_equal(ms_batch_text_store_size(&b), (size_t)8 << 20);
        ms_batch_reset(&b);
        assert_int_equal(ms_batch_text_store_size(&b), (size_t)8 << 20);
    }
    ms_batch_free(&b);
    assert_int_equal(ms_batch_text_store_size(&b), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_views_match_jsonc),
        cmocka_unit_test(test_outputs_same_bytes),
        cmocka_unit_test(test_deadletter_whole_event),
        cmocka_unit_test(test_text_store_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
