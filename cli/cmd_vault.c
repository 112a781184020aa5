/*
 * cmd_vault.c: `vmvault vault ...`: create, list, show and delete vaults, their
 * backup properties (storage redundancy, soft delete), and vault credentials files
 * with which hosts register (POST /api/v1/vaults, /vaults/{v}/backupProperties,
 * /vaults/{v}/credentials), the vault's replication state, and the jobs that
 * prune, collect and verify it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "util.h"

const char vv_vault_usage[] =
    "usage: vmvault vault <command> [<options>]\n"
    "\n"
    "A vault holds the policies, registered hosts, protected items, recovery points and\n"
    "jobs of a set of VMs, with its own encrypted store. Vaults have a location; hosts\n"
    "of that region register with it using vault credentials.\n"
    "\n"
    "Commands:\n"
    "  create              create a vault\n"
    "  list                list vaults\n"
    "  show                show a vault\n"
    "  delete              delete an empty vault\n"
    "  backup-properties   show or set storage redundancy and soft delete\n"
    "  credentials         write a vault credentials file for registering hosts\n"
    "  key export          write the vault's key, wrapped with a passphrase, to a file\n"
    "  prune               remove expired recovery points now\n"
    "  gc                  free the space of chunks no recovery point uses any more\n"
    "  verify              re-read and check every chunk of every recovery point\n"
    "\n"
    "Run 'vmvault vault <command> --help' for a command's options.\n";

static const char create_usage[] =
    "usage: vmvault vault create --name VAULT --location LOCATION\n"
    "                            [--backup-storage-redundancy GeoRedundant|LocallyRedundant]\n"
    "                            [--soft-delete-feature-state Enable|Disable]\n"
    "                            [--soft-delete-duration DAYS] [--output json|table]\n"
    "\n"
    "Create a vault. It gets its own chunk store and key, and a policy named\n"
    "DefaultPolicy (daily at 02:00 UTC, kept 30 days). Hosts whose region differs from\n"
    "the vault's location cannot protect their VMs in it. Needs the Contributor role.\n"
    "\n"
    "Options:\n"
    "  --name VAULT             the vault's name: 1 to 64 letters, digits, '.', '_',\n"
    "                           '-', starting with a letter or digit\n"
    "  --location LOCATION      the vault's location (region), e.g. westeurope\n"
    "  --backup-storage-redundancy GeoRedundant|LocallyRedundant\n"
    "                           storage redundancy (default: GeoRedundant); it cannot\n"
    "                           change once the vault protects an item\n"
    "  --soft-delete-feature-state Enable|Disable\n"
    "                           keep deleted backup data for a while (default: Enable)\n"
    "  --soft-delete-duration DAYS\n"
    "                           days deleted data is kept, 14 to 180 (default: 14)\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault vault create --name v1 --location westeurope\n"
    "  vmvault vault create --name lab --location westeurope \\\n"
    "      --backup-storage-redundancy LocallyRedundant --soft-delete-feature-state Disable\n"
    VV_HELP_TAIL;

static const char list_usage[] =
    "usage: vmvault vault list [--output json|table]\n"
    "\n"
    "List every vault: name, location, redundancy, soft delete, counts of protected\n"
    "items, recovery points and registered hosts, and for a replica vault (on a\n"
    "paired secondary) the region of the primary it replicates.\n"
    "\n"
    "Options:\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault vault list --output table\n"
    VV_HELP_TAIL;

static const char show_usage[] =
    "usage: vmvault vault show --name VAULT [--output json|table]\n"
    "\n"
    "Show a vault: its id, location, storage redundancy, soft delete settings, creation\n"
    "time and how many items, recovery points and hosts it has.\n"
    "\n"
    "Options:\n"
    "  --name VAULT             the vault\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault vault show --name v1\n"
    VV_HELP_TAIL;

static const char delete_usage[] =
    "usage: vmvault vault delete --name VAULT [--yes] [--output json|table]\n"
    "\n"
    "Delete a vault with its policies, registered hosts, credentials and jobs. The\n"
    "server refuses (VaultNotEmpty) while the vault has protected items, in any state,\n"
    "or recovery points: disable protection of every item with --delete-backup-data\n"
    "first. On a terminal the command asks for confirmation unless --yes is given;\n"
    "when standard input is not a terminal it proceeds. Needs the Owner role.\n"
    "\n"
    "Options:\n"
    "  --name VAULT             the vault\n"
    "  --yes                    do not ask for confirmation\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault vault delete --name lab --yes\n"
    VV_HELP_TAIL;

static const char props_usage[] =
    "usage: vmvault vault backup-properties <command> [<options>]\n"
    "\n"
    "A vault's backup properties: storage redundancy (GeoRedundant or\n"
    "LocallyRedundant; locked once the vault protects an item) and soft delete (whether\n"
    "deleted backup data is kept, and for how many days).\n"
    "\n"
    "Commands:\n"
    "  show   show the backup properties\n"
    "  set    change the backup properties\n"
    "\n"
    "Run 'vmvault vault backup-properties <command> --help' for a command's options.\n";

static const char props_show_usage[] =
    "usage: vmvault vault backup-properties show --name VAULT [--output json|table]\n"
    "\n"
    "Show a vault's storage redundancy, whether it is locked (the vault has protected\n"
    "items), its soft delete state and retention in days, and its replication: the\n"
    "role (Primary, Replica or None), the state (Healthy, Lagging, Broken,\n"
    "NotConfigured or NotReplicated) with the reason when it is not Healthy, the\n"
    "secondary region, the lag in seconds (age of the oldest point not yet\n"
    "replicated), the points and bytes waiting, and when a point last arrived. A\n"
    "table shows the main fields; JSON shows all of them (member replication).\n"
    "\n"
    "Options:\n"
    "  --name VAULT             the vault\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault vault backup-properties show --name v1 --output table\n"
    VV_HELP_TAIL;

static const char props_set_usage[] =
    "usage: vmvault vault backup-properties set --name VAULT\n"
    "                            [--backup-storage-redundancy GeoRedundant|LocallyRedundant]\n"
    "                            [--soft-delete-feature-state Enable|Disable]\n"
    "                            [--soft-delete-duration DAYS] [--output json|table]\n"
    "\n"
    "Change a vault's backup properties; give at least one. The server refuses a\n"
    "redundancy change once the vault has a protected item (StorageModelModifyError):\n"
    "stop protection of every item, deleting its data, or use a new vault. Settings\n"
    "not given keep their current values. Needs the Contributor role.\n"
    "\n"
    "Options:\n"
    "  --name VAULT             the vault\n"
    "  --backup-storage-redundancy GeoRedundant|LocallyRedundant\n"
    "                           the new storage redundancy\n"
    "  --soft-delete-feature-state Enable|Disable\n"
    "                           turn soft delete on or off\n"
    "  --soft-delete-duration DAYS\n"
    "                           days deleted data is kept, 14 to 180\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault vault backup-properties set --name v1 \\\n"
    "      --backup-storage-redundancy LocallyRedundant\n"
    "  vmvault vault backup-properties set --name v1 --soft-delete-duration 30\n"
    VV_HELP_TAIL;

static const char creds_usage[] =
    "usage: vmvault vault credentials --name VAULT --file PATH [--expires-in-hours N]\n"
    "                                 [--force] [--output json|table]\n"
    "\n"
    "Create a registration secret for hosts and write the vault credentials file to\n"
    "PATH (mode 0600): the server's URL, the vault's name, id and location, and the\n"
    "secret. Copy it to each hypervisor host and register the host's agent with it;\n"
    "any number of hosts may use one file until it expires. The secret is printed\n"
    "nowhere else; treat the file like a password. Needs the Contributor role.\n"
    "\n"
    "Options:\n"
    "  --name VAULT             the vault\n"
    "  --file PATH              where to write the credentials; an existing file is\n"
    "                           not replaced without --force\n"
    "  --expires-in-hours N     validity of the secret, 1 to 240 hours (default: 48)\n"
    "  --force                  replace PATH if it exists\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault vault credentials --name v1 --file v1.vaultcredentials --expires-in-hours 24\n"
    VV_HELP_TAIL;

static const struct vv_verb v_create = {
    "vault create", create_usage,
    {{O_NAME, VV_REQ}, {O_LOCATION, VV_REQ}, {O_REDUNDANCY, 0}, {O_SD_STATE, 0},
     {O_SD_DURATION, 0}, {O_OUTPUT, 0}, {O_HELP, 0}}};
static const struct vv_simple_verb s_list = {
    .verb = {"vault list", list_usage, {{O_OUTPUT, 0}, {O_HELP, 0}}},
    .method = "GET", .path = "/api/v1/vaults", .cols = vv_cols_vault};
static const struct vv_simple_verb s_show = {
    .verb = {"vault show", show_usage, {{O_NAME, VV_REQ}, {O_OUTPUT, 0}, {O_HELP, 0}}},
    .method = "GET", .path = "/api/v1/vaults/%s", .segs = {O_NAME}, .cols = vv_cols_vault};
static const struct vv_verb v_delete = {
    "vault delete", delete_usage, {{O_NAME, VV_REQ}, {O_YES, 0}, {O_OUTPUT, 0}, {O_HELP, 0}}};
static const struct vv_verb v_props_show = {
    "vault backup-properties show", props_show_usage,
    {{O_NAME, VV_REQ}, {O_OUTPUT, 0}, {O_HELP, 0}}};
static const struct vv_verb v_props_set = {
    "vault backup-properties set", props_set_usage,
    {{O_NAME, VV_REQ}, {O_REDUNDANCY, 0}, {O_SD_STATE, 0}, {O_SD_DURATION, 0}, {O_OUTPUT, 0},
     {O_HELP, 0}}};
static const struct vv_verb v_creds = {
    "vault credentials", creds_usage,
    {{O_NAME, VV_REQ}, {O_FILE, VV_REQ}, {O_EXPIRES_HOURS, 0}, {O_FORCE, 0}, {O_OUTPUT, 0},
     {O_HELP, 0}}};

/* "Enable" -> "Enabled" (the API's spelling). */
static const char *sd_state(const char *flag)
{
    return !strcmp(flag, "Enable") ? "Enabled" : "Disabled";
}

