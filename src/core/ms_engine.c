/* Engine: instances, the input loop, the mapping stage, the spool and one thread per output. */
#include <config.h>

#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../mapping/ms_mapping.h"
#include "ms_buf.h"
#include "ms_engine.h"
#include "ms_err.h"
#include "ms_idwindow.h"
#include "ms_log.h"
#include "ms_metrics.h"
#include "ms_plugin.h"
#include "ms_registry.h"
#include "ms_retry.h"
#include "ms_spool.h"
#include "ms_state.h"

#ifndef MS_MAPPINGS_DIR
#define MS_MAPPINGS_DIR "/usr/share/msfwd/mappings"
#endif
#ifndef MS_STATE_DIR
#define MS_STATE_DIR "/var/lib/msfwd"
#endif

#define SLEEP_SLICE_MS     50
#define SUMMARY_EVERY_MS   (60 * 1000)
#define HEALTH_GRACE_MS    (5 * 60 * 1000)   /* failing longer than this: /health says degraded */
#define ONCE_RETRIES       3                 /* msfwd once: transient poll failures retried */
#define ONCE_RETRY_WAIT_MS (10 * 1000)       /* ... each after at most this long */
#define SPOOL_TEXT_MAX     ((size_t)1 << 30) /* one batch serialized for the spool */
#define SPOOL_TEXT_KEEP    ((size_t)8 << 20) /* ... memory kept for the next batch */

/* Counters are written by one thread and read by the metrics thread. */
#define COUNTER_ADD(field, n) __atomic_add_fetch(&(field), (n), __ATOMIC_RELAXED)
#define COUNTER_GET(field)    __atomic_load_n(&(field), __ATOMIC_RELAXED)

struct service_conf {
    char *metrics;
    char *state_dir;
    char *log_level;
    char *mappings_dir;
    int64_t spool_max;
    int64_t spool_segment;
    bool spool_fsync;
    int64_t drain_timeout_ms;
};

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};

static const struct ms_config_map service_map[] = {
    {.name = "metrics",
     .type = MS_CFG_STR,
     .def = "",
     .offset = offsetof(struct service_conf, metrics),
     .desc = "host:port for /metrics (Prometheus) and /health; empty = off"},
    {.name = "state_dir",
     .type = MS_CFG_STR,
     .def = MS_STATE_DIR,
     .offset = offsetof(struct service_conf, state_dir),
     .desc = "directory for cursors, the spool and dead letters"},
    {.name = "log_level",
     .type = MS_CFG_STR,
     .def = "info",
     .choices = log_levels,
     .offset = offsetof(struct service_conf, log_level),
     .desc = "error | warn | info | debug"},
    {.name = "mappings_dir",
     .type = MS_CFG_STR,
     .def = MS_MAPPINGS_DIR,
     .offset = offsetof(struct service_conf, mappings_dir),
     .desc = "directory holding <source type>.json mapping files"},
    {.name = "spool_max",
     .type = MS_CFG_SIZE,
     .def = "1G",
     .min = 1024 * 1024,
     .max = INT64_MAX,
     .offset = offsetof(struct service_conf, spool_max),
     .desc = "disk bound of the spool; inputs pause past it (backpressure)"},
    {.name = "spool_segment",
     .type = MS_CFG_SIZE,
     .def = "16M",
     .min = 64 * 1024,
     .max = 1024LL * 1024 * 1024,
     .offset = offsetof(struct service_conf, spool_segment),
     .desc = "size at which the spool starts a new segment file"},
    {.name = "spool_fsync",
     .type = MS_CFG_BOOL,
     .def = "true",
     .offset = offsetof(struct service_conf, spool_fsync),
     .desc = "fsync the spool after every batch (false trades crash safety for speed)"},
    {.name = "drain_timeout",
     .type = MS_CFG_TIME,
     .def = "60s",
     .min = 1000,
     .max = 24LL * 3600 * 1000,
     .offset = offsetof(struct service_conf, drain_timeout_ms),
     .desc = "msfwd once: how long outputs may take to deliver before giving up"},
    {0},
};

struct input_common {
    char *type;
    int64_t interval_ms;
    int64_t batch_max;
};

static const struct ms_config_map input_common_map[] = {
    {.name = "type",
     .type = MS_CFG_STR,
     .flags = MS_CFG_REQUIRED,
     .offset = offsetof(struct input_common, type),
     .desc = "input plugin"},
    {.name = "interval",
     .type = MS_CFG_TIME,
     .def = "60s",
     .min = 1000,
     .max = 7LL * 86400 * 1000,
     .offset = offsetof(struct input_common, interval_ms),
     .desc = "time between polls once the input has caught up"},
    {.name = "batch_max",
     .type = MS_CFG_INT,
     .def = "500",
     .min = 1,
     .max = 10000,
     .offset = offsetof(struct input_common, batch_max),
     .desc = "records per batch handed to the mapping stage and the spool"},
    {0},
};

struct output_common {
    char *type;
    struct ms_strlist sources;
    bool include_raw;
    int64_t batch_max;
    int64_t batch_bytes;
    int64_t retry_min_ms;
    int64_t retry_max_ms;
};

static const struct ms_config_map output_common_map[] = {
    {.name = "type",
     .type = MS_CFG_STR,
     .flags = MS_CFG_REQUIRED,
     .offset = offsetof(struct output_common, type),
     .desc = "output plugin"},
    {.name = "sources",
     .type = MS_CFG_STRLIST,
     .def = "*",
     .offset = offsetof(struct output_common, sources),
     .desc = "globs on source_type: which events this output takes"},
    {.name = "include_raw",
     .type = MS_CFG_BOOL,
     .def = "true",
     .offset = offsetof(struct output_common, include_raw),
     .desc = "ship the vendor record under \"raw\""},
    {.name = "batch_max",
     .type = MS_CFG_INT,
     .def = "500",
     .min = 1,
     .max = 100000,
     .offset = offsetof(struct output_common, batch_max),
     .desc = "events per delivery"},
    {.name = "batch_bytes",
     .type = MS_CFG_SIZE,
     .def = "1M",
     .min = 1024,
     .max = 256LL * 1024 * 1024,
     .offset = offsetof(struct output_common, batch_bytes),
     .desc = "bytes of events per delivery (before compression)"},
    {.name = "retry_min",
     .type = MS_CFG_TIME,
     .def = "1s",
     .min = 10,
     .max = 3600LL * 1000,
     .offset = offsetof(struct output_common, retry_min_ms),
     .desc = "first retry delay after a failed delivery"},
    {.name = "retry_max",
     .type = MS_CFG_TIME,
     .def = "5m",
     .min = 100,
     .max = 24LL * 3600 * 1000,
     .offset = offsetof(struct output_common, retry_max_ms),
     .desc = "longest retry delay (backoff doubles up to this, with jitter)"},
    {0},
};

