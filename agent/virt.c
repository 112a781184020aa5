/*
 * virt.c: the libvirt adapter behind virt.h (libvirt and, for guest-agent commands,
 * libvirt-qemu).
 */
#include "virt.h"

#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "util.h"
#include "xml.h"

struct vv_virt {
    virConnectPtr conn;
};

/* libvirt prints every error to stderr by default; we log them once, with context. */
static void quiet(void *data, virErrorPtr e)
{
    (void)data;
    (void)e;
}

static int fail(const char *what)
{
    const char *msg = virGetLastErrorMessage();
    vv_error("libvirt: %s: %s", what, msg ? msg : "unknown error");
    return VV_E_IO;
}

int vv_virt_open(const char *uri, struct vv_virt **out)
{
    struct vv_virt *v = calloc(1, sizeof(*v));
    if (!v)
        return VV_E_NOMEM;
    virSetErrorFunc(NULL, quiet);
    v->conn = virConnectOpen(uri);
    if (!v->conn) {
        int r = fail(uri);
        vv_error("is libvirtd running, and may this user use %s?", uri);
        free(v);
        return r;
    }
    *out = v;
    return 0;
}

void vv_virt_close(struct vv_virt *v)
{
    if (!v)
        return;
    virConnectClose(v->conn);
    free(v);
}

void vv_vm_release(struct vv_vm *vm)
{
    free(vm->xml);
    free(vm->disks);
    memset(vm, 0, sizeof(*vm));
}

void vv_vms_free(struct vv_vm *vms, size_t n)
{
    for (size_t i = 0; i < n; i++)
        vv_vm_release(&vms[i]);
    free(vms);
}

static const char *state_name(int st)
{
    switch (st) {
    case VIR_DOMAIN_RUNNING:
        return "running";
    case VIR_DOMAIN_BLOCKED:
        return "blocked";
    case VIR_DOMAIN_PAUSED:
        return "paused";
    case VIR_DOMAIN_SHUTDOWN:
        return "shutting down";
    case VIR_DOMAIN_SHUTOFF:
        return "shut off";
    case VIR_DOMAIN_CRASHED:
        return "crashed";
    case VIR_DOMAIN_PMSUSPENDED:
        return "suspended";
    default:
        return "unknown";
    }
}

static int describe(virDomainPtr d, struct vv_vm *vm)
{
    struct vv_xml_disk *xd = NULL;
    size_t nxd = 0;
    int st = 0, reason = 0, r;
    const char *name = virDomainGetName(d);

    memset(vm, 0, sizeof(*vm));
    snprintf(vm->name, sizeof(vm->name), "%s", name ? name : "");
    if (virDomainGetUUIDString(d, vm->uuid) != 0 || virDomainGetState(d, &st, &reason, 0) != 0)
        return fail(vm->name);
    snprintf(vm->state, sizeof(vm->state), "%s", state_name(st));
    vm->running = st != VIR_DOMAIN_SHUTOFF && st != VIR_DOMAIN_CRASHED;
    vm->xml = virDomainGetXMLDesc(d, vm->running ? 0 : VIR_DOMAIN_XML_INACTIVE);
    if (!vm->xml)
        return fail(vm->name);
    vm->qemu_uid = vm->qemu_gid = -1;
    if (vm->running && vv_xml_dac_label(vm->xml, &vm->qemu_uid, &vm->qemu_gid) != 0)
        vm->qemu_uid = vm->qemu_gid = -1;
    r = vv_xml_domain_disks(vm->xml, &xd, &nxd);
    if (r)
        return r;
    if (nxd && !(vm->disks = calloc(nxd, sizeof(*vm->disks)))) {
        vv_xml_disks_free(xd, nxd);
        return VV_E_NOMEM;
    }
    for (size_t i = 0; i < nxd; i++) {
        struct vv_vm_disk *k = &vm->disks[vm->ndisks];
        virDomainBlockInfo bi;
        if (!xd[i].target)
            continue;
        if (vv_path_join(k->source, sizeof(k->source), "%s", xd[i].source ? xd[i].source : "") != 0) {
            r = vv_fail(VV_E_TOOBIG, "disk %s of VM '%s': the path %.64s... is too long",
                        xd[i].target, vm->name, xd[i].source);
            vv_xml_disks_free(xd, nxd);
            return r;
        }
        snprintf(k->target, sizeof(k->target), "%s", xd[i].target);
        snprintf(k->format, sizeof(k->format), "%s", xd[i].format ? xd[i].format : "raw");
        k->block = xd[i].type && !strcmp(xd[i].type, "block");
        if (virDomainGetBlockInfo(d, k->target, &bi, 0) == 0)
            k->size = bi.capacity;
        vm->ndisks++;
    }
    vv_xml_disks_free(xd, nxd);
    return 0;
}

