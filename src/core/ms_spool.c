/* Durable append-only spool with per-reader committed positions. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "ms_buf.h"
#include "ms_err.h"
#include "ms_log.h"
#include "ms_spool.h"
#include "ms_state.h"

#define SEG_MAGIC     "MSFWDSP1"
#define SEG_HDR_LEN   16u
#define FRAME_HDR_LEN 8u
#define READ_AHEAD    ((size_t)256 * 1024) /* reader: bytes read per system call, at least */

struct seg {
    uint64_t base; /* global position of byte 0 of the file */
    uint64_t size; /* file size, header included */
};

struct ms_spool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char dir[PATH_MAX - 256]; /* bounded so that every derived path fits in PATH_MAX */
    struct ms_spool_opts opts;
    struct seg *segs; /* sorted by base; the last one is the active (written) segment */
    size_t n_segs;
    int wfd;      /* active segment, opened for append */
    uint64_t end; /* global position after the last published record */
    int64_t used; /* bytes in all segments */
    struct ms_spool_reader **readers;
    size_t n_readers;
    struct ms_buf frames; /* the writer's reusable framing buffer (one writer thread) */
};

struct ms_spool_reader {
    struct ms_spool *sp;
    char name[64];
    char pos_path[PATH_MAX];
    uint64_t committed;
    uint64_t read_pos;
    int fd;                  /* segment file being read, or -1 */
    uint64_t fd_base;        /* base of that segment */
    enum ms_event_view view; /* how much of each event ms_spool_read decodes */
    unsigned char *ra;       /* read-ahead: published bytes [ra_pos, ra_pos + ra_len) */
    size_t ra_len;
    size_t ra_cap;
    uint64_t ra_pos;
};

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u64(unsigned char *p, uint64_t v)
{
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get_u64(const unsigned char *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static void seg_path(const struct ms_spool *sp, uint64_t base, char *out, size_t len)
{
    snprintf(out, len, "%s/%016" PRIx64 ".seg", sp->dir, base);
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int ret = MS_OK;

    if (fd < 0) {
        return MS_EIO;
    }
    if (fsync(fd) != 0) {
        ret = MS_EIO;
    }
    close(fd);
    return ret;
}

static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    char *p = buf;

    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return MS_EIO;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return MS_OK;
}

static int write_full(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return MS_EIO;
        }
        p += n;
        len -= (size_t)n;
    }
    return MS_OK;
}

