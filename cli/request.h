/*
 * request.h: talking to a vault server over its REST API.
 *
 *  - Where the server is: VMVAULT_URL and VMVAULT_TOKEN override the config file
 *    that `vmvault login` writes ($XDG_CONFIG_HOME/vmvault/config.json, else
 *    ~/.config/vmvault/config.json; {"url": ..., "token": ...}, mode 0600).
 *    With --use-secondary-region a command goes to the secondary region's session
 *    instead: VMVAULT_SECONDARY_URL, VMVAULT_SECONDARY_TOKEN and
 *    VMVAULT_SECONDARY_CERTIFICATE_PIN, else the config file's member "secondary"
 *    ({"url", "token", "certificatePin"}, written by `vmvault login
 *    --secondary-region`). The two sessions never mix.
 *  - One request helper: it answers parsed JSON, or prints the server's error as
 *    "vmvault: CODE: message" (or why the server could not be reached) and returns
 *    exit status 1. Callers print nothing more about the failure.
 *  - Verbs of one request run through vv_request_show() and its shorthands (open,
 *    confirm, send, print, close); a verb that is a GET, or a POST without a body,
 *    with nothing else to it is a table entry (struct vv_simple_verb).
 *
 * Every function returning int returns a process exit status (VV_EXIT_*) unless
 * said otherwise.
 */
#ifndef VV_CLI_REQUEST_H
#define VV_CLI_REQUEST_H

#include "err.h"

#include <stddef.h>

#include "args.h"
#include "json.h"

struct vv_column;

/* A connection to the vault server. */
struct vv_client {
    char *url;          /* base URL without a trailing '/' (owned) */
    char *token;        /* bearer token (owned) */
    const char *url_from;   /* where url came from: "VMVAULT_URL", "--url" or config_path */
    const char *token_from; /* where token came from, likewise */
    char *config_path;      /* owned */
    char *pin;              /* the server certificate's "sha256//..." pin, or NULL:
                             * the system CA store (owned) */
    struct vv_http *http;   /* owned */
    int json;               /* output format */
    int retries;            /* extra attempts of a GET that got no answer, 2 s apart */
    int secondary;          /* 1: the secondary region's session (--use-secondary-region) */
};

/* Find the server URL and token and prepare a connection. On failure prints why
 * (nothing configured: run 'vmvault login' or set VMVAULT_URL/VMVAULT_TOKEN) and
 * returns VV_EXIT_FAIL. Pair with vv_client_close() in either case. */
int vv_client_open(struct vv_client *c, const struct vv_args *a) VV_MUST_CHECK;
/* Connect to url with token, ignoring the environment and config (for login). */
int vv_client_open_with(struct vv_client *c, const char *url, const char *token, int json,
                        const char *pin) VV_MUST_CHECK;
void vv_client_close(struct vv_client *c);

/* The config file at path as a JSON object in *out (caller json_decref()s), or *out
 * NULL when there is no such file. Warns when others may read it. Returns
 * VV_EXIT_OK, or VV_EXIT_FAIL after printing why (unreadable; not a JSON object). */
int vv_config_load(const char *path, json_t **out) VV_MUST_CHECK;

/* The config file path ($XDG_CONFIG_HOME/vmvault/config.json or
 * ~/.config/vmvault/config.json). Caller frees with free(); NULL when neither
 * XDG_CONFIG_HOME nor HOME is set. */
char *vv_config_path(void);

/* A request path under the server's base URL, built from a format whose every %s
 * is escaped as one URL path segment, then optional query parameters. */
