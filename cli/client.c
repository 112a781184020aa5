/*
 * client.c: the command-line parsing, server connection, request and output code
 * every API verb shares (see client.h).
 */
#include "client.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "civil.h"
#include "err.h"
#include "http_client.h"
#include "util.h"

#define REQUEST_TIMEOUT_MS 300000L /* a whole API request */
#define CONFIG_MAX (64u << 10)

/* ------------------------------------------------------------------------------ */
/* Options                                                                         */

enum kind { K_NAME, K_TEXT, K_UINT, K_ENUM, K_DATE, K_DATETIME, K_FLAG, K_OUTPUT, K_URL, K_HELP };

static const char *const redundancy_v[] = {"GeoRedundant", "LocallyRedundant", NULL};
static const char *const sdstate_v[] = {"Enable", "Disable", NULL};
static const char *const role_v[] = {"Reader", "Operator", "Contributor", "Owner", NULL};
static const char *const status_v[] = {"InProgress", "Completed", "CompletedWithWarnings",
                                       "Failed",     "Cancelling", "Cancelled", NULL};
static const char *const format_v[] = {"qcow2", "raw", NULL};
static const char *const disk_setting_v[] = {"include", "exclude", NULL};
static const char *const restore_mode_v[] = {"RestoreDisks", "AlternateLocation",
                                             "OriginalLocation", NULL};
static const char *const operation_v[] = {"ConfigureBackup", "Backup", "DisableBackup",
                                          "DeleteBackupData", "Restore", "Undelete",
                                          "Prune", "GarbageCollection", NULL};

static const struct optdef {
    int opt;
    const char *name;
    enum kind kind;
    uint64_t min, max;
    const char *const *choices;
} optdefs[] = {
    {O_NAME, "name", K_NAME, 0, 0, NULL},
    {O_VAULT_NAME, "vault-name", K_NAME, 0, 0, NULL},
    {O_LOCATION, "location", K_NAME, 0, 0, NULL},
    {O_REDUNDANCY, "backup-storage-redundancy", K_ENUM, 0, 0, redundancy_v},
    {O_SD_STATE, "soft-delete-feature-state", K_ENUM, 0, 0, sdstate_v},
    {O_SD_DURATION, "soft-delete-duration", K_UINT, 14, 180, NULL},
    {O_YES, "yes", K_FLAG, 0, 0, NULL},
    {O_FILE, "file", K_TEXT, 0, 0, NULL},
    {O_EXPIRES_HOURS, "expires-in-hours", K_UINT, 1, 240, NULL},
    {O_FORCE, "force", K_FLAG, 0, 0, NULL},
    {O_POLICY, "policy", K_TEXT, 0, 0, NULL},
    {O_POLICY_NAME, "policy-name", K_NAME, 0, 0, NULL},
    {O_CONTAINER, "container-name", K_NAME, 0, 0, NULL},
    {O_VM, "vm", K_TEXT, 0, 0, NULL},
    {O_ITEM_NAME, "item-name", K_TEXT, 0, 0, NULL},
    {O_DELETE_DATA, "delete-backup-data", K_FLAG, 0, 0, NULL},
    {O_RETAIN_UNTIL, "retain-until", K_DATE, 0, 0, NULL},
    {O_STATUS, "status", K_ENUM, 0, 0, status_v},
    {O_OPERATION, "operation", K_ENUM, 0, 0, operation_v},
    {O_START_DATE, "start-date", K_DATETIME, 0, 0, NULL},
    {O_END_DATE, "end-date", K_DATETIME, 0, 0, NULL},
    {O_LIMIT, "limit", K_UINT, 1, 1000, NULL},
    {O_TIMEOUT, "timeout", K_UINT, 1, 315360000, NULL},
    {O_INTERVAL, "interval", K_UINT, 1, 3600, NULL},
    {O_RP_NAME, "rp-name", K_TEXT, 0, 0, NULL},
    {O_ROLE, "role", K_ENUM, 0, 0, role_v},
    {O_USER, "user", K_NAME, 0, 0, NULL},
    {O_EXPIRES_DAYS, "expires-in-days", K_UINT, 1, 3650, NULL},
    {O_ID, "id", K_TEXT, 0, 0, NULL},
    {O_URL, "url", K_URL, 0, 0, NULL},
    {O_TOKEN, "token", K_TEXT, 0, 0, NULL},
    {O_OUTPUT, "output", K_OUTPUT, 0, 0, NULL},
    {O_HELP, "help", K_HELP, 0, 0, NULL},
    {O_TARGET_DIR, "target-dir", K_TEXT, 0, 0, NULL},
    {O_FORMAT, "format", K_ENUM, 0, 0, format_v},
    {O_RESTORE_MODE, "restore-mode", K_ENUM, 0, 0, restore_mode_v},
    {O_TARGET_VM_NAME, "target-vm-name", K_NAME, 0, 0, NULL},
    {O_DISKS, "diskslist", K_TEXT, 0, 0, NULL},
    {O_DISK_SETTING, "disk-list-setting", K_ENUM, 0, 0, disk_setting_v},
    {O_RETAIN_PER_POLICY, "retain-as-per-policy", K_FLAG, 0, 0, NULL},
    {O_FROM, "from", K_DATETIME, 0, 0, NULL},
    {O_COUNT, "count", K_UINT, 1, 1000, NULL},
    {O_SCRIPT_SETTINGS, "script-settings", K_TEXT, 0, 0, NULL},
    {O_CERT_PIN, "certificate-pin", K_TEXT, 0, 0, NULL},
};
#define NDEFS (sizeof(optdefs) / sizeof(optdefs[0]))

static const struct optdef *find_def(int opt)
{
    for (size_t i = 0; i < NDEFS; i++)
        if (optdefs[i].opt == opt)
            return &optdefs[i];
    return NULL;
}

static const char *opt_name(int opt)
{
    const struct optdef *d = find_def(opt);
    return d ? d->name : "?";
}

/* Plain text: non-empty, at most 1024 bytes, no control characters. */
static int text_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 1024)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

/* n digits at s; -1 when any is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int vv_date_parse(const char *s, char out[11])
{
    int y, m, d;
    if (strlen(s) != 10)
        return -1;
    if (s[4] == '-' && s[7] == '-') { /* YYYY-MM-DD */
        y = digits(s, 4);
        m = digits(s + 5, 2);
        d = digits(s + 8, 2);
    } else if (s[2] == '-' && s[5] == '-') { /* DD-MM-YYYY */
        d = digits(s, 2);
        m = digits(s + 3, 2);
        y = digits(s + 6, 4);
    } else {
        return -1;
    }
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > vv_days_in_month(y, m))
        return -1;
    {
        char tmp[40];
        snprintf(tmp, sizeof(tmp), "%04d-%02d-%02d", y, m, d);
        memcpy(out, tmp, 11);
    }
    return 0;
}

