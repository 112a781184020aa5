/*
 * request.c: the connection to a vault server (see request.h): where the server
 * and token come from, request paths, one request with its errors, and the verbs
 * of one request.
 */
#include "request.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "http_client.h"
#include "output.h"
#include "util.h"

#define REQUEST_TIMEOUT_MS 300000L /* a whole API request */
#define CONFIG_MAX (64u << 10)

/* ------------------------------------------------------------------------------ */
/* Server and token                                                                */

char *vv_config_path(void)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    char *p = NULL;
    if (xdg && xdg[0] == '/') {
        if (asprintf(&p, "%s/vmvault/config.json", xdg) < 0)
            p = NULL;
    } else if (home && *home) {
        if (asprintf(&p, "%s/.config/vmvault/config.json", home) < 0)
            p = NULL;
    }
    return p;
}

int vv_config_load(const char *path, json_t **out)
{
    struct vv_buf b;
    struct stat st;
    json_t *j;
    char err[160];
    int r;

    *out = NULL;
    vv_buf_init(&b, CONFIG_MAX);
    r = vv_read_file(path, &b);
    if (r == VV_E_NOTFOUND) {
        vv_buf_release(&b);
        return VV_EXIT_OK;
    }
    if (r < 0) {
        fprintf(stderr, "vmvault: cannot read %s: %s\n", path,
                r == VV_E_IO ? strerror(errno) : vv_strerror(r));
        vv_buf_release(&b);
        return VV_EXIT_FAIL;
    }
    if (stat(path, &st) == 0 && (st.st_mode & 077))
        fprintf(stderr, "vmvault: warning: %s holds a token and is readable by others; run "
                "'chmod 600 %s'\n", path, path);
    j = vv_json_parse(b.data, b.len, err, sizeof(err));
    vv_buf_release(&b);
    if (!j || !json_is_object(j)) {
        fprintf(stderr, "vmvault: %s is not a valid config file (%s); run 'vmvault login' "
                "to write it again\n", path, j ? "not a JSON object" : err);
        json_decref(j);
        return VV_EXIT_FAIL;
    }
    *out = j;
    return VV_EXIT_OK;
}

/* Read url, token and pin of c's session (the primary one, or the "secondary"
 * member) from the config file where the environment did not set them. A missing
 * file or member is fine. Returns VV_EXIT_OK or VV_EXIT_FAIL (message printed). */
static int read_config(struct vv_client *c, char **url, char **token, char **pin)
{
    json_t *j = NULL;
    const json_t *s;
    char err[160];
    const char *u = NULL, *t = NULL, *p = NULL;

    if (!c->config_path)
        return VV_EXIT_OK;
    if (vv_config_load(c->config_path, &j) != VV_EXIT_OK)
        return VV_EXIT_FAIL;
    s = c->secondary ? json_object_get(j, "secondary") : j;
    if (!s || json_is_null(s)) {
        json_decref(j);
        return VV_EXIT_OK;
    }
    if (!json_is_object(s) || vv_json_get_str(s, "url", 0, &u, err, sizeof(err)) < 0 ||
        vv_json_get_str(s, "token", 0, &t, err, sizeof(err)) < 0 ||
        vv_json_get_str(s, "certificatePin", 0, &p, err, sizeof(err)) < 0) {
        fprintf(stderr, "vmvault: %s is not a valid config file (%s%s); run 'vmvault "
                "login%s' to write it again\n", c->config_path,
                c->secondary ? "member 'secondary': " : "",
                json_is_object(s) ? err : "not a JSON object",
                c->secondary ? " --secondary-region" : "");
        json_decref(j);
        return VV_EXIT_FAIL;
    }
    if (!*url && u && *u) {
        *url = strdup(u);
        c->url_from = c->config_path;
    }
    /* the saved pin belongs to the saved URL */
    if (!*pin && p && *p && *url && u && !strcmp(*url, u))
        *pin = strdup(p);
    if (!*token && t && *t) {
        *token = strdup(t);
        c->token_from = c->config_path;
    }
    json_decref(j);
    return VV_EXIT_OK;
}

