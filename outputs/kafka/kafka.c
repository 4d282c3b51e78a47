/*
 * kafka output: one idempotent librdkafka producer (acks=all) per instance. A batch counts as
 * delivered only when every message of it has a successful delivery report; anything else makes
 * the whole batch come again (at-least-once, duplicates bounded by one batch).
 *
 * Concurrency: init and destroy run on the main thread, flush on the output's thread; they never
 * overlap. Delivery reports and error events are served by rd_kafka_poll/flush, i.e. on the
 * thread that calls flush. Only the log callback runs on librdkafka's own threads (ms_log is
 * thread-safe and it touches nothing else).
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../src/core/ms_deadletter.h"
#include "../../src/core/ms_err.h"
#include "../../src/core/ms_log.h"
#include "kafka.h"

#define KAFKA_POLL_MS       100
#define KAFKA_WARN_EVERY_MS 30000

static int64_t kafka_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool kafka_stopping(const struct ms_instance *ins)
{
    return ins->rt && ins->rt->stop && *ins->rt->stop;
}

/* ------------------------------------------------------------------------------------------
 * librdkafka callbacks
 */

/* @thread any librdkafka thread */
static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const struct ms_instance *ins = rd_kafka_opaque(rk);
    enum ms_log_level lvl;

    /* syslog levels; librdkafka's errors are degraded service for us, not data loss. FAIL
     * lines (a broker connection failed) come again through error_cb, rate-limited there. */
    if (strcmp(fac, "FAIL") == 0) {
        lvl = MS_LOG_DEBUG;
    }
    else if (level <= 4) {
        lvl = MS_LOG_WARN;
    }
    else if (level <= 6) {
        lvl = MS_LOG_INFO;
    }
    else {
        lvl = MS_LOG_DEBUG;
    }
    MS_LOG_AT(ins, lvl, "librdkafka %s: %s", fac, buf);
}

/* @thread output thread (rd_kafka_poll/flush) */
static void kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct ms_instance *ins = opaque;
    struct kafka_ctx *ctx = ins->ctx;
    struct kafka_msg *slot = m->_private;
    enum kafka_class c = kafka_classify(m->err);
    struct kafka_first_err *first = &ctx->first[c];

    (void)rk;
    if (!slot || slot->state != KAFKA_MSG_PENDING) {
        ms_log_warn(ins, "delivery report for an unknown message (%s); ignored",
                    rd_kafka_err2name(m->err));
        return;
    }
    slot->state = KAFKA_MSG_DONE;
    slot->err = m->err;
    slot->status = rd_kafka_message_status(m);
    ctx->pending--;
    if (m->err && !first->set) {
        first->set = true;
        first->err = m->err;
        snprintf(first->topic, sizeof(first->topic), "%s",
                 m->rkt ? rd_kafka_topic_name(m->rkt) : "?");
    }
}

/* @thread output thread (rd_kafka_poll/flush) */
static void kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct ms_instance *ins = opaque;
    struct kafka_ctx *ctx = ins->ctx;
    char fatal[512];
    int64_t now = kafka_now_ms();

    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        ctx->fatal_err = rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
        ctx->fatal = true;
        ms_log_error(ins,
                     "fatal producer error %s: %s; the producer is recreated and the batch "
                     "produced again",
                     rd_kafka_err2name(ctx->fatal_err), fatal);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION) {
        ctx->auth_failed = true;
    }
    /* Connection trouble is also in librdkafka's own log lines: rate-limit, don't repeat. */
    if (err != ctx->last_warn_err || now - ctx->last_warn_ms >= KAFKA_WARN_EVERY_MS) {
        ctx->last_warn_err = err;
        ctx->last_warn_ms = now;
        ms_log_warn(ins, "kafka client error %s: %s", rd_kafka_err2name(err), reason);
    }
    else {
        ms_log_debug(ins, "kafka client error %s: %s", rd_kafka_err2name(err), reason);
    }
}

/* ------------------------------------------------------------------------------------------
 * Producer lifecycle
 */

/* Every report was served but some slots still wait: count them as failed, never as sent. */
static void kafka_forget_pending(struct ms_instance *ins)
{
    struct kafka_ctx *ctx = ins->ctx;
    size_t i;

    ms_log_error(ins,
                 "%zu delivery reports missing with librdkafka's queue empty; the batch is "
                 "produced again",
                 ctx->pending);
    for (i = 0; i < ctx->n_msgs; i++) {
        if (ctx->msgs[i].state == KAFKA_MSG_PENDING) {
            ctx->msgs[i].state = KAFKA_MSG_DONE;
            ctx->msgs[i].err = RD_KAFKA_RESP_ERR__FAIL;
            ctx->msgs[i].status = RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED;
        }
    }
    ctx->pending = 0;
}

