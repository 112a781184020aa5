/*
 * nbd.h: backup sources read over NBD (libnbd); the only file that includes libnbd.
 *
 * Two ways in:
 *   - a running domain's disk, exported by QEMU in a pull-mode backup on a unix
 *     socket: the export is the disk target ("vda"), its allocation comes from the
 *     "base:allocation" meta context and the blocks changed since the checkpoint
 *     from "qemu:dirty-bitmap:<bitmap>" (libvirt names it "backup-<target>");
 *   - a shut-off domain's image file, served read-only by a qemu-nbd this module
 *     starts and stops itself. QEMU's image locking applies: the image of a running
 *     domain cannot be opened this way and the open fails with qemu-nbd's message.
 *
 * A source holds a small pool of NBD connections (one when the server does not
 * allow several); read and map are safe to call from several threads at once and
 * each call uses a connection of its own. Allocation is what base:allocation does
 * not flag as a hole, so unallocated qcow2 clusters and sparse regions of raw files
 * are never read. Every failure is logged once here (with libnbd's or qemu-nbd's
 * message) and returned as a vv_err code.
 */
#ifndef VV_AGENT_NBD_H
#define VV_AGENT_NBD_H

#include "err.h"

#include <stddef.h>

#include "engine/source.h"
#include "format/index.h"

/* Connections per source at most (reads in flight at once). */
#define VV_NBD_MAX_CONNS 4

/* Connect to the NBD server listening on the unix socket socket_path and open
 * export export_name (the disk target, "vda"), requesting the meta contexts
 * "base:allocation" and, when bitmap is not NULL, "qemu:dirty-bitmap:<bitmap>".
 * *out is the source (desc "nbd+unix:///EXPORT?socket=PATH"); caller closes it with
 * vv_source_close(). Returns 0, VV_E_INVAL (bad arguments), VV_E_NOTFOUND (no socket
 * at socket_path, no such export, or the server does not offer the bitmap's context:
 * the contexts it does offer are logged), VV_E_UNSUPPORTED (no base:allocation), VV_E_IO (cannot connect,
 * protocol error), VV_E_NOMEM. *out is NULL on failure. */
int vv_nbd_open_unix(const char *socket_path, const char *export_name, const char *bitmap,
                     struct vv_source **out) VV_MUST_CHECK;

/* Serve the image at path read-only with "qemu-nbd --read-only --format=FORMAT
 * --shared=N" (qemu-nbd found on PATH, socket-activated on a socket no other process
 * can reach) and connect to it, requesting "base:allocation". format is "raw" or
 * "qcow2"; a qcow2's backing chain is followed, so reads return the whole disk.
 * *out is the source (desc = path); vv_source_close() disconnects and waits for the
 * qemu-nbd to exit. Returns 0, VV_E_UNSUPPORTED (another format, or no qemu-nbd),
 * VV_E_NOTFOUND (no such image), VV_E_IO (qemu-nbd refused the image, for example
 * "Failed to get shared "write" lock" when a running VM uses it; its message is
 * logged), VV_E_INVAL, VV_E_NOMEM. *out is NULL on failure. */
int vv_nbd_open_image(const char *path, const char *format, struct vv_source **out) VV_MUST_CHECK;

/* The extents flagged dirty in the bitmap context of s (opened by vv_nbd_open_unix
 * with a bitmap) over the whole disk: ascending, disjoint, adjacent ones merged,
 * clipped to the disk size. *out is allocated with malloc (NULL when *n is 0); the
 * caller frees it with free(). Returns 0, VV_E_INVAL (s is not an NBD source opened
 * with a bitmap), VV_E_IO, VV_E_NOMEM. */
int vv_nbd_dirty_extents(struct vv_source *s, struct vv_extent **out, size_t *n) VV_MUST_CHECK;

#endif
