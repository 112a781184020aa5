/* key.c: vault key files (see key.h). */
#include "key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define KEY_MAGIC "vmvault-key-v1\n"

int vv_key_from_bytes(struct vv_key *k, const uint8_t raw[VV_AES_KEY_LEN])
{
    static const char label[] = "vmvault key id";
    uint8_t tmp[sizeof(label) - 1 + VV_AES_KEY_LEN], h[VV_SHA256_LEN];
    int r;

    memcpy(k->key, raw, VV_AES_KEY_LEN);
    memcpy(tmp, label, sizeof(label) - 1);
    memcpy(tmp + sizeof(label) - 1, raw, VV_AES_KEY_LEN);
    r = vv_sha256(tmp, sizeof(tmp), h);
    memset(tmp, 0, sizeof(tmp));
    if (r < 0)
        return r;
    memcpy(k->id, h, VV_KEY_ID_LEN);
    return 0;
}

/* fsync the folder that holds path, and that folder's parent: a new file's name (and
 * a new folder's) is durable only once the folder that lists it is. 0 or VV_E_IO. */
static int sync_parents(const char *path)
{
    char dir[4096];
    char *slash;

    snprintf(dir, sizeof(dir), "%s", path);
    for (int level = 0; level < 2; level++) {
        int fd;
        if (!(slash = strrchr(dir, '/')))
            snprintf(dir, sizeof(dir), ".");
        else if (slash == dir)
            slash[1] = '\0';
        else
            *slash = '\0';
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0) {
            vv_error("cannot make %s durable (fsync of its folder %s): %s", path, dir,
                     strerror(errno));
            if (fd >= 0)
                close(fd);
            return VV_E_IO;
        }
        close(fd);
        if (!slash || !strcmp(dir, "/"))
            break;
    }
    return 0;
}

/* Write a key file holding raw at path (O_EXCL, 0600), durable with its folders. */
static int write_key_file(const char *path, const uint8_t raw[VV_AES_KEY_LEN])
{
    char text[sizeof(KEY_MAGIC) + 2 * VV_AES_KEY_LEN + 1]; /* magic, hex, '\n', NUL */
    int fd, r;

    snprintf(text, sizeof(text), "%s", KEY_MAGIC);
    vv_hex_encode(raw, VV_AES_KEY_LEN, text + strlen(KEY_MAGIC));
    text[sizeof(text) - 2] = '\n';
    text[sizeof(text) - 1] = '\0';

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        r = errno == EEXIST ? VV_E_EXISTS : vv_err_from_errno(errno);
        vv_error("cannot create key file %s: %s", path, strerror(errno));
        memset(text, 0, sizeof(text));
        return r;
    }
    r = vv_write_all(fd, text, strlen(text));
    if (r == 0 && fsync(fd) < 0)
        r = vv_err_from_errno(errno);
    if (r < 0)
        vv_error("cannot write key file %s: %s", path, strerror(errno));
    close(fd);
    memset(text, 0, sizeof(text));
    if (r == 0)
        r = sync_parents(path);
    if (r < 0)
        unlink(path);
    return r;
}

int vv_key_generate(const char *path)
{
    uint8_t raw[VV_AES_KEY_LEN];
    int r;

    if ((r = vv_random(raw, sizeof(raw))) < 0)
        return r;
    r = write_key_file(path, raw);
    memset(raw, 0, sizeof(raw));
    return r;
}

int vv_key_save(const char *path, const struct vv_key *k)
{
    return write_key_file(path, k->key);
}

int vv_key_load(const char *path, struct vv_key *k)
{
    struct vv_buf b;
    struct stat st;
    uint8_t raw[VV_AES_KEY_LEN];
    size_t ml = strlen(KEY_MAGIC);
    int r;

    if (stat(path, &st) < 0) {
        if (errno == ENOENT)
            return VV_E_NOTFOUND;
        return vv_fail(VV_E_KEY, "key file %s: %s", path, strerror(errno));
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        vv_error("key file %s is accessible by group or others (mode %03o); "
                 "run: chmod 600 %s", path, (unsigned)(st.st_mode & 0777), path);
        return VV_E_KEY;
    }
    vv_buf_init(&b, 4096);
    r = vv_read_file(path, &b);
    if (r < 0) {
        vv_error("cannot read key file %s: %s", path, vv_strerror(r));
        vv_buf_release(&b);
        return VV_E_KEY;
    }
    r = VV_E_KEY;
    if (b.len == ml + 2 * VV_AES_KEY_LEN + 1 && memcmp(b.data, KEY_MAGIC, ml) == 0 &&
        b.data[b.len - 1] == '\n') {
        b.data[b.len - 1] = '\0';
        if (vv_hex_decode((const char *)b.data + ml, raw, sizeof(raw)) == 0)
            r = vv_key_from_bytes(k, raw);
    }
    if (r == VV_E_KEY)
        vv_error("key file %s is not a vmvault key (expected '%.*s' and 64 hex digits)",
                 path, (int)ml - 1, KEY_MAGIC);
    memset(raw, 0, sizeof(raw));
    memset(b.data, 0, b.len);
    vv_buf_release(&b);
    return r;
}

