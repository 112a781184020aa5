/*
 * backend.h: where stored objects live. A backend maps object keys to byte strings
 * with five operations (put / get / has / delete / list), plus optional ones a backend
 * may leave NULL (remove); the local directory backend is the default, an S3-compatible
 * one fits the same table.
 *
 * Keys are relative, slash-separated names of [a-z0-9._-] segments, such as
 * "chunks/ab12/ab12cd...". No segment is empty, "." or "..", none starts with ".".
 *
 * Invariants every backend keeps:
 *  - put is atomic and durable: once it returns 0 the whole object survives a crash,
 *    and no reader ever sees a partial object under its key; with VV_PUT_DEFER the
 *    object is durable once a later sync returns (see below);
 *  - put never replaces an existing object (content-addressed data is immutable):
 *    it returns 1 and leaves the old one, unless VV_PUT_REPLACE is given;
 *  - any number of threads and processes may call put/get/has concurrently;
 *  - a full file system (or quota) is VV_E_NOSPC from any operation, never VV_E_IO,
 *    and a put that fails leaves no object and no temporary file behind.
 */
#ifndef VV_BACKEND_H
#define VV_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define VV_PUT_REPLACE 0x1u
/* The object need not be durable before the next sync (vv_backend_sync): a writer of
 * many objects (chunks) pays one file-system flush instead of one per object. Readers
 * see it at once. A process that dies before its sync loses nothing (the kernel still
 * holds the data); a power loss before it may leave such objects damaged or missing,
 * which the local backend's recovery finds after the reboot (vv_backend_local_recover).
 * Nothing may refer to a deferred object durably (an index, a manifest) before a sync. */
#define VV_PUT_DEFER 0x2u
#define VV_DEL_LAZY 0x1u

struct vv_backend;

struct vv_backend_ops {
    const char *name;
    /* 0 stored, 1 already present (not replaced), <0 vv_err. */
    int (*put)(struct vv_backend *be, const char *key, const void *data, size_t len,
               unsigned flags);
    /* Whole object into out (replacing its contents; out->limit caps it).
     * VV_E_NOTFOUND when absent. */
    int (*get)(struct vv_backend *be, const char *key, struct vv_buf *out);
    /* 1 present, 0 absent, <0 vv_err. */
    int (*has)(struct vv_backend *be, const char *key);
    /* 0 deleted, VV_E_NOTFOUND when absent. */
    int (*del)(struct vv_backend *be, const char *key);
    /* Call cb for each key under prefix (a folder, "" for all), in no set order.
     * A non-zero return from cb stops the listing and is returned. */
    int (*list)(struct vv_backend *be, const char *prefix,
                int (*cb)(const char *key, void *arg), void *arg);
    void (*free)(struct vv_backend *be);
    /* Optional (may be NULL): delete like del, and put the stored size in bytes of
     * what was deleted in *freed. With VV_DEL_LAZY the removal need not be durable
     * when this returns (a crash may bring the object back), for callers to whom a
     * resurrected object is harmless, such as garbage collection of unreferenced
     * chunks. 0 deleted, VV_E_NOTFOUND when absent, <0 vv_err. */
    int (*remove)(struct vv_backend *be, const char *key, unsigned flags, uint64_t *freed);
    /* Optional (NULL: every put is durable already): make every object put so far with
     * VV_PUT_DEFER, by any thread of this process, durable, and every object another
     * put found present (1) while its writer was still finishing. 0, VV_E_IO or
     * VV_E_NOSPC. */
    int (*sync)(struct vv_backend *be);
    /* Optional (NULL: the backend has no folders): remove folder (a key prefix such as
     * "points/<id>") when it is empty, durably; one that is absent or not empty is left
     * as it is. 0 or VV_E_IO. */
    int (*rmdir)(struct vv_backend *be, const char *folder);
};

struct vv_backend {
    const struct vv_backend_ops *ops;
};

