/*
 * codec.h: the adapter for zstd. Nothing else includes zstd.h.
 *
 * A vv_codec holds one compression and one decompression context; it is not
 * thread-safe, so every worker thread owns its own (vv_codec_new / vv_codec_free).
 */
#ifndef VV_CODEC_H
#define VV_CODEC_H

#include "err.h"

#include <stddef.h>

/* Level 1, as Proxmox Backup Server uses. On the bench image's content-defined chunks
 * level 2 stores about 0.7 % less for about 25 % more compression time, and
 * compression is the largest CPU cost of a full backup; level 3 would save 0.4 % more
 * than level 2 for 40 % more time again (bench/README.md). */
#define VV_CODEC_DEFAULT_LEVEL 1

struct vv_codec;

/* Owner: the caller; vv_codec_free(NULL) is a no-op. NULL on allocation failure. */
struct vv_codec *vv_codec_new(int level);
void vv_codec_free(struct vv_codec *c);

/* Worst-case compressed size of n input bytes. */
size_t vv_codec_bound(size_t n);
/* Compress n bytes into dst (capacity cap >= vv_codec_bound(n)); *out_len gets the size.
 * Returns 0 or VV_E_CODEC. */
int vv_codec_compress(struct vv_codec *c, const void *src, size_t n, void *dst, size_t cap,
                      size_t *out_len) VV_MUST_CHECK;
/* Decompress exactly expect bytes into dst: anything else (more, fewer, malformed
 * frame) is VV_E_CODEC. */
int vv_codec_decompress(struct vv_codec *c, const void *src, size_t n, void *dst, size_t expect) VV_MUST_CHECK;
/* The decompressed size a single zstd frame declares in its header. Returns 0, or
 * VV_E_CODEC when src is not one zstd frame or the frame does not declare its size. */
int vv_codec_frame_size(const void *src, size_t n, size_t *out) VV_MUST_CHECK;

#endif
