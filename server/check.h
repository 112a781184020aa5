/*
 * check.h: `vmvaultd check`, the offline verification of a stopped server's catalog
 * and stores.
 *
 * Invariant: it only reads: nothing in the catalog or a store is changed or removed,
 * whatever it finds.
 */
#ifndef VV_CHECK_H
#define VV_CHECK_H

#include "err.h"

#include "server.h"

/* Open the catalog in s->data_dir, verify it and every vault's store, print a JSON
 * report on stdout and close what it opened. Returns the exit status: 0 when
 * consistent, 3 when anything is missing or damaged, 1 when it cannot run. */
int vv_check_main(struct vv_server *s) VV_MUST_CHECK;

#endif
