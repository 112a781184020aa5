/*
 * vmvault-agent.c: the host agent's main: its options, then the command.
 * `register` joins a vault with a vault credentials file; `check-connectivity`
 * tests the way to it (check.c); `run` is the daemon: inventory, job claims, the
 * jobs (job_backup.c, job_restore.c), clean-up after a crash.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "buf.h"
#include "engine/parallel.h"
#include "err.h"
#include "log.h"
#include "quiesce.h"
#include "thaw_guard.h"
#include "util.h"
#include "virt.h"

#define DEFAULT_STATE_DIR "/var/lib/vmvault-agent"
#define DEFAULT_URI "qemu:///system"
#define DEFAULT_FREEZE_TIMEOUT 30

static const char usage[] =
    "usage: vmvault-agent register --vault-credentials FILE [--region REGION]\n"
    "                              [--host-name NAME] [--state-dir DIR] [--connect URI]\n"
    "                              [--use-system-ca]\n"
    "       vmvault-agent check-connectivity [--state-dir DIR] [--output json|table]\n"
    "       vmvault-agent run [--state-dir DIR] [--connect URI] [--threads N] [--once]\n"
    "                         [--max-upload-rate RATE] [--freeze-timeout SECONDS]\n"
    "                         [--log-level debug|info|warn|error]\n"
    "\n"
    "The vmvault host agent. It registers this hypervisor host with a vault, reports\n"
    "the host's libvirt VMs to it, and carries out the backups the vault asks for:\n"
    "running VMs through libvirt checkpoints and pull-mode backups read over NBD (only\n"
    "the blocks changed since the last backup, when the chain is intact), shut-off VMs\n"
    "by reading their images directly. Only the chunks the vault lacks are sent.\n"
    "\n"
    "A running VM whose qemu-guest-agent answers gets its policy's pre-script run\n"
    "inside the guest, its filesystems frozen only while the point in time is taken,\n"
    "then thawed and its post-script run: an application- or file-system-consistent\n"
    "point. Otherwise the point is crash-consistent and the job says why. A guest is\n"
    "never left frozen: a separate thaw guard thaws it within about a second when the\n"
    "agent dies, and after --freeze-timeout in any case.\n"
    "\n"
    "register: read a vault credentials file ('vmvault vault credentials --name V\n"
    "  --file FILE' writes one), register this host with the vault, and keep the\n"
    "  host's own token in the state folder (mode 0600, folder 0700). Registering\n"
    "  again replaces the host's token.\n"
    "    --vault-credentials FILE  the vault credentials file\n"
    "    --region REGION           the host's region (default: the vault's location);\n"
    "                              only VMs in the vault's region can be protected\n"
    "    --host-name NAME          the host's name in the vault (default: hostname)\n"
    "    --use-system-ca           trust the system's CA store for an https vault instead\n"
    "                              of pinning the certificate key the credentials carry\n"
    "run: the daemon. Reports the VMs when they change (and every 5 minutes), claims\n"
    "  the host's jobs and runs them one after another, until SIGTERM or SIGINT.\n"
    "    --threads N               backup workers (default: CPUs + 2)\n"
    "    --max-upload-rate RATE    send at most RATE bytes per second to the vault\n"
    "                              (K, M, G suffixes; default: no limit)\n"
    "    --once                    report, run the queued jobs, then exit\n"
    "    --freeze-timeout SECONDS  the longest a guest may stay frozen before the thaw\n"
    "                              guard thaws it (1 to 600; default 30); a point\n"
    "                              taken after that is crash-consistent\n"
    "check-connectivity: test each step of the way to the vault (agent.json and\n"
    "  agent.conf, proxy, name resolution, TCP, TLS and the pinned key, the vault's\n"
    "  answer, this host's token, a small upload) and print pass/fail with what to\n"
    "  allow or fix for a failed step. Exit status 1 when a step fails.\n"
    "    --output json|table       a table (default) or JSON for scripts\n"
    "\n"
    "The way to the vault: an https vault's certificate key is pinned at registration\n"
    "(from the credentials file). The agent goes through the proxy of agent.conf in\n"
    "the state folder, Key=Value lines (HttpProxy.Host, HttpProxy.Port, optional\n"
    "HttpProxy.User and HttpProxy.Password; Network.RetrySeconds, how long requests\n"
    "are retried while the network fails, default 300; Restore.Roots, the folders\n"
    "restores may write under, space-separated, default /var/lib/libvirt/images and\n"
    "STATE-DIR/restores), else https_proxy /\n"
    "http_proxy / no_proxy from its environment. A job that cannot reach the vault\n"
    "fails with a code naming the cause (ExtensionSnapshotFailedNoNetwork,\n"
    "VaultNameResolutionFailed, VaultConnectionRefused, VaultTlsFailed,\n"
    "VaultCertificateMismatch, ProxyUnreachable, ProxyRefusedConnection,\n"
    "ProxyAuthenticationRequired, AgentCredentialRejected); docs/network.md says\n"
    "what a locked-down network must allow.\n"
    "\n"
    "All commands:\n"
    "    --state-dir DIR           default " DEFAULT_STATE_DIR "\n"
    "    --connect URI             libvirt URI (default " DEFAULT_URI ")\n"
    "\n"
    "Examples:\n"
    "  vmvault vault credentials --name v1 --file /root/v1.vaultcredentials\n"
    "  vmvault-agent register --vault-credentials /root/v1.vaultcredentials\n"
    "  systemctl enable --now vmvault-agent     # agent/vmvault-agent.service\n"
    "\n"
    "Exit status: 0 on success or a clean stop, 1 on failure, 2 on a usage error.\n";

static struct vv_agent agent;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&agent.stop, 1);
}

/* ---- inventory ------------------------------------------------------------------- */

