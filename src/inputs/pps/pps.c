/*
 * pps input: Proofpoint Protection Server quarantine events. Each folder is searched in date
 * pieces (UTC "YYYY-MM-DD HH:MM:SS"); a piece that comes back with `limit` records is halved until
 * none is full, because the API has no paging and silently drops the oldest. Each poll re-reads
 * `overlap` before where the last one ended and drops repeats by (guid, folder).
 */
#include <config.h>

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../../core/ms_buf.h"
#include "../../core/ms_err.h"
#include "../../core/ms_log.h"
#include "../../core/ms_state.h"
#include "pps.h"

#define PPS_EXCERPT_MAX 200

static int64_t wall_s(void)
{
    return (int64_t)time(NULL);
}

static void excerpt(const struct ms_http_response *resp, char *out, size_t len)
{
    const char *s = ms_buf_cstr(&resp->body);
    size_t i;

    snprintf(out, len, "%.*s", PPS_EXCERPT_MAX, s);
    for (i = 0; out[i]; i++) {
        if ((unsigned char)out[i] < 0x20) {
            out[i] = ' ';
        }
    }
}

/* One error line per episode of refused credentials; later attempts say "still". */
static void pps_auth_failed(const struct ms_instance *ins, struct pps_ctx *ctx, const char *cause)
{
    if (ctx->auth_failures++ == 0) {
        ms_log_error(ins, "credentials refused: %s; the input retries later", cause);
    }
    else {
        ms_log_warn(ins, "credentials still refused (%u attempts): %s", ctx->auth_failures, cause);
    }
}

static int add_param(struct ms_buf *url, const char *key, const char *value)
{
    char *esc = curl_easy_escape(NULL, value, 0);
    int ret;

    if (!esc) {
        return MS_ENOMEM;
    }
    ret = ms_buf_printf(url, "&%s=%s", key, esc);
    curl_free(esc);
    return ret;
}

static int build_query(const struct pps_ctx *ctx,
                       const struct pps_folder *f,
                       int64_t from,
                       int64_t to,
                       int64_t limit,
                       struct ms_buf *url)
{
    char d1[32];
    char d2[32];
    char n[32];
    int ret;

    /*
     * One second of padding on each side: whether the appliance treats startdate/enddate as
     * inclusive is not documented, and the records of the padding are dropped as repeats.
     */
    pps_format_date(from - 1, (int)ctx->tz_offset, d1, sizeof(d1));
    pps_format_date(to + 1, (int)ctx->tz_offset, d2, sizeof(d2));
    snprintf(n, sizeof(n), "%" PRId64, limit);
    ret = ms_buf_printf(url, "%s?", ctx->search_url);
    if (ret == MS_OK) {
        ret = ms_buf_printf(url, "dlpviolation=details&messagestatus=t");
    }
    if (ret == MS_OK) {
        ret = add_param(url, "folder", f->name);
    }
    if (ret == MS_OK && ctx->sender && ctx->sender[0]) {
        ret = add_param(url, "from", ctx->sender);
    }
    if (ret == MS_OK && ctx->recipient && ctx->recipient[0]) {
        ret = add_param(url, "rcpt", ctx->recipient);
    }
    if (ret == MS_OK && ctx->subject && ctx->subject[0]) {
        ret = add_param(url, "subject", ctx->subject);
    }
    if (ret == MS_OK) {
        ret = add_param(url, "startdate", d1);
    }
    if (ret == MS_OK) {
        ret = add_param(url, "enddate", d2);
    }
    if (ret == MS_OK) {
        ret = add_param(url, "limit", n);
    }
    return ret;
}

/*
 * One search of folder f over [from, to]. Returns MS_OK with resp filled; MS_ETOOBIG (the body
 * passed the cap: treat as full); MS_EOF when the folder does not exist (logged once); or
 * MS_EAUTH / MS_ERETRY / MS_EPERM / MS_ENOMEM, logged here with what.
 */
static int pps_search(const struct ms_instance *ins,
                      struct pps_ctx *ctx,
                      struct pps_folder *f,
                      int64_t from,
                      int64_t to,
                      int64_t limit,
                      const char *what,
                      struct ms_http_response *resp)
{
    static const char *const headers[] = {"Accept: application/json", NULL};
    struct ms_http_request req;
    struct ms_buf url;
    char desc[300];
    char body[PPS_EXCERPT_MAX + 8];
    int rc;

