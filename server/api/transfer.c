/*
 * transfer.c: how an agent's backup reaches the store: which chunks the vault lacks,
 * chunk uploads (decompressed, re-hashed, refused when the bytes do not match the
 * id, then sealed and stored with the agent's compressed frame as the payload, not
 * compressed again; durable at the latest when a point that uses them commits), disk
 * indexes staged per job, and the commit of a recovery point.
 *
 * Commit order, the heart of crash safety: every referenced chunk is checked
 * present, then the store writes the indexes and the manifest last, then the catalog
 * row is committed. A crash before the catalog commit leaves a store point the
 * catalog does not list, which the next start removes; the agent never got a 201, so
 * no one believes the point exists. A recovery point is whole or absent.
 *
 * These handlers lock the catalog only around catalog work: uploads and hashing run
 * in parallel on every connection's thread.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "format/chunkrec.h"
#include "codec.h"
#include "crypto.h"
#include "engine/parallel.h"
#include "err.h"
#include "format/index.h"
#include "jobs.h"
#include "log.h"
#include "format/manifest.h"
#include "replicator.h"
#include "scheduler.h"
#include "store/chunkstore.h"
#include "store/gc.h"
#include "store/repo.h"
#include "uploads.h"
#include "util.h"

#define MAX_IDS 10000
#define MAX_MISSING_LISTED 100

/* Per-thread working set: a chunk io (codec, buffers) and the decompressed upload. */
struct tls {
    struct vv_chunk_io io;
    struct vv_buf plain;
};

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_free(void *p)
{
    struct tls *t = p;
    vv_chunk_io_release(&t->io);
    vv_buf_release(&t->plain);
    free(t);
}

static void tls_init(void) { pthread_key_create(&tls_key, tls_free); }

static struct tls *thread_tls(void)
{
    struct tls *t;
    pthread_once(&tls_once, tls_init);
    t = pthread_getspecific(tls_key);
    if (t)
        return t;
    t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    if (vv_chunk_io_init(&t->io, VV_CODEC_DEFAULT_LEVEL) != 0) {
        free(t);
        return NULL;
    }
    vv_buf_init(&t->plain, VV_CHUNK_SIZE_MAX);
    pthread_setspecific(tls_key, t);
    return t;
}

static int parse_id(const char *hex, uint8_t id[VV_CHUNK_ID_LEN])
{
    if (strlen(hex) != 2 * VV_CHUNK_ID_LEN)
        return VV_E_INVAL;
    for (const char *p = hex; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return VV_E_INVAL;
    return vv_hex_decode(hex, id, VV_CHUNK_ID_LEN);
}

static int agent_repo(struct vv_call *c, struct vv_repo **repo)
{
    int r = vv_server_repo(c->srv, c->who.vault_uuid, repo);
    if (r)
        vv_reply_internal(c, r);
    return r ? -1 : 0;
}

/* The pin session of an upload request: the running Backup job's that the request
 * names (?job=), or one for the request alone, released when it ends. */

/* The store and the chunk guard of the agent's vault, and the guard session key of
 * job (never NULL: checked by the caller). 0, or -1 after replying. */
static int agent_guard(struct vv_call *c, const char *job, struct vv_repo **repo,
                       struct vv_chunk_guard **guard, char key[VV_GUARD_KEY_MAX])
{
    int r;
    vv_guard_key(c->who.container_id, job, key);
    r = vv_server_repo_guard(c->srv, c->who.vault_uuid, repo, guard);
    if (r)
        vv_reply_internal(c, r);
    return r ? -1 : 0;
}

/* The job a request names (?job=) must be a job of the caller's host that is claimed
 * and running, of the operation op. Takes the lock. 0, or -1 after replying. */
static int named_job(struct vv_call *c, const char *job, const char *op, const char *why)
{
    char have[32], status[32];
    int64_t item_id;
    int r;

    if (!vv_uuid_valid(job)) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "job '%.60s' is not a job id; name the running %s job %s", job, op, why);
        return -1;
    }
    vv_db_lock(c->srv->db);
    r = vv_agent_job_id(c, job, have, status, &item_id);
    vv_db_unlock(c->srv->db);
    if (r)
        return -1;
    if (strcmp(have, op) != 0) {
        vv_reply_error(c, 409, "WrongJobKind", "job %s is a %s job; only a running %s job %s",
                       job, have, op, why);
        return -1;
    }
    return 0;
}

/* Open the pin session of an upload request (see struct vv_pin_session). 0, or -1 after
 * replying. */
static int pin_session_open(struct vv_call *c, struct vv_pin_session *ps)
{
    static atomic_uint_fast64_t next;
    char own[32];

    ps->job = vv_http_query(c->req, "job");
    if (ps->job && named_job(c, ps->job, "Backup", "pins chunks (?job=)"))
        return -1;
    if (!ps->job)
        snprintf(own, sizeof(own), "-%llu", (unsigned long long)atomic_fetch_add(&next, 1));
    return agent_guard(c, ps->job ? ps->job : own, &ps->repo, &ps->guard, ps->key);
}

/* The request is done: its own session lets its pins go. A job's stays, unless the
 * job ended while the request pinned (its end released the session before these pins
 * came): checked under the catalog lock, which the end of a job holds too. */
static void pin_session_close(struct vv_call *c, struct vv_pin_session *ps)
{
    int64_t running = 1;

    if (!ps->guard || ps->keep)
        return;
    if (!ps->job) {
        vv_guard_release(ps->guard, ps->key);
        return;
    }
    vv_db_lock(c->srv->db);
    if (vv_db_int(c->srv->db, &running,
                  "SELECT COUNT(*) FROM jobs WHERE id = ? AND status IN "
                  "('InProgress','Cancelling')",
                  "s", ps->job) >= 0 &&
        !running) {
        vv_guard_release(ps->guard, ps->key);
        vv_pins_forget(ps->key);
    }
    vv_db_unlock(c->srv->db);
}

/* Count n more pins of the session against the job's limit. 0, or -1 after replying
 * 429 PinLimitReached (where says what was done before). */
static int pin_session_take(struct vv_call *c, struct vv_pin_session *ps, uint64_t n,
                            const char *where)
{
    uint64_t have = 0;
    int r;

    if (!ps->job)
        return 0; /* one request's pins, released when it ends */
    if ((r = vv_pins_take(ps->key, n, &have)) == 0)
        return 0;
    if (r != VV_E_TOOBIG) {
        vv_reply_internal(c, r);
        return -1;
    }
    vv_warn("job %s of host '%s' reached its limit of %llu pinned chunk ids", ps->job,
            c->who.container, (unsigned long long)vv_pin_limit());
    vv_reply_error(c, 429, "PinLimitReached",
                   "job %s has pinned %llu chunk ids and may pin at most %llu (vmvaultd's "
                   "--job-pin-limit)%s; a disk that needs more needs a higher limit",
                   ps->job, (unsigned long long)have, (unsigned long long)vv_pin_limit(), where);
    return -1;
}

/* Each id pinned for the job and looked up in the store, on the server's lookup
 * threads: the lookups of a "missing" question also warm the folders its uploads
 * then write to. */
struct lookup_run {
    struct vv_repo *repo;
    struct vv_chunk_guard *guard;
    const char *key;
    uint8_t (*ids)[VV_ENTRY_LEN];
    uint8_t *absent; /* per id, set by the lookups */
    /* sorted ids known present (the parent point's): pinned, not looked up */
    uint8_t (*known)[VV_ENTRY_LEN];
    size_t nknown;
};

