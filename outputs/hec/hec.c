/*
 * hec output, glue: Splunk HTTP Event Collector. Sends a batch as newline-separated envelopes in
 * one or more POSTs (gzip), classifies each answer, dead-letters events HEC refuses for good, and
 * with ack = true counts a request as delivered only when its ackId turns true.
 */
#include <config.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../src/core/ms_deadletter.h"
#include "../../src/core/ms_err.h"
#include "../../src/core/ms_log.h"
#include "../../src/core/ms_retry.h"
#include "hec.h"

#define SLEEP_SLICE_MS     50
#define RETRY_AFTER_MAX_MS (5LL * 60 * 1000)
#define ACK_FIRST_POLL_MS  100
#define POISON_STREAK_MAX  20 /* refused events in a row before we suspect ourselves, not them */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool stopping(const struct ms_instance *ins)
{
    return ins->rt && ins->rt->stop && *ins->rt->stop;
}

/* Sleeps up to ms, returning early when the service stops. */
static void sleep_ms(const struct ms_instance *ins, int64_t ms)
{
    while (ms > 0 && !stopping(ins)) {
        int64_t slice = ms < SLEEP_SLICE_MS ? ms : SLEEP_SLICE_MS;
        struct timespec ts = {slice / 1000, (slice % 1000) * 1000000};

        nanosleep(&ts, NULL);
        ms -= slice;
    }
}

/*
 * Logs a delivery problem at lvl once; while the same problem repeats (the engine retries and
 * logs each retry itself) it goes to debug. A delivered batch clears it.
 */
