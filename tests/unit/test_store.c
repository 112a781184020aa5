/*
 * test_store.c: the local backend (put/get/has/delete/list, immutability, key rules),
 * the chunk store (dedup, re-hash on read), concurrent writers (threads and
 * processes), crash atomicity (writers killed with SIGKILL), and the repository
 * (store identity, recovery points, tamper detection).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "format/envelope.h"
#include "err.h"
#include "harness.h"
#include "format/index.h"
#include "key.h"
#include "format/manifest.h"
#include "store/backend.h"
#include "store/chunkstore.h"
#include "store/repo.h"
#include "store/usage.h"
#include "util.h"

/* ---- helpers ---------------------------------------------------------------------- */

/* Every file under root (dot files included), as paths relative to root. */
struct file_list {
    char **paths;
    size_t n;
};

static void walk_files(const char *root, const char *rel, struct file_list *fl)
{
    char dir[4500];
    DIR *d;
    struct dirent *e;
    snprintf(dir, sizeof(dir), "%s%s%s", root, *rel ? "/" : "", rel);
    if (!(d = opendir(dir)))
        return;
    while ((e = readdir(d))) {
        char sub[4500], full[9000];
        struct stat st;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (!*rel && !strncmp(e->d_name, ".unsynced-", 10))
            continue; /* markers of deferred puts (count_markers) */
        snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(full, sizeof(full), "%s/%s", root, sub);
        if (lstat(full, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            walk_files(root, sub, fl);
        } else {
            fl->paths = realloc(fl->paths, (fl->n + 1) * sizeof(*fl->paths));
            fl->paths[fl->n++] = strdup(sub);
        }
    }
    closedir(d);
}

static void free_files(struct file_list *fl)
{
    for (size_t i = 0; i < fl->n; i++)
        free(fl->paths[i]);
    free(fl->paths);
    fl->paths = NULL;
    fl->n = 0;
}

/* Markers of deferred puts not yet synced in the store's root. */
static size_t count_markers(const char *root)
{
    DIR *d = opendir(root);
    struct dirent *e;
    size_t n = 0;
    while (d && (e = readdir(d)))
        n += !strncmp(e->d_name, ".unsynced-", 10);
    if (d)
        closedir(d);
    return n;
}

static int is_tmp_name(const char *rel)
{
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    return !strncmp(base, ".tmp-", 5);
}

static void test_key(struct vv_key *k, uint8_t seed)
{
    uint8_t raw[VV_AES_KEY_LEN];
    for (size_t i = 0; i < sizeof(raw); i++)
        raw[i] = (uint8_t)(seed * 31 + i);
    if (vv_key_from_bytes(k, raw) != 0)
        abort();
}

/* Chunk number i of a deterministic set: size and content depend on i only. */
static size_t make_chunk(uint64_t i, uint8_t *buf, size_t cap, uint8_t id[VV_CHUNK_ID_LEN])
{
    size_t n = 1 + (size_t)((i * 2654435761u) % cap);
    uint64_t s = i * 0x9e3779b97f4a7c15ull + 1;
    for (size_t k = 0; k < n; k++) {
        if (i % 3 == 0) {
            buf[k] = (uint8_t)("chunk text "[k % 11] + (i & 7)); /* compressible */
        } else {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            buf[k] = (uint8_t)s;
        }
    }
    if (vv_sha256(buf, n, id) != 0)
        abort();
    return n;
}

static void path_of(const char *root, const char *key, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", root, key);
}

static int count_cb(const char *key, void *arg)
{
    (void)key;
    (*(int *)arg)++;
    return 0;
}

/* ---- backend ---------------------------------------------------------------------- */

TEST(backend_put_get_has_delete)
{
    const char *root = vv_test_tmpdir();
    struct vv_backend *be = vv_backend_local_open(root, 0);
    struct vv_buf b = VV_BUF_INIT;
    CHECK(be != NULL);
    if (!be)
        return;
    CHECK_EQ(vv_backend_has(be, "a/b/c"), 0);
    CHECK_EQ(vv_backend_get(be, "a/b/c", &b), VV_E_NOTFOUND);
    CHECK_EQ(vv_backend_del(be, "a/b/c"), VV_E_NOTFOUND);
    CHECK_EQ(vv_backend_put(be, "a/b/c", "hello", 5, 0), 0);
    CHECK_EQ(vv_backend_has(be, "a/b/c"), 1);
    CHECK_OK(vv_backend_get(be, "a/b/c", &b));
    CHECK_EQ(b.len, 5);
    CHECK_MEM(b.data, "hello", 5);
    /* the file is where the documentation says */
    {
        char p[4200];
        struct stat st;
        path_of(root, "a/b/c", p, sizeof(p));
        CHECK_OK(stat(p, &st));
        CHECK_EQ(st.st_size, 5);
    }
    /* an empty object */
    CHECK_EQ(vv_backend_put(be, "empty", "", 0, 0), 0);
    CHECK_OK(vv_backend_get(be, "empty", &b));
    CHECK_EQ(b.len, 0);
    /* a parent "folder" is not an object */
    CHECK_EQ(vv_backend_has(be, "a/b"), 0);
    CHECK(vv_backend_get(be, "a/b", &b) < 0);
    CHECK_EQ(vv_backend_has(be, "a/b/c/d"), 0);
    CHECK_EQ(vv_backend_get(be, "a/b/c/d", &b), VV_E_NOTFOUND);
    /* delete */
    CHECK_OK(vv_backend_del(be, "a/b/c"));
    CHECK_EQ(vv_backend_has(be, "a/b/c"), 0);
    CHECK_EQ(vv_backend_get(be, "a/b/c", &b), VV_E_NOTFOUND);
    CHECK_EQ(vv_backend_del(be, "a/b/c"), VV_E_NOTFOUND);
    vv_buf_release(&b);
    vv_backend_free(be);
    vv_backend_free(NULL);
}

TEST(backend_put_never_replaces_unless_asked)
{
    const char *root = vv_test_tmpdir();
    struct vv_backend *be = vv_backend_local_open(root, 0);
    struct vv_buf b = VV_BUF_INIT;
    struct file_list fl = {NULL, 0};
    CHECK_EQ(vv_backend_put(be, "k/obj", "first", 5, 0), 0);
    CHECK_EQ(vv_backend_put(be, "k/obj", "second!", 7, 0), 1);
    CHECK_OK(vv_backend_get(be, "k/obj", &b));
    CHECK_EQ(b.len, 5);
    CHECK_MEM(b.data, "first", 5);
    CHECK_EQ(vv_backend_put(be, "k/obj", "third", 5, VV_PUT_REPLACE), 0);
    CHECK_OK(vv_backend_get(be, "k/obj", &b));
    CHECK_EQ(b.len, 5);
    CHECK_MEM(b.data, "third", 5);
    /* REPLACE also creates */
    CHECK_EQ(vv_backend_put(be, "k/new", "x", 1, VV_PUT_REPLACE), 0);
    CHECK_EQ(vv_backend_has(be, "k/new"), 1);
    /* no temporary file is left behind by any of these */
    walk_files(root, "", &fl);
    CHECK_EQ(fl.n, 2);
    for (size_t i = 0; i < fl.n; i++)
        CHECK(!is_tmp_name(fl.paths[i]));
    free_files(&fl);
    vv_buf_release(&b);
    vv_backend_free(be);
}

TEST(backend_rejects_invalid_keys)
{
    static const char *bad[] = {"",        "/abs",       "/",       "a/",      "/a",
                                "a//b",    "..",         "../x",    "a/../b",  "a/..",
                                ".",       "./a",        "a/./b",   "a/.",     ".hidden",
                                "a/.tmp-x", "Upper",     "a/B",     "a b",     "a\\b",
                                "a\nb",    "caf\xc3\xa9", "a:b",    "a*"};
    const char *root = vv_test_tmpdir();
    struct vv_backend *be = vv_backend_local_open(root, 0);
    struct vv_buf b = VV_BUF_INIT;
    struct file_list fl = {NULL, 0};
    char longkey[600];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int r1 = vv_backend_put(be, bad[i], "x", 1, 0);
        int r2 = vv_backend_put(be, bad[i], "x", 1, VV_PUT_REPLACE);
        int r3 = vv_backend_get(be, bad[i], &b);
        int r4 = vv_backend_has(be, bad[i]);
        int r5 = vv_backend_del(be, bad[i]);
        if (r1 != VV_E_INVAL || r2 != VV_E_INVAL || r3 != VV_E_INVAL || r4 != VV_E_INVAL ||
            r5 != VV_E_INVAL)
            vv_test_fail(__FILE__, __LINE__, "key '%s': put %d put-replace %d get %d has %d "
                         "del %d", bad[i], r1, r2, r3, r4, r5);
        CHECK(!vv_backend_key_valid(bad[i]));
    }
    CHECK(!vv_backend_key_valid(NULL));
    CHECK_EQ(vv_backend_list(be, "../x", count_cb, &(int){0}), VV_E_INVAL);
    CHECK_EQ(vv_backend_list(be, "/etc", count_cb, &(int){0}), VV_E_INVAL);
    /* over-long keys */
    memset(longkey, 'a', sizeof(longkey));
    longkey[sizeof(longkey) - 1] = '\0';
    CHECK_EQ(vv_backend_put(be, longkey, "x", 1, 0), VV_E_INVAL);
    /* nothing was written anywhere, not even outside the root */
    walk_files(root, "", &fl);
    CHECK_EQ(fl.n, 0);
    free_files(&fl);
    /* valid ones, for contrast */
    CHECK(vv_backend_key_valid("a"));
    CHECK(vv_backend_key_valid("a.b/c-d/e_f/0..1"));
    CHECK(vv_backend_key_valid("chunks/ab12/ab12cd"));
    vv_buf_release(&b);
    vv_backend_free(be);
}

