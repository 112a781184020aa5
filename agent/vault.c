/*
 * vault.c: requests to the vault's agent API over lib/http_client.c, with the
 * agent's token, pin and proxy (net.c), retried while the network fails, and the
 * vault's error answers turned into "CODE: message"; on top of them, a job's
 * progress and end reports, and the outbox of job endings the vault could not be
 * told yet (outbox/<job>.json in the state folder, sent again by `run`).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "buf.h"
#include "err.h"
#include "log.h"
#include "util.h"

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
    char shown[1200];
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
        vv_best_effort(vv_agent_http_apply(a, h));
        r = vv_http_do(h, &req, &resp);
        if (!retry || (r < 0 && r != VV_E_IO) || !vv_agent_net_transient(&resp) ||
            atomic_load(&a->stop) || time(NULL) - t0 + (time_t)pause > a->retry_seconds)
            break;
        if (!said++) {
            if (r < 0)
                vv_agent_net_error(a, &resp, err, errlen);
            else
                snprintf(err, errlen, "the vault answered HTTP %ld", resp.status);
            vv_warn("%s %s: %s; trying again for up to %d s", method, path,
                    vv_agent_shown(err, shown, sizeof(shown)), a->retry_seconds);
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
    if (resp.status == 409 && !strncmp(err, "ContainerAlreadyRegistered:", 27)) {
        size_t used = strlen(err);
        snprintf(err + used, errlen - used,
                 " [this agent sent %s: %s/agent.json holds none for this vault and host name]",
                 a->token[0] ? "a token the vault does not take for this host" : "no token",
                 a->state_dir);
    }
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

/* ---- progress and completion ---------------------------------------------------- */

int vv_agent_progress(struct vv_agent *a, struct vv_http *h, const char *job, json_t *tasks,
                      int64_t done, int64_t total)
{
    char path[200], err[600];
    json_t *body, *ans = NULL;
    int r, cancel;

    body = json_pack("{s:I,s:I}", "bytesDone", (json_int_t)done, "bytesTotal", (json_int_t)total);
    if (tasks)
        json_object_set(body, "tasks", tasks);
    snprintf(path, sizeof(path), "/api/v1/agent/jobs/%s/progress", job);
    r = vv_vault_json_once(a, h, "POST", path, body, &ans, NULL, err, sizeof(err));
    json_decref(body);
    if (r) {
        char shown[sizeof(err)];
        vv_warn("job %s: progress not reported: %s", job,
                vv_agent_shown(err, shown, sizeof(shown)));
        return r;
    }
    cancel = json_is_true(json_object_get(ans, "cancelRequested"));
    json_decref(ans);
    return cancel;
}

int vv_agent_complete(struct vv_agent *a, const char *job, const char *status, const char *code,
                      const char *message)
{
    return vv_agent_complete_with(a, job, status, code, message, NULL);
}

int vv_agent_complete_with(struct vv_agent *a, const char *job, const char *status,
                           const char *code, const char *message, json_t *extra)
{
    char path[200], err[1200], shown[1200], shown_code[VV_SHOWN_MAX];
    json_t *body = json_pack("{s:s}", "status", status);
    long http_status = 0;
    int r;

    if (extra)
        json_object_update(body, extra);
    if (code)
        json_object_set_new(body, "error", json_pack("{s:s,s:s}", "code", code, "message",
                                                     message ? message : ""));
    snprintf(path, sizeof(path), "/api/v1/agent/jobs/%s/complete", job);
    r = vv_vault_json(a, a->http, "POST", path, body, NULL, &http_status, err, sizeof(err));
    if (r)
        vv_error("job %s: cannot report its end (%s): %s", job, status,
                 vv_agent_shown(err, shown, sizeof(shown)));
    else if (code)
        vv_warn("job %s ended %s: %s: %s", job, status,
                vv_agent_shown(code, shown_code, sizeof(shown_code)),
                vv_agent_shown(message ? message : "", shown, sizeof(shown)));
    if (r && (http_status == 0 || http_status >= 500))
        /* the network is down: tell the vault later */
        vv_best_effort(vv_agent_outbox_put(a, job, body));
    json_decref(body);
    return r;
}

