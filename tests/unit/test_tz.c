/*
 * test_tz.c: time zones and the civil calendar.
 *
 *  - the calendar: every day of +-2000 years against a date counted one day at a
 *    time, fixed anchors, leap years, month lengths, adding days, months and years
 *    with the clamp to the month end, out-of-range fields that carry over;
 *  - the zones of /usr/share/zoneinfo (Europe/Berlin, America/New_York,
 *    Australia/Lord_Howe, UTC, Asia/Kolkata, America/Sao_Paulo, Pacific/Apia) against
 *    the C library's localtime_r over every transition and samples from 1850 to 2400,
 *    2080 hour by hour (past the table: the footer's rule); TZ is set inside this
 *    test only, never in lib code;
 *  - vv_tz_resolve: hand-computed gaps and overlaps, and a reference built on
 *    localtime_r around every transition from 1970 to 2040;
 *  - POSIX TZ footers of every form, in files built here (Jn, n, Mm.w.d, v3 hours
 *    outside 0..24 and negative, all-year DST, 30-minute DST, no DST);
 *  - malformed files: every prefix of a real file, each field broken in turn;
 *  - vv_tz_load's outcomes and vv_tz_format's text.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "harness.h"
#include "policy/policy.h"
#include "policy/tz.h"

#define ZONEINFO "/usr/share/zoneinfo"
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *const zones[] = {"Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
                                    "UTC",           "Asia/Kolkata",     "America/Sao_Paulo",
                                    "Pacific/Apia"};

/* UTC seconds of a UTC civil time. */
static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
    struct vv_civil c = {y, mo, d, h, mi, s, 0};
    return vv_civil_to_seconds(&c);
}

static struct vv_tz *load(const char *name)
{
    struct vv_tz *tz = NULL;
    int r = vv_tz_load(ZONEINFO, name, &tz);
    if (r != 0)
        vv_test_fail(__FILE__, __LINE__, "vv_tz_load(%s): %s", name, vv_test_errname(r));
    return tz;
}

static int have_zoneinfo(void)
{
    if (access(ZONEINFO "/Europe/Berlin", R_OK) == 0)
        return 1;
    printf("SKIP no %s\n", ZONEINFO);
    return 0;
}

/* ---- the calendar ---- */

TEST(calendar_anchors)
{
    struct vv_civil c;
    CHECK_EQ(vv_days_from_civil(1970, 1, 1), 0);
    CHECK_EQ(vv_days_from_civil(1969, 12, 31), -1);
    CHECK_EQ(vv_days_from_civil(2000, 1, 1), 10957);
    CHECK_EQ(vv_days_from_civil(2000, 3, 1), 11017);
    CHECK_EQ(vv_days_from_civil(2028, 2, 29), 21243);
    CHECK_EQ(vv_days_from_civil(1600, 3, 1), -135080);
    CHECK_EQ(vv_days_from_civil(0, 3, 1), -719468);
    CHECK_EQ(vv_days_from_civil(-1, 12, 31), -719529); /* the year before year 0 */
    CHECK_EQ(utc(2027, 3, 28, 1, 0, 0), 1806195600);
    CHECK_EQ(utc(2038, 1, 19, 3, 14, 8), 2147483648LL);
    CHECK_EQ(vv_weekday(0), 4);                                      /* Thursday */
    CHECK_EQ(vv_weekday(vv_days_from_civil(2027, 3, 28)), 0);        /* Sunday */
    CHECK_EQ(vv_weekday(vv_days_from_civil(2028, 2, 29)), 2);        /* Tuesday */
    CHECK_EQ(vv_weekday(vv_days_from_civil(1969, 12, 31)), 3);       /* Wednesday */
    CHECK_EQ(vv_weekday(vv_days_from_civil(-1000, 1, 1)), 3);
    /* fields out of range carry over */
    CHECK_EQ(vv_days_from_civil(2027, 13, 1), vv_days_from_civil(2028, 1, 1));
    CHECK_EQ(vv_days_from_civil(2027, 0, 1), vv_days_from_civil(2026, 12, 1));
    CHECK_EQ(vv_days_from_civil(2027, -11, 1), vv_days_from_civil(2026, 1, 1));
    CHECK_EQ(vv_days_from_civil(2027, 1, 32), vv_days_from_civil(2027, 2, 1));
    CHECK_EQ(vv_days_from_civil(2027, 3, 0), vv_days_from_civil(2027, 2, 28));
    CHECK_EQ(vv_days_from_civil(2028, 3, 0), vv_days_from_civil(2028, 2, 29));
    c = (struct vv_civil){2027, 12, 31, 24, 0, 0, 0};
    CHECK_EQ(vv_civil_to_seconds(&c), utc(2028, 1, 1, 0, 0, 0));
    c = (struct vv_civil){2027, 1, 1, 0, 0, -1, 0};
    CHECK_EQ(vv_civil_to_seconds(&c), utc(2026, 12, 31, 23, 59, 59));
    c = (struct vv_civil){2027, 1, 1, 0, 90, 0, 0};
    CHECK_EQ(vv_civil_to_seconds(&c), utc(2027, 1, 1, 1, 30, 0));
    vv_civil_from_seconds(-1, &c);
    CHECK(c.year == 1969 && c.month == 12 && c.day == 31 && c.hour == 23 && c.minute == 59 &&
          c.second == 59 && c.wday == 3);
    vv_civil_from_seconds(utc(2028, 2, 29, 12, 34, 56), &c);
    CHECK(c.year == 2028 && c.month == 2 && c.day == 29 && c.hour == 12 && c.minute == 34 &&
          c.second == 56 && c.wday == 2);
    /* extremes do not overflow */
    vv_civil_from_days(INT64_MAX, &c);
    CHECK(c.year > 100000000);
    vv_civil_from_days(INT64_MIN, &c);
    CHECK(c.year < -100000000);
    vv_civil_from_seconds(INT64_MIN, &c);
    vv_civil_from_seconds(INT64_MAX, &c);
    CHECK(vv_days_from_civil(INT64_MAX, INT64_MAX, INT64_MAX) > 0);
    CHECK(vv_days_from_civil(INT64_MIN, INT64_MIN, INT64_MIN) < 0);
    c = (struct vv_civil){INT32_MAX, INT32_MAX, INT32_MAX, INT32_MAX, INT32_MAX, INT32_MAX, 0};
    CHECK(vv_civil_to_seconds(&c) > 0);
}

