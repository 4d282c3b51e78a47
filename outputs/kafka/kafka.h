/*
 * kafka output, private header: the context shared by the glue (kafka.c), the configuration
 * (kafka_conf.c) and the pure part (kafka_format.c: topic template, headers, payload, error
 * classes). Nothing outside outputs/kafka/ and its tests includes this file.
 */
#ifndef MS_OUT_KAFKA_H
#define MS_OUT_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../src/core/ms_buf.h"
#include "../../src/core/ms_config.h"
#include "../../src/core/ms_event.h"
#include "../../src/core/ms_plugin.h"

/* Kafka refuses longer topic names. */
#define KAFKA_TOPIC_MAX 249

/* Where one message of the batch in flight stands. */
enum kafka_msg_state {
    KAFKA_MSG_UNSENT = 0, /* not handed to librdkafka (stopped, fatal error) */
    KAFKA_MSG_PENDING,    /* produced; waiting for its delivery report */
    KAFKA_MSG_DONE,       /* delivery report received, or refused before producing */
};

/*
 * One slot per event of the batch in flight; the message's opaque points here.
 * @thread output thread (delivery reports are served by rd_kafka_poll/flush on that thread)
 */
struct kafka_msg {
    enum kafka_msg_state state;
    rd_kafka_resp_err_t err;
    rd_kafka_msg_status_t status;
    const char *local_reason; /* static: why it was refused before producing, or NULL */
};

/* What the pure classification makes of one message's outcome. */
enum kafka_class {
    KAFKA_C_OK = 0,  /* acknowledged by the cluster (acks=all) */
    KAFKA_C_RETRY,   /* transient (timeout, purge, transport, leader moves): produce again */
    KAFKA_C_DEAD,    /* this event can never be written (too large, invalid): dead letter */
    KAFKA_C_REFUSED, /* unknown topic, unsupported: operator must act (MS_EPERM) */
    KAFKA_C_AUTH,    /* authentication or authorization refused (MS_EAUTH) */
    KAFKA_C_MAX,
};

/* The first failure seen for one class during the current batch (for the error line). */
struct kafka_first_err {
    rd_kafka_resp_err_t err;
    char topic[KAFKA_TOPIC_MAX + 1];
    bool set;
};

/* Header options taken from the config (kept apart so header building stays pure). */
struct kafka_hdr_opts {
    bool splunk;              /* add Splunk Connect for Kafka's splunk.header.* keys */
    const char *splunk_index; /* splunk.header.index, when non-empty */
    const char *splunk_host;  /* splunk.header.host, when non-empty */
};

struct kafka_stats {
    uint64_t delivered;
    uint64_t deadlettered;
    uint64_t failed_batches;
    uint64_t producers; /* producers created (more than one: fatal errors or recreate) */
};

/*
 * Plugin context. Config fields are owned by the core (config map); state fields by the plugin.
 * States of the producer: none (rk NULL: after init, msfwd check never gets further), running,
 * spent (rk set, fatal or recreate true: replaced before the next batch).
 */
struct kafka_ctx {
    /* config */
    char *brokers;
    char *topic;
    char *compression;
    int64_t delivery_timeout_ms;
    int64_t queue_max;
    int64_t shutdown_timeout_ms;
    bool splunk_headers;
    char *splunk_index;
    char *splunk_host;
    struct ms_kvlist kafka; /* kafka.* pass-through, prefix stripped */
    /* state */
    struct ms_instance *ins; /* borrowed: for callbacks */
    rd_kafka_conf_t *conf;   /* validated at init; each producer gets a copy */
    rd_kafka_t *rk;          /* created at the first flush, not at init */
    struct kafka_msg *msgs;  /* slots of the batch in flight */
    size_t msgs_cap;
    size_t n_msgs;  /* slots used by the batch in flight */
    size_t pending; /* produced, delivery report not yet received */
    bool fatal;     /* librdkafka raised a fatal error: recreate the producer */
    bool recreate;  /* refused (auth, topic): start afresh before the next batch */
    rd_kafka_resp_err_t fatal_err;
    bool auth_failed;         /* error_cb reported an authentication failure this batch */
    int64_t stop_deadline_ms; /* set when stop was first seen with messages in flight */
    int last_warn_err;        /* error_cb rate limit */
    int64_t last_warn_ms;
    struct kafka_first_err first[KAFKA_C_MAX];
    struct kafka_hdr_opts hdr;
    struct ms_buf scratch; /* payload without "raw" */
    char topic_buf[KAFKA_TOPIC_MAX + 1];
    struct kafka_stats stats;
};

/* kafka_conf.c */

extern const struct ms_config_map kafka_config_map[];

/*
 * Validates the section and builds ctx->conf (librdkafka checks every kafka.* name and value;
 * keys the output must own are refused). Registers secret-looking kafka.* values with the log
 * scrubber. Does not create a producer or touch the network. Refusals go into errs.
 * Returns MS_OK, MS_EINVAL or MS_ENOMEM; on failure ctx->conf may be set (destroy frees it).
 */
int kafka_conf_build(struct ms_instance *ins, struct ms_cfg_errors *errs);

/* True for pass-through keys whose values are credentials (sasl.password, ssl.key.pem, ...). */
bool kafka_key_is_secret(const char *key);

/* kafka_format.c (pure: no I/O, no globals) */

/*
 * Checks a topic template: literal text from [A-Za-z0-9._-], placeholders ${source_type},
 * ${vendor} and ${product}. Returns MS_OK, or MS_EINVAL with the reason in why.
 */
int kafka_topic_check(const char *tmpl, char *why, size_t why_len);

/*
 * Renders tmpl for ev into out (out_size > KAFKA_TOPIC_MAX). Placeholder values are made
 * topic-safe: ASCII letters lowercased, ':' becomes '.', '.', '_', '-' and digits stay, every
 * other byte becomes '_'; a missing or empty field renders as "unknown".
 * Example: "email-security.${source_type}" + mimecast:ttp:url -> email-security.mimecast.ttp.url
 * Returns MS_OK, MS_ETOOBIG (longer than KAFKA_TOPIC_MAX) or MS_EINVAL (bad template, or the
 * result is "." or ".."); out is "" on failure.
 */
int kafka_topic_render(const char *tmpl, const struct ms_event *ev, char *out, size_t out_size);

/*
 * Builds the headers of ev's message: source_type always; vendor and product when the event
 * has them (absent fields give no header); with o->splunk, splunk.header.sourcetype (the source
 * type), splunk.header.source ("msfwd"), and splunk.header.index / .host when configured.
 * Returns a new list (the caller owns it; rd_kafka_producev takes it on success) or NULL when
 * out of memory.
 */
rd_kafka_headers_t *kafka_headers_build(const struct kafka_hdr_opts *o, const struct ms_event *ev);

/*
 * Points *data and *len at ev's Kafka value: the spooled JSON text as it is, or, when include_raw
 * is false (or the text is missing), the event serialized without "raw" into scratch (reset first).
 * Returns MS_OK, MS_ENOMEM or MS_ETOOBIG (scratch is then freed).
 */
int kafka_payload(const struct ms_event *ev,
                  bool include_raw,
                  struct ms_buf *scratch,
                  const char **data,
                  size_t *len);

/* Classifies one message's result (delivery report or synchronous producev error). */
enum kafka_class kafka_classify(rd_kafka_resp_err_t err);

#endif
