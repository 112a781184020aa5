/*
 * chunkrec.h: several chunks in one HTTP body, as the vault's batch upload
 * (POST /agent/chunks) takes them and its fetch (POST /agent/chunks/fetch) answers
 * them: records, back to back, of
 *
 *     chunk id   VV_CHUNK_ID_LEN bytes (the SHA-256 of the chunk's bytes)
 *     encoding   1 byte (enum vv_rec_enc)
 *     length     4 bytes, big-endian: the payload's
 *     payload    length bytes
 *
 * The one definition of that framing, for the server and the agent alike.
 */
#ifndef VV_CHUNKREC_H
#define VV_CHUNKREC_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#include "store/chunkstore.h"

#define VV_REC_HEAD (VV_CHUNK_ID_LEN + 1 + 4)

enum vv_rec_enc {
    VV_REC_RAW = 0,      /* the chunk's bytes; the vault compresses them */
    VV_REC_ZSTD = 1,     /* one zstd frame of the chunk that declares its size */
    VV_REC_IDENTITY = 2, /* the chunk's bytes, stored as they are (incompressible) */
};

/* One record, pointing into the body it was read from. */
struct vv_rec {
    const uint8_t *id;
    unsigned enc;    /* as sent: not checked against enum vv_rec_enc */
    uint32_t len;    /* the payload's length as declared */
    const uint8_t *payload;
};

/* Write a record's head (id, enc, len) at p, which has VV_REC_HEAD bytes. */
void vv_rec_put_head(uint8_t *p, const uint8_t id[VV_CHUNK_ID_LEN], enum vv_rec_enc enc,
                     uint32_t len);

/* Read the record at p, of the n bytes left in the body. 0; VV_E_TRUNCATED when
 * fewer than VV_REC_HEAD bytes are left (nothing set); VV_E_CORRUPT when the declared
 * payload runs past n (id, enc and len set, payload NULL). A record takes
 * VV_REC_HEAD + rec->len bytes. */
int vv_rec_read(const uint8_t *p, size_t n, struct vv_rec *rec) VV_MUST_CHECK;

#endif
