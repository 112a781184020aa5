/* log.c: stderr logging with a level threshold; one write() per line so threads do not interleave. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum vv_log_level threshold = VV_LOG_INFO;
static int timestamps;

void vv_log_set_timestamps(int on) { timestamps = on; }

int vv_log_level_parse(const char *s, enum vv_log_level *out)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) {
            *out = (enum vv_log_level)i;
            return 0;
        }
    return -1;
}

void vv_log_set_level(enum vv_log_level lvl) { threshold = lvl; }
enum vv_log_level vv_log_get_level(void) { return threshold; }

/* Copy msg into out (room for cap bytes) so that it cannot forge a log line: a
 * newline continues the line indented (every line of our own starts at column 0 with
 * its time or level), a carriage return or another control character becomes '?'.
 * Messages carry text from outside (a vault's or a guest's answer, a client's
 * header), so this is done here, once, for every line. Returns the bytes written. */
static size_t copy_safe(char *out, size_t cap, const char *msg)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)msg; *p && n < cap; p++) {
        if (*p == '\n') {
            if (n + 5 > cap)
                break;
            memcpy(out + n, "\n    ", 5);
            n += 5;
        } else {
            out[n++] = (*p < 0x20 && *p != '\t') || *p == 0x7f ? '?' : (char)*p;
        }
    }
    return n;
}

void vv_log(enum vv_log_level lvl, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warning", "error"};
    char line[2048], msg[2048];
    va_list ap;
    int n;

    if (lvl < threshold || lvl >= VV_LOG_QUIET)
        return;
    n = 0;
    if (timestamps) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
        n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03ldZ ", ts.tv_nsec / 1000000);
    }
    n += snprintf(line + n, sizeof(line) - (size_t)n, "%s: ", names[lvl]);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    n += (int)copy_safe(line + n, sizeof(line) - (size_t)n - 1, msg);
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* nowhere left to report */
    }
}

int vv_fail(int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    int saved = errno;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap); /* %m reads the caller's errno */
    va_end(ap);
    vv_log(VV_LOG_ERROR, "%s", msg);
    errno = saved;
    return code;
}
