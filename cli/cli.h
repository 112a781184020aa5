/*
 * cli.h: what every `vmvault` command shares: the command table entry, exit codes,
 * and the entry point of each command group. One file per command group
 * (cmd_*.c), listed in vmvault.c; the helpers they share are in args.h (the
 * command line), request.h (the vault server) and output.h (printing).
 */
#ifndef VV_CLI_H
#define VV_CLI_H

#include "err.h"

#include <stdio.h>

#define VV_VERSION "0.1.0"

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

int vv_cmd_debug(int argc, char **argv) VV_MUST_CHECK;
extern const char vv_debug_usage[];

/* Command groups that drive a vault server over its REST API (client.h). */
int vv_cmd_login(int argc, char **argv) VV_MUST_CHECK;
int vv_cmd_logout(int argc, char **argv) VV_MUST_CHECK;
int vv_cmd_vault(int argc, char **argv) VV_MUST_CHECK;
int vv_cmd_policy(int argc, char **argv) VV_MUST_CHECK;
int vv_cmd_container(int argc, char **argv) VV_MUST_CHECK;
int vv_cmd_protectable_item(int argc, char **argv) VV_MUST_CHECK;
int vv_cmd_protection(int argc, char **argv) VV_MUST_CHECK;
int vv_cmd_item(int argc, char **argv) VV_MUST_CHECK;
int vv_cmd_job(int argc, char **argv) VV_MUST_CHECK;
int vv_cmd_recoverypoint(int argc, char **argv) VV_MUST_CHECK;
int vv_cmd_user(int argc, char **argv) VV_MUST_CHECK;
int vv_cmd_token(int argc, char **argv) VV_MUST_CHECK;
int vv_cmd_restore(int argc, char **argv) VV_MUST_CHECK;
int vv_cmd_pairing(int argc, char **argv) VV_MUST_CHECK;
extern const char vv_login_usage[], vv_logout_usage[], vv_vault_usage[], vv_policy_usage[],
    vv_container_usage[], vv_protectable_item_usage[], vv_protection_usage[], vv_item_usage[],
    vv_job_usage[], vv_recoverypoint_usage[], vv_user_usage[], vv_token_usage[],
    vv_restore_usage[], vv_pairing_usage[];

#endif