/* Case-insensitive match of s in choices; the canonical spelling, or NULL. */
static const char *match_choice(const char *const *choices, const char *s)
{
    for (const char *const *c = choices; *c; c++)
        if (!strcasecmp(*c, s))
            return *c;
    return NULL;
}

static void join_choices(const char *const *choices, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (const char *const *c = choices; *c && len < n; c++)
        len += (size_t)snprintf(out + len, n - len, "%s%s", c == choices ? "" : ", ", *c);
}

/* Check and store one value. Returns -1 when fine, else the exit status. */
static int take_value(const struct vv_verb *v, const struct optdef *d, unsigned flags,
                      const char *val, struct vv_args *a)
{
    int i = d->opt - O_NAME;
    enum kind k = d->kind;
    char list[160];

    if (flags & VV_TEXT)
        k = K_TEXT;
    switch (k) {
    case K_NAME:
        if (!vv_name_valid(val))
            return vv_cli_usage_error(v->cmd, "--%s '%s' is invalid: use 1 to 64 letters, "
                                      "digits, '.', '_' or '-', starting with a letter or "
                                      "digit", d->name, val);
        break;
    case K_TEXT:
        if (!text_valid(val))
            return vv_cli_usage_error(v->cmd, "--%s must be 1 to 1024 printable characters",
                                      d->name);
        break;
    case K_URL:
        if (strncmp(val, "http://", 7) != 0 && strncmp(val, "https://", 8) != 0)
            return vv_cli_usage_error(v->cmd, "--%s '%s' must start with http:// or https://",
                                      d->name, val);
        if (!text_valid(val) || strchr(val, ' '))
            return vv_cli_usage_error(v->cmd, "--%s '%s' is not a valid URL", d->name, val);
        break;
    case K_UINT:
        if (vv_parse_u64(val, &a->num[i]) < 0 || a->num[i] < d->min || a->num[i] > d->max)
            return vv_cli_usage_error(v->cmd, "--%s must be a whole number from %llu to %llu "
                                      "(got '%s')", d->name, (unsigned long long)d->min,
                                      (unsigned long long)d->max, val);
        break;
    case K_ENUM: {
        const char *c = match_choice(d->choices, val);
        if (!c) {
            join_choices(d->choices, list, sizeof(list));
            return vv_cli_usage_error(v->cmd, "--%s '%s' is invalid: use one of %s", d->name,
                                      val, list);
        }
        val = c;
        break;
    }
    case K_DATE:
        if (vv_date_parse(val, a->norm[i]) < 0)
            return vv_cli_usage_error(v->cmd, "--%s '%s' is not a date: use YYYY-MM-DD or "
                                      "DD-MM-YYYY (a real calendar day)", d->name, val);
        val = a->norm[i];
        break;
    case K_DATETIME: {
        time_t t;
        if (vv_date_parse(val, a->norm[i]) == 0) {
            val = a->norm[i];
        } else if (vv_time_parse(val, &t) == 0) {
            snprintf(a->norm[i], sizeof(a->norm[i]), "%s", val);
            val = a->norm[i];
        } else {
            return vv_cli_usage_error(v->cmd, "--%s '%s' is not a date: use YYYY-MM-DD, "
                                      "DD-MM-YYYY or a UTC time like 2026-11-27T21:00:00Z",
                                      d->name, val);
        }
        break;
    }
    case K_OUTPUT:
        if (!strcmp(val, "json"))
            a->json = 1;
        else if (!strcmp(val, "table"))
            a->json = 0;
        else
            return vv_cli_usage_error(v->cmd, "--output '%s' is invalid: use 'json' or "
                                      "'table'", val);
        break;
    case K_FLAG:
    case K_HELP:
        break;
    }
    a->val[i] = val;
    return -1;
}

int vv_args_parse(const struct vv_verb *v, int argc, char **argv, struct vv_args *a)
{
    struct option longopts[NDEFS + 1];
    int c;

    memset(a, 0, sizeof(*a));
    a->json = 1;
    for (size_t i = 0; i < NDEFS; i++) {
        longopts[i].name = optdefs[i].name;
        longopts[i].has_arg = optdefs[i].kind == K_FLAG || optdefs[i].kind == K_HELP
                                  ? no_argument : required_argument;
        longopts[i].flag = NULL;
        longopts[i].val = optdefs[i].opt;
    }
    memset(&longopts[NDEFS], 0, sizeof(longopts[NDEFS]));

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:ho:", longopts, NULL)) != -1) {
        const struct optdef *d;
        const struct vv_optspec *spec = NULL;
        int r;

        if (c == 'h')
            c = O_HELP;
        else if (c == 'o')
            c = O_OUTPUT;
        if (c == O_HELP) {
            fputs(v->usage, stdout);
            return VV_EXIT_OK;
        }
        if (c == ':') {
            if (optopt > 0 && optopt < 256)
                return vv_cli_usage_error(v->cmd, "option '-%c' needs a value", optopt);
            return vv_cli_usage_error(v->cmd, "option '%s' needs a value", argv[optind - 1]);
        }
        if (c == '?') {
            if (optopt > 0 && optopt < 256)
                return vv_cli_usage_error(v->cmd, "unknown option '-%c'", optopt);
            return vv_cli_usage_error(v->cmd, "unknown option '%s'", argv[optind - 1]);
        }
        d = find_def(c);
        for (const struct vv_optspec *s = v->opts; s->opt; s++)
            if (s->opt == c)
                spec = s;
        if (!d || !spec)
            return vv_cli_usage_error(v->cmd, "option --%s does not apply here",
                                      d ? d->name : "?");
        if (optarg && optarg[0] == '-' && optarg[1] == '-')
            return vv_cli_usage_error(v->cmd, "option --%s needs a value (got '%s')",
                                      d->name, optarg);
        if ((r = take_value(v, d, spec->flags, optarg ? optarg : "1", a)) >= 0)
            return r;
    }
    if (optind < argc)
        return vv_cli_usage_error(v->cmd, "unexpected argument '%s'", argv[optind]);
    for (const struct vv_optspec *s = v->opts; s->opt; s++)
        if ((s->flags & VV_REQ) && !a->val[s->opt - O_NAME])
            return vv_cli_usage_error(v->cmd, "--%s is required", opt_name(s->opt));
    return -1;
}

const char *vv_arg(const struct vv_args *a, int opt)
{
    return opt >= O_NAME && opt < O_END ? a->val[opt - O_NAME] : NULL;
}

uint64_t vv_arg_num(const struct vv_args *a, int opt)
{
    return opt >= O_NAME && opt < O_END ? a->num[opt - O_NAME] : 0;
}

