/*
 * test_gc.c: garbage collection of the chunk store and the chunk guard, on real local
 * stores: unreferenced chunks removed and counted while every live point reads back
 * intact; a live point that cannot be read stops the collection before it removes
 * anything (unless it was pruned meanwhile); pins of running backups, kept until the
 * collection ends even when released during it; a query racing the removal of the
 * same chunk (through a backend that stops in the middle of the removal) never hears
 * "present" for a chunk that is gone; one collection at a time; cancellation; stale
 * temporary files; the backend's remove operation; and a stress test where writers run
 * backup sessions (queries, uploads, commits, abandons), a prune thread drops points
 * and a restore thread reads points while collections run back to back.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "err.h"
#include "harness.h"
#include "format/index.h"
#include "key.h"
#include "format/manifest.h"
#include "store/gc.h"
#include "store/repo.h"
#include "util.h"

#define CHUNK_SIZE 4096u
#define MAX_CHUNK_BYTES 1024

/* ---- helpers ------------------------------------------------------------------------ */

struct env {
    char dir[4200], store[4300], key[4300];
    struct vv_repo *repo;
};

static void env_open(struct env *e)
{
    snprintf(e->dir, sizeof(e->dir), "%s", vv_test_tmpdir());
    snprintf(e->store, sizeof(e->store), "%s/store", e->dir);
    snprintf(e->key, sizeof(e->key), "%s/vault.key", e->dir);
    CHECK_OK(vv_key_generate(e->key));
    e->repo = NULL;
    CHECK_OK(vv_repo_open(e->store, e->key, 1, &e->repo));
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Chunk number seed: its bytes (64 to MAX_CHUNK_BYTES of them) and id depend on the
 * seed only, so any thread can rebuild a chunk it needs to upload again. */
static size_t gen_chunk(uint64_t seed, uint8_t buf[MAX_CHUNK_BYTES], uint8_t id[VV_CHUNK_ID_LEN])
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 0x1234567;
    size_t n = 64 + (size_t)(xorshift(&s) % (MAX_CHUNK_BYTES - 64 + 1));
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = xorshift(&s);
        memcpy(buf + i, &v, n - i < 8 ? n - i : 8);
    }
    if (vv_sha256(buf, n, id) != 0)
        abort();
    return n;
}

static void chunk_id(uint64_t seed, uint8_t id[VV_CHUNK_ID_LEN])
{
    uint8_t buf[MAX_CHUNK_BYTES];
    gen_chunk(seed, buf, id);
}

/* Store chunk seed directly (outside any session). */
static void put_seed(struct vv_repo *repo, struct vv_chunk_io *io, uint64_t seed)
{
    uint8_t buf[MAX_CHUNK_BYTES], id[VV_CHUNK_ID_LEN];
    size_t n = gen_chunk(seed, buf, id);
    int r = vv_chunk_put(&repo->chunks, io, id, buf, n, NULL);
    CHECK(r == 0 || r == 1);
}

