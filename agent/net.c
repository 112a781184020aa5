/*
 * net.c: the agent's way to the vault: agent.conf, the vault's certificate pin and
 * the proxy on every client, and the failure codes that say what to open or fix.
 *
 * agent.conf (in the state folder) holds Key=Value lines; '#' starts a comment, blank
 * lines are fine, keys are case-sensitive:
 *   HttpProxy.Host=proxy.example     the proxy, which wins over https_proxy & co.
 *   HttpProxy.Port=3128              (1..65535; default 3128)
 *   HttpProxy.User=backup            optional proxy credentials
 *   HttpProxy.Password=secret
 *   Network.RetrySeconds=300         how long a request to the vault is retried when
 *                                    the network fails (0..86400)
 *   Restore.Roots=/a /b              the folders a restore may write under (trust.c)
 * Any other key, or a malformed line, is refused with its line number.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "buf.h"
#include "err.h"
#include "log.h"
#include "util.h"

#define RETRY_DEFAULT 300

/* agent.conf's values in struct vv_agent are read by every thread's requests and
 * rewritten when the file changes: under this lock. */
static pthread_mutex_t conf_mu = PTHREAD_MUTEX_INITIALIZER;

static long conf_mtime_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_mtime : -1;
}

/* Take key k's value v into a (the proxy's host and port into host and port):
 * 0, or 1 when the key is unknown or its value bad. */
static int conf_set(struct vv_agent *a, const char *k, const char *v, char *host, size_t hn,
                    char *port, size_t pn)
{
    uint64_t num;

    if (!strcmp(k, "HttpProxy.Host") && *v && strlen(v) < hn && !strpbrk(v, " /@"))
        snprintf(host, hn, "%s", v);
    else if (!strcmp(k, "HttpProxy.Port") && vv_parse_u64(v, &num) == 0 && num >= 1 &&
             num <= 65535)
        snprintf(port, pn, "%u", (unsigned)num);
    else if (!strcmp(k, "HttpProxy.User") && strlen(v) < sizeof(a->proxy_user))
        snprintf(a->proxy_user, sizeof(a->proxy_user), "%s", v);
    else if (!strcmp(k, "HttpProxy.Password") && strlen(v) < sizeof(a->proxy_pass))
        snprintf(a->proxy_pass, sizeof(a->proxy_pass), "%s", v);
    else if (!strcmp(k, "Network.RetrySeconds") && vv_parse_u64(v, &num) == 0 && num <= 86400)
        a->retry_seconds = (int)num;
    else if (!strcmp(k, "Restore.Roots"))
        return vv_agent_roots_set(a, v) == 0 ? 0 : 1;
    else
        return 1;
    return 0;
}

