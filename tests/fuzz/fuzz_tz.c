/*
 * fuzz_tz.c: vv_tz_parse on untrusted bytes, twice: the input as a whole TZif file,
 * and the input as the POSIX TZ string of a footer wrapped in a minimal v3 file (so
 * the footer parser is reached without a valid table).
 *
 * A refusal is VV_E_INVAL, VV_E_UNSUPPORTED or VV_E_NOMEM and leaves the output
 * alone. A zone that parses keeps its promises at instants from a fixed list and from
 * its own transitions: offsets within VV_TZ_OFFSET_MIN..MAX; the next transition is
 * later; an instant's local time resolves to that instant or an earlier one showing
 * the same local time; a local time in a gap resolves to the gap's end; the formatted
 * time is NUL-terminated within VV_TZ_TIME_MAX; a Daily schedule in the zone runs
 * strictly later each time.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "policy/schedule.h"
#include "policy/tz.h"

static void check_instant(const struct vv_tz *tz, int64_t t)
{
    struct vv_civil c, back;
    struct vv_tz_info info;
    char text[VV_TZ_TIME_MAX];
    int64_t r, next;
    int off = vv_tz_offset(tz, t);

    if (off < VV_TZ_OFFSET_MIN || off > VV_TZ_OFFSET_MAX)
        abort();
    vv_tz_lookup(tz, t, &info);
    if (info.utoff != off || (info.isdst != 0 && info.isdst != 1) ||
        !memchr(info.abbr, '\0', sizeof(info.abbr)))
        abort();
    next = vv_tz_next_transition(tz, t);
    if (next <= t && next != INT64_MAX)
        abort();
    vv_tz_format(tz, t, text);
    if (!memchr(text, '\0', sizeof(text)))
        abort();
    if (t < -VV_TZ_INSTANT_MAX + 4 * 86400 || t > VV_TZ_INSTANT_MAX - 4 * 86400)
        return;
    /* t shows c, so c's first occurrence is t or earlier (by less than 2 days) */
    vv_tz_to_local(tz, t, &c);
    r = vv_tz_resolve(tz, &c);
    vv_tz_to_local(tz, r, &back);
    if (r > t || r < t - 2 * 86400 || vv_civil_to_seconds(&back) != vv_civil_to_seconds(&c))
        abort();
    /* the first wall time the clocks skip at the next transition, if they jump: it
     * resolves to an instant showing it or, when none does, to a transition after
     * which the clock shows a later time */
    if (next != INT64_MAX && next < VV_TZ_INSTANT_MAX - 4 * 86400) {
        int before = vv_tz_offset(tz, next - 1), after = vv_tz_offset(tz, next);
        if (after > before) {
            int64_t l = next + before;
            vv_civil_from_seconds(l, &c);
            r = vv_tz_resolve(tz, &c);
            vv_tz_to_local(tz, r, &back);
            if (vv_civil_to_seconds(&back) < l ||
                (vv_civil_to_seconds(&back) != l && vv_tz_next_transition(tz, r - 1) != r))
                abort();
        }
    }
}

static void check_zone(const struct vv_tz *tz)
{
    static const int64_t fixed[] = {0,           -1,          1806195600, 1824944400,
                                    3502396800,  -2208988800, 2147483647, -2147483648LL,
                                    253402300799, -62135596800};
    struct vv_policy p;
    int64_t t, prev;

    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        check_instant(tz, fixed[i]);
    /* the first transitions after 1900, and the second around each */
    t = -2208988800;
    for (int i = 0; i < 64; i++) {
        t = vv_tz_next_transition(tz, t);
        if (t == INT64_MAX)
            break;
        check_instant(tz, t - 1);
        check_instant(tz, t);
    }
    check_instant(tz, INT64_MIN);
    check_instant(tz, INT64_MAX);

    /* a schedule in the zone: ten runs, each later than the one before */
    memset(&p, 0, sizeof(p));
    p.frequency = VV_FREQ_DAILY;
    p.run_times = VV_RUN_TIME(0) | VV_RUN_TIME(150) | VV_RUN_TIME(840);
    prev = t = 1806195600 - 3 * 86400;
    for (int i = 0; i < 10; i++) {
        t = vv_schedule_next(&p, tz, t);
        if (t <= prev || t == VV_SCHEDULE_NONE)
            abort();
        prev = t;
    }
}

static void parse_and_check(const uint8_t *data, size_t size)
{
    struct vv_tz *tz = (struct vv_tz *)&tz, *sentinel = tz;
    int r = vv_tz_parse("Fuzz/Zone", data, size, &tz);
    if (r != 0) {
        if ((r != VV_E_INVAL && r != VV_E_UNSUPPORTED && r != VV_E_NOMEM) || tz != sentinel)
            abort();
        return;
    }
    if (strcmp(vv_tz_name(tz), "Fuzz/Zone") != 0)
        abort();
    check_zone(tz);
    vv_tz_free(tz);
}

/* A v3 file: no transitions, one type (UTC), the footer `s`. */
static size_t wrap_footer(const uint8_t *s, size_t n, uint8_t *out)
{
    static const uint8_t block[] = {
        'T', 'Z', 'i', 'f', '3', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, /* isutcnt */ 0, 0, 0, 0, /* isstdcnt */ 0, 0, 0, 0, /* leapcnt */
        0, 0, 0, 0, /* timecnt */ 0, 0, 0, 1, /* typecnt */ 0, 0, 0, 4, /* charcnt */
        0, 0, 0, 0, 0, 0, /* utoff 0, isdst 0, index 0 */ 'U', 'T', 'C', 0};
    size_t k = 0;
    memcpy(out + k, block, sizeof(block));
    k += sizeof(block);
    memcpy(out + k, block, sizeof(block));
    k += sizeof(block);
    out[k++] = '\n';
    memcpy(out + k, s, n);
    k += n;
    out[k++] = '\n';
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse_and_check(data, size);
    if (size <= 255 && !memchr(data, '\n', size)) {
        uint8_t *file = malloc(2 * 54 + size + 2);
        size_t n;
        if (!file)
            return 0;
        n = wrap_footer(data, size, file);
        parse_and_check(file, n);
        free(file);
    }
    return 0;
}