/* Waits for outstanding delivery reports; on stop, at most shutdown_timeout. */
static void kafka_wait(struct ms_instance *ins)
{
    struct kafka_ctx *ctx = ins->ctx;
    bool purged = false;

    while (ctx->pending > 0) {
        if (kafka_stopping(ins)) {
            if (!ctx->stop_deadline_ms) {
                ctx->stop_deadline_ms = kafka_now_ms() + ctx->shutdown_timeout_ms;
            }
            if (kafka_now_ms() >= ctx->stop_deadline_ms) {
                return;
            }
        }
        if (ctx->auth_failed && !purged) {
            /* Nothing queued can be sent before an operator fixes the credentials: fail the
             * queued (never sent) messages now instead of after delivery_timeout. */
            rd_kafka_purge(ctx->rk, RD_KAFKA_PURGE_F_QUEUE);
            purged = true;
        }
        /* flush, not poll: it sends at once, ignoring linger.ms, and serves the reports. */
        rd_kafka_flush(ctx->rk, KAFKA_POLL_MS);
        if (ctx->pending > 0 && rd_kafka_outq_len(ctx->rk) == 0) {
            kafka_forget_pending(ins); /* cannot happen: librdkafka reports every message */
        }
    }
}

/*
 * Destroys the producer after waiting up to wait_ms for outstanding reports. Counts what the
 * batch in flight became from the reports themselves (a successful rd_kafka_flush says only
 * that the queue is empty, not that anything was delivered) and logs it.
 */
static void kafka_producer_close(struct ms_instance *ins, int64_t wait_ms)
{
    struct kafka_ctx *ctx = ins->ctx;
    size_t delivered = 0;
    size_t failed = 0;
    size_t unknown = 0;
    size_t unsent = 0;
    size_t i;
    int outq;

    if (!ctx->rk) {
        return;
    }
    if (ctx->pending > 0) {
        rd_kafka_flush(ctx->rk, (int)wait_ms);
        if (ctx->pending > 0) {
            /* Out of time: fail the rest so their reports come now (outcome of in-flight
             * messages becomes unknown; the spool sends them again anyway). */
            rd_kafka_purge(ctx->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            rd_kafka_flush(ctx->rk, KAFKA_POLL_MS);
        }
        for (i = 0; i < ctx->n_msgs; i++) {
            const struct kafka_msg *slot = &ctx->msgs[i];

            if (slot->state == KAFKA_MSG_PENDING) {
                unknown++;
            }
            else if (slot->state == KAFKA_MSG_UNSENT) {
                unsent++;
            }
            else if (slot->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                delivered++;
            }
            else {
                failed++;
            }
        }
        ms_log_warn(ins,
                    "closing with a batch of %zu events not fully acknowledged: %zu delivered, "
                    "%zu failed, %zu without a report, %zu never produced; the whole batch "
                    "stays in the spool and is produced again (the %zu delivered as duplicates)",
                    ctx->n_msgs, delivered, failed, unknown, unsent, delivered);
    }
    outq = rd_kafka_outq_len(ctx->rk);
    if (outq > 0) {
        ms_log_warn(ins, "%d messages or events were still queued in librdkafka at close", outq);
    }
    rd_kafka_destroy(ctx->rk);
    ctx->rk = NULL;
    ctx->pending = 0;
    ctx->n_msgs = 0;
    ctx->fatal = false;
}

/* Creates the producer from a copy of the validated conf. */
static int kafka_producer_create(struct ms_instance *ins)
{
    struct kafka_ctx *ctx = ins->ctx;
    rd_kafka_conf_t *conf;
    char errstr[512];

    conf = rd_kafka_conf_dup(ctx->conf);
    if (!conf) {
        ms_log_error(ins, "out of memory for the producer configuration");
        return MS_ERETRY;
    }
    rd_kafka_conf_set_opaque(conf, ins);
    rd_kafka_conf_set_dr_msg_cb(conf, kafka_dr_cb);
    rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    ctx->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!ctx->rk) {
        /* rd_kafka_new frees conf only on success. Its cross-checks (e.g. a kafka.* value
         * that contradicts idempotence) are a configuration problem: keep the data. */
        rd_kafka_conf_destroy(conf);
        ms_log_error(ins,
                     "cannot create the Kafka producer: %s; fix the kafka.* keys (events "
                     "stay in the spool)",
                     errstr);
        return MS_EPERM;
    }
    ctx->stats.producers++;
    ctx->fatal = false;
    ctx->recreate = false;
    ms_log_info(ins, "producer %s created for %s", rd_kafka_name(ctx->rk), ctx->brokers);
    return MS_OK;
}

