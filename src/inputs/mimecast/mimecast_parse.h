/*
 * Mimecast API pages, pure: stream table, request bodies, response pages -> records + next token +
 * fail[] errors, record times and identities. No I/O, no globals besides constant tables.
 */
#ifndef MC_PARSE_H
#define MC_PARSE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../core/ms_buf.h"
#include "../../core/ms_config.h"

enum mc_stream_id {
    MC_TTP_URL = 0,
    MC_TTP_ATTACHMENT = 1,
    MC_TTP_IMPERSONATION = 2,
    MC_MESSAGE_TRACKING = 3,
    MC_STREAM_MAX = 4,
};

/* What the input knows about one log endpoint (spec §0, §4-§7). */
struct mc_stream_def {
    enum mc_stream_id id;
    const char *name;                   /* config name: "ttp_url" */
    const char *source_type;            /* "mimecast:ttp:url" */
    const char *path;                   /* "/api/ttp/url/get-logs" */
    const char *list_key;               /* data[0].<list_key>[] holds the records */
    const char *time_field;             /* the record's time (1 s resolution) */
    const char *const *key_fields;      /* identity (spec §13.1), NULL-terminated */
    const char *const *fallback_fields; /* identity when the key fields are all absent, or NULL */
};

/* The four streams, indexed by enum mc_stream_id. */
extern const struct mc_stream_def mc_streams[MC_STREAM_MAX];

/* Returns the stream called name (borrowed, static) or NULL. */
const struct mc_stream_def *mc_stream_find(const char *name);

/* Why a page (HTTP 200 or not) carried a failure instead of data. */
enum mc_fail_kind {
    MC_FAIL_NONE = 0,
    MC_FAIL_AUTH,         /* credentials refused: token_expired, invalid signature, ... */
    MC_FAIL_KEYS_EXPIRED, /* API 1.0 key binding expired (HTTP 418, err_xdk_binding_expired) */
    MC_FAIL_PAGE_TOKEN,   /* the pageToken was refused: start the walk again without it */
    MC_FAIL_RETRYABLE,    /* retryable: true, rate limit, meta.status 429 or 5xx */
    MC_FAIL_OTHER,        /* the request was refused (configuration or API change) */
};

/* One parsed response page. Owns root; everything else borrows from it. */
struct mc_page {
    struct json_object *root;
    struct json_object *records; /* the record array, or NULL when the page is empty */
    size_t n_records;
    const char *next;       /* meta.pagination.next, or NULL */
    int64_t total;          /* meta.pagination.totalCount, or -1 */
    int meta_status;        /* meta.status, or 0 when absent */
    enum mc_fail_kind fail; /* MC_FAIL_NONE when the page is usable */
    char fail_desc[256];    /* "code: message" of the first error (vendor text, no secrets) */
};

struct mc_parse_opts {
    size_t max_bytes;   /* a larger body is refused with MS_ETOOBIG (0 = no check) */
    size_t max_records; /* a page with more records is refused with MS_ETOOBIG (0 = no check) */
};

/*
 * Parses one response body of a log endpoint whose records live in data[0].<list_key>[], or in
 * data[] itself when list_key is NULL (get-message-info). Accepts the documented last-page quirk
 * (next with data: []), tolerates fail as an array, an object or a string, and a meta.status that
 * differs from 200. With a failure (page->fail set), well-formed data is still returned.
 * Returns MS_OK with *page filled (caller frees with mc_page_free; check page->fail first),
 * MS_EINVAL when the body is not a usable page (why says why: invalid JSON, truncated JSON, wrong
 * shape), or MS_ETOOBIG (over the byte or record cap). On failure *page holds nothing to free.
 */
int mc_page_parse(const char *body,
                  size_t len,
                  const char *list_key,
                  const struct mc_parse_opts *opts,
                  struct mc_page *page,
                  char *why,
                  size_t why_len);

void mc_page_free(struct mc_page *page);

/*
 * Classifies a failure body (any HTTP status): fail[] items with errors[] (API 1.0), fail[] items
 * with code/message (API 2.0), {"error": {...}}, {"detail": "..."} and meta.status. Writes a
 * one-line description into desc. root may be NULL (unparsable body): returns MC_FAIL_NONE.
 */
enum mc_fail_kind mc_fail_classify(struct json_object *root, char *desc, size_t desc_len);

/*
 * Parses a Mimecast time: "2024-11-17T20:16:00+0000"; also Z, +00:00, other offsets and a
 * fraction (dropped). Returns MS_OK with *epoch (UTC seconds) or MS_EINVAL.
 */
int mc_time_parse(const char *s, int64_t *epoch);

/* Formats epoch as "2024-11-17T20:16:00+0000" (the request format of spec §3.6). */
void mc_time_format(int64_t epoch, char *out, size_t len);

/* Reads rec's time field. Returns MS_OK with *epoch, or MS_EINVAL when absent or malformed. */
int mc_record_time(const struct mc_stream_def *def, struct json_object *rec, int64_t *epoch);

/*
 * The record's identity for deduplication: a 64-bit FNV-1a hash over the stream name and the key
 * fields (spec §13.1), or the fallback fields, or the record's JSON text when none is present.
 * Never 0. Stable across versions: it is stored in cursor files.
 */
uint64_t mc_record_key(const struct mc_stream_def *def, struct json_object *rec);

/* Message tracking: risk level rank (negligible 0 < low 1 < medium 2 < high 3), -1 if unknown. */
int mc_risk_rank(const char *risk);

/* get-message-info object -> spamInfo.spamProcessingDetail.verdict.risk (borrowed) or NULL. */
const char *mc_info_risk(struct json_object *info);

/* get-message-info object -> queueInfo.reason (borrowed) or NULL. */
const char *mc_info_queue_reason(struct json_object *info);

/* The filter of one request (data[0]) and its pagination. Strings are borrowed. */
struct mc_query {
    int64_t from; /* epoch s, inclusive */
    int64_t to;   /* epoch s, inclusive */
    int64_t page_size;
    const char *page_token;       /* NULL on the first page */
    const char *route;            /* TTP attachment/URL: all | inbound | outbound | internal */
    const char *result;           /* attachment: safe | malicious | ... | all */
    const char *scan_result;      /* URL: clean | malicious | all */
    const char *tagged_malicious; /* impersonation: "true" | "false" | NULL (no filter) */
    /* message tracking (message-finder search) */
    const char *track_field; /* "to" or "from" (one domain per lane), or NULL for no filter */
    const char *track_value; /* the domain or address of that lane */
    const struct ms_strlist *track_status; /* status[] at data[0] level (GS), or NULL */
    const struct ms_strlist *track_route;  /* route[] at data[0] level (GS), or NULL */
};

/*
 * Appends the JSON request body for def and q to out:
 * {"meta":{"pagination":{"pageSize":N[,"pageToken":T]}},"data":[{...filter...}]}
 * The filter is repeated with a token (as Mimecast's 2.0 clients do). Returns MS_OK, MS_ENOMEM or
 * MS_ETOOBIG (out's cap).
 */
int mc_request_build(const struct mc_stream_def *def, const struct mc_query *q, struct ms_buf *out);

/* Appends {"data":[{"id":ids[0]},...]} (get-message-info) to out. MS_OK, MS_ENOMEM, MS_ETOOBIG. */
int mc_info_request_build(const char *const *ids, size_t n, struct ms_buf *out);

#endif
