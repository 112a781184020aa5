/*
 * server.c: the vault folders of a running server: paths, the per-vault stores kept
 * open, creating and removing a vault's folder, and UUIDs.
 */
#include "server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "engine/parallel.h"
#include "err.h"
#include "key.h"
#include "log.h"
#include "store/gc.h"
#include "json.h"
#include "policy/policy.h"
#include "policy/tz.h"
#include "util.h"

void vv_server_init(struct vv_server *s)
{
    memset(s, 0, sizeof(*s));
    s->agent_timeout = 900;
    s->prune_time = 3 * 60;
    snprintf(s->region, sizeof(s->region), "local");
    s->repl_lag_alert = 3600;
    s->min_free_bytes = 1ull << 30;
    snprintf(s->zoneinfo, sizeof(s->zoneinfo), "/usr/share/zoneinfo");
    pthread_mutex_init(&s->repos_mu, NULL);
    pthread_mutex_init(&s->clock.mu, NULL);
    pthread_mutex_init(&s->tzs.mu, NULL);
    pthread_mutex_init(&s->worker.mu, NULL);
    pthread_cond_init(&s->worker.wake, NULL);
    {
        pthread_condattr_t a;
        pthread_condattr_init(&a);
        pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
        pthread_cond_init(&s->bell, &a);
        pthread_condattr_destroy(&a);
    }
    pthread_mutex_init(&s->bell_mu, NULL);
    pthread_mutex_init(&s->pool_mu, NULL);
}

/* An incremental names thousands of chunks whose folders are rarely in the cache
 * after the night: one lookup at a time waits for one directory read at a time. */
#define LOOKUP_THREADS 16

struct vv_pool *vv_server_lookup_pool(struct vv_server *s)
{
    struct vv_pool *p;
    pthread_mutex_lock(&s->pool_mu);
    if (!s->lookup_pool && vv_pool_new(LOOKUP_THREADS, &s->lookup_pool) < 0)
        s->lookup_pool = NULL;
    p = s->lookup_pool;
    pthread_mutex_unlock(&s->pool_mu);
    return p;
}

void vv_server_ring(struct vv_server *s)
{
    pthread_mutex_lock(&s->bell_mu);
    s->bell_rings++;
    pthread_cond_broadcast(&s->bell);
    pthread_mutex_unlock(&s->bell_mu);
}

void vv_server_await(struct vv_server *s, uint64_t *seen, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->bell_mu);
    while (s->bell_rings == *seen && !atomic_load(&s->stopping))
        if (pthread_cond_timedwait(&s->bell, &s->bell_mu, &until) != 0)
            break;
    *seen = s->bell_rings;
    pthread_mutex_unlock(&s->bell_mu);
}

void vv_server_release(struct vv_server *s)
{
    vv_pool_free(s->lookup_pool);
    s->lookup_pool = NULL;
    for (size_t i = 0; i < s->nrepos; i++) {
        vv_repo_close(s->repos[i].repo);
        vv_guard_free(s->repos[i].guard);
    }
    free(s->repos);
    s->repos = NULL;
    s->nrepos = 0;
    for (size_t i = 0; i < s->tzs.n; i++)
        vv_tz_free(s->tzs.zones[i]);
    free(s->tzs.zones);
    s->tzs.zones = NULL;
    s->tzs.n = 0;
    vv_db_close(s->db);
    s->db = NULL;
}

int vv_server_vault_path(const struct vv_server *s, const char *uuid, const char *sub,
                         char *out, size_t outlen)
{
    if (vv_path_join(out, outlen, "%s/vaults/%s%s%s", s->data_dir, uuid, sub ? "/" : "",
                     sub ? sub : "") != 0)
        return vv_fail(VV_E_TOOBIG, "the path of vault %s%s%s is too long", uuid,
                       sub ? " " : "", sub ? sub : "");
    return 0;
}

int vv_server_repo(struct vv_server *s, const char *uuid, struct vv_repo **out)
{
    struct vv_chunk_guard *guard;
    return vv_server_repo_guard(s, uuid, out, &guard);
}

int vv_server_repo_guard(struct vv_server *s, const char *uuid, struct vv_repo **out,
                         struct vv_chunk_guard **guard)
{
    char store[VV_PATH_MAX], key[VV_PATH_MAX];
    struct vv_server_repo *grown;
    int r = 0;