/* ---- the outbox ------------------------------------------------------------------ */

int vv_agent_outbox_put(struct vv_agent *a, const char *job, json_t *body)
{
    char dir[VV_PATH_MAX], path[VV_PATH_MAX];
    char *text;
    int r;

    if (vv_path_join(dir, sizeof(dir), "%s/outbox", a->state_dir) != 0 ||
        vv_path_join(path, sizeof(path), "%s/%s.json", dir, job) != 0)
        return vv_fail(VV_E_TOOBIG, "the path of %s/outbox/%s.json is too long", a->state_dir,
                       job);
    if (!(text = vv_json_dump(body)))
        return VV_E_NOMEM;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        free(text);
        return VV_E_IO;
    }
    r = vv_state_write(path, text, strlen(text));
    free(text);
    if (r == 0)
        vv_warn("job %s: its end is kept in %s until the vault can be told", job, path);
    return r;
}

/* Send the kept end of job in path: 1 when it is done with (told, refused, or
 * unreadable: the file is removed), 0 when it stays for the next try. */
static int outbox_send(struct vv_agent *a, const char *path, const char *job, int jl)
{
    char err[1200], api[200], shown[1200];
    struct vv_buf b;
    json_t *body;
    long status = 0;
    int done = 0;

    snprintf(api, sizeof(api), "/api/v1/agent/jobs/%.*s/complete", jl, job);
    vv_buf_init(&b, 1 << 20);
    body = vv_read_file(path, &b) == 0 ? vv_json_parse(b.data, b.len, NULL, 0) : NULL;
    vv_buf_release(&b);
    if (!body) {
        unlink(path);
        return 1;
    }
    if (vv_vault_json_once(a, a->http, "POST", api, body, NULL, &status, err, sizeof(err)) == 0 ||
        (status >= 400 && status < 500)) {
        /* told, or the vault no longer wants it (the job ended meanwhile) */
        vv_info("job %.*s: its kept end was delivered%s%s", jl, job, status >= 400 ? ": " : "",
                status >= 400 ? vv_agent_shown(err, shown, sizeof(shown)) : "");
        unlink(path);
        done = 1;
    }
    json_decref(body);
    return done;
}

int vv_agent_outbox_flush(struct vv_agent *a)
{
    char dir[VV_PATH_MAX], path[VV_PATH_MAX];
    struct dirent *e;
    DIR *d;
    int left = 0;

    if (vv_path_join(dir, sizeof(dir), "%s/outbox", a->state_dir) != 0 || !(d = opendir(dir)))
        return 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".json") || n - 5 >= 64)
            continue;
        if (vv_path_join(path, sizeof(path), "%s/%s", dir, e->d_name) != 0 ||
            !outbox_send(a, path, e->d_name, (int)(n - 5)))
            left++;
    }
    closedir(d);
    return left ? VV_E_IO : 0;
}

void vv_vault_own_token(struct vv_agent *a, const char *host)
{
    char path[VV_PATH_MAX];
    struct vv_buf b;
    json_t *j = NULL;
    const char *vid, *hn, *tok;

    a->token[0] = 0;
    if (vv_path_join(path, sizeof(path), "%s/agent.json", a->state_dir) != 0)
        return;
    vv_buf_init(&b, 1 << 20);
    if (vv_read_file(path, &b) == 0)
        j = vv_json_parse(b.data, b.len, NULL, 0);
    vv_buf_release(&b);
    vid = json_string_value(json_object_get(j, "vaultId"));
    hn = json_string_value(json_object_get(j, "hostName"));
    tok = json_string_value(json_object_get(j, "token"));
    if (vid && hn && tok && !strcmp(vid, a->vault_id) && !strcmp(hn, host) &&
        strlen(tok) < sizeof(a->token)) {
        snprintf(a->token, sizeof(a->token), "%s", tok);
        vv_info("host '%s' is registered with this vault already: registering again with its "
                "own token (a new token replaces it)",
                host);
    }
    json_decref(j);
}
