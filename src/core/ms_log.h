/*
 * Logging with levels and instance names: "<time> <level> [input:mimecast:eu] message".
 * Every line passes through the secret scrubber, so a registered secret never reaches a log.
 */
#ifndef MS_LOG_H
#define MS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct ms_instance;

enum ms_log_level {
    MS_LOG_ERROR = 0, /* data lost or about to be, or config invalid */
    MS_LOG_WARN = 1,  /* retrying or degraded */
    MS_LOG_INFO = 2,  /* lifecycle and per-interval summaries */
    MS_LOG_DEBUG = 3, /* per request */
};

/* Parses "error|warn|info|debug". Returns MS_OK or MS_EINVAL. */
int ms_log_level_parse(const char *s, enum ms_log_level *out);

/* Process-wide level for lines without an instance (and the default for instances). */
void ms_log_set_level(enum ms_log_level lvl);
enum ms_log_level ms_log_get_level(void);

/*
 * Registers a secret value: from now on, every occurrence in a log line is printed as "***".
 * The log module keeps its own copy (zeroed when freed). Values shorter than 4 bytes are
 * ignored (they would mask ordinary words). Returns MS_OK or MS_ENOMEM.
 * @thread any
 */
int ms_log_register_secret(const char *value);

/* Forgets one registered secret (a rotated access token). */
void ms_log_unregister_secret(const char *value);

/* Forgets every registered secret (zeroing the copies). Called at exit and by tests. */
void ms_log_clear_secrets(void);

/* Replaces every registered secret in text (in place, same length: '*' fill). Returns count. */
size_t ms_log_scrub(char *text);

/* Redirects log output (tests); NULL restores stderr. */
void ms_log_set_stream(FILE *stream);

bool ms_log_enabled(const struct ms_instance *ins, enum ms_log_level lvl);
void ms_log_print(const struct ms_instance *ins, enum ms_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define MS_LOG_AT(ins, lvl, ...)                                                                   \
    do {                                                                                           \
        if (ms_log_enabled((ins), (lvl))) {                                                        \
            ms_log_print((ins), (lvl), __VA_ARGS__);                                               \
        }                                                                                          \
    } while (0)

#define ms_log_error(ins, ...) MS_LOG_AT(ins, MS_LOG_ERROR, __VA_ARGS__)
#define ms_log_warn(ins, ...)  MS_LOG_AT(ins, MS_LOG_WARN, __VA_ARGS__)
#define ms_log_info(ins, ...)  MS_LOG_AT(ins, MS_LOG_INFO, __VA_ARGS__)
#define ms_log_debug(ins, ...) MS_LOG_AT(ins, MS_LOG_DEBUG, __VA_ARGS__)

#endif