/* Random and extreme arguments: no overflow (the SAN build checks), sane results. */
TEST(calendar_any_input)
{
    static const int64_t edges[] = {INT64_MIN, INT64_MIN + 1, -((int64_t)1 << 40), -1, 0, 1,
                                    (int64_t)1 << 40, INT64_MAX - 1, INT64_MAX};
    vv_test_seed(42);
    for (int i = 0; i < 200000; i++) {
        int64_t a = i < 729 ? edges[i % 9] : (int64_t)vv_test_rand(),
                b = i < 729 ? edges[i / 9 % 9]
                            : (int64_t)vv_test_rand() >> (vv_test_rand() % 64),
                d = i < 729 ? edges[i / 81] : (int64_t)vv_test_rand() >> (vv_test_rand() % 64);
        struct vv_civil c, e;
        int64_t days = vv_days_from_civil(a, b, d);
        vv_civil_from_days(days, &c);
        vv_civil_from_days(a, &e);
        if (c.month < 1 || c.month > 12 || c.day < 1 ||
            c.day > vv_days_in_month(c.year, c.month) || c.wday < 0 || c.wday > 6 ||
            (a >= -((int64_t)1 << 36) && a <= (int64_t)1 << 36 && vv_weekday(a) != e.wday)) {
            vv_test_fail(__FILE__, __LINE__, "%lld %lld %lld", (long long)a, (long long)b,
                         (long long)d);
            break;
        }
        vv_civil_from_seconds(a, &c);
        CHECK(c.hour >= 0 && c.hour < 24 && c.minute >= 0 && c.second >= 0);
        c = (struct vv_civil){(int)a, (int)b, (int)d, (int)(a >> 32), (int)(b >> 32),
                              (int)(d >> 32), 0};
        (void)vv_civil_to_seconds(&c);
        (void)vv_tz_resolve(NULL, &c);
        e = c;
        vv_civil_add_days(&e, a);
        e = c;
        vv_civil_add_months(&e, b);
        CHECK(e.day >= 1 && e.day <= vv_days_in_month(e.year, e.month));
        e = c;
        vv_civil_add_years(&e, d);
        CHECK(e.year >= -1000000 && e.year <= 1000000);
    }
}

/* Every day of 1000 BC .. 3000 AD, against a date moved on one day at a time. */
TEST(calendar_every_day)
{
    int y = -1000, m = 1, d = 1, wday = vv_weekday(vv_days_from_civil(-1000, 1, 1)), bad = 0;
    int64_t first = vv_days_from_civil(-1000, 1, 1);
    for (int64_t n = first; y <= 3000 && bad < 5; n++) {
        struct vv_civil c;
        vv_civil_from_days(n, &c);
        if (c.year != y || c.month != m || c.day != d || c.wday != wday ||
            vv_days_from_civil(y, m, d) != n) {
            vv_test_fail(__FILE__, __LINE__, "day %lld: got %d-%d-%d wday %d, want %d-%d-%d %d",
                         (long long)n, c.year, c.month, c.day, c.wday, y, m, d, wday);
            bad++;
        }
        wday = (wday + 1) % 7;
        if (++d > vv_days_in_month(y, m)) {
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
        }
    }
}

TEST(leap_years_and_month_lengths)
{
    CHECK(vv_is_leap_year(2000));
    CHECK(vv_is_leap_year(2028));
    CHECK(vv_is_leap_year(2400));
    CHECK(vv_is_leap_year(0));
    CHECK(vv_is_leap_year(-4));
    CHECK(!vv_is_leap_year(1900));
    CHECK(!vv_is_leap_year(2100));
    CHECK(!vv_is_leap_year(2027));
    CHECK(!vv_is_leap_year(-100));
    CHECK_EQ(vv_days_in_month(2027, 2), 28);
    CHECK_EQ(vv_days_in_month(2028, 2), 29);
    CHECK_EQ(vv_days_in_month(2100, 2), 28);
    CHECK_EQ(vv_days_in_month(2000, 2), 29);
    CHECK_EQ(vv_days_in_month(2027, 1), 31);
    CHECK_EQ(vv_days_in_month(2027, 4), 30);
    CHECK_EQ(vv_days_in_month(2027, 12), 31);
    CHECK_EQ(vv_days_in_month(2027, 0), 0);
    CHECK_EQ(vv_days_in_month(2027, 13), 0);
}

struct add_case {
    int y, m, d;
    char unit; /* 'd', 'm', 'y' */
    int64_t n;
    int ey, em, ed;
};

TEST(calendar_arithmetic)
{
    static const struct add_case cases[] = {
        {2027, 1, 31, 'm', 1, 2027, 2, 28},   {2028, 1, 31, 'm', 1, 2028, 2, 29},
        {2028, 1, 31, 'm', 2, 2028, 3, 31},   {2027, 3, 31, 'm', -1, 2027, 2, 28},
        {2027, 3, 31, 'm', 1, 2027, 4, 30},   {2027, 12, 31, 'm', 1, 2028, 1, 31},
        {2027, 1, 15, 'm', -13, 2025, 12, 15}, {2027, 8, 31, 'm', 6, 2028, 2, 29},
        {2027, 5, 31, 'm', 1188, 2126, 5, 31}, {2028, 2, 29, 'y', 1, 2029, 2, 28},
        {2028, 2, 29, 'y', 4, 2032, 2, 29},   {2028, 2, 29, 'y', -4, 2024, 2, 29},
        {2028, 2, 29, 'y', 72, 2100, 2, 28},  {2027, 6, 30, 'y', 99, 2126, 6, 30},
        {2027, 1, 31, 'd', 1, 2027, 2, 1},    {2028, 2, 28, 'd', 1, 2028, 2, 29},
        {2027, 2, 28, 'd', 1, 2027, 3, 1},    {2027, 12, 31, 'd', 1, 2028, 1, 1},
        {2027, 3, 1, 'd', -1, 2027, 2, 28},   {2027, 1, 1, 'd', 9999, 2054, 5, 18},
        {2027, 1, 1, 'd', 5163 * 7, 2125, 12, 14},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const struct add_case *k = &cases[i];
        struct vv_civil c = {k->y, k->m, k->d, 2, 30, 0, 0};
        if (k->unit == 'd')
            vv_civil_add_days(&c, k->n);
        else if (k->unit == 'm')
            vv_civil_add_months(&c, k->n);
        else
            vv_civil_add_years(&c, k->n);
        if (c.year != k->ey || c.month != k->em || c.day != k->ed || c.hour != 2 ||
            c.minute != 30 || c.wday != vv_weekday(vv_days_from_civil(k->ey, k->em, k->ed)))
            vv_test_fail(__FILE__, __LINE__, "%d-%02d-%02d %c%+lld: got %d-%02d-%02d", k->y,
                         k->m, k->d, k->unit, (long long)k->n, c.year, c.month, c.day);
    }
    /* an unnormalized date is normalized first: Feb 30 is Mar 2 */
    {
        struct vv_civil c = {2027, 2, 30, 0, 0, 0, 0};
        vv_civil_add_months(&c, 1);
        CHECK(c.year == 2027 && c.month == 4 && c.day == 2);
    }
    /* huge steps stay within +-1,000,000 years */
    {
        struct vv_civil c = {2027, 1, 1, 0, 0, 0, 0};
        vv_civil_add_years(&c, INT64_MAX);
        CHECK_EQ(c.year, 1000000);
        vv_civil_add_months(&c, INT64_MIN);
        CHECK_EQ(c.year, -1000000);
        vv_civil_add_days(&c, INT64_MAX);
        CHECK(c.year == 1000000 && c.month == 12 && c.day == 31);
    }
    {
        struct vv_civil ok = {2028, 2, 29, 23, 59, 59, 0}, bad = ok;
        CHECK(vv_civil_valid(&ok));
        bad.year = 2027;
        CHECK(!vv_civil_valid(&bad));
        bad = ok;
        bad.hour = 24;
        CHECK(!vv_civil_valid(&bad));
        bad = ok;
        bad.month = 0;
        CHECK(!vv_civil_valid(&bad));
        bad = ok;
        bad.second = 60;
        CHECK(!vv_civil_valid(&bad));
    }
}

