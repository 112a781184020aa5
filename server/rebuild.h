/*
 * rebuild.h: `vmvaultd catalog rebuild`: with the server stopped, a new catalog made
 * from what the stores under DATA/vaults hold (vaults, hosts, protected items with
 * protection stopped and data retained, recovery points). Users, tokens, policies,
 * jobs and the audit log are not in the stores: the report says so.
 *
 * Invariant: nothing under DATA/vaults is removed; an existing catalog is refused
 * when it lists anything (unless --force) and is then moved aside, never
 * overwritten.
 */
#ifndef VV_REBUILD_H
#define VV_REBUILD_H

#include "options.h"
#include "server.h"

/* Run it (s set up by vv_options_parse; its catalog not open). Prints a JSON report
 * on stdout. Exit status: 0 when every store was read, 3 when something could not
 * be (listed in the report's "problems"), 1 when it cannot run. */
int vv_rebuild_main(struct vv_server *s, const struct vv_options *o);

#endif
