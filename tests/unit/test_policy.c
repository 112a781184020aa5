/*
 * test_policy.c: the backup-policy model: valid Daily, Weekly and Hourly policies with
 * grandfather-father-son retention and their canonical JSON, the round trip, the
 * default policy, every rule refused with the message a user sees, unknown fields and
 * wrong types at every level, retention-reduction detection, and time-zone checks.
 *
 * JSON in this file is written with ' for " to stay readable; J() swaps them back.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "harness.h"
#include "json.h"
#include "policy/policy.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Fragments, to keep the tables short. */
#define SCHED_DAILY "'schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunTimes':['02:00']}"
#define SCHED_WEEKLY                                                                       \
    "'schedulePolicy':{'scheduleRunFrequency':'Weekly','scheduleRunDays':['Sunday'],"     \
    "'scheduleRunTimes':['02:00']}"
#define SCHED_HOURLY                                                                       \
    "'schedulePolicy':{'scheduleRunFrequency':'Hourly','hourlySchedule':{'interval':4,"   \
    "'scheduleWindowStartTime':'08:00','scheduleWindowDuration':24}}"
#define DUR(n, unit) "'retentionDuration':{'count':" #n ",'durationType':'" unit "'}"
#define DAILY(n) "'dailySchedule':{" DUR(n, "Days") "}"
#define WEEKLY(n) "'weeklySchedule':{'daysOfTheWeek':['Sunday']," DUR(n, "Weeks") "}"
#define MONTHLY_W(n)                                                                       \
    "'monthlySchedule':{'retentionScheduleFormatType':'Weekly','retentionScheduleWeekly':"   \
    "{'daysOfTheWeek':['Sunday'],'weeksOfTheMonth':['First']}," DUR(n, "Months") "}"
#define MONTHLY_D(days)                                                                    \
    "'monthlySchedule':{'retentionScheduleFormatType':'Daily','retentionScheduleDaily':"    \
    "{'daysOfTheMonth':" days "}," DUR(12, "Months") "}"
#define YEARLY(n)                                                                          \
    "'yearlySchedule':{'retentionScheduleFormatType':'Weekly','retentionScheduleWeekly':"    \
    "{'daysOfTheWeek':['Sunday'],'weeksOfTheMonth':['First']},'monthsOfYear':['January'],"  \
    DUR(n, "Years") "}"
#define RET(tiers) "'retentionPolicy':{" tiers "}"
#define RET_DAILY30 RET(DAILY(30))

/* Parse JSON written with ' for ". NULL (and a failed check) when it is not JSON. */
static json_t *J(const char *text)
{
    size_t n = strlen(text);
    char *s = malloc(n + 1), jerr[160];
    json_t *v;
    if (!s)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        s[i] = text[i] == '\'' ? '"' : text[i];
    v = vv_json_parse(s, n, jerr, sizeof(jerr));
    if (!v)
        vv_test_fail(__FILE__, __LINE__, "test JSON does not parse: %s: %s", jerr, s);
    free(s);
    return v;
}

static int parse(const char *text, struct vv_policy *p, char *err, size_t errlen)
{
    json_t *v = J(text);
    int r;
    if (!v)
        return 1;
    r = vv_policy_from_json(v, p, err, errlen);
    json_decref(v);
    return r;
}

/* Compact canonical text of p, with " turned into ' (caller frees). */
static char *canon(const struct vv_policy *p)
{
    json_t *v = vv_policy_to_json(p);
    char *s;
    if (!v)
        return NULL;
    s = vv_json_dump(v);
    json_decref(v);
    for (char *c = s; c && *c; c++)
        if (*c == '"')
            *c = '\'';
    return s;
}

/* from_json(to_json(p)) == p, and the text is stable. */
static void check_round_trip(const struct vv_policy *p, const char *name)
{
    struct vv_policy back;
    char err[256] = "";
    json_t *v = vv_policy_to_json(p);
    char *t1 = canon(p), *t2;
    CHECK(v != NULL);
    if (!v) {
        free(t1);
        return;
    }
    memset(&back, 0x5a, sizeof(back));
    if (vv_policy_from_json(v, &back, err, sizeof(err)) != 0)
        vv_test_fail(__FILE__, __LINE__, "%s: canonical JSON refused: %s", name, err);
    else if (!vv_policy_equal(p, &back))
        vv_test_fail(__FILE__, __LINE__, "%s: round trip changed the policy", name);
    t2 = canon(&back);
    CHECK(t1 && t2 && !strcmp(t1, t2));
    free(t1);
    free(t2);
    json_decref(v);
}

TEST(default_policy)
{
    struct vv_policy p, q;
    char err[256] = "";
    char *text;

    vv_policy_default(&p);
    CHECK(!strcmp(p.time_zone, "UTC"));
    CHECK_EQ(p.type, VV_POLICY_V1);
    CHECK_EQ(p.frequency, VV_FREQ_DAILY);
    CHECK(p.run_times == VV_RUN_TIME(120));
    CHECK_EQ(p.instant_rp_days, 2);
    CHECK(p.daily.present && p.daily.count == 30);
    CHECK(!p.weekly.present && !p.monthly.present && !p.yearly.present);
    text = canon(&p);
    CHECK(text && !strcmp(text, "{'timeZone':'UTC','schedulePolicy':{'scheduleRunFrequency':"
                                "'Daily','scheduleRunTimes':['02:00']},"
                                "'instantRpRetentionRangeInDays':2,'retentionPolicy':{"
                                "'dailySchedule':{'retentionDuration':{'count':30,"
                                "'durationType':'Days'}}},'policyType':'V1'}"));
    free(text);
    check_round_trip(&p, "default");

    /* docs/api.md's example, as `policy show` prints it, is the default policy */
    CHECK_OK(parse("{'name':'DefaultPolicy','vault':'v1','timeZone':'UTC',"
                   "'schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunTimes':"
                   "['02:00']},'instantRpRetentionRangeInDays':2,'retentionPolicy':{"
                   "'dailySchedule':{'retentionDuration':{'count':30,'durationType':'Days'}}},"
                   "'protectedItemsCount':0}",
                   &q, err, sizeof(err)));
    CHECK(vv_policy_equal(&p, &q));
    CHECK_EQ(err[0], '\0');
}

struct valid_case {
    const char *name, *in, *canonical;
};

