/*
 * retention.c: expiry of recovery points under a policy (see retention.h).
 *
 * vv_retention_apply: each scheduled point gets its local day (the date of its time
 * in the zone); the day's point is the one with the latest time among the scheduled
 * points of that day. To find it, the (day, time) keys are sorted in a copy (the
 * caller's array keeps its order); for a few points, or when the copy cannot be
 * allocated, every pair is compared instead. Then the claims of each point are
 * computed on its local civil time and resolved in the zone.
 *
 * vv_retention_max_points sweeps the days of 2029-2056 after a warm-up as long as
 * the longest claim: each day adds its day's point (if the schedule runs that day)
 * and removes the points whose claims end that day, kept in a ring of per-day counts.
 */
#include "retention.h"

#include <stdlib.h>

#include "schedule.h"

#define SMALL 16 /* up to this many points, the pairwise comparison is used */

/* ---- which days a tier chooses ---- */

/* The VV_WEEK_* bits a day of the month belongs to. */
static unsigned week_bits(const struct vv_civil *c)
{
    unsigned b = c->day <= 28 ? VV_WEEK_FIRST << ((c->day - 1) / 7) : 0;
    if (c->day > vv_days_in_month(c->year, c->month) - 7)
        b |= VV_WEEK_LAST;
    return b;
}

/* 1 when a monthly or yearly tier's format chooses the day c (months aside). */
static int format_chooses(const struct vv_retention *t, const struct vv_civil *c)
{
    switch (t->format) {
    case VV_RET_FORMAT_WEEKLY:
        return (t->days & VV_DAY(c->wday)) && (t->weeks & week_bits(c));
    case VV_RET_FORMAT_DAILY:
        return (c->day <= 28 && (t->dates & VV_DATE(c->day))) ||
               (t->last_date && c->day == vv_days_in_month(c->year, c->month));
    default:
        return 0;
    }
}

static int weekly_chooses(const struct vv_policy *p, const struct vv_civil *c)
{
    return p->weekly.present && (p->weekly.days & VV_DAY(c->wday));
}

static int monthly_chooses(const struct vv_policy *p, const struct vv_civil *c)
{
    return p->monthly.present && format_chooses(&p->monthly, c);
}

static int yearly_chooses(const struct vv_policy *p, const struct vv_civil *c)
{
    return p->yearly.present && (p->yearly.months & VV_MONTH(c->month - 1)) &&
           format_chooses(&p->yearly, c);
}

/* ---- claims ---- */

enum unit { DAYS, MONTHS };

/* The instant n units after local time c, resolved in tz. */
static int64_t claim(const struct vv_tz *tz, const struct vv_civil *c, enum unit u, int64_t n)
{
    struct vv_civil e = *c;
    if (u == DAYS)
        vv_civil_add_days(&e, n);
    else
        vv_civil_add_months(&e, n);
    return vv_tz_resolve(tz, &e);
}

static void take(struct vv_rp *pt, unsigned tier, int64_t until)
{
    pt->tiers |= tier;
    if (until > pt->expiry)
        pt->expiry = until;
}

/* Expiry and tiers of one scheduled point; day_point: it is its day's point. */
static void claims(const struct vv_policy *p, const struct vv_tz *tz, struct vv_rp *pt,
                   int day_point)
{
    struct vv_civil c;
    vv_tz_to_local(tz, pt->time, &c);
    pt->expiry = INT64_MIN;
    pt->tiers = 0;
    take(pt, VV_TIER_INSTANT, claim(tz, &c, DAYS, p->instant_rp_days));
    if (!day_point)
        return;
    if (p->daily.present)
        take(pt, VV_TIER_DAILY, claim(tz, &c, DAYS, p->daily.count));
    if (weekly_chooses(p, &c))
        take(pt, VV_TIER_WEEKLY, claim(tz, &c, DAYS, (int64_t)p->weekly.count * 7));
    if (monthly_chooses(p, &c))
        take(pt, VV_TIER_MONTHLY, claim(tz, &c, MONTHS, p->monthly.count));
    if (yearly_chooses(p, &c))
        take(pt, VV_TIER_YEARLY, claim(tz, &c, MONTHS, (int64_t)p->yearly.count * 12));
}

/* ---- the day's point ---- */

struct key {
    int64_t day, time;
    size_t i;
};

static int64_t local_day(const struct vv_tz *tz, int64_t t)
{
    struct vv_civil c;
    vv_tz_to_local(tz, t, &c);
    return vv_days_from_civil(c.year, c.month, c.day);
}

static int key_cmp(const void *a, const void *b)
{
    const struct key *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return 0;
}

