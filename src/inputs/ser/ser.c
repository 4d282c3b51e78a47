/*
 * ser input: Proofpoint Secure Email Relay report summaries. Fixed windows from the cursor to
 * now minus a settle lag, one window per collect: one ser:summary record per application user
 * and window, plus one ser:entitlement record (licence use) per poll.
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../core/ms_buf.h"
#include "../../core/ms_err.h"
#include "../../core/ms_log.h"
#include "../../core/ms_retry.h"
#include "../../core/ms_state.h"
#include "ser.h"
#include "ser_parse.h"

#define SER_SLEEP_SLICE_MS 50
#define SER_429_BASE_MS    500
#define SER_429_CAP_MS     30000
#define SER_429_WAIT_MAX   (120 * 1000) /* wait out a rate limit this long, then retry later */
#define SER_EXCERPT_MAX    200

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps up to ms; returns false (early) when the service is stopping. */
static bool ser_sleep(const struct ms_instance *ins, int64_t ms)
{
    while (ms > 0 && !*ins->rt->stop) {
        int64_t slice = ms < SER_SLEEP_SLICE_MS ? ms : SER_SLEEP_SLICE_MS;
        struct timespec ts = {slice / 1000, (slice % 1000) * 1000000};

        nanosleep(&ts, NULL);
        ms -= slice;
    }
    return !*ins->rt->stop;
}

/* Keeps requests rate_limit per minute apart. Returns false when the service is stopping. */
static bool ser_pace(const struct ms_instance *ins, struct ser_ctx *ctx)
{
    int64_t wait = ctx->last_request_ms + ctx->spacing_ms - mono_ms();

    if (ctx->last_request_ms && wait > 0 && !ser_sleep(ins, wait)) {
        return false;
    }
    ctx->last_request_ms = mono_ms();
    return !*ins->rt->stop;
}

/* A short, one-line excerpt of a response body for a log line. */
static void excerpt(const struct ms_http_response *resp, char *out, size_t len)
{
    const char *s = ms_buf_cstr(&resp->body);
    size_t i;

    snprintf(out, len, "%.*s", SER_EXCERPT_MAX, s);
    for (i = 0; out[i]; i++) {
        if ((unsigned char)out[i] < 0x20) {
            out[i] = ' ';
        }
    }
}

/* One error line per episode of refused credentials; later attempts say "still". */
static void ser_auth_failed(const struct ms_instance *ins, struct ser_ctx *ctx, const char *cause)
{
    if (ctx->auth_failures++ == 0) {
        ms_log_error(ins, "credentials refused: %s; the input retries later", cause);
    }
    else {
        ms_log_warn(ins, "credentials still refused (%u attempts): %s", ctx->auth_failures, cause);
    }
}

static void ser_auth_ok(const struct ms_instance *ins, struct ser_ctx *ctx)
{
    if (ctx->auth_failures) {
        ms_log_info(ins, "credentials accepted again after %u refused attempts",
                    ctx->auth_failures);
    }
    ctx->auth_failures = 0;
}

/* A valid access token (borrowed). MS_OK, MS_EOF (stopping), or a failure logged here. */
static int
ser_token(const struct ms_instance *ins, struct ser_ctx *ctx, bool force, const char **token)
{
    char why[512];
    int rc;

    if (force || ms_oauth_remaining_ms(ctx->oauth) <= ctx->token_refresh_ms) {
        if (!ser_pace(ins, ctx)) {
            return MS_EOF;
        }
    }
    rc = ms_oauth_token(ctx->oauth, ctx->http, force, token, why, sizeof(why));
    if (rc == MS_OK || rc == MS_ENOMEM) {
        return rc;
    }
    if (rc == MS_EAUTH) {
        ser_auth_failed(ins, ctx, why);
        return MS_EAUTH;
    }
    ms_log_warn(ins, "cannot get an access token: %s; retrying later", why);
    return MS_ERETRY;
}

