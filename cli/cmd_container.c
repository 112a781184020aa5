/*
 * cmd_container.c: `vmvault container ...` (hosts registered with a vault) and
 * `vmvault protectable-item list` (the VMs those hosts report), from
 * /api/v1/vaults/{v}/containers and /api/v1/vaults/{v}/protectableItems.
 */
#include <stdio.h>

#include "client.h"

const char vv_container_usage[] =
    "usage: vmvault container <command> [<options>]\n"
    "\n"
    "A container is a hypervisor host registered with a vault: its agent reports the\n"
    "host's VMs and runs their backups. Hosts register with a vault credentials file\n"
    "('vmvault vault credentials').\n"
    "\n"
    "Commands:\n"
    "  list         list the hosts registered with a vault\n"
    "  show         show a registered host\n"
    "  unregister   remove a host from a vault and revoke its agent's token\n"
    "  allow-replacement\n"
    "               let the next registration of a host's name replace it (within an\n"
    "               hour), for a reinstalled host that lost its token\n"
    "\n"
    "Run 'vmvault container <command> --help' for a command's options.\n";

const char vv_protectable_item_usage[] =
    "usage: vmvault protectable-item <command> [<options>]\n"
    "\n"
    "Protectable items are the VMs the registered hosts report, with their disks and\n"
    "whether they are protected in this vault, in another, or not at all.\n"
    "\n"
    "Commands:\n"
    "  list   list the VMs the vault's hosts report\n"
    "\n"
    "Run 'vmvault protectable-item <command> --help' for a command's options.\n";

static const char list_usage[] =
    "usage: vmvault container list --vault-name VAULT [--output json|table]\n"
    "\n"
    "List the hosts registered with a vault: region, agent version, when each\n"
    "registered and was last heard from, and how many VMs it reports and has\n"
    "protected.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault container list --vault-name v1 --output table\n"
    VV_HELP_TAIL;

static const char show_usage[] =
    "usage: vmvault container show --vault-name VAULT --name HOST [--output json|table]\n"
    "\n"
    "Show a host registered with a vault.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --name HOST              the host (container) name\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault container show --vault-name v1 --name host1\n"
    VV_HELP_TAIL;

static const char unregister_usage[] =
    "usage: vmvault container unregister --vault-name VAULT --name HOST [--yes]\n"
    "                                    [--output json|table]\n"
    "\n"
    "Remove a host from a vault: its agent's token stops working at once and the VMs it\n"
    "reported are forgotten. The host can register again with new vault credentials.\n"
    "The server refuses while the host has protected items\n"
    "(ContainerHasProtectedItems): stop their protection with their backup data\n"
    "deleted first. On a terminal it asks for confirmation unless --yes is given.\n"
    "Needs the Contributor role; the audit log records it.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --name HOST              the host (container) name\n"
    "  --yes                    do not ask for confirmation\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault container unregister --vault-name v1 --name host1 --yes\n"
    VV_HELP_TAIL;

static const char allow_replacement_usage[] =
    "usage: vmvault container allow-replacement --vault-name VAULT --name HOST\n"
    "                                           [--output json|table]\n"
    "\n"
    "A host name registered with a vault can only be registered again by its own\n"
    "agent (which re-registers with its token); any other registration of the name\n"
    "is refused (ContainerAlreadyRegistered). When the host was reinstalled and lost\n"
    "its token, this allows the next registration of the name within one hour to\n"
    "replace the host: its old token then stops working, its protected items and\n"
    "recovery points stay. The allowance is used up by that registration. Needs the\n"
    "Contributor role; the audit log records the allowance and the registration.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --name HOST              the host (container) name\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault container allow-replacement --vault-name v1 --name host1\n"
    "  (then on host1: vmvault-agent register --vault-credentials v1.json)\n"
    VV_HELP_TAIL;

static const char pi_list_usage[] =
    "usage: vmvault protectable-item list --vault-name VAULT [--container-name HOST]\n"
    "                                     [--output json|table]\n"
    "\n"
    "List the VMs the vault's registered hosts report: name, UUID, host, region, power\n"
    "state, disks, and protection state (NotProtected, Protected in this vault, or\n"
    "ProtectedInAnotherVault). Protect one with 'vmvault protection enable-for-vm'.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --container-name HOST    only the VMs of this host\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault protectable-item list --vault-name v1 --output table\n"
    VV_HELP_TAIL;

