/*
 * gc.c: the chunk guard and garbage collection (see gc.h for the design and the
 * protocol it relies on).
 *
 * Data structures:
 *   - struct idset: an open-addressing (linear probing) set of 32-byte chunk ids. The
 *     all-zero id marks an empty slot and is kept aside in a flag. Load stays at most
 *     3/4. The hash mixes all 32 bytes with a per-guard random seed, so ids chosen by
 *     a client cannot pile up in one probe run.
 *   - struct session: one per backup job id, with its pins split in 256 idsets by the
 *     id's first byte; pins[s] is only touched under stripe s's lock. refs counts the
 *     calls using the session; a released session is unlinked at once and freed by
 *     whoever drops the last reference.
 *   - struct stripe: a lock, and while a collection runs (gc_active) the set gc_pins of
 *     this stripe's ids that must not be removed: the union of every session's pins
 *     when the collection reached the stripe, plus every pin since.
 *
 * Locks: g->mu guards the session table, session refs and released flags, and
 * gc_running. A pinning thread takes g->mu, then (after dropping it) one stripe lock,
 * then g->mu again: it never holds both. The collection takes g->mu then a stripe
 * lock to copy the sessions' pins of that stripe, one stripe at a time; the sweep
 * takes a stripe lock alone. So the order is always g->mu before a stripe lock, and
 * no thread holds two stripe locks.
 */
#include "store/gc.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "err.h"
#include "log.h"
#include "util.h"

#define NSTRIPES 256
#define SESSION_BUCKETS 256
#define IDSET_MIN_CAP 16

/* ---- id sets ------------------------------------------------------------------------ */

struct idset {
    uint8_t (*slot)[VV_CHUNK_ID_LEN]; /* owned; cap slots, all zero = empty */
    size_t cap;                       /* 0 or a power of two */
    size_t n;                         /* non-zero ids stored */
    int has_zero;                     /* the all-zero id is in the set */
};

