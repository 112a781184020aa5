/*
 * replay.c: runs a fuzz target over files instead of under libFuzzer, so every corpus
 * (and every crash once fixed) replays in `make test`, with the sanitizers when built
 * with SAN=1. Usage: replay_fuzz_X FILE_OR_DIR...; prints "N inputs" and exits 0
 * unless an input crashes the target (then the sanitizer or signal reports it).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "log.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    struct vv_buf b;
    uint8_t *copy;
    int r;
    vv_buf_init(&b, 64u << 20);
    if ((r = vv_read_file(path, &b)) < 0) {
        fprintf(stderr, "cannot read %s\n", path);
        vv_buf_release(&b);
        return -1;
    }
    /* An exact-size heap copy, so ASan sees reads past the end. */
    copy = malloc(b.len ? b.len : 1);
    if (!copy)
        return -1;
    if (b.len)
        memcpy(copy, b.data, b.len);
    LLVMFuzzerTestOneInput(copy, b.len);
    free(copy);
    vv_buf_release(&b);
    return 0;
}

int main(int argc, char **argv)
{
    int n = 0;
    vv_log_set_level(VV_LOG_QUIET);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) < 0) {
            perror(argv[i]);
            return 1;
        }
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;
            while (d && (e = readdir(d))) {
                char p[4096];
                if (e->d_name[0] == '.')
                    continue;
                snprintf(p, sizeof(p), "%s/%s", argv[i], e->d_name);
                if (run_file(p) < 0)
                    return 1;
                n++;
            }
            if (d)
                closedir(d);
        } else {
            if (run_file(argv[i]) < 0)
                return 1;
            n++;
        }
    }
    printf("%d inputs\n", n);
    return 0;
}
