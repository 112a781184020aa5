/*
 * schedule.h: when a policy runs. Pure: the policy, the zone and the instants are
 * arguments (no clock is read), nothing is allocated, and every pointer argument is
 * borrowed for the call. A NULL zone means UTC.
 *
 * The rules (docs/scheduling.md tells them with examples):
 *   - Times are wall-clock times in the policy's zone (struct vv_policy.time_zone;
 *     the caller loads it, tz.h).
 *   - Daily: each time of run_times, every day.
 *   - Weekly: the one time of run_times, on each day of run_days.
 *   - Hourly: window_start + k * hourly_interval hours for every k >= 0 with
 *     k * hourly_interval < window_hours (the window's end is exclusive), counted on
 *     the wall clock from the window's start day. A window may cross midnight: its
 *     runs after midnight belong to the window of the day it started. So a 20:00
 *     window of 12 hours every 4 hours runs at 20:00, then 00:00 and 04:00 the next
 *     day; a 24-hour window from 08:00 every 4 hours at 08, 12, 16, 20, 00 and 04.
 *   - Daylight saving time: each scheduled wall-clock time becomes an instant by
 *     vv_tz_resolve. A time the clocks skip runs once, at the first instant after the
 *     gap (02:30 on the day Berlin springs forward runs at 03:00 CEST); a time that
 *     occurs twice runs once, at its first occurrence (02:30 on the day Berlin falls
 *     back runs at 02:30 CEST, never again at 02:30 CET).
 *   - When several scheduled wall-clock times become the same instant (02:00 and 02:30
 *     both inside a gap) that is ONE run.
 *
 * Key invariant: the runs of a policy form one set of instants, and both functions
 * read that same set: vv_schedule_next(p, tz, t) is the least run > t, and
 * vv_schedule_runs lists the runs in (from, to] strictly ascending, so
 * vv_schedule_runs(from, to) and repeated vv_schedule_next(from) agree.
 *
 * A policy whose schedule names no run (a struct not made by vv_policy_from_json or
 * vv_policy_default, e.g. zeroed) has no runs. Instants are those of tz.h: runs lie
 * within +-VV_TZ_INSTANT_MAX.
 */
#ifndef VV_SCHEDULE_H
#define VV_SCHEDULE_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "tz.h"

#define VV_SCHEDULE_NONE INT64_MAX /* vv_schedule_next: no run follows */

/* The first run instant strictly after `after` (UTC seconds), or VV_SCHEDULE_NONE. */
int64_t vv_schedule_next(const struct vv_policy *p, const struct vv_tz *tz, int64_t after);

/*
 * The runs in (from, to], ascending, into out[0..max). Returns how many runs there are
 * in (from, to] in all, which may exceed max (only max are written): the server counts
 * the runs it missed while it was down with max = 0 (out may then be NULL). 0 when
 * to <= from. Takes time in proportion to the days between from and to.
 */
size_t vv_schedule_runs(const struct vv_policy *p, const struct vv_tz *tz, int64_t from,
                        int64_t to, int64_t *out, size_t max);

/* How many runs one day of the schedule holds, DST aside: Daily, the number of times;
 * Weekly, 1 (on its days); Hourly, the runs of one window. 0 for no schedule. */
unsigned vv_schedule_runs_per_day(const struct vv_policy *p);

/* 1 when the schedule runs on local days of weekday wday (0 = Sunday): always for
 * Daily and Hourly, the days of run_days for Weekly. A window that crosses midnight
 * counts for the day it starts. */
int vv_schedule_runs_on(const struct vv_policy *p, int wday) VV_MUST_CHECK;

#endif