static const struct valid_case valid_cases[] = {
    {"daily_defaults_and_azure_datetime",
     "{'schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunTimes':"
     "['2026-01-01T23:30:00Z']}," RET(DAILY(7)) "}",
     "{'timeZone':'UTC','schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunTimes':"
     "['23:30']},'instantRpRetentionRangeInDays':2,'retentionPolicy':{'dailySchedule':{"
     "'retentionDuration':{'count':7,'durationType':'Days'}}},'policyType':'V1'}"},
    {"daily_full_gfs",
     "{'timeZone':'Europe/Berlin','policyType':'V2','instantRpRetentionRangeInDays':5,"
     "'schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunTimes':"
     "['2026-01-01T02:30:00.000Z']},'retentionPolicy':{"
     "'dailySchedule':{'retentionTimes':['2026-01-01T02:30:00.000Z'],"
     "'retentionDuration':{'count':180,'durationType':'Days'}},"
     "'weeklySchedule':{'daysOfTheWeek':['Saturday','Sunday'],"
     "'retentionDuration':{'durationType':'Weeks','count':12}},"
     "'monthlySchedule':{'retentionScheduleFormatType':'Weekly','retentionScheduleWeekly':{"
     "'weeksOfTheMonth':['Last','First'],'daysOfTheWeek':['Sunday']},"
     "'retentionDuration':{'count':60,'durationType':'Months'}},"
     "'yearlySchedule':{'retentionScheduleFormatType':'Daily','monthsOfYear':['July',"
     "'January'],'retentionScheduleDaily':{'daysOfTheMonth':[{'date':15,'isLast':false},"
     "{'date':0,'isLast':true},{'date':1}]},"
     "'retentionDuration':{'count':10,'durationType':'Years'}}}}",
     "{'timeZone':'Europe/Berlin','schedulePolicy':{'scheduleRunFrequency':'Daily',"
     "'scheduleRunTimes':['02:30']},'instantRpRetentionRangeInDays':5,'retentionPolicy':{"
     "'dailySchedule':{'retentionDuration':{'count':180,'durationType':'Days'}},"
     "'weeklySchedule':{'daysOfTheWeek':['Sunday','Saturday'],'retentionDuration':{"
     "'count':12,'durationType':'Weeks'}},'monthlySchedule':{"
     "'retentionScheduleFormatType':'Weekly','retentionScheduleWeekly':{'daysOfTheWeek':"
     "['Sunday'],'weeksOfTheMonth':['First','Last']},'retentionDuration':{'count':60,"
     "'durationType':'Months'}},'yearlySchedule':{'retentionScheduleFormatType':'Daily',"
     "'retentionScheduleDaily':{'daysOfTheMonth':[{'date':1,'isLast':false},{'date':15,"
     "'isLast':false},{'date':0,'isLast':true}]},'monthsOfYear':['January','July'],"
     "'retentionDuration':{'count':10,'durationType':'Years'}}},'policyType':'V2'}"},
    {"weekly_gfs_at_limits",
     "{'timeZone':'America/Argentina/Buenos_Aires','schedulePolicy':{"
     "'scheduleRunFrequency':'Weekly','scheduleRunDays':['Wednesday','Sunday'],"
     "'scheduleRunTimes':['22:00']},'retentionPolicy':{"
     "'weeklySchedule':{'daysOfTheWeek':['Sunday'],'retentionDuration':{'count':5163,"
     "'durationType':'Weeks'}},"
     "'monthlySchedule':{'retentionScheduleFormatType':'Weekly','retentionScheduleWeekly':{"
     "'daysOfTheWeek':['Wednesday'],'weeksOfTheMonth':['Second','Fourth']},"
     "'retentionDuration':{'count':1188,'durationType':'Months'}},"
     "'yearlySchedule':{'retentionScheduleFormatType':'Weekly','retentionScheduleWeekly':{"
     "'daysOfTheWeek':['Sunday','Wednesday'],'weeksOfTheMonth':['Last']},"
     "'monthsOfYear':['December'],'retentionDuration':{'count':99,'durationType':'Years'}}}}",
     "{'timeZone':'America/Argentina/Buenos_Aires','schedulePolicy':{"
     "'scheduleRunFrequency':'Weekly','scheduleRunDays':['Sunday','Wednesday'],"
     "'scheduleRunTimes':['22:00']},'instantRpRetentionRangeInDays':5,'retentionPolicy':{"
     "'weeklySchedule':{'daysOfTheWeek':['Sunday'],'retentionDuration':{'count':5163,"
     "'durationType':'Weeks'}},'monthlySchedule':{'retentionScheduleFormatType':'Weekly',"
     "'retentionScheduleWeekly':{'daysOfTheWeek':['Wednesday'],'weeksOfTheMonth':"
     "['Second','Fourth']},'retentionDuration':{'count':1188,'durationType':'Months'}},"
     "'yearlySchedule':{'retentionScheduleFormatType':'Weekly','retentionScheduleWeekly':{"
     "'daysOfTheWeek':['Sunday','Wednesday'],'weeksOfTheMonth':['Last']},'monthsOfYear':"
     "['December'],'retentionDuration':{'count':99,'durationType':'Years'}}},"
     "'policyType':'V1'}"},
    {"hourly_defaults",
     "{'timeZone':'Etc/GMT+5'," SCHED_HOURLY "," RET(DAILY(7) "," WEEKLY(1)) "}",
     "{'timeZone':'Etc/GMT+5','schedulePolicy':{'scheduleRunFrequency':'Hourly',"
     "'hourlySchedule':{'interval':4,'scheduleWindowStartTime':'08:00',"
     "'scheduleWindowDuration':24}},'instantRpRetentionRangeInDays':7,'retentionPolicy':{"
     "'dailySchedule':{'retentionDuration':{'count':7,'durationType':'Days'}},"
     "'weeklySchedule':{'daysOfTheWeek':['Sunday'],'retentionDuration':{'count':1,"
     "'durationType':'Weeks'}}},'policyType':'V2'}"},
    {"hourly_datetime_window_last_day",
     "{'policyType':'V2','instantRpRetentionRangeInDays':30,'schedulePolicy':{"
     "'scheduleRunFrequency':'Hourly','hourlySchedule':{'interval':12,"
     "'scheduleWindowStartTime':'2026-01-01T20:30:00+00:00','scheduleWindowDuration':4}},"
     "'retentionPolicy':{" MONTHLY_D("[{'isLast':true}]") "}}",
     "{'timeZone':'UTC','schedulePolicy':{'scheduleRunFrequency':'Hourly','hourlySchedule':{"
     "'interval':12,'scheduleWindowStartTime':'20:30','scheduleWindowDuration':4}},"
     "'instantRpRetentionRangeInDays':30,'retentionPolicy':{'monthlySchedule':{"
     "'retentionScheduleFormatType':'Daily','retentionScheduleDaily':{'daysOfTheMonth':["
     "{'date':0,'isLast':true}]},'retentionDuration':{'count':12,'durationType':'Months'}}},"
     "'policyType':'V2'}"},
    {"nulls_are_absent",
     "{'timeZone':null,'policyType':null,'instantRpRetentionRangeInDays':null,"
     "'schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunTimes':['00:00'],"
     "'scheduleRunDays':null,'hourlySchedule':null},'retentionPolicy':{"
     "'dailySchedule':{'retentionTimes':null,'retentionDuration':{'count':9999,"
     "'durationType':'Days'}},'weeklySchedule':null,'monthlySchedule':null,"
     "'yearlySchedule':null}}",
     "{'timeZone':'UTC','schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunTimes':"
     "['00:00']},'instantRpRetentionRangeInDays':2,'retentionPolicy':{'dailySchedule':{"
     "'retentionDuration':{'count':9999,'durationType':'Days'}}},'policyType':'V1'}"},
    {"daily_several_times_sorted",
     "{'timeZone':'Europe/Berlin','schedulePolicy':{'scheduleRunFrequency':'Daily',"
     "'scheduleRunTimes':['23:30','2026-06-01T00:00:00Z','12:00','2026-01-01T06:30:00+00:00']},"
     RET(DAILY(7)) "}",
     "{'timeZone':'Europe/Berlin','schedulePolicy':{'scheduleRunFrequency':'Daily',"
     "'scheduleRunTimes':['00:00','06:30','12:00','23:30']},'instantRpRetentionRangeInDays':2,"
     "'retentionPolicy':{'dailySchedule':{'retentionDuration':{'count':7,'durationType':"
     "'Days'}}},'policyType':'V1'}"},
    {"daily_24_times_at_the_points_limit",
     "{'instantRpRetentionRangeInDays':1,'schedulePolicy':{'scheduleRunFrequency':'Daily',"
     "'scheduleRunTimes':['23:30','23:00','22:30','22:00','21:30','21:00','20:30','20:00',"
     "'19:30','19:00','18:30','18:00','17:30','17:00','16:30','16:00','15:30','15:00',"
     "'14:30','14:00','13:30','13:00','12:30','12:00']}," RET(DAILY(9976)) "}",
     "{'timeZone':'UTC','schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunTimes':["
     "'12:00','12:30','13:00','13:30','14:00','14:30','15:00','15:30','16:00','16:30','17:00',"
     "'17:30','18:00','18:30','19:00','19:30','20:00','20:30','21:00','21:30','22:00','22:30',"
     "'23:00','23:30']},'instantRpRetentionRangeInDays':1,'retentionPolicy':{'dailySchedule':{"
     "'retentionDuration':{'count':9976,'durationType':'Days'}}},'policyType':'V1'}"},
    {"yearly_only_every_month_every_week",
     "{'instantRpRetentionRangeInDays':1,'schedulePolicy':{'scheduleRunFrequency':'Daily',"
     "'scheduleRunTimes':['2024-02-29T12:00:00.0000000Z']},'retentionPolicy':{"
     "'yearlySchedule':{'retentionScheduleFormatType':'Weekly','retentionScheduleWeekly':{"
     "'daysOfTheWeek':['Saturday','Friday','Thursday','Wednesday','Tuesday','Monday',"
     "'Sunday'],'weeksOfTheMonth':['Last','Fourth','Third','Second','First']},"
     "'monthsOfYear':['December','November','October','September','August','July','June',"
     "'May','April','March','February','January'],"
     "'retentionDuration':{'count':1,'durationType':'Years'}}}}",
     "{'timeZone':'UTC','schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunTimes':"
     "['12:00']},'instantRpRetentionRangeInDays':1,'retentionPolicy':{'yearlySchedule':{"
     "'retentionScheduleFormatType':'Weekly','retentionScheduleWeekly':{'daysOfTheWeek':["
     "'Sunday','Monday','Tuesday','Wednesday','Thursday','Friday','Saturday'],"
     "'weeksOfTheMonth':['First','Second','Third','Fourth','Last']},'monthsOfYear':["
     "'January','February','March','April','May','June','July','August','September',"
     "'October','November','December'],'retentionDuration':{'count':1,'durationType':"
     "'Years'}}},'policyType':'V1'}"},
};

