/*
 * agent.c: what host agents call: registration with vault credentials, the VM
 * inventory, claiming jobs (long poll), progress and completion.
 *
 * An agent acts only for its own host: every job it touches must belong to its
 * container, or the job does not exist as far as it can tell (404).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "auth.h"
#include "err.h"
#include "jobs.h"
#include "log.h"
#include "options.h"

/* How long a Contributor's allowance to replace a host lasts (seconds). */
#define VV_REPLACE_WINDOW 3600

/* A registration, checked; the strings are borrowed from the call's body. */
struct registration {
    const char *vault_uuid, *secret, *host, *region, *version;
    int64_t vault_id;
    char vault_name[80], location[80];
    char secret_by[96];   /* who issued the secret */
    const char *mode;     /* "New", "ReKey" (the host's own token) or "Replace" */
};

/* The body of a registration into *rg: 0, or -1 after replying 400. */
static int parse_registration(struct vv_call *c, struct registration *rg)
{
    static const char *const fields[] = {"vaultId", "registrationSecret", "hostName", "region",
                                         "agentVersion", NULL};

    memset(rg, 0, sizeof(*rg));
    if (vv_body_only(c, c->body, NULL, fields) ||
        vv_body_str(c, c->body, "vaultId", 1, &rg->vault_uuid) ||
        vv_body_str(c, c->body, "registrationSecret", 1, &rg->secret) ||
        vv_body_str(c, c->body, "hostName", 1, &rg->host) ||
        vv_body_str(c, c->body, "region", 0, &rg->region) ||
        vv_body_str(c, c->body, "agentVersion", 0, &rg->version))
        return -1;
    if (vv_check_name(c, "hostName", rg->host))
        return -1;
    if (rg->region && !vv_region_valid(rg->region)) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "region '%s' is not valid: lower-case letters, digits or '-'", rg->region);
        return -1;
    }
    if (rg->version && strlen(rg->version) > 64) {
        vv_reply_error(c, 400, "InvalidParameter", "agentVersion is longer than 64 characters");
        return -1;
    }
    return 0;
}

/* The vault whose registration secret rg names, into rg (the region defaults to the
 * vault's location): 0, or -1 after replying (401 when the secret is unknown or
 * expired). Catalog locked. */
static int find_secret(struct vv_call *c, struct registration *rg)
{
    char hash[65];
    int64_t expires = 0;
    struct vv_stmt *st;
    int r;

    vv_token_hash(rg->secret, hash);
    r = vv_db_prepare(c->srv->db, &st,
                      "SELECT v.id, v.name, v.location, s.expires, COALESCE(s.created_by, '-') "
                      "FROM registration_secrets s "
                      "JOIN vaults v ON v.id = s.vault_id WHERE s.hash = ? AND v.uuid = ?",
                      "ss", hash, rg->vault_uuid);
    if (r) {
        vv_reply_internal(c, r);
        return -1;
    }
    if ((r = vv_stmt_step(st)) == 1) {
        rg->vault_id = vv_stmt_int(st, 0);
        snprintf(rg->vault_name, sizeof(rg->vault_name), "%s", vv_stmt_text(st, 1));
        snprintf(rg->location, sizeof(rg->location), "%s", vv_stmt_text(st, 2));
        expires = vv_stmt_int(st, 3);
        snprintf(rg->secret_by, sizeof(rg->secret_by), "%s", vv_stmt_text(st, 4));
    }
    vv_stmt_free(st);
    if (r < 0) {
        vv_reply_internal(c, r);
        return -1;
    }
    if (r == 0) {
        vv_reply_error(c, 401, "InvalidRegistrationSecret",
                       "the registration secret is not valid for this vault; download new vault "
                       "credentials with 'vmvault vault credentials'");
        return -1;
    }
    if (expires <= (int64_t)c->now) {
        vv_reply_error(c, 401, "RegistrationSecretExpired",
                       "these vault credentials expired; download new ones with 'vmvault vault "
                       "credentials'");
        return -1;
    }
    if (!rg->region)
        rg->region = rg->location;
    return 0;
}