static int conf_load(struct vv_agent *a)
{
    char path[VV_PATH_MAX], host[256] = "", port[16] = "3128";
    struct vv_buf b;
    struct stat st;
    int r, lineno = 0;
    char *line, *save = NULL;

    a->proxy[0] = a->proxy_user[0] = a->proxy_pass[0] = '\0';
    a->retry_seconds = RETRY_DEFAULT;
    a->restore_roots[0] = '\0';
    if (vv_path_join(path, sizeof(path), "%s/agent.conf", a->state_dir) != 0)
        return vv_fail(VV_E_TOOBIG, "the path of %s/agent.conf is too long", a->state_dir);
    a->conf_mtime = conf_mtime_of(path);
    vv_buf_init(&b, 64 * 1024);
    r = vv_read_file(path, &b);
    if (r == VV_E_NOTFOUND) {
        vv_buf_release(&b);
        return 0;
    }
    if (r == 0 && vv_buf_append(&b, "", 1) < 0)
        r = VV_E_NOMEM;
    if (r) {
        vv_error("cannot read %s: %s", path, vv_strerror(r));
        vv_buf_release(&b);
        return r;
    }
    if (stat(path, &st) == 0 && (st.st_mode & 077))
        vv_warn("%s may hold a proxy password and is readable by others: chmod 600 it", path);
    for (line = strtok_r((char *)b.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq, *k, *v, *end;
        lineno++;
        while (*line == ' ' || *line == '\t')
            line++;
        end = line + strlen(line);
        while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
            *--end = '\0';
        if (!*line || *line == '#')
            continue;
        if (!(eq = strchr(line, '='))) {
            vv_error("%s line %d: not Key=Value", path, lineno);
            r = VV_E_INVAL;
            break;
        }
        *eq = '\0';
        k = line;
        v = eq + 1;
        for (end = eq; end > k && (end[-1] == ' ' || end[-1] == '\t');)
            *--end = '\0';
        while (*v == ' ' || *v == '\t')
            v++;
        if (conf_set(a, k, v, host, sizeof(host), port, sizeof(port)) != 0) {
            vv_error("%s line %d: %s '%s' (keys: HttpProxy.Host, HttpProxy.Port, "
                     "HttpProxy.User, HttpProxy.Password, Network.RetrySeconds, "
                     "Restore.Roots: absolute folders without '.' or '..', space-separated)",
                     path, lineno,
                     !strcmp(k, "HttpProxy.Host") || !strcmp(k, "HttpProxy.Port") ||
                             !strcmp(k, "HttpProxy.User") || !strcmp(k, "HttpProxy.Password") ||
                             !strcmp(k, "Network.RetrySeconds") || !strcmp(k, "Restore.Roots")
                         ? "bad value for"
                         : "unknown key",
                     k);
            r = VV_E_INVAL;
            break;
        }
    }
    vv_buf_release(&b);
    if (r == 0 && host[0])
        snprintf(a->proxy, sizeof(a->proxy), "http://%.200s:%s", host, port);
    if (r == 0 && !host[0] && a->proxy_user[0]) {
        vv_error("%s: HttpProxy.User without HttpProxy.Host", path);
        r = VV_E_INVAL;
    }
    if (r)
        a->proxy[0] = a->proxy_user[0] = a->proxy_pass[0] = '\0';
    return r;
}

int vv_agent_conf_load(struct vv_agent *a)
{
    int r;
    pthread_mutex_lock(&conf_mu);
    r = conf_load(a);
    pthread_mutex_unlock(&conf_mu);
    return r;
}

void vv_agent_conf_refresh(struct vv_agent *a)
{
    char path[VV_PATH_MAX];
    if (vv_path_join(path, sizeof(path), "%s/agent.conf", a->state_dir) != 0) {
        vv_error("the path of %s/agent.conf is too long", a->state_dir);
        return;
    }
    pthread_mutex_lock(&conf_mu);
    if (conf_mtime_of(path) != a->conf_mtime) {
        vv_info("%s changed: reading it again", path);
        conf_load(a);
    }
    pthread_mutex_unlock(&conf_mu);
}

void vv_agent_roots_copy(const struct vv_agent *a, char *out, size_t n)
{
    pthread_mutex_lock(&conf_mu);
    snprintf(out, n, "%s", a->restore_roots);
    pthread_mutex_unlock(&conf_mu);
}

int vv_agent_http_apply(struct vv_agent *a, struct vv_http *h)
{
    int r;
    pthread_mutex_lock(&conf_mu);
    r = vv_http_set_pin(h, a->pin);
    if (r == 0)
        r = vv_http_set_proxy(h, a->proxy, a->proxy_user[0] ? a->proxy_user : NULL,
                              a->proxy_user[0] ? a->proxy_pass : NULL);
    pthread_mutex_unlock(&conf_mu);
    return r;
}

struct vv_http *vv_agent_http(struct vv_agent *a)
{
    struct vv_http *h = vv_http_new("vmvault-agent/" VV_AGENT_VERSION);
    if (h && vv_agent_http_apply(a, h) != 0) {
        vv_http_free(h);
        h = NULL;
    }
    return h;
}

int vv_agent_net_transient(const struct vv_http_response *resp)
{
    switch (resp->failure) {
    case VV_HTTP_REFUSED:
    case VV_HTTP_UNREACHABLE:
    case VV_HTTP_TIMEOUT:
    case VV_HTTP_CONNECTION:
    case VV_HTTP_PROXY:
        return 1;
    case VV_HTTP_OK:
        return resp->status == 502 || resp->status == 503 || resp->status == 504;
    default:
        return 0;
    }
}

void vv_agent_net_error(const struct vv_agent *a, const struct vv_http_response *resp,
                        char *err, size_t errlen)
{
    const char *check = "; 'vmvault-agent check-connectivity' tests each step";
    char where[1000];

    if (resp->proxy[0])
        snprintf(where, sizeof(where), "the vault at %s through the proxy %s", a->url,
                 resp->proxy);
    else
        snprintf(where, sizeof(where), "the vault at %s", a->url);
    switch (resp->failure) {
    case VV_HTTP_DNS:
        snprintf(err, errlen,
                 "VaultNameResolutionFailed: this host cannot resolve the name of %s (%s): "
                 "check its DNS (/etc/resolv.conf), or register with credentials whose "
                 "vault URL is an address%s",
                 where, resp->error, check);
        break;
    case VV_HTTP_REFUSED:
        snprintf(err, errlen,
                 "VaultConnectionRefused: nothing accepts connections for %s (%s): check "
                 "that vmvaultd runs and listens on that address and port%s",
                 where, resp->error, check);
        break;
    case VV_HTTP_TLS:
        snprintf(err, errlen,
                 "VaultTlsFailed: the TLS handshake with %s failed (%s): check the URL's "
                 "scheme and port, and that no device on the way intercepts TLS%s",
                 where, resp->error, check);
        break;
    case VV_HTTP_PIN:
        snprintf(err, errlen,
                 "VaultCertificateMismatch: %s presents a certificate whose key is not the "
                 "one pinned at registration (%s): the vault's certificate changed, or "
                 "something intercepts the connection. If the change is expected, register "
                 "the host again with new vault credentials",
                 where, a->pin);
        break;
    case VV_HTTP_PROXY:
        snprintf(err, errlen,
                 "%s: %s: check HttpProxy.Host and HttpProxy.Port in %s/agent.conf (or "
                 "https_proxy), and that the proxy allows CONNECT to the vault's port%s",
                 strstr(resp->error, "refused the tunnel") ? "ProxyRefusedConnection"
                                                           : "ProxyUnreachable",
                 resp->error, a->state_dir, check);
        break;
    case VV_HTTP_PROXY_AUTH:
        snprintf(err, errlen,
                 "ProxyAuthenticationRequired: %s: set HttpProxy.User and "
                 "HttpProxy.Password in %s/agent.conf",
                 resp->error, a->state_dir);
        break;
    default:
        snprintf(err, errlen,
                 "ExtensionSnapshotFailedNoNetwork: this host cannot reach %s (%s): allow "
                 "outbound TCP to the vault's address and port, or set HttpProxy.Host and "
                 "HttpProxy.Port in %s/agent.conf (or https_proxy) to go through a proxy%s",
                 where, resp->error, a->state_dir, check);
        break;
    }
}

const char *vv_agent_err_split(const char *err, char *code, size_t n)
{
    size_t k = strspn(err, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
    if (k && k < n && err[k] == ':' && err[k + 1] == ' ') {
        memcpy(code, err, k);
        code[k] = '\0';
        return err + k + 2;
    }
    snprintf(code, n, "%s", "");
    return err;
}
