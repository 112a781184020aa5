/*
 * server.h: the state of one running vmvaultd, shared by every request thread.
 *
 * Data folder layout:
 *   catalog.db                    the catalog (SQLite, WAL)
 *   catalog.db-reserve            8 MiB kept free for the catalog (catalog/db_sqlite.c)
 *   owner.token                   the first owner's token (0600), written once
 *   vmvaultd.url                  the URL the server listens on, rewritten at start
 *   tls/cert.pem, tls/key.pem     the self-signed pair of --tls auto (key 0600, folder
 *                                 0700), made on its first start and kept
 *   vaults/<vault uuid>/vault.key the vault's key (0600)
 *   vaults/<vault uuid>/store/    the vault's chunk store and recovery points
 *   vaults/<vault uuid>/staging/  disk indexes uploaded for backups not yet committed
 */
#ifndef VV_SERVER_H
#define VV_SERVER_H

#include "err.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "catalog/catalog.h"
#include "crypto.h"
#include "store/repo.h"

struct vv_pool;

#define VV_SERVER_VERSION "0.1.0"
#define VV_UUID_LEN 37 /* 36 characters and NUL */

struct vv_chunk_guard;
struct vv_tz;
struct vv_replicator;

struct vv_server_repo {
    char uuid[VV_UUID_LEN];
    struct vv_repo *repo;         /* owned by the server */
    struct vv_chunk_guard *guard; /* owned: pins of running backups, see store/gc.h */
};

/* The server's clock (clock.c): real time, or, for tests, real time moved by the
 * offset a --clock-file sets. */
struct vv_clock {
    char file[4096]; /* "" for real time */
    pthread_mutex_t mu;
    int64_t offset;            /* seconds added to real time */
    struct timespec file_mtime; /* of the file when offset was computed */
    off_t file_size;
};

/* Time zones loaded for policies, shared read-only once loaded (scheduler.c). */
struct vv_tz_cache {
    pthread_mutex_t mu;
    struct vv_tz **zones; /* owned */
    size_t n;
};

/* The server's own jobs (Prune, GarbageCollection), run one at a time by the
 * worker thread (worker.c). */
struct vv_server_worker {
    pthread_mutex_t mu;
    pthread_cond_t wake;
    char running[VV_UUID_LEN]; /* job being run, "" when idle */
    atomic_int cancel;          /* set by a cancel of the running job */
};

struct vv_server {
    char data_dir[4096];
    char public_url[512]; /* --public-url; "" to derive from the request's Host */
    char listen_url[512]; /* http(s)://host:port actually bound */
    /* With HTTPS, what clients check the certificate by: its public-key pin
     * ("sha256//" + base64, libcurl's form) and its SHA-256 fingerprint ("AB:CD:...");
     * both "" for plain HTTP. Set before serving, read-only afterwards. */
    char tls_pin[VV_TLS_PIN_LEN];
    char tls_fingerprint[VV_TLS_FINGERPRINT_LEN];
    struct vv_db *db;     /* owned */
    int64_t agent_timeout; /* seconds without news before an agent's job fails */
    atomic_int stopping;
    pthread_mutex_t repos_mu;
    struct vv_server_repo *repos; /* open stores, never closed before shutdown */
    size_t nrepos;
    struct vv_clock clock;
    struct vv_tz_cache tzs;
    struct vv_server_worker worker;
    char zoneinfo[256]; /* IANA zone files, /usr/share/zoneinfo */
    int prune_time;     /* minutes after midnight UTC of the daily prune and collection */
    char region[64];    /* --region: this server's region ("local") */
    int64_t repl_lag_alert; /* --replication-lag-alert, seconds (3600) */
    struct vv_replicator *repl; /* the primary's replication thread (replicator.c),
                                 * owned; NULL before it starts */
    /* --min-free: below this much free space on the data folder's file system a backup
     * is refused before it starts (bytes, or a percentage of the file system when
     * min_free_percent is set; 0 bytes: no threshold). */
    uint64_t min_free_bytes;
    int min_free_percent;
    /* Rung when a job an agent may claim is created: a waiting claim answers at once
     * instead of at its next look at the catalog. */
    pthread_mutex_t bell_mu;
    pthread_cond_t bell;
    uint64_t bell_rings; /* guarded by bell_mu */
    /* Threads for the store lookups of requests, started on first use (owned). */
    pthread_mutex_t pool_mu;
    struct vv_pool *lookup_pool;
};

