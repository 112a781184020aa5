/*
 * job_restore.c: one Restore job: a recovery point's disks back onto this host.
 *
 *  RestoreDisks       each disk as <dir>/<vm>-<disk>.<qcow2|raw>
 *  AlternateLocation  the same, then a new domain defined from the saved XML with a
 *                     new name, a new UUID and new MAC addresses, on those files,
 *                     keeping only the devices a restored VM needs (xml.h)
 *  OriginalLocation   the VM (shut off) gets its disks back in place: the disks of
 *                     its CURRENT definition on this host, never the saved XML's;
 *                     the files it had are kept aside as <file>.pre-restore-<time>,
 *                     a block device is written in place (raw only)
 *
 * Nothing the vault sends is trusted to reach the host unchecked: every id and
 * name is checked with the vault's own rules first (InvalidJobParameters,
 * InvalidRecoveryPoint), <dir> must lie under the host's restore roots (trust.c),
 * and every file is created with O_EXCL|O_NOFOLLOW and renamed into place without
 * replacing anything (RENAME_NOREPLACE): no planted symbolic link is followed and
 * no file is clobbered.
 *
 * Chunks are downloaded by the restore's workers, each on its own connection, a
 * batch of up to 32 chunks (about 4 MiB) per request, and checked against their ids
 * before they are written. A disk is written to a
 * ".partial" file and renamed into place only when complete, so a failed or
 * cancelled restore never leaves a half-written disk under a real name.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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
#include "format/manifest.h"
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
    const char *job; /* the restore job the reads are for (?job=); borrowed */
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
    snprintf(url, sizeof(url), "%s/api/v1/agent/chunks/%s?job=%s", rf->a->url, hex, rf->job);
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
    snprintf(url, sizeof(url), "%s/api/v1/agent/chunks/fetch?job=%s", rf->a->url, rf->job);
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

