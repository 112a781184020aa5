/*
 * crypto.h: the adapter for OpenSSL (libcrypto). Nothing else includes OpenSSL.
 *
 * SHA-256 goes through EVP so the CPU's SHA extensions are used; AES-256-GCM is the
 * at-rest cipher of every sealed object. Failures of the library become VV_E_CRYPTO;
 * a failed GCM tag check becomes VV_E_AUTH.
 */
#ifndef VV_CRYPTO_H
#define VV_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define VV_SHA256_LEN 32
#define VV_AES_KEY_LEN 32
#define VV_GCM_NONCE_LEN 12
#define VV_GCM_TAG_LEN 16

/* One-shot SHA-256. Returns 0 or VV_E_CRYPTO. Thread-safe. */
int vv_sha256(const void *data, size_t n, uint8_t out[VV_SHA256_LEN]);

/* Incremental SHA-256. Owner: the caller; vv_sha256_free(NULL) is a no-op. */
struct vv_sha256_ctx;
struct vv_sha256_ctx *vv_sha256_new(void);
int vv_sha256_update(struct vv_sha256_ctx *c, const void *data, size_t n);
int vv_sha256_final(struct vv_sha256_ctx *c, uint8_t out[VV_SHA256_LEN]);
void vv_sha256_free(struct vv_sha256_ctx *c);

/* Cryptographically strong random bytes. Returns 0 or VV_E_CRYPTO. */
int vv_random(void *out, size_t n);

/* AES-256-GCM. in and out may be the same buffer (in place). aad may be NULL when
 * aad_len is 0. Decrypt returns VV_E_AUTH when the tag does not verify; the contents
 * of out are then unspecified and must not be used. Thread-safe. */
int vv_gcm_encrypt(const uint8_t key[VV_AES_KEY_LEN], const uint8_t nonce[VV_GCM_NONCE_LEN],
                   const void *aad, size_t aad_len, const void *in, size_t n, void *out,
                   uint8_t tag[VV_GCM_TAG_LEN]);
int vv_gcm_decrypt(const uint8_t key[VV_AES_KEY_LEN], const uint8_t nonce[VV_GCM_NONCE_LEN],
                   const void *aad, size_t aad_len, const void *in, size_t n, void *out,
                   const uint8_t tag[VV_GCM_TAG_LEN]);

#endif
