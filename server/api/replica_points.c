/*
 * replica_points.c: the points of a replica vault as the primary sends them (see
 * replica.c for who may call): chunks under the point's guard session "r:<point>"
 * (pinned until the point commits, so a collection here never removes what arrived
 * for it), disk indexes staged under staging/r-<point>/, the commit, later changes,
 * and deletions (soft, with this vault's window).
 *
 * The commit is the agents' commit order: every index checked against the manifest's
 * SHA-256, every chunk it names present, the store written (indexes, then the
 * manifest), then the catalog row in one transaction. A point is listed here only
 * once all of it is here; the same point twice is one point.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "crypto.h"
#include "format/index.h"
#include "format/manifest.h"
#include "log.h"
#include "store/gc.h"
#include "store/repo.h"
#include "uploads.h"
#include "util.h"

#define REPLICA_MIN_DAYS 14

/* The replica vault of uuid param[0] (locks the catalog itself): 0 with its id, or
 * -1 after replying. */
static int vault_of(struct vv_call *c, int64_t *vid, int64_t *days)
{
    json_t *row;
    int r;

    if (!vv_uuid_valid(c->param[0])) {
        vv_reply_error(c, 400, "InvalidParameter", "'%.60s' is not a vault id", c->param[0]);
        return -1;
    }
    vv_db_lock(c->srv->db);
    row = vv_db_row(c->srv->db, &r,
                    "SELECT id, soft_delete_days AS d FROM vaults WHERE uuid = ? AND "
                    "replica_of IS NOT NULL",
                    "s", c->param[0]);
    vv_db_unlock(c->srv->db);
    if (!row) {
        if (r == VV_E_NOTFOUND)
            vv_reply_error(c, 404, "VaultNotFound", "no replica vault %s here", c->param[0]);
        else
            vv_reply_internal(c, r);
        return -1;
    }
    *vid = json_integer_value(json_object_get(row, "id"));
    if (days)
        *days = json_integer_value(json_object_get(row, "d"));
    json_decref(row);
    return 0;
}

/* The point id of the request (?point= or path param i), checked. NULL after replying. */
static const char *point_of(struct vv_call *c, int i)
{
    const char *p = i < 0 ? vv_http_query(c->req, "point") : c->param[i];
    if (!p || !vv_point_id_valid(p)) {
        vv_reply_error(c, 400, "InvalidParameter", "name the recovery point (rp-...)%s",
                       i < 0 ? " with ?point=" : "");
        return NULL;
    }
    return p;
}

/* The guard session of point's chunks in the replica vault. 0 or -1 after replying. */
static int session(struct vv_call *c, const char *point, struct vv_pin_session *ps)
{
    int r = vv_server_repo_guard(c->srv, c->param[0], &ps->repo, &ps->guard);
    if (r) {
        vv_reply_internal(c, r);
        return -1;
    }
    snprintf(ps->key, sizeof(ps->key), "r:%s", point);
    ps->keep = 1;
    return 0;
}

void vv_api_replica_chunks_missing(struct vv_call *c)
{
    struct vv_pin_session ps = {0};
    const char *point;
    int64_t vid;

    if (vault_of(c, &vid, NULL) || !(point = point_of(c, -1)) || session(c, point, &ps))
        return;
    vv_transfer_missing(c, &ps);
}

void vv_api_replica_chunks_put(struct vv_call *c)
{
    struct vv_pin_session ps = {0};
    uint64_t bytes = 0, count = 0;
    const char *point;
    int64_t vid;

    if (vault_of(c, &vid, NULL) || !(point = point_of(c, -1)) || session(c, point, &ps))
        return;
    vv_best_effort(vv_transfer_put(c, &ps, &bytes, &count));
    if (!count)
        return;
    vv_db_lock(c->srv->db);
    vv_best_effort(vv_db_run(c->srv->db,
                             "UPDATE vaults SET repl_bytes = repl_bytes + ?, "
                             "repl_chunks = repl_chunks + ? WHERE id = ?",
                             "iii", (int64_t)bytes, (int64_t)count, vid));
    vv_db_unlock(c->srv->db);
}

