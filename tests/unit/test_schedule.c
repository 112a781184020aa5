/*
 * test_schedule.c: the run instants of Daily, Weekly and Hourly schedules, table-driven
 * with UTC instants computed by hand from each zone's rules:
 *   - DST in Europe/Berlin (2027-03-28 02:00 -> 03:00, 2027-10-31 03:00 -> 02:00),
 *     America/New_York (2027-03-14, 2027-11-07) and Australia/Lord_Howe (30-minute
 *     shifts: 2027-04-04 02:00 -> 01:30, 2027-10-03 02:00 -> 02:30): a time in a gap
 *     runs once at the gap's end, a time that occurs twice runs once, at the first
 *     occurrence, and two times that meet in one instant are one run;
 *   - a midnight gap (America/Sao_Paulo 2018) and a skipped day (Pacific/Apia 2011);
 *   - month ends, leap days, weekly schedules across a year end, several daily times;
 *   - Hourly windows that cross midnight, and a DST change;
 *   - vv_schedule_runs over long outages (counts beyond max), and agreement with
 *     vv_schedule_next on random policies in every zone.
 */
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"
#include "policy/policy.h"
#include "policy/schedule.h"
#include "policy/tz.h"

#define ZONEINFO "/usr/share/zoneinfo"
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MAXRUNS 16

static int64_t utc(int y, int mo, int d, int h, int mi)
{
    struct vv_civil c = {y, mo, d, h, mi, 0, 0};
    return vv_civil_to_seconds(&c);
}

/* "HH:MM" list to run_times bits: T(2, 30) is 02:30. */
#define T(h, m) VV_RUN_TIME((h) * 60 + (m))

static struct vv_policy daily(uint64_t times)
{
    struct vv_policy p;
    memset(&p, 0, sizeof(p));
    p.frequency = VV_FREQ_DAILY;
    p.type = VV_POLICY_V1;
    p.run_times = times;
    p.instant_rp_days = 2;
    p.daily.present = 1;
    p.daily.count = 30;
    return p;
}

static struct vv_policy weekly(uint8_t days, uint64_t time)
{
    struct vv_policy p = daily(time);
    p.frequency = VV_FREQ_WEEKLY;
    p.run_days = days;
    p.instant_rp_days = 5;
    p.daily = (struct vv_retention){0};
    p.weekly = (struct vv_retention){.present = 1, .count = 4, .days = days};
    return p;
}

static struct vv_policy hourly(int start_minutes, int hours, int interval)
{
    struct vv_policy p = daily(0);
    p.frequency = VV_FREQ_HOURLY;
    p.type = VV_POLICY_V2;
    p.window_start = (uint16_t)start_minutes;
    p.window_hours = (uint8_t)hours;
    p.hourly_interval = (uint8_t)interval;
    p.instant_rp_days = 7;
    return p;
}

static struct vv_tz *zone(const char *name)
{
    struct vv_tz *tz = NULL;
    int r;
    if (!name || !strcmp(name, "UTC-NULL"))
        return NULL;
    r = vv_tz_load(ZONEINFO, name, &tz);
    if (r != 0)
        vv_test_fail(__FILE__, __LINE__, "vv_tz_load(%s): %s", name, vv_test_errname(r));
    return tz;
}

struct sched_case {
    const char *what;
    const char *zone; /* "UTC-NULL": the NULL zone */
    struct vv_policy p;
    int64_t from, to;
    int64_t want[MAXRUNS];
    size_t nwant;
};

static void fmt(int64_t t, char out[VV_TZ_TIME_MAX]) { vv_tz_format(NULL, t, out); }

