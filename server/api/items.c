/*
 * items.c: protected items (enable, list, show, backup now, disable, resume) and
 * their recovery points.
 *
 * Rules: a VM is protected by one vault only (checked here, and enforced by the
 * catalog's unique vm_uuid); only a VM whose host is in the vault's region can be
 * protected; an item has at most one backup queued or running.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "err.h"
#include "jobs.h"
#include "log.h"
#include "recovery.h"
#include "scheduler.h"
#include "policy/scripts.h"
#include "store/repo.h"

#define T(col) "strftime('%Y-%m-%dT%H:%M:%SZ', " col ", 'unixepoch')"

#define ITEM_SELECT                                                                          \
    "SELECT i.name, v.name AS vault, c.name AS container, i.vm_uuid AS vmUuid, "               \
    "  CASE WHEN EXISTS (SELECT 1 FROM vaults rv WHERE rv.id = i.vault_id "                   \
    "    AND rv.replica_of IS NOT NULL) THEN i.last_policy ELSE p.name END AS policy, "          \
    "  CASE WHEN i.stop_mode = 'RetainAsPerPolicy' THEN 'BackupsSuspended' "                   \
    "    ELSE i.state END AS protectionState, "                                              \
    "  CASE WHEN i.deleted IS NULL THEN 'NotDeleted' ELSE 'ToBeDeleted' END AS deleteState, "  \
    "  " T("i.deleted") " AS deletedAt, " T("i.purge_at") " AS purgeAt, "                        \
    "  " T("i.next_run") " AS nextRun, json_extract(p.spec, '$.timeZone') AS timeZone, "         \
    "  i.last_backup_status AS lastBackupStatus, " T("i.last_backup_time") " AS lastBackupTime, " \
    "  (SELECT COUNT(*) FROM recovery_points r WHERE r.item_id = i.id "                        \
    "     AND r.deleted IS NULL) AS recoveryPointCount, "                                      \
    "  (SELECT COUNT(*) FROM recovery_points r WHERE r.item_id = i.id "                        \
    "     AND r.deleted IS NOT NULL) AS softDeletedPointCount, "                               \
    "  (SELECT r.name FROM recovery_points r WHERE r.item_id = i.id "                          \
    "     ORDER BY r.time DESC, r.id DESC LIMIT 1) AS latestRecoveryPoint, "                   \
    "  (SELECT r.consistency FROM recovery_points r WHERE r.item_id = i.id "                   \
    "     ORDER BY r.time DESC, r.id DESC LIMIT 1) AS latestRecoveryPointType, "               \
    "  (SELECT " T("r.time") " FROM recovery_points r WHERE r.item_id = i.id "                 \
    "     ORDER BY r.time DESC, r.id DESC LIMIT 1) AS latestRecoveryPointTime, "               \
    "  c.region, " T("i.created") " AS createdAt, i.disk_settings AS \"diskSettings:json\", "     \
    "  i.script_settings AS \"scriptSettings:json\", "                                        \
    "  CASE WHEN i.script_settings IS NOT NULL THEN 'Item' "                                  \
    "    WHEN json_extract(p.spec, '$.scriptSettings') IS NOT NULL THEN 'Policy' "              \
    "    ELSE 'None' END AS scriptSettingsSource "                                            \
    "FROM protected_items i JOIN vaults v ON v.id = i.vault_id "                             \
    "  JOIN containers c ON c.id = i.container_id LEFT JOIN policies p ON p.id = i.policy_id "

#define POINT_SELECT                                                                         \
    "SELECT r.name, i.name AS item, v.name AS vault, " T("r.time") " AS time, "                \
    "  CASE WHEN r.held THEN NULL ELSE " T("r.expires") " END AS expiresAt, "                 \
    "  r.consistency AS recoveryPointType, r.parent, "                                        \
    "  r.deleted IS NOT NULL AS \"softDeleted:bool\", " T("r.purge_at") " AS purgeAt, "        \
    "  r.disks AS \"disks:json\", "                                                      \
    "  r.job_id AS job, r.kind, "                                                            \
    "  CASE WHEN COALESCE(r.retained_by, '') = '' THEN json('[]') "                            \
    "    ELSE json('[\"' || replace(r.retained_by, ',', '\",\"') || '\"]') END "               \
    "    AS \"retainedBy:json\" "                                                             \
    "FROM recovery_points r JOIN protected_items i ON i.id = r.item_id "                     \
    "  JOIN vaults v ON v.id = r.vault_id "

/* Adds nextRunLocal (the next run in the policy's zone) to an item object. */
static void add_local(struct vv_call *c, json_t *item)
{
    const char *zone = json_string_value(json_object_get(item, "timeZone"));
    const char *next = json_string_value(json_object_get(item, "nextRun"));
    char local[48];
    time_t t;

    if (!zone || !next || vv_date_parse_utc(next, 0, &t) != 0)
        return;
    vv_sched_local_time(c->srv, zone, t, local);
    if (local[0])
        json_object_set_new(item, "nextRunLocal", json_string(local));
}

static json_t *item_json(struct vv_call *c, int64_t item_id)
{
    int err;
    json_t *v = vv_db_row(c->srv->db, &err, ITEM_SELECT "WHERE i.id = ?", "i", item_id);
    if (v)
        add_local(c, v);
    return v;
}

/* The item named in the URL (param[1]) in vault vid, with ?container= to choose
 * between hosts. 0 and *id, or -1 after replying. */
static int find_item(struct vv_call *c, int64_t vid, int64_t *id)
{
    const char *container = vv_http_query(c->req, "container");
    struct vv_stmt *st;
    int r, n = 0;

    r = vv_db_prepare(c->srv->db, &st,
                      "SELECT i.id FROM protected_items i JOIN containers c ON c.id = i.container_id "
                      "WHERE i.vault_id = ? AND i.name = ? AND (? IS NULL OR c.name = ?)",
                      "isss", vid, c->param[1], container, container);
    if (r) {
        vv_reply_internal(c, r);
        return -1;
    }
    while ((r = vv_stmt_step(st)) == 1) {
        *id = vv_stmt_int(st, 0);
        n++;
    }
    vv_stmt_free(st);
    if (r < 0) {
        vv_reply_internal(c, r);
        return -1;
    }
    if (n == 0) {
        vv_reply_error(c, 404, "ItemNotFound", "vault '%s' has no protected item '%s'%s%s",
                       c->param[0], c->param[1], container ? " on host " : "",
                       container ? container : "");
        return -1;
    }
    if (n > 1) {
        vv_reply_error(c, 409, "AmbiguousItemName",
                       "several hosts have a protected VM named '%s'; name the host with "
                       "?container= (--container-name)",
                       c->param[1]);
        return -1;
    }
    return 0;
}

/* 0 when no job of the item is queued or running; else replies 409
 * OperationInProgress (or 500) and returns -1. */
