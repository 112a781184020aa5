/*
 * cmd_recoverypoint.c: `vmvault recoverypoint ...`: the recovery points of a
 * protected item (/api/v1/vaults/{v}/protectedItems/{item}/recoveryPoints).
 */
#include "client.h"

const char vv_recoverypoint_usage[] =
    "usage: vmvault recoverypoint <command> [<options>]\n"
    "\n"
    "A recovery point is one consistent copy of all of a VM's disks, with the VM's\n"
    "libvirt definition, kept until its expiry time.\n"
    "\n"
    "Commands:\n"
    "  list   list an item's recovery points, newest first\n"
    "  show   show a recovery point\n"
    "  undelete\n"
    "         bring back a point soft deleted because its retention was shortened\n"
    "\n"
    "Run 'vmvault recoverypoint <command> --help' for a command's options.\n";

static const char list_usage[] =
    "usage: vmvault recoverypoint list --vault-name VAULT --item-name ITEM\n"
    "                                  [--container-name HOST] [--start-date DATE]\n"
    "                                  [--end-date DATE] [--output json|table]\n"
    "\n"
    "List a protected item's recovery points, newest first: time, expiry,\n"
    "consistency and disks. With --use-secondary-region: the points replicated to\n"
    "the paired secondary region's replica vault, from which they restore.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --item-name ITEM         the protected item (its VM's name)\n"
    "  --container-name HOST    the item's host, when items of that name are on several\n"
    "  --start-date DATE        points taken on or after DATE: YYYY-MM-DD, DD-MM-YYYY\n"
    "                           or a UTC time like 2026-11-27T21:00:00Z\n"
    "  --end-date DATE          points taken on or before DATE (same forms)\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault recoverypoint list --vault-name v1 --item-name web1 --output table\n"
    "  vmvault recoverypoint list --vault-name v1 --item-name web1 --start-date 01-11-2026\n"
    "  vmvault recoverypoint list --use-secondary-region --vault-name v1 --item-name web1\n"
    VV_HELP_TAIL;

static const char show_usage[] =
    "usage: vmvault recoverypoint show --vault-name VAULT --item-name ITEM --name POINT\n"
    "                                  [--container-name HOST] [--output json|table]\n"
    "\n"
    "Show a recovery point: its time, expiry, consistency, parent point, the job that\n"
    "made it, and per disk its size, chunk size and chunk counts.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --item-name ITEM         the protected item (its VM's name)\n"
    "  --name POINT             the recovery point's name; --rp-name is the same\n"
    "  --container-name HOST    the item's host, when items of that name are on several\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault recoverypoint show --vault-name v1 --item-name web1 \\\n"
    "      --name rp-20261127-210800-123-1a2b3c4d\n"
    VV_HELP_TAIL;

static const char undelete_usage[] =
    "usage: vmvault recoverypoint undelete --vault-name VAULT --item-name ITEM --name POINT\n"
    "                                      [--container-name HOST] [--output json|table]\n"
    "\n"
    "A recovery point whose expiry a change of retention brought forward (a resume\n"
    "with another policy, a policy edit) is soft deleted when it expires: listed with\n"
    "softDeleted true and its purgeAt time, not restorable, purged after the vault's\n"
    "soft-delete days. Undelete brings it back: it is then kept until its item's\n"
    "backup data is deleted. Needs the Operator role; the audit log records it.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --item-name ITEM         the protected item (its VM's name)\n"
    "  --name POINT             the recovery point's name; --rp-name is the same\n"
    "  --container-name HOST    the item's host, when items of that name are on several\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault recoverypoint undelete --vault-name v1 --item-name web1 \\\n"
    "      --name rp-20261127-210800-123-1a2b3c4d\n"
    VV_HELP_TAIL;

static const struct vv_simple_verb s_list = {
    .verb = {"recoverypoint list", list_usage,
             {{O_VAULT_NAME, VV_REQ}, {O_ITEM_NAME, VV_REQ}, {O_CONTAINER, 0}, {O_START_DATE, 0},
              {O_END_DATE, 0}, {O_OUTPUT, 0}, {O_HELP, 0}}},
    .method = "GET", .path = "/api/v1/vaults/%s/protectedItems/%s/recoveryPoints",
    .segs = {O_VAULT_NAME, O_ITEM_NAME},
    .query = {{"container", O_CONTAINER}, {"startDate", O_START_DATE}, {"endDate", O_END_DATE}},
    .cols = vv_cols_point};
static const struct vv_simple_verb s_show = {
    .verb = {"recoverypoint show", show_usage,
             {{O_VAULT_NAME, VV_REQ}, {O_ITEM_NAME, VV_REQ}, {O_NAME, VV_TEXT}, {O_RP_NAME, 0},
              {O_CONTAINER, 0}, {O_OUTPUT, 0}, {O_HELP, 0}}},
    .method = "GET", .path = "/api/v1/vaults/%s/protectedItems/%s/recoveryPoints/%s",
    .segs = {O_VAULT_NAME, O_ITEM_NAME, O_NAME}, .query = {{"container", O_CONTAINER}},
    .alias = {O_NAME, O_RP_NAME, "points"}, .cols = vv_cols_point};

static const struct vv_simple_verb s_undelete = {
    .verb = {"recoverypoint undelete", undelete_usage,
             {{O_VAULT_NAME, VV_REQ}, {O_ITEM_NAME, VV_REQ}, {O_NAME, VV_TEXT}, {O_RP_NAME, 0},
              {O_CONTAINER, 0}, {O_OUTPUT, 0}, {O_HELP, 0}}},
    .method = "POST", .path = "/api/v1/vaults/%s/protectedItems/%s/recoveryPoints/%s/undelete",
    .segs = {O_VAULT_NAME, O_ITEM_NAME, O_NAME}, .query = {{"container", O_CONTAINER}},
    .alias = {O_NAME, O_RP_NAME, "points"}, .cols = vv_cols_point};

static int cmd_undelete(int argc, char **argv)
{
    return vv_run_simple(&s_undelete, argc, argv);
}

static int cmd_list(int argc, char **argv)
{
    return vv_run_simple(&s_list, argc, argv);
}

static int cmd_show(int argc, char **argv)
{
    return vv_run_simple(&s_show, argc, argv);
}

static const struct vv_command rp_commands[] = {
    {"list", cmd_list, "list an item's recovery points", list_usage},
    {"show", cmd_show, "show a recovery point", show_usage},
    {"undelete", cmd_undelete, "bring back a soft-deleted recovery point", undelete_usage},
    {NULL, NULL, NULL, NULL},
};

int vv_cmd_recoverypoint(int argc, char **argv)
{
    return vv_cli_group("recoverypoint", vv_recoverypoint_usage, rp_commands, argc, argv);
}
