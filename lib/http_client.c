/* http_client.c: libcurl adapter (see http_client.h). */
#include "http_client.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

struct vv_http {
    CURL *curl;
    char *user_agent;
    char *pin;        /* "sha256//..." or NULL: the system CA store */
    char *proxy;      /* set by vv_http_set_proxy, or NULL: the environment's */
    char *proxy_user; /* NULL when none */
    char *proxy_pass;
};

int vv_http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : VV_E_NOMEM;
}

void vv_http_global_cleanup(void) { curl_global_cleanup(); }

struct vv_http *vv_http_new(const char *user_agent)
{
    struct vv_http *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->user_agent = strdup(user_agent ? user_agent : "vmvault");
    h->curl = curl_easy_init();
    if (!h->user_agent || !h->curl) {
        vv_http_free(h);
        return NULL;
    }
    return h;
}

void vv_http_free(struct vv_http *h)
{
    if (!h)
        return;
    if (h->curl)
        curl_easy_cleanup(h->curl);
    free(h->user_agent);
    free(h->pin);
    free(h->proxy);
    free(h->proxy_user);
    free(h->proxy_pass);
    free(h);
}

/* *slot = a copy of v (NULL or "" clears it). */
static int set_str(char **slot, const char *v)
{
    char *c = v && *v ? strdup(v) : NULL;
    if (v && *v && !c)
        return VV_E_NOMEM;
    free(*slot);
    *slot = c;
    return 0;
}

int vv_http_set_pin(struct vv_http *h, const char *pin)
{
    if (pin && *pin) {
        size_t n = strlen(pin);
        if (strncmp(pin, "sha256//", 8) != 0 || n < 8 + 44 || n > 8 + 44 * 8)
            return VV_E_INVAL;
        for (size_t i = 8; i < n; i++)
            if (!isalnum((unsigned char)pin[i]) && !strchr("+/=;", pin[i]))
                return VV_E_INVAL;
    }
    return set_str(&h->pin, pin);
}

int vv_http_set_proxy(struct vv_http *h, const char *proxy, const char *user,
                      const char *password)
{
    int r;
    if (proxy && *proxy) {
        if (strlen(proxy) > 200 || strchr(proxy, ' ') ||
            (strstr(proxy, "://") && strncmp(proxy, "http://", 7) != 0))
            return VV_E_INVAL;
    }
    if ((r = set_str(&h->proxy, proxy)) || (r = set_str(&h->proxy_user, user)) ||
        (r = set_str(&h->proxy_pass, password)))
        return r;
    return 0;
}

/* The host of an http(s) URL, lower-cased, without brackets or port; *https set. */
static void url_host(const char *url, char *host, size_t n, int *https)
{
    const char *p = strstr(url, "://"), *e;
    size_t k = 0;

    *https = !strncmp(url, "https://", 8);
    host[0] = '\0';
    if (!p)
        return;
    p += 3;
    e = p + strcspn(p, "/?#");
    for (const char *at = p; at < e; at++)
        if (*at == '@')
            p = at + 1;
    if (*p == '[') {
        p++;
        e = strchr(p, ']') ? strchr(p, ']') : e;
    } else {
        const char *colon = memchr(p, ':', (size_t)(e - p));
        if (colon)
            e = colon;
    }
    for (; p < e && k + 1 < n; p++)
        host[k++] = (char)tolower((unsigned char)*p);
    host[k] = '\0';
}

/* host matches an entry of a no_proxy list: "*", the name itself, or a domain
 * suffix ("example.com" and ".example.com" both match "vault.example.com"). */
static int no_proxy_match(const char *host, const char *list)
{
    const char *p = list;
    size_t hl = strlen(host);

    while (*p) {
        size_t len;
        char entry[256];
        p += strspn(p, ", \t");
        len = strcspn(p, ", \t");
        if (!len)
            break;
        if (len < sizeof(entry)) {
            size_t el;
            memcpy(entry, p, len);
            entry[len] = '\0';
            if (entry[0] == '[' && strchr(entry, ']'))
                memmove(entry, entry + 1, strlen(entry));
            entry[strcspn(entry, "]")] = '\0';
            if (!strchr(host, ':') && strchr(entry, ':') && !strchr(entry + strcspn(entry, ":") + 1, ':'))
                entry[strcspn(entry, ":")] = '\0'; /* "host:port" */
            while (entry[0] == '.')
                memmove(entry, entry + 1, strlen(entry));
            el = strlen(entry);
            for (size_t i = 0; i < el; i++)
                entry[i] = (char)tolower((unsigned char)entry[i]);
            if (!strcmp(entry, "*") || !strcmp(entry, host) ||
                (el && hl > el && host[hl - el - 1] == '.' && !strcmp(host + hl - el, entry)))
                return 1;
        }
        p += len;
    }
    return 0;
}

