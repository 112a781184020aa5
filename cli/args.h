/*
 * args.h: the command line of a `vmvault` verb.
 *
 *  - One enum of every option (enum vv_opt). A set of options (struct vv_optset)
 *    spells them: each option's long name, the kind of value it takes and how that
 *    value is checked. The API verbs share vv_api_options; `vmvault debug` has its
 *    own set, with its own wording of errors (enum vv_dialect).
 *  - Each verb lists the options it accepts and which are required (struct vv_verb).
 *    vv_args_parse checks and normalises every value before anything else happens,
 *    so a bad command line is exit 2 and does nothing.
 *  - --use-secondary-region applies to every API verb that lists --output without
 *    being listed: it sends the request to the secondary region's session
 *    (request.h).
 *  - Groups of verbs ("vault", "job") dispatch on their first argument.
 *
 * Every function returning int returns a process exit status (VV_EXIT_*) or -1 to
 * go on, as said.
 */
#ifndef VV_CLI_ARGS_H
#define VV_CLI_ARGS_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "json.h"

/* Every option of every verb. getopt_long reports these values. */
enum vv_opt {
    O_NAME = 256, O_VAULT_NAME, O_LOCATION, O_REDUNDANCY, O_SD_STATE, O_SD_DURATION,
    O_YES, O_FILE, O_EXPIRES_HOURS, O_FORCE, O_POLICY, O_POLICY_NAME, O_CONTAINER,
    O_VM, O_ITEM_NAME, O_DELETE_DATA, O_RETAIN_UNTIL, O_STATUS, O_OPERATION,
    O_START_DATE, O_END_DATE, O_LIMIT, O_TIMEOUT, O_INTERVAL, O_RP_NAME, O_ROLE,
    O_USER, O_EXPIRES_DAYS, O_ID, O_URL, O_TOKEN, O_OUTPUT, O_HELP,
    O_TARGET_DIR, O_FORMAT, O_RESTORE_MODE, O_TARGET_VM_NAME, O_DISKS, O_DISK_SETTING,
    O_RETAIN_PER_POLICY, O_FROM, O_COUNT, O_SCRIPT_SETTINGS, O_CERT_PIN,
    O_PASSPHRASE_FILE,
    /* pairing and cross-region restore */
    O_OUT, O_INVITATION, O_CODE, O_MAX_RATE, O_REPL_WINDOW, O_PEER_ROLE, O_TARGET_HOST,
    O_SECONDARY_REGION, O_USE_SECONDARY,
    /* `vmvault debug` */
    O_STORE, O_KEY_FILE, O_IMAGE, O_DISK_NAME, O_CHUNK_SIZE, O_FIXED_CHUNKS, O_PARENT,
    O_CHANGED_EXTENTS, O_POINT, O_TARGET, O_VM_NAME, O_DOMAIN_XML, O_THREADS, O_ALL,
    O_CHUNKS,
    O_END
};
#define VV_NOPTS (O_END - O_NAME)

/* The kinds of value an option takes, and the check each value passes. */
enum vv_optkind {
    VV_K_NAME,     /* a resource name (vv_name_valid()) */
    VV_K_TEXT,     /* 1 to 1024 printable characters */
    VV_K_UINT,     /* a whole number from min to max (vv_arg_num()) */
    VV_K_ENUM,     /* one of choices, any case; the value is the canonical spelling */
    VV_K_DATE,     /* YYYY-MM-DD or DD-MM-YYYY; the value is YYYY-MM-DD */
    VV_K_DATETIME, /* a date as VV_K_DATE, or a UTC time (vv_time_parse()) */
    VV_K_FLAG,     /* no value; "1" when given */
    VV_K_OUTPUT,   /* json or table: sets vv_args.json */
    VV_K_URL,      /* http:// or https://, printable, no spaces */
    VV_K_HELP,     /* prints the verb's usage; the parse ends with exit 0 */
    VV_K_ANY,      /* any text, unchecked (paths the command opens) */
    VV_K_DISK,     /* a disk name (vv_disk_name_valid()) */
    VV_K_CHUNK,    /* a chunk size: a power of two from 4K to 16M (vv_arg_num()) */
    VV_K_POINT,    /* a recovery point id (vv_point_id_valid()) */
    VV_K_UTC,      /* a UTC time (vv_time_parse()), kept as given */
};

/* One option of a set. */
struct vv_optdef {
    int opt;             /* enum vv_opt */
    const char *name;    /* the long name, without "--" */
    enum vv_optkind kind;
    uint64_t min, max;   /* VV_K_UINT */
    const char *const *choices; /* VV_K_ENUM: NULL-terminated */
    const char *env;     /* when not NULL: the environment variable that gives the
                          * value when the option is not given */
};

