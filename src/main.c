/* msfwd command line: parse arguments, install signal handlers, load the config, run the engine. */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ms_buf.h"
#include "core/ms_config.h"
#include "core/ms_engine.h"
#include "core/ms_err.h"
#include "core/ms_http.h"
#include "core/ms_log.h"
#include "core/ms_registry.h"
#include "mapping/ms_mapping.h"

#ifndef MS_SYSCONF_FILE
#define MS_SYSCONF_FILE "/etc/msfwd/msfwd.conf"
#endif
#ifndef MS_MAPPINGS_DIR
#define MS_MAPPINGS_DIR "/usr/share/msfwd/mappings"
#endif

/* sysexits.h values, as the command-line contract promises. */
#define EXIT_RUNTIME 1
#define EXIT_USAGE   64
#define EXIT_CONFIG  78

/* halt stops the running engine (every plugin polls it); the others say what comes next. */
static volatile sig_atomic_t halt;
static volatile sig_atomic_t terminate_requested;
static volatile sig_atomic_t reload_requested;

static void on_signal(int sig)
{
    if (sig == SIGHUP) {
        reload_requested = 1;
    }
    else {
        terminate_requested = 1;
    }
    halt = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: msfwd COMMAND [options]\n"
            "\n"
            "commands:\n"
            "  run   -c FILE          poll inputs and deliver to outputs until SIGTERM/SIGINT\n"
            "  once  -c FILE          poll every input until caught up, deliver everything, exit\n"
            "  check -c FILE [--dump] validate the configuration and mappings; --dump prints\n"
            "                         the effective configuration with secrets redacted\n"
            "  test  -c FILE [NAME..] check each input's and output's connection and credentials\n"
            "                         (all, or the named instances): one PASS/FAIL line each\n"
            "  map --source TYPE [--mappings DIR | -c FILE] [FILE]\n"
            "                         map vendor records (JSON lines or an API page) from FILE\n"
            "                         or standard input; print one event per record, or\n"
            "                         'dropped: REASON' (no configuration needed)\n"
            "  help [COMMAND|PLUGIN]  this text, or the keys of an input/output plugin\n"
            "\n"
            "options:\n"
            "  -c, --config FILE      configuration file (default " MS_SYSCONF_FILE ")\n"
            "  -h, --help             this text\n"
            "  -V, --version          print the version\n"
            "\n"
            "exit codes: 0 success, 1 failure at run time, 64 usage error, 78 configuration "
            "error\n");
}

static void map_usage(FILE *out)
{
    fprintf(out,
            "usage: msfwd map --source TYPE [--mappings DIR | -c FILE] [FILE]\n"
            "\n"
            "Maps vendor records the way the forwarder does and prints, for each record, the\n"
            "normalized event (one JSON line), 'dropped: REASON' (a drop rule matched) or\n"
            "'rejected: REASON' (not a usable record). No configuration and no network needed:\n"
            "the dry run for editing a mapping file.\n"
            "\n"
            "  --source TYPE      source type, e.g. mimecast:ttp:url, pps:quarantine, ser:summary\n"
            "  --mappings DIR     mapping files to use (default: [service] mappings_dir of the\n"
            "                     -c file when one is given, else " MS_MAPPINGS_DIR ")\n"
            "  -c, --config FILE  take mappings_dir from this configuration file\n"
            "  FILE               input ('-' or none: standard input): JSON lines, whole API\n"
            "                     pages such as {\"data\":[{\"clickLogs\":[...]}]} or\n"
            "                     {\"records\":[...]} (found by the mapping's records_path), or\n"
            "                     JSON arrays of records\n"
            "\n"
            "exit codes: 0 done (whatever was dropped or rejected), 1 input unreadable,\n"
            "64 usage error, 78 mapping files or configuration refused\n");
}

static void print_map(const struct ms_config_map *map)
{
    const struct ms_config_map *m;

    for (m = map; m->name; m++) {
        fprintf(stdout, "  %-18s %s%s%s%s%s\n", m->name, m->desc,
                (m->flags & MS_CFG_REQUIRED) ? " (required)" : "", m->def ? " [default: " : "",
                m->def ? m->def : "", m->def ? "]" : "");
    }
}

