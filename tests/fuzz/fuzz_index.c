/*
 * fuzz_index.c: vv_index_parse on untrusted bytes. An index that parses serializes
 * back to exactly the input bytes, its counts add up, and deriving a child index from
 * it (shrunk, grown, with extents taken from the input) keeps the documented shape.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "index.h"
#include "util.h"

static void derive_check(const struct vv_index *ix, uint64_t new_size,
                         const struct vv_extent *ext, size_t n)
{
    struct vv_index out;
    uint64_t *dirty = NULL;
    size_t nd = 0;
    if (vv_index_derive(ix, new_size, ext, n, &out, &dirty, &nd) != 0) {
        if (dirty || nd)
            abort();
        return;
    }
    if (out.virtual_size != new_size || out.chunk_size != ix->chunk_size)
        abort();
    for (size_t i = 0; i < nd; i++)
        if (dirty[i] >= out.count || (i && dirty[i] <= dirty[i - 1]))
            abort();
    /* untouched entries are the parent's */
    for (uint64_t i = 0, k = 0; i < out.count; i++) {
        if (k < nd && dirty[k] == i) {
            k++;
            continue;
        }
        if (i >= ix->count || memcmp(out.ids[i], ix->ids[i], VV_ENTRY_LEN) != 0)
            abort();
    }
    free(dirty);
    vv_index_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vv_index ix;
    struct vv_buf b = VV_BUF_INIT;
    struct vv_index_counts c;
    struct vv_extent ext[4];
    size_t next = 0;

    if (vv_index_parse(data, size, &ix) != 0) {
        if (ix.ids || ix.count)
            abort();
        return 0;
    }
    if (vv_index_serialize(&ix, &b) != 0 || b.len != size || memcmp(b.data, data, size) != 0)
        abort();
    vv_index_count(&ix, &c);
    if (c.data + c.zero + c.hole != ix.count)
        abort();
    if (ix.count && vv_index_chunk_len(&ix, ix.count - 1) == 0)
        abort();
    /* extents from the entry bytes, when there are some */
    for (size_t off = VV_INDEX_HEADER_LEN; off + 16 <= size && next < 4; off += 32) {
        ext[next].off = vv_get_le64(data + off) % (ix.virtual_size + 1 + ix.chunk_size);
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
