/*
 * access.c: users, their tokens and the audit log (Owner only).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "auth.h"
#include "err.h"
#include "log.h"

#define T(col) "strftime('%Y-%m-%dT%H:%M:%SZ', " col ", 'unixepoch')"

#define USER_SELECT                                                                     \
    "SELECT u.name, u.role, " T("u.created") " AS createdAt, "                           \
    "  (SELECT COUNT(*) FROM tokens t WHERE t.user_id = u.id AND t.revoked = 0) AS tokenCount " \
    "FROM users u "

#define TOKEN_SELECT                                                                     \
    "SELECT t.id, t.name, u.name AS user, " T("t.created") " AS createdAt, "              \
    "  " T("t.expires") " AS expiresAt, " T("t.last_used") " AS lastUsed, "               \
    "  t.revoked AS \"revoked:bool\" "                                                   \
    "FROM tokens t JOIN users u ON u.id = t.user_id "

void vv_api_user_create(struct vv_call *c)
{
    static const char *const fields[] = {"name", "role", NULL};
    const char *name, *role;
    enum vv_role rl;
    int err, r;
    json_t *u;

    if (vv_body_only(c, c->body, NULL, fields) || vv_body_str(c, c->body, "name", 1, &name) ||
        vv_body_str(c, c->body, "role", 1, &role))
        return;
    if (vv_check_name(c, "user name", name))
        return;
    if (vv_role_parse(role, &rl) != 0) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "role '%s' is not one of Reader, Operator, Contributor, Owner", role);
        return;
    }
    r = vv_db_run(c->srv->db, "INSERT INTO users(name, role, created) VALUES (?,?,?)", "ssi", name,
                  role, (int64_t)c->now);
    if (r == VV_E_EXISTS) {
        vv_reply_error(c, 409, "UserAlreadyExists", "a user named '%s' already exists", name);
        return;
    }
    if (r < 0) {
        vv_reply_internal(c, r);
        return;
    }
    vv_audit(c, "CreateUser", name, role);
    u = vv_db_row(c->srv->db, &err, USER_SELECT "WHERE u.name = ?", "s", name);
    vv_reply(c, 201, u);
}

void vv_api_user_list(struct vv_call *c)
{
    vv_reply_list(c, vv_db_rows(c->srv->db, USER_SELECT "ORDER BY u.name", ""));
}

void vv_api_user_delete(struct vv_call *c)
{
    char role[32] = "";
    int64_t owners = 0;
    int r;

    r = vv_db_text(c->srv->db, role, sizeof(role), "SELECT role FROM users WHERE name = ?", "s",
                   c->param[0]);
    if (r <= 0) {
        if (r == 0)
            vv_reply_error(c, 404, "UserNotFound", "no user '%s'", c->param[0]);
        else
            vv_reply_internal(c, r);
        return;
    }
    if (!strcmp(role, "Owner")) {
        if ((r = vv_db_int(c->srv->db, &owners, "SELECT COUNT(*) FROM users WHERE role = 'Owner'",
                           "")) < 0) {
            vv_reply_internal(c, r);
            return;
        }
        if (owners <= 1) {
            vv_reply_error(c, 409, "LastOwner",
                           "'%s' is the last Owner; create another Owner before deleting it",
                           c->param[0]);
            return;
        }
    }
    if ((r = vv_db_run(c->srv->db, "DELETE FROM users WHERE name = ?", "s", c->param[0])) < 0) {
        vv_reply_internal(c, r);
        return;
    }
    vv_audit(c, "DeleteUser", c->param[0], NULL);
    vv_reply(c, 200, NULL);
}

void vv_api_token_create(struct vv_call *c)
{
    static const char *const fields[] = {"name", "expiresInDays", NULL};
    const char *name = NULL;
    char token[VV_TOKEN_MAX], id[32], hash[65];
    int64_t uid = 0, days = 0;
    json_t *t;
    int r, err;

    r = vv_db_int(c->srv->db, &uid, "SELECT id FROM users WHERE name = ?", "s", c->param[0]);
    if (r <= 0) {
        if (r == 0)
            vv_reply_error(c, 404, "UserNotFound", "no user '%s'", c->param[0]);
        else
            vv_reply_internal(c, r);
        return;
    }
    if (vv_body_only(c, c->body, NULL, fields) || vv_body_str(c, c->body, "name", 0, &name) ||
        vv_body_int(c, c->body, "expiresInDays", 0, 1, 3650, &days))
        return;
    if (name && vv_check_name(c, "token name", name))
        return;
    if ((r = vv_token_new("vvt", token, id, hash)) != 0) {
        vv_reply_internal(c, r);
        return;
    }
    r = vv_db_run(c->srv->db,
                  "INSERT INTO tokens(id, hash, user_id, name, created, expires) "
                  "VALUES (?,?,?,?,?,NULLIF(?, 0))",
                  "ssisii", id, hash, uid, name, (int64_t)c->now,
                  days ? (int64_t)c->now + days * 86400 : (int64_t)0);
    if (r < 0) {
        vv_reply_internal(c, r);
        return;
    }
    vv_audit(c, "CreateToken", id, c->param[0]);
    t = vv_db_row(c->srv->db, &err, TOKEN_SELECT "WHERE t.id = ?", "s", id);
    if (t)
        json_object_set_new(t, "token", json_string(token));
    vv_reply(c, 201, t);
}

void vv_api_token_list(struct vv_call *c)
{
    const char *user = vv_http_query(c->req, "user");
    vv_reply_list(c, vv_db_rows(c->srv->db,
                                TOKEN_SELECT "WHERE (? IS NULL OR u.name = ?) ORDER BY t.created, t.id",
                                "ss", user, user));
}

void vv_api_token_revoke(struct vv_call *c)
{
    int r = vv_db_run(c->srv->db, "UPDATE tokens SET revoked = 1 WHERE id = ? AND user_id IS NOT NULL",
                      "s", c->param[0]);
    if (r < 0) {
        vv_reply_internal(c, r);
        return;
    }
    if (r == 0) {
        vv_reply_error(c, 404, "TokenNotFound", "no token '%s' (see 'vmvault token list')",
                       c->param[0]);
        return;
    }
    vv_audit(c, "RevokeToken", c->param[0], NULL);
    vv_reply(c, 200, NULL);
}

void vv_api_audit_list(struct vv_call *c)
{
    const char *lim = vv_http_query(c->req, "limit");
    int64_t limit = 200;
    if (lim) {
        char *end;
        limit = strtoll(lim, &end, 10);
        if (*end || end == lim || limit < 1 || limit > 10000) {
            vv_reply_error(c, 400, "InvalidParameter", "limit must be an integer from 1 to 10000");
            return;
        }
    }
    vv_reply_list(c, vv_db_rows(c->srv->db,
                                "SELECT " T("time") " AS time, actor, action, target, detail "
                                "FROM audit ORDER BY id DESC LIMIT ?",
                                "i", limit));
}
