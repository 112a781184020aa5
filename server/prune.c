/*
 * prune.c: the prune of a vault: expired recovery points leave the catalog and the
 * store, and soft-deleted items whose retention is over are purged.
 *
 * Never pruned, whatever its expiry: the newest point of an item that is not soft
 * deleted (an item keeps at least one point as long as its data is kept), a point
 * a running restore reads, and a point undeleted after a soft delete (held). Soft-
 * deleted items keep all their points until purged.
 *
 * A point whose expiry a change of retention brought forward (a resume, a policy
 * edit: marked "shortened" by vv_retention_change_*) is not removed when it expires
 * but soft deleted, like an item: listed, restorable after an undelete, and purged
 * after the vault's soft-delete days (at once when the vault's soft delete is
 * Disabled). So no change of a policy takes data away before anyone can notice.
 *
 * Order: the catalog forgets the points in one transaction, then their store objects
 * go (manifest first). A crash between the two leaves store points the catalog does
 * not list; the next start removes them. Their chunks are left for the collection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "scheduler.h"
#include "store/repo.h"

struct names {
    char (*v)[VV_POINT_ID_MAX];
    size_t n;
};

static int collect(struct vv_db *db, struct names *out, const char *sql, const char *fmt,
                   int64_t a, int64_t b)
{
    struct vv_stmt *st;
    int r = vv_db_prepare(db, &st, sql, fmt, a, b);
    if (r)
        return r;
    while ((r = vv_stmt_step(st)) == 1) {
        void *grown = realloc(out->v, (out->n + 1) * sizeof(*out->v));
        if (!grown) {
            r = VV_E_NOMEM;
            break;
        }
        out->v = grown;
        snprintf(out->v[out->n++], VV_POINT_ID_MAX, "%s", vv_stmt_text(st, 0));
    }
    vv_stmt_free(st);
    return r;
}

/* Points whose expiry has passed, and whether each may go. A replica vault's points
 * never expire here: the primary's prune reaches them as a deletion (replica.c), which
 * soft deletes them with this vault's window. */
#define EXPIRED                                                                               \
    "FROM recovery_points r JOIN protected_items i ON i.id = r.item_id "                      \
    "WHERE r.vault_id = ? AND r.expires IS NOT NULL AND r.expires <= ? AND i.deleted IS NULL " \
    "AND r.deleted IS NULL AND r.held = 0 "                                                    \
    "AND NOT EXISTS (SELECT 1 FROM vaults v WHERE v.id = r.vault_id AND v.replica_of IS NOT NULL) "
#define PRUNABLE                                                                              \
    "AND r.id <> (SELECT r2.id FROM recovery_points r2 WHERE r2.item_id = r.item_id "          \
    "  ORDER BY r2.time DESC, r2.id DESC LIMIT 1) "                                            \
    "AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.item_id = r.item_id "                        \
    "  AND j.operation = 'Restore' AND j.status IN ('InProgress','Cancelling') "               \
    "  AND json_extract(j.params, '$.recoveryPoint') = r.name) "

/* Remove a point the catalog no longer lists from the store; one left behind is
 * removed by the next start (it is listed nowhere), so a failure is a warning. */
static void purge_logged(struct vv_repo *repo, const char *point)
{
    if (vv_repo_point_purge(repo, point) != 0)
        vv_warn("prune: point %s stays in the store until the next start removes it", point);
}

/* Of the expired points in *pruned, those whose expiry a change of retention brought
 * forward are soft deleted instead (when the vault's soft delete is Enabled): taken out
 * of *pruned, marked deleted with their purge time, audited; *soft counts them.
 * Catalog locked, transaction open. 0 or <0. */
static int soft_delete_shortened(struct vv_server *s, int64_t vault_id, time_t now,
                                 struct names *pruned, int64_t *soft)
{
    int64_t days = 0, shortened = 0;
    char state[16] = "";
    size_t keep = 0;
    int r;

