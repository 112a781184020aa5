/*
 * test_engine.c: the storage engine end to end, in process: full and incremental
 * backups of small sparse images, byte-identical restores that keep holes as holes,
 * zero chunks never stored, content-defined chunks that cut as one pass would and
 * dedup moved data, a read error that stops every worker, dedup across images, verify
 * finding missing and damaged chunks, refusal of a non-empty restore target,
 * cancellation, and the changed-extents parser.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunker.h"
#include "crypto.h"
#include "engine/engine.h"
#include "engine/parallel.h"
#include "err.h"
#include "harness.h"
#include "key.h"
#include "util.h"

#define KiB 1024ull
#define MiB (1024ull * 1024)

struct env {
    char dir[4200], store[4300], key[4300];
    struct vv_repo *repo;
    struct vv_engine_opts opts;
};

static void env_open(struct env *e)
{
    snprintf(e->dir, sizeof(e->dir), "%s", vv_test_tmpdir());
    snprintf(e->store, sizeof(e->store), "%s/store", e->dir);
    snprintf(e->key, sizeof(e->key), "%s/vault.key", e->dir);
    CHECK_OK(vv_key_generate(e->key));
    e->repo = NULL;
    CHECK_OK(vv_repo_open(e->store, e->key, 1, &e->repo));
    memset(&e->opts, 0, sizeof(e->opts));
    e->opts.threads = 4;
}

static void env_close(struct env *e)
{
    vv_repo_close(e->repo);
    e->repo = NULL;
}

static void file_path(const struct env *e, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", e->dir, name);
}

/* ---- images ------------------------------------------------------------------------- */

enum fill { F_RANDOM, F_TEXT, F_ZERO };

static void write_region(const char *path, uint64_t off, uint64_t len, enum fill f)
{
    int fd = open(path, O_WRONLY);
    uint8_t *buf = malloc(len ? len : 1);
    CHECK(fd >= 0);
    if (f == F_RANDOM)
        vv_test_fill(buf, len);
    else if (f == F_ZERO)
        memset(buf, 0, len);
    else
        for (uint64_t i = 0; i < len; i++)
            buf[i] = (uint8_t)"sparse image text, quite repetitive. "[i % 37];
    CHECK_EQ(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
    close(fd);
    free(buf);
}

static void new_image(const char *path, uint64_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK_OK(ftruncate(fd, (off_t)size));
    close(fd);
}

/* The standard test image: data, text, allocated zeros, a tiny write, a partial last
 * chunk, and large holes between them. */
#define IMG_SIZE (4 * MiB + 1234)
#define ZERO_OFF (512 * KiB)
#define ZERO_LEN (128 * KiB)
#define HOLE_OFF (2304 * KiB) /* [HOLE_OFF, HOLE_END) is never written */
#define HOLE_END (4 * MiB - 64 * KiB)

static void standard_image(const char *path)
{
    new_image(path, IMG_SIZE);
    write_region(path, 0, 100 * KiB, F_RANDOM);
    write_region(path, ZERO_OFF, ZERO_LEN, F_ZERO);
    write_region(path, 1 * MiB + 3, 10, F_RANDOM);
    write_region(path, 2 * MiB, 200 * KiB, F_TEXT);
    write_region(path, IMG_SIZE - 1000, 1000, F_RANDOM);
}

static void read_all(const char *path, struct vv_buf *b)
{
    vv_buf_init(b, 0);
    CHECK_OK(vv_read_file(path, b));
}

static void check_same_content(const char *a, const char *b)
{
    struct vv_buf x, y;
    read_all(a, &x);
    read_all(b, &y);
    CHECK_EQ(x.len, y.len);
    if (x.len == y.len && x.len && memcmp(x.data, y.data, x.len) != 0) {
        size_t i = 0;
        while (x.data[i] == y.data[i])
            i++;
        vv_test_fail(__FILE__, __LINE__, "%s and %s differ at byte %zu", a, b, i);
    }
    vv_buf_release(&x);
    vv_buf_release(&y);
}

static void check_content(const char *path, const struct vv_buf *want)
{
    struct vv_buf x;
    read_all(path, &x);
    CHECK_EQ(x.len, want->len);
    if (x.len == want->len && x.len)
        CHECK_MEM(x.data, want->data, x.len);
    vv_buf_release(&x);
}

/* True when [off, off+len) of the file holds no allocated data. */
static int is_hole(const char *path, uint64_t off, uint64_t len)
{
    int fd = open(path, O_RDONLY);
    off_t d;
    int r;
    if (fd < 0)
        return 0;
    d = lseek(fd, (off_t)off, SEEK_DATA);
    r = (d < 0 && errno == ENXIO) || (d >= 0 && (uint64_t)d >= off + len);
    close(fd);
    return r;
}

/* ---- engine calls ------------------------------------------------------------------- */

static int backup(struct env *e, const char *path, uint32_t cs, const struct vv_index *parent,
                  const struct vv_extent *changed, size_t n, struct vv_index *out,
                  struct vv_backup_stats *st)
{
    struct vv_source *src = NULL;
    int r;
    memset(st, 0, sizeof(*st));
    CHECK_OK(vv_source_file_open(path, &src));
    if (!src)
        return VV_E_IO;
    r = vv_disk_backup(e->repo, src, cs, parent, changed, n, &e->opts, out, st);
    vv_source_close(src);
    return r;
}

static int restore(struct env *e, const struct vv_index *ix, const char *path,
                   struct vv_restore_stats *st)
{
    struct vv_restore_stats dummy;
    int fd = open(path, O_RDWR | O_CREAT, 0600), r;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof(*st));
    CHECK(fd >= 0);
    r = vv_disk_restore(e->repo, ix, fd, &e->opts, st);
    close(fd);
    return r;
}

static void commit(struct env *e, const char *id, const char *parent, struct vv_index *ix)
{
    struct vv_manifest m;
    vv_manifest_init(&m);
    snprintf(m.id, sizeof(m.id), "%s", id);
    if (parent)
        snprintf(m.parent, sizeof(m.parent), "%s", parent);
    m.created = 1795804648;
    CHECK_OK(vv_manifest_add_disk(&m, "vda", NULL, NULL));
    CHECK_OK(vv_repo_point_commit(e->repo, &m, ix));
    vv_manifest_release(&m);
}

/* Load a point's one disk index back from the store. */
static void load_index(struct env *e, const char *id, struct vv_index *ix)
{
    struct vv_manifest m;
    CHECK_OK(vv_repo_point_load(e->repo, id, &m));
    if (m.ndisks == 1)
        CHECK_OK(vv_repo_index_load(e->repo, &m, &m.disks[0], ix));
    else
        memset(ix, 0, sizeof(*ix));
    vv_manifest_release(&m);
}