static int id_cmp(const void *a, const void *b) { return memcmp(a, b, VV_ENTRY_LEN); }

static int lookup_one(void *ctx, struct vv_worker *w, uint64_t i)
{
    struct lookup_run *lr = ctx;
    int r;
    (void)w;
    if (lr->nknown && bsearch(lr->ids[i], lr->known, lr->nknown, VV_ENTRY_LEN, id_cmp))
        return vv_guard_pin(lr->guard, lr->key, lr->ids[i]);
    r = vv_guard_has(lr->guard, lr->key, &lr->repo->chunks, lr->ids[i]);
    if (r == 0)
        lr->absent[i] = 1;
    return r < 0 ? r : 0;
}

/* Fill lr->absent (n bytes, zeroed by the caller) for lr->ids[0, n). 0 or vv_err. */
static int lookup_ids(struct vv_server *s, struct lookup_run *lr, size_t n)
{
    struct vv_pool *pool = vv_server_lookup_pool(s);
    struct vv_worker w = {.idx = -1};
    int r = 0;

    if (pool)
        return vv_pool_run(pool, n, lookup_one, lr);
    for (size_t i = 0; i < n && r == 0; i++)
        r = lookup_one(lr, &w, i);
    return r;
}

/* The body's "ids": an array of min to max chunk ids in hex, every one checked.
 * Borrowed from c->body; NULL after replying 400. */
static json_t *body_ids(struct vv_call *c, size_t min, size_t max)
{
    static const char *const fields[] = {"ids", NULL};
    json_t *ids, *v;
    size_t i;

    if (vv_body_only(c, c->body, NULL, fields))
        return NULL;
    ids = json_object_get(c->body, "ids");
    if (!json_is_array(ids) || json_array_size(ids) < min || json_array_size(ids) > max) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "field 'ids' must be an array of %zu to %zu chunk ids", min, max);
        return NULL;
    }
    json_array_foreach(ids, i, v) {
        uint8_t id[VV_CHUNK_ID_LEN];
        if (!json_is_string(v) || parse_id(json_string_value(v), id) != 0) {
            vv_reply_error(c, 400, "InvalidParameter",
                           "ids[%zu] is not a chunk id (64 lower-case hex digits)", i);
            return NULL;
        }
    }
    return ids;
}

static void chunks_missing(struct vv_call *c, struct vv_pin_session *ps, json_t *ids)
{
    json_t *v, *missing;
    struct lookup_run lr;
    size_t i, n;
    int r = 0;

    n = json_array_size(ids);
    if (pin_session_take(c, ps, n, ""))
        return;
    lr = (struct lookup_run){ps->repo, ps->guard, ps->key, calloc(n ? n : 1, VV_CHUNK_ID_LEN),
                             calloc(n ? n : 1, 1), NULL, 0};
    if (!lr.ids || !lr.absent)
        r = VV_E_NOMEM;
    json_array_foreach(ids, i, v) {
        if (r == 0)
            parse_id(json_string_value(v), lr.ids[i]);
    }
    if (r == 0)
        r = lookup_ids(c->srv, &lr, n);
    missing = json_array();
    json_array_foreach(ids, i, v) {
        if (r == 0 && lr.absent[i])
            json_array_append(missing, v);
    }
    free(lr.ids);
    free(lr.absent);
    if (r < 0) {
        json_decref(missing);
        vv_reply_internal(c, r);
        return;
    }
    vv_reply(c, 200, json_pack("{s:o}", "missing", missing));
}

void vv_api_chunks_missing(struct vv_call *c)
{
    struct vv_pin_session ps = {0};
    json_t *ids;

    if (!(ids = body_ids(c, 0, MAX_IDS)) || pin_session_open(c, &ps))
        return;
    chunks_missing(c, &ps, ids);
    pin_session_close(c, &ps);
}

/* Why a chunk was refused: the HTTP status, code and message of the reply. */
struct refusal {
    int status;
    const char *code;
    char msg[400];
};

/* take_chunk's answer for a chunk it refuses (the others: 0 stored, 1 present). */
#define REFUSED 2
/* An upload that was answered before its chunk was looked at. */
#define REPLIED_PUT 3

/* Check one uploaded chunk (decompressed when zstd, re-hashed against id) and store
 * it through the guard for the job's session key. 0 stored, 1 already present,
 * REFUSED (why in *why, nothing stored), or <0 vv_err. who names the sender in logs. */
static int take_chunk(struct tls *t, struct vv_repo *repo, struct vv_chunk_guard *guard,
                      const char *key, const char *who, const uint8_t id[VV_CHUNK_ID_LEN],
                      enum vv_rec_enc enc, const uint8_t *data, size_t n, struct refusal *why)
{
    uint8_t got[VV_SHA256_LEN];
    char got_hex[2 * VV_SHA256_LEN + 1], id_hex[2 * VV_CHUNK_ID_LEN + 1];
    const uint8_t *z = NULL;
    size_t zn = 0;
    int r;

    if (n == 0) {
        *why = (struct refusal){400, "InvalidParameter", "the chunk is empty"};
        return REFUSED;
    }
    if (enc == VV_REC_ZSTD) {
        size_t plain = 0;
        z = data;
        zn = n;
        if (vv_codec_frame_size(data, n, &plain) != 0 || plain == 0 || plain > VV_CHUNK_SIZE_MAX) {
            *why = (struct refusal){
                400, "InvalidParameter",
                "the chunk is not one zstd frame declaring a size of 1 byte to 16 MiB"};
            return REFUSED;
        }
        if ((r = vv_buf_resize(&t->plain, plain)) != 0)
            return r;
        if (vv_codec_decompress(t->io.codec, data, n, t->plain.data, plain) != 0) {
            *why = (struct refusal){400, "InvalidParameter", "the zstd frame does not decompress"};
            return REFUSED;
        }
        data = t->plain.data;
        n = plain;
    } else if (n > VV_CHUNK_SIZE_MAX) {
        *why = (struct refusal){413, "RequestTooLarge", "a chunk is at most 16 MiB"};
        return REFUSED;
    } else if (enc == VV_REC_IDENTITY) {
        z = data;
        zn = n;
    }
    if (vv_sha256(data, n, got) != 0)
        memset(got, 0, sizeof(got));
    if (memcmp(got, id, sizeof(got)) != 0) {
        vv_hex_encode(got, sizeof(got), got_hex);
        vv_hex_encode(id, VV_CHUNK_ID_LEN, id_hex);
        vv_warn("chunk upload from host '%s' refused: content hashes to %s, not %s", who,
                got_hex, id_hex);
        why->status = 400;
        why->code = "ChunkHashMismatch";
        snprintf(why->msg, sizeof(why->msg),
                 "the chunk's SHA-256 is %s, not its id %s; it was not stored", got_hex, id_hex);
        return REFUSED;
    }
    return vv_guard_put(guard, key, &repo->chunks, &t->io, id, data, n, z, zn, NULL);
}