struct input_stats {
    uint64_t polls;
    uint64_t records;
    uint64_t kept;
    uint64_t dropped;
    uint64_t duplicates;
    uint64_t rejected;
    uint64_t errors;
};

struct input_inst {
    struct ms_instance ins;
    const struct ms_input_plugin *plugin; /* NULL when the type was unknown */
    struct input_common common;
    bool inited;
    int64_t next_poll_ms;
    unsigned failures;
    int64_t failing_since_ms; /* atomic; 0 = last poll succeeded */
    int last_error;           /* atomic; ms_rc of the last failed poll */
    bool once_done;
    bool once_failed;
    struct input_stats stats;
    struct input_stats reported;
};

struct output_inst {
    struct ms_instance ins;
    const struct ms_output_plugin *plugin;
    struct output_common common;
    bool inited;
    struct ms_engine *eng;
    struct ms_spool_reader *reader;
    pthread_t thread;
    bool thread_started;
    /* Written by the output thread, read by the main thread under eng->lock. */
    bool caught_up;
    /* Written by the output thread, read by the metrics thread (atomics). */
    uint64_t delivered;
    uint64_t failed_attempts;
    int64_t failing_since_ms; /* 0 = last delivery succeeded */
    int last_error;
};

struct ms_engine {
    struct ms_config *cfg;
    enum ms_engine_mode mode;
    struct service_conf svc;
    struct ms_runtime rt;
    struct input_inst *inputs;
    size_t n_inputs;
    struct output_inst *outputs;
    size_t n_outputs;
    struct ms_mapping_set *maps;
    struct ms_spool *spool;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool draining; /* once mode: inputs are done; outputs report when caught up */
    struct ms_metrics_server *metrics;
    struct ms_idwindow *recent; /* ids spooled last: a page fetched again is not spooled twice */
    /* Input thread's reused buffers (map_batch, spool_batch): sized for the largest batch. */
    struct ms_buf spool_text; /* the batch's events serialized back to back */
    size_t *spool_offs;       /* event i: spool_text.data + spool_offs[i], spool_lens[i] bytes */
    size_t *spool_lens;
    const char **spool_data;
    bool *keep;
};

/* ------------------------------------------------------------------------------------------ */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps up to ms, returning early when stop is set. */
static void sleep_interruptible(const struct ms_runtime *rt, int64_t ms)
{
    while (ms > 0 && !*rt->stop) {
        int64_t slice = ms < SLEEP_SLICE_MS ? ms : SLEEP_SLICE_MS;
        struct timespec ts = {slice / 1000, (slice % 1000) * 1000000};

        nanosleep(&ts, NULL);
        ms -= slice;
    }
}

void ms_instance_config_error(const struct ms_instance *ins,
                              struct ms_cfg_errors *errs,
                              const char *key,
                              const char *fmt,
                              ...)
{
    const char *path = ins->cfg ? ins->cfg->path : "(config)";
    struct ms_buf buf;
    int line = ins->sec ? ins->sec->line : 0;
    size_t i;
    va_list ap;

    for (i = 0; ins->sec && i < ins->sec->n_entries; i++) {
        if (strcmp(ins->sec->entries[i].key, key) == 0) {
            line = ins->sec->entries[i].line;
        }
    }
    ms_buf_init(&buf, 4096);
    va_start(ap, fmt);
    if (ms_buf_vprintf(&buf, fmt, ap) == MS_OK) {
        ms_cfg_errors_add(errs, "%s:%d: [%s.%s] %s: %s", path, line, ins->kind, ins->name, key,
                          ms_buf_cstr(&buf));
    }
    va_end(ap);
    ms_buf_free(&buf);
}

static void instance_setup(struct ms_instance *ins,
                           struct ms_engine *eng,
                           const char *kind,
                           struct ms_config_section *sec)
{
    ins->kind = kind;
    ins->plugin_name = "?";
    snprintf(ins->name, sizeof(ins->name), "%s", sec->inst);
    ins->log_level = -1;
    ins->rt = &eng->rt;
    ins->cfg = eng->cfg;
    ins->sec = sec;
}

/* Applies the common map and the plugin's map, then init. Refusals into errs. */
static int input_build(struct ms_engine *eng,
                       struct input_inst *in,
                       struct ms_config_section *sec,
                       struct ms_cfg_errors *errs)
{
    const struct ms_config_map *maps[2];
    void *ctxs[2];
    const char *type = ms_config_peek(sec, "type");
    size_t i;
    int ret;

    instance_setup(&in->ins, eng, "input", sec);
    if (type) {
        in->plugin = ms_registry_input(type);
    }
    maps[0] = input_common_map;
    ctxs[0] = &in->common;
    if (type && !in->plugin) {
        struct ms_buf names;

        ms_buf_init(&names, 1024);
        for (i = 0; ms_input_plugins[i]; i++) {
            ms_buf_printf(&names, "%s%s", i ? ", " : "", ms_input_plugins[i]->name);
        }
        ms_instance_config_error(&in->ins, errs, "type", "unknown input type '%s' (known: %s)",
                                 type, ms_buf_cstr(&names));
        ms_buf_free(&names);
        return MS_EINVAL;
    }
    if (!in->plugin) {
        return ms_config_apply(eng->cfg, sec, maps, ctxs, 1, errs);
    }
    in->ins.plugin_name = in->plugin->name;
    in->ins.ctx = calloc(1, in->plugin->ctx_size ? in->plugin->ctx_size : 1);
    if (!in->ins.ctx) {
        return MS_ENOMEM;
    }
    maps[1] = in->plugin->config_map;
    ctxs[1] = in->ins.ctx;
    ret = ms_config_apply(eng->cfg, sec, maps, ctxs, 2, errs);
    if (ret != MS_OK) {
        return ret;
    }
    ret = in->plugin->init(&in->ins, errs);
    in->inited = true; /* destroy runs even after a failed init */
    return ret;
}

static int output_build(struct ms_engine *eng,
                        struct output_inst *out,
                        struct ms_config_section *sec,
                        struct ms_cfg_errors *errs)
{
    const struct ms_config_map *maps[2];
    void *ctxs[2];
    const char *type = ms_config_peek(sec, "type");
    size_t i;
    int ret;

