/*
 * A JSONPath subset for mapping files: "$" (the record), ".name" and "['name']" (object member),
 * "[N]" (array element; negative counts from the end), "[*]" and ".*" (every element of an array
 * or every member value of an object). A path without a wildcard yields at most one value; a path
 * with one yields the list of every value it reaches, in document order.
 */
#ifndef MS_JPATH_H
#define MS_JPATH_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

struct ms_jpath;

/*
 * Compiles text. Returns the path (caller destroys), or NULL with the reason in why (including the
 * character offset of the fault) when text is not a path of the subset or memory ran out.
 */
struct ms_jpath *ms_jpath_compile(const char *text, char *why, size_t why_len);
void ms_jpath_destroy(struct ms_jpath *p);

/* True when text looks like a path ("$" followed by nothing, '.' or '['). */
bool ms_jpath_is_path_text(const char *text);

/*
 * Evaluates p on root (borrowed). Returns a new reference the caller puts: the value reached
 * (shared with root, not copied), or for a wildcard path a new array of every value reached
 * (NULL when none). JSON null and missing members both give NULL. Never fails on odd data:
 * a member of a non-object, an index past the end, a key on an array all give NULL.
 */
struct json_object *ms_jpath_eval(const struct ms_jpath *p, struct json_object *root);

/* True when p contains a wildcard (its result is a list). */
bool ms_jpath_is_multi(const struct ms_jpath *p);

/* The member name of p's first step, or NULL when p starts otherwise (borrowed from p). */
const char *ms_jpath_first_key(const struct ms_jpath *p);

/* The text p was compiled from (borrowed from p). */
const char *ms_jpath_text(const struct ms_jpath *p);

#endif
