/*
 * replicator.h: the primary's side of replication to a paired secondary server
 * (docs/api.md "Replication").
 *
 * One thread sends, for every GeoRedundant vault, each committed recovery point in
 * commit order (the chunks the secondary lacks, asked in batches, then the disk
 * indexes, then the commit that makes the point exist there), then the changes of
 * points already there (expiry, soft delete, hold, deletion: the repl_queue table).
 * A point is marked replicated only once the secondary answered its commit, which it
 * gives after checking every chunk and index: a cut, a kill or a restart resumes from
 * the catalog, and the secondary's "missing" answer skips what already arrived.
 *
 * Each point has a Replication job (jobs.h), claimed by this thread at once; a
 * restart fails it (VaultRestarted) and the next round starts a new one.
 *
 * The pairing: the peers row 'Secondary' (URL, key pin, rate, window) and
 * DATA/pairing/secondary.json (0600: the replication token and the wrap secret that
 * seals vault keys on their way).
 */
#ifndef VV_REPLICATOR_H
#define VV_REPLICATOR_H

#include "err.h"

#include <stddef.h>
#include <time.h>

#include "json.h"
#include "server.h"

/* Start the thread (after the catalog is open); it ends when s->stopping is set and
 * vv_replicator_stop joins it. 0 or VV_E_IO. */
int vv_replicator_start(struct vv_server *s) VV_MUST_CHECK;
void vv_replicator_stop(struct vv_server *s);
/* Something to send (a commit, a change, a new pairing): the thread looks now. */
void vv_replicator_wake(struct vv_server *s);

/* Pair this server, as the primary, with the secondary at url whose public key is pin
 * ("" only for plain http on loopback), with the invitation code it issued. Calls the
 * secondary (catalog NOT locked by the caller), then records the pairing. 0; or
 * VV_E_EXISTS (already paired, here or there), VV_E_AUTH (the secondary refused the
 * code), VV_E_IO (unreachable, or the pin did not match), VV_E_INVAL (another refusal
 * of the secondary), with a sentence in err. */
int vv_repl_pair(struct vv_server *s, const char *url, const char *pin, const char *code,
                 const char *who, char *err, size_t errlen) VV_MUST_CHECK;
/* Unpair, on the primary: tell the secondary (best effort), then forget it. Catalog
 * NOT locked. 0, or VV_E_NOTFOUND when not paired. */
int vv_repl_unpair(struct vv_server *s) VV_MUST_CHECK;

/* The "replication" object of a vault (docs/api.md) at now. Catalog locked. New
 * reference, or NULL when out of memory. */
json_t *vv_repl_vault_json(struct vv_server *s, int64_t vault_id, time_t now);

/* Path of a pairing secrets file ("secondary.json" on a primary, "primary.json" on a
 * secondary) under DATA/pairing/. 0 or VV_E_TOOBIG. */
int vv_pairing_path(const struct vv_server *s, const char *name, char *out, size_t n)
    VV_MUST_CHECK;
/* Write text to a pairing secrets file, 0600, durably (a temporary file renamed into
 * place, then the folder synced). 0 or <0 vv_err. */
int vv_pairing_write(const struct vv_server *s, const char *name, const char *text)
    VV_MUST_CHECK;

#endif
