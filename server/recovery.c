/*
 * recovery.c: the crash recovery of vmvaultd's start (see recovery.h), and the vault
 * metadata object each store keeps for `vmvaultd catalog rebuild`.
 *
 * A commit cut short leaves a store point the catalog does not list (the catalog row
 * is written last); a vault create or delete cut short leaves a folder no vault
 * owns; the uploads of jobs that ran can no longer be committed. Nothing whole is
 * deleted here: a point with a manifest, or a vault folder, that the catalog does
 * not know is moved aside into DATA/quarantine/<UTC time>/ (a rename on the same
 * file system) and logged with the way back. Only two things are removed, both
 * provably unfinished writes of this server that nothing refers to: the objects of a
 * point that has no manifest (a commit writes its indexes first and its manifest
 * last, so a point without one was never whole), and each vault's staging/ folder
 * (disk indexes uploaded for jobs that can no longer commit; the server made them
 * and only the job that uploaded them reads them).
 *
 * Invariant: the catalog decides what the server serves; what it does not know is
 * kept, aside, never destroyed.
 */
#include "recovery.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "err.h"
#include "jobs.h"
#include "log.h"
#include "util.h"

/* This run's quarantine folder, DATA/quarantine/<UTC time>, made on first use. */
struct quarantine {
    struct vv_server *s;
    char dir[VV_PATH_MAX]; /* "" until made */
    int moved;
};

/* Move src (a file or folder) to the quarantine as rel (a relative path whose
 * folders are made). 0, or <0 vv_err with src untouched. Logs either way. */
static int quarantine_move(struct quarantine *q, const char *src, const char *rel,
                           const char *why)
{
    char dst[VV_PATH_MAX], parent[VV_PATH_MAX], *slash;
    int r;

    if (!q->dir[0]) {
        char stamp[32];
        time_t now = vv_server_now(q->s);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
        /* one folder per start, never one an earlier start made */
        for (int k = 1; k < 1000; k++) {
            if (vv_path_join(q->dir, sizeof(q->dir),
                             k == 1 ? "%s/quarantine/%s" : "%s/quarantine/%s-%d",
                             q->s->data_dir, stamp, k) != 0)
                return vv_fail(VV_E_TOOBIG, "the path of %s/quarantine is too long",
                               q->s->data_dir);
            if (access(q->dir, F_OK) != 0)
                break;
        }
    }
    if (vv_path_join(dst, sizeof(dst), "%s/%s", q->dir, rel) != 0)
        return vv_fail(VV_E_TOOBIG, "recovery: %s: the quarantine path is too long; %s was "
                       "left in place", rel, src);
    snprintf(parent, sizeof(parent), "%s", dst);
    if ((slash = strrchr(parent, '/')))
        *slash = '\0';
    if (vv_mkdir_p(parent, 0700) != 0 || rename(src, dst) != 0) {
        vv_error("recovery: cannot move %s aside to %s (%s): %s; it was left in place, "
                 "untouched. Free the data folder of whatever blocks it and restart",
                 src, dst, why, strerror(errno));
        return VV_E_IO;
    }
    r = vv_dir_sync(parent);
    snprintf(parent, sizeof(parent), "%s", src);
    if ((slash = strrchr(parent, '/')))
        *slash = '\0';
    if (r != 0 || vv_dir_sync(parent) != 0)
        vv_warn("recovery: the move of %s to %s may not survive a power loss (fsync failed)",
                src, dst);
    q->moved++;
    vv_warn("recovery: moved %s aside to %s: %s. Nothing was deleted. To bring it back: "
            "stop vmvaultd, move it back (mv %s %s), then run 'vmvaultd catalog rebuild "
            "--force' so that the catalog lists it (docs/disaster-recovery.md); do it before "
            "the next garbage collection (--prune-time), which frees chunks that only "
            "points the catalog does not list use",
            src, dst, why, dst, src);
    return 0;
}

struct recover_ctx {
    struct vv_server *s;
    struct quarantine *q;
    const char *uuid, *name;
    struct vv_repo *repo;
    int removed, err;
};

/* One point id of a store: listed in the catalog (kept); one the catalog stopped
 * listing or a commit never listed, or a commit cut short before its manifest
 * (removed); else whole but unknown (moved aside). */
