/*
 * job_backup.c: one Backup job, from the vault's job to a committed recovery point.
 *
 *  Take Snapshot: a running domain gets a pull-mode backup (libvirt exports each
 *    disk over NBD on a unix socket) that also creates a new checkpoint; its qcow2
 *    disks carry dirty bitmaps from the chain's last checkpoint when the chain is
 *    intact. A shut-off domain's images are read directly (read-only qemu-nbd).
 *  Transfer data to vault: per disk, read the dirty extents (incremental) or the
 *    allocated ones (full), chunk, hash, ask the vault what it lacks, upload that;
 *    upload the disk's index; commit the point; end the backup job.
 *  Then the chain moves on: the new checkpoint and the point's indexes are kept for
 *    the next incremental and the previous checkpoint is deleted.
 *
 * A failure or a cancel at any step ends the libvirt backup job, deletes the
 * checkpoint it created and removes the sockets and scratch files: the host is left
 * as it was, and the chain's old checkpoint still covers every change since.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "buf.h"
#include "engine/engine.h"
#include "err.h"
#include "format/index.h"
#include "format/manifest.h"
#include "log.h"
#include "nbd.h"
#include "quiesce.h"
#include "policy/scripts.h"
#include "upload.h"
#include "util.h"
#include "virt.h"

#define MAX_DISKS 64

/* The VM's chain as the agent keeps it between backups. */
struct chain {
    char point[VV_POINT_ID_MAX];
    char checkpoint[128];
};

struct job {
    struct vv_agent *a;
    const char *id;
    char vm_uuid[40], vm_name[256], last_point[VV_POINT_ID_MAX];
    struct vv_vm vm;
    struct chain chain;
    char run_dir[VV_PATH_MAX], socket[VV_PATH_MAX];
    char new_checkpoint[128];
    int began;           /* a libvirt backup job runs */
    int transferring;    /* the snapshot is taken: failures are the transfer's */
    json_t *tasks;       /* the sub-tasks as last reported */
    json_t *warnings;    /* [{code, message}] of the transfer; owned */
    int chain_broken;    /* an IncrementalChainBroken warning was given */
    struct vv_script_settings scripts; /* pre/post-scripts and freeze */
    struct vv_quiesce q;               /* the point in time's consistency */
    const char *targets[MAX_DISKS], *bitmaps[MAX_DISKS]; /* disks, those with bitmaps */
    size_t nbitmaps;
    const char *inc;     /* the checkpoint an incremental follows, or NULL */
    char code[64], message[1024];
    struct vv_backup_stats st; /* what the transfer read and sent */
    int incremental;
    /* progress, shared with the reporter thread */
    atomic_uint_fast64_t done;
    atomic_uint_fast64_t total;
    atomic_int cancel;
    atomic_int finished;
    pthread_mutex_t mu; /* guards tasks and rh */
    struct vv_http *rh; /* progress reports' client; owned */
};

/* The chain file and the chain folder of VM uuid: 0, or VV_E_TOOBIG said. */
static int chain_paths(struct vv_agent *a, const char *uuid, char *json, size_t jl, char *dir,
                       size_t dl)
{
    if (vv_path_join(json, jl, "%s/chains/%s.json", a->state_dir, uuid) != 0 ||
        vv_path_join(dir, dl, "%s/chains/%s", a->state_dir, uuid) != 0)
        return vv_fail(VV_E_TOOBIG, "the path of %s/chains/%s is too long", a->state_dir, uuid);
    return 0;
}

/* The chain kept for VM uuid into *c (empty when none is kept): 0, or VV_E_TOOBIG. */
static int chain_load(struct vv_agent *a, const char *uuid, struct chain *c)
{
    char jpath[VV_PATH_MAX], dir[VV_PATH_MAX];
    struct vv_buf b;
    json_t *j;
    int r;

    memset(c, 0, sizeof(*c));
    if ((r = chain_paths(a, uuid, jpath, sizeof(jpath), dir, sizeof(dir))) != 0)
        return r;
    vv_buf_init(&b, 1 << 20);
    if (vv_read_file(jpath, &b) == 0 && (j = vv_json_parse(b.data, b.len, NULL, 0))) {
        const char *p = json_string_value(json_object_get(j, "point"));
        const char *cp = json_string_value(json_object_get(j, "checkpoint"));
        if (p && strlen(p) < sizeof(c->point))
            snprintf(c->point, sizeof(c->point), "%s", p);
        if (cp && strlen(cp) < sizeof(c->checkpoint))
            snprintf(c->checkpoint, sizeof(c->checkpoint), "%s", cp);
        json_decref(j);
    }
    vv_buf_release(&b);
    return 0;
}

