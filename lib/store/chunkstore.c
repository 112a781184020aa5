/* chunkstore.c: content-addressed chunk store (see chunkstore.h). */
#include "store/chunkstore.h"

#include <stdio.h>
#include <string.h>

#include "format/envelope.h"
#include "err.h"
#include "util.h"

int vv_chunk_io_init(struct vv_chunk_io *io, int level)
{
    vv_buf_init(&io->enc, 0);
    vv_buf_init(&io->dec, 0);
    io->codec = vv_codec_new(level);
    return io->codec ? 0 : VV_E_NOMEM;
}

void vv_chunk_io_release(struct vv_chunk_io *io)
{
    vv_codec_free(io->codec);
    io->codec = NULL;
    vv_buf_release(&io->enc);
    vv_buf_release(&io->dec);
}

static unsigned folder_digits(const struct vv_chunkstore *cs)
{
    return cs->folder_digits == 3 ? 3 : 2;
}

void vv_chunk_key(const struct vv_chunkstore *cs, const uint8_t id[VV_CHUNK_ID_LEN],
                  char out[VV_CHUNK_KEY_MAX])
{
    char hex[2 * VV_CHUNK_ID_LEN + 1];
    vv_hex_encode(id, VV_CHUNK_ID_LEN, hex);
    snprintf(out, VV_CHUNK_KEY_MAX, "chunks/%.*s/%s", (int)folder_digits(cs), hex, hex);
}

int vv_chunk_key_parse(const struct vv_chunkstore *cs, const char *key,
                       uint8_t id[VV_CHUNK_ID_LEN])
{
    /* "chunks/" <d hex> "/" 64 hex, the folder being the name's first d digits */
    size_t d = folder_digits(cs);
    if (strlen(key) != 7 + d + 1 + 64 || strncmp(key, "chunks/", 7) != 0 || key[7 + d] != '/' ||
        strncmp(key + 7, key + 8 + d, d) != 0)
        return VV_E_INVAL;
    return vv_hex_decode(key + 8 + d, id, VV_CHUNK_ID_LEN);
}

int vv_chunk_has(struct vv_chunkstore *cs, const uint8_t id[VV_CHUNK_ID_LEN])
{
    char key[VV_CHUNK_KEY_MAX];
    vv_chunk_key(cs, id, key);
    return vv_backend_has(cs->be, key);
}

int vv_chunk_put(struct vv_chunkstore *cs, struct vv_chunk_io *io,
                 const uint8_t id[VV_CHUNK_ID_LEN], const void *data, size_t n,
                 size_t *stored_bytes)
{
    return vv_chunk_put_z(cs, io, id, data, n, NULL, 0, stored_bytes);
}

int vv_chunk_put_z(struct vv_chunkstore *cs, struct vv_chunk_io *io,
                   const uint8_t id[VV_CHUNK_ID_LEN], const void *data, size_t n, const void *z,
                   size_t zn, size_t *stored_bytes)
{
    char key[VV_CHUNK_KEY_MAX];
    int r;

    if (stored_bytes)
        *stored_bytes = 0;
    if (n > VV_MAX_CHUNK)
        return VV_E_TOOBIG;
    vv_chunk_key(cs, id, key);
    r = vv_backend_has(cs->be, key);
    if (r != 0)
        return r; /* 1: dedup hit, <0: error */
    r = vv_envelope_encode_z(io->codec, VV_OBJ_CHUNK, data, n, z, zn, cs->key, &io->enc);
    if (r < 0)
        return r;
    r = vv_backend_put(cs->be, key, io->enc.data, io->enc.len, VV_PUT_DEFER);
    if (r == 0 && stored_bytes)
        *stored_bytes = io->enc.len;
    return r;
}

int vv_chunk_get(struct vv_chunkstore *cs, struct vv_chunk_io *io,
                 const uint8_t id[VV_CHUNK_ID_LEN])
{
    char key[VV_CHUNK_KEY_MAX];
    uint8_t h[VV_SHA256_LEN];
    int r;

    vv_chunk_key(cs, id, key);
    io->enc.limit = vv_envelope_bound(VV_MAX_CHUNK);
    r = vv_backend_get(cs->be, key, &io->enc);
    io->enc.limit = 0;
    if (r < 0)
        return r;
    r = vv_envelope_decode(io->codec, VV_OBJ_CHUNK, io->enc.data, io->enc.len, cs->key,
                           VV_MAX_CHUNK, &io->dec);
    if (r < 0)
        return r;
    if ((r = vv_sha256(io->dec.data, io->dec.len, h)) < 0)
        return r;
    if (memcmp(h, id, VV_SHA256_LEN) != 0) {
        io->dec.len = 0;
        return VV_E_HASH;
    }
    return 0;
}

int vv_chunk_get_payload(struct vv_chunkstore *cs, struct vv_chunk_io *io,
                         const uint8_t id[VV_CHUNK_ID_LEN], int *zstd)
{
    char key[VV_CHUNK_KEY_MAX];
    struct vv_envelope_info info;
    int r;

    vv_chunk_key(cs, id, key);
    io->enc.limit = vv_envelope_bound(VV_MAX_CHUNK);
    if ((r = vv_backend_get(cs->be, key, &io->enc)) < 0)
        return r;
    r = vv_envelope_open(VV_OBJ_CHUNK, io->enc.data, io->enc.len, cs->key, VV_MAX_CHUNK, &info,
                         &io->dec);
    *zstd = r == 0 && info.codec == VV_CODEC_ZSTD;
    return r;
}

int vv_chunk_delete(struct vv_chunkstore *cs, const uint8_t id[VV_CHUNK_ID_LEN])
{
    char key[VV_CHUNK_KEY_MAX];
    vv_chunk_key(cs, id, key);
    return vv_backend_del(cs->be, key);
}

struct list_ctx {
    const struct vv_chunkstore *cs;
    int (*cb)(const uint8_t id[VV_CHUNK_ID_LEN], void *arg);
    void *arg;
};

static int list_one(const char *key, void *arg)
{
    struct list_ctx *c = arg;
    uint8_t id[VV_CHUNK_ID_LEN];
    if (vv_chunk_key_parse(c->cs, key, id) < 0)
        return 0; /* not a chunk: ignore */
    return c->cb(id, c->arg);
}

int vv_chunk_list(struct vv_chunkstore *cs,
                  int (*cb)(const uint8_t id[VV_CHUNK_ID_LEN], void *arg), void *arg)
{
    struct list_ctx c = {cs, cb, arg};
    return vv_backend_list(cs->be, "chunks", list_one, &c);
}
