/*
 * test_envelope.c: the object envelope. Round trips (empty, 1 byte, compressible,
 * incompressible; sealed and unsealed), the codec chosen, and every kind of damage or
 * tampering detected with its documented code (docs/format.md, "Decoding"). Version
 * 2 seals each object with its own derived key; version 1 objects still open.
 */
#include <stdlib.h>

#include "codec.h"
#include "crc32c.h"
#include "crypto.h"
#include "format/envelope.h"
#include "err.h"
#include "harness.h"
#include "key.h"
#include "util.h"

#define OFF_VERSION 4
#define OFF_TYPE 5
#define OFF_CODEC 6
#define OFF_FLAGS 7
#define OFF_PLAIN 8
#define OFF_PAYLOAD 16
#define OFF_KEYID 24
#define OFF_NONCE 32
#define OFF_CRC 44

static void test_key(struct vv_key *k, uint8_t seed)
{
    uint8_t raw[VV_AES_KEY_LEN];
    for (size_t i = 0; i < sizeof(raw); i++)
        raw[i] = (uint8_t)(seed + i * 7);
    if (vv_key_from_bytes(k, raw) != 0)
        abort();
}

/* Recompute the CRC-32C of an object after a deliberate change, as an attacker would. */
static void fix_crc(uint8_t *obj, size_t len)
{
    uint32_t crc = vv_crc32c(0, obj, OFF_CRC);
    crc = vv_crc32c(crc, obj + VV_ENV_HEADER_LEN, len - VV_ENV_HEADER_LEN);
    vv_put_le32(obj + OFF_CRC, crc);
}

/* Compressible text-like data: a short phrase repeated. */
static void fill_text(uint8_t *p, size_t n)
{
    static const char phrase[] = "the quick brown fox jumps over the lazy dog. ";
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)phrase[i % (sizeof(phrase) - 1)];
}

/* Encode, check the header, decode, compare. */
static void round_trip(struct vv_codec *c, const struct vv_key *key, const uint8_t *plain,
                       size_t n, int want_codec)
{
    struct vv_buf enc = VV_BUF_INIT, dec = VV_BUF_INIT;
    struct vv_envelope_info info;

    CHECK_OK(vv_envelope_encode(c, VV_OBJ_CHUNK, plain, n, key, &enc));
    CHECK(enc.len <= vv_envelope_bound(n));
    CHECK_MEM(enc.data, VV_ENV_MAGIC, 4);
    CHECK_OK(vv_envelope_check(enc.data, enc.len, &info));
    CHECK_EQ(info.version, VV_ENV_VERSION);
    CHECK_EQ(info.type, VV_OBJ_CHUNK);
    CHECK_EQ(info.codec, want_codec);
    CHECK_EQ(info.flags, key ? VV_ENV_FLAG_SEALED : 0);
    CHECK_EQ(info.plain_len, n);
    CHECK_EQ(enc.len, VV_ENV_HEADER_LEN + info.payload_len +
                          (key ? VV_ENV_SALT_LEN + VV_ENV_TAG_LEN : 0));
    if (want_codec == VV_CODEC_ZSTD)
        CHECK(info.payload_len < n);
    else
        CHECK_EQ(info.payload_len, n);
    if (key && n >= 16) /* sealed: the plaintext does not appear in the object */
        CHECK(memmem(enc.data, enc.len, plain, 16) == NULL);
    /* give dec some stale content: decode must replace it */
    CHECK_OK(vv_buf_append(&dec, "stale", 5));
    CHECK_OK(vv_envelope_decode(c, VV_OBJ_CHUNK, enc.data, enc.len, key, VV_MAX_CHUNK, &dec));
    CHECK_EQ(dec.len, n);
    if (n)
        CHECK_MEM(dec.data, plain, n);
    vv_buf_release(&enc);
    vv_buf_release(&dec);
}

TEST(round_trip_all_shapes_sealed_and_unsealed)
{
    struct vv_codec *c = vv_codec_new(VV_CODEC_DEFAULT_LEVEL);
    struct vv_key k;
    size_t big = 256 << 10;
    uint8_t *text = malloc(big), *rnd = malloc(big), one = 0x5a;

    CHECK(c != NULL);
    test_key(&k, 1);
    fill_text(text, big);
    vv_test_seed(11);
    vv_test_fill(rnd, big);
    for (int sealed = 0; sealed < 2; sealed++) {
        const struct vv_key *key = sealed ? &k : NULL;
        round_trip(c, key, NULL, 0, VV_CODEC_NONE);
        round_trip(c, key, &one, 1, VV_CODEC_NONE);
        round_trip(c, key, text, big, VV_CODEC_ZSTD);
        round_trip(c, key, text, 4096, VV_CODEC_ZSTD);
        round_trip(c, key, rnd, big, VV_CODEC_NONE);
        round_trip(c, key, rnd, 4097, VV_CODEC_NONE);
    }
    /* without a codec nothing is compressed, and it still decodes */
    round_trip(NULL, &k, text, 4096, VV_CODEC_NONE);
    free(text);
    free(rnd);
    vv_codec_free(c);
}