/* staging/r-<point>[/<disk>.index] of the replica vault. */
static int staged(struct vv_call *c, const char *point, const char *disk, char *out, size_t n)
{
    char dir[VV_PATH_MAX];
    int r = vv_server_vault_path(c->srv, c->param[0], "staging", dir, sizeof(dir));
    if (r)
        return r;
    return disk ? vv_path_join(out, n, "%s/r-%s/%s.index", dir, point, disk)
                : vv_path_join(out, n, "%s/r-%s", dir, point);
}

void vv_api_replica_index_put(struct vv_call *c)
{
    char dir[VV_PATH_MAX], path[VV_PATH_MAX], tmp[VV_PATH_MAX];
    struct vv_index ix;
    const char *point;
    int64_t vid;
    int fd, r;

    if (vault_of(c, &vid, NULL) || !(point = point_of(c, 1)))
        return;
    if (!vv_disk_name_valid(c->param[2])) {
        vv_reply_error(c, 400, "InvalidParameter", "'%.60s' is not a disk name", c->param[2]);
        return;
    }
    if (vv_index_parse(c->req->body, c->req->body_len, &ix) != 0) {
        vv_reply_error(c, 400, "InvalidIndex", "the body is not a disk index");
        return;
    }
    vv_index_release(&ix);
    if ((r = staged(c, point, NULL, dir, sizeof(dir))) != 0 ||
        (r = staged(c, point, c->param[2], path, sizeof(path))) != 0 ||
        (r = vv_path_join(tmp, sizeof(tmp), "%s.tmp", path)) != 0 ||
        (r = vv_mkdir_p(dir, 0700)) != 0) {
        vv_reply_internal(c, r);
        return;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    r = fd < 0 ? vv_err_from_errno(errno) : vv_write_all(fd, c->req->body, c->req->body_len);
    if (fd >= 0)
        close(fd);
    if (r == 0 && rename(tmp, path) != 0)
        r = vv_err_from_errno(errno);
    if (r == VV_E_NOSPC) {
        vv_reply_storage_full(c, NULL);
        return;
    }
    if (r) {
        vv_reply_internal(c, r);
        return;
    }
    vv_reply(c, 200, json_pack("{s:s,s:s}", "point", point, "disk", c->param[2]));
}

/* ---- the commit ------------------------------------------------------------------- */

/* A commit under way; owned by the handler. */
struct rcommit {
    struct vv_pin_session ps;
    struct vv_manifest m;
    struct vv_index *ixs;
    size_t nix;
    const json_t *item, *point; /* borrowed from the body */
    int64_t vid, days;
};

static void rcommit_release(struct rcommit *rc)
{
    for (size_t i = 0; i < rc->nix; i++)
        vv_index_release(&rc->ixs[i]);
    free(rc->ixs);
    vv_manifest_release(&rc->m);
}

/* The manifest of the body, parsed and named as the path says. 0 or -1 after replying. */
static int commit_manifest(struct vv_call *c, struct rcommit *rc)
{
    const char *text;
    char err[200];

    if (vv_body_str(c, c->body, "manifest", 1, &text))
        return -1;
    if (vv_manifest_parse(text, strlen(text), &rc->m, err, sizeof(err)) != 0) {
        vv_reply_error(c, 400, "InvalidManifest", "the manifest does not parse: %s", err);
        return -1;
    }
    if (strcmp(rc->m.id, c->param[1]) != 0 || !rc->m.ndisks) {
        vv_reply_error(c, 400, "InvalidManifest",
                       "the manifest is of point '%s' with %zu disk(s), not of %s", rc->m.id,
                       rc->m.ndisks, c->param[1]);
        return -1;
    }
    if (!json_is_object(rc->item = json_object_get(c->body, "item")) ||
        !json_is_object(rc->point = json_object_get(c->body, "point"))) {
        vv_reply_error(c, 400, "InvalidParameter", "the commit carries 'item' and 'point' objects");
        return -1;
    }
    return 0;
}

/* Each staged index read, checked against the manifest's SHA-256, parsed. 0 or -1
 * after replying. */
static int commit_indexes(struct vv_call *c, struct rcommit *rc)
{
    char path[VV_PATH_MAX];
    int r = 0;

    if (!(rc->ixs = calloc(rc->m.ndisks, sizeof(*rc->ixs)))) {
        vv_reply_internal(c, VV_E_NOMEM);
        return -1;
    }
    for (size_t d = 0; d < rc->m.ndisks && r == 0; d++) {
        const struct vv_manifest_disk *md = &rc->m.disks[d];
        struct vv_buf b = VV_BUF_INIT;
        uint8_t sum[VV_SHA256_LEN];
        vv_buf_init(&b, (128u << 20) + 64);
        if ((r = staged(c, c->param[1], md->name, path, sizeof(path))) == 0)
            r = vv_read_file(path, &b);
        if (r == VV_E_NOTFOUND) {
            vv_buf_release(&b);
            vv_reply_error(c, 409, "MissingIndex", "no index was sent for disk '%s' of %s",
                           md->name, c->param[1]);
            return -1;
        }
        if (r == 0 && (vv_sha256(b.data, b.len, sum) != 0 ||
                       memcmp(sum, md->index_sha256, sizeof(sum)) != 0))
            r = VV_E_HASH;
        if (r == 0 && (r = vv_index_parse(b.data, b.len, &rc->ixs[d])) == 0)
            rc->nix++;
        vv_buf_release(&b);
    }
    if (r == VV_E_HASH || r == VV_E_CORRUPT) {
        vv_reply_error(c, 400, "IndexMismatch",
                       "a disk index of %s does not match the manifest's SHA-256 or does not "
                       "parse; send it again",
                       c->param[1]);
        return -1;
    }
    if (r) {
        vv_reply_internal(c, r);
        return -1;
    }
    return 0;
}

/* Every chunk the indexes name present (and pinned). 0 or -1 after replying 409
 * MissingChunks. */
static int commit_chunks(struct vv_call *c, struct rcommit *rc)
{
    uint64_t missing = 0;
    int r = 0;

    for (size_t d = 0; d < rc->nix && r >= 0; d++) {
        uint8_t(*ids)[VV_ENTRY_LEN] = NULL;
        size_t n = 0;
        r = vv_index_ids(&rc->ixs[d], &ids, &n);
        for (size_t i = 0; r >= 0 && i < n; i++) {
            r = vv_guard_has(rc->ps.guard, rc->ps.key, &rc->ps.repo->chunks, ids[i]);
            if (r == 0)
                missing++;
        }
        free(ids);
    }
    if (r < 0) {
        vv_reply_internal(c, r);
        return -1;
    }
    if (missing) {
        vv_reply(c, 409,
                 json_pack("{s:{s:s,s:s,s:I}}", "error", "code", "MissingChunks", "message",
                           "the indexes name chunks this vault lacks; send them, then commit "
                           "again. Nothing was committed",
                           "missingCount", (json_int_t)missing));
        return -1;
    }
    return 0;
}

/* Write the point to the store. 0 or -1 after replying. */
static int commit_store(struct vv_call *c, struct rcommit *rc)
{
    uint8_t want[VV_MAX_DISKS][VV_SHA256_LEN];
    size_t nd = rc->m.ndisks < VV_MAX_DISKS ? rc->m.ndisks : VV_MAX_DISKS;
    int r;

    for (size_t d = 0; d < nd; d++)
        memcpy(want[d], rc->m.disks[d].index_sha256, VV_SHA256_LEN);
    r = vv_repo_point_commit(rc->ps.repo, &rc->m, rc->ixs);
    if (r == VV_E_EXISTS) { /* a commit cut short before its catalog row: again */
        vv_best_effort(vv_repo_point_purge(rc->ps.repo, rc->m.id));
        r = vv_repo_point_commit(rc->ps.repo, &rc->m, rc->ixs);
    }
    for (size_t d = 0; r == 0 && d < nd; d++)
        if (memcmp(want[d], rc->m.disks[d].index_sha256, VV_SHA256_LEN) != 0)
            r = VV_E_HASH;
    if (r == VV_E_HASH)
        vv_best_effort(vv_repo_point_purge(rc->ps.repo, rc->m.id));
    if (r == VV_E_NOSPC) {
        vv_reply_storage_full(c, NULL);
        return -1;
    }
    if (r) {
        vv_reply_internal(c, r);
        return -1;
    }
    return 0;
}

/* An integer member of o, or NULL ('n' bind) when absent or null. */
static int64_t num(const json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }
static const char *str(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* The item and point facts are well formed. 0 or -1 after replying. */
static int commit_facts_ok(struct vv_call *c, const struct rcommit *rc)
{
    const char *state = str(rc->item, "state"), *kind = str(rc->point, "kind"),
               *cons = str(rc->point, "consistency"), *pol = str(rc->item, "policy");
    enum vv_consistency cc;

    if (!vv_name_valid(str(rc->item, "name")) || !vv_uuid_valid(str(rc->item, "vmUuid")) ||
        !vv_name_valid(str(rc->item, "container")) ||
        !vv_region_valid(str(rc->item, "containerRegion")) || !state ||
        (strcmp(state, "Protected") && strcmp(state, "ProtectionStopped") &&
         strcmp(state, "IRPending")) ||
        (pol && !vv_name_valid(pol)) || !kind ||
        (strcmp(kind, "Scheduled") && strcmp(kind, "OnDemand")) || !cons ||
        vv_consistency_parse(cons, &cc) != 0 || !json_is_integer(json_object_get(rc->point, "time")) ||
        (str(rc->point, "retainedBy") && strlen(str(rc->point, "retainedBy")) > 200)) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "the commit's item or point facts are not well formed (names, UUID, "
                       "region, state, kind, consistency, time)");
        return -1;
    }
    return 0;
}

