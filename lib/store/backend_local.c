/*
 * backend_local.c: the local-directory backend.
 *
 * An object "a/b/c" is the file <root>/a/b/c. put writes a temporary file
 * ".tmp-<name>-<pid>-<tid>-<n>" in the target folder, fsyncs it, renames it into place
 * with RENAME_NOREPLACE (link+unlink where the filesystem lacks it) and fsyncs the
 * folder, so a crash or kill at any moment leaves either no object or the whole one,
 * and a killed writer leaves at most a temporary file that no reader ever opens
 * (names starting with "." are never keys) and vv_backend_local_clean_tmp() removes.
 *
 * With VV_PUT_DEFER the two fsyncs are skipped and one syncfs() at the next sync makes
 * every such object durable at once; a marker file in the root (see backend.h) records
 * that unsynced objects may exist, so that recovery after a power loss knows to look.
 *
 * Deferred puts and the flush race. syncfs() makes durable what was written before it
 * began; a put whose bytes land while it runs may or may not be flushed. Counting the
 * puts that have *begun* does not see this: a put that began before a sync read the
 * count and finished while syncfs() ran leaves the count unchanged and nothing in
 * flight, so the sync would remove the marker and clear "marked"; every later sync
 * would then return at once although that put's data may still be only in memory,
 * and the next commit that references the chunk would write its manifest without
 * flushing it: a power loss would lose a chunk of a committed point, with no marker
 * telling recovery to look. So puts are counted when they *complete* (done), and a
 * sync records how many had completed before its syncfs() began (flushed): a sync
 * flushes whenever a put completed after the last flush began, or one is in flight
 * (its object may already be visible to another writer's dedup check, whose commit
 * then relies on this sync); the marker goes only when no put is in flight and none
 * completed since the flush began.
 *
 * Errors: ENOSPC and EDQUOT become VV_E_NOSPC (the file system is full), the rest of
 * the operating system's failures VV_E_IO.
 */
#include "store/backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "util.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

struct local_backend {
    struct vv_backend base;
    int rootfd;
    char *root;
    /* Deferred puts: mu guards the rest. marker is the root's ".unsynced-..." file name,
     * present on disk while marked; inflight counts deferred puts begun and not finished,
     * done those finished (stored or not), flushed the value done had when the last
     * successful syncfs() began (see the top of this file). */
    pthread_mutex_t mu;
    int marked;
    unsigned inflight;
    uint64_t done, flushed;
    uint64_t syncs; /* syncfs() calls made by local_sync, for tests */
    void (*hook)(void *arg, int where); /* tests: see vv_backend_local_hook() */
    void *hook_arg;
    char marker[96];
};

static atomic_uint tmp_counter;
static atomic_uint backend_counter;
#define MARKER_PREFIX ".unsynced-"

static struct local_backend *L(struct vv_backend *be) { return (struct local_backend *)be; }

/* The vv_err of an operating-system failure: a full file system or quota is NOSPC. */
static int os_err(int e) { return vv_err_from_errno(e); }

static int fsync_dirat(int rootfd, const char *rel)
{
    int fd = openat(rootfd, rel && *rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r = 0;
    if (fd < 0)
        return VV_E_IO;
    if (fsync(fd) < 0)
        r = VV_E_IO;
    close(fd);
    return r;
}

/* mkdir -p of the folder part of key, fsyncing each parent whose entries changed. */
static int make_parents(struct local_backend *lb, const char *key)
{
    char path[VV_PATH_MAX];
    size_t n = strlen(key);
    if (n >= sizeof(path))
        return VV_E_INVAL;
    memcpy(path, key, n + 1);
    for (char *p = path; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdirat(lb->rootfd, path, 0750) == 0) {
            char *slash = strrchr(path, '/');
            if (slash) {
                *slash = '\0';
                fsync_dirat(lb->rootfd, path);
                *slash = '/';
            } else {
                fsync_dirat(lb->rootfd, ".");
            }
        } else if (errno != EEXIST) {
            return vv_fail(os_err(errno), "store %s: cannot create folder %s: %s", lb->root,
                           path, strerror(errno));
        }
        *p = '/';
    }
    return 0;
}

static void split_key(const char *key, char *dir, size_t dirlen, const char **base)
{
    const char *slash = strrchr(key, '/');
    if (slash) {
        size_t n = (size_t)(slash - key);
        if (n >= dirlen)
            n = dirlen - 1;
        memcpy(dir, key, n);
        dir[n] = '\0';
        *base = slash + 1;
    } else {
        snprintf(dir, dirlen, ".");
        *base = key;
    }
}