static int recover_point(const char *id, void *arg)
{
    struct recover_ctx *rc = arg;
    char key[128], src[VV_PATH_MAX], rel[VV_PATH_MAX];
    int64_t n = 0;
    int r = vv_db_int(rc->s->db, &n,
                      "SELECT COUNT(*) FROM recovery_points WHERE name = ? AND vault_id = "
                      "(SELECT id FROM vaults WHERE uuid = ?)",
                      "ss", id, rc->uuid);

    if (r < 0) {
        rc->err = r;
        return r;
    }
    if (n != 0)
        return 0;
    if ((r = vv_db_int(rc->s->db, &n,
                       "SELECT COUNT(*) FROM unlisted_points WHERE vault_uuid = ? AND name = ?",
                       "ss", rc->uuid, id)) < 0) {
        rc->err = r;
        return r;
    }
    if (n != 0) {
        /* the catalog deleted its row, and the removal from the store was cut short
         * (catalog/schema.c, unlisted_points) */
        vv_warn("recovery: vault '%s': finishing the removal of point %s, which the catalog "
                "no longer lists (a prune, purge or delete cut short)",
                rc->name, id);
        if ((r = vv_repo_point_purge(rc->repo, id)) < 0)
            vv_error("recovery: cannot remove %s: %s", id, vv_strerror(r));
        else
            rc->removed++;
        return 0;
    }
    snprintf(key, sizeof(key), "points/%s/manifest", id);
    if ((r = vv_backend_has(rc->repo->be, key)) == 0) {
        /* indexes without a manifest: a commit of this server cut short, never a point */
        vv_warn("recovery: vault '%s': removing the unfinished commit %s (no manifest)", rc->name,
                id);
        if ((r = vv_repo_point_purge(rc->repo, id)) < 0)
            vv_error("recovery: cannot remove %s: %s", id, vv_strerror(r));
        else
            rc->removed++;
        return 0;
    }
    if (r < 0 || vv_path_join(src, sizeof(src), "%s/vaults/%s/store/points/%s",
                              rc->s->data_dir, rc->uuid, id) != 0)
        return 0;
    snprintf(rel, sizeof(rel), "%s/points/%s", rc->uuid, id);
    vv_best_effort(quarantine_move(rc->q, src, rel,
                                   "a recovery point the catalog does not list (a commit whose "
                                   "catalog row was never written, or a catalog restored from "
                                   "an older backup)"));
    return 0;
}

/* Staging folders of jobs that can no longer commit: uploads this server made for
 * them, which only those jobs read. */