/* Chunk files in the store (every file under chunks/). */
static void chunk_files_in(const char *dir, const char *rel, size_t *n, char *first,
                           size_t firstlen)
{
    char path[4500];
    DIR *d;
    struct dirent *de;
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    if (!(d = opendir(path)))
        return;
    while ((de = readdir(d))) {
        char sub[4500];
        if (de->d_name[0] == '.')
            continue;
        snprintf(sub, sizeof(sub), "%s/%s", rel, de->d_name);
        if (de->d_type == DT_DIR) {
            chunk_files_in(dir, sub, n, first, firstlen);
        } else {
            if (first && (*n)++ == 0)
                snprintf(first, firstlen, "%s/%s", dir, sub);
            else if (!first)
                (*n)++;
        }
    }
    closedir(d);
}

static size_t chunk_files(const struct env *e)
{
    size_t n = 0;
    chunk_files_in(e->store, "chunks", &n, NULL, 0);
    return n;
}

static size_t distinct_data(const struct vv_index *ix)
{
    uint8_t(*ids)[VV_ENTRY_LEN] = NULL;
    size_t n = 0;
    CHECK_OK(vv_index_ids(ix, &ids, &n));
    free(ids);
    return n;
}

/* The entry holding disk byte off. */
static const struct vv_ix_entry *entry_at(const struct vv_index *ix, uint64_t off)
{
    for (uint64_t i = 0; i < ix->count; i++)
        if (off >= ix->e[i].off && off - ix->e[i].off < ix->e[i].len)
            return &ix->e[i];
    CHECK(!"an entry for every byte");
    return &ix->e[0];
}

/* ---- tests -------------------------------------------------------------------------- */

TEST(fixed_chunks_full_backup_restores_identical_and_sparse)
{
    static const uint32_t sizes[] = {4096, 16384, 65536};
    struct env e;
    char img[4400];
    env_open(&e);
    e.opts.fixed_chunks = 1;
    file_path(&e, "disk.img", img, sizeof(img));
    vv_test_seed(1);
    standard_image(img);
    for (size_t s = 0; s < 3; s++) {
        uint32_t cs = sizes[s];
        struct vv_index ix;
        struct vv_index_counts c;
        struct vv_backup_stats st;
        struct vv_restore_stats rs;
        char out[4400];
        size_t files_before = chunk_files(&e);
        uint8_t *zeros = calloc(1, cs), zid[VV_SHA256_LEN];

        CHECK_OK(backup(&e, img, cs, NULL, NULL, 0, &ix, &st));
        CHECK_EQ(ix.chunk_size, cs);
        CHECK_EQ(ix.virtual_size, IMG_SIZE);
        vv_index_count(&ix, &c);
        CHECK_EQ(st.chunks_total, ix.count);
        CHECK_EQ(st.chunks_kept, 0);
        CHECK_EQ(st.chunks_read, st.chunks_new + st.chunks_dedup + st.chunks_zero);
        CHECK_EQ(st.chunks_hole, c.hole);
        CHECK_EQ(st.chunks_new + st.chunks_dedup, c.data);
        /* the allocated zero range is zero chunks (one entry), the never-written range
         * is holes */
        CHECK_EQ(st.chunks_zero, ZERO_LEN / cs);
        CHECK_EQ(c.zero, 1);
        for (uint64_t off = ZERO_OFF; off < ZERO_OFF + ZERO_LEN; off += cs)
            CHECK_EQ(entry_at(&ix, off)->kind, VV_ENTRY_ZERO);
        for (uint64_t off = HOLE_OFF; off < HOLE_END; off += cs)
            CHECK_EQ(entry_at(&ix, off)->kind, VV_ENTRY_HOLE);
        CHECK_EQ(vv_index_kind(&ix, ix.count - 1), VV_ENTRY_DATA);
        CHECK(st.chunks_read < IMG_SIZE / cs / 2); /* holes were not read */
        /* zero chunks are not stored: only the new data chunks became files */
        CHECK_EQ(chunk_files(&e) - files_before, st.chunks_new);
        /* (the 1234-byte last chunk is the same whatever the chunk size: a dedup hit
         * after the first round) */
        CHECK_EQ(st.chunks_new + st.chunks_dedup, c.data);
        if (s == 0)
            CHECK_EQ(st.chunks_new, distinct_data(&ix));
        else
            CHECK_EQ(st.chunks_new, distinct_data(&ix) - 1);
        CHECK_OK(vv_sha256(zeros, cs, zid));
        CHECK_EQ(vv_chunk_has(&e.repo->chunks, zid), 0);
        free(zeros);

        snprintf(out, sizeof(out), "%s/restored-%u.img", e.dir, cs);
        CHECK_OK(restore(&e, &ix, out, &rs));
        CHECK_EQ(rs.chunks_written, distinct_data(&ix)); /* each chunk fetched once */
        CHECK_EQ(rs.bytes_written, c.data_bytes);
        check_same_content(img, out);
        /* holes and zero chunks stay holes */
        CHECK(is_hole(out, HOLE_OFF, HOLE_END - HOLE_OFF));
        CHECK(is_hole(out, ZERO_OFF, ZERO_LEN));
        CHECK(!is_hole(out, 0, 4096));
        {
            struct stat a, b;
            CHECK_OK(stat(img, &a));
            CHECK_OK(stat(out, &b));
            (void)a;
            CHECK((uint64_t)b.st_blocks * 512 < IMG_SIZE / 2);
        }
        /* the same backup again: everything is a dedup hit, nothing new stored */
        {
            struct vv_index ix2;
            size_t files = chunk_files(&e);
            CHECK_OK(backup(&e, img, cs, NULL, NULL, 0, &ix2, &st));
            CHECK_EQ(st.chunks_new, 0);
            CHECK_EQ(st.chunks_dedup, c.data);
            CHECK_EQ(chunk_files(&e), files);
            CHECK_EQ(ix2.count, ix.count);
            CHECK_MEM(ix2.e, ix.e, ix.count * sizeof(*ix.e));
            vv_index_release(&ix2);
        }
        vv_index_release(&ix);
    }
    env_close(&e);
}

