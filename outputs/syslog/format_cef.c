/*
 * CEF encoder (ArcSight CEF implementation standard): header fields escaped with \| and \\,
 * extension values with \\, \= and \n / \r; field lengths as the standard limits them.
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../../src/core/ms_err.h"
#include "syslog_format.h"

/* Header lengths from the CEF standard. */
#define CEF_VENDOR_MAX  63
#define CEF_PRODUCT_MAX 63
#define CEF_VERSION_MAX 31
#define CEF_CLASS_MAX   1023
#define CEF_NAME_MAX    512
/* Extension lengths. */
#define CEF_ACT_MAX  63
#define CEF_APP_MAX  31
#define CEF_USER_MAX 1023
#define CEF_HASH_MAX 255
#define CEF_CS_MAX   4000
#define CEF_FLEX_MAX 1023
#define CEF_LONG_MAX 1023

struct cef_w {
    const struct sl_format_opts *o;
    const struct ms_event *ev;
    struct ms_buf *out;
    bool first;
    int ret;
};

static size_t ext_begin(struct cef_w *w, const char *key)
{
    size_t mark = w->out->len;

    if (w->ret == MS_OK && !w->first) {
        w->ret = ms_buf_putc(w->out, ' ');
    }
    if (w->ret == MS_OK) {
        w->ret = ms_buf_puts(w->out, key);
    }
    if (w->ret == MS_OK) {
        w->ret = ms_buf_putc(w->out, '=');
    }
    return mark;
}

static void ext_end(struct cef_w *w, size_t mark, bool wrote)
{
    if (w->ret != MS_OK) {
        return;
    }
    if (wrote) {
        w->first = false;
    }
    else {
        sl_buf_cut(w->out, mark);
    }
}

/* Writes key=value when v yields text; returns whether it did. */
static bool ext_json(struct cef_w *w, const char *key, struct json_object *v, size_t max)
{
    size_t mark;
    bool wrote = false;

    if (!v || w->ret != MS_OK) {
        return false;
    }
    mark = ext_begin(w, key);
    if (w->ret == MS_OK) {
        w->ret = sl_put_value(w->out, v, &w->o->cef_value, max, &wrote);
    }
    ext_end(w, mark, wrote);
    return wrote && w->ret == MS_OK;
}

static void ext_key(struct cef_w *w, const char *cef_key, const char *ev_key, size_t max)
{
    ext_json(w, cef_key, sl_ev_get(w->ev, ev_key), max);
}

static bool ext_text(struct cef_w *w, const char *key, const char *s, size_t max)
{
    size_t mark;
    size_t before;
    bool wrote;

    if (w->ret != MS_OK) {
        return false;
    }
    mark = ext_begin(w, key);
    before = w->out->len;
    if (w->ret == MS_OK) {
        w->ret = sl_put_text(w->out, s, strlen(s), &w->o->cef_value, max);
    }
    wrote = w->ret == MS_OK && w->out->len > before;
    ext_end(w, mark, wrote);
    return wrote;
}

static void ext_int(struct cef_w *w, const char *key, int64_t v)
{
    size_t mark;

    if (w->ret != MS_OK) {
        return;
    }
    mark = ext_begin(w, key);
    if (w->ret == MS_OK) {
        w->ret = sl_put_i64(w->out, v);
    }
    ext_end(w, mark, true);
}

/*
 * Custom slots are written as "<slot>Label=<name> <slot>=<value>": label_begin writes the label
 * and returns where to cut back to; label_end removes the label again when no value followed.
 */
struct cef_label {
    size_t mark;
    bool first;
};

static struct cef_label label_begin(struct cef_w *w, const char *slot, const char *label)
{
    struct cef_label l = {.mark = w->out->len, .first = w->first};
    char key[32];

    (void)snprintf(key, sizeof(key), "%sLabel", slot); /* slots are short constants */
    ext_text(w, key, label, CEF_LONG_MAX);
    return l;
}

static void label_end(struct cef_w *w, struct cef_label l, bool wrote)
{
    if (!wrote && w->ret == MS_OK) {
        sl_buf_cut(w->out, l.mark);
        w->first = l.first;
    }
}

static void
ext_labeled(struct cef_w *w, const char *slot, const char *label, struct json_object *v, size_t max)
{
    struct cef_label l;

    if (!v || w->ret != MS_OK) {
        return;
    }
    l = label_begin(w, slot, label);
    label_end(w, l, ext_json(w, slot, v, max));
}

static int put_header(const struct sl_format_opts *o, struct ms_buf *out, const char *s, size_t max)
{
    int ret = sl_put_text(out, s, strlen(s), &o->cef_header, max);

    return ret == MS_OK ? ms_buf_putc(out, '|') : ret;
}

static const char *pick(const char *conf, const char *profile, const char *event, const char *def)
{
    if (conf && conf[0]) {
        return conf;
    }
    if (profile) {
        return profile;
    }
    return event && event[0] ? event : def;
}

