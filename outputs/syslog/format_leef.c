/*
 * LEEF 1.0 / 2.0 encoder (IBM QRadar): header Vendor|Product|Version|EventID per source type,
 * IBM's predefined keys (devTime, cat, sev, src, dst, usrName, ...) first, then custom keys.
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../../src/core/ms_err.h"
#include "syslog_format.h"

#define LEEF_HEADER_MAX  255 /* EventID limit (IBM); used for every header field */
#define LEEF_USRNAME_MAX 255

struct leef_w {
    const struct sl_format_opts *o;
    const struct ms_event *ev;
    struct ms_buf *out;
    char delim;
    bool first;
    int ret;
};

/* Starts "key=" (with the delimiter before it unless first). Returns the cut-back mark. */
static size_t attr_begin(struct leef_w *w, const char *key)
{
    size_t mark = w->out->len;

    if (w->ret != MS_OK) {
        return mark;
    }
    if (!w->first) {
        w->ret = ms_buf_putc(w->out, w->delim);
    }
    if (w->ret == MS_OK) {
        w->ret = ms_buf_puts(w->out, key);
    }
    if (w->ret == MS_OK) {
        w->ret = ms_buf_putc(w->out, '=');
    }
    return mark;
}

/* Ends an attribute: keeps it if wrote, else removes "key=" again. */
static void attr_end(struct leef_w *w, size_t mark, bool wrote)
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

static void attr_json(struct leef_w *w, const char *key, struct json_object *v, size_t max)
{
    size_t mark;
    bool wrote = false;

    if (!v || w->ret != MS_OK) {
        return;
    }
    mark = attr_begin(w, key);
    if (w->ret == MS_OK) {
        w->ret = sl_put_value(w->out, v, &w->o->leef_value, max, &wrote);
    }
    attr_end(w, mark, wrote);
}

static void attr_key(struct leef_w *w, const char *leef_key, const char *ev_key)
{
    attr_json(w, leef_key, sl_ev_get(w->ev, ev_key), SL_VALUE_MAX);
}

/*
 * Values written without the escape table (cat, the devTime text) may hold a byte that is the
 * configured delimiter ('-', '_', ':', '.'): it becomes a space, as leef_value escapes it.
 */
static void unescaped_delim(struct leef_w *w, size_t from)
{
    size_t i;

    for (i = from; w->ret == MS_OK && i < w->out->len; i++) {
        if (w->out->data[i] == w->delim) {
            w->out->data[i] = ' ';
        }
    }
}

static void attr_int(struct leef_w *w, const char *key, int64_t v)
{
    size_t mark;

    if (v < 0 && w->delim == '-') {
        return; /* LEEF has no escapes: a negative number cannot be written with '-' */
    }
    mark = attr_begin(w, key);

    if (w->ret == MS_OK) {
        w->ret = sl_put_i64(w->out, v);
    }
    attr_end(w, mark, true);
}

static void attr_text(struct leef_w *w, const char *key, const char *s, size_t max)
{
    size_t mark = attr_begin(w, key);
    size_t before = w->out->len;

    if (w->ret == MS_OK) {
        w->ret = sl_put_text(w->out, s, strlen(s), &w->o->leef_value, max);
    }
    attr_end(w, mark, w->ret == MS_OK && w->out->len > before);
}

/* A string-or-array value reduced to its first string element (usrName is one user). */
static struct json_object *first_of(struct json_object *v)
{
    size_t i;

    if (!v || !json_object_is_type(v, json_type_array)) {
        return v;
    }
    for (i = 0; i < json_object_array_length(v); i++) {
        struct json_object *e = json_object_array_get_idx(v, i); /* borrowed */

        if (e && json_object_is_type(e, json_type_string) && json_object_get_string_len(e) > 0) {
            return e;
        }
    }
    return NULL;
}