/* ---- the zones against the C library ---- */

static void libc_zone(const char *tzspec)
{
    setenv("TZ", tzspec, 1);
    tzset();
}

/* Compares one instant; returns 1 when it differs (and reports the first few). */
static int compare_libc(const struct vv_tz *tz, const char *what, int64_t t, int *reported)
{
    struct tm tm;
    struct vv_civil c;
    struct vv_tz_info info;
    time_t tt = (time_t)t;

    if (!localtime_r(&tt, &tm))
        return 0;
    vv_tz_to_local(tz, t, &c);
    vv_tz_lookup(tz, t, &info);
    if (c.year == tm.tm_year + 1900 && c.month == tm.tm_mon + 1 && c.day == tm.tm_mday &&
        c.hour == tm.tm_hour && c.minute == tm.tm_min && c.second == tm.tm_sec &&
        c.wday == tm.tm_wday && info.utoff == tm.tm_gmtoff && info.isdst == tm.tm_isdst &&
        !strcmp(info.abbr, tm.tm_zone) && vv_tz_offset(tz, t) == tm.tm_gmtoff)
        return 0;
    if ((*reported)++ < 5)
        vv_test_fail(__FILE__, __LINE__,
                     "%s at %lld: got %d-%02d-%02d %02d:%02d:%02d %+d %s dst=%d, libc "
                     "%d-%02d-%02d %02d:%02d:%02d %+ld %s dst=%d",
                     what, (long long)t, c.year, c.month, c.day, c.hour, c.minute, c.second,
                     info.utoff, info.abbr, info.isdst, tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_gmtoff, tm.tm_zone,
                     tm.tm_isdst);
    return 1;
}

TEST(zones_match_libc)
{
    if (!have_zoneinfo())
        return;
    for (size_t z = 0; z < ARRAY_LEN(zones); z++) {
        struct vv_tz *tz = load(zones[z]);
        int reported = 0;
        size_t checked = 0, ntrans = 0;
        int64_t t, lo = utc(1850, 1, 1, 0, 0, 0), hi = utc(2400, 1, 1, 0, 0, 0);
        if (!tz)
            continue;
        CHECK(!strcmp(vv_tz_name(tz), zones[z]));
        libc_zone(zones[z]);
        /* every transition, and the seconds around it */
        for (t = vv_tz_next_transition(tz, lo); t <= hi; t = vv_tz_next_transition(tz, t)) {
            for (int64_t d = -1; d <= 1; d++)
                compare_libc(tz, zones[z], t + d, &reported);
            ntrans++;
        }
        /* samples every 3 days and a bit, 1850-2400 */
        for (t = lo; t < hi; t += 3 * 86400 + 3607, checked++)
            compare_libc(tz, zones[z], t, &reported);
        /* 2080, hour by hour: far past the table of a fat file (2037) */
        for (t = utc(2080, 1, 1, 0, 0, 0); t < utc(2081, 1, 1, 0, 0, 0); t += 3600, checked++)
            compare_libc(tz, zones[z], t, &reported);
        CHECK(checked > 60000);
        if (strcmp(zones[z], "UTC") && strcmp(zones[z], "Asia/Kolkata"))
            CHECK(ntrans > 10);
        vv_tz_free(tz);
    }
    unsetenv("TZ");
    tzset();
}

/* ---- resolve ---- */

struct resolve_case {
    const char *zone;
    int y, mo, d, h, mi;
    int64_t want; /* UTC */
    const char *why;
};

