/* pps input: the private context shared by the glue (pps.c) and the conf part (pps_conf.c). */
#ifndef MS_IN_PPS_H
#define MS_IN_PPS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../core/ms_http.h"
#include "../../core/ms_plugin.h"
#include "pps_parse.h"

#define PPS_DEFAULT_PORT "10000"
#define PPS_SEARCH_PATH  "/rest/v1/quarantine"

/*
 * One quarantine folder. "done" is committed: every record dated at or before it was handed on
 * (late arrivals within `overlap` are picked up by the next poll's re-read). A poll walks pieces
 * [pos, pos + span - 1] up to the poll's target; seen holds the (guid -> date) of records handed on
 * that a re-read can return again, including those of the batch not yet committed (listed in
 * added, so that a rollback can take them out).
 */
struct pps_folder {
    const char *name;     /* borrowed from the config list */
    int64_t done;         /* committed, epoch seconds */
    int64_t pending_done; /* reached by the last collect */
    bool fresh;           /* no cursor entry: the first pass starts at now - lookback */
    int64_t pos;          /* this poll: next second to query */
    int64_t span;         /* seconds one query covers; halved on full responses */
    bool idle;            /* nothing left this poll (or the folder is missing) */
    bool missing_logged;
    struct json_object *seen;  /* owned */
    struct json_object *added; /* owned: array of guids added since the last commit */
};

struct pps_ctx {
    /* config (owned by the config map) */
    char *url;
    char *username;
    char *password;
    struct ms_strlist folders;
    char *sender;
    char *recipient;
    char *subject;
    int64_t limit;
    int64_t window_ms;
    int64_t overlap_ms;
    int64_t settle_ms;
    int64_t lookback_ms;
    int64_t dedupe_max;
    int64_t tz_offset;
    char *ca_file;
    bool verify_tls;
    int64_t timeout_ms;
    /* built by init */
    struct ms_http *http;
    char *search_url;
    struct pps_folder *f;
    size_t nf;
    /* cursor and this poll */
    bool loaded;
    bool cycle_open;
    int64_t target_end;
    size_t cur;
    /* the piece being handed on when it did not fit one batch */
    bool has_held;
    struct pps_page held;
    size_t held_next;
    size_t held_folder;
    int64_t held_end;
    unsigned auth_failures;
    int64_t max_returned; /* largest response so far (see pps_page_suspect) */
    uint64_t cycle_new;
    uint64_t cycle_dups;
    uint64_t cycle_requests;
};

extern const struct ms_config_map pps_config_map[];

/* Validates the config and builds the handles; no network. MS_OK or MS_EINVAL / MS_ENOMEM. */
int pps_conf_init(struct ms_instance *ins, struct ms_cfg_errors *errs);

/* Frees what pps_conf_init and the glue built (not the config values). Half-built safe. */
void pps_conf_destroy(struct ms_instance *ins);

#endif
