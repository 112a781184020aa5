/*
 * verify.c: prove that stored data is what was written. A point is checked from the
 * top: manifest (sealed, parsed), each index (sealed, SHA-256 equal to the manifest's,
 * counts equal), then every distinct chunk it references is read, opened and
 * re-hashed. The store-wide verify re-reads every chunk there is.
 */
#include "engine/engine.h"

#include <stdlib.h>
#include <string.h>

#include "engine/parallel.h"
#include "err.h"
#include "log.h"
#include "util.h"

struct verify_run {
    struct vv_repo *repo;
    uint8_t (*ids)[VV_CHUNK_ID_LEN];
    atomic_uint_fast64_t checked, missing, bad, bytes;
};

static int verify_task(void *ctx, struct vv_worker *w, uint64_t t)
{
    struct verify_run *v = ctx;
    char hex[2 * VV_CHUNK_ID_LEN + 1];
    int r = vv_chunk_get(&v->repo->chunks, &w->io, v->ids[t]);

    atomic_fetch_add(&v->checked, 1);
    if (r == 0) {
        atomic_fetch_add(&v->bytes, w->io.dec.len);
        return 0;
    }
    vv_hex_encode(v->ids[t], VV_CHUNK_ID_LEN, hex);
    if (r == VV_E_NOTFOUND) {
        atomic_fetch_add(&v->missing, 1);
        vv_error("chunk %s is missing", hex);
        return 0;
    }
    if (r == VV_E_NOMEM || r == VV_E_CANCELLED)
        return r;
    atomic_fetch_add(&v->bad, 1);
    vv_error("chunk %s is damaged: %s (%s)", hex, vv_strerror(r), vv_errname(r));
    return 0; /* keep going: report every bad chunk */
}

static int cmp_id(const void *a, const void *b) { return memcmp(a, b, VV_CHUNK_ID_LEN); }

/* Verify ids[0..n) (sorted and made unique here). */
static int verify_ids(struct vv_repo *repo, uint8_t (*ids)[VV_CHUNK_ID_LEN], size_t n,
                      const struct vv_engine_opts *o, struct vv_verify_stats *st)
{
    struct verify_run v;
    size_t u = 0;
    int r;

    if (n) /* no chunks (all holes, or an empty store): ids is NULL, which qsort forbids */
        qsort(ids, n, VV_CHUNK_ID_LEN, cmp_id);
    for (size_t i = 0; i < n; i++)
        if (u == 0 || memcmp(ids[u - 1], ids[i], VV_CHUNK_ID_LEN) != 0)
            memmove(ids[u++], ids[i], VV_CHUNK_ID_LEN);
    memset(&v, 0, sizeof(v));
    v.repo = repo;
    v.ids = ids;
    r = vv_parallel_run(o && o->threads ? o->threads : vv_default_threads(), repo->level, u,
                        verify_task, &v, o ? o->cancel : NULL);
    st->chunks_checked += v.checked;
    st->chunks_missing += v.missing;
    st->chunks_bad += v.bad;
    st->bytes_checked += v.bytes;
    if (r < 0)
        return r;
    return v.missing || v.bad ? VV_E_CORRUPT : 0;
}

int vv_point_verify(struct vv_repo *repo, const char *point_id, const struct vv_engine_opts *o,
                    struct vv_verify_stats *st)
{
    struct vv_manifest m;
    struct vv_buf ids = VV_BUF_INIT;
    int r, damaged = 0;

    r = vv_repo_point_load(repo, point_id, &m);
    if (r == VV_E_NOTFOUND)
        vv_error("recovery point %s does not exist", point_id);
    if (r < 0)
        return r == VV_E_NOTFOUND ? r : VV_E_CORRUPT;
    st->points++;
    for (size_t d = 0; d < m.ndisks; d++) {
        struct vv_index ix;
        struct vv_index_counts c;
        if (vv_repo_index_load(repo, &m, &m.disks[d], &ix) < 0) {
            damaged = 1;
            continue;
        }
        vv_index_count(&ix, &c);
        if (c.data != m.disks[d].data_chunks || c.zero != m.disks[d].zero_chunks ||
            c.hole != m.disks[d].hole_chunks) {
            vv_error("point %s disk %s: chunk counts differ from the manifest", point_id,
                     m.disks[d].name);
            damaged = 1;
        }
        {
            uint8_t(*v)[VV_ENTRY_LEN] = NULL;
            size_t nv = 0;
            r = vv_index_ids(&ix, &v, &nv);
            if (r == 0 && nv)
                r = vv_buf_append(&ids, v, nv * VV_CHUNK_ID_LEN);
            free(v);
        }
        vv_index_release(&ix);
        if (r < 0)
            goto out;
    }
    r = verify_ids(repo, (uint8_t(*)[VV_CHUNK_ID_LEN])(void *)ids.data,
                   ids.len / VV_CHUNK_ID_LEN, o, st);
    if (r == 0 && damaged)
        r = VV_E_CORRUPT;
out:
    vv_buf_release(&ids);
    vv_manifest_release(&m);
    return r;
}

static int collect_id(const uint8_t id[VV_CHUNK_ID_LEN], void *arg)
{
    return vv_buf_append(arg, id, VV_CHUNK_ID_LEN);
}

int vv_store_verify(struct vv_repo *repo, const struct vv_engine_opts *o,
                    struct vv_verify_stats *st)
{
    struct vv_buf ids = VV_BUF_INIT;
    int r;
    /* the walk reads every folder anyway: drop what writers killed over a day ago left */
    if (vv_backend_local_clean_tmp(repo->be, 86400) != 0)
        vv_warn("verify: old temporary files could not all be removed; the walk goes on");
    r = vv_chunk_list(&repo->chunks, collect_id, &ids);
    if (r == 0)
        r = verify_ids(repo, (uint8_t(*)[VV_CHUNK_ID_LEN])(void *)ids.data,
                       ids.len / VV_CHUNK_ID_LEN, o, st);
    vv_buf_release(&ids);
    return r;
}
