/* index.c: disk index (see index.h). Pure: no I/O, no clock. */
#include "index.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "err.h"
#include "util.h"

#define V1_ENTRY_LEN 32

static const uint8_t zero_id[VV_ENTRY_LEN];

int vv_chunk_size_valid(uint64_t cs)
{
    return cs >= VV_CHUNK_SIZE_MIN && cs <= VV_CHUNK_SIZE_MAX && (cs & (cs - 1)) == 0;
}

int vv_index_init(struct vv_index *ix, uint64_t virtual_size, uint32_t chunk_size)
{
    memset(ix, 0, sizeof(*ix));
    if (!vv_chunk_size_valid(chunk_size))
        return VV_E_INVAL;
    ix->virtual_size = virtual_size;
    ix->chunk_size = chunk_size;
    ix->granule = chunk_size < VV_GRANULE_DEFAULT ? chunk_size : VV_GRANULE_DEFAULT;
    return 0;
}

void vv_index_release(struct vv_index *ix)
{
    free(ix->e);
    memset(ix, 0, sizeof(*ix));
}

static uint64_t entries_end(const struct vv_index *ix)
{
    return ix->count ? ix->e[ix->count - 1].off + ix->e[ix->count - 1].len : 0;
}

/* The invariant every index in memory keeps: entries sorted, each starting where the
 * one before it ends, the first at 0 (vv_index_push refuses anything else). */
static int contiguous(const struct vv_index *ix)
{
    uint64_t end = 0;
    for (uint64_t i = 0; i < ix->count; i++) {
        if (ix->e[i].off != end || ix->e[i].len == 0)
            return 0;
        end += ix->e[i].len;
    }
    return 1;
}

static int mergeable(enum vv_entry_kind k) { return k == VV_ENTRY_HOLE || k == VV_ENTRY_ZERO; }

int vv_index_push(struct vv_index *ix, uint64_t off, uint64_t len, enum vv_entry_kind kind,
                  uint32_t chunk_off, const uint8_t *id)
{
    struct vv_ix_entry *e;

    if (len == 0 || off != entries_end(ix) || len > ix->virtual_size - off ||
        off > ix->virtual_size || (unsigned)kind > VV_ENTRY_PENDING)
        return VV_E_INVAL;
    if (kind == VV_ENTRY_DATA && (!id || chunk_off > VV_CHUNK_SIZE_MAX ||
                                  len > VV_CHUNK_SIZE_MAX - chunk_off))
        return VV_E_INVAL;
    if (mergeable(kind) && ix->count && ix->e[ix->count - 1].kind == (uint32_t)kind) {
        ix->e[ix->count - 1].len += len;
        return 0;
    }
    if (ix->count == ix->cap) {
        uint64_t cap = ix->cap ? ix->cap * 2 : 64;
        if (cap > SIZE_MAX / sizeof(*e) || !(e = realloc(ix->e, cap * sizeof(*e))))
            return VV_E_NOMEM;
        ix->e = e;
        ix->cap = cap;
    }
    e = &ix->e[ix->count++];
    e->off = off;
    e->len = len;
    e->kind = (uint32_t)kind;
    e->chunk_off = kind == VV_ENTRY_DATA ? chunk_off : 0;
    memcpy(e->id, kind == VV_ENTRY_DATA ? id : zero_id, VV_ENTRY_LEN);
    return 0;
}

void vv_index_normalize(struct vv_index *ix)
{
    uint64_t k = 0;
    for (uint64_t i = 0; i < ix->count; i++) {
        struct vv_ix_entry *e = &ix->e[i];
        if (mergeable((enum vv_entry_kind)e->kind)) {
            e->chunk_off = 0;
            memset(e->id, 0, VV_ENTRY_LEN);
            if (k && ix->e[k - 1].kind == e->kind) {
                ix->e[k - 1].len += e->len;
                continue;
            }
        }
        if (k != i)
            ix->e[k] = *e;
        k++;
    }
    ix->count = k;
    assert(contiguous(ix));
}

