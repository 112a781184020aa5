/*
 * cmd_pairing.c: `vmvault pairing ...`: pair this vault server (the primary) with a
 * vault server in another region (the secondary), which then holds a replica of
 * every GeoRedundant vault; see docs/api.md, "Pairing". The secondary invites
 * (POST /api/v1/pairing/invitations: a single-use code, its URL and certificate
 * pin), the primary pairs with the invitation (POST /api/v1/pairing), both show
 * and revoke the pairing (GET and DELETE /api/v1/pairing), the primary sets the
 * replication rate limit and window (PATCH /api/v1/pairing).
 *
 * The invitation's code is a secret until used: `invite --out` writes it to a new
 * file of mode 0600 and never replaces one; `create --invitation` reads it back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "util.h"

#define INVITE_HOURS_MAX 168
#define RATE_MIN 1024ULL          /* 1 KiB/s: anything slower never catches up */
#define RATE_MAX (1ULL << 40)     /* 1 TiB/s */

const char vv_pairing_usage[] =
    "usage: vmvault pairing <command> [<options>]\n"
    "\n"
    "Pair this vault server with a vault server in another region for geo-redundancy.\n"
    "The primary replicates every GeoRedundant vault to the secondary, which holds a\n"
    "read-only replica vault of each (same name and id, the secondary's region as\n"
    "location) from which VMs are restored when the primary region is lost. The\n"
    "primary pushes; the secondary never calls it. Pairing needs the Owner role on\n"
    "both servers.\n"
    "\n"
    "Steps:\n"
    "  1. on the secondary:  vmvault pairing invite --out invitation.json\n"
    "  2. copy the file to the primary's side (it holds a single-use secret)\n"
    "  3. on the primary:    vmvault pairing create --invitation invitation.json\n"
    "\n"
    "Commands:\n"
    "  invite   on the secondary: create a single-use invitation for a primary\n"
    "  create   on the primary: pair with the secondary that wrote an invitation\n"
    "  show     show the pairings of this server (as primary, as secondary)\n"
    "  update   on the primary: replication rate limit and time window\n"
    "  delete   unpair (on the primary) or revoke the primary (on the secondary)\n"
    "\n"
    "Run 'vmvault pairing <command> --help' for a command's options.\n";

static const char invite_usage[] =
    "usage: vmvault pairing invite [--expires-in-hours N] [--out FILE]\n"
    "                              [--output json|table]\n"
    "\n"
    "Run on the server that is to be the secondary. Create an invitation for a primary\n"
    "server: a single-use pairing code (stored hashed on the server, shown only now),\n"
    "this server's URL, region and certificate pin. With --out the invitation is\n"
    "written to FILE, a new file of mode 0600 (an existing file or symbolic link is\n"
    "never replaced), and the code is printed nowhere; without it the invitation is\n"
    "printed. Hand it to the primary's owner over a channel you trust: whoever holds\n"
    "the code can pair a primary with this server until it is used or expires. Needs\n"
    "the Owner role; audited (PairingInvited).\n"
    "\n"
    "Options:\n"
    "  --expires-in-hours N     validity of the code, 1 to 168 hours (default: 24)\n"
    "  --out FILE               write the invitation to FILE (mode 0600) instead of\n"
    "                           printing it\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault pairing invite --out invitation.json --expires-in-hours 4\n"
    "  vmvault pairing invite --use-secondary-region --out invitation.json\n"
    VV_HELP_TAIL;

