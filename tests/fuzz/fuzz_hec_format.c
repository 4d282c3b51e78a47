/*
 * libFuzzer target: the HEC formatter and reply parsers (outputs/hec/hec_format.c). Byte 0 picks
 * the options; the rest is a normalized event as JSON. The formatter gets it as the output does:
 * the spool's text (json-c's serialization of the event, or the input's own text when that is
 * RFC 8259 JSON) read back by the spool reader with the hec output's view (MS_VIEW_NO_RAW). When
 * the formatter says OK, the envelope must be one line of valid UTF-8 that json-c and an RFC 8259
 * check accept. The input also goes through the reply parsers (what a HEC receiver answers).
 * (fuzz_event_view checks the spool reader itself on any text.)
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ms_err.h"
#include "core/ms_event.h"
#include "fuzz_common.h"
#include "outputs/hec/hec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Option bits of byte 0. */
#define F_RAW     0x01u /* include_raw */
#define F_CIM     0x02u /* CIM names */
#define F_FIELDS  0x04u /* indexed fields */
#define F_CONF    0x08u /* host, source, sourcetype, index and per-source-type maps */
#define F_OWNTEXT 0x10u /* the input's own text as the spool text, when it is RFC 8259 JSON */
#define F_SMALL   0x80u /* a buffer cap the envelope may not fit: MS_ETOOBIG */

static struct ms_batch batch;

/* Config values may hold anything the INI file can: quotes, backslashes, odd bytes. */
static char *field_names[] = {"sender",
                              "recipient",
                              "severity",
                              "mitre",
                              "src_user",
                              "recipient_count",
                              "src",
                              "vendor_product",
                              "mitre_technique_id",
                              "mitre_technique",
                              "sender",
                              "no_such_key",
                              "raw",
                              "fields"};
static char *const_keys[] = {"env", "sender", "q\"uo\\te"};
static char *const_values[] = {"prod", "const \xff\xfe value", "line\nbreak\t\x01"};
static char *st_keys[] = {"mimecast-ttp-url", "pps:quarantine", "ser-summary"};
static char *st_values[] = {"mimecast:url", "pps \"q\"", "\xc3\xa9t\xc3\xa9\xed\xa0\x80"};

static const struct ms_strlist fields = {field_names, sizeof(field_names) / sizeof(field_names[0])};
static const struct ms_kvlist const_fields = {const_keys, const_values, 3};
static const struct ms_kvlist per_st = {st_keys, st_values, 3};

/*
 * strict: the event's text has only RFC 8259 numbers, so the envelope must too (and json-c's
 * strict mode must take it); otherwise json-c's own number forms may pass through (README.md).
 */
static void check_envelope(const struct ms_buf *out, size_t before, bool strict)
{
    struct json_object *env = NULL;
    struct json_object *v;
    const char *s = out->data + before;
    size_t n = out->len - before;

    FUZZ_CHECK(n > 2 && s[n - 1] == '\n', "the envelope ends with a newline");
    FUZZ_CHECK(memchr(s, '\n', n - 1) == NULL, "one line per event");
    FUZZ_CHECK(fuzz_utf8_valid(s, n), "the envelope is valid UTF-8: %s", s);
    FUZZ_CHECK(fuzz_json_valid(s, n - 1, !strict), "the envelope is RFC 8259 JSON: %.*s",
               (int)(n - 1), s);
    FUZZ_CHECK(fuzz_json_parse((const uint8_t *)s, n - 1, strict, &env),
               "json-c parses the envelope: %.*s", (int)(n - 1), s);
    FUZZ_CHECK(json_object_is_type(env, json_type_object), "the envelope is an object");
    FUZZ_CHECK(json_object_object_get_ex(env, "event", &v) &&
                   json_object_is_type(v, json_type_object),
               "the envelope carries the event as an object: %.*s", (int)(n - 1), s);
    if (json_object_object_get_ex(env, "time", &v)) {
        FUZZ_CHECK(json_object_is_type(v, json_type_double) ||
                       json_object_is_type(v, json_type_int),
                   "time is a number");
    }
    FUZZ_CHECK(json_object_object_get_ex(env, "source", &v) &&
                   json_object_is_type(v, json_type_string),
               "source is a string");
    json_object_put(env);
}