/* Copies the bytes being cut into "<seg>.corrupt" so an operator can inspect them. */
static void keep_cut_bytes(const char *path, int fd, uint64_t from, uint64_t to)
{
    char aside[PATH_MAX + 16];
    char chunk[8192];
    int out;

    snprintf(aside, sizeof(aside), "%s.corrupt", path);
    out = open(aside, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (out < 0) {
        return;
    }
    while (from < to) {
        size_t n = to - from < sizeof(chunk) ? (size_t)(to - from) : sizeof(chunk);

        if (pread_full(fd, chunk, n, from) != MS_OK || write_full(out, chunk, n) != MS_OK) {
            break;
        }
        from += n;
    }
    close(out);
}

/*
 * Validates the records of one segment from its header on; cuts at the first torn or corrupt
 * frame. Returns MS_OK (seg->size updated) or MS_EIO.
 */
static int seg_recover(struct ms_spool *sp, struct seg *seg, struct ms_spool_recovery *rec)
{
    char path[PATH_MAX];
    unsigned char hdr[SEG_HDR_LEN];
    unsigned char fh[FRAME_HDR_LEN];
    struct ms_buf payload;
    struct stat st;
    uint64_t off = SEG_HDR_LEN;
    uint64_t records = 0;
    const char *why = NULL;
    int fd;
    int ret = MS_OK;

    seg_path(sp, seg->base, path, sizeof(path));
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        ms_log_error(NULL, "spool: cannot open segment %s: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return MS_EIO;
    }
    ms_buf_init(&payload, MS_CAP_EVENT);
    if ((uint64_t)st.st_size < SEG_HDR_LEN || pread_full(fd, hdr, SEG_HDR_LEN, 0) != MS_OK ||
        memcmp(hdr, SEG_MAGIC, 8) != 0 || get_u64(hdr + 8) != seg->base) {
        why = "bad segment header";
        off = 0;
        goto cut;
    }
    while (off < (uint64_t)st.st_size) {
        uint32_t len;
        uint32_t crc;

        if ((uint64_t)st.st_size - off < FRAME_HDR_LEN) {
            why = "torn frame header";
            goto cut;
        }
        if (pread_full(fd, fh, FRAME_HDR_LEN, off) != MS_OK) {
            why = "unreadable frame header";
            goto cut;
        }
        len = get_u32(fh);
        crc = get_u32(fh + 4);
        if (len > MS_CAP_EVENT || off + FRAME_HDR_LEN + len > (uint64_t)st.st_size) {
            why = len > MS_CAP_EVENT ? "corrupt frame length" : "torn record";
            goto cut;
        }
        ms_buf_reset(&payload);
        if (ms_buf_append(&payload, NULL, 0) != MS_OK || payload.max < len) {
            why = "record too large";
            goto cut;
        }
        if (len > 0) {
            char *tmp = malloc(len);

            if (!tmp) {
                ret = MS_ENOMEM;
                goto out;
            }
            if (pread_full(fd, tmp, len, off + FRAME_HDR_LEN) != MS_OK) {
                free(tmp);
                why = "unreadable record";
                goto cut;
            }
            if ((uint32_t)crc32(0L, (const Bytef *)tmp, len) != crc) {
                free(tmp);
                why = "CRC mismatch";
                goto cut;
            }
            free(tmp);
        }
        off += FRAME_HDR_LEN + len;
        records++;
    }
    seg->size = off;
    rec->records += records;
    goto out;
cut:
    keep_cut_bytes(path, fd, off, (uint64_t)st.st_size);
    rec->bytes_cut += (uint64_t)st.st_size - off;
    rec->segments_cut++;
    rec->records += records;
    ms_log_error(NULL,
                 "spool: segment %s: %s at offset %" PRIu64 " after %" PRIu64
                 " good records; cut %" PRIu64 " bytes (kept in %s.corrupt)",
                 path, why, off, records, (uint64_t)st.st_size - off, path);
    if (off < SEG_HDR_LEN) {
        /* Nothing usable: rewrite a clean header so the segment can take new records. */
        memcpy(hdr, SEG_MAGIC, 8);
        put_u64(hdr + 8, seg->base);
        if (ftruncate(fd, 0) != 0 || pwrite(fd, hdr, SEG_HDR_LEN, 0) != (ssize_t)SEG_HDR_LEN) {
            ret = MS_EIO;
            goto out;
        }
        off = SEG_HDR_LEN;
    }
    else if (ftruncate(fd, (off_t)off) != 0) {
        ret = MS_EIO;
        goto out;
    }
    if (fsync(fd) != 0) {
        ret = MS_EIO;
        goto out;
    }
    seg->size = off;
out:
    ms_buf_free(&payload);
    close(fd);
    return ret;
}

static int seg_cmp(const void *a, const void *b)
{
    const struct seg *x = a;
    const struct seg *y = b;

    return x->base < y->base ? -1 : x->base > y->base;
}

static int list_segments(struct ms_spool *sp)
{
    struct dirent *de;
    DIR *d = opendir(sp->dir);

    if (!d) {
        return MS_EIO;
    }
    while ((de = readdir(d)) != NULL) {
        char *end;
        uint64_t base;
        struct seg *segs;

        if (strlen(de->d_name) != 20 || strcmp(de->d_name + 16, ".seg") != 0) {
            continue;
        }
        errno = 0;
        base = strtoull(de->d_name, &end, 16);
        if (errno || end != de->d_name + 16) {
            continue;
        }
        segs = realloc(sp->segs, (sp->n_segs + 1) * sizeof(*segs));
        if (!segs) {
            closedir(d);
            return MS_ENOMEM;
        }
        sp->segs = segs;
        sp->segs[sp->n_segs].base = base;
        sp->segs[sp->n_segs].size = 0;
        sp->n_segs++;
    }
    closedir(d);
    if (sp->n_segs > 1) {
        qsort(sp->segs, sp->n_segs, sizeof(*sp->segs), seg_cmp);
    }
    return MS_OK;
}

/* Creates a new empty segment at base and makes it the active one. Lock held or single-threaded. */
static int seg_create(struct ms_spool *sp, uint64_t base)
{
    char path[PATH_MAX];
    unsigned char hdr[SEG_HDR_LEN];
    struct seg *segs;
    int fd;

    seg_path(sp, base, path, sizeof(path));
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        return MS_EIO;
    }
    memcpy(hdr, SEG_MAGIC, 8);
    put_u64(hdr + 8, base);
    if (write_full(fd, hdr, SEG_HDR_LEN) != MS_OK || fsync(fd) != 0 ||
        fsync_dir(sp->dir) != MS_OK) {
        close(fd);
        unlink(path);
        return MS_EIO;
    }
    segs = realloc(sp->segs, (sp->n_segs + 1) * sizeof(*segs));
    if (!segs) {
        close(fd);
        unlink(path);
        return MS_ENOMEM;
    }
    sp->segs = segs;
    sp->segs[sp->n_segs].base = base;
    sp->segs[sp->n_segs].size = SEG_HDR_LEN;
    sp->n_segs++;
    if (sp->wfd >= 0) {
        close(sp->wfd);
    }
    sp->wfd = fd;
    sp->end = base + SEG_HDR_LEN;
    sp->used += SEG_HDR_LEN;
    return MS_OK;
}

