/*
 * test_store_faults.c: the store under failing storage. A backend wrapper, set up
 * here around the real local backend (production code has no hook for it), fails the
 * Nth operation of one kind: a write (put: nothing stored, VV_E_NOSPC as a full disk
 * gives), a rename (put: nothing stored, VV_E_IO), an fsync (a durable put whose
 * object is in place but whose folder flush failed, or a sync of deferred puts:
 * VV_E_IO) or a read (get: VV_E_IO). For every N that a backup plus its commit reach
 * (N = 1, 2, ... until the run needs fewer operations than N), one fault is injected
 * and then: the error returned is the injected code, the whole store verifies, the
 * point committed before is intact, and the new point is either absent (not one of
 * its objects or folders left) or listed and whole; once no fault fires, the new
 * point is there and whole.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "engine/source.h"
#include "err.h"
#include "harness.h"
#include "key.h"
#include "store/backend.h"
#include "store/repo.h"

enum kind { K_WRITE, K_RENAME, K_FSYNC, K_READ, K_KINDS };
static const char *const kind_name[K_KINDS] = {"write", "rename", "fsync", "read"};
static const int kind_code[K_KINDS] = {VV_E_NOSPC, VV_E_IO, VV_E_IO, VV_E_IO};

struct fault_be {
    struct vv_backend base;
    struct vv_backend *inner; /* owned */
    pthread_mutex_t mu;       /* the engine puts from many threads */
    int armed;
    enum kind kind;
    long n;             /* fail the nth operation of kind (1-based) */
    long seen[K_KINDS]; /* operations of each kind so far */
    int fired;
};

static struct fault_be *F(struct vv_backend *be) { return (struct fault_be *)be; }

/* Count one operation of kind k: 1 when it is the one to fail. */
static int hit(struct fault_be *f, enum kind k)
{
    int fire;
    pthread_mutex_lock(&f->mu);
    fire = f->armed && f->kind == k && ++f->seen[k] == f->n;
    if (fire)
        f->fired = 1;
    pthread_mutex_unlock(&f->mu);
    return fire;
}

static int f_put(struct vv_backend *be, const char *key, const void *d, size_t n, unsigned fl)
{
    struct fault_be *f = F(be);
    int r;
    if (hit(f, K_WRITE))
        return kind_code[K_WRITE];
    if (hit(f, K_RENAME))
        return kind_code[K_RENAME];
    r = f->inner->ops->put(f->inner, key, d, n, fl);
    /* a durable put flushes its folder after the rename: that flush fails */
    if (r == 0 && !(fl & VV_PUT_DEFER) && hit(f, K_FSYNC))
        return kind_code[K_FSYNC];
    return r;
}

static int f_get(struct vv_backend *be, const char *key, struct vv_buf *out)
{
    if (hit(F(be), K_READ))
        return kind_code[K_READ];
    return F(be)->inner->ops->get(F(be)->inner, key, out);
}

static int f_has(struct vv_backend *be, const char *key)
{
    return F(be)->inner->ops->has(F(be)->inner, key);
}

static int f_del(struct vv_backend *be, const char *key)
{
    return F(be)->inner->ops->del(F(be)->inner, key);
}

static int f_list(struct vv_backend *be, const char *prefix, int (*cb)(const char *, void *),
                  void *arg)
{
    return F(be)->inner->ops->list(F(be)->inner, prefix, cb, arg);
}

static int f_remove(struct vv_backend *be, const char *key, unsigned flags, uint64_t *freed)
{
    return vv_backend_remove(F(be)->inner, key, flags, freed);
}

static int f_sync(struct vv_backend *be)
{
    if (hit(F(be), K_FSYNC))
        return kind_code[K_FSYNC];
    return vv_backend_sync(F(be)->inner);
}

static int f_rmdir(struct vv_backend *be, const char *folder)
{
    return vv_backend_rmdir(F(be)->inner, folder);
}

static void f_free(struct vv_backend *be)
{
    vv_backend_free(F(be)->inner);
    pthread_mutex_destroy(&F(be)->mu);
    free(be);
}

static const struct vv_backend_ops fault_ops = {
    .name = "fault", .put = f_put,   .get = f_get,   .has = f_has,       .del = f_del,
    .list = f_list,  .free = f_free, .remove = f_remove, .sync = f_sync, .rmdir = f_rmdir,
};