static int cmd_create(int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    json_t *body;
    int rc = vv_args_parse(&v_create, argc, argv, &a);

    if (rc >= 0)
        return rc;
    body = json_pack("{s:s,s:s}", "name", vv_arg(&a, O_NAME), "location",
                     vv_arg(&a, O_LOCATION));
    if (vv_arg(&a, O_REDUNDANCY))
        json_object_set_new(body, "storageRedundancy", json_string(vv_arg(&a, O_REDUNDANCY)));
    if (vv_arg(&a, O_SD_STATE) || vv_arg(&a, O_SD_DURATION)) {
        const char *st = vv_arg(&a, O_SD_STATE);
        json_t *sd = json_pack("{s:s}", "state", st ? sd_state(st) : "Enabled");
        if (vv_arg(&a, O_SD_DURATION))
            json_object_set_new(sd, "retentionDays",
                                json_integer((json_int_t)vv_arg_num(&a, O_SD_DURATION)));
        json_object_set_new(body, "softDelete", sd);
    }
    vv_path_init(&p, "/api/v1/vaults");
    rc = vv_request_print(&a, "POST", &p, body, vv_cols_vault);
    json_decref(body);
    return rc;
}

static int cmd_list(int argc, char **argv)
{
    return vv_run_simple(&s_list, argc, argv);
}

