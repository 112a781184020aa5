/*
 * repo.h: a vault's store: a backend, the vault key, the chunk store on top of it,
 * and the recovery points (manifest + one index per disk).
 *
 * Layout on the backend:
 *   config                         store identity (JSON, no secrets): format, key id
 *   chunks/<2 hex>/<64 hex>        sealed chunks (the 256 folders made with the store;
 *                                  format 1 stores: <3 hex>, 4096 folders)
 *   points/<point id>/<disk>.index sealed disk indexes
 *   points/<point id>/manifest     sealed manifest: written last, deleted first
 *   vault.json                     the vault's description (JSON, no secrets): what
 *                                  `vmvaultd catalog rebuild` needs besides the
 *                                  points (docs/format.md "Vault metadata")
 *
 * Invariant: a recovery point exists exactly when its manifest does, and the manifest
 * is only written after every chunk and index it references is durable. A crash
 * leaves either the whole point or no point (plus unreferenced objects that garbage
 * collection removes).
 */
#ifndef VV_REPO_H
#define VV_REPO_H

#include "err.h"

#include "format/index.h"
#include "key.h"
#include "format/manifest.h"
#include "store/backend.h"
#include "store/chunkstore.h"

/* The format new stores get; format 1 stores (3-digit chunk folders) are still read
 * and written in their own layout. */
#define VV_STORE_FORMAT 2
#define VV_CHUNK_FOLDERS 256

struct vv_repo {
    struct vv_backend *be; /* owned */
    struct vv_key key;
    struct vv_chunkstore chunks; /* points into be and key */
    int level;                   /* zstd level for new objects */
};

/* Open the store in dir with the key in key_path. With create, a missing store is
 * initialised (folder and config). A store sealed with another key is refused with
 * VV_E_WRONG_KEY before anything is read or written. Owner: the caller,
 * vv_repo_close(). */
int vv_repo_open(const char *dir, const char *key_path, int create, struct vv_repo **out) VV_MUST_CHECK;
void vv_repo_close(struct vv_repo *repo);

/* Write the indexes (one per manifest disk, same order) then the manifest. Fills
 * each disk's index_sha256 and chunk counts from its index. VV_E_EXISTS when the
 * point id is taken. On any other failure (VV_E_NOSPC when the store is full) what
 * the commit wrote is removed again, its folder included: the point is absent. */
int vv_repo_point_commit(struct vv_repo *repo, struct vv_manifest *m,
                         const struct vv_index *indexes) VV_MUST_CHECK;
/* Load and check a manifest. VV_E_NOTFOUND when the point does not exist. */
int vv_repo_point_load(struct vv_repo *repo, const char *id, struct vv_manifest *m) VV_MUST_CHECK;
/* Load one disk's index and check it against the manifest (SHA-256, size, chunk size). */
int vv_repo_index_load(struct vv_repo *repo, const struct vv_manifest *m,
                       const struct vv_manifest_disk *d, struct vv_index *out) VV_MUST_CHECK;
/* The distinct chunk ids every disk index of point id names, sorted, into *out
 * (caller frees; NULL and 0 when it names none). 0 or vv_err. */
int vv_repo_point_ids(struct vv_repo *repo, const char *id, uint8_t (**out)[VV_ENTRY_LEN],
                      size_t *n) VV_MUST_CHECK;
/* Call cb with each point id (no set order). */
int vv_repo_point_list(struct vv_repo *repo, int (*cb)(const char *id, void *arg), void *arg) VV_MUST_CHECK;
/* Remove a point: the manifest first (the point is gone at once), then its indexes.
 * Chunks are left for garbage collection. */
int vv_repo_point_delete(struct vv_repo *repo, const char *id) VV_MUST_CHECK;
/* Remove whatever exists of a point, whole or partial (a commit cut short leaves
 * indexes without a manifest). 0 also when nothing was there. */
int vv_repo_point_purge(struct vv_repo *repo, const char *id) VV_MUST_CHECK;
/* Call cb with the id of every point that has any object, manifest or not (an id
 * may be reported more than once). */
int vv_repo_point_list_all(struct vv_repo *repo, int (*cb)(const char *id, void *arg), void *arg) VV_MUST_CHECK;

/* The vault metadata object ("vault.json"): replace it with n bytes of text, durably
 * (the object and its folder are on disk when this returns). 0 or <0 vv_err. */
int vv_repo_meta_put(struct vv_repo *repo, const char *text, size_t n) VV_MUST_CHECK;
/* Read it into out (at most VV_REPO_META_MAX bytes). VV_E_NOTFOUND when the store has
 * none (a vault made before it existed). Works on a backend alone, so a store whose
 * key is lost can still be named: vv_repo_meta_read. */
#define VV_REPO_META_MAX (16u << 20)
int vv_repo_meta_get(struct vv_repo *repo, struct vv_buf *out) VV_MUST_CHECK;
int vv_repo_meta_read(struct vv_backend *be, struct vv_buf *out) VV_MUST_CHECK;

#endif
