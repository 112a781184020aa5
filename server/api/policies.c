/*
 * policies.c: backup policies of a vault. The body is checked by lib/policy/policy.c and
 * stored in its canonical JSON form; every vault has a DefaultPolicy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "err.h"
#include "log.h"
#include "policy/policy.h"
#include "policy/scripts.h"
#include "scheduler.h"
#include "policy/schedule.h"
#include "util.h"

#define DEFAULT_POLICY "DefaultPolicy"

/* The API form: name, vault, the policy's fields, protectedItemsCount. */
static json_t *policy_json(const char *vault, const char *name, const char *spec, int64_t count)
{
    json_t *o = json_pack("{s:s,s:s}", "name", name, "vault", vault);
    json_t *sp = vv_json_parse(spec, strlen(spec), NULL, 0);
    if (o && sp && json_is_object(sp))
        json_object_update(o, sp);
    json_decref(sp);
    if (o)
        json_object_set_new(o, "protectedItemsCount", json_integer((json_int_t)count));
    return o;
}

#define POLICY_ROWS                                                                    \
    "SELECT p.name, p.spec, (SELECT COUNT(*) FROM protected_items i "                  \
    "  WHERE i.policy_id = p.id) FROM policies p WHERE p.vault_id = ? "

static json_t *policies_json(struct vv_call *c, const char *vault, int64_t vault_id,
                             const char *only, int *err)
{
    struct vv_stmt *st;
    json_t *arr = json_array();
    int r;

    r = only ? vv_db_prepare(c->srv->db, &st, POLICY_ROWS "AND p.name = ?", "is", vault_id, only)
             : vv_db_prepare(c->srv->db, &st, POLICY_ROWS "ORDER BY p.name", "i", vault_id);
    if (r) {
        json_decref(arr);
        *err = r;
        return NULL;
    }
    while ((r = vv_stmt_step(st)) == 1)
        json_array_append_new(arr, policy_json(vault, vv_stmt_text(st, 0), vv_stmt_text(st, 1),
                                               vv_stmt_int(st, 2)));
    vv_stmt_free(st);
    *err = r;
    if (r < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* Check a policy body; on success *spec is its canonical JSON (caller frees). */
static int parse_policy(struct vv_call *c, char **spec)
{
    struct vv_policy p;
    struct vv_script_settings sc;
    const struct vv_tz *tz;
    const json_t *ss = json_object_get(c->body, "scriptSettings");
    char err[600];
    json_t *j;

    /* a request may not name the scripts a guest runs (stored policies still may:
     * vv_policy_from_json accepts them) */
    if ((ss && !json_is_null(ss) && vv_scripts_from_request(ss, &sc, err, sizeof(err)) != 0) ||
        vv_policy_from_json(c->body, &p, err, sizeof(err)) != 0) {
        vv_reply_error(c, 400, "InvalidParameter", "%s", err);
        return -1;
    }
    /* p.time_zone passed the name syntax check, so it is safe to echo and to use
     * as a path below the zoneinfo folder. */
    if (vv_tz_get(c->srv, p.time_zone, &tz) != 0) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "timeZone: '%s' is not a known IANA time zone (for example Europe/Berlin)",
                       p.time_zone);
        return -1;
    }
    j = vv_policy_to_json(&p);
    *spec = j ? vv_json_dump(j) : NULL;
    json_decref(j);
    vv_policy_release(&p);
    if (!*spec) {
        vv_reply_internal(c, VV_E_NOMEM);
        return -1;
    }
    return 0;
}

void vv_api_policy_list(struct vv_call *c)
{
    int64_t vid;
    int err;
    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0))
        return;
    vv_reply_list(c, policies_json(c, c->param[0], vid, NULL, &err));
}