/* The host's container (new or updated, a replacement's allowance used up) and its
 * one token (id, hash thash), in one transaction: 0 and the container's id, or <0
 * (rolled back: an allowance stays for the next try). Catalog locked. */
static int store_host(struct vv_call *c, const struct registration *rg, const char *id,
                      const char *thash, int64_t *cid)
{
    int r;

    if ((r = vv_db_begin(c->srv->db)) != 0)
        return r;
    r = vv_db_run(c->srv->db,
                  "INSERT INTO containers(vault_id, name, region, agent_version, registered, last_seen) "
                  "VALUES (?,?,?,?,?,?) ON CONFLICT(vault_id, name) DO UPDATE SET "
                  "region = excluded.region, agent_version = excluded.agent_version, "
                  "registered = excluded.registered, last_seen = excluded.last_seen",
                  "isssii", rg->vault_id, rg->host, rg->region, rg->version, (int64_t)c->now,
                  (int64_t)c->now);
    if (r >= 0 && (r = vv_db_int(c->srv->db, cid,
                                 "SELECT id FROM containers WHERE vault_id = ? AND name = ?", "is",
                                 rg->vault_id, rg->host)) == 0)
        r = VV_E_IO;
    if (r >= 0 && !strcmp(rg->mode, "Replace"))
        r = vv_db_run(c->srv->db, "UPDATE containers SET replace_until = NULL, replace_by = NULL "
                                  "WHERE id = ?",
                      "i", *cid);
    /* A host registers again after a reinstall: its old token stops working. */
    if (r >= 0)
        r = vv_db_run(c->srv->db, "DELETE FROM tokens WHERE container_id = ?", "i", *cid);
    if (r >= 0)
        r = vv_db_run(c->srv->db,
                      "INSERT INTO tokens(id, hash, container_id, name, created) VALUES (?,?,?,?,?)",
                      "ssisi", id, thash, *cid, rg->host, (int64_t)c->now);
    if (r < 0 || (r = vv_db_commit(c->srv->db)) != 0) {
        vv_db_rollback(c->srv->db);
        return r;
    }
    return 0;
}

/* Audit a registration (refused: mode NULL) of rg's host. The caller is anonymous
 * (a registration secret): the actor names the host it claims to be. */
static void audit_registration(struct vv_call *c, const struct registration *rg,
                               const char *action)
{
    char detail[256];

    snprintf(c->who.user, sizeof(c->who.user), "registration:%s", rg->host);
    snprintf(detail, sizeof(detail), "vault=%s mode=%s secretIssuedBy=%s", rg->vault_name,
             rg->mode ? rg->mode : "Refused", rg->secret_by);
    vv_audit(c, action, rg->host, detail);
}

/* Whether rg's host may register: a new name; or a registered one re-keyed by the
 * request's own token of that host; or one a Contributor allowed to be replaced (the
 * allowance is used up by store_host). Sets rg->mode. 0, or -1 after replying (409
 * ContainerAlreadyRegistered, audited). Catalog locked. */
static int may_register(struct vv_call *c, struct registration *rg)
{
    const char *auth = vv_http_header(c->req, "Authorization");
    struct vv_ident own;
    int64_t cid = 0, until = 0;
    int r;

    r = vv_db_int(c->srv->db, &cid, "SELECT id FROM containers WHERE vault_id = ? AND name = ?",
                  "is", rg->vault_id, rg->host);
    if (r == 1)
        r = vv_db_int(c->srv->db, &until,
                      "SELECT COALESCE(replace_until, 0) FROM containers WHERE id = ?", "i", cid);
    if (r < 0) {
        vv_reply_internal(c, r);
        return -1;
    }
    rg->mode = "New";
    if (!cid)
        return 0;
    memset(&own, 0, sizeof(own));
    if (auth && vv_authenticate(c->srv, auth, c->now, &own) == 0 && own.agent &&
        own.container_id == cid) {
        rg->mode = "ReKey";
        return 0;
    }
    if (until > (int64_t)c->now) {
        rg->mode = "Replace";
        return 0;
    }
    rg->mode = NULL;
    audit_registration(c, rg, "RegisterContainerRefused");
    vv_warn("registration of host '%s' with vault '%s' refused: the name is registered",
            rg->host, rg->vault_name);
    vv_reply_error(c, 409, "ContainerAlreadyRegistered",
                   "host '%s' is already registered with vault '%s'. The registered agent "
                   "re-registers with its own token (vmvault-agent register reads it from its "
                   "state folder); a reinstalled host registers after a Contributor allows its "
                   "replacement ('vmvault container allow-replacement --vault-name %s --name %s'); "
                   "another host registers under another --host-name",
                   rg->host, rg->vault_name, rg->vault_name, rg->host);
    return -1;
}

