/*
 * key.h: the vault key, the AES-256 key that seals every stored object at rest.
 *
 * The key lives in its own file, outside the chunk store, readable only by its owner:
 * whoever copies the store alone gets ciphertext. File format (text, two lines):
 *     vmvault-key-v1
 *     <64 lower-case hex digits>
 * The key id (first 8 bytes of SHA-256("vmvault key id" || key)) is written into every
 * sealed object so that reading with the wrong key says so instead of "tampered".
 */
#ifndef VV_KEY_H
#define VV_KEY_H

#include "err.h"

#include <stdint.h>

#include "crypto.h"

#define VV_KEY_ID_LEN 8

struct vv_key {
    uint8_t key[VV_AES_KEY_LEN];
    uint8_t id[VV_KEY_ID_LEN];
};

/* Fill k from 32 raw bytes (computes the id). Returns 0 or VV_E_CRYPTO. */
int vv_key_from_bytes(struct vv_key *k, const uint8_t raw[VV_AES_KEY_LEN]) VV_MUST_CHECK;
/* Create a new random key file at path (refuses to overwrite: VV_E_EXISTS), mode 0600,
 * written durably. Returns 0 or a vv_err. */
int vv_key_generate(const char *path) VV_MUST_CHECK;
/* Load a key file. Refuses files readable by group/others (VV_E_KEY, logged) and
 * malformed content (VV_E_KEY). VV_E_NOTFOUND when absent. */
int vv_key_load(const char *path, struct vv_key *k) VV_MUST_CHECK;
/* Wipe key material. */
void vv_key_clear(struct vv_key *k);

#endif
