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
    const struct group *groups; /* the entries of each chunk */
    const uint64_t *order;      /* data entries, grouped by chunk */
    /* With get_many, task t restores groups [batch[t], batch[t + 1]); else task t is
     * group t (batch NULL). */
    const uint64_t *batch;
    int fd, blk;
    atomic_uint_fast64_t chunks, bytes;
};

/* A get_many asks for at most this much (by the index's lengths) and this many
 * chunks: a few round trips' worth of data per request, bounded memory per worker. */
#define BATCH_BYTES (4u << 20)
#define BATCH_CHUNKS 32

/* The data entries that name one chunk: order[start .. start + n). */
struct group {
    uint64_t start, n, first_off;
};

static int write_all_at(int fd, const uint8_t *p, uint64_t len, uint64_t off)
{
    for (uint64_t done = 0; done < len;) {
        ssize_t n = pwrite(fd, p + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            return vv_fail(VV_E_IO, "cannot write restored data at offset %llu: %s",
                           (unsigned long long)(off + done),
                           n < 0 ? strerror(errno) : "short write");
        }
        done += (uint64_t)n;
    }
    return 0;
}

/* Write chunk data (fetched for group g, or r when fetching failed) wherever the
 * index names it. */
static int write_group(struct restore_run *rr, const struct group *g, const struct vv_buf *data,
                       int r)
{
    const struct vv_ix_entry *first = &rr->ix->e[rr->order[g->start]];
    char hex[2 * VV_CHUNK_ID_LEN + 1];

    for (uint64_t k = 0; r == 0 && k < g->n; k++) {
        const struct vv_ix_entry *e = &rr->ix->e[rr->order[g->start + k]];
        if (e->chunk_off > data->len || e->len > data->len - e->chunk_off) {
            r = VV_E_CORRUPT;
            first = e;
            break;
        }
        if ((r = write_all_at(rr->fd, data->data + e->chunk_off, e->len, e->off)) < 0)
            return r;
        /* Start writing it out now: the disk works while the next chunks arrive, and
         * the final fsync has little left to wait for (a device ignores it). */
        if (!rr->blk)
            sync_file_range(rr->fd, (off_t)e->off, (off_t)e->len, SYNC_FILE_RANGE_WRITE);
        atomic_fetch_add(&rr->bytes, e->len);
        if (rr->progress)
            atomic_fetch_add(rr->progress, e->len);
    }
    if (r < 0) {
        vv_hex_encode(first->id, VV_CHUNK_ID_LEN, hex);
        vv_error("chunk %s (disk offset %llu): %s", hex, (unsigned long long)first->off,
                 r == VV_E_CORRUPT ? "it is shorter than the index says" : vv_strerror(r));
        return r;
    }
    atomic_fetch_add(&rr->chunks, 1);
    return 0;
}

/* One chunk (or one batch of them), fetched and checked once, written wherever the
 * index names it. */
static int restore_task(void *ctx, struct vv_worker *w, uint64_t t)
{
    struct restore_run *rr = ctx;
    const uint8_t *ids[VV_FETCH_MANY_MAX] = {NULL};
    const struct vv_buf *data[VV_FETCH_MANY_MAX];
    uint64_t g0, n;
    int r;

    if (!rr->batch) {
        const struct group *g = &rr->groups[t];
        data[0] = NULL;
        r = rr->fetch->ops->get(rr->fetch, w, rr->ix->e[rr->order[g->start]].id, &data[0]);
        return write_group(rr, g, data[0], r);
    }
    g0 = rr->batch[t];
    n = rr->batch[t + 1] - g0;
    for (uint64_t k = 0; k < n; k++)
        ids[k] = rr->ix->e[rr->order[rr->groups[g0 + k].start]].id;
    if ((r = rr->fetch->ops->get_many(rr->fetch, w, ids, (size_t)n, data)) < 0) {
        vv_error("%llu chunk(s) from disk offset %llu: %s", (unsigned long long)n,
                 (unsigned long long)rr->groups[g0].first_off, vv_strerror(r));
        return r;
    }
    for (uint64_t k = 0; k < n; k++)
        if ((r = write_group(rr, &rr->groups[g0 + k], data[k], 0)) < 0)
            return r;
    return 0;
}

