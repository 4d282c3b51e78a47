/* ser input, conf part: the config map, validation and the handles. */
#include <config.h>

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/ms_buf.h"
#include "../../core/ms_err.h"
#include "../../core/ms_retry.h"
#include "ser.h"
#include "ser_parse.h"

static const char *const ts_formats[] = {"iso", "epoch_ms", NULL};

const struct ms_config_map ser_config_map[] = {
    {.name = "auth_url",
     .type = MS_CFG_STR,
     .def = "https://auth.proofpoint.com/v1/token",
     .offset = offsetof(struct ser_ctx, auth_url),
     .desc = "OAuth2 token endpoint (client credentials)"},
    {.name = "api_url",
     .type = MS_CFG_STR,
     .def = "https://ser-api.proofpoint.com",
     .offset = offsetof(struct ser_ctx, api_url),
     .desc = "base URL of the SER API (" SER_SUMMARY_PATH " is appended)"},
    {.name = "client_id",
     .type = MS_CFG_STR,
     .flags = MS_CFG_REQUIRED | MS_CFG_SECRET,
     .offset = offsetof(struct ser_ctx, client_id),
     .desc = "API key from Services > API Key Management; use ${ENV_VAR} or @/path/file"},
    {.name = "client_secret",
     .type = MS_CFG_STR,
     .flags = MS_CFG_REQUIRED | MS_CFG_SECRET,
     .offset = offsetof(struct ser_ctx, client_secret),
     .desc = "API secret that goes with client_id; use ${ENV_VAR} or @/path/file"},
    {.name = "window",
     .type = MS_CFG_TIME,
     .def = "1h",
     .min = 60 * 1000,
     .max = 86400LL * 1000,
     .offset = offsetof(struct ser_ctx, window_ms),
     .desc = "length of one report window; windows are aligned to multiples of it (UTC)"},
    {.name = "lookback",
     .type = MS_CFG_TIME,
     .def = "24h",
     .min = 60 * 1000,
     .max = 400LL * 86400 * 1000,
     .offset = offsetof(struct ser_ctx, lookback_ms),
     .desc = "where a fresh cursor starts, before now (never before the licence start)"},
    {.name = "settle_lag",
     .type = MS_CFG_TIME,
     .def = "15m",
     .min = 0,
     .max = 7LL * 86400 * 1000,
     .offset = offsetof(struct ser_ctx, settle_ms),
     .desc = "a window is fetched once its end is this far in the past (late counts settle)"},
    {.name = "timestamp_format",
     .type = MS_CFG_STR,
     .def = "iso",
     .choices = ts_formats,
     .offset = offsetof(struct ser_ctx, timestamp_format),
     .desc = "startTimeStamp/endTimeStamp as yyyy-MM-dd'T'HH:mm:ss.SSSZ (iso) or epoch_ms"},
    {.name = "rate_limit",
     .type = MS_CFG_INT,
     .def = "1000",
     .min = 1,
     .max = 100000,
     .offset = offsetof(struct ser_ctx, rate_limit),
     .desc = "requests per minute the input stays under (the API allows 1,000)"},
    {.name = "token_refresh",
     .type = MS_CFG_TIME,
     .def = "5m",
     .min = 1000,
     .max = 12LL * 3600 * 1000,
     .offset = offsetof(struct ser_ctx, token_refresh_ms),
     .desc = "fetch a new access token this long before the cached one expires"},
    {.name = "timeout",
     .type = MS_CFG_TIME,
     .def = "60s",
     .min = 1000,
     .max = 600LL * 1000,
     .offset = offsetof(struct ser_ctx, timeout_ms),
     .desc = "limit for one HTTP request (connect + transfer)"},
    {0},
};

static bool http_url(const char *u)
{
    return strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0;
}

int ser_conf_init(struct ms_instance *ins, struct ms_cfg_errors *errs)
{
    struct ser_ctx *ctx = ins->ctx;
    struct ms_http_opts hopts;
    struct ms_oauth_opts oopts;
    struct ms_buf url;
    size_t n;
    int ret = MS_OK;

    ctx->committed_start = SER_NO_CURSOR;
    ctx->pending_start = SER_NO_CURSOR;
    ctx->license_start_ms = SER_TIME_UNKNOWN;
    if (!http_url(ctx->auth_url)) {
        ms_instance_config_error(ins, errs, "auth_url", "'%s' is not an http(s):// URL",
                                 ctx->auth_url);
        ret = MS_EINVAL;
    }
    if (!http_url(ctx->api_url)) {
        ms_instance_config_error(ins, errs, "api_url", "'%s' is not an http(s):// URL",
                                 ctx->api_url);
        ret = MS_EINVAL;
    }
    if (ret != MS_OK) {
        return ret;
    }
    n = strlen(ctx->api_url);
    while (n > 0 && ctx->api_url[n - 1] == '/') {
        n--;
    }
    ms_buf_init(&url, 8192);
    if (ms_buf_printf(&url, "%.*s%s", (int)n, ctx->api_url, SER_SUMMARY_PATH) != MS_OK) {
        ms_buf_free(&url);
        ms_instance_config_error(ins, errs, "api_url", "URL too long");
        return MS_EINVAL;
    }
    ctx->summary_url = ms_buf_take(&url);
    ctx->epoch_ms_params = strcmp(ctx->timestamp_format, "epoch_ms") == 0;
    ctx->spacing_ms = (60000 + ctx->rate_limit - 1) / ctx->rate_limit;
    ctx->rng = ms_rand_seed();

    memset(&hopts, 0, sizeof(hopts));
    hopts.timeout_ms = ctx->timeout_ms;
    hopts.stop = ins->rt ? ins->rt->stop : NULL;
    hopts.connect_timeout_ms = ctx->timeout_ms < 10000 ? ctx->timeout_ms : 10000;
    ctx->http = ms_http_create(&hopts);
    memset(&oopts, 0, sizeof(oopts));
    oopts.token_url = ctx->auth_url;
    oopts.client_id = ctx->client_id;
    oopts.client_secret = ctx->client_secret;
    oopts.refresh_margin_ms = ctx->token_refresh_ms;
    ctx->oauth = ms_oauth_create(&oopts);
    if (!ctx->summary_url || !ctx->http || !ctx->oauth) {
        return MS_ENOMEM;
    }
    return MS_OK;
}

void ser_conf_destroy(struct ms_instance *ins)
{
    struct ser_ctx *ctx = ins->ctx;

    ms_oauth_destroy(ctx->oauth);
    ctx->oauth = NULL;
    ms_http_destroy(ctx->http);
    ctx->http = NULL;
    free(ctx->summary_url);
    ctx->summary_url = NULL;
    json_object_put(ctx->held);
    ctx->held = NULL;
}
