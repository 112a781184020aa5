/*
 * auth.c: token creation, hashing and authentication, roles, and the first owner.
 */
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "err.h"
#include "log.h"
#include "util.h"

static const char *const role_names[] = {"", "Reader", "Operator", "Contributor", "Owner"};

const char *vv_role_name(enum vv_role r)
{
    return (r >= VV_ROLE_READER && r <= VV_ROLE_OWNER) ? role_names[r] : "";
}

int vv_role_parse(const char *s, enum vv_role *out)
{
    for (int r = VV_ROLE_READER; r <= VV_ROLE_OWNER; r++)
        if (!strcmp(s, role_names[r])) {
            *out = (enum vv_role)r;
            return 0;
        }
    return VV_E_INVAL;
}

void vv_token_hash(const char *token, char hash[65])
{
    uint8_t h[VV_SHA256_LEN];
    if (vv_sha256(token, strlen(token), h) != 0)
        memset(h, 0, sizeof(h)); /* matches no stored token */
    vv_hex_encode(h, sizeof(h), hash);
}

int vv_token_new(const char *prefix, char token[VV_TOKEN_MAX], char id[32], char hash[65])
{
    uint8_t raw[4 + 32];
    char hex[2 * sizeof(raw) + 1];
    int r = vv_random(raw, sizeof(raw));
    if (r)
        return r;
    vv_hex_encode(raw, sizeof(raw), hex);
    snprintf(id, 32, "t-%.8s", hex);
    snprintf(token, VV_TOKEN_MAX, "%s_%.8s_%s", prefix, hex, hex + 8);
    vv_token_hash(token, hash);
    return 0;
}

int vv_secret_new(char secret[VV_TOKEN_MAX], char hash[65])
{
    uint8_t raw[32];
    char hex[65];
    int r = vv_random(raw, sizeof(raw));
    if (r)
        return r;
    vv_hex_encode(raw, sizeof(raw), hex);
    snprintf(secret, VV_TOKEN_MAX, "vvr_%s", hex);
    vv_token_hash(secret, hash);
    return 0;
}

/* The paired primary's replication token (peers.token_hash): who is "replication:
 * <region>". VV_E_NOTFOUND when no peer has it. */
static int peer_authenticate(struct vv_server *s, const char *hash, time_t now,
                             struct vv_ident *who)
{
    struct vv_stmt *st;
    int r = vv_db_prepare(s->db, &st,
                          "SELECT id, region FROM peers WHERE role = 'Primary' AND token_hash = ?",
                          "s", hash);
    if (r)
        return r;
    if ((r = vv_stmt_step(st)) == 1) {
        who->replication = 1;
        who->peer_id = vv_stmt_int(st, 0);
        snprintf(who->user, sizeof(who->user), "replication:%s", vv_stmt_text(st, 1));
        vv_stmt_free(st);
        vv_best_effort(vv_db_run(s->db,
                                 "UPDATE peers SET last_contact = ?1 WHERE id = ?2 AND "
                                 "(last_contact IS NULL OR last_contact < ?1 - 10)",
                                 "ii", (int64_t)now, who->peer_id));
        return 0;
    }
    vv_stmt_free(st);
    return r < 0 ? r : VV_E_NOTFOUND;
}

int vv_authenticate(struct vv_server *s, const char *authorization, time_t now,
                    struct vv_ident *who)
{
    struct vv_stmt *st;
    char hash[65];
    const char *tok;
    int r;

