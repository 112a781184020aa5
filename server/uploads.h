/*
 * uploads.h: what a running backup holds in the vault: its pins in the vault's
 * chunk guard (store/gc.h), so that a collection never removes a chunk the backup
 * reported present or uploaded, and its disk indexes staged under
 * vaults/<uuid>/staging/<job>/ until its recovery point commits.
 *
 * Guard sessions are keyed by host and job: "c<host id>:<job>" for the uploads of a
 * job, "c<host id>" for uploads that name no job. Invariant: once a backup has
 * ended, it holds nothing: its own session is released, the host's session too when
 * the host runs no other backup, and its staging folder is gone.
 */
#ifndef VV_UPLOADS_H
#define VV_UPLOADS_H

#include <stdint.h>

#include "server.h"

#define VV_GUARD_KEY_MAX 64
/* The guard session of a host's uploads for job (NULL: uploads that name no job),
 * written into key. */
void vv_guard_key(int64_t container_id, const char *job, char key[VV_GUARD_KEY_MAX]);
/* A backup job of the host ended: drop its pins (and the host's own when it runs no
 * other backup). Catalog locked. */
void vv_guard_job_ended(struct vv_server *s, const char *vault_uuid, int64_t container_id,
                        const char *job);
/* Remove the indexes staged for a job (a warning is logged when they cannot be). */
void vv_staging_remove(struct vv_server *s, const char *vault_uuid, const char *job);

#endif
