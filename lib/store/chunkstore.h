/*
 * chunkstore.h: content-addressed chunks on a backend.
 *
 * A chunk's id is the SHA-256 of its plaintext; it is stored sealed in an envelope
 * under "chunks/<first 2 hex digits>/<64 hex digits>" (format 1 stores: the first 3
 * digits, see docs/format.md). Storing a chunk that is
 * already there is a dedup hit and costs one existence check, no compression.
 * Reading always re-checks the id against the decoded bytes, so a chunk read back is
 * exactly the chunk written, or an error. Chunks are written with VV_PUT_DEFER: they
 * are durable after the next vv_backend_sync(), which vv_repo_point_commit() calls
 * before it writes anything that refers to them.
 *
 * Thread safety: a vv_chunkstore may be shared by any number of threads; each thread
 * brings its own vv_chunk_io (codec and scratch buffers).
 */
#ifndef VV_CHUNKSTORE_H
#define VV_CHUNKSTORE_H

#include "err.h"

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
    /* Hex digits of a chunk's folder name: 2 (256 folders, format 2) or 3 (4096
     * folders, format 1); 0 means 2. */
    unsigned folder_digits;
};

/* Per-thread working set. Owner: the thread; init/release pair. */
struct vv_chunk_io {
    struct vv_codec *codec;
    struct vv_buf enc; /* encoded object */
    struct vv_buf dec; /* decoded plaintext */
};

int vv_chunk_io_init(struct vv_chunk_io *io, int level) VV_MUST_CHECK;
void vv_chunk_io_release(struct vv_chunk_io *io);

/* The backend key of a chunk id in cs's layout. */
void vv_chunk_key(const struct vv_chunkstore *cs, const uint8_t id[VV_CHUNK_ID_LEN],
                  char out[VV_CHUNK_KEY_MAX]);
/* Parse a backend key back into an id: 0, or VV_E_INVAL when key is not a chunk key of
 * cs's layout. */
int vv_chunk_key_parse(const struct vv_chunkstore *cs, const char *key,
                       uint8_t id[VV_CHUNK_ID_LEN]) VV_MUST_CHECK;

/* Store n bytes whose SHA-256 is id (the caller computed it). Returns 0 when written,
 * 1 when the store already had it (dedup hit), <0 vv_err. *stored_bytes (may be NULL)
 * gets the encoded size written (0 on a dedup hit). */
int vv_chunk_put(struct vv_chunkstore *cs, struct vv_chunk_io *io,
                 const uint8_t id[VV_CHUNK_ID_LEN], const void *data, size_t n,
                 size_t *stored_bytes) VV_MUST_CHECK;
/* The same for a chunk that arrived compressed: z (zn bytes) is one zstd frame that the
 * caller decompressed to data and re-hashed; it is stored as it is rather than
 * compressed again (see vv_envelope_encode_z). z may be NULL. */
int vv_chunk_put_z(struct vv_chunkstore *cs, struct vv_chunk_io *io,
                   const uint8_t id[VV_CHUNK_ID_LEN], const void *data, size_t n, const void *z,
                   size_t zn, size_t *stored_bytes) VV_MUST_CHECK;
/* Read, open and re-hash a chunk. On success the plaintext is in io->dec (valid until
 * the next call with io). Errors: VV_E_NOTFOUND, the envelope's errors, VV_E_HASH. */
int vv_chunk_get(struct vv_chunkstore *cs, struct vv_chunk_io *io,
                 const uint8_t id[VV_CHUNK_ID_LEN]) VV_MUST_CHECK;
/* Read and open a chunk without decompressing or re-hashing it, to pass it on to a
 * reader that checks it against its id: io->dec gets the payload, a zstd frame of the
 * chunk when *zstd is set, else the chunk itself. Errors as vv_chunk_get but
 * VV_E_HASH. */
int vv_chunk_get_payload(struct vv_chunkstore *cs, struct vv_chunk_io *io,
                         const uint8_t id[VV_CHUNK_ID_LEN], int *zstd) VV_MUST_CHECK;
/* 1 present, 0 absent, <0 vv_err. */
int vv_chunk_has(struct vv_chunkstore *cs, const uint8_t id[VV_CHUNK_ID_LEN]) VV_MUST_CHECK;
int vv_chunk_delete(struct vv_chunkstore *cs, const uint8_t id[VV_CHUNK_ID_LEN]) VV_MUST_CHECK;
/* Call cb for every stored chunk id. A non-zero cb return stops and is returned. */
int vv_chunk_list(struct vv_chunkstore *cs,
                  int (*cb)(const uint8_t id[VV_CHUNK_ID_LEN], void *arg), void *arg) VV_MUST_CHECK;

#endif
