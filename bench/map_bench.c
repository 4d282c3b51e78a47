/*
 * Mapping stage throughput, in records per CPU-second, on synthetic Mimecast URL click records of
 * about 700 bytes, 30 % of them clean (dropped), as in DESIGN.md's performance budget. Prints the
 * figures for: json-c parse alone, parse + map, parse + map + serialize (what the engine spools).
 * Usage: bench/map_bench [MAPPINGS_DIR] [RECORDS]   (default $MS_SRCDIR/mappings, 200000)
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ms_buf.h"
#include "core/ms_config.h"
#include "core/ms_err.h"
#include "mapping/ms_mapping.h"

static double cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* One record as JSON text, shaped like shared/specs/mimecast-api.md section 6's example. */
static int make_record(struct ms_buf *b, uint64_t *rng, size_t n)
{
    static const char *const defs[] = {"Default Inbound URL Protect Definition",
                                       "Inbound URL 'Aggressive'", ""};
    static const char *const cats[] = {"Dangerous file extension", "Compromised",
                                       "Phishing & Fraud"};
    bool clean = rng_next(rng) % 10 < 3;
    uint64_t r = rng_next(rng);

    return ms_buf_printf(
        b,
        "{\"userEmailAddress\":\"user%zu@demo-int.example.com\","
        "\"fromUserEmailAddress\":\"sender%llu@concept-variety.example.net\","
        "\"url\":\"https://host%llu.example.org/path/%zu/download?session=%016llx\","
        "\"ttpDefinition\":\"%s\",\"subject\":\"Invoice %zu for your account - action required\","
        "\"action\":\"%s\",\"adminOverride\":\"N/A\",\"userOverride\":\"None\","
        "\"scanResult\":\"%s\",\"category\":\"%s\",\"sendingIp\":\"%llu.%llu.%llu.%llu\","
        "\"userAwarenessAction\":\"N/A\",\"date\":\"2026-11-%02lluT%02llu:%02llu:%02llu+0000\","
        "\"actions\":\"%s\",\"route\":\"inbound\",\"creationMethod\":\"User Click\","
        "\"emailPartsDescription\":[\"Body\"],"
        "\"messageId\":\"<%016llx-%zu@hapi.example.net>\"}\n",
        n % 5000, (unsigned long long)(r % 997), (unsigned long long)(r % 89), n,
        (unsigned long long)r, defs[r % 3], n, clean ? "allow" : "block",
        clean ? "clean" : "malicious", cats[(r >> 8) % 3], (unsigned long long)(r % 223 + 1),
        (unsigned long long)((r >> 8) % 256), (unsigned long long)((r >> 16) % 256),
        (unsigned long long)((r >> 24) % 254 + 1), (unsigned long long)(r % 28 + 1),
        (unsigned long long)((r >> 4) % 24), (unsigned long long)((r >> 12) % 60),
        (unsigned long long)((r >> 20) % 60), clean ? "Allow" : "Block",
        (unsigned long long)rng_next(rng), n);
}

int main(int argc, char **argv)
{
    struct ms_cfg_errors errs = {NULL, 0};
    struct ms_mapping_set *set = NULL;
    struct ms_buf text;
    char dir[4096];
    const char *src = getenv("MS_SRCDIR");
    size_t n = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 200000;
    size_t *offs;
    size_t i;
    size_t kept = 0;
    size_t bytes_out = 0;
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    double t0;
    double t_parse;
    int pass;

    snprintf(dir, sizeof(dir), "%s", argc > 1 ? argv[1] : "");
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "%s/mappings", src ? src : ".");
    }
    if (ms_mapping_set_load(dir, &set, &errs) != MS_OK) {
        for (i = 0; i < errs.n; i++) {
            fprintf(stderr, "%s\n", errs.msgs[i]);
        }
        return 1;
    }
    ms_buf_init(&text, MS_CAP_API_PAGE * 4u);
    offs = calloc(n + 1, sizeof(*offs));
    if (!offs) {
        return 1;
    }
    for (i = 0; i < n; i++) {
        offs[i] = text.len;
        if (make_record(&text, &rng, i) != MS_OK) {
            fprintf(stderr, "out of memory generating records\n");
            return 1;
        }
        text.data[text.len - 1] = '\0'; /* one record per string: the newline ends it */
    }
    offs[n] = text.len;
    printf("%zu records, %.0f bytes each on average\n", n, (double)text.len / (double)n);

    /* pass 0: parse; 1: parse + map; 2: parse + map + serialize */
    for (pass = 0; pass < 3; pass++) {
        kept = 0;
        bytes_out = 0;
        t0 = cpu_seconds();
        for (i = 0; i < n; i++) {
            struct json_object *rec;
            struct json_object *ev = NULL;
            const char *reason = NULL;
            size_t len;

            rec = json_tokener_parse(text.data + offs[i]);
            if (pass > 0 && ms_mapping_apply(set, "mimecast:ttp:url", rec, &ev, &reason) == MS_OK &&
                ev) {
                kept++;
                if (pass == 2) {
                    json_object_to_json_string_length(
                        ev, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
                    bytes_out += len;
                }
            }
            json_object_put(ev);
            json_object_put(rec);
        }
        t0 = cpu_seconds() - t0;
        if (pass == 0) {
            t_parse = t0;
            printf("json-c parse only:          %8.0f records/CPU-s\n", (double)n / t0);
        }
        else if (pass == 1) {
            printf("parse + map:                %8.0f records/CPU-s (%zu events, %zu dropped)\n",
                   (double)n / t0, kept, n - kept);
            printf("mapping alone (difference): %8.0f records/CPU-s\n", (double)n / (t0 - t_parse));
        }
        else {
            printf("parse + map + serialize:    %8.0f records/CPU-s (%.0f bytes per event)\n",
                   (double)n / t0, kept ? (double)bytes_out / (double)kept : 0.0);
        }
    }
    free(offs);
    ms_buf_free(&text);
    ms_mapping_set_destroy(set);
    ms_cfg_errors_free(&errs);
    return 0;
}
