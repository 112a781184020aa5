/* policy.c: the backup-policy model (see policy.h). */
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "retention.h"

static const char *const day_names[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                         "Thursday", "Friday", "Saturday"};
static const char *const week_names[5] = {"First", "Second", "Third", "Fourth", "Last"};
static const char *const month_names[12] = {"January", "February", "March",     "April",
                                             "May",     "June",     "July",      "August",
                                             "September", "October", "November", "December"};

/* A set of names spelled as Azure does, each one bit of a mask. */
struct name_set {
    const char *const *names;
    int n;
    const char *what; /* "day", "week", "month" */
    const char *hint; /* the accepted names, for messages */
};

static const struct name_set days_set = {day_names, 7, "day", "Sunday to Saturday"};
static const struct name_set weeks_set = {week_names, 5, "week",
                                          "First, Second, Third, Fourth or Last"};
static const struct name_set months_set = {month_names, 12, "month", "January to December"};

/* Limits of each tier. */
struct tier_rule {
    const char *key;  /* "dailySchedule" */
    const char *unit; /* durationType */
    const char *word; /* unit in messages */
    uint32_t min, max;
};

static const struct tier_rule daily_rule = {"dailySchedule", "Days", "days", 7, 9999};
static const struct tier_rule weekly_rule = {"weeklySchedule", "Weeks", "weeks", 1, 5163};
static const struct tier_rule monthly_rule = {"monthlySchedule", "Months", "months", 1, 1188};
static const struct tier_rule yearly_rule = {"yearlySchedule", "Years", "years", 1, 99};

/* ---- errors ---- */

/* A field path for messages, into buf (cut short if ever longer than buf). */
static void path_fmt(char *buf, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void path_fmt(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}

/* A value from the input made safe for a one-line ASCII message: at most 40
 * characters, anything outside printable ASCII (and the quote) shown as '?'. */
struct shown {
    char s[48];
};

static struct shown show(const char *in)
{
    struct shown o;
    size_t i = 0;
    for (; i < 40 && in[i]; i++) {
        unsigned char c = (unsigned char)in[i];
        o.s[i] = (c < 0x20 || c >= 0x7f || c == '\'') ? '?' : (char)c;
    }
    if (in[i]) {
        memcpy(o.s + i, "...", 3);
        i += 3;
    }
    o.s[i] = '\0';
    return o;
}

/* ---- JSON access ---- */

/* jansson's object iterator takes a non-const pointer; it only reads. */
static json_t *unconst(const json_t *v) { return (json_t *)(uintptr_t)v; }

/* obj[key], or NULL when absent or null. */
static const json_t *member(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return v && !json_is_null(v) ? v : NULL;
}

/* Refuse any key of obj not in allowed (NULL-terminated). path is "" at the top. */
static int check_keys(const json_t *obj, const char *path, const char *const *allowed,
                      char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    json_object_foreach(unconst(obj), key, v) {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = !strcmp(key, *a);
        if (!ok)
            return vv_invalid(err, errlen, "unknown field '%s%s%s'", path, *path ? "." : "",
                        show(key).s);
    }
    return 0;
}

static int want_object(const json_t *v, const char *path, char *err, size_t errlen)
{
    return json_is_object(v) ? 0 : vv_invalid(err, errlen, "%s: must be an object", path);
}

/* A string without NUL bytes. */
static int want_string(const json_t *v, const char *path, const char **out, char *err,
                       size_t errlen)
{
    if (!json_is_string(v))
        return vv_invalid(err, errlen, "%s: must be a string", path);
    *out = json_string_value(v);
    if (strlen(*out) != json_string_length(v))
        return vv_invalid(err, errlen, "%s: must not contain NUL characters", path);
    return 0;
}

static int want_int(const json_t *v, const char *path, json_int_t *out, char *err,
                    size_t errlen)
{
    if (!json_is_integer(v))
        return vv_invalid(err, errlen, "%s: must be an integer", path);
    *out = json_integer_value(v);
    return 0;
}

/* ---- times ---- */

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* "HH:MM", or "YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+00:00)". Returns minutes after midnight,
 * -1 when malformed, -2 when not on the hour or half hour. */
static int parse_time(const char *s)
{
    int h, m, sec = 0, y, mo, d;
    size_t n = strlen(s);
    if (n == 5) {
        if (digits(s, 2, &h) || s[2] != ':' || digits(s + 3, 2, &m))
            return -1;
    } else {
        const char *p = s + 19;
        if (n < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
            s[7] != '-' || digits(s + 8, 2, &d) || s[10] != 'T' || digits(s + 11, 2, &h) ||
            s[13] != ':' || digits(s + 14, 2, &m) || s[16] != ':' || digits(s + 17, 2, &sec))
            return -1;
        if (mo < 1 || mo > 12 || d < 1 || d > vv_days_in_month(y, mo) || sec > 59)
            return -1;
        if (*p == '.') {
            int nd = 0;
            for (p++; *p >= '0' && *p <= '9'; p++, nd++)
                if (*p != '0')
                    sec = 1; /* a fraction of a second: not on the half hour */
            if (nd < 1 || nd > 9)
                return -1;
        }
        if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
            return -1;
    }
    if (h > 23 || m > 59)
        return -1;
    if ((m != 0 && m != 30) || sec != 0)
        return -2;
    return h * 60 + m;
}

static int get_time(const json_t *v, const char *path, uint16_t *out, char *err,
                    size_t errlen)
{
    const char *s = "";
    int t, r;
    if ((r = want_string(v, path, &s, err, errlen)) < 0)
        return r;
    t = parse_time(s);
    if (t == -2)
        return vv_invalid(err, errlen, "%s: '%s' is not on the hour or half hour (:00 or :30)",
                    path, show(s).s);
    if (t < 0)
        return vv_invalid(err, errlen,
                    "%s: '%s' is not a time like 02:30 or 2026-01-01T02:30:00Z", path,
                    show(s).s);
    *out = (uint16_t)t;
    return 0;
}

/* ---- names ---- */

/* A non-empty array of names from set, none repeated, into a mask. */
static int get_names(const json_t *v, const char *path, const struct name_set *set,
                     uint32_t *mask, char *err, size_t errlen)
{
    *mask = 0;
    if (!json_is_array(v))
        return vv_invalid(err, errlen, "%s: must be an array of %s names (%s)", path, set->what,
                    set->hint);
    if (json_array_size(v) == 0)
        return vv_invalid(err, errlen, "%s: must name at least one %s", path, set->what);
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *e = json_array_get(v, i);
        const char *s = "";
        int k = 0;
        if (!json_is_string(e))
            return vv_invalid(err, errlen, "%s[%zu]: must be a string", path, i);
        s = json_string_value(e);
        while (k < set->n && (strcmp(s, set->names[k]) != 0 ||
                              strlen(s) != json_string_length(e)))
            k++;
        if (k == set->n)
            return vv_invalid(err, errlen, "%s[%zu]: unknown %s '%s' (%s)", path, i, set->what,
                        show(s).s, set->hint);
        if (*mask & (1u << k))
            return vv_invalid(err, errlen, "%s[%zu]: '%s' is repeated", path, i, s);
        *mask |= 1u << k;
    }
    return 0;
}