int vv_args_alias(const struct vv_verb *v, struct vv_args *a, int opt, int alias,
                  const char *what)
{
    const char *val = vv_arg(a, opt), *other = vv_arg(a, alias);

    if (val && other && strcmp(val, other) != 0)
        return vv_cli_usage_error(v->cmd, "--%s and --%s name different %s; give one",
                                  opt_name(opt), opt_name(alias), what);
    if (!val && !(val = other))
        return vv_cli_usage_error(v->cmd, "--%s is required", opt_name(opt));
    a->val[opt - O_NAME] = val;
    return -1;
}

int vv_cli_group(const char *group, const char *usage, const struct vv_command *verbs,
                 int argc, char **argv)
{
    const struct vv_command *c;
    if (argc < 2) {
        fputs(usage, stderr);
        return VV_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        if (argc >= 3 && !strcmp(argv[1], "help") && (c = vv_cli_find(verbs, argv[2]))) {
            fputs(c->usage, stdout);
            return VV_EXIT_OK;
        }
        fputs(usage, stdout);
        return VV_EXIT_OK;
    }
    if (!(c = vv_cli_find(verbs, argv[1]))) {
        fprintf(stderr, "vmvault %s: '%s' is not a '%s' command. Run 'vmvault %s --help'.\n",
                group, argv[1], group, group);
        return VV_EXIT_USAGE;
    }
    return c->run(argc - 1, argv + 1);
}

/* ------------------------------------------------------------------------------ */
/* Server and token                                                                */

char *vv_config_path(void)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    char *p = NULL;
    if (xdg && xdg[0] == '/') {
        if (asprintf(&p, "%s/vmvault/config.json", xdg) < 0)
            p = NULL;
    } else if (home && *home) {
        if (asprintf(&p, "%s/.config/vmvault/config.json", home) < 0)
            p = NULL;
    }
    return p;
}

/* Read url and token from the config file where the environment did not set them.
 * A missing file is fine. Returns VV_EXIT_OK or VV_EXIT_FAIL (message printed). */
static int read_config(struct vv_client *c, char **url, char **token, char **pin)
{
    struct vv_buf b;
    struct stat st;
    json_t *j;
    char err[160];
    const char *u = NULL, *t = NULL, *p = NULL;
    int r;

    if (!c->config_path)
        return VV_EXIT_OK;
    vv_buf_init(&b, CONFIG_MAX);
    r = vv_read_file(c->config_path, &b);
    if (r == VV_E_NOTFOUND) {
        vv_buf_release(&b);
        return VV_EXIT_OK;
    }
    if (r < 0) {
        fprintf(stderr, "vmvault: cannot read %s: %s\n", c->config_path,
                r == VV_E_IO ? strerror(errno) : vv_strerror(r));
        vv_buf_release(&b);
        return VV_EXIT_FAIL;
    }
    if (stat(c->config_path, &st) == 0 && (st.st_mode & 077))
        fprintf(stderr, "vmvault: warning: %s holds a token and is readable by others; run "
                "'chmod 600 %s'\n", c->config_path, c->config_path);
    j = vv_json_parse(b.data, b.len, err, sizeof(err));
    vv_buf_release(&b);
    if (!j || !json_is_object(j) || vv_json_get_str(j, "url", 0, &u, err, sizeof(err)) < 0 ||
        vv_json_get_str(j, "token", 0, &t, err, sizeof(err)) < 0 ||
        vv_json_get_str(j, "certificatePin", 0, &p, err, sizeof(err)) < 0) {
        fprintf(stderr, "vmvault: %s is not a valid config file (%s); run 'vmvault login' "
                "to write it again\n", c->config_path, j && !json_is_object(j)
                ? "not a JSON object" : err);
        json_decref(j);
        return VV_EXIT_FAIL;
    }
    if (!*url && u && *u) {
        *url = strdup(u);
        c->url_from = c->config_path;
    }
    /* the saved pin belongs to the saved URL */
    if (!*pin && p && *p && *url && u && !strcmp(*url, u))
        *pin = strdup(p);
    if (!*token && t && *t) {
        *token = strdup(t);
        c->token_from = c->config_path;
    }
    json_decref(j);
    return VV_EXIT_OK;
}

static int connect_http(struct vv_client *c)
{
    if (vv_http_global_init() < 0) {
        fprintf(stderr, "vmvault: cannot initialise the HTTP client library\n");
        return VV_EXIT_FAIL;
    }
    if (!(c->http = vv_http_new("vmvault/" VV_VERSION))) {
        vv_http_global_cleanup();
        fprintf(stderr, "vmvault: out of memory\n");
        return VV_EXIT_FAIL;
    }
    if (c->pin && vv_http_set_pin(c->http, c->pin) != 0) {
        fprintf(stderr, "vmvault: the certificate pin '%s' is not of the form sha256//BASE64 "
                "(the certificatePin of 'vmvault vault credentials')\n", c->pin);
        return VV_EXIT_FAIL;
    }
    return VV_EXIT_OK;
}

/* Drop trailing slashes of the base URL. */
static void trim_url(char *u)
{
    size_t n = strlen(u);
    while (n > 0 && u[n - 1] == '/')
        u[--n] = '\0';
}

int vv_client_open_with(struct vv_client *c, const char *url, const char *token, int json,
                        const char *pin)
{
    memset(c, 0, sizeof(*c));
    c->json = json;
    c->url = strdup(url);
    c->token = strdup(token);
    c->pin = pin ? strdup(pin) : NULL;
    c->url_from = "--url";
    c->token_from = "--token";
    if (!c->url || !c->token) {
        fprintf(stderr, "vmvault: out of memory\n");
        return VV_EXIT_FAIL;
    }
    trim_url(c->url);
    return connect_http(c);
}

int vv_client_open(struct vv_client *c, const struct vv_args *a)
{
    const char *eu = getenv("VMVAULT_URL"), *et = getenv("VMVAULT_TOKEN");
    const char *ep = getenv("VMVAULT_CERTIFICATE_PIN");
    char *url = NULL, *token = NULL, *pin = NULL;

    memset(c, 0, sizeof(*c));
    c->json = a->json;
    if (eu && *eu) {
        url = strdup(eu);
        c->url_from = "VMVAULT_URL";
    }
    if (et && *et) {
        token = strdup(et);
        c->token_from = "VMVAULT_TOKEN";
    }
    if (ep && *ep)
        pin = strdup(ep);
    c->config_path = vv_config_path();
    /* A URL and token from the environment need their pin from there too. */
    if ((!url || !token) && read_config(c, &url, &token, &pin) != VV_EXIT_OK)
        goto fail;
    c->url = url;
    c->token = token;
    c->pin = pin;
    if (!url) {
        fprintf(stderr, "vmvault: no vault server is configured: run 'vmvault login --url URL "
                "--token TOKEN', or set VMVAULT_URL and VMVAULT_TOKEN\n");
        return VV_EXIT_FAIL;
    }
    if (!token) {
        fprintf(stderr, "vmvault: no token for the vault server at %s: run 'vmvault login "
                "--url %s --token TOKEN', or set VMVAULT_TOKEN\n", url, url);
        return VV_EXIT_FAIL;
    }
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        fprintf(stderr, "vmvault: the vault server URL '%s' (from %s) must start with http:// "
                "or https://\n", url, c->url_from);
        return VV_EXIT_FAIL;
    }
    trim_url(c->url);
    return connect_http(c);
