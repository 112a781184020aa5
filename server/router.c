/*
 * router.c: every REST route in one table (method, path pattern, the permission it
 * needs, body cap), authentication, the permission check, and the request log.
 *
 * Path patterns use "*" for a parameter segment. The permission is checked before
 * the handler runs, so a handler never sees a caller its route does not allow.
 */
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/api.h"
#include "auth.h"
#include "err.h"
#include "log.h"
#include "static.h"

/* What a route requires of its caller. */
enum perm {
    P_PUBLIC,     /* no token */
    P_ANY,        /* any valid token, user or agent */
    P_READ,       /* users: Reader and up */
    P_OPERATE,    /* Operator and up */
    P_CONTRIBUTE, /* Contributor and up */
    P_OWNER,      /* Owner */
    P_AGENT,      /* host agents only */
    P_REPLICA,    /* the paired primary's replication token only */
};

enum {
    F_JSON = 1,      /* the body must be a JSON object (an empty body is {}) */
    F_SELF_LOCK = 2, /* the handler takes the catalog lock itself */
    F_RO_REPLICA = 4, /* changes the vault in param[0]: refused on a replica vault */
};

#define KiB (size_t)1024
#define MiB (1024 * KiB)

struct route {
    const char *method;
    const char *pattern;
    enum perm perm;
    int flags;
    size_t cap;
    vv_api_fn fn;
};

#define J F_JSON
#define JCAP MiB
#define RO F_RO_REPLICA

