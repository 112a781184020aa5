/*
 * api/jobs.c: the REST face of a vault's jobs: creation on behalf of a caller, the
 * API's job object, list with filters, show, cancel. The job model itself (states,
 * every change to the jobs table) is server/jobs.c.
 *
 * Invariant: a job the caller can see is a job of the vault in the URL; ended jobs
 * are never changed from here (a cancel of one answers 409).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "err.h"
#include "jobs.h"
#include "log.h"
#include "scheduler.h"

#define T(col) "strftime('%Y-%m-%dT%H:%M:%SZ', " col ", 'unixepoch')"

/* Seconds the job has been moving data: from its transfer sub-task's start to its end
 * (or, while it runs, to the agent's last progress report). */
#define XFER_SECONDS                                                                          \
    "(COALESCE(j.end_time, j.heartbeat) - (SELECT CAST(strftime('%s', "                        \
    "  json_extract(t.value, '$.startTime')) AS INTEGER) FROM json_each(j.tasks) t "            \
    "  WHERE json_extract(t.value, '$.name') LIKE 'Transfer data%' LIMIT 1))"

#define JOB_SELECT                                                                            \
    "SELECT j.id, v.name AS vault, j.operation, j.status, j.item_name AS item, "                \
    "  j.container_name AS container, " T("j.start_time") " AS startTime, "                     \
    "  " T("j.end_time") " AS endTime, j.tasks AS \"tasks:json\", j.bytes_done AS bytesDone, "   \
    "  j.bytes_total AS bytesTotal, "                                                         \
    "  CASE WHEN j.status IN ('Completed','CompletedWithWarnings') THEN 100 "                   \
    "       WHEN j.bytes_total > 0 THEN MIN(99, j.bytes_done * 100 / j.bytes_total) "           \
    "       ELSE 0 END AS progressPercent, "                                                  \
    "  " T("j.retain_until") " AS retainUntil, j.recovery_point AS recoveryPoint, "             \
    "  CASE WHEN j.error_code IS NULL THEN NULL "                                             \
    "       ELSE json_object('code', j.error_code, 'message', j.error_message) END "            \
    "    AS \"error:json\", "                                                                 \
    "  j.created_by AS createdBy, j.stats AS \"stats:json\", "                                \
    "  CASE WHEN j.operation = 'Backup' THEN COALESCE(json_extract(j.params, '$.trigger'), "   \
    "    'OnDemand') END AS \"trigger\", "                                                      \
    "  json_extract(j.params, '$.scheduledFor') AS scheduledFor, "                            \
    "  json_extract(j.params, '$.missedRuns') AS missedRuns, "                                \
    "  json_extract(j.params, '$.note') AS note, "                                            \
    "  COALESCE(j.warnings, '[]') AS \"warnings:json\", j.snapshot AS \"snapshot:json\", "     \
    "  CASE WHEN j.status IN ('InProgress', 'Cancelling') THEN COALESCE("                    \
    "    (SELECT json_extract(t.value, '$.name') FROM json_each(j.tasks) t "                 \
    "     WHERE json_extract(t.value, '$.status') = 'InProgress' LIMIT 1), "                  \
    "    CASE WHEN j.claimed IS NULL THEN 'Queued' END) END AS phase, "                      \
    "  CASE WHEN " XFER_SECONDS " > 0 AND j.bytes_done > 0 "                                \
    "    THEN j.bytes_done / " XFER_SECONDS " END AS throughputBytesPerSecond, "              \
    "  CASE WHEN j.status = 'InProgress' AND " XFER_SECONDS " > 0 AND j.bytes_done > 0 "    \
    "    AND j.bytes_total > j.bytes_done "                                                  \
    "    THEN (j.bytes_total - j.bytes_done) * " XFER_SECONDS " / j.bytes_done "             \
    "    WHEN j.status = 'InProgress' AND j.bytes_total > 0 AND j.bytes_done >= j.bytes_total " \
    "    THEN 0 END AS remainingSeconds "                                                    \
    "FROM jobs j JOIN vaults v ON v.id = j.vault_id "

int vv_job_create(struct vv_call *c, int64_t vault_id, int64_t item_id, const char *operation,
                  const char *status, const char *tasks_json, time_t retain_until,
                  char id_out[VV_UUID_LEN])
{
    int r = vv_job_insert(c->srv->db, c->now, c->who.user, vault_id, item_id, operation, status,
                          tasks_json, retain_until, NULL, id_out);
    if (r == 0)
        vv_server_ring(c->srv);
    return r;
}