void vv_http_proxy_for(const struct vv_http *h, const char *url, char *out, size_t n)
{
    static const char *const https_vars[] = {"https_proxy", "HTTPS_PROXY", "all_proxy",
                                             "ALL_PROXY", NULL};
    static const char *const http_vars[] = {"http_proxy", "all_proxy", "ALL_PROXY", NULL};
    char host[256];
    const char *v = NULL, *np;
    int https;

    out[0] = '\0';
    if (h->proxy) {
        snprintf(out, n, "%s", h->proxy);
        return;
    }
    url_host(url, host, sizeof(host), &https);
    for (const char *const *k = https ? https_vars : http_vars; *k && !(v && *v); k++)
        v = getenv(*k);
    if (!v || !*v)
        return;
    np = getenv("no_proxy");
    if (!np || !*np)
        np = getenv("NO_PROXY");
    if (np && no_proxy_match(host, np))
        return;
    snprintf(out, n, "%s", v);
}

void vv_http_response_init(struct vv_http_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    vv_buf_init(&resp->body, 0);
}

void vv_http_response_release(struct vv_http_response *resp)
{
    vv_buf_release(&resp->body);
}

const char *vv_http_failure_name(enum vv_http_failure f)
{
    switch (f) {
    case VV_HTTP_OK: return "no failure";
    case VV_HTTP_BAD_URL: return "invalid URL";
    case VV_HTTP_DNS: return "host name does not resolve";
    case VV_HTTP_REFUSED: return "connection refused";
    case VV_HTTP_UNREACHABLE: return "host unreachable";
    case VV_HTTP_TIMEOUT: return "timed out";
    case VV_HTTP_TLS: return "TLS failure";
    case VV_HTTP_PIN: return "certificate pin mismatch";
    case VV_HTTP_PROXY: return "proxy failure";
    case VV_HTTP_PROXY_AUTH: return "proxy authentication required";
    case VV_HTTP_CONNECTION: return "connection broken";
    case VV_HTTP_TOO_LARGE: return "answer too large";
    case VV_HTTP_OTHER: break;
    }
    return "transfer failed";
}

/* Body sink: append to the capped buffer; a short count makes curl stop with
 * CURLE_WRITE_ERROR, which vv_http_do reports as VV_E_TOOBIG. */
static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct vv_http_response *resp = arg;
    size_t len = size * n;
    if (vv_buf_append(&resp->body, p, len) < 0) {
        resp->failure = VV_HTTP_TOO_LARGE;
        return 0;
    }
    return len;
}

/* Append "Name: value" to a header list; on failure frees the list, returns NULL. */
static struct curl_slist *add_header(struct curl_slist *list, const char *line)
{
    struct curl_slist *n = curl_slist_append(list, line);
    if (!n)
        curl_slist_free_all(list);
    return n;
}

/* Turn a curl error into a failure kind, a project code and one human line. */
static int classify(CURL *curl, CURLcode cc, const char *detail,
                    struct vv_http_response *resp, long connect_ms)
{
    long os_errno = 0, connect_code = 0;
    int r = VV_E_IO, via_proxy = resp->proxy[0] != '\0';

    curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
    curl_easy_getinfo(curl, CURLINFO_HTTP_CONNECTCODE, &connect_code);
    if (via_proxy && (connect_code == 407 || connect_code == 401)) {
        resp->failure = VV_HTTP_PROXY_AUTH;
        snprintf(resp->error, sizeof(resp->error),
                 "the proxy %.200s wants credentials, or others (HTTP %ld to CONNECT)",
                 resp->proxy, connect_code);
        return r;
    }
    if (via_proxy && connect_code >= 300) {
        resp->failure = VV_HTTP_PROXY;
        snprintf(resp->error, sizeof(resp->error),
                 "the proxy %.200s refused the tunnel to the vault (HTTP %ld to CONNECT)",
                 resp->proxy, connect_code);
        return r;
    }
    if (via_proxy && (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_PROXY ||
                      (cc == CURLE_OPERATION_TIMEDOUT && connect_code == 0 &&
                       strstr(detail, "onnect")))) {
        resp->failure = VV_HTTP_PROXY;
        snprintf(resp->error, sizeof(resp->error), "cannot reach the proxy %.200s: %.200s", resp->proxy,
                 cc == CURLE_COULDNT_RESOLVE_PROXY ? "its name does not resolve"
                 : cc == CURLE_COULDNT_CONNECT && os_errno ? strerror((int)os_errno)
                                                           : "no answer");
        return r;
    }
    switch (cc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        resp->failure = VV_HTTP_BAD_URL;
        r = VV_E_INVAL;
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        resp->failure = VV_HTTP_DNS;
        break;
    case CURLE_COULDNT_CONNECT:
        resp->failure = os_errno == ECONNREFUSED ? VV_HTTP_REFUSED : VV_HTTP_UNREACHABLE;
        break;
    case CURLE_OPERATION_TIMEDOUT:
        resp->failure = os_errno == 0 && strstr(detail, "onnect") ? VV_HTTP_UNREACHABLE
                                                                  : VV_HTTP_TIMEOUT;
        break;
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        resp->failure = VV_HTTP_PIN;
        break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_INVALIDCERTSTATUS:
        resp->failure = VV_HTTP_TLS;
        break;
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        resp->failure = VV_HTTP_CONNECTION;
        break;
    case CURLE_OUT_OF_MEMORY:
        resp->failure = VV_HTTP_OTHER;
        r = VV_E_NOMEM;
        break;
    case CURLE_WRITE_ERROR:
        if (resp->failure == VV_HTTP_TOO_LARGE) {
            r = VV_E_TOOBIG;
            break;
        }
        resp->failure = VV_HTTP_OTHER;
        break;
    default:
        resp->failure = VV_HTTP_OTHER;
        break;
    }

    switch (resp->failure) {
    case VV_HTTP_REFUSED:
        snprintf(resp->error, sizeof(resp->error), "%s", strerror(ECONNREFUSED));
        break;
    case VV_HTTP_UNREACHABLE:
        if (cc == CURLE_OPERATION_TIMEDOUT || !os_errno)
            snprintf(resp->error, sizeof(resp->error), "no connection within %ld s",
                     (connect_ms + 999) / 1000);
        else
            snprintf(resp->error, sizeof(resp->error), "%s", strerror((int)os_errno));
        break;
    case VV_HTTP_TIMEOUT:
        snprintf(resp->error, sizeof(resp->error), "timed out (%.200s)",
                 *detail ? detail : curl_easy_strerror(cc));
        break;
    case VV_HTTP_PIN:
        snprintf(resp->error, sizeof(resp->error),
                 "the server's public key is not the pinned one (%.150s)", *detail ? detail : "pin mismatch");
        break;
    case VV_HTTP_TOO_LARGE:
        snprintf(resp->error, sizeof(resp->error), "the answer is larger than %zu bytes",
                 resp->body.limit);
        break;
    default:
        snprintf(resp->error, sizeof(resp->error), "%s",
                 *detail ? detail : curl_easy_strerror(cc));
        break;
    }
    return r;
}

int vv_http_do(struct vv_http *h, const struct vv_http_request *req,
               struct vv_http_response *resp)
{
    CURL *curl = h->curl;
    struct curl_slist *hdrs = NULL;
    char line[4096], detail[CURL_ERROR_SIZE];
    long connect_ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                                  : VV_HTTP_CONNECT_TIMEOUT_MS_DEFAULT;
    size_t cap = req->max_response ? req->max_response : VV_HTTP_MAX_RESPONSE_DEFAULT;
    char *ctype = NULL;
    CURLcode cc;
    int r;