    ms_buf_init(&url, 16384);
    rc = build_query(ctx, f, from, to, limit, &url);
    if (rc != MS_OK) {
        ms_buf_free(&url);
        return rc == MS_ETOOBIG ? MS_EPERM : rc;
    }
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = ms_buf_cstr(&url);
    req.headers = headers;
    req.basic_user = ctx->username;
    req.basic_password = ctx->password;
    rc = ms_http_perform(ctx->http, &req, resp);
    ctx->cycle_requests++;
    ms_log_debug(ins, "%s (limit %" PRId64 "): HTTP %ld in %" PRId64 " ms, %zu bytes", what, limit,
                 resp->status, resp->elapsed_ms, resp->body.len);
    ms_buf_free(&url);
    if (rc == MS_OK) {
        if (ctx->auth_failures) {
            ms_log_info(ins, "credentials accepted again after %u refused attempts",
                        ctx->auth_failures);
        }
        ctx->auth_failures = 0;
        return MS_OK;
    }
    ms_http_describe(resp, desc, sizeof(desc));
    if (rc == MS_EAUTH) {
        snprintf(desc, sizeof(desc), "%s answered HTTP %ld %s", ctx->search_url, resp->status,
                 resp->status == 403 ? "(the API role must manage the Quarantine module)"
                                     : "(check username and password)");
        pps_auth_failed(ins, ctx, desc);
        return MS_EAUTH;
    }
    if (rc == MS_ETOOBIG || rc == MS_ENOMEM) {
        return rc;
    }
    if (rc == MS_ERETRY) {
        ms_log_warn(ins, "%s: %s; retrying later", what, desc);
        return MS_ERETRY;
    }
    excerpt(resp, body, sizeof(body));
    if (resp->status >= 400 && resp->status < 500 && strcasestr(body, "not found")) {
        if (!f->missing_logged) {
            ms_log_error(ins,
                         "folder '%s' not found on the appliance (%s: %s); skipping it "
                         "until it exists",
                         f->name, desc, body);
            f->missing_logged = true;
        }
        return MS_EOF;
    }
    ms_log_error(ins, "%s: request refused: %s: %s", what, desc, body);
    return MS_EPERM;
}

/*
 * Searches the next piece of folder f (halving it while the answer is full) and holds its
 * records. Returns MS_OK (held, or the folder was found missing and is skipped) or a failure.
 */
