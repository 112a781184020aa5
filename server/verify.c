/*
 * verify.c: the Verify job (scheduler.h vv_verify_run), run by the worker: every
 * chunk the vault's points name is read, opened and re-hashed once. What fails is
 * moved aside, never deleted (DATA/quarantine/<UTC>/<vault uuid>/<chunk key>), so a
 * later read finds it missing rather than wrong, and the points that name it are
 * marked damaged (recovery_points.damaged): a replica's primary sends those again
 * (replica.c answers it which), a primary no longer replicates them.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "jobs.h"
#include "log.h"
#include "scheduler.h"
#include "store/chunkstore.h"
#include "store/repo.h"
#include "util.h"

static int id_cmp(const void *a, const void *b) { return memcmp(a, b, VV_CHUNK_ID_LEN); }

/* What a run found. Owned by vv_verify_run. */
struct vrun {
    struct vv_server *s;
    struct vv_repo *repo;
    const char *uuid;
    char stamp[32];
    json_t *points;         /* [{"name"}] of the vault */
    struct vv_buf ids;      /* every id the points name, sorted, distinct */
    struct vv_buf bad;      /* the ids that failed, sorted */
    uint64_t bytes, checked;
};

/* Move the stored object of id to the quarantine folder, then out of the store. */
static void quarantine(struct vrun *v, const uint8_t id[VV_CHUNK_ID_LEN])
{
    char key[VV_CHUNK_KEY_MAX], dir[VV_PATH_MAX], path[VV_PATH_MAX], hex[65];
    struct vv_buf raw = VV_BUF_INIT;
    int fd, r;

    vv_chunk_key(&v->repo->chunks, id, key);
    vv_hex_encode(id, VV_CHUNK_ID_LEN, hex);
    vv_buf_init(&raw, 64u << 20);
    if (vv_backend_get(v->repo->be, key, &raw) != 0) {
        vv_buf_release(&raw);
        return; /* missing: nothing to move */
    }
    r = vv_path_join(dir, sizeof(dir), "%s/quarantine/%s/%s/chunks", v->s->data_dir, v->stamp,
                     v->uuid);
    if (r == 0)
        r = vv_mkdir_p(dir, 0700);
    if (r == 0)
        r = vv_path_join(path, sizeof(path), "%s/%s", dir, hex);
    fd = r == 0 ? open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600) : -1;
    if (fd >= 0) {
        r = vv_write_all(fd, raw.data, raw.len);
        if (r == 0 && fsync(fd) != 0)
            r = VV_E_IO;
        close(fd);
    } else {
        r = VV_E_IO;
    }
    vv_buf_release(&raw);
    if (r == 0 && vv_backend_del(v->repo->be, key) == 0)
        vv_warn("verify: chunk %s of vault %s is damaged: moved aside to %s", hex, v->uuid, path);
    else
        vv_error("verify: chunk %s of vault %s is damaged and could not be moved aside; it "
                 "stays in the store",
                 hex, v->uuid);
}

/* Every id the vault's points name, sorted and distinct, into v->ids. */
static int collect_ids(struct vrun *v)
{
    json_t *x;
    size_t i, k, u = 0;
    int r = 0;

    json_array_foreach(v->points, i, x) {
        uint8_t(*ids)[VV_ENTRY_LEN] = NULL;
        size_t n = 0;
        r = vv_repo_point_ids(v->repo, json_string_value(json_object_get(x, "name")), &ids, &n);
        if (r == 0 && n)
            r = vv_buf_append(&v->ids, ids, n * VV_CHUNK_ID_LEN);
        free(ids);
        if (r == VV_E_NOTFOUND || r == VV_E_CORRUPT || r == VV_E_HASH || r == VV_E_AUTH)
            r = 0; /* that point's own index: reported by the point pass */
        if (r)
            return r;
    }
    k = v->ids.len / VV_CHUNK_ID_LEN;
    if (k)
        qsort(v->ids.data, k, VV_CHUNK_ID_LEN, id_cmp);
    for (i = 0; i < k; i++)
        if (!u || memcmp(v->ids.data + (u - 1) * VV_CHUNK_ID_LEN,
                         v->ids.data + i * VV_CHUNK_ID_LEN, VV_CHUNK_ID_LEN))
            memmove(v->ids.data + u++ * VV_CHUNK_ID_LEN, v->ids.data + i * VV_CHUNK_ID_LEN,
                    VV_CHUNK_ID_LEN);
    v->ids.len = u * VV_CHUNK_ID_LEN;
    return 0;
}

/* Read each id once; the failed ones into v->bad (moved aside). VV_E_CANCELLED. */
static int check_ids(struct vrun *v)
{
    struct vv_chunk_io io;
    size_t n = v->ids.len / VV_CHUNK_ID_LEN;
    int r = vv_chunk_io_init(&io, 3);

    if (r)
        return r;
    for (size_t i = 0; r == 0 && i < n; i++) {
        const uint8_t *id = v->ids.data + i * VV_CHUNK_ID_LEN;
        int g;
        if (atomic_load(&v->s->worker.cancel))
            r = VV_E_CANCELLED;
        else if ((g = vv_chunk_get(&v->repo->chunks, &io, id)) == 0) {
            v->bytes += io.dec.len;
            v->checked++;
        } else if (g == VV_E_NOMEM || g == VV_E_IO) {
            r = g;
        } else {
            quarantine(v, id);
            r = vv_buf_append(&v->bad, id, VV_CHUNK_ID_LEN);
        }
    }
    vv_chunk_io_release(&io);
    return r;
}

