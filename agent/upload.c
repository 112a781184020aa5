/*
 * upload.c: the agent's chunk sink. Each backup worker gathers its chunks in a
 * batch (at most 64 chunks or 8 MiB), asks the vault once which of the batch it
 * lacks, then compresses (zstd) only those and uploads them together in one request
 * (POST /agent/chunks), on its own HTTP connection. Memory stays at one batch and
 * its compressed copy per worker; the vault re-hashes what it receives.
 */
#include "upload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format/chunkrec.h"
#include "codec.h"
#include "engine/parallel.h"
#include "err.h"
#include "log.h"
#include "util.h"

#define BATCH_CHUNKS 64
#define BATCH_BYTES (8u << 20)

struct batch {
    struct vv_http *http;
    uint8_t ids[BATCH_CHUNKS][VV_CHUNK_ID_LEN];
    size_t off[BATCH_CHUNKS], len[BATCH_CHUNKS];
    size_t n;
    struct vv_buf data; /* the batch's chunks, back to back */
    struct vv_buf z;    /* the upload: records of the chunks the vault lacks */
};

/* An upload's size, past which the next chunk goes in the next one (a chunk alone
 * may exceed it: the vault takes 16 MiB + 64 KiB). Few requests, little memory. */
#define UPLOAD_MAX (2u << 20)

struct vv_upload {
    struct vv_chunk_sink base;
    struct vv_agent *a;
    struct timespec next; /* rate limit: when the next byte may leave (monotonic) */
    atomic_int *cancel;   /* borrowed; may be NULL */
    int nworkers;
    struct batch *b;
    pthread_mutex_t mu;
    char err[512]; /* the first failure, for the job's error */
    char job[64];  /* "?job=<id>": the vault pins what this job was told it has */
};

/* Wait until n more bytes fit the agent's upload rate (all workers share it). */
static void throttle(struct vv_upload *u, size_t n)
{
    struct timespec now, at;
    uint64_t rate = u->a->max_upload_rate;
    int64_t ns;

    if (!rate)
        return;
    pthread_mutex_lock(&u->mu);
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (u->next.tv_sec < now.tv_sec ||
        (u->next.tv_sec == now.tv_sec && u->next.tv_nsec < now.tv_nsec))
        u->next = now;
    at = u->next;
    ns = (int64_t)((double)n * 1e9 / (double)rate);
    u->next.tv_sec += ns / 1000000000;
    u->next.tv_nsec += ns % 1000000000;
    if (u->next.tv_nsec >= 1000000000) {
        u->next.tv_sec++;
        u->next.tv_nsec -= 1000000000;
    }
    pthread_mutex_unlock(&u->mu);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR)
        ;
}

static void set_err(struct vv_upload *u, const char *msg)
{
    pthread_mutex_lock(&u->mu);
    if (!u->err[0])
        snprintf(u->err, sizeof(u->err), "%s", msg);
    pthread_mutex_unlock(&u->mu);
}

/* The size of an upload: UPLOAD_MAX, or under a rate limit about a quarter of a
 * second's worth (at least 64 KiB), so a slow link sends often. */
static size_t upload_max(const struct vv_upload *u)
{
    uint64_t rate = u->a->max_upload_rate / 4;
    if (!rate || rate >= UPLOAD_MAX)
        return UPLOAD_MAX;
    return rate < (64u << 10) ? (64u << 10) : (size_t)rate;
}

/* Send the records gathered in b->z in one request, then empty it. */
static int upload(struct vv_upload *u, struct batch *b, char *err, size_t errlen)
{
    char path[128];
    int r;

    snprintf(path, sizeof(path), "/api/v1/agent/chunks%s", u->job);
    r = vv_vault_raw(u->a, b->http, "POST", path, b->z.data, b->z.len, NULL, NULL, NULL, err,
                     errlen);
    if (r) {
        set_err(u, err);
        vv_error("cannot upload chunks: %s", err);
    }
    b->z.len = 0;
    return r;
}