void vv_index_count(const struct vv_index *ix, struct vv_index_counts *c)
{
    memset(c, 0, sizeof(*c));
    for (uint64_t i = 0; i < ix->count; i++) {
        switch (ix->e[i].kind) {
        case VV_ENTRY_HOLE: c->hole++; break;
        case VV_ENTRY_ZERO: c->zero++; break;
        case VV_ENTRY_DATA:
            c->data++;
            c->data_bytes += ix->e[i].len;
            break;
        default: break;
        }
    }
}

static int cmp_id(const void *a, const void *b) { return memcmp(a, b, VV_ENTRY_LEN); }

int vv_index_ids(const struct vv_index *ix, uint8_t (**ids)[VV_ENTRY_LEN], size_t *n)
{
    uint8_t(*v)[VV_ENTRY_LEN] = NULL;
    size_t k = 0, u = 0;

    *ids = NULL;
    *n = 0;
    for (uint64_t i = 0; i < ix->count; i++)
        k += ix->e[i].kind == VV_ENTRY_DATA;
    if (!k)
        return 0;
    if (!(v = malloc(k * VV_ENTRY_LEN)))
        return VV_E_NOMEM;
    k = 0;
    for (uint64_t i = 0; i < ix->count; i++)
        if (ix->e[i].kind == VV_ENTRY_DATA)
            memcpy(v[k++], ix->e[i].id, VV_ENTRY_LEN);
    qsort(v, k, VV_ENTRY_LEN, cmp_id);
    for (size_t i = 0; i < k; i++)
        if (!u || memcmp(v[u - 1], v[i], VV_ENTRY_LEN) != 0)
            memmove(v[u++], v[i], VV_ENTRY_LEN);
    *ids = v;
    *n = u;
    return 0;
}

int vv_index_serialize(const struct vv_index *ix, struct vv_buf *out)
{
    uint8_t h[VV_INDEX_HEADER_LEN], *p;
    int r;

    assert(contiguous(ix));
    if (entries_end(ix) != ix->virtual_size)
        return VV_E_INVAL;
    for (uint64_t i = 0; i < ix->count; i++)
        if (ix->e[i].kind == VV_ENTRY_PENDING)
            return VV_E_INVAL;
    if (ix->count > (VV_MAX_INDEX - VV_INDEX_HEADER_LEN) / VV_INDEX_ENTRY_LEN)
        return VV_E_TOOBIG;
    memset(h, 0, sizeof(h));
    vv_put_le32(h, VV_INDEX_VERSION);
    vv_put_le32(h + 4, ix->chunk_size);
    vv_put_le64(h + 8, ix->virtual_size);
    vv_put_le64(h + 16, ix->count);
    vv_put_le32(h + 24, ix->granule);
    out->len = 0;
    if ((r = vv_buf_resize(out, sizeof(h) + ix->count * VV_INDEX_ENTRY_LEN)) < 0)
        return r;
    memcpy(out->data, h, sizeof(h));
    p = out->data + sizeof(h);
    for (uint64_t i = 0; i < ix->count; i++, p += VV_INDEX_ENTRY_LEN) {
        const struct vv_ix_entry *e = &ix->e[i];
        vv_put_le64(p, e->off);
        vv_put_le64(p + 8, e->len);
        vv_put_le32(p + 16, e->chunk_off);
        vv_put_le32(p + 20, e->kind);
        memcpy(p + 24, e->id, VV_ENTRY_LEN);
    }
    return 0;
}

static int reserve(struct vv_index *ix, uint64_t n)
{
    if (n > SIZE_MAX / sizeof(struct vv_ix_entry))
        return VV_E_NOMEM;
    if (n && !(ix->e = malloc(n * sizeof(struct vv_ix_entry))))
        return VV_E_NOMEM;
    ix->cap = n;
    return 0;
}

