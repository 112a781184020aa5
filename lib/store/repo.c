/* repo.c: store identity and recovery points (see repo.h). */
#include "store/repo.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "format/envelope.h"
#include "err.h"
#include "json.h"
#include "log.h"
#include "util.h"

/* True when dir exists and holds no entry at all. */
static int folder_empty(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int empty = d != NULL;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            empty = 0;
    if (d)
        closedir(d);
    return empty;
}

static int check_config(struct vv_repo *repo, const char *dir, int create)
{
    struct vv_buf b;
    char hex[2 * VV_KEY_ID_LEN + 1], err[160];
    json_t *cfg;
    const char *kid;
    uint64_t fmt;
    int r;

    vv_hex_encode(repo->key.id, VV_KEY_ID_LEN, hex);
    vv_buf_init(&b, 65536);
    r = vv_backend_get(repo->be, "config", &b);
    if (r == VV_E_NOTFOUND && create) {
        char text[256], names[VV_CHUNK_FOLDERS + 1][16];
        const char *ptrs[VV_CHUNK_FOLDERS + 1];
        /* every chunk folder exists before the first chunk: no mkdir on the hot path */
        for (unsigned i = 0; i < VV_CHUNK_FOLDERS; i++) {
            snprintf(names[i], sizeof(names[i]), "chunks/%02x", i);
            ptrs[i] = names[i];
        }
        snprintf(names[VV_CHUNK_FOLDERS], sizeof(names[0]), "points");
        ptrs[VV_CHUNK_FOLDERS] = names[VV_CHUNK_FOLDERS];
        r = vv_backend_local_mkdirs(repo->be, ptrs, VV_CHUNK_FOLDERS + 1);
        if (r < 0) {
            vv_error("cannot create the folders of store %s", dir);
            vv_buf_release(&b);
            return r;
        }
        int n = snprintf(text, sizeof(text), "{\"format\":%d,\"keyId\":\"%s\"}\n",
                         VV_STORE_FORMAT, hex);
        vv_buf_release(&b);
        r = vv_backend_put(repo->be, "config", text, (size_t)n, 0);
        if (r == 1) /* created concurrently: check what is there */
            return check_config(repo, dir, 0);
        return r;
    }
    if (r == VV_E_NOTFOUND) {
        struct stat st;
        char path[VV_PATH_MAX];
        if (vv_path_join(path, sizeof(path), "%s/chunks", dir) != 0)
            return r;
        /* The folder is made first, then the chunk folders, then the config: a folder
         * with chunk folders, or still empty, is a creation cut short. */
        if ((stat(path, &st) == 0 && S_ISDIR(st.st_mode)) || folder_empty(dir))
            vv_error("%s: store creation was interrupted (no config yet); the next "
                     "backup into it completes it", dir);
        else
            vv_error("%s is not a vmvault store (no config)", dir);
        vv_buf_release(&b);
        return VV_E_NOTFOUND;
    }
    if (r < 0) {
        vv_buf_release(&b);
        return r;
    }
    cfg = vv_json_parse(b.data, b.len, err, sizeof(err));
    vv_buf_release(&b);
    r = VV_E_CORRUPT;
    if (!cfg || vv_json_get_u64(cfg, "format", 1, &fmt, err, sizeof(err)) < 0 ||
        vv_json_get_str(cfg, "keyId", 1, &kid, err, sizeof(err)) < 0) {
        vv_error("%s/config is damaged: %s", dir, err);
    } else if (fmt != VV_STORE_FORMAT && fmt != 1) {
        vv_error("%s: store format %llu is not supported by this build", dir,
                 (unsigned long long)fmt);
        r = VV_E_BAD_VERSION;
    } else if (strcmp(kid, hex) != 0) {
        vv_error("%s is sealed with vault key %s, not with the given key %s", dir, kid, hex);
        r = VV_E_WRONG_KEY;
    } else {
        /* format 1 differs only in its 4096 chunk folders of 3 hex digits */
        repo->chunks.folder_digits = fmt == 1 ? 3 : 2;
        r = 0;
    }
    json_decref(cfg);
    return r;
}

/* Recovery check of one object: whole when its envelope and CRC are intact. */
static int check_object(struct vv_backend *be, const char *key, void *arg)
{
    struct vv_buf b = VV_BUF_INIT;
    int r;
    (void)arg;
    b.limit = vv_envelope_bound(VV_MAX_CHUNK);
    r = vv_backend_get(be, key, &b);
    if (r == 0)
        r = vv_envelope_check(b.data, b.len, NULL);
    vv_buf_release(&b);
    return r == VV_E_NOMEM ? 0 : r;
}

