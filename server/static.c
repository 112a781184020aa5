/*
 * static.c: serves the web dashboard's embedded files (see static.h).
 *
 * The page is one index.html with its script and style sheet; the browser keeps
 * them (Cache-Control: no-cache) and revalidates with the ETag, so a new vmvaultd
 * binary is picked up on the next load and an unchanged one costs a 304.
 */
#include "static.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Only this origin, no inline script or style, no frames, no plugins. */
#define CSP                                                                                  \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "       \
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "           \
    "form-action 'none'; frame-ancestors 'none'"

static const char not_found[] = "not found\n";
static const char not_allowed[] = "only GET and HEAD are served here\n";

const struct vv_web_asset *vv_static_find(const char *path)
{
    if (!strcmp(path, "/index.html"))
        path = "/";
    for (size_t i = 0; i < vv_web_asset_count; i++)
        if (!strcmp(vv_web_assets[i].path, path))
            return &vv_web_assets[i];
    return NULL;
}

/* 1 when the If-None-Match header lists etag (or is "*"). */
static int etag_matches(const char *inm, const char *etag)
{
    size_t n = strlen(etag);
    if (!inm)
        return 0;
    if (!strcmp(inm, "*"))
        return 1;
    for (const char *p = inm; (p = strstr(p, etag)) != NULL; p += n)
        if ((p == inm || p[-1] == ' ' || p[-1] == ',' || p[-1] == '/') &&
            (p[n] == 0 || p[n] == ',' || p[n] == ' '))
            return 1;
    return 0;
}

static void set_text(struct vv_http_resp *resp, int status, const char *text, size_t len)
{
    resp->status = status;
    resp->content_type = "text/plain; charset=utf-8";
    resp->body = malloc(len ? len : 1);
    if (!resp->body) {
        resp->status = 0; /* the adapter answers 500 */
        return;
    }
    memcpy(resp->body, text, len);
    resp->body_len = len;
}

int vv_static_serve(const struct vv_http_req *req, struct vv_http_resp *resp)
{
    const struct vv_web_asset *a;
    int head = !strcmp(req->method, "HEAD");
    size_t h = 0;

    if (!strncmp(req->path, "/api/", 5) || !strcmp(req->path, "/api"))
        return 0;

    resp->headers[h][0] = "Content-Security-Policy";
    resp->headers[h++][1] = CSP;
    resp->headers[h][0] = "X-Content-Type-Options";
    resp->headers[h++][1] = "nosniff";
    resp->headers[h][0] = "Referrer-Policy";
    resp->headers[h++][1] = "no-referrer";

    if (strcmp(req->method, "GET") && !head) {
        snprintf(resp->allow, sizeof(resp->allow), "GET, HEAD");
        set_text(resp, 405, not_allowed, sizeof(not_allowed) - 1);
        return 1;
    }
    a = vv_static_find(req->path);
    if (!a) {
        set_text(resp, 404, not_found, sizeof(not_found) - 1);
        return 1;
    }
    resp->headers[h][0] = "Cache-Control";
    resp->headers[h++][1] = "no-cache";
    resp->headers[h][0] = "ETag";
    resp->headers[h++][1] = a->etag;
    resp->content_type = a->content_type;
    if (etag_matches(vv_http_header(req, "If-None-Match"), a->etag)) {
        resp->status = 304;
        return 1;
    }
    /* For HEAD too: libmicrohttpd sends the length and leaves the body out. */
    resp->status = 200;
    resp->body = malloc(a->len ? a->len : 1);
    if (!resp->body) {
        resp->status = 0;
        return 1;
    }
    memcpy(resp->body, a->data, a->len);
    resp->body_len = a->len;
    return 1;
}
