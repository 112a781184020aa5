/*
 * backup.c: back up one disk into the store.
 *
 * Plan first, then work: the plan is the disk's index with pending entries for what
 * must be read (the allocated data of a full backup, in regions; the changed granules
 * of an incremental, cut at chunk boundaries), every other entry a hole or inherited
 * from the parent. Workers then take the pending entries in order, read, classify
 * (zero or data), hash and store.
 *
 * An incremental's pending entry is one chunk, and its worker writes only that entry.
 * A full backup's regions are cut into content-defined chunks (chunker.h): each region
 * is read in parallel, but cut in task order, because its first chunk continues the
 * unfinished last one of the region before (the "tail", handed over with the turn).
 * The cuts take a few milliseconds per region; hashing, compression and upload then
 * run in parallel again. Each task's chunks are kept aside and replace its pending
 * entry when all are done.
 */
#include "engine/engine.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chunker.h"
#include "engine/parallel.h"
#include "err.h"
#include "log.h"
#include "util.h"

/* A full backup reads regions of this size (or the chunker's max when larger):
 * large sequential reads, and memory of about two regions per worker. */
#define CDC_REGION (4u << 20)

/* The chunks a content-defined task made, in disk order. Owned by the run. */
struct piece_list {
    struct vv_ix_entry *e;
    size_t n;
};

struct backup_run {
    atomic_uint_fast64_t *progress;
    atomic_int *cancel;
    struct vv_chunk_sink *sink;
    struct vv_source *src;
    struct vv_index *ix;
    const uint64_t *tasks; /* pending entries to read */
    uint64_t ntasks;
    atomic_uint_fast64_t read, zero, bytes_read;
    /* content-defined chunking (cdc NULL: each pending entry is one chunk) */
    const struct vv_chunker *cdc;
    struct piece_list *pieces; /* per task */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t turn;     /* the task whose cuts are made next */
    int abort;         /* a task failed before its turn passed: nobody waits */
    struct vv_buf tail; /* what follows task turn-1's last cut (it continues in turn) */
};

/* Zero check, hash and store one chunk of len bytes at disk offset off: fills e. */
static int store_chunk(struct backup_run *b, struct vv_worker *w, const uint8_t *data,
                       uint32_t len, uint64_t off, struct vv_ix_entry *e)
{
    uint8_t id[VV_CHUNK_ID_LEN];
    int r;

    atomic_fetch_add(&b->read, 1);
    e->off = off;
    e->len = len;
    e->chunk_off = 0;
    if (vv_is_zero(data, len)) {
        e->kind = VV_ENTRY_ZERO;
        memset(e->id, 0, sizeof(e->id));
        atomic_fetch_add(&b->zero, 1);
        return 0;
    }
    if ((r = vv_sha256(data, len, id)) < 0)
        return r;
    if ((r = b->sink->ops->put(b->sink, w, id, data, len)) < 0) {
        vv_error("%s: cannot store chunk at offset %llu: %s", b->src->desc,
                 (unsigned long long)off, vv_strerror(r));
        return r;
    }
    memcpy(e->id, id, VV_CHUNK_ID_LEN);
    e->kind = VV_ENTRY_DATA;
    return 0;
}

static int read_region(struct backup_run *b, void *buf, uint64_t off, uint32_t len)
{
    int r = b->src->ops->read(b->src, buf, len, off);
    if (r < 0)
        return r;
    atomic_fetch_add(&b->bytes_read, len);
    if (b->progress)
        atomic_fetch_add(b->progress, len);
    return 0;
}

static int backup_task(void *ctx, struct vv_worker *w, uint64_t t)
{
    struct backup_run *b = ctx;
    struct vv_ix_entry *e = &b->ix->e[b->tasks[t]];
    int r;

    if ((r = vv_buf_resize(&w->scratch, e->len)) < 0 ||
        (r = read_region(b, w->scratch.data, e->off, (uint32_t)e->len)) < 0)
        return r;
    return store_chunk(b, w, w->scratch.data, (uint32_t)e->len, e->off, e);
}

/* Wait for task t's turn to cut. 0, or VV_E_CANCELLED when a task before failed or
 * the backup was cancelled. */
