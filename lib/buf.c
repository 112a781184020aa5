/* buf.c: capped growable buffer. */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

void vv_buf_init(struct vv_buf *b, size_t limit)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->limit = limit;
}

void vv_buf_release(struct vv_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int vv_buf_reserve(struct vv_buf *b, size_t extra)
{
    size_t need, ncap;
    uint8_t *p;

    if (extra > SIZE_MAX - b->len)
        return VV_E_TOOBIG;
    need = b->len + extra;
    if (b->limit && need > b->limit)
        return VV_E_TOOBIG;
    if (need <= b->cap)
        return 0;
    ncap = b->cap ? b->cap : 256;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    if (b->limit && ncap > b->limit)
        ncap = b->limit;
    p = realloc(b->data, ncap);
    if (!p)
        return VV_E_NOMEM;
    b->data = p;
    b->cap = ncap;
    return 0;
}

int vv_buf_append(struct vv_buf *b, const void *p, size_t n)
{
    int r = vv_buf_reserve(b, n);
    if (r < 0)
        return r;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int vv_buf_resize(struct vv_buf *b, size_t n)
{
    if (n > b->len) {
        int r = vv_buf_reserve(b, n - b->len);
        if (r < 0)
            return r;
    }
    b->len = n;
    return 0;
}

uint8_t *vv_buf_detach(struct vv_buf *b, size_t *len)
{
    uint8_t *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
