/*
 * schedule.c: the run instants of a policy (see schedule.h).
 *
 * How: local days are expanded in order into their scheduled wall-clock times, each
 * resolved to an instant (vv_tz_resolve). A resolved instant r of wall time w always
 * lies within w - SLOP < r < w + SLOP (a zone's offset is below 26 h), so the instants
 * of later days can never fall below day*86400 - SLOP. Instants wait in a small sorted
 * set (duplicates merge there: that is how two wall times resolved into one instant
 * make one run) until no later day can come before them; then they are given out in
 * order. So the runs are exactly the set of resolved instants, strictly ascending,
 * whatever a zone does, and vv_schedule_next and vv_schedule_runs agree.
 *
 * A struct that breaks the policy invariants is read defensively: a window longer
 * than 24 hours counts as 24, a start past midnight wraps, an interval of 0 means no
 * runs. Then a day holds at most 48 wall times and the waiting set at most four days'
 * worth, below PENDING_MAX.
 */
#include "schedule.h"

#include <string.h>

#define SLOP ((int64_t)VV_TZ_OFFSET_MAX + 1)
#define PENDING_MAX 256
#define TIMES_MASK ((UINT64_C(1) << 48) - 1)

/* The run generator. */
struct walker {
    const struct vv_policy *p;
    const struct vv_tz *tz;
    int64_t from;             /* only runs > from */
    int64_t day;              /* the next local day to expand (days since 1970-01-01) */
    int64_t last_day;         /* no day after it is expanded (the range of tz.h) */
    int64_t pend[PENDING_MAX]; /* resolved runs > from, ascending, distinct */
    size_t npend;
};

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static unsigned popcount64(uint64_t v)
{
    unsigned n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

static unsigned window_hours(const struct vv_policy *p)
{
    return p->window_hours > 24 ? 24u : p->window_hours;
}

unsigned vv_schedule_runs_per_day(const struct vv_policy *p)
{
    switch (p->frequency) {
    case VV_FREQ_DAILY:
        return popcount64(p->run_times & TIMES_MASK);
    case VV_FREQ_WEEKLY:
        return (p->run_days & VV_DAYS_ALL) ? popcount64(p->run_times & TIMES_MASK) : 0;
    case VV_FREQ_HOURLY:
        return p->hourly_interval ? (window_hours(p) + p->hourly_interval - 1u) /
                                        p->hourly_interval
                                  : 0;
    }
    return 0;
}

int vv_schedule_runs_on(const struct vv_policy *p, int wday)
{
    if (vv_schedule_runs_per_day(p) == 0 || wday < 0 || wday > 6)
        return 0;
    return p->frequency != VV_FREQ_WEEKLY || (p->run_days & VV_DAY(wday)) != 0;
}

/* Add r to the waiting set, unless it is there already. */
static void pend_add(struct walker *w, int64_t r)
{
    size_t i = w->npend;
    if (r <= w->from || w->npend == PENDING_MAX)
        return;
    while (i > 0 && w->pend[i - 1] > r)
        i--;
    if (i > 0 && w->pend[i - 1] == r)
        return;
    memmove(w->pend + i + 1, w->pend + i, (w->npend - i) * sizeof(w->pend[0]));
    w->pend[i] = r;
    w->npend++;
}

/* Wall time `secs` after the local midnight of `day`, resolved, into the set. */
static void add_wall(struct walker *w, int64_t day, int64_t secs)
{
    struct vv_civil c;
    vv_civil_from_seconds(day * 86400 + secs, &c);
    pend_add(w, vv_tz_resolve(w->tz, &c));
}

/* The scheduled wall times of local day `day`. */
static void expand(struct walker *w, int64_t day)
{
    const struct vv_policy *p = w->p;
    int wday = vv_weekday(day);

    if (!vv_schedule_runs_on(p, wday))
        return;
    if (p->frequency == VV_FREQ_HOURLY) {
        int64_t start = (int64_t)(p->window_start % 1440) * 60;
        for (unsigned h = 0; h < window_hours(p); h += p->hourly_interval)
            add_wall(w, day, start + (int64_t)h * 3600);
        return;
    }
    for (int k = 0; k < 48; k++)
        if (p->run_times & (UINT64_C(1) << k))
            add_wall(w, day, (int64_t)k * 1800);
}

static void walker_init(struct walker *w, const struct vv_policy *p, const struct vv_tz *tz,
                        int64_t from)
{
    int64_t lo = floor_div(-VV_TZ_INSTANT_MAX, 86400);
    w->p = p;
    w->tz = tz;
    w->from = from;
    w->last_day = floor_div(VV_TZ_INSTANT_MAX, 86400) - 2;
    /* the last day whose wall times (up to 48 h after its midnight, for a window)
     * could resolve after `from` is at least this late */
    w->day = from < -VV_TZ_INSTANT_MAX ? lo : floor_div(from, 86400) - 4;
    if (w->day < lo)
        w->day = lo;
    w->npend = 0;
}

/* The next run, ascending, or VV_SCHEDULE_NONE. */
static int64_t walker_next(struct walker *w)
{
    int64_t r;
    if (vv_schedule_runs_per_day(w->p) == 0)
        return VV_SCHEDULE_NONE;
    for (;;) {
        /* every wall time still to come is >= day*86400: it resolves above this */
        if (w->npend > 0 && (w->pend[0] < w->day * 86400 - SLOP || w->day > w->last_day)) {
            r = w->pend[0];
            w->npend--;
            memmove(w->pend, w->pend + 1, w->npend * sizeof(w->pend[0]));
            return r;
        }
        if (w->day > w->last_day)
            return VV_SCHEDULE_NONE;
        expand(w, w->day);
        w->day++;
    }
}

int64_t vv_schedule_next(const struct vv_policy *p, const struct vv_tz *tz, int64_t after)
{
    struct walker w;
    walker_init(&w, p, tz, after);
    return walker_next(&w);
}

size_t vv_schedule_runs(const struct vv_policy *p, const struct vv_tz *tz, int64_t from,
                        int64_t to, int64_t *out, size_t max)
{
    struct walker w;
    size_t n = 0;
    int64_t r;

    if (to <= from)
        return 0;
    walker_init(&w, p, tz, from);
    while ((r = walker_next(&w)) != VV_SCHEDULE_NONE && r <= to) {
        if (n < max)
            out[n] = r;
        n++;
    }
    return n;
}