struct keyset {
    char keys[16][64];
    int n, stop_after;
};

static int collect_key(const char *key, void *arg)
{
    struct keyset *ks = arg;
    if (ks->n < 16)
        snprintf(ks->keys[ks->n], sizeof(ks->keys[0]), "%s", key);
    ks->n++;
    return ks->stop_after && ks->n >= ks->stop_after ? 42 : 0;
}

static int has_key(const struct keyset *ks, const char *key)
{
    for (int i = 0; i < ks->n && i < 16; i++)
        if (!strcmp(ks->keys[i], key))
            return 1;
    return 0;
}

TEST(backend_list)
{
    const char *root = vv_test_tmpdir();
    struct vv_backend *be = vv_backend_local_open(root, 0);
    struct keyset ks;
    char p[4200];
    static const char *keys[] = {"top", "b/c", "b/d/e", "b/d/f", "x/y"};
    for (size_t i = 0; i < 5; i++)
        CHECK_EQ(vv_backend_put(be, keys[i], keys[i], strlen(keys[i]), 0), 0);
    /* stray files that are not keys: a temporary file and a dot file */
    path_of(root, "b/.tmp-e-1-2-3", p, sizeof(p));
    close(open(p, O_CREAT | O_WRONLY, 0600));
    path_of(root, ".hidden", p, sizeof(p));
    close(open(p, O_CREAT | O_WRONLY, 0600));

    memset(&ks, 0, sizeof(ks));
    CHECK_OK(vv_backend_list(be, "", collect_key, &ks));
    CHECK_EQ(ks.n, 5);
    for (size_t i = 0; i < 5; i++)
        CHECK(has_key(&ks, keys[i]));
    memset(&ks, 0, sizeof(ks));
    CHECK_OK(vv_backend_list(be, "b", collect_key, &ks));
    CHECK_EQ(ks.n, 3);
    CHECK(has_key(&ks, "b/c") && has_key(&ks, "b/d/e") && has_key(&ks, "b/d/f"));
    memset(&ks, 0, sizeof(ks));
    CHECK_OK(vv_backend_list(be, "b/d", collect_key, &ks));
    CHECK_EQ(ks.n, 2);
    memset(&ks, 0, sizeof(ks));
    CHECK_OK(vv_backend_list(be, "nothing/here", collect_key, &ks));
    CHECK_EQ(ks.n, 0);
    /* a callback's non-zero return stops the listing and is returned */
    memset(&ks, 0, sizeof(ks));
    ks.stop_after = 2;
    CHECK_EQ(vv_backend_list(be, "", collect_key, &ks), 42);
    CHECK_EQ(ks.n, 2);
    vv_backend_free(be);
}

TEST(backend_get_respects_buffer_limit)
{
    const char *root = vv_test_tmpdir();
    struct vv_backend *be = vv_backend_local_open(root, 0);
    struct vv_buf b;
    CHECK_EQ(vv_backend_put(be, "ten", "0123456789", 10, 0), 0);
    vv_buf_init(&b, 9);
    CHECK_EQ(vv_backend_get(be, "ten", &b), VV_E_TOOBIG);
    CHECK_EQ(b.len, 0);
    vv_buf_init(&b, 10);
    CHECK_OK(vv_backend_get(be, "ten", &b));
    CHECK_EQ(b.len, 10);
    vv_buf_release(&b);
    vv_backend_free(be);
}

TEST(backend_open)
{
    char p[4200];
    struct vv_backend *be;
    snprintf(p, sizeof(p), "%s/new-store", vv_test_tmpdir());
    CHECK(vv_backend_local_open(p, 0) == NULL);
    be = vv_backend_local_open(p, 1);
    CHECK(be != NULL);
    vv_backend_free(be);
    be = vv_backend_local_open(p, 0);
    CHECK(be != NULL);
    vv_backend_free(be);
}

/* ---- chunk store -------------------------------------------------------------------- */

TEST(chunk_keys)
{
    const struct vv_chunkstore v2 = {0}, v1 = {NULL, NULL, 3};
    uint8_t id[VV_CHUNK_ID_LEN], back[VV_CHUNK_ID_LEN];
    char key[VV_CHUNK_KEY_MAX], key1[VV_CHUNK_KEY_MAX], bad[VV_CHUNK_KEY_MAX + 8];
    for (int i = 0; i < VV_CHUNK_ID_LEN; i++)
        id[i] = (uint8_t)(0xab + i * 3);
    vv_chunk_key(&v2, id, key);
    /* "chunks/<first 2 hex digits>/<64 hex digits>" */
    CHECK_EQ(strlen(key), 7 + 2 + 1 + 64);
    CHECK(!strncmp(key, "chunks/ab/abaeb1b4", 18));
    CHECK(vv_backend_key_valid(key));
    CHECK_OK(vv_chunk_key_parse(&v2, key, back));
    CHECK_MEM(back, id, VV_CHUNK_ID_LEN);
    memcpy(bad, key, sizeof(key));
    bad[8] = '0'; /* folder does not match the id */
    CHECK_EQ(vv_chunk_key_parse(&v2, bad, back), VV_E_INVAL);
    CHECK_EQ(vv_chunk_key_parse(&v2, "chunks/abcd/abcd", back), VV_E_INVAL);
    CHECK_EQ(vv_chunk_key_parse(&v2, "config", back), VV_E_INVAL);
    memcpy(bad, key, sizeof(key));
    bad[40] = 'x'; /* not hex */
    CHECK_EQ(vv_chunk_key_parse(&v2, bad, back), VV_E_INVAL);
    snprintf(bad, sizeof(bad), "%s0", key); /* one digit too many */
    CHECK_EQ(vv_chunk_key_parse(&v2, bad, back), VV_E_INVAL);
    memcpy(bad, key, sizeof(key));
    memcpy(bad, "chunkz", 6);
    CHECK_EQ(vv_chunk_key_parse(&v2, bad, back), VV_E_INVAL);

    /* format 1: "chunks/<first 3 hex digits>/<64 hex digits>"; each layout refuses
     * the other's keys */
    vv_chunk_key(&v1, id, key1);
    CHECK_EQ(strlen(key1), 7 + 3 + 1 + 64);
    CHECK(!strncmp(key1, "chunks/aba/abaeb1b4", 19));
    CHECK_OK(vv_chunk_key_parse(&v1, key1, back));
    CHECK_MEM(back, id, VV_CHUNK_ID_LEN);
    CHECK_EQ(vv_chunk_key_parse(&v1, key, back), VV_E_INVAL);
    CHECK_EQ(vv_chunk_key_parse(&v2, key1, back), VV_E_INVAL);
}

static int collect_id(const uint8_t id[VV_CHUNK_ID_LEN], void *arg)
{
    struct vv_buf *b = arg;
    return vv_buf_append(b, id, VV_CHUNK_ID_LEN);
}

TEST(chunk_put_get_has_delete_list)
{
    const char *root = vv_test_tmpdir();
    struct vv_backend *be = vv_backend_local_open(root, 0);
    struct vv_key k;
    struct vv_chunkstore cs = {0};
    struct vv_chunk_io io;
    uint8_t buf[20000], ids[6][VV_CHUNK_ID_LEN];
    size_t lens[6], stored;
    struct vv_buf listed = VV_BUF_INIT;

    test_key(&k, 1);
    cs.be = be;
    cs.key = &k;
    CHECK_OK(vv_chunk_io_init(&io, 3));
    for (int i = 0; i < 6; i++) {
        lens[i] = make_chunk((uint64_t)i, buf, sizeof(buf), ids[i]);
        CHECK_EQ(vv_chunk_has(&cs, ids[i]), 0);
        CHECK_EQ(vv_chunk_get(&cs, &io, ids[i]), VV_E_NOTFOUND);
        CHECK_EQ(vv_chunk_put(&cs, &io, ids[i], buf, lens[i], &stored), 0);
        CHECK(stored > 0);
        CHECK_EQ(vv_chunk_has(&cs, ids[i]), 1);
        if (i % 3 == 0 && lens[i] > 200) /* compressible: stored smaller */
            CHECK(stored < lens[i]);
        else
            CHECK_EQ(stored, VV_ENV_HEADER_LEN + VV_ENV_SALT_LEN + lens[i] + VV_ENV_TAG_LEN);
    }
    for (int i = 0; i < 6; i++) {
        uint8_t id[VV_CHUNK_ID_LEN];
        make_chunk((uint64_t)i, buf, sizeof(buf), id);
        CHECK_OK(vv_chunk_get(&cs, &io, ids[i]));
        CHECK_EQ(io.dec.len, lens[i]);
        CHECK_MEM(io.dec.data, buf, lens[i]);
    }
    CHECK_OK(vv_chunk_list(&cs, collect_id, &listed));
    CHECK_EQ(listed.len, 6 * VV_CHUNK_ID_LEN);
    for (int i = 0; i < 6; i++) {
        int found = 0;
        for (size_t j = 0; j < listed.len; j += VV_CHUNK_ID_LEN)
            found += !memcmp(listed.data + j, ids[i], VV_CHUNK_ID_LEN);
        CHECK_EQ(found, 1);
    }
    /* other objects on the backend are not chunks */
    CHECK_EQ(vv_backend_put(be, "config", "{}", 2, 0), 0);
    CHECK_EQ(vv_backend_put(be, "chunks/zzzz/not-a-chunk", "x", 1, 0), 0);
    listed.len = 0;
    CHECK_OK(vv_chunk_list(&cs, collect_id, &listed));
    CHECK_EQ(listed.len, 6 * VV_CHUNK_ID_LEN);
    /* stored sealed: the compressible plaintext does not appear in the file */
    {
        char key[VV_CHUNK_KEY_MAX];
        struct vv_buf raw = VV_BUF_INIT;
        make_chunk(0, buf, sizeof(buf), ids[0]);
        vv_chunk_key(&cs, ids[0], key);
        CHECK_OK(vv_backend_get(be, key, &raw));
        CHECK(memmem(raw.data, raw.len, "chunk text", 10) == NULL);
        CHECK(raw.data[5] == VV_OBJ_CHUNK && (raw.data[7] & VV_ENV_FLAG_SEALED));
        vv_buf_release(&raw);
    }
    CHECK_OK(vv_chunk_delete(&cs, ids[2]));
    CHECK_EQ(vv_chunk_has(&cs, ids[2]), 0);
    CHECK_EQ(vv_chunk_get(&cs, &io, ids[2]), VV_E_NOTFOUND);
    CHECK_EQ(vv_chunk_delete(&cs, ids[2]), VV_E_NOTFOUND);
    /* a chunk too big for the format is refused */
    {
        size_t big = VV_MAX_CHUNK + 1;
        uint8_t *p = calloc(1, big);
        CHECK_EQ(vv_chunk_put(&cs, &io, ids[2], p, big, NULL), VV_E_TOOBIG);
        CHECK_EQ(vv_chunk_has(&cs, ids[2]), 0);
        free(p);
    }
    vv_buf_release(&listed);
    vv_chunk_io_release(&io);
    vv_backend_free(be);
}

