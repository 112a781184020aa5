/*
 * worker.c: the server's own jobs, run one at a time on one thread, oldest first:
 *   Prune              expired points and soft-deleted items whose time is up (prune.c)
 *   GarbageCollection  chunks no recovery point references (store/gc.h)
 *   Verify             every chunk of every point re-read and re-hashed (verify.c)
 *
 * They are jobs like the agents' ones (jobs.h): queued (claimed NULL), claimed by the
 * worker, ended with stats or an error; a cancel stops a collection between chunks. A
 * restart fails a claimed one (VaultRestarted) like any other; queued ones wait.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "jobs.h"
#include "json.h"
#include "log.h"
#include "scheduler.h"
#include "store/gc.h"

int vv_server_job_queue(struct vv_server *s, int64_t vault_id, const char *operation,
                        const char *who, time_t now, char id_out[VV_UUID_LEN])
{
    char have[VV_UUID_LEN] = "", job[VV_UUID_LEN];
    int r = vv_db_text(s->db, have, sizeof(have),
                       "SELECT id FROM jobs WHERE vault_id = ? AND operation = ? "
                       "AND status IN ('InProgress','Cancelling') AND item_id IS NULL LIMIT 1",
                       "is", vault_id, operation);
    if (r < 0)
        return r;
    if (r == 1) {
        if (id_out)
            snprintf(id_out, VV_UUID_LEN, "%s", have);
        return 0;
    }
    r = vv_job_insert(s->db, now, who, vault_id, 0, operation, "InProgress", "[]", 0, NULL, job);
    if (r < 0)
        return r;
    if (id_out)
        snprintf(id_out, VV_UUID_LEN, "%s", job);
    return 1;
}

void vv_server_worker_wake(struct vv_server *s)
{
    pthread_mutex_lock(&s->worker.mu);
    pthread_cond_signal(&s->worker.wake);
    pthread_mutex_unlock(&s->worker.mu);
}

int vv_server_worker_cancel(struct vv_server *s, const char *id)
{
    int hit;
    pthread_mutex_lock(&s->worker.mu);
    hit = !strcmp(s->worker.running, id);
    if (hit)
        atomic_store(&s->worker.cancel, 1);
    pthread_mutex_unlock(&s->worker.mu);
    return hit;
}

/* The catalog's live points of a vault, for the collection. */
struct live_arg {
    struct vv_server *s;
    int64_t vault_id;
};

static int live_points(void *arg, char ***ids, size_t *n)
{
    struct live_arg *a = arg;
    struct vv_stmt *st;
    char **v = NULL;
    size_t k = 0;
    int r;

    vv_db_lock(a->s->db);
    r = vv_db_prepare(a->s->db, &st, "SELECT name FROM recovery_points WHERE vault_id = ?", "i",
                      a->vault_id);
    if (r == 0) {
        while ((r = vv_stmt_step(st)) == 1) {
            char **grown = realloc(v, (k + 1) * sizeof(*v));
            if (!grown || !(grown[k] = strdup(vv_stmt_text(st, 0)))) {
                if (grown)
                    v = grown;
                r = VV_E_NOMEM;
                break;
            }
            v = grown;
            k++;
        }
        vv_stmt_free(st);
    }
    vv_db_unlock(a->s->db);
    if (r < 0) {
        for (size_t i = 0; i < k; i++)
            free(v[i]);
        free(v);
        return r;
    }
    *ids = v;
    *n = k;
    return 0;
}

void vv_worker_finish(struct vv_server *s, const char *job, const char *status, const char *code,
                      const char *msg, json_t *stats)
{
    char *text = stats ? vv_json_dump(stats) : NULL;
    struct vv_job_end e = {.status = status, .code = code, .message = msg, .stats = text};

    vv_db_lock(s->db);
    if (vv_job_end(s->db, job, vv_server_now(s), &e) < 0)
        vv_error("worker: the end of job %s could not be recorded; the next start fails it",
                 job);
    vv_db_unlock(s->db);
    free(text);
}

static void run_prune(struct vv_server *s, const char *job, int64_t vault_id)
{
    struct vv_prune_stats st;
    int r = vv_prune_vault(s, vault_id, vv_server_now(s), &st);
    json_t *j;

    if (r) {
        char msg[200];
        snprintf(msg, sizeof(msg), "the prune stopped: %s; it runs again tomorrow, or now with "
                 "'vmvault vault prune'", vv_strerror(r));
        vv_worker_finish(s, job, "Failed", "PruneFailed", msg, NULL);
        return;
    }
    j = json_pack("{s:I,s:I,s:I,s:I,s:I}", "pointsPruned", (json_int_t)st.points_pruned,
                  "pointsKept", (json_int_t)st.points_kept, "pointsSoftDeleted",
                  (json_int_t)st.points_soft_deleted, "itemsPurged",
                  (json_int_t)st.items_purged, "pointsPurged", (json_int_t)st.points_purged);
    vv_worker_finish(s, job, "Completed", NULL, NULL, j);
    json_decref(j);
}

