/*
 * test_key.c: vault key files: generation (0600, never overwrites), loading, refusal
 * of exposed or malformed files, and key ids; the passphrase-wrapped export (round
 * trip, wrong passphrase, altered file) and writing a key back from it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "harness.h"
#include "key.h"
#include "util.h"

static void write_file(const char *path, const char *text, size_t n, mode_t mode)
{
    int fd;
    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK_OK(vv_write_all(fd, text, n));
    close(fd);
    CHECK_OK(chmod(path, mode)); /* whatever the umask */
}

static void read_text(const char *path, struct vv_buf *b)
{
    vv_buf_init(b, 4096);
    CHECK_OK(vv_read_file(path, b));
}

TEST(generate_creates_private_file_and_loads)
{
    char path[4300];
    struct stat st;
    struct vv_buf b;
    struct vv_key k1, k2;
    uint8_t raw[VV_AES_KEY_LEN];

    snprintf(path, sizeof(path), "%s/vault.key", vv_test_tmpdir());
    CHECK_OK(vv_key_generate(path));
    CHECK_OK(stat(path, &st));
    CHECK(S_ISREG(st.st_mode));
    CHECK_EQ(st.st_mode & 0777, 0600);
    /* the documented format: magic line, 64 lower-case hex digits, newline */
    read_text(path, &b);
    CHECK_EQ(b.len, 15 + 64 + 1);
    CHECK_MEM(b.data, "vmvault-key-v1\n", 15);
    CHECK_EQ(b.data[b.len - 1], '\n');
    for (size_t i = 15; i < 15 + 64; i++)
        CHECK((b.data[i] >= '0' && b.data[i] <= '9') || (b.data[i] >= 'a' && b.data[i] <= 'f'));
    b.data[b.len - 1] = '\0';
    CHECK_OK(vv_hex_decode((const char *)b.data + 15, raw, sizeof(raw)));
    vv_buf_release(&b);

    CHECK_OK(vv_key_load(path, &k1));
    CHECK_MEM(k1.key, raw, sizeof(raw));
    CHECK_OK(vv_key_load(path, &k2));
    CHECK_MEM(k1.key, k2.key, VV_AES_KEY_LEN);
    CHECK_MEM(k1.id, k2.id, VV_KEY_ID_LEN);
    vv_key_clear(&k2);
    for (size_t i = 0; i < sizeof(k2.key); i++)
        CHECK_EQ(k2.key[i], 0);
}

TEST(generate_refuses_to_overwrite)
{
    char path[4300];
    struct vv_buf before, after;
    snprintf(path, sizeof(path), "%s/vault.key", vv_test_tmpdir());
    CHECK_OK(vv_key_generate(path));
    read_text(path, &before);
    CHECK_EQ(vv_key_generate(path), VV_E_EXISTS);
    read_text(path, &after);
    CHECK_EQ(before.len, after.len);
    CHECK_MEM(before.data, after.data, before.len);
    vv_buf_release(&before);
    vv_buf_release(&after);

    /* an unrelated existing file is not clobbered either */
    snprintf(path, sizeof(path), "%s/other", vv_test_tmpdir());
    write_file(path, "precious\n", 9, 0600);
    CHECK_EQ(vv_key_generate(path), VV_E_EXISTS);
    read_text(path, &after);
    CHECK_EQ(after.len, 9);
    CHECK_MEM(after.data, "precious\n", 9);
    vv_buf_release(&after);
}

TEST(two_generated_keys_differ)
{
    char a[4300], b[4300];
    struct vv_key ka, kb;
    const char *d = vv_test_tmpdir();
    snprintf(a, sizeof(a), "%s/a.key", d);
    snprintf(b, sizeof(b), "%s/b.key", d);
    CHECK_OK(vv_key_generate(a));
    CHECK_OK(vv_key_generate(b));
    CHECK_OK(vv_key_load(a, &ka));
    CHECK_OK(vv_key_load(b, &kb));
    CHECK(memcmp(ka.key, kb.key, VV_AES_KEY_LEN) != 0);
    CHECK(memcmp(ka.id, kb.id, VV_KEY_ID_LEN) != 0);
}