/* A required member holding names. */
static int get_names_member(const json_t *obj, const char *path, const char *key,
                            const struct name_set *set, uint32_t *mask, char *err,
                            size_t errlen)
{
    char p[192];
    const json_t *v = member(obj, key);
    path_fmt(p, sizeof(p), "%s.%s", path, key);
    if (!v)
        return vv_invalid(err, errlen, "%s: missing (required)", p);
    return get_names(v, p, set, mask, err, errlen);
}

/* ---- time zone ---- */

/* ---- parsing ---- */

static const char *const top_keys[] = {"timeZone",   "schedulePolicy",
                                       "retentionPolicy", "instantRpRetentionRangeInDays",
                                       "policyType", "name",
                                       "vault",      "protectedItemsCount",
                                       "scriptSettings", NULL};
static const char *const schedule_keys[] = {"scheduleRunFrequency", "scheduleRunTimes",
                                            "scheduleRunDays", "hourlySchedule", NULL};
static const char *const hourly_keys[] = {"interval", "scheduleWindowStartTime",
                                          "scheduleWindowDuration", NULL};
static const char *const retention_keys[] = {"dailySchedule", "weeklySchedule",
                                             "monthlySchedule", "yearlySchedule", NULL};
static const char *const daily_keys[] = {"retentionTimes", "retentionDuration", NULL};
static const char *const weekly_keys[] = {"daysOfTheWeek", "retentionTimes",
                                          "retentionDuration", NULL};
static const char *const monthly_keys[] = {"retentionScheduleFormatType",
                                           "retentionScheduleWeekly",
                                           "retentionScheduleDaily",
                                           "retentionTimes",
                                           "retentionDuration",
                                           NULL};
static const char *const yearly_keys[] = {"retentionScheduleFormatType",
                                          "retentionScheduleWeekly",
                                          "retentionScheduleDaily",
                                          "monthsOfYear",
                                          "retentionTimes",
                                          "retentionDuration",
                                          NULL};
static const char *const duration_keys[] = {"count", "durationType", NULL};
static const char *const rweekly_keys[] = {"daysOfTheWeek", "weeksOfTheMonth", NULL};
static const char *const rdaily_keys[] = {"daysOfTheMonth", NULL};
static const char *const day_keys[] = {"date", "isLast", NULL};