/* The index of disk target in the chain's last point, when it is kept. */
static int chain_index(struct vv_agent *a, const char *uuid, const char *target,
                       struct vv_index *out)
{
    char jpath[VV_PATH_MAX], dir[VV_PATH_MAX], path[VV_PATH_MAX];
    struct vv_buf b;
    int r;

    if ((r = chain_paths(a, uuid, jpath, sizeof(jpath), dir, sizeof(dir))) != 0)
        return r;
    if (vv_path_join(path, sizeof(path), "%s/%s.index", dir, target) != 0)
        return vv_fail(VV_E_TOOBIG, "the path of %s/%s.index is too long", dir, target);
    vv_buf_init(&b, 1u << 30);
    r = vv_read_file(path, &b);
    if (r == 0)
        r = vv_index_parse(b.data, b.len, out);
    vv_buf_release(&b);
    return r;
}

static int mkdir_one(const char *p)
{
    if (mkdir(p, 0700) == 0 || errno == EEXIST)
        return 0;
    vv_error("cannot create %s: %s", p, strerror(errno));
    return VV_E_IO;
}

/* Keep the new chain: point, checkpoint, indexes. */
static int chain_save(struct vv_agent *a, const char *uuid, const char *point,
                      const char *checkpoint, const struct vv_vm *vm, const struct vv_index *ix)
{
    char jpath[VV_PATH_MAX], dir[VV_PATH_MAX], path[VV_PATH_MAX];
    json_t *j;
    char *text;
    int r;

    if (vv_path_join(path, sizeof(path), "%s/chains", a->state_dir) != 0)
        return vv_fail(VV_E_TOOBIG, "the path of %s/chains is too long", a->state_dir);
    if ((r = chain_paths(a, uuid, jpath, sizeof(jpath), dir, sizeof(dir))) != 0 ||
        (r = mkdir_one(path)) || (r = mkdir_one(dir)))
        return r;
    for (size_t i = 0; i < vm->ndisks; i++) {
        struct vv_buf b = VV_BUF_INIT;
        if (vv_path_join(path, sizeof(path), "%s/%s.index", dir, vm->disks[i].target) != 0)
            r = vv_fail(VV_E_TOOBIG, "the path of %s/%s.index is too long", dir,
                        vm->disks[i].target);
        else if ((r = vv_index_serialize(&ix[i], &b)) == 0)
            r = vv_state_write(path, b.data, b.len);
        vv_buf_release(&b);
        if (r)
            return r;
    }
    j = json_pack("{s:s,s:s?}", "point", point, "checkpoint", checkpoint);
    text = j ? vv_json_dump(j) : NULL;
    json_decref(j);
    if (!text)
        return VV_E_NOMEM;
    r = vv_state_write(jpath, text, strlen(text));
    free(text);
    return r;
}

/* ---- progress ----------------------------------------------------------------- */

static void set_task(struct job *jb, const char *name, const char *status)
{
    size_t i;
    json_t *t;
    pthread_mutex_lock(&jb->mu);
    json_array_foreach(jb->tasks, i, t) {
        if (!strcmp(json_string_value(json_object_get(t, "name")), name))
            json_object_set_new(t, "status", json_string(status));
    }
    pthread_mutex_unlock(&jb->mu);
}

static int report(struct job *jb)
{
    json_t *tasks;
    int r;
    pthread_mutex_lock(&jb->mu);
    tasks = json_deep_copy(jb->tasks);
    r = jb->rh ? vv_agent_progress(jb->a, jb->rh, jb->id, tasks, (int64_t)atomic_load(&jb->done),
                                   (int64_t)atomic_load(&jb->total))
               : VV_E_NOMEM;
    pthread_mutex_unlock(&jb->mu);
    json_decref(tasks);
    if (r == 1)
        atomic_store(&jb->cancel, 1);
    return r;
}