/* How a set words its errors. The debug commands keep their older wording:
 *  - a value is never taken for a missing one, even when it starts with "--";
 *  - a getopt error reads "option 'ARG' needs a value" when getopt names an
 *    option (optopt) and "unknown option 'ARG'" when not, ARG the argument read;
 *  - "--threads must be 1 to 256"; "--output must be 'table' or 'json'", and
 *    --output table after --output json leaves json. */
enum vv_dialect { VV_DIALECT_API, VV_DIALECT_DEBUG };

struct vv_optset {
    const struct vv_optdef *defs;
    size_t ndefs;
    const char *shorts;  /* getopt_long's short options, starting with '+' */
    int json;            /* the output format without --output: 1 json, 0 table */
    enum vv_dialect dialect;
};

/* The options of the verbs that talk to a vault server. */
extern const struct vv_optset vv_api_options;

/* Flags of an option in a verb. */
#define VV_REQ 1u  /* required */
#define VV_TEXT 2u /* any non-empty text instead of a resource name (ids, VM names) */

struct vv_optspec {
    int opt; /* enum vv_opt; 0 ends the list */
    unsigned flags;
};

/* One verb: its name for messages ("vault create"), its help, its options. Required
 * options are checked in the order listed. */
struct vv_verb {
    const char *cmd;
    const char *usage;
    struct vv_optspec opts[16];
};

/* Parsed options. Values are borrowed from argv, the environment or static
 * storage, or point into this struct (normalised dates): valid while those live. */
struct vv_args {
    const char *val[VV_NOPTS]; /* NULL when not given; "1" for flags */
    uint64_t num[VV_NOPTS];    /* the value of numeric options */
    char norm[VV_NOPTS][24];   /* normalised dates and times */
    int json;                  /* 1: --output json, 0: table */
    const struct vv_optset *set; /* the set parsed against */
};

/* Parse argv (argv[0] is the verb) against v with the options of set. Returns -1
 * to go on, or an exit status: 0 after --help, VV_EXIT_USAGE after printing a
 * precise usage error. */
int vv_opts_parse(const struct vv_optset *set, const struct vv_verb *v, int argc,
                  char **argv, struct vv_args *a) VV_MUST_CHECK;
/* vv_opts_parse() with vv_api_options. */
int vv_args_parse(const struct vv_verb *v, int argc, char **argv, struct vv_args *a) VV_MUST_CHECK;
/* The value of opt, or NULL when it was not given. */
const char *vv_arg(const struct vv_args *a, int opt);
/* The numeric value of opt (0 when not given). */
uint64_t vv_arg_num(const struct vv_args *a, int opt);
/* The value of opt for a URL query: numbers as whole numbers without leading zeros
 * (written to buf), anything else as given; NULL when not given. */
const char *vv_arg_query(const struct vv_args *a, int opt, char buf[24]);
/* Fold alias into opt, two spellings of one required option (--item-name for
 * --name): after the call vv_arg(a, opt) is the value given with either. Returns -1
 * to go on, or VV_EXIT_USAGE after a usage error naming v: neither was given, or
 * both with different values ("--name and --rp-name name different WHAT"). */
int vv_args_alias(const struct vv_verb *v, struct vv_args *a, int opt, int alias,
                  const char *what) VV_MUST_CHECK;

/* Print "vmvault CMD: MESSAGE" and a hint to --help on stderr; returns
 * VV_EXIT_USAGE. */
int vv_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((warn_unused_result, format(printf, 2, 3)));
/* Find a sub-command by name in a NULL-terminated table. */
const struct vv_command *vv_cli_find(const struct vv_command *table, const char *name);
/* A group of verbs ("vault", "vault backup-properties"): --help prints usage; an
 * unknown verb is a usage error naming the group. argv[0] is the group's name. */
int vv_cli_group(const char *group, const char *usage, const struct vv_command *verbs,
                 int argc, char **argv) VV_MUST_CHECK;

/* Parse a "vda,vdb" list of disk names into a new JSON array (*out, caller
 * json_decref()s). Returns -1 to go on, or VV_EXIT_USAGE after a usage error of
 * verb naming option and the bad name. */
int vv_disk_list(const char *verb, const char *option, const char *list, json_t **out)
    VV_MUST_CHECK;
/* The JSON object in file ("-": standard input, at most 1 MiB); what names it in
 * messages ("a policy"). NULL after printing why. Caller json_decref()s. */
json_t *vv_load_json_object(const char *file, const char *what);

/* YYYY-MM-DD or DD-MM-YYYY (a real calendar day from 1970) -> YYYY-MM-DD in out.
 * Returns 0, or -1 when s is not such a date. */
int vv_date_parse(const char *s, char out[11]) VV_MUST_CHECK;

#endif
