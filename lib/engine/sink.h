/*
 * sink.h: where a backup's chunks go.
 *
 * The backup engine reads, classifies and hashes chunks; a sink stores them. The
 * local sink (backup.c) puts each chunk into a repository on this machine; the host
 * agent's sink batches chunks per worker, asks the vault which of them it lacks and
 * uploads only those. A sink may keep a copy of a chunk and store it later, by the
 * time flush returns for that worker.
 *
 * Thread safety: put and flush are called by the engine's workers, each with its own
 * struct vv_worker (w->idx below the thread count the backup was started with); a
 * sink keeps per-worker state by that index. Counters are atomics, shared.
 */
#ifndef VV_SINK_H
#define VV_SINK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "store/chunkstore.h"

struct vv_worker;
struct vv_chunk_sink;

struct vv_chunk_sink_ops {
    /* Take one data chunk: n bytes whose SHA-256 is id, borrowed for the call. 0 or
     * a vv_err (logged by the sink). */
    int (*put)(struct vv_chunk_sink *s, struct vv_worker *w, const uint8_t id[VV_CHUNK_ID_LEN],
               const void *data, size_t n);
    /* Store what worker w still holds; called after w's last put. May be NULL. */
    int (*flush)(struct vv_chunk_sink *s, struct vv_worker *w);
};

struct vv_chunk_sink {
    const struct vv_chunk_sink_ops *ops;
    /* Added to by the sink as chunks are stored. */
    atomic_uint_fast64_t fresh;        /* chunks the store did not have */
    atomic_uint_fast64_t dedup;        /* chunks it had already */
    atomic_uint_fast64_t bytes_new;    /* plaintext bytes of fresh chunks */
    atomic_uint_fast64_t bytes_stored; /* bytes written or sent for them */
};

#endif
