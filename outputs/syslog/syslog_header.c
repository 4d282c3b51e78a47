/*
 * Syslog headers (RFC 5424 and RFC 3164), truncation at a UTF-8 boundary (RFC 5426 lets a sender
 * truncate, never split) and stream framing (RFC 6587 octet counting or LF).
 */
#include <config.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../../src/core/ms_err.h"
#include "syslog_format.h"

#define HOSTNAME_MAX 255 /* RFC 5424 HOSTNAME */
#define APPNAME_MAX  48  /* RFC 5424 APP-NAME */
#define TAG_MAX      32  /* RFC 3164 TAG */

int sl_syslog_severity(const struct ms_event *ev)
{
    int64_t sev;

    if (!sl_ev_int(ev, "severity", &sev)) {
        return 6;
    }
    if (sev >= 9) {
        return 2;
    }
    if (sev >= 7) {
        return 3;
    }
    if (sev >= 4) {
        return 4;
    }
    return sev >= 1 ? 5 : 6;
}

/*
 * Appends s keeping only bytes allowed by the header grammar (printable US-ASCII, 33..126; for a
 * 3164 TAG only [A-Za-z0-9_.-/]); others become '_'. Empty -> nil (if not NULL).
 */
static int put_token(struct ms_buf *out, const char *s, size_t max, bool tag, const char *nil)
{
    char tok[HOSTNAME_MAX];
    size_t i;

    if (!s[0] && nil) {
        return ms_buf_puts(out, nil);
    }
    for (i = 0; s[i] && i < max && i < sizeof(tok); i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = tag ? ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' || c == '/')
                      : (c >= 33 && c <= 126);

        tok[i] = '_';
        if (ok) {
            tok[i] = (char)c;
        }
    }
    return ms_buf_append(out, tok, i);
}

/* Writes v (0 <= v < 10^width) with exactly width digits; returns the end. */
static char *put_num(char *p, int v, int width)
{
    int i;

    for (i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

int sl_header_write(const struct sl_header_opts *h,
                    const struct ms_event *ev,
                    int64_t now_ms,
                    struct ms_buf *out)
{
    static const char *const mon[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int pri = h->facility * 8 + sl_syslog_severity(ev);
    int64_t ms;
    time_t sec;
    struct tm tm;
    int ret;

    if (!sl_ev_time_ms(ev, &ms) || ms < 0 || ms >= 253402300800000LL) {
        ms = now_ms; /* no usable event time (or past year 9999): the time of sending */
    }
    sec = (time_t)(ms / 1000);
    if (h->kind == SL_HEADER_RFC5424) {
        char ts[48];
        char *p = ts;

        if (!gmtime_r(&sec, &tm)) {
            return MS_EINVAL;
        }
        /* "<PRI>1 YYYY-MM-DDThh:mm:ss.mmmZ " without printf (hot path). */
        *p++ = '<';
        p = put_num(p, pri, pri >= 100 ? 3 : pri >= 10 ? 2 : 1);
        memcpy(p, ">1 ", 3);
        p = put_num(p + 3, tm.tm_year + 1900, 4);
        *p++ = '-';
        p = put_num(p, tm.tm_mon + 1, 2);
        *p++ = '-';
        p = put_num(p, tm.tm_mday, 2);
        *p++ = 'T';
        p = put_num(p, tm.tm_hour, 2);
        *p++ = ':';
        p = put_num(p, tm.tm_min, 2);
        *p++ = ':';
        p = put_num(p, tm.tm_sec, 2);
        *p++ = '.';
        p = put_num(p, (int)(ms % 1000), 3);
        memcpy(p, "Z ", 2);
        ret = ms_buf_append(out, ts, (size_t)(p + 2 - ts));
        if (ret == MS_OK) {
            ret = put_token(out, h->hostname, HOSTNAME_MAX, false, "-");
        }
        if (ret == MS_OK) {
            ret = ms_buf_putc(out, ' ');
        }
        if (ret == MS_OK) {
            ret = put_token(out, h->app_name, APPNAME_MAX, false, "-");
        }
        /* PROCID, MSGID and STRUCTURED-DATA are NILVALUE; no BOM before LEEF/CEF (QRadar). */
        return ret == MS_OK ? ms_buf_puts(out, " - - - ") : ret;
    }
    if (!(h->utc ? gmtime_r(&sec, &tm) : localtime_r(&sec, &tm))) {
        return MS_EINVAL;
    }
    ret = ms_buf_printf(out, "<%d>%s %2d %02d:%02d:%02d ", pri, mon[tm.tm_mon], tm.tm_mday,
                        tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (ret == MS_OK) {
        ret = put_token(out, h->hostname, HOSTNAME_MAX, false, "-");
    }
    if (ret == MS_OK) {
        ret = ms_buf_putc(out, ' ');
    }
    if (ret == MS_OK && h->app_name[0]) {
        ret = put_token(out, h->app_name, TAG_MAX, true, NULL);
        if (ret == MS_OK) {
            ret = ms_buf_puts(out, ": ");
        }
    }
    return ret;
}

size_t sl_truncate_len(const char *msg, size_t len, size_t max)
{
    size_t cut = max;
    size_t bs = 0;
    int back = 0;

    if (len <= max) {
        return len;
    }
    /* msg[cut] is the first byte left out: step back while it continues a UTF-8 sequence. */
    while (cut > 0 && back < 3 && ((unsigned char)msg[cut] & 0xC0) == 0x80) {
        cut--;
        back++;
    }
    while (bs < cut && msg[cut - 1 - bs] == '\\') {
        bs++;
    }
    if (bs % 2 == 1) {
        cut--; /* an escape whose second character was cut off */
    }
    return cut;
}

int sl_frame(enum sl_framing framing, const char *msg, size_t len, struct ms_buf *out)
{
    int ret = MS_OK;

    if (framing == SL_FRAMING_OCTET) {
        ret = sl_put_i64(out, (int64_t)len);
        if (ret == MS_OK) {
            ret = ms_buf_putc(out, ' ');
        }
    }
    if (ret == MS_OK) {
        ret = ms_buf_append(out, msg, len);
    }
    if (ret == MS_OK && framing == SL_FRAMING_LF) {
        ret = ms_buf_putc(out, '\n');
    }
    return ret;
}
