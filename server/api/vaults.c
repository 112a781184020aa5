/*
 * vaults.c: vaults, their backup properties (storage redundancy with its lock,
 * soft delete), vault credentials for host registration, and the overview the
 * dashboard opens a vault with (health of its items, recent jobs, storage, alerts).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "auth.h"
#include "err.h"
#include "log.h"
#include "recovery.h"
#include "replicator.h"
#include "scheduler.h"
#include "store/usage.h"

#define T(col) "strftime('%Y-%m-%dT%H:%M:%SZ', " col ", 'unixepoch')"

#define VAULT_SELECT                                                                          \
    "SELECT v.name, v.uuid AS id, v.location, v.redundancy AS storageRedundancy, "             \
    "  json_object('state', v.soft_delete_state, 'retentionDays', v.soft_delete_days) "       \
    "    AS \"softDelete:json\", "                                                            \
    "  strftime('%Y-%m-%dT%H:%M:%SZ', v.created, 'unixepoch') AS createdAt, "                  \
    "  (SELECT COUNT(*) FROM protected_items p WHERE p.vault_id = v.id) AS protectedItemCount, " \
    "  (SELECT COUNT(*) FROM recovery_points r WHERE r.vault_id = v.id "                      \
    "     AND r.deleted IS NULL) AS recoveryPointCount, "                                      \
    "  (SELECT COUNT(*) FROM recovery_points r WHERE r.vault_id = v.id "                      \
    "     AND r.deleted IS NOT NULL) AS softDeletedPointCount, "                               \
    "  (SELECT COUNT(*) FROM containers c WHERE c.vault_id = v.id) AS containerCount, "        \
    "  v.replica_of AS replicaOf "                                                            \
    "FROM vaults v "

static int redundancy_valid(const char *s)
{
    return !strcmp(s, "GeoRedundant") || !strcmp(s, "LocallyRedundant");
}

/* softDelete {"state": "Enabled"|"Disabled", "retentionDays": 14..180}; fills what is
 * given. Returns 0 or -1 after replying. */
static int parse_soft_delete(struct vv_call *c, const json_t *sd, const char **state,
                             int64_t *days)
{
    static const char *const fields[] = {"state", "retentionDays", NULL};
    if (!json_is_object(sd)) {
        vv_reply_error(c, 400, "InvalidParameter", "field 'softDelete' must be an object");
        return -1;
    }
    if (vv_body_only(c, sd, "softDelete", fields) || vv_body_str(c, sd, "state", 0, state) ||
        vv_body_int(c, sd, "retentionDays", 0, 14, 180, days))
        return -1;
    if (*state && strcmp(*state, "Enabled") && strcmp(*state, "Disabled")) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "softDelete.state must be 'Enabled' or 'Disabled', not '%s'", *state);
        return -1;
    }
    return 0;
}

static json_t *vault_json(struct vv_call *c, const char *name, int *err)
{
    return vv_db_row(c->srv->db, err, VAULT_SELECT "WHERE v.name = ?", "s", name);
}

/* The error of a failed step of a vault's creation: VV_E_IO from a write of its folders
 * or key (which say only "input/output") is VV_E_NOSPC when the data folder's file
 * system has (almost) no space left, so the answer is 507 VaultStorageFull. */
static int create_err(struct vv_call *c, int r)
{
    uint64_t avail = 0, total = 0;

    if (r == VV_E_IO && vv_store_space(c->srv->data_dir, &avail, &total) == 0 &&
        avail < (1u << 20))
        return VV_E_NOSPC;
    return r;
}