/* Rename from to to in the folder dfd, never replacing what is there (EEXIST). */
static int rename_noreplace(int dfd, const char *from, const char *to)
{
    if (renameat2(dfd, from, dfd, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    /* a filesystem without RENAME_NOREPLACE: link() never replaces either */
    if (linkat(dfd, from, dfd, to, 0) != 0)
        return -1;
    return unlinkat(dfd, from, 0);
}

#define RESTORE_DISKS_MAX VV_MAX_DISKS /* as many as a manifest may hold */

/* One disk of the restore: where it goes. */
struct rdisk {
    const char *target; /* the point's disk name (checked) */
    const char *format; /* "raw" or "qcow2" */
    char *path;         /* the file (or device) it ends as; owned */
    char *dir;          /* path's folder; owned */
    const char *base;   /* path's last component (into path) */
    int dfd;            /* dir, opened (owned; -1 when none) */
    int block;          /* a block device, written in place */
    uint64_t size;      /* the point's virtual size of the disk */
    int made_tmp, made_raw; /* tmp / tmp.raw were created by this job */
};

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
    struct vv_vm vm;  /* OriginalLocation: the VM as this host defines it now */
    int have_vm;
    char rdir[VV_PATH_MAX]; /* the target folder, resolved (not OriginalLocation) */
    int rdirfd;
    struct rdisk d[RESTORE_DISKS_MAX];
    size_t n;
    uint64_t total;   /* the selected disks' virtual sizes */
    json_t *warnings; /* [{code, message}]; owned */
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

/* The temporary names of disk k: "<base>.partial" (or ".vmvault-restore" in place)
 * and, for qcow2, the raw image converted from, "<tmp>.raw". */
static int tmp_names(const struct restore *rs, const struct rdisk *k, char *tmp, char *raw)
{
    if (vv_path_join(tmp, NAME_MAX + 1, "%s%s", k->base,
                     rs->original ? ".vmvault-restore" : ".partial") != 0 ||
        vv_path_join(raw, NAME_MAX + 1, "%s.raw", tmp) != 0)
        return VV_E_TOOBIG;
    return 0;
}

/* A new file name in k's folder, never through a symbolic link, never over an
 * existing file: its fd, or -1 with the job failed. */
static int create_new(struct restore *rs, struct rdisk *k, const char *name)
{
    int fd = openat(k->dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

    if (fd < 0)
        failr(rs, errno == EEXIST ? "TargetExists" : "RestoreFailed",
              "cannot create %s/%s: %s%s", k->dir, name, strerror(errno),
              errno == EEXIST ? " (a leftover or a planted link: nothing there is followed or "
                                "replaced; remove it and restore again)"
                              : "");
    return fd;
}

/* The open destination of disk k: the device itself, or new temporary files. */
static int open_dest(struct restore *rs, struct rdisk *k, char *tmp, char *raw)
{
    int fd, qcow2 = !strcmp(k->format, "qcow2");
    uint64_t sz = 0;

    if (k->block) {
        fd = open(k->path, O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            failr(rs, "RestoreFailed", "cannot open the block device %s: %s", k->path,
                  strerror(errno));
            return -1;
        }
        if (ioctl(fd, BLKGETSIZE64, &sz) != 0 || sz < k->size) {
            failr(rs, "BlockDeviceTooSmall", "the block device %s of disk %s holds %llu bytes, "
                  "the disk %llu; grow it, then restore again", k->path, k->target,
                  (unsigned long long)sz, (unsigned long long)k->size);
            close(fd);
            return -1;
        }
        return fd;
    }
    if (tmp_names(rs, k, tmp, raw) != 0) {
        failr(rs, "RestoreFailed", "the file name %s is too long", k->path);
        return -1;
    }
    if (qcow2) { /* made here so that qemu-img writes a regular file of ours */
        if ((fd = create_new(rs, k, tmp)) < 0)
            return -1;
        k->made_tmp = 1;
        close(fd);
    }
    if ((fd = create_new(rs, k, qcow2 ? raw : tmp)) < 0)
        return -1;
    *(qcow2 ? &k->made_raw : &k->made_tmp) = 1;
    return fd;
}

/* Remove the temporary files disk k made (never the device or the final file). */
static void drop_tmp(const struct restore *rs, struct rdisk *k)
{
    char tmp[NAME_MAX + 1], raw[NAME_MAX + 1];

    if (!k->base || k->block || tmp_names(rs, k, tmp, raw) != 0)
        return;
    if (k->made_raw)
        unlinkat(k->dfd, raw, 0);
    if (k->made_tmp)
        unlinkat(k->dfd, tmp, 0);
    k->made_raw = k->made_tmp = 0;
}

/* The index of disk k from the vault into ix. */
static int fetch_index(struct restore *rs, const struct rdisk *k, struct vv_index *ix)
{
    struct vv_agent *a = rs->a;
    struct vv_http_request req = VV_HTTP_REQUEST_INIT;
    struct vv_http_response resp;
    char url[1200], err[600];
    int r;

    snprintf(url, sizeof(url), "%s/api/v1/agent/jobs/%s/disks/%s/index", a->url, rs->id,
             k->target);
    req.method = "GET";
    req.url = url;
    req.bearer = a->token;
    req.max_response = (256u << 20);
    vv_http_response_init(&resp);
    r = vv_http_do(a->http, &req, &resp);
    if (r || resp.status != 200) {
        snprintf(err, sizeof(err), "%s", r ? resp.error : "the vault refused to send it");
        vv_http_response_release(&resp);
        failr(rs, "RestoreFailed", "cannot get the index of disk %s: %s", k->target, err);
        return VV_E_IO;
    }
    r = vv_index_parse(resp.body.data, resp.body.len, ix);
    vv_http_response_release(&resp);
    if (r == 0 && ix->virtual_size != k->size) {
        vv_index_release(ix);
        r = VV_E_CORRUPT;
    }
    if (r)
        failr(rs, "RestoreFailed", "the index of disk %s is damaged or does not match the "
              "recovery point", k->target);
    return r;
}

/* Restore disk k of the point: into the device, or into its temporary file (then
 * converted to qcow2 and, outside OriginalLocation, renamed into place). */
static int restore_disk(struct restore *rs, struct rdisk *k)
{
    struct vv_agent *a = rs->a;
    char tmp[NAME_MAX + 1] = "", raw[NAME_MAX + 1] = "", tpath[VV_PATH_MAX], rpath[VV_PATH_MAX];
    struct vv_index ix;
    struct vv_engine_opts eo;
    struct vv_restore_stats st;
    int fd, r, qcow2 = !k->block && !strcmp(k->format, "qcow2");

    if ((fd = open_dest(rs, k, tmp, raw)) < 0) {
        drop_tmp(rs, k);
        return VV_E_IO;
    }
    if ((r = fetch_index(rs, k, &ix)) != 0) {
        close(fd);
        drop_tmp(rs, k);
        return r;
    }
    memset(&st, 0, sizeof(st));
    eo.threads = a->threads;
    eo.cancel = &rs->cancel;
    eo.progress = &rs->done;
    r = vv_disk_restore_from(&rs->rf.base, VV_CODEC_DEFAULT_LEVEL, &ix, fd, &eo, &st);
    if (k->block && r == 0 && fsync(fd) != 0)
        r = VV_E_IO;
    close(fd);
    vv_index_release(&ix);
    if (r == 0 && qcow2) {
        const char *argv[] = {"qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", rpath,
                              tpath, NULL};
        if (vv_path_join(tpath, sizeof(tpath), "%s/%s", k->dir, tmp) != 0 ||
            vv_path_join(rpath, sizeof(rpath), "%s/%s", k->dir, raw) != 0)
            r = VV_E_TOOBIG;
        else
            r = run_argv(argv);
        unlinkat(k->dfd, raw, 0);
        k->made_raw = 0;
    }
    if (r == 0 && !k->block && !rs->original) {
        if (rename_noreplace(k->dfd, tmp, k->base) != 0) {
            r = VV_E_IO;
            failr(rs, errno == EEXIST ? "TargetExists" : "RestoreFailed",
                  "cannot rename %s/%s into place: %s", k->dir, tmp, strerror(errno));
        } else {
            k->made_tmp = 0;
        }
    }
    if (r) {
        drop_tmp(rs, k);
        if (r == VV_E_CANCELLED)
            failr(rs, "Cancelled", "cancelled");
        else
            failr(rs, "RestoreFailed", "disk %s could not be restored to %s (see the agent's log)",
                  k->target, k->path);
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

/* ---- what the vault sent, checked ------------------------------------------------ */

/* Refuse the job: field of what (the job's parameters or the recovery point) broke
 * rule. */
static int refuse(struct restore *rs, const char *code, const char *what, const char *field,
                  const char *value, const char *rule)
{
    char ex[72];

    failr(rs, code,
          "the vault sent %s whose %s '%s' is not %s; nothing was written. The vault and "
          "this agent disagree on what is valid: check that the host is registered with the "
          "right vault and that both run the same vmvault version",
          what, field, vv_agent_shown(value, ex, sizeof(ex)), rule);
    vv_error("job %s: %s", rs->id, rs->message);
    return VV_E_INVAL;
}

#define NAME_RULE "a vmvault name (1 to 64 of A-Z a-z 0-9 . _ -, first a letter or digit)"
#define DISK_RULE "a disk name (a lower-case letter or digit, then a-z 0-9 . _ -)"

/* The job's parameters, with the vault's own rules. */
static int check_params(struct restore *rs)
{
    const char *job = "a restore job";
    json_t *v, *disks = json_object_get(rs->params, "disks");
    const char *rp = json_string_value(json_object_get(rs->params, "recoveryPoint"));
    size_t i;

    if (strcmp(rs->mode, "RestoreDisks") && strcmp(rs->mode, "AlternateLocation") &&
        strcmp(rs->mode, "OriginalLocation"))
        return refuse(rs, "InvalidJobParameters", job, "restoreMode", rs->mode,
                      "RestoreDisks, AlternateLocation or OriginalLocation");
    if (rs->vm_uuid ? !vv_uuid_valid(rs->vm_uuid) : rs->original)
        return refuse(rs, "InvalidJobParameters", job, "vmUuid", rs->vm_uuid, "a UUID");
    if (rs->vm_name && !vv_name_valid(rs->vm_name))
        return refuse(rs, "InvalidJobParameters", job, "vmName", rs->vm_name, NAME_RULE);
    if (rs->new_name && !vv_name_valid(rs->new_name))
        return refuse(rs, "InvalidJobParameters", job, "targetVmName", rs->new_name, NAME_RULE);
    if (rs->format && strcmp(rs->format, "raw") && strcmp(rs->format, "qcow2"))
        return refuse(rs, "InvalidJobParameters", job, "format", rs->format, "raw or qcow2");
    if (rp && !vv_point_id_valid(rp))
        return refuse(rs, "InvalidJobParameters", job, "recoveryPoint", rp,
                      "a recovery point id");
    if (disks && !json_is_array(disks))
        return refuse(rs, "InvalidJobParameters", job, "disks", "", "a list of disk names");
    json_array_foreach(disks, i, v) {
        if (!vv_disk_name_valid(json_string_value(v)))
            return refuse(rs, "InvalidJobParameters", job, "disks[]", json_string_value(v),
                          DISK_RULE);
    }
    return 0;
}

/* The recovery point's manifest, with the vault's own rules. */
static int check_point(struct restore *rs)
{
    const char *what = "a recovery point";
    const char *name = json_string_value(json_object_get(rs->point, "name"));
    json_t *disks = json_object_get(rs->point, "disks"), *d;
    size_t i;

    if (!vv_point_id_valid(name))
        return refuse(rs, "InvalidRecoveryPoint", what, "name", name, "a recovery point id");
    if (!json_is_array(disks) || json_array_size(disks) > RESTORE_DISKS_MAX)
        return refuse(rs, "InvalidRecoveryPoint", what, "disks", "",
                      "a list of at most 256 disks");
    json_array_foreach(disks, i, d) {
        const char *dn = json_string_value(json_object_get(d, "name"));
        json_int_t size = json_integer_value(json_object_get(d, "virtualSize"));
        if (!vv_disk_name_valid(dn))
            return refuse(rs, "InvalidRecoveryPoint", what, "disks[].name", dn, DISK_RULE);
        if (!json_is_integer(json_object_get(d, "virtualSize")) || size < 0 ||
            size > ((json_int_t)1 << 50))
            return refuse(rs, "InvalidRecoveryPoint", what, "disks[].virtualSize", dn,
                          "a size of 0 to 1 PiB");
    }
    return 0;
}

/* ---- the steps ------------------------------------------------------------------- */

/* The job's parameters, and the first progress report. */
static void restore_init(struct restore *rs, struct vv_agent *a, json_t *job)
{
    json_t *params = json_object_get(job, "params");

    memset(rs, 0, sizeof(*rs));
    rs->a = a;
    rs->rdirfd = -1;
    for (size_t i = 0; i < RESTORE_DISKS_MAX; i++)
        rs->d[i].dfd = -1;
    rs->warnings = json_array();
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
    int r;

    snprintf(path, sizeof(path), "/api/v1/agent/jobs/%s/recoveryPoint", rs->id);
    if (vv_vault_json(rs->a, rs->a->http, "GET", path, NULL, &rs->point, NULL, err,
                      sizeof(err)) != 0) {
        failr(rs, "RestoreFailed", "cannot read the recovery point: %s", err);
        return VV_E_IO;
    }
    if ((r = check_point(rs)) != 0)
        return r;
    if ((xml = json_string_value(json_object_get(rs->point, "domainXml"))))
        vv_best_effort(vv_xml_domain_disks(xml, &rs->xd, &rs->nxd));
    return 0;
}

/* In place: the VM is defined here and shut off. Elsewhere: the target folder,
 * under the host's restore roots. */
static int check_target(struct restore *rs)
{
    char why[2 * VV_PATH_MAX];
    int r;

    if (!rs->original) {
        r = vv_agent_restore_dir(rs->a, rs->dir, &rs->rdirfd, rs->rdir, sizeof(rs->rdir), why,
                                 sizeof(why));
        if (r) {
            failr(rs, r == VV_E_INVAL ? "TargetNotAllowed" : "RestoreFailed", "%s", why);
            vv_error("job %s: %s", rs->id, why);
        }
        return r;
    }
    if ((r = vv_virt_get(rs->a->virt, rs->vm_uuid, &rs->vm)) == VV_E_TOOBIG)
        return r; /* a disk's path is too long (said): the restore fails with RestoreFailed */
    if (r != 0) {
        failr(rs, "VmNotFound", "VM '%s' (%s) is not defined on host '%s'; restore to an "
              "alternate location instead", rs->vm_name ? rs->vm_name : "?", rs->vm_uuid,
              rs->a->host);
        return VV_E_NOTFOUND;
    }
    rs->have_vm = 1;
    if (rs->vm.running) {
        failr(rs, "VmRunning", "VM '%s' is running; shut it down before replacing its disks",
              rs->vm.name);
        return VV_E_INVAL;
    }
    if (rs->vm_name && strcmp(rs->vm_name, rs->vm.name))
        vv_warn("VM %s is named '%s' on this host, '%s' in the vault", rs->vm_uuid, rs->vm.name,
                rs->vm_name);
    return 0;
}

/* In place: disk k is the current domain's disk of the same target. */
static int plan_in_place(struct restore *rs, struct rdisk *k)
{
    const struct vv_vm_disk *cur = NULL;
    struct stat st;

    for (size_t j = 0; j < rs->vm.ndisks; j++)
        if (!strcmp(rs->vm.disks[j].target, k->target))
            cur = &rs->vm.disks[j];
    if (!cur) {
        failr(rs, "DiskNotInDomain", "disk %s of the recovery point is not a disk of VM '%s' "
              "on this host now; restore it with RestoreDisks into a folder instead",
              k->target, rs->vm.name);
        return VV_E_NOTFOUND;
    }
    if (!cur->source[0] || cur->source[0] != '/') {
        failr(rs, "DiskNotRestorableInPlace", "disk %s of VM '%s' is not a file or a block "
              "device of this host; restore it with RestoreDisks instead", k->target, rs->vm.name);
        return VV_E_UNSUPPORTED;
    }
    k->block = cur->block || (stat(cur->source, &st) == 0 && S_ISBLK(st.st_mode));
    k->format = !strcmp(cur->format, "qcow2") ? "qcow2" : !strcmp(cur->format, "raw") ? "raw" : NULL;
    if (!k->format || (k->block && strcmp(k->format, "raw"))) {
        failr(rs, "DiskFormatUnsupported", "disk %s of VM '%s' is %s%s; vmvault restores in "
              "place raw or qcow2 files and raw block devices: restore it with RestoreDisks "
              "instead", k->target, rs->vm.name, cur->format, k->block ? " on a block device" : "");
        return VV_E_UNSUPPORTED;
    }
    if (!(k->path = strdup(cur->source)) || !(k->dir = strdup(cur->source)))
        return VV_E_NOMEM;
    *strrchr(k->dir, '/') = '\0';
    if (!k->dir[0]) /* a file in "/": the copy has room for "/" */
        snprintf(k->dir, 2, "/");
    k->base = strrchr(k->path, '/') + 1;
    if (!k->block && (k->dfd = open(k->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        failr(rs, "RestoreFailed", "cannot open the folder %s of disk %s: %s", k->dir,
              k->target, strerror(errno));
        return VV_E_IO;
    }
    return 0;
}

/* Elsewhere: disk k becomes <rdir>/<vm>-<disk>.<format>. */
static int plan_elsewhere(struct restore *rs, struct rdisk *k)
{
    const char *vm = rs->new_name ? rs->new_name : (rs->vm_name ? rs->vm_name : "vm");
    const char *fmt = rs->format;
    struct stat st;

    for (size_t j = 0; j < rs->nxd; j++)
        if (!fmt && rs->xd[j].target && !strcmp(rs->xd[j].target, k->target))
            fmt = rs->xd[j].format;
    k->format = fmt && !strcmp(fmt, "raw") ? "raw" : "qcow2";
    if (asprintf(&k->path, "%s/%s-%s.%s", rs->rdir, vm, k->target, k->format) < 0) {
        k->path = NULL;
        return VV_E_NOMEM;
    }
    if (!(k->dir = strdup(rs->rdir)))
        return VV_E_NOMEM;
    k->base = strrchr(k->path, '/') + 1;
    k->dfd = rs->rdirfd;
    if (fstatat(k->dfd, k->base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        failr(rs, "TargetExists", "%s already exists; choose another folder or remove it",
              k->path);
        return VV_E_EXISTS;
    }
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
        struct rdisk *k = &rs->d[rs->n];
        if (!disk_selected(json_object_get(rs->params, "disks"), name) ||
            rs->n >= RESTORE_DISKS_MAX)
            continue;
        k->target = name;
        k->size = (uint64_t)json_integer_value(json_object_get(d, "virtualSize"));
        rs->n++;
        if ((r = rs->original ? plan_in_place(rs, k) : plan_elsewhere(rs, k)) != 0)
            return r;
        rs->total += k->size;
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

/* Write every disk (in place: next to its file as <file>.vmvault-restore). */
static int write_disks(struct restore *rs)
{
    int r = 0;

    progress(rs, "InProgress", rs->total);
    for (size_t i = 0; i < rs->n && r == 0; i++) {
        r = restore_disk(rs, &rs->d[i]);
        if (r == 0)
            progress(rs, "InProgress", rs->total);
    }
    return r;
}

/* In place, every disk written: swap the files in, keeping the old ones aside
 * (devices were written in place already). */
static int swap_in(struct restore *rs)
{
    char aside[NAME_MAX + 1], tmp[NAME_MAX + 1], raw[NAME_MAX + 1];
    int r = 0;

    for (size_t i = 0; i < rs->n && r == 0; i++) {
        struct rdisk *k = &rs->d[i];
        if (k->block)
            continue;
        if ((r = tmp_names(rs, k, tmp, raw)) != 0 ||
            (r = vv_path_join(aside, sizeof(aside), "%s.pre-restore-%lld", k->base,
                              (long long)rs->now)) != 0)
            break;
        int had = faccessat(k->dfd, k->base, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
        if (had && rename_noreplace(k->dfd, k->base, aside) != 0) {
            failr(rs, "RestoreFailed", "cannot move %s aside: %s; it is unchanged", k->path,
                  strerror(errno));
            r = VV_E_IO;
        } else if (rename_noreplace(k->dfd, tmp, k->base) != 0) {
            int e = errno;
            /* the disk's own file goes back where it was: never a VM without its disk */
            int back = had && rename_noreplace(k->dfd, aside, k->base) == 0;
            failr(rs, "RestoreFailed", "cannot put the restored %s in place: %s; %s", k->path,
                  strerror(e),
                  !had   ? "nothing was there before"
                  : back ? "the file it had is back in place"
                         : "the file it had is kept beside it, with .pre-restore in its name");
            r = VV_E_IO;
        } else {
            k->made_tmp = 0;
            vv_info("disk %s of VM '%s' restored to %s; the file it had is kept as %s/%s",
                    k->target, rs->vm.name, k->path, k->dir, aside);
        }
    }
    return r;
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

/* The elements the restored domain's definition left out, as one warning. */
static void warn_dropped(struct restore *rs, const struct vv_xml_dropped *dr, const char *name)
{
    char list[700] = "";
    size_t len = 0;

    if (!dr->n)
        return;
    for (size_t i = 0; i < dr->n && len + 4 < sizeof(list); i++)
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s<%s>", i ? ", " : "",
                                dr->what[i]);
    json_array_append_new(
        rs->warnings,
        json_pack("{s:s,s:s+}", "code", "DomainDevicesDropped", "message",
                  "the restored domain was defined without what the saved definition had "
                  "beyond a restored VM's needs (host devices, host paths, foreign elements): ",
                  list));
    vv_warn("restored domain '%s': left out %s", name, list);
}

/* AlternateLocation: a new domain (uuid, a new name) on the restored files. */
static int define_restored(struct restore *rs, const char *uuid)
{
    const char *targets[RESTORE_DISKS_MAX], *paths[RESTORE_DISKS_MAX], *formats[RESTORE_DISKS_MAX];
    struct vv_xml_dropped dr = {NULL, 0};
    char name[256], *xml = NULL;
    int r;

    snprintf(name, sizeof(name), "%s", rs->new_name ? rs->new_name : "");
    if (!rs->new_name)
        snprintf(name, sizeof(name), "%s-restored-%lld", rs->vm_name ? rs->vm_name : "vm",
                 (long long)rs->now);
    for (size_t i = 0; i < rs->n; i++) {
        targets[i] = rs->d[i].target;
        paths[i] = rs->d[i].path;
        formats[i] = rs->d[i].format;
    }
    r = vv_xml_domain_for_restore(json_string_value(json_object_get(rs->point, "domainXml")),
                                  name, uuid, targets, paths, formats, rs->n, &dr, &xml);
    if (r == 0)
        r = vv_virt_define(rs->a->virt, xml);
    free(xml);
    if (r)
        failr(rs, "RestoreFailed",
              "the disks were restored to %s but the new domain '%s' could not be defined "
              "(see the agent's log)",
              rs->rdir, name);
    else {
        warn_dropped(rs, &dr, name);
        vv_info("defined the restored domain '%s' (%s)", name, uuid);
    }
    vv_xml_dropped_free(&dr);
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
        json_t *extra = json_pack("{s:O}", "warnings", rs->warnings);
        int warned = json_array_size(rs->warnings) > 0;
        atomic_store(&rs->done, rs->total);
        progress(rs, "Completed", rs->total);
        vv_best_effort(vv_agent_complete_with(rs->a, rs->id,
                                              warned ? "CompletedWithWarnings" : "Completed",
                                              NULL, NULL, warned ? extra : NULL));
        json_decref(extra);
    }
    fetcher_stop(&rs->rf);
    for (size_t i = 0; i < RESTORE_DISKS_MAX; i++) {
        drop_tmp(rs, &rs->d[i]);
        if (rs->d[i].dfd >= 0 && rs->d[i].dfd != rs->rdirfd)
            close(rs->d[i].dfd);
        free(rs->d[i].path);
        free(rs->d[i].dir);
    }
    if (rs->rdirfd >= 0)
        close(rs->rdirfd);
    if (rs->have_vm)
        vv_vm_release(&rs->vm);
    vv_xml_disks_free(rs->xd, rs->nxd);
    json_decref(rs->point);
    json_decref(rs->warnings);
}

int vv_agent_restore(struct vv_agent *a, json_t *job)
{
    struct restore rs;
    int r;

    restore_init(&rs, a, job);
    if ((r = check_params(&rs)) != 0 || (r = read_point(&rs)) != 0 ||
        (r = check_target(&rs)) != 0 || (r = plan_disks(&rs)) != 0 ||
        (r = fetcher_start(&rs.rf, a)) != 0)
        goto end;
    rs.rf.job = rs.id;
    r = write_disks(&rs);
    if (r == 0 && rs.original)
        r = swap_in(&rs);
    if (r == 0 && !strcmp(rs.mode, "AlternateLocation")) {
        char uuid[40];
        if ((r = new_uuid(uuid)) == 0)
            r = define_restored(&rs, uuid);
    }
end:
    restore_end(&rs, r);
    return r;
}
