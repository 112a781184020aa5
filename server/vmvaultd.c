/*
 * vmvaultd.c: the vault server. Opens (or creates) the data folder and its catalog,
 * brings the catalog and the stores back to one consistent state after a crash,
 * makes sure an owner exists, serves the REST API until SIGTERM or SIGINT.
 * `vmvaultd check` verifies a stopped server's catalog and stores offline;
 * `vmvaultd backup-catalog` copies the live catalog; `vmvaultd catalog rebuild`
 * makes a lost catalog again from the stores. A new catalog next to vaults it does
 * not know is refused at start: that is a lost catalog, not a first start.
 *
 * Tokens travel in every request, so the API is served over HTTPS, or over plain
 * HTTP on a loopback address only (unless --allow-plain-http says otherwise).
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "catalog/catalog.h"
#include "catbackup.h"
#include "check.h"
#include "err.h"
#include "http.h"
#include "log.h"
#include "options.h"
#include "rebuild.h"
#include "recovery.h"
#include "replicator.h"
#include "http_client.h"
#include "router.h"
#include "scheduler.h"
#include "server.h"
#include "tls_setup.h"
#include "util.h"

static volatile sig_atomic_t got_signal;

static void on_signal(int sig) { got_signal = sig; }

/* The threads of a serving server. */
struct running {
    struct vv_http_server *http;
    pthread_t maint, worker;
    unsigned port;
};

