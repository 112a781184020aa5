/*
 * options.c: the command line of vmvaultd (see options.h): the usage text, the
 * options one by one, then the rules on how they combine.
 *
 * Invariant: every refusal is one line on stderr starting "vmvaultd: " (or
 * "vmvaultd check: ") and exit status 2; nothing is opened or created here.
 */
#include "options.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define LISTEN_DEFAULT "127.0.0.1:8080"

static const char usage[] =
    "usage: vmvaultd [--data-dir DIR] [--listen HOST:PORT] [--public-url URL]\n"
    "                [--tls auto|off | --tls-cert FILE --tls-key FILE]\n"
    "                [--allow-plain-http] [--agent-timeout SECONDS]\n"
    "                [--prune-time HH:MM] [--log-level debug|info|warn|error]\n"
    "                [--clock-file FILE]\n"
    "       vmvaultd check [--data-dir DIR]\n"
    "\n"
    "The vmvault vault server: the REST API every operator, dashboard and host agent\n"
    "talks to, the catalog (SQLite) and each vault's chunk store.\n"
    "\n"
    "It needs no configuration. On first start it creates the data folder, the\n"
    "catalog and the user 'owner' (role Owner), whose token it writes to\n"
    "DIR/owner.token (mode 0600). Use that token with the CLI:\n"
    "    export VMVAULT_URL=http://127.0.0.1:8080\n"
    "    export VMVAULT_TOKEN=$(cat DIR/owner.token)\n"
    "    vmvault vault create --name v1 --location westeurope\n"
    "After a crash it removes recovery points that were not completely committed\n"
    "and uploads that were never committed, before it serves anything.\n"
    "SIGTERM or SIGINT stops it cleanly.\n"
    "\n"
    "Options:\n"
    "  --data-dir DIR      where the catalog and stores live (default: $VMVAULTD_DATA_DIR,\n"
    "                      else /var/lib/vmvault as root, else ~/.local/share/vmvault)\n"
    "  --listen HOST:PORT  address to serve on (default: 127.0.0.1:8080; port 0 picks\n"
    "                      a free port); the URL (https:// with TLS) is written to\n"
    "                      DIR/vmvaultd.url\n"
    "  --public-url URL    the URL hosts use to reach this server, written into vault\n"
    "                      credentials files (default: from each request's Host\n"
    "                      header, with https:// when serving TLS)\n"
    "  --tls auto|off      auto: serve HTTPS with a self-signed certificate. The\n"
    "                      first start makes an EC P-256 key and a certificate valid\n"
    "                      for 10 years, named after the host of --public-url, else\n"
    "                      of --listen, else \"vmvault\", and also valid for\n"
    "                      127.0.0.1, ::1 and localhost; it keeps them in\n"
    "                      DIR/tls/cert.pem and DIR/tls/key.pem (key mode 0600,\n"
    "                      folder 0700), and later starts use the same pair. Vault\n"
    "                      credentials files carry the certificate's public-key pin,\n"
    "                      which is how hosts trust it; remove both files for a new\n"
    "                      pair (hosts then need new credentials).\n"
    "                      off (the default): plain HTTP\n"
    "  --tls-cert FILE     serve HTTPS with this PEM certificate (the server's own\n"
    "  --tls-key FILE      first, then any intermediates) and its PEM private key,\n"
    "                      not encrypted; both are read once at start, so a renewed\n"
    "                      certificate takes a restart. Clients verify it against\n"
    "                      their CA store, or pin its key as with --tls auto\n"
    "  --allow-plain-http  serve plain HTTP on an address other than loopback. Every\n"
    "                      API token and registration secret then crosses the network\n"
    "                      in clear text, readable by anyone on the path: use it only\n"
    "                      behind a proxy that terminates TLS. Without it, plain HTTP\n"
    "                      is refused on all but 127.0.0.0/8, ::1 and localhost\n"
    "  --agent-timeout S   a job fails when its host's agent gives no news for S seconds\n"
    "                      (default: 900); AgentStoppedResponding when it had started,\n"
    "                      AgentUnreachable when it never did\n"
    "  --prune-time HH:MM  when (UTC) the daily prune of expired recovery points and the\n"
    "                      collection of unreferenced chunks run in every vault\n"
    "                      (default: 03:00)\n"
    "  --log-level LEVEL   debug, info (default), warn or error\n"
    "  --clock-file FILE   for tests of schedules and retention only: the server's clock\n"
    "                      jumps to the UTC time written in FILE (\"2027-03-27T23:00:00Z\"\n"
    "                      or epoch seconds) whenever FILE changes, and runs on from there\n"
    "\n"
    "Backups run when their policy says (every second the scheduler looks for due\n"
    "runs; a run missed while the server was down runs once when it is back).\n"
    "\n"
    "check: with the server stopped, verify the catalog (SQLite integrity, foreign\n"
    "keys) and every vault's store: every recovery point in the catalog is read back\n"
    "and re-hashed chunk by chunk, and no point exists in a store that the catalog\n"
    "does not list. Prints a JSON report. Exit status 0 when consistent, 3 when\n"
    "anything is missing or damaged, 1 when it cannot run.\n"
    "\n"
    "Exit status: 0 after a clean stop, 1 on a start-up failure, 2 on a usage error\n"
    "(also: a --tls-cert or --tls-key file that is missing or unusable, plain HTTP on\n"
    "a non-loopback address without --allow-plain-http).\n";