int vv_agent_report_inventory(struct vv_agent *a, int force)
{
    static char *last;
    struct vv_vm *vms;
    size_t n, nvms;
    json_t *arr, *body;
    char *text, err[600], shown[sizeof(err)];
    int r;

    if ((r = vv_virt_list(a->virt, &vms, &n)) != 0)
        return r;
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *disks = json_array();
        int ok = 1;
        for (const char *p = vms[i].name; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                  *p == '.' || *p == '_' || *p == '-'))
                ok = 0;
        if (!ok || strlen(vms[i].name) > 64) {
            vv_warn("VM '%s' is not reported: vmvault names VMs with 1 to 64 letters, digits, "
                    "'.', '_' or '-'",
                    vv_agent_shown(vms[i].name, shown, sizeof(shown)));
            json_decref(disks);
            continue;
        }
        for (size_t k = 0; k < vms[i].ndisks; k++)
            json_array_append_new(disks, json_pack("{s:s,s:I,s:s,s:s}", "name",
                                                   vms[i].disks[k].target, "size",
                                                   (json_int_t)vms[i].disks[k].size, "source",
                                                   vms[i].disks[k].source, "format",
                                                   vms[i].disks[k].format));
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:o}", "name", vms[i].name, "uuid",
                                             vms[i].uuid, "state", vms[i].state, "disks", disks));
    }
    vv_vms_free(vms, n);
    nvms = json_array_size(arr);
    body = json_pack("{s:o}", "vms", arr);
    text = vv_json_dump(body);
    if (!force && last && text && !strcmp(last, text)) {
        free(text);
        json_decref(body);
        return 0;
    }
    r = vv_vault_json_once(a, a->http, "PUT", "/api/v1/agent/inventory", body, NULL, NULL, err,
                      sizeof(err));
    json_decref(body);
    if (r) {
        vv_warn("cannot report the host's VMs: %s", vv_agent_shown(err, shown, sizeof(shown)));
        free(text);
        return r;
    }
    vv_info("reported %zu VM(s) to vault '%s'", nvms, a->vault);
    free(last);
    last = text;
    return 0;
}

