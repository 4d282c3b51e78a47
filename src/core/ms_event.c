/* Event and batch lifetimes. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_err.h"
#include "ms_event.h"

static void event_clear(struct ms_event *ev)
{
    json_object_put(ev->raw);
    json_object_put(ev->ev);
    free(ev->text);
    memset(ev, 0, sizeof(*ev));
}

int ms_batch_init(struct ms_batch *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->events = calloc(max, sizeof(*b->events));
    if (!b->events) {
        return MS_ENOMEM;
    }
    b->max = max;
    return MS_OK;
}

void ms_batch_reset(struct ms_batch *b)
{
    size_t i;

    for (i = 0; i < b->n; i++) {
        event_clear(&b->events[i]);
    }
    b->n = 0;
    b->rejected = 0;
}

void ms_batch_free(struct ms_batch *b)
{
    if (!b || !b->events) {
        return;
    }
    ms_batch_reset(b);
    free(b->events);
    b->events = NULL;
    b->max = 0;
}

bool ms_batch_full(const struct ms_batch *b)
{
    return b->n >= b->max;
}

int ms_batch_add_record(struct ms_batch *b, const char *source_type, struct json_object *raw)
{
    struct ms_event *ev;

    if (ms_batch_full(b)) {
        json_object_put(raw);
        return MS_ETOOBIG;
    }
    if (strlen(source_type) >= MS_SOURCE_TYPE_MAX) {
        json_object_put(raw);
        return MS_EINVAL;
    }
    ev = &b->events[b->n++];
    memset(ev, 0, sizeof(*ev));
    memcpy(ev->source_type, source_type, strlen(source_type) + 1); /* length checked above */
    ev->raw = raw;
    return MS_OK;
}

int ms_batch_add_spooled(struct ms_batch *b, char *text, size_t len, struct json_object *obj)
{
    struct ms_event *ev;
    struct json_object *st;
    struct json_object *id;

    if (ms_batch_full(b)) {
        free(text);
        json_object_put(obj);
        return MS_ETOOBIG;
    }
    ev = &b->events[b->n++];
    memset(ev, 0, sizeof(*ev));
    ev->text = text;
    ev->text_len = len;
    ev->ev = obj;
    if (json_object_object_get_ex(obj, "source_type", &st)) { /* borrowed */
        snprintf(ev->source_type, sizeof(ev->source_type), "%s", json_object_get_string(st));
    }
    if (json_object_object_get_ex(obj, "id", &id)) { /* borrowed */
        snprintf(ev->id, sizeof(ev->id), "%s", json_object_get_string(id));
    }
    return MS_OK;
}

void ms_batch_compact(struct ms_batch *b, const bool *keep)
{
    size_t i;
    size_t j = 0;

    for (i = 0; i < b->n; i++) {
        if (keep[i]) {
            if (i != j) {
                b->events[j] = b->events[i];
                memset(&b->events[i], 0, sizeof(b->events[i]));
            }
            j++;
        }
        else {
            event_clear(&b->events[i]);
        }
    }
    b->n = j;
}
