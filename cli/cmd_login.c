/*
 * cmd_login.c: `vmvault login` checks a server URL and token (GET /api/v1/whoami)
 * and saves them in the config file (mode 0600) that every other API command reads;
 * `vmvault logout` removes that file. The file holds two sessions: the primary one
 * (members url, token, certificatePin) and, for cross-region restore, the paired
 * secondary region's server (member "secondary", the same three members), which
 * commands use with --use-secondary-region. Saving one keeps the other.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "util.h"

const char vv_login_usage[] =
    "usage: vmvault login [--secondary-region] --url URL --token TOKEN\n"
    "                     [--certificate-pin PIN] [--output json|table]\n"
    "\n"
    "Check that the vault server at URL answers and accepts TOKEN (GET /api/v1/whoami),\n"
    "then save both in the config file, so later commands need neither. The file is\n"
    "$XDG_CONFIG_HOME/vmvault/config.json, else ~/.config/vmvault/config.json, written\n"
    "with mode 0600. Nothing is saved when the check fails. The environment variables\n"
    "VMVAULT_URL and VMVAULT_TOKEN, when set, override the saved values.\n"
    "\n"
    "With --secondary-region the session is saved as the secondary region's: the\n"
    "vault server paired as secondary ('vmvault pairing'), where replica vaults are\n"
    "listed and restored from. Commands given --use-secondary-region use it; the\n"
    "primary session stays as it was. VMVAULT_SECONDARY_URL, VMVAULT_SECONDARY_TOKEN\n"
    "and VMVAULT_SECONDARY_CERTIFICATE_PIN override the saved values.\n"
    "\n"
    "A server's first start creates the user 'owner' and writes its token to\n"
    "owner.token in its data folder; 'vmvault token create' makes tokens for others.\n"
    "Agent tokens (of registered hosts) are refused here.\n"
    "\n"
    "Options:\n"
    "  --secondary-region       save the session of the secondary region's server,\n"
    "                           keeping the primary session\n"
    "  --url URL                the server, e.g. http://vault.example:8080\n"
    "  --token TOKEN            a user's API token; '-' reads it from standard input,\n"
    "                           which keeps it out of the process list and shell history\n"
    "  --certificate-pin PIN    trust exactly this public key for an https server\n"
    "                           (sha256//BASE64, as vmvaultd prints it at start and vault\n"
    "                           credentials carry it) instead of the system CA store;\n"
    "                           saved with the URL. VMVAULT_CERTIFICATE_PIN overrides it\n"
    VV_HELP_FORMAT
    VV_HELP_HELP
    "\n"
    "Example:\n"
    "  vmvault login --url http://127.0.0.1:8080 --token - < /srv/vmvault/owner.token\n"
    "  vmvault login --secondary-region --url https://vault.northeurope.example:8443 \\\n"
    "      --token - --certificate-pin sha256//BASE64 < northeurope.token\n"
    "\n"
    "Exit status: 0 when the token was accepted and saved; 1 when the server refused\n"
    "the token, could not be reached, or the file could not be written; 2 on a usage\n"
    "error.\n";

const char vv_logout_usage[] =
    "usage: vmvault logout [--secondary-region]\n"
    "\n"
    "Remove the config file written by 'vmvault login' ($XDG_CONFIG_HOME/vmvault/\n"
    "config.json, else ~/.config/vmvault/config.json), with both sessions in it. With\n"
    "--secondary-region only the secondary region's session goes. The token itself\n"
    "stays valid on the server; revoke it with 'vmvault token revoke --id ID' if it\n"
    "should not be used again.\n"
    "\n"
    "Options:\n"
    "  --secondary-region       forget only the secondary region's session\n"
    "  -h, --help               show this help\n"
    "\n"
    "Example:\n"
    "  vmvault logout\n"
    "  vmvault logout --secondary-region\n"
    "\n"
    "Exit status: 0 when the file is gone (or was not there), 1 when it could not be\n"
    "removed, 2 on a usage error.\n";

static const struct vv_verb v_login = {
    "login", vv_login_usage,
    {{O_SECONDARY_REGION, 0}, {O_URL, VV_REQ}, {O_TOKEN, VV_REQ}, {O_CERT_PIN, 0},
     {O_OUTPUT, 0}, {O_HELP, 0}}};
static const struct vv_verb v_logout = {
    "logout", vv_logout_usage, {{O_SECONDARY_REGION, 0}, {O_HELP, 0}}};

/* mkdir -p of the folder holding path, new folders mode 0700. Returns 0 or -1. */
static int make_parent(const char *path)
{
    char dir[VV_PATH_MAX];
    size_t n;
    const char *slash = strrchr(path, '/');
    if (!slash || (size_t)(slash - path) >= sizeof(dir))
        return 0;
    n = (size_t)(slash - path);
    memcpy(dir, path, n);
    dir[n] = '\0';
    for (size_t i = 1; i <= n; i++) {
        if (dir[i] != '/' && dir[i] != '\0')
            continue;
        dir[i] = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            return -1;
        if (i < n)
            dir[i] = '/';
    }
    return 0;
}

