/* util.c: see util.h. */
#include "util.h"

#include <ctype.h>
#include <stdarg.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "civil.h"
#include "err.h"
#include "log.h"

void vv_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int vv_hex_decode(const char *in, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (!in[2 * i] || !in[2 * i + 1])
            return VV_E_INVAL;
        hi = hexval(in[2 * i]);
        lo = hexval(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return VV_E_INVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return in[2 * n] == '\0' ? 0 : VV_E_INVAL;
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int vv_base64_decode(const char *in, uint8_t *out, size_t cap, size_t *outlen)
{
    uint32_t acc = 0;
    size_t n = 0, pad = 0;
    int bits = 0;

    for (; *in; in++) {
        int v;
        if (*in == '=') {
            pad++;
            continue;
        }
        if (pad || (v = b64val((unsigned char)*in)) < 0)
            return VV_E_INVAL;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= cap)
                return VV_E_TOOBIG;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    if (pad > 2 || bits >= 6)
        return VV_E_INVAL;
    *outlen = n;
    return 0;
}

int vv_parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s)
        return VV_E_INVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return VV_E_INVAL;
        if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return VV_E_INVAL;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

int vv_parse_size(const char *s, uint64_t *out)
{
    uint64_t v = 0, mul = 1;
    const char *p = s;
    if (!s || !isdigit((unsigned char)*s))
        return VV_E_INVAL;
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return VV_E_INVAL;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    switch (toupper((unsigned char)*p)) {
    case '\0': break;
    case 'K': mul = 1ULL << 10; p++; break;
    case 'M': mul = 1ULL << 20; p++; break;
    case 'G': mul = 1ULL << 30; p++; break;
    case 'T': mul = 1ULL << 40; p++; break;
    default: return VV_E_INVAL;
    }
    if (mul > 1 && (p[0] == 'i' || p[0] == 'I') && (p[1] == 'B' || p[1] == 'b'))
        p += 2;
    else if (mul > 1 && (p[0] == 'B' || p[0] == 'b'))
        p++;
    else if (mul == 1 && (p[0] == 'B' || p[0] == 'b'))
        p++;
    if (*p)
        return VV_E_INVAL;
    if (v && mul > UINT64_MAX / v)
        return VV_E_INVAL;
    *out = v * mul;
    return 0;
}

void vv_time_format(time_t t, char *out, size_t outlen)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int vv_time_parse(const char *s, time_t *out)
{
    struct tm tm;
    const char *end;
    memset(&tm, 0, sizeof(tm));
    if (!s)
        return VV_E_INVAL;
    char again[32];
    end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end)
        return VV_E_INVAL;
    *out = timegm(&tm);
    /* strict: only the canonical spelling of a real time (no "2026-02-31", no " 7") */
    vv_time_format(*out, again, sizeof(again));
    return strcmp(again, s) == 0 ? 0 : VV_E_INVAL;
}

void vv_time_format_or_empty(time_t t, char out[32])
{
    if (t == 0)
        out[0] = '\0';
    else
        vv_time_format(t, out, 32);
}

int vv_date_split(const char *s, int *year, int *month, int *day)
{
    int v[3] = {0, 0, 0}, widths[3] = {4, 2, 2};
    const char *p = s;

    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return VV_E_INVAL;
    for (int k = 0; k < 3; k++, p++) {
        for (int i = 0; i < widths[k]; i++, p++) {
            if (*p < '0' || *p > '9')
                return VV_E_INVAL;
            v[k] = v[k] * 10 + (*p - '0');
        }
    }
    if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > vv_days_in_month(v[0], v[1]))
        return VV_E_INVAL;
    *year = v[0];
    *month = v[1];
    *day = v[2];
    return 0;
}

int vv_date_parse_utc(const char *s, int end_of_day, time_t *out)
{
    int y, m, d;

    if (s && strlen(s) == 10) {
        if (vv_date_split(s, &y, &m, &d) != 0)
            return VV_E_INVAL;
        *out = (time_t)(vv_days_from_civil(y, m, d) * 86400 + (end_of_day ? 86399 : 0));
        return 0;
    }
    return vv_time_parse(s, out);
}

void vv_bytes_text(uint64_t n, char out[VV_BYTES_TEXT_MAX])
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, VV_BYTES_TEXT_MAX, "%llu B", (unsigned long long)n);
    else
        snprintf(out, VV_BYTES_TEXT_MAX, "%.1f %s", v, units[u]);
}

int vv_name_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 64 || !isalnum((unsigned char)s[0]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
            return 0;
    return 1;
}

int vv_region_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 64 || !isalnum((unsigned char)s[0]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-')
            return 0;
    return 1;
}

int vv_uuid_valid(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

int vv_path_join(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) {
        if (cap)
            out[0] = '\0';
        return VV_E_TOOBIG;
    }
    return 0;
}