/* The boot id without dashes (32 hex digits), or "unknown". */
static void boot_id(char out[40])
{
    char raw[64] = "";
    size_t k = 0;
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, raw, sizeof(raw) - 1);
        raw[n > 0 ? n : 0] = '\0';
        close(fd);
    }
    for (const char *p = raw; *p && k < 32; p++)
        if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))
            out[k++] = *p;
    if (k != 32)
        snprintf(out, 40, "unknown");
    else
        out[k] = '\0';
}

/* Before a deferred put: make sure the marker exists durably, count the put. */
static int defer_begin(struct local_backend *lb)
{
    int r = 0;
    pthread_mutex_lock(&lb->mu);
    if (!lb->marked) {
        int fd = openat(lb->rootfd, lb->marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
        if (fd < 0 || fsync(fd) < 0 || fsync(lb->rootfd) < 0) {
            r = os_err(errno);
            vv_error("store %s: cannot create %s: %s", lb->root, lb->marker, strerror(errno));
        } else {
            lb->marked = 1;
        }
        if (fd >= 0)
            close(fd);
    }
    if (r == 0)
        lb->inflight++;
    pthread_mutex_unlock(&lb->mu);
    return r;
}

static void defer_end(struct local_backend *lb)
{
    pthread_mutex_lock(&lb->mu);
    lb->inflight--;
    lb->done++;
    pthread_mutex_unlock(&lb->mu);
}

static int local_sync(struct vv_backend *be)
{
    struct local_backend *lb = L(be);
    uint64_t done;

    pthread_mutex_lock(&lb->mu);
    /* Nothing completed since the last flush began and nothing in flight: every
     * deferred object a caller has seen is durable already. */
    if (!lb->marked || (lb->inflight == 0 && lb->done == lb->flushed)) {
        pthread_mutex_unlock(&lb->mu);
        return 0;
    }
    done = lb->done; /* what this flush will cover for sure */
    lb->syncs++;
    pthread_mutex_unlock(&lb->mu);
    if (lb->hook)
        lb->hook(lb->hook_arg, VV_LOCAL_HOOK_SYNC);
    if (syncfs(lb->rootfd) < 0) {
        return vv_fail(os_err(errno), "store %s: cannot flush the file system: %s", lb->root,
                       strerror(errno));
    }
    /* The marker may go only if no deferred put is in flight and none completed while
     * syncfs() ran (its bytes may have missed the flush). Its removal need not be
     * durable: a marker that comes back costs a check, no more. */
    pthread_mutex_lock(&lb->mu);
    if (done > lb->flushed)
        lb->flushed = done;
    if (lb->inflight == 0 && lb->done == lb->flushed && unlinkat(lb->rootfd, lb->marker, 0) == 0)
        lb->marked = 0;
    pthread_mutex_unlock(&lb->mu);
    return 0;
}

static int put_file(struct local_backend *lb, const char *key, const void *data, size_t len,
                    unsigned flags)
{
    int durable = !(flags & VV_PUT_DEFER);
    char dir[VV_PATH_MAX], tmp[VV_PATH_MAX];
    const char *base;
    int fd, r, saved;

    split_key(key, dir, sizeof(dir), &base);
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.tmp-%.64s-%ld-%ld-%u", dir, base,
                         (long)getpid(), (long)syscall(SYS_gettid),
                         atomic_fetch_add(&tmp_counter, 1)) >= sizeof(tmp))
        return VV_E_INVAL;

    fd = openat(lb->rootfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0 && errno == ENOENT) {
        if ((r = make_parents(lb, key)) < 0)
            return r;
        fd = openat(lb->rootfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    }
    if (fd < 0) {
        return vv_fail(os_err(errno), "store %s: cannot create %s: %s", lb->root, tmp,
                       strerror(errno));
    }
    errno = 0;
    r = vv_write_all(fd, data, len);
    if (r < 0)
        r = os_err(errno);
    if (r == 0 && durable && fsync(fd) < 0)
        r = os_err(errno);
    /* Deferred: start writing it out now, so that the disk works while the transfer
     * goes on and the commit's syncfs has little left to wait for. */
    if (r == 0 && !durable)
        sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    saved = errno;
    if (close(fd) < 0 && r == 0) {
        saved = errno;
        r = os_err(saved);
    }
    if (r < 0) {
        vv_error("store %s: cannot write %s (%zu bytes): %s", lb->root, key, len,
                 saved ? strerror(saved) : vv_strerror(r));
        unlinkat(lb->rootfd, tmp, 0);
        return r;
    }

    /* After this block the temporary file is gone whatever happened. */
    if (flags & VV_PUT_REPLACE) {
        r = renameat(lb->rootfd, tmp, lb->rootfd, key) == 0 ? 0 : os_err(errno);
        saved = errno;
        if (r < 0)
            unlinkat(lb->rootfd, tmp, 0);
    } else if (syscall(SYS_renameat2, lb->rootfd, tmp, lb->rootfd, key, RENAME_NOREPLACE) == 0) {
        r = 0;
    } else {
        saved = errno;
        if (saved == EINVAL || saved == ENOSYS) {
            /* filesystem without RENAME_NOREPLACE: link() never replaces either */
            r = linkat(lb->rootfd, tmp, lb->rootfd, key, 0) == 0 ? 0
                : errno == EEXIST                                  ? 1
                                                                   : os_err(errno);
            saved = errno;
        } else {
            r = saved == EEXIST ? 1 : os_err(saved);
        }
        unlinkat(lb->rootfd, tmp, 0);
    }
    if (r < 0) {
        vv_error("store %s: cannot move %s into place: %s", lb->root, key, strerror(saved));
        return r;
    }
    if (r == 0 && durable && fsync_dirat(lb->rootfd, dir) < 0) {
        return vv_fail(os_err(errno),
                       "store %s: cannot sync folder of %s: %s", lb->root, key, strerror(errno));
    }
    return r;
}

