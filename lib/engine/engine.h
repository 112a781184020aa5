/*
 * engine.h: the storage engine's operations: back up a disk into the store (full or
 * incremental), restore a disk to a sparse file or device, verify a recovery point
 * or the whole chunk store end to end.
 *
 * Everything streams through a fixed pool of workers: read, zero check, SHA-256,
 * dedup check, compress, seal, store, in parallel on all cores with memory bounded by
 * threads * ~3 chunks.
 */
#ifndef VV_ENGINE_H
#define VV_ENGINE_H

#include "err.h"

#include <stdatomic.h>
#include <stdint.h>

#include "engine/fetch.h"
#include "engine/sink.h"
#include "engine/source.h"
#include "format/index.h"
#include "format/manifest.h"
#include "store/repo.h"

struct vv_engine_opts {
    int threads;        /* 0: vv_default_threads() */
    atomic_int *cancel; /* may be NULL; non-zero stops the work (VV_E_CANCELLED) */
    atomic_uint_fast64_t *progress; /* may be NULL; bytes read are added as they are */
    int fixed_chunks; /* full backups: chunks at multiples of chunk_size, not by content */
};

struct vv_backup_stats {
    uint64_t chunks_total;   /* entries in the new index */
    uint64_t chunks_read;    /* chunks read from the source */
    uint64_t chunks_new;     /* written to the store */
    uint64_t chunks_dedup;   /* already in the store */
    uint64_t chunks_zero;    /* read, all zero, not stored */
    uint64_t chunks_hole;    /* hole entries: runs not allocated, not read */
    uint64_t chunks_kept;    /* entries (or slices) inherited from the parent unread */
    uint64_t bytes_read;
    uint64_t bytes_new;      /* plaintext bytes of new chunks */
    uint64_t bytes_stored;   /* encoded bytes written for new chunks */
};

/* Back up one disk. With parent == NULL, a full backup of all allocated data in
 * content-defined chunks averaging chunk_size (chunker.h; fixed chunks of chunk_size
 * with o->fixed_chunks); otherwise an incremental: the parent's entries are kept
 * except for the granules touched by changed[] (and any growth), which are read again
 * as new chunks (index.h). out receives the new index (owner: the caller,
 * vv_index_release). Stats are added to *st. */
int vv_disk_backup(struct vv_repo *repo, struct vv_source *src, uint32_t chunk_size,
                   const struct vv_index *parent, const struct vv_extent *changed,
                   size_t nchanged, const struct vv_engine_opts *o, struct vv_index *out,
                   struct vv_backup_stats *st) VV_MUST_CHECK;
/* The same into any sink (sink.h); level is the zstd level of the workers' codecs.
 * The sink may hold chunks until each worker's flush: they are stored when this
 * returns 0. A chunk id in out is only valid once the sink has stored it. */
int vv_disk_backup_to(struct vv_chunk_sink *sink, int level, struct vv_source *src,
                      uint32_t chunk_size, const struct vv_index *parent,
                      const struct vv_extent *changed, size_t nchanged,
                      const struct vv_engine_opts *o, struct vv_index *out,
                      struct vv_backup_stats *st) VV_MUST_CHECK;

struct vv_restore_stats {
    uint64_t chunks_written;
    uint64_t bytes_written;
    uint64_t bytes_zeroed; /* zero or hole ranges written as zeros (devices only) */
};

/* Restore a disk image into fd, which must be an empty regular file (holes are left
 * as holes) or a block device at least as large (zero and hole ranges are zeroed).
 * Every chunk is verified against its id before it is written. */
int vv_disk_restore(struct vv_repo *repo, const struct vv_index *ix, int fd,
                    const struct vv_engine_opts *o, struct vv_restore_stats *st) VV_MUST_CHECK;
/* The same with chunks from any fetcher (fetch.h); level is the workers' zstd level. */
int vv_disk_restore_from(struct vv_chunk_fetch *fetch, int level, const struct vv_index *ix,
                         int fd, const struct vv_engine_opts *o, struct vv_restore_stats *st) VV_MUST_CHECK;

struct vv_verify_stats {
    uint64_t points;
    uint64_t chunks_checked;
    uint64_t chunks_missing;
    uint64_t chunks_bad;
    uint64_t bytes_checked;
};

/* Verify one recovery point: its manifest, every disk index (against the manifest's
 * SHA-256) and every chunk they reference (read, opened, re-hashed). Returns 0 when
 * all is well, VV_E_CORRUPT when anything is missing or damaged (each one logged). */
int vv_point_verify(struct vv_repo *repo, const char *point_id, const struct vv_engine_opts *o,
                    struct vv_verify_stats *st) VV_MUST_CHECK;
/* Verify every chunk in the store (re-read, re-hash). Same return convention. Also
 * removes temporary files that writers killed more than a day ago left behind. */
int vv_store_verify(struct vv_repo *repo, const struct vv_engine_opts *o,
                    struct vv_verify_stats *st) VV_MUST_CHECK;

/* Parse a changed-extents list: one "OFFSET LENGTH" pair per line (bytes, decimal or
 * with K/M/G suffixes), blank lines and '#' comments allowed. *out is freed by the
 * caller with free(). Returns 0 or VV_E_INVAL with the line number logged. */
int vv_extents_parse(const char *text, size_t len, struct vv_extent **out, size_t *n) VV_MUST_CHECK;

#endif
