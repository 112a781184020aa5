/* backend.c: backend-independent helpers (see backend.h). */
#include "store/backend.h"

#include <string.h>

void vv_backend_free(struct vv_backend *be)
{
    if (be)
        be->ops->free(be);
}

int vv_backend_key_valid(const char *key)
{
    const char *seg = key;
    size_t n;
    if (!key || !*key || strlen(key) > 512)
        return 0;
    for (const char *p = key;; p++) {
        if (*p == '/' || *p == '\0') {
            n = (size_t)(p - seg);
            if (n == 0 || seg[0] == '.')
                return 0;
            if (*p == '\0')
                return 1;
            seg = p + 1;
            continue;
        }
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '_' || *p == '-'))
            return 0;
    }
}