    *soft = 0;
    if ((r = vv_db_text(s->db, state, sizeof(state),
                        "SELECT soft_delete_state FROM vaults WHERE id = ?", "i", vault_id)) < 0 ||
        (r = vv_db_int(s->db, &days, "SELECT soft_delete_days FROM vaults WHERE id = ?", "i",
                       vault_id)) < 0)
        return r;
    if (strcmp(state, "Enabled") != 0)
        return 0;
    for (size_t i = 0; i < pruned->n; i++) {
        if ((r = vv_db_int(s->db, &shortened,
                           "SELECT shortened FROM recovery_points WHERE vault_id = ? AND name = ?",
                           "is", vault_id, pruned->v[i])) < 0)
            return r;
        if (!shortened) {
            memmove(pruned->v[keep++], pruned->v[i], VV_POINT_ID_MAX);
            continue;
        }
        if ((r = vv_db_run(s->db,
                           "UPDATE recovery_points SET deleted = ?, purge_at = ? "
                           "WHERE vault_id = ? AND name = ?",
                           "iiis", (int64_t)now, (int64_t)now + days * 86400, vault_id,
                           pruned->v[i])) < 0 ||
            (r = vv_db_run(s->db,
                           "INSERT INTO audit(time, actor, action, target, detail) "
                           "SELECT ?, 'vmvaultd', 'SoftDeleteRecoveryPoint', i.name, "
                           "  'vault=' || v.name || ' recoveryPoint=' || r.name || "
                           "  ' reason=RetentionShortened purgeAt=' || "
                           "  strftime('%Y-%m-%dT%H:%M:%SZ', r.purge_at, 'unixepoch') "
                           "FROM recovery_points r JOIN protected_items i ON i.id = r.item_id "
                           "JOIN vaults v ON v.id = r.vault_id WHERE r.vault_id = ? AND r.name = ?",
                           "iis", (int64_t)now, vault_id, pruned->v[i])) < 0)
            return r;
        (*soft)++;
    }
    pruned->n = keep;
    return 0;
}

/* The expiry of every point a change of retention touches, before it. */
struct vv_expiry_note {
    int64_t point, expires;
};

int vv_retention_change_begin(struct vv_server *s, int64_t item_id, int64_t policy_id,
                              struct vv_retention_change *ch)
{
    struct vv_stmt *st;
    int r;

    memset(ch, 0, sizeof(*ch));
    if ((r = vv_db_prepare(s->db, &st,
                           "SELECT r.id, COALESCE(r.expires, ?3) FROM recovery_points r "
                           "JOIN protected_items i ON i.id = r.item_id "
                           "WHERE (i.id = ?1 OR i.policy_id = ?2) AND r.deleted IS NULL",
                           "iii", item_id, policy_id, INT64_MAX)) != 0)
        return r;
    while ((r = vv_stmt_step(st)) == 1) {
        struct vv_expiry_note *grown = realloc(ch->notes, (ch->n + 1) * sizeof(*ch->notes));
        if (!grown) {
            r = VV_E_NOMEM;
            break;
        }
        ch->notes = grown;
        ch->notes[ch->n].point = vv_stmt_int(st, 0);
        ch->notes[ch->n++].expires = vv_stmt_int(st, 1);
    }
    vv_stmt_free(st);
    if (r < 0) {
        free(ch->notes);
        memset(ch, 0, sizeof(*ch));
    }
    return r < 0 ? r : 0;
}

int vv_retention_change_end(struct vv_server *s, struct vv_retention_change *ch)
{
    int r = 0;

    ch->shortened = 0;
    for (size_t i = 0; r >= 0 && i < ch->n; i++) {
        r = vv_db_run(s->db,
                      "UPDATE recovery_points SET shortened = 1 WHERE id = ? AND shortened = 0 "
                      "AND COALESCE(expires, ?) < ?",
                      "iii", ch->notes[i].point, INT64_MAX, ch->notes[i].expires);
        if (r > 0)
            ch->shortened++;
    }
    free(ch->notes);
    ch->notes = NULL;
    ch->n = 0;
    return r < 0 ? r : 0;
}

void vv_retention_change_release(struct vv_retention_change *ch)
{
    free(ch->notes);
    memset(ch, 0, sizeof(*ch));
}