static int connect_http(struct vv_client *c)
{
    if (vv_http_global_init() < 0) {
        fprintf(stderr, "vmvault: cannot initialise the HTTP client library\n");
        return VV_EXIT_FAIL;
    }
    if (!(c->http = vv_http_new("vmvault/" VV_VERSION))) {
        vv_http_global_cleanup();
        fprintf(stderr, "vmvault: out of memory\n");
        return VV_EXIT_FAIL;
    }
    if (c->pin && vv_http_set_pin(c->http, c->pin) != 0) {
        fprintf(stderr, "vmvault: the certificate pin '%s' is not of the form sha256//BASE64 "
                "(the certificatePin of 'vmvault vault credentials')\n", c->pin);
        return VV_EXIT_FAIL;
    }
    return VV_EXIT_OK;
}

/* Drop trailing slashes of the base URL. */
static void trim_url(char *u)
{
    size_t n = strlen(u);
    while (n > 0 && u[n - 1] == '/')
        u[--n] = '\0';
}

int vv_client_open_with(struct vv_client *c, const char *url, const char *token, int json,
                        const char *pin)
{
    memset(c, 0, sizeof(*c));
    c->json = json;
    c->url = strdup(url);
    c->token = strdup(token);
    c->pin = pin ? strdup(pin) : NULL;
    c->url_from = "--url";
    c->token_from = "--token";
    if (!c->url || !c->token) {
        fprintf(stderr, "vmvault: out of memory\n");
        return VV_EXIT_FAIL;
    }
    trim_url(c->url);
    return connect_http(c);
}

/* The environment variables of a session. */
struct session_env {
    const char *url, *token, *pin;
};
static const struct session_env primary_env = {"VMVAULT_URL", "VMVAULT_TOKEN",
                                               "VMVAULT_CERTIFICATE_PIN"};
static const struct session_env secondary_env = {
    "VMVAULT_SECONDARY_URL", "VMVAULT_SECONDARY_TOKEN", "VMVAULT_SECONDARY_CERTIFICATE_PIN"};

/* Say that c's session lacks a URL (url NULL) or a token. Returns VV_EXIT_FAIL. */
static int no_session(const struct vv_client *c, const struct session_env *env,
                      const char *url)
{
    if (!url && c->secondary)
        fprintf(stderr, "vmvault: no secondary region session: run 'vmvault login "
                "--secondary-region --url URL --token TOKEN', or set %s and %s\n", env->url,
                env->token);
    else if (!url)
        fprintf(stderr, "vmvault: no vault server is configured: run 'vmvault login --url URL "
                "--token TOKEN', or set %s and %s\n", env->url, env->token);
    else
        fprintf(stderr, "vmvault: no token for the %svault server at %s: run 'vmvault login%s "
                "--url %s --token TOKEN', or set %s\n", c->secondary ? "secondary region's " : "",
                url, c->secondary ? " --secondary-region" : "", url, env->token);
    return VV_EXIT_FAIL;
}

int vv_client_open(struct vv_client *c, const struct vv_args *a)
{
    const struct session_env *env = vv_arg(a, O_USE_SECONDARY) ? &secondary_env : &primary_env;
    const char *eu = getenv(env->url), *et = getenv(env->token), *ep = getenv(env->pin);
    char *url = NULL, *token = NULL, *pin = NULL;

    memset(c, 0, sizeof(*c));
    c->json = a->json;
    c->secondary = env == &secondary_env;
    if (eu && *eu) {
        url = strdup(eu);
        c->url_from = env->url;
    }
    if (et && *et) {
        token = strdup(et);
        c->token_from = env->token;
    }
    if (ep && *ep)
        pin = strdup(ep);
    c->config_path = vv_config_path();
    /* A URL and token from the environment need their pin from there too. */
    if ((!url || !token) && read_config(c, &url, &token, &pin) != VV_EXIT_OK)
        goto fail;
    c->url = url;
    c->token = token;
    c->pin = pin;
    if (!url || !token)
        return no_session(c, env, url);
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        fprintf(stderr, "vmvault: the vault server URL '%s' (from %s) must start with http:// "
                "or https://\n", url, c->url_from);
        return VV_EXIT_FAIL;
    }
    trim_url(c->url);
    return connect_http(c);
fail:
    free(url);
    free(token);
    free(pin);
    return VV_EXIT_FAIL;
}

