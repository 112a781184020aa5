/*
 * cli.h: what every `vmvault` command shares: the command table entry, exit codes,
 * and output helpers. One file per command group (cmd_*.c), listed in vmvault.c.
 */
#ifndef VV_CLI_H
#define VV_CLI_H

#include <stdio.h>

/* Exit codes of every command. */
enum {
    VV_EXIT_OK = 0,
    VV_EXIT_FAIL = 1,    /* the operation failed (the message says why) */
    VV_EXIT_USAGE = 2,   /* bad command line */
    VV_EXIT_DAMAGED = 3, /* verification found missing or damaged data */
};

struct vv_command {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
    const char *summary;
    const char *usage; /* the full help text */
};

/* Print a usage error with a hint to --help; returns VV_EXIT_USAGE. */
int vv_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Find a sub-command by name in a NULL-terminated table. */
const struct vv_command *vv_cli_find(const struct vv_command *table, const char *name);
/* Print the summary list of a table (for group help). */
void vv_cli_list(FILE *out, const struct vv_command *table);
/* "1.5 GiB" style; out has room for 32 bytes. */
void vv_cli_human_bytes(unsigned long long n, char out[32]);

int vv_cmd_debug(int argc, char **argv);
extern const char vv_debug_usage[];

#endif
