/*
 * kafka output: topic template, headers, payload and error classes (pure); config validation
 * (init); and flush against librdkafka's in-process mock cluster (kafka.test.mock.num.brokers):
 * delivery, backpressure, dead letters, refusals, broker outage, fatal errors, shutdown.
 */
#include <config.h>

#include "unit.h"

#include <librdkafka/rdkafka.h>
/* rdkafka_mock.h needs rdkafka.h first */
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "core/ms_config.h"
#include "core/ms_err.h"
#include "core/ms_event.h"
#include "core/ms_log.h"
#include "core/ms_plugin.h"

#include "../../outputs/kafka/kafka.h"

extern const struct ms_output_plugin out_kafka_plugin;

#define PRODUCE_API 0

/* ------------------------------------------------------------------------------------------
 * Events
 */

/* Appends an event whose id is n in 64 hex digits; vendor/product NULL = absent. */
static void add_event(struct ms_batch *b,
                      unsigned n,
                      const char *source_type,
                      const char *vendor,
                      const char *product,
                      size_t pad)
{
    struct json_object *o = json_object_new_object();
    struct json_object *raw = json_object_new_object();
    char id[MS_EVENT_ID_LEN + 1];
    char *padding = calloc(1, pad + 1);
    const char *text;
    size_t len;

    assert_non_null(padding);
    memset(padding, 'x', pad);
    snprintf(id, sizeof(id), "%064x", n);
    json_object_object_add(o, "id", json_object_new_string(id));
    json_object_object_add(o, "time", json_object_new_string("2026-11-20T10:15:30.000Z"));
    json_object_object_add(o, "source_type", json_object_new_string(source_type));
    if (vendor) {
        json_object_object_add(o, "vendor", json_object_new_string(vendor));
    }
    if (product) {
        json_object_object_add(o, "product", json_object_new_string(product));
    }
    json_object_object_add(raw, "pad", json_object_new_string(padding));
    json_object_object_add(o, "raw", raw);
    free(padding);
    text = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    assert_int_equal(ms_batch_add_spooled(b, strdup(text), len, o), MS_OK);
}

/* A single stand-alone event (for the pure functions). */
struct one_event {
    struct ms_batch b;
};

static const struct ms_event *
one_event(struct one_event *e, const char *source_type, const char *vendor, const char *product)
{
    assert_int_equal(ms_batch_init(&e->b, 1), MS_OK);
    add_event(&e->b, 7, source_type, vendor, product, 4);
    return &e->b.events[0];
}

/* ------------------------------------------------------------------------------------------
 * Pure part
 */

static void test_topic_default_template(void **state)
{
    struct one_event e;
    char out[KAFKA_TOPIC_MAX + 1];

    (void)state;
    one_event(&e, "mimecast:ttp:url", NULL, NULL);
    assert_int_equal(
        kafka_topic_render("email-security.${source_type}", &e.b.events[0], out, sizeof(out)),
        MS_OK);
    assert_string_equal(out, "email-security.mimecast.ttp.url");
    assert_int_equal(kafka_topic_render("static_Topic-1", &e.b.events[0], out, sizeof(out)), MS_OK);
    assert_string_equal(out, "static_Topic-1");
    ms_batch_free(&e.b);
}

static void test_topic_placeholders_made_safe(void **state)
{
    struct one_event e;
    char out[KAFKA_TOPIC_MAX + 1];

    (void)state;
    one_event(&e, "pps:quarantine", "Proofpoint", "Protection Server/PPS \xc3\xbc");
    assert_int_equal(kafka_topic_render("mail.${vendor}.${product}.${source_type}", &e.b.events[0],
                                        out, sizeof(out)),
                     MS_OK);
    /* lowercase; ' ' and '/' and each byte of the UTF-8 u-umlaut become '_'; ':' becomes '.' */
    assert_string_equal(out, "mail.proofpoint.protection_server_pps___.pps.quarantine");
    ms_batch_free(&e.b);
}

static void test_topic_absent_field_is_unknown(void **state)
{
    struct one_event e;
    char out[KAFKA_TOPIC_MAX + 1];

    (void)state;
    one_event(&e, "mimecast:ttp:url", NULL, "");
    assert_int_equal(
        kafka_topic_render("es.${vendor}.${product}", &e.b.events[0], out, sizeof(out)), MS_OK);
    assert_string_equal(out, "es.unknown.unknown");
    ms_batch_free(&e.b);
}

