/*
 * args.c: the command line of a verb (see args.h): the options of the API verbs,
 * the parser every verb shares, groups of verbs, and values that name files or
 * lists.
 */
#include "args.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "civil.h"
#include "err.h"
#include "format/index.h"
#include "format/manifest.h"
#include "util.h"

/* ------------------------------------------------------------------------------ */
/* The options of the API verbs                                                    */

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
                                          "Prune", "GarbageCollection", "Replication",
                                          "Verify", NULL};
static const char *const peer_role_v[] = {"Secondary", "Primary", NULL};

static const struct vv_optdef api_defs[] = {
    {O_NAME, "name", VV_K_NAME, 0, 0, NULL, NULL},
    {O_VAULT_NAME, "vault-name", VV_K_NAME, 0, 0, NULL, NULL},
    {O_LOCATION, "location", VV_K_NAME, 0, 0, NULL, NULL},
    {O_REDUNDANCY, "backup-storage-redundancy", VV_K_ENUM, 0, 0, redundancy_v, NULL},
    {O_SD_STATE, "soft-delete-feature-state", VV_K_ENUM, 0, 0, sdstate_v, NULL},
    {O_SD_DURATION, "soft-delete-duration", VV_K_UINT, 14, 180, NULL, NULL},
    {O_YES, "yes", VV_K_FLAG, 0, 0, NULL, NULL},
    {O_FILE, "file", VV_K_TEXT, 0, 0, NULL, NULL},
    {O_EXPIRES_HOURS, "expires-in-hours", VV_K_UINT, 1, 240, NULL, NULL},
    {O_FORCE, "force", VV_K_FLAG, 0, 0, NULL, NULL},
    {O_POLICY, "policy", VV_K_TEXT, 0, 0, NULL, NULL},
    {O_POLICY_NAME, "policy-name", VV_K_NAME, 0, 0, NULL, NULL},
    {O_CONTAINER, "container-name", VV_K_NAME, 0, 0, NULL, NULL},
    {O_VM, "vm", VV_K_TEXT, 0, 0, NULL, NULL},
    {O_ITEM_NAME, "item-name", VV_K_TEXT, 0, 0, NULL, NULL},
    {O_DELETE_DATA, "delete-backup-data", VV_K_FLAG, 0, 0, NULL, NULL},
    {O_RETAIN_UNTIL, "retain-until", VV_K_DATE, 0, 0, NULL, NULL},
    {O_STATUS, "status", VV_K_ENUM, 0, 0, status_v, NULL},
    {O_OPERATION, "operation", VV_K_ENUM, 0, 0, operation_v, NULL},
    {O_START_DATE, "start-date", VV_K_DATETIME, 0, 0, NULL, NULL},
    {O_END_DATE, "end-date", VV_K_DATETIME, 0, 0, NULL, NULL},
    {O_LIMIT, "limit", VV_K_UINT, 1, 1000, NULL, NULL},
    {O_TIMEOUT, "timeout", VV_K_UINT, 1, 315360000, NULL, NULL},
    {O_INTERVAL, "interval", VV_K_UINT, 1, 3600, NULL, NULL},
    {O_RP_NAME, "rp-name", VV_K_TEXT, 0, 0, NULL, NULL},
    {O_ROLE, "role", VV_K_ENUM, 0, 0, role_v, NULL},
    {O_USER, "user", VV_K_NAME, 0, 0, NULL, NULL},
    {O_EXPIRES_DAYS, "expires-in-days", VV_K_UINT, 1, 3650, NULL, NULL},
    {O_ID, "id", VV_K_TEXT, 0, 0, NULL, NULL},
    {O_URL, "url", VV_K_URL, 0, 0, NULL, NULL},
    {O_TOKEN, "token", VV_K_TEXT, 0, 0, NULL, NULL},
    {O_OUTPUT, "output", VV_K_OUTPUT, 0, 0, NULL, NULL},
    {O_HELP, "help", VV_K_HELP, 0, 0, NULL, NULL},
    {O_TARGET_DIR, "target-dir", VV_K_TEXT, 0, 0, NULL, NULL},
    {O_FORMAT, "format", VV_K_ENUM, 0, 0, format_v, NULL},
    {O_RESTORE_MODE, "restore-mode", VV_K_ENUM, 0, 0, restore_mode_v, NULL},
    {O_TARGET_VM_NAME, "target-vm-name", VV_K_NAME, 0, 0, NULL, NULL},
    {O_DISKS, "diskslist", VV_K_TEXT, 0, 0, NULL, NULL},
    {O_DISK_SETTING, "disk-list-setting", VV_K_ENUM, 0, 0, disk_setting_v, NULL},
    {O_RETAIN_PER_POLICY, "retain-as-per-policy", VV_K_FLAG, 0, 0, NULL, NULL},
    {O_FROM, "from", VV_K_DATETIME, 0, 0, NULL, NULL},
    {O_COUNT, "count", VV_K_UINT, 1, 1000, NULL, NULL},
    {O_SCRIPT_SETTINGS, "script-settings", VV_K_TEXT, 0, 0, NULL, NULL},
    {O_CERT_PIN, "certificate-pin", VV_K_TEXT, 0, 0, NULL, NULL},
    {O_PASSPHRASE_FILE, "passphrase-file", VV_K_TEXT, 0, 0, NULL, NULL},
    {O_OUT, "out", VV_K_TEXT, 0, 0, NULL, NULL},
    {O_INVITATION, "invitation", VV_K_TEXT, 0, 0, NULL, NULL},
    {O_CODE, "code", VV_K_TEXT, 0, 0, NULL, NULL},
    {O_MAX_RATE, "max-replication-rate", VV_K_TEXT, 0, 0, NULL, NULL},
    {O_REPL_WINDOW, "replication-window", VV_K_TEXT, 0, 0, NULL, NULL},
    {O_PEER_ROLE, "peer-role", VV_K_ENUM, 0, 0, peer_role_v, NULL},
    {O_TARGET_HOST, "target-host", VV_K_NAME, 0, 0, NULL, NULL},
    {O_SECONDARY_REGION, "secondary-region", VV_K_FLAG, 0, 0, NULL, NULL},
    {O_USE_SECONDARY, "use-secondary-region", VV_K_FLAG, 0, 0, NULL, NULL},
};