static int cmd_show(int argc, char **argv)
{
    return vv_run_simple(&s_show, argc, argv);
}

static int cmd_delete(int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    char question[160], said[160];
    const struct vv_ask ask = {question, "not deleted"};
    int rc = vv_args_parse(&v_delete, argc, argv, &a);

    if (rc >= 0)
        return rc;
    snprintf(question, sizeof(question), "Delete vault '%s' with its policies, hosts and jobs?",
             vv_arg(&a, O_NAME));
    snprintf(said, sizeof(said), "Deleted vault '%s'.", vv_arg(&a, O_NAME));
    vv_path_init(&p, "/api/v1/vaults/%s", vv_arg(&a, O_NAME));
    return vv_request_say(&a, &ask, "DELETE", &p, said);
}

/* The replication object's fields a table shows, one "Header  value" line each;
 * a field the object lacks, or has as null, is left out. */
static const struct vv_column repl_lines[] = {
    {"Role", "role", VV_COL_STR},
    {"State", "state", VV_COL_STR},
    {"Reason", "reason", VV_COL_STR},
    {"Secondary region", "secondaryRegion", VV_COL_STR},
    {"Primary region", "primaryRegion", VV_COL_STR},
    {"Lag (seconds)", "replicationLagSeconds", VV_COL_STR},
    {"Pending points", "pendingPoints", VV_COL_STR},
    {"Pending bytes", "pendingBytes", VV_COL_BYTES},
    {"Last replicated", "lastReplicatedTime", VV_COL_TIME},
    {NULL, NULL, VV_COL_STR},
};

