/*
 * tz.c: TZif zones and the civil calendar (see tz.h).
 *
 * A zone holds the 64-bit transition table of its file (the 32-bit one for v1 files),
 * its time types with their abbreviations copied in, and the footer's POSIX TZ rule
 * parsed into struct tz_posix. Nothing in a zone changes after vv_tz_parse returns,
 * and no function here keeps state between calls: every function is safe to call from
 * any thread on a shared zone.
 *
 * Local time from an instant: the last transition at or before it (binary search),
 * or the footer's rule for the year around it. An instant from a local time
 * (vv_tz_resolve): every instant that can show a local time L lies within
 * L - VV_TZ_OFFSET_MAX .. L - VV_TZ_OFFSET_MIN, so the intervals of constant offset
 * that overlap that window are walked in order; the first one that contains L - offset
 * holds the first occurrence, and failing that, the transition that jumps over L is
 * the end of the gap.
 */
#include "tz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "util.h"

/* ---- integer helpers ---- */

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static int64_t clamp_instant(int64_t t)
{
    return clamp64(t, -VV_TZ_INSTANT_MAX, VV_TZ_INSTANT_MAX);
}

/* ---- zones ---- */

struct tz_type {
    int32_t utoff;
    int isdst;
    char abbr[VV_TZ_ABBR_MAX];
};

/* One date rule of a POSIX TZ string: "Jn" (1..365, February 29 never counted), "n"
 * (0..365, counted) or "Mm.w.d" (day d of week w of month m, week 5 = the last),
 * with the local time of the change in seconds (v3: -167 h .. 167 h). */
struct tz_rule {
    char kind; /* 'J', 'D', 'M' */
    int n;     /* J, D: the day; M: the month */
    int week, wday;
    int32_t secs;
};

/* The footer: standard time, and daylight-saving time between start and end. */
struct tz_posix {
    int has_dst;
    struct tz_type std, dst;
    struct tz_rule start, end; /* start in standard time, end in daylight time */
};

/* A zone. trans and trans_type are owned by it (vv_tz_free frees them); nothing
 * points into the file's bytes. */
struct vv_tz {
    char name[VV_TZ_NAME_MAX + 1];
    size_t ntrans;
    int64_t *trans;      /* strictly ascending; NULL when ntrans is 0 */
    uint8_t *trans_type; /* index into types (checked), for each transition */
    int has_footer;      /* a non-empty footer: it rules after the last transition */
    struct tz_posix footer;
    struct tz_type types[256];
};

static const struct tz_type utc_type = {0, 0, "UTC"};

/* ---- the POSIX TZ string of the footer ---- */

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

/* A zone abbreviation: 3 or more letters, or <3 or more of A-Z a-z 0-9 + ->. */
static int posix_name(const char **s, char out[VV_TZ_ABBR_MAX])
{
    const char *p = *s;
    size_t n = 0;
    if (*p == '<') {
        for (p++; is_alpha(*p) || is_digit(*p) || *p == '+' || *p == '-'; p++, n++)
            if (n < VV_TZ_ABBR_MAX - 1)
                out[n] = *p;
        if (*p != '>' || n < 3)
            return -1;
        p++;
    } else {
        for (; is_alpha(*p); p++, n++)
            if (n < VV_TZ_ABBR_MAX - 1)
                out[n] = *p;
        if (n < 3)
            return -1;
    }
    out[n < VV_TZ_ABBR_MAX - 1 ? n : VV_TZ_ABBR_MAX - 1] = '\0';
    *s = p;
    return 0;
}

/* 1 to `maxdig` digits, at most `max`. */
static int posix_num(const char **s, int maxdig, int max, int *out)
{
    const char *p = *s;
    int v = 0, n = 0;
    for (; is_digit(*p) && n < maxdig; p++, n++)
        v = v * 10 + (*p - '0');
    if (n == 0 || v > max || is_digit(*p))
        return -1;
    *out = v;
    *s = p;
    return 0;
}

/* [+-]hh[:mm[:ss]], hours 0..max_hours, into signed seconds. */
static int posix_hms(const char **s, int max_hours, int32_t *out)
{
    const char *p = *s;
    int sign = 1, h, m = 0, sec = 0;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (posix_num(&p, 3, max_hours, &h) < 0)
        return -1;
    if (*p == ':') {
        p++;
        if (posix_num(&p, 2, 59, &m) < 0)
            return -1;
        if (*p == ':') {
            p++;
            if (posix_num(&p, 2, 59, &sec) < 0)
                return -1;
        }
    }
    *out = sign * (h * 3600 + m * 60 + sec);
    *s = p;
    return 0;
}

