/*
 * restore.c: write a disk back from its index. Data chunks are fetched, opened and
 * re-hashed in parallel and written at their offsets; holes and zero chunks are left
 * unwritten in a fresh sparse file, or zeroed on a block device.
 */
#include "engine/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/parallel.h"
#include "err.h"
#include "log.h"
#include "util.h"

struct restore_run {
    atomic_uint_fast64_t *progress;
    struct vv_chunk_fetch *fetch;
    const struct vv_index *ix;
    const uint64_t *tasks;
    int fd, blk;
    atomic_uint_fast64_t chunks, bytes;
};

static int restore_task(void *ctx, struct vv_worker *w, uint64_t t)
{
    struct restore_run *rr = ctx;
    uint64_t i = rr->tasks[t], off = i * rr->ix->chunk_size;
    uint32_t len = vv_index_chunk_len(rr->ix, i);
    char hex[2 * VV_CHUNK_ID_LEN + 1];
    const struct vv_buf *data = NULL;
    int r = rr->fetch->ops->get(rr->fetch, w, rr->ix->ids[i], &data);

    if (r == 0 && data->len != len)
        r = VV_E_CORRUPT;
    if (r < 0) {
        vv_hex_encode(rr->ix->ids[i], VV_CHUNK_ID_LEN, hex);
        vv_error("chunk %s (disk offset %llu): %s", hex, (unsigned long long)off,
                 r == VV_E_CORRUPT ? "its length does not match the index" : vv_strerror(r));
        return r;
    }
    for (size_t done = 0; done < len;) {
        ssize_t n = pwrite(rr->fd, data->data + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            vv_error("cannot write restored data at offset %llu: %s",
                     (unsigned long long)(off + done), n < 0 ? strerror(errno) : "short write");
            return VV_E_IO;
        }
        done += (size_t)n;
    }
    /* Start writing it out now: the disk works while the next chunks arrive, and the
     * final fsync has little left to wait for (on a plain file; a device ignores it). */
    if (!rr->blk)
        sync_file_range(rr->fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE);
    atomic_fetch_add(&rr->chunks, 1);
    atomic_fetch_add(&rr->bytes, len);
    if (rr->progress)
        atomic_fetch_add(rr->progress, len);
    return 0;
}

/* Zero [off, off+len) of a block device. */
static int zero_range(int fd, uint64_t off, uint64_t len)
{
    uint64_t range[2] = {off, len};
    if (ioctl(fd, BLKZEROOUT, range) == 0)
        return 0;
    vv_error("cannot zero device range at %llu: %s", (unsigned long long)off, strerror(errno));
    return VV_E_IO;
}

/* The local fetcher: chunks from a repository on this machine. */
struct local_fetch {
    struct vv_chunk_fetch base;
    struct vv_repo *repo;
};

static int local_get(struct vv_chunk_fetch *f, struct vv_worker *w,
                     const uint8_t id[VV_CHUNK_ID_LEN], const struct vv_buf **out)
{
    struct local_fetch *lf = (struct local_fetch *)(void *)f;
    int r = vv_chunk_get(&lf->repo->chunks, &w->io, id);
    *out = &w->io.dec;
    return r;
}

static const struct vv_chunk_fetch_ops local_fetch_ops = {local_get};

int vv_disk_restore(struct vv_repo *repo, const struct vv_index *ix, int fd,
                    const struct vv_engine_opts *o, struct vv_restore_stats *st)
{
    struct local_fetch lf = {{&local_fetch_ops}, repo};
    return vv_disk_restore_from(&lf.base, repo->level, ix, fd, o, st);
}

int vv_disk_restore_from(struct vv_chunk_fetch *fetch, int level, const struct vv_index *ix,
                         int fd, const struct vv_engine_opts *o, struct vv_restore_stats *st)
{
    struct restore_run rr;
    struct stat sb;
    uint64_t *tasks = NULL, n = 0;
    int r, blk;

    if (fstat(fd, &sb) < 0)
        return VV_E_IO;
    blk = S_ISBLK(sb.st_mode);
    if (blk) {
        uint64_t sz = 0;
        if (ioctl(fd, BLKGETSIZE64, &sz) < 0 || sz < ix->virtual_size) {
            vv_error("target device is smaller than the disk (%llu bytes)",
                     (unsigned long long)ix->virtual_size);
            return VV_E_INVAL;
        }
    } else if (!S_ISREG(sb.st_mode) || sb.st_size != 0) {
        vv_error("restore target must be an empty regular file or a block device");
        return VV_E_INVAL;
    } else if (ftruncate(fd, (off_t)ix->virtual_size) < 0) {
        vv_error("cannot size the restore target: %s", strerror(errno));
        return VV_E_IO;
    }

    if (ix->count && !(tasks = malloc(ix->count * sizeof(*tasks))))
        return VV_E_NOMEM;
    for (uint64_t i = 0; i < ix->count; i++) {
        if (vv_index_kind(ix, i) == VV_ENTRY_DATA) {
            tasks[n++] = i;
        } else if (blk) {
            /* coalesce a run of zero/hole entries into one zeroing call */
            uint64_t j = i;
            while (j + 1 < ix->count && vv_index_kind(ix, j + 1) != VV_ENTRY_DATA)
                j++;
            uint64_t off = i * ix->chunk_size;
            uint64_t end = j + 1 == ix->count ? ix->virtual_size : (j + 1) * ix->chunk_size;
            if ((r = zero_range(fd, off, end - off)) < 0) {
                free(tasks);
                return r;
            }
            st->bytes_zeroed += end - off;
            i = j;
        }
    }
    memset(&rr, 0, sizeof(rr));
    rr.fetch = fetch;
    rr.progress = o ? o->progress : NULL;
    rr.ix = ix;
    rr.tasks = tasks;
    rr.fd = fd;
    rr.blk = blk;
    r = vv_parallel_run(o && o->threads ? o->threads : vv_default_threads(), level, n,
                        restore_task, &rr, o ? o->cancel : NULL);
    free(tasks);
    st->chunks_written += rr.chunks;
    st->bytes_written += rr.bytes;
    if (r == 0 && fsync(fd) < 0) {
        vv_error("cannot flush the restore target: %s", strerror(errno));
        r = VV_E_IO;
    }
    return r;
}