void vv_key_clear(struct vv_key *k)
{
    volatile uint8_t *p = (volatile uint8_t *)k;
    for (size_t i = 0; i < sizeof(*k); i++)
        p[i] = 0;
}

/* ---- wrapped export ------------------------------------------------------------- */

#define WRAP_SALT_LEN 16

/* The authenticated data of a wrapped key: what the file says besides the secret. */
static void wrap_aad(char *out, size_t n, const char *kid_hex, const char *vault_id,
                     const char *vault_name)
{
    snprintf(out, n, "%s\n%s\n%s\n%s", VV_KEY_WRAP_FORMAT, kid_hex, vault_id, vault_name);
}

int vv_key_wrap(const struct vv_key *k, const char *passphrase, uint32_t iterations,
                const char *vault_name, const char *vault_id, char **out)
{
    uint8_t salt[WRAP_SALT_LEN], nonce[VV_GCM_NONCE_LEN], kek[VV_AES_KEY_LEN],
        ct[VV_AES_KEY_LEN], tag[VV_GCM_TAG_LEN];
    char kid[2 * VV_KEY_ID_LEN + 1], salt_h[2 * WRAP_SALT_LEN + 1],
        nonce_h[2 * VV_GCM_NONCE_LEN + 1], ct_h[2 * VV_AES_KEY_LEN + 1],
        tag_h[2 * VV_GCM_TAG_LEN + 1], aad[512];
    json_t *j;
    int r;

    *out = NULL;
    if (!passphrase || strlen(passphrase) < VV_KEY_PASSPHRASE_MIN || iterations < 100000 ||
        strlen(vault_name) > 200 || strlen(vault_id) > 63)
        return VV_E_INVAL;
    if ((r = vv_random(salt, sizeof(salt))) < 0 || (r = vv_random(nonce, sizeof(nonce))) < 0)
        return r;
    vv_hex_encode(k->id, VV_KEY_ID_LEN, kid);
    wrap_aad(aad, sizeof(aad), kid, vault_id, vault_name);
    r = vv_pbkdf2_sha256(passphrase, strlen(passphrase), salt, sizeof(salt), iterations, kek,
                         sizeof(kek));
    if (r == 0)
        r = vv_gcm_encrypt(kek, nonce, aad, strlen(aad), k->key, VV_AES_KEY_LEN, ct, tag);
    memset(kek, 0, sizeof(kek));
    if (r < 0)
        return r;
    vv_hex_encode(salt, sizeof(salt), salt_h);
    vv_hex_encode(nonce, sizeof(nonce), nonce_h);
    vv_hex_encode(ct, sizeof(ct), ct_h);
    vv_hex_encode(tag, sizeof(tag), tag_h);
    j = json_pack("{s:s,s:s,s:s,s:{s:s,s:I,s:s},s:{s:s,s:s,s:s,s:s}}", "format",
                  VV_KEY_WRAP_FORMAT, "vaultName", vault_name, "vaultId", vault_id, "kdf",
                  "name", "pbkdf2-hmac-sha256", "iterations", (json_int_t)iterations, "salt",
                  salt_h, "key", "cipher", "aes-256-gcm", "keyId", kid, "nonce", nonce_h,
                  "sealed", ct_h);
    if (j && json_object_set_new(json_object_get(j, "key"), "tag", json_string(tag_h)) == 0)
        *out = vv_json_dump(j);
    json_decref(j);
    return *out ? 0 : VV_E_NOMEM;
}

/* A field of obj as hex of exactly n bytes. 0 or VV_E_CORRUPT (reason in err). */
static int hex_field(const json_t *obj, const char *name, uint8_t *out, size_t n, char *err,
                     size_t errlen)
{
    const char *s;
    if (vv_json_get_str(obj, name, 1, &s, err, errlen) < 0)
        return VV_E_CORRUPT;
    if (strlen(s) != 2 * n || vv_hex_decode(s, out, n) != 0) {
        snprintf(err, errlen, "field '%s' must be %zu hex digits", name, 2 * n);
        return VV_E_CORRUPT;
    }
    return 0;
}