    instance_setup(&out->ins, eng, "output", sec);
    out->eng = eng;
    if (type) {
        out->plugin = ms_registry_output(type);
    }
    maps[0] = output_common_map;
    ctxs[0] = &out->common;
    if (type && !out->plugin) {
        struct ms_buf names;

        ms_buf_init(&names, 1024);
        for (i = 0; ms_output_plugins[i]; i++) {
            ms_buf_printf(&names, "%s%s", i ? ", " : "", ms_output_plugins[i]->name);
        }
        ms_instance_config_error(&out->ins, errs, "type", "unknown output type '%s' (known: %s)",
                                 type, ms_buf_cstr(&names));
        ms_buf_free(&names);
        return MS_EINVAL;
    }
    if (!out->plugin) {
        return ms_config_apply(eng->cfg, sec, maps, ctxs, 1, errs);
    }
    out->ins.plugin_name = out->plugin->name;
    out->ins.ctx = calloc(1, out->plugin->ctx_size ? out->plugin->ctx_size : 1);
    if (!out->ins.ctx) {
        return MS_ENOMEM;
    }
    maps[1] = out->plugin->config_map;
    ctxs[1] = out->ins.ctx;
    ret = ms_config_apply(eng->cfg, sec, maps, ctxs, 2, errs);
    if (ret != MS_OK) {
        return ret;
    }
    out->ins.include_raw = out->common.include_raw;
    ret = out->plugin->init(&out->ins, errs);
    out->inited = true;
    return ret;
}

int ms_engine_create(struct ms_config *cfg,
                     enum ms_engine_mode mode,
                     volatile sig_atomic_t *stop,
                     struct ms_engine **out,
                     struct ms_cfg_errors *errs)
{
    const struct ms_config_map *maps[1] = {service_map};
    struct ms_config_section *svc_sec;
    struct ms_engine *eng;
    enum ms_log_level lvl;
    void *ctxs[1];
    size_t i;
    size_t n_in = 0;
    size_t n_out = 0;
    int ret = MS_OK;

    *out = NULL;
    eng = calloc(1, sizeof(*eng));
    if (!eng) {
        ms_config_destroy(cfg);
        return MS_ENOMEM;
    }
    pthread_mutex_init(&eng->lock, NULL);
    pthread_cond_init(&eng->cond, NULL);
    eng->cfg = cfg;
    eng->mode = mode;
    eng->rt.stop = stop;
    eng->rt.once = mode == MS_MODE_ONCE;

    svc_sec = ms_config_find(cfg, "service", NULL);
    ctxs[0] = &eng->svc;
    if (ms_config_apply(cfg, svc_sec, maps, ctxs, 1, errs) != MS_OK) {
        ret = MS_EINVAL;
    }
    if (eng->svc.metrics && eng->svc.metrics[0] &&
        ms_metrics_addr_valid(eng->svc.metrics) != MS_OK) {
        const char *v = ms_config_peek(svc_sec, "metrics");
        int line = svc_sec ? svc_sec->line : 0;

        for (i = 0; svc_sec && i < svc_sec->n_entries; i++) {
            if (strcmp(svc_sec->entries[i].key, "metrics") == 0) {
                line = svc_sec->entries[i].line;
            }
        }
        ms_cfg_errors_add(errs,
                          "%s:%d: [service] metrics: '%s' is not host:port (e.g. "
                          "127.0.0.1:9810)",
                          cfg->path, line, v ? v : "");
        ret = MS_EINVAL;
    }
    if (eng->svc.log_level && ms_log_level_parse(eng->svc.log_level, &lvl) == MS_OK) {
        ms_log_set_level(lvl);
    }
    eng->rt.state_dir = eng->svc.state_dir;
    eng->rt.mappings_dir = eng->svc.mappings_dir;

    for (i = 0; i < cfg->n_sections; i++) {
        n_in += strcmp(cfg->sections[i].kind, "input") == 0;
        n_out += strcmp(cfg->sections[i].kind, "output") == 0;
    }
    if (n_in == 0) {
        ms_cfg_errors_add(errs, "%s: no [input.NAME] section: nothing to collect", cfg->path);
        ret = MS_EINVAL;
    }
    if (n_out == 0) {
        ms_cfg_errors_add(errs, "%s: no [output.NAME] section: nowhere to deliver", cfg->path);
        ret = MS_EINVAL;
    }
    eng->inputs = calloc(n_in ? n_in : 1, sizeof(*eng->inputs));
    eng->outputs = calloc(n_out ? n_out : 1, sizeof(*eng->outputs));
    if (!eng->inputs || !eng->outputs) {
        ret = MS_ENOMEM;
        goto out;
    }
    for (i = 0; i < cfg->n_sections; i++) {
        struct ms_config_section *sec = &cfg->sections[i];
        int rc = MS_OK;

        if (strcmp(sec->kind, "input") == 0) {
            rc = input_build(eng, &eng->inputs[eng->n_inputs++], sec, errs);
        }
        else if (strcmp(sec->kind, "output") == 0) {
            rc = output_build(eng, &eng->outputs[eng->n_outputs++], sec, errs);
        }
        if (rc == MS_ENOMEM) {
            ret = MS_ENOMEM;
            goto out;
        }
        if (rc != MS_OK) {
            ret = MS_EINVAL;
        }
    }
    if (eng->svc.mappings_dir &&
        ms_mapping_set_load(eng->svc.mappings_dir, &eng->maps, errs) != MS_OK) {
        ret = MS_EINVAL;
    }
out:
    if (ret != MS_OK) {
        ms_engine_destroy(eng);
        return ret;
    }
    *out = eng;
    return MS_OK;
}

void ms_engine_dump(const struct ms_engine *eng, FILE *out)
{
    size_t i;

    fprintf(out, "[service]\n");
    ms_config_map_dump(service_map, &eng->svc, out);
    for (i = 0; i < eng->n_inputs; i++) {
        const struct input_inst *in = &eng->inputs[i];

        fprintf(out, "\n[input.%s]\n", in->ins.name);
        ms_config_map_dump(input_common_map, &in->common, out);
        ms_config_map_dump(in->plugin->config_map, in->ins.ctx, out);
    }
    for (i = 0; i < eng->n_outputs; i++) {
        const struct output_inst *o = &eng->outputs[i];

        fprintf(out, "\n[output.%s]\n", o->ins.name);
        ms_config_map_dump(output_common_map, &o->common, out);
        ms_config_map_dump(o->plugin->config_map, o->ins.ctx, out);
    }
}