static int no_active_job(struct vv_call *c, int64_t item_id)
{
    char busy[80];
    int r = vv_db_text(c->srv->db, busy, sizeof(busy),
                       "SELECT id FROM jobs WHERE item_id = ? AND status IN "
                       "('InProgress','Cancelling') LIMIT 1",
                       "i", item_id);
    if (r == 0)
        return 0;
    if (r < 0)
        vv_reply_internal(c, r);
    else
        vv_reply_error(c, 409, "OperationInProgress",
                       "job %s is already running on '%s'; wait for it or stop it first", busy,
                       c->param[1]);
    return -1;
}

/* The diskSettings and scriptSettings of the request body, checked. Each *text is
 * the canonical JSON to store, NULL when the key is absent or null (caller frees);
 * *given says whether the key was in the body. -1 after replying 400. */
static int item_settings(struct vv_call *c, char **disks, int *disks_given, char **scripts,
                         int *scripts_given)
{
    static const char *const dfields[] = {"setting", "disks", NULL};
    json_t *ds, *ss;
    char err[600];

    *disks = *scripts = NULL;
    *disks_given = json_object_get(c->body, "diskSettings") != NULL;
    *scripts_given = json_object_get(c->body, "scriptSettings") != NULL;
    if ((ds = json_object_get(c->body, "diskSettings")) && !json_is_null(ds)) {
        const char *setting;
        json_t *list, *d;
        size_t k;
        if (!json_is_object(ds)) {
            vv_reply_error(c, 400, "InvalidParameter", "diskSettings must be an object");
            return -1;
        }
        if (vv_body_only(c, ds, "diskSettings", dfields) ||
            vv_body_str(c, ds, "setting", 1, &setting))
            return -1;
        list = json_object_get(ds, "disks");
        if ((strcmp(setting, "include") && strcmp(setting, "exclude")) || !json_is_array(list) ||
            json_array_size(list) < 1 || json_array_size(list) > 256) {
            vv_reply_error(c, 400, "InvalidParameter",
                           "diskSettings: setting is include or exclude, disks a list of 1 to "
                           "256 disk names");
            return -1;
        }
        json_array_foreach(list, k, d) {
            if (!json_is_string(d) || !vv_name_valid(json_string_value(d))) {
                vv_reply_error(c, 400, "InvalidParameter", "diskSettings.disks[%zu] is not a disk name",
                               k);
                return -1;
            }
        }
    }
    if ((ss = json_object_get(c->body, "scriptSettings")) && !json_is_null(ss)) {
        struct vv_script_settings sc;
        json_t *canon;
        if (vv_scripts_from_request(ss, &sc, err, sizeof(err)) != 0) {
            vv_reply_error(c, 400, "InvalidParameter", "%s", err);
            return -1;
        }
        canon = vv_scripts_to_json(&sc);
        *scripts = canon ? vv_json_dump(canon) : NULL;
        json_decref(canon);
        if (!*scripts) {
            vv_reply_internal(c, VV_E_NOMEM);
            return -1;
        }
    }
    if (ds && !json_is_null(ds) && !(*disks = vv_json_dump(ds))) {
        free(*scripts);
        *scripts = NULL;
        vv_reply_internal(c, VV_E_NOMEM);
        return -1;
    }
    return 0;
}

/* Audits a change of the script settings of item (scripts: the canonical JSON
 * stored, NULL when cleared): they decide what runs inside its guest. */
static void audit_scripts(struct vv_call *c, const char *item, const char *scripts)
{
    char detail[600];
    snprintf(detail, sizeof(detail), "vault=%s scriptSettings=%.500s", c->param[0],
             scripts ? scripts : "null");
    vv_audit(c, "SetItemScriptSettings", item, detail);
}

/* An enable request's body. Strings are borrowed from c->body; the settings texts
 * are owned (enable_req_release). */
struct enable_req {
    const char *vm, *container, *policy;
    char *disk_settings, *script_settings; /* canonical JSON, NULL when not given */
    int disks_given, scripts_given;
};

/* The VM to protect, as a host registered with the vault reports it. */
struct enable_vm {
    char name[80], uuid[80], region[80];
    int64_t container_id;
};

static void enable_req_release(struct enable_req *q)
{
    free(q->disk_settings);
    free(q->script_settings);
    q->disk_settings = q->script_settings = NULL;
}

/* vm, container and policy from the body. 0, or -1 after replying 400. */
static int enable_parse(struct vv_call *c, struct enable_req *q)
{
    static const char *const fields[] = {"vm", "container", "policy", "diskSettings",
                                         "scriptSettings", NULL};

    const json_t *ss = json_object_get(c->body, "scriptSettings");

    if (vv_body_only(c, c->body, NULL, fields) || vv_body_str(c, c->body, "vm", 1, &q->vm) ||
        vv_body_str(c, c->body, "container", 0, &q->container) ||
        vv_body_str(c, c->body, "policy", 0, &q->policy))
        return -1;
    /* protect is an Operator's; its scriptSettings (whether scripts run in the guest,
     * whether it is frozen) need the Contributor role, as every change of them does */
    if (ss && !json_is_null(ss) && c->who.role < VV_ROLE_CONTRIBUTOR) {
        vv_reply_error(c, 403, "AuthorizationFailed",
                       "scriptSettings need the Contributor or Owner role; '%s' is an "
                       "Operator. Protect the VM without them (it then uses its policy's), and "
                       "have a Contributor set them with 'vmvault protection update-for-vm "
                       "--script-settings'",
                       c->who.user);
        return -1;
    }
    if (!q->policy)
        q->policy = "DefaultPolicy";
    return 0;
}

/* The one VM of vault vid that q names (by name or UUID, on q's host if given). 0,
 * or -1 after replying. */
static int enable_find_vm(struct vv_call *c, int64_t vid, const struct enable_req *q,
                          struct enable_vm *vm)
{
    struct vv_stmt *st;
    int r, n = 0;

    r = vv_db_prepare(c->srv->db, &st,
                      "SELECT x.name, x.uuid, c.id, c.region FROM protectable_items x "
                      "JOIN containers c ON c.id = x.container_id "
                      "WHERE c.vault_id = ? AND (x.name = ? OR x.uuid = ?) "
                      "  AND (? IS NULL OR c.name = ?)",
                      "issss", vid, q->vm, q->vm, q->container, q->container);
    if (r) {
        vv_reply_internal(c, r);
        return -1;
    }
    while ((r = vv_stmt_step(st)) == 1) {
        snprintf(vm->name, sizeof(vm->name), "%s", vv_stmt_text(st, 0));
        snprintf(vm->uuid, sizeof(vm->uuid), "%s", vv_stmt_text(st, 1));
        vm->container_id = vv_stmt_int(st, 2);
        snprintf(vm->region, sizeof(vm->region), "%s", vv_stmt_text(st, 3));
        n++;
    }
    vv_stmt_free(st);
    if (r < 0) {
        vv_reply_internal(c, r);
        return -1;
    }
    if (n == 0) {
        vv_reply_error(c, 404, "ProtectableItemNotFound",
                       "no host registered with vault '%s' reports a VM '%s'%s%s; see "
                       "'vmvault protectable-item list'",
                       c->param[0], q->vm, q->container ? " on host " : "",
                       q->container ? q->container : "");
        return -1;
    }
    if (n > 1) {
        vv_reply_error(c, 409, "AmbiguousItemName",
                       "several hosts report a VM named '%s'; name the host (container) or give "
                       "the VM's UUID",
                       q->vm);
        return -1;
    }
    return 0;
}