static int id_is_zero(const uint8_t *id)
{
    uint64_t w[4];
    memcpy(w, id, sizeof(w));
    return (w[0] | w[1] | w[2] | w[3]) == 0;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint64_t id_hash(const uint8_t *id, uint64_t seed)
{
    uint64_t h = seed;
    for (int i = 0; i < 4; i++)
        h = mix64(h ^ vv_get_le64(id + 8 * i));
    return h;
}

/* The slot holding id, or the empty slot where it would go. cap > 0, id non-zero. */
static size_t idset_slot(const struct idset *s, uint64_t seed, const uint8_t *id)
{
    size_t mask = s->cap - 1, i = (size_t)id_hash(id, seed) & mask;
    while (!id_is_zero(s->slot[i]) && memcmp(s->slot[i], id, VV_CHUNK_ID_LEN) != 0)
        i = (i + 1) & mask;
    return i;
}

static int idset_has(const struct idset *s, uint64_t seed, const uint8_t *id)
{
    if (id_is_zero(id))
        return s->has_zero;
    if (s->n == 0)
        return 0;
    return !id_is_zero(s->slot[idset_slot(s, seed, id)]);
}

static int idset_resize(struct idset *s, uint64_t seed, size_t cap)
{
    struct idset bigger = {NULL, cap, 0, s->has_zero};
    if (cap > SIZE_MAX / VV_CHUNK_ID_LEN / 2)
        return VV_E_NOMEM;
    if (!(bigger.slot = calloc(cap, VV_CHUNK_ID_LEN)))
        return VV_E_NOMEM;
    for (size_t i = 0; i < s->cap; i++) {
        if (id_is_zero(s->slot[i]))
            continue;
        memcpy(bigger.slot[idset_slot(&bigger, seed, s->slot[i])], s->slot[i],
               VV_CHUNK_ID_LEN);
        bigger.n++;
    }
    free(s->slot);
    *s = bigger;
    return 0;
}

/* 1 added, 0 already there, VV_E_NOMEM (the set is unchanged). */
static int idset_add(struct idset *s, uint64_t seed, const uint8_t *id)
{
    size_t i;
    int r;
    if (id_is_zero(id)) {
        r = !s->has_zero;
        s->has_zero = 1;
        return r;
    }
    if ((s->n + 1) * 4 > s->cap * 3 &&
        (r = idset_resize(s, seed, s->cap ? s->cap * 2 : IDSET_MIN_CAP)) < 0)
        return r;
    i = idset_slot(s, seed, id);
    if (!id_is_zero(s->slot[i]))
        return 0;
    memcpy(s->slot[i], id, VV_CHUNK_ID_LEN);
    s->n++;
    return 1;
}

/* Add every id of from. 0 or VV_E_NOMEM (then some may have been added). */
static int idset_add_all(struct idset *to, uint64_t seed, const struct idset *from)
{
    int r;
    if (from->has_zero)
        to->has_zero = 1;
    for (size_t i = 0; i < from->cap; i++)
        if (!id_is_zero(from->slot[i]) && (r = idset_add(to, seed, from->slot[i])) < 0)
            return r;
    return 0;
}

static void idset_release(struct idset *s)
{
    free(s->slot);
    memset(s, 0, sizeof(*s));
}

/* ---- the guard ---------------------------------------------------------------------- */

struct session {
    struct session *next; /* bucket chain; under g->mu */
    unsigned refs;        /* calls using it; under g->mu */
    int released;         /* unlinked from the table; under g->mu */
    struct idset pins[NSTRIPES]; /* pins[s] under stripes[s].mu */
    char job_id[];
};

struct stripe {
    pthread_mutex_t mu;
    int gc_active;        /* a collection took this stripe's pins and has not ended */
    int gc_overflow;      /* a pin could not be recorded in gc_pins: keep every chunk */
    struct idset gc_pins; /* while gc_active: ids the collection must keep */
};

struct vv_chunk_guard {
    pthread_mutex_t mu;
    struct session *buckets[SESSION_BUCKETS];
    int gc_running;
    uint64_t seed; /* of every idset hash; fixed for the guard's life */
    struct stripe stripes[NSTRIPES];
};

/* ---- lock order ------------------------------------------------------------------------ */

/* The order stated above, asserted: this thread's held locks. g->mu is never taken
 * while a stripe lock is held, and no thread holds two stripe locks. */
static __thread int held_mu, held_stripe;

static void lock_guard(struct vv_chunk_guard *g)
{
    assert(!held_stripe && !held_mu);
    pthread_mutex_lock(&g->mu);
    held_mu = 1;
}

static void unlock_guard(struct vv_chunk_guard *g)
{
    assert(held_mu);
    held_mu = 0;
    pthread_mutex_unlock(&g->mu);
}

static void lock_stripe(struct stripe *st)
{
    assert(!held_stripe);
    pthread_mutex_lock(&st->mu);
    held_stripe = 1;
}

static void unlock_stripe(struct stripe *st)
{
    assert(held_stripe);
    held_stripe = 0;
    pthread_mutex_unlock(&st->mu);
}

struct vv_chunk_guard *vv_guard_new(void)
{
    struct vv_chunk_guard *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    if (vv_random(&g->seed, sizeof(g->seed)) < 0)
        g->seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)g;
    pthread_mutex_init(&g->mu, NULL);
    for (int s = 0; s < NSTRIPES; s++)
        pthread_mutex_init(&g->stripes[s].mu, NULL);
    return g;
}

static void session_free(struct session *se)
{
    for (int s = 0; s < NSTRIPES; s++)
        idset_release(&se->pins[s]);
    free(se);
}

void vv_guard_free(struct vv_chunk_guard *g)
{
    if (!g)
        return;
    for (int b = 0; b < SESSION_BUCKETS; b++) {
        while (g->buckets[b]) {
            struct session *se = g->buckets[b];
            g->buckets[b] = se->next;
            session_free(se);
        }
    }
    for (int s = 0; s < NSTRIPES; s++) {
        idset_release(&g->stripes[s].gc_pins);
        pthread_mutex_destroy(&g->stripes[s].mu);
    }
    pthread_mutex_destroy(&g->mu);
    free(g);
}

static struct session **bucket_of(struct vv_chunk_guard *g, const char *job_id)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (const char *p = job_id; *p; p++)
        h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    return &g->buckets[h % SESSION_BUCKETS];
}

/* The session of job_id, created when missing, with a reference the caller drops with
 * session_put(). VV_E_INVAL or VV_E_NOMEM. */