TEST(empty_and_all_hole_images)
{
    struct env e;
    char img[4400], out[4400];
    struct vv_index ix;
    struct vv_backup_stats st;
    struct stat sb;
    env_open(&e);
    file_path(&e, "empty.img", img, sizeof(img));
    file_path(&e, "empty.out", out, sizeof(out));
    new_image(img, 0);
    CHECK_OK(backup(&e, img, 4096, NULL, NULL, 0, &ix, &st));
    CHECK_EQ(ix.count, 0);
    CHECK_OK(restore(&e, &ix, out, NULL));
    CHECK_OK(stat(out, &sb));
    CHECK_EQ(sb.st_size, 0);
    vv_index_release(&ix);

    file_path(&e, "holes.img", img, sizeof(img));
    file_path(&e, "holes.out", out, sizeof(out));
    new_image(img, 3 * MiB + 5);
    CHECK_OK(backup(&e, img, 65536, NULL, NULL, 0, &ix, &st));
    CHECK_EQ(st.chunks_hole, ix.count);
    CHECK_EQ(st.chunks_read, 0);
    CHECK_EQ(chunk_files(&e), 0);
    CHECK_OK(restore(&e, &ix, out, NULL));
    CHECK_OK(stat(out, &sb));
    CHECK_EQ(sb.st_size, 3 * MiB + 5);
    CHECK(is_hole(out, 0, 3 * MiB + 5));
    check_same_content(img, out);
    /* a point with no data chunk at all verifies, and so does a store with no chunk */
    {
        struct vv_verify_stats vs;
        memset(&vs, 0, sizeof(vs));
        commit(&e, "rp-holes", NULL, &ix);
        CHECK_OK(vv_point_verify(e.repo, "rp-holes", &e.opts, &vs));
        CHECK_EQ(vs.points, 1);
        CHECK_EQ(vs.chunks_checked, 0);
        CHECK_OK(vv_store_verify(e.repo, &e.opts, &vs));
        CHECK_EQ(vs.chunks_checked, 0);
    }
    vv_index_release(&ix);
    env_close(&e);
}

TEST(incremental_restores_new_content_and_parent_still_old)
{
    const uint32_t cs = 16384;
    struct env e;
    char img[4400], out1[4400], out2[4400], out1b[4400];
    struct vv_index ix1, ix2, l1, l2;
    struct vv_backup_stats full, inc;
    struct vv_buf v1, v2;
    const char *p1 = "rp-1-full", *p2 = "rp-2-incr";
    /* what changed since the first backup, as a dirty bitmap would report it */
    struct vv_extent changed[] = {
        {50 * KiB, 10},            /* inside the data at the start */
        {ZERO_OFF + 4096, 20000},  /* over allocated zeros */
        {3 * MiB, 20 * KiB},       /* in a hole */
        {IMG_SIZE - 10, 10},       /* the old partial last chunk */
    };

    env_open(&e);
    file_path(&e, "disk.img", img, sizeof(img));
    vv_test_seed(2);
    standard_image(img);
    read_all(img, &v1);
    CHECK_OK(backup(&e, img, cs, NULL, NULL, 0, &ix1, &full));
    commit(&e, p1, NULL, &ix1);

    /* change the image, and grow it by a bit more than one chunk */
    for (size_t i = 0; i < sizeof(changed) / sizeof(changed[0]); i++)
        write_region(img, changed[i].off, changed[i].len, F_RANDOM);
    write_region(img, IMG_SIZE + 20000, 7, F_RANDOM);
    read_all(img, &v2);
    CHECK(v2.len == IMG_SIZE + 20007);

    CHECK_OK(backup(&e, img, cs, &ix1, changed, 4, &ix2, &inc));
    CHECK_EQ(ix2.virtual_size, IMG_SIZE + 20007);
    CHECK_EQ(ix2.chunk_size, cs);
    CHECK_EQ(inc.chunks_total, ix2.count);
    CHECK(inc.chunks_kept > 0);
    CHECK(inc.chunks_read < full.chunks_read);
    /* read (granule = chunk size here): 1 + 2 (zero range) + 2 (written in the hole) +
     * the old partial last chunk's granule with the growth, cut at the boundary (2) */
    CHECK(inc.chunks_read <= 7);
    CHECK(inc.bytes_read <= 7 * cs);
    /* chunks that were not touched keep the parent's entries */
    CHECK_MEM(entry_at(&ix2, cs)->id, entry_at(&ix1, cs)->id, VV_ENTRY_LEN);
    CHECK(memcmp(entry_at(&ix2, 50 * KiB)->id, entry_at(&ix1, 50 * KiB)->id, VV_ENTRY_LEN) != 0);
    commit(&e, p2, p1, &ix2);

    /* restore both from what is in the store */
    load_index(&e, p2, &l2);
    load_index(&e, p1, &l1);
    file_path(&e, "p2.img", out2, sizeof(out2));
    file_path(&e, "p1.img", out1, sizeof(out1));
    CHECK_OK(restore(&e, &l2, out2, NULL));
    CHECK_OK(restore(&e, &l1, out1, NULL));
    check_content(out2, &v2);
    check_content(out1, &v1);
    CHECK(is_hole(out2, HOLE_OFF, 3 * MiB - HOLE_OFF));
    /* the parent deleted: the child is complete on its own */
    CHECK_OK(vv_repo_point_delete(e.repo, p1));
    file_path(&e, "p2b.img", out1b, sizeof(out1b));
    CHECK_OK(restore(&e, &l2, out1b, NULL));
    check_content(out1b, &v2);

    /* an incremental that shrinks the disk */
    {
        struct vv_index ix3;
        struct vv_backup_stats st;
        char out3[4400];
        CHECK_OK(truncate(img, 1 * MiB + 100));
        CHECK_OK(backup(&e, img, cs, &ix2, NULL, 0, &ix3, &st));
        CHECK_EQ(ix3.virtual_size, 1 * MiB + 100);
        CHECK_EQ(st.chunks_read, 0); /* the last chunk kept as a slice */
        file_path(&e, "p3.img", out3, sizeof(out3));
        CHECK_OK(restore(&e, &ix3, out3, NULL));
        check_same_content(img, out3);
        vv_index_release(&ix3);
    }

    vv_buf_release(&v1);
    vv_buf_release(&v2);
    vv_index_release(&ix1);
    vv_index_release(&ix2);
    vv_index_release(&l1);
    vv_index_release(&l2);
    env_close(&e);
}

