/*
 * jobs.c: every change to the catalog's jobs table (see jobs.h for the states).
 * The HTTP handlers (api/jobs.c, api/agent.c, api/transfer.c, api/items.c), the
 * scheduler, the worker and the maintenance thread all go through here.
 *
 * Invariant: an ended job never changes again: every UPDATE that ends a job or
 * records its work names the running states in its WHERE clause or is made only
 * after the caller checked the job is running (vv_agent_job, the worker's claim).
 */
#include "jobs.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "uploads.h"

#define T(col) "strftime('%Y-%m-%dT%H:%M:%SZ', " col ", 'unixepoch')"

/* How a claimed job the server gives up on ends: Cancelled when a cancel was under
 * way, else Failed with an error. Binds, in order: the end time, the error code, the
 * error message. */
#define GIVE_UP_SET                                                                       \
    "status = CASE WHEN status = 'Cancelling' THEN 'Cancelled' ELSE 'Failed' END, "         \
    "end_time = ?, "                                                                      \
    "error_code = CASE WHEN status = 'Cancelling' THEN NULL ELSE ? END, "                   \
    "error_message = CASE WHEN status = 'Cancelling' THEN NULL ELSE ? END "

int vv_job_insert(struct vv_db *db, time_t now, const char *who, int64_t vault_id,
                  int64_t item_id, const char *operation, const char *status,
                  const char *tasks_json, time_t retain_until, const char *extra_params,
                  char id_out[VV_UUID_LEN])
{
    int ended = strcmp(status, "InProgress") != 0;
    int r = vv_uuid_new(id_out);
    if (r)
        return r;
    r = vv_db_run(
        db,
        "INSERT INTO jobs(id, vault_id, item_id, item_name, container_id, container_name, "
        "  operation, status, start_time, end_time, tasks, retain_until, created_by, params) "
        "SELECT ?, ?, i.id, i.name, i.container_id, ct.name, ?, ?, ?, "
        "  CASE WHEN ? THEN ? END, ?, NULLIF(?, 0), ?, "
        "  json_patch(json_object('vmName', i.name, 'vmUuid', i.vm_uuid, "
        "    'diskSettings', json(i.disk_settings), 'scriptSettings', "
        "    json(COALESCE(i.script_settings, json_extract(pol.spec, '$.scriptSettings'))), "
        "    'retainUntil', "
        "    " T("NULLIF(?, 0)") ", 'lastRecoveryPoint', "
        "    (SELECT r.name FROM recovery_points r WHERE r.item_id = i.id "
        "     ORDER BY r.time DESC, r.id DESC LIMIT 1)), COALESCE(?, '{}')) "
        "FROM (SELECT 1) LEFT JOIN protected_items i ON i.id = ? "
        "  LEFT JOIN containers ct ON ct.id = i.container_id "
        "  LEFT JOIN policies pol ON pol.id = i.policy_id",
        "sissiiisisisi", id_out, vault_id, operation, status, (int64_t)now, (int64_t)ended,
        (int64_t)now, tasks_json, (int64_t)retain_until, who, (int64_t)retain_until,
        extra_params, item_id);
    return r < 0 ? r : 0;
}

int vv_job_insert_own(struct vv_db *db, time_t now, const char *who, int64_t vault_id,
                      int64_t item_id, const char *operation, const char *tasks_json,
                      char id_out[VV_UUID_LEN])
{
    int r = vv_job_insert(db, now, who, vault_id, item_id, operation, "InProgress", tasks_json, 0,
                          NULL, id_out);
    if (r < 0)
        return r;
    r = vv_db_run(db, "UPDATE jobs SET container_id = NULL, claimed = ?, heartbeat = ? WHERE id = ?",
                  "iis", (int64_t)now, (int64_t)now, id_out);
    return r < 0 ? r : 0;
}

int vv_job_set_host(struct vv_db *db, const char *job, int64_t container_id)
{
    return vv_db_run(db,
                     "UPDATE jobs SET container_id = ?1, container_name = (SELECT name FROM "
                     "containers WHERE id = ?1) WHERE id = ?2 AND claimed IS NULL",
                     "is", container_id, job);
}

int vv_job_claim(struct vv_db *db, const char *job, time_t now)
{
    return vv_db_run(db, "UPDATE jobs SET claimed = ?, heartbeat = ? WHERE id = ?", "iis",
                     (int64_t)now, (int64_t)now, job);
}