static const char create_usage[] =
    "usage: vmvault pairing create --invitation FILE [--output json|table]\n"
    "       vmvault pairing create --url URL --code CODE [--certificate-pin PIN]\n"
    "                              [--output json|table]\n"
    "\n"
    "Run on the primary. Pair this server with the secondary that wrote the\n"
    "invitation: this server calls the secondary at the invitation's URL, pinning its\n"
    "certificate's key as agents pin their vault's, and presents the code; the\n"
    "secondary answers with replication credentials. From then on every GeoRedundant\n"
    "vault of this server replicates to the secondary. A server has at most one\n"
    "secondary (AlreadyPaired). The server answers SecondaryUnreachable when it\n"
    "cannot reach the secondary, InvalidPairingCode when the secondary refuses the\n"
    "code (used, expired or mistyped: ask for a new invitation). Needs the Owner\n"
    "role; audited (PairingCreated).\n"
    "\n"
    "Options:\n"
    "  --invitation FILE        the invitation 'vmvault pairing invite --out' wrote:\n"
    "                           a JSON object with url, code and certificatePin\n"
    "                           ('-': standard input)\n"
    "  --url URL                the secondary's URL, instead of an invitation file\n"
    "  --code CODE              the invitation's code ('-': read it from standard\n"
    "                           input, which keeps it out of the process list)\n"
    "  --certificate-pin PIN    the secondary's key, sha256//BASE64; required for an\n"
    "                           https:// URL\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault pairing create --invitation invitation.json --output table\n"
    "  vmvault pairing create --url https://vault.northeurope.example:8443 \\\n"
    "      --certificate-pin sha256//BASE64 --code - < code.txt\n"
    VV_HELP_TAIL;

static const char show_usage[] =
    "usage: vmvault pairing show [--output json|table]\n"
    "\n"
    "Show this server's pairings: the secondary it replicates to (role Secondary: the\n"
    "peer's role) and the primary that replicates to it (role Primary), each with the\n"
    "peer's name and region, when and by whom it was paired, the replication rate\n"
    "limit and window, the connection state (Connected, Unreachable or Refused), the\n"
    "last contact and the last error. An empty list: not paired. Needs the Reader\n"
    "role.\n"
    "\n"
    "Options:\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault pairing show --output table\n"
    VV_HELP_TAIL;

static const char update_usage[] =
    "usage: vmvault pairing update [--max-replication-rate RATE]\n"
    "                              [--replication-window HH:MM-HH:MM|always]\n"
    "                              [--output json|table]\n"
    "\n"
    "Run on the primary. Limit the replication traffic to the secondary, or confine it\n"
    "to a daily time window (UTC); give at least one. Outside the window, points wait\n"
    "(the vaults' replication state says Lagging once points are pending). Settings\n"
    "not given keep their values. Needs the Owner role; audited (PairingUpdated).\n"
    "\n"
    "Options:\n"
    "  --max-replication-rate RATE\n"
    "                           bytes per second, with an optional suffix K, M or G\n"
    "                           (powers of 1024: 50M is 52428800 bytes/s), at least\n"
    "                           1K; 0 or 'none' for no limit\n"
    "  --replication-window HH:MM-HH:MM|always\n"
    "                           replicate only from the first time to the second, UTC\n"
    "                           (22:00-06:00 crosses midnight); 'always' for no window\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault pairing update --max-replication-rate 50M --replication-window 22:00-06:00\n"
    "  vmvault pairing update --max-replication-rate none --replication-window always\n"
    VV_HELP_TAIL;

static const char delete_usage[] =
    "usage: vmvault pairing delete --peer-role Secondary|Primary [--yes]\n"
    "                              [--output json|table]\n"
    "\n"
    "End a pairing. --peer-role is the role of the other server: on the primary,\n"
    "'--peer-role Secondary' unpairs (the secondary is told, best effort, and this\n"
    "server forgets its replication credentials); on the secondary, '--peer-role\n"
    "Primary' revokes the primary's replication credentials. Either way replication\n"
    "stops; the replica vaults stay on the secondary, listed and restorable, and an\n"
    "Owner may delete them there once the pairing is gone. On a terminal the command\n"
    "asks for confirmation unless --yes is given; when standard input is not a\n"
    "terminal it proceeds. Needs the Owner role; audited (PairingDeleted).\n"
    "\n"
    "Options:\n"
    "  --peer-role Secondary|Primary\n"
    "                           the role of the server to unpair from\n"
    "  --yes                    do not ask for confirmation\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault pairing delete --peer-role Secondary --yes\n"
    VV_HELP_TAIL;

