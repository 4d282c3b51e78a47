/* The registry: the one table of every input and output plugin the binary knows. */
#ifndef MS_REGISTRY_H
#define MS_REGISTRY_H

#include "ms_plugin.h"

/* NULL-terminated tables; entries are static. */
extern const struct ms_input_plugin *const ms_input_plugins[];
extern const struct ms_output_plugin *const ms_output_plugins[];

/* Returns the plugin with that name (borrowed, static) or NULL. */
const struct ms_input_plugin *ms_registry_input(const char *name);
const struct ms_output_plugin *ms_registry_output(const char *name);

#endif
