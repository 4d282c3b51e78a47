/*
 * Plugin interface: an input or output plugin is one exported struct of function pointers.
 * The core allocates the plugin's context (ctx_size bytes), fills it from the plugin's config map,
 * then calls init; on the way out it calls destroy, frees what the config map stored and the ctx.
 */
#ifndef MS_PLUGIN_H
#define MS_PLUGIN_H

#include <signal.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "ms_config.h"
#include "ms_event.h"

#define MS_INSTANCE_NAME_MAX 48

/* What every plugin may read from the running service. Owned by the engine; outlives plugins. */
struct ms_runtime {
    const char *state_dir;       /* cursors, spool, dead letters */
    const char *mappings_dir;    /* data files: mapping files and the like */
    volatile sig_atomic_t *stop; /* set by SIGTERM/SIGINT: finish the current step and return */
    bool once;                   /* msfwd once: one poll, then drain */
};

struct ms_instance {
    const char *kind;                /* "input" or "output" */
    const char *plugin_name;         /* "replay", "hec", ... (static) */
    char name[MS_INSTANCE_NAME_MAX]; /* instance name from [input.NAME]; in every log line */
    int log_level;                   /* -1 = process level */
    bool include_raw;                /* outputs: ship the vendor record under "raw" */
    enum ms_event_view event_view;   /* outputs: how much of each event flush reads (set by init;
                                      * default MS_VIEW_FULL); see ms_event.h */
    int64_t retry_after_ms; /* outputs: set by flush on MS_ERETRY when the receiver said how long
                             * to wait (Retry-After); the engine waits at least that long, so
                             * flush need not sleep */
    void *ctx;              /* plugin context: allocated and freed by the core */
    const struct ms_runtime *rt;         /* borrowed */
    const struct ms_config *cfg;         /* borrowed: for error messages with file and line */
    const struct ms_config_section *sec; /* borrowed; NULL when built without a file */
};

struct ms_input_plugin {
    const char *name;
    const char *description;
    const struct ms_config_map *config_map;
    size_t ctx_size;
    /*
     * Validates cross-key rules (refusals into errs, via ms_instance_config_error) and creates
     * handles. Must not touch the network (msfwd check calls it). May load its cursor later.
     * Returns MS_OK or a negative code; on failure the core still calls destroy.
     */
    int (*init)(struct ms_instance *ins, struct ms_cfg_errors *errs);
    /*
     * Appends up to b->max records to b (one page or a bounded amount of work). Sets *more when
     * another call would return data without waiting for the next interval. The position reached
     * stays pending until commit. Returns MS_OK (zero records is fine), MS_ERETRY (transient,
     * logged here), MS_EAUTH (credentials refused, logged here) or another negative code.
     */
    int (*collect)(struct ms_instance *ins, struct ms_batch *b, bool *more);
    /* The events of the last collect are durable in the spool: persist the pending position. */
    int (*commit)(struct ms_instance *ins);
    /* The events of the last collect were not stored: forget the pending position. */
    void (*rollback)(struct ms_instance *ins);
    /* Releases what init created. Must cope with a half-initialized ctx. */
    void (*destroy)(struct ms_instance *ins);
    /*
     * Optional (msfwd test): checks the connection and credentials without moving data, e.g. one
     * token request or one small query. Writes a one-line result into detail. Returns MS_OK when
     * the peer answered as expected, else the failure code. NULL: the plugin has no check.
     */
    int (*test)(struct ms_instance *ins, char *detail, size_t detail_len);
};

struct ms_output_plugin {
    const char *name;
    const char *description;
    const struct ms_config_map *config_map;
    size_t ctx_size;
    /* As for inputs. May not connect yet: msfwd check calls it. */
    int (*init)(struct ms_instance *ins, struct ms_cfg_errors *errs);
    /*
     * Delivers every event of b (all match this output's sources). Returns MS_OK only when the
     * receiver acknowledged all of them (events it refused for good may have been dead-lettered
     * with ms_deadletter_write). MS_ERETRY: nothing may be assumed delivered, the same batch comes
     * again after a backoff. MS_EAUTH / MS_EPERM: the receiver refuses us; the batch is kept and
     * retried slowly until an operator fixes the cause. Runs on the output's own thread.
     */
    int (*flush)(struct ms_instance *ins, const struct ms_batch *b);
    void (*destroy)(struct ms_instance *ins);
    /*
     * Optional (msfwd test): checks the connection and credentials without moving data, e.g. one
     * token request or one small query. Writes a one-line result into detail. Returns MS_OK when
     * the peer answered as expected, else the failure code. NULL: the plugin has no check.
     */
    int (*test)(struct ms_instance *ins, char *detail, size_t detail_len);
};

/*
 * Appends a refusal for key of this instance's section, naming file, line, section and key
 * (the key's own line, or the section's when the key is absent).
 */
void ms_instance_config_error(const struct ms_instance *ins,
                              struct ms_cfg_errors *errs,
                              const char *key,
                              const char *fmt,
                              ...) __attribute__((format(printf, 4, 5)));

#endif