/* Version 1: fixed chunks, 32 bytes each; converted to entries. */
static int parse_v1(const uint8_t *p, size_t len, struct vv_index *out)
{
    static const uint8_t ff[V1_ENTRY_LEN] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    uint64_t size = vv_get_le64(p + 8), count = vv_get_le64(p + 16);
    uint32_t cs = vv_get_le32(p + 4);
    int r;

    if (!vv_chunk_size_valid(cs) || vv_get_le64(p + 24) != 0)
        return VV_E_CORRUPT;
    if (count != size / cs + (size % cs != 0))
        return VV_E_CORRUPT;
    if (count > (len - VV_INDEX_HEADER_LEN) / V1_ENTRY_LEN ||
        len != VV_INDEX_HEADER_LEN + count * V1_ENTRY_LEN)
        return VV_E_CORRUPT;
    if ((r = vv_index_init(out, size, cs)) < 0)
        return VV_E_CORRUPT;
    for (uint64_t i = 0; i < count; i++) {
        const uint8_t *id = p + VV_INDEX_HEADER_LEN + i * V1_ENTRY_LEN;
        uint64_t off = i * cs, n = size - off < cs ? size - off : cs;
        enum vv_entry_kind k = !memcmp(id, zero_id, V1_ENTRY_LEN) ? VV_ENTRY_HOLE
                               : !memcmp(id, ff, V1_ENTRY_LEN)    ? VV_ENTRY_ZERO
                                                                  : VV_ENTRY_DATA;
        if ((r = vv_index_push(out, off, n, k, 0, id)) < 0) {
            vv_index_release(out);
            return r == VV_E_INVAL ? VV_E_CORRUPT : r;
        }
    }
    return 0;
}

int vv_index_parse(const void *data, size_t len, struct vv_index *out)
{
    const uint8_t *p = data, *q;
    uint64_t size, count, end = 0;
    uint32_t cs, g;
    int r;

    memset(out, 0, sizeof(*out));
    if (len < VV_INDEX_HEADER_LEN)
        return VV_E_CORRUPT;
    if (vv_get_le32(p) == 1)
        return parse_v1(p, len, out);
    if (vv_get_le32(p) != VV_INDEX_VERSION)
        return VV_E_BAD_VERSION;
    cs = vv_get_le32(p + 4);
    size = vv_get_le64(p + 8);
    count = vv_get_le64(p + 16);
    g = vv_get_le32(p + 24);
    if (!vv_chunk_size_valid(cs) || !vv_chunk_size_valid(g) || g > cs ||
        vv_get_le32(p + 28) != 0)
        return VV_E_CORRUPT;
    if (count > (len - VV_INDEX_HEADER_LEN) / VV_INDEX_ENTRY_LEN ||
        len != VV_INDEX_HEADER_LEN + count * VV_INDEX_ENTRY_LEN)
        return VV_E_CORRUPT;
    if ((r = vv_index_init(out, size, cs)) < 0)
        return VV_E_CORRUPT;
    out->granule = g;
    if ((r = reserve(out, count)) < 0) {
        vv_index_release(out);
        return r;
    }
    q = p + VV_INDEX_HEADER_LEN;
    for (uint64_t i = 0; i < count; i++, q += VV_INDEX_ENTRY_LEN) {
        struct vv_ix_entry e;
        e.off = vv_get_le64(q);
        e.len = vv_get_le64(q + 8);
        e.chunk_off = vv_get_le32(q + 16);
        e.kind = vv_get_le32(q + 20);
        memcpy(e.id, q + 24, VV_ENTRY_LEN);
        r = e.off == end && e.len > 0 && e.len <= size - e.off && e.kind <= VV_ENTRY_DATA;
        if (r && mergeable((enum vv_entry_kind)e.kind))
            r = e.chunk_off == 0 && !memcmp(e.id, zero_id, VV_ENTRY_LEN) &&
                !(i && out->e[i - 1].kind == e.kind);
        else if (r)
            r = e.chunk_off <= VV_CHUNK_SIZE_MAX && e.len <= VV_CHUNK_SIZE_MAX - e.chunk_off;
        if (!r) {
            vv_index_release(out);
            return VV_E_CORRUPT;
        }
        out->e[out->count++] = e;
        end = e.off + e.len;
    }
    if (end != size) {
        vv_index_release(out);
        return VV_E_CORRUPT;
    }
    return 0;
}

