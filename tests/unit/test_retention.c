/*
 * test_retention.c: expiry of recovery points (grandfather-father-son), with
 * expectations computed by hand:
 *   - three years of daily 02:00 points in Europe/Berlin under a GFS policy (daily 7
 *     days, weekly Sunday 4 weeks, monthly first Sunday 12 months, yearly January's
 *     last day 2 years) and a Daily-format variant: exactly which points are alive at
 *     given instants, including the second a point expires;
 *   - several points a day (only the day's last one is claimed by the tiers), on-demand
 *     points and VV_EXPIRY_NEVER, a failed day that nothing replaces;
 *   - leap-day and month-end claims (clamped), points and claims on DST days;
 *   - the order of the points does not matter, the sorted and pairwise paths agree;
 *   - vv_retention_max_points for several policies, one over 9999, and against the
 *     most points simulated years of backups keep.
 */
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"
#include "policy/policy.h"
#include "policy/retention.h"
#include "policy/schedule.h"
#include "policy/tz.h"

#define ZONEINFO "/usr/share/zoneinfo"
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static int64_t utc(int y, int mo, int d, int h, int mi)
{
    struct vv_civil c = {y, mo, d, h, mi, 0, 0};
    return vv_civil_to_seconds(&c);
}

/* The instant of a local time (first occurrence / end of gap). */
static int64_t at(const struct vv_tz *tz, int y, int mo, int d, int h, int mi)
{
    struct vv_civil c = {y, mo, d, h, mi, 0, 0};
    return vv_tz_resolve(tz, &c);
}

static struct vv_tz *berlin(void)
{
    struct vv_tz *tz = NULL;
    if (access(ZONEINFO "/Europe/Berlin", R_OK) != 0) {
        printf("SKIP no %s\n", ZONEINFO);
        return NULL;
    }
    if (vv_tz_load(ZONEINFO, "Europe/Berlin", &tz) != 0)
        vv_test_fail(__FILE__, __LINE__, "cannot load Europe/Berlin");
    return tz;
}

static struct vv_policy base(uint64_t times)
{
    struct vv_policy p;
    vv_policy_default(&p);
    snprintf(p.time_zone, sizeof(p.time_zone), "Europe/Berlin");
    p.run_times = times;
    p.daily = (struct vv_retention){0};
    return p;
}

/* daily 7 days, weekly Sunday 4 weeks, monthly first Sunday 12 months, yearly the last
 * day of January 2 years; instant 2 days. */
static struct vv_policy gfs(uint64_t times)
{
    struct vv_policy p = base(times);
    p.daily = (struct vv_retention){.present = 1, .count = 7};
    p.weekly = (struct vv_retention){.present = 1, .count = 4, .days = VV_DAY(0)};
    p.monthly = (struct vv_retention){.present = 1, .count = 12, .format = VV_RET_FORMAT_WEEKLY,
                                      .days = VV_DAY(0), .weeks = VV_WEEK_FIRST};
    p.yearly = (struct vv_retention){.present = 1, .count = 2, .format = VV_RET_FORMAT_DAILY,
                                     .last_date = 1, .months = VV_MONTH(0)};
    return p;
}

/* The Daily format: daily 7 days, monthly the 1st, 15th and last day 6 months, yearly
 * the 1st of January and July 3 years. */
static struct vv_policy gfs_daily_format(void)
{
    struct vv_policy p = base(VV_RUN_TIME(120));
    p.daily = (struct vv_retention){.present = 1, .count = 7};
    p.monthly = (struct vv_retention){.present = 1, .count = 6, .format = VV_RET_FORMAT_DAILY,
                                      .dates = VV_DATE(1) | VV_DATE(15), .last_date = 1};
    p.yearly = (struct vv_retention){.present = 1, .count = 3, .format = VV_RET_FORMAT_DAILY,
                                     .dates = VV_DATE(1), .months = VV_MONTH(0) | VV_MONTH(6)};
    return p;
}

/* The policy's scheduled points in (from, to], as the schedule makes them. Caller frees. */
static struct vv_rp *points(const struct vv_policy *p, const struct vv_tz *tz, int64_t from,
                            int64_t to, size_t *n)
{
    size_t total = vv_schedule_runs(p, tz, from, to, NULL, 0);
    int64_t *runs = malloc((total ? total : 1) * sizeof(*runs));
    struct vv_rp *pts = calloc(total ? total : 1, sizeof(*pts));
    CHECK(runs && pts);
    if (!runs || !pts) {
        free(runs);
        free(pts);
        *n = 0;
        return NULL;
    }
    CHECK_EQ(vv_schedule_runs(p, tz, from, to, runs, total), total);
    for (size_t i = 0; i < total; i++) {
        pts[i].time = runs[i];
        pts[i].scheduled = 1;
    }
    free(runs);
    *n = total;
    return pts;
}