void vv_api_agent_register(struct vv_call *c)
{
    struct registration rg;
    char token[VV_TOKEN_MAX], id[32], thash[65];
    int64_t cid;
    json_t *container;
    int r, err;

    if (parse_registration(c, &rg) || find_secret(c, &rg) || may_register(c, &rg))
        return;
    if ((r = vv_token_new("vva", token, id, thash)) != 0 ||
        (r = store_host(c, &rg, id, thash, &cid)) != 0) {
        vv_reply_internal(c, r);
        return;
    }
    audit_registration(c, &rg, !strcmp(rg.mode, "New") ? "RegisterContainer"
                               : !strcmp(rg.mode, "ReKey") ? "ReRegisterContainer"
                                                          : "ReplaceContainer");
    vv_info("host '%s' registered with vault '%s' (region %s, %s)", rg.host, rg.vault_name,
            rg.region, rg.mode);
    container = vv_db_row(c->srv->db, &err,
                          "SELECT c.name, v.name AS vault, c.region, c.agent_version AS agentVersion "
                          "FROM containers c JOIN vaults v ON v.id = c.vault_id WHERE c.id = ?",
                          "i", cid);
    vv_reply(c, 201,
             json_pack("{s:o*,s:{s:s,s:s,s:s},s:s}", "container", container, "vault", "name",
                       rg.vault_name, "id", rg.vault_uuid, "location", rg.location, "token",
                       token));
}

/*
 * POST /vaults/{vault}/containers/{host}/allowReplacement (Contributor): the next
 * registration of the host's name within an hour replaces it (a reinstalled host
 * that lost its token): its old token stops working then. Audited.
 */