static void test_topic_too_long(void **state)
{
    struct one_event e;
    char out[KAFKA_TOPIC_MAX + 1];
    char vendor[300];

    (void)state;
    memset(vendor, 'v', sizeof(vendor) - 1);
    vendor[sizeof(vendor) - 1] = '\0';
    one_event(&e, "mimecast:ttp:url", vendor, NULL);
    assert_int_equal(kafka_topic_render("t.${vendor}", &e.b.events[0], out, sizeof(out)),
                     MS_ETOOBIG);
    assert_string_equal(out, "");
    /* Exactly 249 characters is fine. */
    vendor[KAFKA_TOPIC_MAX - 2] = '\0';
    ms_batch_free(&e.b);
    one_event(&e, "mimecast:ttp:url", vendor, NULL);
    assert_int_equal(kafka_topic_render("t.${vendor}", &e.b.events[0], out, sizeof(out)), MS_OK);
    assert_int_equal(strlen(out), KAFKA_TOPIC_MAX);
    ms_batch_free(&e.b);
}

static void test_topic_check(void **state)
{
    char why[256];
    char longer[KAFKA_TOPIC_MAX + 2];

    (void)state;
    assert_int_equal(kafka_topic_check("email-security.${source_type}", why, sizeof(why)), MS_OK);
    assert_int_equal(kafka_topic_check("a.${vendor}_${product}-x", why, sizeof(why)), MS_OK);
    assert_int_equal(kafka_topic_check("", why, sizeof(why)), MS_EINVAL);
    assert_int_equal(kafka_topic_check("mail events", why, sizeof(why)), MS_EINVAL);
    assert_non_null(strstr(why, "character ' '"));
    assert_int_equal(kafka_topic_check("a:b", why, sizeof(why)), MS_EINVAL);
    assert_int_equal(kafka_topic_check("x.${tenant}", why, sizeof(why)), MS_EINVAL);
    assert_non_null(strstr(why, "unknown placeholder ${tenant}"));
    assert_int_equal(kafka_topic_check("x.${source_type", why, sizeof(why)), MS_EINVAL);
    assert_non_null(strstr(why, "unterminated"));
    assert_int_equal(kafka_topic_check("..", why, sizeof(why)), MS_EINVAL);
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    assert_int_equal(kafka_topic_check(longer, why, sizeof(why)), MS_EINVAL);
    longer[KAFKA_TOPIC_MAX] = '\0';
    assert_int_equal(kafka_topic_check(longer, why, sizeof(why)), MS_OK);
}