void ms_engine_destroy(struct ms_engine *eng)
{
    size_t i;

    if (!eng) {
        return;
    }
    for (i = 0; i < eng->n_outputs; i++) {
        struct output_inst *o = &eng->outputs[i];

        if (o->plugin && o->inited) {
            o->plugin->destroy(&o->ins);
        }
        if (o->plugin && o->ins.ctx) {
            ms_config_map_free(o->plugin->config_map, o->ins.ctx);
        }
        free(o->ins.ctx);
        ms_config_map_free(output_common_map, &o->common);
        ms_spool_reader_close(o->reader);
    }
    for (i = 0; i < eng->n_inputs; i++) {
        struct input_inst *in = &eng->inputs[i];

        if (in->plugin && in->inited) {
            in->plugin->destroy(&in->ins);
        }
        if (in->plugin && in->ins.ctx) {
            ms_config_map_free(in->plugin->config_map, in->ins.ctx);
        }
        free(in->ins.ctx);
        ms_config_map_free(input_common_map, &in->common);
    }
    free(eng->inputs);
    free(eng->outputs);
    ms_spool_close(eng->spool);
    ms_mapping_set_destroy(eng->maps);
    ms_config_map_free(service_map, &eng->svc);
    ms_config_destroy(eng->cfg);
    pthread_cond_destroy(&eng->cond);
    pthread_mutex_destroy(&eng->lock);
    free(eng);
}

/* ------------------------------------------------------------------------------------------
 * Input side
 */

/*
 * Maps the batch in place. The events are never built as objects: each kept event's JSON text
 * goes straight into eng->spool_text (ms_mapping_apply_text), its place into spool_offs and
 * spool_lens, in batch order after compaction; kept events get their id; drops, duplicates and
 * rejects are removed. Returns MS_OK, or MS_ENOMEM when the text buffer was lost (then nothing
 * of this batch may be spooled).
 */
static int map_batch(struct ms_engine *eng, struct input_inst *in, struct ms_batch *b)
{
    struct ms_buf *text = &eng->spool_text;
    bool *keep = eng->keep;
    size_t kept = 0;
    size_t i;

    ms_buf_reset(text);
    memset(keep, 0, b->n * sizeof(*keep));
    for (i = 0; i < b->n; i++) {
        struct ms_event *ev = &b->events[i];
        const char *reason = NULL;
        size_t mark = text->len;
        int rc;

        rc = ms_mapping_apply_text(eng->maps, ev->source_type, ev->raw, text, ev->id, &reason);
        if (rc != MS_OK) {
            if (!text->data && kept > 0) {
                ms_log_error(&in->ins, "batch of %zu records too large to spool (%s)", b->n,
                             ms_strerror(rc));
                return MS_ENOMEM;
            }
            COUNTER_ADD(in->stats.rejected, 1);
            ms_log_warn(&in->ins, "record %zu of this batch (%s) rejected by mapping: %s", i,
                        ev->source_type, reason ? reason : ms_strerror(rc));
            continue;
        }
        if (text->len == mark) {
            COUNTER_ADD(in->stats.dropped, 1);
            ms_log_debug(&in->ins, "record %zu (%s) dropped: %s", i, ev->source_type,
                         reason ? reason : "mapping dropped it");
            continue;
        }
        if (eng->recent && ev->id[0] && ms_idwindow_contains(eng->recent, ev->id)) {
            COUNTER_ADD(in->stats.duplicates, 1);
            ms_log_debug(&in->ins, "record %zu (%s) dropped: event %s was spooled already", i,
                         ev->source_type, ev->id);
            ms_buf_truncate(text, mark);
            continue;
        }
        eng->spool_offs[kept] = mark;
        eng->spool_lens[kept] = text->len - mark;
        kept++;
        keep[i] = true;
    }
    ms_batch_compact(b, keep);
    return MS_OK;
}

/* Appends the batch's texts (written by map_batch) to the spool. */
static int spool_batch(struct ms_engine *eng, struct ms_batch *b)
{
    struct ms_buf *text = &eng->spool_text;
    size_t i;
    int ret;

    if (b->n == 0) {
        return MS_OK;
    }
    for (i = 0; i < b->n; i++) {
        eng->spool_data[i] = text->data + eng->spool_offs[i];
    }
    ret = ms_spool_append(eng->spool, eng->spool_data, eng->spool_lens, b->n);
    if (text->cap > SPOOL_TEXT_KEEP) {
        ms_buf_free(text); /* do not keep a huge batch's memory around */
    }
    return ret;
}

/*
 * One collect -> map -> spool -> commit step. Returns MS_OK, or the failure (already logged)
 * after scheduling the retry.
 */
static int poll_input(struct ms_engine *eng, struct input_inst *in, struct ms_batch *b, bool *more)
{
    uint64_t rng = ms_rand_seed();
    size_t collected;
    size_t i;
    int ret;

    ms_batch_reset(b);
    *more = false;
    COUNTER_ADD(in->stats.polls, 1);
    ret = in->plugin->collect(&in->ins, b, more);
    COUNTER_ADD(in->stats.rejected, b->rejected);
    if (ret != MS_OK) {
        int64_t delay = ret == MS_EAUTH ? ms_backoff_ms(in->failures, 60000, 900000, &rng)
                                        : ms_backoff_ms(in->failures, 5000, 300000, &rng);

        in->failures++;
        COUNTER_ADD(in->stats.errors, 1);
        __atomic_store_n(&in->last_error, ret, __ATOMIC_RELAXED);
        if (!COUNTER_GET(in->failing_since_ms)) {
            __atomic_store_n(&in->failing_since_ms, now_ms(), __ATOMIC_RELAXED);
        }
        in->plugin->rollback(&in->ins);
        in->next_poll_ms = now_ms() + delay;
        /* The plugin logged the cause where it knew it; this line adds when the next try is. */
        ms_log_warn(&in->ins, "poll failed (%s); next try in %lld ms", ms_strerror(ret),
                    (long long)delay);
        return ret;
    }
    collected = b->n;
    COUNTER_ADD(in->stats.records, collected);
    ret = map_batch(eng, in, b);
    if (ret == MS_OK) {
        ret = spool_batch(eng, b);
    }
    if (ret != MS_OK) {
        /* The vendor keeps the data: forget the pending position and ask again later. */
        in->plugin->rollback(&in->ins);
        in->next_poll_ms = now_ms() + (ret == MS_ETOOBIG ? 1000 : 5000);
        if (ret == MS_ETOOBIG) {
            ms_log_info(&in->ins, "spool full: pausing until outputs drain");
        }
        *more = false;
        return ret;
    }
    COUNTER_ADD(in->stats.kept, b->n);
    for (i = 0; eng->recent && i < b->n; i++) {
        ms_idwindow_add(eng->recent, b->events[i].id);
    }
    ret = in->plugin->commit(&in->ins);
    if (ret != MS_OK) {
        /* Events are spooled; only the cursor is stale, so a restart re-reads (duplicates). */
        ms_log_error(&in->ins,
                     "cursor not saved (%s): events after the last saved cursor will "
                     "be collected again after a restart",
                     ms_strerror(ret));
    }
    in->failures = 0;
    __atomic_store_n(&in->failing_since_ms, 0, __ATOMIC_RELAXED);
    ms_log_debug(&in->ins, "batch: %zu records, %zu kept, more=%d", collected, b->n, *more);
    return MS_OK;
}