const struct vv_optset vv_api_options = {
    api_defs, sizeof(api_defs) / sizeof(api_defs[0]), "+:ho:", 1, VV_DIALECT_API,
};

/* ------------------------------------------------------------------------------ */
/* Checks                                                                          */

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

static const struct vv_optdef *find_def(const struct vv_optset *set, int opt)
{
    for (size_t i = 0; i < set->ndefs; i++)
        if (set->defs[i].opt == opt)
            return &set->defs[i];
    return NULL;
}

static const char *opt_name(const struct vv_optset *set, int opt)
{
    const struct vv_optdef *d = find_def(set, opt);
    return d ? d->name : "?";
}

/* The checks of values that are kept as given. Returns -1 when val passes. */
static int check_text(const struct vv_verb *v, const struct vv_optdef *d, enum vv_optkind k,
                      const char *val)
{
    time_t t;

    switch (k) {
    case VV_K_NAME:
        if (!vv_name_valid(val))
            return vv_cli_usage_error(v->cmd, "--%s '%s' is invalid: use 1 to 64 letters, "
                                      "digits, '.', '_' or '-', starting with a letter or "
                                      "digit", d->name, val);
        break;
    case VV_K_TEXT:
        if (!text_valid(val))
            return vv_cli_usage_error(v->cmd, "--%s must be 1 to 1024 printable characters",
                                      d->name);
        break;
    case VV_K_URL:
        if (strncmp(val, "http://", 7) != 0 && strncmp(val, "https://", 8) != 0)
            return vv_cli_usage_error(v->cmd, "--%s '%s' must start with http:// or https://",
                                      d->name, val);
        if (!text_valid(val) || strchr(val, ' '))
            return vv_cli_usage_error(v->cmd, "--%s '%s' is not a valid URL", d->name, val);
        break;
    case VV_K_DISK:
        if (!vv_disk_name_valid(val))
            return vv_cli_usage_error(v->cmd, "--%s '%s' is invalid: use lower-case "
                                      "letters, digits, '.', '_' and '-'", d->name, val);
        break;
    case VV_K_POINT:
        if (!vv_point_id_valid(val))
            return vv_cli_usage_error(v->cmd, "'%s' is not a recovery point id "
                                      "(like rp-20261127-183728-042-1a2b3c4d)", val);
        break;
    case VV_K_UTC:
        if (vv_time_parse(val, &t) < 0)
            return vv_cli_usage_error(v->cmd, "--%s '%s' must be a UTC time like "
                                      "2026-12-31T00:00:00Z", d->name, val);
        break;
    default:
        break;
    }
    return -1;
}

