/*
 * http_mhd.c: the libmicrohttpd adapter behind http.h.
 *
 * Threads: libmicrohttpd's one internal event loop thread (epoll) does the socket
 * work of every connection; a pool of handler threads (started as needed, at most
 * lim.handler_threads) runs the head callback and the handler while the connection
 * is suspended (MHD_suspend_connection), then resumes it with the answer ready; the
 * event loop queues it. A watch thread closes connections that have not sent a
 * request's headers within the header timeout, however slowly they trickle in.
 *
 * A request's state (struct conn_state) moves through:
 *   HEAD      headers complete, head callback queued or running (suspended)
 *   ADMITTED  the head let it through: the next call starts the body
 *   BODY      receiving the body into memory charged to the body budget
 *   RUN       body complete, handler queued or running (suspended)
 *   READY     an answer waits to be queued by the event loop
 * Only the thread that suspended a connection or the one that resumes it touches its
 * state; the resume (a mutex in libmicrohttpd) orders their writes.
 *
 * HTTPS is libmicrohttpd's own (GnuTLS underneath), given the PEM pair in memory; the
 * handshake runs on the event loop, without blocking, under the header timeout.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)
#define RETRY_AFTER "5" /* seconds a 503 for a full body budget asks to wait */

/* One connection, from accept to close (libmicrohttpd's socket context), listed in
 * the server's wait list while it owes the headers of a request. */
struct conn_rec {
    struct conn_rec *prev, *next;
    int fd;
    int listed;
    struct timespec since; /* when it started to owe headers (monotonic) */
};

/* The handler threads and their queue of suspended requests. */
struct pool {
    pthread_mutex_t mu;
    pthread_cond_t work;    /* a job was queued, or quit */
    pthread_cond_t drained; /* busy fell to 0 */
    struct conn_state *head, *tail;
    unsigned nthreads, nidle, max;
    unsigned busy;          /* queued and running jobs */
    int stopping;           /* refuse new jobs */
    int quit;               /* threads end */
    pthread_t *threads;     /* owned, max entries */
};

struct vv_http_server {
    struct MHD_Daemon *d;
    vv_http_head_fn head;
    vv_http_handler_fn handler;
    vv_http_done_fn done;
    void *ctx;
    struct vv_http_limits lim;
    char *cert_pem; /* owned copies of the TLS pair, NULL for plain HTTP; libmicrohttpd */
    char *key_pem;  /* reads them while the daemon runs; the key is cleared when freed */
    pthread_mutex_t log_mu;
    char last_log[512]; /* libmicrohttpd's last message, to explain a failed start */
    pthread_mutex_t budget_mu;
    size_t budget_used; /* bytes charged by the bodies in flight */
    /* connections owing headers, oldest first; the watch thread closes the late */
    pthread_mutex_t wait_mu;
    pthread_cond_t wait_cv;
    struct conn_rec *wait_head, *wait_tail;
    int watch_quit, watch_running;
    pthread_t watch;
    struct pool pool;
};

