/*
 * libFuzzer target: the syslog encoders (outputs/syslog/syslog_format.h): LEEF 2.0 / 1.0, CEF and
 * JSON payloads, RFC 5424 / 3164 headers, truncation and framing. Bytes 0 to 2 pick the options
 * (the SIEM profiles shipped in mappings/siem-profiles.json, when there are, or none), the rest
 * is a normalized event as JSON, given to the encoders as the output gets it: the spool's text
 * (json-c's serialization, or the input's own text when that is RFC 8259 JSON) read back by the
 * spool reader with the syslog output's view. What must hold for every event (DESIGN invariant 6):
 * no raw LF, CR or NUL in a payload or header, valid UTF-8, every LEEF attribute and CEF extension
 * a known key with a value that escapes its separators (the LEEF delimiter never appears inside a
 * value), strict JSON for the JSON payload, truncation on a character and escape boundary.
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ms_err.h"
#include "core/ms_event.h"
#include "fuzz_common.h"
#include "outputs/syslog/syslog_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_MS 1795169730000LL /* 2026-11-20T10:15:30.000Z */

/* Byte 0. */
#define F_PAYLOAD   0x03u /* enum sl_payload */
#define F_RAW       0x04u /* include_raw */
#define F_DEVTIME   0x08u /* devtime_text */
#define F_USR_SHIFT 4     /* 2 bits: enum sl_usrname (3 = recipient) */
#define F_OVERRIDE  0x40u /* header overrides from the config, with hostile bytes */
#define F_OWNTEXT   0x80u /* the input's own text as the spool text, when it is RFC 8259 JSON */
/* Byte 1. */
#define G_DELIM    0x1fu /* index into delims[] (modulo) */
#define G_RFC3164  0x20u
#define G_SMALLMAX 0x80u /* a small max_message_size, so truncation happens */
/* Byte 2. */
#define H_PROFILES 0x01u /* the shipped SIEM profiles (else every source type is generic) */

static struct sl_profiles *profiles;
static struct ms_batch batch;

/* The LEEF 2.0 delimiters the syslog output accepts (syslog.c parse_delimiter). */
static char delims[32];
static size_t n_delims;

static const char *const leef_keys[] = {"devTime",
                                        "devTimeFormat",
                                        "cat",
                                        "sev",
                                        "src",
                                        "srcPort",
                                        "dst",
                                        "dstPort",
                                        "proto",
                                        "usrName",
                                        "suser",
                                        "duser",
                                        "accountName",
                                        "url",
                                        "policy",
                                        "resource",
                                        "fileHash",
                                        "subject",
                                        "messageId",
                                        "internalMessageId",
                                        "alertType",
                                        "action",
                                        "vendorAction",
                                        "mitreTechnique",
                                        "mitreTechniqueName",
                                        "destHost",
                                        "size",
                                        "eventId",
                                        "sourceType",
                                        NULL};

static const char *const cef_keys[] = {"rt",          "cat",
                                       "act",         "suser",
                                       "duser",       "src",
                                       "spt",         "dst",
                                       "dhost",       "dpt",
                                       "app",         "request",
                                       "fname",       "fileHash",
                                       "reason",      "cs1Label",
                                       "cs1",         "cs2Label",
                                       "cs2",         "cs3Label",
                                       "cs3",         "cs4Label",
                                       "cs4",         "cs5Label",
                                       "cs5",         "cs6Label",
                                       "cs6",         "flexString1Label",
                                       "flexString1", "flexString2Label",
                                       "flexString2", "cn1Label",
                                       "cn1",         NULL};

static const char *const hostnames[] = {"mx1.example.com", "", "host name\twith\nodd\x01bytes",
                                        "h\xc3\xa9\xff"};

static bool known(const char *const *keys, const char *k, size_t n)
{
    size_t i;

    for (i = 0; keys[i]; i++) {
        if (strlen(keys[i]) == n && memcmp(keys[i], k, n) == 0) {
            return true;
        }
    }
    return false;
}

/* A LEEF/CEF value: every backslash starts one of the escapes given, '=' only escaped. */
static bool value_escaped(const char *v, size_t n, const char *escapes)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (v[i] == '\\') {
            if (i + 1 >= n || !strchr(escapes, v[i + 1])) {
                return false;
            }
            i++;
        }
        else if (v[i] == '=') {
            return false;
        }
    }
    return true;
}