/* Backup properties: JSON as is; a table with the replication lines below. */
static void show_props(const struct vv_client *c, const json_t *ans, const void *ctx)
{
    const json_t *r = json_object_get(ans, "replication");
    char cell[512];

    (void)ctx;
    vv_print(c->json, ans, vv_cols_backup_props);
    if (c->json || !json_is_object(r))
        return;
    printf("\nReplication\n");
    for (const struct vv_column *col = repl_lines; col->header; col++) {
        const json_t *v = json_object_get(r, col->path);
        if (!v || (json_is_null(v) && strcmp(col->path, "lastReplicatedTime") != 0))
            continue;
        vv_format_cell(r, col, cell, sizeof(cell));
        printf("  %-18s %s\n", col->header, cell);
    }
}

static int cmd_props_show(int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    int rc = vv_args_parse(&v_props_show, argc, argv, &a);

    if (rc >= 0)
        return rc;
    vv_path_init(&p, "/api/v1/vaults/%s/backupProperties", vv_arg(&a, O_NAME));
    return vv_request_show(&a, NULL, "GET", &p, NULL, show_props, NULL);
}

static int cmd_props_set(int argc, char **argv)
{
    struct vv_args a;
    struct vv_client c;
    struct vv_path p;
    json_t *body = NULL, *cur = NULL, *ans = NULL;
    int rc = vv_args_parse(&v_props_set, argc, argv, &a);

    if (rc >= 0)
        return rc;
    if (!vv_arg(&a, O_REDUNDANCY) && !vv_arg(&a, O_SD_STATE) && !vv_arg(&a, O_SD_DURATION))
        return vv_cli_usage_error(v_props_set.cmd, "give at least one of "
                                  "--backup-storage-redundancy, --soft-delete-feature-state, "
                                  "--soft-delete-duration");
    vv_path_init(&p, "/api/v1/vaults/%s/backupProperties", vv_arg(&a, O_NAME));
    if ((rc = vv_client_open(&c, &a)) != VV_EXIT_OK)
        goto out;
    body = json_object();
    if (vv_arg(&a, O_REDUNDANCY))
        json_object_set_new(body, "storageRedundancy", json_string(vv_arg(&a, O_REDUNDANCY)));
    if (vv_arg(&a, O_SD_STATE) || vv_arg(&a, O_SD_DURATION)) {
        /* soft delete is one setting: fill in what was not given from the vault */
        json_t *sd = json_object();
        const json_t *cursd;
        if ((rc = vv_client_call(&c, "GET", &p, NULL, &cur)) != VV_EXIT_OK) {
            json_decref(sd);
            goto out;
        }
        cursd = json_object_get(cur, "softDelete");
        if (vv_arg(&a, O_SD_STATE))
            json_object_set_new(sd, "state", json_string(sd_state(vv_arg(&a, O_SD_STATE))));
        else if (json_is_string(json_object_get(cursd, "state")))
            json_object_set(sd, "state", json_object_get(cursd, "state"));
        if (vv_arg(&a, O_SD_DURATION))
            json_object_set_new(sd, "retentionDays",
                                json_integer((json_int_t)vv_arg_num(&a, O_SD_DURATION)));
        else if (json_is_integer(json_object_get(cursd, "retentionDays")))
            json_object_set(sd, "retentionDays", json_object_get(cursd, "retentionDays"));
        json_object_set_new(body, "softDelete", sd);
    }
    if ((rc = vv_client_call(&c, "PATCH", &p, body, &ans)) == VV_EXIT_OK)
        vv_print(c.json, ans, vv_cols_backup_props);
out:
    json_decref(ans);
    json_decref(cur);
    json_decref(body);
    vv_client_close(&c);
    return rc;
}

