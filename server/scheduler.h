/*
 * scheduler.h: policies at work in the server: the scheduler (scheduler.c), retention of
 * recovery points (scheduler.c), the daily prune and the collection of unreferenced
 * chunks run by the worker thread (worker.c, prune.c).
 *
 * Functions marked "catalog locked" expect the caller to hold vv_db_lock and do not
 * open a transaction of their own unless they say so.
 */
#ifndef VV_SCHEDULER_H
#define VV_SCHEDULER_H

#include "err.h"

#include <stdint.h>
#include <time.h>

#include "json.h"
#include "policy/policy.h"
#include "server.h"

struct vv_tz;

/* The zone named name, loaded from s->zoneinfo on first use and kept until the
 * server stops. *out is borrowed and immutable. Thread-safe. */
int vv_tz_get(struct vv_server *s, const char *name, const struct vv_tz **out) VV_MUST_CHECK;
/* Parse a stored policy (canonical JSON) and get its zone. */
int vv_policy_load(struct vv_server *s, const char *spec, struct vv_policy *p,
                   const struct vv_tz **tz) VV_MUST_CHECK;
/* t as a local time of zone ("" when the zone cannot be loaded). */
void vv_sched_local_time(struct vv_server *s, const char *zone, time_t t, char out[48]);

/* Start an item's schedule afresh at now: its runs after now are due (none before).
 * Items that are not scheduled (stopped, soft deleted) get next_run NULL. Catalog
 * locked. */
int vv_sched_item_reset(struct vv_server *s, int64_t item_id, time_t now) VV_MUST_CHECK;
/* The same for every item of a policy, and their retention again (the policy
 * changed). Catalog locked. */
int vv_sched_policy_reset(struct vv_server *s, int64_t policy_id, time_t now) VV_MUST_CHECK;
/* Expiry of every recovery point of an item from its policy (or forever when its
 * protection is stopped with retained data; soft-deleted items are left alone).
 * Catalog locked. */
int vv_retention_refresh(struct vv_server *s, int64_t item_id) VV_MUST_CHECK;
/* Queue the backups that are due and the daily prunes. Takes the catalog lock.
 * Returns the number of backups queued or <0. */
int vv_sched_tick(struct vv_server *s, time_t now) VV_MUST_CHECK;

/* ---- the worker: the server's own jobs ---- */

/* Queue a server job (operation "Prune" or "GarbageCollection") for a vault unless
 * one of that operation is already queued or running; id_out (may be NULL) gets the
 * job, new or existing. Returns 1 when queued, 0 when one was waiting already, <0.
 * Catalog locked. The caller wakes the worker (after its transaction commits). */
int vv_server_job_queue(struct vv_server *s, int64_t vault_id, const char *operation,
                        const char *who, time_t now, char id_out[VV_UUID_LEN]) VV_MUST_CHECK;
void vv_server_worker_wake(struct vv_server *s);
/* End a server job at the server's now with status, code, msg and stats (borrowed,
 * may be NULL). Takes the catalog lock. */
void vv_worker_finish(struct vv_server *s, const char *job, const char *status,
                      const char *code, const char *msg, json_t *stats);
/* The Verify job (verify.c): every chunk of every point of the vault re-read and
 * re-hashed once; a damaged one moved aside to DATA/quarantine/<UTC>/<vault>/ (never
 * deleted) and the points that name it marked damaged (a replica's are then sent
 * again by its primary); a point found whole loses its mark. Ends the job. */
void vv_verify_run(struct vv_server *s, const char *job, int64_t vault_id, const char *uuid);
int vv_server_worker_start(struct vv_server *s, pthread_t *out) VV_MUST_CHECK;
/* A cancel of job id: 1 when it is the job the worker runs (it stops soon). */
int vv_server_worker_cancel(struct vv_server *s, const char *id);

struct vv_prune_stats {
    uint64_t points_pruned; /* expired points removed */
    uint64_t items_purged;  /* soft-deleted items whose time was up */
    uint64_t points_purged; /* their points */
    uint64_t points_kept;   /* expired but kept: newest of an item, or being restored */
    uint64_t points_soft_deleted; /* expired early by a change of retention: soft deleted */
};
/* A change of retention (a resume, a policy edit) in the making (prune.c): _begin
 * notes the expiry of every point of item_id, or of every item of policy_id (pass 0
 * for the other), before the change; _end, after it (vv_retention_refresh), marks
 * the points whose expiry moved earlier as shortened (the prune soft deletes them
 * when they expire) and counts them in shortened. _end and _release free what
 * _begin noted. Catalog locked, in the caller's transaction. 0 or <0. */
struct vv_retention_change {
    struct vv_expiry_note *notes; /* owned */
    size_t n;
    int64_t shortened;
};
int vv_retention_change_begin(struct vv_server *s, int64_t item_id, int64_t policy_id,
                              struct vv_retention_change *ch) VV_MUST_CHECK;
int vv_retention_change_end(struct vv_server *s, struct vv_retention_change *ch) VV_MUST_CHECK;
void vv_retention_change_release(struct vv_retention_change *ch);

/* Remove a vault's expired recovery points and soft delete those whose expiry a
 * change of retention brought forward, purge its soft-deleted items and points whose
 * time is up: the catalog first (one transaction), then the store. Takes the catalog
 * lock. */
int vv_prune_vault(struct vv_server *s, int64_t vault_id, time_t now, struct vv_prune_stats *st)
    VV_MUST_CHECK;

#endif
