/*
 * virt.h: the host's hypervisor as the agent sees it. virt.c is the one adapter for
 * libvirt: domains and their disks, checkpoints, and pull-mode backups exported over
 * an NBD unix socket. libvirt's errors are logged with its message and become
 * vv_err codes here.
 */
#ifndef VV_VIRT_H
#define VV_VIRT_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct vv_virt;

struct vv_vm_disk {
    char target[64];    /* "vda" */
    char source[VV_PATH_MAX]; /* image file or block device; "" when none */
    char format[16];    /* "qcow2", "raw", ... */
    uint64_t size;      /* guest-visible size in bytes */
    int block;          /* type='block': source is a block device */
};

struct vv_vm {
    char name[256];
    char uuid[40];
    int running;        /* 1 running or paused, 0 shut off */
    char state[32];     /* "running", "paused", "shut off", ... */
    char *xml;          /* the domain's definition (inactive XML when shut off); owned */
    size_t ndisks;
    struct vv_vm_disk *disks; /* owned */
    /* the user and group QEMU runs a running domain as (its DAC label); -1 when
     * shut off or when libvirt names none */
    long qemu_uid, qemu_gid;
};

/* Connect to uri ("qemu:///system"). Owner: the caller, vv_virt_close(). */
int vv_virt_open(const char *uri, struct vv_virt **out) VV_MUST_CHECK;
void vv_virt_close(struct vv_virt *v);

/* Every domain of the host. Caller frees with vv_vms_free(). */
int vv_virt_list(struct vv_virt *v, struct vv_vm **vms, size_t *n) VV_MUST_CHECK;
void vv_vms_free(struct vv_vm *vms, size_t n);
/* One domain by UUID: 0, VV_E_NOTFOUND. Release with vv_vm_release(). */
int vv_virt_get(struct vv_virt *v, const char *uuid, struct vv_vm *out) VV_MUST_CHECK;
void vv_vm_release(struct vv_vm *vm);

/* 1 when the domain has the checkpoint, 0 when not, <0 on error. */
int vv_virt_checkpoint_exists(struct vv_virt *v, const char *uuid, const char *name) VV_MUST_CHECK;
/* Delete a checkpoint (its bitmaps go with it); 0 also when it did not exist. */
int vv_virt_checkpoint_delete(struct vv_virt *v, const char *uuid, const char *name) VV_MUST_CHECK;
/* Names of the domain's checkpoints (caller frees each and the array with free()). */
int vv_virt_checkpoints(struct vv_virt *v, const char *uuid, char ***names, size_t *n)
    VV_MUST_CHECK;

/* Start a pull-mode backup of a running domain: the disks in targets[0..n) are
 * exported over NBD on the unix socket (export names = targets), with scratch files
 * in scratch_dir. With incremental (a checkpoint name) the exports also offer
 * "qemu:dirty-bitmap:backup-<target>" for the disks in bitmap_targets (those that
 * carry checkpoints: qcow2). A new checkpoint named checkpoint is created over
 * bitmap_targets (NULL: none). */
int vv_virt_backup_begin(struct vv_virt *v, const char *uuid, const char *socket,
                         const char *scratch_dir, const char *const *targets, size_t n,
                         const char *const *bitmap_targets, size_t nbitmap,
                         const char *incremental, const char *checkpoint) VV_MUST_CHECK;
/* Define a new domain from xml (it is not started). */
int vv_virt_define(struct vv_virt *v, const char *xml) VV_MUST_CHECK;

/* 1 when the domain runs a backup job whose NBD socket lies under dir, 0 when not. */
int vv_virt_backup_running_in(struct vv_virt *v, const char *uuid, const char *dir) VV_MUST_CHECK;
/* End the domain's backup job (a no-op when none runs). */
int vv_virt_backup_end(struct vv_virt *v, const char *uuid) VV_MUST_CHECK;

/* ---- the guest agent (qemu-guest-agent inside a running domain) ----------------
 * Each call fails with libvirt's message in why (n bytes): VV_E_UNSUPPORTED when the
 * domain has no guest-agent channel (<channel type='unix'><target type='virtio'
 * name='org.qemu.guest_agent.0'/></channel>), VV_E_IO when the agent does not answer
 * (not installed or not running in the guest, or busy), VV_E_NOTFOUND when the
 * domain is gone. */

/* Send one command (QMP JSON text) and wait at most timeout_s seconds for the answer
 * (the answer's JSON text into *answer, caller frees). */
int vv_virt_agent_command(struct vv_virt *v, const char *uuid, const char *cmd, int timeout_s,
                          char **answer, char *why, size_t n) VV_MUST_CHECK;
/* Freeze every mounted filesystem of the guest (its fsfreeze hook runs first);
 * returns how many were frozen. */
int vv_virt_fs_freeze(struct vv_virt *v, const char *uuid, char *why, size_t n) VV_MUST_CHECK;
/* Thaw them (its hook runs after); returns how many were thawed (0 when none were
 * frozen). */
int vv_virt_fs_thaw(struct vv_virt *v, const char *uuid, char *why, size_t n) VV_MUST_CHECK;

#endif