/* 0 when vm may be protected by this vault (in location): no vault protects it yet
 * and its host is in the vault's region; else -1 after replying. */
static int enable_check_vm(struct vv_call *c, const struct enable_vm *vm, const char *location)
{
    char other[80] = "";
    int r = vv_db_text(c->srv->db, other, sizeof(other),
                       "SELECT v.name FROM protected_items i JOIN vaults v ON v.id = i.vault_id "
                       "WHERE i.vm_uuid = ?",
                       "s", vm->uuid);

    if (r < 0) {
        vv_reply_internal(c, r);
        return -1;
    }
    if (r == 1 && !strcmp(other, c->param[0])) {
        int64_t soft = 0;
        vv_best_effort(vv_db_int(
            c->srv->db, &soft, "SELECT deleted IS NOT NULL FROM protected_items WHERE vm_uuid = ?",
            "s", vm->uuid));
        if (soft) {
            vv_reply_error(c, 409, "ItemSoftDeleted",
                           "VM '%s' has soft-deleted backup data in vault '%s'; undelete it "
                           "('vmvault protection undelete') and resume its protection",
                           vm->name, other);
            return -1;
        }
        vv_reply_error(c, 409, "ItemAlreadyProtected",
                       "VM '%s' is already protected by vault '%s' (to restart a stopped "
                       "protection, use resume)",
                       vm->name, other);
        return -1;
    }
    if (r == 1) {
        vv_reply_error(c, 409, "VmAlreadyProtectedInAnotherVault",
                       "VM '%s' (%s) is already protected by vault '%s'; a VM can be protected "
                       "by one vault only. Stop its protection there first",
                       vm->name, vm->uuid, other);
        return -1;
    }
    if (strcmp(vm->region, location) != 0) {
        vv_reply_error(c, 409, "VmRegionMismatch",
                       "VM '%s' is on a host in region '%s' but vault '%s' is in '%s'; only VMs "
                       "in the vault's region can be protected. Use a vault in '%s'",
                       vm->name, vm->region, c->param[0], location, vm->region);
        return -1;
    }
    return 0;
}

/* The item's row, its schedule and the ConfigureBackup job, in one transaction. 0
 * with the item's id, or -1 after replying. */
static int enable_insert(struct vv_call *c, int64_t vid, int64_t pid, const struct enable_req *q,
                         const struct enable_vm *vm, int64_t *item_id, char job[VV_UUID_LEN])
{
    int r;

    if ((r = vv_db_begin(c->srv->db)) != 0) {
        vv_reply_internal(c, r);
        return -1;
    }
    r = vv_db_run(c->srv->db,
                  "INSERT INTO protected_items(vault_id, container_id, name, vm_uuid, policy_id, "
                  "state, created, disk_settings, script_settings) "
                  "VALUES (?,?,?,?,?,'IRPending',?,?,?)",
                  "iissiiss", vid, vm->container_id, vm->name, vm->uuid, pid, (int64_t)c->now,
                  q->disk_settings, q->script_settings);
    if (r == VV_E_EXISTS) {
        vv_db_rollback(c->srv->db);
        vv_reply_error(c, 409, "VmAlreadyProtectedInAnotherVault",
                       "VM '%s' is already protected by another vault", vm->name);
        return -1;
    }
    if (r >= 0) {
        *item_id = vv_db_last_id(c->srv->db);
        if ((r = vv_sched_item_reset(c->srv, *item_id, c->now)) >= 0 &&
            (r = vv_job_create(c, vid, *item_id, "ConfigureBackup", "Completed", "[]", 0, job)) >=
                0)
            r = vv_db_commit(c->srv->db);
    }
    if (r != 0) {
        vv_db_rollback(c->srv->db);
        vv_reply_internal(c, r);
        return -1;
    }
    return 0;
}

void vv_api_item_enable(struct vv_call *c)
{
    struct enable_req q = {0};
    struct enable_vm vm = {0};
    char location[80], job[VV_UUID_LEN], uuid[VV_UUID_LEN];
    int64_t vid, pid = 0, item_id;
    int r;

    /* checked in this order, so that a request with several faults gets the same
     * answer: vault, body fields, the VM, the policy, the settings */
    if (vv_find_vault(c, c->param[0], &vid, uuid, location, sizeof(location)) ||
        enable_parse(c, &q) || enable_find_vm(c, vid, &q, &vm) ||
        enable_check_vm(c, &vm, location) || vv_find_policy(c, vid, q.policy, NULL, &pid) ||
        item_settings(c, &q.disk_settings, &q.disks_given, &q.script_settings,
                      &q.scripts_given) ||
        enable_insert(c, vid, pid, &q, &vm, &item_id, job)) {
        enable_req_release(&q);
        return;
    }
    if (q.script_settings)
        audit_scripts(c, vm.name, q.script_settings);
    /* the store names the item and its host at once: a catalog rebuild after a crash
     * right now knows whose VM its points are */
    if ((r = vv_vault_meta_write(c->srv, uuid)) < 0)
        vv_warn("vault '%s': its metadata object does not name VM '%s' yet (%s); the "
                "server retries every minute, and a catalog rebuild before that would "
                "not know the VM's host", c->param[0], vm.name, vv_strerror(r));
    enable_req_release(&q);
    vv_info("protection enabled for VM '%s' (%s) in vault '%s' with policy '%s' by %s", vm.name,
            vm.uuid, c->param[0], q.policy, c->who.user);
    vv_reply(c, 201, json_pack("{s:o*,s:o*}", "item", item_json(c, item_id), "job",
                               vv_job_json(c, job)));
}

void vv_api_item_list(struct vv_call *c)
{
    const char *container = vv_http_query(c->req, "container");
    const char *policy = vv_http_query(c->req, "policy");
    const char *state = vv_http_query(c->req, "state");
    int64_t vid;

    json_t *rows, *row;
    size_t k;

    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0))
        return;
    rows = vv_db_rows(c->srv->db,
                      ITEM_SELECT "WHERE i.vault_id = ? AND (? IS NULL OR c.name = ?) "
                                  "AND (? IS NULL OR p.name = ?) AND (? IS NULL OR ? = CASE "
                                  "  WHEN i.stop_mode = 'RetainAsPerPolicy' THEN 'BackupsSuspended' "
                                  "  ELSE i.state END) ORDER BY i.name, c.name",
                      "issssss", vid, container, container, policy, policy, state, state);
    json_array_foreach(rows, k, row) add_local(c, row);
    vv_reply_list(c, rows);
}

void vv_api_item_show(struct vv_call *c)
{
    int64_t vid, id;
    json_t *v;
    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0) || find_item(c, vid, &id))
        return;
    if (!(v = item_json(c, id))) {
        vv_reply_internal(c, VV_E_IO);
        return;
    }
    vv_reply(c, 200, v);
}

