/*
 * vault.c: requests to the vault's agent API over lib/http_client.c, with the
 * agent's token, and the vault's error answers turned into "CODE: message".
 */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "err.h"
#include "log.h"

static int finish(struct vv_http_response *resp, json_t **out, long *status, char *err,
                  size_t errlen)
{
    json_t *j = NULL;

    if (status)
        *status = resp->status;
    if (resp->body.len)
        j = vv_json_parse(resp->body.data, resp->body.len, NULL, 0);
    if (resp->status >= 200 && resp->status < 300) {
        if (out)
            *out = j;
        else
            json_decref(j);
        return 0;
    }
    {
        json_t *e = json_object_get(j, "error");
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        snprintf(err, errlen, "%s: %s", code ? code : "HttpError",
                 msg ? msg : "the vault answered with an unexpected status");
        if (!code)
            snprintf(err, errlen, "HttpError: the vault answered HTTP %ld", resp->status);
    }
    json_decref(j);
    return resp->status >= 500 ? VV_E_IO : VV_E_INVAL;
}

static int request(struct vv_agent *a, struct vv_http *h, const char *method, const char *path,
                   const void *data, size_t n, const char *ctype, const char *extra,
                   json_t **out, long *status, char *err, size_t errlen)
{
    struct vv_http_request req = VV_HTTP_REQUEST_INIT;
    struct vv_http_response resp;
    const char *headers[2] = {extra, NULL};
    char url[1200];
    int r;

    if (out)
        *out = NULL;
    snprintf(url, sizeof(url), "%s%s", a->url, path);
    req.method = method;
    req.url = url;
    req.bearer = a->token[0] ? a->token : NULL;
    req.headers = extra ? headers : NULL;
    req.body = data;
    req.body_len = n;
    req.content_type = data ? ctype : NULL;
    req.timeout_ms = 120000;
    vv_http_response_init(&resp);
    r = vv_http_do(h, &req, &resp);
    if (r < 0) {
        if (status)
            *status = 0;
        snprintf(err, errlen, "ExtensionSnapshotFailedNoNetwork: cannot reach the vault at %s: %s",
                 a->url, resp.error);
        vv_http_response_release(&resp);
        return VV_E_IO;
    }
    r = finish(&resp, out, status, err, errlen);
    vv_http_response_release(&resp);
    return r;
}

int vv_vault_json(struct vv_agent *a, struct vv_http *h, const char *method, const char *path,
                  json_t *body, json_t **out, long *status, char *err, size_t errlen)
{
    char *text = body ? vv_json_dump(body) : NULL;
    int r;
    if (body && !text)
        return VV_E_NOMEM;
    r = request(a, h, method, path, text, text ? strlen(text) : 0, "application/json", NULL, out,
                status, err, errlen);
    free(text);
    return r;
}

int vv_vault_raw(struct vv_agent *a, struct vv_http *h, const char *method, const char *path,
                 const void *data, size_t n, const char *extra_header, json_t **out,
                 long *status, char *err, size_t errlen)
{
    return request(a, h, method, path, data, n, "application/octet-stream", extra_header, out,
                   status, err, errlen);
}