void vv_api_chunk_put(struct vv_call *c)
{
    const char *enc = vv_http_header(c->req, "Content-Encoding");
    uint8_t id[VV_CHUNK_ID_LEN];
    enum vv_rec_enc how = VV_REC_RAW;
    struct vv_pin_session ps = {0};
    struct refusal why;
    struct tls *t;
    int r;

    if (parse_id(c->param[0], id) != 0) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "'%s' is not a chunk id (64 lower-case hex digits)", c->param[0]);
        return;
    }
    if (enc && !strcmp(enc, "zstd")) {
        how = VV_REC_ZSTD;
    } else if (enc && !strcmp(enc, "identity")) {
        /* an agent sends uncompressed only what does not compress: stored as it is */
        how = VV_REC_IDENTITY;
    } else if (enc) {
        vv_reply_error(c, 415, "UnsupportedMediaType",
                       "Content-Encoding '%s' is not supported: send raw bytes or zstd", enc);
        return;
    }
    if (c->req->body_len == 0) {
        vv_reply_error(c, 400, "InvalidParameter", "the chunk is empty");
        return;
    }
    if (!(t = thread_tls())) {
        vv_reply_internal(c, VV_E_NOMEM);
        return;
    }
    if (pin_session_open(c, &ps))
        return;
    r = pin_session_take(c, &ps, 1, "") ? REPLIED_PUT
                                         : take_chunk(t, ps.repo, ps.guard, ps.key,
                                                      c->who.container, id, how, c->req->body,
                                                      c->req->body_len, &why);
    pin_session_close(c, &ps);
    if (r == REPLIED_PUT)
        return;
    if (r == REFUSED) {
        vv_reply_error(c, why.status, why.code, "%s", why.msg);
        return;
    }
    if (r == VV_E_NOSPC) {
        vv_reply_storage_full(c, vv_http_query(c->req, "job"));
        return;
    }
    if (r < 0) {
        vv_reply_internal(c, r);
        return;
    }
    vv_reply(c, 201, json_pack("{s:s,s:b}", "id", c->param[0], "stored", r == 0));
}

/* A batch upload: the records of chunkrec.h. */
#define BATCH_MAX_RECORDS 1024

static int chunks_put(struct vv_call *c, struct vv_pin_session *ps, struct tls *t,
                      uint64_t *stored_bytes, uint64_t *stored_count)
{
    const uint8_t *p = c->req->body, *end = p + c->req->body_len;
    char id_hex[2 * VV_CHUNK_ID_LEN + 1], where[80];
    struct refusal why;
    struct vv_rec rec;
    size_t nrec = 0, stored = 0, present = 0;
    int r;

    for (; p < end; nrec++, p += VV_REC_HEAD + rec.len) {
        if (nrec == BATCH_MAX_RECORDS) {
            vv_reply_error(c, 400, "InvalidParameter",
                           "a batch holds at most %d chunks; the first %zu were stored",
                           BATCH_MAX_RECORDS, nrec);
            return -1;
        }
        r = vv_rec_read(p, (size_t)(end - p), &rec);
        if (r == VV_E_TRUNCATED) {
            vv_reply_error(c, 400, "InvalidParameter",
                           "record %zu is cut short (%zu bytes, a record head is %d); the "
                           "first %zu were stored",
                           nrec, (size_t)(end - p), VV_REC_HEAD, nrec);
            return -1;
        }
        vv_hex_encode(rec.id, VV_CHUNK_ID_LEN, id_hex);
        if (rec.enc > VV_REC_IDENTITY) {
            vv_reply_error(c, 400, "InvalidParameter",
                           "record %zu (chunk %s): encoding %u is not 0 (raw), 1 (zstd) or 2 "
                           "(identity); the first %zu were stored",
                           nrec, id_hex, rec.enc, nrec);
            return -1;
        }
        if (r < 0) {
            vv_reply_error(c, 400, "InvalidParameter",
                           "record %zu (chunk %s) declares %u bytes but %zu follow; the first "
                           "%zu were stored",
                           nrec, id_hex, rec.len, (size_t)(end - p) - VV_REC_HEAD, nrec);
            return -1;
        }
        snprintf(where, sizeof(where), " (record %zu; the first %zu were stored)", nrec, nrec);
        if (pin_session_take(c, ps, 1, where))
            return -1;
        r = take_chunk(t, ps->repo, ps->guard, ps->key, c->who.container, rec.id,
                       (enum vv_rec_enc)rec.enc, rec.payload, rec.len, &why);
        if (r == REFUSED) {
            vv_reply_error(c, why.status, why.code,
                           "record %zu (chunk %s): %s; the first %zu were stored", nrec, id_hex,
                           why.msg, nrec);
            return -1;
        }
        if (r == VV_E_NOSPC) {
            vv_reply_storage_full(c, ps->job);
            return -1;
        }
        if (r < 0) {
            vv_reply_internal(c, r);
            return -1;
        }
        if (r == 0) {
            stored++;
            *stored_bytes += rec.len;
            (*stored_count)++;
        }
        else
            present++;
    }
    vv_reply(c, 200, json_pack("{s:I,s:I}", "stored", (json_int_t)stored, "present",
                               (json_int_t)present));
    return 0;
}

void vv_api_chunks_put(struct vv_call *c)
{
    struct vv_pin_session ps = {0};
    uint64_t bytes = 0, count = 0;
    struct tls *t;

    if (!(t = thread_tls())) {
        vv_reply_internal(c, VV_E_NOMEM);
        return;
    }
    if (c->req->body_len == 0) {
        vv_reply_error(c, 400, "InvalidParameter", "the batch holds no chunk");
        return;
    }
    if (pin_session_open(c, &ps))
        return;
    vv_best_effort(chunks_put(c, &ps, t, &bytes, &count));
    pin_session_close(c, &ps);
}

int vv_transfer_put(struct vv_call *c, struct vv_pin_session *ps, uint64_t *stored_bytes,
                    uint64_t *stored_count)
{
    struct tls *t = thread_tls();

    if (!t) {
        vv_reply_internal(c, VV_E_NOMEM);
        return -1;
    }
    if (c->req->body_len == 0) {
        vv_reply_error(c, 400, "InvalidParameter", "the batch holds no chunk");
        return -1;
    }
    return chunks_put(c, ps, t, stored_bytes, stored_count);
}

void vv_transfer_missing(struct vv_call *c, struct vv_pin_session *ps)
{
    json_t *ids = body_ids(c, 0, MAX_IDS);
    if (ids)
        chunks_missing(c, ps, ids);
}

/* The running Backup job in param[0], this agent's. Takes the lock. 0, or -1 after
 * replying. */
static int backup_job(struct vv_call *c, int64_t *item_id)
{
    char op[32], status[32];
    int r;

    vv_db_lock(c->srv->db);
    r = vv_agent_job(c, op, status, item_id);
    vv_db_unlock(c->srv->db);
    if (r)
        return -1;
    if (strcmp(op, "Backup") != 0) {
        vv_reply_error(c, 409, "InvalidParameter", "job %s is a %s job, not a Backup", c->param[0],
                       op);
        return -1;
    }
    if (strcmp(status, "InProgress") != 0) {
        vv_reply_error(c, 409, "JobCancelRequested",
                       "job %s is being cancelled; stop and complete it as Cancelled", c->param[0]);
        return -1;
    }
    return 0;
}

/* Where the index of a job's disk is staged. 0 or VV_E_TOOBIG (logged). */
static int staged_path(struct vv_call *c, const char *job, const char *disk, char *out,
                       size_t outlen)
{
    char dir[VV_PATH_MAX];
    int r = vv_server_vault_path(c->srv, c->who.vault_uuid, "staging", dir, sizeof(dir));

    if (r == 0 && vv_path_join(out, outlen, "%s/%s/%s.index", dir, job, disk) != 0)
        r = vv_fail(VV_E_TOOBIG, "the staged index of disk %s of job %s: path too long", disk,
                    job);
    return r;
}

/* How many indexes are staged in dir (a job's staging folder); 0 when it does not
 * exist yet. */
