/*
 * job_restore.c: one Restore job: a recovery point's disks back onto this host.
 *
 *  RestoreDisks       each disk as <dir>/<vm>-<disk>.<qcow2|raw>
 *  AlternateLocation  the same, then a new domain defined from the saved XML with a
 *                     new name, a new UUID and new MAC addresses, on those files
 *  OriginalLocation   the VM (shut off) gets its disks back in place; the files it
 *                     had are kept aside as <file>.pre-restore-<time>
 *
 * Chunks are downloaded by the restore's workers, each on its own connection, a
 * batch of up to 32 chunks (about 4 MiB) per request, and checked against their ids
 * before they are written. A disk is written to a
 * ".partial" file and renamed into place only when complete, so a failed or
 * cancelled restore never leaves a half-written disk under a real name.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "format/chunkrec.h"
#include "codec.h"
#include "crypto.h"
#include "engine/engine.h"
#include "engine/parallel.h"
#include "err.h"
#include "format/index.h"
#include "log.h"
#include "util.h"
#include "virt.h"
#include "xml.h"

extern char **environ;

/* ---- the fetcher: chunks from the vault ---------------------------------------- */

struct fetch_worker {
    struct vv_http *http;
    struct vv_http_response resp; /* reused: its body keeps its allocation */
    struct vv_buf plain;
    /* get_many: the batch's decompressed chunks back to back (owned), and views of
     * each chunk, into it or into resp's body (not owned: never resized or released) */
    struct vv_buf joined;
    struct vv_buf view[VV_FETCH_MANY_MAX];
};

struct remote_fetch {
    struct vv_chunk_fetch base;
    struct vv_agent *a;
    int nworkers;
    struct fetch_worker *w;
};

/* 0 when the request (vv_http_do's r) got a 200; else logs why, about "what which",
 * and returns the error. */
static int answered(int r, const struct vv_http_response *resp, const char *what,
                    const char *which)
{
    if (r == 0 && resp->status != 200) {
        vv_error("%s %s: the vault answered HTTP %ld: %.*s", what, which, resp->status,
                 (int)(resp->body.len > 300 ? 300 : resp->body.len),
                 (const char *)resp->body.data);
        return VV_E_IO;
    }
    if (r)
        vv_error("%s %s: cannot reach the vault: %s", what, which, resp->error);
    return r;
}

static int remote_get(struct vv_chunk_fetch *f, struct vv_worker *w,
                      const uint8_t id[VV_CHUNK_ID_LEN], const struct vv_buf **out)
{
    struct remote_fetch *rf = (struct remote_fetch *)(void *)f;
    struct fetch_worker *fw;
    struct vv_http_request req = VV_HTTP_REQUEST_INIT;
    struct vv_http_response *resp;
    char hex[2 * VV_CHUNK_ID_LEN + 1], url[1200];
    uint8_t got[VV_SHA256_LEN];
    size_t plain = 0;
    int r;

    if (w->idx < 0 || w->idx >= rf->nworkers)
        return VV_E_INVAL;
    fw = &rf->w[w->idx];
    resp = &fw->resp;
    if (!fw->http && !(fw->http = vv_agent_http(rf->a)))
        return VV_E_NOMEM;
    vv_hex_encode(id, VV_CHUNK_ID_LEN, hex);
    snprintf(url, sizeof(url), "%s/api/v1/agent/chunks/%s", rf->a->url, hex);
    req.method = "GET";
    req.url = url;
    req.bearer = rf->a->token;
    req.timeout_ms = 120000;
    req.max_response = VV_CHUNK_SIZE_MAX + (1u << 20);
    r = vv_http_do(fw->http, &req, resp);
    if ((r = answered(r, resp, "chunk", hex)) != 0)
        return r;
    /* The vault sends chunks zstd-compressed, and the HTTP client decodes them
     * (Content-Encoding); a body still in a zstd frame is decoded here. Either way
     * the bytes must hash to the id, and they are hashed once. */
    if (vv_sha256(resp->body.data, resp->body.len, got) == 0 &&
        memcmp(got, id, VV_SHA256_LEN) == 0) {
        *out = &resp->body;
        return 0;
    }
    if (vv_codec_frame_size(resp->body.data, resp->body.len, &plain) != 0 ||
        plain > VV_CHUNK_SIZE_MAX || (r = vv_buf_resize(&fw->plain, plain)) != 0 ||
        vv_codec_decompress(w->io.codec, resp->body.data, resp->body.len, fw->plain.data,
                            plain) != 0) {
        vv_error("chunk %s: what the vault sent is neither the chunk nor a zstd frame of it",
                 hex);
        return r ? r : VV_E_HASH;
    }
    if (vv_sha256(fw->plain.data, fw->plain.len, got) != 0 ||
        memcmp(got, id, VV_SHA256_LEN) != 0) {
        vv_error("chunk %s: the bytes received do not match the id", hex);
        return VV_E_HASH;
    }
    *out = &fw->plain;
    return 0;
}

