/*
 * test_index.c: the disk index: shape, entry kinds, serialization and its strict
 * parser, and vv_index_derive (which chunks an incremental backup must read again).
 */
#include <stdlib.h>

#include "err.h"
#include "harness.h"
#include "index.h"
#include "util.h"

#define CS 4096u

/* A parent index whose entry i is data with an id derived from i and tag. */
static void make_parent(struct vv_index *ix, uint64_t size, uint32_t cs, uint8_t tag)
{
    CHECK_OK(vv_index_init(ix, size, cs));
    for (uint64_t i = 0; i < ix->count; i++) {
        uint8_t id[VV_ENTRY_LEN];
        memset(id, tag, sizeof(id));
        vv_put_le64(id, i + 1);
        vv_index_set_data(ix, i, id);
    }
}

TEST(chunk_size_validity)
{
    CHECK(vv_chunk_size_valid(4096));
    CHECK(vv_chunk_size_valid(65536));
    CHECK(vv_chunk_size_valid(VV_CHUNK_SIZE_DEFAULT));
    CHECK(vv_chunk_size_valid(16u << 20));
    CHECK(!vv_chunk_size_valid(0));
    CHECK(!vv_chunk_size_valid(2048));
    CHECK(!vv_chunk_size_valid(4095));
    CHECK(!vv_chunk_size_valid(4097));
    CHECK(!vv_chunk_size_valid(12288));
    CHECK(!vv_chunk_size_valid(32u << 20));
    CHECK(!vv_chunk_size_valid(1ull << 40));
}

TEST(init_shape_kinds_and_counts)
{
    struct vv_index ix;
    struct vv_index_counts c;
    uint8_t id[VV_ENTRY_LEN];

    CHECK_EQ(vv_index_init(&ix, 1 << 20, 3000), VV_E_INVAL);
    CHECK_EQ(vv_index_init(&ix, 1 << 20, 0), VV_E_INVAL);
    /* a disk too big for an index of at most VV_MAX_INDEX bytes */
    CHECK_EQ(vv_index_init(&ix, UINT64_MAX, 4096), VV_E_TOOBIG);

    CHECK_OK(vv_index_init(&ix, 0, CS));
    CHECK_EQ(ix.count, 0);
    vv_index_release(&ix);

    CHECK_OK(vv_index_init(&ix, 10 * CS + 1, CS));
    CHECK_EQ(ix.count, 11);
    CHECK_EQ(vv_index_chunk_len(&ix, 0), CS);
    CHECK_EQ(vv_index_chunk_len(&ix, 9), CS);
    CHECK_EQ(vv_index_chunk_len(&ix, 10), 1);
    vv_index_count(&ix, &c);
    CHECK_EQ(c.hole, 11);
    CHECK_EQ(c.zero + c.data, 0);
    memset(id, 0x42, sizeof(id));
    vv_index_set_data(&ix, 3, id);
    vv_index_set_zero(&ix, 4);
    vv_index_set_zero(&ix, 5);
    CHECK_EQ(vv_index_kind(&ix, 3), VV_ENTRY_DATA);
    CHECK_EQ(vv_index_kind(&ix, 4), VV_ENTRY_ZERO);
    CHECK_EQ(vv_index_kind(&ix, 0), VV_ENTRY_HOLE);
    CHECK_MEM(ix.ids[3], id, VV_ENTRY_LEN);
    vv_index_count(&ix, &c);
    CHECK_EQ(c.data, 1);
    CHECK_EQ(c.zero, 2);
    CHECK_EQ(c.hole, 8);
    vv_index_set_hole(&ix, 4);
    CHECK_EQ(vv_index_kind(&ix, 4), VV_ENTRY_HOLE);
    /* an id that differs from a marker in one byte is data */
    memset(id, 0xff, sizeof(id));
    id[31] = 0xfe;
    vv_index_set_data(&ix, 6, id);
    CHECK_EQ(vv_index_kind(&ix, 6), VV_ENTRY_DATA);
    memset(id, 0, sizeof(id));
    id[0] = 1;
    vv_index_set_data(&ix, 7, id);
    CHECK_EQ(vv_index_kind(&ix, 7), VV_ENTRY_DATA);
    vv_index_release(&ix);
    CHECK(ix.ids == NULL);
    CHECK_EQ(ix.count, 0);
}

struct derive_case {
    const char *name;
    uint64_t parent_size, new_size;
    struct vv_extent ext[4];
    size_t next;
    uint64_t dirty[16];
    size_t ndirty;
};