static size_t staged_count(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)))
        if (strlen(e->d_name) > 6 && !strcmp(e->d_name + strlen(e->d_name) - 6, ".index"))
            n++;
    closedir(d);
    return n;
}

/* close(*fd) and mark it closed, whatever close says: a descriptor is closed once. */
static int close_once(int *fd)
{
    int r = close(*fd);
    *fd = -1;
    return r;
}

void vv_api_index_put(struct vv_call *c)
{
    char path[VV_PATH_MAX], tmp[VV_PATH_MAX], dir[VV_PATH_MAX];
    struct vv_index ix;
    struct vv_index_counts cnt;
    int64_t item_id;
    int fd, r;

    if (backup_job(c, &item_id))
        return;
    if (!vv_disk_name_valid(c->param[1])) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "'%s' is not a disk name (lower-case letters, digits, '.', '_', '-')",
                       c->param[1]);
        return;
    }
    r = c->req->body ? vv_index_parse(c->req->body, c->req->body_len, &ix) : VV_E_CORRUPT;
    if (r != 0) {
        vv_reply_error(c, 400, "InvalidIndex",
                       "the body is not a disk index in its serialized form (docs/format.md): %s",
                       vv_strerror(r));
        return;
    }
    vv_index_count(&ix, &cnt);
    vv_index_release(&ix);
    if ((r = staged_path(c, c->param[0], c->param[1], path, sizeof(path))) != 0 ||
        (r = vv_path_join(tmp, sizeof(tmp), "%s.tmp", path)) != 0) {
        vv_reply_internal(c, r);
        return;
    }
    snprintf(dir, sizeof(dir), "%s", path);
    *strrchr(dir, '/') = 0;
    if (access(path, F_OK) != 0 && staged_count(dir) >= VV_MAX_DISKS) {
        vv_reply_error(c, 409, "TooManyDisks",
                       "job %s has staged indexes for %d disks, the most a recovery point "
                       "holds; upload only the disks the point has",
                       c->param[0], VV_MAX_DISKS);
        return;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        int e = errno;
        vv_error("cannot create %s: %s", dir, strerror(e));
        if (e == ENOSPC || e == EDQUOT)
            vv_reply_storage_full(c, c->param[0]);
        else
            vv_reply_internal(c, VV_E_IO);
        return;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || vv_write_all(fd, c->req->body, c->req->body_len) != 0 || fsync(fd) != 0 ||
        close_once(&fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        vv_error("cannot write %s: %s", path, strerror(e));
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        if (e == ENOSPC || e == EDQUOT)
            vv_reply_storage_full(c, c->param[0]);
        else
            vv_reply_internal(c, VV_E_IO);
        return;
    }
    vv_reply(c, 201, json_pack("{s:s,s:I,s:I,s:I,s:I}", "disk", c->param[1], "chunks",
                               (json_int_t)(cnt.data + cnt.zero + cnt.hole), "dataChunks",
                               (json_int_t)cnt.data, "zeroChunks", (json_int_t)cnt.zero,
                               "holeChunks", (json_int_t)cnt.hole));
}

/* Every data chunk of ix present in the store? Adds up to MAX_MISSING_LISTED missing
 * ids to missing and counts them all. */
/* Pin every chunk of ix for the job and count (and list the first of) those the vault
 * lacks. Chunks in known (sorted) are taken as present. */
static int check_chunks(struct vv_server *srv, struct vv_repo *repo, struct vv_chunk_guard *guard, const char *key,
                        const struct vv_index *ix, uint8_t (*known)[VV_ENTRY_LEN],
                        size_t nknown,
                        json_t *missing, uint64_t *nmissing)
{
    struct lookup_run lr = {repo, guard, key, NULL, NULL, known, nknown};
    size_t n = 0;
    int r = vv_index_ids(ix, &lr.ids, &n);

    if (r == 0 && n && !(lr.absent = calloc(n, 1)))
        r = VV_E_NOMEM;
    if (r == 0)
        r = lookup_ids(srv, &lr, n);
    for (size_t i = 0; r == 0 && i < n; i++) {
        if (!lr.absent[i])
            continue;
        if (json_array_size(missing) < MAX_MISSING_LISTED) {
            char hex[2 * VV_CHUNK_ID_LEN + 1];
            vv_hex_encode(lr.ids[i], VV_CHUNK_ID_LEN, hex);
            json_array_append_new(missing, json_string(hex));
        }
        (*nmissing)++;
    }
    free(lr.absent);
    free(lr.ids);
    return r;
}

/* A commit's body, checked. Strings are borrowed from c->body; NULL when not given. */
struct commit_req {
    const char *parent, *vm_name, *vm_uuid, *xml;
    enum vv_consistency consistency;
    json_t *disks; /* 1 to VV_MAX_DISKS entries, each checked while staging */
};

/* What the catalog says about the job and its item. */
struct commit_facts {
    int64_t item_id, retain, scheduled_for;
    char done_rp[80], item_uuid[80], item_name[80], kind[16];
    int parent_found; /* 1 also when the body names no parent */
};

/* A commit under way: the session that pins its chunks, the indexes staged for it,
 * the chunks found missing and the point being built. Owned by the handler. */
struct commit_run {
    struct vv_repo *repo;
    struct vv_chunk_guard *guard;
    char key[VV_GUARD_KEY_MAX];
    struct vv_manifest m;
    struct vv_index *ixs;
    size_t nix;
    uint8_t (*known)[VV_ENTRY_LEN]; /* the parent's chunk ids, sorted */
    size_t nknown;
    json_t *missing; /* the first MAX_MISSING_LISTED missing ids, in hex */
    uint64_t nmissing;
    json_t *disks_j;
    char *disks_text;
};

/* A step's answer when it has replied itself (the others: 0, or <0 vv_err). */
#define REPLIED 1

static void commit_run_release(struct commit_run *cr)
{
    for (size_t i = 0; i < cr->nix; i++)
        vv_index_release(&cr->ixs[i]);
    free(cr->ixs);
    free(cr->known);
    free(cr->disks_text);
    json_decref(cr->disks_j);
    json_decref(cr->missing);
    vv_manifest_release(&cr->m);
}

/* Remove a point the catalog will not list; a failure only delays that to the next
 * start. */
static void purge_point(struct vv_repo *repo, const char *id)
{
    if (vv_repo_point_purge(repo, id) != 0)
        vv_warn("point %s: left in the store; the next start removes it", id);
}

/* Parse and check the body. 0, or -1 after replying 400. */
static int commit_parse(struct vv_call *c, struct commit_req *q)
{
    static const char *const fields[] = {"consistency", "parent", "vmName", "vmUuid", "domainXml",
                                         "disks", NULL};
    const char *cons;

    if (vv_body_only(c, c->body, NULL, fields) ||
        vv_body_str(c, c->body, "consistency", 1, &cons) ||
        vv_body_str(c, c->body, "parent", 0, &q->parent) ||
        vv_body_str(c, c->body, "vmName", 0, &q->vm_name) ||
        vv_body_str(c, c->body, "vmUuid", 0, &q->vm_uuid) ||
        vv_body_str(c, c->body, "domainXml", 0, &q->xml))
        return -1;
    if (vv_consistency_parse(cons, &q->consistency) != 0) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "consistency must be CrashConsistent, FileSystemConsistent or "
                       "ApplicationConsistent, not '%s'",
                       cons);
        return -1;
    }
    if (q->xml && strlen(q->xml) > 4u << 20) {
        vv_reply_error(c, 400, "InvalidParameter", "domainXml is larger than 4 MiB");
        return -1;
    }
    q->disks = json_object_get(c->body, "disks");
    if (!json_is_array(q->disks) || json_array_size(q->disks) < 1 ||
        json_array_size(q->disks) > VV_MAX_DISKS) {
        vv_reply_error(c, 400, "InvalidParameter", "field 'disks' must list 1 to %d disks",
                       VV_MAX_DISKS);
        return -1;
    }
    return 0;
}