/* runs(from, to) == want, and next() walks the same instants. */
static void check_case(const struct sched_case *k)
{
    struct vv_tz *tz = zone(k->zone);
    int64_t got[MAXRUNS + 4], t;
    size_t n;
    char a[VV_TZ_TIME_MAX], b[VV_TZ_TIME_MAX];

    if (!tz && strcmp(k->zone, "UTC-NULL"))
        return;
    n = vv_schedule_runs(&k->p, tz, k->from, k->to, got, ARRAY_LEN(got));
    if (n != k->nwant)
        vv_test_fail(__FILE__, __LINE__, "%s: %zu runs, want %zu", k->what, n, k->nwant);
    for (size_t i = 0; i < n && i < k->nwant; i++)
        if (got[i] != k->want[i]) {
            fmt(got[i], a);
            fmt(k->want[i], b);
            vv_test_fail(__FILE__, __LINE__, "%s: run %zu at %s, want %s", k->what, i, a, b);
        }
    t = k->from;
    for (size_t i = 0; i < k->nwant; i++) {
        t = vv_schedule_next(&k->p, tz, t);
        if (t != k->want[i]) {
            fmt(t, a);
            fmt(k->want[i], b);
            vv_test_fail(__FILE__, __LINE__, "%s: next #%zu is %s, want %s", k->what, i, a, b);
            break;
        }
    }
    if (vv_schedule_next(&k->p, tz, t) <= k->to && k->nwant)
        vv_test_fail(__FILE__, __LINE__, "%s: a run follows the last one within the range",
                     k->what);
    vv_tz_free(tz);
}

static void run_cases(const struct sched_case *cases, size_t n)
{
    if (access(ZONEINFO "/Europe/Berlin", R_OK) != 0) {
        printf("SKIP no %s\n", ZONEINFO);
        return;
    }
    for (size_t i = 0; i < n; i++)
        check_case(&cases[i]);
}

#define RUNS(...) {__VA_ARGS__}, sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)

