/*
 * cmd_policy.c: `vmvault policy ...`: backup policies of a vault, the schedule and
 * retention model of Azure's AzureIaasVM policies, sent as JSON files
 * (/api/v1/vaults/{v}/policies).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "err.h"
#include "util.h"

#define POLICY_FILE_MAX (1u << 20) /* the server's body limit */

const char vv_policy_usage[] =
    "usage: vmvault policy <command> [<options>]\n"
    "\n"
    "A backup policy says when the items on it are backed up (daily, weekly or every\n"
    "few hours, in a time zone) and how long their recovery points are kept (daily,\n"
    "weekly, monthly and yearly retention). Every vault has a DefaultPolicy.\n"
    "\n"
    "Commands:\n"
    "  create               create a policy from a JSON file\n"
    "  set                  replace a policy with a JSON file\n"
    "  list                 list a vault's policies\n"
    "  show                 show a policy\n"
    "  delete               delete a policy no item uses\n"
    "  get-default-for-vm   show the vault's DefaultPolicy\n"
    "  next-runs            list when a policy's next backups run\n"
    "\n"
    "Run 'vmvault policy <command> --help' for a command's options.\n";

#define POLICY_FILE_HELP                                                                   \
    "The file holds one JSON object, like the output of 'vmvault policy show':\n"          \
    "\n"                                                                                   \
    "  {\"timeZone\": \"UTC\",\n"                                                          \
    "   \"schedulePolicy\": {\"scheduleRunFrequency\": \"Daily\",\n"                       \
    "                      \"scheduleRunTimes\": [\"02:00\"]},\n"                          \
    "   \"instantRpRetentionRangeInDays\": 2,\n"                                           \
    "   \"retentionPolicy\": {\"dailySchedule\":\n"                                        \
    "       {\"retentionDuration\": {\"count\": 30, \"durationType\": \"Days\"}}}}\n"      \
    "\n"                                                                                   \
    "scheduleRunFrequency is Daily, Weekly (with scheduleRunDays, e.g. [\"Sunday\"])\n"    \
    "or Hourly (with hourlySchedule {\"interval\": 4|6|8|12, \"scheduleWindowStartTime\":\n" \
    "\"08:00\", \"scheduleWindowDuration\": 4..24}); retentionPolicy may also hold\n"      \
    "weeklySchedule, monthlySchedule and yearlySchedule. Its \"name\" is set to --name;\n" \
    "the read-only fields of 'policy show' output (vault, protectedItemsCount) are\n"      \
    "dropped, so that output can be edited and sent back. The server checks every\n"       \
    "field and names the one it refuses.\n"

static const char create_usage[] =
    "usage: vmvault policy create --vault-name VAULT --name POLICY --policy FILE\n"
    "                             [--output json|table]\n"
    "\n"
    "Create a backup policy in a vault from a JSON file. Needs the Contributor role.\n"
    "\n"
    POLICY_FILE_HELP
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --name POLICY            the new policy's name\n"
    "  --policy FILE            the policy as JSON; '-' reads standard input\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault policy get-default-for-vm --vault-name v1 > weekly.json\n"
    "  # edit weekly.json: \"scheduleRunFrequency\": \"Weekly\", \"scheduleRunDays\": [\"Sunday\"]\n"
    "  vmvault policy create --vault-name v1 --name Weekly --policy weekly.json\n"
    VV_HELP_TAIL;

static const char set_usage[] =
    "usage: vmvault policy set --vault-name VAULT --name POLICY --policy FILE\n"
    "                          [--output json|table]\n"
    "\n"
    "Replace a policy with the JSON file's contents. Every item on the policy follows\n"
    "the new schedule and retention: the expiry of their existing recovery points is\n"
    "computed again, so a longer retention keeps them longer and a shorter one lets\n"
    "the next prune remove those it no longer keeps. Needs the Contributor role.\n"
    "\n"
    POLICY_FILE_HELP
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --name POLICY            the policy to replace\n"
    "  --policy FILE            the policy as JSON; '-' reads standard input\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault policy show --vault-name v1 --name Weekly > p.json\n"
    "  vmvault policy set --vault-name v1 --name Weekly --policy p.json\n"
    VV_HELP_TAIL;