    /* The body's allocation is kept: a caller that reuses resp reuses it too. */
    resp->body.len = 0;
    resp->body.limit = cap;
    resp->status = 0;
    resp->content_type[0] = '\0';
    resp->failure = VV_HTTP_OK;
    resp->error[0] = '\0';
    resp->proxy[0] = '\0';
    detail[0] = '\0';

    if (!req->method || !*req->method || !req->url || !*req->url) {
        resp->failure = VV_HTTP_BAD_URL;
        snprintf(resp->error, sizeof(resp->error), "no method or URL");
        return VV_E_INVAL;
    }
    if (strncmp(req->url, "http://", 7) != 0 && strncmp(req->url, "https://", 8) != 0) {
        resp->failure = VV_HTTP_BAD_URL;
        snprintf(resp->error, sizeof(resp->error), "'%s' is not an http:// or https:// URL",
                 req->url);
        return VV_E_INVAL;
    }

    /* Every request starts from defaults; the connection cache survives the reset. */
    curl_easy_reset(curl);
    if (req->bearer) {
        if ((size_t)snprintf(line, sizeof(line), "Authorization: Bearer %s", req->bearer) >=
            sizeof(line)) {
            resp->failure = VV_HTTP_OTHER;
            snprintf(resp->error, sizeof(resp->error), "the token is too long");
            return VV_E_INVAL;
        }
        if (!(hdrs = add_header(hdrs, line)))
            goto nomem;
    }
    if (req->body && req->content_type) {
        snprintf(line, sizeof(line), "Content-Type: %s", req->content_type);
        if (!(hdrs = add_header(hdrs, line)))
            goto nomem;
    }
    /* No "Expect: 100-continue" round trip before bodies. */
    if (!(hdrs = add_header(hdrs, "Expect:")))
        goto nomem;
    for (const char *const *p = req->headers; p && *p; p++)
        if (!(hdrs = add_header(hdrs, *p)))
            goto nomem;

    curl_easy_setopt(curl, CURLOPT_URL, req->url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, h->user_agent);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 0L);
    /* A connection on which nothing moves for 30 s is dead (a pulled cable sends no
     * error): give up on it, so that the caller can try again on a new one. */
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
    vv_http_proxy_for(h, req->url, resp->proxy, sizeof(resp->proxy));
    /* The proxy is resolved here (not by curl from the environment) so that a
     * failure can name it; "" means direct. */
    curl_easy_setopt(curl, CURLOPT_PROXY, resp->proxy);
    if (resp->proxy[0] && h->proxy_user) {
        curl_easy_setopt(curl, CURLOPT_PROXYUSERNAME, h->proxy_user);
        curl_easy_setopt(curl, CURLOPT_PROXYPASSWORD, h->proxy_pass ? h->proxy_pass : "");
        curl_easy_setopt(curl, CURLOPT_PROXYAUTH, (long)CURLAUTH_ANY);
    }
    if (h->pin) {
        /* The pinned key alone authenticates the vault (a self-signed certificate). */
        curl_easy_setopt(curl, CURLOPT_PINNEDPUBLICKEY, h->pin);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (req->body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
    } else if (!strcmp(req->method, "GET")) {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else if (!strcmp(req->method, "HEAD")) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (!strcmp(req->method, "POST") || !strcmp(req->method, "PUT") ||
               !strcmp(req->method, "PATCH")) {
        /* a bodiless write still says "Content-Length: 0" */
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
    } else {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
    }

    cc = curl_easy_perform(curl);
    /* curl keeps pointers to these; drop them before they go out of scope */
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    if (cc != CURLE_OK) {
        r = classify(curl, cc, detail, resp, connect_ms);
        resp->status = 0;
        return r;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
    if (resp->status == 407 && resp->proxy[0]) {
        resp->status = 0;
        resp->failure = VV_HTTP_PROXY_AUTH;
        snprintf(resp->error, sizeof(resp->error), "the proxy %.200s wants credentials (HTTP 407)",
                 resp->proxy);
        return VV_E_IO;
    }
    if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype)
        snprintf(resp->content_type, sizeof(resp->content_type), "%s", ctype);
    return 0;

nomem:
    resp->failure = VV_HTTP_OTHER;
    snprintf(resp->error, sizeof(resp->error), "out of memory");
    return VV_E_NOMEM;
}
