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
    "  update-for-vm   change an item's disks or its pre/post-scripts\n"
    "  disable         stop protecting an item, keeping or deleting its backup data\n"
    "  undelete        bring back the soft-deleted backup data of an item\n"
    "  resume          protect a stopped item again\n"
    "  backup-now      back up an item now\n"
    "\n"
    "Run 'vmvault protection <command> --help' for a command's options.\n";

static const char enable_usage[] =
    "usage: vmvault protection enable-for-vm --vault-name VAULT --vm VM --policy-name POLICY\n"
    "                                        [--container-name HOST]\n"
    "                                        [--diskslist DISK,... --disk-list-setting\n"
    "                                         include|exclude] [--script-settings FILE]\n"
    "                                        [--output json|table]\n"
    "\n"
    "Protect a VM that a registered host reports ('vmvault protectable-item list') with\n"
    "a backup policy. The VM becomes a protected item named after it, in state\n"
    "IRPending until its first recovery point. No backup is taken now: the policy's\n"
    "schedule takes the first, or run 'vmvault protection backup-now'. Prints the item\n"
    "and the ConfigureBackup job. Needs the Operator role (the Contributor role with\n"
    "--script-settings).\n"
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
    "  --script-settings FILE   the item's own consistency settings (scripts on or off,\n"
    "                           freeze, time limit), a JSON object ('-': standard\n"
    "                           input) used instead of the policy's; needs the\n"
    "                           Contributor role. See 'vmvault protection\n"
    "                           update-for-vm --help'\n"
    VV_HELP_OUTPUT
    "\n"
    "Examples:\n"
    "  vmvault protection enable-for-vm --vault-name v1 --vm web1 --policy-name DefaultPolicy\n"
    "  vmvault protection enable-for-vm --vault-name v1 --vm db1 --policy-name DefaultPolicy \\\n"
    "      --diskslist vdb --disk-list-setting exclude       # not the scratch disk\n"
    VV_HELP_TAIL;

static const char update_usage[] =
    "usage: vmvault protection update-for-vm --vault-name VAULT --item-name ITEM\n"
    "                                        [--container-name HOST]\n"
    "                                        [--diskslist DISK,... --disk-list-setting\n"
    "                                         include|exclude]\n"
    "                                        [--script-settings FILE|none]\n"
    "                                        [--output json|table]\n"
    "\n"
    "Change what the next backups of a protected item do: which disks they take, and\n"
    "the item's own consistency settings, used instead of its policy's\n"
    "scriptSettings. Prints the item. Needs the Contributor role.\n"
    "\n"
    "A backup of a running VM whose qemu-guest-agent answers runs the pre-script\n"
    "inside the guest, freezes the guest's filesystems only while the point in time\n"
    "is taken, thaws them, then runs the post-script. The point is\n"
    "ApplicationConsistent when the scripts succeeded and the freeze held,\n"
    "FileSystemConsistent when the freeze held without (successful) scripts, and\n"
    "CrashConsistent for a shut-off VM, a VM without an answering guest agent, or a\n"
    "failed freeze (the job then completes with a warning saying why).\n"
    "\n"
    "The vault never names the scripts: each guest lists its own, with their\n"
    "parameters and retries, in /etc/vmvault/VMSnapshotScriptPluginConfig.json\n"
    "(owned by root, mode 0600, the fields of Azure Backup's file of that name; see\n"
    "docs/api.md, \"The guest's script file\"). A guest without that file runs no\n"
    "script, and the job says so in a warning.\n"
    "\n"
    "The settings file is a JSON object, all fields optional:\n"
    "  scriptsEnabled            false (default); true: run the scripts the guest's\n"
    "                            file lists\n"
    "  timeoutInSeconds          the longest run of a script, 1 to 1800 (default 60);\n"
    "                            the guest's file may ask for less\n"
    "  continueBackupOnFailure   true (default): a failed or refused script gives a\n"
    "                            warning and a file-system-consistent point; false:\n"
    "                            the backup fails\n"
    "  fsFreezeEnabled           true (default): freeze the filesystems\n"
    "Settings that name a script (preScriptLocation, ...) are refused.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --item-name ITEM         the protected item (its VM's name)\n"
    "  --container-name HOST    the item's host, when items of that name are on several\n"
    "  --diskslist DISK,...     disks by target name that --disk-list-setting includes\n"
    "                           or excludes\n"
    "  --disk-list-setting S    include (only these disks) or exclude (all but these)\n"
    "  --script-settings FILE   the item's settings file ('-': standard input), or\n"
    "                           none to use its policy's again\n"
    VV_HELP_OUTPUT
    "\n"
    "Examples:\n"
    "  cat > db1-scripts.json <<'EOF'\n"
    "  {\"scriptsEnabled\": true, \"timeoutInSeconds\": 120,\n"
    "   \"continueBackupOnFailure\": false}\n"
    "  EOF\n"
    "  vmvault protection update-for-vm --vault-name v1 --item-name db1 \\\n"
    "      --script-settings db1-scripts.json\n"
    "  vmvault protection update-for-vm --vault-name v1 --item-name db1 --script-settings none\n"
    VV_HELP_TAIL;

