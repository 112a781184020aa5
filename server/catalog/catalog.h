/*
 * catalog.h: the vault catalog (vaults, policies, containers, items, recovery points,
 * jobs, users, tokens, audit) on top of db.h, and its schema migrations.
 */
#ifndef VV_CATALOG_H
#define VV_CATALOG_H

#include "err.h"

#include "catalog/db.h"

/* Bring the schema up to this build's version. Refuses a catalog from a newer build
 * with VV_E_BAD_VERSION. */
int vv_catalog_migrate(struct vv_db *db) VV_MUST_CHECK;

#endif
