/*
 * agent.c: what host agents call: registration with vault credentials, the VM
 * inventory, claiming jobs (long poll), progress and completion.
 *
 * An agent acts only for its own host: every job it touches must belong to its
 * container, or the job does not exist as far as it can tell (404).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "auth.h"
#include "err.h"
#include "log.h"

static int uuid_valid(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

void vv_api_agent_register(struct vv_call *c)
{
    static const char *const fields[] = {"vaultId", "registrationSecret", "hostName", "region",
                                         "agentVersion", NULL};
    const char *vault_uuid, *secret, *host, *region = NULL, *version = NULL;
    char hash[65], token[VV_TOKEN_MAX], id[32], thash[65], vname[80] = "", location[80] = "";
    int64_t vid = 0, expires = 0, cid;
    struct vv_stmt *st;
    json_t *container;
    int r, err;

    if (vv_body_only(c, c->body, NULL, fields) ||
        vv_body_str(c, c->body, "vaultId", 1, &vault_uuid) ||
        vv_body_str(c, c->body, "registrationSecret", 1, &secret) ||
        vv_body_str(c, c->body, "hostName", 1, &host) ||
        vv_body_str(c, c->body, "region", 0, &region) ||
        vv_body_str(c, c->body, "agentVersion", 0, &version))
        return;
    if (vv_check_name(c, "hostName", host))
        return;
    if (region && !vv_region_valid(region)) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "region '%s' is not valid: lower-case letters, digits or '-'", region);
        return;
    }
    if (version && strlen(version) > 64) {
        vv_reply_error(c, 400, "InvalidParameter", "agentVersion is longer than 64 characters");
        return;
    }
    vv_token_hash(secret, hash);
    r = vv_db_prepare(c->srv->db, &st,
                      "SELECT v.id, v.name, v.location, s.expires FROM registration_secrets s "
                      "JOIN vaults v ON v.id = s.vault_id WHERE s.hash = ? AND v.uuid = ?",
                      "ss", hash, vault_uuid);
    if (r) {
        vv_reply_internal(c, r);
        return;
    }
    if ((r = vv_stmt_step(st)) == 1) {
        vid = vv_stmt_int(st, 0);
        snprintf(vname, sizeof(vname), "%s", vv_stmt_text(st, 1));
        snprintf(location, sizeof(location), "%s", vv_stmt_text(st, 2));
        expires = vv_stmt_int(st, 3);
    }
    vv_stmt_free(st);
    if (r < 0) {
        vv_reply_internal(c, r);
        return;
    }
    if (r == 0) {
        vv_reply_error(c, 401, "InvalidRegistrationSecret",
                       "the registration secret is not valid for this vault; download new vault "
                       "credentials with 'vmvault vault credentials'");
        return;
    }
    if (expires <= (int64_t)c->now) {
        vv_reply_error(c, 401, "RegistrationSecretExpired",
                       "these vault credentials expired; download new ones with 'vmvault vault "
                       "credentials'");
        return;
    }
    if (!region)
        region = location;
    if ((r = vv_token_new("vva", token, id, thash)) != 0 || (r = vv_db_begin(c->srv->db)) != 0) {
        vv_reply_internal(c, r);
        return;
    }
    r = vv_db_run(c->srv->db,
                  "INSERT INTO containers(vault_id, name, region, agent_version, registered, last_seen) "
                  "VALUES (?,?,?,?,?,?) ON CONFLICT(vault_id, name) DO UPDATE SET "
                  "region = excluded.region, agent_version = excluded.agent_version, "
                  "registered = excluded.registered, last_seen = excluded.last_seen",
                  "isssii", vid, host, region, version, (int64_t)c->now, (int64_t)c->now);
    if (r < 0)
        goto fail;
    if ((r = vv_db_int(c->srv->db, &cid, "SELECT id FROM containers WHERE vault_id = ? AND name = ?",
                       "is", vid, host)) <= 0) {
        r = r ? r : VV_E_IO;
        goto fail;
    }
    /* A host registers again after a reinstall: its old token stops working. */
    if ((r = vv_db_run(c->srv->db, "DELETE FROM tokens WHERE container_id = ?", "i", cid)) < 0 ||
        (r = vv_db_run(c->srv->db,
                       "INSERT INTO tokens(id, hash, container_id, name, created) VALUES (?,?,?,?,?)",
                       "ssisi", id, thash, cid, host, (int64_t)c->now)) < 0 ||
        (r = vv_db_commit(c->srv->db)) != 0)
        goto fail;
    vv_info("host '%s' registered with vault '%s' (region %s)", host, vname, region);
    container = vv_db_row(c->srv->db, &err,
                          "SELECT c.name, v.name AS vault, c.region, c.agent_version AS agentVersion "
                          "FROM containers c JOIN vaults v ON v.id = c.vault_id WHERE c.id = ?",
                          "i", cid);
    vv_reply(c, 201,
             json_pack("{s:o*,s:{s:s,s:s,s:s},s:s}", "container", container, "vault", "name", vname,
                       "id", vault_uuid, "location", location, "token", token));
    return;