TEST(daily_across_dst)
{
    const struct sched_case cases[] = {
        {"Berlin 02:30, spring forward: the gap's end, once", "Europe/Berlin", daily(T(2, 30)),
         utc(2027, 3, 26, 12, 0), utc(2027, 3, 29, 12, 0),
         RUNS(utc(2027, 3, 27, 1, 30), utc(2027, 3, 28, 1, 0), utc(2027, 3, 29, 0, 30))},
        {"Berlin 02:00 and 02:30 both in the gap: one run", "Europe/Berlin",
         daily(T(2, 0) | T(2, 30)), utc(2027, 3, 26, 12, 0), utc(2027, 3, 29, 12, 0),
         RUNS(utc(2027, 3, 27, 1, 0), utc(2027, 3, 27, 1, 30), utc(2027, 3, 28, 1, 0),
              utc(2027, 3, 29, 0, 0), utc(2027, 3, 29, 0, 30))},
        {"Berlin 02:30, fall back: the first occurrence, once", "Europe/Berlin",
         daily(T(2, 30)), utc(2027, 10, 29, 12, 0), utc(2027, 11, 1, 12, 0),
         RUNS(utc(2027, 10, 30, 0, 30), utc(2027, 10, 31, 0, 30), utc(2027, 11, 1, 1, 30))},
        {"Berlin 01:30 02:00 02:30 03:00 on the fall-back day", "Europe/Berlin",
         daily(T(1, 30) | T(2, 0) | T(2, 30) | T(3, 0)), utc(2027, 10, 30, 12, 0),
         utc(2027, 10, 31, 12, 0),
         RUNS(utc(2027, 10, 30, 23, 30), utc(2027, 10, 31, 0, 0), utc(2027, 10, 31, 0, 30),
              utc(2027, 10, 31, 2, 0))},
        {"New York 02:30, spring forward", "America/New_York", daily(T(2, 30)),
         utc(2027, 3, 13, 0, 0), utc(2027, 3, 16, 0, 0),
         RUNS(utc(2027, 3, 13, 7, 30), utc(2027, 3, 14, 7, 0), utc(2027, 3, 15, 6, 30))},
        {"New York 02:00 (gap) and 03:00 meet at 07:00Z: one run", "America/New_York",
         daily(T(2, 0) | T(3, 0)), utc(2027, 3, 13, 0, 0), utc(2027, 3, 16, 0, 0),
         RUNS(utc(2027, 3, 13, 7, 0), utc(2027, 3, 13, 8, 0), utc(2027, 3, 14, 7, 0),
              utc(2027, 3, 15, 6, 0), utc(2027, 3, 15, 7, 0))},
        {"New York 01:30, fall back: EDT's 01:30 only", "America/New_York", daily(T(1, 30)),
         utc(2027, 11, 6, 0, 0), utc(2027, 11, 9, 0, 0),
         RUNS(utc(2027, 11, 6, 5, 30), utc(2027, 11, 7, 5, 30), utc(2027, 11, 8, 6, 30))},
        {"Lord Howe 02:00 (gap) and 02:30 meet: one run", "Australia/Lord_Howe",
         daily(T(2, 0) | T(2, 30)), utc(2027, 10, 1, 0, 0), utc(2027, 10, 4, 0, 0),
         RUNS(utc(2027, 10, 1, 15, 30), utc(2027, 10, 1, 16, 0), utc(2027, 10, 2, 15, 30),
              utc(2027, 10, 3, 15, 0), utc(2027, 10, 3, 15, 30))},
        {"Lord Howe 01:30 twice (+11 then +10:30): the first; 02:00 once",
         "Australia/Lord_Howe", daily(T(1, 30) | T(2, 0)), utc(2027, 4, 2, 0, 0),
         utc(2027, 4, 5, 0, 0),
         RUNS(utc(2027, 4, 2, 14, 30), utc(2027, 4, 2, 15, 0), utc(2027, 4, 3, 14, 30),
              utc(2027, 4, 3, 15, 30), utc(2027, 4, 4, 15, 0), utc(2027, 4, 4, 15, 30))},
        {"Sao Paulo 00:00 and 01:00 on the day midnight is skipped", "America/Sao_Paulo",
         daily(T(0, 0) | T(1, 0)), utc(2018, 11, 3, 0, 0), utc(2018, 11, 5, 12, 0),
         RUNS(utc(2018, 11, 3, 3, 0), utc(2018, 11, 3, 4, 0), utc(2018, 11, 4, 3, 0),
              utc(2018, 11, 5, 2, 0), utc(2018, 11, 5, 3, 0))},
        {"Apia skips 2011-12-30: that run comes at the gap's end", "Pacific/Apia",
         daily(T(12, 0)), utc(2011, 12, 28, 0, 0), utc(2012, 1, 1, 0, 0),
         RUNS(utc(2011, 12, 28, 22, 0), utc(2011, 12, 29, 22, 0), utc(2011, 12, 30, 10, 0),
              utc(2011, 12, 30, 22, 0), utc(2011, 12, 31, 22, 0))},
        {"Berlin 2080 (past the table): gap and overlap", "Europe/Berlin", daily(T(2, 30)),
         utc(2080, 3, 30, 12, 0), utc(2080, 3, 31, 12, 0), RUNS(utc(2080, 3, 31, 1, 0))},
        {"Berlin 2080 fall back", "Europe/Berlin", daily(T(2, 30)), utc(2080, 10, 26, 12, 0),
         utc(2080, 10, 27, 12, 0), RUNS(utc(2080, 10, 27, 0, 30))},
    };
    run_cases(cases, ARRAY_LEN(cases));
}

