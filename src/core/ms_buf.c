/* Bounded byte buffer. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_buf.h"
#include "ms_err.h"

void ms_buf_init(struct ms_buf *buf, size_t max)
{
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
    buf->max = max;
}

void ms_buf_free(struct ms_buf *buf)
{
    if (!buf) {
        return;
    }
    free(buf->data);
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
}

void ms_buf_reset(struct ms_buf *buf)
{
    buf->len = 0;
    if (buf->data) {
        buf->data[0] = '\0';
    }
}

static int buf_reserve(struct ms_buf *buf, size_t extra)
{
    size_t need;
    size_t cap;
    char *p;

    if (extra > buf->max - buf->len) {
        ms_buf_free(buf);
        return MS_ETOOBIG;
    }
    need = buf->len + extra + 1;
    if (need <= buf->cap) {
        return MS_OK;
    }
    cap = buf->cap ? buf->cap : 256;
    while (cap < need) {
        cap *= 2;
    }
    if (cap > buf->max + 1) {
        cap = buf->max + 1;
    }
    p = realloc(buf->data, cap);
    if (!p) {
        return MS_ENOMEM;
    }
    buf->data = p;
    buf->cap = cap;
    return MS_OK;
}

int ms_buf_append(struct ms_buf *buf, const void *p, size_t n)
{
    int ret;

    ret = buf_reserve(buf, n);
    if (ret != MS_OK) {
        return ret;
    }
    if (n) {
        memcpy(buf->data + buf->len, p, n);
    }
    buf->len += n;
    buf->data[buf->len] = '\0';
    return MS_OK;
}

int ms_buf_puts(struct ms_buf *buf, const char *s)
{
    return ms_buf_append(buf, s, strlen(s));
}

int ms_buf_putc(struct ms_buf *buf, char c)
{
    return ms_buf_append(buf, &c, 1);
}

int ms_buf_vprintf(struct ms_buf *buf, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;
    int ret;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        return MS_EINVAL;
    }
    ret = buf_reserve(buf, (size_t)n);
    if (ret != MS_OK) {
        return ret;
    }
    vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
    buf->len += (size_t)n;
    return MS_OK;
}

int ms_buf_printf(struct ms_buf *buf, const char *fmt, ...)
{
    va_list ap;
    int ret;

    va_start(ap, fmt);
    ret = ms_buf_vprintf(buf, fmt, ap);
    va_end(ap);
    return ret;
}

void ms_buf_truncate(struct ms_buf *buf, size_t len)
{
    if (len < buf->len) {
        buf->len = len;
        buf->data[len] = '\0';
    }
}

const char *ms_buf_cstr(const struct ms_buf *buf)
{
    return buf->data ? buf->data : "";
}

char *ms_buf_take(struct ms_buf *buf)
{
    char *p = buf->data;

    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
    return p;
}
