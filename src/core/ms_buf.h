/* Bounded, growable byte buffer (after curl's dynbuf): every buffer has a hard cap set at init. */
#ifndef MS_BUF_H
#define MS_BUF_H

#include <stdarg.h>
#include <stddef.h>

/* Caps used across the code base. */
#define MS_CAP_API_PAGE (64u * 1024 * 1024) /* one vendor API response */
#define MS_CAP_EVENT    (4u * 1024 * 1024)  /* one serialized event */
#define MS_CAP_LINE     (1u * 1024 * 1024)  /* one input line (replay) */

/*
 * States: unallocated (data == NULL, len == 0) or allocated (data holds len bytes plus a NUL).
 * The buffer owns data. len never exceeds max.
 */
struct ms_buf {
    char *data;
    size_t len;
    size_t cap; /* allocated bytes */
    size_t max; /* hard limit on len */
};

/* Prepares an empty buffer that may grow to max bytes. Allocates nothing. */
void ms_buf_init(struct ms_buf *buf, size_t max);

/* Frees the memory and leaves the buffer empty (reusable, same max). NULL-safe. */
void ms_buf_free(struct ms_buf *buf);

/* Empties the buffer but keeps its memory for reuse. */
void ms_buf_reset(struct ms_buf *buf);

/*
 * Appends n bytes. Returns MS_OK, MS_ENOMEM, or MS_ETOOBIG when len would pass max; on
 * MS_ETOOBIG the buffer is freed (as curl does), so a caller cannot keep a half page.
 */
int ms_buf_append(struct ms_buf *buf, const void *p, size_t n);
int ms_buf_puts(struct ms_buf *buf, const char *s);
int ms_buf_putc(struct ms_buf *buf, char c);
int ms_buf_printf(struct ms_buf *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ms_buf_vprintf(struct ms_buf *buf, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Shortens the contents to len bytes (len <= buf->len): rolls back a partly written record. */
void ms_buf_truncate(struct ms_buf *buf, size_t len);

/* Returns the contents as a NUL-terminated string (borrowed; "" when empty). */
const char *ms_buf_cstr(const struct ms_buf *buf);

/* Hands the data to the caller (who frees it) and leaves the buffer empty. NULL when empty. */
char *ms_buf_take(struct ms_buf *buf);

#endif