/* "msfwd help NAME": the config keys of a plugin, or the usage. */
static int help_topic(const char *topic)
{
    const struct ms_input_plugin *in = ms_registry_input(topic);
    const struct ms_output_plugin *out = ms_registry_output(topic);
    size_t i;

    if (in) {
        fprintf(stdout, "input %s: %s\nkeys ([input.NAME] type = %s):\n", in->name, in->description,
                in->name);
        print_map(in->config_map);
    }
    if (out) {
        fprintf(stdout, "output %s: %s\nkeys ([output.NAME] type = %s):\n", out->name,
                out->description, out->name);
        print_map(out->config_map);
    }
    if (in || out) {
        return 0;
    }
    if (strcmp(topic, "map") == 0) {
        map_usage(stdout);
        return 0;
    }
    if (strcmp(topic, "run") && strcmp(topic, "once") && strcmp(topic, "check") &&
        strcmp(topic, "test") && strcmp(topic, "help")) {
        fprintf(stderr, "msfwd: no help for '%s'. Plugins:", topic);
        for (i = 0; ms_input_plugins[i]; i++) {
            fprintf(stderr, " %s", ms_input_plugins[i]->name);
        }
        for (i = 0; ms_output_plugins[i]; i++) {
            fprintf(stderr, " %s", ms_output_plugins[i]->name);
        }
        fprintf(stderr, "\n");
        return EXIT_USAGE;
    }
    usage(stdout);
    return 0;
}

static void install_signals(bool run_mode)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (run_mode) {
        sigaction(SIGHUP, &sa, NULL);
    }
    else {
        sa.sa_handler = SIG_IGN;
        sigaction(SIGHUP, &sa, NULL);
    }
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

static void print_errors(const struct ms_cfg_errors *errs)
{
    size_t i;

    for (i = 0; i < errs->n; i++) {
        ms_log_scrub(errs->msgs[i]);
        fprintf(stderr, "msfwd: %s\n", errs->msgs[i]);
    }
}

/* [service] mappings_dir of a configuration file (expanded), or the installed directory. */
static int map_dir_from_config(const char *path, char **dir, struct ms_cfg_errors *errs)
{
    struct ms_config *cfg = NULL;
    const char *raw = NULL;
    char why[256];
    int rc;

    *dir = NULL;
    rc = ms_config_load(path, &cfg, errs);
    if (rc != MS_OK) {
        return rc;
    }
    if (ms_config_find(cfg, "service", NULL)) {
        raw = ms_config_peek(ms_config_find(cfg, "service", NULL), "mappings_dir");
    }
    rc = ms_config_expand(raw ? raw : MS_MAPPINGS_DIR, dir, why, sizeof(why));
    if (rc != MS_OK) {
        ms_cfg_errors_add(errs, "%s: [service] mappings_dir: %s", path, why);
    }
    ms_config_destroy(cfg);
    return rc;
}