/* The body of a batch request: {"ids": [hex, ...]}, malloc'd, or NULL. */
static char *batch_body(const uint8_t *const *ids, size_t n)
{
    char hex[2 * VV_CHUNK_ID_LEN + 1], *body;
    json_t *list = json_array(), *o;

    if (!list)
        return NULL;
    for (size_t k = 0; k < n; k++) {
        vv_hex_encode(ids[k], VV_CHUNK_ID_LEN, hex);
        json_array_append_new(list, json_string(hex));
    }
    o = json_pack("{s:o}", "ids", list); /* takes list */
    body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return body;
}

/* The records of a batch answer (body): each chunk's bytes as sent into fw->view[k],
 * its plaintext size into sizes[k] (0 when sent as is), their sum into *total. */
static int batch_records(struct fetch_worker *fw, const struct vv_buf *body,
                         const uint8_t *const *ids, size_t n, size_t *sizes, size_t *total)
{
    char hex[2 * VV_CHUNK_ID_LEN + 1];
    const uint8_t *p = body->data, *end = p + body->len;
    int r;

    *total = 0;
    for (size_t k = 0; k < n; k++) {
        struct vv_rec rec;
        size_t plain = 0;
        vv_hex_encode(ids[k], VV_CHUNK_ID_LEN, hex);
        r = vv_rec_read(p, (size_t)(end - p), &rec);
        if (r == VV_E_TRUNCATED || memcmp(rec.id, ids[k], VV_CHUNK_ID_LEN) != 0) {
            vv_error("chunk %s: the vault's answer does not hold it in its place", hex);
            return VV_E_CORRUPT;
        }
        if (r < 0 || rec.enc > VV_REC_IDENTITY) {
            vv_error("chunk %s: the vault's answer is cut short or in an unknown encoding", hex);
            return VV_E_CORRUPT;
        }
        fw->view[k].data = (uint8_t *)(uintptr_t)rec.payload;
        fw->view[k].len = rec.len;
        sizes[k] = 0; /* sent as it is */
        if (rec.enc == VV_REC_ZSTD) {
            if (vv_codec_frame_size(rec.payload, rec.len, &plain) != 0 || plain == 0 ||
                plain > VV_CHUNK_SIZE_MAX) {
                vv_error("chunk %s: what the vault sent is not a zstd frame of it", hex);
                return VV_E_HASH;
            }
            sizes[k] = plain;
            *total += plain;
        }
        p += VV_REC_HEAD + rec.len;
    }
    if (p != end) {
        vv_error("the vault's answer to %zu chunk(s) has %zu bytes too many", n, (size_t)(end - p));
        return VV_E_CORRUPT;
    }
    return 0;
}

/* Several chunks in one POST /agent/chunks/fetch; each record is checked against the
 * id asked for in its place. */
