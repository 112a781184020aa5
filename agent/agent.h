/*
 * agent.h: the host agent's shared state and its modules.
 *
 * vmvault-agent registers a hypervisor host with a vault, then runs as a daemon:
 * it reports the host's VMs (from libvirt), claims the jobs the vault has for the
 * host and carries them out, reporting progress as it goes.
 *
 * State folder (0711: not listable; default /var/lib/vmvault-agent):
 *   agent.json              the vault's URL and id, this host's name, region,
 *                           agent token and the vault certificate's pin (0600)
 *   agent.conf              the operator's settings, Key=Value lines (net.c):
 *                           HttpProxy.Host/Port/User/Password, Network.RetrySeconds,
 *                           Restore.Roots (trust.c)
 *   outbox/<job>.json       job endings the vault has not heard yet (vault.c)
 *   chains/<vm uuid>.json   the VM's incremental chain: last recovery point, the
 *                           libvirt checkpoint it ended with, each disk's chunk size
 *   chains/<vm uuid>/<disk>.index   that point's disk indexes, the parents of the
 *                           next incremental
 *   run/                    NBD sockets and scratch files of running backups
 *   run/<job>/              one running backup's: 0700, or 0730 with QEMU's group
 *                           when QEMU runs as another user (it creates the socket)
 *   restores/               a restore root by default (trust.c)
 *   frozen/<vm uuid>        present while the agent may have that VM's filesystems
 *                           frozen (quiesce.h): an agent that starts thaws it
 */
#ifndef VV_AGENT_H
#define VV_AGENT_H

#include "err.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "http_client.h"
#include "json.h"
#include "util.h"

#define VV_AGENT_VERSION "0.1.0"

/* The longest state folder taken (--state-dir), with its NUL: the rest of
 * VV_PATH_MAX is room for the paths built in it. */
#define VV_AGENT_STATE_DIR_MAX 3500

struct vv_virt;

struct vv_agent {
    char state_dir[VV_PATH_MAX];
    char uri[512];       /* libvirt connection URI */
    char url[512];       /* the vault's URL */
    char token[128];     /* this host's agent token */
    char host[80];       /* container name */
    char vault[80];      /* vault name */
    char vault_id[40];
    char region[80];
    char pin[160];       /* the vault certificate's "sha256//..." pin; "" for none */
    /* "vmvault-<8 hex>-": the names of the checkpoints this registration (vault and
     * host name) makes start so; an agent cleans up only its own (vv_state_load) */
    char cp_prefix[24];
    int threads;         /* backup workers */
    uint64_t max_upload_rate; /* bytes per second sent to the vault, 0: no limit */
    int freeze_timeout;  /* seconds a guest may stay frozen before its guard thaws it */
    /* agent.conf (net.c), read at start and again while a request is retried */
    char proxy[256];     /* "http://host:port" from HttpProxy.Host/Port; "" none */
    char proxy_user[128], proxy_pass[256];
    int retry_seconds;   /* how long a request to the vault is retried; 0: never */
    long conf_mtime;     /* agent.conf's mtime when read (-1: absent) */
    /* agent.conf's Restore.Roots: the folders (absolute, space-separated) under which
     * a restore may write; "" for the default, VV_RESTORE_ROOTS_DEFAULT and the
     * agent's own restores/ folder (trust.c) */
    char restore_roots[2048];
    struct vv_http *http; /* the main thread's client; owned */
    struct vv_virt *virt; /* owned */
    atomic_int stop;      /* set by SIGTERM/SIGINT */
};

/* ---- state.c ---------------------------------------------------------------- */
/* Create the state folder (0700) if needed. */
int vv_state_init(const char *dir) VV_MUST_CHECK;
/* Read and write agent.json. */
int vv_state_load(struct vv_agent *a) VV_MUST_CHECK;
int vv_state_save(const struct vv_agent *a) VV_MUST_CHECK;
/* Atomically replace path (under the state folder) with n bytes, mode 0600. */
int vv_state_write(const char *path, const void *data, size_t n) VV_MUST_CHECK;

