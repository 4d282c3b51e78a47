/*
 * kafka output, configuration: the config map, and the librdkafka configuration built from it
 * at init. Building it validates every kafka.* key with librdkafka itself, without a producer.
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../../src/core/ms_err.h"
#include "../../src/core/ms_log.h"
#include "kafka.h"

static const char *const compressions[] = {"none", "gzip", "snappy", "lz4", "zstd", NULL};

const struct ms_config_map kafka_config_map[] = {
    {.name = "brokers",
     .type = MS_CFG_STR,
     .flags = MS_CFG_REQUIRED,
     .offset = offsetof(struct kafka_ctx, brokers),
     .desc = "bootstrap brokers, host:port, comma-separated (librdkafka bootstrap.servers)"},
    /* Lowercase ${...} placeholders are not environment references (ms_config_expand). */
    {.name = "topic",
     .type = MS_CFG_STR,
     .def = "email-security.${source_type}",
     .offset = offsetof(struct kafka_ctx, topic),
     .desc = "topic template; ${source_type} ${vendor} ${product} are lowercased, ':' becomes "
             "'.', other unsafe characters '_'"},
    {.name = "compression",
     .type = MS_CFG_STR,
     .def = "zstd",
     .choices = compressions,
     .offset = offsetof(struct kafka_ctx, compression),
     .desc = "none | gzip | snappy | lz4 | zstd (librdkafka compression.codec)"},
    {.name = "delivery_timeout",
     .type = MS_CFG_TIME,
     .def = "5m",
     .min = 1000,
     .max = 24LL * 3600 * 1000,
     .offset = offsetof(struct kafka_ctx, delivery_timeout_ms),
     .desc = "how long librdkafka retries one message before the batch fails and is produced "
             "again (message.timeout.ms)"},
    {.name = "queue_max",
     .type = MS_CFG_SIZE,
     .def = "64M",
     .min = 1024LL * 1024,
     .max = 2047LL * 1024 * 1024,
     .offset = offsetof(struct kafka_ctx, queue_max),
     .desc = "memory bound of librdkafka's queue; producing waits when it is full "
             "(queue.buffering.max.kbytes)"},
    {.name = "shutdown_timeout",
     .type = MS_CFG_TIME,
     .def = "10s",
     .min = 100,
     .max = 600LL * 1000,
     .offset = offsetof(struct kafka_ctx, shutdown_timeout_ms),
     .desc = "on stop: how long to wait for the delivery reports of the batch in flight"},
    {.name = "splunk_headers",
     .type = MS_CFG_BOOL,
     .def = "false",
     .offset = offsetof(struct kafka_ctx, splunk_headers),
     .desc = "add splunk.header.sourcetype/source/index/host for Splunk Connect for Kafka"},
    {.name = "splunk_index",
     .type = MS_CFG_STR,
     .offset = offsetof(struct kafka_ctx, splunk_index),
     .desc = "value of the splunk.header.index header (with splunk_headers; empty = none)"},
    {.name = "splunk_host",
     .type = MS_CFG_STR,
     .offset = offsetof(struct kafka_ctx, splunk_host),
     .desc = "value of the splunk.header.host header (with splunk_headers; empty = none)"},
    {.name = "kafka.",
     .type = MS_CFG_PREFIX,
     .offset = offsetof(struct kafka_ctx, kafka),
     .desc = "any librdkafka property, passed as it is (kafka.sasl.password = ${KAFKA_PW}); "
             "they win over the keys above"},
    {0},
};

/*
 * Pass-through keys the output owns: changing them would break delivery guarantees or the
 * broker list. A NULL allowed value means the key is always refused.
 */
static const struct {
    const char *key;
    const char *allowed[3];
    const char *why;
} kafka_owned[] = {
    {"bootstrap.servers", {NULL}, "use the 'brokers' key"},
    {"metadata.broker.list", {NULL}, "use the 'brokers' key"},
    {"enable.idempotence", {"true", NULL}, "the output needs the idempotent producer"},
    {"acks", {"all", "-1", NULL}, "the output needs acks=all"},
    {"request.required.acks", {"all", "-1", NULL}, "the output needs acks=all"},
    {"delivery.report.only.error", {"false", NULL}, "success reports release the spool"},
    {"transactional.id", {NULL}, "transactions are not supported"},
};

bool kafka_key_is_secret(const char *key)
{
    return strstr(key, "password") || strstr(key, "secret") || strstr(key, "token") ||
           strcmp(key, "ssl.key.pem") == 0 || strcmp(key, "ssl_key") == 0 ||
           strcmp(key, "sasl.oauthbearer.config") == 0;
}

