/*
 * chunkstore.h: content-addressed chunks on a backend.
 *
 * A chunk's id is the SHA-256 of its plaintext; it is stored sealed in an envelope
 * under "chunks/<first 3 hex digits>/<64 hex digits>". Storing a chunk that is
 * already there is a dedup hit and costs one existence check, no compression.
 * Reading always re-checks the id against the decoded bytes, so a chunk read back is
 * exactly the chunk written, or an error.
 *
 * Thread safety: a vv_chunkstore may be shared by any number of threads; each thread
 * brings its own vv_chunk_io (codec and scratch buffers).
 */
#ifndef VV_CHUNKSTORE_H
#define VV_CHUNKSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "codec.h"
#include "crypto.h"
#include "key.h"
#include "store/backend.h"

#define VV_CHUNK_ID_LEN VV_SHA256_LEN
#define VV_CHUNK_KEY_MAX 80 /* "chunks/xxx/" + 64 hex + NUL */

struct vv_chunkstore {
    struct vv_backend *be;    /* borrowed */
    const struct vv_key *key; /* borrowed; NULL stores unsealed (tests only) */
};

/* Per-thread working set. Owner: the thread; init/release pair. */
struct vv_chunk_io {
    struct vv_codec *codec;
    struct vv_buf enc; /* encoded object */
    struct vv_buf dec; /* decoded plaintext */
};

int vv_chunk_io_init(struct vv_chunk_io *io, int level);
void vv_chunk_io_release(struct vv_chunk_io *io);

/* The backend key of a chunk id. */
void vv_chunk_key(const uint8_t id[VV_CHUNK_ID_LEN], char out[VV_CHUNK_KEY_MAX]);
/* Parse a backend key back into an id: 0, or VV_E_INVAL when key is not a chunk key. */
int vv_chunk_key_parse(const char *key, uint8_t id[VV_CHUNK_ID_LEN]);

/* Store n bytes whose SHA-256 is id (the caller computed it). Returns 0 when written,
 * 1 when the store already had it (dedup hit), <0 vv_err. *stored_bytes (may be NULL)
 * gets the encoded size written (0 on a dedup hit). */
int vv_chunk_put(struct vv_chunkstore *cs, struct vv_chunk_io *io,
                 const uint8_t id[VV_CHUNK_ID_LEN], const void *data, size_t n,
                 size_t *stored_bytes);
/* Read, open and re-hash a chunk. On success the plaintext is in io->dec (valid until
 * the next call with io). Errors: VV_E_NOTFOUND, the envelope's errors, VV_E_HASH. */
int vv_chunk_get(struct vv_chunkstore *cs, struct vv_chunk_io *io,
                 const uint8_t id[VV_CHUNK_ID_LEN]);
/* 1 present, 0 absent, <0 vv_err. */
int vv_chunk_has(struct vv_chunkstore *cs, const uint8_t id[VV_CHUNK_ID_LEN]);
int vv_chunk_delete(struct vv_chunkstore *cs, const uint8_t id[VV_CHUNK_ID_LEN]);
/* Call cb for every stored chunk id. A non-zero cb return stops and is returned. */
int vv_chunk_list(struct vv_chunkstore *cs,
                  int (*cb)(const uint8_t id[VV_CHUNK_ID_LEN], void *arg), void *arg);

#endif