TEST(valid_policies_and_canonical_json)
{
    for (size_t i = 0; i < ARRAY_LEN(valid_cases); i++) {
        const struct valid_case *c = &valid_cases[i];
        struct vv_policy p;
        char err[256] = "";
        char *text;
        if (parse(c->in, &p, err, sizeof(err)) != 0) {
            vv_test_fail(__FILE__, __LINE__, "%s refused: %s", c->name, err);
            continue;
        }
        text = canon(&p);
        if (!text || strcmp(text, c->canonical) != 0)
            vv_test_fail(__FILE__, __LINE__, "%s: canonical JSON\n  got  %s\n  want %s",
                         c->name, text ? text : "(null)", c->canonical);
        free(text);
        check_round_trip(&p, c->name);
    }
}

TEST(valid_policy_fields)
{
    struct vv_policy p;
    char err[256] = "";

    CHECK_OK(parse(valid_cases[1].in, &p, err, sizeof(err)));
    CHECK(!strcmp(p.time_zone, "Europe/Berlin"));
    CHECK_EQ(p.type, VV_POLICY_V2);
    CHECK_EQ(p.frequency, VV_FREQ_DAILY);
    CHECK(p.run_times == VV_RUN_TIME(150));
    CHECK_EQ(p.run_days, 0);
    CHECK_EQ(p.hourly_interval, 0);
    CHECK_EQ(p.instant_rp_days, 5);
    CHECK(p.daily.present && p.daily.count == 180);
    CHECK(p.weekly.present && p.weekly.count == 12);
    CHECK_EQ(p.weekly.days, VV_DAY(0) | VV_DAY(6));
    CHECK(p.monthly.present && p.monthly.count == 60);
    CHECK_EQ(p.monthly.format, VV_RET_FORMAT_WEEKLY);
    CHECK_EQ(p.monthly.weeks, VV_WEEK_FIRST | VV_WEEK_LAST);
    CHECK_EQ(p.monthly.days, VV_DAY(0));
    CHECK_EQ(p.monthly.dates, 0);
    CHECK(p.yearly.present && p.yearly.count == 10);
    CHECK_EQ(p.yearly.format, VV_RET_FORMAT_DAILY);
    CHECK_EQ(p.yearly.dates, VV_DATE(1) | VV_DATE(15));
    CHECK_EQ(p.yearly.last_date, 1);
    CHECK_EQ(p.yearly.months, VV_MONTH(0) | VV_MONTH(6));
    CHECK_EQ(p.yearly.days, 0);
    CHECK_EQ(p.yearly.weeks, 0);

    CHECK_OK(parse(valid_cases[2].in, &p, err, sizeof(err)));
    CHECK_EQ(p.frequency, VV_FREQ_WEEKLY);
    CHECK_EQ(p.run_days, VV_DAY(0) | VV_DAY(3));
    CHECK(p.run_times == VV_RUN_TIME(22 * 60));
    CHECK_EQ(p.instant_rp_days, 5);
    CHECK(!p.daily.present);
    CHECK_EQ(p.monthly.weeks, VV_WEEK_SECOND | VV_WEEK_FOURTH);
    CHECK_EQ(p.yearly.months, VV_MONTH(11));

    CHECK_OK(parse(valid_cases[3].in, &p, err, sizeof(err)));
    CHECK_EQ(p.frequency, VV_FREQ_HOURLY);
    CHECK_EQ(p.type, VV_POLICY_V2);
    CHECK(p.run_times == 0);
    CHECK_EQ(p.hourly_interval, 4);
    CHECK_EQ(p.window_start, 8 * 60);
    CHECK_EQ(p.window_hours, 24);
    CHECK_EQ(p.instant_rp_days, 7);

    CHECK_OK(parse(valid_cases[4].in, &p, err, sizeof(err)));
    CHECK_EQ(p.window_start, 20 * 60 + 30);
    CHECK_EQ(p.monthly.dates, 0);
    CHECK_EQ(p.monthly.last_date, 1);

    CHECK_OK(parse(valid_cases[6].in, &p, err, sizeof(err)));
    CHECK(p.run_times == (VV_RUN_TIME(0) | VV_RUN_TIME(6 * 60 + 30) | VV_RUN_TIME(12 * 60) |
                          VV_RUN_TIME(23 * 60 + 30)));
    CHECK(p.run_times == ((uint64_t)1 | 1u << 13 | 1u << 24 | (uint64_t)1 << 47));

    CHECK_OK(parse(valid_cases[7].in, &p, err, sizeof(err)));
    CHECK(p.run_times == 0xffffff000000ull); /* 12:00 .. 23:30 */

    CHECK_OK(parse(valid_cases[8].in, &p, err, sizeof(err)));
    CHECK_EQ(p.yearly.days, VV_DAYS_ALL);
    CHECK_EQ(p.yearly.weeks, 0x1f);
    CHECK_EQ(p.yearly.months, 0xfff);
}

/* Times of day: "HH:MM" or a UTC date-time; only :00 and :30. */
TEST(run_time_forms)
{
    static const struct {
        const char *s;
        int minutes; /* -1: malformed, -2: not on the hour or half hour */
    } cases[] = {
        {"00:00", 0},
        {"02:30", 150},
        {"23:30", 1410},
        {"2026-01-01T02:30:00Z", 150},
        {"2026-01-01T02:30:00.000Z", 150},
        {"2026-01-01T02:30:00.0000000Z", 150},
        {"2026-01-01T02:30:00+00:00", 150},
        {"2024-02-29T00:00:00Z", 0},
        {"02:15", -2},
        {"02:01", -2},
        {"2026-01-01T02:30:15Z", -2},
        {"2026-01-01T02:30:00.5Z", -2},
        {"2026-01-01T02:45:00Z", -2},
        {"24:00", -1},
        {"02:60", -1},
        {"2:30", -1},
        {"02:30:00", -1},
        {"0230", -1},
        {"", -1},
        {"02:30Z", -1},
        {" 02:30", -1},
        {"2026-01-01T02:30:00", -1},
        {"2026-01-01T02:30:00+01:00", -1},
        {"2026-01-01t02:30:00z", -1},
        {"2026-01-01 02:30:00Z", -1},
        {"2026-01-01T02:30:00.Z", -1},
        {"2026-01-01T02:30:00.0000000000Z", -1},
        {"2025-02-29T02:30:00Z", -1},
        {"2026-13-01T02:30:00Z", -1},
        {"2026-00-10T02:30:00Z", -1},
        {"2026-01-00T02:30:00Z", -1},
        {"2026-01-01T02:30:60Z", -1},
        {"2026-01-01T02:30:00Z ", -1},
        {"+026-01-01T02:30:00Z", -1},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char in[512], err[256] = "", want[256];
        struct vv_policy p;
        int r;
        snprintf(in, sizeof(in),
                 "{'schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunTimes':"
                 "['%s']}," RET_DAILY30 "}",
                 cases[i].s);
        r = parse(in, &p, err, sizeof(err));
        if (cases[i].minutes >= 0) {
            if (r != 0 || p.run_times != VV_RUN_TIME(cases[i].minutes))
                vv_test_fail(__FILE__, __LINE__, "'%s': r=%d err=%s", cases[i].s, r, err);
            continue;
        }
        snprintf(want, sizeof(want),
                 cases[i].minutes == -2
                     ? "schedulePolicy.scheduleRunTimes[0]: '%s' is not on the hour or half "
                       "hour (:00 or :30)"
                     : "schedulePolicy.scheduleRunTimes[0]: '%s' is not a time like 02:30 or "
                       "2026-01-01T02:30:00Z",
                 cases[i].s);
        if (r != VV_E_INVAL || strcmp(err, want) != 0)
            vv_test_fail(__FILE__, __LINE__, "'%s': r=%d\n  got  %s\n  want %s", cases[i].s, r,
                         err, want);
    }
}

struct bad_case {
    const char *in, *err;
};

#define MD(entry) "{" SCHED_DAILY "," RET(MONTHLY_D(entry)) "}"
#define MDP "retentionPolicy.monthlySchedule.retentionScheduleDaily.daysOfTheMonth"

