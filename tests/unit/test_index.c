/*
 * test_index.c: the disk index: building entries (push, merge, normalize), the full
 * backup's plan, vv_index_derive (what an incremental reads again and how it slices
 * its parent's chunks), serialization and its strict parser (version 2, and version 1
 * read and converted).
 */
#include <stdlib.h>

#include "err.h"
#include "harness.h"
#include "format/index.h"
#include "util.h"

#define CS 16384u
#define G 4096u

static void tag_id(uint8_t id[VV_ENTRY_LEN], uint8_t tag, uint64_t n)
{
    memset(id, tag, VV_ENTRY_LEN);
    vv_put_le64(id, n + 1);
}

/* A parent whose every CS-block is data (chunk n = block n), granule G. */
static void make_parent(struct vv_index *ix, uint64_t size, uint8_t tag)
{
    CHECK_OK(vv_index_init(ix, size, CS));
    ix->granule = G;
    for (uint64_t off = 0, n = 0; off < size; off += CS, n++) {
        uint8_t id[VV_ENTRY_LEN];
        tag_id(id, tag, n);
        CHECK_OK(vv_index_push(ix, off, size - off < CS ? size - off : CS, VV_ENTRY_DATA, 0, id));
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

TEST(push_merges_and_checks)
{
    struct vv_index ix;
    struct vv_index_counts c;
    uint8_t id[VV_ENTRY_LEN];

    CHECK_EQ(vv_index_init(&ix, 1 << 20, 3000), VV_E_INVAL);
    CHECK_EQ(vv_index_init(&ix, 1 << 20, 0), VV_E_INVAL);
    CHECK_OK(vv_index_init(&ix, 1 << 20, VV_CHUNK_SIZE_DEFAULT));
    CHECK_EQ(ix.granule, VV_GRANULE_DEFAULT);
    vv_index_release(&ix);
    CHECK_OK(vv_index_init(&ix, 1 << 20, 4096));
    CHECK_EQ(ix.granule, 4096);
    vv_index_release(&ix);

    CHECK_OK(vv_index_init(&ix, 10 * CS + 1, CS));
    CHECK_EQ(ix.count, 0);
    tag_id(id, 0x42, 0);
    CHECK_OK(vv_index_push(&ix, 0, CS, VV_ENTRY_HOLE, 0, NULL));
    CHECK_OK(vv_index_push(&ix, CS, CS, VV_ENTRY_HOLE, 0, NULL)); /* merges */
    CHECK_EQ(ix.count, 1);
    CHECK_EQ(ix.e[0].len, 2 * CS);
    CHECK_EQ(vv_index_push(&ix, 3 * CS, CS, VV_ENTRY_ZERO, 0, NULL), VV_E_INVAL); /* a gap */
    CHECK_EQ(vv_index_push(&ix, CS, CS, VV_ENTRY_ZERO, 0, NULL), VV_E_INVAL);     /* overlap */
    CHECK_EQ(vv_index_push(&ix, 2 * CS, 0, VV_ENTRY_ZERO, 0, NULL), VV_E_INVAL);  /* empty */
    CHECK_EQ(vv_index_push(&ix, 2 * CS, CS, VV_ENTRY_DATA, 0, NULL), VV_E_INVAL); /* no id */
    CHECK_EQ(vv_index_push(&ix, 2 * CS, CS, VV_ENTRY_DATA, VV_CHUNK_SIZE_MAX - CS + 1, id),
             VV_E_INVAL); /* past the largest chunk */
    CHECK_EQ(vv_index_push(&ix, 2 * CS, 9 * CS, VV_ENTRY_HOLE, 0, NULL), VV_E_INVAL); /* past the disk */
    CHECK_EQ(vv_index_push(&ix, 2 * CS, CS, (enum vv_entry_kind)7, 0, NULL), VV_E_INVAL);
    CHECK_OK(vv_index_push(&ix, 2 * CS, CS, VV_ENTRY_DATA, 100, id));
    CHECK_OK(vv_index_push(&ix, 3 * CS, CS, VV_ENTRY_DATA, 0, id)); /* data never merges */
    CHECK_OK(vv_index_push(&ix, 4 * CS, CS, VV_ENTRY_ZERO, 0, id)); /* id ignored */
    CHECK_OK(vv_index_push(&ix, 5 * CS, 5 * CS, VV_ENTRY_ZERO, 0, NULL));
    CHECK_OK(vv_index_push(&ix, 10 * CS, 1, VV_ENTRY_HOLE, 0, NULL));
    CHECK_EQ(ix.count, 5);
    CHECK_EQ(ix.e[1].chunk_off, 100);
    CHECK_MEM(ix.e[1].id, id, VV_ENTRY_LEN);
    CHECK_EQ(ix.e[3].len, 6 * CS);
    CHECK_EQ(ix.e[3].id[0], 0);
    vv_index_count(&ix, &c);
    CHECK_EQ(c.data, 2);
    CHECK_EQ(c.zero, 1);
    CHECK_EQ(c.hole, 2);
    CHECK_EQ(c.data_bytes, 2 * CS);
    CHECK_EQ(vv_index_push(&ix, 10 * CS + 1, 1, VV_ENTRY_HOLE, 0, NULL), VV_E_INVAL);

    /* normalize merges what filled pending entries left side by side */
    ix.e[1].kind = VV_ENTRY_HOLE;
    ix.e[2].kind = VV_ENTRY_ZERO;
    vv_index_normalize(&ix);
    CHECK_EQ(ix.count, 3);
    CHECK_EQ(ix.e[0].kind, VV_ENTRY_HOLE);
    CHECK_EQ(ix.e[0].len, 3 * CS);
    CHECK_EQ(ix.e[0].chunk_off, 0);
    CHECK_EQ(ix.e[0].id[0], 0);
    CHECK_EQ(ix.e[1].kind, VV_ENTRY_ZERO);
    CHECK_EQ(ix.e[1].off, 3 * CS);
    CHECK_EQ(ix.e[1].len, 7 * CS);
    vv_index_release(&ix);
    CHECK(ix.e == NULL);
    CHECK_EQ(ix.count, 0);
}

/* Expected entries: off, len, kind, chunk_off, parent chunk number (or -1). */
struct want {
    uint64_t off, len;
    int kind;
    uint32_t chunk_off;
    int chunk;
};

static int entries_are(const struct vv_index *ix, const struct want *w, size_t n, uint8_t tag)
{
    if (ix->count != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const struct vv_ix_entry *e = &ix->e[i];
        uint8_t id[VV_ENTRY_LEN];
        if (e->off != w[i].off || e->len != w[i].len || (int)e->kind != w[i].kind ||
            e->chunk_off != w[i].chunk_off)
            return 0;
        if (w[i].chunk >= 0) {
            tag_id(id, tag, (uint64_t)w[i].chunk);
            if (memcmp(e->id, id, VV_ENTRY_LEN) != 0)
                return 0;
        }
    }
    return 1;
}

static void show(const char *name, const struct vv_index *ix)
{
    printf("       case '%s' got %llu entries:\n", name, (unsigned long long)ix->count);
    for (uint64_t i = 0; i < ix->count; i++)
        printf("         {%llu, %llu, kind %u, chunk_off %u}\n",
               (unsigned long long)ix->e[i].off, (unsigned long long)ix->e[i].len,
               ix->e[i].kind, ix->e[i].chunk_off);
}

enum { H = VV_ENTRY_HOLE, Z = VV_ENTRY_ZERO, D = VV_ENTRY_DATA, P = VV_ENTRY_PENDING };

TEST(plan_full)
{
    static const struct {
        const char *name;
        uint64_t size;
        struct vv_extent alloc[3];
        size_t nalloc;
        struct want w[8];
        size_t nw;
    } cases[] = {
        {"nothing allocated", 3 * CS, {{0, 0}}, 0, {{0, 3 * CS, H, 0, -1}}, 1},
        {"empty disk", 0, {{0, 5}}, 1, {{0, 0, 0, 0, 0}}, 0},
        {"all", 2 * CS + 5, {{0, 2 * CS + 5}}, 1,
         {{0, CS, P, 0, -1}, {CS, CS, P, 0, -1}, {2 * CS, 5, P, 0, -1}}, 3},
        {"one byte in the middle", 4 * CS, {{2 * CS + 7, 1}}, 1,
         {{0, 2 * CS, H, 0, -1}, {2 * CS, CS, P, 0, -1}, {3 * CS, CS, H, 0, -1}}, 3},
        {"unsorted, overlapping, past the end", 4 * CS,
         {{3 * CS + 1, 9 * CS}, {1, 2}, {0, CS + 1}}, 3,
         {{0, CS, P, 0, -1}, {CS, CS, P, 0, -1}, {2 * CS, CS, H, 0, -1}, {3 * CS, CS, P, 0, -1}},
         4},
    };
    for (size_t t = 0; t < sizeof(cases) / sizeof(cases[0]); t++) {
        struct vv_index ix;
        CHECK_OK(vv_index_init(&ix, cases[t].size, CS));
        CHECK_OK(vv_index_plan_full(&ix, cases[t].alloc, cases[t].nalloc));
        if (!entries_are(&ix, cases[t].w, cases[t].nw, 0)) {
            vv_test_fail(__FILE__, __LINE__, "plan_full case '%s'", cases[t].name);
            show(cases[t].name, &ix);
        }
        vv_index_release(&ix);
    }
}

TEST(plan_regions)
{
    /* extents rounded out to CS, pending entries cut at multiples of the region */
    static const struct vv_extent alloc[] = {{CS + 3, 5 * CS}, {9 * CS, 1}};
    static const struct want w[] = {{0, CS, H, 0, -1},     {CS, 3 * CS, P, 0, -1},
                                    {4 * CS, 3 * CS, P, 0, -1}, {7 * CS, 2 * CS, H, 0, -1},
                                    {9 * CS, CS, P, 0, -1}, {10 * CS, 2 * CS, H, 0, -1}};
    struct vv_index ix;
    CHECK_OK(vv_index_init(&ix, 12 * CS, CS));
    CHECK_EQ(vv_index_plan_regions(&ix, alloc, 2, 0), VV_E_INVAL);
    CHECK_OK(vv_index_plan_regions(&ix, alloc, 2, 4 * CS));
    if (!entries_are(&ix, w, sizeof(w) / sizeof(w[0]), 0))
        show("plan_regions", &ix);
    CHECK(entries_are(&ix, w, sizeof(w) / sizeof(w[0]), 0));
    vv_index_release(&ix);
}

struct derive_case {
    const char *name;
    uint64_t parent_size, new_size;
    struct vv_extent ext[4];
    size_t next;
    struct want w[10];
    size_t nw;
};

/* Parent: data chunks 0..n-1 of CS bytes (4 granules each); granule G. */
static const struct derive_case derive_cases[] = {
    {"no change", 3 * CS, 3 * CS, {{0, 0}}, 0,
     {{0, CS, D, 0, 0}, {CS, CS, D, 0, 1}, {2 * CS, CS, D, 0, 2}}, 3},
    {"one byte: its granule, the chunk sliced around it", 3 * CS, 3 * CS, {{CS + G + 5, 1}}, 1,
     {{0, CS, D, 0, 0}, {CS, G, D, 0, 1}, {CS + G, G, P, 0, -1}, {CS + 2 * G, 2 * G, D, 2 * G, 1},
      {2 * CS, CS, D, 0, 2}}, 5},
    {"first granule", 2 * CS, 2 * CS, {{0, 1}}, 1,
     {{0, G, P, 0, -1}, {G, 3 * G, D, G, 0}, {CS, CS, D, 0, 1}}, 3},
    {"last granule of a chunk", 2 * CS, 2 * CS, {{CS - 1, 1}}, 1,
     {{0, 3 * G, D, 0, 0}, {3 * G, G, P, 0, -1}, {CS, CS, D, 0, 1}}, 3},
    {"across a chunk boundary: cut there", 2 * CS, 2 * CS, {{CS - 1, 2}}, 1,
     {{0, 3 * G, D, 0, 0}, {3 * G, G, P, 0, -1}, {CS, G, P, 0, -1}, {CS + G, 3 * G, D, G, 1}}, 4},
    {"two changes in one granule, adjacent granules merge", 2 * CS, 2 * CS,
     {{G + 1, 1}, {G + 9, 3}, {2 * G, 1}}, 3,
     {{0, G, D, 0, 0}, {G, 2 * G, P, 0, -1}, {3 * G, G, D, 3 * G, 0}, {CS, CS, D, 0, 1}}, 4},
    {"unsorted and overlapping", 2 * CS, 2 * CS, {{CS + 3 * G, 10}, {0, G}, {CS + 3 * G, 1}, {5, 2}},
     4, {{0, G, P, 0, -1}, {G, 3 * G, D, G, 0}, {CS, 3 * G, D, 0, 1}, {CS + 3 * G, G, P, 0, -1}},
     4},
    {"whole disk", 2 * CS, 2 * CS, {{0, 2 * CS}}, 1, {{0, CS, P, 0, -1}, {CS, CS, P, 0, -1}}, 2},
    {"past the end clipped", 2 * CS, 2 * CS, {{2 * CS - 1, 100 * CS}, {5 * CS, 1}}, 2,
     {{0, CS, D, 0, 0}, {CS, 3 * G, D, 0, 1}, {CS + 3 * G, G, P, 0, -1}}, 3},
    {"zero-length extents", 2 * CS, 2 * CS, {{G, 0}, {0, 0}}, 2,
     {{0, CS, D, 0, 0}, {CS, CS, D, 0, 1}}, 2},
    {"growth is read", 2 * CS, 3 * CS + 5, {{0, 0}}, 0,
     {{0, CS, D, 0, 0}, {CS, CS, D, 0, 1}, {2 * CS, CS, P, 0, -1}, {3 * CS, 5, P, 0, -1}}, 4},
    {"growth from a partial last chunk", 2 * CS - 100, 2 * CS + 10, {{0, 0}}, 0,
     {{0, CS, D, 0, 0}, {CS, CS - 100, D, 0, 1}, {2 * CS - 100, 100, P, 0, -1},
      {2 * CS, 10, P, 0, -1}}, 4},
    {"shrink slices the last chunk", 2 * CS, CS + 100, {{0, 0}}, 0,
     {{0, CS, D, 0, 0}, {CS, 100, D, 0, 1}}, 2},
    {"shrink with a change past the new end", 2 * CS, CS, {{CS + 5, 1}}, 1,
     {{0, CS, D, 0, 0}}, 1},
    {"a change in the last partial granule", 2 * CS - 100, 2 * CS - 100, {{2 * CS - 101, 1}},
     1, {{0, CS, D, 0, 0}, {CS, 3 * G, D, 0, 1}, {CS + 3 * G, G - 100, P, 0, -1}}, 3},
    {"shrink to nothing", 2 * CS, 0, {{0, 5}}, 1, {{0, 0, 0, 0, 0}}, 0},
    {"from an empty parent", 0, CS + 1, {{0, 0}}, 0, {{0, CS, P, 0, -1}, {CS, 1, P, 0, -1}}, 2},
};

TEST(derive_table)
{
    for (size_t t = 0; t < sizeof(derive_cases) / sizeof(derive_cases[0]); t++) {
        const struct derive_case *dc = &derive_cases[t];
        struct vv_index parent, out;

        make_parent(&parent, dc->parent_size, 0x30);
        CHECK_OK(vv_index_derive(&parent, dc->new_size, dc->ext, dc->next, &out));
        if (out.virtual_size != dc->new_size || out.chunk_size != CS || out.granule != G ||
            !entries_are(&out, dc->w, dc->nw, 0x30)) {
            vv_test_fail(__FILE__, __LINE__, "derive case '%s'", dc->name);
            show(dc->name, &out);
        }
        vv_index_release(&out);
        vv_index_release(&parent);
    }
}

TEST(derive_keeps_kinds_and_slices_slices)
{
    struct vv_index parent, mid, out;
    struct vv_extent e1 = {G, 1}, e2 = {3 * G, 1};
    uint8_t id[VV_ENTRY_LEN];

    CHECK_OK(vv_index_init(&parent, 4 * CS, CS));
    parent.granule = G;
    tag_id(id, 0x77, 0);
    CHECK_OK(vv_index_push(&parent, 0, CS, VV_ENTRY_DATA, 0, id));
    CHECK_OK(vv_index_push(&parent, CS, CS, VV_ENTRY_ZERO, 0, NULL));
    CHECK_OK(vv_index_push(&parent, 2 * CS, 2 * CS, VV_ENTRY_HOLE, 0, NULL));
    CHECK_OK(vv_index_derive(&parent, 4 * CS, &e1, 1, &mid));
    /* the pending granule becomes data of a new chunk as the engine would fill it */
    CHECK_EQ(mid.count, 5);
    CHECK_EQ(mid.e[1].kind, VV_ENTRY_PENDING);
    mid.e[1].kind = VV_ENTRY_DATA;
    tag_id(mid.e[1].id, 0x78, 0);
    /* a second incremental cuts the slice [2G, 4G) of chunk 0 again */
    CHECK_OK(vv_index_derive(&mid, 4 * CS, &e2, 1, &out));
    CHECK_EQ(out.count, 6);
    CHECK_EQ(out.e[0].kind, VV_ENTRY_DATA);
    CHECK_EQ(out.e[0].len, G);
    CHECK_EQ(out.e[1].kind, VV_ENTRY_DATA); /* the first incremental's chunk */
    CHECK_EQ(out.e[1].id[VV_ENTRY_LEN - 1], 0x78);
    CHECK_EQ(out.e[2].off, 2 * G);
    CHECK_EQ(out.e[2].len, G);
    CHECK_EQ(out.e[2].chunk_off, 2 * G);
    CHECK_MEM(out.e[2].id, id, VV_ENTRY_LEN);
    CHECK_EQ(out.e[3].kind, VV_ENTRY_PENDING);
    CHECK_EQ(out.e[4].kind, VV_ENTRY_ZERO);
    CHECK_EQ(out.e[5].kind, VV_ENTRY_HOLE);
    CHECK_EQ(out.e[5].len, 2 * CS);
    vv_index_release(&out);
    vv_index_release(&mid);
    vv_index_release(&parent);
}

TEST(derive_reads_a_fragmented_block_whole)
{
    struct vv_index parent, out;
    uint8_t id[VV_ENTRY_LEN];
    struct vv_extent e = {6 * CS - 1, 1};
    /* block 0 in VV_INDEX_MAX_PIECES + 1 pieces, block 1 in VV_INDEX_MAX_PIECES */
    CHECK_OK(vv_index_init(&parent, 6 * CS, CS));
    parent.granule = G;
    for (uint32_t k = 0; k <= VV_INDEX_MAX_PIECES; k++) {
        uint64_t a = k * (CS / (VV_INDEX_MAX_PIECES + 1)), b = (k + 1) * (CS / (VV_INDEX_MAX_PIECES + 1));
        tag_id(id, 0x40, k);
        if (k == VV_INDEX_MAX_PIECES)
            b = CS;
        CHECK_OK(vv_index_push(&parent, a, b - a, VV_ENTRY_DATA, 0, id));
    }
    for (uint32_t k = 0; k < VV_INDEX_MAX_PIECES; k++) {
        tag_id(id, 0x41, k);
        CHECK_OK(vv_index_push(&parent, CS + k * (CS / VV_INDEX_MAX_PIECES), CS / VV_INDEX_MAX_PIECES,
                               VV_ENTRY_DATA, 0, id));
    }
    CHECK_OK(vv_index_push(&parent, 2 * CS, 4 * CS, VV_ENTRY_HOLE, 0, NULL));
    CHECK_OK(vv_index_derive(&parent, 6 * CS, &e, 1, &out));
    /* block 0 pending whole, block 1 kept in its pieces, the hole, then the change */
    CHECK_EQ(out.e[0].kind, VV_ENTRY_PENDING);
    CHECK_EQ(out.e[0].off, 0);
    CHECK_EQ(out.e[0].len, CS);
    CHECK_EQ(out.count, 1 + VV_INDEX_MAX_PIECES + 1 + 1);
    CHECK_EQ(out.e[1].kind, VV_ENTRY_DATA);
    CHECK_EQ(out.e[1].off, CS);
    CHECK_EQ(out.e[out.count - 2].kind, VV_ENTRY_HOLE);
    CHECK_EQ(out.e[out.count - 1].kind, VV_ENTRY_PENDING);
    CHECK_EQ(out.e[out.count - 1].off, 6 * CS - G);
    vv_index_release(&out);
    vv_index_release(&parent);
}

TEST(derive_rejects_overflowing_extent)
{
    struct vv_index parent, out;
    struct vv_extent bad[] = {{0, 1}, {UINT64_MAX - 5, 10}};
    struct vv_extent edge = {UINT64_MAX - 10, 10}; /* ends exactly at UINT64_MAX: fine */
    make_parent(&parent, 4 * CS, 1);
    CHECK_EQ(vv_index_derive(&parent, 4 * CS, bad, 2, &out), VV_E_INVAL);
    CHECK(out.e == NULL);
    bad[1].off = 1;
    bad[1].len = UINT64_MAX;
    CHECK_EQ(vv_index_derive(&parent, 4 * CS, bad, 2, &out), VV_E_INVAL);
    CHECK_OK(vv_index_derive(&parent, 4 * CS, &edge, 1, &out));
    CHECK_EQ(out.count, 4);
    vv_index_release(&out);
    vv_index_release(&parent);
}

TEST(apply_alloc_turns_unallocated_pending_into_holes)
{
    struct vv_index ix;
    struct vv_extent alloc[] = {{5 * CS + 1, 1}, {CS, 1}};
    CHECK_OK(vv_index_init(&ix, 6 * CS, CS));
    CHECK_OK(vv_index_push(&ix, 0, 4 * CS, VV_ENTRY_PENDING, 0, NULL));
    CHECK_OK(vv_index_push(&ix, 4 * CS, CS, VV_ENTRY_HOLE, 0, NULL));
    CHECK_OK(vv_index_push(&ix, 5 * CS, CS, VV_ENTRY_PENDING, 0, NULL));
    CHECK_OK(vv_index_apply_alloc(&ix, alloc, 2));
    CHECK_EQ(ix.count, 3);
    CHECK_EQ(ix.e[0].kind, VV_ENTRY_PENDING); /* touched at CS */
    CHECK_EQ(ix.e[1].kind, VV_ENTRY_HOLE);
    CHECK_EQ(ix.e[2].kind, VV_ENTRY_PENDING);
    CHECK_OK(vv_index_apply_alloc(&ix, NULL, 0));
    CHECK_EQ(ix.count, 1);
    CHECK_EQ(ix.e[0].kind, VV_ENTRY_HOLE);
    CHECK_EQ(ix.e[0].len, 6 * CS);
    vv_index_release(&ix);
}

TEST(ids_are_distinct_and_sorted)
{
    struct vv_index ix;
    uint8_t a[VV_ENTRY_LEN], b[VV_ENTRY_LEN], (*ids)[VV_ENTRY_LEN];
    size_t n;
    memset(a, 0x20, sizeof(a));
    memset(b, 0x10, sizeof(b));
    CHECK_OK(vv_index_init(&ix, 4 * CS, CS));
    CHECK_OK(vv_index_ids(&ix, &ids, &n));
    CHECK_EQ(n, 0);
    CHECK(ids == NULL);
    CHECK_OK(vv_index_push(&ix, 0, G, VV_ENTRY_DATA, 0, a));
    CHECK_OK(vv_index_push(&ix, G, G, VV_ENTRY_DATA, 0, b));
    CHECK_OK(vv_index_push(&ix, 2 * G, G, VV_ENTRY_DATA, 2 * G, a));
    CHECK_OK(vv_index_push(&ix, 3 * G, 4 * CS - 3 * G, VV_ENTRY_ZERO, 0, NULL));
    CHECK_OK(vv_index_ids(&ix, &ids, &n));
    CHECK_EQ(n, 2);
    CHECK_MEM(ids[0], b, VV_ENTRY_LEN);
    CHECK_MEM(ids[1], a, VV_ENTRY_LEN);
    free(ids);
    vv_index_release(&ix);
}

/* A small valid index: data, zero, data slice, hole. */
static void serialized(uint64_t size, struct vv_buf *b)
{
    struct vv_index ix;
    uint8_t id[VV_ENTRY_LEN];
    CHECK_OK(vv_index_init(&ix, size, CS));
    tag_id(id, 0x55, 0);
    if (size >= 4 * CS) {
        CHECK_OK(vv_index_push(&ix, 0, CS, VV_ENTRY_DATA, 0, id));
        CHECK_OK(vv_index_push(&ix, CS, CS, VV_ENTRY_ZERO, 0, NULL));
        CHECK_OK(vv_index_push(&ix, 2 * CS, G, VV_ENTRY_DATA, G, id));
        CHECK_OK(vv_index_push(&ix, 2 * CS + G, size - 2 * CS - G, VV_ENTRY_HOLE, 0, NULL));
    } else if (size) {
        CHECK_OK(vv_index_push(&ix, 0, size, VV_ENTRY_HOLE, 0, NULL));
    }
    vv_buf_init(b, 0);
    CHECK_OK(vv_index_serialize(&ix, b));
    vv_index_release(&ix);
}

TEST(serialize_parse_round_trip)
{
    static const uint64_t sizes[] = {0, 1, 4 * CS, 4 * CS + 1, 5ull << 40};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        struct vv_index back;
        struct vv_buf b, again = VV_BUF_INIT;
        uint64_t count = sizes[s] >= 4 * CS ? 4 : sizes[s] ? 1 : 0;
        serialized(sizes[s], &b);
        CHECK_EQ(b.len, VV_INDEX_HEADER_LEN + count * VV_INDEX_ENTRY_LEN);
        /* the documented header */
        CHECK_EQ(vv_get_le32(b.data), 2);
        CHECK_EQ(vv_get_le32(b.data + 4), CS);
        CHECK_EQ(vv_get_le64(b.data + 8), sizes[s]);
        CHECK_EQ(vv_get_le64(b.data + 16), count);
        CHECK_EQ(vv_get_le32(b.data + 24), CS < VV_GRANULE_DEFAULT ? CS : VV_GRANULE_DEFAULT);
        CHECK_EQ(vv_get_le32(b.data + 28), 0);
        if (count == 4) { /* the third entry: a slice */
            const uint8_t *e = b.data + VV_INDEX_HEADER_LEN + 2 * VV_INDEX_ENTRY_LEN;
            CHECK_EQ(vv_get_le64(e), 2 * CS);
            CHECK_EQ(vv_get_le64(e + 8), G);
            CHECK_EQ(vv_get_le32(e + 16), G);
            CHECK_EQ(vv_get_le32(e + 20), VV_ENTRY_DATA);
            CHECK_EQ(e[24 + 31], 0x55);
        }
        CHECK_OK(vv_index_parse(b.data, b.len, &back));
        CHECK_EQ(back.virtual_size, sizes[s]);
        CHECK_EQ(back.chunk_size, CS);
        CHECK_EQ(back.count, count);
        CHECK_OK(vv_index_serialize(&back, &again));
        CHECK_EQ(again.len, b.len);
        CHECK_MEM(again.data, b.data, b.len);
        vv_index_release(&back);
        vv_buf_release(&b);
        vv_buf_release(&again);
    }
}

TEST(serialize_refuses_pending_or_incomplete)
{
    struct vv_index ix;
    struct vv_buf b = VV_BUF_INIT;
    CHECK_OK(vv_index_init(&ix, 2 * CS, CS));
    CHECK_OK(vv_index_push(&ix, 0, CS, VV_ENTRY_HOLE, 0, NULL));
    CHECK_EQ(vv_index_serialize(&ix, &b), VV_E_INVAL); /* does not cover the disk */
    CHECK_OK(vv_index_push(&ix, CS, CS, VV_ENTRY_PENDING, 0, NULL));
    CHECK_EQ(vv_index_serialize(&ix, &b), VV_E_INVAL);
    vv_buf_release(&b);
    vv_index_release(&ix);
}

TEST(version_1_is_read)
{
    /* 3 chunks of 4096 over 3*4096-5 bytes: data, zero, hole; then hole, data */
    uint8_t v1[32 + 5 * 32];
    struct vv_index ix;
    memset(v1, 0, sizeof(v1));
    vv_put_le32(v1, 1);
    vv_put_le32(v1 + 4, 4096);
    vv_put_le64(v1 + 8, 5 * 4096 - 5);
    vv_put_le64(v1 + 16, 5);
    memset(v1 + 32, 0xab, 32);
    memset(v1 + 64, 0xff, 32);
    memset(v1 + 160, 0xcd, 32);
    CHECK_OK(vv_index_parse(v1, sizeof(v1), &ix));
    CHECK_EQ(ix.virtual_size, 5 * 4096 - 5);
    CHECK_EQ(ix.chunk_size, 4096);
    CHECK_EQ(ix.granule, 4096);
    CHECK_EQ(ix.count, 4);
    CHECK_EQ(ix.e[0].kind, VV_ENTRY_DATA);
    CHECK_EQ(ix.e[0].id[5], 0xab);
    CHECK_EQ(ix.e[1].kind, VV_ENTRY_ZERO);
    CHECK_EQ(ix.e[2].kind, VV_ENTRY_HOLE);
    CHECK_EQ(ix.e[2].len, 2 * 4096);
    CHECK_EQ(ix.e[3].kind, VV_ENTRY_DATA);
    CHECK_EQ(ix.e[3].len, 4096 - 5);
    vv_index_release(&ix);
    vv_put_le64(v1 + 16, 4); /* count disagrees */
    CHECK_EQ(vv_index_parse(v1, sizeof(v1), &ix), VV_E_CORRUPT);
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
        CHECK(ix.e == NULL && ix.count == 0);
    free(copy);
    return r;
}

#define E(i) (VV_INDEX_HEADER_LEN + (i) * VV_INDEX_ENTRY_LEN)

TEST(parse_rejects_malformed)
{
    struct vv_buf b;
    uint64_t size = 5 * CS + 7;
    serialized(size, &b);
    CHECK_EQ(b.len, E(4));
    CHECK_OK(parse_mod(&b, b.len, 0, 0, 0));
    /* version */
    CHECK_EQ(parse_mod(&b, b.len, 0, 4, 0), VV_E_BAD_VERSION);
    CHECK_EQ(parse_mod(&b, b.len, 0, 4, 3), VV_E_BAD_VERSION);
    CHECK_EQ(parse_mod(&b, b.len, 0, 4, 0x01000002), VV_E_BAD_VERSION);
    /* chunk size and granule: powers of two in range, granule <= chunk size */
    CHECK_EQ(parse_mod(&b, b.len, 4, 4, 0), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, 4, 4, 4097), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, 4, 4, 32u << 20), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, 4, 4, 8192), VV_E_CORRUPT); /* below the granule */
    CHECK_EQ(parse_mod(&b, b.len, 24, 4, 2 * CS), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, 24, 4, 6144), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, 24, 4, 0), VV_E_CORRUPT);
    CHECK_OK(parse_mod(&b, b.len, 24, 4, 4096));
    for (size_t off = 28; off < 32; off++)
        CHECK_EQ(parse_mod(&b, b.len, off, 1, 1), VV_E_CORRUPT); /* reserved */
    /* count disagrees with the length */
    CHECK_EQ(parse_mod(&b, b.len, 16, 8, 3), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, 16, 8, 5), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, 16, 8, UINT64_MAX), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, 16, 8, 1ull << 59), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len - VV_INDEX_ENTRY_LEN, 16, 8, 3), VV_E_CORRUPT); /* short */
    /* virtual size disagrees with the entries */
    CHECK_EQ(parse_mod(&b, b.len, 8, 8, size + 1), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, 8, 8, size - 1), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, 8, 8, 0), VV_E_CORRUPT);
    /* trailing or missing bytes */
    CHECK_EQ(parse_mod(&b, b.len + 1, 0, 0, 0), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len - 1, 0, 0, 0), VV_E_CORRUPT);
    /* entries: a gap, an overlap, an empty one, a length past the disk */
    CHECK_EQ(parse_mod(&b, b.len, E(1), 8, CS + 1), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, E(1), 8, CS - 1), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, E(0) + 8, 8, 0), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, E(3) + 8, 8, UINT64_MAX), VV_E_CORRUPT);
    /* kinds: unknown or pending; a hole or zero with an id or chunk offset; neighbours
     * of one kind that should have been merged */
    CHECK_EQ(parse_mod(&b, b.len, E(0) + 20, 4, VV_ENTRY_PENDING), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, E(0) + 20, 4, 99), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, E(1) + 24, 1, 1), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, E(3) + 16, 4, 1), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, b.len, E(2) + 20, 4, VV_ENTRY_HOLE), VV_E_CORRUPT); /* id set */
    /* data: a slice past the largest chunk */
    CHECK_EQ(parse_mod(&b, b.len, E(2) + 16, 4, VV_CHUNK_SIZE_MAX - G + 1), VV_E_CORRUPT);
    CHECK_OK(parse_mod(&b, b.len, E(2) + 16, 4, VV_CHUNK_SIZE_MAX - G));
    /* shorter than a header */
    for (size_t len = 0; len < VV_INDEX_HEADER_LEN; len++) {
        int r = parse_mod(&b, len, 0, 0, 0);
        if (r != VV_E_CORRUPT)
            vv_test_fail(__FILE__, __LINE__, "length %zu: %s", len, vv_errname(r));
    }
    vv_buf_release(&b);

    /* an empty disk: header only, count 0 */
    serialized(0, &b);
    CHECK_EQ(b.len, 32);
    CHECK_OK(parse_mod(&b, 32, 0, 0, 0));
    CHECK_EQ(parse_mod(&b, 33, 0, 0, 0), VV_E_CORRUPT);
    CHECK_EQ(parse_mod(&b, 32, 16, 8, 1), VV_E_CORRUPT);
    vv_buf_release(&b);
}