static void default_data_dir(char *out, size_t n)
{
    const char *env = getenv("VMVAULTD_DATA_DIR"), *home = getenv("HOME");
    if (env && *env)
        snprintf(out, n, "%s", env);
    else if (geteuid() == 0 || !home)
        snprintf(out, n, "/var/lib/vmvault");
    else
        snprintf(out, n, "%s/.local/share/vmvault", home);
}

void vv_addr_host(const char *addr, char *out, size_t n)
{
    const char *p = strstr(addr, "://"), *end;
    p = p ? p + 3 : addr;
    if (*p == '[') {
        p++;
        end = strchr(p, ']');
    } else if (p == addr) {
        end = strrchr(p, ':'); /* a listen address: the port follows the last ':' */
    } else {
        end = p + strcspn(p, ":/?#");
    }
    if (!end)
        end = p + strlen(p);
    snprintf(out, n, "%.*s", (int)(end - p), p);
}

/* Non-zero when listen names an address other people's packets can reach: not
 * 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) or localhost. An address that does not
 * parse answers 0: vv_http_start refuses it with its own message. */
static int listen_exposed(const char *listen)
{
    char host[256];
    struct in_addr a4;
    struct in6_addr a6;

    vv_addr_host(listen, host, sizeof(host));
    if (!strcmp(host, "localhost"))
        return 0;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) != 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return !IN6_IS_ADDR_LOOPBACK(&a6) &&
               !(IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return 0;
}

/* The options that set the server: data folder, public URL, agent timeout, prune
 * time (the log level is process-wide). 0, or 2 after saying why. */
static int server_option(int c, const char *arg, struct vv_server *s)
{
    switch (c) {
    case 'd':
        if (!*arg || strlen(arg) >= sizeof(s->data_dir) - 200) {
            fprintf(stderr, "vmvaultd: --data-dir must be a path of at most 3800 bytes\n");
            return 2;
        }
        snprintf(s->data_dir, sizeof(s->data_dir), "%s", arg);
        return 0;
    case 'u':
        if (strncmp(arg, "http://", 7) && strncmp(arg, "https://", 8)) {
            fprintf(stderr, "vmvaultd: --public-url must start with http:// or https://\n");
            return 2;
        }
        snprintf(s->public_url, sizeof(s->public_url), "%s", arg);
        return 0;
    case 'L': {
        enum vv_log_level lvl;
        if (vv_log_level_parse(arg, &lvl) != 0) {
            fprintf(stderr, "vmvaultd: --log-level must be debug, info, warn or error\n");
            return 2;
        }
        vv_log_set_level(lvl);
        return 0;
    }
    case 't': {
        uint64_t v;
        if (vv_parse_u64(arg, &v) != 0 || v < 1 || v > 86400 * 7) {
            fprintf(stderr, "vmvaultd: --agent-timeout must be 1 to 604800 seconds\n");
            return 2;
        }
        s->agent_timeout = (int64_t)v;
        return 0;
    }
    case 'P': {
        unsigned hh, mm;
        char tail;
        if (sscanf(arg, "%2u:%2u%c", &hh, &mm, &tail) != 2 || hh > 23 || mm > 59 ||
            strlen(arg) != 5) {
            fprintf(stderr, "vmvaultd: --prune-time must be HH:MM (UTC), e.g. 03:00\n");
            return 2;
        }
        s->prune_time = (int)(hh * 60 + mm);
        return 0;
    }
    }
    return 0;
}