/* Reports progress every second until the job ends; sets cancel when asked. */
static void *reporter(void *arg)
{
    struct job *jb = arg;
    int ticks = 0;
    while (!atomic_load(&jb->finished)) {
        usleep(100 * 1000);
        if (++ticks % 10 == 0)
            report(jb);
        if (atomic_load(&jb->a->stop))
            atomic_store(&jb->cancel, 1);
    }
    return NULL;
}

static void failf(struct job *jb, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void failf(struct job *jb, const char *code, const char *fmt, ...)
{
    va_list ap;
    if (jb->code[0])
        return;
    snprintf(jb->code, sizeof(jb->code), "%s", code);
    va_start(ap, fmt);
    vsnprintf(jb->message, sizeof(jb->message), fmt, ap);
    va_end(ap);
}

/* A failure the vault's answer (or its absence) explains: err is "CODE: message";
 * the code stands when it names the cause, else fallback. */
static void fail_vault(struct job *jb, const char *fallback, const char *err)
{
    char code[64];
    const char *msg = vv_agent_err_split(err, code, sizeof(code));
    failf(jb, code[0] ? code : fallback, "%s", code[0] ? msg : err);
}

static void add_warning(struct job *jb, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_warning(struct job *jb, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!strcmp(code, "IncrementalChainBroken")) {
        if (jb->chain_broken)
            return;
        jb->chain_broken = 1;
    }
    json_array_append_new(jb->warnings, json_pack("{s:s,s:s}", "code", code, "message", msg));
}

/* Keep the disks the item's disk settings select ({"setting": "include"|"exclude",
 * "disks": [...]}; NULL keeps all). */
static void select_disks(struct vv_vm *vm, const json_t *ds)
{
    const char *setting = json_string_value(json_object_get(ds, "setting"));
    const json_t *list = json_object_get(ds, "disks");
    size_t k = 0;

    if (!setting || !json_is_array(list))
        return;
    for (size_t i = 0; i < vm->ndisks; i++) {
        int listed = 0;
        size_t j;
        json_t *v;
        json_array_foreach((json_t *)(uintptr_t)list, j, v) {
            if (json_is_string(v) && !strcmp(json_string_value(v), vm->disks[i].target))
                listed = 1;
        }
        if (listed == !strcmp(setting, "include"))
            vm->disks[k++] = vm->disks[i];
    }
    vm->ndisks = k;
}

/* ---- the steps ----------------------------------------------------------------- */

static int is_qcow2(const struct vv_vm_disk *d) { return !strcmp(d->format, "qcow2"); }

/* Everything the point in time needs that can be done before the guest is frozen:
 * the chain decision (incremental from which checkpoint), the run folder. */
static int prepare_snapshot(struct job *jb, const char **inc)
{
    struct vv_agent *a = jb->a;
    char runs[VV_PATH_MAX];
    int r;

    *inc = NULL;
    if (!jb->vm.running)
        return 0; /* shut off: the images are read as they are */
    for (size_t i = 0; i < jb->vm.ndisks; i++) {
        jb->targets[i] = jb->vm.disks[i].target;
        if (is_qcow2(&jb->vm.disks[i]))
            jb->bitmaps[jb->nbitmaps++] = jb->vm.disks[i].target;
    }
    if (jb->chain.checkpoint[0]) {
        if (strcmp(jb->chain.point, jb->last_point) != 0)
            add_warning(jb, "IncrementalChainBroken",
                     "the vault's last recovery point (%s) is not the one this host's checkpoint "
                     "follows (%s); all allocated data was read again and a new chain started",
                     jb->last_point[0] ? jb->last_point : "none", jb->chain.point);
        else if (vv_virt_checkpoint_exists(a->virt, jb->vm_uuid, jb->chain.checkpoint) != 1)
            add_warning(jb, "IncrementalChainBroken",
                     "checkpoint %s of the last backup is missing from the VM; all allocated "
                     "data was read again and a new chain started",
                     jb->chain.checkpoint);
        else
            *inc = jb->chain.checkpoint;
    }
    snprintf(jb->new_checkpoint, sizeof(jb->new_checkpoint), "%s%.8s-%lld", a->cp_prefix, jb->id,
             (long long)time(NULL));
    if (vv_path_join(jb->run_dir, sizeof(jb->run_dir), "%s/run/%s", a->state_dir, jb->id) != 0 ||
        vv_path_join(runs, sizeof(runs), "%s/run", a->state_dir) != 0 ||
        vv_path_join(jb->socket, sizeof(jb->socket), "%s/nbd.sock", jb->run_dir) != 0)
        return vv_fail(VV_E_TOOBIG, "the path of %s/run/%s/nbd.sock is too long", a->state_dir,
                       jb->id);
    if ((r = mkdir_one(runs)))
        return r;
    chmod(runs, 0711);
    /* QEMU creates the socket here: its group may write, nobody else may (trust.c) */
    if (jb->vm.running && jb->vm.qemu_uid < 0)
        vv_warn("job %s: the running domain has no numeric DAC label (+UID:+GID), so QEMU's "
                "user is unknown and %s is made 0700: if QEMU does not run as root, it "
                "cannot create its socket there and the backup fails; enable libvirt's DAC "
                "security driver (security_driver in /etc/libvirt/qemu.conf)",
                jb->id, jb->run_dir);
    return vv_agent_job_dir(jb->run_dir, jb->vm.qemu_uid > 0 ? jb->vm.qemu_gid : -1);
}

/* The point in time itself (vv_take_fn): the pull-mode backup and its checkpoint. */
static int begin_snapshot(void *arg)
{
    struct job *jb = arg;
    int r;

    if (!jb->vm.running)
        return 0;
    r = vv_virt_backup_begin(jb->a->virt, jb->vm_uuid, jb->socket, jb->run_dir, jb->targets,
                             jb->vm.ndisks, jb->bitmaps, jb->nbitmaps, jb->inc,
                             jb->nbitmaps ? jb->new_checkpoint : NULL);
    if (r) {
        failf(jb, "SnapshotFailed",
              "libvirt could not start a backup of VM '%s' (see the agent's log); check that "
              "the domain runs and that no other backup job is active on it",
              jb->vm_name);
        jb->new_checkpoint[0] = 0;
        return r;
    }
    if (!jb->nbitmaps)
        jb->new_checkpoint[0] = 0;
    jb->began = 1;
    return 0;
}

/* Scripts, freeze, point in time, thaw (quiesce.h). */
static int take_snapshot(struct job *jb, const char **inc)
{
    char shown[VV_SHOWN_MAX]; /* the vault's vmName: quiesce.c logs it */
    int r = prepare_snapshot(jb, inc);
    if (r)
        return r;
    jb->inc = *inc;
    r = vv_quiesce_take(jb->a, jb->vm_uuid, vv_agent_shown(jb->vm_name, shown, sizeof(shown)),
                        jb->vm.running, &jb->scripts, begin_snapshot, jb, &jb->cancel, &jb->q);
    if (r == VV_E_CANCELLED)
        failf(jb, "Cancelled", "cancelled");
    else if (r && jb->q.code[0])
        failf(jb, jb->q.code, "%s", jb->q.message);
    return r;
}

static int upload_index(struct job *jb, const char *target, const struct vv_index *ix)
{
    struct vv_buf b = VV_BUF_INIT;
    char path[300], err[600];
    int r = vv_index_serialize(ix, &b);
    if (r == 0) {
        snprintf(path, sizeof(path), "/api/v1/agent/jobs/%s/disks/%s/index", jb->id, target);
        r = vv_vault_raw(jb->a, jb->a->http, "PUT", path, b.data, b.len, NULL, NULL, NULL, err,
                         sizeof(err));
        if (r)
            fail_vault(jb, "UploadFailed", err);
    }
    vv_buf_release(&b);
    return r;
}

static int add_len(uint64_t off, uint64_t len, void *arg)
{
    (void)off;
    *(uint64_t *)arg += len;
    return 0;
}

/* One disk's source, parent index and dirty extents, opened before any transfer so
 * the job's total is known up front. */
struct disk_plan {
    struct vv_source *src;
    struct vv_index parent;
    int has_parent;
    struct vv_extent *dirty;
    size_t ndirty;
};

static void plans_free(struct disk_plan *p, size_t n)
{
    for (size_t i = 0; p && i < n; i++) {
        vv_source_close(p[i].src);
        vv_index_release(&p[i].parent);
        free(p[i].dirty);
    }
    free(p);
}

static int plan(struct job *jb, const char *inc, struct disk_plan *p)
{
    struct vv_agent *a = jb->a;
    uint64_t total = 0;
    int r = 0;

    for (size_t i = 0; i < jb->vm.ndisks && r == 0; i++) {
        const struct vv_vm_disk *d = &jb->vm.disks[i];
        char bitmap[128];
        int use_bitmap = inc && is_qcow2(d);

        if (use_bitmap && chain_index(a, jb->vm_uuid, d->target, &p[i].parent) == 0)
            p[i].has_parent = 1;
        else if (use_bitmap)
            add_warning(jb, "IncrementalChainBroken",
                     "the index of disk %s in point %s is not kept on this host; the disk was "
                     "read in full",
                     d->target, jb->chain.point);
        snprintf(bitmap, sizeof(bitmap), "backup-%s", d->target);
        if (jb->vm.running)
            r = vv_nbd_open_unix(jb->socket, d->target, p[i].has_parent ? bitmap : NULL, &p[i].src);
        else
            r = vv_nbd_open_image(d->source, d->format, &p[i].src);
        if (r) {
            failf(jb, "DiskReadFailed", "cannot read disk %s of VM '%s' (%s); see the agent's log",
                  d->target, jb->vm_name, d->source);
            break;
        }
        if (p[i].has_parent) {
            if ((r = vv_nbd_dirty_extents(p[i].src, &p[i].dirty, &p[i].ndirty)) != 0) {
                failf(jb, "DiskReadFailed", "cannot read the dirty bitmap of disk %s", d->target);
                break;
            }
            for (size_t k = 0; k < p[i].ndirty; k++)
                total += p[i].dirty[k].len;
        } else if ((r = p[i].src->ops->map(p[i].src, 0, p[i].src->size, add_len, &total)) != 0) {
            failf(jb, "DiskReadFailed", "cannot map the allocated data of disk %s", d->target);
        }
    }
    atomic_store(&jb->total, total);
    return r;
}

static int transfer(struct job *jb, const char *inc, struct vv_index *ix)
{
    struct vv_agent *a = jb->a;
    struct vv_upload *up = NULL;
    struct vv_engine_opts eo;
    struct disk_plan *p;
    char shown[VV_SHOWN_MAX];
    int r;

    eo.threads = a->threads;
    eo.cancel = &jb->cancel;
    eo.progress = &jb->done;
    if (!(p = calloc(jb->vm.ndisks, sizeof(*p))))
        return VV_E_NOMEM;
    if ((r = plan(jb, inc, p)) == 0 && (r = vv_upload_new(a, a->threads, &up)) == 0) {
        vv_upload_set_cancel(up, &jb->cancel);
        vv_upload_set_job(up, jb->id);
    }
    for (size_t i = 0; i < jb->vm.ndisks && r == 0; i++) {
        const struct vv_vm_disk *d = &jb->vm.disks[i];
        struct vv_index *pp = p[i].has_parent ? &p[i].parent : NULL;

        r = vv_disk_backup_to(vv_upload_sink(up), VV_CODEC_DEFAULT_LEVEL, p[i].src,
                              pp ? pp->chunk_size : VV_CHUNK_SIZE_DEFAULT, pp, p[i].dirty,
                              p[i].ndirty, &eo, &ix[i], &jb->st);
        if (pp)
            jb->incremental = 1;
        if (r == VV_E_CANCELLED)
            failf(jb, "Cancelled", "cancelled");
        else if (r)
            vv_upload_error(up)[0]
                ? fail_vault(jb, "ExtensionSnapshotFailedNoNetwork", vv_upload_error(up))
                : failf(jb, "DiskReadFailed", "reading the disk failed; see the agent's log");
        if (r == 0)
            r = upload_index(jb, d->target, &ix[i]);
    }
    vv_info("backup of %s: read %llu chunk(s) (%llu bytes), %llu new (%llu bytes sent), %llu "
            "already in the vault, %llu zero, %llu kept from the parent",
            vv_agent_shown(jb->vm_name, shown, sizeof(shown)),
            (unsigned long long)jb->st.chunks_read,
            (unsigned long long)jb->st.bytes_read, (unsigned long long)jb->st.chunks_new,
            (unsigned long long)jb->st.bytes_stored, (unsigned long long)jb->st.chunks_dedup,
            (unsigned long long)jb->st.chunks_zero, (unsigned long long)jb->st.chunks_kept);
    vv_upload_free(up);
    plans_free(p, jb->vm.ndisks);
    return r;
}

static int commit(struct job *jb, int incremental, char point[VV_POINT_ID_MAX])
{
    json_t *disks = json_array(), *body, *ans = NULL;
    char path[200], err[600];
    const char *name;
    int r;

    for (size_t i = 0; i < jb->vm.ndisks; i++)
        json_array_append_new(disks, json_pack("{s:s,s:s}", "name", jb->vm.disks[i].target,
                                               "source", jb->vm.disks[i].source));
    body = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "consistency",
                     vv_consistency_name(jb->q.type), "parent",
                     incremental ? jb->last_point : "", "vmName", jb->vm_name, "vmUuid",
                     jb->vm_uuid, "domainXml", jb->vm.xml, "disks", disks);
    snprintf(path, sizeof(path), "/api/v1/agent/jobs/%s/recoveryPoint", jb->id);
    r = vv_vault_json(jb->a, jb->a->http, "POST", path, body, &ans, NULL, err, sizeof(err));
    json_decref(body);
    if (r) {
        fail_vault(jb, "CommitFailed", err);
        return r;
    }
    name = json_string_value(json_object_get(ans, "name"));
    if (!vv_point_id_valid(name)) {
        /* it names the chain file's point and the next incremental's parent */
        char shown[VV_SHOWN_MAX];
        failf(jb, "InvalidRecoveryPoint",
              "the vault committed the backup but named the recovery point '%s', which is not "
              "a recovery point id (rp- then a-z 0-9 -); this host's chain was not moved on "
              "to it. Check that the host is registered with "
              "the right vault and that both run the same vmvault version",
              vv_agent_shown(name, shown, sizeof(shown)));
        json_decref(ans);
        return VV_E_CORRUPT;
    }
    snprintf(point, VV_POINT_ID_MAX, "%s", name);
    json_decref(ans);
    return 0;
}