fail:
    free(url);
    free(token);
    free(pin);
    return VV_EXIT_FAIL;
}

void vv_client_close(struct vv_client *c)
{
    if (c->http) {
        vv_http_free(c->http);
        vv_http_global_cleanup();
    }
    free(c->url);
    free(c->token);
    free(c->pin);
    free(c->config_path);
    memset(c, 0, sizeof(*c));
}

/* ------------------------------------------------------------------------------ */
/* Paths and requests                                                              */

static void path_put(struct vv_path *p, const char *s, size_t n)
{
    if (p->overflow || p->len + n >= sizeof(p->s)) {
        p->overflow = 1;
        return;
    }
    memcpy(p->s + p->len, s, n);
    p->len += n;
    p->s[p->len] = '\0';
}

/* Percent-encode everything but RFC 3986's unreserved characters. */
static void path_escape(struct vv_path *p, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            path_put(p, (const char *)&ch, 1);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            path_put(p, e, 3);
        }
    }
}

/* Build p from fmt: each %s is the next segment next(ctx) gives, escaped as one
 * path segment; %% is '%'. */
static void path_build(struct vv_path *p, const char *fmt, const char *(*next)(void *ctx),
                       void *ctx)
{
    memset(p, 0, sizeof(*p));
    for (const char *f = fmt; *f; f++) {
        if (f[0] == '%' && f[1] == 's') {
            const char *seg = next(ctx);
            /* "." and ".." would be resolved away as path segments */
            if (!strcmp(seg, "."))
                path_put(p, "%2E", 3);
            else if (!strcmp(seg, ".."))
                path_put(p, "%2E%2E", 6);
            else
                path_escape(p, seg);
            f++;
        } else if (f[0] == '%' && f[1] == '%') {
            path_put(p, "%", 1);
            f++;
        } else {
            path_put(p, f, 1);
        }
    }
}

struct va_segs {
    va_list ap;
};

static const char *next_va_seg(void *ctx)
{
    return va_arg(((struct va_segs *)ctx)->ap, const char *);
}

void vv_path_init(struct vv_path *p, const char *fmt, ...)
{
    struct va_segs segs;
    va_start(segs.ap, fmt);
    path_build(p, fmt, next_va_seg, &segs);
    va_end(segs.ap);
}

void vv_path_query(struct vv_path *p, const char *key, const char *value)
{
    if (!value)
        return;
    path_put(p, p->nquery++ ? "&" : "?", 1);
    path_escape(p, key);
    path_put(p, "=", 1);
    path_escape(p, value);
}

/* The hint after a connection failure, by kind. */
static const char *failure_hint(enum vv_http_failure f)
{
    switch (f) {
    case VV_HTTP_DNS: return "Check the host name in the URL and the DNS settings.";
    case VV_HTTP_REFUSED:
        return "Check that vmvaultd is running and listens on that address and port.";
    case VV_HTTP_TIMEOUT:
    case VV_HTTP_UNREACHABLE:
        return "Check that the server is up and that no firewall drops the connection.";
    case VV_HTTP_TLS:
        return "Check that the URL's scheme (http/https) is right. For a server with a "
               "self-signed certificate, pin its key: 'vmvault login --url URL --token - "
               "--certificate-pin PIN' or VMVAULT_CERTIFICATE_PIN (vmvaultd prints the pin "
               "at start; vault credentials carry it).";
    case VV_HTTP_PIN:
        return "The server's key is not the pinned one: its certificate changed, or "
               "something intercepts the connection. Pin the new key only if you know why.";
    case VV_HTTP_PROXY:
        return "Check the proxy in https_proxy/http_proxy (or no_proxy for the vault).";
    case VV_HTTP_PROXY_AUTH:
        return "Give the proxy's credentials in the proxy URL (http://user:password@host:port).";
    case VV_HTTP_CONNECTION:
        return "The server closed the connection without a complete answer; check its log.";
    case VV_HTTP_BAD_URL: return "Fix the URL.";
    default: return "Check the URL and the network.";
    }
}

static void print_unreachable(const struct vv_client *c, const struct vv_http_response *resp)
{
    if (resp->failure == VV_HTTP_TOO_LARGE) {
        fprintf(stderr, "vmvault: the answer of the vault server at %s is too large (%s)\n",
                c->url, resp->error);
        return;
    }
    fprintf(stderr, "vmvault: cannot reach the vault server at %s: %s\n", c->url, resp->error);
    fprintf(stderr, "%s The URL comes from %s%s; proxies from http_proxy, https_proxy and "
            "no_proxy.\n", failure_hint(resp->failure), c->url_from,
            strcmp(c->url_from, "VMVAULT_URL") && strcmp(c->url_from, "--url")
                ? " (written by 'vmvault login')" : "");
}

/* The first line of a non-JSON body, for an error message. */
static void body_snippet(const struct vv_buf *b, char *out, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < b->len && k + 1 < n && k < 120; i++) {
        char ch = (char)b->data[i];
        if (ch == '\n' || ch == '\r')
            break;
        out[k++] = (unsigned char)ch < 0x20 ? ' ' : ch;
    }
    out[k] = '\0';
}

/* One exchange. Returns VV_EXIT_OK (2xx; *out the answer), VV_EXIT_FAIL with *out
 * the parsed error answer, or VV_EXIT_FAIL with *out NULL after printing why (no
 * answer: *noanswer set; or an answer that is not JSON). */