static int remote_get_many(struct vv_chunk_fetch *f, struct vv_worker *w,
                           const uint8_t *const *ids, size_t n, const struct vv_buf **out)
{
    struct remote_fetch *rf = (struct remote_fetch *)(void *)f;
    struct vv_http_request req = VV_HTTP_REQUEST_INIT;
    struct vv_http_response *resp;
    struct fetch_worker *fw;
    char hex[2 * VV_CHUNK_ID_LEN + 1], url[1200], *body;
    uint8_t got[VV_SHA256_LEN];
    size_t total = 0, sizes[VV_FETCH_MANY_MAX]; /* each chunk's plaintext, 0 when sent as is */
    int r;

    if (w->idx < 0 || w->idx >= rf->nworkers || n == 0 || n > VV_FETCH_MANY_MAX)
        return VV_E_INVAL;
    fw = &rf->w[w->idx];
    resp = &fw->resp;
    if (!fw->http && !(fw->http = vv_agent_http(rf->a)))
        return VV_E_NOMEM;
    if (!(body = batch_body(ids, n)))
        return VV_E_NOMEM;
    snprintf(url, sizeof(url), "%s/api/v1/agent/chunks/fetch", rf->a->url);
    req.method = "POST";
    req.url = url;
    req.bearer = rf->a->token;
    req.body = body;
    req.body_len = strlen(body);
    req.content_type = "application/json";
    req.timeout_ms = 120000;
    req.max_response = (64u << 20) + (16u << 20);
    r = vv_http_do(fw->http, &req, resp);
    free(body);
    snprintf(hex, sizeof(hex), "%zu chunk(s)", n);
    if ((r = answered(r, resp, "a batch of", hex)) != 0)
        return r;
    /* first the records' bounds and the room their plaintexts take, then each chunk */
    if ((r = batch_records(fw, &resp->body, ids, n, sizes, &total)) != 0 ||
        (r = vv_buf_resize(&fw->joined, total)) != 0)
        return r;
    total = 0;
    for (size_t k = 0; k < n; k++) {
        struct vv_buf *b = &fw->view[k];
        if (sizes[k]) {
            uint8_t *dst = fw->joined.data + total;
            if (vv_codec_decompress(w->io.codec, b->data, b->len, dst, sizes[k]) != 0) {
                vv_hex_encode(ids[k], VV_CHUNK_ID_LEN, hex);
                vv_error("chunk %s: what the vault sent is not a zstd frame of it", hex);
                return VV_E_HASH;
            }
            b->data = dst;
            b->len = sizes[k];
            total += sizes[k];
        }
        if (vv_sha256(b->data, b->len, got) != 0 || memcmp(got, ids[k], VV_SHA256_LEN) != 0) {
            vv_hex_encode(ids[k], VV_CHUNK_ID_LEN, hex);
            vv_error("chunk %s: the bytes received do not match the id", hex);
            return VV_E_HASH;
        }
        out[k] = b;
    }
    return 0;
}

static const struct vv_chunk_fetch_ops remote_ops = {remote_get, remote_get_many};

/* ---- helpers ------------------------------------------------------------------- */

static int run_argv(const char *const argv[])
{
    pid_t pid;
    int st;
    if (posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)(uintptr_t)argv, environ) != 0) {
        vv_error("cannot run %s: %s", argv[0], strerror(errno));
        return VV_E_IO;
    }
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return VV_E_IO;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        vv_error("%s %s failed (status %d)", argv[0], argv[1], WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return VV_E_IO;
    }
    return 0;
}

#define RESTORE_DISKS_MAX VV_MAX_DISKS /* as many as a manifest may hold */

struct restore {
    struct vv_agent *a;
    const char *id;
    json_t *params;   /* the job's parameters (borrowed) */
    json_t *point;    /* the point's manifest as the vault gives it */
    const char *mode, *dir, *format, *vm_name, *vm_uuid, *new_name;
    int original;     /* OriginalLocation: the disks go back in place */
    time_t now;
    struct vv_xml_disk *xd; /* the disks of the point's domain XML */
    size_t nxd;
    /* what goes where: n disks, their formats and files (paths owned) */
    const char *targets[RESTORE_DISKS_MAX], *formats[RESTORE_DISKS_MAX];
    char *paths[RESTORE_DISKS_MAX];
    size_t n;
    uint64_t total;   /* the selected disks' virtual sizes */
    struct remote_fetch rf;
    atomic_uint_fast64_t done;
    atomic_int cancel;
    char code[64], message[1024];
};

