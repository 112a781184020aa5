/*
 * catbackup.h: backups of the catalog, online: `vmvaultd backup-catalog --to FILE`
 * (from a separate process, against the live catalog) and the schedule the server
 * runs itself (--catalog-backup-dir, --catalog-backup-every, --catalog-backup-keep).
 *
 * A backup is a complete SQLite database, consistent as of one moment (db.h
 * vv_db_backup); restoring it is copying it to DATA/catalog.db with the server
 * stopped (docs/disaster-recovery.md).
 *
 * Invariant: a scheduled backup is named catalog-<UTC time>.db in its folder; only
 * files of that pattern, made by this schedule, are ever removed, the oldest first,
 * and only while more than `keep` of them are there.
 */
#ifndef VV_CATBACKUP_H
#define VV_CATBACKUP_H

#include "err.h"

#include <stdint.h>
#include <time.h>

#include "server.h"

/* The schedule of this process (one server per process): every `every` seconds
 * (>= 60) into dir (copied), keeping the newest keep (>= 1). The first backup runs
 * at the first tick after start. Not calling it: no scheduled backups. */
void vv_catbackup_configure(const char *dir, int64_t every, int keep);
/* From the maintenance thread, every second: the scheduled backup when it is due.
 * Failures are logged (and retried at the next period). */
void vv_catbackup_tick(struct vv_server *s, time_t now);
/* `vmvaultd backup-catalog --to FILE`: copy DATA/catalog.db (s->data_dir) to FILE.
 * Prints what it did. Exit status: 0, or 1 after saying why. */
int vv_catbackup_command(struct vv_server *s, const char *to);

#endif