void vv_api_item_backup(struct vv_call *c)
{
    static const char *const fields[] = {"retainUntil", NULL};
    static const char tasks[] = "[{\"name\":\"Take Snapshot\",\"status\":\"NotStarted\"},"
                                "{\"name\":\"Transfer data to vault\",\"status\":\"NotStarted\"}]";
    const char *retain = NULL;
    char state[32] = "", job[VV_UUID_LEN];
    int64_t vid, id;
    time_t until = c->now + 30 * 86400;
    int r;

    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0) || find_item(c, vid, &id))
        return;
    if (vv_body_only(c, c->body, NULL, fields) || vv_body_str(c, c->body, "retainUntil", 0, &retain))
        return;
    if (retain) {
        if (vv_date_parse_utc(retain, 1, &until) != 0) {
            vv_reply_error(c, 400, "InvalidParameter",
                           "retainUntil '%s' is not a date (YYYY-MM-DD) or a UTC time "
                           "(YYYY-MM-DDTHH:MM:SSZ)",
                           retain);
            return;
        }
        if (until <= c->now) {
            vv_reply_error(c, 400, "InvalidParameter",
                           "retainUntil '%s' is in the past; give a later day", retain);
            return;
        }
        if (until > c->now + (time_t)99 * 366 * 86400) {
            vv_reply_error(c, 400, "InvalidParameter",
                           "retainUntil '%s' is more than 99 years away", retain);
            return;
        }
    }
    if ((r = vv_db_text(c->srv->db, state, sizeof(state),
                        "SELECT state FROM protected_items WHERE id = ?", "i", id)) < 0) {
        vv_reply_internal(c, r);
        return;
    }
    if (!strcmp(state, "ProtectionStopped")) {
        vv_reply_error(c, 409, "ItemNotProtected",
                       "protection of '%s' is stopped; resume it before taking a backup",
                       c->param[1]);
        return;
    }
    if (no_active_job(c, id))
        return;
    {
        uint64_t avail, want;
        char msg[600];
        if (vv_space_low(c->srv, &avail, &want, msg, sizeof(msg))) {
            vv_reply_error(c, 507, "VaultStorageLow", "%s", msg);
            return;
        }
    }
    if ((r = vv_job_create(c, vid, id, "Backup", "InProgress", tasks, until, job)) < 0) {
        vv_reply_internal(c, r);
        return;
    }
    vv_info("backup of '%s' in vault '%s' requested by %s: job %s", c->param[1], c->param[0],
            c->who.user, job);
    vv_reply(c, 202, vv_job_json(c, job));
}

struct purge_list {
    char (*names)[VV_POINT_ID_MAX];
    size_t n;
};

/* Delete an item and its points now (vault soft delete disabled). Catalog locked,
 * transaction open; the store objects go after the commit (pl). */
static int delete_now(struct vv_call *c, int64_t vid, int64_t id, struct purge_list *pl,
                      char job[VV_UUID_LEN])
{
    struct vv_stmt *st;
    char detail[96];
    int r;

    if ((r = vv_db_prepare(c->srv->db, &st, "SELECT name FROM recovery_points WHERE item_id = ?",
                           "i", id)) != 0)
        return r;
    while ((r = vv_stmt_step(st)) == 1) {
        void *grown = realloc(pl->names, (pl->n + 1) * sizeof(*pl->names));
        if (!grown) {
            r = VV_E_NOMEM;
            break;
        }
        pl->names = grown;
        snprintf(pl->names[pl->n++], VV_POINT_ID_MAX, "%s", vv_stmt_text(st, 0));
    }
    vv_stmt_free(st);
    if (r < 0)
        return r;
    if ((r = vv_job_create(c, vid, id, "DeleteBackupData", "Completed", "[]", 0, job)) < 0 ||
        (r = vv_db_run(c->srv->db, "DELETE FROM recovery_points WHERE item_id = ?", "i", id)) < 0 ||
        (r = vv_db_run(c->srv->db, "DELETE FROM protected_items WHERE id = ?", "i", id)) < 0)
        return r;
    snprintf(detail, sizeof(detail), "vault=%s recoveryPoints=%zu softDelete=Disabled",
             c->param[0], pl->n);
    vv_audit(c, "DeleteBackupData", c->param[1], detail);
    return 0;
}

/* A disable request's body: the flags of the comment above vv_api_item_disable. */
struct disable_req {
    int del, per_policy;
};

/* What the catalog says about the item and its vault's soft delete. */
struct disable_facts {
    char state[32], mode[32], sd_state[16];
    int64_t deleted, sd_days;
};

static int disable_parse(struct vv_call *c, struct disable_req *q)
{
    static const char *const fields[] = {"deleteBackupData", "retainAsPerPolicy", NULL};

    if (vv_body_only(c, c->body, NULL, fields) ||
        vv_body_bool(c, c->body, "deleteBackupData", &q->del) ||
        vv_body_bool(c, c->body, "retainAsPerPolicy", &q->per_policy))
        return -1;
    if (q->del && q->per_policy) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "deleteBackupData and retainAsPerPolicy exclude each other");
        return -1;
    }
    return 0;
}

/* Load f for item id of vault vid and refuse a stop that is done already. 0, or -1
 * after replying. */
static int disable_check(struct vv_call *c, int64_t vid, int64_t id, const struct disable_req *q,
                         struct disable_facts *f)
{
    char purge[32] = "";
    int r;

    if ((r = vv_db_text(c->srv->db, f->state, sizeof(f->state),
                        "SELECT state FROM protected_items WHERE id = ?", "i", id)) < 0 ||
        (r = vv_db_text(c->srv->db, f->mode, sizeof(f->mode),
                        "SELECT COALESCE(stop_mode, '') FROM protected_items WHERE id = ?", "i",
                        id)) < 0 ||
        (r = vv_db_int(c->srv->db, &f->deleted,
                       "SELECT deleted IS NOT NULL FROM protected_items WHERE id = ?", "i", id)) < 0 ||
        (r = vv_db_text(c->srv->db, f->sd_state, sizeof(f->sd_state),
                        "SELECT soft_delete_state FROM vaults WHERE id = ?", "i", vid)) < 0 ||
        (r = vv_db_int(c->srv->db, &f->sd_days, "SELECT soft_delete_days FROM vaults WHERE id = ?",
                       "i", vid)) < 0) {
        vv_reply_internal(c, r);
        return -1;
    }
    if (f->deleted) {
        vv_best_effort(
            vv_db_text(c->srv->db, purge, sizeof(purge),
                       "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', purge_at, 'unixepoch') FROM "
                       "protected_items WHERE id = ?",
                       "i", id));
        vv_reply_error(c, 409, "ItemAlreadyDeleted",
                       "the backup data of '%s' is already soft deleted; it is purged at %s "
                       "unless undeleted before ('vmvault protection undelete')",
                       c->param[1], purge);
        return -1;
    }
    if (!q->del && !strcmp(f->state, "ProtectionStopped") &&
        !strcmp(f->mode, q->per_policy ? "RetainAsPerPolicy" : "Retain")) {
        vv_reply_error(c, 409, "ItemAlreadyStopped",
                       "protection of '%s' is already stopped (its data is retained%s)",
                       c->param[1], q->per_policy ? " as per policy" : "");
        return -1;
    }
    if (q->per_policy && !strcmp(f->state, "ProtectionStopped")) {
        vv_reply_error(c, 409, "ItemAlreadyStopped",
                       "protection of '%s' is stopped with its data retained forever; resume it "
                       "first to retain it as per a policy",
                       c->param[1]);
        return -1;
    }
    return 0;
}

