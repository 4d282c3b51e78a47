/*
 * A bounded window of the most recent event ids: a ring (oldest evicted first) plus a hash index.
 * The engine fills it from the spool's tail at start and with every spooled batch, and drops
 * events whose id is in it, so a page fetched again after a crash is not spooled twice.
 * @thread the input thread only
 */
#ifndef MS_IDWINDOW_H
#define MS_IDWINDOW_H

#include <stdbool.h>
#include <stddef.h>

struct ms_idwindow;

/* Returns a window holding up to capacity ids (caller destroys), or NULL (out of memory). */
struct ms_idwindow *ms_idwindow_create(size_t capacity);
void ms_idwindow_destroy(struct ms_idwindow *w);

/* True when id is in the window. */
bool ms_idwindow_contains(const struct ms_idwindow *w, const char *id);

/* Adds id (evicting the oldest when full). Ids longer than 64 characters are ignored. */
void ms_idwindow_add(struct ms_idwindow *w, const char *id);

/* Number of ids held. */
size_t ms_idwindow_size(const struct ms_idwindow *w);

#endif
