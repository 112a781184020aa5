/*
 * quiesce.h: the point in time of a VM, as consistent as its guest allows.
 *
 * For a running domain whose guest agent answers:
 *   [the guest's script file] -> pre-script -> freeze (thaw guard watching) -> take()
 *   -> thaw, checked -> post-script
 * The scripts are those the guest's own file (VV_GUEST_SCRIPT_CONFIG: owned by root,
 * mode 0600, in a folder only root can write, checked and read through the guest
 * agent) lists, when the vault's settings ask for scripts; never a command the vault
 * names. A missing, unsafe or invalid file, or settings that ask for a script the
 * file does not list, run no script at all: a warning that says why (or, without
 * continueBackupOnFailure, a failed job). The recovery point's consistency follows
 * from what held (docs/api.md, "Consistency"):
 *   ApplicationConsistent  the scripts configured ran and succeeded, and the freeze
 *                          held (or fsFreezeEnabled is false);
 *   FileSystemConsistent   the freeze held, and no scripts are configured or one
 *                          failed with continueBackupOnFailure;
 *   CrashConsistent        the VM is shut off, the guest agent is absent or silent,
 *                          or the freeze failed or was cut short.
 * A running VM whose point falls back to crash-consistent gets a warning that says
 * why and what to do. A shut-off VM is crash-consistent without a warning.
 */
#ifndef VV_QUIESCE_H
#define VV_QUIESCE_H

#include "err.h"

#include <stdatomic.h>

#include "json.h"
#include "format/manifest.h"
#include "policy/scripts.h"

struct vv_agent;

struct vv_quiesce {
    enum vv_consistency type;
    json_t *details;  /* the job's "snapshot" object (docs/api.md); owned */
    json_t *warnings; /* array of {"code","message"}; owned */
    char code[64];    /* set when the backup must fail (with message) */
    char message[1024];
};

/* take(arg) creates the point in time (checkpoint and backup begin); 0 or <0. */
typedef int (*vv_take_fn)(void *arg);

/* Take the point in time of VM uuid (named vm_name; running says whether it runs)
 * with settings s. On return *q tells the consistency, the details and the warnings
 * (release with vv_quiesce_release). Returns 0 when take() succeeded and the backup
 * may go on; take()'s error when it failed; VV_E_CANCELLED when cancel was set
 * while a script ran; VV_E_INVAL with q->code/q->message when a script failed or was
 * refused and continueBackupOnFailure is false (the snapshot, if taken, must then be
 * dropped). */
int vv_quiesce_take(struct vv_agent *a, const char *uuid, const char *vm_name, int running,
                    const struct vv_script_settings *s, vv_take_fn take, void *arg,
                    const atomic_int *cancel, struct vv_quiesce *q) VV_MUST_CHECK;

void vv_quiesce_release(struct vv_quiesce *q);

/* Thaw the VMs whose freeze marker an earlier agent left (it died while a guest was
 * frozen and its thaw guard did not finish); called when the agent starts. */
void vv_quiesce_recover(struct vv_agent *a);

#endif
