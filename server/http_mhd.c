/*
 * http_mhd.c: the libmicrohttpd adapter behind http.h. One thread per connection;
 * request bodies are collected into a buffer capped per route before the handler
 * runs; oversized bodies are refused from their Content-Length, or as soon as they
 * pass the cap, without being kept.
 *
 * HTTPS is libmicrohttpd's own (GnuTLS underneath), given the PEM pair in memory.
 * The handshake happens on the connection's thread, under the same idle timeout as
 * a request, so a stalled or plain-HTTP client never holds up another connection.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "buf.h"
#include "err.h"
#include "log.h"

struct vv_http_server {
    struct MHD_Daemon *d;
    vv_http_cap_fn cap;
    vv_http_handler_fn handler;
    vv_http_done_fn done;
    void *ctx;
    char *cert_pem; /* owned copies of the TLS pair, NULL for plain HTTP; libmicrohttpd */
    char *key_pem;  /* reads them while the daemon runs; the key is cleared when freed */
    pthread_mutex_t log_mu;
    char last_log[512]; /* libmicrohttpd's last message, to explain a failed start */
};

/* TLS 1.2 and 1.3 only, GnuTLS's default ciphers within them. */
static const char tls_priorities[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";

/* Per-request state, from the first call of the access handler to completion. */
struct conn_state {
    struct vv_buf body;
    size_t cap;
    int too_big;
    struct timespec t0;
};

static const char too_big_body[] =
    "{\"error\":{\"code\":\"RequestTooLarge\",\"message\":\"the request body is larger than "
    "this endpoint accepts\"}}";

const char *vv_http_query(const struct vv_http_req *req, const char *name)
{
    if (!req->conn)
        return NULL;
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *vv_http_header(const struct vv_http_req *req, const char *name)
{
    if (!req->conn)
        return NULL;
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

void vv_http_peer(const struct vv_http_req *req, char *out, size_t outlen)
{
    const union MHD_ConnectionInfo *ci;
    snprintf(out, outlen, "?");
    if (!req->conn)
        return;
    ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    if (ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr,
                  out, (socklen_t)outlen);
    else if (ci->client_addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6,
                  &((const struct sockaddr_in6 *)(const void *)ci->client_addr)->sin6_addr, out,
                  (socklen_t)outlen);
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* A body in pieces: MHD copies the vector and calls this when the response goes. */
struct iov_owner {
    void *owner;
    void (*release)(void *owner);
};

static void iov_release(void *cls)
{
    struct iov_owner *o = cls;
    o->release(o->owner);
    free(o);
}

/* The body of resp as an MHD response; resp's body or iov owner passes to it (or is
 * freed when it cannot be made). NULL when out of memory. */
static struct MHD_Response *body_response(struct vv_http_resp *resp)
{
    struct MHD_Response *r = NULL;
    struct MHD_IoVec *v = NULL;
    struct iov_owner *o = NULL;

    if (resp->release) {
        if (resp->niov <= UINT_MAX && (v = calloc(resp->niov ? resp->niov : 1, sizeof(*v))) &&
            (o = malloc(sizeof(*o)))) {
            for (size_t i = 0; i < resp->niov; i++)
                v[i] = (struct MHD_IoVec){resp->iov[i].base, resp->iov[i].len};
            o->owner = resp->owner;
            o->release = resp->release;
            r = MHD_create_response_from_iovec(v, (unsigned)resp->niov, iov_release, o);
        }
        free(v);
        if (r) {
            resp->release = NULL; /* the response has it now */
        } else {
            free(o);
        }
        vv_http_resp_release(resp);
        return r;
    }
    if (!resp->body)
        return MHD_create_response_from_buffer(0, (void *)(uintptr_t) "", MHD_RESPMEM_PERSISTENT);
    r = MHD_create_response_from_buffer(resp->body_len, resp->body, MHD_RESPMEM_MUST_FREE);
    if (r)
        resp->body = NULL;
    vv_http_resp_release(resp);
    return r;
}

static enum MHD_Result send_response(struct MHD_Connection *c, int status, const char *type,
                                     struct MHD_Response *r, const char *allow,
                                     const char *encoding, const char *const (*headers)[2])
{
    int cache_set = 0;
    enum MHD_Result ret;

    if (!r)
        return MHD_NO;
    if (type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    for (size_t i = 0; headers && i < 6 && headers[i][0]; i++) {
        MHD_add_response_header(r, headers[i][0], headers[i][1]);
        if (!strcasecmp(headers[i][0], "Cache-Control"))
            cache_set = 1;
    }
    if (!cache_set)
        MHD_add_response_header(r, "Cache-Control", "no-store");
    if (allow && *allow)
        MHD_add_response_header(r, "Allow", allow);
    if (encoding)
        MHD_add_response_header(r, "Content-Encoding", encoding);
    ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_too_big(struct MHD_Connection *c)
{
    return send_response(c, 413, "application/json",
                         MHD_create_response_from_buffer(sizeof(too_big_body) - 1,
                                                         (void *)(uintptr_t)too_big_body,
                                                         MHD_RESPMEM_PERSISTENT),
                         NULL, NULL, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct vv_http_server *s = cls;
    struct conn_state *st = *con_cls;
    (void)version;

    if (!st) {
        const char *cl;
        st = calloc(1, sizeof(*st));
        if (!st)
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &st->t0);
        st->cap = s->cap(s->ctx, method, url);
        vv_buf_init(&st->body, st->cap);
        *con_cls = st;
        cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            unsigned long long n;
            errno = 0;
            n = strtoull(cl, &end, 10);
            if (errno || *end || n > st->cap)
                st->too_big = 1;
            /* Room for the whole body at once: growing it as the pieces arrive
             * would copy it again at each doubling. The pages are touched only as
             * the body fills them. */
            else if (n && vv_buf_reserve(&st->body, (size_t)n) != 0)
                return MHD_NO;
        }
        if (st->too_big) {
            /* Answer before reading the body; libmicrohttpd then closes the
             * connection instead of receiving what we would throw away. */
            struct vv_http_req req = {method, url, NULL, 0, c};
            if (s->done)
                s->done(s->ctx, &req, 413, ms_since(&st->t0));
            return send_too_big(c);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!st->too_big && vv_buf_append(&st->body, upload_data, *upload_data_size) != 0) {
            st->too_big = 1;
            vv_buf_release(&st->body);
            vv_buf_init(&st->body, 0);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    {
        struct vv_http_req req = {method, url, st->body.len ? st->body.data : NULL, st->body.len,
                                  c};
        struct vv_http_resp resp = {0, NULL, NULL, 0, "", NULL, {{NULL, NULL}}, NULL, 0, NULL, NULL};
        const char *encoding;
        enum MHD_Result ret;

        if (st->too_big) {
            if (s->done)
                s->done(s->ctx, &req, 413, ms_since(&st->t0));
            return send_too_big(c);
        }
        s->handler(s->ctx, &req, &resp);
        if (resp.status == 0) {
            vv_http_resp_release(&resp);
            resp.status = 500;
            resp.body = strdup("{\"error\":{\"code\":\"InternalError\",\"message\":\"internal error\"}}");
            resp.body_len = resp.body ? strlen(resp.body) : 0;
            resp.content_type = "application/json";
        }
        if (s->done)
            s->done(s->ctx, &req, resp.status, ms_since(&st->t0));
        encoding = resp.body || resp.release ? resp.content_encoding : NULL;
        ret = send_response(c, resp.status, resp.content_type, body_response(&resp), resp.allow,
                            encoding, (const char *const (*)[2])resp.headers);
        return ret;
    }
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct conn_state *st = *con_cls;
    (void)cls;
    (void)c;
    (void)toe;
    if (st) {
        vv_buf_release(&st->body);
        free(st);
        *con_cls = NULL;
    }
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct vv_http_server *s = cls;
    char msg[512];
    size_t n;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = 0;
    vv_debug("http: %s", msg);
    pthread_mutex_lock(&s->log_mu);
    snprintf(s->last_log, sizeof(s->last_log), "%s", msg);
    pthread_mutex_unlock(&s->log_mu);
}

int vv_http_tls_available(void)
{
    return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

static void free_secret(char *p)
{
    if (!p)
        return;
    for (volatile char *q = p; *q; q++)
        *q = 0;
    free(p);
}

static void server_free(struct vv_http_server *s)
{
    free(s->cert_pem);
    free_secret(s->key_pem);
    pthread_mutex_destroy(&s->log_mu);
    free(s);
}

/* Split "host:port" or "[v6]:port". */
static int parse_listen(const char *listen, char *host, size_t hostlen, char *port,
                        size_t portlen)
{
    const char *colon;
    size_t hl;

    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':')
            return VV_E_INVAL;
        hl = (size_t)(close - listen - 1);
        if (hl + 1 > hostlen)
            return VV_E_INVAL;
        memcpy(host, listen + 1, hl);
        host[hl] = 0;
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon)
            return VV_E_INVAL;
        hl = (size_t)(colon - listen);
        if (hl == 0 || hl + 1 > hostlen)
            return VV_E_INVAL;
        memcpy(host, listen, hl);
        host[hl] = 0;
    }
    if (!colon[1] || strlen(colon + 1) + 1 > portlen || strspn(colon + 1, "0123456789") !=
                                                             strlen(colon + 1))
        return VV_E_INVAL;
    snprintf(port, portlen, "%s", colon + 1);
    return strtol(port, NULL, 10) > 65535 ? VV_E_INVAL : 0;
}

int vv_http_start(const char *listen, const struct vv_http_tls *tls, vv_http_cap_fn cap,
                  vv_http_handler_fn handler, vv_http_done_fn done, void *ctx,
                  struct vv_http_server **out, unsigned *out_port)
{
    char host[128], port[16];
    struct addrinfo hints, *ai = NULL;
    struct vv_http_server *s;
    const union MHD_DaemonInfo *di;
    struct MHD_OptionItem tls_opts[4] = {{MHD_OPTION_END, 0, NULL}};
    unsigned flags;
    int r;

    if (parse_listen(listen, host, sizeof(host), port, sizeof(port)) != 0) {
        vv_error("--listen '%s': expected HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080", listen);
        return VV_E_INVAL;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    hints.ai_socktype = SOCK_STREAM;
    r = getaddrinfo(host, port, &hints, &ai);
    if (r != 0) {
        vv_error("--listen '%s': %s (give a numeric address such as 127.0.0.1)", listen,
                 gai_strerror(r));
        return VV_E_INVAL;
    }
    if (tls && !vv_http_tls_available()) {
        vv_error("cannot serve HTTPS: this libmicrohttpd was built without TLS support");
        freeaddrinfo(ai);
        return VV_E_UNSUPPORTED;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        freeaddrinfo(ai);
        return VV_E_NOMEM;
    }
    pthread_mutex_init(&s->log_mu, NULL);
    if (tls && (!(s->cert_pem = strdup(tls->cert_pem)) || !(s->key_pem = strdup(tls->key_pem)))) {
        freeaddrinfo(ai);
        server_free(s);
        return VV_E_NOMEM;
    }
    s->cap = cap;
    s->handler = handler;
    s->done = done;
    s->ctx = ctx;
    flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (tls) {
        flags |= MHD_USE_TLS;
        tls_opts[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert_pem};
        tls_opts[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->key_pem};
        tls_opts[2] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                              (char *)(uintptr_t)tls_priorities};
    }
    errno = 0;
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                            ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)512,
                            MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, MHD_OPTION_ARRAY,
                            tls_opts, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->d) {
        int e = errno;
        if (tls && s->last_log[0])
            vv_error("cannot serve HTTPS on %s: %s", listen, s->last_log);
        else
            vv_error("cannot listen on %s: %s", listen, strerror(e ? e : EADDRINUSE));
        server_free(s);
        return VV_E_IO;
    }
    di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_LISTEN_FD);
    *out_port = 0;
    if (di) {
        struct sockaddr_storage sa;
        socklen_t len = sizeof(sa);
        if (getsockname(di->listen_fd, (struct sockaddr *)&sa, &len) == 0) {
            if (sa.ss_family == AF_INET)
                *out_port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
            else if (sa.ss_family == AF_INET6)
                *out_port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
        }
    }
    *out = s;
    return 0;
}

void vv_http_stop(struct vv_http_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    server_free(s);
}