static int parse_hourly(const json_t *h, struct vv_policy *p, char *err, size_t errlen)
{
    static const char path[] = "schedulePolicy.hourlySchedule";
    const json_t *v;
    json_int_t n = 0;
    int r;

    if ((r = want_object(h, path, err, errlen)) < 0 ||
        (r = check_keys(h, path, hourly_keys, err, errlen)) < 0)
        return r;
    if (!(v = member(h, "interval")))
        return vv_invalid(err, errlen, "%s.interval: missing (required)", path);
    if ((r = want_int(v, "schedulePolicy.hourlySchedule.interval", &n, err, errlen)) < 0)
        return r;
    if (n != 4 && n != 6 && n != 8 && n != 12)
        return vv_invalid(err, errlen, "%s.interval: must be 4, 6, 8 or 12 hours", path);
    p->hourly_interval = (uint8_t)n;
    if (!(v = member(h, "scheduleWindowStartTime")))
        return vv_invalid(err, errlen, "%s.scheduleWindowStartTime: missing (required)", path);
    if ((r = get_time(v, "schedulePolicy.hourlySchedule.scheduleWindowStartTime",
                      &p->window_start, err, errlen)) < 0)
        return r;
    if (!(v = member(h, "scheduleWindowDuration")))
        return vv_invalid(err, errlen, "%s.scheduleWindowDuration: missing (required)", path);
    if ((r = want_int(v, "schedulePolicy.hourlySchedule.scheduleWindowDuration", &n, err,
                      errlen)) < 0)
        return r;
    if (n < 4 || n > 24)
        return vv_invalid(err, errlen, "%s.scheduleWindowDuration: must be 4 to 24 hours", path);
    p->window_hours = (uint8_t)n;
    return 0;
}

/* scheduleRunTimes of a Daily (1 to VV_RUN_TIMES_MAX distinct times) or Weekly (exactly
 * one time) schedule, into p->run_times. */
static int parse_run_times(const json_t *times, struct vv_policy *p, char *err, size_t errlen)
{
    static const char path[] = "schedulePolicy.scheduleRunTimes";
    size_t n = json_is_array(times) ? json_array_size(times) : 0;
    size_t first[48]; /* for each half hour, the entry that named it */
    char sub[64];
    uint16_t t;
    int r;

    if (p->frequency == VV_FREQ_WEEKLY && n != 1)
        return vv_invalid(err, errlen,
                    "%s: must be an array of exactly one time (a Weekly schedule runs once on "
                    "each of its days)",
                    path);
    if (n < 1 || n > VV_RUN_TIMES_MAX)
        return vv_invalid(err, errlen, "%s: must be an array of 1 to %d times of day", path,
                    VV_RUN_TIMES_MAX);
    p->run_times = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(times, i);
        path_fmt(sub, sizeof(sub), "%s[%zu]", path, i);
        if ((r = get_time(e, sub, &t, err, errlen)) < 0)
            return r;
        if (p->run_times & VV_RUN_TIME(t))
            return vv_invalid(err, errlen, "%s: '%s' repeats %02u:%02u (%s[%zu])", sub,
                        show(json_string_value(e)).s, (unsigned)t / 60u, (unsigned)t % 60u,
                        path, first[t / 30]);
        p->run_times |= VV_RUN_TIME(t);
        first[t / 30] = i;
    }
    return 0;
}

static int parse_schedule(const json_t *s, struct vv_policy *p, char *err, size_t errlen)
{
    const json_t *v, *times, *days, *hourly;
    const char *f = "";
    uint32_t mask;
    int r;

    if ((r = want_object(s, "schedulePolicy", err, errlen)) < 0 ||
        (r = check_keys(s, "schedulePolicy", schedule_keys, err, errlen)) < 0)
        return r;
    if (!(v = member(s, "scheduleRunFrequency")))
        return vv_invalid(err, errlen, "schedulePolicy.scheduleRunFrequency: missing (required)");
    if ((r = want_string(v, "schedulePolicy.scheduleRunFrequency", &f, err, errlen)) < 0)
        return r;
    if (!strcmp(f, "Daily"))
        p->frequency = VV_FREQ_DAILY;
    else if (!strcmp(f, "Weekly"))
        p->frequency = VV_FREQ_WEEKLY;
    else if (!strcmp(f, "Hourly"))
        p->frequency = VV_FREQ_HOURLY;
    else
        return vv_invalid(err, errlen,
                    "schedulePolicy.scheduleRunFrequency: must be Daily, Weekly or Hourly");

    times = member(s, "scheduleRunTimes");
    if (p->frequency == VV_FREQ_HOURLY) {
        if (times)
            return vv_invalid(err, errlen,
                        "schedulePolicy.scheduleRunTimes: not used by an Hourly schedule "
                        "(set hourlySchedule.scheduleWindowStartTime)");
    } else {
        if (!times)
            return vv_invalid(err, errlen,
                        "schedulePolicy.scheduleRunTimes: missing (required for a %s "
                        "schedule)",
                        f);
        if ((r = parse_run_times(times, p, err, errlen)) < 0)
            return r;
    }

    days = member(s, "scheduleRunDays");
    if (p->frequency == VV_FREQ_WEEKLY) {
        if (!days)
            return vv_invalid(err, errlen,
                        "schedulePolicy.scheduleRunDays: missing (required for a Weekly "
                        "schedule)");
        if ((r = get_names(days, "schedulePolicy.scheduleRunDays", &days_set, &mask, err,
                           errlen)) < 0)
            return r;
        p->run_days = (uint8_t)mask;
    } else if (days) {
        return vv_invalid(err, errlen, "schedulePolicy.scheduleRunDays: only for a Weekly schedule");
    }

    hourly = member(s, "hourlySchedule");
    if (p->frequency == VV_FREQ_HOURLY) {
        if (!hourly)
            return vv_invalid(err, errlen,
                        "schedulePolicy.hourlySchedule: missing (required for an Hourly "
                        "schedule)");
        return parse_hourly(hourly, p, err, errlen);
    }
    if (hourly)
        return vv_invalid(err, errlen, "schedulePolicy.hourlySchedule: only for an Hourly schedule");
    return 0;
}