int sl_format_cef(const struct sl_format_opts *o, const struct ms_event *ev, struct ms_buf *out)
{
    const char *st = sl_ev_source_type(ev);
    const struct sl_profile *p = sl_profile_get(o->profiles, st);
    struct cef_w w = {.o = o, .ev = ev, .out = out, .first = true, .ret = MS_OK};
    struct json_object *mitre;
    char derived[MS_SOURCE_TYPE_MAX];
    const char *class_id;
    const char *name;
    const char *s;
    int64_t n;
    size_t mark;
    int ret;

    ret = ms_buf_puts(out, "CEF:0|");
    if (ret == MS_OK) {
        ret = put_header(o, out, pick(o->vendor, p->vendor, sl_ev_str(ev, "vendor"), "Unknown"),
                         CEF_VENDOR_MAX);
    }
    if (ret == MS_OK) {
        ret = put_header(o, out, pick(o->product, p->product, sl_ev_str(ev, "product"), "Unknown"),
                         CEF_PRODUCT_MAX);
    }
    if (ret == MS_OK) {
        ret = put_header(o, out, pick(o->version, p->version, NULL, "1.0"), CEF_VERSION_MAX);
    }
    sl_derive_event_id(st, derived, sizeof(derived));
    class_id = pick(o->event_id, p->event_id, NULL, derived);
    if (ret == MS_OK) {
        ret = put_header(o, out, class_id, CEF_CLASS_MAX);
    }
    name = sl_ev_str(ev, "alert_type");
    if (ret == MS_OK) {
        ret = put_header(o, out, name && name[0] ? name : class_id, CEF_NAME_MAX);
    }
    if (ret == MS_OK) {
        ret = sl_ev_int(ev, "severity", &n) ? ms_buf_printf(out, "%d|",
                                                            (int)(n < 0    ? 0
                                                                  : n > 10 ? 10
                                                                           : n))
                                            : ms_buf_puts(out, "Unknown|");
    }
    if (ret != MS_OK) {
        return ret;
    }

    if (sl_ev_time_ms(ev, &n)) {
        ext_int(&w, "rt", n);
    }
    mark = ext_begin(&w, "cat");
    if (w.ret == MS_OK) {
        w.ret = sl_put_cat(out, p, ev);
    }
    ext_end(&w, mark, true);
    ext_key(&w, "act", "action", CEF_ACT_MAX);
    ext_key(&w, "suser", "sender", CEF_USER_MAX);
    ext_key(&w, "duser", "recipient", CEF_USER_MAX);
    s = sl_ev_str(ev, "src_ip");
    if (s && sl_is_ip(s)) {
        ext_text(&w, "src", s, CEF_LONG_MAX);
    }
    if (sl_ev_int(ev, "src_port", &n) && n >= 0 && n <= 65535) {
        ext_int(&w, "spt", n);
    }
    s = sl_ev_str(ev, "dest");
    if (s) {
        ext_text(&w, sl_is_ip(s) ? "dst" : "dhost", s, CEF_LONG_MAX);
    }
    if (sl_ev_int(ev, "dest_port", &n) && n >= 0 && n <= 65535) {
        ext_int(&w, "dpt", n);
    }
    ext_key(&w, "app", "protocol", CEF_APP_MAX);
    ext_key(&w, "request", "url", CEF_LONG_MAX);
    ext_key(&w, "fname", "file_name", CEF_LONG_MAX);
    ext_key(&w, "fileHash", "file_hash", CEF_HASH_MAX);
    ext_key(&w, "reason", "signature", CEF_LONG_MAX);
    ext_labeled(&w, "cs1", "subject", sl_ev_get(ev, "subject"), CEF_CS_MAX);
    ext_labeled(&w, "cs2", "messageId", sl_ev_get(ev, "message_id"), CEF_CS_MAX);
    mitre = sl_ev_get(ev, "mitre");
    if (mitre && json_object_is_type(mitre, json_type_object)) {
        struct json_object *v;

        if (json_object_object_get_ex(mitre, "technique_id", &v)) { /* borrowed */
            ext_labeled(&w, "cs3", "mitreTechnique", v, CEF_CS_MAX);
        }
        if (json_object_object_get_ex(mitre, "technique_name", &v)) { /* borrowed */
            ext_labeled(&w, "flexString1", "mitreTechniqueName", v, CEF_FLEX_MAX);
        }
    }
    ext_labeled(&w, "cs4", "eventId", sl_ev_get(ev, "id"), CEF_CS_MAX);
    if (st[0] && w.ret == MS_OK) {
        struct cef_label l = label_begin(&w, "cs5", "sourceType");

        label_end(&w, l, ext_text(&w, "cs5", st, CEF_CS_MAX));
    }
    ext_labeled(&w, "cs6", "internalMessageId", sl_ev_get(ev, "internal_message_id"), CEF_CS_MAX);
    ext_labeled(&w, "flexString2", "vendorAction", sl_ev_get(ev, "vendor_action"), CEF_FLEX_MAX);
    if (sl_ev_int(ev, "size", &n) && w.ret == MS_OK) {
        struct cef_label l = label_begin(&w, "cn1", "size");

        ext_int(&w, "cn1", n);
        label_end(&w, l, true);
    }
    return w.ret;
}