static const struct route routes[] = {
    {"GET", "/api/v1/health", P_PUBLIC, 0, 0, vv_api_health},
    {"GET", "/api/v1/whoami", P_ANY, 0, 0, vv_api_whoami},

    {"POST", "/api/v1/vaults", P_CONTRIBUTE, J, JCAP, vv_api_vault_create},
    {"GET", "/api/v1/vaults", P_READ, 0, 0, vv_api_vault_list},
    {"GET", "/api/v1/vaults/*", P_READ, 0, 0, vv_api_vault_show},
    {"DELETE", "/api/v1/vaults/*", P_OWNER, RO, 0, vv_api_vault_delete},
    {"GET", "/api/v1/vaults/*/backupProperties", P_READ, 0, 0, vv_api_props_show},
    {"PATCH", "/api/v1/vaults/*/backupProperties", P_CONTRIBUTE, J | RO, JCAP, vv_api_props_set},
    {"POST", "/api/v1/vaults/*/credentials", P_CONTRIBUTE, J, JCAP, vv_api_credentials},
    {"POST", "/api/v1/vaults/*/prune", P_OPERATE, J, JCAP, vv_api_vault_prune},
    {"POST", "/api/v1/vaults/*/garbageCollection", P_OPERATE, J, JCAP, vv_api_vault_gc},
    {"GET", "/api/v1/vaults/*/overview", P_READ, 0, 0, vv_api_vault_overview},

    {"GET", "/api/v1/vaults/*/policies", P_READ, 0, 0, vv_api_policy_list},
    {"POST", "/api/v1/vaults/*/policies", P_CONTRIBUTE, J | RO, JCAP, vv_api_policy_create},
    {"GET", "/api/v1/vaults/*/policies/*", P_READ, 0, 0, vv_api_policy_show},
    {"PUT", "/api/v1/vaults/*/policies/*", P_CONTRIBUTE, J | RO, JCAP, vv_api_policy_set},
    {"DELETE", "/api/v1/vaults/*/policies/*", P_CONTRIBUTE, RO, 0, vv_api_policy_delete},
    {"GET", "/api/v1/vaults/*/policies/*/nextRuns", P_READ, 0, 0, vv_api_policy_next_runs},
    {"POST", "/api/v1/vaults/*/policyPreview", P_READ, J, JCAP, vv_api_policy_preview},

    {"GET", "/api/v1/vaults/*/containers", P_READ, 0, 0, vv_api_container_list},
    {"GET", "/api/v1/vaults/*/containers/*", P_READ, 0, 0, vv_api_container_show},
    {"DELETE", "/api/v1/vaults/*/containers/*", P_CONTRIBUTE, 0, 0, vv_api_container_delete},
    {"GET", "/api/v1/vaults/*/protectableItems", P_READ, 0, 0, vv_api_protectable_list},

    /* protect: Operator, but its scriptSettings need Contributor (checked by the
     * handler: 403), as every change of script settings does (PATCH below, policies) */
    {"POST", "/api/v1/vaults/*/protectedItems", P_OPERATE, J | RO, JCAP, vv_api_item_enable},
    {"GET", "/api/v1/vaults/*/protectedItems", P_READ, 0, 0, vv_api_item_list},
    {"GET", "/api/v1/vaults/*/protectedItems/*", P_READ, 0, 0, vv_api_item_show},
    {"PATCH", "/api/v1/vaults/*/protectedItems/*", P_CONTRIBUTE, J | RO, JCAP, vv_api_item_update},
    {"POST", "/api/v1/vaults/*/protectedItems/*/backup", P_OPERATE, J | RO, JCAP, vv_api_item_backup},
    {"POST", "/api/v1/vaults/*/protectedItems/*/disable", P_CONTRIBUTE, J | RO, JCAP,
     vv_api_item_disable},
    {"POST", "/api/v1/vaults/*/protectedItems/*/resume", P_OPERATE, J | RO, JCAP, vv_api_item_resume},
    {"POST", "/api/v1/vaults/*/protectedItems/*/undelete", P_OPERATE, J | RO, JCAP, vv_api_item_undelete},
    {"GET", "/api/v1/vaults/*/protectedItems/*/recoveryPoints", P_READ, 0, 0, vv_api_point_list},
    {"GET", "/api/v1/vaults/*/protectedItems/*/recoveryPoints/*", P_READ, 0, 0,
     vv_api_point_show},
    {"POST", "/api/v1/vaults/*/protectedItems/*/recoveryPoints/*/restore", P_OPERATE, J, JCAP,
     vv_api_point_restore},

    {"GET", "/api/v1/vaults/*/jobs", P_READ, 0, 0, vv_api_job_list},
    {"GET", "/api/v1/vaults/*/jobs/*", P_READ, 0, 0, vv_api_job_show},
    {"POST", "/api/v1/vaults/*/jobs/*/cancel", P_OPERATE, J, JCAP, vv_api_job_cancel},

    {"POST", "/api/v1/users", P_OWNER, J, JCAP, vv_api_user_create},
    {"GET", "/api/v1/users", P_OWNER, 0, 0, vv_api_user_list},
    {"DELETE", "/api/v1/users/*", P_OWNER, 0, 0, vv_api_user_delete},
    {"POST", "/api/v1/users/*/tokens", P_OWNER, J, JCAP, vv_api_token_create},
    {"GET", "/api/v1/tokens", P_OWNER, 0, 0, vv_api_token_list},
    {"DELETE", "/api/v1/tokens/*", P_OWNER, 0, 0, vv_api_token_revoke},
    {"GET", "/api/v1/audit", P_OWNER, 0, 0, vv_api_audit_list},

    {"POST", "/api/v1/agent/register", P_PUBLIC, J, 4 * KiB, vv_api_agent_register},
    {"PUT", "/api/v1/agent/inventory", P_AGENT, J, 16 * MiB, vv_api_agent_inventory},
    {"GET", "/api/v1/agent/jobs/next", P_AGENT, F_SELF_LOCK, 0, vv_api_agent_job_next},
    {"POST", "/api/v1/agent/jobs/*/progress", P_AGENT, J, JCAP, vv_api_agent_job_progress},
    {"POST", "/api/v1/agent/jobs/*/complete", P_AGENT, J, JCAP, vv_api_agent_job_complete},
    {"POST", "/api/v1/agent/chunks/missing", P_AGENT, J | F_SELF_LOCK, 2 * MiB,
     vv_api_chunks_missing},
    {"POST", "/api/v1/agent/chunks/fetch", P_AGENT, J | F_SELF_LOCK, 64 * KiB,
     vv_api_chunks_fetch},
    {"POST", "/api/v1/agent/chunks", P_AGENT, F_SELF_LOCK, 16 * MiB + 64 * KiB,
     vv_api_chunks_put},
    {"PUT", "/api/v1/agent/chunks/*", P_AGENT, F_SELF_LOCK, 16 * MiB + 64 * KiB,
     vv_api_chunk_put},
    {"PUT", "/api/v1/agent/jobs/*/disks/*/index", P_AGENT, F_SELF_LOCK, 128 * MiB + 64,
     vv_api_index_put},
    {"POST", "/api/v1/agent/jobs/*/recoveryPoint", P_AGENT, J | F_SELF_LOCK, 8 * MiB,
     vv_api_point_commit},
    {"GET", "/api/v1/agent/jobs/*/recoveryPoint", P_AGENT, F_SELF_LOCK, 0, vv_api_point_manifest},
    {"GET", "/api/v1/agent/jobs/*/disks/*/index", P_AGENT, F_SELF_LOCK, 0, vv_api_index_get},
    {"GET", "/api/v1/agent/chunks/*", P_AGENT, F_SELF_LOCK, 0, vv_api_chunk_get},
    {"POST", "/api/v1/vaults/*/containers/*/allowReplacement", P_CONTRIBUTE, J, JCAP,
     vv_api_container_allow_replacement},
    {"POST", "/api/v1/vaults/*/protectedItems/*/recoveryPoints/*/undelete", P_OPERATE, J | RO, JCAP,
     vv_api_point_undelete},
    {"POST", "/api/v1/vaults/*/key/export", P_OWNER, J | F_SELF_LOCK, 4 * KiB,
     vv_api_vault_key_export},
    {"POST", "/api/v1/vaults/*/verify", P_OPERATE, J, JCAP, vv_api_vault_verify},

    {"POST", "/api/v1/pairing/invitations", P_OWNER, J, JCAP, vv_api_pairing_invite},
    {"POST", "/api/v1/pairing", P_OWNER, J | F_SELF_LOCK, JCAP, vv_api_pairing_create},
    {"GET", "/api/v1/pairing", P_READ, 0, 0, vv_api_pairing_show},
    {"PATCH", "/api/v1/pairing", P_OWNER, J, JCAP, vv_api_pairing_update},
    {"DELETE", "/api/v1/pairing", P_OWNER, F_SELF_LOCK, 0, vv_api_pairing_delete},

    {"POST", "/api/v1/replication/pair", P_PUBLIC, J, 4 * KiB, vv_api_replica_pair},
    {"DELETE", "/api/v1/replication/pair", P_REPLICA, 0, 0, vv_api_replica_unpair},
    {"PUT", "/api/v1/replication/vaults/*", P_REPLICA, J, 64 * KiB, vv_api_replica_vault_put},
    {"GET", "/api/v1/replication/vaults/*", P_REPLICA, 0, 0, vv_api_replica_vault_get},
    {"POST", "/api/v1/replication/vaults/*/chunks/missing", P_REPLICA, J | F_SELF_LOCK, 2 * MiB,
     vv_api_replica_chunks_missing},
    {"POST", "/api/v1/replication/vaults/*/chunks", P_REPLICA, F_SELF_LOCK, 16 * MiB + 64 * KiB,
     vv_api_replica_chunks_put},
    {"PUT", "/api/v1/replication/vaults/*/points/*/disks/*/index", P_REPLICA, F_SELF_LOCK,
     128 * MiB + 64, vv_api_replica_index_put},
    {"PUT", "/api/v1/replication/vaults/*/points/*", P_REPLICA, J | F_SELF_LOCK, 8 * MiB,
     vv_api_replica_point_put},
    {"PATCH", "/api/v1/replication/vaults/*/points/*", P_REPLICA, J, JCAP,
     vv_api_replica_point_patch},
    {"DELETE", "/api/v1/replication/vaults/*/points/*", P_REPLICA, 0, 0,
     vv_api_replica_point_delete},
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* Match path against pattern; store up to 4 "*" segments in c (when not NULL). */
static int match(const char *pattern, const char *path, struct vv_call *c)
{
    int np = 0;

    while (*pattern && *path) {
        if (*pattern == '*') {
            const char *end = strchr(path, '/');
            size_t n = end ? (size_t)(end - path) : strlen(path);
            if (n == 0 || np >= 4)
                return 0;
            if (c) {
                if (n >= sizeof(c->param_buf[np]))
                    n = sizeof(c->param_buf[np]) - 1; /* too long to be a valid name */
                memcpy(c->param_buf[np], path, n);
                c->param_buf[np][n] = 0;
                c->param[np] = c->param_buf[np];
            }
            np++;
            pattern++;
            path += n;
            continue;
        }
        if (*pattern != *path)
            return 0;
        pattern++;
        path++;
    }
    /* A trailing slash is tolerated. */
    if (*path == '/' && !path[1])
        path++;
    return !*pattern && !*path;
}

/* The route for method+path; *path_known tells whether the path matched another
 * method (405 rather than 404). */
static const struct route *find(const char *method, const char *path, int *path_known,
                                struct vv_call *c)
{
    int literal = 0;

    /* A path spelled out by a route (".../chunks/missing") belongs to that route's
     * methods only, never to a pattern that would read it as a parameter. */
    for (size_t i = 0; i < NROUTES; i++)
        if (!strchr(routes[i].pattern, '*') && match(routes[i].pattern, path, NULL))
            literal = 1;
    *path_known = 0;
    for (size_t i = 0; i < NROUTES; i++) {
        if (!match(routes[i].pattern, path, NULL))
            continue;
        if (literal && strchr(routes[i].pattern, '*'))
            continue;
        *path_known = 1;
        if (!strcmp(routes[i].method, method)) {
            if (c)
                match(routes[i].pattern, path, c);
            return &routes[i];
        }
    }
    return NULL;
}

static int allowed(const struct route *r, const struct vv_ident *who)
{
    switch (r->perm) {
    case P_PUBLIC:
    case P_ANY:
        return 1;
    case P_AGENT:
        return who->agent;
    case P_REPLICA:
        return who->replication;
    case P_READ:
        return !who->agent && !who->replication && who->role >= VV_ROLE_READER;
    case P_OPERATE:
        return !who->agent && !who->replication && who->role >= VV_ROLE_OPERATOR;
    case P_CONTRIBUTE:
        return !who->agent && !who->replication && who->role >= VV_ROLE_CONTRIBUTOR;
    case P_OWNER:
        return !who->agent && !who->replication && who->role >= VV_ROLE_OWNER;
    }
    return 0;
}

static const char *perm_text(enum perm p)
{
    switch (p) {
    case P_READ:
        return "a user token (Reader or higher)";
    case P_OPERATE:
        return "the Operator, Contributor or Owner role";
    case P_CONTRIBUTE:
        return "the Contributor or Owner role";
    case P_OWNER:
        return "the Owner role";
    case P_AGENT:
        return "a host agent's token";
    case P_REPLICA:
        return "the paired primary's replication token";
    default:
        return "a token";
    }
}

/* Per-thread: who made the request being logged, for a request without a head's
 * decision (req->state), whose caller is known only to the thread that answered. */
static __thread char log_actor[96];

/* What vv_router_head decided for a request it let through, carried to the handler
 * in req->state (owned by the HTTP adapter, which frees it): the route, and who
 * calls (all zero on a public route). */
struct head_decision {
    const struct route *r;
    struct vv_ident who;
};

/* 405 with the methods the path allows (known: some route has this path), else 404. */
static void reply_no_route(struct vv_call *c, const struct vv_http_req *req, int known)
{
    struct vv_http_resp *resp = c->resp;
    size_t n = 0;
    int lit = 0;

    if (!known) {
        vv_reply_error(c, 404, "RouteNotFound", "no API endpoint %s %s (see docs/api.md)",
                       req->method, req->path);
        return;
    }
    for (size_t i = 0; i < NROUTES; i++)
        if (!strchr(routes[i].pattern, '*') && match(routes[i].pattern, req->path, NULL))
            lit = 1;
    for (size_t i = 0; i < NROUTES; i++)
        if (match(routes[i].pattern, req->path, NULL) &&
            !(lit && strchr(routes[i].pattern, '*')) &&
            n + strlen(routes[i].method) + 3 < sizeof(resp->allow))
            n += (size_t)snprintf(resp->allow + n, sizeof(resp->allow) - n, "%s%s",
                                  n ? ", " : "", routes[i].method);
    vv_reply_error(c, 405, "MethodNotAllowed", "%s is not allowed on %s (allowed: %s)",
                   req->method, req->path, resp->allow);
}

/* The JSON object body into c->body (an empty body is {}). 0, or -1 after replying. */
static int json_body(struct vv_call *c, const struct vv_http_req *req)
{
    const char *ct = vv_http_header(req, "Content-Type");
    char err[200];

    if (!req->body_len) {
        c->body = json_object();
        return 0;
    }
    if (ct && strncasecmp(ct, "application/json", 16) != 0) {
        vv_reply_error(c, 415, "UnsupportedMediaType",
                       "send the body as JSON with 'Content-Type: application/json', "
                       "not '%s'",
                       ct);
        return -1;
    }
    c->body = vv_json_parse(req->body, req->body_len, err, sizeof(err));
    if (!c->body) {
        vv_reply_error(c, 400, "InvalidJson", "the body is not valid JSON: %s", err);
        return -1;
    }
    if (!json_is_object(c->body)) {
        json_decref(c->body);
        c->body = NULL;
        vv_reply_error(c, 400, "InvalidJson", "the body must be a JSON object");
        return -1;
    }
    return 0;
}

/* Who calls (as, or the request's token) and whether route r allows them: decided
 * from the headers alone, before any of the body is read or parsed. Takes the catalog
 * lock only to look the token up. 0, or -1 after replying 401, 403 or 500. */
static int authorize(struct vv_call *c, const struct route *r, const struct vv_ident *as)
{
    const struct vv_http_req *req = c->req;
    int rc = 0;

    if (as) {
        c->who = *as;
    } else {
        vv_db_lock(c->srv->db);
        rc = vv_authenticate(c->srv, vv_http_header(req, "Authorization"), c->now, &c->who);
        vv_db_unlock(c->srv->db);
    }
    if (rc) {
        if (rc == VV_E_NOTFOUND)
            vv_reply_error(c, 401, "Unauthenticated",
                           "a valid token is required: send 'Authorization: Bearer TOKEN' "
                           "(the token may be unknown, revoked or expired)");
        else
            vv_reply_internal(c, rc);
        return -1;
    }
    snprintf(log_actor, sizeof(log_actor), "%s", c->who.user);
    if (!allowed(r, &c->who)) {
        vv_reply_error(c, 403, "AuthorizationFailed", "%s %s needs %s; '%s' %s", req->method,
                       req->path, perm_text(r->perm), c->who.user,
                       c->who.agent         ? "is a host agent"
                       : c->who.replication ? "is the paired primary's replication token"
                                    : (c->who.role == VV_ROLE_READER        ? "is a Reader"
                                       : c->who.role == VV_ROLE_OPERATOR    ? "is an Operator"
                                       : c->who.role == VV_ROLE_CONTRIBUTOR ? "is a Contributor"
                                                                            : "is an Owner"));
        return -1;
    }
    return 0;
}

/* A route that changes the vault in param[0], on a replica vault: 1 after replying
 * 409 ReplicaVaultReadOnly, else 0. */
static int replica_refuses(struct vv_call *c)
{
    char primary[80] = "";
    int r;

    vv_db_lock(c->srv->db);
    r = vv_db_text(c->srv->db, primary, sizeof(primary),
                   "SELECT replica_of FROM vaults WHERE name = ? AND replica_of IS NOT NULL", "s",
                   c->param[0]);
    vv_db_unlock(c->srv->db);
    if (r != 1)
        return 0;
    vv_reply_error(c, 409, "ReplicaVaultReadOnly",
                   "vault '%s' is a replica of the vault in region %s: it changes only by "
                   "replication; restore from it here, or make the change on the primary",
                   c->param[0], primary);
    return 1;
}

static void call_init(struct vv_call *c, struct vv_server *s, const struct vv_http_req *req,
                      struct vv_http_resp *resp)
{
    memset(c, 0, sizeof(*c));
    c->srv = s;
    c->req = req;
    c->resp = resp;
    c->now = vv_server_now(s);
}

/* The caller is allowed route r: parse the body (when r takes JSON), then run the
 * handler, under the catalog lock unless it locks for itself. */
static void run_route(struct vv_call *c, const struct route *r)
{
    struct vv_server *s = c->srv;

    if ((r->flags & F_JSON) && json_body(c, c->req) != 0)
        return;
    if ((r->flags & F_RO_REPLICA) && replica_refuses(c)) {
        json_decref(c->body);
        c->body = NULL;
        return;
    }
    c->route_method = r->method;
    c->route_pattern = r->pattern;
    if (r->flags & F_SELF_LOCK) {
        c->self_lock = 1;
        r->fn(c);
    } else {
        vv_db_lock(s->db);
        r->fn(c);
        vv_db_rollback(s->db); /* a handler that returned inside a transaction */
        vv_db_unlock(s->db);
    }
    json_decref(c->body);
    c->body = NULL;
}

int vv_router_head(void *ctx, const struct vv_http_req *req, struct vv_http_head *head,
                   struct vv_http_resp *resp)
{
    struct vv_call c;
    struct head_decision *d;
    const struct route *r;
    int known;

    snprintf(log_actor, sizeof(log_actor), "-");
    if (vv_static_serve(req, resp))
        return 1;
    call_init(&c, ctx, req, resp);
    r = find(req->method, req->path, &known, NULL);
    if (!r) {
        reply_no_route(&c, req, known);
        return 1;
    }
    if (r->perm != P_PUBLIC && authorize(&c, r, NULL) != 0)
        return 1;
    if (!(d = calloc(1, sizeof(*d)))) {
        vv_reply_internal(&c, VV_E_NOMEM);
        return 1;
    }
    d->r = r;
    d->who = c.who;
    head->cap = r->cap ? r->cap : 64 * KiB;
    head->state = d;
    return 0;
}

void vv_router_handle(void *ctx, const struct vv_http_req *req, struct vv_http_resp *resp)
{
    const struct head_decision *d = req->state;
    struct vv_call c;

    if (!d) { /* no head saw it: the whole way here */
        snprintf(log_actor, sizeof(log_actor), "-");
        if (vv_static_serve(req, resp))
            return;
        vv_router_handle_as(ctx, req, resp, NULL);
        return;
    }
    call_init(&c, ctx, req, resp);
    match(d->r->pattern, req->path, &c);
    /* Authenticated by the head. A body may have taken minutes to arrive, and a token
     * revoked or a role lowered meanwhile must not act: with a body, checked again. */
    if (req->body_len && d->r->perm != P_PUBLIC) {
        if (authorize(&c, d->r, NULL) != 0)
            return;
    } else {
        c.who = d->who;
    }
    run_route(&c, d->r);
}

void vv_router_handle_as(void *ctx, const struct vv_http_req *req, struct vv_http_resp *resp,
                         const struct vv_ident *as)
{
    struct vv_call c;
    const struct route *r;
    int known;

    call_init(&c, ctx, req, resp);
    snprintf(log_actor, sizeof(log_actor), "-");
    r = find(req->method, req->path, &known, &c);
    if (!r) {
        reply_no_route(&c, req, known);
        return;
    }
    if (r->perm != P_PUBLIC && authorize(&c, r, as) != 0)
        return;
    run_route(&c, r);
}

void vv_router_log(void *ctx, const struct vv_http_req *req, int status, double ms)
{
    const struct head_decision *d = req->state;
    (void)ctx;
    if (d) /* the head's caller: the thread that answers may not be the one that asked */
        snprintf(log_actor, sizeof(log_actor), "%s", d->who.user[0] ? d->who.user : "-");
    if (status == 204) /* an agent's long poll that found nothing: every few seconds */
        vv_debug("request method=%s path=%s status=%d actor=%s ms=%.1f", req->method, req->path,
                 status, log_actor, ms);
    else if (status >= 500)
        vv_warn("request method=%s path=%s status=%d actor=%s ms=%.1f", req->method, req->path,
                status, log_actor, ms);
    else
        vv_info("request method=%s path=%s status=%d actor=%s ms=%.1f", req->method, req->path,
                status, log_actor, ms);
    snprintf(log_actor, sizeof(log_actor), "-");
}