TEST(every_object_type_round_trips_and_types_are_not_interchangeable)
{
    struct vv_codec *c = vv_codec_new(VV_CODEC_DEFAULT_LEVEL);
    struct vv_buf enc = VV_BUF_INIT, dec = VV_BUF_INIT;
    struct vv_key k;
    uint8_t plain[300];
    test_key(&k, 2);
    fill_text(plain, sizeof(plain));
    for (int t = VV_OBJ_CHUNK; t <= VV_OBJ_MANIFEST; t++) {
        CHECK_OK(vv_envelope_encode(c, (enum vv_obj_type)t, plain, sizeof(plain), &k, &enc));
        for (int w = VV_OBJ_CHUNK; w <= VV_OBJ_MANIFEST; w++) {
            int r = vv_envelope_decode(c, (enum vv_obj_type)w, enc.data, enc.len, &k, 1 << 20,
                                       &dec);
            if (w == t) {
                CHECK_OK(r);
                CHECK_EQ(dec.len, sizeof(plain));
                CHECK_MEM(dec.data, plain, sizeof(plain));
            } else {
                CHECK_EQ(r, VV_E_BAD_HEADER);
                CHECK_EQ(dec.len, 0);
            }
        }
    }
    CHECK_EQ(vv_envelope_encode(c, (enum vv_obj_type)0, plain, 1, &k, &enc), VV_E_INVAL);
    CHECK_EQ(vv_envelope_encode(c, (enum vv_obj_type)4, plain, 1, &k, &enc), VV_E_INVAL);
    vv_buf_release(&enc);
    vv_buf_release(&dec);
    vv_codec_free(c);
}

TEST(two_encodings_of_the_same_sealed_data_differ)
{
    /* a fresh nonce each time: equal plaintexts do not give equal ciphertexts */
    struct vv_codec *c = vv_codec_new(VV_CODEC_DEFAULT_LEVEL);
    struct vv_buf a = VV_BUF_INIT, b = VV_BUF_INIT;
    struct vv_key k;
    uint8_t plain[64];
    test_key(&k, 3);
    memset(plain, 7, sizeof(plain));
    CHECK_OK(vv_envelope_encode(c, VV_OBJ_CHUNK, plain, sizeof(plain), &k, &a));
    CHECK_OK(vv_envelope_encode(c, VV_OBJ_CHUNK, plain, sizeof(plain), &k, &b));
    CHECK_EQ(a.len, b.len);
    CHECK(memcmp(a.data + OFF_NONCE, b.data + OFF_NONCE, VV_GCM_NONCE_LEN) != 0);
    CHECK(memcmp(a.data + VV_ENV_HEADER_LEN, b.data + VV_ENV_HEADER_LEN,
                 a.len - VV_ENV_HEADER_LEN) != 0);
    vv_buf_release(&a);
    vv_buf_release(&b);
    vv_codec_free(c);
}

/* Objects used by the damage tests: compressible and incompressible, sealed and not. */
struct sample {
    struct vv_buf enc;
    int sealed, codec;
};

static void make_samples(struct vv_codec *c, const struct vv_key *k, struct sample s[4])
{
    uint8_t text[2000], rnd[2000];
    fill_text(text, sizeof(text));
    vv_test_seed(5);
    vv_test_fill(rnd, sizeof(rnd));
    for (int i = 0; i < 4; i++) {
        vv_buf_init(&s[i].enc, 0);
        s[i].sealed = i & 1;
        s[i].codec = i < 2 ? VV_CODEC_ZSTD : VV_CODEC_NONE;
        CHECK_OK(vv_envelope_encode(c, VV_OBJ_CHUNK, i < 2 ? text : rnd, sizeof(text),
                                    s[i].sealed ? k : NULL, &s[i].enc));
        CHECK_EQ(s[i].enc.data[OFF_CODEC], s[i].codec);
    }
}

static void free_samples(struct sample s[4])
{
    for (int i = 0; i < 4; i++)
        vv_buf_release(&s[i].enc);
}

/* Decode a modified copy of s (with the key when s is sealed); returns the code. */
static int decode_mod(struct vv_codec *c, const struct vv_key *k, const struct sample *s,
                      size_t off, uint8_t xor_mask, int recompute_crc)
{
    struct vv_buf dec = VV_BUF_INIT;
    uint8_t *copy = malloc(s->enc.len);
    int r;
    memcpy(copy, s->enc.data, s->enc.len);
    copy[off] ^= xor_mask;
    if (recompute_crc)
        fix_crc(copy, s->enc.len);
    r = vv_envelope_decode(c, VV_OBJ_CHUNK, copy, s->enc.len, s->sealed ? k : NULL,
                           VV_MAX_CHUNK, &dec);
    if (r < 0)
        CHECK_EQ(dec.len, 0);
    free(copy);
    vv_buf_release(&dec);
    return r;
}

