/*
 * maintenance.c: the server's background work, on one thread: jobs whose agent
 * vanished are failed after the agent timeout, with a code and a message that say
 * what to check.
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
#include "log.h"

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
                  "  AND COALESCE(heartbeat, claimed) < ?",
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

static void *maintenance_main(void *arg)
{
    struct vv_server *s = arg;
    int tick = 0;

    while (!atomic_load(&s->stopping)) {
        usleep(200 * 1000);
        if (++tick < 5) /* every second */
            continue;
        tick = 0;
        vv_db_lock(s->db);
        vv_jobs_expire(s->db, time(NULL), s->agent_timeout);
        vv_db_unlock(s->db);
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