void vv_api_container_allow_replacement(struct vv_call *c)
{
    int64_t vid, cid = 0;
    char detail[160], until_s[32];
    int r;

    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0) ||
        vv_body_only(c, c->body, NULL, (const char *const[]){NULL}))
        return;
    r = vv_db_int(c->srv->db, &cid, "SELECT id FROM containers WHERE vault_id = ? AND name = ?",
                  "is", vid, c->param[1]);
    if (r == 0) {
        vv_reply_error(c, 404, "ContainerNotFound",
                       "vault '%s' has no host '%s'; a new host registers without an allowance",
                       c->param[0], c->param[1]);
        return;
    }
    if (r < 0 || (r = vv_db_run(c->srv->db,
                                "UPDATE containers SET replace_until = ?, replace_by = ? "
                                "WHERE id = ?",
                                "isi", (int64_t)c->now + VV_REPLACE_WINDOW, c->who.user, cid)) < 0) {
        vv_reply_internal(c, r);
        return;
    }
    vv_time_format_or_empty(c->now + VV_REPLACE_WINDOW, until_s);
    snprintf(detail, sizeof(detail), "vault=%s until=%s", c->param[0], until_s);
    vv_audit(c, "AllowContainerReplacement", c->param[1], detail);
    vv_reply(c, 200, json_pack("{s:s,s:s,s:s}", "container", c->param[1], "vault", c->param[0],
                               "replacementAllowedUntil", until_s));
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
    if (!vv_uuid_valid(uuid)) {
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

/* A backup about to be claimed while the store's free space is below --min-free ends
 * Failed (VaultStorageLow) instead. 0 to claim it, 1 when it was ended, <0 vv_err.
 * Catalog locked. */
static int refuse_when_full(struct vv_call *c, const char *id)
{
    uint64_t avail, want;
    char msg[600];
    int64_t backup = 0;
    int r = vv_db_int(c->srv->db, &backup,
                      "SELECT operation = 'Backup' FROM jobs WHERE id = ?", "s", id);
    if (r < 0)
        return r;
    if (!backup || !vv_space_low(c->srv, &avail, &want, msg, sizeof(msg)))
        return 0;
    r = vv_job_fail_storage(c->srv, id, c->now, "VaultStorageLow", msg);
    return r < 0 ? r : 1;
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
    if ((r = refuse_when_full(c, id)) != 0)
        return r < 0 ? r : 0; /* ended: the next look claims the next job */
    if ((r = vv_job_claim(c->srv->db, id, c->now)) < 0)
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

/* ---- long polls ------------------------------------------------------------------- */

/* Long polls waiting at once hold a handler thread each: at most POLLS_PER_HOST per
 * host and vv_long_polls_max() in all (a quarter of the handler threads), so polls
 * never take the threads other requests need. One past either is answered 429
 * TooManyPolls at once; the agent asks again after Retry-After. Under polls_mu: the
 * slots of the hosts with a poll waiting (n > 0), and polls_n, the polls in all. */
#define POLLS_PER_HOST 2
#define POLLS_SLOTS 1024
#define POLL_RETRY_AFTER "5"

static pthread_mutex_t polls_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned polls_n;
static struct {
    int64_t host;
    unsigned n;
} poll_slots[POLLS_SLOTS];

/* Count a waiting poll of host: 0, or -1 when that would pass a limit (*per_host set
 * when it is the host's own). */
static int poll_enter(int64_t host, int *per_host)
{
    int r = -1;
    size_t free_slot = POLLS_SLOTS, i;
    unsigned max = vv_long_polls_max();

    if (max > POLLS_SLOTS)
        max = POLLS_SLOTS;
    pthread_mutex_lock(&polls_mu);
    for (i = 0; i < POLLS_SLOTS; i++) {
        if (poll_slots[i].n && poll_slots[i].host == host)
            break;
        if (!poll_slots[i].n && free_slot == POLLS_SLOTS)
            free_slot = i;
    }
    *per_host = i < POLLS_SLOTS && poll_slots[i].n >= POLLS_PER_HOST;
    if (!*per_host && polls_n < max && (i < POLLS_SLOTS || free_slot < POLLS_SLOTS)) {
        if (i == POLLS_SLOTS) {
            i = free_slot;
            poll_slots[i].host = host;
        }
        poll_slots[i].n++;
        polls_n++;
        r = 0;
    }
    pthread_mutex_unlock(&polls_mu);
    return r;
}

static void poll_leave(int64_t host)
{
    pthread_mutex_lock(&polls_mu);
    for (size_t i = 0; i < POLLS_SLOTS; i++)
        if (poll_slots[i].n && poll_slots[i].host == host) {
            poll_slots[i].n--;
            polls_n--;
            break;
        }
    pthread_mutex_unlock(&polls_mu);
}

/* Claim the next job, looking again as jobs are created, for up to wait seconds:
 * 1 with *job, 0 when none came, <0 on an error. */
static int claim_waiting(struct vv_call *c, int64_t wait, json_t **job)
{
    for (int64_t waited_ms = 0;; waited_ms += 250) {
        uint64_t seen;
        int r;
        pthread_mutex_lock(&c->srv->bell_mu);
        seen = c->srv->bell_rings;
        pthread_mutex_unlock(&c->srv->bell_mu);
        vv_db_lock(c->srv->db);
        c->now = vv_server_now(c->srv);
        r = claim(c, job);
        vv_db_unlock(c->srv->db);
        if (r != 0)
            return r;
        if (waited_ms >= wait * 1000 || atomic_load(&c->srv->stopping))
            return 0;
        /* a job created here rings at once; 250 ms bounds the wait for one another
         * server of the same catalog created */
        vv_server_await(c->srv, &seen, 250);
    }
}

void vv_api_agent_job_next(struct vv_call *c)
{
    const char *w = vv_http_query(c->req, "wait");
    int64_t wait = 0;
    json_t *job = NULL;
    int r, per_host = 0;

    if (w) {
        char *end;
        wait = strtoll(w, &end, 10);
        if (*end || end == w || wait < 0 || wait > 60) {
            vv_reply_error(c, 400, "InvalidParameter", "wait must be 0 to 60 seconds");
            return;
        }
    }
    if (wait > 0 && poll_enter(c->who.container_id, &per_host) != 0) {
        vv_warn("a long poll of host '%s' refused: %s", c->who.container,
                per_host ? "it already has 2 waiting" : "the server's polls are all taken");
        vv_reply_error(c, 429, "TooManyPolls",
                       per_host ? "host '%s' already has %d polls for jobs waiting; poll "
                                  "again after Retry-After seconds, one poll at a time"
                                : "the server holds as many polls for jobs as it lets wait "
                                  "(host '%s'; %d per host); poll again after Retry-After "
                                  "seconds",
                       c->who.container, POLLS_PER_HOST);
        c->resp->headers[0][0] = "Retry-After";
        c->resp->headers[0][1] = POLL_RETRY_AFTER;
        c->resp->headers[1][0] = NULL;
        return;
    }
    r = claim_waiting(c, wait, &job);
    if (wait > 0)
        poll_leave(c->who.container_id);
    if (r < 0) {
        vv_reply_internal(c, r);
        return;
    }
    if (r == 1) {
        vv_reply(c, 200, job);
        return;
    }
    free(c->resp->body);
    c->resp->body = NULL;
    c->resp->body_len = 0;
    c->resp->status = 204;
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

/* A progress report, checked; borrowed from the call's body. */
struct progress {
    json_t *tasks;           /* array of {name, status}, or NULL */
    int64_t done, total;     /* bytes; -1 when not reported */
};

/* tasks[i] of a progress report: 0, or -1 after replying 400. */
static int check_task(struct vv_call *c, const json_t *t, size_t i)
{
    static const char *const tfields[] = {"name", "status", NULL};
    const char *name, *ts;
    char where[32];

    snprintf(where, sizeof(where), "tasks[%zu]", i);
    if (!json_is_object(t)) {
        vv_reply_error(c, 400, "InvalidParameter", "%s must be an object", where);
        return -1;
    }
    if (vv_body_only(c, t, where, tfields) || vv_body_str(c, t, "name", 1, &name) ||
        vv_body_str(c, t, "status", 1, &ts))
        return -1;
    if (strlen(name) > 64 || !task_status_valid(ts)) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "%s: name at most 64 characters; status one of NotStarted, InProgress, "
                       "Completed, Failed, Skipped, Cancelled",
                       where);
        return -1;
    }
    return 0;
}

/* The body of a progress report into *p: 0, or -1 after replying 400. */
static int parse_progress(struct vv_call *c, struct progress *p)
{
    static const char *const fields[] = {"tasks", "bytesDone", "bytesTotal", NULL};
    json_t *t;
    size_t i;

    p->done = p->total = -1;
    if (vv_body_only(c, c->body, NULL, fields) ||
        vv_body_int(c, c->body, "bytesDone", 0, 0, INT64_MAX, &p->done) ||
        vv_body_int(c, c->body, "bytesTotal", 0, 0, INT64_MAX, &p->total))
        return -1;
    p->tasks = json_object_get(c->body, "tasks");
    if (p->tasks && (!json_is_array(p->tasks) || json_array_size(p->tasks) > 16)) {
        vv_reply_error(c, 400, "InvalidParameter", "field 'tasks' must be an array of at most 16 tasks");
        return -1;
    }
    json_array_foreach(p->tasks, i, t) {
        if (check_task(c, t, i))
            return -1;
    }
    return 0;
}

/* The task called name in the job's task list cur, appended NotStarted when the list
 * has none. Borrowed from cur (NULL when out of memory). */
static json_t *task_named(json_t *cur, const char *name)
{
    json_t *have = NULL, *x;
    size_t k;

    json_array_foreach(cur, k, x) {
        if (json_is_string(json_object_get(x, "name")) &&
            !strcmp(json_string_value(json_object_get(x, "name")), name))
            have = x;
    }
    if (!have) {
        have = json_pack("{s:s,s:s}", "name", name, "status", "NotStarted");
        json_array_append_new(cur, have);
    }
    return have;
}

/* A task reported with status ts at tstamp: it starts at its first InProgress, and it
 * ends once (later reports that repeat its final status keep its end). */
static void task_update(json_t *have, const char *ts, const char *tstamp)
{
    if (!strcmp(ts, "InProgress") && !json_object_get(have, "startTime"))
        json_object_set_new(have, "startTime", json_string(tstamp));
    if (strcmp(ts, "InProgress") && strcmp(ts, "NotStarted") &&
        !(json_object_get(have, "endTime") && json_is_string(json_object_get(have, "status")) &&
          !strcmp(json_string_value(json_object_get(have, "status")), ts))) {
        if (!json_object_get(have, "startTime"))
            json_object_set_new(have, "startTime", json_string(tstamp));
        json_object_set_new(have, "endTime", json_string(tstamp));
    }
    json_object_set_new(have, "status", json_string(ts));
}

/* The job's task list with the reported tasks (checked) merged in, as JSON text
 * (owned: free()); NULL with *err set on failure. Catalog locked. */
static char *merged_tasks(struct vv_call *c, const json_t *tasks, int *err)
{
    char tstamp[32], *text;
    json_t *row, *cur, *t;
    size_t i;

    row = vv_db_row(c->srv->db, err, "SELECT tasks AS \"tasks:json\" FROM jobs WHERE id = ?", "s",
                    c->param[0]);
    if (!row)
        return NULL;
    cur = json_object_get(row, "tasks");
    if (!json_is_array(cur)) {
        json_object_set_new(row, "tasks", json_array());
        cur = json_object_get(row, "tasks");
    }
    vv_time_format_or_empty(c->now, tstamp);
    json_array_foreach(tasks, i, t) {
        task_update(task_named(cur, json_string_value(json_object_get(t, "name"))),
                    json_string_value(json_object_get(t, "status")), tstamp);
    }
    text = vv_json_dump(cur);
    json_decref(row);
    if (!text)
        *err = VV_E_NOMEM;
    return text;
}

void vv_api_agent_job_progress(struct vv_call *c)
{
    struct progress p;
    char op[32], status[32], *text;
    int64_t item_id, cancel = 0;
    int r;

    if (vv_agent_job(c, op, status, &item_id) || parse_progress(c, &p))
        return;
    if (!(text = merged_tasks(c, p.tasks, &r))) {
        vv_reply_internal(c, r);
        return;
    }
    r = vv_job_progress(c->srv->db, c->param[0], c->now, text, p.done, p.total);
    free(text);
    if (r < 0) {
        vv_reply_internal(c, r);
        return;
    }
    vv_best_effort(vv_db_int(c->srv->db, &cancel, "SELECT cancel_requested FROM jobs WHERE id = ?",
                             "s", c->param[0]));
    vv_reply(c, 200, json_pack("{s:b}", "cancelRequested", (int)cancel));
}

/* A completion report, checked: end's strings are borrowed from the call's body, and
 * its stats, warnings and snapshot point at the owned texts here. */
struct completion {
    struct vv_job_end end;
    char *stats, *warnings, *snapshot;
};

static void completion_free(struct completion *cp)
{
    free(cp->stats);
    free(cp->warnings);
    free(cp->snapshot);
    memset(cp, 0, sizeof(*cp));
}

/* The body's error {code, message} into e: 0, or -1 after replying 400. */
static int check_error(struct vv_call *c, const json_t *err, struct vv_job_end *e)
{
    static const char *const efields[] = {"code", "message", NULL};

    if (!json_is_object(err)) {
        vv_reply_error(c, 400, "InvalidParameter", "field 'error' must be an object");
        return -1;
    }
    if (vv_body_only(c, err, "error", efields) || vv_body_str(c, err, "code", 1, &e->code) ||
        vv_body_str(c, err, "message", 1, &e->message))
        return -1;
    if (!vv_name_valid(e->code) || strlen(e->message) > 4000) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "error.code must be an identifier such as ExtensionSnapshotFailedNoNetwork "
                       "and error.message at most 4000 characters");
        return -1;
    }
    return 0;
}