/* Every option in argv, in order. -1 to go on, or the exit status after printing. */
static int parse_argv(int argc, char **argv, struct vv_options *o, struct vv_server *s,
                      const char **clock_file)
{
    static const struct option opts[] = {
        {"data-dir", required_argument, NULL, 'd'}, {"listen", required_argument, NULL, 'l'},
        {"public-url", required_argument, NULL, 'u'}, {"log-level", required_argument, NULL, 'L'},
        {"agent-timeout", required_argument, NULL, 't'},
        {"prune-time", required_argument, NULL, 'P'}, {"clock-file", required_argument, NULL, 'C'},
        {"tls", required_argument, NULL, 'T'}, {"tls-cert", required_argument, NULL, 'c'},
        {"tls-key", required_argument, NULL, 'k'},
        {"allow-plain-http", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
        case 'u':
        case 'L':
        case 't':
        case 'P':
            if (server_option(c, optarg, s) != 0)
                return 2;
            break;
        case 'l':
            o->listen = optarg;
            break;
        case 'C':
            *clock_file = optarg;
            break;
        case 'T':
            if (strcmp(optarg, "auto") && strcmp(optarg, "off")) {
                fprintf(stderr, "vmvaultd: --tls must be auto or off (or give --tls-cert FILE "
                                "--tls-key FILE)\n");
                return 2;
            }
            o->tls_mode = optarg;
            break;
        case 'c':
            o->tls_cert = optarg;
            break;
        case 'k':
            o->tls_key = optarg;
            break;
        case 'p':
            o->allow_plain = 1;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        case 'V':
            printf("vmvaultd %s\n", VV_SERVER_VERSION);
            return 0;
        default:
            fprintf(stderr, "vmvaultd: unknown option '%s'\nRun 'vmvaultd --help' for usage.\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vmvaultd: unexpected argument '%s'\nRun 'vmvaultd --help' for usage.\n",
                argv[optind]);
        return 2;
    }
    return -1;
}

/* The rules on how the options combine. -1 when they go together, else 2 after
 * saying why. */
static int check_combination(struct vv_options *o)
{
    if (o->check && (o->listen != NULL && strcmp(o->listen, LISTEN_DEFAULT) != 0)) {
        fprintf(stderr, "vmvaultd check: --listen does not apply here\n");
        return 2;
    }
    if (o->check && (o->tls_mode || o->tls_cert || o->tls_key || o->allow_plain)) {
        fprintf(stderr, "vmvaultd check: --tls, --tls-cert, --tls-key and --allow-plain-http "
                        "do not apply here\n");
        return 2;
    }
    if (!o->tls_cert != !o->tls_key) {
        fprintf(stderr, "vmvaultd: --tls-cert and --tls-key go together: give the "
                        "certificate and its key\n");
        return 2;
    }
    if (o->tls_cert && o->tls_mode) {
        fprintf(stderr, "vmvaultd: --tls %s does not go with --tls-cert: give --tls auto (a "
                        "self-signed certificate) or --tls-cert and --tls-key\n", o->tls_mode);
        return 2;
    }
    if (o->tls_mode && !strcmp(o->tls_mode, "off"))
        o->tls_mode = NULL;
    if (!o->check && !o->tls_mode && !o->tls_cert && !o->allow_plain &&
        listen_exposed(o->listen)) {
        fprintf(stderr,
                "vmvaultd: refusing to serve plain HTTP on %s: API tokens and registration "
                "secrets would cross the network in clear text.\n"
                "Serve HTTPS with --tls auto (a self-signed certificate, kept in the data "
                "folder) or --tls-cert FILE --tls-key FILE, or listen on 127.0.0.1; "
                "--allow-plain-http serves plain HTTP anyway (behind a TLS proxy only).\n",
                o->listen);
        return 2;
    }
    return -1;
}

int vv_options_parse(int argc, char **argv, struct vv_options *o, struct vv_server *s)
{
    const char *clock_file = NULL;
    int r;

    memset(o, 0, sizeof(*o));
    o->listen = LISTEN_DEFAULT;
    if (argc > 1 && !strcmp(argv[1], "check")) {
        o->check = 1;
        argv[1] = argv[0];
        argc--;
        argv++;
    }
    default_data_dir(s->data_dir, sizeof(s->data_dir));
    if ((r = parse_argv(argc, argv, o, s, &clock_file)) >= 0 || (r = check_combination(o)) >= 0)
        return r;
    if (vv_clock_init(s, clock_file) != 0) {
        fprintf(stderr, "vmvaultd: --clock-file %s does not hold a UTC time\n", clock_file);
        return 2;
    }
    return -1;
}