static int exchange(struct vv_client *c, const char *method, const char *url, const char *text,
                    json_t **out, long *status, int *noanswer)
{
    struct vv_http_request req = VV_HTTP_REQUEST_INIT;
    struct vv_http_response resp;
    char err[160];
    int rc = VV_EXIT_FAIL;

    *out = NULL;
    *status = 0;
    *noanswer = 0;
    req.method = method;
    req.url = url;
    req.bearer = c->token;
    req.body = text;
    req.body_len = text ? strlen(text) : 0;
    req.content_type = text ? "application/json" : NULL;
    req.timeout_ms = REQUEST_TIMEOUT_MS;
    vv_http_response_init(&resp);
    if (vv_http_do(c->http, &req, &resp) < 0) {
        *noanswer = resp.failure != VV_HTTP_TOO_LARGE && resp.failure != VV_HTTP_BAD_URL;
        print_unreachable(c, &resp);
        vv_http_response_release(&resp);
        return VV_EXIT_FAIL;
    }
    *status = resp.status;
    if (resp.body.len == 0) {
        *out = json_null();
    } else if (!(*out = vv_json_parse(resp.body.data, resp.body.len, err, sizeof(err)))) {
        char snip[128];
        body_snippet(&resp.body, snip, sizeof(snip));
        fprintf(stderr, "vmvault: the server at %s answered HTTP %ld with something that is "
                "not JSON: %s\n", c->url, resp.status, snip);
    } else if (resp.status >= 200 && resp.status < 300) {
        rc = VV_EXIT_OK;
    }
    vv_http_response_release(&resp);
    return rc;
}

int vv_client_call(struct vv_client *c, const char *method, const struct vv_path *path,
                   const json_t *body, json_t **out)
{
    const char *code = NULL, *msg = NULL;
    char *url = NULL, *text = NULL, err[64];
    long status = 0;
    int rc, noanswer, attempt = 0;
    const json_t *e;

    *out = NULL;
    if (path->overflow || asprintf(&url, "%s%s", c->url, path->s) < 0) {
        fprintf(stderr, "vmvault: the request path is too long\n");
        return VV_EXIT_FAIL;
    }
    if (body && !(text = vv_json_dump(body))) {
        free(url);
        fprintf(stderr, "vmvault: out of memory\n");
        return VV_EXIT_FAIL;
    }
    for (;;) {
        rc = exchange(c, method, url, text, out, &status, &noanswer);
        if (!noanswer || strcmp(method, "GET") != 0 || attempt++ >= c->retries)
            break;
        fprintf(stderr, "vmvault: trying again in 2 s (%d of %d)\n", attempt, c->retries);
        sleep(2);
    }
    free(text);
    free(url);
    if (rc == VV_EXIT_OK || !*out)
        return rc;

    e = json_object_get(*out, "error");
    if (json_is_object(e)) {
        if (vv_json_get_str(e, "code", 0, &code, err, sizeof(err)) != 0)
            code = NULL;
        if (vv_json_get_str(e, "message", 0, &msg, err, sizeof(err)) != 0)
            msg = NULL;
    }
    if (code)
        fprintf(stderr, "vmvault: %s: %s\n", code, msg ? msg : "(no message)");
    else
        fprintf(stderr, "vmvault: the server at %s answered HTTP %ld without an error "
                "description; is that URL a vmvault server?\n", c->url, status);
    if (code && !strcmp(code, "Unauthenticated"))
        fprintf(stderr, "The token comes from %s; run 'vmvault login' with a valid token.\n",
                c->token_from);
    json_decref(*out);
    *out = NULL;
    return VV_EXIT_FAIL;
}

int vv_request_show(const struct vv_args *a, const struct vv_ask *ask, const char *method,
                    const struct vv_path *p, const json_t *body, vv_show_fn *show,
                    const void *ctx)
{
    struct vv_client c;
    json_t *ans = NULL;
    int rc = vv_client_open(&c, a);

    if (rc == VV_EXIT_OK && ask &&
        !vv_confirm(vv_arg(a, O_YES) != NULL, "%s", ask->question)) {
        fprintf(stderr, "vmvault: %s\n", ask->declined);
        rc = VV_EXIT_FAIL;
    }
    if (rc == VV_EXIT_OK && (rc = vv_client_call(&c, method, p, body, &ans)) == VV_EXIT_OK)
        show(&c, ans, ctx);
    json_decref(ans);
    vv_client_close(&c);
    return rc;
}

static void show_cols(const struct vv_client *c, const json_t *ans, const void *cols)
{
    vv_print(c->json, ans, cols);
}

int vv_request_print(const struct vv_args *a, const char *method, const struct vv_path *p,
                     const json_t *body, const struct vv_column *cols)
{
    return vv_request_show(a, NULL, method, p, body, show_cols, cols);
}

static void show_said(const struct vv_client *c, const json_t *ans, const void *said)
{
    if (c->json)
        vv_print_json(ans);
    else
        printf("%s\n", (const char *)said);
}

int vv_request_say(const struct vv_args *a, const struct vv_ask *ask, const char *method,
                   const struct vv_path *p, const char *said)
{
    return vv_request_show(a, ask, method, p, NULL, show_said, said);
}

/* The path segments of a simple verb: its options' values, in order. */
struct opt_segs {
    const struct vv_args *a;
    const int *opt;
};

static const char *next_opt_seg(void *ctx)
{
    struct opt_segs *s = ctx;
    const char *v = vv_arg(s->a, *s->opt++);
    return v ? v : "";
}

int vv_run_simple(const struct vv_simple_verb *s, int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    struct opt_segs segs;
    int rc = vv_args_parse(&s->verb, argc, argv, &a);

    if (rc >= 0)
        return rc;
    if (s->alias.opt &&
        (rc = vv_args_alias(&s->verb, &a, s->alias.opt, s->alias.alias, s->alias.what)) >= 0)
        return rc;
    segs.a = &a;
    segs.opt = s->segs;
    path_build(&p, s->path, next_opt_seg, &segs);
    for (const struct vv_query *q = s->query; q->key; q++) {
        const struct optdef *d = find_def(q->opt);
        char num[24];
        if (d && d->kind == K_UINT && vv_arg(&a, q->opt)) {
            snprintf(num, sizeof(num), "%llu", (unsigned long long)vv_arg_num(&a, q->opt));
            vv_path_query(&p, q->key, num);
        } else {
            vv_path_query(&p, q->key, vv_arg(&a, q->opt));
        }
    }
    return vv_request_print(&a, s->method, &p, NULL, s->cols);
}

/* ------------------------------------------------------------------------------ */
/* Output                                                                          */