void vv_api_vault_create(struct vv_call *c)
{
    static const char *const fields[] = {"name", "location", "storageRedundancy", "softDelete",
                                         NULL};
    const char *name, *location, *redundancy = "GeoRedundant", *sd_state = "Enabled";
    int64_t sd_days = 14, exists = 0, vault_id;
    char uuid[VV_UUID_LEN];
    json_t *sd, *v;
    int r, err;

    if (vv_body_only(c, c->body, NULL, fields) || vv_body_str(c, c->body, "name", 1, &name) ||
        vv_body_str(c, c->body, "location", 1, &location) ||
        vv_body_str(c, c->body, "storageRedundancy", 0, &redundancy))
        return;
    if (!redundancy)
        redundancy = "GeoRedundant";
    if (vv_check_name(c, "vault name", name))
        return;
    if (!vv_region_valid(location)) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "location '%s' is not valid: 1 to 64 lower-case letters, digits or '-' "
                       "(for example westeurope)",
                       location);
        return;
    }
    if (!redundancy_valid(redundancy)) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "storageRedundancy must be 'GeoRedundant' or 'LocallyRedundant', not '%s'",
                       redundancy);
        return;
    }
    if ((sd = json_object_get(c->body, "softDelete"))) {
        const char *st = NULL;
        if (parse_soft_delete(c, sd, &st, &sd_days))
            return;
        if (st)
            sd_state = st;
    }
    r = vv_db_int(c->srv->db, &exists, "SELECT COUNT(*) FROM vaults WHERE name = ?", "s", name);
    if (r < 0)
        { vv_reply_internal(c, r); return; }
    if (exists) {
        vv_reply_error(c, 409, "VaultAlreadyExists", "a vault named '%s' already exists", name);
        return;
    }
    if ((r = vv_uuid_new(uuid)) != 0)
        { vv_reply_internal(c, r); return; }
    if ((r = vv_server_vault_create(c->srv, uuid, NULL)) != 0) {
        /* its own new folder: nothing partial left */
        vv_best_effort(vv_server_vault_remove(c->srv, uuid));
        vv_reply_internal(c, create_err(c, r));
        return;
    }
    if ((r = vv_db_begin(c->srv->db)) != 0)
        goto fail;
    r = vv_db_run(c->srv->db,
                  "INSERT INTO vaults(name, uuid, location, redundancy, soft_delete_state, "
                  "soft_delete_days, created) VALUES (?,?,?,?,?,?,?)",
                  "sssssii", name, uuid, location, redundancy, sd_state, sd_days, (int64_t)c->now);
    if (r < 0)
        goto fail;
    vault_id = vv_db_last_id(c->srv->db);
    /* the store describes its vault (for a catalog rebuild), and the key, store and
     * folders are durable, before the catalog lists the vault */
    if ((r = vv_server_policy_insert_default(c->srv, vault_id, c->now)) < 0 ||
        (r = vv_vault_meta_write(c->srv, uuid)) < 0 ||
        (r = vv_vault_folder_sync(c->srv, uuid)) < 0 || (r = vv_db_commit(c->srv->db)) != 0)
        goto fail;
    vv_info("vault '%s' created (%s, %s) by %s", name, location, redundancy, c->who.user);
    v = vault_json(c, name, &err);
    if (!v)
        { vv_reply_internal(c, err); return; }
    vv_reply(c, 201, v);
    return;
fail:
    vv_db_rollback(c->srv->db);
    vv_best_effort(vv_server_vault_remove(c->srv, uuid));
    vv_reply_internal(c, create_err(c, r));
}

void vv_api_vault_list(struct vv_call *c)
{
    vv_reply_list(c, vv_db_rows(c->srv->db, VAULT_SELECT "ORDER BY v.name", ""));
}

void vv_api_vault_show(struct vv_call *c)
{
    int err;
    json_t *v = vault_json(c, c->param[0], &err);
    if (!v) {
        if (err == VV_E_NOTFOUND)
            vv_reply_error(c, 404, "VaultNotFound", "vault '%s' does not exist", c->param[0]);
        else
            vv_reply_internal(c, err);
        return;
    }
    vv_reply(c, 200, v);
}