/* Maps every record in one parsed input value and prints the outcome of each. */
static void map_value(struct ms_mapping_set *set, const char *source, struct json_object *value)
{
    struct json_object *records = ms_mapping_page_records(set, source, value);
    size_t i;

    if (!records) {
        printf("rejected: out of memory\n");
        return;
    }
    for (i = 0; i < json_object_array_length(records); i++) {
        struct json_object *ev = NULL;
        const char *reason = NULL;
        int rc;

        rc = ms_mapping_apply(set, source, json_object_array_get_idx(records, i), &ev, &reason);
        if (rc == MS_OK && ev) {
            printf("%s\n", json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
        }
        else {
            printf("%s: %s\n", rc == MS_OK ? "dropped" : "rejected", reason ? reason : "?");
        }
        json_object_put(ev);
    }
    json_object_put(records);
}

/*
 * Reads JSON values (one per line, or spread over lines such as a pretty-printed page) and maps
 * them. Memory is bounded by the largest single value (MS_CAP_API_PAGE).
 */
static int map_stream(struct ms_mapping_set *set, const char *source, FILE *in)
{
    struct json_tokener *tok = json_tokener_new();
    char *line = NULL;
    size_t cap = 0;
    size_t lineno = 0;
    size_t start_line = 0;
    size_t pending = 0;
    ssize_t n;

    if (!tok) {
        return MS_ENOMEM;
    }
    while ((n = getline(&line, &cap, in)) != -1) {
        const char *p = line;
        size_t left = (size_t)n;

        lineno++;
        while (left > 0) {
            struct json_object *obj;
            enum json_tokener_error jerr;

            if (pending == 0) {
                while (left > 0 && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
                    p++;
                    left--;
                }
                if (left == 0) {
                    break;
                }
                start_line = lineno;
            }
            obj = json_tokener_parse_ex(tok, p, (int)left);
            jerr = json_tokener_get_error(tok);
            if (jerr == json_tokener_continue) {
                pending += left;
                if (pending > MS_CAP_API_PAGE) {
                    printf("rejected: line %zu: a JSON value longer than %u bytes\n", start_line,
                           MS_CAP_API_PAGE);
                    json_tokener_reset(tok);
                    pending = 0;
                }
                break;
            }
            if (jerr != json_tokener_success) {
                printf("rejected: line %zu: not valid JSON: %s\n", start_line,
                       json_tokener_error_desc(jerr));
                json_tokener_reset(tok);
                pending = 0;
                break; /* the rest of this line is skipped */
            }
            map_value(set, source, obj);
            json_object_put(obj);
            n = (ssize_t)json_tokener_get_parse_end(tok);
            p += n;
            left -= (size_t)n;
            pending = 0;
            json_tokener_reset(tok);
        }
    }
    if (pending > 0) {
        printf("rejected: line %zu: the input ends inside a JSON value\n", start_line);
    }
    free(line);
    json_tokener_free(tok);
    return ferror(in) ? MS_EIO : MS_OK;
}

/* "msfwd map": config-less dry run of the mapping stage. */
static int cmd_map(int argc, char **argv, const char *config_path)
{
    static const struct option map_opts[] = {
        {"source", required_argument, NULL, 's'},
        {"mappings", required_argument, NULL, 'm'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ms_cfg_errors errs = {NULL, 0};
    struct ms_mapping_set *set = NULL;
    const char *source = NULL;
    const char *dir = NULL;
    const char *file = NULL;
    char *conf_dir = NULL;
    FILE *in = stdin;
    int exit_code = 0;
    int c;
    int rc;

    while ((c = getopt_long(argc, argv, "s:m:c:h", map_opts, NULL)) != -1) {
        switch (c) {
        case 's':
            source = optarg;
            break;
        case 'm':
            dir = optarg;
            break;
        case 'c':
            config_path = optarg;
            break;
        case 'h':
            map_usage(stdout);
            return 0;
        default:
            map_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!source || !source[0]) {
        fprintf(stderr, "msfwd map: --source TYPE is required (e.g. --source mimecast:ttp:url)\n");
        return EXIT_USAGE;
    }
    if (optind < argc) {
        file = argv[optind++];
    }
    if (optind < argc) {
        fprintf(stderr, "msfwd map: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (!dir && config_path) {
        rc = map_dir_from_config(config_path, &conf_dir, &errs);
        if (rc != MS_OK) {
            print_errors(&errs);
            exit_code = rc == MS_ENOMEM ? EXIT_RUNTIME : EXIT_CONFIG;
            goto out;
        }
        dir = conf_dir;
    }
    rc = ms_mapping_set_load(dir ? dir : MS_MAPPINGS_DIR, &set, &errs);
    if (rc != MS_OK) {
        print_errors(&errs);
        fprintf(stderr, "msfwd map: mapping files refused (%zu problem%s)\n", errs.n,
                errs.n == 1 ? "" : "s");
        exit_code = rc == MS_ENOMEM ? EXIT_RUNTIME : EXIT_CONFIG;
        goto out;
    }
    if (file && strcmp(file, "-") != 0) {
        in = fopen(file, "r");
        if (!in) {
            fprintf(stderr, "msfwd map: cannot read %s: %s\n", file, strerror(errno));
            exit_code = EXIT_RUNTIME;
            goto out;
        }
    }
    rc = map_stream(set, source, in);
    if (rc != MS_OK) {
        fprintf(stderr, "msfwd map: reading %s failed: %s\n", file ? file : "standard input",
                ms_strerror(rc));
        exit_code = EXIT_RUNTIME;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        exit_code = EXIT_RUNTIME;
    }
out:
    if (in && in != stdin) {
        fclose(in);
    }
    ms_mapping_set_destroy(set);
    ms_cfg_errors_free(&errs);
    free(conf_dir);
    return exit_code;
}

/*
 * SIGHUP: builds an engine from the file as it is now. On success the old engine (already
 * stopped, its cursors and spool positions saved) is replaced; on refusal it keeps running.
 */
static struct ms_engine *reload(const char *config_path, struct ms_engine *old)
{
    struct ms_cfg_errors errs = {NULL, 0};
    struct ms_config *cfg = NULL;
    struct ms_engine *eng = NULL;
    size_t i;
    int rc;

    ms_log_info(NULL, "SIGHUP: reloading %s", config_path);
    rc = ms_config_load(config_path, &cfg, &errs);
    if (rc == MS_OK) {
        rc = ms_engine_create(cfg, MS_MODE_RUN, &halt, &eng, &errs);
    }
    if (rc != MS_OK) {
        for (i = 0; i < errs.n; i++) {
            ms_log_error(NULL, "reload refused: %s", errs.msgs[i]);
        }
        ms_log_error(NULL, "reload refused (%zu problem%s); the running configuration stays",
                     errs.n, errs.n == 1 ? "" : "s");
        ms_cfg_errors_free(&errs);
        return old;
    }
    ms_cfg_errors_free(&errs);
    ms_engine_destroy(old);
    ms_log_info(NULL, "reload: new configuration in effect");
    return eng;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"dump", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct ms_cfg_errors errs = {NULL, 0};
    struct ms_config *cfg = NULL;
    struct ms_engine *eng = NULL;
    enum ms_engine_mode mode;
    const char *config_path = MS_SYSCONF_FILE;
    const char *command;
    bool config_given = false;
    bool dump = false;
    bool test = false;
    int exit_code = 0;
    int c;
    int rc;

    while ((c = getopt_long(argc, argv, "+c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("msfwd %s\n", PACKAGE_VERSION);
            return 0;
        case 'c':
            config_path = optarg;
            config_given = true;
            break;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    command = argv[optind++];
    if (strcmp(command, "help") == 0) {
        if (optind < argc) {
            return help_topic(argv[optind]);
        }
        usage(stdout);
        return 0;
    }
    if (strcmp(command, "map") == 0) {
        return cmd_map(argc, argv, config_given ? config_path : NULL);
    }
    if (strcmp(command, "run") == 0) {
        mode = MS_MODE_RUN;
    }
    else if (strcmp(command, "once") == 0) {
        mode = MS_MODE_ONCE;
    }
    else if (strcmp(command, "check") == 0) {
        mode = MS_MODE_CHECK;
    }
    else if (strcmp(command, "test") == 0) {
        mode = MS_MODE_CHECK;
        test = true;
    }
    else {
        fprintf(stderr, "msfwd: unknown command '%s'\n", command);
        usage(stderr);
        return EXIT_USAGE;
    }
    /* Options may also follow the command: msfwd check -c FILE --dump */
    while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'd':
            if (mode != MS_MODE_CHECK) {
                fprintf(stderr, "msfwd: --dump belongs to 'check'\n");
                return EXIT_USAGE;
            }
            dump = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("msfwd %s\n", PACKAGE_VERSION);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc && !test) {
        fprintf(stderr, "msfwd: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }

    install_signals(mode == MS_MODE_RUN);
    if (ms_http_global_init() != MS_OK) {
        fprintf(stderr, "msfwd: libcurl initialization failed\n");
        return EXIT_RUNTIME;
    }
    rc = ms_config_load(config_path, &cfg, &errs);
    if (rc == MS_OK) {
        rc = ms_engine_create(cfg, mode, &halt, &eng, &errs);
    }
    if (rc != MS_OK) {
        print_errors(&errs);
        fprintf(stderr, "msfwd: %s: configuration refused (%zu problem%s)\n", config_path, errs.n,
                errs.n == 1 ? "" : "s");
        exit_code = rc == MS_ENOMEM ? EXIT_RUNTIME : EXIT_CONFIG;
        goto out;
    }
    if (test) {
        rc = ms_engine_test(eng, argv + optind, (size_t)(argc - optind), stdout);
        exit_code = rc == MS_OK ? 0 : rc == MS_EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
        goto out;
    }
    if (mode == MS_MODE_CHECK) {
        if (dump) {
            ms_engine_dump(eng, stdout);
        }
        fprintf(stderr, "msfwd: %s: configuration OK\n", config_path);
        goto out;
    }
    for (;;) {
        exit_code = ms_engine_run(eng) == MS_OK ? 0 : EXIT_RUNTIME;
        if (mode != MS_MODE_RUN || terminate_requested || !reload_requested) {
            break;
        }
        reload_requested = 0;
        halt = 0;
        eng = reload(config_path, eng);
        /* A SIGTERM during the reload must not be lost. */
        halt = terminate_requested;
    }
    if (terminate_requested && mode == MS_MODE_RUN) {
        ms_log_info(NULL, "stopped on signal; state saved");
    }
out:
    ms_engine_destroy(eng);
    ms_cfg_errors_free(&errs);
    ms_http_global_cleanup();
    ms_log_clear_secrets();
    return exit_code;
}