static const struct vv_verb v_invite = {
    "pairing invite", invite_usage,
    {{O_EXPIRES_HOURS, VV_TEXT}, {O_OUT, 0}, {O_OUTPUT, 0}, {O_HELP, 0}}};
static const struct vv_verb v_create = {
    "pairing create", create_usage,
    {{O_INVITATION, 0}, {O_URL, 0}, {O_CODE, 0}, {O_CERT_PIN, 0}, {O_OUTPUT, 0},
     {O_HELP, 0}}};
static const struct vv_verb v_show = {"pairing show", show_usage, {{O_OUTPUT, 0}, {O_HELP, 0}}};
static const struct vv_verb v_update = {
    "pairing update", update_usage,
    {{O_MAX_RATE, 0}, {O_REPL_WINDOW, 0}, {O_OUTPUT, 0}, {O_HELP, 0}}};
static const struct vv_verb v_delete = {
    "pairing delete", delete_usage,
    {{O_PEER_ROLE, VV_REQ}, {O_YES, 0}, {O_OUTPUT, 0}, {O_HELP, 0}}};

/* Pairing objects in a table; rows made by table_rows(). */
static const struct vv_column pairing_cols[] = {
    {"Peer role", "role", VV_COL_STR},
    {"Peer", "peerName", VV_COL_STR},
    {"Region", "region", VV_COL_STR},
    {"URL", "url", VV_COL_STR},
    {"State", "state", VV_COL_STR},
    {"Last contact", "lastContact", VV_COL_TIME},
    {"Max rate", "maxReplicationRate", VV_COL_STR},
    {"Window (UTC)", "replicationWindow", VV_COL_STR},
    {"Paired", "created", VV_COL_TIME},
    {"Last error", "lastError", VV_COL_STR},
    {NULL, NULL, VV_COL_STR},
};

/* ------------------------------------------------------------------------------ */
/* Values                                                                          */

/* RATE as bytes per second into *out: 0 or "none" for no limit, else a whole
 * number with an optional K, M or G suffix (powers of 1024), from RATE_MIN to
 * RATE_MAX. Returns -1 when fine, else VV_EXIT_USAGE after saying why. */
static int parse_rate(const char *s, uint64_t *out)
{
    if (!strcasecmp(s, "none") || !strcmp(s, "0")) {
        *out = 0;
        return -1;
    }
    if (vv_parse_size(s, out) < 0)
        return vv_cli_usage_error("pairing update", "--max-replication-rate '%s' is not a "
                                  "rate: give bytes per second, like 50M, 1G or 123456 (K, "
                                  "M, G are powers of 1024), or 0 or 'none' for no limit", s);
    if (*out < RATE_MIN || *out > RATE_MAX)
        return vv_cli_usage_error("pairing update", "--max-replication-rate '%s' is out of "
                                  "range: give 1K to 1024G bytes per second, or 0 or 'none' "
                                  "for no limit", s);
    return -1;
}

/* "HH:MM" at s (00:00 to 23:59) in minutes, or -1. */
static int hhmm(const char *s)
{
    int h, m;

    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] != ':' ||
        s[3] < '0' || s[3] > '9' || s[4] < '0' || s[4] > '9')
        return -1;
    h = (s[0] - '0') * 10 + (s[1] - '0');
    m = (s[3] - '0') * 10 + (s[4] - '0');
    return h < 24 && m < 60 ? h * 60 + m : -1;
}

/* --replication-window as the API's value in *out: "always" is JSON null, else
 * "HH:MM-HH:MM" with two different times. Returns -1 when fine, else
 * VV_EXIT_USAGE after saying why. Caller json_decref()s *out. */