/* Asserts the last value of header name (NULL = absent). */
static void assert_header(rd_kafka_headers_t *hdrs, const char *name, const char *want)
{
    const void *value = NULL;
    size_t size = 0;
    rd_kafka_resp_err_t err = rd_kafka_header_get_last(hdrs, name, &value, &size);

    if (!want) {
        assert_int_equal(err, RD_KAFKA_RESP_ERR__NOENT);
        return;
    }
    assert_int_equal(err, RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(size, strlen(want));
    assert_memory_equal(value, want, size);
}

static void test_headers(void **state)
{
    struct kafka_hdr_opts plain = {0};
    struct kafka_hdr_opts splunk = {.splunk = true, .splunk_index = "mail", .splunk_host = ""};
    struct one_event e;
    rd_kafka_headers_t *hdrs;

    (void)state;
    one_event(&e, "mimecast:ttp:url", "Mimecast", "Email Security");
    hdrs = kafka_headers_build(&plain, &e.b.events[0]);
    assert_non_null(hdrs);
    assert_int_equal(rd_kafka_header_cnt(hdrs), 3);
    assert_header(hdrs, "source_type", "mimecast:ttp:url");
    assert_header(hdrs, "vendor", "Mimecast");
    assert_header(hdrs, "product", "Email Security");
    assert_header(hdrs, "splunk.header.sourcetype", NULL);
    rd_kafka_headers_destroy(hdrs);

    hdrs = kafka_headers_build(&splunk, &e.b.events[0]);
    assert_non_null(hdrs);
    assert_header(hdrs, "splunk.header.sourcetype", "mimecast:ttp:url");
    assert_header(hdrs, "splunk.header.source", "msfwd");
    assert_header(hdrs, "splunk.header.index", "mail");
    assert_header(hdrs, "splunk.header.host", NULL); /* empty = none */
    rd_kafka_headers_destroy(hdrs);
    ms_batch_free(&e.b);

    /* Today's first-cut mapping has no vendor: no vendor header, source_type still there. */
    one_event(&e, "pps:quarantine", NULL, NULL);
    hdrs = kafka_headers_build(&plain, &e.b.events[0]);
    assert_non_null(hdrs);
    assert_int_equal(rd_kafka_header_cnt(hdrs), 1);
    assert_header(hdrs, "source_type", "pps:quarantine");
    assert_header(hdrs, "vendor", NULL);
    rd_kafka_headers_destroy(hdrs);
    ms_batch_free(&e.b);
}

static void test_payload(void **state)
{
    struct one_event e;
    struct ms_buf scratch;
    struct json_object *o;
    struct json_object *v;
    const char *data;
    size_t len;

    (void)state;
    ms_buf_init(&scratch, MS_CAP_EVENT);
    one_event(&e, "mimecast:ttp:url", "Mimecast", NULL);
    assert_int_equal(kafka_payload(&e.b.events[0], true, &scratch, &data, &len), MS_OK);
    assert_ptr_equal(data, e.b.events[0].text); /* as spooled, no copy */
    assert_int_equal(len, e.b.events[0].text_len);

    assert_int_equal(kafka_payload(&e.b.events[0], false, &scratch, &data, &len), MS_OK);
    assert_int_equal(strlen(data), len);
    o = json_tokener_parse(data);
    assert_non_null(o);
    assert_false(json_object_object_get_ex(o, "raw", &v));
    assert_true(json_object_object_get_ex(o, "id", &v));
    assert_string_equal(json_object_get_string(v), e.b.events[0].id);
    assert_true(json_object_object_get_ex(o, "vendor", &v));
    json_object_put(o);
    ms_batch_free(&e.b);
    ms_buf_free(&scratch);
}

static void test_classify(void **state)
{
    (void)state;
    assert_int_equal(kafka_classify(RD_KAFKA_RESP_ERR_NO_ERROR), KAFKA_C_OK);
    assert_int_equal(kafka_classify(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE), KAFKA_C_DEAD);
    assert_int_equal(kafka_classify(RD_KAFKA_RESP_ERR_INVALID_RECORD), KAFKA_C_DEAD);
    assert_int_equal(kafka_classify(RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION), KAFKA_C_DEAD);
    assert_int_equal(kafka_classify(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART), KAFKA_C_REFUSED);
    assert_int_equal(kafka_classify(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC), KAFKA_C_REFUSED);
    assert_int_equal(kafka_classify(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED), KAFKA_C_AUTH);
    assert_int_equal(kafka_classify(RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED), KAFKA_C_AUTH);
    assert_int_equal(kafka_classify(RD_KAFKA_RESP_ERR__AUTHENTICATION), KAFKA_C_AUTH);
    assert_int_equal(kafka_classify(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT), KAFKA_C_RETRY);
    assert_int_equal(kafka_classify(RD_KAFKA_RESP_ERR__PURGE_QUEUE), KAFKA_C_RETRY);
    assert_int_equal(kafka_classify(RD_KAFKA_RESP_ERR__TRANSPORT), KAFKA_C_RETRY);
    assert_int_equal(kafka_classify(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS), KAFKA_C_RETRY);
    assert_int_equal(kafka_classify(RD_KAFKA_RESP_ERR__FATAL), KAFKA_C_RETRY);
}

/* ------------------------------------------------------------------------------------------
 * Instances built from a config file, as the engine builds them
 */

struct kfx {
    char dir[PATH_MAX];
    char path[PATH_MAX];
    struct ms_config *cfg;
    struct ms_cfg_errors errs;
    volatile sig_atomic_t stop;
    struct ms_runtime rt;
    struct ms_instance ins;
    struct kafka_ctx *ctx;
    bool inited;
    struct ms_batch b;
    char log_path[PATH_MAX + 8];
    FILE *log;
};

static int kfx_setup(void **state)
{
    struct kfx *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    unit_tmpdir(fx->dir);
    fx->rt.state_dir = fx->dir;
    fx->rt.stop = &fx->stop;
    assert_int_equal(ms_batch_init(&fx->b, 1000), MS_OK);
    snprintf(fx->log_path, sizeof(fx->log_path), "%s/log", fx->dir);
    fx->log = fopen(fx->log_path, "w+");
    assert_non_null(fx->log);
    ms_log_set_stream(fx->log);
    *state = fx;
    return 0;
}

static int kfx_teardown(void **state)
{
    struct kfx *fx = *state;

    if (fx->inited) {
        out_kafka_plugin.destroy(&fx->ins);
    }
    if (fx->ctx) {
        ms_config_map_free(kafka_config_map, fx->ctx);
    }
    free(fx->ctx);
    ms_batch_free(&fx->b);
    ms_config_destroy(fx->cfg);
    ms_cfg_errors_free(&fx->errs);
    ms_log_set_stream(NULL);
    fclose(fx->log);
    unit_rmtree(fx->dir);
    ms_log_clear_secrets();
    free(fx);
    return 0;
}

/* Builds [output.k] from body like the engine: config map, then init. Returns the result. */
static int kfx_build(struct kfx *fx, const char *body)
{
    const struct ms_config_map *maps[1] = {kafka_config_map};
    struct ms_config_section *sec;
    void *ctxs[1];
    char text[4096];
    int ret;

    snprintf(text, sizeof(text), "[output.k]\n%s", body);
    unit_write_file(fx->dir, "msfwd.conf", text, fx->path);
    ret = ms_config_load(fx->path, &fx->cfg, &fx->errs);
    if (ret != MS_OK) {
        return ret;
    }
    fx->ins.kind = "output";
    fx->ins.plugin_name = "kafka";
    snprintf(fx->ins.name, sizeof(fx->ins.name), "k");
    fx->ins.log_level = -1;
    fx->ins.include_raw = true;
    fx->ins.rt = &fx->rt;
    fx->ins.cfg = fx->cfg;
    sec = ms_config_find(fx->cfg, "output", "k");
    fx->ins.sec = sec;
    fx->ctx = calloc(1, out_kafka_plugin.ctx_size);
    assert_non_null(fx->ctx);
    fx->ins.ctx = fx->ctx;
    ctxs[0] = fx->ctx;
    ret = ms_config_apply(fx->cfg, sec, maps, ctxs, 1, &fx->errs);
    if (ret != MS_OK) {
        return ret;
    }
    ret = out_kafka_plugin.init(&fx->ins, &fx->errs);
    fx->inited = true;
    return ret;
}

static void kfx_assert_error(const struct kfx *fx, const char *a, const char *b)
{
    size_t i;

    for (i = 0; i < fx->errs.n; i++) {
        if (strstr(fx->errs.msgs[i], a) && (!b || strstr(fx->errs.msgs[i], b))) {
            return;
        }
    }
    for (i = 0; i < fx->errs.n; i++) {
        print_message("# got: %s\n", fx->errs.msgs[i]);
    }
    fail_msg("no refusal contains '%s' '%s'", a, b ? b : "");
}

/* Returns the log written so far (static buffer). */
static const char *kfx_log(struct kfx *fx)
{
    static char text[64 * 1024];
    size_t n;

    fflush(fx->log);
    rewind(fx->log);
    n = fread(text, 1, sizeof(text) - 1, fx->log);
    text[n] = '\0';
    fseek(fx->log, 0, SEEK_END);
    return text;
}

/* Flushes fx->b and asserts the result; on a mismatch the output's log is printed. */
static void kfx_flush_expect(struct kfx *fx, int want)
{
    int got = out_kafka_plugin.flush(&fx->ins, &fx->b);

    if (got != want) {
        fprintf(stderr, "# log:\n%s", kfx_log(fx));
        fail_msg("flush returned %s, want %s", ms_strerror(got), ms_strerror(want));
    }
}

static void assert_conf(const struct kfx *fx, const char *name, const char *want)
{
    char value[512];
    size_t size = sizeof(value);

    assert_int_equal(rd_kafka_conf_get(fx->ctx->conf, name, value, &size), RD_KAFKA_CONF_OK);
    assert_string_equal(value, want);
}

static void test_config_defaults_no_producer(void **state)
{
    struct kfx *fx = *state;

    assert_int_equal(kfx_build(fx, "brokers = 127.0.0.1:1\n"
                                   "kafka.linger.ms = 7\n"),
                     MS_OK);
    assert_int_equal(fx->errs.n, 0);
    assert_null(fx->ctx->rk); /* msfwd check must not connect: no producer before a flush */
    assert_string_equal(fx->ctx->topic, "email-security.${source_type}");
    assert_conf(fx, "bootstrap.servers", "127.0.0.1:1");
    assert_conf(fx, "enable.idempotence", "true");
    assert_conf(fx, "acks", "-1");
    assert_conf(fx, "compression.codec", "zstd");
    assert_conf(fx, "message.timeout.ms", "300000");
    assert_conf(fx, "queue.buffering.max.kbytes", "65536");
    assert_conf(fx, "client.id", "msfwd-k");
    assert_conf(fx, "linger.ms", "7");
}

static void test_config_passthrough_wins(void **state)
{
    struct kfx *fx = *state;

    assert_int_equal(kfx_build(fx, "brokers = b1:9092,b2:9092\n"
                                   "compression = gzip\n"
                                   "kafka.compression.type = lz4\n"
                                   "kafka.acks = all\n"
                                   "kafka.enable.idempotence = true\n"
                                   "topic = mail.$${vendor}\n"),
                     MS_OK);
    assert_conf(fx, "compression.codec", "lz4");
    assert_string_equal(fx->ctx->topic, "mail.${vendor}");
}

static void test_config_refusals(void **state)
{
    struct kfx *fx = *state;
    char where[PATH_MAX + 16];

    assert_int_equal(kfx_build(fx, "brokers = 127.0.0.1:1\n"
                                   "kafka.no.such.property = 1\n"
                                   "kafka.acks = 1\n"
                                   "kafka.enable.idempotence = false\n"
                                   "kafka.bootstrap.servers = x:1\n"
                                   "kafka.linger.ms = soon\n"
                                   "topic = mail events\n"
                                   "kafka.transactional.id = t\n"),
                     MS_EINVAL);
    snprintf(where, sizeof(where), "%s:3:", fx->path);
    kfx_assert_error(fx, where, "[output.k] kafka.no.such.property: librdkafka refused it");
    kfx_assert_error(fx, "kafka.acks: may not be set", "acks=all");
    kfx_assert_error(fx, "kafka.enable.idempotence: may not be set", "idempotent");
    kfx_assert_error(fx, "kafka.bootstrap.servers: may not be set", "brokers");
    kfx_assert_error(fx, "kafka.linger.ms: librdkafka refused it", NULL);
    kfx_assert_error(fx, "topic: character ' '", NULL);
    kfx_assert_error(fx, "kafka.transactional.id: may not be set", NULL);
    assert_int_equal(fx->errs.n, 7);
}

static void test_config_bad_compression(void **state)
{
    struct kfx *fx = *state;

    assert_int_equal(kfx_build(fx, "brokers = a:1\ncompression = brotli\n"), MS_EINVAL);
    kfx_assert_error(fx, "compression: 'brotli' is not one of", NULL);
}

static void test_config_secrets_stay_secret(void **state)
{
    struct kfx *fx = *state;
    char line[128] = "login with hunter2-secret-pw failed";
    char *dump = NULL;
    size_t dump_len = 0;
    FILE *out;

    assert_int_equal(kfx_build(fx, "brokers = a:1\n"
                                   "kafka.security.protocol = sasl_ssl\n"
                                   "kafka.sasl.mechanisms = SCRAM-SHA-512\n"
                                   "kafka.sasl.username = msfwd\n"
                                   "kafka.sasl.password = hunter2-secret-pw\n"),
                     MS_OK);
    assert_true(ms_log_scrub(line) > 0);
    assert_null(strstr(line, "hunter2"));
    out = open_memstream(&dump, &dump_len);
    assert_non_null(out);
    ms_config_map_dump(kafka_config_map, fx->ctx, out);
    fclose(out);
    assert_null(strstr(dump, "hunter2"));
    assert_non_null(strstr(dump, "kafka.sasl.password = <redacted>"));
    assert_non_null(strstr(dump, "kafka.sasl.username = msfwd"));
    free(dump);
    assert_true(kafka_key_is_secret("sasl.password"));
    assert_true(kafka_key_is_secret("ssl.key.password"));
    assert_true(kafka_key_is_secret("sasl.oauthbearer.client.secret"));
    assert_false(kafka_key_is_secret("ssl.ca.location"));
}

/* ------------------------------------------------------------------------------------------
 * flush against the mock cluster
 */

#define MOCK_CONF "brokers = 127.0.0.1:1\nkafka.test.mock.num.brokers = 3\n"

static rd_kafka_mock_cluster_t *kfx_mock(const struct kfx *fx)
{
    rd_kafka_mock_cluster_t *mc;

    assert_non_null(fx->ctx->rk);
    mc = rd_kafka_handle_mock_cluster(fx->ctx->rk);
    assert_non_null(mc);
    return mc;
}

static void kfx_fill(struct kfx *fx, unsigned first, unsigned n, size_t pad)
{
    unsigned i;

    ms_batch_reset(&fx->b);
    for (i = first; i < first + n; i++) {
        add_event(&fx->b, i, "mimecast:ttp:url", "Mimecast", NULL, pad);
    }
}

/*
 * Reads topic from the beginning (all partitions) until want messages or 10 s; checks key,
 * headers and payload of each. Returns how many distinct keys arrived.
 */
static size_t consume(struct kfx *fx, const char *topic, size_t want)
{
    const char *boot = rd_kafka_mock_cluster_bootstraps(kfx_mock(fx));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_partition_list_t *parts;
    rd_kafka_topic_t *rkt;
    rd_kafka_t *rk;
    char errstr[256];
    char seen[1000] = {0};
    size_t got = 0;
    time_t until = time(NULL) + 10;
    int p;

    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", boot, errstr, sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "group.id", "unit", errstr, sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", errstr, sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    assert_non_null(rk);
    rkt = rd_kafka_topic_new(rk, topic, NULL);
    assert_int_equal(rd_kafka_metadata(rk, 0, rkt, &md, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(md->topic_cnt, 1);
    parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (p = 0; p < md->topics[0].partition_cnt; p++) {
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    assert_int_equal(rd_kafka_assign(rk, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);
    while (got < want && time(NULL) < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        rd_kafka_headers_t *hdrs = NULL;
        char tail[9] = {0};
        char *end = NULL;
        unsigned n;

        if (!m) {
            continue;
        }
        if (!m->err) {
            assert_int_equal(m->key_len, 64);
            memcpy(tail, (const char *)m->key + 56, 8);
            n = (unsigned)strtoul(tail, &end, 16);
            assert_true(end == tail + 8);
            assert_true(n < sizeof(seen));
            assert_non_null(memmem(m->payload, m->len, m->key, m->key_len)); /* key = id */
            assert_int_equal(rd_kafka_message_headers(m, &hdrs), RD_KAFKA_RESP_ERR_NO_ERROR);
            assert_header(hdrs, "source_type", "mimecast:ttp:url");
            assert_header(hdrs, "vendor", "Mimecast");
            if (!seen[n]) {
                seen[n] = 1;
                got++;
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return got;
}

static void test_flush_delivers_every_event(void **state)
{
    struct kfx *fx = *state;

    assert_int_equal(kfx_build(fx, MOCK_CONF), MS_OK);
    kfx_fill(fx, 0, 120, 100);
    kfx_flush_expect(fx, MS_OK);
    assert_int_equal(fx->ctx->stats.delivered, 120);
    assert_int_equal(fx->ctx->pending, 0);
    assert_int_equal(consume(fx, "email-security.mimecast.ttp.url", 120), 120);
}

static void test_flush_queue_full_is_backpressure(void **state)
{
    struct kfx *fx = *state;

    /* 5 messages fit in librdkafka's queue; a batch of 300 must wait, never drop. */
    assert_int_equal(kfx_build(fx, MOCK_CONF "kafka.queue.buffering.max.messages = 5\n"), MS_OK);
    kfx_fill(fx, 0, 300, 10);
    kfx_flush_expect(fx, MS_OK);
    assert_int_equal(fx->ctx->stats.delivered, 300);
    assert_int_equal(consume(fx, "email-security.mimecast.ttp.url", 300), 300);
}

static void test_flush_transient_errors_recover(void **state)
{
    struct kfx *fx = *state;

    assert_int_equal(kfx_build(fx, MOCK_CONF), MS_OK);
    kfx_fill(fx, 0, 10, 10);
    kfx_flush_expect(fx, MS_OK);
    rd_kafka_mock_push_request_errors(
        kfx_mock(fx), PRODUCE_API, 3, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
    kfx_fill(fx, 10, 50, 10);
    kfx_flush_expect(fx, MS_OK);
    assert_int_equal(fx->ctx->stats.delivered, 60);
    assert_int_equal(consume(fx, "email-security.mimecast.ttp.url", 60), 60);
}

static void test_flush_too_large_is_dead_lettered(void **state)
{
    struct kfx *fx = *state;
    char path[PATH_MAX + 32];
    char line[16384];
    FILE *f;
    int lines = 0;

    assert_int_equal(kfx_build(fx, MOCK_CONF "kafka.message.max.bytes = 2000\n"), MS_OK);
    ms_batch_reset(&fx->b);
    add_event(&fx->b, 1, "mimecast:ttp:url", "Mimecast", NULL, 10);
    add_event(&fx->b, 2, "mimecast:ttp:url", "Mimecast", NULL, 5000);
    add_event(&fx->b, 3, "mimecast:ttp:url", "Mimecast", NULL, 10);
    kfx_flush_expect(fx, MS_OK);
    assert_int_equal(fx->ctx->stats.delivered, 2);
    assert_int_equal(fx->ctx->stats.deadlettered, 1);
    snprintf(path, sizeof(path), "%s/deadletter/k.jsonl", fx->dir);
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f)) {
        lines++;
        assert_non_null(strstr(line, fx->b.events[1].id));
        assert_non_null(strstr(line, "MSG_SIZE_TOO_LARGE"));
    }
    fclose(f);
    assert_int_equal(lines, 1);
}

static void test_flush_authorization_failure(void **state)
{
    struct kfx *fx = *state;

    assert_int_equal(kfx_build(fx, MOCK_CONF), MS_OK);
    kfx_fill(fx, 0, 5, 10);
    kfx_flush_expect(fx, MS_OK);
    rd_kafka_mock_push_request_errors(
        kfx_mock(fx), PRODUCE_API, 20, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    kfx_fill(fx, 5, 5, 10);
    kfx_flush_expect(fx, MS_EAUTH);
    assert_non_null(strstr(kfx_log(fx), "TOPIC_AUTHORIZATION_FAILED, topic "
                                        "email-security.mimecast.ttp.url"));
    /* The operator fixes the ACL: the same batch goes through, on a fresh producer (the old
     * one would keep the topic's error cached until its next metadata refresh). */
    rd_kafka_mock_clear_request_errors(kfx_mock(fx), PRODUCE_API);
    kfx_flush_expect(fx, MS_OK);
    assert_int_equal(fx->ctx->stats.delivered, 10);
    assert_int_equal(fx->ctx->stats.producers, 2);
}

static void test_flush_unknown_topic_is_refused(void **state)
{
    struct kfx *fx = *state;

    assert_int_equal(kfx_build(fx, MOCK_CONF "topic = t.$${vendor}\n"
                                             "kafka.topic.metadata.propagation.max.ms = 10\n"),
                     MS_OK);
    ms_batch_reset(&fx->b);
    add_event(&fx->b, 1, "mimecast:ttp:url", "a", NULL, 10);
    kfx_flush_expect(fx, MS_OK);
    rd_kafka_mock_topic_set_error(kfx_mock(fx), "t.b", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    ms_batch_reset(&fx->b);
    add_event(&fx->b, 2, "mimecast:ttp:url", "B", NULL, 10);
    kfx_flush_expect(fx, MS_EPERM);
    assert_non_null(strstr(kfx_log(fx), "on topic t.b"));
}

static void test_flush_broker_outage_then_recovery(void **state)
{
    struct kfx *fx = *state;

    assert_int_equal(kfx_build(fx, MOCK_CONF "delivery_timeout = 2s\n"
                                             "kafka.reconnect.backoff.max.ms = 200\n"),
                     MS_OK);
    kfx_fill(fx, 0, 5, 10);
    kfx_flush_expect(fx, MS_OK);
    assert_int_equal(rd_kafka_mock_broker_set_down(kfx_mock(fx), -1), RD_KAFKA_RESP_ERR_NO_ERROR);
    kfx_fill(fx, 5, 20, 10);
    kfx_flush_expect(fx, MS_ERETRY);
    assert_non_null(strstr(kfx_log(fx), "_MSG_TIMED_OUT"));
    assert_int_equal(rd_kafka_mock_broker_set_up(kfx_mock(fx), -1), RD_KAFKA_RESP_ERR_NO_ERROR);
    kfx_flush_expect(fx, MS_OK);
    assert_int_equal(fx->ctx->stats.delivered, 25);
    assert_int_equal(consume(fx, "email-security.mimecast.ttp.url", 25), 25);
}

static void test_flush_fatal_error_recreates_producer(void **state)
{
    struct kfx *fx = *state;

    assert_int_equal(kfx_build(fx, MOCK_CONF), MS_OK);
    kfx_fill(fx, 0, 5, 10);
    kfx_flush_expect(fx, MS_OK);
    assert_int_equal(rd_kafka_test_fatal_error(
                         fx->ctx->rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "unit test"),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    kfx_fill(fx, 5, 5, 10);
    kfx_flush_expect(fx, MS_OK);
    assert_int_equal(fx->ctx->stats.producers, 2);
    assert_int_equal(fx->ctx->stats.delivered, 10);
    assert_non_null(strstr(kfx_log(fx), "fatal producer error OUT_OF_ORDER_SEQUENCE_NUMBER"));
}

static void *stop_later(void *arg)
{
    struct kfx *fx = arg;
    struct timespec ts = {0, 300000000L};

    nanosleep(&ts, NULL);
    fx->stop = 1;
    return NULL;
}

static void test_stop_then_destroy_counts_the_batch(void **state)
{
    struct kfx *fx = *state;
    pthread_t t;

    assert_int_equal(kfx_build(fx, MOCK_CONF "shutdown_timeout = 200ms\n"), MS_OK);
    kfx_fill(fx, 0, 5, 10);
    kfx_flush_expect(fx, MS_OK);
    assert_int_equal(rd_kafka_mock_broker_set_down(kfx_mock(fx), -1), RD_KAFKA_RESP_ERR_NO_ERROR);
    kfx_fill(fx, 5, 20, 10);
    assert_int_equal(pthread_create(&t, NULL, stop_later, fx), 0);
    kfx_flush_expect(fx, MS_ERETRY);
    pthread_join(t, NULL);
    assert_int_equal(fx->ctx->pending, 20);
    out_kafka_plugin.destroy(&fx->ins);
    fx->inited = false;
    assert_non_null(strstr(kfx_log(fx), "closing with a batch of 20 events not fully "
                                        "acknowledged: 0 delivered, 20 failed"));
    assert_non_null(strstr(kfx_log(fx), "5 events delivered"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_default_template),
        cmocka_unit_test(test_topic_placeholders_made_safe),
        cmocka_unit_test(test_topic_absent_field_is_unknown),
        cmocka_unit_test(test_topic_too_long),
        cmocka_unit_test(test_topic_check),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_payload),
        cmocka_unit_test(test_classify),
        cmocka_unit_test_setup_teardown(test_config_defaults_no_producer, kfx_setup, kfx_teardown),
        cmocka_unit_test_setup_teardown(test_config_passthrough_wins, kfx_setup, kfx_teardown),
        cmocka_unit_test_setup_teardown(test_config_refusals, kfx_setup, kfx_teardown),
        cmocka_unit_test_setup_teardown(test_config_bad_compression, kfx_setup, kfx_teardown),
        cmocka_unit_test_setup_teardown(test_config_secrets_stay_secret, kfx_setup, kfx_teardown),
        cmocka_unit_test_setup_teardown(test_flush_delivers_every_event, kfx_setup, kfx_teardown),
        cmocka_unit_test_setup_teardown(test_flush_queue_full_is_backpressure, kfx_setup,
                                        kfx_teardown),
        cmocka_unit_test_setup_teardown(test_flush_transient_errors_recover, kfx_setup,
                                        kfx_teardown),
        cmocka_unit_test_setup_teardown(test_flush_too_large_is_dead_lettered, kfx_setup,
                                        kfx_teardown),
        cmocka_unit_test_setup_teardown(test_flush_authorization_failure, kfx_setup, kfx_teardown),
        cmocka_unit_test_setup_teardown(test_flush_unknown_topic_is_refused, kfx_setup,
                                        kfx_teardown),
        cmocka_unit_test_setup_teardown(test_flush_broker_outage_then_recovery, kfx_setup,
                                        kfx_teardown),
        cmocka_unit_test_setup_teardown(test_flush_fatal_error_recreates_producer, kfx_setup,
                                        kfx_teardown),
        cmocka_unit_test_setup_teardown(test_stop_then_destroy_counts_the_batch, kfx_setup,
                                        kfx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
