/* Event and batch lifetimes. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_err.h"
#include "ms_event.h"
#include "ms_json.h"

#define TEXT_CHUNK     ((size_t)1 << 20)  /* text store grows by this much (or one big text) */
#define TEXT_KEEP      ((size_t)16 << 20) /* text store kept across resets */
#define SCRATCH_MAX    ((size_t)MS_CAP_EVENT + 16)
#define KEY_IS(m, lit) ((m)->key_len == sizeof(lit) - 1 && memcmp((m)->key, lit, (m)->key_len) == 0)
#define CHUNK_ROOM(c)  ((c)->cap - (c)->used)

/* One block of the batch's text store; chunks are reused in list order after a reset. */
struct ms_text_chunk {
    struct ms_text_chunk *next;
    size_t cap;
    size_t used;
    char data[];
};

static void event_clear(struct ms_event *ev)
{
    json_object_put(ev->raw);
    json_object_put(ev->ev);
    if (!ev->text_in_batch) {
        free(ev->text);
    }
    memset(ev, 0, sizeof(*ev));
}

/* Rewinds the text store, freeing what is past TEXT_KEEP (and any chunk larger than a normal). */
static void text_store_reset(struct ms_batch *b, bool all)
{
    struct ms_text_chunk **pc = &b->chunks;
    size_t kept = 0;

    while (*pc) {
        struct ms_text_chunk *c = *pc;

        if (all || c->cap > TEXT_CHUNK || kept + c->cap > TEXT_KEEP) {
            *pc = c->next;
            free(c);
            continue;
        }
        c->used = 0;
        kept += c->cap;
        pc = &c->next;
    }
}

/* n bytes from the text store (valid until the batch is reset), or NULL. First fit: a batch
 * uses a few chunks at most. */
static char *text_store_alloc(struct ms_batch *b, size_t n)
{
    struct ms_text_chunk **pc = &b->chunks;
    struct ms_text_chunk *c;
    char *p;

    while (*pc && CHUNK_ROOM(*pc) < n) {
        pc = &(*pc)->next;
    }
    c = *pc;
    if (!c) {
        size_t cap = n > TEXT_CHUNK ? n : TEXT_CHUNK;

        c = malloc(sizeof(*c) + cap);
        if (!c) {
            return NULL;
        }
        c->next = NULL;
        c->cap = cap;
        c->used = 0;
        *pc = c;
    }
    p = c->data + c->used;
    c->used += n;
    return p;
}

/* Gives back the last allocation p of n bytes (a text that was refused). */
static void text_store_unalloc(struct ms_batch *b, const char *p, size_t n)
{
    struct ms_text_chunk *c;

    for (c = b->chunks; c; c = c->next) {
        if (p >= c->data && p < c->data + c->cap) {
            if (p + n == c->data + c->used) {
                c->used -= n;
            }
            return;
        }
    }
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
    text_store_reset(b, false);
}