/* TLS 1.2 and 1.3 only, GnuTLS's default ciphers within them. */
static const char tls_priorities[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";

enum phase { PH_HEAD, PH_ADMITTED, PH_BODY, PH_RUN, PH_READY };
enum job { JOB_HEAD, JOB_HANDLE };

/* Per-request state, from the first call of the access handler to completion. */
struct conn_state {
    struct conn_state *next; /* in the pool's queue */
    struct vv_http_server *s;
    struct MHD_Connection *c;
    const char *method, *url; /* libmicrohttpd's, valid until the request ends */
    struct timespec t0;
    enum phase phase;
    enum job job;
    size_t cap;     /* the largest body the head accepted */
    uint8_t *data;  /* the body so far, allocated to exactly charged bytes */
    size_t len;
    size_t charged; /* bytes of the budget this request holds */
    int too_big;    /* the body passed cap while arriving */
    int busy;       /* the body passed the budget while arriving */
    void *state;    /* the head callback's, freed with free() */
    struct MHD_Response *resp; /* the answer waiting to be queued */
    unsigned status;
};

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

static double ms_between(const struct timespec *t0, const struct timespec *t1)
{
    return (double)(t1->tv_sec - t0->tv_sec) * 1e3 + (double)(t1->tv_nsec - t0->tv_nsec) / 1e6;
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return ms_between(t0, &t);
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


/* ---- the body budget ------------------------------------------------------------- */

/* Charge n bytes to the budget: 0, or -1 when they do not fit now. */
static int budget_take(struct vv_http_server *s, size_t n)
{
    int r = -1;
    pthread_mutex_lock(&s->budget_mu);
    if (n <= s->lim.body_budget - s->budget_used) {
        s->budget_used += n;
        r = 0;
    }
    pthread_mutex_unlock(&s->budget_mu);
    return r;
}

static void budget_give(struct vv_http_server *s, size_t n)
{
    pthread_mutex_lock(&s->budget_mu);
    s->budget_used -= n;
    pthread_mutex_unlock(&s->budget_mu);
}

/* Free the body and give its bytes back to the budget. */
static void body_release(struct conn_state *st)
{
    free(st->data);
    st->data = NULL;
    st->len = 0;
    budget_give(st->s, st->charged);
    st->charged = 0;
}

/* Room for n more bytes of body, charged to the budget and allocated: exactly n
 * (a Content-Length), or in steps doubling from 64 KiB (a body arriving without one,
 * or past it), never past the cap. 0, 1 when the budget has no room now (nothing
 * taken), VV_E_TOOBIG (past the cap) or VV_E_NOMEM. */
static int body_room(struct conn_state *st, size_t n, int exact)
{
    size_t want, more;
    uint8_t *p;

    if (n > st->cap || st->len > st->cap - n)
        return VV_E_TOOBIG;
    if (st->len + n <= st->charged)
        return 0;
    want = exact ? 0 : st->charged < 64 * KiB ? 64 * KiB : st->charged * 2;
    if (want < st->len + n)
        want = st->len + n;
    if (want > st->cap)
        want = st->cap;
    more = want - st->charged;
    if (budget_take(st->s, more) != 0)
        return 1;
    p = realloc(st->data, want);
    if (!p) {
        budget_give(st->s, more);
        return VV_E_NOMEM;
    }
    st->data = p;
    st->charged = want;
    return 0;
}

/* ---- the header deadline ----------------------------------------------------------- */

static void wait_unlist(struct vv_http_server *s, struct conn_rec *r)
{
    if (!r->listed)
        return;
    if (r->prev)
        r->prev->next = r->next;
    else
        s->wait_head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        s->wait_tail = r->prev;
    r->prev = r->next = NULL;
    r->listed = 0;
}

/* r starts to owe a request's headers (accepted, or its last answer sent). */
static void wait_start(struct vv_http_server *s, struct conn_rec *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&s->wait_mu);
    wait_unlist(s, r);
    clock_gettime(CLOCK_MONOTONIC, &r->since);
    r->prev = s->wait_tail;
    if (s->wait_tail)
        s->wait_tail->next = r;
    else
        s->wait_head = r;
    s->wait_tail = r;
    r->listed = 1;
    pthread_mutex_unlock(&s->wait_mu);
}

static void wait_end(struct vv_http_server *s, struct conn_rec *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&s->wait_mu);
    wait_unlist(s, r);
    pthread_mutex_unlock(&s->wait_mu);
}

/* The watch thread: shuts down the socket of every connection that has owed headers
 * for longer than the header timeout. libmicrohttpd then sees the end of the stream
 * and closes it. The record is freed by the close notification, which takes wait_mu
 * first, so the descriptor shut down here is always still the connection's. */