static const struct derive_case derive_cases[] = {
    {"no change", 10 * CS, 10 * CS, {{0, 0}}, 0, {0}, 0},
    {"first chunk", 10 * CS, 10 * CS, {{0, 1}}, 1, {0}, 1},
    {"first chunk whole", 10 * CS, 10 * CS, {{0, CS}}, 1, {0}, 1},
    {"middle chunk", 10 * CS, 10 * CS, {{5 * CS + 100, 10}}, 1, {5}, 1},
    {"last byte", 10 * CS, 10 * CS, {{10 * CS - 1, 1}}, 1, {9}, 1},
    {"last chunk whole", 10 * CS, 10 * CS, {{9 * CS, CS}}, 1, {9}, 1},
    {"spans a boundary", 10 * CS, 10 * CS, {{CS - 1, 2}}, 1, {0, 1}, 2},
    {"spans three chunks exactly", 10 * CS, 10 * CS, {{2 * CS, 3 * CS}}, 1, {2, 3, 4}, 3},
    {"past the end clipped", 10 * CS, 10 * CS, {{9 * CS + 5, 100 * CS}}, 1, {9}, 1},
    {"wholly past the end", 10 * CS, 10 * CS, {{10 * CS, CS}, {50 * CS, 7}}, 2, {0}, 0},
    {"zero-length extents", 10 * CS, 10 * CS, {{3 * CS, 0}, {0, 0}, {10 * CS - 1, 0}}, 3, {0}, 0},
    {"unsorted overlapping", 10 * CS, 10 * CS, {{7 * CS, 2}, {1 * CS, CS + 1}, {7 * CS + 1, 10}, {2 * CS, 1}}, 4, {1, 2, 7}, 3},
    {"whole disk", 10 * CS, 10 * CS, {{0, 10 * CS}}, 1, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 10},
    {"growth adds chunks", 10 * CS, 12 * CS, {{0, 0}}, 0, {10, 11}, 2},
    {"growth with a change", 10 * CS, 12 * CS, {{0, 1}, {11 * CS, 1}}, 2, {0, 10, 11}, 3},
    {"growth from partial last chunk", 10 * CS - 100, 10 * CS + 500, {{0, 0}}, 0, {9, 10}, 2},
    {"growth inside partial last chunk", 10 * CS - 100, 10 * CS - 50, {{0, 0}}, 0, {9}, 1},
    {"growth to a full last chunk", 10 * CS - 100, 10 * CS, {{0, 0}}, 0, {9}, 1},
    {"shrink by whole chunks", 10 * CS, 6 * CS, {{0, 0}}, 0, {0}, 0},
    {"shrink with change past new end", 10 * CS, 6 * CS, {{8 * CS, 10}}, 1, {0}, 0},
    {"shrink to partial last chunk", 10 * CS, 6 * CS - 10, {{0, 0}}, 0, {5}, 1},
    {"shrink to nothing", 10 * CS, 0, {{0, 5}}, 1, {0}, 0},
    {"same size partial last chunk", 10 * CS - 100, 10 * CS - 100, {{0, 0}}, 0, {0}, 0},
    {"from empty parent", 0, 3 * CS - 1, {{0, 0}}, 0, {0, 1, 2}, 3},
};

TEST(derive_table)
{
    for (size_t t = 0; t < sizeof(derive_cases) / sizeof(derive_cases[0]); t++) {
        const struct derive_case *dc = &derive_cases[t];
        struct vv_index parent, out;
        uint64_t *dirty = NULL;
        size_t nd = 99, k = 0;
        int ok = 1;

        make_parent(&parent, dc->parent_size, CS, 0x30);
        CHECK_OK(vv_index_derive(&parent, dc->new_size, dc->ext, dc->next, &out, &dirty, &nd));
        if (out.virtual_size != dc->new_size || out.chunk_size != CS ||
            out.count != (dc->new_size + CS - 1) / CS)
            ok = 0;
        if (nd != dc->ndirty)
            ok = 0;
        for (size_t i = 0; ok && i < nd; i++)
            if (dirty[i] != dc->dirty[i])
                ok = 0;
        /* every entry not listed dirty is the parent's entry for the same chunk */
        for (uint64_t i = 0; ok && i < out.count; i++) {
            if (k < nd && dirty[k] == i) {
                k++;
                continue;
            }
            if (i >= parent.count || memcmp(out.ids[i], parent.ids[i], VV_ENTRY_LEN) != 0)
                ok = 0;
        }
        if (!ok) {
            vv_test_fail(__FILE__, __LINE__, "case '%s': got %zu dirty:", dc->name, nd);
            for (size_t i = 0; i < nd; i++)
                printf("       dirty[%zu] = %llu\n", i, (unsigned long long)dirty[i]);
        }
        free(dirty);
        vv_index_release(&out);
        vv_index_release(&parent);
    }
}