static const struct bad_case bad_cases[] = {
    /* the document */
    {"[]", "policy: must be a JSON object"},
    {"[{}]", "policy: must be a JSON object"},
    {"{" RET_DAILY30 "}", "schedulePolicy: missing (required)"},
    {"{" SCHED_DAILY "}", "retentionPolicy: missing (required)"},
    {"{'schedulePolicy':null," RET_DAILY30 "}", "schedulePolicy: missing (required)"},

    /* unknown fields, at every level */
    {"{" SCHED_DAILY "," RET_DAILY30 ",'retentionPolcy':{}}", "unknown field 'retentionPolcy'"},
    {"{'id':1," SCHED_DAILY "," RET_DAILY30 "}", "unknown field 'id'"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunTimes':['02:00'],"
     "'scheduleRunTime':'02:00'}," RET_DAILY30 "}",
     "unknown field 'schedulePolicy.scheduleRunTime'"},
    {"{'schedulePolicy':{'schedulePolicyType':'SimpleSchedulePolicy','scheduleRunFrequency':"
     "'Daily','scheduleRunTimes':['02:00']}," RET_DAILY30 "}",
     "unknown field 'schedulePolicy.schedulePolicyType'"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Hourly','hourlySchedule':{'interval':4,"
     "'scheduleWindowStartTime':'08:00','scheduleWindowDuration':24,'windowEnd':'20:00'}},"
     RET_DAILY30 "}",
     "unknown field 'schedulePolicy.hourlySchedule.windowEnd'"},
    {"{" SCHED_DAILY ",'retentionPolicy':{'retentionPolicyType':'LongTermRetentionPolicy',"
     DAILY(30) "}}",
     "unknown field 'retentionPolicy.retentionPolicyType'"},
    {"{" SCHED_DAILY "," RET("'dailySchedule':{'daysOfTheWeek':['Sunday']," DUR(30, "Days")
                             "}") "}",
     "unknown field 'retentionPolicy.dailySchedule.daysOfTheWeek'"},
    {"{" SCHED_DAILY "," RET("'dailySchedule':{'retentionDuration':{'count':30,"
                             "'durationType':'Days','unit':'d'}}") "}",
     "unknown field 'retentionPolicy.dailySchedule.retentionDuration.unit'"},
    {"{" SCHED_DAILY "," RET("'monthlySchedule':{'retentionScheduleFormatType':'Weekly',"
                             "'retentionScheduleWeekly':{'daysOfTheWeek':['Sunday'],"
                             "'weeksOfTheMonth':['First'],'months':['May']}," DUR(1, "Months")
                             "}") "}",
     "unknown field 'retentionPolicy.monthlySchedule.retentionScheduleWeekly.months'"},
    {MD("[{'date':1,'isLast':false,'day':1}]"), "unknown field '" MDP "[0].day'"},
    {"{" SCHED_DAILY "," RET(MONTHLY_W(1) ",'yearlySchedule':{'monthOfYear':['May']}") "}",
     "unknown field 'retentionPolicy.yearlySchedule.monthOfYear'"},
    {"{" SCHED_DAILY "," RET_DAILY30 ",'a\\u0001\\u0027\\u00e9':1}",
     "unknown field 'a????" "'"},
    {"{" SCHED_DAILY "," RET_DAILY30
     ",'abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz':1}",
     "unknown field 'abcdefghijklmnopqrstuvwxyzabcdefghijklmn...'"},

    /* wrong types */
    {"{'timeZone':5," SCHED_DAILY "," RET_DAILY30 "}", "timeZone: must be a string"},
    {"{'schedulePolicy':[]," RET_DAILY30 "}", "schedulePolicy: must be an object"},
    {"{'schedulePolicy':{'scheduleRunFrequency':1}," RET_DAILY30 "}",
     "schedulePolicy.scheduleRunFrequency: must be a string"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunTimes':'02:00'},"
     RET_DAILY30 "}",
     "schedulePolicy.scheduleRunTimes: must be an array of 1 to 24 times of day"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunTimes':[]}," RET_DAILY30
     "}",
     "schedulePolicy.scheduleRunTimes: must be an array of 1 to 24 times of day"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Weekly','scheduleRunDays':['Sunday'],"
     "'scheduleRunTimes':'02:00'}," RET(WEEKLY(1)) "}",
     "schedulePolicy.scheduleRunTimes: must be an array of exactly one time (a Weekly "
     "schedule runs once on each of its days)"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunTimes':[120]},"
     RET_DAILY30 "}",
     "schedulePolicy.scheduleRunTimes[0]: must be a string"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Hourly','hourlySchedule':[]},"
     RET_DAILY30 "}",
     "schedulePolicy.hourlySchedule: must be an object"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Hourly','hourlySchedule':{'interval':'4',"
     "'scheduleWindowStartTime':'08:00','scheduleWindowDuration':24}}," RET_DAILY30 "}",
     "schedulePolicy.hourlySchedule.interval: must be an integer"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Hourly','hourlySchedule':{'interval':4,"
     "'scheduleWindowStartTime':800,'scheduleWindowDuration':24}}," RET_DAILY30 "}",
     "schedulePolicy.hourlySchedule.scheduleWindowStartTime: must be a string"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Hourly','hourlySchedule':{'interval':4,"
     "'scheduleWindowStartTime':'08:00','scheduleWindowDuration':24.0}}," RET_DAILY30 "}",
     "schedulePolicy.hourlySchedule.scheduleWindowDuration: must be an integer"},
    {"{'instantRpRetentionRangeInDays':'2'," SCHED_DAILY "," RET_DAILY30 "}",
     "instantRpRetentionRangeInDays: must be an integer"},
    {"{'policyType':2," SCHED_DAILY "," RET_DAILY30 "}", "policyType: must be a string"},
    {"{" SCHED_DAILY ",'retentionPolicy':[]}", "retentionPolicy: must be an object"},
    {"{" SCHED_DAILY "," RET("'dailySchedule':30") "}",
     "retentionPolicy.dailySchedule: must be an object"},
    {"{" SCHED_DAILY "," RET("'dailySchedule':{'retentionDuration':30}") "}",
     "retentionPolicy.dailySchedule.retentionDuration: must be an object"},
    {"{" SCHED_DAILY "," RET("'dailySchedule':{'retentionDuration':{'count':'30',"
                             "'durationType':'Days'}}") "}",
     "retentionPolicy.dailySchedule.retentionDuration.count: must be an integer"},
    {"{" SCHED_DAILY "," RET("'dailySchedule':{'retentionDuration':{'count':30.0,"
                             "'durationType':'Days'}}") "}",
     "retentionPolicy.dailySchedule.retentionDuration.count: must be an integer"},
    {"{" SCHED_DAILY "," RET("'dailySchedule':{'retentionDuration':{'count':true,"
                             "'durationType':'Days'}}") "}",
     "retentionPolicy.dailySchedule.retentionDuration.count: must be an integer"},
    {"{" SCHED_DAILY "," RET("'dailySchedule':{'retentionDuration':{'count':30,"
                             "'durationType':['Days']}}") "}",
     "retentionPolicy.dailySchedule.retentionDuration.durationType: must be a string"},
    {"{" SCHED_DAILY "," RET("'dailySchedule':{'retentionTimes':'02:00'," DUR(30, "Days")
                             "}") "}",
     "retentionPolicy.dailySchedule.retentionTimes: must be an array of strings"},
    {"{" SCHED_DAILY "," RET("'dailySchedule':{'retentionTimes':['02:00',2]," DUR(30, "Days")
                             "}") "}",
     "retentionPolicy.dailySchedule.retentionTimes[1]: must be a string"},
    {"{" SCHED_DAILY "," RET("'weeklySchedule':{'daysOfTheWeek':'Sunday'," DUR(1, "Weeks")
                             "}") "}",
     "retentionPolicy.weeklySchedule.daysOfTheWeek: must be an array of day names (Sunday to "
     "Saturday)"},
    {"{" SCHED_DAILY "," RET("'weeklySchedule':{'daysOfTheWeek':[0]," DUR(1, "Weeks") "}") "}",
     "retentionPolicy.weeklySchedule.daysOfTheWeek[0]: must be a string"},
    {"{" SCHED_DAILY "," RET("'monthlySchedule':{'retentionScheduleFormatType':'Weekly',"
                             "'retentionScheduleWeekly':'First Sunday'," DUR(1, "Months")
                             "}") "}",
     "retentionPolicy.monthlySchedule.retentionScheduleWeekly: must be an object"},
    {"{" SCHED_DAILY "," RET("'monthlySchedule':{'retentionScheduleFormatType':1,"
                             DUR(1, "Months") "}") "}",
     "retentionPolicy.monthlySchedule.retentionScheduleFormatType: must be a string"},
    {MD("{'date':1}"), MDP ": must be an array of at least one day"},
    {MD("[1]"), MDP "[0]: must be an object like {\"date\": 1, \"isLast\": false}"},
    {MD("[{'date':'1'}]"), MDP "[0].date: must be an integer"},
    {MD("[{'date':1,'isLast':'false'}]"), MDP "[0].isLast: must be true or false"},
    {MD("[{'date':1,'isLast':0}]"), MDP "[0].isLast: must be true or false"},

    /* schedule rules */
    {"{'schedulePolicy':{'scheduleRunFrequency':'Weekly','scheduleRunDays':['Sunday'],"
     "'scheduleRunTimes':['02:00','14:00']}," RET(WEEKLY(1)) "}",
     "schedulePolicy.scheduleRunTimes: must be an array of exactly one time (a Weekly "
     "schedule runs once on each of its days)"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Weekly','scheduleRunDays':['Sunday'],"
     "'scheduleRunTimes':[]}," RET(WEEKLY(1)) "}",
     "schedulePolicy.scheduleRunTimes: must be an array of exactly one time (a Weekly "
     "schedule runs once on each of its days)"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunTimes':['00:00','00:30',"
     "'01:00','01:30','02:00','02:30','03:00','03:30','04:00','04:30','05:00','05:30','06:00',"
     "'06:30','07:00','07:30','08:00','08:30','09:00','09:30','10:00','10:30','11:00','11:30',"
     "'12:00']}," RET_DAILY30 "}",
     "schedulePolicy.scheduleRunTimes: must be an array of 1 to 24 times of day"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunTimes':['02:00',"
     "'14:00','02:00']}," RET_DAILY30 "}",
     "schedulePolicy.scheduleRunTimes[2]: '02:00' repeats 02:00 "
     "(schedulePolicy.scheduleRunTimes[0])"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunTimes':['14:00',"
     "'2026-01-01T14:00:00.000Z']}," RET_DAILY30 "}",
     "schedulePolicy.scheduleRunTimes[1]: '2026-01-01T14:00:00.000Z' repeats 14:00 "
     "(schedulePolicy.scheduleRunTimes[0])"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunTimes':['02:00',"
     "'14:15']}," RET_DAILY30 "}",
     "schedulePolicy.scheduleRunTimes[1]: '14:15' is not on the hour or half hour (:00 or "
     ":30)"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunTimes':['02:00',"
     "null]}," RET_DAILY30 "}",
     "schedulePolicy.scheduleRunTimes[1]: must be a string"},

    /* the points an item keeps at a time (retention.h, vv_retention_max_points) */
    {"{'instantRpRetentionRangeInDays':2,'schedulePolicy':{'scheduleRunFrequency':'Daily',"
     "'scheduleRunTimes':['02:00','14:00']}," RET(DAILY(9999)) "}",
     "retentionPolicy: keeps up to 10001 recovery points per item; at most 9999 allowed"},
    {"{" SCHED_DAILY "," RET("'yearlySchedule':{'retentionScheduleFormatType':'Weekly',"
                             "'retentionScheduleWeekly':{'daysOfTheWeek':['Sunday','Monday',"
                             "'Tuesday','Wednesday','Thursday','Friday','Saturday'],"
                             "'weeksOfTheMonth':['First','Second','Third','Fourth','Last']},"
                             "'monthsOfYear':['January','February','March','April','May',"
                             "'June','July','August','September','October','November',"
                             "'December']," DUR(99, "Years") "}") "}",
     "retentionPolicy: keeps up to 36160 recovery points per item; at most 9999 allowed"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Hourly','hourlySchedule':{'interval':4,"
     "'scheduleWindowStartTime':'00:00','scheduleWindowDuration':24}},"
     "'instantRpRetentionRangeInDays':30," RET(DAILY(9900)) "}",
     "retentionPolicy: keeps up to 10050 recovery points per item; at most 9999 allowed"},
    {"{'schedulePolicy':{'scheduleRunTimes':['02:00']}," RET_DAILY30 "}",
     "schedulePolicy.scheduleRunFrequency: missing (required)"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Monthly','scheduleRunTimes':['02:00']},"
     RET_DAILY30 "}",
     "schedulePolicy.scheduleRunFrequency: must be Daily, Weekly or Hourly"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'daily','scheduleRunTimes':['02:00']},"
     RET_DAILY30 "}",
     "schedulePolicy.scheduleRunFrequency: must be Daily, Weekly or Hourly"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Daily'}," RET_DAILY30 "}",
     "schedulePolicy.scheduleRunTimes: missing (required for a Daily schedule)"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Weekly','scheduleRunDays':['Sunday']},"
     RET(WEEKLY(1)) "}",
     "schedulePolicy.scheduleRunTimes: missing (required for a Weekly schedule)"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Weekly','scheduleRunTimes':['02:00']},"
     RET(WEEKLY(1)) "}",
     "schedulePolicy.scheduleRunDays: missing (required for a Weekly schedule)"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Weekly','scheduleRunDays':[],"
     "'scheduleRunTimes':['02:00']}," RET(WEEKLY(1)) "}",
     "schedulePolicy.scheduleRunDays: must name at least one day"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Weekly','scheduleRunDays':['Sunday',"
     "'Monday','Sunday'],'scheduleRunTimes':['02:00']}," RET(WEEKLY(1)) "}",
     "schedulePolicy.scheduleRunDays[2]: 'Sunday' is repeated"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Weekly','scheduleRunDays':['Sun'],"
     "'scheduleRunTimes':['02:00']}," RET(WEEKLY(1)) "}",
     "schedulePolicy.scheduleRunDays[0]: unknown day 'Sun' (Sunday to Saturday)"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Weekly','scheduleRunDays':['sunday'],"
     "'scheduleRunTimes':['02:00']}," RET(WEEKLY(1)) "}",
     "schedulePolicy.scheduleRunDays[0]: unknown day 'sunday' (Sunday to Saturday)"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunDays':['Sunday'],"
     "'scheduleRunTimes':['02:00']}," RET_DAILY30 "}",
     "schedulePolicy.scheduleRunDays: only for a Weekly schedule"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Daily','scheduleRunTimes':['02:00'],"
     "'hourlySchedule':{'interval':4}}," RET_DAILY30 "}",
     "schedulePolicy.hourlySchedule: only for an Hourly schedule"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Hourly'}," RET_DAILY30 "}",
     "schedulePolicy.hourlySchedule: missing (required for an Hourly schedule)"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Hourly','scheduleRunTimes':['08:00'],"
     "'hourlySchedule':{'interval':4,'scheduleWindowStartTime':'08:00',"
     "'scheduleWindowDuration':24}}," RET_DAILY30 "}",
     "schedulePolicy.scheduleRunTimes: not used by an Hourly schedule (set "
     "hourlySchedule.scheduleWindowStartTime)"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Hourly','scheduleRunDays':['Sunday'],"
     "'hourlySchedule':{'interval':4,'scheduleWindowStartTime':'08:00',"
     "'scheduleWindowDuration':24}}," RET_DAILY30 "}",
     "schedulePolicy.scheduleRunDays: only for a Weekly schedule"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Hourly','hourlySchedule':{"
     "'scheduleWindowStartTime':'08:00','scheduleWindowDuration':24}}," RET_DAILY30 "}",
     "schedulePolicy.hourlySchedule.interval: missing (required)"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Hourly','hourlySchedule':{'interval':4,"
     "'scheduleWindowDuration':24}}," RET_DAILY30 "}",
     "schedulePolicy.hourlySchedule.scheduleWindowStartTime: missing (required)"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Hourly','hourlySchedule':{'interval':4,"
     "'scheduleWindowStartTime':'08:00'}}," RET_DAILY30 "}",
     "schedulePolicy.hourlySchedule.scheduleWindowDuration: missing (required)"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Hourly','hourlySchedule':{'interval':5,"
     "'scheduleWindowStartTime':'08:00','scheduleWindowDuration':24}}," RET_DAILY30 "}",
     "schedulePolicy.hourlySchedule.interval: must be 4, 6, 8 or 12 hours"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Hourly','hourlySchedule':{'interval':24,"
     "'scheduleWindowStartTime':'08:00','scheduleWindowDuration':24}}," RET_DAILY30 "}",
     "schedulePolicy.hourlySchedule.interval: must be 4, 6, 8 or 12 hours"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Hourly','hourlySchedule':{'interval':4,"
     "'scheduleWindowStartTime':'08:45','scheduleWindowDuration':24}}," RET_DAILY30 "}",
     "schedulePolicy.hourlySchedule.scheduleWindowStartTime: '08:45' is not on the hour or "
     "half hour (:00 or :30)"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Hourly','hourlySchedule':{'interval':4,"
     "'scheduleWindowStartTime':'08:00','scheduleWindowDuration':3}}," RET_DAILY30 "}",
     "schedulePolicy.hourlySchedule.scheduleWindowDuration: must be 4 to 24 hours"},
    {"{'schedulePolicy':{'scheduleRunFrequency':'Hourly','hourlySchedule':{'interval':4,"
     "'scheduleWindowStartTime':'08:00','scheduleWindowDuration':25}}," RET_DAILY30 "}",
     "schedulePolicy.hourlySchedule.scheduleWindowDuration: must be 4 to 24 hours"},

    /* policy type and instant restore */
    {"{'policyType':'V1'," SCHED_HOURLY "," RET_DAILY30 "}",
     "policyType: an Hourly schedule needs V2"},
    {"{'policyType':'V3'," SCHED_DAILY "," RET_DAILY30 "}", "policyType: must be V1 or V2"},
    {"{'policyType':'v1'," SCHED_DAILY "," RET_DAILY30 "}", "policyType: must be V1 or V2"},
    {"{'instantRpRetentionRangeInDays':0," SCHED_DAILY "," RET_DAILY30 "}",
     "instantRpRetentionRangeInDays: must be 1 to 5 days for a Daily schedule"},
    {"{'instantRpRetentionRangeInDays':6," SCHED_DAILY "," RET_DAILY30 "}",
     "instantRpRetentionRangeInDays: must be 1 to 5 days for a Daily schedule"},
    {"{'instantRpRetentionRangeInDays':4," SCHED_WEEKLY "," RET(WEEKLY(1)) "}",
     "instantRpRetentionRangeInDays: must be 5 days for a Weekly schedule"},
    {"{'instantRpRetentionRangeInDays':0," SCHED_HOURLY "," RET_DAILY30 "}",
     "instantRpRetentionRangeInDays: must be 1 to 30 days for an Hourly schedule"},
    {"{'instantRpRetentionRangeInDays':31," SCHED_HOURLY "," RET_DAILY30 "}",
     "instantRpRetentionRangeInDays: must be 1 to 30 days for an Hourly schedule"},
    {"{'instantRpRetentionRangeInDays':-9223372036854775808," SCHED_HOURLY "," RET_DAILY30
     "}",
     "instantRpRetentionRangeInDays: must be 1 to 30 days for an Hourly schedule"},

    /* retention counts and units */
    {"{" SCHED_DAILY ",'retentionPolicy':{}}",
     "retentionPolicy: must keep at least one of dailySchedule, weeklySchedule, "
     "monthlySchedule or yearlySchedule"},
    {"{" SCHED_DAILY ",'retentionPolicy':{'dailySchedule':null,'weeklySchedule':null}}",
     "retentionPolicy: must keep at least one of dailySchedule, weeklySchedule, "
     "monthlySchedule or yearlySchedule"},
    {"{" SCHED_DAILY "," RET(DAILY(6)) "}",
     "retentionPolicy.dailySchedule.retentionDuration.count: must be 7 to 9999 days"},
    {"{" SCHED_DAILY "," RET(DAILY(10000)) "}",
     "retentionPolicy.dailySchedule.retentionDuration.count: must be 7 to 9999 days"},
    {"{" SCHED_DAILY "," RET(DAILY(-30)) "}",
     "retentionPolicy.dailySchedule.retentionDuration.count: must be 7 to 9999 days"},
    {"{" SCHED_DAILY "," RET(DAILY(4294967326)) "}",
     "retentionPolicy.dailySchedule.retentionDuration.count: must be 7 to 9999 days"},
    {"{" SCHED_DAILY "," RET(WEEKLY(0)) "}",
     "retentionPolicy.weeklySchedule.retentionDuration.count: must be 1 to 5163 weeks"},
    {"{" SCHED_DAILY "," RET(WEEKLY(5164)) "}",
     "retentionPolicy.weeklySchedule.retentionDuration.count: must be 1 to 5163 weeks"},
    {"{" SCHED_DAILY "," RET(MONTHLY_W(0)) "}",
     "retentionPolicy.monthlySchedule.retentionDuration.count: must be 1 to 1188 months"},
    {"{" SCHED_DAILY "," RET(MONTHLY_W(1189)) "}",
     "retentionPolicy.monthlySchedule.retentionDuration.count: must be 1 to 1188 months"},
    {"{" SCHED_DAILY "," RET(YEARLY(0)) "}",
     "retentionPolicy.yearlySchedule.retentionDuration.count: must be 1 to 99 years"},
    {"{" SCHED_DAILY "," RET(YEARLY(100)) "}",
     "retentionPolicy.yearlySchedule.retentionDuration.count: must be 1 to 99 years"},
    {"{" SCHED_DAILY "," RET("'dailySchedule':{" DUR(30, "Weeks") "}") "}",
     "retentionPolicy.dailySchedule.retentionDuration.durationType: must be Days in "
     "dailySchedule"},
    {"{" SCHED_DAILY "," RET("'weeklySchedule':{'daysOfTheWeek':['Sunday']," DUR(4, "Days")
                             "}") "}",
     "retentionPolicy.weeklySchedule.retentionDuration.durationType: must be Weeks in "
     "weeklySchedule"},
    {"{" SCHED_DAILY "," RET("'yearlySchedule':{'retentionScheduleFormatType':'Daily',"
                             "'retentionScheduleDaily':{'daysOfTheMonth':[{'date':1}]},"
                             "'monthsOfYear':['May']," DUR(1, "Months") "}") "}",
     "retentionPolicy.yearlySchedule.retentionDuration.durationType: must be Years in "
     "yearlySchedule"},
    {"{" SCHED_DAILY "," RET("'dailySchedule':{'retentionDuration':{'count':30}}") "}",
     "retentionPolicy.dailySchedule.retentionDuration.durationType: missing (required)"},
    {"{" SCHED_DAILY "," RET("'dailySchedule':{'retentionDuration':{'durationType':'Days'}}")
     "}",
     "retentionPolicy.dailySchedule.retentionDuration.count: missing (required)"},
    {"{" SCHED_DAILY "," RET("'dailySchedule':{}") "}",
     "retentionPolicy.dailySchedule.retentionDuration: missing (required)"},

    /* tier selections */
    {"{" SCHED_DAILY "," RET("'weeklySchedule':{" DUR(4, "Weeks") "}") "}",
     "retentionPolicy.weeklySchedule.daysOfTheWeek: missing (required)"},
    {"{" SCHED_DAILY "," RET("'weeklySchedule':{'daysOfTheWeek':[]," DUR(4, "Weeks") "}") "}",
     "retentionPolicy.weeklySchedule.daysOfTheWeek: must name at least one day"},
    {"{" SCHED_DAILY "," RET("'monthlySchedule':{" DUR(1, "Months") "}") "}",
     "retentionPolicy.monthlySchedule.retentionScheduleFormatType: missing (required)"},
    {"{" SCHED_DAILY "," RET("'monthlySchedule':{'retentionScheduleFormatType':'Monthly',"
                             DUR(1, "Months") "}") "}",
     "retentionPolicy.monthlySchedule.retentionScheduleFormatType: must be Weekly or Daily"},
    {"{" SCHED_DAILY "," RET("'monthlySchedule':{'retentionScheduleFormatType':'Weekly',"
                             DUR(1, "Months") "}") "}",
     "retentionPolicy.monthlySchedule.retentionScheduleWeekly: missing (required when "
     "retentionScheduleFormatType is Weekly)"},
    {"{" SCHED_DAILY "," RET("'monthlySchedule':{'retentionScheduleFormatType':'Weekly',"
                             "'retentionScheduleWeekly':{'daysOfTheWeek':['Sunday'],"
                             "'weeksOfTheMonth':['First']},'retentionScheduleDaily':{"
                             "'daysOfTheMonth':[{'date':1}]}," DUR(1, "Months") "}") "}",
     "retentionPolicy.monthlySchedule.retentionScheduleDaily: not allowed when "
     "retentionScheduleFormatType is Weekly"},
    {"{" SCHED_DAILY "," RET("'monthlySchedule':{'retentionScheduleFormatType':'Daily',"
                             DUR(1, "Months") "}") "}",
     "retentionPolicy.monthlySchedule.retentionScheduleDaily: missing (required when "
     "retentionScheduleFormatType is Daily)"},
    {"{" SCHED_DAILY "," RET("'monthlySchedule':{'retentionScheduleFormatType':'Daily',"
                             "'retentionScheduleWeekly':{'daysOfTheWeek':['Sunday'],"
                             "'weeksOfTheMonth':['First']},'retentionScheduleDaily':{"
                             "'daysOfTheMonth':[{'date':1}]}," DUR(1, "Months") "}") "}",
     "retentionPolicy.monthlySchedule.retentionScheduleWeekly: not allowed when "
     "retentionScheduleFormatType is Daily"},
    {"{" SCHED_DAILY "," RET("'monthlySchedule':{'retentionScheduleFormatType':'Weekly',"
                             "'retentionScheduleWeekly':{'daysOfTheWeek':['Sunday']},"
                             DUR(1, "Months") "}") "}",
     "retentionPolicy.monthlySchedule.retentionScheduleWeekly.weeksOfTheMonth: missing "
     "(required)"},
    {"{" SCHED_DAILY "," RET("'monthlySchedule':{'retentionScheduleFormatType':'Weekly',"
                             "'retentionScheduleWeekly':{'weeksOfTheMonth':['First']},"
                             DUR(1, "Months") "}") "}",
     "retentionPolicy.monthlySchedule.retentionScheduleWeekly.daysOfTheWeek: missing "
     "(required)"},
    {"{" SCHED_DAILY "," RET("'monthlySchedule':{'retentionScheduleFormatType':'Weekly',"
                             "'retentionScheduleWeekly':{'daysOfTheWeek':['Sunday'],"
                             "'weeksOfTheMonth':['First','Fifth']}," DUR(1, "Months") "}") "}",
     "retentionPolicy.monthlySchedule.retentionScheduleWeekly.weeksOfTheMonth[1]: unknown "
     "week 'Fifth' (First, Second, Third, Fourth or Last)"},
    {"{" SCHED_DAILY "," RET("'monthlySchedule':{'retentionScheduleFormatType':'Weekly',"
                             "'retentionScheduleWeekly':{'daysOfTheWeek':['Sunday'],"
                             "'weeksOfTheMonth':['Last','Last']}," DUR(1, "Months") "}") "}",
     "retentionPolicy.monthlySchedule.retentionScheduleWeekly.weeksOfTheMonth[1]: 'Last' is "
     "repeated"},
    {"{" SCHED_DAILY "," RET("'yearlySchedule':{'retentionScheduleFormatType':'Weekly',"
                             "'retentionScheduleWeekly':{'daysOfTheWeek':['Sunday'],"
                             "'weeksOfTheMonth':['First']}," DUR(1, "Years") "}") "}",
     "retentionPolicy.yearlySchedule.monthsOfYear: missing (required)"},
    {"{" SCHED_DAILY "," RET("'yearlySchedule':{'retentionScheduleFormatType':'Weekly',"
                             "'retentionScheduleWeekly':{'daysOfTheWeek':['Sunday'],"
                             "'weeksOfTheMonth':['First']},'monthsOfYear':[],"
                             DUR(1, "Years") "}") "}",
     "retentionPolicy.yearlySchedule.monthsOfYear: must name at least one month"},
    {"{" SCHED_DAILY "," RET("'yearlySchedule':{'retentionScheduleFormatType':'Weekly',"
                             "'retentionScheduleWeekly':{'daysOfTheWeek':['Sunday'],"
                             "'weeksOfTheMonth':['First']},'monthsOfYear':['Jan'],"
                             DUR(1, "Years") "}") "}",
     "retentionPolicy.yearlySchedule.monthsOfYear[0]: unknown month 'Jan' (January to "
     "December)"},
    {MD("[]"), MDP ": must be an array of at least one day"},
    {MD("[{'date':29}]"),
     MDP "[0].date: must be 1 to 28 (set isLast for the last day of the month)"},
    {MD("[{'date':0,'isLast':false}]"),
     MDP "[0].date: must be 1 to 28 (set isLast for the last day of the month)"},
    {MD("[{'date':31,'isLast':true}]"), MDP "[0].date: must be 0 or absent when isLast is true"},
    {MD("[{'isLast':false}]"), MDP "[0].date: missing (required unless isLast is true)"},
    {MD("[{}]"), MDP "[0].date: missing (required unless isLast is true)"},
    {MD("[{'date':5},{'date':5,'isLast':false}]"), MDP "[1]: date 5 is repeated"},
    {MD("[{'isLast':true},{'date':0,'isLast':true}]"), MDP "[1]: the last day is repeated"},

    /* rules that tie retention to a Weekly schedule */
    {"{" SCHED_WEEKLY "," RET(DAILY(30) "," WEEKLY(4)) "}",
     "retentionPolicy.dailySchedule: not allowed with a Weekly schedule (use weeklySchedule)"},
    {"{" SCHED_WEEKLY "," RET("'weeklySchedule':{'daysOfTheWeek':['Sunday','Monday'],"
                              DUR(4, "Weeks") "}") "}",
     "retentionPolicy.weeklySchedule.daysOfTheWeek: must be days the Weekly schedule runs "
     "on (schedulePolicy.scheduleRunDays)"},
    {"{" SCHED_WEEKLY "," RET("'monthlySchedule':{'retentionScheduleFormatType':'Weekly',"
                              "'retentionScheduleWeekly':{'daysOfTheWeek':['Monday'],"
                              "'weeksOfTheMonth':['First']}," DUR(1, "Months") "}") "}",
     "retentionPolicy.monthlySchedule.retentionScheduleWeekly.daysOfTheWeek: must be days "
     "the Weekly schedule runs on (schedulePolicy.scheduleRunDays)"},
    {"{" SCHED_WEEKLY "," RET("'yearlySchedule':{'retentionScheduleFormatType':'Weekly',"
                              "'retentionScheduleWeekly':{'daysOfTheWeek':['Saturday'],"
                              "'weeksOfTheMonth':['First']},'monthsOfYear':['May'],"
                              DUR(1, "Years") "}") "}",
     "retentionPolicy.yearlySchedule.retentionScheduleWeekly.daysOfTheWeek: must be days "
     "the Weekly schedule runs on (schedulePolicy.scheduleRunDays)"},
    {"{" SCHED_WEEKLY "," RET(MONTHLY_D("[{'date':1}]")) "}",
     "retentionPolicy.monthlySchedule.retentionScheduleFormatType: Daily (days of the month) "
     "needs a Daily or Hourly schedule; use Weekly"},

    /* time zones (syntax only) */
    {"{'timeZone':'/etc/passwd'," SCHED_DAILY "," RET_DAILY30 "}",
     "timeZone: '/etc/passwd' is not a zone name like Europe/Berlin (1 to 64 of A-Z a-z 0-9 _ "
     "+ - /)"},
    {"{'timeZone':'../../etc/passwd'," SCHED_DAILY "," RET_DAILY30 "}",
     "timeZone: '../../etc/passwd' is not a zone name like Europe/Berlin (1 to 64 of A-Z a-z "
     "0-9 _ + - /)"},
    {"{'timeZone':''," SCHED_DAILY "," RET_DAILY30 "}",
     "timeZone: '' is not a zone name like Europe/Berlin (1 to 64 of A-Z a-z 0-9 _ + - /)"},
    {"{'timeZone':'Europe/Z\\u00fcrich'," SCHED_DAILY "," RET_DAILY30 "}",
     "timeZone: 'Europe/Z??rich' is not a zone name like Europe/Berlin (1 to 64 of A-Z a-z "
     "0-9 _ + - /)"},
    {"{'timeZone':'Pacific Standard Time'," SCHED_DAILY "," RET_DAILY30 "}",
     "timeZone: 'Pacific Standard Time' is not a zone name like Europe/Berlin (1 to 64 of "
     "A-Z a-z 0-9 _ + - /)"},
};