static int pps_fetch_piece(const struct ms_instance *ins, struct pps_ctx *ctx, size_t fi)
{
    struct pps_folder *f = &ctx->f[fi];
    struct ms_http_response resp;
    struct pps_page page;
    int64_t window_s = ctx->window_ms / 1000;
    int64_t end = pps_piece_end(f->pos, f->span, ctx->target_end);
    int64_t limit = ctx->limit;
    char what[160];
    char d1[32];
    char d2[32];
    char why[256];
    bool full;
    bool suspect;
    int rc;

    memset(&page, 0, sizeof(page));
    ms_http_response_init(&resp);
    for (;;) {
        if (*ins->rt->stop) {
            rc = MS_OK; /* stopping: nothing held, the piece is asked for again next time */
            goto out;
        }
        pps_format_date(f->pos, 0, d1, sizeof(d1));
        pps_format_date(end, 0, d2, sizeof(d2));
        snprintf(what, sizeof(what), "folder %.40s, %s .. %s UTC", f->name, d1, d2);
        rc = pps_search(ins, ctx, f, f->pos, end, limit, what, &resp);
        if (rc == MS_EOF) {
            f->idle = true;
            rc = MS_OK;
            goto out;
        }
        suspect = false;
        if (rc == MS_ETOOBIG) {
            full = true;
        }
        else if (rc != MS_OK) {
            goto out;
        }
        else {
            rc = pps_parse_page(resp.body.data, resp.body.len, f->name, (int)ctx->tz_offset, &page,
                                why, sizeof(why));
            if (rc == MS_EINVAL) {
                ms_log_warn(ins, "%s: unusable response (%s); retrying later", what, why);
                rc = MS_ERETRY;
                goto out;
            }
            if (rc != MS_OK) {
                goto out;
            }
            full = pps_page_full(&page, limit);
            suspect = pps_page_suspect(&page, ctx->max_returned);
            if ((int64_t)page.returned > ctx->max_returned) {
                ctx->max_returned = (int64_t)page.returned;
            }
        }
        if ((full || suspect) && end > f->pos) {
            /* Cut at the limit: the oldest records are missing. Narrow to the older half. */
            end = pps_split_end(f->pos, end);
            f->span = end - f->pos + 1;
            ms_log_debug(ins, "%s: %s; narrowing to %" PRId64 " s", what,
                         full ? "full" : "as large as the largest answer yet", f->span);
            pps_page_free(&page);
            continue;
        }
        if (full && rc == MS_ETOOBIG) {
            ms_log_error(ins,
                         "%s: one second of records is larger than the response cap; "
                         "retrying later",
                         what);
            rc = MS_ERETRY;
            goto out;
        }
        if (full && limit < PPS_LIMIT_MAX) {
            limit = PPS_LIMIT_MAX; /* one second cannot be split: ask for more at once */
            pps_page_free(&page);
            continue;
        }
        if (full) {
            ms_log_error(ins,
                         "%s: %zu or more records in one second and the API cannot page: "
                         "the oldest of them may be missing",
                         what, page.returned);
        }
        break;
    }
    if (page.rejected) {
        ms_log_warn(ins, "%s: %zu records refused as malformed (first: %s)", what, page.rejected,
                    page.reject_reason);
    }
    if (!full && (int64_t)page.returned * 2 < ctx->limit && f->span < window_s) {
        f->span = f->span * 2 < window_s ? f->span * 2 : window_s;
    }
    f->missing_logged = false;
    ctx->held = page;
    memset(&page, 0, sizeof(page));
    ctx->has_held = true;
    ctx->held_next = 0;
    ctx->held_folder = fi;
    ctx->held_end = end;
    rc = MS_OK;
out:
    pps_page_free(&page);
    ms_http_response_free(&resp);
    return rc;
}

/* Hands held records on (dropping repeats) until the batch is full. */
static int pps_emit(struct pps_ctx *ctx, struct ms_batch *b)
{
    struct pps_folder *f = &ctx->f[ctx->held_folder];
    size_t n = json_object_array_length(ctx->held.records);
    int rc;

    b->rejected += ctx->held_next == 0 ? ctx->held.rejected : 0;
    while (ctx->held_next < n && !ms_batch_full(b)) {
        struct json_object *rec = json_object_array_get_idx(ctx->held.records, ctx->held_next);
        const char *guid = pps_record_guid(rec);
        int64_t date = ctx->held.dates[ctx->held_next];

        ctx->held_next++;
        if (pps_seen_has(f->seen, guid)) {
            ctx->cycle_dups++;
            continue;
        }
        rc = pps_seen_add(f->seen, guid, date);
        if (rc == MS_OK && json_object_array_add(f->added, json_object_new_string(guid)) != 0) {
            rc = MS_ENOMEM;
        }
        if (rc != MS_OK) {
            return rc;
        }
        rc = ms_batch_add_record(b, PPS_SOURCE_QUARANTINE, json_object_get(rec));
        if (rc != MS_OK) {
            return rc;
        }
        ctx->cycle_new++;
    }
    if (ctx->held_next == n) {
        f->pos = ctx->held_end + 1;
        if (ctx->held_end > f->pending_done) {
            f->pending_done = ctx->held_end;
        }
        if (f->pos > ctx->target_end) {
            f->idle = true;
        }
        pps_page_free(&ctx->held);
        ctx->has_held = false;
    }
    return MS_OK;
}

