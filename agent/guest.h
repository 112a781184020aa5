/*
 * guest.h: what the agent asks of a running guest through its guest agent
 * (qemu-guest-agent, reached through libvirt: virt.h): is it there, run a script and
 * wait for it, is the guest frozen, who owns a file and what it holds. Freezing and
 * thawing are virt.h's vv_virt_fs_freeze / vv_virt_fs_thaw.
 *
 * Everything a guest answers is untrusted: sizes are capped, and the only commands
 * run here besides the scripts the guest's own file lists (quiesce.c) are fixed ones.
 */
#ifndef VV_GUEST_H
#define VV_GUEST_H

#include "err.h"

#include <stdatomic.h>
#include <stddef.h>

struct vv_virt;

/* 0 when the guest agent answers a ping within timeout_s seconds; else the reason in
 * why (VV_E_UNSUPPORTED: the domain has no guest-agent channel; VV_E_IO: no answer). */
int vv_guest_ping(struct vv_virt *v, const char *uuid, int timeout_s, char *why, size_t n)
    VV_MUST_CHECK;

/* 1 when the guest reports its filesystems frozen, 0 thawed, <0 with why. */
int vv_guest_frozen(struct vv_virt *v, const char *uuid, char *why, size_t n) VV_MUST_CHECK;

/* How one run of a script inside the guest went. */
struct vv_guest_run {
    int started;      /* the guest agent started it */
    int exited;       /* it ended (exit_code or signal are set) */
    int exit_code;    /* when exited and not signalled */
    int signal;       /* the signal that ended it, 0 if none */
    int timed_out;    /* still running when the timeout came */
    unsigned ms;      /* how long it ran (or was waited for) */
    char output[512]; /* the end of its standard error, else of its standard output,
                       * one line of ASCII: control characters as spaces, other
                       * bytes as '?' */
};

/* Run path with args (nargs of them) inside the guest and wait at most timeout_s
 * seconds for it to end, polling its status every 200 ms (cancel, when set, ends the
 * wait early as a timeout). Returns 0 when the run's outcome is in *out (which may
 * still be a failure: non-zero exit, signal, timeout), or <0 when the guest agent
 * could not be asked (reason in why). A script that does not end in time keeps
 * running in the guest: the guest agent cannot stop it. */
int vv_guest_exec(struct vv_virt *v, const char *uuid, const char *path, const char *const *args,
                  size_t nargs, unsigned timeout_s, const atomic_int *cancel,
                  struct vv_guest_run *out, char *why, size_t n) VV_MUST_CHECK;

/* The owner and mode of a file inside the guest. */
struct vv_guest_stat {
    int exists;       /* 0: there is no such file (the rest is zero) */
    unsigned uid;     /* owner */
    unsigned mode;    /* permission bits (07777) */
    char type[32];    /* stat's %F: "regular file", "directory", "symbolic link", ... */
};

/* The owner, mode and type of dir and of file (each itself, a symbolic link not
 * followed), through guest-exec of the fixed command `stat -c '%u %a %F;' dir file`.
 * 0 with *d and *f (exists 0 for a path that is not there; a missing dir makes both
 * missing); <0 with why when the guest agent or stat failed, or stat's answer is not
 * what it prints. */
int vv_guest_stat2(struct vv_virt *v, const char *uuid, const char *dir, const char *file,
                   struct vv_guest_stat *d, struct vv_guest_stat *f, char *why, size_t n)
    VV_MUST_CHECK;

/* The bytes of the file path inside the guest (guest-file-open, -read, -close), at
 * most max of them: 0 with *data (max + 1 bytes allocated, NUL-terminated; caller
 * frees) and *len; VV_E_TOOBIG when the file holds more than max bytes; <0 with why
 * when the guest agent cannot open or read it. */
int vv_guest_file_read(struct vv_virt *v, const char *uuid, const char *path, size_t max,
                       char **data, size_t *len, char *why, size_t n) VV_MUST_CHECK;

#endif