/* Stored size of chunk seed, 0 when absent. */
static uint64_t chunk_file_size(const struct env *e, uint64_t seed)
{
    uint8_t id[VV_CHUNK_ID_LEN];
    char key[VV_CHUNK_KEY_MAX], path[4500];
    struct stat st;
    chunk_id(seed, id);
    vv_chunk_key(&e->repo->chunks, id, key);
    snprintf(path, sizeof(path), "%s/%s", e->store, key);
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static int has_seed(struct vv_repo *repo, uint64_t seed)
{
    uint8_t id[VV_CHUNK_ID_LEN];
    chunk_id(seed, id);
    return vv_chunk_has(&repo->chunks, id);
}

/* Commit point pid with one disk whose data chunks are seeds[0..n), plus one zero and
 * one hole entry. */
static int commit_seeds(struct vv_repo *repo, const char *pid, const uint64_t *seeds, size_t n)
{
    struct vv_manifest m;
    struct vv_index ix;
    int r;
    vv_manifest_init(&m);
    snprintf(m.id, sizeof(m.id), "%s", pid);
    m.created = 1795804648;
    if ((r = vv_manifest_add_disk(&m, "vda", NULL, NULL)) < 0 ||
        (r = vv_index_init(&ix, (uint64_t)(n + 2) * CHUNK_SIZE, CHUNK_SIZE)) < 0) {
        vv_manifest_release(&m);
        return r;
    }
    r = vv_index_push(&ix, 0, CHUNK_SIZE, VV_ENTRY_ZERO, 0, NULL);
    for (size_t i = 0; i < n && r == 0; i++) {
        uint8_t id[VV_CHUNK_ID_LEN];
        chunk_id(seeds[i], id);
        r = vv_index_push(&ix, (i + 1) * CHUNK_SIZE, CHUNK_SIZE, VV_ENTRY_DATA, 0, id);
    }
    if (r == 0) /* and a hole at the end */
        r = vv_index_push(&ix, (n + 1) * CHUNK_SIZE, CHUNK_SIZE, VV_ENTRY_HOLE, 0, NULL);
    if (r == 0)
        r = vv_repo_point_commit(repo, &m, &ix);
    vv_index_release(&ix);
    vv_manifest_release(&m);
    return r;
}

/* Every data chunk of point pid reads back and re-hashes to its id; the ids are those
 * of seeds when seeds is given. Returns the number of bad chunks (or -1: unreadable). */
static int verify_point(struct vv_repo *repo, struct vv_chunk_io *io, const char *pid,
                        const uint64_t *seeds, size_t n)
{
    struct vv_manifest m;
    struct vv_index ix;
    uint8_t buf[MAX_CHUNK_BYTES], id[VV_CHUNK_ID_LEN];
    int bad = 0;
    if (vv_repo_point_load(repo, pid, &m) < 0)
        return -1;
    if (m.ndisks != 1 || vv_repo_index_load(repo, &m, &m.disks[0], &ix) < 0) {
        vv_manifest_release(&m);
        return -1;
    }
    if (seeds && ix.count != n + 2)
        bad++;
    for (uint64_t i = 0; i < ix.count; i++) {
        if (vv_index_kind(&ix, i) != VV_ENTRY_DATA)
            continue;
        if (vv_chunk_get(&repo->chunks, io, ix.e[i].id) != 0) {
            bad++;
            continue;
        }
        if (seeds && i >= 1 && i <= n) {
            size_t len = gen_chunk(seeds[i - 1], buf, id);
            if (memcmp(id, ix.e[i].id, VV_CHUNK_ID_LEN) != 0 || io->dec.len != len ||
                memcmp(io->dec.data, buf, len) != 0)
                bad++;
        }
    }
    vv_index_release(&ix);
    vv_manifest_release(&m);
    return bad;
}

static int count_one(const uint8_t id[VV_CHUNK_ID_LEN], void *arg)
{
    (void)id;
    (*(size_t *)arg)++;
    return 0;
}

static size_t chunk_count(struct vv_repo *repo)
{
    size_t n = 0;
    CHECK_OK(vv_chunk_list(&repo->chunks, count_one, &n));
    return n;
}

/* A fixed list of live points; calls counts the callback's calls, and from call
 * second_from on, the list is second (when set). */
struct fixed_live {
    const char *const *ids;
    size_t n;
    const char *const *second;
    size_t nsecond;
    int calls, fail;
};

static int dup_list(const char *const *src, size_t n, char ***ids, size_t *nout)
{
    char **v = calloc(n ? n : 1, sizeof(*v));
    if (!v)
        return VV_E_NOMEM;
    for (size_t i = 0; i < n; i++)
        if (!(v[i] = strdup(src[i])))
            abort();
    *ids = v;
    *nout = n;
    return 0;
}

static int fixed_live_cb(void *arg, char ***ids, size_t *n)
{
    struct fixed_live *l = arg;
    l->calls++;
    if (l->fail)
        return l->fail;
    if (l->calls > 1 && l->second)
        return dup_list(l->second, l->nsecond, ids, n);
    return dup_list(l->ids, l->n, ids, n);
}

/* ---- removal and accounting --------------------------------------------------------- */

TEST(gc_removes_unreferenced_keeps_referenced)
{
    struct env e;
    struct vv_chunk_io io;
    struct vv_chunk_guard *g = vv_guard_new();
    struct vv_gc_stats st;
    uint64_t s1[30], s2[20], s3[10], garbage_bytes = 0;
    const char *live[] = {"rp-1", "rp-2"};
    struct fixed_live l = {live, 2, NULL, 0, 0, 0};
    char tmp_old[4500], tmp_new[4500];
    struct timespec old[2] = {{0, 0}, {0, 0}};
    int fd;

    env_open(&e);
    CHECK(g != NULL);
    CHECK_OK(vv_chunk_io_init(&io, 3));
    /* chunks 0..59: rp-1 has 0..29, rp-2 has 20..39, rp-3 (not in the catalog) 40..49,
     * and nothing references 50..59 */
    for (uint64_t i = 0; i < 60; i++)
        put_seed(e.repo, &io, i);
    for (uint64_t i = 0; i < 30; i++)
        s1[i] = i;
    for (uint64_t i = 0; i < 20; i++)
        s2[i] = 20 + i;
    for (uint64_t i = 0; i < 10; i++)
        s3[i] = 40 + i;
    CHECK_OK(commit_seeds(e.repo, "rp-1", s1, 30));
    CHECK_OK(commit_seeds(e.repo, "rp-2", s2, 20));
    CHECK_OK(commit_seeds(e.repo, "rp-3", s3, 10));
    for (uint64_t i = 40; i < 60; i++)
        garbage_bytes += chunk_file_size(&e, i);
    CHECK(garbage_bytes > 20 * 64);
    /* temporary files of dead writers: one two days old, one fresh */
    snprintf(tmp_old, sizeof(tmp_old), "%s/chunks/ab/.tmp-dead-1-2-3", e.store);
    snprintf(tmp_new, sizeof(tmp_new), "%s/chunks/ab/.tmp-busy-1-2-4", e.store);
    CHECK((fd = open(tmp_old, O_CREAT | O_WRONLY, 0600)) >= 0);
    close(fd);
    CHECK((fd = open(tmp_new, O_CREAT | O_WRONLY, 0600)) >= 0);
    close(fd);
    old[0].tv_sec = old[1].tv_sec = time(NULL) - 2 * 86400;
    CHECK_OK(utimensat(AT_FDCWD, tmp_old, old, 0));

    CHECK_OK(vv_gc_run(g, e.repo, fixed_live_cb, &l, NULL, &st));
    CHECK_EQ(l.calls, 1);
    CHECK_EQ(st.points, 2);
    CHECK_EQ(st.points_vanished, 0);
    CHECK_EQ(st.chunks_referenced, 40);
    CHECK_EQ(st.chunks_total, 60);
    CHECK_EQ(st.chunks_live, 40);
    CHECK_EQ(st.chunks_removed, 20);
    CHECK_EQ(st.bytes_removed, garbage_bytes);
    CHECK_EQ(st.chunks_pinned_kept, 0);
    CHECK_EQ(st.chunks_missing, 0);
    CHECK_EQ(st.remove_errors, 0);
    CHECK_EQ(st.tmp_removed, 1);
    CHECK(st.seconds >= 0);
    CHECK(access(tmp_old, F_OK) < 0 && errno == ENOENT);
    CHECK_OK(access(tmp_new, F_OK));
    for (uint64_t i = 0; i < 60; i++)
        CHECK_EQ(has_seed(e.repo, i), i < 40);
    CHECK_EQ(chunk_count(e.repo), 40);
    /* the live points read back byte for byte */
    CHECK_EQ(verify_point(e.repo, &io, "rp-1", s1, 30), 0);
    CHECK_EQ(verify_point(e.repo, &io, "rp-2", s2, 20), 0);
    /* the catalog is the truth: rp-3's files are there, its chunks are not */
    CHECK(verify_point(e.repo, &io, "rp-3", s3, 10) == 10);

    /* again: nothing left to remove */
    CHECK_OK(vv_gc_run(g, e.repo, fixed_live_cb, &l, NULL, &st));
    CHECK_EQ(st.chunks_total, 40);
    CHECK_EQ(st.chunks_removed, 0);
    CHECK_EQ(st.bytes_removed, 0);
    CHECK_EQ(st.tmp_removed, 0);
    /* no live point at all: everything goes */
    l.n = 0;
    CHECK_OK(vv_gc_run(g, e.repo, fixed_live_cb, &l, NULL, &st));
    CHECK_EQ(st.points, 0);
    CHECK_EQ(st.chunks_removed, 40);
    CHECK_EQ(chunk_count(e.repo), 0);
    CHECK_OK(vv_gc_run(g, e.repo, fixed_live_cb, &l, NULL, NULL)); /* st may be NULL */

    vv_chunk_io_release(&io);
    vv_guard_free(g);
    vv_guard_free(NULL);
    vv_repo_close(e.repo);
}

TEST(gc_counts_missing_chunks_of_large_points)
{
    struct env e;
    struct vv_chunk_io io;
    struct vv_chunk_guard *g = vv_guard_new();
    struct vv_gc_stats st;
    enum { N = 50000 };
    uint64_t *seeds = malloc(N * sizeof(*seeds));
    const char *live[] = {"rp-big"};
    struct fixed_live l = {live, 1, NULL, 0, 0, 0};

    env_open(&e);
    CHECK_OK(vv_chunk_io_init(&io, 3));
    /* a point of 50000 distinct chunks (the referenced set grows through many sizes),
     * of which only 100 are stored; plus 5 unreferenced ones */
    for (uint64_t i = 0; i < N; i++)
        seeds[i] = 1000 + i;
    for (uint64_t i = 0; i < 100; i++)
        put_seed(e.repo, &io, seeds[i * 500]);
    for (uint64_t i = 0; i < 5; i++)
        put_seed(e.repo, &io, 900 + i);
    CHECK_OK(commit_seeds(e.repo, "rp-big", seeds, N));
    CHECK_OK(vv_gc_run(g, e.repo, fixed_live_cb, &l, NULL, &st));
    CHECK_EQ(st.chunks_referenced, N);
    CHECK_EQ(st.chunks_total, 105);
    CHECK_EQ(st.chunks_live, 100);
    CHECK_EQ(st.chunks_removed, 5);
    CHECK_EQ(st.chunks_missing, N - 100);
    for (uint64_t i = 0; i < 100; i++)
        CHECK_EQ(has_seed(e.repo, seeds[i * 500]), 1);
    free(seeds);
    vv_chunk_io_release(&io);
    vv_guard_free(g);
    vv_repo_close(e.repo);
}

/* ---- unreadable points ------------------------------------------------------------- */

TEST(gc_unreadable_point_removes_nothing)
{
    struct env e;
    struct vv_chunk_io io;
    struct vv_chunk_guard *g = vv_guard_new();
    struct vv_gc_stats st;
    uint64_t s1[10], s2[10];
    const char *live[] = {"rp-1", "rp-2"}, *after[] = {"rp-1"};
    struct fixed_live l = {live, 2, NULL, 0, 0, 0};
    struct vv_buf saved = VV_BUF_INIT, damaged = VV_BUF_INIT;
    char path[4500];

    env_open(&e);
    CHECK_OK(vv_chunk_io_init(&io, 3));
    for (uint64_t i = 0; i < 10; i++) {
        s1[i] = i;
        s2[i] = 100 + i;
        put_seed(e.repo, &io, s1[i]);
        put_seed(e.repo, &io, s2[i]);
    }
    for (uint64_t i = 0; i < 7; i++) /* garbage */
        put_seed(e.repo, &io, 200 + i);
    CHECK_OK(commit_seeds(e.repo, "rp-1", s1, 10));
    CHECK_OK(commit_seeds(e.repo, "rp-2", s2, 10));
    CHECK_EQ(chunk_count(e.repo), 27);

    /* a damaged index */
    CHECK_OK(vv_backend_get(e.repo->be, "points/rp-2/vda.index", &saved));
    CHECK_OK(vv_buf_append(&damaged, saved.data, saved.len));
    damaged.data[damaged.len / 2] ^= 0x10;
    CHECK_EQ(vv_backend_put(e.repo->be, "points/rp-2/vda.index", damaged.data, damaged.len,
                            VV_PUT_REPLACE), 0);
    CHECK(vv_gc_run(g, e.repo, fixed_live_cb, &l, NULL, &st) < 0);
    CHECK_EQ(st.chunks_removed, 0);
    CHECK_EQ(st.chunks_total, 0); /* the sweep never started */
    CHECK_EQ(chunk_count(e.repo), 27);
    /* a missing index while the catalog still lists the point */
    CHECK_OK(vv_backend_del(e.repo->be, "points/rp-2/vda.index"));
    l.calls = 0;
    CHECK_EQ(vv_gc_run(g, e.repo, fixed_live_cb, &l, NULL, &st), VV_E_NOTFOUND);
    CHECK_EQ(l.calls, 2); /* asked again before deciding */
    CHECK_EQ(chunk_count(e.repo), 27);
    CHECK_EQ(vv_backend_put(e.repo->be, "points/rp-2/vda.index", saved.data, saved.len, 0), 0);
    /* a damaged manifest */
    snprintf(path, sizeof(path), "points/rp-2/manifest");
    vv_buf_release(&saved);
    CHECK_OK(vv_backend_get(e.repo->be, path, &saved));
    damaged.len = 0;
    CHECK_OK(vv_buf_append(&damaged, saved.data, saved.len));
    damaged.data[damaged.len - 3] ^= 0x01;
    CHECK_EQ(vv_backend_put(e.repo->be, path, damaged.data, damaged.len, VV_PUT_REPLACE), 0);
    CHECK(vv_gc_run(g, e.repo, fixed_live_cb, &l, NULL, &st) < 0);
    CHECK_EQ(chunk_count(e.repo), 27);
    /* a missing manifest while the catalog lists the point */
    CHECK_OK(vv_backend_del(e.repo->be, path));
    CHECK_EQ(vv_gc_run(g, e.repo, fixed_live_cb, &l, NULL, &st), VV_E_NOTFOUND);
    CHECK_EQ(chunk_count(e.repo), 27);
    /* the catalog cannot be read */
    l.fail = VV_E_IO;
    CHECK_EQ(vv_gc_run(g, e.repo, fixed_live_cb, &l, NULL, &st), VV_E_IO);
    CHECK_EQ(chunk_count(e.repo), 27);
    l.fail = 0;
    /* a point that is missing because it was pruned meanwhile (the second listing no
     * longer has it): the collection goes on, and its chunks are garbage */
    l.calls = 0;
    l.second = after;
    l.nsecond = 1;
    CHECK_OK(vv_gc_run(g, e.repo, fixed_live_cb, &l, NULL, &st));
    CHECK_EQ(l.calls, 2);
    CHECK_EQ(st.points, 1);
    CHECK_EQ(st.points_vanished, 1);
    CHECK_EQ(st.chunks_removed, 17);
    CHECK_EQ(chunk_count(e.repo), 10);
    CHECK_EQ(verify_point(e.repo, &io, "rp-1", s1, 10), 0);

    vv_buf_release(&saved);
    vv_buf_release(&damaged);
    vv_chunk_io_release(&io);
    vv_guard_free(g);
    vv_repo_close(e.repo);
}

/* ---- pins ---------------------------------------------------------------------------- */

/* Live points callback that stops until the test lets it go, with the guard's pins
 * already taken (step 1 precedes step 2). */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered, go;
};