static int cmp_extent(const void *a, const void *b)
{
    const struct vv_extent *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* The extents clipped to size, sorted and merged (touching ones too) into a new
 * array (caller frees). Returns 0, VV_E_INVAL (overflow), VV_E_NOMEM. */
static int merged(const struct vv_extent *in, size_t n, uint64_t size, struct vv_extent **out,
                  size_t *nout)
{
    struct vv_extent *v = NULL;
    size_t k = 0;

    *out = NULL;
    *nout = 0;
    for (size_t i = 0; i < n; i++)
        if (in[i].len > UINT64_MAX - in[i].off)
            return VV_E_INVAL;
    if (n && !(v = malloc(n * sizeof(*v))))
        return VV_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        uint64_t end = in[i].off + in[i].len;
        if (in[i].len == 0 || in[i].off >= size)
            continue;
        v[k].off = in[i].off;
        v[k++].len = (end > size ? size : end) - in[i].off;
    }
    if (k > 1)
        qsort(v, k, sizeof(*v), cmp_extent);
    *nout = 0;
    for (size_t i = 0; i < k; i++) {
        struct vv_extent *last = *nout ? &v[*nout - 1] : NULL;
        if (last && v[i].off <= last->off + last->len) {
            uint64_t end = v[i].off + v[i].len;
            if (end > last->off + last->len)
                last->len = end - last->off;
        } else {
            v[(*nout)++] = v[i];
        }
    }
    *out = v;
    return 0;
}

/* Pending entries over [a, b), cut at multiples of the chunk size. */
static int push_pending(struct vv_index *ix, uint64_t a, uint64_t b, uint64_t block)
{
    int r;
    while (a < b) {
        uint64_t next = (a / block + 1) * block;
        uint64_t q = next < b ? next : b;
        if ((r = vv_index_push(ix, a, q - a, VV_ENTRY_PENDING, 0, NULL)) < 0)
            return r;
        a = q;
    }
    return 0;
}

int vv_index_plan_full(struct vv_index *out, const struct vv_extent *alloc, size_t nalloc)
{
    return vv_index_plan_regions(out, alloc, nalloc, out->chunk_size);
}

int vv_index_plan_regions(struct vv_index *out, const struct vv_extent *alloc, size_t nalloc,
                          uint64_t region)
{
    struct vv_extent *v;
    uint64_t pos = 0, cs = out->chunk_size, size = out->virtual_size;
    size_t n;
    int r;

    out->count = 0;
    if (region == 0)
        return VV_E_INVAL;
    if ((r = merged(alloc, nalloc, size, &v, &n)) < 0)
        return r;
    for (size_t i = 0; i < n && r == 0; i++) {
        uint64_t a = v[i].off / cs * cs, b = v[i].off + v[i].len;
        b = b > size - cs ? size : (b + cs - 1) / cs * cs; /* no overflow near 2^64 */
        if (b > size)
            b = size;
        if (b <= pos)
            continue;
        if (a < pos)
            a = pos;
        if (a > pos)
            r = vv_index_push(out, pos, a - pos, VV_ENTRY_HOLE, 0, NULL);
        if (r == 0)
            r = push_pending(out, a, b, region);
        pos = b;
    }
    if (r == 0 && pos < size)
        r = vv_index_push(out, pos, size - pos, VV_ENTRY_HOLE, 0, NULL);
    free(v);
    return r;
}

int vv_index_apply_alloc(struct vv_index *ix, const struct vv_extent *alloc, size_t nalloc)
{
    struct vv_extent *v;
    size_t n, j = 0;
    int r = merged(alloc, nalloc, ix->virtual_size, &v, &n);

    if (r < 0)
        return r;
    for (uint64_t i = 0; i < ix->count; i++) {
        struct vv_ix_entry *e = &ix->e[i];
        if (e->kind != VV_ENTRY_PENDING)
            continue;
        /* entries ascend, so do the extents: skip those ending before this entry */
        while (j < n && v[j].off + v[j].len <= e->off)
            j++;
        if (j == n || v[j].off >= e->off + e->len)
            e->kind = VV_ENTRY_HOLE;
    }
    free(v);
    vv_index_normalize(ix);
    return 0;
}

