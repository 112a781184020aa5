/*
 * clock.c: the server's idea of now.
 *
 * Normally real time. With --clock-file FILE (for tests of schedules and retention,
 * which must not sleep for days) the file holds a UTC time, "2027-03-27T23:00:00Z" or
 * seconds since the epoch; whenever the file changes, the clock jumps there and runs
 * on at the real pace from that moment. Moving the clock backwards is allowed but a
 * scheduler never runs a slot twice whatever the clock does (see scheduler.c).
 *
 * Everything the catalog records as a time (jobs, points, expiry, schedules) uses
 * this clock. File times in the store and timeouts measured inside one request use
 * real time.
 */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "util.h"

/* The time in the file: 0 and *t, or VV_E_INVAL. */
static int read_clock_file(const char *path, time_t *t)
{
    char text[64];
    size_t n;
    FILE *f = fopen(path, "r");

    if (!f)
        return VV_E_INVAL;
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    while (n && (text[n - 1] == '\n' || text[n - 1] == ' ' || text[n - 1] == '\r'))
        text[--n] = '\0';
    if (n && strspn(text, "0123456789") == n) {
        uint64_t v;
        if (vv_parse_u64(text, &v) != 0 || v > 253402300799ull)
            return VV_E_INVAL;
        *t = (time_t)v;
        return 0;
    }
    return vv_date_parse_utc(text, 1, t) == 0 ? 0 : VV_E_INVAL;
}

/* Caller holds clock.mu. Re-reads the file when it changed. */
static void refresh(struct vv_clock *c)
{
    struct stat st;
    time_t t;

    if (stat(c->file, &st) != 0)
        return;
    if (st.st_mtim.tv_sec == c->file_mtime.tv_sec && st.st_mtim.tv_nsec == c->file_mtime.tv_nsec &&
        st.st_size == c->file_size)
        return;
    if (read_clock_file(c->file, &t) != 0) {
        vv_warn("clock: %s does not hold a time; the clock keeps its offset", c->file);
        return;
    }
    c->file_mtime = st.st_mtim;
    c->file_size = st.st_size;
    c->offset = (int64_t)t - (int64_t)time(NULL);
    vv_info("clock: set to %lld from %s (offset %+lld s)", (long long)t, c->file,
            (long long)c->offset);
}

int vv_clock_init(struct vv_server *s, const char *file)
{
    s->clock.offset = 0;
    s->clock.file[0] = '\0';
    if (!file || !*file)
        return 0;
    if (strlen(file) >= sizeof(s->clock.file))
        return VV_E_INVAL;
    snprintf(s->clock.file, sizeof(s->clock.file), "%s", file);
    if (access(file, F_OK) == 0) {
        time_t t;
        if (read_clock_file(file, &t) != 0)
            return VV_E_INVAL;
    }
    refresh(&s->clock);
    vv_warn("clock: test clock from %s; times are not real time", file);
    return 0;
}

/* The test clock's offset from real time (0 without one), after taking in a changed
 * clock file. */
static int64_t offset_now(struct vv_server *s)
{
    int64_t off;

    if (!s->clock.file[0])
        return 0;
    pthread_mutex_lock(&s->clock.mu);
    refresh(&s->clock);
    off = s->clock.offset;
    pthread_mutex_unlock(&s->clock.mu);
    return off;
}

time_t vv_server_now(struct vv_server *s)
{
    int64_t off = offset_now(s);
    return (time_t)((int64_t)time(NULL) + off);
}

uint64_t vv_server_now_ms(struct vv_server *s)
{
    struct timespec ts;
    int64_t off = offset_now(s);

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)((int64_t)ts.tv_sec + off) * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
