/* Mimecast input: config map, context creation from the config (no network), destruction. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../../core/ms_err.h"
#include "../../core/ms_log.h"
#include "../../core/ms_retry.h"
#include "mimecast.h"
#include "mimecast_auth.h"

#define DAY_MS (24LL * 3600 * 1000)

static const char *const stream_names[] = {"ttp_url", "ttp_attachment", "ttp_impersonation",
                                           "message_tracking", NULL};
static const char *const routes[] = {"all", "inbound", "outbound", "internal", NULL};
static const char *const attachment_results[] = {"all",     "malicious", "safe", "unsafe",
                                                 "timeout", "error",     NULL};
static const char *const scan_results[] = {"all", "malicious", "clean", NULL};
static const char *const tagged[] = {"any", "true", "false", NULL};
static const char *const risks[] = {"any", "negligible", "low", "medium", "high", NULL};
static const char *const track_statuses[] = {"delivery", "held",     "accepted", "bounced",
                                             "deferred", "rejected", "archived", NULL};
static const char *const track_routes[] = {"inbound", "outbound", "internal", NULL};

const struct ms_config_map mc_config_map[] = {
    {.name = "api_version",
     .type = MS_CFG_INT,
     .def = "2",
     .min = 1,
     .max = 2,
     .offset = offsetof(struct mc_ctx, api_version),
     .desc = "2 = OAuth 2.0 client credentials (client_id, client_secret); 1 = legacy HMAC "
             "signing (app_id, app_key, access_key, secret_key)"},
    {.name = "base_url",
     .type = MS_CFG_STR,
     .def = MC_DEFAULT_BASE_URL,
     .offset = offsetof(struct mc_ctx, base_url),
     .desc = "API root: https://api.services.mimecast.com (2.0, global); API 1.0 needs the "
             "region's host, e.g. https://eu-api.mimecast.com"},
    {.name = "token_url",
     .type = MS_CFG_STR,
     .def = "",
     .offset = offsetof(struct mc_ctx, token_url),
     .desc = "API 2.0 token endpoint; empty = base_url + /oauth/token"},
    {.name = "client_id",
     .type = MS_CFG_STR,
     .flags = MS_CFG_SECRET,
     .offset = offsetof(struct mc_ctx, client_id),
     .desc = "API 2.0 client id (api_version = 2); use ${ENV_VAR} or @/path/file"},
    {.name = "client_secret",
     .type = MS_CFG_STR,
     .flags = MS_CFG_SECRET,
     .offset = offsetof(struct mc_ctx, client_secret),
     .desc = "API 2.0 client secret (api_version = 2); use ${ENV_VAR} or @/path/file"},
    {.name = "app_id",
     .type = MS_CFG_STR,
     .offset = offsetof(struct mc_ctx, app_id),
     .desc = "API 1.0 application id, sent as x-mc-app-id (api_version = 1)"},
    {.name = "app_key",
     .type = MS_CFG_STR,
     .flags = MS_CFG_SECRET,
     .offset = offsetof(struct mc_ctx, app_key),
     .desc = "API 1.0 application key (api_version = 1)"},
    {.name = "access_key",
     .type = MS_CFG_STR,
     .flags = MS_CFG_SECRET,
     .offset = offsetof(struct mc_ctx, access_key),
     .desc = "API 1.0 access key of the API user's binding (api_version = 1)"},
    {.name = "secret_key",
     .type = MS_CFG_STR,
     .flags = MS_CFG_SECRET,
     .offset = offsetof(struct mc_ctx, secret_key),
     .desc = "API 1.0 secret key, base64 as Mimecast shows it (api_version = 1)"},
    {.name = "streams",
     .type = MS_CFG_STRLIST,
     .def = "ttp_url, ttp_attachment, ttp_impersonation",
     .choices = stream_names,
     .offset = offsetof(struct mc_ctx, streams),
     .desc = "logs to collect: ttp_url, ttp_attachment, ttp_impersonation, message_tracking"},
    {.name = "lookback",
     .type = MS_CFG_TIME,
     .def = "24h",
     .min = 60LL * 1000,
     .max = 30 * DAY_MS,
     .offset = offsetof(struct mc_ctx, lookback_ms),
     .desc = "where a stream without a cursor starts (at most 30d)"},
    {.name = "overlap",
     .type = MS_CFG_TIME,
     .def = "10m",
     .min = 0,
     .max = DAY_MS,
     .offset = offsetof(struct mc_ctx, overlap_ms),
     .desc = "each poll reads this much before the cursor again (late records); repeats are "
             "dropped by record identity"},
    {.name = "window_max",
     .type = MS_CFG_TIME,
     .def = "1d",
     .min = 5LL * 60 * 1000,
     .max = 30 * DAY_MS,
     .offset = offsetof(struct mc_ctx, window_max_ms),
     .desc = "longest time window of one query; a backfill walks such windows one after another "
             "(message_tracking with tracking_domains: at most 1h)"},
    {.name = "page_size",
     .type = MS_CFG_INT,
     .def = "500",
     .min = 1,
     .max = 500,
     .offset = offsetof(struct mc_ctx, page_size),
     .desc = "records asked per page (never more than batch_max)"},
    {.name = "route",
     .type = MS_CFG_STR,
     .def = "all",
     .choices = routes,
     .offset = offsetof(struct mc_ctx, route),
     .desc = "ttp_url and ttp_attachment: all | inbound | outbound | internal"},
    {.name = "attachment_result",
     .type = MS_CFG_STR,
     .def = "all",
     .choices = attachment_results,
     .offset = offsetof(struct mc_ctx, attachment_result),
     .desc = "ttp_attachment result filter; Mimecast's own default is malicious, all lets the "
             "mapping drop clean verdicts"},
    {.name = "url_scan_result",
     .type = MS_CFG_STR,
     .def = "all",
     .choices = scan_results,
     .offset = offsetof(struct mc_ctx, url_scan_result),
     .desc = "ttp_url scanResult filter: all | malicious | clean"},
    {.name = "impersonation_tagged_malicious",
     .type = MS_CFG_STR,
     .def = "any",
     .choices = tagged,
     .offset = offsetof(struct mc_ctx, impersonation_tagged),
     .desc = "ttp_impersonation taggedMalicious filter: any | true | false"},
    {.name = "tracking_domains",
     .type = MS_CFG_STRLIST,
     .offset = offsetof(struct mc_ctx, tracking_domains),
     .desc = "message_tracking: domains to track, each queried as recipient then sender; unset = "
             "every message"},
    {.name = "tracking_min_risk",
     .type = MS_CFG_STR,
     .def = "any",
     .choices = risks,
     .offset = offsetof(struct mc_ctx, tracking_min_risk),
     .desc = "message_tracking: lowest risk forwarded (negligible < low < medium < high; any = "
             "no filter); needs one get-message-info call per page"},
    {.name = "tracking_include_no_risk",
     .type = MS_CFG_BOOL,
     .def = "false",
     .offset = offsetof(struct mc_ctx, tracking_include_no_risk),
     .desc = "message_tracking: with tracking_min_risk, also forward messages that carry no risk"},
    {.name = "tracking_status",
     .type = MS_CFG_STRLIST,
     .choices = track_statuses,
     .offset = offsetof(struct mc_ctx, tracking_status),
     .desc = "message_tracking: statuses to forward (delivery, held, accepted, bounced, deferred, "
             "rejected, archived); unset = all"},
    {.name = "tracking_route",
     .type = MS_CFG_STRLIST,
     .choices = track_routes,
     .offset = offsetof(struct mc_ctx, tracking_route),
     .desc = "message_tracking: routes to forward (inbound, outbound, internal); unset = all"},
    {.name = "tracking_queue_reasons",
     .type = MS_CFG_STRLIST,
     .offset = offsetof(struct mc_ctx, tracking_queue_reasons),
     .desc = "message_tracking: forward only messages whose queue reason is one of these "
             "(case-insensitive); unset = no filter"},
    {.name = "tracking_max_back",
     .type = MS_CFG_TIME,
     .def = "0",
     .min = 0,
     .max = 30 * DAY_MS,
     .offset = offsetof(struct mc_ctx, tracking_max_back_ms),
     .desc = "message_tracking: never ask for messages older than this (GS 'max hours "
             "backwards'); 0 = lookback and the cursor decide"},
    {.name = "ca_file",
     .type = MS_CFG_STR,
     .def = "",
     .offset = offsetof(struct mc_ctx, ca_file),
     .desc = "PEM bundle to verify the API's certificate; empty = the system trust store"},
    {.name = "verify_tls",
     .type = MS_CFG_BOOL,
     .def = "true",
     .offset = offsetof(struct mc_ctx, verify_tls),
     .desc = "verify the API's TLS certificate and host name (false warns at start)"},
    {.name = "timeout",
     .type = MS_CFG_TIME,
     .def = "60s",
     .min = 1000,
     .max = 10LL * 60 * 1000,
     .offset = offsetof(struct mc_ctx, timeout_ms),
     .desc = "longest time one API request may take"},
    {.name = "max_response",
     .type = MS_CFG_SIZE,
     .def = "32M",
     .min = 64LL * 1024,
     .max = (int64_t)MS_CAP_API_PAGE,
     .offset = offsetof(struct mc_ctx, max_response),
     .desc = "largest API answer accepted; a larger page is refused and asked again in "
             "smaller pages"},
    {.name = "retries",
     .type = MS_CFG_INT,
     .def = "2",
     .min = 0,
     .max = 10,
     .offset = offsetof(struct mc_ctx, retries),
     .desc = "transient failures (5xx, timeouts, truncated or invalid pages) retried at once "
             "before the poll fails and backs off"},
    {.name = "rate_wait_max",
     .type = MS_CFG_TIME,
     .def = "60s",
     .min = 1000,
     .max = 3600LL * 1000,
     .offset = offsetof(struct mc_ctx, rate_wait_max_ms),
     .desc = "longest wait for the rate limit (X-RateLimit-Reset, 429) inside one poll; longer "
             "waits end the poll (other inputs are not held up) and it is retried later"},
    {0},
};

static bool empty(const char *s)
{
    return !s || !*s;
}

static int require(struct ms_instance *ins,
                   struct ms_cfg_errors *errs,
                   const char *key,
                   const char *value,
                   const char *why)
{
    if (!empty(value)) {
        return MS_OK;
    }
    ms_instance_config_error(ins, errs, key, "required %s", why);
    return MS_EINVAL;
}

static int
check_credentials(struct ms_instance *ins, struct mc_ctx *ctx, struct ms_cfg_errors *errs)
{
    int ret = MS_OK;

    if (ctx->api_version == 2) {
        ret |= require(ins, errs, "client_id", ctx->client_id, "with api_version = 2");
        ret |= require(ins, errs, "client_secret", ctx->client_secret, "with api_version = 2");
        return ret ? MS_EINVAL : MS_OK;
    }
    ret |= require(ins, errs, "app_id", ctx->app_id, "with api_version = 1");
    ret |= require(ins, errs, "app_key", ctx->app_key, "with api_version = 1");
    ret |= require(ins, errs, "access_key", ctx->access_key, "with api_version = 1");
    ret |= require(ins, errs, "secret_key", ctx->secret_key, "with api_version = 1");
    if (!empty(ctx->secret_key) &&
        (mc_b64_decode(ctx->secret_key, ctx->secret_raw, sizeof(ctx->secret_raw),
                       &ctx->secret_raw_len) != MS_OK ||
         ctx->secret_raw_len == 0)) {
        ms_instance_config_error(ins, errs, "secret_key",
                                 "is not base64 (as Mimecast shows it); value not shown");
        ret = MS_EINVAL;
    }
    if (strcmp(ctx->api_base, MC_DEFAULT_BASE_URL) == 0) {
        ms_instance_config_error(ins, errs, "base_url",
                                 "API 1.0 is served by the region's host (e.g. "
                                 "https://eu-api.mimecast.com), not by %s",
                                 MC_DEFAULT_BASE_URL);
        ret = MS_EINVAL;
    }
    return ret ? MS_EINVAL : MS_OK;
}

static int
check_url(struct ms_instance *ins, struct ms_cfg_errors *errs, const char *key, const char *url)
{
    if (strncasecmp(url, "https://", 8) == 0 || strncasecmp(url, "http://", 7) == 0) {
        return MS_OK;
    }
    ms_instance_config_error(ins, errs, key, "'%s' is not an http:// or https:// URL", url);
    return MS_EINVAL;
}

static int setup_streams(struct ms_instance *ins, struct mc_ctx *ctx, struct ms_cfg_errors *errs)
{
    size_t i;
    size_t j;

    for (i = 0; i < ctx->streams.n; i++) {
        const struct mc_stream_def *def = mc_stream_find(ctx->streams.items[i]);
        struct mc_stream *s;

        for (j = 0; j < ctx->n_st; j++) {
            if (ctx->st[j].def == def) {
                ms_instance_config_error(ins, errs, "streams", "'%s' is listed twice", def->name);
                return MS_EINVAL;
            }
        }
        s = &ctx->st[ctx->n_st++];
        s->def = def;
        s->lanes = 1;
        if (def->id == MC_MESSAGE_TRACKING && ctx->tracking_domains.n) {
            s->lanes = (unsigned)(2 * ctx->tracking_domains.n);
        }
        s->page_size = ctx->page_size;
    }
    return MS_OK;
}

int mc_conf_init(struct ms_instance *ins, struct ms_cfg_errors *errs)
{
    struct mc_ctx *ctx = ins->ctx;
    struct ms_http_opts hopts;
    struct ms_oauth_opts oopts;
    size_t len;
    int ret = MS_OK;

    ctx->touched = -1;
    ctx->rng = ms_rand_seed();
    ms_buf_init(&ctx->req, (size_t)1024 * 1024);
    ms_http_response_init(&ctx->resp);
    ctx->resp_ready = true;

    ctx->api_base = strdup(ctx->base_url);
    if (!ctx->api_base) {
        return MS_ENOMEM;
    }
    len = strlen(ctx->api_base);
    while (len > 0 && ctx->api_base[len - 1] == '/') {
        ctx->api_base[--len] = '\0';
    }
    if (check_url(ins, errs, "base_url", ctx->api_base) != MS_OK) {
        ret = MS_EINVAL;
    }
    if (!empty(ctx->token_url) && check_url(ins, errs, "token_url", ctx->token_url) != MS_OK) {
        ret = MS_EINVAL;
    }
    if (check_credentials(ins, ctx, errs) != MS_OK) {
        ret = MS_EINVAL;
    }
    if (setup_streams(ins, ctx, errs) != MS_OK) {
        ret = MS_EINVAL;
    }
    if (ctx->window_max_ms < ctx->overlap_ms + 60LL * 1000) {
        ms_instance_config_error(ins, errs, "window_max",
                                 "must be at least overlap + 1m (a window must move forward)");
        ret = MS_EINVAL;
    }
    if (!empty(ctx->ca_file) && access(ctx->ca_file, R_OK) != 0) {
        ms_instance_config_error(ins, errs, "ca_file", "cannot read '%s': %s", ctx->ca_file,
                                 strerror(errno));
        ret = MS_EINVAL;
    }
    ctx->min_risk = mc_risk_rank(ctx->tracking_min_risk);
    ctx->need_info = ctx->min_risk >= 0 || ctx->tracking_queue_reasons.n > 0;
    if (ret != MS_OK) {
        return ret;
    }

    if (empty(ctx->token_url)) {
        len = strlen(ctx->api_base) + sizeof("/oauth/token");
        ctx->oauth_url = malloc(len);
        if (!ctx->oauth_url) {
            return MS_ENOMEM;
        }
        snprintf(ctx->oauth_url, len, "%s/oauth/token", ctx->api_base);
    }
    else {
        ctx->oauth_url = strdup(ctx->token_url);
        if (!ctx->oauth_url) {
            return MS_ENOMEM;
        }
    }
    memset(&hopts, 0, sizeof(hopts));
    hopts.timeout_ms = ctx->timeout_ms;
    hopts.stop = ins->rt ? ins->rt->stop : NULL;
    hopts.connect_timeout_ms = ctx->timeout_ms < 10000 ? ctx->timeout_ms : 10000;
    hopts.ca_file = empty(ctx->ca_file) ? NULL : ctx->ca_file;
    hopts.insecure = !ctx->verify_tls;
    hopts.max_response = (size_t)ctx->max_response;
    ctx->http = ms_http_create(&hopts);
    if (!ctx->http) {
        return MS_ENOMEM;
    }
    if (ctx->api_version == 2) {
        memset(&oopts, 0, sizeof(oopts));
        oopts.token_url = ctx->oauth_url;
        oopts.client_id = ctx->client_id;
        oopts.client_secret = ctx->client_secret;
        ctx->oauth = ms_oauth_create(&oopts);
        if (!ctx->oauth) {
            return MS_ENOMEM;
        }
    }
    if (!ctx->verify_tls) {
        ms_log_warn(ins,
                    "verify_tls = false: the certificate of %s is not checked; anyone on the "
                    "path can read the credentials and the logs",
                    ctx->api_base);
    }
    if (ctx->tracking_domains.n || ctx->need_info || ctx->tracking_status.n ||
        ctx->tracking_route.n || ctx->tracking_max_back_ms) {
        bool tracking = false;
        size_t i;

        for (i = 0; i < ctx->n_st; i++) {
            tracking = tracking || ctx->st[i].def->id == MC_MESSAGE_TRACKING;
        }
        if (!tracking) {
            ms_log_warn(ins, "tracking_* keys are set but message_tracking is not in streams; "
                             "they have no effect");
        }
    }
    return MS_OK;
}

void mc_conf_destroy(struct ms_instance *ins)
{
    struct mc_ctx *ctx = ins->ctx;
    size_t i;

    if (!ctx) {
        return;
    }
    for (i = 0; i < MC_STREAM_MAX; i++) {
        mc_cursor_free(&ctx->st[i].committed);
        mc_cursor_free(&ctx->st[i].pending);
        mc_seen_free(&ctx->st[i].seen);
    }
    mc_seen_free(&ctx->pending_seen);
    ms_oauth_destroy(ctx->oauth);
    ctx->oauth = NULL;
    ms_http_destroy(ctx->http);
    ctx->http = NULL;
    if (ctx->resp_ready) {
        ms_http_response_free(&ctx->resp);
        ctx->resp_ready = false;
    }
    ms_buf_free(&ctx->req);
    free(ctx->api_base);
    ctx->api_base = NULL;
    free(ctx->oauth_url);
    ctx->oauth_url = NULL;
    explicit_bzero(ctx->secret_raw, sizeof(ctx->secret_raw));
    ctx->secret_raw_len = 0;
}