int vv_job_progress(struct vv_db *db, const char *job, time_t now, const char *tasks_json,
                    int64_t bytes_done, int64_t bytes_total)
{
    return vv_db_run(db,
                     "UPDATE jobs SET tasks = ?, heartbeat = ?, "
                     "bytes_done = CASE WHEN ? >= 0 THEN ? ELSE bytes_done END, "
                     "bytes_total = CASE WHEN ? >= 0 THEN ? ELSE bytes_total END WHERE id = ?",
                     "siiiiis", tasks_json, (int64_t)now, bytes_done, bytes_done, bytes_total,
                     bytes_total, job);
}

int vv_job_end(struct vv_db *db, const char *job, time_t now, const struct vv_job_end *e)
{
    return vv_db_run(db,
                     "UPDATE jobs SET status = ?, end_time = ?, error_code = ?, error_message = ?, "
                     "stats = COALESCE(?, stats), warnings = ?, snapshot = ? WHERE id = ?",
                     "sissssss", e->status, (int64_t)now, e->code, e->message, e->stats,
                     e->warnings, e->snapshot, job);
}

void vv_job_ended(struct vv_server *s, const char *vault_uuid, int64_t container_id,
                  const char *job)
{
    vv_staging_remove(s, vault_uuid, job);
    vv_guard_job_ended(s, vault_uuid, container_id, job);
}

int vv_job_cancel_request(struct vv_db *db, const char *job, time_t now)
{
    return vv_db_run(db,
                     "UPDATE jobs SET cancel_requested = 1, "
                     "  status = CASE WHEN claimed IS NULL THEN 'Cancelled' ELSE 'Cancelling' END, "
                     "  end_time = CASE WHEN claimed IS NULL THEN ? END "
                     "WHERE id = ? AND status = 'InProgress'",
                     "is", (int64_t)now, job);
}

int vv_job_set_recovery_point(struct vv_db *db, const char *job, const char *point)
{
    return vv_db_run(db,
                     "UPDATE jobs SET recovery_point = ? WHERE id = ? AND recovery_point IS NULL "
                     "AND status = 'InProgress'",
                     "ss", point, job);
}

int vv_job_set_params(struct vv_db *db, const char *job, const char *params_json)
{
    return vv_db_run(db, "UPDATE jobs SET params = ? WHERE id = ?", "ss", params_json, job);
}

/* Claimed agent jobs without news since now - timeout: AgentStoppedResponding. */
static int expire_silent(struct vv_db *db, time_t now, int64_t timeout)
{
    char msg[256];

    snprintf(msg, sizeof(msg),
             "the host's agent stopped reporting for %lld s while it ran this job; check that "
             "vmvault-agent still runs on the host and can reach the vault, then run the job again",
             (long long)timeout);
    return vv_db_run(db,
                     "UPDATE jobs SET " GIVE_UP_SET
                     "WHERE status IN ('InProgress','Cancelling') AND claimed IS NOT NULL "
                     "  AND COALESCE(heartbeat, claimed) < ? "
                     "  AND operation NOT IN ('Prune','GarbageCollection')",
                     "issi", (int64_t)now, "AgentStoppedResponding", msg,
                     (int64_t)(now - timeout));
}

/* Queued agent jobs older than the timeout whose host's agent has not been seen for
 * the timeout either: AgentUnreachable. */
static int expire_unreachable(struct vv_db *db, time_t now, int64_t timeout)
{
    return vv_db_run(
        db,
        "UPDATE jobs SET status = 'Failed', end_time = ?, error_code = 'AgentUnreachable', "
        "  error_message = 'the agent of host ' || COALESCE(container_name, '?') || "
        "  ' has not contacted the vault since ' || "
        "  COALESCE(strftime('%Y-%m-%dT%H:%M:%SZ', (SELECT last_seen FROM containers c "
        "    WHERE c.id = jobs.container_id), 'unixepoch'), 'it registered') || "
        "  '; check that vmvault-agent runs there and can reach the vault, then run the "
        "job again' "
        "WHERE status = 'InProgress' AND claimed IS NULL AND start_time < ? "
        "  AND operation NOT IN ('Prune','GarbageCollection') "
        "  AND NOT EXISTS (SELECT 1 FROM containers c WHERE c.id = jobs.container_id "
        "    AND c.last_seen >= ?)",
        "iii", (int64_t)now, (int64_t)(now - timeout), (int64_t)(now - timeout));
}

/* Backups just ended by vv_jobs_expire (end_time now) release what they held: all of
 * them, 64 at a time in the order of their ids. */