/* Pairwise: point i is its day's point when no scheduled point of its day is later. */
static void apply_pairwise(const struct vv_policy *p, const struct vv_tz *tz,
                           struct vv_rp *pts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t day;
        int last = 1;
        if (!pts[i].scheduled)
            continue;
        day = local_day(tz, pts[i].time);
        for (size_t j = 0; j < n && last; j++)
            if (pts[j].scheduled && pts[j].time > pts[i].time &&
                local_day(tz, pts[j].time) == day)
                last = 0;
        claims(p, tz, &pts[i], last);
    }
}

void vv_retention_apply(const struct vv_policy *p, const struct vv_tz *tz, struct vv_rp *pts,
                        size_t n)
{
    struct key *keys = NULL;
    size_t m = 0;

    for (size_t i = 0; i < n; i++)
        if (!pts[i].scheduled) {
            pts[i].expiry = pts[i].retain_until;
            pts[i].tiers = VV_TIER_ONDEMAND;
        }
    if (n > SMALL)
        keys = malloc(n * sizeof(*keys));
    if (!keys) {
        apply_pairwise(p, tz, pts, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (pts[i].scheduled) {
            keys[m].day = local_day(tz, pts[i].time);
            keys[m].time = pts[i].time;
            keys[m].i = i;
            m++;
        }
    qsort(keys, m, sizeof(*keys), key_cmp);
    /* day by day: keys[k..end] hold one day, its latest time last */
    for (size_t k = 0, end; k < m; k = end + 1) {
        end = k;
        while (end + 1 < m && keys[end + 1].day == keys[k].day)
            end++;
        for (size_t j = k; j <= end; j++)
            claims(p, tz, &pts[keys[j].i], keys[j].time == keys[end].time);
    }
    free(keys);
}

/* ---- the steady-state bound ---- */

/* The day (since 1970-01-01) until which the point of day `day` is kept. */
static int64_t kept_until(const struct vv_policy *p, int64_t day)
{
    struct vv_civil c = {0}, e;
    int64_t until = day + p->instant_rp_days, d;

    vv_civil_from_days(day, &c);
    if (p->daily.present && day + p->daily.count > until)
        until = day + p->daily.count;
    if (weekly_chooses(p, &c) && day + (int64_t)p->weekly.count * 7 > until)
        until = day + (int64_t)p->weekly.count * 7;
    if (monthly_chooses(p, &c)) {
        e = c;
        vv_civil_add_months(&e, p->monthly.count);
        d = vv_days_from_civil(e.year, e.month, e.day);
        if (d > until)
            until = d;
    }
    if (yearly_chooses(p, &c)) {
        e = c;
        vv_civil_add_years(&e, p->yearly.count);
        d = vv_days_from_civil(e.year, e.month, e.day);
        if (d > until)
            until = d;
    }
    return until;
}

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

static size_t ring_slot(int64_t day, size_t size)
{
    int64_t r = day % (int64_t)size;
    return (size_t)(r < 0 ? r + (int64_t)size : r);
}

#define LONGEST_CLAIM 100000 /* days; a valid policy's longest is 1188 * 31 = 36828 */

size_t vv_retention_max_points(const struct vv_policy *p)
{
    /* the longest claim, in days: months have at most 31 days, years 366 */
    int64_t h = max64(max64(p->instant_rp_days, p->daily.present ? p->daily.count : 0),
                      max64(p->weekly.present ? (int64_t)p->weekly.count * 7 : 0,
                            max64(p->monthly.present ? (int64_t)p->monthly.count * 31 : 0,
                                  p->yearly.present ? (int64_t)p->yearly.count * 366 : 0)));
    int64_t first = vv_days_from_civil(2029, 1, 1), end = vv_days_from_civil(2057, 1, 1);
    unsigned runs = vv_schedule_runs_per_day(p);
    size_t alive = 0, most = 0, size = (size_t)h + 1;
    unsigned char *ring;

    if (runs == 0)
        return 0;
    if (h > LONGEST_CLAIM)
        return SIZE_MAX;
    ring = calloc(size, 1);
    if (!ring)
        return SIZE_MAX;
    for (int64_t d = first - h; d < end; d++) {
        size_t slot = ring_slot(d, size);
        if (vv_schedule_runs_on(p, vv_weekday(d))) {
            int64_t until = kept_until(p, d);
            if (until > d) {
                alive++;
                ring[ring_slot(until, size)]++;
            }
        }
        alive -= ring[slot];
        ring[slot] = 0;
        if (d >= first && alive > most)
            most = alive;
    }
    free(ring);
    return most + (size_t)(runs - 1) * p->instant_rp_days;
}