/* Makes sure a usable producer exists and no message of an older batch is still out. */
static int kafka_producer_ready(struct ms_instance *ins)
{
    struct kafka_ctx *ctx = ins->ctx;

    if (ctx->rk && ctx->pending > 0) {
        kafka_wait(ins);
        if (ctx->pending > 0) {
            return MS_ERETRY;
        }
    }
    if (ctx->rk) {
        rd_kafka_poll(ctx->rk, 0); /* serve stale events (a fatal error among them) first */
    }
    if (ctx->rk && (ctx->fatal || ctx->recreate)) {
        /* A fatal error leaves the producer unusable. After a refusal, librdkafka keeps the
         * topic's error (and the connection's failed authentication) cached until its next
         * metadata refresh, minutes away: a new producer sees the operator's fix at once. */
        kafka_producer_close(ins, ctx->shutdown_timeout_ms);
    }
    if (!ctx->rk) {
        return kafka_producer_create(ins);
    }
    return MS_OK;
}

/* ------------------------------------------------------------------------------------------
 * Plugin
 */

static int kafka_init(struct ms_instance *ins, struct ms_cfg_errors *errs)
{
    struct kafka_ctx *ctx = ins->ctx;
    char why[256];
    int ret;

    ctx->ins = ins;
    /* The payload is ev->text, or the event minus "raw"; topic and headers read normalized keys. */
    ins->event_view = ins->include_raw ? MS_VIEW_NORMALIZED : MS_VIEW_NO_RAW;
    ms_buf_init(&ctx->scratch, MS_CAP_EVENT);
    ctx->hdr.splunk = ctx->splunk_headers;
    ctx->hdr.splunk_index = ctx->splunk_index;
    ctx->hdr.splunk_host = ctx->splunk_host;
    ret = kafka_conf_build(ins, errs);
    if (kafka_topic_check(ctx->topic, why, sizeof(why)) != MS_OK) {
        ms_instance_config_error(ins, errs, "topic", "%s", why);
        ret = ret == MS_OK ? MS_EINVAL : ret;
    }
    /* No producer here: msfwd check calls init and must not touch the network. The producer
     * is created by the first flush. */
    return ret;
}

static int kafka_grow(struct kafka_ctx *ctx, size_t n)
{
    struct kafka_msg *msgs;

    if (n <= ctx->msgs_cap) {
        return MS_OK;
    }
    msgs = realloc(ctx->msgs, n * sizeof(*msgs));
    if (!msgs) {
        return MS_ENOMEM;
    }
    ctx->msgs = msgs;
    ctx->msgs_cap = n;
    return MS_OK;
}

/* Marks a message refused before it reached librdkafka. */
static void kafka_refuse_local(struct kafka_ctx *ctx,
                               struct kafka_msg *slot,
                               rd_kafka_resp_err_t err,
                               const char *reason)
{
    struct kafka_first_err *first = &ctx->first[kafka_classify(err)];

    slot->state = KAFKA_MSG_DONE;
    slot->err = err;
    slot->status = RD_KAFKA_MSG_STATUS_NOT_PERSISTED;
    slot->local_reason = reason;
    if (!first->set) {
        first->set = true;
        first->err = err;
        snprintf(first->topic, sizeof(first->topic), "%s", ctx->topic_buf);
    }
}

/*
 * Hands one event to librdkafka. QUEUE_FULL is backpressure: serve delivery reports and try
 * the same message again, never drop it. Returns MS_OK (produced, or refused for good and
 * marked in slot) or MS_ERETRY (stopped or fatal: slot stays unsent).
 */