void vv_api_vault_delete(struct vv_call *c)
{
    int64_t id, items = 0, points = 0;
    char uuid[VV_UUID_LEN];
    int r;

    if (vv_find_vault(c, c->param[0], &id, uuid, NULL, 0))
        return;
    if (vv_db_int(c->srv->db, &items, "SELECT COUNT(*) FROM protected_items WHERE vault_id = ?",
                  "i", id) < 0 ||
        vv_db_int(c->srv->db, &points, "SELECT COUNT(*) FROM recovery_points WHERE vault_id = ?",
                  "i", id) < 0)
        { vv_reply_internal(c, VV_E_IO); return; }
    if (items || points) {
        int64_t soft = 0, purge = 0;
        char when[32];
        if (vv_db_int(c->srv->db, &soft,
                      "SELECT COUNT(*) FROM protected_items WHERE vault_id = ? AND deleted IS NOT NULL",
                      "i", id) < 0 ||
            vv_db_int(c->srv->db, &purge,
                      "SELECT COALESCE(MAX(purge_at), 0) FROM protected_items WHERE vault_id = ? "
                      "AND deleted IS NOT NULL",
                      "i", id) < 0) {
            vv_reply_internal(c, VV_E_IO);
            return;
        }
        vv_time_format_or_empty((time_t)purge, when);
        if (soft == items)
            vv_reply_error(c, 409, "VaultNotEmpty",
                           "vault '%s' cannot be deleted: %lld item(s) are soft deleted and their "
                           "%lld recovery point(s) are kept until %s (they can still be undeleted "
                           "until then); delete the vault after that",
                           c->param[0], (long long)soft, (long long)points, when);
        else
            vv_reply_error(c, 409, "VaultNotEmpty",
                           "vault '%s' cannot be deleted: it has %lld protected item(s) (%lld soft "
                           "deleted) and %lld recovery point(s); stop protection of every item "
                           "with its backup data deleted first",
                           c->param[0], (long long)items, (long long)soft, (long long)points);
        return;
    }
    if ((r = vv_db_begin(c->srv->db)) != 0)
        { vv_reply_internal(c, r); return; }
    if ((r = vv_db_run(c->srv->db, "DELETE FROM vaults WHERE id = ?", "i", id)) < 0) {
        vv_db_rollback(c->srv->db);
        { vv_reply_internal(c, r); return; }
    }
    vv_audit(c, "DeleteVault", c->param[0], NULL);
    if ((r = vv_db_commit(c->srv->db)) != 0) {
        vv_db_rollback(c->srv->db);
        { vv_reply_internal(c, r); return; }
    }
    /* The catalog no longer knows the vault; its folder goes now, or at the next
     * start if this fails half-way. */
    vv_best_effort(vv_server_vault_remove(c->srv, uuid));
    vv_reply(c, 200, NULL);
}

static json_t *props_json(struct vv_call *c, int64_t id, int *err)
{
    return vv_db_row(c->srv->db, err,
                     "SELECT redundancy AS storageRedundancy, "
                     "  EXISTS(SELECT 1 FROM protected_items p WHERE p.vault_id = v.id) "
                     "    AS \"storageRedundancyLocked:bool\", "
                     "  json_object('state', soft_delete_state, 'retentionDays', soft_delete_days) "
                     "    AS \"softDelete:json\" "
                     "FROM vaults v WHERE id = ?",
                     "i", id);
}

void vv_api_props_show(struct vv_call *c)
{
    int64_t id;
    int err;
    json_t *v;
    if (vv_find_vault(c, c->param[0], &id, NULL, NULL, 0))
        return;
    if (!(v = props_json(c, id, &err)))
        { vv_reply_internal(c, err); return; }
    json_object_set_new(v, "replication", vv_repl_vault_json(c->srv, id, c->now));
    vv_reply(c, 200, v);
}

