/*
 * ser input, pure part: Proofpoint SER report summaries -> records, the licence record, windows.
 * No I/O and no globals, so unit tests call it directly.
 */
#ifndef MS_IN_SER_PARSE_H
#define MS_IN_SER_PARSE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SER_SOURCE_SUMMARY     "ser:summary"
#define SER_SOURCE_ENTITLEMENT "ser:entitlement"
#define SER_TIME_UNKNOWN       INT64_MIN
#define SER_DAY_MS             (86400LL * 1000)

/* Epoch milliseconds -> "YYYY-MM-DDTHH:MM:SS.mmmZ" (the API's yyyy-MM-dd'T'HH:mm:ss.SSSZ). */
void ser_format_ts(int64_t ms, char *out, size_t len);

/*
 * Reads an instant as the API may send it (the format of the licence dates is not documented):
 * "YYYY-MM-DD" (midnight UTC), ISO-8601 with 'T' or ' ', optional fraction and zone (Z, +hh:mm,
 * +hhmm; none = UTC), or epoch milliseconds / seconds as a number or a digit string (values from
 * 1e11 up are milliseconds). Returns MS_OK with *ms, or MS_EINVAL.
 */
int ser_parse_instant(struct json_object *v, int64_t *ms);

/*
 * Reads a counter sent as a JSON integer, an integral double or a decimal digit string.
 * Returns MS_OK with *out (>= 0), or MS_EINVAL (negative, fractional, not a number).
 */
int ser_parse_count(struct json_object *v, int64_t *out);

/* t rounded down to a multiple of step (step > 0; UTC epoch, so whole hours and days align). */
int64_t ser_align_down(int64_t t, int64_t step);

/*
 * Start of the first window of a fresh cursor: now - lookback rounded down to a multiple of
 * window, but not before license_start_ms (SER_TIME_UNKNOWN = not known).
 */
int64_t
ser_first_start(int64_t now_ms, int64_t lookback_ms, int64_t window_ms, int64_t license_start_ms);

/*
 * The window starting at start_ms ends at the next multiple of window_ms (windows are fixed and
 * aligned; only a first window bounded by the licence start can be shorter). Sets *end_ms and
 * returns true when the window is due: its end is at or before now - settle.
 */
bool ser_window_due(
    int64_t start_ms, int64_t window_ms, int64_t now_ms, int64_t settle_ms, int64_t *end_ms);

/* One parsed report summary. Owns records and entitlement. */
struct ser_summary {
    struct json_object *records;     /* array of ser:summary records (NULL unless asked for) */
    size_t users;                    /* application users accepted */
    size_t rejected;                 /* application users refused as malformed */
    char reject_reason[192];         /* why the first one was refused */
    struct json_object *entitlement; /* the vendor's entitlement block as sent, or NULL */
    int64_t annual_throughput;       /* bytes; -1 when absent or unusable */
    int64_t license_start_ms;        /* SER_TIME_UNKNOWN when absent or unusable */
    int64_t license_end_ms;          /* SER_TIME_UNKNOWN when absent or unusable */
    int64_t size_total;              /* sum of messageSizeTotal over accepted users */
};

/*
 * Parses one GET /v1/sercustomer/report/summary body (text, len bytes; need not be terminated).
 * With want_records, every application user becomes one record: the vendor's object with its
 * counters as JSON integers (they may arrive as strings), a top-level "details",
 * "messageSizeTotal" and "deliveredSizeTotal" copied from "status" when only that has them (the
 * vendor's table leaves their place open), and "window_start"/"window_end" (ISO, UTC) added.
 * Records are sorted by applicationName, applicationUserName (stable order across re-fetches).
 * An application user that is not an object, carries no name, or has a malformed counter is
 * refused (counted, first reason kept); unknown keys pass through.
 * Returns MS_OK with *out filled (free with ser_summary_free, also after a failure), MS_EINVAL
 * with why when the body is unusable (not JSON, truncated, not an object, applicationUsers not an
 * array, neither applicationUsers nor entitlement present), MS_ENOMEM.
 */
int ser_parse_summary(const char *text,
                      size_t len,
                      bool want_records,
                      int64_t start_ms,
                      int64_t end_ms,
                      struct ser_summary *out,
                      char *why,
                      size_t why_len);
void ser_summary_free(struct ser_summary *s);

/*
 * Builds the ser:entitlement record from a summary that covered [license start, as_of): the
 * licence dates (ISO), annual_throughput, throughput_used (sum of messageSizeTotal, the value
 * the vendor counts against the licence), throughput_remaining, throughput_used_percent (two
 * decimals), days_left (whole days until license_end, 0 once past) and the vendor's block under
 * "entitlement". Returns MS_OK with *out (caller owns), MS_EINVAL with why when the summary has
 * no entitlement block, MS_ENOMEM.
 */
int ser_license_record(const struct ser_summary *s,
                       int64_t as_of_ms,
                       struct json_object **out,
                       char *why,
                       size_t why_len);

#endif