/* The item the point belongs to, made or updated here (its host a name only: hosts of
 * this region register on their own). *item_id. Transaction open. 0 or <0, or
 * VV_E_EXISTS when the VM is protected in another vault here. */
static int commit_item(struct vv_call *c, const struct rcommit *rc, int64_t *item_id)
{
    int64_t cid = 0, other = 0;
    int r;

    if ((r = vv_db_run(c->srv->db,
                       "INSERT OR IGNORE INTO containers (vault_id, name, region, registered) "
                       "VALUES (?, ?, ?, ?)",
                       "issi", rc->vid, str(rc->item, "container"),
                       str(rc->item, "containerRegion"), (int64_t)c->now)) < 0 ||
        (r = vv_db_int(c->srv->db, &cid, "SELECT id FROM containers WHERE vault_id = ? AND "
                                         "name = ?", "is", rc->vid, str(rc->item, "container"))) < 0)
        return r;
    r = vv_db_int(c->srv->db, item_id, "SELECT id FROM protected_items WHERE vm_uuid = ? AND "
                                      "vault_id = ?", "si", str(rc->item, "vmUuid"), rc->vid);
    if (r < 0)
        return r;
    if (r == 1)
        return vv_db_run(c->srv->db,
                         "UPDATE protected_items SET name = ?, state = ?, last_policy = ?, "
                         "container_id = ?, last_backup_time = MAX(COALESCE(last_backup_time, 0), ?), "
                         "last_backup_status = 'Completed' WHERE id = ?",
                         "sssiii", str(rc->item, "name"), str(rc->item, "state"),
                         str(rc->item, "policy"), cid, num(rc->point, "time"), *item_id) < 0
                   ? VV_E_IO
                   : 0;
    if ((r = vv_db_int(c->srv->db, &other, "SELECT COUNT(*) FROM protected_items WHERE "
                                          "vm_uuid = ?", "s", str(rc->item, "vmUuid"))) < 0)
        return r;
    if (other)
        return VV_E_EXISTS;
    r = vv_db_run(c->srv->db,
                  "INSERT INTO protected_items (vault_id, container_id, name, vm_uuid, "
                  "last_policy, state, stop_mode, created, last_backup_time, last_backup_status) "
                  "VALUES (?, ?, ?, ?, ?, ?, CASE WHEN ? = 'ProtectionStopped' THEN 'Retain' END, "
                  "?, ?, 'Completed')",
                  "iisssssii", rc->vid, cid, str(rc->item, "name"), str(rc->item, "vmUuid"),
                  str(rc->item, "policy"), str(rc->item, "state"), str(rc->item, "state"),
                  (int64_t)c->now, num(rc->point, "time"));
    *item_id = vv_db_last_id(c->srv->db);
    return r < 0 ? r : 0;
}