/* The body's status and error into e (only a Failed job has an error, and it must):
 * 0, or -1 after replying 400. */
static int check_outcome(struct vv_call *c, struct vv_job_end *e)
{
    static const char *const fields[] = {"status", "error", "stats", "warnings", "snapshot",
                                         NULL};
    const json_t *err;
    const char *st;

    if (vv_body_only(c, c->body, NULL, fields) || vv_body_str(c, c->body, "status", 1, &st))
        return -1;
    e->status = st;
    if (strcmp(st, "Completed") && strcmp(st, "CompletedWithWarnings") && strcmp(st, "Failed") &&
        strcmp(st, "Cancelled")) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "status must be Completed, CompletedWithWarnings, Failed or Cancelled");
        return -1;
    }
    if ((err = json_object_get(c->body, "error")) && check_error(c, err, e))
        return -1;
    if (!strcmp(st, "Failed") && !e->code) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "a Failed job needs an error {\"code\", \"message\"} that tells the operator "
                       "what to do");
        return -1;
    }
    if (e->code && strcmp(st, "Failed")) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "only a Failed job has an error; a job that completed with warnings "
                       "lists them in 'warnings'");
        return -1;
    }
    return 0;
}

/* warnings[i], a {code, message}: 0, or -1 after replying 400. */
static int check_warning(struct vv_call *c, const json_t *w, size_t i)
{
    static const char *const wfields[] = {"code", "message", NULL};
    const char *wc, *wm;

    if (!json_is_object(w)) {
        vv_reply_error(c, 400, "InvalidParameter", "warnings[%zu] must be an object", i);
        return -1;
    }
    if (vv_body_only(c, w, "warnings[]", wfields) || vv_body_str(c, w, "code", 1, &wc) ||
        vv_body_str(c, w, "message", 1, &wm))
        return -1;
    if (!vv_name_valid(wc) || strlen(wm) > 4000) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "warnings[%zu]: code must be an identifier such as "
                       "GuestAgentNotResponding and message at most 4000 characters",
                       i);
        return -1;
    }
    return 0;
}

