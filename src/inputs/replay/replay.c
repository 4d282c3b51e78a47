/*
 * replay input: vendor records from a JSON-lines file, tagged with a source type. Keeps its byte
 * offset in the file across restarts; a file that shrank (rotated or rewritten) starts over.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../core/ms_buf.h"
#include "../../core/ms_err.h"
#include "../../core/ms_log.h"
#include "../../core/ms_plugin.h"
#include "../../core/ms_state.h"

struct replay_ctx {
    /* config */
    char *path;
    char *source_type;
    /* state */
    FILE *file;
    bool loaded;
    int64_t committed_offset;
    int64_t committed_line;
    int64_t pending_offset;
    int64_t pending_line;
    struct ms_buf line;
    struct json_tokener *tok; /* reused for every line (a new one per line costs allocations) */
};

static const struct ms_config_map replay_config_map[] = {
    {.name = "path",
     .type = MS_CFG_STR,
     .flags = MS_CFG_REQUIRED,
     .offset = offsetof(struct replay_ctx, path),
     .desc = "JSON-lines file of vendor records, one record per line"},
    {.name = "source_type",
     .type = MS_CFG_STR,
     .flags = MS_CFG_REQUIRED,
     .offset = offsetof(struct replay_ctx, source_type),
     .desc = "source type of every record in the file (e.g. mimecast:ttp:url)"},
    {0},
};

static bool valid_source_type(const char *s)
{
    size_t n = strlen(s);
    size_t i;

    if (n == 0 || n >= MS_SOURCE_TYPE_MAX) {
        return false;
    }
    for (i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ':' || c == '-' ||
              c == '_')) {
            return false;
        }
    }
    return true;
}

static int replay_init(struct ms_instance *ins, struct ms_cfg_errors *errs)
{
    struct replay_ctx *ctx = ins->ctx;
    int ret = MS_OK;

    ms_buf_init(&ctx->line, MS_CAP_LINE);
    ctx->tok = json_tokener_new();
    if (!ctx->tok) {
        return MS_ENOMEM;
    }
    if (!valid_source_type(ctx->source_type)) {
        ms_instance_config_error(ins, errs, "source_type",
                                 "'%s' is not a source type (lowercase letters, digits, ':' '-' "
                                 "'_'; at most %d characters)",
                                 ctx->source_type, MS_SOURCE_TYPE_MAX - 1);
        ret = MS_EINVAL;
    }
    if (access(ctx->path, R_OK) != 0) {
        ms_instance_config_error(ins, errs, "path", "cannot read '%s': %s", ctx->path,
                                 strerror(errno));
        ret = MS_EINVAL;
    }
    return ret;
}

static int replay_load(struct ms_instance *ins, struct replay_ctx *ctx)
{
    struct json_object *cursor = NULL;
    struct json_object *v;
    int rc;

    rc = ms_state_load(ins->rt->state_dir, ins->name, &cursor);
    if (rc == MS_EOF) {
        ctx->loaded = true;
        return MS_OK;
    }
    if (rc != MS_OK) {
        ms_log_error(ins, "cannot read its cursor from %s/inputs/%s.json: %s", ins->rt->state_dir,
                     ins->name, ms_strerror(rc));
        return rc;
    }
    if (json_object_object_get_ex(cursor, "offset", &v)) { /* borrowed */
        ctx->committed_offset = json_object_get_int64(v);
    }
    if (json_object_object_get_ex(cursor, "line", &v)) { /* borrowed */
        ctx->committed_line = json_object_get_int64(v);
    }
    json_object_put(cursor);
    ctx->pending_offset = ctx->committed_offset;
    ctx->pending_line = ctx->committed_line;
    ctx->loaded = true;
    ms_log_info(ins, "resuming %s at line %" PRId64 " (byte %" PRId64 ")", ctx->path,
                ctx->committed_line + 1, ctx->committed_offset);
    return MS_OK;
}

static int replay_open(struct ms_instance *ins, struct replay_ctx *ctx)
{
    struct stat st;

    ctx->file = fopen(ctx->path, "r");
    if (!ctx->file) {
        ms_log_error(ins, "cannot open %s: %s", ctx->path, strerror(errno));
        return MS_ERETRY;
    }
    if (fstat(fileno(ctx->file), &st) == 0 && st.st_size < ctx->pending_offset) {
        ms_log_warn(ins,
                    "%s is shorter (%lld bytes) than the saved offset %" PRId64
                    "; it was replaced, reading it from the start",
                    ctx->path, (long long)st.st_size, ctx->pending_offset);
        ctx->pending_offset = 0;
        ctx->pending_line = 0;
    }
    if (fseeko(ctx->file, ctx->pending_offset, SEEK_SET) != 0) {
        ms_log_error(ins, "cannot seek in %s: %s", ctx->path, strerror(errno));
        fclose(ctx->file);
        ctx->file = NULL;
        return MS_ERETRY;
    }
    return MS_OK;
}

/*
 * Reads one complete line into ctx->line. Returns MS_OK, MS_EOF (no complete line yet),
 * MS_ETOOBIG (longer than the cap) or MS_EINVAL (holds a NUL byte); the line is consumed
 * in the last two cases. consumed is measured on the file, so NUL bytes cannot skew the offset.
 */