static void problem(struct ms_instance *ins, enum ms_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(struct ms_instance *ins, enum ms_log_level lvl, const char *fmt, ...)
{
    struct hec_ctx *ctx = ins->ctx;
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (strcmp(msg, ctx->last_problem) == 0) {
        ms_log_debug(ins, "%s", msg);
        return;
    }
    snprintf(ctx->last_problem, sizeof(ctx->last_problem), "%s", msg);
    MS_LOG_AT(ins, lvl, "%s", msg);
}

/* ------------------------------------------------------------------------------------------
 * Batch state
 */

/* Identifies a batch by its events (ids and sizes), so a retried batch keeps its progress. */
static uint64_t batch_fingerprint(const struct ms_batch *b)
{
    uint64_t h = 1469598103934665603ULL;
    size_t i;
    const char *p;

    for (i = 0; i < b->n; i++) {
        for (p = b->events[i].id; *p; p++) {
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        }
        h = (h ^ b->events[i].text_len) * 1099511628211ULL;
    }
    h = (h ^ b->n) * 1099511628211ULL;
    return h ? h : 1;
}

static int grow_arrays(struct hec_ctx *ctx, size_t n)
{
    unsigned char *state;
    size_t *off;
    size_t *len;
    size_t *req;
    size_t *reqidx;

    if (n <= ctx->state_cap) {
        return MS_OK;
    }
    state = realloc(ctx->state, n * sizeof(*state));
    if (state) {
        ctx->state = state;
    }
    off = realloc(ctx->off, n * sizeof(*off));
    if (off) {
        ctx->off = off;
    }
    len = realloc(ctx->len, n * sizeof(*len));
    if (len) {
        ctx->len = len;
    }
    req = realloc(ctx->req, n * sizeof(*req));
    if (req) {
        ctx->req = req;
    }
    reqidx = realloc(ctx->reqidx, n * sizeof(*reqidx));
    if (reqidx) {
        ctx->reqidx = reqidx;
    }
    if (!state || !off || !len || !req || !reqidx) {
        return MS_ENOMEM;
    }
    ctx->state_cap = n;
    return MS_OK;
}

/* Dead-letters event i. MS_OK, or MS_EIO when it could not be kept (it then stays pending). */
static int dead_letter(struct ms_instance *ins, const struct ms_batch *b, size_t i, const char *why)
{
    struct hec_ctx *ctx = ins->ctx;
    int ret = ms_deadletter_write(ins, &b->events[i], why);

    if (ret == MS_OK) {
        ctx->state[i] = HEC_EV_DONE;
    }
    return ret;
}

/* Formats every event of a new batch once; events that cannot be sent at all are dead-lettered. */
static int batch_prepare(struct ms_instance *ins, const struct ms_batch *b, uint64_t fp)
{
    struct hec_ctx *ctx = ins->ctx;
    char why[160];
    size_t i;
    int ret;

    ctx->batch_fp = 0;
    ctx->n_acks = 0;
    ms_buf_reset(&ctx->store);
    ret = grow_arrays(ctx, b->n);
    if (ret != MS_OK) {
        ms_log_error(ins, "out of memory for a batch of %zu events", b->n);
        return MS_ERETRY;
    }
    for (i = 0; i < b->n; i++) {
        ctx->state[i] = HEC_EV_PENDING;
        ctx->off[i] = ctx->store.len;
        ret = hec_format_event(&ctx->fmt, &b->events[i], &ctx->store);
        if (ret == MS_EINVAL) {
            ctx->len[i] = 0;
            if (dead_letter(ins, b, i, "not a non-empty JSON object: nothing to send") != MS_OK) {
                return MS_ERETRY;
            }
            continue;
        }
        if (ret != MS_OK) {
            ms_log_error(ins, "cannot format a batch of %zu events: %s", b->n, ms_strerror(ret));
            ms_buf_free(&ctx->store);
            return MS_ERETRY;
        }
        ctx->len[i] = ctx->store.len - ctx->off[i];
        if (ctx->len[i] > HEC_EVENT_MAX) {
            snprintf(why, sizeof(why), "its HEC envelope has %zu bytes, more than the %u allowed",
                     ctx->len[i], HEC_EVENT_MAX);
            ctx->store.len = ctx->off[i];
            ctx->store.data[ctx->store.len] = '\0';
            ctx->len[i] = 0;
            if (dead_letter(ins, b, i, why) != MS_OK) {
                return MS_ERETRY;
            }
        }
    }
    ctx->batch_fp = fp;
    ctx->batch_n = b->n;
    return MS_OK;
}

/* ------------------------------------------------------------------------------------------
 * One request
 */

/* Makes room for need more compressed bytes and points the z_stream at it. */
static int gz_reserve(struct hec_ctx *ctx, size_t need)
{
    size_t used = ctx->zs.total_out;
    size_t cap = ctx->gz_cap;

    if (!ctx->gz || cap - used < need) {
        unsigned char *p;

        cap = cap ? cap : 64 * 1024;
        while (cap - used < need) {
            cap *= 2;
        }
        p = realloc(ctx->gz, cap);
        if (!p) {
            return MS_ENOMEM;
        }
        ctx->gz = p;
        ctx->gz_cap = cap;
    }
    ctx->zs.next_out = ctx->gz + used;
    ctx->zs.avail_out = (uInt)(cap - used > UINT32_MAX ? UINT32_MAX : cap - used);
    return MS_OK;
}

/* Compresses the envelopes of reqidx[0..cnt) into ctx->gz; returns MS_OK with *gz_len. */
static int gzip_request(struct hec_ctx *ctx, size_t cnt, size_t *gz_len)
{
    size_t k;
    int zr;

    if (deflateReset(&ctx->zs) != Z_OK) {
        return MS_ERR;
    }
    for (k = 0; k < cnt; k++) {
        size_t i = ctx->reqidx[k];

        ctx->zs.next_in = (Bytef *)ctx->store.data + ctx->off[i];
        ctx->zs.avail_in = (uInt)ctx->len[i];
        while (ctx->zs.avail_in > 0) {
            if (gz_reserve(ctx, 16 * 1024) != MS_OK) {
                return MS_ENOMEM;
            }
            if (deflate(&ctx->zs, Z_NO_FLUSH) == Z_STREAM_ERROR) {
                return MS_ERR;
            }
        }
    }
    do {
        if (gz_reserve(ctx, 16 * 1024) != MS_OK) {
            return MS_ENOMEM;
        }
        zr = deflate(&ctx->zs, Z_FINISH);
    } while (zr == Z_OK || zr == Z_BUF_ERROR);
    if (zr != Z_STREAM_END) {
        return MS_ERR;
    }
    *gz_len = ctx->zs.total_out;
    return MS_OK;
}

/*
 * Picks the pending events from first on (in order) until limit bytes, at least one.
 * Returns the count; *bytes gets their size.
 */
static size_t pick_request(struct hec_ctx *ctx, size_t n, size_t first, size_t limit, size_t *bytes)
{
    size_t cnt = 0;
    size_t total = 0;
    size_t i;

    for (i = first; i < n; i++) {
        if (ctx->state[i] != HEC_EV_PENDING) {
            continue;
        }
        if (cnt > 0 && total + ctx->len[i] > limit) {
            break;
        }
        ctx->reqidx[cnt++] = i;
        total += ctx->len[i];
    }
    *bytes = total;
    return cnt;
}

/* The uncompressed body: the envelopes in place when contiguous, else gathered in ctx->body. */
static int plain_request(struct hec_ctx *ctx, size_t cnt, const char **body)
{
    size_t k;
    int ret = MS_OK;

    for (k = 1; k < cnt; k++) {
        size_t a = ctx->reqidx[k - 1];

        if (ctx->off[a] + ctx->len[a] != ctx->off[ctx->reqidx[k]]) {
            break;
        }
    }
    if (k >= cnt) {
        *body = ctx->store.data + ctx->off[ctx->reqidx[0]];
        return MS_OK;
    }
    ms_buf_reset(&ctx->body);
    for (k = 0; ret == MS_OK && k < cnt; k++) {
        ret = ms_buf_append(&ctx->body, ctx->store.data + ctx->off[ctx->reqidx[k]],
                            ctx->len[ctx->reqidx[k]]);
    }
    if (ret != MS_OK) {
        ms_buf_free(&ctx->body);
        return ret;
    }
    *body = ctx->body.data;
    return MS_OK;
}

static int add_ack(struct hec_ctx *ctx, int64_t ack_id, size_t *slot)
{
    if (ctx->n_acks == ctx->acks_cap) {
        size_t cap = ctx->acks_cap ? ctx->acks_cap * 2 : 64;
        struct hec_ack *a = realloc(ctx->acks, cap * sizeof(*a));

        if (!a) {
            return MS_ENOMEM;
        }
        ctx->acks = a;
        ctx->acks_cap = cap;
    }
    ctx->acks[ctx->n_acks].ack_id = ack_id;
    ctx->acks[ctx->n_acks].sent_ms = now_ms();
    ctx->acks[ctx->n_acks].open = true;
    *slot = ctx->n_acks++;
    return MS_OK;
}

/* The one error line for a refused token: says which refusal it was and what to do. */
static void auth_problem(struct ms_instance *ins, const char *what, const struct hec_reply *r)
{
    long status = ((struct hec_ctx *)ins->ctx)->resp.status;
    const char *why;

    switch (r->code) {
    case 1:
        why = "the token is disabled in Splunk (code 1): enable it";
        break;
    case 2:
        why = "no token reached HEC (code 2, Token is required): a proxy may drop the "
              "Authorization header";
        break;
    case 3:
        why = "the Authorization header was refused (code 3, Invalid authorization): token must be "
              "the bare value, msfwd adds the 'Splunk ' prefix";
        break;
    case 4:
        why = "the token is invalid (code 4): check token";
        break;
    default:
        why = "credentials refused: check token";
        break;
    }
    problem(ins, MS_LOG_ERROR,
            "%s: HTTP %ld: %s; the output stops and keeps every event until "
            "the token is fixed",
            what, status, why);
}

/* Passes the receiver's Retry-After (bounded) to the engine, which waits at least that long. */
static void honour_retry_after(struct ms_instance *ins)
{
    struct hec_ctx *ctx = ins->ctx;
    char value[128];
    int64_t delay;

    if (ms_http_header(&ctx->resp, "Retry-After", value, sizeof(value)) != MS_OK ||
        ms_retry_after_parse(value, time(NULL), &delay) != MS_OK) {
        return;
    }
    if (delay > RETRY_AFTER_MAX_MS) {
        delay = RETRY_AFTER_MAX_MS;
    }
    ms_log_debug(ins, "Retry-After: %lld ms", (long long)delay);
    ins->retry_after_ms = delay;
}

/* HEC codes that name one bad event (400 + invalid-event-number): dead-letter it, resend the rest.
 */
static bool poison_code(int code)
{
    return code == 5 || code == 6 || code == 12 || code == 13 || code == 15;
}

/*
 * Dead-letters event i that the receiver refused for good. When many are refused in a row with
 * nothing accepted in between, the fault is more likely ours or a proxy's (every request looks
 * invalid) than the events': stop dead-lettering and keep the rest (MS_EPERM, retried slowly).
 * Returns MS_OK (go on), MS_ERETRY (the dead letter could not be written) or MS_EPERM.
 */
static int
refuse_event(struct ms_instance *ins, const struct ms_batch *b, size_t i, const char *why)
{
    struct hec_ctx *ctx = ins->ctx;

    if (ctx->poison_streak >= POISON_STREAK_MAX) {
        problem(ins, MS_LOG_ERROR,
                "HEC refused %u events in a row and accepted none (last: %s): suspecting the "
                "request, not the events; the rest are kept and retried",
                ctx->poison_streak, why);
        return MS_EPERM;
    }
    if (dead_letter(ins, b, i, why) != MS_OK) {
        return MS_ERETRY;
    }
    ctx->poison_streak++;
    return MS_OK;
}

/* Sends every pending event of b. Returns MS_OK or the failure (logged once, here). */
static int send_pending(struct ms_instance *ins, const struct ms_batch *b)
{
    struct hec_ctx *ctx = ins->ctx;
    struct ms_http_request req;
    struct hec_reply r;
    char desc[320];
    char why[256];
    size_t limit = (size_t)(ctx->learned_max ? ctx->learned_max : ctx->max_request_bytes);
    size_t first = 0;
    size_t i;
    size_t k;

    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = ctx->url_event;
    req.headers = ctx->headers;
    for (;;) {
        size_t bytes = 0;
        size_t cnt;
        size_t wire;
        const char *body = NULL;
        int ret;

        while (first < b->n && ctx->state[first] != HEC_EV_PENDING) {
            first++;
        }
        if (first >= b->n) {
            return MS_OK;
        }
        if (stopping(ins)) {
            return MS_ERETRY;
        }
        cnt = pick_request(ctx, b->n, first, limit, &bytes);
        if (ctx->gzip) {
            ret = gzip_request(ctx, cnt, &wire);
            body = (const char *)ctx->gz;
        }
        else {
            ret = plain_request(ctx, cnt, &body);
            wire = bytes;
        }
        if (ret != MS_OK) {
            ms_log_error(ins, "cannot build a request of %zu events: %s", cnt, ms_strerror(ret));
            return MS_ERETRY;
        }
        req.body = body;
        req.body_len = wire;
        ret = ms_http_perform(ctx->http, &req, &ctx->resp);
        hec_reply_parse(ctx->resp.body.data, ctx->resp.body.len, &r);
        ms_http_describe(&ctx->resp, desc, sizeof(desc));
        ms_log_debug(ins, "POST %zu events, %zu bytes (%zu sent): %s, code %d, in %lld ms", cnt,
                     bytes, wire, desc, r.code, (long long)ctx->resp.elapsed_ms);

        if (ret == MS_OK) {
            size_t slot = 0;
            bool wait_ack = ctx->ack && !ctx->ack_fallback && r.ack_id >= 0;

            ctx->poison_streak = 0;
            if (ctx->ack && !ctx->ack_fallback && r.ack_id < 0) {
                problem(ins, MS_LOG_WARN,
                        "ack = true but HEC answered without an ackId (token without indexer "
                        "acknowledgement?): HTTP 200 counts as delivered");
            }
            if (wait_ack && add_ack(ctx, r.ack_id, &slot) != MS_OK) {
                ms_log_error(ins, "out of memory for an ackId");
                return MS_ERETRY;
            }
            for (k = 0; k < cnt; k++) {
                ctx->state[ctx->reqidx[k]] = wait_ack ? HEC_EV_SENT : HEC_EV_DONE;
                ctx->req[ctx->reqidx[k]] = slot;
            }
            continue;
        }
        if (ctx->resp.status == 413) {
            if (cnt > 1) {
                limit = bytes / 2 > 0 ? bytes / 2 : 1;
                ctx->learned_max = (int64_t)limit;
                problem(ins, MS_LOG_WARN,
                        "HEC refused a request of %zu bytes as too large (413): sending at most "
                        "%zu bytes per request from now on (lower max_request_bytes)",
                        bytes, limit);
                continue;
            }
            snprintf(why, sizeof(why),
                     "HTTP 413: the event alone (%zu bytes) is larger than the receiver accepts",
                     bytes);
            ret = refuse_event(ins, b, ctx->reqidx[0], why);
            if (ret != MS_OK) {
                return ret;
            }
            continue;
        }
        if (ctx->resp.status == 400 && poison_code(r.code)) {
            if (r.event_number >= 0 && (uint64_t)r.event_number < cnt) {
                i = ctx->reqidx[r.event_number];
                snprintf(why, sizeof(why), "HEC 400 code %d (%s) for event %" PRId64 " of %zu",
                         r.code, r.text, r.event_number, cnt);
                ret = refuse_event(ins, b, i, why);
                if (ret != MS_OK) {
                    return ret;
                }
                continue; /* the rest of the request goes again */
            }
            if (cnt > 1) {
                /* No usable event number: halve until the bad event stands alone. */
                limit = bytes / 2 > 0 ? bytes / 2 : 1;
                ms_log_warn(ins,
                            "HEC refused %zu events (400 code %d, %s) without naming one: "
                            "sending them in smaller requests to find it",
                            cnt, r.code, r.text);
                continue;
            }
            snprintf(why, sizeof(why), "HEC 400 code %d (%s)", r.code, r.text);
            ret = refuse_event(ins, b, ctx->reqidx[0], why);
            if (ret != MS_OK) {
                return ret;
            }
            continue;
        }
        if (ctx->resp.status == 404) {
            /* A proxy with no healthy HEC behind it answers 404: never a drop. */
            problem(ins, MS_LOG_ERROR,
                    "HTTP 404 from %s: a proxy without a healthy HEC backend, or a wrong url "
                    "path; events kept, retrying",
                    ctx->url_event);
            return MS_ERETRY;
        }
        if (ret == MS_EAUTH) {
            auth_problem(ins, "HEC refused the events", &r);
            return MS_EAUTH;
        }
        if (ret == MS_ERETRY || ret == MS_ETOOBIG) {
            if (r.code >= 0) {
                problem(ins, MS_LOG_WARN, "HEC is not taking events: %s, code %d (%s); retrying",
                        desc, r.code, r.text);
            }
            else {
                problem(ins, MS_LOG_WARN, "POST to %s failed: %s; retrying", ctx->url_event, desc);
            }
            honour_retry_after(ins);
            return MS_ERETRY;
        }
        if (ctx->resp.status >= 300 && ctx->resp.status < 400) {
            problem(ins, MS_LOG_ERROR,
                    "HTTP %ld from %s: a redirect, not HEC (is url the HEC port, 8088, rather than "
                    "Splunk Web?); events kept",
                    ctx->resp.status, ctx->url_event);
        }
        else if (r.code >= 0) {
            problem(ins, MS_LOG_ERROR,
                    "HEC refused the request: %s, code %d (%s); fix the configuration (index, "
                    "token settings); events kept",
                    desc, r.code, r.text);
        }
        else {
            problem(ins, MS_LOG_ERROR, "POST to %s refused: %s; events kept", ctx->url_event, desc);
        }
        return MS_EPERM;
    }
}

/* ------------------------------------------------------------------------------------------
 * Indexer acknowledgement
 */

/* Events of closed ack entries: DONE (acked) are set by the caller; here the lookups. */
static void settle_events(struct hec_ctx *ctx, size_t n, enum hec_ev_state to, size_t slot)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (ctx->state[i] == HEC_EV_SENT && ctx->req[i] == slot) {
            ctx->state[i] = (unsigned char)to;
        }
    }
}

