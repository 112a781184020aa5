/*
 * policy.h: the backup policy, the schedule and retention model of Azure Backup's
 * AzureIaasVM policies (docs/api.md, "Policies").
 *
 * A policy says when an item is backed up (Daily at one or more times of day, Weekly
 * at one time of day, or Hourly every few hours inside a window, in one time zone:
 * schedule.h turns that into run instants), how long the instant restore points
 * (snapshots) are kept, and which recovery points the vault keeps for how long: the
 * daily, weekly, monthly and yearly tiers (grandfather-father-son), each optional, at
 * least one present (retention.h gives each point its expiry).
 *
 * Key invariant: every struct vv_policy made by vv_policy_from_json or
 * vv_policy_default satisfies every rule below, and fields a policy does not use are
 * zero, so two equal policies compare equal field by field and
 * vv_policy_from_json(vv_policy_to_json(p)) gives back p exactly.
 *
 * Pure module: no I/O except vv_tz_exists, which reads the first bytes of one file.
 * struct vv_policy holds no pointers: copy it by assignment; vv_policy_release frees
 * nothing.
 *
 * Rules (Azure's, as docs/api.md states them):
 *   - times of day on the hour or half hour only (:00 or :30);
 *   - Daily schedules run at 1 to 24 distinct times of day, Weekly at exactly one;
 *   - Weekly schedules run on at least one day and keep no daily tier; the weekly tier's
 *     days, and the days of monthly/yearly tiers in the Weekly format, must be days
 *     the schedule runs on; monthly/yearly tiers in the Daily format (days of the
 *     month) need a Daily or Hourly schedule;
 *   - Hourly: interval 4, 6, 8 or 12 hours, window 4 to 24 hours, policy type V2;
 *   - instant restore: 1 to 5 days (Daily), 5 (Weekly), 1 to 30 (Hourly);
 *   - daily tier 7 to 9999 days, weekly 1 to 5163 weeks, monthly 1 to 1188 months,
 *     yearly 1 to 99 years;
 *   - days of the month 1 to 28, or the last day;
 *   - at steady state an item keeps at most VV_POLICY_MAX_POINTS recovery points at a
 *     time (vv_retention_max_points).
 */
#ifndef VV_POLICY_H
#define VV_POLICY_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "model.h"

/* Azure's DefaultPolicy: UTC, Daily at 02:00, daily tier 30 days, instant restore
 * 2 days, V1. Overwrites all of *p. */
void vv_policy_default(struct vv_policy *p);

/*
 * Strict parse of a policy object (docs/api.md shape). Keys:
 *   timeZone                       optional, default "UTC"; syntax only (vv_tz_name_valid)
 *   schedulePolicy                 required: scheduleRunFrequency Daily|Weekly|Hourly;
 *                                  scheduleRunTimes (Daily, Weekly; refused for Hourly),
 *                                  an array of "HH:MM" or UTC date-times
 *                                  "2026-01-01T02:30:00Z" (fraction of a second and
 *                                  "+00:00" allowed) whose time of day is kept: 1 to 24
 *                                  distinct times for Daily (a time of day given twice,
 *                                  in either form, is refused), exactly 1 for Weekly;
 *                                  scheduleRunDays (Weekly only); hourlySchedule
 *                                  {interval, scheduleWindowStartTime,
 *                                  scheduleWindowDuration} (Hourly only, all required)
 *   retentionPolicy                required: dailySchedule, weeklySchedule,
 *                                  monthlySchedule, yearlySchedule; at least one
 *   instantRpRetentionRangeInDays  optional: default 2 (Daily), 5 (Weekly), 7 (Hourly)
 *   policyType                     optional "V1" | "V2": default V2 for Hourly, else V1
 *   scriptSettings                 optional: the pre/post-scripts and freeze of its
 *                                  items' backups (scripts.h, vv_scripts_from_json)
 *   name, vault, protectedItemsCount   ignored whatever their value, so that a policy
 *                                  as the server shows it can be edited and sent back
 * Each tier has retentionDuration {count, durationType} (Days, Weeks, Months or Years,
 * matching the tier) and may have retentionTimes (an array of strings, ignored).
 * A JSON null counts as an absent key. Any other key, at any level, is refused. Names
 * of days, weeks of the month and months are spelled as Azure does ("Sunday",
 * "First".."Fourth", "Last", "January"); a repeated name is refused. daysOfTheMonth
 * entries are {"date": 1..28, "isLast": false} or {"date": 0, "isLast": true} (date
 * may be left out when isLast is true; isLast defaults to false).
 *
 * Last, the whole retention is checked: an item may keep at most VV_POLICY_MAX_POINTS
 * points at a time (vv_retention_max_points counts them).
 *
 * in: borrowed. Returns 0 and fills *out, or VV_E_INVAL with *out untouched and a
 * one-line ASCII reason in err naming the field path and the rule, e.g.
 *   "retentionPolicy.dailySchedule.retentionDuration.count: must be 7 to 9999 days"
 *   "unknown field 'schedulePolicy.scheduleRunTime'"
 *   "schedulePolicy.scheduleRunTimes[1]: '2026-01-01T14:00:00Z' repeats 14:00
 *    (schedulePolicy.scheduleRunTimes[0])"      (one line; cut here)
 *   "retentionPolicy: keeps up to 10001 recovery points per item; at most 9999 allowed"
 * (err may be NULL when errlen is 0; the reason is cut to errlen-1 bytes).
 * VV_E_NOMEM (with a reason too) when the count of kept points runs out of memory.
 */
int vv_policy_from_json(const json_t *in, struct vv_policy *out, char *err, size_t errlen) VV_MUST_CHECK;

/*
 * The canonical JSON of a valid policy (from vv_policy_from_json or
 * vv_policy_default): key order timeZone, schedulePolicy, instantRpRetentionRangeInDays,
 * retentionPolicy, policyType; times as "HH:MM"; scheduleRunTimes in ascending order
 * (Daily, Weekly); scheduleRunDays only for Weekly; hourlySchedule only for Hourly;
 * only the present tiers; names in calendar order; no retentionTimes. Does not
 * include name, vault or protectedItemsCount: the caller adds them.
 * Owner: the caller, json_decref(). NULL when memory runs out.
 */
json_t *vv_policy_to_json(const struct vv_policy *p);

/* Nothing to free today (the struct holds no pointers); zeroes *p, so a released
 * policy is never mistaken for a valid one. Kept so callers need not change if a
 * field ever moves to the heap. Safe to call twice. */
void vv_policy_release(struct vv_policy *p);

/* 1 when every field of a and b is the same, else 0. */
int vv_policy_equal(const struct vv_policy *a, const struct vv_policy *b) VV_MUST_CHECK;

/*
 * 1 when changing from old to new_ keeps some points for less time, else 0: a tier
 * of old is absent from new_, or its count is smaller, or it keeps fewer points
 * (a day, week of the month, date, last day or month dropped from its selection, or
 * a monthly/yearly tier switched between the Weekly and Daily formats), or the
 * instant-restore days shrink. Conservative: a point still covered by another tier
 * is not looked for. Schedule changes alone never count (fewer run times a day, or
 * other ones, change which point is a day's point, not how long points are kept).
 */
int vv_policy_reduces_retention(const struct vv_policy *old, const struct vv_policy *new_) VV_MUST_CHECK;

#endif
