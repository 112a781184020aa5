/*
 * banned.h: C library functions this project never calls, and what to use instead.
 *
 * Each is redeclared with a "deprecated" attribute, so a call is a compile error under
 * -Werror (a redeclaration, unlike git's macros, is safe before or after the system
 * header that declares the function). scripts/check-source refuses them as well, in
 * code the compiler does not see (disabled branches, other builds).
 *
 *   strcpy, strcat, strncpy, strncat  no bound, or a bound that silently cuts or
 *                                     leaves no NUL: use snprintf, or vv_path_join
 *                                     for a path (it refuses what does not fit)
 *   sprintf, vsprintf                 no bound: snprintf, vsnprintf
 *   gets                              no bound at all: fgets, getline
 *   strtok                            hidden global state: strtok_r, strsep
 *   atoi, atol, atoll, atof           no error: garbage reads as 0; use strtol and
 *                                     friends with an end pointer, or vv_parse_u64
 *   localtime, gmtime, ctime, asctime process-global results and TZ: the _r forms,
 *                                     or lib/policy/tz.h for zones
 *   tmpnam, mktemp                    a name another process can take first: mkstemp
 *
 * Included by err.h, which every source file reaches.
 */
#ifndef VV_BANNED_H
#define VV_BANNED_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VV_BANNED(why) __attribute__((deprecated("banned (lib/banned.h): " why)))

char *strcpy(char *, const char *) VV_BANNED("use snprintf or vv_path_join");
char *strcat(char *, const char *) VV_BANNED("use snprintf or vv_path_join");
char *strncpy(char *, const char *, size_t) VV_BANNED("use snprintf");
char *strncat(char *, const char *, size_t) VV_BANNED("use snprintf");
int sprintf(char *, const char *, ...) VV_BANNED("use snprintf");
int vsprintf(char *, const char *, va_list) VV_BANNED("use vsnprintf");
char *gets(char *) VV_BANNED("use fgets or getline");
char *strtok(char *, const char *) VV_BANNED("use strtok_r or strsep");
#ifndef __clang__ /* clang will not add an attribute after glibc's inline definitions */
int atoi(const char *) VV_BANNED("use strtol with an end pointer");
long atol(const char *) VV_BANNED("use strtol with an end pointer");
long long atoll(const char *) VV_BANNED("use strtoll with an end pointer");
double atof(const char *) VV_BANNED("use strtod with an end pointer");
#endif
struct tm *localtime(const time_t *) VV_BANNED("use localtime_r, or lib/policy/tz.h");
struct tm *gmtime(const time_t *) VV_BANNED("use gmtime_r");
char *ctime(const time_t *) VV_BANNED("use vv_time_format");
char *asctime(const struct tm *) VV_BANNED("use vv_time_format");
char *tmpnam(char[L_tmpnam]) VV_BANNED("use mkstemp");
char *mktemp(char *) VV_BANNED("use mkstemp");

#endif
