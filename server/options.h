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

#include "server.h"

/* What the command line asks for, besides what it sets in the server (data folder,
 * public URL, agent timeout, prune time, clock) and the process-wide log level.
 * Strings are borrowed from argv. */
struct vv_options {
    int check;              /* `vmvaultd check` */
    const char *listen;     /* HOST:PORT, default 127.0.0.1:8080 */
    const char *tls_mode;   /* "auto", or NULL for plain HTTP (--tls off) */
    const char *tls_cert;   /* --tls-cert and --tls-key: both or neither */
    const char *tls_key;
    int allow_plain;        /* --allow-plain-http */
};

/* Parse argv into o and s (which vv_server_init has set up) and set up the server's
 * clock. Returns -1 to go on, or the exit status after printing: 0 after --help or
 * --version, 2 on a usage error. */
int vv_options_parse(int argc, char **argv, struct vv_options *o, struct vv_server *s)
    VV_MUST_CHECK;

/* The host part of "host:port", "[v6]:port" or "scheme://host[:port][/...]" into
 * out ("" when there is none). */
void vv_addr_host(const char *addr, char *out, size_t n);

#endif
