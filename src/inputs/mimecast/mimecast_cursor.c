/* Mimecast input: per-stream windows, walks and the bounded set of identities seen (pure). */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/ms_err.h"
#include "mimecast_cursor.h"

#define SEEN_MIN_CAP 64

/* ------------------------------------------------------------------------------------------
 * Seen set
 */

static size_t slot_of(uint64_t key, size_t cap)
{
    /* keys are FNV hashes already; mix once more so low bits spread */
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t)(key & (cap - 1));
}

void mc_seen_free(struct mc_seen *s)
{
    if (!s) {
        return;
    }
    free(s->slots);
    memset(s, 0, sizeof(*s));
}

void mc_seen_reset(struct mc_seen *s)
{
    if (s->slots) {
        memset(s->slots, 0, s->cap * sizeof(*s->slots));
    }
    s->n = 0;
    s->min_t = 0;
}

bool mc_seen_has(const struct mc_seen *s, uint64_t key)
{
    size_t i;

    if (!s->n) {
        return false;
    }
    for (i = slot_of(key, s->cap); s->slots[i].key; i = (i + 1) & (s->cap - 1)) {
        if (s->slots[i].key == key) {
            return true;
        }
    }
    return false;
}

static void
insert_slot(struct mc_seen_entry *slots, size_t cap, uint64_t key, int64_t t, bool *added)
{
    size_t i;

    *added = false;
    for (i = slot_of(key, cap); slots[i].key; i = (i + 1) & (cap - 1)) {
        if (slots[i].key == key) {
            if (t > slots[i].t) {
                slots[i].t = t;
            }
            return;
        }
    }
    slots[i].key = key;
    slots[i].t = t;
    *added = true;
}