TEST(chunk_dedup_hit_writes_nothing)
{
    const char *root = vv_test_tmpdir();
    struct vv_backend *be = vv_backend_local_open(root, 0);
    struct vv_key k;
    struct vv_chunkstore cs = {0};
    struct vv_chunk_io io;
    uint8_t buf[8192], id[VV_CHUNK_ID_LEN];
    char key[VV_CHUNK_KEY_MAX], file[4300], dir[4300];
    struct stat f1, d1, f2, d2;
    struct file_list before = {NULL, 0}, after = {NULL, 0};
    size_t n, stored = 99;

    test_key(&k, 2);
    cs.be = be;
    cs.key = &k;
    CHECK_OK(vv_chunk_io_init(&io, 3));
    n = make_chunk(7, buf, sizeof(buf), id);
    CHECK_EQ(vv_chunk_put(&cs, &io, id, buf, n, &stored), 0);
    vv_chunk_key(&cs, id, key);
    path_of(root, key, file, sizeof(file));
    snprintf(dir, sizeof(dir), "%s", file);
    *strrchr(dir, '/') = '\0';
    CHECK_OK(stat(file, &f1));
    CHECK_OK(stat(dir, &d1));
    walk_files(root, "", &before);
    usleep(30000); /* any write would now change a timestamp */
    for (int i = 0; i < 3; i++) {
        stored = 99;
        CHECK_EQ(vv_chunk_put(&cs, &io, id, buf, n, &stored), 1);
        CHECK_EQ(stored, 0);
    }
    /* even with different bytes under that id (the caller's bug): nothing replaced */
    buf[0] ^= 1;
    CHECK_EQ(vv_chunk_put(&cs, &io, id, buf, n, NULL), 1);
    buf[0] ^= 1;
    CHECK_OK(stat(file, &f2));
    CHECK_OK(stat(dir, &d2));
    CHECK_EQ(f1.st_ino, f2.st_ino);
    CHECK_EQ(f1.st_size, f2.st_size);
    CHECK(f1.st_mtim.tv_sec == f2.st_mtim.tv_sec && f1.st_mtim.tv_nsec == f2.st_mtim.tv_nsec);
    /* no file was created (not even a temporary one) in the chunk's folder */
    CHECK(d1.st_mtim.tv_sec == d2.st_mtim.tv_sec && d1.st_mtim.tv_nsec == d2.st_mtim.tv_nsec);
    walk_files(root, "", &after);
    CHECK_EQ(before.n, after.n);
    CHECK_EQ(after.n, 1);
    CHECK_OK(vv_chunk_get(&cs, &io, id));
    CHECK_EQ(io.dec.len, n);
    CHECK_MEM(io.dec.data, buf, n);
    free_files(&before);
    free_files(&after);
    vv_chunk_io_release(&io);
    vv_backend_free(be);
}

static int copy_file(const char *from, const char *to)
{
    struct vv_buf b = VV_BUF_INIT;
    int fd, r = vv_read_file(from, &b);
    if (r < 0)
        return r;
    fd = open(to, O_WRONLY | O_TRUNC | O_CREAT, 0640);
    if (fd < 0) {
        vv_buf_release(&b);
        return VV_E_IO;
    }
    r = vv_write_all(fd, b.data, b.len);
    close(fd);
    vv_buf_release(&b);
    return r;
}

TEST(chunk_get_detects_swapped_and_damaged_files)
{
    const char *root = vv_test_tmpdir();
    struct vv_backend *be = vv_backend_local_open(root, 0);
    struct vv_key k, other;
    struct vv_chunkstore cs = {0}, cs_other = {0}, cs_plain = {0};
    struct vv_chunk_io io;
    uint8_t buf[8192], a[VV_CHUNK_ID_LEN], b[VV_CHUNK_ID_LEN], c[VV_CHUNK_ID_LEN];
    uint8_t d[VV_CHUNK_ID_LEN];
    char ka[VV_CHUNK_KEY_MAX], kb[VV_CHUNK_KEY_MAX], kc[VV_CHUNK_KEY_MAX];
    char pa[4300], pb[4300], pc[4300];
    size_t n;

    test_key(&k, 3);
    test_key(&other, 4);
    cs.be = cs_other.be = cs_plain.be = be;
    cs.key = &k;
    cs_other.key = &other;
    cs_plain.key = NULL;
    CHECK_OK(vv_chunk_io_init(&io, 3));
    n = make_chunk(10, buf, sizeof(buf), a);
    CHECK_EQ(vv_chunk_put(&cs, &io, a, buf, n, NULL), 0);
    n = make_chunk(11, buf, sizeof(buf), b);
    CHECK_EQ(vv_chunk_put(&cs, &io, b, buf, n, NULL), 0);
    n = make_chunk(12, buf, sizeof(buf), c);
    CHECK_EQ(vv_chunk_put(&cs, &io, c, buf, n, NULL), 0);
    vv_chunk_key(&cs, a, ka);
    vv_chunk_key(&cs, b, kb);
    vv_chunk_key(&cs, c, kc);
    path_of(root, ka, pa, sizeof(pa));
    path_of(root, kb, pb, sizeof(pb));
    path_of(root, kc, pc, sizeof(pc));

    /* a's file replaced by b's: a perfectly valid object, but not chunk a */
    CHECK_OK(copy_file(pb, pa));
    CHECK_EQ(vv_chunk_get(&cs, &io, a), VV_E_HASH);
    CHECK_EQ(io.dec.len, 0);
    CHECK_OK(vv_chunk_get(&cs, &io, b));
    /* the same with unsealed chunks */
    n = make_chunk(13, buf, sizeof(buf), d);
    CHECK_EQ(vv_chunk_put(&cs_plain, &io, d, buf, n, NULL), 0);
    {
        char kd[VV_CHUNK_KEY_MAX], pd[4300];
        vv_chunk_key(&cs, d, kd);
        path_of(root, kd, pd, sizeof(pd));
        CHECK_OK(vv_chunk_get(&cs_plain, &io, d));
        /* the sealed store refuses an unsealed chunk: it could have been planted */
        CHECK_EQ(vv_chunk_get(&cs, &io, d), VV_E_AUTH);
        CHECK_OK(copy_file(pd, pa));
        CHECK_EQ(vv_chunk_get(&cs_plain, &io, a), VV_E_HASH);
    }
    /* sealed with another key */
    CHECK_EQ(vv_chunk_get(&cs_other, &io, b), VV_E_WRONG_KEY);
    /* damaged at rest: one bit, or cut short */
    {
        struct vv_buf raw = VV_BUF_INIT;
        CHECK_OK(vv_read_file(pc, &raw));
        raw.data[raw.len / 2] ^= 0x08;
        int fd = open(pc, O_WRONLY | O_TRUNC);
        CHECK_OK(vv_write_all(fd, raw.data, raw.len));
        close(fd);
        CHECK_EQ(vv_chunk_get(&cs, &io, c), VV_E_CHECKSUM);
        CHECK_OK(truncate(pc, (off_t)raw.len - 1));
        CHECK_EQ(vv_chunk_get(&cs, &io, c), VV_E_TRUNCATED);
        CHECK_OK(truncate(pc, 0));
        CHECK_EQ(vv_chunk_get(&cs, &io, c), VV_E_TRUNCATED);
        vv_buf_release(&raw);
    }
    vv_chunk_io_release(&io);
    vv_backend_free(be);
}

/* ---- concurrent writers ------------------------------------------------------------- */

#define NCHUNKS 64
#define PER_WRITER 32
#define CHUNK_CAP 20000

struct writer {
    pthread_t th;
    pthread_barrier_t *start;
    struct vv_chunkstore *cs;
    int idx;
    int written, dedup, errors;
};