/* The parts of a wrapped key file. Strings borrowed from the parsed JSON. */
struct wrapped {
    const char *vault_name, *vault_id, *kid_hex;
    uint64_t iterations;
    uint8_t salt[WRAP_SALT_LEN], nonce[VV_GCM_NONCE_LEN], ct[VV_AES_KEY_LEN],
        tag[VV_GCM_TAG_LEN], kid[VV_KEY_ID_LEN];
};

static int wrapped_parse(const json_t *j, struct wrapped *w, char *err, size_t errlen)
{
    const json_t *kdf = json_object_get(j, "kdf"), *key = json_object_get(j, "key");
    const char *fmt, *name, *cipher;

    if (vv_json_get_str(j, "format", 1, &fmt, err, errlen) < 0 ||
        vv_json_get_str(j, "vaultName", 1, &w->vault_name, err, errlen) < 0 ||
        vv_json_get_str(j, "vaultId", 1, &w->vault_id, err, errlen) < 0)
        return VV_E_CORRUPT;
    if (strcmp(fmt, VV_KEY_WRAP_FORMAT) != 0) {
        snprintf(err, errlen, "format '%s' is not %s", fmt, VV_KEY_WRAP_FORMAT);
        return VV_E_CORRUPT;
    }
    if (!json_is_object(kdf) || !json_is_object(key)) {
        snprintf(err, errlen, "fields 'kdf' and 'key' must be objects");
        return VV_E_CORRUPT;
    }
    if (vv_json_get_str(kdf, "name", 1, &name, err, errlen) < 0 ||
        vv_json_get_u64(kdf, "iterations", 1, &w->iterations, err, errlen) < 0 ||
        vv_json_get_str(key, "cipher", 1, &cipher, err, errlen) < 0 ||
        vv_json_get_str(key, "keyId", 1, &w->kid_hex, err, errlen) < 0)
        return VV_E_CORRUPT;
    if (strcmp(name, "pbkdf2-hmac-sha256") || strcmp(cipher, "aes-256-gcm") ||
        w->iterations < 1 || w->iterations > 100000000 || strlen(w->vault_name) > 200 ||
        strlen(w->vault_id) > 63) {
        snprintf(err, errlen, "unsupported kdf, cipher, iteration count or names");
        return VV_E_CORRUPT;
    }
    if (hex_field(kdf, "salt", w->salt, sizeof(w->salt), err, errlen) ||
        hex_field(key, "nonce", w->nonce, sizeof(w->nonce), err, errlen) ||
        hex_field(key, "sealed", w->ct, sizeof(w->ct), err, errlen) ||
        hex_field(key, "tag", w->tag, sizeof(w->tag), err, errlen) ||
        hex_field(key, "keyId", w->kid, sizeof(w->kid), err, errlen))
        return VV_E_CORRUPT;
    return 0;
}

int vv_key_unwrap(const char *text, size_t len, const char *passphrase, struct vv_key *k,
                  char vault_id[64], char vault_name[128], char *err, size_t errlen)
{
    struct wrapped w;
    uint8_t kek[VV_AES_KEY_LEN], raw[VV_AES_KEY_LEN];
    char aad[512];
    json_t *j = vv_json_parse(text, len, err, errlen);
    int r;

    if (!j)
        return VV_E_CORRUPT;
    if ((r = wrapped_parse(j, &w, err, errlen)) != 0)
        goto out;
    wrap_aad(aad, sizeof(aad), w.kid_hex, w.vault_id, w.vault_name);
    r = vv_pbkdf2_sha256(passphrase, strlen(passphrase), w.salt, sizeof(w.salt),
                         (uint32_t)w.iterations, kek, sizeof(kek));
    if (r == 0)
        r = vv_gcm_decrypt(kek, w.nonce, aad, strlen(aad), w.ct, sizeof(w.ct), raw, w.tag);
    memset(kek, 0, sizeof(kek));
    if (r == VV_E_AUTH)
        snprintf(err, errlen, "wrong passphrase, or the file was altered");
    if (r == 0 && (r = vv_key_from_bytes(k, raw)) == 0 &&
        memcmp(k->id, w.kid, VV_KEY_ID_LEN) != 0) {
        snprintf(err, errlen, "the unwrapped key does not have the recorded key id");
        vv_key_clear(k);
        r = VV_E_AUTH;
    }
    memset(raw, 0, sizeof(raw));
    if (r == 0 && vault_id)
        snprintf(vault_id, 64, "%s", w.vault_id);
    if (r == 0 && vault_name)
        snprintf(vault_name, 128, "%s", w.vault_name);
out:
    json_decref(j);
    return r;
}