static void *watch_main(void *arg)
{
    struct vv_http_server *s = arg;

    pthread_mutex_lock(&s->wait_mu);
    while (!s->watch_quit) {
        struct timespec now, until;
        unsigned closed = 0;
        clock_gettime(CLOCK_MONOTONIC, &now);
        while (s->wait_head &&
               ms_between(&s->wait_head->since, &now) >= s->lim.header_timeout * 1000.0) {
            struct conn_rec *r = s->wait_head;
            shutdown(r->fd, SHUT_RDWR);
            wait_unlist(s, r);
            closed++;
        }
        if (closed)
            vv_debug("http: closed %u connection(s) that sent no complete request headers "
                     "within %u s (--header-timeout)",
                     closed, s->lim.header_timeout);
        until = now;
        until.tv_nsec += 250 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->wait_cv, &s->wait_mu, &until);
    }
    pthread_mutex_unlock(&s->wait_mu);
    return NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct vv_http_server *s = cls;
    struct conn_rec *r = *socket_context;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!ci || !(r = calloc(1, sizeof(*r))))
            return; /* not watched: the request timeout still applies */
        r->fd = ci->connect_fd;
        *socket_context = r;
        wait_start(s, r);
    } else if (r) {
        wait_end(s, r);
        free(r);
        *socket_context = NULL;
    }
}

static struct conn_rec *conn_rec_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* ---- answers ------------------------------------------------------------------------ */

#define RESP_INIT {0, NULL, NULL, 0, "", NULL, {{NULL, NULL}}, NULL, 0, NULL, NULL}

/* resp as a libmicrohttpd response with its headers; what resp owns passes to it
 * (or is freed). NULL when out of memory. */
static struct MHD_Response *make_response(struct vv_http_resp *resp)
{
    const char *encoding = resp->body || resp->release ? resp->content_encoding : NULL;
    const char *type = resp->content_type;
    struct MHD_Response *r = body_response(resp);
    int cache_set = 0;

