/*
 * buf.h: a growable byte buffer with a hard cap.
 *
 * Owner: whoever holds the struct; vv_buf_release() frees the bytes and leaves an empty
 * buffer (safe to call twice). Buffers filled from untrusted sizes are always given a
 * cap: growing past it fails with VV_E_TOOBIG instead of allocating.
 */
#ifndef VV_BUF_H
#define VV_BUF_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

struct vv_buf {
    uint8_t *data;
    size_t len;
    size_t cap;   /* allocated bytes */
    size_t limit; /* 0 = no limit */
};

#define VV_BUF_INIT {NULL, 0, 0, 0}

void vv_buf_init(struct vv_buf *b, size_t limit);
void vv_buf_release(struct vv_buf *b);
/* Ensure room for len+extra bytes. Returns 0, VV_E_TOOBIG or VV_E_NOMEM. */
int vv_buf_reserve(struct vv_buf *b, size_t extra) VV_MUST_CHECK;
int vv_buf_append(struct vv_buf *b, const void *p, size_t n) VV_MUST_CHECK;
/* Set the length to n (growing as needed; new bytes are unspecified). */
int vv_buf_resize(struct vv_buf *b, size_t n) VV_MUST_CHECK;
/* Take the bytes out: the caller frees the returned pointer with free(); b is left empty. */
uint8_t *vv_buf_detach(struct vv_buf *b, size_t *len);

#endif
