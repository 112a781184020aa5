/*
 * vmvaultd.c: the vault server. Opens (or creates) the data folder and its catalog,
 * brings the catalog and the stores back to one consistent state after a crash,
 * makes sure an owner exists, serves the REST API until SIGTERM or SIGINT.
 * `vmvaultd check` verifies a stopped server's catalog and stores offline.
 *
 * Tokens travel in every request, so the API is served over HTTPS, or over plain
 * HTTP on a loopback address only (unless --allow-plain-http says otherwise).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"
#include "catalog/catalog.h"
#include "crypto.h"
#include "engine/engine.h"
#include "err.h"
#include "http.h"
#include "log.h"
#include "router.h"
#include "scheduler.h"
#include "server.h"
#include "util.h"

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

static volatile sig_atomic_t got_signal;

static void on_signal(int sig) { got_signal = sig; }

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

/* ---- crash recovery --------------------------------------------------------- */

struct recover_ctx {
    struct vv_server *s;
    int64_t vault_id;
    struct vv_repo *repo;
    int removed;
    int err;
};

static int recover_point(const char *id, void *arg)
{
    struct recover_ctx *rc = arg;
    int64_t n = 0;
    int r = vv_db_int(rc->s->db, &n, "SELECT COUNT(*) FROM recovery_points WHERE name = ?", "s", id);
    if (r < 0) {
        rc->err = r;
        return r;
    }
    if (n == 0) {
        vv_warn("recovery: removing recovery point %s: it was never committed to the catalog", id);
        r = vv_repo_point_purge(rc->repo, id);
        if (r < 0)
            vv_error("recovery: cannot remove %s: %s", id, vv_strerror(r));
        else
            rc->removed++;
    }
    return 0;
}