    if (!r)
        return NULL;
    if (type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    for (size_t i = 0; i < 6 && resp->headers[i][0]; i++) {
        MHD_add_response_header(r, resp->headers[i][0], resp->headers[i][1]);
        if (!strcasecmp(resp->headers[i][0], "Cache-Control"))
            cache_set = 1;
    }
    if (!cache_set)
        MHD_add_response_header(r, "Cache-Control", "no-store");
    if (resp->allow[0])
        MHD_add_response_header(r, "Allow", resp->allow);
    if (encoding)
        MHD_add_response_header(r, "Content-Encoding", encoding);
    return r;
}

/* An error answer in the API's JSON shape; fmt's text holds no '"' or '\'. */
static void error_answer(struct vv_http_resp *resp, int status, const char *code,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void error_answer(struct vv_http_resp *resp, int status, const char *code,
                         const char *fmt, ...)
{
    char msg[400], *body;
    va_list ap;
    int n;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    vv_http_resp_release(resp);
    resp->status = status;
    resp->content_type = "application/json";
    n = snprintf(NULL, 0, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code, msg);
    if (n > 0 && (body = malloc((size_t)n + 1))) {
        snprintf(body, (size_t)n + 1, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code,
                 msg);
        resp->body = body;
        resp->body_len = (size_t)n;
    }
    if (status == 503) {
        resp->headers[0][0] = "Retry-After";
        resp->headers[0][1] = RETRY_AFTER;
        resp->headers[1][0] = NULL;
    }
}

static void too_big_answer(struct conn_state *st, struct vv_http_resp *resp)
{
    error_answer(resp, 413, "RequestTooLarge",
                 "the request body is larger than this endpoint accepts (at most %zu bytes)",
                 st->cap);
}

static void busy_answer(struct conn_state *st, struct vv_http_resp *resp)
{
    error_answer(resp, 503, "ServerBusy",
                 "the server holds as many request bodies as its memory budget allows "
                 "(%zu MiB, vmvaultd --body-budget): retry in " RETRY_AFTER " s",
                 st->s->lim.body_budget / MiB);
}

/* resp becomes the request's answer: logged, made into the response the event loop
 * queues when it next calls on the connection. */
static void answer(struct conn_state *st, const struct vv_http_req *req,
                   struct vv_http_resp *resp)
{
    struct vv_http_server *s = st->s;

    if (resp->status == 0)
        error_answer(resp, 500, "InternalError", "internal error (see the server log)");
    if (s->done)
        s->done(s->ctx, req, resp->status, ms_since(&st->t0));
    st->status = (unsigned)resp->status;
    st->resp = make_response(resp);
    st->phase = PH_READY;
}

/* ---- the two jobs a handler thread runs ------------------------------------------ */

/* The head let the request through: check its Content-Length against the cap and
 * the budget, and charge it. Answers 413 or 503 itself. */
static void admit(struct conn_state *st, const struct vv_http_req *req)
{
    const char *cl = MHD_lookup_connection_value(st->c, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    struct vv_http_resp resp = RESP_INIT;
    unsigned long long n = 0;
    int r;

    if (cl) {
        char *end;
        errno = 0;
        n = strtoull(cl, &end, 10);
        if (errno || end == cl || *end || cl[0] < '0' || cl[0] > '9' || n > st->cap) {
            too_big_answer(st, &resp);
            answer(st, req, &resp);
            return;
        }
    }
    if (n > st->s->lim.body_budget) {
        error_answer(&resp, 413, "RequestTooLarge",
                     "the request body (%llu bytes) is larger than this server holds for all "
                     "requests together (vmvaultd --body-budget, %zu MiB)",
                     n, st->s->lim.body_budget / MiB);
        answer(st, req, &resp);
        return;
    }
    r = n ? body_room(st, (size_t)n, 1) : 0;
    if (r == 0) {
        st->phase = PH_ADMITTED;
        return;
    }
    busy_answer(st, &resp); /* over the budget, or out of memory: both pass */
    answer(st, req, &resp);
}

static void run_head(struct conn_state *st)
{
    struct vv_http_server *s = st->s;
    struct vv_http_req req = {st->method, st->url, NULL, 0, st->c, NULL};
    struct vv_http_resp resp = RESP_INIT;
    struct vv_http_head h = {64 * KiB, NULL};

    if (s->head(s->ctx, &req, &h, &resp)) {
        free(h.state);
        answer(st, &req, &resp);
        return;
    }
    st->state = h.state;
    st->cap = h.cap;
    req.state = st->state;
    admit(st, &req);
}

static void run_handler(struct conn_state *st)
{
    struct vv_http_server *s = st->s;
    struct vv_http_req req = {st->method, st->url, st->len ? st->data : NULL, st->len, st->c,
                              st->state};
    struct vv_http_resp resp = RESP_INIT;

    if (st->too_big)
        too_big_answer(st, &resp);
    else if (st->busy)
        busy_answer(st, &resp);
    else
        s->handler(s->ctx, &req, &resp);
    answer(st, &req, &resp);
    body_release(st); /* the budget has its bytes back before the answer goes */
}

/* ---- the handler threads ------------------------------------------------------------ */

static void *pool_main(void *arg)
{
    struct vv_http_server *s = arg;
    struct pool *p = &s->pool;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        struct conn_state *st;
        struct MHD_Connection *c;
        while (!p->head && !p->quit) {
            p->nidle++;
            pthread_cond_wait(&p->work, &p->mu);
            p->nidle--;
        }
        if (!p->head)
            break;
        st = p->head;
        p->head = st->next;
        if (!p->head)
            p->tail = NULL;
        pthread_mutex_unlock(&p->mu);
        c = st->c;
        if (st->job == JOB_HEAD)
            run_head(st);
        else
            run_handler(st);
        MHD_resume_connection(c); /* st belongs to the event loop again */
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0)
            pthread_cond_broadcast(&p->drained);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Queue st for a handler thread, starting one when none is idle and fewer than the
 * most run. 0, or -1 when the server is stopping. */
static int pool_submit(struct vv_http_server *s, struct conn_state *st)
{
    struct pool *p = &s->pool;
    unsigned queued = 0;

    pthread_mutex_lock(&p->mu);
    if (p->stopping) {
        pthread_mutex_unlock(&p->mu);
        return -1;
    }
    st->next = NULL;
    if (p->tail)
        p->tail->next = st;
    else
        p->head = st;
    p->tail = st;
    p->busy++;
    for (struct conn_state *q = p->head; q && queued <= p->nidle; q = q->next)
        queued++;
    if (queued > p->nidle && p->nthreads < p->max &&
        pthread_create(&p->threads[p->nthreads], NULL, pool_main, s) == 0)
        p->nthreads++;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

/* ---- libmicrohttpd's callbacks ------------------------------------------------------ */

/* Suspend the connection and hand st to a handler thread for job; the thread resumes
 * it with the next phase set. */
static enum MHD_Result hand_over(struct conn_state *st, enum job job)
{
    st->job = job;
    st->phase = job == JOB_HEAD ? PH_HEAD : PH_RUN;
    MHD_suspend_connection(st->c);
    if (pool_submit(st->s, st) != 0) {
        struct vv_http_req req = {st->method, st->url, NULL, 0, st->c, st->state};
        struct vv_http_resp resp = RESP_INIT;
        error_answer(&resp, 503, "ServerBusy", "the server is stopping: retry once it is back");
        answer(st, &req, &resp);
        MHD_resume_connection(st->c);
    }
    return MHD_YES;
}

static enum MHD_Result queue_answer(struct conn_state *st)
{
    struct MHD_Response *r = st->resp;
    enum MHD_Result ret;

    st->resp = NULL;
    if (!r)
        return MHD_NO; /* out of memory making it: close the connection */
    ret = MHD_queue_response(st->c, st->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* A piece of the body: kept when it fits the cap and the budget; after the first that
 * does not, the body is dropped and the rest read without being kept. */
static void take(struct conn_state *st, const char *data, size_t n)
{
    int r;

    if (st->too_big || st->busy)
        return;
    r = body_room(st, n, 0);
    if (r == 0) {
        memcpy(st->data + st->len, data, n);
        st->len += n;
        return;
    }
    if (r == VV_E_TOOBIG)
        st->too_big = 1;
    else
        st->busy = 1;
    body_release(st);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct vv_http_server *s = cls;
    struct conn_state *st = *con_cls;
    (void)version;

    if (!st) { /* the headers are complete */
        wait_end(s, conn_rec_of(c));
        if (!(st = calloc(1, sizeof(*st))))
            return MHD_NO;
        st->s = s;
        st->c = c;
        st->method = method;
        st->url = url;
        clock_gettime(CLOCK_MONOTONIC, &st->t0);
        *con_cls = st;
        return hand_over(st, JOB_HEAD);
    }
    switch (st->phase) {
    case PH_READY:
        return queue_answer(st);
    case PH_ADMITTED:
        st->phase = PH_BODY;
        return MHD_YES;
    case PH_BODY:
        if (*upload_data_size) {
            take(st, upload_data, *upload_data_size);
            *upload_data_size = 0;
            return MHD_YES;
        }
        return hand_over(st, JOB_HANDLE);
    case PH_HEAD:
    case PH_RUN:
        break;
    }
    return MHD_YES; /* suspended for a handler thread: nothing to do yet */
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct vv_http_server *s = cls;
    struct conn_state *st = *con_cls;

    if (st) {
        body_release(st);
        free(st->state);
        if (st->resp)
            MHD_destroy_response(st->resp);
        free(st);
        *con_cls = NULL;
    }
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        wait_start(s, conn_rec_of(c)); /* kept alive: the next headers are owed */
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

void vv_http_limits_default(struct vv_http_limits *l)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    uint64_t quarter = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page / 4 : 0;

    l->body_budget = 512 * MiB;
    if (quarter && quarter < l->body_budget)
        l->body_budget = quarter < 160 * MiB ? 160 * MiB : (size_t)quarter;
    l->max_conns = 16384;
    l->max_conns_per_addr = 128;
    l->header_timeout = 15;
    l->request_timeout = 300;
    l->handler_threads = 256;
}

static void server_free(struct vv_http_server *s)
{
    free(s->cert_pem);
    free_secret(s->key_pem);
    free(s->pool.threads);
    pthread_mutex_destroy(&s->log_mu);
    pthread_mutex_destroy(&s->budget_mu);
    pthread_mutex_destroy(&s->wait_mu);
    pthread_cond_destroy(&s->wait_cv);
    pthread_mutex_destroy(&s->pool.mu);
    pthread_cond_destroy(&s->pool.work);
    pthread_cond_destroy(&s->pool.drained);
    free(s);
}

/* Raise the soft open-file limit to the hard one, and lower *max_conns to what it
 * leaves after the files the server opens itself (catalog, stores, chunk files). */
static void fit_open_files(unsigned *max_conns)
{
    struct rlimit rl;
    rlim_t fit;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t was = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            rl.rlim_cur = was;
    }
    if (rl.rlim_cur == RLIM_INFINITY)
        return;
    fit = rl.rlim_cur > 2048 ? rl.rlim_cur - 1024 : rl.rlim_cur / 2;
    if (*max_conns > fit) {
        vv_warn("http: serving at most %llu connections at once, not %u: the open-file "
                "limit is %llu (raise it, e.g. LimitNOFILE= in the service unit, or lower "
                "--max-connections)",
                (unsigned long long)fit, *max_conns, (unsigned long long)rl.rlim_cur);
        *max_conns = (unsigned)fit;
    }
}

/* A server with the callbacks, the limits and a copy of the TLS pair; its locks and
 * its watch thread and first handler threads started. NULL after logging. */
static struct vv_http_server *server_new(const struct vv_http_tls *tls,
                                         const struct vv_http_limits *lim)
{
    struct vv_http_server *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    pthread_mutex_init(&s->log_mu, NULL);
    pthread_mutex_init(&s->budget_mu, NULL);
    pthread_mutex_init(&s->wait_mu, NULL);
    {
        /* the watch thread's deadlines are CLOCK_MONOTONIC times */
        pthread_condattr_t a;
        pthread_condattr_init(&a);
        pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
        pthread_cond_init(&s->wait_cv, &a);
        pthread_condattr_destroy(&a);
    }
    pthread_mutex_init(&s->pool.mu, NULL);
    pthread_cond_init(&s->pool.work, NULL);
    pthread_cond_init(&s->pool.drained, NULL);
    if (lim)
        s->lim = *lim;
    else
        vv_http_limits_default(&s->lim);
    if (s->lim.handler_threads < 2)
        s->lim.handler_threads = 2;
    fit_open_files(&s->lim.max_conns);
    s->pool.max = s->lim.handler_threads;
    if (!(s->pool.threads = calloc(s->pool.max, sizeof(pthread_t))) ||
        (tls && (!(s->cert_pem = strdup(tls->cert_pem)) || !(s->key_pem = strdup(tls->key_pem))))) {
        server_free(s);
        return NULL;
    }
    return s;
}

/* Start the watch thread and two handler threads (more start as requests need
 * them). 0, or -1 after logging with none left running. */
static int threads_start(struct vv_http_server *s)
{
    int e = pthread_create(&s->watch, NULL, watch_main, s);
    if (e == 0) {
        s->watch_running = 1;
        while (s->pool.nthreads < 2 &&
               (e = pthread_create(&s->pool.threads[s->pool.nthreads], NULL, pool_main, s)) == 0)
            s->pool.nthreads++;
    }
    if (e == 0)
        return 0;
    vv_error("cannot start the HTTP server's threads: %s (raise the process or memory "
             "limits)",
             strerror(e));
    return -1;
}

/* Stop and join the handler and watch threads (no connection may use them). */
static void threads_stop(struct vv_http_server *s)
{
    pthread_mutex_lock(&s->pool.mu);
    s->pool.quit = 1;
    pthread_cond_broadcast(&s->pool.work);
    pthread_mutex_unlock(&s->pool.mu);
    for (unsigned i = 0; i < s->pool.nthreads; i++)
        pthread_join(s->pool.threads[i], NULL);
    s->pool.nthreads = 0;
    if (s->watch_running) {
        pthread_mutex_lock(&s->wait_mu);
        s->watch_quit = 1;
        pthread_cond_signal(&s->wait_cv);
        pthread_mutex_unlock(&s->wait_mu);
        pthread_join(s->watch, NULL);
        s->watch_running = 0;
    }
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

/* Start libmicrohttpd on addr with s's limits. 0, or VV_E_IO after logging. */
static int daemon_start(struct vv_http_server *s, const char *listen,
                        const struct sockaddr *addr, int tls)
{
    struct MHD_OptionItem tls_opts[4] = {{MHD_OPTION_END, 0, NULL}};
    unsigned flags =
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

    if (addr->sa_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (tls) {
        flags |= MHD_USE_TLS;
        tls_opts[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert_pem};
        tls_opts[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->key_pem};
        tls_opts[2] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                              (char *)(uintptr_t)tls_priorities};
    }
    errno = 0;
    s->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, s, MHD_OPTION_CONNECTION_TIMEOUT, s->lim.request_timeout,
        MHD_OPTION_CONNECTION_LIMIT, s->lim.max_conns, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        s->lim.max_conns_per_addr, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
    if (s->d)
        return 0;
    {
        int e = errno;
        if (tls && s->last_log[0])
            vv_error("cannot serve HTTPS on %s: %s", listen, s->last_log);
        else
            vv_error("cannot listen on %s: %s", listen, strerror(e ? e : EADDRINUSE));
    }
    return VV_E_IO;
}

static unsigned bound_port(struct vv_http_server *s)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);

    if (!di || getsockname(di->listen_fd, (struct sockaddr *)&sa, &len) != 0)
        return 0;
    if (sa.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&sa)->sin_port);
    if (sa.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
    return 0;
}

int vv_http_start(const char *listen, const struct vv_http_tls *tls,
                  const struct vv_http_limits *lim, vv_http_head_fn head,
                  vv_http_handler_fn handler, vv_http_done_fn done, void *ctx,
                  struct vv_http_server **out, unsigned *out_port)
{
    char host[128], port[16];
    struct addrinfo hints, *ai = NULL;
    struct vv_http_server *s;
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
    if (!(s = server_new(tls, lim))) {
        freeaddrinfo(ai);
        return VV_E_NOMEM;
    }
    s->head = head;
    s->handler = handler;
    s->done = done;
    s->ctx = ctx;
    r = threads_start(s) != 0 ? VV_E_IO : daemon_start(s, listen, ai->ai_addr, tls != NULL);
    freeaddrinfo(ai);
    if (r != 0) {
        threads_stop(s);
        server_free(s);
        return r;
    }
    *out_port = bound_port(s);
    *out = s;
    return 0;
}

void vv_http_stop(struct vv_http_server *s)
{
    if (!s)
        return;
    /* New requests are answered 503 from here; those with a handler thread finish and
     * resume their connection while the event loop still runs. */
    pthread_mutex_lock(&s->pool.mu);
    s->pool.stopping = 1;
    while (s->pool.busy)
        pthread_cond_wait(&s->pool.drained, &s->pool.mu);
    pthread_mutex_unlock(&s->pool.mu);
    MHD_stop_daemon(s->d);
    threads_stop(s);
    server_free(s);
}
