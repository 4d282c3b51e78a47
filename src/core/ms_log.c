/* Log lines with level, instance name and secret scrubbing. */
#include <config.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ms_err.h"
#include "ms_log.h"
#include "ms_plugin.h"

#define LOG_MAX_SECRETS 256
#define LOG_LINE_MAX    8192

/*
 * Process-wide log settings. Logging is the one process-wide facility besides the registry:
 * the level and stream are set once at start-up; the secret list grows while config loads.
 * @locks log_lock guards secrets and serializes writes so lines never interleave.
 */
static struct {
    pthread_mutex_t lock;
    enum ms_log_level level;
    FILE *stream;
    char *secrets[LOG_MAX_SECRETS];
    size_t n_secrets;
} log_state = {PTHREAD_MUTEX_INITIALIZER, MS_LOG_INFO, NULL, {0}, 0};

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int ms_log_level_parse(const char *s, enum ms_log_level *out)
{
    size_t i;

    for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum ms_log_level)i;
            return MS_OK;
        }
    }
    return MS_EINVAL;
}

void ms_log_set_level(enum ms_log_level lvl)
{
    log_state.level = lvl;
}

enum ms_log_level ms_log_get_level(void)
{
    return log_state.level;
}

void ms_log_set_stream(FILE *stream)
{
    log_state.stream = stream;
}

int ms_log_register_secret(const char *value)
{
    size_t i;
    int ret = MS_OK;

    if (!value || strlen(value) < 4) {
        return MS_OK;
    }
    pthread_mutex_lock(&log_state.lock);
    for (i = 0; i < log_state.n_secrets; i++) {
        if (strcmp(log_state.secrets[i], value) == 0) {
            goto out;
        }
    }
    if (log_state.n_secrets == LOG_MAX_SECRETS) {
        ret = MS_ENOMEM;
        goto out;
    }
    log_state.secrets[log_state.n_secrets] = strdup(value);
    if (!log_state.secrets[log_state.n_secrets]) {
        ret = MS_ENOMEM;
        goto out;
    }
    log_state.n_secrets++;
out:
    pthread_mutex_unlock(&log_state.lock);
    return ret;
}

void ms_log_unregister_secret(const char *value)
{
    size_t i;

    pthread_mutex_lock(&log_state.lock);
    for (i = 0; i < log_state.n_secrets; i++) {
        if (strcmp(log_state.secrets[i], value) == 0) {
            explicit_bzero(log_state.secrets[i], strlen(log_state.secrets[i]));
            free(log_state.secrets[i]);
            log_state.secrets[i] = log_state.secrets[--log_state.n_secrets];
            log_state.secrets[log_state.n_secrets] = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&log_state.lock);
}

void ms_log_clear_secrets(void)
{
    size_t i;

    pthread_mutex_lock(&log_state.lock);
    for (i = 0; i < log_state.n_secrets; i++) {
        explicit_bzero(log_state.secrets[i], strlen(log_state.secrets[i]));
        free(log_state.secrets[i]);
        log_state.secrets[i] = NULL;
    }
    log_state.n_secrets = 0;
    pthread_mutex_unlock(&log_state.lock);
}

/* @locks log_state.lock MUST be held */
static size_t scrub_locked(char *text)
{
    size_t i;
    size_t count = 0;

    for (i = 0; i < log_state.n_secrets; i++) {
        const char *secret = log_state.secrets[i];
        size_t n = strlen(secret);
        char *hit = strstr(text, secret);

        while (hit) {
            memset(hit, '*', n);
            count++;
            hit = strstr(hit + n, secret);
        }
    }
    return count;
}

size_t ms_log_scrub(char *text)
{
    size_t count;

    pthread_mutex_lock(&log_state.lock);
    count = scrub_locked(text);
    pthread_mutex_unlock(&log_state.lock);
    return count;
}

bool ms_log_enabled(const struct ms_instance *ins, enum ms_log_level lvl)
{
    if (ins && ins->log_level >= 0) {
        return (int)lvl <= ins->log_level;
    }
    return lvl <= log_state.level;
}

void ms_log_print(const struct ms_instance *ins, enum ms_log_level lvl, const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    char when[32];
    struct timespec ts;
    struct tm tm;
    va_list ap;
    FILE *out;
    size_t i;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* A vendor error text or a record can carry control characters; keep one line per entry. */
    for (i = 0; line[i]; i++) {
        if (line[i] == '\n' || line[i] == '\r') {
            line[i] = ' ';
        }
    }
    pthread_mutex_lock(&log_state.lock);
    scrub_locked(line);
    out = log_state.stream ? log_state.stream : stderr;
    if (ins) {
        fprintf(out, "%s.%03ldZ %-5s [%s:%s:%s] %s\n", when, ts.tv_nsec / 1000000, level_names[lvl],
                ins->kind, ins->plugin_name, ins->name, line);
    }
    else {
        fprintf(out, "%s.%03ldZ %-5s [core] %s\n", when, ts.tv_nsec / 1000000, level_names[lvl],
                line);
    }
    fflush(out);
    pthread_mutex_unlock(&log_state.lock);
}