static void reply_one(struct vv_call *c, int status, int64_t vid, const char *name)
{
    int err;
    json_t *arr = policies_json(c, c->param[0], vid, name, &err);
    if (!arr) {
        vv_reply_internal(c, err);
        return;
    }
    if (json_array_size(arr) == 0) {
        json_decref(arr);
        vv_reply_error(c, 404, "PolicyNotFound", "vault '%s' has no policy '%s'", c->param[0], name);
        return;
    }
    vv_reply(c, status, json_incref(json_array_get(arr, 0)));
    json_decref(arr);
}

void vv_api_policy_show(struct vv_call *c)
{
    int64_t vid;
    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0))
        return;
    reply_one(c, 200, vid, c->param[1]);
}

/* 1 when the script settings of a policy change from the stored spec old (NULL for
 * a new policy) to spec, with the audit line's detail in detail (n bytes); else 0.
 * They decide what runs inside its items' guests: a change is audited
 * (SetPolicyScriptSettings). */
static int scripts_change(struct vv_call *c, const char *old, const char *spec, char *detail,
                          size_t n)
{
    json_t *a = old ? vv_json_parse(old, strlen(old), NULL, 0) : NULL;
    json_t *b = vv_json_parse(spec, strlen(spec), NULL, 0);
    const json_t *sa = json_object_get(a, "scriptSettings");
    const json_t *sb = json_object_get(b, "scriptSettings");
    int changed = (sa || sb) && !(sa && sb && json_equal(sa, sb));
    char *text = changed && sb ? vv_json_dump(sb) : NULL;

    if (changed)
        snprintf(detail, n, "vault=%s scriptSettings=%.500s", c->param[0],
                 text ? text : "null");
    free(text);
    json_decref(a);
    json_decref(b);
    return changed;
}

void vv_api_policy_create(struct vv_call *c)
{
    const char *name;
    char *spec, sdetail[600];
    int64_t vid;
    int r, scripts_changed;

    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0) ||
        vv_body_str(c, c->body, "name", 1, &name))
        return;
    if (vv_check_name(c, "policy name", name))
        return;
    if (parse_policy(c, &spec))
        return;
    scripts_changed = scripts_change(c, NULL, spec, sdetail, sizeof(sdetail));
    r = vv_db_run(c->srv->db,
                  "INSERT INTO policies(vault_id, name, spec, created, updated) VALUES (?,?,?,?,?)",
                  "issii", vid, name, spec, (int64_t)c->now, (int64_t)c->now);
    free(spec);
    if (r == VV_E_EXISTS) {
        vv_reply_error(c, 409, "PolicyAlreadyExists",
                       "vault '%s' already has a policy '%s'; change it with PUT (policy set)",
                       c->param[0], name);
        return;
    }
    if (r < 0) {
        vv_reply_internal(c, r);
        return;
    }
    if (scripts_changed)
        vv_audit(c, "SetPolicyScriptSettings", name, sdetail);
    reply_one(c, 201, vid, name);
}

static int retention_all(struct vv_call *c, int64_t pid);

