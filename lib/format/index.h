/*
 * index.h: the disk index of one disk in one recovery point.
 *
 * An index is a list of entries, sorted, contiguous and covering the disk's
 * virtual_size bytes exactly. Each entry is one of:
 *   - a hole: nothing allocated there,
 *   - zero: allocated but all zero, never stored,
 *   - data: bytes [chunk_off, chunk_off + len) of the chunk whose plaintext has the
 *     SHA-256 id.
 * A full backup cuts the allocated data into content-defined chunks averaging
 * chunk_size (chunker.h), or with fixed chunking at multiples of chunk_size; one
 * entry per chunk, chunk_off 0. An incremental keeps its parent's entries except the
 * granules (granule bytes, disk-aligned) a changed extent touches: those are read
 * again as new chunks, and a parent entry they cut keeps only its untouched part, as
 * a slice of the same chunk. So a scattered change costs about its own size rounded
 * to granules, not whole chunks.
 *
 * In memory and on disk the entries are canonical: no hole next to a hole, no zero
 * entry next to a zero entry, holes and zeros with chunk_off 0 and an all-zero id.
 * Memory is proportional to the entries (data chunks and runs), not to the disk's
 * size: a sparse 64 GiB disk costs what its data costs.
 *
 * Pure module: no I/O. Serialized form (inside a VV_OBJ_INDEX envelope),
 * little-endian (docs/format.md):
 *   version 2:  0 u32 version | 4 u32 chunk_size | 8 u64 virtual_size | 16 u64 count |
 *               24 u32 granule | 28 u32 reserved (0) | 32 count * 56-byte entries:
 *               0 u64 off | 8 u64 len | 16 u32 chunk_off | 20 u32 kind | 24 id[32]
 *   version 1 (read only): fixed chunks, 32 bytes per chunk (0x00.. hole,
 *               0xff.. zero, else the id); parsed into the same entries.
 */
#ifndef VV_INDEX_H
#define VV_INDEX_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define VV_INDEX_VERSION 2
#define VV_INDEX_HEADER_LEN 32
#define VV_INDEX_ENTRY_LEN 56
#define VV_ENTRY_LEN 32 /* a chunk id */
#define VV_CHUNK_SIZE_MIN (4u << 10)
#define VV_CHUNK_SIZE_MAX (16u << 20)
#define VV_CHUNK_SIZE_DEFAULT (256u << 10)
#define VV_GRANULE_DEFAULT (64u << 10)
/* An incremental reads again whole a chunk-size block its parent holds in more
 * entries than this (index.c, vv_index_derive). */
#define VV_INDEX_MAX_PIECES 8

enum vv_entry_kind {
    VV_ENTRY_HOLE = 0,
    VV_ENTRY_ZERO = 1,
    VV_ENTRY_DATA = 2,
    VV_ENTRY_PENDING = 3 /* planned, to be read (never serialized) */
};

struct vv_ix_entry {
    uint64_t off, len;
    uint32_t chunk_off;
    uint32_t kind; /* enum vv_entry_kind */
    uint8_t id[VV_ENTRY_LEN];
};

struct vv_index {
    uint64_t virtual_size;
    uint32_t chunk_size;   /* average (content-defined) or fixed chunk size */
    uint32_t granule;      /* an incremental reads again whole granules */
    uint64_t count;
    struct vv_ix_entry *e; /* owned; count entries */
    uint64_t cap;
};

/* A byte range of a disk. */
struct vv_extent {
    uint64_t off, len;
};

/* True for a power of two in [VV_CHUNK_SIZE_MIN, VV_CHUNK_SIZE_MAX]. */
int vv_chunk_size_valid(uint64_t chunk_size) VV_MUST_CHECK;

/* An index with no entry yet: entries are then pushed until they cover the disk
 * (vv_index_push), or it is planned (vv_index_plan_full). The granule is
 * min(chunk_size, VV_GRANULE_DEFAULT). Returns 0 or VV_E_INVAL (bad chunk size).
 * Owner: the caller, vv_index_release(). */