struct ms_spool *
ms_spool_open(const char *dir, const struct ms_spool_opts *opts, struct ms_spool_recovery *rec_out)
{
    struct ms_spool_recovery rec;
    struct ms_spool *sp;
    char path[PATH_MAX];
    char readers_dir[PATH_MAX + 16];
    size_t i;
    struct seg *last;

    memset(&rec, 0, sizeof(rec));
    sp = calloc(1, sizeof(*sp));
    if (!sp) {
        return NULL;
    }
    pthread_mutex_init(&sp->lock, NULL);
    pthread_cond_init(&sp->cond, NULL);
    sp->wfd = -1;
    sp->opts = *opts;
    ms_buf_init(&sp->frames, (size_t)1 << 30);
    if (strlen(dir) >= sizeof(sp->dir)) {
        ms_log_error(NULL, "spool: directory path too long: %s", dir);
        goto fail;
    }
    snprintf(sp->dir, sizeof(sp->dir), "%s", dir);
    snprintf(readers_dir, sizeof(readers_dir), "%s/readers", dir);
    if (ms_mkdir_p(readers_dir) != MS_OK) {
        ms_log_error(NULL, "spool: cannot create %s: %s", readers_dir, strerror(errno));
        goto fail;
    }
    if (list_segments(sp) != MS_OK) {
        ms_log_error(NULL, "spool: cannot list %s: %s", dir, strerror(errno));
        goto fail;
    }
    for (i = 0; i < sp->n_segs; i++) {
        struct stat st;

        seg_path(sp, sp->segs[i].base, path, sizeof(path));
        if (stat(path, &st) != 0) {
            goto fail;
        }
        sp->segs[i].size = (uint64_t)st.st_size;
        /* Only the last segment can have a torn tail: older ones were fsynced before rolling.
         * Corruption elsewhere is caught by the CRC check when the record is read. */
        if (i + 1 == sp->n_segs && seg_recover(sp, &sp->segs[i], &rec) != MS_OK) {
            goto fail;
        }
        sp->used += (int64_t)sp->segs[i].size;
        /* A segment ends where the next one starts. If not, records were lost on disk (a file cut
         * short at a record boundary, or a segment file deleted): say so, readers cannot. */
        if (i > 0 && sp->segs[i - 1].base + sp->segs[i - 1].size < sp->segs[i].base) {
            seg_path(sp, sp->segs[i - 1].base, path, sizeof(path));
            ms_log_error(NULL,
                         "spool: segment %s ends at offset %" PRIu64 ", %" PRIu64
                         " bytes before the next segment starts: the records there are lost "
                         "(file cut short or a segment deleted); readers go on after them",
                         path, sp->segs[i - 1].size,
                         sp->segs[i].base - sp->segs[i - 1].base - sp->segs[i - 1].size);
        }
    }
    rec.segments = (unsigned)sp->n_segs;
    if (sp->n_segs == 0) {
        if (seg_create(sp, 0) != MS_OK) {
            ms_log_error(NULL, "spool: cannot create a segment in %s: %s", dir, strerror(errno));
            goto fail;
        }
    }
    else {
        last = &sp->segs[sp->n_segs - 1];
        seg_path(sp, last->base, path, sizeof(path));
        sp->wfd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (sp->wfd < 0) {
            ms_log_error(NULL, "spool: cannot open %s for writing: %s", path, strerror(errno));
            goto fail;
        }
        sp->end = last->base + last->size;
    }
    if (rec_out) {
        *rec_out = rec;
    }
    return sp;
fail:
    ms_spool_close(sp);
    return NULL;
}