/* Put the wrapper between repo and its backend (the repo then owns the wrapper). */
static struct fault_be *wrap(struct vv_repo *repo)
{
    struct fault_be *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->base.ops = &fault_ops;
    f->inner = repo->be;
    pthread_mutex_init(&f->mu, NULL);
    repo->be = &f->base;
    repo->chunks.be = &f->base;
    return f;
}

/* Dozens of stores are made and flushed: on a RAM file system when there is one (the
 * faults are injected above the disk, so its kind does not matter), unless TMPDIR
 * says where. */
__attribute__((constructor)) static void prefer_ram(void)
{
    struct stat st;
    if (!getenv("TMPDIR") && stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
        access("/dev/shm", W_OK) == 0)
        setenv("TMPDIR", "/dev/shm", 0);
}

/* ---- the scenario --------------------------------------------------------------------- */

#define KiB 1024u
#define IMG (640 * KiB)
#define CHUNK (64 * KiB)

static void image(const char *path, uint64_t seed)
{
    uint8_t *buf = malloc(IMG);
    FILE *fp = fopen(path, "wb");
    CHECK(buf && fp);
    if (buf && fp) {
        vv_test_seed(seed);
        vv_test_fill(buf, IMG);
        memset(buf + 2 * CHUNK, 0, CHUNK); /* a zero chunk too */
        CHECK_EQ(fwrite(buf, 1, IMG, fp), IMG);
    }
    if (fp)
        fclose(fp);
    free(buf);
}

static int backup(struct vv_repo *repo, const char *img, const struct vv_index *parent,
                  struct vv_index *out)
{
    struct vv_engine_opts o = {.threads = 2, .fixed_chunks = 1};
    struct vv_backup_stats st = {0};
    struct vv_extent all = {0, IMG};
    struct vv_source *src = NULL;
    int r = vv_source_file_open(img, &src);
    if (r)
        return r;
    r = vv_disk_backup(repo, src, CHUNK, parent, parent ? &all : NULL, parent ? 1 : 0, &o, out,
                       &st);
    vv_source_close(src);
    return r;
}

static int commit(struct vv_repo *repo, const char *id, const char *parent, struct vv_index *ix)
{
    struct vv_manifest m;
    int r;
    vv_manifest_init(&m);
    snprintf(m.id, sizeof(m.id), "%s", id);
    snprintf(m.parent, sizeof(m.parent), "%s", parent ? parent : "");
    m.created = 1795804648;
    r = vv_manifest_add_disk(&m, "vda", NULL, NULL);
    if (r == 0)
        r = vv_repo_point_commit(repo, &m, ix);
    vv_manifest_release(&m);
    return r;
}

/* The armed part: read the parent back, back up the changed image, commit. */
static int run(struct vv_repo *repo, const char *img)
{
    struct vv_manifest pm;
    struct vv_index parent = {0}, ix = {0};
    int r = vv_repo_point_load(repo, "rp-base", &pm);
    if (r == 0 && pm.ndisks == 1)
        r = vv_repo_index_load(repo, &pm, &pm.disks[0], &parent);
    if (r == 0)
        r = backup(repo, img, &parent, &ix);
    if (r == 0)
        r = commit(repo, "rp-new", "rp-base", &ix);
    vv_index_release(&ix);
    vv_index_release(&parent);
    vv_manifest_release(&pm);
    return r;
}

struct names {
    int base, new_manifest, new_any;
};

static int note_point(const char *id, void *arg)
{
    struct names *n = arg;
    n->base |= !strcmp(id, "rp-base");
    n->new_manifest |= !strcmp(id, "rp-new");
    return 0;
}

static int note_any(const char *id, void *arg)
{
    ((struct names *)arg)->new_any |= !strcmp(id, "rp-new");
    return 0;
}

/* After a run: the store verifies, the base is whole, the new point whole or absent
 * (no object, no folder). Returns whether the new point is there. */