TEST(refusals_name_field_and_rule)
{
    struct vv_policy def, p;
    vv_policy_default(&def);
    for (size_t i = 0; i < ARRAY_LEN(bad_cases); i++) {
        char err[512] = "";
        int r;
        p = def;
        r = parse(bad_cases[i].in, &p, err, sizeof(err));
        if (r != VV_E_INVAL || strcmp(err, bad_cases[i].err) != 0)
            vv_test_fail(__FILE__, __LINE__, "case %zu: r=%d\n  got  %s\n  want %s\n  in   %s",
                         i, r, err, bad_cases[i].err, bad_cases[i].in);
        if (!vv_policy_equal(&p, &def))
            vv_test_fail(__FILE__, __LINE__, "case %zu: output changed on failure", i);
    }
}

TEST(error_buffer_edges)
{
    struct vv_policy p;
    char small[12];
    json_t *v = J("{" SCHED_DAILY "," RET(DAILY(6)) "}");
    CHECK(v != NULL);
    CHECK_EQ(vv_policy_from_json(v, &p, NULL, 0), VV_E_INVAL);
    memset(small, 'x', sizeof(small));
    CHECK_EQ(vv_policy_from_json(v, &p, small, sizeof(small)), VV_E_INVAL);
    CHECK(!strcmp(small, "retentionPo"));
    CHECK_EQ(vv_policy_from_json(NULL, &p, small, sizeof(small)), VV_E_INVAL);
    json_decref(v);

    /* a string with a NUL inside (possible when built in C, not when parsed) */
    v = J("{" SCHED_DAILY "," RET_DAILY30 "}");
    CHECK(v != NULL);
    if (v) {
        char err[256] = "";
        CHECK_OK(json_object_set_new(v, "timeZone", json_stringn("UTC\0/x", 6)));
        CHECK_EQ(vv_policy_from_json(v, &p, err, sizeof(err)), VV_E_INVAL);
        CHECK(!strcmp(err, "timeZone: must not contain NUL characters"));
        json_decref(v);
    }
}

