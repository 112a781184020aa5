/*
 * replica.c: what the paired primary calls on this server, its secondary
 * (/api/v1/replication/..., docs/api.md "Replication"): the pairing with an
 * invitation code, the replica vaults (created with the key the primary sends wrapped
 * with the pairing's secret), their chunks (re-hashed on arrival, as agents' are),
 * disk indexes staged per point, the commit that makes a point exist (every index
 * checked against the manifest, every chunk present), and later changes of points.
 *
 * Who: the pairing route takes a single-use invitation code an Owner issued; every
 * other route only the primary's replication token (router.c P_REPLICA), and only on
 * replica vaults (replica_of set). A deletion from the primary never removes data:
 * the point is soft deleted here, with this vault's own window (at least
 * VV_REPLICA_MIN_SOFT_DELETE_DAYS), and this server's prune purges it after that.
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
#include "key.h"
#include "log.h"
#include "recovery.h"
#include "replicator.h"
#include "store/gc.h"
#include "store/repo.h"
#include "uploads.h"
#include "util.h"

#define VV_REPLICA_MIN_SOFT_DELETE_DAYS 14

/* ---- the pairing ------------------------------------------------------------------ */

/* The pairing's answer: a new replication token and wrap secret, saved. */
static int pair_accept(struct vv_call *c, const char *name, const char *region, json_t **ans)
{
    char token[VV_TOKEN_MAX], id[32], hash[65], wrap_hex[65];
    uint8_t wrap[32];
    json_t *sec;
    char *text;
    int r;

    if ((r = vv_token_new("vvp", token, id, hash)) != 0 || (r = vv_random(wrap, 32)) != 0)
        return r;
    vv_hex_encode(wrap, sizeof(wrap), wrap_hex);
    sec = json_pack("{s:s}", "wrapSecret", wrap_hex);
    text = sec ? vv_json_dump(sec) : NULL;
    json_decref(sec);
    r = text ? vv_pairing_write(c->srv, "primary.json", text) : VV_E_NOMEM;
    free(text);
    if (r == 0)
        r = vv_db_run(c->srv->db,
                      "INSERT INTO peers (role, name, region, token_hash, created, created_by, "
                      "last_contact) VALUES ('Primary', ?, ?, ?, ?, 'pairing invitation', ?)",
                      "sssii", name, region, hash, (int64_t)c->now, (int64_t)c->now);
    if (r < 0)
        return r;
    *ans = json_pack("{s:s,s:s,s:s,s:s}", "token", token, "wrapSecret", wrap_hex, "region",
                     c->srv->region, "serverName",
                     c->srv->public_url[0] ? c->srv->public_url : c->srv->listen_url);
    memset(token, 0, sizeof(token));
    memset(wrap_hex, 0, sizeof(wrap_hex));
    return *ans ? 0 : VV_E_NOMEM;
}

void vv_api_replica_pair(struct vv_call *c)
{
    static const char *const fields[] = {"code", "primaryName", "primaryRegion", NULL};
    const char *code, *name, *region;
    char hash[65];
    int64_t have = 0;
    json_t *ans = NULL;
    int r;

    if (vv_body_only(c, c->body, NULL, fields) || vv_body_str(c, c->body, "code", 1, &code) ||
        vv_body_str(c, c->body, "primaryName", 1, &name) ||
        vv_body_str(c, c->body, "primaryRegion", 1, &region))
        return;
    if (!vv_region_valid(region) || strlen(name) > 500) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "primaryRegion must be a region ([a-z0-9-]) and primaryName at most 500 "
                       "characters");
        return;
    }
    vv_token_hash(code, hash);
    if ((r = vv_db_begin(c->srv->db)) != 0 ||
        (r = vv_db_run(c->srv->db, "DELETE FROM pair_invites WHERE hash = ? AND expires > ?",
                       "si", hash, (int64_t)c->now)) < 0) {
        vv_db_rollback(c->srv->db);
        vv_reply_internal(c, r);
        return;
    }
    if (r == 0) {
        vv_db_rollback(c->srv->db);
        vv_warn("pairing refused: an unknown, used or expired invitation code");
        vv_reply_error(c, 403, "InvalidPairingCode",
                       "the pairing code is unknown, used or expired: issue a new one on this "
                       "server ('vmvault pairing invite')");
        return;
    }
    if ((r = vv_db_int(c->srv->db, &have, "SELECT COUNT(*) FROM peers WHERE role = 'Primary'",
                       "")) >= 0 && have) {
        vv_db_rollback(c->srv->db);
        vv_reply_error(c, 409, "AlreadyPaired",
                       "this server already replicates a primary; its Owner unpairs it first "
                       "('vmvault pairing delete --peer-role Primary')");
        return;
    }
    if (r < 0 || (r = pair_accept(c, name, region, &ans)) != 0 ||
        (r = vv_db_commit(c->srv->db)) != 0) {
        vv_db_rollback(c->srv->db);
        json_decref(ans);
        vv_reply_internal(c, r);
        return;
    }
    snprintf(c->who.user, sizeof(c->who.user), "replication:%s", region);
    vv_audit(c, "PairingAccepted", region, name);
    vv_info("paired as the secondary of the primary in region %s (%s)", region, name);
    vv_reply(c, 201, ans);
}

