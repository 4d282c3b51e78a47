/*
 * Durable small files: per-input cursors and per-output spool offsets.
 * Writes are atomic: tmp file + fsync + rename + fsync of the directory, so a crash at any
 * instant leaves either the old or the new content, never a mix.
 */
#ifndef MS_STATE_H
#define MS_STATE_H

#include <json-c/json.h>
#include <stddef.h>

/* Creates dir and its parents (mode 0700). Returns MS_OK or MS_EIO (errno preserved). */
int ms_mkdir_p(const char *dir);

/*
 * First half of an atomic write: writes data to "<path>.tmp" and fsyncs it. The file at path is
 * untouched. Returns MS_OK or MS_EIO.
 */
int ms_atomic_write_prepare(const char *path, const void *data, size_t len);

/* Second half: renames "<path>.tmp" over path and fsyncs the directory. MS_OK or MS_EIO. */
int ms_atomic_write_commit(const char *path);

/* Both halves. MS_OK or MS_EIO. Logs nothing; the caller logs with its context. */
int ms_atomic_write(const char *path, const void *data, size_t len);

/*
 * Reads the cursor of instance name from "<state_dir>/inputs/<name>.json".
 * Returns MS_OK with *out set (caller puts it), MS_EOF when there is none yet (a fresh start;
 * a leftover .tmp from a crash is ignored), MS_EINVAL when the file is not valid JSON, MS_EIO.
 */
int ms_state_load(const char *state_dir, const char *name, struct json_object **out);

/* Saves the cursor atomically. Borrows cursor. Returns MS_OK or MS_EIO. */
int ms_state_save(const char *state_dir, const char *name, struct json_object *cursor);

#endif