/* Stop the item's schedule, keeping its points (retained, or soft deleted). Catalog
 * locked, transaction open. 0 or <0 vv_err. */
static int disable_stop(struct vv_call *c, int64_t vid, int64_t id, const struct disable_req *q,
                        const struct disable_facts *f, char job[VV_UUID_LEN])
{
    int r;

    /* Stop the schedule; keep the policy only to retain as per it. */
    r = vv_db_run(c->srv->db,
                  "UPDATE protected_items SET state = 'ProtectionStopped', next_run = NULL, "
                  "  stop_mode = ?, "
                  "  last_policy = CASE WHEN ? THEN last_policy ELSE COALESCE("
                  "    (SELECT name FROM policies WHERE id = policy_id), last_policy) END, "
                  "  policy_id = CASE WHEN ? THEN policy_id END WHERE id = ?",
                  "siii", q->per_policy ? "RetainAsPerPolicy" : "Retain", (int64_t)q->per_policy,
                  (int64_t)q->per_policy, id);
    if (r >= 0 && q->del)
        r = vv_db_run(c->srv->db,
                      "UPDATE protected_items SET deleted = ?, purge_at = ? WHERE id = ?", "iii",
                      (int64_t)c->now, (int64_t)c->now + f->sd_days * 86400, id);
    if (r >= 0 && !q->del)
        r = vv_retention_refresh(c->srv, id);
    if (r < 0 || (r = vv_job_create(c, vid, id, q->del ? "DeleteBackupData" : "DisableBackup",
                                    "Completed", "[]", 0, job)) < 0)
        return r;
    if (q->del) {
        char detail[128];
        snprintf(detail, sizeof(detail), "vault=%s softDelete=Enabled days=%lld", c->param[0],
                 (long long)f->sd_days);
        vv_audit(c, "DeleteBackupData", c->param[1], detail);
    } else {
        vv_audit(c, q->per_policy ? "SuspendBackups" : "DisableProtection", c->param[1],
                 c->param[0]);
    }
    return 0;
}

/* Remove from the store of vault uuid the points pl lists, which the catalog forgot:
 * a point left behind goes at the next start or prune. */
static void purge_points(struct vv_call *c, const char *uuid, const struct purge_list *pl)
{
    struct vv_repo *repo;

    if (vv_server_repo(c->srv, uuid, &repo) != 0)
        return;
    for (size_t i = 0; i < pl->n; i++)
        if (vv_repo_point_purge(repo, pl->names[i]) != 0)
            vv_warn("recovery point %s: left in the store; the next start or prune "
                    "removes it", pl->names[i]);
}

/*
 * Stop protection. Body fields (all optional):
 *   deleteBackupData   the item's points go: soft deleted for the vault's soft-delete
 *                      days when its soft delete is Enabled (undelete brings them
 *                      back), else at once
 *   retainAsPerPolicy  keep the points as long as the policy says (BackupsSuspended);
 *                      without it they are kept forever (ProtectionStopped)
 */
void vv_api_item_disable(struct vv_call *c)
{
    char job[VV_UUID_LEN], uuid[VV_UUID_LEN];
    int64_t vid, id;
    struct disable_req q = {0, 0};
    struct disable_facts f = {"", "", "", 0, 14};
    struct purge_list pl = {NULL, 0};
    json_t *item = NULL;
    int at_once, r;

    if (vv_find_vault(c, c->param[0], &vid, uuid, NULL, 0) || find_item(c, vid, &id) ||
        disable_parse(c, &q) || no_active_job(c, id) || disable_check(c, vid, id, &q, &f))
        return;
    if ((r = vv_db_begin(c->srv->db)) != 0) {
        vv_reply_internal(c, r);
        return;
    }
    at_once = q.del && strcmp(f.sd_state, "Enabled") != 0; /* delete at once */
    r = at_once ? delete_now(c, vid, id, &pl, job) : disable_stop(c, vid, id, &q, &f, job);
    if (r < 0 || (r = vv_db_commit(c->srv->db)) != 0) {
        free(pl.names);
        vv_db_rollback(c->srv->db);
        vv_reply_internal(c, r);
        return;
    }
    if (pl.n || at_once) {
        /* The catalog forgot the points; their store objects go now (or at the next
         * start, whose recovery removes points the catalog does not list). */
        purge_points(c, uuid, &pl);
        vv_info("protection of '%s' in vault '%s' stopped by %s; %zu recovery point(s) deleted",
                c->param[1], c->param[0], c->who.user, pl.n);
    } else {
        item = item_json(c, id);
        vv_info("protection of '%s' in vault '%s' stopped by %s; data %s", c->param[1],
                c->param[0], c->who.user,
                q.del ? "soft deleted" : q.per_policy ? "retained as per policy" : "retained");
    }
    free(pl.names);
    vv_reply(c, 200, json_pack("{s:o?,s:o*}", "item", item, "job", vv_job_json(c, job)));
}

/* A resume that names another policy than the item's own (its current one, else the
 * one it was stopped with) changes its retention: that needs a Contributor. 0, or -1
 * after replying 403. */
static int resume_may_change(struct vv_call *c, const char *policy, const char *own)
{
    if (!policy || (own[0] && !strcmp(policy, own)) || c->who.role >= VV_ROLE_CONTRIBUTOR)
        return 0;
    vv_reply_error(c, 403, "AuthorizationFailed",
                   "resuming '%s' with policy '%s'%s%s%s changes its retention and needs the "
                   "Contributor or Owner role; '%s' is an Operator: resume without 'policy' to "
                   "keep its own",
                   c->param[1], policy, own[0] ? " instead of its policy '" : "",
                   own[0] ? own : "", own[0] ? "'" : "", c->who.user);
    return -1;
}

/* Resume protection of a stopped item with policy pid: its schedule starts now, and
 * points whose expiry this brings forward are marked to be soft deleted when they
 * expire (vv_retention_change_*): *shortened counts them. Catalog locked; one
 * transaction. 0 or <0. */
static int resume_apply(struct vv_call *c, int64_t vid, int64_t id, int64_t pid,
                        char job[VV_UUID_LEN], int64_t *shortened)
{
    struct vv_retention_change ch;
    int r;

    if ((r = vv_db_begin(c->srv->db)) != 0)
        return r;
    r = vv_retention_change_begin(c->srv, id, 0, &ch);
    if (r >= 0)
        r = vv_db_run(c->srv->db,
                      "UPDATE protected_items SET policy_id = ?, last_policy = NULL, "
                      "stop_mode = NULL, "
                      "state = CASE WHEN EXISTS(SELECT 1 FROM recovery_points r "
                      "  WHERE r.item_id = protected_items.id) "
                      "  THEN 'Protected' ELSE 'IRPending' END WHERE id = ?",
                      "ii", pid, id);
    if (r >= 0)
        r = vv_sched_item_reset(c->srv, id, c->now);
    if (r >= 0)
        r = vv_retention_refresh(c->srv, id);
    if (r >= 0)
        r = vv_retention_change_end(c->srv, &ch);
    *shortened = ch.shortened;
    vv_retention_change_release(&ch);
    if (r < 0 || (r = vv_job_create(c, vid, id, "ConfigureBackup", "Completed", "[]", 0, job)) < 0 ||
        (r = vv_db_commit(c->srv->db)) != 0) {
        vv_db_rollback(c->srv->db);
        return r < 0 ? r : VV_E_IO;
    }
    return 0;
}

