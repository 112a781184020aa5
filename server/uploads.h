/*
 * uploads.h: what a running backup holds in the vault: its pins in the vault's
 * chunk guard (store/gc.h), so that a collection never removes a chunk the backup
 * reported present or uploaded, and its disk indexes staged under
 * vaults/<uuid>/staging/<job>/ until its recovery point commits.
 *
 * Guard sessions are keyed by host and job: "c<host id>:<job>" for the uploads of a
 * running Backup job of the host (api/transfer.c checks the job before it pins),
 * "c<host id>:-<n>" for one request that names no job (released when the request
 * ends, so it pins nothing for later). A job pins at most vv_pin_limit() chunk ids
 * through its "missing" questions and uploads (counted per request id, repeats
 * included). Invariant: once a backup has ended, it holds nothing: its own session
 * and its count are released, the host's session too when the host runs no other
 * backup, and its staging folder is gone.
 */
#ifndef VV_UPLOADS_H
#define VV_UPLOADS_H

#include <stdint.h>

#include "server.h"

#define VV_GUARD_KEY_MAX 64
/* The guard session of a host's uploads for job (a job id, or a request's own
 * session name), written into key. */
void vv_guard_key(int64_t container_id, const char *job, char key[VV_GUARD_KEY_MAX]);
/* A backup job of the host ended: drop its pins. Catalog locked. */
void vv_guard_job_ended(struct vv_server *s, const char *vault_uuid, int64_t container_id,
                        const char *job);
/* The most chunk ids one job may pin through "missing" questions and uploads:
 * vmvaultd's --job-pin-limit (1 to 10^12), else VV_PIN_LIMIT_DEFAULT (two passes
 * over a 10 TiB disk of 256 KiB chunks). Set once at start, before serving. */
#define VV_PIN_LIMIT_DEFAULT 100000000ull
#define VV_PIN_LIMIT_MAX 1000000000000ull
uint64_t vv_pin_limit(void);
void vv_pin_limit_set(uint64_t limit);
/* Count n more pins for session key: 0, or VV_E_TOOBIG when that would pass the
 * limit (nothing counted; *have then tells how many the session holds). Thread-safe. */
int vv_pins_take(const char *key, uint64_t n, uint64_t *have) VV_MUST_CHECK;
/* Forget the count of session key (its pins were released). Thread-safe. */
void vv_pins_forget(const char *key);

/* What a running restore may read: the chunks its recovery point names, kept as the
 * sorted first 8 bytes of each id (8 bytes per chunk) for the last few restore jobs
 * that read. Chunk ids are SHA-256 digests, so a chunk outside the point matches
 * one inside only by a 64-bit collision nobody can aim at without the point's ids. */
#define VV_READ_SETS 4
/* The ids a recovery point names (sorted or not; the callee owns *ids: malloc, the
 * caller frees): 0 or <0 vv_err. */
typedef int (*vv_point_ids_fn)(void *arg, uint8_t (**ids)[32], size_t *n);
/* Is each of the n ids among the chunks that point names, the point restore job job
 * reads? Builds the job's set with load(arg) on first use (under a lock: other
 * restores' first reads wait meanwhile). 1 when all are, 0 with *which the first that
 * is not, or <0 vv_err from load. Thread-safe. */
int vv_read_set_has(const char *job, const char *point, vv_point_ids_fn load, void *arg,
                    const uint8_t (*ids)[32], size_t n, size_t *which) VV_MUST_CHECK;
/* Forget job's read set (it ended). Thread-safe; no-op for a job without one. */
void vv_read_set_forget(const char *job);

/* Remove the indexes staged for a job (a warning is logged when they cannot be). */
void vv_staging_remove(struct vv_server *s, const char *vault_uuid, const char *job);

#endif