/* Set a header byte to v (CRC recomputed so that the header check itself is tested). */
static int decode_set(struct vv_codec *c, const struct vv_key *k, const struct sample *s,
                      size_t off, uint8_t v)
{
    return decode_mod(c, k, s, off, (uint8_t)(s->enc.data[off] ^ v), 1);
}

/* Set a 64-bit header field to v, CRC recomputed. */
static int decode_le64(struct vv_codec *c, const struct vv_key *k, const struct sample *s,
                       size_t off, uint64_t v)
{
    struct vv_buf dec = VV_BUF_INIT;
    uint8_t *copy = malloc(s->enc.len);
    int r;
    memcpy(copy, s->enc.data, s->enc.len);
    vv_put_le64(copy + off, v);
    fix_crc(copy, s->enc.len);
    r = vv_envelope_decode(c, VV_OBJ_CHUNK, copy, s->enc.len, s->sealed ? k : NULL,
                           VV_MAX_CHUNK, &dec);
    free(copy);
    vv_buf_release(&dec);
    return r;
}

TEST(magic_and_version_damage)
{
    struct vv_codec *c = vv_codec_new(VV_CODEC_DEFAULT_LEVEL);
    struct vv_key k;
    struct sample s[4];
    test_key(&k, 4);
    make_samples(c, &k, s);
    for (int i = 0; i < 4; i++) {
        for (size_t off = 0; off < 4; off++) {
            CHECK_EQ(decode_mod(c, &k, &s[i], off, 0x01, 0), VV_E_BAD_MAGIC);
            CHECK_EQ(decode_mod(c, &k, &s[i], off, 0x80, 1), VV_E_BAD_MAGIC);
            CHECK_EQ(vv_envelope_check(s[i].enc.data, s[i].enc.len, NULL), 0);
        }
        CHECK_EQ(decode_set(c, &k, &s[i], OFF_VERSION, 0), VV_E_BAD_VERSION);
        CHECK_EQ(decode_set(c, &k, &s[i], OFF_VERSION, 3), VV_E_BAD_VERSION);
        /* read as version 1: a sealed object has 32 bytes (its salt) too many; an
         * unsealed one is the same in both versions */
        CHECK_EQ(decode_set(c, &k, &s[i], OFF_VERSION, 1), s[i].sealed ? VV_E_TRUNCATED : 0);
        CHECK_EQ(decode_set(c, &k, &s[i], OFF_VERSION, 0xff), VV_E_BAD_VERSION);
        CHECK_EQ(decode_mod(c, &k, &s[i], OFF_VERSION, 0x02, 0), VV_E_BAD_VERSION);
    }
    free_samples(s);
    vv_codec_free(c);
}

TEST(type_codec_flags_damage_is_bad_header)
{
    struct vv_codec *c = vv_codec_new(VV_CODEC_DEFAULT_LEVEL);
    struct vv_key k;
    struct sample s[4];
    test_key(&k, 5);
    make_samples(c, &k, s);
    for (int i = 0; i < 4; i++) {
        const struct sample *o = &s[i];
        /* unknown types */
        CHECK_EQ(decode_set(c, &k, o, OFF_TYPE, 0), VV_E_BAD_HEADER);
        CHECK_EQ(decode_set(c, &k, o, OFF_TYPE, 4), VV_E_BAD_HEADER);
        CHECK_EQ(decode_set(c, &k, o, OFF_TYPE, 0xff), VV_E_BAD_HEADER);
        /* a valid other type: the CRC catches it, and with the CRC redone the type
         * check does */
        CHECK_EQ(decode_mod(c, &k, o, OFF_TYPE, VV_OBJ_CHUNK ^ VV_OBJ_INDEX, 0), VV_E_CHECKSUM);
        CHECK_EQ(decode_set(c, &k, o, OFF_TYPE, VV_OBJ_INDEX), VV_E_BAD_HEADER);
        CHECK_EQ(decode_set(c, &k, o, OFF_TYPE, VV_OBJ_MANIFEST), VV_E_BAD_HEADER);
        /* codecs: unknown, or the other known one (whose length rule then fails) */
        CHECK_EQ(decode_set(c, &k, o, OFF_CODEC, 2), VV_E_BAD_HEADER);
        CHECK_EQ(decode_set(c, &k, o, OFF_CODEC, 0xff), VV_E_BAD_HEADER);
        CHECK_EQ(decode_set(c, &k, o, OFF_CODEC, (uint8_t)(o->codec ^ 1)), VV_E_BAD_HEADER);
        CHECK_EQ(decode_mod(c, &k, o, OFF_CODEC, 1, 0), VV_E_BAD_HEADER);
        /* any flag bit other than "sealed" */
        for (int bit = 1; bit < 8; bit++) {
            CHECK_EQ(decode_mod(c, &k, o, OFF_FLAGS, (uint8_t)(1u << bit), 1), VV_E_BAD_HEADER);
            CHECK_EQ(decode_mod(c, &k, o, OFF_FLAGS, (uint8_t)(1u << bit), 0), VV_E_BAD_HEADER);
        }
        if (o->sealed) {
            /* "unsealed" with a key id and nonce present */
            CHECK_EQ(decode_mod(c, &k, o, OFF_FLAGS, VV_ENV_FLAG_SEALED, 1), VV_E_BAD_HEADER);
        } else {
            /* "sealed" without the 16 tag bytes: the length disagrees with the header */
            CHECK_EQ(decode_mod(c, &k, o, OFF_FLAGS, VV_ENV_FLAG_SEALED, 1), VV_E_TRUNCATED);
            /* an unsealed object must carry a zero key id and nonce */
            CHECK_EQ(decode_mod(c, &k, o, OFF_KEYID, 1, 1), VV_E_BAD_HEADER);
            CHECK_EQ(decode_mod(c, &k, o, OFF_NONCE + 11, 0x40, 1), VV_E_BAD_HEADER);
        }
    }
    free_samples(s);
    vv_codec_free(c);
}

