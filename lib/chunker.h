/*
 * chunker.h: content-defined chunk boundaries.
 *
 * A full backup cuts the allocated data where its content says, not at fixed disk
 * offsets, so the same bytes at another offset (a copied file, a file moved by the
 * guest, the same template in two VMs) make the same chunks and are stored once.
 *
 * The cut rule is a gear rolling hash (each byte shifts the hash left by one and adds
 * a fixed random 64-bit value for the byte, so the top bits depend on the last 64
 * bytes) with normalized chunking: no cut before min; between min and avg a cut needs
 * the top (log2(avg) + 2) bits zero, after avg the top (log2(avg) - 2); a forced cut
 * at max. The sizes cluster around avg, and the rule is a pure function of the bytes
 * since the previous cut, so two streams that cut once at the same place cut the same
 * way from then on.
 *
 * The gear table and the masks are part of the store's format: changing them changes
 * every chunk id, and dedup against older backups is lost (never their correctness).
 *
 * Pure module: no I/O, no allocation.
 */
#ifndef VV_CHUNKER_H
#define VV_CHUNKER_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

struct vv_chunker {
    uint32_t min, avg, max;
    uint64_t mask_s, mask_l; /* before / after avg */
    uint64_t gear[256];
};

/* Parameters for an average chunk of avg bytes (a power of two, at least 4 KiB):
 * min avg/4, max 4*avg (at most VV_CHUNK_SIZE_MAX). Returns 0 or VV_E_INVAL. */
int vv_chunker_init(struct vv_chunker *c, uint32_t avg) VV_MUST_CHECK;

/* The length of the chunk starting at p, given the n bytes available there: the
 * first cut at or after min, or max. When n holds no cut and is shorter than max,
 * returns n if the data ends there (final), else 0: more bytes are needed. */
size_t vv_chunker_next(const struct vv_chunker *c, const uint8_t *p, size_t n, int final);

#endif