static const char list_usage[] =
    "usage: vmvault policy list --vault-name VAULT [--output json|table]\n"
    "\n"
    "List a vault's backup policies with their schedule, retention and the number of\n"
    "items on each.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault policy list --vault-name v1 --output table\n"
    VV_HELP_TAIL;

static const char show_usage[] =
    "usage: vmvault policy show --vault-name VAULT --name POLICY [--output json|table]\n"
    "\n"
    "Show a backup policy.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --name POLICY            the policy\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault policy show --vault-name v1 --name DefaultPolicy\n"
    VV_HELP_TAIL;

static const char delete_usage[] =
    "usage: vmvault policy delete --vault-name VAULT --name POLICY [--output json|table]\n"
    "\n"
    "Delete a backup policy. The server refuses while an item uses it (PolicyInUse),\n"
    "and always for DefaultPolicy (DefaultPolicyNotDeletable). Needs the Contributor\n"
    "role.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --name POLICY            the policy\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault policy delete --vault-name v1 --name Weekly\n"
    VV_HELP_TAIL;

static const char default_usage[] =
    "usage: vmvault policy get-default-for-vm --vault-name VAULT [--output json|table]\n"
    "\n"
    "Show the vault's DefaultPolicy, the policy 'protection enable-for-vm' uses when\n"
    "none is named. Its JSON is a starting point for 'policy create'.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault policy get-default-for-vm --vault-name v1 > policy.json\n"
    VV_HELP_TAIL;

static const char next_usage[] =
    "usage: vmvault policy next-runs --vault-name VAULT --name POLICY [--from TIME]\n"
    "                                [--count N] [--output json|table]\n"
    "\n"
    "List the next times a policy's schedule runs, in UTC and in the policy's time\n"
    "zone, to check a schedule before trusting it with backups. Times of day are\n"
    "wall-clock times of the zone. On a day the clocks go forward, a time that does\n"
    "not exist runs once, at the first valid time after the gap (02:30 in\n"
    "Europe/Berlin on the last Sunday of March runs at 03:00 CEST); on a day they go\n"
    "back, a time that occurs twice runs once, at its first occurrence.\n"
    "\n"
    "Options:\n"
    "  --vault-name VAULT       the vault\n"
    "  --name POLICY            the policy\n"
    "  --from TIME              list runs at or after TIME: YYYY-MM-DD (midnight UTC),\n"
    "                           DD-MM-YYYY or a UTC time like 2027-03-27T00:00:00Z\n"
    "                           (default: now)\n"
    "  --count N                how many runs, 1 to 1000 (default: 10)\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault policy next-runs --vault-name v1 --name Nightly --from 2027-03-27 --count 3 \\\n"
    "      --output table\n"
    VV_HELP_TAIL;

static const struct vv_column cols_runs[] = {
    {"UTC", "utc", VV_COL_STR},
    {"Local time", "local", VV_COL_STR},
    {NULL, NULL, VV_COL_STR},
};

static const struct vv_simple_verb s_next = {
    .verb = {"policy next-runs", next_usage,
             {{O_VAULT_NAME, VV_REQ}, {O_NAME, VV_REQ}, {O_FROM, 0}, {O_COUNT, 0}, {O_OUTPUT, 0},
              {O_HELP, 0}}},
    .method = "GET", .path = "/api/v1/vaults/%s/policies/%s/nextRuns",
    .segs = {O_VAULT_NAME, O_NAME}, .query = {{"from", O_FROM}, {"count", O_COUNT}},
    .cols = cols_runs};

static const struct vv_verb v_create = {
    "policy create", create_usage,
    {{O_VAULT_NAME, VV_REQ}, {O_NAME, VV_REQ}, {O_POLICY, VV_REQ}, {O_OUTPUT, 0}, {O_HELP, 0}}};
static const struct vv_verb v_set = {
    "policy set", set_usage,
    {{O_VAULT_NAME, VV_REQ}, {O_NAME, VV_REQ}, {O_POLICY, VV_REQ}, {O_OUTPUT, 0}, {O_HELP, 0}}};
static const struct vv_simple_verb s_list = {
    .verb = {"policy list", list_usage, {{O_VAULT_NAME, VV_REQ}, {O_OUTPUT, 0}, {O_HELP, 0}}},
    .method = "GET", .path = "/api/v1/vaults/%s/policies", .segs = {O_VAULT_NAME},
    .cols = vv_cols_policy};