static void failr(struct restore *rs, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void failr(struct restore *rs, const char *code, const char *fmt, ...)
{
    va_list ap;
    if (rs->code[0])
        return;
    snprintf(rs->code, sizeof(rs->code), "%s", code);
    va_start(ap, fmt);
    vsnprintf(rs->message, sizeof(rs->message), fmt, ap);
    va_end(ap);
}

static int progress(struct restore *rs, const char *status, uint64_t total)
{
    json_t *tasks = json_pack("[{s:s,s:s}]", "name", "Transfer data from vault", "status", status);
    int r = vv_agent_progress(rs->a, rs->a->http, rs->id, tasks, (int64_t)atomic_load(&rs->done),
                              (int64_t)total);
    json_decref(tasks);
    if (r == 1)
        atomic_store(&rs->cancel, 1);
    return r;
}

/* Restore one disk of the point into path (format raw or qcow2), via path.partial. */
static int restore_disk(struct restore *rs, struct remote_fetch *rf, const char *disk,
                        const char *path, const char *format)
{
    struct vv_agent *a = rs->a;
    char api[300], err[600], partial[VV_PATH_MAX], raw[VV_PATH_MAX];
    struct vv_index ix;
    struct vv_engine_opts eo;
    struct vv_restore_stats st;
    struct vv_http_request req = VV_HTTP_REQUEST_INIT;
    struct vv_http_response resp;
    char url[1200];
    int fd, r, qcow2 = !strcmp(format, "qcow2");

    snprintf(api, sizeof(api), "/api/v1/agent/jobs/%s/disks/%s/index", rs->id, disk);
    snprintf(url, sizeof(url), "%s%s", a->url, api);
    req.method = "GET";
    req.url = url;
    req.bearer = a->token;
    req.max_response = (256u << 20);
    vv_http_response_init(&resp);
    r = vv_http_do(a->http, &req, &resp);
    if (r || resp.status != 200) {
        snprintf(err, sizeof(err), "%s", r ? resp.error : "the vault refused to send it");
        vv_http_response_release(&resp);
        failr(rs, "RestoreFailed", "cannot get the index of disk %s: %s", disk, err);
        return VV_E_IO;
    }
    r = vv_index_parse(resp.body.data, resp.body.len, &ix);
    vv_http_response_release(&resp);
    if (r) {
        failr(rs, "RestoreFailed", "the index of disk %s is damaged", disk);
        return r;
    }
    if ((r = vv_path_join(partial, sizeof(partial), "%s.partial", path)) != 0 ||
        (r = vv_path_join(raw, sizeof(raw), "%s%s", partial, qcow2 ? ".raw" : "")) != 0) {
        failr(rs, "RestoreFailed", "the file name %s is too long", path);
        vv_index_release(&ix);
        return r;
    }
    unlink(raw);
    fd = open(raw, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        failr(rs, "RestoreFailed", "cannot create %s: %s", raw, strerror(errno));
        vv_index_release(&ix);
        return VV_E_IO;
    }
    memset(&st, 0, sizeof(st));
    eo.threads = a->threads;
    eo.cancel = &rs->cancel;
    eo.progress = &rs->done;
    r = vv_disk_restore_from(&rf->base, VV_CODEC_DEFAULT_LEVEL, &ix, fd, &eo, &st);
    close(fd);
    vv_index_release(&ix);
    if (r == 0 && qcow2) {
        const char *argv[] = {"qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw,
                              partial, NULL};
        r = run_argv(argv);
        unlink(raw);
    }
    if (r == 0 && chmod(partial, 0600) == 0 && rename(partial, path) != 0) {
        r = VV_E_IO;
        failr(rs, "RestoreFailed", "cannot rename %s into place: %s", partial, strerror(errno));
    }
    if (r) {
        unlink(raw);
        unlink(partial);
        if (r == VV_E_CANCELLED)
            failr(rs, "Cancelled", "cancelled");
        else
            failr(rs, "RestoreFailed", "disk %s could not be restored to %s (see the agent's log)",
                  disk, path);
    }
    return r;
}

static int disk_selected(json_t *only, const char *name)
{
    size_t i;
    json_t *v;
    if (!json_is_array(only))
        return 1;
    json_array_foreach(only, i, v) {
        if (json_is_string(v) && !strcmp(json_string_value(v), name))
            return 1;
    }
    return 0;
}

/* The job's parameters, and the first progress report. */
static void restore_init(struct restore *rs, struct vv_agent *a, json_t *job)
{
    json_t *params = json_object_get(job, "params");

    memset(rs, 0, sizeof(*rs));
    rs->a = a;
    rs->id = json_string_value(json_object_get(job, "id"));
    rs->params = params;
    rs->mode = json_string_value(json_object_get(params, "restoreMode"));
    rs->dir = json_string_value(json_object_get(params, "targetDirectory"));
    rs->format = json_string_value(json_object_get(params, "format"));
    rs->vm_name = json_string_value(json_object_get(params, "vmName"));
    rs->vm_uuid = json_string_value(json_object_get(params, "vmUuid"));
    rs->new_name = json_string_value(json_object_get(params, "targetVmName"));
    rs->now = time(NULL);
    rs->mode = rs->mode ? rs->mode : "RestoreDisks";
    rs->original = !strcmp(rs->mode, "OriginalLocation");
    progress(rs, "InProgress", 0);
}

/* The recovery point's manifest, and the disks of its domain XML. */
static int read_point(struct restore *rs)
{
    char path[256], err[600];
    const char *xml;

    snprintf(path, sizeof(path), "/api/v1/agent/jobs/%s/recoveryPoint", rs->id);
    if (vv_vault_json(rs->a, rs->a->http, "GET", path, NULL, &rs->point, NULL, err,
                      sizeof(err)) != 0) {
        failr(rs, "RestoreFailed", "cannot read the recovery point: %s", err);
        return VV_E_IO;
    }
    if ((xml = json_string_value(json_object_get(rs->point, "domainXml"))))
        vv_best_effort(vv_xml_domain_disks(xml, &rs->xd, &rs->nxd));
    return 0;
}

/* In place: the VM is defined here and shut off. Elsewhere: the target folder. */
static int check_target(struct restore *rs)
{
    struct vv_vm vm;
    int r;

    if (!rs->original) {
        if (!rs->dir || (mkdir(rs->dir, 0755) != 0 && errno != EEXIST)) {
            failr(rs, "RestoreFailed", "cannot create the target folder %s: %s",
                  rs->dir ? rs->dir : "?", strerror(errno));
            return VV_E_IO;
        }
        return 0;
    }
    if ((r = vv_virt_get(rs->a->virt, rs->vm_uuid, &vm)) == VV_E_TOOBIG)
        return r; /* a disk's path is too long (said): the restore fails with RestoreFailed */
    if (r != 0) {
        failr(rs, "VmNotFound", "VM '%s' is not defined on host '%s'; restore to an "
              "alternate location instead", rs->vm_name ? rs->vm_name : "?", rs->a->host);
        return VV_E_NOTFOUND;
    }
    if (vm.running) {
        failr(rs, "VmRunning", "VM '%s' is running; shut it down before replacing its disks",
              vm.name);
        vv_vm_release(&vm);
        return VV_E_INVAL;
    }
    vv_vm_release(&vm);
    return 0;
}

/* Where disk d of the point goes (the next of rs->targets/formats/paths). */
static int plan_disk(struct restore *rs, json_t *d, const char *name)
{
    const char *fmt = rs->format, *src = NULL;
    size_t n = rs->n;

    for (size_t k = 0; k < rs->nxd; k++)
        if (rs->xd[k].target && !strcmp(rs->xd[k].target, name)) {
            if (!fmt)
                fmt = rs->xd[k].format;
            src = rs->xd[k].source;
        }
    if (!fmt || (strcmp(fmt, "raw") && strcmp(fmt, "qcow2")))
        fmt = "qcow2";
    rs->targets[n] = name;
    rs->formats[n] = fmt;
    if (rs->original) {
        if (!src) {
            failr(rs, "RestoreFailed", "the saved definition has no file for disk %s", name);
            return VV_E_INVAL;
        }
        rs->paths[n] = strdup(src);
    } else {
        const char *vm = rs->new_name ? rs->new_name : (rs->vm_name ? rs->vm_name : "vm");
        if (asprintf(&rs->paths[n], "%s/%s-%s.%s", rs->dir, vm, name, fmt) < 0)
            rs->paths[n] = NULL;
        if (rs->paths[n] && access(rs->paths[n], F_OK) == 0) {
            failr(rs, "TargetExists", "%s already exists; choose another folder or remove it",
                  rs->paths[n]);
            rs->n++;
            return VV_E_EXISTS;
        }
    }
    if (!rs->paths[n])
        return VV_E_NOMEM;
    rs->total += (uint64_t)json_integer_value(json_object_get(d, "virtualSize"));
    rs->n++;
    return 0;
}

/* What goes where: the selected disks of the point. */
static int plan_disks(struct restore *rs)
{
    json_t *disks = json_object_get(rs->point, "disks"), *d;
    size_t i;
    int r;

    json_array_foreach(disks, i, d) {
        const char *name = json_string_value(json_object_get(d, "name"));
        if (!name || !disk_selected(json_object_get(rs->params, "disks"), name) ||
            rs->n >= RESTORE_DISKS_MAX)
            continue;
        if ((r = plan_disk(rs, d, name)) != 0)
            return r;
    }
    if (rs->n == 0) {
        failr(rs, "RestoreFailed", "no disk of the recovery point was selected");
        return VV_E_INVAL;
    }
    return 0;
}

/* The chunk fetcher: one connection and its buffers per worker. */
static int fetcher_start(struct remote_fetch *rf, struct vv_agent *a)
{
    rf->base.ops = &remote_ops;
    rf->a = a;
    rf->nworkers = a->threads;
    if (!(rf->w = calloc((size_t)a->threads, sizeof(*rf->w))))
        return VV_E_NOMEM;
    for (int k = 0; k < a->threads; k++) {
        vv_buf_init(&rf->w[k].plain, 0);
        vv_http_response_init(&rf->w[k].resp);
        vv_buf_init(&rf->w[k].joined, 0);
    }
    return 0;
}

static void fetcher_stop(struct remote_fetch *rf)
{
    for (int k = 0; rf->w && k < rf->nworkers; k++) {
        vv_http_free(rf->w[k].http);
        vv_buf_release(&rf->w[k].plain);
        vv_http_response_release(&rf->w[k].resp);
        vv_buf_release(&rf->w[k].joined);
    }
    free(rf->w);
    rf->w = NULL;
}

/* Write every disk: in place, next to its file as <file>.vmvault-restore. */
static int write_disks(struct restore *rs)
{
    char dest[VV_PATH_MAX];
    int r = 0;

    progress(rs, "InProgress", rs->total);
    for (size_t i = 0; i < rs->n && r == 0; i++) {
        if (rs->original)
            r = vv_path_join(dest, sizeof(dest), "%s.vmvault-restore", rs->paths[i]);
        else
            r = vv_path_join(dest, sizeof(dest), "%s", rs->paths[i]);
        if (r == 0)
            r = restore_disk(rs, &rs->rf, rs->targets[i], dest, rs->formats[i]);
        if (r == 0)
            progress(rs, "InProgress", rs->total);
    }
    return r;
}

/* In place, every disk written: swap them in, keeping the old files aside. */
static int swap_in(struct restore *rs)
{
    char aside[VV_PATH_MAX], fresh[VV_PATH_MAX];
    int r = 0;

    for (size_t i = 0; i < rs->n && r == 0; i++) {
        const char *path = rs->paths[i];
        if ((r = vv_path_join(aside, sizeof(aside), "%s.pre-restore-%lld", path,
                              (long long)rs->now)) != 0 ||
            (r = vv_path_join(fresh, sizeof(fresh), "%s.vmvault-restore", path)) != 0)
            break;
        if ((access(path, F_OK) == 0 && rename(path, aside) != 0) || rename(fresh, path) != 0) {
            failr(rs, "RestoreFailed", "cannot put %s in place: %s", path, strerror(errno));
            r = VV_E_IO;
        }
    }
    return r;
}

/* In place, a disk failed: drop the new files, the old ones stay. */
static void discard_fresh(struct restore *rs)
{
    char fresh[VV_PATH_MAX];

    for (size_t i = 0; i < rs->n; i++)
        if (vv_path_join(fresh, sizeof(fresh), "%s.vmvault-restore", rs->paths[i]) == 0)
            unlink(fresh);
}

/* A random (version 4) UUID, in its text form. */
static int new_uuid(char out[40])
{
    uint8_t u[16];
    int r;

    if ((r = vv_random(u, sizeof(u))) != 0)
        return r;
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
             u[13], u[14], u[15]);
    return 0;
}