TEST(load_known_key_and_its_id)
{
    static const char text[] =
        "vmvault-key-v1\n"
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
    char path[4300];
    uint8_t raw[VV_AES_KEY_LEN], buf[14 + VV_AES_KEY_LEN], h[VV_SHA256_LEN];
    struct vv_key k, k2;

    for (int i = 0; i < VV_AES_KEY_LEN; i++)
        raw[i] = (uint8_t)i;
    snprintf(path, sizeof(path), "%s/known.key", vv_test_tmpdir());
    write_file(path, text, sizeof(text) - 1, 0600);
    CHECK_OK(vv_key_load(path, &k));
    CHECK_MEM(k.key, raw, VV_AES_KEY_LEN);
    /* id = first 8 bytes of SHA-256("vmvault key id" || key) */
    memcpy(buf, "vmvault key id", 14);
    memcpy(buf + 14, raw, VV_AES_KEY_LEN);
    CHECK_OK(vv_sha256(buf, sizeof(buf), h));
    CHECK_MEM(k.id, h, VV_KEY_ID_LEN);
    /* same key, same id, whichever way it was obtained */
    CHECK_OK(vv_key_from_bytes(&k2, raw));
    CHECK_MEM(k2.id, k.id, VV_KEY_ID_LEN);
    /* a one-bit different key has a different id */
    raw[31] ^= 1;
    CHECK_OK(vv_key_from_bytes(&k2, raw));
    CHECK(memcmp(k2.id, k.id, VV_KEY_ID_LEN) != 0);
    /* 0400 (owner read-only) is fine */
    CHECK_OK(chmod(path, 0400));
    CHECK_OK(vv_key_load(path, &k2));
    CHECK_MEM(k2.key, k.key, VV_AES_KEY_LEN);
}

TEST(load_refuses_files_open_to_group_or_others)
{
    static const mode_t bad[] = {0640, 0620, 0610, 0604, 0602, 0601, 0660, 0644, 0666, 0700 | 040};
    char path[4300];
    struct vv_key k;
    snprintf(path, sizeof(path), "%s/vault.key", vv_test_tmpdir());
    CHECK_OK(vv_key_generate(path));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_OK(chmod(path, bad[i]));
        memset(&k, 0xaa, sizeof(k));
        int r = vv_key_load(path, &k);
        if (r != VV_E_KEY)
            vv_test_fail(__FILE__, __LINE__, "mode %03o: %s", (unsigned)bad[i], vv_errname(r));
    }
    CHECK_OK(chmod(path, 0600));
    CHECK_OK(vv_key_load(path, &k));
}

TEST(load_missing_file_is_notfound)
{
    char path[4300];
    struct vv_key k;
    snprintf(path, sizeof(path), "%s/absent.key", vv_test_tmpdir());
    CHECK_EQ(vv_key_load(path, &k), VV_E_NOTFOUND);
}

