/*
 * uploads.c: the chunk-guard pins and staged indexes of running backups (see
 * uploads.h). The HTTP handlers of uploads (api/transfer.c) take pins and stage
 * indexes; the end of a job (jobs.c) gives them back.
 *
 * Invariant: a host's own session ("c<host>") is released only when the catalog
 * lists no claimed, running Backup job of the host.
 */
#include "uploads.h"

#include <stdio.h>

#include "log.h"
#include "store/gc.h"
#include "util.h"

void vv_guard_key(int64_t container_id, const char *job, char key[VV_GUARD_KEY_MAX])
{
    snprintf(key, VV_GUARD_KEY_MAX, "c%lld%s%s", (long long)container_id, job ? ":" : "",
             job ? job : "");
}

void vv_guard_job_ended(struct vv_server *s, const char *vault_uuid, int64_t container_id,
                        const char *job)
{
    struct vv_repo *repo;
    struct vv_chunk_guard *guard;
    char key[VV_GUARD_KEY_MAX];
    int64_t busy = 1;

    if (vv_server_repo_guard(s, vault_uuid, &repo, &guard) != 0)
        return;
    vv_guard_key(container_id, job, key);
    vv_guard_release(guard, key);
    if (vv_db_int(s->db, &busy,
                  "SELECT COUNT(*) FROM jobs WHERE container_id = ? AND operation = 'Backup' "
                  "AND status IN ('InProgress','Cancelling') AND claimed IS NOT NULL",
                  "i", container_id) >= 0 &&
        busy == 0) {
        vv_guard_key(container_id, NULL, key);
        vv_guard_release(guard, key);
    }
}

void vv_staging_remove(struct vv_server *s, const char *vault_uuid, const char *job)
{
    char dir[VV_PATH_MAX], sub[VV_PATH_MAX];

    if (vv_server_vault_path(s, vault_uuid, "staging", dir, sizeof(dir)) != 0 ||
        vv_path_join(sub, sizeof(sub), "%s/%s", dir, job) != 0 || vv_rmtree(sub) != 0)
        vv_warn("staged indexes of job %s could not be removed from %s/%s", job, dir, job);
}