/* ---- net.c: the way to the vault ---------------------------------------------- */
/* Read agent.conf (absent: no settings). 0, or VV_E_INVAL with the line and reason
 * logged. Refreshing re-reads it only when it changed. */
int vv_agent_conf_load(struct vv_agent *a) VV_MUST_CHECK;
void vv_agent_conf_refresh(struct vv_agent *a);
/* A client set up with the agent's pin and proxy. Caller vv_http_free()s. */
struct vv_http *vv_agent_http(struct vv_agent *a);
/* Apply the agent's pin and proxy to h (again, after agent.conf changed). */
int vv_agent_http_apply(struct vv_agent *a, struct vv_http *h) VV_MUST_CHECK;
/* The job failure code and remedy for a request that got no answer (resp's
 * failure), "CODE: message" into err. */
void vv_agent_net_error(const struct vv_agent *a, const struct vv_http_response *resp,
                        char *err, size_t errlen);
/* 1 when a failure is worth retrying (the network may come back), else 0. */
int vv_agent_net_transient(const struct vv_http_response *resp) VV_MUST_CHECK;
/* Split "CODE: message" into code (a copy) and the message (a pointer into err). */
const char *vv_agent_err_split(const char *err, char *code, size_t n);

/* ---- vault.c: the vault's agent API ---------------------------------------- */
/* Call the vault: JSON body (may be NULL) in, JSON answer out (*out may be NULL for
 * 204; caller json_decref()s). Returns 0 on a 2xx answer. On an error answer
 * returns VV_E_INVAL (4xx) or VV_E_IO (5xx, no answer) with "CODE: message" in err
 * and the status in *status (may be NULL; 0 when no answer arrived). When no answer
 * arrives, or a 502/503/504, the request is tried again with a growing pause (1 s
 * doubling to 30 s) for agent.conf's Network.RetrySeconds (300 by default), unless
 * the agent is stopping; the failure's code names its cause (net.c). A 401 is
 * AgentCredentialRejected. */
int vv_vault_json(struct vv_agent *a, struct vv_http *h, const char *method, const char *path,
                  json_t *body, json_t **out, long *status, char *err, size_t errlen) VV_MUST_CHECK;
/* Registering again: a->token becomes this host's own token from the state folder
 * when agent.json is for the same vault (a->vault_id) and host name, else "": the
 * vault then lets it re-key instead of refusing the name (ContainerAlreadyRegistered). */
void vv_vault_own_token(struct vv_agent *a, const char *host);
/* The same without retries (progress reports, job polls: they come again anyway). */
int vv_vault_json_once(struct vv_agent *a, struct vv_http *h, const char *method,
                       const char *path, json_t *body, json_t **out, long *status, char *err,
                       size_t errlen) VV_MUST_CHECK;
/* The same with a raw body (chunks, indexes); extra_header may be NULL. */
int vv_vault_raw(struct vv_agent *a, struct vv_http *h, const char *method, const char *path,
                 const void *data, size_t n, const char *extra_header, json_t **out,
                 long *status, char *err, size_t errlen) VV_MUST_CHECK;
/* Progress of a job, sent on h (one thread at a time per client): tasks is a JSON
 * array of {"name","status"} (may be NULL); returns 1 when the vault asks to cancel,
 * 0, or <0. */
int vv_agent_progress(struct vv_agent *a, struct vv_http *h, const char *job, json_t *tasks,
                      int64_t done, int64_t total) VV_MUST_CHECK;
/* End a job: status "Completed", "CompletedWithWarnings", "Failed", "Cancelled". */
int vv_agent_complete(struct vv_agent *a, const char *job, const char *status,
                      const char *code, const char *message) VV_MUST_CHECK;
/* The same with more members of the body (extra, may be NULL; borrowed): "stats"
 * (what the job read and sent), "warnings", "snapshot" (docs/api.md). */