TEST(derive_keeps_chunk_size_and_entry_kinds)
{
    struct vv_index parent, out;
    struct vv_extent e = {3 * 65536, 1};
    uint64_t *dirty;
    size_t nd;
    CHECK_OK(vv_index_init(&parent, 8 * 65536, 65536));
    vv_index_set_zero(&parent, 1);
    uint8_t id[VV_ENTRY_LEN];
    memset(id, 0x77, sizeof(id));
    vv_index_set_data(&parent, 2, id);
    CHECK_OK(vv_index_derive(&parent, 8 * 65536, &e, 1, &out, &dirty, &nd));
    CHECK_EQ(out.chunk_size, 65536);
    CHECK_EQ(nd, 1);
    CHECK_EQ(dirty[0], 3);
    CHECK_EQ(vv_index_kind(&out, 0), VV_ENTRY_HOLE);
    CHECK_EQ(vv_index_kind(&out, 1), VV_ENTRY_ZERO);
    CHECK_EQ(vv_index_kind(&out, 2), VV_ENTRY_DATA);
    CHECK_MEM(out.ids[2], id, VV_ENTRY_LEN);
    free(dirty);
    vv_index_release(&out);
    vv_index_release(&parent);
}

TEST(derive_rejects_overflowing_extent)
{
    struct vv_index parent, out;
    struct vv_extent bad[] = {{0, 1}, {UINT64_MAX - 5, 10}};
    struct vv_extent edge = {UINT64_MAX - 10, 10}; /* ends exactly at UINT64_MAX: fine */
    uint64_t *dirty = (uint64_t *)1;
    size_t nd = 7;
    make_parent(&parent, 4 * CS, CS, 1);
    CHECK_EQ(vv_index_derive(&parent, 4 * CS, bad, 2, &out, &dirty, &nd), VV_E_INVAL);
    CHECK(dirty == NULL);
    CHECK_EQ(nd, 0);
    bad[1].off = 1;
    bad[1].len = UINT64_MAX;
    CHECK_EQ(vv_index_derive(&parent, 4 * CS, bad, 2, &out, &dirty, &nd), VV_E_INVAL);
    CHECK_OK(vv_index_derive(&parent, 4 * CS, &edge, 1, &out, &dirty, &nd));
    CHECK_EQ(nd, 0);
    free(dirty);
    vv_index_release(&out);
    vv_index_release(&parent);
}

static void serialized(uint64_t size, uint32_t cs, struct vv_buf *b)
{
    struct vv_index ix;
    make_parent(&ix, size, cs, 0x55);
    if (ix.count > 1)
        vv_index_set_zero(&ix, 1);
    if (ix.count > 2)
        vv_index_set_hole(&ix, 2);
    vv_buf_init(b, 0);
    CHECK_OK(vv_index_serialize(&ix, b));
    vv_index_release(&ix);
}

TEST(serialize_parse_round_trip)
{
    static const struct {
        uint64_t size;
        uint32_t cs;
    } shapes[] = {{0, 4096}, {1, 4096}, {4096, 4096}, {4097, 4096}, {10 * 65536 - 3, 65536},
                  {5ull << 40, 16u << 20}};
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        struct vv_index ix, back;
        struct vv_buf b = VV_BUF_INIT, again = VV_BUF_INIT;
        make_parent(&ix, shapes[s].size, shapes[s].cs, (uint8_t)s);
        if (ix.count > 1)
            vv_index_set_zero(&ix, 1);
        if (ix.count > 2)
            vv_index_set_hole(&ix, 2);
        CHECK_OK(vv_index_serialize(&ix, &b));
        CHECK_EQ(b.len, VV_INDEX_HEADER_LEN + ix.count * VV_ENTRY_LEN);
        /* the documented header */
        CHECK_EQ(vv_get_le32(b.data), 1);
        CHECK_EQ(vv_get_le32(b.data + 4), shapes[s].cs);
        CHECK_EQ(vv_get_le64(b.data + 8), shapes[s].size);
        CHECK_EQ(vv_get_le64(b.data + 16), ix.count);
        CHECK_EQ(vv_get_le64(b.data + 24), 0);
        CHECK_OK(vv_index_parse(b.data, b.len, &back));
        CHECK_EQ(back.virtual_size, ix.virtual_size);
        CHECK_EQ(back.chunk_size, ix.chunk_size);
        CHECK_EQ(back.count, ix.count);
        if (ix.count)
            CHECK_MEM(back.ids, ix.ids, ix.count * VV_ENTRY_LEN);
        CHECK_OK(vv_index_serialize(&back, &again));
        CHECK_EQ(again.len, b.len);
        CHECK_MEM(again.data, b.data, b.len);
        vv_index_release(&ix);
        vv_index_release(&back);
        vv_buf_release(&b);
        vv_buf_release(&again);
    }
}

