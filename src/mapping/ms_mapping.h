/*
 * The mapping stage: turns one vendor record into one normalized event, or a drop with a reason.
 * It knows no vendor: everything vendor-specific is data in mappings/<source type>.json.
 * Not thread-safe: the engine maps on its input thread.
 */
#ifndef MS_MAPPING_H
#define MS_MAPPING_H

#include <json-c/json.h>

#include "../core/ms_config.h"

struct ms_mapping_set;

/*
 * Loads the mapping files found in dir. A file that cannot be used is refused into errs naming the
 * file (and where known the JSON pointer of the fault). Returns MS_OK with *out set (caller
 * destroys), or MS_EINVAL / MS_EIO with *out NULL.
 */
int ms_mapping_set_load(const char *dir, struct ms_mapping_set **out, struct ms_cfg_errors *errs);
void ms_mapping_set_destroy(struct ms_mapping_set *set);

/*
 * Maps raw (borrowed) of source_type. Returns MS_OK with either *event_out (caller owns) or
 * *drop_reason (static or owned by set) set; or MS_EINVAL with *drop_reason saying why the record
 * cannot be used at all (it is then rejected and counted, never a crash).
 * A source type without a mapping file gets the generic envelope:
 * {id, time (ingest time), source_type, raw}.
 */
int ms_mapping_apply(struct ms_mapping_set *set,
                     const char *source_type,
                     struct json_object *raw,
                     struct json_object **event_out,
                     const char **drop_reason);

/*
 * Stable event identity (DESIGN invariant 4): hex SHA-256 over source_type, a NUL byte, and the
 * vendor's own id when given, else the record's canonical JSON bytes. out has 65 bytes.
 */
void ms_event_id(const char *source_type,
                 const char *vendor_id,
                 struct json_object *raw,
                 char out[65]);

/* Current time as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC). out has at least 25 bytes. */
void ms_time_now_iso(char *out, size_t len);

#endif