/* The local dates of the points alive at now (made by then, expiry > now), in order. */
static size_t alive(const struct vv_rp *pts, size_t n, const struct vv_tz *tz, int64_t now,
                    char *out, size_t outlen)
{
    size_t count = 0, len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        struct vv_civil c;
        if (pts[i].time > now || pts[i].expiry <= now)
            continue;
        vv_tz_to_local(tz, pts[i].time, &c);
        if (len + 12 < outlen)
            len += (size_t)snprintf(out + len, outlen - len, "%s%04d-%02d-%02d",
                                    count ? " " : "", c.year, c.month, c.day);
        count++;
    }
    return count;
}

struct alive_case {
    int y, mo, d, h, mi; /* now, local */
    size_t count;
    const char *dates;
};

static void check_alive(const struct vv_rp *pts, size_t n, const struct vv_tz *tz,
                        const char *what, const struct alive_case *cases, size_t ncases)
{
    static char got[4096];
    for (size_t i = 0; i < ncases; i++) {
        const struct alive_case *k = &cases[i];
        size_t count = alive(pts, n, tz, at(tz, k->y, k->mo, k->d, k->h, k->mi), got,
                             sizeof(got));
        if (count != k->count || strcmp(got, k->dates) != 0)
            vv_test_fail(
                __FILE__, __LINE__,
                "%s at %d-%02d-%02d %02d:%02d: %zu alive, want %zu\n  got  %s\n  want %s", what,
                k->y, k->mo, k->d, k->h, k->mi, count, k->count, got, k->dates);
    }
}

TEST(three_years_of_gfs_in_berlin)
{
    /* At 2029-06-15 12:00 (a Friday): daily 06-09..06-15; weekly the Sundays of the
     * last 28 days, 05-20 05-27 06-03 (06-10 is daily already); monthly the first
     * Sundays since 2028-06-15, July 2028 .. June 2029 (06-03 counted); yearly the
     * last days of January 2028 and 2029 (2027-01-31 + 2 years is past). 23.
     * At 2029-06-16 02:00 the point of 06-09 expires (its expiry equals now) as the one
     * of 06-16 is made; a second before, 06-09 is still alive and 06-16 not made. */
    static const struct alive_case cases[] = {
        {2029, 6, 15, 12, 0, 23,
         "2028-01-31 2028-07-02 2028-08-06 2028-09-03 2028-10-01 2028-11-05 2028-12-03 "
         "2029-01-07 2029-01-31 2029-02-04 2029-03-04 2029-04-01 2029-05-06 2029-05-20 "
         "2029-05-27 2029-06-03 2029-06-09 2029-06-10 2029-06-11 2029-06-12 2029-06-13 "
         "2029-06-14 2029-06-15"},
        {2029, 6, 16, 1, 59, 23,
         "2028-01-31 2028-07-02 2028-08-06 2028-09-03 2028-10-01 2028-11-05 2028-12-03 "
         "2029-01-07 2029-01-31 2029-02-04 2029-03-04 2029-04-01 2029-05-06 2029-05-20 "
         "2029-05-27 2029-06-03 2029-06-09 2029-06-10 2029-06-11 2029-06-12 2029-06-13 "
         "2029-06-14 2029-06-15"},
        {2029, 6, 16, 2, 0, 23,
         "2028-01-31 2028-07-02 2028-08-06 2028-09-03 2028-10-01 2028-11-05 2028-12-03 "
         "2029-01-07 2029-01-31 2029-02-04 2029-03-04 2029-04-01 2029-05-06 2029-05-20 "
         "2029-05-27 2029-06-03 2029-06-10 2029-06-11 2029-06-12 2029-06-13 2029-06-14 "
         "2029-06-15 2029-06-16"},
        /* the last day: 7 daily, 3 more Sundays, 12 first Sundays, 2 January ends: 24 */
        {2029, 12, 31, 23, 0, 24,
         "2028-01-31 2029-01-07 2029-01-31 2029-02-04 2029-03-04 2029-04-01 2029-05-06 "
         "2029-06-03 2029-07-01 2029-08-05 2029-09-02 2029-10-07 2029-11-04 2029-12-02 "
         "2029-12-09 2029-12-16 2029-12-23 2029-12-25 2029-12-26 2029-12-27 2029-12-28 "
         "2029-12-29 2029-12-30 2029-12-31"},
        /* the leap day inside the daily window; 2027-01-31 still kept by the yearly tier */
        {2028, 3, 1, 12, 0, 23,
         "2027-01-31 2027-03-07 2027-04-04 2027-05-02 2027-06-06 2027-07-04 2027-08-01 "
         "2027-09-05 2027-10-03 2027-11-07 2027-12-05 2028-01-02 2028-01-31 2028-02-06 "
         "2028-02-13 2028-02-20 2028-02-24 2028-02-25 2028-02-26 2028-02-27 2028-02-28 "
         "2028-02-29 2028-03-01"},
        /* long after the last point (2029-12-31): only the long claims remain */
        {2030, 11, 20, 12, 0, 2, "2029-01-31 2029-12-02"},
        {2030, 12, 31, 12, 0, 1, "2029-01-31"},
        {2032, 1, 1, 0, 0, 0, ""},
    };
    struct vv_tz *tz = berlin();
    struct vv_policy p = gfs(VV_RUN_TIME(120));
    struct vv_rp *pts;
    size_t n;
    if (!tz)
        return;
    pts = points(&p, tz, at(tz, 2027, 1, 1, 0, 0), at(tz, 2029, 12, 31, 23, 0), &n);
    CHECK_EQ(n, 365 + 366 + 365);
    vv_retention_apply(&p, tz, pts, n);
    check_alive(pts, n, tz, "gfs", cases, ARRAY_LEN(cases));
    free(pts);
    vv_tz_free(tz);
}

