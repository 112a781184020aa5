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
#include <netdb.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "uploads.h"
#include "util.h"

#define LISTEN_DEFAULT "127.0.0.1:8080"

static const char usage[] =
    "usage: vmvaultd [--data-dir DIR] [--listen HOST:PORT] [--public-url URL]\n"
    "                [--tls auto|off | --tls-cert FILE --tls-key FILE]\n"
    "                [--allow-plain-http] [--agent-timeout SECONDS]\n"
    "                [--prune-time HH:MM] [--log-level debug|info|warn|error]\n"
    "                [--body-budget SIZE] [--max-connections N]\n"
    "                [--max-connections-per-address N] [--header-timeout SECONDS]\n"
    "                [--handler-threads N]\n"
    "                [--min-free SIZE|PERCENT%] [--job-pin-limit N]\n"
    "                [--clock-file FILE] [--region NAME]\n"
    "                [--replication-lag-alert SECONDS]\n"
    "                [--catalog-backup-dir DIR [--catalog-backup-every SECONDS]\n"
    "                 [--catalog-backup-keep N]]\n"
    "       vmvaultd check [--data-dir DIR]\n"
    "       vmvaultd backup-catalog --to FILE [--data-dir DIR]\n"
    "       vmvaultd catalog rebuild [--data-dir DIR] [--force]\n"
    "                [--key VAULT=FILE]... [--passphrase-file FILE]\n"
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
    "After a crash it removes commits that never wrote their manifest and uploads\n"
    "that were never committed, before it serves anything. A vault folder or a\n"
    "recovery point the catalog does not list is never deleted: it is moved aside\n"
    "to DIR/quarantine/<UTC time>/ and logged with the way back. A new (empty)\n"
    "catalog next to a DIR/vaults/ that holds vaults is refused: see catalog rebuild.\n"
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
    "  --region NAME       this server's region (default: local). Paired as a secondary,\n"
    "                      it is where replica vaults live and their location\n"
    "  --replication-lag-alert SECONDS\n"
    "                      a GeoRedundant vault whose oldest point not yet on the\n"
    "                      secondary is older than this is Lagging, with an alert in\n"
    "                      its overview (default: 3600)\n"
    "  --min-free SIZE|P%  below this much free space on the data folder's file system\n"
    "                      a backup is refused before it starts (backup now: 507\n"
    "                      VaultStorageLow; a scheduled one fails with that code when\n"
    "                      its agent claims it) and the vault overview shows an alert:\n"
    "                      bytes with an optional suffix K, M, G or T (powers of 1024)\n"
    "                      or a percentage of the file system, e.g. 5% (default: 1G;\n"
    "                      0 turns the check off)\n"
    "  --job-pin-limit N   the most chunk ids one backup job may hold pinned in its\n"
    "                      vault (ids its agent asked about or uploaded, kept from the\n"
    "                      collection of unreferenced chunks until the job ends); past\n"
    "                      it the agent is answered 429 PinLimitReached (1 to 10^12;\n"
    "                      default: 100000000, two passes over a 10 TiB disk)\n"
    "  --log-level LEVEL   debug, info (default), warn or error\n"
    "  --body-budget SIZE  memory all request bodies being received may hold together\n"
    "                      (suffix K, M, G; at least 1M; default: a quarter of the RAM,\n"
    "                      at most 512M, at least 160M). A request whose body would\n"
    "                      pass it is answered 503 ServerBusy with Retry-After, one\n"
    "                      larger than all of it 413. Keep it above 129M: a disk\n"
    "                      index upload may be up to 128 MiB\n"
    "  --max-connections N connections served at once (default: 16384, lowered to fit\n"
    "                      the open-file limit, whose soft value is raised to the hard)\n"
    "  --max-connections-per-address N\n"
    "                      connections at once from one client address (default: 128,\n"
    "                      room for an agent's 64 upload threads and a dashboard; 0: no\n"
    "                      limit); more are closed at once\n"
    "  --header-timeout S  a connection that has not sent a complete request's headers\n"
    "                      S seconds after it opened (or after its last answer) is\n"
    "                      closed, however slowly they trickle in (default: 15)\n"
    "  --handler-threads N requests handled at once (default: 256; threads start as\n"
    "                      needed). Connections waiting to send or receive hold none;\n"
    "                      an agent's long poll for jobs holds one while it waits:\n"
    "                      polls wait at most 2 per host and a quarter of N in all;\n"
    "                      one past that is answered 429 TooManyPolls (Retry-After)\n"
    "  --catalog-backup-dir DIR\n"
    "                      back the catalog up into DIR while serving (SQLite's online\n"
    "                      backup), as DIR/catalog-<UTC time>.db: at start, then every\n"
    "                      --catalog-backup-every SECONDS (default 86400; at least\n"
    "                      60; a suffix m, h or d counts minutes, hours or days),\n"
    "                      keeping the newest --catalog-backup-keep N (default 7).\n"
    "                      Put DIR on another disk or copy it off the machine\n"
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
    "backup-catalog: copy the live catalog (the server may be running) to FILE, a new\n"
    "file, consistent as of one moment. Restore: stop vmvaultd, copy FILE to\n"
    "DIR/catalog.db and remove DIR/catalog.db-wal and DIR/catalog.db-shm.\n"
    "\n"
    "catalog rebuild: with the server stopped, recreate the catalog from what the\n"
    "stores under DIR/vaults hold: vaults (name, location, redundancy, soft delete),\n"
    "their hosts and protected items (protection stopped, data retained) and every\n"
    "recovery point. Users, tokens, policies, jobs and the audit log are not in the\n"
    "stores and cannot be rebuilt (a catalog backup has them): the next start makes\n"
    "the user 'owner' again and hosts register again. A catalog that is not empty\n"
    "is refused unless --force, which moves it aside (DIR/catalog.db.before-rebuild-\n"
    "<UTC time>). --key VAULT=FILE brings back the key of a vault (its name or id)\n"
    "whose vault.key is lost, from a wrapped key export ('vmvault backup vault key\n"
    "export'); the passphrase is read from --passphrase-file FILE, else from\n"
    "$VMVAULTD_KEY_PASSPHRASE. Prints a JSON report. Exit status 0 when every\n"
    "store was read, 3 when something could not be, 1 when it cannot run.\n"
    "See docs/disaster-recovery.md.\n"
    "\n"
    "Exit status: 0 after a clean stop, 1 on a start-up failure, 2 on a usage error\n"
    "(also: a --tls-cert or --tls-key file that is missing or unusable, plain HTTP on\n"
    "a non-loopback address without --allow-plain-http).\n";

