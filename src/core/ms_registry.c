/* Plugin tables. Adding a vendor or an output adds one line here and nothing else in the core. */
#include <config.h>

#include <string.h>

#include "ms_registry.h"

extern const struct ms_input_plugin in_replay_plugin;
extern const struct ms_input_plugin in_mimecast_plugin;
extern const struct ms_input_plugin in_ser_plugin;
extern const struct ms_input_plugin in_pps_plugin;
extern const struct ms_output_plugin out_file_plugin;
extern const struct ms_output_plugin out_syslog_plugin;
extern const struct ms_output_plugin out_hec_plugin;
extern const struct ms_output_plugin out_kafka_plugin;

const struct ms_input_plugin *const ms_input_plugins[] = {
    &in_replay_plugin,
    &in_mimecast_plugin,
    &in_ser_plugin,
    &in_pps_plugin,
    NULL,
};

const struct ms_output_plugin *const ms_output_plugins[] = {
    &out_file_plugin,
    &out_syslog_plugin,
    &out_hec_plugin,
    &out_kafka_plugin,
    NULL,
};

const struct ms_input_plugin *ms_registry_input(const char *name)
{
    size_t i;

    for (i = 0; ms_input_plugins[i]; i++) {
        if (strcmp(ms_input_plugins[i]->name, name) == 0) {
            return ms_input_plugins[i];
        }
    }
    return NULL;
}

const struct ms_output_plugin *ms_registry_output(const char *name)
{
    size_t i;

    for (i = 0; ms_output_plugins[i]; i++) {
        if (strcmp(ms_output_plugins[i]->name, name) == 0) {
            return ms_output_plugins[i];
        }
    }
    return NULL;
}
