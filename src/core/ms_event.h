/*
 * Events and batches: what moves through the pipeline.
 *
 * Input side: an input appends vendor records (raw json) tagged with a source type; the mapping
 * stage turns each into a normalized event or a drop. Output side: the spool reader fills a batch
 * with normalized events read back from disk (json text plus its parsed object).
 * The batch owns its events; outputs receive a const batch and never free events.
 */
#ifndef MS_EVENT_H
#define MS_EVENT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MS_EVENT_ID_LEN    64 /* hex SHA-256 */
#define MS_SOURCE_TYPE_MAX 64

struct ms_event {
    char source_type[MS_SOURCE_TYPE_MAX];
    char id[MS_EVENT_ID_LEN + 1];
    struct json_object *raw; /* owned reference: the vendor record as sent (input side) */
    struct json_object *ev;  /* owned reference: normalized event (after mapping/spool read) */
    const char *drop_reason; /* static string when the mapping dropped the record, else NULL */
    char *text;              /* owned: serialized normalized event (spool side), or NULL */
    size_t text_len;
};

/* Owns events[0..n). Capacity is bounded by max (never grows past it). */
struct ms_batch {
    struct ms_event *events;
    size_t n;
    size_t max;
    size_t rejected; /* records an input refused as malformed while filling this batch */
};

/* Allocates room for max events. Returns MS_OK or MS_ENOMEM. */
int ms_batch_init(struct ms_batch *b, size_t max);

/* Frees every event and the array. NULL-safe. */
void ms_batch_free(struct ms_batch *b);

/* Frees every event, keeps the array for reuse. */
void ms_batch_reset(struct ms_batch *b);

/* True when no more events fit. */
bool ms_batch_full(const struct ms_batch *b);

/*
 * Appends a vendor record. Takes ownership of raw on success AND failure.
 * Returns MS_OK, MS_ETOOBIG (batch full) or MS_EINVAL (source type too long).
 */
int ms_batch_add_record(struct ms_batch *b, const char *source_type, struct json_object *raw);

/*
 * Appends a spooled event: takes ownership of text (malloc'ed, NUL-terminated) and ev on success
 * AND failure. Returns MS_OK or MS_ETOOBIG.
 */
int ms_batch_add_spooled(struct ms_batch *b, char *text, size_t len, struct json_object *ev);

/* Removes events whose keep[i] is false, preserving order. */
void ms_batch_compact(struct ms_batch *b, const bool *keep);

#endif