/* Write text to path with mode 0600, through a temporary file in the same folder:
 * without force an existing path is never replaced (link() fails), with force it is
 * replaced atomically (rename()). Returns 0 or -1 with errno set. */
static int write_private(const char *path, const char *text, int force)
{
    char *tmp = NULL;
    int fd, r = -1, e;

    if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
        errno = ENOMEM;
        return -1;
    }
    if ((fd = mkstemp(tmp)) < 0) { /* mkstemp creates it 0600 */
        e = errno;
        free(tmp);
        errno = e;
        return -1;
    }
    if (vv_write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
        e = errno;
        close(fd);
        goto out;
    }
    if (close(fd) < 0) {
        e = errno;
        goto out;
    }
    if (force)
        r = rename(tmp, path);
    else
        r = link(tmp, path);
    e = errno;
out:
    if (r < 0 || !force)
        unlink(tmp);
    free(tmp);
    errno = e;
    return r;
}

/* Write the credentials answer ans to file, mode 0600, ending with a newline.
 * Returns 0, or -1 after printing why. */
static int write_creds(const json_t *ans, const char *file, int force)
{
    char *text, *t2;
    size_t n;

    if (!json_is_object(ans) || !(text = json_dumps(ans, JSON_INDENT(2) | JSON_PRESERVE_ORDER))) {
        fprintf(stderr, "vmvault: the server's answer is not a credentials object\n");
        return -1;
    }
    n = strlen(text);
    if (!(t2 = realloc(text, n + 2))) {
        free(text);
        return -1;
    }
    text = t2;
    memcpy(text + n, "\n", 2);
    if (write_private(file, text, force) < 0) {
        fprintf(stderr, "vmvault: cannot write %s: %s%s\n", file, strerror(errno),
                errno == EEXIST ? " (add --force to replace it)" : "");
        free(text);
        return -1;
    }
    free(text);
    return 0;
}

static void print_creds(const struct vv_client *c, const json_t *ans, const char *vault,
                        const char *file)
{
    static const char *const keep[] = {"vaultName", "vaultId", "vaultUrl", "expiresAt"};
    const char *exp = NULL;
    char when[64], err[64];

    if (vv_json_get_str(ans, "expiresAt", 0, &exp, err, sizeof(err)) != 0)
        exp = NULL;
    if (c->json) {
        json_t *o = json_pack("{s:s}", "file", file);
        for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
            if (json_object_get(ans, keep[i]))
                json_object_set(o, keep[i], json_object_get(ans, keep[i]));
        vv_print_json(o);
        json_decref(o);
    } else {
        vv_format_time(exp, when, sizeof(when));
        printf("Wrote the credentials of vault '%s' to %s (mode 0600).\n", vault, file);
        printf("Hosts can register with them until %s.\n", exp ? when : "they expire");
    }
}