    pthread_mutex_lock(&s->repos_mu);
    for (size_t i = 0; i < s->nrepos; i++)
        if (!strcmp(s->repos[i].uuid, uuid)) {
            *out = s->repos[i].repo;
            *guard = s->repos[i].guard;
            pthread_mutex_unlock(&s->repos_mu);
            return 0;
        }
    if ((r = vv_server_vault_path(s, uuid, "store", store, sizeof(store))) != 0 ||
        (r = vv_server_vault_path(s, uuid, "vault.key", key, sizeof(key))) != 0)
        goto out;
    grown = realloc(s->repos, (s->nrepos + 1) * sizeof(*grown));
    if (!grown) {
        r = VV_E_NOMEM;
        goto out;
    }
    s->repos = grown;
    if (!(s->repos[s->nrepos].guard = vv_guard_new())) {
        r = VV_E_NOMEM;
        goto out;
    }
    r = vv_repo_open(store, key, 0, &s->repos[s->nrepos].repo);
    if (r) {
        vv_guard_free(s->repos[s->nrepos].guard);
        goto out;
    }
    snprintf(s->repos[s->nrepos].uuid, VV_UUID_LEN, "%s", uuid);
    *out = s->repos[s->nrepos].repo;
    *guard = s->repos[s->nrepos].guard;
    s->nrepos++;
out:
    pthread_mutex_unlock(&s->repos_mu);
    return r;
}

static int mkdir_p(const char *path, mode_t mode)
{
    if (mkdir(path, mode) == 0 || errno == EEXIST)
        return 0;
    vv_error("cannot create %s: %s", path, strerror(errno));
    return vv_err_from_errno(errno);
}

int vv_server_policy_insert_default(struct vv_server *s, int64_t vault_id, time_t now)
{
    struct vv_policy p;
    json_t *j;
    char *spec;
    int r;

    vv_policy_default(&p);
    j = vv_policy_to_json(&p);
    spec = j ? vv_json_dump(j) : NULL;
    json_decref(j);
    if (!spec)
        return VV_E_NOMEM;
    r = vv_db_run(s->db,
                  "INSERT INTO policies(vault_id, name, spec, created, updated) "
                  "VALUES (?,'DefaultPolicy',?,?,?)",
                  "isii", vault_id, spec, (int64_t)now, (int64_t)now);
    free(spec);
    return r < 0 ? r : 0;
}

int vv_server_vault_create(struct vv_server *s, const char *uuid, const struct vv_key *key)
{
    char dir[VV_PATH_MAX], path[VV_PATH_MAX], store[VV_PATH_MAX];
    struct vv_repo *repo;
    int r;

    if (vv_path_join(dir, sizeof(dir), "%s/vaults", s->data_dir) != 0)
        return vv_fail(VV_E_TOOBIG, "the path of %s/vaults is too long", s->data_dir);
    if ((r = mkdir_p(dir, 0700)) != 0)
        return r;
    if ((r = vv_server_vault_path(s, uuid, NULL, dir, sizeof(dir))) != 0 ||
        (r = mkdir_p(dir, 0700)) != 0)
        return r;
    if ((r = vv_server_vault_path(s, uuid, "staging", path, sizeof(path))) != 0 ||
        (r = mkdir_p(path, 0700)) != 0)
        return r;
    if ((r = vv_server_vault_path(s, uuid, "vault.key", path, sizeof(path))) != 0 ||
        (r = key ? vv_key_save(path, key) : vv_key_generate(path)) != 0)
        return r;
    if ((r = vv_server_vault_path(s, uuid, "store", store, sizeof(store))) != 0 ||
        (r = vv_repo_open(store, path, 1, &repo)) != 0)
        return r;
    pthread_mutex_lock(&s->repos_mu);
    {
        struct vv_server_repo *grown = realloc(s->repos, (s->nrepos + 1) * sizeof(*grown));
        struct vv_chunk_guard *guard = grown ? vv_guard_new() : NULL;
        if (grown)
            s->repos = grown;
        if (guard) {
            snprintf(s->repos[s->nrepos].uuid, VV_UUID_LEN, "%s", uuid);
            s->repos[s->nrepos].guard = guard;
            s->repos[s->nrepos++].repo = repo;
            repo = NULL;
        }
    }
    pthread_mutex_unlock(&s->repos_mu);
    vv_repo_close(repo);
    return 0;
}

int vv_server_vault_remove(struct vv_server *s, const char *uuid)
{
    char dir[VV_PATH_MAX];
    int r;

    /* An open store stays allocated until shutdown (a request may still hold it);
     * its files go now. */
    if ((r = vv_server_vault_path(s, uuid, NULL, dir, sizeof(dir))) != 0)
        return r;
    r = vv_rmtree(dir);
    if (r)
        vv_error("cannot remove all of %s; remove it by hand", dir);
    return r;
}

int vv_uuid_new(char out[VV_UUID_LEN])
{
    uint8_t b[16];
    int r = vv_random(b, sizeof(b));
    if (r)
        return r;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, VV_UUID_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    return 0;
}
