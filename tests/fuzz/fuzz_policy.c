/*
 * fuzz_policy.c: vv_policy_from_json on untrusted bytes. A refusal says why and leaves
 * the output alone; a policy that parses keeps the documented invariants (among them
 * at most VV_POLICY_MAX_POINTS points kept), turns into canonical JSON that parses
 * back to the same policy and the same text, never reduces retention compared with
 * itself, and has a schedule whose runs (in UTC) are strictly ascending, as many a
 * day as vv_schedule_runs_per_day says, and the same through vv_schedule_next and
 * vv_schedule_runs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "policy/policy.h"
#include "policy/retention.h"
#include "policy/schedule.h"

static int popcount(uint64_t v)
{
    int n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

/* Two weeks of runs from 2027-03-20 (UTC: no DST), both ways. */
static void check_schedule(const struct vv_policy *p)
{
    int64_t from = 1805500800, to = from + 14 * 86400, runs[24 * 14 + 1], t = from;
    size_t n = vv_schedule_runs(p, NULL, from, to, runs, sizeof(runs) / sizeof(runs[0]));
    unsigned per_day = vv_schedule_runs_per_day(p);
    size_t want = 0;
    for (int wday = 0; wday < 7; wday++)
        want += vv_schedule_runs_on(p, wday) ? 2u * per_day : 0u;
    if (per_day == 0 || n != want)
        abort();
    for (size_t i = 0; i < n; i++) {
        t = vv_schedule_next(p, NULL, t);
        if (t != runs[i] || t <= from || t > to || (i > 0 && runs[i] <= runs[i - 1]))
            abort();
    }
}

static void check_invariants(const struct vv_policy *p)
{
    const struct vv_retention *tiers[] = {&p->daily, &p->weekly, &p->monthly, &p->yearly};
    int any = 0;
    if (!vv_tz_name_valid(p->time_zone))
        abort();
    if (p->type != VV_POLICY_V1 && p->type != VV_POLICY_V2)
        abort();
    switch (p->frequency) {
    case VV_FREQ_DAILY:
        if (p->run_days || p->hourly_interval || p->instant_rp_days < 1 ||
            p->instant_rp_days > 5 || popcount(p->run_times) < 1 ||
            popcount(p->run_times) > VV_RUN_TIMES_MAX)
            abort();
        break;
    case VV_FREQ_WEEKLY:
        if (!p->run_days || (p->run_days & ~VV_DAYS_ALL) || p->instant_rp_days != 5 ||
            p->daily.present || popcount(p->run_times) != 1)
            abort();
        break;
    case VV_FREQ_HOURLY:
        if (p->type != VV_POLICY_V2 || p->run_times || p->window_hours < 4 ||
            p->window_hours > 24 || p->window_start % 30 || p->window_start >= 1440 ||
            p->instant_rp_days < 1 || p->instant_rp_days > 30)
            abort();
        break;
    default:
        abort();
    }
    if (p->run_times >> 48)
        abort(); /* only the 48 half hours of a day */
    for (int i = 0; i < 4; i++) {
        const struct vv_retention *t = tiers[i];
        any |= t->present;
        if (!t->present && (t->count || t->days || t->weeks || t->dates || t->months))
            abort();
        if (t->present && (!t->count || (t->dates & 1u) || (t->dates >> 29)))
            abort();
    }
    if (!any)
        abort();
    if (vv_retention_max_points(p) > VV_POLICY_MAX_POINTS)
        abort();
    check_schedule(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vv_policy p, p2, sentinel;
    char err[256], jerr[160];
    json_t *in = vv_json_parse(data, size, jerr, sizeof(jerr)), *out;
    char *t1, *t2;
    int r;

    if (!in)
        return 0;
    memset(&sentinel, 0xa5, sizeof(sentinel));
    p = sentinel;
    err[0] = '\0';
    r = vv_policy_from_json(in, &p, err, sizeof(err));
    json_decref(in);
    if (r != 0) {
        if ((r != VV_E_INVAL && r != VV_E_NOMEM) || !err[0] ||
            memcmp(&p, &sentinel, sizeof(p)) != 0)
            abort();
        for (const char *c = err; *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
                abort(); /* one line of ASCII */
        return 0;
    }
    check_invariants(&p);
    if (vv_policy_reduces_retention(&p, &p))
        abort();
    out = vv_policy_to_json(&p);
    if (!out)
        abort();
    if (vv_policy_from_json(out, &p2, err, sizeof(err)) != 0 || !vv_policy_equal(&p, &p2))
        abort();
    t1 = vv_json_dump(out);
    json_decref(out);
    out = vv_policy_to_json(&p2);
    if (!out)
        abort();
    t2 = vv_json_dump(out);
    json_decref(out);
    if (!t1 || !t2 || strcmp(t1, t2) != 0)
        abort();
    free(t1);
    free(t2);
    return 0;
}