/* The body's warnings: a job ends CompletedWithWarnings (st) exactly when it has some.
 * 0, or -1 after replying 400. */
static int check_warnings(struct vv_call *c, const char *st)
{
    const json_t *e = json_object_get(c->body, "warnings"), *w;
    size_t i;

    if (e && (!json_is_array(e) || json_array_size(e) > 32)) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "field 'warnings' must be an array of at most 32 {\"code\", "
                       "\"message\"} objects");
        return -1;
    }
    json_array_foreach(e, i, w) {
        if (check_warning(c, w, i))
            return -1;
    }
    if ((e && json_array_size(e) > 0) != !strcmp(st, "CompletedWithWarnings")) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "a job ends CompletedWithWarnings exactly when it has warnings");
        return -1;
    }
    return 0;
}

/* The body's snapshot (an object, reported by Backup jobs only), and a completed
 * backup's recovery point (committed before it completes). 0, or -1 after replying. */
static int check_backup(struct vv_call *c, const char *op, const char *st)
{
    const json_t *e = json_object_get(c->body, "snapshot");
    char rp[80] = "";
    int r;

    if (e && !json_is_object(e)) {
        vv_reply_error(c, 400, "InvalidParameter", "field 'snapshot' must be an object");
        return -1;
    }
    if (e && strcmp(op, "Backup")) {
        vv_reply_error(c, 400, "InvalidParameter", "only a Backup job reports a snapshot");
        return -1;
    }
    if (strcmp(op, "Backup") || (strcmp(st, "Completed") && strcmp(st, "CompletedWithWarnings")))
        return 0;
    r = vv_db_text(c->srv->db, rp, sizeof(rp),
                   "SELECT COALESCE(recovery_point, '') FROM jobs WHERE id = ?", "s", c->param[0]);
    if (r < 0) {
        vv_reply_internal(c, r);
        return -1;
    }
    if (!rp[0]) {
        vv_reply_error(c, 409, "NoRecoveryPoint",
                       "a Backup job completes only after its recovery point is committed "
                       "(POST .../recoveryPoint)");
        return -1;
    }
    return 0;
}

