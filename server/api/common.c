/*
 * common.c: replies, body checks, names, times, the audit log and the look-ups
 * every handler shares (see api.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "auth.h"
#include "err.h"
#include "jobs.h"
#include "log.h"
#include "store/usage.h"
#include "util.h"

static void set_body(struct vv_call *c, int status, char *text)
{
    vv_http_resp_release(c->resp);
    c->resp->status = text ? status : 500;
    c->resp->content_type = "application/json";
    c->resp->body = text;
    c->resp->body_len = text ? strlen(text) : 0;
}

void vv_reply(struct vv_call *c, int status, json_t *v)
{
    if (!v)
        v = json_object();
    set_body(c, status, json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER));
    json_decref(v);
}

void vv_reply_error(struct vv_call *c, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    json_t *e;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* Messages repeat what the client sent (a path, a name): keep them printable
     * ASCII, which is also always valid JSON text. */
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    e = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    set_body(c, status, e ? json_dumps(e, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL);
    json_decref(e);
}

void vv_reply_storage_full(struct vv_call *c, const char *job)
{
    char msg[700], avail_s[32], need_s[32];
    uint64_t avail = 0, total = 0;
    size_t need = c->req ? c->req->body_len : 0;

    vv_best_effort(vv_store_space(c->srv->data_dir, &avail, &total));
    vv_bytes_text(avail, avail_s);
    vv_bytes_text(need, need_s);
    snprintf(msg, sizeof(msg),
             "the vault's storage is full: %s free in %.200s, this write needed %s and more room "
             "for what follows; free space there (delete recovery points, then run garbage "
             "collection, or grow the file system), then run the backup again",
             avail_s, c->srv->data_dir, need ? need_s : "a little");
    vv_error("answering 507 VaultStorageFull to %s %s%s%s", c->req ? c->req->method : "-",
             c->req ? c->req->path : "-", job ? " of job " : "", job ? job : "");
    if (job && vv_uuid_valid(job)) {
        vv_db_lock(c->srv->db);
        vv_best_effort(vv_job_fail_storage_full(c->srv, job, c->now, msg));
        vv_db_unlock(c->srv->db);
    }
    vv_reply_error(c, 507, "VaultStorageFull", "%s", msg);
}

int vv_space_low(struct vv_server *s, uint64_t *avail, uint64_t *want, char *msg, size_t n)
{
    uint64_t total = 0;
    char a[32], w[32];

    *avail = *want = 0;
    if (vv_store_space(s->data_dir, avail, &total) != 0)
        return 0; /* logged; the writes themselves then say whether space is short */
    *want = s->min_free_percent ? total / 100 * (uint64_t)s->min_free_percent : s->min_free_bytes;
    if (*want == 0 || *avail >= *want)
        return 0;
    vv_bytes_text(*avail, a);
    vv_bytes_text(*want, w);
    snprintf(msg, n,
             "the vault's storage is nearly full: %s free in %.200s, below the %s the server "
             "keeps free (--min-free); free space there (delete recovery points, then run "
             "garbage collection, or grow the file system), then run the backup again",
             a, s->data_dir, w);
    return 1;
}

void vv_reply_internal(struct vv_call *c, int err)
{
    if (err == VV_E_NOSPC) {
        vv_reply_storage_full(c, NULL);
        return;
    }
    /* the one line the reply's "see the server log" points to */
    vv_error("answering 500 InternalError to %s %s: %s (%s)%s%s%s%s%s%s",
             c->req ? c->req->method : "-", c->req ? c->req->path : "-", vv_errname(err),
             vv_strerror(err), c->route_pattern ? ", route " : "",
             c->route_method ? c->route_method : "", c->route_pattern ? " " : "",
             c->route_pattern ? c->route_pattern : "", c->who.user[0] ? ", caller " : "",
             c->who.user);
    vv_reply_error(c, 500, "InternalError", "the server failed: %s (see the server log)",
                   vv_strerror(err));
}

void vv_reply_list(struct vv_call *c, json_t *arr)
{
    if (!arr) {
        vv_reply_internal(c, VV_E_IO);
        return;
    }
    vv_reply(c, 200, json_pack("{s:o}", "value", arr));
}

int vv_body_only(struct vv_call *c, const json_t *obj, const char *where,
                 const char *const *allowed)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)(uintptr_t)obj, key, v) {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (!strcmp(*a, key))
                ok = 1;
        if (!ok) {
            vv_reply_error(c, 400, "InvalidParameter", "unknown field '%s%s%s'", where ? where : "",
                           where ? "." : "", key);
            return -1;
        }
    }
    return 0;
}

