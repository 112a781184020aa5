/*
 * usage.h: what a store occupies and what its file system has left, without making
 * anyone wait for a walk of the store.
 *
 * Summing a store's files costs a walk of every folder (0.7 s at 205,000 files), so
 * it is never done by the caller: vv_store_usage_get() answers at once from a cache
 * and, when the cached figure is missing, older than VV_USAGE_MAX_AGE or the store
 * has changed since it was taken (and VV_USAGE_MIN_INTERVAL has passed), starts one
 * background thread that walks the store with a file descriptor of its own and
 * updates the cache. A walk always starts from the files themselves, so a crash or a
 * writer in another process can skew a figure only until the next walk.
 *
 * The cache lives for the whole process, one entry per store folder (a few dozen
 * bytes each); the walking thread touches nothing but its entry and its own folder
 * descriptor, so closing or removing a store while it walks is safe.
 */
#ifndef VV_USAGE_H
#define VV_USAGE_H

#include "err.h"

#include <stdint.h>
#include <time.h>

#define VV_USAGE_MIN_INTERVAL 5 /* seconds between walks of a store that changes */
#define VV_USAGE_MAX_AGE 600    /* seconds after which an unchanged store is walked again */

struct vv_usage {
    uint64_t bytes;   /* sizes of the store's files */
    uint64_t objects; /* number of files */
    time_t measured;  /* when the walk that found them began; 0: not yet measured */
    int measuring;    /* a walk is under way */
};

/* The cached usage of the store in folder dir. changes is any value that moves when
 * the store changes (the server counts the vault's jobs and points). Starts a walk
 * when one is due (see above). 0, or VV_E_NOMEM. */
int vv_store_usage_get(const char *dir, uint64_t changes, time_t now, struct vv_usage *out) VV_MUST_CHECK;
/* Walk dir now, on this thread: the sizes and the number of its files. 0 or VV_E_IO. */
int vv_store_usage_measure(const char *dir, uint64_t *bytes, uint64_t *objects) VV_MUST_CHECK;
/* The file system holding path: bytes available to unprivileged writers and its size.
 * 0 or VV_E_IO. */
int vv_store_space(const char *path, uint64_t *avail, uint64_t *total) VV_MUST_CHECK;

#endif
