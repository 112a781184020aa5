/*
 * scheduler.c: policies at work. The scheduler creates each protected item's Backup jobs
 * when its policy says; retention gives every recovery point its expiry; the daily
 * prune and collection are queued for the worker (worker.c).
 *
 * The rules of time live in lib/ (schedule.h: run times across time zones and DST;
 * retention.h: which tiers keep a point until when); this file applies them to the
 * catalog, with `now` from the server's clock.
 *
 * Scheduling invariants:
 *  - protected_items.sched_from is the instant after which the item's runs are due;
 *    next_run is the first run after it (NULL when the item is not scheduled: stopped,
 *    soft deleted, or no policy).
 *  - A run creates one job, in the same transaction that moves sched_from to that
 *    run's instant: a slot never gives two jobs, across restarts too.
 *  - After downtime the item runs once, not once per missed slot, and the job says
 *    how many slots it stands for.
 *  - While a job of the item is still running the due run waits (it is not dropped).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs.h"
#include "util.h"
#include "err.h"
#include "log.h"
#include "policy/policy.h"
#include "policy/retention.h"
#include "scheduler.h"
#include "policy/schedule.h"
#include "policy/tz.h"

#define T(col) "strftime('%Y-%m-%dT%H:%M:%SZ', " col ", 'unixepoch')"

int vv_tz_get(struct vv_server *s, const char *name, const struct vv_tz **out)
{
    struct vv_tz *tz, **grown;
    int r = 0;

    pthread_mutex_lock(&s->tzs.mu);
    for (size_t i = 0; i < s->tzs.n; i++)
        if (!strcmp(vv_tz_name(s->tzs.zones[i]), name)) {
            *out = s->tzs.zones[i];
            goto out;
        }
    if ((r = vv_tz_load(s->zoneinfo, name, &tz)) != 0) {
        vv_warn("time zone '%s' cannot be loaded from %s", name, s->zoneinfo);
        goto out;
    }
    grown = realloc(s->tzs.zones, (s->tzs.n + 1) * sizeof(*grown));
    if (!grown) {
        vv_tz_free(tz);
        r = VV_E_NOMEM;
        goto out;
    }
    s->tzs.zones = grown;
    s->tzs.zones[s->tzs.n++] = tz;
    *out = tz;
out:
    pthread_mutex_unlock(&s->tzs.mu);
    return r;
}

int vv_policy_load(struct vv_server *s, const char *spec, struct vv_policy *p,
                   const struct vv_tz **tz)
{
    char err[300];
    json_t *j = vv_json_parse(spec, strlen(spec), NULL, 0);
    int r;

    if (!j)
        return VV_E_CORRUPT;
    r = vv_policy_from_json(j, p, err, sizeof(err));
    json_decref(j);
    if (r) {
        vv_error("catalog: a stored policy no longer validates: %s", err);
        return VV_E_CORRUPT;
    }
    return vv_tz_get(s, p->time_zone, tz);
}

/* The item's policy: 1 with *p and *tz, 0 when it has none, <0 on error. */
static int item_policy(struct vv_server *s, int64_t item_id, struct vv_policy *p,
                       const struct vv_tz **tz)
{
    char spec[32768];
    int r = vv_db_text(s->db, spec, sizeof(spec),
                       "SELECT p.spec FROM protected_items i JOIN policies p ON p.id = i.policy_id "
                       "WHERE i.id = ?",
                       "i", item_id);
    if (r <= 0)
        return r;
    r = vv_policy_load(s, spec, p, tz);
    return r < 0 ? r : 1;
}