TEST(resolve_hand_computed)
{
    const struct resolve_case cases[] = {
        {"Europe/Berlin", 2027, 3, 28, 1, 59, utc(2027, 3, 28, 0, 59, 0), "before the gap"},
        {"Europe/Berlin", 2027, 3, 28, 2, 0, utc(2027, 3, 28, 1, 0, 0), "gap: its end"},
        {"Europe/Berlin", 2027, 3, 28, 2, 30, utc(2027, 3, 28, 1, 0, 0), "gap: its end"},
        {"Europe/Berlin", 2027, 3, 28, 3, 0, utc(2027, 3, 28, 1, 0, 0), "first after the gap"},
        {"Europe/Berlin", 2027, 10, 31, 1, 59, utc(2027, 10, 30, 23, 59, 0), "before"},
        {"Europe/Berlin", 2027, 10, 31, 2, 0, utc(2027, 10, 31, 0, 0, 0), "twice: CEST"},
        {"Europe/Berlin", 2027, 10, 31, 2, 30, utc(2027, 10, 31, 0, 30, 0), "twice: CEST"},
        {"Europe/Berlin", 2027, 10, 31, 3, 0, utc(2027, 10, 31, 2, 0, 0), "once, CET"},
        {"America/New_York", 2027, 3, 14, 2, 30, utc(2027, 3, 14, 7, 0, 0), "gap"},
        {"America/New_York", 2027, 3, 14, 3, 0, utc(2027, 3, 14, 7, 0, 0), "after the gap"},
        {"America/New_York", 2027, 11, 7, 1, 30, utc(2027, 11, 7, 5, 30, 0), "twice: EDT"},
        {"America/New_York", 2027, 11, 7, 2, 0, utc(2027, 11, 7, 7, 0, 0), "once, EST"},
        {"Australia/Lord_Howe", 2027, 10, 3, 1, 59, utc(2027, 10, 2, 15, 29, 0), "+10:30"},
        {"Australia/Lord_Howe", 2027, 10, 3, 2, 15, utc(2027, 10, 2, 15, 30, 0), "30-min gap"},
        {"Australia/Lord_Howe", 2027, 10, 3, 2, 30, utc(2027, 10, 2, 15, 30, 0), "+11"},
        {"Australia/Lord_Howe", 2027, 4, 4, 1, 29, utc(2027, 4, 3, 14, 29, 0), "+11"},
        {"Australia/Lord_Howe", 2027, 4, 4, 1, 45, utc(2027, 4, 3, 14, 45, 0), "twice: +11"},
        {"Australia/Lord_Howe", 2027, 4, 4, 2, 0, utc(2027, 4, 3, 15, 30, 0), "once, +10:30"},
        {"Pacific/Apia", 2011, 12, 29, 23, 59, utc(2011, 12, 30, 9, 59, 0), "-10"},
        {"Pacific/Apia", 2011, 12, 30, 0, 0, utc(2011, 12, 30, 10, 0, 0), "skipped day"},
        {"Pacific/Apia", 2011, 12, 30, 12, 0, utc(2011, 12, 30, 10, 0, 0), "skipped day"},
        {"Pacific/Apia", 2011, 12, 31, 0, 0, utc(2011, 12, 30, 10, 0, 0), "+14"},
        {"America/Sao_Paulo", 2018, 11, 4, 0, 0, utc(2018, 11, 4, 3, 0, 0), "midnight gap"},
        {"America/Sao_Paulo", 2018, 11, 4, 0, 30, utc(2018, 11, 4, 3, 0, 0), "midnight gap"},
        {"America/Sao_Paulo", 2018, 11, 4, 1, 0, utc(2018, 11, 4, 3, 0, 0), "after it"},
        {"America/Sao_Paulo", 2019, 2, 16, 23, 30, utc(2019, 2, 17, 1, 30, 0), "twice: -02"},
        {"America/Sao_Paulo", 2027, 11, 7, 0, 30, utc(2027, 11, 7, 3, 30, 0), "no DST now"},
        {"Asia/Kolkata", 2027, 6, 1, 12, 0, utc(2027, 6, 1, 6, 30, 0), "+05:30"},
        {"UTC", 2027, 3, 28, 2, 30, utc(2027, 3, 28, 2, 30, 0), "UTC"},
        {"Europe/Berlin", 2080, 3, 31, 2, 30, utc(2080, 3, 31, 1, 0, 0), "2080 gap"},
        {"Europe/Berlin", 2080, 10, 27, 2, 30, utc(2080, 10, 27, 0, 30, 0), "2080 twice"},
        {"America/New_York", 2080, 3, 10, 2, 30, utc(2080, 3, 10, 7, 0, 0), "2080 gap"},
        {"America/New_York", 2080, 11, 3, 1, 30, utc(2080, 11, 3, 5, 30, 0), "2080 twice"},
    };
    if (!have_zoneinfo())
        return;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const struct resolve_case *k = &cases[i];
        struct vv_tz *tz = load(k->zone);
        struct vv_civil c = {k->y, k->mo, k->d, k->h, k->mi, 0, 0};
        int64_t got;
        if (!tz)
            continue;
        got = vv_tz_resolve(tz, &c);
        if (got != k->want)
            vv_test_fail(__FILE__, __LINE__,
                         "%s %d-%02d-%02d %02d:%02d (%s): got %lld, want %lld", k->zone, k->y,
                         k->mo, k->d, k->h, k->mi, k->why, (long long)got, (long long)k->want);
        vv_tz_free(tz);
    }
    /* NULL is UTC */
    {
        struct vv_civil c = {2027, 3, 28, 2, 30, 0, 0};
        CHECK_EQ(vv_tz_resolve(NULL, &c), utc(2027, 3, 28, 2, 30, 0));
        CHECK_EQ(vv_tz_offset(NULL, 0), 0);
        CHECK(!strcmp(vv_tz_name(NULL), "UTC"));
        CHECK_EQ(vv_tz_next_transition(NULL, 0), INT64_MAX);
    }
}

/* The rule, computed with localtime_r alone: the first instant showing l, else the
 * first instant after l's gap. Assumes at most one transition in any 13 hours. */