static int read_line(struct replay_ctx *ctx, size_t *consumed)
{
    char chunk[16384];
    bool too_big = false;
    size_t seen = 0;
    off_t start = ftello(ctx->file);
    size_t n;

    ms_buf_reset(&ctx->line);
    *consumed = 0;
    while (fgets(chunk, sizeof(chunk), ctx->file)) {
        n = strlen(chunk);
        seen += n;
        if (n > 0 && chunk[n - 1] == '\n') {
            if (!too_big && ms_buf_append(&ctx->line, chunk, n - 1) != MS_OK) {
                too_big = true;
            }
            *consumed = (size_t)(ftello(ctx->file) - start);
            if (too_big) {
                return MS_ETOOBIG;
            }
            return *consumed == seen ? MS_OK : MS_EINVAL;
        }
        /* No newline: a long line continues in the next chunk (or the file ends here). */
        if (!too_big && ms_buf_append(&ctx->line, chunk, n) != MS_OK) {
            too_big = true; /* keep consuming the rest of the line */
        }
    }
    return MS_EOF;
}

static int replay_collect(struct ms_instance *ins, struct ms_batch *b, bool *more)
{
    struct replay_ctx *ctx = ins->ctx;
    size_t consumed;
    int ret;

    if (!ctx->loaded) {
        ret = replay_load(ins, ctx);
        if (ret != MS_OK) {
            return ret;
        }
    }
    if (!ctx->file) {
        ret = replay_open(ins, ctx);
        if (ret != MS_OK) {
            return ret;
        }
    }
    clearerr(ctx->file);
    *more = false;
    while (!ms_batch_full(b)) {
        struct json_object *rec;
        enum json_tokener_error jerr = json_tokener_success;
        const char *text;

        ret = read_line(ctx, &consumed);
        if (ret == MS_EOF) {
            /* An incomplete last line may still be being written: read it next time. */
            if (fseeko(ctx->file, ctx->pending_offset, SEEK_SET) != 0) {
                fclose(ctx->file);
                ctx->file = NULL;
            }
            return MS_OK;
        }
        ctx->pending_offset += (int64_t)consumed;
        ctx->pending_line++;
        if (ret == MS_ETOOBIG || ret == MS_EINVAL) {
            if (ret == MS_ETOOBIG) {
                ms_log_warn(ins, "%s:%" PRId64 ": record longer than %u bytes rejected", ctx->path,
                            ctx->pending_line, MS_CAP_LINE);
            }
            else {
                ms_log_warn(ins, "%s:%" PRId64 ": record rejected: contains a NUL byte", ctx->path,
                            ctx->pending_line);
            }
            b->rejected++;
            continue;
        }
        text = ms_buf_cstr(&ctx->line);
        if (text[strspn(text, " \t\r")] == '\0') {
            continue;
        }
        /* json_tokener_parse_verbose, with the reused tokener */
        json_tokener_reset(ctx->tok);
        rec = json_tokener_parse_ex(ctx->tok, text, -1);
        jerr = json_tokener_get_error(ctx->tok);
        if (jerr != json_tokener_success) {
            json_object_put(rec);
            rec = NULL;
        }
        if (!rec || !json_object_is_type(rec, json_type_object)) {
            ms_log_warn(ins, "%s:%" PRId64 ": record rejected: %s", ctx->path, ctx->pending_line,
                        rec ? "not a JSON object" : json_tokener_error_desc(jerr));
            json_object_put(rec);
            b->rejected++;
            continue;
        }
        ret = ms_batch_add_record(b, ctx->source_type, rec);
        if (ret != MS_OK) {
            return ret;
        }
    }
    *more = true;
    return MS_OK;
}

static int replay_commit(struct ms_instance *ins)
{
    struct replay_ctx *ctx = ins->ctx;
    struct json_object *cursor;
    int ret;

    if (ctx->pending_offset == ctx->committed_offset) {
        return MS_OK;
    }
    cursor = json_object_new_object();
    if (!cursor) {
        return MS_ENOMEM;
    }
    json_object_object_add(cursor, "path", json_object_new_string(ctx->path));
    json_object_object_add(cursor, "offset", json_object_new_int64(ctx->pending_offset));
    json_object_object_add(cursor, "line", json_object_new_int64(ctx->pending_line));
    ret = ms_state_save(ins->rt->state_dir, ins->name, cursor);
    json_object_put(cursor);
    if (ret != MS_OK) {
        return ret;
    }
    ctx->committed_offset = ctx->pending_offset;
    ctx->committed_line = ctx->pending_line;
    return MS_OK;
}

static void replay_rollback(struct ms_instance *ins)
{
    struct replay_ctx *ctx = ins->ctx;

    ctx->pending_offset = ctx->committed_offset;
    ctx->pending_line = ctx->committed_line;
    if (ctx->file && fseeko(ctx->file, ctx->pending_offset, SEEK_SET) != 0) {
        fclose(ctx->file);
        ctx->file = NULL;
    }
}

static void replay_destroy(struct ms_instance *ins)
{
    struct replay_ctx *ctx = ins->ctx;

    if (ctx->file) {
        fclose(ctx->file);
        ctx->file = NULL;
    }
    ms_buf_free(&ctx->line);
    if (ctx->tok) {
        json_tokener_free(ctx->tok);
        ctx->tok = NULL;
    }
}

static int replay_test(struct ms_instance *ins, char *detail, size_t detail_len)
{
    struct replay_ctx *ctx = ins->ctx;
    struct stat st;

    if (stat(ctx->path, &st) != 0 || access(ctx->path, R_OK) != 0) {
        snprintf(detail, detail_len, "cannot read %s: %s", ctx->path, strerror(errno));
        return MS_EIO;
    }
    snprintf(detail, detail_len, "%s is readable (%lld bytes)", ctx->path, (long long)st.st_size);
    return MS_OK;
}

const struct ms_input_plugin in_replay_plugin = {
    .name = "replay",
    .description = "vendor records from a JSON-lines file (demos, tests, re-ingestion)",
    .config_map = replay_config_map,
    .ctx_size = sizeof(struct replay_ctx),
    .init = replay_init,
    .collect = replay_collect,
    .commit = replay_commit,
    .rollback = replay_rollback,
    .destroy = replay_destroy,
    .test = replay_test,
};