TEST(three_years_daily_format)
{
    /* At 2029-06-15 12:00: monthly picks (1st, 15th, last) since 2028-12-15 02:00 + 6
     * months passed: 12-31, then Jan..May three each and June 1 (the 15th is daily):
     * 18; daily 06-09..06-15 adds 6; yearly the 1st of January and July from 2027 on
     * adds 4 (2029-01-01 is a monthly pick). 28. */
    static const struct alive_case cases[] = {
        {2029, 6, 15, 12, 0, 28,
         "2027-01-01 2027-07-01 2028-01-01 2028-07-01 2028-12-31 2029-01-01 2029-01-15 "
         "2029-01-31 2029-02-01 2029-02-15 2029-02-28 2029-03-01 2029-03-15 2029-03-31 "
         "2029-04-01 2029-04-15 2029-04-30 2029-05-01 2029-05-15 2029-05-31 2029-06-01 "
         "2029-06-09 2029-06-10 2029-06-11 2029-06-12 2029-06-13 2029-06-14 2029-06-15"},
        {2029, 12, 31, 23, 0, 29,
         "2027-01-01 2027-07-01 2028-01-01 2028-07-01 2029-01-01 2029-07-01 2029-07-15 "
         "2029-07-31 2029-08-01 2029-08-15 2029-08-31 2029-09-01 2029-09-15 2029-09-30 "
         "2029-10-01 2029-10-15 2029-10-31 2029-11-01 2029-11-15 2029-11-30 2029-12-01 "
         "2029-12-15 2029-12-25 2029-12-26 2029-12-27 2029-12-28 2029-12-29 2029-12-30 "
         "2029-12-31"},
        /* 2027-08-31 + 6 months is clamped to 2028-02-29: gone a day before March */
        {2028, 3, 1, 12, 0, 25,
         "2027-01-01 2027-07-01 2027-09-15 2027-09-30 2027-10-01 2027-10-15 2027-10-31 "
         "2027-11-01 2027-11-15 2027-11-30 2027-12-01 2027-12-15 2027-12-31 2028-01-01 "
         "2028-01-15 2028-01-31 2028-02-01 2028-02-15 2028-02-24 2028-02-25 2028-02-26 "
         "2028-02-27 2028-02-28 2028-02-29 2028-03-01"},
        /* a minute before the leap day's point: 2027-08-31 is still there */
        {2028, 2, 29, 1, 59, 27,
         "2027-01-01 2027-07-01 2027-08-31 2027-09-01 2027-09-15 2027-09-30 2027-10-01 "
         "2027-10-15 2027-10-31 2027-11-01 2027-11-15 2027-11-30 2027-12-01 2027-12-15 "
         "2027-12-31 2028-01-01 2028-01-15 2028-01-31 2028-02-01 2028-02-15 2028-02-22 "
         "2028-02-23 2028-02-24 2028-02-25 2028-02-26 2028-02-27 2028-02-28"},
    };
    struct vv_tz *tz = berlin();
    struct vv_policy p = gfs_daily_format();
    struct vv_rp *pts;
    size_t n;
    if (!tz)
        return;
    pts = points(&p, tz, at(tz, 2027, 1, 1, 0, 0), at(tz, 2029, 12, 31, 23, 0), &n);
    vv_retention_apply(&p, tz, pts, n);
    check_alive(pts, n, tz, "daily format", cases, ARRAY_LEN(cases));
    free(pts);
    vv_tz_free(tz);
}

