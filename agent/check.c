/*
 * check.c: `vmvault-agent check-connectivity`: each step of the way to the vault,
 * tested in order, with what to do when one fails.
 *
 * Steps: config (agent.json, agent.conf), proxy (which one, and a TCP connection to
 * it), dns and tcp (straight to the vault; skipped through a proxy, which resolves and
 * connects for us), tls (the handshake and the pinned key; through the proxy's
 * tunnel when there is one), http (the vault answers its health check), auth (the
 * vault accepts this host's token), upload (one small chunk is sent and acknowledged).
 * A step after a failed one that needs it is skipped.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "crypto.h"
#include "err.h"
#include "log.h"
#include "util.h"

#define STEP_TIMEOUT_MS 10000

struct step {
    const char *name;
    const char *status; /* "pass", "fail", "skip" */
    char detail[1600];
    char remedy[4800];
    unsigned ms;
};

struct report {
    struct step s[12];
    int n, failed;
};

static uint64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct step *add(struct report *rep, const char *name, const char *status)
{
    struct step *s = &rep->s[rep->n++];
    memset(s, 0, sizeof(*s));
    s->name = name;
    s->status = status;
    if (!strcmp(status, "fail"))
        rep->failed++;
    return s;
}

/* host and port of an http(s)://host[:port]/ URL. */
static int split_url(const char *url, char *host, size_t hn, char *port, size_t pn, int *tls)
{
    const char *p = strstr(url, "://"), *e, *colon;
    *tls = !strncmp(url, "https://", 8);
    if (!p)
        return VV_E_INVAL;
    p += 3;
    e = p + strcspn(p, "/");
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(e - p));
        if (!rb)
            return VV_E_INVAL;
        snprintf(host, hn, "%.*s", (int)(rb - p - 1), p + 1);
        colon = rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(p, ':', (size_t)(e - p));
        snprintf(host, hn, "%.*s", (int)((colon ? colon : e) - p), p);
    }
    if (colon)
        snprintf(port, pn, "%.*s", (int)(e - colon - 1), colon + 1);
    else
        snprintf(port, pn, "%s", *tls ? "443" : "80");
    return host[0] ? 0 : VV_E_INVAL;
}

/* Resolve host; 0 and the first address text, or the resolver's message. */
static int resolve(const char *host, const char *port, struct addrinfo **out, char *msg,
                   size_t n)
{
    struct addrinfo hints;
    int g;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    g = getaddrinfo(host, port, &hints, out);
    if (g) {
        snprintf(msg, n, "%s", gai_strerror(g));
        return VV_E_NOTFOUND;
    }
    return 0;
}

/* A TCP connection to one of ai's addresses within STEP_TIMEOUT_MS. */
static int tcp_connect(const struct addrinfo *ai, char *msg, size_t n)
{
    int err = ETIMEDOUT;
    for (; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        struct pollfd p;
        socklen_t len = sizeof(err);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            close(fd);
            return 0;
        }
        if (errno != EINPROGRESS) {
            err = errno;
            close(fd);
            continue;
        }
        p.fd = fd;
        p.events = POLLOUT;
        if (poll(&p, 1, STEP_TIMEOUT_MS) == 1 &&
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
            close(fd);
            return 0;
        }
        if (err == 0)
            err = ETIMEDOUT;
        close(fd);
    }
    snprintf(msg, n, "%s", err == ETIMEDOUT ? "no answer within 10 s (a firewall that drops?)"
                                            : strerror(err));
    return VV_E_IO;
}

/* One request straight through http_client (no retries): 0 with the status. */
static int probe(struct vv_agent *a, const char *method, const char *path, int auth,
                 const void *body, size_t n, struct vv_http_response *resp)
{
    struct vv_http_request req = VV_HTTP_REQUEST_INIT;
    struct vv_http *h = vv_agent_http(a);
    char url[1200];
    int r;

    if (!h)
        return VV_E_NOMEM;
    snprintf(url, sizeof(url), "%s%s", a->url, path);
    req.method = method;
    req.url = url;
    req.bearer = auth ? a->token : NULL;
    req.body = body;
    req.body_len = n;
    req.content_type = body ? "application/octet-stream" : NULL;
    req.connect_timeout_ms = STEP_TIMEOUT_MS;
    req.timeout_ms = 30000;
    r = vv_http_do(h, &req, resp);
    vv_http_free(h);
    return r;
}

