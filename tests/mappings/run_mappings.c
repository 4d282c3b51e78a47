/*
 * Data-driven mapping tests (after jq's tests/jq.test): every
 * tests/mappings/<source>/<case>.in.json is mapped with the mapping files in mappings/ and compared
 * with <case>.out.json (the whole event; "raw" may be left out and is then the input itself),
 * <case>.drop (the drop reason) or <case>.reject (the reject reason). Then coverage checks tie the
 * cases to the data: every mapping file has cases, every mitre.json row tags some case, every drop
 * rule drops some case, every D3 row of pps-quarantine (d3-rows.json) is mapped, and untagged alert
 * types are counted. TAP output. Usage: run_mappings [--write-missing] [SRCDIR] (default
 * $MS_SRCDIR, else ".").
 * --write-missing writes what the mapping makes of a case that has no expectation yet (.out.json
 * without "raw", or .drop): a starting point to check by hand against the specs, never a pass.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/ms_config.h"
#include "core/ms_err.h"
#include "mapping/ms_mapping.h"

/* "now" for records without a usable time: 2030-01-01T00:00:00.000Z */
#define FIXED_NOW_MS 1893456000000LL
#define MAX_ITEMS    512
/* make dist writes v7 tar archives, which leave out (with only a warning) paths over 99 bytes:
 * "msfwd-<version>/" plus this must fit */
#define MAX_DIST_PATH 85

struct tcase {
    char dir[128];  /* tests/mappings/<dir> */
    char name[128]; /* <case> */
    char source_type[128];
};

static int tap_n;
static int tap_failed;
static bool write_missing;

static void ok(bool pass, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fmt(char *out, size_t len, const char *f, ...) __attribute__((format(printf, 3, 4)));

/* snprintf for paths and keys: a truncated result is cut, and says so in the TAP stream. */
static void fmt(char *out, size_t len, const char *f, ...)
{
    va_list ap;
    int n;

    va_start(ap, f);
    n = vsnprintf(out, len, f, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len) {
        printf("# truncated: %s\n", out);
    }
}

static void ok(bool pass, const char *fmt, ...)
{
    va_list ap;

    tap_n++;
    if (!pass) {
        tap_failed++;
    }
    printf("%s %d - ", pass ? "ok" : "not ok", tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f) {
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        if (buf) {
            buf[n] = '\0';
        }
    }
    fclose(f);
    return buf;
}

static void trim(char *s)
{
    size_t n = strlen(s);

    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ')) {
        s[--n] = '\0';
    }
}

static struct json_object *read_json(const char *path)
{
    char *text = read_text(path);
    struct json_object *obj;

    if (!text) {
        return NULL;
    }
    obj = json_tokener_parse(text);
    free(text);
    return obj;
}

static bool exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in dir ending with suffix (suffix removed when strip); returns the count. */
static size_t list_dir(const char *dir, const char *suffix, bool want_dirs, char **out, bool strip)
{
    struct dirent *de;
    size_t n = 0;
    size_t sl = strlen(suffix);
    DIR *d = opendir(dir);

    if (!d) {
        return 0;
    }
    while ((de = readdir(d)) != NULL && n < MAX_ITEMS) {
        char path[PATH_MAX];
        struct stat st;
        size_t len = strlen(de->d_name);

        if (de->d_name[0] == '.') {
            continue;
        }
        fmt(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (stat(path, &st) != 0 || (want_dirs != !!S_ISDIR(st.st_mode))) {
            continue;
        }
        if (len < sl || strcmp(de->d_name + len - sl, suffix) != 0) {
            continue;
        }
        out[n] = strdup(de->d_name);
        if (strip && out[n]) {
            out[n][len - sl] = '\0';
        }
        n += out[n] != NULL;
    }
    closedir(d);
    qsort(out, n, sizeof(*out), cmp_str);
    return n;
}

static void free_list(char **list, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(list[i]);
    }
}

/* The source type a case directory tests: its source_type file, else its mapping file's. */
static bool case_source_type(const char *top, const char *dir, char *out, size_t len)
{
    char path[PATH_MAX];
    struct json_object *m;
    struct json_object *st;
    char *text;

    fmt(path, sizeof(path), "%s/tests/mappings/%s/source_type", top, dir);
    text = read_text(path);
    if (text) {
        trim(text);
        fmt(out, len, "%s", text);
        free(text);
        return true;
    }
    fmt(path, sizeof(path), "%s/mappings/%s.json", top, dir);
    m = read_json(path);
    if (!m || !json_object_object_get_ex(m, "source_type", &st)) {
        json_object_put(m);
        return false;
    }
    fmt(out, len, "%s", json_object_get_string(st));
    json_object_put(m);
    return true;
}