/* Mark each point damaged or whole; the damaged names into names. */
static void mark_points(struct vrun *v, json_t *names)
{
    size_t nbad = v->bad.len / VV_CHUNK_ID_LEN;
    json_t *x;
    size_t i;

    json_array_foreach(v->points, i, x) {
        const char *name = json_string_value(json_object_get(x, "name"));
        uint8_t(*ids)[VV_ENTRY_LEN] = NULL;
        size_t n = 0;
        int hit = vv_repo_point_ids(v->repo, name, &ids, &n) != 0;
        for (size_t k = 0; !hit && nbad && k < n; k++)
            hit = bsearch(ids[k], v->bad.data, nbad, VV_CHUNK_ID_LEN, id_cmp) != NULL;
        free(ids);
        vv_db_lock(v->s->db);
        vv_best_effort(vv_db_run(v->s->db,
                                 "UPDATE recovery_points SET damaged = CASE WHEN ? THEN "
                                 "COALESCE(damaged, ?) END WHERE vault_id = (SELECT id FROM "
                                 "vaults WHERE uuid = ?) AND name = ?",
                                 "iiss", (int64_t)hit, (int64_t)vv_server_now(v->s), v->uuid,
                                 name));
        vv_db_unlock(v->s->db);
        if (hit)
            json_array_append_new(names, json_string(name));
    }
}

static void verify_end(struct vrun *v, const char *job, int r, json_t *names)
{
    size_t nbad = v->bad.len / VV_CHUNK_ID_LEN;
    json_t *st = json_pack("{s:I,s:I,s:I,s:I,s:O}", "points",
                           (json_int_t)json_array_size(v->points), "chunks",
                           (json_int_t)v->checked, "bytes", (json_int_t)v->bytes, "damaged",
                           (json_int_t)nbad, "damagedPoints", names);
    char msg[6000], chunks[400] = "", *list = vv_json_dump(names);
    size_t off = 0;

    for (size_t i = 0; i < nbad && i < 4 && off < sizeof(chunks); i++) {
        char hex[2 * VV_CHUNK_ID_LEN + 1];
        vv_hex_encode(v->bad.data + i * VV_CHUNK_ID_LEN, VV_CHUNK_ID_LEN, hex);
        off += (size_t)snprintf(chunks + off, sizeof(chunks) - off, "%s%s", i ? ", " : "", hex);
    }

    if (r == VV_E_CANCELLED) {
        vv_worker_finish(v->s, job, "Cancelled", NULL, NULL, st);
    } else if (r) {
        snprintf(msg, sizeof(msg), "the verification stopped: %s", vv_strerror(r));
        vv_worker_finish(v->s, job, "Failed", "VerifyFailed", msg, st);
    } else if (json_array_size(names)) {
        snprintf(msg, sizeof(msg),
                 "%zu damaged chunk(s) (%s%s), moved aside to %s/quarantine/%s/; recovery "
                 "point(s) %.700s "
                 "cannot be restored whole until they are sent again (a replica's primary does "
                 "that by itself; on a primary, back up again)",
                 nbad, chunks, nbad > 4 ? ", ..." : "", v->s->data_dir, v->stamp,
                 list ? list : "");
        vv_worker_finish(v->s, job, "Failed", "RecoveryPointDamaged", msg, st);
    } else {
        vv_worker_finish(v->s, job, "Completed", NULL, NULL, st);
    }
    free(list);
    json_decref(st);
}

void vv_verify_run(struct vv_server *s, const char *job, int64_t vault_id, const char *uuid)
{
    struct vrun v = {.s = s, .uuid = uuid};
    json_t *names = json_array();
    int r = vv_server_repo(s, uuid, &v.repo);

    vv_time_format(vv_server_now(s), v.stamp, sizeof(v.stamp));
    vv_db_lock(s->db);
    v.points = vv_db_rows(s->db, "SELECT name FROM recovery_points WHERE vault_id = ? ORDER BY id",
                          "i", vault_id);
    vv_db_unlock(s->db);
    vv_buf_init(&v.ids, (size_t)1 << 40);
    vv_buf_init(&v.bad, (size_t)1 << 30);
    if (r == 0 && !v.points)
        r = VV_E_NOMEM;
    if (r == 0 && (r = collect_ids(&v)) == 0 && (r = check_ids(&v)) == 0)
        mark_points(&v, names);
    verify_end(&v, job, r, names);
    json_decref(names);
    json_decref(v.points);
    vv_buf_release(&v.ids);
    vv_buf_release(&v.bad);
}