static int local_put(struct vv_backend *be, const char *key, const void *data, size_t len,
                     unsigned flags)
{
    struct local_backend *lb = L(be);
    int r;

    if (!vv_backend_key_valid(key))
        return VV_E_INVAL;
    if (!(flags & VV_PUT_DEFER))
        return put_file(lb, key, data, len, flags);
    if ((r = defer_begin(lb)) < 0)
        return r;
    if (lb->hook)
        lb->hook(lb->hook_arg, VV_LOCAL_HOOK_PUT);
    r = put_file(lb, key, data, len, flags);
    defer_end(lb);
    return r;
}

static int local_get(struct vv_backend *be, const char *key, struct vv_buf *out)
{
    struct local_backend *lb = L(be);
    struct stat st;
    int fd, r = 0;

    if (!vv_backend_key_valid(key))
        return VV_E_INVAL;
    fd = openat(lb->rootfd, key, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return VV_E_NOTFOUND;
        return vv_fail(VV_E_IO, "store %s: cannot open %s: %s", lb->root, key, strerror(errno));
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        r = VV_E_IO;
        goto out;
    }
    if (out->limit && (uint64_t)st.st_size > out->limit) {
        r = VV_E_TOOBIG;
        goto out;
    }
    out->len = 0;
    if ((r = vv_buf_resize(out, (size_t)st.st_size)) < 0)
        goto out;
    for (size_t done = 0; done < out->len;) {
        ssize_t n = pread(fd, out->data + done, out->len - done, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            vv_error("store %s: cannot read %s: %s", lb->root, key,
                     n < 0 ? strerror(errno) : "file shrank while reading");
            r = VV_E_IO;
            goto out;
        }
        done += (size_t)n;
    }
out:
    close(fd);
    if (r < 0)
        out->len = 0;
    return r;
}

static int local_has(struct vv_backend *be, const char *key)
{
    struct local_backend *lb = L(be);
    struct stat st;
    if (!vv_backend_key_valid(key))
        return VV_E_INVAL;
    if (fstatat(lb->rootfd, key, &st, 0) == 0)
        return S_ISREG(st.st_mode) ? 1 : 0;
    if (errno == ENOENT || errno == ENOTDIR)
        return 0;
    return vv_fail(VV_E_IO, "store %s: cannot stat %s: %s", lb->root, key, strerror(errno));
}

static int local_del(struct vv_backend *be, const char *key)
{
    struct local_backend *lb = L(be);
    char dir[VV_PATH_MAX];
    const char *base;
    if (!vv_backend_key_valid(key))
        return VV_E_INVAL;
    if (unlinkat(lb->rootfd, key, 0) < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return VV_E_NOTFOUND;
        return vv_fail(VV_E_IO, "store %s: cannot delete %s: %s", lb->root, key, strerror(errno));
    }
    split_key(key, dir, sizeof(dir), &base);
    return fsync_dirat(lb->rootfd, dir);
}