void ms_spool_close(struct ms_spool *sp)
{
    if (!sp) {
        return;
    }
    if (sp->wfd >= 0) {
        close(sp->wfd);
    }
    free(sp->segs);
    free(sp->readers);
    ms_buf_free(&sp->frames);
    pthread_cond_destroy(&sp->cond);
    pthread_mutex_destroy(&sp->lock);
    free(sp);
}

static void gc_locked(struct ms_spool *sp);

/*
 * Lock held. True when every reader has passed everything appended and the active segment holds
 * records: its space can be had back by starting the next segment (the active one is never
 * deleted). Without this, a spool_max not much larger than spool_segment would stay full for good
 * once the active segment alone reached it, and the paused inputs would never resume.
 */
static bool active_drained_locked(const struct ms_spool *sp)
{
    size_t i;

    if (sp->n_readers == 0 || sp->segs[sp->n_segs - 1].size <= SEG_HDR_LEN) {
        return false;
    }
    for (i = 0; i < sp->n_readers; i++) {
        if (sp->readers[i]->committed < sp->end) {
            return false;
        }
    }
    return true;
}

bool ms_spool_full(struct ms_spool *sp)
{
    bool full;

    pthread_mutex_lock(&sp->lock);
    full = sp->used >= sp->opts.max_bytes && !active_drained_locked(sp);
    pthread_mutex_unlock(&sp->lock);
    return full;
}

int64_t ms_spool_used_bytes(struct ms_spool *sp)
{
    int64_t used;

    pthread_mutex_lock(&sp->lock);
    used = sp->used;
    pthread_mutex_unlock(&sp->lock);
    return used;
}

uint64_t ms_spool_end(struct ms_spool *sp)
{
    uint64_t end;

    pthread_mutex_lock(&sp->lock);
    end = sp->end;
    pthread_mutex_unlock(&sp->lock);
    return end;
}