static int parse_duration(const json_t *tier, const char *path, const struct tier_rule *rule,
                          uint32_t *count, char *err, size_t errlen)
{
    char p[192];
    const json_t *d = member(tier, "retentionDuration"), *v;
    const char *unit = "";
    json_int_t n = 0;
    int r;

    path_fmt(p, sizeof(p), "%s.retentionDuration", path);
    if (!d)
        return vv_invalid(err, errlen, "%s: missing (required)", p);
    if ((r = want_object(d, p, err, errlen)) < 0 ||
        (r = check_keys(d, p, duration_keys, err, errlen)) < 0)
        return r;
    if (!(v = member(d, "durationType")))
        return vv_invalid(err, errlen, "%s.durationType: missing (required)", p);
    path_fmt(p, sizeof(p), "%s.retentionDuration.durationType", path);
    if ((r = want_string(v, p, &unit, err, errlen)) < 0)
        return r;
    if (strcmp(unit, rule->unit) != 0)
        return vv_invalid(err, errlen, "%s: must be %s in %s", p, rule->unit, rule->key);
    path_fmt(p, sizeof(p), "%s.retentionDuration.count", path);
    if (!(v = member(d, "count")))
        return vv_invalid(err, errlen, "%s: missing (required)", p);
    if ((r = want_int(v, p, &n, err, errlen)) < 0)
        return r;
    if (n < (json_int_t)rule->min || n > (json_int_t)rule->max)
        return vv_invalid(err, errlen, "%s: must be %u to %u %s", p, (unsigned)rule->min,
                    (unsigned)rule->max, rule->word);
    *count = (uint32_t)n;
    return 0;
}

/* retentionTimes: accepted and ignored, but must be an array of strings. */
static int check_retention_times(const json_t *tier, const char *path, char *err,
                                 size_t errlen)
{
    const json_t *v = member(tier, "retentionTimes");
    if (!v)
        return 0;
    if (!json_is_array(v))
        return vv_invalid(err, errlen, "%s.retentionTimes: must be an array of strings", path);
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!json_is_string(json_array_get(v, i)))
            return vv_invalid(err, errlen, "%s.retentionTimes[%zu]: must be a string", path, i);
    return 0;
}

/* One entry of daysOfTheMonth. */
static int parse_day_of_month(const json_t *e, const char *path, size_t i,
                              struct vv_retention *t, char *err, size_t errlen)
{
    char p[192];
    const json_t *v;
    json_int_t date = 0;
    int last = 0, r;

    path_fmt(p, sizeof(p), "%s[%zu]", path, i);
    if (!json_is_object(e))
        return vv_invalid(err, errlen, "%s: must be an object like {\"date\": 1, \"isLast\": false}",
                    p);
    if ((r = check_keys(e, p, day_keys, err, errlen)) < 0)
        return r;
    if ((v = member(e, "isLast"))) {
        if (!json_is_boolean(v))
            return vv_invalid(err, errlen, "%s.isLast: must be true or false", p);
        last = json_is_true(v);
    }
    v = member(e, "date");
    if (v) {
        path_fmt(p, sizeof(p), "%s[%zu].date", path, i);
        if ((r = want_int(v, p, &date, err, errlen)) < 0)
            return r;
    }
    if (last) {
        if (date != 0)
            return vv_invalid(err, errlen, "%s[%zu].date: must be 0 or absent when isLast is true",
                        path, i);
        if (t->last_date)
            return vv_invalid(err, errlen, "%s[%zu]: the last day is repeated", path, i);
        t->last_date = 1;
        return 0;
    }
    if (!v)
        return vv_invalid(err, errlen, "%s[%zu].date: missing (required unless isLast is true)",
                    path, i);
    if (date < 1 || date > 28)
        return vv_invalid(err, errlen,
                    "%s[%zu].date: must be 1 to 28 (set isLast for the last day of the month)",
                    path, i);
    if (t->dates & VV_DATE(date))
        return vv_invalid(err, errlen, "%s[%zu]: date %d is repeated", path, i, (int)date);
    t->dates |= VV_DATE(date);
    return 0;
}