void vv_client_close(struct vv_client *c)
{
    if (c->http) {
        vv_http_free(c->http);
        vv_http_global_cleanup();
    }
    free(c->url);
    free(c->token);
    free(c->pin);
    free(c->config_path);
    memset(c, 0, sizeof(*c));
}

/* ------------------------------------------------------------------------------ */
/* Paths and requests                                                              */

static void path_put(struct vv_path *p, const char *s, size_t n)
{
    if (p->overflow || p->len + n >= sizeof(p->s)) {
        p->overflow = 1;
        return;
    }
    memcpy(p->s + p->len, s, n);
    p->len += n;
    p->s[p->len] = '\0';
}

/* Percent-encode everything but RFC 3986's unreserved characters. */
static void path_escape(struct vv_path *p, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            path_put(p, (const char *)&ch, 1);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            path_put(p, e, 3);
        }
    }
}

/* Build p from fmt: each %s is the next segment next(ctx) gives, escaped as one
 * path segment; %% is '%'. */
static void path_build(struct vv_path *p, const char *fmt, const char *(*next)(void *ctx),
                       void *ctx)
{
    memset(p, 0, sizeof(*p));
    for (const char *f = fmt; *f; f++) {
        if (f[0] == '%' && f[1] == 's') {
            const char *seg = next(ctx);
            /* "." and ".." would be resolved away as path segments */
            if (!strcmp(seg, "."))
                path_put(p, "%2E", 3);
            else if (!strcmp(seg, ".."))
                path_put(p, "%2E%2E", 6);
            else
                path_escape(p, seg);
            f++;
        } else if (f[0] == '%' && f[1] == '%') {
            path_put(p, "%", 1);
            f++;
        } else {
            path_put(p, f, 1);
        }
    }
}

struct va_segs {
    va_list ap;
};

static const char *next_va_seg(void *ctx)
{
    return va_arg(((struct va_segs *)ctx)->ap, const char *);
}

void vv_path_init(struct vv_path *p, const char *fmt, ...)
{
    struct va_segs segs;
    va_start(segs.ap, fmt);
    path_build(p, fmt, next_va_seg, &segs);
    va_end(segs.ap);
}

void vv_path_query(struct vv_path *p, const char *key, const char *value)
{
    if (!value)
        return;
    path_put(p, p->nquery++ ? "&" : "?", 1);
    path_escape(p, key);
    path_put(p, "=", 1);
    path_escape(p, value);
}

/* The hint after a connection failure, by kind. */
static const char *failure_hint(enum vv_http_failure f)
{
    switch (f) {
    case VV_HTTP_DNS: return "Check the host name in the URL and the DNS settings.";
    case VV_HTTP_REFUSED:
        return "Check that vmvaultd is running and listens on that address and port.";
    case VV_HTTP_TIMEOUT:
    case VV_HTTP_UNREACHABLE:
        return "Check that the server is up and that no firewall drops the connection.";
    case VV_HTTP_TLS:
        return "Check that the URL's scheme (http/https) is right. For a server with a "
               "self-signed certificate, pin its key: 'vmvault login --url URL --token - "
               "--certificate-pin PIN' or VMVAULT_CERTIFICATE_PIN (vmvaultd prints the pin "
               "at start; vault credentials carry it).";
    case VV_HTTP_PIN:
        return "The server's key is not the pinned one: its certificate changed, or "
               "something intercepts the connection. Pin the new key only if you know why.";
    case VV_HTTP_PROXY:
        return "Check the proxy in https_proxy/http_proxy (or no_proxy for the vault).";
    case VV_HTTP_PROXY_AUTH:
        return "Give the proxy's credentials in the proxy URL (http://user:password@host:port).";
    case VV_HTTP_CONNECTION:
        return "The server closed the connection without a complete answer; check its log.";
    case VV_HTTP_BAD_URL: return "Fix the URL.";
    default: return "Check the URL and the network.";
    }
}

static void print_unreachable(const struct vv_client *c, const struct vv_http_response *resp)
{
    if (resp->failure == VV_HTTP_TOO_LARGE) {
        fprintf(stderr, "vmvault: the answer of the vault server at %s is too large (%s)\n",
                c->url, resp->error);
        return;
    }
    fprintf(stderr, "vmvault: cannot reach the vault server at %s: %s\n", c->url, resp->error);
    fprintf(stderr, "%s The URL comes from %s%s; proxies from http_proxy, https_proxy and "
            "no_proxy.\n", failure_hint(resp->failure), c->url_from,
            c->url_from != c->config_path ? ""
            : c->secondary ? " (written by 'vmvault login --secondary-region')"
            : " (written by 'vmvault login')");
}

