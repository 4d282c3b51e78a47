/* Atomic small-file writes and cursor files. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_buf.h"
#include "ms_err.h"
#include "ms_state.h"

#define STATE_FILE_MAX (1024 * 1024)

int ms_mkdir_p(const char *dir)
{
    char path[PATH_MAX];
    size_t i;
    int n;

    n = snprintf(path, sizeof(path), "%s", dir);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return MS_EIO;
    }
    for (i = 1; path[i]; i++) {
        if (path[i] != '/') {
            continue;
        }
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            return MS_EIO;
        }
        path[i] = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        return MS_EIO;
    }
    return MS_OK;
}

static int tmp_path(const char *path, char *out, size_t len)
{
    int n = snprintf(out, len, "%s.tmp", path);

    if (n < 0 || (size_t)n >= len) {
        errno = ENAMETOOLONG;
        return MS_EIO;
    }
    return MS_OK;
}

int ms_atomic_write_prepare(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX];
    const char *p = data;
    int fd;
    int saved;

    if (tmp_path(path, tmp, sizeof(tmp)) != MS_OK) {
        return MS_EIO;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return MS_EIO;
    }
    while (len > 0) {
        ssize_t w = write(fd, p, len);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            goto fail;
        }
        p += w;
        len -= (size_t)w;
    }
    if (fsync(fd) != 0) {
        goto fail;
    }
    if (close(fd) != 0) {
        return MS_EIO;
    }
    return MS_OK;
fail:
    saved = errno;
    close(fd);
    errno = saved;
    return MS_EIO;
}

int ms_atomic_write_commit(const char *path)
{
    char tmp[PATH_MAX];
    char dir[PATH_MAX];
    int fd;
    int ret = MS_OK;

    if (tmp_path(path, tmp, sizeof(tmp)) != MS_OK) {
        return MS_EIO;
    }
    if (rename(tmp, path) != 0) {
        return MS_EIO;
    }
    snprintf(dir, sizeof(dir), "%s", path);
    fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return MS_EIO;
    }
    if (fsync(fd) != 0) {
        ret = MS_EIO;
    }
    close(fd);
    return ret;
}

int ms_atomic_write(const char *path, const void *data, size_t len)
{
    int ret = ms_atomic_write_prepare(path, data, len);

    if (ret != MS_OK) {
        return ret;
    }
    return ms_atomic_write_commit(path);
}

static int cursor_path(const char *state_dir, const char *name, char *out, size_t len)
{
    int n = snprintf(out, len, "%s/inputs/%s.json", state_dir, name);

    if (n < 0 || (size_t)n >= len) {
        errno = ENAMETOOLONG;
        return MS_EIO;
    }
    return MS_OK;
}

int ms_state_load(const char *state_dir, const char *name, struct json_object **out)
{
    char path[PATH_MAX];
    char chunk[4096];
    struct ms_buf buf;
    size_t n;
    FILE *f;
    int ret = MS_OK;

    *out = NULL;
    if (cursor_path(state_dir, name, path, sizeof(path)) != MS_OK) {
        return MS_EIO;
    }
    f = fopen(path, "r");
    if (!f) {
        return errno == ENOENT ? MS_EOF : MS_EIO;
    }
    ms_buf_init(&buf, STATE_FILE_MAX);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        ret = ms_buf_append(&buf, chunk, n);
        if (ret != MS_OK) {
            ret = MS_EINVAL;
            goto out;
        }
    }
    if (ferror(f)) {
        ret = MS_EIO;
        goto out;
    }
    *out = json_tokener_parse(ms_buf_cstr(&buf));
    if (!*out || !json_object_is_type(*out, json_type_object)) {
        json_object_put(*out);
        *out = NULL;
        ret = MS_EINVAL;
    }
out:
    fclose(f);
    ms_buf_free(&buf);
    return ret;
}

int ms_state_save(const char *state_dir, const char *name, struct json_object *cursor)
{
    char path[PATH_MAX];
    char dir[PATH_MAX];
    const char *text;
    size_t len;

    snprintf(dir, sizeof(dir), "%s/inputs", state_dir);
    if (ms_mkdir_p(dir) != MS_OK) {
        return MS_EIO;
    }
    if (cursor_path(state_dir, name, path, sizeof(path)) != MS_OK) {
        return MS_EIO;
    }
    text = json_object_to_json_string_length(cursor, JSON_C_TO_STRING_PLAIN, &len);
    return ms_atomic_write(path, text, len);
}