int vv_repo_open(const char *dir, const char *key_path, int create, struct vv_repo **out)
{
    struct vv_repo *repo = calloc(1, sizeof(*repo));
    int r;

    *out = NULL;
    if (!repo)
        return VV_E_NOMEM;
    r = vv_key_load(key_path, &repo->key);
    if (r == VV_E_NOTFOUND)
        vv_error("vault key %s does not exist (create one with: vmvault debug keygen "
                 "--key-file %s)", key_path, key_path);
    if (r < 0)
        goto fail;
    repo->be = vv_backend_local_open(dir, create);
    if (!repo->be) {
        r = create ? VV_E_IO : VV_E_NOTFOUND;
        goto fail;
    }
    if ((r = check_config(repo, dir, create)) < 0)
        goto fail;
    if ((r = vv_backend_local_recover(repo->be, check_object, NULL)) < 0)
        goto fail;
    if (r > 0)
        vv_warn("%s: %d object(s) written just before a power loss were damaged and removed; "
                "no recovery point used them", dir, r);
    repo->chunks.be = repo->be; /* folder_digits: set by check_config */
    repo->chunks.key = &repo->key;
    repo->level = VV_CODEC_DEFAULT_LEVEL;
    *out = repo;
    return 0;
fail:
    vv_repo_close(repo);
    return r;
}

void vv_repo_close(struct vv_repo *repo)
{
    if (!repo)
        return;
    vv_backend_free(repo->be);
    vv_key_clear(&repo->key);
    free(repo);
}

static void index_key(const char *id, const char *disk, char *out, size_t n)
{
    snprintf(out, n, "points/%s/%s.index", id, disk);
}

static void manifest_key(const char *id, char *out, size_t n)
{
    snprintf(out, n, "points/%s/manifest", id);
}

/* Seal and store one object of the given type. */
static int put_sealed(struct vv_repo *repo, enum vv_obj_type type, const char *key,
                      const void *plain, size_t n)
{
    struct vv_codec *codec = vv_codec_new(repo->level);
    struct vv_buf enc = VV_BUF_INIT;
    int r;
    if (!codec)
        return VV_E_NOMEM;
    r = vv_envelope_encode(codec, type, plain, n, &repo->key, &enc);
    if (r == 0)
        r = vv_backend_put(repo->be, key, enc.data, enc.len, 0);
    vv_buf_release(&enc);
    vv_codec_free(codec);
    return r == 1 ? VV_E_EXISTS : r;
}

/* Fetch and open one object of the given type. */
static int get_sealed(struct vv_repo *repo, enum vv_obj_type type, const char *key,
                      size_t max_plain, struct vv_buf *plain)
{
    struct vv_codec *codec = vv_codec_new(repo->level);
    struct vv_buf enc;
    int r;
    if (!codec)
        return VV_E_NOMEM;
    vv_buf_init(&enc, vv_envelope_bound(max_plain));
    r = vv_backend_get(repo->be, key, &enc);
    if (r == 0)
        r = vv_envelope_decode(codec, type, enc.data, enc.len, &repo->key, max_plain, plain);
    vv_buf_release(&enc);
    vv_codec_free(codec);
    return r;
}

int vv_repo_point_commit(struct vv_repo *repo, struct vv_manifest *m,
                         const struct vv_index *indexes)
{
    char key[256];
    struct vv_buf ser = VV_BUF_INIT;
    char *text;
    int r = 0;

    if (!vv_point_id_valid(m->id) || m->ndisks == 0)
        return VV_E_INVAL;
    /* the chunks the indexes name were stored with VV_PUT_DEFER: durable first */
    if ((r = vv_backend_sync(repo->be)) < 0)
        return r;
    manifest_key(m->id, key, sizeof(key));
    if ((r = vv_backend_has(repo->be, key)) != 0)
        return r > 0 ? VV_E_EXISTS : r;
    for (size_t i = 0; i < m->ndisks; i++) {
        struct vv_manifest_disk *d = &m->disks[i];
        struct vv_index_counts c;
        if ((r = vv_index_serialize(&indexes[i], &ser)) < 0)
            goto out;
        if ((r = vv_sha256(ser.data, ser.len, d->index_sha256)) < 0)
            goto out;
        vv_index_count(&indexes[i], &c);
        d->virtual_size = indexes[i].virtual_size;
        d->chunk_size = indexes[i].chunk_size;
        d->data_chunks = c.data;
        d->zero_chunks = c.zero;
        d->hole_chunks = c.hole;
        index_key(m->id, d->name, key, sizeof(key));
        if ((r = put_sealed(repo, VV_OBJ_INDEX, key, ser.data, ser.len)) < 0) {
            vv_error("point %s: cannot store index of disk %s: %s", m->id, d->name,
                     vv_strerror(r));
            goto out;
        }
    }
    if (!(text = vv_manifest_serialize(m))) {
        r = VV_E_NOMEM;
        goto out;
    }
    manifest_key(m->id, key, sizeof(key));
    r = put_sealed(repo, VV_OBJ_MANIFEST, key, text, strlen(text));
    free(text);
    if (r < 0)
        vv_error("point %s: cannot store manifest: %s", m->id, vv_strerror(r));
out:
    vv_buf_release(&ser);
    /* Nothing partial stays: the indexes written, a manifest whose folder could not be
     * flushed, the point's folder. The id is new (the manifest was absent), so all of
     * it is this commit's. */
    if (r < 0 && vv_repo_point_purge(repo, m->id) < 0)
        vv_warn("point %s: the remains of the failed commit stay in the store until the "
                "next start removes them", m->id);
    return r;
}