void vv_api_props_set(struct vv_call *c)
{
    static const char *const fields[] = {"storageRedundancy", "softDelete", NULL};
    const char *redundancy = NULL, *sd_state = NULL;
    char current[32] = "", detail[256], uuid[VV_UUID_LEN];
    int64_t id, sd_days = -1, items = 0;
    json_t *sd, *v;
    int r, err;

    if (vv_find_vault(c, c->param[0], &id, uuid, NULL, 0))
        return;
    if (vv_body_only(c, c->body, NULL, fields) ||
        vv_body_str(c, c->body, "storageRedundancy", 0, &redundancy))
        return;
    if (redundancy && !redundancy_valid(redundancy)) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "storageRedundancy must be 'GeoRedundant' or 'LocallyRedundant', not '%s'",
                       redundancy);
        return;
    }
    if ((sd = json_object_get(c->body, "softDelete")) &&
        parse_soft_delete(c, sd, &sd_state, &sd_days))
        return;
    if (vv_db_text(c->srv->db, current, sizeof(current),
                   "SELECT redundancy FROM vaults WHERE id = ?", "i", id) < 0 ||
        vv_db_int(c->srv->db, &items, "SELECT COUNT(*) FROM protected_items WHERE vault_id = ?",
                  "i", id) < 0)
        { vv_reply_internal(c, VV_E_IO); return; }
    if (redundancy && strcmp(redundancy, current) != 0 && items > 0) {
        vv_reply_error(c, 409, "StorageModelModifyError",
                       "the storage redundancy of vault '%s' is locked at %s: it protects %lld "
                       "item(s). Stop protection of every item and delete its backup data, or "
                       "create a new vault with the redundancy you want",
                       c->param[0], current, (long long)items);
        return;
    }
    if ((r = vv_db_begin(c->srv->db)) != 0)
        { vv_reply_internal(c, r); return; }
    r = vv_db_run(c->srv->db,
                  "UPDATE vaults SET redundancy = COALESCE(?, redundancy), "
                  "soft_delete_state = COALESCE(?, soft_delete_state), "
                  "soft_delete_days = CASE WHEN ? >= 0 THEN ? ELSE soft_delete_days END "
                  "WHERE id = ?",
                  "ssiii", redundancy, sd_state, sd_days, sd_days, id);
    if (r < 0) {
        vv_db_rollback(c->srv->db);
        { vv_reply_internal(c, r); return; }
    }
    snprintf(detail, sizeof(detail), "storageRedundancy=%s softDelete=%s/%lld",
             redundancy ? redundancy : "(unchanged)", sd_state ? sd_state : "(unchanged)",
             (long long)sd_days);
    vv_audit(c, "SetBackupProperties", c->param[0], detail);
    if ((r = vv_db_commit(c->srv->db)) != 0) {
        vv_db_rollback(c->srv->db);
        { vv_reply_internal(c, r); return; }
    }
    /* the store's copy follows; the maintenance thread retries a failure */
    vv_best_effort(vv_vault_meta_write(c->srv, uuid));
    if (!(v = props_json(c, id, &err)))
        { vv_reply_internal(c, err); return; }
    vv_reply(c, 200, v);
}

void vv_api_credentials(struct vv_call *c)
{
    static const char *const fields[] = {"expiresInHours", NULL};
    char uuid[VV_UUID_LEN], location[80], secret[VV_TOKEN_MAX], hash[65], url[600], exp[32];
    int64_t id, hours = 48;
    const char *host;
    int r;

    if (vv_find_vault(c, c->param[0], &id, uuid, location, sizeof(location)))
        return;
    if (vv_body_only(c, c->body, NULL, fields) ||
        vv_body_int(c, c->body, "expiresInHours", 0, 1, 240, &hours))
        return;
    if ((r = vv_secret_new(secret, hash)) != 0)
        { vv_reply_internal(c, r); return; }
    r = vv_db_run(c->srv->db,
                  "INSERT INTO registration_secrets(vault_id, hash, created, expires, created_by) "
                  "VALUES (?,?,?,?,?)",
                  "isiis", id, hash, (int64_t)c->now, (int64_t)c->now + hours * 3600, c->who.user);
    if (r < 0)
        { vv_reply_internal(c, r); return; }
    host = vv_http_header(c->req, "Host");
    if (c->srv->public_url[0])
        snprintf(url, sizeof(url), "%s", c->srv->public_url);
    else if (host && *host && strlen(host) < 256 && !strpbrk(host, " /\\\"'<>"))
        snprintf(url, sizeof(url), "%s://%s", c->srv->tls_pin[0] ? "https" : "http", host);
    else
        snprintf(url, sizeof(url), "%s", c->srv->listen_url);
    vv_time_format_or_empty(c->now + (time_t)hours * 3600, exp);
    {
        char detail[64];
        snprintf(detail, sizeof(detail), "expiresAt=%s", exp);
        vv_audit(c, "IssueRegistrationSecret", c->param[0], detail);
    }
    vv_info("vault credentials for '%s' issued to %s, valid until %s", c->param[0], c->who.user,
            exp);
    /* With HTTPS, hosts trust the server by its key's pin (a self-signed certificate
     * has nothing else to be checked against); null for plain HTTP. */
    vv_reply(c, 201,
             json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s?,s:s?}", "vaultUrl", url, "vaultName",
                       c->param[0], "vaultId", uuid, "location", location,
                       "registrationSecret", secret, "expiresAt", exp, "certificatePin",
                       c->srv->tls_pin[0] ? c->srv->tls_pin : NULL, "certificateFingerprint",
                       c->srv->tls_fingerprint[0] ? c->srv->tls_fingerprint : NULL));
}