static inline int vv_backend_put(struct vv_backend *be, const char *key, const void *d,
                                 size_t n, unsigned flags)
{
    return be->ops->put(be, key, d, n, flags);
}
static inline int vv_backend_get(struct vv_backend *be, const char *key, struct vv_buf *out)
{
    return be->ops->get(be, key, out);
}
static inline int vv_backend_has(struct vv_backend *be, const char *key)
{
    return be->ops->has(be, key);
}
static inline int vv_backend_del(struct vv_backend *be, const char *key)
{
    return be->ops->del(be, key);
}
static inline int vv_backend_list(struct vv_backend *be, const char *prefix,
                                  int (*cb)(const char *key, void *arg), void *arg)
{
    return be->ops->list(be, prefix, cb, arg);
}
/* remove when the backend has it; otherwise del (durable), and *freed is 0. */
static inline int vv_backend_remove(struct vv_backend *be, const char *key, unsigned flags,
                                    uint64_t *freed)
{
    *freed = 0;
    return be->ops->remove ? be->ops->remove(be, key, flags, freed) : be->ops->del(be, key);
}
static inline int vv_backend_sync(struct vv_backend *be)
{
    return be->ops->sync ? be->ops->sync(be) : 0;
}
static inline int vv_backend_rmdir(struct vv_backend *be, const char *folder)
{
    return be->ops->rmdir ? be->ops->rmdir(be, folder) : 0;
}
/* Frees the backend (syncing deferred puts first); NULL is a no-op. */
void vv_backend_free(struct vv_backend *be);

/* True when key is well formed (see above). */
int vv_backend_key_valid(const char *key) VV_MUST_CHECK;

/* Open (creating it when create is set) a local directory backend rooted at dir.
 * Owner: the caller, vv_backend_free(). Returns NULL and logs on failure. */
struct vv_backend *vv_backend_local_open(const char *dir, int create);
/* Create folders (and their parents) ahead of writes, then make the new entries
 * durable: n folder names relative to the root, such as "chunks/abc". Existing ones
 * are fine. Local only (a no-op elsewhere). Returns 0 or VV_E_IO. */
int vv_backend_local_mkdirs(struct vv_backend *be, const char *const *folders, size_t n) VV_MUST_CHECK;
/* Deferred puts that a power loss may have damaged (local only; 0 elsewhere). While a
 * process has deferred puts not yet synced, the store's root holds a marker
 * ".unsynced-<boot id>-<pid>-<n>", created durably before the first such put. For each
 * marker left by a process that is gone: during the same boot its data is still in the
 * kernel, so a sync makes it durable; after a reboot every object written since the
 * marker was made is passed to check (0: whole, non-zero: damaged) and the damaged ones
 * are deleted. The marker goes once handled. Returns the number of objects deleted or
 * a vv_err. Call before the store is used. */
int vv_backend_local_recover(struct vv_backend *be,
                             int (*check)(struct vv_backend *be, const char *key, void *arg),
                             void *arg) VV_MUST_CHECK;
/* Remove temporary files older than max_age_s left by writers that died (local only;
 * no-op for others). Returns the number removed or a vv_err. */
int vv_backend_local_clean_tmp(struct vv_backend *be, int64_t max_age_s) VV_MUST_CHECK;
/* Tests of the deferred-flush race (set before any other thread uses be): fn(arg,
 * where) runs in a deferred put once it is counted as in flight and before it writes
 * (VV_LOCAL_HOOK_PUT), and in a sync that flushes once it has noted which puts its
 * flush covers and before its syncfs() (VV_LOCAL_HOOK_SYNC). Then the number of such
 * flushes so far, and whether the marker of unsynced puts is set. */
#define VV_LOCAL_HOOK_PUT 1
#define VV_LOCAL_HOOK_SYNC 2
void vv_backend_local_hook(struct vv_backend *be, void (*fn)(void *arg, int where), void *arg);
uint64_t vv_backend_local_syncs(struct vv_backend *be);
int vv_backend_local_marked(struct vv_backend *be);

#endif