void vv_api_policy_set(struct vv_call *c)
{
    const char *name;
    char *spec, old[32768], sdetail[600];
    int64_t vid, pid = 0;
    struct vv_retention_change ch;
    int r, same_schedule, scripts_changed;

    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0) ||
        vv_body_str(c, c->body, "name", 0, &name))
        return;
    if (name && strcmp(name, c->param[1]) != 0) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "field 'name' ('%s') differs from the policy in the URL ('%s'); "
                       "policies cannot be renamed",
                       name, c->param[1]);
        return;
    }
    if (parse_policy(c, &spec))
        return;
    if ((r = vv_db_text(c->srv->db, old, sizeof(old),
                        "SELECT spec FROM policies WHERE vault_id = ? AND name = ?", "is", vid,
                        c->param[1])) <= 0 ||
        vv_db_int(c->srv->db, &pid, "SELECT id FROM policies WHERE vault_id = ? AND name = ?",
                  "is", vid, c->param[1]) <= 0) {
        free(spec);
        if (r < 0)
            vv_reply_internal(c, r);
        else
            vv_reply_error(c, 404, "PolicyNotFound", "vault '%s' has no policy '%s'", c->param[0],
                           c->param[1]);
        return;
    }
    scripts_changed = scripts_change(c, old, spec, sdetail, sizeof(sdetail));
    {
        json_t *a = vv_json_parse(old, strlen(old), NULL, 0), *b = vv_json_parse(spec, strlen(spec), NULL, 0);
        same_schedule = a && b &&
                        json_equal(json_object_get(a, "schedulePolicy"),
                                   json_object_get(b, "schedulePolicy")) &&
                        json_equal(json_object_get(a, "timeZone"), json_object_get(b, "timeZone"));
        json_decref(a);
        json_decref(b);
    }
    if ((r = vv_db_begin(c->srv->db)) != 0) {
        free(spec);
        vv_reply_internal(c, r);
        return;
    }
    r = vv_retention_change_begin(c->srv, 0, pid, &ch);
    if (r >= 0)
        r = vv_db_run(c->srv->db, "UPDATE policies SET spec = ?, updated = ? WHERE id = ?", "sii",
                      spec, (int64_t)c->now, pid);
    free(spec);
    /* Items on the policy: a new schedule starts now; every point's expiry follows the
     * new retention (longer keeps points longer; a point whose expiry comes earlier is
     * soft deleted when it expires, not removed: vv_retention_change_end). */
    if (r >= 0 && !same_schedule)
        r = vv_sched_policy_reset(c->srv, pid, c->now);
    else if (r >= 0)
        r = retention_all(c, pid);
    if (r >= 0)
        r = vv_retention_change_end(c->srv, &ch);
    vv_retention_change_release(&ch);
    if (r < 0 || (r = vv_db_commit(c->srv->db)) != 0) {
        vv_db_rollback(c->srv->db);
        vv_reply_internal(c, r);
        return;
    }
    vv_audit(c, "SetPolicy", c->param[1], c->param[0]);
    if (scripts_changed)
        vv_audit(c, "SetPolicyScriptSettings", c->param[1], sdetail);
    reply_one(c, 200, vid, c->param[1]);
}

/* Expiry of the points of every item using policy pid. Catalog locked. */
static int retention_all(struct vv_call *c, int64_t pid)
{
    int64_t ids[256], after = 0;
    size_t n;
    int r;

    do { /* in batches, without a statement open while refreshing */
        struct vv_stmt *st;
        n = 0;
        if ((r = vv_db_prepare(c->srv->db, &st,
                               "SELECT id FROM protected_items WHERE policy_id = ? AND id > ? "
                               "ORDER BY id LIMIT 256",
                               "ii", pid, after)) != 0)
            return r;
        while ((r = vv_stmt_step(st)) == 1)
            ids[n++] = after = vv_stmt_int(st, 0);
        vv_stmt_free(st);
        for (size_t i = 0; r >= 0 && i < n; i++)
            r = vv_retention_refresh(c->srv, ids[i]);
    } while (r >= 0 && n == 256);
    return r;
}

/* The ?from= and ?count= of a next-runs query: 0, or -1 after replying 400. */
static int next_runs_query(struct vv_call *c, time_t *from, uint64_t *count)
{
    const char *from_s = vv_http_query(c->req, "from"), *count_s = vv_http_query(c->req, "count");

    *from = c->now;
    *count = 10;
    if (from_s && vv_date_parse_utc(from_s, 0, from) != 0) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "from '%s' is not a date (YYYY-MM-DD) or a UTC time (YYYY-MM-DDTHH:MM:SSZ)",
                       from_s);
        return -1;
    }
    if (count_s && (vv_parse_u64(count_s, count) != 0 || *count < 1 || *count > 1000)) {
        vv_reply_error(c, 400, "InvalidParameter", "count must be an integer from 1 to 1000");
        return -1;
    }
    return 0;
}

