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

int vv_key_generate(const char *path)
{
    uint8_t raw[VV_AES_KEY_LEN];
    char text[sizeof(KEY_MAGIC) + 2 * VV_AES_KEY_LEN + 1]; /* magic, hex, '\n', NUL */
    int fd, r;

    if ((r = vv_random(raw, sizeof(raw))) < 0)
        return r;
    snprintf(text, sizeof(text), "%s", KEY_MAGIC);
    vv_hex_encode(raw, sizeof(raw), text + strlen(KEY_MAGIC));
    text[sizeof(text) - 2] = '\n';
    text[sizeof(text) - 1] = '\0';
    memset(raw, 0, sizeof(raw));

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        r = errno == EEXIST ? VV_E_EXISTS : VV_E_IO;
        vv_error("cannot create key file %s: %s", path, strerror(errno));
        memset(text, 0, sizeof(text));
        return r;
    }
    r = vv_write_all(fd, text, strlen(text));
    if (r == 0 && fsync(fd) < 0)
        r = VV_E_IO;
    if (r < 0)
        vv_error("cannot write key file %s: %s", path, strerror(errno));
    close(fd);
    memset(text, 0, sizeof(text));
    if (r < 0)
        unlink(path);
    return r;
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