TEST(time_zone_names)
{
    static const char *const good[] = {
        "UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+5", "Etc/GMT-14",
        "America/Port-au-Prince", "EST5EDT", "a",
        "0123456789012345678901234567890123456789012345678901234567890123", /* 64 */
    };
    static const char *const bad[] = {
        "", "/UTC", "Europe/", "Europe//Berlin", "../etc/passwd", "Europe/../etc",
        "Europe/./Berlin", ".", "Pacific Standard Time", "Europe\\Berlin", "UTC\n", "~root",
        "01234567890123456789012345678901234567890123456789012345678901234", /* 65 */
    };
    for (size_t i = 0; i < ARRAY_LEN(good); i++)
        if (!vv_tz_name_valid(good[i]))
            vv_test_fail(__FILE__, __LINE__, "'%s' refused", good[i]);
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        if (vv_tz_name_valid(bad[i]))
            vv_test_fail(__FILE__, __LINE__, "'%s' accepted", bad[i]);
    CHECK(!vv_tz_name_valid(NULL));
}

static void write_file(const char *dir, const char *name, const char *content, size_t n)
{
    char path[4400];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK_EQ(fwrite(content, 1, n, f), n);
        fclose(f);
    }
}

TEST(time_zone_exists)
{
    const char *dir = vv_test_tmpdir();
    char path[4400], target[4400];

    /* the system's database, where the server looks */
    if (access("/usr/share/zoneinfo/Europe/Berlin", R_OK) == 0) {
        CHECK_EQ(vv_tz_exists("/usr/share/zoneinfo", "Europe/Berlin"), 1);
        CHECK_EQ(vv_tz_exists("/usr/share/zoneinfo", "Europe/Atlantis"), 0);
        CHECK_EQ(vv_tz_exists("/usr/share/zoneinfo", "Europe"), 0); /* a folder */
        CHECK_EQ(vv_tz_exists("/usr/share/zoneinfo", "../../../etc/passwd"), 0);
    } else {
        printf("note: /usr/share/zoneinfo/Europe/Berlin missing; system check skipped\n");
    }

    /* a database of our own */
    snprintf(path, sizeof(path), "%s/Europe", dir);
    CHECK_EQ(mkdir(path, 0700), 0);
    write_file(dir, "Europe/Berlin", "TZif2\0\0\0", 8);
    write_file(dir, "Fake", "# not a zone file\n", 18);
    write_file(dir, "Short", "TZi", 3);
    write_file(dir, "Empty", "", 0);
    snprintf(target, sizeof(target), "%s/Europe/Berlin", dir);
    snprintf(path, sizeof(path), "%s/Link", dir);
    CHECK_EQ(symlink(target, path), 0);
    snprintf(path, sizeof(path), "%s/Dangling", dir);
    CHECK_EQ(symlink("/nonexistent/zone", path), 0);
    snprintf(path, sizeof(path), "%s/Fifo", dir);
    CHECK_EQ(mkfifo(path, 0600), 0);

    CHECK_EQ(vv_tz_exists(dir, "Europe/Berlin"), 1);
    CHECK_EQ(vv_tz_exists(dir, "Link"), 1);
    CHECK_EQ(vv_tz_exists(dir, "Fake"), 0);
    CHECK_EQ(vv_tz_exists(dir, "Short"), 0);
    CHECK_EQ(vv_tz_exists(dir, "Empty"), 0);
    CHECK_EQ(vv_tz_exists(dir, "Dangling"), 0);
    CHECK_EQ(vv_tz_exists(dir, "Fifo"), 0); /* and does not block */
    CHECK_EQ(vv_tz_exists(dir, "Europe"), 0);
    CHECK_EQ(vv_tz_exists(dir, "Missing"), 0);
    CHECK_EQ(vv_tz_exists(dir, "/Europe/Berlin"), 0);
    CHECK_EQ(vv_tz_exists(dir, NULL), 0);
    CHECK_EQ(vv_tz_exists(NULL, "Europe/Berlin"), 0);
}