/* retentionScheduleFormatType and its selection (monthly and yearly tiers). */
static int parse_format(const json_t *tier, const char *path, const struct vv_policy *p,
                        struct vv_retention *t, char *err, size_t errlen)
{
    char sub[192];
    const json_t *v, *weekly = member(tier, "retentionScheduleWeekly"),
                     *daily = member(tier, "retentionScheduleDaily");
    const char *f = "";
    uint32_t mask;
    int r;

    if (!(v = member(tier, "retentionScheduleFormatType")))
        return vv_invalid(err, errlen, "%s.retentionScheduleFormatType: missing (required)", path);
    path_fmt(sub, sizeof(sub), "%s.retentionScheduleFormatType", path);
    if ((r = want_string(v, sub, &f, err, errlen)) < 0)
        return r;
    if (!strcmp(f, "Weekly")) {
        t->format = VV_RET_FORMAT_WEEKLY;
    } else if (!strcmp(f, "Daily")) {
        t->format = VV_RET_FORMAT_DAILY;
        if (p->frequency == VV_FREQ_WEEKLY)
            return vv_invalid(err, errlen,
                        "%s: Daily (days of the month) needs a Daily or Hourly schedule; "
                        "use Weekly",
                        sub);
    } else {
        return vv_invalid(err, errlen, "%s: must be Weekly or Daily", sub);
    }

    if (t->format == VV_RET_FORMAT_WEEKLY) {
        if (daily)
            return vv_invalid(err, errlen,
                        "%s.retentionScheduleDaily: not allowed when "
                        "retentionScheduleFormatType is Weekly",
                        path);
        path_fmt(sub, sizeof(sub), "%s.retentionScheduleWeekly", path);
        if (!weekly)
            return vv_invalid(err, errlen,
                        "%s: missing (required when retentionScheduleFormatType is Weekly)",
                        sub);
        if ((r = want_object(weekly, sub, err, errlen)) < 0 ||
            (r = check_keys(weekly, sub, rweekly_keys, err, errlen)) < 0 ||
            (r = get_names_member(weekly, sub, "daysOfTheWeek", &days_set, &mask, err,
                                  errlen)) < 0)
            return r;
        t->days = (uint8_t)mask;
        if (p->frequency == VV_FREQ_WEEKLY && (t->days & ~p->run_days))
            return vv_invalid(err, errlen,
                        "%s.daysOfTheWeek: must be days the Weekly schedule runs on "
                        "(schedulePolicy.scheduleRunDays)",
                        sub);
        if ((r = get_names_member(weekly, sub, "weeksOfTheMonth", &weeks_set, &mask, err,
                                  errlen)) < 0)
            return r;
        t->weeks = (uint8_t)mask;
        return 0;
    }

    if (weekly)
        return vv_invalid(err, errlen,
                    "%s.retentionScheduleWeekly: not allowed when retentionScheduleFormatType "
                    "is Daily",
                    path);
    path_fmt(sub, sizeof(sub), "%s.retentionScheduleDaily", path);
    if (!daily)
        return vv_invalid(err, errlen,
                    "%s: missing (required when retentionScheduleFormatType is Daily)", sub);
    if ((r = want_object(daily, sub, err, errlen)) < 0 ||
        (r = check_keys(daily, sub, rdaily_keys, err, errlen)) < 0)
        return r;
    v = member(daily, "daysOfTheMonth");
    path_fmt(sub, sizeof(sub), "%s.retentionScheduleDaily.daysOfTheMonth", path);
    if (!v)
        return vv_invalid(err, errlen, "%s: missing (required)", sub);
    if (!json_is_array(v) || json_array_size(v) == 0)
        return vv_invalid(err, errlen, "%s: must be an array of at least one day", sub);
    for (size_t i = 0; i < json_array_size(v); i++)
        if ((r = parse_day_of_month(json_array_get(v, i), sub, i, t, err, errlen)) < 0)
            return r;
    return 0;
}

/* One tier: rule names it, keys lists its fields. */
static int parse_tier(const json_t *ret, const struct tier_rule *rule,
                      const char *const *keys, const struct vv_policy *p,
                      struct vv_retention *t, char *err, size_t errlen)
{
    char path[96];
    const json_t *tier = member(ret, rule->key);
    uint32_t mask;
    int r;

