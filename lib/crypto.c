/* crypto.c: OpenSSL adapter (see crypto.h). Algorithms are fetched once per process. */
#include "crypto.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

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

int vv_pbkdf2_sha256(const char *pass, size_t pass_len, const uint8_t *salt, size_t salt_len,
                     uint32_t iterations, uint8_t *out, size_t out_len)
{
    if (iterations < 1 || iterations > INT_MAX || pass_len > INT_MAX || salt_len > INT_MAX ||
        out_len > INT_MAX)
        return VV_E_INVAL;
    return PKCS5_PBKDF2_HMAC(pass, (int)pass_len, salt, (int)salt_len, (int)iterations,
                             EVP_sha256(), (int)out_len, out) == 1
               ? 0
               : VV_E_CRYPTO;
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

/* ---- TLS certificates --------------------------------------------------------- */

/* A DNS name we are willing to put in a certificate: labels of letters, digits and
 * '-', joined by '.'. */
static int dns_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 253 || name[0] == '.' || name[0] == '-' || strstr(name, ".."))
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
            return 0;
    return 1;
}

/* Append a DNS or IP entry to gens. Returns 1 or 0. */
static int san_add(GENERAL_NAMES *gens, const char *name, int is_ip)
{
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_STRING *v = NULL;

    if (!g)
        return 0;
    if (is_ip) {
        v = a2i_IPADDRESS(name);
    } else if ((v = ASN1_IA5STRING_new()) && !ASN1_STRING_set(v, name, (int)strlen(name))) {
        ASN1_STRING_free(v);
        v = NULL;
    }
    if (!v) {
        GENERAL_NAME_free(g);
        return 0;
    }
    GENERAL_NAME_set0_value(g, is_ip ? GEN_IPADD : GEN_DNS, v);
    if (!sk_GENERAL_NAME_push(gens, g)) {
        GENERAL_NAME_free(g);
        return 0;
    }
    return 1;
}

/* The subjectAltName of vv_tls_selfsigned. Returns 1 or 0. */
static int add_san(X509 *x, const char *name, int name_is_ip)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    int ok = gens && san_add(gens, name, name_is_ip);

    if (ok && strcmp(name, "127.0.0.1") != 0)
        ok = san_add(gens, "127.0.0.1", 1);
    if (ok && strcmp(name, "::1") != 0)
        ok = san_add(gens, "::1", 1);
    if (ok && strcasecmp(name, "localhost") != 0)
        ok = san_add(gens, "localhost", 0);
    if (ok)
        ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
    GENERAL_NAMES_free(gens);
    return ok;
}

/* Add one extension written in OpenSSL's configuration syntax (constant text only). */
static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int ok = e && X509_add_ext(x, e, -1) == 1;
    X509_EXTENSION_free(e);
    return ok;
}

/* The bytes of a memory BIO as a new NUL-terminated string (caller frees). */
static char *bio_string(BIO *b)
{
    char *data, *out;
    long n = BIO_get_mem_data(b, &data);
    if (n < 0 || !(out = malloc((size_t)n + 1)))
        return NULL;
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    return out;
}

int vv_tls_selfsigned(const char *name, time_t now, int days, char **cert_pem,
                      char **key_pem)
{
    EVP_PKEY *pkey = NULL;
    X509 *x = NULL;
    X509_NAME *subj;
    X509V3_CTX ctx;
    ASN1_OCTET_STRING *ip;
    BIGNUM *serial = NULL;
    BIO *cb = NULL, *kb = NULL;
    uint8_t rnd[16];
    char *cert = NULL, *key = NULL;
    int name_is_ip, r = VV_E_CRYPTO;

    if (!name || days < 1 || days > 36500)
        return VV_E_INVAL;
    if ((ip = a2i_IPADDRESS(name)))
        ASN1_OCTET_STRING_free(ip);
    name_is_ip = ip != NULL;
    ERR_clear_error();
    if (!name_is_ip && !dns_name_ok(name))
        return VV_E_INVAL;
    if (!ready())
        return VV_E_CRYPTO;

    if (!(pkey = EVP_EC_gen("P-256")) || !(x = X509_new()) ||
        X509_set_version(x, X509_VERSION_3) != 1)
        goto out;
    /* A positive random serial of at most 127 bits (RFC 5280: at most 20 octets). */
    if (vv_random(rnd, sizeof(rnd)) < 0)
        goto out;
    rnd[0] &= 0x7f;
    rnd[0] |= 0x40;
    if (!(serial = BN_bin2bn(rnd, sizeof(rnd), NULL)) ||
        !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)))
        goto out;
    /* An hour of slack for clients whose clocks run behind. */
    if (!X509_time_adj_ex(X509_getm_notBefore(x), 0, -3600, &now) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, &now))
        goto out;
    subj = X509_get_subject_name(x);
    if (X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const unsigned char *)name, -1,
                                   -1, 0) != 1 ||
        X509_set_issuer_name(x, subj) != 1 || X509_set_pubkey(x, pkey) != 1)
        goto out;
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    if (!add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") ||
        !add_ext(x, &ctx, NID_ext_key_usage, "serverAuth") ||
        !add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
        !add_san(x, name, name_is_ip))
        goto out;
    if (X509_sign(x, pkey, md_sha256) <= 0)
        goto out;

    /* The key's PEM passes through a BIO that clears its memory when freed. */
    if (!(cb = BIO_new(BIO_s_mem())) || !(kb = BIO_new(BIO_s_secmem())) ||
        PEM_write_bio_X509(cb, x) != 1 ||
        PEM_write_bio_PrivateKey(kb, pkey, NULL, NULL, 0, NULL, NULL) != 1)
        goto out;
    if (!(cert = bio_string(cb)) || !(key = bio_string(kb))) {
        r = VV_E_NOMEM;
        goto out;
    }
    *cert_pem = cert;
    *key_pem = key;
    cert = key = NULL;
    r = 0;