/* One POST /services/collector/ack for up to HEC_ACKS_PER_QUERY open entries. */
static int poll_acks(struct ms_instance *ins, const struct ms_batch *b)
{
    struct hec_ctx *ctx = ins->ctx;
    struct ms_http_request req;
    struct hec_reply r;
    int64_t ids[HEC_ACKS_PER_QUERY];
    size_t slots[HEC_ACKS_PER_QUERY];
    bool done[HEC_ACKS_PER_QUERY];
    char desc[320];
    size_t n = 0;
    size_t a;
    int ret;

    ms_buf_reset(&ctx->query);
    ret = ms_buf_puts(&ctx->query, "{\"acks\":[");
    for (a = 0; ret == MS_OK && a < ctx->n_acks && n < HEC_ACKS_PER_QUERY; a++) {
        if (!ctx->acks[a].open) {
            continue;
        }
        ids[n] = ctx->acks[a].ack_id;
        slots[n] = a;
        done[n] = false;
        ret = ms_buf_printf(&ctx->query, "%s%" PRId64, n ? "," : "", ids[n]);
        n++;
    }
    if (ret == MS_OK) {
        ret = ms_buf_puts(&ctx->query, "]}");
    }
    if (ret != MS_OK) {
        ms_buf_free(&ctx->query);
        ms_log_error(ins, "cannot build an ack query: %s", ms_strerror(ret));
        return MS_ERETRY;
    }
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = ctx->url_ack;
    req.headers = ctx->ack_headers;
    req.body = ctx->query.data;
    req.body_len = ctx->query.len;
    ret = ms_http_perform(ctx->http, &req, &ctx->resp);
    hec_reply_parse(ctx->resp.body.data, ctx->resp.body.len, &r);
    ms_http_describe(&ctx->resp, desc, sizeof(desc));
    if (ret == MS_OK) {
        size_t acked = 0;

        if (hec_ack_reply_parse(ctx->resp.body.data, ctx->resp.body.len, ids, done, n) != MS_OK) {
            problem(ins, MS_LOG_WARN, "unreadable answer from %s; polling again", ctx->url_ack);
            return MS_OK;
        }
        for (a = 0; a < n; a++) {
            if (done[a]) {
                ctx->acks[slots[a]].open = false;
                settle_events(ctx, b->n, HEC_EV_DONE, slots[a]);
                acked++;
            }
        }
        ms_log_debug(ins, "ack poll: %zu of %zu ackIds true", acked, n);
        return MS_OK;
    }
    if (ctx->resp.status == 400 && r.code == 14) {
        problem(ins, MS_LOG_WARN,
                "HEC says indexer acknowledgement is disabled for this token (code 14): HTTP 200 "
                "counts as delivered from now on; set ack = false or enable useACK");
        ctx->ack_fallback = true;
        for (a = 0; a < ctx->n_acks; a++) {
            if (ctx->acks[a].open) {
                ctx->acks[a].open = false;
                settle_events(ctx, b->n, HEC_EV_DONE, a);
            }
        }
        return MS_OK;
    }
    if (ret == MS_EAUTH) {
        auth_problem(ins, "HEC refused the ack query", &r);
        return MS_EAUTH;
    }
    /* Transient or odd: this poll is lost, the ackIds stay open until ack_timeout. */
    problem(ins, MS_LOG_WARN, "ack query to %s failed: %s%s%s; polling again", ctx->url_ack, desc,
            r.text[0] ? ", " : "", r.text);
    return MS_OK;
}