static int kafka_produce(struct ms_instance *ins, const struct ms_event *ev, struct kafka_msg *slot)
{
    struct kafka_ctx *ctx = ins->ctx;
    rd_kafka_headers_t *hdrs;
    rd_kafka_resp_err_t err;
    const char *payload;
    size_t len;
    size_t key_len = strlen(ev->id);
    int ret;

    ret = kafka_topic_render(ctx->topic, ev, ctx->topic_buf, sizeof(ctx->topic_buf));
    if (ret != MS_OK) {
        kafka_refuse_local(ctx, slot, RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION,
                           ret == MS_ETOOBIG ? "rendered topic name is longer than 249 characters"
                                             : "rendered topic name is invalid");
        return MS_OK;
    }
    ret = kafka_payload(ev, ins->include_raw, &ctx->scratch, &payload, &len);
    if (ret == MS_ETOOBIG) {
        kafka_refuse_local(ctx, slot, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
                           "event is larger than the serialization cap");
        return MS_OK;
    }
    hdrs = ret == MS_OK ? kafka_headers_build(&ctx->hdr, ev) : NULL;
    if (!hdrs) {
        ms_log_error(ins, "out of memory building message %s", ev->id);
        return MS_ERETRY;
    }
    for (;;) {
        err = rd_kafka_producev(ctx->rk, RD_KAFKA_V_TOPIC(ctx->topic_buf),
                                RD_KAFKA_V_KEY(key_len ? ev->id : NULL, key_len),
                                RD_KAFKA_V_VALUE((void *)payload, len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
                                RD_KAFKA_V_OPAQUE(slot), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            slot->state = KAFKA_MSG_PENDING;
            ctx->pending++;
            return MS_OK; /* the message owns hdrs now */
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            break;
        }
        if (kafka_stopping(ins)) {
            rd_kafka_headers_destroy(hdrs);
            return MS_ERETRY;
        }
        rd_kafka_poll(ctx->rk, KAFKA_POLL_MS);
    }
    rd_kafka_headers_destroy(hdrs); /* producev failed: still ours */
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_poll(ctx->rk, 0); /* serves error_cb, which records and logs the cause */
        ctx->fatal = true;
        return MS_ERETRY;
    }
    kafka_refuse_local(ctx, slot, err, NULL);
    return MS_OK;
}

/* Writes the dead letter of one refused event. */
static int
kafka_deadletter(struct ms_instance *ins, const struct ms_event *ev, const struct kafka_msg *slot)
{
    char reason[512];

    snprintf(reason, sizeof(reason), "kafka %s: %s", rd_kafka_err2name(slot->err),
             slot->local_reason ? slot->local_reason : rd_kafka_err2str(slot->err));
    return ms_deadletter_write(ins, ev, reason);
}

/*
 * Every message is acknowledged or can never be written: dead-letter the latter. Only now, so
 * that a batch produced again never writes the same dead letter twice.
 */
static int
kafka_settle(struct ms_instance *ins, const struct ms_batch *b, size_t delivered, size_t dead)
{
    struct kafka_ctx *ctx = ins->ctx;
    size_t i;

    for (i = 0; i < b->n && dead > 0; i++) {
        if (kafka_classify(ctx->msgs[i].err) == KAFKA_C_DEAD &&
            kafka_deadletter(ins, &b->events[i], &ctx->msgs[i]) != MS_OK) {
            return MS_ERETRY; /* kept nowhere yet: keep the batch (logged there) */
        }
    }
    ctx->stats.delivered += delivered;
    ctx->stats.deadlettered += dead;
    ms_log_debug(ins, "batch of %zu events delivered (%zu dead-lettered)", b->n, dead);
    return MS_OK;
}