static void format_param(const struct ser_ctx *ctx, int64_t ms, char *out, size_t len)
{
    if (ctx->epoch_ms_params) {
        snprintf(out, len, "%" PRId64, ms);
    }
    else {
        ser_format_ts(ms, out, len);
    }
}

/*
 * GETs the summary for [start_ms, end_ms); start_ms SER_TIME_UNKNOWN leaves startTimeStamp out
 * (the API then starts at the licence start). Fetches a token when needed, a new one once after a
 * 401, and waits out 429s (Retry-After or backoff) up to SER_429_WAIT_MAX.
 * Returns MS_OK with resp filled, MS_EOF when the service is stopping, or MS_EAUTH / MS_ERETRY /
 * MS_EPERM / MS_ENOMEM, logged here with what.
 */
static int ser_fetch(const struct ms_instance *ins,
                     struct ser_ctx *ctx,
                     int64_t start_ms,
                     int64_t end_ms,
                     const char *what,
                     struct ms_http_response *resp)
{
    const char *headers[3];
    struct ms_http_request req;
    struct ms_buf url;
    struct ms_buf auth;
    char p1[40];
    char p2[40];
    char desc[300];
    char body[SER_EXCERPT_MAX + 8];
    const char *token;
    bool force = false;
    bool retried_401 = false;
    unsigned n429 = 0;
    int64_t waited = 0;
    int ret;

    ms_buf_init(&url, 16384);
    ms_buf_init(&auth, 16384);
    format_param(ctx, end_ms, p2, sizeof(p2));
    if (start_ms == SER_TIME_UNKNOWN) {
        ret = ms_buf_printf(&url, "%s?endTimeStamp=%s", ctx->summary_url, p2);
    }
    else {
        format_param(ctx, start_ms, p1, sizeof(p1));
        ret = ms_buf_printf(&url, "%s?startTimeStamp=%s&endTimeStamp=%s", ctx->summary_url, p1, p2);
    }
    if (ret != MS_OK) {
        goto out;
    }
    for (;;) {
        int64_t delay;
        int rc;

        ret = ser_token(ins, ctx, force, &token);
        if (ret != MS_OK) {
            goto out;
        }
        ms_buf_reset(&auth);
        ret = ms_buf_printf(&auth, "Authorization: Bearer %s", token);
        if (ret != MS_OK) {
            goto out;
        }
        headers[0] = ms_buf_cstr(&auth);
        headers[1] = "Accept: application/json";
        headers[2] = NULL;
        memset(&req, 0, sizeof(req));
        req.method = "GET";
        req.url = ms_buf_cstr(&url);
        req.headers = headers;
        if (!ser_pace(ins, ctx)) {
            ret = MS_EOF;
            goto out;
        }
        rc = ms_http_perform(ctx->http, &req, resp);
        explicit_bzero(auth.data, auth.len);
        ms_log_debug(ins, "GET %s: HTTP %ld in %" PRId64 " ms", what, resp->status,
                     resp->elapsed_ms);
        if (rc == MS_OK) {
            ser_auth_ok(ins, ctx);
            ret = MS_OK;
            goto out;
        }
        if (resp->status == 401 && !retried_401) {
            /* Expired or revoked early: one new token, one more try. */
            ms_log_info(ins, "%s: the API refused the access token (HTTP 401); fetching a new one",
                        what);
            retried_401 = true;
            force = true;
            continue;
        }
        force = false;
        if (resp->status == 401) {
            ser_auth_failed(ins, ctx, "the API refused a freshly issued access token (HTTP 401)");
            ret = MS_EAUTH;
            goto out;
        }
        if (resp->status == 403) {
            ser_auth_failed(ins, ctx, "the API refused access to the report (HTTP 403)");
            ret = MS_EAUTH;
            goto out;
        }
        if (resp->status == 429) {
            delay = ms_http_retry_delay_ms(resp, n429, SER_429_BASE_MS, SER_429_CAP_MS, &ctx->rng);
            if (waited + delay > SER_429_WAIT_MAX) {
                ms_log_warn(ins,
                            "%s: still rate limited (HTTP 429) after %" PRId64
                            " ms of waiting; retrying later",
                            what, waited);
                ret = MS_ERETRY;
                goto out;
            }
            if (n429 == 0) {
                ms_log_warn(ins, "%s: rate limited (HTTP 429); waiting it out", what);
            }
            ms_log_debug(ins, "%s: HTTP 429, retry %u in %" PRId64 " ms", what, n429 + 1, delay);
            if (!ser_sleep(ins, delay)) {
                ret = MS_EOF;
                goto out;
            }
            waited += delay;
            n429++;
            continue;
        }
        ms_http_describe(resp, desc, sizeof(desc));
        if (rc == MS_ERETRY || rc == MS_ETOOBIG) {
            ms_log_warn(ins, "%s: %s; retrying later", what, desc);
            ret = MS_ERETRY;
            goto out;
        }
        if (rc == MS_ENOMEM) {
            ret = rc;
            goto out;
        }
        excerpt(resp, body, sizeof(body));
        ms_log_error(ins, "%s: request refused: %s: %s", what, desc, body);
        ret = MS_EPERM;
        goto out;
    }
out:
    if (auth.data) {
        explicit_bzero(auth.data, auth.len);
    }
    ms_buf_free(&auth);
    ms_buf_free(&url);
    return ret;
}

