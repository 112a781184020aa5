/*
 * civil.h: the proleptic Gregorian calendar, pure: leap years, month lengths, days
 * since 1970-01-01 and back, weekdays, and calendar arithmetic that clamps to a
 * month's end. The one place these rules are written: time zones (tz.h), schedules,
 * retention, the API's dates and the CLI all count days here.
 *
 * Invariant: every function is total. Out-of-range inputs are clamped or carried
 * over as each comment says, so that no input overflows int64 seconds.
 */
#ifndef VV_CIVIL_H
#define VV_CIVIL_H

#include "err.h"

#include <stdint.h>

/* A date and time of day, as on a wall clock. wday is an output of the conversions
 * (0 = Sunday .. 6 = Saturday) and never an input. */
struct vv_civil {
    int year, month /* 1-12 */, day /* 1-31 */, hour, minute, second;
    int wday;
};

/* Division rounding toward minus infinity (b > 0). */
int64_t vv_floor_div(int64_t a, int64_t b);

/* 1 for a leap year (every 4th year, except centuries not divisible by 400). */
int vv_is_leap_year(int64_t year) VV_MUST_CHECK;

/* 28..31 for month 1..12; 0 for a month out of range. */
int vv_days_in_month(int64_t year, int month) VV_MUST_CHECK;

/* Days from 1970-01-01 to the given date. Month and day out of range carry over
 * (month 0 is December of the year before, day 32 of January is February 1). The
 * arguments are first clamped to years +-2^32, months +-2^36 and days +-2^40, so that
 * any input gives a result whose seconds fit in int64. */
int64_t vv_days_from_civil(int64_t year, int64_t month, int64_t day);

/* The date `days` after 1970-01-01 into out->year, month, day, wday (the time of day
 * is left alone). days is clamped to +-2^36 (about 188 million years). */
void vv_civil_from_days(int64_t days, struct vv_civil *out);

/* 0 = Sunday .. 6 = Saturday, for days after 1970-01-01 (a Thursday). */
int vv_weekday(int64_t days) VV_MUST_CHECK;

/* A civil time as seconds since 1970-01-01T00:00:00 on the same clock ("local
 * seconds": what utc + offset gives); out-of-range fields carry over. */
int64_t vv_civil_to_seconds(const struct vv_civil *c);

/* The inverse: fills every field of out, wday too. */
void vv_civil_from_seconds(int64_t s, struct vv_civil *out);

/* 1 when month is 1..12, day 1..vv_days_in_month, hour 0..23, minute and second
 * 0..59; else 0. */
int vv_civil_valid(const struct vv_civil *c) VV_MUST_CHECK;

/*
 * Calendar arithmetic on the date of *c (time of day kept; wday updated). Months and
 * years keep the day of the month, clamped to the end of the target month: Jan 31 + 1
 * month = Feb 28 (Feb 29 in a leap year), Feb 29 + 1 year = Feb 28, Mar 31 - 1 month =
 * Feb 28/29. n may be negative. The date is normalized first (vv_civil_from_days) and
 * results are kept within years -1,000,000..1,000,000.
 */
void vv_civil_add_days(struct vv_civil *c, int64_t n);
void vv_civil_add_months(struct vv_civil *c, int64_t n);
void vv_civil_add_years(struct vv_civil *c, int64_t n);

#endif