static _Atomic unsigned long_polls_max = 64;

unsigned vv_long_polls_max(void)
{
    return atomic_load(&long_polls_max);
}

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
 * 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) or localhost. The host is resolved as
 * vv_http_start resolves it (getaddrinfo, numeric), so every form it accepts ("0",
 * "10.1", a scoped IPv6 address) is judged by the address it binds; one that does not
 * resolve answers 0: vv_http_start refuses it with its own message. */
static int listen_exposed(const char *listen)
{
    char host[256];
    struct addrinfo hints, *ai = NULL;
    int exposed = 0;

    vv_addr_host(listen, host, sizeof(host));
    if (!strcmp(host, "localhost"))
        return 0;
    memset(&hints, 0, sizeof(hints));
    hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &ai) != 0)
        return 0;
    if (ai->ai_family == AF_INET) {
        const struct sockaddr_in *s4 = (const void *)ai->ai_addr;
        exposed = (ntohl(s4->sin_addr.s_addr) >> 24) != 127;
    } else if (ai->ai_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)ai->ai_addr)->sin6_addr;
        exposed = !IN6_IS_ADDR_LOOPBACK(a6) && !(IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127);
    } else {
        exposed = 1;
    }
    freeaddrinfo(ai);
    return exposed;
}

/* --min-free: "5%" (1 to 90), or bytes with an optional K, M, G or T. 0, or 2 after
 * saying why. */
