/*
 * file output: one normalized event per line (JSON) to a path or to stdout ("-").
 * A batch counts as delivered once every byte is written (and fsynced, for files).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/core/ms_buf.h"
#include "../../src/core/ms_err.h"
#include "../../src/core/ms_log.h"
#include "../../src/core/ms_plugin.h"

struct file_ctx {
    /* config */
    char *path;
    bool fsync;
    /* state */
    int fd; /* -1 until the first flush */
    struct ms_buf out;
};

static const struct ms_config_map file_config_map[] = {
    {.name = "path",
     .type = MS_CFG_STR,
     .def = "-",
     .offset = offsetof(struct file_ctx, path),
     .desc = "file to append JSON lines to; - = standard output"},
    {.name = "fsync",
     .type = MS_CFG_BOOL,
     .def = "true",
     .offset = offsetof(struct file_ctx, fsync),
     .desc = "fsync the file after each batch (ignored for standard output)"},
    {0},
};

static bool to_stdout(const struct file_ctx *ctx)
{
    return strcmp(ctx->path, "-") == 0;
}

static int file_init(struct ms_instance *ins, struct ms_cfg_errors *errs)
{
    struct file_ctx *ctx = ins->ctx;

    (void)errs;
    ctx->fd = -1;
    /* With raw the spooled text goes out as it is; without, the event minus "raw" is written. */
    ins->event_view = ins->include_raw ? MS_VIEW_TEXT : MS_VIEW_NO_RAW;
    ms_buf_init(&ctx->out, 256u * 1024 * 1024);
    return MS_OK;
}

/* Appends ev as one line, leaving out "raw" when the output is configured so. */
static int
format_event(const struct ms_instance *ins, const struct ms_event *ev, struct ms_buf *out)
{
    struct json_object *copy;
    const char *text;
    size_t len;
    int ret;

    if (ins->include_raw && ev->text) {
        ret = ms_buf_append(out, ev->text, ev->text_len);
    }
    else {
        copy = json_object_new_object();
        if (!copy) {
            return MS_ENOMEM;
        }
        json_object_object_foreach(ev->ev, key, val) {
            if (strcmp(key, "raw") != 0) {
                json_object_object_add(copy, key, json_object_get(val));
            }
        }
        text = json_object_to_json_string_length(
            copy, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        ret = ms_buf_append(out, text, len);
        json_object_put(copy);
    }
    if (ret == MS_OK) {
        ret = ms_buf_putc(out, '\n');
    }
    return ret;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return MS_EIO;
        }
        p += n;
        len -= (size_t)n;
    }
    return MS_OK;
}

static int file_flush(struct ms_instance *ins, const struct ms_batch *b)
{
    struct file_ctx *ctx = ins->ctx;
    size_t i;
    int ret;

    if (ctx->fd < 0) {
        ctx->fd = to_stdout(ctx) ? STDOUT_FILENO
                                 : open(ctx->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (ctx->fd < 0) {
            ms_log_error(ins, "cannot open %s: %s", ctx->path, strerror(errno));
            return MS_ERETRY;
        }
    }
    ms_buf_reset(&ctx->out);
    for (i = 0; i < b->n; i++) {
        ret = format_event(ins, &b->events[i], &ctx->out);
        if (ret != MS_OK) {
            ms_log_error(ins, "cannot format a batch of %zu events: %s", b->n, ms_strerror(ret));
            return MS_ERETRY;
        }
    }
    if (write_all(ctx->fd, ctx->out.data, ctx->out.len) != MS_OK) {
        /* A partial write leaves a torn line; the retry writes the whole batch again. */
        ms_log_error(ins, "write to %s failed: %s", ctx->path, strerror(errno));
        return MS_ERETRY;
    }
    if (!to_stdout(ctx) && ctx->fsync && fsync(ctx->fd) != 0) {
        ms_log_error(ins, "fsync of %s failed: %s", ctx->path, strerror(errno));
        return MS_ERETRY;
    }
    return MS_OK;
}

static void file_destroy(struct ms_instance *ins)
{
    struct file_ctx *ctx = ins->ctx;

    if (ctx->fd >= 0 && ctx->fd != STDOUT_FILENO) {
        close(ctx->fd);
    }
    ctx->fd = -1;
    ms_buf_free(&ctx->out);
}

static int file_test(struct ms_instance *ins, char *detail, size_t detail_len)
{
    struct file_ctx *ctx = ins->ctx;
    int fd;

    if (to_stdout(ctx)) {
        snprintf(detail, detail_len, "writes to standard output");
        return MS_OK;
    }
    fd = open(ctx->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(detail, detail_len, "cannot open %s for appending: %s", ctx->path,
                 strerror(errno));
        return MS_EIO;
    }
    close(fd);
    snprintf(detail, detail_len, "%s is writable", ctx->path);
    return MS_OK;
}

const struct ms_output_plugin out_file_plugin = {
    .name = "file",
    .description = "JSON lines to a file or standard output",
    .config_map = file_config_map,
    .ctx_size = sizeof(struct file_ctx),
    .init = file_init,
    .flush = file_flush,
    .destroy = file_destroy,
    .test = file_test,
};