static void net_fail(struct vv_agent *a, struct step *s, const struct vv_http_response *resp)
{
    char err[1500], code[64];
    const char *msg;
    vv_agent_net_error(a, resp, err, sizeof(err));
    msg = vv_agent_err_split(err, code, sizeof(code));
    snprintf(s->detail, sizeof(s->detail), "%s: %s", code, resp->error);
    snprintf(s->remedy, sizeof(s->remedy), "%s", msg);
    {
        char *cut = strstr(s->remedy, "; 'vmvault-agent check-connectivity'");
        if (cut)
            *cut = '\0';
    }
}

/* What the steps learn and pass on. */
struct checks {
    struct vv_agent *a;
    struct report *rep;
    char host[256], port[16]; /* the vault's */
    int tls;                  /* the vault's URL is https */
    char proxy[300];          /* the proxy on the way, "" for none */
    int ok;                   /* no step failed that the next ones need */
    struct vv_http_response resp;
};

static void step_failed(struct checks *c, struct step *s)
{
    s->status = "fail";
    c->rep->failed++;
}

/* agent.json's vault, and the proxy the client would use. */
static int check_config(struct checks *c)
{
    struct vv_agent *a = c->a;
    struct step *s = add(c->rep, "config", "pass");
    struct vv_http *h;

    snprintf(s->detail, sizeof(s->detail), "vault %s at %s, host %s%s%s", a->vault, a->url,
             a->host, a->pin[0] ? ", certificate pinned " : "", a->pin);
    if (split_url(a->url, c->host, sizeof(c->host), c->port, sizeof(c->port), &c->tls) != 0) {
        step_failed(c, s);
        snprintf(s->remedy, sizeof(s->remedy), "agent.json's vault URL is malformed: register "
                 "the host again");
        return VV_E_INVAL;
    }
    h = vv_agent_http(a);
    c->proxy[0] = '\0';
    if (h)
        vv_http_proxy_for(h, a->url, c->proxy, sizeof(c->proxy));
    vv_http_free(h);
    return 0;
}

/* Through a proxy: a TCP connection to it; it resolves and connects for us. */
static void check_proxy(struct checks *c)
{
    char phost[256], pport[16], full[320], msg[300];
    struct step *s = add(c->rep, "proxy", "pass");
    struct addrinfo *ai = NULL;
    uint64_t t0 = ms_now();
    int ptls, r;

    snprintf(full, sizeof(full), "%s%s", strstr(c->proxy, "://") ? "" : "http://", c->proxy);
    if (split_url(full, phost, sizeof(phost), pport, sizeof(pport), &ptls) != 0)
        snprintf(phost, sizeof(phost), "%.200s", c->proxy);
    if (!strchr(strstr(full, "://") + 3, ':'))
        snprintf(pport, sizeof(pport), "1080"); /* libcurl's default proxy port */
    r = resolve(phost, pport, &ai, msg, sizeof(msg));
    if (r == 0)
        r = tcp_connect(ai, msg, sizeof(msg));
    freeaddrinfo(ai);
    s->ms = (unsigned)(ms_now() - t0);
    snprintf(s->detail, sizeof(s->detail), "%s (from %s)%s%s", c->proxy,
             c->a->proxy[0] ? "agent.conf" : "the environment", r ? ": " : "", r ? msg : "");
    if (r) {
        step_failed(c, s);
        c->ok = 0;
        snprintf(s->remedy, sizeof(s->remedy),
                 "this host cannot reach its proxy: check HttpProxy.Host/HttpProxy.Port in "
                 "%s/agent.conf (or https_proxy), and allow outbound TCP to %s:%s",
                 c->a->state_dir, phost, pport);
    }
    s = add(c->rep, "dns", "skip");
    snprintf(s->detail, sizeof(s->detail), "the proxy resolves %s", c->host);
    s = add(c->rep, "tcp", "skip");
    snprintf(s->detail, sizeof(s->detail), "the proxy connects to %s:%s", c->host, c->port);
}