struct vv_path {
    char s[4096];
    size_t len;
    int overflow;
    int nquery;
};
void vv_path_init(struct vv_path *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append "?key=value" or "&key=value" (value escaped); no-op when value is NULL. */
void vv_path_query(struct vv_path *p, const char *key, const char *value);

/* Send method path with body (NULL for none). On a 2xx answer returns VV_EXIT_OK and
 * *out holds the parsed answer (JSON null for an empty body); caller frees with
 * json_decref(). Otherwise prints the server's error or why it could not be reached,
 * leaves *out NULL and returns VV_EXIT_FAIL. A GET that gets no answer at all is
 * tried again c->retries times, 2 s apart. */
int vv_client_call(struct vv_client *c, const char *method, const struct vv_path *path,
                   const json_t *body, json_t **out) VV_MUST_CHECK;

/* How a verb prints its 2xx answer ans (borrowed until it returns) in the output
 * format c asks for (c->json); ctx is what the verb handed to vv_request_show(). */
typedef void vv_show_fn(const struct vv_client *c, const json_t *ans, const void *ctx);

/* A question before a request that destroys or stops something. Both strings are
 * borrowed for the call. */
struct vv_ask {
    const char *question; /* asked as "QUESTION [y/N]" (vv_confirm(); --yes answers it) */
    const char *declined; /* on a no: printed as "vmvault: DECLINED", exit VV_EXIT_FAIL */
};

/* Ask before a destructive operation. Returns 1 to proceed: with yes, or when stdin
 * is not a terminal; on a terminal asks "question [y/N]" on stderr. */
int vv_confirm(int yes, const char *fmt, ...)
    __attribute__((warn_unused_result, format(printf, 2, 3)));

/* The whole of a one-request verb: open a connection from a's settings; when ask is
 * not NULL ask its question; send method path with body (NULL for none; borrowed);
 * hand a 2xx answer to show(c, answer, ctx) (show is required; ctx may be NULL);
 * close. Failures are printed once, by vv_client_open() and vv_client_call(). */
int vv_request_show(const struct vv_args *a, const struct vv_ask *ask, const char *method,
                    const struct vv_path *p, const json_t *body, vv_show_fn *show,
                    const void *ctx) VV_MUST_CHECK;
/* A show function for an answer that is a job (ctx: the vault's name): the job, and
 * in a table how to follow it. */
void vv_show_job(const struct vv_client *c, const json_t *ans, const void *vault);
/* vv_request_show() printing the answer with vv_print() and cols. */
int vv_request_print(const struct vv_args *a, const char *method, const struct vv_path *p,
                     const json_t *body, const struct vv_column *cols) VV_MUST_CHECK;
/* vv_request_show() without a body, for an answer that is no news: JSON prints the
 * answer as is (vv_print_json(); nothing for an empty answer, a 204), a table prints
 * the sentence said (borrowed) on a line of its own. */
int vv_request_say(const struct vv_args *a, const struct vv_ask *ask, const char *method,
                   const struct vv_path *p, const char *said) VV_MUST_CHECK;

/* A verb that is one request without a body, declared as a table entry: the path
 * is filled in from options, the options given become query parameters, the answer
 * prints with vv_print() and cols. Static data; nothing is owned. */
struct vv_query {
    const char *key; /* the query parameter; NULL ends the list */
    int opt;         /* the option (enum vv_opt) it carries, when given; numbers as
                      * whole numbers without leading zeros */
};
struct vv_alias {
    int opt;          /* the option the verb requires (O_NAME); 0: no alias */
    int alias;        /* another spelling of it (O_ITEM_NAME) */
    const char *what; /* what they name, plural, for "name different WHAT" */
};
struct vv_simple_verb {
    struct vv_verb verb;
    const char *method;           /* "GET", or "POST" for an action without a body */
    const char *path;             /* a vv_path_init() format (only %s and %%), its */
    int segs[4];                  /* %s filled with these options' values, in order:
                                   * required options, or the alias's opt */
    struct vv_query query[8];     /* appended in order */
    struct vv_alias alias;        /* folded with vv_args_alias() before the request */
    const struct vv_column *cols;
};

/* Run the simple verb s: parse argv (argv[0] is the verb) against s->verb, fold the
 * alias, build the path and query, send, print. */
int vv_run_simple(const struct vv_simple_verb *s, int argc, char **argv) VV_MUST_CHECK;

#endif