struct expiry_case {
    int y, mo, d, h, mi; /* the point, local */
    int scheduled;
    int64_t retain_until;
    int64_t want; /* UTC */
    unsigned tiers;
};

/* pts from cases; apply; compare; then the same in reverse order. */
static void check_expiries(const struct vv_policy *p, const struct vv_tz *tz, const char *what,
                           const struct expiry_case *cases, size_t n)
{
    struct vv_rp pts[64];
    CHECK(n <= ARRAY_LEN(pts) / 2);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            size_t j = pass ? n - 1 - i : i;
            memset(&pts[j], 0x5a, sizeof(pts[j]));
            pts[j].time = at(tz, cases[i].y, cases[i].mo, cases[i].d, cases[i].h, cases[i].mi);
            pts[j].scheduled = cases[i].scheduled;
            pts[j].retain_until = cases[i].retain_until;
        }
        vv_retention_apply(p, tz, pts, n);
        for (size_t i = 0; i < n; i++) {
            size_t j = pass ? n - 1 - i : i;
            const struct expiry_case *k = &cases[i];
            if (pts[j].expiry != k->want || pts[j].tiers != k->tiers) {
                char got[VV_TZ_TIME_MAX], want[VV_TZ_TIME_MAX];
                vv_tz_format(NULL, pts[j].expiry, got);
                vv_tz_format(NULL, k->want, want);
                vv_test_fail(__FILE__, __LINE__,
                             "%s, point %d-%02d-%02d %02d:%02d (pass %d): expiry %s tiers %#x, "
                             "want %s %#x",
                             what, k->y, k->mo, k->d, k->h, k->mi, pass, got, pts[j].tiers,
                             want, k->tiers);
            }
        }
    }
}

#define I VV_TIER_INSTANT
#define D VV_TIER_DAILY
#define W VV_TIER_WEEKLY
#define M VV_TIER_MONTHLY
#define Y VV_TIER_YEARLY

