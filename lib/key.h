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
 * written durably: the file, the folder that holds it and that folder's parent are
 * fsynced before this returns (a vault is recorded in the catalog only after its key
 * survives a power loss). Returns 0 or a vv_err. */
int vv_key_generate(const char *path) VV_MUST_CHECK;
/* Write k as a key file at path, like vv_key_generate (refuses to overwrite, 0600,
 * durable with its folders). Used to bring back a key from a wrapped export. */
int vv_key_save(const char *path, const struct vv_key *k) VV_MUST_CHECK;

/* A vault key wrapped with a passphrase (the export file, docs/format.md "Wrapped
 * vault key"): JSON text with PBKDF2-HMAC-SHA256 (iterations, random 16-byte salt)
 * deriving a 32-byte key that seals the vault key with AES-256-GCM; the format name,
 * key id, vault name and vault id are authenticated with it (AAD). */
#define VV_KEY_WRAP_FORMAT "vmvault-wrapped-key-v1"
#define VV_KEY_WRAP_ITERATIONS 600000u
#define VV_KEY_PASSPHRASE_MIN 12
/* Wrap k. passphrase: at least VV_KEY_PASSPHRASE_MIN bytes (else VV_E_INVAL);
 * iterations >= 100000 (tests may use fewer than the default, never below that).
 * vault_name and vault_id are recorded (authenticated, not secret). *out: NUL-terminated
 * JSON text, owned by the caller (free()). Returns 0, VV_E_INVAL, VV_E_NOMEM, VV_E_CRYPTO. */
int vv_key_wrap(const struct vv_key *k, const char *passphrase, uint32_t iterations,
                const char *vault_name, const char *vault_id, char **out) VV_MUST_CHECK;
/* Unwrap a wrapped key's text (len bytes). On success k is the key (its id checked
 * against the recorded one) and vault_id / vault_name (may be NULL) get the recorded
 * vault. VV_E_AUTH: wrong passphrase or altered file; VV_E_CORRUPT: not a wrapped key
 * (reason in err). */
int vv_key_unwrap(const char *text, size_t len, const char *passphrase, struct vv_key *k,
                  char vault_id[64], char vault_name[128], char *err, size_t errlen) VV_MUST_CHECK;
/* Load a key file. Refuses files readable by group/others (VV_E_KEY, logged) and
 * malformed content (VV_E_KEY). VV_E_NOTFOUND when absent. */
int vv_key_load(const char *path, struct vv_key *k) VV_MUST_CHECK;
/* Wipe key material. */
void vv_key_clear(struct vv_key *k);

#endif
