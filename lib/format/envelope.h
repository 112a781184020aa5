/*
 * envelope.h: the wrapper around every stored object (chunk, disk index, manifest).
 *
 * An envelope carries a magic, a format version, the object type, the codec, flags,
 * the plaintext length, the payload length, the key id and nonce when sealed, and a
 * CRC-32C over everything. Sealing is AES-256-GCM; the header is the additional
 * authenticated data, so no field can be changed undetected. Version 2 (written now)
 * seals each object with a key of its own, HKDF-SHA256 of the vault key and a random
 * 256-bit salt stored after the header, so the number of objects a vault key seals
 * has no nonce-collision limit; version 1 objects (sealed with the vault key itself
 * and a random 96-bit nonce: safe to about 2^32 objects) are still read.
 * docs/format.md is the normative description; the magic never changes.
 *
 * Invariant: vv_envelope_decode() either returns the exact plaintext that was encoded
 * or an error; it never returns bytes an attacker or bit rot could have altered.
 */
#ifndef VV_ENVELOPE_H
#define VV_ENVELOPE_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "codec.h"
#include "key.h"

#define VV_ENV_MAGIC "VVOB"
#define VV_ENV_VERSION 2 /* written; 1 is still read */
#define VV_ENV_HEADER_LEN 48
#define VV_ENV_SALT_LEN 32 /* version 2, sealed: after the header */
#define VV_ENV_TAG_LEN 16

enum vv_obj_type { VV_OBJ_CHUNK = 1, VV_OBJ_INDEX = 2, VV_OBJ_MANIFEST = 3 };
enum vv_codec_id { VV_CODEC_NONE = 0, VV_CODEC_ZSTD = 1 };
#define VV_ENV_FLAG_SEALED 0x01u

/* Caps on plaintext sizes, checked before any allocation. */
#define VV_MAX_CHUNK (16u << 20)            /* 16 MiB */
#define VV_MAX_INDEX (1ull << 30)           /* 1 GiB: 32M chunk ids */
#define VV_MAX_MANIFEST (64u << 20)         /* 64 MiB */

/* What a header says, for diagnostics and tests. */
struct vv_envelope_info {
    uint8_t version, type, codec, flags;
    uint64_t plain_len, payload_len;
};

/* Upper bound of an encoded object for n plaintext bytes. */
size_t vv_envelope_bound(size_t n);

/* Encode n bytes of plaintext as an object of the given type into out (replacing its
 * contents). Compresses with codec (a compressed payload that is not smaller is stored
 * uncompressed), then seals with key unless key is NULL. Returns 0 or a vv_err. */
int vv_envelope_encode(struct vv_codec *codec, enum vv_obj_type type, const void *plain,
                       size_t n, const struct vv_key *key, struct vv_buf *out) VV_MUST_CHECK;

/* The same for plaintext the caller already compressed: z (zn bytes, one zstd frame
 * of exactly the n plaintext bytes, which the caller has verified) becomes the payload
 * as is when it is smaller than n; when it is not (or z == plain, zn == n: the sender
 * found the bytes incompressible) the plaintext is stored uncompressed. With z NULL
 * this is vv_envelope_encode(). Saves compressing twice what arrives compressed. */
int vv_envelope_encode_z(struct vv_codec *codec, enum vv_obj_type type, const void *plain,
                         size_t n, const void *z, size_t zn, const struct vv_key *key,
                         struct vv_buf *out) VV_MUST_CHECK;

/* Validate and open an object. want_type must match; key must be given for sealed
 * objects (NULL key on a sealed object: VV_E_KEY). The plaintext goes into out
 * (replacing its contents), never more than max_plain bytes (VV_E_TOOBIG before any
 * allocation). Errors: VV_E_TRUNCATED, VV_E_BAD_MAGIC, VV_E_BAD_VERSION,
 * VV_E_BAD_HEADER, VV_E_CHECKSUM, VV_E_WRONG_KEY, VV_E_AUTH, VV_E_CODEC, VV_E_TOOBIG. */
int vv_envelope_decode(struct vv_codec *codec, enum vv_obj_type want_type, const void *obj,
                       size_t len, const struct vv_key *key, size_t max_plain,
                       struct vv_buf *out) VV_MUST_CHECK;

/* Validate and decrypt an object without decompressing it: payload gets the payload
 * (replacing its contents) and info the header. With info->codec VV_CODEC_ZSTD the
 * payload is one zstd frame of info->plain_len bytes, else it is the plaintext. The
 * plaintext is not re-hashed here: whoever uses it checks it. Same errors as decode
 * (VV_E_CODEC aside). */
int vv_envelope_open(enum vv_obj_type want_type, const void *obj, size_t len,
                     const struct vv_key *key, size_t max_plain, struct vv_envelope_info *info,
                     struct vv_buf *payload) VV_MUST_CHECK;

/* Check magic, version, lengths and CRC only (no key needed): what a server-side scrub
 * can do without decrypting. Fills info when not NULL. */
int vv_envelope_check(const void *obj, size_t len, struct vv_envelope_info *info) VV_MUST_CHECK;

#endif