/* Straight to the vault: its name, then a TCP connection. */
static void check_direct(struct checks *c)
{
    char msg[300], addr[NI_MAXHOST] = "?";
    struct addrinfo *ai = NULL;
    struct step *s;
    uint64_t t0;
    int r;

    s = add(c->rep, "proxy", "skip");
    snprintf(s->detail, sizeof(s->detail), "none: direct connection (no HttpProxy.Host in "
             "agent.conf, no https_proxy/http_proxy)");
    s = add(c->rep, "dns", "pass");
    t0 = ms_now();
    r = resolve(c->host, c->port, &ai, msg, sizeof(msg));
    s->ms = (unsigned)(ms_now() - t0);
    if (r) {
        step_failed(c, s);
        c->ok = 0;
        snprintf(s->detail, sizeof(s->detail), "%s: %s", c->host, msg);
        snprintf(s->remedy, sizeof(s->remedy), "this host cannot resolve %s: check its DNS "
                 "(/etc/resolv.conf), or register with credentials whose vault URL is an "
                 "address", c->host);
        s = add(c->rep, "tcp", "skip");
        snprintf(s->detail, sizeof(s->detail), "needs dns");
        freeaddrinfo(ai);
        return;
    }
    getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr), NULL, 0, NI_NUMERICHOST);
    snprintf(s->detail, sizeof(s->detail), "%s is %s", c->host, addr);
    s = add(c->rep, "tcp", "pass");
    t0 = ms_now();
    r = tcp_connect(ai, msg, sizeof(msg));
    s->ms = (unsigned)(ms_now() - t0);
    snprintf(s->detail, sizeof(s->detail), "%s:%s%s%s", c->host, c->port, r ? ": " : "",
             r ? msg : "");
    if (r) {
        step_failed(c, s);
        c->ok = 0;
        snprintf(s->remedy, sizeof(s->remedy),
                 "allow outbound TCP from this host to %s port %s (the vault), or set "
                 "HttpProxy.Host and HttpProxy.Port in %s/agent.conf to go through a "
                 "proxy",
                 c->host, c->port, c->a->state_dir);
    }
    freeaddrinfo(ai);
}

/* TLS and the vault's answer: one health request tells both. */
static void check_tls_http(struct checks *c)
{
    struct step *s = add(c->rep, "tls", c->ok && c->tls ? "pass" : "skip");
    uint64_t t0;
    int r;

    if (!c->tls)
        snprintf(s->detail, sizeof(s->detail), "plain http: the vault has no TLS");
    t0 = ms_now();
    r = c->ok ? probe(c->a, "GET", "/api/v1/health", 0, NULL, 0, &c->resp) : VV_E_IO;
    if (c->ok && c->tls) {
        s->ms = (unsigned)(ms_now() - t0);
        if (r < 0 && (c->resp.failure == VV_HTTP_TLS || c->resp.failure == VV_HTTP_PIN)) {
            step_failed(c, s);
            net_fail(c->a, s, &c->resp);
            c->ok = 0;
        } else {
            snprintf(s->detail, sizeof(s->detail), "%s", c->a->pin[0] ? "the pinned key matches"
                                                                       : "the system CA store "
                                                                         "trusts the vault");
        }
    }
    s = add(c->rep, "http", c->ok ? "pass" : "skip");
    if (!c->ok)
        return;
    s->ms = (unsigned)(ms_now() - t0);
    if (r < 0 || c->resp.status != 200) {
        step_failed(c, s);
        c->ok = 0;
        if (r < 0)
            net_fail(c->a, s, &c->resp);
        else {
            snprintf(s->detail, sizeof(s->detail), "GET /api/v1/health answered HTTP %ld",
                     c->resp.status);
            snprintf(s->remedy, sizeof(s->remedy), "something other than vmvaultd answers "
                     "at %s: check the URL in agent.json and any proxy on the way", c->a->url);
        }
    } else {
        snprintf(s->detail, sizeof(s->detail), "GET /api/v1/health: 200");
    }
}

/* The vault accepts this host's token. */
static void check_auth(struct checks *c)
{
    struct step *s = add(c->rep, "auth", c->ok ? "pass" : "skip");
    uint64_t t0;
    int r;

    if (!c->ok)
        return;
    t0 = ms_now();
    r = probe(c->a, "GET", "/api/v1/whoami", 1, NULL, 0, &c->resp);
    s->ms = (unsigned)(ms_now() - t0);
    if (r < 0) {
        step_failed(c, s);
        net_fail(c->a, s, &c->resp);
        c->ok = 0;
    } else if (c->resp.status != 200) {
        step_failed(c, s);
        c->ok = 0;
        snprintf(s->detail, sizeof(s->detail), "AgentCredentialRejected: HTTP %ld",
                 c->resp.status);
        snprintf(s->remedy, sizeof(s->remedy), "the vault rejects this host's token: "
                 "register the host again with 'vmvault-agent register "
                 "--vault-credentials FILE'");
    } else {
        snprintf(s->detail, sizeof(s->detail), "the vault knows this host as '%s'", c->a->host);
    }
}

