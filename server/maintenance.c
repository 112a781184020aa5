/*
 * maintenance.c: the server's background work, on one thread, every second: the
 * scheduler's tick (scheduler.c), and jobs whose agent vanished are failed after the
 * agent timeout, with a code and a message that say what to check. (The server's own
 * jobs, which have no host, are the worker's: worker.c.)
 *
 *  - A claimed job whose agent has not reported for the timeout:
 *    AgentStoppedResponding.
 *  - A queued job waiting longer than the timeout for a host whose agent has not
 *    been seen for the timeout either: AgentUnreachable.
 */
#include "server.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "api/api.h"
#include "log.h"
#include "scheduler.h"

int vv_jobs_expire(struct vv_db *db, time_t now, int64_t timeout)
{
    int a, b;
    char msg[256];

    snprintf(msg, sizeof(msg),
             "the host's agent stopped reporting for %lld s while it ran this job; check that "
             "vmvault-agent still runs on the host and can reach the vault, then run the job again",
             (long long)timeout);
    a = vv_db_run(db,
                  "UPDATE jobs SET status = CASE WHEN status = 'Cancelling' THEN 'Cancelled' "
                  "  ELSE 'Failed' END, end_time = ?, "
                  "  error_code = CASE WHEN status = 'Cancelling' THEN NULL "
                  "    ELSE 'AgentStoppedResponding' END, "
                  "  error_message = CASE WHEN status = 'Cancelling' THEN NULL ELSE ? END "
                  "WHERE status IN ('InProgress','Cancelling') AND claimed IS NOT NULL "
                  "  AND COALESCE(heartbeat, claimed) < ? "
                  "  AND operation NOT IN ('Prune','GarbageCollection')",
                  "isi", (int64_t)now, msg, (int64_t)(now - timeout));
    if (a < 0)
        return a;
    b = vv_db_run(db,
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
    if (b < 0)
        return b;
    if (a + b > 0 &&
        vv_db_run(db,
                  "UPDATE protected_items SET last_backup_status = 'Failed', last_backup_time = ? "
                  "WHERE id IN (SELECT item_id FROM jobs WHERE operation = 'Backup' "
                  "  AND end_time = ? AND error_code IN ('AgentStoppedResponding','AgentUnreachable'))",
                  "ii", (int64_t)now, (int64_t)now) < 0)
        return VV_E_IO;
    if (a + b > 0)
        vv_warn("jobs: %d job(s) failed: their host's agent did not answer for %lld s", a + b,
                (long long)timeout);
    return a + b;
}

/* Backups just failed by vv_jobs_expire keep no pins in their vault's chunk guard. */
static void release_expired(struct vv_server *s, time_t now)
{
    struct {
        char job[VV_UUID_LEN], vault[VV_UUID_LEN];
        int64_t host;
    } ended[64];
    struct vv_stmt *st;
    size_t n = 0;

    if (vv_db_prepare(s->db, &st,
                      "SELECT j.id, v.uuid, j.container_id FROM jobs j JOIN vaults v "
                      "ON v.id = j.vault_id WHERE j.end_time = ? AND j.operation = 'Backup' "
                      "AND j.container_id IS NOT NULL LIMIT 64",
                      "i", (int64_t)now) != 0)
        return;
    while (n < 64 && vv_stmt_step(st) == 1) {
        snprintf(ended[n].job, VV_UUID_LEN, "%s", vv_stmt_text(st, 0));
        snprintf(ended[n].vault, VV_UUID_LEN, "%s", vv_stmt_text(st, 1));
        ended[n].host = vv_stmt_int(st, 2);
        n++;
    }
    vv_stmt_free(st);
    for (size_t i = 0; i < n; i++)
        vv_guard_job_ended(s, ended[i].vault, ended[i].host, ended[i].job);
}

static void *maintenance_main(void *arg)
{
    struct vv_server *s = arg;
    int tick = 0;
    time_t now;

    while (!atomic_load(&s->stopping)) {
        usleep(200 * 1000);
        if (++tick < 5) /* every second */
            continue;
        tick = 0;
        now = vv_server_now(s);
        vv_db_lock(s->db);
        if (vv_jobs_expire(s->db, now, s->agent_timeout) > 0)
            release_expired(s, now);
        vv_db_unlock(s->db);
        vv_sched_tick(s, now);
    }
    return NULL;
}

int vv_maintenance_start(struct vv_server *s, pthread_t *out)
{
    if (pthread_create(out, NULL, maintenance_main, s) != 0) {
        vv_error("cannot start the maintenance thread");
        return VV_E_IO;
    }
    return 0;
}
