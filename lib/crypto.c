/* crypto.c: OpenSSL adapter (see crypto.h). Algorithms are fetched once per process. */
#include "crypto.h"

#include <limits.h>
#include <pthread.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "err.h"

static EVP_MD *md_sha256;
static EVP_CIPHER *cipher_gcm;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch_algorithms(void)
{
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    cipher_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

static int ready(void)
{
    pthread_once(&fetch_once, fetch_algorithms);
    return md_sha256 && cipher_gcm;
}

int vv_sha256(const void *data, size_t n, uint8_t out[VV_SHA256_LEN])
{
    if (!ready())
        return VV_E_CRYPTO;
    return EVP_Digest(data, n, out, NULL, md_sha256, NULL) == 1 ? 0 : VV_E_CRYPTO;
}

struct vv_sha256_ctx {
    EVP_MD_CTX *md;
};

struct vv_sha256_ctx *vv_sha256_new(void)
{
    EVP_MD_CTX *md;
    struct vv_sha256_ctx *c;
    if (!ready() || !(md = EVP_MD_CTX_new()))
        return NULL;
    if (EVP_DigestInit_ex(md, md_sha256, NULL) != 1 ||
        !(c = OPENSSL_malloc(sizeof(*c)))) {
        EVP_MD_CTX_free(md);
        return NULL;
    }
    c->md = md;
    return c;
}

int vv_sha256_update(struct vv_sha256_ctx *c, const void *data, size_t n)
{
    return EVP_DigestUpdate(c->md, data, n) == 1 ? 0 : VV_E_CRYPTO;
}

int vv_sha256_final(struct vv_sha256_ctx *c, uint8_t out[VV_SHA256_LEN])
{
    return EVP_DigestFinal_ex(c->md, out, NULL) == 1 ? 0 : VV_E_CRYPTO;
}

void vv_sha256_free(struct vv_sha256_ctx *c)
{
    if (!c)
        return;
    EVP_MD_CTX_free(c->md);
    OPENSSL_free(c);
}

int vv_random(void *out, size_t n)
{
    if (n > INT_MAX)
        return VV_E_INVAL;
    return RAND_bytes(out, (int)n) == 1 ? 0 : VV_E_CRYPTO;
}

/* Feed n bytes through EVP_CipherUpdate in slices that fit its int length. */
static int cipher_update(EVP_CIPHER_CTX *ctx, const uint8_t *in, size_t n, uint8_t *out)
{
    while (n) {
        int chunk = n > (1u << 30) ? (1 << 30) : (int)n, outl;
        if (EVP_CipherUpdate(ctx, out, &outl, in, chunk) != 1 || outl != chunk)
            return VV_E_CRYPTO;
        in += chunk;
        out += chunk;
        n -= (size_t)chunk;
    }
    return 0;
}

static int gcm_run(int enc, const uint8_t *key, const uint8_t *nonce, const void *aad,
                   size_t aad_len, const void *in, size_t n, void *out, uint8_t *tag)
{
    EVP_CIPHER_CTX *ctx;
    int r = VV_E_CRYPTO, outl;
    uint8_t fin[16];

    if (!ready() || aad_len > INT_MAX)
        return VV_E_CRYPTO;
    if (!(ctx = EVP_CIPHER_CTX_new()))
        return VV_E_NOMEM;
    if (EVP_CipherInit_ex(ctx, cipher_gcm, NULL, key, nonce, enc) != 1)
        goto out;
    if (aad_len && EVP_CipherUpdate(ctx, NULL, &outl, aad, (int)aad_len) != 1)
        goto out;
    if (cipher_update(ctx, in, n, out) < 0)
        goto out;
    if (enc) {
        if (EVP_CipherFinal_ex(ctx, fin, &outl) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, VV_GCM_TAG_LEN, tag) != 1)
            goto out;
    } else {
        if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, VV_GCM_TAG_LEN, tag) != 1)
            goto out;
        if (EVP_CipherFinal_ex(ctx, fin, &outl) != 1) {
            r = VV_E_AUTH;
            goto out;
        }
    }
    r = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    return r;
}

int vv_gcm_encrypt(const uint8_t key[VV_AES_KEY_LEN], const uint8_t nonce[VV_GCM_NONCE_LEN],
                   const void *aad, size_t aad_len, const void *in, size_t n, void *out,
                   uint8_t tag[VV_GCM_TAG_LEN])
{
    return gcm_run(1, key, nonce, aad, aad_len, in, n, out, tag);
}

int vv_gcm_decrypt(const uint8_t key[VV_AES_KEY_LEN], const uint8_t nonce[VV_GCM_NONCE_LEN],
                   const void *aad, size_t aad_len, const void *in, size_t n, void *out,
                   const uint8_t tag[VV_GCM_TAG_LEN])
{
    return gcm_run(0, key, nonce, aad, aad_len, in, n, out, (uint8_t *)(uintptr_t)tag);
}