TEST(calendar_edges)
{
    const struct sched_case cases[] = {
        {"daily over Jan 31 -> Feb 1", "UTC-NULL", daily(T(0, 0) | T(23, 30)),
         utc(2027, 1, 30, 23, 30), utc(2027, 2, 2, 0, 0),
         RUNS(utc(2027, 1, 31, 0, 0), utc(2027, 1, 31, 23, 30), utc(2027, 2, 1, 0, 0),
              utc(2027, 2, 1, 23, 30), utc(2027, 2, 2, 0, 0))},
        {"daily over the leap day, Berlin 23:30", "Europe/Berlin", daily(T(23, 30)),
         utc(2028, 2, 27, 23, 0), utc(2028, 3, 1, 23, 0),
         RUNS(utc(2028, 2, 28, 22, 30), utc(2028, 2, 29, 22, 30), utc(2028, 3, 1, 22, 30))},
        {"daily over Feb 28 -> Mar 1 (2027), Kolkata midnight", "Asia/Kolkata", daily(T(0, 0)),
         utc(2027, 2, 26, 0, 0), utc(2027, 3, 1, 0, 0),
         RUNS(utc(2027, 2, 26, 18, 30), utc(2027, 2, 27, 18, 30), utc(2027, 2, 28, 18, 30))},
        {"weekly Tuesday noon over the leap day", "UTC-NULL", weekly(VV_DAY(2), T(12, 0)),
         utc(2028, 2, 20, 0, 0), utc(2028, 3, 10, 0, 0),
         RUNS(utc(2028, 2, 22, 12, 0), utc(2028, 2, 29, 12, 0), utc(2028, 3, 7, 12, 0))},
        {"weekly Friday and Sunday 22:00 New York across the year end", "America/New_York",
         weekly(VV_DAY(5) | VV_DAY(0), T(22, 0)), utc(2027, 12, 24, 0, 0),
         utc(2028, 1, 10, 12, 0),
         RUNS(utc(2027, 12, 25, 3, 0), utc(2027, 12, 27, 3, 0), utc(2028, 1, 1, 3, 0),
              utc(2028, 1, 3, 3, 0), utc(2028, 1, 8, 3, 0), utc(2028, 1, 10, 3, 0))},
        {"weekly Saturday 00:00 Kolkata across the year end (Friday 18:30Z)", "Asia/Kolkata",
         weekly(VV_DAY(6), T(0, 0)), utc(2027, 12, 20, 0, 0), utc(2028, 1, 10, 0, 0),
         RUNS(utc(2027, 12, 24, 18, 30), utc(2027, 12, 31, 18, 30), utc(2028, 1, 7, 18, 30))},
        {"weekly Sunday 02:30 Berlin on both DST Sundays", "Europe/Berlin",
         weekly(VV_DAY(0), T(2, 30)), utc(2027, 3, 20, 0, 0), utc(2027, 4, 5, 0, 0),
         RUNS(utc(2027, 3, 21, 1, 30), utc(2027, 3, 28, 1, 0), utc(2027, 4, 4, 0, 30))},
        {"weekly Sunday 02:30 Berlin, autumn", "Europe/Berlin", weekly(VV_DAY(0), T(2, 30)),
         utc(2027, 10, 25, 0, 0), utc(2027, 11, 8, 0, 0),
         RUNS(utc(2027, 10, 31, 0, 30), utc(2027, 11, 7, 1, 30))},
        {"from is a run instant: excluded; to is one: included", "UTC-NULL", daily(T(6, 0)),
         utc(2027, 5, 1, 6, 0), utc(2027, 5, 3, 6, 0),
         RUNS(utc(2027, 5, 2, 6, 0), utc(2027, 5, 3, 6, 0))},
    };
    run_cases(cases, ARRAY_LEN(cases));
}