/* Undo what a failed or cancelled job left on the host. */
static void clean_host(struct job *jb, int keep_checkpoint)
{
    if (jb->began) {
        vv_best_effort(vv_virt_backup_end(jb->a->virt, jb->vm_uuid));
        jb->began = 0;
    }
    if (!keep_checkpoint && jb->new_checkpoint[0])
        vv_best_effort(vv_virt_checkpoint_delete(jb->a->virt, jb->vm_uuid, jb->new_checkpoint));
    if (jb->run_dir[0]) {
        char p[VV_PATH_MAX];
        for (size_t i = 0; i < jb->vm.ndisks; i++) {
            if (vv_path_join(p, sizeof(p), "%s/%s.scratch", jb->run_dir,
                             jb->vm.disks[i].target) == 0)
                unlink(p);
            else
                vv_error("cannot remove %s/%s.scratch: the path is too long", jb->run_dir,
                         jb->vm.disks[i].target);
        }
        unlink(jb->socket);
        rmdir(jb->run_dir);
    }
}

/* The job's parameters and its reporting; the first progress report. */
static void job_init(struct job *jb, struct vv_agent *a, json_t *job)
{
    json_t *params = json_object_get(job, "params");
    const json_t *ss;
    const char *s;
    char serr[300];

    memset(jb, 0, sizeof(*jb));
    jb->a = a;
    jb->id = json_string_value(json_object_get(job, "id"));
    pthread_mutex_init(&jb->mu, NULL);
    jb->rh = vv_agent_http(a);
    jb->warnings = json_array();
    vv_scripts_default(&jb->scripts);
    jb->tasks = json_pack("[{s:s,s:s},{s:s,s:s}]", "name", "Take Snapshot", "status",
                          "InProgress", "name", "Transfer data to vault", "status", "NotStarted");
    if ((s = json_string_value(json_object_get(params, "vmUuid"))))
        snprintf(jb->vm_uuid, sizeof(jb->vm_uuid), "%s", s);
    if ((s = json_string_value(json_object_get(params, "vmName"))))
        snprintf(jb->vm_name, sizeof(jb->vm_name), "%s", s);
    if ((s = json_string_value(json_object_get(params, "lastRecoveryPoint"))))
        snprintf(jb->last_point, sizeof(jb->last_point), "%s", s);
    if ((ss = json_object_get(params, "scriptSettings")) && !json_is_null(ss) &&
        vv_scripts_from_json(ss, &jb->scripts, serr, sizeof(serr)) != 0) {
        vv_scripts_default(&jb->scripts);
        add_warning(jb, "ScriptSettingsIgnored",
                    "the item's script settings were not understood (%s); the backup ran "
                    "without scripts",
                    serr);
    }
    report(jb);
}