TEST(several_points_a_day_and_on_demand)
{
    /* 2029-06-03 is the first Sunday of June; June is CEST (+2). Only the day's last
     * scheduled point (20:00) is claimed by daily, weekly and monthly; the on-demand
     * point at 23:00 changes nothing. */
    struct vv_tz *tz = berlin();
    struct vv_policy p = gfs(VV_RUN_TIME(120) | VV_RUN_TIME(840) | VV_RUN_TIME(1200));
    const struct expiry_case cases[] = {
        {2029, 6, 2, 20, 0, 1, 0, utc(2029, 6, 9, 18, 0), I | D},
        {2029, 6, 3, 2, 0, 1, 0, utc(2029, 6, 5, 0, 0), I},
        {2029, 6, 3, 14, 0, 1, 0, utc(2029, 6, 5, 12, 0), I},
        {2029, 6, 3, 20, 0, 1, 0, utc(2030, 6, 3, 18, 0), I | D | W | M},
        {2029, 6, 3, 23, 0, 0, utc(2029, 7, 3, 21, 0), utc(2029, 7, 3, 21, 0),
         VV_TIER_ONDEMAND},
        {2029, 6, 4, 2, 0, 0, VV_EXPIRY_NEVER, VV_EXPIRY_NEVER, VV_TIER_ONDEMAND},
        {2029, 6, 4, 2, 0, 1, 0, utc(2029, 6, 6, 0, 0), I},
        {2029, 6, 4, 14, 0, 1, 0, utc(2029, 6, 11, 12, 0), I | D}, /* the day's last */
        {2029, 1, 31, 2, 0, 1, 0, utc(2031, 1, 31, 1, 0), I | D | Y},
        {2029, 1, 31, 3, 0, 0, 0, 0, VV_TIER_ONDEMAND}, /* retain_until 0: expired */
    };
    if (!tz)
        return;
    check_expiries(&p, tz, "several a day", cases, ARRAY_LEN(cases));

    /* a failed day is not replaced: without 2029-06-03, June has no monthly point and
     * the Saturday and Monday around it stay daily only */
    {
        const struct expiry_case failed[] = {
            {2029, 6, 2, 20, 0, 1, 0, utc(2029, 6, 9, 18, 0), I | D},
            {2029, 6, 4, 20, 0, 1, 0, utc(2029, 6, 11, 18, 0), I | D},
            {2029, 6, 10, 20, 0, 1, 0, utc(2029, 7, 8, 18, 0), I | D | W},
            {2029, 7, 1, 20, 0, 1, 0, utc(2030, 7, 1, 18, 0), I | D | W | M},
        };
        check_expiries(&p, tz, "failed day", failed, ARRAY_LEN(failed));
    }
    /* two scheduled points at the same last instant: both are the day's point */
    {
        const struct expiry_case twins[] = {
            {2029, 6, 3, 20, 0, 1, 0, utc(2030, 6, 3, 18, 0), I | D | W | M},
            {2029, 6, 3, 20, 0, 1, 0, utc(2030, 6, 3, 18, 0), I | D | W | M},
            {2029, 6, 3, 2, 0, 1, 0, utc(2029, 6, 5, 0, 0), I},
        };
        check_expiries(&p, tz, "twins", twins, ARRAY_LEN(twins));
    }
    vv_tz_free(tz);
}

TEST(leap_days_and_month_ends)
{
    struct vv_tz *tz = berlin();
    struct vv_policy last = base(VV_RUN_TIME(120)), tue = base(VV_RUN_TIME(120));
    /* monthly: the last day, 1 month; yearly: February's last day, 1 year */
    last.monthly = (struct vv_retention){
        .present = 1, .count = 1, .format = VV_RET_FORMAT_DAILY, .last_date = 1};
    last.yearly = (struct vv_retention){.present = 1, .count = 1, .format = VV_RET_FORMAT_DAILY,
                                        .last_date = 1, .months = VV_MONTH(1)};
    /* monthly: the Fourth and the Last Tuesday, 1 month */
    tue.monthly = (struct vv_retention){.present = 1,
                                        .count = 1,
                                        .format = VV_RET_FORMAT_WEEKLY,
                                        .days = VV_DAY(2),
                                        .weeks = VV_WEEK_FOURTH | VV_WEEK_LAST};
    {
        const struct expiry_case cases[] = {
            /* Jan 31 + 1 month = Feb 29 in 2028 */
            {2028, 1, 31, 2, 0, 1, 0, utc(2028, 2, 29, 1, 0), I | M},
            /* Feb 28 is not the last day of a leap February: instant only */
            {2028, 2, 28, 2, 0, 1, 0, utc(2028, 3, 1, 1, 0), I},
            /* Feb 29: the last day; + 1 year = 2029-02-28 (clamped) */
            {2028, 2, 29, 2, 0, 1, 0, utc(2029, 2, 28, 1, 0), I | M | Y},
            /* Mar 31 + 1 month = Apr 30 (CEST) */
            {2028, 3, 31, 2, 0, 1, 0, utc(2028, 4, 30, 0, 0), I | M},
            /* Feb 28 2027 is February's last day; + 1 year = 2028-02-28 */
            {2027, 2, 28, 2, 0, 1, 0, utc(2028, 2, 28, 1, 0), I | M | Y},
            /* Dec 31 + 1 month = Jan 31 */
            {2027, 12, 31, 2, 0, 1, 0, utc(2028, 1, 31, 1, 0), I | M},
        };
        if (!tz)
            return;
        check_expiries(&last, tz, "last day", cases, ARRAY_LEN(cases));
    }
    {
        const struct expiry_case cases[] = {
            {2028, 2, 15, 2, 0, 1, 0, utc(2028, 2, 17, 1, 0), I},      /* third */
            {2028, 2, 22, 2, 0, 1, 0, utc(2028, 3, 22, 1, 0), I | M},  /* fourth */
            {2028, 2, 29, 2, 0, 1, 0, utc(2028, 3, 29, 0, 0), I | M},  /* last */
            {2027, 2, 23, 2, 0, 1, 0, utc(2027, 3, 23, 1, 0), I | M},  /* both at once */
            {2027, 3, 30, 2, 0, 1, 0, utc(2027, 4, 30, 0, 0), I | M},  /* last, not 4th */
        };
        check_expiries(&tue, tz, "Tuesdays", cases, ARRAY_LEN(cases));
    }
    vv_tz_free(tz);
}