/* POST .../key/export (Owner; takes the lock itself: the key derivation takes a
 * fraction of a second and runs unlocked). The vault key wrapped with the caller's
 * passphrase (key.h vv_key_wrap, docs/format.md), audited as ExportVaultKey. */
void vv_api_vault_key_export(struct vv_call *c)
{
    static const char *const fields[] = {"passphrase", NULL};
    const char *pass;
    char uuid[VV_UUID_LEN], err[160];
    struct vv_repo *repo;
    char *text = NULL;
    json_t *v;
    int64_t id;
    int r, found;

    if (vv_body_only(c, c->body, NULL, fields) || vv_body_str(c, c->body, "passphrase", 1, &pass))
        return;
    if (strlen(pass) < VV_KEY_PASSPHRASE_MIN || strlen(pass) > 1024) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "passphrase must be %d to 1024 characters: the export is only as strong "
                       "as its passphrase; choose a long one and keep it apart from the file",
                       VV_KEY_PASSPHRASE_MIN);
        return;
    }
    vv_db_lock(c->srv->db);
    found = vv_find_vault(c, c->param[0], &id, uuid, NULL, 0) == 0;
    vv_db_unlock(c->srv->db);
    if (!found)
        return;
    if ((r = vv_server_repo(c->srv, uuid, &repo)) != 0 ||
        (r = vv_key_wrap(&repo->key, pass, VV_KEY_WRAP_ITERATIONS, c->param[0], uuid, &text)) != 0)
        { vv_reply_internal(c, r); return; }
    if (!(v = vv_json_parse(text, strlen(text), err, sizeof(err)))) {
        free(text);
        vv_reply_internal(c, VV_E_NOMEM);
        return;
    }
    free(text);
    vv_db_lock(c->srv->db);
    vv_audit(c, "ExportVaultKey", c->param[0], "wrapped with a passphrase (PBKDF2-HMAC-SHA256)");
    vv_db_unlock(c->srv->db);
    vv_warn("the key of vault '%s' was exported (wrapped with a passphrase) by %s", c->param[0],
            c->who.user);
    vv_reply(c, 200, v);
}

/* POST .../prune and .../garbageCollection: queue the server job now (or answer the
 * one already waiting). */
static void queue_server_job(struct vv_call *c, const char *operation)
{
    char job[VV_UUID_LEN];
    int64_t id;
    int r;

    if (vv_find_vault(c, c->param[0], &id, NULL, NULL, 0))
        return;
    if (vv_body_only(c, c->body, NULL, (const char *const[]){NULL}))
        return;
    if ((r = vv_server_job_queue(c->srv, id, operation, c->who.user, c->now, job)) < 0) {
        vv_reply_internal(c, r);
        return;
    }
    vv_server_worker_wake(c->srv);
    vv_info("%s of vault '%s' %s by %s: job %s", operation, c->param[0],
            r ? "requested" : "already queued, asked again", c->who.user, job);
    vv_reply(c, 202, vv_job_json(c, job));
}

void vv_api_vault_prune(struct vv_call *c) { queue_server_job(c, "Prune"); }

void vv_api_vault_gc(struct vv_call *c) { queue_server_job(c, "GarbageCollection"); }

void vv_api_vault_verify(struct vv_call *c) { queue_server_job(c, "Verify"); }

/* ---- overview ------------------------------------------------------------------ */

/* A point older than this makes a protected item "without a recent point". */
#define OVERVIEW_STALE_SECONDS (48 * 3600)

