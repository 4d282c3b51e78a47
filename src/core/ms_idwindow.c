/* Recent-id window: ring buffer + open-addressing index with backward-shift deletion. */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ms_idwindow.h"

#define ID_MAX 64

struct ms_idwindow {
    char (*ids)[ID_MAX + 1]; /* ring of ids */
    size_t capacity;
    size_t head; /* next ring slot to write */
    size_t count;
    uint32_t *slots; /* ring index + 1, 0 = empty */
    size_t n_slots;  /* power of two, >= 2 * capacity */
};

static uint64_t id_hash(const char *id)
{
    uint64_t h = 1469598103934665603ULL;

    while (*id) {
        h ^= (unsigned char)*id++;
        h *= 1099511628211ULL;
    }
    return h;
}

struct ms_idwindow *ms_idwindow_create(size_t capacity)
{
    struct ms_idwindow *w;

    if (capacity == 0 || capacity > UINT32_MAX / 4) {
        return NULL;
    }
    w = calloc(1, sizeof(*w));
    if (!w) {
        return NULL;
    }
    w->capacity = capacity;
    w->n_slots = 16;
    while (w->n_slots < capacity * 2) {
        w->n_slots *= 2;
    }
    w->ids = calloc(capacity, sizeof(*w->ids));
    w->slots = calloc(w->n_slots, sizeof(*w->slots));
    if (!w->ids || !w->slots) {
        ms_idwindow_destroy(w);
        return NULL;
    }
    return w;
}

void ms_idwindow_destroy(struct ms_idwindow *w)
{
    if (!w) {
        return;
    }
    free(w->ids);
    free(w->slots);
    free(w);
}

/* Returns the slot holding id, or the empty slot where it would go. */
static size_t find_slot(const struct ms_idwindow *w, const char *id)
{
    size_t mask = w->n_slots - 1;
    size_t i = (size_t)id_hash(id) & mask;

    while (w->slots[i] && strcmp(w->ids[w->slots[i] - 1], id) != 0) {
        i = (i + 1) & mask;
    }
    return i;
}

bool ms_idwindow_contains(const struct ms_idwindow *w, const char *id)
{
    if (strlen(id) > ID_MAX) {
        return false;
    }
    return w->slots[find_slot(w, id)] != 0;
}

/* Removes the index entry at slot i, shifting later entries of the probe run back. */
static void remove_slot(struct ms_idwindow *w, size_t i)
{
    size_t mask = w->n_slots - 1;
    size_t j = i;

    w->slots[i] = 0;
    for (;;) {
        size_t home;

        j = (j + 1) & mask;
        if (!w->slots[j]) {
            return;
        }
        home = (size_t)id_hash(w->ids[w->slots[j] - 1]) & mask;
        /* Move j back to i unless its home lies cyclically in (i, j]. */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            w->slots[i] = w->slots[j];
            w->slots[j] = 0;
            i = j;
        }
    }
}

void ms_idwindow_add(struct ms_idwindow *w, const char *id)
{
    size_t slot;

    if (strlen(id) > ID_MAX || ms_idwindow_contains(w, id)) {
        return;
    }
    if (w->count == w->capacity) {
        remove_slot(w, find_slot(w, w->ids[w->head]));
        w->count--;
    }
    memcpy(w->ids[w->head], id, strlen(id) + 1);
    slot = find_slot(w, id);
    w->slots[slot] = (uint32_t)w->head + 1;
    w->head = (w->head + 1) % w->capacity;
    w->count++;
}

size_t ms_idwindow_size(const struct ms_idwindow *w)
{
    return w->count;
}