    memset(t, 0, sizeof(*t));
    if (!tier)
        return 0;
    path_fmt(path, sizeof(path), "retentionPolicy.%s", rule->key);
    if ((r = want_object(tier, path, err, errlen)) < 0 ||
        (r = check_keys(tier, path, keys, err, errlen)) < 0)
        return r;
    if (rule == &daily_rule && p->frequency == VV_FREQ_WEEKLY)
        return vv_invalid(err, errlen, "%s: not allowed with a Weekly schedule (use weeklySchedule)",
                    path);
    if (rule == &weekly_rule) {
        if ((r = get_names_member(tier, path, "daysOfTheWeek", &days_set, &mask, err,
                                  errlen)) < 0)
            return r;
        t->days = (uint8_t)mask;
        if (p->frequency == VV_FREQ_WEEKLY && (t->days & ~p->run_days))
            return vv_invalid(err, errlen,
                        "%s.daysOfTheWeek: must be days the Weekly schedule runs on "
                        "(schedulePolicy.scheduleRunDays)",
                        path);
    }
    if (rule == &monthly_rule || rule == &yearly_rule) {
        if ((r = parse_format(tier, path, p, t, err, errlen)) < 0)
            return r;
    }
    if (rule == &yearly_rule) {
        if ((r = get_names_member(tier, path, "monthsOfYear", &months_set, &mask, err,
                                  errlen)) < 0)
            return r;
        t->months = (uint16_t)mask;
    }
    if ((r = check_retention_times(tier, path, err, errlen)) < 0 ||
        (r = parse_duration(tier, path, rule, &t->count, err, errlen)) < 0)
        return r;
    t->present = 1;
    return 0;
}

static int parse_retention(const json_t *ret, struct vv_policy *p, char *err, size_t errlen)
{
    size_t kept;
    int r;
    if ((r = want_object(ret, "retentionPolicy", err, errlen)) < 0 ||
        (r = check_keys(ret, "retentionPolicy", retention_keys, err, errlen)) < 0)
        return r;
    if ((r = parse_tier(ret, &daily_rule, daily_keys, p, &p->daily, err, errlen)) < 0 ||
        (r = parse_tier(ret, &weekly_rule, weekly_keys, p, &p->weekly, err, errlen)) < 0 ||
        (r = parse_tier(ret, &monthly_rule, monthly_keys, p, &p->monthly, err, errlen)) < 0 ||
        (r = parse_tier(ret, &yearly_rule, yearly_keys, p, &p->yearly, err, errlen)) < 0)
        return r;
    if (!p->daily.present && !p->weekly.present && !p->monthly.present && !p->yearly.present)
        return vv_invalid(err, errlen,
                    "retentionPolicy: must keep at least one of dailySchedule, "
                    "weeklySchedule, monthlySchedule or yearlySchedule");
    kept = vv_retention_max_points(p);
    if (kept == SIZE_MAX) {
        vv_invalid(err, errlen, "retentionPolicy: out of memory while counting the points it keeps");
        return VV_E_NOMEM;
    }
    if (kept > VV_POLICY_MAX_POINTS)
        return vv_invalid(err, errlen,
                    "retentionPolicy: keeps up to %zu recovery points per item; at most %d "
                    "allowed",
                    kept, VV_POLICY_MAX_POINTS);
    return 0;
}

static int parse_instant(const json_t *in, struct vv_policy *p, char *err, size_t errlen)
{
    static const char path[] = "instantRpRetentionRangeInDays";
    const json_t *v = member(in, path);
    json_int_t n = 0;
    int r;

    if (!v) {
        p->instant_rp_days = p->frequency == VV_FREQ_DAILY ? 2
                             : p->frequency == VV_FREQ_WEEKLY ? 5
                                                              : 7;
        return 0;
    }
    if ((r = want_int(v, path, &n, err, errlen)) < 0)
        return r;
    if (p->frequency == VV_FREQ_DAILY && (n < 1 || n > 5))
        return vv_invalid(err, errlen, "%s: must be 1 to 5 days for a Daily schedule", path);
    if (p->frequency == VV_FREQ_WEEKLY && n != 5)
        return vv_invalid(err, errlen, "%s: must be 5 days for a Weekly schedule", path);
    if (p->frequency == VV_FREQ_HOURLY && (n < 1 || n > 30))
        return vv_invalid(err, errlen, "%s: must be 1 to 30 days for an Hourly schedule", path);
    p->instant_rp_days = (uint8_t)n;
    return 0;
}

