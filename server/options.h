/*
 * options.h: the command line of vmvaultd: what it asks for, checked, and its usage
 * text.
 *
 * Invariant: vv_options_parse either hands back a set of options that go together
 * (no plain HTTP on an address others can reach unless allowed, a certificate only
 * with its key, nothing a `vmvaultd check` does not use), or it has printed why and
 * gives the exit status.
 */
#ifndef VV_OPTIONS_H
#define VV_OPTIONS_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "server.h"

/* What the command line asks for, besides what it sets in the server (data folder,
 * public URL, agent timeout, prune time, clock) and the process-wide log level.
 * Strings are borrowed from argv. */
#define VV_OPT_MAX_KEYS 64

struct vv_options {
    int check;              /* `vmvaultd check` */
    const char *listen;     /* HOST:PORT, default 127.0.0.1:8080 */
    const char *tls_mode;   /* "auto", or NULL for plain HTTP (--tls off) */
    const char *tls_cert;   /* --tls-cert and --tls-key: both or neither */
    const char *tls_key;
    int allow_plain;        /* --allow-plain-http */
    /* --body-budget, --max-connections, --max-connections-per-address,
     * --header-timeout, --handler-threads (defaults: vv_http_limits_default) */
    struct vv_http_limits http;
    int http_set;           /* one of those was given (they only serve) */
    int pin_limit_set;      /* --job-pin-limit (set in uploads.c, serving only) */
    int rebuild;            /* `vmvaultd catalog rebuild` */
    int force;              /* its --force: move a non-empty catalog aside */
    const char *keys[VV_OPT_MAX_KEYS]; /* its --key VAULT=FILE (wrapped key exports) */
    int nkeys;
    const char *passphrase_file; /* its --passphrase-file (else $VMVAULTD_KEY_PASSPHRASE) */
    int backup_catalog;     /* `vmvaultd backup-catalog` */
    const char *backup_to;  /* its --to FILE */
    const char *catalog_backup_dir; /* --catalog-backup-dir: scheduled backups */
    int64_t catalog_backup_every;   /* --catalog-backup-every SECONDS (default 86400) */
    int catalog_backup_keep;        /* --catalog-backup-keep N (default 7) */
};

/* Parse argv into o and s (which vv_server_init has set up) and set up the server's
 * clock. Returns -1 to go on, or the exit status after printing: 0 after --help or
 * --version, 2 on a usage error. */
int vv_options_parse(int argc, char **argv, struct vv_options *o, struct vv_server *s)
    VV_MUST_CHECK;

/* The most long polls for jobs (GET /api/v1/agent/jobs/next?wait=) that may wait at
 * once, all hosts together: a quarter of --handler-threads, at least 1 (set by
 * vv_options_parse; 64 before it runs). Thread-safe. */
unsigned vv_long_polls_max(void);

/* The host part of "host:port", "[v6]:port" or "scheme://host[:port][/...]" into
 * out ("" when there is none). */
void vv_addr_host(const char *addr, char *out, size_t n);

#endif