/* Numbers: stored in a->num[i]. Returns -1 when val passes. */
static int check_number(const struct vv_optset *set, const struct vv_verb *v,
                        const struct vv_optdef *d, const char *val, struct vv_args *a)
{
    uint64_t *n = &a->num[d->opt - O_NAME];

    if (d->kind == VV_K_CHUNK) {
        if (vv_parse_size(val, n) < 0 || !vv_chunk_size_valid(*n))
            return vv_cli_usage_error(v->cmd, "--%s '%s' must be a power of two from 4K "
                                      "to 16M", d->name, val);
        return -1;
    }
    if (vv_parse_u64(val, n) == 0 && *n >= d->min && *n <= d->max)
        return -1;
    if (set->dialect == VV_DIALECT_DEBUG)
        return vv_cli_usage_error(v->cmd, "--%s must be %llu to %llu", d->name,
                                  (unsigned long long)d->min, (unsigned long long)d->max);
    return vv_cli_usage_error(v->cmd, "--%s must be a whole number from %llu to %llu "
                              "(got '%s')", d->name, (unsigned long long)d->min,
                              (unsigned long long)d->max, val);
}

/* Dates: normalised into a->norm[i], *val pointed there. Returns -1 when fine. */
static int check_date(const struct vv_verb *v, const struct vv_optdef *d, const char **val,
                      struct vv_args *a)
{
    char *norm = a->norm[d->opt - O_NAME];
    time_t t;

    if (vv_date_parse(*val, norm) == 0) {
        *val = norm;
        return -1;
    }
    if (d->kind == VV_K_DATE)
        return vv_cli_usage_error(v->cmd, "--%s '%s' is not a date: use YYYY-MM-DD or "
                                  "DD-MM-YYYY (a real calendar day)", d->name, *val);
    if (vv_time_parse(*val, &t) < 0)
        return vv_cli_usage_error(v->cmd, "--%s '%s' is not a date: use YYYY-MM-DD, "
                                  "DD-MM-YYYY or a UTC time like 2026-11-27T21:00:00Z",
                                  d->name, *val);
    snprintf(norm, sizeof(a->norm[0]), "%s", *val);
    *val = norm;
    return -1;
}

/* One of the choices: *val becomes its canonical spelling. Returns -1 when fine. */
static int check_enum(const struct vv_verb *v, const struct vv_optdef *d, const char **val)
{
    const char *c = match_choice(d->choices, *val);
    char list[160];

    if (!c) {
        join_choices(d->choices, list, sizeof(list));
        return vv_cli_usage_error(v->cmd, "--%s '%s' is invalid: use one of %s", d->name,
                                  *val, list);
    }
    *val = c;
    return -1;
}

static int take_output(const struct vv_optset *set, const struct vv_verb *v,
                       const char *val, struct vv_args *a)
{
    if (set->dialect == VV_DIALECT_DEBUG) {
        if (!strcmp(val, "json"))
            a->json = 1;
        else if (strcmp(val, "table") != 0)
            return vv_cli_usage_error(v->cmd, "--output must be 'table' or 'json'");
        return -1;
    }
    if (!strcmp(val, "json"))
        a->json = 1;
    else if (!strcmp(val, "table"))
        a->json = 0;
    else
        return vv_cli_usage_error(v->cmd, "--output '%s' is invalid: use 'json' or 'table'",
                                  val);
    return -1;
}