/* Staging folders of jobs that can no longer commit. */
static void recover_staging(struct vv_server *s, const char *uuid)
{
    char dir[4200];
    vv_server_vault_path(s, uuid, "staging", dir, sizeof(dir));
    if (vv_rmtree(dir) != 0)
        vv_warn("recovery: cannot empty %s", dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        vv_warn("recovery: cannot create %s: %s", dir, strerror(errno));
}

static int recover(struct vv_server *s)
{
    char dir[4200];
    struct vv_stmt *st;
    DIR *d;
    struct dirent *e;
    int r;

    /* Vault folders whose vault is not in the catalog: a create or delete cut short. */
    snprintf(dir, sizeof(dir), "%s/vaults", s->data_dir);
    if ((d = opendir(dir))) {
        while ((e = readdir(d))) {
            int64_t n = 0;
            if (e->d_name[0] == '.')
                continue;
            r = vv_db_int(s->db, &n, "SELECT COUNT(*) FROM vaults WHERE uuid = ?", "s", e->d_name);
            if (r < 0) {
                closedir(d);
                return r;
            }
            if (n == 0) {
                char sub[4600];
                snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
                vv_warn("recovery: removing %s: no vault in the catalog owns it", sub);
                if (vv_rmtree(sub) != 0)
                    vv_warn("recovery: %s could not be removed; remove it by hand", sub);
            }
        }
        closedir(d);
    }

    /* Points in a store that the catalog does not list: a commit cut short. */
    r = vv_db_prepare(s->db, &st, "SELECT id, uuid, name FROM vaults", "");
    if (r)
        return r;
    while ((r = vv_stmt_step(st)) == 1) {
        struct recover_ctx rc = {s, vv_stmt_int(st, 0), NULL, 0, 0};
        char uuid[VV_UUID_LEN];
        snprintf(uuid, sizeof(uuid), "%s", vv_stmt_text(st, 1));
        if (vv_server_repo(s, uuid, &rc.repo) != 0) {
            vv_error("recovery: cannot open the store of vault '%s'", vv_stmt_text(st, 2));
            continue;
        }
        if (vv_repo_point_list_all(rc.repo, recover_point, &rc) != 0)
            vv_error("recovery: vault '%s': its store's points cannot be listed",
                     vv_stmt_text(st, 2));
        if (rc.removed)
            vv_warn("recovery: vault '%s': removed %d uncommitted recovery point(s)",
                    vv_stmt_text(st, 2), rc.removed);
        recover_staging(s, uuid);
    }
    vv_stmt_free(st);
    if (r < 0)
        return r;
    /* Jobs whose uploads were just discarded cannot commit any more. */
    r = vv_db_run(s->db,
                  "UPDATE jobs SET status = CASE WHEN status = 'Cancelling' THEN 'Cancelled' "
                  "  ELSE 'Failed' END, end_time = ?, "
                  "  error_code = CASE WHEN status = 'Cancelling' THEN NULL ELSE 'VaultRestarted' END, "
                  "  error_message = CASE WHEN status = 'Cancelling' THEN NULL ELSE "
                  "  'the vault server restarted while this job ran; run the backup again' END "
                  "WHERE status IN ('InProgress','Cancelling') AND claimed IS NOT NULL",
                  "i", (int64_t)vv_server_now(s));
    if (r > 0)
        vv_warn("recovery: %d running job(s) failed: the server restarted under them", r);
    return r < 0 ? r : 0;
}

/* ---- check ------------------------------------------------------------------ */

struct check_ctx {
    struct vv_db *db;
    json_t *problems;
    const char *vault;
};

static void problem(json_t *problems, const char *vault, const char *what, const char *detail)
{
    json_array_append_new(problems, json_pack("{s:s,s:s,s:s}", "vault", vault ? vault : "",
                                              "problem", what, "detail", detail));
}

static int check_orphan(const char *id, void *arg)
{
    struct check_ctx *cc = arg;
    int64_t n = 0;
    if (vv_db_int(cc->db, &n, "SELECT COUNT(*) FROM recovery_points WHERE name = ?", "s", id) >= 0 &&
        n == 0)
        problem(cc->problems, cc->vault, "UncommittedRecoveryPoint", id);
    return 0;
}

static int run_check(struct vv_server *s)
{
    json_t *problems = json_array(), *report;
    struct vv_stmt *st, *pt;
    struct vv_verify_stats vs = {0};
    struct vv_engine_opts eo = {0, NULL, NULL, 0};
    int64_t vaults = 0, points = 0;
    char *text;
    int r, bad;

    r = vv_db_prepare(s->db, &st, "PRAGMA integrity_check", "");
    if (r)
        return 1;
    while (vv_stmt_step(st) == 1)
        if (strcmp(vv_stmt_text(st, 0), "ok") != 0)
            problem(problems, NULL, "CatalogDamaged", vv_stmt_text(st, 0));
    vv_stmt_free(st);
    if (vv_db_prepare(s->db, &st, "PRAGMA foreign_key_check", "") == 0) {
        while (vv_stmt_step(st) == 1)
            problem(problems, NULL, "CatalogForeignKey", vv_stmt_text(st, 0));
        vv_stmt_free(st);
    }
    if (vv_db_prepare(s->db, &st, "SELECT id, uuid, name FROM vaults ORDER BY name", "") != 0)
        return 1;
    while (vv_stmt_step(st) == 1) {
        char uuid[VV_UUID_LEN], name[80];
        struct vv_repo *repo;
        struct check_ctx cc;
        snprintf(uuid, sizeof(uuid), "%s", vv_stmt_text(st, 1));
        snprintf(name, sizeof(name), "%s", vv_stmt_text(st, 2));
        vaults++;
        if (vv_server_repo(s, uuid, &repo) != 0) {
            problem(problems, name, "StoreUnreadable", uuid);
            continue;
        }
        if (vv_db_prepare(s->db, &pt, "SELECT name FROM recovery_points WHERE vault_id = ?", "i",
                          vv_stmt_int(st, 0)) == 0) {
            while (vv_stmt_step(pt) == 1) {
                points++;
                r = vv_point_verify(repo, vv_stmt_text(pt, 0), &eo, &vs);
                if (r == VV_E_NOTFOUND)
                    problem(problems, name, "RecoveryPointMissing", vv_stmt_text(pt, 0));
                else if (r < 0)
                    problem(problems, name, "RecoveryPointDamaged", vv_stmt_text(pt, 0));
            }
            vv_stmt_free(pt);
        }
        cc.db = s->db;
        cc.problems = problems;
        cc.vault = name;
        if (vv_repo_point_list_all(repo, check_orphan, &cc) != 0)
            problem(cc.problems, name, "store", "the store's recovery points cannot be listed");
    }
    vv_stmt_free(st);
    bad = json_array_size(problems) > 0;
    report = json_pack("{s:s,s:I,s:I,s:I,s:I,s:o}", "status", bad ? "damaged" : "ok", "vaults",
                       (json_int_t)vaults, "recoveryPoints", (json_int_t)points, "chunksChecked",
                       (json_int_t)vs.chunks_checked, "bytesChecked",
                       (json_int_t)vs.bytes_checked, "problems", problems);
    text = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(report);
    return bad ? 3 : 0;
}

/* ---- TLS -------------------------------------------------------------------- */

#define PEM_MAX (1 << 20)       /* a certificate chain or key file, at most */
#define TLS_AUTO_DAYS 3653      /* 10 years, leap days included */
#define TLS_EXPIRY_WARN_DAYS 30 /* warn at start when a given certificate ends sooner */

/* The pair the server serves with, as PEM text; both NULL for plain HTTP. Owned by
 * whoever holds the struct; tls_pair_release clears the key and frees both. */
struct tls_pair {
    char *cert;
    char *key;
};

static void tls_pair_release(struct tls_pair *p)
{
    free(p->cert);
    if (p->key) {
        for (volatile char *q = p->key; *q; q++)
            *q = 0;
        free(p->key);
    }
    p->cert = p->key = NULL;
}

/* A PEM file as a NUL-terminated string (caller frees), or NULL with the reason in
 * err. */
static char *read_pem(const char *path, char *err, size_t errlen)
{
    struct vv_buf b;
    size_t n;
    int r;

    vv_buf_init(&b, PEM_MAX + 1);
    r = vv_read_file(path, &b);
    if (r == 0 && vv_buf_append(&b, "", 1) != 0)
        r = VV_E_TOOBIG;
    if (r != 0) {
        snprintf(err, errlen, "%s",
                 r == VV_E_NOTFOUND ? "no such file"
                 : r == VV_E_TOOBIG ? "larger than 1 MiB, not a PEM certificate or key"
                                    : strerror(errno));
        if (b.data)
            memset(b.data, 0, b.len);
        vv_buf_release(&b);
        return NULL;
    }
    return (char *)vv_buf_detach(&b, &n);
}

/* Write text to path through path.tmp, durably, with the given mode. */
static int write_file_atomic(const char *path, const char *text, mode_t mode)
{
    char tmp[4400];
    int fd, r = 0;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0 || fchmod(fd, mode) != 0 || vv_write_all(fd, text, strlen(text)) != 0 ||
        fsync(fd) != 0)
        r = VV_E_IO;
    if (fd >= 0 && close(fd) != 0)
        r = VV_E_IO;
    if (r == 0 && rename(tmp, path) != 0)
        r = VV_E_IO;
    if (r != 0) {
        vv_error("cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    return r;
}

/* The host part of "host:port", "[v6]:port" or "scheme://host[:port][/...]" into
 * out ("" when there is none). */
static void host_of(const char *addr, char *out, size_t n)
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

    host_of(listen, host, sizeof(host));
    if (!strcmp(host, "localhost"))
        return 0;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) != 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return !IN6_IS_ADDR_LOOPBACK(&a6) &&
               !(IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return 0;
}

/* --tls-cert and --tls-key: read and check the pair. Returns 0, or 2 (the exit
 * status of a usage error) after saying why. */
static int tls_load_given(const char *cert_path, const char *key_path, struct tls_pair *p)
{
    char err[300], when[32];
    struct stat st;
    time_t not_after = 0, now = time(NULL);

    if (!(p->cert = read_pem(cert_path, err, sizeof(err)))) {
        fprintf(stderr, "vmvaultd: --tls-cert %s: %s\n", cert_path, err);
        return 2;
    }
    if (!(p->key = read_pem(key_path, err, sizeof(err)))) {
        fprintf(stderr, "vmvaultd: --tls-key %s: %s\n", key_path, err);
        return 2;
    }
    if (vv_tls_check_pair(p->cert, p->key, &not_after, err, sizeof(err)) != 0) {
        fprintf(stderr, "vmvaultd: --tls-cert %s / --tls-key %s: %s\n", cert_path, key_path,
                err);
        return 2;
    }
    if (stat(key_path, &st) == 0 && (st.st_mode & S_IROTH))
        vv_warn("TLS key %s is readable by every user (mode %03o); run: chmod o-r %s",
                key_path, (unsigned)(st.st_mode & 0777), key_path);
    vv_time_format(not_after, when, sizeof(when));
    if (not_after <= now)
        vv_warn("the certificate in %s expired at %s: clients that verify it will refuse "
                "to connect", cert_path, when);
    else if (not_after - now < TLS_EXPIRY_WARN_DAYS * 86400)
        vv_warn("the certificate in %s expires in %lld day(s): renew it and restart",
                cert_path, (long long)((not_after - now) / 86400));
    return 0;
}

/* --tls auto: the pair in DIR/tls, made on the first start. The key is written
 * before the certificate, so a certificate on disk always has its key next to it; a
 * key alone is what a start cut short left, and is replaced. Returns 0 or <0 after
 * logging. */
static int tls_auto(const struct vv_server *s, const char *listen, struct tls_pair *p)
{
    char dir[4200], cert_path[4300], key_path[4300], err[300], when[32], names[3][256];
    const char *name = "vmvault";
    struct stat st;
    time_t now = time(NULL), not_after = 0;
    int r, n = 0;

    snprintf(dir, sizeof(dir), "%s/tls", s->data_dir);
    snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", dir);
    snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
    if (vv_mkdir_p(dir, 0700) != 0)
        return VV_E_IO;
    if (chmod(dir, 0700) != 0) {
        vv_error("cannot set the mode of %s: %s", dir, strerror(errno));
        return VV_E_IO;
    }

    if (stat(cert_path, &st) == 0) {
        if (stat(key_path, &st) != 0) {
            vv_error("%s is there but %s is not (%s): put the key back, or remove %s too to "
                     "make a new pair (hosts then need new vault credentials)",
                     cert_path, key_path, strerror(errno), cert_path);
            return VV_E_KEY;
        }
        if (st.st_mode & (S_IRWXG | S_IRWXO)) {
            vv_error("TLS key %s is accessible by group or others (mode %03o); run: chmod 600 "
                     "%s", key_path, (unsigned)(st.st_mode & 0777), key_path);
            return VV_E_KEY;
        }
        if (!(p->cert = read_pem(cert_path, err, sizeof(err)))) {
            vv_error("cannot read %s: %s", cert_path, err);
            return VV_E_IO;
        }
        if (!(p->key = read_pem(key_path, err, sizeof(err)))) {
            vv_error("cannot read %s: %s", key_path, err);
            return VV_E_IO;
        }
        if (vv_tls_check_pair(p->cert, p->key, &not_after, err, sizeof(err)) != 0) {
            vv_error("%s and %s: %s; remove both to make a new pair (hosts then need new "
                     "vault credentials)", cert_path, key_path, err);
            return VV_E_KEY;
        }
        vv_time_format(not_after, when, sizeof(when));
        vv_info("TLS: the self-signed certificate in %s (valid until %s)", cert_path, when);
        if (not_after <= now)
            vv_warn("the certificate in %s has expired: clients that pin its key still "
                    "connect; remove %s and %s for a new pair", cert_path, cert_path, key_path);
        return 0;
    }
    if (errno != ENOENT) {
        vv_error("cannot read %s: %s", cert_path, strerror(errno));
        return VV_E_IO;
    }

    /* The certificate's name: the host of --public-url, else the listen host unless
     * it is a wildcard, else "vmvault"; the first a certificate can carry. */
    if (s->public_url[0])
        host_of(s->public_url, names[n++], sizeof(names[0]));
    host_of(listen, names[n], sizeof(names[0]));
    if (strcmp(names[n], "0.0.0.0") && strcmp(names[n], "::"))
        n++;
    snprintf(names[n++], sizeof(names[0]), "vmvault");
    r = VV_E_INVAL;
    for (int i = 0; i < n && r == VV_E_INVAL; i++) {
        name = names[i];
        r = vv_tls_selfsigned(name, now, TLS_AUTO_DAYS, &p->cert, &p->key);
    }
    if (r != 0) {
        vv_error("cannot make a self-signed certificate: %s", vv_strerror(r));
        return r;
    }
    if ((r = write_file_atomic(key_path, p->key, 0600)) != 0 ||
        (r = write_file_atomic(cert_path, p->cert, 0644)) != 0)
        return r;
    {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    vv_info("TLS: made a self-signed certificate for '%s' in %s (valid for 10 years)", name,
            cert_path);
    return 0;
}

/* ---- main ------------------------------------------------------------------- */

static void close_server(struct vv_server *s) { vv_server_release(s); }

int main(int argc, char **argv)
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
    static struct vv_server srv;
    const char *listen = "127.0.0.1:8080";
    struct vv_http_server *http = NULL;
    pthread_t maint, worker;
    const char *clock_file = NULL, *tls_mode = NULL, *tls_cert = NULL, *tls_key = NULL;
    struct tls_pair pair = {NULL, NULL};
    struct vv_http_tls tls;
    char path[4200];
    unsigned port = 0;
    int check = 0, allow_plain = 0, c, r;
    struct sigaction sa;

    if (argc > 1 && !strcmp(argv[1], "check")) {
        check = 1;
        argv[1] = argv[0];
        argc--;
        argv++;
    }
    vv_server_init(&srv);
    default_data_dir(srv.data_dir, sizeof(srv.data_dir));
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            if (!*optarg || strlen(optarg) >= sizeof(srv.data_dir) - 200) {
                fprintf(stderr, "vmvaultd: --data-dir must be a path of at most 3800 bytes\n");
                return 2;
            }
            snprintf(srv.data_dir, sizeof(srv.data_dir), "%s", optarg);
            break;
        case 'l':
            listen = optarg;
            break;
        case 'u':
            if (strncmp(optarg, "http://", 7) && strncmp(optarg, "https://", 8)) {
                fprintf(stderr, "vmvaultd: --public-url must start with http:// or https://\n");
                return 2;
            }
            snprintf(srv.public_url, sizeof(srv.public_url), "%s", optarg);
            break;
        case 'L': {
            enum vv_log_level lvl;
            if (vv_log_level_parse(optarg, &lvl) != 0) {
                fprintf(stderr, "vmvaultd: --log-level must be debug, info, warn or error\n");
                return 2;
            }
            vv_log_set_level(lvl);
            break;
        }
        case 't': {
            uint64_t v;
            if (vv_parse_u64(optarg, &v) != 0 || v < 1 || v > 86400 * 7) {
                fprintf(stderr, "vmvaultd: --agent-timeout must be 1 to 604800 seconds\n");
                return 2;
            }
            srv.agent_timeout = (int64_t)v;
            break;
        }
        case 'P': {
            unsigned hh, mm;
            char tail;
            if (sscanf(optarg, "%2u:%2u%c", &hh, &mm, &tail) != 2 || hh > 23 || mm > 59 ||
                strlen(optarg) != 5) {
                fprintf(stderr, "vmvaultd: --prune-time must be HH:MM (UTC), e.g. 03:00\n");
                return 2;
            }
            srv.prune_time = (int)(hh * 60 + mm);
            break;
        }
        case 'C':
            clock_file = optarg;
            break;
        case 'T':
            if (strcmp(optarg, "auto") && strcmp(optarg, "off")) {
                fprintf(stderr, "vmvaultd: --tls must be auto or off (or give --tls-cert FILE "
                                "--tls-key FILE)\n");
                return 2;
            }
            tls_mode = optarg;
            break;
        case 'c':
            tls_cert = optarg;
            break;
        case 'k':
            tls_key = optarg;
            break;
        case 'p':
            allow_plain = 1;
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
    if (check && (listen != NULL && strcmp(listen, "127.0.0.1:8080") != 0)) {
        fprintf(stderr, "vmvaultd check: --listen does not apply here\n");
        return 2;
    }
    if (check && (tls_mode || tls_cert || tls_key || allow_plain)) {
        fprintf(stderr, "vmvaultd check: --tls, --tls-cert, --tls-key and --allow-plain-http "
                        "do not apply here\n");
        return 2;
    }
    if (!tls_cert != !tls_key) {
        fprintf(stderr, "vmvaultd: --tls-cert and --tls-key go together: give the "
                        "certificate and its key\n");
        return 2;
    }
    if (tls_cert && tls_mode) {
        fprintf(stderr, "vmvaultd: --tls %s does not go with --tls-cert: give --tls auto (a "
                        "self-signed certificate) or --tls-cert and --tls-key\n", tls_mode);
        return 2;
    }
    if (tls_mode && !strcmp(tls_mode, "off"))
        tls_mode = NULL;
    if (!check && !tls_mode && !tls_cert && !allow_plain && listen_exposed(listen)) {
        fprintf(stderr,
                "vmvaultd: refusing to serve plain HTTP on %s: API tokens and registration "
                "secrets would cross the network in clear text.\n"
                "Serve HTTPS with --tls auto (a self-signed certificate, kept in the data "
                "folder) or --tls-cert FILE --tls-key FILE, or listen on 127.0.0.1; "
                "--allow-plain-http serves plain HTTP anyway (behind a TLS proxy only).\n",
                listen);
        return 2;
    }
    if (vv_clock_init(&srv, clock_file) != 0) {
        fprintf(stderr, "vmvaultd: --clock-file %s does not hold a UTC time\n", clock_file);
        return 2;
    }
    umask(077);
    if (!check)
        vv_log_set_timestamps(1);
    if (tls_cert && (r = tls_load_given(tls_cert, tls_key, &pair)) != 0) {
        tls_pair_release(&pair);
        return r;
    }
    if ((tls_cert || tls_mode) && !vv_http_tls_available()) {
        fprintf(stderr, "vmvaultd: cannot serve HTTPS: this system's libmicrohttpd was built "
                        "without TLS support\n");
        tls_pair_release(&pair);
        return 1;
    }

    snprintf(path, sizeof(path), "%s/catalog.db", srv.data_dir);
    if (check) {
        if (access(path, F_OK) != 0) {
            fprintf(stderr, "vmvaultd check: no catalog at %s\n", path);
            return 1;
        }
        if (vv_db_open(path, &srv.db) != 0 || vv_catalog_migrate(srv.db) != 0)
            return 1;
        r = run_check(&srv);
        close_server(&srv);
        return r;
    }

    if (vv_mkdir_p(srv.data_dir, 0700) != 0) {
        tls_pair_release(&pair);
        return 1;
    }
    chmod(srv.data_dir, 0700);
    if (tls_mode && tls_auto(&srv, listen, &pair) != 0) {
        tls_pair_release(&pair);
        return 1;
    }
    if (pair.cert) {
        if (vv_tls_cert_pin(pair.cert, srv.tls_pin) != 0 ||
            vv_tls_cert_fingerprint(pair.cert, srv.tls_fingerprint) != 0) {
            vv_error("cannot compute the certificate's pin and fingerprint");
            tls_pair_release(&pair);
            return 1;
        }
        vv_info("TLS: certificate SHA-256 fingerprint %s, public-key pin %s",
                srv.tls_fingerprint, srv.tls_pin);
        if (!strncmp(srv.public_url, "http://", 7))
            vv_warn("--public-url %s is http:// but the server serves only HTTPS: hosts "
                    "given vault credentials with that URL cannot connect", srv.public_url);
    }
    if (vv_db_open(path, &srv.db) != 0 || vv_catalog_migrate(srv.db) != 0) {
        tls_pair_release(&pair);
        return 1;
    }
    if (recover(&srv) != 0 || vv_bootstrap_owner(&srv, vv_server_now(&srv)) != 0) {
        tls_pair_release(&pair);
        close_server(&srv);
        return 1;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    tls.cert_pem = pair.cert;
    tls.key_pem = pair.key;
    r = vv_http_start(listen, pair.cert ? &tls : NULL, vv_router_cap, vv_router_handle,
                      vv_router_log, &srv, &http, &port);
    tls_pair_release(&pair); /* the HTTP server keeps its own copy */
    if (r) {
        close_server(&srv);
        return 1;
    }
    if (vv_maintenance_start(&srv, &maint) != 0) {
        vv_http_stop(http);
        close_server(&srv);
        return 1;
    }
    if (vv_server_worker_start(&srv, &worker) != 0) {
        atomic_store(&srv.stopping, 1);
        vv_server_ring(&srv);
        pthread_join(maint, NULL);
        vv_http_stop(http);
        close_server(&srv);
        return 1;
    }
    {
        char host[256];
        const char *colon = listen[0] == '[' ? strchr(listen, ']') + 1 : strrchr(listen, ':');
        snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
        if (!strcmp(host, "0.0.0.0"))
            snprintf(host, sizeof(host), "127.0.0.1");
        else if (!strcmp(host, "[::]"))
            snprintf(host, sizeof(host), "[::1]");
        snprintf(srv.listen_url, sizeof(srv.listen_url), "%s://%s:%u",
                 srv.tls_pin[0] ? "https" : "http", host, port);
    }
    snprintf(path, sizeof(path), "%s/vmvaultd.url", srv.data_dir);
    {
        FILE *f = fopen(path, "w");
        if (f) {
            fprintf(f, "%s\n", srv.listen_url);
            fclose(f);
        }
    }
    vv_info("vmvaultd %s serving %s/api/v1 (data folder %s)", VV_SERVER_VERSION, srv.listen_url,
            srv.data_dir);

    while (!got_signal)
        sleep(1); /* a signal cuts the sleep short */
    vv_info("stopping on %s", got_signal == SIGTERM ? "SIGTERM" : "SIGINT");
    atomic_store(&srv.stopping, 1);
    vv_server_ring(&srv); /* waiting job claims answer now */
    vv_http_stop(http);
    atomic_store(&srv.worker.cancel, 1);
    vv_server_worker_wake(&srv);
    pthread_join(maint, NULL);
    pthread_join(worker, NULL);
    close_server(&srv);
    vv_info("stopped");
    return 0;
}
