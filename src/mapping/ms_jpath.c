/* JSONPath subset: compiled once when a mapping file loads, evaluated per record without copies. */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_jpath.h"

#define JPATH_MAX_STEPS 32

enum jstep_kind {
    JS_KEY,
    JS_INDEX,
    JS_WILD,
};

struct jstep {
    enum jstep_kind kind;
    char *key;     /* JS_KEY */
    int64_t index; /* JS_INDEX; negative counts from the end */
};

struct ms_jpath {
    char *text;
    struct jstep *steps;
    size_t n;
    bool multi;
};

void ms_jpath_destroy(struct ms_jpath *p)
{
    size_t i;

    if (!p) {
        return;
    }
    for (i = 0; i < p->n; i++) {
        free(p->steps[i].key);
    }
    free(p->steps);
    free(p->text);
    free(p);
}

bool ms_jpath_is_path_text(const char *text)
{
    return text[0] == '$' && (text[1] == '\0' || text[1] == '.' || text[1] == '[');
}

static bool name_char(char c)
{
    return c != '.' && c != '[' && c != ']' && c != '\'' && c != '"' && c != ' ' && c != '\t' &&
           c != '\n' && c != '\r' && c != '\0';
}

static char *dup_range(const char *s, size_t n)
{
    char *r = malloc(n + 1);

    if (r) {
        memcpy(r, s, n);
        r[n] = '\0';
    }
    return r;
}

struct ms_jpath *ms_jpath_compile(const char *text, char *why, size_t why_len)
{
    struct ms_jpath *p;
    const char *s = text;
    const char *err = NULL;
    size_t at = 0;

    p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    p->text = strdup(text);
    p->steps = calloc(JPATH_MAX_STEPS, sizeof(*p->steps));
    if (!p->text || !p->steps) {
        snprintf(why, why_len, "out of memory");
        ms_jpath_destroy(p);
        return NULL;
    }
    if (*s != '$') {
        err = "a path starts with '$'";
        goto out;
    }
    s++;
    while (*s) {
        struct jstep *st;
        const char *start;

        if (p->n == JPATH_MAX_STEPS) {
            err = "too many steps (at most 32)";
            goto out;
        }
        st = &p->steps[p->n];
        at = (size_t)(s - text);
        if (*s == '.') {
            s++;
            if (*s == '*') {
                st->kind = JS_WILD;
                s++;
            }
            else {
                start = s;
                while (name_char(*s)) {
                    s++;
                }
                if (s == start) {
                    err = "expected a member name or '*' after '.'";
                    goto out;
                }
                st->kind = JS_KEY;
                st->key = dup_range(start, (size_t)(s - start));
            }
        }
        else if (*s == '[') {
            s++;
            if (*s == '*') {
                st->kind = JS_WILD;
                s++;
            }
            else if (*s == '\'' || *s == '"') {
                char q = *s++;

                start = s;
                while (*s && *s != q) {
                    s++;
                }
                if (!*s) {
                    err = "unterminated quoted member name";
                    goto out;
                }
                st->kind = JS_KEY;
                st->key = dup_range(start, (size_t)(s - start));
                s++;
            }
            else if (*s == '-' || (*s >= '0' && *s <= '9')) {
                char *stop;
                long long v;

                errno = 0;
                v = strtoll(s, &stop, 10);
                if (errno || stop == s || (*s == '-' && stop == s + 1)) {
                    err = "bad array index";
                    goto out;
                }
                st->kind = JS_INDEX;
                st->index = (int64_t)v;
                s = stop;
            }
            else {
                err = "expected an index, '*' or a quoted name after '['";
                goto out;
            }
            if (*s != ']') {
                at = (size_t)(s - text);
                err = "expected ']'";
                goto out;
            }
            s++;
        }
        else {
            err = "expected '.' or '['";
            goto out;
        }
        if (st->kind == JS_KEY && !st->key) {
            snprintf(why, why_len, "out of memory");
            ms_jpath_destroy(p);
            return NULL;
        }
        if (st->kind == JS_WILD) {
            p->multi = true;
        }
        p->n++;
    }
out:
    if (err) {
        if (p->n < JPATH_MAX_STEPS) {
            free(p->steps[p->n].key); /* a quoted name copied before the step was refused */
        }
        snprintf(why, why_len, "%s at offset %zu", err, at);
        ms_jpath_destroy(p);
        return NULL;
    }
    return p;
}

/* One non-wildcard step; borrowed result or NULL. */
static struct json_object *step_one(struct json_object *cur, const struct jstep *st)
{
    struct json_object *next = NULL;
    int64_t n;
    int64_t i;

    if (st->kind == JS_KEY) {
        if (json_object_is_type(cur, json_type_object)) {
            json_object_object_get_ex(cur, st->key, &next); /* borrowed */
        }
        return next;
    }
    if (!json_object_is_type(cur, json_type_array)) {
        return NULL;
    }
    n = (int64_t)json_object_array_length(cur);
    i = st->index < 0 ? n + st->index : st->index;
    if (i < 0 || i >= n) {
        return NULL;
    }
    return json_object_array_get_idx(cur, (size_t)i); /* borrowed */
}

/* Appends every value reachable from cur by steps[i..] to *acc (created on first use). */
static void
collect(struct json_object *cur, const struct ms_jpath *p, size_t i, struct json_object **acc)
{
    for (; cur && i < p->n && p->steps[i].kind != JS_WILD; i++) {
        cur = step_one(cur, &p->steps[i]);
    }
    if (!cur) {
        return;
    }
    if (i == p->n) {
        if (!*acc) {
            *acc = json_object_new_array();
        }
        if (*acc && json_object_array_add(*acc, json_object_get(cur)) != 0) {
            json_object_put(cur);
        }
        return;
    }
    if (json_object_is_type(cur, json_type_array)) {
        size_t n = json_object_array_length(cur);
        size_t k;

        for (k = 0; k < n; k++) {
            collect(json_object_array_get_idx(cur, k), p, i + 1, acc);
        }
    }
    else if (json_object_is_type(cur, json_type_object)) {
        json_object_object_foreach(cur, key, val) {
            (void)key;
            collect(val, p, i + 1, acc);
        }
    }
}

struct json_object *ms_jpath_eval(const struct ms_jpath *p, struct json_object *root)
{
    struct json_object *cur = root;
    struct json_object *acc = NULL;
    size_t i;

    if (p->multi) {
        collect(root, p, 0, &acc);
        return acc;
    }
    for (i = 0; cur && i < p->n; i++) {
        cur = step_one(cur, &p->steps[i]);
    }
    return json_object_get(cur);
}

bool ms_jpath_is_multi(const struct ms_jpath *p)
{
    return p->multi;
}

const char *ms_jpath_first_key(const struct ms_jpath *p)
{
    return p->n > 0 && p->steps[0].kind == JS_KEY ? p->steps[0].key : NULL;
}

const char *ms_jpath_text(const struct ms_jpath *p)
{
    return p->text;
}