int vv_sched_item_reset(struct vv_server *s, int64_t item_id, time_t now)
{
    struct vv_policy p;
    const struct vv_tz *tz;
    int64_t scheduled = 0, next;
    int r;

    r = vv_db_int(s->db, &scheduled,
                  "SELECT state IN ('IRPending','Protected') AND policy_id IS NOT NULL "
                  "  AND deleted IS NULL AND stop_mode IS NULL FROM protected_items WHERE id = ?",
                  "i", item_id);
    if (r < 0)
        return r;
    if (!scheduled || (r = item_policy(s, item_id, &p, &tz)) == 0)
        return vv_db_run(s->db, "UPDATE protected_items SET next_run = NULL WHERE id = ?", "i",
                         item_id) < 0
                   ? VV_E_IO
                   : 0;
    if (r < 0)
        return r;
    next = vv_schedule_next(&p, tz, (int64_t)now);
    r = vv_db_run(s->db, "UPDATE protected_items SET sched_from = ?, next_run = ? WHERE id = ?",
                  "iii", (int64_t)now, next, item_id);
    return r < 0 ? r : 0;
}

int vv_sched_policy_reset(struct vv_server *s, int64_t policy_id, time_t now)
{
    struct vv_stmt *st;
    int64_t *ids = NULL;
    size_t n = 0;
    int r;

    if ((r = vv_db_prepare(s->db, &st, "SELECT id FROM protected_items WHERE policy_id = ?", "i",
                           policy_id)) != 0)
        return r;
    while ((r = vv_stmt_step(st)) == 1) {
        int64_t *grown = realloc(ids, (n + 1) * sizeof(*ids));
        if (!grown) {
            r = VV_E_NOMEM;
            break;
        }
        ids = grown;
        ids[n++] = vv_stmt_int(st, 0);
    }
    vv_stmt_free(st);
    for (size_t i = 0; r >= 0 && i < n; i++)
        if ((r = vv_sched_item_reset(s, ids[i], now)) == 0)
            r = vv_retention_refresh(s, ids[i]);
    free(ids);
    return r < 0 ? r : 0;
}

/* ---- retention ----------------------------------------------------------------- */

static void tiers_text(unsigned tiers, char *out, size_t outlen)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {VV_TIER_ONDEMAND, "OnDemand"}, {VV_TIER_INSTANT, "Instant"}, {VV_TIER_DAILY, "Daily"},
        {VV_TIER_WEEKLY, "Weekly"},     {VV_TIER_MONTHLY, "Monthly"}, {VV_TIER_YEARLY, "Yearly"},
    };
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (tiers & names[i].bit)
            len += (size_t)snprintf(out + len, len < outlen ? outlen - len : 0, "%s%s",
                                    len ? "," : "", names[i].name);
}

struct point_row {
    int64_t id;
    struct vv_rp rp;
};

/* The recovery points of an item, into *out (owned by the caller, free() it even
 * after a failure) and *n. 0 or <0. Catalog locked. */
static int load_points(struct vv_server *s, int64_t item_id, struct point_row **out, size_t *n)
{
    struct vv_stmt *st;
    int r;

    if ((r = vv_db_prepare(s->db, &st,
                           "SELECT id, COALESCE(scheduled_for, time), kind = 'Scheduled', "
                           "  retain_until FROM recovery_points WHERE item_id = ?",
                           "i", item_id)) != 0)
        return r;
    while ((r = vv_stmt_step(st)) == 1) {
        struct point_row *grown = realloc(*out, (*n + 1) * sizeof(**out)), *pt;
        if (!grown) {
            r = VV_E_NOMEM;
            break;
        }
        *out = grown;
        pt = &grown[*n];
        memset(pt, 0, sizeof(*pt));
        pt->id = vv_stmt_int(st, 0);
        pt->rp.time = vv_stmt_int(st, 1);
        pt->rp.scheduled = (int)vv_stmt_int(st, 2);
        pt->rp.retain_until = vv_stmt_is_null(st, 3) ? VV_EXPIRY_NEVER : vv_stmt_int(st, 3);
        (*n)++;
    }
    vv_stmt_free(st);
    return r < 0 ? r : 0;
}

/* The expiry and tiers of each of the n points from policy p (NULL when the item has
 * none). 0 or VV_E_NOMEM. */
