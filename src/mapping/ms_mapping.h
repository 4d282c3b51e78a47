/*
 * The mapping stage: turns one vendor record into one normalized event, or a drop with a reason.
 * It knows no vendor: everything vendor-specific is data in mappings/<source type>.json, loaded
 * once (mappings/README.md documents the format). Not thread-safe: the engine maps on its input
 * thread. Events share constant values (vendor, MITRE tags, table entries) and record values with
 * the set and the record by reference count, so create and free them on that one thread.
 */
#ifndef MS_MAPPING_H
#define MS_MAPPING_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/ms_buf.h"
#include "../core/ms_config.h"

struct ms_mapping_set;

/*
 * Loads the mapping files found in dir: every "<source type with ':' -> '-'>.json" and mitre.json
 * (siem-profiles.json, in the same directory, is the syslog output's and is left alone).
 * A file that cannot be used is refused into errs naming the file and the JSON pointer of the
 * fault (malformed JSON gives its line and column); every fault of every file is listed. Returns
 * MS_OK with *out set (caller destroys), or MS_EINVAL / MS_EIO / MS_ENOMEM with *out NULL.
 */
int ms_mapping_set_load(const char *dir, struct ms_mapping_set **out, struct ms_cfg_errors *errs);

/* Logs the final summary (when anything was mapped since the last one) and frees. NULL-safe. */
void ms_mapping_set_destroy(struct ms_mapping_set *set);

/*
 * Maps raw (borrowed) of source_type. Returns MS_OK with either *event_out (caller owns) or
 * *drop_reason (static or owned by set) set; or MS_EINVAL with *drop_reason saying why the record
 * cannot be used at all (it is then rejected and counted, never a crash); or MS_ENOMEM.
 * A source type without a mapping file gets the generic envelope:
 * {id, time (ingest time), source_type, raw}.
 * Every 60 s (and at destroy) the set logs a summary at info: events mapped, dropped per rule,
 * rejected, and alert types that had no MITRE row (those events pass untagged).
 */
int ms_mapping_apply(struct ms_mapping_set *set,
                     const char *source_type,
                     struct json_object *raw,
                     struct json_object **event_out,
                     const char **drop_reason);

/*
 * As ms_mapping_apply, without building the event: appends its JSON text to out (exactly the
 * bytes ms_json_write writes of the object ms_mapping_apply returns) and writes its id (64 hex
 * digits) into id_out. raw is borrowed. Returns MS_OK with the event appended, or with nothing
 * appended and *drop_reason set (a drop rule matched); MS_EINVAL with *drop_reason (rejected);
 * MS_ENOMEM, or MS_ETOOBIG when out hit its cap (ms_buf then frees out). On every return but an
 * appended event, out is as it was (unless freed) and id_out is "". Same counters and summary as
 * ms_mapping_apply.
 */
int ms_mapping_apply_text(struct ms_mapping_set *set,
                          const char *source_type,
                          struct json_object *raw,
                          struct ms_buf *out,
                          char id_out[65],
                          const char **drop_reason);

/*
 * The records held by value, as msfwd map reads its input: when value is an object holding the
 * first member of the mapping's records_path (an API page such as {"data":[{"clickLogs":[...]}]}),
 * the records that path reaches; when value is an array, its elements; otherwise value itself.
 * Returns a new array (caller puts; may be empty), or NULL when memory ran out.
 */
struct json_object *ms_mapping_page_records(const struct ms_mapping_set *set,
                                            const char *source_type,
                                            struct json_object *value);

/* True when source_type has a mapping file in the set. */
bool ms_mapping_has(const struct ms_mapping_set *set, const char *source_type);

/*
 * Makes the set use a fixed "now" (epoch milliseconds) for the ingest time of events whose record
 * has no usable time, so tests are deterministic. 0 restores the real clock.
 */
void ms_mapping_set_clock(struct ms_mapping_set *set, int64_t fixed_now_ms);

struct ms_mapping_stats {
    uint64_t mapped;   /* events made */
    uint64_t dropped;  /* records a drop rule matched */
    uint64_t rejected; /* records that were not JSON objects */
    uint64_t untagged; /* events whose alert type has no row in mitre.json */
};

/* Counts for source_type since the set was loaded (zeros for a type never seen). */
void ms_mapping_get_stats(const struct ms_mapping_set *set,
                          const char *source_type,
                          struct ms_mapping_stats *out);

/* Logs the summary now (what changed since the last one) at info. */
void ms_mapping_log_summary(struct ms_mapping_set *set);

/*
 * Stable event identity (DESIGN invariant 4): hex SHA-256 over source_type, a NUL byte, and the
 * vendor's own id when given, else the record's canonical JSON bytes. out has 65 bytes.
 * (A mapping with several id fields passes them as one vendor id: each value as
 * "<byte length>:<bytes>", concatenated.)
 */
void ms_event_id(const char *source_type,
                 const char *vendor_id,
                 struct json_object *raw,
                 char out[65]);

/* Current time as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC). out has at least 25 bytes. */
void ms_time_now_iso(char *out, size_t len);

#endif