static void log_summaries(struct ms_engine *eng)
{
    size_t i;

    for (i = 0; i < eng->n_inputs; i++) {
        struct input_inst *in = &eng->inputs[i];
        struct input_stats *s = &in->stats;
        struct input_stats *r = &in->reported;

        if (s->records == r->records && s->errors == r->errors) {
            continue;
        }
        ms_log_info(&in->ins,
                    "%" PRIu64 " records: %" PRIu64 " spooled, %" PRIu64 " dropped, %" PRIu64
                    " already spooled, %" PRIu64 " rejected; %" PRIu64 " failed polls",
                    s->records - r->records, s->kept - r->kept, s->dropped - r->dropped,
                    s->duplicates - r->duplicates, s->rejected - r->rejected,
                    s->errors - r->errors);
        *r = *s;
    }
}

/* ------------------------------------------------------------------------------------------
 * Output side (one thread per output)
 */

static bool output_wants(const struct output_inst *o, const char *source_type)
{
    size_t i;

    for (i = 0; i < o->common.sources.n; i++) {
        if (fnmatch(o->common.sources.items[i], source_type, 0) == 0) {
            return true;
        }
    }
    return false;
}

/* keep has room for b->max flags (reused by the caller). */
static void output_route(const struct output_inst *o, struct ms_batch *b, bool *keep)
{
    size_t i;

    for (i = 0; i < b->n; i++) {
        keep[i] = output_wants(o, b->events[i].source_type);
    }
    ms_batch_compact(b, keep);
}

static void output_set_caught_up(struct output_inst *o, bool value)
{
    struct ms_engine *eng = o->eng;

    pthread_mutex_lock(&eng->lock);
    if (o->caught_up != value) {
        o->caught_up = value;
        pthread_cond_broadcast(&eng->cond);
    }
    pthread_mutex_unlock(&eng->lock);
}

/* Delivers one batch, retrying until it is acknowledged or stop. Returns MS_OK or MS_ERR. */
static int output_deliver(struct output_inst *o, struct ms_batch *b, uint64_t *rng)
{
    const struct ms_runtime *rt = &o->eng->rt;
    unsigned attempt = 0;
    int rc;

    for (;;) {
        int64_t delay;

        o->ins.retry_after_ms = 0;
        rc = o->plugin->flush(&o->ins, b);
        if (rc == MS_OK) {
            __atomic_store_n(&o->failing_since_ms, 0, __ATOMIC_RELAXED);
            if (attempt) {
                ms_log_info(&o->ins, "delivered after %u retries", attempt);
            }
            return MS_OK;
        }
        COUNTER_ADD(o->failed_attempts, 1);
        __atomic_store_n(&o->last_error, rc, __ATOMIC_RELAXED);
        if (!COUNTER_GET(o->failing_since_ms)) {
            __atomic_store_n(&o->failing_since_ms, now_ms(), __ATOMIC_RELAXED);
        }
        delay = ms_backoff_ms(attempt, o->common.retry_min_ms, o->common.retry_max_ms, rng);
        if (rc == MS_EAUTH || rc == MS_EPERM) {
            /* The receiver refuses us; the operator must act. Keep the data, retry slowly. */
            int64_t slow = o->common.retry_max_ms < 60000 ? o->common.retry_max_ms : 60000;

            if (delay < slow) {
                delay = slow;
            }
        }
        if (o->ins.retry_after_ms > delay) {
            delay = o->ins.retry_after_ms; /* the receiver asked (Retry-After) */
        }
        /* The plugin logged the cause; during a long outage say when the next try comes only
         * on attempts 1, 2, 4, 8, ... so the log does not fill with one line per retry. */
        if ((attempt & (attempt + 1)) == 0) {
            ms_log_warn(&o->ins, "delivery of %zu events failed (%s); retry %u in %lld ms", b->n,
                        ms_strerror(rc), attempt + 1, (long long)delay);
        }
        else {
            ms_log_debug(&o->ins, "delivery of %zu events failed (%s); retry %u in %lld ms", b->n,
                         ms_strerror(rc), attempt + 1, (long long)delay);
        }
        attempt++;
        sleep_interruptible(rt, delay);
        if (*rt->stop) {
            return MS_ERR;
        }
    }
}

static void *output_thread(void *arg)
{
    struct output_inst *o = arg;
    struct ms_engine *eng = o->eng;
    struct ms_batch b;
    uint64_t rng = ms_rand_seed();
    bool *keep = calloc((size_t)o->common.batch_max, sizeof(*keep));
    int rc;

    if (!keep || ms_batch_init(&b, (size_t)o->common.batch_max) != MS_OK) {
        ms_log_error(&o->ins, "out of memory for a batch of %lld events",
                     (long long)o->common.batch_max);
        free(keep);
        return NULL;
    }
    while (!*eng->rt.stop) {
        ms_batch_reset(&b);
        rc = ms_spool_read(o->reader, &b, (size_t)o->common.batch_bytes, 200);
        if (rc == MS_EOF) {
            bool draining;

            pthread_mutex_lock(&eng->lock);
            draining = eng->draining;
            pthread_mutex_unlock(&eng->lock);
            if (draining && ms_spool_reader_committed(o->reader) >= ms_spool_end(eng->spool)) {
                output_set_caught_up(o, true);
            }
            continue;
        }
        if (rc != MS_OK) {
            sleep_interruptible(&eng->rt, 1000);
            continue;
        }
        output_set_caught_up(o, false);
        output_route(o, &b, keep);
        if (b.n > 0 && output_deliver(o, &b, &rng) != MS_OK) {
            /* Stopped before the receiver acknowledged: the batch stays in the spool. */
            ms_spool_reader_rewind(o->reader);
            break;
        }
        COUNTER_ADD(o->delivered, b.n);
        if (ms_spool_reader_commit(o->reader) != MS_OK) {
            /* Delivered but the position is not saved: a restart re-sends this batch. */
            ms_log_error(&o->ins, "spool position not saved; %zu events may be sent again", b.n);
        }
    }
    ms_batch_free(&b);
    free(keep);
    return NULL;
}

/* ------------------------------------------------------------------------------------------
 * Metrics (/metrics, /health), rendered on the metrics thread from atomic counters
 */