static int session_get(struct vv_chunk_guard *g, const char *job_id, struct session **out)
{
    size_t len = job_id ? strlen(job_id) : 0;
    struct session **b, *se;
    if (len == 0 || len > VV_GUARD_JOB_ID_MAX)
        return VV_E_INVAL;
    lock_guard(g);
    b = bucket_of(g, job_id);
    for (se = *b; se && strcmp(se->job_id, job_id) != 0; se = se->next)
        ;
    if (!se) {
        if (!(se = calloc(1, sizeof(*se) + len + 1))) {
            unlock_guard(g);
            return VV_E_NOMEM;
        }
        memcpy(se->job_id, job_id, len + 1);
        se->next = *b;
        *b = se;
    }
    se->refs++;
    unlock_guard(g);
    *out = se;
    return 0;
}

static void session_put(struct vv_chunk_guard *g, struct session *se)
{
    int last;
    lock_guard(g);
    last = --se->refs == 0 && se->released;
    unlock_guard(g);
    if (last)
        session_free(se);
}

void vv_guard_release(struct vv_chunk_guard *g, const char *job_id)
{
    struct session **pp, *se = NULL;
    int now = 0;
    if (!job_id || !*job_id)
        return;
    lock_guard(g);
    for (pp = bucket_of(g, job_id); *pp; pp = &(*pp)->next) {
        if (!strcmp((*pp)->job_id, job_id)) {
            se = *pp;
            *pp = se->next;
            se->released = 1;
            now = se->refs == 0;
            break;
        }
    }
    unlock_guard(g);
    /* the pins a running collection needs are in its stripes' gc_pins already */
    if (now)
        session_free(se);
}

/* Pin id for job_id's session (and for a running collection). 0, VV_E_INVAL,
 * VV_E_NOMEM (then nothing was pinned). */
static int guard_pin(struct vv_chunk_guard *g, const char *job_id,
                     const uint8_t id[VV_CHUNK_ID_LEN])
{
    struct stripe *st = &g->stripes[id[0]];
    struct session *se;
    int r;
    if ((r = session_get(g, job_id, &se)) < 0)
        return r;
    lock_stripe(st);
    r = idset_add(&se->pins[id[0]], g->seed, id);
    if (r > 0 && st->gc_active && !st->gc_overflow &&
        idset_add(&st->gc_pins, g->seed, id) < 0) {
        /* the session holds the pin; the collection must now spare the whole stripe */
        st->gc_overflow = 1;
        vv_warn("garbage collection: out of memory recording pins; chunks %02x... are "
                "all kept this time", id[0]);
    }
    unlock_stripe(st);
    session_put(g, se);
    return r < 0 ? r : 0;
}

int vv_guard_pin(struct vv_chunk_guard *g, const char *job_id, const uint8_t id[VV_CHUNK_ID_LEN])
{
    return guard_pin(g, job_id, id);
}

int vv_guard_has(struct vv_chunk_guard *g, const char *job_id, struct vv_chunkstore *cs,
                 const uint8_t id[VV_CHUNK_ID_LEN])
{
    int r = guard_pin(g, job_id, id);
    return r < 0 ? r : vv_chunk_has(cs, id);
}

int vv_guard_put(struct vv_chunk_guard *g, const char *job_id, struct vv_chunkstore *cs,
                 struct vv_chunk_io *io, const uint8_t id[VV_CHUNK_ID_LEN], const void *data,
                 size_t n, const void *z, size_t zn, size_t *stored_bytes)
{
    int r = guard_pin(g, job_id, id);
    if (r < 0) {
        if (stored_bytes)
            *stored_bytes = 0;
        return r;
    }
    return vv_chunk_put_z(cs, io, id, data, n, z, zn, stored_bytes);
}

/* ---- collection --------------------------------------------------------------------- */

static int cancelled(const atomic_int *cancel)
{
    return cancel && atomic_load_explicit(cancel, memory_order_relaxed) != 0;
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n && ids; i++)
        free(ids[i]);
    free(ids);
}

/* Step 1: for each stripe, start recording pins and copy the sessions' current ones. */
static int gc_begin(struct vv_chunk_guard *g)
{
    int r = 0;
    for (int s = 0; s < NSTRIPES && r == 0; s++) {
        struct stripe *st = &g->stripes[s];
        lock_guard(g);
        lock_stripe(st);
        st->gc_active = 1;
        st->gc_overflow = 0;
        for (int b = 0; b < SESSION_BUCKETS && r == 0; b++)
            for (struct session *se = g->buckets[b]; se && r == 0; se = se->next)
                r = idset_add_all(&st->gc_pins, g->seed, &se->pins[s]);
        unlock_stripe(st);
        unlock_guard(g);
    }
    return r;
}