out:
    if (r)
        ERR_clear_error();
    free(cert);
    BIO_free(cb);
    BIO_free(kb);
    BN_free(serial);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return r;
}

/* The first certificate of a NUL-terminated PEM text, or NULL. */
static X509 *first_cert(const char *pem)
{
    BIO *b;
    X509 *x = NULL;
    if (!pem)
        return NULL;
    if ((b = BIO_new_mem_buf(pem, -1))) {
        x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        BIO_free(b);
    }
    if (!x)
        ERR_clear_error();
    return x;
}

int vv_tls_cert_pin(const char *cert_pem, char out[VV_TLS_PIN_LEN])
{
    X509 *x = first_cert(cert_pem);
    unsigned char *der = NULL;
    uint8_t h[VV_SHA256_LEN];
    int n, r = VV_E_CRYPTO;

    if (!x)
        return VV_E_INVAL;
    n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
    if (n > 0 && vv_sha256(der, (size_t)n, h) == 0) {
        memcpy(out, "sha256//", 8);
        EVP_EncodeBlock((unsigned char *)out + 8, h, VV_SHA256_LEN); /* 44 + NUL */
        r = 0;
    }
    OPENSSL_free(der);
    X509_free(x);
    return r;
}

int vv_tls_cert_fingerprint(const char *cert_pem, char out[VV_TLS_FINGERPRINT_LEN])
{
    static const char hex[] = "0123456789ABCDEF";
    X509 *x = first_cert(cert_pem);
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int r = VV_E_CRYPTO;

    if (!x)
        return VV_E_INVAL;
    if (ready() && X509_digest(x, md_sha256, h, &n) == 1 && n == VV_SHA256_LEN) {
        for (unsigned int i = 0; i < n; i++) {
            out[3 * i] = hex[h[i] >> 4];
            out[3 * i + 1] = hex[h[i] & 15];
            out[3 * i + 2] = i + 1 < n ? ':' : '\0';
        }
        r = 0;
    }
    X509_free(x);
    return r;
}

/* Put a reason into err and return VV_E_INVAL. */
static int refuse(char *err, size_t errlen, const char *reason)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", reason);
    return VV_E_INVAL;
}

/* A passphrase callback that gives none, and notes it was asked. */
static int no_passphrase(char *buf, int size, int rwflag, void *asked)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    *(int *)asked = 1;
    return -1;
}

int vv_tls_check_pair(const char *cert_pem, const char *key_pem, time_t *not_after,
                      char *err, size_t errlen)
{
    X509 *x = first_cert(cert_pem);
    EVP_PKEY *pkey = NULL;
    BIO *b = NULL;
    struct tm tm;
    int asked = 0, r;

    if (!x) {
        r = refuse(err, errlen, "the certificate file holds no PEM certificate (expected "
                                "'-----BEGIN CERTIFICATE-----')");
        goto out;
    }
    if (key_pem && (b = BIO_new_mem_buf(key_pem, -1)))
        pkey = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, &asked);
    if (!pkey) {
        if (asked)
            r = refuse(err, errlen, "the key is encrypted with a passphrase; give it "
                                    "unencrypted (openssl pkey -in KEY -out PLAIN)");
        else
            r = refuse(err, errlen, "the key file holds no PEM private key (expected "
                                    "'-----BEGIN PRIVATE KEY-----' or an RSA or EC key)");
        goto out;
    }
    if (X509_check_private_key(x, pkey) != 1) {
        r = refuse(err, errlen, "the key does not belong to the (first) certificate");
        goto out;
    }
    if (not_after) {
        if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1) {
            r = refuse(err, errlen, "the certificate's validity cannot be read");
            goto out;
        }
        *not_after = timegm(&tm);
    }
    r = 0;
out:
    ERR_clear_error();
    BIO_free(b);
    EVP_PKEY_free(pkey);
    X509_free(x);
    return r;
}

int vv_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
                   const void *info, size_t info_len, uint8_t out[VV_SHA256_LEN])
{
    uint8_t prk[VV_SHA256_LEN], t[256 + 1];
    unsigned int n = 0;
    int ok;

    if (info_len > sizeof(t) - 1 || ikm_len > INT_MAX || salt_len > INT_MAX)
        return VV_E_INVAL;
    /* RFC 5869 with one block of output: PRK = HMAC(salt, IKM), OKM = HMAC(PRK, info || 1) */
    ok = HMAC(EVP_sha256(), salt, (int)salt_len, ikm, ikm_len, prk, &n) != NULL &&
         n == VV_SHA256_LEN;
    if (ok) {
        if (info_len)
            memcpy(t, info, info_len);
        t[info_len] = 1;
        ok = HMAC(EVP_sha256(), prk, (int)sizeof(prk), t, info_len + 1, out, &n) != NULL &&
             n == VV_SHA256_LEN;
    }
    OPENSSL_cleanse(prk, sizeof(prk));
    return ok ? 0 : VV_E_CRYPTO;
}
