/* pps input, conf part: the config map, validation, URL normalization and the handles. */
#include <config.h>

#include <curl/curl.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../core/ms_buf.h"
#include "../../core/ms_err.h"
#include "../../core/ms_log.h"
#include "pps.h"

const struct ms_config_map pps_config_map[] = {
    {.name = "url",
     .type = MS_CFG_STR,
     .flags = MS_CFG_REQUIRED,
     .offset = offsetof(struct pps_ctx, url),
     .desc = "https://host[:port] of the appliance or PoD (port " PPS_DEFAULT_PORT " when none)"},
    {.name = "username",
     .type = MS_CFG_STR,
     .flags = MS_CFG_REQUIRED,
     .offset = offsetof(struct pps_ctx, username),
     .desc = "admin account with an API role that manages the Quarantine module"},
    {.name = "password",
     .type = MS_CFG_STR,
     .flags = MS_CFG_REQUIRED | MS_CFG_SECRET,
     .offset = offsetof(struct pps_ctx, password),
     .desc = "its password (HTTP basic auth); use ${ENV_VAR} or @/path/file"},
    {.name = "folders",
     .type = MS_CFG_STRLIST,
     .def = "Quarantine",
     .offset = offsetof(struct pps_ctx, folders),
     .desc = "quarantine folders to collect, each searched on its own"},
    {.name = "sender",
     .type = MS_CFG_STR,
     .offset = offsetof(struct pps_ctx, sender),
     .desc = "search filter 'from': address, *@domain, prefix*, or a domain"},
    {.name = "recipient",
     .type = MS_CFG_STR,
     .offset = offsetof(struct pps_ctx, recipient),
     .desc = "search filter 'rcpt' (same forms); * when sender and subject are not set"},
    {.name = "subject",
     .type = MS_CFG_STR,
     .offset = offsetof(struct pps_ctx, subject),
     .desc = "search filter 'subject': starts with (x*), ends with (*x) or contains"},
    {.name = "limit",
     .type = MS_CFG_INT,
     .def = "100",
     .min = 1,
     .max = PPS_LIMIT_MAX,
     .offset = offsetof(struct pps_ctx, limit),
     .desc = "records per query; a query that returns this many is split (there is no paging)"},
    {.name = "window",
     .type = MS_CFG_TIME,
     .def = "1h",
     .min = 60 * 1000,
     .max = 86400LL * 1000,
     .offset = offsetof(struct pps_ctx, window_ms),
     .desc = "longest date range one query covers"},
    {.name = "overlap",
     .type = MS_CFG_TIME,
     .def = "15m",
     .min = 0,
     .max = 86400LL * 1000,
     .offset = offsetof(struct pps_ctx, overlap_ms),
     .desc = "each poll re-reads this much before its last end (late records); repeats are "
             "dropped by (guid, folder)"},
    {.name = "settle_lag",
     .type = MS_CFG_TIME,
     .def = "1m",
     .min = 0,
     .max = 86400LL * 1000,
     .offset = offsetof(struct pps_ctx, settle_ms),
     .desc = "a poll reads up to now minus this"},
    {.name = "lookback",
     .type = MS_CFG_TIME,
     .def = "24h",
     .min = 60 * 1000,
     .max = 30LL * 86400 * 1000,
     .offset = offsetof(struct pps_ctx, lookback_ms),
     .desc = "where a fresh cursor starts, before now (quarantine keeps 14-30 days)"},
    {.name = "dedupe_max",
     .type = MS_CFG_INT,
     .def = "10000",
     .min = 100,
     .max = 15000,
     .offset = offsetof(struct pps_ctx, dedupe_max),
     .desc = "most (guid, folder) keys the cursor keeps for the overlap (oldest go first)"},
    {.name = "tz_offset",
     .type = MS_CFG_INT,
     .def = "0",
     .min = -720,
     .max = 840,
     .offset = offsetof(struct pps_ctx, tz_offset),
     .desc = "minutes east of UTC of the appliance's dates (0: UTC, as documented)"},
    {.name = "ca_file",
     .type = MS_CFG_STR,
     .offset = offsetof(struct pps_ctx, ca_file),
     .desc = "PEM file of the CA that signed the appliance's certificate (default: system store)"},
    {.name = "verify_tls",
     .type = MS_CFG_BOOL,
     .def = "true",
     .offset = offsetof(struct pps_ctx, verify_tls),
     .desc = "false accepts any certificate (self-signed appliances); warned about at start"},
    {.name = "timeout",
     .type = MS_CFG_TIME,
     .def = "60s",
     .min = 1000,
     .max = 600LL * 1000,
     .offset = offsetof(struct pps_ctx, timeout_ms),
     .desc = "limit for one HTTP request (connect + transfer)"},
    {0},
};

static bool is_set(const char *s)
{
    return s && s[0];
}

