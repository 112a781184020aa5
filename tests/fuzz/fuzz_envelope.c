/*
 * fuzz_envelope.c: vv_envelope_check and vv_envelope_decode on untrusted bytes, for
 * every object type, with the fixed fuzz key and without a key, under a small
 * max_plain. The first byte selects whether the CRC is recomputed first (so the
 * fuzzer reaches the checks behind it: type, size cap, key, tag, zstd frame).
 * Invariants: a decode that succeeds returns exactly plain_len bytes within the cap,
 * a failed one returns nothing, and a decoded plaintext re-encodes and decodes to
 * the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "crc32c.h"
#include "format/envelope.h"
#include "key.h"
#include "util.h"

#define MAX_PLAIN (1u << 16)

/* The fuzz key: bytes 0x00..0x1f (tests/fuzz/corpus/envelope is sealed with it). */
static void fuzz_key(struct vv_key *k)
{
    uint8_t raw[VV_AES_KEY_LEN];
    for (int i = 0; i < VV_AES_KEY_LEN; i++)
        raw[i] = (uint8_t)i;
    if (vv_key_from_bytes(k, raw) != 0)
        abort();
}

static void check_decode(struct vv_codec *c, int type, const uint8_t *obj, size_t len,
                         const struct vv_key *key, const struct vv_envelope_info *info,
                         int checked)
{
    struct vv_buf out = VV_BUF_INIT, enc = VV_BUF_INIT, again = VV_BUF_INIT;
    int r = vv_envelope_decode(c, (enum vv_obj_type)type, obj, len, key, MAX_PLAIN, &out);
    if (r < 0) {
        if (out.len != 0)
            abort();
    } else {
        /* success implies the scrub check passed and the header is honoured */
        if (checked != 0 || info->type != type || out.len != info->plain_len ||
            out.len > MAX_PLAIN)
            abort();
        /* what came out goes back in and out unchanged */
        if (vv_envelope_encode(c, (enum vv_obj_type)type, out.data, out.len, NULL, &enc) != 0 ||
            vv_envelope_decode(c, (enum vv_obj_type)type, enc.data, enc.len, NULL, MAX_PLAIN,
                               &again) != 0 ||
            again.len != out.len || (out.len && memcmp(again.data, out.data, out.len) != 0))
            abort();
    }
    vv_buf_release(&out);
    vv_buf_release(&enc);
    vv_buf_release(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vv_key key;
    struct vv_envelope_info info;
    struct vv_codec *c;
    uint8_t *obj;
    size_t len;
    int checked;

    if (size < 1)
        return 0;
    fuzz_key(&key);
    /* an exact-size copy, so reads past the end are caught */
    len = size - 1;
    obj = malloc(len ? len : 1);
    if (!obj)
        return 0;
    if (len)
        memcpy(obj, data + 1, len);
    if ((data[0] & 1) && len >= VV_ENV_HEADER_LEN) {
        uint32_t crc = vv_crc32c(0, obj, 44);
        crc = vv_crc32c(crc, obj + VV_ENV_HEADER_LEN, len - VV_ENV_HEADER_LEN);
        vv_put_le32(obj + 44, crc);
    }
    memset(&info, 0, sizeof(info));
    checked = vv_envelope_check(obj, len, &info);
    if (vv_envelope_check(obj, len, NULL) != checked)
        abort();
    c = vv_codec_new(1);
    if (c) {
        for (int type = VV_OBJ_CHUNK; type <= VV_OBJ_MANIFEST; type++) {
            check_decode(c, type, obj, len, &key, &info, checked);
            check_decode(c, type, obj, len, NULL, &info, checked);
        }
        vv_codec_free(c);
    }
    free(obj);
    return 0;
}