static void check_leef(const char *p, size_t n, bool v1, char delim)
{
    const char *end = p + n;
    const char *s;
    unsigned seen[64] = {0};
    int i;

    FUZZ_CHECK(n > 9 && memcmp(p, v1 ? "LEEF:1.0|" : "LEEF:2.0|", 9) == 0, "LEEF prefix: %.*s",
               (int)n, p);
    s = p + 9;
    for (i = 0; i < 4; i++) {
        s = memchr(s, '|', (size_t)(end - s));
        FUZZ_CHECK(s != NULL, "four LEEF header fields: %.*s", (int)n, p);
        s++;
    }
    if (!v1) {
        size_t dl = delim == '\t' ? 4 : 2;

        FUZZ_CHECK((size_t)(end - s) >= dl &&
                       memcmp(s, delim == '\t' ? "x09|" : (char[]){delim, '|'}, dl) == 0,
                   "the LEEF 2.0 delimiter field: %.*s", (int)n, p);
        s += dl;
    }
    while (s < end) {
        const char *stop = memchr(s, delim, (size_t)(end - s));
        const char *eq;
        size_t k;

        if (!stop) {
            stop = end;
        }
        eq = memchr(s, '=', (size_t)(stop - s));
        FUZZ_CHECK(eq && known(leef_keys, s, (size_t)(eq - s)),
                   "every LEEF attribute is a known key (a delimiter inside a value?): %.*s "
                   "in %.*s",
                   (int)(stop - s), s, (int)n, p);
        for (k = 0; leef_keys[k]; k++) {
            if (strlen(leef_keys[k]) == (size_t)(eq - s) && memcmp(leef_keys[k], s, eq - s) == 0) {
                FUZZ_CHECK(seen[k]++ == 0, "LEEF key %s once: %.*s", leef_keys[k], (int)n, p);
            }
        }
        FUZZ_CHECK(value_escaped(eq + 1, (size_t)(stop - eq - 1), "\\=nrt"),
                   "a LEEF value escapes '=' and '\\': %.*s", (int)(stop - s), s);
        s = stop + 1;
    }
}

static void check_cef(const char *p, size_t n)
{
    const char *end = p + n;
    const char *s;
    const char *key;
    int pipes = 0;

    FUZZ_CHECK(n > 6 && memcmp(p, "CEF:0|", 6) == 0, "CEF prefix: %.*s", (int)n, p);
    for (s = p + 6; s < end && pipes < 6; s++) {
        if (*s == '\\') {
            FUZZ_CHECK(s + 1 < end && (s[1] == '\\' || s[1] == '|'),
                       "a CEF header escapes only '|' and '\\': %.*s", (int)n, p);
            s++;
        }
        else if (*s == '|') {
            pipes++;
        }
    }
    FUZZ_CHECK(pipes == 6, "seven CEF header fields: %.*s", (int)n, p);
    /* Extension: key=value pairs separated by spaces; an unescaped '=' ends a known key. */
    key = s;
    for (; s < end; s++) {
        if (*s == '\\') {
            FUZZ_CHECK(s + 1 < end && strchr("\\=nr", s[1]) && s[1],
                       "a CEF value escapes only '\\', '=', LF and CR: %.*s", (int)n, p);
            s++;
        }
        else if (*s == ' ') {
            key = s + 1;
        }
        else if (*s == '=') {
            FUZZ_CHECK(known(cef_keys, key, (size_t)(s - key)),
                       "an unescaped '=' follows a known CEF key: %.*s", (int)n, p);
            key = end; /* inside the value now */
        }
    }
}

/*
 * strict: the event's text has only RFC 8259 numbers, so the payload must too (and json-c's
 * strict mode must take it); otherwise json-c's own number forms may pass through (README.md).
 */
static void check_json(const char *p, size_t n, bool include_raw, bool strict)
{
    struct json_object *obj = NULL;

    FUZZ_CHECK(fuzz_json_valid(p, n, !strict), "the JSON payload is RFC 8259 JSON: %.*s", (int)n,
               p);
    FUZZ_CHECK(fuzz_json_parse((const uint8_t *)p, n, strict, &obj),
               "the JSON payload parses: %.*s", (int)n, p);
    FUZZ_CHECK(json_object_is_type(obj, json_type_object), "the JSON payload is an object");
    FUZZ_CHECK(include_raw || !json_object_object_get_ex(obj, "raw", NULL),
               "raw is left out unless asked for");
    json_object_put(obj);
}