/* Depth-first walk of folder rel (relative to root), calling cb with each file's key. */
static int walk(struct local_backend *lb, char *rel, size_t rellen, size_t cap,
                int (*cb)(const char *, void *), void *arg)
{
    int fd = openat(lb->rootfd, rellen ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d;
    struct dirent *e;
    int r = 0;

    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? 0 : VV_E_IO;
    if (!(d = fdopendir(fd))) {
        close(fd);
        return VV_E_IO;
    }
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        int isdir;
        if (e->d_name[0] == '.')
            continue;
        if (rellen + n + 2 > cap) {
            r = VV_E_TOOBIG;
            break;
        }
        if (rellen) {
            rel[rellen] = '/';
            memcpy(rel + rellen + 1, e->d_name, n + 1);
        } else {
            memcpy(rel, e->d_name, n + 1);
        }
        if (e->d_type == DT_DIR) {
            isdir = 1;
        } else if (e->d_type == DT_UNKNOWN) {
            struct stat st;
            isdir = fstatat(lb->rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
        } else {
            isdir = 0;
        }
        if (isdir)
            r = walk(lb, rel, rellen + (rellen ? 1 : 0) + n, cap, cb, arg);
        else if (vv_backend_key_valid(rel))
            r = cb(rel, arg);
        rel[rellen] = '\0';
        if (r)
            break;
    }
    closedir(d);
    return r;
}

static int local_list(struct vv_backend *be, const char *prefix,
                      int (*cb)(const char *key, void *arg), void *arg)
{
    char rel[VV_PATH_MAX];
    size_t n = prefix ? strlen(prefix) : 0;
    if (n && !vv_backend_key_valid(prefix))
        return VV_E_INVAL;
    if (n >= sizeof(rel))
        return VV_E_INVAL;
    if (n)
        memcpy(rel, prefix, n);
    rel[n] = '\0';
    return walk(L(be), rel, n, sizeof(rel), cb, arg);
}

/* del, reporting the size; VV_DEL_LAZY skips the folder fsync that makes it durable. */
static int local_remove(struct vv_backend *be, const char *key, unsigned flags,
                        uint64_t *freed)
{
    struct local_backend *lb = L(be);
    struct stat st;
    *freed = 0;
    if (!vv_backend_key_valid(key))
        return VV_E_INVAL;
    if (fstatat(lb->rootfd, key, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return VV_E_NOTFOUND;
        return vv_fail(VV_E_IO, "store %s: cannot stat %s: %s", lb->root, key, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) /* a folder is not an object (as for has) */
        return VV_E_NOTFOUND;
    if (!(flags & VV_DEL_LAZY)) {
        int r = local_del(be, key);
        if (r == 0)
            *freed = (uint64_t)st.st_size;
        return r;
    }
    if (unlinkat(lb->rootfd, key, 0) < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return VV_E_NOTFOUND;
        return vv_fail(VV_E_IO, "store %s: cannot delete %s: %s", lb->root, key, strerror(errno));
    }
    *freed = (uint64_t)st.st_size;
    return 0;
}

static int local_rmdir(struct vv_backend *be, const char *folder)
{
    struct local_backend *lb = L(be);
    char parent[VV_PATH_MAX];
    const char *base;
    if (!vv_backend_key_valid(folder))
        return VV_E_INVAL;
    if (unlinkat(lb->rootfd, folder, AT_REMOVEDIR) < 0) {
        if (errno == ENOENT || errno == ENOTEMPTY || errno == EEXIST)
            return 0;
        return vv_fail(VV_E_IO, "store %s: cannot remove folder %s: %s", lb->root, folder,
                       strerror(errno));
    }
    split_key(folder, parent, sizeof(parent), &base);
    return fsync_dirat(lb->rootfd, parent);
}

static void local_free(struct vv_backend *be)
{
    struct local_backend *lb = L(be);
    local_sync(be);
    pthread_mutex_destroy(&lb->mu);
    close(lb->rootfd);
    free(lb->root);
    free(lb);
}

static const struct vv_backend_ops local_ops = {
    .name = "local",
    .put = local_put,
    .get = local_get,
    .has = local_has,
    .del = local_del,
    .list = local_list,
    .free = local_free,
    .remove = local_remove,
    .sync = local_sync,
    .rmdir = local_rmdir,
};

struct vv_backend *vv_backend_local_open(const char *dir, int create)
{
    struct local_backend *lb;
    int fd;

    if (create && mkdir(dir, 0750) < 0 && errno != EEXIST) {
        vv_error("cannot create store folder %s: %s", dir, strerror(errno));
        return NULL;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        vv_error("cannot open store folder %s: %s", dir, strerror(errno));
        return NULL;
    }
    lb = calloc(1, sizeof(*lb));
    if (!lb || !(lb->root = strdup(dir))) {
        free(lb);
        close(fd);
        return NULL;
    }
    lb->base.ops = &local_ops;
    lb->rootfd = fd;
    pthread_mutex_init(&lb->mu, NULL);
    {
        char boot[40];
        boot_id(boot);
        snprintf(lb->marker, sizeof(lb->marker), MARKER_PREFIX "%s-%ld-%u", boot, (long)getpid(),
                 atomic_fetch_add(&backend_counter, 1));
    }
    return &lb->base;
}

int vv_backend_local_mkdirs(struct vv_backend *be, const char *const *folders, size_t n)
{
    struct local_backend *lb;
    char key[VV_PATH_MAX], parent[VV_PATH_MAX] = "", last[VV_PATH_MAX] = "";
    if (be->ops != &local_ops)
        return 0;
    lb = L(be);
    for (size_t i = 0; i < n; i++) {
        const char *base;
        int r;
        /* make_parents creates every folder of "<folder>/x" */
        if ((size_t)snprintf(key, sizeof(key), "%s/x", folders[i]) >= sizeof(key))
            return VV_E_INVAL;
        if (mkdirat(lb->rootfd, folders[i], 0750) < 0 && errno != EEXIST &&
            (r = make_parents(lb, key)) < 0)
            return r;
        split_key(folders[i], parent, sizeof(parent), &base);
        if (strcmp(parent, last) != 0) {
            if (last[0] && fsync_dirat(lb->rootfd, last) < 0)
                return VV_E_IO;
            memcpy(last, parent, sizeof(last));
        }
    }
    if (last[0] && fsync_dirat(lb->rootfd, last) < 0)
        return VV_E_IO;
    return 0;
}

struct clean_ctx {
    int rootfd;
    struct timespec cutoff; /* to the nanosecond: max_age_s 0 means every file so far */
    int removed;
};

static int clean_dir(struct clean_ctx *c, const char *rel, int depth)
{
    int fd = openat(c->rootfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d;
    struct dirent *e;
    char sub[VV_PATH_MAX];

    if (fd < 0)
        return 0;
    if (!(d = fdopendir(fd))) {
        close(fd);
        return VV_E_IO;
    }
    while ((e = readdir(d))) {
        struct stat st;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", rel, e->d_name) >= sizeof(sub))
            continue;
        if (fstatat(c->rootfd, sub, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISDIR(st.st_mode) && depth < 8)
            clean_dir(c, sub, depth + 1);
        else if (S_ISREG(st.st_mode) && !strncmp(e->d_name, ".tmp-", 5) &&
                 (st.st_mtim.tv_sec < c->cutoff.tv_sec ||
                  (st.st_mtim.tv_sec == c->cutoff.tv_sec &&
                   st.st_mtim.tv_nsec < c->cutoff.tv_nsec)) &&
                 unlinkat(c->rootfd, sub, 0) == 0)
            c->removed++;
    }
    closedir(d);
    return 0;
}

int vv_backend_local_clean_tmp(struct vv_backend *be, int64_t max_age_s)
{
    struct clean_ctx c;
    if (be->ops != &local_ops)
        return 0;
    c.rootfd = L(be)->rootfd;
    clock_gettime(CLOCK_REALTIME, &c.cutoff);
    c.cutoff.tv_sec -= (time_t)max_age_s;
    c.removed = 0;
    clean_dir(&c, ".", 0);
    return c.removed;
}

/* ---- recovery of deferred puts --------------------------------------------------------- */

struct recover_ctx {
    struct local_backend *lb;
    struct timespec since;
    int (*check)(struct vv_backend *, const char *, void *);
    void *arg;
    int removed;
};

/* Every object (not folder, not hidden) changed at or after since. */
static int recover_dir(struct recover_ctx *c, char *rel, size_t rellen, size_t cap, int depth)
{
    int fd = openat(c->lb->rootfd, rellen ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d;
    struct dirent *e;

    if (fd < 0)
        return 0;
    if (!(d = fdopendir(fd))) {
        close(fd);
        return VV_E_IO;
    }
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        struct stat st;
        if (e->d_name[0] == '.' || rellen + n + 2 > cap)
            continue;
        if (rellen) {
            rel[rellen] = '/';
            memcpy(rel + rellen + 1, e->d_name, n + 1);
        } else {
            memcpy(rel, e->d_name, n + 1);
        }
        if (fstatat(c->lb->rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            if (S_ISDIR(st.st_mode) && depth < 8) {
                recover_dir(c, rel, rellen + (rellen ? 1 : 0) + n, cap, depth + 1);
            } else if (S_ISREG(st.st_mode) && vv_backend_key_valid(rel) &&
                       (st.st_mtim.tv_sec > c->since.tv_sec ||
                        (st.st_mtim.tv_sec == c->since.tv_sec &&
                         st.st_mtim.tv_nsec >= c->since.tv_nsec)) &&
                       c->check(&c->lb->base, rel, c->arg) != 0) {
                if (unlinkat(c->lb->rootfd, rel, 0) == 0) {
                    vv_warn("store %s: removed %s, damaged by a power loss before it was "
                            "flushed to disk", c->lb->root, rel);
                    c->removed++;
                }
            }
        }
        rel[rellen] = '\0';
    }
    closedir(d);
    return 0;
}

int vv_backend_local_recover(struct vv_backend *be,
                             int (*check)(struct vv_backend *be, const char *key, void *arg),
                             void *arg)
{
    struct local_backend *lb;
    char boot[40], name[256], rel[VV_PATH_MAX];
    int fd, removed = 0, synced = 0;
    DIR *d;
    struct dirent *e;

    if (be->ops != &local_ops)
        return 0;
    lb = L(be);
    boot_id(boot);
    if ((fd = openat(lb->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return VV_E_IO;
    if (!(d = fdopendir(fd))) {
        close(fd);
        return VV_E_IO;
    }
    while ((e = readdir(d))) {
        char mboot[40];
        long pid = 0;
        unsigned k = 0;
        struct stat st;
        struct recover_ctx c;

        if (strncmp(e->d_name, MARKER_PREFIX, strlen(MARKER_PREFIX)) != 0 ||
            strlen(e->d_name) >= sizeof(name))
            continue;
        snprintf(name, sizeof(name), "%s", e->d_name);
        if (sscanf(name + strlen(MARKER_PREFIX), "%39[0-9a-z]-%ld-%u", mboot, &pid, &k) != 3)
            mboot[0] = '\0';
        if (fstatat(lb->rootfd, name, &st, 0) < 0)
            continue;
        if (!strcmp(mboot, boot) && pid > 0) {
            if (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno == EPERM)
                continue; /* its writer is alive and will sync */
            /* same boot: the kernel holds the data; one flush makes it durable */
            if (!synced && syncfs(lb->rootfd) < 0) {
                closedir(d);
                return VV_E_IO;
            }
            synced = 1;
        } else {
            /* another boot (or an unreadable name): check what was written since */
            memset(&c, 0, sizeof(c));
            c.lb = lb;
            c.since = st.st_mtim;
            c.since.tv_sec -= 2; /* file-system timestamp granularity */
            c.check = check;
            c.arg = arg;
            rel[0] = '\0';
            recover_dir(&c, rel, 0, sizeof(rel), 0);
            removed += c.removed;
            if (syncfs(lb->rootfd) < 0) {
                closedir(d);
                return VV_E_IO;
            }
        }
        unlinkat(lb->rootfd, name, 0);
    }
    closedir(d);
    return removed;
}

/* ---- for tests of the deferred-flush race ------------------------------------------ */

void vv_backend_local_hook(struct vv_backend *be, void (*fn)(void *arg, int where), void *arg)
{
    if (be->ops != &local_ops)
        return;
    L(be)->hook = fn;
    L(be)->hook_arg = arg;
}

uint64_t vv_backend_local_syncs(struct vv_backend *be)
{
    uint64_t n;
    if (be->ops != &local_ops)
        return 0;
    pthread_mutex_lock(&L(be)->mu);
    n = L(be)->syncs;
    pthread_mutex_unlock(&L(be)->mu);
    return n;
}

int vv_backend_local_marked(struct vv_backend *be)
{
    int m;
    if (be->ops != &local_ops)
        return 0;
    pthread_mutex_lock(&L(be)->mu);
    m = L(be)->marked;
    pthread_mutex_unlock(&L(be)->mu);
    return m;
}