/* Normalizes url: http(s) only, port 10000 when none, no query, no trailing "/" or "/rest/v1". */
static int
build_search_url(struct ms_instance *ins, struct pps_ctx *ctx, struct ms_cfg_errors *errs)
{
    CURLU *u = curl_url();
    char *scheme = NULL;
    char *port = NULL;
    char *path = NULL;
    char *full = NULL;
    struct ms_buf buf;
    size_t n;
    int ret = MS_EINVAL;

    ms_buf_init(&buf, 8192);
    if (!u) {
        return MS_ENOMEM;
    }
    if (curl_url_set(u, CURLUPART_URL, ctx->url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)) {
        ms_instance_config_error(ins, errs, "url", "'%s' is not an http(s):// URL", ctx->url);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_NO_PORT &&
        curl_url_set(u, CURLUPART_PORT, PPS_DEFAULT_PORT, 0) != CURLUE_OK) {
        ret = MS_ENOMEM;
        goto out;
    }
    if (curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK) {
        n = strlen(path);
        while (n > 0 && path[n - 1] == '/') {
            n--;
        }
        if (n >= 8 && strncmp(path + n - 8, "/rest/v1", 8) == 0) {
            n -= 8;
        }
        path[n] = '\0';
        curl_url_set(u, CURLUPART_PATH, n ? path : "/", 0);
    }
    curl_url_set(u, CURLUPART_QUERY, NULL, 0);
    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
    if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK) {
        ms_instance_config_error(ins, errs, "url", "'%s' is not a usable URL", ctx->url);
        goto out;
    }
    n = strlen(full);
    while (n > 0 && full[n - 1] == '/') {
        n--;
    }
    if (ms_buf_printf(&buf, "%.*s%s", (int)n, full, PPS_SEARCH_PATH) != MS_OK) {
        ms_instance_config_error(ins, errs, "url", "URL too long");
        goto out;
    }
    ctx->search_url = ms_buf_take(&buf);
    ret = ctx->search_url ? MS_OK : MS_ENOMEM;
out:
    ms_buf_free(&buf);
    curl_free(full);
    curl_free(path);
    curl_free(port);
    curl_free(scheme);
    curl_url_cleanup(u);
    return ret;
}

int pps_conf_init(struct ms_instance *ins, struct ms_cfg_errors *errs)
{
    struct pps_ctx *ctx = ins->ctx;
    struct ms_http_opts hopts;
    size_t i;
    size_t j;
    int ret;

    ret = build_search_url(ins, ctx, errs);
    for (i = 0; i < ctx->folders.n; i++) {
        for (j = 0; j < i; j++) {
            if (strcmp(ctx->folders.items[i], ctx->folders.items[j]) == 0) {
                ms_instance_config_error(ins, errs, "folders", "'%s' is listed twice",
                                         ctx->folders.items[i]);
                ret = MS_EINVAL;
            }
        }
    }
    if (is_set(ctx->ca_file) && access(ctx->ca_file, R_OK) != 0) {
        ms_instance_config_error(ins, errs, "ca_file", "cannot read '%s': %s", ctx->ca_file,
                                 strerror(errno));
        ret = MS_EINVAL;
    }
    if (ret != MS_OK) {
        return ret;
    }
    if (!is_set(ctx->sender) && !is_set(ctx->recipient) && !is_set(ctx->subject)) {
        /* The API wants one of from / rcpt / subject; "*" matches every recipient. */
        free(ctx->recipient);
        ctx->recipient = strdup("*");
        if (!ctx->recipient) {
            return MS_ENOMEM;
        }
    }
    if (!ctx->verify_tls) {
        ms_log_warn(ins, "verify_tls = false: the appliance's certificate is not checked, so "
                         "anyone on the path can read the API password; prefer ca_file");
    }
    memset(&hopts, 0, sizeof(hopts));
    hopts.timeout_ms = ctx->timeout_ms;
    hopts.stop = ins->rt ? ins->rt->stop : NULL;
    hopts.connect_timeout_ms = ctx->timeout_ms < 10000 ? ctx->timeout_ms : 10000;
    hopts.ca_file = is_set(ctx->ca_file) ? ctx->ca_file : NULL;
    hopts.insecure = !ctx->verify_tls;
    ctx->http = ms_http_create(&hopts);
    ctx->nf = ctx->folders.n;
    ctx->f = calloc(ctx->nf ? ctx->nf : 1, sizeof(*ctx->f));
    if (!ctx->http || !ctx->f) {
        return MS_ENOMEM;
    }
    for (i = 0; i < ctx->nf; i++) {
        ctx->f[i].name = ctx->folders.items[i];
    }
    return MS_OK;
}

void pps_conf_destroy(struct ms_instance *ins)
{
    struct pps_ctx *ctx = ins->ctx;
    size_t i;

    for (i = 0; ctx->f && i < ctx->nf; i++) {
        json_object_put(ctx->f[i].seen);
        json_object_put(ctx->f[i].added);
    }
    free(ctx->f);
    ctx->f = NULL;
    pps_page_free(&ctx->held);
    ms_http_destroy(ctx->http);
    ctx->http = NULL;
    free(ctx->search_url);
    ctx->search_url = NULL;
}