static int gated_live_cb(void *arg, char ***ids, size_t *n)
{
    struct gate *gt = arg;
    pthread_mutex_lock(&gt->mu);
    gt->entered = 1;
    pthread_cond_broadcast(&gt->cv);
    while (!gt->go)
        pthread_cond_wait(&gt->cv, &gt->mu);
    pthread_mutex_unlock(&gt->mu);
    return dup_list(NULL, 0, ids, n);
}

struct gc_thread {
    struct vv_chunk_guard *g;
    struct vv_repo *repo;
    vv_gc_live_points_fn cb;
    void *arg;
    atomic_int *cancel;
    struct vv_gc_stats st;
    int r;
};

static void *gc_thread_main(void *arg)
{
    struct gc_thread *t = arg;
    t->r = vv_gc_run(t->g, t->repo, t->cb, t->arg, t->cancel, &t->st);
    return NULL;
}

TEST(gc_keeps_pins_released_during_the_run)
{
    struct env e;
    struct vv_chunk_io io;
    struct vv_chunk_guard *g = vv_guard_new();
    struct vv_gc_stats st;
    struct gate gt = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    struct gc_thread t;
    struct fixed_live none = {NULL, 0, NULL, 0, 0, 0};
    pthread_t th;
    uint8_t buf[MAX_CHUNK_BYTES], id[VV_CHUNK_ID_LEN];
    size_t n, stored;
    /* X pinned before the run and released during it; Y stored during the run and
     * released during it; Z never pinned; W pinned and released before the run; V
     * pinned by a session that stays open over several runs */
    enum { X = 1, Y = 2, Z = 3, W = 4, V = 5 };

    env_open(&e);
    CHECK_OK(vv_chunk_io_init(&io, 3));
    put_seed(e.repo, &io, X);
    put_seed(e.repo, &io, Z);
    put_seed(e.repo, &io, W);
    put_seed(e.repo, &io, V);
    chunk_id(X, id);
    CHECK_EQ(vv_guard_has(g, "job-x", &e.repo->chunks, id), 1);
    CHECK_EQ(vv_guard_pin(g, "job-x", id), 0); /* pinned twice: one pin */
    chunk_id(W, id);
    CHECK_EQ(vv_guard_has(g, "job-w", &e.repo->chunks, id), 1);
    vv_guard_release(g, "job-w");
    chunk_id(V, id);
    CHECK_EQ(vv_guard_has(g, "job-v", &e.repo->chunks, id), 1);
    /* bad job ids; releasing an unknown one is a no-op */
    CHECK_EQ(vv_guard_has(g, "", &e.repo->chunks, id), VV_E_INVAL);
    CHECK_EQ(vv_guard_has(g, NULL, &e.repo->chunks, id), VV_E_INVAL);
    CHECK_EQ(vv_guard_pin(g, "", id), VV_E_INVAL);
    {
        char longid[VV_GUARD_JOB_ID_MAX + 2];
        memset(longid, 'a', sizeof(longid) - 1);
        longid[sizeof(longid) - 1] = '\0';
        CHECK_EQ(vv_guard_has(g, longid, &e.repo->chunks, id), VV_E_INVAL);
        longid[VV_GUARD_JOB_ID_MAX] = '\0';
        CHECK_EQ(vv_guard_has(g, longid, &e.repo->chunks, id), 1);
        vv_guard_release(g, longid);
    }
    vv_guard_release(g, "no-such-job");
    vv_guard_release(g, "");

    memset(&t, 0, sizeof(t));
    t.g = g;
    t.repo = e.repo;
    t.cb = gated_live_cb;
    t.arg = &gt;
    CHECK_OK(pthread_create(&th, NULL, gc_thread_main, &t));
    pthread_mutex_lock(&gt.mu);
    while (!gt.entered)
        pthread_cond_wait(&gt.cv, &gt.mu);
    pthread_mutex_unlock(&gt.mu);

    /* the collection has taken the pins and waits for its live points */
    CHECK_EQ(vv_gc_run(g, e.repo, fixed_live_cb, &none, NULL, &st), VV_E_EXISTS);
    vv_guard_release(g, "job-x");
    n = gen_chunk(Y, buf, id);
    CHECK_EQ(vv_guard_put(g, "job-y", &e.repo->chunks, &io, id, buf, n, NULL, 0, &stored), 0);
    CHECK(stored > 0);
    CHECK_EQ(vv_guard_put(g, "job-y", &e.repo->chunks, &io, id, buf, n, NULL, 0, &stored), 1);
    CHECK_EQ(stored, 0);
    vv_guard_release(g, "job-y");

    pthread_mutex_lock(&gt.mu);
    gt.go = 1;
    pthread_cond_broadcast(&gt.cv);
    pthread_mutex_unlock(&gt.mu);
    pthread_join(th, NULL);
    CHECK_OK(t.r);
    CHECK_EQ(t.st.chunks_total, 5);
    CHECK_EQ(t.st.chunks_removed, 2); /* Z and W */
    CHECK_EQ(t.st.chunks_pinned_kept, 3); /* X, Y, V */
    CHECK_EQ(has_seed(e.repo, X), 1);
    CHECK_EQ(has_seed(e.repo, Y), 1);
    CHECK_EQ(has_seed(e.repo, V), 1);
    CHECK_EQ(has_seed(e.repo, Z), 0);
    CHECK_EQ(has_seed(e.repo, W), 0);

    /* the run is over: X's and Y's pins are gone, V's session is still open */
    CHECK_OK(vv_gc_run(g, e.repo, fixed_live_cb, &none, NULL, &st));
    CHECK_EQ(st.chunks_removed, 2);
    CHECK_EQ(st.chunks_pinned_kept, 1);
    CHECK_EQ(has_seed(e.repo, X), 0);
    CHECK_EQ(has_seed(e.repo, Y), 0);
    CHECK_EQ(has_seed(e.repo, V), 1);
    CHECK_OK(vv_gc_run(g, e.repo, fixed_live_cb, &none, NULL, &st));
    CHECK_EQ(st.chunks_pinned_kept, 1);
    CHECK_EQ(has_seed(e.repo, V), 1);

    /* an absent id asked about is pinned as well (the job is about to upload it), and
     * a chunk removed before the pin is reported absent */
    chunk_id(Z, id);
    CHECK_EQ(vv_guard_has(g, "job-v", &e.repo->chunks, id), 0);
    /* a pin without a lookup (a chunk a parent point names) keeps a chunk as well */
    chunk_id(V, id);
    CHECK_EQ(vv_guard_pin(g, "job-u", id), 0);
    vv_guard_release(g, "job-v");
    CHECK_OK(vv_gc_run(g, e.repo, fixed_live_cb, &none, NULL, &st));
    CHECK_EQ(st.chunks_removed, 0);
    CHECK_EQ(st.chunks_pinned_kept, 1);
    vv_guard_release(g, "job-u");
    CHECK_OK(vv_gc_run(g, e.repo, fixed_live_cb, &none, NULL, &st));
    CHECK_EQ(st.chunks_removed, 1);
    CHECK_EQ(st.chunks_pinned_kept, 0);
    CHECK_EQ(chunk_count(e.repo), 0);

    pthread_mutex_destroy(&gt.mu);
    pthread_cond_destroy(&gt.cv);
    vv_chunk_io_release(&io);
    vv_guard_free(g);
    vv_repo_close(e.repo);
}