static void metric_head(struct ms_buf *out, const char *name, const char *type, const char *help)
{
    ms_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_metrics(struct ms_engine *eng, struct ms_buf *out)
{
    static const struct {
        const char *name;
        const char *help;
        size_t offset;
    } in_counters[] = {
        {"msfwd_input_polls_total", "Polls of the vendor API.",
         offsetof(struct input_stats, polls)},
        {"msfwd_input_records_total", "Records collected from the vendor.",
         offsetof(struct input_stats, records)},
        {"msfwd_input_events_spooled_total", "Events durably written to the spool.",
         offsetof(struct input_stats, kept)},
        {"msfwd_input_records_dropped_total",
         "Records dropped by the mapping (e.g. clean verdicts).",
         offsetof(struct input_stats, dropped)},
        {"msfwd_input_duplicates_dropped_total",
         "Records not spooled because the same event was spooled already (re-fetched pages).",
         offsetof(struct input_stats, duplicates)},
        {"msfwd_input_records_rejected_total", "Malformed records rejected.",
         offsetof(struct input_stats, rejected)},
        {"msfwd_input_poll_errors_total", "Failed polls.", offsetof(struct input_stats, errors)},
    };
    uint64_t end = ms_spool_end(eng->spool);
    size_t i;
    size_t k;

    for (k = 0; k < sizeof(in_counters) / sizeof(in_counters[0]); k++) {
        metric_head(out, in_counters[k].name, "counter", in_counters[k].help);
        for (i = 0; i < eng->n_inputs; i++) {
            struct input_inst *in = &eng->inputs[i];
            uint64_t *v = (uint64_t *)((char *)&in->stats + in_counters[k].offset);

            ms_buf_printf(out, "%s{input=\"%s\",type=\"%s\"} %" PRIu64 "\n", in_counters[k].name,
                          in->ins.name, in->ins.plugin_name, COUNTER_GET(*v));
        }
    }
    metric_head(out, "msfwd_output_events_delivered_total", "counter",
                "Events acknowledged by the receiver.");
    for (i = 0; i < eng->n_outputs; i++) {
        ms_buf_printf(
            out, "msfwd_output_events_delivered_total{output=\"%s\",type=\"%s\"} %" PRIu64 "\n",
            eng->outputs[i].ins.name, eng->outputs[i].ins.plugin_name,
            COUNTER_GET(eng->outputs[i].delivered));
    }
    metric_head(out, "msfwd_output_delivery_failures_total", "counter",
                "Failed delivery attempts (each is retried).");
    for (i = 0; i < eng->n_outputs; i++) {
        ms_buf_printf(
            out, "msfwd_output_delivery_failures_total{output=\"%s\",type=\"%s\"} %" PRIu64 "\n",
            eng->outputs[i].ins.name, eng->outputs[i].ins.plugin_name,
            COUNTER_GET(eng->outputs[i].failed_attempts));
    }
    metric_head(out, "msfwd_output_lag_bytes", "gauge",
                "Spool bytes not yet acknowledged by this output.");
    for (i = 0; i < eng->n_outputs; i++) {
        ms_buf_printf(out, "msfwd_output_lag_bytes{output=\"%s\",type=\"%s\"} %" PRIu64 "\n",
                      eng->outputs[i].ins.name, eng->outputs[i].ins.plugin_name,
                      end - ms_spool_reader_committed(eng->outputs[i].reader));
    }
    metric_head(out, "msfwd_spool_bytes", "gauge", "Bytes in spool segment files.");
    ms_buf_printf(out, "msfwd_spool_bytes %" PRId64 "\n", ms_spool_used_bytes(eng->spool));
    metric_head(out, "msfwd_spool_max_bytes", "gauge", "spool_max: inputs pause past it.");
    ms_buf_printf(out, "msfwd_spool_max_bytes %" PRId64 "\n", eng->svc.spool_max);
}

/* Appends one instance's health entry; returns true when it counts as degraded. */
static bool health_entry(
    struct ms_buf *out, const struct ms_instance *ins, int64_t since, int last_error, bool first)
{
    int64_t failing_ms = since ? now_ms() - since : 0;

    ms_buf_printf(out, "%s{\"name\":\"%s\",\"type\":\"%s\",\"failing_for_s\":%lld",
                  first ? "" : ",", ins->name, ins->plugin_name, (long long)(failing_ms / 1000));
    if (since) {
        ms_buf_printf(out, ",\"last_error\":\"%s\"", ms_strerror(last_error));
    }
    ms_buf_putc(out, '}');
    return since && failing_ms > HEALTH_GRACE_MS;
}

static int render_health(struct ms_engine *eng, struct ms_buf *out)
{
    struct ms_buf body;
    bool degraded = false;
    size_t i;

    ms_buf_init(&body, 1024 * 1024);
    ms_buf_puts(&body, "\"inputs\":[");
    for (i = 0; i < eng->n_inputs; i++) {
        struct input_inst *in = &eng->inputs[i];

        degraded |= health_entry(&body, &in->ins, COUNTER_GET(in->failing_since_ms),
                                 COUNTER_GET(in->last_error), i == 0);
    }
    ms_buf_puts(&body, "],\"outputs\":[");
    for (i = 0; i < eng->n_outputs; i++) {
        struct output_inst *o = &eng->outputs[i];

        degraded |= health_entry(&body, &o->ins, COUNTER_GET(o->failing_since_ms),
                                 COUNTER_GET(o->last_error), i == 0);
    }
    ms_buf_puts(&body, "]");
    ms_buf_printf(out, "{\"status\":\"%s\",%s,\"spool_full\":%s}\n", degraded ? "degraded" : "ok",
                  ms_buf_cstr(&body), ms_spool_full(eng->spool) ? "true" : "false");
    ms_buf_free(&body);
    return degraded ? 503 : 200;
}

static int metrics_render(void *arg, const char *path, struct ms_buf *out)
{
    struct ms_engine *eng = arg;

    if (strcmp(path, "/metrics") == 0) {
        render_metrics(eng, out);
        return 200;
    }
    if (strcmp(path, "/health") == 0) {
        return render_health(eng, out);
    }
    ms_buf_puts(out, "{\"error\":\"try /metrics or /health\"}\n");
    return 404;
}

/* ------------------------------------------------------------------------------------------
 * Running
 */

/* ms_spool_tail callback: remembers the id of one spooled event. */
static void remember_spooled(void *arg, const char *data, size_t len)
{
    struct ms_engine *eng = arg;
    struct json_object *obj = json_tokener_parse(data);
    struct json_object *id;

    (void)len;
    if (obj && json_object_object_get_ex(obj, "id", &id)) { /* borrowed */
        ms_idwindow_add(eng->recent, json_object_get_string(id));
    }
    json_object_put(obj);
}

static int engine_open(struct ms_engine *eng)
{
    struct ms_spool_opts opts;
    size_t window = 0;
    struct ms_spool_recovery rec;
    char dir[PATH_MAX];
    size_t i;

    if (ms_mkdir_p(eng->svc.state_dir) != MS_OK) {
        ms_log_error(NULL, "cannot create state_dir %s: %s", eng->svc.state_dir, strerror(errno));
        return MS_EIO;
    }
    snprintf(dir, sizeof(dir), "%s/spool", eng->svc.state_dir);
    opts.max_bytes = eng->svc.spool_max;
    opts.segment_bytes = eng->svc.spool_segment;
    opts.fsync = eng->svc.spool_fsync;
    eng->spool = ms_spool_open(dir, &opts, &rec);
    if (!eng->spool) {
        return MS_EIO;
    }
    if (rec.bytes_cut) {
        ms_log_error(NULL, "spool recovery cut %" PRIu64 " bytes in %u segment(s)", rec.bytes_cut,
                     rec.segments_cut);
    }
    for (i = 0; i < eng->n_inputs; i++) {
        window += (size_t)eng->inputs[i].common.batch_max * 2;
    }
    window = window < 1000 ? 1000 : window > 200000 ? 200000 : window;
    eng->recent = ms_idwindow_create(window);
    if (!eng->recent || ms_spool_tail(eng->spool, window, remember_spooled, eng) != MS_OK) {
        ms_log_error(NULL, "cannot read the spool's tail (%s)", strerror(errno));
        return MS_EIO;
    }
    for (i = 0; i < eng->n_outputs; i++) {
        struct output_inst *o = &eng->outputs[i];

        o->reader = ms_spool_reader_open(eng->spool, o->ins.name);
        if (!o->reader) {
            ms_log_error(&o->ins, "cannot open its spool reader");
            return MS_EIO;
        }
        ms_spool_reader_set_view(o->reader, o->ins.event_view);
    }
    return MS_OK;
}

/* Undoes engine_open so that the engine can run again (after a refused reload). */
static void engine_close(struct ms_engine *eng)
{
    size_t i;

    for (i = 0; i < eng->n_outputs; i++) {
        ms_spool_reader_close(eng->outputs[i].reader);
        eng->outputs[i].reader = NULL;
        eng->outputs[i].caught_up = false;
    }
    ms_spool_close(eng->spool);
    eng->spool = NULL;
    ms_idwindow_destroy(eng->recent);
    eng->recent = NULL;
    eng->draining = false;
}

static int start_outputs(struct ms_engine *eng)
{
    size_t i;

    for (i = 0; i < eng->n_outputs; i++) {
        struct output_inst *o = &eng->outputs[i];

        if (pthread_create(&o->thread, NULL, output_thread, o) != 0) {
            ms_log_error(&o->ins, "cannot start its thread: %s", strerror(errno));
            return MS_ERR;
        }
        o->thread_started = true;
    }
    return MS_OK;
}

static void stop_outputs(struct ms_engine *eng)
{
    size_t i;

    *eng->rt.stop = 1;
    ms_spool_wake(eng->spool);
    for (i = 0; i < eng->n_outputs; i++) {
        if (eng->outputs[i].thread_started) {
            pthread_join(eng->outputs[i].thread, NULL);
            eng->outputs[i].thread_started = false;
        }
    }
}

/*
 * Backpressure: true when the spool is below spool_max, so inputs may poll. Logs when the inputs
 * pause and when they resume (once each, *paused keeps the state), so that an operator sees why
 * nothing is being collected.
 */
static bool spool_has_room(struct ms_engine *eng, bool *paused)
{
    bool full = ms_spool_full(eng->spool);

    if (full && !*paused) {
        ms_log_warn(NULL,
                    "spool full (%" PRId64 " bytes, spool_max %" PRId64
                    "): inputs paused until the outputs deliver (the vendors keep the data)",
                    ms_spool_used_bytes(eng->spool), eng->svc.spool_max);
    }
    else if (!full && *paused) {
        ms_log_info(NULL, "spool has room again: inputs resume");
    }
    *paused = full;
    return !full;
}

static int run_inputs_loop(struct ms_engine *eng, struct ms_batch *b)
{
    int64_t next_summary = now_ms() + SUMMARY_EVERY_MS;
    size_t i;
    bool more;
    bool paused = false;

    while (!*eng->rt.stop) {
        int64_t now = now_ms();
        int64_t wake = now + 1000;

        for (i = 0; i < eng->n_inputs && !*eng->rt.stop; i++) {
            struct input_inst *in = &eng->inputs[i];

            if (in->next_poll_ms > now) {
                if (in->next_poll_ms < wake) {
                    wake = in->next_poll_ms;
                }
                continue;
            }
            if (!spool_has_room(eng, &paused)) {
                wake = now + 500; /* backpressure: the vendor keeps the data */
                break;
            }
            if (poll_input(eng, in, b, &more) == MS_OK) {
                in->next_poll_ms = more ? now : now_ms() + in->common.interval_ms;
            }
            if (in->next_poll_ms < wake) {
                wake = in->next_poll_ms;
            }
        }
        if (now_ms() >= next_summary) {
            log_summaries(eng);
            next_summary = now_ms() + SUMMARY_EVERY_MS;
        }
        sleep_interruptible(&eng->rt, wake - now_ms());
    }
    log_summaries(eng);
    return MS_OK;
}

/*
 * Once: poll each input until it has nothing more. A transient failure is retried a few times
 * (bounded, for cron users: one 503 should not fail the run); anything else fails the input.
 * Returns MS_OK or MS_ERR.
 */
static int run_inputs_once(struct ms_engine *eng, struct ms_batch *b)
{
    int ret = MS_OK;
    size_t i;
    bool more;
    bool paused = false;

    for (i = 0; i < eng->n_inputs && !*eng->rt.stop; i++) {
        struct input_inst *in = &eng->inputs[i];
        unsigned retries = 0;

        do {
            int rc;

            while (!spool_has_room(eng, &paused) && !*eng->rt.stop) {
                sleep_interruptible(&eng->rt, 200);
            }
            rc = poll_input(eng, in, b, &more);
            if (rc == MS_ETOOBIG) {
                more = true; /* spool filled meanwhile: wait for outputs, then ask again */
                continue;
            }
            if (rc == MS_ERETRY && retries < ONCE_RETRIES) {
                int64_t wait = in->next_poll_ms - now_ms();

                retries++;
                sleep_interruptible(&eng->rt,
                                    wait < ONCE_RETRY_WAIT_MS ? wait : ONCE_RETRY_WAIT_MS);
                more = true;
                continue;
            }
            if (rc != MS_OK) {
                ms_log_error(&in->ins, "poll failed: %s%s", ms_strerror(rc),
                             retries ? " (after retries)" : "");
                ret = MS_ERR;
                break;
            }
            retries = 0;
        } while (more && !*eng->rt.stop);
    }
    log_summaries(eng);
    return ret;
}

static int drain_outputs(struct ms_engine *eng)
{
    struct timespec deadline;
    size_t i;
    bool all;
    int ret = MS_OK;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += eng->svc.drain_timeout_ms / 1000;
    pthread_mutex_lock(&eng->lock);
    eng->draining = true;
    for (;;) {
        all = true;
        for (i = 0; i < eng->n_outputs; i++) {
            all = all && eng->outputs[i].caught_up;
        }
        if (all || *eng->rt.stop) {
            break;
        }
        if (pthread_cond_timedwait(&eng->cond, &eng->lock, &deadline) == ETIMEDOUT) {
            break;
        }
    }
    pthread_mutex_unlock(&eng->lock);
    if (!all) {
        uint64_t end = ms_spool_end(eng->spool);

        for (i = 0; i < eng->n_outputs; i++) {
            struct output_inst *o = &eng->outputs[i];
            uint64_t at = ms_spool_reader_committed(o->reader);

            if (at < end) {
                ms_log_error(&o->ins,
                             "not everything delivered within drain_timeout (%" PRIu64
                             " spool bytes left); it stays spooled for the next run",
                             end - at);
            }
        }
        ret = MS_ERR;
    }
    return ret;
}

/* The input thread's reused arrays and text buffer, for batches of up to n events. */
static int input_buffers_init(struct ms_engine *eng, size_t n)
{
    ms_buf_init(&eng->spool_text, SPOOL_TEXT_MAX);
    eng->spool_offs = calloc(n, sizeof(*eng->spool_offs));
    eng->spool_lens = calloc(n, sizeof(*eng->spool_lens));
    eng->spool_data = calloc(n, sizeof(*eng->spool_data));
    eng->keep = calloc(n, sizeof(*eng->keep));
    if (!eng->spool_offs || !eng->spool_lens || !eng->spool_data || !eng->keep) {
        return MS_ENOMEM;
    }
    return MS_OK;
}

static void input_buffers_free(struct ms_engine *eng)
{
    ms_buf_free(&eng->spool_text);
    free(eng->spool_offs);
    free(eng->spool_lens);
    free(eng->spool_data);
    free(eng->keep);
    eng->spool_offs = NULL;
    eng->spool_lens = NULL;
    eng->spool_data = NULL;
    eng->keep = NULL;
}

int ms_engine_run(struct ms_engine *eng)
{
    struct ms_batch b;
    size_t i;
    int64_t max_batch = 1;
    int ret;
    int rc;

    ret = engine_open(eng);
    if (ret != MS_OK) {
        engine_close(eng);
        return MS_ERR;
    }
    for (i = 0; i < eng->n_inputs; i++) {
        if (eng->inputs[i].common.batch_max > max_batch) {
            max_batch = eng->inputs[i].common.batch_max;
        }
    }
    if (input_buffers_init(eng, (size_t)max_batch) != MS_OK ||
        ms_batch_init(&b, (size_t)max_batch) != MS_OK) {
        input_buffers_free(eng);
        engine_close(eng);
        return MS_ERR;
    }
    ret = start_outputs(eng);
    if (ret == MS_OK && eng->svc.metrics[0]) {
        eng->metrics = ms_metrics_start(eng->svc.metrics, metrics_render, eng);
        if (!eng->metrics) {
            ret = MS_ERR;
        }
    }
    if (ret == MS_OK) {
        ms_log_info(NULL, "started: %zu inputs, %zu outputs, state in %s", eng->n_inputs,
                    eng->n_outputs, eng->svc.state_dir);
        if (eng->mode == MS_MODE_ONCE) {
            ret = run_inputs_once(eng, &b);
            rc = drain_outputs(eng);
            if (rc != MS_OK) {
                ret = rc;
            }
        }
        else {
            ret = run_inputs_loop(eng, &b);
        }
    }
    ms_metrics_stop(eng->metrics);
    eng->metrics = NULL;
    stop_outputs(eng);
    for (i = 0; i < eng->n_outputs; i++) {
        ms_log_info(&eng->outputs[i].ins, "%" PRIu64 " events delivered",
                    eng->outputs[i].delivered);
    }
    ms_batch_free(&b);
    input_buffers_free(eng);
    engine_close(eng);
    return ret == MS_OK ? MS_OK : MS_ERR;
}

/* ------------------------------------------------------------------------------------------
 * msfwd test
 */

static bool name_selected(const char *name, char *const *names, size_t n_names, bool *used)
{
    size_t i;

    if (n_names == 0) {
        return true;
    }
    for (i = 0; i < n_names; i++) {
        if (strcmp(names[i], name) == 0) {
            used[i] = true;
            return true;
        }
    }
    return false;
}

static int
test_one(struct ms_instance *ins, int (*test)(struct ms_instance *, char *, size_t), FILE *out)
{
    char detail[512];
    int rc;

    if (!test) {
        fprintf(out, "SKIP %s %s (%s): no connection check for this plugin\n", ins->kind, ins->name,
                ins->plugin_name);
        return MS_OK;
    }
    detail[0] = '\0';
    rc = test(ins, detail, sizeof(detail));
    ms_log_scrub(detail);
    fprintf(out, "%s %s %s (%s): %s\n", rc == MS_OK ? "PASS" : "FAIL", ins->kind, ins->name,
            ins->plugin_name, detail[0] ? detail : ms_strerror(rc));
    return rc;
}

int ms_engine_test(struct ms_engine *eng, char *const *names, size_t n_names, FILE *out)
{
    bool *used = calloc(n_names ? n_names : 1, sizeof(*used));
    int ret = MS_OK;
    size_t i;

    if (!used) {
        return MS_ENOMEM;
    }
    for (i = 0; i < eng->n_inputs; i++) {
        struct input_inst *in = &eng->inputs[i];

        if (name_selected(in->ins.name, names, n_names, used) &&
            test_one(&in->ins, in->plugin->test, out) != MS_OK) {
            ret = MS_ERR;
        }
    }
    for (i = 0; i < eng->n_outputs; i++) {
        struct output_inst *o = &eng->outputs[i];

        if (name_selected(o->ins.name, names, n_names, used) &&
            test_one(&o->ins, o->plugin->test, out) != MS_OK) {
            ret = MS_ERR;
        }
    }
    for (i = 0; i < n_names; i++) {
        if (!used[i]) {
            fprintf(out, "FAIL %s: no input or output has this name\n", names[i]);
            ret = MS_EINVAL;
        }
    }
    free(used);
    return ret;
}