/* The VM as the host has it, with the disks the item's settings select. */
static int load_vm(struct job *jb, const json_t *disk_settings)
{
    int r;

    if (!vv_uuid_valid(jb->vm_uuid)) { /* it names the chain's files: the vault's rule */
        failf(jb, "InvalidJobParameters", "the vault sent a backup job whose vmUuid is not a "
              "UUID; nothing was done: check that the host is registered with the right vault");
        return VV_E_INVAL;
    }
    r = vv_virt_get(jb->a->virt, jb->vm_uuid, &jb->vm);

    if (r == VV_E_TOOBIG)
        return r; /* a disk's path is too long (said): the job fails with BackupFailed */
    if (r) {
        failf(jb, "VmNotFound", "VM '%s' (%s) is not defined on host '%s' any more; stop its "
              "protection or re-create it", jb->vm_name, jb->vm_uuid, jb->a->host);
        return r;
    }
    select_disks(&jb->vm, disk_settings);
    if (jb->vm.ndisks == 0 || jb->vm.ndisks > MAX_DISKS) {
        failf(jb, "NoDisks",
              "VM '%s' has %zu disks to back up (after its disk settings); vmvault backs up 1 "
              "to %d",
              jb->vm_name, jb->vm.ndisks, MAX_DISKS);
        return VV_E_UNSUPPORTED;
    }
    return chain_load(jb->a, jb->vm_uuid, &jb->chain);
}

