/*
 * cmd_access.c: `vmvault user ...` and `vmvault token ...`: who may use the vault
 * server, with which role, and their API tokens (/api/v1/users, /api/v1/tokens).
 * Every command here needs the Owner role.
 */
#include <stdio.h>

#include "client.h"

const char vv_user_usage[] =
    "usage: vmvault user <command> [<options>]\n"
    "\n"
    "Users of the vault server, each with one role: Reader (view everything),\n"
    "Operator (also protect VMs, back up now, cancel jobs, restore), Contributor (also\n"
    "create vaults and policies, change backup properties, disable protection) or\n"
    "Owner (also delete vaults, manage users and tokens). Users sign in with API\n"
    "tokens ('vmvault token create'). Every command needs the Owner role.\n"
    "\n"
    "Commands:\n"
    "  create   create a user with a role\n"
    "  list     list users\n"
    "  delete   delete a user and revoke its tokens\n"
    "\n"
    "Run 'vmvault user <command> --help' for a command's options.\n";

const char vv_token_usage[] =
    "usage: vmvault token <command> [<options>]\n"
    "\n"
    "API tokens: random secrets that stand for a user. The server keeps only their\n"
    "SHA-256, so a token is shown once, when it is created. Every command needs the\n"
    "Owner role.\n"
    "\n"
    "Commands:\n"
    "  create   create a token for a user (shown once)\n"
    "  list     list tokens, without their secrets\n"
    "  revoke   revoke a token at once\n"
    "\n"
    "Run 'vmvault token <command> --help' for a command's options.\n";

static const char user_create_usage[] =
    "usage: vmvault user create --name USER --role Reader|Operator|Contributor|Owner\n"
    "                           [--output json|table]\n"
    "\n"
    "Create a user with a role. The user can do nothing until it has a token: create\n"
    "one with 'vmvault token create --user USER'.\n"
    "\n"
    "Options:\n"
    "  --name USER              the user's name: 1 to 64 letters, digits, '.', '_', '-',\n"
    "                           starting with a letter or digit\n"
    "  --role ROLE              Reader, Operator, Contributor or Owner\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault user create --name alice --role Operator\n"
    VV_HELP_TAIL;

static const char user_list_usage[] =
    "usage: vmvault user list [--output json|table]\n"
    "\n"
    "List the users of the vault server and their roles.\n"
    "\n"
    "Options:\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault user list --output table\n"
    VV_HELP_TAIL;

static const char user_delete_usage[] =
    "usage: vmvault user delete --name USER [--output json|table]\n"
    "\n"
    "Delete a user and revoke all its tokens at once. The server refuses to delete\n"
    "the last Owner (LastOwner).\n"
    "\n"
    "Options:\n"
    "  --name USER              the user\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault user delete --name alice\n"
    VV_HELP_TAIL;

static const char token_create_usage[] =
    "usage: vmvault token create --user USER [--name LABEL] [--expires-in-days N]\n"
    "                            [--output json|table]\n"
    "\n"
    "Create an API token for a user and print it. The token is shown this once: the\n"
    "server keeps only its hash. Give it to the user, who runs 'vmvault login'.\n"
    "\n"
    "Options:\n"
    "  --user USER              the user the token stands for\n"
    "  --name LABEL             a label to tell tokens apart, e.g. laptop\n"
    "  --expires-in-days N      validity, 1 to 3650 days (default: no expiry)\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault token create --user alice --name laptop --expires-in-days 90\n"
    VV_HELP_TAIL;

static const char token_list_usage[] =
    "usage: vmvault token list [--user USER] [--output json|table]\n"
    "\n"
    "List tokens without their secrets: id, label, user, creation, expiry, last use\n"
    "and whether revoked.\n"
    "\n"
    "Options:\n"
    "  --user USER              only this user's tokens\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault token list --user alice --output table\n"
    VV_HELP_TAIL;

static const char token_revoke_usage[] =
    "usage: vmvault token revoke --id ID [--output json|table]\n"
    "\n"
    "Revoke a token at once: any request with it is refused from now on.\n"
    "\n"
    "Options:\n"
    "  --id ID                  the token's id, as 'vmvault token list' shows it\n"
    VV_HELP_OUTPUT
    "\n"
    "Example:\n"
    "  vmvault token revoke --id t-3f9a1c20\n"
    VV_HELP_TAIL;

static const struct vv_verb v_user_create = {
    "user create", user_create_usage,
    {{O_NAME, VV_REQ}, {O_ROLE, VV_REQ}, {O_OUTPUT, 0}, {O_HELP, 0}}};
static const struct vv_simple_verb s_user_list = {
    .verb = {"user list", user_list_usage, {{O_OUTPUT, 0}, {O_HELP, 0}}},
    .method = "GET", .path = "/api/v1/users", .cols = vv_cols_user};