int vv_agent_run_job(struct vv_agent *a, json_t *job)
{
    const char *op = json_string_value(json_object_get(job, "operation"));
    const char *id = json_string_value(json_object_get(job, "id"));
    const char *item = json_string_value(json_object_get(job, "item"));
    char shown_op[VV_SHOWN_MAX], shown_item[VV_SHOWN_MAX];

    /* the id names folders, files and URLs: only a UUID, as the vault makes them */
    if (!vv_uuid_valid(id)) {
        vv_error("the vault sent a job whose id is not a UUID; it is not run");
        return VV_E_CORRUPT;
    }
    vv_info("job %s: %s of '%s'", id, vv_agent_shown(op, shown_op, sizeof(shown_op)),
            vv_agent_shown(item, shown_item, sizeof(shown_item)));
    if (op && !strcmp(op, "Backup"))
        return vv_agent_backup(a, job);
    if (op && !strcmp(op, "Restore"))
        return vv_agent_restore(a, job);
    vv_best_effort(vv_agent_complete(
        a, id, "Failed", "UnsupportedOperation",
        "this agent version does not carry out this operation; update vmvault-agent"));
    return VV_E_UNSUPPORTED;
}

/* The checkpoint the kept chain of VM uuid uses, into keep ("" for none): 0, or
 * VV_E_TOOBIG said. */
static int chain_checkpoint(struct vv_agent *a, const char *uuid, char *keep, size_t n)
{
    char jpath[VV_PATH_MAX];
    struct vv_buf b;
    json_t *j;

    keep[0] = '\0';
    if (vv_path_join(jpath, sizeof(jpath), "%s/chains/%s.json", a->state_dir, uuid) != 0)
        return vv_fail(VV_E_TOOBIG, "the path of %s/chains/%s.json is too long", a->state_dir,
                       uuid);
    vv_buf_init(&b, 1 << 20);
    if (vv_read_file(jpath, &b) == 0 && (j = vv_json_parse(b.data, b.len, NULL, 0))) {
        const char *cp = json_string_value(json_object_get(j, "checkpoint"));
        if (cp)
            snprintf(keep, n, "%s", cp);
        json_decref(j);
    }
    vv_buf_release(&b);
    return 0;
}

/* Leftovers of a run that was killed: libvirt backup jobs still exporting into our
 * run folder, scratch files, and checkpoints of ours (named with this registration's
 * prefix; another vault's agent on this host keeps its own) that no chain uses. */