TEST(fixed_chunks_dedup_across_images_and_within_one)
{
    const uint32_t cs = 16384;
    struct env e;
    char a[4400], b[4400], out[4400];
    struct vv_index ia, ib;
    struct vv_backup_stats st;
    uint8_t *shared = malloc(4 * cs);

    env_open(&e);
    e.opts.fixed_chunks = 1;
    file_path(&e, "a.img", a, sizeof(a));
    file_path(&e, "b.img", b, sizeof(b));
    vv_test_seed(3);
    vv_test_fill(shared, 4 * cs);
    /* a: 4 shared chunks then 4 of its own; b: 4 of its own then the shared ones at
     * another (chunk-aligned) offset, with a hole between */
    new_image(a, 8 * cs);
    new_image(b, 20 * cs);
    {
        int fa = open(a, O_WRONLY), fb = open(b, O_WRONLY);
        CHECK_EQ(pwrite(fa, shared, 4 * cs, 0), (ssize_t)(4 * cs));
        CHECK_EQ(pwrite(fb, shared, 4 * cs, 12 * cs), (ssize_t)(4 * cs));
        close(fa);
        close(fb);
    }
    write_region(a, 4 * cs, 4 * cs, F_RANDOM);
    write_region(b, 0, 4 * cs, F_RANDOM);
    CHECK_OK(backup(&e, a, cs, NULL, NULL, 0, &ia, &st));
    CHECK_EQ(st.chunks_new, 8);
    CHECK_EQ(st.chunks_dedup, 0);
    CHECK_EQ(chunk_files(&e), 8);
    CHECK_OK(backup(&e, b, cs, NULL, NULL, 0, &ib, &st));
    CHECK_EQ(st.chunks_new, 4);
    CHECK_EQ(st.chunks_dedup, 4);
    CHECK_EQ(st.bytes_new, 4 * cs);
    CHECK_EQ(chunk_files(&e), 12);
    for (uint64_t k = 0; k < 4; k++)
        CHECK_MEM(entry_at(&ib, (12 + k) * cs)->id, entry_at(&ia, k * cs)->id, VV_ENTRY_LEN);
    file_path(&e, "b.out", out, sizeof(out));
    CHECK_OK(restore(&e, &ib, out, NULL));
    check_same_content(b, out);
    vv_index_release(&ia);
    vv_index_release(&ib);

    /* one image repeating one chunk 16 times, backed up by 4 threads at once: one
     * chunk written, 15 dedup hits */
    {
        char c[4400];
        size_t before = chunk_files(&e);
        file_path(&e, "c.img", c, sizeof(c));
        new_image(c, 16 * cs);
        int fc = open(c, O_WRONLY);
        for (int i = 0; i < 16; i++)
            CHECK_EQ(pwrite(fc, shared + cs, cs, (off_t)i * cs), (ssize_t)cs);
        close(fc);
        CHECK_OK(backup(&e, c, cs, NULL, NULL, 0, &ia, &st));
        CHECK_EQ(st.chunks_new + st.chunks_dedup, 16);
        CHECK_EQ(st.chunks_new, 0); /* shared chunk 1 is already stored */
        CHECK_EQ(chunk_files(&e), before);
        vv_index_release(&ia);
        {
            uint8_t *t = malloc(cs);
            for (uint32_t i = 0; i < cs; i++)
                t[i] = (uint8_t)"the same text in every chunk. "[i % 30];
            fc = open(c, O_WRONLY);
            for (int i = 0; i < 16; i++)
                CHECK_EQ(pwrite(fc, t, cs, (off_t)i * cs), (ssize_t)cs);
            close(fc);
            free(t);
        }
        CHECK_OK(backup(&e, c, cs, NULL, NULL, 0, &ia, &st));
        CHECK_EQ(st.chunks_new, 1); /* every chunk is the same text */
        CHECK_EQ(st.chunks_dedup, 15);
        CHECK_EQ(chunk_files(&e), before + 1);
        CHECK(st.bytes_stored < cs); /* and it compressed */
        vv_index_release(&ia);
    }
    free(shared);
    env_close(&e);
}

/* Content-defined chunking: a 20 MiB run of data spans six 4 MiB read regions, then
 * a copy of 3 MiB of it lies at an offset no chunk size divides. */
#define CDC_SIZE (32 * MiB)
#define CDC_DATA_OFF (1 * MiB)
#define CDC_DATA_LEN (20 * MiB)
#define CDC_COPY_SRC (5 * MiB + 4096)
#define CDC_COPY_OFF (24 * MiB + 12 * KiB)
#define CDC_COPY_LEN (3 * MiB)
#define CDC_ZERO_OFF (28 * MiB)
#define CDC_ZERO_LEN (2 * MiB)

static void cdc_image(const char *path, struct vv_buf *data)
{
    int fd;
    new_image(path, CDC_SIZE);
    vv_buf_init(data, CDC_DATA_LEN);
    CHECK_OK(vv_buf_resize(data, CDC_DATA_LEN));
    vv_test_fill(data->data, CDC_DATA_LEN);
    CHECK((fd = open(path, O_WRONLY)) >= 0);
    CHECK_EQ(pwrite(fd, data->data, CDC_DATA_LEN, CDC_DATA_OFF), (ssize_t)CDC_DATA_LEN);
    CHECK_EQ(pwrite(fd, data->data + CDC_COPY_SRC - CDC_DATA_OFF, CDC_COPY_LEN, CDC_COPY_OFF),
             (ssize_t)CDC_COPY_LEN);
    close(fd);
    write_region(path, CDC_ZERO_OFF, CDC_ZERO_LEN, F_ZERO);
}

TEST(content_defined_full_backup_cuts_like_one_stream)
{
    const uint32_t cs = 16384; /* chunks 4K..64K, about 16K */
    struct env e;
    char img[4400], out[4400];
    struct vv_index ix, ix1;
    struct vv_backup_stats st, st1;
    struct vv_restore_stats rs;
    struct vv_index_counts c;
    struct vv_chunker ck;
    struct vv_buf data;
    uint64_t i = 0, pos = 0, copied = 0, shared = 0;
    uint8_t(*ids)[VV_ENTRY_LEN] = NULL;
    size_t nids = 0;

    env_open(&e);
    file_path(&e, "cdc.img", img, sizeof(img));
    file_path(&e, "cdc.out", out, sizeof(out));
    vv_test_seed(21);
    cdc_image(img, &data);
    CHECK_OK(backup(&e, img, cs, NULL, NULL, 0, &ix, &st));
    CHECK_EQ(ix.chunk_size, cs);
    vv_index_count(&ix, &c);
    CHECK_EQ(st.chunks_total, ix.count);
    CHECK_EQ(st.chunks_read, st.chunks_new + st.chunks_dedup + st.chunks_zero);
    CHECK_EQ(st.chunks_new + st.chunks_dedup, c.data);
    CHECK_EQ(st.chunks_hole, c.hole);
    CHECK_EQ(st.chunks_new, distinct_data(&ix));

    /* The run of data is cut exactly as one pass over it would cut it: the regions,
     * read in parallel, hand their unfinished chunk on. */
    CHECK_OK(vv_chunker_init(&ck, cs));
    while (i < ix.count && ix.e[i].off < CDC_DATA_OFF)
        i++;
    CHECK_EQ(ix.e[i].off, CDC_DATA_OFF);
    while (pos < CDC_DATA_LEN) {
        size_t l = vv_chunker_next(&ck, data.data + pos, CDC_DATA_LEN - pos, 1);
        CHECK(i < ix.count);
        if (i >= ix.count)
            break;
        CHECK_EQ(ix.e[i].kind, VV_ENTRY_DATA);
        CHECK_EQ(ix.e[i].off, CDC_DATA_OFF + pos);
        CHECK_EQ(ix.e[i].len, l);
        pos += l;
        i++;
    }
    /* the moved copy is mostly the same chunks: only those at its edges are new */
    CHECK_OK(vv_index_ids(&ix, &ids, &nids));
    for (i = 0; i < ix.count; i++) {
        const struct vv_ix_entry *x = &ix.e[i];
        if (x->kind != VV_ENTRY_DATA || x->off < CDC_COPY_OFF ||
            x->off + x->len > CDC_COPY_OFF + CDC_COPY_LEN)
            continue;
        copied += x->len;
        for (uint64_t k = 0; k < ix.count; k++)
            if (ix.e[k].off < CDC_DATA_OFF + CDC_DATA_LEN && ix.e[k].kind == VV_ENTRY_DATA &&
                !memcmp(ix.e[k].id, x->id, VV_ENTRY_LEN)) {
                shared += x->len;
                break;
            }
    }
    free(ids);
    CHECK(copied > CDC_COPY_LEN - 4 * ck.max);
    CHECK(shared > copied - 2 * ck.max);
    CHECK(st.bytes_new < CDC_DATA_LEN + 4 * ck.max);
    /* zeros: the middle of the run is zero entries, never stored */
    CHECK_EQ(entry_at(&ix, CDC_ZERO_OFF + CDC_ZERO_LEN / 2)->kind, VV_ENTRY_ZERO);
    CHECK(st.chunks_zero > 0);

    /* the same cuts with one worker */
    e.opts.threads = 1;
    CHECK_OK(backup(&e, img, cs, NULL, NULL, 0, &ix1, &st1));
    CHECK_EQ(ix1.count, ix.count);
    CHECK_MEM(ix1.e, ix.e, ix.count * sizeof(*ix.e));
    CHECK_EQ(st1.chunks_new, 0);
    vv_index_release(&ix1);

    /* restored byte for byte, holes and zeros as holes */
    CHECK_OK(restore(&e, &ix, out, &rs));
    check_same_content(img, out);
    CHECK(is_hole(out, 0, CDC_DATA_OFF));
    CHECK(is_hole(out, CDC_ZERO_OFF + 1 * MiB, 64 * KiB));
    CHECK(is_hole(out, CDC_ZERO_OFF + CDC_ZERO_LEN, CDC_SIZE - CDC_ZERO_OFF - CDC_ZERO_LEN));
    vv_buf_release(&data);
    vv_index_release(&ix);
    env_close(&e);
}