static int kafka_verdict(struct ms_instance *ins, const struct ms_batch *b)
{
    struct kafka_ctx *ctx = ins->ctx;
    size_t count[KAFKA_C_MAX] = {0};
    size_t unsent = 0;
    size_t unknown = 0;
    size_t possibly = 0;
    const struct kafka_first_err *f;
    enum kafka_class fatal_class = ctx->fatal ? kafka_classify(ctx->fatal_err) : KAFKA_C_OK;
    size_t i;

    for (i = 0; i < b->n; i++) {
        const struct kafka_msg *slot = &ctx->msgs[i];

        if (slot->state == KAFKA_MSG_UNSENT) {
            unsent++;
        }
        else if (slot->state == KAFKA_MSG_PENDING) {
            unknown++;
        }
        else {
            count[kafka_classify(slot->err)]++;
            possibly += slot->err && slot->status != RD_KAFKA_MSG_STATUS_NOT_PERSISTED;
        }
    }
    if (count[KAFKA_C_OK] + count[KAFKA_C_DEAD] == b->n) {
        return kafka_settle(ins, b, count[KAFKA_C_OK], count[KAFKA_C_DEAD]);
    }
    if (count[KAFKA_C_AUTH] || fatal_class == KAFKA_C_AUTH || ctx->auth_failed) {
        f = &ctx->first[KAFKA_C_AUTH];
        ms_log_error(ins,
                     "Kafka refuses this client (%s%s%s): authentication or authorization "
                     "failed; check the kafka.sasl.* / kafka.ssl.* keys and the ACLs (Write on "
                     "the topic, IdempotentWrite on the cluster); %zu events stay in the spool",
                     f->set ? rd_kafka_err2name(f->err) : "authentication",
                     f->set ? ", topic " : "", f->set ? f->topic : "", b->n);
        ctx->recreate = true;
        return MS_EAUTH;
    }
    if (count[KAFKA_C_REFUSED] || fatal_class == KAFKA_C_REFUSED) {
        f = &ctx->first[KAFKA_C_REFUSED];
        if (f->set) {
            ms_log_error(ins,
                         "Kafka refuses %zu of %zu events: %s on topic %s (%s); create the topic "
                         "or fix the configuration; the events stay in the spool",
                         count[KAFKA_C_REFUSED], b->n, rd_kafka_err2name(f->err), f->topic,
                         rd_kafka_err2str(f->err));
        }
        else {
            ms_log_error(ins,
                         "the cluster refuses this producer (%s: %s); fix the configuration; "
                         "%zu events stay in the spool",
                         rd_kafka_err2name(ctx->fatal_err), rd_kafka_err2str(ctx->fatal_err), b->n);
        }
        ctx->recreate = true;
        return MS_EPERM;
    }
    f = &ctx->first[KAFKA_C_RETRY];
    ctx->stats.failed_batches++;
    ms_log_warn(ins,
                "%zu of %zu events not acknowledged (first: %s%s%s; %zu possibly persisted, "
                "%zu not produced, %zu without report); the whole batch is produced again",
                count[KAFKA_C_RETRY] + unsent + unknown, b->n,
                f->set ? rd_kafka_err2name(f->err) : "stopped", f->set ? " on topic " : "",
                f->set ? f->topic : "", possibly, unsent, unknown);
    return MS_ERETRY;
}
static int kafka_flush(struct ms_instance *ins, const struct ms_batch *b)
{
    struct kafka_ctx *ctx = ins->ctx;
    size_t i;
    int ret;

    ret = kafka_producer_ready(ins);
    if (ret != MS_OK) {
        return ret;
    }
    if (kafka_grow(ctx, b->n) != MS_OK) {
        ms_log_error(ins, "out of memory for a batch of %zu events", b->n);
        return MS_ERETRY;
    }
    memset(ctx->msgs, 0, b->n * sizeof(*ctx->msgs));
    memset(ctx->first, 0, sizeof(ctx->first));
    ctx->n_msgs = b->n;
    ctx->auth_failed = false;
    ctx->stop_deadline_ms = 0;
    for (i = 0; i < b->n && !ctx->fatal; i++) {
        if (kafka_stopping(ins) || kafka_produce(ins, &b->events[i], &ctx->msgs[i]) != MS_OK) {
            break;
        }
    }
    kafka_wait(ins);
    return kafka_verdict(ins, b);
}

static void kafka_destroy(struct ms_instance *ins)
{
    struct kafka_ctx *ctx = ins->ctx;
    int64_t wait = ctx->shutdown_timeout_ms;

    if (ctx->stop_deadline_ms) {
        /* flush already waited for the batch in flight after stop: only what is left. */
        wait = ctx->stop_deadline_ms - kafka_now_ms();
        wait = wait > 0 ? wait : 0;
    }
    if (ctx->rk) {
        kafka_producer_close(ins, wait);
        ms_log_info(ins,
                    "%llu events delivered, %llu dead-lettered, %llu batches retried, %llu "
                    "producer(s) used",
                    (unsigned long long)ctx->stats.delivered,
                    (unsigned long long)ctx->stats.deadlettered,
                    (unsigned long long)ctx->stats.failed_batches,
                    (unsigned long long)ctx->stats.producers);
    }
    if (ctx->conf) {
        rd_kafka_conf_destroy(ctx->conf);
        ctx->conf = NULL;
    }
    free(ctx->msgs);
    ctx->msgs = NULL;
    ctx->msgs_cap = 0;
    ms_buf_free(&ctx->scratch);
}

const struct ms_output_plugin out_kafka_plugin = {
    .name = "kafka",
    .description = "Apache Kafka (librdkafka idempotent producer, acks=all)",
    .config_map = kafka_config_map,
    .ctx_size = sizeof(struct kafka_ctx),
    .init = kafka_init,
    .flush = kafka_flush,
    .destroy = kafka_destroy,
};
