/* Allocation-free JSON writer (json-c compatible output) and strict top-level object scanner. */
#include <config.h>

#include <ctype.h>
#include <inttypes.h>
#include <unistd.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <fcntl.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ms_err.h"
#include "ms_json.h"

#define WRITE_DEPTH_MAX 512

/* Bytes json-c escapes in strings (with JSON_C_TO_STRING_NOSLASHESCAPE): controls, '"', '\'.
 * The scanner stops at the same bytes inside a string. A table: this runs for every byte. */
static const bool special[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1,
    [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1,
    [0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1,
    [0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1,
    [0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1, ['"'] = 1,  ['\\'] = 1,
};

static bool needs_escape(unsigned char c)
{
    return special[c];
}

/* json-c's json_escape_str: \b \n \r \t \f \" \\ by name, other controls as \u00xx (lower case). */
static int write_string(struct ms_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0;
    size_t i = 0;
    int ret = ms_buf_putc(out, '"');

    /* Most strings need no escape: find the first byte that does, copy up to it at once. */
    while (i < n && !special[u[i]]) {
        i++;
    }
    for (; i < n && ret == MS_OK; i++) {
        char esc[6];
        size_t elen = 2;

        if (!needs_escape(u[i])) {
            continue;
        }
        esc[0] = '\\';
        switch (u[i]) {
        case '\b':
            esc[1] = 'b';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[u[i] >> 4];
            esc[5] = hex[u[i] & 15];
            elen = 6;
            break;
        }
        ret = ms_buf_append(out, s + run, i - run);
        if (ret == MS_OK) {
            ret = ms_buf_append(out, esc, elen);
        }
        run = i + 1;
    }
    if (ret == MS_OK) {
        ret = ms_buf_append(out, s + run, n - run);
    }
    return ret == MS_OK ? ms_buf_putc(out, '"') : ret;
}

static int write_int(struct ms_buf *out, struct json_object *v)
{
    char digits[24];
    char *p = digits + sizeof(digits);
    int64_t i64 = json_object_get_int64(v);
    uint64_t u;

    /* json-c keeps integers past INT64_MAX as uint64; get_int64 then saturates. */
    u = i64 == INT64_MAX ? json_object_get_uint64(v)
        : i64 < 0        ? (uint64_t)0 - (uint64_t)i64
                         : (uint64_t)i64;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (i64 < 0) {
        *--p = '-';
    }
    return ms_buf_append(out, p, (size_t)(digits + sizeof(digits) - p));
}

static int write_value(struct ms_buf *out, struct json_object *v, int depth)
{
    const char *text;
    size_t len;
    size_t i;
    size_t n;
    bool first = true;
    int ret = MS_OK;

    if (!v) {
        return ms_buf_append(out, "null", 4);
    }
    if (depth > WRITE_DEPTH_MAX) {
        return MS_EINVAL;
    }
    switch (json_object_get_type(v)) {
    case json_type_boolean:
        return json_object_get_boolean(v) ? ms_buf_append(out, "true", 4)
                                          : ms_buf_append(out, "false", 5);
    case json_type_int:
        return write_int(out, v);
    case json_type_string:
        return write_string(out, json_object_get_string(v), (size_t)json_object_get_string_len(v));
    case json_type_array:
        ret = ms_buf_putc(out, '[');
        n = json_object_array_length(v);
        for (i = 0; i < n && ret == MS_OK; i++) {
            if (i > 0) {
                ret = ms_buf_putc(out, ',');
            }
            if (ret == MS_OK) {
                ret = write_value(out, json_object_array_get_idx(v, i), depth + 1);
            }
        }
        return ret == MS_OK ? ms_buf_putc(out, ']') : ret;
    case json_type_object:
        ret = ms_buf_putc(out, '{');
        json_object_object_foreach(v, key, val) {
            if (ret != MS_OK) {
                break;
            }
            if (!first) {
                ret = ms_buf_putc(out, ',');
            }
            first = false;
            if (ret == MS_OK) {
                ret = write_string(out, key, strlen(key));
            }
            if (ret == MS_OK) {
                ret = ms_buf_putc(out, ':');
            }
            if (ret == MS_OK) {
                ret = write_value(out, val, depth + 1);
            }
        }
        return ret == MS_OK ? ms_buf_putc(out, '}') : ret;
    case json_type_double:
    default:
        /* Rare on this path: json-c prints a parsed number as it was written, others its way. */
        text = json_object_to_json_string_length(
            v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        return text ? ms_buf_append(out, text, len) : MS_ENOMEM;
    }
}

int ms_json_write(struct ms_buf *out, struct json_object *v)
{
    return write_value(out, v, 0);
}

int ms_json_write_string(struct ms_buf *out, const char *s, size_t n)
{
    return write_string(out, s, n);
}

/* ------------------------------------------------------------------------------------------
 * Scanner
 */

struct scan {
    const unsigned char *p;
    size_t n;
    size_t i;
};

static void skip_ws(struct scan *s)
{
    while (s->i < s->n &&
           (s->p[s->i] == ' ' || s->p[s->i] == '\n' || s->p[s->i] == '\r' || s->p[s->i] == '\t')) {
        s->i++;
    }
}

static int hexdigit(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* At '"': moves past the closing quote. Surrogate escapes are refused (json-c repairs them). */
static bool scan_string(struct scan *s)
{
    s->i++;
    while (s->i < s->n) {
        unsigned char c;

        while (s->i < s->n && !special[s->p[s->i]]) {
            s->i++;
        }
        if (s->i >= s->n) {
            return false;
        }
        c = s->p[s->i];
        if (c == '"') {
            s->i++;
            return true;
        }
        if (c < 0x20) {
            return false;
        }
        if (s->i + 1 >= s->n) { /* c is the backslash of an escape */
            return false;
        }
        c = s->p[s->i + 1];
        if (c == 'u') {
            unsigned cp = 0;
            int k;

            if (s->i + 6 > s->n) {
                return false;
            }
            for (k = 2; k < 6; k++) {
                int h = hexdigit(s->p[s->i + (size_t)k]);

                if (h < 0) {
                    return false;
                }
                cp = cp * 16 + (unsigned)h;
            }
            if (cp >= 0xD800 && cp <= 0xDFFF) {
                return false;
            }
            s->i += 6;
            continue;
        }
        if (!strchr("\"\\/bfnrt", c) || c == '\0') {
            return false;
        }
        s->i += 2;
    }
    return false;
}

static bool scan_digits(struct scan *s)
{
    size_t start = s->i;

    while (s->i < s->n && s->p[s->i] >= '0' && s->p[s->i] <= '9') {
        s->i++;
    }
    return s->i > start;
}

static bool scan_number(struct scan *s)
{
    if (s->p[s->i] == '-') {
        s->i++;
    }
    if (s->i < s->n && s->p[s->i] == '0') {
        s->i++;
    }
    else if (!scan_digits(s)) {
        return false;
    }
    if (s->i < s->n && s->p[s->i] == '.') {
        s->i++;
        if (!scan_digits(s)) {
            return false;
        }
    }
    if (s->i < s->n && (s->p[s->i] == 'e' || s->p[s->i] == 'E')) {
        s->i++;
        if (s->i < s->n && (s->p[s->i] == '+' || s->p[s->i] == '-')) {
            s->i++;
        }
        if (!scan_digits(s)) {
            return false;
        }
    }
    return true;
}

static bool scan_word(struct scan *s, const char *w, size_t len)
{
    if (s->n - s->i < len || memcmp(s->p + s->i, w, len) != 0) {
        return false;
    }
    s->i += len;
    return true;
}

static bool scan_value(struct scan *s, int depth);

/* At '{' or '['; top-level members go to fn when depth is 1. */
static bool scan_container(struct scan *s,
                           int depth,
                           void (*fn)(void *arg, const struct ms_json_member *m),
                           void *arg)
{
    bool object = s->p[s->i] == '{';
    unsigned char close = object ? '}' : ']';

    if (depth > MS_JSON_SCAN_DEPTH) {
        return false;
    }
    s->i++;
    skip_ws(s);
    if (s->i < s->n && s->p[s->i] == close) {
        s->i++;
        return true;
    }
    for (;;) {
        struct ms_json_member m;

        if (object) {
            if (s->i >= s->n || s->p[s->i] != '"') {
                return false;
            }
            m.start = s->i;
            m.key = (const char *)s->p + s->i + 1;
            if (!scan_string(s)) {
                return false;
            }
            m.key_len = s->i - m.start - 2;
            skip_ws(s);
            if (s->i >= s->n || s->p[s->i] != ':') {
                return false;
            }
            s->i++;
            skip_ws(s);
            m.val = (const char *)s->p + s->i;
            if (!scan_value(s, depth)) {
                return false;
            }
            m.end = s->i;
            m.val_len = m.end - (size_t)(m.val - (const char *)s->p);
            if (fn) {
                fn(arg, &m);
            }
        }
        else if (!scan_value(s, depth)) {
            return false;
        }
        skip_ws(s);
        if (s->i >= s->n) {
            return false;
        }
        if (s->p[s->i] == close) {
            s->i++;
            return true;
        }
        if (s->p[s->i] != ',') {
            return false;
        }
        s->i++;
        skip_ws(s);
    }
}

static bool scan_value(struct scan *s, int depth)
{
    if (s->i >= s->n) {
        return false;
    }
    switch (s->p[s->i]) {
    case '{':
    case '[':
        return scan_container(s, depth + 1, NULL, NULL);
    case '"':
        return scan_string(s);
    case 't':
        return scan_word(s, "true", 4);
    case 'f':
        return scan_word(s, "false", 5);
    case 'n':
        return scan_word(s, "null", 4);
    default:
        return (s->p[s->i] == '-' || (s->p[s->i] >= '0' && s->p[s->i] <= '9')) && scan_number(s);
    }
}

bool ms_json_scan(const char *text,
                  size_t len,
                  void (*fn)(void *arg, const struct ms_json_member *m),
                  void *arg)
{
    struct scan s = {(const unsigned char *)text, len, 0};

    skip_ws(&s);
    if (s.i >= s.n || s.p[s.i] != '{' || !scan_container(&s, 1, fn, arg)) {
        return false;
    }
    skip_ws(&s);
    return s.i == s.n;
}

struct json_object *ms_json_parse_one(const char *text, size_t len, char *why, size_t why_len)
{
    struct json_tokener *tok;
    struct json_object *root;
    enum json_tokener_error jerr;
    size_t end;

    if (len == 0) {
        snprintf(why, why_len, "empty body");
        return NULL;
    }
    if (len > INT32_MAX) {
        snprintf(why, why_len, "body too large");
        return NULL;
    }
    tok = json_tokener_new();
    if (!tok) {
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    root = json_tokener_parse_ex(tok, text, (int)len);
    jerr = json_tokener_get_error(tok);
    end = json_tokener_get_parse_end(tok);
    if (!root) {
        snprintf(why, why_len, "%s",
                 jerr == json_tokener_continue ? "truncated JSON" : json_tokener_error_desc(jerr));
    }
    else {
        while (end < len && isspace((unsigned char)text[end])) {
            end++;
        }
        if (end < len) {
            snprintf(why, why_len, "unexpected data after the JSON value (offset %zu)", end);
            json_object_put(root);
            root = NULL;
        }
    }
    json_tokener_free(tok);
    return root;
}

int ms_json_load_file(const char *path,
                      size_t max_bytes,
                      int depth,
                      int flags,
                      struct json_object **out,
                      struct ms_cfg_errors *errs)
{
    struct json_tokener *tok = NULL;
    struct json_object *obj = NULL;
    struct stat st;
    char *text = NULL;
    size_t len = 0;
    size_t end;
    size_t i;
    int fd;
    int ret = MS_EINVAL;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        ret = MS_EOF;
        goto out;
    }
    if (fd < 0 || fstat(fd, &st) != 0) {
        ms_cfg_errors_add(errs, "%s: cannot read: %s", path, strerror(errno));
        ret = MS_EIO;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        ms_cfg_errors_add(errs, "%s: cannot read: not a regular file", path);
        ret = MS_EIO;
        goto out;
    }
    if ((uint64_t)st.st_size > max_bytes) {
        ms_cfg_errors_add(errs, "%s: larger than %zu bytes", path, max_bytes);
        goto out;
    }
    text = malloc((size_t)st.st_size + 1);
    if (!text) {
        ret = MS_ENOMEM;
        goto out;
    }
    while (len < (size_t)st.st_size) {
        ssize_t n = read(fd, text + len, (size_t)st.st_size - len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            ms_cfg_errors_add(errs, "%s: cannot read: %s", path, n < 0 ? strerror(errno) : "short");
            ret = MS_EIO;
            goto out;
        }
        len += (size_t)n;
    }
    text[len] = '\0';
    tok = json_tokener_new_ex(depth);
    if (!tok) {
        ret = MS_ENOMEM;
        goto out;
    }
    json_tokener_set_flags(tok, flags);
    obj = json_tokener_parse_ex(tok, text, (int)len);
    end = json_tokener_get_parse_end(tok);
    if (!obj && json_tokener_get_error(tok) == json_tokener_success) {
        *out = NULL; /* the file holds null: the caller says what it expected */
        ret = MS_OK;
        goto out;
    }
    if (!obj || json_tokener_get_error(tok) != json_tokener_success) {
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        const char *why = jerr == json_tokener_continue ? "the file ends inside a JSON value"
                                                        : json_tokener_error_desc(jerr);
        size_t line = 1;
        size_t col = 1;

        for (i = 0; i < end && i < len; i++) {
            if (text[i] == '\n') {
                line++;
                col = 1;
            }
            else {
                col++;
            }
        }
        ms_cfg_errors_add(errs, "%s: line %zu, column %zu: not valid JSON: %s", path, line, col,
                          why);
        goto out;
    }
    for (i = end; i < len; i++) {
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r' && text[i] != '\n') {
            ms_cfg_errors_add(errs, "%s: offset %zu: text after the end of the JSON value", path,
                              i);
            goto out;
        }
    }
    *out = obj;
    obj = NULL;
    ret = MS_OK;
out:
    json_object_put(obj);
    if (tok) {
        json_tokener_free(tok); /* json-c 0.16 dereferences NULL */
    }
    free(text);
    if (fd >= 0) {
        close(fd);
    }
    return ret;
}