static void diag_json(const char *label, struct json_object *v)
{
    printf("# %s: %s\n", label,
           v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE)
             : "(nothing)");
}

/* Keys of want and got that differ, for the diagnostics. */
static void diag_diff(struct json_object *want, struct json_object *got)
{
    json_object_object_foreach(want, key, val) {
        struct json_object *g = NULL;

        if (!json_object_object_get_ex(got, key, &g)) {
            printf("#   missing key %s\n", key);
        }
        else if (!json_object_equal(val, g)) {
            printf("#   %s: want %s\n", key, json_object_to_json_string(val));
            printf("#   %s:  got %s\n", key, json_object_to_json_string(g));
        }
    }
    json_object_object_foreach(got, gkey, gval) {
        (void)gval;
        if (!json_object_object_get_ex(want, gkey, NULL)) {
            printf("#   unexpected key %s\n", gkey);
        }
    }
}

struct seen {
    struct json_object *tagged;   /* alert types that got a MITRE tag */
    struct json_object *drops;    /* "<dir>\n<reason>" -> true */
    struct json_object *d3_event; /* the event of pps-quarantine/d3-all-rows */
    size_t untagged[64];          /* per case dir: events with alert_type but no mitre */
};

/* --write-missing: stores the outcome of a case that has no expectation file yet. */
static void write_expectation(const char *base, int rc, struct json_object *ev, const char *reason)
{
    const char *suffixes[] = {".out.json", ".drop", ".reject"};
    char path[PATH_MAX];
    FILE *f;
    size_t i;

    for (i = 0; i < 3; i++) {
        fmt(path, sizeof(path), "%s%s", base, suffixes[i]);
        if (exists(path)) {
            return;
        }
    }
    fmt(path, sizeof(path), "%s%s", base, ev ? ".out.json" : rc == MS_OK ? ".drop" : ".reject");
    f = fopen(path, "w");
    if (!f) {
        return;
    }
    if (ev) {
        struct json_object *copy = json_object_new_object();

        json_object_object_foreach(ev, key, val) {
            if (strcmp(key, "raw") != 0) {
                json_object_object_add(copy, key, json_object_get(val));
            }
        }
        fprintf(f, "%s\n",
                json_object_to_json_string_ext(copy, JSON_C_TO_STRING_PRETTY |
                                                         JSON_C_TO_STRING_SPACED |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(copy);
    }
    else {
        fprintf(f, "%s\n", reason ? reason : "");
    }
    fclose(f);
    printf("# wrote %s: check it by hand\n", path);
}

/* Maps one case and checks it. dir_index selects the untagged counter. */
static void run_case(struct ms_mapping_set *set,
                     const char *top,
                     const struct tcase *tc,
                     size_t dir_index,
                     struct seen *seen)
{
    char base[PATH_MAX];
    char path[PATH_MAX];
    struct json_object *in;
    struct json_object *ev = NULL;
    struct json_object *ev2 = NULL;
    const char *reason = NULL;
    const char *reason2 = NULL;
    char *want_text;
    int rc;
    int rc2;

    fmt(base, sizeof(base), "%s/tests/mappings/%s/%s", top, tc->dir, tc->name);
    fmt(path, sizeof(path), "%s.in.json", base);
    in = read_json(path);
    if (!in) {
        ok(false, "%s/%s: input is not valid JSON", tc->dir, tc->name);
        return;
    }
    rc = ms_mapping_apply(set, tc->source_type, in, &ev, &reason);
    /* Mapping the same record again gives the same result (stable id, no hidden state). */
    rc2 = ms_mapping_apply(set, tc->source_type, in, &ev2, &reason2);
    if (write_missing) {
        write_expectation(base, rc, ev, reason);
    }
    fmt(path, sizeof(path), "%s.drop", base);
    if (exists(path) || (fmt(path, sizeof(path), "%s.reject", base), exists(path))) {
        bool reject = strstr(path, ".reject") != NULL;
        bool pass;

        want_text = read_text(path);
        if (want_text) {
            trim(want_text);
        }
        pass = want_text && !ev && rc == (reject ? MS_EINVAL : MS_OK) && reason &&
               strcmp(reason, want_text) == 0 && rc2 == rc && !ev2;
        ok(pass, "%s/%s: %s", tc->dir, tc->name, reject ? "rejected" : "dropped");
        if (!pass) {
            printf("# want %s: %s\n", reject ? "reject" : "drop", want_text ? want_text : "?");
            printf("# got rc %d, reason %s\n", rc, reason ? reason : "(none)");
            diag_json("got event", ev);
        }
        else if (!reject) {
            char key[512];

            fmt(key, sizeof(key), "%s\n%s", tc->dir, reason);
            json_object_object_add(seen->drops, key, json_object_new_boolean(1));
        }
        free(want_text);
    }
    else {
        struct json_object *want;
        struct json_object *round = NULL;
        struct json_object *mitre;
        bool pass;

        fmt(path, sizeof(path), "%s.out.json", base);
        want = read_json(path);
        if (want && json_object_is_type(want, json_type_object) &&
            !json_object_object_get_ex(want, "raw", NULL)) {
            json_object_object_add(want, "raw", json_object_get(in));
        }
        if (ev) {
            round = json_tokener_parse(json_object_to_json_string_ext(
                ev, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        }
        pass = want && rc == MS_OK && ev && json_object_equal(want, ev) && round &&
               json_object_equal(round, ev) && rc2 == MS_OK && json_object_equal(ev, ev2);
        ok(pass, "%s/%s: mapped", tc->dir, tc->name);
        if (!pass) {
            if (!want) {
                printf("# %s is missing or not valid JSON\n", path);
            }
            printf("# rc %d, reason %s\n", rc, reason ? reason : "(none)");
            if (want && ev) {
                diag_diff(want, ev);
            }
            diag_json("got", ev);
        }
        if (ev && json_object_object_get_ex(ev, "alert_type", NULL)) {
            struct json_object *at = json_object_object_get(ev, "alert_type");

            if (json_object_object_get_ex(ev, "mitre", &mitre)) {
                json_object_object_add(seen->tagged, json_object_get_string(at),
                                       json_object_new_boolean(1));
            }
            else if (dir_index < 64) {
                seen->untagged[dir_index]++;
            }
        }
        if (ev && strcmp(tc->dir, "pps-quarantine") == 0 && strcmp(tc->name, "d3-all-rows") == 0) {
            seen->d3_event = json_object_get(ev);
        }
        json_object_put(round);
        json_object_put(want);
    }
    json_object_put(ev);
    json_object_put(ev2);
    json_object_put(in);
}

/* The value at a dotted key of the event ("fields.hostname"), borrowed. */
static struct json_object *event_key(struct json_object *ev, const char *dotted)
{
    char buf[128];
    char *dot;
    struct json_object *v = NULL;

    fmt(buf, sizeof(buf), "%s", dotted);
    dot = strchr(buf, '.');
    if (dot) {
        *dot = '\0';
        if (!json_object_object_get_ex(ev, buf, &v)) {
            return NULL;
        }
        return json_object_object_get(v, dot + 1);
    }
    return json_object_object_get(ev, buf);
}

int main(int argc, char **argv)
{
    struct ms_cfg_errors errs = {NULL, 0};
    struct ms_mapping_set *set = NULL;
    struct seen seen = {0};
    static struct tcase cases[MAX_ITEMS * 2];
    char *dirs[MAX_ITEMS];
    char *maps[MAX_ITEMS];
    char top[PATH_MAX];
    char path[PATH_MAX];
    size_t n_dirs;
    size_t n_maps;
    size_t n_cases = 0;
    size_t n_checks;
    size_t i;
    size_t j;
    struct json_object *mitre;
    struct json_object *rows;
    struct json_object *d3 = NULL;
    const char *src = getenv("MS_SRCDIR");

    for (i = 1; i < (size_t)argc; i++) {
        if (strcmp(argv[i], "--write-missing") == 0) {
            write_missing = true;
        }
        else {
            src = argv[i];
        }
    }

    fmt(top, sizeof(top), "%s", src ? src : ".");
    fmt(path, sizeof(path), "%s/mappings", top);
    if (ms_mapping_set_load(path, &set, &errs) != MS_OK) {
        printf("Bail out! %s: the mapping files do not load\n", path);
        for (i = 0; i < errs.n; i++) {
            printf("# %s\n", errs.msgs[i]);
        }
        ms_cfg_errors_free(&errs);
        return 1;
    }
    ms_mapping_set_clock(set, FIXED_NOW_MS);
    seen.tagged = json_object_new_object();
    seen.drops = json_object_new_object();

    fmt(path, sizeof(path), "%s/tests/mappings", top);
    n_dirs = list_dir(path, "", true, dirs, false);
    for (i = 0; i < n_dirs; i++) {
        char *names[MAX_ITEMS];
        char cdir[PATH_MAX];
        char st[128];
        size_t n;

        if (!case_source_type(top, dirs[i], st, sizeof(st))) {
            printf("Bail out! tests/mappings/%s: no source_type file and no mappings/%s.json\n",
                   dirs[i], dirs[i]);
            return 1;
        }
        fmt(cdir, sizeof(cdir), "%s/tests/mappings/%s", top, dirs[i]);
        n = list_dir(cdir, ".in.json", false, names, true);
        for (j = 0; j < n && n_cases < MAX_ITEMS * 2; j++) {
            fmt(cases[n_cases].dir, sizeof(cases[0].dir), "%s", dirs[i]);
            fmt(cases[n_cases].name, sizeof(cases[0].name), "%s", names[j]);
            fmt(cases[n_cases].source_type, sizeof(cases[0].source_type), "%s", st);
            n_cases++;
        }
        free_list(names, n);
    }
    fmt(path, sizeof(path), "%s/mappings", top);
    n_maps = list_dir(path, ".json", false, maps, true);
    fmt(path, sizeof(path), "%s/tests/mappings/pps-quarantine/d3-rows.json", top);
    d3 = read_json(path);
    rows = json_object_object_get(d3, "rows");
    /* cases + one per mapping file (mitre.json: the MITRE check) + drops + untagged + D3 count
     * + one per D3 row + path lengths */
    n_checks = n_cases + n_maps + 3 + json_object_array_length(rows) + 1;
    printf("1..%zu\n", n_checks);

    for (i = 0; i < n_cases; i++) {
        for (j = 0; j < n_dirs && strcmp(dirs[j], cases[i].dir) != 0; j++) {
        }
        run_case(set, top, &cases[i], j, &seen);
    }

    /* Every mapping file has cases (mitre.json: by the MITRE check below; siem-profiles.json,
     * the syslog output's file, names only source types that have a mapping file). */
    for (i = 0; i < n_maps; i++) {
        size_t count = 0;

        for (j = 0; j < n_cases; j++) {
            count += strcmp(cases[j].dir, maps[i]) == 0;
        }
        if (strcmp(maps[i], "siem-profiles") == 0) {
            struct json_object *sp;
            struct json_object *profiles = NULL;
            size_t unmapped = 0;

            fmt(path, sizeof(path), "%s/mappings/siem-profiles.json", top);
            sp = read_json(path);
            if (sp && json_object_object_get_ex(sp, "profiles", &profiles) &&
                json_object_is_type(profiles, json_type_object)) {
                json_object_object_foreach(profiles, pst, prof) {
                    (void)prof;
                    if (pst[0] != '_' && !ms_mapping_has(set, pst)) {
                        printf("# siem-profiles.json: '%s' has no mapping file\n", pst);
                        unmapped++;
                    }
                }
            }
            ok(profiles && unmapped == 0,
               "every siem-profiles.json profile is a source type with a mapping file");
            json_object_put(sp);
            continue;
        }
        if (strcmp(maps[i], "mitre") == 0) {
            fmt(path, sizeof(path), "%s/mappings/mitre.json", top);
            mitre = read_json(path);
            count = 0;
            json_object_object_foreach(json_object_object_get(mitre, "alert_types"), at, row) {
                (void)row;
                if (!json_object_object_get_ex(seen.tagged, at, NULL)) {
                    printf("# no case is tagged through the mitre.json row '%s'\n", at);
                    count++;
                }
            }
            ok(mitre && count == 0, "every mitre.json row tags at least one case");
            json_object_put(mitre);
            continue;
        }
        ok(count > 0, "mappings/%s.json has cases in tests/mappings/%s (%zu)", maps[i], maps[i],
           count);
    }

    /* Every drop rule drops at least one case of its file. */
    {
        size_t missing = 0;

        for (i = 0; i < n_maps; i++) {
            struct json_object *m;
            struct json_object *drop;

            fmt(path, sizeof(path), "%s/mappings/%s.json", top, maps[i]);
            m = read_json(path);
            if (json_object_object_get_ex(m, "drop", &drop)) {
                for (j = 0; j < json_object_array_length(drop); j++) {
                    const char *reason = json_object_get_string(
                        json_object_object_get(json_object_array_get_idx(drop, j), "reason"));
                    char key[512];

                    fmt(key, sizeof(key), "%s\n%s", maps[i], reason ? reason : "");
                    if (!json_object_object_get_ex(seen.drops, key, NULL)) {
                        printf("# %s.json drop rule %zu (%s) drops no case\n", maps[i], j,
                               reason ? reason : "?");
                        missing++;
                    }
                }
            }
            json_object_put(m);
        }
        ok(missing == 0, "every drop rule drops at least one case");
    }

    /* Events with an alert type but no MITRE row are counted, one for one. */
    {
        bool pass = true;

        for (i = 0; i < n_dirs && i < 64; i++) {
            struct ms_mapping_stats st;
            char stype[128];

            if (!case_source_type(top, dirs[i], stype, sizeof(stype))) {
                continue;
            }
            ms_mapping_get_stats(set, stype, &st);
            /* every case was mapped twice (the stability check) */
            if (st.untagged != 2 * seen.untagged[i]) {
                printf("# %s: %llu untagged counted, %zu expected\n", stype,
                       (unsigned long long)st.untagged, 2 * seen.untagged[i]);
                pass = false;
            }
        }
        ok(pass, "untagged alert types are counted");
    }

    /* D3 SOAR's default PPS field mapping: 18 rows, each mapped and present in d3-all-rows. */
    {
        char *mapping_text;

        fmt(path, sizeof(path), "%s/mappings/pps-quarantine.json", top);
        mapping_text = read_text(path);
        ok(json_object_array_length(rows) == 18 && seen.d3_event,
           "d3-rows.json lists D3's 18 rows and pps-quarantine/d3-all-rows was mapped");
        for (i = 0; i < json_object_array_length(rows); i++) {
            struct json_object *row = json_object_array_get_idx(rows, i);
            const char *name = json_object_get_string(json_object_object_get(row, "d3"));
            const char *p = json_object_get_string(json_object_object_get(row, "path"));
            const char *key = json_object_get_string(json_object_object_get(row, "key"));
            struct json_object *got = NULL;
            char quoted[256];

            fmt(quoted, sizeof(quoted), "\"%s", p ? p : "?");
            if (seen.d3_event && key) {
                got = strcmp(key, "time") == 0 ? json_object_object_get(seen.d3_event, "time")
                                               : event_key(seen.d3_event, key);
            }
            ok(mapping_text && p && strstr(mapping_text, quoted) && got,
               "D3 row '%s' (%s) is mapped to %s", name ? name : "?", p ? p : "?", key ? key : "?");
        }
        free(mapping_text);
    }

    /* Every case file survives make dist. */
    {
        size_t too_long = 0;

        for (i = 0; i < n_dirs; i++) {
            char *files[MAX_ITEMS];
            char cdir[PATH_MAX];
            size_t n;

            fmt(cdir, sizeof(cdir), "%s/tests/mappings/%s", top, dirs[i]);
            n = list_dir(cdir, "", false, files, false);
            for (j = 0; j < n; j++) {
                size_t len = strlen("tests/mappings/") + strlen(dirs[i]) + 1 + strlen(files[j]);

                if (len > MAX_DIST_PATH) {
                    printf("# tests/mappings/%s/%s: %zu bytes, more than %d: shorten the name\n",
                           dirs[i], files[j], len, MAX_DIST_PATH);
                    too_long++;
                }
            }
            free_list(files, n);
        }
        ok(too_long == 0, "every case path fits a v7 tar archive (make dist)");
    }

    json_object_put(d3);
    json_object_put(seen.d3_event);
    json_object_put(seen.tagged);
    json_object_put(seen.drops);
    free_list(dirs, n_dirs);
    free_list(maps, n_maps);
    ms_mapping_set_destroy(set);
    ms_cfg_errors_free(&errs);
    return tap_failed ? 1 : 0;
}