/* The first line of a non-JSON body, for an error message. */
static void body_snippet(const struct vv_buf *b, char *out, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < b->len && k + 1 < n && k < 120; i++) {
        char ch = (char)b->data[i];
        if (ch == '\n' || ch == '\r')
            break;
        out[k++] = (unsigned char)ch < 0x20 ? ' ' : ch;
    }
    out[k] = '\0';
}

/* One exchange. Returns VV_EXIT_OK (2xx; *out the answer), VV_EXIT_FAIL with *out
 * the parsed error answer, or VV_EXIT_FAIL with *out NULL after printing why (no
 * answer: *noanswer set; or an answer that is not JSON). */
static int exchange(struct vv_client *c, const char *method, const char *url, const char *text,
                    json_t **out, long *status, int *noanswer)
{
    struct vv_http_request req = VV_HTTP_REQUEST_INIT;
    struct vv_http_response resp;
    char err[160];
    int rc = VV_EXIT_FAIL;

    *out = NULL;
    *status = 0;
    *noanswer = 0;
    req.method = method;
    req.url = url;
    req.bearer = c->token;
    req.body = text;
    req.body_len = text ? strlen(text) : 0;
    req.content_type = text ? "application/json" : NULL;
    req.timeout_ms = REQUEST_TIMEOUT_MS;
    vv_http_response_init(&resp);
    if (vv_http_do(c->http, &req, &resp) < 0) {
        *noanswer = resp.failure != VV_HTTP_TOO_LARGE && resp.failure != VV_HTTP_BAD_URL;
        print_unreachable(c, &resp);
        vv_http_response_release(&resp);
        return VV_EXIT_FAIL;
    }
    *status = resp.status;
    if (resp.body.len == 0) { /* 204 No Content, or an error without a description */
        *out = json_null();
        if (resp.status >= 200 && resp.status < 300)
            rc = VV_EXIT_OK;
    } else if (!(*out = vv_json_parse(resp.body.data, resp.body.len, err, sizeof(err)))) {
        char snip[128];
        body_snippet(&resp.body, snip, sizeof(snip));
        fprintf(stderr, "vmvault: the server at %s answered HTTP %ld with something that is "
                "not JSON: %s\n", c->url, resp.status, snip);
    } else if (resp.status >= 200 && resp.status < 300) {
        rc = VV_EXIT_OK;
    }
    vv_http_response_release(&resp);
    return rc;
}

int vv_client_call(struct vv_client *c, const char *method, const struct vv_path *path,
                   const json_t *body, json_t **out)
{
    const char *code = NULL, *msg = NULL;
    char *url = NULL, *text = NULL, err[64];
    long status = 0;
    int rc, noanswer, attempt = 0;
    const json_t *e;

    *out = NULL;
    if (path->overflow || asprintf(&url, "%s%s", c->url, path->s) < 0) {
        fprintf(stderr, "vmvault: the request path is too long\n");
        return VV_EXIT_FAIL;
    }
    if (body && !(text = vv_json_dump(body))) {
        free(url);
        fprintf(stderr, "vmvault: out of memory\n");
        return VV_EXIT_FAIL;
    }
    for (;;) {
        rc = exchange(c, method, url, text, out, &status, &noanswer);
        if (!noanswer || strcmp(method, "GET") != 0 || attempt++ >= c->retries)
            break;
        fprintf(stderr, "vmvault: trying again in 2 s (%d of %d)\n", attempt, c->retries);
        sleep(2);
    }
    free(text);
    free(url);
    if (rc == VV_EXIT_OK || !*out)
        return rc;

    e = json_object_get(*out, "error");
    if (json_is_object(e)) {
        if (vv_json_get_str(e, "code", 0, &code, err, sizeof(err)) != 0)
            code = NULL;
        if (vv_json_get_str(e, "message", 0, &msg, err, sizeof(err)) != 0)
            msg = NULL;
    }
    if (code)
        fprintf(stderr, "vmvault: %s: %s\n", code, msg ? msg : "(no message)");
    else
        fprintf(stderr, "vmvault: the server at %s answered HTTP %ld without an error "
                "description; is that URL a vmvault server?\n", c->url, status);
    if (code && !strcmp(code, "Unauthenticated"))
        fprintf(stderr, "The token comes from %s; run 'vmvault login%s' with a valid token.\n",
                c->token_from, c->secondary ? " --secondary-region" : "");
    json_decref(*out);
    *out = NULL;
    return VV_EXIT_FAIL;
}

