/*
 * fetch.h: where a restore's chunks come from.
 *
 * The local fetcher (restore.c) reads them from a repository on this machine; the
 * host agent's fetcher downloads them from the vault. Either way a chunk handed to
 * the restore has been checked against its id (SHA-256) first.
 *
 * Thread safety: get is called by the restore's workers at once, each with its own
 * struct vv_worker; a fetcher keeps per-worker state by w->idx.
 */
#ifndef VV_FETCH_H
#define VV_FETCH_H

#include <stdint.h>

#include "buf.h"
#include "store/chunkstore.h"

struct vv_worker;
struct vv_chunk_fetch;

struct vv_chunk_fetch_ops {
    /* The plaintext of chunk id, checked against it, in *out: a buffer of the worker's,
     * valid until that worker's next get. 0 or a vv_err (logged by the fetcher). */
    int (*get)(struct vv_chunk_fetch *f, struct vv_worker *w, const uint8_t id[VV_CHUNK_ID_LEN],
               const struct vv_buf **out);
};

struct vv_chunk_fetch {
    const struct vv_chunk_fetch_ops *ops;
};

#endif