static void clean_leftovers(struct vv_agent *a)
{
    struct vv_vm *vms;
    size_t n;
    char dir[VV_PATH_MAX];

    vv_quiesce_recover(a);
    if (vv_virt_list(a->virt, &vms, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        char **cps = NULL;
        size_t ncp = 0;
        char keep[128] = "";
        /* without the chain's checkpoint known, none of the VM's is removed */
        int known = chain_checkpoint(a, vms[i].uuid, keep, sizeof(keep)) == 0;

        if (vv_virt_backup_running_in(a->virt, vms[i].uuid, a->state_dir) == 1) {
            vv_warn("ending the backup job of VM '%s' left by an interrupted run", vms[i].name);
            vv_best_effort(vv_virt_backup_end(a->virt, vms[i].uuid));
        }
        if (known && vv_virt_checkpoints(a->virt, vms[i].uuid, &cps, &ncp) == 0) {
            for (size_t k = 0; k < ncp; k++) {
                if (a->cp_prefix[0] && !strncmp(cps[k], a->cp_prefix, strlen(a->cp_prefix)) &&
                    strcmp(cps[k], keep) != 0) {
                    vv_warn("removing checkpoint %s of VM '%s' left by an interrupted backup",
                            cps[k], vms[i].name);
                    vv_best_effort(vv_virt_checkpoint_delete(a->virt, vms[i].uuid, cps[k]));
                }
                free(cps[k]);
            }
            free(cps);
        }
    }
    vv_vms_free(vms, n);
    /* run/ holds only the sockets and scratch files of backups that died with us. */
    if (vv_path_join(dir, sizeof(dir), "%s/run", a->state_dir) != 0)
        vv_error("the path of %s/run is too long", a->state_dir);
    else if (vv_rmtree(dir) != 0)
        vv_warn("%s could not be removed; remove it by hand", dir);
}

/* ---- commands ------------------------------------------------------------------- */

/* The vault credentials file creds into agent's URL, vault id and pin; the parsed
 * file into *c (caller json_decref()s). 0, or 1 with the reason said. */
static int read_credentials(const char *creds, int system_ca, json_t **c)
{
    struct vv_buf b;
    char err[600];
    const char *url, *vid, *pin;
    int r;

    *c = NULL;
    vv_buf_init(&b, 1 << 20);
    if ((r = vv_read_file(creds, &b)) != 0) {
        fprintf(stderr, "vmvault-agent: cannot read %s: %s\n", creds, vv_strerror(r));
        vv_buf_release(&b);
        return 1;
    }
    *c = vv_json_parse(b.data, b.len, err, sizeof(err));
    vv_buf_release(&b);
    url = json_string_value(json_object_get(*c, "vaultUrl"));
    vid = json_string_value(json_object_get(*c, "vaultId"));
    if (!*c || !url || !vid || !json_string_value(json_object_get(*c, "registrationSecret")) ||
        strlen(url) >= sizeof(agent.url) || strlen(vid) >= sizeof(agent.vault_id)) {
        fprintf(stderr,
                "vmvault-agent: %s is not a vault credentials file (download one with 'vmvault "
                "vault credentials --name VAULT --file FILE')\n",
                creds);
        return 1;
    }
    snprintf(agent.url, sizeof(agent.url), "%s", url);
    while (strlen(agent.url) && agent.url[strlen(agent.url) - 1] == '/')
        agent.url[strlen(agent.url) - 1] = 0;
    snprintf(agent.vault_id, sizeof(agent.vault_id), "%s", vid);
    pin = json_string_value(json_object_get(*c, "certificatePin"));
    if (!system_ca && !strncmp(agent.url, "https://", 8) && (!pin || !*pin)) {
        fprintf(stderr, "vmvault-agent: %s has an https vault URL but no certificatePin; "
                        "add --use-system-ca to trust the system's CA store instead\n",
                creds);
        return 1;
    }
    if (!system_ca && pin && vv_http_set_pin(agent.http, pin) != 0) {
        fprintf(stderr, "vmvault-agent: %s: certificatePin is malformed\n", creds);
        return 1;
    }
    snprintf(agent.pin, sizeof(agent.pin), "%s", !system_ca && pin ? pin : "");
    return 0;
}

/* 1 when the token t is what a vault issues: printable ASCII without spaces, so it
 * is safe in an HTTP header and agent.json. */
static int token_valid(const char *t)
{
    size_t n = t ? strlen(t) : 0;

    if (n < 8 || n >= sizeof(agent.token))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (t[i] <= ' ' || t[i] > '~')
            return 0;
    return 1;
}

/* The vault's answer to a registration into agent: token, host, region, vault.
 * 0, or 1 with the reason said when the answer breaks the vault's own rules. */
static int take_registration(json_t *ans)
{
    json_t *container = json_object_get(ans, "container");
    const char *region = json_string_value(json_object_get(container, "region"));

    if (!token_valid(json_string_value(json_object_get(ans, "token"))) ||
        !vv_name_valid(json_string_value(json_object_get(container, "name"))) ||
        !vv_name_valid(json_string_value(json_object_get(json_object_get(ans, "vault"), "name"))) ||
        !region || !*region || strlen(region) > 64 ||
        strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region)) {
        fprintf(stderr, "vmvault-agent: the vault's answer to the registration is malformed "
                        "(token, host, vault or region name); nothing was saved. Check that "
                        "the credentials file names a vmvault vault of the same version\n");
        return 1;
    }

    snprintf(agent.token, sizeof(agent.token), "%s", json_string_value(json_object_get(ans, "token")));
    snprintf(agent.host, sizeof(agent.host), "%s",
             json_string_value(json_object_get(container, "name")));
    snprintf(agent.region, sizeof(agent.region), "%s",
             json_string_value(json_object_get(container, "region")));
    snprintf(agent.vault, sizeof(agent.vault), "%s",
             json_string_value(json_object_get(json_object_get(ans, "vault"), "name")));
    return 0;
}

