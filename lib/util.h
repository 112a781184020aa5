/*
 * util.h: small pure helpers shared by every module: little-endian fields, hex,
 * sizes with suffixes, UTC timestamps, whole-file reads with a cap.
 */
#ifndef VV_UTIL_H
#define VV_UTIL_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

static inline void vv_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void vv_put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t vv_get_le32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static inline uint64_t vv_get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Lower-case hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void vv_hex_encode(const uint8_t *in, size_t n, char *out);
/* Parse exactly 2n hex digits (either case) into out. Returns 0 or VV_E_INVAL. */
int vv_hex_decode(const char *in, uint8_t *out, size_t n) VV_MUST_CHECK;
/* Standard base64 (RFC 4648, '=' padding optional) into at most cap bytes; the
 * length into *outlen. VV_E_INVAL on a character outside the alphabet, VV_E_TOOBIG
 * when the data does not fit. */
int vv_base64_decode(const char *in, uint8_t *out, size_t cap, size_t *outlen) VV_MUST_CHECK;

/* Parse "4096", "256K", "4M", "1G", "2T" (binary units, optional "iB"/"B").
 * Returns 0 or VV_E_INVAL (garbage, overflow). */
int vv_parse_size(const char *s, uint64_t *out) VV_MUST_CHECK;
/* Parse a decimal unsigned integer with no sign, no suffix. Returns 0 or VV_E_INVAL. */
int vv_parse_u64(const char *s, uint64_t *out) VV_MUST_CHECK;

/* Format t as "2026-11-27T18:37:28Z" into out (at least 21 bytes). */
void vv_time_format(time_t t, char *out, size_t outlen);
/* The same, but t == 0 (no time) gives "". */
void vv_time_format_or_empty(time_t t, char out[32]);
/* Parse that form (only UTC "Z"). Returns 0 or VV_E_INVAL. */
int vv_time_parse(const char *s, time_t *out) VV_MUST_CHECK;
/* Parse "YYYY-MM-DD" (a real date, years 1970..9999) into its parts. 0 or VV_E_INVAL. */
int vv_date_split(const char *s, int *year, int *month, int *day) VV_MUST_CHECK;
/* Parse a date "YYYY-MM-DD" as UTC 00:00:00 of that day, or 23:59:59 with
 * end_of_day, or else a UTC time as vv_time_parse. Returns 0 or VV_E_INVAL. */
int vv_date_parse_utc(const char *s, int end_of_day, time_t *out) VV_MUST_CHECK;

/* n bytes as text: "512 B", "1.5 GiB" (powers of 1024, one decimal), into out. */
#define VV_BYTES_TEXT_MAX 32
void vv_bytes_text(uint64_t n, char out[VV_BYTES_TEXT_MAX]);

/* 1 when s names a vault, policy, host or item: 1 to 64 of [A-Za-z0-9._-] starting
 * with a letter or digit (so it is never a path component like ".." nor an option);
 * NULL gives 0. The vault and the CLI check names by this one rule. */
int vv_name_valid(const char *s) VV_MUST_CHECK;
/* 1 when s is a region (a vault's location, a host's region): 1 to 64 of [a-z0-9-]
 * starting with a letter or digit; NULL gives 0. */
int vv_region_valid(const char *s) VV_MUST_CHECK;

/* fsync the folder at path, so that the names it lists are durable. 0 or <0 vv_err. */
int vv_dir_sync(const char *path) VV_MUST_CHECK;
/* Replace the file at path with n bytes of data, durably and whole: written to
 * "<path>.tmp" (mode 0600, never through a symbolic link), fsynced, renamed over path,
 * then its folder fsynced. A crash leaves the old file or the new one. 0 or <0 vv_err
 * (VV_E_NOSPC for a full file system). */
int vv_file_replace(const char *path, const void *data, size_t n) VV_MUST_CHECK;

/* A daily window "HH:MM-HH:MM" (UTC; it may wrap past midnight, "22:00-06:00"; equal
 * ends are the whole day) into minutes after midnight. 0 or VV_E_INVAL. */
int vv_window_parse(const char *s, int *from, int *to) VV_MUST_CHECK;
/* 1 when now falls inside the window [from, to) of vv_window_parse, else 0. Pure. */
int vv_window_open(int from, int to, time_t now);
/* How long to wait, in milliseconds, so that sent bytes over elapsed_ms stay within
 * rate bytes per second (0: no limit, no wait). Pure. */
uint64_t vv_rate_wait_ms(uint64_t sent, uint64_t elapsed_ms, uint64_t rate);

/* 1 when s is a UUID in its text form (36 characters: hex digits and dashes at 8,
 * 13, 18 and 23, either case); NULL gives 0. Ids of jobs and VMs are UUIDs, so one
 * that passes is safe in a path, a URL or XML. */
int vv_uuid_valid(const char *s);

/* The longest path this project builds, with its NUL. Every path buffer is this size. */
#define VV_PATH_MAX 4096
/* Format a path into out (cap bytes) with printf's rules. Returns 0, or VV_E_TOOBIG
 * when it does not fit (out is then ""): a path is never silently cut. */
int vv_path_join(char *out, size_t cap, const char *fmt, ...)
    __attribute__((warn_unused_result, format(printf, 3, 4), warn_unused_result));

/* Read a whole file into b (b->limit caps it). Returns 0, VV_E_NOTFOUND, VV_E_IO, VV_E_TOOBIG. */
int vv_read_file(const char *path, struct vv_buf *b) VV_MUST_CHECK;
/* Write all n bytes to fd (retrying short writes). Returns 0 or VV_E_IO (errno set). */
int vv_write_all(int fd, const void *p, size_t n) VV_MUST_CHECK;
/* pread exactly n bytes (short only at EOF, then the rest is zero-filled).
 * Returns 0 or VV_E_IO (errno set). */
int vv_pread_full(int fd, void *p, size_t n, uint64_t off) VV_MUST_CHECK;

/* Number of online CPUs (at least 1). */
int vv_ncpu(void) VV_MUST_CHECK;

/* Create dir with mode, and its missing parents with 0755. 0 also when it exists
 * (its mode is then left as it is), VV_E_IO (logged) or VV_E_INVAL. */
int vv_mkdir_p(const char *dir, unsigned mode) VV_MUST_CHECK;

/* Remove a folder and everything under it (symbolic links are removed, not
 * followed). Returns 0 (also when it did not exist) or VV_E_IO. */
int vv_rmtree(const char *path) VV_MUST_CHECK;

/* True when n bytes at p are all zero. */
int vv_is_zero(const void *p, size_t n) VV_MUST_CHECK;

#endif
