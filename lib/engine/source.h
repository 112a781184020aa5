/*
 * source.h: where a disk's bytes come from during a backup.
 *
 * One interface for every kind of source: a raw image file or block device (here),
 * and later a libvirt domain's disk exported over NBD. read must be safe to call from
 * several threads at once; map reports where data is allocated so holes are never
 * read.
 */
#ifndef VV_SOURCE_H
#define VV_SOURCE_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

struct vv_source;

struct vv_source_ops {
    /* Read exactly len bytes at off (off+len <= size). Thread-safe. 0 or vv_err. */
    int (*read)(struct vv_source *s, void *buf, size_t len, uint64_t off);
    /* Report the allocated extents inside [off, off+len), ascending and disjoint, to cb.
     * A source that cannot tell reports the whole range. A non-zero cb return stops. */
    int (*map)(struct vv_source *s, uint64_t off, uint64_t len,
               int (*cb)(uint64_t off, uint64_t len, void *arg), void *arg);
    void (*close)(struct vv_source *s);
};

struct vv_source {
    const struct vv_source_ops *ops;
    uint64_t size;
    char *desc; /* path or name, for messages; owned by the source */
};

/* Open a raw image file or block device read-only. Owner: the caller, vv_source_close(). */
int vv_source_file_open(const char *path, struct vv_source **out) VV_MUST_CHECK;
/* NULL is a no-op. */
void vv_source_close(struct vv_source *s);

#endif
