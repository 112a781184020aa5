/*
 * cmd_protection.c: `vmvault protection ...`: protect a VM with a policy, stop
 * protection (keeping or deleting its recovery points), resume it, and back up an
 * item now (/api/v1/vaults/{v}/protectedItems...).
 */
#include <stdio.h>
#include <string.h>

#include "client.h"

const char vv_protection_usage[] =
    "usage: vmvault protection <command> [<options>]\n"
    "\n"
    "Protection puts a VM of a registered host under a backup policy: it becomes a\n"
    "protected item of the vault, backed up on the policy's schedule or on demand.\n"
    "\n"
    "Commands:\n"
    "  enable-for-vm   protect a VM with a policy\n"
    "  disable         stop protecting an item, keeping or deleting its backup data\n"
    "  resume          protect a stopped item again\n"
    "  backup-now      back up an item now\n"
    "\n"
    "Run 'vmvault protection <command> --help' for a command's options.\n";

static const char enable_usage[] =
    "usage: vmvault protection enable-for-vm --vault-name VAULT --vm VM --policy-name POLICY\n"
    "                                        [--container-name HOST]\n"
    "                                        [--diskslist DISK,... --disk-list-setting\n"
    "                                         include|exclude] [--output json|table]\n"
    "\n"
    "Protect a VM that a registered host reports ('vmvault protectable-item list') with\n"
    "a backup policy. The VM becomes a protected item named after it, in state\n"
    "IRPending until its first recovery point. No backup is taken now: the policy's\n"
    "schedule takes the first, or run 'vmvault protection backup-now'. Prints the item\n"
    "and the ConfigureBackup job. Needs the Operator role.\n"
    "\n"
    "The server refuses a VM whose host's region differs from the vault's location\n"
    "(VmRegionMismatch), a VM protected in another vault\n"
    "(VmAlreadyProtectedInAnotherVault) or already here (ItemAlreadyProtected).\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --vm VM                  the VM's name or UUID\n"
    "  --policy-name POLICY     the backup policy, e.g. DefaultPolicy\n"
    "  --container-name HOST    the VM's host, when VMs of that name run on several\n"
    "  --diskslist DISK,...     disks by target name (vda,vdb) that --disk-list-setting\n"
    "                           includes in or excludes from every backup (default:\n"
    "                           all disks)\n"
    "  --disk-list-setting S    include (only these disks) or exclude (all but these)\n"
    VV_HELP_OUTPUT
    "\n"
    "Examples:\n"
    "  vmvault protection enable-for-vm --vault-name v1 --vm web1 --policy-name DefaultPolicy\n"
    "  vmvault protection enable-for-vm --vault-name v1 --vm db1 --policy-name DefaultPolicy \\\n"
    "      --diskslist vdb --disk-list-setting exclude       # not the scratch disk\n"
    VV_HELP_TAIL;

static const char disable_usage[] =
    "usage: vmvault protection disable --vault-name VAULT --item-name ITEM\n"
    "                                  [--container-name HOST] [--delete-backup-data]\n"
    "                                  [--yes] [--output json|table]\n"
    "\n"
    "Stop protecting an item. Without --delete-backup-data the item stays, in state\n"
    "ProtectionStopped, with all its recovery points (no more backups; resume with\n"
    "'vmvault protection resume'). With --delete-backup-data the item and every\n"
    "recovery point of it are removed; their data goes at the next garbage collection.\n"
    "On a terminal the command asks for confirmation unless --yes is given; when\n"
    "standard input is not a terminal it proceeds. The server refuses while one of the\n"
    "item's jobs runs (OperationInProgress). Prints the DisableBackup or\n"
    "DeleteBackupData job. Needs the Contributor role.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --item-name ITEM         the protected item (its VM's name)\n"
    "  --container-name HOST    the item's host, when items of that name are on several\n"
    "  --delete-backup-data     also delete the item and all its recovery points\n"
    "  --yes                    do not ask for confirmation\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault protection disable --vault-name v1 --item-name web1\n"
    "  vmvault protection disable --vault-name v1 --item-name web1 --delete-backup-data --yes\n"
    VV_HELP_TAIL;