/* {"usedBytes", "logicalBytes", "deduplicationRatio", "recoveryPoints", ...}: the
 * store's size on disk against the data its recovery points hold, and the free space
 * of its file system. The size on disk comes from store/usage.h's cache, measured by
 * a background walk (never here: this runs under the catalog lock, and a walk of a
 * large store took most of a second); "usedBytesMeasuredAt" says when, null (with
 * "usedBytes" null) until the first walk is done. A walk is started when the vault's
 * jobs or points changed since the last one, or it is 10 minutes old. */
static json_t *overview_storage(struct vv_call *c, int64_t vid, const char *uuid, int *err)
{
    char path[VV_PATH_MAX], when[32];
    struct vv_usage u;
    uint64_t avail = 0, total = 0;
    int64_t used, logical, changes = 0;
    json_t *v;

    if ((*err = vv_server_vault_path(c->srv, uuid, "store", path, sizeof(path))) != 0)
        return NULL;
    v = vv_db_row(
        c->srv->db, err,
        "SELECT COALESCE(SUM(json_extract(d.value, '$.dataChunks') * "
        "  json_extract(d.value, '$.chunkSize')), 0) AS logicalBytes, "
        "  COUNT(DISTINCT CASE WHEN r.deleted IS NULL THEN r.id END) AS recoveryPoints, "
        "  COUNT(DISTINCT CASE WHEN r.deleted IS NOT NULL THEN r.id END) AS softDeletedPoints "
        "FROM recovery_points r, json_each(r.disks) d WHERE r.vault_id = ?",
        "i", vid);
    if (!v)
        return NULL;
    if ((*err = vv_db_int(c->srv->db, &changes,
                          "SELECT (SELECT COUNT(*) + COUNT(end_time) FROM jobs WHERE vault_id = ?1)"
                          " * 1000003 + (SELECT COUNT(*) FROM recovery_points WHERE vault_id = ?1)",
                          "i", vid)) < 0 ||
        (*err = vv_store_usage_get(path, (uint64_t)changes, c->now, &u)) < 0) {
        json_decref(v);
        return NULL;
    }
    *err = 0;
    used = (int64_t)u.bytes;
    logical = json_integer_value(json_object_get(v, "logicalBytes"));
    vv_time_format_or_empty(u.measured, when);
    json_object_set_new(v, "usedBytes", u.measured ? json_integer(used) : json_null());
    json_object_set_new(v, "usedBytesMeasuredAt", u.measured ? json_string(when) : json_null());
    json_object_set_new(v, "measuring", json_boolean(u.measuring));
    json_object_set_new(v, "deduplicationRatio",
                        u.measured && used > 0 && logical > 0
                            ? json_real((double)logical / (double)used)
                            : json_null());
    if (vv_store_space(path, &avail, &total) == 0) {
        json_object_set_new(v, "freeBytes", json_integer((json_int_t)avail));
        json_object_set_new(v, "fileSystemBytes", json_integer((json_int_t)total));
    }
    return v;
}

/* The alert of a store whose free space is below --min-free: appended to alerts. */
static void overview_space_alert(struct vv_call *c, json_t *alerts, json_t *storage)
{
    uint64_t avail, want;
    char msg[600], now_s[32];

    json_object_set_new(storage, "minFreeBytes", json_null());
    if (!vv_space_low(c->srv, &avail, &want, msg, sizeof(msg))) {
        if (want)
            json_object_set_new(storage, "minFreeBytes", json_integer((json_int_t)want));
        json_object_set_new(storage, "lowSpace", json_false());
        return;
    }
    json_object_set_new(storage, "minFreeBytes", json_integer((json_int_t)want));
    json_object_set_new(storage, "lowSpace", json_true());
    vv_time_format_or_empty(c->now, now_s);
    json_array_insert_new(alerts, 0,
                          json_pack("{s:s,s:s,s:n,s:s,s:n,s:s}", "severity", "Critical", "code",
                                    "VaultStorageLow", "item", "time", now_s, "job", "message",
                                    msg));
}

/* {"total", "byHealth"}: the vault's protected items by health. stale: the time
 * before which a newest point is too old. NULL with *err on failure. */