TEST(length_fields_damage)
{
    struct vv_codec *c = vv_codec_new(VV_CODEC_DEFAULT_LEVEL);
    struct vv_key k;
    struct sample s[4];
    test_key(&k, 6);
    make_samples(c, &k, s);
    for (int i = 0; i < 4; i++) {
        const struct sample *o = &s[i];
        if (o->codec == VV_CODEC_NONE) {
            /* codec none: plain_len must equal payload_len */
            CHECK_EQ(decode_mod(c, &k, o, OFF_PLAIN, 1, 1), VV_E_BAD_HEADER);
            CHECK_EQ(decode_mod(c, &k, o, OFF_PAYLOAD, 1, 1), VV_E_BAD_HEADER);
            CHECK_EQ(decode_mod(c, &k, o, OFF_PLAIN + 7, 0x80, 1), VV_E_BAD_HEADER);
        } else {
            /* zstd: payload_len disagrees with the object's length */
            CHECK_EQ(decode_mod(c, &k, o, OFF_PAYLOAD, 1, 1), VV_E_TRUNCATED);
            CHECK_EQ(decode_mod(c, &k, o, OFF_PAYLOAD + 7, 0x80, 1), VV_E_BAD_HEADER);
            /* 0 < payload_len < plain_len is the rule for zstd */
            uint64_t pl = vv_get_le64(o->enc.data + OFF_PAYLOAD);
            CHECK_EQ(decode_le64(c, &k, o, OFF_PLAIN, pl), VV_E_BAD_HEADER);
            CHECK_EQ(decode_le64(c, &k, o, OFF_PLAIN, pl - 1), VV_E_BAD_HEADER);
            CHECK_EQ(decode_le64(c, &k, o, OFF_PLAIN, 0), VV_E_BAD_HEADER);
            CHECK_EQ(decode_le64(c, &k, o, OFF_PAYLOAD, 0), VV_E_BAD_HEADER);
            CHECK_EQ(decode_le64(c, &k, o, OFF_PLAIN, pl + 1), o->sealed ? VV_E_AUTH : VV_E_CODEC);
            /* plain_len changed: CRC, then the tag (sealed) or the frame (unsealed) */
            CHECK_EQ(decode_mod(c, &k, o, OFF_PLAIN, 1, 0), VV_E_CHECKSUM);
            CHECK_EQ(decode_mod(c, &k, o, OFF_PLAIN, 1, 1), o->sealed ? VV_E_AUTH : VV_E_CODEC);
            /* a huge plain_len is refused before any allocation */
            CHECK_EQ(decode_mod(c, &k, o, OFF_PLAIN + 6, 0x10, 1), VV_E_TOOBIG);
        }
    }
    free_samples(s);
    vv_codec_free(c);
}