/* The job's facts (f->item_id set by the caller) in one catalog query. Takes the
 * lock. 0, or <0 vv_err. */
static int commit_facts_read(struct vv_call *c, const char *parent, struct commit_facts *f)
{
    struct vv_stmt *st;
    int r;

    vv_db_lock(c->srv->db);
    r = vv_db_prepare(
        c->srv->db, &st,
        "SELECT COALESCE(j.recovery_point, ''), COALESCE(j.retain_until, 0), "
        "  CASE WHEN json_extract(j.params, '$.trigger') = 'Scheduled' "
        "    THEN 'Scheduled' ELSE 'OnDemand' END, "
        "  COALESCE(unixepoch(json_extract(j.params, '$.scheduledFor')), 0), "
        "  i.vm_uuid, i.name, "
        "  ?3 = '' OR EXISTS (SELECT 1 FROM recovery_points WHERE name = ?3 AND item_id = ?2) "
        "FROM (SELECT 1) LEFT JOIN jobs j ON j.id = ?1 LEFT JOIN protected_items i ON i.id = ?2",
        "sis", c->param[0], f->item_id, parent ? parent : "");
    if (r < 0) {
        vv_db_unlock(c->srv->db);
        return r;
    }
    if ((r = vv_stmt_step(st)) == 1) {
        snprintf(f->done_rp, sizeof(f->done_rp), "%s", vv_stmt_text(st, 0));
        f->retain = vv_stmt_int(st, 1);
        snprintf(f->kind, sizeof(f->kind), "%s", vv_stmt_text(st, 2));
        f->scheduled_for = vv_stmt_int(st, 3);
        snprintf(f->item_uuid, sizeof(f->item_uuid), "%s", vv_stmt_text(st, 4));
        snprintf(f->item_name, sizeof(f->item_name), "%s", vv_stmt_text(st, 5));
        f->parent_found = vv_stmt_int(st, 6) != 0;
        r = 0;
    }
    vv_stmt_free(st);
    vv_db_unlock(c->srv->db);
    return r;
}

/* Load the job's facts and check the body against them. 0, or -1 after replying. */
static int commit_facts_load(struct vv_call *c, const struct commit_req *q,
                             struct commit_facts *f)
{
    int r = commit_facts_read(c, q->parent, f);

    if (r < 0) {
        vv_reply_internal(c, r);
        return -1;
    }
    if (f->done_rp[0]) {
        vv_reply_error(c, 409, "JobAlreadyCommitted", "job %s already committed recovery point %s",
                       c->param[0], f->done_rp);
        return -1;
    }
    if (!f->item_uuid[0]) {
        vv_reply_error(c, 409, "ItemNotProtected", "job %s has no protected item any more",
                       c->param[0]);
        return -1;
    }
    if (q->vm_uuid && strcmp(q->vm_uuid, f->item_uuid) != 0) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "vmUuid %s is not the UUID of the job's VM (%s)", q->vm_uuid, f->item_uuid);
        return -1;
    }
    if (!f->parent_found) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "parent '%s' is not a recovery point of this item", q->parent);
        return -1;
    }
    return 0;
}

/* Stage disks[i]: add it to the point, read its uploaded index and pin and look up
 * every chunk it names. 0, REPLIED, or <0 vv_err. */
static int stage_disk(struct vv_call *c, struct commit_run *cr, json_t *d, size_t i)
{
    static const char *const dfields[] = {"name", "source", NULL};
    const char *dn, *src = NULL;
    char where[32], path[VV_PATH_MAX];
    struct vv_buf b;
    struct vv_manifest_disk *md;
    int r;

    snprintf(where, sizeof(where), "disks[%zu]", i);
    if (!json_is_object(d)) {
        vv_reply_error(c, 400, "InvalidParameter", "%s must be an object", where);
        return REPLIED;
    }
    if (vv_body_only(c, d, where, dfields) || vv_body_str(c, d, "name", 1, &dn) ||
        vv_body_str(c, d, "source", 0, &src))
        return REPLIED;
    if (src && strlen(src) > 4096) {
        vv_reply_error(c, 400, "InvalidParameter", "%s.source is longer than 4096", where);
        return REPLIED;
    }
    r = vv_manifest_add_disk(&cr->m, dn, src, &md);
    if (r == VV_E_INVAL || r == VV_E_EXISTS) {
        vv_reply_error(c, 400, "InvalidParameter", "%s.name '%s' is %s", where, dn,
                       r == VV_E_EXISTS ? "listed twice" : "not a disk name");
        return REPLIED;
    }
    if (r || (r = staged_path(c, c->param[0], dn, path, sizeof(path))) != 0)
        return r;
    vv_buf_init(&b, (128u << 20) + 64);
    r = vv_read_file(path, &b);
    if (r == VV_E_NOTFOUND) {
        vv_buf_release(&b);
        vv_reply_error(c, 409, "MissingIndex",
                       "no index was uploaded for disk '%s' of job %s (PUT .../disks/%s/index)",
                       dn, c->param[0], dn);
        return REPLIED;
    }
    if (r == 0)
        r = vv_index_parse(b.data, b.len, &cr->ixs[cr->nix]);
    vv_buf_release(&b);
    if (r)
        return r;
    md->virtual_size = cr->ixs[cr->nix].virtual_size;
    md->chunk_size = cr->ixs[cr->nix].chunk_size;
    cr->nix++;
    return check_chunks(c->srv, cr->repo, cr->guard, cr->key, &cr->ixs[cr->nix - 1], cr->known,
                        cr->nknown, cr->missing, &cr->nmissing);
}

/* Stage every disk and check that every chunk they name is in the vault. 0, REPLIED
 * (409 MissingChunks among others), or <0 vv_err. */
static int commit_stage(struct vv_call *c, const struct commit_req *q, struct commit_run *cr)
{
    json_t *d;
    size_t i;
    int r = 0;

    cr->ixs = calloc(json_array_size(q->disks), sizeof(*cr->ixs));
    cr->missing = json_array();
    if (!cr->ixs || !cr->missing)
        return VV_E_NOMEM;
    /* An incremental names mostly chunks its parent names, and those are in the vault
     * while the parent exists (its commit checked them; collection keeps what a point
     * names): they are pinned without a lookup, and the parent is looked for again
     * once they are pinned. A parent that cannot be read gives no shortcut. */
    if (q->parent && *q->parent &&
        vv_repo_point_ids(cr->repo, q->parent, &cr->known, &cr->nknown) != 0)
        vv_warn("commit of job %s: parent %s cannot be read; every chunk is looked up",
                c->param[0], q->parent);
    json_array_foreach(q->disks, i, d) {
        if ((r = stage_disk(c, cr, d, i)) != 0)
            return r;
    }
    if (cr->nknown) {
        struct vv_manifest pm;
        int gone = vv_repo_point_load(cr->repo, q->parent, &pm) != 0;
        vv_manifest_release(&pm);
        if (gone) { /* deleted meanwhile: look every chunk up */
            json_array_clear(cr->missing);
            cr->nmissing = 0;
        }
        for (size_t k = 0; gone && k < cr->nix && r == 0; k++)
            r = check_chunks(c->srv, cr->repo, cr->guard, cr->key, &cr->ixs[k], NULL, 0,
                             cr->missing, &cr->nmissing);
        if (r)
            return r;
    }
    if (cr->nmissing) {
        json_t *err = json_pack("{s:{s:s,s:s,s:I,s:O}}", "error", "code", "MissingChunks",
                                "message",
                                "the indexes reference chunks the vault does not have; upload "
                                "them, then commit again. Nothing was committed",
                                "missingCount", (json_int_t)cr->nmissing, "missing", cr->missing);
        vv_warn("commit of job %s refused: %llu referenced chunk(s) missing", c->param[0],
                (unsigned long long)cr->nmissing);
        vv_reply(c, 409, err);
        return REPLIED;
    }
    return 0;
}

