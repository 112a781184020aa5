/*
 * cmd_restore.c: `vmvault restore restore-disks`, a Restore job that the item's
 * host agent carries out (POST .../recoveryPoints/{rp}/restore).
 */
#include <stdio.h>
#include <string.h>

#include "client.h"

const char vv_restore_usage[] =
    "usage: vmvault restore <command> [<options>]\n"
    "\n"
    "Bring a recovery point back: its disks as files, as a new VM, or over the\n"
    "original VM's disks. The item's host agent does the work in a Restore job.\n"
    "\n"
    "Commands:\n"
    "  restore-disks   restore the disks of a recovery point\n"
    "\n"
    "Run 'vmvault restore <command> --help' for a command's options.\n";

static const char disks_usage[] =
    "usage: vmvault restore restore-disks --vault-name VAULT --item-name ITEM --rp-name RP\n"
    "                                     [--target-dir DIR] [--format qcow2|raw]\n"
    "                                     [--restore-mode MODE] [--target-vm-name NAME]\n"
    "                                     [--diskslist DISK,...] [--container-name HOST]\n"
    "                                     [--target-host HOST] [--use-secondary-region]\n"
    "                                     [--output json|table]\n"
    "\n"
    "Restore a recovery point's disks on the item's host, in a Restore job; follow it\n"
    "with 'vmvault job wait'. Every chunk is checked against its SHA-256 before it is\n"
    "written; each disk is written under a temporary name and renamed only when\n"
    "complete. The restored bytes are identical to the disk at backup time.\n"
    "\n"
    "Cross-region restore: with --use-secondary-region the command goes to the paired\n"
    "secondary region's server, whose replica vault holds the replicated points. The\n"
    "item's own host is in the primary region and never registered there, so name a\n"
    "host of the secondary region registered with the replica vault: --target-host\n"
    "(without it the server answers TargetHostRequired, naming the registered hosts).\n"
    "\n"
    "Restore modes:\n"
    "  RestoreDisks        (default) each disk as DIR/<vm>-<disk>.<format>\n"
    "  AlternateLocation   the same, then a new VM defined from the saved definition\n"
    "                      with a new name (--target-vm-name, default\n"
    "                      <vm>-restored-<time>), a new UUID and new MAC addresses;\n"
    "                      it is not started\n"
    "  OriginalLocation    the VM (shut off) gets its disks back in place, in their\n"
    "                      own format; its current files are kept aside as\n"
    "                      <file>.pre-restore-<time>\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --item-name ITEM         the protected item (its VM's name)\n"
    "  --rp-name RP             the recovery point ('vmvault recoverypoint list')\n"
    "  --target-dir DIR         absolute folder on the host for the disks (not with\n"
    "                           OriginalLocation); created when missing\n"
    "  --format qcow2|raw       file format of restored disks (default: each disk's\n"
    "                           format at backup time)\n"
    "  --restore-mode MODE      RestoreDisks, AlternateLocation or OriginalLocation\n"
    "  --target-vm-name NAME    the new VM's name (AlternateLocation)\n"
    "  --diskslist DISK,...     only these disks, by target name (e.g. vda,vdb)\n"
    "  --container-name HOST    the item's host, when items of that name are on several\n"
    "  --target-host HOST       the registered host that runs the restore (default: the\n"
    "                           item's own host); needed on a replica vault\n"
    VV_HELP_OUTPUT
    "\n"
    "Examples:\n"
    "  vmvault restore restore-disks --vault-name v1 --item-name web1 \\\n"
    "      --rp-name rp-20261127-210800-123-1a2b3c4d --target-dir /srv/restore\n"
    "  vmvault restore restore-disks --vault-name v1 --item-name web1 --rp-name RP \\\n"
    "      --target-dir /var/lib/libvirt/images --restore-mode AlternateLocation \\\n"
    "      --target-vm-name web1-copy\n"
    "  vmvault restore restore-disks --vault-name v1 --item-name web1 --rp-name RP \\\n"
    "      --restore-mode OriginalLocation\n"
    "  vmvault restore restore-disks --use-secondary-region --vault-name v1 \\\n"
    "      --item-name web1 --rp-name RP --target-host host7 --target-dir /srv/restore\n"
    VV_HELP_TAIL;