/* A job was created (or may have become claimable): wake the waiting claims. */
void vv_server_ring(struct vv_server *s);
/* Wait until the bell rings after the ring count *seen (which it then updates), or
 * ms milliseconds pass. */
void vv_server_await(struct vv_server *s, uint64_t *seen, int ms);

/* The lookup threads (see lookup_pool), started on first call; NULL when they
 * cannot be started (callers then look up on their own thread). Borrowed. */
struct vv_pool *vv_server_lookup_pool(struct vv_server *s);

/* Now, as the server counts it (see struct vv_clock). Thread-safe. */
time_t vv_server_now(struct vv_server *s);
/* The same instant in milliseconds since 1970 (one reading: vv_server_now's second
 * is now_ms / 1000). */
uint64_t vv_server_now_ms(struct vv_server *s);
/* Set up the clock: file NULL or "" for real time. Returns 0 or VV_E_INVAL when the
 * file exists but does not hold a time. */
int vv_clock_init(struct vv_server *s, const char *file) VV_MUST_CHECK;

/* Zero *s, set the defaults (agent timeout 900 s, prune at 03:00 UTC, zones in
 * /usr/share/zoneinfo, real-time clock) and make its locks. */
void vv_server_init(struct vv_server *s);
/* Close what the server holds: stores and their guards, zones, the catalog. No other
 * thread may use s any more. */
void vv_server_release(struct vv_server *s);

/* Path of a vault's folder or of sub inside it ("store", "vault.key", "staging").
 * Returns 0, or VV_E_TOOBIG (logged; out is then "") when it does not fit. */
int vv_server_vault_path(const struct vv_server *s, const char *uuid, const char *sub,
                         char *out, size_t outlen) VV_MUST_CHECK;
/* The open store of a vault (opened on first use). Borrowed until the server stops. */
int vv_server_repo(struct vv_server *s, const char *uuid, struct vv_repo **out) VV_MUST_CHECK;
/* The same with the vault's chunk guard (borrowed likewise). */
int vv_server_repo_guard(struct vv_server *s, const char *uuid, struct vv_repo **repo,
                         struct vv_chunk_guard **guard) VV_MUST_CHECK;
/* Create a vault's folder, key and store: key (borrowed) when not NULL (a replica
 * vault, whose key came from its primary), else a new one. */
int vv_server_vault_create(struct vv_server *s, const char *uuid,
                           const struct vv_key *key) VV_MUST_CHECK;
/* The policy every vault starts with ("DefaultPolicy"), inserted for vault_id at
 * now. Catalog locked, in the caller's transaction. 0 or <0 vv_err. */
int vv_server_policy_insert_default(struct vv_server *s, int64_t vault_id,
                                    time_t now) VV_MUST_CHECK;
/* Remove a vault's folder and everything in it (closing its store if open). */
int vv_server_vault_remove(struct vv_server *s, const char *uuid) VV_MUST_CHECK;
/* Start the background thread (maintenance.c): the scheduler's tick and the sweep of
 * jobs whose agent vanished (jobs.h); it ends when s->stopping is set. */
int vv_maintenance_start(struct vv_server *s, pthread_t *out) VV_MUST_CHECK;

/* A random UUID (version 4). */
int vv_uuid_new(char out[VV_UUID_LEN]) VV_MUST_CHECK;

#endif