    memset(who, 0, sizeof(*who));
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return VV_E_NOTFOUND;
    tok = authorization + 7;
    while (*tok == ' ')
        tok++;
    if (!*tok || strlen(tok) >= VV_TOKEN_MAX)
        return VV_E_NOTFOUND;
    vv_token_hash(tok, hash);
    r = vv_db_prepare(s->db, &st,
                      "SELECT t.id, t.user_id, u.name, u.role, t.container_id, c.name, "
                      "  c.vault_id, v.name, v.uuid, t.last_used "
                      "FROM tokens t LEFT JOIN users u ON u.id = t.user_id "
                      "  LEFT JOIN containers c ON c.id = t.container_id "
                      "  LEFT JOIN vaults v ON v.id = c.vault_id "
                      "WHERE t.hash = ? AND t.revoked = 0 AND (t.expires IS NULL OR t.expires > ?)",
                      "si", hash, (int64_t)now);
    if (r)
        return r;
    r = vv_stmt_step(st);
    if (r == 1) {
        snprintf(who->token_id, sizeof(who->token_id), "%s", vv_stmt_text(st, 0));
        if (!vv_stmt_is_null(st, 1)) {
            who->user_id = vv_stmt_int(st, 1);
            snprintf(who->user, sizeof(who->user), "%s", vv_stmt_text(st, 2));
            if (vv_role_parse(vv_stmt_text(st, 3), &who->role) != 0)
                who->role = VV_ROLE_NONE;
        } else {
            who->agent = 1;
            who->container_id = vv_stmt_int(st, 4);
            snprintf(who->container, sizeof(who->container), "%s", vv_stmt_text(st, 5));
            who->vault_id = vv_stmt_int(st, 6);
            snprintf(who->vault, sizeof(who->vault), "%s", vv_stmt_text(st, 7));
            snprintf(who->vault_uuid, sizeof(who->vault_uuid), "%s", vv_stmt_text(st, 8));
            snprintf(who->user, sizeof(who->user), "agent:%s", who->container);
        }
        /* Record use at most once a minute (sooner with a short agent timeout, which
         * reads last_seen): a write per request is not worth it. */
        int64_t every = s->agent_timeout / 4 < 60 ? s->agent_timeout / 4 : 60;
        if (vv_stmt_is_null(st, 9) || vv_stmt_int(st, 9) < (int64_t)now - every) {
            vv_stmt_free(st);
            vv_best_effort(vv_db_run(s->db, "UPDATE tokens SET last_used = ? WHERE hash = ?", "is",
                                     (int64_t)now, hash));
            if (who->agent)
                vv_best_effort(vv_db_run(s->db, "UPDATE containers SET last_seen = ? WHERE id = ?",
                                         "ii", (int64_t)now, who->container_id));
            return 0;
        }
        vv_stmt_free(st);
        return 0;
    }
    vv_stmt_free(st);
    return r < 0 ? r : peer_authenticate(s, hash, now, who);
}

int vv_bootstrap_owner(struct vv_server *s, time_t now)
{
    char token[VV_TOKEN_MAX], id[32], hash[65], path[VV_PATH_MAX];
    int64_t n = 0;
    int r, fd;

    r = vv_db_int(s->db, &n, "SELECT COUNT(*) FROM users", "");
    if (r < 0)
        return r;
    if (n > 0)
        return 0;
    if (vv_path_join(path, sizeof(path), "%s/owner.token", s->data_dir) != 0)
        return vv_fail(VV_E_TOOBIG, "the path of %s/owner.token is too long", s->data_dir);
    if ((r = vv_token_new("vvt", token, id, hash)) != 0)
        return r;
    /* The file first: a token in the catalog that nobody can read would lock the
     * owner out. A crash before the catalog commit leaves a file that the next
     * start replaces. */
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        vv_error("cannot write %s: %s", path, strerror(errno));
        return VV_E_IO;
    }
    if (fchmod(fd, 0600) != 0 || vv_write_all(fd, token, strlen(token)) != 0 ||
        vv_write_all(fd, "\n", 1) != 0 || fsync(fd) != 0) {
        vv_error("cannot write %s: %s", path, strerror(errno));
        close(fd);
        return VV_E_IO;
    }
    close(fd);
    if ((r = vv_db_begin(s->db)) != 0)
        return r;
    if ((r = vv_db_run(s->db, "INSERT INTO users(name, role, created) VALUES ('owner', 'Owner', ?)",
                       "i", (int64_t)now)) < 0 ||
        (r = vv_db_run(s->db,
                       "INSERT INTO tokens(id, hash, user_id, name, created) "
                       "VALUES (?, ?, (SELECT id FROM users WHERE name = 'owner'), 'owner', ?)",
                       "ssi", id, hash, (int64_t)now)) < 0 ||
        (r = vv_db_commit(s->db)) != 0) {
        vv_db_rollback(s->db);
        return r;
    }
    vv_info("created the user 'owner' (role Owner); its token is in %s (mode 0600)", path);
    return 0;
}