TEST(hourly_windows)
{
    const struct sched_case cases[] = {
        {"20:00 + 12 h every 4 h: 20, 00, 04 (UTC)", "UTC-NULL", hourly(20 * 60, 12, 4),
         utc(2027, 6, 1, 0, 0), utc(2027, 6, 3, 0, 0),
         RUNS(utc(2027, 6, 1, 4, 0), utc(2027, 6, 1, 20, 0), utc(2027, 6, 2, 0, 0),
              utc(2027, 6, 2, 4, 0), utc(2027, 6, 2, 20, 0), utc(2027, 6, 3, 0, 0))},
        {"08:00 + 24 h every 4 h", "UTC-NULL", hourly(8 * 60, 24, 4), utc(2027, 6, 1, 7, 0),
         utc(2027, 6, 2, 7, 0),
         RUNS(utc(2027, 6, 1, 8, 0), utc(2027, 6, 1, 12, 0), utc(2027, 6, 1, 16, 0),
              utc(2027, 6, 1, 20, 0), utc(2027, 6, 2, 0, 0), utc(2027, 6, 2, 4, 0))},
        {"the window's end is exclusive: 4 h every 4 h is one run", "UTC-NULL",
         hourly(10 * 60 + 30, 4, 4), utc(2027, 6, 1, 0, 0), utc(2027, 6, 3, 0, 0),
         RUNS(utc(2027, 6, 1, 10, 30), utc(2027, 6, 2, 10, 30))},
        {"22:00 + 8 h every 4 h over Berlin's spring forward", "Europe/Berlin",
         hourly(22 * 60, 8, 4), utc(2027, 3, 27, 12, 0), utc(2027, 3, 29, 12, 0),
         RUNS(utc(2027, 3, 27, 21, 0), utc(2027, 3, 28, 1, 0), utc(2027, 3, 28, 20, 0),
              utc(2027, 3, 29, 0, 0))},
        {"00:00 + 24 h every 4 h on Berlin's fall-back day (wall clock)", "Europe/Berlin",
         hourly(0, 24, 4), utc(2027, 10, 30, 21, 0), utc(2027, 10, 31, 23, 0),
         RUNS(utc(2027, 10, 30, 22, 0), utc(2027, 10, 31, 3, 0), utc(2027, 10, 31, 7, 0),
              utc(2027, 10, 31, 11, 0), utc(2027, 10, 31, 15, 0), utc(2027, 10, 31, 19, 0),
              utc(2027, 10, 31, 23, 0))},
        {"00:00 + 8 h every 4 h, New York fall back", "America/New_York", hourly(0, 8, 4),
         utc(2027, 11, 7, 0, 0), utc(2027, 11, 8, 0, 0),
         RUNS(utc(2027, 11, 7, 4, 0), utc(2027, 11, 7, 9, 0))},
        {"18:30 + 24 h every 6 h in Lord Howe over its spring forward", "Australia/Lord_Howe",
         hourly(18 * 60 + 30, 24, 6), utc(2027, 10, 2, 0, 0), utc(2027, 10, 3, 12, 0),
         RUNS(utc(2027, 10, 2, 2, 0), utc(2027, 10, 2, 8, 0), utc(2027, 10, 2, 14, 0),
              utc(2027, 10, 2, 19, 30), utc(2027, 10, 3, 1, 30), utc(2027, 10, 3, 7, 30))},
    };
    run_cases(cases, ARRAY_LEN(cases));
}

/* The server counts the runs it missed: counts beyond max, out untouched past it. */
TEST(runs_over_long_outages)
{
    struct vv_tz *berlin, *ny;
    struct vv_policy p;
    int64_t out[12], from = utc(2027, 1, 1, 0, 0), to = utc(2028, 1, 1, 0, 0);
    size_t n;

    if (access(ZONEINFO "/Europe/Berlin", R_OK) != 0) {
        printf("SKIP no %s\n", ZONEINFO);
        return;
    }
    berlin = zone("Europe/Berlin");
    ny = zone("America/New_York");

    p = daily(T(2, 0) | T(14, 0));
    for (size_t i = 0; i < ARRAY_LEN(out); i++)
        out[i] = -1;
    n = vv_schedule_runs(&p, berlin, from, to, out, 10);
    CHECK_EQ(n, 730);
    CHECK_EQ(out[0], utc(2027, 1, 1, 1, 0));
    CHECK_EQ(out[1], utc(2027, 1, 1, 13, 0));
    CHECK_EQ(out[9], utc(2027, 1, 5, 13, 0));
    CHECK_EQ(out[10], -1);
    CHECK_EQ(vv_schedule_runs(&p, berlin, from, to, NULL, 0), 730);
    CHECK_EQ(vv_schedule_runs(&p, berlin, to, from, out, 10), 0);
    CHECK_EQ(vv_schedule_runs(&p, berlin, from, from, out, 10), 0);

    /* 02:00 and 02:30 meet once a year, in the spring-forward gap */
    p = daily(T(2, 0) | T(2, 30));
    CHECK_EQ(vv_schedule_runs(&p, berlin, from, to, NULL, 0), 729);
    /* 02:30 alone: every day once, gap and overlap included */
    p = daily(T(2, 30));
    CHECK_EQ(vv_schedule_runs(&p, berlin, from, to, NULL, 0), 365);
    /* the last run of the range, as the server reads it */
    n = vv_schedule_runs(&p, berlin, from, to, out, 1);
    CHECK_EQ(out[0], utc(2027, 1, 1, 1, 30));

    /* Hourly every 4 h over a leap year, and ten years in New York */
    p = hourly(2 * 60, 24, 4);
    CHECK_EQ(vv_schedule_runs(&p, berlin, utc(2028, 1, 1, 0, 0), utc(2029, 1, 1, 0, 0),
                              NULL, 0),
             6 * 366);
    p = daily(T(1, 30));
    CHECK_EQ(vv_schedule_runs(&p, ny, utc(2027, 1, 1, 0, 0), utc(2037, 1, 1, 0, 0), NULL, 0),
             3653);
    /* weekly Sunday over 2027 (52 Sundays) and the 24 daily times over a week */
    p = weekly(VV_DAY(0), T(3, 0));
    CHECK_EQ(vv_schedule_runs(&p, ny, from, to, NULL, 0), 52);
    p = daily(0xffffff000000ull);
    CHECK_EQ(vv_schedule_runs(&p, ny, from, from + 7 * 86400, NULL, 0), 7 * 24);
    /* 30 years of hourly runs: the count only */
    p = hourly(0, 24, 4);
    CHECK_EQ(vv_schedule_runs(&p, NULL, utc(2000, 1, 1, 0, 0), utc(2030, 1, 1, 0, 0), NULL, 0),
             6 * (30 * 365 + 8));
    vv_tz_free(berlin);
    vv_tz_free(ny);
}

