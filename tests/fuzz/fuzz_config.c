/* libFuzzer target: the config loader, value expansion and typed config maps. */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ms_config.h"
#include "core/ms_err.h"
#include "core/ms_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_ctx {
    char *url;
    char *secret;
    int64_t count;
    int64_t interval;
    int64_t size;
    bool flag;
    struct ms_strlist list;
    struct ms_kvlist pass;
};

static const char *const choices[] = {"a", "b", NULL};

static const struct ms_config_map fuzz_map[] = {
    {.name = "url", .type = MS_CFG_STR, .offset = offsetof(struct fuzz_ctx, url), .desc = "u"},
    {.name = "secret",
     .type = MS_CFG_STR,
     .flags = MS_CFG_SECRET,
     .offset = offsetof(struct fuzz_ctx, secret),
     .desc = "s"},
    {.name = "count",
     .type = MS_CFG_INT,
     .min = -5,
     .max = 5,
     .offset = offsetof(struct fuzz_ctx, count),
     .desc = "c"},
    {.name = "interval",
     .type = MS_CFG_TIME,
     .def = "1s",
     .offset = offsetof(struct fuzz_ctx, interval),
     .desc = "i"},
    {.name = "size", .type = MS_CFG_SIZE, .offset = offsetof(struct fuzz_ctx, size), .desc = "z"},
    {.name = "flag", .type = MS_CFG_BOOL, .offset = offsetof(struct fuzz_ctx, flag), .desc = "f"},
    {.name = "list",
     .type = MS_CFG_STRLIST,
     .choices = choices,
     .offset = offsetof(struct fuzz_ctx, list),
     .desc = "l"},
    {.name = "kafka.",
     .type = MS_CFG_PREFIX,
     .offset = offsetof(struct fuzz_ctx, pass),
     .desc = "k"},
    {0},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/msfwd-fuzz-config-XXXXXX";
    struct ms_cfg_errors errs = {NULL, 0};
    struct ms_config *cfg = NULL;
    size_t i;
    int fd;

    /* "@/dev/stdin" and friends would block: file values are covered by the unit tests. */
    if (memchr(data, '@', size)) {
        return 0;
    }
    fd = mkstemp(path);
    if (fd < 0) {
        return 0;
    }
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    if (ms_config_load(path, &cfg, &errs) == MS_OK) {
        for (i = 0; i < cfg->n_sections; i++) {
            const struct ms_config_map *maps[1] = {fuzz_map};
            struct fuzz_ctx ctx;
            void *ctxs[1] = {&ctx};

            memset(&ctx, 0, sizeof(ctx));
            ms_config_apply(cfg, &cfg->sections[i], maps, ctxs, 1, &errs);
            ms_config_map_free(fuzz_map, &ctx);
        }
    }
    ms_config_destroy(cfg);
    ms_cfg_errors_free(&errs);
    ms_log_clear_secrets();
    unlink(path);
    return 0;
}