int vv_virt_list(struct vv_virt *v, struct vv_vm **vms, size_t *n)
{
    virDomainPtr *doms = NULL;
    int nd = virConnectListAllDomains(v->conn, &doms, 0);
    struct vv_vm *out;
    size_t k = 0;
    int r = 0;

    *vms = NULL;
    *n = 0;
    if (nd < 0)
        return fail("list domains");
    out = calloc(nd ? (size_t)nd : 1, sizeof(*out));
    for (int i = 0; i < nd; i++) {
        if (out && r == 0) {
            int rr = describe(doms[i], &out[k]);
            if (rr == 0)
                k++;
            else
                vv_vm_release(&out[k]); /* vanished meanwhile, or a disk path too long: skip it */
        }
        virDomainFree(doms[i]);
    }
    free(doms);
    if (!out)
        return VV_E_NOMEM;
    *vms = out;
    *n = k;
    return r;
}

static virDomainPtr lookup(struct vv_virt *v, const char *uuid)
{
    virDomainPtr d = virDomainLookupByUUIDString(v->conn, uuid);
    if (!d) {
        virErrorPtr e = virGetLastError();
        if (!e || e->code != VIR_ERR_NO_DOMAIN)
            fail(uuid);
    }
    return d;
}

int vv_virt_get(struct vv_virt *v, const char *uuid, struct vv_vm *out)
{
    virDomainPtr d = lookup(v, uuid);
    int r;
    memset(out, 0, sizeof(*out));
    if (!d)
        return VV_E_NOTFOUND;
    r = describe(d, out);
    virDomainFree(d);
    if (r)
        vv_vm_release(out);
    return r;
}

int vv_virt_checkpoint_exists(struct vv_virt *v, const char *uuid, const char *name)
{
    virDomainPtr d = lookup(v, uuid);
    virDomainCheckpointPtr cp;
    if (!d)
        return VV_E_NOTFOUND;
    cp = virDomainCheckpointLookupByName(d, name, 0);
    virDomainFree(d);
    if (!cp)
        return 0;
    virDomainCheckpointFree(cp);
    return 1;
}

int vv_virt_checkpoint_delete(struct vv_virt *v, const char *uuid, const char *name)
{
    virDomainPtr d = lookup(v, uuid);
    virDomainCheckpointPtr cp;
    int r = 0;
    if (!d)
        return VV_E_NOTFOUND;
    cp = virDomainCheckpointLookupByName(d, name, 0);
    if (cp) {
        if (virDomainCheckpointDelete(cp, 0) != 0)
            r = fail("delete checkpoint");
        virDomainCheckpointFree(cp);
    }
    virDomainFree(d);
    return r;
}

int vv_virt_checkpoints(struct vv_virt *v, const char *uuid, char ***names, size_t *n)
{
    virDomainPtr d = lookup(v, uuid);
    virDomainCheckpointPtr *cps = NULL;
    int nc;
    *names = NULL;
    *n = 0;
    if (!d)
        return VV_E_NOTFOUND;
    nc = virDomainListAllCheckpoints(d, &cps, 0);
    virDomainFree(d);
    if (nc < 0)
        return fail("list checkpoints");
    *names = calloc(nc ? (size_t)nc : 1, sizeof(char *));
    for (int i = 0; i < nc; i++) {
        if (*names)
            (*names)[(*n)++] = strdup(virDomainCheckpointGetName(cps[i]));
        virDomainCheckpointFree(cps[i]);
    }
    free(cps);
    return *names ? 0 : VV_E_NOMEM;
}

static int in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, list[i]))
            return 1;
    return 0;
}

/* The backup's and the checkpoint's XML (xml.c builds and escapes them). */
static int backup_xml(const struct vv_vm *vm, const char *socket, const char *scratch_dir,
                      const char *const *targets, size_t n, const char *const *bitmap_targets,
                      size_t nbitmap, const char *incremental, const char *checkpoint,
                      char **bx, char **cx)
{
    struct vv_xml_backup_disk *d = calloc(vm->ndisks ? vm->ndisks : 1, sizeof(*d));
    int r;

    *bx = *cx = NULL;
    if (!d)
        return VV_E_NOMEM;
    for (size_t i = 0; i < vm->ndisks; i++) {
        const char *t = vm->disks[i].target;
        d[i].target = t;
        d[i].backup = in_list(t, targets, n);
        d[i].checkpoint = in_list(t, bitmap_targets, nbitmap);
        d[i].incremental = d[i].backup && d[i].checkpoint;
    }
    r = vv_xml_backup(incremental, socket, scratch_dir, d, vm->ndisks, bx);
    if (r == 0 && checkpoint)
        r = vv_xml_checkpoint(checkpoint, d, vm->ndisks, cx);
    free(d);
    if (r)
        vv_error("cannot write the backup XML of VM '%s': %s", vm->name, vv_strerror(r));
    return r;
}