void ms_batch_free(struct ms_batch *b)
{
    if (!b || !b->events) {
        return;
    }
    ms_batch_reset(b);
    text_store_reset(b, true);
    if (b->tok) {
        json_tokener_free(b->tok);
        b->tok = NULL;
    }
    ms_buf_free(b->scratch);
    free(b->scratch);
    b->scratch = NULL;
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

#define SCAN_SPANS 64 /* top-level members remembered by the scan (more: scanned again) */

/* What the strict scan of a spooled text found at the top level (last occurrence of each key). */
struct text_scan {
    enum ms_event_view view;
    const char *id; /* raw string bytes, or NULL */
    size_t id_len;
    const char *st;
    size_t st_len;
    bool id_plain;    /* the last "id" is a string without escapes (or there is none) */
    bool st_plain;    /* the same for "source_type" */
    bool escaped_key; /* some key holds an escape: it might spell "raw" or "id" */
    bool has_raw;
    size_t n_left_out; /* members the view leaves out */
    size_t n_members;
    struct {
        size_t start;
        size_t end;
        bool out;
    } spans[SCAN_SPANS];
};

/* True when view leaves the member with this (unescaped) key out of ev->ev. */
static bool left_out(enum ms_event_view view, const char *key, size_t len)
{
    if (len == 3 && memcmp(key, "raw", 3) == 0) {
        return view == MS_VIEW_NO_RAW || view == MS_VIEW_NORMALIZED;
    }
    return view == MS_VIEW_NORMALIZED && len == 6 && memcmp(key, "fields", 6) == 0;
}

/* The bytes of a string value without its quotes when it holds no escape. */
static bool plain_string(const struct ms_json_member *m, const char **s, size_t *len)
{
    if (m->val_len < 2 || m->val[0] != '"' || memchr(m->val, '\\', m->val_len)) {
        return false;
    }
    *s = m->val + 1;
    *len = m->val_len - 2;
    return true;
}

static void note_member(void *arg, const struct ms_json_member *m)
{
    struct text_scan *sc = arg;
    bool out = false;

    if (memchr(m->key, '\\', m->key_len)) {
        sc->escaped_key = true;
    }
    else {
        out = left_out(sc->view, m->key, m->key_len);
        if (KEY_IS(m, "id")) {
            sc->id_plain = plain_string(m, &sc->id, &sc->id_len);
        }
        else if (KEY_IS(m, "source_type")) {
            sc->st_plain = plain_string(m, &sc->st, &sc->st_len);
        }
        else if (KEY_IS(m, "raw")) {
            sc->has_raw = true;
        }
    }
    if (sc->n_members < SCAN_SPANS) {
        sc->spans[sc->n_members].start = m->start;
        sc->spans[sc->n_members].end = m->end;
        sc->spans[sc->n_members].out = out;
    }
    sc->n_members++;
    sc->n_left_out += out;
}

struct keep_arg {
    struct ms_buf *out;
    enum ms_event_view view;
};

/* Second scan, for texts with more members than SCAN_SPANS: collects the kept ones. */
static void keep_member(void *arg, const struct ms_json_member *m)
{
    struct keep_arg *k = arg;

    if (left_out(k->view, m->key, m->key_len) || !k->out->data) {
        return;
    }
    if (k->out->len > 1) {
        ms_buf_putc(k->out, ',');
    }
    ms_buf_append(k->out, m->key - 1, m->end - m->start);
}

/* json_tokener_parse with the batch's tokener: the same acceptance, no tokener per call. */
static struct json_object *parse_object(struct ms_batch *b, const char *text)
{
    struct json_object *obj;

    if (!b->tok) {
        b->tok = json_tokener_new();
        if (!b->tok) {
            return NULL;
        }
    }
    json_tokener_reset(b->tok);
    obj = json_tokener_parse_ex(b->tok, text, -1);
    if (json_tokener_get_error(b->tok) != json_tokener_success ||
        !json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

/* The members the view keeps, parsed from the strictly scanned text ("{m1,m2,...}"). */
static struct json_object *
parse_kept(struct ms_batch *b, const char *text, size_t len, const struct text_scan *sc)
{
    struct ms_buf *out;
    size_t i;

    if (!b->scratch) {
        b->scratch = calloc(1, sizeof(*b->scratch));
        if (!b->scratch) {
            return NULL;
        }
        ms_buf_init(b->scratch, SCRATCH_MAX);
    }
    out = b->scratch;
    ms_buf_reset(out);
    if (ms_buf_putc(out, '{') != MS_OK) {
        return NULL;
    }
    if (sc->n_members <= SCAN_SPANS) {
        for (i = 0; i < sc->n_members; i++) {
            if (sc->spans[i].out) {
                continue;
            }
            if (out->len > 1) {
                ms_buf_putc(out, ',');
            }
            ms_buf_append(out, text + sc->spans[i].start, sc->spans[i].end - sc->spans[i].start);
        }
    }
    else {
        struct keep_arg k = {out, sc->view};

        (void)ms_json_scan(text, len, keep_member, &k);
    }
    if (ms_buf_putc(out, '}') != MS_OK) {
        return NULL; /* the buffer ran out (and was freed): nothing usable */
    }
    return parse_object(b, ms_buf_cstr(out));
}

static void copy_field(char *dst, size_t size, const char *s, size_t len)
{
    if (len >= size) {
        len = size - 1;
    }
    memcpy(dst, s, len);
    dst[len] = '\0';
}

int ms_batch_add_text(struct ms_batch *b, const char *text, size_t len, enum ms_event_view view)
{
    struct text_scan sc;
    struct json_object *obj = NULL;
    struct json_object *v;
    struct ms_event *ev;
    bool strict;
    bool fast;
    bool plain_ids;
    bool partial = false;
    char *copy;

    if (ms_batch_full(b)) {
        return MS_ETOOBIG;
    }
    /* The copy is NUL-terminated, as json-c's tokener wants it. */
    copy = text_store_alloc(b, len + 1);
    if (!copy) {
        return MS_ENOMEM;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    text = copy;
    sc.view = view;
    sc.id = NULL;
    sc.st = NULL;
    sc.id_plain = true;
    sc.st_plain = true;
    sc.escaped_key = false;
    sc.has_raw = false;
    sc.n_left_out = 0;
    sc.n_members = 0;
    /* A strictly valid object is one json-c accepts too, with the same members; anything else
     * is left to json-c, so the verdict on odd texts stays json_tokener_parse's. */
    strict = ms_json_scan(text, len, note_member, &sc);
    fast = strict && !sc.escaped_key;
    plain_ids = fast && sc.id_plain && sc.st_plain;
    if (fast && sc.n_left_out > 0 && view != MS_VIEW_TEXT) {
        obj = parse_kept(b, text, len, &sc);
        partial = true;
    }
    else if (view != MS_VIEW_TEXT || !plain_ids) {
        obj = parse_object(b, text);
    }
    if (!obj && (view != MS_VIEW_TEXT || !plain_ids)) {
        text_store_unalloc(b, copy, len + 1);
        return MS_EINVAL; /* as json_tokener_parse, which also says NULL when memory ran out */
    }
    if (!fast && obj) {
        /* json-c parsed the whole odd text: take out what the view leaves out */
        sc.has_raw = json_object_object_get_ex(obj, "raw", NULL);
        if (left_out(view, "raw", 3) && sc.has_raw) {
            json_object_object_del(obj, "raw");
            partial = true;
        }
        if (left_out(view, "fields", 6) && json_object_object_get_ex(obj, "fields", NULL)) {
            json_object_object_del(obj, "fields");
            partial = true;
        }
    }
    ev = &b->events[b->n++];
    memset(ev, 0, sizeof(*ev));
    ev->text = copy;
    ev->text_len = len;
    ev->text_in_batch = true;
    if (plain_ids) {
        if (sc.st) {
            copy_field(ev->source_type, sizeof(ev->source_type), sc.st, sc.st_len);
        }
        if (sc.id) {
            copy_field(ev->id, sizeof(ev->id), sc.id, sc.id_len);
        }
    }
    else {
        /* As ms_batch_add_spooled: json-c's string form of whatever the keys hold (the view
         * never leaves these two out). */
        if (json_object_object_get_ex(obj, "source_type", &v)) { /* borrowed */
            snprintf(ev->source_type, sizeof(ev->source_type), "%s", json_object_get_string(v));
        }
        if (json_object_object_get_ex(obj, "id", &v)) { /* borrowed */
            snprintf(ev->id, sizeof(ev->id), "%s", json_object_get_string(v));
        }
    }
    ev->raw_stripped = sc.has_raw && left_out(view, "raw", 3);
    ev->partial = partial || view == MS_VIEW_TEXT;
    if (view == MS_VIEW_TEXT) {
        json_object_put(obj);
        obj = NULL;
    }
    ev->ev = obj;
    return MS_OK;
}

size_t ms_batch_text_store_size(const struct ms_batch *b)
{
    const struct ms_text_chunk *c;
    size_t n = 0;

    for (c = b->chunks; c; c = c->next) {
        n += c->cap;
    }
    return n;
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
