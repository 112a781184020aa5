/*
 * model.h: a backup policy as data: its schedule (Daily, Weekly or Hourly in one time
 * zone), its retention tiers and the guest's scripts. No functions: policy.h parses
 * and prints it, schedule.h and retention.h compute over it. Keeping the data below
 * all three lets policy.c count the points a policy keeps (retention.h) without
 * retention depending back on the parser.
 *
 * Invariant: a struct vv_policy that vv_policy_from_json filled in is valid as each
 * field's comment says; the computations rely on it and check nothing again.
 */
#ifndef VV_POLICY_MODEL_H
#define VV_POLICY_MODEL_H

#include <stdint.h>

#include "scripts.h"
#include "tz.h"

#define VV_RUN_TIMES_MAX 24 /* most times of day a Daily schedule runs at */
#define VV_POLICY_MAX_POINTS 9999 /* most recovery points an item keeps at a time */

/* The run_times bit of a time of day given in minutes after midnight (a multiple of
 * 30, below 1440): bit k is k*30 minutes. */
#define VV_RUN_TIME(minutes) ((uint64_t)1 << ((minutes) / 30))

enum vv_policy_type { VV_POLICY_V1 = 1, VV_POLICY_V2 = 2 };

enum vv_schedule_freq { VV_FREQ_DAILY = 1, VV_FREQ_WEEKLY = 2, VV_FREQ_HOURLY = 3 };

/* How a monthly or yearly tier picks its points; VV_RET_FORMAT_NONE in the daily and
 * weekly tiers and in absent tiers. */
enum vv_retention_format {
    VV_RET_FORMAT_NONE = 0,
    VV_RET_FORMAT_WEEKLY = 1, /* weeks of the month x days of the week */
    VV_RET_FORMAT_DAILY = 2,  /* days of the month */
};

/* Day-of-week bits: bit 0 Sunday .. bit 6 Saturday (struct tm's tm_wday). */
#define VV_DAY(wday) (1u << (wday))
#define VV_DAYS_ALL 0x7fu
/* Week-of-the-month bits. */
#define VV_WEEK_FIRST 0x01u
#define VV_WEEK_SECOND 0x02u
#define VV_WEEK_THIRD 0x04u
#define VV_WEEK_FOURTH 0x08u
#define VV_WEEK_LAST 0x10u
/* Month bits: bit 0 January .. bit 11 December (struct tm's tm_mon). */
#define VV_MONTH(mon) (1u << (mon))
/* Day-of-the-month bits: bit d for date d, 1..28 (bit 0 is never set). */
#define VV_DATE(d) (1u << (d))

/* One retention tier. Fields a tier does not use are 0. */
struct vv_retention {
    int present;                     /* 0: the tier is absent (then every field is 0) */
    uint32_t count;                  /* in the tier's unit: days, weeks, months, years */
    enum vv_retention_format format; /* monthly and yearly only */
    uint8_t days;   /* VV_DAY bits: weekly tier; monthly/yearly in the Weekly format */
    uint8_t weeks;  /* VV_WEEK_* bits: monthly/yearly in the Weekly format */
    uint32_t dates; /* VV_DATE bits: monthly/yearly in the Daily format */
    int last_date;  /* 1: the last day of the month (Daily format) */
    uint16_t months; /* VV_MONTH bits: yearly tier, not 0 when present */
};

struct vv_policy {
    char time_zone[VV_TZ_NAME_MAX + 1]; /* IANA name, syntax checked (vv_tz_name_valid) */
    enum vv_policy_type type;           /* V2 whenever the schedule is Hourly */
    enum vv_schedule_freq frequency;
    uint64_t run_times; /* VV_RUN_TIME bits (bit k: k*30 minutes after local midnight,
                         * k < 48). Daily: 1 to 24 bits; Weekly: exactly 1; Hourly: 0 */
    uint8_t run_days;  /* Weekly: VV_DAY bits, not 0; else 0 */
    uint8_t hourly_interval;  /* Hourly: 4, 6, 8 or 12 (hours); else 0 */
    uint16_t window_start;    /* Hourly: minutes after midnight, a multiple of 30; else 0 */
    uint8_t window_hours;     /* Hourly: 4..24; else 0 */
    uint8_t instant_rp_days;  /* instant-restore snapshots kept this many days */
    struct vv_retention daily;   /* count in days */
    struct vv_retention weekly;  /* count in weeks */
    struct vv_retention monthly; /* count in months */
    struct vv_retention yearly;  /* count in years */
    int has_scripts;                 /* scriptSettings given (else all zero) */
    struct vv_script_settings scripts; /* the guest's scripts and freeze (scripts.h) */
};

#endif
