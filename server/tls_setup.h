/*
 * tls_setup.h: the certificate and key vmvaultd serves HTTPS with: given by the
 * operator (--tls-cert, --tls-key), or self-signed and kept in the data folder
 * (--tls auto), and what clients check it by (pin and fingerprint in the server).
 *
 * Invariant: a pair handed back has been checked to go together (the key is the
 * certificate's); the key's text is wiped when the pair is released.
 */
#ifndef VV_TLS_SETUP_H
#define VV_TLS_SETUP_H

#include "err.h"

#include "server.h"

/* The pair the server serves with, as PEM text; both NULL for plain HTTP. Owned by
 * whoever holds the struct; vv_tls_pair_release clears the key and frees both. */
struct vv_tls_pair {
    char *cert;
    char *key;
};

void vv_tls_pair_release(struct vv_tls_pair *p);

/* --tls-cert and --tls-key: read and check the pair (warning when the key is
 * readable by all or the certificate ends soon). Returns 0, or 2 (the exit status of
 * a usage error) after saying why. */
int vv_tls_load_given(const char *cert_path, const char *key_path, struct vv_tls_pair *p)
    VV_MUST_CHECK;

/* --tls auto: the pair in DIR/tls, made on the first start for the host of
 * --public-url, else of listen, else "vmvault". Returns 0 or <0 after logging. */
int vv_tls_auto(const struct vv_server *s, const char *listen, struct vv_tls_pair *p) VV_MUST_CHECK;

/* Set s->tls_pin and s->tls_fingerprint from p's certificate and log them. 0, or -1
 * after logging. */
int vv_tls_identity(struct vv_server *s, const struct vv_tls_pair *p) VV_MUST_CHECK;

#endif
