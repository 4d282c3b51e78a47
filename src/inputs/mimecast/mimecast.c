/*
 * Mimecast input: TTP URL / attachment / impersonation logs and message tracking, over API 2.0
 * (OAuth) or 1.0 (HMAC). Each collect fetches one page of one stream; the position (per stream:
 * window, page token, identities seen in the overlap) is saved in one cursor file on commit.
 */
#include <config.h>

#include <curl/curl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../../core/ms_err.h"
#include "../../core/ms_log.h"
#include "../../core/ms_retry.h"
#include "../../core/ms_state.h"
#include "mimecast.h"
#include "mimecast_auth.h"

#define SLEEP_SLICE_MS  50
#define RETRY_BASE_MS   1000
#define RETRY_CAP_MS    10000
#define AUTH_HEADER_MAX 4200
#define URL_MAX         2048
#define WHAT_MAX        200
#define CURSOR_VERSION  1
#define INFO_PATH       "/api/message-finder/get-message-info"
#define LANE_WINDOW_S   3600 /* longest window of a walk with several lanes */

/* Outcome of api_call besides the ms_rc codes: the caller was stopped (SIGTERM) while waiting. */
#define MC_STOPPED 1

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps ms in slices; returns false when the service is stopping. */
static bool nap(const struct ms_instance *ins, int64_t ms)
{
    while (ms > 0 && !*ins->rt->stop) {
        int64_t slice = ms < SLEEP_SLICE_MS ? ms : SLEEP_SLICE_MS;
        struct timespec ts = {slice / 1000, (slice % 1000) * 1000000};

        nanosleep(&ts, NULL);
        ms -= slice;
    }
    return !*ins->rt->stop;
}