TEST(dst_days)
{
    /* Daily at 02:30, daily tier 7 days, instant 1 day; monthly the 28th, 1 month. */
    struct vv_tz *tz = berlin();
    struct vv_policy p = base(VV_RUN_TIME(150));
    struct vv_rp pts[2];
    p.instant_rp_days = 1;
    p.daily = (struct vv_retention){.present = 1, .count = 7};
    p.monthly = (struct vv_retention){.present = 1, .count = 1, .format = VV_RET_FORMAT_DAILY,
                                      .dates = VV_DATE(28)};
    {
        const struct expiry_case cases[] = {
            /* made at 02:30 CET = 01:30Z; instant: 03-28 02:30 is in the gap -> 01:00Z;
             * daily: 04-03 02:30 CEST */
            {2027, 3, 27, 2, 30, 1, 0, utc(2027, 4, 3, 0, 30), I | D},
            /* the gap day's run is at 03:00 CEST (01:00Z), still on 03-28: + 7 days is
             * 04-04 03:00 CEST; + 1 month 04-28 03:00 CEST */
            {2027, 3, 28, 2, 30, 1, 0, utc(2027, 4, 28, 1, 0), I | D | M},
            /* Feb 28 + 1 month lands in the gap: its end */
            {2027, 2, 28, 2, 30, 1, 0, utc(2027, 3, 28, 1, 0), I | D | M},
            /* + 7 days lands on the fall-back day's 02:30: the first one (CEST) */
            {2027, 10, 24, 2, 30, 1, 0, utc(2027, 10, 31, 0, 30), I | D},
            /* the fall-back day's run (first 02:30, 00:30Z): + 7 days = 11-07 02:30 CET */
            {2027, 10, 31, 2, 30, 1, 0, utc(2027, 11, 7, 1, 30), I | D},
        };
        if (!tz)
            return;
        check_expiries(&p, tz, "dst", cases, ARRAY_LEN(cases));
    }
    /* the second 02:30 of the fall-back day (01:30Z) is on the same local day: when a
     * scheduled point was made then too, it is the day's point; the first is instant */
    pts[0] = (struct vv_rp){.time = utc(2027, 10, 31, 0, 30), .scheduled = 1};
    pts[1] = (struct vv_rp){.time = utc(2027, 10, 31, 1, 30), .scheduled = 1};
    vv_retention_apply(&p, tz, pts, 2);
    CHECK_EQ(pts[0].tiers, I);
    CHECK_EQ(pts[0].expiry, utc(2027, 11, 1, 1, 30)); /* 11-01 02:30 CET */
    CHECK_EQ(pts[1].tiers, I | D);
    CHECK_EQ(pts[1].expiry, utc(2027, 11, 7, 1, 30));
    /* the local day counts, not the UTC day: 00:30 CEST on 06-02 is 22:30Z on 06-01 */
    pts[0] = (struct vv_rp){.time = utc(2029, 6, 1, 22, 30), .scheduled = 1};
    pts[1] = (struct vv_rp){.time = utc(2029, 6, 1, 21, 30), .scheduled = 1};
    vv_retention_apply(&p, tz, pts, 2);
    CHECK_EQ(pts[0].tiers, I | D);
    CHECK_EQ(pts[1].tiers, I | D);
    vv_tz_free(tz);
}