/* The point's row. A point soft deleted on the primary is soft deleted here too, with
 * this vault's window at the least. Transaction open. */
static int commit_row(struct vv_call *c, const struct rcommit *rc, int64_t item_id,
                      const char *disks)
{
    int64_t deleted = num(rc->point, "deleted"), purge = num(rc->point, "purgeAt");
    int64_t floor = (int64_t)c->now + rc->days * 86400;

    if (deleted && purge < floor)
        purge = floor;
    return vv_db_run(
        c->srv->db,
        "INSERT INTO recovery_points (name, vault_id, item_id, time, expires, consistency, "
        "parent, disks, kind, retain_until, retained_by, scheduled_for, deleted, purge_at, "
        "held, committed) VALUES (?, ?, ?, ?, NULLIF(?, 0), ?, ?, ?, ?, NULLIF(?, 0), ?, "
        "NULLIF(?, 0), NULLIF(?, 0), NULLIF(?, 0), ?, ?)",
        "siiiissssisiiiii", rc->m.id, rc->vid, item_id, num(rc->point, "time"),
        num(rc->point, "expires"), str(rc->point, "consistency"), rc->m.parent, disks,
        str(rc->point, "kind"), num(rc->point, "retainUntil"), str(rc->point, "retainedBy"),
        num(rc->point, "scheduledFor"), deleted, deleted ? purge : 0,
        num(rc->point, "held") ? (int64_t)1 : (int64_t)0, (int64_t)c->now);
}