static int check_store(struct vv_repo *repo, const char *dir, const char *what)
{
    struct vv_engine_opts o = {.threads = 2};
    struct vv_verify_stats vs = {0};
    struct names n = {0};
    char folder[4400];
    struct stat st;

    CHECK_OK(vv_store_verify(repo, &o, &vs));
    CHECK_OK(vv_repo_point_list(repo, note_point, &n));
    CHECK_OK(vv_repo_point_list_all(repo, note_any, &n));
    CHECK(n.base);
    CHECK_OK(vv_point_verify(repo, "rp-base", &o, &vs));
    if (n.new_manifest) {
        CHECK_OK(vv_point_verify(repo, "rp-new", &o, &vs));
    } else {
        snprintf(folder, sizeof(folder), "%s/points/rp-new", dir);
        if (n.new_any || stat(folder, &st) == 0)
            vv_test_fail(__FILE__, __LINE__, "%s: the failed commit left %s", what,
                         n.new_any ? "objects of rp-new" : "an empty folder points/rp-new");
    }
    return n.new_manifest;
}

/* One fresh store with the base point committed (no faults), wrapped: a copy of a
 * template made once (a store's 257 folders cost more to make than to copy). */
static struct vv_repo *fresh(const char *top, int i, const char *key, const char *img0,
                             char *dir, size_t dirlen, struct fault_be **f)
{
    struct vv_repo *repo = NULL;
    struct vv_index ix = {0};
    char tpl[4400], cmd[9000];
    struct stat st;

    snprintf(tpl, sizeof(tpl), "%s/template", top);
    if (stat(tpl, &st) != 0) {
        CHECK_OK(vv_repo_open(tpl, key, 1, &repo));
        if (!repo)
            return NULL;
        CHECK_OK(backup(repo, img0, NULL, &ix));
        CHECK_OK(commit(repo, "rp-base", NULL, &ix));
        vv_index_release(&ix);
        vv_repo_close(repo);
        repo = NULL;
    }
    snprintf(dir, dirlen, "%s/s%d", top, i);
    snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", tpl, dir);
    CHECK_EQ(system(cmd), 0);
    CHECK_OK(vv_repo_open(dir, key, 0, &repo));
    if (!repo)
        return NULL;
    *f = wrap(repo);
    return repo;
}

static void fault_each(enum kind k)
{
    const char *top = vv_test_tmpdir();
    char key[4300], img0[4300], img1[4300], dir[4400], what[64];
    int store = 0;

    snprintf(key, sizeof(key), "%s/vault.key", top);
    snprintf(img0, sizeof(img0), "%s/a.img", top);
    snprintf(img1, sizeof(img1), "%s/b.img", top);
    CHECK_OK(vv_key_generate(key));
    image(img0, 1);
    image(img1, 2);
    for (long n = 1; n <= 200 && !vv_test_failed(); n++) {
        struct fault_be *f = NULL;
        struct vv_repo *repo = fresh(top, store++, key, img0, dir, sizeof(dir), &f);
        int r;
        if (!repo || !f)
            return;
        f->kind = k;
        f->n = n;
        f->armed = 1;
        r = run(repo, img1);
        f->armed = 0;
        snprintf(what, sizeof(what), "%s fault %ld", kind_name[k], n);
        if (!f->fired) { /* the run needs fewer than n operations: done */
            CHECK_OK(r);
            CHECK(check_store(repo, dir, what));
            CHECK(n > 1); /* at least one operation of each kind was reached */
            vv_repo_close(repo);
            return;
        }
        if (r != kind_code[k])
            vv_test_fail(__FILE__, __LINE__, "%s: returned %s, not %s", what,
                         vv_errname(r), vv_errname(kind_code[k]));
        if (check_store(repo, dir, what) && r != 0)
            vv_test_fail(__FILE__, __LINE__, "%s: the run failed yet its point is listed",
                         what);
        vv_repo_close(repo);
    }
    if (!vv_test_failed())
        vv_test_fail(__FILE__, __LINE__, "%s: the run never completed within 200 faults",
                     kind_name[k]);
}

TEST(write_faults_leave_a_whole_store)
{
    fault_each(K_WRITE);
}

TEST(rename_faults_leave_a_whole_store)
{
    fault_each(K_RENAME);
}

TEST(fsync_faults_leave_a_whole_store)
{
    fault_each(K_FSYNC);
}

TEST(read_faults_leave_a_whole_store)
{
    fault_each(K_READ);
}
