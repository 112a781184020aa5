/*
 * client.h: what every `vmvault` command that talks to a vault server shares.
 *
 *  - The command line of a verb: one table of every API option (enum vv_opt), each
 *    verb listing the options it accepts and which are required (struct vv_verb).
 *    vv_args_parse checks and normalises every value before anything else happens,
 *    so a bad command line is exit 2 and sends no request.
 *  - Where the server is: VMVAULT_URL and VMVAULT_TOKEN override the config file
 *    that `vmvault login` writes ($XDG_CONFIG_HOME/vmvault/config.json, else
 *    ~/.config/vmvault/config.json; {"url": ..., "token": ...}, mode 0600).
 *  - One request helper: it answers parsed JSON, or prints the server's error as
 *    "vmvault: CODE: message" (or why the server could not be reached) and returns
 *    exit status 1. Callers print nothing more about the failure.
 *  - Output: --output json (default; lists as a JSON array of their "value"
 *    elements) or --output table (aligned columns, a column set per resource).
 *  - Verbs of one request run through vv_request_show() and its shorthands (open,
 *    confirm, send, print, close); a verb that is a GET, or a POST without a body,
 *    with nothing else to it is a table entry (struct vv_simple_verb).
 *
 * Every function returning int returns a process exit status (VV_EXIT_*) unless
 * said otherwise.
 */
#ifndef VV_CLI_CLIENT_H
#define VV_CLI_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "json.h"

struct vv_column;

/* Every option of the API verbs. getopt_long reports these values. */
enum vv_opt {
    O_NAME = 256, O_VAULT_NAME, O_LOCATION, O_REDUNDANCY, O_SD_STATE, O_SD_DURATION,
    O_YES, O_FILE, O_EXPIRES_HOURS, O_FORCE, O_POLICY, O_POLICY_NAME, O_CONTAINER,
    O_VM, O_ITEM_NAME, O_DELETE_DATA, O_RETAIN_UNTIL, O_STATUS, O_OPERATION,
    O_START_DATE, O_END_DATE, O_LIMIT, O_TIMEOUT, O_INTERVAL, O_RP_NAME, O_ROLE,
    O_USER, O_EXPIRES_DAYS, O_ID, O_URL, O_TOKEN, O_OUTPUT, O_HELP,
    O_TARGET_DIR, O_FORMAT, O_RESTORE_MODE, O_TARGET_VM_NAME, O_DISKS, O_DISK_SETTING,
    O_RETAIN_PER_POLICY, O_FROM, O_COUNT, O_SCRIPT_SETTINGS, O_CERT_PIN,
    O_END
};
#define VV_NOPTS (O_END - O_NAME)

/* Flags of an option in a verb. */
#define VV_REQ 1u  /* required */
#define VV_TEXT 2u /* any non-empty text instead of a resource name (ids, VM names) */

struct vv_optspec {
    int opt; /* enum vv_opt; 0 ends the list */
    unsigned flags;
};

/* One verb: its name for messages ("vault create"), its help, its options. */
struct vv_verb {
    const char *cmd;
    const char *usage;
    struct vv_optspec opts[16];
};

/* Parsed options. Values are borrowed from argv or from static storage, or point
 * into this struct (normalised dates): valid while argv and the struct live. */
struct vv_args {
    const char *val[VV_NOPTS]; /* NULL when not given; "1" for flags */
    uint64_t num[VV_NOPTS];    /* the value of numeric options */
    char norm[VV_NOPTS][24];   /* normalised dates and times */
    int json;                  /* 1: --output json (the default), 0: table */
};

/* Parse argv (argv[0] is the verb) against v. Returns -1 to go on, or an exit
 * status: 0 after --help, VV_EXIT_USAGE after printing a precise usage error. */
int vv_args_parse(const struct vv_verb *v, int argc, char **argv, struct vv_args *a);
/* The value of opt, or NULL when it was not given. */
const char *vv_arg(const struct vv_args *a, int opt);
/* The numeric value of opt (0 when not given). */
uint64_t vv_arg_num(const struct vv_args *a, int opt);
/* Fold alias into opt, two spellings of one required option (--item-name for
 * --name): after the call vv_arg(a, opt) is the value given with either. Returns -1
 * to go on, or VV_EXIT_USAGE after a usage error naming v: neither was given, or
 * both with different values ("--name and --rp-name name different WHAT"). */
int vv_args_alias(const struct vv_verb *v, struct vv_args *a, int opt, int alias,
                  const char *what);

/* A group of verbs ("vault", "vault backup-properties"): --help prints usage; an
 * unknown verb is a usage error naming the group. argv[0] is the group's name. */
int vv_cli_group(const char *group, const char *usage, const struct vv_command *verbs,
                 int argc, char **argv);

/* Parse a "vda,vdb" list of disk names into a new JSON array (*out, caller
 * json_decref()s). Returns -1 to go on, or VV_EXIT_USAGE after a usage error of
 * verb naming option and the bad name. */
int vv_disk_list(const char *verb, const char *option, const char *list, json_t **out);
/* The JSON object in file ("-": standard input, at most 1 MiB); what names it in
 * messages ("a policy"). NULL after printing why. Caller json_decref()s. */
json_t *vv_load_json_object(const char *file, const char *what);

/* Checks shared with the verbs. */
int vv_date_parse(const char *s, char out[11]);  /* YYYY-MM-DD or DD-MM-YYYY -> YYYY-MM-DD; 0 or -1 */

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
};