int vv_policy_from_json(const json_t *in, struct vv_policy *out, char *err, size_t errlen)
{
    struct vv_policy p;
    const json_t *v;
    const char *s = "";
    int r;

    memset(&p, 0, sizeof(p));
    if (err && errlen)
        err[0] = '\0';
    if (!json_is_object(in))
        return vv_invalid(err, errlen, "policy: must be a JSON object");
    if ((r = check_keys(in, "", top_keys, err, errlen)) < 0)
        return r;

    if ((v = member(in, "timeZone"))) {
        if ((r = want_string(v, "timeZone", &s, err, errlen)) < 0)
            return r;
        if (!vv_tz_name_valid(s))
            return vv_invalid(err, errlen,
                        "timeZone: '%s' is not a zone name like Europe/Berlin (1 to %d of "
                        "A-Z a-z 0-9 _ + - /)",
                        show(s).s, VV_TZ_NAME_MAX);
        snprintf(p.time_zone, sizeof(p.time_zone), "%s", s);
    } else {
        snprintf(p.time_zone, sizeof(p.time_zone), "UTC");
    }

    if (!(v = member(in, "schedulePolicy")))
        return vv_invalid(err, errlen, "schedulePolicy: missing (required)");
    if ((r = parse_schedule(v, &p, err, errlen)) < 0)
        return r;

    if ((v = member(in, "policyType"))) {
        if ((r = want_string(v, "policyType", &s, err, errlen)) < 0)
            return r;
        if (!strcmp(s, "V1"))
            p.type = VV_POLICY_V1;
        else if (!strcmp(s, "V2"))
            p.type = VV_POLICY_V2;
        else
            return vv_invalid(err, errlen, "policyType: must be V1 or V2");
        if (p.type == VV_POLICY_V1 && p.frequency == VV_FREQ_HOURLY)
            return vv_invalid(err, errlen, "policyType: an Hourly schedule needs V2");
    } else {
        p.type = p.frequency == VV_FREQ_HOURLY ? VV_POLICY_V2 : VV_POLICY_V1;
    }

    if ((r = parse_instant(in, &p, err, errlen)) < 0)
        return r;

    if (!(v = member(in, "retentionPolicy")))
        return vv_invalid(err, errlen, "retentionPolicy: missing (required)");
    if ((r = parse_retention(v, &p, err, errlen)) < 0)
        return r;

    if ((v = member(in, "scriptSettings"))) {
        if ((r = vv_scripts_from_json(v, &p.scripts, err, errlen)) < 0)
            return r;
        p.has_scripts = 1;
    }

    *out = p;
    return 0;
}

/* ---- output ---- */

/* o[key] = v, taking v (also on failure); *bad set when v is NULL or memory runs out. */
static void put(json_t *o, const char *key, json_t *v, int *bad)
{
    if (json_object_set_new(o, key, v) < 0)
        *bad = 1;
}

/* a += v, taking v; *bad set on failure. */
static void append(json_t *a, json_t *v, int *bad)
{
    if (json_array_append_new(a, v) < 0)
        *bad = 1;
}

static json_t *time_json(uint16_t minutes)
{
    char s[16];
    snprintf(s, sizeof(s), "%02u:%02u", (unsigned)minutes / 60u, (unsigned)minutes % 60u);
    return json_string(s);
}

static json_t *names_json(uint32_t mask, const struct name_set *set, int *bad)
{
    json_t *a = json_array();
    for (int k = 0; k < set->n; k++)
        if (mask & (1u << k))
            append(a, json_string(set->names[k]), bad);
    return a;
}

static const char *freq_name(enum vv_schedule_freq f)
{
    switch (f) {
    case VV_FREQ_DAILY:
        return "Daily";
    case VV_FREQ_WEEKLY:
        return "Weekly";
    case VV_FREQ_HOURLY:
        return "Hourly";
    }
    return "Unknown";
}

static json_t *day_of_month_json(int date, int last)
{
    return json_pack("{s:i,s:b}", "date", date, "isLast", last);
}

/* The members of a monthly or yearly tier that say which points it keeps. */
static void format_json(json_t *o, const struct vv_retention *t, int *bad)
{
    json_t *sel = json_object(), *a;
    if (t->format == VV_RET_FORMAT_DAILY) {
        a = json_array();
        for (int d = 1; d <= 28; d++)
            if (t->dates & VV_DATE(d))
                append(a, day_of_month_json(d, 0), bad);
        if (t->last_date)
            append(a, day_of_month_json(0, 1), bad);
        put(sel, "daysOfTheMonth", a, bad);
        put(o, "retentionScheduleFormatType", json_string("Daily"), bad);
        put(o, "retentionScheduleDaily", sel, bad);
    } else {
        put(sel, "daysOfTheWeek", names_json(t->days, &days_set, bad), bad);
        put(sel, "weeksOfTheMonth", names_json(t->weeks, &weeks_set, bad), bad);
        put(o, "retentionScheduleFormatType", json_string("Weekly"), bad);
        put(o, "retentionScheduleWeekly", sel, bad);
    }
}

static json_t *tier_json(const struct vv_retention *t, const struct tier_rule *rule, int *bad)
{
    json_t *o = json_object();
    if (rule == &weekly_rule)
        put(o, "daysOfTheWeek", names_json(t->days, &days_set, bad), bad);
    if (rule == &monthly_rule || rule == &yearly_rule)
        format_json(o, t, bad);
    if (rule == &yearly_rule)
        put(o, "monthsOfYear", names_json(t->months, &months_set, bad), bad);
    put(o, "retentionDuration",
        json_pack("{s:I,s:s}", "count", (json_int_t)t->count, "durationType", rule->unit),
        bad);
    return o;
}