static const struct vv_verb v_user_delete = {
    "user delete", user_delete_usage, {{O_NAME, VV_REQ}, {O_OUTPUT, 0}, {O_HELP, 0}}};
static const struct vv_verb v_token_create = {
    "token create", token_create_usage,
    {{O_USER, VV_REQ}, {O_NAME, 0}, {O_EXPIRES_DAYS, 0}, {O_OUTPUT, 0}, {O_HELP, 0}}};
static const struct vv_simple_verb s_token_list = {
    .verb = {"token list", token_list_usage, {{O_USER, 0}, {O_OUTPUT, 0}, {O_HELP, 0}}},
    .method = "GET", .path = "/api/v1/tokens", .query = {{"user", O_USER}},
    .cols = vv_cols_token};
static const struct vv_verb v_token_revoke = {
    "token revoke", token_revoke_usage, {{O_ID, VV_REQ}, {O_OUTPUT, 0}, {O_HELP, 0}}};

static int cmd_user_create(int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    json_t *body;
    int rc = vv_args_parse(&v_user_create, argc, argv, &a);

    if (rc >= 0)
        return rc;
    body = json_pack("{s:s,s:s}", "name", vv_arg(&a, O_NAME), "role", vv_arg(&a, O_ROLE));
    vv_path_init(&p, "/api/v1/users");
    rc = vv_request_print(&a, "POST", &p, body, vv_cols_user);
    json_decref(body);
    return rc;
}

static int cmd_user_list(int argc, char **argv)
{
    return vv_run_simple(&s_user_list, argc, argv);
}

static int cmd_user_delete(int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    char said[160];
    int rc = vv_args_parse(&v_user_delete, argc, argv, &a);
    if (rc >= 0)
        return rc;
    vv_path_init(&p, "/api/v1/users/%s", vv_arg(&a, O_NAME));
    snprintf(said, sizeof(said), "Deleted user '%s' and revoked its tokens.", vv_arg(&a, O_NAME));
    return vv_request_say(&a, NULL, "DELETE", &p, said);
}

/* A new token: its row, and in a table the secret itself; then, on stderr, that it
 * is shown only this once. */
static void show_token(const struct vv_client *c, const json_t *ans, const void *ctx)
{
    const json_t *tok = json_object_get(ans, "token");

    (void)ctx;
    vv_print(c->json, ans, vv_cols_token);
    if (!c->json && json_is_string(tok))
        printf("\nToken: %s\n", json_string_value(tok));
    fprintf(stderr, "Save the token now: it cannot be shown again. The user signs in with "
            "'vmvault login --url %s --token -'.\n", c->url);
}

static int cmd_token_create(int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    json_t *body;
    int rc = vv_args_parse(&v_token_create, argc, argv, &a);

    if (rc >= 0)
        return rc;
    body = json_object();
    if (vv_arg(&a, O_NAME))
        json_object_set_new(body, "name", json_string(vv_arg(&a, O_NAME)));
    if (vv_arg(&a, O_EXPIRES_DAYS))
        json_object_set_new(body, "expiresInDays",
                            json_integer((json_int_t)vv_arg_num(&a, O_EXPIRES_DAYS)));
    vv_path_init(&p, "/api/v1/users/%s/tokens", vv_arg(&a, O_USER));
    rc = vv_request_show(&a, NULL, "POST", &p, body, show_token, NULL);
    json_decref(body);
    return rc;
}

static int cmd_token_list(int argc, char **argv)
{
    return vv_run_simple(&s_token_list, argc, argv);
}

static int cmd_token_revoke(int argc, char **argv)
{
    struct vv_args a;
    struct vv_path p;
    char said[160];
    int rc = vv_args_parse(&v_token_revoke, argc, argv, &a);
    if (rc >= 0)
        return rc;
    vv_path_init(&p, "/api/v1/tokens/%s", vv_arg(&a, O_ID));
    snprintf(said, sizeof(said), "Revoked token '%.100s'.", vv_arg(&a, O_ID));
    return vv_request_say(&a, NULL, "DELETE", &p, said);
}

static const struct vv_command user_commands[] = {
    {"create", cmd_user_create, "create a user with a role", user_create_usage},
    {"list", cmd_user_list, "list users", user_list_usage},
    {"delete", cmd_user_delete, "delete a user and revoke its tokens", user_delete_usage},
    {NULL, NULL, NULL, NULL},
};

static const struct vv_command token_commands[] = {
    {"create", cmd_token_create, "create a token for a user", token_create_usage},
    {"list", cmd_token_list, "list tokens", token_list_usage},
    {"revoke", cmd_token_revoke, "revoke a token", token_revoke_usage},
    {NULL, NULL, NULL, NULL},
};

int vv_cmd_user(int argc, char **argv)
{
    return vv_cli_group("user", vv_user_usage, user_commands, argc, argv);
}

int vv_cmd_token(int argc, char **argv)
{
    return vv_cli_group("token", vv_token_usage, token_commands, argc, argv);
}