const struct vv_column vv_cols_vault[] = {
    {"Name", "name", VV_COL_STR},
    {"Location", "location", VV_COL_STR},
    {"Redundancy", "storageRedundancy", VV_COL_STR},
    {"Soft delete", "softDelete", VV_COL_SOFTDELETE},
    {"Items", "protectedItemCount", VV_COL_STR},
    {"Points", "recoveryPointCount", VV_COL_STR},
    {"Hosts", "containerCount", VV_COL_STR},
    {"Created", "createdAt", VV_COL_TIME},
    {NULL, NULL, VV_COL_STR},
};
const struct vv_column vv_cols_backup_props[] = {
    {"Redundancy", "storageRedundancy", VV_COL_STR},
    {"Redundancy locked", "storageRedundancyLocked", VV_COL_STR},
    {"Soft delete", "softDelete", VV_COL_SOFTDELETE},
    {NULL, NULL, VV_COL_STR},
};
const struct vv_column vv_cols_policy[] = {
    {"Name", "name", VV_COL_STR},
    {"Schedule", "", VV_COL_SCHEDULE},
    {"Retention", "", VV_COL_RETENTION},
    {"Instant RP days", "instantRpRetentionRangeInDays", VV_COL_STR},
    {"Items", "protectedItemsCount", VV_COL_STR},
    {NULL, NULL, VV_COL_STR},
};
const struct vv_column vv_cols_container[] = {
    {"Name", "name", VV_COL_STR},
    {"Region", "region", VV_COL_STR},
    {"Agent", "agentVersion", VV_COL_STR},
    {"Registered", "registeredAt", VV_COL_TIME},
    {"Last seen", "lastSeen", VV_COL_TIME},
    {"VMs", "protectableItemCount", VV_COL_STR},
    {"Protected", "protectedItemCount", VV_COL_STR},
    {NULL, NULL, VV_COL_STR},
};
const struct vv_column vv_cols_protectable[] = {
    {"Name", "name", VV_COL_STR},
    {"Container", "container", VV_COL_STR},
    {"Region", "region", VV_COL_STR},
    {"State", "state", VV_COL_STR},
    {"Disks", "disks", VV_COL_DISKS},
    {"Protection", "protectionState", VV_COL_STR},
    {NULL, NULL, VV_COL_STR},
};
const struct vv_column vv_cols_item[] = {
    {"Name", "name", VV_COL_STR},
    {"Container", "container", VV_COL_STR},
    {"Policy", "policy", VV_COL_STR},
    {"Protection", "protectionState", VV_COL_STR},
    {"Last backup", "lastBackupStatus", VV_COL_STR},
    {"Last backup time", "lastBackupTime", VV_COL_TIME},
    {"Points", "recoveryPointCount", VV_COL_STR},
    {"Next run", "nextRun", VV_COL_TIME},
    {"Scripts", "scriptSettingsSource", VV_COL_STR},
    {NULL, NULL, VV_COL_STR},
};
const struct vv_column vv_cols_job[] = {
    {"Id", "id", VV_COL_STR},
    {"Operation", "operation", VV_COL_STR},
    {"Status", "status", VV_COL_STR},
    {"Item", "item", VV_COL_STR},
    {"Started", "startTime", VV_COL_TIME},
    {"Duration", "", VV_COL_DURATION},
    {"Progress", "", VV_COL_PROGRESS},
    {"Error", "error", VV_COL_ERROR},
    {"Warnings", "warnings", VV_COL_ERROR},
    {"Snapshot", "snapshot", VV_COL_SNAPSHOT},
    {NULL, NULL, VV_COL_STR},
};
const struct vv_column vv_cols_point[] = {
    {"Name", "name", VV_COL_STR},
    {"Item", "item", VV_COL_STR},
    {"Time", "time", VV_COL_TIME},
    {"Kind", "kind", VV_COL_STR},
    {"Expires", "expiresAt", VV_COL_TIME},
    {"Kept by", "retainedBy", VV_COL_LIST},
    {"Type", "recoveryPointType", VV_COL_STR},
    {"Disks", "disks", VV_COL_DISKS},
    {NULL, NULL, VV_COL_STR},
};
const struct vv_column vv_cols_user[] = {
    {"Name", "name", VV_COL_STR},
    {"Role", "role", VV_COL_STR},
    {"Tokens", "tokenCount", VV_COL_STR},
    {"Created", "createdAt", VV_COL_TIME},
    {NULL, NULL, VV_COL_STR},
};
const struct vv_column vv_cols_token[] = {
    {"Id", "id", VV_COL_STR},
    {"Name", "name", VV_COL_STR},
    {"User", "user", VV_COL_STR},
    {"Created", "createdAt", VV_COL_TIME},
    {"Expires", "expiresAt", VV_COL_TIME},
    {"Last used", "lastUsed", VV_COL_TIME},
    {"Revoked", "revoked", VV_COL_STR},
    {NULL, NULL, VV_COL_STR},
};
const struct vv_column vv_cols_whoami[] = {
    {"User", "user", VV_COL_STR},
    {"Role", "role", VV_COL_STR},
    {"Token", "token", VV_COL_STR},
    {NULL, NULL, VV_COL_STR},
};

void vv_print_json(const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (s)
        puts(s);
    free(s);
}

/* The value at a dotted path ("softDelete.state"); "" is v itself. Borrowed. */
static const json_t *get_path(const json_t *v, const char *path)
{
    char key[64];
    while (*path && v) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof(key))
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        v = json_object_get(v, key);
        path += n + (dot ? 1 : 0);
    }
    return v;
}

static const char *str_at(const json_t *v, const char *path)
{
    const json_t *s = get_path(v, path);
    return json_is_string(s) ? json_string_value(s) : NULL;
}

