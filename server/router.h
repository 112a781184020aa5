/*
 * router.h: the REST API's entry points for the HTTP adapter (see router.c).
 */
#ifndef VV_ROUTER_H
#define VV_ROUTER_H

#include <stddef.h>

#include "http.h"

/* ctx is the struct vv_server. */
size_t vv_router_cap(void *ctx, const char *method, const char *path);
void vv_router_handle(void *ctx, const struct vv_http_req *req, struct vv_http_resp *resp);
/* The same, acting as who without authenticating (as == NULL authenticates): for the
 * API fuzz target, which drives every route as an Owner and as an agent. */
struct vv_ident;
void vv_router_handle_as(void *ctx, const struct vv_http_req *req, struct vv_http_resp *resp,
                         const struct vv_ident *as);
void vv_router_log(void *ctx, const struct vv_http_req *req, int status, double ms);

#endif
