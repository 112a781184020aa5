/*
 * api.h: what every REST handler shares: the call (request, caller, path
 * parameters, parsed body), replies and errors in the API's JSON shape, body field
 * checks, and the handlers themselves (one file per resource in server/api/).
 *
 * A handler runs with the catalog locked unless its route says it locks for itself
 * (chunk uploads, long polls, commits): those take the lock only around catalog work.
 * A handler always answers: exactly one vv_reply* per call.
 */
#ifndef VV_API_H
#define VV_API_H

#include "err.h"

#include <stdint.h>
#include <time.h>

#include "auth.h"
#include "http.h"
#include "json.h"
#include "server.h"
#include "util.h"

/* Roles, in increasing power. */
struct vv_call {
    struct vv_server *srv;
    const struct vv_http_req *req;
    struct vv_http_resp *resp;
    struct vv_ident who;
    const char *param[4]; /* path parameters, in order; borrowed from the request */
    char param_buf[4][160];
    json_t *body;         /* the parsed JSON object body, when the route takes one */
    time_t now;
    int self_lock;        /* the handler takes the catalog lock itself */
    const char *route_method, *route_pattern; /* the route being handled, for log lines
                                               * (static strings; NULL before routing) */
};

typedef void (*vv_api_fn)(struct vv_call *c);