/* 0, or VV_E_CANCELLED with the job failed so when a cancel was asked for. */
static int cancelled(struct job *jb)
{
    if (!atomic_load(&jb->cancel))
        return 0;
    failf(jb, "Cancelled", "cancelled");
    return VV_E_CANCELLED;
}

/* Snapshot, transfer, commit (point), and the chain moving on. *ix: the disks'
 * indexes (the caller frees them). */
static int backup_steps(struct job *jb, const json_t *params, struct vv_index **ix,
                        char point[VV_POINT_ID_MAX])
{
    struct vv_agent *a = jb->a;
    const char *inc = NULL;
    int r;

    if ((r = load_vm(jb, json_object_get(params, "diskSettings"))) != 0 ||
        (r = take_snapshot(jb, &inc)) != 0)
        return r;
    set_task(jb, "Take Snapshot", "Completed");
    set_task(jb, "Transfer data to vault", "InProgress");
    jb->transferring = 1;
    report(jb);
    if ((r = cancelled(jb)) != 0)
        return r;
    if (!(*ix = calloc(jb->vm.ndisks, sizeof(**ix))))
        return VV_E_NOMEM;
    if ((r = transfer(jb, inc, *ix)) != 0 || (r = cancelled(jb)) != 0)
        return r;
    if (jb->began) {
        vv_best_effort(vv_virt_backup_end(a->virt, jb->vm_uuid));
        jb->began = 0;
    }
    if ((r = commit(jb, jb->incremental, point)) != 0)
        return r;
    /* The point is in the vault: move the chain on. */
    if (chain_save(a, jb->vm_uuid, point, jb->new_checkpoint[0] ? jb->new_checkpoint : NULL,
                   &jb->vm, *ix) != 0)
        add_warning(jb, "ChainStateNotSaved",
                    "the chain state could not be saved on the host; the next backup reads "
                    "all allocated data");
    if (jb->chain.checkpoint[0] && strcmp(jb->chain.checkpoint, jb->new_checkpoint) != 0)
        vv_best_effort(vv_virt_checkpoint_delete(a->virt, jb->vm_uuid, jb->chain.checkpoint));
    clean_host(jb, 1);
    set_task(jb, "Transfer data to vault", "Completed");
    return 0;
}

