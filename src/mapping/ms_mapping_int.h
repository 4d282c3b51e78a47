/* Mapping stage internals shared by the loader (ms_mapping_load.c) and the mapper (ms_mapping.c).
 */
#ifndef MS_MAPPING_INT_H
#define MS_MAPPING_INT_H

#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdint.h>

#include "../core/ms_buf.h"
#include "../core/ms_config.h"
#include "ms_expr.h"
#include "ms_jpath.h"
#include "ms_mapping.h"

/* How a normalized key's value is coerced before it enters the event. */
enum ms_nk_type {
    NK_STR,      /* string: numbers and booleans printed; a list gives its first scalar */
    NK_STRS,     /* string, or list of strings (recipient) */
    NK_SEVERITY, /* integer 0-10 (rounded, clamped); a list gives its highest number */
    NK_SIZE,     /* integer >= 0 (bytes) */
    NK_ACTION,   /* one word of the CIM Email vocabulary */
    NK_IP,       /* a string that parses as an IPv4 or IPv6 address */
};

struct ms_nk_desc {
    const char *name;
    enum ms_nk_type type;
};

/* The normalized keys a mapping file may set under "event", in the order events carry them. */
#define MS_NK_COUNT      18
#define MS_NK_ALERT_TYPE 0
extern const struct ms_nk_desc ms_nkeys[MS_NK_COUNT];

/* The CIM Email action vocabulary (NULL-terminated). */
extern const char *const ms_cim_actions[];

struct ms_drop_rule {
    struct ms_cond *cond;
    char *reason;
    uint64_t hits;
    uint64_t hits_reported;
};

struct ms_field {
    char *name;
    struct ms_expr *expr;
};

#define MS_UNTAGGED_NAMES 8 /* distinct alert types without a MITRE row named in the summary */

struct ms_untagged {
    char *name;
    uint64_t count;
};

struct ms_mapping_counts {
    uint64_t mapped;
    uint64_t dropped;
    uint64_t rejected;
    uint64_t untagged;
};

/* One loaded mapping file. */
struct ms_mapping {
    char *file; /* path, for messages */
    char *source_type;
    struct json_object *st_obj;    /* source_type as a JSON string (shared into events) */
    struct json_object *vendor;    /* shared into events */
    struct json_object *product;   /* shared into events */
    struct ms_jpath *records_path; /* where an API page keeps its records, or NULL */
    struct ms_expr **id;
    size_t n_id;
    struct ms_expr *time;
    struct ms_drop_rule *drops;
    size_t n_drops;
    struct ms_expr *nk[MS_NK_COUNT];
    struct ms_field *fields;
    size_t n_fields;
    struct ms_mapping_counts counts;
    struct ms_mapping_counts reported;
    struct ms_untagged untagged[MS_UNTAGGED_NAMES];
    size_t n_untagged;
    uint64_t untagged_other;
};

#define MS_GENERIC_TYPES 16 /* source types without a file, counted by name */

struct ms_generic {
    char name[64];
    struct ms_mapping_counts counts;
    struct ms_mapping_counts reported;
};

struct ms_mapping_set {
    char *dir;
    struct ms_mapping *maps;
    size_t n_maps;
    struct json_object *mitre; /* alert type -> {technique_id, technique_name}, or NULL */
    char *mitre_file;
    struct ms_generic generic[MS_GENERIC_TYPES];
    size_t n_generic;
    uint64_t generic_other;
    int64_t fixed_now_ms;    /* 0 = the real clock */
    int64_t next_summary_ms; /* monotonic */
    size_t last;             /* index of the mapping used last (lookup cache) */
    struct ms_buf idbuf;     /* scratch for the vendor id */
    EVP_MD_CTX *md;          /* reused SHA-256 context */
};

/* Loads one mapping file into m (zeroed by the caller). Refusals go to errs. MS_OK / MS_EINVAL. */
int ms_mapping_load_file(struct ms_mapping *m,
                         const char *path,
                         const char *stem,
                         struct ms_cfg_errors *errs);

/* Loads mitre.json into *out (an object: alert type -> mitre object). MS_OK / MS_EINVAL. */
int ms_mapping_load_mitre(const char *path, struct json_object **out, struct ms_cfg_errors *errs);

/* Frees what m holds (not m itself). Safe on a half-loaded mapping. */
void ms_mapping_free(struct ms_mapping *m);

#endif