static json_t *overview_items(struct vv_call *c, int64_t vid, time_t stale, int *err)
{
    /* Health: Critical (the last backup failed), Warning (it completed with warnings,
     * or the newest point is older than 48 h), Pending (no point yet), Stopped
     * (protection stopped or suspended), else Healthy. */
    return vv_db_row(
        c->srv->db, err,
        "WITH h AS (SELECT CASE "
        "    WHEN i.deleted IS NOT NULL OR i.state = 'ProtectionStopped' "
        "      OR i.stop_mode IS NOT NULL THEN 'Stopped' "
        "    WHEN i.last_backup_status = 'Failed' THEN 'Critical' "
        "    WHEN NOT EXISTS (SELECT 1 FROM recovery_points r WHERE r.item_id = i.id) "
        "      THEN CASE WHEN i.created < ? THEN 'Warning' ELSE 'Pending' END "
        "    WHEN i.last_backup_status = 'CompletedWithWarnings' THEN 'Warning' "
        "    WHEN (SELECT MAX(r.time) FROM recovery_points r WHERE r.item_id = i.id) < ? "
        "      THEN 'Warning' "
        "    ELSE 'Healthy' END AS health "
        "  FROM protected_items i WHERE i.vault_id = ?) "
        "SELECT COUNT(*) AS total, json_object("
        "  'Healthy', COALESCE(SUM(health = 'Healthy'), 0), "
        "  'Warning', COALESCE(SUM(health = 'Warning'), 0), "
        "  'Critical', COALESCE(SUM(health = 'Critical'), 0), "
        "  'Pending', COALESCE(SUM(health = 'Pending'), 0), "
        "  'Stopped', COALESCE(SUM(health = 'Stopped'), 0)) AS \"byHealth:json\" FROM h",
        "iii", (int64_t)stale, (int64_t)stale, vid);
}

/* {"total", "byStatus"}: the vault's jobs of the last 24 hours, and those running.
 * NULL with *err on failure. */
static json_t *overview_jobs(struct vv_call *c, int64_t vid, int *err)
{
    return vv_db_row(
        c->srv->db, err,
        "SELECT COUNT(*) AS total, json_object("
        "  'InProgress', COALESCE(SUM(status IN ('InProgress', 'Cancelling')), 0), "
        "  'Completed', COALESCE(SUM(status = 'Completed'), 0), "
        "  'CompletedWithWarnings', COALESCE(SUM(status = 'CompletedWithWarnings'), 0), "
        "  'Failed', COALESCE(SUM(status = 'Failed'), 0), "
        "  'Cancelled', COALESCE(SUM(status = 'Cancelled'), 0)) AS \"byStatus:json\" "
        "FROM jobs WHERE vault_id = ? AND (start_time >= ? OR status IN "
        "  ('InProgress', 'Cancelling'))",
        "ii", vid, (int64_t)(c->now - 24 * 3600));
}

/* The alerts list. NULL on failure. */
static json_t *overview_alerts(struct vv_call *c, int64_t vid, time_t stale)
{
    /* Alerts: items whose last backup failed (with the failed job's error), then
     * protected items without a point in the last 48 h. */
    return vv_db_rows(
        c->srv->db,
        "SELECT 'Critical' AS severity, 'BackupFailed' AS code, i.name AS item, "
        "  " T("i.last_backup_time") " AS time, j.id AS job, "
        "  'The last backup of ' || i.name || ' failed' || "
        "    COALESCE(': ' || j.error_code || ': ' || j.error_message, '') AS message "
        "FROM protected_items i LEFT JOIN jobs j ON j.id = (SELECT id FROM jobs "
        "  WHERE item_id = i.id AND operation = 'Backup' AND status = 'Failed' "
        "  ORDER BY start_time DESC LIMIT 1) "
        "WHERE i.vault_id = ? AND i.last_backup_status = 'Failed' AND i.deleted IS NULL "
        "UNION ALL "
        "SELECT 'Warning', 'NoRecentRecoveryPoint', i.name, "
        "  " T("(SELECT MAX(r.time) FROM recovery_points r WHERE r.item_id = i.id)") ", NULL, "
        "  CASE WHEN NOT EXISTS (SELECT 1 FROM recovery_points r WHERE r.item_id = i.id) "
        "    THEN i.name || ' has no recovery point although it was protected ' || "
        "      " T("i.created") " || '; run Backup now and check its host''s agent' "
        "    ELSE i.name || ' has no recovery point newer than 48 hours (the newest is from ' || "
        "      " T("(SELECT MAX(r.time) FROM recovery_points r WHERE r.item_id = i.id)") " || ')' "
        "  END "
        "FROM protected_items i WHERE i.vault_id = ? AND i.deleted IS NULL "
        "  AND i.stop_mode IS NULL AND i.state <> 'ProtectionStopped' "
        "  AND COALESCE(i.last_backup_status, '') <> 'Failed' AND i.created < ? "
        "  AND COALESCE((SELECT MAX(r.time) FROM recovery_points r WHERE r.item_id = i.id), 0) < ?",
        "iiii", vid, vid, (int64_t)stale, (int64_t)stale);
}