int ms_spool_append(struct ms_spool *sp, const char *const *data, const size_t *lens, size_t n)
{
    struct ms_buf *frames = &sp->frames;
    unsigned char fh[FRAME_HDR_LEN];
    struct seg *active;
    size_t i;
    int ret = MS_OK;

    if (n == 0) {
        return MS_OK;
    }
    ms_buf_reset(frames);
    for (i = 0; i < n; i++) {
        if (lens[i] > MS_CAP_EVENT) {
            ms_log_error(NULL, "spool: event of %zu bytes exceeds the %u-byte record limit",
                         lens[i], MS_CAP_EVENT);
            ret = MS_EINVAL;
            goto out_nolock;
        }
        put_u32(fh, (uint32_t)lens[i]);
        put_u32(fh + 4, (uint32_t)crc32(0L, (const Bytef *)data[i], (uInt)lens[i]));
        if (ms_buf_append(frames, fh, FRAME_HDR_LEN) != MS_OK ||
            ms_buf_append(frames, data[i], lens[i]) != MS_OK) {
            ret = MS_ENOMEM;
            goto out_nolock;
        }
    }
    pthread_mutex_lock(&sp->lock);
    if (sp->used >= sp->opts.max_bytes && !active_drained_locked(sp)) {
        ret = MS_ETOOBIG;
        goto out;
    }
    active = &sp->segs[sp->n_segs - 1];
    if ((int64_t)active->size >= sp->opts.segment_bytes || sp->used >= sp->opts.max_bytes) {
        if (sp->opts.fsync && fsync(sp->wfd) != 0) {
            ms_log_error(NULL, "spool: fsync before roll failed: %s", strerror(errno));
            ret = MS_EIO;
            goto out;
        }
        ret = seg_create(sp, active->base + active->size);
        if (ret != MS_OK) {
            ms_log_error(NULL, "spool: cannot roll to a new segment: %s", strerror(errno));
            goto out;
        }
        gc_locked(sp); /* a fully delivered segment goes at once (the spool was full) */
        active = &sp->segs[sp->n_segs - 1];
    }
    if (write_full(sp->wfd, frames->data, frames->len) != MS_OK ||
        (sp->opts.fsync && fdatasync(sp->wfd) != 0)) {
        int saved = errno;

        /* Leave no half batch behind: readers must never see it, and a retry appends again. */
        if (ftruncate(sp->wfd, (off_t)active->size) != 0) {
            ms_log_error(NULL, "spool: cannot undo a failed append: %s", strerror(errno));
        }
        ms_log_error(NULL, "spool: append of %zu records failed: %s", n, strerror(saved));
        ret = MS_EIO;
        goto out;
    }
    active->size += frames->len;
    sp->end += frames->len;
    sp->used += (int64_t)frames->len;
    pthread_cond_broadcast(&sp->cond);
out:
    pthread_mutex_unlock(&sp->lock);
out_nolock:
    if (frames->cap > 8u * 1024 * 1024) {
        ms_buf_free(frames); /* do not keep a huge batch's memory around */
    }
    return ret;
}

void ms_spool_wake(struct ms_spool *sp)
{
    pthread_mutex_lock(&sp->lock);
    pthread_cond_broadcast(&sp->cond);
    pthread_mutex_unlock(&sp->lock);
}

/* ------------------------------------------------------------------------------------------ */

/* Collects the offsets of the frames of one segment into a ring of n (positions are global). */
static int tail_scan_segment(
    struct ms_spool *sp, const struct seg *seg, uint64_t *ring, size_t n, size_t *count)
{
    unsigned char fh[FRAME_HDR_LEN];
    char path[PATH_MAX];
    uint64_t off = SEG_HDR_LEN;
    int fd;

    seg_path(sp, seg->base, path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return MS_EIO;
    }
    while (off + FRAME_HDR_LEN <= seg->size && pread_full(fd, fh, FRAME_HDR_LEN, off) == MS_OK) {
        uint32_t len = get_u32(fh);

        if (len > MS_CAP_EVENT || off + FRAME_HDR_LEN + len > seg->size) {
            break;
        }
        ring[*count % n] = seg->base + off;
        (*count)++;
        off += FRAME_HDR_LEN + len;
    }
    close(fd);
    return MS_OK;
}

