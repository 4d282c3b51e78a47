/*
 * JSON encoder: the normalized event as one line of JSON (RFC 8259), "raw" left out unless
 * include_raw. Written straight into the reused buffer; the spooled text is copied as is when it
 * is already clean (valid UTF-8, no control character), which is the common case.
 */
#include <config.h>

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../../src/core/ms_err.h"
#include "syslog_format.h"

#define JSON_DEPTH_MAX 64

/*
 * True when text can go out unchanged: printable ASCII or valid UTF-8 without C1 or U+2028/9, and
 * no bare NaN or Infinity (json-c reads and writes them, JSON has none; the words are searched
 * anywhere: a subject saying "NaN" only sends that event down the slow path).
 */
static bool text_clean(const char *text, size_t len)
{
    const unsigned char *u = (const unsigned char *)text;
    size_t i = 0;

    while (i < len) {
        unsigned c = u[i];

        if (c < 0x20) {
            return false;
        }
        if (c < 0x80) {
            if ((c == 'N' && len - i >= 3 && memcmp(u + i, "NaN", 3) == 0) ||
                (c == 'I' && len - i >= 8 && memcmp(u + i, "Infinity", 8) == 0)) {
                return false;
            }
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            if (i + 1 >= len || (u[i + 1] & 0xC0) != 0x80 || (c == 0xC2 && u[i + 1] < 0xA0)) {
                return false; /* invalid, or a C1 control */
            }
            i += 2;
        }
        else if (c >= 0xE0 && c <= 0xEF) {
            unsigned lo = c == 0xE0 ? 0xA0 : 0x80;
            unsigned hi = c == 0xED ? 0x9F : 0xBF;

            if (i + 2 >= len || u[i + 1] < lo || u[i + 1] > hi || (u[i + 2] & 0xC0) != 0x80) {
                return false;
            }
            if (c == 0xE2 && u[i + 1] == 0x80 && (u[i + 2] == 0xA8 || u[i + 2] == 0xA9)) {
                return false; /* U+2028, U+2029 */
            }
            i += 3;
        }
        else if (c >= 0xF0 && c <= 0xF4) {
            unsigned lo = c == 0xF0 ? 0x90 : 0x80;
            unsigned hi = c == 0xF4 ? 0x8F : 0xBF;

            if (i + 3 >= len || u[i + 1] < lo || u[i + 1] > hi || (u[i + 2] & 0xC0) != 0x80 ||
                (u[i + 3] & 0xC0) != 0x80) {
                return false;
            }
            i += 4;
        }
        else {
            return false;
        }
    }
    return true;
}

static int put_string(const struct sl_format_opts *o, struct ms_buf *out, const char *s, size_t n)
{
    int ret = ms_buf_putc(out, '"');

    if (ret == MS_OK) {
        ret = sl_put_text(out, s, n, &o->json, SIZE_MAX);
    }
    return ret == MS_OK ? ms_buf_putc(out, '"') : ret;
}

static int put_json(
    const struct sl_format_opts *o, struct ms_buf *out, struct json_object *v, int depth, bool top)
{
    const char *text;
    size_t len;
    size_t i;
    bool first = true;
    int64_t i64;
    int ret = MS_OK;

    if (!v || depth > JSON_DEPTH_MAX) {
        return ms_buf_puts(out, "null");
    }
    switch (json_object_get_type(v)) {
    case json_type_boolean:
        return ms_buf_puts(out, json_object_get_boolean(v) ? "true" : "false");
    case json_type_int:
        i64 = json_object_get_int64(v);
        if (i64 == INT64_MAX) {
            return ms_buf_printf(out, "%" PRIu64, json_object_get_uint64(v));
        }
        return ms_buf_printf(out, "%" PRId64, i64);
    case json_type_double:
        /* NaN and infinities (json-c parses them in vendor records) are not JSON: null. */
        if (!isfinite(json_object_get_double(v))) {
            return ms_buf_puts(out, "null");
        }
        /* Rare: let json-c print it exactly as it parsed it. */
        text = json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN, &len);
        return ms_buf_append(out, text, len);
    case json_type_string:
        return put_string(o, out, json_object_get_string(v), (size_t)json_object_get_string_len(v));
    case json_type_array:
        ret = ms_buf_putc(out, '[');
        for (i = 0; i < json_object_array_length(v) && ret == MS_OK; i++) {
            if (i > 0) {
                ret = ms_buf_putc(out, ',');
            }
            if (ret == MS_OK) {
                ret = put_json(o, out, json_object_array_get_idx(v, i), depth + 1, false);
            }
        }
        return ret == MS_OK ? ms_buf_putc(out, ']') : ret;
    case json_type_object:
        ret = ms_buf_putc(out, '{');
        json_object_object_foreach(v, key, val) {
            if (ret != MS_OK) {
                break;
            }
            if (top && !o->include_raw && strcmp(key, "raw") == 0) {
                continue;
            }
            if (!first) {
                ret = ms_buf_putc(out, ',');
            }
            first = false;
            if (ret == MS_OK) {
                ret = put_string(o, out, key, strlen(key));
            }
            if (ret == MS_OK) {
                ret = ms_buf_putc(out, ':');
            }
            if (ret == MS_OK) {
                ret = put_json(o, out, val, depth + 1, false);
            }
        }
        return ret == MS_OK ? ms_buf_putc(out, '}') : ret;
    case json_type_null:
    default:
        return ms_buf_puts(out, "null");
    }
}

int sl_format_json(const struct sl_format_opts *o, const struct ms_event *ev, struct ms_buf *out)
{
    if (o->include_raw && ev->text && ev->text_len > 0 && ev->text[0] == '{' &&
        text_clean(ev->text, ev->text_len)) {
        return ms_buf_append(out, ev->text, ev->text_len);
    }
    if (!ev->ev) {
        return ms_buf_puts(out, "{}");
    }
    return put_json(o, out, ev->ev, 0, true);
}