TEST(truncation_and_extension)
{
    struct vv_codec *c = vv_codec_new(VV_CODEC_DEFAULT_LEVEL);
    struct vv_buf dec = VV_BUF_INIT;
    struct vv_key k;
    struct sample s[4];
    test_key(&k, 7);
    make_samples(c, &k, s);
    for (int i = 0; i < 4; i++) {
        const struct sample *o = &s[i];
        size_t len = o->enc.len;
        uint8_t *copy = malloc(len + 1);
        const struct vv_key *key = o->sealed ? &k : NULL;
        memcpy(copy, o->enc.data, len);
        copy[len] = 0;
        /* one byte missing or one extra, even with the CRC made to match */
        CHECK_EQ(vv_envelope_decode(c, VV_OBJ_CHUNK, copy, len - 1, key, VV_MAX_CHUNK, &dec),
                 VV_E_TRUNCATED);
        CHECK_EQ(vv_envelope_decode(c, VV_OBJ_CHUNK, copy, len + 1, key, VV_MAX_CHUNK, &dec),
                 VV_E_TRUNCATED);
        CHECK_EQ(vv_envelope_check(copy, len - 1, NULL), VV_E_TRUNCATED);
        CHECK_EQ(vv_envelope_check(copy, len + 1, NULL), VV_E_TRUNCATED);
        fix_crc(copy, len - 1);
        CHECK_EQ(vv_envelope_check(copy, len - 1, NULL), VV_E_TRUNCATED);
        memcpy(copy, o->enc.data, len);
        fix_crc(copy, len + 1);
        CHECK_EQ(vv_envelope_check(copy, len + 1, NULL), VV_E_TRUNCATED);
        memcpy(copy, o->enc.data, len);
        /* every shorter prefix fails, down to nothing; short of a header it is
         * "truncated" (with the magic intact) */
        for (size_t n = 0; n < len; n++) {
            int r = vv_envelope_decode(c, VV_OBJ_CHUNK, copy, n, key, VV_MAX_CHUNK, &dec);
            if (r != VV_E_TRUNCATED)
                vv_test_fail(__FILE__, __LINE__, "prefix %zu of %zu: %s", n, len,
                             vv_errname(r));
        }
        CHECK_OK(vv_envelope_decode(c, VV_OBJ_CHUNK, copy, len, key, VV_MAX_CHUNK, &dec));
        free(copy);
    }
    /* a short buffer that is not an object at all */
    CHECK_EQ(vv_envelope_check("GARBAGE!", 8, NULL), VV_E_BAD_MAGIC);
    CHECK_EQ(vv_envelope_check("VVOB", 4, NULL), VV_E_TRUNCATED);
    CHECK_EQ(vv_envelope_check("VV", 2, NULL), VV_E_TRUNCATED);
    vv_buf_release(&dec);
    free_samples(s);
    vv_codec_free(c);
}

TEST(flipped_bits_in_payload_and_tag)
{
    struct vv_codec *c = vv_codec_new(VV_CODEC_DEFAULT_LEVEL);
    struct vv_key k;
    struct sample s[4];
    test_key(&k, 8);
    make_samples(c, &k, s);
    for (int i = 0; i < 4; i++) {
        const struct sample *o = &s[i];
        for (size_t off = VV_ENV_HEADER_LEN; off < o->enc.len; off++) {
            uint8_t bit = (uint8_t)(1u << (off % 8));
            int r = decode_mod(c, &k, o, off, bit, 0);
            if (r != VV_E_CHECKSUM)
                vv_test_fail(__FILE__, __LINE__, "sample %d offset %zu: %s", i, off,
                             vv_errname(r));
            /* scrub without the key sees it too */
            if (o->sealed) {
                r = decode_mod(c, &k, o, off, bit, 1);
                if (r != VV_E_AUTH)
                    vv_test_fail(__FILE__, __LINE__, "sample %d offset %zu, CRC redone: %s",
                                 i, off, vv_errname(r));
            }
        }
        /* the CRC field itself */
        for (size_t off = OFF_CRC; off < VV_ENV_HEADER_LEN; off++)
            CHECK_EQ(decode_mod(c, &k, o, off, 0x10, 0), VV_E_CHECKSUM);
        if (o->sealed) {
            /* key id: the CRC catches it; redone, it reads as another key */
            CHECK_EQ(decode_mod(c, &k, o, OFF_KEYID + 3, 0x01, 0), VV_E_CHECKSUM);
            CHECK_EQ(decode_mod(c, &k, o, OFF_KEYID + 3, 0x01, 1), VV_E_WRONG_KEY);
            /* nonce: only the tag can tell */
            for (size_t off = OFF_NONCE; off < OFF_CRC; off++) {
                CHECK_EQ(decode_mod(c, &k, o, off, 0x04, 0), VV_E_CHECKSUM);
                CHECK_EQ(decode_mod(c, &k, o, off, 0x04, 1), VV_E_AUTH);
            }
        }
    }
    free_samples(s);
    vv_codec_free(c);
}

