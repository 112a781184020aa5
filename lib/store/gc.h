/*
 * gc.h: garbage collection of a vault's chunk store, safe while backups, restores and
 * prunes run, and the chunk guard that makes it safe.
 *
 * A chunk may be removed when no recovery point references it. "Recovery point" means
 * the points the catalog lists (the caller's live_points callback), read from their
 * manifests and disk indexes, plus the points backups are building right now, which
 * are in no list yet. Those are covered by pins: every chunk a backup job learns is
 * present (vv_guard_has) or stores (vv_guard_put) is pinned for the job's session until
 * vv_guard_release, and a collection never removes a chunk that is pinned when it
 * looks at it, nor one that was pinned at any moment since the collection started.
 *
 * A collection (vv_gc_run):
 *   1. marks itself active and takes the union of every session's pins; from then on
 *      each new pin is also recorded for it, and kept until it ends even when the
 *      session is released meanwhile;
 *   2. then asks for the live points (a point committed between 1 and 2 is in the
 *      list; one committed after 2 was pinned chunk by chunk before its commit);
 *   3. reads every live point's manifest and indexes into a set of referenced ids. A
 *      point that cannot be read stops the collection before anything is deleted,
 *      except a point that is missing and that a second call of live_points no longer
 *      lists (it was pruned meanwhile);
 *   4. lists the chunks and removes each one neither referenced nor pinned. The check
 *      of the pins and the removal happen under the lock of the chunk id's stripe,
 *      which vv_guard_has and vv_guard_put also take to pin, so a chunk is either
 *      removed before a backup pins it (the backup then sees it absent and uploads
 *      it) or kept;
 *   5. removes temporary files older than VV_GC_TMP_MAX_AGE left by dead writers, and
 *      forgets the pins it kept.
 *
 * What the server must do for this to hold (the protocol of a backup job):
 *   - answer "which chunks are missing" with vv_guard_has, store uploads with
 *     vv_guard_put, always with the job's id;
 *   - at commit, check every chunk the indexes reference with vv_guard_has under the
 *     job's id (chunks inherited from the parent point, which the agent never asked
 *     about, are pinned this way), write the point, record it in the catalog, and
 *     only then vv_guard_release the job; a failed, cancelled or expired job is
 *     released too (otherwise its pins keep garbage until the server restarts);
 *   - prune: remove a point from the catalog first, then vv_repo_point_delete it;
 *   - keep a point in the live list while a restore reads it;
 *   - write chunks into a store that is being collected only through the guard.
 *
 * Thread safety: one guard per vault store, shared by every thread of the server.
 * vv_guard_has, vv_guard_put and vv_guard_release may be called from any number of
 * threads at once, also during a collection; one vv_gc_run per guard runs at a time
 * (another one gets VV_E_EXISTS). Locks, always taken in this order and never held
 * during a call into the caller (both asserted in gc.c): the guard's session lock
 * (the table of sessions), then one of 256 stripe locks (the pins of the chunk ids
 * whose first byte is the stripe number). Backend I/O under a stripe lock happens only
 * in the sweep (one delete).
 *
 * Memory: pins and referenced ids live in open-addressing tables of 32-byte ids
 * (about 64 bytes per id), with no allocation per id.
 */
#ifndef VV_GC_H
#define VV_GC_H

#include "err.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "store/chunkstore.h"
#include "store/repo.h"

/* Longest job id a session accepts (characters, without the NUL). */
#define VV_GUARD_JOB_ID_MAX 128
/* Age in seconds past which a temporary file is a dead writer's and may be removed. */
#define VV_GC_TMP_MAX_AGE 86400

struct vv_chunk_guard;

/* A new guard with no session. Owner: the caller, vv_guard_free(). NULL when out of
 * memory. */
struct vv_chunk_guard *vv_guard_new(void);
/* Free the guard and every session. No call on it may be in flight. NULL is a no-op. */
void vv_guard_free(struct vv_chunk_guard *g);

