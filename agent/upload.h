/*
 * upload.h: the agent's chunk sink (see upload.c): batched "which do you lack"
 * questions to the vault, then compressed uploads of only those chunks.
 */
#ifndef VV_UPLOAD_H
#define VV_UPLOAD_H

#include "err.h"

#include <pthread.h>

#include "agent.h"
#include "engine/sink.h"

struct vv_upload;

/* A sink for backups run with at most nworkers workers. Owner: the caller,
 * vv_upload_free(). a is borrowed for the sink's life. */
int vv_upload_new(struct vv_agent *a, int nworkers, struct vv_upload **out) VV_MUST_CHECK;
/* The sink to give vv_disk_backup_to; borrowed from u. */
struct vv_chunk_sink *vv_upload_sink(struct vv_upload *u);
/* Stop uploading between chunks once *cancel is non-zero (VV_E_CANCELLED). */
void vv_upload_set_cancel(struct vv_upload *u, atomic_int *cancel);
/* The job the chunks are for: the vault keeps every chunk it reports present or
 * receives for this job from garbage collection until the job ends. */
void vv_upload_set_job(struct vv_upload *u, const char *job_id);
/* The first upload failure as "CODE: message", "" when none. Borrowed from u. */
const char *vv_upload_error(struct vv_upload *u);
void vv_upload_free(struct vv_upload *u);

#endif
