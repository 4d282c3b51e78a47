/*
 * Per-stage CPU cost of the pipeline, one thread, in process, on a JSON-lines file of vendor
 * records (bench/run.sh passes the one it generated). Prints microseconds per record or event and
 * records or events per CPU-second for: parsing the records (json-c), mapping them to objects and
 * serializing those with json-c (the former input path), mapping them straight to text (the
 * current one), decoding the spooled texts for each output view, and the LEEF 2.0 and HEC
 * encoders. Figures only; nothing is asserted.
 * usage: bench/stage_bench RECORDS.jsonl [MAPPINGS_DIR] [SOURCE_TYPE]
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../outputs/hec/hec.h"
#include "../outputs/syslog/syslog_format.h"
#include "core/ms_buf.h"
#include "core/ms_config.h"
#include "core/ms_err.h"
#include "core/ms_event.h"
#include "core/ms_json.h"
#include "mapping/ms_mapping.h"

#define BATCH 1000

static double cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *what, size_t n, double secs, const char *unit)
{
    printf("%-44s %7.2f us/%s %9.0f %ss/CPU-s\n", what, n ? secs * 1e6 / (double)n : 0.0, unit,
           secs > 0 ? (double)n / secs : 0.0, unit);
}

/* The lines of path, each NUL-terminated, in one block; offsets in *offs (n + 1 of them). */
static char *read_lines(const char *path, size_t **offs, size_t *n)
{
    struct ms_buf all;
    char *line = NULL;
    size_t cap = 0;
    size_t max = 1024;
    ssize_t len;
    FILE *f = fopen(path, "r");

    *n = 0;
    *offs = malloc(max * sizeof(**offs));
    if (!f || !*offs) {
        return NULL;
    }
    ms_buf_init(&all, (size_t)1 << 31);
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] == '\n') {
            line[--len] = '\0';
        }
        if (*n + 1 >= max) {
            max *= 2;
            *offs = realloc(*offs, max * sizeof(**offs));
            if (!*offs) {
                return NULL;
            }
        }
        (*offs)[(*n)++] = all.len;
        if (ms_buf_append(&all, line, (size_t)len + 1) != MS_OK) {
            return NULL;
        }
    }
    (*offs)[*n] = all.len;
    free(line);
    fclose(f);
    return all.data;
}