/* Replies the next count runs at or after from of the policy spec (canonical JSON),
 * named name (NULL: a policy not saved yet). */
static void next_runs_reply(struct vv_call *c, const char *spec, const char *name, time_t from,
                            uint64_t count)
{
    char when[32], local[48];
    struct vv_policy p;
    const struct vv_tz *tz;
    int64_t t;
    json_t *runs;
    int r;

    if ((r = vv_policy_load(c->srv, spec, &p, &tz)) != 0) {
        vv_reply_internal(c, r);
        return;
    }
    runs = json_array();
    t = (int64_t)from - 1; /* a run exactly at from is listed */
    for (uint64_t i = 0; i < count && runs; i++) {
        t = vv_schedule_next(&p, tz, t);
        vv_time_format_or_empty((time_t)t, when);
        vv_sched_local_time(c->srv, p.time_zone, (time_t)t, local);
        json_array_append_new(runs, json_pack("{s:s,s:s}", "utc", when, "local", local));
    }
    vv_time_format_or_empty(from, when);
    vv_reply(c, 200, json_pack("{s:s?,s:s,s:s,s:o*}", "policy", name, "timeZone", p.time_zone,
                               "from", when, "value", runs));
}

void vv_api_policy_next_runs(struct vv_call *c)
{
    char spec[32768];
    time_t from;
    int64_t vid;
    uint64_t count;
    int r;

    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0) || next_runs_query(c, &from, &count))
        return;
    r = vv_db_text(c->srv->db, spec, sizeof(spec),
                   "SELECT spec FROM policies WHERE vault_id = ? AND name = ?", "is", vid,
                   c->param[1]);
    if (r <= 0) {
        if (r < 0)
            vv_reply_internal(c, r);
        else
            vv_reply_error(c, 404, "PolicyNotFound", "vault '%s' has no policy '%s'", c->param[0],
                           c->param[1]);
        return;
    }
    next_runs_reply(c, spec, c->param[1], from, count);
}

/* A policy not saved yet: checked as a create would check it, and its next runs. */
void vv_api_policy_preview(struct vv_call *c)
{
    const char *name = NULL;
    char *spec;
    time_t from;
    int64_t vid;
    uint64_t count;

    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0) || next_runs_query(c, &from, &count) ||
        vv_body_str(c, c->body, "name", 0, &name))
        return;
    if (name && vv_check_name(c, "policy name", name))
        return;
    if (parse_policy(c, &spec))
        return;
    next_runs_reply(c, spec, name, from, count);
    free(spec);
}

void vv_api_policy_delete(struct vv_call *c)
{
    int64_t vid, pid = 0, used = 0;
    int r;

    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0))
        return;
    if (vv_find_policy(c, vid, c->param[1], NULL, &pid))
        return;
    if (!strcmp(c->param[1], DEFAULT_POLICY)) {
        vv_reply_error(c, 409, "DefaultPolicyNotDeletable",
                       "DefaultPolicy cannot be deleted; change it with policy set instead");
        return;
    }
    r = vv_db_int(c->srv->db, &used, "SELECT COUNT(*) FROM protected_items WHERE policy_id = ?", "i",
                  pid);
    if (r < 0) {
        vv_reply_internal(c, r);
        return;
    }
    if (used) {
        vv_reply_error(c, 409, "PolicyInUse",
                       "policy '%s' protects %lld item(s); move them to another policy or stop "
                       "their protection first",
                       c->param[1], (long long)used);
        return;
    }
    r = vv_db_run(c->srv->db, "DELETE FROM policies WHERE id = ?", "i", pid);
    if (r < 0) {
        vv_reply_internal(c, r);
        return;
    }
    vv_audit(c, "DeletePolicy", c->param[1], c->param[0]);
    vv_reply(c, 200, NULL);
}
