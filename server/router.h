/*
 * router.h: the REST API's entry points for the HTTP adapter (see router.c).
 */
#ifndef VV_ROUTER_H
#define VV_ROUTER_H

#include <stddef.h>

#include "http.h"

/* ctx is the struct vv_server. */
/* The head of a request (vv_http_head_fn): the dashboard's files for paths outside
 * /api/ (static.c) and 404/405 for unknown routes are answered here, so are a
 * missing or unknown token (401) and a caller the route does not allow (403), all
 * before a byte of the body is read. A request let through gets its route's body cap
 * and carries the route and its caller to vv_router_handle in head->state. */
int vv_router_head(void *ctx, const struct vv_http_req *req, struct vv_http_head *head,
                   struct vv_http_resp *resp);
/* A complete request (vv_http_handler_fn): with req->state from vv_router_head, the
 * route's handler for the caller the head authenticated (a request with a body has its
 * token and role checked again, since the token may have been revoked while the body
 * arrived); without (a request built in memory), everything vv_router_head does, then
 * the handler. JSON bodies are parsed only once the caller is allowed the route. */
void vv_router_handle(void *ctx, const struct vv_http_req *req, struct vv_http_resp *resp);
/* The same, acting as who without authenticating (as == NULL authenticates): for the
 * API fuzz target, which drives every route as an Owner and as an agent. */
struct vv_ident;
void vv_router_handle_as(void *ctx, const struct vv_http_req *req, struct vv_http_resp *resp,
                         const struct vv_ident *as);
void vv_router_log(void *ctx, const struct vv_http_req *req, int status, double ms);

#endif