void vv_api_item_resume(struct vv_call *c)
{
    static const char *const fields[] = {"policy", NULL};
    const char *policy = NULL;
    char state[32] = "", last[80] = "", cur[80] = "", job[VV_UUID_LEN], detail[256];
    int64_t vid, id, pid = 0, deleted = 0, shortened = 0;
    int r;

    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0) || find_item(c, vid, &id))
        return;
    if (vv_body_only(c, c->body, NULL, fields) || vv_body_str(c, c->body, "policy", 0, &policy))
        return;
    if ((r = vv_db_text(c->srv->db, state, sizeof(state),
                        "SELECT state FROM protected_items WHERE id = ?", "i", id)) < 0 ||
        (r = vv_db_text(c->srv->db, last, sizeof(last),
                        "SELECT COALESCE(last_policy, '') FROM protected_items WHERE id = ?", "i",
                        id)) < 0 ||
        (r = vv_db_text(c->srv->db, cur, sizeof(cur),
                        "SELECT COALESCE(p.name, '') FROM protected_items i LEFT JOIN policies p "
                        "ON p.id = i.policy_id WHERE i.id = ?",
                        "i", id)) < 0 ||
        (r = vv_db_int(c->srv->db, &deleted,
                       "SELECT deleted IS NOT NULL FROM protected_items WHERE id = ?", "i", id)) < 0) {
        vv_reply_internal(c, r);
        return;
    }
    if (deleted) {
        vv_reply_error(c, 409, "ItemSoftDeleted",
                       "the backup data of '%s' is soft deleted; undelete it first ('vmvault "
                       "protection undelete'), then resume",
                       c->param[1]);
        return;
    }
    if (strcmp(state, "ProtectionStopped") != 0) {
        vv_reply_error(c, 409, "ItemAlreadyProtected", "'%s' is already protected (%s)",
                       c->param[1], state);
        return;
    }
    if (resume_may_change(c, policy, cur[0] ? cur : last))
        return;
    if (!policy)
        policy = cur[0] ? cur : last[0] ? last : "DefaultPolicy";
    if (vv_find_policy(c, vid, policy, "; name another with 'policy'", &pid))
        return;
    if ((r = resume_apply(c, vid, id, pid, job, &shortened)) != 0) {
        vv_reply_internal(c, r);
        return;
    }
    snprintf(detail, sizeof(detail), "vault=%s policy=%s previousPolicy=%s pointsShortened=%lld",
             c->param[0], policy, cur[0] ? cur : last[0] ? last : "-", (long long)shortened);
    vv_audit(c, "ResumeProtection", c->param[1], detail);
    vv_info("protection of '%s' in vault '%s' resumed with policy '%s' by %s", c->param[1],
            c->param[0], policy, c->who.user);
    vv_reply(c, 200, item_json(c, id));
}

/* Bring back soft-deleted backup data: the item returns to ProtectionStopped with its
 * data retained (resume to protect it again). */
void vv_api_item_undelete(struct vv_call *c)
{
    char job[VV_UUID_LEN];
    int64_t vid, id, deleted = 0;
    int r;

    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0) || find_item(c, vid, &id))
        return;
    if (vv_body_only(c, c->body, NULL, (const char *const[]){NULL}))
        return;
    if ((r = vv_db_int(c->srv->db, &deleted,
                       "SELECT deleted IS NOT NULL FROM protected_items WHERE id = ?", "i", id)) < 0) {
        vv_reply_internal(c, r);
        return;
    }
    if (!deleted) {
        vv_reply_error(c, 409, "ItemNotDeleted",
                       "the backup data of '%s' is not soft deleted; there is nothing to undelete",
                       c->param[1]);
        return;
    }
    if ((r = vv_db_begin(c->srv->db)) != 0) {
        vv_reply_internal(c, r);
        return;
    }
    r = vv_db_run(c->srv->db,
                  "UPDATE protected_items SET deleted = NULL, purge_at = NULL, "
                  "  state = 'ProtectionStopped', stop_mode = 'Retain' WHERE id = ?",
                  "i", id);
    if (r >= 0)
        r = vv_retention_refresh(c->srv, id);
    if (r < 0 || (r = vv_job_create(c, vid, id, "Undelete", "Completed", "[]", 0, job)) < 0) {
        vv_db_rollback(c->srv->db);
        vv_reply_internal(c, r);
        return;
    }
    vv_audit(c, "UndeleteBackupData", c->param[1], c->param[0]);
    if ((r = vv_db_commit(c->srv->db)) != 0) {
        vv_db_rollback(c->srv->db);
        vv_reply_internal(c, r);
        return;
    }
    vv_info("backup data of '%s' in vault '%s' undeleted by %s", c->param[1], c->param[0],
            c->who.user);
    vv_reply(c, 200, json_pack("{s:o*,s:o*}", "item", item_json(c, id), "job", vv_job_json(c, job)));
}

/* Bring back a recovery point soft deleted because a change of retention brought its
 * expiry forward: it is kept (held) until its item's data is deleted. Operator, as
 * an item's undelete. Audited. */
void vv_api_point_undelete(struct vv_call *c)
{
    int64_t vid, id, deleted = 0;
    char detail[160];
    int r;

    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0) || find_item(c, vid, &id) ||
        vv_body_only(c, c->body, NULL, (const char *const[]){NULL}))
        return;
    r = vv_db_int(c->srv->db, &deleted,
                  "SELECT deleted IS NOT NULL FROM recovery_points WHERE item_id = ? AND name = ?",
                  "is", id, c->param[2]);
    if (r == 0) {
        vv_reply_error(c, 404, "RecoveryPointNotFound", "'%s' has no recovery point '%s'",
                       c->param[1], c->param[2]);
        return;
    }
    if (r < 0) {
        vv_reply_internal(c, r);
        return;
    }
    if (!deleted) {
        vv_reply_error(c, 409, "RecoveryPointNotDeleted",
                       "recovery point %s of '%s' is not soft deleted; there is nothing to "
                       "undelete",
                       c->param[2], c->param[1]);
        return;
    }
    if ((r = vv_db_run(c->srv->db,
                       "UPDATE recovery_points SET deleted = NULL, purge_at = NULL, held = 1 "
                       "WHERE item_id = ? AND name = ?",
                       "is", id, c->param[2])) < 0) {
        vv_reply_internal(c, r);
        return;
    }
    snprintf(detail, sizeof(detail), "vault=%s recoveryPoint=%s", c->param[0], c->param[2]);
    vv_audit(c, "UndeleteRecoveryPoint", c->param[1], detail);
    vv_info("recovery point %s of '%s' in vault '%s' undeleted by %s", c->param[2], c->param[1],
            c->param[0], c->who.user);
    vv_api_point_show(c);
}

