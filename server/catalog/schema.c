/*
 * schema.c: the catalog's tables and their versioned migrations.
 *
 * PRAGMA user_version holds the number of migrations applied. Each migration runs in
 * its own transaction with the version bump, so a crash leaves the catalog at one
 * version or the next. Migrations are only ever appended, never edited.
 *
 * Times are integer seconds since the epoch (UTC). The catalog is the truth for
 * what exists; the chunk store holds the bytes. Rules that must hold whatever the
 * code does are constraints: one vault per VM (protected_items.vm_uuid UNIQUE), no
 * policy, container or vault removed while an item refers to it (foreign keys).
 */
#include "catalog/catalog.h"

#include <stdio.h>

#include "err.h"
#include "log.h"

static const char *const migrations[] = {
    /* 1: the first schema. */
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  role TEXT NOT NULL CHECK (role IN ('Reader','Operator','Contributor','Owner')),"
    "  created INTEGER NOT NULL);"
    "CREATE TABLE vaults ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  uuid TEXT NOT NULL UNIQUE,"
    "  location TEXT NOT NULL,"
    "  redundancy TEXT NOT NULL CHECK (redundancy IN ('GeoRedundant','LocallyRedundant')),"
    "  soft_delete_state TEXT NOT NULL CHECK (soft_delete_state IN ('Enabled','Disabled')),"
    "  soft_delete_days INTEGER NOT NULL,"
    "  created INTEGER NOT NULL);"
    "CREATE TABLE containers ("
    "  id INTEGER PRIMARY KEY,"
    "  vault_id INTEGER NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  region TEXT NOT NULL,"
    "  agent_version TEXT,"
    "  registered INTEGER NOT NULL,"
    "  last_seen INTEGER,"
    "  UNIQUE (vault_id, name));"
    "CREATE TABLE tokens ("
    "  id TEXT PRIMARY KEY,"
    "  hash TEXT NOT NULL UNIQUE,"
    "  user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,"
    "  container_id INTEGER REFERENCES containers(id) ON DELETE CASCADE,"
    "  name TEXT,"
    "  created INTEGER NOT NULL,"
    "  expires INTEGER,"
    "  last_used INTEGER,"
    "  revoked INTEGER NOT NULL DEFAULT 0,"
    "  CHECK ((user_id IS NULL) <> (container_id IS NULL)));"
    "CREATE TABLE registration_secrets ("
    "  id INTEGER PRIMARY KEY,"
    "  vault_id INTEGER NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,"
    "  hash TEXT NOT NULL UNIQUE,"
    "  created INTEGER NOT NULL,"
    "  expires INTEGER NOT NULL,"
    "  created_by TEXT);"
    "CREATE TABLE policies ("
    "  id INTEGER PRIMARY KEY,"
    "  vault_id INTEGER NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  spec TEXT NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL,"
    "  UNIQUE (vault_id, name));"
    "CREATE TABLE protectable_items ("
    "  id INTEGER PRIMARY KEY,"
    "  container_id INTEGER NOT NULL REFERENCES containers(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  uuid TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  disks TEXT NOT NULL,"
    "  updated INTEGER NOT NULL,"
    "  UNIQUE (container_id, uuid));"
    "CREATE TABLE protected_items ("
    "  id INTEGER PRIMARY KEY,"
    "  vault_id INTEGER NOT NULL REFERENCES vaults(id),"
    "  container_id INTEGER NOT NULL REFERENCES containers(id),"
    "  name TEXT NOT NULL,"
    "  vm_uuid TEXT NOT NULL UNIQUE,"
    "  policy_id INTEGER REFERENCES policies(id),"
    "  last_policy TEXT,"
    "  state TEXT NOT NULL CHECK (state IN ('IRPending','Protected','ProtectionStopped')),"
    "  created INTEGER NOT NULL,"
    "  last_backup_time INTEGER,"
    "  last_backup_status TEXT);"
    "CREATE INDEX protected_items_vault ON protected_items(vault_id, name);"
    "CREATE TABLE recovery_points ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  vault_id INTEGER NOT NULL REFERENCES vaults(id),"
    "  item_id INTEGER NOT NULL REFERENCES protected_items(id),"
    "  time INTEGER NOT NULL,"
    "  expires INTEGER,"
    "  consistency TEXT NOT NULL,"
    "  parent TEXT NOT NULL DEFAULT '',"
    "  disks TEXT NOT NULL,"
    "  job_id TEXT);"
    "CREATE INDEX recovery_points_item ON recovery_points(item_id, time);"
    "CREATE TABLE jobs ("
    "  id TEXT PRIMARY KEY,"
    "  vault_id INTEGER NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,"
    "  item_id INTEGER REFERENCES protected_items(id) ON DELETE SET NULL,"
    "  item_name TEXT,"
    "  container_id INTEGER REFERENCES containers(id) ON DELETE SET NULL,"
    "  container_name TEXT,"
    "  operation TEXT NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('InProgress','Completed',"
    "    'CompletedWithWarnings','Failed','Cancelling','Cancelled')),"
    "  start_time INTEGER NOT NULL,"
    "  end_time INTEGER,"
    "  tasks TEXT NOT NULL DEFAULT '[]',"
    "  bytes_done INTEGER NOT NULL DEFAULT 0,"
    "  bytes_total INTEGER NOT NULL DEFAULT 0,"
    "  error_code TEXT,"
    "  error_message TEXT,"
    "  params TEXT NOT NULL DEFAULT '{}',"
    "  retain_until INTEGER,"
    "  recovery_point TEXT,"
    "  claimed INTEGER,"
    "  heartbeat INTEGER,"
    "  cancel_requested INTEGER NOT NULL DEFAULT 0,"
    "  created_by TEXT);"
    "CREATE INDEX jobs_vault ON jobs(vault_id, start_time);"
    "CREATE INDEX jobs_queue ON jobs(container_id, status, claimed);"
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY,"
    "  time INTEGER NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  target TEXT NOT NULL,"
    "  detail TEXT);",
    /* 2: what a Backup job read, sent and found already in the vault. */
    "ALTER TABLE jobs ADD COLUMN stats TEXT;",
    /* 3: selective disks of a protected item: {"setting": "include"|"exclude",
     * "disks": [...]}, NULL for all disks. */
    "ALTER TABLE protected_items ADD COLUMN disk_settings TEXT;",
    /* 4: schedules, retention and soft delete.
     * recovery_points: kind Scheduled | OnDemand; retain_until is what an on-demand
     *   backup asked for (its expiry whatever the policy); retained_by the tiers that
     *   keep the point ("Daily,Weekly"), recomputed with expires.
     * protected_items: sched_from is the instant after which the schedule's runs are
     *   due (the last scheduled run created, or when protection started), next_run
     *   the next one (NULL when not scheduled); stop_mode when stopped: 'Retain'
     *   (kept forever) or 'RetainAsPerPolicy' (policy_id stays for retention);
     *   deleted/purge_at: soft deleted at, purged at.
     * vaults: next_prune, when the daily prune and collection run next. */
    "ALTER TABLE recovery_points ADD COLUMN kind TEXT NOT NULL DEFAULT 'OnDemand' "
    "  CHECK (kind IN ('Scheduled','OnDemand'));"
    "ALTER TABLE recovery_points ADD COLUMN retain_until INTEGER;"
    "ALTER TABLE recovery_points ADD COLUMN retained_by TEXT;"
    "ALTER TABLE recovery_points ADD COLUMN scheduled_for INTEGER;"
    "UPDATE recovery_points SET retain_until = expires;"
    "CREATE INDEX recovery_points_expires ON recovery_points(vault_id, expires);"
    "ALTER TABLE protected_items ADD COLUMN sched_from INTEGER;"
    "ALTER TABLE protected_items ADD COLUMN next_run INTEGER;"
    "ALTER TABLE protected_items ADD COLUMN stop_mode TEXT "
    "  CHECK (stop_mode IN ('Retain','RetainAsPerPolicy'));"
    "ALTER TABLE protected_items ADD COLUMN deleted INTEGER;"
    "ALTER TABLE protected_items ADD COLUMN purge_at INTEGER;"
    "UPDATE protected_items SET stop_mode = 'Retain' WHERE state = 'ProtectionStopped';"
    "CREATE INDEX protected_items_next_run ON protected_items(next_run);"
    "ALTER TABLE vaults ADD COLUMN next_prune INTEGER;",
    /* 5: consistency. jobs: warnings, the JSON array of {code, message} a job that
     *   CompletedWithWarnings ended with; snapshot, the JSON object a backup reports
     *   about its point in time (scripts, freeze, consistency).
     * protected_items: script_settings, the item's own scriptSettings (canonical
     *   JSON), used instead of its policy's; NULL: the policy's. */
    "ALTER TABLE jobs ADD COLUMN warnings TEXT;"
    "ALTER TABLE jobs ADD COLUMN snapshot TEXT;"
    "ALTER TABLE protected_items ADD COLUMN script_settings TEXT;",
    /* 6: trust. containers: replace_until, until when a Contributor allows the next
     *   registration of the host's name to replace it (consumed by it), replace_by who.
     * recovery_points: shortened, 1 when a change of retention (a resume, a policy
     *   edit) brought the point's expiry forward: it is soft deleted when it expires,
     *   not removed; deleted/purge_at, soft deleted at and purged at; held, 1 once it
     *   is undeleted: kept until its item's data is deleted.
     * unlisted_points: store points the start removes unless the catalog lists them:
     *   every point the catalog stops listing (the trigger, in the transaction that
     *   deletes its row), so a removal from the store cut short is finished at the next
     *   start. Emptied by each start (recovery.c). A whole store point that is neither
     *   listed nor here is not understood: moved aside. */
    "ALTER TABLE containers ADD COLUMN replace_until INTEGER;"
    "ALTER TABLE containers ADD COLUMN replace_by TEXT;"
    "ALTER TABLE recovery_points ADD COLUMN shortened INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE recovery_points ADD COLUMN deleted INTEGER;"
    "ALTER TABLE recovery_points ADD COLUMN purge_at INTEGER;"
    "ALTER TABLE recovery_points ADD COLUMN held INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE unlisted_points (vault_uuid TEXT NOT NULL, name TEXT NOT NULL, "
    "  PRIMARY KEY (vault_uuid, name)) WITHOUT ROWID;"
    "CREATE TRIGGER recovery_points_unlisted AFTER DELETE ON recovery_points BEGIN "
    "  INSERT OR IGNORE INTO unlisted_points(vault_uuid, name) "
    "  SELECT uuid, OLD.name FROM vaults WHERE id = OLD.vault_id; END;",
    /* 7: replication to a paired server.
     * peers: the paired servers, at most one of each role (the PEER's role): on a
     *   primary its 'Secondary' (url, pin; its token and wrap secret are in
     *   DATA/pairing/secondary.json, 0600), on a secondary its 'Primary' (token_hash:
     *   the token it replicates with; the wrap secret in DATA/pairing/primary.json).
     *   max_rate (bytes/s, 0: none) and repl_window ("HH:MM-HH:MM" UTC, NULL: always)
     *   bound the primary's sending.
     * pair_invites: single-use pairing codes a secondary issued (hashed).
     * vaults: replica_of, on a secondary, the primary's region (NULL: not a replica);
     *   repl_error/repl_error_since, on a primary, why the last attempt failed (NULL
     *   when it worked); repl_last, the last point verified on the secondary (or
     *   received, on a replica); repl_rate its transfer rate (bytes/s); repl_bytes and
     *   repl_chunks, bytes and chunks sent (primary) or received (replica).
     * recovery_points: committed, when the vault committed it (server clock);
     *   replicated, when the secondary verified it (primary); damaged, when a
     *   verification found one of its chunks damaged.
     * repl_queue: changes of replicated points still to be sent, in order: 'Update'
     *   (expiry, soft delete, hold) and 'Delete' (the point left the catalog). */
    "CREATE TABLE peers ("
    "  id INTEGER PRIMARY KEY,"
    "  role TEXT NOT NULL UNIQUE CHECK (role IN ('Secondary','Primary')),"
    "  name TEXT NOT NULL,"
    "  region TEXT NOT NULL,"
    "  url TEXT,"
    "  pin TEXT,"
    "  token_hash TEXT UNIQUE,"
    "  created INTEGER NOT NULL,"
    "  created_by TEXT,"
    "  max_rate INTEGER NOT NULL DEFAULT 0,"
    "  repl_window TEXT,"
    "  last_contact INTEGER,"
    "  last_error TEXT);"
    "CREATE TABLE pair_invites ("
    "  hash TEXT PRIMARY KEY,"
    "  created INTEGER NOT NULL,"
    "  expires INTEGER NOT NULL,"
    "  created_by TEXT) WITHOUT ROWID;"
    "ALTER TABLE vaults ADD COLUMN replica_of TEXT;"
    "ALTER TABLE vaults ADD COLUMN repl_error TEXT;"
    "ALTER TABLE vaults ADD COLUMN repl_error_since INTEGER;"
    "ALTER TABLE vaults ADD COLUMN repl_last INTEGER;"
    "ALTER TABLE vaults ADD COLUMN repl_rate INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE vaults ADD COLUMN repl_bytes INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE vaults ADD COLUMN repl_chunks INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE recovery_points ADD COLUMN committed INTEGER;"
    "ALTER TABLE recovery_points ADD COLUMN replicated INTEGER;"
    "ALTER TABLE recovery_points ADD COLUMN damaged INTEGER;"
    "CREATE INDEX recovery_points_replicated ON recovery_points(vault_id, replicated);"
    "CREATE TABLE repl_queue ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  vault_id INTEGER NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,"
    "  point TEXT NOT NULL,"
    "  kind TEXT NOT NULL CHECK (kind IN ('Update','Delete')));"
    "CREATE TRIGGER recovery_points_repl_update AFTER UPDATE OF expires, retained_by, "
    "  deleted, purge_at, held ON recovery_points WHEN NEW.replicated IS NOT NULL BEGIN "
    "  INSERT INTO repl_queue(vault_id, point, kind) VALUES (NEW.vault_id, NEW.name, "
    "  'Update'); END;"
    "CREATE TRIGGER recovery_points_repl_delete AFTER DELETE ON recovery_points "
    "  WHEN OLD.replicated IS NOT NULL BEGIN "
    "  INSERT INTO repl_queue(vault_id, point, kind) VALUES (OLD.vault_id, OLD.name, "
    "  'Delete'); END;",
};

int vv_catalog_migrate(struct vv_db *db)
{
    int64_t have = 0;
    int r;
    const int64_t want = (int64_t)(sizeof(migrations) / sizeof(migrations[0]));

    r = vv_db_int(db, &have, "PRAGMA user_version", "");
    if (r < 0)
        return r;
    if (have > want) {
        vv_error("catalog: schema version %lld is newer than this vmvaultd knows (%lld); "
                 "run a newer vmvaultd",
                 (long long)have, (long long)want);
        return VV_E_BAD_VERSION;
    }
    for (int64_t v = have; v < want; v++) {
        char bump[64];
        snprintf(bump, sizeof(bump), "PRAGMA user_version=%lld", (long long)(v + 1));
        if ((r = vv_db_begin(db)) != 0)
            return r;
        if ((r = vv_db_exec(db, migrations[v])) != 0 || (r = vv_db_exec(db, bump)) != 0) {
            vv_db_rollback(db);
            vv_error("catalog: migration %lld failed", (long long)(v + 1));
            return r;
        }
        if ((r = vv_db_commit(db)) != 0)
            return r;
        vv_info("catalog: schema migrated to version %lld", (long long)(v + 1));
    }
    return 0;
}