/* Like vv_chunk_has, for the backup job job_id (its session is created on first use).
 * The id is pinned for the session before the store is asked, so a chunk reported
 * present (1) stays present until the session is released and any collection running
 * then has ended. An absent id (0) stays pinned too: the job is about to upload it.
 * Returns 1, 0, VV_E_INVAL (job id empty or too long), VV_E_NOMEM (nothing pinned,
 * store not asked), or the store's error. */
int vv_guard_has(struct vv_chunk_guard *g, const char *job_id, struct vv_chunkstore *cs,
                 const uint8_t id[VV_CHUNK_ID_LEN]) VV_MUST_CHECK;
/* Pin id for the backup job job_id as vv_guard_has does, without asking the store:
 * for a chunk known present by other means (a recovery point that still exists
 * names it). Returns 0, VV_E_INVAL or VV_E_NOMEM (nothing pinned). */
int vv_guard_pin(struct vv_chunk_guard *g, const char *job_id, const uint8_t id[VV_CHUNK_ID_LEN]) VV_MUST_CHECK;

/* Like vv_chunk_put_z (z, the chunk as it arrived compressed, may be NULL), for the
 * backup job job_id, with the same pin as vv_guard_has taken first. Returns what
 * vv_chunk_put returns (0 written, 1 dedup hit), or VV_E_INVAL / VV_E_NOMEM from the
 * pin (then nothing is stored). */
int vv_guard_put(struct vv_chunk_guard *g, const char *job_id, struct vv_chunkstore *cs,
                 struct vv_chunk_io *io, const uint8_t id[VV_CHUNK_ID_LEN], const void *data,
                 size_t n, const void *z, size_t zn, size_t *stored_bytes) VV_MUST_CHECK;

/* The job ended (committed and recorded in the catalog, failed, or cancelled): drop
 * its session and pins. A collection running now keeps honouring them until it ends.
 * No-op for an unknown job id. A later call with the same id starts a new session. */
void vv_guard_release(struct vv_chunk_guard *g, const char *job_id);

struct vv_gc_stats {
    uint64_t points;             /* live points read */
    uint64_t points_vanished;    /* listed, then pruned before they could be read */
    uint64_t chunks_referenced;  /* distinct chunk ids the live points reference */
    uint64_t chunks_total;       /* chunks the sweep found in the store */
    uint64_t chunks_live;        /* of those, referenced by a live point */
    uint64_t chunks_pinned_kept; /* not referenced, kept for a running backup */
    uint64_t chunks_removed;
    uint64_t bytes_removed;   /* stored bytes of those (0 when the backend cannot tell) */
    uint64_t chunks_missing;  /* referenced but not in the store: damage (complete
                                 sweeps only; `vmvaultd check` names them) */
    uint64_t remove_errors;   /* chunks that could not be removed (logged) */
    uint64_t tmp_removed;     /* stale temporary files removed */
    double seconds;
};

/* The live points: *ids gets an array of *n point ids; the array and every string are
 * allocated with malloc() and become the collection's, which frees them. Returns 0 or
 * a negative vv_err (the collection stops and returns it). Called once, or twice when
 * a listed point turned out to be missing. */
typedef int (*vv_gc_live_points_fn)(void *arg, char ***ids, size_t *n);

/* Collect the garbage of repo's chunk store (see the top of this file). g must be the
 * guard every backup into repo pins with. cancel (may be NULL) is checked between
 * points and between chunks: non-zero stops the collection with VV_E_CANCELLED (what
 * was removed by then stays removed, nothing referenced or pinned is). st (may be
 * NULL) is filled in whatever the result.
 * Returns 0; VV_E_EXISTS when another collection runs on g; VV_E_CANCELLED; the error
 * of live_points, or of a live point that cannot be read (nothing removed); VV_E_NOMEM;
 * the listing's error; VV_E_IO when some chunks could not be removed (the sweep went on
 * with the others). */
int vv_gc_run(struct vv_chunk_guard *g, struct vv_repo *repo, vv_gc_live_points_fn live_points,
              void *arg, const atomic_int *cancel, struct vv_gc_stats *st) VV_MUST_CHECK;

#endif
