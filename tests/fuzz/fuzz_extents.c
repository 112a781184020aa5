/*
 * fuzz_extents.c: vv_extents_parse on untrusted text. On success every extent ends
 * within 2^64 and there is an array exactly when there are extents; on failure
 * nothing is handed back.
 */
#include <stdint.h>
#include <stdlib.h>

#include "engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vv_extent *x = NULL;
    size_t n = 0;
    if (vv_extents_parse((const char *)data, size, &x, &n) != 0) {
        if (x || n)
            abort();
        return 0;
    }
    if (n && !x)
        abort();
    for (size_t i = 0; i < n; i++)
        if (x[i].len > UINT64_MAX - x[i].off)
            abort();
    free(x);
    return 0;
}