static int posix_rule(const char **s, struct tz_rule *r)
{
    const char *p = *s;
    memset(r, 0, sizeof(*r));
    if (*p == 'J') {
        p++;
        r->kind = 'J';
        if (posix_num(&p, 3, 365, &r->n) < 0 || r->n < 1)
            return -1;
    } else if (*p == 'M') {
        p++;
        r->kind = 'M';
        if (posix_num(&p, 2, 12, &r->n) < 0 || r->n < 1 || *p++ != '.' ||
            posix_num(&p, 1, 5, &r->week) < 0 || r->week < 1 || *p++ != '.' ||
            posix_num(&p, 1, 6, &r->wday) < 0)
            return -1;
    } else {
        r->kind = 'D';
        if (posix_num(&p, 3, 365, &r->n) < 0)
            return -1;
    }
    r->secs = 2 * 3600;
    if (*p == '/') {
        p++;
        if (posix_hms(&p, 167, &r->secs) < 0)
            return -1;
    }
    *s = p;
    return 0;
}

static int offset_ok(int32_t utoff)
{
    return utoff >= VV_TZ_OFFSET_MIN && utoff <= VV_TZ_OFFSET_MAX;
}

/* "std offset [dst [offset] ,start[/time],end[/time]]", the whole string. A DST name
 * without rules is refused: TZif footers always spell the rules out. */
static int posix_parse(const char *s, struct tz_posix *out)
{
    struct tz_posix z;
    int32_t off;

    memset(&z, 0, sizeof(z));
    if (posix_name(&s, z.std.abbr) < 0 || posix_hms(&s, 24, &off) < 0)
        return -1;
    z.std.utoff = -off; /* POSIX counts west of Greenwich */
    if (*s) {
        z.has_dst = 1;
        z.dst.isdst = 1;
        if (posix_name(&s, z.dst.abbr) < 0)
            return -1;
        if (*s == '+' || *s == '-' || is_digit(*s)) {
            if (posix_hms(&s, 24, &off) < 0)
                return -1;
            z.dst.utoff = -off;
        } else {
            z.dst.utoff = z.std.utoff + 3600;
        }
        if (*s++ != ',' || posix_rule(&s, &z.start) < 0 || *s++ != ',' ||
            posix_rule(&s, &z.end) < 0)
            return -1;
    }
    if (*s || !offset_ok(z.std.utoff) || (z.has_dst && !offset_ok(z.dst.utoff)))
        return -1;
    *out = z;
    return 0;
}

/* The day (since 1970-01-01) a rule names in year y. */
static int64_t rule_day(const struct tz_rule *r, int64_t y)
{
    int64_t jan1 = vv_days_from_civil(y, 1, 1), first;
    int day;
    switch (r->kind) {
    case 'J':
        return jan1 + r->n - 1 + (vv_is_leap_year(y) && r->n >= 60);
    case 'D':
        return jan1 + r->n;
    default:
        first = vv_days_from_civil(y, r->n, 1);
        day = (r->wday - vv_weekday(first) + 7) % 7 + (r->week - 1) * 7;
        while (day >= vv_days_in_month(y, r->n))
            day -= 7;
        return first + day;
    }
}

/* The footer's two changes of year y, as UTC instants. */
static void rule_changes(const struct tz_posix *z, int64_t y, int64_t *start, int64_t *end)
{
    *start = rule_day(&z->start, y) * 86400 + z->start.secs - z->std.utoff;
    *end = rule_day(&z->end, y) * 86400 + z->end.secs - z->dst.utoff;
}

static int64_t year_of(int64_t t)
{
    struct vv_civil c;
    vv_civil_from_days(vv_floor_div(t, 86400), &c);
    return c.year;
}

/* The footer's type at t (clamped). The changes of the two years before and the year
 * after are looked at too: rule times reach 167 h past their day. When a change to
 * standard time and one to daylight time fall on the same instant, daylight time wins
 * (v3's all-year DST: "EST5EDT4,0/0,J365/25"). */
static const struct tz_type *footer_type(const struct tz_posix *z, int64_t t)
{
    int64_t y = year_of(t), best = INT64_MIN, s, e;
    int dst = 0;
    if (!z->has_dst)
        return &z->std;
    for (int64_t k = y - 2; k <= y + 1; k++) {
        rule_changes(z, k, &s, &e);
        if (e <= t && e > best) {
            best = e;
            dst = 0;
        }
        if (s <= t && s >= best) {
            best = s;
            dst = 1;
        }
    }
    return dst ? &z->dst : &z->std;
}