static int parse_window(const char *s, json_t **out)
{
    int from, to;

    if (!strcasecmp(s, "always")) {
        *out = json_null();
        return -1;
    }
    if (strlen(s) != 11 || s[5] != '-' || (from = hhmm(s)) < 0 || (to = hhmm(s + 6)) < 0)
        return vv_cli_usage_error("pairing update", "--replication-window '%s' is not a "
                                  "window: give HH:MM-HH:MM in UTC, like 22:00-06:00, or "
                                  "'always'", s);
    if (from == to)
        return vv_cli_usage_error("pairing update", "--replication-window '%s' starts and "
                                  "ends at the same time: give two different times, or "
                                  "'always' for no window", s);
    *out = json_string(s);
    return -1;
}

/* A secret from standard input (one line, trimmed) into buf. 0, or -1. */
static int read_secret(char *buf, size_t n) { return vv_cli_read_secret("Code: ", buf, n); }

/* ------------------------------------------------------------------------------ */
/* Output                                                                          */

/* A pairing object made readable for a table: the rate as "50.0 MiB/s" or "none",
 * no window as "always". New reference; caller json_decref()s. */
static json_t *table_row(const json_t *p)
{
    static const struct vv_column bytes = {"", "maxReplicationRate", VV_COL_BYTES};
    json_t *row = json_deep_copy(p);
    const json_t *rate = json_object_get(p, "maxReplicationRate");
    char cell[64], text[80];

    if (!row)
        return NULL;
    if (!json_is_integer(rate) || json_integer_value(rate) <= 0) {
        json_object_set_new(row, "maxReplicationRate", json_string("none"));
    } else {
        vv_format_cell(p, &bytes, cell, sizeof(cell));
        snprintf(text, sizeof(text), "%s/s", cell);
        json_object_set_new(row, "maxReplicationRate", json_string(text));
    }
    if (!json_is_string(json_object_get(p, "replicationWindow")))
        json_object_set_new(row, "replicationWindow", json_string("always"));
    return row;
}

/* A pairing object or a {"value": [...]} list of them: JSON as is, a table with
 * readable rates and windows. */
static void show_pairing(const struct vv_client *c, const json_t *ans, const void *ctx)
{
    const json_t *list = json_object_get(ans, "value"), *p;
    json_t *rows;
    size_t i;

    (void)ctx;
    if (c->json) {
        vv_print(1, ans, pairing_cols);
        return;
    }
    if (!json_is_array(list)) {
        rows = table_row(ans);
        vv_print(0, rows, pairing_cols);
        json_decref(rows);
        return;
    }
    if (json_array_size(list) == 0) {
        printf("Not paired: no secondary and no primary. Pair with 'vmvault pairing "
               "create' on the primary.\n");
        return;
    }
    rows = json_array();
    json_array_foreach(list, i, p)
        json_array_append_new(rows, table_row(p));
    {
        json_t *wrap = json_pack("{s:o}", "value", rows);
        vv_print(0, wrap, pairing_cols);
        json_decref(wrap);
    }
}

/* ------------------------------------------------------------------------------ */
/* invite                                                                          */

/* Create path for the invitation: a new file, mode 0600, never through a symbolic
 * link. The fd, or -1 after saying why. */
static int create_private(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

    if (fd < 0)
        fprintf(stderr, "vmvault: cannot create %s: %s%s\n", path, strerror(errno),
                errno == EEXIST ? " (an invitation is never written over a file: give a "
                                  "new name, or remove the old file)" : "");
    return fd;
}

/* Write the invitation ans to fd (path names it), indented, ending with a
 * newline, and sync it. 0, or -1 after saying why. */
