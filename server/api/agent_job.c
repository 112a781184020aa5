/*
 * api/agent_job.c: the agent job session shared by an agent's calls about one job
 * (api/agent.c: progress and completion; api/transfer.c: index uploads, the
 * recovery point commit, and the job a chunk pin or read names with ?job=): the job
 * must be a job of the calling agent's host, claimed and not ended. Its uploads are
 * pinned under the guard session "c<host>:<job>" (vv_guard_key in uploads.h).
 *
 * Invariant: an agent never learns of another host's jobs: those are 404, exactly
 * like jobs that do not exist.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"

int vv_agent_job(struct vv_call *c, char op[32], char status[32], int64_t *item_id)
{
    return vv_agent_job_id(c, c->param[0], op, status, item_id);
}

int vv_agent_job_id(struct vv_call *c, const char *job, char op[32], char status[32],
                    int64_t *item_id)
{
    struct vv_stmt *st;
    int r;

    r = vv_db_prepare(c->srv->db, &st,
                      "SELECT operation, status, claimed IS NOT NULL, COALESCE(item_id, 0) "
                      "FROM jobs WHERE id = ? AND container_id = ?",
                      "si", job, c->who.container_id);
    if (r) {
        vv_reply_internal(c, r);
        return -1;
    }
    r = vv_stmt_step(st);
    if (r == 1) {
        int claimed = (int)vv_stmt_int(st, 2);
        snprintf(op, 32, "%s", vv_stmt_text(st, 0));
        snprintf(status, 32, "%s", vv_stmt_text(st, 1));
        *item_id = vv_stmt_int(st, 3);
        vv_stmt_free(st);
        if (!claimed) {
            vv_reply_error(c, 409, "JobNotClaimable",
                           "job %s has not been claimed; claim it with GET /api/v1/agent/jobs/next",
                           job);
            return -1;
        }
        if (strcmp(status, "InProgress") && strcmp(status, "Cancelling")) {
            vv_reply_error(c, 409, "JobAlreadyEnded", "job %s has already ended (%s)", job, status);
            return -1;
        }
        return 0;
    }
    vv_stmt_free(st);
    if (r < 0)
        vv_reply_internal(c, r);
    else
        vv_reply_error(c, 404, "JobNotFound", "host '%s' has no job '%s'", c->who.container,
                       job);
    return -1;
}
