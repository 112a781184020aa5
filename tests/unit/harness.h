/*
 * harness.h: a tiny unit-test harness. A test file defines cases with TEST(name),
 * checks with CHECK / CHECK_EQ / CHECK_OK, and gets main() from harness.c, which runs
 * every case (or those named on the command line) and prints one line per case:
 *     PASS test_name
 *     FAIL test_name: file.c:42: CHECK_EQ(a, b): 3 != 4
 * then "N passed, N failed" and exits 1 when any case failed. tests/run.sh adds the
 * counts of every binary together.
 *
 * Helpers for tests: vv_test_tmpdir() gives a fresh folder under $TMPDIR that is
 * removed at exit; vv_test_rand() is a deterministic PRNG.
 */
#ifndef VV_TEST_HARNESS_H
#define VV_TEST_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct vv_test_case {
    const char *name;
    void (*fn)(void);
    struct vv_test_case *next;
};

void vv_test_register(struct vv_test_case *tc);
void vv_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Non-zero once the running case has failed (checks after a failure still run). */
int vv_test_failed(void);

#define TEST(name)                                                                          \
    static void name(void);                                                                 \
    static struct vv_test_case name##_case = {#name, name, NULL};                           \
    __attribute__((constructor)) static void name##_register(void)                          \
    {                                                                                       \
        vv_test_register(&name##_case);                                                     \
    }                                                                                       \
    static void name(void)

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        if (!(cond))                                                                        \
            vv_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                           \
    } while (0)

#define CHECK_EQ(a, b)                                                                      \
    do {                                                                                    \
        long long _a = (long long)(a), _b = (long long)(b);                                 \
        if (_a != _b)                                                                       \
            vv_test_fail(__FILE__, __LINE__, "CHECK_EQ(%s, %s): %lld != %lld", #a, #b, _a,  \
                         _b);                                                               \
    } while (0)

/* r must be 0 (prints the vv_err name otherwise). */
#define CHECK_OK(expr)                                                                      \
    do {                                                                                    \
        int _r = (int)(expr);                                                               \
        if (_r != 0)                                                                        \
            vv_test_fail(__FILE__, __LINE__, "CHECK_OK(%s): %d (%s)", #expr, _r,            \
                         vv_test_errname(_r));                                              \
    } while (0)

#define CHECK_MEM(a, b, n)                                                                  \
    do {                                                                                    \
        if (memcmp((a), (b), (n)) != 0)                                                     \
            vv_test_fail(__FILE__, __LINE__, "CHECK_MEM(%s, %s, %s): bytes differ", #a, #b, \
                         #n);                                                               \
    } while (0)

const char *vv_test_errname(int r);
/* A fresh empty folder (mode 0700) removed with its contents at exit. Static storage. */
const char *vv_test_tmpdir(void);
/* Deterministic xorshift PRNG; seed with vv_test_seed(). */
void vv_test_seed(uint64_t seed);
uint64_t vv_test_rand(void);
void vv_test_fill(void *buf, size_t n);

#endif