/* Check and store one value. Returns -1 when fine, else the exit status. */
static int take_value(const struct vv_optset *set, const struct vv_verb *v,
                      const struct vv_optdef *d, unsigned flags, const char *val,
                      struct vv_args *a)
{
    enum vv_optkind k = flags & VV_TEXT ? VV_K_TEXT : d->kind;
    int r;

    switch (k) {
    case VV_K_UINT:
    case VV_K_CHUNK:
        r = check_number(set, v, d, val, a);
        break;
    case VV_K_ENUM:
        r = check_enum(v, d, &val);
        break;
    case VV_K_DATE:
    case VV_K_DATETIME:
        r = check_date(v, d, &val, a);
        break;
    case VV_K_OUTPUT:
        r = take_output(set, v, val, a);
        break;
    default:
        r = check_text(v, d, k, val);
        break;
    }
    if (r < 0)
        a->val[d->opt - O_NAME] = val;
    return r;
}

/* ------------------------------------------------------------------------------ */
/* The parser                                                                      */

/* A getopt_long error (c is ':' or '?') as a usage error. */
static int getopt_error(const struct vv_optset *set, const struct vv_verb *v, int c,
                        char **argv)
{
    if (set->dialect == VV_DIALECT_DEBUG) {
        if (optopt)
            return vv_cli_usage_error(v->cmd, "option '%s' needs a value", argv[optind - 1]);
        return vv_cli_usage_error(v->cmd, "unknown option '%s'", argv[optind - 1]);
    }
    if (c == ':') {
        if (optopt > 0 && optopt < 256)
            return vv_cli_usage_error(v->cmd, "option '-%c' needs a value", optopt);
        return vv_cli_usage_error(v->cmd, "option '%s' needs a value", argv[optind - 1]);
    }
    if (optopt > 0 && optopt < 256)
        return vv_cli_usage_error(v->cmd, "unknown option '-%c'", optopt);
    return vv_cli_usage_error(v->cmd, "unknown option '%s'", argv[optind - 1]);
}

/* The spec of opt in v: listed there, or --use-secondary-region, which every API
 * verb that prints an answer (lists --output) takes. NULL when it does not apply. */
static const struct vv_optspec *find_spec(const struct vv_optset *set,
                                          const struct vv_verb *v, int opt)
{
    static const struct vv_optspec use_secondary = {O_USE_SECONDARY, 0};
    const struct vv_optspec *spec = NULL, *output = NULL;

    for (const struct vv_optspec *s = v->opts; s->opt; s++) {
        if (s->opt == opt)
            spec = s;
        if (s->opt == O_OUTPUT)
            output = s;
    }
    if (!spec && opt == O_USE_SECONDARY && output && set->dialect == VV_DIALECT_API)
        spec = &use_secondary;
    return spec;
}

/* One option getopt_long reported (c) with its value optarg. Returns -1 to go on,
 * else the exit status. */
static int take_option(const struct vv_optset *set, const struct vv_verb *v, int c,
                       char **argv, struct vv_args *a)
{
    const struct vv_optdef *d;
    const struct vv_optspec *spec;

    if (c == 'h')
        c = O_HELP;
    else if (c == 'o')
        c = O_OUTPUT;
    if (c == O_HELP) {
        fputs(v->usage, stdout);
        return VV_EXIT_OK;
    }
    if (c == ':' || c == '?')
        return getopt_error(set, v, c, argv);
    d = find_def(set, c);
    spec = find_spec(set, v, c);
    if (!d || !spec)
        return vv_cli_usage_error(v->cmd, "option --%s does not apply here",
                                  d ? d->name : "?");
    if (set->dialect == VV_DIALECT_API && optarg && optarg[0] == '-' && optarg[1] == '-')
        return vv_cli_usage_error(v->cmd, "option --%s needs a value (got '%s')", d->name,
                                  optarg);
    return take_value(set, v, d, spec->flags, optarg ? optarg : "1", a);
}