int vv_repo_point_load(struct vv_repo *repo, const char *id, struct vv_manifest *m)
{
    char key[256], err[256];
    struct vv_buf plain = VV_BUF_INIT;
    int r;

    vv_manifest_init(m);
    if (!vv_point_id_valid(id))
        return VV_E_INVAL;
    manifest_key(id, key, sizeof(key));
    r = get_sealed(repo, VV_OBJ_MANIFEST, key, VV_MAX_MANIFEST, &plain);
    if (r == 0) {
        r = vv_manifest_parse(plain.data, plain.len, m, err, sizeof(err));
        if (r < 0)
            vv_error("point %s: manifest is invalid: %s", id, err);
        else if (strcmp(m->id, id) != 0) {
            vv_error("point %s: manifest names another point (%s)", id, m->id);
            vv_manifest_release(m);
            r = VV_E_CORRUPT;
        }
    } else if (r != VV_E_NOTFOUND) {
        vv_error("point %s: cannot read manifest: %s", id, vv_strerror(r));
    }
    vv_buf_release(&plain);
    return r;
}

int vv_repo_index_load(struct vv_repo *repo, const struct vv_manifest *m,
                       const struct vv_manifest_disk *d, struct vv_index *out)
{
    char key[256];
    struct vv_buf plain = VV_BUF_INIT;
    uint8_t h[VV_SHA256_LEN];
    int r;

    memset(out, 0, sizeof(*out));
    index_key(m->id, d->name, key, sizeof(key));
    r = get_sealed(repo, VV_OBJ_INDEX, key, VV_MAX_INDEX, &plain);
    if (r < 0) {
        vv_error("point %s disk %s: cannot read index: %s", m->id, d->name, vv_strerror(r));
        goto out;
    }
    if ((r = vv_sha256(plain.data, plain.len, h)) < 0)
        goto out;
    if (memcmp(h, d->index_sha256, VV_SHA256_LEN) != 0) {
        vv_error("point %s disk %s: index does not match the manifest's checksum", m->id,
                 d->name);
        r = VV_E_HASH;
        goto out;
    }
    if ((r = vv_index_parse(plain.data, plain.len, out)) < 0) {
        vv_error("point %s disk %s: index is invalid: %s", m->id, d->name, vv_strerror(r));
        goto out;
    }
    if (out->virtual_size != d->virtual_size || out->chunk_size != d->chunk_size) {
        vv_error("point %s disk %s: index shape disagrees with the manifest", m->id, d->name);
        vv_index_release(out);
        r = VV_E_CORRUPT;
    }
out:
    vv_buf_release(&plain);
    return r;
}

struct list_ctx {
    int (*cb)(const char *id, void *arg);
    void *arg;
};

static int list_one(const char *key, void *arg)
{
    struct list_ctx *c = arg;
    char id[VV_POINT_ID_MAX];
    const char *p = key + strlen("points/"), *slash = strchr(p, '/');
    size_t n;
    if (!slash || strcmp(slash, "/manifest") != 0)
        return 0;
    n = (size_t)(slash - p);
    if (n >= sizeof(id))
        return 0;
    memcpy(id, p, n);
    id[n] = '\0';
    return vv_point_id_valid(id) ? c->cb(id, c->arg) : 0;
}

int vv_repo_point_list(struct vv_repo *repo, int (*cb)(const char *id, void *arg), void *arg)
{
    struct list_ctx c = {cb, arg};
    return vv_backend_list(repo->be, "points", list_one, &c);
}

static int delete_one(const char *key, void *arg)
{
    struct vv_repo *repo = arg;
    int r = vv_backend_del(repo->be, key);
    return r == VV_E_NOTFOUND ? 0 : r;
}