TEST(flip_every_bit_of_small_sealed_object_fails)
{
    struct vv_codec *c = vv_codec_new(VV_CODEC_DEFAULT_LEVEL);
    struct vv_buf enc = VV_BUF_INIT, dec = VV_BUF_INIT;
    struct vv_key k;
    uint8_t plain[200];
    int failures = 0;
    test_key(&k, 9);
    for (int compressible = 0; compressible < 2; compressible++) {
        if (compressible)
            fill_text(plain, sizeof(plain));
        else
            vv_test_fill(plain, sizeof(plain));
        CHECK_OK(vv_envelope_encode(c, VV_OBJ_MANIFEST, plain, sizeof(plain), &k, &enc));
        CHECK_EQ(enc.data[OFF_CODEC], compressible ? VV_CODEC_ZSTD : VV_CODEC_NONE);
        uint8_t *copy = malloc(enc.len);
        for (size_t pos = 0; pos < enc.len; pos++) {
            for (int bit = 0; bit < 8; bit++) {
                for (int redo = 0; redo < 2; redo++) {
                    int r;
                    if (redo && pos >= OFF_CRC && pos < VV_ENV_HEADER_LEN)
                        continue; /* the CRC itself: recomputing undoes the flip */
                    memcpy(copy, enc.data, enc.len);
                    copy[pos] ^= (uint8_t)(1u << bit);
                    if (redo)
                        fix_crc(copy, enc.len);
                    r = vv_envelope_decode(c, VV_OBJ_MANIFEST, copy, enc.len, &k, 1 << 20,
                                           &dec);
                    if (r >= 0 && failures++ < 5)
                        vv_test_fail(__FILE__, __LINE__,
                                     "byte %zu bit %d (crc redone %d) decoded", pos, bit, redo);
                    else if (r < 0 && dec.len != 0 && failures++ < 5)
                        vv_test_fail(__FILE__, __LINE__, "failed decode left %zu bytes",
                                     dec.len);
                }
            }
            /* the whole byte replaced */
            memcpy(copy, enc.data, enc.len);
            copy[pos] ^= 0xff;
            if (vv_envelope_decode(c, VV_OBJ_MANIFEST, copy, enc.len, &k, 1 << 20, &dec) >= 0 &&
                failures++ < 5)
                vv_test_fail(__FILE__, __LINE__, "byte %zu inverted decoded", pos);
        }
        free(copy);
    }
    CHECK_EQ(failures, 0);
    vv_buf_release(&enc);
    vv_buf_release(&dec);
    vv_codec_free(c);
}

TEST(key_mismatches)
{
    struct vv_codec *c = vv_codec_new(VV_CODEC_DEFAULT_LEVEL);
    struct vv_buf dec = VV_BUF_INIT;
    struct vv_key k, other;
    struct sample s[4];
    test_key(&k, 10);
    test_key(&other, 11);
    CHECK(memcmp(k.id, other.id, VV_KEY_ID_LEN) != 0);
    make_samples(c, &k, s);
    for (int i = 0; i < 4; i++) {
        const struct sample *o = &s[i];
        if (o->sealed) {
            CHECK_EQ(vv_envelope_decode(c, VV_OBJ_CHUNK, o->enc.data, o->enc.len, &other,
                                        VV_MAX_CHUNK, &dec),
                     VV_E_WRONG_KEY);
            CHECK_EQ(vv_envelope_decode(c, VV_OBJ_CHUNK, o->enc.data, o->enc.len, NULL,
                                        VV_MAX_CHUNK, &dec),
                     VV_E_KEY);
            /* the key id matches but the key is not the one: the tag fails */
            struct vv_key forged = other;
            memcpy(forged.id, k.id, VV_KEY_ID_LEN);
            CHECK_EQ(vv_envelope_decode(c, VV_OBJ_CHUNK, o->enc.data, o->enc.len, &forged,
                                        VV_MAX_CHUNK, &dec),
                     VV_E_AUTH);
        } else {
            /* a vault that seals refuses unsealed objects: they could be forged */
            CHECK_EQ(vv_envelope_decode(c, VV_OBJ_CHUNK, o->enc.data, o->enc.len, &k,
                                        VV_MAX_CHUNK, &dec),
                     VV_E_AUTH);
        }
        CHECK_EQ(dec.len, 0);
        /* the scrub check needs no key either way */
        CHECK_OK(vv_envelope_check(o->enc.data, o->enc.len, NULL));
    }
    free_samples(s);
    vv_buf_release(&dec);
    vv_codec_free(c);
}

TEST(max_plain_is_enforced_before_allocation)
{
    struct vv_codec *c = vv_codec_new(VV_CODEC_DEFAULT_LEVEL);
    struct vv_buf enc = VV_BUF_INIT, dec = VV_BUF_INIT;
    struct vv_key k;
    uint8_t plain[1000];
    test_key(&k, 12);
    for (int sealed = 0; sealed < 2; sealed++) {
        for (int compressible = 0; compressible < 2; compressible++) {
            const struct vv_key *key = sealed ? &k : NULL;
            vv_buf_init(&dec, 0);
            if (compressible)
                fill_text(plain, sizeof(plain));
            else
                vv_test_fill(plain, sizeof(plain));
            CHECK_OK(vv_envelope_encode(c, VV_OBJ_INDEX, plain, sizeof(plain), key, &enc));
            CHECK_EQ(vv_envelope_decode(c, VV_OBJ_INDEX, enc.data, enc.len, key, 999, &dec),
                     VV_E_TOOBIG);
            CHECK(dec.data == NULL);
            CHECK_OK(vv_envelope_decode(c, VV_OBJ_INDEX, enc.data, enc.len, key, 1000, &dec));
            CHECK_EQ(dec.len, 1000);
            vv_buf_release(&dec);
            /* TOOBIG comes before any key question */
            CHECK_EQ(vv_envelope_decode(c, VV_OBJ_INDEX, enc.data, enc.len, NULL, 10, &dec),
                     VV_E_TOOBIG);
            /* an output buffer with a smaller cap refuses too */
            vv_buf_init(&dec, 500);
            CHECK_EQ(vv_envelope_decode(c, VV_OBJ_INDEX, enc.data, enc.len, key, 1000, &dec),
                     VV_E_TOOBIG);
            vv_buf_release(&dec);
        }
    }
    vv_buf_release(&enc);
    vv_codec_free(c);
}

