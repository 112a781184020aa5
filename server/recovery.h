/*
 * recovery.h: what vmvaultd does at start, before it serves anything, to bring the
 * catalog and the stores back to one consistent state after a crash; and the vault
 * metadata object (vault.json in each store) that `vmvaultd catalog rebuild` reads.
 *
 * Invariant: afterwards every vault folder belongs to a vault in the catalog, every
 * recovery point in a store is listed in the catalog, no upload of an earlier run is
 * staged, and no job of an earlier run is still running. What the catalog does not
 * know is moved aside to DATA/quarantine/<UTC time>/, never deleted.
 */
#ifndef VV_RECOVERY_H
#define VV_RECOVERY_H

#include "err.h"

#include "server.h"

/* Run the recovery (catalog open, nothing served yet). Returns 0 or <0 vv_err;
 * what it moves aside, removes or cannot handle is logged. */
int vv_recover(struct vv_server *s) VV_MUST_CHECK;

/* Write the vault's metadata object from the catalog (name, id, location, redundancy,
 * soft delete, its protected items with their hosts) when it differs from what the
 * store holds; durable when this returns. Catalog locked by the caller (or not yet
 * shared). 0, VV_E_NOTFOUND (no such vault) or <0 vv_err (logged). */
int vv_vault_meta_write(struct vv_server *s, const char *uuid) VV_MUST_CHECK;
/* fsync the vault's folder and DATA/vaults: what a vault create made there (key,
 * store, staging) survives a power loss once this returns. 0 or VV_E_IO (logged). */
int vv_vault_folder_sync(struct vv_server *s, const char *uuid) VV_MUST_CHECK;
/* The same for every vault. 0, or <0 when any could not be written. */
int vv_vault_meta_refresh_all(struct vv_server *s) VV_MUST_CHECK;

#endif
