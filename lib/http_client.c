/* http_client.c: libcurl adapter (see http_client.h). */
#include "http_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

struct vv_http {
    CURL *curl;
    char *user_agent;
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
    free(h);
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
    case VV_HTTP_TIMEOUT: return "timed out";
    case VV_HTTP_TLS: return "TLS failure";
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
    long os_errno = 0;
    int r = VV_E_IO;

    curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
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
        resp->failure = VV_HTTP_REFUSED;
        break;
    case CURLE_OPERATION_TIMEDOUT:
        resp->failure = VV_HTTP_TIMEOUT;
        break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
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
        snprintf(resp->error, sizeof(resp->error), "%s",
                 os_errno ? strerror((int)os_errno) : "connection refused");
        break;
    case VV_HTTP_TIMEOUT:
        if (os_errno == 0 && strstr(detail, "onnect"))
            snprintf(resp->error, sizeof(resp->error), "no connection within %ld s",
                     (connect_ms + 999) / 1000);
        else
            snprintf(resp->error, sizeof(resp->error), "timed out (%.200s)",
                     *detail ? detail : curl_easy_strerror(cc));
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

    vv_buf_release(&resp->body);
    vv_buf_init(&resp->body, cap);
    resp->status = 0;
    resp->content_type[0] = '\0';
    resp->failure = VV_HTTP_OK;
    resp->error[0] = '\0';
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
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
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
    if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype)
        snprintf(resp->content_type, sizeof(resp->content_type), "%s", ctype);
    return 0;

nomem:
    resp->failure = VV_HTTP_OTHER;
    snprintf(resp->error, sizeof(resp->error), "out of memory");
    return VV_E_NOMEM;
}
