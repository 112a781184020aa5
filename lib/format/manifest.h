/*
 * manifest.h: the recovery-point manifest, the one object that makes a point exist.
 *
 * A manifest names the point, its parent, when it was taken and until when it is
 * kept, its consistency, the saved VM definition (libvirt domain XML) and, for every
 * disk, the index's SHA-256 and shape. It is JSON inside a VV_OBJ_MANIFEST envelope;
 * fields are documented in docs/format.md. Unknown fields are ignored (forward
 * compatibility); every known field is checked.
 *
 * Pure module: no I/O. Owner of every string: the manifest (vv_manifest_release).
 */
#ifndef VV_MANIFEST_H
#define VV_MANIFEST_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "crypto.h"
#include "json.h"

#define VV_MANIFEST_FORMAT 1
#define VV_POINT_ID_MAX 64
#define VV_DISK_NAME_MAX 64
#define VV_MAX_DISKS 256

enum vv_consistency {
    VV_CRASH_CONSISTENT = 0,
    VV_FILESYSTEM_CONSISTENT = 1,
    VV_APPLICATION_CONSISTENT = 2,
};

struct vv_manifest_disk {
    char *name;   /* [a-z0-9][a-z0-9._-]*, unique in the point */
    char *source; /* where it was read from (information only); may be NULL */
    uint64_t virtual_size;
    uint32_t chunk_size;
    uint8_t index_sha256[VV_SHA256_LEN];
    uint64_t data_chunks, zero_chunks, hole_chunks;
};

struct vv_manifest {
    char id[VV_POINT_ID_MAX];
    char parent[VV_POINT_ID_MAX]; /* "" when this point starts a chain */
    time_t created;
    time_t expires; /* 0: never */
    enum vv_consistency consistency;
    char *vm_name, *vm_uuid; /* may be NULL */
    char *domain_xml;        /* may be NULL */
    size_t ndisks;
    struct vv_manifest_disk *disks;
};

const char *vv_consistency_name(enum vv_consistency c);
/* Returns 0 or VV_E_INVAL. */
int vv_consistency_parse(const char *s, enum vv_consistency *out) VV_MUST_CHECK;

/* True for a valid point id: "rp-" then [a-z0-9-], at most VV_POINT_ID_MAX-1 chars. */
int vv_point_id_valid(const char *id) VV_MUST_CHECK;
/* A new id from the time (milliseconds since the epoch, UTC) and 4 random bytes:
 * "rp-20261127-183728-042-1a2b3c4d". Ids sort in creation order to the millisecond. */
int vv_point_id_new(uint64_t now_ms, char out[VV_POINT_ID_MAX]) VV_MUST_CHECK;
int vv_disk_name_valid(const char *name) VV_MUST_CHECK;

void vv_manifest_init(struct vv_manifest *m);
void vv_manifest_release(struct vv_manifest *m);
/* Append a disk (copies name and source). Returns 0, VV_E_INVAL, VV_E_EXISTS, VV_E_NOMEM. */
int vv_manifest_add_disk(struct vv_manifest *m, const char *name, const char *source,
                         struct vv_manifest_disk **out) VV_MUST_CHECK;
const struct vv_manifest_disk *vv_manifest_find_disk(const struct vv_manifest *m,
                                                     const char *name);

/* JSON text (caller frees with free()), or NULL on allocation failure. */
char *vv_manifest_serialize(const struct vv_manifest *m);
/* The disks as the catalog keeps and the API lists them: [{name, source, virtualSize,
 * chunkSize, dataChunks, zeroChunks, holeChunks}, ...]. New reference (the caller's),
 * or NULL on allocation failure. */
json_t *vv_manifest_disks_json(const struct vv_manifest *m);
/* Strict parse; err gets the reason on VV_E_CORRUPT. */
int vv_manifest_parse(const void *data, size_t len, struct vv_manifest *m, char *err,
                      size_t errlen) VV_MUST_CHECK;

#endif