/* The replication alert of a vault whose replication is not Healthy. */
static void overview_repl_alert(struct vv_call *c, json_t *alerts, const json_t *repl)
{
    const char *state = json_string_value(json_object_get(repl, "state"));
    const char *reason = json_string_value(json_object_get(repl, "reason"));
    const char *code = !state                          ? NULL
                       : !strcmp(state, "Broken")        ? "ReplicationBroken"
                       : !strcmp(state, "Lagging")       ? "ReplicationLagging"
                       : !strcmp(state, "NotConfigured") ? "ReplicationNotConfigured"
                                                         : NULL;
    char now_s[32];

    if (!code)
        return;
    vv_time_format_or_empty(c->now, now_s);
    json_array_append_new(alerts, json_pack("{s:s,s:s,s:n,s:s,s:n,s:s}", "severity",
                                            strcmp(code, "ReplicationBroken") ? "Warning"
                                                                              : "Critical",
                                            "code", code, "item", "time", now_s, "job",
                                            "message", reason ? reason : state));
}

void vv_api_vault_overview(struct vv_call *c)
{
    char uuid[VV_UUID_LEN], now_s[32];
    int64_t vid;
    int err = 0;
    json_t *out = NULL, *items = NULL, *jobs = NULL, *storage = NULL, *alerts = NULL, *vault = NULL;
    time_t stale = c->now - OVERVIEW_STALE_SECONDS;

    if (vv_find_vault(c, c->param[0], &vid, uuid, NULL, 0))
        return;
    vv_time_format_or_empty(c->now, now_s);
    if (!(items = overview_items(c, vid, stale, &err)) || !(jobs = overview_jobs(c, vid, &err)) ||
        !(storage = overview_storage(c, vid, uuid, &err)))
        goto fail;
    if (!(alerts = overview_alerts(c, vid, stale))) {
        err = VV_E_IO;
        goto fail;
    }
    overview_space_alert(c, alerts, storage);
    if (!(vault = vault_json(c, c->param[0], &err)))
        goto fail;
    if (!(out = json_object())) {
        err = VV_E_NOMEM;
        goto fail;
    }
    json_object_set(out, "vault", json_object_get(vault, "name"));
    json_object_set(out, "location", json_object_get(vault, "location"));
    json_object_set(out, "storageRedundancy", json_object_get(vault, "storageRedundancy"));
    json_object_set_new(out, "time", json_string(now_s));
    json_object_set_new(out, "protectedItems", items);
    json_object_set_new(out, "jobsLast24Hours", jobs);
    json_object_set_new(out, "storage", storage);
    json_object_set_new(out, "replication", vv_repl_vault_json(c->srv, vid, c->now));
    overview_repl_alert(c, alerts, json_object_get(out, "replication"));
    json_object_set_new(out, "alerts", alerts);
    json_decref(vault);
    vv_reply(c, 200, out);
    return;
fail:
    json_decref(items);
    json_decref(jobs);
    json_decref(storage);
    json_decref(alerts);
    json_decref(vault);
    vv_reply_internal(c, err ? err : VV_E_IO);
}
