/*
 * envelope.c: encode and decode stored objects (see envelope.h, docs/format.md).
 *
 * Layout, little-endian:
 *   0  4  magic "VVOB"        4  1 version      5  1 type       6  1 codec    7  1 flags
 *   8  8  plain_len          16  8 payload_len 24  8 key id    32 12 nonce
 *  44  4  crc32c of bytes [0,44) ++ everything after the header
 *  48  version 2 and sealed: the 32-byte salt of the object's key
 *   .  payload_len bytes of payload, then the 16-byte GCM tag when sealed.
 * The GCM additional data is bytes [0,44) of the header. The key: version 1, the
 * vault key; version 2, HKDF-SHA256(vault key, salt, "vmvault object key v2"), so a
 * salt changed in place gives another key and the tag check fails.
 */
#include "envelope.h"

#include <string.h>

#include "crc32c.h"
#include "crypto.h"
#include "err.h"
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
#define AAD_LEN OFF_CRC
#define KDF_INFO "vmvault object key v2"

size_t vv_envelope_bound(size_t n)
{
    size_t b = vv_codec_bound(n);
    return VV_ENV_HEADER_LEN + VV_ENV_SALT_LEN + (b > n ? b : n) + VV_ENV_TAG_LEN;
}

/* The key that seals an object: the vault key (version 1), or the one derived from it
 * and the object's salt (version 2). */
static int object_key(const struct vv_key *key, int version, const uint8_t *salt,
                      uint8_t out[VV_AES_KEY_LEN])
{
    if (version == 1) {
        memcpy(out, key->key, VV_AES_KEY_LEN);
        return 0;
    }
    return vv_hkdf_sha256(key->key, VV_AES_KEY_LEN, salt, VV_ENV_SALT_LEN, KDF_INFO,
                          strlen(KDF_INFO), out);
}

/* Bytes between the header and the payload. */
static size_t salt_len(int version, uint8_t flags)
{
    return version == 2 && (flags & VV_ENV_FLAG_SEALED) ? VV_ENV_SALT_LEN : 0;
}

static uint32_t object_crc(const uint8_t *obj, size_t len)
{
    uint32_t crc = vv_crc32c(0, obj, OFF_CRC);
    return vv_crc32c(crc, obj + VV_ENV_HEADER_LEN, len - VV_ENV_HEADER_LEN);
}

int vv_envelope_encode(struct vv_codec *codec, enum vv_obj_type type, const void *plain,
                       size_t n, const struct vv_key *key, struct vv_buf *out)
{
    return vv_envelope_encode_z(codec, type, plain, n, NULL, 0, key, out);
}

int vv_envelope_encode_z(struct vv_codec *codec, enum vv_obj_type type, const void *plain,
                         size_t n, const void *z, size_t zn, const struct vv_key *key,
                         struct vv_buf *out)
{
    uint8_t *h, *payload, okey[VV_AES_KEY_LEN];
    size_t clen = 0, slen = key ? VV_ENV_SALT_LEN : 0;
    int codec_id = VV_CODEC_NONE, r;

    if (type < VV_OBJ_CHUNK || type > VV_OBJ_MANIFEST)
        return VV_E_INVAL;
    out->len = 0;
    if ((r = vv_buf_reserve(out, vv_envelope_bound(n))) < 0)
        return r;
    h = out->data;
    payload = h + VV_ENV_HEADER_LEN + slen;

    if (z && zn > 0 && zn < n) {
        memcpy(payload, z, zn);
        clen = zn;
        codec_id = VV_CODEC_ZSTD;
    } else if (z) {
        /* the sender found it incompressible: stored as it is */
    } else if (codec && n > 0) {
        size_t cap = out->cap - VV_ENV_HEADER_LEN - slen - VV_ENV_TAG_LEN;
        if (vv_codec_compress(codec, plain, n, payload, cap, &clen) == 0 && clen < n)
            codec_id = VV_CODEC_ZSTD;
    }
    if (codec_id == VV_CODEC_NONE) {
        if (n)
            memcpy(payload, plain, n);
        clen = n;
    }

    memset(h, 0, VV_ENV_HEADER_LEN);
    memcpy(h, VV_ENV_MAGIC, 4);
    h[OFF_VERSION] = VV_ENV_VERSION;
    h[OFF_TYPE] = (uint8_t)type;
    h[OFF_CODEC] = (uint8_t)codec_id;
    h[OFF_FLAGS] = key ? VV_ENV_FLAG_SEALED : 0;
    vv_put_le64(h + OFF_PLAIN, n);
    vv_put_le64(h + OFF_PAYLOAD, clen);
    out->len = VV_ENV_HEADER_LEN + slen + clen;
    if (key) {
        memcpy(h + OFF_KEYID, key->id, VV_KEY_ID_LEN);
        if ((r = vv_random(h + OFF_NONCE, VV_GCM_NONCE_LEN)) < 0 ||
            (r = vv_random(h + VV_ENV_HEADER_LEN, VV_ENV_SALT_LEN)) < 0 ||
            (r = object_key(key, VV_ENV_VERSION, h + VV_ENV_HEADER_LEN, okey)) < 0)
            return r;
        r = vv_gcm_encrypt(okey, h + OFF_NONCE, h, AAD_LEN, payload, clen, payload,
                           payload + clen);
        explicit_bzero(okey, sizeof(okey));
        if (r < 0)
            return r;
        out->len += VV_ENV_TAG_LEN;
    }
    vv_put_le32(h + OFF_CRC, object_crc(h, out->len));
    return 0;
}