static int cmd_register(const char *creds, const char *region, const char *host_name,
                        int system_ca)
{
    json_t *c, *body, *ans = NULL;
    char err[600], hn[256], shown[sizeof(err)];
    int r;

    if (read_credentials(creds, system_ca, &c) != 0 || vv_agent_conf_load(&agent) != 0) {
        json_decref(c);
        return 1;
    }
    if (!host_name) {
        if (gethostname(hn, sizeof(hn)) != 0)
            snprintf(hn, sizeof(hn), "localhost");
        hn[sizeof(hn) - 1] = 0;
        if (strchr(hn, '.'))
            *strchr(hn, '.') = 0;
        host_name = hn;
    }
    body = json_pack("{s:s,s:s,s:s,s:s}", "vaultId", agent.vault_id, "registrationSecret",
                     json_string_value(json_object_get(c, "registrationSecret")), "hostName",
                     host_name, "agentVersion", VV_AGENT_VERSION);
    if (region)
        json_object_set_new(body, "region", json_string(region));
    vv_vault_own_token(&agent, host_name);
    r = vv_vault_json(&agent, agent.http, "POST", "/api/v1/agent/register", body, &ans, NULL, err,
                      sizeof(err));
    json_decref(body);
    json_decref(c);
    if (r) {
        fprintf(stderr, "vmvault-agent: registration refused: %s\n",
                vv_agent_shown(err, shown, sizeof(shown)));
        return 1;
    }
    r = take_registration(ans);
    json_decref(ans);
    if (r)
        return 1;
    if ((r = vv_state_init(agent.state_dir)) != 0 || (r = vv_state_save(&agent)) != 0)
        return 1;
    printf("Registered host '%s' (region %s) with vault '%s' at %s.\n"
           "Its credential is in %s/agent.json. Start the agent with:\n"
           "  vmvault-agent run --state-dir %s\n",
           agent.host, agent.region, agent.vault, agent.url, agent.state_dir, agent.state_dir);
    return 0;
}

static int cmd_run(int once)
{
    time_t last_inventory = 0;
    char err[1200], shown[sizeof(err)];
    int r, rc = 0;

    if (vv_state_load(&agent) != 0 || vv_agent_conf_load(&agent) != 0)
        return 1;
    if (!agent.uri[0])
        snprintf(agent.uri, sizeof(agent.uri), "%s", DEFAULT_URI);
    if (vv_virt_open(agent.uri, &agent.virt) != 0)
        return 1;
    vv_info("vmvault-agent %s: host '%s', vault '%s' at %s, libvirt %s", VV_AGENT_VERSION,
            agent.host, agent.vault, agent.url, agent.uri);
    clean_leftovers(&agent);
    while (!atomic_load(&agent.stop)) {
        json_t *job = NULL;
        long status = 0;
        vv_agent_conf_refresh(&agent);
        vv_best_effort(vv_agent_outbox_flush(&agent));
        if (time(NULL) - last_inventory >= 300 || once) {
            vv_best_effort(vv_agent_report_inventory(&agent, 1));
            last_inventory = time(NULL);
        } else {
            vv_best_effort(vv_agent_report_inventory(&agent, 0));
        }
        r = vv_vault_json_once(&agent, agent.http, "GET",
                          once ? "/api/v1/agent/jobs/next" : "/api/v1/agent/jobs/next?wait=5",
                          NULL, &job, &status, err, sizeof(err));
        if (r) {
            vv_warn("cannot ask the vault for jobs: %s", vv_agent_shown(err, shown, sizeof(shown)));
            if (status == 401) {
                vv_error("the vault no longer accepts this host's token: register it again");
                vv_virt_close(agent.virt);
                return 1;
            }
            if (once) {
                rc = 1;
                break;
            }
            sleep(5);
            continue;
        }
        if (status == 204 || !job) {
            json_decref(job);
            if (once)
                break;
            continue;
        }
        vv_best_effort(vv_agent_run_job(&agent, job));
        json_decref(job);
    }
    vv_info("stopped");
    vv_virt_close(agent.virt);
    agent.virt = NULL;
    return rc;
}

/* ---- options ------------------------------------------------------------------- */

/* The command line: the command, and its options that are not the agent's settings
 * (those go straight into agent). */
struct options {
    const char *cmd, *creds, *region, *host;
    int once, freeze_set, system_ca, json_out, output_set;
};

/* A number option's value, lo to hi, into *out: -1 to go on, or 2 with
 * "vmvault-agent: what" said. */
