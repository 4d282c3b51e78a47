/* libFuzzer target: spool recovery and the spool reader on an arbitrary segment file. */
#include <config.h>

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ms_err.h"
#include "core/ms_log.h"
#include "core/ms_spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char header[16] = {'M', 'S', 'F', 'W', 'D', 'S', 'P', '1'};
    struct ms_spool_opts opts = {.max_bytes = 1 << 30, .segment_bytes = 1 << 20, .fsync = false};
    char dir[] = "/tmp/msfwd-fuzz-spool-XXXXXX";
    char path[sizeof(dir) + 64];
    struct ms_spool_reader *r;
    struct ms_spool *sp;
    struct ms_batch b;
    FILE *f;
    int rounds = 0;

    static FILE *devnull;

    if (!devnull) {
        devnull = fopen("/dev/null", "w");
        ms_log_set_stream(devnull);
    }
    if (!mkdtemp(dir)) {
        return 0;
    }
    snprintf(path, sizeof(path), "%s/0000000000000000.seg", dir);
    f = fopen(path, "w");
    if (f) {
        /* A valid header most of the time, so the frames behind it get exercised. */
        if (size == 0 || data[0] != 0xff) {
            fwrite(header, 1, sizeof(header), f);
        }
        fwrite(data, 1, size, f);
        fclose(f);
    }
    sp = ms_spool_open(dir, &opts, NULL);
    if (sp) {
        r = ms_spool_reader_open(sp, "fuzz");
        if (r && ms_batch_init(&b, 16) == MS_OK) {
            while (ms_spool_read(r, &b, 1 << 20, 0) == MS_OK && rounds++ < 1000) {
                ms_batch_reset(&b);
            }
            ms_batch_free(&b);
            ms_spool_reader_commit(r);
        }
        ms_spool_reader_close(r);
        ms_spool_close(sp);
    }
    if (nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS) != 0) {
        abort(); /* leftovers would fill the disk over a long run */
    }
    return 0;
}