/* Ask which chunks of the batch the vault lacks, upload those. */
static int send_batch(struct vv_upload *u, struct batch *b, struct vv_worker *w)
{
    char hex[2 * VV_CHUNK_ID_LEN + 1], err[400], path[256];
    json_t *ids = json_array(), *body, *ans = NULL, *missing;
    int r = 0;

    if (!ids)
        return VV_E_NOMEM;
    for (size_t i = 0; i < b->n; i++) {
        vv_hex_encode(b->ids[i], VV_CHUNK_ID_LEN, hex);
        json_array_append_new(ids, json_string(hex));
    }
    body = json_pack("{s:o}", "ids", ids);
    snprintf(path, sizeof(path), "/api/v1/agent/chunks/missing%s", u->job);
    r = vv_vault_json(u->a, b->http, "POST", path, body, &ans, NULL, err, sizeof(err));
    json_decref(body);
    if (r) {
        set_err(u, err);
        vv_error("cannot ask the vault for missing chunks: %s", err);
        return r;
    }
    missing = json_object_get(ans, "missing");
    b->z.len = 0;
    for (size_t i = 0; i < b->n && r == 0; i++) {
        int lacks = 0;
        size_t k, zlen = 0, at;
        uint8_t *rec;
        json_t *m;
        vv_hex_encode(b->ids[i], VV_CHUNK_ID_LEN, hex);
        json_array_foreach(missing, k, m) {
            if (json_is_string(m) && !strcmp(json_string_value(m), hex))
                lacks = 1;
        }
        if (!lacks) {
            atomic_fetch_add(&u->base.dedup, 1);
            continue;
        }
        if (u->cancel && atomic_load(u->cancel)) {
            r = VV_E_CANCELLED;
            break;
        }
        if (b->z.len && b->z.len + VV_REC_HEAD + vv_codec_bound(b->len[i]) > upload_max(u) &&
            (r = upload(u, b, err, sizeof(err))) != 0)
            break;
        at = b->z.len;
        if ((r = vv_buf_resize(&b->z, at + VV_REC_HEAD + vv_codec_bound(b->len[i]))) != 0)
            break;
        rec = b->z.data + at;
        if ((r = vv_codec_compress(w->io.codec, b->data.data + b->off[i], b->len[i],
                                   rec + VV_REC_HEAD, b->z.len - at - VV_REC_HEAD, &zlen)) != 0)
            break;
        if (zlen >= b->len[i]) {
            /* incompressible (random or already compressed data): sent and stored as is */
            zlen = b->len[i];
            memcpy(rec + VV_REC_HEAD, b->data.data + b->off[i], zlen);
            vv_rec_put_head(rec, b->ids[i], VV_REC_IDENTITY, (uint32_t)zlen);
        } else {
            vv_rec_put_head(rec, b->ids[i], VV_REC_ZSTD, (uint32_t)zlen);
        }
        b->z.len = at + VV_REC_HEAD + zlen;
        throttle(u, zlen);
        atomic_fetch_add(&u->base.fresh, 1);
        atomic_fetch_add(&u->base.bytes_new, b->len[i]);
        atomic_fetch_add(&u->base.bytes_stored, zlen);
    }
    if (r == 0 && b->z.len)
        r = upload(u, b, err, sizeof(err));
    json_decref(ans);
    b->n = 0;
    b->data.len = 0;
    b->z.len = 0;
    return r;
}

static int up_put(struct vv_chunk_sink *s, struct vv_worker *w, const uint8_t id[VV_CHUNK_ID_LEN],
                  const void *data, size_t n)
{
    struct vv_upload *u = (struct vv_upload *)(void *)s;
    struct batch *b = &u->b[w->idx];
    int r;

    if (w->idx < 0 || w->idx >= u->nworkers)
        return VV_E_INVAL;
    if (!b->http && !(b->http = vv_agent_http(u->a)))
        return VV_E_NOMEM;
    memcpy(b->ids[b->n], id, VV_CHUNK_ID_LEN);
    b->off[b->n] = b->data.len;
    b->len[b->n] = n;
    if ((r = vv_buf_append(&b->data, data, n)) != 0)
        return r;
    b->n++;
    if (b->n == BATCH_CHUNKS || b->data.len >= BATCH_BYTES)
        return send_batch(u, b, w);
    return 0;
}

static int up_flush(struct vv_chunk_sink *s, struct vv_worker *w)
{
    struct vv_upload *u = (struct vv_upload *)(void *)s;
    struct batch *b = &u->b[w->idx];
    return b->n ? send_batch(u, b, w) : 0;
}

static const struct vv_chunk_sink_ops upload_ops = {up_put, up_flush};

int vv_upload_new(struct vv_agent *a, int nworkers, struct vv_upload **out)
{
    struct vv_upload *u = calloc(1, sizeof(*u));
    if (!u || !(u->b = calloc((size_t)nworkers, sizeof(*u->b)))) {
        free(u);
        return VV_E_NOMEM;
    }
    u->base.ops = &upload_ops;
    u->a = a;
    u->nworkers = nworkers;
    pthread_mutex_init(&u->mu, NULL);
    for (int i = 0; i < nworkers; i++) {
        vv_buf_init(&u->b[i].data, 0);
        vv_buf_init(&u->b[i].z, 0);
    }
    *out = u;
    return 0;
}

struct vv_chunk_sink *vv_upload_sink(struct vv_upload *u) { return &u->base; }

void vv_upload_set_cancel(struct vv_upload *u, atomic_int *cancel) { u->cancel = cancel; }

void vv_upload_set_job(struct vv_upload *u, const char *job_id)
{
    snprintf(u->job, sizeof(u->job), "?job=%.50s", job_id);
}

const char *vv_upload_error(struct vv_upload *u) { return u->err; }

void vv_upload_free(struct vv_upload *u)
{
    if (!u)
        return;
    for (int i = 0; i < u->nworkers; i++) {
        vv_http_free(u->b[i].http);
        vv_buf_release(&u->b[i].data);
        vv_buf_release(&u->b[i].z);
    }
    free(u->b);
    pthread_mutex_destroy(&u->mu);
    free(u);
}