/* Build the point and write it to the store: indexes, then the manifest. 0, or <0
 * vv_err with nothing left in the store that a commit wrote. */
static int commit_write(struct vv_server *s, const struct commit_req *q,
                        const struct commit_facts *f, struct commit_run *cr)
{
    struct vv_manifest *m = &cr->m;
    uint64_t now_ms = vv_server_now_ms(s); /* one reading: the id and the created time */
    int r;

    m->created = (time_t)(now_ms / 1000);
    if ((r = vv_point_id_new(now_ms, m->id)) != 0)
        return r;
    snprintf(m->parent, sizeof(m->parent), "%s", q->parent ? q->parent : "");
    m->consistency = q->consistency;
    m->expires = (time_t)f->retain; /* as asked at commit; the catalog's expiry is the truth */
    m->vm_name = strdup(q->vm_name ? q->vm_name : f->item_name);
    m->vm_uuid = strdup(f->item_uuid);
    m->domain_xml = q->xml ? strdup(q->xml) : NULL;
    if (!m->vm_name || !m->vm_uuid || (q->xml && !m->domain_xml))
        return VV_E_NOMEM;
    if ((r = vv_repo_point_commit(cr->repo, m, cr->ixs)) != 0)
        return r;
    cr->disks_j = vv_manifest_disks_json(m);
    cr->disks_text = vv_json_dump(cr->disks_j);
    if (!cr->disks_text) {
        purge_point(cr->repo, m->id);
        return VV_E_NOMEM;
    }
    return 0;
}

/* The catalog's side of the commit, in one transaction: the job names the point, the
 * point's row, its expiry, the item protected. Takes the lock. 0, VV_E_EXISTS when
 * another commit of the job won or it was cancelled, or <0 vv_err; the point's
 * expiry and the vault's name in *expires and vault_name. */
static int commit_catalog(struct vv_call *c, const struct commit_facts *f,
                          const struct vv_manifest *m, const char *disks_text, int64_t *expires,
                          char *vault_name, size_t vault_name_len)
{
    int64_t item_id = f->item_id;
    int r;

    vv_db_lock(c->srv->db);
    r = vv_db_begin(c->srv->db);
    if (r == 0 && (r = vv_job_set_recovery_point(c->srv->db, c->param[0], m->id)) == 0)
        r = VV_E_EXISTS; /* another commit of this job won, or the job was cancelled */
    if (r >= 0)
        r = vv_db_run(c->srv->db,
                      "INSERT INTO recovery_points(name, vault_id, item_id, time, expires, "
                      "consistency, parent, disks, job_id, kind, retain_until, scheduled_for, "
                      "committed) "
                      "VALUES (?,?,?,?,NULLIF(?, 0),?,?,?,?,?,NULLIF(?, 0),NULLIF(?, 0),?)",
                      "siiiisssssiii", m->id, c->who.vault_id, item_id, (int64_t)m->created,
                      (int64_t)m->expires, vv_consistency_name(m->consistency), m->parent,
                      disks_text, c->param[0], f->kind, (int64_t)m->expires, f->scheduled_for,
                      (int64_t)c->now);
    if (r >= 0)
        r = vv_retention_refresh(c->srv, item_id);
    if (r >= 0)
        r = vv_db_int(c->srv->db, expires,
                      "SELECT COALESCE(expires, 0) FROM recovery_points WHERE name = ?", "s",
                      m->id);
    if (r >= 0)
        r = vv_db_run(c->srv->db,
                      "UPDATE protected_items SET state = 'Protected' WHERE id = ? AND state = 'IRPending'",
                      "i", item_id);
    if (r >= 0)
        r = vv_db_commit(c->srv->db);
    if (r < 0)
        vv_db_rollback(c->srv->db);
    vv_best_effort(vv_db_text(c->srv->db, vault_name, vault_name_len,
                              "SELECT name FROM vaults WHERE id = ?", "i", c->who.vault_id));
    vv_db_unlock(c->srv->db);
    return r < 0 ? r : 0;
}

/* 201 with the committed point. */
static void commit_reply(struct vv_call *c, const struct commit_facts *f,
                         const struct commit_run *cr, int64_t expires, const char *vault_name)
{
    const struct vv_manifest *m = &cr->m;
    char tstr[32], estr[32];

    vv_time_format_or_empty(m->created, tstr);
    vv_time_format_or_empty((time_t)expires, estr);
    vv_reply(c, 201,
             json_pack("{s:s,s:s,s:s,s:s,s:s?,s:s,s:s,s:O,s:s}", "name", m->id, "item",
                       f->item_name, "vault", vault_name, "time", tstr, "expiresAt",
                       expires ? estr : NULL, "consistency", vv_consistency_name(m->consistency),
                       "parent", m->parent, "disks", cr->disks_j, "job", c->param[0]));
}

/* POST .../commit: parse the body, read the job's facts, stage and check every disk,
 * write the point to the store, record it in the catalog, reply (the order of the
 * comment at the top of this file). */
void vv_api_point_commit(struct vv_call *c)
{
    struct commit_req q = {0};
    struct commit_facts f = {0};
    struct commit_run cr = {0};
    char vault_name[80] = "";
    int64_t expires = 0;
    int r;

    if (backup_job(c, &f.item_id) || commit_parse(c, &q) || commit_facts_load(c, &q, &f))
        return;
    vv_manifest_init(&cr.m);
    if (agent_guard(c, c->param[0], &cr.repo, &cr.guard, cr.key))
        r = REPLIED;
    else if ((r = commit_stage(c, &q, &cr)) == 0 && (r = commit_write(c->srv, &q, &f, &cr)) == 0 &&
             (r = commit_catalog(c, &f, &cr.m, cr.disks_text, &expires, vault_name,
                                 sizeof(vault_name))) != 0) {
        purge_point(cr.repo, cr.m.id);
        if (r == VV_E_EXISTS) {
            vv_reply_error(c, 409, "JobAlreadyCommitted",
                           "job %s already committed a recovery point or was cancelled",
                           c->param[0]);
            r = REPLIED;
        }
    }
    if (r == VV_E_NOSPC) {
        vv_reply_storage_full(c, c->param[0]);
    } else if (r < 0) {
        vv_reply_internal(c, r);
    } else if (r == 0) {
        vv_staging_remove(c->srv, c->who.vault_uuid, c->param[0]);
        vv_guard_release(cr.guard, cr.key);
        vv_pins_forget(cr.key);
        vv_info("recovery point %s of '%s' committed (%s, %zu disk(s)) by host '%s'", cr.m.id,
                f.item_name, vv_consistency_name(cr.m.consistency), cr.m.ndisks,
                c->who.container);
        commit_reply(c, &f, &cr, expires, vault_name);
        vv_replicator_wake(c->srv); /* a GeoRedundant vault's point leaves at once */
    }
    commit_run_release(&cr);
}