static int cmd_creds(int argc, char **argv)
{
    struct vv_args a;
    struct vv_client c;
    struct vv_path p;
    json_t *body = NULL, *ans = NULL;
    const char *file;
    struct stat st;
    int rc = vv_args_parse(&v_creds, argc, argv, &a);

    if (rc >= 0)
        return rc;
    file = vv_arg(&a, O_FILE);
    if (!vv_arg(&a, O_FORCE) && lstat(file, &st) == 0) {
        fprintf(stderr, "vmvault: %s exists; add --force to replace it\n", file);
        return VV_EXIT_FAIL;
    }
    if ((rc = vv_client_open(&c, &a)) != VV_EXIT_OK)
        goto out;
    body = json_object();
    if (vv_arg(&a, O_EXPIRES_HOURS))
        json_object_set_new(body, "expiresInHours",
                            json_integer((json_int_t)vv_arg_num(&a, O_EXPIRES_HOURS)));
    vv_path_init(&p, "/api/v1/vaults/%s/credentials", vv_arg(&a, O_NAME));
    if ((rc = vv_client_call(&c, "POST", &p, body, &ans)) != VV_EXIT_OK)
        goto out;
    rc = VV_EXIT_FAIL;
    if (write_creds(ans, file, vv_arg(&a, O_FORCE) != NULL) < 0)
        goto out;
    print_creds(&c, ans, vv_arg(&a, O_NAME), file);
    rc = VV_EXIT_OK;
out:
    json_decref(ans);
    json_decref(body);
    vv_client_close(&c);
    return rc;
}

static const struct vv_command props_commands[] = {
    {"show", cmd_props_show, "show the backup properties", props_show_usage},
    {"set", cmd_props_set, "change the backup properties", props_set_usage},
    {NULL, NULL, NULL, NULL},
};

static int cmd_props(int argc, char **argv)
{
    return vv_cli_group("vault backup-properties", props_usage, props_commands, argc, argv);
}

static const char prune_usage[] =
    "usage: vmvault vault prune --name VAULT [--output json|table]\n"
    "\n"
    "Queue a Prune job now. It runs every day anyway (vmvaultd --prune-time, 03:00\n"
    "UTC by default). It removes the recovery points whose expiry has passed: points\n"
    "of scheduled backups expire as their policy's retention says, on-demand ones at\n"
    "their --retain-until date. The newest point of an item is never removed while\n"
    "the item's data is kept, nor a point a running restore reads. It also purges the\n"
    "items soft deleted longer ago than the vault's soft-delete days. The space of\n"
    "their data is freed by the next collection ('vmvault vault gc'), which the daily\n"
    "run queues right after. Prints the job; its stats say what was removed. Needs\n"
    "the Operator role.\n"
    "\n"
    "Options:\n"
    "  --name VAULT             the vault\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  job=$(vmvault vault prune --name v1 | jq -r .id)\n"
    "  vmvault job wait --vault-name v1 --name \"$job\" && vmvault job show --vault-name v1 \\\n"
    "      --name \"$job\" | jq .stats\n"
    VV_HELP_TAIL;

static const char gc_usage[] =
    "usage: vmvault vault gc --name VAULT [--output json|table]\n"
    "\n"
    "Queue a GarbageCollection job now (it also runs daily after the prune). It reads\n"
    "every recovery point of the vault and removes the chunks none of them\n"
    "references. Backups, restores and prunes may run meanwhile: a chunk a running\n"
    "backup was told the vault has, or has just uploaded, is never removed, and if a\n"
    "recovery point cannot be read the collection removes nothing. A cancel ('vmvault\n"
    "job stop') stops it between chunks. Prints the job; its stats give the chunks\n"
    "removed and the bytes freed. Needs the Operator role.\n"
    "\n"
    "Options:\n"
    "  --name VAULT             the vault\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault vault gc --name v1 --output table\n"
    VV_HELP_TAIL;

