/* harness.c: runs the TEST cases of one test binary (see harness.h). */
#include "harness.h"

#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "log.h"

static struct vv_test_case *head, **tail = &head;
static int current_failed;
static char tmproot[4096];

void vv_test_register(struct vv_test_case *tc)
{
    *tail = tc;
    tail = &tc->next;
}

void vv_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    if (!current_failed)
        printf("FAIL ");
    else
        printf("     ");
    current_failed = 1;
    printf("%s:%d: ", file, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

int vv_test_failed(void) { return current_failed; }

const char *vv_test_errname(int r) { return vv_errname(r); }

static void cleanup_tmp(void)
{
    if (tmproot[0]) {
        char cmd[4200];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmproot);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmproot);
    }
}

const char *vv_test_tmpdir(void)
{
    static char dir[4200];
    static int n;
    if (!tmproot[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(tmproot, sizeof(tmproot), "%s/vvtest-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmproot)) {
            perror("mkdtemp");
            exit(2);
        }
        atexit(cleanup_tmp);
    }
    snprintf(dir, sizeof(dir), "%s/%d", tmproot, n++);
    if (mkdir(dir, 0700) < 0) {
        perror("mkdir");
        exit(2);
    }
    return dir;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
void vv_test_seed(uint64_t seed) { rng = seed ? seed : 1; }
uint64_t vv_test_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
void vv_test_fill(void *buf, size_t n)
{
    uint8_t *p = buf;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = vv_test_rand();
        memcpy(p + i, &v, n - i < 8 ? n - i : 8);
    }
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    if (!getenv("VV_TEST_VERBOSE"))
        vv_log_set_level(VV_LOG_QUIET);
    for (struct vv_test_case *tc = head; tc; tc = tc->next) {
        int want = argc < 2;
        for (int i = 1; i < argc; i++)
            want |= !strcmp(argv[i], tc->name);
        if (!want)
            continue;
        current_failed = 0;
        tc->fn();
        if (current_failed) {
            printf("     (in %s)\n", tc->name);
            failed++;
        } else {
            printf("PASS %s\n", tc->name);
            passed++;
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