static void release_expired(struct vv_server *s, time_t now)
{
    struct {
        char job[VV_UUID_LEN], vault[VV_UUID_LEN];
        int64_t host;
    } ended[64];
    char after[VV_UUID_LEN] = "";
    size_t n;

    do {
        struct vv_stmt *st;
        n = 0;
        if (vv_db_prepare(s->db, &st,
                          "SELECT j.id, v.uuid, j.container_id FROM jobs j JOIN vaults v "
                          "ON v.id = j.vault_id WHERE j.end_time = ? AND j.operation = 'Backup' "
                          "AND j.container_id IS NOT NULL AND j.id > ? ORDER BY j.id LIMIT 64",
                          "is", (int64_t)now, after) != 0)
            return;
        while (n < 64 && vv_stmt_step(st) == 1) {
            snprintf(ended[n].job, VV_UUID_LEN, "%s", vv_stmt_text(st, 0));
            snprintf(ended[n].vault, VV_UUID_LEN, "%s", vv_stmt_text(st, 1));
            ended[n].host = vv_stmt_int(st, 2);
            n++;
        }
        vv_stmt_free(st);
        for (size_t i = 0; i < n; i++)
            vv_job_ended(s, ended[i].vault, ended[i].host, ended[i].job);
        if (n)
            snprintf(after, sizeof(after), "%s", ended[n - 1].job);
    } while (n == 64);
}

int vv_jobs_expire(struct vv_server *s, time_t now)
{
    int64_t timeout = s->agent_timeout;
    int a, b;

    if ((a = expire_silent(s->db, now, timeout)) < 0)
        return a;
    if ((b = expire_unreachable(s->db, now, timeout)) < 0)
        return b;
    if (a + b == 0)
        return 0;
    release_expired(s, now); /* first: the jobs have ended, whatever follows */
    if (vv_db_run(s->db,
                  "UPDATE protected_items SET last_backup_status = 'Failed', last_backup_time = ? "
                  "WHERE id IN (SELECT item_id FROM jobs WHERE operation = 'Backup' "
                  "  AND end_time = ? AND error_code IN ('AgentStoppedResponding','AgentUnreachable'))",
                  "ii", (int64_t)now, (int64_t)now) < 0)
        return VV_E_IO;
    vv_warn("jobs: %d job(s) failed: their host's agent did not answer for %lld s", a + b,
            (long long)timeout);
    return a + b;
}

int vv_jobs_fail_restarted(struct vv_db *db, time_t now)
{
    return vv_db_run(db,
                     "UPDATE jobs SET " GIVE_UP_SET
                     "WHERE status IN ('InProgress','Cancelling') AND claimed IS NOT NULL",
                     "iss", (int64_t)now, "VaultRestarted",
                     "the vault server restarted while this job ran; run the backup again");
}

/* Fail a running job whose store is full: Failed with code (its item's last backup
 * too), then release what it held. Catalog locked. */
static int fail_full(struct vv_server *s, const char *job, time_t now, const char *code,
                     const char *msg)
{
    char vault[VV_UUID_LEN] = "";
    int64_t host = 0;
    int r;

    if ((r = vv_db_begin(s->db)) != 0)
        return r;
    r = vv_db_run(s->db,
                  "UPDATE jobs SET " GIVE_UP_SET
                  "WHERE id = ? AND status IN ('InProgress','Cancelling')",
                  "isss", (int64_t)now, code, msg, job);
    if (r > 0)
        r = vv_db_run(s->db,
                      "UPDATE protected_items SET last_backup_status = 'Failed', "
                      "last_backup_time = ? WHERE id = (SELECT item_id FROM jobs WHERE id = ? "
                      "AND operation = 'Backup' AND status = 'Failed')",
                      "is", (int64_t)now, job);
    if (r < 0 || (r = vv_db_commit(s->db)) != 0) {
        vv_db_rollback(s->db);
        return r;
    }
    if (vv_db_text(s->db, vault, sizeof(vault),
                   "SELECT v.uuid FROM jobs j JOIN vaults v ON v.id = j.vault_id WHERE j.id = ?",
                   "s", job) == 1 &&
        vv_db_int(s->db, &host, "SELECT COALESCE(container_id, 0) FROM jobs WHERE id = ?", "s",
                  job) == 1)
        vv_job_ended(s, vault, host, job);
    return 0;
}

int vv_job_fail_storage(struct vv_server *s, const char *job, time_t now, const char *code,
                        const char *msg)
{
    int r = fail_full(s, job, now, code, msg);
    if (r == VV_E_NOSPC) /* the catalog's disk too: its reserve is free now */
        r = fail_full(s, job, now, code, msg);
    if (r < 0)
        vv_error("job %s: cannot record that it failed (%s): %s; it ends when its agent "
                 "reports or times out", job, code, vv_strerror(r));
    else
        vv_warn("job %s failed: %s: %s", job, code, msg);
    return r;
}

int vv_job_fail_storage_full(struct vv_server *s, const char *job, time_t now, const char *msg)
{
    return vv_job_fail_storage(s, job, now, "VaultStorageFull", msg);
}
