/*
 * recovery.c: the crash recovery of vmvaultd's start (see recovery.h). A commit cut
 * short leaves a store point the catalog does not list (the catalog row is written
 * last), a vault create or delete cut short leaves a folder no vault owns, and the
 * uploads of jobs that ran can no longer be committed: all of them go, and those
 * jobs fail.
 *
 * Invariant: only what the catalog does not reference is removed; the catalog is
 * the truth.
 */
#include "recovery.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog/catalog.h"
#include "err.h"
#include "jobs.h"
#include "log.h"
#include "util.h"

struct recover_ctx {
    struct vv_server *s;
    int64_t vault_id;
    struct vv_repo *repo;
    int removed;
    int err;
};

static int recover_point(const char *id, void *arg)
{
    struct recover_ctx *rc = arg;
    int64_t n = 0;
    int r = vv_db_int(rc->s->db, &n, "SELECT COUNT(*) FROM recovery_points WHERE name = ?", "s", id);
    if (r < 0) {
        rc->err = r;
        return r;
    }
    if (n == 0) {
        vv_warn("recovery: removing recovery point %s: it was never committed to the catalog", id);
        r = vv_repo_point_purge(rc->repo, id);
        if (r < 0)
            vv_error("recovery: cannot remove %s: %s", id, vv_strerror(r));
        else
            rc->removed++;
    }
    return 0;
}

/* Staging folders of jobs that can no longer commit. */
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

/* Vault folders whose vault is not in the catalog: a create or delete cut short.
 * 0 or <0 vv_err. */
static int recover_vault_folders(struct vv_server *s)
{
    char dir[VV_PATH_MAX], sub[VV_PATH_MAX];
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
        if (vv_path_join(sub, sizeof(sub), "%s/%s", dir, e->d_name) != 0) {
            vv_warn("recovery: %s/%s: the path is too long; remove it by hand", dir, e->d_name);
            continue;
        }
        vv_warn("recovery: removing %s: no vault in the catalog owns it", sub);
        if (vv_rmtree(sub) != 0)
            vv_warn("recovery: %s could not be removed; remove it by hand", sub);
    }
    closedir(d);
    return 0;
}

/* Points in a store that the catalog does not list: a commit cut short; and the
 * staged uploads of every vault. 0 or <0 vv_err. */
static int recover_stores(struct vv_server *s)
{
    struct vv_stmt *st;
    int r;

    r = vv_db_prepare(s->db, &st, "SELECT id, uuid, name FROM vaults", "");
    if (r)
        return r;
    while ((r = vv_stmt_step(st)) == 1) {
        struct recover_ctx rc = {s, vv_stmt_int(st, 0), NULL, 0, 0};
        char uuid[VV_UUID_LEN];
        snprintf(uuid, sizeof(uuid), "%s", vv_stmt_text(st, 1));
        if (vv_server_repo(s, uuid, &rc.repo) != 0) {
            vv_error("recovery: cannot open the store of vault '%s'", vv_stmt_text(st, 2));
            continue;
        }
        if (vv_repo_point_list_all(rc.repo, recover_point, &rc) != 0)
            vv_error("recovery: vault '%s': its store's points cannot be listed",
                     vv_stmt_text(st, 2));
        if (rc.removed)
            vv_warn("recovery: vault '%s': removed %d uncommitted recovery point(s)",
                    vv_stmt_text(st, 2), rc.removed);
        recover_staging(s, uuid);
    }
    vv_stmt_free(st);
    return r < 0 ? r : 0;
}

int vv_recover(struct vv_server *s)
{
    int r;

    if ((r = recover_vault_folders(s)) != 0 || (r = recover_stores(s)) != 0)
        return r;
    /* Jobs whose uploads were just discarded cannot commit any more. */
    r = vv_jobs_fail_restarted(s->db, vv_server_now(s));
    if (r > 0)
        vv_warn("recovery: %d running job(s) failed: the server restarted under them", r);
    return r < 0 ? r : 0;
}