/* Cut the groups into batches for get_many: consecutive groups (disk order) of at
 * most BATCH_CHUNKS chunks and about BATCH_BYTES (each chunk's size taken from the
 * index: the end of its furthest slice). *batch gets nbatch + 1 bounds. */
static int plan_batches(const struct vv_index *ix, const uint64_t *order,
                        const struct group *groups, uint64_t ngroups, uint64_t **batch,
                        uint64_t *nbatch)
{
    uint64_t nb = 0, bytes = 0, *b = malloc((ngroups + 1) * sizeof(*b));

    if (!b)
        return VV_E_NOMEM;
    for (uint64_t g = 0; g < ngroups; g++) {
        uint64_t size = 0;
        for (uint64_t k = 0; k < groups[g].n; k++) {
            const struct vv_ix_entry *e = &ix->e[order[groups[g].start + k]];
            if (e->chunk_off + e->len > size)
                size = e->chunk_off + e->len;
        }
        if (g == 0 || g - b[nb - 1] == BATCH_CHUNKS || bytes + size > BATCH_BYTES) {
            b[nb++] = g;
            bytes = 0;
        }
        bytes += size;
    }
    b[nb] = ngroups;
    *batch = b;
    *nbatch = nb;
    return 0;
}

/* Zero [off, off+len) of a block device: BLKZEROOUT for the whole 4 KiB blocks
 * (aligned for any logical sector size up to 4 KiB), written zeros for the partial
 * blocks at either end (content-defined chunks end at any byte). */