/* A committed backup's end: its stats and warnings. */
static void complete_ok(struct job *jb, json_t *extra, const char *point)
{
    json_t *warnings = json_array();
    const struct vv_backup_stats *st = &jb->st;
    char shown[VV_SHOWN_MAX];

    json_object_set_new(
        extra, "stats",
        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b}", "bytesRead",
                  (json_int_t)st->bytes_read, "bytesSent", (json_int_t)st->bytes_stored,
                  "bytesNew", (json_int_t)st->bytes_new, "chunksRead",
                  (json_int_t)st->chunks_read, "chunksNew", (json_int_t)st->chunks_new,
                  "chunksDeduplicated", (json_int_t)st->chunks_dedup, "chunksZero",
                  (json_int_t)st->chunks_zero, "chunksKept", (json_int_t)st->chunks_kept,
                  "incremental", jb->incremental));
    if (jb->q.warnings)
        json_array_extend(warnings, jb->q.warnings);
    json_array_extend(warnings, jb->warnings);
    atomic_store(&jb->done, atomic_load(&jb->total));
    report(jb);
    if (json_array_size(warnings))
        json_object_set(extra, "warnings", warnings);
    vv_best_effort(vv_agent_complete_with(
        jb->a, jb->id, json_array_size(warnings) ? "CompletedWithWarnings" : "Completed", NULL,
        NULL, extra));
    json_decref(warnings);
    vv_info("job %s: %s recovery point %s of '%s' committed%s", jb->id,
            vv_consistency_name(jb->q.type), point,
            vv_agent_shown(jb->vm_name, shown, sizeof(shown)),
            jb->incremental ? " (incremental)" : "");
}

