/*
 * log.h: one line per event on stderr: "[TIME ]LEVEL: message".
 *
 * Log once, where the context is known (which file, which chunk), then return the
 * error code. The level threshold is process-wide (vv_log_set_level), default INFO.
 *
 * Messages may carry text from outside (a vault's, a guest's or a client's), so no
 * message can forge a line: a newline in it continues the line indented, and other
 * control characters are written as '?'.
 */
#ifndef VV_LOG_H
#define VV_LOG_H

enum vv_log_level { VV_LOG_DEBUG = 0, VV_LOG_INFO, VV_LOG_WARN, VV_LOG_ERROR, VV_LOG_QUIET };

void vv_log_set_level(enum vv_log_level lvl);
/* Prefix every line with its UTC time to the millisecond (daemons turn this on). */
void vv_log_set_timestamps(int on);
/* Parse "debug", "info", "warn", "error". Returns 0 or -1. */
int vv_log_level_parse(const char *s, enum vv_log_level *out);
enum vv_log_level vv_log_get_level(void);
void vv_log(enum vv_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Log an error once, where the context is known, and return its code, so that a
 * failure is one line:  return vv_fail(VV_E_IO, "cannot open %s: %m", path);
 * code is a negative vv_err; the message is logged at ERROR level as it is (say the
 * cause and the remedy); errno is left as it was. */
int vv_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define vv_debug(...) vv_log(VV_LOG_DEBUG, __VA_ARGS__)
#define vv_info(...) vv_log(VV_LOG_INFO, __VA_ARGS__)
#define vv_warn(...) vv_log(VV_LOG_WARN, __VA_ARGS__)
#define vv_error(...) vv_log(VV_LOG_ERROR, __VA_ARGS__)

#endif