fail:
    vv_db_rollback(c->srv->db);
    vv_reply_internal(c, r);
}

/* One VM of an inventory; replies and returns -1 when it is malformed. */
static int check_vm(struct vv_call *c, const json_t *vm, size_t i, char **disks_out)
{
    static const char *const fields[] = {"name", "uuid", "state", "disks", NULL};
    static const char *const dfields[] = {"name", "size", "source", "format", NULL};
    const char *name, *uuid, *state;
    json_t *disks, *d;
    char where[64];
    size_t k;

    snprintf(where, sizeof(where), "vms[%zu]", i);
    if (!json_is_object(vm)) {
        vv_reply_error(c, 400, "InvalidParameter", "%s must be an object", where);
        return -1;
    }
    if (vv_body_only(c, vm, where, fields) || vv_body_str(c, vm, "name", 1, &name) ||
        vv_body_str(c, vm, "uuid", 1, &uuid) || vv_body_str(c, vm, "state", 1, &state))
        return -1;
    if (!vv_name_valid(name)) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "%s.name '%s' is not valid: 1 to 64 letters, digits, '.', '_' or '-'", where,
                       name);
        return -1;
    }
    if (!uuid_valid(uuid)) {
        vv_reply_error(c, 400, "InvalidParameter", "%s.uuid '%s' is not a UUID", where, uuid);
        return -1;
    }
    if (strlen(state) < 1 || strlen(state) > 32) {
        vv_reply_error(c, 400, "InvalidParameter", "%s.state must be 1 to 32 characters", where);
        return -1;
    }
    disks = json_object_get(vm, "disks");
    if (!json_is_array(disks) || json_array_size(disks) > 256) {
        vv_reply_error(c, 400, "InvalidParameter", "%s.disks must be an array of at most 256 disks",
                       where);
        return -1;
    }
    json_array_foreach(disks, k, d) {
        const char *dn, *src, *fmt;
        int64_t size;
        char dw[96];
        snprintf(dw, sizeof(dw), "%s.disks[%zu]", where, k);
        if (!json_is_object(d)) {
            vv_reply_error(c, 400, "InvalidParameter", "%s must be an object", dw);
            return -1;
        }
        if (vv_body_only(c, d, dw, dfields) || vv_body_str(c, d, "name", 1, &dn) ||
            vv_body_int(c, d, "size", 1, 0, INT64_MAX, &size) ||
            vv_body_str(c, d, "source", 0, &src) || vv_body_str(c, d, "format", 0, &fmt))
            return -1;
        if (!vv_name_valid(dn) || (src && strlen(src) > 4096) || (fmt && strlen(fmt) > 32)) {
            vv_reply_error(c, 400, "InvalidParameter",
                           "%s: name must be a disk name (e.g. vda), source at most 4096 and "
                           "format at most 32 characters",
                           dw);
            return -1;
        }
    }
    *disks_out = vv_json_dump(disks);
    return *disks_out ? 0 : -1;
}