/* The catalog's side, in one transaction. 0 or -1 after replying. */
static int commit_catalog(struct vv_call *c, const struct rcommit *rc)
{
    json_t *dj = vv_manifest_disks_json(&rc->m);
    char *disks = dj ? vv_json_dump(dj) : NULL;
    int64_t item_id = 0;
    int r;

    json_decref(dj);
    vv_db_lock(c->srv->db);
    if (!disks)
        r = VV_E_NOMEM;
    else if ((r = vv_db_begin(c->srv->db)) == 0) {
        if ((r = commit_item(c, rc, &item_id)) >= 0 && (r = commit_row(c, rc, item_id, disks)) >= 0)
            r = vv_db_run(c->srv->db, "UPDATE vaults SET repl_last = ? WHERE id = ?", "ii",
                          (int64_t)c->now, rc->vid);
        if (r < 0 || (r = vv_db_commit(c->srv->db)) != 0)
            vv_db_rollback(c->srv->db);
    }
    vv_db_unlock(c->srv->db);
    free(disks);
    if (r == VV_E_EXISTS) {
        vv_reply_error(c, 409, "ItemConflict",
                       "VM %s is protected in another vault of this server; a VM's points "
                       "live in one vault",
                       str(rc->item, "vmUuid"));
        return -1;
    }
    if (r < 0) {
        vv_reply_internal(c, r);
        return -1;
    }
    return 0;
}

/* The point is here already: 1 after replying 200 (a damaged one checked whole again
 * first), 0 when it is not, -1 after replying an error. */
static int commit_known(struct vv_call *c, struct rcommit *rc)
{
    int64_t damaged = -1;
    int r;

    vv_db_lock(c->srv->db);
    r = vv_db_int(c->srv->db, &damaged,
                  "SELECT damaged IS NOT NULL FROM recovery_points WHERE vault_id = ? AND name = ?",
                  "is", rc->vid, c->param[1]);
    vv_db_unlock(c->srv->db);
    if (r < 0) {
        vv_reply_internal(c, r);
        return -1;
    }
    if (r == 0)
        return 0;
    if (damaged) {
        if (commit_manifest(c, rc) || commit_indexes(c, rc) || commit_chunks(c, rc))
            return -1;
        vv_db_lock(c->srv->db);
        vv_best_effort(vv_db_run(c->srv->db, "UPDATE recovery_points SET damaged = NULL WHERE "
                                             "vault_id = ? AND name = ?", "is", rc->vid,
                                 c->param[1]));
        vv_db_unlock(c->srv->db);
        vv_info("recovery point %s repaired: every chunk is here again", c->param[1]);
    }
    vv_reply(c, 200, json_pack("{s:s,s:b}", "name", c->param[1], "repaired", damaged != 0));
    return 1;
}

/* The point's staging and pins are no longer needed. */
static void commit_cleanup(struct vv_call *c, struct rcommit *rc)
{
    char dir[VV_PATH_MAX];
    if (staged(c, c->param[1], NULL, dir, sizeof(dir)) == 0)
        vv_best_effort(vv_rmtree(dir));
    if (rc->ps.guard)
        vv_guard_release(rc->ps.guard, rc->ps.key);
}