int vv_virt_backup_begin(struct vv_virt *v, const char *uuid, const char *socket,
                         const char *scratch_dir, const char *const *targets, size_t n,
                         const char *const *bitmap_targets, size_t nbitmap,
                         const char *incremental, const char *checkpoint)
{
    virDomainPtr d = lookup(v, uuid);
    struct vv_vm vm;
    char *bx = NULL, *cx = NULL;
    int r;

    if (!d)
        return VV_E_NOTFOUND;
    if ((r = describe(d, &vm)) != 0) {
        virDomainFree(d);
        return r;
    }
    r = backup_xml(&vm, socket, scratch_dir, targets, n, bitmap_targets, nbitmap, incremental,
                   checkpoint, &bx, &cx);
    if (r == 0) {
        vv_debug("backup XML of %s:\n%s\n%s", vm.name, bx, cx ? cx : "");
        if (virDomainBackupBegin(d, bx, cx, 0) != 0)
            r = fail("start the backup");
    }
    free(bx);
    free(cx);
    vv_vm_release(&vm);
    virDomainFree(d);
    return r;
}

int vv_virt_backup_end(struct vv_virt *v, const char *uuid)
{
    virDomainPtr d = lookup(v, uuid);
    virDomainJobInfo ji;
    int r = 0;
    if (!d)
        return VV_E_NOTFOUND;
    if (virDomainGetJobInfo(d, &ji) == 0 && ji.type != VIR_DOMAIN_JOB_NONE) {
        if (virDomainAbortJob(d) != 0)
            r = fail("end the backup job");
    }
    virDomainFree(d);
    return r;
}

int vv_virt_backup_running_in(struct vv_virt *v, const char *uuid, const char *dir)
{
    virDomainPtr d = lookup(v, uuid);
    char *xml;
    int r = 0;
    if (!d)
        return 0;
    xml = virDomainBackupGetXMLDesc(d, 0);
    if (xml) {
        r = strstr(xml, dir) != NULL;
        free(xml);
    }
    virDomainFree(d);
    return r;
}

int vv_virt_define(struct vv_virt *v, const char *xml)
{
    virDomainPtr d = virDomainDefineXML(v->conn, xml);
    if (!d)
        return fail("define the restored domain");
    virDomainFree(d);
    return 0;
}

/* ---- the guest agent ------------------------------------------------------------ */

/* libvirt's message of the last failure into why; VV_E_UNSUPPORTED when the domain
 * has no guest-agent channel, VV_E_IO otherwise. Logged at warn level: an absent or
 * silent guest agent is the guest's state, not the agent's failure. */
static int agent_fail(const char *what, char *why, size_t n)
{
    virErrorPtr e = virGetLastError();
    const char *msg = e && e->message ? e->message : "unknown error";
    int unsupported = e && (e->code == VIR_ERR_ARGUMENT_UNSUPPORTED ||
                            e->code == VIR_ERR_CONFIG_UNSUPPORTED ||
                            e->code == VIR_ERR_OPERATION_UNSUPPORTED);
    snprintf(why, n, "%s", msg);
    vv_warn("libvirt: %s: %s", what, msg);
    return unsupported ? VV_E_UNSUPPORTED : VV_E_IO;
}

int vv_virt_agent_command(struct vv_virt *v, const char *uuid, const char *cmd, int timeout_s,
                          char **answer, char *why, size_t n)
{
    virDomainPtr d = lookup(v, uuid);
    char *ans;
    int r = 0;

    *answer = NULL;
    why[0] = '\0';
    if (!d) {
        snprintf(why, n, "the domain is not defined");
        return VV_E_NOTFOUND;
    }
    ans = virDomainQemuAgentCommand(d, cmd, timeout_s, 0);
    if (!ans)
        r = agent_fail("guest agent command", why, n);
    *answer = ans;
    virDomainFree(d);
    return r;
}

/* Freeze (freeze = 1) or thaw every filesystem of the guest. */
static int fs_call(struct vv_virt *v, const char *uuid, int freeze, char *why, size_t n)
{
    virDomainPtr d = lookup(v, uuid);
    int r;
    why[0] = '\0';
    if (!d) {
        snprintf(why, n, "the domain is not defined");
        return VV_E_NOTFOUND;
    }
    r = freeze ? virDomainFSFreeze(d, NULL, 0, 0) : virDomainFSThaw(d, NULL, 0, 0);
    if (r < 0)
        r = agent_fail(freeze ? "freeze the guest's filesystems" : "thaw the guest's filesystems",
                       why, n);
    virDomainFree(d);
    return r;
}

int vv_virt_fs_freeze(struct vv_virt *v, const char *uuid, char *why, size_t n)
{
    return fs_call(v, uuid, 1, why, n);
}

int vv_virt_fs_thaw(struct vv_virt *v, const char *uuid, char *why, size_t n)
{
    return fs_call(v, uuid, 0, why, n);
}