void vv_api_agent_inventory(struct vv_call *c)
{
    static const char *const fields[] = {"vms", NULL};
    json_t *vms, *vm;
    size_t i;
    int r;

    if (vv_body_only(c, c->body, NULL, fields))
        return;
    vms = json_object_get(c->body, "vms");
    if (!json_is_array(vms) || json_array_size(vms) > 10000) {
        vv_reply_error(c, 400, "InvalidParameter", "field 'vms' must be an array of at most 10000 VMs");
        return;
    }
    if ((r = vv_db_begin(c->srv->db)) != 0) {
        vv_reply_internal(c, r);
        return;
    }
    if ((r = vv_db_run(c->srv->db, "DELETE FROM protectable_items WHERE container_id = ?", "i",
                       c->who.container_id)) < 0)
        goto fail;
    json_array_foreach(vms, i, vm) {
        char *disks = NULL;
        if (check_vm(c, vm, i, &disks)) {
            vv_db_rollback(c->srv->db);
            return;
        }
        r = vv_db_run(c->srv->db,
                      "INSERT INTO protectable_items(container_id, name, uuid, state, disks, updated) "
                      "VALUES (?,?,?,?,?,?)",
                      "issssi", c->who.container_id,
                      json_string_value(json_object_get(vm, "name")),
                      json_string_value(json_object_get(vm, "uuid")),
                      json_string_value(json_object_get(vm, "state")), disks, (int64_t)c->now);
        free(disks);
        if (r == VV_E_EXISTS) {
            vv_db_rollback(c->srv->db);
            vv_reply_error(c, 400, "InvalidParameter", "vms[%zu]: UUID %s is listed twice", i,
                           json_string_value(json_object_get(vm, "uuid")));
            return;
        }
        if (r < 0)
            goto fail;
    }
    if ((r = vv_db_run(c->srv->db, "UPDATE containers SET last_seen = ? WHERE id = ?", "ii",
                       (int64_t)c->now, c->who.container_id)) < 0 ||
        (r = vv_db_commit(c->srv->db)) != 0)
        goto fail;
    vv_reply(c, 200, json_pack("{s:I}", "vms", (json_int_t)json_array_size(vms)));
    return;
fail:
    vv_db_rollback(c->srv->db);
    vv_reply_internal(c, r);
}

/* Claim the oldest unclaimed job of the agent's host. Catalog locked. 1 and the job
 * with its params, 0 when none, <0. */
static int claim(struct vv_call *c, json_t **out)
{
    char id[80] = "";
    int err, r;
    json_t *j, *params;

    r = vv_db_text(c->srv->db, id, sizeof(id),
                   "SELECT id FROM jobs WHERE container_id = ? AND status = 'InProgress' "
                   "AND claimed IS NULL ORDER BY start_time, rowid LIMIT 1",
                   "i", c->who.container_id);
    if (r <= 0)
        return r;
    if ((r = vv_db_run(c->srv->db, "UPDATE jobs SET claimed = ?, heartbeat = ? WHERE id = ?", "iis",
                       (int64_t)c->now, (int64_t)c->now, id)) < 0)
        return r;
    j = vv_job_json(c, id);
    params = vv_db_row(c->srv->db, &err, "SELECT params AS \"params:json\" FROM jobs WHERE id = ?",
                       "s", id);
    if (!j || !params) {
        json_decref(j);
        json_decref(params);
        return VV_E_NOMEM;
    }
    json_object_set(j, "params", json_object_get(params, "params"));
    json_decref(params);
    vv_info("job %s (%s) claimed by host '%s'", id,
            json_string_value(json_object_get(j, "operation")), c->who.container);
    *out = j;
    return 1;
}