TEST(zstd_object_without_codec_is_refused)
{
    struct vv_codec *c = vv_codec_new(VV_CODEC_DEFAULT_LEVEL);
    struct vv_buf enc = VV_BUF_INIT, dec = VV_BUF_INIT;
    uint8_t plain[4096];
    fill_text(plain, sizeof(plain));
    CHECK_OK(vv_envelope_encode(c, VV_OBJ_CHUNK, plain, sizeof(plain), NULL, &enc));
    CHECK_EQ(enc.data[OFF_CODEC], VV_CODEC_ZSTD);
    CHECK(vv_envelope_decode(NULL, VV_OBJ_CHUNK, enc.data, enc.len, NULL, VV_MAX_CHUNK, &dec) <
          0);
    CHECK_EQ(dec.len, 0);
    vv_buf_release(&enc);
    vv_buf_release(&dec);
    vv_codec_free(c);
}

TEST(unsealed_tampering_with_crc_redone_is_caught_by_the_frame)
{
    /* Without a key there is no tag: damage to a zstd frame is caught by the codec
     * (exact size, one frame), the rest by the chunk's SHA-256 one layer up. */
    struct vv_codec *c = vv_codec_new(VV_CODEC_DEFAULT_LEVEL);
    struct vv_buf enc = VV_BUF_INIT, dec = VV_BUF_INIT;
    uint8_t plain[4096];
    fill_text(plain, sizeof(plain));
    CHECK_OK(vv_envelope_encode(c, VV_OBJ_CHUNK, plain, sizeof(plain), NULL, &enc));
    /* the zstd frame's magic number */
    for (size_t off = VV_ENV_HEADER_LEN; off < VV_ENV_HEADER_LEN + 4; off++) {
        uint8_t save = enc.data[off];
        enc.data[off] ^= 0x20;
        fix_crc(enc.data, enc.len);
        CHECK_EQ(vv_envelope_decode(c, VV_OBJ_CHUNK, enc.data, enc.len, NULL, VV_MAX_CHUNK,
                                    &dec),
                 VV_E_CODEC);
        enc.data[off] = save;
    }
    fix_crc(enc.data, enc.len);
    CHECK_OK(vv_envelope_decode(c, VV_OBJ_CHUNK, enc.data, enc.len, NULL, VV_MAX_CHUNK, &dec));
    CHECK_MEM(dec.data, plain, sizeof(plain));
    vv_buf_release(&enc);
    vv_buf_release(&dec);
    vv_codec_free(c);
}

/* ---- per-object keys (version 2) and version 1 objects -------------------------------- */

TEST(hkdf_sha256_matches_rfc5869)
{
    /* RFC 5869 test case 1, the first 32 bytes of its OKM */
    uint8_t ikm[22], salt[13], info[10], out[VV_SHA256_LEN], want[VV_SHA256_LEN];
    memset(ikm, 0x0b, sizeof(ikm));
    for (size_t i = 0; i < sizeof(salt); i++)
        salt[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof(info); i++)
        info[i] = (uint8_t)(0xf0 + i);
    CHECK_OK(vv_hex_decode("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf",
                           want, sizeof(want)));
    CHECK_OK(vv_hkdf_sha256(ikm, sizeof(ikm), salt, sizeof(salt), info, sizeof(info), out));
    CHECK_MEM(out, want, sizeof(want));
}

/* A version 1 sealed object as stores written before version 2 hold it: sealed with
 * the vault key itself. */
static void encode_v1(const struct vv_key *k, const uint8_t *plain, size_t n,
                      struct vv_buf *out)
{
    uint8_t *h;
    CHECK_OK(vv_buf_resize(out, VV_ENV_HEADER_LEN + n + VV_ENV_TAG_LEN));
    h = out->data;
    memset(h, 0, VV_ENV_HEADER_LEN);
    memcpy(h, VV_ENV_MAGIC, 4);
    h[OFF_VERSION] = 1;
    h[OFF_TYPE] = VV_OBJ_CHUNK;
    h[OFF_CODEC] = VV_CODEC_NONE;
    h[OFF_FLAGS] = VV_ENV_FLAG_SEALED;
    vv_put_le64(h + OFF_PLAIN, n);
    vv_put_le64(h + OFF_PAYLOAD, n);
    memcpy(h + OFF_KEYID, k->id, VV_KEY_ID_LEN);
    CHECK_OK(vv_random(h + OFF_NONCE, VV_GCM_NONCE_LEN));
    CHECK_OK(vv_gcm_encrypt(k->key, h + OFF_NONCE, h, OFF_CRC, plain, n,
                            h + VV_ENV_HEADER_LEN, h + VV_ENV_HEADER_LEN + n));
    fix_crc(h, out->len);
}