/* Zeros cut at max, so a region of zeros ends on a cut and hands on an empty tail. */
TEST(content_defined_regions_ending_on_a_cut)
{
    struct env e;
    char img[4400], out[4400];
    struct vv_index ix;
    struct vv_backup_stats st;
    env_open(&e);
    file_path(&e, "z.img", img, sizeof(img));
    file_path(&e, "z.out", out, sizeof(out));
    new_image(img, 16 * MiB);
    vv_test_seed(23);
    write_region(img, 4 * MiB, 8 * MiB, F_ZERO);
    write_region(img, 12 * MiB, 2 * MiB, F_RANDOM);
    CHECK_OK(backup(&e, img, 16384, NULL, NULL, 0, &ix, &st));
    CHECK_EQ(st.chunks_zero, 8 * MiB / (4 * 16384));
    CHECK_EQ(entry_at(&ix, 4 * MiB)->kind, VV_ENTRY_ZERO);
    CHECK_EQ(entry_at(&ix, 4 * MiB)->len, 8 * MiB);
    CHECK_EQ(entry_at(&ix, 12 * MiB)->kind, VV_ENTRY_DATA);
    CHECK_EQ(entry_at(&ix, 12 * MiB)->off, 12 * MiB);
    CHECK_OK(restore(&e, &ix, out, NULL));
    check_same_content(img, out);
    vv_index_release(&ix);
    env_close(&e);
}

/* A file source whose reads fail from fail_at on. */
struct failing_source {
    struct vv_source base;
    struct vv_source *inner;
    uint64_t fail_at;
};

static int failing_read(struct vv_source *s, void *buf, size_t len, uint64_t off)
{
    struct failing_source *f = (struct failing_source *)(void *)s;
    if (off + len > f->fail_at)
        return VV_E_IO;
    return f->inner->ops->read(f->inner, buf, len, off);
}

static int failing_map(struct vv_source *s, uint64_t off, uint64_t len,
                       int (*cb)(uint64_t off, uint64_t len, void *arg), void *arg)
{
    struct failing_source *f = (struct failing_source *)(void *)s;
    return f->inner->ops->map(f->inner, off, len, cb, arg);
}

static void failing_close(struct vv_source *s) { (void)s; }

static const struct vv_source_ops failing_ops = {failing_read, failing_map, failing_close};

TEST(content_defined_backup_stops_on_a_read_error)
{
    struct env e;
    char img[4400];
    struct vv_index ix;
    struct vv_backup_stats st;
    struct vv_buf data;
    struct failing_source f;

    env_open(&e);
    file_path(&e, "cdc.img", img, sizeof(img));
    vv_test_seed(22);
    cdc_image(img, &data);
    memset(&f, 0, sizeof(f));
    CHECK_OK(vv_source_file_open(img, &f.inner));
    f.base.ops = &failing_ops;
    f.base.size = f.inner->size;
    f.base.desc = f.inner->desc;
    /* a region in the middle fails: the workers waiting for their turn after it stop */
    for (int threads = 1; threads <= 4; threads += 3) {
        f.fail_at = 12 * MiB;
        e.opts.threads = threads;
        memset(&st, 0, sizeof(st));
        memset(&ix, 0x55, sizeof(ix));
        CHECK_EQ(vv_disk_backup(e.repo, &f.base, 65536, NULL, NULL, 0, &e.opts, &ix, &st),
                 VV_E_IO);
        CHECK(ix.e == NULL);
    }
    /* no failure: the same source backs up */
    f.fail_at = UINT64_MAX;
    CHECK_OK(vv_disk_backup(e.repo, &f.base, 65536, NULL, NULL, 0, &e.opts, &ix, &st));
    vv_index_release(&ix);
    vv_source_close(f.inner);
    vv_buf_release(&data);
    env_close(&e);
}

/* Path of the store file of the first data chunk of ix, and a copy of its bytes. */
static void chunk_file_of(struct env *e, const struct vv_index *ix, uint64_t nth, char *path,
                          size_t n)
{
    char key[VV_CHUNK_KEY_MAX];
    for (uint64_t i = 0; i < ix->count; i++) {
        if (vv_index_kind(ix, i) != VV_ENTRY_DATA)
            continue;
        if (nth-- == 0) {
            vv_chunk_key(&e->repo->chunks, ix->e[i].id, key);
            snprintf(path, n, "%s/%s", e->store, key);
            return;
        }
    }
    path[0] = '\0';
}