/* The body's stats: counters that are non-negative integers (incremental a boolean).
 * 0, or -1 after replying 400. */
static int check_stats(struct vv_call *c)
{
    static const char *const sfields[] = {"bytesRead", "bytesSent", "bytesNew", "chunksRead",
                                          "chunksNew", "chunksDeduplicated", "chunksZero",
                                          "chunksKept", "incremental", NULL};
    json_t *e = json_object_get(c->body, "stats"), *v;
    const char *k;

    if (!e)
        return 0;
    if (!json_is_object(e)) {
        vv_reply_error(c, 400, "InvalidParameter", "field 'stats' must be an object");
        return -1;
    }
    if (vv_body_only(c, e, "stats", sfields))
        return -1;
    json_object_foreach(e, k, v) {
        if (!(json_is_integer(v) && json_integer_value(v) >= 0) &&
            !(json_is_boolean(v) && !strcmp(k, "incremental"))) {
            vv_reply_error(c, 400, "InvalidParameter", "stats.%s must be a non-negative integer",
                           k);
            return -1;
        }
    }
    return 0;
}

/* The body of a completion of job op, checked, into *cp (completion_free it after a
 * 0): 0, or -1 after replying. Catalog locked. */
static int parse_completion(struct vv_call *c, const char *op, struct completion *cp)
{
    const json_t *e;

    memset(cp, 0, sizeof(*cp));
    if (check_outcome(c, &cp->end) || check_warnings(c, cp->end.status) ||
        check_backup(c, op, cp->end.status) || check_stats(c))
        return -1;
    if ((e = json_object_get(c->body, "stats")))
        cp->stats = vv_json_dump(e);
    if ((e = json_object_get(c->body, "warnings")) && json_array_size(e))
        cp->warnings = vv_json_dump(e);
    if ((e = json_object_get(c->body, "snapshot"))) {
        cp->snapshot = vv_json_dump(e);
        if (cp->snapshot && strlen(cp->snapshot) > 64 * 1024) {
            completion_free(cp);
            vv_reply_error(c, 400, "InvalidParameter", "field 'snapshot' is larger than 64 KiB");
            return -1;
        }
    }
    cp->end.stats = cp->stats;
    cp->end.warnings = cp->warnings;
    cp->end.snapshot = cp->snapshot;
    return 0;
}