static int parse_min_free(const char *arg, struct vv_server *s)
{
    char num[32];
    size_t n = strlen(arg);
    uint64_t v, mult = 1;

    if (n == 0 || n >= sizeof(num))
        goto bad;
    snprintf(num, sizeof(num), "%s", arg);
    switch (num[n - 1]) {
    case '%': mult = 0; break;
    case 'K': case 'k': mult = 1ull << 10; break;
    case 'M': case 'm': mult = 1ull << 20; break;
    case 'G': case 'g': mult = 1ull << 30; break;
    case 'T': case 't': mult = 1ull << 40; break;
    default: n++; break; /* no suffix */
    }
    num[n - 1] = '\0';
    if (vv_parse_u64(num, &v) != 0)
        goto bad;
    if (mult == 0) {
        if (v < 1 || v > 90)
            goto bad;
        s->min_free_percent = (int)v;
        s->min_free_bytes = 0;
        return 0;
    }
    if (v > (1ull << 50) / mult)
        goto bad;
    s->min_free_bytes = v * mult;
    s->min_free_percent = 0;
    return 0;
bad:
    fprintf(stderr, "vmvaultd: --min-free takes bytes with an optional K, M, G or T (e.g. "
                    "1G), 0 to turn the check off, or 1%% to 90%% of the file system\n");
    return 2;
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
    case 'M':
        return parse_min_free(arg, s);
    case 'R':
        if (!vv_region_valid(arg) || strlen(arg) >= sizeof(s->region)) {
            fprintf(stderr, "vmvaultd: --region must be a name (letters, digits, '-', '_', "
                            "'.'; at most 63 characters), e.g. westeurope\n");
            return 2;
        }
        snprintf(s->region, sizeof(s->region), "%s", arg);
        return 0;
    case 'A': {
        uint64_t v;
        if (vv_parse_u64(arg, &v) != 0 || v < 1 || v > 86400 * 30) {
            fprintf(stderr, "vmvaultd: --replication-lag-alert must be 1 to 2592000 seconds\n");
            return 2;
        }
        s->repl_lag_alert = (int64_t)v;
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

/* A number of seconds with an optional suffix m, h or d. 0 or -1. */
static int parse_period(const char *arg, int64_t *out)
{
    char num[32];
    size_t n = strlen(arg);
    uint64_t v, mult = 1;

    if (n == 0 || n >= sizeof(num))
        return -1;
    snprintf(num, sizeof(num), "%s", arg);
    switch (num[n - 1]) {
    case 'm': mult = 60; break;
    case 'h': mult = 3600; break;
    case 'd': mult = 86400; break;
    case 's': break;
    default: n++; break; /* no suffix */
    }
    num[n - 1] = '\0';
    if (vv_parse_u64(num, &v) != 0 || v > 366ull * 86400 / mult)
        return -1;
    *out = (int64_t)(v * mult);
    return 0;
}

/* The options of the catalog's backup and rebuild. 0, or 2 after saying why. */
static int recovery_option(int c, const char *arg, struct vv_options *o)
{
    uint64_t v;

    switch (c) {
    case 'f':
        o->force = 1;
        return 0;
    case 'K':
        if (o->nkeys >= VV_OPT_MAX_KEYS || !strchr(arg, '=') || arg[0] == '=') {
            fprintf(stderr, "vmvaultd: --key takes VAULT=FILE (a vault's name or id, and its "
                            "wrapped key export), at most %d times\n", VV_OPT_MAX_KEYS);
            return 2;
        }
        o->keys[o->nkeys++] = arg;
        return 0;
    case 'F':
        o->passphrase_file = arg;
        return 0;
    case 'o':
        o->backup_to = arg;
        return 0;
    case 'B':
        o->catalog_backup_dir = arg;
        return 0;
    case 'E':
        if (parse_period(arg, &o->catalog_backup_every) != 0 || o->catalog_backup_every < 60) {
            fprintf(stderr, "vmvaultd: --catalog-backup-every must be 60 seconds to 366 days "
                            "(e.g. 3600, 6h or 1d)\n");
            return 2;
        }
        return 0;
    case 'N':
        if (vv_parse_u64(arg, &v) != 0 || v < 1 || v > 10000) {
            fprintf(stderr, "vmvaultd: --catalog-backup-keep must be 1 to 10000\n");
            return 2;
        }
        o->catalog_backup_keep = (int)v;
        return 0;
    }
    return 0;
}

/* The options of the HTTP server's limits (codes past any character). */
enum { OPT_BODY_BUDGET = 256, OPT_MAX_CONNS, OPT_MAX_CONNS_ADDR, OPT_HEADER_TIMEOUT,
       OPT_HANDLER_THREADS, OPT_JOB_PIN_LIMIT };

/* --job-pin-limit: 0, or 2 after saying why. */
static int parse_pin_limit(const char *arg)
{
    uint64_t v;

    if (vv_parse_u64(arg, &v) != 0 || v < 1 || v > VV_PIN_LIMIT_MAX) {
        fprintf(stderr, "vmvaultd: --job-pin-limit must be 1 to 1000000000000 (chunk ids "
                        "one backup job may pin)\n");
        return 2;
    }
    vv_pin_limit_set(v);
    return 0;
}

/* One of the HTTP server's limits into l. 0, or 2 after saying why. */
static int http_option(int c, const char *arg, struct vv_http_limits *l)
{
    uint64_t v;

    if (c == OPT_BODY_BUDGET) {
        if (vv_parse_size(arg, &v) != 0 || v < (1u << 20) || v > ((uint64_t)1 << 40)) {
            fprintf(stderr, "vmvaultd: --body-budget must be a size from 1M to 1T, e.g. 512M\n");
            return 2;
        }
        l->body_budget = (size_t)v;
        return 0;
    }
    if (vv_parse_u64(arg, &v) != 0 || v > 1000000 ||
        (c != OPT_MAX_CONNS_ADDR && v < 1) || (c == OPT_HEADER_TIMEOUT && v > 3600) ||
        (c == OPT_HANDLER_THREADS && (v < 2 || v > 4096))) {
        fprintf(stderr, "vmvaultd: %s\n",
                c == OPT_MAX_CONNS        ? "--max-connections must be 1 to 1000000"
                : c == OPT_MAX_CONNS_ADDR ? "--max-connections-per-address must be 0 (no "
                                            "limit) to 1000000"
                : c == OPT_HEADER_TIMEOUT ? "--header-timeout must be 1 to 3600 seconds"
                                          : "--handler-threads must be 2 to 4096");
        return 2;
    }
    if (c == OPT_MAX_CONNS)
        l->max_conns = (unsigned)v;
    else if (c == OPT_MAX_CONNS_ADDR)
        l->max_conns_per_addr = (unsigned)v;
    else if (c == OPT_HEADER_TIMEOUT)
        l->header_timeout = (unsigned)v;
    else
        l->handler_threads = (unsigned)v;
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
        {"min-free", required_argument, NULL, 'M'},
        {"region", required_argument, NULL, 'R'},
        {"replication-lag-alert", required_argument, NULL, 'A'},
        {"tls", required_argument, NULL, 'T'}, {"tls-cert", required_argument, NULL, 'c'},
        {"tls-key", required_argument, NULL, 'k'},
        {"allow-plain-http", no_argument, NULL, 'p'},
        {"force", no_argument, NULL, 'f'}, {"key", required_argument, NULL, 'K'},
        {"passphrase-file", required_argument, NULL, 'F'}, {"to", required_argument, NULL, 'o'},
        {"catalog-backup-dir", required_argument, NULL, 'B'},
        {"catalog-backup-every", required_argument, NULL, 'E'},
        {"catalog-backup-keep", required_argument, NULL, 'N'},
        {"body-budget", required_argument, NULL, OPT_BODY_BUDGET},
        {"max-connections", required_argument, NULL, OPT_MAX_CONNS},
        {"max-connections-per-address", required_argument, NULL, OPT_MAX_CONNS_ADDR},
        {"header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT},
        {"handler-threads", required_argument, NULL, OPT_HANDLER_THREADS},
        {"job-pin-limit", required_argument, NULL, OPT_JOB_PIN_LIMIT},
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
        case 'M':
        case 'R':
        case 'A':
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
        case 'f':
        case 'K':
        case 'F':
        case 'o':
        case 'B':
        case 'E':
        case 'N':
            if (recovery_option(c, optarg, o) != 0)
                return 2;
            break;
        case OPT_BODY_BUDGET:
        case OPT_MAX_CONNS:
        case OPT_MAX_CONNS_ADDR:
        case OPT_HEADER_TIMEOUT:
        case OPT_HANDLER_THREADS:
            if (http_option(c, optarg, &o->http) != 0)
                return 2;
            o->http_set = 1;
            break;
        case OPT_JOB_PIN_LIMIT:
            if (parse_pin_limit(optarg) != 0)
                return 2;
            o->pin_limit_set = 1;
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
    if ((o->force || o->nkeys || o->passphrase_file) && !o->rebuild) {
        fprintf(stderr, "vmvaultd: --force, --key and --passphrase-file belong to 'vmvaultd "
                        "catalog rebuild'\n");
        return 2;
    }
    if (!o->backup_to != !o->backup_catalog) {
        fprintf(stderr, o->backup_catalog ? "vmvaultd backup-catalog: give --to FILE, a new "
                                            "file to write the copy to\n"
                                          : "vmvaultd: --to belongs to 'vmvaultd "
                                            "backup-catalog'\n");
        return 2;
    }
    if ((o->catalog_backup_every || o->catalog_backup_keep) && !o->catalog_backup_dir) {
        fprintf(stderr, "vmvaultd: --catalog-backup-every and --catalog-backup-keep go with "
                        "--catalog-backup-dir DIR\n");
        return 2;
    }
    if ((o->rebuild || o->backup_catalog) &&
        (o->catalog_backup_dir || (o->listen && strcmp(o->listen, LISTEN_DEFAULT)) ||
         o->tls_mode || o->tls_cert || o->tls_key || o->allow_plain || o->http_set ||
         o->pin_limit_set)) {
        fprintf(stderr, "vmvaultd: %s takes only --data-dir%s\n",
                o->rebuild ? "catalog rebuild" : "backup-catalog",
                o->rebuild ? ", --force, --key and --passphrase-file" : " and --to");
        return 2;
    }
    if (!o->catalog_backup_every)
        o->catalog_backup_every = 86400;
    if (!o->catalog_backup_keep)
        o->catalog_backup_keep = 7;
    if (o->check && (o->listen != NULL && strcmp(o->listen, LISTEN_DEFAULT) != 0)) {
        fprintf(stderr, "vmvaultd check: --listen does not apply here\n");
        return 2;
    }
    if (o->check && (o->tls_mode || o->tls_cert || o->tls_key || o->allow_plain)) {
        fprintf(stderr, "vmvaultd check: --tls, --tls-cert, --tls-key and --allow-plain-http "
                        "do not apply here\n");
        return 2;
    }
    if (o->check && (o->http_set || o->pin_limit_set)) {
        fprintf(stderr, "vmvaultd check: --body-budget, --max-connections, "
                        "--max-connections-per-address, --header-timeout, --handler-threads "
                        "and --job-pin-limit do not apply here (they limit a serving "
                        "server)\n");
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
    vv_http_limits_default(&o->http);
    if (argc > 1 && !strcmp(argv[1], "check")) {
        o->check = 1;
        argv[1] = argv[0];
        argc--;
        argv++;
    } else if (argc > 2 && !strcmp(argv[1], "catalog") && !strcmp(argv[2], "rebuild")) {
        o->rebuild = 1;
        argv[2] = argv[0];
        argc -= 2;
        argv += 2;
    } else if (argc > 1 && !strcmp(argv[1], "backup-catalog")) {
        o->backup_catalog = 1;
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
    atomic_store(&long_polls_max,
                 o->http.handler_threads >= 8 ? o->http.handler_threads / 4 : 1);
    return -1;
}