json_t *vv_policy_to_json(const struct vv_policy *p)
{
    json_t *root = json_object(), *sched = json_object(), *ret = json_object(), *h, *a;
    int bad = !root;

    put(sched, "scheduleRunFrequency", json_string(freq_name(p->frequency)), &bad);
    if (p->frequency == VV_FREQ_WEEKLY)
        put(sched, "scheduleRunDays", names_json(p->run_days, &days_set, &bad), &bad);
    if (p->frequency == VV_FREQ_HOURLY) {
        h = json_object();
        put(h, "interval", json_integer(p->hourly_interval), &bad);
        put(h, "scheduleWindowStartTime", time_json(p->window_start), &bad);
        put(h, "scheduleWindowDuration", json_integer(p->window_hours), &bad);
        put(sched, "hourlySchedule", h, &bad);
    } else {
        a = json_array();
        for (int k = 0; k < 48; k++)
            if (p->run_times & VV_RUN_TIME(k * 30))
                append(a, time_json((uint16_t)(k * 30)), &bad);
        put(sched, "scheduleRunTimes", a, &bad);
    }
    if (p->daily.present)
        put(ret, "dailySchedule", tier_json(&p->daily, &daily_rule, &bad), &bad);
    if (p->weekly.present)
        put(ret, "weeklySchedule", tier_json(&p->weekly, &weekly_rule, &bad), &bad);
    if (p->monthly.present)
        put(ret, "monthlySchedule", tier_json(&p->monthly, &monthly_rule, &bad), &bad);
    if (p->yearly.present)
        put(ret, "yearlySchedule", tier_json(&p->yearly, &yearly_rule, &bad), &bad);

    put(root, "timeZone", json_string(p->time_zone), &bad);
    put(root, "schedulePolicy", sched, &bad);
    put(root, "instantRpRetentionRangeInDays", json_integer(p->instant_rp_days), &bad);
    put(root, "retentionPolicy", ret, &bad);
    put(root, "policyType", json_string(p->type == VV_POLICY_V2 ? "V2" : "V1"), &bad);
    if (p->has_scripts) {
        json_t *sc = vv_scripts_to_json(&p->scripts);
        if (!sc)
            bad = 1;
        put(root, "scriptSettings", sc, &bad);
    }
    if (bad) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* ---- comparisons ---- */

static int tier_equal(const struct vv_retention *a, const struct vv_retention *b)
{
    return a->present == b->present && a->count == b->count && a->format == b->format &&
           a->days == b->days && a->weeks == b->weeks && a->dates == b->dates &&
           a->last_date == b->last_date && a->months == b->months;
}

int vv_policy_equal(const struct vv_policy *a, const struct vv_policy *b)
{
    return !strcmp(a->time_zone, b->time_zone) && a->type == b->type &&
           a->frequency == b->frequency && a->run_times == b->run_times &&
           a->run_days == b->run_days && a->hourly_interval == b->hourly_interval &&
           a->window_start == b->window_start && a->window_hours == b->window_hours &&
           a->instant_rp_days == b->instant_rp_days && tier_equal(&a->daily, &b->daily) &&
           tier_equal(&a->weekly, &b->weekly) && tier_equal(&a->monthly, &b->monthly) &&
           tier_equal(&a->yearly, &b->yearly) && a->has_scripts == b->has_scripts &&
           !memcmp(&a->scripts, &b->scripts, sizeof(a->scripts));
}

static int tier_reduced(const struct vv_retention *o, const struct vv_retention *n)
{
    if (!o->present)
        return 0;
    return !n->present || n->count < o->count || n->format != o->format ||
           (o->days & ~n->days) || (o->weeks & ~n->weeks) || (o->dates & ~n->dates) ||
           (o->last_date && !n->last_date) || (o->months & ~n->months);
}

int vv_policy_reduces_retention(const struct vv_policy *old, const struct vv_policy *new_)
{
    return new_->instant_rp_days < old->instant_rp_days ||
           tier_reduced(&old->daily, &new_->daily) ||
           tier_reduced(&old->weekly, &new_->weekly) ||
           tier_reduced(&old->monthly, &new_->monthly) ||
           tier_reduced(&old->yearly, &new_->yearly);
}

void vv_policy_default(struct vv_policy *p)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->time_zone, sizeof(p->time_zone), "UTC");
    p->type = VV_POLICY_V1;
    p->frequency = VV_FREQ_DAILY;
    p->run_times = VV_RUN_TIME(2 * 60);
    p->instant_rp_days = 2;
    p->daily.present = 1;
    p->daily.count = 30;
}

void vv_policy_release(struct vv_policy *p) { memset(p, 0, sizeof(*p)); }
