/*
 * hec output, config part: the config map, and the context built from it (URLs, headers, the
 * channel UUID, the HTTP handle, zlib). Touches no network: msfwd check runs it.
 */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "../../src/core/ms_err.h"
#include "../../src/core/ms_log.h"
#include "hec.h"

#define HEC_RESPONSE_MAX (1024u * 1024) /* HEC answers are small; ack answers ~20 bytes per id */
#define HEC_STORE_MAX    (SIZE_MAX / 4)

const struct ms_config_map hec_config_map[] = {
    {.name = "url",
     .type = MS_CFG_STR,
     .flags = MS_CFG_REQUIRED,
     .offset = offsetof(struct hec_ctx, url),
     .desc = "HEC base URL (https://splunk.example.com:8088); events go to "
             "<url>/services/collector/event"},
    {.name = "token",
     .type = MS_CFG_STR,
     .flags = MS_CFG_REQUIRED | MS_CFG_SECRET,
     .offset = offsetof(struct hec_ctx, token),
     .desc = "HEC token, without the 'Splunk ' prefix; use ${ENV_VAR} or @/path/file"},
    {.name = "index",
     .type = MS_CFG_STR,
     .offset = offsetof(struct hec_ctx, index),
     .desc = "index of every event; empty = the token's default index"},
    {.name = "index.",
     .type = MS_CFG_PREFIX,
     .offset = offsetof(struct hec_ctx, indexes),
     .desc = "index.<source type, ':' written '-'> = index for that source type"},
    {.name = "sourcetype",
     .type = MS_CFG_STR,
     .offset = offsetof(struct hec_ctx, sourcetype),
     .desc = "sourcetype of every event; empty = the event's source_type (mimecast:ttp:url, ...)"},
    {.name = "sourcetype.",
     .type = MS_CFG_PREFIX,
     .offset = offsetof(struct hec_ctx, sourcetypes),
     .desc = "sourcetype.<source type, ':' written '-'> = sourcetype for that source type"},
    {.name = "source",
     .type = MS_CFG_STR,
     .offset = offsetof(struct hec_ctx, source),
     .desc = "HEC source of every event; empty = msfwd:<source_type>"},
    {.name = "host",
     .type = MS_CFG_STR,
     .offset = offsetof(struct hec_ctx, host),
     .desc = "HEC host of every event; empty = this machine's hostname"},
    {.name = "fields",
     .type = MS_CFG_STRLIST,
     .offset = offsetof(struct hec_ctx, fields),
     .desc = "event keys also sent as indexed fields (string or array-of-string values; "
             "numbers as text; objects skipped)"},
    {.name = "field.",
     .type = MS_CFG_PREFIX,
     .offset = offsetof(struct hec_ctx, const_fields),
     .desc = "field.<name> = value: a constant indexed field on every event (e.g. field.tenant)"},
    {.name = "cim_fields",
     .type = MS_CFG_BOOL,
     .def = "true",
     .offset = offsetof(struct hec_ctx, cim),
     .desc = "add CIM names next to the normalized ones: src_user, src, recipient_count, "
             "vendor_product, mitre_technique_id, mitre_technique"},
    {.name = "gzip",
     .type = MS_CFG_BOOL,
     .def = "true",
     .offset = offsetof(struct hec_ctx, gzip),
     .desc = "compress request bodies (Content-Encoding: gzip)"},
    {.name = "gzip_level",
     .type = MS_CFG_INT,
     .def = "1",
     .min = 1,
     .max = 9,
     .offset = offsetof(struct hec_ctx, gzip_level),
     .desc = "zlib level: 1 = fastest, 9 = smallest"},
    {.name = "max_request_bytes",
     .type = MS_CFG_SIZE,
     .def = "1M",
     .min = 1024,
     .max = 256LL * 1024 * 1024,
     .offset = offsetof(struct hec_ctx, max_request_bytes),
     .desc = "largest request body before compression; a batch larger than this goes in "
             "several requests (keep under the receiver's max_content_length)"},
    {.name = "timeout",
     .type = MS_CFG_TIME,
     .def = "30s",
     .min = 1000,
     .max = 600LL * 1000,
     .offset = offsetof(struct hec_ctx, timeout_ms),
     .desc = "time one request may take; a timed-out batch is sent again (duplicates possible)"},
    {.name = "ack",
     .type = MS_CFG_BOOL,
     .def = "false",
     .offset = offsetof(struct hec_ctx, ack),
     .desc = "indexer acknowledgement (Splunk Enterprise, token with useACK): a batch counts "
             "as delivered only when /services/collector/ack says so"},
    {.name = "ack_interval",
     .type = MS_CFG_TIME,
     .def = "2s",
     .min = 10,
     .max = 60LL * 1000,
     .offset = offsetof(struct hec_ctx, ack_interval_ms),
     .desc = "longest wait between two ack polls (the first comes after 100ms, then doubling)"},
    {.name = "ack_timeout",
     .type = MS_CFG_TIME,
     .def = "5m",
     .min = 100,
     .max = 24LL * 3600 * 1000,
     .offset = offsetof(struct hec_ctx, ack_timeout_ms),
     .desc = "events whose ack is not true after this long are sent again (duplicates "
             "possible); Splunk may take ~2 minutes to ack at low volume"},
    {.name = "ca_file",
     .type = MS_CFG_STR,
     .offset = offsetof(struct hec_ctx, ca_file),
     .desc = "PEM file of the CA(s) that signed the receiver's certificate; empty = system store"},
    {.name = "verify_tls",
     .type = MS_CFG_BOOL,
     .def = "true",
     .offset = offsetof(struct hec_ctx, verify_tls),
     .desc = "verify the receiver's certificate and name (false warns at start)"},
    {0},
};

