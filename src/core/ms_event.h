/*
 * Events and batches: what moves through the pipeline.
 *
 * Input side: an input appends vendor records (raw json) tagged with a source type; the mapping
 * stage turns each into a normalized event or a drop. Output side: the spool reader fills a batch
 * with normalized events read back from disk (json text, plus as much of its parsed object as the
 * output asked for: enum ms_event_view).
 * The batch owns its events; outputs receive a const batch and never free events.
 */
#ifndef MS_EVENT_H
#define MS_EVENT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ms_buf.h"

#define MS_EVENT_ID_LEN    64 /* hex SHA-256 */
#define MS_SOURCE_TYPE_MAX 64

/*
 * How much of each spooled event an output reads: the output's init sets ms_instance.event_view
 * and the spool reader decodes that much and no more (json-c objects are the costly part of the
 * output side). Every view sets ev->text (the whole event), ev->id and ev->source_type.
 */
enum ms_event_view {
    MS_VIEW_FULL = 0,   /* ev->ev: the whole event (the default) */
    MS_VIEW_NO_RAW,     /* ev->ev: the event without its "raw" member; ev->raw_stripped tells
                         * whether it had one (ev->text still holds it) */
    MS_VIEW_TEXT,       /* ev->ev NULL: the output reads ev->text only */
    MS_VIEW_NORMALIZED, /* ev->ev: the normalized keys only, without "raw" and "fields" (for
                         * outputs that look up named top-level keys, as LEEF and CEF do) */
};

struct ms_event {
    char source_type[MS_SOURCE_TYPE_MAX];
    char id[MS_EVENT_ID_LEN + 1];
    struct json_object *raw; /* owned reference: the vendor record as sent (input side) */
    struct json_object *ev;  /* owned reference: normalized event (spool read; NULL on the
                              * input side, which writes text); NULL or partial by the view */
    const char *drop_reason; /* static string when the mapping dropped the record, else NULL */
    char *text;              /* serialized normalized event (spool side), NUL-terminated, or NULL;
                              * owned unless text_in_batch */
    size_t text_len;
    bool text_in_batch; /* text lives in the batch's text store (ms_batch_add_text): not freed
                         * with the event, valid until the batch is reset */
    bool raw_stripped;  /* the event had a "raw" member, which the view left out of ev */
    bool partial;       /* ev is NULL or lacks members that text holds (by the view) */
};

struct ms_text_chunk;

/* Owns events[0..n). Capacity is bounded by max (never grows past it). */
struct ms_batch {
    struct ms_event *events;
    size_t n;
    size_t max;
    size_t rejected; /* records an input refused as malformed while filling this batch */
    /* Output side, reused from batch to batch (ms_batch_add_text): */
    struct ms_text_chunk *chunks; /* the events' texts */
    struct json_tokener *tok;     /* created at first use */
    struct ms_buf *scratch;       /* the members a view keeps; created at first use */
};

/* Allocates room for max events. Returns MS_OK or MS_ENOMEM. */
int ms_batch_init(struct ms_batch *b, size_t max);

/* Frees every event, the array and the reused parts (text store, tokener). NULL-safe. */
void ms_batch_free(struct ms_batch *b);

/* Frees every event, keeps the array, the tokener and up to 16 MiB of text store for reuse. */
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

/*
 * Appends a spooled event: copies text[0..len) (borrowed; no NUL needed) into the batch's text
 * store and decodes as much as view asks (enum ms_event_view), with one reused json-c tokener; a
 * text that a strict scan shows to be plain JSON is not given to json-c more than needed. Accepts
 * and refuses exactly what json_tokener_parse does: MS_EINVAL when the text is not a JSON object
 * (nothing appended). Returns MS_OK, MS_EINVAL, MS_ETOOBIG (batch full) or MS_ENOMEM.
 */
int ms_batch_add_text(struct ms_batch *b, const char *text, size_t len, enum ms_event_view view);

/* Bytes the batch's text store holds (in use or kept for reuse). */
size_t ms_batch_text_store_size(const struct ms_batch *b);

/* Removes events whose keep[i] is false, preserving order. */
void ms_batch_compact(struct ms_batch *b, const bool *keep);

#endif
