/*
 * pps input, pure part: quarantine search responses -> records, appliance dates, the dedupe set
 * and the window arithmetic. No I/O and no globals, so unit tests call it directly.
 */
#ifndef MS_IN_PPS_PARSE_H
#define MS_IN_PPS_PARSE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PPS_SOURCE_QUARANTINE "pps:quarantine"
#define PPS_LIMIT_MAX         1000 /* the largest limit clients document (GSO) */

/*
 * "YYYY-MM-DD HH:MM:SS" -> epoch seconds. The appliance writes UTC (offset_min 0); an appliance
 * that turns out to write local time is read with its offset in minutes east of UTC.
 * Returns MS_OK or MS_EINVAL.
 */
int pps_parse_date(const char *s, int offset_min, int64_t *out);

/* Epoch seconds -> "YYYY-MM-DD HH:MM:SS" in the appliance's zone. out holds >= 20 bytes. */
void pps_format_date(int64_t t, int offset_min, char *out, size_t len);

/* One parsed search response. Owns records and dates. */
struct pps_page {
    struct json_object *records; /* accepted records, oldest first */
    int64_t *dates;              /* epoch seconds of records[i] */
    size_t returned;             /* records in the response, accepted or not */
    int64_t count;               /* the response's "count", -1 when absent */
    int64_t meta_limit;          /* meta.limit, -1 when absent */
    size_t rejected;             /* records refused as malformed */
    char reject_reason[160];     /* why the first one was refused */
};

/*
 * Parses one GET /rest/v1/quarantine body (text, len bytes; need not be terminated): an object
 * with "records" (and "count", optionally "meta") or a bare array of records. A record must be an
 * object with a non-empty string "guid" and a readable "date"; others are refused (counted, first
 * reason kept). Accepted records are normalized, nothing else changes: size, spamscore and
 * phishscore become JSON integers when sent as digit strings, rcpts becomes an array when sent as
 * a comma-separated string, messagestatus[].status and .id become integers, and a record without
 * "folder" gets the folder that was searched. Records are returned oldest first (the API answers
 * newest first). Unknown keys pass through.
 * Returns MS_OK with *out filled (free with pps_page_free, also after a failure), MS_EINVAL with
 * why when the body is unusable (not JSON, truncated, records not an array), MS_ENOMEM.
 */
int pps_parse_page(const char *text,
                   size_t len,
                   const char *folder,
                   int offset_min,
                   struct pps_page *out,
                   char *why,
                   size_t why_len);
void pps_page_free(struct pps_page *p);

/*
 * True when the response may have been cut at the limit (the API has no paging and drops the
 * oldest records): as many records as the limit (or as meta.limit, when the server says it used
 * a smaller one), or a "count" larger than what came back.
 */
bool pps_page_full(const struct pps_page *p, int64_t limit);

/*
 * True when the response may come from a server that caps below the limit it was sent (the cap
 * is not documented): 100 or more records, and at least as many as the largest response seen so
 * far (max_seen). Such a page is split like a full one while it can be; splitting a complete
 * window costs one more query, trusting a capped one would lose records.
 */
bool pps_page_suspect(const struct pps_page *p, int64_t max_seen);

/* The guid of an accepted record (borrowed). */
const char *pps_record_guid(struct json_object *rec);

/*
 * The dedupe set of one folder: a JSON object guid -> date (epoch seconds), kept in the cursor.
 * pps_seen_prune removes entries dated before `before`; pps_seen_trim removes the oldest entries
 * until at most max remain. Both return how many they removed. pps_seen_add returns MS_OK or
 * MS_ENOMEM.
 */
bool pps_seen_has(struct json_object *seen, const char *guid);
int pps_seen_add(struct json_object *seen, const char *guid, int64_t date);
size_t pps_seen_prune(struct json_object *seen, int64_t before);
size_t pps_seen_trim(struct json_object *seen, size_t max);

/* Last second of the piece that starts at pos: pos + span - 1, but not after target. */
int64_t pps_piece_end(int64_t pos, int64_t span, int64_t target);

/* A full piece [pos, end] (end > pos) is narrowed to [pos, pps_split_end(pos, end)]. */
int64_t pps_split_end(int64_t pos, int64_t end);

#endif
