/*
 * index.h: the disk index of one disk in one recovery point.
 *
 * A disk of virtual_size bytes is cut into fixed, disk-aligned chunks of chunk_size
 * bytes (the last one may be shorter). Entry i describes bytes
 * [i*chunk_size, min((i+1)*chunk_size, virtual_size)) and is one of:
 *   - a hole: nothing allocated there (32 bytes 0x00),
 *   - a zero chunk: allocated but all zero, never stored (32 bytes 0xff),
 *   - data: the SHA-256 id of the chunk's plaintext in the chunk store.
 * A SHA-256 equal to either marker is not a concern (probability 2^-256).
 *
 * Pure module: no I/O. Serialized form (inside a VV_OBJ_INDEX envelope), little-endian:
 *   0 u32 version (1) | 4 u32 chunk_size | 8 u64 virtual_size | 16 u64 count |
 *   24 u64 reserved (0) | 32 count * 32-byte entries
 */
#ifndef VV_INDEX_H
#define VV_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define VV_INDEX_VERSION 1
#define VV_INDEX_HEADER_LEN 32
#define VV_ENTRY_LEN 32
#define VV_CHUNK_SIZE_MIN (4u << 10)
#define VV_CHUNK_SIZE_MAX (16u << 20)
#define VV_CHUNK_SIZE_DEFAULT (256u << 10)

enum vv_entry_kind { VV_ENTRY_HOLE = 0, VV_ENTRY_ZERO = 1, VV_ENTRY_DATA = 2 };

struct vv_index {
    uint64_t virtual_size;
    uint32_t chunk_size;
    uint64_t count;
    uint8_t (*ids)[VV_ENTRY_LEN]; /* owned; count entries */
};

/* A byte range of a disk. */
struct vv_extent {
    uint64_t off, len;
};

/* True for a power of two in [VV_CHUNK_SIZE_MIN, VV_CHUNK_SIZE_MAX]. */
int vv_chunk_size_valid(uint64_t chunk_size);

/* An index of all holes. Returns 0, VV_E_INVAL (bad chunk size), VV_E_TOOBIG, VV_E_NOMEM.
 * Owner: the caller, vv_index_release(). */
int vv_index_init(struct vv_index *ix, uint64_t virtual_size, uint32_t chunk_size);
void vv_index_release(struct vv_index *ix);

enum vv_entry_kind vv_index_kind(const struct vv_index *ix, uint64_t i);
void vv_index_set_hole(struct vv_index *ix, uint64_t i);
void vv_index_set_zero(struct vv_index *ix, uint64_t i);
void vv_index_set_data(struct vv_index *ix, uint64_t i, const uint8_t id[VV_ENTRY_LEN]);
/* Byte length of chunk i (chunk_size, or less for the last one). */
uint32_t vv_index_chunk_len(const struct vv_index *ix, uint64_t i);

struct vv_index_counts {
    uint64_t data, zero, hole;
};
void vv_index_count(const struct vv_index *ix, struct vv_index_counts *c);

/* Serialized form into out (replacing its contents). */
int vv_index_serialize(const struct vv_index *ix, struct vv_buf *out);
/* Strict parse: every field checked, count must match the sizes, nothing trailing.
 * Returns 0 or VV_E_CORRUPT / VV_E_BAD_VERSION / VV_E_NOMEM. */
int vv_index_parse(const void *data, size_t len, struct vv_index *out);

/* Build the index of a new point from its parent's and the extents changed since.
 * out gets the parent's chunk size and new_size; entries are the parent's, except the
 * chunks that *dirty lists (ascending, unique; caller frees with free()) which the
 * caller must read and fill in: chunks touched by a changed extent (clipped to
 * new_size), chunks past the parent's end, and a last chunk whose length changed.
 * Returns 0, VV_E_INVAL (an extent overflows), VV_E_NOMEM, VV_E_TOOBIG. */
int vv_index_derive(const struct vv_index *parent, uint64_t new_size,
                    const struct vv_extent *changed, size_t nchanged, struct vv_index *out,
                    uint64_t **dirty, size_t *ndirty);

#endif