void vv_api_agent_job_next(struct vv_call *c)
{
    const char *w = vv_http_query(c->req, "wait");
    int64_t wait = 0;
    json_t *job = NULL;
    int r;

    if (w) {
        char *end;
        wait = strtoll(w, &end, 10);
        if (*end || end == w || wait < 0 || wait > 60) {
            vv_reply_error(c, 400, "InvalidParameter", "wait must be 0 to 60 seconds");
            return;
        }
    }
    for (int64_t waited_ms = 0;; waited_ms += 250) {
        uint64_t seen;
        pthread_mutex_lock(&c->srv->bell_mu);
        seen = c->srv->bell_rings;
        pthread_mutex_unlock(&c->srv->bell_mu);
        vv_db_lock(c->srv->db);
        c->now = vv_server_now(c->srv);
        r = claim(c, &job);
        vv_db_unlock(c->srv->db);
        if (r < 0) {
            vv_reply_internal(c, r);
            return;
        }
        if (r == 1) {
            vv_reply(c, 200, job);
            return;
        }
        if (waited_ms >= wait * 1000 || atomic_load(&c->srv->stopping))
            break;
        /* a job created here rings at once; 250 ms bounds the wait for one another
         * server of the same catalog created */
        vv_server_await(c->srv, &seen, 250);
    }
    free(c->resp->body);
    c->resp->body = NULL;
    c->resp->body_len = 0;
    c->resp->status = 204;
}

/* The job named in the URL, if it is this agent's and still running: 0 and its
 * operation/status, or -1 after replying. */
int vv_agent_job(struct vv_call *c, char op[32], char status[32], int64_t *item_id)
{
    struct vv_stmt *st;
    int r;

    r = vv_db_prepare(c->srv->db, &st,
                      "SELECT operation, status, claimed IS NOT NULL, COALESCE(item_id, 0) "
                      "FROM jobs WHERE id = ? AND container_id = ?",
                      "si", c->param[0], c->who.container_id);
    if (r) {
        vv_reply_internal(c, r);
        return -1;
    }
    r = vv_stmt_step(st);
    if (r == 1) {
        int claimed = (int)vv_stmt_int(st, 2);
        snprintf(op, 32, "%s", vv_stmt_text(st, 0));
        snprintf(status, 32, "%s", vv_stmt_text(st, 1));
        *item_id = vv_stmt_int(st, 3);
        vv_stmt_free(st);
        if (!claimed) {
            vv_reply_error(c, 409, "JobNotClaimable",
                           "job %s has not been claimed; claim it with GET /api/v1/agent/jobs/next",
                           c->param[0]);
            return -1;
        }
        if (strcmp(status, "InProgress") && strcmp(status, "Cancelling")) {
            vv_reply_error(c, 409, "JobAlreadyEnded", "job %s has already ended (%s)", c->param[0],
                           status);
            return -1;
        }
        return 0;
    }
    vv_stmt_free(st);
    if (r < 0)
        vv_reply_internal(c, r);
    else
        vv_reply_error(c, 404, "JobNotFound", "host '%s' has no job '%s'", c->who.container,
                       c->param[0]);
    return -1;
}

static int task_status_valid(const char *s)
{
    static const char *const ok[] = {"NotStarted", "InProgress", "Completed", "Failed",
                                     "Skipped", "Cancelled", NULL};
    for (const char *const *p = ok; *p; p++)
        if (!strcmp(*p, s))
            return 1;
    return 0;
}

