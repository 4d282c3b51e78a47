/*
 * Vendor time values to UTC: parses every date format the vendors send (ISO 8601 with "Z",
 * "+0000" or "+00:00", PPS "YYYY-MM-DD HH:MM:SS" without a zone, RFC 2822 dates, epoch seconds,
 * milliseconds, microseconds) and prints "YYYY-MM-DDTHH:MM:SS.mmmZ". Pure functions, no locale,
 * no global state.
 */
#ifndef MS_TIMEPARSE_H
#define MS_TIMEPARSE_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#define MS_TIME_ISO_LEN 24 /* "2026-11-20T10:15:30.000Z" */

/*
 * Parses len bytes of s as a date and time and stores milliseconds since the epoch (UTC) in
 * *ms_out. Accepted, with surrounding blanks:
 *   YYYY-MM-DD                              (midnight UTC)
 *   YYYY-MM-DD[T| ]HH:MM[:SS[.fff]][zone]   fraction of 1-9 digits ('.' or ','), truncated to ms
 *     zone: none (UTC), Z, UTC, GMT, +HH, +HHMM, +HH:MM (or -), optionally after blanks, after
 *     "UTC"/"GMT", or in brackets ("[UTC-0600]")
 *   [Day, ]DD Mon YYYY HH:MM[:SS] [zone]    RFC 2822 / RFC 1123 (zone as above, or UT)
 *   digits[.digits]                         epoch: seconds below 1e11, milliseconds below 1e14,
 *                                           microseconds below 1e17, else nanoseconds
 * Calendar fields are checked (no February 30th, no hour 24). Years 0000-9999 only.
 * Returns MS_OK or MS_EINVAL.
 */
int ms_time_parse(const char *s, size_t len, int64_t *ms_out);

/* Interprets an epoch number by its magnitude, as ms_time_parse does digits. MS_OK or MS_EINVAL. */
int ms_time_from_epoch(double v, int64_t *ms_out);

/*
 * Reads a JSON value as a time: strings as ms_time_parse, integers and doubles as epochs.
 * Returns MS_OK or MS_EINVAL (NULL, objects, arrays, booleans, unparseable text).
 */
int ms_time_from_json(struct json_object *v, int64_t *ms_out);

/*
 * Prints ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (at least MS_TIME_ISO_LEN + 1 bytes).
 * Returns MS_OK, or MS_EINVAL when the year falls outside 0000-9999 (out is then "").
 */
int ms_time_format_iso(int64_t ms, char *out, size_t out_len);

#endif