/* The parent's entries over [x, y), sliced where they cross the ends; *j is the
 * first parent entry that may overlap x (it only moves forward). */
static int push_parent(struct vv_index *out, const struct vv_index *parent, uint64_t *j,
                       uint64_t x, uint64_t y)
{
    int r;
    while (*j < parent->count && parent->e[*j].off + parent->e[*j].len <= x)
        (*j)++;
    for (uint64_t k = *j; k < parent->count && parent->e[k].off < y; k++) {
        const struct vv_ix_entry *e = &parent->e[k];
        uint64_t s = e->off > x ? e->off : x, t = e->off + e->len < y ? e->off + e->len : y;
        uint32_t co = e->kind == VV_ENTRY_DATA ? e->chunk_off + (uint32_t)(s - e->off) : 0;
        if ((r = vv_index_push(out, s, t - s, (enum vv_entry_kind)e->kind, co, e->id)) < 0)
            return r;
    }
    return 0;
}

int vv_index_derive(const struct vv_index *parent, uint64_t new_size,
                    const struct vv_extent *changed, size_t nchanged, struct vv_index *out)
{
    struct vv_extent *d = NULL, *v = NULL;
    uint64_t g = parent->granule, keep, pos = 0, j = 0;
    size_t n = 0, nd = 0, cap;
    int r;

    if ((r = vv_index_init(out, new_size, parent->chunk_size)) < 0)
        return r;
    out->granule = g;
    for (size_t e = 0; e < nchanged; e++)
        if (changed[e].len > UINT64_MAX - changed[e].off)
            return VV_E_INVAL;
    /* The granules touched, plus what lies past the parent's end. */
    cap = nchanged + 1;
    if (!(d = malloc(cap * sizeof(*d))))
        return VV_E_NOMEM;
    for (size_t e = 0; e < nchanged; e++) {
        uint64_t a = changed[e].off, b = a + changed[e].len;
        if (changed[e].len == 0 || a >= new_size)
            continue;
        b = b > new_size ? new_size : b;
        a = a / g * g;
        b = b > new_size - g ? new_size : (b + g - 1) / g * g;
        d[nd].off = a;
        d[nd++].len = (b > new_size ? new_size : b) - a;
    }
    keep = parent->virtual_size < new_size ? parent->virtual_size : new_size;
    if (new_size > keep) {
        d[nd].off = keep;
        d[nd++].len = new_size - keep;
    }
    /* A chunk-size block the parent already holds in many pieces is read again
     * whole, so that repeated incrementals never fragment an index without bound. */
    for (uint64_t i = 0, k = 0; r == 0 && i < parent->count; i = k) {
        uint64_t block = parent->e[i].off / parent->chunk_size, b0 = block * parent->chunk_size;
        for (k = i + 1; k < parent->count && parent->e[k].off / parent->chunk_size == block;)
            k++;
        if (k - i <= VV_INDEX_MAX_PIECES || b0 >= keep)
            continue;
        if (nd == cap) {
            struct vv_extent *grown = realloc(d, 2 * cap * sizeof(*d));
            if (!grown) {
                r = VV_E_NOMEM;
                break;
            }
            d = grown;
            cap *= 2;
        }
        d[nd].off = b0;
        d[nd++].len = parent->chunk_size;
    }
    if (r == 0)
        r = merged(d, nd, new_size, &v, &n);
    free(d);
    for (size_t i = 0; i < n && r == 0; i++) {
        if (v[i].off > pos)
            r = push_parent(out, parent, &j, pos, v[i].off);
        if (r == 0)
            r = push_pending(out, v[i].off, v[i].off + v[i].len, out->chunk_size);
        pos = v[i].off + v[i].len;
    }
    if (r == 0 && pos < keep)
        r = push_parent(out, parent, &j, pos, keep);
    free(v);
    if (r < 0)
        vv_index_release(out);
    return r;
}
