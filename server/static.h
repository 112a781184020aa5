/*
 * static.h: the web dashboard's files, embedded in vmvaultd and served at "/".
 *
 * The files of server/web/ are compiled into the binary by scripts/embed-web (the
 * Makefile regenerates $(BUILD)/server/web_assets.c whenever one of them changes),
 * so the server never reads them from disk and the page fetches nothing from
 * anywhere but this server: every answer carries a Content-Security-Policy that
 * allows only the server's own origin.
 *
 * Invariant: an asset's ETag is the SHA-256 of its bytes, fixed at build time; an
 * answer is either the whole file (200) or 304 for a matching If-None-Match.
 */
#ifndef VV_STATIC_H
#define VV_STATIC_H

#include "err.h"

#include <stddef.h>

#include "http.h"

/* One embedded file (generated table; all of it static, never freed). */
struct vv_web_asset {
    const char *path;         /* URL path, "/app.js"; "/" is index.html */
    const char *content_type; /* "text/javascript; charset=utf-8" */
    const unsigned char *data;
    size_t len;
    const char *etag; /* "\"<sha256 hex, 32 chars>\"" */
};

/* The generated table, vv_web_asset_count entries. */
extern const struct vv_web_asset vv_web_assets[];
extern const size_t vv_web_asset_count;

/* The asset at path (exact match; "/index.html" is "/"), or NULL. */
const struct vv_web_asset *vv_static_find(const char *path);

/* Serve req when it asks for a dashboard file: returns 1 with resp filled (200, 304,
 * 404 for an unknown path outside /api/, 405 for a method other than GET or HEAD),
 * or 0 when the path is the API's (it starts with "/api/" or is "/api") and resp is
 * untouched. resp->body, when set, is malloc'd (the HTTP adapter frees it). */
int vv_static_serve(const struct vv_http_req *req, struct vv_http_resp *resp) VV_MUST_CHECK;

#endif
