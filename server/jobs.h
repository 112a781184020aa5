/*
 * jobs.h: the job model of the server: every change to the catalog's jobs table is
 * made here (creation, claim, progress, end, cancel requests, the recovery point and
 * params of a job, and the sweeps that end jobs nobody will finish).
 *
 * States: InProgress -> Completed | CompletedWithWarnings | Failed, and
 * InProgress -> Cancelling -> Cancelled (a job nobody has claimed yet goes straight
 * to Cancelled). A job is queued while claimed is NULL; an agent, or the worker for
 * the server's own jobs (Prune, GarbageCollection), claims it. Invariant: ended jobs
 * never change again, and a job that ends holds nothing in its vault (uploads.h).
 *
 * Every function here expects the catalog locked (vv_db_lock) and opens no
 * transaction of its own.
 */
#ifndef VV_JOBS_H
#define VV_JOBS_H

#include "err.h"

#include <stdint.h>
#include <time.h>

#include "server.h"

/* Create a job at now: who is the creator's name; item_id 0 for a vault's job; a
 * status other than InProgress creates it ended; tasks_json the initial task list;
 * retain_until 0 for none; extra_params a JSON object merged into the job's params
 * (NULL for none). The new job's id goes to id_out. Returns 0 or <0. Catalog locked. */
int vv_job_insert(struct vv_db *db, time_t now, const char *who, int64_t vault_id,
                  int64_t item_id, const char *operation, const char *status,
                  const char *tasks_json, time_t retain_until, const char *extra_params,
                  char id_out[VV_UUID_LEN]) VV_MUST_CHECK;

/* A job the server runs itself on a thread of its own (Replication), created claimed
 * and tied to no host (no agent claims it, the sweep of vanished agents skips it; a
 * restart fails it like any claimed job); item_id gives its item and host name.
 * 0 or <0. Catalog locked. */
int vv_job_insert_own(struct vv_db *db, time_t now, const char *who, int64_t vault_id,
                      int64_t item_id, const char *operation, const char *tasks_json,
                      char id_out[VV_UUID_LEN]) VV_MUST_CHECK;
/* The host that runs queued job: container_id instead of its item's (a restore on
 * another host). Returns the number of jobs changed or <0. Catalog locked. */
int vv_job_set_host(struct vv_db *db, const char *job, int64_t container_id) VV_MUST_CHECK;
/* Claim job for its runner at now (its first heartbeat too). Returns the number of
 * jobs changed (1, or 0 when there is no such job) or <0. Catalog locked. */
int vv_job_claim(struct vv_db *db, const char *job, time_t now) VV_MUST_CHECK;

/* A progress report: the job's tasks become tasks_json (borrowed), its heartbeat now,
 * and bytes_done / bytes_total when >= 0 (-1 keeps them). Returns the number of jobs
 * changed or <0. Catalog locked. */
int vv_job_progress(struct vv_db *db, const char *job, time_t now, const char *tasks_json,
                    int64_t bytes_done, int64_t bytes_total) VV_MUST_CHECK;

/* How a job ended. All borrowed; JSON fields are text. */
struct vv_job_end {
    const char *status;   /* Completed, CompletedWithWarnings, Failed or Cancelled */
    const char *code;     /* the error of a Failed job; NULL otherwise */
    const char *message;
    const char *stats;    /* JSON object, NULL keeps what the job has */
    const char *warnings; /* JSON array of {code, message}, or NULL */
    const char *snapshot; /* JSON object a backup reports, or NULL */
};
/* Record the end of job at now. Returns the number of jobs changed or <0. The caller
 * then releases what the job held (vv_job_ended). Catalog locked. */
int vv_job_end(struct vv_db *db, const char *job, time_t now, const struct vv_job_end *e)
    VV_MUST_CHECK;

/* A store write of running job failed for lack of space: the job ends Failed with
 * code VaultStorageFull and msg (Cancelled when a cancel was under way), its item's
 * last backup Failed, and what it held is released (vv_job_ended). A full disk under
 * the catalog too is survived once by its reserve (db_sqlite.c). 0 (also when the
 * job had ended already) or <0 (logged). Catalog locked. */
int vv_job_fail_storage_full(struct vv_server *s, const char *job, time_t now, const char *msg);
/* The same with another code (VaultStorageLow: refused before it started). */
int vv_job_fail_storage(struct vv_server *s, const char *job, time_t now, const char *code,
                        const char *msg);

/* What must happen once a job of host container_id in vault vault_uuid has ended:
 * its staged indexes are removed and its chunk-guard pins released (uploads.h).
 * Catalog locked. */
void vv_job_ended(struct vv_server *s, const char *vault_uuid, int64_t container_id,
                  const char *job);

/* Ask a running job to stop: one nobody has claimed ends Cancelled at now, a claimed
 * one becomes Cancelling until its runner ends it. Returns the number of jobs changed
 * (0 when the job is not InProgress) or <0. Catalog locked. */
int vv_job_cancel_request(struct vv_db *db, const char *job, time_t now) VV_MUST_CHECK;

/* Record the recovery point a running job committed. Returns 1, or 0 when the job
 * already has one or is no longer InProgress, or <0. Catalog locked. */
int vv_job_set_recovery_point(struct vv_db *db, const char *job, const char *point) VV_MUST_CHECK;

/* Replace a job's params with params_json (a JSON object, borrowed). Returns the
 * number of jobs changed or <0. Catalog locked. */
int vv_job_set_params(struct vv_db *db, const char *job, const char *params_json) VV_MUST_CHECK;

/* The sweep of vanished agents, with now from the server's clock and its agent
 * timeout: a claimed agent job without news for the timeout ends
 * (AgentStoppedResponding), a queued one waiting that long for a host whose agent has
 * not been seen that long either fails (AgentUnreachable); their items record the
 * failed backup and the backups release what they held. Returns the number of jobs
 * ended or <0. Catalog locked. */
int vv_jobs_expire(struct vv_server *s, time_t now) VV_MUST_CHECK;

/* At start, after staged uploads were discarded: every claimed job still running
 * ends at now (VaultRestarted). Returns the number of jobs ended or <0. Catalog
 * locked. */
int vv_jobs_fail_restarted(struct vv_db *db, time_t now) VV_MUST_CHECK;

#endif
