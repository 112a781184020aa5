/* parallel.c: a fixed pool of workers over an atomic task counter (see parallel.h). */
#include "engine/parallel.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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

/* The pool: runs in progress are on a list; a thread joins the first one with tasks
 * left (counted in its active), and a caller takes its run off the list before
 * waiting for its active threads to leave, so none touches a run (on the caller's
 * stack) after vv_pool_run returns. */
struct pool_run {
    struct run run;
    struct pool_run *next;
    int active; /* pool threads inside, guarded by the pool's mu */
};

struct vv_pool {
    pthread_mutex_t mu;
    pthread_cond_t go, left;
    pthread_t *th;
    int started;
    int stop;
    struct pool_run *runs; /* guarded by mu */
};

static void run_tasks(struct run *run, struct vv_worker *w)
{
    for (;;) {
        uint64_t t;
        int r;
        if (atomic_load(&run->err))
            return;
        t = atomic_fetch_add(&run->next, 1);
        if (t >= run->ntasks)
            return;
        if ((r = run->fn(run->ctx, w, t)) < 0) {
            int zero = 0;
            atomic_compare_exchange_strong(&run->err, &zero, r);
            return;
        }
    }
}

/* The first run on the list with tasks left, or NULL. Under mu. */
static struct pool_run *pool_pick(struct vv_pool *p)
{
    for (struct pool_run *pr = p->runs; pr; pr = pr->next)
        if (atomic_load(&pr->run.next) < pr->run.ntasks && !atomic_load(&pr->run.err))
            return pr;
    return NULL;
}

static void *pool_main(void *arg)
{
    struct vv_pool *p = arg;
    struct vv_worker w;

    memset(&w, 0, sizeof(w));
    w.idx = -1;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        struct pool_run *pr = NULL;
        while (!p->stop && !(pr = pool_pick(p)))
            pthread_cond_wait(&p->go, &p->mu);
        if (p->stop)
            break;
        pr->active++;
        pthread_mutex_unlock(&p->mu);
        run_tasks(&pr->run, &w);
        pthread_mutex_lock(&p->mu);
        if (--pr->active == 0)
            pthread_cond_broadcast(&p->left);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int vv_pool_new(int nthreads, struct vv_pool **out)
{
    struct vv_pool *p = calloc(1, sizeof(*p));

    *out = NULL;
    if (nthreads < 1)
        nthreads = 1;
    if (!p || !(p->th = calloc((size_t)nthreads, sizeof(*p->th)))) {
        free(p);
        return VV_E_NOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->left, NULL);
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&p->th[i], NULL, pool_main, p) != 0)
            break;
        p->started++;
    }
    if (p->started == 0) {
        vv_pool_free(p);
        return VV_E_NOMEM;
    }
    *out = p;
    return 0;
}

int vv_pool_run(struct vv_pool *p, uint64_t ntasks, vv_task_fn fn, void *ctx)
{
    struct pool_run pr;
    struct vv_worker w;

    memset(&pr, 0, sizeof(pr));
    pr.run.fn = fn;
    pr.run.ctx = ctx;
    pr.run.ntasks = ntasks;
    atomic_init(&pr.run.next, 0);
    atomic_init(&pr.run.err, 0);
    memset(&w, 0, sizeof(w));
    w.idx = -1;
    if (ntasks > 1) {
        pthread_mutex_lock(&p->mu);
        pr.next = p->runs;
        p->runs = &pr;
        pthread_cond_broadcast(&p->go);
        pthread_mutex_unlock(&p->mu);
    }
    run_tasks(&pr.run, &w);
    if (ntasks > 1) {
        pthread_mutex_lock(&p->mu);
        for (struct pool_run **q = &p->runs; *q; q = &(*q)->next)
            if (*q == &pr) {
                *q = pr.next;
                break;
            }
        while (pr.active)
            pthread_cond_wait(&p->left, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    return atomic_load(&pr.run.err);
}

void vv_pool_free(struct vv_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->th[i], NULL);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->left);
    pthread_mutex_destroy(&p->mu);
    free(p->th);
    free(p);
}