/* Record the end of the job in the URL (and of a backup on its item) in one
 * transaction, then release what the job held. 0 or <0. Catalog locked. */
static int record_end(struct vv_call *c, const char *op, int64_t item_id,
                      const struct vv_job_end *e)
{
    char uuid[VV_UUID_LEN];
    int r;

    if ((r = vv_db_begin(c->srv->db)) != 0)
        return r;
    r = vv_job_end(c->srv->db, c->param[0], c->now, e);
    if (r >= 0 && !strcmp(op, "Backup") && item_id)
        r = vv_db_run(c->srv->db,
                      "UPDATE protected_items SET last_backup_status = ?, last_backup_time = ? "
                      "WHERE id = ?",
                      "sii", e->status, (int64_t)c->now, item_id);
    if (r < 0 || (r = vv_db_commit(c->srv->db)) != 0) {
        vv_db_rollback(c->srv->db);
        return r;
    }
    if (vv_db_text(c->srv->db, uuid, sizeof(uuid), "SELECT uuid FROM vaults WHERE id = ?", "i",
                   c->who.vault_id) == 1)
        vv_job_ended(c->srv, uuid, c->who.container_id, c->param[0]);
    return 0;
}

void vv_api_agent_job_complete(struct vv_call *c)
{
    struct completion cp;
    char op[32], status[32];
    int64_t item_id;
    int r;

    if (vv_agent_job(c, op, status, &item_id) || parse_completion(c, op, &cp))
        return;
    r = record_end(c, op, item_id, &cp.end);
    if (r) {
        completion_free(&cp);
        vv_reply_internal(c, r);
        return;
    }
    if (cp.end.code)
        vv_warn("job %s on host '%s' ended %s: %s: %s", c->param[0], c->who.container,
                cp.end.status, cp.end.code, cp.end.message);
    else
        vv_info("job %s on host '%s' ended %s", c->param[0], c->who.container, cp.end.status);
    completion_free(&cp);
    vv_reply(c, 200, vv_job_json(c, c->param[0]));
}