/* Waits until every sent request is acknowledged; late ones go back to pending (MS_ERETRY). */
static int wait_acks(struct ms_instance *ins, const struct ms_batch *b)
{
    struct hec_ctx *ctx = ins->ctx;
    int64_t delay = ACK_FIRST_POLL_MS;
    size_t a;
    int ret;

    for (;;) {
        size_t open = 0;
        size_t late = 0;
        int64_t now;

        for (a = 0; a < ctx->n_acks; a++) {
            open += ctx->acks[a].open;
        }
        if (open == 0 || ctx->ack_fallback) {
            return MS_OK;
        }
        sleep_ms(ins, delay);
        if (stopping(ins)) {
            return MS_ERETRY;
        }
        delay = delay * 2 < ctx->ack_interval_ms ? delay * 2 : ctx->ack_interval_ms;
        ret = poll_acks(ins, b);
        if (ret != MS_OK) {
            return ret;
        }
        now = now_ms();
        for (a = 0; a < ctx->n_acks; a++) {
            if (ctx->acks[a].open && now - ctx->acks[a].sent_ms >= ctx->ack_timeout_ms) {
                ctx->acks[a].open = false;
                settle_events(ctx, b->n, HEC_EV_PENDING, a);
                late++;
            }
        }
        if (late) {
            size_t pending = 0;
            size_t i;

            for (i = 0; i < b->n; i++) {
                pending += ctx->state[i] == HEC_EV_PENDING;
            }
            problem(ins, MS_LOG_WARN,
                    "%zu requests (%zu events) not acknowledged within ack_timeout (%lld ms): "
                    "sending them again (the indexer may hold them twice)",
                    late, pending, (long long)ctx->ack_timeout_ms);
            return MS_ERETRY;
        }
    }
}