void vv_api_replica_unpair(struct vv_call *c)
{
    int r = vv_db_run(c->srv->db, "DELETE FROM peers WHERE id = ?", "i", c->who.peer_id);
    if (r >= 0)
        r = vv_db_run(c->srv->db, "UPDATE vaults SET replica_of = NULL "
                                  "WHERE replica_of IS NOT NULL", "");
    if (r < 0) {
        vv_reply_internal(c, r);
        return;
    }
    vv_audit(c, "PairingDeleted", "Primary", "by the primary; its replica vaults are now "
                                             "ordinary vaults of this server");
    vv_info("the primary unpaired; its replica vaults are now ordinary vaults here");
    vv_reply(c, 204, NULL);
}

/* ---- replica vaults --------------------------------------------------------------- */

/* The replica vault of uuid param[0]: 0 with its id (and name, soft-delete days), or -1
 * after replying 404. Catalog locked. */
static int replica_vault(struct vv_call *c, int64_t *vid, char *name, size_t n, int64_t *days)
{
    json_t *row;
    int r;

    row = vv_db_row(c->srv->db, &r,
                    "SELECT id, name, soft_delete_days AS d FROM vaults "
                    "WHERE uuid = ? AND replica_of IS NOT NULL",
                    "s", c->param[0]);
    if (!row) {
        if (r == VV_E_NOTFOUND)
            vv_reply_error(c, 404, "VaultNotFound", "no replica vault %.60s here", c->param[0]);
        else
            vv_reply_internal(c, r);
        return -1;
    }
    *vid = json_integer_value(json_object_get(row, "id"));
    if (name)
        snprintf(name, n, "%s", json_string_value(json_object_get(row, "name")));
    if (days)
        *days = json_integer_value(json_object_get(row, "d"));
    json_decref(row);
    return 0;
}

/* The state the primary reads: how many points are here, and which need sending again. */
static void reply_state(struct vv_call *c, int64_t vid, int status)
{
    json_t *repair = vv_db_rows(c->srv->db,
                                "SELECT name FROM recovery_points WHERE vault_id = ? AND "
                                "damaged IS NOT NULL ORDER BY id LIMIT 1000",
                                "i", vid);
    json_t *names = json_array(), *x;
    int64_t n = 0;
    size_t i;

    vv_best_effort(vv_db_int(c->srv->db, &n,
                             "SELECT COUNT(*) FROM recovery_points WHERE vault_id = ?", "i", vid));
    json_array_foreach(repair, i, x) {
        json_array_append(names, json_object_get(x, "name"));
    }
    json_decref(repair);
    vv_reply(c, status, json_pack("{s:I,s:o}", "pointCount", (json_int_t)n, "repair", names));
}

/* The vault key the primary sent, unwrapped with the pairing's secret. */
static int unwrap_key(struct vv_call *c, const char *wrapped, struct vv_key *k)
{
    char path[VV_PATH_MAX], err[200], id[64], vname[128];
    struct vv_buf b = VV_BUF_INIT;
    json_t *sec;
    int r;

    vv_buf_init(&b, 64 * 1024);
    if ((r = vv_pairing_path(c->srv, "primary.json", path, sizeof(path))) == 0)
        r = vv_read_file(path, &b);
    sec = r ? NULL : vv_json_parse(b.data, b.len, err, sizeof(err));
    vv_buf_release(&b);
    if (!json_is_string(json_object_get(sec, "wrapSecret"))) {
        json_decref(sec);
        return VV_E_KEY;
    }
    r = vv_key_unwrap(wrapped, strlen(wrapped),
                      json_string_value(json_object_get(sec, "wrapSecret")), k, id, vname, err,
                      sizeof(err));
    json_decref(sec);
    if (r == 0 && strcmp(id, c->param[0]) != 0) {
        vv_key_clear(k);
        r = VV_E_WRONG_KEY;
    }
    return r;
}