static const char verify_usage[] =
    "usage: vmvault vault verify --name VAULT [--output json|table]\n"
    "\n"
    "Queue a Verify job, which the server runs itself: it re-reads every chunk of\n"
    "every recovery point of the vault and checks its envelope and hash. A damaged\n"
    "chunk is moved aside to the server's quarantine folder (never deleted) and the\n"
    "points that use it are marked damaged: the job ends Failed with the error\n"
    "RecoveryPointDamaged naming the points and chunks. Otherwise it ends Completed,\n"
    "its stats giving the points, chunks and bytes read. On a replica vault (with\n"
    "--use-secondary-region) the primary replicates the damaged points again. Prints\n"
    "the job; follow it with 'vmvault job wait'. Needs the Operator role.\n"
    "\n"
    "Options:\n"
    "  --name VAULT             the vault\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault vault verify --name v1 --output table\n"
    "  job=$(vmvault vault verify --name v1 | jq -r .id)\n"
    "  vmvault job wait --vault-name v1 --name \"$job\" && vmvault job show --vault-name v1 \\\n"
    "      --name \"$job\" | jq .stats\n"
    VV_HELP_TAIL;

static const struct vv_verb v_verify = {
    "vault verify", verify_usage, {{O_NAME, VV_REQ}, {O_OUTPUT, 0}, {O_HELP, 0}}};


static int cmd_verify(int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    int rc = vv_args_parse(&v_verify, argc, argv, &a);

    if (rc >= 0)
        return rc;
    vv_path_init(&p, "/api/v1/vaults/%s/verify", vv_arg(&a, O_NAME));
    return vv_request_show(&a, NULL, "POST", &p, NULL, vv_show_job, vv_arg(&a, O_NAME));
}

static const struct vv_simple_verb s_prune = {
    .verb = {"vault prune", prune_usage, {{O_NAME, VV_REQ}, {O_OUTPUT, 0}, {O_HELP, 0}}},
    .method = "POST", .path = "/api/v1/vaults/%s/prune", .segs = {O_NAME}, .cols = vv_cols_job};
static const struct vv_simple_verb s_gc = {
    .verb = {"vault gc", gc_usage, {{O_NAME, VV_REQ}, {O_OUTPUT, 0}, {O_HELP, 0}}},
    .method = "POST", .path = "/api/v1/vaults/%s/garbageCollection", .segs = {O_NAME},
    .cols = vv_cols_job};

static const char key_usage[] =
    "usage: vmvault vault key export --name VAULT --file PATH\n"
    "                                [--passphrase-file FILE] [--force] [--output json|table]\n"
    "\n"
    "Write the vault's key, wrapped with a passphrase (PBKDF2-HMAC-SHA256, 600000\n"
    "iterations, then AES-256-GCM), to PATH (mode 0600). Without the vault key the\n"
    "vault's recovery points cannot be read: keep the file and its passphrase apart,\n"
    "and both away from this server. 'vmvaultd catalog rebuild --key VAULT=PATH'\n"
    "brings the key back when the server's copy is lost. The passphrase (at least 12\n"
    "characters) is read from --passphrase-file, else from $VMVAULT_KEY_PASSPHRASE.\n"
    "Needs the Owner role; every export is audited (ExportVaultKey).\n"
    "\n"
    "Options:\n"
    "  --name VAULT             the vault\n"
    "  --file PATH              where to write the wrapped key; an existing file is\n"
    "                           not replaced without --force\n"
    "  --passphrase-file FILE   a file whose first line is the passphrase\n"
    "  --force                  replace PATH if it exists\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault vault key export --name v1 --file v1.key.json --passphrase-file pass.txt\n"
    VV_HELP_TAIL;

static const struct vv_verb v_key_export = {
    "vault key export", key_usage,
    {{O_NAME, VV_REQ}, {O_FILE, VV_REQ}, {O_PASSPHRASE_FILE, 0}, {O_FORCE, 0}, {O_OUTPUT, 0},
     {O_HELP, 0}}};

/* The passphrase of a key export into out: --passphrase-file's first line, else
 * $VMVAULT_KEY_PASSPHRASE. 0, or -1 after saying why. */