int vv_repo_point_delete(struct vv_repo *repo, const char *id)
{
    char key[256];
    int r;
    if (!vv_point_id_valid(id))
        return VV_E_INVAL;
    manifest_key(id, key, sizeof(key));
    if ((r = vv_backend_del(repo->be, key)) < 0)
        return r;
    snprintf(key, sizeof(key), "points/%s", id);
    if ((r = vv_backend_list(repo->be, key, delete_one, repo)) != 0)
        return r;
    return vv_backend_rmdir(repo->be, key);
}

int vv_repo_point_purge(struct vv_repo *repo, const char *id)
{
    char key[256];
    int r;
    if (!vv_point_id_valid(id))
        return VV_E_INVAL;
    manifest_key(id, key, sizeof(key));
    if ((r = vv_backend_del(repo->be, key)) < 0 && r != VV_E_NOTFOUND)
        return r;
    snprintf(key, sizeof(key), "points/%s", id);
    if ((r = vv_backend_list(repo->be, key, delete_one, repo)) != 0)
        return r;
    return vv_backend_rmdir(repo->be, key);
}

struct list_all_ctx {
    int (*cb)(const char *id, void *arg);
    void *arg;
    char last[VV_POINT_ID_MAX];
};

static int list_all_one(const char *key, void *arg)
{
    struct list_all_ctx *c = arg;
    char id[VV_POINT_ID_MAX];
    const char *p = key + strlen("points/"), *slash = strchr(p, '/');
    size_t n;
    if (!slash)
        return 0;
    n = (size_t)(slash - p);
    if (n >= sizeof(id))
        return 0;
    memcpy(id, p, n);
    id[n] = '\0';
    if (!vv_point_id_valid(id) || !strcmp(id, c->last))
        return 0;
    snprintf(c->last, sizeof(c->last), "%s", id);
    return c->cb(id, c->arg);
}

int vv_repo_point_list_all(struct vv_repo *repo, int (*cb)(const char *id, void *arg), void *arg)
{
    struct list_all_ctx c = {cb, arg, ""};
    return vv_backend_list(repo->be, "points", list_all_one, &c);
}

int vv_repo_meta_put(struct vv_repo *repo, const char *text, size_t n)
{
    int r = vv_backend_put(repo->be, "vault.json", text, n, VV_PUT_REPLACE);
    return r > 0 ? 0 : r;
}

int vv_repo_meta_read(struct vv_backend *be, struct vv_buf *out)
{
    out->limit = VV_REPO_META_MAX;
    return vv_backend_get(be, "vault.json", out);
}

int vv_repo_meta_get(struct vv_repo *repo, struct vv_buf *out)
{
    return vv_repo_meta_read(repo->be, out);
}

static int ids_cmp(const void *a, const void *b) { return memcmp(a, b, VV_ENTRY_LEN); }

int vv_repo_point_ids(struct vv_repo *repo, const char *id, uint8_t (**out)[VV_ENTRY_LEN],
                     size_t *n)
{
    struct vv_manifest pm;
    struct vv_buf acc = VV_BUF_INIT;
    size_t k = 0, u = 0, ndisks;
    int r = vv_repo_point_load(repo, id, &pm);

    ndisks = pm.ndisks;
    for (size_t d = 0; r == 0 && d < ndisks; d++) {
        struct vv_index ix;
        uint8_t(*ids)[VV_ENTRY_LEN] = NULL;
        if ((r = vv_repo_index_load(repo, &pm, &pm.disks[d], &ix)) != 0)
            break;
        if ((r = vv_index_ids(&ix, &ids, &k)) == 0)
            r = vv_buf_append(&acc, ids, k * VV_ENTRY_LEN);
        free(ids);
        vv_index_release(&ix);
    }
    vv_manifest_release(&pm);
    k = acc.len / VV_ENTRY_LEN;
    if (r == 0 && ndisks > 1 && k) { /* one sorted list per disk: merge them */
        qsort(acc.data, k, VV_ENTRY_LEN, ids_cmp);
        for (size_t i = 0; i < k; i++)
            if (u == 0 || memcmp(acc.data + (u - 1) * VV_ENTRY_LEN, acc.data + i * VV_ENTRY_LEN,
                                 VV_ENTRY_LEN))
                memmove(acc.data + u++ * VV_ENTRY_LEN, acc.data + i * VV_ENTRY_LEN, VV_ENTRY_LEN);
        k = u;
    }
    if (r) {
        vv_buf_release(&acc);
        k = 0;
    }
    *n = k;
    *out = k ? (uint8_t(*)[VV_ENTRY_LEN])(void *)vv_buf_detach(&acc, NULL) : NULL;
    vv_buf_release(&acc);
    return r;
}
