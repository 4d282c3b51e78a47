/* Dead letters: events a receiver refused for good are kept on disk, never silently dropped. */
#ifndef MS_DEADLETTER_H
#define MS_DEADLETTER_H

#include "ms_event.h"
#include "ms_plugin.h"

/*
 * Appends {"time","output","reason","event"} as one JSON line to
 * "<state_dir>/deadletter/<instance>.jsonl" and fsyncs it; "event" is the whole event, parsed from
 * ev->text when the output read less of it (ms_event_view). Logs the event id and reason at error
 * level (once, here). Returns MS_OK or MS_EIO.
 */
int ms_deadletter_write(const struct ms_instance *ins,
                        const struct ms_event *ev,
                        const char *reason);

#endif
