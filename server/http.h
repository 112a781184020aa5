/*
 * http.h: the HTTP server, as the rest of vmvaultd sees it. http_mhd.c is the one
 * adapter for libmicrohttpd; nothing else includes microhttpd.h.
 *
 * Threading: one event loop thread does all socket work (accepting, TLS handshakes,
 * reading headers and bodies, sending answers), so an idle or slow connection costs
 * a socket and a few KiB, never a thread. Everything that may block runs on a bounded
 * pool of handler threads while the connection waits, suspended: the head callback
 * (once a request's headers are complete) and the handler (once its body is). A
 * handler may therefore block (a long poll, a chunk written to disk) without holding
 * up any other connection.
 *
 * A request's life: its headers must arrive within the header timeout of the
 * connection opening (or of the previous answer on a kept-alive connection), or the
 * connection is closed. The head callback then answers it at once (unknown route,
 * missing token, wrong role: no byte of the body is read, and a connection with a
 * body still to come is closed after the answer), or names the largest body it
 * accepts. A body over that cap is answered 413, one that would take the memory held
 * by all bodies in flight past the body budget 503 with Retry-After, both from its
 * Content-Length before it is read. Only then is the body read, into memory charged
 * to the budget, and the handler called.
 *
 * With a certificate and key the server speaks only HTTPS (TLS 1.2 or 1.3). A client
 * that speaks plain HTTP to the port is closed at once, one that stalls in the
 * handshake at the header timeout, both without an answer.
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
    void *state; /* what the head callback set in vv_http_head.state, borrowed for
                  * the handler's and done's duration; NULL when none (always NULL
                  * in the head callback itself) */
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

/* What the head callback decides for a request it lets through. */
struct vv_http_head {
    size_t cap;  /* the largest body accepted, in bytes */
    void *state; /* handed to the handler and done as req->state; from then on owned by
                  * the adapter, which frees it with free() when the request ends
                  * (answered or dropped); NULL for none */
};
/* Called once per request as soon as its headers are complete, before a byte of its
 * body is read, on a handler thread (it may take locks). Either answers the request
 * (fills resp and returns non-zero: the body is never read and the connection closes
 * after the answer; done is called with resp's status), or fills head and returns 0
 * to receive the body and call the handler. */
typedef int (*vv_http_head_fn)(void *ctx, const struct vv_http_req *req,
                               struct vv_http_head *head, struct vv_http_resp *resp);
/* Called once per complete request, on a handler thread; fills resp (status 0 means
 * 500). */
typedef void (*vv_http_handler_fn)(void *ctx, const struct vv_http_req *req,
                                   struct vv_http_resp *resp);
/* Called once per answered request with its status, for the request log, on the
 * thread that made the answer (a handler thread; the event loop's for the 503 of a
 * request that arrives while the server stops). */
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

/* How much the server lets its clients hold. */
struct vv_http_limits {
    size_t body_budget;          /* bytes all request bodies in flight may hold together */
    unsigned max_conns;          /* connections at once, lowered to fit the open-file limit */
    unsigned max_conns_per_addr; /* connections at once from one client address; 0: no cap */
    unsigned header_timeout;     /* seconds to send a request's headers (see above) */
    unsigned request_timeout;    /* seconds of silence allowed once a request is under way */
    unsigned handler_threads;    /* handlers (and head callbacks) running at once */
};

/* The defaults: a body budget of a quarter of the RAM, at most 512 MiB and at least
 * 160 MiB; 16384 connections, 128 per address; 15 s for headers, 300 s of silence in
 * a request; 256 handler threads (started as needed; at least 2). */
void vv_http_limits_default(struct vv_http_limits *l);

/* Listen on host:port ("127.0.0.1:8080"; port 0 picks a free one) and serve until
 * vv_http_stop: plain HTTP when tls is NULL, else HTTPS with tls's pair. lim may be
 * NULL for the defaults. Raises the process's soft open-file limit to its hard limit.
 * *out_port gets the bound port. Failures are logged. Returns 0, VV_E_INVAL (bad
 * listen address), VV_E_UNSUPPORTED (tls given, vv_http_tls_available() false),
 * VV_E_NOMEM or VV_E_IO (cannot listen, or the TLS library refused the pair).
 * Owner of *out: the caller, vv_http_stop(). */
int vv_http_start(const char *listen, const struct vv_http_tls *tls,
                  const struct vv_http_limits *lim, vv_http_head_fn head,
                  vv_http_handler_fn handler, vv_http_done_fn done, void *ctx,
                  struct vv_http_server **out, unsigned *out_port) VV_MUST_CHECK;
/* Stop: requests not yet handed to a handler are answered 503, running handlers
 * are waited for, every connection is closed, and s is freed. NULL is a no-op. */
void vv_http_stop(struct vv_http_server *s);

#endif
