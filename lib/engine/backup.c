/*
 * backup.c: back up one disk into the store.
 *
 * Plan first, then work: the plan is the disk's index with pending entries for what
 * must be read (the allocated chunks of a full backup; the changed granules of an
 * incremental, cut at chunk boundaries), every other entry a hole or inherited from
 * the parent. Workers then take the pending entries in order, read, classify (zero or
 * data), hash and store; each writes only its own entry.
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
    const uint64_t *tasks; /* pending entries to read */
    atomic_uint_fast64_t read, zero, bytes_read;
};

static int backup_task(void *ctx, struct vv_worker *w, uint64_t t)
{
    struct backup_run *b = ctx;
    struct vv_ix_entry *e = &b->ix->e[b->tasks[t]];
    uint64_t off = e->off;
    uint32_t len = (uint32_t)e->len;
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
        e->kind = VV_ENTRY_ZERO;
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
    memcpy(e->id, id, VV_CHUNK_ID_LEN);
    e->chunk_off = 0;
    e->kind = VV_ENTRY_DATA;
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
    uint64_t *tasks = NULL, planned = 0, kept = 0;
    size_t ntasks = 0, nalloc;
    int r;

    memset(&b, 0, sizeof(b));
    memset(out, 0, sizeof(*out));
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
        if (r == 0)
            r = vv_index_plan_full(out, (const struct vv_extent *)(void *)alloc.data, nalloc);
    }
    if (r < 0) {
        vv_error("%s: cannot plan the backup: %s", src->desc, vv_strerror(r));
        goto out;
    }
    for (uint64_t i = 0; i < out->count; i++)
        planned += out->e[i].kind == VV_ENTRY_PENDING;
    if (planned && !(tasks = malloc(planned * sizeof(*tasks)))) {
        r = VV_E_NOMEM;
        goto out;
    }
    for (uint64_t i = 0; i < out->count; i++)
        if (out->e[i].kind == VV_ENTRY_PENDING)
            tasks[ntasks++] = i;

    b.sink = sink;
    b.progress = o ? o->progress : NULL;
    b.src = src;
    b.ix = out;
    b.tasks = tasks;
    r = vv_parallel_run_ex(o && o->threads ? o->threads : vv_default_threads(), level, ntasks,
                           backup_task, backup_done, &b, o ? o->cancel : NULL);
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
    vv_buf_release(&alloc);
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