/* The number of entries in DIR/vaults (0 when it does not exist). */
static int vault_folders(const char *data_dir)
{
    char path[VV_PATH_MAX];
    struct dirent *e;
    DIR *d;
    int n = 0;

    if (vv_path_join(path, sizeof(path), "%s/vaults", data_dir) != 0 || !(d = opendir(path)))
        return 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* A catalog that is new (absent, or never migrated) while DIR/vaults holds vaults:
 * the catalog was lost, and starting would not know any of them. 0 to go on, or -1
 * after saying what to do. */
static int refuse_lost_catalog(const char *data_dir, const char *path)
{
    int n = vault_folders(data_dir);
    int64_t version = 0;
    struct vv_db *db;

    if (n == 0)
        return 0;
    if (access(path, F_OK) == 0) {
        if (vv_db_open(path, &db) != 0)
            return -1;
        if (vv_db_int(db, &version, "PRAGMA user_version", "") < 0)
            version = -1;
        vv_db_close(db);
        if (version != 0)
            return 0;
    }
    vv_error("refusing to start: the catalog %s is %s, but %s/vaults holds %d vault "
             "folder(s) that it does not know. Starting would hide them. The catalog was "
             "lost or replaced; nothing was changed. Either stop here and restore a catalog "
             "backup to %s (see 'vmvaultd backup-catalog'), or rebuild the catalog from the "
             "stores with: vmvaultd catalog rebuild --data-dir %s (see "
             "docs/disaster-recovery.md)",
             path, access(path, F_OK) == 0 ? "new (empty)" : "missing", data_dir, n, path,
             data_dir);
    return -1;
}

/* Create the data folder, set up TLS, open the catalog, recover from a crash and
 * make sure an owner exists. 0, or -1 after logging (the server released when the
 * catalog was opened). */
static int open_data(struct vv_server *s, const struct vv_options *o, struct vv_tls_pair *pair)
{
    char path[VV_PATH_MAX];

    if (vv_mkdir_p(s->data_dir, 0700) != 0)
        return -1;
    chmod(s->data_dir, 0700);
    if (o->tls_mode && vv_tls_auto(s, o->listen, pair) != 0)
        return -1;
    if (pair->cert && vv_tls_identity(s, pair) != 0)
        return -1;
    if (vv_path_join(path, sizeof(path), "%s/catalog.db", s->data_dir) != 0) {
        vv_error("the path of the catalog in %s is too long", s->data_dir);
        return -1;
    }
    if (refuse_lost_catalog(s->data_dir, path) != 0)
        return -1;
    if (vv_db_open(path, &s->db) != 0 || vv_catalog_migrate(s->db) != 0)
        return -1;
    if (vv_recover(s) != 0 || vv_bootstrap_owner(s, vv_server_now(s)) != 0) {
        vv_server_release(s);
        return -1;
    }
    return 0;
}

/* Serve HTTP(S) on listen within lim and start the maintenance and worker threads.
 * 0, or -1 with nothing left running. The HTTP server keeps its own copy of the pair. */
static int start(struct vv_server *s, const char *listen, const struct vv_http_limits *lim,
                 const struct vv_tls_pair *pair, struct running *run)
{
    struct vv_http_tls tls = {pair->cert, pair->key};

    if (vv_http_start(listen, pair->cert ? &tls : NULL, lim, vv_router_head, vv_router_handle,
                      vv_router_log, s, &run->http, &run->port) != 0)
        return -1;
    if (vv_maintenance_start(s, &run->maint) != 0) {
        vv_http_stop(run->http);
        return -1;
    }
    if (vv_server_worker_start(s, &run->worker) != 0) {
        atomic_store(&s->stopping, 1);
        vv_server_ring(s);
        pthread_join(run->maint, NULL);
        vv_http_stop(run->http);
        return -1;
    }
    return 0;
}

/* The URL the server listens on, into s->listen_url and DIR/vmvaultd.url. */
static void publish_url(struct vv_server *s, const char *listen, unsigned port)
{
    char host[256], path[VV_PATH_MAX];
    const char *colon = listen[0] == '[' ? strchr(listen, ']') + 1 : strrchr(listen, ':');
    FILE *f;

    snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
    if (!strcmp(host, "0.0.0.0"))
        snprintf(host, sizeof(host), "127.0.0.1");
    else if (!strcmp(host, "[::]"))
        snprintf(host, sizeof(host), "[::1]");
    snprintf(s->listen_url, sizeof(s->listen_url), "%s://%s:%u",
             s->tls_pin[0] ? "https" : "http", host, port);
    if (vv_path_join(path, sizeof(path), "%s/vmvaultd.url", s->data_dir) == 0 &&
        (f = fopen(path, "w"))) {
        fprintf(f, "%s\n", s->listen_url);
        fclose(f);
    }
}

/* Until SIGTERM or SIGINT. */
static void wait_for_signal(void)
{
    while (!got_signal)
        sleep(1); /* a signal cuts the sleep short */
    vv_info("stopping on %s", got_signal == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* Stop serving, then the threads, then release the server. */
static void stop(struct vv_server *s, struct running *run)
{
    atomic_store(&s->stopping, 1);
    vv_server_ring(s); /* waiting job claims answer now */
    vv_http_stop(run->http);
    atomic_store(&s->worker.cancel, 1);
    vv_server_worker_wake(s);
    pthread_join(run->maint, NULL);
    pthread_join(run->worker, NULL);
    vv_replicator_stop(s);
    /* the stores' metadata up to date (the maintenance thread does it every minute) */
    vv_best_effort(vv_vault_meta_refresh_all(s));
    vv_server_release(s);
}

int main(int argc, char **argv)
{
    static struct vv_server srv;
    struct vv_options o;
    struct vv_tls_pair pair = {NULL, NULL};
    struct running run = {0};
    struct sigaction sa;
    int r;

    vv_server_init(&srv);
    if ((r = vv_options_parse(argc, argv, &o, &srv)) >= 0)
        return r;
    umask(077);
    if (!o.check && !o.rebuild && !o.backup_catalog)
        vv_log_set_timestamps(1);
    if (o.tls_cert && (r = vv_tls_load_given(o.tls_cert, o.tls_key, &pair)) != 0) {
        vv_tls_pair_release(&pair);
        return r;
    }
    if ((o.tls_cert || o.tls_mode) && !vv_http_tls_available()) {
        fprintf(stderr, "vmvaultd: cannot serve HTTPS: this system's libmicrohttpd was built "
                        "without TLS support\n");
        vv_tls_pair_release(&pair);
        return 1;
    }
    if (o.check)
        return vv_check_main(&srv);
    if (o.rebuild)
        return vv_rebuild_main(&srv, &o);
    if (o.backup_catalog)
        return vv_catbackup_command(&srv, o.backup_to);
    if (o.catalog_backup_dir)
        vv_catbackup_configure(o.catalog_backup_dir, o.catalog_backup_every,
                               o.catalog_backup_keep);
    if (open_data(&srv, &o, &pair) != 0) {
        vv_tls_pair_release(&pair);
        return 1;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (vv_http_global_init() != 0) { /* the replication client, before any thread */
        vv_error("cannot initialise libcurl; the server cannot replicate");
        vv_server_release(&srv);
        return 1;
    }
    r = start(&srv, o.listen, &o.http, &pair, &run);
    vv_tls_pair_release(&pair);
    if (r != 0) {
        vv_server_release(&srv);
        return 1;
    }
    publish_url(&srv, o.listen, run.port);
    if (vv_replicator_start(&srv) != 0) {
        stop(&srv, &run);
        return 1;
    }
    vv_info("vmvaultd %s serving %s/api/v1 (data folder %s)", VV_SERVER_VERSION, srv.listen_url,
            srv.data_dir);
    wait_for_signal();
    stop(&srv, &run);
    vv_info("stopped");
    return 0;
}