TEST(load_refuses_malformed_content)
{
    static const char hex64[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    char good[200], path[4300], t[300];
    struct vv_key k;
    const char *cases[16];
    int n = 0;

    snprintf(good, sizeof(good), "vmvault-key-v1\n%s\n", hex64);
    snprintf(path, sizeof(path), "%s/bad.key", vv_test_tmpdir());
    write_file(path, good, strlen(good), 0600);
    CHECK_OK(vv_key_load(path, &k));

    cases[n++] = "";
    cases[n++] = "vmvault-key-v1\n";
    cases[n++] = "vmvault-key-v2\n000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
    cases[n++] = "VMVAULT-KEY-V1\n000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
    /* 63 and 65 digits */
    cases[n++] = "vmvault-key-v1\n000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1\n";
    cases[n++] = "vmvault-key-v1\n000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0\n";
    /* a non-hex digit */
    cases[n++] = "vmvault-key-v1\n000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g\n";
    /* no final newline, CRLF, a trailing line, a leading blank line */
    cases[n++] = "vmvault-key-v1\n000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    cases[n++] = "vmvault-key-v1\r\n000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\r\n";
    cases[n++] = "vmvault-key-v1\n000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\nx\n";
    cases[n++] = "\nvmvault-key-v1\n000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
    cases[n++] = "vmvault-key-v1\n 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
    for (int i = 0; i < n; i++) {
        write_file(path, cases[i], strlen(cases[i]), 0600);
        int r = vv_key_load(path, &k);
        if (r != VV_E_KEY)
            vv_test_fail(__FILE__, __LINE__, "case %d: %s", i, vv_errname(r));
    }
    /* an embedded NUL where the newline should be */
    memcpy(t, good, strlen(good) + 1);
    t[strlen(good) - 1] = '\0';
    write_file(path, t, strlen(good), 0600);
    CHECK_EQ(vv_key_load(path, &k), VV_E_KEY);
    /* a huge file is refused without trouble */
    {
        size_t big = 1 << 20;
        char *p = malloc(big);
        memset(p, 'a', big);
        memcpy(p, good, strlen(good));
        write_file(path, p, big, 0600);
        CHECK_EQ(vv_key_load(path, &k), VV_E_KEY);
        free(p);
    }
    /* a folder in place of the file */
    unlink(path);
    CHECK_OK(mkdir(path, 0700));
    CHECK_EQ(vv_key_load(path, &k), VV_E_KEY);
}

/* ---- wrapped export -------------------------------------------------------------- */

#define PASS "correct horse battery staple"

TEST(wrap_round_trip_gives_the_same_key)
{
    struct vv_key k, back;
    uint8_t raw[VV_AES_KEY_LEN];
    char *text = NULL, id[64], name[128], err[256];

    CHECK_OK(vv_random(raw, sizeof(raw)));
    CHECK_OK(vv_key_from_bytes(&k, raw));
    CHECK_OK(vv_key_wrap(&k, PASS, 100000, "v1", "0c9f0c5e-4d4e-4b1c-9a7a-2f1f1f1f1f1f", &text));
    CHECK(text != NULL);
    if (!text)
        return;
    CHECK(strstr(text, "\"format\":\"vmvault-wrapped-key-v1\"") != NULL);
    CHECK(strstr(text, "\"iterations\":100000") != NULL);
    {   /* the key itself is nowhere in the file */
        char hex[2 * VV_AES_KEY_LEN + 1];
        vv_hex_encode(raw, sizeof(raw), hex);
        CHECK(strstr(text, hex) == NULL);
    }
    CHECK_OK(vv_key_unwrap(text, strlen(text), PASS, &back, id, name, err, sizeof(err)));
    CHECK_MEM(back.key, k.key, VV_AES_KEY_LEN);
    CHECK_MEM(back.id, k.id, VV_KEY_ID_LEN);
    CHECK(strcmp(id, "0c9f0c5e-4d4e-4b1c-9a7a-2f1f1f1f1f1f") == 0);
    CHECK(strcmp(name, "v1") == 0);
    free(text);
}

TEST(wrap_defaults_to_at_least_600000_iterations)
{
    CHECK(VV_KEY_WRAP_ITERATIONS >= 600000);
}

TEST(unwrap_refuses_a_wrong_passphrase_and_altered_files)
{
    struct vv_key k, back;
    uint8_t raw[VV_AES_KEY_LEN] = {1, 2, 3};
    char *text = NULL, *p, err[256];

    CHECK_OK(vv_key_from_bytes(&k, raw));
    CHECK_OK(vv_key_wrap(&k, PASS, 100000, "v1", "id-1", &text));
    if (!text)
        return;
    CHECK_EQ(vv_key_unwrap(text, strlen(text), "correct horse battery stapler", &back, NULL,
                           NULL, err, sizeof(err)),
             VV_E_AUTH);
    CHECK(strstr(err, "passphrase") != NULL);
    /* the vault name is authenticated: another name does not open */
    p = strstr(text, "\"vaultName\":\"v1\"");
    CHECK(p != NULL);
    if (p) {
        p[14] = '2';
        CHECK_EQ(vv_key_unwrap(text, strlen(text), PASS, &back, NULL, NULL, err, sizeof(err)),
                 VV_E_AUTH);
        p[14] = '1';
    }
    CHECK_OK(vv_key_unwrap(text, strlen(text), PASS, &back, NULL, NULL, err, sizeof(err)));
    /* not a wrapped key at all */
    CHECK_EQ(vv_key_unwrap("{}", 2, PASS, &back, NULL, NULL, err, sizeof(err)), VV_E_CORRUPT);
    CHECK_EQ(vv_key_unwrap("nope", 4, PASS, &back, NULL, NULL, err, sizeof(err)), VV_E_CORRUPT);
    free(text);
}

TEST(wrap_refuses_a_short_passphrase_or_few_iterations)
{
    struct vv_key k;
    uint8_t raw[VV_AES_KEY_LEN] = {0};
    char *text = NULL;

    CHECK_OK(vv_key_from_bytes(&k, raw));
    CHECK_EQ(vv_key_wrap(&k, "short", 100000, "v1", "id", &text), VV_E_INVAL);
    CHECK_EQ(vv_key_wrap(&k, PASS, 1000, "v1", "id", &text), VV_E_INVAL);
    CHECK(text == NULL);
}

TEST(save_writes_a_loadable_key_and_never_overwrites)
{
    char path[4300];
    struct vv_key k, back;
    uint8_t raw[VV_AES_KEY_LEN] = {9, 8, 7};

    snprintf(path, sizeof(path), "%s/saved.key", vv_test_tmpdir());
    unlink(path);
    CHECK_OK(vv_key_from_bytes(&k, raw));
    CHECK_OK(vv_key_save(path, &k));
    CHECK_OK(vv_key_load(path, &back));
    CHECK_MEM(back.key, k.key, VV_AES_KEY_LEN);
    CHECK_EQ(vv_key_save(path, &k), VV_E_EXISTS);
}