/* Random version-4 UUID: the channel of this output instance. */
static int make_channel(char out[HEC_CHANNEL_LEN + 1])
{
    unsigned char r[16];
    size_t got = 0;

    while (got < sizeof(r)) {
        ssize_t n = getrandom(r + got, sizeof(r) - got, 0);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return MS_EIO;
        }
        got += (size_t)n;
    }
    r[6] = (unsigned char)((r[6] & 0x0F) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3F) | 0x80);
    snprintf(out, HEC_CHANNEL_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1],
             r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
             r[15]);
    return MS_OK;
}

static char *concat(const char *a, const char *b)
{
    struct ms_buf buf;

    ms_buf_init(&buf, strlen(a) + strlen(b) + 1);
    if (ms_buf_puts(&buf, a) != MS_OK || ms_buf_puts(&buf, b) != MS_OK) {
        ms_buf_free(&buf);
        return NULL;
    }
    return ms_buf_take(&buf);
}

/* Refusals of the token, worded without its value. */
static bool token_ok(struct ms_instance *ins, struct hec_ctx *ctx, struct ms_cfg_errors *errs)
{
    const char *p;

    if (strncasecmp(ctx->token, "Splunk ", 7) == 0) {
        ms_instance_config_error(ins, errs, "token",
                                 "give the bare token: msfwd sends 'Authorization: Splunk <token>' "
                                 "itself (value not shown: secret)");
        return false;
    }
    for (p = ctx->token; *p; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
            ms_instance_config_error(ins, errs, "token",
                                     "contains spaces or control characters (value not shown: "
                                     "secret)");
            return false;
        }
    }
    return true;
}

static int build_urls(struct ms_instance *ins, struct hec_ctx *ctx, struct ms_cfg_errors *errs)
{
    size_t n = strlen(ctx->url);

    if (strncasecmp(ctx->url, "https://", 8) != 0 && strncasecmp(ctx->url, "http://", 7) != 0) {
        ms_instance_config_error(ins, errs, "url", "'%s' is not an http:// or https:// URL",
                                 ctx->url);
        return MS_EINVAL;
    }
    if (strchr(ctx->url, '?') || strchr(ctx->url, '#')) {
        ms_instance_config_error(ins, errs, "url",
                                 "give the base URL without query or fragment (msfwd appends "
                                 "/services/collector/event)");
        return MS_EINVAL;
    }
    while (n > 0 && ctx->url[n - 1] == '/') {
        ctx->url[--n] = '\0';
    }
    ctx->url_event = concat(ctx->url, "/services/collector/event");
    ctx->url_ack = concat(ctx->url, "/services/collector/ack");
    if (!ctx->url_event || !ctx->url_ack) {
        return MS_ENOMEM;
    }
    if (strncasecmp(ctx->url, "http://", 7) == 0) {
        ms_log_warn(ins, "url %s is plain http: the HEC token and the events travel unencrypted",
                    ctx->url);
    }
    return MS_OK;
}