static void put_devtime(struct leef_w *w)
{
    static const char *const mon[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int64_t ms;
    time_t sec;
    struct tm tm;
    size_t mark;
    size_t value;

    if (!sl_ev_time_ms(w->ev, &ms)) {
        return;
    }
    if (!w->o->devtime_text) {
        attr_int(w, "devTime", ms); /* 13-digit epoch ms: no devTimeFormat needed (IBM) */
        return;
    }
    sec = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    if (!gmtime_r(&sec, &tm)) {
        return;
    }
    mark = attr_begin(w, "devTime");
    value = w->out->len;
    if (w->ret == MS_OK) {
        w->ret = ms_buf_printf(w->out, "%s %02d %04d %02d:%02d:%02d.%03d UTC", mon[tm.tm_mon],
                               tm.tm_mday, tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
                               (int)(ms - (int64_t)sec * 1000));
    }
    unescaped_delim(w, value); /* devTimeFormat below is escaped the same way */
    attr_end(w, mark, true);
    attr_text(w, "devTimeFormat", "MMM dd yyyy HH:mm:ss.SSS z", SL_VALUE_MAX);
}

static int put_header_field(const struct sl_format_opts *o, struct ms_buf *out, const char *s)
{
    int ret = sl_put_text(out, s, strlen(s), &o->leef_header, LEEF_HEADER_MAX);

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

int sl_format_leef(const struct sl_format_opts *o, const struct ms_event *ev, struct ms_buf *out)
{
    const char *st = sl_ev_source_type(ev);
    const struct sl_profile *p = sl_profile_get(o->profiles, st);
    bool v1 = o->payload == SL_PAYLOAD_LEEF1;
    struct leef_w w = {.o = o, .ev = ev, .out = out, .delim = o->delim, .first = true};
    struct json_object *mitre;
    char derived[MS_SOURCE_TYPE_MAX];
    const char *usr_key;
    const char *dest;
    const char *s;
    int64_t n;
    size_t mark;
    size_t value;
    int ret;

    if (v1) {
        w.delim = '\t'; /* LEEF 1.0 has no delimiter field: always tab */
    }
    ret = ms_buf_puts(out, v1 ? "LEEF:1.0|" : "LEEF:2.0|");
    if (ret == MS_OK) {
        ret = put_header_field(o, out,
                               pick(o->vendor, p->vendor, sl_ev_str(ev, "vendor"), "Unknown"));
    }
    if (ret == MS_OK) {
        ret = put_header_field(o, out,
                               pick(o->product, p->product, sl_ev_str(ev, "product"), "Unknown"));
    }
    if (ret == MS_OK) {
        ret = put_header_field(o, out, pick(o->version, p->version, NULL, "1.0"));
    }
    if (ret == MS_OK) {
        sl_derive_event_id(st, derived, sizeof(derived));
        ret = put_header_field(o, out, pick(o->event_id, p->event_id, NULL, derived));
    }
    if (ret == MS_OK && !v1) {
        /* The delimiter field: a tab is written in IBM's hex form, others literally. */
        ret = w.delim == '\t' ? ms_buf_puts(out, "x09|") : ms_buf_printf(out, "%c|", w.delim);
    }
    if (ret != MS_OK) {
        return ret;
    }
    w.ret = MS_OK;

    put_devtime(&w);
    mark = attr_begin(&w, "cat");
    value = out->len;
    if (w.ret == MS_OK) {
        w.ret = sl_put_cat(out, p, ev);
    }
    unescaped_delim(&w, value);
    attr_end(&w, mark, true);
    if (sl_ev_int(ev, "severity", &n)) {
        attr_int(&w, "sev", n < 1 ? 1 : n > 10 ? 10 : n); /* LEEF sev is 1..10 */
    }
    s = sl_ev_str(ev, "src_ip");
    if (s && sl_is_ip(s)) {
        attr_text(&w, "src", s, SL_VALUE_MAX);
    }
    if (sl_ev_int(ev, "src_port", &n) && n >= 0 && n <= 65535) {
        attr_int(&w, "srcPort", n);
    }
    dest = sl_ev_str(ev, "dest");
    if (dest && sl_is_ip(dest)) {
        attr_text(&w, "dst", dest, SL_VALUE_MAX);
    }
    if (sl_ev_int(ev, "dest_port", &n) && n >= 0 && n <= 65535) {
        attr_int(&w, "dstPort", n);
    }
    attr_key(&w, "proto", "protocol");
    usr_key = o->usrname == SL_USRNAME_SENDER ? "sender"
              : o->usrname == SL_USRNAME_USER ? "user"
                                              : "recipient";
    attr_json(&w, "usrName", first_of(sl_ev_get(ev, usr_key)), LEEF_USRNAME_MAX);
    attr_key(&w, "suser", "sender");
    attr_key(&w, "duser", "recipient");
    attr_json(&w, "accountName", sl_ev_get(ev, "user"), LEEF_USRNAME_MAX);
    attr_key(&w, "url", "url");
    attr_key(&w, "policy", "signature");
    attr_key(&w, "resource", "file_name");
    attr_key(&w, "fileHash", "file_hash");
    attr_key(&w, "subject", "subject");
    attr_key(&w, "messageId", "message_id");
    attr_key(&w, "internalMessageId", "internal_message_id");
    attr_key(&w, "alertType", "alert_type");
    attr_key(&w, "action", "action");
    attr_key(&w, "vendorAction", "vendor_action");
    mitre = sl_ev_get(ev, "mitre");
    if (mitre && json_object_is_type(mitre, json_type_object)) {
        struct json_object *v;

        if (json_object_object_get_ex(mitre, "technique_id", &v)) { /* borrowed */
            attr_json(&w, "mitreTechnique", v, SL_VALUE_MAX);
        }
        if (json_object_object_get_ex(mitre, "technique_name", &v)) { /* borrowed */
            attr_json(&w, "mitreTechniqueName", v, SL_VALUE_MAX);
        }
    }
    if (dest && !sl_is_ip(dest)) {
        attr_text(&w, "destHost", dest, SL_VALUE_MAX);
    }
    if (sl_ev_int(ev, "size", &n)) {
        attr_int(&w, "size", n);
    }
    attr_key(&w, "eventId", "id");
    if (st[0]) {
        attr_text(&w, "sourceType", st, SL_VALUE_MAX);
    }
    return w.ret;
}

int sl_format_payload(const struct sl_format_opts *o, const struct ms_event *ev, struct ms_buf *out)
{
    switch (o->payload) {
    case SL_PAYLOAD_LEEF2:
    case SL_PAYLOAD_LEEF1:
        return sl_format_leef(o, ev, out);
    case SL_PAYLOAD_CEF:
        return sl_format_cef(o, ev, out);
    case SL_PAYLOAD_JSON:
    default:
        return sl_format_json(o, ev, out);
    }
}