static const char disable_usage[] =
    "usage: vmvault protection disable --vault-name VAULT --item-name ITEM\n"
    "                                  [--container-name HOST]\n"
    "                                  [--retain-as-per-policy | --delete-backup-data]\n"
    "                                  [--yes] [--output json|table]\n"
    "\n"
    "Stop protecting an item: no more scheduled backups. What happens to its recovery\n"
    "points depends on the option:\n"
    "  (none)                 the item stays, in state ProtectionStopped, and keeps all\n"
    "                         its points forever (until you delete them)\n"
    "  --retain-as-per-policy the item stays, in state BackupsSuspended, and its points\n"
    "                         expire as its policy says; the newest one is kept\n"
    "  --delete-backup-data   the item's data is deleted. With the vault's soft delete\n"
    "                         Enabled (the default) it is only soft deleted: kept for\n"
    "                         the vault's soft-delete days (14 by default), during which\n"
    "                         'vmvault protection undelete' brings it back, then purged.\n"
    "                         With soft delete Disabled it is deleted at once.\n"
    "Resume with 'vmvault protection resume'. On a terminal the command asks for\n"
    "confirmation unless --yes is given; when standard input is not a terminal it\n"
    "proceeds. The server refuses while one of the item's jobs runs\n"
    "(OperationInProgress) and an item already soft deleted (ItemAlreadyDeleted).\n"
    "Prints the item and the DisableBackup or DeleteBackupData job. Needs the\n"
    "Contributor role.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --item-name ITEM         the protected item (its VM's name)\n"
    "  --container-name HOST    the item's host, when items of that name are on several\n"
    "  --retain-as-per-policy   keep the points as long as the policy says\n"
    "  --delete-backup-data     (soft) delete the item and all its recovery points\n"
    "  --yes                    do not ask for confirmation\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault protection disable --vault-name v1 --item-name web1\n"
    "  vmvault protection disable --vault-name v1 --item-name web1 --retain-as-per-policy\n"
    "  vmvault protection disable --vault-name v1 --item-name web1 --delete-backup-data --yes\n"
    VV_HELP_TAIL;

