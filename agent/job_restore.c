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
    const uint8_t *p, *end;
    json_t *list = json_array();
    size_t total = 0, sizes[VV_FETCH_MANY_MAX]; /* each chunk's plaintext, 0 when sent as is */
    int r;

    if (w->idx < 0 || w->idx >= rf->nworkers || n == 0 || n > VV_FETCH_MANY_MAX || !list) {
        json_decref(list);
        return VV_E_INVAL;
    }
    fw = &rf->w[w->idx];
    resp = &fw->resp;
    if (!fw->http && !(fw->http = vv_agent_http(rf->a))) {
        json_decref(list);
        return VV_E_NOMEM;
    }
    for (size_t k = 0; k < n; k++) {
        vv_hex_encode(ids[k], VV_CHUNK_ID_LEN, hex);
        json_array_append_new(list, json_string(hex));
    }
    {
        json_t *o = json_pack("{s:o}", "ids", list); /* takes list */
        body = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
    }
    if (!body)
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
    p = resp->body.data;
    end = p + resp->body.len;
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
            total += plain;
        }
        p += VV_REC_HEAD + rec.len;
    }
    if (p != end) {
        vv_error("the vault's answer to %zu chunk(s) has %zu bytes too many", n, (size_t)(end - p));
        return VV_E_CORRUPT;
    }
    if ((r = vv_buf_resize(&fw->joined, total)) != 0)
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