/* One small chunk is sent and acknowledged. */
static void check_upload(struct checks *c)
{
    static const char probe_chunk[] = "vmvault-agent connectivity check\n";
    struct step *s = add(c->rep, "upload", c->ok ? "pass" : "skip");
    uint8_t id[VV_SHA256_LEN];
    char hex[2 * VV_SHA256_LEN + 1], path[200];
    uint64_t t0;
    int r;

    if (!c->ok)
        return;
    if (vv_sha256(probe_chunk, sizeof(probe_chunk) - 1, id) != 0)
        memset(id, 0, sizeof(id)); /* the vault then refuses the upload: reported */
    vv_hex_encode(id, sizeof(id), hex);
    snprintf(path, sizeof(path), "/api/v1/agent/chunks/%s", hex);
    t0 = ms_now();
    r = probe(c->a, "PUT", path, 1, probe_chunk, sizeof(probe_chunk) - 1, &c->resp);
    s->ms = (unsigned)(ms_now() - t0);
    if (r < 0) {
        step_failed(c, s);
        net_fail(c->a, s, &c->resp);
    } else if (c->resp.status < 200 || c->resp.status >= 300) {
        step_failed(c, s);
        snprintf(s->detail, sizeof(s->detail), "PUT of a %zu-byte chunk answered HTTP %ld",
                 sizeof(probe_chunk) - 1, c->resp.status);
        snprintf(s->remedy, sizeof(s->remedy), "the vault refuses uploads: see its log; a "
                 "proxy on the way may limit request sizes or methods (PUT)");
    } else {
        snprintf(s->detail, sizeof(s->detail), "a %zu-byte chunk stored", sizeof(probe_chunk) - 1);
    }
}

static void run_checks(struct vv_agent *a, struct report *rep)
{
    struct checks c;

    memset(&c, 0, sizeof(c));
    c.a = a;
    c.rep = rep;
    c.ok = 1;
    vv_http_response_init(&c.resp);
    if (check_config(&c) == 0) {
        if (c.proxy[0])
            check_proxy(&c);
        else
            check_direct(&c);
        check_tls_http(&c);
        check_auth(&c);
        check_upload(&c);
    }
    vv_http_response_release(&c.resp);
}

int vv_agent_check(struct vv_agent *a, int json)
{
    struct report rep;
    memset(&rep, 0, sizeof(rep));
    a->retry_seconds = 0;
    run_checks(a, &rep);
    if (json) {
        json_t *steps = json_array(), *o;
        char *text;
        for (int i = 0; i < rep.n; i++)
            json_array_append_new(steps, json_pack("{s:s,s:s,s:s,s:s?,s:i}", "step",
                                                   rep.s[i].name, "status", rep.s[i].status,
                                                   "detail",
                                                   rep.s[i].detail[0] ? rep.s[i].detail
                                                                      : "an earlier step failed",
                                                   "remedy",
                                                   rep.s[i].remedy[0] ? rep.s[i].remedy : NULL,
                                                   "milliseconds", (int)rep.s[i].ms));
        o = json_pack("{s:b,s:s,s:o}", "ok", rep.failed == 0, "vaultUrl", a->url, "steps", steps);
        text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(o);
    } else {
        printf("%-8s %-6s %s\n", "STEP", "RESULT", "DETAIL");
        for (int i = 0; i < rep.n; i++) {
            printf("%-8s %-6s %s\n", rep.s[i].name, rep.s[i].status,
                   rep.s[i].detail[0] ? rep.s[i].detail : "an earlier step failed");
            if (rep.s[i].remedy[0])
                printf("%-8s %-6s -> %s\n", "", "", rep.s[i].remedy);
        }
        printf("\n%s\n", rep.failed ? "The vault cannot be used from this host: fix the failed "
                                      "step above first."
                                    : "This host reaches the vault: backups can run.");
    }
    return rep.failed ? 1 : 0;
}