TEST(next_and_edges)
{
    struct vv_policy p = daily(T(2, 30)), none;
    struct vv_tz *berlin;

    /* strictly after: at a run instant, the next one */
    CHECK_EQ(vv_schedule_next(&p, NULL, utc(2027, 5, 1, 2, 30)), utc(2027, 5, 2, 2, 30));
    CHECK_EQ(vv_schedule_next(&p, NULL, utc(2027, 5, 1, 2, 30) - 1), utc(2027, 5, 1, 2, 30));
    if (access(ZONEINFO "/Europe/Berlin", R_OK) == 0) {
        berlin = zone("Europe/Berlin");
        CHECK_EQ(vv_schedule_next(&p, berlin, utc(2027, 3, 28, 1, 0)), utc(2027, 3, 29, 0, 30));
        CHECK_EQ(vv_schedule_next(&p, berlin, utc(2027, 3, 28, 0, 59)), utc(2027, 3, 28, 1, 0));
        CHECK_EQ(vv_schedule_next(&p, berlin, utc(2027, 10, 31, 0, 30)),
                 utc(2027, 11, 1, 1, 30));
        vv_tz_free(berlin);
    }
    /* a struct without a schedule has no runs */
    memset(&none, 0, sizeof(none));
    CHECK_EQ(vv_schedule_next(&none, NULL, 0), VV_SCHEDULE_NONE);
    CHECK_EQ(vv_schedule_runs(&none, NULL, 0, 86400 * 30, NULL, 0), 0);
    none = weekly(0, T(1, 0));
    CHECK_EQ(vv_schedule_next(&none, NULL, 0), VV_SCHEDULE_NONE);
    none = hourly(0, 24, 0);
    CHECK_EQ(vv_schedule_next(&none, NULL, 0), VV_SCHEDULE_NONE);
    /* the ends of time */
    CHECK_EQ(vv_schedule_next(&p, NULL, INT64_MAX), VV_SCHEDULE_NONE);
    CHECK_EQ(vv_schedule_next(&p, NULL, VV_TZ_INSTANT_MAX), VV_SCHEDULE_NONE);
    CHECK(vv_schedule_next(&p, NULL, INT64_MIN) <= -VV_TZ_INSTANT_MAX + 2 * 86400);
    CHECK_EQ(vv_schedule_runs(&p, NULL, INT64_MIN, INT64_MIN + 86400, NULL, 0), 0);
    /* an out-of-range struct is read defensively */
    none = hourly(1500, 200, 1);
    CHECK_EQ(vv_schedule_runs_per_day(&none), 24);
    CHECK_EQ(vv_schedule_runs(&none, NULL, 0, 86400, NULL, 0), 24);
    none = daily(~(uint64_t)0);
    CHECK_EQ(vv_schedule_runs_per_day(&none), 48);
    CHECK_EQ(vv_schedule_runs(&none, NULL, 0, 86400 * 10, NULL, 0), 480);

    CHECK_EQ(vv_schedule_runs_per_day(&p), 1);
    p = hourly(0, 24, 4);
    CHECK_EQ(vv_schedule_runs_per_day(&p), 6);
    p = hourly(0, 22, 4);
    CHECK_EQ(vv_schedule_runs_per_day(&p), 6); /* 0, 4, 8, 12, 16, 20 */
    p = hourly(0, 20, 4);
    CHECK_EQ(vv_schedule_runs_per_day(&p), 5);
    p = hourly(0, 4, 12);
    CHECK_EQ(vv_schedule_runs_per_day(&p), 1);
    p = weekly(VV_DAY(1) | VV_DAY(3), T(1, 0));
    CHECK_EQ(vv_schedule_runs_per_day(&p), 1);
    CHECK(vv_schedule_runs_on(&p, 1) && vv_schedule_runs_on(&p, 3) &&
          !vv_schedule_runs_on(&p, 0));
    CHECK(!vv_schedule_runs_on(&p, 7) && !vv_schedule_runs_on(&p, -1));
}