/* The sorted path (more than 16 points) and the pairwise one agree, whatever the order. */
TEST(order_and_paths_agree)
{
    struct vv_tz *tz = berlin();
    struct vv_policy p = gfs(VV_RUN_TIME(120) | VV_RUN_TIME(840) | VV_RUN_TIME(1410));
    struct vv_rp *pts, *shuffled, one[3];
    size_t n;
    if (!tz)
        return;
    pts = points(&p, tz, at(tz, 2028, 1, 1, 0, 0), at(tz, 2028, 12, 31, 23, 59), &n);
    CHECK_EQ(n, 3 * 366);
    shuffled = malloc(n * sizeof(*shuffled));
    if (!pts || !shuffled) {
        free(pts);
        free(shuffled);
        vv_tz_free(tz);
        return;
    }
    /* a few failed runs and some on-demand points among them */
    for (size_t i = 0; i < n; i += 37)
        pts[i].scheduled = 0, pts[i].retain_until = pts[i].time + 86400;
    vv_retention_apply(&p, tz, pts, n);
    memcpy(shuffled, pts, n * sizeof(*pts));
    vv_test_seed(7);
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(vv_test_rand() % (i + 1));
        struct vv_rp t = shuffled[i];
        shuffled[i] = shuffled[j];
        shuffled[j] = t;
    }
    for (size_t i = 0; i < n; i++)
        shuffled[i].expiry = 0, shuffled[i].tiers = 0;
    vv_retention_apply(&p, tz, shuffled, n);
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < n &&
               (pts[j].time != shuffled[i].time || pts[j].scheduled != shuffled[i].scheduled))
            j++;
        if (j == n || pts[j].expiry != shuffled[i].expiry ||
            pts[j].tiers != shuffled[i].tiers) {
            vv_test_fail(__FILE__, __LINE__, "shuffled point %zu differs", i);
            break;
        }
    }
    /* day by day (3 points: the pairwise path) gives the same */
    for (size_t i = 0; i + 3 <= n; i += 3) {
        memcpy(one, pts + i, sizeof(one));
        vv_retention_apply(&p, tz, one, 3);
        for (int k = 0; k < 3; k++)
            if (one[k].expiry != pts[i + (size_t)k].expiry ||
                one[k].tiers != pts[i + (size_t)k].tiers) {
                vv_test_fail(__FILE__, __LINE__, "day %zu point %d differs", i / 3, k);
                i = n;
                break;
            }
    }
    vv_retention_apply(&p, tz, NULL, 0);
    free(pts);
    free(shuffled);
    vv_tz_free(tz);
}

struct max_case {
    const char *what;
    struct vv_policy p;
    size_t want;
};

