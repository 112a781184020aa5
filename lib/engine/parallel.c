/* parallel.c: a fixed pool of workers over an atomic task counter (see parallel.h). */
#include "engine/parallel.h"

#include <pthread.h>
#include <stdlib.h>

#include "err.h"
#include "util.h"

struct run {
    vv_task_fn fn;
    vv_worker_fn done;
    void *ctx;
    uint64_t ntasks;
    int level;
    atomic_uint_fast64_t next;
    atomic_int err;
    atomic_int *cancel;
};

struct slot {
    struct run *run;
    struct vv_worker w;
    pthread_t th;
};

static void *worker_main(void *arg)
{
    struct slot *s = arg;
    struct run *run = s->run;
    int r;

    if ((r = vv_chunk_io_init(&s->w.io, run->level)) < 0) {
        int zero = 0;
        atomic_compare_exchange_strong(&run->err, &zero, r);
        return NULL;
    }
    vv_buf_init(&s->w.scratch, 0);
    for (;;) {
        uint64_t t;
        if (atomic_load(&run->err))
            break;
        if (run->cancel && atomic_load(run->cancel)) {
            int zero = 0;
            atomic_compare_exchange_strong(&run->err, &zero, VV_E_CANCELLED);
            break;
        }
        t = atomic_fetch_add(&run->next, 1);
        if (t >= run->ntasks)
            break;
        r = run->fn(run->ctx, &s->w, t);
        if (r < 0) {
            int zero = 0;
            atomic_compare_exchange_strong(&run->err, &zero, r);
            break;
        }
    }
    if (run->done && !atomic_load(&run->err) && (r = run->done(run->ctx, &s->w)) < 0) {
        int zero = 0;
        atomic_compare_exchange_strong(&run->err, &zero, r);
    }
    vv_chunk_io_release(&s->w.io);
    vv_buf_release(&s->w.scratch);
    return NULL;
}

int vv_parallel_run(int nthreads, int level, uint64_t ntasks, vv_task_fn fn, void *ctx,
                    atomic_int *cancel)
{
    return vv_parallel_run_ex(nthreads, level, ntasks, fn, NULL, ctx, cancel);
}

int vv_parallel_run_ex(int nthreads, int level, uint64_t ntasks, vv_task_fn fn,
                       vv_worker_fn done, void *ctx, atomic_int *cancel)
{
    struct run run;
    struct slot *slots;
    int started = 0;

    if (nthreads < 1)
        nthreads = 1;
    if ((uint64_t)nthreads > ntasks)
        nthreads = ntasks ? (int)ntasks : 1;
    run.fn = fn;
    run.done = done;
    run.ctx = ctx;
    run.ntasks = ntasks;
    run.level = level;
    run.cancel = cancel;
    atomic_init(&run.next, 0);
    atomic_init(&run.err, 0);
    if (!(slots = calloc((size_t)nthreads, sizeof(*slots))))
        return VV_E_NOMEM;
    for (int i = 0; i < nthreads; i++) {
        slots[i].run = &run;
        slots[i].w.idx = i;
        if (pthread_create(&slots[i].th, NULL, worker_main, &slots[i]) != 0) {
            int zero = 0;
            atomic_compare_exchange_strong(&run.err, &zero, VV_E_NOMEM);
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++)
        pthread_join(slots[i].th, NULL);
    free(slots);
    return atomic_load(&run.err);
}

int vv_default_threads(void)
{
    int n = vv_ncpu() + 2;
    return n > 64 ? 64 : n;
}
