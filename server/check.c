/*
 * check.c: `vmvaultd check` (see check.h): the catalog's SQLite integrity and
 * foreign keys, then every vault's store: every recovery point in the catalog is read
 * back and re-hashed chunk by chunk, no point exists in a store that the catalog
 * does not list, and no folder under DATA/vaults that no vault owns.
 *
 * Invariant: read only; each problem found is one entry of the report's "problems".
 */
#include "check.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "engine/engine.h"
#include "err.h"
#include "json.h"
#include "log.h"
#include "util.h"

/* A check under way: its findings and what it counted. */
struct check_run {
    struct vv_db *db;
    json_t *problems;
    const char *vault; /* the vault being checked */
    int64_t vaults, points;
    struct vv_verify_stats vs;
};

static void problem(json_t *problems, const char *vault, const char *what, const char *detail)
{
    json_array_append_new(problems, json_pack("{s:s,s:s,s:s}", "vault", vault ? vault : "",
                                              "problem", what, "detail", detail));
}

/* A store point the catalog does not list, and that the next start will not remove
 * (unlisted_points: a removal cut short), is a problem. */
static int check_orphan(const char *id, void *arg)
{
    struct check_run *cr = arg;
    int64_t n = 0;
    if (vv_db_int(cr->db, &n,
                  "SELECT (SELECT COUNT(*) FROM recovery_points WHERE name = ?1 AND vault_id = "
                  "  (SELECT id FROM vaults WHERE name = ?2)) + "
                  "(SELECT COUNT(*) FROM unlisted_points WHERE name = ?1 AND vault_uuid = "
                  "  (SELECT uuid FROM vaults WHERE name = ?2))",
                  "ss", id, cr->vault) >= 0 &&
        n == 0)
        problem(cr->problems, cr->vault, "UncommittedRecoveryPoint", id);
    return 0;
}

/* SQLite's integrity and foreign key checks. 0, or -1 when they cannot run. */
static int check_catalog(struct check_run *cr)
{
    struct vv_stmt *st;

    if (vv_db_prepare(cr->db, &st, "PRAGMA integrity_check", "") != 0)
        return -1;
    while (vv_stmt_step(st) == 1)
        if (strcmp(vv_stmt_text(st, 0), "ok") != 0)
            problem(cr->problems, NULL, "CatalogDamaged", vv_stmt_text(st, 0));
    vv_stmt_free(st);
    if (vv_db_prepare(cr->db, &st, "PRAGMA foreign_key_check", "") == 0) {
        while (vv_stmt_step(st) == 1)
            problem(cr->problems, NULL, "CatalogForeignKey", vv_stmt_text(st, 0));
        vv_stmt_free(st);
    }
    return 0;
}

/* One vault's store: its points in the catalog read back, none it does not list. */
static void check_vault(struct vv_server *s, struct check_run *cr, int64_t vault_id,
                        const char *uuid, const char *name)
{
    struct vv_engine_opts eo = {0, NULL, NULL, 0};
    struct vv_repo *repo;
    struct vv_stmt *pt;
    int r;

    cr->vaults++;
    if (vv_server_repo(s, uuid, &repo) != 0) {
        problem(cr->problems, name, "StoreUnreadable", uuid);
        return;
    }
    if (vv_db_prepare(s->db, &pt, "SELECT name FROM recovery_points WHERE vault_id = ?", "i",
                      vault_id) == 0) {
        while (vv_stmt_step(pt) == 1) {
            cr->points++;
            r = vv_point_verify(repo, vv_stmt_text(pt, 0), &eo, &cr->vs);
            if (r == VV_E_NOTFOUND)
                problem(cr->problems, name, "RecoveryPointMissing", vv_stmt_text(pt, 0));
            else if (r < 0)
                problem(cr->problems, name, "RecoveryPointDamaged", vv_stmt_text(pt, 0));
        }
        vv_stmt_free(pt);
    }
    cr->vault = name;
    if (vv_repo_point_list_all(repo, check_orphan, cr) != 0)
        problem(cr->problems, name, "store", "the store's recovery points cannot be listed");
}

/* Folders under DATA/vaults that no vault in the catalog owns (the next start moves
 * them aside to DATA/quarantine). */
static void check_folders(struct vv_server *s, struct check_run *cr)
{
    char dir[VV_PATH_MAX], detail[VV_PATH_MAX + 400];
    struct dirent *e;
    DIR *d;

    if (vv_path_join(dir, sizeof(dir), "%s/vaults", s->data_dir) != 0 || !(d = opendir(dir)))
        return;
    while ((e = readdir(d))) {
        int64_t n = 0;
        if (e->d_name[0] == '.' ||
            vv_db_int(cr->db, &n, "SELECT COUNT(*) FROM vaults WHERE uuid = ?", "s", e->d_name) < 0 ||
            n != 0)
            continue;
        snprintf(detail, sizeof(detail), "%s/%s: no vault in the catalog owns it (the next start "
                 "moves it aside to DATA/quarantine)", dir, e->d_name);
        problem(cr->problems, NULL, "UnknownVaultFolder", detail);
    }
    closedir(d);
}

/* Print the report; the exit status it stands for. */
static int report(struct check_run *cr)
{
    int bad = json_array_size(cr->problems) > 0;
    json_t *rep = json_pack("{s:s,s:I,s:I,s:I,s:I,s:O}", "status", bad ? "damaged" : "ok",
                            "vaults", (json_int_t)cr->vaults, "recoveryPoints",
                            (json_int_t)cr->points, "chunksChecked",
                            (json_int_t)cr->vs.chunks_checked, "bytesChecked",
                            (json_int_t)cr->vs.bytes_checked, "problems", cr->problems);
    char *text = json_dumps(rep, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(rep);
    return bad ? 3 : 0;
}

static int run_check(struct vv_server *s)
{
    struct check_run cr = {s->db, json_array(), NULL, 0, 0, {0}};
    struct vv_stmt *st;
    int r;

    if (check_catalog(&cr) != 0 ||
        vv_db_prepare(s->db, &st, "SELECT id, uuid, name FROM vaults ORDER BY name", "") != 0) {
        json_decref(cr.problems);
        return 1;
    }
    while (vv_stmt_step(st) == 1) {
        char uuid[VV_UUID_LEN], name[80];
        snprintf(uuid, sizeof(uuid), "%s", vv_stmt_text(st, 1));
        snprintf(name, sizeof(name), "%s", vv_stmt_text(st, 2));
        check_vault(s, &cr, vv_stmt_int(st, 0), uuid, name);
    }
    vv_stmt_free(st);
    check_folders(s, &cr);
    r = report(&cr);
    json_decref(cr.problems);
    return r;
}

int vv_check_main(struct vv_server *s)
{
    char path[VV_PATH_MAX];
    int r;

    if (vv_path_join(path, sizeof(path), "%s/catalog.db", s->data_dir) != 0) {
        fprintf(stderr, "vmvaultd check: the path of the catalog in %s is too long\n",
                s->data_dir);
        return 1;
    }
    if (access(path, F_OK) != 0) {
        fprintf(stderr, "vmvaultd check: no catalog at %s\n", path);
        return 1;
    }
    if (vv_db_open(path, &s->db) != 0 || vv_catalog_migrate(s->db) != 0)
        return 1;
    r = run_check(s);
    vv_server_release(s);
    return r;
}
