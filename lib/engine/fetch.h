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

/* At most this many chunks in one get_many. */
#define VV_FETCH_MANY_MAX 64

struct vv_chunk_fetch_ops {
    /* The plaintext of chunk id, checked against it, in *out: a buffer of the worker's,
     * valid until that worker's next get. 0 or a vv_err (logged by the fetcher). */
    int (*get)(struct vv_chunk_fetch *f, struct vv_worker *w, const uint8_t id[VV_CHUNK_ID_LEN],
               const struct vv_buf **out);
    /* Optional (may be NULL): n chunks (1 to VV_FETCH_MANY_MAX) at once, for a fetcher
     * to whom one request per chunk costs a round trip each. out[i] is the plaintext of
     * ids[i], checked like get's, valid until the worker's next get or get_many. */
    int (*get_many)(struct vv_chunk_fetch *f, struct vv_worker *w,
                    const uint8_t *const *ids, size_t n, const struct vv_buf **out);
};

struct vv_chunk_fetch {
    const struct vv_chunk_fetch_ops *ops;
};

#endif