/* Random policies in every zone: runs ascending, next() agrees, each at a scheduled
 * wall-clock time or at the end of a gap. */
TEST(random_policies_agree)
{
    static const char *const names[] = {"Europe/Berlin", "America/New_York",
                                        "Australia/Lord_Howe", "Asia/Kolkata",
                                        "America/Sao_Paulo", "Pacific/Apia"};
    if (access(ZONEINFO "/Europe/Berlin", R_OK) != 0) {
        printf("SKIP no %s\n", ZONEINFO);
        return;
    }
    vv_test_seed(20270328);
    for (size_t z = 0; z < ARRAY_LEN(names); z++) {
        struct vv_tz *tz = zone(names[z]);
        for (int i = 0; i < 40 && tz; i++) {
            static const int intervals[] = {4, 6, 8, 12};
            struct vv_policy p;
            int64_t from =
                        utc(2010, 1, 1, 0, 0) + (int64_t)(vv_test_rand() % (20 * 366)) * 86400,
                    to = from + 40 * 86400, runs[1024], t = from;
            size_t n;
            switch (vv_test_rand() % 3) {
            case 0:
                p = daily((vv_test_rand() & vv_test_rand()) & ((UINT64_C(1) << 48) - 1));
                if (!p.run_times)
                    p.run_times = 1;
                break;
            case 1:
                p = weekly((uint8_t)(1 + vv_test_rand() % 127),
                           VV_RUN_TIME(30 * (vv_test_rand() % 48)));
                break;
            default:
                p = hourly(30 * (int)(vv_test_rand() % 48), 4 + (int)(vv_test_rand() % 21),
                           intervals[vv_test_rand() % 4]);
            }
            n = vv_schedule_runs(&p, tz, from, to, runs, ARRAY_LEN(runs));
            CHECK(n > 0 && n <= ARRAY_LEN(runs));
            for (size_t k = 0; k < n && k < ARRAY_LEN(runs); k++) {
                struct vv_civil c;
                int64_t secs;
                t = vv_schedule_next(&p, tz, t);
                if (t != runs[k] || (k > 0 && runs[k] <= runs[k - 1]) || runs[k] <= from ||
                    runs[k] > to) {
                    vv_test_fail(__FILE__, __LINE__, "%s policy %d: run %zu disagrees",
                                 names[z], i, k);
                    break;
                }
                /* on the half hour of local time, or at a transition */
                vv_tz_to_local(tz, runs[k], &c);
                secs = c.minute * 60 + c.second;
                if (secs % 1800 != 0 && vv_tz_next_transition(tz, runs[k] - 1) != runs[k])
                    vv_test_fail(__FILE__, __LINE__, "%s policy %d: run at %lld off the grid",
                                 names[z], i, (long long)runs[k]);
            }
        }
        vv_tz_free(tz);
    }
}