/* Writer w puts chunks (w*8 + j) mod NCHUNKS for j < PER_WRITER: overlapping sets. */
static void put_set(struct vv_chunkstore *cs, int w, int *written, int *dedup, int *errors)
{
    struct vv_chunk_io io;
    uint8_t *buf = malloc(CHUNK_CAP), id[VV_CHUNK_ID_LEN];
    if (vv_chunk_io_init(&io, 1) < 0) {
        (*errors)++;
        free(buf);
        return;
    }
    for (int j = 0; j < PER_WRITER; j++) {
        uint64_t i = (uint64_t)((w * 8 + j) % NCHUNKS);
        size_t n = make_chunk(i, buf, CHUNK_CAP, id);
        int r = vv_chunk_put(cs, &io, id, buf, n, NULL);
        if (r == 0)
            (*written)++;
        else if (r == 1)
            (*dedup)++;
        else
            (*errors)++;
    }
    vv_chunk_io_release(&io);
    free(buf);
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    pthread_barrier_wait(w->start);
    put_set(w->cs, w->idx, &w->written, &w->dedup, &w->errors);
    return NULL;
}

/* Every chunk in [0, NCHUNKS) touched by `writers` writers is readable and right, and
 * the store holds nothing else. */
static void check_store_after_writers(const char *root, struct vv_chunkstore *cs, int writers)
{
    struct vv_chunk_io io;
    uint8_t *buf = malloc(CHUNK_CAP), id[VV_CHUNK_ID_LEN];
    struct file_list fl = {NULL, 0};
    int expect = 0;
    CHECK_OK(vv_chunk_io_init(&io, 1));
    for (uint64_t i = 0; i < NCHUNKS; i++) {
        int touched = 0;
        for (int w = 0; w < writers; w++)
            touched |= (int)((i - (uint64_t)w * 8) % NCHUNKS) < PER_WRITER;
        size_t n = make_chunk(i, buf, CHUNK_CAP, id);
        int r = vv_chunk_get(cs, &io, id);
        if (touched) {
            expect++;
            if (r != 0 || io.dec.len != n || memcmp(io.dec.data, buf, n) != 0)
                vv_test_fail(__FILE__, __LINE__, "chunk %llu: %s", (unsigned long long)i,
                             vv_errname(r));
        } else {
            CHECK_EQ(r, VV_E_NOTFOUND);
        }
    }
    walk_files(root, "", &fl);
    CHECK_EQ(fl.n, (size_t)expect);
    for (size_t i = 0; i < fl.n; i++) {
        uint8_t x[VV_CHUNK_ID_LEN];
        if (vv_chunk_key_parse(cs, fl.paths[i], x) != 0)
            vv_test_fail(__FILE__, __LINE__, "stray file %s", fl.paths[i]);
    }
    free_files(&fl);
    vv_chunk_io_release(&io);
    free(buf);
}

static int distinct_touched(int writers)
{
    int n = 0;
    for (uint64_t i = 0; i < NCHUNKS; i++) {
        int touched = 0;
        for (int w = 0; w < writers; w++)
            touched |= (int)((i - (uint64_t)w * 8) % NCHUNKS) < PER_WRITER;
        n += touched;
    }
    return n;
}

TEST(concurrent_writer_threads)
{
    enum { NT = 8 };
    const char *root = vv_test_tmpdir();
    struct vv_backend *be = vv_backend_local_open(root, 0);
    struct vv_key k;
    struct vv_chunkstore cs = {0};
    struct writer w[NT];
    pthread_barrier_t start;
    int written = 0, dedup = 0;

    test_key(&k, 5);
    cs.be = be;
    cs.key = &k;
    pthread_barrier_init(&start, NULL, NT);
    for (int i = 0; i < NT; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].start = &start;
        w[i].cs = &cs;
        w[i].idx = i;
        CHECK_EQ(pthread_create(&w[i].th, NULL, writer_main, &w[i]), 0);
    }
    for (int i = 0; i < NT; i++) {
        pthread_join(w[i].th, NULL);
        CHECK_EQ(w[i].errors, 0);
        written += w[i].written;
        dedup += w[i].dedup;
    }
    pthread_barrier_destroy(&start);
    /* each distinct chunk was written exactly once, every other put was a dedup hit */
    CHECK_EQ(written, distinct_touched(NT));
    CHECK_EQ(written + dedup, NT * PER_WRITER);
    check_store_after_writers(root, &cs, NT);
    vv_backend_free(be);
}

TEST(concurrent_writer_processes)
{
    enum { NP = 4 };
    const char *root = vv_test_tmpdir();
    struct vv_key k;
    pid_t pids[NP];
    int *shared, written = 0, dedup = 0;
    int go[2];

    test_key(&k, 6);
    shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(shared != MAP_FAILED);
    if (shared == MAP_FAILED)
        return;
    memset(shared, 0, 4096);
    CHECK_OK(pipe(go));
    for (int p = 0; p < NP; p++) {
        pids[p] = fork();
        if (pids[p] == 0) {
            /* each process opens the store itself, then waits for the start */
            struct vv_backend *be = vv_backend_local_open(root, 0);
            struct vv_chunkstore cs = {be, &k, 0};
            char c;
            close(go[1]);
            if (read(go[0], &c, 1) < 0) {
                /* EOF is the start signal too */
            }
            if (!be)
                _exit(3);
            put_set(&cs, p, &shared[3 * p], &shared[3 * p + 1], &shared[3 * p + 2]);
            vv_backend_free(be);
            _exit(0); /* not exit(): the harness's atexit handlers belong to the parent */
        }
        CHECK(pids[p] > 0);
    }
    close(go[0]);
    close(go[1]); /* everyone starts now */
    for (int p = 0; p < NP; p++) {
        int status = 0;
        if (pids[p] <= 0)
            continue;
        CHECK_EQ(waitpid(pids[p], &status, 0), pids[p]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        CHECK_EQ(shared[3 * p + 2], 0);
        written += shared[3 * p];
        dedup += shared[3 * p + 1];
    }
    CHECK_EQ(written, distinct_touched(NP));
    CHECK_EQ(written + dedup, NP * PER_WRITER);
    {
        struct vv_backend *be = vv_backend_local_open(root, 0);
        struct vv_chunkstore cs = {be, &k, 0};
        check_store_after_writers(root, &cs, NP);
        vv_backend_free(be);
    }
    munmap(shared, 4096);
}

/* ---- crash atomicity ---------------------------------------------------------------- */

struct verify_all_ctx {
    struct vv_chunkstore *cs;
    struct vv_chunk_io *io;
    int good, bad, other;
};

static int verify_listed(const char *key, void *arg)
{
    struct verify_all_ctx *c = arg;
    uint8_t id[VV_CHUNK_ID_LEN];
    if (vv_chunk_key_parse(c->cs, key, id) != 0) {
        c->other++;
        return 0;
    }
    if (vv_chunk_get(c->cs, c->io, id) == 0)
        c->good++;
    else
        c->bad++;
    return 0;
}

static size_t count_tmp(const char *root)
{
    struct file_list fl = {NULL, 0};
    size_t n = 0;
    walk_files(root, "", &fl);
    for (size_t i = 0; i < fl.n; i++)
        n += is_tmp_name(fl.paths[i]);
    free_files(&fl);
    return n;
}

static int check_never_called(struct vv_backend *be, const char *key, void *arg)
{
    (void)be;
    (void)arg;
    vv_test_fail(__FILE__, __LINE__, "recovery checked %s during the same boot", key);
    return 0;
}

static int check_envelope(struct vv_backend *be, const char *key, void *arg)
{
    struct vv_buf b = VV_BUF_INIT;
    int r = vv_backend_get(be, key, &b);
    (*(int *)arg)++;
    if (r == 0)
        r = vv_envelope_check(b.data, b.len, NULL);
    vv_buf_release(&b);
    return r;
}

/* Deferred puts are flushed by sync, which removes the marker; after a power loss
 * (a marker from another boot) the objects written since the marker are checked and
 * the damaged ones removed, older ones are left alone. */
TEST(deferred_puts_sync_and_power_loss_recovery)
{
    const char *root = vv_test_tmpdir();
    struct vv_backend *be = vv_backend_local_open(root, 0);
    struct vv_chunkstore cs = {0};
    struct vv_chunk_io io;
    struct vv_key k;
    uint8_t buf[3][20000], id[3][VV_CHUNK_ID_LEN];
    char key[VV_CHUNK_KEY_MAX], path[4400], marker[4400], lost[4400];
    struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
    DIR *d;
    struct dirent *e;
    int checked = 0, fd;

    test_key(&k, 3);
    cs.be = be;
    cs.key = &k;
    CHECK_OK(vv_chunk_io_init(&io, 1));
    for (int i = 0; i < 3; i++) {
        vv_test_fill(buf[i], sizeof(buf[i]));
        CHECK_OK(vv_sha256(buf[i], sizeof(buf[i]), id[i]));
    }
    CHECK_EQ(count_markers(root), 0);
    CHECK_EQ(vv_chunk_put(&cs, &io, id[0], buf[0], sizeof(buf[0]), NULL), 0);
    CHECK_EQ(count_markers(root), 1);
    CHECK_OK(vv_backend_sync(be));
    CHECK_EQ(count_markers(root), 0);
    CHECK_OK(vv_backend_sync(be)); /* nothing to do */
    /* chunk 0 is from long ago; chunks 1 and 2 come after a new marker */
    vv_chunk_key(&cs, id[0], key);
    snprintf(path, sizeof(path), "%s/%s", root, key);
    CHECK_OK(utimensat(AT_FDCWD, path, old, 0));
    CHECK_EQ(vv_chunk_put(&cs, &io, id[1], buf[1], sizeof(buf[1]), NULL), 0);
    CHECK_EQ(vv_chunk_put(&cs, &io, id[2], buf[2], sizeof(buf[2]), NULL), 0);
    CHECK_EQ(count_markers(root), 1);
    vv_chunk_io_release(&io);

    /* The power loss: chunk 2 lost its tail, chunk 0 (old) too, and the marker is
     * renamed as if another boot had made it; the writer is gone. */
    d = opendir(root);
    marker[0] = '\0';
    while (d && (e = readdir(d)))
        if (!strncmp(e->d_name, ".unsynced-", 10))
            snprintf(marker, sizeof(marker), "%s/%s", root, e->d_name);
    if (d)
        closedir(d);
    CHECK(marker[0] != '\0');
    snprintf(lost, sizeof(lost), "%s/.unsynced-0123456789abcdef0123456789abcdef-1-0", root);
    vv_chunk_key(&cs, id[2], key);
    snprintf(path, sizeof(path), "%s/%s", root, key);
    CHECK((fd = open(path, O_WRONLY)) >= 0);
    CHECK_OK(ftruncate(fd, 100));
    close(fd);
    vv_chunk_key(&cs, id[0], key);
    snprintf(path, sizeof(path), "%s/%s", root, key);
    CHECK((fd = open(path, O_WRONLY)) >= 0);
    CHECK_OK(ftruncate(fd, 100));
    close(fd);
    CHECK_OK(utimensat(AT_FDCWD, path, old, 0));
    CHECK_OK(rename(marker, lost));
    vv_backend_free(be); /* its own flush finds its marker gone */

    be = vv_backend_local_open(root, 0);
    CHECK_EQ(vv_backend_local_recover(be, check_envelope, &checked), 1);
    CHECK_EQ(checked, 2); /* chunks 1 and 2, not the older chunk 0 */
    CHECK_EQ(count_markers(root), 0);
    vv_chunk_key(&cs, id[2], key);
    CHECK_EQ(vv_backend_has(be, key), 0);
    vv_chunk_key(&cs, id[1], key);
    CHECK_EQ(vv_backend_has(be, key), 1);
    vv_chunk_key(&cs, id[0], key);
    CHECK_EQ(vv_backend_has(be, key), 1);
    /* nothing left to do the second time */
    CHECK_EQ(vv_backend_local_recover(be, check_envelope, &checked), 0);
    vv_backend_free(be);
}

/* The deferred-flush race: a put that began before a sync noted what it covers and
 * finished while its syncfs() ran. Its bytes may have missed the flush, so the
 * marker must stay and the next sync must flush again. */
struct race {
    struct vv_backend *be;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int put_started, go, put_done;
    int put_r;
    uint8_t data[4096];
};

static void race_wait(struct race *r, int *flag)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10; /* bounded: a broken hook fails the check, never hangs */
    pthread_mutex_lock(&r->mu);
    while (!*flag && pthread_cond_timedwait(&r->cv, &r->mu, &until) == 0)
        ;
    pthread_mutex_unlock(&r->mu);
}