int main(int argc, char **argv)
{
    struct ms_cfg_errors errs = {NULL, 0};
    struct ms_mapping_set *set = NULL;
    const char *st = argc > 3 ? argv[3] : "mimecast:ttp:url";
    struct json_tokener *tok = json_tokener_new();
    struct json_object **recs;
    struct ms_buf texts;
    struct ms_buf out;
    struct ms_batch b;
    struct sl_format_opts lo;
    struct hec_format_opts ho;
    size_t *offs;
    size_t *eoffs;
    size_t n;
    size_t kept = 0;
    size_t i;
    size_t v;
    char dir[4096];
    char id[65];
    double t;
    double t_parse = 0;
    double t_old = 0;
    double t_new = 0;
    double t_free = 0;
    char *data;

    if (argc < 2) {
        fprintf(stderr, "usage: stage_bench RECORDS.jsonl [MAPPINGS_DIR] [SOURCE_TYPE]\n");
        return 64;
    }
    snprintf(dir, sizeof(dir), "%s", argc > 2 ? argv[2] : "mappings");
    data = read_lines(argv[1], &offs, &n);
    if (!data || !tok || ms_mapping_set_load(dir, &set, &errs) != MS_OK) {
        for (i = 0; i < errs.n; i++) {
            fprintf(stderr, "%s\n", errs.msgs[i]);
        }
        fprintf(stderr, "stage_bench: cannot read %s or load %s\n", argv[1], dir);
        return 1;
    }
    recs = calloc(n, sizeof(*recs));
    eoffs = calloc(n + 1, sizeof(*eoffs));
    if (!recs || !eoffs) {
        return 1;
    }
    printf("%zu records of %s, %.0f bytes each on average\n", n, st,
           (double)offs[n] / (double)(n ? n : 1));

    /* Input stages batch by batch, as the engine runs them (working set of one batch). */
    ms_buf_init(&texts, (size_t)1 << 31);
    ms_buf_init(&out, (size_t)1 << 30);
    for (i = 0; i < n; i += BATCH) {
        size_t end = i + BATCH < n ? i + BATCH : n;
        size_t k;

        t = cpu_seconds();
        for (k = i; k < end; k++) {
            json_tokener_reset(tok);
            recs[k] = json_tokener_parse_ex(tok, data + offs[k], -1);
        }
        t_parse += cpu_seconds() - t;
        /* Former input path: event objects, then json-c's serializer (and freeing them). */
        t = cpu_seconds();
        for (k = i; k < end; k++) {
            struct json_object *ev = NULL;
            const char *reason;
            size_t len;

            if (ms_mapping_apply(set, st, recs[k], &ev, &reason) == MS_OK && ev) {
                json_object_to_json_string_length(
                    ev, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
            }
            json_object_put(ev);
        }
        t_old += cpu_seconds() - t;
        /* Current: straight to text, into a buffer reset per batch. */
        ms_buf_reset(&out);
        t = cpu_seconds();
        for (k = i; k < end; k++) {
            const char *reason;
            size_t mark = out.len;

            if (ms_mapping_apply_text(set, st, recs[k], &out, id, &reason) == MS_OK &&
                out.len > mark) {
                eoffs[kept++] = texts.len + mark;
            }
        }
        t_new += cpu_seconds() - t;
        ms_buf_append(&texts, out.data, out.len);
        t = cpu_seconds();
        for (k = i; k < end; k++) {
            json_object_put(recs[k]);
        }
        t_free += cpu_seconds() - t;
    }
    eoffs[kept] = texts.len;
    report("input: parse records (json-c)", n, t_parse, "record");
    report("input: map to objects + json-c serialize", n, t_old, "record");
    report("input: map straight to text (now)", n, t_new, "record");
    report("input: free records", n, t_free, "record");
    printf("  %zu events kept, %.0f bytes each on average\n", kept,
           (double)texts.len / (double)(kept ? kept : 1));

    for (v = 0; v < 4; v++) {
        static const char *const names[] = {
            "output: decode FULL (json-c, as before)", "output: decode NO_RAW (HEC; Kafka w/o raw)",
            "output: decode TEXT (file)", "output: decode NORMALIZED (LEEF, CEF, Kafka)"};

        if (ms_batch_init(&b, BATCH) != MS_OK) {
            return 1;
        }
        t = cpu_seconds();
        for (i = 0; i < kept; i++) {
            if (ms_batch_full(&b)) {
                ms_batch_reset(&b);
            }
            ms_batch_add_text(&b, texts.data + eoffs[i], eoffs[i + 1] - eoffs[i],
                              (enum ms_event_view)v);
        }
        ms_batch_free(&b);
        report(names[v], kept, cpu_seconds() - t, "event");
    }

    /* Encoders on the views their outputs read (decoding not counted). */
    memset(&lo, 0, sizeof(lo));
    lo.payload = SL_PAYLOAD_LEEF2;
    lo.delim = '\t';
    sl_format_opts_prepare(&lo);
    memset(&ho, 0, sizeof(ho));
    ho.include_raw = true;
    ho.cim = true;
    for (v = 0; v < 2; v++) {
        double spent = 0;
        size_t done = 0;

        if (ms_batch_init(&b, BATCH) != MS_OK) {
            return 1;
        }
        while (done < kept) {
            size_t k;

            ms_batch_reset(&b);
            for (i = done; i < kept && !ms_batch_full(&b); i++) {
                ms_batch_add_text(&b, texts.data + eoffs[i], eoffs[i + 1] - eoffs[i],
                                  v == 0 ? MS_VIEW_NORMALIZED : MS_VIEW_NO_RAW);
            }
            done = i;
            t = cpu_seconds();
            for (k = 0; k < b.n; k++) {
                ms_buf_reset(&out);
                if (v == 0) {
                    sl_format_payload(&lo, &b.events[k], &out);
                }
                else {
                    hec_format_event(&ho, &b.events[k], &out);
                }
            }
            spent += cpu_seconds() - t;
        }
        ms_batch_free(&b);
        report(v == 0 ? "output: LEEF 2.0 payload" : "output: HEC envelope", kept, spent, "event");
    }
    ms_buf_free(&out);
    ms_buf_free(&texts);
    free(recs);
    free(eoffs);
    free(offs);
    free(data);
    json_tokener_free(tok);
    ms_mapping_set_destroy(set);
    ms_cfg_errors_free(&errs);
    return 0;
}
