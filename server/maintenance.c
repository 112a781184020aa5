/*
 * maintenance.c: the server's background work, on one thread, every second: the
 * scheduler's tick (scheduler.c), and the sweep of jobs whose agent vanished
 * (vv_jobs_expire in jobs.c), failed after the agent timeout with a code and a
 * message that say what to check. (The server's own jobs, which have no host, are
 * the worker's: worker.c.) Every minute, each vault's metadata object is brought up
 * to date with the catalog (recovery.h), and the scheduled catalog backup runs when
 * it is due (catbackup.h).
 *
 * Invariant: the sweep and the metadata refresh run with the catalog locked, the
 * tick and the catalog backup take the lock themselves.
 */
#include "server.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "catbackup.h"
#include "err.h"
#include "jobs.h"
#include "log.h"
#include "recovery.h"
#include "scheduler.h"

static void *maintenance_main(void *arg)
{
    struct vv_server *s = arg;
    int tick = 0, seconds = 0;
    time_t now;

    while (!atomic_load(&s->stopping)) {
        usleep(200 * 1000);
        if (++tick < 5) /* every second */
            continue;
        tick = 0;
        now = vv_server_now(s);
        vv_db_lock(s->db);
        vv_best_effort(vv_jobs_expire(s, now));
        vv_db_unlock(s->db);
        vv_best_effort(vv_sched_tick(s, now));
        if (++seconds >= 60) {
            seconds = 0;
            vv_db_lock(s->db);
            vv_best_effort(vv_vault_meta_refresh_all(s));
            vv_db_unlock(s->db);
        }
        vv_catbackup_tick(s, now);
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