int ms_spool_tail(struct ms_spool *sp,
                  size_t n,
                  void (*fn)(void *arg, const char *data, size_t len),
                  void *arg)
{
    struct seg segs[2];
    size_t n_segs;
    size_t count = 0;
    size_t first;
    size_t i;
    uint64_t *ring;
    char *payload = NULL;
    int fds[2] = {-1, -1};
    int ret = MS_OK;

    if (n == 0) {
        return MS_OK;
    }
    ring = calloc(n, sizeof(*ring));
    if (!ring) {
        return MS_ENOMEM;
    }
    pthread_mutex_lock(&sp->lock);
    n_segs = sp->n_segs < 2 ? sp->n_segs : 2;
    memcpy(segs, sp->segs + sp->n_segs - n_segs, n_segs * sizeof(*segs));
    pthread_mutex_unlock(&sp->lock);
    for (i = 0; i < n_segs && ret == MS_OK; i++) {
        ret = tail_scan_segment(sp, &segs[i], ring, n, &count);
    }
    first = count > n ? count - n : 0;
    for (i = 0; i < n_segs; i++) {
        char path[PATH_MAX];

        seg_path(sp, segs[i].base, path, sizeof(path));
        fds[i] = open(path, O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0) {
            ret = MS_EIO;
        }
    }
    for (i = first; i < count && ret == MS_OK; i++) {
        uint64_t pos = ring[i % n];
        size_t k = pos >= segs[n_segs - 1].base ? n_segs - 1 : 0;
        unsigned char fh[FRAME_HDR_LEN];
        uint64_t off = pos - segs[k].base;
        uint32_t len;

        if (pread_full(fds[k], fh, FRAME_HDR_LEN, off) != MS_OK) {
            continue;
        }
        len = get_u32(fh);
        payload = malloc((size_t)len + 1);
        if (!payload) {
            ret = MS_ENOMEM;
            break;
        }
        if (pread_full(fds[k], payload, len, off + FRAME_HDR_LEN) == MS_OK &&
            (uint32_t)crc32(0L, (const Bytef *)payload, len) == get_u32(fh + 4)) {
            payload[len] = '\0';
            fn(arg, payload, len);
        }
        free(payload);
        payload = NULL;
    }
    for (i = 0; i < n_segs; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    free(ring);
    return ret;
}

static uint64_t oldest_position(const struct ms_spool *sp)
{
    return sp->segs[0].base + SEG_HDR_LEN;
}

struct ms_spool_reader *ms_spool_reader_open(struct ms_spool *sp, const char *name)
{
    struct ms_spool_reader *r;
    struct ms_spool_reader **readers;
    struct json_object *saved = NULL;
    struct json_object *pos;
    FILE *f;

    r = calloc(1, sizeof(*r));
    if (!r) {
        return NULL;
    }
    r->sp = sp;
    r->fd = -1;
    snprintf(r->name, sizeof(r->name), "%s", name);
    snprintf(r->pos_path, sizeof(r->pos_path), "%s/readers/%s.pos", sp->dir, r->name);
    f = fopen(r->pos_path, "r");
    if (f) {
        char text[256];
        size_t n = fread(text, 1, sizeof(text) - 1, f);

        text[n] = '\0';
        fclose(f);
        saved = json_tokener_parse(text);
    }
    pthread_mutex_lock(&sp->lock);
    if (saved && json_object_object_get_ex(saved, "pos", &pos)) { /* borrowed */
        r->committed = (uint64_t)json_object_get_int64(pos);
        if (r->committed > sp->end) {
            ms_log_warn(NULL,
                        "spool: reader %s was at %" PRIu64 ", past the spool end %" PRIu64
                        "; continuing from the end",
                        name, r->committed, sp->end);
            r->committed = sp->end;
        }
        else if (r->committed < oldest_position(sp)) {
            r->committed = oldest_position(sp);
        }
    }
    else {
        r->committed = oldest_position(sp);
    }
    r->read_pos = r->committed;
    readers = realloc(sp->readers, (sp->n_readers + 1) * sizeof(*readers));
    if (!readers) {
        pthread_mutex_unlock(&sp->lock);
        json_object_put(saved);
        free(r);
        return NULL;
    }
    sp->readers = readers;
    sp->readers[sp->n_readers++] = r;
    pthread_mutex_unlock(&sp->lock);
    json_object_put(saved);
    return r;
}

void ms_spool_reader_close(struct ms_spool_reader *r)
{
    struct ms_spool *sp;
    size_t i;

    if (!r) {
        return;
    }
    sp = r->sp;
    pthread_mutex_lock(&sp->lock);
    for (i = 0; i < sp->n_readers; i++) {
        if (sp->readers[i] == r) {
            sp->readers[i] = sp->readers[--sp->n_readers];
            break;
        }
    }
    pthread_mutex_unlock(&sp->lock);
    if (r->fd >= 0) {
        close(r->fd);
    }
    free(r->ra);
    free(r);
}

void ms_spool_reader_set_view(struct ms_spool_reader *r, enum ms_event_view view)
{
    r->view = view;
}

/* Lock held. Finds the segment holding pos, moving pos over gaps. Returns index or -1 at end. */
static long locate(struct ms_spool *sp, uint64_t *pos)
{
    size_t i;

    for (i = 0; i < sp->n_segs; i++) {
        const struct seg *s = &sp->segs[i];

        if (*pos < s->base + SEG_HDR_LEN) {
            *pos = s->base + SEG_HDR_LEN;
        }
        if (*pos < s->base + s->size) {
            return (long)i;
        }
    }
    return -1;
}

/*
 * Points *out at the published bytes [pos, pos + n) of the segment open in r->fd (at global
 * position base), reading ahead up to limit so that most frames cost no system call. Published
 * bytes never change, so what was read ahead stays valid. Returns MS_OK, MS_EIO or MS_ENOMEM.
 */
static int reader_fetch(struct ms_spool_reader *r,
                        uint64_t base,
                        uint64_t pos,
                        size_t n,
                        uint64_t limit,
                        const unsigned char **out)
{
    size_t want = n > READ_AHEAD ? n : READ_AHEAD;

    if (r->ra_len && pos >= r->ra_pos && pos + n <= r->ra_pos + r->ra_len) {
        *out = r->ra + (pos - r->ra_pos);
        return MS_OK;
    }
    if (want > limit - pos) {
        want = (size_t)(limit - pos); /* never past what is published (n fits: checked) */
    }
    if (want > r->ra_cap) {
        unsigned char *p = realloc(r->ra, want);

        if (!p) {
            return MS_ENOMEM;
        }
        r->ra = p;
        r->ra_cap = want;
    }
    r->ra_len = 0;
    if (pread_full(r->fd, r->ra, want, pos - base) != MS_OK) {
        return MS_EIO;
    }
    r->ra_pos = pos;
    r->ra_len = want;
    *out = r->ra;
    return MS_OK;
}

int ms_spool_read(struct ms_spool_reader *r, struct ms_batch *b, size_t max_bytes, int64_t wait_ms)
{
    struct ms_spool *sp = r->sp;
    struct timespec deadline;
    uint64_t base;
    uint64_t limit;
    size_t bytes = 0;
    long idx;
    char path[PATH_MAX];

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += wait_ms / 1000;
    deadline.tv_nsec += (wait_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&sp->lock);
    for (;;) {
        idx = locate(sp, &r->read_pos);
        if (idx >= 0) {
            break;
        }
        if (wait_ms <= 0 || pthread_cond_timedwait(&sp->cond, &sp->lock, &deadline) != 0) {
            pthread_mutex_unlock(&sp->lock);
            return MS_EOF;
        }
        wait_ms = 1; /* woken: look again, but do not wait past the deadline twice */
    }
    base = sp->segs[idx].base;
    limit = base + sp->segs[idx].size;
    pthread_mutex_unlock(&sp->lock);

    if (r->fd >= 0 && r->fd_base != base) {
        close(r->fd);
        r->fd = -1;
    }
    if (r->fd < 0) {
        seg_path(sp, base, path, sizeof(path));
        r->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0) {
            ms_log_error(NULL, "spool: reader %s cannot open %s: %s", r->name, path,
                         strerror(errno));
            return MS_EIO;
        }
        r->fd_base = base;
    }
    while (r->read_pos < limit && !ms_batch_full(b) && bytes < max_bytes) {
        const unsigned char *frame;
        uint32_t len;
        uint32_t crc;
        int rc;

        if (limit - r->read_pos < FRAME_HDR_LEN) {
            goto corrupt;
        }
        rc = reader_fetch(r, base, r->read_pos, FRAME_HDR_LEN, limit, &frame);
        if (rc == MS_ENOMEM) {
            return b->n ? MS_OK : MS_ENOMEM; /* not the file's fault: try again later */
        }
        if (rc != MS_OK) {
            goto corrupt;
        }
        len = get_u32(frame);
        crc = get_u32(frame + 4);
        if (len > MS_CAP_EVENT || r->read_pos + FRAME_HDR_LEN + len > limit) {
            goto corrupt;
        }
        if (bytes > 0 && bytes + len > max_bytes) {
            break;
        }
        rc = reader_fetch(r, base, r->read_pos, FRAME_HDR_LEN + (size_t)len, limit, &frame);
        if (rc == MS_ENOMEM) {
            return b->n ? MS_OK : MS_ENOMEM;
        }
        if (rc != MS_OK) {
            goto corrupt;
        }
        if ((uint32_t)crc32(0L, (const Bytef *)frame + FRAME_HDR_LEN, len) != crc) {
            r->read_pos += FRAME_HDR_LEN + len;
            seg_path(sp, base, path, sizeof(path));
            ms_log_error(NULL,
                         "spool: reader %s: segment %s: record at offset %" PRIu64
                         " fails its CRC check; skipped (%u bytes)",
                         r->name, path, r->read_pos - FRAME_HDR_LEN - len - base, len);
            b->rejected++;
            continue;
        }
        rc = ms_batch_add_text(b, (const char *)frame + FRAME_HDR_LEN, len, r->view);
        if (rc == MS_ENOMEM) {
            return b->n ? MS_OK : MS_ENOMEM;
        }
        r->read_pos += FRAME_HDR_LEN + len;
        if (rc != MS_OK) {
            ms_log_error(NULL, "spool: reader %s: record at %" PRIu64 " is not a JSON object",
                         r->name, r->read_pos - FRAME_HDR_LEN - len);
            b->rejected++;
            continue;
        }
        bytes += len;
    }
    return (b->n || b->rejected) ? MS_OK : MS_EOF;
corrupt:
    /* A frame header that cannot be trusted leaves no way to find the next record in this
     * segment; go on with the next one and say how much was skipped. */
    seg_path(sp, base, path, sizeof(path));
    ms_log_error(NULL,
                 "spool: reader %s: segment %s: corrupt frame at offset %" PRIu64
                 "; skipping %" PRIu64 " bytes to the end of the segment",
                 r->name, path, r->read_pos - base, limit - r->read_pos);
    b->rejected++;
    r->read_pos = limit;
    return MS_OK;
}