/* The footer's first change after t, or INT64_MAX. */
static int64_t footer_next(const struct tz_posix *z, int64_t t)
{
    int64_t y = year_of(t), best = INT64_MAX, s, e;
    if (!z->has_dst)
        return INT64_MAX;
    for (int64_t k = y - 1; k <= y + 2; k++) {
        rule_changes(z, k, &s, &e);
        if (s > t && s < best)
            best = s;
        if (e > t && e < best)
            best = e;
    }
    return best;
}

/* ---- lookups ---- */

static const struct tz_type *type_at(const struct vv_tz *tz, int64_t t)
{
    size_t lo, hi;
    if (!tz)
        return &utc_type;
    t = clamp_instant(t);
    if (tz->ntrans == 0)
        return tz->has_footer ? footer_type(&tz->footer, t) : &tz->types[0];
    if (t < tz->trans[0])
        return &tz->types[0];
    if (t >= tz->trans[tz->ntrans - 1] && tz->has_footer)
        return footer_type(&tz->footer, t);
    /* the last transition at or before t: trans[lo] <= t < trans[hi] */
    lo = 0;
    hi = tz->ntrans;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return &tz->types[tz->trans_type[lo]];
}

int64_t vv_tz_next_transition(const struct vv_tz *tz, int64_t after)
{
    int64_t t;
    if (!tz || after >= VV_TZ_INSTANT_MAX)
        return INT64_MAX;
    if (tz->ntrans > 0 && after < tz->trans[tz->ntrans - 1]) {
        size_t lo = 0, hi = tz->ntrans - 1; /* the first transition > after */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (tz->trans[mid] > after)
                hi = mid;
            else
                lo = mid + 1;
        }
        t = tz->trans[lo];
    } else if (tz->has_footer) {
        t = footer_next(&tz->footer, clamp_instant(after));
    } else {
        return INT64_MAX;
    }
    return t > VV_TZ_INSTANT_MAX ? INT64_MAX : t;
}

int vv_tz_offset(const struct vv_tz *tz, int64_t utc) { return type_at(tz, utc)->utoff; }

void vv_tz_lookup(const struct vv_tz *tz, int64_t utc, struct vv_tz_info *out)
{
    const struct tz_type *t = type_at(tz, utc);
    out->utoff = t->utoff;
    out->isdst = t->isdst;
    memcpy(out->abbr, t->abbr, sizeof(out->abbr));
}

void vv_tz_to_local(const struct vv_tz *tz, int64_t utc, struct vv_civil *out)
{
    utc = clamp_instant(utc);
    vv_civil_from_seconds(utc + vv_tz_offset(tz, utc), out);
}

int64_t vv_tz_resolve(const struct vv_tz *tz, const struct vv_civil *local)
{
    int64_t l = clamp_instant(vv_civil_to_seconds(local));
    int64_t s = l - VV_TZ_OFFSET_MAX - 1, hi = l - VV_TZ_OFFSET_MIN, gap = INT64_MAX, e, c;
    int32_t off, off2;

    if (!tz)
        return l;
    /* Each pass: [s, e) has the offset off. */
    off = vv_tz_offset(tz, s);
    for (;;) {
        e = vv_tz_next_transition(tz, s);
        c = l - off;
        if (c >= s && c < e)
            return c; /* the first instant that shows l */
        if (e > hi)
            break;
        off2 = vv_tz_offset(tz, e);
        if (gap == INT64_MAX && e + off <= l && l < e + off2)
            gap = e; /* the clocks jump over l at e */
        s = e;
        off = off2;
    }
    return gap != INT64_MAX ? gap : l - vv_tz_offset(tz, l);
}

const char *vv_tz_name(const struct vv_tz *tz) { return tz ? tz->name : "UTC"; }

void vv_tz_format(const struct vv_tz *tz, int64_t utc, char out[VV_TZ_TIME_MAX])
{
    struct vv_civil c;
    int off, a;
    char sign, secs[8] = "";

    utc = clamp_instant(utc);
    off = vv_tz_offset(tz, utc);
    vv_civil_from_seconds(utc + off, &c);
    sign = off < 0 ? '-' : '+';
    a = off < 0 ? -off : off;
    if (a % 60)
        snprintf(secs, sizeof(secs), ":%02d", a % 60);
    snprintf(out, VV_TZ_TIME_MAX,
             c.year >= 0 && c.year <= 9999 ? "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d%s"
                                           : "%+05d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d%s",
             c.year, c.month, c.day, c.hour, c.minute, c.second, sign, a / 3600, a / 60 % 60,
             secs);
}