struct restore {
    struct vv_agent *a;
    const char *id;
    json_t *point;    /* the point's manifest as the vault gives it */
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
    char api[300], err[600], partial[4400], raw[4500];
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
    snprintf(partial, sizeof(partial), "%s.partial", path);
    snprintf(raw, sizeof(raw), "%s%s", partial, qcow2 ? ".raw" : "");
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

int vv_agent_restore(struct vv_agent *a, json_t *job);

int vv_agent_restore(struct vv_agent *a, json_t *job)
{
    json_t *params = json_object_get(job, "params"), *disks, *d;
    const char *mode = json_string_value(json_object_get(params, "restoreMode"));
    const char *dir = json_string_value(json_object_get(params, "targetDirectory"));
    const char *format = json_string_value(json_object_get(params, "format"));
    const char *vm_name = json_string_value(json_object_get(params, "vmName"));
    const char *vm_uuid = json_string_value(json_object_get(params, "vmUuid"));
    const char *new_name = json_string_value(json_object_get(params, "targetVmName"));
    struct restore rs;
    struct remote_fetch rf;
    struct vv_xml_disk *xd = NULL;
    size_t nxd = 0, i, n = 0;
    const char *targets[256], *formats[256];
    char *paths[256];
    uint64_t total = 0;
    char path[256];
    time_t now = time(NULL);
    int r = 0, original;

    memset(&rs, 0, sizeof(rs));
    memset(&rf, 0, sizeof(rf));
    memset(paths, 0, sizeof(paths));
    rs.a = a;
    rs.id = json_string_value(json_object_get(job, "id"));
    mode = mode ? mode : "RestoreDisks";
    original = !strcmp(mode, "OriginalLocation");
    progress(&rs, "InProgress", 0);
    snprintf(path, sizeof(path), "/api/v1/agent/jobs/%s/recoveryPoint", rs.id);
    {
        char err[600];
        if (vv_vault_json(a, a->http, "GET", path, NULL, &rs.point, NULL, err, sizeof(err)) != 0) {
            failr(&rs, "RestoreFailed", "cannot read the recovery point: %s", err);
            r = VV_E_IO;
            goto end;
        }
    }
    disks = json_object_get(rs.point, "disks");
    if (json_is_string(json_object_get(rs.point, "domainXml")))
        vv_xml_domain_disks(json_string_value(json_object_get(rs.point, "domainXml")), &xd, &nxd);
    if (original) {
        struct vv_vm vm;
        if (vv_virt_get(a->virt, vm_uuid, &vm) != 0) {
            failr(&rs, "VmNotFound", "VM '%s' is not defined on host '%s'; restore to an "
                  "alternate location instead", vm_name ? vm_name : "?", a->host);
            r = VV_E_NOTFOUND;
            goto end;
        }
        if (vm.running) {
            failr(&rs, "VmRunning", "VM '%s' is running; shut it down before replacing its disks",
                  vm.name);
            vv_vm_release(&vm);
            r = VV_E_INVAL;
            goto end;
        }
        vv_vm_release(&vm);
    } else if (!dir || (mkdir(dir, 0755) != 0 && errno != EEXIST)) {
        failr(&rs, "RestoreFailed", "cannot create the target folder %s: %s", dir ? dir : "?",
              strerror(errno));
        r = VV_E_IO;
        goto end;
    }
    /* What goes where. */
    json_array_foreach(disks, i, d) {
        const char *name = json_string_value(json_object_get(d, "name"));
        const char *fmt = format, *src = NULL;
        if (!name || !disk_selected(json_object_get(params, "disks"), name) || n >= 256)
            continue;
        for (size_t k = 0; k < nxd; k++)
            if (xd[k].target && !strcmp(xd[k].target, name)) {
                if (!fmt)
                    fmt = xd[k].format;
                src = xd[k].source;
            }
        if (!fmt || (strcmp(fmt, "raw") && strcmp(fmt, "qcow2")))
            fmt = "qcow2";
        targets[n] = name;
        formats[n] = fmt;
        if (original) {
            if (!src) {
                failr(&rs, "RestoreFailed", "the saved definition has no file for disk %s", name);
                r = VV_E_INVAL;
                goto end;
            }
            paths[n] = strdup(src);
        } else {
            if (asprintf(&paths[n], "%s/%s-%s.%s", dir,
                         new_name ? new_name : (vm_name ? vm_name : "vm"), name, fmt) < 0)
                paths[n] = NULL;
            if (paths[n] && access(paths[n], F_OK) == 0) {
                failr(&rs, "TargetExists", "%s already exists; choose another folder or remove it",
                      paths[n]);
                r = VV_E_EXISTS;
                n++;
                goto end;
            }
        }
        if (!paths[n]) {
            r = VV_E_NOMEM;
            goto end;
        }
        total += (uint64_t)json_integer_value(json_object_get(d, "virtualSize"));
        n++;
    }
    if (n == 0) {
        failr(&rs, "RestoreFailed", "no disk of the recovery point was selected");
        r = VV_E_INVAL;
        goto end;
    }
    rf.base.ops = &remote_ops;
    rf.a = a;
    rf.nworkers = a->threads;
    if (!(rf.w = calloc((size_t)a->threads, sizeof(*rf.w)))) {
        r = VV_E_NOMEM;
        goto end;
    }
    for (int k = 0; k < a->threads; k++) {
        vv_buf_init(&rf.w[k].plain, 0);
        vv_http_response_init(&rf.w[k].resp);
        vv_buf_init(&rf.w[k].joined, 0);
    }
    progress(&rs, "InProgress", total);
    for (i = 0; i < n && r == 0; i++) {
        char dest[4300];
        if (original)
            snprintf(dest, sizeof(dest), "%s.vmvault-restore", paths[i]);
        else
            snprintf(dest, sizeof(dest), "%s", paths[i]);
        r = restore_disk(&rs, &rf, targets[i], dest, formats[i]);
        if (r == 0)
            progress(&rs, "InProgress", total);
    }
    if (r == 0 && original) {
        /* Every disk is written: swap them in, keeping the old files aside. */
        for (i = 0; i < n && r == 0; i++) {
            char aside[4400], fresh[4400];
            snprintf(aside, sizeof(aside), "%s.pre-restore-%lld", paths[i], (long long)now);
            snprintf(fresh, sizeof(fresh), "%s.vmvault-restore", paths[i]);
            if ((access(paths[i], F_OK) == 0 && rename(paths[i], aside) != 0) ||
                rename(fresh, paths[i]) != 0) {
                failr(&rs, "RestoreFailed", "cannot put %s in place: %s", paths[i],
                      strerror(errno));
                r = VV_E_IO;
            }
        }
    } else if (r && original) {
        for (i = 0; i < n; i++) {
            char fresh[4300];
            snprintf(fresh, sizeof(fresh), "%s.vmvault-restore", paths[i]);
            unlink(fresh);
        }
    }
    if (r == 0 && !strcmp(mode, "AlternateLocation")) {
        char uuid[40], name[256], *xml = NULL;
        uint8_t u[16];
        if ((r = vv_random(u, sizeof(u))) != 0)
            return r;
        u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
        u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
        snprintf(uuid, sizeof(uuid),
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
                 u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
                 u[14], u[15]);
        snprintf(name, sizeof(name), "%s", new_name ? new_name : "");
        if (!new_name)
            snprintf(name, sizeof(name), "%s-restored-%lld", vm_name ? vm_name : "vm",
                     (long long)now);
        r = vv_xml_domain_for_restore(json_string_value(json_object_get(rs.point, "domainXml")),
                                      name, uuid, targets, (const char *const *)paths, formats, n,
                                      &xml);
        if (r == 0)
            r = vv_virt_define(a->virt, xml);
        free(xml);
        if (r)
            failr(&rs, "RestoreFailed",
                  "the disks were restored to %s but the new domain '%s' could not be defined "
                  "(see the agent's log)",
                  dir, name);
        else
            vv_info("defined the restored domain '%s' (%s)", name, uuid);
    }
end:
    if (r && rs.code[0] && !strcmp(rs.code, "Cancelled")) {
        progress(&rs, "Cancelled", total);
        vv_agent_complete(a, rs.id, "Cancelled", NULL, NULL);
    } else if (r) {
        if (!rs.code[0])
            failr(&rs, "RestoreFailed", "the restore failed: %s", vv_strerror(r));
        progress(&rs, "Failed", total);
        vv_agent_complete(a, rs.id, "Failed", rs.code, rs.message);
    } else {
        atomic_store(&rs.done, total);
        progress(&rs, "Completed", total);
        vv_agent_complete(a, rs.id, "Completed", NULL, NULL);
    }
    for (int k = 0; rf.w && k < rf.nworkers; k++) {
        vv_http_free(rf.w[k].http);
        vv_buf_release(&rf.w[k].plain);
        vv_http_response_release(&rf.w[k].resp);
        vv_buf_release(&rf.w[k].joined);
    }
    free(rf.w);
    for (i = 0; i < 256; i++)
        free(paths[i]);
    vv_xml_disks_free(xd, nxd);
    json_decref(rs.point);
    return r;
}