static const char undelete_usage[] =
    "usage: vmvault protection undelete --vault-name VAULT --item-name ITEM\n"
    "                                   [--container-name HOST] [--output json|table]\n"
    "\n"
    "Bring back the backup data of an item deleted with 'protection disable\n"
    "--delete-backup-data' while it is soft deleted (deleteState ToBeDeleted, until its\n"
    "purgeAt time). The item returns to ProtectionStopped with all its recovery points\n"
    "kept; resume its protection with 'vmvault protection resume'. The server refuses\n"
    "an item that is not soft deleted (ItemNotDeleted). Prints the item and the\n"
    "Undelete job. Needs the Operator role.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --item-name ITEM         the protected item (its VM's name)\n"
    "  --container-name HOST    the item's host, when items of that name are on several\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault protection undelete --vault-name v1 --item-name web1\n"
    "  vmvault protection resume --vault-name v1 --item-name web1\n"
    VV_HELP_TAIL;

static const char resume_usage[] =
    "usage: vmvault protection resume --vault-name VAULT --item-name ITEM\n"
    "                                 [--container-name HOST] [--policy-name POLICY]\n"
    "                                 [--output json|table]\n"
    "\n"
    "Protect a stopped item (ProtectionStopped or BackupsSuspended) again, on the\n"
    "policy it had or on another one: its schedule starts again and the expiry of\n"
    "every retained recovery point follows that policy. The server refuses an item\n"
    "that is not stopped (ItemAlreadyProtected) or is soft deleted (ItemSoftDeleted:\n"
    "undelete it first). Prints the item. Needs the Operator role.\n"
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
     {O_DISKS, 0}, {O_DISK_SETTING, 0}, {O_SCRIPT_SETTINGS, 0}, {O_OUTPUT, 0}, {O_HELP, 0}}};
static const struct vv_verb v_update = {
    "protection update-for-vm", update_usage,
    {{O_VAULT_NAME, VV_REQ}, {O_ITEM_NAME, VV_REQ}, {O_CONTAINER, 0}, {O_DISKS, 0},
     {O_DISK_SETTING, 0}, {O_SCRIPT_SETTINGS, 0}, {O_OUTPUT, 0}, {O_HELP, 0}}};
static const struct vv_verb v_disable = {
    "protection disable", disable_usage,
    {{O_VAULT_NAME, VV_REQ}, {O_ITEM_NAME, VV_REQ}, {O_CONTAINER, 0}, {O_DELETE_DATA, 0},
     {O_RETAIN_PER_POLICY, 0}, {O_YES, 0}, {O_OUTPUT, 0}, {O_HELP, 0}}};
static const struct vv_verb v_undelete = {
    "protection undelete", undelete_usage,
    {{O_VAULT_NAME, VV_REQ}, {O_ITEM_NAME, VV_REQ}, {O_CONTAINER, 0}, {O_OUTPUT, 0},
     {O_HELP, 0}}};
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

/* --diskslist/--disk-list-setting and --script-settings into body. verb names the
 * command in messages; none_ok lets --script-settings be "none" (a JSON null).
 * Returns -1 when all is well, else the exit status (after printing why). */
static int settings_body(const char *verb, const struct vv_args *a, int none_ok, json_t *body)
{
    const char *ss = vv_arg(a, O_SCRIPT_SETTINGS);
    int rc;

    if (!vv_arg(a, O_DISKS) != !vv_arg(a, O_DISK_SETTING))
        return vv_cli_usage_error(verb, "--diskslist and --disk-list-setting go together");
    if (vv_arg(a, O_DISKS)) {
        json_t *list;
        if ((rc = vv_disk_list(verb, "--diskslist", vv_arg(a, O_DISKS), &list)) >= 0)
            return rc;
        json_object_set_new(body, "diskSettings",
                            json_pack("{s:s,s:o}", "setting", vv_arg(a, O_DISK_SETTING),
                                      "disks", list));
    }
    if (ss && none_ok && !strcmp(ss, "none")) {
        json_object_set_new(body, "scriptSettings", json_null());
    } else if (ss) {
        json_t *j = vv_load_json_object(ss, "script settings");
        if (!j)
            return VV_EXIT_FAIL;
        json_object_set_new(body, "scriptSettings", j);
    }
    return -1;
}