int vv_agent_complete_with(struct vv_agent *a, const char *job, const char *status,
                           const char *code, const char *message, json_t *extra) VV_MUST_CHECK;
/* Keep a job's ending that could not be sent (in outbox/), and send those kept (0
 * when the outbox is empty afterwards). */
int vv_agent_outbox_put(struct vv_agent *a, const char *job, json_t *body) VV_MUST_CHECK;
int vv_agent_outbox_flush(struct vv_agent *a) VV_MUST_CHECK;

/* ---- vmvault-agent.c: inventory and jobs ------------------------------------------ */
/* Report the host's VMs when they changed since the last report (or force). */
int vv_agent_report_inventory(struct vv_agent *a, int force) VV_MUST_CHECK;
/* Carry out one claimed job (the vault's job object, with "params"): a Backup or a
 * Restore; any other operation is ended Failed (UnsupportedOperation). */
int vv_agent_run_job(struct vv_agent *a, json_t *job) VV_MUST_CHECK;

/* ---- job_backup.c, job_restore.c: the jobs ---------------------------------------- */
/* Carry out a Backup or a Restore job (the vault's job object, with "params"),
 * reporting progress and its end to the vault (vault.c). 0, or the failure. */
int vv_agent_backup(struct vv_agent *a, json_t *job) VV_MUST_CHECK;
int vv_agent_restore(struct vv_agent *a, json_t *job) VV_MUST_CHECK;

/* ---- trust.c: what the agent takes from the vault ----------------------------------
 * Every id and name in a job or in the vault's answers is checked with the vault's
 * own rules before it reaches a path, a URL, XML or libvirt; a restore writes only
 * under the host's restore roots. */
#define VV_RESTORE_ROOTS_DEFAULT "/var/lib/libvirt/images"
/* A string from the vault or a guest (or a libvirt name), as one printable line for
 * a log line: control characters and bytes outside ASCII become '?', at most n - 1
 * bytes with "..." where it is cut (n >= 8), NULL shown as "(none)". Writes out (n
 * bytes, the caller's) and returns it. Every log line with such a string uses it. */
#define VV_SHOWN_MAX 160 /* the usual out size: a name, an id, an operation */
const char *vv_agent_shown(const char *s, char *out, size_t n);
/* Check agent.conf's Restore.Roots value v (1 to 16 absolute paths, space-separated,
 * without "." or ".." components) and keep it in a: 0, or VV_E_INVAL. */
int vv_agent_roots_set(struct vv_agent *a, const char *v) VV_MUST_CHECK;
/* agent.conf's Restore.Roots as it stands ("" when it names none), into out, under
 * the configuration's lock (net.c): agent.conf may be read again at any time. */
void vv_agent_roots_copy(const struct vv_agent *a, char *out, size_t n);
/* The target folder dir a vault named for a restore: its parent resolved
 * (realpath), its last component a plain name, the whole under one of a's restore
 * roots (also resolved). The folder is created (0755) when missing and opened
 * without following a symbolic link: *dirfd (caller closes) and the resolved path
 * in resolved (n bytes). 0, or VV_E_INVAL / VV_E_IO with the reason in why (wn
 * bytes), naming the roots and where to change them. */
int vv_agent_restore_dir(const struct vv_agent *a, const char *dir, int *dirfd, char *resolved,
                         size_t n, char *why, size_t wn) VV_MUST_CHECK;
/* Create the folder path for one job (its parent must exist): refused when path is
 * a symbolic link or anything but a folder of ours; mode 0700, or 0730 with group
 * gid when gid >= 0 (QEMU's group: it may create files there, nobody may list).
 * 0, or VV_E_IO / VV_E_INVAL said. */
int vv_agent_job_dir(const char *path, long gid) VV_MUST_CHECK;

/* ---- check.c: check-connectivity ------------------------------------------------ */
/* Test each step of the way to the vault and print the result, a table or JSON
 * (json). Returns the exit status: 0 when every step passed, else 1. */
int vv_agent_check(struct vv_agent *a, int json) VV_MUST_CHECK;

#endif
