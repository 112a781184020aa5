/*
 * backup.c: back up one disk into the store.
 *
 * Plan first, then work: the plan is the list of chunk numbers to read (allocated
 * chunks for a full backup; dirty chunks for an incremental), every other entry is a
 * hole or inherited from the parent. Workers then take chunk numbers in order, read,
 * classify (zero or data), hash and store; each writes only its own index entry.
 */
#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/parallel.h"
#include "err.h"
#include "log.h"
#include "util.h"

struct backup_run {
    atomic_uint_fast64_t *progress;
    struct vv_chunk_sink *sink;
    struct vv_source *src;
    struct vv_index *ix;
    const uint64_t *tasks; /* chunk numbers to read */
    atomic_uint_fast64_t read, zero, bytes_read;
};

static int backup_task(void *ctx, struct vv_worker *w, uint64_t t)
{
    struct backup_run *b = ctx;
    uint64_t i = b->tasks[t], off = i * b->ix->chunk_size;
    uint32_t len = vv_index_chunk_len(b->ix, i);
    uint8_t id[VV_CHUNK_ID_LEN];
    int r;

    if ((r = vv_buf_resize(&w->scratch, len)) < 0)
        return r;
    if ((r = b->src->ops->read(b->src, w->scratch.data, len, off)) < 0)
        return r;
    atomic_fetch_add(&b->read, 1);
    atomic_fetch_add(&b->bytes_read, len);
    if (b->progress)
        atomic_fetch_add(b->progress, len);
    if (vv_is_zero(w->scratch.data, len)) {
        vv_index_set_zero(b->ix, i);
        atomic_fetch_add(&b->zero, 1);
        return 0;
    }
    if ((r = vv_sha256(w->scratch.data, len, id)) < 0)
        return r;
    if ((r = b->sink->ops->put(b->sink, w, id, w->scratch.data, len)) < 0) {
        vv_error("%s: cannot store chunk at offset %llu: %s", b->src->desc,
                 (unsigned long long)off, vv_strerror(r));
        return r;
    }
    vv_index_set_data(b->ix, i, id);
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

/* Allocation map of the planned chunks: mark[i] = 1 when chunk i holds allocated bytes. */
struct map_ctx {
    uint8_t *mark;
    uint32_t cs;
};

static int mark_extent(uint64_t off, uint64_t len, void *arg)
{
    struct map_ctx *m = arg;
    if (!len)
        return 0;
    for (uint64_t i = off / m->cs; i <= (off + len - 1) / m->cs; i++)
        m->mark[i] = 1;
    return 0;
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
    struct map_ctx m = {NULL, 0};
    uint64_t *want = NULL, *tasks = NULL;
    size_t nwant = 0, ntasks = 0;
    int r;

    memset(&b, 0, sizeof(b));
    if (parent) {
        r = vv_index_derive(parent, src->size, changed, nchanged, out, &want, &nwant);
    } else {
        r = vv_index_init(out, src->size, chunk_size);
        if (r == 0 && out->count && !(want = malloc(out->count * sizeof(*want))))
            r = VV_E_NOMEM;
        for (uint64_t i = 0; r == 0 && i < out->count; i++)
            want[nwant++] = i;
    }
    if (r < 0) {
        vv_error("%s: cannot plan the backup: %s", src->desc, vv_strerror(r));
        goto out;
    }

    /* Keep only chunks with allocated bytes; the others are holes, never read. */
    m.cs = out->chunk_size;
    if (out->count && !(m.mark = calloc(out->count, 1))) {
        r = VV_E_NOMEM;
        goto out;
    }
    if (nwant && (r = src->ops->map(src, 0, src->size, mark_extent, &m)) < 0)
        goto out;
    if (nwant && !(tasks = malloc(nwant * sizeof(*tasks)))) {
        r = VV_E_NOMEM;
        goto out;
    }
    for (size_t k = 0; k < nwant; k++) {
        if (m.mark[want[k]])
            tasks[ntasks++] = want[k];
        else
            vv_index_set_hole(out, want[k]);
    }
    st->chunks_hole += nwant - ntasks;
    st->chunks_kept += out->count - nwant;
    st->chunks_total += out->count;

    b.sink = sink;
    b.progress = o ? o->progress : NULL;
    b.src = src;
    b.ix = out;
    b.tasks = tasks;
    r = vv_parallel_run_ex(o && o->threads ? o->threads : vv_default_threads(), level, ntasks,
                           backup_task, backup_done, &b, o ? o->cancel : NULL);
    st->chunks_read += b.read;
    st->chunks_new += atomic_load(&sink->fresh) - fresh0;
    st->chunks_dedup += atomic_load(&sink->dedup) - dedup0;
    st->chunks_zero += b.zero;
    st->bytes_read += b.bytes_read;
    st->bytes_new += atomic_load(&sink->bytes_new) - new0;
    st->bytes_stored += atomic_load(&sink->bytes_stored) - stored0;
out:
    free(m.mark);
    free(want);
    free(tasks);
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
