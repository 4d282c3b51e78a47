/* Dead-letter files per output instance. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../mapping/ms_mapping.h"
#include "ms_buf.h"
#include "ms_deadletter.h"
#include "ms_err.h"
#include "ms_log.h"
#include "ms_state.h"

int ms_deadletter_write(const struct ms_instance *ins,
                        const struct ms_event *ev,
                        const char *reason)
{
    char dir[PATH_MAX];
    char path[PATH_MAX + 64];
    char now[32];
    struct json_object *line;
    struct json_object *full;
    const char *text;
    size_t len;
    int fd;
    int ret = MS_OK;

    if (!ins->rt || !ins->rt->state_dir) {
        ms_log_error(ins, "no state directory: event %s refused (%s) is LOST", ev->id, reason);
        return MS_EIO;
    }
    snprintf(dir, sizeof(dir), "%s/deadletter", ins->rt->state_dir);
    snprintf(path, sizeof(path), "%s/%s.jsonl", dir, ins->name);
    if (ms_mkdir_p(dir) != MS_OK) {
        ms_log_error(ins, "cannot create %s: %s; event %s refused (%s) is LOST", dir,
                     strerror(errno), ev->id, reason);
        return MS_EIO;
    }
    ms_time_now_iso(now, sizeof(now));
    line = json_object_new_object();
    json_object_object_add(line, "time", json_object_new_string(now));
    json_object_object_add(line, "output", json_object_new_string(ins->name));
    json_object_object_add(line, "reason", json_object_new_string(reason));
    /* An output that read less than the whole event (ms_event_view) still keeps all of it. */
    full = ev->text && (!ev->ev || ev->partial) ? json_tokener_parse(ev->text) : NULL;
    json_object_object_add(line, "event", full ? full : json_object_get(ev->ev));
    text = json_object_to_json_string_length(line, JSON_C_TO_STRING_PLAIN, &len);
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
        fsync(fd) != 0) {
        ms_log_error(ins, "cannot write dead letter %s: %s; event %s refused (%s) is LOST", path,
                     strerror(errno), ev->id, reason);
        ret = MS_EIO;
    }
    else {
        ms_log_error(ins, "event %s refused by the receiver (%s); kept in %s", ev->id, reason,
                     path);
    }
    if (fd >= 0) {
        close(fd);
    }
    json_object_put(line);
    return ret;
}