static int ser_load(const struct ms_instance *ins, struct ser_ctx *ctx)
{
    struct json_object *cursor = NULL;
    struct json_object *v;
    char ts[40];
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
    if (!json_object_object_get_ex(cursor, "next_start_ms", &v) || /* borrowed */
        !json_object_is_type(v, json_type_int)) {
        ms_log_error(ins,
                     "its cursor %s/inputs/%s.json has no next_start_ms; move it away to "
                     "start over from lookback",
                     ins->rt->state_dir, ins->name);
        json_object_put(cursor);
        return MS_EINVAL;
    }
    ctx->committed_start = json_object_get_int64(v);
    ctx->committed_offset = 0;
    if (json_object_object_get_ex(cursor, "offset", &v)) { /* borrowed */
        ctx->committed_offset = json_object_get_int64(v);
    }
    /* An offset counts records of a window of the saved length only. */
    if (!json_object_object_get_ex(cursor, "window_ms", &v) || /* borrowed */
        json_object_get_int64(v) != ctx->window_ms || ctx->committed_offset < 0) {
        ctx->committed_offset = 0;
    }
    json_object_put(cursor);
    ctx->pending_start = ctx->committed_start;
    ctx->pending_offset = ctx->committed_offset;
    ctx->loaded = true;
    ser_format_ts(ctx->committed_start, ts, sizeof(ts));
    ms_log_info(ins, "resuming with the window that starts %s", ts);
    return MS_OK;
}

/* The licence record of this poll; also learns the licence start. */
static int ser_license_poll(const struct ms_instance *ins, struct ser_ctx *ctx, struct ms_batch *b)
{
    struct ms_http_response resp;
    struct ser_summary s;
    struct json_object *rec = NULL;
    int64_t now = wall_ms();
    char why[256];
    int ret;

    ms_http_response_init(&resp);
    memset(&s, 0, sizeof(s));
    ret = ser_fetch(ins, ctx, SER_TIME_UNKNOWN, now, "licence summary", &resp);
    if (ret != MS_OK) {
        goto out;
    }
    ret = ser_parse_summary(resp.body.data, resp.body.len, false, SER_TIME_UNKNOWN, now, &s, why,
                            sizeof(why));
    if (ret == MS_EINVAL) {
        ms_log_warn(ins, "licence summary: unusable response (%s); retrying later", why);
        ret = MS_ERETRY;
        goto out;
    }
    if (ret != MS_OK) {
        goto out;
    }
    if (s.license_start_ms != SER_TIME_UNKNOWN) {
        ctx->license_start_ms = s.license_start_ms;
    }
    if (s.rejected) {
        ms_log_warn(ins,
                    "licence summary: %zu application users refused as malformed (first: %s);"
                    " throughput_used leaves them out",
                    s.rejected, s.reject_reason);
    }
    ret = ser_license_record(&s, now, &rec, why, sizeof(why));
    if (ret == MS_EINVAL) {
        ms_log_warn(ins, "no licence record this poll: %s", why);
        ret = MS_OK;
        goto out;
    }
    if (ret == MS_OK) {
        ret = ms_batch_add_record(b, SER_SOURCE_ENTITLEMENT, rec);
    }
out:
    ser_summary_free(&s);
    ms_http_response_free(&resp);
    return ret;
}