static void recover_staging(struct vv_server *s, const char *uuid)
{
    char dir[VV_PATH_MAX];
    if (vv_server_vault_path(s, uuid, "staging", dir, sizeof(dir)) != 0)
        return;
    if (vv_rmtree(dir) != 0)
        vv_warn("recovery: cannot empty %s", dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        vv_warn("recovery: cannot create %s: %s", dir, strerror(errno));
}

/* Vault folders whose vault is not in the catalog: moved aside. 0 or <0 vv_err. */
static int recover_vault_folders(struct vv_server *s, struct quarantine *q)
{
    char dir[VV_PATH_MAX], sub[VV_PATH_MAX], rel[VV_PATH_MAX];
    DIR *d;
    struct dirent *e;
    int r;

    if (vv_path_join(dir, sizeof(dir), "%s/vaults", s->data_dir) != 0)
        return vv_fail(VV_E_TOOBIG, "recovery: the path of %s/vaults is too long", s->data_dir);
    if (!(d = opendir(dir)))
        return 0;
    while ((e = readdir(d))) {
        int64_t n = 0;
        if (e->d_name[0] == '.')
            continue;
        r = vv_db_int(s->db, &n, "SELECT COUNT(*) FROM vaults WHERE uuid = ?", "s", e->d_name);
        if (r < 0) {
            closedir(d);
            return r;
        }
        if (n != 0)
            continue;
        if (vv_path_join(sub, sizeof(sub), "%s/%s", dir, e->d_name) != 0 ||
            vv_path_join(rel, sizeof(rel), "vaults/%s", e->d_name) != 0) {
            vv_warn("recovery: %s/%s: the path is too long; it was left in place", dir,
                    e->d_name);
            continue;
        }
        vv_best_effort(quarantine_move(q, sub, rel,
                                       "no vault in the catalog owns it (a vault create or "
                                       "delete cut short, a folder copied in, or a catalog "
                                       "that does not match this data folder)"));
    }
    closedir(d);
    return 0;
}

/* Points in a store that the catalog does not list, and the staged uploads of every
 * vault; each vault's metadata object written when missing or out of date. 0 or <0
 * vv_err. */
static int recover_stores(struct vv_server *s, struct quarantine *q)
{
    struct vv_stmt *st;
    int r;

    r = vv_db_prepare(s->db, &st, "SELECT uuid, name FROM vaults", "");
    if (r)
        return r;
    while ((r = vv_stmt_step(st)) == 1) {
        char uuid[VV_UUID_LEN], name[80];
        struct recover_ctx rc = {s, q, uuid, name, NULL, 0, 0};
        snprintf(uuid, sizeof(uuid), "%s", vv_stmt_text(st, 0));
        snprintf(name, sizeof(name), "%s", vv_stmt_text(st, 1));
        if (vv_server_repo(s, uuid, &rc.repo) != 0) {
            vv_error("recovery: cannot open the store of vault '%s'", name);
            continue;
        }
        if (vv_repo_point_list_all(rc.repo, recover_point, &rc) != 0)
            vv_error("recovery: vault '%s': its store's points cannot be listed", name);
        if (rc.removed)
            vv_warn("recovery: vault '%s': removed %d unfinished commit(s)", name, rc.removed);
        recover_staging(s, uuid);
    }
    vv_stmt_free(st);
    return r < 0 ? r : 0;
}

int vv_recover(struct vv_server *s)
{
    struct quarantine q = {s, "", 0};
    int r;

    if ((r = recover_vault_folders(s, &q)) != 0 || (r = recover_stores(s, &q)) != 0)
        return r;
    /* every store was walked: what unlisted_points named is gone or just removed */
    if ((r = vv_db_run(s->db, "DELETE FROM unlisted_points", "")) < 0)
        return r;
    if (q.moved)
        vv_warn("recovery: %d item(s) the catalog does not know were moved aside to %s",
                q.moved, q.dir);
    /* Vaults made before stores kept their metadata get it now. */
    vv_best_effort(vv_vault_meta_refresh_all(s));
    /* Jobs whose uploads were just discarded cannot commit any more. */
    r = vv_jobs_fail_restarted(s->db, vv_server_now(s));
    if (r > 0)
        vv_warn("recovery: %d running job(s) failed: the server restarted under them", r);
    return r < 0 ? r : 0;
}

/* ---- the vault metadata object ----------------------------------------------------- */

#define META_SQL                                                                            \
    "SELECT json_object('format', 1, 'vaultId', v.uuid, 'name', v.name, "                    \
    "  'location', v.location, 'storageRedundancy', v.redundancy, "                           \
    "  'softDelete', json_object('state', v.soft_delete_state, "                              \
    "    'retentionDays', v.soft_delete_days), "                                              \
    "  'created', v.created, "                                                               \
    "  'items', (SELECT json_group_array(json(x.o)) FROM (SELECT json_object("               \
    "      'name', i.name, 'vmUuid', i.vm_uuid, 'host', c.name, 'region', c.region) AS o "    \
    "    FROM protected_items i JOIN containers c ON c.id = i.container_id "                  \
    "    WHERE i.vault_id = v.id ORDER BY i.vm_uuid) x)) "                                    \
    "FROM vaults v WHERE v.uuid = ?"

int vv_vault_meta_write(struct vv_server *s, const char *uuid)
{
    struct vv_repo *repo;
    struct vv_buf old = VV_BUF_INIT;
    char *text = malloc(VV_REPO_META_MAX);
    int r;

    if (!text)
        return VV_E_NOMEM;
    r = vv_db_text(s->db, text, VV_REPO_META_MAX, META_SQL, "s", uuid);
    if (r == 0)
        r = VV_E_NOTFOUND;
    if (r > 0 && (r = vv_server_repo(s, uuid, &repo)) == 0) {
        size_t n = strlen(text);
        int same = vv_repo_meta_get(repo, &old) == 0 && old.len == n &&
                   memcmp(old.data, text, n) == 0;
        if (!same && (r = vv_repo_meta_put(repo, text, n)) < 0)
            vv_error("vault %s: cannot write its metadata object (vault.json): %s; "
                     "'vmvaultd catalog rebuild' would lack its name and items until it is "
                     "written (every start and every minute retries)",
                     uuid, vv_strerror(r));
    }
    vv_buf_release(&old);
    free(text);
    return r < 0 ? r : 0;
}

int vv_vault_folder_sync(struct vv_server *s, const char *uuid)
{
    char dir[VV_PATH_MAX];

    if (vv_server_vault_path(s, uuid, NULL, dir, sizeof(dir)) != 0)
        return VV_E_TOOBIG;
    if (vv_dir_sync(dir) == 0 && vv_path_join(dir, sizeof(dir), "%s/vaults", s->data_dir) == 0 &&
        vv_dir_sync(dir) == 0)
        return 0;
    vv_error("cannot make the folder of vault %s durable (fsync of %s): %s", uuid, dir,
             strerror(errno));
    return VV_E_IO;
}

int vv_vault_meta_refresh_all(struct vv_server *s)
{
    struct vv_stmt *st;
    char (*uuids)[VV_UUID_LEN] = NULL;
    size_t n = 0, cap = 0;
    int r, bad = 0;

    if ((r = vv_db_prepare(s->db, &st, "SELECT uuid FROM vaults ORDER BY id", "")) != 0)
        return r;
    while ((r = vv_stmt_step(st)) == 1) {
        if (n == cap) {
            void *grown = realloc(uuids, (cap = cap ? 2 * cap : 16) * sizeof(*uuids));
            if (!grown) {
                r = VV_E_NOMEM;
                break;
            }
            uuids = grown;
        }
        snprintf(uuids[n++], VV_UUID_LEN, "%s", vv_stmt_text(st, 0));
    }
    vv_stmt_free(st);
    for (size_t i = 0; r == 0 && i < n; i++)
        if (vv_vault_meta_write(s, uuids[i]) != 0)
            bad++;
    free(uuids);
    return r < 0 ? r : bad ? VV_E_IO : 0;
}