void vv_api_agent_job_progress(struct vv_call *c)
{
    static const char *const fields[] = {"tasks", "bytesDone", "bytesTotal", NULL};
    static const char *const tfields[] = {"name", "status", NULL};
    char op[32], status[32], tstamp[32];
    int64_t item_id, done = -1, total = -1, cancel = 0;
    json_t *tasks, *t, *row, *cur;
    char *text;
    size_t i;
    int r, err;

    if (vv_agent_job(c, op, status, &item_id))
        return;
    if (vv_body_only(c, c->body, NULL, fields) ||
        vv_body_int(c, c->body, "bytesDone", 0, 0, INT64_MAX, &done) ||
        vv_body_int(c, c->body, "bytesTotal", 0, 0, INT64_MAX, &total))
        return;
    tasks = json_object_get(c->body, "tasks");
    if (tasks && (!json_is_array(tasks) || json_array_size(tasks) > 16)) {
        vv_reply_error(c, 400, "InvalidParameter", "field 'tasks' must be an array of at most 16 tasks");
        return;
    }
    row = vv_db_row(c->srv->db, &err, "SELECT tasks AS \"tasks:json\" FROM jobs WHERE id = ?", "s",
                    c->param[0]);
    if (!row) {
        vv_reply_internal(c, err);
        return;
    }
    cur = json_object_get(row, "tasks");
    if (!json_is_array(cur)) {
        json_object_set_new(row, "tasks", json_array());
        cur = json_object_get(row, "tasks");
    }
    vv_time_format_or_empty(c->now, tstamp);
    json_array_foreach(tasks, i, t) {
        const char *name, *ts;
        json_t *have = NULL, *x;
        size_t k;
        char where[32];
        snprintf(where, sizeof(where), "tasks[%zu]", i);
        if (!json_is_object(t)) {
            vv_reply_error(c, 400, "InvalidParameter", "%s must be an object", where);
            goto out;
        }
        if (vv_body_only(c, t, where, tfields) || vv_body_str(c, t, "name", 1, &name) ||
            vv_body_str(c, t, "status", 1, &ts))
            goto out;
        if (strlen(name) > 64 || !task_status_valid(ts)) {
            vv_reply_error(c, 400, "InvalidParameter",
                           "%s: name at most 64 characters; status one of NotStarted, InProgress, "
                           "Completed, Failed, Skipped, Cancelled",
                           where);
            goto out;
        }
        json_array_foreach(cur, k, x) {
            if (json_is_string(json_object_get(x, "name")) &&
                !strcmp(json_string_value(json_object_get(x, "name")), name))
                have = x;
        }
        if (!have) {
            have = json_pack("{s:s,s:s}", "name", name, "status", "NotStarted");
            json_array_append_new(cur, have);
        }
        if (!strcmp(ts, "InProgress") && !json_object_get(have, "startTime"))
            json_object_set_new(have, "startTime", json_string(tstamp));
        /* A task ends once: later reports that repeat its final status keep its end. */
        if (strcmp(ts, "InProgress") && strcmp(ts, "NotStarted") &&
            !(json_object_get(have, "endTime") &&
              json_is_string(json_object_get(have, "status")) &&
              !strcmp(json_string_value(json_object_get(have, "status")), ts))) {
            if (!json_object_get(have, "startTime"))
                json_object_set_new(have, "startTime", json_string(tstamp));
            json_object_set_new(have, "endTime", json_string(tstamp));
        }
        json_object_set_new(have, "status", json_string(ts));
    }
    text = vv_json_dump(cur);
    r = text ? vv_db_run(c->srv->db,
                         "UPDATE jobs SET tasks = ?, heartbeat = ?, "
                         "bytes_done = CASE WHEN ? >= 0 THEN ? ELSE bytes_done END, "
                         "bytes_total = CASE WHEN ? >= 0 THEN ? ELSE bytes_total END WHERE id = ?",
                         "siiiiis", text, (int64_t)c->now, done, done, total, total,
                         c->param[0])
             : VV_E_NOMEM;
    free(text);
    if (r < 0) {
        vv_reply_internal(c, r);
        goto out;
    }
    vv_db_int(c->srv->db, &cancel, "SELECT cancel_requested FROM jobs WHERE id = ?", "s",
              c->param[0]);
    vv_reply(c, 200, json_pack("{s:b}", "cancelRequested", (int)cancel));
out:
    json_decref(row);
}