static int expire_points(const struct vv_policy *p, const struct vv_tz *tz,
                         struct point_row *pts, size_t n)
{
    struct vv_rp *rps;

    if (!p) {
        /* No policy (cannot happen for a protected item): nothing expires but what
         * an on-demand backup asked for. */
        for (size_t i = 0; i < n; i++) {
            pts[i].rp.expiry = pts[i].rp.scheduled ? VV_EXPIRY_NEVER : pts[i].rp.retain_until;
            pts[i].rp.tiers = pts[i].rp.scheduled ? 0 : VV_TIER_ONDEMAND;
        }
        return 0;
    }
    if (!(rps = malloc((n ? n : 1) * sizeof(*rps))))
        return VV_E_NOMEM;
    for (size_t i = 0; i < n; i++)
        rps[i] = pts[i].rp;
    vv_retention_apply(p, tz, rps, n);
    for (size_t i = 0; i < n; i++)
        pts[i].rp = rps[i];
    free(rps);
    return 0;
}

int vv_retention_refresh(struct vv_server *s, int64_t item_id)
{
    struct vv_policy p;
    const struct vv_tz *tz = NULL;
    struct point_row *pts = NULL;
    char mode[32] = "";
    int64_t deleted = 0;
    size_t n = 0;
    int r, have_policy = 0;

    r = vv_db_text(s->db, mode, sizeof(mode),
                   "SELECT COALESCE(stop_mode, '') FROM protected_items WHERE id = ?", "i", item_id);
    if (r <= 0)
        return r;
    if ((r = vv_db_int(s->db, &deleted,
                       "SELECT deleted IS NOT NULL FROM protected_items WHERE id = ?", "i",
                       item_id)) < 0)
        return r;
    if (deleted)
        return 0; /* soft deleted: kept as it is until purged or undeleted */
    if (!strcmp(mode, "Retain"))
        return vv_db_run(s->db,
                         "UPDATE recovery_points SET expires = NULL, retained_by = 'ProtectionStopped' "
                         "WHERE item_id = ?",
                         "i", item_id) < 0
                   ? VV_E_IO
                   : 0;
    if ((r = item_policy(s, item_id, &p, &tz)) < 0)
        return r;
    have_policy = r == 1;
    if ((r = load_points(s, item_id, &pts, &n)) < 0)
        goto out;
    if ((r = expire_points(have_policy ? &p : NULL, tz, pts, n)) < 0)
        goto out;
    for (size_t i = 0; i < n && r >= 0; i++) {
        char tiers[96];
        tiers_text(pts[i].rp.tiers, tiers, sizeof(tiers));
        r = vv_db_run(s->db,
                      "UPDATE recovery_points SET expires = NULLIF(?, ?), retained_by = ? "
                      "WHERE id = ? AND (expires IS NOT NULLIF(?, ?) OR retained_by IS NOT ?)",
                      "iisiiis", pts[i].rp.expiry, (int64_t)VV_EXPIRY_NEVER, tiers, pts[i].id,
                      pts[i].rp.expiry, (int64_t)VV_EXPIRY_NEVER, tiers);
    }
out:
    free(pts);
    return r < 0 ? r : 0;
}

/* ---- the scheduler's tick ------------------------------------------------------- */

struct due {
    int64_t item, vault, sched_from;
    char name[80], spec[32768];
};

/* The params a scheduled backup adds to its job, as JSON text into extra: the run it
 * is for (when), the runs it stands for (nmissed) and note ("" for none). 0 or
 * VV_E_NOMEM. */
static int scheduled_params(const char *when, size_t nmissed, const char *note, char *extra,
                            size_t extralen)
{
    json_t *x = json_pack("{s:s,s:s,s:I}", "trigger", "Scheduled", "scheduledFor", when,
                          "missedRuns", (json_int_t)(nmissed - 1));
    char *t;

    if (x && note[0])
        json_object_set_new(x, "note", json_string(note));
    t = x ? vv_json_dump(x) : NULL;
    json_decref(x);
    if (!t)
        return VV_E_NOMEM;
    snprintf(extra, extralen, "%s", t);
    free(t);
    return 0;
}