/* The scalar as text: "-" for null, missing or "". */
static void scalar(const json_t *v, char *out, size_t n)
{
    if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)))
        snprintf(out, n, "-");
    else if (json_is_string(v))
        snprintf(out, n, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, n, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(out, n, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(out, n, "%s", json_is_true(v) ? "yes" : "no");
    else if (json_is_object(v) && json_is_string(json_object_get(v, "name")))
        snprintf(out, n, "%s", json_string_value(json_object_get(v, "name")));
    else {
        char *s = vv_json_dump(v);
        snprintf(out, n, "%s", s ? s : "?");
        free(s);
    }
}

void vv_format_time(const char *s, char *out, size_t n)
{
    time_t t;
    struct tm tm;
    if (!s || vv_time_parse(s, &t) < 0 || !localtime_r(&t, &tm) ||
        strftime(out, n, "%Y-%m-%d %H:%M %Z", &tm) == 0)
        snprintf(out, n, "%s", s ? s : "-");
}

static void format_duration(long long secs, char *out, size_t n)
{
    if (secs < 0)
        secs = 0;
    if (secs >= 86400)
        snprintf(out, n, "%lldd %02lldh", secs / 86400, secs % 86400 / 3600);
    else if (secs >= 3600)
        snprintf(out, n, "%lldh %02lldm", secs / 3600, secs % 3600 / 60);
    else if (secs >= 60)
        snprintf(out, n, "%lldm %02llds", secs / 60, secs % 60);
    else
        snprintf(out, n, "%llds", secs);
}

/* Append to a cell with bounds. */
static void cat(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cat(char *out, size_t n, const char *fmt, ...)
{
    size_t len = strlen(out);
    va_list ap;
    if (len + 1 >= n)
        return;
    va_start(ap, fmt);
    vsnprintf(out + len, n - len, fmt, ap);
    va_end(ap);
}

/* "02:00" out of "02:00" or an Azure-style "2026-01-01T02:00:00Z". */
static void time_of_day(const char *s, char out[8])
{
    const char *t = strchr(s, 'T');
    snprintf(out, 8, "%.5s", t ? t + 1 : s);
}

static void format_schedule(const json_t *pol, char *out, size_t n)
{
    const json_t *sp = json_object_get(pol, "schedulePolicy");
    const char *freq = str_at(sp, "scheduleRunFrequency"), *tz = str_at(pol, "timeZone");
    const json_t *times = json_object_get(sp, "scheduleRunTimes");
    const json_t *days = json_object_get(sp, "scheduleRunDays");
    const json_t *hs = json_object_get(sp, "hourlySchedule");
    char tod[8 * 24 + 1] = "";
    size_t i;
    const json_t *e;

    out[0] = '\0';
    if (!freq) {
        snprintf(out, n, "-");
        return;
    }
    json_array_foreach(times, i, e) {
        char one[8] = "";
        if (!json_is_string(e) || i >= 24)
            continue;
        time_of_day(json_string_value(e), one);
        snprintf(tod + strlen(tod), sizeof(tod) - strlen(tod), "%s%s", i ? "," : "", one);
    }
    if (!strcmp(freq, "Hourly") && json_is_object(hs)) {
        const char *start = str_at(hs, "scheduleWindowStartTime");
        char st[8] = "";
        if (start)
            time_of_day(start, st);
        cat(out, n, "Every %lldh from %s for %lldh",
            (long long)json_integer_value(json_object_get(hs, "interval")), st[0] ? st : "?",
            (long long)json_integer_value(json_object_get(hs, "scheduleWindowDuration")));
    } else {
        cat(out, n, "%s", freq);
        json_array_foreach(days, i, e)
            if (json_is_string(e))
                cat(out, n, "%s%.3s", i ? "," : " ", json_string_value(e));
        if (tod[0])
            cat(out, n, " %s", tod);
    }
    if (tz)
        cat(out, n, " %s", tz);
}

static void format_retention(const json_t *pol, char *out, size_t n)
{
    static const char *const scheds[] = {"dailySchedule", "weeklySchedule", "monthlySchedule",
                                         "yearlySchedule"};
    const json_t *rp = json_object_get(pol, "retentionPolicy");
    out[0] = '\0';
    for (size_t i = 0; i < 4; i++) {
        const json_t *d = get_path(json_object_get(rp, scheds[i]), "retentionDuration");
        const char *type = str_at(d, "durationType");
        char lower[16];
        size_t k;
        if (!json_is_object(d))
            continue;
        for (k = 0; type && type[k] && k + 1 < sizeof(lower); k++)
            lower[k] = (char)tolower((unsigned char)type[k]);
        lower[k] = '\0';
        cat(out, n, "%s%lld %s", out[0] ? ", " : "",
            (long long)json_integer_value(json_object_get(d, "count")), lower);
    }
    if (!out[0])
        snprintf(out, n, "-");
}

void vv_format_cell(const json_t *row, const struct vv_column *col, char *out, size_t n)
{
    const json_t *v = get_path(row, col->path);
    char a[32], b[32];
    size_t i;
    const json_t *e;

    out[0] = '\0';
    switch (col->kind) {
    case VV_COL_STR:
        scalar(v, out, n);
        return;
    case VV_COL_TIME:
        if (json_is_string(v) && *json_string_value(v))
            vv_format_time(json_string_value(v), out, n);
        else
            scalar(v, out, n);
        return;
    case VV_COL_BYTES:
        if (json_is_integer(v) && json_integer_value(v) >= 0) {
            vv_cli_human_bytes((unsigned long long)json_integer_value(v), a);
            snprintf(out, n, "%s", a);
        } else {
            scalar(v, out, n);
        }
        return;
    case VV_COL_LIST:
        json_array_foreach(v, i, e) {
            scalar(e, a, sizeof(a));
            cat(out, n, "%s%s", i ? ", " : "", a);
        }
        break;
    case VV_COL_COUNT:
        snprintf(out, n, "%zu", json_is_array(v) ? json_array_size(v) : (size_t)0);
        return;
    case VV_COL_DISKS:
        json_array_foreach(v, i, e) {
            const json_t *sz = json_object_get(e, "virtualSize");
            if (!sz)
                sz = json_object_get(e, "size");
            cat(out, n, "%s%s", i ? ", " : "", str_at(e, "name") ? str_at(e, "name") : "?");
            if (json_is_integer(sz) && json_integer_value(sz) >= 0) {
                vv_cli_human_bytes((unsigned long long)json_integer_value(sz), a);
                cat(out, n, " %s", a);
            }
        }
        break;
    case VV_COL_SOFTDELETE:
        if (!json_is_object(v))
            break;
        scalar(json_object_get(v, "state"), out, n);
        if (json_is_integer(json_object_get(v, "retentionDays")))
            cat(out, n, ", %lld days",
                (long long)json_integer_value(json_object_get(v, "retentionDays")));
        break;
    case VV_COL_SCHEDULE:
        format_schedule(v, out, n);
        break;
    case VV_COL_RETENTION:
        format_retention(v, out, n);
        break;
    case VV_COL_DURATION: {
        time_t s, t;
        const char *st = str_at(v, "startTime"), *et = str_at(v, "endTime");
        if (!st || vv_time_parse(st, &s) < 0)
            break;
        if (!et || vv_time_parse(et, &t) < 0)
            t = time(NULL);
        format_duration((long long)(t - s), out, n);
        break;
    }
    case VV_COL_SNAPSHOT: {
        const json_t *fz = json_object_get(v, "fsFreeze");
        const char *type = json_string_value(json_object_get(v, "recoveryPointType"));
        const char *fst = json_string_value(json_object_get(fz, "status"));
        static const char *const scripts[] = {"preScript", "postScript"};
        if (!type)
            break;
        snprintf(out, n, "%s", type);
        if (fst && !strcmp(fst, "Succeeded") && json_is_integer(json_object_get(fz, "milliseconds")))
            cat(out, n, ", frozen %lld ms",
                (long long)json_integer_value(json_object_get(fz, "milliseconds")));
        else if (fst)
            cat(out, n, ", freeze %s", fst);
        for (int k = 0; k < 2; k++) {
            const char *st = json_string_value(
                json_object_get(json_object_get(v, scripts[k]), "status"));
            if (st)
                cat(out, n, ", %s %s", k ? "post-script" : "pre-script", st);
        }
        break;
    }
    case VV_COL_PROGRESS: {
        const json_t *pct = json_object_get(v, "progressPercent");
        const json_t *done = json_object_get(v, "bytesDone"), *tot = json_object_get(v, "bytesTotal");
        if (!json_is_integer(pct))
            break;
        snprintf(out, n, "%lld%%", (long long)json_integer_value(pct));
        if (json_is_integer(tot) && json_integer_value(tot) > 0 && json_is_integer(done) &&
            json_integer_value(done) >= 0) {
            vv_cli_human_bytes((unsigned long long)json_integer_value(done), a);
            vv_cli_human_bytes((unsigned long long)json_integer_value(tot), b);
            cat(out, n, " (%s of %s)", a, b);
        }
        break;
    }
    case VV_COL_ERROR: /* {"code",...}, or an array of them: the codes */
        if (json_is_object(v)) {
            scalar(json_object_get(v, "code"), out, n);
        } else if (json_is_array(v)) {
            size_t wi, k = 0;
            json_t *w;
            json_array_foreach(v, wi, w) {
                const char *code = json_string_value(json_object_get(w, "code"));
                if (code && k + strlen(code) + 2 < n)
                    k += (size_t)snprintf(out + k, n - k, "%s%s", k ? "," : "", code);
            }
        }
        break;
    }
    if (!out[0])
        snprintf(out, n, "-");
}

/* Display width of a UTF-8 string (code points; good enough for names and times). */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

static void print_table(const json_t *rows, const struct vv_column *cols)
{
    size_t ncols = 0, nrows = json_array_size(rows);
    size_t w[32];
    char **cells;

    while (cols[ncols].header && ncols < 32)
        ncols++;
    cells = calloc(nrows * ncols + 1, sizeof(*cells));
    if (!cells) {
        fprintf(stderr, "vmvault: out of memory\n");
        return;
    }
    for (size_t c = 0; c < ncols; c++)
        w[c] = width(cols[c].header);
    for (size_t r = 0; r < nrows; r++) {
        for (size_t c = 0; c < ncols; c++) {
            char buf[1024];
            vv_format_cell(json_array_get(rows, r), &cols[c], buf, sizeof(buf));
            cells[r * ncols + c] = strdup(buf);
            if (cells[r * ncols + c] && width(buf) > w[c])
                w[c] = width(buf);
        }
    }
    for (size_t c = 0; c < ncols; c++)
        printf("%s%s%*s", cols[c].header, c + 1 < ncols ? "" : "\n",
               c + 1 < ncols ? (int)(w[c] - width(cols[c].header) + 3) : 0, "");
    for (size_t c = 0; c < ncols; c++) {
        for (size_t k = 0; k < w[c]; k++)
            putchar('-');
        fputs(c + 1 < ncols ? "   " : "\n", stdout);
    }
    for (size_t r = 0; r < nrows; r++) {
        for (size_t c = 0; c < ncols; c++) {
            const char *s = cells[r * ncols + c] ? cells[r * ncols + c] : "?";
            if (c + 1 < ncols)
                printf("%s%*s", s, (int)(w[c] - width(s) + 3), "");
            else
                printf("%s\n", s);
        }
    }
    for (size_t i = 0; i < nrows * ncols; i++)
        free(cells[i]);
    free(cells);
}

void vv_print(int json, const json_t *v, const struct vv_column *cols)
{
    const json_t *list = json_is_object(v) ? json_object_get(v, "value") : NULL;
    if (!v || json_is_null(v))
        return;
    if (json_is_array(list))
        v = list;
    if (json || !cols || (!json_is_array(v) && !json_is_object(v))) {
        vv_print_json(v);
        return;
    }
    if (json_is_array(v)) {
        print_table(v, cols);
    } else {
        json_t *one = json_array();
        json_array_append_new(one, json_deep_copy(v));
        print_table(one, cols);
        json_decref(one);
    }
}

int vv_confirm(int yes, const char *fmt, ...)
{
    char line[64];
    va_list ap;
    if (yes || !isatty(STDIN_FILENO))
        return 1;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" [y/N] ", stderr);
    fflush(stderr);
    if (!fgets(line, sizeof(line), stdin))
        return 0;
    line[strcspn(line, "\r\n")] = '\0';
    return !strcasecmp(line, "y") || !strcasecmp(line, "yes");
}

int vv_disk_list(const char *verb, const char *option, const char *list, json_t **out)
{
    char buf[1024], *save = NULL;
    json_t *arr = json_array();

    snprintf(buf, sizeof(buf), "%s", list);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!vv_name_valid(t)) {
            json_decref(arr);
            return vv_cli_usage_error(verb, "%s: '%s' is not a disk name", option, t);
        }
        json_array_append_new(arr, json_string(t));
    }
    *out = arr;
    return -1;
}

