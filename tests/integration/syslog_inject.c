/*
 * Test driver for tests/integration/syslog.sh: runs the real syslog output plugin (init, flush,
 * destroy) on normalized events read from a JSON-lines file, as the engine would after reading
 * them from the spool. Lets the integration test send mapped-looking hostile events before the
 * mapping engine produces them from vendor records.
 *
 *   syslog_inject CONFIG OUTPUT_NAME EVENTS.jsonl [BATCH [ATTEMPTS]]
 *
 * CONFIG holds [output.OUTPUT_NAME] with type = syslog, optional include_raw, and syslog keys.
 * Dead letters go to <directory of CONFIG>/deadletter/OUTPUT_NAME.jsonl. The SIEM profiles come
 * from $MS_SRCDIR/mappings, as msfwd reads them from its mappings_dir.
 * Exit: 0 every batch delivered, 1 a batch failed ATTEMPTS times, 78 configuration refused.
 */
#include <config.h>

#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ms_buf.h"
#include "core/ms_config.h"
#include "core/ms_err.h"
#include "core/ms_event.h"
#include "core/ms_log.h"
#include "core/ms_plugin.h"
#include "core/ms_registry.h"

struct common {
    char *type;
    bool include_raw;
};

static const struct ms_config_map common_map[] = {
    {.name = "type",
     .type = MS_CFG_STR,
     .flags = MS_CFG_REQUIRED,
     .offset = offsetof(struct common, type),
     .desc = "output plugin"},
    {.name = "include_raw",
     .type = MS_CFG_BOOL,
     .def = "true",
     .offset = offsetof(struct common, include_raw),
     .desc = "ship the vendor record"},
    {0},
};

static int deliver(const struct ms_output_plugin *p,
                   struct ms_instance *ins,
                   struct ms_batch *b,
                   long attempts)
{
    struct timespec pause = {0, 200 * 1000 * 1000};
    long i;

    for (i = 0; i < attempts; i++) {
        if (p->flush(ins, b) == MS_OK) {
            return MS_OK;
        }
        nanosleep(&pause, NULL);
    }
    return MS_ERR;
}

int main(int argc, char **argv)
{
    const struct ms_output_plugin *p = ms_registry_output("syslog");
    const struct ms_config_map *maps[2];
    struct ms_cfg_errors errs = {0};
    struct ms_config *cfg = NULL;
    struct ms_config_section *sec;
    struct ms_instance ins;
    struct ms_runtime rt;
    volatile sig_atomic_t stop = 0;
    char dir[4096];
    char mappings[4096];
    const char *src = getenv("MS_SRCDIR");
    struct common common = {0};
    struct ms_batch b = {0};
    struct ms_buf line;
    void *ctxs[2];
    long batch = argc > 4 ? strtol(argv[4], NULL, 10) : 100;
    long attempts = argc > 5 ? strtol(argv[5], NULL, 10) : 50;
    size_t sent = 0;
    FILE *f = NULL;
    bool inited = false;
    int ret = 78;
    int c;
    size_t i;

    if (argc < 4 || batch < 1 || attempts < 1) {
        fprintf(stderr, "usage: %s CONFIG OUTPUT_NAME EVENTS.jsonl [BATCH [ATTEMPTS]]\n", argv[0]);
        return 64;
    }
    signal(SIGPIPE, SIG_IGN); /* as msfwd's main does */
    memset(&ins, 0, sizeof(ins));
    ms_buf_init(&line, 8u * 1024 * 1024); /* room for hostile lines bigger than the spool's cap */
    snprintf(dir, sizeof(dir), "%s", argv[1]);
    memset(&rt, 0, sizeof(rt));
    rt.state_dir = dirname(dir);
    rt.stop = &stop;
    if (src) {
        snprintf(mappings, sizeof(mappings), "%s/mappings", src);
        rt.mappings_dir = mappings;
    }
    if (ms_config_load(argv[1], &cfg, &errs) != MS_OK) {
        goto out;
    }
    sec = ms_config_find(cfg, "output", argv[2]);
    if (!sec) {
        fprintf(stderr, "%s: no [output.%s]\n", argv[1], argv[2]);
        goto out;
    }
    ins.kind = "output";
    ins.plugin_name = p->name;
    snprintf(ins.name, sizeof(ins.name), "%s", argv[2]);
    ins.log_level = -1;
    ins.rt = &rt;
    ins.cfg = cfg;
    ins.sec = sec;
    ins.ctx = calloc(1, p->ctx_size);
    if (!ins.ctx) {
        goto out;
    }
    maps[0] = common_map;
    maps[1] = p->config_map;
    ctxs[0] = &common;
    ctxs[1] = ins.ctx;
    if (ms_config_apply(cfg, sec, maps, ctxs, 2, &errs) != MS_OK) {
        goto out;
    }
    ins.include_raw = common.include_raw;
    inited = true;
    if (p->init(&ins, &errs) != MS_OK) {
        goto out;
    }
    ret = 1;
    f = fopen(argv[3], "r");
    if (!f || ms_batch_init(&b, (size_t)batch) != MS_OK) {
        perror(argv[3]);
        goto out;
    }
    for (;;) {
        c = fgetc(f);
        if (c != EOF && c != '\n') {
            if (ms_buf_putc(&line, (char)c) != MS_OK) {
                fprintf(stderr, "line too long\n");
                goto out;
            }
            continue;
        }
        if (line.len > 0) {
            struct json_object *obj = json_tokener_parse(ms_buf_cstr(&line));
            size_t len = line.len;

            if (!obj) {
                fprintf(stderr, "not JSON: %s\n", ms_buf_cstr(&line));
                goto out;
            }
            ms_batch_add_spooled(&b, ms_buf_take(&line), len, obj);
        }
        ms_buf_reset(&line);
        if (b.n > 0 && (ms_batch_full(&b) || c == EOF)) {
            if (deliver(p, &ins, &b, attempts) != MS_OK) {
                fprintf(stderr, "batch of %zu events not delivered after %ld attempts\n", b.n,
                        attempts);
                goto out;
            }
            sent += b.n;
            ms_batch_reset(&b);
        }
        if (c == EOF) {
            break;
        }
    }
    printf("%zu events delivered\n", sent);
    ret = 0;
out:
    for (i = 0; i < errs.n; i++) {
        fprintf(stderr, "%s\n", errs.msgs[i]);
    }
    if (f) {
        fclose(f);
    }
    ms_batch_free(&b);
    if (inited) {
        p->destroy(&ins);
    }
    if (ins.ctx) {
        ms_config_map_free(p->config_map, ins.ctx);
    }
    free(ins.ctx);
    ms_config_map_free(common_map, &common);
    ms_config_destroy(cfg);
    ms_cfg_errors_free(&errs);
    ms_buf_free(&line);
    ms_log_clear_secrets();
    return ret;
}
