/*
 * hec output (Splunk HTTP Event Collector): the plugin context shared by the glue (hec.c), the
 * config part (hec_conf.c) and the pure formatter and reply parsers (hec_format.c).
 */
#ifndef MS_OUT_HEC_H
#define MS_OUT_HEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "../../src/core/ms_buf.h"
#include "../../src/core/ms_config.h"
#include "../../src/core/ms_event.h"
#include "../../src/core/ms_http.h"
#include "../../src/core/ms_plugin.h"

#define HEC_CHANNEL_LEN    36                  /* textual UUID */
#define HEC_EVENT_MAX      (32u * 1024 * 1024) /* one envelope; larger ones are dead-lettered */
#define HEC_ACKS_PER_QUERY 1000                /* ackIds per POST /services/collector/ack */

/* What the formatter needs; every pointer is borrowed. NULL strings are left out of the envelope.
 */
struct hec_format_opts {
    const char *host;                     /* HEC host; NULL = leave out */
    const char *source;                   /* NULL = "msfwd:<source_type>" */
    const char *sourcetype;               /* NULL = the event's source_type */
    const struct ms_kvlist *sourcetypes;  /* per source type ("mimecast-ttp-url" = ...) */
    const char *index;                    /* NULL = leave out (the token's default index) */
    const struct ms_kvlist *indexes;      /* per source type */
    const struct ms_strlist *fields;      /* event keys sent as indexed fields */
    const struct ms_kvlist *const_fields; /* constant indexed fields */
    bool include_raw;                     /* ship the vendor record under event.raw */
    bool cim;                             /* add CIM names next to the normalized ones */
};

/*
 * Appends one HEC envelope for ev to out, followed by '\n':
 * {"time":<s.mmm>,"host":..,"source":..,"sourcetype":..,"index":..,"fields":{..},"event":{..}}
 * Pure: no I/O, no globals. Every string goes through hec_json_string (valid UTF-8 out, always).
 * ev may be read with MS_VIEW_NO_RAW: "raw" is then taken from ev->text when the envelope needs it.
 * Returns MS_OK; MS_EINVAL when ev->ev is not a non-empty JSON object (nothing was appended;
 * an event that had only "raw" is not empty);
 * MS_ENOMEM / MS_ETOOBIG from out (then out is in the state ms_buf leaves it).
 */
int hec_format_event(const struct hec_format_opts *opts,
                     const struct ms_event *ev,
                     struct ms_buf *out);

/*
 * Appends s[0..len) as a JSON string with quotes: '"' '\\' and control characters escaped, '/'
 * and non-ASCII kept, every invalid UTF-8 byte (overlong, surrogate, > U+10FFFF, truncated)
 * replaced by U+FFFD. Returns MS_OK or the ms_buf error.
 */
int hec_json_string(struct ms_buf *out, const char *s, size_t len);

/*
 * Parses an ISO 8601 time "YYYY-MM-DDTHH:MM:SS[.fff…][Z|±HH:MM|±HHMM]" ('t' or ' ' for 'T';
 * no zone = UTC) into milliseconds since the epoch, with integers only: digits past the third
 * fraction digit are truncated. Returns MS_OK or MS_EINVAL (bad syntax or an impossible date).
 */
int hec_time_parse(const char *s, int64_t *ms);

/* Writes ms as "<seconds>.<mmm>" ("-0.500" for -500). out holds at least 32 bytes. */
void hec_time_format(int64_t ms, char *out, size_t len);

/* The useful parts of a HEC answer body
 * ({"text":..,"code":..,"invalid-event-number":..,"ackId":..}). */
struct hec_reply {
    int code;             /* -1 when absent or the body is not JSON */
    int64_t event_number; /* invalid-event-number, -1 when absent */
    int64_t ack_id;       /* -1 when absent */
    char text[128];       /* "" when absent; control characters replaced */
};

/* Parses body[0..len). Never fails: missing parts are left at their "absent" values. */
void hec_reply_parse(const char *body, size_t len, struct hec_reply *r);

/*
 * Parses an ack answer {"acks":{"7":true,"8":false}}: for each ids[i], done[i] is set to true
 * when the answer says true (others untouched). Returns MS_OK, or MS_EINVAL when the body is not
 * such an object.
 */
int hec_ack_reply_parse(const char *body, size_t len, const int64_t *ids, bool *done, size_t n);

/* Per-event delivery state within the batch being flushed. */
enum hec_ev_state {
    HEC_EV_PENDING = 0, /* not yet accepted by the receiver */
    HEC_EV_SENT,        /* accepted with an ackId; waiting for the indexer acknowledgement */
    HEC_EV_DONE,        /* delivered (or dead-lettered) */
};

/* One accepted request that waits for its ackId to turn true. */
struct hec_ack {
    int64_t ack_id;
    int64_t sent_ms; /* monotonic */
    bool open;
};

struct hec_ctx {
    /* config (owned by the config map) */
    char *url;
    char *token;
    char *index;
    struct ms_kvlist indexes;
    char *sourcetype;
    struct ms_kvlist sourcetypes;
    char *source;
    char *host;
    struct ms_strlist fields;
    struct ms_kvlist const_fields;
    bool gzip;
    int64_t gzip_level;
    int64_t max_request_bytes;
    int64_t timeout_ms;
    bool ack;
    int64_t ack_interval_ms;
    int64_t ack_timeout_ms;
    char *ca_file;
    bool verify_tls;
    bool cim;

    /* built by init (hec_conf.c) */
    char hostname[256];
    char channel[HEC_CHANNEL_LEN + 1];
    char *url_event;
    char *url_ack;
    char *auth_header; /* "Authorization: Splunk <token>": zeroed when freed */
    char *channel_header;
    const char *headers[6]; /* event POST headers, NULL-terminated */
    const char *ack_headers[4];
    struct hec_format_opts fmt;
    struct ms_http *http;
    struct ms_http_response resp;
    z_stream zs;
    bool zs_ready;

    /* batch state (hec.c): survives MS_ERETRY so a retry re-sends only what is not delivered */
    uint64_t batch_fp; /* fingerprint of the batch the state belongs to; 0 = none */
    size_t batch_n;
    size_t state_cap;
    unsigned char *state; /* enum hec_ev_state per event */
    size_t *off;          /* envelope of event i: store.data + off[i], len[i] bytes */
    size_t *len;
    size_t *req;         /* index into acks of the request that carried event i */
    size_t *reqidx;      /* the events of the request being built */
    struct ms_buf store; /* the batch's envelopes, formatted once per batch */
    struct hec_ack *acks;
    size_t n_acks;
    size_t acks_cap;
    struct ms_buf body; /* one request body when its envelopes are not contiguous */
    unsigned char *gz;  /* the request body, gzip-compressed */
    size_t gz_cap;
    struct ms_buf query;    /* ack query body */
    unsigned poison_streak; /* events dead-lettered since the receiver last accepted a request */
    int64_t learned_max;    /* request bytes after a 413; 0 = max_request_bytes */
    bool ack_fallback;      /* the receiver said ACK is disabled: HTTP 200 means delivered */
    char last_problem[512]; /* the last failure logged (repeats go to debug) */
};

/* hec_conf.c */
extern const struct ms_config_map hec_config_map[];
int hec_conf_init(struct ms_instance *ins, struct ms_cfg_errors *errs);
void hec_conf_destroy(struct ms_instance *ins);

#endif
