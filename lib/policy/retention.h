/*
 * retention.h: when each recovery point of an item expires under its policy. Pure:
 * the policy, the zone and the points are arguments; no clock is read. A NULL zone
 * means UTC. Every pointer argument is borrowed for the call.
 *
 * The rules (docs/scheduling.md tells them with examples):
 *   - An on-demand point (scheduled = 0) expires at its retain_until (which may be
 *     VV_EXPIRY_NEVER) and no tier claims it: tiers = VV_TIER_ONDEMAND.
 *   - Every scheduled point is kept instant_rp_days days (VV_TIER_INSTANT).
 *   - Grandfather-father-son: among the scheduled points of one local calendar day
 *     (the date of the point's time in the policy's zone), the LAST one is that day's
 *     point (when several share that last instant, each of them is). The day's point
 *     is also claimed by
 *       daily tier:   every day, for count days;
 *       weekly tier:  on the listed weekdays, for count weeks;
 *       monthly tier: on the chosen days of every month, for count months: in the
 *                     Weekly format the First..Fourth (the day of the month is 1-7,
 *                     8-14, 15-21, 22-28) or Last (one of the month's last 7 days)
 *                     listed weekday; in the Daily format the listed dates 1..28
 *                     and/or the last day of the month;
 *       yearly tier:  the same choice of days, within the listed months, for count
 *                     years.
 *   - A claim of n days, weeks, months or years adds that many wall-clock calendar
 *     units to the point's local date and time (months and years clamp to the end of
 *     the month: Jan 31 + 1 month = Feb 28/29, Feb 29 + 1 year = Feb 28) and resolves
 *     the result with vv_tz_resolve (a time in a DST gap moves to the end of the gap,
 *     one that occurs twice means its first occurrence).
 *   - A point's expiry is the latest of its claims; tiers has the bit of every tier
 *     that claims it, whichever claim is the latest.
 *   - A day without a scheduled point (the backup failed or did not run) is simply
 *     missing: no other day's point stands in for it.
 * A point is alive at `now` while now < expiry.
 *
 * Key invariants: a scheduled point's expiry is at least its instant claim and its
 * tiers always hold VV_TIER_INSTANT; an on-demand point's tiers are exactly
 * VV_TIER_ONDEMAND; the results depend on the set of points, never on their order.
 */
#ifndef VV_RETENTION_H
#define VV_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "tz.h"

#define VV_EXPIRY_NEVER INT64_MAX

/* The tiers that claim a point (struct vv_rp.tiers). */
#define VV_TIER_INSTANT 0x01u
#define VV_TIER_DAILY 0x02u
#define VV_TIER_WEEKLY 0x04u
#define VV_TIER_MONTHLY 0x08u
#define VV_TIER_YEARLY 0x10u
#define VV_TIER_ONDEMAND 0x20u

struct vv_rp {
    int64_t time;         /* in: UTC of the backup (for a scheduled one, its run instant) */
    int scheduled;        /* in: 1 made by the schedule, 0 on demand */
    int64_t retain_until; /* in, on-demand only: its expiry, or VV_EXPIRY_NEVER */
    int64_t expiry;       /* out: UTC instant it expires, or VV_EXPIRY_NEVER */
    unsigned tiers;       /* out: VV_TIER_* bits that claim it */
};

/*
 * Fill expiry and tiers of pts[0..n) by the rules above. pts may be in any order and
 * is not reordered; the result does not depend on the order. Never fails: it sorts
 * a copy of the day keys when n is large and can allocate, and compares the points
 * pairwise otherwise (same result, slower).
 */
void vv_retention_apply(const struct vv_policy *p, const struct vv_tz *tz, struct vv_rp *pts,
                        size_t n);

/*
 * The most recovery points one item keeps at a time at steady state (every scheduled
 * run made a point; on-demand points are not counted):
 *     M + (R - 1) * I
 * where R is vv_schedule_runs_per_day, I = instant_rp_days, and M is the most day's
 * points alive at once: a point of day d lives until the day of its latest claim, and
 * M is the maximum, over every day of a 28-year span (2029-2056, which repeats the
 * weekdays and leap years of every year from 1901 to 2099), of the day's points
 * alive at the end of that day. The (R - 1) * I are the other points of each day,
 * which only the instant tier keeps. In a zone without DST an item reaches this count
 * and never exceeds it. DST mostly lowers it (runs that meet in a gap make one point),
 * with one exception: a point made at the end of a spring-forward gap (03:00 for a
 * 02:00 run) is kept until 03:00 on the days its claims end, while its successor is
 * made at 02:00, so for up to the gap's length the item holds one point more.
 * vv_policy_from_json checks this count against VV_POLICY_MAX_POINTS.
 * SIZE_MAX when memory runs out (a table of one byte per day of the longest claim,
 * 37 KB at most for a valid policy) or when a claim is longer than 100000 days (no
 * valid policy has one); 0 for a policy without runs.
 */
size_t vv_retention_max_points(const struct vv_policy *p);

#endif