int vv_read_file(const char *path, struct vv_buf *b)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    int r = 0;

    if (fd < 0)
        return errno == ENOENT ? VV_E_NOTFOUND : VV_E_IO;
    if (fstat(fd, &st) < 0) {
        r = VV_E_IO;
        goto out;
    }
    if (b->limit && (uint64_t)st.st_size > b->limit) {
        r = VV_E_TOOBIG;
        goto out;
    }
    b->len = 0;
    for (;;) {
        size_t want = 65536;
        ssize_t n;
        if (b->limit) {
            if (b->len == b->limit) {
                char c;
                n = read(fd, &c, 1);
                r = n == 0 ? 0 : n < 0 ? VV_E_IO : VV_E_TOOBIG;
                break;
            }
            if (want > b->limit - b->len)
                want = b->limit - b->len;
        }
        r = vv_buf_reserve(b, want);
        if (r < 0)
            break;
        n = read(fd, b->data + b->len, want);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = VV_E_IO;
            break;
        }
        if (n == 0)
            break;
        b->len += (size_t)n;
    }
out:
    close(fd);
    return r;
}

int vv_write_all(int fd, const void *p, size_t n)
{
    const uint8_t *q = p;
    while (n) {
        ssize_t w = write(fd, q, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return vv_err_from_errno(errno);
        }
        q += w;
        n -= (size_t)w;
    }
    return 0;
}

int vv_pread_full(int fd, void *p, size_t n, uint64_t off)
{
    uint8_t *q = p;
    while (n) {
        ssize_t r = pread(fd, q, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return VV_E_IO;
        }
        if (r == 0) {
            memset(q, 0, n);
            return 0;
        }
        q += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

int vv_ncpu(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

int vv_is_zero(const void *p, size_t n)
{
    const uint8_t *q = p;
    size_t head = n < 16 ? n : 16;
    for (size_t i = 0; i < head; i++)
        if (q[i])
            return 0;
    return n <= 16 || memcmp(q, q + 16, n - 16) == 0;
}

int vv_rmtree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int r = 0;

    if (!d) {
        if (errno == ENOENT)
            return 0;
        if (errno == ENOTDIR)
            return unlink(path) == 0 ? 0 : VV_E_IO;
        return VV_E_IO;
    }
    while ((e = readdir(d))) {
        char sub[VV_PATH_MAX];
        struct stat st;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (vv_path_join(sub, sizeof(sub), "%s/%s", path, e->d_name) != 0) {
            r = vv_fail(VV_E_TOOBIG, "cannot remove %s/%s: the path is too long", path,
                        e->d_name);
            continue;
        }
        if (lstat(sub, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (vv_rmtree(sub) != 0)
                r = VV_E_IO;
        } else if (unlink(sub) != 0) {
            r = VV_E_IO;
        }
    }
    closedir(d);
    if (rmdir(path) != 0)
        r = VV_E_IO;
    return r;
}

int vv_mkdir_p(const char *dir, unsigned mode)
{
    char tmp[VV_PATH_MAX];
    if (strlen(dir) >= sizeof(tmp))
        return VV_E_INVAL;
    snprintf(tmp, sizeof(tmp), "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
            return vv_fail(VV_E_IO, "cannot create %s: %s", tmp, strerror(errno));
        }
        *p = '/';
    }
    if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST) {
        return vv_fail(VV_E_IO, "cannot create %s: %s", tmp, strerror(errno));
    }
    return 0;
}

int vv_window_parse(const char *s, int *from, int *to)
{
    unsigned h1, m1, h2, m2;
    char tail;

    if (!s || strlen(s) != 11 || sscanf(s, "%2u:%2u-%2u:%2u%c", &h1, &m1, &h2, &m2, &tail) != 4 ||
        s[2] != ':' || s[5] != '-' || s[8] != ':' || h1 > 23 || h2 > 23 || m1 > 59 || m2 > 59)
        return VV_E_INVAL;
    *from = (int)(h1 * 60 + m1);
    *to = (int)(h2 * 60 + m2);
    return 0;
}

int vv_window_open(int from, int to, time_t now)
{
    int m = (int)(((now % 86400) + 86400) % 86400 / 60);

    if (from == to)
        return 1;
    if (from < to)
        return m >= from && m < to;
    return m >= from || m < to; /* past midnight */
}

uint64_t vv_rate_wait_ms(uint64_t sent, uint64_t elapsed_ms, uint64_t rate)
{
    uint64_t due;

    if (rate == 0)
        return 0;
    /* the time sent bytes take at rate, in ms, without overflow for any sane sizes */
    due = sent / rate * 1000 + (sent % rate) * 1000 / rate;
    return due > elapsed_ms ? due - elapsed_ms : 0;
}

int vv_dir_sync(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

    if (fd < 0 || fsync(fd) < 0)
        r = vv_err_from_errno(errno);
    if (fd >= 0)
        close(fd);
    return r;
}

int vv_file_replace(const char *path, const void *data, size_t n)
{
    char tmp[VV_PATH_MAX], dir[VV_PATH_MAX], *slash;
    int fd, r;

    if (vv_path_join(tmp, sizeof(tmp), "%s.tmp", path) != 0 ||
        vv_path_join(dir, sizeof(dir), "%s", path) != 0)
        return VV_E_TOOBIG;
    slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else
        slash[slash == dir] = '\0';
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return vv_err_from_errno(errno);
    r = vv_write_all(fd, data, n);
    if (r == 0 && fsync(fd) != 0)
        r = vv_err_from_errno(errno);
    close(fd);
    if (r == 0 && rename(tmp, path) != 0)
        r = vv_err_from_errno(errno);
    if (r) {
        unlink(tmp);
        return r;
    }
    return vv_dir_sync(dir);
}
