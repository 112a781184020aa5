/*
 * tz.h: IANA time zones read from TZif files (RFC 8536 / RFC 9636), and the civil
 * (proleptic Gregorian) calendar the scheduler and the server compute with.
 *
 * A zone is made from the bytes of one TZif file, version 1, 2, 3 or 4. For v2+ files
 * the 64-bit data block is used and the footer's POSIX TZ string (with the v3
 * extensions: hours -167..167 in rule times, all-year DST) gives local time after the
 * last transition, so a zone answers for 2080 as well as for 2027. This module never
 * reads TZ, /etc/localtime or the C library's time-zone state: pure functions of the
 * zone and their arguments, except vv_tz_load, which reads one file.
 *
 * Key invariants:
 *   - a struct vv_tz is immutable once made: share it between threads freely;
 *   - every offset a zone can yield lies in -89999..93599 seconds (less than 26 h),
 *     so a local time and the instants it can name are less than 26 h apart;
 *   - instants are int64 UTC seconds (POSIX time, no leap seconds). Functions that
 *     take one clamp it to -VV_TZ_INSTANT_MAX..VV_TZ_INSTANT_MAX (about +-139,000
 *     years), so no input can overflow; a NULL zone means UTC everywhere.
 *
 * Ownership: vv_tz_parse / vv_tz_load give the caller a zone to free with vv_tz_free
 * (vv_tz_free(NULL) is a no-op). Every other pointer argument is borrowed for the
 * call; vv_tz_name's string lives as long as the zone.
 *
 * Rules for local times (vv_tz_resolve), the scheduling rule of docs/scheduling.md:
 *   - a local time that occurs once gives that instant;
 *   - one that occurs twice (clocks fall back) gives the FIRST occurrence;
 *   - one that does not occur (clocks spring forward over it, or a skipped day like
 *     Pacific/Apia's 2011-12-30) gives the first instant after the gap, which is the
 *     transition instant itself.
 */
#ifndef VV_TZ_H
#define VV_TZ_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#include "civil.h"

#define VV_TZ_INSTANT_MAX ((int64_t)0x3ffffffffff) /* 2^42 - 1 seconds */
#define VV_TZ_ABBR_MAX 16  /* longest abbreviation kept ("CEST", "+1030"), with the NUL */
#define VV_TZ_TIME_MAX 40  /* vv_tz_format's output, with the NUL */
#define VV_TZ_NAME_MAX 64 /* longest time-zone name, without the NUL */
#define VV_TZ_FILE_MAX (1u << 20) /* vv_tz_load refuses larger files (VV_E_TOOBIG) */
/* Offsets a zone may have, seconds east of UTC (RFC 8536's recommended range). */
#define VV_TZ_OFFSET_MIN (-89999)
#define VV_TZ_OFFSET_MAX 93599

/* What is in force at one instant. */
struct vv_tz_info {
    int32_t utoff;              /* seconds east of UTC */
    int isdst;                  /* 1 during daylight-saving time */
    char abbr[VV_TZ_ABBR_MAX];  /* "CEST", "+0530"; cut to VV_TZ_ABBR_MAX-1 bytes */
};

struct vv_tz; /* opaque, immutable once made, safe to share between threads */

/* ---- zones ---- */

/*
 * Make a zone from the bytes of a TZif file. name (NULL or at most VV_TZ_NAME_MAX
 * bytes, stored as given, NULL stored as "") is what vv_tz_name returns; data is
 * borrowed for the call. Returns 0 and *out (caller frees with vv_tz_free);
 * VV_E_INVAL when the bytes are not a well-formed TZif file (a short or overlong file,
 * counts that disagree, transitions out of order, a type index or abbreviation out of
 * range, an offset outside VV_TZ_OFFSET_MIN..MAX, a footer that is not a POSIX TZ
 * string); VV_E_UNSUPPORTED for a version above 4 and for leap-second ("right/")
 * zones; VV_E_NOMEM. *out is untouched on failure. Never reads outside data[0..len).
 * Instants before the first transition use time type 0; after the last one, the
 * footer (v2+), else the last transition's type (v1); a file without transitions
 * uses its footer for every instant when it has one, else type 0.
 */