/* Parse a modified copy of the serialized index b. */
static int parse_mod(const struct vv_buf *b, size_t len, size_t off, size_t width, uint64_t v)
{
    struct vv_index ix;
    uint8_t *copy = calloc(1, len + 1);
    int r;
    memcpy(copy, b->data, len < b->len ? len : b->len);
    if (width == 4)
        vv_put_le32(copy + off, (uint32_t)v);
    else if (width == 8)
        vv_put_le64(copy + off, v);
    else if (width == 1)
        copy[off] = (uint8_t)v;
    r = vv_index_parse(copy, len, &ix);
    if (r == 0)
        vv_index_release(&ix);
    else
        CHECK(ix.ids == NULL && ix.count == 0);
    free(copy);
    return r;
}

TEST(parse_rejects_malformed)
{
    struct vv_buf b;
    uint64_t size = 5 * CS + 7, count = 6;
    serialized(size, CS, &b);
    CHECK_EQ(b.len, 32 + 6 * 32);
    CHECK_OK(parse_mod(&b, b.len, 0, 0, 0));
    /* version */
    CHECK_EQ(parse_mod(&b, b.len, 0, 4, 0), VV_E_BAD_VERSION);
    CHECK_EQ(parse_mod(&b, b.len, 0, 4, 2), VV_E_BAD_VERSION);
    CHECK_EQ(parse_mod(&b, b.len, 0, 4, 0x01000001), VV_E_BAD_VERSION);
    /* chunk size not a power of two in range (count adjusted so only it is wrong) */
    CHECK_EQ(parse_mod(&b, b.len, 4, 4, 0), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, 4, 4, 4097), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, 4, 4, 6144), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, 4, 4, 2048), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, 4, 4, 32u << 20), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, 4, 4, 0x80000000u), VV_E_CORRUPT);
    {
        /* 6144 with a size for which the count would match */
        struct vv_buf c;
        serialized(6 * 6144, CS, &c);
        CHECK_EQ(c.len, 32 + 9 * 32); /* 36864 / 4096 = 9 chunks */
        vv_put_le64(c.data + 16, 6);  /* the count 6144-byte chunks would give */
        CHECK_EQ(parse_mod(&c, 32 + 6 * 32, 4, 4, 6144), VV_E_CORRUPT);
        vv_buf_release(&c);
    }
    /* count disagrees with the sizes or the length */
    CHECK_EQ(parse_mod(&b, b.len, 16, 8, count - 1), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, 16, 8, count + 1), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len - 32, 16, 8, count - 1), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len + 32, 16, 8, count + 1), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, 16, 8, UINT64_MAX), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, 16, 8, 1ull << 59), VV_E_CORRUPT);
    /* virtual size disagrees with the count */
    CHECK_EQ(parse_mod(&b, b.len, 8, 8, size + CS), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, 8, 8, 5 * CS), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, 8, 8, 0), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, 8, 8, UINT64_MAX), VV_E_CORRUPT);
    /* a size change that keeps the count is still a valid index */
    CHECK_OK(parse_mod(&b, b.len, 8, 8, 6 * CS));
    /* trailing or missing bytes */
    CHECK_EQ(parse_mod(&b, b.len + 1, 0, 0, 0), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len - 1, 0, 0, 0), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len + 31, 0, 0, 0), VV_E_CORRUPT);
    /* reserved: every byte must be zero */
    for (size_t off = 24; off < 32; off++)
        CHECK_EQ(parse_mod(&b, b.len, off, 1, 1), VV_E_CORRUPT);
    /* shorter than a header */
    for (size_t len = 0; len < VV_INDEX_HEADER_LEN; len++) {
        int r = parse_mod(&b, len, 0, 0, 0);
        if (r != VV_E_CORRUPT)
            vv_test_fail(__FILE__, __LINE__, "length %zu: %s", len, vv_errname(r));
    }
    vv_buf_release(&b);

    /* an empty disk: header only, count 0 */
    serialized(0, CS, &b);
    CHECK_EQ(b.len, 32);
    CHECK_OK(parse_mod(&b, 32, 0, 0, 0));
    CHECK_EQ(parse_mod(&b, 33, 0, 0, 0), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, 32, 16, 8, 1), VV_E_CORRUPT);
    vv_buf_release(&b);
}