static const struct vv_simple_verb s_show = {
    .verb = {"policy show", show_usage,
             {{O_VAULT_NAME, VV_REQ}, {O_NAME, VV_REQ}, {O_OUTPUT, 0}, {O_HELP, 0}}},
    .method = "GET", .path = "/api/v1/vaults/%s/policies/%s", .segs = {O_VAULT_NAME, O_NAME},
    .cols = vv_cols_policy};
static const struct vv_verb v_delete = {
    "policy delete", delete_usage,
    {{O_VAULT_NAME, VV_REQ}, {O_NAME, VV_REQ}, {O_OUTPUT, 0}, {O_HELP, 0}}};
static const struct vv_simple_verb s_default = {
    .verb = {"policy get-default-for-vm", default_usage,
             {{O_VAULT_NAME, VV_REQ}, {O_OUTPUT, 0}, {O_HELP, 0}}},
    .method = "GET", .path = "/api/v1/vaults/%s/policies/DefaultPolicy",
    .segs = {O_VAULT_NAME}, .cols = vv_cols_policy};

/* Load the policy file as the request body: a JSON object, "name" set to name,
 * read-only fields dropped. Returns the body (caller frees with json_decref) or NULL
 * after printing why. */
static json_t *load_policy(const char *file, const char *name)
{
    json_t *j = vv_load_json_object(file, "a policy");
    if (!j)
        return NULL;
    json_object_del(j, "vault");
    json_object_del(j, "protectedItemsCount");
    json_object_set_new(j, "name", json_string(name));
    return j;
}

/* Send the policy file with method to path, print the answer. */
static int send_policy(const struct vv_args *a, const char *method, const struct vv_path *p)
{
    json_t *body;
    int rc;

    if (!(body = load_policy(vv_arg(a, O_POLICY), vv_arg(a, O_NAME))))
        return VV_EXIT_FAIL;
    rc = vv_request_print(a, method, p, body, vv_cols_policy);
    json_decref(body);
    return rc;
}

/* /api/v1/vaults/{v}/policies/{name} */
static void policy_path(struct vv_path *p, const struct vv_args *a)
{
    vv_path_init(p, "/api/v1/vaults/%s/policies/%s", vv_arg(a, O_VAULT_NAME), vv_arg(a, O_NAME));
}

/* A deleted policy: the answer in JSON, a sentence naming the policy in a table. */
static void show_deleted(const struct vv_client *c, const json_t *ans, const void *name)
{
    if (c->json)
        vv_print(c->json, ans, vv_cols_policy);
    else
        printf("Deleted policy '%s'.\n", (const char *)name);
}

static int cmd_create(int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    int rc = vv_args_parse(&v_create, argc, argv, &a);
    if (rc >= 0)
        return rc;
    vv_path_init(&p, "/api/v1/vaults/%s/policies", vv_arg(&a, O_VAULT_NAME));
    return send_policy(&a, "POST", &p);
}

static int cmd_set(int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    int rc = vv_args_parse(&v_set, argc, argv, &a);
    if (rc >= 0)
        return rc;
    policy_path(&p, &a);
    return send_policy(&a, "PUT", &p);
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
    int rc = vv_args_parse(&v_delete, argc, argv, &a);
    if (rc >= 0)
        return rc;
    policy_path(&p, &a);
    return vv_request_show(&a, NULL, "DELETE", &p, NULL, show_deleted, vv_arg(&a, O_NAME));
}

static int cmd_default(int argc, char **argv)
{
    return vv_run_simple(&s_default, argc, argv);
}

static int cmd_next(int argc, char **argv)
{
    return vv_run_simple(&s_next, argc, argv);
}

static const struct vv_command policy_commands[] = {
    {"create", cmd_create, "create a policy from a JSON file", create_usage},
    {"set", cmd_set, "replace a policy with a JSON file", set_usage},
    {"list", cmd_list, "list a vault's policies", list_usage},
    {"show", cmd_show, "show a policy", show_usage},
    {"delete", cmd_delete, "delete a policy no item uses", delete_usage},
    {"get-default-for-vm", cmd_default, "show the vault's DefaultPolicy", default_usage},
    {"next-runs", cmd_next, "list when a policy's next backups run", next_usage},
    {NULL, NULL, NULL, NULL},
};

int vv_cmd_policy(int argc, char **argv)
{
    return vv_cli_group("policy", vv_policy_usage, policy_commands, argc, argv);
}
