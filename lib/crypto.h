/*
 * crypto.h: the adapter for OpenSSL (libcrypto). Nothing else includes OpenSSL.
 *
 * SHA-256 goes through EVP so the CPU's SHA extensions are used; AES-256-GCM is the
 * at-rest cipher of every sealed object. Failures of the library become VV_E_CRYPTO;
 * a failed GCM tag check becomes VV_E_AUTH.
 *
 * TLS certificates are handled as PEM text: the server makes its own self-signed
 * pair here and derives what clients pin; the TLS connections themselves are the
 * HTTP adapters' business (libmicrohttpd, libcurl).
 */
#ifndef VV_CRYPTO_H
#define VV_CRYPTO_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define VV_SHA256_LEN 32
#define VV_AES_KEY_LEN 32
#define VV_GCM_NONCE_LEN 12
#define VV_GCM_TAG_LEN 16

/* One-shot SHA-256. Returns 0 or VV_E_CRYPTO. Thread-safe. */
int vv_sha256(const void *data, size_t n, uint8_t out[VV_SHA256_LEN]) VV_MUST_CHECK;

/* Incremental SHA-256. Owner: the caller; vv_sha256_free(NULL) is a no-op. */
struct vv_sha256_ctx;
struct vv_sha256_ctx *vv_sha256_new(void);
int vv_sha256_update(struct vv_sha256_ctx *c, const void *data, size_t n) VV_MUST_CHECK;
int vv_sha256_final(struct vv_sha256_ctx *c, uint8_t out[VV_SHA256_LEN]) VV_MUST_CHECK;
void vv_sha256_free(struct vv_sha256_ctx *c);

/* Cryptographically strong random bytes. Returns 0 or VV_E_CRYPTO. */
int vv_random(void *out, size_t n) VV_MUST_CHECK;

/* AES-256-GCM. in and out may be the same buffer (in place). aad may be NULL when
 * aad_len is 0. Decrypt returns VV_E_AUTH when the tag does not verify; the contents
 * of out are then unspecified and must not be used. Thread-safe. */
int vv_gcm_encrypt(const uint8_t key[VV_AES_KEY_LEN], const uint8_t nonce[VV_GCM_NONCE_LEN],
                   const void *aad, size_t aad_len, const void *in, size_t n, void *out,
                   uint8_t tag[VV_GCM_TAG_LEN]) VV_MUST_CHECK;
int vv_gcm_decrypt(const uint8_t key[VV_AES_KEY_LEN], const uint8_t nonce[VV_GCM_NONCE_LEN],
                   const void *aad, size_t aad_len, const void *in, size_t n, void *out,
                   const uint8_t tag[VV_GCM_TAG_LEN]) VV_MUST_CHECK;

/* PBKDF2-HMAC-SHA256 (RFC 8018) of a passphrase: out_len bytes into out. iterations
 * at least 1. Returns 0, VV_E_INVAL or VV_E_CRYPTO. Thread-safe. */
int vv_pbkdf2_sha256(const char *pass, size_t pass_len, const uint8_t *salt, size_t salt_len,
                     uint32_t iterations, uint8_t *out, size_t out_len) VV_MUST_CHECK;

/* HKDF-SHA256 (RFC 5869) with one block of output: 32 bytes of key from ikm, salt and
 * info (at most 256 bytes) into out. Returns 0, VV_E_INVAL or VV_E_CRYPTO.
 * Thread-safe. */
int vv_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
                   const void *info, size_t info_len, uint8_t out[VV_SHA256_LEN]) VV_MUST_CHECK;

/* ---- TLS certificates --------------------------------------------------------- */

/* "sha256//" and the base64 of a SHA-256 (44 characters), NUL. */
#define VV_TLS_PIN_LEN 53
/* 32 upper-case hex pairs joined by ':' (95 characters), NUL. */
#define VV_TLS_FINGERPRINT_LEN 96

/* A new EC P-256 key and a self-signed X.509 v3 certificate for it: subject
 * CN=name; subjectAltName name (an IP address entry when name is an IPv4 or IPv6
 * address, else a DNS entry), plus 127.0.0.1, ::1 and localhost; valid from an hour
 * before now for days days; a server certificate (extendedKeyUsage serverAuth), not
 * a CA. name is a DNS name (letters, digits, '-', '.'; at most 253 characters) or an
 * address.
 * On success *cert_pem and *key_pem (PKCS#8, not encrypted) are NUL-terminated
 * strings owned by the caller, who frees them with free() (clearing the key first).
 * Returns 0, VV_E_INVAL (name or days unusable), VV_E_NOMEM or VV_E_CRYPTO; the
 * outputs are then untouched. */
int vv_tls_selfsigned(const char *name, time_t now, int days, char **cert_pem,
                      char **key_pem) VV_MUST_CHECK;

/* The public-key pin of the first certificate in cert_pem (NUL-terminated PEM, a
 * chain allowed), in libcurl's CURLOPT_PINNEDPUBLICKEY form: "sha256//" and the
 * base64 of the SHA-256 of the certificate's DER SubjectPublicKeyInfo. It stays the
 * same as long as the key does, whatever the certificate around it. Returns 0,
 * VV_E_INVAL (no certificate in cert_pem) or VV_E_CRYPTO. */
int vv_tls_cert_pin(const char *cert_pem, char out[VV_TLS_PIN_LEN]) VV_MUST_CHECK;

/* The SHA-256 fingerprint of the whole DER of the first certificate in cert_pem, as
 * `openssl x509 -noout -fingerprint -sha256` prints it ("AB:CD:..."), for people to
 * compare. Returns 0, VV_E_INVAL or VV_E_CRYPTO. */
int vv_tls_cert_fingerprint(const char *cert_pem, char out[VV_TLS_FINGERPRINT_LEN]) VV_MUST_CHECK;

/* Check a certificate and key pair before a server uses it: cert_pem holds at least
 * one certificate, key_pem an unencrypted private key (PKCS#8, or the traditional
 * RSA or EC forms) that belongs to the first certificate. *not_after (NULL: not
 * wanted) gets the first certificate's end of validity. Returns 0, or VV_E_INVAL
 * with a one-line reason in err (errlen bytes). Never asks for a passphrase. */
int vv_tls_check_pair(const char *cert_pem, const char *key_pem, time_t *not_after,
                      char *err, size_t errlen) VV_MUST_CHECK;

#endif