static int rehash(struct mc_seen *s, size_t cap)
{
    struct mc_seen_entry *slots = calloc(cap, sizeof(*slots));
    bool added;
    size_t i;

    if (!slots) {
        return MS_ENOMEM;
    }
    for (i = 0; i < s->cap; i++) {
        if (s->slots[i].key) {
            insert_slot(slots, cap, s->slots[i].key, s->slots[i].t, &added);
        }
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return MS_OK;
}

int mc_seen_add(struct mc_seen *s, uint64_t key, int64_t t)
{
    bool added;

    if ((s->n + 1) * 2 > s->cap) {
        int ret = rehash(s, s->cap ? s->cap * 2 : SEEN_MIN_CAP);

        if (ret != MS_OK) {
            return ret;
        }
    }
    insert_slot(s->slots, s->cap, key ? key : 1, t, &added);
    if (added) {
        if (s->n == 0 || t < s->min_t) {
            s->min_t = t;
        }
        s->n++;
    }
    return MS_OK;
}

int mc_seen_merge(struct mc_seen *s, const struct mc_seen *from)
{
    size_t i;
    int ret;

    for (i = 0; i < from->cap; i++) {
        if (from->slots[i].key) {
            ret = mc_seen_add(s, from->slots[i].key, from->slots[i].t);
            if (ret != MS_OK) {
                return ret;
            }
        }
    }
    return MS_OK;
}

static int cmp_newest_first(const void *a, const void *b)
{
    const struct mc_seen_entry *x = a;
    const struct mc_seen_entry *y = b;

    return (x->t < y->t) - (x->t > y->t);
}

int mc_seen_prune(struct mc_seen *s, int64_t keep_from, size_t max, size_t *over)
{
    struct mc_seen_entry *keep;
    struct mc_seen kept;
    size_t n = 0;
    size_t i;
    int ret = MS_OK;

    *over = 0;
    if (s->n == 0 || (s->min_t >= keep_from && s->n <= max)) {
        return MS_OK;
    }
    keep = malloc(s->n * sizeof(*keep));
    if (!keep) {
        return MS_ENOMEM;
    }
    for (i = 0; i < s->cap; i++) {
        if (s->slots[i].key && s->slots[i].t >= keep_from) {
            keep[n++] = s->slots[i];
        }
    }
    if (n > max) {
        qsort(keep, n, sizeof(*keep), cmp_newest_first);
        *over = n - max;
        n = max;
    }
    memset(&kept, 0, sizeof(kept));
    for (i = 0; i < n && ret == MS_OK; i++) {
        ret = mc_seen_add(&kept, keep[i].key, keep[i].t);
    }
    free(keep);
    if (ret != MS_OK) {
        mc_seen_free(&kept);
        *over = 0;
        return ret;
    }
    mc_seen_free(s);
    *s = kept;
    return MS_OK;
}

/* ------------------------------------------------------------------------------------------
 * Cursor and walks
 */

void mc_cursor_free(struct mc_cursor *c)
{
    if (!c) {
        return;
    }
    free(c->walk.token);
    memset(c, 0, sizeof(*c));
}

int mc_cursor_copy(struct mc_cursor *dst, const struct mc_cursor *src)
{
    mc_cursor_free(dst);
    *dst = *src;
    dst->walk.token = NULL;
    if (src->walk.token) {
        dst->walk.token = strdup(src->walk.token);
        if (!dst->walk.token) {
            memset(dst, 0, sizeof(*dst));
            return MS_ENOMEM;
        }
    }
    return MS_OK;
}

int mc_walk_set_token(struct mc_walk *w, const char *token)
{
    char *copy = NULL;

    if (token) {
        copy = strdup(token);
        if (!copy) {
            return MS_ENOMEM;
        }
    }
    free(w->token);
    w->token = copy;
    return MS_OK;
}

void mc_cursor_start_walk(struct mc_cursor *c,
                          int64_t now,
                          int64_t overlap_s,
                          int64_t window_max_s,
                          int64_t floor,
                          bool *floored)
{
    struct mc_walk *w = &c->walk;
    int64_t from = c->fresh ? c->done : c->done - overlap_s;
    int64_t to = now;

    *floored = false;
    if (floor != INT64_MIN && from < floor) {
        from = floor;
        *floored = true;
    }
    if (from > now) {
        from = now; /* the clock went back: ask for the present, the seen set drops repeats */
    }
    if (window_max_s > 0 && to - from > window_max_s) {
        to = from + window_max_s;
    }
    free(w->token);
    memset(w, 0, sizeof(*w));
    w->active = true;
    w->from = from;
    w->to = to;
    w->sorted = true;
}

void mc_page_stats_init(struct mc_page_stats *ps)
{
    memset(ps, 0, sizeof(*ps));
    ps->sorted = true;
}

void mc_page_stats_add(struct mc_page_stats *ps, int64_t t)
{
    if (!ps->any) {
        ps->any = true;
        ps->min_t = t;
        ps->max_t = t;
        return;
    }
    if (t < ps->max_t) {
        ps->sorted = false;
    }
    if (t < ps->min_t) {
        ps->min_t = t;
    }
    if (t > ps->max_t) {
        ps->max_t = t;
    }
}

void mc_walk_page_done(struct mc_walk *w, const struct mc_page_stats *ps)
{
    w->page++;
    if (!ps->any) {
        return;
    }
    if (!ps->sorted || (w->any && ps->min_t < w->max_t)) {
        w->sorted = false;
    }
    if (!w->any || ps->max_t > w->max_t) {
        w->max_t = ps->max_t;
    }
    w->any = true;
}

bool mc_cursor_lane_done(struct mc_cursor *c, unsigned lanes)
{
    struct mc_walk *w = &c->walk;

    free(w->token);
    w->token = NULL;
    w->page = 0;
    w->lane++;
    if (w->lane < lanes) {
        return false;
    }
    if (w->to > c->done) {
        c->done = w->to;
    }
    c->fresh = false;
    memset(w, 0, sizeof(*w));
    return true;
}

void mc_walk_restart(struct mc_walk *w, unsigned lanes)
{
    free(w->token);
    w->token = NULL;
    w->page = 0;
    if (lanes == 1 && w->sorted && w->any && w->max_t > w->from) {
        w->from = w->max_t;
    }
}

int64_t mc_cursor_keep_from(const struct mc_cursor *c, int64_t overlap_s, unsigned lanes)
{
    const struct mc_walk *w = &c->walk;

    if (!w->active) {
        return c->done - overlap_s;
    }
    if (lanes == 1 && w->sorted && w->any) {
        /* a restart resumes at max_t; the next walk starts at to - overlap */
        return w->max_t < w->to - overlap_s ? w->max_t : w->to - overlap_s;
    }
    return w->from < c->done - overlap_s ? w->from : c->done - overlap_s;
}

/* ------------------------------------------------------------------------------------------
 * JSON
 */

static int cmp_oldest_first(const void *a, const void *b)
{
    const struct mc_seen_entry *x = a;
    const struct mc_seen_entry *y = b;

    if (x->t != y->t) {
        return (x->t > y->t) - (x->t < y->t);
    }
    return (x->key > y->key) - (x->key < y->key);
}

static int add_int(struct json_object *o, const char *key, int64_t v)
{
    struct json_object *j = json_object_new_int64(v);

    if (!j || json_object_object_add(o, key, j) != 0) {
        json_object_put(j);
        return MS_ENOMEM;
    }
    return MS_OK;
}

static int add_bool(struct json_object *o, const char *key, bool v)
{
    struct json_object *j = json_object_new_boolean(v);

    if (!j || json_object_object_add(o, key, j) != 0) {
        json_object_put(j);
        return MS_ENOMEM;
    }
    return MS_OK;
}

static struct json_object *seen_to_json(const struct mc_seen *seen)
{
    struct json_object *o = json_object_new_object();
    struct mc_seen_entry *all = NULL;
    char *text = NULL;
    size_t n = 0;
    size_t i;
    size_t j;

    if (!o) {
        return NULL;
    }
    if (seen->n == 0) {
        return o;
    }
    all = malloc(seen->n * sizeof(*all));
    text = malloc(seen->n * 16 + 1);
    if (!all || !text) {
        goto fail;
    }
    for (i = 0; i < seen->cap; i++) {
        if (seen->slots[i].key) {
            all[n++] = seen->slots[i];
        }
    }
    qsort(all, n, sizeof(*all), cmp_oldest_first);
    for (i = 0; i < n; i = j) {
        struct json_object *v;
        char tkey[24];
        size_t len = 0;

        for (j = i; j < n && all[j].t == all[i].t; j++) {
            snprintf(text + len, 17, "%016" PRIx64, all[j].key);
            len += 16;
        }
        snprintf(tkey, sizeof(tkey), "%" PRId64, all[i].t);
        v = json_object_new_string_len(text, (int)len);
        if (!v || json_object_object_add(o, tkey, v) != 0) {
            json_object_put(v);
            goto fail;
        }
    }
    free(all);
    free(text);
    return o;
fail:
    free(all);
    free(text);
    json_object_put(o);
    return NULL;
}

struct json_object *mc_cursor_to_json(const struct mc_cursor *c, const struct mc_seen *seen)
{
    struct json_object *o = json_object_new_object();
    struct json_object *w = NULL;
    struct json_object *s;
    int ret;

    if (!o) {
        return NULL;
    }
    ret = add_int(o, "done", c->done);
    if (ret == MS_OK) {
        ret = add_bool(o, "fresh", c->fresh);
    }
    if (ret == MS_OK && c->walk.active) {
        w = json_object_new_object();
        if (!w || json_object_object_add(o, "walk", w) != 0) {
            json_object_put(w);
            ret = MS_ENOMEM;
        }
    }
    if (ret == MS_OK && w) {
        ret = add_int(w, "from", c->walk.from);
        ret = ret ? ret : add_int(w, "to", c->walk.to);
        ret = ret ? ret : add_int(w, "lane", c->walk.lane);
        ret = ret ? ret : add_int(w, "page", c->walk.page);
        ret = ret ? ret : add_bool(w, "sorted", c->walk.sorted);
        if (ret == MS_OK && c->walk.any) {
            ret = add_int(w, "max", c->walk.max_t);
        }
        if (ret == MS_OK && c->walk.token) {
            struct json_object *t = json_object_new_string(c->walk.token);

            if (!t || json_object_object_add(w, "token", t) != 0) {
                json_object_put(t);
                ret = MS_ENOMEM;
            }
        }
    }
    if (ret == MS_OK) {
        s = seen_to_json(seen);
        if (!s || json_object_object_add(o, "seen", s) != 0) {
            json_object_put(s);
            ret = MS_ENOMEM;
        }
    }
    if (ret != MS_OK) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static bool get_int(struct json_object *o, const char *key, int64_t *out, bool required)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, key, &v)) { /* borrowed */
        return !required;
    }
    if (!json_object_is_type(v, json_type_int)) {
        return false;
    }
    *out = json_object_get_int64(v);
    return true;
}

