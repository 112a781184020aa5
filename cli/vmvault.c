/*
 * vmvault.c: the `vmvault` command line. Verbs follow `az backup` (vault, policy,
 * protection, container, item, job, recoverypoint, restore) as the vault server
 * grows them; `debug` drives the storage engine directly on a local store.
 * This file holds main and the table of command groups; each group is a cmd_*.c
 * file, and what they share is in args.c, request.c and output.c.
 */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"

static const char main_usage[] =
    "usage: vmvault [--version] [--help] <command> [<args>]\n"
    "\n"
    "vmvault keeps deduplicated, compressed, encrypted recovery points of libvirt\n"
    "virtual machines in a vault.\n"
    "\n"
    "Commands:\n";

static const struct vv_command commands[] = {
    {"login", vv_cmd_login, "check a server URL and token and save them for later commands",
     vv_login_usage},
    {"logout", vv_cmd_logout, "forget the saved server URL and token", vv_logout_usage},
    {"vault", vv_cmd_vault, "create, list, show and delete vaults; backup properties; credentials",
     vv_vault_usage},
    {"policy", vv_cmd_policy, "backup policies: schedule and retention", vv_policy_usage},
    {"container", vv_cmd_container, "hosts registered with a vault", vv_container_usage},
    {"protectable-item", vv_cmd_protectable_item, "VMs the registered hosts report",
     vv_protectable_item_usage},
    {"protection", vv_cmd_protection, "enable, disable and resume protection; back up now",
     vv_protection_usage},
    {"item", vv_cmd_item, "protected items (backup items)", vv_item_usage},
    {"job", vv_cmd_job, "list, show, stop and wait for jobs", vv_job_usage},
    {"recoverypoint", vv_cmd_recoverypoint, "recovery points of a protected item",
     vv_recoverypoint_usage},
    {"restore", vv_cmd_restore, "restore a recovery point's disks, as a new VM or in place",
     vv_restore_usage},
    {"pairing", vv_cmd_pairing, "pair with a vault server in another region; replication",
     vv_pairing_usage},
    {"user", vv_cmd_user, "users and their roles (Owner)", vv_user_usage},
    {"token", vv_cmd_token, "API tokens of users (Owner)", vv_token_usage},
    {"debug", vv_cmd_debug, "drive the storage engine on a local store (back up, restore, verify images)",
     vv_debug_usage},
    {NULL, NULL, NULL, NULL},
};

/* The summary list of a table. */
static void list_commands(FILE *out, const struct vv_command *table)
{
    for (const struct vv_command *c = table; c->name; c++)
        fprintf(out, "  %-16s %s\n", c->name, c->summary);
}

int main(int argc, char **argv)
{
    const struct vv_command *c;

    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        if (argc >= 3 && !strcmp(argv[1], "help") && (c = vv_cli_find(commands, argv[2]))) {
            fputs(c->usage, stdout);
            return VV_EXIT_OK;
        }
        fputs(main_usage, argc < 2 ? stderr : stdout);
        list_commands(argc < 2 ? stderr : stdout, commands);
        fputs("\nRun 'vmvault <command> --help' for a command's options. The commands\n"
              "before 'debug' talk to a vault server: start with 'vmvault login'.\n",
              argc < 2 ? stderr : stdout);
        return argc < 2 ? VV_EXIT_USAGE : VV_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("vmvault %s\n", VV_VERSION);
        return VV_EXIT_OK;
    }
    c = vv_cli_find(commands, argv[1]);
    if (!c) {
        fprintf(stderr, "vmvault: '%s' is not a command. Run 'vmvault --help'.\n", argv[1]);
        return VV_EXIT_USAGE;
    }
    return c->run(argc - 1, argv + 1);
}
