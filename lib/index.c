/* index.c: disk index (see index.h). Pure: no I/O, no clock. */
#include "index.h"

#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "err.h"
#include "util.h"

static const uint8_t zero_marker[VV_ENTRY_LEN] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t hole_marker[VV_ENTRY_LEN];

int vv_chunk_size_valid(uint64_t cs)
{
    return cs >= VV_CHUNK_SIZE_MIN && cs <= VV_CHUNK_SIZE_MAX && (cs & (cs - 1)) == 0;
}

static uint64_t chunk_count(uint64_t size, uint32_t cs) { return size / cs + (size % cs != 0); }

int vv_index_init(struct vv_index *ix, uint64_t virtual_size, uint32_t chunk_size)
{
    uint64_t count;
    memset(ix, 0, sizeof(*ix));
    if (!vv_chunk_size_valid(chunk_size))
        return VV_E_INVAL;
    count = chunk_count(virtual_size, chunk_size);
    if (count > (VV_MAX_INDEX - VV_INDEX_HEADER_LEN) / VV_ENTRY_LEN)
        return VV_E_TOOBIG;
    if (count && !(ix->ids = calloc(count, VV_ENTRY_LEN)))
        return VV_E_NOMEM;
    ix->virtual_size = virtual_size;
    ix->chunk_size = chunk_size;
    ix->count = count;
    return 0;
}

void vv_index_release(struct vv_index *ix)
{
    free(ix->ids);
    memset(ix, 0, sizeof(*ix));
}

enum vv_entry_kind vv_index_kind(const struct vv_index *ix, uint64_t i)
{
    if (!memcmp(ix->ids[i], hole_marker, VV_ENTRY_LEN))
        return VV_ENTRY_HOLE;
    if (!memcmp(ix->ids[i], zero_marker, VV_ENTRY_LEN))
        return VV_ENTRY_ZERO;
    return VV_ENTRY_DATA;
}

void vv_index_set_hole(struct vv_index *ix, uint64_t i) { memset(ix->ids[i], 0, VV_ENTRY_LEN); }
void vv_index_set_zero(struct vv_index *ix, uint64_t i) { memset(ix->ids[i], 0xff, VV_ENTRY_LEN); }
void vv_index_set_data(struct vv_index *ix, uint64_t i, const uint8_t id[VV_ENTRY_LEN])
{
    memcpy(ix->ids[i], id, VV_ENTRY_LEN);
}

uint32_t vv_index_chunk_len(const struct vv_index *ix, uint64_t i)
{
    uint64_t start = i * ix->chunk_size, left = ix->virtual_size - start;
    return left < ix->chunk_size ? (uint32_t)left : ix->chunk_size;
}

void vv_index_count(const struct vv_index *ix, struct vv_index_counts *c)
{
    memset(c, 0, sizeof(*c));
    for (uint64_t i = 0; i < ix->count; i++) {
        switch (vv_index_kind(ix, i)) {
        case VV_ENTRY_HOLE: c->hole++; break;
        case VV_ENTRY_ZERO: c->zero++; break;
        case VV_ENTRY_DATA: c->data++; break;
        }
    }
}

int vv_index_serialize(const struct vv_index *ix, struct vv_buf *out)
{
    uint8_t h[VV_INDEX_HEADER_LEN];
    int r;
    memset(h, 0, sizeof(h));
    vv_put_le32(h, VV_INDEX_VERSION);
    vv_put_le32(h + 4, ix->chunk_size);
    vv_put_le64(h + 8, ix->virtual_size);
    vv_put_le64(h + 16, ix->count);
    out->len = 0;
    if ((r = vv_buf_reserve(out, sizeof(h) + ix->count * VV_ENTRY_LEN)) < 0)
        return r;
    vv_buf_append(out, h, sizeof(h));
    if (ix->count)
        vv_buf_append(out, ix->ids, ix->count * VV_ENTRY_LEN);
    return 0;
}

int vv_index_parse(const void *data, size_t len, struct vv_index *out)
{
    const uint8_t *p = data;
    uint64_t size, count;
    uint32_t cs;
    int r;

    memset(out, 0, sizeof(*out));
    if (len < VV_INDEX_HEADER_LEN)
        return VV_E_CORRUPT;
    if (vv_get_le32(p) != VV_INDEX_VERSION)
        return VV_E_BAD_VERSION;
    cs = vv_get_le32(p + 4);
    size = vv_get_le64(p + 8);
    count = vv_get_le64(p + 16);
    if (!vv_chunk_size_valid(cs) || vv_get_le64(p + 24) != 0)
        return VV_E_CORRUPT;
    if (count != chunk_count(size, cs))
        return VV_E_CORRUPT;
    if (count > (len - VV_INDEX_HEADER_LEN) / VV_ENTRY_LEN ||
        len != VV_INDEX_HEADER_LEN + count * VV_ENTRY_LEN)
        return VV_E_CORRUPT;
    if ((r = vv_index_init(out, size, cs)) < 0)
        return r == VV_E_INVAL ? VV_E_CORRUPT : r;
    if (count)
        memcpy(out->ids, p + VV_INDEX_HEADER_LEN, count * VV_ENTRY_LEN);
    return 0;
}

int vv_index_derive(const struct vv_index *parent, uint64_t new_size,
                    const struct vv_extent *changed, size_t nchanged, struct vv_index *out,
                    uint64_t **dirty, size_t *ndirty)
{
    uint8_t *mark = NULL;
    uint64_t keep, *list = NULL;
    size_t n = 0;
    int r;

    *dirty = NULL;
    *ndirty = 0;
    for (size_t e = 0; e < nchanged; e++)
        if (changed[e].len > UINT64_MAX - changed[e].off)
            return VV_E_INVAL;
    if ((r = vv_index_init(out, new_size, parent->chunk_size)) < 0)
        return r;
    if (out->count && !(mark = calloc(out->count, 1))) {
        vv_index_release(out);
        return VV_E_NOMEM;
    }

    /* Entries kept from the parent: whole chunks that exist, with the same length. */
    keep = parent->count < out->count ? parent->count : out->count;
    if (keep && parent->virtual_size != new_size &&
        vv_index_chunk_len(parent, keep - 1) != vv_index_chunk_len(out, keep - 1))
        keep--;
    if (keep)
        memcpy(out->ids, parent->ids, keep * VV_ENTRY_LEN);
    for (uint64_t i = keep; i < out->count; i++)
        mark[i] = 1;

    for (size_t e = 0; e < nchanged; e++) {
        uint64_t off = changed[e].off, end = off + changed[e].len;
        if (changed[e].len == 0 || off >= new_size)
            continue;
        if (end > new_size)
            end = new_size;
        for (uint64_t i = off / out->chunk_size; i <= (end - 1) / out->chunk_size; i++)
            mark[i] = 1;
    }

    for (uint64_t i = 0; i < out->count; i++)
        n += mark[i];
    if (n && !(list = malloc(n * sizeof(*list)))) {
        free(mark);
        vv_index_release(out);
        return VV_E_NOMEM;
    }
    n = 0;
    for (uint64_t i = 0; i < out->count; i++)
        if (mark[i])
            list[n++] = i;
    free(mark);
    *dirty = list;
    *ndirty = n;
    return 0;
}