/* Copies or appends with truncation (no format analysis needed). */
static void str_copy(char *dst, size_t len, const char *src)
{
    size_t n = strlen(src);

    if (n >= len) {
        n = len - 1;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void str_append(char *dst, size_t len, const char *src)
{
    size_t used = strlen(dst);

    if (used + 1 < len) {
        str_copy(dst + used, len - used, src);
    }
}

/* ------------------------------------------------------------------------------------------
 * Logging: a failure that repeats unchanged is logged once, then at debug until it clears.
 */

/*
 * Logs a failure at lvl, unless the same stream failed for the same cause (what) last time: then
 * at debug. The engine retries; the operator needs the line once, not at every retry.
 */
static void log_failure(struct ms_instance *ins,
                        struct mc_ctx *ctx,
                        enum ms_log_level lvl,
                        const char *stream,
                        const char *what,
                        const char *fmt,
                        ...) __attribute__((format(printf, 6, 7)));

static void log_failure(struct ms_instance *ins,
                        struct mc_ctx *ctx,
                        enum ms_log_level lvl,
                        const char *stream,
                        const char *what,
                        const char *fmt,
                        ...)
{
    char key[sizeof(ctx->last_failure)];
    char msg[1024];
    va_list ap;

    snprintf(key, sizeof(key), "%s|%s", stream, what);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (strcmp(key, ctx->last_failure) == 0) {
        ms_log_debug(ins, "%s (repeated)", msg);
        return;
    }
    str_copy(ctx->last_failure, sizeof(ctx->last_failure), key);
    MS_LOG_AT(ins, lvl, "%s", msg);
}

static void clear_failure(struct ms_instance *ins, struct mc_ctx *ctx)
{
    if (ctx->last_failure[0]) {
        ms_log_info(ins, "the Mimecast API answers again");
        ctx->last_failure[0] = '\0';
    }
}

/* "HTTP 503 (err_internal_server_error: Internal Server Error)", "timeout after ...", ... */
static void describe_response(const struct ms_http_response *resp, char *out, size_t len)
{
    struct json_object *root = NULL;
    char fail[256];
    char base[300];

    ms_http_describe(resp, base, sizeof(base));
    fail[0] = '\0';
    if (resp->body.len && resp->curl_code == 0) {
        root = json_tokener_parse(ms_buf_cstr(&resp->body));
        mc_fail_classify(root, fail, sizeof(fail));
        json_object_put(root);
    }
    if (resp->curl_code == CURLE_PARTIAL_FILE) {
        snprintf(out, len, "truncated response: %s", base);
    }
    else if (fail[0]) {
        snprintf(out, len, "%s (%s)", base, fail);
    }
    else {
        snprintf(out, len, "%s", base);
    }
}

/* ------------------------------------------------------------------------------------------
 * Pacing (spec §3.5: X-RateLimit-Reset is in milliseconds)
 */

static bool header_int(const struct ms_http_response *resp, const char *name, int64_t *out)
{
    char v[64];
    int64_t n;

    if (ms_http_header(resp, name, v, sizeof(v)) != MS_OK || ms_parse_int(v, &n) != MS_OK) {
        return false;
    }
    *out = n;
    return true;
}

/* Remaining 0 means the next call would be refused: wait until a call is added back. */
static void pace_from_headers(struct mc_ctx *ctx, const struct ms_http_response *resp)
{
    int64_t remaining;
    int64_t reset;

    if (header_int(resp, "X-RateLimit-Remaining", &remaining) && remaining <= 0 &&
        header_int(resp, "X-RateLimit-Reset", &reset) && reset > 0) {
        if (reset > ctx->rate_wait_max_ms) {
            reset = ctx->rate_wait_max_ms;
        }
        ctx->not_before_ms = mono_ms() + reset;
    }
}

/* How long a 429 asks us to wait: X-RateLimit-Reset, else Retry-After, else a backoff. */
static int64_t rate_wait_ms(struct mc_ctx *ctx, unsigned attempt)
{
    int64_t reset;

    if (header_int(&ctx->resp, "X-RateLimit-Reset", &reset) && reset > 0) {
        return reset;
    }
    return ms_http_retry_delay_ms(&ctx->resp, attempt, RETRY_BASE_MS, 60000, &ctx->rng);
}

/* ------------------------------------------------------------------------------------------
 * One API call: auth headers, pacing, 429 waits, one token refresh, transient retries, parse.
 */

struct call {
    struct mc_stream *s;
    const char *path;
    const char *list_key; /* NULL: records are data[] */
    const char *what;     /* "page 3 of ... .. ..." for log lines */
    size_t max_records;
};

static int auth_header(struct ms_instance *ins,
                       struct mc_ctx *ctx,
                       const char *path,
                       bool force,
                       char *auth,
                       char *date_h,
                       char *id_h,
                       char *app_h,
                       char *why,
                       size_t why_len)
{
    char sig[MC_SIGNATURE_LEN + 1];
    char date[MC_DATE_LEN];
    char rid[MC_REQ_ID_LEN];
    const char *token = NULL;
    int ret;
    int n;

    (void)ins;
    if (ctx->api_version == 2) {
        ret = ms_oauth_token(ctx->oauth, ctx->http, force, &token, why, why_len);
        if (ret != MS_OK) {
            return ret;
        }
        n = snprintf(auth, AUTH_HEADER_MAX, "Authorization: Bearer %s", token);
    }
    else {
        mc_http_date(time(NULL), date, sizeof(date));
        if (mc_request_id(rid, sizeof(rid)) != MS_OK ||
            mc_hmac_sign(ctx->secret_raw, ctx->secret_raw_len, date, rid, path, ctx->app_key, sig,
                         sizeof(sig)) != MS_OK) {
            snprintf(why, why_len, "cannot sign the request (OpenSSL failed)");
            return MS_ERR;
        }
        snprintf(date_h, 64, "x-mc-date: %s", date);
        snprintf(id_h, 64, "x-mc-req-id: %s", rid);
        snprintf(app_h, 512, "x-mc-app-id: %s", ctx->app_id);
        n = snprintf(auth, AUTH_HEADER_MAX, "Authorization: MC %s:%s", ctx->access_key, sig);
    }
    if (n < 0 || n >= AUTH_HEADER_MAX) {
        snprintf(why, why_len, "credentials too long for a header");
        return MS_EINVAL;
    }
    return MS_OK;
}

/*
 * Performs the request once. Returns the classification of ms_http_perform; or, with *before set,
 * the failure to get a token or a signature (why says why: MS_EAUTH, or MS_ERETRY when the token
 * endpoint failed transiently).
 */
static int perform_once(struct ms_instance *ins,
                        struct mc_ctx *ctx,
                        const struct call *cl,
                        bool force_token,
                        bool *before,
                        char *why,
                        size_t why_len)
{
    const char *headers[8];
    struct ms_http_request req;
    char auth[AUTH_HEADER_MAX];
    char date_h[64];
    char id_h[64];
    char app_h[512];
    char url[URL_MAX];
    size_t h = 0;
    int ret;
    int n;

    *before = true;
    n = snprintf(url, sizeof(url), "%s%s", ctx->api_base, cl->path);
    if (n < 0 || (size_t)n >= sizeof(url)) {
        snprintf(why, why_len, "base_url is too long");
        return MS_EAUTH;
    }
    ret = auth_header(ins, ctx, cl->path, force_token, auth, date_h, id_h, app_h, why, why_len);
    if (ret != MS_OK) {
        explicit_bzero(auth, sizeof(auth));
        return ret == MS_ERETRY || ret == MS_ENOMEM ? ret : MS_EAUTH;
    }
    *before = false;
    headers[h++] = auth;
    if (ctx->api_version == 1) {
        headers[h++] = app_h;
        headers[h++] = date_h;
        headers[h++] = id_h;
    }
    headers[h++] = "Content-Type: application/json";
    headers[h++] = "Accept: application/json";
    headers[h] = NULL;
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = url;
    req.headers = headers;
    req.body = ctx->req.data;
    req.body_len = ctx->req.len;
    ret = ms_http_perform(ctx->http, &req, &ctx->resp);
    explicit_bzero(auth, sizeof(auth));
    pace_from_headers(ctx, &ctx->resp);
    return ret;
}

/* Waits for the pacing deadline. False when stopping. */
static bool wait_turn(struct ms_instance *ins, struct mc_ctx *ctx)
{
    int64_t wait = ctx->not_before_ms - mono_ms();

    if (wait <= 0) {
        return !*ins->rt->stop;
    }
    if (wait > ctx->rate_wait_max_ms) {
        wait = ctx->rate_wait_max_ms;
    }
    ms_log_debug(ins, "rate limit: waiting %lld ms before the next call", (long long)wait);
    return nap(ins, wait);
}

enum verdict {
    V_OK,        /* *page holds a usable answer */
    V_TRANSIENT, /* 5xx, timeout, truncated or invalid page, retryable fail[]: ask again */
    V_RATE,      /* 429: wait for the reset */
    V_REFRESH,   /* API 2.0 token refused: fetch a new one once */
    V_AUTH,      /* credentials refused or keys expired */
    V_REFUSED,   /* the request itself was refused: configuration or API change */
    V_TOOBIG,    /* over max_response */
    V_NOMEM,
};

/* One exchange and what to make of it; desc describes failures for the log line. */
static enum verdict judge(struct ms_instance *ins,
                          struct mc_ctx *ctx,
                          const struct call *cl,
                          bool force,
                          bool refreshed,
                          struct mc_page *page,
                          bool *before,
                          char *desc,
                          size_t len)
{
    struct mc_parse_opts popts = {(size_t)ctx->max_response, cl->max_records};
    enum mc_fail_kind kind;
    char base[384];
    long status;
    int ret;

    ret = perform_once(ins, ctx, cl, force, before, desc, len);
    if (*before) {
        return ret == MS_ENOMEM ? V_NOMEM : ret == MS_ERETRY ? V_TRANSIENT : V_AUTH;
    }
    if (ret == MS_ETOOBIG) {
        snprintf(desc, len, "%s", ctx->resp.error);
        return V_TOOBIG;
    }
    status = ctx->resp.status;
    if (ret == MS_OK) {
        ret = mc_page_parse(ms_buf_cstr(&ctx->resp.body), ctx->resp.body.len, cl->list_key, &popts,
                            page, base, sizeof(base));
        if (ret == MS_ETOOBIG || ret == MS_EINVAL) {
            snprintf(desc, len, "HTTP %ld, %s", status, base);
            return ret == MS_ETOOBIG ? V_TOOBIG : V_TRANSIENT;
        }
        if (ret != MS_OK) {
            return V_NOMEM;
        }
        kind = page->fail;
        if (kind == MC_FAIL_NONE || kind == MC_FAIL_PAGE_TOKEN ||
            (!cl->list_key && kind == MC_FAIL_OTHER)) {
            return V_OK;
        }
        snprintf(desc, len, "HTTP %ld with fail[]: %s%s", status, page->fail_desc,
                 kind == MC_FAIL_KEYS_EXPIRED ? " (API 1.0 keys expired: create new keys, or set "
                                                "the authentication profile's TTL to Never "
                                                "Expires)"
                                              : "");
        mc_page_free(page);
        if (kind == MC_FAIL_AUTH) {
            return ctx->api_version == 2 && !refreshed ? V_REFRESH : V_AUTH;
        }
        return kind == MC_FAIL_KEYS_EXPIRED ? V_AUTH
               : kind == MC_FAIL_RETRYABLE  ? V_TRANSIENT
                                            : V_REFUSED;
    }
    describe_response(&ctx->resp, desc, len);
    if (status == 429) {
        return V_RATE;
    }
    if (status == 401 && ctx->api_version == 2 && !refreshed) {
        return V_REFRESH;
    }
    if (status == 401 || status == 403) {
        str_append(desc, len, ": credentials refused");
        return V_AUTH;
    }
    if (status == 418) {
        str_append(desc, len,
                   ": API 1.0 keys expired (Binding Expired); create new keys, or set the "
                   "authentication profile's TTL to Never Expires");
        return V_AUTH;
    }
    return ret == MS_ERETRY ? V_TRANSIENT : V_REFUSED;
}

/*
 * Calls cl->path with ctx->req as body and parses the answer into *page (caller frees on MS_OK).
 * Returns MS_OK (page->fail is NONE, or PAGE_TOKEN for the caller to handle; get-message-info may
 * also carry OTHER for ids not found), MS_ETOOBIG (over the cap; why says so, the caller logs),
 * MS_ERETRY / MS_EAUTH (logged here once, naming the stream and the cause), MS_ENOMEM, or
 * MC_STOPPED.
 */
static int api_call(struct ms_instance *ins,
                    struct mc_ctx *ctx,
                    const struct call *cl,
                    struct mc_page *page,
                    char *why,
                    size_t why_len)
{
    const char *sname = cl->s->def->name;
    unsigned attempt = 0;
    unsigned limited = 0;
    int64_t rate_waited = 0;
    bool refreshed = false;
    bool force = false;
    bool before = false;
    char desc[512];

    memset(page, 0, sizeof(*page));
    for (;;) {
        enum verdict v;
        int64_t delay;

        if (!wait_turn(ins, ctx)) {
            return MC_STOPPED;
        }
        v = judge(ins, ctx, cl, force, refreshed, page, &before, desc, sizeof(desc));
        force = false;
        switch (v) {
        case V_OK:
            return MS_OK;
        case V_NOMEM:
            return MS_ENOMEM;
        case V_TOOBIG:
            str_copy(why, why_len, desc);
            return MS_ETOOBIG;
        case V_REFRESH:
            ms_log_debug(ins, "stream %s: access token refused (%s); fetching a new one", sname,
                         desc);
            refreshed = true;
            force = true;
            continue;
        case V_AUTH:
            log_failure(ins, ctx, MS_LOG_ERROR, sname, desc,
                        "stream %s: %s refused: %s; retrying later", sname, cl->what, desc);
            return MS_EAUTH;
        case V_REFUSED:
            log_failure(ins, ctx, MS_LOG_ERROR, sname, desc,
                        "stream %s: %s refused: %s; retrying later", sname, cl->what, desc);
            return MS_ERETRY;
        case V_RATE:
            delay = rate_wait_ms(ctx, limited);
            if (rate_waited + delay > ctx->rate_wait_max_ms) {
                ms_log_warn(ins,
                            "stream %s: %s: still rate limited after %lld ms (%s); trying again "
                            "later",
                            sname, cl->what, (long long)rate_waited, desc);
                return MS_ERETRY;
            }
            if (limited == 0) {
                ms_log_warn(ins, "stream %s: %s refused: rate limited (%s); waiting %lld ms", sname,
                            cl->what, desc, (long long)delay);
            }
            else {
                ms_log_debug(ins, "stream %s: still rate limited; waiting %lld ms", sname,
                             (long long)delay);
            }
            limited++;
            rate_waited += delay;
            ctx->not_before_ms = mono_ms() + delay;
            continue;
        case V_TRANSIENT:
            break;
        }
        if ((int64_t)attempt >= ctx->retries) {
            ms_log_warn(ins, "stream %s: %s rejected: %s; giving up for this poll", sname, cl->what,
                        desc);
            return MS_ERETRY;
        }
        delay = before ? ms_backoff_ms(attempt, RETRY_BASE_MS, RETRY_CAP_MS, &ctx->rng)
                       : ms_http_retry_delay_ms(&ctx->resp, attempt, RETRY_BASE_MS, RETRY_CAP_MS,
                                                &ctx->rng);
        ms_log_warn(ins, "stream %s: %s rejected: %s; retry %u of %lld in %lld ms", sname, cl->what,
                    desc, attempt + 1, (long long)ctx->retries, (long long)delay);
        attempt++;
        if (!nap(ins, delay)) {
            return MC_STOPPED;
        }
    }
}

/* ------------------------------------------------------------------------------------------
 * Cursor file: {"version":1,"base_url":...,"streams":{"ttp_url":{...},...}}
 */

static int save_cursor(struct ms_instance *ins, struct mc_ctx *ctx)
{
    struct json_object *root = json_object_new_object();
    struct json_object *streams = json_object_new_object();
    size_t i;
    int ret = MS_ENOMEM;

    if (!root || !streams) {
        json_object_put(streams);
        goto out;
    }
    json_object_object_add(root, "streams", streams);
    json_object_object_add(root, "version", json_object_new_int(CURSOR_VERSION));
    json_object_object_add(root, "base_url", json_object_new_string(ctx->api_base));
    for (i = 0; i < ctx->n_st; i++) {
        struct json_object *o = mc_cursor_to_json(&ctx->st[i].committed, &ctx->st[i].seen);

        if (!o) {
            goto out;
        }
        json_object_object_add(streams, ctx->st[i].def->name, o);
    }
    ret = ms_state_save(ins->rt->state_dir, ins->name, root);
out:
    json_object_put(root);
    return ret;
}

static int load_cursor(struct ms_instance *ins, struct mc_ctx *ctx)
{
    struct json_object *root = NULL;
    struct json_object *streams = NULL;
    struct json_object *v;
    int64_t now = (int64_t)time(NULL);
    char from[40];
    char why[256];
    size_t i;
    int ret;

    ret = ms_state_load(ins->rt->state_dir, ins->name, &root);
    if (ret != MS_OK && ret != MS_EOF) {
        log_failure(ins, ctx, MS_LOG_ERROR, "*", "cursor unreadable",
                    "cannot read its cursor %s/inputs/%s.json (%s): repair or remove it",
                    ins->rt->state_dir, ins->name, ms_strerror(ret));
        return ret;
    }
    if (root) {
        if (!json_object_object_get_ex(root, "streams", &streams) || /* borrowed */
            !json_object_is_type(streams, json_type_object)) {
            log_failure(ins, ctx, MS_LOG_ERROR, "*", "cursor without streams",
                        "cursor %s/inputs/%s.json has no streams object: repair or remove it",
                        ins->rt->state_dir, ins->name);
            json_object_put(root);
            return MS_EINVAL;
        }
        if (json_object_object_get_ex(root, "base_url", &v) && /* borrowed */
            strcmp(json_object_get_string(v), ctx->api_base) != 0) {
            ms_log_warn(ins, "its cursor was written for %s, not %s: positions kept",
                        json_object_get_string(v), ctx->api_base);
        }
    }
    for (i = 0; i < ctx->n_st; i++) {
        struct mc_stream *s = &ctx->st[i];
        struct json_object *o = NULL;

        mc_cursor_free(&s->committed);
        mc_seen_free(&s->seen);
        if (streams && json_object_object_get_ex(streams, s->def->name, &o)) { /* borrowed */
            ret = mc_cursor_from_json(o, &s->committed, &s->seen, why, sizeof(why));
            if (ret != MS_OK) {
                log_failure(ins, ctx, MS_LOG_ERROR, s->def->name, why,
                            "cursor %s/inputs/%s.json, stream %s: %s: repair or remove it",
                            ins->rt->state_dir, ins->name, s->def->name, why);
                json_object_put(root);
                return ret;
            }
            mc_time_format(s->committed.walk.active ? s->committed.walk.from : s->committed.done,
                           from, sizeof(from));
            ms_log_info(ins, "stream %s: resuming at %s%s (%zu identities in the overlap window)",
                        s->def->name, from, s->committed.walk.token ? " inside a paged walk" : "",
                        s->seen.n);
        }
        else {
            s->committed.done = now - ctx->lookback_ms / 1000;
            s->committed.fresh = true;
            mc_time_format(s->committed.done, from, sizeof(from));
            ms_log_info(ins, "stream %s: no cursor yet, starting at %s (lookback)", s->def->name,
                        from);
        }
        ret = mc_cursor_copy(&s->pending, &s->committed);
        if (ret != MS_OK) {
            json_object_put(root);
            return ret;
        }
    }
    json_object_put(root);
    ctx->loaded = true;
    return MS_OK;
}

/* ------------------------------------------------------------------------------------------
 * Message tracking filters (Google SecOps connector: status, route, lowest risk, queue reason)
 */

static bool list_has_ci(const struct ms_strlist *l, const char *v)
{
    size_t i;

    for (i = 0; v && i < l->n; i++) {
        if (strcasecmp(l->items[i], v) == 0) {
            return true;
        }
    }
    return false;
}

static const char *rec_str(struct json_object *rec, const char *key)
{
    struct json_object *v;

    if (!json_object_object_get_ex(rec, key, &v) || /* borrowed */
        !json_object_is_type(v, json_type_string)) {
        return NULL;
    }
    return json_object_get_string(v);
}

/* Status and route are also sent in the query; checked again in case the API ignores them. */
static bool tracking_wanted(const struct mc_ctx *ctx, struct json_object *rec)
{
    if (ctx->tracking_status.n && !list_has_ci(&ctx->tracking_status, rec_str(rec, "status"))) {
        return false;
    }
    if (ctx->tracking_route.n && !list_has_ci(&ctx->tracking_route, rec_str(rec, "route"))) {
        return false;
    }
    return true;
}

static bool tracking_info_wanted(const struct mc_ctx *ctx, struct json_object *info)
{
    if (ctx->min_risk >= 0) {
        int rank = mc_risk_rank(info ? mc_info_risk(info) : NULL);

        if (rank < 0 ? !ctx->tracking_include_no_risk : rank < ctx->min_risk) {
            return false;
        }
    }
    if (ctx->tracking_queue_reasons.n &&
        !list_has_ci(&ctx->tracking_queue_reasons, info ? mc_info_queue_reason(info) : NULL)) {
        return false;
    }
    return true;
}

static struct json_object *info_for(const struct mc_page *infos, const char *id)
{
    size_t i;

    for (i = 0; id && i < infos->n_records; i++) {
        struct json_object *info = json_object_array_get_idx(infos->records, i); /* borrowed */
        const char *iid = rec_str(info, "id");

        if (iid && strcmp(iid, id) == 0) {
            return info;
        }
    }
    return NULL;
}

/*
 * Fetches get-message-info for the page's new tracked emails that pass the cheap filters.
 * On MS_OK *infos holds the answers (possibly none). Errors are logged by api_call.
 */
static int fetch_infos(struct ms_instance *ins,
                       struct mc_ctx *ctx,
                       struct mc_stream *s,
                       const struct mc_page *page,
                       const char *what,
                       struct mc_page *infos)
{
    const char **ids;
    struct call cl;
    char info_what[WHAT_MAX + 32];
    char why[256];
    size_t n = 0;
    size_t i;
    int ret;

    memset(infos, 0, sizeof(*infos));
    ids = calloc(page->n_records ? page->n_records : 1, sizeof(*ids));
    if (!ids) {
        return MS_ENOMEM;
    }
    for (i = 0; i < page->n_records; i++) {
        struct json_object *rec = json_object_array_get_idx(page->records, i); /* borrowed */
        const char *id = rec_str(rec, "id");

        if (id && tracking_wanted(ctx, rec) && !mc_seen_has(&s->seen, mc_record_key(s->def, rec))) {
            ids[n++] = id;
        }
    }
    ret = MS_OK;
    if (n) {
        ms_buf_reset(&ctx->req);
        ret = mc_info_request_build(ids, n, &ctx->req);
        if (ret == MS_OK) {
            snprintf(info_what, sizeof(info_what), "details of %s", what);
            cl.s = s;
            cl.path = INFO_PATH;
            cl.list_key = NULL;
            cl.what = info_what;
            cl.max_records = 0;
            ret = api_call(ins, ctx, &cl, infos, why, sizeof(why));
            if (ret == MS_ETOOBIG) {
                ms_log_warn(ins, "stream %s: %s rejected: %s", s->def->name, info_what, why);
                ret = MS_ERETRY;
            }
        }
    }
    free(ids);
    return ret;
}

/* ------------------------------------------------------------------------------------------
 * One step: one page of one stream
 */

static void
query_for(const struct mc_ctx *ctx, const struct mc_stream *s, int64_t size, struct mc_query *q)
{
    const struct mc_walk *w = &s->pending.walk;

    memset(q, 0, sizeof(*q));
    q->from = w->from;
    q->to = w->to;
    q->page_size = size;
    q->page_token = w->token;
    q->route = ctx->route;
    q->result = ctx->attachment_result;
    q->scan_result = ctx->url_scan_result;
    q->tagged_malicious =
        strcmp(ctx->impersonation_tagged, "any") ? ctx->impersonation_tagged : NULL;
    if (s->def->id == MC_MESSAGE_TRACKING) {
        if (ctx->tracking_domains.n) {
            q->track_field = w->lane % 2 ? "from" : "to";
            q->track_value = ctx->tracking_domains.items[(w->lane / 2) % ctx->tracking_domains.n];
        }
        q->track_status = &ctx->tracking_status;
        q->track_route = &ctx->tracking_route;
    }
}

static void
describe_step(const struct mc_stream *s, const struct mc_query *q, char *out, size_t len)
{
    char from[40];
    char to[40];

    mc_time_format(q->from, from, sizeof(from));
    mc_time_format(q->to, to, sizeof(to));
    if (q->track_field) {
        snprintf(out, len, "page %u of %s:%s %s .. %s", s->pending.walk.page + 1, q->track_field,
                 q->track_value, from, to);
    }
    else {
        snprintf(out, len, "page %u of %s .. %s", s->pending.walk.page + 1, from, to);
    }
}

static void begin_walk(struct ms_instance *ins, struct mc_ctx *ctx, struct mc_stream *s)
{
    int64_t now = (int64_t)time(NULL);
    int64_t overlap = ctx->overlap_ms / 1000;
    int64_t window = ctx->window_max_ms / 1000;
    int64_t floor = INT64_MIN;
    bool floored = false;
    char from[40];

    if (s->def->id == MC_MESSAGE_TRACKING && ctx->tracking_max_back_ms > 0) {
        floor = now - ctx->tracking_max_back_ms / 1000;
    }
    /* Every domain lane reads the whole window and the seen set keeps all of it until the walk
     * ends: with lanes, windows stay short so that set (and the cursor file) stays small. */
    if (s->lanes > 1 && window > LANE_WINDOW_S) {
        window = LANE_WINDOW_S > overlap + 60 ? LANE_WINDOW_S : overlap + 60;
    }
    mc_cursor_start_walk(&s->pending, now, overlap, window, floor, &floored);
    if (floored) {
        mc_time_format(floor, from, sizeof(from));
        ms_log_warn(ins,
                    "stream %s: the cursor is older than tracking_max_back; messages before "
                    "%s are skipped",
                    s->def->name, from);
    }
}

static int stream_step(struct ms_instance *ins, struct ms_batch *b, struct mc_stream *s)
{
    struct mc_ctx *ctx = ins->ctx;
    struct mc_cursor *c = &s->pending;
    struct mc_page page;
    struct mc_page infos;
    struct mc_page_stats ps;
    struct mc_query q;
    struct call cl;
    size_t room = b->max - b->n;
    size_t added = 0, repeated = 0, filtered = 0, rejected = 0;
    bool partial = false;
    char what[WHAT_MAX];
    char why[256];
    size_t i;
    int ret;

    memset(&infos, 0, sizeof(infos));
    if (!c->walk.active) {
        begin_walk(ins, ctx, s);
    }
    if (room == 0) {
        return MS_OK;
    }
    query_for(ctx, s, s->page_size < (int64_t)room ? s->page_size : (int64_t)room, &q);
    describe_step(s, &q, what, sizeof(what));
    ms_buf_reset(&ctx->req);
    ret = mc_request_build(s->def, &q, &ctx->req);
    if (ret != MS_OK) {
        return ret;
    }
    cl.s = s;
    cl.path = s->def->path;
    cl.list_key = s->def->list_key;
    cl.what = what;
    cl.max_records = 100000;
    ret = api_call(ins, ctx, &cl, &page, why, sizeof(why));
    if (ret == MS_ETOOBIG) {
        if (s->page_size == 1) {
            log_failure(ins, ctx, MS_LOG_ERROR, s->def->name, why,
                        "stream %s: %s rejected: %s, even one record per page; raise "
                        "max_response",
                        s->def->name, what, why);
            return MS_ERETRY;
        }
        s->page_size = q.page_size / 2 ? q.page_size / 2 : 1;
        ms_log_warn(ins, "stream %s: %s rejected: %s; asking for %lld records per page from now on",
                    s->def->name, what, why, (long long)s->page_size);
        return MS_OK;
    }
    if (ret != MS_OK) {
        return ret;
    }
    clear_failure(ins, ctx);
    if (page.fail == MC_FAIL_PAGE_TOKEN) {
        if (++s->token_refusals > 5) {
            /* tokens refused again and again: do not walk the same pages in a loop */
            log_failure(ins, ctx, MS_LOG_ERROR, s->def->name, page.fail_desc,
                        "stream %s: %s: page token refused %u times in this walk (%s); retrying "
                        "later",
                        s->def->name, what, s->token_refusals, page.fail_desc);
            s->token_refusals = 0;
            mc_page_free(&page);
            return MS_ERETRY;
        }
        mc_walk_restart(&c->walk, s->lanes);
        mc_time_format(c->walk.from, why, sizeof(why));
        ms_log_warn(ins, "stream %s: %s: page token refused (%s); the walk starts again at %s",
                    s->def->name, what, page.fail_desc, why);
        mc_page_free(&page);
        return MS_OK;
    }
    if (s->def->id == MC_MESSAGE_TRACKING && ctx->need_info && page.n_records) {
        ret = fetch_infos(ins, ctx, s, &page, what, &infos);
        if (ret != MS_OK) {
            mc_page_free(&page);
            return ret;
        }
    }
    mc_page_stats_init(&ps);
    for (i = 0; i < page.n_records; i++) {
        struct json_object *rec = json_object_array_get_idx(page.records, i); /* borrowed */
        uint64_t key;
        int64_t t;
        bool has_t;

        if (!json_object_is_type(rec, json_type_object)) {
            rejected++;
            continue;
        }
        has_t = mc_record_time(s->def, rec, &t) == MS_OK;
        if (has_t) {
            mc_page_stats_add(&ps, t);
        }
        else {
            t = c->walk.to; /* kept in the seen set as long as the window may come back */
        }
        key = mc_record_key(s->def, rec);
        if (mc_seen_has(&s->seen, key) || mc_seen_has(&ctx->pending_seen, key)) {
            repeated++;
            continue;
        }
        if (s->def->id == MC_MESSAGE_TRACKING &&
            (!tracking_wanted(ctx, rec) ||
             (ctx->need_info &&
              !tracking_info_wanted(ctx, info_for(&infos, rec_str(rec, "id")))))) {
            filtered++;
        }
        else {
            if (ms_batch_full(b)) {
                partial = true; /* the page is asked again; the seen set skips what we took */
                break;
            }
            ret = ms_batch_add_record(b, s->def->source_type, json_object_get(rec));
            if (ret != MS_OK) {
                goto out;
            }
            added++;
        }
        ret = mc_seen_add(&ctx->pending_seen, key, t);
        if (ret != MS_OK) {
            goto out;
        }
    }
    if (rejected) {
        b->rejected += rejected;
        ms_log_warn(ins, "stream %s: %s: %zu records rejected (not JSON objects)", s->def->name,
                    what, rejected);
    }
    ms_log_debug(ins, "stream %s: %s: %zu records, %zu new, %zu repeated, %zu filtered%s",
                 s->def->name, what, page.n_records, added, repeated, filtered,
                 partial ? " (batch full: the rest of the page comes next)" : "");
    ret = MS_OK;
    if (!partial) {
        mc_walk_page_done(&c->walk, &ps);
        if (page.next && page.n_records > 0) {
            ret = mc_walk_set_token(&c->walk, page.next);
        }
        else {
            s->token_refusals = 0;
            if (mc_cursor_lane_done(c, s->lanes) && c->done >= ctx->cycle_start) {
                s->due = false; /* caught up: wait for the next interval */
            }
        }
    }
out:
    mc_page_free(&infos);
    mc_page_free(&page);
    return ret;
}

/* ------------------------------------------------------------------------------------------
 * Plugin callbacks
 */

static int mc_init(struct ms_instance *ins, struct ms_cfg_errors *errs)
{
    return mc_conf_init(ins, errs);
}

static bool any_due(const struct mc_ctx *ctx)
{
    size_t i;

    for (i = 0; i < ctx->n_st; i++) {
        if (ctx->st[i].due) {
            return true;
        }
    }
    return false;
}

static int mc_collect(struct ms_instance *ins, struct ms_batch *b, bool *more)
{
    struct mc_ctx *ctx = ins->ctx;
    size_t i;
    int ret = MS_OK;

    *more = false;
    if (!ctx->loaded) {
        ret = load_cursor(ins, ctx);
        if (ret != MS_OK) {
            return ret;
        }
    }
    mc_seen_reset(&ctx->pending_seen);
    ctx->touched = -1;
    if (!any_due(ctx)) {
        ctx->cycle_start = (int64_t)time(NULL);
        for (i = 0; i < ctx->n_st; i++) {
            ctx->st[i].due = true;
        }
    }
    for (i = 0; i < ctx->n_st; i++) {
        if (ctx->st[i].due) {
            ctx->touched = (int)i;
            ret = stream_step(ins, b, &ctx->st[i]);
            break;
        }
    }
    if (ret == MC_STOPPED) {
        return MS_OK; /* shutting down: nothing new, the position stays */
    }
    *more = ret == MS_OK && any_due(ctx);
    return ret;
}

static int mc_commit(struct ms_instance *ins)
{
    struct mc_ctx *ctx = ins->ctx;
    struct mc_stream *s;
    size_t over = 0;
    int ret;

    if (ctx->touched < 0) {
        return MS_OK;
    }
    s = &ctx->st[ctx->touched];
    ctx->touched = -1;
    ret = mc_cursor_copy(&s->committed, &s->pending);
    if (ret == MS_OK) {
        ret = mc_seen_merge(&s->seen, &ctx->pending_seen);
    }
    mc_seen_reset(&ctx->pending_seen);
    if (ret == MS_OK) {
        ret = mc_seen_prune(&s->seen,
                            mc_cursor_keep_from(&s->committed, ctx->overlap_ms / 1000, s->lanes),
                            MC_SEEN_MAX, &over);
    }
    if (ret != MS_OK) {
        ctx->loaded = false; /* memory is short: re-read the file before the next step */
        return ret;
    }
    if (over && !s->seen_full_warned) {
        s->seen_full_warned = true;
        ms_log_warn(ins,
                    "stream %s: more than %d records in the overlap window; the oldest "
                    "identities are forgotten and a few repeats may be forwarded",
                    s->def->name, MC_SEEN_MAX);
    }
    return save_cursor(ins, ctx);
}

static void mc_rollback(struct ms_instance *ins)
{
    struct mc_ctx *ctx = ins->ctx;
    struct mc_stream *s;

    mc_seen_reset(&ctx->pending_seen);
    if (ctx->touched < 0) {
        return;
    }
    s = &ctx->st[ctx->touched];
    ctx->touched = -1;
    s->due = true;
    if (mc_cursor_copy(&s->pending, &s->committed) != MS_OK) {
        ctx->loaded = false; /* re-read the file before the next step */
    }
}

static void mc_destroy(struct ms_instance *ins)
{
    mc_conf_destroy(ins);
}

/* msfwd test: one single-record query of the last minute per stream; no cursor is touched. */
static int mc_test(struct ms_instance *ins, char *detail, size_t detail_len)
{
    struct mc_ctx *ctx = ins->ctx;
    int64_t now = (int64_t)time(NULL);
    struct mc_page page;
    struct mc_query q;
    struct call cl;
    char desc[512];
    size_t i;

    for (i = 0; i < ctx->n_st; i++) {
        struct mc_stream *s = &ctx->st[i];
        enum verdict v;
        bool before = false;
        int attempt;

        memset(&q, 0, sizeof(q));
        q.from = now - 60;
        q.to = now;
        q.page_size = 1;
        q.route = ctx->route;
        q.result = ctx->attachment_result;
        q.scan_result = ctx->url_scan_result;
        cl.s = s;
        cl.path = s->def->path;
        cl.list_key = s->def->list_key;
        cl.what = "test query";
        cl.max_records = 0;
        ms_buf_reset(&ctx->req);
        if (mc_request_build(s->def, &q, &ctx->req) != MS_OK) {
            snprintf(detail, detail_len, "out of memory");
            return MS_ENOMEM;
        }
        v = V_REFRESH;
        for (attempt = 0; attempt < 2 && v == V_REFRESH; attempt++) {
            memset(&page, 0, sizeof(page));
            v = judge(ins, ctx, &cl, attempt > 0, attempt > 0, &page, &before, desc, sizeof(desc));
        }
        if (v == V_OK) {
            mc_page_free(&page);
            continue;
        }
        snprintf(detail, detail_len, "stream %s: %s", s->def->name, desc);
        return v == V_AUTH || v == V_REFRESH ? MS_EAUTH : v == V_NOMEM ? MS_ENOMEM : MS_ERETRY;
    }
    snprintf(detail, detail_len, "%s answers (API %lld, %zu stream%s)", ctx->api_base,
             (long long)ctx->api_version, ctx->n_st, ctx->n_st == 1 ? "" : "s");
    return MS_OK;
}

const struct ms_input_plugin in_mimecast_plugin = {
    .name = "mimecast",
    .description = "Mimecast TTP URL, attachment and impersonation logs and message tracking "
                   "(API 2.0 OAuth or 1.0 HMAC)",
    .config_map = mc_config_map,
    .ctx_size = sizeof(struct mc_ctx),
    .init = mc_init,
    .collect = mc_collect,
    .commit = mc_commit,
    .rollback = mc_rollback,
    .destroy = mc_destroy,
    .test = mc_test,
};