/* Fetches the window at pending_start into held. MS_OK, MS_EOF or a failure (logged). */
static int ser_fetch_window(const struct ms_instance *ins,
                            struct ser_ctx *ctx,
                            struct ms_batch *b,
                            int64_t end)
{
    struct ms_http_response resp;
    struct ser_summary s;
    char what[128];
    char t1[40];
    char t2[40];
    char why[256];
    size_t n;
    int ret;

    ser_format_ts(ctx->pending_start, t1, sizeof(t1));
    ser_format_ts(end, t2, sizeof(t2));
    snprintf(what, sizeof(what), "window %s - %s", t1, t2);
    ms_http_response_init(&resp);
    memset(&s, 0, sizeof(s));
    ret = ser_fetch(ins, ctx, ctx->pending_start, end, what, &resp);
    if (ret != MS_OK) {
        goto out;
    }
    ret = ser_parse_summary(resp.body.data, resp.body.len, true, ctx->pending_start, end, &s, why,
                            sizeof(why));
    if (ret == MS_EINVAL) {
        ms_log_warn(ins, "%s: unusable response (%s); retrying later", what, why);
        ret = MS_ERETRY;
        goto out;
    }
    if (ret != MS_OK) {
        goto out;
    }
    if (s.rejected) {
        ms_log_warn(ins, "%s: %zu application users refused as malformed (first: %s)", what,
                    s.rejected, s.reject_reason);
        b->rejected += s.rejected;
    }
    n = json_object_array_length(s.records);
    ctx->held = s.records;
    s.records = NULL;
    ctx->held_end = end;
    /* Resuming a window that did not fit one batch: skip what is already out. */
    ctx->held_next = 0;
    if (ctx->pending_offset > 0) {
        ctx->held_next = (size_t)ctx->pending_offset < n ? (size_t)ctx->pending_offset : n;
    }
    ms_log_debug(ins, "%s: %zu application users", what, n);
out:
    ser_summary_free(&s);
    ms_http_response_free(&resp);
    return ret;
}