void vv_api_agent_job_complete(struct vv_call *c)
{
    static const char *const fields[] = {"status", "error", "stats", "warnings", "snapshot",
                                         NULL};
    static const char *const efields[] = {"code", "message", NULL};
    static const char *const sfields[] = {"bytesRead", "bytesSent", "bytesNew", "chunksRead",
                                          "chunksNew", "chunksDeduplicated", "chunksZero",
                                          "chunksKept", "incremental", NULL};
    char *stats_text = NULL, *warn_text = NULL, *snap_text = NULL;
    const char *st, *code = NULL, *msg = NULL;
    char op[32], status[32], rp[80] = "", uuid[VV_UUID_LEN];
    int64_t item_id;
    json_t *e;
    int r;

    if (vv_agent_job(c, op, status, &item_id))
        return;
    if (vv_body_only(c, c->body, NULL, fields) || vv_body_str(c, c->body, "status", 1, &st))
        return;
    if (strcmp(st, "Completed") && strcmp(st, "CompletedWithWarnings") && strcmp(st, "Failed") &&
        strcmp(st, "Cancelled")) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "status must be Completed, CompletedWithWarnings, Failed or Cancelled");
        return;
    }
    if ((e = json_object_get(c->body, "error"))) {
        if (!json_is_object(e)) {
            vv_reply_error(c, 400, "InvalidParameter", "field 'error' must be an object");
            return;
        }
        if (vv_body_only(c, e, "error", efields) || vv_body_str(c, e, "code", 1, &code) ||
            vv_body_str(c, e, "message", 1, &msg))
            return;
        if (!vv_name_valid(code) || strlen(msg) > 4000) {
            vv_reply_error(c, 400, "InvalidParameter",
                           "error.code must be an identifier such as ExtensionSnapshotFailedNoNetwork "
                           "and error.message at most 4000 characters");
            return;
        }
    }
    if (!strcmp(st, "Failed") && !code) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "a Failed job needs an error {\"code\", \"message\"} that tells the operator "
                       "what to do");
        return;
    }
    if (code && strcmp(st, "Failed")) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "only a Failed job has an error; a job that completed with warnings "
                       "lists them in 'warnings'");
        return;
    }
    if ((e = json_object_get(c->body, "warnings"))) {
        size_t i;
        json_t *w;
        if (!json_is_array(e) || json_array_size(e) > 32) {
            vv_reply_error(c, 400, "InvalidParameter",
                           "field 'warnings' must be an array of at most 32 {\"code\", "
                           "\"message\"} objects");
            return;
        }
        json_array_foreach(e, i, w) {
            const char *wc, *wm;
            if (!json_is_object(w)) {
                vv_reply_error(c, 400, "InvalidParameter", "warnings[%zu] must be an object", i);
                return;
            }
            if (vv_body_only(c, w, "warnings[]", efields) || vv_body_str(c, w, "code", 1, &wc) ||
                vv_body_str(c, w, "message", 1, &wm))
                return;
            if (!vv_name_valid(wc) || strlen(wm) > 4000) {
                vv_reply_error(c, 400, "InvalidParameter",
                               "warnings[%zu]: code must be an identifier such as "
                               "GuestAgentNotResponding and message at most 4000 characters",
                               i);
                return;
            }
        }
    }
    if ((e && json_array_size(e) > 0) != !strcmp(st, "CompletedWithWarnings")) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "a job ends CompletedWithWarnings exactly when it has warnings");
        return;
    }
    if ((e = json_object_get(c->body, "snapshot")) && !json_is_object(e)) {
        vv_reply_error(c, 400, "InvalidParameter", "field 'snapshot' must be an object");
        return;
    }
    if (e && strcmp(op, "Backup")) {
        vv_reply_error(c, 400, "InvalidParameter", "only a Backup job reports a snapshot");
        return;
    }
    if (!strcmp(op, "Backup") && (!strcmp(st, "Completed") || !strcmp(st, "CompletedWithWarnings"))) {
        r = vv_db_text(c->srv->db, rp, sizeof(rp),
                       "SELECT COALESCE(recovery_point, '') FROM jobs WHERE id = ?", "s", c->param[0]);
        if (r < 0) {
            vv_reply_internal(c, r);
            return;
        }
        if (!rp[0]) {
            vv_reply_error(c, 409, "NoRecoveryPoint",
                           "a Backup job completes only after its recovery point is committed "
                           "(POST .../recoveryPoint)");
            return;
        }
    }
    if ((e = json_object_get(c->body, "stats"))) {
        const char *k;
        json_t *v;
        if (!json_is_object(e) || vv_body_only(c, e, "stats", sfields)) {
            if (!json_is_object(e))
                vv_reply_error(c, 400, "InvalidParameter", "field 'stats' must be an object");
            return;
        }
        json_object_foreach(e, k, v) {
            if (!(json_is_integer(v) && json_integer_value(v) >= 0) &&
                !(json_is_boolean(v) && !strcmp(k, "incremental"))) {
                vv_reply_error(c, 400, "InvalidParameter",
                               "stats.%s must be a non-negative integer", k);
                return;
            }
        }
        stats_text = vv_json_dump(e);
    }
    if ((e = json_object_get(c->body, "warnings")) && json_array_size(e))
        warn_text = vv_json_dump(e);
    if ((e = json_object_get(c->body, "snapshot"))) {
        snap_text = vv_json_dump(e);
        if (snap_text && strlen(snap_text) > 64 * 1024) {
            free(stats_text);
            free(warn_text);
            free(snap_text);
            vv_reply_error(c, 400, "InvalidParameter", "field 'snapshot' is larger than 64 KiB");
            return;
        }
    }
    if ((r = vv_db_begin(c->srv->db)) != 0) {
        free(stats_text);
        free(warn_text);
        free(snap_text);
        vv_reply_internal(c, r);
        return;
    }
    r = vv_db_run(c->srv->db,
                  "UPDATE jobs SET status = ?, end_time = ?, error_code = ?, error_message = ?, "
                  "stats = COALESCE(?, stats), warnings = ?, snapshot = ? WHERE id = ?",
                  "sissssss", st, (int64_t)c->now, code, msg, stats_text, warn_text, snap_text,
                  c->param[0]);
    free(stats_text);
    free(warn_text);
    free(snap_text);
    stats_text = NULL;
    if (r >= 0 && !strcmp(op, "Backup") && item_id)
        r = vv_db_run(c->srv->db,
                      "UPDATE protected_items SET last_backup_status = ?, last_backup_time = ? "
                      "WHERE id = ?",
                      "sii", st, (int64_t)c->now, item_id);
    if (r < 0 || (r = vv_db_commit(c->srv->db)) != 0) {
        vv_db_rollback(c->srv->db);
        vv_reply_internal(c, r);
        return;
    }
    if (vv_db_text(c->srv->db, uuid, sizeof(uuid), "SELECT uuid FROM vaults WHERE id = ?", "i",
                   c->who.vault_id) == 1) {
        vv_staging_remove(c->srv, uuid, c->param[0]);
        vv_guard_job_ended(c->srv, uuid, c->who.container_id, c->param[0]);
    }
    if (code)
        vv_warn("job %s on host '%s' ended %s: %s: %s", c->param[0], c->who.container, st, code, msg);
    else
        vv_info("job %s on host '%s' ended %s", c->param[0], c->who.container, st);
    vv_reply(c, 200, vv_job_json(c, c->param[0]));
}