/* A backend that forwards to another one, except that the first remove or del stops
 * until the test lets it go: a collection caught in the middle of removing a chunk. */
struct slow_backend {
    struct vv_backend base;
    struct vv_backend *inner;
    struct gate gate;
};

static struct vv_backend *inner_of(struct vv_backend *be)
{
    return ((struct slow_backend *)be)->inner;
}

static void slow_wait(struct vv_backend *be)
{
    struct gate *gt = &((struct slow_backend *)be)->gate;
    pthread_mutex_lock(&gt->mu);
    if (!gt->entered) {
        gt->entered = 1;
        pthread_cond_broadcast(&gt->cv);
        while (!gt->go)
            pthread_cond_wait(&gt->cv, &gt->mu);
    }
    pthread_mutex_unlock(&gt->mu);
}

static int slow_put(struct vv_backend *be, const char *key, const void *d, size_t n,
                    unsigned flags)
{
    return vv_backend_put(inner_of(be), key, d, n, flags);
}
static int slow_get(struct vv_backend *be, const char *key, struct vv_buf *out)
{
    return vv_backend_get(inner_of(be), key, out);
}
static int slow_has(struct vv_backend *be, const char *key)
{
    return vv_backend_has(inner_of(be), key);
}
static int slow_del(struct vv_backend *be, const char *key)
{
    slow_wait(be);
    return vv_backend_del(inner_of(be), key);
}
static int slow_list(struct vv_backend *be, const char *prefix,
                     int (*cb)(const char *key, void *arg), void *arg)
{
    return vv_backend_list(inner_of(be), prefix, cb, arg);
}
static void slow_free(struct vv_backend *be)
{
    (void)be;
}
static int slow_remove(struct vv_backend *be, const char *key, unsigned flags, uint64_t *freed)
{
    slow_wait(be);
    return vv_backend_remove(inner_of(be), key, flags, freed);
}