static void fuzz_format(uint8_t flags, const uint8_t *data, size_t size)
{
    struct hec_format_opts opts;
    struct json_object *parsed = NULL;
    struct ms_event *ev;
    struct ms_event bare;
    struct ms_buf out;
    const char *text;
    size_t len = 0;
    size_t before;
    bool strict;
    int ret;

    if (!fuzz_json_parse(data, size, false, &parsed)) {
        return;
    }
    memset(&opts, 0, sizeof(opts));
    opts.include_raw = flags & F_RAW;
    opts.cim = flags & F_CIM;
    if (flags & F_FIELDS) {
        opts.fields = &fields;
    }
    if (flags & F_CONF) {
        opts.host = "host \"with\" quotes\\";
        opts.index = "email_security";
        opts.sourcetype = "msfwd:\x7f\x80";
        opts.const_fields = &const_fields;
        opts.sourcetypes = &per_st;
        opts.indexes = &per_st;
    }
    ms_buf_init(&out, (flags & F_SMALL) ? 300 : HEC_EVENT_MAX);
    /* Something in the buffer already: envelopes are appended to a batch. */
    FUZZ_CHECK(ms_buf_puts(&out, "{\"event\":{}}\n") == MS_OK, "a buffer takes 13 bytes");
    before = out.len;
    if (!json_object_is_type(parsed, json_type_object)) {
        /* The spool holds objects only; the formatter still refuses anything else untouched. */
        memset(&bare, 0, sizeof(bare));
        bare.ev = parsed;
        ret = hec_format_event(&opts, &bare, &out);
        FUZZ_CHECK(ret == MS_EINVAL && out.len == before, "a non-object is refused untouched");
        ms_buf_free(&out);
        json_object_put(parsed);
        return;
    }
    if ((flags & F_OWNTEXT) && fuzz_json_valid((const char *)data, size, false)) {
        text = (const char *)data;
        len = size;
    }
    else {
        text = json_object_to_json_string_length(
            parsed, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    }
    strict = fuzz_json_valid(text, len, false);
    ev = fuzz_spooled_event(&batch, text, len, MS_VIEW_NO_RAW);
    FUZZ_CHECK(ev != NULL, "the spool reader takes an object's text");
    ret = hec_format_event(&opts, ev, &out);
    if (!json_object_is_type(ev->ev, json_type_object) ||
        (json_object_object_length(ev->ev) == 0 && !ev->raw_stripped)) {
        FUZZ_CHECK(ret == MS_EINVAL && out.len == before, "an empty event is refused untouched");
    }
    else if (ret == MS_OK) {
        check_envelope(&out, before, strict);
    }
    else {
        FUZZ_CHECK(ret == MS_ETOOBIG && (flags & F_SMALL),
                   "only the small buffer can fail (ret %d)", ret);
        FUZZ_CHECK(out.data == NULL && out.len == 0, "a buffer over its cap is freed");
    }
    ms_buf_free(&out);
    ms_batch_reset(&batch);
    json_object_put(parsed);
}

static void fuzz_replies(const uint8_t *data, size_t size)
{
    static const int64_t ids[] = {0, 1, 7, 8, -1, INT64_MAX};
    bool done[sizeof(ids) / sizeof(ids[0])] = {false};
    struct hec_reply r;
    int64_t ms;
    char *s;
    size_t i;

    hec_reply_parse((const char *)data, size, &r);
    FUZZ_CHECK(strlen(r.text) < sizeof(r.text), "reply text is terminated");
    for (i = 0; r.text[i]; i++) {
        FUZZ_CHECK((unsigned char)r.text[i] >= 0x20 && r.text[i] != 0x7f,
                   "reply text holds no control character");
    }
    (void)hec_ack_reply_parse((const char *)data, size, ids, done, sizeof(ids) / sizeof(ids[0]));
    s = strndup((const char *)data, size);
    if (s && hec_time_parse(s, &ms) == MS_OK) {
        char text[48];

        hec_time_format(ms, text, sizeof(text));
        FUZZ_CHECK(strchr(text, '.') != NULL, "a time is written as seconds.millis: %s", text);
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    fuzz_quiet_logs();
    if (!batch.events && ms_batch_init(&batch, 1) != MS_OK) {
        abort();
    }
    fuzz_format(data[0], data + 1, size - 1);
    fuzz_replies(data + 1, size - 1);
    return 0;
}