/* ---- TZif ---- */

struct tzif_header {
    int version; /* 1..4 */
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

#define TZIF_HEADER 44

/* The header at p (len bytes left). */
static int read_header(const uint8_t *p, size_t len, struct tzif_header *h)
{
    if (len < TZIF_HEADER || memcmp(p, "TZif", 4) != 0)
        return VV_E_INVAL;
    switch (p[4]) {
    case 0:
        h->version = 1;
        break;
    case '2':
    case '3':
    case '4':
        h->version = p[4] - '0';
        break;
    default:
        return p[4] >= '5' && p[4] <= '9' ? VV_E_UNSUPPORTED : VV_E_INVAL;
    }
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    return 0;
}

/* Bytes of the data block that follows a header, with tsize-byte times. */
static uint64_t block_size(const struct tzif_header *h, unsigned tsize)
{
    return (uint64_t)h->timecnt * tsize + h->timecnt + (uint64_t)h->typecnt * 6 + h->charcnt +
           (uint64_t)h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

/* The data block at p (block_size bytes, checked by the caller) into tz. */
static int read_block(const struct tzif_header *h, unsigned tsize, const uint8_t *p,
                      struct vv_tz *tz)
{
    const uint8_t *times = p, *idx = times + (size_t)h->timecnt * tsize,
                  *types = idx + h->timecnt, *chars = types + (size_t)h->typecnt * 6,
                  *leaps = chars + h->charcnt,
                  *isstd = leaps + (size_t)h->leapcnt * (tsize + 4),
                  *isut = isstd + h->isstdcnt;

    if (h->typecnt == 0 || h->typecnt > 256 || h->charcnt == 0 ||
        (h->isstdcnt != 0 && h->isstdcnt != h->typecnt) ||
        (h->isutcnt != 0 && h->isutcnt != h->typecnt))
        return VV_E_INVAL;

    for (uint32_t i = 0; i < h->typecnt; i++) {
        const uint8_t *t = types + (size_t)i * 6;
        int32_t utoff = (int32_t)be32(t);
        const uint8_t *end;
        size_t n;
        if (!offset_ok(utoff) || t[4] > 1 || t[5] >= h->charcnt)
            return VV_E_INVAL;
        end = memchr(chars + t[5], '\0', h->charcnt - t[5]);
        if (!end)
            return VV_E_INVAL; /* designation not NUL-terminated */
        n = (size_t)(end - (chars + t[5]));
        if (n > VV_TZ_ABBR_MAX - 1)
            n = VV_TZ_ABBR_MAX - 1;
        tz->types[i].utoff = utoff;
        tz->types[i].isdst = t[4];
        memcpy(tz->types[i].abbr, chars + t[5], n);
        tz->types[i].abbr[n] = '\0';
    }

    for (uint32_t i = 0; i < h->typecnt; i++) {
        int std = h->isstdcnt ? isstd[i] : 0, ut = h->isutcnt ? isut[i] : 0;
        if (std > 1 || ut > 1 || (ut && !std))
            return VV_E_INVAL;
    }
    if (h->leapcnt)
        return VV_E_UNSUPPORTED; /* POSIX time has no leap seconds: right/ zones */

    tz->ntrans = h->timecnt;
    if (h->timecnt) {
        tz->trans = malloc((size_t)h->timecnt * sizeof(int64_t));
        tz->trans_type = malloc(h->timecnt);
        if (!tz->trans || !tz->trans_type)
            return VV_E_NOMEM;
    }
    for (uint32_t i = 0; i < h->timecnt; i++) {
        const uint8_t *t = times + (size_t)i * tsize;
        tz->trans[i] = tsize == 8 ? be64(t) : (int64_t)(int32_t)be32(t);
        if (i > 0 && tz->trans[i] <= tz->trans[i - 1])
            return VV_E_INVAL; /* not strictly ascending */
        if (idx[i] >= h->typecnt)
            return VV_E_INVAL;
        tz->trans_type[i] = idx[i];
    }
    return 0;
}

/* The v2+ footer: "\n" TZ-string "\n", exactly the rest of the file. */
static int read_footer(const uint8_t *p, size_t len, struct vv_tz *tz)
{
    char s[256];
    size_t n;
    if (len < 2 || p[0] != '\n' || p[len - 1] != '\n' || len - 2 >= sizeof(s))
        return VV_E_INVAL;
    n = len - 2;
    for (size_t i = 0; i < n; i++)
        if (p[1 + i] < 0x20 || p[1 + i] >= 0x7f)
            return VV_E_INVAL;
    memcpy(s, p + 1, n);
    s[n] = '\0';
    if (n == 0)
        return 0; /* an empty footer: no rule */
    if (posix_parse(s, &tz->footer) < 0)
        return VV_E_INVAL;
    tz->has_footer = 1;
    return 0;
}

void vv_tz_free(struct vv_tz *tz)
{
    if (!tz)
        return;
    free(tz->trans);
    free(tz->trans_type);
    free(tz);
}

int vv_tz_parse(const char *name, const uint8_t *data, size_t len, struct vv_tz **out)
{
    struct tzif_header h1, h2;
    struct vv_tz *tz;
    uint64_t size1, size2, off;
    int r;

    if (name && strlen(name) > VV_TZ_NAME_MAX)
        return VV_E_INVAL;
    if (!data)
        return VV_E_INVAL;
    if ((r = read_header(data, len, &h1)) < 0)
        return r;
    size1 = block_size(&h1, 4);
    if (size1 > len - TZIF_HEADER)
        return VV_E_INVAL;
    tz = calloc(1, sizeof(*tz));
    if (!tz)
        return VV_E_NOMEM;
    snprintf(tz->name, sizeof(tz->name), "%s", name ? name : "");

    if (h1.version == 1) {
        r = size1 != len - TZIF_HEADER ? VV_E_INVAL
                                       : read_block(&h1, 4, data + TZIF_HEADER, tz);
    } else {
        /* the v1 block is there for old readers: skipped */
        off = TZIF_HEADER + size1;
        r = read_header(data + off, len - off, &h2);
        if (r == 0 && h2.version != h1.version)
            r = VV_E_INVAL;
        if (r == 0) {
            off += TZIF_HEADER;
            size2 = block_size(&h2, 8);
            if (size2 > len - off)
                r = VV_E_INVAL;
            else if ((r = read_block(&h2, 8, data + off, tz)) == 0)
                r = read_footer(data + off + size2, len - off - size2, tz);
        }
    }
    if (r < 0) {
        vv_tz_free(tz);
        return r;
    }
    *out = tz;
    return 0;
}

int vv_tz_load(const char *zoneinfo_dir, const char *name, struct vv_tz **out)
{
    char path[VV_PATH_MAX];
    struct stat st;
    uint8_t *buf;
    size_t got = 0, cap;
    int fd, r, n;

    if (!zoneinfo_dir || !vv_tz_name_valid(name))
        return VV_E_INVAL;
    n = snprintf(path, sizeof(path), "%s/%s", zoneinfo_dir, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return VV_E_INVAL;
    /* O_NONBLOCK: a FIFO planted there must not block the open. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? VV_E_NOTFOUND : VV_E_IO;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return VV_E_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return VV_E_NOTFOUND;
    }
    if (st.st_size > (off_t)VV_TZ_FILE_MAX) {
        close(fd);
        return VV_E_TOOBIG;
    }
    /* one byte more than fstat saw, to notice a file that changed meanwhile */
    cap = (size_t)st.st_size + 1;
    buf = malloc(cap);
    if (!buf) {
        close(fd);
        return VV_E_NOMEM;
    }
    for (;;) {
        ssize_t k = read(fd, buf + got, cap - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 || (size_t)k == cap - got) {
            free(buf); /* a read error, or the file grew */
            close(fd);
            return VV_E_IO;
        }
        if (k == 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    r = vv_tz_parse(name, buf, got, out);
    free(buf);
    return r;
}

/* ---- names and files ---- */

int vv_tz_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > VV_TZ_NAME_MAX || name[0] == '/' || name[n - 1] == '/' ||
        strstr(name, "//"))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '+' || c == '-' || c == '/'))
            return 0;
    }
    return 1;
}

int vv_tz_exists(const char *zoneinfo_dir, const char *name)
{
    char path[VV_PATH_MAX];
    unsigned char magic[4];
    struct stat st;
    ssize_t n;
    int fd, ok = 0, len;

    if (!zoneinfo_dir || !vv_tz_name_valid(name))
        return 0;
    len = snprintf(path, sizeof(path), "%s/%s", zoneinfo_dir, name);
    if (len < 0 || (size_t)len >= sizeof(path))
        return 0;
    /* O_NONBLOCK: a FIFO planted there must not block the open. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        do
            n = pread(fd, magic, sizeof(magic), 0);
        while (n < 0 && errno == EINTR);
        ok = n == (ssize_t)sizeof(magic) && !memcmp(magic, "TZif", 4);
    }
    close(fd);
    return ok;
}