int vv_request_show(const struct vv_args *a, const struct vv_ask *ask, const char *method,
                    const struct vv_path *p, const json_t *body, vv_show_fn *show,
                    const void *ctx)
{
    struct vv_client c;
    json_t *ans = NULL;
    int rc = vv_client_open(&c, a);

    if (rc == VV_EXIT_OK && ask &&
        !vv_confirm(vv_arg(a, O_YES) != NULL, "%s", ask->question)) {
        fprintf(stderr, "vmvault: %s\n", ask->declined);
        rc = VV_EXIT_FAIL;
    }
    if (rc == VV_EXIT_OK && (rc = vv_client_call(&c, method, p, body, &ans)) == VV_EXIT_OK)
        show(&c, ans, ctx);
    json_decref(ans);
    vv_client_close(&c);
    return rc;
}

static void show_cols(const struct vv_client *c, const json_t *ans, const void *cols)
{
    vv_print(c->json, ans, cols);
}

int vv_request_print(const struct vv_args *a, const char *method, const struct vv_path *p,
                     const json_t *body, const struct vv_column *cols)
{
    return vv_request_show(a, NULL, method, p, body, show_cols, cols);
}

static void show_said(const struct vv_client *c, const json_t *ans, const void *said)
{
    if (c->json && !json_is_null(ans)) /* an empty answer (204) prints nothing */
        vv_print_json(ans);
    else if (c->json)
        return;
    else
        printf("%s\n", (const char *)said);
}

int vv_request_say(const struct vv_args *a, const struct vv_ask *ask, const char *method,
                   const struct vv_path *p, const char *said)
{
    return vv_request_show(a, ask, method, p, NULL, show_said, said);
}

/* The path segments of a simple verb: its options' values, in order. */
struct opt_segs {
    const struct vv_args *a;
    const int *opt;
};

static const char *next_opt_seg(void *ctx)
{
    struct opt_segs *s = ctx;
    const char *v = vv_arg(s->a, *s->opt++);
    return v ? v : "";
}

int vv_run_simple(const struct vv_simple_verb *s, int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    struct opt_segs segs;
    int rc = vv_args_parse(&s->verb, argc, argv, &a);

    if (rc >= 0)
        return rc;
    if (s->alias.opt &&
        (rc = vv_args_alias(&s->verb, &a, s->alias.opt, s->alias.alias, s->alias.what)) >= 0)
        return rc;
    segs.a = &a;
    segs.opt = s->segs;
    path_build(&p, s->path, next_opt_seg, &segs);
    for (const struct vv_query *q = s->query; q->key; q++) {
        char num[24];
        vv_path_query(&p, q->key, vv_arg_query(&a, q->opt, num));
    }
    return vv_request_print(&a, s->method, &p, NULL, s->cols);
}

int vv_confirm(int yes, const char *fmt, ...)
{
    char line[64];
    va_list ap;
    if (yes || !isatty(STDIN_FILENO))
        return 1;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" [y/N] ", stderr);
    fflush(stderr);
    if (!fgets(line, sizeof(line), stdin))
        return 0;
    line[strcspn(line, "\r\n")] = '\0';
    return !strcasecmp(line, "y") || !strcasecmp(line, "yes");
}

void vv_show_job(const struct vv_client *c, const json_t *ans, const void *vault)
{
    vv_print(c->json, ans, vv_cols_job);
    if (!c->json && json_is_string(json_object_get(ans, "id")))
        printf("\nFollow it with: vmvault job wait%s --vault-name %s --name %s\n",
               c->secondary ? " --use-secondary-region" : "", (const char *)vault,
               json_string_value(json_object_get(ans, "id")));
}