/* Returns NULL when key = value may be passed through, else why not (static). */
static const char *kafka_owned_check(const char *key, const char *value)
{
    size_t i;
    size_t j;

    for (i = 0; i < sizeof(kafka_owned) / sizeof(kafka_owned[0]); i++) {
        if (strcmp(kafka_owned[i].key, key) != 0) {
            continue;
        }
        for (j = 0; kafka_owned[i].allowed[j]; j++) {
            if (strcmp(kafka_owned[i].allowed[j], value) == 0) {
                return NULL;
            }
        }
        return kafka_owned[i].why;
    }
    return NULL;
}

/* Sets one property; refusals name the config key (cfg_key) the value came from. */
static int conf_set(struct ms_instance *ins,
                    struct ms_cfg_errors *errs,
                    rd_kafka_conf_t *conf,
                    const char *cfg_key,
                    const char *name,
                    const char *value,
                    bool secret)
{
    char errstr[512];

    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK) {
        return MS_OK;
    }
    if (secret) {
        ms_instance_config_error(ins, errs, cfg_key,
                                 "librdkafka refused the value (not shown: "
                                 "secret)");
    }
    else {
        ms_instance_config_error(ins, errs, cfg_key, "librdkafka refused it: %s", errstr);
    }
    return MS_EINVAL;
}

int kafka_conf_build(struct ms_instance *ins, struct ms_cfg_errors *errs)
{
    struct kafka_ctx *ctx = ins->ctx;
    char num[32];
    char key[256];
    char client_id[MS_INSTANCE_NAME_MAX + 8];
    const char *why;
    size_t i;
    int ret = MS_OK;

    ctx->conf = rd_kafka_conf_new();
    if (!ctx->conf) {
        return MS_ENOMEM;
    }
    /* Secrets first, so that no message below can carry one unmasked. */
    for (i = 0; i < ctx->kafka.n; i++) {
        if (kafka_key_is_secret(ctx->kafka.keys[i]) &&
            ms_log_register_secret(ctx->kafka.values[i]) != MS_OK) {
            return MS_ENOMEM;
        }
    }
    snprintf(client_id, sizeof(client_id), "msfwd-%s", ins->name);
    if (conf_set(ins, errs, ctx->conf, "brokers", "bootstrap.servers", ctx->brokers, false) !=
        MS_OK) {
        ret = MS_EINVAL;
    }
    /* Guarantees: these are also the only values kafka_owned lets through. */
    if (conf_set(ins, errs, ctx->conf, "type", "enable.idempotence", "true", false) != MS_OK ||
        conf_set(ins, errs, ctx->conf, "type", "acks", "all", false) != MS_OK ||
        conf_set(ins, errs, ctx->conf, "type", "delivery.report.only.error", "false", false) !=
            MS_OK ||
        conf_set(ins, errs, ctx->conf, "type", "client.id", client_id, false) != MS_OK ||
        conf_set(ins, errs, ctx->conf, "type", "socket.keepalive.enable", "true", false) != MS_OK) {
        ret = MS_EINVAL;
    }
    if (conf_set(ins, errs, ctx->conf, "compression", "compression.codec", ctx->compression,
                 false) != MS_OK) {
        ret = MS_EINVAL;
    }
    snprintf(num, sizeof(num), "%" PRId64, ctx->delivery_timeout_ms);
    if (conf_set(ins, errs, ctx->conf, "delivery_timeout", "message.timeout.ms", num, false) !=
        MS_OK) {
        ret = MS_EINVAL;
    }
    snprintf(num, sizeof(num), "%" PRId64, ctx->queue_max / 1024);
    if (conf_set(ins, errs, ctx->conf, "queue_max", "queue.buffering.max.kbytes", num, false) !=
        MS_OK) {
        ret = MS_EINVAL;
    }
    for (i = 0; i < ctx->kafka.n; i++) {
        const char *k = ctx->kafka.keys[i];

        snprintf(key, sizeof(key), "kafka.%s", k);
        why = kafka_owned_check(k, ctx->kafka.values[i]);
        if (why) {
            ms_instance_config_error(ins, errs, key, "may not be set (%s)", why);
            ret = MS_EINVAL;
            continue;
        }
        if (conf_set(ins, errs, ctx->conf, key, k, ctx->kafka.values[i], kafka_key_is_secret(k)) !=
            MS_OK) {
            ret = MS_EINVAL;
        }
    }
    return ret;
}