/* AlternateLocation: a new domain (uuid, a new name) on the restored files. */
static int define_restored(struct restore *rs, const char *uuid)
{
    char name[256], *xml = NULL;
    int r;

    snprintf(name, sizeof(name), "%s", rs->new_name ? rs->new_name : "");
    if (!rs->new_name)
        snprintf(name, sizeof(name), "%s-restored-%lld", rs->vm_name ? rs->vm_name : "vm",
                 (long long)rs->now);
    r = vv_xml_domain_for_restore(json_string_value(json_object_get(rs->point, "domainXml")),
                                  name, uuid, rs->targets, (const char *const *)rs->paths,
                                  rs->formats, rs->n, &xml);
    if (r == 0)
        r = vv_virt_define(rs->a->virt, xml);
    free(xml);
    if (r)
        failr(rs, "RestoreFailed",
              "the disks were restored to %s but the new domain '%s' could not be defined "
              "(see the agent's log)",
              rs->dir, name);
    else
        vv_info("defined the restored domain '%s' (%s)", name, uuid);
    return r;
}

/* Tell the vault how the job ended (r), and free what it held. */
static void restore_end(struct restore *rs, int r)
{
    if (r && rs->code[0] && !strcmp(rs->code, "Cancelled")) {
        progress(rs, "Cancelled", rs->total);
        vv_best_effort(vv_agent_complete(rs->a, rs->id, "Cancelled", NULL, NULL));
    } else if (r) {
        if (!rs->code[0])
            failr(rs, "RestoreFailed", "the restore failed: %s", vv_strerror(r));
        progress(rs, "Failed", rs->total);
        vv_best_effort(vv_agent_complete(rs->a, rs->id, "Failed", rs->code, rs->message));
    } else {
        atomic_store(&rs->done, rs->total);
        progress(rs, "Completed", rs->total);
        vv_best_effort(vv_agent_complete(rs->a, rs->id, "Completed", NULL, NULL));
    }
    fetcher_stop(&rs->rf);
    for (size_t i = 0; i < RESTORE_DISKS_MAX; i++)
        free(rs->paths[i]);
    vv_xml_disks_free(rs->xd, rs->nxd);
    json_decref(rs->point);
}

int vv_agent_restore(struct vv_agent *a, json_t *job)
{
    struct restore rs;
    int r;

    restore_init(&rs, a, job);
    if ((r = read_point(&rs)) != 0 || (r = check_target(&rs)) != 0 ||
        (r = plan_disks(&rs)) != 0 || (r = fetcher_start(&rs.rf, a)) != 0)
        goto end;
    r = write_disks(&rs);
    if (r == 0 && rs.original)
        r = swap_in(&rs);
    else if (r && rs.original)
        discard_fresh(&rs);
    if (r == 0 && !strcmp(rs.mode, "AlternateLocation")) {
        char uuid[40];
        if ((r = new_uuid(uuid)) == 0)
            r = define_restored(&rs, uuid);
    }
end:
    restore_end(&rs, r);
    return r;
}