static int64_t libc_resolve(int64_t l)
{
    int64_t best = INT64_MAX, lo, hi;
    for (int k = -2; k <= 2; k++) {
        time_t s = (time_t)(l + k * 46800);
        struct tm tm;
        time_t t;
        localtime_r(&s, &tm);
        t = (time_t)(l - tm.tm_gmtoff);
        localtime_r(&t, &tm);
        if (l - tm.tm_gmtoff == t && t < best)
            best = t;
    }
    if (best != INT64_MAX)
        return best;
    /* a gap: the wall clock passes l between lo and hi */
    lo = l - 93600;
    hi = l + 93600;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        time_t m = (time_t)mid;
        struct tm tm;
        localtime_r(&m, &tm);
        if (mid + tm.tm_gmtoff > l)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

TEST(resolve_matches_libc_reference)
{
    if (!have_zoneinfo())
        return;
    for (size_t z = 0; z < ARRAY_LEN(zones); z++) {
        struct vv_tz *tz = load(zones[z]);
        int reported = 0;
        size_t n = 0;
        if (!tz)
            continue;
        libc_zone(zones[z]);
        for (int64_t t = vv_tz_next_transition(tz, utc(1970, 1, 1, 0, 0, 0));
             t < utc(2040, 1, 1, 0, 0, 0); t = vv_tz_next_transition(tz, t)) {
            /* every 15 minutes of local time from a day before to a day after */
            int64_t l0 = t + vv_tz_offset(tz, t) - 86400;
            for (int64_t l = l0; l <= l0 + 2 * 86400; l += 900, n++) {
                struct vv_civil c;
                int64_t got, want;
                vv_civil_from_seconds(l, &c);
                got = vv_tz_resolve(tz, &c);
                want = libc_resolve(l);
                if (got != want && reported++ < 5)
                    vv_test_fail(__FILE__, __LINE__,
                                 "%s: local %d-%02d-%02d %02d:%02d: got %lld, want %lld",
                                 zones[z], c.year, c.month, c.day, c.hour, c.minute,
                                 (long long)got, (long long)want);
            }
        }
        /* and every instant's own local time resolves to it or an earlier twin */
        for (int64_t t = utc(2026, 1, 1, 0, 0, 0); t < utc(2029, 1, 1, 0, 0, 0);
             t += 1800 + 17, n++) {
            struct vv_civil c, back;
            int64_t r;
            vv_tz_to_local(tz, t, &c);
            r = vv_tz_resolve(tz, &c);
            vv_tz_to_local(tz, r, &back);
            if ((r > t || r < t - 7200 ||
                 vv_civil_to_seconds(&back) != vv_civil_to_seconds(&c)) &&
                reported++ < 5)
                vv_test_fail(__FILE__, __LINE__, "%s: %lld gives %lld", zones[z],
                             (long long)t, (long long)r);
        }
        if (strcmp(zones[z], "UTC") && strcmp(zones[z], "Asia/Kolkata"))
            CHECK(n > 5000);
        vv_tz_free(tz);
    }
    unsetenv("TZ");
    tzset();
}

/* ---- TZif files built here ---- */

struct ttype {
    int32_t utoff;
    uint8_t isdst;
    const char *abbr;
};

struct tzif_spec {
    char version;       /* 0, '2', '3', '4' */
    size_t ntrans;
    const int64_t *trans;
    const uint8_t *idx;
    size_t ntypes;
    const struct ttype *types;
    const char *footer; /* v2+: without the newlines */
};

struct bytes {
    uint8_t b[8192];
    size_t n;
};

static void put8(struct bytes *o, uint8_t v)
{
    if (o->n < sizeof(o->b))
        o->b[o->n++] = v;
}
static void put32(struct bytes *o, uint32_t v)
{
    for (int i = 3; i >= 0; i--)
        put8(o, (uint8_t)(v >> (8 * i)));
}
static void put64(struct bytes *o, uint64_t v)
{
    put32(o, (uint32_t)(v >> 32));
    put32(o, (uint32_t)v);
}

/* One header and data block; wide: 64-bit times. */
static void put_block(struct bytes *o, const struct tzif_spec *s, int wide)
{
    char chars[256];
    size_t nchars = 0, at[16];
    for (size_t i = 0; i < s->ntypes; i++) {
        size_t len = strlen(s->types[i].abbr) + 1;
        at[i] = nchars;
        memcpy(chars + nchars, s->types[i].abbr, len);
        nchars += len;
    }
    memcpy(o->b + o->n, "TZif", 4);
    o->n += 4;
    put8(o, (uint8_t)s->version);
    for (int i = 0; i < 15; i++)
        put8(o, 0);
    put32(o, (uint32_t)s->ntypes); /* isutcnt */
    put32(o, (uint32_t)s->ntypes); /* isstdcnt */
    put32(o, 0);                   /* leapcnt */
    put32(o, (uint32_t)s->ntrans);
    put32(o, (uint32_t)s->ntypes);
    put32(o, (uint32_t)nchars);
    for (size_t i = 0; i < s->ntrans; i++) {
        if (wide)
            put64(o, (uint64_t)s->trans[i]);
        else
            put32(o, (uint32_t)(int32_t)s->trans[i]);
    }
    for (size_t i = 0; i < s->ntrans; i++)
        put8(o, s->idx[i]);
    for (size_t i = 0; i < s->ntypes; i++) {
        put32(o, (uint32_t)s->types[i].utoff);
        put8(o, s->types[i].isdst);
        put8(o, (uint8_t)at[i]);
    }
    for (size_t i = 0; i < nchars; i++)
        put8(o, (uint8_t)chars[i]);
    for (size_t i = 0; i < 2 * s->ntypes; i++)
        put8(o, 0); /* isstd, isut */
}

static void build(const struct tzif_spec *s, struct bytes *o)
{
    o->n = 0;
    put_block(o, s, 0);
    if (s->version) {
        put_block(o, s, 1);
        put8(o, '\n');
        for (const char *c = s->footer ? s->footer : ""; *c; c++)
            put8(o, (uint8_t)*c);
        put8(o, '\n');
    }
}

/* A v3 file with no transitions: the footer rules every instant. */
static struct vv_tz *footer_zone(const char *footer, int32_t std_utoff)
{
    struct ttype t = {std_utoff, 0, "STD"};
    struct tzif_spec s = {'3', 0, NULL, NULL, 1, &t, footer};
    struct bytes b;
    struct vv_tz *tz = NULL;
    int r;
    build(&s, &b);
    r = vv_tz_parse(footer, b.b, b.n, &tz);
    if (r != 0)
        vv_test_fail(__FILE__, __LINE__, "footer '%s' refused: %s", footer, vv_test_errname(r));
    return tz;
}

struct footer_case {
    const char *footer;
    int32_t std;  /* seconds east */
    int libc;     /* 1: compare with glibc given the string as TZ */
    /* hand-computed: instant, offset expected */
    int64_t t[4];
    int32_t off[4];
};

/* One footer case: its hand-computed offsets, and with k->libc glibc's (given the
 * footer as TZ) on daily samples from 1990 to 2110 and on both sides of every
 * transition from 2020 to 2060. */
static void check_footer_case(const struct footer_case *k)
{
    struct vv_tz *tz = footer_zone(k->footer, k->std);
    int reported = 0;
    if (!tz)
        return;
    for (int j = 0; j < 4; j++) {
        int got = vv_tz_offset(tz, k->t[j]);
        if (got != k->off[j])
            vv_test_fail(__FILE__, __LINE__, "'%s' at %lld: offset %d, want %d", k->footer,
                         (long long)k->t[j], got, k->off[j]);
    }
    if (k->libc) {
        libc_zone(k->footer);
        for (int64_t t = utc(1990, 1, 1, 0, 0, 0); t < utc(2110, 1, 1, 0, 0, 0);
             t += 86400 + 1801)
            compare_libc(tz, k->footer, t, &reported);
        for (int64_t t = vv_tz_next_transition(tz, utc(2020, 1, 1, 0, 0, 0));
             t < utc(2060, 1, 1, 0, 0, 0); t = vv_tz_next_transition(tz, t))
            for (int64_t d = -1; d <= 0; d++)
                compare_libc(tz, k->footer, t + d, &reported);
    }
    vv_tz_free(tz);
}

TEST(posix_footers)
{
    const struct footer_case cases[] = {
        {"CET-1CEST,M3.5.0,M10.5.0/3",
         3600,
         1,
         {utc(2027, 3, 28, 0, 59, 59), utc(2027, 3, 28, 1, 0, 0), utc(2027, 10, 31, 0, 59, 59),
          utc(2027, 10, 31, 1, 0, 0)},
         {3600, 7200, 7200, 3600}},
        {"EST5EDT,M3.2.0,M11.1.0",
         -18000,
         1,
         {utc(2027, 3, 14, 6, 59, 59), utc(2027, 3, 14, 7, 0, 0), utc(2027, 11, 7, 5, 59, 59),
          utc(2027, 11, 7, 6, 0, 0)},
         {-18000, -14400, -14400, -18000}},
        /* Lord Howe: +10:30, +11 from the first Sunday of October 02:00 to the first
         * Sunday of April 02:00 (southern: DST spans the new year) */
        {"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
         37800,
         1,
         {utc(2027, 10, 2, 15, 29, 59), utc(2027, 10, 2, 15, 30, 0),
          utc(2028, 4, 1, 14, 59, 59), utc(2028, 4, 1, 15, 0, 0)},
         {37800, 39600, 39600, 37800}},
        /* Jn: day 60 is March 1 even in a leap year; n: day 59 is March 1 only in
         * common years (Feb 29 in leap years) */
        {"XXX3YYY,J60/2,J300/2",
         -10800,
         1,
         {utc(2028, 3, 1, 4, 59, 59), utc(2028, 3, 1, 5, 0, 0), utc(2027, 3, 1, 5, 0, 0),
          utc(2027, 10, 27, 4, 0, 0)},
         {-10800, -7200, -7200, -10800}},
        {"XXX3YYY,59/2,299/2",
         -10800,
         1,
         {utc(2028, 2, 29, 4, 59, 59), utc(2028, 2, 29, 5, 0, 0), utc(2027, 3, 1, 5, 0, 0),
          utc(2027, 10, 27, 4, 0, 0)},
         {-10800, -7200, -7200, -10800}},
        /* v3: negative hour (America/Nuuk 2023+): March's last Sunday at -1:00 is
         * Saturday 23:00 local */
        {"<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
         -7200,
         1,
         {utc(2027, 3, 28, 0, 59, 59), utc(2027, 3, 28, 1, 0, 0), utc(2027, 10, 31, 0, 59, 59),
          utc(2027, 10, 31, 1, 0, 0)},
         {-7200, -3600, -3600, -7200}},
        /* v3: hour 26 (Asia/Jerusalem): the Thursday before the last Friday in March,
         * 26:00 = Friday 02:00 */
        {"IST-2IDT,M3.4.4/26,M10.5.0",
         7200,
         1,
         {utc(2027, 3, 25, 23, 59, 59), utc(2027, 3, 26, 0, 0, 0),
          utc(2027, 10, 30, 22, 59, 59), utc(2027, 10, 30, 23, 0, 0)},
         {7200, 10800, 10800, 7200}},
        /* v3: DST all year (glibc computes the changes of the UTC year only and shows
         * EST for an hour around each new year: not compared with it) */
        {"EST5EDT4,0/0,J365/25",
         -18000,
         0,
         {utc(2027, 1, 1, 5, 0, 0), utc(2027, 6, 1, 0, 0, 0), utc(2027, 12, 31, 23, 0, 0),
          utc(2028, 1, 1, 4, 59, 59)},
         {-14400, -14400, -14400, -14400}},
        /* week 5 is the last: May 2027 has 5 Mondays (31st), June 2027 4 (28th) */
        {"AAA0BBB,M5.5.1/0,M6.5.1/0",
         0,
         1,
         {utc(2027, 5, 30, 23, 59, 59), utc(2027, 5, 31, 0, 0, 0), utc(2027, 6, 27, 22, 59, 59),
          utc(2027, 6, 27, 23, 0, 0)},
         {0, 3600, 3600, 0}},
        {"UTC0",
         0,
         1,
         {0, utc(2027, 7, 1, 0, 0, 0), utc(2080, 7, 1, 0, 0, 0), -1},
         {0, 0, 0, 0}},
        {"<+05>-5",
         18000,
         1,
         {0, utc(2027, 7, 1, 0, 0, 0), utc(2080, 7, 1, 0, 0, 0), -1},
         {18000, 18000, 18000, 18000}},
        {"<-03>3",
         -10800,
         1,
         {0, utc(2027, 7, 1, 0, 0, 0), utc(2080, 7, 1, 0, 0, 0), -1},
         {-10800, -10800, -10800, -10800}},
        {"<+0545>-5:45", 20700, 1, {0, 1, 2, 3}, {20700, 20700, 20700, 20700}},
        /* the largest offsets; DST from the first Sunday of January, which in 1995
         * began in UTC's 1994 (glibc, looking at UTC's year only, disagrees there) */
        {"AAA-24:59:59BBB,M1.1.0,M12.5.0",
         89999,
         0,
         {0, 1, 2, 3},
         {89999, 89999, 89999, 89999}},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        check_footer_case(&cases[i]);
    unsetenv("TZ");
    tzset();
}

/* Abbreviations and the DST flag come from the footer. */
TEST(posix_footer_abbreviations)
{
    struct vv_tz *tz = footer_zone("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", 37800);
    struct vv_tz_info info;
    vv_tz_lookup(tz, utc(2027, 12, 1, 0, 0, 0), &info);
    CHECK(info.utoff == 39600 && info.isdst == 1 && !strcmp(info.abbr, "+11"));
    vv_tz_lookup(tz, utc(2027, 6, 1, 0, 0, 0), &info);
    CHECK(info.utoff == 37800 && info.isdst == 0 && !strcmp(info.abbr, "+1030"));
    vv_tz_free(tz);
}

/* The footer continues a table: a v2 file with two transitions then the rule. */
TEST(table_then_footer)
{
    const struct ttype types[] = {{3208, 0, "LMT"}, {3600, 0, "CET"}, {7200, 1, "CEST"}};
    const int64_t trans[] = {utc(1910, 4, 1, 0, 0, 0), utc(2000, 3, 26, 1, 0, 0)};
    const uint8_t idx[] = {1, 2};
    struct tzif_spec s = {'2', 2, trans, idx, 3, types, "CET-1CEST,M3.5.0,M10.5.0/3"};
    struct bytes b;
    struct vv_tz *tz = NULL;
    struct vv_tz_info info;

    build(&s, &b);
    CHECK_OK(vv_tz_parse("Test/Zone", b.b, b.n, &tz));
    if (!tz)
        return;
    CHECK(!strcmp(vv_tz_name(tz), "Test/Zone"));
    CHECK_EQ(vv_tz_offset(tz, utc(1800, 1, 1, 0, 0, 0)), 3208); /* type 0 before */
    CHECK_EQ(vv_tz_offset(tz, utc(1999, 7, 1, 0, 0, 0)), 3600); /* the table */
    CHECK_EQ(vv_tz_offset(tz, utc(2000, 3, 26, 0, 59, 59)), 3600);
    CHECK_EQ(vv_tz_offset(tz, utc(2000, 3, 26, 1, 0, 0)), 7200); /* the last transition */
    CHECK_EQ(vv_tz_offset(tz, utc(2000, 10, 29, 1, 0, 0)), 3600); /* the footer */
    CHECK_EQ(vv_tz_offset(tz, utc(2080, 7, 1, 0, 0, 0)), 7200);
    vv_tz_lookup(tz, utc(1800, 1, 1, 0, 0, 0), &info);
    CHECK(!strcmp(info.abbr, "LMT") && info.isdst == 0);
    CHECK_EQ(vv_tz_next_transition(tz, utc(1800, 1, 1, 0, 0, 0)), utc(1910, 4, 1, 0, 0, 0));
    CHECK_EQ(vv_tz_next_transition(tz, utc(1910, 4, 1, 0, 0, 0)), utc(2000, 3, 26, 1, 0, 0));
    CHECK_EQ(vv_tz_next_transition(tz, utc(2000, 3, 26, 1, 0, 0)), utc(2000, 10, 29, 1, 0, 0));
    CHECK_EQ(vv_tz_next_transition(tz, utc(2079, 12, 1, 0, 0, 0)), utc(2080, 3, 31, 1, 0, 0));
    vv_tz_free(tz);

    /* a v1 file (32-bit times): the last type holds after the table */
    s.version = 0;
    build(&s, &b);
    tz = NULL;
    CHECK_OK(vv_tz_parse(NULL, b.b, b.n, &tz));
    if (!tz)
        return;
    CHECK(!strcmp(vv_tz_name(tz), ""));
    CHECK_EQ(vv_tz_offset(tz, utc(2080, 1, 1, 0, 0, 0)), 7200);
    CHECK_EQ(vv_tz_next_transition(tz, utc(2000, 3, 26, 1, 0, 0)), INT64_MAX);
    vv_tz_free(tz);

    /* v2 with an empty footer: the same */
    s.version = '2';
    s.footer = "";
    build(&s, &b);
    tz = NULL;
    CHECK_OK(vv_tz_parse("x", b.b, b.n, &tz));
    if (tz)
        CHECK_EQ(vv_tz_offset(tz, utc(2080, 1, 1, 0, 0, 0)), 7200);
    vv_tz_free(tz);

    /* v4 is read as v3 */
    s.version = '4';
    s.footer = "CET-1CEST,M3.5.0,M10.5.0/3";
    build(&s, &b);
    tz = NULL;
    CHECK_OK(vv_tz_parse("x", b.b, b.n, &tz));
    if (tz)
        CHECK_EQ(vv_tz_offset(tz, utc(2080, 1, 1, 0, 0, 0)), 3600);
    vv_tz_free(tz);
}

/* ---- malformed files ---- */

static int parse_bytes(const uint8_t *data, size_t n)
{
    struct vv_tz *tz = (struct vv_tz *)&tz; /* a sentinel: must stay untouched */
    struct vv_tz *sentinel = tz;
    uint8_t *copy = malloc(n ? n : 1); /* exact size, so ASan sees overreads */
    int r;
    if (!copy)
        return VV_E_NOMEM;
    memcpy(copy, data, n);
    r = vv_tz_parse("t", copy, n, &tz);
    free(copy);
    if (r == 0)
        vv_tz_free(tz);
    else if (tz != sentinel)
        vv_test_fail(__FILE__, __LINE__, "output changed on failure");
    return r;
}

TEST(every_prefix_of_a_real_file_is_refused)
{
    static uint8_t data[1 << 16];
    FILE *f;
    size_t n;
    if (!have_zoneinfo())
        return;
    f = fopen(ZONEINFO "/Europe/Berlin", "rb");
    CHECK(f != NULL);
    if (!f)
        return;
    n = fread(data, 1, sizeof(data), f);
    fclose(f);
    CHECK(n > 1000 && n < sizeof(data));
    CHECK_OK(parse_bytes(data, n));
    for (size_t k = 0; k < n; k++)
        if (parse_bytes(data, k) != VV_E_INVAL) {
            vv_test_fail(__FILE__, __LINE__, "a prefix of %zu bytes was not refused", k);
            break;
        }
    /* one byte more at the end */
    data[n] = '\n';
    CHECK_EQ(parse_bytes(data, n + 1), VV_E_INVAL);
    /* every single byte flipped: refused or parsed, never a crash (ASan build) */
    for (size_t k = 0; k < n; k++) {
        data[k] ^= 0x41;
        (void)parse_bytes(data, n);
        data[k] ^= 0x41;
    }
}

struct broken {
    const char *what;
    size_t at;  /* byte offset in the built file */
    uint8_t value;
    int want;
};

TEST(malformed_fields)
{
    const struct ttype types[] = {{3600, 0, "CET"}, {7200, 1, "CEST"}};
    const int64_t trans[] = {utc(2000, 3, 26, 1, 0, 0), utc(2000, 10, 29, 1, 0, 0)};
    const uint8_t idx[] = {1, 0};
    struct tzif_spec s = {'2', 2, trans, idx, 2, types, "CET-1CEST,M3.5.0,M10.5.0/3"};
    struct bytes good, b;
    /* the v1 block: 44 + 2*4 + 2 + 2*6 + 9 + 2 + 2 = 79 bytes; the v2 header at 79 */
    const size_t v2 = 79, d2 = v2 + 44, idx2 = d2 + 16, types2 = idx2 + 2,
                 chars2 = types2 + 12, isstd2 = chars2 + 9, isut2 = isstd2 + 2;
    const struct broken cases[] = {
        {"magic", 0, 'X', VV_E_INVAL},
        {"version 5", 4, '5', VV_E_UNSUPPORTED},
        {"version x", 4, 'x', VV_E_INVAL},
        {"v2 magic", v2 + 1, 'X', VV_E_INVAL},
        {"v2 version differs", v2 + 4, '3', VV_E_INVAL},
        {"v1 counts beyond the file", 32, 0x7f, VV_E_INVAL},
        {"typecnt 0", v2 + 39, 0, VV_E_INVAL},
        {"charcnt 0", v2 + 43, 0, VV_E_INVAL},
        {"isstdcnt not typecnt", v2 + 27, 1, VV_E_INVAL},
        {"leap seconds", v2 + 31, 1, VV_E_INVAL}, /* the sizes no longer match */
        {"transitions out of order", d2, 0x7f, VV_E_INVAL},
        {"type index out of range", idx2, 2, VV_E_INVAL},
        {"offset out of range", types2, 0x7f, VV_E_INVAL},
        {"isdst 2", types2 + 4, 2, VV_E_INVAL},
        {"abbreviation index out of range", types2 + 5, 9, VV_E_INVAL},
        {"abbreviation without its NUL", chars2 + 8, 'T', VV_E_INVAL},
        {"isstd 2", isstd2, 2, VV_E_INVAL},
        {"isut without isstd", isut2, 1, VV_E_INVAL},
        {"footer without its newline", isut2 + 2, 'X', VV_E_INVAL},
    };
    build(&s, &good);
    CHECK_OK(parse_bytes(good.b, good.n));
    CHECK_EQ(good.b[v2], 'T');
    CHECK_EQ(good.b[chars2], 'C');
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        int r;
        b = good;
        b.b[cases[i].at] = cases[i].value;
        r = parse_bytes(b.b, b.n);
        if (r != cases[i].want)
            vv_test_fail(__FILE__, __LINE__, "%s: %s, want %s", cases[i].what,
                         vv_test_errname(r), vv_test_errname(cases[i].want));
    }
    /* isut and isstd both set is fine */
    b = good;
    b.b[isut2] = 1;
    b.b[isstd2] = 1;
    CHECK_OK(parse_bytes(b.b, b.n));

    /* a leap-second table, well formed: refused as unsupported */
    {
        struct bytes l;
        l.n = 0;
        memcpy(l.b, good.b, v2);
        l.n = v2;
        memcpy(l.b + l.n, good.b + v2, 44);
        l.b[l.n + 31] = 1; /* leapcnt 1 */
        l.n += 44;
        memcpy(l.b + l.n, good.b + d2, chars2 + 9 - d2); /* times, idx, types, chars */
        l.n += chars2 + 9 - d2;
        memset(l.b + l.n, 0, 12); /* one leap record: 64-bit time, 32-bit correction */
        l.b[l.n + 11] = 1;
        l.n += 12;
        memcpy(l.b + l.n, good.b + isstd2, good.n - isstd2); /* isstd, isut, footer */
        l.n += good.n - isstd2;
        CHECK_EQ(parse_bytes(l.b, l.n), VV_E_UNSUPPORTED);
    }

    /* footers */
    {
        static const char *const bad[] = {
            "EST5EDT",                    /* DST without rules */
            "CET",                        /* no offset */
            "CE-1",                       /* name of 2 letters */
            "<+1>-1",                     /* quoted name of 2 */
            "<+0530-5:30",                /* unclosed */
            "CET-25",                     /* offset hours > 24 */
            "CET-1:60",                   /* minutes > 59 */
            "CET-1CEST,M3.5.0",           /* one rule */
            "CET-1CEST,M13.5.0,M10.5.0",  /* month 13 */
            "CET-1CEST,M3.6.0,M10.5.0",   /* week 6 */
            "CET-1CEST,M3.5.7,M10.5.0",   /* weekday 7 */
            "CET-1CEST,M3.0.0,M10.5.0",   /* week 0 */
            "CET-1CEST,J0,J300",          /* J0 */
            "CET-1CEST,J366,J300",        /* J366 */
            "CET-1CEST,366,300",          /* n 366 */
            "CET-1CEST,M3.5.0/168,M10.5.0",/* 168 hours */
            "CET-1CEST,M3.5.0,M10.5.0/",  /* no time after / */
            "CET-1CEST,M3.5.0,M10.5.0x",  /* trailing */
            "CET-1CEST-25,M3.5.0,M10.5.0",/* DST offset */
            "CET-1 ",                     /* trailing space */
            "CET\t-1",                    /* control character */
            "123-1",                      /* digits as a name */
            "AAA-24:59:59BBB-25:59:59,M1.1.0,M12.5.0",
        };
        for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
            struct tzif_spec f = s;
            f.footer = bad[i];
            build(&f, &b);
            if (parse_bytes(b.b, b.n) != VV_E_INVAL)
                vv_test_fail(__FILE__, __LINE__, "footer '%s' accepted", bad[i]);
        }
    }
    /* a name longer than VV_TZ_NAME_MAX */
    {
        char name[VV_TZ_NAME_MAX + 2];
        struct vv_tz *tz = NULL;
        memset(name, 'a', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        CHECK_EQ(vv_tz_parse(name, good.b, good.n, &tz), VV_E_INVAL);
        name[VV_TZ_NAME_MAX] = '\0';
        CHECK_OK(vv_tz_parse(name, good.b, good.n, &tz));
        vv_tz_free(tz);
        CHECK_EQ(vv_tz_parse("x", NULL, 0, &tz), VV_E_INVAL);
        vv_tz_free(NULL);
    }
}

/* ---- load and format ---- */

TEST(load_outcomes)
{
    const char *dir = vv_test_tmpdir();
    char path[4400];
    struct vv_tz *tz = NULL;
    FILE *f;

    if (have_zoneinfo()) {
        CHECK_OK(vv_tz_load(ZONEINFO, "Europe/Berlin", &tz));
        CHECK(tz && !strcmp(vv_tz_name(tz), "Europe/Berlin"));
        vv_tz_free(tz);
        tz = NULL;
        CHECK_EQ(vv_tz_load(ZONEINFO, "Europe/Atlantis", &tz), VV_E_NOTFOUND);
        CHECK_EQ(vv_tz_load(ZONEINFO, "Europe", &tz), VV_E_NOTFOUND);
        CHECK_EQ(vv_tz_load(ZONEINFO, "../../etc/passwd", &tz), VV_E_INVAL);
        CHECK_EQ(vv_tz_load(ZONEINFO, "/etc/passwd", &tz), VV_E_INVAL);
        CHECK_EQ(vv_tz_load(ZONEINFO, NULL, &tz), VV_E_INVAL);
        CHECK_EQ(vv_tz_load(NULL, "UTC", &tz), VV_E_INVAL);
        CHECK(tz == NULL);
    }
    snprintf(path, sizeof(path), "%s/Fifo", dir);
    CHECK_EQ(mkfifo(path, 0600), 0);
    CHECK_EQ(vv_tz_load(dir, "Fifo", &tz), VV_E_NOTFOUND); /* and does not block */
    snprintf(path, sizeof(path), "%s/Fake", dir);
    f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs("TZif2 but not really\n", f);
        fclose(f);
    }
    CHECK_EQ(vv_tz_load(dir, "Fake", &tz), VV_E_INVAL);
    snprintf(path, sizeof(path), "%s/Big", dir);
    f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK_EQ(fseek(f, VV_TZ_FILE_MAX, SEEK_SET), 0);
        fputc('x', f);
        fclose(f);
    }
    CHECK_EQ(vv_tz_load(dir, "Big", &tz), VV_E_TOOBIG);
    CHECK_EQ(vv_tz_load(dir, "Missing/Zone", &tz), VV_E_NOTFOUND);
    CHECK(tz == NULL);
}