void vv_api_point_list(struct vv_call *c)
{
    const char *sd = vv_http_query(c->req, "startDate"), *ed = vv_http_query(c->req, "endDate");
    time_t from = 0, to = (time_t)253402300799; /* 9999-12-31 */
    int64_t vid, id;

    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0) || find_item(c, vid, &id))
        return;
    if ((sd && vv_date_parse_utc(sd, 0, &from) != 0) || (ed && vv_date_parse_utc(ed, 1, &to) != 0)) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "startDate and endDate are dates (YYYY-MM-DD) or UTC times");
        return;
    }
    vv_reply_list(c, vv_db_rows(c->srv->db,
                                POINT_SELECT "WHERE r.item_id = ? AND r.time >= ? AND r.time <= ? "
                                             "ORDER BY r.time DESC, r.id DESC",
                                "iii", id, (int64_t)from, (int64_t)to));
}

void vv_api_point_show(struct vv_call *c)
{
    int64_t vid, id;
    json_t *v;
    int err;

    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0) || find_item(c, vid, &id))
        return;
    v = vv_db_row(c->srv->db, &err, POINT_SELECT "WHERE r.item_id = ? AND r.name = ?", "is", id,
                  c->param[2]);
    if (!v) {
        if (err == VV_E_NOTFOUND)
            vv_reply_error(c, 404, "RecoveryPointNotFound",
                           "'%s' has no recovery point '%s'", c->param[1], c->param[2]);
        else
            vv_reply_internal(c, err);
        return;
    }
    vv_reply(c, 200, v);
}

/* A restore request's body, checked. Strings are borrowed from c->body. */
struct restore_req {
    const char *mode, *dir, *format, *target_name, *host;
    json_t *disks; /* the disk names asked for, NULL for all */
};

static int restore_parse(struct vv_call *c, struct restore_req *q)
{
    static const char *const fields[] = {"restoreMode", "targetDirectory", "format",
                                         "targetVmName", "disks", "targetHost", NULL};
    json_t *d;
    size_t i;

    q->mode = "RestoreDisks";
    if (vv_body_only(c, c->body, NULL, fields) ||
        vv_body_str(c, c->body, "restoreMode", 0, &q->mode) ||
        vv_body_str(c, c->body, "targetDirectory", 0, &q->dir) ||
        vv_body_str(c, c->body, "format", 0, &q->format) ||
        vv_body_str(c, c->body, "targetVmName", 0, &q->target_name) ||
        vv_body_str(c, c->body, "targetHost", 0, &q->host))
        return -1;
    if (q->host && vv_check_name(c, "targetHost", q->host))
        return -1;
    if (!q->mode)
        q->mode = "RestoreDisks";
    if (strcmp(q->mode, "RestoreDisks") && strcmp(q->mode, "AlternateLocation") &&
        strcmp(q->mode, "OriginalLocation")) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "restoreMode must be RestoreDisks, AlternateLocation or OriginalLocation");
        return -1;
    }
    if (strcmp(q->mode, "OriginalLocation") != 0 &&
        (!q->dir || q->dir[0] != '/' || strlen(q->dir) > 3000 || strstr(q->dir, "/../") ||
         strstr(q->dir, "\n"))) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "targetDirectory must be an absolute path on the VM's host (at most 3000 "
                       "characters)");
        return -1;
    }
    if (!strcmp(q->mode, "OriginalLocation") && q->dir) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "OriginalLocation writes over the VM's own disks: targetDirectory does "
                       "not apply");
        return -1;
    }
    if (q->format && strcmp(q->format, "qcow2") && strcmp(q->format, "raw")) {
        vv_reply_error(c, 400, "InvalidParameter", "format must be qcow2 or raw");
        return -1;
    }
    if (q->target_name && strcmp(q->mode, "AlternateLocation") != 0) {
        vv_reply_error(c, 400, "InvalidParameter", "targetVmName applies to AlternateLocation only");
        return -1;
    }
    if (q->target_name && vv_check_name(c, "targetVmName", q->target_name))
        return -1;
    q->disks = json_object_get(c->body, "disks");
    if (q->disks && (!json_is_array(q->disks) || json_array_size(q->disks) > 256)) {
        vv_reply_error(c, 400, "InvalidParameter", "disks must be an array of disk names");
        return -1;
    }
    json_array_foreach(q->disks, i, d) {
        if (!json_is_string(d) || !vv_name_valid(json_string_value(d))) {
            vv_reply_error(c, 400, "InvalidParameter", "disks[%zu] is not a disk name", i);
            return -1;
        }
    }
    return 0;
}

/* 0 when item id has the point of param[2], with every disk asked for, and its data
 * is not soft deleted; else -1 after replying. */
static int restore_check_point(struct vv_call *c, int64_t id, const json_t *disks)
{
    json_t *point, *d;
    int64_t deleted = 0;
    size_t i;
    int r;

    point = vv_db_row(c->srv->db, &r,
                      "SELECT disks AS \"disks:json\" FROM recovery_points "
                      "WHERE item_id = ? AND name = ?",
                      "is", id, c->param[2]);
    if (!point) {
        if (r == VV_E_NOTFOUND)
            vv_reply_error(c, 404, "RecoveryPointNotFound", "'%s' has no recovery point '%s'",
                           c->param[1], c->param[2]);
        else
            vv_reply_internal(c, r);
        return -1;
    }
    json_array_foreach(disks, i, d) {
        json_t *x;
        size_t k;
        int found = 0;
        json_array_foreach(json_object_get(point, "disks"), k, x) {
            if (!strcmp(json_string_value(json_object_get(x, "name")), json_string_value(d)))
                found = 1;
        }
        if (!found) {
            vv_reply_error(c, 400, "InvalidParameter", "recovery point %s has no disk '%s'",
                           c->param[2], json_string_value(d));
            json_decref(point);
            return -1;
        }
    }
    json_decref(point);
    /* A replica keeps what its primary deleted for its own window precisely so that it
     * can still be restored: there, a soft-deleted point restores as it is. */
    if ((r = vv_db_int(c->srv->db, &deleted,
                       "SELECT r.deleted IS NOT NULL AND v.replica_of IS NULL FROM "
                       "recovery_points r JOIN vaults v ON v.id = r.vault_id WHERE "
                       "r.item_id = ? AND r.name = ?",
                       "is", id, c->param[2])) < 0) {
        vv_reply_internal(c, r);
        return -1;
    }
    if (deleted) {
        vv_reply_error(c, 409, "RecoveryPointSoftDeleted",
                       "recovery point %s of '%s' is soft deleted (its retention was shortened); "
                       "undelete it ('vmvault recoverypoint undelete') to restore from it",
                       c->param[2], c->param[1]);
        return -1;
    }
    if ((r = vv_db_int(c->srv->db, &deleted,
                       "SELECT deleted IS NOT NULL FROM protected_items WHERE id = ?", "i", id)) <
        0) {
        vv_reply_internal(c, r);
        return -1;
    }
    if (deleted) {
        vv_reply_error(c, 409, "ItemSoftDeleted",
                       "the backup data of '%s' is soft deleted; undelete it ('vmvault "
                       "protection undelete') to restore from it",
                       c->param[1]);
        return -1;
    }
    return 0;
}