static const struct vv_backend_ops slow_ops = {
    .name = "slow", .put = slow_put, .get = slow_get, .has = slow_has, .del = slow_del,
    .list = slow_list, .free = slow_free, .remove = slow_remove,
};

struct asker {
    struct vv_chunk_guard *g;
    struct vv_chunkstore *cs;
    const uint8_t *id;
    int r;
};

static void *asker_main(void *arg)
{
    struct asker *a = arg;
    a->r = vv_guard_has(a->g, "job-late", a->cs, a->id);
    return NULL;
}

TEST(gc_removal_and_pin_are_atomic)
{
    struct env e;
    struct vv_chunk_io io;
    struct vv_chunk_guard *g = vv_guard_new();
    struct slow_backend slow;
    struct vv_backend *real;
    struct fixed_live none = {NULL, 0, NULL, 0, 0, 0};
    struct gc_thread t;
    struct asker a;
    pthread_t gth, ath;
    uint8_t id[VV_CHUNK_ID_LEN];

    env_open(&e);
    CHECK_OK(vv_chunk_io_init(&io, 3));
    put_seed(e.repo, &io, 7);
    chunk_id(7, id);
    memset(&slow, 0, sizeof(slow));
    slow.base.ops = &slow_ops;
    slow.inner = real = e.repo->be;
    pthread_mutex_init(&slow.gate.mu, NULL);
    pthread_cond_init(&slow.gate.cv, NULL);
    e.repo->be = e.repo->chunks.be = &slow.base;

    /* the collection decided to remove the chunk and is removing it ... */
    memset(&t, 0, sizeof(t));
    t.g = g;
    t.repo = e.repo;
    t.cb = fixed_live_cb;
    t.arg = &none;
    CHECK_OK(pthread_create(&gth, NULL, gc_thread_main, &t));
    pthread_mutex_lock(&slow.gate.mu);
    while (!slow.gate.entered)
        pthread_cond_wait(&slow.gate.cv, &slow.gate.mu);
    pthread_mutex_unlock(&slow.gate.mu);
    /* ... when a backup asks whether the store has it */
    a.g = g;
    a.cs = &e.repo->chunks;
    a.id = id;
    a.r = -100;
    CHECK_OK(pthread_create(&ath, NULL, asker_main, &a));
    usleep(100000);
    pthread_mutex_lock(&slow.gate.mu);
    slow.gate.go = 1;
    pthread_cond_broadcast(&slow.gate.cv);
    pthread_mutex_unlock(&slow.gate.mu);
    pthread_join(gth, NULL);
    pthread_join(ath, NULL);
    CHECK_OK(t.r);
    CHECK_EQ(t.st.chunks_removed, 1);
    /* the answer must not be "present" for a chunk that is gone */
    CHECK_EQ(a.r, 0);
    CHECK_EQ(vv_chunk_has(&e.repo->chunks, id), 0);
    vv_guard_release(g, "job-late");

    e.repo->be = e.repo->chunks.be = real;
    pthread_mutex_destroy(&slow.gate.mu);
    pthread_cond_destroy(&slow.gate.cv);
    vv_chunk_io_release(&io);
    vv_guard_free(g);
    vv_repo_close(e.repo);
}

TEST(backend_remove_reports_the_freed_size)
{
    const char *root = vv_test_tmpdir();
    struct vv_backend *be = vv_backend_local_open(root, 0);
    struct vv_backend_ops no_remove;
    struct slow_backend plain;
    uint64_t freed = 99;
    CHECK_EQ(vv_backend_put(be, "a/one", "12345", 5, 0), 0);
    CHECK_EQ(vv_backend_put(be, "a/two", "1234567", 7, 0), 0);
    CHECK_OK(vv_backend_remove(be, "a/one", 0, &freed));
    CHECK_EQ(freed, 5);
    CHECK_OK(vv_backend_remove(be, "a/two", VV_DEL_LAZY, &freed));
    CHECK_EQ(freed, 7);
    CHECK_EQ(vv_backend_has(be, "a/one"), 0);
    CHECK_EQ(vv_backend_has(be, "a/two"), 0);
    CHECK_EQ(vv_backend_remove(be, "a/two", VV_DEL_LAZY, &freed), VV_E_NOTFOUND);
    CHECK_EQ(freed, 0);
    CHECK_EQ(vv_backend_remove(be, "a", VV_DEL_LAZY, &freed), VV_E_NOTFOUND); /* a folder */
    CHECK_EQ(vv_backend_remove(be, "../x", 0, &freed), VV_E_INVAL);
    /* a backend without the operation: deleted all the same, size unknown (0) */
    no_remove = slow_ops;
    no_remove.remove = NULL;
    memset(&plain, 0, sizeof(plain));
    plain.base.ops = &no_remove;
    plain.inner = be;
    pthread_mutex_init(&plain.gate.mu, NULL);
    pthread_cond_init(&plain.gate.cv, NULL);
    plain.gate.entered = 1; /* never stop */
    CHECK_EQ(vv_backend_put(be, "a/three", "123", 3, 0), 0);
    freed = 99;
    CHECK_OK(vv_backend_remove(&plain.base, "a/three", VV_DEL_LAZY, &freed));
    CHECK_EQ(freed, 0);
    CHECK_EQ(vv_backend_has(be, "a/three"), 0);
    pthread_mutex_destroy(&plain.gate.mu);
    pthread_cond_destroy(&plain.gate.cv);
    vv_backend_free(be);
}