void ms_spool_reader_rewind(struct ms_spool_reader *r)
{
    r->read_pos = r->committed;
}

uint64_t ms_spool_reader_committed(struct ms_spool_reader *r)
{
    uint64_t v;

    pthread_mutex_lock(&r->sp->lock);
    v = r->committed;
    pthread_mutex_unlock(&r->sp->lock);
    return v;
}

static void gc_locked(struct ms_spool *sp)
{
    char path[PATH_MAX];
    uint64_t min = UINT64_MAX;
    size_t i;
    size_t drop = 0;

    if (sp->n_readers == 0) {
        return;
    }
    for (i = 0; i < sp->n_readers; i++) {
        if (sp->readers[i]->committed < min) {
            min = sp->readers[i]->committed;
        }
    }
    while (drop + 1 < sp->n_segs && sp->segs[drop].base + sp->segs[drop].size <= min) {
        seg_path(sp, sp->segs[drop].base, path, sizeof(path));
        if (unlink(path) != 0 && errno != ENOENT) {
            ms_log_warn(NULL, "spool: cannot delete %s: %s", path, strerror(errno));
            break;
        }
        sp->used -= (int64_t)sp->segs[drop].size;
        drop++;
    }
    if (drop) {
        memmove(sp->segs, sp->segs + drop, (sp->n_segs - drop) * sizeof(*sp->segs));
        sp->n_segs -= drop;
    }
}

int ms_spool_reader_commit(struct ms_spool_reader *r)
{
    struct ms_spool *sp = r->sp;
    char text[64];
    int n;

    if (r->read_pos == r->committed) {
        return MS_OK;
    }
    n = snprintf(text, sizeof(text), "{\"pos\":%" PRIu64 "}\n", r->read_pos);
    if (ms_atomic_write(r->pos_path, text, (size_t)n) != MS_OK) {
        ms_log_error(NULL, "spool: cannot save position of reader %s in %s: %s", r->name,
                     r->pos_path, strerror(errno));
        return MS_EIO;
    }
    pthread_mutex_lock(&sp->lock);
    r->committed = r->read_pos;
    gc_locked(sp);
    pthread_cond_broadcast(&sp->cond);
    pthread_mutex_unlock(&sp->lock);
    return MS_OK;
}
