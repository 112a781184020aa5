/*
 * uploads.c: the chunk-guard pins and staged indexes of running backups (see
 * uploads.h). The HTTP handlers of uploads (api/transfer.c) take pins and stage
 * indexes; the end of a job (jobs.c) gives them back.
 */
#include "uploads.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "store/gc.h"
#include "util.h"

void vv_guard_key(int64_t container_id, const char *job, char key[VV_GUARD_KEY_MAX])
{
    snprintf(key, VV_GUARD_KEY_MAX, "c%lld:%s", (long long)container_id, job);
}

void vv_guard_job_ended(struct vv_server *s, const char *vault_uuid, int64_t container_id,
                        const char *job)
{
    struct vv_repo *repo;
    struct vv_chunk_guard *guard;
    char key[VV_GUARD_KEY_MAX];

    if (vv_server_repo_guard(s, vault_uuid, &repo, &guard) != 0)
        return;
    vv_guard_key(container_id, job, key);
    vv_guard_release(guard, key);
    vv_pins_forget(key);
    vv_read_set_forget(job);
}

void vv_staging_remove(struct vv_server *s, const char *vault_uuid, const char *job)
{
    char dir[VV_PATH_MAX], sub[VV_PATH_MAX];

    if (vv_server_vault_path(s, vault_uuid, "staging", dir, sizeof(dir)) != 0 ||
        vv_path_join(sub, sizeof(sub), "%s/%s", dir, job) != 0 || vv_rmtree(sub) != 0)
        vv_warn("staged indexes of job %s could not be removed from %s/%s", job, dir, job);
}

/* ---- pin counts ----------------------------------------------------------------- */

/* The pins counted per session: a few running jobs, so a small array. Under pins_mu. */
struct pin_count {
    char key[VV_GUARD_KEY_MAX];
    uint64_t n;
};

static pthread_mutex_t pins_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pin_count *pins;
static size_t npins;
static _Atomic uint64_t pin_limit = VV_PIN_LIMIT_DEFAULT;

void vv_pin_limit_set(uint64_t limit)
{
    if (limit >= 1 && limit <= VV_PIN_LIMIT_MAX)
        atomic_store(&pin_limit, limit);
}

uint64_t vv_pin_limit(void)
{
    return atomic_load(&pin_limit);
}

int vv_pins_take(const char *key, uint64_t n, uint64_t *have)
{
    uint64_t limit = vv_pin_limit();
    struct pin_count *pc = NULL;
    int r = 0;

    pthread_mutex_lock(&pins_mu);
    for (size_t i = 0; i < npins && !pc; i++)
        if (!strcmp(pins[i].key, key))
            pc = &pins[i];
    if (!pc) {
        struct pin_count *grown = realloc(pins, (npins + 1) * sizeof(*pins));
        if (grown) {
            pins = grown;
            pc = &pins[npins++];
            snprintf(pc->key, sizeof(pc->key), "%s", key);
            pc->n = 0;
        }
    }
    if (!pc)
        r = VV_E_NOMEM;
    else if (n > limit || pc->n > limit - n)
        r = VV_E_TOOBIG;
    else
        pc->n += n;
    *have = pc ? pc->n : 0;
    pthread_mutex_unlock(&pins_mu);
    return r;
}

void vv_pins_forget(const char *key)
{
    pthread_mutex_lock(&pins_mu);
    for (size_t i = 0; i < npins; i++)
        if (!strcmp(pins[i].key, key)) {
            pins[i] = pins[--npins];
            break;
        }
    if (!npins) {
        free(pins);
        pins = NULL;
    }
    pthread_mutex_unlock(&pins_mu);
}

/* ---- read sets of restores ---------------------------------------------------------- */

struct read_set {
    char job[64], point[64];
    uint64_t *pfx; /* sorted; owned */
    size_t n;
    uint64_t used; /* when last asked (a counter): the least recent goes first */
};

static pthread_mutex_t reads_mu = PTHREAD_MUTEX_INITIALIZER;
static struct read_set reads[VV_READ_SETS];
static uint64_t reads_clock;

static uint64_t prefix_of(const uint8_t id[32])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | id[i];
    return v;
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void read_set_clear(struct read_set *rs)
{
    free(rs->pfx);
    memset(rs, 0, sizeof(*rs));
}

/* The set of job reading point: cached, or built with load into the least recently
 * used slot. Under reads_mu. 0 and *out, or <0. */
static int read_set_get(const char *job, const char *point, vv_point_ids_fn load, void *arg,
                        struct read_set **out)
{
    struct read_set *rs = &reads[0];
    uint8_t(*ids)[32] = NULL;
    size_t n = 0;
    int r;

    for (int i = 0; i < VV_READ_SETS; i++) {
        if (reads[i].pfx && !strcmp(reads[i].job, job) && !strcmp(reads[i].point, point)) {
            *out = &reads[i];
            return 0;
        }
        if (reads[i].used < rs->used)
            rs = &reads[i];
    }
    if ((r = load(arg, &ids, &n)) < 0) {
        free(ids);
        return r;
    }
    read_set_clear(rs);
    if (!(rs->pfx = malloc((n ? n : 1) * sizeof(*rs->pfx)))) {
        free(ids);
        return VV_E_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        rs->pfx[i] = prefix_of(ids[i]);
    free(ids);
    qsort(rs->pfx, n, sizeof(*rs->pfx), u64_cmp);
    rs->n = n;
    snprintf(rs->job, sizeof(rs->job), "%s", job);
    snprintf(rs->point, sizeof(rs->point), "%s", point);
    *out = rs;
    return 0;
}

int vv_read_set_has(const char *job, const char *point, vv_point_ids_fn load, void *arg,
                    const uint8_t (*ids)[32], size_t n, size_t *which)
{
    struct read_set *rs;
    int r;

    pthread_mutex_lock(&reads_mu);
    if ((r = read_set_get(job, point, load, arg, &rs)) == 0) {
        rs->used = ++reads_clock;
        r = 1;
        for (size_t i = 0; i < n && r == 1; i++) {
            uint64_t p = prefix_of(ids[i]);
            if (!bsearch(&p, rs->pfx, rs->n, sizeof(*rs->pfx), u64_cmp)) {
                *which = i;
                r = 0;
            }
        }
    }
    pthread_mutex_unlock(&reads_mu);
    return r;
}

void vv_read_set_forget(const char *job)
{
    pthread_mutex_lock(&reads_mu);
    for (int i = 0; i < VV_READ_SETS; i++)
        if (reads[i].pfx && !strcmp(reads[i].job, job))
            read_set_clear(&reads[i]);
    pthread_mutex_unlock(&reads_mu);
}
