/*
 * Mapping expressions and conditions: compiled from the JSON of a mapping file once (with every
 * fault reported as file + JSON pointer), evaluated per record without re-reading the mapping.
 *
 * Expression forms (mappings/README.md is the user documentation):
 *   "$.a.b[0]"                    a path (ms_jpath.h); "$" alone is the record
 *   "text", 7, true, null         a constant (a string not starting with "$." / "$[")
 *   {"const": any JSON}           a constant, also for text that starts with '$'
 *   {"<function>": argument, "<option>": ..., ...}   one function call (see ms_expr.c's table)
 * Conditions (drop rules, "if"):
 *   {"path": P | "value": EXPR, one of "equals": C | "in": [C...] | "contains": "text" |
 *    "matches": "regex" | "missing": true|false, optional "ignore_case": true, "not": true}
 *   {"all": [COND...]} | {"any": [COND...]}  (both also take "not")
 * A value is empty when it is missing, null, "", [] or {}.
 */
#ifndef MS_EXPR_H
#define MS_EXPR_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "../core/ms_config.h"

struct ms_expr;
struct ms_cond;

/*
 * Where the loader is: the file and the JSON pointer of the value being compiled, so that every
 * refusal names both ("FILE: /event/action/lookup: unknown table 'acton'").
 */
struct ms_mload {
    const char *file;           /* borrowed */
    struct ms_cfg_errors *errs; /* refusals are appended here */
    struct json_object *tables; /* borrowed: the file's "tables" object, or NULL */
    char ptr[1024];             /* current JSON pointer (RFC 6901), NUL-terminated */
    size_t len;
    unsigned n_errors;
};

/* Starts a load context for file. */
void ms_mload_init(struct ms_mload *ld, const char *file, struct ms_cfg_errors *errs);

/* Appends "/key" (escaped per RFC 6901) or "/index". Return the previous length for pop. */
size_t ms_mload_push(struct ms_mload *ld, const char *key);
size_t ms_mload_push_index(struct ms_mload *ld, size_t index);
void ms_mload_pop(struct ms_mload *ld, size_t len);

/* Appends one refusal "FILE: POINTER: message" to the errors. */
void ms_mload_error(struct ms_mload *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The closest of candidates (NULL-terminated) to word within 2 edits, or NULL. */
const char *ms_mload_suggest(const char *word, const char *const *candidates);

/*
 * Compiles the expression at the current pointer. Returns it (caller destroys) or NULL after
 * refusing it into ld (and on allocation failure).
 */
struct ms_expr *ms_expr_compile(struct ms_mload *ld, struct json_object *json);
void ms_expr_destroy(struct ms_expr *e);

/*
 * Evaluates e on rec (borrowed). Returns a new reference the caller puts, or NULL when the value is
 * missing or null. Values taken from rec, constants and table entries are shared, not copied;
 * computed values are new objects. Never fails on odd data: a function given a value it cannot use
 * gives NULL.
 */
struct json_object *ms_expr_eval(const struct ms_expr *e, struct json_object *rec);

/*
 * Calls fn for every constant value e can produce without reading the record (constants, table
 * values and defaults, then/else branches): lets the loader check them against a vocabulary.
 */
void ms_expr_foreach_const(const struct ms_expr *e,
                           void (*fn)(struct json_object *value, void *arg),
                           void *arg);

/* Compiles a condition at the current pointer; extra lists keys also allowed (e.g. "reason"). */
struct ms_cond *
ms_cond_compile(struct ms_mload *ld, struct json_object *json, const char *const *extra);
void ms_cond_destroy(struct ms_cond *c);
bool ms_cond_eval(const struct ms_cond *c, struct json_object *rec);

/* True when v is missing, null, "", [] or {}. */
bool ms_value_empty(struct json_object *v);

/*
 * The text form of a scalar: strings as they are, numbers as JSON prints them, booleans as
 * "true"/"false". Writes into buf when it must format; returns a pointer valid as long as v and
 * buf, or NULL for NULL, arrays and objects.
 */
const char *ms_value_text(struct json_object *v, char *buf, size_t buf_len, size_t *len_out);

/* The number in v (a number, or a string holding one). Returns false when there is none. */
bool ms_value_number(struct json_object *v, double *out);

#endif