/* Queue the run of one due item. Catalog locked, no transaction open. */
static int run_due(struct vv_server *s, const struct due *d, time_t now)
{
    static const char tasks[] = "[{\"name\":\"Take Snapshot\",\"status\":\"NotStarted\"},"
                                "{\"name\":\"Transfer data to vault\",\"status\":\"NotStarted\"}]";
    struct vv_policy p;
    const struct vv_tz *tz;
    int64_t last[64], busy = 0, next;
    size_t nmissed, nlast;
    char job[VV_UUID_LEN], when[32], extra[1024], note[600] = "";
    int r;

    if ((r = vv_db_int(s->db, &busy,
                       "SELECT COUNT(*) FROM jobs WHERE item_id = ? AND status IN "
                       "('InProgress','Cancelling')",
                       "i", d->item)) < 0)
        return r;
    if (busy)
        return 0; /* the run waits for the item's running job */
    if ((r = vv_policy_load(s, d->spec, &p, &tz)) != 0)
        return r;
    nmissed = vv_schedule_runs(&p, tz, d->sched_from, (int64_t)now, last, 0);
    /* The latest run at or before now: every schedule runs at least weekly. */
    nlast = vv_schedule_runs(&p, tz, (int64_t)now - 8 * 86400, (int64_t)now, last, 64);
    if (nlast > 64)
        nlast = 64;
    next = vv_schedule_next(&p, tz, (int64_t)now);
    if (nmissed == 0 || nlast == 0) {
        /* Not due after all (the schedule changed under it). */
        r = vv_db_run(s->db, "UPDATE protected_items SET next_run = ? WHERE id = ?", "ii",
                      vv_schedule_next(&p, tz, d->sched_from), d->item);
        return r < 0 ? r : 0;
    }
    vv_time_format_or_empty((time_t)last[nlast - 1], when);
    if (nmissed > 1) {
        char first[32];
        int64_t f[1];
        vv_schedule_runs(&p, tz, d->sched_from, (int64_t)now, f, 1);
        vv_time_format_or_empty((time_t)f[0], first);
        snprintf(note, sizeof(note),
                 "%zu scheduled runs since %s were missed while vmvaultd was not running; this "
                 "one backup stands for all of them",
                 nmissed, first);
    } else if ((int64_t)now - last[nlast - 1] > 3600) {
        snprintf(note, sizeof(note),
                 "the run scheduled for %s starts late: vmvaultd was not running or the item "
                 "was busy",
                 when);
    }
    if ((r = scheduled_params(when, nmissed, note, extra, sizeof(extra))) != 0)
        return r;
    if ((r = vv_db_begin(s->db)) != 0)
        return r;
    r = vv_job_insert(s->db, now, "scheduler", d->vault, d->item, "Backup", "InProgress", tasks, 0,
                      extra, job);
    if (r >= 0)
        r = vv_db_run(s->db,
                      "UPDATE protected_items SET sched_from = ?, next_run = ? WHERE id = ? "
                      "AND sched_from IS ?",
                      "iiii", last[nlast - 1], next, d->item, d->sched_from);
    if (r == 0)
        r = VV_E_EXISTS; /* someone moved the item on: do not run twice */
    if (r < 0 || (r = vv_db_commit(s->db)) != 0) {
        vv_db_rollback(s->db);
        return r == VV_E_EXISTS ? 0 : r;
    }
    vv_info("scheduler: backup of '%s' for the run of %s: job %s%s%s", d->name, when, job,
            note[0] ? "; " : "", note);
    vv_server_ring(s);
    return 1;
}

/* Vaults whose daily prune and collection are due get a Prune and a
 * GarbageCollection job (unless one is queued or running). */