int vv_body_str(struct vv_call *c, const json_t *obj, const char *name, int required,
                const char **out)
{
    json_t *v = json_object_get(obj, name);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (!required)
            return 0;
        vv_reply_error(c, 400, "InvalidParameter", "field '%s' is required", name);
        return -1;
    }
    if (!json_is_string(v)) {
        vv_reply_error(c, 400, "InvalidParameter", "field '%s' must be a string", name);
        return -1;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        vv_reply_error(c, 400, "InvalidParameter", "field '%s' contains a NUL character", name);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

int vv_body_int(struct vv_call *c, const json_t *obj, const char *name, int required,
                int64_t min, int64_t max, int64_t *out)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v)) {
        if (!required)
            return 0;
        vv_reply_error(c, 400, "InvalidParameter", "field '%s' is required", name);
        return -1;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        vv_reply_error(c, 400, "InvalidParameter", "field '%s' must be an integer from %lld to %lld",
                       name, (long long)min, (long long)max);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

int vv_body_bool(struct vv_call *c, const json_t *obj, const char *name, int *out)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v)) {
        vv_reply_error(c, 400, "InvalidParameter", "field '%s' must be true or false", name);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

int vv_check_name(struct vv_call *c, const char *what, const char *name)
{
    if (vv_name_valid(name))
        return 0;
    vv_reply_error(c, 400, "InvalidParameter",
                   "%s '%s' is not valid: 1 to 64 letters, digits, '.', '_' or '-', starting "
                   "with a letter or digit",
                   what, name);
    return -1;
}

void vv_audit(struct vv_call *c, const char *action, const char *target, const char *detail)
{
    vv_best_effort(vv_db_run(
        c->srv->db, "INSERT INTO audit(time, actor, action, target, detail) VALUES (?,?,?,?,?)",
        "issss", (int64_t)c->now, c->who.user[0] ? c->who.user : "-", action, target, detail));
    vv_info("audit actor=%s action=%s target=%s%s%s", c->who.user[0] ? c->who.user : "-", action,
            target, detail ? " detail=" : "", detail ? detail : "");
}

int vv_find_vault(struct vv_call *c, const char *name, int64_t *id, char uuid[VV_UUID_LEN],
                  char *location, size_t loclen)
{
    struct vv_stmt *st;
    int r;

    r = vv_db_prepare(c->srv->db, &st, "SELECT id, uuid, location FROM vaults WHERE name = ?", "s",
                      name);
    if (r) {
        vv_reply_internal(c, r);
        return -1;
    }
    r = vv_stmt_step(st);
    if (r == 1) {
        *id = vv_stmt_int(st, 0);
        if (uuid)
            snprintf(uuid, VV_UUID_LEN, "%s", vv_stmt_text(st, 1));
        if (location)
            snprintf(location, loclen, "%s", vv_stmt_text(st, 2));
    }
    vv_stmt_free(st);
    if (r < 0) {
        vv_reply_internal(c, r);
        return -1;
    }
    if (r == 0) {
        vv_reply_error(c, 404, "VaultNotFound", "vault '%s' does not exist", name);
        return -1;
    }
    return 0;
}

int vv_find_policy(struct vv_call *c, int64_t vid, const char *name, const char *hint,
                   int64_t *id)
{
    int r = vv_db_int(c->srv->db, id, "SELECT id FROM policies WHERE vault_id = ? AND name = ?",
                      "is", vid, name);
    if (r == 1)
        return 0;
    if (r == 0)
        vv_reply_error(c, 404, "PolicyNotFound", "vault '%s' has no policy '%s'%s", c->param[0],
                       name, hint ? hint : "");
    else
        vv_reply_internal(c, r);
    return -1;
}

void vv_api_health(struct vv_call *c)
{
    char now[32];
    vv_time_format_or_empty(c->now, now);
    vv_reply(c, 200, json_pack("{s:s,s:s,s:s}", "status", "ok", "version", VV_SERVER_VERSION,
                               "time", now));
}

void vv_api_whoami(struct vv_call *c)
{
    if (c->who.agent)
        vv_reply(c, 200, json_pack("{s:b,s:s,s:s,s:s}", "agent", 1, "container", c->who.container,
                                   "vault", c->who.vault, "token", c->who.token_id));
    else
        vv_reply(c, 200, json_pack("{s:s,s:s,s:s}", "user", c->who.user, "role",
                                   vv_role_name(c->who.role), "token", c->who.token_id));
}
