/*
 * pairing.c: the pairing of this server with another, as users see it
 * (/api/v1/pairing, docs/api.md "Pairing"). On the secondary an Owner issues a
 * single-use invitation (its code stored hashed, shown once, with this server's URL,
 * key pin and region); on the primary an Owner pairs with it, which makes the primary
 * call the secondary (replicator.c) and pin its key. Both sides list the pairing
 * (Reader), and either Owner ends it. Every change is audited.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "log.h"
#include "replicator.h"
#include "util.h"

void vv_api_pairing_invite(struct vv_call *c)
{
    static const char *const fields[] = {"expiresInHours", NULL};
    char code[VV_TOKEN_MAX], hash[65], t[32], tid[32];
    const char *url = c->srv->public_url[0] ? c->srv->public_url : c->srv->listen_url;
    int64_t hours = 24;
    time_t expires;
    int r;

    if (vv_body_only(c, c->body, NULL, fields) ||
        vv_body_int(c, c->body, "expiresInHours", 0, 1, 168, &hours))
        return;
    expires = c->now + (time_t)hours * 3600;
    if ((r = vv_token_new("vvi", code, tid, hash)) != 0 ||
        (r = vv_db_run(c->srv->db,
                       "INSERT INTO pair_invites (hash, created, expires, created_by) "
                       "VALUES (?, ?, ?, ?)",
                       "siis", hash, (int64_t)c->now, (int64_t)expires, c->who.user)) < 0) {
        vv_reply_internal(c, r);
        return;
    }
    vv_time_format(expires, t, sizeof(t));
    vv_audit(c, "PairingInvited", c->srv->region, t);
    vv_info("pairing invitation issued by %s, valid until %s", c->who.user, t);
    vv_reply(c, 201,
             json_pack("{s:s,s:s,s:s,s:s?,s:s}", "code", code, "expiresAt", t, "url", url,
                       "certificatePin", c->srv->tls_pin[0] ? c->srv->tls_pin : NULL, "region",
                       c->srv->region));
    memset(code, 0, sizeof(code));
}

void vv_api_pairing_create(struct vv_call *c)
{
    static const char *const fields[] = {"url", "code", "certificatePin", "region",
                                         "expiresAt", NULL};
    const char *given, *code, *pin = NULL;
    char err[1500], detail[700], url[512];
    size_t n;
    int r;

    if (vv_body_only(c, c->body, NULL, fields) || vv_body_str(c, c->body, "url", 1, &given) ||
        vv_body_str(c, c->body, "code", 1, &code) ||
        vv_body_str(c, c->body, "certificatePin", 0, &pin))
        return;
    snprintf(url, sizeof(url), "%.400s", given);
    for (n = strlen(url); n > 8 && url[n - 1] == '/'; n--)
        url[n - 1] = '\0';
    if ((strncmp(url, "https://", 8) && strncmp(url, "http://", 7)) || strlen(given) > 400 ||
        strpbrk(url, "?# \r\n")) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "url must be the secondary's http(s)://HOST:PORT (at most 400 characters)");
        return;
    }
    if (!strncmp(url, "https://", 8) && (!pin || strncmp(pin, "sha256//", 8))) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "certificatePin (sha256//BASE64, from the invitation) is required for an "
                       "https secondary: this server trusts exactly that key");
        return;
    }
    r = vv_repl_pair(c->srv, url, pin ? pin : "", code, c->who.user, err, sizeof(err));
    if (r == VV_E_EXISTS) {
        vv_reply_error(c, 409, "AlreadyPaired", "%s", err);
        return;
    }
    if (r == VV_E_AUTH) {
        vv_reply_error(c, 403, "InvalidPairingCode", "%s", err);
        return;
    }
    if (r == VV_E_INVAL) {
        vv_reply_error(c, 502, "SecondaryRefused", "%s", err);
        return;
    }
    if (r) {
        vv_reply_error(c, 502, "SecondaryUnreachable", "%s", err);
        return;
    }
    snprintf(detail, sizeof(detail), "url=%s", url);
    vv_db_lock(c->srv->db);
    vv_audit(c, "PairingCreated", "Secondary", detail);
    vv_db_unlock(c->srv->db);
    vv_api_pairing_show(c);
}

void vv_api_pairing_show(struct vv_call *c)
{
    int self = c->self_lock;

    if (self)
        vv_db_lock(c->srv->db);
    vv_reply_list(c, vv_db_rows(c->srv->db,
                                "SELECT role, name AS peerName, region, url, "
                                "  pin AS certificatePin, "
                                "  strftime('%Y-%m-%dT%H:%M:%SZ', created, 'unixepoch') AS created, "
                                "  created_by AS createdBy, max_rate AS maxReplicationRate, "
                                "  repl_window AS replicationWindow, "
                                "  CASE WHEN last_error IS NOT NULL THEN 'Unreachable' "
                                "    ELSE 'Connected' END AS state, "
                                "  strftime('%Y-%m-%dT%H:%M:%SZ', last_contact, 'unixepoch') "
                                "    AS lastContact, last_error AS lastError "
                                "FROM peers ORDER BY role DESC",
                                ""));
    if (self)
        vv_db_unlock(c->srv->db);
}

void vv_api_pairing_update(struct vv_call *c)
{
    static const char *const fields[] = {"maxReplicationRate", "replicationWindow", NULL};
    json_t *rate = json_object_get(c->body, "maxReplicationRate");
    json_t *win = json_object_get(c->body, "replicationWindow");
    int from, to, r = 0;
    char detail[200];

    if (vv_body_only(c, c->body, NULL, fields))
        return;
    if ((rate && !json_is_null(rate) &&
         (!json_is_integer(rate) || json_integer_value(rate) < 0)) ||
        (win && !json_is_null(win) &&
         (!json_is_string(win) || vv_window_parse(json_string_value(win), &from, &to) != 0))) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "maxReplicationRate is bytes per second (0 or null: no limit) and "
                       "replicationWindow \"HH:MM-HH:MM\" in UTC (null: always)");
        return;
    }
    if (rate)
        r = vv_db_run(c->srv->db, "UPDATE peers SET max_rate = ? WHERE role = 'Secondary'", "i",
                      (int64_t)(json_is_null(rate) ? 0 : json_integer_value(rate)));
    if (r >= 0 && win)
        r = vv_db_run(c->srv->db, "UPDATE peers SET repl_window = ? WHERE role = 'Secondary'",
                      "s", json_is_null(win) ? NULL : json_string_value(win));
    if (r < 0) {
        vv_reply_internal(c, r);
        return;
    }
    if (r == 0 && (rate || win)) {
        vv_reply_error(c, 404, "NotPaired",
                       "this server replicates to no secondary: 'vmvault pairing create' first");
        return;
    }
    detail[0] = '\0';
    if (rate)
        snprintf(detail, sizeof(detail), "maxReplicationRate=%lld ",
                 (long long)json_integer_value(rate));
    if (win)
        snprintf(detail + strlen(detail), sizeof(detail) - strlen(detail),
                 "replicationWindow=%s", json_string_value(win) ? json_string_value(win) : "always");
    vv_audit(c, "PairingUpdated", "Secondary", detail);
    vv_replicator_wake(c->srv);
    vv_api_pairing_show(c);
}

void vv_api_pairing_delete(struct vv_call *c)
{
    const char *role = vv_http_query(c->req, "role");
    int r;

    if (!role || (strcmp(role, "Secondary") && strcmp(role, "Primary"))) {
        vv_reply_error(c, 400, "InvalidParameter",
                       "say which pairing ends: ?role=Secondary (this server stops "
                       "replicating to its secondary) or ?role=Primary (this server stops "
                       "accepting its primary; its replica vaults become ordinary vaults)");
        return;
    }
    if (!strcmp(role, "Secondary")) {
        r = vv_repl_unpair(c->srv);
    } else {
        vv_db_lock(c->srv->db);
        r = vv_db_run(c->srv->db, "DELETE FROM peers WHERE role = 'Primary'", "");
        if (r > 0)
            r = vv_db_run(c->srv->db,
                          "UPDATE vaults SET replica_of = NULL WHERE replica_of IS NOT NULL", "");
        else if (r == 0)
            r = VV_E_NOTFOUND;
        vv_db_unlock(c->srv->db);
    }
    if (r == VV_E_NOTFOUND) {
        vv_reply_error(c, 404, "NotPaired", "this server has no %s", role);
        return;
    }
    if (r < 0) {
        vv_reply_internal(c, r);
        return;
    }
    vv_db_lock(c->srv->db);
    vv_audit(c, "PairingDeleted", role, NULL);
    vv_db_unlock(c->srv->db);
    vv_info("pairing with the %s ended by %s", role, c->who.user);
    vv_reply(c, 204, NULL);
}