int vv_tz_parse(const char *name, const uint8_t *data, size_t len, struct vv_tz **out) VV_MUST_CHECK;

/*
 * Read zoneinfo_dir/name and parse it (vv_tz_parse). name must pass vv_tz_name_valid
 * (policy.h), else VV_E_INVAL. Returns 0 and *out (caller frees with vv_tz_free);
 * VV_E_NOTFOUND when there is no such file, or it is not a regular file (a folder,
 * a FIFO: the open never blocks); VV_E_TOOBIG above VV_TZ_FILE_MAX; VV_E_IO; or
 * vv_tz_parse's codes. Logs nothing: the caller knows why it wanted the zone.
 */
int vv_tz_load(const char *zoneinfo_dir, const char *name, struct vv_tz **out) VV_MUST_CHECK;

void vv_tz_free(struct vv_tz *tz);

/* The name given to vv_tz_parse / vv_tz_load; "UTC" for NULL. Owned by tz. */
const char *vv_tz_name(const struct vv_tz *tz);

/* Seconds east of UTC in force at utc. */
int vv_tz_offset(const struct vv_tz *tz, int64_t utc) VV_MUST_CHECK;

/* Offset, DST flag and abbreviation in force at utc, into *out. */
void vv_tz_lookup(const struct vv_tz *tz, int64_t utc, struct vv_tz_info *out);

/* The wall-clock time at utc (wday filled). */
void vv_tz_to_local(const struct vv_tz *tz, int64_t utc, struct vv_civil *out);

/*
 * The instant of a local time, by the rules at the top of this file. Fields out of
 * range carry over as mktime's do (month 13 is January of the next year, day 0 the
 * last day of the month before, hour 24 the next midnight); wday is ignored.
 */
int64_t vv_tz_resolve(const struct vv_tz *tz, const struct vv_civil *local);

/*
 * The first instant after `after` at which the offset, DST flag or abbreviation may
 * change (a transition of the table or of the footer's rule), or INT64_MAX when none
 * follows. Lets a caller walk a zone's history; vv_tz_resolve uses it.
 */
int64_t vv_tz_next_transition(const struct vv_tz *tz, int64_t after);

/*
 * utc as local time in ISO 8601 / RFC 3339 form with the offset in force, always
 * numeric (never "Z"): "2027-03-28T03:00:00+02:00", "2027-01-01T00:00:00+00:00",
 * "2027-03-28T07:30:00+05:30". Years outside 0000..9999 get a sign ("+10000-01-01...")
 * and an offset with seconds (old local mean times) is written "+00:53:28".
 * Always NUL-terminated, at most VV_TZ_TIME_MAX bytes.
 */
void vv_tz_format(const struct vv_tz *tz, int64_t utc, char out[VV_TZ_TIME_MAX]);

/* 1 when name is a well-formed IANA zone name: 1 to VV_TZ_NAME_MAX characters of
 * [A-Za-z0-9_+-/], not starting or ending with '/', no empty component ("//"). So it
 * can never leave the zoneinfo folder (no '.', no leading '/'). NULL gives 0. */
int vv_tz_name_valid(const char *name) VV_MUST_CHECK;

/*
 * 1 when zoneinfo_dir/name exists, is a regular file (after symbolic links) and starts
 * with the TZif magic; else 0 (also for a malformed name, see vv_tz_name_valid).
 * The module's only I/O: opens that one file read-only and reads 4 bytes.
 * The server calls it with "/usr/share/zoneinfo".
 */
int vv_tz_exists(const char *zoneinfo_dir, const char *name) VV_MUST_CHECK;

#endif