struct format_case {
    const char *zone; /* NULL: UTC */
    int64_t t;
    const char *want;
};

TEST(format_iso8601)
{
    const struct format_case cases[] = {
        {"Europe/Berlin", utc(2027, 3, 28, 1, 0, 0), "2027-03-28T03:00:00+02:00"},
        {"Europe/Berlin", utc(2027, 3, 28, 0, 59, 59), "2027-03-28T01:59:59+01:00"},
        {"Europe/Berlin", utc(2080, 7, 1, 12, 0, 0), "2080-07-01T14:00:00+02:00"},
        {"Europe/Berlin", utc(1890, 1, 1, 0, 0, 0), "1890-01-01T00:53:28+00:53:28"},
        {"America/New_York", utc(2027, 11, 7, 5, 30, 0), "2027-11-07T01:30:00-04:00"},
        {"America/New_York", utc(2027, 11, 7, 6, 30, 0), "2027-11-07T01:30:00-05:00"},
        {"Asia/Kolkata", utc(2027, 1, 1, 0, 0, 0), "2027-01-01T05:30:00+05:30"},
        {"Australia/Lord_Howe", utc(2027, 6, 1, 0, 0, 0), "2027-06-01T10:30:00+10:30"},
        {"Pacific/Apia", utc(2011, 12, 30, 10, 0, 0), "2011-12-31T00:00:00+14:00"},
        {"UTC", 0, "1970-01-01T00:00:00+00:00"},
        {NULL, utc(2028, 2, 29, 23, 59, 59), "2028-02-29T23:59:59+00:00"},
        {NULL, utc(12000, 1, 1, 0, 0, 0), "+12000-01-01T00:00:00+00:00"},
        {NULL, utc(-1, 12, 31, 0, 0, 0), "-0001-12-31T00:00:00+00:00"},
    };
    char out[VV_TZ_TIME_MAX];
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct vv_tz *tz = NULL;
        if (cases[i].zone) {
            if (!have_zoneinfo())
                continue;
            tz = load(cases[i].zone);
            if (!tz)
                continue;
        }
        vv_tz_format(tz, cases[i].t, out);
        if (strcmp(out, cases[i].want) != 0)
            vv_test_fail(__FILE__, __LINE__, "got %s, want %s", out, cases[i].want);
        vv_tz_free(tz);
    }
    /* the clamp keeps every instant printable */
    vv_tz_format(NULL, INT64_MAX, out);
    CHECK(strlen(out) < VV_TZ_TIME_MAX && out[0] == '+');
    vv_tz_format(NULL, INT64_MIN, out);
    CHECK(strlen(out) < VV_TZ_TIME_MAX && out[0] == '-');
}