static int prune_due(struct vv_server *s, time_t now)
{
    struct vv_stmt *st;
    int64_t ids[256];
    size_t n = 0;
    int r, made = 0;
    int64_t day = (int64_t)now - (int64_t)now % 86400;
    int64_t next = day + (int64_t)s->prune_time * 60;

    if (next <= (int64_t)now)
        next += 86400;
    if (vv_db_run(s->db, "UPDATE vaults SET next_prune = ? WHERE next_prune IS NULL", "i", next) < 0)
        return VV_E_IO;
    if ((r = vv_db_prepare(s->db, &st, "SELECT id FROM vaults WHERE next_prune <= ? LIMIT 256",
                           "i", (int64_t)now)) != 0)
        return r;
    while ((r = vv_stmt_step(st)) == 1)
        ids[n++] = vv_stmt_int(st, 0);
    vv_stmt_free(st);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        if ((r = vv_db_begin(s->db)) != 0)
            return r;
        if ((r = vv_server_job_queue(s, ids[i], "Prune", "scheduler", now, NULL)) >= 0 &&
            (r = vv_server_job_queue(s, ids[i], "GarbageCollection", "scheduler", now, NULL)) >= 0)
            r = vv_db_run(s->db, "UPDATE vaults SET next_prune = ? WHERE id = ?", "ii", next,
                          ids[i]);
        if (r < 0 || (r = vv_db_commit(s->db)) != 0) {
            vv_db_rollback(s->db);
            return r;
        }
        made++;
    }
    return made;
}

int vv_sched_tick(struct vv_server *s, time_t now)
{
    struct vv_stmt *st;
    struct due *due = NULL;
    size_t n = 0;
    int r, made = 0;

    vv_db_lock(s->db);
    r = vv_db_prepare(s->db, &st,
                      "SELECT i.id, i.vault_id, COALESCE(i.sched_from, i.created), i.name, p.spec "
                      "FROM protected_items i JOIN policies p ON p.id = i.policy_id "
                      "WHERE i.next_run IS NOT NULL AND i.next_run <= ? "
                      "  AND i.state IN ('IRPending','Protected') AND i.deleted IS NULL "
                      "  AND i.stop_mode IS NULL ORDER BY i.next_run LIMIT 64",
                      "i", (int64_t)now);
    if (r == 0) {
        while ((r = vv_stmt_step(st)) == 1) {
            struct due *grown = realloc(due, (n + 1) * sizeof(*due));
            if (!grown) {
                r = VV_E_NOMEM;
                break;
            }
            due = grown;
            due[n].item = vv_stmt_int(st, 0);
            due[n].vault = vv_stmt_int(st, 1);
            due[n].sched_from = vv_stmt_int(st, 2);
            snprintf(due[n].name, sizeof(due[n].name), "%s", vv_stmt_text(st, 3));
            snprintf(due[n].spec, sizeof(due[n].spec), "%s", vv_stmt_text(st, 4));
            n++;
        }
        vv_stmt_free(st);
    }
    for (size_t i = 0; r >= 0 && i < n; i++) {
        int one = run_due(s, &due[i], now);
        if (one < 0)
            vv_error("scheduler: cannot queue the backup of '%s': %s", due[i].name,
                     vv_strerror(one));
        else
            made += one;
    }
    {
        int p = prune_due(s, now);
        if (p > 0)
            vv_server_worker_wake(s);
        else if (p < 0)
            vv_error("scheduler: cannot queue the daily prune: %s", vv_strerror(p));
    }
    vv_db_unlock(s->db);
    free(due);
    return r < 0 ? r : made;
}

void vv_sched_local_time(struct vv_server *s, const char *zone, time_t t, char out[48])
{
    const struct vv_tz *tz;
    out[0] = '\0';
    if (vv_tz_get(s, zone, &tz) == 0)
        vv_tz_format(tz, (int64_t)t, out);
}