/* ---- restores: what an agent reads back ------------------------------------------ */

/* The recovery point a running Restore job of this agent restores: 0 with its
 * manifest loaded (release with vv_manifest_release) and the repo; -1 after replying. */
static int restore_point(struct vv_call *c, struct vv_repo **repo, struct vv_manifest *m)
{
    char op[32], status[32], rp[VV_POINT_ID_MAX] = "";
    int64_t item_id;
    json_t *row;
    int r, err;

    vv_manifest_init(m);
    vv_db_lock(c->srv->db);
    r = vv_agent_job(c, op, status, &item_id);
    row = r ? NULL
            : vv_db_row(c->srv->db, &err, "SELECT params AS \"p:json\" FROM jobs WHERE id = ?",
                        "s", c->param[0]);
    vv_db_unlock(c->srv->db);
    if (r)
        return -1;
    if (strcmp(op, "Restore") != 0) {
        json_decref(row);
        vv_reply_error(c, 409, "InvalidParameter", "job %s is a %s job, not a Restore",
                       c->param[0], op);
        return -1;
    }
    snprintf(rp, sizeof(rp), "%s",
             json_string_value(json_object_get(json_object_get(row, "p"), "recoveryPoint"))
                 ? json_string_value(json_object_get(json_object_get(row, "p"), "recoveryPoint"))
                 : "");
    json_decref(row);
    if (agent_repo(c, repo))
        return -1;
    r = vv_repo_point_load(*repo, rp, m);
    if (r) {
        if (r == VV_E_NOTFOUND)
            vv_reply_error(c, 404, "RecoveryPointNotFound",
                           "recovery point %s is not in the vault any more", rp);
        else
            vv_reply_error(c, 500, "RecoveryPointDamaged",
                           "recovery point %s cannot be read: %s; run 'vmvaultd check'", rp,
                           vv_strerror(r));
        vv_manifest_release(m);
        return -1;
    }
    return 0;
}

void vv_api_point_manifest(struct vv_call *c)
{
    struct vv_manifest m;
    struct vv_repo *repo;
    char tstr[32];
    json_t *disks;

    if (restore_point(c, &repo, &m))
        return;
    disks = vv_manifest_disks_json(&m);
    vv_time_format_or_empty(m.created, tstr);
    vv_reply(c, 200,
             json_pack("{s:s,s:s,s:s,s:s,s:s?,s:s?,s:s?,s:o}", "name", m.id, "time", tstr,
                       "consistency", vv_consistency_name(m.consistency), "parent", m.parent,
                       "vmName", m.vm_name, "vmUuid", m.vm_uuid, "domainXml", m.domain_xml,
                       "disks", disks));
    vv_manifest_release(&m);
}

void vv_api_index_get(struct vv_call *c)
{
    struct vv_manifest m;
    struct vv_repo *repo;
    const struct vv_manifest_disk *d;
    struct vv_index ix;
    struct vv_buf b = VV_BUF_INIT;
    int r;

    if (restore_point(c, &repo, &m))
        return;
    if (!(d = vv_manifest_find_disk(&m, c->param[1]))) {
        vv_reply_error(c, 404, "InvalidParameter", "recovery point %s has no disk '%s'", m.id,
                       c->param[1]);
        vv_manifest_release(&m);
        return;
    }
    r = vv_repo_index_load(repo, &m, d, &ix);
    if (r == 0) {
        r = vv_index_serialize(&ix, &b);
        vv_index_release(&ix);
    }
    vv_manifest_release(&m);
    if (r) {
        vv_buf_release(&b);
        vv_reply_error(c, 500, "RecoveryPointDamaged",
                       "the index of disk %s cannot be read: %s; run 'vmvaultd check'",
                       c->param[1], vv_strerror(r));
        return;
    }
    free(c->resp->body);
    c->resp->status = 200;
    c->resp->content_type = "application/octet-stream";
    c->resp->body = (char *)vv_buf_detach(&b, &c->resp->body_len);
}

/* POST /agent/chunks/fetch: several chunks' stored payloads in one answer, read on
 * the lookup threads (a restore's chunks are rarely in the cache: their reads
 * overlap instead of queueing), sent as the records of a batch upload. Each payload
 * is opened straight into its own buffer and sent from there: no copy joins them. */
#define FETCH_MAX_IDS 256
#define FETCH_MAX_BYTES (64u << 20)

struct fetch_slot {
    uint8_t id[VV_CHUNK_ID_LEN];
    uint8_t head[VV_REC_HEAD];
    struct vv_buf data; /* the stored payload */
    int zstd, r, read;  /* read: data holds it */
};

/* One answer's chunks; owned by the handler, then by the response (fetch_free). */
struct fetch_run {
    struct vv_repo *repo;
    size_t n;
    struct fetch_slot *s;        /* n slots */
    struct vv_http_iov *iov;     /* 2n pieces: head and payload of each slot */
    atomic_uint_fast64_t bytes; /* payload bytes read so far */
};

/* The chunk ids recovery point point of repo names, for a read set (uploads.h). */
struct point_of {
    struct vv_repo *repo;
    const char *point;
};

static int load_point_ids(void *arg, uint8_t (**ids)[32], size_t *n)
{
    struct point_of *po = arg;
    return vv_repo_point_ids(po->repo, po->point, ids, n);
}

/* A chunk read names the running Restore job of the caller it is for (?job=), and
 * each of the n ids it reads must be a chunk of the point that job restores. 0 and
 * the vault's store in *repo, or -1 after replying. */
static int read_job(struct vv_call *c, const uint8_t (*ids)[VV_CHUNK_ID_LEN], size_t n,
                    struct vv_repo **repo)
{
    const char *job = vv_http_query(c->req, "job");
    char rp[VV_POINT_ID_MAX] = "", hex[2 * VV_CHUNK_ID_LEN + 1];
    struct point_of po;
    size_t which = 0;
    int r;

    if (!job) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "a chunk read names the running Restore job it is for: add ?job=ID "
                       "(an agent older than the vault does not: upgrade it)");
        return -1;
    }
    if (named_job(c, job, "Restore", "reads chunks"))
        return -1;
    vv_db_lock(c->srv->db);
    r = vv_db_text(c->srv->db, rp, sizeof(rp),
                   "SELECT COALESCE(json_extract(params, '$.recoveryPoint'), '') FROM jobs "
                   "WHERE id = ?",
                   "s", job);
    vv_db_unlock(c->srv->db);
    if (r < 0) {
        vv_reply_internal(c, r);
        return -1;
    }
    if (agent_repo(c, repo))
        return -1;
    po = (struct point_of){*repo, rp};
    r = vv_read_set_has(job, rp, load_point_ids, &po, ids, n, &which);
    if (r == 1)
        return 0;
    if (r == VV_E_NOTFOUND) {
        vv_reply_error(c, 404, "RecoveryPointNotFound",
                       "recovery point %s, which job %s restores, is not in the vault any more",
                       rp, job);
    } else if (r < 0) {
        vv_reply_error(c, 500, "RecoveryPointDamaged",
                       "recovery point %s cannot be read: %s; run 'vmvaultd check'", rp,
                       vv_strerror(r));
    } else {
        vv_hex_encode(ids[which], VV_CHUNK_ID_LEN, hex);
        vv_warn("host '%s' asked for chunk %s, which recovery point %s (job %s) does not name",
                c->who.container, hex, rp, job);
        vv_reply_error(c, 403, "ChunkNotInRecoveryPoint",
                       "chunk %s is not a chunk of recovery point %s, the point job %s "
                       "restores; a restore reads only its point's chunks",
                       hex, rp, job);
    }
    return -1;
}