json_t *vv_job_json(struct vv_call *c, const char *job_id)
{
    int err;
    return vv_db_row(c->srv->db, &err, JOB_SELECT "WHERE j.id = ?", "s", job_id);
}

static int one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list))
            return 1;
    return 0;
}

void vv_api_job_list(struct vv_call *c)
{
    static const char *const statuses[] = {"InProgress", "Completed", "CompletedWithWarnings",
                                           "Failed", "Cancelling", "Cancelled", NULL};
    static const char *const operations[] = {"ConfigureBackup", "Backup", "Restore",
                                             "DisableBackup", "DeleteBackupData", "Undelete",
                                             "Prune", "GarbageCollection", "Replication",
                                             "Verify", NULL};
    const char *status = vv_http_query(c->req, "status");
    const char *op = vv_http_query(c->req, "operation");
    const char *item = vv_http_query(c->req, "item");
    const char *sd = vv_http_query(c->req, "startDate"), *ed = vv_http_query(c->req, "endDate");
    const char *lim = vv_http_query(c->req, "limit");
    time_t from = 0, to = (time_t)253402300799;
    int64_t vid, limit = 200;

    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0))
        return;
    if (status && !one_of(status, statuses)) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "status '%s' is not one of InProgress, Completed, CompletedWithWarnings, "
                       "Failed, Cancelling, Cancelled",
                       status);
        return;
    }
    if (op && !one_of(op, operations)) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "operation '%s' is not one of ConfigureBackup, Backup, Restore, "
                       "DisableBackup, DeleteBackupData, Undelete, Prune, GarbageCollection, "
                       "Replication, Verify",
                       op);
        return;
    }
    if ((sd && vv_date_parse_utc(sd, 0, &from) != 0) || (ed && vv_date_parse_utc(ed, 1, &to) != 0)) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "startDate and endDate are dates (YYYY-MM-DD) or UTC times");
        return;
    }
    if (lim) {
        char *end;
        limit = strtoll(lim, &end, 10);
        if (*end || end == lim || limit < 1 || limit > 1000) {
            vv_reply_error(c, 400, "InvalidParameter", "limit must be an integer from 1 to 1000");
            return;
        }
    }
    vv_reply_list(c, vv_db_rows(c->srv->db,
                                JOB_SELECT "WHERE j.vault_id = ? AND (? IS NULL OR j.status = ?) "
                                           "AND (? IS NULL OR j.operation = ?) "
                                           "AND (? IS NULL OR j.item_name = ?) "
                                           "AND j.start_time >= ? AND j.start_time <= ? "
                                           "ORDER BY j.start_time DESC, j.rowid DESC LIMIT ?",
                                "issssssiii", vid, status, status, op, op, item, item,
                                (int64_t)from, (int64_t)to, limit));
}

static json_t *find_job(struct vv_call *c, int64_t vid)
{
    int err;
    json_t *j = vv_db_row(c->srv->db, &err, JOB_SELECT "WHERE j.vault_id = ? AND j.id = ?", "is",
                          vid, c->param[1]);
    if (!j) {
        if (err == VV_E_NOTFOUND)
            vv_reply_error(c, 404, "JobNotFound", "vault '%s' has no job '%s'", c->param[0],
                           c->param[1]);
        else
            vv_reply_internal(c, err);
    }
    return j;
}

void vv_api_job_show(struct vv_call *c)
{
    int64_t vid;
    json_t *j;
    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0) || !(j = find_job(c, vid)))
        return;
    vv_reply(c, 200, j);
}

void vv_api_job_cancel(struct vv_call *c)
{
    int64_t vid;
    json_t *j;
    const char *status;
    int r;

    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0) || !(j = find_job(c, vid)))
        return;
    if (vv_body_only(c, c->body, NULL, (const char *const[]){NULL})) {
        json_decref(j);
        return;
    }
    status = json_string_value(json_object_get(j, "status"));
    if (status && !strcmp(status, "Cancelling")) {
        vv_reply(c, 202, j);
        return;
    }
    if (!status || strcmp(status, "InProgress") != 0) {
        vv_reply_error(c, 409, "JobNotCancellable", "job %s has already ended (%s)", c->param[1],
                       status ? status : "?");
        json_decref(j);
        return;
    }
    json_decref(j);
    vv_server_worker_cancel(c->srv, c->param[1]);
    r = vv_job_cancel_request(c->srv->db, c->param[1], c->now);
    if (r < 0) {
        vv_reply_internal(c, r);
        return;
    }
    vv_audit(c, "CancelJob", c->param[1], c->param[0]);
    vv_info("job %s: cancel requested by %s", c->param[1], c->who.user);
    vv_reply(c, 202, vv_job_json(c, c->param[1]));
}
