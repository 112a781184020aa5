/* codec.c: zstd adapter (see codec.h). */
#include "codec.h"

#include <stdint.h>
#include <stdlib.h>

#include <zstd.h>

#include "err.h"

struct vv_codec {
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
    int level;
};

struct vv_codec *vv_codec_new(int level)
{
    struct vv_codec *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->cctx = ZSTD_createCCtx();
    c->dctx = ZSTD_createDCtx();
    c->level = level;
    if (!c->cctx || !c->dctx) {
        vv_codec_free(c);
        return NULL;
    }
    /* A checksum inside the frame is redundant: the envelope carries CRC32C and, for
     * chunks, the SHA-256 id covers the plaintext. */
    ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_checksumFlag, 0);
    return c;
}

void vv_codec_free(struct vv_codec *c)
{
    if (!c)
        return;
    ZSTD_freeCCtx(c->cctx);
    ZSTD_freeDCtx(c->dctx);
    free(c);
}

size_t vv_codec_bound(size_t n) { return ZSTD_compressBound(n); }

int vv_codec_compress(struct vv_codec *c, const void *src, size_t n, void *dst, size_t cap,
                      size_t *out_len)
{
    size_t r = ZSTD_compress2(c->cctx, dst, cap, src, n);
    if (ZSTD_isError(r))
        return VV_E_CODEC;
    *out_len = r;
    return 0;
}

int vv_codec_decompress(struct vv_codec *c, const void *src, size_t n, void *dst, size_t expect)
{
    unsigned long long fsz = ZSTD_getFrameContentSize(src, n);
    size_t r;
    /* Refuse before work when the frame declares another size. */
    if (fsz != ZSTD_CONTENTSIZE_UNKNOWN && fsz != (unsigned long long)expect)
        return VV_E_CODEC;
    if (ZSTD_findFrameCompressedSize(src, n) != n)
        return VV_E_CODEC; /* trailing bytes or several frames */
    r = ZSTD_decompressDCtx(c->dctx, dst, expect, src, n);
    if (ZSTD_isError(r) || r != expect)
        return VV_E_CODEC;
    return 0;
}

int vv_codec_frame_size(const void *src, size_t n, size_t *out)
{
    unsigned long long fsz = ZSTD_getFrameContentSize(src, n);
    if (fsz == ZSTD_CONTENTSIZE_ERROR || fsz == ZSTD_CONTENTSIZE_UNKNOWN || fsz > SIZE_MAX)
        return VV_E_CODEC;
    if (ZSTD_findFrameCompressedSize(src, n) != n)
        return VV_E_CODEC;
    *out = (size_t)fsz;
    return 0;
}