/* ---- JSON files -------------------------------------------------------------------- */

#define JSON_FILE_MAX (1u << 20) /* the server's body limit */

/* Read all of standard input into b (capped by b->limit). Returns 0 or a vv_err. */
static int read_stdin(struct vv_buf *b)
{
    for (;;) {
        size_t want = 65536;
        ssize_t n;
        int r;
        if (b->len == b->limit) { /* full: anything more is too much */
            char ch;
            while ((n = read(STDIN_FILENO, &ch, 1)) < 0 && errno == EINTR)
                ;
            return n == 0 ? 0 : n < 0 ? VV_E_IO : VV_E_TOOBIG;
        }
        if (want > b->limit - b->len)
            want = b->limit - b->len;
        if ((r = vv_buf_reserve(b, want)) < 0)
            return r;
        n = read(STDIN_FILENO, b->data + b->len, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return VV_E_IO;
        if (n == 0)
            return 0;
        b->len += (size_t)n;
    }
}

json_t *vv_load_json_object(const char *file, const char *what)
{
    const char *shown = strcmp(file, "-") ? file : "standard input";
    struct vv_buf b;
    json_t *j;
    char err[160];
    int r;

    vv_buf_init(&b, JSON_FILE_MAX);
    r = strcmp(file, "-") ? vv_read_file(file, &b) : read_stdin(&b);
    if (r < 0) {
        fprintf(stderr, "vmvault: cannot read %s: %s\n", shown,
                r == VV_E_NOTFOUND ? "no such file"
                : r == VV_E_TOOBIG ? "larger than 1 MiB"
                : r == VV_E_IO ? strerror(errno) : vv_strerror(r));
        vv_buf_release(&b);
        return NULL;
    }
    j = vv_json_parse(b.data, b.len, err, sizeof(err));
    vv_buf_release(&b);
    if (!j) {
        fprintf(stderr, "vmvault: %s is not valid JSON: %s\n", shown, err);
        return NULL;
    }
    if (!json_is_object(j)) {
        fprintf(stderr, "vmvault: %s must hold a JSON object (%s)\n", shown, what);
        json_decref(j);
        return NULL;
    }
    return j;
}
