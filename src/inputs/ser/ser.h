/* ser input: the private context shared by the glue (ser.c) and the conf part (ser_conf.c). */
#ifndef MS_IN_SER_H
#define MS_IN_SER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../core/ms_auth.h"
#include "../../core/ms_http.h"
#include "../../core/ms_plugin.h"

#define SER_SUMMARY_PATH "/v1/sercustomer/report/summary"
#define SER_NO_CURSOR    INT64_MIN

/*
 * States: the cursor is "committed" (saved in the cursor file) or "pending" (reached by the last
 * collect, saved by commit, dropped by rollback). held is the window being handed on when its
 * records did not fit one batch (held_next of them are out).
 */
struct ser_ctx {
    /* config (owned by the config map) */
    char *auth_url;
    char *api_url;
    char *client_id;
    char *client_secret;
    int64_t window_ms;
    int64_t lookback_ms;
    int64_t settle_ms;
    char *timestamp_format;
    int64_t rate_limit;
    int64_t token_refresh_ms;
    int64_t timeout_ms;
    /* handles, built by init */
    struct ms_http *http;
    struct ms_oauth *oauth;
    char *summary_url;
    bool epoch_ms_params;
    int64_t spacing_ms;
    uint64_t rng;
    /* cursor */
    bool loaded;
    int64_t committed_start; /* start of the next window to fetch, or SER_NO_CURSOR */
    int64_t committed_offset;
    int64_t pending_start;
    int64_t pending_offset;
    /* this poll */
    bool cycle_open;
    unsigned cycle_windows;
    int64_t license_start_ms;
    struct json_object *held;
    size_t held_next;
    int64_t held_end;
    /* requests */
    int64_t last_request_ms;
    unsigned auth_failures;
};

extern const struct ms_config_map ser_config_map[];

/* Validates the config and builds the handles; no network. MS_OK or MS_EINVAL / MS_ENOMEM. */
int ser_conf_init(struct ms_instance *ins, struct ms_cfg_errors *errs);

/* Frees what ser_conf_init and the glue built (not the config values). Half-built safe. */
void ser_conf_destroy(struct ms_instance *ins);

#endif