TEST(reduces_retention)
{
    struct vv_policy a, b;
    vv_policy_default(&a);
    a.weekly = (struct vv_retention){.present = 1, .count = 12, .days = VV_DAY(0) | VV_DAY(6)};
    a.monthly = (struct vv_retention){.present = 1, .count = 60,
                                      .format = VV_RET_FORMAT_WEEKLY, .days = VV_DAY(0),
                                      .weeks = VV_WEEK_FIRST | VV_WEEK_LAST};
    a.yearly = (struct vv_retention){.present = 1, .count = 10,
                                     .format = VV_RET_FORMAT_DAILY,
                                     .dates = VV_DATE(1) | VV_DATE(15), .last_date = 1,
                                     .months = VV_MONTH(0) | VV_MONTH(6)};
    a.instant_rp_days = 3;

#define EXPECT(expr, want)                                                                 \
    do {                                                                                   \
        b = a;                                                                             \
        expr;                                                                              \
        if (vv_policy_reduces_retention(&a, &b) != (want))                                 \
            vv_test_fail(__FILE__, __LINE__, "%s: want %d", #expr, want);                  \
    } while (0)

    EXPECT((void)0, 0);
    EXPECT(b.daily.count = 31, 0);
    EXPECT(b.daily.count = 29, 1);
    EXPECT(b.daily = (struct vv_retention){0}, 1);
    EXPECT(b.weekly.count = 11, 1);
    EXPECT(b.weekly.count = 5163, 0);
    EXPECT(b.weekly.days = VV_DAY(0), 1);
    EXPECT(b.weekly.days = VV_DAYS_ALL, 0);
    EXPECT(b.weekly = (struct vv_retention){0}, 1);
    EXPECT(b.monthly.weeks = VV_WEEK_FIRST, 1);
    EXPECT(b.monthly.weeks |= VV_WEEK_THIRD, 0);
    EXPECT(b.monthly.days = VV_DAY(1), 1);
    EXPECT(b.monthly.count = 59, 1);
    EXPECT((b.monthly.format = VV_RET_FORMAT_DAILY, b.monthly.days = 0, b.monthly.weeks = 0,
            b.monthly.dates = VV_DATE(1)),
           1);
    EXPECT(b.yearly.dates = VV_DATE(1), 1);
    EXPECT(b.yearly.dates |= VV_DATE(28), 0);
    EXPECT(b.yearly.last_date = 0, 1);
    EXPECT(b.yearly.months = VV_MONTH(0), 1);
    EXPECT(b.yearly.months = 0xfff, 0);
    EXPECT(b.yearly.count = 9, 1);
    EXPECT(b.yearly = (struct vv_retention){0}, 1);
    EXPECT(b.instant_rp_days = 2, 1);
    EXPECT(b.instant_rp_days = 5, 0);
    /* schedule changes alone never count */
    EXPECT((b.frequency = VV_FREQ_HOURLY, b.type = VV_POLICY_V2, b.run_times = 0,
            b.hourly_interval = 4, b.window_start = 480, b.window_hours = 24,
            b.instant_rp_days = 7),
           0);
    EXPECT((b.frequency = VV_FREQ_WEEKLY, b.run_days = VV_DAY(0), b.instant_rp_days = 5), 0);
    EXPECT(snprintf(b.time_zone, sizeof(b.time_zone), "Europe/Berlin"), 0);
    /* adding a tier to a policy without it */
    b = a;
    a.monthly = (struct vv_retention){0};
    CHECK_EQ(vv_policy_reduces_retention(&a, &b), 0);
    CHECK_EQ(vv_policy_reduces_retention(&b, &a), 1);
#undef EXPECT
}

TEST(equal_compares_every_field)
{
    struct vv_policy a, b;
    vv_policy_default(&a);
    b = a;
    CHECK(vv_policy_equal(&a, &b));
    b.time_zone[0] = 'X';
    CHECK(!vv_policy_equal(&a, &b));
    b = a;
    b.run_times = VV_RUN_TIME(150);
    CHECK(!vv_policy_equal(&a, &b));
    b = a;
    b.type = VV_POLICY_V2;
    CHECK(!vv_policy_equal(&a, &b));
    b = a;
    b.yearly.months = 1;
    CHECK(!vv_policy_equal(&a, &b));
    b = a;
    b.daily.count = 31;
    CHECK(!vv_policy_equal(&a, &b));
    b = a;
    b.monthly.last_date = 1;
    CHECK(!vv_policy_equal(&a, &b));
    vv_policy_release(&b);
    CHECK(!vv_policy_equal(&a, &b));
    CHECK_EQ(b.frequency, 0);
    vv_policy_release(&b); /* safe twice */
}
