/* chunker.c: content-defined chunk boundaries (see chunker.h). Pure. */
#include "chunker.h"

#include "err.h"
#include "format/index.h"

/* splitmix64: the gear table is this sequence from a fixed seed (format, see .h). */
static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The top bits of the hash: the low bits depend on the last few bytes only. */
static uint64_t top_mask(unsigned bits) { return bits >= 64 ? ~0ull : ~(~0ull >> bits); }

int vv_chunker_init(struct vv_chunker *c, uint32_t avg)
{
    uint64_t seed = 0x766d7661756c7431ull; /* "vmvault1" */
    unsigned bits = 0;

    if (avg < VV_CHUNK_SIZE_MIN || (avg & (avg - 1)) || avg > VV_CHUNK_SIZE_MAX)
        return VV_E_INVAL;
    while ((1u << bits) < avg)
        bits++;
    c->avg = avg;
    c->min = avg / 4;
    c->max = avg > VV_CHUNK_SIZE_MAX / 4 ? VV_CHUNK_SIZE_MAX : avg * 4;
    c->mask_s = top_mask(bits + 2);
    c->mask_l = top_mask(bits - 2);
    for (int i = 0; i < 256; i++)
        c->gear[i] = splitmix64(&seed);
    return 0;
}

size_t vv_chunker_next(const struct vv_chunker *c, const uint8_t *p, size_t n, int final)
{
    size_t end = n < c->max ? n : c->max, mid = end < c->avg ? end : c->avg, i = c->min;
    uint64_t h = 0;

    if (n <= c->min)
        return final ? n : 0;
    /* The hash needs 64 bytes of history: start it that far before min. */
    for (size_t k = i >= 64 ? i - 64 : 0; k < i; k++)
        h = (h << 1) + c->gear[p[k]];
    for (; i < mid; i++) {
        h = (h << 1) + c->gear[p[i]];
        if (!(h & c->mask_s))
            return i + 1;
    }
    for (; i < end; i++) {
        h = (h << 1) + c->gear[p[i]];
        if (!(h & c->mask_l))
            return i + 1;
    }
    if (end == c->max)
        return end;
    return final ? n : 0;
}
