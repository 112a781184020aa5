/*
 * test_chunker.c: content-defined chunk boundaries: parameters, the bounds every chunk
 * keeps, what "more data needed" means, cuts that follow the content when it moves,
 * all-zero data, and pinned cut lengths (the cut rule is part of the store's format).
 */
#include <stdlib.h>

#include "chunker.h"
#include "err.h"
#include "harness.h"
#include "format/index.h"

#define KiB 1024u
#define MiB (1024u * 1024u)

/* Cut all of p[0, n) with final = 1: chunk lengths into len[] (at most cap). */
static size_t cut_all(const struct vv_chunker *c, const uint8_t *p, size_t n, size_t *len,
                      size_t cap)
{
    size_t k = 0, pos = 0;
    while (pos < n && k < cap) {
        size_t l = vv_chunker_next(c, p + pos, n - pos, 1);
        CHECK(l > 0);
        if (!l)
            break;
        len[k++] = l;
        pos += l;
    }
    CHECK_EQ(pos, n);
    return k;
}

/* n seeded random bytes cut with an average of avg: the buffer (caller frees) and
 * the chunk lengths in len[] (*k of them). */
static uint8_t *random_cuts(struct vv_chunker *c, uint32_t avg, uint64_t seed, size_t n,
                            size_t *len, size_t cap, size_t *k)
{
    uint8_t *p = malloc(n);
    CHECK_OK(vv_chunker_init(c, avg));
    vv_test_seed(seed);
    vv_test_fill(p, n);
    *k = cut_all(c, p, n, len, cap);
    return p;
}

TEST(init_checks_the_average_and_derives_bounds)
{
    struct vv_chunker c;
    CHECK_EQ(vv_chunker_init(&c, 1000), VV_E_INVAL);
    CHECK_EQ(vv_chunker_init(&c, 2048), VV_E_INVAL);
    CHECK_EQ(vv_chunker_init(&c, 3 * 65536), VV_E_INVAL);
    CHECK_EQ(vv_chunker_init(&c, 32u << 20), VV_E_INVAL);
    CHECK_OK(vv_chunker_init(&c, VV_CHUNK_SIZE_DEFAULT));
    CHECK_EQ(c.min, 64 * KiB);
    CHECK_EQ(c.avg, 256 * KiB);
    CHECK_EQ(c.max, 1 * MiB);
    CHECK_OK(vv_chunker_init(&c, 4096));
    CHECK_EQ(c.min, 1024);
    CHECK_EQ(c.max, 16384);
    CHECK_OK(vv_chunker_init(&c, 16u << 20));
    CHECK_EQ(c.max, VV_CHUNK_SIZE_MAX); /* never more than a chunk may hold */
}

TEST(chunks_stay_within_bounds_and_average_near_avg)
{
    struct vv_chunker c;
    size_t n = 16 * MiB, len[4096], k;
    uint8_t *p = random_cuts(&c, 64 * KiB, 11, n, len, 4096, &k);
    for (size_t i = 0; i + 1 < k; i++)
        CHECK(len[i] > c.min && len[i] <= c.max);
    CHECK(len[k - 1] <= c.max);
    /* random data: the mean lands near avg + a bit (min is skipped) */
    CHECK(n / k > 48 * KiB && n / k < 112 * KiB);
    free(p);
}

TEST(more_data_needed_unless_final)
{
    struct vv_chunker c;
    uint8_t *p = calloc(1, 256 * KiB);
    size_t l;
    CHECK_OK(vv_chunker_init(&c, 16 * KiB)); /* min 4K, max 64K */
    vv_test_seed(12);
    vv_test_fill(p, 256 * KiB);
    /* shorter than min: nothing to cut yet, or all of it at the end */
    CHECK_EQ(vv_chunker_next(&c, p, 4096, 0), 0);
    CHECK_EQ(vv_chunker_next(&c, p, 4096, 1), 4096);
    CHECK_EQ(vv_chunker_next(&c, p, 1, 1), 1);
    /* the first cut is the same whatever the bytes after it */
    l = vv_chunker_next(&c, p, 256 * KiB, 0);
    CHECK(l > c.min && l <= c.max);
    CHECK_EQ(vv_chunker_next(&c, p, l, 0), l);
    CHECK_EQ(vv_chunker_next(&c, p, l + 1, 1), l);
    /* up to the byte before it, no cut: more is needed, or it all ends there */
    CHECK_EQ(vv_chunker_next(&c, p, l - 1, 0), 0);
    CHECK_EQ(vv_chunker_next(&c, p, l - 1, 1), l - 1);
    /* max bytes without a cut are one chunk, final or not */
    memset(p, 0, 256 * KiB);
    CHECK_EQ(vv_chunker_next(&c, p, 256 * KiB, 0), c.max);
    CHECK_EQ(vv_chunker_next(&c, p, c.max, 0), c.max);
    CHECK_EQ(vv_chunker_next(&c, p, c.max - 1, 0), 0);
    free(p);
}

/* The cut offsets of p[0, n), as a sorted list, relative to p + shift. */
static size_t cut_offsets(const struct vv_chunker *c, const uint8_t *p, size_t n, size_t shift,
                          size_t *out, size_t cap)
{
    size_t len[4096], k = cut_all(c, p, n, len, 4096), pos = 0, m = 0;
    for (size_t i = 0; i < k && m < cap; i++) {
        pos += len[i];
        if (pos > shift)
            out[m++] = pos - shift;
    }
    return m;
}

TEST(cuts_follow_content_that_moves)
{
    struct vv_chunker c;
    size_t n = 8 * MiB, shift = 12345, a[4096], b[4096], na, nb, same = 0;
    uint8_t *p = malloc(n + shift);
    CHECK_OK(vv_chunker_init(&c, 64 * KiB));
    vv_test_seed(13);
    vv_test_fill(p, n + shift);
    /* the same 8 MiB alone, and after 12345 other bytes */
    na = cut_offsets(&c, p + shift, n, 0, a, 4096);
    nb = cut_offsets(&c, p, n + shift, shift, b, 4096);
    for (size_t i = 0, j = 0; i < na && j < nb;) {
        if (a[i] == b[j]) {
            same++;
            i++;
            j++;
        } else if (a[i] < b[j]) {
            i++;
        } else {
            j++;
        }
    }
    /* after the first cut or two, every cut is at the same place */
    CHECK(na > 60);
    CHECK(same + 3 >= na);
    free(p);
}

TEST(zeros_cut_at_max)
{
    struct vv_chunker c;
    size_t n = 4 * MiB, len[64], k;
    uint8_t *p = calloc(1, n);
    CHECK_OK(vv_chunker_init(&c, 256 * KiB));
    k = cut_all(&c, p, n, len, 64);
    CHECK_EQ(k, 4);
    for (size_t i = 0; i < k; i++)
        CHECK_EQ(len[i], c.max);
    free(p);
}

TEST(cut_lengths_are_pinned)
{
    /* The cut rule is part of the store's format: the same bytes must give the same
     * chunks in every version, or dedup with older backups is lost. */
    static const size_t want[] = {54799, 83676, 75987, 74571, 71684, 77115, 91735, 53181};
    struct vv_chunker c;
    size_t len[256], k;
    uint8_t *p = random_cuts(&c, 64 * KiB, 42, 2 * MiB, len, 256, &k);
    CHECK(k >= sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]) && i < k; i++)
        CHECK_EQ(len[i], want[i]);
    free(p);
}
