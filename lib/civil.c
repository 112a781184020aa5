/*
 * civil.c: the proleptic Gregorian calendar, pure integer arithmetic (see civil.h).
 */
#include "civil.h"

#include <stdint.h>

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Division rounding toward minus infinity (b > 0). */
int64_t vv_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
    int64_t r = a % b;
    return r < 0 ? r + b : r;
}

/* The calendar is counted in years that start on March 1, so that February and its
 * leap day come last. DAYS_BEFORE[m] is the days of the shifted year before month m
 * (0 = March .. 11 = February). A 400-year cycle has 146097 days; 1970-01-01 is day
 * 719468 counted from 0000-03-01. */
static const int days_before[12] = {0, 31, 61, 92, 122, 153, 184, 214, 245, 275, 306, 337};
#define DAYS_PER_CYCLE 146097
#define EPOCH_FROM_0000_03_01 719468
#define YEAR_LIMIT 1000000 /* results of the add_* helpers stay within +-this */

int vv_is_leap_year(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int vv_days_in_month(int64_t year, int month)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12)
        return 0;
    return month == 2 && vv_is_leap_year(year) ? 29 : len[month - 1];
}

int64_t vv_days_from_civil(int64_t year, int64_t month, int64_t day)
{
    int64_t y, m, cycles, yoc, doc;

    /* bounds that keep the result below 2^43 days, so that seconds never overflow */
    year = clamp64(year, -((int64_t)1 << 32), (int64_t)1 << 32);
    month = clamp64(month, -((int64_t)1 << 36), (int64_t)1 << 36);
    day = clamp64(day, -((int64_t)1 << 40), (int64_t)1 << 40);
    y = year + vv_floor_div(month - 1, 12);
    m = floor_mod(month - 1, 12); /* 0 = January */
    /* to the March-based year: January and February belong to the year before */
    if (m < 2) {
        y -= 1;
        m += 10;
    } else {
        m -= 2;
    }
    cycles = vv_floor_div(y, 400);
    yoc = y - cycles * 400; /* 0..399 */
    doc = yoc * 365 + yoc / 4 - yoc / 100 + days_before[m] + day - 1;
    return cycles * DAYS_PER_CYCLE + doc - EPOCH_FROM_0000_03_01;
}

int vv_weekday(int64_t days)
{
    return (int)((floor_mod(days, 7) + 4) % 7); /* 1970-01-01: Thu */
}

void vv_civil_from_days(int64_t days, struct vv_civil *out)
{
    int64_t z, cycles, doc, c100, c4, c1, r, yoc;
    int m;

    days = clamp64(days, -((int64_t)1 << 36), (int64_t)1 << 36);
    z = days + EPOCH_FROM_0000_03_01;
    cycles = vv_floor_div(z, DAYS_PER_CYCLE);
    doc = z - cycles * DAYS_PER_CYCLE; /* 0..146096 */
    /* centuries of 36524 days, the last one a day longer (its final Feb 29) */
    c100 = doc / 36524;
    if (c100 == 4)
        c100 = 3;
    r = doc - c100 * 36524;
    c4 = r / 1461; /* 4-year blocks, the leap day last */
    r -= c4 * 1461;
    c1 = r / 365;
    if (c1 == 4)
        c1 = 3;
    r -= c1 * 365; /* day of the March-based year, 0..365 */
    yoc = c100 * 100 + c4 * 4 + c1;
    m = 11;
    while (days_before[m] > r)
        m--;
    out->day = (int)(r - days_before[m] + 1);
    out->month = m < 10 ? m + 3 : m - 9;
    out->year = (int)(cycles * 400 + yoc + (out->month <= 2));
    out->wday = vv_weekday(days);
}

int64_t vv_civil_to_seconds(const struct vv_civil *c)
{
    return vv_days_from_civil(c->year, c->month, c->day) * 86400 + (int64_t)c->hour * 3600 +
           (int64_t)c->minute * 60 + c->second;
}

void vv_civil_from_seconds(int64_t s, struct vv_civil *out)
{
    int64_t days = vv_floor_div(s, 86400), sec = floor_mod(s, 86400);
    vv_civil_from_days(days, out);
    out->hour = (int)(sec / 3600);
    out->minute = (int)(sec / 60 % 60);
    out->second = (int)(sec % 60);
}

int vv_civil_valid(const struct vv_civil *c)
{
    return c->month >= 1 && c->month <= 12 && c->day >= 1 &&
           c->day <= vv_days_in_month(c->year, c->month) && c->hour >= 0 && c->hour <= 23 &&
           c->minute >= 0 && c->minute <= 59 && c->second >= 0 && c->second <= 59;
}

/* The days of YEAR_LIMIT-12-31 and -YEAR_LIMIT-01-01. */
static int64_t day_limit(int upper)
{
    return upper ? vv_days_from_civil(YEAR_LIMIT, 12, 31)
                 : vv_days_from_civil(-YEAR_LIMIT, 1, 1);
}

void vv_civil_add_days(struct vv_civil *c, int64_t n)
{
    int64_t d = vv_days_from_civil(c->year, c->month, c->day);
    n = clamp64(n, -((int64_t)1 << 40), (int64_t)1 << 40);
    vv_civil_from_days(clamp64(d + n, day_limit(0), day_limit(1)), c);
}

void vv_civil_add_months(struct vv_civil *c, int64_t n)
{
    struct vv_civil d;
    int64_t total, y;
    int m, dim;

    vv_civil_from_days(vv_days_from_civil(c->year, c->month, c->day), &d);
    n = clamp64(n, -((int64_t)1 << 40), (int64_t)1 << 40);
    total = (int64_t)d.year * 12 + (d.month - 1) + n;
    y = vv_floor_div(total, 12);
    m = (int)(total - y * 12) + 1;
    if (y > YEAR_LIMIT) {
        y = YEAR_LIMIT;
        m = 12;
    } else if (y < -YEAR_LIMIT) {
        y = -YEAR_LIMIT;
        m = 1;
    }
    dim = vv_days_in_month(y, m);
    c->year = (int)y;
    c->month = m;
    c->day = d.day < dim ? d.day : dim;
    c->wday = vv_weekday(vv_days_from_civil(c->year, c->month, c->day));
}

void vv_civil_add_years(struct vv_civil *c, int64_t n)
{
    n = clamp64(n, -((int64_t)1 << 36), (int64_t)1 << 36);
    vv_civil_add_months(c, n * 12);
}
