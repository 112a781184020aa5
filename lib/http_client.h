/*
 * http_client.h: the adapter for libcurl, a small blocking HTTP client. Nothing else
 * includes curl.h. The CLI and the host agent use it to talk to the vault server.
 *
 * One struct vv_http is one connection cache: reuse it for a series of requests to
 * the same server (keep-alive), from one thread at a time. A request carries a method,
 * a URL, an optional bearer token, extra headers and a body; the answer's status and
 * body land in a vv_buf capped at req->max_response (64 MiB by default), so a
 * misbehaving server never makes the client allocate without bound.
 *
 * Failures to get an HTTP answer at all (name resolution, refused connection,
 * timeout, TLS, a dropped connection) return a negative vv_err and say why in
 * resp->error, with resp->failure telling which kind it was. An HTTP error status
 * (4xx, 5xx) is not a failure here: it returns 0 with resp->status set, and the
 * caller reads the server's error from resp->body.
 *
 * TLS: by default a server's certificate is verified against the system's CA store.
 * vv_http_set_pin makes the client trust exactly one public key instead (the vault's
 * "sha256//..." pin from its credentials): chain and name checks are then off, and
 * any other key fails with VV_HTTP_PIN.
 *
 * Proxies: a proxy set with vv_http_set_proxy is used for every request; otherwise
 * the standard variables are read as libcurl reads them (https_proxy / HTTPS_PROXY
 * for https URLs, http_proxy for http ones, then all_proxy / ALL_PROXY, except for
 * hosts in no_proxy / NO_PROXY). The client resolves that itself, so a failure can
 * say whether the proxy or the server was at fault. HTTPS goes through a proxy in a
 * CONNECT tunnel, end to end.
 */
#ifndef VV_HTTP_CLIENT_H
#define VV_HTTP_CLIENT_H

#include "err.h"

#include <stddef.h>

#include "buf.h"

#define VV_HTTP_MAX_RESPONSE_DEFAULT (64u << 20)   /* 64 MiB */
#define VV_HTTP_CONNECT_TIMEOUT_MS_DEFAULT 10000L  /* 10 s */

/* Why no HTTP answer arrived (resp->failure). */
enum vv_http_failure {
    VV_HTTP_OK = 0,       /* an answer arrived (whatever its status) */
    VV_HTTP_BAD_URL,      /* malformed URL or a scheme other than http/https */
    VV_HTTP_DNS,          /* the host name (or the proxy's) does not resolve */
    VV_HTTP_REFUSED,      /* nothing listens there (connection refused) */
    VV_HTTP_UNREACHABLE,  /* no route to the host, or no answer to connecting (a
                           * firewall that drops) */
    VV_HTTP_TIMEOUT,      /* the request took too long once connected */
    VV_HTTP_TLS,          /* TLS handshake or certificate verification failed */
    VV_HTTP_PIN,          /* the server's public key is not the pinned one */
    VV_HTTP_PROXY,        /* the proxy does not resolve, cannot be reached, or refused
                           * the tunnel */
    VV_HTTP_PROXY_AUTH,   /* the proxy wants credentials (HTTP 407) */
    VV_HTTP_CONNECTION,   /* the connection broke: sending, receiving, empty reply */
    VV_HTTP_TOO_LARGE,    /* the answer exceeded max_response */
    VV_HTTP_OTHER,        /* anything else; resp->error has curl's text */
};

struct vv_http_request {
    const char *method;       /* "GET", "POST", "PUT", "PATCH", "DELETE", ... */
    const char *url;          /* absolute http:// or https:// URL, already escaped */
    const char *bearer;       /* sent as "Authorization: Bearer ..."; NULL for none */
    const char *const *headers; /* extra "Name: value" lines, NULL-terminated; or NULL */
    const void *body;         /* request body, or NULL for none */
    size_t body_len;
    const char *content_type; /* of the body; NULL sends none */
    long connect_timeout_ms;  /* 0: VV_HTTP_CONNECT_TIMEOUT_MS_DEFAULT */
    long timeout_ms;          /* whole request, 0: no limit */
    size_t max_response;      /* cap on the answer's body, 0: VV_HTTP_MAX_RESPONSE_DEFAULT */
};

#define VV_HTTP_REQUEST_INIT {NULL, NULL, NULL, NULL, NULL, 0, NULL, 0, 0, 0}

struct vv_http_response {
    long status;                  /* HTTP status, 0 when no answer arrived */
    struct vv_buf body;           /* the answer's body (not NUL-terminated) */
    char content_type[128];       /* the answer's Content-Type, "" when none */
    enum vv_http_failure failure; /* VV_HTTP_OK when an answer arrived (a proxy's
                                   * 407 is a VV_HTTP_PROXY_AUTH failure) */
    char proxy[256];              /* the proxy the request went through, "" direct */
    char error[512];              /* on failure: one human line, e.g. "Connection refused" */
};

/* Initialise libcurl for the process. Call once from main() before any thread is
 * started, and pair with vv_http_global_cleanup() at exit. Returns 0 or VV_E_NOMEM
 * (curl could not initialise its TLS backend). Calls nest (curl counts them). */
int vv_http_global_init(void) VV_MUST_CHECK;
void vv_http_global_cleanup(void);

/* A new client. user_agent is copied (NULL: "vmvault"). Returns NULL when out of
 * memory. Caller frees with vv_http_free(); vv_http_free(NULL) is a no-op. */
struct vv_http *vv_http_new(const char *user_agent);
void vv_http_free(struct vv_http *h);

/* Trust exactly the public key pin ("sha256//" + base64 of the SHA-256 of the DER
 * SubjectPublicKeyInfo, libcurl's format); NULL or "" goes back to the system CA
 * store. 0, VV_E_INVAL for a malformed pin, VV_E_NOMEM. */
int vv_http_set_pin(struct vv_http *h, const char *pin) VV_MUST_CHECK;

/* Use proxy ("http://host:port", or "host:port") for every request, with user and
 * password when not NULL; proxy NULL or "" goes back to the environment's. 0,
 * VV_E_INVAL for a malformed proxy, VV_E_NOMEM. */
int vv_http_set_proxy(struct vv_http *h, const char *proxy, const char *user,
                      const char *password) VV_MUST_CHECK;

/* The proxy a request to url would use (from vv_http_set_proxy, else the
 * environment), into out ("" when direct). */
void vv_http_proxy_for(const struct vv_http *h, const char *url, char *out, size_t n);

/* Initialise resp (empty body, no status). Must precede vv_http_do. */
void vv_http_response_init(struct vv_http_response *resp);
/* Free resp's body; resp can then be reused or dropped. Safe to call twice. */
void vv_http_response_release(struct vv_http_response *resp);

/* Perform one request and wait for its whole answer. On return resp holds the
 * status and body of this request (a previous body is discarded).
 * Returns 0 when an HTTP answer arrived (any status), or:
 *   VV_E_INVAL    the request is malformed (no method/URL, bad URL)
 *   VV_E_IO       no answer: resolution, connection, TLS, timeout (see resp->failure)
 *   VV_E_TOOBIG   the answer's body exceeded the cap
 *   VV_E_NOMEM    out of memory
 * resp->error always says what happened when the return is negative. */
int vv_http_do(struct vv_http *h, const struct vv_http_request *req,
               struct vv_http_response *resp) VV_MUST_CHECK;

/* A short English name of a failure kind ("connection refused"); static storage. */
const char *vv_http_failure_name(enum vv_http_failure f);

#endif