static int parse_int_opt(const char *arg, uint64_t lo, uint64_t hi, const char *what, int *out)
{
    uint64_t v;
    if (vv_parse_u64(arg, &v) != 0 || v < lo || v > hi) {
        fprintf(stderr, "vmvault-agent: %s\n", what);
        return 2;
    }
    *out = (int)v;
    return -1;
}

/* One option (getopt_long's c, optarg): -1 to go on, or the exit status. */
static int parse_option(int c, const char *arg, struct options *o, char **argv)
{
    enum vv_log_level lvl;

    switch (c) {
    case 'c':
        o->creds = arg;
        return -1;
    case 'r':
        o->region = arg;
        return -1;
    case 'n':
        o->host = arg;
        return -1;
    case 'o':
        o->once = 1;
        return -1;
    case 'S':
        o->system_ca = 1;
        return -1;
    case 'u':
        snprintf(agent.uri, sizeof(agent.uri), "%s", arg);
        return -1;
    case 's':
        if (strlen(arg) >= VV_AGENT_STATE_DIR_MAX ||
            vv_path_join(agent.state_dir, sizeof(agent.state_dir), "%s", arg) != 0) {
            fprintf(stderr, "vmvault-agent: --state-dir is too long\n");
            return 2;
        }
        return -1;
    case 't':
        return parse_int_opt(arg, 1, 64, "--threads must be 1 to 64", &agent.threads);
    case 'F':
        o->freeze_set = 1;
        return parse_int_opt(arg, 1, 600, "--freeze-timeout must be 1 to 600 seconds",
                             &agent.freeze_timeout);
    case 'O':
        if (strcmp(arg, "json") && strcmp(arg, "table")) {
            fprintf(stderr, "vmvault-agent: --output must be json or table\n");
            return 2;
        }
        o->json_out = !strcmp(arg, "json");
        o->output_set = 1;
        return -1;
    case 'R':
        if (vv_parse_size(arg, &agent.max_upload_rate) != 0 || agent.max_upload_rate < 4096) {
            fprintf(stderr, "vmvault-agent: --max-upload-rate must be at least 4K (bytes per "
                            "second; K, M, G suffixes)\n");
            return 2;
        }
        return -1;
    case 'L':
        if (vv_log_level_parse(arg, &lvl) != 0) {
            fprintf(stderr, "vmvault-agent: --log-level must be debug, info, warn or error\n");
            return 2;
        }
        vv_log_set_level(lvl);
        return -1;
    case 'h':
        fputs(usage, stdout);
        return 0;
    default:
        fprintf(stderr, "vmvault-agent %s: unknown option '%s'\nRun 'vmvault-agent --help'.\n",
                o->cmd, argv[optind - 1]);
        return 2;
    }
}

/* The options after the command, into o and agent's settings: -1 to go on, or the
 * exit status. */