static int pps_load(const struct ms_instance *ins, struct pps_ctx *ctx)
{
    struct json_object *cursor = NULL;
    struct json_object *folders = NULL;
    int64_t start = wall_s() - ctx->lookback_ms / 1000;
    char d[32];
    size_t i;
    int rc;

    rc = ms_state_load(ins->rt->state_dir, ins->name, &cursor);
    if (rc != MS_OK && rc != MS_EOF) {
        ms_log_error(ins, "cannot read its cursor from %s/inputs/%s.json: %s", ins->rt->state_dir,
                     ins->name, ms_strerror(rc));
        return rc;
    }
    if (cursor && !json_object_object_get_ex(cursor, "folders", &folders)) { /* borrowed */
        folders = NULL;
    }
    for (i = 0; i < ctx->nf; i++) {
        struct pps_folder *f = &ctx->f[i];
        struct json_object *fc = NULL;
        struct json_object *v;

        f->seen = json_object_new_object();
        f->added = json_object_new_array();
        if (!f->seen || !f->added) {
            json_object_put(cursor);
            return MS_ENOMEM;
        }
        if (folders && json_object_object_get_ex(folders, f->name, &fc) && /* borrowed */
            json_object_object_get_ex(fc, "done", &v) && json_object_is_type(v, json_type_int)) {
            f->done = json_object_get_int64(v);
            if (json_object_object_get_ex(fc, "seen", &v) && /* borrowed */
                json_object_is_type(v, json_type_object)) {
                json_object_object_foreach(v, guid, date) {
                    if (json_object_is_type(date, json_type_int) &&
                        pps_seen_add(f->seen, guid, json_object_get_int64(date)) != MS_OK) {
                        json_object_put(cursor);
                        return MS_ENOMEM;
                    }
                }
            }
            pps_format_date(f->done, 0, d, sizeof(d));
            ms_log_info(ins, "folder %s: resuming after %s UTC (%d keys for the overlap)", f->name,
                        d, json_object_object_length(f->seen));
        }
        else {
            f->fresh = true;
            f->done = start - 1;
            pps_format_date(start, 0, d, sizeof(d));
            ms_log_info(ins, "folder %s: no cursor yet, starting at %s UTC", f->name, d);
        }
        f->pending_done = f->done;
    }
    json_object_put(cursor);
    ctx->loaded = true;
    return MS_OK;
}

static void pps_start_cycle(struct pps_ctx *ctx)
{
    int64_t overlap_s = ctx->overlap_ms / 1000;
    size_t i;

    ctx->target_end = wall_s() - ctx->settle_ms / 1000;
    for (i = 0; i < ctx->nf; i++) {
        struct pps_folder *f = &ctx->f[i];

        f->pos = f->fresh ? f->pending_done + 1 : f->pending_done - overlap_s;
        f->span = ctx->window_ms / 1000;
        f->idle = f->pos > ctx->target_end;
    }
    ctx->cur = 0;
    ctx->cycle_new = 0;
    ctx->cycle_dups = 0;
    ctx->cycle_requests = 0;
    ctx->cycle_open = true;
}

static bool pps_work_left(const struct pps_ctx *ctx)
{
    size_t i;

    if (ctx->has_held) {
        return true;
    }
    for (i = 0; i < ctx->nf; i++) {
        if (!ctx->f[i].idle) {
            return true;
        }
    }
    return false;
}

static int pps_collect(struct ms_instance *ins, struct ms_batch *b, bool *more)
{
    struct pps_ctx *ctx = ins->ctx;
    char d[32];
    size_t i;
    int rc;

    *more = false;
    if (!ctx->loaded) {
        rc = pps_load(ins, ctx);
        if (rc != MS_OK) {
            return rc;
        }
    }
    if (!ctx->cycle_open) {
        pps_start_cycle(ctx);
    }
    if (!ctx->has_held) {
        while (ctx->cur < ctx->nf && ctx->f[ctx->cur].idle) {
            ctx->cur++;
        }
        if (ctx->cur < ctx->nf) {
            rc = pps_fetch_piece(ins, ctx, ctx->cur);
            if (rc != MS_OK) {
                return rc;
            }
        }
    }
    if (ctx->has_held) {
        rc = pps_emit(ctx, b);
        if (rc != MS_OK) {
            return rc;
        }
    }
    *more = pps_work_left(ctx);
    if (!*more) {
        ctx->cycle_open = false;
        for (i = 0; i < ctx->nf; i++) {
            ctx->f[i].fresh = false;
        }
        pps_format_date(ctx->target_end, 0, d, sizeof(d));
        ms_log_debug(ins,
                     "poll done up to %s UTC: %" PRIu64 " new records, %" PRIu64
                     " repeats dropped, %" PRIu64 " requests",
                     d, ctx->cycle_new, ctx->cycle_dups, ctx->cycle_requests);
    }
    return MS_OK;
}