TEST(guard_free_with_open_sessions)
{
    struct env e;
    struct vv_chunk_io io;
    struct vv_chunk_guard *g = vv_guard_new();
    uint8_t id[VV_CHUNK_ID_LEN];
    env_open(&e);
    CHECK_OK(vv_chunk_io_init(&io, 3));
    for (uint64_t i = 0; i < 300; i++) {
        char job[32];
        snprintf(job, sizeof(job), "job-%llu", (unsigned long long)(i % 37));
        chunk_id(i, id);
        CHECK_EQ(vv_guard_has(g, job, &e.repo->chunks, id), 0);
    }
    vv_guard_free(g); /* sessions still open: freed with the guard (ASan checks) */
    vv_chunk_io_release(&io);
    vv_repo_close(e.repo);
}

/* ---- cancellation ------------------------------------------------------------------- */

static int cancel_live_cb(void *arg, char ***ids, size_t *n)
{
    atomic_store((atomic_int *)arg, 1);
    return dup_list(NULL, 0, ids, n);
}

TEST(gc_cancel_stops_and_leaves_guard_usable)
{
    struct env e;
    struct vv_chunk_io io;
    struct vv_chunk_guard *g = vv_guard_new();
    struct vv_gc_stats st;
    uint64_t s1[5] = {1, 2, 3, 4, 5};
    const char *live[] = {"rp-1"};
    struct fixed_live l = {live, 1, NULL, 0, 0, 0};
    atomic_int cancel = 1;

    env_open(&e);
    CHECK_OK(vv_chunk_io_init(&io, 3));
    for (uint64_t i = 1; i <= 20; i++)
        put_seed(e.repo, &io, i);
    CHECK_OK(commit_seeds(e.repo, "rp-1", s1, 5));
    /* cancelled from the start: nothing read, nothing removed */
    CHECK_EQ(vv_gc_run(g, e.repo, fixed_live_cb, &l, &cancel, &st), VV_E_CANCELLED);
    CHECK_EQ(st.points, 0);
    CHECK_EQ(st.chunks_removed, 0);
    CHECK_EQ(chunk_count(e.repo), 20);
    /* cancelled once marking is done: the sweep stops at its first chunk */
    atomic_store(&cancel, 0);
    CHECK_EQ(vv_gc_run(g, e.repo, cancel_live_cb, &cancel, &cancel, &st), VV_E_CANCELLED);
    CHECK_EQ(st.chunks_total, 0);
    CHECK_EQ(st.chunks_removed, 0);
    CHECK_EQ(chunk_count(e.repo), 20);
    /* the guard is free for the next run */
    atomic_store(&cancel, 0);
    CHECK_OK(vv_gc_run(g, e.repo, fixed_live_cb, &l, &cancel, &st));
    CHECK_EQ(st.chunks_removed, 15);
    CHECK_EQ(verify_point(e.repo, &io, "rp-1", s1, 5), 0);
    vv_chunk_io_release(&io);
    vv_guard_free(g);
    vv_repo_close(e.repo);
}

/* ---- stress: backups, prunes, restores and collections at once ---------------------- */

struct spoint {
    char id[VV_POINT_ID_MAX];
    uint64_t *seeds; /* owned */
    size_t n;
    int restoring; /* a restore reads it: prune leaves it alone */
};

struct stress {
    struct vv_repo *repo;
    struct vv_chunk_guard *g;
    pthread_mutex_t mu;     /* guards points, npoints */
    struct spoint *points;  /* the catalog */
    size_t npoints, cap;
    uint64_t recycled[256]; /* seeds of pruned points and abandoned sessions: garbage, */
    size_t nrecycled;       /* or about to be, that disks still hold; under mu */
    atomic_int stop;
    atomic_uint_fast64_t next_seed;
    /* results */
    atomic_int errors;      /* anything that must never happen */
    atomic_int commits, abandons, refused, prunes, restores, gc_runs, gc_failures;
    atomic_uint_fast64_t gc_removed, gc_pinned_kept, gc_vanished;
    pthread_mutex_t msg_mu;
    char msg[512];          /* the first error */
};

static void stress_error(struct stress *s, const char *what, int r)
{
    atomic_fetch_add(&s->errors, 1);
    pthread_mutex_lock(&s->msg_mu);
    if (!s->msg[0])
        snprintf(s->msg, sizeof(s->msg), "%s: %d (%s)", what, r, vv_errname(r));
    pthread_mutex_unlock(&s->msg_mu);
}

/* Copy up to max seeds of a random catalog point into out. */
static size_t pick_old_seeds(struct stress *s, uint64_t *rng, uint64_t *out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&s->mu);
    if (s->npoints) {
        struct spoint *p = &s->points[xorshift(rng) % s->npoints];
        for (size_t i = 0; i < p->n && n < max; i++)
            if (xorshift(rng) % 3 == 0)
                out[n++] = p->seeds[i];
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* Remember seeds that became garbage: later backups meet the same data again. */
static void recycle(struct stress *s, const uint64_t *seeds, size_t n)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < n; i++)
        s->recycled[s->nrecycled++ % 256] = seeds[i];
    pthread_mutex_unlock(&s->mu);
}

