/*
 * JSON on the hot path without json-c's per-call allocations: a writer that serializes a json-c
 * value straight into a reused ms_buf (byte for byte what json-c writes), and a scanner that walks
 * the top-level members of an object's text without building anything.
 */
#ifndef MS_JSON_H
#define MS_JSON_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "ms_buf.h"
#include "ms_config.h"

/* Nesting the scanner accepts; deeper texts are left to json-c (whose default limit is 32). */
#define MS_JSON_SCAN_DEPTH 24

/*
 * Appends v as JSON text to out: exactly the bytes of
 * json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
 * (NULL is written as null; doubles are written by json-c itself, which keeps a parsed number's
 * original text). Allocates nothing but out's growth. Returns MS_OK, MS_ENOMEM, or MS_ETOOBIG
 * when out hit its cap (out is then freed, as ms_buf does); MS_EINVAL when nesting passes 512.
 */
int ms_json_write(struct ms_buf *out, struct json_object *v);

/* Appends s[0..n) as a JSON string, quotes included, escaped as ms_json_write does. */
int ms_json_write_string(struct ms_buf *out, const char *s, size_t n);

/* One top-level member found by ms_json_scan: the raw bytes of the key (between its quotes,
 * escapes not decoded) and of the value (from its first to its last byte). Borrowed from the
 * scanned text. */
struct ms_json_member {
    const char *key;
    size_t key_len;
    const char *val;
    size_t val_len;
    size_t start; /* offset of the member's key quote in the text */
    size_t end;   /* offset just past the member's value */
};

/*
 * Scans text[0..len) as one JSON object, strictly: RFC 8259 only (no comments, NaN or trailing
 * data other than whitespace), no control character inside strings, nesting at most
 * MS_JSON_SCAN_DEPTH. Calls fn for each top-level member in order (fn may be NULL). Allocates
 * nothing. Returns true when the text is such an object; false otherwise (json-c, which is more
 * lenient, may still accept it: a caller that must agree with json-c asks json-c then).
 */
bool ms_json_scan(const char *text,
                  size_t len,
                  void (*fn)(void *arg, const struct ms_json_member *m),
                  void *arg);

/*
 * Parses text[0..len) as exactly one JSON value (whitespace around it allowed) with json-c, as a
 * vendor response must be. Returns the value (caller puts it) or NULL with a reason in why:
 * empty body, truncated JSON (the tokener wanted more), a syntax error, or data after the value.
 */
struct json_object *ms_json_parse_one(const char *text, size_t len, char *why, size_t why_len);

/*
 * Reads and parses the JSON file at path for a loader that reports to an operator: at most
 * max_bytes, nesting at most depth, json-c tokener flags (e.g. JSON_TOKENER_STRICT). Faults go into
 * errs as "path: cannot read: ...", "path: larger than N bytes", "path: line L, column C: not
 * valid JSON: ..." or "path: offset N: text after the end of the JSON value".
 * Returns MS_OK with *out set (caller puts it; NULL when the file holds just null), MS_EOF when
 * the file does not exist (nothing added to errs: the caller decides), MS_EIO, MS_EINVAL or
 * MS_ENOMEM.
 */
int ms_json_load_file(const char *path,
                      size_t max_bytes,
                      int depth,
                      int flags,
                      struct json_object **out,
                      struct ms_cfg_errors *errs);

#endif