static int pps_commit(struct ms_instance *ins)
{
    struct pps_ctx *ctx = ins->ctx;
    struct json_object *cursor = NULL;
    struct json_object *folders;
    int64_t overlap_s = ctx->overlap_ms / 1000;
    size_t per_folder = (size_t)ctx->dedupe_max / (ctx->nf ? ctx->nf : 1);
    size_t trimmed = 0;
    bool changed = false;
    char d[32];
    size_t i;
    int ret;

    for (i = 0; i < ctx->nf; i++) {
        struct pps_folder *f = &ctx->f[i];

        if (f->pending_done != f->done || json_object_array_length(f->added) > 0) {
            changed = true;
        }
    }
    if (!changed) {
        return MS_OK;
    }
    cursor = json_object_new_object();
    folders = json_object_new_object();
    if (!cursor || !folders) {
        json_object_put(cursor);
        json_object_put(folders);
        return MS_ENOMEM;
    }
    json_object_object_add(cursor, "folders", folders);
    for (i = 0; i < ctx->nf; i++) {
        struct pps_folder *f = &ctx->f[i];
        struct json_object *fc = json_object_new_object();

        /* A re-read starts one second (padding) before done - overlap; older keys cannot recur. */
        pps_seen_prune(f->seen, f->pending_done - overlap_s - 1);
        trimmed += pps_seen_trim(f->seen, per_folder ? per_folder : 1);
        pps_format_date(f->pending_done, 0, d, sizeof(d));
        if (!fc) {
            json_object_put(cursor);
            return MS_ENOMEM;
        }
        json_object_object_add(fc, "done", json_object_new_int64(f->pending_done));
        json_object_object_add(fc, "done_utc", json_object_new_string(d));
        json_object_object_add(fc, "seen", json_object_get(f->seen));
        json_object_object_add(folders, f->name, fc);
    }
    if (trimmed) {
        ms_log_warn(ins,
                    "more than dedupe_max = %" PRId64 " keys in the overlap: %zu oldest "
                    "dropped, their records may be collected again",
                    ctx->dedupe_max, trimmed);
    }
    ret = ms_state_save(ins->rt->state_dir, ins->name, cursor);
    json_object_put(cursor);
    if (ret != MS_OK) {
        return ret;
    }
    for (i = 0; i < ctx->nf; i++) {
        struct pps_folder *f = &ctx->f[i];

        f->done = f->pending_done;
        json_object_array_del_idx(f->added, 0, json_object_array_length(f->added));
    }
    return MS_OK;
}

static void pps_rollback(struct ms_instance *ins)
{
    struct pps_ctx *ctx = ins->ctx;
    size_t i;
    size_t j;

    for (i = 0; i < ctx->nf && ctx->loaded; i++) {
        struct pps_folder *f = &ctx->f[i];
        size_t n = json_object_array_length(f->added);

        for (j = 0; j < n; j++) {
            json_object_object_del(f->seen,
                                   json_object_get_string(json_object_array_get_idx(f->added, j)));
        }
        json_object_array_del_idx(f->added, 0, n);
        f->pending_done = f->done;
    }
    pps_page_free(&ctx->held);
    ctx->has_held = false;
    ctx->cycle_open = false;
}

static int pps_init(struct ms_instance *ins, struct ms_cfg_errors *errs)
{
    return pps_conf_init(ins, errs);
}

static void pps_destroy(struct ms_instance *ins)
{
    pps_conf_destroy(ins);
}

const struct ms_input_plugin in_pps_plugin = {
    .name = "pps",
    .description = "Proofpoint Protection Server: quarantined messages, per folder",
    .config_map = pps_config_map,
    .ctx_size = sizeof(struct pps_ctx),
    .init = pps_init,
    .collect = pps_collect,
    .commit = pps_commit,
    .rollback = pps_rollback,
    .destroy = pps_destroy,
};