/* ------------------------------------------------------------------------------------------
 * Vtable
 */

static int hec_init(struct ms_instance *ins, struct ms_cfg_errors *errs)
{
    return hec_conf_init(ins, errs);
}

static int hec_flush(struct ms_instance *ins, const struct ms_batch *b)
{
    struct hec_ctx *ctx = ins->ctx;
    uint64_t fp = batch_fingerprint(b);
    int ret;

    ctx->poison_streak = 0;
    if (fp != ctx->batch_fp || b->n != ctx->batch_n) {
        ret = batch_prepare(ins, b, fp);
        if (ret != MS_OK) {
            return ret;
        }
    }
    ret = send_pending(ins, b);
    if (ret == MS_OK && ctx->ack) {
        ret = wait_acks(ins, b);
    }
    if (ret != MS_OK) {
        return ret; /* progress is kept: the retry of this batch sends only what is left */
    }
    ctx->batch_fp = 0; /* delivered: a later batch with the same events is sent again */
    ctx->last_problem[0] = '\0';
    return MS_OK;
}

static void hec_destroy(struct ms_instance *ins)
{
    hec_conf_destroy(ins);
}

/* msfwd test: GET /services/collector/health with our token (400 = token refused). */
static int hec_test(struct ms_instance *ins, char *detail, size_t detail_len)
{
    struct hec_ctx *ctx = ins->ctx;
    const char *headers[] = {ctx->auth_header, ctx->channel_header, NULL};
    struct ms_http_request req;
    struct ms_buf url;
    char desc[320];
    int ret;

    ms_buf_init(&url, 8192);
    if (ms_buf_printf(&url, "%s/services/collector/health", ctx->url) != MS_OK) {
        snprintf(detail, detail_len, "URL too long");
        ms_buf_free(&url);
        return MS_EINVAL;
    }
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = ms_buf_cstr(&url);
    req.headers = headers;
    ret = ms_http_perform(ctx->http, &req, &ctx->resp);
    ms_http_describe(&ctx->resp, desc, sizeof(desc));
    if (ret == MS_OK) {
        snprintf(detail, detail_len, "%s is healthy (%s)", ms_buf_cstr(&url), desc);
    }
    else if (ctx->resp.status == 400 || ret == MS_EAUTH) {
        snprintf(detail, detail_len, "%s refused the token (%s)", ms_buf_cstr(&url), desc);
        ret = MS_EAUTH;
    }
    else if (ctx->resp.status == 503) {
        snprintf(detail, detail_len, "%s is unhealthy: queues are full (%s)", ms_buf_cstr(&url),
                 desc);
    }
    else {
        snprintf(detail, detail_len, "%s: %s", ms_buf_cstr(&url), desc);
    }
    ms_buf_free(&url);
    return ret;
}

const struct ms_output_plugin out_hec_plugin = {
    .name = "hec",
    .description = "Splunk HTTP Event Collector (/services/collector/event, gzip, indexer ack)",
    .config_map = hec_config_map,
    .ctx_size = sizeof(struct hec_ctx),
    .init = hec_init,
    .flush = hec_flush,
    .destroy = hec_destroy,
    .test = hec_test,
};