/* Write the config j atomically with mode 0600. Returns 0 or -1 with errno set. */
static int write_config(const char *path, const json_t *j)
{
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    char *tmp = NULL;
    int fd = -1, r = -1, e = ENOMEM;

    if (!text || asprintf(&tmp, "%s.XXXXXX", path) < 0) {
        tmp = NULL;
        goto out;
    }
    if (make_parent(path) < 0 || (fd = mkstemp(tmp)) < 0) {
        e = errno;
        goto out;
    }
    if (vv_write_all(fd, text, strlen(text)) < 0 || vv_write_all(fd, "\n", 1) < 0 ||
        fsync(fd) < 0) {
        e = errno;
        goto out;
    }
    if (close(fd) < 0) {
        fd = -1;
        e = errno;
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        e = errno;
        goto out;
    }
    r = 0;
out:
    if (fd >= 0)
        close(fd);
    if (r < 0 && tmp)
        unlink(tmp);
    free(tmp);
    free(text);
    errno = e;
    return r;
}

/* The config at path to change: its JSON object, or a new one when there is no
 * file. A file that is not a valid config is moved aside (never deleted), saying
 * where. NULL after printing why it cannot be read. Caller json_decref()s. */
static json_t *config_for_update(const char *path)
{
    json_t *j = NULL;
    char *aside = NULL;

    if (vv_config_load(path, &j) == VV_EXIT_OK)
        return j ? j : json_object();
    if (access(path, R_OK) != 0 ||
        asprintf(&aside, "%s.invalid-%lld", path, (long long)time(NULL)) < 0)
        return NULL;
    /* link, then unlink: an older file of that name is never replaced */
    if (link(path, aside) < 0 || unlink(path) < 0) {
        fprintf(stderr, "vmvault: cannot move %s aside to %s: %s\n", path, aside,
                strerror(errno));
        free(aside);
        return NULL;
    }
    fprintf(stderr, "vmvault: moved it aside to %s and writing a new one\n", aside);
    free(aside);
    return json_object();
}

/* Save url, token and pin (NULL: none) as the primary session, or as the member
 * "secondary" when secondary, keeping the other session. Returns 0, or -1 after
 * printing why. */
static int save_config(const char *path, int secondary, const char *url, const char *token,
                       const char *pin)
{
    json_t *j = config_for_update(path), *s;
    int r;

    if (!j)
        return -1;
    s = secondary ? json_object() : j;
    json_object_set_new(s, "url", json_string(url));
    json_object_set_new(s, "token", json_string(token));
    if (pin)
        json_object_set_new(s, "certificatePin", json_string(pin));
    else
        json_object_del(s, "certificatePin");
    if (secondary)
        json_object_set_new(j, "secondary", s);
    if ((r = write_config(path, j)) < 0)
        fprintf(stderr, "vmvault: cannot write %s: %s\n", path, strerror(errno));
    json_decref(j);
    return r;
}

/* Read one line (the token) from standard input into buf. Returns 0 or -1. */
static int read_token(char *buf, size_t n) { return vv_cli_read_secret("Token: ", buf, n); }

/* Who the token belongs to, from the whoami answer ans (strings borrowed from it).
 * Returns 0, or -1 after printing why the token will not do. */
static int whoami(const struct vv_client *c, const json_t *ans, const char **user,
                  const char **role)
{
    char err[64];

    if (json_is_true(json_object_get(ans, "agent"))) {
        fprintf(stderr, "vmvault: this is the agent token of a registered host; log in with "
                "a user's token\n");
        return -1;
    }
    if (vv_json_get_str(ans, "user", 0, user, err, sizeof(err)) != 0)
        *user = NULL;
    if (vv_json_get_str(ans, "role", 0, role, err, sizeof(err)) != 0)
        *role = NULL;
    if (!*user) {
        fprintf(stderr, "vmvault: the server at %s did not say who the token belongs to; is "
                "it a vmvault server?\n", c->url);
        return -1;
    }
    return 0;
}