/* Step 5: stop recording pins and forget them; the guard is free for another run. */
static void gc_end(struct vv_chunk_guard *g)
{
    for (int s = 0; s < NSTRIPES; s++) {
        struct stripe *st = &g->stripes[s];
        lock_stripe(st);
        st->gc_active = 0;
        st->gc_overflow = 0;
        idset_release(&st->gc_pins);
        unlock_stripe(st);
    }
    lock_guard(g);
    g->gc_running = 0;
    unlock_guard(g);
}

/* Add the data chunks of point id to live. VV_E_NOTFOUND when its manifest or an index
 * is missing (the caller decides whether it was pruned meanwhile); other errors are
 * damage. */
static int mark_point(struct vv_repo *repo, const char *id, struct idset *live,
                      uint64_t seed, const atomic_int *cancel)
{
    struct vv_manifest m;
    int r = vv_repo_point_load(repo, id, &m);
    if (r < 0)
        return r;
    for (size_t d = 0; d < m.ndisks && r == 0; d++) {
        struct vv_index ix;
        if (cancelled(cancel)) {
            r = VV_E_CANCELLED;
            break;
        }
        if ((r = vv_repo_index_load(repo, &m, &m.disks[d], &ix)) < 0)
            break;
        for (uint64_t i = 0; i < ix.count && r >= 0; i++)
            if (vv_index_kind(&ix, i) == VV_ENTRY_DATA)
                r = idset_add(live, seed, ix.e[i].id);
        vv_index_release(&ix);
        if (r > 0)
            r = 0;
    }
    vv_manifest_release(&m);
    return r;
}

/* Steps 2 and 3: the referenced ids of every live point into live. */
static int gc_mark(struct vv_repo *repo, vv_gc_live_points_fn live_points, void *arg,
                   const atomic_int *cancel, struct idset *live, uint64_t seed,
                   struct vv_gc_stats *st)
{
    char **ids = NULL, **again = NULL;
    size_t n = 0, nagain = 0, nmissing = 0;
    size_t *missing = NULL; /* indexes into ids of points not found */
    int r;

    /* the callback takes the catalog's lock, which is taken before the guard's
     * elsewhere (a job's end releases its pins with the catalog locked) */
    assert(!held_mu && !held_stripe);
    if ((r = live_points(arg, &ids, &n)) < 0) {
        vv_error("garbage collection: cannot list the live recovery points: %s",
                 vv_strerror(r));
        return r;
    }
    if (n && !(missing = malloc(n * sizeof(*missing)))) {
        r = VV_E_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (cancelled(cancel)) {
            r = VV_E_CANCELLED;
            goto out;
        }
        r = mark_point(repo, ids[i], live, seed, cancel);
        if (r == VV_E_NOTFOUND) {
            missing[nmissing++] = i;
            continue;
        }
        if (r < 0) {
            if (r != VV_E_CANCELLED)
                vv_error("garbage collection: recovery point %s cannot be read (%s); "
                         "nothing was removed", ids[i], vv_strerror(r));
            goto out;
        }
        st->points++;
    }
    r = 0;
    if (nmissing == 0)
        goto out;
    /* Missing points: fine when the catalog no longer lists them (pruned meanwhile). */
    if ((r = live_points(arg, &again, &nagain)) < 0) {
        vv_error("garbage collection: cannot list the live recovery points: %s",
                 vv_strerror(r));
        goto out;
    }
    for (size_t k = 0; k < nmissing; k++) {
        const char *id = ids[missing[k]];
        for (size_t j = 0; j < nagain; j++) {
            if (!strcmp(again[j], id)) {
                vv_error("garbage collection: recovery point %s is in the catalog but "
                         "missing from the store; nothing was removed", id);
                r = VV_E_NOTFOUND;
                goto out;
            }
        }
        st->points_vanished++;
    }
out:
    free(missing);
    free_ids(ids, n);
    free_ids(again, nagain);
    return r;
}

struct sweep {
    struct vv_chunk_guard *g;
    const struct vv_chunkstore *cs;
    const struct idset *live;
    const atomic_int *cancel;
    struct vv_gc_stats *st;
    int first_err;
};

#define SWEEP_STOP 1