int vv_prune_vault(struct vv_server *s, int64_t vault_id, time_t now, struct vv_prune_stats *st)
{
    struct names pruned = {NULL, 0}, purged = {NULL, 0};
    char uuid[VV_UUID_LEN] = "";
    int64_t expired = 0, items = 0, soft = 0;
    struct vv_repo *repo;
    int r;

    memset(st, 0, sizeof(*st));
    vv_db_lock(s->db);
    if ((r = vv_db_text(s->db, uuid, sizeof(uuid), "SELECT uuid FROM vaults WHERE id = ?", "i",
                        vault_id)) <= 0) {
        vv_db_unlock(s->db);
        return r < 0 ? r : VV_E_NOTFOUND;
    }
    if ((r = vv_db_begin(s->db)) != 0) {
        vv_db_unlock(s->db);
        return r;
    }
    r = vv_db_int(s->db, &expired, "SELECT COUNT(*) " EXPIRED, "ii", vault_id, (int64_t)now);
    if (r >= 0)
        r = collect(s->db, &pruned, "SELECT r.name " EXPIRED PRUNABLE, "ii", vault_id,
                    (int64_t)now);
    if (r >= 0)
        r = collect(s->db, &purged,
                    "SELECT r.name FROM recovery_points r JOIN protected_items i "
                    "ON i.id = r.item_id WHERE i.vault_id = ? AND i.deleted IS NOT NULL "
                    "AND i.purge_at <= ?",
                    "ii", vault_id, (int64_t)now);
    if (r >= 0)
        r = soft_delete_shortened(s, vault_id, now, &pruned, &soft);
    if (r >= 0)
        r = collect(s->db, &purged,
                    "SELECT name FROM recovery_points WHERE vault_id = ? AND deleted IS NOT NULL "
                    "AND purge_at <= ? AND item_id IN (SELECT id FROM protected_items "
                    "WHERE deleted IS NULL)",
                    "ii", vault_id, (int64_t)now);
    for (size_t i = 0; r >= 0 && i < pruned.n; i++)
        r = vv_db_run(s->db, "DELETE FROM recovery_points WHERE vault_id = ? AND name = ?", "is",
                      vault_id, pruned.v[i]);
    if (r >= 0)
        r = vv_db_run(s->db,
                      "DELETE FROM recovery_points WHERE vault_id = ? AND deleted IS NOT NULL "
                      "AND purge_at <= ? AND item_id IN (SELECT id FROM protected_items "
                      "WHERE deleted IS NULL)",
                      "ii", vault_id, (int64_t)now);
    if (r >= 0)
        r = vv_db_run(s->db,
                      "INSERT INTO audit(time, actor, action, target, detail) "
                      "SELECT ?, 'vmvaultd', 'PurgeBackupData', i.name, "
                      "  'vault=' || v.name || ' recoveryPoints=' || "
                      "  (SELECT COUNT(*) FROM recovery_points r WHERE r.item_id = i.id) || "
                      "  ' softDeletedAt=' || " "strftime('%Y-%m-%dT%H:%M:%SZ', i.deleted, 'unixepoch') "
                      "FROM protected_items i JOIN vaults v ON v.id = i.vault_id "
                      "WHERE i.vault_id = ? AND i.deleted IS NOT NULL AND i.purge_at <= ?",
                      "iii", (int64_t)now, vault_id, (int64_t)now);
    if (r >= 0)
        r = vv_db_run(s->db,
                      "DELETE FROM recovery_points WHERE item_id IN (SELECT id FROM protected_items "
                      "WHERE vault_id = ? AND deleted IS NOT NULL AND purge_at <= ?)",
                      "ii", vault_id, (int64_t)now);
    if (r >= 0)
        r = items = vv_db_run(s->db,
                              "DELETE FROM protected_items WHERE vault_id = ? "
                              "AND deleted IS NOT NULL AND purge_at <= ?",
                              "ii", vault_id, (int64_t)now);
    if (r < 0 || (r = vv_db_commit(s->db)) != 0) {
        vv_db_rollback(s->db);
        vv_db_unlock(s->db);
        goto out;
    }
    vv_db_unlock(s->db);

    st->points_pruned = pruned.n;
    st->points_kept = (uint64_t)expired - pruned.n - (uint64_t)soft;
    st->points_soft_deleted = (uint64_t)soft;
    st->items_purged = (uint64_t)items;
    st->points_purged = purged.n;
    if ((r = vv_server_repo(s, uuid, &repo)) == 0) {
        for (size_t i = 0; i < pruned.n; i++)
            purge_logged(repo, pruned.v[i]);
        for (size_t i = 0; i < purged.n; i++)
            purge_logged(repo, purged.v[i]);
    }
    if (pruned.n || purged.n || items || soft)
        vv_info("prune: %zu expired recovery point(s) removed, %lld soft deleted (their expiry "
                "was brought forward), %lld soft-deleted item(s) purged; %zu point(s) purged",
                pruned.n, (long long)soft, (long long)items, purged.n);
out:
    free(pruned.v);
    free(purged.v);
    return r < 0 ? r : 0;
}
