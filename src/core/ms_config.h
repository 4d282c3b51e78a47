/*
 * The configuration file (INI, parsed by libinih) and the declarative config maps that plugins
 * use to read their section into their context. Every refusal names file, line, section and key.
 */
#ifndef MS_CONFIG_H
#define MS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum ms_cfg_type {
    MS_CFG_STR,     /* char *, owned by the ctx after apply; freed by ms_config_map_free() */
    MS_CFG_INT,     /* int64_t */
    MS_CFG_BOOL,    /* bool */
    MS_CFG_SIZE,    /* int64_t bytes: "64K", "10M", "2G", "512" */
    MS_CFG_TIME,    /* int64_t milliseconds: "250ms", "30s", "5m", "1h", "7d"; bare = seconds */
    MS_CFG_STRLIST, /* struct ms_strlist: comma-separated, items trimmed, empty items refused;
                     * an empty value on an optional key is an empty list */
    MS_CFG_PREFIX,  /* struct ms_kvlist: every key starting with name (e.g. "kafka.") */
};

#define MS_CFG_REQUIRED 0x1u /* missing key is an error */
#define MS_CFG_SECRET   0x2u /* value redacted in dumps and scrubbed from every log line */

struct ms_config_map {
    const char *name;
    enum ms_cfg_type type;
    unsigned flags;
    const char *def; /* default as text, parsed like a user value; NULL = none */
    int64_t min;     /* INT/SIZE/TIME range, checked when min < max */
    int64_t max;
    const char *const *choices; /* STR/STRLIST: NULL-terminated allowed values, or NULL */
    size_t offset;              /* offsetof() the field in the plugin's ctx */
    const char *desc;           /* one line; feeds --help and the example config */
};

/* Owns its items. */
struct ms_strlist {
    char **items;
    size_t n;
};

/* Owns keys (prefix stripped) and values. */
struct ms_kvlist {
    char **keys;
    char **values;
    size_t n;
};

struct ms_config_entry {
    char *key;
    char *value; /* raw text from the file: ${ENV} and @file are expanded when applied */
    int line;
    bool used; /* claimed by a config map; unclaimed keys are refused as unknown */
};

struct ms_config_section {
    char *name; /* "service", "input.mimecast-eu", "output.splunk" */
    char *kind; /* "service", "input" or "output" */
    char *inst; /* instance name after the dot; "" for service */
    int line;
    struct ms_config_entry *entries;
    size_t n_entries;
};

/* A loaded file. Owns everything it points to. */
struct ms_config {
    char *path;
    struct ms_config_section *sections;
    size_t n_sections;
};

/* Collected refusals, one formatted message each ("file:line: [section] key: why"). */
struct ms_cfg_errors {
    char **msgs;
    size_t n;
};

/*
 * Reads and parses path. Syntax errors, unknown sections and duplicate keys or sections go into
 * errs. Returns MS_OK with *out set (caller frees with ms_config_destroy), or MS_EINVAL / MS_EIO
 * with *out NULL and the reasons in errs.
 */
int ms_config_load(const char *path, struct ms_config **out, struct ms_cfg_errors *errs);
void ms_config_destroy(struct ms_config *cfg);

/* Returns the section (borrowed) or NULL. inst is ignored for "service". */
struct ms_config_section *ms_config_find(struct ms_config *cfg, const char *kind, const char *inst);

/* Returns the raw value of key in sec (borrowed) without marking it used, or NULL. */
const char *ms_config_peek(const struct ms_config_section *sec, const char *key);

/*
 * Applies several maps to one section: maps[i] fills ctxs[i]. Values are expanded, typed,
 * range-checked; secrets are registered with the log scrubber. Afterwards every key that no map
 * claimed is refused as unknown (with a "did you mean" hint). On refusal the fields already set
 * stay set; free them with ms_config_map_free(). sec may be NULL (all defaults).
 * Returns MS_OK or MS_EINVAL (reasons appended to errs).
 */
int ms_config_apply(const struct ms_config *cfg,
                    struct ms_config_section *sec,
                    const struct ms_config_map *const *maps,
                    void *const *ctxs,
                    size_t n_maps,
                    struct ms_cfg_errors *errs);

/* Frees what ms_config_apply() stored in ctx (secrets are zeroed first). */
void ms_config_map_free(const struct ms_config_map *map, void *ctx);

/* Prints "key = value" for each map key from ctx; secrets print as "<redacted>". */
void ms_config_map_dump(const struct ms_config_map *map, const void *ctx, FILE *out);

/* Parsers shared with plugins and tests. Return MS_OK or MS_EINVAL. */
int ms_parse_duration_ms(const char *s, int64_t *out);
int ms_parse_size(const char *s, int64_t *out);
int ms_parse_bool(const char *s, bool *out);
int ms_parse_int(const char *s, int64_t *out);

/*
 * Expands ${VAR} (from the environment; VAR is [A-Z_][A-Z0-9_]*: other ${...} stay literal, e.g. a
 * topic template's ${source_type}; "$$" is a literal '$') and a leading "@/path" (the file's
 * content, trailing newlines trimmed, at most 64 KiB). Returns MS_OK with *out malloc'ed, or
 * MS_EINVAL with a reason in why.
 */
int ms_config_expand(const char *raw, char **out, char *why, size_t why_len);

/* Appends one formatted message. */
void ms_cfg_errors_add(struct ms_cfg_errors *errs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void ms_cfg_errors_free(struct ms_cfg_errors *errs);

void ms_strlist_free(struct ms_strlist *l);
void ms_kvlist_free(struct ms_kvlist *l);
bool ms_strlist_contains(const struct ms_strlist *l, const char *s);

/* Frees a string after zeroing it (for secrets). NULL-safe. */
void ms_secret_free(char *s);

#endif