TEST(verify_finds_missing_and_damaged_chunks)
{
    const uint32_t cs = 65536;
    struct env e;
    char img[4400], victim[4500], victim2[4500], out[4400];
    struct vv_index ix;
    struct vv_backup_stats bst;
    struct vv_verify_stats vs;
    struct vv_buf saved;
    size_t ndata;
    const char *id = "rp-verify";

    env_open(&e);
    file_path(&e, "disk.img", img, sizeof(img));
    vv_test_seed(4);
    standard_image(img);
    CHECK_OK(backup(&e, img, cs, NULL, NULL, 0, &ix, &bst));
    commit(&e, id, NULL, &ix);
    ndata = distinct_data(&ix);
    CHECK(ndata >= 3);

    memset(&vs, 0, sizeof(vs));
    CHECK_OK(vv_point_verify(e.repo, id, &e.opts, &vs));
    CHECK_EQ(vs.points, 1);
    CHECK_EQ(vs.chunks_checked, ndata);
    CHECK_EQ(vs.chunks_missing, 0);
    CHECK_EQ(vs.chunks_bad, 0);
    CHECK(vs.bytes_checked > 0);
    memset(&vs, 0, sizeof(vs));
    CHECK_OK(vv_store_verify(e.repo, &e.opts, &vs));
    CHECK_EQ(vs.chunks_checked, ndata);
    memset(&vs, 0, sizeof(vs));
    CHECK_EQ(vv_point_verify(e.repo, "rp-absent", &e.opts, &vs), VV_E_NOTFOUND);

    /* one chunk file deleted */
    chunk_file_of(&e, &ix, 1, victim, sizeof(victim));
    read_all(victim, &saved);
    CHECK_OK(unlink(victim));
    memset(&vs, 0, sizeof(vs));
    CHECK_EQ(vv_point_verify(e.repo, id, &e.opts, &vs), VV_E_CORRUPT);
    CHECK_EQ(vs.chunks_missing, 1);
    CHECK_EQ(vs.chunks_bad, 0);
    CHECK_EQ(vs.chunks_checked, ndata);
    /* the store-wide verify only sees the chunks that are there, all good */
    memset(&vs, 0, sizeof(vs));
    CHECK_OK(vv_store_verify(e.repo, &e.opts, &vs));
    CHECK_EQ(vs.chunks_checked, ndata - 1);
    /* a restore fails rather than write a disk with a piece missing */
    file_path(&e, "missing.out", out, sizeof(out));
    CHECK_EQ(restore(&e, &ix, out, NULL), VV_E_NOTFOUND);
    /* put it back */
    {
        int fd = open(victim, O_WRONLY | O_CREAT | O_EXCL, 0640);
        CHECK_OK(vv_write_all(fd, saved.data, saved.len));
        close(fd);
    }
    memset(&vs, 0, sizeof(vs));
    CHECK_OK(vv_point_verify(e.repo, id, &e.opts, &vs));

    /* one chunk file damaged: one bit in its middle */
    chunk_file_of(&e, &ix, 2, victim2, sizeof(victim2));
    {
        struct vv_buf b;
        read_all(victim2, &b);
        b.data[b.len / 2] ^= 0x10;
        int fd = open(victim2, O_WRONLY | O_TRUNC);
        CHECK_OK(vv_write_all(fd, b.data, b.len));
        close(fd);
        vv_buf_release(&b);
    }
    memset(&vs, 0, sizeof(vs));
    CHECK_EQ(vv_point_verify(e.repo, id, &e.opts, &vs), VV_E_CORRUPT);
    CHECK_EQ(vs.chunks_bad, 1);
    CHECK_EQ(vs.chunks_missing, 0);
    CHECK_EQ(vs.chunks_checked, ndata);
    memset(&vs, 0, sizeof(vs));
    CHECK_EQ(vv_store_verify(e.repo, &e.opts, &vs), VV_E_CORRUPT);
    CHECK_EQ(vs.chunks_bad, 1);
    CHECK_EQ(vs.chunks_missing, 0);
    CHECK_EQ(vs.chunks_checked, ndata);
    /* restore refuses to write damaged data */
    file_path(&e, "damaged.out", out, sizeof(out));
    CHECK_EQ(restore(&e, &ix, out, NULL), VV_E_CHECKSUM);

    /* another chunk's valid file in its place: verify says bad as well */
    {
        char other[4500];
        struct vv_buf b;
        chunk_file_of(&e, &ix, 0, other, sizeof(other));
        read_all(other, &b);
        int fd = open(victim2, O_WRONLY | O_TRUNC);
        CHECK_OK(vv_write_all(fd, b.data, b.len));
        close(fd);
        vv_buf_release(&b);
        memset(&vs, 0, sizeof(vs));
        CHECK_EQ(vv_point_verify(e.repo, id, &e.opts, &vs), VV_E_CORRUPT);
        CHECK_EQ(vs.chunks_bad, 1);
        memset(&vs, 0, sizeof(vs));
        CHECK_EQ(vv_store_verify(e.repo, &e.opts, &vs), VV_E_CORRUPT);
        CHECK_EQ(vs.chunks_bad, 1);
    }

    /* a damaged index makes the point verify fail too */
    {
        char ipath[4500];
        struct vv_buf b;
        snprintf(ipath, sizeof(ipath), "%s/points/%s/vda.index", e.store, id);
        read_all(ipath, &b);
        b.data[b.len - 1] ^= 1;
        int fd = open(ipath, O_WRONLY | O_TRUNC);
        CHECK_OK(vv_write_all(fd, b.data, b.len));
        close(fd);
        vv_buf_release(&b);
        memset(&vs, 0, sizeof(vs));
        CHECK_EQ(vv_point_verify(e.repo, id, &e.opts, &vs), VV_E_CORRUPT);
    }
    vv_buf_release(&saved);
    vv_index_release(&ix);
    env_close(&e);
}

TEST(restore_refuses_non_empty_target)
{
    struct env e;
    char img[4400], out[4400];
    struct vv_index ix;
    struct vv_backup_stats st;
    struct vv_buf b;
    env_open(&e);
    file_path(&e, "disk.img", img, sizeof(img));
    file_path(&e, "precious.img", out, sizeof(out));
    new_image(img, 256 * KiB);
    write_region(img, 0, 100 * KiB, F_RANDOM);
    CHECK_OK(backup(&e, img, 4096, NULL, NULL, 0, &ix, &st));
    {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        CHECK_OK(vv_write_all(fd, "do not overwrite", 16));
        close(fd);
    }
    CHECK_EQ(restore(&e, &ix, out, NULL), VV_E_INVAL);
    read_all(out, &b);
    CHECK_EQ(b.len, 16);
    CHECK_MEM(b.data, "do not overwrite", 16);
    vv_buf_release(&b);
    /* a sparse file of the right size is not empty either */
    CHECK_OK(truncate(out, 0));
    CHECK_OK(truncate(out, 256 * KiB));
    CHECK_EQ(restore(&e, &ix, out, NULL), VV_E_INVAL);
    vv_index_release(&ix);
    env_close(&e);
}

