/*
 * cmd_item.c: `vmvault item ...`: the protected items (backup items) of a vault
 * (/api/v1/vaults/{v}/protectedItems).
 */
#include "client.h"

const char vv_item_usage[] =
    "usage: vmvault item <command> [<options>]\n"
    "\n"
    "A protected item (backup item) is a VM under a backup policy, named after the VM.\n"
    "Its state is IRPending until its first recovery point, then Protected, or\n"
    "ProtectionStopped once protection is disabled with its data kept.\n"
    "\n"
    "Commands:\n"
    "  list   list a vault's protected items\n"
    "  show   show a protected item\n"
    "\n"
    "Run 'vmvault item <command> --help' for a command's options.\n";

static const char list_usage[] =
    "usage: vmvault item list --vault-name VAULT [--container-name HOST]\n"
    "                         [--output json|table]\n"
    "\n"
    "List a vault's protected items: host, policy, protection state, the last backup's\n"
    "status and time, and the number of recovery points.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --container-name HOST    only the items of this host\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault item list --vault-name v1 --output table\n"
    VV_HELP_TAIL;

static const char show_usage[] =
    "usage: vmvault item show --vault-name VAULT --name ITEM [--container-name HOST]\n"
    "                         [--output json|table]\n"
    "\n"
    "Show a protected item. Where VMs of the same name on two hosts are both protected,\n"
    "name the host with --container-name; without it the server answers\n"
    "AmbiguousItemName.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --name ITEM              the item (its VM's name); --item-name is the same\n"
    "  --container-name HOST    the item's host\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault item show --vault-name v1 --name web1\n"
    VV_HELP_TAIL;

static const struct vv_simple_verb s_list = {
    .verb = {"item list", list_usage,
             {{O_VAULT_NAME, VV_REQ}, {O_CONTAINER, 0}, {O_OUTPUT, 0}, {O_HELP, 0}}},
    .method = "GET", .path = "/api/v1/vaults/%s/protectedItems", .segs = {O_VAULT_NAME},
    .query = {{"container", O_CONTAINER}}, .cols = vv_cols_item};
static const struct vv_simple_verb s_show = {
    .verb = {"item show", show_usage,
             {{O_VAULT_NAME, VV_REQ}, {O_NAME, VV_TEXT}, {O_ITEM_NAME, 0}, {O_CONTAINER, 0},
              {O_OUTPUT, 0}, {O_HELP, 0}}},
    .method = "GET", .path = "/api/v1/vaults/%s/protectedItems/%s",
    .segs = {O_VAULT_NAME, O_NAME}, .query = {{"container", O_CONTAINER}},
    .alias = {O_NAME, O_ITEM_NAME, "items"}, .cols = vv_cols_item};

static int cmd_list(int argc, char **argv)
{
    return vv_run_simple(&s_list, argc, argv);
}

static int cmd_show(int argc, char **argv)
{
    return vv_run_simple(&s_show, argc, argv);
}

static const struct vv_command item_commands[] = {
    {"list", cmd_list, "list protected items", list_usage},
    {"show", cmd_show, "show a protected item", show_usage},
    {NULL, NULL, NULL, NULL},
};

int vv_cmd_item(int argc, char **argv)
{
    return vv_cli_group("item", vv_item_usage, item_commands, argc, argv);
}