void vv_api_replica_point_put(struct vv_call *c)
{
    struct rcommit rc = {0};
    int r;

    vv_manifest_init(&rc.m);
    if (vault_of(c, &rc.vid, &rc.days) || !point_of(c, 1) || session(c, c->param[1], &rc.ps))
        goto out;
    if ((r = commit_known(c, &rc)) != 0) {
        if (r == 1)
            commit_cleanup(c, &rc);
        goto out;
    }
    if (commit_manifest(c, &rc) || commit_facts_ok(c, &rc) || commit_indexes(c, &rc) ||
        commit_chunks(c, &rc) || commit_store(c, &rc))
        goto out;
    if (commit_catalog(c, &rc) != 0) {
        vv_best_effort(vv_repo_point_purge(rc.ps.repo, rc.m.id));
        goto out;
    }
    commit_cleanup(c, &rc);
    vv_info("recovery point %s of '%s' replicated from the primary (%zu disk(s))", rc.m.id,
            str(rc.item, "name"), rc.m.ndisks);
    vv_reply(c, 201, json_pack("{s:s}", "name", rc.m.id));
out:
    rcommit_release(&rc);
}

/* ---- later changes ---------------------------------------------------------------- */

/* The point of param[1] in the replica vault of param[0], for a change (the handler
 * holds the catalog lock; vault_of takes it itself). 0 with the vault's id and
 * soft-delete days, or -1 after replying. */
static int change_target(struct vv_call *c, int64_t *vid, int64_t *days)
{
    int r;

    if (!point_of(c, 1))
        return -1;
    vv_db_unlock(c->srv->db);
    r = vault_of(c, vid, days);
    vv_db_lock(c->srv->db);
    return r;
}

/* r rows changed by a change of the point: 0 when one was, else -1 after replying. */
static int changed(struct vv_call *c, int r)
{
    if (r < 0)
        vv_reply_internal(c, r);
    else if (r == 0)
        vv_reply_error(c, 404, "RecoveryPointNotFound", "no point %s in this replica",
                       c->param[1]);
    return r > 0 ? 0 : -1;
}

void vv_api_replica_point_patch(struct vv_call *c)
{
    static const char *const fields[] = {"expires", "retainedBy", "deleted", "purgeAt", "held",
                                         NULL};
    int64_t vid, days, deleted, floor;
    int r;

    if (vv_body_only(c, c->body, NULL, fields) || change_target(c, &vid, &days))
        return;
    deleted = num(c->body, "deleted");
    floor = (int64_t)c->now + days * 86400;
    r = vv_db_run(c->srv->db,
                  "UPDATE recovery_points SET expires = NULLIF(?, 0), retained_by = ?, "
                  "held = ?, deleted = CASE WHEN ? THEN COALESCE(deleted, ?) END, "
                  "purge_at = CASE WHEN ? THEN MAX(COALESCE(purge_at, 0), ?, ?) END "
                  "WHERE vault_id = ? AND name = ?",
                  "isiiiiiiis", num(c->body, "expires"), str(c->body, "retainedBy"),
                  num(c->body, "held") ? (int64_t)1 : (int64_t)0, deleted, deleted, deleted,
                  num(c->body, "purgeAt"), floor, vid, c->param[1]);
    if (changed(c, r))
        return;
    vv_reply(c, 200, json_pack("{s:s}", "name", c->param[1]));
}

void vv_api_replica_point_delete(struct vv_call *c)
{
    int64_t vid, days;
    int r;

    if (change_target(c, &vid, &days))
        return;
    r = vv_db_run(c->srv->db,
                  "UPDATE recovery_points SET deleted = COALESCE(deleted, ?), "
                  "purge_at = MAX(COALESCE(purge_at, 0), ?) WHERE vault_id = ? AND name = ?",
                  "iiis", (int64_t)c->now, (int64_t)c->now + days * 86400, vid, c->param[1]);
    if (changed(c, r))
        return;
    /* every point of its item deleted there: the primary deleted the item's data */
    vv_best_effort(vv_db_run(c->srv->db,
                             "UPDATE protected_items SET state = 'ProtectionStopped', "
                             "stop_mode = COALESCE(stop_mode, 'Retain') WHERE id = (SELECT "
                             "item_id FROM recovery_points WHERE vault_id = ?1 AND name = ?2) "
                             "AND NOT EXISTS (SELECT 1 FROM recovery_points r WHERE r.item_id = "
                             "protected_items.id AND r.deleted IS NULL)",
                             "is", vid, c->param[1]));
    vv_info("recovery point %s deleted on the primary: soft deleted here for %lld day(s)",
            c->param[1], (long long)days);
    vv_reply(c, 204, NULL);
}
