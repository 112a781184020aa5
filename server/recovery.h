/*
 * recovery.h: what vmvaultd does at start, before it serves anything, to bring the
 * catalog and the stores back to one consistent state after a crash.
 *
 * Invariant: afterwards every vault folder belongs to a vault in the catalog, every
 * recovery point in a store is listed in the catalog, no upload of an earlier run is
 * staged, and no job of an earlier run is still running.
 */
#ifndef VV_RECOVERY_H
#define VV_RECOVERY_H

#include "err.h"

#include "server.h"

/* Run the recovery (catalog open, nothing served yet). Returns 0 or <0 vv_err;
 * what it removes or cannot remove is logged. */
int vv_recover(struct vv_server *s) VV_MUST_CHECK;

#endif