static int await_turn(struct backup_run *b, uint64_t t)
{
    int r = 0;
    pthread_mutex_lock(&b->mu);
    while (b->turn != t && !b->abort && !(b->cancel && atomic_load(b->cancel))) {
        struct timespec at;
        clock_gettime(CLOCK_REALTIME, &at);
        at.tv_nsec += 100 * 1000000;
        if (at.tv_nsec >= 1000000000) {
            at.tv_sec++;
            at.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&b->cv, &b->mu, &at);
    }
    if (b->turn != t)
        r = VV_E_CANCELLED;
    pthread_mutex_unlock(&b->mu);
    return r;
}

/* Pass the turn to task t + 1 (r == 0), or stop every waiter (r < 0). */
static void pass_turn(struct backup_run *b, uint64_t t, int r)
{
    pthread_mutex_lock(&b->mu);
    if (r < 0)
        b->abort = 1;
    else
        b->turn = t + 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* Cut buf[0, n) (the previous tail, then this region) into chunks: their lengths go
 * to pl (entries with only off and len set); what follows the last cut goes to the
 * tail when the data continues in the next task, else it is the last chunk. */
static int cut_region(struct backup_run *b, const uint8_t *buf, size_t n, uint64_t off,
                      int continues, struct piece_list *pl)
{
    size_t pos = 0, cap = n / b->cdc->min + 2;

    if (!(pl->e = calloc(cap, sizeof(*pl->e))))
        return VV_E_NOMEM;
    while (pos < n) {
        size_t c = vv_chunker_next(b->cdc, buf + pos, n - pos, !continues);
        if (!c)
            break;
        pl->e[pl->n].off = off + pos;
        pl->e[pl->n].len = c;
        pl->n++;
        pos += c;
    }
    b->tail.len = 0;
    return vv_buf_append(&b->tail, buf + pos, n - pos);
}

static int cdc_task(void *ctx, struct vv_worker *w, uint64_t t)
{
    struct backup_run *b = ctx;
    const struct vv_ix_entry *e = &b->ix->e[b->tasks[t]];
    const struct vv_ix_entry *prev = t ? &b->ix->e[b->tasks[t - 1]] : NULL;
    const struct vv_ix_entry *next = t + 1 < b->ntasks ? &b->ix->e[b->tasks[t + 1]] : NULL;
    int cont_prev = prev && prev->off + prev->len == e->off;
    int continues = next && e->off + e->len == next->off;
    size_t head = b->cdc->max, start = head;
    struct piece_list *pl = &b->pieces[t];
    uint64_t off = e->off;
    int r;

    /* room for the previous tail (shorter than max) before the region */
    if ((r = vv_buf_resize(&w->scratch, head + e->len)) < 0 ||
        (r = read_region(b, w->scratch.data + head, e->off, (uint32_t)e->len)) < 0 ||
        (r = await_turn(b, t)) < 0) {
        pass_turn(b, t, r < 0 ? r : VV_E_CANCELLED);
        return r;
    }
    if (cont_prev && b->tail.len) {
        start = head - b->tail.len;
        off -= b->tail.len;
        memcpy(w->scratch.data + start, b->tail.data, b->tail.len);
    }
    r = cut_region(b, w->scratch.data + start, head + e->len - start, off, continues, pl);
    pass_turn(b, t, r);
    for (size_t i = 0; r == 0 && i < pl->n; i++)
        r = store_chunk(b, w, w->scratch.data + start + (pl->e[i].off - off),
                        (uint32_t)pl->e[i].len, pl->e[i].off, &pl->e[i]);
    return r;
}

/* Replace each pending entry of ix by its task's chunks. */
static int cdc_assemble(struct backup_run *b, struct vv_index *ix)
{
    struct vv_index nx;
    uint64_t t = 0;
    int r = vv_index_init(&nx, ix->virtual_size, ix->chunk_size);

    nx.granule = ix->granule;
    for (uint64_t i = 0; r == 0 && i < ix->count; i++) {
        const struct vv_ix_entry *e = &ix->e[i];
        if (e->kind != VV_ENTRY_PENDING) {
            r = vv_index_push(&nx, e->off, e->len, e->kind, e->chunk_off, e->id);
            continue;
        }
        for (size_t k = 0; r == 0 && k < b->pieces[t].n; k++) {
            const struct vv_ix_entry *p = &b->pieces[t].e[k];
            r = vv_index_push(&nx, p->off, p->len, p->kind, 0, p->id);
        }
        t++;
    }
    if (r < 0) {
        vv_index_release(&nx);
        return r;
    }
    vv_index_release(ix);
    *ix = nx;
    return 0;
}

static int backup_done(void *ctx, struct vv_worker *w)
{
    struct backup_run *b = ctx;
    return b->sink->ops->flush ? b->sink->ops->flush(b->sink, w) : 0;
}

/* The local sink: chunks go straight into a repository. */
struct local_sink {
    struct vv_chunk_sink base;
    struct vv_repo *repo;
};

static int local_put(struct vv_chunk_sink *s, struct vv_worker *w,
                     const uint8_t id[VV_CHUNK_ID_LEN], const void *data, size_t n)
{
    struct local_sink *ls = (struct local_sink *)(void *)s;
    size_t stored = 0;
    int r = vv_chunk_put(&ls->repo->chunks, &w->io, id, data, n, &stored);
    if (r < 0)
        return r;
    if (r == 1) {
        atomic_fetch_add(&s->dedup, 1);
    } else {
        atomic_fetch_add(&s->fresh, 1);
        atomic_fetch_add(&s->bytes_new, n);
        atomic_fetch_add(&s->bytes_stored, stored);
    }
    return 0;
}

static const struct vv_chunk_sink_ops local_ops = {local_put, NULL};

/* The source's allocated extents, collected. */
static int add_extent(uint64_t off, uint64_t len, void *arg)
{
    struct vv_extent x = {off, len};
    return len ? vv_buf_append(arg, &x, sizeof(x)) : 0;
}

int vv_disk_backup(struct vv_repo *repo, struct vv_source *src, uint32_t chunk_size,
                   const struct vv_index *parent, const struct vv_extent *changed,
                   size_t nchanged, const struct vv_engine_opts *o, struct vv_index *out,
                   struct vv_backup_stats *st)
{
    struct local_sink ls;
    int r;

    memset(&ls, 0, sizeof(ls));
    ls.base.ops = &local_ops;
    ls.repo = repo;
    r = vv_disk_backup_to(&ls.base, repo->level, src, chunk_size, parent, changed, nchanged, o,
                          out, st);
    return r;
}

int vv_disk_backup_to(struct vv_chunk_sink *sink, int level, struct vv_source *src,
                      uint32_t chunk_size, const struct vv_index *parent,
                      const struct vv_extent *changed, size_t nchanged,
                      const struct vv_engine_opts *o, struct vv_index *out,
                      struct vv_backup_stats *st)
{
    struct backup_run b;
    uint64_t fresh0 = atomic_load(&sink->fresh), dedup0 = atomic_load(&sink->dedup);
    uint64_t new0 = atomic_load(&sink->bytes_new), stored0 = atomic_load(&sink->bytes_stored);
    struct vv_buf alloc = VV_BUF_INIT;
    struct vv_chunker *cdc = NULL;
    uint64_t *tasks = NULL, planned = 0, kept = 0;
    size_t ntasks = 0, nalloc;
    int r;

    memset(&b, 0, sizeof(b));
    memset(out, 0, sizeof(*out));
    if (!parent && !(o && o->fixed_chunks)) {
        if (!(cdc = malloc(sizeof(*cdc))))
            return VV_E_NOMEM;
        if ((r = vv_chunker_init(cdc, chunk_size)) < 0) {
            free(cdc);
            return r;
        }
    }
    /* What the source has allocated: the rest is a hole, never read. */
    r = src->size ? src->ops->map(src, 0, src->size, add_extent, &alloc) : 0;
    nalloc = alloc.len / sizeof(struct vv_extent);
    if (r == 0 && parent) {
        r = vv_index_derive(parent, src->size, changed, nchanged, out);
        for (uint64_t i = 0; r == 0 && i < out->count; i++)
            kept += out->e[i].kind != VV_ENTRY_PENDING;
        if (r == 0)
            r = vv_index_apply_alloc(out, (const struct vv_extent *)(void *)alloc.data, nalloc);
    } else if (r == 0) {
        r = vv_index_init(out, src->size, chunk_size);
        if (r == 0 && cdc)
            r = vv_index_plan_regions(out, (const struct vv_extent *)(void *)alloc.data, nalloc,
                                      cdc->max > CDC_REGION ? cdc->max : CDC_REGION);
        else if (r == 0)
            r = vv_index_plan_full(out, (const struct vv_extent *)(void *)alloc.data, nalloc);
    }
    if (r < 0) {
        vv_error("%s: cannot plan the backup: %s", src->desc, vv_strerror(r));
        goto out;
    }
    for (uint64_t i = 0; i < out->count; i++)
        planned += out->e[i].kind == VV_ENTRY_PENDING;
    if (planned && (!(tasks = malloc(planned * sizeof(*tasks))) ||
                    (cdc && !(b.pieces = calloc(planned, sizeof(*b.pieces)))))) {
        r = VV_E_NOMEM;
        goto out;
    }
    for (uint64_t i = 0; i < out->count; i++)
        if (out->e[i].kind == VV_ENTRY_PENDING)
            tasks[ntasks++] = i;

    b.sink = sink;
    b.progress = o ? o->progress : NULL;
    b.cancel = o ? o->cancel : NULL;
    b.src = src;
    b.ix = out;
    b.tasks = tasks;
    b.ntasks = ntasks;
    b.cdc = cdc;
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    vv_buf_init(&b.tail, 0);
    r = vv_parallel_run_ex(o && o->threads ? o->threads : vv_default_threads(), level, ntasks,
                           cdc ? cdc_task : backup_task, backup_done, &b, b.cancel);
    pthread_mutex_destroy(&b.mu);
    pthread_cond_destroy(&b.cv);
    vv_buf_release(&b.tail);
    if (r == 0 && cdc)
        r = cdc_assemble(&b, out);
    if (r == 0)
        vv_index_normalize(out);
    for (uint64_t i = 0; i < out->count; i++)
        st->chunks_hole += out->e[i].kind == VV_ENTRY_HOLE;
    st->chunks_kept += kept;
    st->chunks_total += out->count;
    st->chunks_read += b.read;
    st->chunks_new += atomic_load(&sink->fresh) - fresh0;
    st->chunks_dedup += atomic_load(&sink->dedup) - dedup0;
    st->chunks_zero += b.zero;
    st->bytes_read += b.bytes_read;
    st->bytes_new += atomic_load(&sink->bytes_new) - new0;
    st->bytes_stored += atomic_load(&sink->bytes_stored) - stored0;
out:
    for (size_t t = 0; b.pieces && t < ntasks; t++)
        free(b.pieces[t].e);
    free(b.pieces);
    vv_buf_release(&alloc);
    free(tasks);
    free(cdc);
    if (r < 0)
        vv_index_release(out);
    return r;
}

int vv_extents_parse(const char *text, size_t len, struct vv_extent **out, size_t *n)
{
    struct vv_buf acc = VV_BUF_INIT;
    size_t line = 0, pos = 0;
    int r = 0;

    *out = NULL;
    *n = 0;
    while (pos < len) {
        /* a and c as long as a line: a longer token would be split in two by sscanf */
        char buf[256], a[256], c[256], extra[8];
        size_t e = pos;
        struct vv_extent x;
        int k;

        while (e < len && text[e] != '\n')
            e++;
        line++;
        if (e - pos >= sizeof(buf)) {
            vv_error("changed extents, line %zu: line too long", line);
            r = VV_E_INVAL;
            break;
        }
        memcpy(buf, text + pos, e - pos);
        buf[e - pos] = '\0';
        pos = e + 1;
        if (strchr(buf, '#'))
            *strchr(buf, '#') = '\0';
        k = sscanf(buf, "%255s %255s %7s", a, c, extra);
        if (k <= 0)
            continue;
        if (k != 2 || vv_parse_size(a, &x.off) < 0 || vv_parse_size(c, &x.len) < 0 ||
            x.len > UINT64_MAX - x.off) {
            vv_error("changed extents, line %zu: expected 'OFFSET LENGTH' in bytes", line);
            r = VV_E_INVAL;
            break;
        }
        if ((r = vv_buf_append(&acc, &x, sizeof(x))) < 0)
            break;
    }
    if (r < 0) {
        vv_buf_release(&acc);
        return r;
    }
    *n = acc.len / sizeof(struct vv_extent);
    *out = (struct vv_extent *)(void *)vv_buf_detach(&acc, NULL);
    return 0;
}