static int ser_collect(struct ms_instance *ins, struct ms_batch *b, bool *more)
{
    struct ser_ctx *ctx = ins->ctx;
    int64_t end;
    char ts[40];
    size_t n;
    int ret;

    *more = false;
    if (!ctx->loaded) {
        ret = ser_load(ins, ctx);
        if (ret != MS_OK) {
            return ret;
        }
    }
    if (!ctx->cycle_open) {
        ret = ser_license_poll(ins, ctx, b);
        if (ret == MS_EOF) {
            return MS_OK;
        }
        if (ret != MS_OK) {
            return ret;
        }
        ctx->cycle_open = true;
        ctx->cycle_windows = 0;
        if (ctx->pending_start == SER_NO_CURSOR) {
            ctx->pending_start =
                ser_first_start(wall_ms(), ctx->lookback_ms, ctx->window_ms, ctx->license_start_ms);
            ctx->pending_offset = 0;
            ser_format_ts(ctx->pending_start, ts, sizeof(ts));
            ms_log_info(ins, "no cursor yet: starting with the window that starts %s", ts);
        }
    }
    if (!ctx->held && !ms_batch_full(b)) {
        if (!ser_window_due(ctx->pending_start, ctx->window_ms, wall_ms(), ctx->settle_ms, &end)) {
            goto done;
        }
        ret = ser_fetch_window(ins, ctx, b, end);
        if (ret == MS_EOF) {
            return MS_OK;
        }
        if (ret != MS_OK) {
            return ret;
        }
    }
    if (ctx->held) {
        n = json_object_array_length(ctx->held);
        while (ctx->held_next < n && !ms_batch_full(b)) {
            struct json_object *rec = json_object_array_get_idx(ctx->held, ctx->held_next);

            ret = ms_batch_add_record(b, SER_SOURCE_SUMMARY, json_object_get(rec));
            if (ret != MS_OK) {
                return ret;
            }
            ctx->held_next++;
        }
        if (ctx->held_next < n) {
            ctx->pending_offset = (int64_t)ctx->held_next;
            *more = true;
            return MS_OK;
        }
        ctx->pending_start = ctx->held_end;
        ctx->pending_offset = 0;
        json_object_put(ctx->held);
        ctx->held = NULL;
        ctx->cycle_windows++;
    }
done:
    *more = ms_batch_full(b) ||
            ser_window_due(ctx->pending_start, ctx->window_ms, wall_ms(), ctx->settle_ms, &end);
    if (!*more) {
        ctx->cycle_open = false;
        if (ctx->cycle_windows) {
            ser_format_ts(ctx->pending_start, ts, sizeof(ts));
            ms_log_info(ins, "caught up: %u windows this poll; the next starts %s",
                        ctx->cycle_windows, ts);
        }
    }
    return MS_OK;
}

static int ser_commit(struct ms_instance *ins)
{
    struct ser_ctx *ctx = ins->ctx;
    struct json_object *cursor;
    char ts[40];
    int ret;

    if (ctx->pending_start == ctx->committed_start &&
        ctx->pending_offset == ctx->committed_offset) {
        return MS_OK;
    }
    cursor = json_object_new_object();
    if (!cursor) {
        return MS_ENOMEM;
    }
    ser_format_ts(ctx->pending_start, ts, sizeof(ts));
    json_object_object_add(cursor, "next_start", json_object_new_string(ts));
    json_object_object_add(cursor, "next_start_ms", json_object_new_int64(ctx->pending_start));
    json_object_object_add(cursor, "offset", json_object_new_int64(ctx->pending_offset));
    json_object_object_add(cursor, "window_ms", json_object_new_int64(ctx->window_ms));
    ret = ms_state_save(ins->rt->state_dir, ins->name, cursor);
    json_object_put(cursor);
    if (ret != MS_OK) {
        return ret;
    }
    ctx->committed_start = ctx->pending_start;
    ctx->committed_offset = ctx->pending_offset;
    return MS_OK;
}

static void ser_rollback(struct ms_instance *ins)
{
    struct ser_ctx *ctx = ins->ctx;

    ctx->pending_start = ctx->committed_start;
    ctx->pending_offset = ctx->committed_offset;
    json_object_put(ctx->held);
    ctx->held = NULL;
    ctx->cycle_open = false;
}

static int ser_init(struct ms_instance *ins, struct ms_cfg_errors *errs)
{
    return ser_conf_init(ins, errs);
}

static void ser_destroy(struct ms_instance *ins)
{
    ser_conf_destroy(ins);
}

const struct ms_input_plugin in_ser_plugin = {
    .name = "ser",
    .description = "Proofpoint Secure Email Relay: report summaries per application user and "
                   "window, licence use",
    .config_map = ser_config_map,
    .ctx_size = sizeof(struct ser_ctx),
    .init = ser_init,
    .collect = ser_collect,
    .commit = ser_commit,
    .rollback = ser_rollback,
    .destroy = ser_destroy,
};