static const char resume_usage[] =
    "usage: vmvault protection resume --vault-name VAULT --item-name ITEM\n"
    "                                 [--container-name HOST] [--policy-name POLICY]\n"
    "                                 [--output json|table]\n"
    "\n"
    "Protect a stopped item (ProtectionStopped) again, on the policy it had or on\n"
    "another one. Its retained recovery points stay. The server refuses an item that\n"
    "is not stopped (ItemAlreadyProtected). Prints the item. Needs the Operator role.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --item-name ITEM         the protected item (its VM's name)\n"
    "  --container-name HOST    the item's host, when items of that name are on several\n"
    "  --policy-name POLICY     the policy to use (default: the one it had)\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault protection resume --vault-name v1 --item-name web1 --policy-name Weekly\n"
    VV_HELP_TAIL;

static const char backup_usage[] =
    "usage: vmvault protection backup-now --vault-name VAULT --item-name ITEM\n"
    "                                     [--container-name HOST] [--retain-until DATE]\n"
    "                                     [--output json|table]\n"
    "\n"
    "Back up a protected item now, outside its policy's schedule. The command starts\n"
    "a Backup job, which the item's host agent picks up, prints it and returns; follow\n"
    "it with 'vmvault job wait'. The server refuses a stopped item (ItemNotProtected)\n"
    "and while another backup of the item is queued or running (OperationInProgress).\n"
    "Needs the Operator role.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --item-name ITEM         the protected item (its VM's name)\n"
    "  --container-name HOST    the item's host, when items of that name are on several\n"
    "  --retain-until DATE      keep the recovery point until the end of DATE (UTC),\n"
    "                           YYYY-MM-DD or DD-MM-YYYY, at most 99 years ahead\n"
    "                           (default: 30 days from now)\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault protection backup-now --vault-name v1 --item-name web1 \\\n"
    "      --retain-until 31-12-2026\n"
    "  job=$(vmvault protection backup-now --vault-name v1 --item-name web1 | jq -r .id)\n"
    "  vmvault job wait --vault-name v1 --name \"$job\"\n"
    VV_HELP_TAIL;

static const struct vv_verb v_enable = {
    "protection enable-for-vm", enable_usage,
    {{O_VAULT_NAME, VV_REQ}, {O_VM, VV_REQ}, {O_POLICY_NAME, VV_REQ}, {O_CONTAINER, 0},
     {O_DISKS, 0}, {O_DISK_SETTING, 0}, {O_OUTPUT, 0}, {O_HELP, 0}}};
static const struct vv_verb v_disable = {
    "protection disable", disable_usage,
    {{O_VAULT_NAME, VV_REQ}, {O_ITEM_NAME, VV_REQ}, {O_CONTAINER, 0}, {O_DELETE_DATA, 0},
     {O_YES, 0}, {O_OUTPUT, 0}, {O_HELP, 0}}};
static const struct vv_verb v_resume = {
    "protection resume", resume_usage,
    {{O_VAULT_NAME, VV_REQ}, {O_ITEM_NAME, VV_REQ}, {O_CONTAINER, 0}, {O_POLICY_NAME, 0},
     {O_OUTPUT, 0}, {O_HELP, 0}}};
static const struct vv_verb v_backup = {
    "protection backup-now", backup_usage,
    {{O_VAULT_NAME, VV_REQ}, {O_ITEM_NAME, VV_REQ}, {O_CONTAINER, 0}, {O_RETAIN_UNTIL, 0},
     {O_OUTPUT, 0}, {O_HELP, 0}}};

/* /api/v1/vaults/{v}/protectedItems/{item}/{action}[?container=C] */
static void item_action_path(struct vv_path *p, const struct vv_args *a, const char *action)
{
    vv_path_init(p, "/api/v1/vaults/%s/protectedItems/%s/%s", vv_arg(a, O_VAULT_NAME),
                 vv_arg(a, O_ITEM_NAME), action);
    vv_path_query(p, "container", vv_arg(a, O_CONTAINER));
}

/* Print an {"item": ..., "job": ...} answer: as is in JSON; the item's row (when
 * there is one) and the job's row in a table. */
static void show_item_and_job(const struct vv_client *c, const json_t *ans, const void *ctx)
{
    const json_t *item = json_object_get(ans, "item"), *job = json_object_get(ans, "job");

    (void)ctx;
    if (c->json) {
        vv_print_json(ans);
        return;
    }
    if (json_is_object(item)) {
        vv_print(0, item, vv_cols_item);
        putchar('\n');
    }
    if (json_is_object(job))
        vv_print(0, job, vv_cols_job);
}