static const struct vv_verb v_disks = {
    "restore restore-disks",
    disks_usage,
    {{O_VAULT_NAME, VV_REQ},
     {O_ITEM_NAME, VV_REQ},
     {O_RP_NAME, VV_REQ},
     {O_TARGET_DIR, 0},
     {O_FORMAT, 0},
     {O_RESTORE_MODE, 0},
     {O_TARGET_VM_NAME, 0},
     {O_DISKS, 0},
     {O_CONTAINER, 0},
     {O_TARGET_HOST, 0},
     {O_OUTPUT, 0},
     {O_HELP, 0}}};


static int cmd_disks(int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    const char *mode, *dir, *list;
    json_t *body;
    int rc = vv_args_parse(&v_disks, argc, argv, &a);

    if (rc >= 0)
        return rc;
    mode = vv_arg(&a, O_RESTORE_MODE);
    dir = vv_arg(&a, O_TARGET_DIR);
    if ((!mode || strcmp(mode, "OriginalLocation") != 0) && !dir)
        return vv_cli_usage_error("restore restore-disks",
                                  "--target-dir is required (except with --restore-mode "
                                  "OriginalLocation)");
    if (mode && !strcmp(mode, "OriginalLocation") && dir)
        return vv_cli_usage_error("restore restore-disks",
                                  "--target-dir does not apply to OriginalLocation");
    if (dir && dir[0] != '/')
        return vv_cli_usage_error("restore restore-disks",
                                  "--target-dir must be an absolute path on the host");
    if (vv_arg(&a, O_TARGET_VM_NAME) && (!mode || strcmp(mode, "AlternateLocation") != 0))
        return vv_cli_usage_error("restore restore-disks",
                                  "--target-vm-name goes with --restore-mode AlternateLocation");
    body = json_object();
    if (mode)
        json_object_set_new(body, "restoreMode", json_string(mode));
    if (dir)
        json_object_set_new(body, "targetDirectory", json_string(dir));
    if (vv_arg(&a, O_FORMAT))
        json_object_set_new(body, "format", json_string(vv_arg(&a, O_FORMAT)));
    if (vv_arg(&a, O_TARGET_VM_NAME))
        json_object_set_new(body, "targetVmName", json_string(vv_arg(&a, O_TARGET_VM_NAME)));
    if (vv_arg(&a, O_TARGET_HOST))
        json_object_set_new(body, "targetHost", json_string(vv_arg(&a, O_TARGET_HOST)));
    if ((list = vv_arg(&a, O_DISKS))) {
        json_t *arr;
        if ((rc = vv_disk_list("restore restore-disks", "--diskslist", list, &arr)) >= 0) {
            json_decref(body);
            return rc;
        }
        json_object_set_new(body, "disks", arr);
    }
    vv_path_init(&p, "/api/v1/vaults/%s/protectedItems/%s/recoveryPoints/%s/restore",
                 vv_arg(&a, O_VAULT_NAME), vv_arg(&a, O_ITEM_NAME), vv_arg(&a, O_RP_NAME));
    vv_path_query(&p, "container", vv_arg(&a, O_CONTAINER));
    rc = vv_request_show(&a, NULL, "POST", &p, body, vv_show_job, vv_arg(&a, O_VAULT_NAME));
    json_decref(body);
    return rc;
}

static const struct vv_command restore_commands[] = {
    {"restore-disks", cmd_disks, "restore the disks of a recovery point", disks_usage},
    {NULL, NULL, NULL, NULL},
};

int vv_cmd_restore(int argc, char **argv)
{
    return vv_cli_group("restore", vv_restore_usage, restore_commands, argc, argv);
}