static void check_header(const char *h, size_t n, const struct sl_header_opts *ho)
{
    size_t i;
    int pri = 0;

    FUZZ_CHECK(n > 4 && h[0] == '<', "a header starts with <PRI>: %.*s", (int)n, h);
    for (i = 1; i < n && h[i] >= '0' && h[i] <= '9'; i++) {
        pri = pri * 10 + (h[i] - '0');
    }
    FUZZ_CHECK(i > 1 && i <= 4 && h[i] == '>' && pri == ho->facility * 8 + pri % 8,
               "a valid PRI: %.*s", (int)n, h);
    for (i = 0; i < n; i++) {
        FUZZ_CHECK(h[i] >= 0x20 && h[i] < 0x7f, "the header is printable ASCII: %.*s", (int)n, h);
    }
    if (ho->kind == SL_HEADER_RFC5424) {
        FUZZ_CHECK(n > 7 && memcmp(h + n - 7, " - - - ", 7) == 0, "5424 NILVALUEs: %.*s", (int)n,
                   h);
    }
    else {
        FUZZ_CHECK(h[n - 1] == ' ', "3164 header ends with a space: %.*s", (int)n, h);
    }
}

static void check_truncate(const char *msg, size_t len, size_t max)
{
    size_t cut = sl_truncate_len(msg, len, max);
    size_t bs = 0;

    FUZZ_CHECK(cut <= len && (len <= max ? cut == len : cut <= max), "cut %zu of %zu (max %zu)",
               cut, len, max);
    if (cut < len) {
        FUZZ_CHECK(((unsigned char)msg[cut] & 0xC0) != 0x80, "no cut inside a UTF-8 character");
        FUZZ_CHECK(fuzz_utf8_valid(msg, cut), "the cut message is valid UTF-8");
        while (bs < cut && msg[cut - 1 - bs] == '\\') {
            bs++;
        }
        FUZZ_CHECK(bs % 2 == 0, "no dangling escape backslash at the cut");
    }
}

static void check_frames(const char *msg, size_t len)
{
    struct ms_buf out;
    char num[32];
    int k;

    ms_buf_init(&out, MS_CAP_EVENT + 64);
    FUZZ_CHECK(sl_frame(SL_FRAMING_OCTET, msg, len, &out) == MS_OK, "octet framing");
    k = snprintf(num, sizeof(num), "%zu ", len);
    FUZZ_CHECK(out.len == (size_t)k + len && memcmp(out.data, num, (size_t)k) == 0,
               "octet counting counts the bytes");
    ms_buf_reset(&out);
    FUZZ_CHECK(sl_frame(SL_FRAMING_LF, msg, len, &out) == MS_OK, "LF framing");
    FUZZ_CHECK(out.len == len + 1 && out.data[len] == '\n' && !memchr(out.data, '\n', len),
               "LF framing: one line");
    ms_buf_free(&out);
}