/* Print a Backup job; in a table also how to follow it (ctx: the vault's name). */
static void show_backup_job(const struct vv_client *c, const json_t *ans, const void *vault)
{
    vv_print(c->json, ans, vv_cols_job);
    if (!c->json && json_is_string(json_object_get(ans, "id")))
        printf("\nFollow it with: vmvault job wait --vault-name %s --name %s\n",
               (const char *)vault, json_string_value(json_object_get(ans, "id")));
}

static int cmd_enable(int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    json_t *body;
    int rc = vv_args_parse(&v_enable, argc, argv, &a);

    if (rc >= 0)
        return rc;
    if (!vv_arg(&a, O_DISKS) != !vv_arg(&a, O_DISK_SETTING))
        return vv_cli_usage_error("protection enable-for-vm",
                                  "--diskslist and --disk-list-setting go together");
    body = json_pack("{s:s,s:s}", "vm", vv_arg(&a, O_VM), "policy", vv_arg(&a, O_POLICY_NAME));
    if (vv_arg(&a, O_CONTAINER))
        json_object_set_new(body, "container", json_string(vv_arg(&a, O_CONTAINER)));
    if (vv_arg(&a, O_DISKS)) {
        json_t *list;
        if ((rc = vv_disk_list("protection enable-for-vm", "--diskslist", vv_arg(&a, O_DISKS),
                               &list)) >= 0) {
            json_decref(body);
            return rc;
        }
        json_object_set_new(body, "diskSettings",
                            json_pack("{s:s,s:o}", "setting", vv_arg(&a, O_DISK_SETTING), "disks",
                                      list));
    }
    vv_path_init(&p, "/api/v1/vaults/%s/protectedItems", vv_arg(&a, O_VAULT_NAME));
    rc = vv_request_show(&a, NULL, "POST", &p, body, show_item_and_job, NULL);
    json_decref(body);
    return rc;
}

static int cmd_disable(int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    json_t *body;
    char question[1200]; /* room for any item name */
    const struct vv_ask ask = {question, "nothing changed"};
    int del, rc = vv_args_parse(&v_disable, argc, argv, &a);

    if (rc >= 0)
        return rc;
    del = vv_arg(&a, O_DELETE_DATA) != NULL;
    snprintf(question, sizeof(question), del
             ? "Stop protecting '%s' and DELETE all its recovery points?"
             : "Stop protecting '%s' (its recovery points are kept)?",
             vv_arg(&a, O_ITEM_NAME));
    body = json_pack("{s:b}", "deleteBackupData", del);
    item_action_path(&p, &a, "disable");
    rc = vv_request_show(&a, &ask, "POST", &p, body, show_item_and_job, NULL);
    json_decref(body);
    return rc;
}

static int cmd_resume(int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    json_t *body;
    int rc = vv_args_parse(&v_resume, argc, argv, &a);

    if (rc >= 0)
        return rc;
    body = json_object();
    if (vv_arg(&a, O_POLICY_NAME))
        json_object_set_new(body, "policy", json_string(vv_arg(&a, O_POLICY_NAME)));
    item_action_path(&p, &a, "resume");
    rc = vv_request_print(&a, "POST", &p, body, vv_cols_item);
    json_decref(body);
    return rc;
}

static int cmd_backup(int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    json_t *body;
    int rc = vv_args_parse(&v_backup, argc, argv, &a);

    if (rc >= 0)
        return rc;
    body = json_object();
    if (vv_arg(&a, O_RETAIN_UNTIL))
        json_object_set_new(body, "retainUntil", json_string(vv_arg(&a, O_RETAIN_UNTIL)));
    item_action_path(&p, &a, "backup");
    rc = vv_request_show(&a, NULL, "POST", &p, body, show_backup_job, vv_arg(&a, O_VAULT_NAME));
    json_decref(body);
    return rc;
}

static const struct vv_command protection_commands[] = {
    {"enable-for-vm", cmd_enable, "protect a VM with a policy", enable_usage},
    {"disable", cmd_disable, "stop protecting an item", disable_usage},
    {"resume", cmd_resume, "protect a stopped item again", resume_usage},
    {"backup-now", cmd_backup, "back up an item now", backup_usage},
    {NULL, NULL, NULL, NULL},
};

int vv_cmd_protection(int argc, char **argv)
{
    return vv_cli_group("protection", vv_protection_usage, protection_commands, argc, argv);
}
