/*
 * http.h: the HTTP server, as the rest of vmvaultd sees it. http_mhd.c is the one
 * adapter for libmicrohttpd; nothing else includes microhttpd.h.
 *
 * Every connection runs on its own thread, so a handler may block (a long poll, a
 * chunk written to disk). A request reaches the handler only once its whole body
 * has arrived; a body over the cap that vv_http_cap_fn names is answered 413
 * without being read into memory.
 *
 * With a certificate and key the server speaks only HTTPS (TLS 1.2 or 1.3). The TLS
 * handshake runs on the connection's own thread too: a client that stalls in it, or
 * that speaks plain HTTP to the port, costs that connection only; it is closed
 * without an answer and the server goes on serving the others.
 */
#ifndef VV_HTTP_H
#define VV_HTTP_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

struct vv_http_req {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* URL path, percent-decoded, without the query */
    const uint8_t *body; /* borrowed for the handler's duration; NULL when empty */
    size_t body_len;
    void *conn; /* the adapter's connection, for vv_http_query / vv_http_header;
                 * NULL for a request built in memory (no query, no headers) */
};

/* One piece of a body sent in pieces. */
struct vv_http_iov {
    const void *base;
    size_t len;
};

struct vv_http_resp {
    int status;
    const char *content_type; /* static string */
    char *body;               /* owned: freed by the adapter with free() */
    size_t body_len;
    char allow[64]; /* the Allow header of a 405 answer; "" for none */
    const char *content_encoding; /* static string, or NULL */
    /* Extra response headers, name and value, static strings; the list ends at the
     * first NULL name. A "Cache-Control" here replaces the default "no-store". */
    const char *headers[6][2];
    /* Instead of body: a body sent as iov[0..niov) one piece after another, never
     * joined into one buffer (an answer assembled from many separately read pieces).
     * The pieces and iov belong to owner, which the adapter hands to release once the
     * answer is sent or dropped. */
    const struct vv_http_iov *iov;
    size_t niov;
    void *owner;
    void (*release)(void *owner);
};

/* Free what resp holds (body, or iov's owner) and clear it. */
static inline void vv_http_resp_release(struct vv_http_resp *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
    if (resp->release)
        resp->release(resp->owner);
    resp->release = NULL;
    resp->owner = NULL;
    resp->iov = NULL;
    resp->niov = 0;
}

/* A query-string argument or a request header (case-insensitive name); NULL when
 * absent. Borrowed until the handler returns. */
const char *vv_http_query(const struct vv_http_req *req, const char *name);
const char *vv_http_header(const struct vv_http_req *req, const char *name);
/* The peer's address as text ("127.0.0.1"), into out. */
void vv_http_peer(const struct vv_http_req *req, char *out, size_t outlen);

/* Called once per request before its body: the largest body accepted, in bytes. */
typedef size_t (*vv_http_cap_fn)(void *ctx, const char *method, const char *path);
/* Called once per complete request; fills resp (status 0 means 500). */
typedef void (*vv_http_handler_fn)(void *ctx, const struct vv_http_req *req,
                                   struct vv_http_resp *resp);
/* Called after every response with its status, for the request log. */
typedef void (*vv_http_done_fn)(void *ctx, const struct vv_http_req *req, int status,
                                double ms);

struct vv_http_server;

/* What HTTPS needs: the certificate (PEM, the server's first, then any
 * intermediates) and its private key (PEM, not encrypted), both NUL-terminated.
 * Borrowed for the vv_http_start call only: the server keeps its own copies. */
struct vv_http_tls {
    const char *cert_pem;
    const char *key_pem;
};

/* Non-zero when the HTTP library can serve HTTPS (it may be built without TLS). */
int vv_http_tls_available(void) VV_MUST_CHECK;

/* Listen on host:port ("127.0.0.1:8080"; port 0 picks a free one) and serve until
 * vv_http_stop: plain HTTP when tls is NULL, else HTTPS with tls's pair. *out_port
 * gets the bound port. Failures are logged. Returns 0, VV_E_INVAL (bad listen
 * address), VV_E_UNSUPPORTED (tls given, vv_http_tls_available() false), VV_E_NOMEM
 * or VV_E_IO (cannot listen, or the TLS library refused the pair).
 * Owner of *out: the caller, vv_http_stop(). */
int vv_http_start(const char *listen, const struct vv_http_tls *tls, vv_http_cap_fn cap,
                  vv_http_handler_fn handler, vv_http_done_fn done, void *ctx,
                  struct vv_http_server **out, unsigned *out_port) VV_MUST_CHECK;
/* Stop accepting, wait for running handlers, free. NULL is a no-op. */
void vv_http_stop(struct vv_http_server *s);

#endif