int hec_conf_init(struct ms_instance *ins, struct ms_cfg_errors *errs)
{
    struct hec_ctx *ctx = ins->ctx;
    struct ms_http_opts opts;
    size_t h = 0;
    int ret;

    ms_buf_init(&ctx->store, HEC_STORE_MAX);
    ms_buf_init(&ctx->body, HEC_STORE_MAX);
    ms_buf_init(&ctx->query, HEC_RESPONSE_MAX);
    ms_http_response_init(&ctx->resp);

    ret = build_urls(ins, ctx, errs);
    if (ret != MS_OK) {
        return ret;
    }
    if (!token_ok(ins, ctx, errs)) {
        return MS_EINVAL;
    }
    if (ctx->ca_file && ctx->ca_file[0] && access(ctx->ca_file, R_OK) != 0) {
        ms_instance_config_error(ins, errs, "ca_file", "cannot read %s: %s", ctx->ca_file,
                                 strerror(errno));
        return MS_EINVAL;
    }
    if (!ctx->verify_tls) {
        ms_log_warn(ins, "verify_tls = false: the receiver's certificate is not checked; anyone "
                         "on the path can read the token and the events");
    }
    if (make_channel(ctx->channel) != MS_OK) {
        ms_log_error(ins, "cannot draw a random channel id: %s", strerror(errno));
        return MS_EIO;
    }
    if (!ctx->host || !ctx->host[0]) {
        if (gethostname(ctx->hostname, sizeof(ctx->hostname) - 1) != 0) {
            ms_log_warn(ins, "cannot read this machine's hostname (%s): events go without host",
                        strerror(errno));
            ctx->hostname[0] = '\0';
        }
    }
    else if (strlen(ctx->host) >= sizeof(ctx->hostname)) {
        ms_instance_config_error(ins, errs, "host", "longer than %zu bytes",
                                 sizeof(ctx->hostname) - 1);
        return MS_EINVAL;
    }
    else {
        snprintf(ctx->hostname, sizeof(ctx->hostname), "%s", ctx->host);
    }

    ctx->auth_header = concat("Authorization: Splunk ", ctx->token);
    ctx->channel_header = concat("X-Splunk-Request-Channel: ", ctx->channel);
    if (!ctx->auth_header || !ctx->channel_header) {
        return MS_ENOMEM;
    }
    ctx->headers[h++] = ctx->auth_header;
    ctx->headers[h++] = "Content-Type: application/json";
    ctx->headers[h++] = ctx->channel_header;
    if (ctx->gzip) {
        ctx->headers[h++] = "Content-Encoding: gzip";
    }
    ctx->headers[h] = NULL;
    ctx->ack_headers[0] = ctx->auth_header;
    ctx->ack_headers[1] = "Content-Type: application/json";
    ctx->ack_headers[2] = ctx->channel_header;
    ctx->ack_headers[3] = NULL;

    ctx->fmt.host = ctx->hostname[0] ? ctx->hostname : NULL;
    ctx->fmt.source = ctx->source;
    ctx->fmt.sourcetype = ctx->sourcetype;
    ctx->fmt.sourcetypes = &ctx->sourcetypes;
    ctx->fmt.index = ctx->index;
    ctx->fmt.indexes = &ctx->indexes;
    ctx->fmt.fields = &ctx->fields;
    ctx->fmt.const_fields = &ctx->const_fields;
    ctx->fmt.include_raw = ins->include_raw;
    /* hec_format_event needs "raw" only on its rare slow path, and parses ev->text for it then. */
    ins->event_view = MS_VIEW_NO_RAW;
    ctx->fmt.cim = ctx->cim;

    memset(&opts, 0, sizeof(opts));
    opts.timeout_ms = ctx->timeout_ms;
    opts.ca_file = ctx->ca_file && ctx->ca_file[0] ? ctx->ca_file : NULL;
    opts.insecure = !ctx->verify_tls;
    opts.max_response = HEC_RESPONSE_MAX;
    ctx->http = ms_http_create(&opts);
    if (!ctx->http) {
        return MS_ENOMEM;
    }
    if (ctx->gzip) {
        if (deflateInit2(&ctx->zs, (int)ctx->gzip_level, Z_DEFLATED, 15 + 16, 8,
                         Z_DEFAULT_STRATEGY) != Z_OK) {
            ms_log_error(ins, "zlib: cannot set up gzip compression");
            return MS_ENOMEM;
        }
        ctx->zs_ready = true;
    }
    ms_log_debug(ins, "posting to %s on channel %s%s%s", ctx->url_event, ctx->channel,
                 ctx->gzip ? ", gzip" : "", ctx->ack ? ", indexer acknowledgement" : "");
    return MS_OK;
}

void hec_conf_destroy(struct ms_instance *ins)
{
    struct hec_ctx *ctx = ins->ctx;

    ms_http_destroy(ctx->http);
    ctx->http = NULL;
    ms_http_response_free(&ctx->resp);
    if (ctx->zs_ready) {
        deflateEnd(&ctx->zs);
        ctx->zs_ready = false;
    }
    ms_secret_free(ctx->auth_header);
    ctx->auth_header = NULL;
    free(ctx->channel_header);
    ctx->channel_header = NULL;
    free(ctx->url_event);
    ctx->url_event = NULL;
    free(ctx->url_ack);
    ctx->url_ack = NULL;
    ms_buf_free(&ctx->store);
    ms_buf_free(&ctx->body);
    ms_buf_free(&ctx->query);
    free(ctx->gz);
    ctx->gz = NULL;
    ctx->gz_cap = 0;
    free(ctx->state);
    free(ctx->off);
    free(ctx->len);
    free(ctx->req);
    free(ctx->reqidx);
    ctx->state = NULL;
    ctx->off = NULL;
    ctx->len = NULL;
    ctx->req = NULL;
    ctx->reqidx = NULL;
    ctx->state_cap = 0;
    free(ctx->acks);
    ctx->acks = NULL;
    ctx->n_acks = 0;
    ctx->acks_cap = 0;
}
