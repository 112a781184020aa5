/*
 * fuzz_index.c: vv_index_parse on untrusted bytes. A version 2 index that parses
 * serializes back to exactly the input bytes (a version 1 one to an index that parses
 * to the same entries), its counts add up, and deriving a child index from it
 * (shrunk, grown, with extents taken from the input) keeps the documented shape:
 * contiguous entries covering the new size, pending ones within a chunk-size block,
 * the others the parent's bytes (the same chunk at the same relative offset).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "format/index.h"
#include "util.h"

/* The parent entry holding disk byte off (entries contiguous, sorted). */
static const struct vv_ix_entry *at(const struct vv_index *ix, uint64_t off)
{
    uint64_t lo = 0, hi = ix->count;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (ix->e[mid].off + ix->e[mid].len <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ix->count ? &ix->e[lo] : NULL;
}

static void derive_check(const struct vv_index *ix, uint64_t new_size,
                         const struct vv_extent *ext, size_t n)
{
    struct vv_index out;
    uint64_t end = 0;
    if (vv_index_derive(ix, new_size, ext, n, &out) != 0) {
        if (out.e || out.count)
            abort();
        return;
    }
    if (out.virtual_size != new_size || out.chunk_size != ix->chunk_size ||
        out.granule != ix->granule)
        abort();
    for (uint64_t i = 0; i < out.count; i++) {
        const struct vv_ix_entry *e = &out.e[i], *p;
        if (e->off != end || e->len == 0)
            abort();
        end = e->off + e->len;
        if (e->kind == VV_ENTRY_PENDING) {
            if (e->len > ix->chunk_size || e->off / ix->chunk_size != (end - 1) / ix->chunk_size)
                abort();
            continue;
        }
        /* kept: within the parent, and the same bytes as the parent there */
        if (end > ix->virtual_size || !(p = at(ix, e->off)) || end > p->off + p->len ||
            e->kind != p->kind)
            abort();
        if (e->kind == VV_ENTRY_DATA &&
            (memcmp(e->id, p->id, VV_ENTRY_LEN) != 0 ||
             e->chunk_off != p->chunk_off + (e->off - p->off)))
            abort();
    }
    if (end != new_size)
        abort();
    vv_index_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vv_index ix, back;
    struct vv_buf b = VV_BUF_INIT;
    struct vv_index_counts c;
    struct vv_extent ext[4];
    size_t next = 0;

    if (vv_index_parse(data, size, &ix) != 0) {
        if (ix.e || ix.count)
            abort();
        return 0;
    }
    if (vv_index_serialize(&ix, &b) != 0)
        abort();
    if (vv_get_le32(data) == VV_INDEX_VERSION && (b.len != size || memcmp(b.data, data, size) != 0))
        abort();
    if (vv_index_parse(b.data, b.len, &back) != 0 || back.count != ix.count ||
        (ix.count && memcmp(back.e, ix.e, ix.count * sizeof(*ix.e)) != 0))
        abort();
    vv_index_release(&back);
    vv_index_count(&ix, &c);
    if (c.data + c.zero + c.hole != ix.count)
        abort();
    /* extents from the input's bytes, when there are some */
    uint64_t mod = ix.virtual_size + 1 + ix.chunk_size;
    for (size_t off = VV_INDEX_HEADER_LEN; off + 16 <= size && next < 4; off += 32) {
        ext[next].off = vv_get_le64(data + off) % (mod ? mod : UINT64_MAX);
        ext[next].len = vv_get_le64(data + off + 8) % (4ull * ix.chunk_size + 1);
        next++;
    }
    derive_check(&ix, ix.virtual_size, ext, next);
    derive_check(&ix, ix.virtual_size / 2 + 1, ext, next);
    derive_check(&ix, ix.virtual_size + 3ull * ix.chunk_size - 1, ext, next);
    vv_buf_release(&b);
    vv_index_release(&ix);
    return 0;
}