static bool get_bool(struct json_object *o, const char *key, bool *out)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, key, &v)) { /* borrowed */
        return true;
    }
    if (!json_object_is_type(v, json_type_boolean)) {
        return false;
    }
    *out = json_object_get_boolean(v);
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

static int seen_from_json(struct json_object *o, struct mc_seen *seen, char *why, size_t why_len)
{
    json_object_object_foreach(o, tkey, val) {
        const char *text;
        int64_t t;
        char *end;
        size_t len;
        size_t i;
        size_t k;

        errno = 0;
        t = strtoll(tkey, &end, 10);
        if (errno || *end != '\0' || end == tkey || !json_object_is_type(val, json_type_string)) {
            snprintf(why, why_len, "seen: bad entry '%s'", tkey);
            return MS_EINVAL;
        }
        text = json_object_get_string(val);
        len = (size_t)json_object_get_string_len(val);
        if (len % 16 != 0) {
            snprintf(why, why_len, "seen: entry '%s' is not a list of 16-digit keys", tkey);
            return MS_EINVAL;
        }
        for (i = 0; i < len; i += 16) {
            uint64_t key = 0;

            for (k = 0; k < 16; k++) {
                int h = hexval(text[i + k]);

                if (h < 0) {
                    snprintf(why, why_len, "seen: entry '%s' holds a non-hex key", tkey);
                    return MS_EINVAL;
                }
                key = key << 4 | (uint64_t)h;
            }
            if (mc_seen_add(seen, key, t) != MS_OK) {
                return MS_ENOMEM;
            }
        }
    }
    return MS_OK;
}