int vv_index_init(struct vv_index *ix, uint64_t virtual_size, uint32_t chunk_size) VV_MUST_CHECK;
void vv_index_release(struct vv_index *ix);

static inline enum vv_entry_kind vv_index_kind(const struct vv_index *ix, uint64_t i)
{
    return (enum vv_entry_kind)ix->e[i].kind;
}

/* Append an entry where the entries so far end (off must be that offset, and the
 * entry must end within virtual_size). Holes and zeros merge with a neighbour of
 * their kind; data needs len <= VV_CHUNK_SIZE_MAX - chunk_off. Returns 0, VV_E_INVAL,
 * VV_E_NOMEM. */
int vv_index_push(struct vv_index *ix, uint64_t off, uint64_t len, enum vv_entry_kind kind,
                  uint32_t chunk_off, const uint8_t *id) VV_MUST_CHECK;
/* Merge neighbouring holes and zeros again (after pending entries were filled). */
void vv_index_normalize(struct vv_index *ix);

struct vv_index_counts {
    uint64_t data, zero, hole;  /* entries of each kind */
    uint64_t data_bytes;        /* bytes the data entries cover */
};
void vv_index_count(const struct vv_index *ix, struct vv_index_counts *c);

/* The distinct chunk ids of the data entries, sorted, into *ids (caller frees with
 * free()); *n gets their number. Returns 0 or VV_E_NOMEM. */
int vv_index_ids(const struct vv_index *ix, uint8_t (**ids)[VV_ENTRY_LEN], size_t *n) VV_MUST_CHECK;

/* Serialized form (version 2) into out (replacing its contents). VV_E_INVAL when an
 * entry is still pending. */
int vv_index_serialize(const struct vv_index *ix, struct vv_buf *out) VV_MUST_CHECK;
/* Strict parse (version 2, or version 1 converted): every field checked, entries
 * canonical, contiguous and covering virtual_size, nothing trailing. Returns 0 or
 * VV_E_CORRUPT / VV_E_BAD_VERSION / VV_E_NOMEM / VV_E_TOOBIG. */
int vv_index_parse(const void *data, size_t len, struct vv_index *out) VV_MUST_CHECK;

/* Plan a full backup into an initialised, empty out: every chunk_size block that an
 * allocated extent touches (extents in any order, clipped to the disk) becomes a
 * pending entry, the rest holes. Returns 0, VV_E_INVAL, VV_E_NOMEM. */
int vv_index_plan_full(struct vv_index *out, const struct vv_extent *alloc, size_t nalloc) VV_MUST_CHECK;
/* The same with pending entries cut at multiples of region (> 0) instead: the
 * allocated extents are still rounded out to chunk_size only. For content-defined
 * chunking, which cuts each region's data itself. */
int vv_index_plan_regions(struct vv_index *out, const struct vv_extent *alloc, size_t nalloc,
                          uint64_t region) VV_MUST_CHECK;
/* Pending entries that no allocated extent touches become holes (not read). */
int vv_index_apply_alloc(struct vv_index *ix, const struct vv_extent *alloc, size_t nalloc) VV_MUST_CHECK;

/* Plan an incremental from the parent's index and the extents changed since: out
 * gets the parent's chunk size and granule and new_size; the granules a changed
 * extent touches (clipped to new_size), everything past the parent's end, and each
 * chunk-size block the parent holds in more than VV_INDEX_MAX_PIECES entries become
 * pending entries of at most chunk_size (cut at its multiples); parent entries keep
 * the rest, cut into slices where needed. Returns 0, VV_E_INVAL (an extent
 * overflows), VV_E_NOMEM. */
int vv_index_derive(const struct vv_index *parent, uint64_t new_size,
                    const struct vv_extent *changed, size_t nchanged, struct vv_index *out) VV_MUST_CHECK;

#endif