static void init_once(void)
{
    struct ms_cfg_errors errs = {NULL, 0};
    char path[4096];
    size_t i;
    int c;

    if (n_delims) {
        return;
    }
    snprintf(path, sizeof(path), "%s/mappings/siem-profiles.json", fuzz_srcdir());
    if (sl_profiles_load(path, &profiles, &errs) != MS_OK) {
        fprintf(stderr, "fuzz_syslog_format: cannot load %s\n", path);
        for (i = 0; i < errs.n; i++) {
            fprintf(stderr, "  %s\n", errs.msgs[i]);
        }
        abort();
    }
    ms_cfg_errors_free(&errs);
    if (ms_batch_init(&batch, 1) != MS_OK) {
        abort();
    }
    delims[n_delims++] = '\t';
    for (c = 0x21; c <= 0x7e; c++) {
        if (c != '|' && c != '=' && c != '\\' && !(c >= '0' && c <= '9') &&
            !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z')) {
            delims[n_delims++] = (char)c;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_format_opts o;
    struct sl_header_opts ho;
    struct json_object *parsed = NULL;
    enum ms_event_view view;
    struct ms_event *ev;
    struct ms_buf msg;
    const char *text;
    const char *payload;
    size_t len = 0;
    size_t hlen;
    size_t plen;
    uint8_t f;
    uint8_t g;
    uint8_t h;
    bool strict;
    int ret;

    if (size < 3) {
        return 0;
    }
    fuzz_quiet_logs();
    init_once();
    f = data[0];
    g = data[1];
    h = data[2];
    if (!fuzz_json_parse(data + 3, size - 3, false, &parsed)) {
        return 0;
    }
    if (!json_object_is_type(parsed, json_type_object)) {
        json_object_put(parsed); /* the spool holds objects only */
        return 0;
    }
    if ((f & F_OWNTEXT) && fuzz_json_valid((const char *)data + 3, size - 3, false)) {
        text = (const char *)data + 3;
        len = size - 3;
    }
    else {
        text = json_object_to_json_string_length(
            parsed, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    }
    strict = fuzz_json_valid(text, len, false);
    /* syslog.c: LEEF and CEF read normalized keys only; JSON walks the event when it must. */
    if ((f & F_PAYLOAD) == SL_PAYLOAD_JSON) {
        view = (f & F_RAW) ? MS_VIEW_FULL : MS_VIEW_NO_RAW;
    }
    else {
        view = MS_VIEW_NORMALIZED;
    }
    ev = fuzz_spooled_event(&batch, text, len, view);
    FUZZ_CHECK(ev != NULL, "the spool reader takes an object's text");
    json_object_put(parsed);

    memset(&o, 0, sizeof(o));
    o.payload = (enum sl_payload)(f & F_PAYLOAD);
    o.delim = delims[(g & G_DELIM) % n_delims];
    o.include_raw = f & F_RAW;
    o.devtime_text = f & F_DEVTIME;
    o.usrname = (enum sl_usrname)(((f >> F_USR_SHIFT) & 3u) % 3u);
    if (f & F_OVERRIDE) {
        o.vendor = "Ven|dor\\ \xe2\x80\xa8\n";
        o.product = "Pro\tduct\x1b[31m";
        o.version = "1.0|x";
        o.event_id = "Event\\|ID\r\xc0\xaf";
    }
    o.profiles = (h & H_PROFILES) ? profiles : NULL;
    sl_format_opts_prepare(&o);
    memset(&ho, 0, sizeof(ho));
    ho.kind = (g & G_RFC3164) ? SL_HEADER_RFC3164 : SL_HEADER_RFC5424;
    ho.facility = (int)(f % 24);
    ho.hostname = hostnames[(f >> 2) & 3u];
    ho.app_name = (g & 1u) ? "msfwd" : (g & 2u) ? "" : "ms fwd/\xff:1";
    ho.utc = true;

    ms_buf_init(&msg, MS_CAP_EVENT);
    ret = sl_header_write(&ho, ev, NOW_MS, &msg);
    FUZZ_CHECK(ret == MS_OK, "the header is written (%d)", ret);
    hlen = msg.len;
    check_header(msg.data, hlen, &ho);
    ret = sl_format_payload(&o, ev, &msg);
    FUZZ_CHECK(ret == MS_OK || ret == MS_ETOOBIG, "the payload is written (%d)", ret);
    if (ret == MS_OK) {
        payload = msg.data + hlen;
        plen = msg.len - hlen;
        FUZZ_CHECK(fuzz_none_of(payload, plen, "\n\r", 3),
                   "no raw LF, CR or NUL in the payload: %.*s", (int)plen, payload);
        FUZZ_CHECK(fuzz_utf8_valid(payload, plen), "the payload is valid UTF-8: %.*s", (int)plen,
                   payload);
        switch (o.payload) {
        case SL_PAYLOAD_LEEF2:
        case SL_PAYLOAD_LEEF1:
            /* LEEF 1.0 has no delimiter field: always tab. */
            check_leef(payload, plen, o.payload == SL_PAYLOAD_LEEF1,
                       o.payload == SL_PAYLOAD_LEEF1 ? '\t' : o.delim);
            break;
        case SL_PAYLOAD_CEF:
            check_cef(payload, plen);
            break;
        case SL_PAYLOAD_JSON:
            check_json(payload, plen, o.include_raw, strict);
            break;
        }
        check_truncate(msg.data, msg.len, (g & G_SMALLMAX) ? 64 + (size % 512) : 65536);
        check_frames(msg.data, msg.len);
    }
    ms_buf_free(&msg);
    ms_batch_reset(&batch);
    return 0;
}