/* Find the server URL and token and prepare a connection. On failure prints why
 * (nothing configured: run 'vmvault login' or set VMVAULT_URL/VMVAULT_TOKEN) and
 * returns VV_EXIT_FAIL. Pair with vv_client_close() in either case. */
int vv_client_open(struct vv_client *c, const struct vv_args *a);
/* Connect to url with token, ignoring the environment and config (for login). */
int vv_client_open_with(struct vv_client *c, const char *url, const char *token, int json,
                        const char *pin);
void vv_client_close(struct vv_client *c);

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
                   const json_t *body, json_t **out);

/* How a verb prints its 2xx answer ans (borrowed until it returns) in the output
 * format c asks for (c->json); ctx is what the verb handed to vv_request_show(). */
typedef void vv_show_fn(const struct vv_client *c, const json_t *ans, const void *ctx);

/* A question before a request that destroys or stops something. Both strings are
 * borrowed for the call. */
struct vv_ask {
    const char *question; /* asked as "QUESTION [y/N]" (vv_confirm(); --yes answers it) */
    const char *declined; /* on a no: printed as "vmvault: DECLINED", exit VV_EXIT_FAIL */
};

/* The whole of a one-request verb: open a connection from a's settings; when ask is
 * not NULL ask its question; send method path with body (NULL for none; borrowed);
 * hand a 2xx answer to show(c, answer, ctx) (show is required; ctx may be NULL);
 * close. Failures are printed once, by vv_client_open() and vv_client_call(). */
int vv_request_show(const struct vv_args *a, const struct vv_ask *ask, const char *method,
                    const struct vv_path *p, const json_t *body, vv_show_fn *show,
                    const void *ctx);
/* vv_request_show() printing the answer with vv_print() and cols. */
int vv_request_print(const struct vv_args *a, const char *method, const struct vv_path *p,
                     const json_t *body, const struct vv_column *cols);
/* vv_request_show() without a body, for an answer that is no news: JSON prints the
 * answer as is (vv_print_json()), a table prints the sentence said (borrowed) on a
 * line of its own. */
int vv_request_say(const struct vv_args *a, const struct vv_ask *ask, const char *method,
                   const struct vv_path *p, const char *said);

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
int vv_run_simple(const struct vv_simple_verb *s, int argc, char **argv);

/* Output. */
enum vv_col_kind {
    VV_COL_STR,        /* string, number or boolean as is; null as "-" */
    VV_COL_TIME,       /* UTC time shown in local time, "2026-11-27 22:00 CET" */
    VV_COL_BYTES,      /* "10.0 GiB" */
    VV_COL_LIST,       /* array of strings, joined with ", " */
    VV_COL_COUNT,      /* the number of elements of an array */
    VV_COL_DISKS,      /* array of disks: "vda 10.0 GiB, vdb 2.0 GiB" */
    VV_COL_SOFTDELETE, /* {"state", "retentionDays"}: "Enabled, 14 days" */
    VV_COL_SCHEDULE,   /* a policy: "Daily 02:00 UTC" */
    VV_COL_RETENTION,  /* a policy: "30 days, 12 weeks" */
    VV_COL_DURATION,   /* a job: end (or now) minus start, "1m 05s" */
    VV_COL_PROGRESS,   /* a job: "25% (100.0 MiB of 400.0 MiB)" */
    VV_COL_ERROR,      /* {"code", "message"}: the code */
    VV_COL_SNAPSHOT,   /* a backup's snapshot: "FileSystemConsistent, frozen 412 ms" */
};

struct vv_column {
    const char *header; /* NULL ends the list */
    const char *path;   /* dotted field path ("softDelete.state"); "" is the row itself */
    enum vv_col_kind kind;
};

/* Column sets of each resource. */
extern const struct vv_column vv_cols_vault[], vv_cols_backup_props[], vv_cols_policy[],
    vv_cols_container[], vv_cols_protectable[], vv_cols_item[], vv_cols_job[],
    vv_cols_point[], vv_cols_user[], vv_cols_token[], vv_cols_whoami[];

/* Print an answer: a {"value": [...]} list or a single object. json: pretty,
 * 2-space indent, a list as the array of its elements; table: the columns, one row
 * per element (one row for an object). A JSON null prints nothing. */
void vv_print(int json, const json_t *v, const struct vv_column *cols);
/* Print any JSON value pretty (2-space indent). */
void vv_print_json(const json_t *v);

/* One cell's text as the table shows it; out has room for n bytes. */
void vv_format_cell(const json_t *row, const struct vv_column *col, char *out, size_t n);
/* A UTC time string for humans in local time ("2026-11-27 22:00 CET"), or s itself
 * when it does not parse. */
void vv_format_time(const char *s, char *out, size_t n);

/* Ask before a destructive operation. Returns 1 to proceed: with yes, or when stdin
 * is not a terminal; on a terminal asks "question [y/N]" on stderr. */
int vv_confirm(int yes, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Common help text pieces. */
#define VV_HELP_OUTPUT                                                                   \
    "  -o, --output json|table  output format (default: json; lists print as a JSON\n"   \
    "                           array; table prints aligned columns)\n"                  \
    "  -h, --help               show this help\n"
#define VV_HELP_TAIL                                                                     \
    "\n"                                                                                 \
    "The server and token come from VMVAULT_URL and VMVAULT_TOKEN, else from the\n"      \
    "config file written by 'vmvault login'.\n"                                          \
    "\n"                                                                                 \
    "Exit status: 0 on success; 1 when the server refused the request (the error's\n"    \
    "code and message are printed) or could not be reached; 2 on a usage error.\n"

#endif