static int cmd_enable(int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    json_t *body;
    int rc = vv_args_parse(&v_enable, argc, argv, &a);

    if (rc >= 0)
        return rc;
    body = json_pack("{s:s,s:s}", "vm", vv_arg(&a, O_VM), "policy", vv_arg(&a, O_POLICY_NAME));
    if (vv_arg(&a, O_CONTAINER))
        json_object_set_new(body, "container", json_string(vv_arg(&a, O_CONTAINER)));
    if ((rc = settings_body("protection enable-for-vm", &a, 0, body)) >= 0) {
        json_decref(body);
        return rc;
    }
    vv_path_init(&p, "/api/v1/vaults/%s/protectedItems", vv_arg(&a, O_VAULT_NAME));
    rc = vv_request_show(&a, NULL, "POST", &p, body, show_item_and_job, NULL);
    json_decref(body);
    return rc;
}

static int cmd_update(int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    json_t *body;
    int rc = vv_args_parse(&v_update, argc, argv, &a);

    if (rc >= 0)
        return rc;
    if (!vv_arg(&a, O_DISKS) && !vv_arg(&a, O_DISK_SETTING) && !vv_arg(&a, O_SCRIPT_SETTINGS))
        return vv_cli_usage_error("protection update-for-vm",
                                  "nothing to change: give --diskslist with "
                                  "--disk-list-setting, or --script-settings");
    body = json_object();
    if ((rc = settings_body("protection update-for-vm", &a, 1, body)) >= 0) {
        json_decref(body);
        return rc;
    }
    vv_path_init(&p, "/api/v1/vaults/%s/protectedItems/%s", vv_arg(&a, O_VAULT_NAME),
                 vv_arg(&a, O_ITEM_NAME));
    vv_path_query(&p, "container", vv_arg(&a, O_CONTAINER));
    rc = vv_request_print(&a, "PATCH", &p, body, vv_cols_item);
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
    int del, per_policy, rc = vv_args_parse(&v_disable, argc, argv, &a);

    if (rc >= 0)
        return rc;
    del = vv_arg(&a, O_DELETE_DATA) != NULL;
    per_policy = vv_arg(&a, O_RETAIN_PER_POLICY) != NULL;
    if (del && per_policy)
        return vv_cli_usage_error("protection disable", "--retain-as-per-policy and "
                                  "--delete-backup-data exclude each other");
    snprintf(question, sizeof(question), del
             ? "Stop protecting '%s' and DELETE all its recovery points?"
             : per_policy ? "Stop protecting '%s' (its recovery points expire as its policy says)?"
                          : "Stop protecting '%s' (its recovery points are kept)?",
             vv_arg(&a, O_ITEM_NAME));
    body = json_pack("{s:b,s:b}", "deleteBackupData", del, "retainAsPerPolicy", per_policy);
    item_action_path(&p, &a, "disable");
    rc = vv_request_show(&a, &ask, "POST", &p, body, show_item_and_job, NULL);
    json_decref(body);
    return rc;
}

static int cmd_undelete(int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    json_t *body;
    int rc = vv_args_parse(&v_undelete, argc, argv, &a);

    if (rc >= 0)
        return rc;
    body = json_object();
    item_action_path(&p, &a, "undelete");
    rc = vv_request_show(&a, NULL, "POST", &p, body, show_item_and_job, NULL);
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
    {"update-for-vm", cmd_update, "change an item's disks or scripts", update_usage},
    {"disable", cmd_disable, "stop protecting an item", disable_usage},
    {"undelete", cmd_undelete, "bring back soft-deleted backup data", undelete_usage},
    {"resume", cmd_resume, "protect a stopped item again", resume_usage},
    {"backup-now", cmd_backup, "back up an item now", backup_usage},
    {NULL, NULL, NULL, NULL},
};

int vv_cmd_protection(int argc, char **argv)
{
    return vv_cli_group("protection", vv_protection_usage, protection_commands, argc, argv);
}
