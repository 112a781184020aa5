/*
 * vault.c: requests to the vault's agent API over lib/http_client.c, with the
 * agent's token, pin and proxy (net.c), retried while the network fails, and the
 * vault's error answers turned into "CODE: message".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* Sleep up to seconds, in short steps, unless the agent is stopping. */
static void pause_for(struct vv_agent *a, unsigned seconds)
{
    for (unsigned i = 0; i < seconds * 10 && !atomic_load(&a->stop); i++)
        usleep(100 * 1000);
}

static int request(struct vv_agent *a, struct vv_http *h, const char *method, const char *path,
                   const void *data, size_t n, const char *ctype, const char *extra,
                   json_t **out, long *status, char *err, size_t errlen, int retry)
{
    struct vv_http_request req = VV_HTTP_REQUEST_INIT;
    struct vv_http_response resp;
    const char *headers[2] = {extra, NULL};
    char url[1200];
    time_t t0 = time(NULL);
    unsigned pause = 1;
    int r, said = 0;

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
    for (;;) {
        vv_agent_http_apply(a, h);
        r = vv_http_do(h, &req, &resp);
        if (!retry || (r < 0 && r != VV_E_IO) || !vv_agent_net_transient(&resp) ||
            atomic_load(&a->stop) || time(NULL) - t0 + (time_t)pause > a->retry_seconds)
            break;
        if (!said++) {
            if (r < 0)
                vv_agent_net_error(a, &resp, err, errlen);
            else
                snprintf(err, errlen, "the vault answered HTTP %ld", resp.status);
            vv_warn("%s %s: %s; trying again for up to %d s", method, path, err,
                    a->retry_seconds);
        }
        pause_for(a, pause);
        pause = pause * 2 > 30 ? 30 : pause * 2;
        vv_agent_conf_refresh(a);
    }
    if (said && (r == 0 && !vv_agent_net_transient(&resp)))
        vv_info("%s %s: the vault answers again after %lld s", method, path,
                (long long)(time(NULL) - t0));
    if (r < 0) {
        if (status)
            *status = 0;
        if (r == VV_E_IO)
            vv_agent_net_error(a, &resp, err, errlen);
        else
            snprintf(err, errlen, "ExtensionSnapshotFailedNoNetwork: %s", resp.error);
        vv_http_response_release(&resp);
        return VV_E_IO;
    }
    r = finish(&resp, out, status, err, errlen);
    if (resp.status == 401)
        snprintf(err, errlen,
                 "AgentCredentialRejected: the vault at %s rejects this host's token (HTTP "
                 "401): the host was unregistered or registered again elsewhere; register it "
                 "again with 'vmvault-agent register --vault-credentials FILE'",
                 a->url);
    vv_http_response_release(&resp);
    return r;
}

static int json_request(struct vv_agent *a, struct vv_http *h, const char *method,
                        const char *path, json_t *body, json_t **out, long *status, char *err,
                        size_t errlen, int retry)
{
    char *text = body ? vv_json_dump(body) : NULL;
    int r;
    if (body && !text)
        return VV_E_NOMEM;
    r = request(a, h, method, path, text, text ? strlen(text) : 0, "application/json", NULL, out,
                status, err, errlen, retry);
    free(text);
    return r;
}

int vv_vault_json(struct vv_agent *a, struct vv_http *h, const char *method, const char *path,
                  json_t *body, json_t **out, long *status, char *err, size_t errlen)
{
    return json_request(a, h, method, path, body, out, status, err, errlen, 1);
}

int vv_vault_json_once(struct vv_agent *a, struct vv_http *h, const char *method,
                       const char *path, json_t *body, json_t **out, long *status, char *err,
                       size_t errlen)
{
    return json_request(a, h, method, path, body, out, status, err, errlen, 0);
}

int vv_vault_raw(struct vv_agent *a, struct vv_http *h, const char *method, const char *path,
                 const void *data, size_t n, const char *extra_header, json_t **out,
                 long *status, char *err, size_t errlen)
{
    return request(a, h, method, path, data, n, "application/octet-stream", extra_header, out,
                   status, err, errlen, 1);
}
