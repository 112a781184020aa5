/* chunkrec.c: the framing of several chunks in one body (see chunkrec.h). */
#include "chunkrec.h"

#include <string.h>

#include "err.h"

void vv_rec_put_head(uint8_t *p, const uint8_t id[VV_CHUNK_ID_LEN], enum vv_rec_enc enc,
                     uint32_t len)
{
    memcpy(p, id, VV_CHUNK_ID_LEN);
    p[VV_CHUNK_ID_LEN] = (uint8_t)enc;
    for (int i = 0; i < 4; i++)
        p[VV_CHUNK_ID_LEN + 1 + i] = (uint8_t)(len >> (24 - 8 * i));
}

int vv_rec_read(const uint8_t *p, size_t n, struct vv_rec *rec)
{
    uint32_t len = 0;

    if (n < VV_REC_HEAD)
        return VV_E_TRUNCATED;
    for (int i = 0; i < 4; i++)
        len = len << 8 | p[VV_CHUNK_ID_LEN + 1 + i];
    rec->id = p;
    rec->enc = p[VV_CHUNK_ID_LEN];
    rec->len = len;
    rec->payload = NULL;
    if (len > n - VV_REC_HEAD)
        return VV_E_CORRUPT;
    rec->payload = p + VV_REC_HEAD;
    return 0;
}