static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option opts[] = {
        {"vault-credentials", required_argument, NULL, 'c'},
        {"region", required_argument, NULL, 'r'},
        {"host-name", required_argument, NULL, 'n'},
        {"state-dir", required_argument, NULL, 's'},
        {"connect", required_argument, NULL, 'u'},
        {"threads", required_argument, NULL, 't'},
        {"once", no_argument, NULL, 'o'},
        {"max-upload-rate", required_argument, NULL, 'R'},
        {"log-level", required_argument, NULL, 'L'},
        {"freeze-timeout", required_argument, NULL, 'F'},
        {"use-system-ca", no_argument, NULL, 'S'},
        {"output", required_argument, NULL, 'O'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, rc;

    snprintf(agent.state_dir, sizeof(agent.state_dir), "%s", DEFAULT_STATE_DIR);
    agent.threads = vv_default_threads();
    agent.freeze_timeout = DEFAULT_FREEZE_TIMEOUT;
    opterr = 0;
    optind = 2;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
        if ((rc = parse_option(c, optarg, o, argv)) >= 0)
            return rc;
    if (optind < argc) {
        fprintf(stderr, "vmvault-agent %s: unexpected argument '%s'\n", o->cmd, argv[optind]);
        return 2;
    }
    return -1;
}

/* 2 with the reason said when the options do not fit the command (or each other),
 * else 0. */
static int check_options(const struct options *o)
{
    const char *cmd = o->cmd;
    int reg = !strcmp(cmd, "register"), check = !strcmp(cmd, "check-connectivity");
    size_t rl = o->region ? strlen(o->region) : 0;

    if (reg && (!o->creds || o->once))
        fprintf(stderr, "vmvault-agent register: %s\n",
                o->once ? "--once does not apply here" : "--vault-credentials is required");
    else if (reg && (agent.max_upload_rate || o->freeze_set))
        fprintf(stderr, "vmvault-agent register: %s belongs to run\n",
                o->freeze_set ? "--freeze-timeout" : "--max-upload-rate");
    else if (!reg && o->system_ca)
        fprintf(stderr, "vmvault-agent %s: --use-system-ca belongs to register\n", cmd);
    else if (!check && o->output_set)
        fprintf(stderr, "vmvault-agent %s: --output belongs to check-connectivity\n", cmd);
    else if (check && (o->creds || o->region || o->host || o->once || o->freeze_set ||
                       agent.max_upload_rate))
        fprintf(stderr, "vmvault-agent check-connectivity: takes only --state-dir and "
                        "--output\n");
    else if (!strcmp(cmd, "run") && (o->creds || o->region || o->host))
        fprintf(stderr, "vmvault-agent run: --vault-credentials, --region and --host-name "
                        "belong to register\n");
    else if (o->region && !(rl >= 1 && rl <= 64 &&
                            strspn(o->region, "abcdefghijklmnopqrstuvwxyz0123456789-") == rl))
        fprintf(stderr, "vmvault-agent register: --region must be lower-case letters, digits "
                        "or '-' (for example westeurope)\n");
    else
        return 0;
    return 2;
}

/* The first argument: help, version, the thaw guard, or a command (into *cmd).
 * 0 to go on with *cmd, or 1 when it is all done, with the exit status in *rc. */
static int first_argument(int argc, char **argv, const char **cmd, int *rc)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        *rc = argc < 2 ? 2 : 0;
        return 1;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("vmvault-agent %s\n", VV_AGENT_VERSION);
        *rc = 0;
        return 1;
    }
    *cmd = argv[1];
    if (!strcmp(*cmd, "thaw-guard")) {
        *rc = vv_thaw_guard_main(argc - 1, argv + 1);
        return 1;
    }
    if (strcmp(*cmd, "register") && strcmp(*cmd, "run") && strcmp(*cmd, "check-connectivity")) {
        fprintf(stderr, "vmvault-agent: '%s' is not a command (register, run, "
                        "check-connectivity). Run "
                        "'vmvault-agent --help'.\n", *cmd);
        *rc = 2;
        return 1;
    }
    return 0;
}

static void set_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int cmd_check(int json_out)
{
    if (vv_state_load(&agent) != 0 || vv_agent_conf_load(&agent) != 0)
        return 1;
    return vv_agent_check(&agent, json_out);
}

int main(int argc, char **argv)
{
    struct options o;
    int rc;

    memset(&o, 0, sizeof(o));
    if (first_argument(argc, argv, &o.cmd, &rc) || (rc = parse_options(argc, argv, &o)) >= 0)
        return rc;
    if (check_options(&o) != 0)
        return 2;
    set_signals();
    vv_log_set_timestamps(!strcmp(o.cmd, "run"));
    if (!strcmp(o.cmd, "check-connectivity"))
        vv_log_set_level(VV_LOG_ERROR); /* the table says it all */
    if (vv_http_global_init() != 0 || !(agent.http = vv_http_new("vmvault-agent/" VV_AGENT_VERSION))) {
        fprintf(stderr, "vmvault-agent: cannot initialise the HTTP client\n");
        return 1;
    }
    if (!strcmp(o.cmd, "register"))
        rc = cmd_register(o.creds, o.region, o.host, o.system_ca);
    else if (!strcmp(o.cmd, "run"))
        rc = cmd_run(o.once);
    else
        rc = cmd_check(o.json_out);
    vv_http_free(agent.http);
    vv_http_global_cleanup();
    return rc;
}