static void run_gc(struct vv_server *s, const char *job, int64_t vault_id, const char *uuid)
{
    struct vv_gc_stats st;
    struct live_arg arg = {s, vault_id};
    struct vv_repo *repo;
    struct vv_chunk_guard *guard;
    json_t *j;
    int r;

    memset(&st, 0, sizeof(st));
    r = vv_server_repo_guard(s, uuid, &repo, &guard);
    if (r == 0)
        r = vv_gc_run(guard, repo, live_points, &arg, &s->worker.cancel, &st);
    j = json_pack("{s:I,s:I,s:I,s:I,s:I,s:f}", "recoveryPoints", (json_int_t)st.points,
                  "chunksTotal", (json_int_t)st.chunks_total, "chunksLive",
                  (json_int_t)st.chunks_live, "chunksRemoved", (json_int_t)st.chunks_removed,
                  "bytesFreed", (json_int_t)st.bytes_removed, "seconds", st.seconds);
    if (r == VV_E_CANCELLED) {
        vv_worker_finish(s, job, "Cancelled", NULL, NULL, j);
    } else if (r) {
        char msg[300];
        snprintf(msg, sizeof(msg),
                 "the collection stopped before removing anything it could not prove unused: "
                 "%s; see the vault's log",
                 vv_strerror(r));
        vv_worker_finish(s, job, "Failed", "GarbageCollectionFailed", msg, j);
    } else {
        vv_worker_finish(s, job, "Completed", NULL, NULL, j);
        vv_info("collection: %llu of %llu chunk(s) removed, %llu bytes freed",
                (unsigned long long)st.chunks_removed, (unsigned long long)st.chunks_total,
                (unsigned long long)st.bytes_removed);
    }
    json_decref(j);
}

/* Claim the oldest queued server job: 1 with its fields, 0 when none. */
static int claim(struct vv_server *s, char job[VV_UUID_LEN], char op[32], int64_t *vault_id,
                 char uuid[VV_UUID_LEN])
{
    struct vv_stmt *st;
    int r;

    vv_db_lock(s->db);
    r = vv_db_prepare(s->db, &st,
                      "SELECT j.id, j.operation, j.vault_id, v.uuid FROM jobs j "
                      "JOIN vaults v ON v.id = j.vault_id "
                      "WHERE j.operation IN ('Prune','GarbageCollection','Verify') "
                      "  AND j.status = 'InProgress' "
                      "  AND j.claimed IS NULL ORDER BY j.start_time, j.rowid LIMIT 1",
                      "");
    if (r == 0) {
        r = vv_stmt_step(st);
        if (r == 1) {
            snprintf(job, VV_UUID_LEN, "%s", vv_stmt_text(st, 0));
            snprintf(op, 32, "%s", vv_stmt_text(st, 1));
            *vault_id = vv_stmt_int(st, 2);
            snprintf(uuid, VV_UUID_LEN, "%s", vv_stmt_text(st, 3));
        }
        vv_stmt_free(st);
    }
    if (r == 1) {
        time_t now = vv_server_now(s);
        if (vv_job_claim(s->db, job, now) != 1)
            r = VV_E_IO;
        else {
            pthread_mutex_lock(&s->worker.mu);
            snprintf(s->worker.running, sizeof(s->worker.running), "%s", job);
            atomic_store(&s->worker.cancel, 0);
            pthread_mutex_unlock(&s->worker.mu);
        }
    }
    vv_db_unlock(s->db);
    return r;
}

static void *worker_main(void *arg)
{
    struct vv_server *s = arg;

    while (!atomic_load(&s->stopping)) {
        char job[VV_UUID_LEN] = "", op[32] = "", uuid[VV_UUID_LEN] = "";
        int64_t vault_id = 0;
        int r = claim(s, job, op, &vault_id, uuid);

        if (r != 1) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_mutex_lock(&s->worker.mu);
            if (!atomic_load(&s->stopping))
                pthread_cond_timedwait(&s->worker.wake, &s->worker.mu, &until);
            pthread_mutex_unlock(&s->worker.mu);
            continue;
        }
        vv_info("worker: %s of vault %s started: job %s", op, uuid, job);
        if (!strcmp(op, "Prune"))
            run_prune(s, job, vault_id);
        else if (!strcmp(op, "Verify"))
            vv_verify_run(s, job, vault_id, uuid);
        else
            run_gc(s, job, vault_id, uuid);
        pthread_mutex_lock(&s->worker.mu);
        s->worker.running[0] = '\0';
        pthread_mutex_unlock(&s->worker.mu);
    }
    return NULL;
}

int vv_server_worker_start(struct vv_server *s, pthread_t *out)
{
    if (pthread_create(out, NULL, worker_main, s) != 0) {
        vv_error("cannot start the worker thread");
        return VV_E_IO;
    }
    return 0;
}