static void fetch_free(void *p)
{
    struct fetch_run *fr = p;
    if (!fr)
        return;
    for (size_t i = 0; fr->s && i < fr->n; i++)
        vv_buf_release(&fr->s[i].data);
    free(fr->s);
    free(fr->iov);
    free(fr);
}

static int fetch_one(void *ctx, struct vv_worker *w, uint64_t i)
{
    struct fetch_run *fr = ctx;
    struct fetch_slot *s = &fr->s[i];
    struct tls *t = thread_tls(); /* its read buffer is warm: no fresh pages per file */
    struct vv_chunk_io io;
    (void)w;
    if (atomic_load(&fr->bytes) > FETCH_MAX_BYTES) {
        s->r = VV_E_TOOBIG;
        return VV_E_TOOBIG;
    }
    if (!t) {
        s->r = VV_E_NOMEM;
        return VV_E_NOMEM;
    }
    /* the thread's codec and read buffer, the slot's own buffer for the payload */
    io = t->io;
    io.dec = s->data;
    s->r = vv_chunk_get_payload(&fr->repo->chunks, &io, s->id, &s->zstd);
    t->io.enc = io.enc;
    s->data = io.dec;
    if (s->r < 0)
        return s->r;
    s->read = 1;
    atomic_fetch_add(&fr->bytes, s->data.len);
    return 0;
}

/* read_job for the ids of a fetch (checked by body_ids). 0, or -1 after replying. */
static int fetch_allowed(struct vv_call *c, const json_t *ids, struct vv_repo **repo)
{
    uint8_t(*want)[VV_CHUNK_ID_LEN] = calloc(json_array_size(ids), VV_CHUNK_ID_LEN);
    const json_t *v;
    size_t i;
    int r;

    if (!want) {
        vv_reply_internal(c, VV_E_NOMEM);
        return -1;
    }
    json_array_foreach(ids, i, v) {
        parse_id(json_string_value(v), want[i]);
    }
    r = read_job(c, (const uint8_t(*)[VV_CHUNK_ID_LEN])want, json_array_size(ids), repo);
    free(want);
    return r;
}

void vv_api_chunks_fetch(struct vv_call *c)
{
    struct vv_repo *repo;
    json_t *ids = NULL, *v;
    struct fetch_run *fr;
    struct vv_pool *pool;
    char hex[2 * VV_CHUNK_ID_LEN + 1];
    size_t i, n, total = 0;
    int r = 0;

    if (!(ids = body_ids(c, 1, FETCH_MAX_IDS)))
        return;
    n = json_array_size(ids);
    if (fetch_allowed(c, ids, &repo))
        return;
    if (!(fr = calloc(1, sizeof(*fr))) || !(fr->s = calloc(n, sizeof(*fr->s))) ||
        !(fr->iov = calloc(2 * n, sizeof(*fr->iov)))) {
        fetch_free(fr);
        vv_reply_internal(c, VV_E_NOMEM);
        return;
    }
    fr->repo = repo;
    fr->n = n;
    atomic_init(&fr->bytes, 0);
    json_array_foreach(ids, i, v) {
        parse_id(json_string_value(v), fr->s[i].id);
    }
    pool = vv_server_lookup_pool(c->srv);
    if (pool) {
        if (vv_pool_run(pool, n, fetch_one, fr) != 0)
            vv_debug("chunk fetch: a read failed; its slot says which");
    } else {
        struct vv_worker w = {.idx = -1};
        for (i = 0; i < n && fetch_one(fr, &w, i) == 0; i++)
            ;
    }
    /* the first failure in the order asked (a run stops at a failure: later slots
     * may be unread, with r 0) */
    for (i = 0; i < n && r == 0; i++) {
        struct fetch_slot *s = &fr->s[i];
        r = s->r;
        if (r == 0 && !s->read)
            r = VV_E_CANCELLED;
        total += VV_REC_HEAD + s->data.len;
        vv_hex_encode(s->id, VV_CHUNK_ID_LEN, hex);
        vv_rec_put_head(s->head, s->id, s->zstd ? VV_REC_ZSTD : VV_REC_IDENTITY,
                        (uint32_t)s->data.len);
        fr->iov[2 * i] = (struct vv_http_iov){s->head, VV_REC_HEAD};
        fr->iov[2 * i + 1] = (struct vv_http_iov){s->data.data, s->data.len};
    }
    if (r == VV_E_TOOBIG || total > FETCH_MAX_BYTES + (size_t)VV_REC_HEAD * FETCH_MAX_IDS) {
        vv_reply_error(c, 413, "RequestTooLarge",
                       "the chunks asked for come to more than %u MiB; ask for fewer at a time",
                       FETCH_MAX_BYTES >> 20);
    } else if (r == VV_E_NOTFOUND) {
        vv_reply_error(c, 404, "ChunkNotFound", "the vault has no chunk %s", hex);
    } else if (r == VV_E_NOMEM || r == VV_E_CANCELLED) {
        vv_reply_internal(c, r);
    } else if (r) {
        vv_reply_error(c, 500, "ChunkDamaged", "chunk %s cannot be read: %s; run 'vmvaultd check'",
                       hex, vv_strerror(r));
    } else {
        vv_http_resp_release(c->resp);
        c->resp->status = 200;
        c->resp->content_type = "application/octet-stream";
        c->resp->iov = fr->iov;
        c->resp->niov = 2 * n;
        c->resp->owner = fr;
        c->resp->release = fetch_free;
        return;
    }
    fetch_free(fr);
}

void vv_api_chunk_get(struct vv_call *c)
{
    uint8_t id[VV_CHUNK_ID_LEN];
    struct vv_repo *repo;
    struct tls *t;
    char *out;
    int r, zstd = 0;

    if (parse_id(c->param[0], id) != 0) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "'%s' is not a chunk id (64 lower-case hex digits)", c->param[0]);
        return;
    }
    if (!(t = thread_tls())) {
        vv_reply_internal(c, VV_E_NOMEM);
        return;
    }
    if (read_job(c, (const uint8_t(*)[VV_CHUNK_ID_LEN])id, 1, &repo))
        return;
    /* The stored payload goes out as it is (decrypted, never decompressed and
     * compressed again); the agent checks every chunk against its id. */
    r = vv_chunk_get_payload(&repo->chunks, &t->io, id, &zstd);
    if (r == VV_E_NOTFOUND) {
        vv_reply_error(c, 404, "ChunkNotFound", "the vault has no chunk %s", c->param[0]);
        return;
    }
    if (r) {
        vv_reply_error(c, 500, "ChunkDamaged", "chunk %s cannot be read: %s; run 'vmvaultd check'",
                       c->param[0], vv_strerror(r));
        return;
    }
    if (!(out = malloc(t->io.dec.len ? t->io.dec.len : 1))) {
        vv_reply_internal(c, VV_E_NOMEM);
        return;
    }
    memcpy(out, t->io.dec.data, t->io.dec.len);
    free(c->resp->body);
    c->resp->status = 200;
    c->resp->content_type = "application/octet-stream";
    c->resp->content_encoding = zstd ? "zstd" : NULL;
    c->resp->body = out;
    c->resp->body_len = t->io.dec.len;
}
