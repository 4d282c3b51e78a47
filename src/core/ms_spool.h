/*
 * The durable spool between the mapping stage and the outputs.
 *
 * Append-only segment files "<dir>/<base>.seg" (base = global byte position of the file's start).
 * A segment starts with a 16-byte header (magic + base); each record is framed as
 * u32 length (LE) | u32 CRC32 of the payload (LE) | payload. One writer (the engine's input side)
 * appends batches and fsyncs them; each output has a reader whose committed position is saved
 * atomically in "<dir>/readers/<name>.pos". A segment is deleted once every reader has passed it.
 * On open, a torn or corrupt tail is cut back to the last good record and reported.
 * @locks spool->lock guards the segment list, the end position and the readers' positions.
 */
#ifndef MS_SPOOL_H
#define MS_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ms_event.h"

struct ms_spool;
struct ms_spool_reader;

struct ms_spool_opts {
    int64_t max_bytes;     /* backpressure threshold for the whole spool */
    int64_t segment_bytes; /* roll to a new segment past this size */
    bool fsync;            /* fsync after every appended batch (default true) */
};

/* What recovery found at open; also logged. */
struct ms_spool_recovery {
    unsigned segments;
    uint64_t records;
    uint64_t bytes_cut;    /* torn or corrupt bytes removed */
    unsigned segments_cut; /* segments that needed cutting */
};

/*
 * Opens (creating) the spool in dir, validates every segment and cuts bad tails.
 * Returns the spool (caller destroys) or NULL after logging why. rec may be NULL.
 */
struct ms_spool *
ms_spool_open(const char *dir, const struct ms_spool_opts *opts, struct ms_spool_recovery *rec);

/* Closes files and frees. Readers must be closed first. NULL-safe. */
void ms_spool_close(struct ms_spool *sp);

/*
 * Appends n records (payloads and their lengths) and, with fsync on, makes them durable before
 * returning. Readers see them only after this returns MS_OK. Returns MS_OK, MS_ETOOBIG (the spool
 * is past max_bytes: backpressure, nothing written) or MS_EIO (logged; nothing published).
 */
int ms_spool_append(struct ms_spool *sp, const char *const *data, const size_t *lens, size_t n);

/*
 * True when used bytes >= max_bytes: inputs should pause. Not when every reader has passed
 * everything appended: then the next append starts a new segment and the old one is deleted
 * (with spool_max near spool_segment, the active segment alone can fill the spool).
 */
bool ms_spool_full(struct ms_spool *sp);

/* Bytes currently on disk in segments. */
int64_t ms_spool_used_bytes(struct ms_spool *sp);

/* Global end position (everything appended so far). */
uint64_t ms_spool_end(struct ms_spool *sp);

/*
 * Opens the reader called name at its saved position (a new reader starts at the oldest retained
 * record). Returns the reader (close with ms_spool_reader_close) or NULL after logging.
 */
struct ms_spool_reader *ms_spool_reader_open(struct ms_spool *sp, const char *name);
void ms_spool_reader_close(struct ms_spool_reader *r);

/*
 * How much of each event ms_spool_read decodes for this reader (enum ms_event_view; default
 * MS_VIEW_FULL). Call before reading, from the reader's thread.
 */
void ms_spool_reader_set_view(struct ms_spool_reader *r, enum ms_event_view view);

/*
 * Reads up to b->max records (and at most max_bytes of payload) after the reader's read position
 * into b (ms_batch_add_text with the reader's view; payloads that are not JSON objects are skipped
 * and counted in b->rejected). Reads ahead in large blocks (at most up to what is published).
 * Waits up to wait_ms for data. Returns MS_OK (b->n + b->rejected >= 1), MS_EOF (nothing new),
 * MS_ENOMEM (nothing read) or MS_EIO. The read position advances; the committed one does not.
 */
int ms_spool_read(struct ms_spool_reader *r, struct ms_batch *b, size_t max_bytes, int64_t wait_ms);

/* Moves the read position back to the committed one (the batch will be read again). */
void ms_spool_reader_rewind(struct ms_spool_reader *r);

/*
 * Marks everything read so far as delivered: saves the position atomically, then deletes
 * segments every reader has passed. Returns MS_OK or MS_EIO (logged).
 */
int ms_spool_reader_commit(struct ms_spool_reader *r);

/* Committed position of the reader. */
uint64_t ms_spool_reader_committed(struct ms_spool_reader *r);

/*
 * Calls fn for each of the last n records in the spool, oldest first (payload borrowed for the
 * call). Looks at the last two segments at most. Used at start to remember what was spooled last,
 * so that a page fetched again after a crash is recognised. Returns MS_OK or MS_EIO/MS_ENOMEM.
 */
int ms_spool_tail(struct ms_spool *sp,
                  size_t n,
                  void (*fn)(void *arg, const char *data, size_t len),
                  void *arg);

/* Wakes every reader blocked in ms_spool_read (used at shutdown). */
void ms_spool_wake(struct ms_spool *sp);

#endif
