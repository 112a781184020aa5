/*
 * auth.h: tokens and who they belong to.
 *
 * A token is "<prefix>_<8 hex id>_<64 hex secret>" (vvt_ for users, vva_ for host
 * agents, vvr_ for registration secrets, which have no id part). The catalog keeps
 * only the SHA-256 of the whole token, so a copy of the catalog grants nothing.
 */
#ifndef VV_AUTH_H
#define VV_AUTH_H

#include "err.h"

#include <stdint.h>
#include <time.h>

#include "server.h"

#define VV_TOKEN_MAX 96

/* Roles, weakest first: a route names the least it needs. */
enum vv_role { VV_ROLE_NONE = 0, VV_ROLE_READER, VV_ROLE_OPERATOR, VV_ROLE_CONTRIBUTOR,
               VV_ROLE_OWNER };

/* Who is calling. */
struct vv_ident {
    int agent;              /* 1: a host agent's token */
    int replication;        /* 1: the paired primary's replication token (peer_id) */
    int64_t peer_id;        /* replication: its peers row */
    int64_t user_id;        /* users */
    char user[96];          /* user name, or "agent:<host>" */
    enum vv_role role;
    char token_id[32];
    int64_t container_id;   /* agents */
    int64_t vault_id;       /* agents: the vault they registered with */
    char container[80];
    char vault[80];
    char vault_uuid[VV_UUID_LEN];
};

/* A new token with prefix ("vvt", "vva"): the text (shown once), its id ("t-<8hex>")
 * and its hash (64 hex). */
int vv_token_new(const char *prefix, char token[VV_TOKEN_MAX], char id[32], char hash[65])
    VV_MUST_CHECK;
/* A registration secret "vvr_<64hex>" and its hash. */
int vv_secret_new(char secret[VV_TOKEN_MAX], char hash[65]) VV_MUST_CHECK;
void vv_token_hash(const char *token, char hash[65]);

/* Fill who from an "Authorization: Bearer ..." header value. Catalog locked.
 * Returns 0, or VV_E_NOTFOUND (missing, unknown, revoked or expired token). */
int vv_authenticate(struct vv_server *s, const char *authorization, time_t now,
                    struct vv_ident *who) VV_MUST_CHECK;

const char *vv_role_name(enum vv_role r);
int vv_role_parse(const char *s, enum vv_role *out) VV_MUST_CHECK;

/* Create the first Owner and its token file when the catalog has no user. */
int vv_bootstrap_owner(struct vv_server *s, time_t now) VV_MUST_CHECK;

#endif