/* Up to max seeds of the recycled ones. */
static size_t pick_recycled(struct stress *s, uint64_t *rng, uint64_t *out, size_t max)
{
    size_t n = 0, have;
    pthread_mutex_lock(&s->mu);
    have = s->nrecycled < 256 ? s->nrecycled : 256;
    while (have && n < max)
        out[n++] = s->recycled[xorshift(rng) % have];
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void catalog_add(struct stress *s, const char *id, uint64_t *seeds, size_t n)
{
    pthread_mutex_lock(&s->mu);
    if (s->npoints == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->points = realloc(s->points, s->cap * sizeof(*s->points));
        if (!s->points)
            abort();
    }
    memset(&s->points[s->npoints], 0, sizeof(s->points[0]));
    snprintf(s->points[s->npoints].id, VV_POINT_ID_MAX, "%s", id);
    s->points[s->npoints].seeds = seeds;
    s->points[s->npoints].n = n;
    s->npoints++;
    pthread_mutex_unlock(&s->mu);
}

/* A backup session as the server runs it for an agent. */
static void backup_session(struct stress *s, int w, int k, uint64_t *rng,
                           struct vv_chunk_io *io)
{
    enum { MAXC = 48 };
    uint64_t *seeds = malloc(MAXC * sizeof(*seeds));
    uint8_t buf[MAX_CHUNK_BYTES], id[VV_CHUNK_ID_LEN];
    char job[64], pid[VV_POINT_ID_MAX];
    size_t n, inherited, len;
    int r, abandon = xorshift(rng) % 6 == 0;

    snprintf(job, sizeof(job), "job-%d-%d", w, k);
    /* the disk: old chunks of an existing point, then new ones. The first few old ones
     * are inherited unread from the parent, as an incremental does: the agent never
     * asks about them, the commit check below pins them */
    n = pick_old_seeds(s, rng, seeds, MAXC / 2 - 8);
    inherited = n < 3 ? n : 3;
    n += pick_recycled(s, rng, seeds + n, 8); /* data met before, now garbage */
    while (n < MAXC / 2 + 4 + xorshift(rng) % (MAXC / 2 - 4))
        seeds[n++] = atomic_fetch_add(&s->next_seed, 1);
    /* (a) which are missing? */
    for (size_t i = inherited; i < n; i++) {
        len = gen_chunk(seeds[i], buf, id);
        r = vv_guard_has(s->g, job, &s->repo->chunks, id);
        if (r < 0) {
            stress_error(s, "guard_has", r);
            goto out;
        }
        /* (b) upload the missing ones */
        if (r == 0 && (r = vv_guard_put(s->g, job, &s->repo->chunks, io, id, buf, len,
                                        NULL, 0, NULL)) < 0) {
            stress_error(s, "guard_put", r);
            goto out;
        }
    }
    if (abandon) {
        recycle(s, seeds + inherited, n - inherited);
        atomic_fetch_add(&s->abandons, 1);
        goto out;
    }
    /* (d) commit: every referenced chunk must be there (checked through the guard) */
    for (size_t i = 0; i < n; i++) {
        chunk_id(seeds[i], id);
        r = vv_guard_has(s->g, job, &s->repo->chunks, id);
        if (r < 0) {
            stress_error(s, "guard_has at commit", r);
            goto out;
        }
        if (r == 0) {
            if (i >= inherited) { /* asked, present or uploaded, and pinned since */
                stress_error(s, "a pinned chunk vanished before the commit", VV_E_NOTFOUND);
                goto out;
            }
            /* an inherited chunk whose point was pruned and collected: refused */
            atomic_fetch_add(&s->refused, 1);
            goto out;
        }
    }
    snprintf(pid, sizeof(pid), "rp-w%d-%06d", w, k);
    if ((r = commit_seeds(s->repo, pid, seeds, n)) < 0) {
        stress_error(s, "commit", r);
        goto out;
    }
    catalog_add(s, pid, seeds, n);
    seeds = NULL;
    atomic_fetch_add(&s->commits, 1);
out:
    vv_guard_release(s->g, job); /* after the catalog has the point */
    free(seeds);
}

struct worker {
    struct stress *s;
    int w;
};

static void *writer_main(void *arg)
{
    struct worker *wk = arg;
    struct vv_chunk_io io;
    uint64_t rng = 0x51ed2701u + (uint64_t)wk->w * 7919;
    if (vv_chunk_io_init(&io, 1) < 0) {
        stress_error(wk->s, "io init", VV_E_NOMEM);
        return NULL;
    }
    for (int k = 0; !atomic_load(&wk->s->stop); k++)
        backup_session(wk->s, wk->w, k, &rng, &io);
    vv_chunk_io_release(&io);
    return NULL;
}

static void *prune_main(void *arg)
{
    struct stress *s = arg;
    uint64_t rng = 0xabcdef;
    while (!atomic_load(&s->stop)) {
        char id[VV_POINT_ID_MAX] = "";
        uint64_t *seeds = NULL;
        size_t n = 0;
        int r;
        pthread_mutex_lock(&s->mu);
        if (s->npoints > 6) {
            size_t i = xorshift(&rng) % s->npoints;
            if (!s->points[i].restoring) {
                snprintf(id, sizeof(id), "%s", s->points[i].id);
                seeds = s->points[i].seeds;
                n = s->points[i].n;
                s->points[i] = s->points[--s->npoints]; /* out of the catalog first */
            }
        }
        pthread_mutex_unlock(&s->mu);
        if (id[0]) {
            if ((r = vv_repo_point_delete(s->repo, id)) < 0)
                stress_error(s, "point delete", r);
            recycle(s, seeds, n < 8 ? n : 8);
            free(seeds);
            atomic_fetch_add(&s->prunes, 1);
        }
        usleep(2000);
    }
    return NULL;
}

static void *restore_main(void *arg)
{
    struct stress *s = arg;
    struct vv_chunk_io io;
    uint64_t rng = 0x777;
    if (vv_chunk_io_init(&io, 1) < 0)
        return NULL;
    while (!atomic_load(&s->stop)) {
        char id[VV_POINT_ID_MAX] = "";
        uint64_t *seeds = NULL;
        size_t n = 0;
        int bad;
        pthread_mutex_lock(&s->mu);
        if (s->npoints) {
            struct spoint *p = &s->points[xorshift(&rng) % s->npoints];
            p->restoring = 1;
            snprintf(id, sizeof(id), "%s", p->id);
            seeds = p->seeds;
            n = p->n;
        }
        pthread_mutex_unlock(&s->mu);
        if (!id[0]) {
            usleep(1000);
            continue;
        }
        if ((bad = verify_point(s->repo, &io, id, seeds, n)) != 0)
            stress_error(s, "restore of a catalog point", bad < 0 ? VV_E_NOTFOUND : VV_E_HASH);
        atomic_fetch_add(&s->restores, 1);
        pthread_mutex_lock(&s->mu);
        for (size_t i = 0; i < s->npoints; i++)
            if (!strcmp(s->points[i].id, id))
                s->points[i].restoring = 0;
        pthread_mutex_unlock(&s->mu);
    }
    vv_chunk_io_release(&io);
    return NULL;
}

static int stress_live_cb(void *arg, char ***ids, size_t *n)
{
    struct stress *s = arg;
    char **v;
    pthread_mutex_lock(&s->mu);
    v = calloc(s->npoints ? s->npoints : 1, sizeof(*v));
    for (size_t i = 0; v && i < s->npoints; i++)
        if (!(v[i] = strdup(s->points[i].id)))
            abort();
    *n = s->npoints;
    pthread_mutex_unlock(&s->mu);
    if (!v)
        return VV_E_NOMEM;
    *ids = v;
    return 0;
}

static void *collector_main(void *arg)
{
    struct stress *s = arg;
    while (!atomic_load(&s->stop)) {
        struct vv_gc_stats st;
        int r = vv_gc_run(s->g, s->repo, stress_live_cb, s, &s->stop, &st);
        if (r == VV_E_CANCELLED)
            break;
        atomic_fetch_add(&s->gc_runs, 1);
        if (r < 0) {
            atomic_fetch_add(&s->gc_failures, 1);
            stress_error(s, "gc run", r);
            continue;
        }
        atomic_fetch_add(&s->gc_removed, st.chunks_removed);
        atomic_fetch_add(&s->gc_pinned_kept, st.chunks_pinned_kept);
        atomic_fetch_add(&s->gc_vanished, st.points_vanished);
    }
    return NULL;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

TEST(gc_stress_with_backups_prunes_and_restores)
{
    enum { WRITERS = 4 };
    struct env e;
    struct stress s;
    struct worker wk[WRITERS];
    pthread_t wt[WRITERS], pt, rt, ct;
    struct vv_chunk_io io;
    struct vv_gc_stats st;
    const char *env_secs = getenv("VV_GC_STRESS_SECONDS");
    double secs = env_secs ? strtod(env_secs, NULL) : 5.0, t0;
    int bad = 0;

    env_open(&e);
    memset(&s, 0, sizeof(s));
    s.repo = e.repo;
    s.g = vv_guard_new();
    pthread_mutex_init(&s.mu, NULL);
    pthread_mutex_init(&s.msg_mu, NULL);
    atomic_init(&s.next_seed, 1);
    CHECK_OK(vv_chunk_io_init(&io, 1));
    /* a few points to start from */
    for (int p = 0; p < 8; p++) {
        uint64_t *seeds = malloc(32 * sizeof(*seeds));
        char pid[VV_POINT_ID_MAX];
        for (int i = 0; i < 32; i++) {
            seeds[i] = atomic_fetch_add(&s.next_seed, 1);
            put_seed(e.repo, &io, seeds[i]);
        }
        snprintf(pid, sizeof(pid), "rp-base-%d", p);
        CHECK_OK(commit_seeds(e.repo, pid, seeds, 32));
        catalog_add(&s, pid, seeds, 32);
    }

    t0 = now_s();
    for (int w = 0; w < WRITERS; w++) {
        wk[w].s = &s;
        wk[w].w = w;
        CHECK_OK(pthread_create(&wt[w], NULL, writer_main, &wk[w]));
    }
    CHECK_OK(pthread_create(&pt, NULL, prune_main, &s));
    CHECK_OK(pthread_create(&rt, NULL, restore_main, &s));
    CHECK_OK(pthread_create(&ct, NULL, collector_main, &s));
    /* secs at least, longer (up to 6 x) until three collections overlapped the work */
    while ((now_s() - t0 < secs || atomic_load(&s.gc_runs) < 3) && now_s() - t0 < 6 * secs &&
           atomic_load(&s.errors) == 0)
        usleep(50000);
    atomic_store(&s.stop, 1);
    for (int w = 0; w < WRITERS; w++)
        pthread_join(wt[w], NULL);
    pthread_join(pt, NULL);
    pthread_join(rt, NULL);
    pthread_join(ct, NULL);

    if (s.msg[0])
        vv_test_fail(__FILE__, __LINE__, "stress: %s", s.msg);
    CHECK_EQ(atomic_load(&s.errors), 0);
    CHECK_EQ(atomic_load(&s.gc_failures), 0);
    /* it was a real race: collections ran, removed garbage and spared pinned chunks */
    CHECK(atomic_load(&s.gc_runs) >= 3);
    CHECK(atomic_load(&s.gc_removed) > 0);
    CHECK(atomic_load(&s.gc_pinned_kept) > 0);
    CHECK(atomic_load(&s.commits) >= 20);
    CHECK(atomic_load(&s.abandons) > 0);
    CHECK(atomic_load(&s.prunes) > 0);
    if (vv_test_failed() || getenv("VV_TEST_VERBOSE"))
        printf("     %.1f s: %d commits, %d abandoned, %d refused, %d prunes, %d restores, "
               "%d collections removing %llu chunks, keeping %llu pinned, %llu points "
               "vanished\n",
               now_s() - t0, atomic_load(&s.commits), atomic_load(&s.abandons),
               atomic_load(&s.refused), atomic_load(&s.prunes), atomic_load(&s.restores),
               atomic_load(&s.gc_runs), (unsigned long long)atomic_load(&s.gc_removed),
               (unsigned long long)atomic_load(&s.gc_pinned_kept),
               (unsigned long long)atomic_load(&s.gc_vanished));

    /* every point still in the catalog loads, and every chunk of it reads back */
    for (size_t i = 0; i < s.npoints; i++) {
        int b = verify_point(e.repo, &io, s.points[i].id, s.points[i].seeds, s.points[i].n);
        if (b != 0) {
            vv_test_fail(__FILE__, __LINE__, "point %s: %d bad chunks", s.points[i].id, b);
            bad++;
        }
    }
    CHECK_EQ(bad, 0);
    /* with every session released, one more run leaves exactly the referenced chunks */
    CHECK_OK(vv_gc_run(s.g, e.repo, stress_live_cb, &s, NULL, &st));
    CHECK_EQ(st.chunks_pinned_kept, 0);
    CHECK_EQ(st.chunks_missing, 0);
    CHECK_EQ(st.chunks_total - st.chunks_removed, st.chunks_referenced);
    CHECK_EQ(chunk_count(e.repo), st.chunks_referenced);
    for (size_t i = 0; i < s.npoints; i++)
        CHECK_EQ(verify_point(e.repo, &io, s.points[i].id, s.points[i].seeds,
                              s.points[i].n), 0);

    for (size_t i = 0; i < s.npoints; i++)
        free(s.points[i].seeds);
    free(s.points);
    pthread_mutex_destroy(&s.mu);
    pthread_mutex_destroy(&s.msg_mu);
    vv_chunk_io_release(&io);
    vv_guard_free(s.g);
    vv_repo_close(e.repo);
}