TEST(version_1_objects_still_open)
{
    struct vv_codec *c = vv_codec_new(VV_CODEC_DEFAULT_LEVEL);
    struct vv_buf enc = VV_BUF_INIT, dec = VV_BUF_INIT;
    struct vv_envelope_info info;
    struct vv_key k, other;
    uint8_t plain[3000];

    test_key(&k, 21);
    test_key(&other, 22);
    vv_test_fill(plain, sizeof(plain));
    encode_v1(&k, plain, sizeof(plain), &enc);
    CHECK_OK(vv_envelope_check(enc.data, enc.len, &info));
    CHECK_EQ(info.version, 1);
    CHECK_OK(vv_envelope_decode(c, VV_OBJ_CHUNK, enc.data, enc.len, &k, VV_MAX_CHUNK, &dec));
    CHECK_EQ(dec.len, sizeof(plain));
    CHECK_MEM(dec.data, plain, sizeof(plain));
    CHECK_EQ(vv_envelope_decode(c, VV_OBJ_CHUNK, enc.data, enc.len, &other, VV_MAX_CHUNK, &dec),
             VV_E_WRONG_KEY);
    /* tampered, CRC redone: the tag still tells */
    enc.data[VV_ENV_HEADER_LEN + 5] ^= 1;
    fix_crc(enc.data, enc.len);
    CHECK_EQ(vv_envelope_decode(c, VV_OBJ_CHUNK, enc.data, enc.len, &k, VV_MAX_CHUNK, &dec),
             VV_E_AUTH);
    vv_buf_release(&enc);
    vv_buf_release(&dec);
    vv_codec_free(c);
}

TEST(version_2_seals_each_object_with_its_own_key)
{
    struct vv_codec *c = vv_codec_new(VV_CODEC_DEFAULT_LEVEL);
    struct vv_buf a = VV_BUF_INIT, b = VV_BUF_INIT, dec = VV_BUF_INIT;
    struct vv_envelope_info info;
    struct vv_key k;
    uint8_t plain[1000], okey[VV_AES_KEY_LEN], *out = malloc(sizeof(plain));
    const uint8_t *salt, *p;

    test_key(&k, 23);
    vv_test_fill(plain, sizeof(plain)); /* incompressible: the payload is the plaintext */
    CHECK_OK(vv_envelope_encode(c, VV_OBJ_CHUNK, plain, sizeof(plain), &k, &a));
    CHECK_OK(vv_envelope_encode(c, VV_OBJ_CHUNK, plain, sizeof(plain), &k, &b));
    CHECK_OK(vv_envelope_check(a.data, a.len, &info));
    CHECK_EQ(info.version, 2);
    CHECK_EQ(a.len, VV_ENV_HEADER_LEN + VV_ENV_SALT_LEN + sizeof(plain) + VV_ENV_TAG_LEN);
    salt = a.data + VV_ENV_HEADER_LEN;
    p = salt + VV_ENV_SALT_LEN;
    /* a fresh 256-bit salt per object */
    CHECK(memcmp(salt, b.data + VV_ENV_HEADER_LEN, VV_ENV_SALT_LEN) != 0);
    /* not sealed with the vault key itself ... */
    CHECK_EQ(vv_gcm_decrypt(k.key, a.data + OFF_NONCE, a.data, OFF_CRC, p, sizeof(plain), out,
                            p + sizeof(plain)),
             VV_E_AUTH);
    /* ... but with HKDF-SHA256(vault key, salt, "vmvault object key v2") */
    CHECK_OK(vv_hkdf_sha256(k.key, VV_AES_KEY_LEN, salt, VV_ENV_SALT_LEN,
                            "vmvault object key v2", 21, okey));
    CHECK_OK(vv_gcm_decrypt(okey, a.data + OFF_NONCE, a.data, OFF_CRC, p, sizeof(plain), out,
                            p + sizeof(plain)));
    CHECK_MEM(out, plain, sizeof(plain));
    /* the salt of another object, CRC redone: another key, the tag fails */
    memcpy(a.data + VV_ENV_HEADER_LEN, b.data + VV_ENV_HEADER_LEN, VV_ENV_SALT_LEN);
    fix_crc(a.data, a.len);
    CHECK_EQ(vv_envelope_decode(c, VV_OBJ_CHUNK, a.data, a.len, &k, VV_MAX_CHUNK, &dec),
             VV_E_AUTH);
    free(out);
    vv_buf_release(&a);
    vv_buf_release(&b);
    vv_buf_release(&dec);
    vv_codec_free(c);
}