static int write_invitation(int fd, const char *path, const json_t *ans)
{
    char *text = json_dumps(ans, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    int r = -1;

    if (!text)
        errno = ENOMEM;
    else if (vv_write_all(fd, text, strlen(text)) == 0 && vv_write_all(fd, "\n", 1) == 0 &&
             fsync(fd) == 0)
        r = 0;
    if (r < 0)
        fprintf(stderr, "vmvault: cannot write %s: %s\n", path, strerror(errno));
    free(text);
    return r;
}

/* What invite prints after writing file: never the code. */
static void print_written(const struct vv_client *c, const json_t *ans, const char *file)
{
    const char *exp = json_string_value(json_object_get(ans, "expiresAt"));
    char when[64];

    if (c->json) {
        json_t *o = json_pack("{s:s}", "file", file);
        static const char *const keep[] = {"url", "region", "certificatePin", "expiresAt"};
        for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
            if (json_object_get(ans, keep[i]))
                json_object_set(o, keep[i], json_object_get(ans, keep[i]));
        vv_print_json(o);
        json_decref(o);
        return;
    }
    vv_format_time(exp, when, sizeof(when));
    printf("Wrote the invitation to %s (mode 0600). It pairs one primary server, once,\n"
           "until %s. On the primary run:\n"
           "  vmvault pairing create --invitation %s\n", file, exp ? when : "it expires", file);
}

static int cmd_invite(int argc, char **argv)
{
    struct vv_args a;
    struct vv_client c;
    struct vv_path p;
    json_t *body = NULL, *ans = NULL;
    const char *file, *hours;
    uint64_t h = 0;
    int fd = -1, rc = vv_args_parse(&v_invite, argc, argv, &a);

    if (rc >= 0)
        return rc;
    /* its own range (not the 1 to 240 of vault credentials): checked here */
    if ((hours = vv_arg(&a, O_EXPIRES_HOURS)) &&
        (vv_parse_u64(hours, &h) < 0 || h < 1 || h > INVITE_HOURS_MAX))
        return vv_cli_usage_error(v_invite.cmd, "--expires-in-hours must be a whole number "
                                  "from 1 to %d (got '%s')", INVITE_HOURS_MAX, hours);
    /* the file first: a code the server made is not lost for want of a place */
    if ((file = vv_arg(&a, O_OUT)) && (fd = create_private(file)) < 0)
        return VV_EXIT_FAIL;
    if ((rc = vv_client_open(&c, &a)) != VV_EXIT_OK)
        goto out;
    body = json_object();
    if (hours)
        json_object_set_new(body, "expiresInHours", json_integer((json_int_t)h));
    vv_path_init(&p, "/api/v1/pairing/invitations");
    if ((rc = vv_client_call(&c, "POST", &p, body, &ans)) != VV_EXIT_OK)
        goto out;
    if (!file) {
        vv_print_json(ans); /* the invitation is the output, in either format */
    } else if (write_invitation(fd, file, ans) < 0) {
        rc = VV_EXIT_FAIL;
    } else {
        print_written(&c, ans, file);
    }
out:
    if (fd >= 0 && close(fd) < 0 && rc == VV_EXIT_OK) {
        fprintf(stderr, "vmvault: cannot write %s: %s\n", file, strerror(errno));
        rc = VV_EXIT_FAIL;
    }
    if (fd >= 0 && rc != VV_EXIT_OK)
        unlink(file); /* made empty above; nothing of the user's is in it */
    json_decref(ans);
    json_decref(body);
    vv_client_close(&c);
    return rc;
}

/* ------------------------------------------------------------------------------ */
/* create                                                                          */

/* Member name of the invitation inv (file names it) as a string in *out: present
 * (unless optional), a string of 1 to 1024 printable characters without spaces.
 * 0, or -1 after saying which field is wrong. */
static int invitation_field(const json_t *inv, const char *file, const char *name,
                            int optional, const char **out)
{
    const json_t *v = json_object_get(inv, name);
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;

    *out = NULL;
    if ((!v || json_is_null(v)) && optional)
        return 0;
    if (!s) {
        fprintf(stderr, "vmvault: %s: the field '%s' is %s; an invitation is the JSON object "
                "'vmvault pairing invite --out FILE' writes on the secondary, with url, "
                "code and certificatePin\n", file, name, v ? "not a string" : "missing");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            n = 0;
    if (n < 1 || n > 1024) {
        fprintf(stderr, "vmvault: %s: the field '%s' must be 1 to 1024 printable characters "
                "without spaces; take the invitation file as the secondary wrote it\n",
                file, name);
        return -1;
    }
    *out = s;
    return 0;
}

/* The url, code and certificatePin of the invitation inv (borrowed from it). 0, or
 * -1 after saying what is wrong with file. */
static int invitation_fields(const json_t *inv, const char *file, const char **url,
                             const char **code, const char **pin)
{
    if (invitation_field(inv, file, "url", 0, url) < 0 ||
        invitation_field(inv, file, "code", 0, code) < 0 ||
        invitation_field(inv, file, "certificatePin", 1, pin) < 0)
        return -1;
    if (strncmp(*url, "http://", 7) != 0 && strncmp(*url, "https://", 8) != 0) {
        fprintf(stderr, "vmvault: %s: the field 'url' ('%s') must start with http:// or "
                "https://\n", file, *url);
        return -1;
    }
    if (!*pin && !strncmp(*url, "https://", 8)) {
        fprintf(stderr, "vmvault: %s: the field 'certificatePin' is missing; it is required "
                "with an https:// url: take the invitation file as the secondary wrote it\n",
                file);
        return -1;
    }
    if (*pin && strncmp(*pin, "sha256//", 8) != 0) {
        fprintf(stderr, "vmvault: %s: the field 'certificatePin' must be sha256//BASE64, as "
                "the secondary wrote it\n", file);
        return -1;
    }
    return 0;
}

/* The request body of create from --invitation (read into *inv, which the body's
 * strings borrow until json_decref(*inv)). NULL after saying why. */
static json_t *body_from_invitation(const char *file, json_t **inv)
{
    const char *shown = strcmp(file, "-") ? file : "standard input";
    const char *url, *code, *pin;
    struct stat st;

    if (!(*inv = vv_load_json_object(file, "an invitation")))
        return NULL;
    if (strcmp(file, "-") && stat(file, &st) == 0 && (st.st_mode & 077))
        fprintf(stderr, "vmvault: warning: %s holds a pairing code and is readable by "
                "others; remove it once paired\n", file);
    if (invitation_fields(*inv, shown, &url, &code, &pin) < 0)
        return NULL;
    return json_pack("{s:s,s:s,s:s*}", "url", url, "code", code, "certificatePin", pin);
}

/* The request body of create from --url, --code and --certificate-pin; code is
 * read into buf when it is "-". NULL with *rc the exit status after saying why. */
static json_t *body_from_options(const struct vv_args *a, char *buf, size_t n, int *rc)
{
    const char *url = vv_arg(a, O_URL), *code = vv_arg(a, O_CODE), *pin = vv_arg(a, O_CERT_PIN);

    if (!url || !code) {
        *rc = vv_cli_usage_error(v_create.cmd, "give --invitation FILE, or --url and --code "
                                 "(with --certificate-pin for https)");
        return NULL;
    }
    if (!pin && !strncmp(url, "https://", 8)) {
        *rc = vv_cli_usage_error(v_create.cmd, "--certificate-pin is required with an "
                                 "https:// URL: the invitation's certificatePin");
        return NULL;
    }
    if (pin && strncmp(pin, "sha256//", 8) != 0) {
        *rc = vv_cli_usage_error(v_create.cmd, "--certificate-pin '%s' must be "
                                 "sha256//BASE64, the invitation's certificatePin", pin);
        return NULL;
    }
    if (!strcmp(code, "-")) {
        if (read_secret(buf, n) < 0) {
            fprintf(stderr, "vmvault: no pairing code on standard input\n");
            *rc = VV_EXIT_FAIL;
            return NULL;
        }
        code = buf;
    }
    return json_pack("{s:s,s:s,s:s*}", "url", url, "code", code, "certificatePin", pin);
}

static int cmd_create(int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    json_t *body, *inv = NULL;
    char code[1100];
    int rc = vv_args_parse(&v_create, argc, argv, &a);

    if (rc >= 0)
        return rc;
    if (vv_arg(&a, O_INVITATION) && (vv_arg(&a, O_URL) || vv_arg(&a, O_CODE) ||
                                     vv_arg(&a, O_CERT_PIN)))
        return vv_cli_usage_error(v_create.cmd, "--invitation goes alone: the file gives the "
                                  "url, code and certificate pin");
    if (vv_arg(&a, O_INVITATION)) {
        rc = VV_EXIT_FAIL;
        body = body_from_invitation(vv_arg(&a, O_INVITATION), &inv);
    } else {
        body = body_from_options(&a, code, sizeof(code), &rc);
    }
    if (body) {
        vv_path_init(&p, "/api/v1/pairing");
        rc = vv_request_show(&a, NULL, "POST", &p, body, show_pairing, NULL);
    }
    explicit_bzero(code, sizeof(code));
    json_decref(body);
    json_decref(inv);
    return rc;
}

/* ------------------------------------------------------------------------------ */
/* show, update, delete                                                            */

static int cmd_show(int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    int rc = vv_args_parse(&v_show, argc, argv, &a);

    if (rc >= 0)
        return rc;
    vv_path_init(&p, "/api/v1/pairing");
    return vv_request_show(&a, NULL, "GET", &p, NULL, show_pairing, NULL);
}

static int cmd_update(int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    json_t *body, *window = NULL;
    uint64_t rate = 0;
    int rc = vv_args_parse(&v_update, argc, argv, &a);

    if (rc >= 0)
        return rc;
    if (!vv_arg(&a, O_MAX_RATE) && !vv_arg(&a, O_REPL_WINDOW))
        return vv_cli_usage_error(v_update.cmd, "give at least one of --max-replication-rate, "
                                  "--replication-window");
    if (vv_arg(&a, O_MAX_RATE) && (rc = parse_rate(vv_arg(&a, O_MAX_RATE), &rate)) >= 0)
        return rc;
    if (vv_arg(&a, O_REPL_WINDOW) && (rc = parse_window(vv_arg(&a, O_REPL_WINDOW), &window)) >= 0)
        return rc;
    body = json_object();
    if (vv_arg(&a, O_MAX_RATE))
        json_object_set_new(body, "maxReplicationRate", json_integer((json_int_t)rate));
    if (window)
        json_object_set_new(body, "replicationWindow", window);
    vv_path_init(&p, "/api/v1/pairing");
    rc = vv_request_show(&a, NULL, "PATCH", &p, body, show_pairing, NULL);
    json_decref(body);
    return rc;
}

static int cmd_delete(int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    struct vv_ask ask = {NULL, "not unpaired"};
    const char *role;
    int rc = vv_args_parse(&v_delete, argc, argv, &a);

    if (rc >= 0)
        return rc;
    role = vv_arg(&a, O_PEER_ROLE);
    ask.question = !strcmp(role, "Secondary")
                       ? "Unpair from the secondary server? Replication stops; its replica "
                         "vaults stay there."
                       : "Revoke the primary server's replication credentials? It can no "
                         "longer replicate here; the replica vaults stay.";
    vv_path_init(&p, "/api/v1/pairing");
    vv_path_query(&p, "role", role);
    return vv_request_say(&a, &ask, "DELETE", &p,
                          !strcmp(role, "Secondary")
                              ? "Unpaired from the secondary: replication stopped."
                              : "Revoked the primary: it can no longer replicate here.");
}

static const struct vv_command pairing_commands[] = {
    {"invite", cmd_invite, "on the secondary: create a single-use invitation", invite_usage},
    {"create", cmd_create, "on the primary: pair with an invitation", create_usage},
    {"show", cmd_show, "show this server's pairings", show_usage},
    {"update", cmd_update, "replication rate limit and window", update_usage},
    {"delete", cmd_delete, "unpair, or revoke the primary", delete_usage},
    {NULL, NULL, NULL, NULL},
};

int vv_cmd_pairing(int argc, char **argv)
{
    return vv_cli_group("pairing", vv_pairing_usage, pairing_commands, argc, argv);
}