/* Replies. v is stolen (NULL answers an empty object). */
void vv_reply(struct vv_call *c, int status, json_t *v);
void vv_reply_error(struct vv_call *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 500 InternalError for a vv_err. Logs one error line naming the request, the route,
 * the caller and the code (the line the reply's "see the server log" points to); the
 * cause itself is logged where it happened. VV_E_NOSPC is 507 VaultStorageFull
 * (vv_reply_storage_full without a job) instead. */
void vv_reply_internal(struct vv_call *c, int err);
/* 507 VaultStorageFull: the store's file system is full; the message says how much is
 * free and what the request needed. With job (a running job's id, may be NULL) that
 * job ends Failed with code VaultStorageFull (vv_job_fail_storage_full). Takes the
 * catalog lock: call without it. */
void vv_reply_storage_full(struct vv_call *c, const char *job);
/* 1 when the data folder's file system has less free space than --min-free asks
 * (*avail and *want in bytes, and a message that says so and what to do in msg), 0
 * otherwise (also when there is no threshold or the space cannot be read). */
int vv_space_low(struct vv_server *s, uint64_t *avail, uint64_t *want, char *msg, size_t n);
/* A list: {"value": arr}; arr stolen (NULL: 500). */
void vv_reply_list(struct vv_call *c, json_t *arr);

/* Body checks. Each returns 0, or replies 400 InvalidParameter naming the field and
 * returns -1. */
int vv_body_only(struct vv_call *c, const json_t *obj, const char *where,
                 const char *const *allowed) VV_MUST_CHECK;
int vv_body_str(struct vv_call *c, const json_t *obj, const char *name, int required,
                const char **out) VV_MUST_CHECK;
int vv_body_int(struct vv_call *c, const json_t *obj, const char *name, int required,
                int64_t min, int64_t max, int64_t *out) VV_MUST_CHECK;
int vv_body_bool(struct vv_call *c, const json_t *obj, const char *name, int *out) VV_MUST_CHECK;


void vv_audit(struct vv_call *c, const char *action, const char *target, const char *detail);

/* 0 when name follows the name rule, else replies 400 InvalidParameter ("<what>
 * '<name>' is not valid: ...") and returns -1. */
int vv_check_name(struct vv_call *c, const char *what, const char *name) VV_MUST_CHECK;

/* Catalog look-ups that reply 404 themselves: 0 and the vault's id (and uuid,
 * location when not NULL), or -1 after replying. */
int vv_find_vault(struct vv_call *c, const char *name, int64_t *id, char uuid[VV_UUID_LEN],
                  char *location, size_t loclen) VV_MUST_CHECK;

/* The id of policy name in vault vid: 0, or -1 after replying 404 PolicyNotFound
 * (with hint appended to the message) or 500. */
int vv_find_policy(struct vv_call *c, int64_t vid, const char *name, const char *hint,
                   int64_t *id) VV_MUST_CHECK;

/* Jobs (jobs.c), on behalf of the caller; the job model itself is server/jobs.h.
 * vv_job_create is vv_job_insert with the caller as creator, c->now as the time and
 * no extra params, and then wakes the agents' waiting claims: 0 or <0. Catalog
 * locked. */
int vv_job_create(struct vv_call *c, int64_t vault_id, int64_t item_id, const char *operation,
                  const char *status, const char *tasks_json, time_t retain_until,
                  char id_out[VV_UUID_LEN]) VV_MUST_CHECK;
/* The API's object of job job_id (owned by the caller), NULL when there is none.
 * Catalog locked. */
json_t *vv_job_json(struct vv_call *c, const char *job_id);

/* The agent job session (agent_job.c): the job in param[0] if it belongs to the
 * calling agent's host, is claimed and has not ended: 0 with its operation, status
 * and item (0 when none); -1 after replying (404 JobNotFound, 409 JobNotClaimable or
 * JobAlreadyEnded, 500). Its uploads pin chunks under the guard session
 * "c<host>:<job>" (uploads.h). Catalog locked. */
int vv_agent_job(struct vv_call *c, char op[32], char status[32], int64_t *item_id) VV_MUST_CHECK;
/* The same for the job id job (borrowed), e.g. from a "?job=" query. */
int vv_agent_job_id(struct vv_call *c, const char *job, char op[32], char status[32],
                    int64_t *item_id) VV_MUST_CHECK;

/* Chunk transfers (transfer.c), shared by agents' uploads and replication
 * (replica.c). A pin session: the store and chunk guard a request's chunks go to and
 * the guard session key they are pinned under; job, the running Backup job that owns
 * the session (borrowed; NULL for none); keep, pins that outlive the request (a
 * replicated point's, released when it commits). */
struct vv_pin_session {
    struct vv_repo *repo;
    struct vv_chunk_guard *guard;
    char key[64];
    const char *job;
    int keep;
};
/* Answer which of the body's "ids" the store lacks, pinning the present ones. */
void vv_transfer_missing(struct vv_call *c, struct vv_pin_session *ps);
/* Take a batch of chunk records (format/chunkrec.h) from the body: each decompressed,
 * re-hashed and stored under the session. 0 after replying 200 (*stored_bytes and
 * *stored_count grow by the payload bytes and number of the chunks stored, not of
 * those already present), -1 after replying an error. */
int vv_transfer_put(struct vv_call *c, struct vv_pin_session *ps, uint64_t *stored_bytes,
                    uint64_t *stored_count);

/* replica.c, replica_points.c: the routes the paired primary calls (router.c
 * P_REPLICA), and the pairing with an invitation code (public). */
void vv_api_replica_pair(struct vv_call *c);
void vv_api_replica_unpair(struct vv_call *c);
void vv_api_replica_vault_put(struct vv_call *c);
void vv_api_replica_vault_get(struct vv_call *c);
void vv_api_replica_chunks_missing(struct vv_call *c);
void vv_api_replica_chunks_put(struct vv_call *c);
void vv_api_replica_index_put(struct vv_call *c);
void vv_api_replica_point_put(struct vv_call *c);
void vv_api_replica_point_patch(struct vv_call *c);
void vv_api_replica_point_delete(struct vv_call *c);
/* pairing.c: the pairing as users see it (invite: Owner; create, update, delete:
 * Owner; show: Reader). */
void vv_api_pairing_invite(struct vv_call *c);
void vv_api_pairing_create(struct vv_call *c);
void vv_api_pairing_show(struct vv_call *c);
void vv_api_pairing_update(struct vv_call *c);
void vv_api_pairing_delete(struct vv_call *c);
/* vaults.c: POST /vaults/{v}/verify (Operator): a Verify job. */
void vv_api_vault_verify(struct vv_call *c);

/* Handlers, by file. */
void vv_api_health(struct vv_call *c);
void vv_api_whoami(struct vv_call *c);
/* vaults.c */
void vv_api_vault_create(struct vv_call *c);
/* POST /api/v1/vaults/{vault}/key/export: Owner only, audited. */
void vv_api_vault_key_export(struct vv_call *c);
void vv_api_vault_list(struct vv_call *c);
void vv_api_vault_show(struct vv_call *c);
void vv_api_vault_delete(struct vv_call *c);
void vv_api_props_show(struct vv_call *c);
void vv_api_props_set(struct vv_call *c);
void vv_api_credentials(struct vv_call *c);
void vv_api_vault_prune(struct vv_call *c);
void vv_api_vault_gc(struct vv_call *c);
void vv_api_vault_overview(struct vv_call *c);
/* policies.c */
void vv_api_policy_list(struct vv_call *c);
void vv_api_policy_show(struct vv_call *c);
void vv_api_policy_create(struct vv_call *c);
void vv_api_policy_set(struct vv_call *c);
void vv_api_policy_delete(struct vv_call *c);
void vv_api_policy_next_runs(struct vv_call *c);
void vv_api_policy_preview(struct vv_call *c);
/* containers.c */
void vv_api_container_list(struct vv_call *c);
void vv_api_container_show(struct vv_call *c);
void vv_api_container_delete(struct vv_call *c);
void vv_api_protectable_list(struct vv_call *c);
/* items.c */
void vv_api_item_enable(struct vv_call *c);
void vv_api_item_list(struct vv_call *c);
void vv_api_item_show(struct vv_call *c);
void vv_api_item_backup(struct vv_call *c);
void vv_api_item_disable(struct vv_call *c);
void vv_api_item_resume(struct vv_call *c);
void vv_api_item_undelete(struct vv_call *c);
void vv_api_item_update(struct vv_call *c);
void vv_api_point_list(struct vv_call *c);
void vv_api_point_show(struct vv_call *c);
void vv_api_point_restore(struct vv_call *c);
void vv_api_point_undelete(struct vv_call *c);
/* jobs.c */
void vv_api_job_list(struct vv_call *c);
void vv_api_job_show(struct vv_call *c);
void vv_api_job_cancel(struct vv_call *c);
/* access.c */
void vv_api_user_create(struct vv_call *c);
void vv_api_user_list(struct vv_call *c);
void vv_api_user_delete(struct vv_call *c);
void vv_api_token_create(struct vv_call *c);
void vv_api_token_list(struct vv_call *c);
void vv_api_token_revoke(struct vv_call *c);
void vv_api_audit_list(struct vv_call *c);
/* agent.c */
void vv_api_agent_register(struct vv_call *c);
void vv_api_container_allow_replacement(struct vv_call *c);
void vv_api_agent_inventory(struct vv_call *c);
void vv_api_agent_job_next(struct vv_call *c);
void vv_api_agent_job_progress(struct vv_call *c);
void vv_api_agent_job_complete(struct vv_call *c);
/* transfer.c */
void vv_api_chunks_missing(struct vv_call *c);
void vv_api_chunk_put(struct vv_call *c);
void vv_api_chunks_put(struct vv_call *c);
void vv_api_chunks_fetch(struct vv_call *c);
void vv_api_index_put(struct vv_call *c);
void vv_api_point_commit(struct vv_call *c);
void vv_api_point_manifest(struct vv_call *c);
void vv_api_index_get(struct vv_call *c);
void vv_api_chunk_get(struct vv_call *c);

#endif