static int zero_range(int fd, uint64_t off, uint64_t len)
{
    static const uint8_t zeros[4096];
    uint64_t end = off + len, a = (off + 4095) & ~4095ull, b = end & ~4095ull;
    uint64_t range[2];
    int r;

    if (a > end)
        a = end;
    if (b < a)
        b = a;
    if ((a > off && (r = write_all_at(fd, zeros, a - off, off)) < 0) ||
        (end > b && (r = write_all_at(fd, zeros, end - b, b)) < 0))
        return r;
    range[0] = a;
    range[1] = b - a;
    if (b == a || ioctl(fd, BLKZEROOUT, range) == 0)
        return 0;
    return vv_fail(VV_E_IO,
                   "cannot zero device range at %llu: %s", (unsigned long long)a, strerror(errno));
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

static const struct vv_chunk_fetch_ops local_fetch_ops = {local_get, NULL};

int vv_disk_restore(struct vv_repo *repo, const struct vv_index *ix, int fd,
                    const struct vv_engine_opts *o, struct vv_restore_stats *st)
{
    struct local_fetch lf = {{&local_fetch_ops}, repo};
    return vv_disk_restore_from(&lf.base, repo->level, ix, fd, o, st);
}

struct by_id {
    const uint8_t *id;
    uint64_t off, i;
};

static int cmp_by_id(const void *a, const void *b)
{
    const struct by_id *x = a, *y = b;
    int c = memcmp(x->id, y->id, VV_CHUNK_ID_LEN);
    return c ? c : x->off < y->off ? -1 : x->off > y->off;
}

static int cmp_group(const void *a, const void *b)
{
    const struct group *x = a, *y = b;
    return x->first_off < y->first_off ? -1 : x->first_off > y->first_off;
}

/* The data entries grouped by chunk (each chunk fetched once), the groups in disk
 * order of their first entry (writes stay mostly sequential). */
static int plan_groups(const struct vv_index *ix, uint64_t **order, struct group **groups,
                       uint64_t *ngroups)
{
    struct by_id *v = NULL;
    uint64_t n = 0, ng = 0;

    *order = NULL;
    *groups = NULL;
    *ngroups = 0;
    for (uint64_t i = 0; i < ix->count; i++)
        n += ix->e[i].kind == VV_ENTRY_DATA;
    if (!n)
        return 0;
    if (!(v = malloc(n * sizeof(*v))) || !(*order = malloc(n * sizeof(**order))) ||
        !(*groups = malloc(n * sizeof(**groups)))) {
        free(v);
        free(*order);
        *order = NULL;
        return VV_E_NOMEM;
    }
    n = 0;
    for (uint64_t i = 0; i < ix->count; i++)
        if (ix->e[i].kind == VV_ENTRY_DATA)
            v[n++] = (struct by_id){ix->e[i].id, ix->e[i].off, i};
    qsort(v, n, sizeof(*v), cmp_by_id);
    for (uint64_t k = 0; k < n; k++) {
        (*order)[k] = v[k].i;
        if (k && !memcmp(v[k].id, v[k - 1].id, VV_CHUNK_ID_LEN)) {
            (*groups)[ng - 1].n++;
        } else {
            (*groups)[ng++] = (struct group){k, 1, v[k].off};
        }
    }
    free(v);
    qsort(*groups, ng, sizeof(**groups), cmp_group);
    *ngroups = ng;
    return 0;
}

int vv_disk_restore_from(struct vv_chunk_fetch *fetch, int level, const struct vv_index *ix,
                         int fd, const struct vv_engine_opts *o, struct vv_restore_stats *st)
{
    struct restore_run rr;
    struct stat sb;
    struct group *groups = NULL;
    uint64_t *order = NULL, *batch = NULL, ngroups = 0, ntasks;
    int r, blk;

    if (fstat(fd, &sb) < 0)
        return VV_E_IO;
    blk = S_ISBLK(sb.st_mode);
    if (blk) {
        uint64_t sz = 0;
        if (ioctl(fd, BLKGETSIZE64, &sz) < 0 || sz < ix->virtual_size) {
            return vv_fail(VV_E_INVAL, "target device is smaller than the disk (%llu bytes)",
                           (unsigned long long)ix->virtual_size);
        }
    } else if (!S_ISREG(sb.st_mode) || sb.st_size != 0) {
        return vv_fail(VV_E_INVAL,
                       "restore target must be an empty regular file or a block device");
    } else if (ftruncate(fd, (off_t)ix->virtual_size) < 0) {
        return vv_fail(VV_E_IO, "cannot size the restore target: %s", strerror(errno));
    }

    for (uint64_t i = 0; blk && i < ix->count; i++) {
        /* coalesce a run of zero/hole entries into one zeroing call */
        uint64_t j = i, off = ix->e[i].off, end;
        if (ix->e[i].kind == VV_ENTRY_DATA)
            continue;
        while (j + 1 < ix->count && ix->e[j + 1].kind != VV_ENTRY_DATA)
            j++;
        end = ix->e[j].off + ix->e[j].len;
        if ((r = zero_range(fd, off, end - off)) < 0)
            return r;
        st->bytes_zeroed += end - off;
        i = j;
    }
    if ((r = plan_groups(ix, &order, &groups, &ngroups)) < 0)
        return r;
    ntasks = ngroups;
    if (fetch->ops->get_many && ngroups &&
        (r = plan_batches(ix, order, groups, ngroups, &batch, &ntasks)) < 0) {
        free(groups);
        free(order);
        return r;
    }
    memset(&rr, 0, sizeof(rr));
    rr.fetch = fetch;
    rr.progress = o ? o->progress : NULL;
    rr.ix = ix;
    rr.groups = groups;
    rr.order = order;
    rr.batch = batch;
    rr.fd = fd;
    rr.blk = blk;
    r = vv_parallel_run(o && o->threads ? o->threads : vv_default_threads(), level, ntasks,
                        restore_task, &rr, o ? o->cancel : NULL);
    free(batch);
    free(groups);
    free(order);
    st->chunks_written += rr.chunks;
    st->bytes_written += rr.bytes;
    if (r == 0 && fsync(fd) < 0) {
        vv_error("cannot flush the restore target: %s", strerror(errno));
        r = VV_E_IO;
    }
    return r;
}