/* Values from the environment, then the required options, in the verb's order. */
static int check_required(const struct vv_optset *set, const struct vv_verb *v,
                          struct vv_args *a)
{
    for (const struct vv_optspec *s = v->opts; s->opt; s++) {
        const struct vv_optdef *d = find_def(set, s->opt);
        const char **val = &a->val[s->opt - O_NAME];
        if (!*val && d && d->env)
            *val = getenv(d->env);
        if (!(s->flags & VV_REQ) || *val)
            continue;
        if (d && d->env)
            return vv_cli_usage_error(v->cmd, "--%s is required (or set %s)", d->name,
                                      d->env);
        return vv_cli_usage_error(v->cmd, "--%s is required", opt_name(set, s->opt));
    }
    return -1;
}

int vv_opts_parse(const struct vv_optset *set, const struct vv_verb *v, int argc,
                  char **argv, struct vv_args *a)
{
    struct option longopts[VV_NOPTS + 1];
    size_t n = set->ndefs < VV_NOPTS ? set->ndefs : VV_NOPTS;
    int c, r;

    memset(a, 0, sizeof(*a));
    a->json = set->json;
    a->set = set;
    for (size_t i = 0; i < n; i++) {
        longopts[i].name = set->defs[i].name;
        longopts[i].has_arg = set->defs[i].kind == VV_K_FLAG || set->defs[i].kind == VV_K_HELP
                                  ? no_argument : required_argument;
        longopts[i].flag = NULL;
        longopts[i].val = set->defs[i].opt;
    }
    memset(&longopts[n], 0, sizeof(longopts[n]));

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, set->shorts, longopts, NULL)) != -1)
        if ((r = take_option(set, v, c, argv, a)) >= 0)
            return r;
    if (optind < argc)
        return vv_cli_usage_error(v->cmd, "unexpected argument '%s'", argv[optind]);
    return check_required(set, v, a);
}

int vv_args_parse(const struct vv_verb *v, int argc, char **argv, struct vv_args *a)
{
    return vv_opts_parse(&vv_api_options, v, argc, argv, a);
}

const char *vv_arg(const struct vv_args *a, int opt)
{
    return opt >= O_NAME && opt < O_END ? a->val[opt - O_NAME] : NULL;
}

uint64_t vv_arg_num(const struct vv_args *a, int opt)
{
    return opt >= O_NAME && opt < O_END ? a->num[opt - O_NAME] : 0;
}

const char *vv_arg_query(const struct vv_args *a, int opt, char buf[24])
{
    const struct vv_optdef *d = a->set ? find_def(a->set, opt) : NULL;

    if (!vv_arg(a, opt) || !d || d->kind != VV_K_UINT)
        return vv_arg(a, opt);
    snprintf(buf, 24, "%llu", (unsigned long long)vv_arg_num(a, opt));
    return buf;
}

int vv_args_alias(const struct vv_verb *v, struct vv_args *a, int opt, int alias,
                  const char *what)
{
    const char *val = vv_arg(a, opt), *other = vv_arg(a, alias);

    if (val && other && strcmp(val, other) != 0)
        return vv_cli_usage_error(v->cmd, "--%s and --%s name different %s; give one",
                                  opt_name(a->set, opt), opt_name(a->set, alias), what);
    if (!val && !(val = other))
        return vv_cli_usage_error(v->cmd, "--%s is required", opt_name(a->set, opt));
    a->val[opt - O_NAME] = val;
    return -1;
}

/* ------------------------------------------------------------------------------ */
/* Commands and groups                                                             */

int vv_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "vmvault %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'vmvault %s --help' for usage.\n", cmd);
    return VV_EXIT_USAGE;
}

const struct vv_command *vv_cli_find(const struct vv_command *table, const char *name)
{
    for (const struct vv_command *c = table; c->name; c++)
        if (!strcmp(c->name, name))
            return c;
    return NULL;
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
/* Values that name lists and files                                                */

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