TEST(cancel_flag_stops_every_operation)
{
    struct env e;
    char img[4400], out[4400];
    struct vv_index ix, none;
    struct vv_backup_stats st;
    struct vv_verify_stats vs;
    atomic_int cancel = 0;
    env_open(&e);
    file_path(&e, "disk.img", img, sizeof(img));
    file_path(&e, "out.img", out, sizeof(out));
    new_image(img, 1 * MiB);
    write_region(img, 0, 1 * MiB, F_RANDOM);
    CHECK_OK(backup(&e, img, 4096, NULL, NULL, 0, &ix, &st));
    commit(&e, "rp-c", NULL, &ix);

    e.opts.cancel = &cancel;
    atomic_store(&cancel, 1);
    memset(&none, 0x55, sizeof(none));
    CHECK_EQ(backup(&e, img, 4096, NULL, NULL, 0, &none, &st), VV_E_CANCELLED);
    CHECK(none.e == NULL); /* nothing handed back to free */
    CHECK_EQ(st.chunks_read, 0);
    CHECK_EQ(backup(&e, img, 4096, &ix, NULL, 0, &none, &st), VV_E_CANCELLED);
    CHECK_EQ(restore(&e, &ix, out, NULL), VV_E_CANCELLED);
    memset(&vs, 0, sizeof(vs));
    CHECK_EQ(vv_point_verify(e.repo, "rp-c", &e.opts, &vs), VV_E_CANCELLED);
    CHECK_EQ(vv_store_verify(e.repo, &e.opts, &vs), VV_E_CANCELLED);
    CHECK_EQ(vs.chunks_checked, 0);
    /* cleared: everything works again */
    atomic_store(&cancel, 0);
    CHECK_OK(vv_point_verify(e.repo, "rp-c", &e.opts, &vs));
    {
        struct vv_index again;
        CHECK_OK(backup(&e, img, 4096, NULL, NULL, 0, &again, &st));
        vv_index_release(&again);
    }
    vv_index_release(&ix);
    env_close(&e);
}

TEST(backup_rejects_bad_chunk_size_and_extents)
{
    struct env e;
    char img[4400];
    struct vv_index ix, out;
    struct vv_backup_stats st;
    struct vv_extent bad = {UINT64_MAX - 1, 5};
    env_open(&e);
    file_path(&e, "disk.img", img, sizeof(img));
    new_image(img, 64 * KiB);
    write_region(img, 0, 64 * KiB, F_RANDOM);
    CHECK_EQ(backup(&e, img, 1000, NULL, NULL, 0, &out, &st), VV_E_INVAL);
    CHECK_EQ(backup(&e, img, 2048, NULL, NULL, 0, &out, &st), VV_E_INVAL);
    CHECK_OK(backup(&e, img, 4096, NULL, NULL, 0, &ix, &st));
    CHECK_EQ(backup(&e, img, 4096, &ix, &bad, 1, &out, &st), VV_E_INVAL);
    vv_index_release(&ix);
    env_close(&e);
}

/* ---- changed-extents lists ---------------------------------------------------------- */

static int parse_ext(const char *text, struct vv_extent **x, size_t *n)
{
    return vv_extents_parse(text, strlen(text), x, n);
}

TEST(extents_parse_accepts_comments_blanks_suffixes)
{
    struct vv_extent *x = NULL;
    size_t n = 99;
    const char *text = "# changed since rp-1\n"
                       "\n"
                       "0 4096\n"
                       "   8K\t1M   # trailing comment\n"
                       "\t\n"
                       "1G 512\n"
                       "2MiB 3KB\n"
                       "16 0\r\n"
                       "1T 1";
    CHECK_OK(parse_ext(text, &x, &n));
    CHECK_EQ(n, 6);
    if (n == 6) {
        CHECK_EQ(x[0].off, 0);
        CHECK_EQ(x[0].len, 4096);
        CHECK_EQ(x[1].off, 8 * KiB);
        CHECK_EQ(x[1].len, 1 * MiB);
        CHECK_EQ(x[2].off, 1ull << 30);
        CHECK_EQ(x[2].len, 512);
        CHECK_EQ(x[3].off, 2 * MiB);
        CHECK_EQ(x[3].len, 3 * KiB);
        CHECK_EQ(x[4].off, 16);
        CHECK_EQ(x[4].len, 0);
        CHECK_EQ(x[5].off, 1ull << 40);
        CHECK_EQ(x[5].len, 1);
    }
    free(x);
    /* nothing at all, or only comments: no extents */
    CHECK_OK(parse_ext("", &x, &n));
    CHECK_EQ(n, 0);
    free(x);
    CHECK_OK(parse_ext("# nothing changed\n\n  \n", &x, &n));
    CHECK_EQ(n, 0);
    free(x);
    /* the length given is honoured, not the NUL */
    CHECK_OK(vv_extents_parse("0 1\n2 3\n", 4, &x, &n));
    CHECK_EQ(n, 1);
    free(x);
}

TEST(extents_parse_rejects_garbage)
{
    static const char *bad[] = {
        "abc\n",
        "0\n",
        "0 4096 8192\n",
        "-1 5\n",
        "5 -1\n",
        "1 2x\n",
        "0x10 5\n",
        "1.5 2\n",
        "4096 4096\n oops\n",
        "18446744073709551615 1\n",  /* end past 2^64 */
        "1 18446744073709551615\n",
        "99999999999999999999 1\n", /* does not fit */
        "17179869184G 1\n",          /* 2^64 with a suffix */
        "0 4096,\n",
        "0,4096\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct vv_extent *x = (struct vv_extent *)1;
        size_t n = 99;
        int r = parse_ext(bad[i], &x, &n);
        if (r != VV_E_INVAL)
            vv_test_fail(__FILE__, __LINE__, "'%s': %s", bad[i], vv_errname(r));
        CHECK(x == NULL);
        CHECK_EQ(n, 0);
        if (r == 0)
            free(x);
    }
    /* an over-long line */
    {
        char line[400];
        struct vv_extent *x;
        size_t n;
        memset(line, ' ', sizeof(line));
        memcpy(line + sizeof(line) - 8, "0 4096\n", 8);
        CHECK_EQ(parse_ext(line, &x, &n), VV_E_INVAL);
    }
    /* one long number alone on its line is one field, not two */
    {
        char line[200];
        struct vv_extent *x = NULL;
        size_t n = 0;
        memset(line, '0', 60);
        snprintf(line + 60, sizeof(line) - 60, "4096\n"); /* 64 characters */
        CHECK_EQ(parse_ext(line, &x, &n), VV_E_INVAL);
        CHECK(x == NULL);
        /* and with a length after it, it is that number */
        snprintf(line + 60, sizeof(line) - 60, "4096 512\n");
        CHECK_OK(parse_ext(line, &x, &n));
        CHECK_EQ(n, 1);
        if (n == 1) {
            CHECK_EQ(x[0].off, 4096);
            CHECK_EQ(x[0].len, 512);
        }
        free(x);
    }
    /* the largest extent that still ends inside 2^64 */
    {
        struct vv_extent *x;
        size_t n;
        CHECK_OK(parse_ext("18446744073709551614 1\n", &x, &n));
        CHECK_EQ(n, 1);
        free(x);
    }
}

