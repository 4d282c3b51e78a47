/*
 * Mimecast input: the plugin context shared by the glue (mimecast.c) and the config part
 * (mimecast_conf.c). Private to this folder.
 */
#ifndef MC_MIMECAST_H
#define MC_MIMECAST_H

#include <stdbool.h>
#include <stdint.h>

#include "../../core/ms_auth.h"
#include "../../core/ms_buf.h"
#include "../../core/ms_config.h"
#include "../../core/ms_http.h"
#include "../../core/ms_plugin.h"
#include "mimecast_cursor.h"
#include "mimecast_parse.h"

#define MC_DEFAULT_BASE_URL "https://api.services.mimecast.com"
#define MC_SEEN_MAX         200000 /* identities kept per stream for the overlap window */
#define MC_SECRET_MAX       256    /* decoded API 1.0 secret key */

/* One configured stream at run time. */
struct mc_stream {
    const struct mc_stream_def *def;
    unsigned lanes;             /* sub-queries per walk (message tracking: 2 per domain) */
    struct mc_cursor committed; /* what the cursor file says */
    struct mc_cursor pending;   /* where the last collect got to, until commit or rollback */
    struct mc_seen seen;        /* identities delivered (committed) in the overlap window */
    bool due;                   /* has work in the current cycle */
    int64_t page_size;          /* records asked per page (halved after an oversized answer) */
    bool seen_full_warned;
    unsigned token_refusals; /* page tokens refused in the current lane */
};

struct mc_ctx {
    /* config (owned by the config map) */
    int64_t api_version;
    char *base_url;
    char *token_url;
    char *client_id;
    char *client_secret;
    char *app_id;
    char *app_key;
    char *access_key;
    char *secret_key;
    struct ms_strlist streams;
    int64_t lookback_ms;
    int64_t overlap_ms;
    int64_t window_max_ms;
    int64_t page_size;
    char *route;
    char *attachment_result;
    char *url_scan_result;
    char *impersonation_tagged;
    struct ms_strlist tracking_domains;
    char *tracking_min_risk;
    bool tracking_include_no_risk;
    struct ms_strlist tracking_status;
    struct ms_strlist tracking_route;
    struct ms_strlist tracking_queue_reasons;
    int64_t tracking_max_back_ms;
    char *ca_file;
    bool verify_tls;
    int64_t timeout_ms;
    int64_t max_response;
    int64_t retries;
    int64_t rate_wait_max_ms;

    /* run time (owned here; released by mc_conf_destroy) */
    char *api_base;                          /* base_url without a trailing '/' */
    char *oauth_url;                         /* token endpoint actually used */
    struct ms_http *http;                    /* one handle (and connection) for every request */
    struct ms_oauth *oauth;                  /* API 2.0 */
    unsigned char secret_raw[MC_SECRET_MAX]; /* API 1.0: base64-decoded secret_key */
    size_t secret_raw_len;
    int min_risk;   /* -1 = no risk filter */
    bool need_info; /* message tracking needs get-message-info per page */
    struct mc_stream st[MC_STREAM_MAX];
    size_t n_st;
    bool loaded;                  /* cursor file read */
    int64_t cycle_start;          /* epoch s when the current cycle began */
    int touched;                  /* stream index of the last collect, -1 none */
    struct mc_seen pending_seen;  /* identities of the last collect */
    int64_t not_before_ms;        /* pacing: no request before this (monotonic ms) */
    struct ms_http_response resp; /* reused for every request */
    bool resp_ready;
    struct ms_buf req;      /* request body, reused */
    char last_failure[512]; /* last error logged (repeats go to debug) */
    uint64_t rng;
};

/* The config map of the plugin (mimecast_conf.c). */
extern const struct ms_config_map mc_config_map[];

/*
 * Validates the keys together and creates the handles (no network). Refusals go into errs.
 * Returns MS_OK, MS_EINVAL or MS_ENOMEM; on failure the caller still calls mc_conf_destroy.
 */
int mc_conf_init(struct ms_instance *ins, struct ms_cfg_errors *errs);

/* Releases what mc_conf_init and the glue created; safe on a half-initialized ctx. */
void mc_conf_destroy(struct ms_instance *ins);

#endif