int vv_cmd_login(int argc, char **argv)
{
    struct vv_args a;
    struct vv_client c;
    struct vv_path p;
    json_t *ans = NULL;
    char tokbuf[4096];
    const char *token, *user = NULL, *role = NULL;
    char *path = NULL;
    int rc = vv_args_parse(&v_login, argc, argv, &a);
    int secondary = vv_arg(&a, O_SECONDARY_REGION) != NULL;

    if (rc >= 0)
        return rc;
    if (vv_arg(&a, O_USE_SECONDARY))
        return vv_cli_usage_error("login", "--use-secondary-region does not apply here: save "
                                  "the secondary region's session with --secondary-region");
    token = vv_arg(&a, O_TOKEN);
    if (!strcmp(token, "-")) {
        if (read_token(tokbuf, sizeof(tokbuf)) < 0) {
            fprintf(stderr, "vmvault: no token on standard input\n");
            return VV_EXIT_FAIL;
        }
        token = tokbuf;
    }
    if (!(path = vv_config_path())) {
        fprintf(stderr, "vmvault: neither XDG_CONFIG_HOME nor HOME is set: there is no place "
                "for the config file; set VMVAULT_URL and VMVAULT_TOKEN instead\n");
        return VV_EXIT_FAIL;
    }
    if ((rc = vv_client_open_with(&c, vv_arg(&a, O_URL), token, a.json,
                                  vv_arg(&a, O_CERT_PIN))) != VV_EXIT_OK)
        goto out;
    vv_path_init(&p, "/api/v1/whoami");
    if ((rc = vv_client_call(&c, "GET", &p, NULL, &ans)) != VV_EXIT_OK)
        goto out;
    rc = VV_EXIT_FAIL;
    if (whoami(&c, ans, &user, &role) < 0)
        goto out;
    if (save_config(path, secondary, c.url, token, vv_arg(&a, O_CERT_PIN)) < 0)
        goto out;
    if (c.json) {
        json_t *o = json_pack("{s:s,s:s,s:s?,s:s,s:s}", "url", c.url, "user", user, "role",
                              role, "config", path, "session",
                              secondary ? "secondary" : "primary");
        vv_print_json(o);
        json_decref(o);
    } else if (secondary) {
        printf("Logged in to the secondary region's server %s as %s (%s). Saved to %s;\n"
               "commands given --use-secondary-region use it.\n", c.url, user,
               role ? role : "?", path);
    } else {
        printf("Logged in to %s as %s (%s). Saved to %s.\n", c.url, user, role ? role : "?",
               path);
    }
    rc = VV_EXIT_OK;
out:
    explicit_bzero(tokbuf, sizeof(tokbuf));
    json_decref(ans);
    vv_client_close(&c);
    free(path);
    return rc;
}

/* Forget the secondary region's session in the config at path, keeping the primary
 * one (the file goes when nothing else is left in it). Returns an exit status. */
static int logout_secondary(const char *path)
{
    json_t *j = NULL;
    int rc = VV_EXIT_OK;

    if (vv_config_load(path, &j) != VV_EXIT_OK)
        return VV_EXIT_FAIL;
    if (!j || !json_object_get(j, "secondary")) {
        printf("Not logged in to a secondary region (no session 'secondary' in %s).\n", path);
        json_decref(j);
        return VV_EXIT_OK;
    }
    json_object_del(j, "secondary");
    if (json_object_size(j) == 0 ? unlink(path) : write_config(path, j)) {
        fprintf(stderr, "vmvault: cannot update %s: %s\n", path, strerror(errno));
        rc = VV_EXIT_FAIL;
    } else {
        printf("Removed the secondary region's session from %s. Its token stays valid on "
               "that server until it is revoked.\n", path);
    }
    json_decref(j);
    return rc;
}

int vv_cmd_logout(int argc, char **argv)
{
    struct vv_args a;
    char *path;
    int rc = vv_args_parse(&v_logout, argc, argv, &a);

    if (rc >= 0)
        return rc;
    if (!(path = vv_config_path())) {
        printf("Not logged in (neither XDG_CONFIG_HOME nor HOME is set).\n");
        return VV_EXIT_OK;
    }
    if (vv_arg(&a, O_SECONDARY_REGION)) {
        rc = logout_secondary(path);
    } else if (unlink(path) == 0) {
        printf("Removed %s. The token stays valid on the server until it is revoked.\n", path);
    } else if (errno == ENOENT) {
        printf("Not logged in (no %s).\n", path);
    } else {
        fprintf(stderr, "vmvault: cannot remove %s: %s\n", path, strerror(errno));
        rc = VV_EXIT_FAIL;
    }
    if (rc < 0)
        rc = VV_EXIT_OK;
    free(path);
    return rc;
}

int vv_cli_read_secret(const char *prompt, char *buf, size_t n)
{
    size_t len;

    if (isatty(STDIN_FILENO))
        fputs(prompt, stderr);
    if (!fgets(buf, (int)n, stdin))
        return -1;
    len = strcspn(buf, "\r\n");
    buf[len] = '\0';
    while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
        buf[--len] = '\0';
    return len > 0 ? 0 : -1;
}