/* A new replica vault named name with the key in the body. 0 or -1 after replying. */
static int replica_create(struct vv_call *c, const char *name, const char *redundancy,
                          int64_t days)
{
    const char *wrapped = NULL;
    int64_t taken = 0;
    struct vv_key k;
    int r;

    if (vv_body_str(c, c->body, "wrappedKey", 0, &wrapped))
        return -1;
    if (!wrapped) {
        vv_reply_error(c, 409, "VaultKeyRequired",
                       "vault %s is not here yet: send it with its wrapped key", c->param[0]);
        return -1;
    }
    if ((r = vv_db_int(c->srv->db, &taken, "SELECT COUNT(*) FROM vaults WHERE name = ? OR "
                                           "uuid = ?", "ss", name, c->param[0])) < 0 ||
        taken) {
        if (r < 0)
            vv_reply_internal(c, r);
        else
            vv_reply_error(c, 409, "VaultConflict",
                           "this server already has a vault named '%s' (or with id %s) that "
                           "is not a replica; rename or delete it here, then replication goes "
                           "on",
                           name, c->param[0]);
        return -1;
    }
    if ((r = unwrap_key(c, wrapped, &k)) != 0) {
        vv_reply_error(c, 400, "InvalidWrappedKey",
                       "the vault key cannot be unwrapped with this pairing's secret: %s; pair "
                       "again",
                       vv_strerror(r));
        return -1;
    }
    r = vv_server_vault_create(c->srv, c->param[0], &k);
    vv_key_clear(&k);
    if (r == 0)
        r = vv_db_run(c->srv->db,
                      "INSERT INTO vaults (name, uuid, location, redundancy, soft_delete_state, "
                      "soft_delete_days, created, replica_of) SELECT ?, ?, ?, ?, 'Enabled', ?, "
                      "?, region FROM peers WHERE id = ?",
                      "ssssiii", name, c->param[0], c->srv->region, redundancy, days,
                      (int64_t)c->now, c->who.peer_id);
    if (r < 0) {
        vv_reply_internal(c, r);
        return -1;
    }
    vv_best_effort(vv_vault_meta_write(c->srv, c->param[0]));
    vv_audit(c, "ReplicaVaultCreated", name, c->param[0]);
    vv_info("replica vault '%s' (%s) created for the primary", name, c->param[0]);
    return 0;
}

void vv_api_replica_vault_put(struct vv_call *c)
{
    static const char *const fields[] = {"name",         "redundancy", "softDeleteDays",
                                         "softDeleteState", "wrappedKey", NULL};
    const char *name, *redundancy = "GeoRedundant", *sd_state = NULL;
    int64_t days = 14, vid;
    int created = 0, r;
    json_t *row;

    if (!vv_uuid_valid(c->param[0])) {
        vv_reply_error(c, 400, "InvalidParameter", "'%.60s' is not a vault id", c->param[0]);
        return;
    }
    if (vv_body_only(c, c->body, NULL, fields) || vv_body_str(c, c->body, "name", 1, &name) ||
        vv_check_name(c, "name", name) ||
        vv_body_str(c, c->body, "redundancy", 0, &redundancy) ||
        vv_body_str(c, c->body, "softDeleteState", 0, &sd_state) ||
        vv_body_int(c, c->body, "softDeleteDays", 0, 0, 36500, &days))
        return;
    if (!redundancy)
        redundancy = "GeoRedundant";
    if (strcmp(redundancy, "GeoRedundant") && strcmp(redundancy, "LocallyRedundant")) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "redundancy must be GeoRedundant or LocallyRedundant");
        return;
    }
    if (days < VV_REPLICA_MIN_SOFT_DELETE_DAYS)
        days = VV_REPLICA_MIN_SOFT_DELETE_DAYS; /* a deletion there is never a loss here */
    row = vv_db_row(c->srv->db, &r, "SELECT id, replica_of IS NOT NULL AS rep FROM vaults "
                                    "WHERE uuid = ?", "s", c->param[0]);
    if (!row && r != VV_E_NOTFOUND) {
        vv_reply_internal(c, r);
        return;
    }
    if (row && !json_integer_value(json_object_get(row, "rep"))) {
        json_decref(row);
        vv_reply_error(c, 409, "VaultConflict",
                       "vault %s exists here and is not a replica (a vault of this server, or "
                       "a replica promoted by an unpairing)", c->param[0]);
        return;
    }
    if (!row && replica_create(c, name, redundancy, days) != 0)
        return;
    created = !row;
    json_decref(row);
    if (!created &&
        (r = vv_db_run(c->srv->db,
                       "UPDATE vaults SET soft_delete_days = MAX(soft_delete_days, ?) WHERE "
                       "uuid = ? AND replica_of IS NOT NULL",
                       "is", days, c->param[0])) < 0) {
        vv_reply_internal(c, r);
        return;
    }
    if (replica_vault(c, &vid, NULL, 0, NULL))
        return;
    reply_state(c, vid, created ? 201 : 200);
}

void vv_api_replica_vault_get(struct vv_call *c)
{
    int64_t vid;
    if (replica_vault(c, &vid, NULL, 0, NULL))
        return;
    reply_state(c, vid, 200);
}
