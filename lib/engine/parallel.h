/*
 * parallel.h: run N independent tasks on a fixed set of worker threads.
 *
 * Each worker owns a vv_chunk_io and one scratch buffer for the whole run, so memory
 * is bounded by threads * (scratch + codec buffers) whatever the number of tasks.
 * Tasks are handed out in ascending order, so sequential sources are read nearly
 * sequentially. The first failing task stops the run; its code is returned.
 */
#ifndef VV_PARALLEL_H
#define VV_PARALLEL_H

#include "err.h"

#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"
#include "store/chunkstore.h"

struct vv_worker {
    int idx;
    struct vv_chunk_io io;
    struct vv_buf scratch;
};

/* Called for each task in [0, ntasks). Returns 0 or a vv_err (logged by the task). */
typedef int (*vv_task_fn)(void *ctx, struct vv_worker *w, uint64_t task);

/* Called once by each worker after its last task, unless the run failed or was
 * cancelled. Returns 0 or a vv_err (logged by the callee). */
typedef int (*vv_worker_fn)(void *ctx, struct vv_worker *w);

/* Run the tasks on nthreads workers (>= 1; fewer when there are fewer tasks; worker
 * indexes are below nthreads). cancel (may be NULL) is polled between tasks: when it
 * becomes non-zero the run stops with VV_E_CANCELLED. */
int vv_parallel_run(int nthreads, int level, uint64_t ntasks, vv_task_fn fn, void *ctx,
                    atomic_int *cancel) VV_MUST_CHECK;
/* The same, with done (may be NULL) called by each worker at the end. */
int vv_parallel_run_ex(int nthreads, int level, uint64_t ntasks, vv_task_fn fn,
                       vv_worker_fn done, void *ctx, atomic_int *cancel) VV_MUST_CHECK;

/* A pool of threads started once, for many short runs of light tasks (such as the
 * store lookups of a request), where starting threads per run would cost more than
 * the run. Tasks get a worker of index -1 whose io has no codec (w->io.codec is NULL). */
struct vv_pool;

/* Start nthreads (>= 1) waiting threads. Owner: the caller, vv_pool_free(). */
int vv_pool_new(int nthreads, struct vv_pool **out) VV_MUST_CHECK;
/* Run fn for each task in [0, ntasks) on the pool's threads and the calling one,
 * returning when all are done: 0 or the first failing task's code, which stops the
 * run. Any number of threads may call it at once: the pool's threads serve the
 * oldest of the runs in progress that has tasks left, the callers their own. */
int vv_pool_run(struct vv_pool *p, uint64_t ntasks, vv_task_fn fn, void *ctx) VV_MUST_CHECK;
/* Stop and join the threads. No run may be in progress. NULL is accepted. */
void vv_pool_free(struct vv_pool *p);

/* Default worker count for I/O plus CPU work: CPUs + 2, at most 64. */
int vv_default_threads(void) VV_MUST_CHECK;

#endif