/* Add what q asks for to the params of job. Transaction open. 0 or <0 vv_err. */
static int restore_params(struct vv_call *c, const struct restore_req *q, const char *job)
{
    json_t *params, *p;
    char *text;
    int r;

    params = vv_db_row(c->srv->db, &r, "SELECT params AS \"p:json\" FROM jobs WHERE id = ?", "s",
                       job);
    if (!params)
        return r;
    p = json_object_get(params, "p");
    json_object_set_new(p, "recoveryPoint", json_string(c->param[2]));
    json_object_set_new(p, "restoreMode", json_string(q->mode));
    if (q->dir)
        json_object_set_new(p, "targetDirectory", json_string(q->dir));
    if (q->format)
        json_object_set_new(p, "format", json_string(q->format));
    if (q->target_name)
        json_object_set_new(p, "targetVmName", json_string(q->target_name));
    if (q->disks)
        json_object_set(p, "disks", q->disks);
    text = vv_json_dump(p);
    r = text ? vv_job_set_params(c->srv->db, job, text) : VV_E_NOMEM;
    free(text);
    json_decref(params);
    return r < 0 ? r : 0;
}

/* The host that runs the restore: targetHost, a host registered in the vault, else the
 * item's own host, which must have registered here (a replica's items name the
 * primary's hosts). 0 with its id in *host_id (0: the item's), or -1 after replying. */
static int restore_host(struct vv_call *c, int64_t vid, int64_t item_id, const char *host,
                        int64_t *host_id)
{
    int64_t agents = 0;
    int r;

    *host_id = 0;
    if (host) {
        r = vv_db_int(c->srv->db, host_id,
                      "SELECT c.id FROM containers c WHERE c.vault_id = ? AND c.name = ? AND "
                      "EXISTS (SELECT 1 FROM tokens t WHERE t.container_id = c.id AND "
                      "t.revoked = 0)",
                      "is", vid, host);
        if (r == 1)
            return 0;
        if (r < 0)
            vv_reply_internal(c, r);
        else
            vv_reply_error(c, 404, "ContainerNotFound",
                           "no host '%s' is registered in vault '%s': register its agent with "
                           "the vault's credentials ('vmvault vault credentials')",
                           host, c->param[0]);
        return -1;
    }
    r = vv_db_int(c->srv->db, &agents,
                  "SELECT COUNT(*) FROM tokens t JOIN protected_items i ON "
                  "i.container_id = t.container_id WHERE i.id = ? AND t.revoked = 0 "
                  "UNION ALL SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM vaults WHERE id = ? AND "
                  "replica_of IS NOT NULL) ORDER BY 1 DESC LIMIT 1",
                  "ii", item_id, vid);
    if (r < 0) {
        vv_reply_internal(c, r);
        return -1;
    }
    if (agents)
        return 0;
    {
        json_t *hosts = vv_db_rows(c->srv->db,
                                   "SELECT DISTINCT c.name FROM containers c JOIN tokens t ON "
                                   "t.container_id = c.id WHERE c.vault_id = ? AND t.revoked = 0 "
                                   "ORDER BY c.name LIMIT 20",
                                   "i", vid);
        char list[600] = "";
        size_t i, n = 0;
        json_t *x;
        json_array_foreach(hosts, i, x) {
            n += (size_t)snprintf(list + n, n < sizeof(list) ? sizeof(list) - n : 0, "%s%s",
                                  n ? ", " : "", json_string_value(json_object_get(x, "name")));
            if (n >= sizeof(list))
                break;
        }
        json_decref(hosts);
        vv_reply_error(c, 400, "TargetHostRequired",
                       "the host of '%s' has no agent registered in vault '%s' (a replica's "
                       "items name the primary's hosts): name the host that restores with "
                       "targetHost (registered here: %s)",
                       c->param[1], c->param[0], list[0] ? list : "none yet");
    }
    return -1;
}

void vv_api_point_restore(struct vv_call *c)
{
    static const char tasks[] = "[{\"name\":\"Transfer data from vault\",\"status\":\"NotStarted\"}]";
    struct restore_req q = {0};
    char job[VV_UUID_LEN];
    int64_t vid, id, host_id;
    int r;

    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0) || find_item(c, vid, &id) ||
        restore_parse(c, &q) || restore_check_point(c, id, q.disks) || no_active_job(c, id) ||
        restore_host(c, vid, id, q.host, &host_id))
        return;
    if ((r = vv_db_begin(c->srv->db)) != 0) {
        vv_reply_internal(c, r);
        return;
    }
    if ((r = vv_job_create(c, vid, id, "Restore", "InProgress", tasks, 0, job)) < 0 ||
        (r = restore_params(c, &q, job)) < 0 ||
        (host_id && (r = vv_job_set_host(c->srv->db, job, host_id)) < 0) ||
        (r = vv_db_commit(c->srv->db)) != 0) {
        vv_db_rollback(c->srv->db);
        vv_reply_internal(c, r);
        return;
    }
    {
        char detail[200];
        snprintf(detail, sizeof(detail), "vault=%s recoveryPoint=%s restoreMode=%s job=%s",
                 c->param[0], c->param[2], q.mode, job);
        vv_audit(c, "RestoreRequested", c->param[1], detail);
    }
    vv_info("restore of '%s' from %s (%s) requested by %s: job %s", c->param[1], c->param[2],
            q.mode, c->who.user, job);
    vv_reply(c, 202, vv_job_json(c, job));
}

void vv_api_item_update(struct vv_call *c)
{
    static const char *const fields[] = {"diskSettings", "scriptSettings", NULL};
    char *disks = NULL, *scripts = NULL;
    int disks_given, scripts_given, r = 0;
    int64_t vid, id;

    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0) || find_item(c, vid, &id) ||
        vv_body_only(c, c->body, NULL, fields) ||
        item_settings(c, &disks, &disks_given, &scripts, &scripts_given))
        return;
    if (!disks_given && !scripts_given) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "give diskSettings and/or scriptSettings (null clears them)");
        return;
    }
    if (disks_given)
        r = vv_db_run(c->srv->db, "UPDATE protected_items SET disk_settings = ? WHERE id = ?",
                      "si", disks, id);
    if (r >= 0 && scripts_given &&
        (r = vv_db_run(c->srv->db, "UPDATE protected_items SET script_settings = ? WHERE id = ?",
                       "si", scripts, id)) >= 0)
        audit_scripts(c, c->param[1], scripts);
    free(disks);
    free(scripts);
    if (r < 0) {
        vv_reply_internal(c, r);
        return;
    }
    vv_info("settings of item '%s' in vault '%s' changed by %s", c->param[1], c->param[0],
            c->who.user);
    vv_reply(c, 200, item_json(c, id));
}