static const struct vv_simple_verb s_list = {
    .verb = {"container list", list_usage, {{O_VAULT_NAME, VV_REQ}, {O_OUTPUT, 0}, {O_HELP, 0}}},
    .method = "GET", .path = "/api/v1/vaults/%s/containers", .segs = {O_VAULT_NAME},
    .cols = vv_cols_container};
static const struct vv_simple_verb s_show = {
    .verb = {"container show", show_usage,
             {{O_VAULT_NAME, VV_REQ}, {O_NAME, VV_REQ}, {O_OUTPUT, 0}, {O_HELP, 0}}},
    .method = "GET", .path = "/api/v1/vaults/%s/containers/%s", .segs = {O_VAULT_NAME, O_NAME},
    .cols = vv_cols_container};
static const struct vv_verb v_unregister = {
    "container unregister", unregister_usage,
    {{O_VAULT_NAME, VV_REQ}, {O_NAME, VV_REQ}, {O_YES, 0}, {O_OUTPUT, 0}, {O_HELP, 0}}};
static const struct vv_simple_verb s_allow = {
    .verb = {"container allow-replacement", allow_replacement_usage,
             {{O_VAULT_NAME, VV_REQ}, {O_NAME, VV_REQ}, {O_OUTPUT, 0}, {O_HELP, 0}}},
    .method = "POST", .path = "/api/v1/vaults/%s/containers/%s/allowReplacement",
    .segs = {O_VAULT_NAME, O_NAME}};
static const struct vv_simple_verb s_pi_list = {
    .verb = {"protectable-item list", pi_list_usage,
             {{O_VAULT_NAME, VV_REQ}, {O_CONTAINER, 0}, {O_OUTPUT, 0}, {O_HELP, 0}}},
    .method = "GET", .path = "/api/v1/vaults/%s/protectableItems", .segs = {O_VAULT_NAME},
    .query = {{"container", O_CONTAINER}}, .cols = vv_cols_protectable};

static int cmd_list(int argc, char **argv)
{
    return vv_run_simple(&s_list, argc, argv);
}

static int cmd_show(int argc, char **argv)
{
    return vv_run_simple(&s_show, argc, argv);
}

static int cmd_unregister(int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    char question[256], said[256];
    const struct vv_ask ask = {question, "not unregistered"};
    const char *vault, *name;
    int rc = vv_args_parse(&v_unregister, argc, argv, &a);

    if (rc >= 0)
        return rc;
    vault = vv_arg(&a, O_VAULT_NAME);
    name = vv_arg(&a, O_NAME);
    snprintf(question, sizeof(question), "Unregister host '%s' from vault '%s'?", name, vault);
    snprintf(said, sizeof(said), "Unregistered host '%s' from vault '%s'.", name, vault);
    vv_path_init(&p, "/api/v1/vaults/%s/containers/%s", vault, name);
    return vv_request_say(&a, &ask, "DELETE", &p, said);
}

static int cmd_allow_replacement(int argc, char **argv)
{
    return vv_run_simple(&s_allow, argc, argv);
}

static int cmd_pi_list(int argc, char **argv)
{
    return vv_run_simple(&s_pi_list, argc, argv);
}

static const struct vv_command container_commands[] = {
    {"list", cmd_list, "list registered hosts", list_usage},
    {"show", cmd_show, "show a registered host", show_usage},
    {"unregister", cmd_unregister, "remove a host from a vault", unregister_usage},
    {"allow-replacement", cmd_allow_replacement, "let a reinstalled host register its name again",
     allow_replacement_usage},
    {NULL, NULL, NULL, NULL},
};

static const struct vv_command pi_commands[] = {
    {"list", cmd_pi_list, "list the VMs the hosts report", pi_list_usage},
    {NULL, NULL, NULL, NULL},
};

int vv_cmd_container(int argc, char **argv)
{
    return vv_cli_group("container", vv_container_usage, container_commands, argc, argv);
}

int vv_cmd_protectable_item(int argc, char **argv)
{
    return vv_cli_group("protectable-item", vv_protectable_item_usage, pi_commands, argc, argv);
}