static int key_passphrase(const struct vv_args *a, char *out, size_t n)
{
    const char *file = vv_arg(a, O_PASSPHRASE_FILE), *env = getenv("VMVAULT_KEY_PASSPHRASE");
    FILE *f;

    out[0] = '\0';
    if (file) {
        if (!(f = fopen(file, "r"))) {
            fprintf(stderr, "vmvault: cannot read --passphrase-file %s: %s\n", file,
                    strerror(errno));
            return -1;
        }
        if (!fgets(out, (int)n, f))
            out[0] = '\0';
        fclose(f);
        out[strcspn(out, "\r\n")] = '\0';
    } else if (env) {
        snprintf(out, n, "%s", env);
    }
    if (strlen(out) < 12) {
        fprintf(stderr, "vmvault: give a passphrase of at least 12 characters with "
                        "--passphrase-file FILE or VMVAULT_KEY_PASSPHRASE\n");
        return -1;
    }
    return 0;
}

static int cmd_key_export(int argc, char **argv)
{
    struct vv_args a;
    struct vv_client c;
    struct vv_path p;
    json_t *body = NULL, *ans = NULL;
    char pass[1100];
    struct stat st;
    int rc = vv_args_parse(&v_key_export, argc, argv, &a);

    if (rc >= 0)
        return rc;
    if (!vv_arg(&a, O_FORCE) && lstat(vv_arg(&a, O_FILE), &st) == 0) {
        fprintf(stderr, "vmvault: %s exists; add --force to replace it\n", vv_arg(&a, O_FILE));
        return VV_EXIT_FAIL;
    }
    if (key_passphrase(&a, pass, sizeof(pass)) != 0)
        return VV_EXIT_USAGE;
    if ((rc = vv_client_open(&c, &a)) != VV_EXIT_OK)
        goto out;
    body = json_pack("{s:s}", "passphrase", pass);
    vv_path_init(&p, "/api/v1/vaults/%s/key/export", vv_arg(&a, O_NAME));
    if ((rc = vv_client_call(&c, "POST", &p, body, &ans)) != VV_EXIT_OK)
        goto out;
    rc = VV_EXIT_FAIL;
    if (write_creds(ans, vv_arg(&a, O_FILE), vv_arg(&a, O_FORCE) != NULL) < 0)
        goto out;
    if (c.json) {
        json_t *o = json_pack("{s:s,s:s}", "vault", vv_arg(&a, O_NAME), "file", vv_arg(&a, O_FILE));
        vv_print_json(o);
        json_decref(o);
    } else {
        printf("Wrote the key of vault '%s', wrapped with the passphrase, to %s (mode 0600).\n"
               "Keep it and the passphrase apart, away from this server.\n",
               vv_arg(&a, O_NAME), vv_arg(&a, O_FILE));
    }
    rc = VV_EXIT_OK;
out:
    memset(pass, 0, sizeof(pass));
    json_decref(ans);
    json_decref(body);
    vv_client_close(&c);
    return rc;
}

static const struct vv_command key_commands[] = {
    {"export", cmd_key_export, "export the vault key wrapped with a passphrase", key_usage},
    {NULL, NULL, NULL, NULL},
};

static int cmd_key(int argc, char **argv)
{
    return vv_cli_group("vault key", key_usage, key_commands, argc, argv);
}

static int cmd_prune(int argc, char **argv) { return vv_run_simple(&s_prune, argc, argv); }

static int cmd_gc(int argc, char **argv) { return vv_run_simple(&s_gc, argc, argv); }

static const struct vv_command vault_commands[] = {
    {"create", cmd_create, "create a vault", create_usage},
    {"list", cmd_list, "list vaults", list_usage},
    {"show", cmd_show, "show a vault", show_usage},
    {"delete", cmd_delete, "delete an empty vault", delete_usage},
    {"backup-properties", cmd_props, "show or set backup properties", props_usage},
    {"credentials", cmd_creds, "write a vault credentials file", creds_usage},
    {"key", cmd_key, "export the vault key wrapped with a passphrase", key_usage},
    {"prune", cmd_prune, "remove expired recovery points now", prune_usage},
    {"gc", cmd_gc, "free the space of unused chunks", gc_usage},
    {"verify", cmd_verify, "check every chunk of every recovery point", verify_usage},
    {NULL, NULL, NULL, NULL},
};

int vv_cmd_vault(int argc, char **argv)
{
    return vv_cli_group("vault", vv_vault_usage, vault_commands, argc, argv);
}