/* Tell the vault how the job ended (r). */
static void job_end(struct job *jb, int r, const char *point)
{
    struct vv_agent *a = jb->a;
    json_t *extra;

    if (r && atomic_load(&a->stop) && !strcmp(jb->code, "Cancelled")) {
        /* Not the operator's cancel: the agent itself is stopping. */
        snprintf(jb->code, sizeof(jb->code), "AgentStopped");
        snprintf(jb->message, sizeof(jb->message),
                 "vmvault-agent on host '%s' was stopped while this backup ran; nothing was "
                 "committed and the host was cleaned up; run the backup again",
                 a->host);
    }
    extra = json_object();
    if (jb->q.details)
        json_object_set(extra, "snapshot", jb->q.details);
    if (r && !strcmp(jb->code, "Cancelled")) {
        set_task(jb, "Transfer data to vault", "Cancelled");
        report(jb);
        vv_best_effort(vv_agent_complete_with(a, jb->id, "Cancelled", NULL, NULL, extra));
    } else if (r) {
        if (!jb->code[0])
            failf(jb, "BackupFailed", "the backup failed: %s (see the agent's log)",
                  vv_strerror(r));
        set_task(jb, jb->transferring ? "Transfer data to vault" : "Take Snapshot", "Failed");
        report(jb);
        vv_best_effort(vv_agent_complete_with(a, jb->id, "Failed", jb->code, jb->message, extra));
    } else {
        complete_ok(jb, extra, point);
    }
    json_decref(extra);
}

int vv_agent_backup(struct vv_agent *a, json_t *job)
{
    struct job jb;
    struct vv_index *ix = NULL;
    char point[VV_POINT_ID_MAX] = "";
    pthread_t th;
    int r, have_thread;

    job_init(&jb, a, job);
    have_thread = pthread_create(&th, NULL, reporter, &jb) == 0;
    r = backup_steps(&jb, json_object_get(job, "params"), &ix, point);
    if (r)
        clean_host(&jb, 0);
    atomic_store(&jb.finished, 1);
    if (have_thread)
        pthread_join(th, NULL);
    job_end(&jb, r, point);
    if (ix)
        for (size_t i = 0; i < jb.vm.ndisks; i++)
            vv_index_release(&ix[i]);
    free(ix);
    vv_vm_release(&jb.vm);
    json_decref(jb.tasks);
    json_decref(jb.warnings);
    vv_quiesce_release(&jb.q);
    vv_http_free(jb.rh);
    pthread_mutex_destroy(&jb.mu);
    return r;
}