TEST(max_points_values)
{
    struct vv_policy def, p;
    vv_policy_default(&def);
    {
        struct max_case cases[16];
        size_t n = 0;
        /* DefaultPolicy: 30 days of daily points */
        cases[n++] = (struct max_case){"default", def, 30};
        /* daily 7 + the Sundays of the last 28 days beyond them (3) */
        p = base(VV_RUN_TIME(120));
        p.daily = (struct vv_retention){.present = 1, .count = 7};
        p.weekly = (struct vv_retention){.present = 1, .count = 4, .days = VV_DAY(0)};
        cases[n++] = (struct max_case){"daily 7, weekly Sunday 4", p, 10};
        /* + 12 first Sundays (13 alive in the first days of a month whose first Sunday
         * came earlier than a year before; then one is among the last 7 days) and 2
         * January ends: 7 + 3 + 12 + 2 */
        cases[n++] = (struct max_case){"gfs", gfs(VV_RUN_TIME(120)), 24};
        /* + one more point a day kept 2 days by the instant tier */
        cases[n++] = (struct max_case){"gfs, two runs a day",
                                       gfs(VV_RUN_TIME(120) | VV_RUN_TIME(840)), 26};
        /* on the 22nd: 7 daily days without a pick, 18 monthly picks, 5 more 1sts of
         * January and July */
        cases[n++] = (struct max_case){"daily format", gfs_daily_format(), 30};
        /* the last day of the month, 12 months, and 2 instant days: on the 2nd */
        p = base(VV_RUN_TIME(120));
        p.monthly = (struct vv_retention){.present = 1, .count = 12,
                                          .format = VV_RET_FORMAT_DAILY, .last_date = 1};
        cases[n++] = (struct max_case){"last day 12 months", p, 14};
        /* Weekly Sunday and Wednesday, kept 10 weeks: 20 */
        p = base(VV_RUN_TIME(120));
        p.frequency = VV_FREQ_WEEKLY;
        p.run_days = VV_DAY(0) | VV_DAY(3);
        p.instant_rp_days = 5;
        p.weekly = (struct vv_retention){.present = 1, .count = 10, .days = p.run_days};
        cases[n++] = (struct max_case){"weekly schedule", p, 20};
        /* Hourly, 6 runs a day, 7 instant days, daily 7: 7 + 5 * 7 */
        p = base(0);
        p.frequency = VV_FREQ_HOURLY;
        p.type = VV_POLICY_V2;
        p.hourly_interval = 4;
        p.window_start = 480;
        p.window_hours = 24;
        p.instant_rp_days = 7;
        p.daily = (struct vv_retention){.present = 1, .count = 7};
        cases[n++] = (struct max_case){"hourly", p, 42};
        /* over the limit: 9999 days and a second run a day kept 2 days */
        p = base(VV_RUN_TIME(120) | VV_RUN_TIME(840));
        p.daily = (struct vv_retention){.present = 1, .count = 9999};
        cases[n++] = (struct max_case){"9999 days, two runs", p, 10001};
        /* every day for 99 years: 99 * 365 + 25 leap days */
        p = base(VV_RUN_TIME(120));
        p.yearly = (struct vv_retention){.present = 1, .count = 99,
                                         .format = VV_RET_FORMAT_WEEKLY, .days = VV_DAYS_ALL,
                                         .weeks = 0x1f, .months = 0xfff};
        cases[n++] = (struct max_case){"every day 99 years", p, 36160};
        /* no schedule: nothing */
        memset(&p, 0, sizeof(p));
        cases[n++] = (struct max_case){"zeroed", p, 0};
        /* a claim no valid policy has */
        p = base(VV_RUN_TIME(120));
        p.daily = (struct vv_retention){.present = 1, .count = 200000};
        cases[n++] = (struct max_case){"too long", p, SIZE_MAX};
        for (size_t i = 0; i < n; i++) {
            size_t got = vv_retention_max_points(&cases[i].p);
            if (got != cases[i].want)
                vv_test_fail(__FILE__, __LINE__, "%s: %zu, want %zu", cases[i].what, got,
                             cases[i].want);
        }
    }
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Years of simulated backups never keep more than the bound, and reach it: exactly in
 * UTC; in Berlin one more for up to an hour, where a point made at the end of the
 * spring-forward gap (03:00 instead of 02:00) is kept until 03:00 on the day its claim
 * ends, while its successor is made at 02:00 (retention.h says so). */
TEST(max_points_against_simulation)
{
    struct vv_tz *berlin_tz = berlin();
    struct {
        const char *what;
        struct vv_policy p;
    } cases[3];
    if (!berlin_tz)
        return;
    cases[0].what = "gfs";
    cases[0].p = gfs(VV_RUN_TIME(120));
    cases[1].what = "daily format";
    cases[1].p = gfs_daily_format();
    cases[2].what = "gfs, two runs a day";
    cases[2].p = gfs(VV_RUN_TIME(120) | VV_RUN_TIME(840));
    for (int z = 0; z < 2; z++) {
        const struct vv_tz *tz = z ? berlin_tz : NULL;
        for (size_t c = 0; c < ARRAY_LEN(cases); c++) {
            const struct vv_policy *p = &cases[c].p;
            size_t n, most = 0, bound = vv_retention_max_points(p), made = 0, gone = 0;
            struct vv_rp *pts =
                points(p, tz, at(tz, 2026, 1, 1, 0, 0), at(tz, 2032, 1, 1, 0, 0), &n);
            int64_t *expiries = malloc((n ? n : 1) * sizeof(*expiries));
            if (!pts || !expiries) {
                free(pts);
                free(expiries);
                continue;
            }
            vv_retention_apply(p, tz, pts, n);
            for (size_t i = 0; i < n; i++)
                expiries[i] = pts[i].expiry;
            qsort(expiries, n, sizeof(*expiries), cmp64);
            /* every hour of 2029..2031 (steady state: the longest claim is 3 years):
             * alive = made by now - expired by now (points are in time order) */
            for (int64_t now = at(tz, 2029, 1, 1, 0, 0); now < at(tz, 2032, 1, 1, 0, 0);
                 now += 3600) {
                while (made < n && pts[made].time <= now)
                    made++;
                while (gone < n && expiries[gone] <= now)
                    gone++;
                if (made - gone > most)
                    most = made - gone;
            }
            if (z ? (most < bound || most > bound + 1) : most != bound)
                vv_test_fail(__FILE__, __LINE__, "%s in %s: at most %zu alive, bound %zu",
                             cases[c].what, z ? "Berlin" : "UTC", most, bound);
            free(expiries);
            free(pts);
        }
    }
    vv_tz_free(berlin_tz);
}