static void race_set(struct race *r, int *flag)
{
    pthread_mutex_lock(&r->mu);
    *flag = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void race_hook(void *arg, int where)
{
    struct race *r = arg;
    if (where == VV_LOCAL_HOOK_PUT) { /* the writer: counted, not yet written */
        race_set(r, &r->put_started);
        race_wait(r, &r->go);
    } else if (where == VV_LOCAL_HOOK_SYNC) { /* the sync: the writer finishes now */
        race_set(r, &r->go);
        race_wait(r, &r->put_done);
    }
}

static void *race_writer(void *arg)
{
    struct race *r = arg;
    r->put_r = vv_backend_put(r->be, "x/late", r->data, sizeof(r->data), VV_PUT_DEFER);
    race_set(r, &r->put_done);
    return NULL;
}

TEST(deferred_put_finishing_during_a_flush_is_flushed_again)
{
    const char *root = vv_test_tmpdir();
    struct race r = {.put_r = -100};
    pthread_t t;
    uint64_t syncs;

    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    vv_test_fill(r.data, sizeof(r.data));
    r.be = vv_backend_local_open(root, 0);
    CHECK(r.be != NULL);
    if (!r.be)
        return;
    vv_backend_local_hook(r.be, race_hook, &r);
    CHECK_OK(pthread_create(&t, NULL, race_writer, &r));
    race_wait(&r, &r.put_started);
    CHECK(r.put_started);
    syncs = vv_backend_local_syncs(r.be);
    CHECK_OK(vv_backend_sync(r.be)); /* the writer finishes inside its flush */
    pthread_join(t, NULL);
    CHECK_EQ(r.put_r, 0);
    CHECK_EQ(r.put_done, 1);
    CHECK_EQ(vv_backend_local_syncs(r.be), syncs + 1);
    /* not known to be flushed: still marked for the power-loss check ... */
    CHECK_EQ(vv_backend_local_marked(r.be), 1);
    CHECK_EQ(count_markers(root), 1);
    /* ... and the next sync (a commit referring to it) flushes it */
    vv_backend_local_hook(r.be, NULL, NULL);
    CHECK_OK(vv_backend_sync(r.be));
    CHECK_EQ(vv_backend_local_syncs(r.be), syncs + 2);
    CHECK_EQ(vv_backend_local_marked(r.be), 0);
    CHECK_EQ(count_markers(root), 0);
    CHECK_OK(vv_backend_sync(r.be)); /* nothing left: no flush */
    CHECK_EQ(vv_backend_local_syncs(r.be), syncs + 2);
    vv_backend_free(r.be);
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
}

/* A put whose object another writer already sees (its dedup check says "present")
 * while the put is still in flight: that writer's commit syncs, and the sync must
 * flush although no put has completed since the last flush. */
TEST(sync_flushes_while_a_deferred_put_is_in_flight)
{
    const char *root = vv_test_tmpdir();
    struct race r = {.put_r = -100};
    pthread_t t;
    uint64_t syncs;

    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    r.be = vv_backend_local_open(root, 0);
    CHECK(r.be != NULL);
    if (!r.be)
        return;
    CHECK_OK(vv_backend_put(r.be, "x/first", "a", 1, VV_PUT_DEFER));
    CHECK_OK(vv_backend_sync(r.be));
    vv_backend_local_hook(r.be, race_hook, &r);
    CHECK_OK(pthread_create(&t, NULL, race_writer, &r));
    race_wait(&r, &r.put_started);
    syncs = vv_backend_local_syncs(r.be);
    CHECK_OK(vv_backend_sync(r.be));
    pthread_join(t, NULL);
    CHECK_EQ(r.put_r, 0);
    CHECK_EQ(vv_backend_local_syncs(r.be), syncs + 1);
    vv_backend_local_hook(r.be, NULL, NULL);
    CHECK_OK(vv_backend_sync(r.be));
    CHECK_EQ(count_markers(root), 0);
    vv_backend_free(r.be);
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
}

/* Wait (bounded) until the store's usage has a figure taken at or after since. */
static int usage_wait(const char *dir, uint64_t changes, time_t now, time_t since,
                      struct vv_usage *u)
{
    for (int i = 0; i < 1000; i++) {
        if (vv_store_usage_get(dir, changes, now, u) != 0)
            return -1;
        if (!u->measuring && u->measured >= since)
            return 0;
        usleep(10000);
    }
    return -1;
}

static void write_n(const char *path, size_t n)
{
    char buf[128];
    FILE *f = fopen(path, "w");
    memset(buf, 'x', sizeof(buf));
    CHECK(f != NULL);
    if (f) {
        CHECK_EQ(fwrite(buf, 1, n, f), n);
        fclose(f);
    }
}

TEST(store_usage_is_measured_in_the_background)
{
    const char *root = vv_test_tmpdir();
    char dir[4300], path[4400];
    struct vv_usage u;
    uint64_t bytes = 0, objects = 0, expect = 0;
    time_t now = 1795804648;

    snprintf(dir, sizeof(dir), "%s/usage", root);
    CHECK_OK(mkdir(dir, 0700));
    snprintf(path, sizeof(path), "%s/a", dir);
    CHECK_OK(mkdir(path, 0700));
    for (int i = 0; i < 2000; i++) {
        snprintf(path, sizeof(path), "%s/%s%d", dir, i % 2 ? "a/" : "", i);
        write_n(path, (size_t)(1 + i % 100));
        expect += (uint64_t)(1 + i % 100);
    }
    CHECK_OK(vv_store_usage_measure(dir, &bytes, &objects));
    CHECK_EQ(objects, 2000);
    CHECK_EQ(bytes, expect);
    /* the first call answers at once: no figure yet, a walk under way */
    CHECK_OK(vv_store_usage_get(dir, 7, now, &u));
    CHECK_EQ(u.measured, 0);
    CHECK_EQ(u.measuring, 1);
    CHECK_OK(usage_wait(dir, 7, now, now, &u));
    CHECK_EQ(u.bytes, expect);
    CHECK_EQ(u.objects, 2000);
    CHECK_EQ(u.measured, now);
    /* a change in the store, but the same change counter and a young figure: kept */
    snprintf(path, sizeof(path), "%s/new", dir);
    write_n(path, 10);
    CHECK_OK(vv_store_usage_get(dir, 7, now + 60, &u));
    CHECK_EQ(u.measuring, 0);
    CHECK_EQ(u.bytes, expect);
    /* the counter moved, but within VV_USAGE_MIN_INTERVAL of the last walk: kept */
    CHECK_OK(vv_store_usage_get(dir, 8, now + VV_USAGE_MIN_INTERVAL - 1, &u));
    CHECK_EQ(u.measuring, 0);
    /* later: measured again, with the new file */
    CHECK_OK(usage_wait(dir, 8, now + 61, now + 61, &u));
    CHECK_EQ(u.bytes, expect + 10);
    CHECK_EQ(u.objects, 2001);
    /* an unchanged store is walked again once its figure is VV_USAGE_MAX_AGE old */
    CHECK_OK(unlink(path));
    CHECK_OK(usage_wait(dir, 8, now + 61 + VV_USAGE_MAX_AGE, now + 61 + VV_USAGE_MAX_AGE, &u));
    CHECK_EQ(u.bytes, expect);
}

TEST(killed_writer_never_leaves_a_bad_object)
{
    enum { KILLS = 6, BIG = 4 << 20 };
    const char *root = vv_test_tmpdir();
    struct vv_key k;
    struct vv_backend *be;
    struct vv_chunkstore cs = {0};
    struct vv_chunk_io io;
    struct verify_all_ctx vc;
    struct file_list fl = {NULL, 0};
    size_t tmp_files = 0;
    int removed;

    test_key(&k, 7);
    vv_test_seed(20261127);
    /* KILLS kills at random moments, then more until one lands mid-write for sure */
    for (int round = 0; round < KILLS + 10; round++) {
        int status;
        size_t before = count_tmp(root);
        pid_t pid;
        if (round >= KILLS && before > 0)
            break;
        pid = fork();
        if (pid == 0) {
            struct vv_backend *cbe = vv_backend_local_open(root, 0);
            struct vv_chunkstore ccs = {cbe, &k, 0};
            struct vv_chunk_io cio;
            uint8_t *buf = malloc(BIG), id[VV_CHUNK_ID_LEN];
            if (!cbe || !buf || vv_chunk_io_init(&cio, 1) < 0)
                _exit(3);
            vv_test_seed(1000 + (uint64_t)round);
            for (;;) {
                /* large, incompressible, and different each time */
                size_t n = BIG - (size_t)(vv_test_rand() % 4096);
                vv_test_fill(buf, n);
                if (vv_sha256(buf, n, id) < 0 || vv_chunk_put(&ccs, &cio, id, buf, n, NULL) < 0)
                    _exit(4);
            }
        }
        CHECK(pid > 0);
        if (pid <= 0)
            break;
        if (round < KILLS) {
            usleep((useconds_t)(20000 + vv_test_rand() % 150000));
        } else {
            /* wait until a temporary file is being written */
            for (int t = 0; t < 1000 && count_tmp(root) == before; t++)
                usleep(1000);
        }
        CHECK_OK(kill(pid, SIGKILL));
        CHECK_EQ(waitpid(pid, &status, 0), pid);
        /* it died from the kill, not from an error of its own */
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    }

    /* The killed writers left their markers of unsynced puts; during the same boot the
     * recovery only flushes (the kernel holds the data) and removes them. */
    CHECK(count_markers(root) > 0);
    be = vv_backend_local_open(root, 0);
    CHECK_EQ(vv_backend_local_recover(be, check_never_called, NULL), 0);
    CHECK_EQ(count_markers(root), 0);

    /* Every object under its final name is whole: it opens and re-hashes. */
    cs.be = be;
    cs.key = &k;
    CHECK_OK(vv_chunk_io_init(&io, 1));
    memset(&vc, 0, sizeof(vc));
    vc.cs = &cs;
    vc.io = &io;
    CHECK_OK(vv_backend_list(be, "", verify_listed, &vc));
    CHECK(vc.good > 0); /* the writers did get somewhere */
    CHECK_EQ(vc.bad, 0);
    CHECK_EQ(vc.other, 0);
    if (vv_test_failed() || getenv("VV_TEST_VERBOSE"))
        printf("     %d whole chunks after %d kills\n", vc.good, KILLS);

    /* Temporary files may be left; clean_tmp(0) removes all of them, and only them. */
    walk_files(root, "", &fl);
    for (size_t i = 0; i < fl.n; i++)
        tmp_files += is_tmp_name(fl.paths[i]);
    CHECK_EQ(fl.n, (size_t)vc.good + tmp_files);
    CHECK(tmp_files > 0);
    free_files(&fl);
    if (vv_test_failed() || getenv("VV_TEST_VERBOSE"))
        printf("     %zu temporary files left\n", tmp_files);
    /* a day's grace leaves them alone */
    CHECK_EQ(vv_backend_local_clean_tmp(be, 86400), 0);
    removed = vv_backend_local_clean_tmp(be, 0);
    CHECK_EQ(removed, (int)tmp_files);
    walk_files(root, "", &fl);
    CHECK_EQ(fl.n, (size_t)vc.good);
    for (size_t i = 0; i < fl.n; i++)
        CHECK(!is_tmp_name(fl.paths[i]));
    free_files(&fl);
    memset(&vc, 0, sizeof(vc));
    vc.cs = &cs;
    vc.io = &io;
    CHECK_OK(vv_backend_list(be, "", verify_listed, &vc));
    CHECK_EQ(vc.bad, 0);
    vv_chunk_io_release(&io);
    vv_backend_free(be);
}

TEST(clean_tmp_removes_only_old_temporary_files)
{
    const char *root = vv_test_tmpdir();
    struct vv_backend *be = vv_backend_local_open(root, 0);
    char p[4300];
    struct timespec old[2] = {{0, 0}, {0, 0}};
    struct file_list fl = {NULL, 0};
    CHECK_EQ(vv_backend_put(be, "a/b/obj", "x", 1, 0), 0);
    CHECK_EQ(vv_backend_put(be, "top", "x", 1, 0), 0);
    path_of(root, "a/b/.tmp-obj-1-2-3", p, sizeof(p));
    close(open(p, O_CREAT | O_WRONLY, 0600));
    path_of(root, ".tmp-top-1-2-3", p, sizeof(p));
    close(open(p, O_CREAT | O_WRONLY, 0600));
    path_of(root, "a/.tmp-fresh-1-2-3", p, sizeof(p));
    close(open(p, O_CREAT | O_WRONLY, 0600));
    path_of(root, "a/.keep", p, sizeof(p)); /* a dot file that is not ours */
    close(open(p, O_CREAT | O_WRONLY, 0600));
    /* two of them two days old */
    old[0].tv_sec = old[1].tv_sec = time(NULL) - 2 * 86400;
    path_of(root, "a/b/.tmp-obj-1-2-3", p, sizeof(p));
    CHECK_OK(utimensat(AT_FDCWD, p, old, 0));
    path_of(root, ".tmp-top-1-2-3", p, sizeof(p));
    CHECK_OK(utimensat(AT_FDCWD, p, old, 0));
    path_of(root, "a/.keep", p, sizeof(p));
    CHECK_OK(utimensat(AT_FDCWD, p, old, 0));
    CHECK_EQ(vv_backend_local_clean_tmp(be, 86400), 2);
    walk_files(root, "", &fl);
    CHECK_EQ(fl.n, 4); /* two objects, the fresh temporary file, .keep */
    free_files(&fl);
    CHECK_EQ(vv_backend_local_clean_tmp(be, 0), 1);
    walk_files(root, "", &fl);
    CHECK_EQ(fl.n, 3);
    free_files(&fl);
    CHECK_EQ(vv_backend_has(be, "a/b/obj"), 1);
    CHECK_EQ(vv_backend_has(be, "top"), 1);
    vv_backend_free(be);
}

/* ---- repository --------------------------------------------------------------------- */

struct repo_env {
    char dir[4300], key[4300], key2[4300];
};

static void repo_env(struct repo_env *e)
{
    const char *t = vv_test_tmpdir();
    snprintf(e->dir, sizeof(e->dir), "%s/store", t);
    snprintf(e->key, sizeof(e->key), "%s/vault.key", t);
    snprintf(e->key2, sizeof(e->key2), "%s/other.key", t);
    CHECK_OK(vv_key_generate(e->key));
    CHECK_OK(vv_key_generate(e->key2));
}

TEST(repo_open_create_and_key_check)
{
    struct repo_env e;
    struct vv_repo *repo = (struct vv_repo *)1;
    struct vv_buf cfg;
    char p[4400], hex[17];
    struct vv_key k;

    repo_env(&e);
    CHECK_EQ(vv_repo_open(e.dir, e.key, 0, &repo), VV_E_NOTFOUND);
    CHECK(repo == NULL);
    CHECK_OK(vv_repo_open(e.dir, e.key, 1, &repo));
    CHECK(repo != NULL);
    vv_repo_close(repo);
    /* config records the key id, no secret */
    snprintf(p, sizeof(p), "%s/config", e.dir);
    vv_buf_init(&cfg, 4096);
    CHECK_OK(vv_read_file(p, &cfg));
    CHECK_OK(vv_key_load(e.key, &k));
    vv_hex_encode(k.id, VV_KEY_ID_LEN, hex);
    CHECK(memmem(cfg.data, cfg.len, hex, 16) != NULL);
    vv_buf_release(&cfg);
    /* reopen: same key fine (with or without create), other key refused */
    CHECK_OK(vv_repo_open(e.dir, e.key, 0, &repo));
    vv_repo_close(repo);
    CHECK_OK(vv_repo_open(e.dir, e.key, 1, &repo));
    vv_repo_close(repo);
    CHECK_EQ(vv_repo_open(e.dir, e.key2, 0, &repo), VV_E_WRONG_KEY);
    CHECK(repo == NULL);
    CHECK_EQ(vv_repo_open(e.dir, e.key2, 1, &repo), VV_E_WRONG_KEY);
    /* a missing key file; a folder that is not a store */
    snprintf(p, sizeof(p), "%s.absent", e.key);
    CHECK_EQ(vv_repo_open(e.dir, p, 0, &repo), VV_E_NOTFOUND);
    snprintf(p, sizeof(p), "%s/empty", vv_test_tmpdir());
    CHECK_OK(mkdir(p, 0700));
    CHECK_EQ(vv_repo_open(p, e.key, 0, &repo), VV_E_NOTFOUND);
    vv_repo_close(NULL);
}

static int count_dirs(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static int count_chunk(const uint8_t id[VV_CHUNK_ID_LEN], void *arg)
{
    (void)id;
    (*(int *)arg)++;
    return 0;
}

static void write_config(const char *dir, int format, const char *key_path)
{
    char p[4400], text[128], hex[17];
    struct vv_key k;
    int n;
    CHECK_OK(vv_key_load(key_path, &k));
    vv_hex_encode(k.id, VV_KEY_ID_LEN, hex);
    n = snprintf(text, sizeof(text), "{\"format\":%d,\"keyId\":\"%s\"}\n", format, hex);
    snprintf(p, sizeof(p), "%s/config", dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK_OK(vv_write_all(fd, text, (size_t)n));
    close(fd);
}

/* New stores are format 2 (256 chunk folders); format 1 stores (4096 folders of 3 hex
 * digits) are still read and written in their own layout; later formats are refused. */
TEST(repo_formats)
{
    struct repo_env e;
    struct vv_repo *repo;
    struct vv_chunk_io io;
    struct vv_buf cfg;
    uint8_t id[VV_CHUNK_ID_LEN];
    char p[4400], v1[4300], hex[2 * VV_CHUNK_ID_LEN + 1];
    static const char data[] = "a chunk kept across store formats";
    int n = 0;

    repo_env(&e);
    CHECK_OK(vv_repo_open(e.dir, e.key, 1, &repo));
    vv_repo_close(repo);
    snprintf(p, sizeof(p), "%s/config", e.dir);
    vv_buf_init(&cfg, 4096);
    CHECK_OK(vv_read_file(p, &cfg));
    CHECK(memmem(cfg.data, cfg.len, "\"format\":2", 10) != NULL);
    vv_buf_release(&cfg);
    snprintf(p, sizeof(p), "%s/chunks", e.dir);
    CHECK_EQ(count_dirs(p), 256);

    /* a format 1 store */
    CHECK_OK(vv_sha256(data, sizeof(data), id));
    vv_hex_encode(id, VV_CHUNK_ID_LEN, hex);
    snprintf(v1, sizeof(v1), "%s/v1", vv_test_tmpdir());
    CHECK_OK(mkdir(v1, 0700));
    write_config(v1, 1, e.key);
    CHECK_OK(vv_repo_open(v1, e.key, 0, &repo));
    CHECK_OK(vv_chunk_io_init(&io, VV_CODEC_DEFAULT_LEVEL));
    CHECK_EQ(vv_chunk_put(&repo->chunks, &io, id, data, sizeof(data), NULL), 0);
    vv_chunk_io_release(&io);
    vv_repo_close(repo);
    snprintf(p, sizeof(p), "%s/chunks/%.3s/%s", v1, hex, hex);
    CHECK(access(p, F_OK) == 0);
    CHECK_OK(vv_repo_open(v1, e.key, 0, &repo));
    CHECK_OK(vv_chunk_io_init(&io, VV_CODEC_DEFAULT_LEVEL));
    CHECK_OK(vv_chunk_get(&repo->chunks, &io, id));
    CHECK_EQ(io.dec.len, sizeof(data));
    CHECK_MEM(io.dec.data, data, sizeof(data));
    CHECK_EQ(vv_chunk_has(&repo->chunks, id), 1);
    vv_chunk_io_release(&io);
    CHECK_OK(vv_chunk_list(&repo->chunks, count_chunk, &n));
    CHECK_EQ(n, 1);
    vv_repo_close(repo);

    /* a format this build does not know */
    write_config(v1, 3, e.key);
    CHECK_EQ(vv_repo_open(v1, e.key, 0, &repo), VV_E_BAD_VERSION);
}

static void make_point(struct vv_manifest *m, const char *id, const char *parent,
                       struct vv_index ix[2], uint8_t tag)
{
    static const char *names[] = {"vda", "vdb"};
    vv_manifest_init(m);
    snprintf(m->id, sizeof(m->id), "%s", id);
    if (parent)
        snprintf(m->parent, sizeof(m->parent), "%s", parent);
    m->created = 1795804648;
    m->vm_name = strdup("web01");
    for (int d = 0; d < 2; d++) {
        CHECK_OK(vv_manifest_add_disk(m, names[d], "/dev/null", NULL));
        uint64_t size = (uint64_t)(d + 1) * 10 * 65536 + 100;
        CHECK_OK(vv_index_init(&ix[d], size, 65536));
        /* 64 KiB blocks: data, zero, hole, data, ... */
        for (uint64_t i = 0, off = 0; off < size; i++, off += 65536) {
            uint8_t cid[VV_ENTRY_LEN];
            uint64_t len = size - off < 65536 ? size - off : 65536;
            memset(cid, tag + d, sizeof(cid));
            vv_put_le64(cid, i);
            CHECK_OK(vv_index_push(&ix[d], off, len,
                                   i % 3 == 0   ? VV_ENTRY_DATA
                                   : i % 3 == 1 ? VV_ENTRY_ZERO
                                                : VV_ENTRY_HOLE,
                                   0, cid));
        }
    }
}

struct idlist {
    char ids[8][VV_POINT_ID_MAX];
    int n;
};

static int collect_point(const char *id, void *arg)
{
    struct idlist *l = arg;
    if (l->n < 8)
        snprintf(l->ids[l->n], VV_POINT_ID_MAX, "%s", id);
    l->n++;
    return 0;
}

/* After a commit, each disk of m records its shape, its counts and its index's checksum. */
static void check_commit_filled_in(const struct vv_manifest *m, struct vv_index ix[2])
{
    for (int d = 0; d < 2; d++) {
        struct vv_buf ser = VV_BUF_INIT;
        struct vv_index_counts c;
        uint8_t h[VV_SHA256_LEN];
        CHECK_OK(vv_index_serialize(&ix[d], &ser));
        CHECK_OK(vv_sha256(ser.data, ser.len, h));
        CHECK_MEM(m->disks[d].index_sha256, h, VV_SHA256_LEN);
        vv_index_count(&ix[d], &c);
        CHECK_EQ(m->disks[d].data_chunks, c.data);
        CHECK_EQ(m->disks[d].zero_chunks, c.zero);
        CHECK_EQ(m->disks[d].hole_chunks, c.hole);
        CHECK_EQ(m->disks[d].virtual_size, ix[d].virtual_size);
        CHECK_EQ(m->disks[d].chunk_size, 65536);
        vv_buf_release(&ser);
    }
}

/* The committed point id (make_point's, disks ix) loads back with its indexes. */
static void check_point_reloads(struct vv_repo *repo, const char *id, struct vv_index ix[2])
{
    struct vv_manifest back;
    struct vv_index got;

    CHECK_OK(vv_repo_point_load(repo, id, &back));
    CHECK(!strcmp(back.id, id));
    CHECK_EQ(back.parent[0], '\0');
    CHECK_EQ(back.created, 1795804648);
    CHECK(back.vm_name && !strcmp(back.vm_name, "web01"));
    CHECK_EQ(back.ndisks, 2);
    for (size_t d = 0; d < back.ndisks && d < 2; d++) {
        CHECK_OK(vv_repo_index_load(repo, &back, &back.disks[d], &got));
        CHECK_EQ(got.count, ix[d].count);
        CHECK_EQ(got.virtual_size, ix[d].virtual_size);
        if (got.count == ix[d].count)
            CHECK_MEM(got.e, ix[d].e, got.count * sizeof(*got.e));
        vv_index_release(&got);
    }
    vv_manifest_release(&back);
}

/* A second commit of id (a stored point with disks ix) and commits of invalid ids are
 * refused; the stored point stays as it was. */
static void check_point_id_refusals(struct vv_repo *repo, const char *id,
                                    struct vv_index ix[2])
{
    struct vv_manifest back;
    struct vv_index got;

    /* the same id again: refused, and the stored point is unchanged */
    {
        struct vv_manifest dup;
        struct vv_index dix[2];
        make_point(&dup, id, NULL, dix, 0x99);
        CHECK_EQ(vv_repo_point_commit(repo, &dup, dix), VV_E_EXISTS);
        CHECK_OK(vv_repo_point_load(repo, id, &back));
        CHECK_OK(vv_repo_index_load(repo, &back, &back.disks[0], &got));
        CHECK_MEM(got.e, ix[0].e, got.count * sizeof(*got.e));
        vv_index_release(&got);
        vv_manifest_release(&back);
        vv_index_release(&dix[0]);
        vv_index_release(&dix[1]);
        vv_manifest_release(&dup);
    }
    /* invalid ids */
    {
        struct vv_manifest bad;
        struct vv_index bix[2];
        make_point(&bad, "not-a-point", NULL, bix, 1);
        CHECK_EQ(vv_repo_point_commit(repo, &bad, bix), VV_E_INVAL);
        vv_index_release(&bix[0]);
        vv_index_release(&bix[1]);
        vv_manifest_release(&bad);
        CHECK_EQ(vv_repo_point_load(repo, "../../config", &back), VV_E_INVAL);
        CHECK_EQ(vv_repo_point_delete(repo, "rp-../x"), VV_E_INVAL);
    }
}

TEST(repo_points_commit_load_list_delete)
{
    struct repo_env e;
    struct vv_repo *repo;
    struct vv_manifest m, m2, back;
    struct vv_index ix[2], ix2[2];
    struct idlist l;
    const char *id1 = "rp-20261127-183728-042-1a2b3c4d", *id2 = "rp-20261128-000000-000-00000001";
    char p[4400];
    struct stat st;

    repo_env(&e);
    CHECK_OK(vv_repo_open(e.dir, e.key, 1, &repo));
    memset(&l, 0, sizeof(l));
    CHECK_OK(vv_repo_point_list(repo, collect_point, &l));
    CHECK_EQ(l.n, 0);
    CHECK_EQ(vv_repo_point_load(repo, id1, &back), VV_E_NOTFOUND);

    make_point(&m, id1, NULL, ix, 0x10);
    CHECK_OK(vv_repo_point_commit(repo, &m, ix));
    check_commit_filled_in(&m, ix);
    snprintf(p, sizeof(p), "%s/points/%s/manifest", e.dir, id1);
    CHECK_OK(stat(p, &st));
    snprintf(p, sizeof(p), "%s/points/%s/vdb.index", e.dir, id1);
    CHECK_OK(stat(p, &st));

    check_point_reloads(repo, id1, ix);
    check_point_id_refusals(repo, id1, ix);

    make_point(&m2, id2, id1, ix2, 0x20);
    CHECK_OK(vv_repo_point_commit(repo, &m2, ix2));
    CHECK_OK(vv_repo_point_load(repo, id2, &back));
    CHECK(!strcmp(back.parent, id1));
    vv_manifest_release(&back);
    memset(&l, 0, sizeof(l));
    CHECK_OK(vv_repo_point_list(repo, collect_point, &l));
    CHECK_EQ(l.n, 2);
    CHECK((!strcmp(l.ids[0], id1) && !strcmp(l.ids[1], id2)) ||
          (!strcmp(l.ids[0], id2) && !strcmp(l.ids[1], id1)));

    /* delete: the point is gone, with its indexes; the other one stays */
    CHECK_OK(vv_repo_point_delete(repo, id1));
    CHECK_EQ(vv_repo_point_load(repo, id1, &back), VV_E_NOTFOUND);
    snprintf(p, sizeof(p), "%s/points/%s/vda.index", e.dir, id1);
    CHECK(stat(p, &st) < 0 && errno == ENOENT);
    snprintf(p, sizeof(p), "%s/points/%s/vdb.index", e.dir, id1);
    CHECK(stat(p, &st) < 0 && errno == ENOENT);
    CHECK_EQ(vv_repo_point_delete(repo, id1), VV_E_NOTFOUND);
    memset(&l, 0, sizeof(l));
    CHECK_OK(vv_repo_point_list(repo, collect_point, &l));
    CHECK_EQ(l.n, 1);
    CHECK(!strcmp(l.ids[0], id2));
    CHECK_OK(vv_repo_point_load(repo, id2, &back));
    vv_manifest_release(&back);

    /* the id is free again */
    CHECK_OK(vv_repo_point_commit(repo, &m, ix));

    for (int d = 0; d < 2; d++) {
        vv_index_release(&ix[d]);
        vv_index_release(&ix2[d]);
    }
    vv_manifest_release(&m);
    vv_manifest_release(&m2);
    vv_repo_close(repo);
}

/* Replace the object under key with bytes (bypassing immutability, as damage would). */
static void overwrite(struct vv_repo *repo, const char *key, const void *p, size_t n)
{
    CHECK_EQ(vv_backend_put(repo->be, key, p, n, VV_PUT_REPLACE), 0);
}

static void sealed_object(struct vv_repo *repo, enum vv_obj_type t, const void *p, size_t n,
                          const struct vv_key *key, struct vv_buf *out)
{
    struct vv_codec *c = vv_codec_new(3);
    vv_buf_init(out, 0);
    CHECK_OK(vv_envelope_encode(c, t, p, n, key, out));
    vv_codec_free(c);
    (void)repo;
}

TEST(repo_detects_tampered_index_and_manifest)
{
    struct repo_env e;
    struct vv_repo *repo;
    struct vv_manifest m, m2, back;
    struct vv_index ix[2], ix2[2], got;
    struct vv_buf orig = VV_BUF_INIT, orig_b = VV_BUF_INIT, obj, ser = VV_BUF_INIT;
    const char *id1 = "rp-1", *id2 = "rp-2";
    char ka[256], kb[256], km[256], km2[256];

    repo_env(&e);
    CHECK_OK(vv_repo_open(e.dir, e.key, 1, &repo));
    make_point(&m, id1, NULL, ix, 0x30);
    CHECK_OK(vv_repo_point_commit(repo, &m, ix));
    make_point(&m2, id2, id1, ix2, 0x40);
    CHECK_OK(vv_repo_point_commit(repo, &m2, ix2));
    snprintf(ka, sizeof(ka), "points/%s/vda.index", id1);
    snprintf(kb, sizeof(kb), "points/%s/vdb.index", id1);
    snprintf(km, sizeof(km), "points/%s/manifest", id1);
    snprintf(km2, sizeof(km2), "points/%s/manifest", id2);
    CHECK_OK(vv_backend_get(repo->be, ka, &orig));
    CHECK_OK(vv_backend_get(repo->be, kb, &orig_b));
    CHECK_OK(vv_repo_point_load(repo, id1, &back));
    CHECK_OK(vv_repo_index_load(repo, &back, &back.disks[0], &got));
    vv_index_release(&got);

    /* a flipped bit at rest */
    orig.data[orig.len - 20] ^= 0x01;
    overwrite(repo, ka, orig.data, orig.len);
    CHECK_EQ(vv_repo_index_load(repo, &back, &back.disks[0], &got), VV_E_CHECKSUM);
    orig.data[orig.len - 20] ^= 0x01;
    /* cut short */
    overwrite(repo, ka, orig.data, orig.len - 1);
    CHECK_EQ(vv_repo_index_load(repo, &back, &back.disks[0], &got), VV_E_TRUNCATED);
    /* gone */
    CHECK_OK(vv_backend_del(repo->be, ka));
    CHECK_EQ(vv_repo_index_load(repo, &back, &back.disks[0], &got), VV_E_NOTFOUND);
    /* another disk's index, validly sealed: only the manifest's checksum can tell */
    overwrite(repo, ka, orig_b.data, orig_b.len);
    CHECK_EQ(vv_repo_index_load(repo, &back, &back.disks[0], &got), VV_E_HASH);
    /* a different, validly sealed index (one entry changed) */
    ix[0].e[0].kind = VV_ENTRY_ZERO; /* data -> zero, next to a zero: merged */
    vv_index_normalize(&ix[0]);
    CHECK_OK(vv_index_serialize(&ix[0], &ser));
    sealed_object(repo, VV_OBJ_INDEX, ser.data, ser.len, &repo->key, &obj);
    overwrite(repo, ka, obj.data, obj.len);
    CHECK_EQ(vv_repo_index_load(repo, &back, &back.disks[0], &got), VV_E_HASH);
    vv_buf_release(&obj);
    /* the same index unsealed: a sealing vault refuses it */
    sealed_object(repo, VV_OBJ_INDEX, ser.data, ser.len, NULL, &obj);
    overwrite(repo, ka, obj.data, obj.len);
    CHECK_EQ(vv_repo_index_load(repo, &back, &back.disks[0], &got), VV_E_AUTH);
    vv_buf_release(&obj);
    /* sealed as a manifest */
    sealed_object(repo, VV_OBJ_MANIFEST, orig.data, 10, &repo->key, &obj);
    overwrite(repo, ka, obj.data, obj.len);
    CHECK_EQ(vv_repo_index_load(repo, &back, &back.disks[0], &got), VV_E_BAD_HEADER);
    vv_buf_release(&obj);
    /* the original again: fine */
    overwrite(repo, ka, orig.data, orig.len);
    CHECK_OK(vv_repo_index_load(repo, &back, &back.disks[0], &got));
    vv_index_release(&got);
    vv_manifest_release(&back);

    /* the manifest: damaged, or swapped for another point's */
    {
        struct vv_buf man = VV_BUF_INIT, man2 = VV_BUF_INIT;
        CHECK_OK(vv_backend_get(repo->be, km, &man));
        CHECK_OK(vv_backend_get(repo->be, km2, &man2));
        man.data[man.len / 2] ^= 0x40;
        overwrite(repo, km, man.data, man.len);
        CHECK_EQ(vv_repo_point_load(repo, id1, &back), VV_E_CHECKSUM);
        overwrite(repo, km, man2.data, man2.len);
        CHECK_EQ(vv_repo_point_load(repo, id1, &back), VV_E_CORRUPT);
        /* validly sealed garbage */
        sealed_object(repo, VV_OBJ_MANIFEST, "{\"format\":1}", 12, &repo->key, &obj);
        overwrite(repo, km, obj.data, obj.len);
        CHECK_EQ(vv_repo_point_load(repo, id1, &back), VV_E_CORRUPT);
        vv_buf_release(&obj);
        vv_buf_release(&man);
        vv_buf_release(&man2);
    }

    vv_buf_release(&orig);
    vv_buf_release(&orig_b);
    vv_buf_release(&ser);
    for (int d = 0; d < 2; d++) {
        vv_index_release(&ix[d]);
        vv_index_release(&ix2[d]);
    }
    vv_manifest_release(&m);
    vv_manifest_release(&m2);
    vv_repo_close(repo);
}