int mc_cursor_from_json(
    struct json_object *o, struct mc_cursor *c, struct mc_seen *seen, char *why, size_t why_len)
{
    struct json_object *w;
    struct json_object *v;
    int64_t n;

    mc_cursor_free(c);
    if (!json_object_is_type(o, json_type_object) || !get_int(o, "done", &c->done, true) ||
        !get_bool(o, "fresh", &c->fresh)) {
        snprintf(why, why_len, "done/fresh missing or of the wrong type");
        return MS_EINVAL;
    }
    if (json_object_object_get_ex(o, "walk", &w) && w) { /* borrowed */
        struct mc_walk *wk = &c->walk;

        wk->active = true;
        wk->sorted = true;
        n = 0;
        if (!json_object_is_type(w, json_type_object) || !get_int(w, "from", &wk->from, true) ||
            !get_int(w, "to", &wk->to, true) || !get_int(w, "lane", &n, false) || n < 0 ||
            n > 100000 || !get_bool(w, "sorted", &wk->sorted)) {
            snprintf(why, why_len, "walk: from/to/lane missing or of the wrong type");
            mc_cursor_free(c);
            return MS_EINVAL;
        }
        wk->lane = (unsigned)n;
        n = 0;
        if (!get_int(w, "page", &n, false) || n < 0) {
            n = 0;
        }
        wk->page = (unsigned)(n > 1000000 ? 1000000 : n);
        if (json_object_object_get_ex(w, "max", &v)) { /* borrowed */
            if (!get_int(w, "max", &wk->max_t, true)) {
                snprintf(why, why_len, "walk: max of the wrong type");
                mc_cursor_free(c);
                return MS_EINVAL;
            }
            wk->any = true;
        }
        if (json_object_object_get_ex(w, "token", &v)) { /* borrowed */
            if (!json_object_is_type(v, json_type_string) ||
                mc_walk_set_token(wk, json_object_get_string(v)) != MS_OK) {
                snprintf(why, why_len, "walk: token of the wrong type");
                mc_cursor_free(c);
                return MS_EINVAL;
            }
        }
    }
    if (json_object_object_get_ex(o, "seen", &v) && v) { /* borrowed */
        int ret;

        if (!json_object_is_type(v, json_type_object)) {
            snprintf(why, why_len, "seen is not an object");
            mc_cursor_free(c);
            return MS_EINVAL;
        }
        ret = seen_from_json(v, seen, why, why_len);
        if (ret != MS_OK) {
            mc_cursor_free(c);
            return ret;
        }
    }
    return MS_OK;
}