int vv_envelope_check(const void *obj, size_t len, struct vv_envelope_info *info)
{
    const uint8_t *h = obj;
    uint64_t plain_len, payload_len, expect;
    uint8_t codec, flags;

    if (len < VV_ENV_HEADER_LEN)
        return len >= 4 && memcmp(h, VV_ENV_MAGIC, 4) != 0 ? VV_E_BAD_MAGIC : VV_E_TRUNCATED;
    if (memcmp(h, VV_ENV_MAGIC, 4) != 0)
        return VV_E_BAD_MAGIC;
    if (h[OFF_VERSION] != 1 && h[OFF_VERSION] != 2)
        return VV_E_BAD_VERSION;
    codec = h[OFF_CODEC];
    flags = h[OFF_FLAGS];
    plain_len = vv_get_le64(h + OFF_PLAIN);
    payload_len = vv_get_le64(h + OFF_PAYLOAD);
    if (h[OFF_TYPE] < VV_OBJ_CHUNK || h[OFF_TYPE] > VV_OBJ_MANIFEST || codec > VV_CODEC_ZSTD ||
        (flags & ~VV_ENV_FLAG_SEALED))
        return VV_E_BAD_HEADER;
    if (codec == VV_CODEC_NONE && payload_len != plain_len)
        return VV_E_BAD_HEADER;
    if (codec == VV_CODEC_ZSTD && (payload_len == 0 || payload_len >= plain_len))
        return VV_E_BAD_HEADER;
    if (!(flags & VV_ENV_FLAG_SEALED)) {
        static const uint8_t zeros[VV_KEY_ID_LEN + VV_GCM_NONCE_LEN];
        if (memcmp(h + OFF_KEYID, zeros, sizeof(zeros)) != 0)
            return VV_E_BAD_HEADER;
    }
    if (payload_len > (uint64_t)len)
        return VV_E_TRUNCATED;
    expect = VV_ENV_HEADER_LEN + salt_len(h[OFF_VERSION], flags) + payload_len +
             ((flags & VV_ENV_FLAG_SEALED) ? VV_ENV_TAG_LEN : 0);
    if (expect != (uint64_t)len)
        return VV_E_TRUNCATED;
    if (vv_get_le32(h + OFF_CRC) != object_crc(h, len))
        return VV_E_CHECKSUM;
    if (info) {
        info->version = h[OFF_VERSION];
        info->type = h[OFF_TYPE];
        info->codec = codec;
        info->flags = flags;
        info->plain_len = plain_len;
        info->payload_len = payload_len;
    }
    return 0;
}

int vv_envelope_open(enum vv_obj_type want_type, const void *obj, size_t len,
                     const struct vv_key *key, size_t max_plain, struct vv_envelope_info *info,
                     struct vv_buf *payload)
{
    const uint8_t *h = obj, *p;
    uint8_t okey[VV_AES_KEY_LEN];
    int r;

    payload->len = 0;
    if ((r = vv_envelope_check(obj, len, info)) < 0)
        return r;
    p = h + VV_ENV_HEADER_LEN + salt_len(info->version, info->flags);
    if (info->type != want_type)
        return VV_E_BAD_HEADER;
    if (info->plain_len > max_plain)
        return VV_E_TOOBIG;
    if ((r = vv_buf_resize(payload, info->payload_len)) < 0)
        return r;
    if (info->flags & VV_ENV_FLAG_SEALED) {
        if (!key)
            r = VV_E_KEY;
        else if (memcmp(h + OFF_KEYID, key->id, VV_KEY_ID_LEN) != 0)
            r = VV_E_WRONG_KEY;
        else if ((r = object_key(key, info->version, h + VV_ENV_HEADER_LEN, okey)) == 0) {
            r = vv_gcm_decrypt(okey, h + OFF_NONCE, h, AAD_LEN, p, info->payload_len,
                               payload->data, p + info->payload_len);
            explicit_bzero(okey, sizeof(okey));
        }
    } else if (key) {
        /* A vault that seals never accepts an unsealed object: it could be forged. */
        r = VV_E_AUTH;
    } else if (info->payload_len) {
        memcpy(payload->data, p, info->payload_len);
    }
    if (r < 0)
        payload->len = 0;
    return r;
}

int vv_envelope_decode(struct vv_codec *codec, enum vv_obj_type want_type, const void *obj,
                       size_t len, const struct vv_key *key, size_t max_plain,
                       struct vv_buf *out)
{
    struct vv_envelope_info info;
    struct vv_buf scratch = VV_BUF_INIT, t;
    int r;

    out->len = 0;
    if (out->limit && out->limit < max_plain)
        max_plain = out->limit; /* the buffer's own cap refuses as early */
    if ((r = vv_envelope_open(want_type, obj, len, key, max_plain, &info, &scratch)) < 0)
        goto out;
    if (info.codec == VV_CODEC_NONE) {
        /* the payload is the plaintext: hand over the buffer */
        t = *out;
        *out = scratch;
        out->limit = t.limit;
        scratch = t;
        goto out;
    }
    if (!codec) {
        r = VV_E_INVAL;
        goto out;
    }
    if ((r = vv_buf_resize(out, info.plain_len)) < 0)
        goto out;
    r = vv_codec_decompress(codec, scratch.data, info.payload_len, out->data, info.plain_len);
out:
    vv_buf_release(&scratch);
    if (r < 0)
        out->len = 0;
    return r;
}