/* The lookup pool: every task of a run runs exactly once, whichever thread calls and
 * whether or not the pool's threads are busy with another caller's run; a failing
 * task's code comes back. */
struct pool_count {
    atomic_int hits[200];
    atomic_int seen_codec;
    uint64_t fail_at; /* UINT64_MAX: none */
};

static int pool_task(void *ctx, struct vv_worker *w, uint64_t t)
{
    struct pool_count *pc = ctx;
    if (w->io.codec || w->idx != -1)
        atomic_fetch_add(&pc->seen_codec, 1);
    atomic_fetch_add(&pc->hits[t], 1);
    return t == pc->fail_at ? VV_E_IO : 0;
}

struct pool_caller {
    struct vv_pool *pool;
    int bad; /* runs whose tasks did not each run once */
};

static void *pool_caller_main(void *arg)
{
    struct pool_caller *pc = arg;
    for (int round = 0; round < 200; round++) {
        static struct pool_count zero_count;
        struct pool_count *cnt = malloc(sizeof(*cnt));
        uint64_t n = 1 + (uint64_t)round % 200;
        if (!cnt) {
            pc->bad++;
            continue;
        }
        memcpy(cnt, &zero_count, sizeof(*cnt));
        cnt->fail_at = UINT64_MAX;
        if (vv_pool_run(pc->pool, n, pool_task, cnt) != 0 || atomic_load(&cnt->seen_codec))
            pc->bad++;
        for (uint64_t i = 0; i < 200; i++)
            if (atomic_load(&cnt->hits[i]) != (i < n ? 1 : 0))
                pc->bad++;
        free(cnt);
    }
    return NULL;
}

TEST(pool_runs_each_task_once_from_many_callers)
{
    struct vv_pool *pool;
    struct pool_caller callers[4];
    pthread_t th[4];
    struct pool_count *cnt = calloc(1, sizeof(*cnt));

    CHECK(cnt != NULL);
    CHECK_OK(vv_pool_new(8, &pool));
    for (int i = 0; i < 4; i++) {
        callers[i] = (struct pool_caller){pool, 0};
        CHECK_OK(pthread_create(&th[i], NULL, pool_caller_main, &callers[i]));
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(callers[i].bad, 0);
    }
    /* a failure stops the run and is returned; tasks after it may not run */
    cnt->fail_at = 3;
    CHECK_EQ(vv_pool_run(pool, 200, pool_task, cnt), VV_E_IO);
    CHECK_EQ(atomic_load(&cnt->hits[3]), 1);
    /* nothing to do */
    CHECK_OK(vv_pool_run(pool, 0, pool_task, cnt));
    vv_pool_free(pool);
    vv_pool_free(NULL);
    free(cnt);
}

/* A fetcher with get_many, over the test's store: counts its calls and the largest
 * batch, and can be told to fail. */
struct many_fetch {
    struct vv_chunk_fetch base;
    struct vv_repo *repo;
    atomic_int calls, singles, largest;
    int fail; /* get_many fails with VV_E_IO */
    struct vv_chunk_io io[3][32]; /* per worker (3), per place (a batch is at most 32) */
};

static int many_get(struct vv_chunk_fetch *f, struct vv_worker *w,
                    const uint8_t id[VV_CHUNK_ID_LEN], const struct vv_buf **out)
{
    struct many_fetch *mf = (struct many_fetch *)(void *)f;
    atomic_fetch_add(&mf->singles, 1);
    *out = &w->io.dec;
    return vv_chunk_get(&mf->repo->chunks, &w->io, id);
}

static int many_get_many(struct vv_chunk_fetch *f, struct vv_worker *w,
                         const uint8_t *const *ids, size_t n, const struct vv_buf **out)
{
    struct many_fetch *mf = (struct many_fetch *)(void *)f;
    int r;
    atomic_fetch_add(&mf->calls, 1);
    for (int big = atomic_load(&mf->largest); (int)n > big;)
        if (atomic_compare_exchange_weak(&mf->largest, &big, (int)n))
            break;
    if (mf->fail || w->idx < 0 || w->idx >= 3 || n == 0 || n > 32)
        return VV_E_IO;
    for (size_t k = 0; k < n; k++) {
        struct vv_chunk_io *io = &mf->io[w->idx][k];
        if ((r = vv_chunk_get(&mf->repo->chunks, io, ids[k])) < 0)
            return r;
        out[k] = &io->dec;
    }
    return 0;
}

static const struct vv_chunk_fetch_ops many_ops = {many_get, many_get_many};

TEST(restore_in_batches_through_get_many)
{
    static struct many_fetch mf; /* large: not on the stack */
    struct env e;
    char img[4400], out[4400], out2[4400];
    struct vv_index ix;
    struct vv_backup_stats st;
    struct vv_restore_stats rs;
    struct vv_index_counts c;
    int fd;

    env_open(&e);
    e.opts.threads = 3;
    file_path(&e, "disk.img", img, sizeof(img));
    file_path(&e, "out.img", out, sizeof(out));
    file_path(&e, "out2.img", out2, sizeof(out2));
    vv_test_seed(7);
    standard_image(img);
    CHECK_OK(backup(&e, img, 16384, NULL, NULL, 0, &ix, &st));
    vv_index_count(&ix, &c);
    memset(&mf, 0, sizeof(mf));
    mf.base.ops = &many_ops;
    mf.repo = e.repo;
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 32; k++)
            CHECK_OK(vv_chunk_io_init(&mf.io[i][k], 1));

    fd = open(out, O_RDWR | O_CREAT, 0600);
    CHECK(fd >= 0);
    memset(&rs, 0, sizeof(rs));
    CHECK_OK(vv_disk_restore_from(&mf.base, 1, &ix, fd, &e.opts, &rs));
    close(fd);
    check_same_content(img, out);
    CHECK_EQ(rs.chunks_written, distinct_data(&ix));
    CHECK_EQ(rs.bytes_written, c.data_bytes);
    CHECK_EQ(atomic_load(&mf.singles), 0);
    /* batches of up to 32 chunks: fewer calls than chunks, none over the bound */
    CHECK(atomic_load(&mf.calls) > 0);
    CHECK(atomic_load(&mf.calls) < (int)distinct_data(&ix));
    CHECK(atomic_load(&mf.largest) > 1);
    CHECK(atomic_load(&mf.largest) <= 32);

    /* a failing batch fails the restore */
    mf.fail = 1;
    fd = open(out2, O_RDWR | O_CREAT, 0600);
    CHECK(fd >= 0);
    memset(&rs, 0, sizeof(rs));
    CHECK_EQ(vv_disk_restore_from(&mf.base, 1, &ix, fd, &e.opts, &rs), VV_E_IO);
    close(fd);

    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 32; k++)
            vv_chunk_io_release(&mf.io[i][k]);
    vv_index_release(&ix);
    env_close(&e);
}