static int sweep_one(const uint8_t id[VV_CHUNK_ID_LEN], void *arg)
{
    struct sweep *sw = arg;
    struct stripe *st = &sw->g->stripes[id[0]];
    char key[VV_CHUNK_KEY_MAX];
    uint64_t freed;
    int r;

    if (cancelled(sw->cancel))
        return SWEEP_STOP;
    sw->st->chunks_total++;
    if (idset_has(sw->live, sw->g->seed, id)) {
        sw->st->chunks_live++;
        return 0;
    }
    vv_chunk_key(sw->cs, id, key);
    lock_stripe(st);
    if (st->gc_overflow || idset_has(&st->gc_pins, sw->g->seed, id)) {
        unlock_stripe(st);
        sw->st->chunks_pinned_kept++;
        return 0;
    }
    /* Not durable at once: a chunk a crash brings back is garbage the next run finds. */
    r = vv_backend_remove(sw->cs->be, key, VV_DEL_LAZY, &freed);
    unlock_stripe(st);
    if (r == 0) {
        sw->st->chunks_removed++;
        sw->st->bytes_removed += freed;
    } else if (r != VV_E_NOTFOUND) {
        if (sw->st->remove_errors++ < 10)
            vv_error("garbage collection: cannot remove %s: %s", key, vv_strerror(r));
        if (!sw->first_err)
            sw->first_err = r;
    }
    return 0;
}

static double elapsed_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

int vv_gc_run(struct vv_chunk_guard *g, struct vv_repo *repo, vv_gc_live_points_fn live_points,
              void *arg, const atomic_int *cancel, struct vv_gc_stats *st)
{
    struct vv_gc_stats dummy;
    struct idset live = {NULL, 0, 0, 0};
    struct sweep sw;
    struct timespec t0;
    int r;

    if (!st)
        st = &dummy;
    memset(st, 0, sizeof(*st));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    lock_guard(g);
    if (g->gc_running) {
        unlock_guard(g);
        vv_warn("garbage collection is already running on this store");
        return VV_E_EXISTS;
    }
    g->gc_running = 1;
    unlock_guard(g);

    /* 1: pins first, 2-3: then the live points; the order is what makes it safe. */
    if ((r = gc_begin(g)) < 0) {
        vv_error("garbage collection: out of memory copying the pins of running backups");
        goto out;
    }
    if ((r = gc_mark(repo, live_points, arg, cancel, &live, g->seed, st)) < 0) {
        if (r == VV_E_NOMEM)
            vv_error("garbage collection: out of memory for the referenced chunk ids");
        goto out;
    }
    st->chunks_referenced = live.n + (uint64_t)live.has_zero;

    /* 4: the sweep. */
    memset(&sw, 0, sizeof(sw));
    sw.g = g;
    sw.cs = &repo->chunks;
    sw.live = &live;
    sw.cancel = cancel;
    sw.st = st;
    r = vv_chunk_list(&repo->chunks, sweep_one, &sw);
    if (r == SWEEP_STOP) {
        r = VV_E_CANCELLED;
        goto out;
    }
    if (r < 0) {
        vv_error("garbage collection: cannot list the chunks: %s", vv_strerror(r));
        goto out;
    }
    if (st->chunks_referenced > st->chunks_live) {
        st->chunks_missing = st->chunks_referenced - st->chunks_live;
        vv_warn("garbage collection: live recovery points reference %" PRIu64
                " chunks the store does not have", st->chunks_missing);
    }
    r = vv_backend_local_clean_tmp(repo->be, VV_GC_TMP_MAX_AGE);
    if (r > 0)
        st->tmp_removed = (uint64_t)r;
    r = sw.first_err ? sw.first_err : 0;
out:
    idset_release(&live);
    gc_end(g); /* 5 */
    st->seconds = elapsed_since(&t0);
    if (r == 0)
        vv_info("garbage collection: %" PRIu64 " points, %" PRIu64 " chunks, %" PRIu64
                " removed (%" PRIu64 " bytes), %" PRIu64 " kept for running backups, "
                "%.1f s", st->points, st->chunks_total, st->chunks_removed,
                st->bytes_removed, st->chunks_pinned_kept, st->seconds);
    else if (r == VV_E_CANCELLED)
        vv_info("garbage collection cancelled after removing %" PRIu64 " chunks",
                st->chunks_removed);
    return r;
}
