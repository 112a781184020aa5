/*
 * replicator.c: the primary's side of replication (replicator.h): the pairing call,
 * the sending thread, and each vault's replication state.
 */
#include "replicator.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "codec.h"
#include "engine/parallel.h"
#include "format/chunkrec.h"
#include "format/index.h"
#include "format/manifest.h"
#include "http_client.h"
#include "jobs.h"
#include "key.h"
#include "log.h"
#include "store/chunkstore.h"
#include "store/repo.h"
#include "util.h"

#define WRAP_ITERATIONS 100000u  /* the wrap secret is 256 random bits: no need for more */
#define MISSING_BATCH 4096        /* ids per "missing" question */
#define SEND_BATCH_BYTES (2u << 20)
#define SEND_BATCH_RECORDS 256
#define REQUEST_TIMEOUT_MS 30000L
#define CONNECT_TIMEOUT_MS 5000L
#define ENSURE_EVERY 30           /* seconds between looks at the replica's state */

struct vv_replicator {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    int rung; /* guarded by mu */
};

/* The paired secondary as the thread calls it. */
struct peer {
    char url[512], pin[VV_TLS_PIN_LEN], region[64];
    char token[VV_TOKEN_MAX], wrap[128];
    int64_t max_rate;
    char window[16];
};

/* One connection to the secondary and what the last call said. */
struct conn {
    struct vv_server *s;
    struct vv_http *h;
    struct peer p;
    char err[1400];  /* why the last call failed */
    long status;     /* its HTTP status (0: no answer) */
    char code[64];   /* its error code */
    uint64_t sent;   /* bytes sent for the point under way (rate limit, stats) */
    uint64_t t0_ms;  /* when that point started */
    unsigned answered; /* calls the secondary answered 2xx */
};

/* ---- the pairing files ------------------------------------------------------------ */

int vv_pairing_path(const struct vv_server *s, const char *name, char *out, size_t n)
{
    return vv_path_join(out, n, "%s/pairing/%s", s->data_dir, name);
}

int vv_pairing_write(const struct vv_server *s, const char *name, const char *text)
{
    char dir[VV_PATH_MAX], path[VV_PATH_MAX];
    int r;

    if (vv_path_join(dir, sizeof(dir), "%s/pairing", s->data_dir) != 0 ||
        vv_pairing_path(s, name, path, sizeof(path)) != 0)
        return VV_E_TOOBIG;
    if ((r = vv_mkdir_p(dir, 0700)) == 0)
        r = vv_file_replace(path, text, strlen(text));
    if (r)
        vv_error("cannot write the pairing file %s: %s", path, vv_strerror(r));
    return r;
}

/* The secondary's row and secrets into p. 1 when paired, 0 when not, <0 vv_err.
 * Takes the catalog lock for the row only (the secrets file is read without it). */
static int peer_load(struct vv_server *s, struct peer *p)
{
    char path[VV_PATH_MAX], err[200];
    struct vv_buf b = VV_BUF_INIT;
    json_t *row, *sec;
    int r;

    memset(p, 0, sizeof(*p));
    vv_db_lock(s->db);
    row = vv_db_row(s->db, &r,
                    "SELECT url, COALESCE(pin, '') AS pin, region, max_rate, "
                    "  COALESCE(repl_window, '') AS w FROM peers WHERE role = 'Secondary'",
                    "");
    vv_db_unlock(s->db);
    if (!row)
        return r == VV_E_NOTFOUND ? 0 : r;
    snprintf(p->url, sizeof(p->url), "%s", json_string_value(json_object_get(row, "url")));
    snprintf(p->pin, sizeof(p->pin), "%s", json_string_value(json_object_get(row, "pin")));
    snprintf(p->region, sizeof(p->region), "%s",
             json_string_value(json_object_get(row, "region")));
    p->max_rate = json_integer_value(json_object_get(row, "max_rate"));
    snprintf(p->window, sizeof(p->window), "%s", json_string_value(json_object_get(row, "w")));
    json_decref(row);
    vv_buf_init(&b, 64 * 1024);
    if ((r = vv_pairing_path(s, "secondary.json", path, sizeof(path))) == 0)
        r = vv_read_file(path, &b);
    sec = r ? NULL : vv_json_parse(b.data, b.len, err, sizeof(err));
    vv_buf_release(&b);
    if (!sec || !json_is_string(json_object_get(sec, "token")) ||
        !json_is_string(json_object_get(sec, "wrapSecret"))) {
        json_decref(sec);
        vv_error("the pairing file %s is missing or damaged: pair again ('vmvault pairing "
                 "delete --peer-role Secondary', then 'vmvault pairing create')",
                 path);
        return VV_E_KEY;
    }
    snprintf(p->token, sizeof(p->token), "%s", json_string_value(json_object_get(sec, "token")));
    snprintf(p->wrap, sizeof(p->wrap), "%s",
             json_string_value(json_object_get(sec, "wrapSecret")));
    json_decref(sec);
    return 1;
}

/* ---- calls to the secondary ------------------------------------------------------- */

static int conn_open(struct conn *cn, struct vv_server *s, const struct peer *p)
{
    memset(cn, 0, sizeof(*cn));
    cn->s = s;
    cn->p = *p;
    if (!(cn->h = vv_http_new("vmvaultd-replication")))
        return VV_E_NOMEM;
    if (p->pin[0] && vv_http_set_pin(cn->h, p->pin) != 0) {
        vv_http_free(cn->h);
        cn->h = NULL;
        return VV_E_INVAL;
    }
    /* straight to the secondary: a proxy of the environment is for the agents */
    if (vv_http_set_proxy(cn->h, NULL, NULL, NULL) != 0) {
        vv_http_free(cn->h);
        cn->h = NULL;
        return VV_E_NOMEM;
    }
    return 0;
}

static void conn_close(struct conn *cn)
{
    vv_http_free(cn->h);
    cn->h = NULL;
    memset(cn->p.token, 0, sizeof(cn->p.token));
    memset(cn->p.wrap, 0, sizeof(cn->p.wrap));
}

/* The error code and message of an answer's JSON body, when it has them. */
static void answer_error(const struct vv_http_response *resp, char *code, size_t cn, char *msg,
                         size_t mn)
{
    char e[100];
    json_t *j = vv_json_parse(resp->body.data, resp->body.len, e, sizeof(e));
    json_t *err = json_object_get(j, "error");

    snprintf(code, cn, "%s",
             json_string_value(json_object_get(err, "code"))
                 ? json_string_value(json_object_get(err, "code"))
                 : "Unknown");
    snprintf(msg, mn, "%s",
             json_string_value(json_object_get(err, "message"))
                 ? json_string_value(json_object_get(err, "message"))
                 : "(no message)");
    json_decref(j);
}

/* One request to the secondary (path from /api/v1 on). 0 when it answered 2xx (the
 * answer in resp, initialised by the caller); VV_E_IO when no answer came; VV_E_INVAL
 * when it answered with an error; cn->err says which and why. */
static int call(struct conn *cn, const char *method, const char *path, const void *body,
                size_t n, const char *ctype, struct vv_http_response *resp)
{
    struct vv_http_request rq = VV_HTTP_REQUEST_INIT;
    char url[1024], msg[400];
    int r;

    snprintf(url, sizeof(url), "%s/api/v1%s", cn->p.url, path);
    rq.method = method;
    rq.url = url;
    rq.bearer = cn->p.token[0] ? cn->p.token : NULL;
    rq.body = body;
    rq.body_len = n;
    rq.content_type = body ? ctype : NULL;
    rq.connect_timeout_ms = CONNECT_TIMEOUT_MS;
    rq.timeout_ms = REQUEST_TIMEOUT_MS;
    cn->status = 0;
    cn->code[0] = '\0';
    r = vv_http_do(cn->h, &rq, resp);
    if (r < 0) {
        snprintf(cn->err, sizeof(cn->err),
                 "the secondary at %s cannot be reached: %s (%s); check the network between "
                 "the regions and that its vmvaultd runs",
                 cn->p.url, vv_http_failure_name(resp->failure), resp->error);
        return VV_E_IO;
    }
    cn->status = resp->status;
    if (resp->status >= 200 && resp->status < 300) {
        cn->answered++;
        return 0;
    }
    answer_error(resp, cn->code, sizeof(cn->code), msg, sizeof(msg));
    snprintf(cn->err, sizeof(cn->err), "the secondary refused %s %s: %ld %s: %s", method, path,
             resp->status, cn->code, msg);
    return VV_E_INVAL;
}

/* call() with a JSON body (stolen); the answer's JSON into *out when out is not NULL. */
static int call_json(struct conn *cn, const char *method, const char *path, json_t *body,
                     json_t **out)
{
    struct vv_http_response resp;
    char *text = body ? vv_json_dump(body) : NULL;
    char e[100];
    int r;

    json_decref(body);
    if (body && !text)
        return VV_E_NOMEM;
    vv_http_response_init(&resp);
    r = call(cn, method, path, text, text ? strlen(text) : 0, "application/json", &resp);
    free(text);
    if (r == 0 && out) {
        *out = resp.body.len ? vv_json_parse(resp.body.data, resp.body.len, e, sizeof(e))
                             : json_object();
        if (!*out) {
            snprintf(cn->err, sizeof(cn->err), "the secondary's answer to %s %s is not JSON: %s",
                     method, path, e);
            r = VV_E_CORRUPT;
        }
    }
    vv_http_response_release(&resp);
    return r;
}

/* ---- pairing ---------------------------------------------------------------------- */

/* Record the pairing the secondary accepted (ans: its answer). Takes the lock. */
static int pair_record(struct vv_server *s, const char *url, const char *pin, const char *who,
                       json_t *ans, char *err, size_t errlen)
{
    const char *token = json_string_value(json_object_get(ans, "token"));
    const char *wrap = json_string_value(json_object_get(ans, "wrapSecret"));
    const char *region = json_string_value(json_object_get(ans, "region"));
    const char *name = json_string_value(json_object_get(ans, "serverName"));
    json_t *sec;
    char *text;
    int r;

    if (!token || !wrap || !vv_region_valid(region) || strlen(token) >= VV_TOKEN_MAX ||
        strlen(wrap) >= 128) {
        snprintf(err, errlen, "the secondary's answer to the pairing lacks its token, wrap "
                              "secret or region: is it a vmvaultd of this version?");
        return VV_E_CORRUPT;
    }
    sec = json_pack("{s:s,s:s}", "token", token, "wrapSecret", wrap);
    text = sec ? vv_json_dump(sec) : NULL;
    json_decref(sec);
    r = text ? vv_pairing_write(s, "secondary.json", text) : VV_E_NOMEM;
    if (text) {
        memset(text, 0, strlen(text));
        free(text);
    }
    if (r) {
        snprintf(err, errlen, "the pairing file could not be written: %s", vv_strerror(r));
        return r;
    }
    vv_db_lock(s->db);
    r = vv_db_run(s->db,
                  "INSERT INTO peers (role, name, region, url, pin, created, created_by, "
                  "last_contact) VALUES ('Secondary', ?, ?, ?, ?, ?, ?, ?)",
                  "ssssisi", name && *name ? name : region, region, url, pin[0] ? pin : NULL,
                  (int64_t)vv_server_now(s), who, (int64_t)vv_server_now(s));
    vv_db_unlock(s->db);
    if (r < 0) {
        snprintf(err, errlen, "the catalog could not record the pairing: %s", vv_strerror(r));
        return r;
    }
    return 0;
}

int vv_repl_pair(struct vv_server *s, const char *url, const char *pin, const char *code,
                 const char *who, char *err, size_t errlen)
{
    struct peer p = {0};
    struct conn cn;
    json_t *ans = NULL;
    int64_t have = 0;
    int r;

    vv_db_lock(s->db);
    r = vv_db_int(s->db, &have, "SELECT COUNT(*) FROM peers WHERE role = 'Secondary'", "");
    vv_db_unlock(s->db);
    if (r < 0)
        return r;
    if (have) {
        snprintf(err, errlen, "this server is paired with a secondary already; unpair first "
                              "('vmvault pairing delete --peer-role Secondary')");
        return VV_E_EXISTS;
    }
    snprintf(p.url, sizeof(p.url), "%s", url);
    snprintf(p.pin, sizeof(p.pin), "%s", pin);
    if ((r = conn_open(&cn, s, &p)) != 0) {
        snprintf(err, errlen, "the certificate pin '%s' is not valid (sha256//BASE64)", pin);
        return r;
    }
    r = call_json(&cn, "POST", "/replication/pair",
                  json_pack("{s:s,s:s,s:s}", "code", code, "primaryName",
                            s->public_url[0] ? s->public_url : s->listen_url, "primaryRegion",
                            s->region),
                  &ans);
    if (r) {
        snprintf(err, errlen, "%s", cn.err);
        conn_close(&cn);
        return r != VV_E_INVAL                      ? VV_E_IO     /* no answer */
               : cn.status == 401 || cn.status == 403 ? VV_E_AUTH   /* the code */
               : cn.status == 409                     ? VV_E_EXISTS /* paired there */
                                                      : VV_E_INVAL; /* another refusal */
    }
    conn_close(&cn);
    r = pair_record(s, url, pin, who, ans, err, errlen);
    json_decref(ans);
    if (r == 0) {
        vv_info("paired with the secondary at %s", url);
        vv_replicator_wake(s);
    }
    return r;
}

int vv_repl_unpair(struct vv_server *s)
{
    char path[VV_PATH_MAX];
    struct peer p;
    struct conn cn;
    int r;

    r = peer_load(s, &p);
    if (r == 0)
        return VV_E_NOTFOUND;
    if (r == 1 && conn_open(&cn, s, &p) == 0) {
        if (call_json(&cn, "DELETE", "/replication/pair", NULL, NULL) != 0)
            vv_warn("unpairing: %s; the secondary keeps the primary's token until its Owner "
                    "revokes it ('vmvault pairing delete --peer-role Primary' there)",
                    cn.err);
        conn_close(&cn);
    }
    vv_db_lock(s->db);
    r = vv_db_run(s->db, "DELETE FROM peers WHERE role = 'Secondary'", "");
    vv_db_unlock(s->db);
    if (r < 0)
        return r;
    if (vv_pairing_path(s, "secondary.json", path, sizeof(path)) == 0 && unlink(path) != 0 &&
        errno != ENOENT)
        vv_warn("cannot remove %s: %s", path, strerror(errno));
    return 0;
}

/* ---- the replica vault ------------------------------------------------------------ */

/* A vault the thread replicates. */
struct rvault {
    int64_t id;
    char uuid[VV_UUID_LEN], name[80];
    int64_t sd_days;
    char sd_state[16];
};

/* The vault key sealed with the pairing's wrap secret (key.h's wrap format). */
static int wrapped_key(struct conn *cn, const struct rvault *v, char **out)
{
    char path[VV_PATH_MAX];
    struct vv_key k;
    int r;

    if ((r = vv_server_vault_path(cn->s, v->uuid, "vault.key", path, sizeof(path))) != 0)
        return r;
    if ((r = vv_key_load(path, &k)) != 0)
        return r;
    r = vv_key_wrap(&k, cn->p.wrap, WRAP_ITERATIONS, v->name, v->uuid, out);
    vv_key_clear(&k);
    return r;
}

/* Points the replica found damaged are sent again: marked not replicated. */
static void repair_marks(struct vv_server *s, const struct rvault *v, const json_t *repair)
{
    const json_t *x;
    size_t i;

    vv_db_lock(s->db);
    json_array_foreach(repair, i, x) {
        if (!json_is_string(x))
            continue;
        if (vv_db_run(s->db,
                      "UPDATE recovery_points SET replicated = NULL WHERE vault_id = ? AND "
                      "name = ? AND replicated IS NOT NULL",
                      "is", v->id, json_string_value(x)) > 0)
            vv_warn("replication: the secondary found recovery point %s of vault '%s' "
                    "damaged; sending it again",
                    json_string_value(x), v->name);
    }
    vv_db_unlock(s->db);
}

/* Make sure the replica vault exists on the secondary (sending the key the first
 * time) and take the points it asks to be sent again. 0 or <0 (cn->err). */
static int ensure_vault(struct conn *cn, const struct rvault *v)
{
    json_t *ans = NULL, *body;
    char path[200], *key = NULL;
    int r;

    snprintf(path, sizeof(path), "/replication/vaults/%s", v->uuid);
    body = json_pack("{s:s,s:s,s:I,s:s}", "name", v->name, "redundancy", "GeoRedundant",
                     "softDeleteDays", (json_int_t)v->sd_days, "softDeleteState", v->sd_state);
    r = call_json(cn, "PUT", path, json_incref(body), &ans);
    if (r == VV_E_INVAL && !strcmp(cn->code, "VaultKeyRequired")) {
        if ((r = wrapped_key(cn, v, &key)) != 0) {
            snprintf(cn->err, sizeof(cn->err), "the key of vault '%s' cannot be read: %s",
                     v->name, vv_strerror(r));
        } else {
            json_object_set_new(body, "wrappedKey", json_string(key));
            r = call_json(cn, "PUT", path, json_incref(body), &ans);
            memset(key, 0, strlen(key));
            free(key);
        }
    }
    json_decref(body);
    if (r == 0)
        repair_marks(cn->s, v, json_object_get(ans, "repair"));
    json_decref(ans);
    return r;
}

/* ---- one point -------------------------------------------------------------------- */

/* A point under way. Owned by replicate_point. */
struct rpoint {
    int64_t rowid, item_id;
    char name[VV_POINT_ID_MAX], job[VV_UUID_LEN];
    json_t *item, *point, *meta; /* what the commit carries; meta also to spot changes */
    uint64_t chunks_sent, chunks_present, total_est;
    char region[64]; /* the secondary's, for the job's task */
};

static void rpoint_release(struct rpoint *pt)
{
    json_decref(pt->item);
    json_decref(pt->point);
    json_decref(pt->meta);
}

#define POINT_META_SQL                                                                       \
    "json_object('expires', rp.expires, 'retainedBy', rp.retained_by, 'deleted', "         \
    "rp.deleted, 'purgeAt', rp.purge_at, 'held', rp.held)"

/* The oldest point of v not on the secondary yet (and not found damaged here): 1 with
 * its facts in pt, 0 when none, <0. Catalog locked. */
static int next_point(struct vv_server *s, const struct rvault *v, struct rpoint *pt)
{
    json_t *row;
    int r;

    memset(pt, 0, sizeof(*pt));
    row = vv_db_row(
        s->db, &r,
        "SELECT rp.id, rp.name, rp.item_id, "
        "  json_object('name', i.name, 'vmUuid', i.vm_uuid, 'container', c.name, "
        "    'containerRegion', c.region, 'state', i.state, "
        "    'policy', COALESCE(p.name, i.last_policy)) AS \"item:json\", "
        "  json_object('time', rp.time, 'kind', rp.kind, 'consistency', rp.consistency, "
        "    'retainUntil', rp.retain_until, 'scheduledFor', rp.scheduled_for, "
        "    'committed', COALESCE(rp.committed, rp.time)) AS \"point:json\", " POINT_META_SQL
        " AS \"meta:json\" "
        "FROM recovery_points rp JOIN protected_items i ON i.id = rp.item_id "
        "  JOIN containers c ON c.id = i.container_id LEFT JOIN policies p ON p.id = i.policy_id "
        "WHERE rp.vault_id = ? AND rp.replicated IS NULL AND rp.damaged IS NULL "
        "ORDER BY rp.id LIMIT 1",
        "i", v->id);
    if (!row)
        return r == VV_E_NOTFOUND ? 0 : r;
    pt->rowid = json_integer_value(json_object_get(row, "id"));
    pt->item_id = json_integer_value(json_object_get(row, "item_id"));
    snprintf(pt->name, sizeof(pt->name), "%s", json_string_value(json_object_get(row, "name")));
    pt->item = json_incref(json_object_get(row, "item"));
    pt->point = json_incref(json_object_get(row, "point"));
    pt->meta = json_incref(json_object_get(row, "meta"));
    json_decref(row);
    return 1;
}

/* The point's Replication job: the one running, else a new one, claimed. Catalog
 * locked. 0 or <0. */
static int point_job(struct vv_server *s, const struct rvault *v, struct rpoint *pt)
{
    char tasks[200];
    time_t now = vv_server_now(s);
    int r = vv_db_text(s->db, pt->job, sizeof(pt->job),
                       "SELECT id FROM jobs WHERE operation = 'Replication' AND vault_id = ? AND "
                       "recovery_point = ? AND status IN ('InProgress','Cancelling') LIMIT 1",
                       "is", v->id, pt->name);
    if (r != 0)
        return r < 0 ? r : 0;
    snprintf(tasks, sizeof(tasks), "[{\"name\":\"Replicate to %s\",\"status\":\"InProgress\"}]",
             pt->region);
    if ((r = vv_job_insert_own(s->db, now, "replication", v->id, pt->item_id, "Replication",
                               tasks, pt->job)) < 0 ||
        (r = vv_job_set_recovery_point(s->db, pt->job, pt->name)) < 0)
        return r;
    return 0;
}

/* The job's task line says what happens (status InProgress). Takes the lock. */
static void point_progress(struct vv_server *s, const struct rpoint *pt, const char *what,
                           uint64_t done)
{
    char name[1600];
    json_t *t;

    snprintf(name, sizeof(name), "Replicate to %s%s%s", pt->region, what[0] ? ": " : "", what);
    t = json_pack("[{s:s,s:s}]", "name", name, "status", "InProgress");
    char *text = t ? vv_json_dump(t) : NULL;

    json_decref(t);
    vv_db_lock(s->db);
    if (text)
        vv_best_effort(vv_job_progress(s->db, pt->job, vv_server_now(s), text, (int64_t)done,
                                       (int64_t)(pt->total_est > done ? pt->total_est : done)));
    vv_db_unlock(s->db);
    free(text);
}

/* 1 when the replication window is closed now. */
static int window_closed(struct conn *cn)
{
    int from, to;
    if (!cn->p.window[0] || vv_window_parse(cn->p.window, &from, &to) != 0)
        return 0;
    return !vv_window_open(from, to, vv_server_now(cn->s));
}

/* A cancel asked for the job, or the server stopping: VV_E_CANCELLED. */
static int point_stopped(struct vv_server *s, const struct rpoint *pt)
{
    int64_t cancelling = 0;
    if (atomic_load(&s->stopping))
        return VV_E_CANCELLED;
    vv_db_lock(s->db);
    vv_best_effort(vv_db_int(s->db, &cancelling,
                             "SELECT COUNT(*) FROM jobs WHERE id = ? AND status = 'Cancelling'",
                             "s", pt->job));
    vv_db_unlock(s->db);
    return cancelling ? VV_E_CANCELLED : 0;
}

/* Ids of v's missing chunks among ids[0, n): into *miss (caller frees), *nmiss. */
static int ask_missing(struct conn *cn, const struct rvault *v, const struct rpoint *pt,
                       uint8_t (*ids)[VV_ENTRY_LEN], size_t n, uint8_t (**miss)[VV_ENTRY_LEN],
                       size_t *nmiss)
{
    char path[300], hex[2 * VV_CHUNK_ID_LEN + 1];
    size_t k = 0;
    int r = 0;

    *miss = n ? calloc(n, VV_ENTRY_LEN) : NULL;
    if (n && !*miss)
        return VV_E_NOMEM;
    snprintf(path, sizeof(path), "/replication/vaults/%s/chunks/missing?point=%s", v->uuid,
             pt->name);
    for (size_t i = 0; i < n && r == 0; i += MISSING_BATCH) {
        json_t *arr = json_array(), *ans = NULL, *x;
        size_t j;
        for (j = i; j < n && j < i + MISSING_BATCH; j++) {
            vv_hex_encode(ids[j], VV_CHUNK_ID_LEN, hex);
            json_array_append_new(arr, json_string(hex));
        }
        r = call_json(cn, "POST", path, json_pack("{s:o}", "ids", arr), &ans);
        json_array_foreach(json_object_get(ans, "missing"), j, x) {
            if (r == 0 && k < n && json_is_string(x) &&
                vv_hex_decode(json_string_value(x), (*miss)[k], VV_CHUNK_ID_LEN) == 0)
                k++;
        }
        json_decref(ans);
    }
    *nmiss = k;
    return r;
}

/* The chunks a point sends, in batches sent by SEND_THREADS threads at once, each
 * with its own connection: the secondary re-hashes the batches in parallel, and the
 * network, the reads here and the work there overlap. Owned by send_chunks. */
#define SEND_THREADS 4
#define BATCH_CHUNKS 16

struct send_run {
    struct conn *cn; /* the point's connection: settings, and the first failure's text */
    struct vv_repo *repo;
    const struct rvault *v;
    struct rpoint *pt;
    uint8_t (*miss)[VV_ENTRY_LEN];
    size_t nmiss;
    uint32_t chunk_size;
    struct conn wc[SEND_THREADS]; /* one connection per sending thread, opened on use */
    pthread_mutex_t mu;           /* the failure's text into cn */
    int failed;
    atomic_uint_fast64_t sent, chunks, done;
    atomic_int stop;
};

/* Hold back after sending: the rate limit, over every thread's bytes. */
static void rate_wait_shared(struct send_run *sr)
{
    struct conn *cn = sr->cn;
    uint64_t now = vv_server_now_ms(cn->s);
    uint64_t wait = vv_rate_wait_ms(cn->sent + atomic_load(&sr->sent), now - cn->t0_ms,
                                    (uint64_t)cn->p.max_rate);

    while (wait > 0 && !atomic_load(&cn->s->stopping) && !atomic_load(&sr->stop)) {
        uint64_t step = wait > 200 ? 200 : wait;
        usleep((useconds_t)(step * 1000));
        wait -= step;
    }
}

/* The first failure of a run: its text and code become the point's. */
static int send_failed(struct send_run *sr, const struct conn *wc, int r)
{
    pthread_mutex_lock(&sr->mu);
    if (!sr->failed && wc) {
        snprintf(sr->cn->err, sizeof(sr->cn->err), "%s", wc->err);
        snprintf(sr->cn->code, sizeof(sr->cn->code), "%s", wc->code);
        sr->cn->status = wc->status;
    }
    sr->failed = 1;
    pthread_mutex_unlock(&sr->mu);
    atomic_store(&sr->stop, 1);
    return r;
}

/* Read batch i's chunks as they are stored (the compressed frame: never compressed
 * again) into w->scratch as records. */
static int batch_read(struct send_run *sr, struct vv_worker *w, uint64_t i)
{
    size_t end = (size_t)(i + 1) * BATCH_CHUNKS < sr->nmiss ? (size_t)(i + 1) * BATCH_CHUNKS
                                                            : sr->nmiss;
    int r = 0;

    w->scratch.len = 0;
    for (size_t k = (size_t)i * BATCH_CHUNKS; k < end && r == 0; k++) {
        uint8_t head[VV_REC_HEAD];
        int zstd = 0;
        if ((r = vv_chunk_get_payload(&sr->repo->chunks, &w->io, sr->miss[k], &zstd)) != 0)
            break;
        vv_rec_put_head(head, sr->miss[k], zstd ? VV_REC_ZSTD : VV_REC_IDENTITY,
                        (uint32_t)w->io.dec.len);
        if ((r = vv_buf_append(&w->scratch, head, sizeof(head))) == 0)
            r = vv_buf_append(&w->scratch, w->io.dec.data, w->io.dec.len);
    }
    if (r == 0)
        atomic_fetch_add(&sr->chunks, end - (size_t)i * BATCH_CHUNKS);
    return r;
}

static int send_task(void *ctx, struct vv_worker *w, uint64_t i)
{
    struct send_run *sr = ctx;
    struct conn *wc = &sr->wc[w->idx];
    struct vv_http_response resp;
    char path[300];
    uint64_t done;
    int r;

    if (atomic_load(&sr->stop))
        return VV_E_CANCELLED;
    if (!wc->h && (r = conn_open(wc, sr->cn->s, &sr->cn->p)) != 0)
        return send_failed(sr, NULL, r);
    if ((r = batch_read(sr, w, i)) != 0)
        return send_failed(sr, NULL, r); /* a chunk that cannot be read here */
    snprintf(path, sizeof(path), "/replication/vaults/%s/chunks?point=%s", sr->v->uuid,
             sr->pt->name);
    vv_http_response_init(&resp);
    r = call(wc, "POST", path, w->scratch.data, w->scratch.len, "application/octet-stream",
             &resp);
    vv_http_response_release(&resp);
    if (r)
        return send_failed(sr, wc, r);
    atomic_fetch_add(&sr->sent, w->scratch.len);
    done = atomic_fetch_add(&sr->done, 1) + 1;
    rate_wait_shared(sr);
    if (w->idx == 0) { /* one thread reports and looks for a cancel or the window */
        point_progress(sr->cn->s, sr->pt, "chunks",
                       done * BATCH_CHUNKS * (uint64_t)sr->chunk_size);
        if (point_stopped(sr->cn->s, sr->pt) || window_closed(sr->cn)) {
            atomic_store(&sr->stop, 1);
            return VV_E_CANCELLED;
        }
    }
    return 0;
}

/* Send the chunks of ids the secondary lacks (the secondary re-hashes each). */
static int send_chunks(struct conn *cn, struct vv_repo *repo, const struct rvault *v,
                       struct rpoint *pt, uint8_t (*ids)[VV_ENTRY_LEN], size_t n,
                       uint32_t chunk_size)
{
    struct send_run sr = {.cn = cn, .repo = repo, .v = v, .pt = pt, .chunk_size = chunk_size};
    uint64_t nbatch;
    int r = ask_missing(cn, v, pt, ids, n, &sr.miss, &sr.nmiss);

    if (r) {
        free(sr.miss);
        return r;
    }
    pt->chunks_present += n - sr.nmiss;
    pt->total_est = (uint64_t)sr.nmiss * chunk_size;
    nbatch = (sr.nmiss + BATCH_CHUNKS - 1) / BATCH_CHUNKS;
    pthread_mutex_init(&sr.mu, NULL);
    atomic_init(&sr.sent, 0);
    atomic_init(&sr.chunks, 0);
    atomic_init(&sr.done, 0);
    atomic_init(&sr.stop, 0);
    r = nbatch ? vv_parallel_run(SEND_THREADS, VV_CODEC_DEFAULT_LEVEL, nbatch, send_task, &sr,
                                 NULL)
               : 0;
    if (r && !sr.failed && r != VV_E_CANCELLED)
        snprintf(cn->err, sizeof(cn->err), "the chunks of %s could not be sent: %s", pt->name,
                 vv_strerror(r));
    cn->sent += atomic_load(&sr.sent);
    pt->chunks_sent += atomic_load(&sr.chunks);
    for (int k = 0; k < SEND_THREADS; k++)
        if (sr.wc[k].h)
            conn_close(&sr.wc[k]);
    pthread_mutex_destroy(&sr.mu);
    free(sr.miss);
    return r;
}

/* PUT each disk's index as the store holds it. */
static int send_indexes(struct conn *cn, const struct rvault *v, const struct rpoint *pt,
                        const struct vv_manifest *m, const struct vv_index *ixs)
{
    char path[400];
    int r = 0;

    for (size_t d = 0; d < m->ndisks && r == 0; d++) {
        struct vv_buf b = VV_BUF_INIT;
        struct vv_http_response resp;
        if ((r = vv_index_serialize(&ixs[d], &b)) == 0) {
            snprintf(path, sizeof(path), "/replication/vaults/%s/points/%s/disks/%s/index",
                     v->uuid, pt->name, m->disks[d].name);
            vv_http_response_init(&resp);
            r = call(cn, "PUT", path, b.data, b.len, "application/octet-stream", &resp);
            vv_http_response_release(&resp);
            cn->sent += b.len;
        }
        vv_buf_release(&b);
    }
    return r;
}

/* The commit that makes the point exist on the secondary: 0 (made, or there already),
 * or <0 (cn->code "MissingChunks" when chunks went missing there meanwhile). */
static int send_commit(struct conn *cn, const struct rvault *v, const struct rpoint *pt,
                       const struct vv_manifest *m)
{
    char path[300], *text = vv_manifest_serialize(m);
    json_t *point, *body;

    if (!text)
        return VV_E_NOMEM;
    point = json_deep_copy(pt->point);
    json_object_update(point, pt->meta);
    snprintf(path, sizeof(path), "/replication/vaults/%s/points/%s", v->uuid, pt->name);
    body = json_pack("{s:s,s:O,s:o}", "manifest", text, "item", pt->item, "point", point);
    free(text);
    return body ? call_json(cn, "PUT", path, body, NULL) : VV_E_NOMEM;
}

/* The point is on the secondary: record it, end its job, and queue a change of its
 * facts made while it travelled. Takes the lock. */
static void point_done(struct conn *cn, const struct rvault *v, struct rpoint *pt)
{
    struct vv_server *s = cn->s;
    time_t now = vv_server_now(s);
    uint64_t ms = vv_server_now_ms(s) - cn->t0_ms;
    uint64_t rate = ms ? cn->sent * 1000 / ms : cn->sent;
    json_t *stats = json_pack("{s:I,s:I,s:I,s:f}", "bytesSent", (json_int_t)cn->sent,
                              "chunksSent", (json_int_t)pt->chunks_sent, "chunksPresent",
                              (json_int_t)pt->chunks_present, "seconds", (double)ms / 1000.0);
    char *st = stats ? vv_json_dump(stats) : NULL, *meta_now = NULL, *meta_then;
    struct vv_job_end e = {.status = "Completed", .stats = st};
    json_t *row;
    char done_tasks[200];
    int r;

    snprintf(done_tasks, sizeof(done_tasks),
             "[{\"name\":\"Replicate to %s\",\"status\":\"Completed\"}]", pt->region);
    json_decref(stats);
    vv_db_lock(s->db);
    row = vv_db_row(s->db, &r, "SELECT " POINT_META_SQL " AS \"m:json\" FROM recovery_points rp "
                               "WHERE rp.id = ?", "i", pt->rowid);
    meta_now = row ? vv_json_dump(json_object_get(row, "m")) : NULL;
    meta_then = vv_json_dump(pt->meta);
    if (vv_db_begin(s->db) == 0) {
        r = vv_db_run(s->db, "UPDATE recovery_points SET replicated = ? WHERE id = ?", "ii",
                      (int64_t)now, pt->rowid);
        if (r >= 0 && meta_now && meta_then && strcmp(meta_now, meta_then) != 0)
            r = vv_db_run(s->db, "INSERT INTO repl_queue (vault_id, point, kind) "
                                 "VALUES (?, ?, 'Update')", "is", v->id, pt->name);
        if (r >= 0)
            r = vv_db_run(s->db,
                          "UPDATE vaults SET repl_last = ?, repl_rate = ?, "
                          "repl_bytes = repl_bytes + ?, repl_error = NULL, "
                          "repl_error_since = NULL WHERE id = ?",
                          "iiii", (int64_t)now, (int64_t)rate, (int64_t)cn->sent, v->id);
        if (r >= 0)
            r = vv_job_progress(s->db, pt->job, now, done_tasks, (int64_t)pt->total_est,
                                (int64_t)pt->total_est);
        if (r >= 0)
            r = vv_job_end(s->db, pt->job, now, &e);
        if (r < 0 || vv_db_commit(s->db) != 0)
            vv_db_rollback(s->db);
    }
    vv_db_unlock(s->db);
    json_decref(row);
    free(meta_now);
    free(meta_then);
    free(st);
    vv_info("replication: recovery point %s of vault '%s' verified on the secondary "
            "(%llu bytes, %llu chunks sent, %llu there already, %.1f s)",
            pt->name, v->name, (unsigned long long)cn->sent,
            (unsigned long long)pt->chunks_sent, (unsigned long long)pt->chunks_present,
            (double)ms / 1000.0);
}

/* End the point's job with status and code (the point is not marked replicated). */
static void point_end(struct vv_server *s, struct rpoint *pt, const char *status,
                      const char *code, const char *msg)
{
    struct vv_job_end e = {.status = status, .code = code, .message = msg};
    vv_db_lock(s->db);
    vv_best_effort(vv_job_end(s->db, pt->job, vv_server_now(s), &e));
    vv_db_unlock(s->db);
}

/* The point cannot be read here: it is marked damaged (no more attempts until a
 * verification clears it) and its job fails. */
static void point_unreadable(struct conn *cn, const struct rvault *v, struct rpoint *pt, int r)
{
    char msg[400];
    int64_t listed = 0;

    vv_db_lock(cn->s->db);
    vv_best_effort(vv_db_int(cn->s->db, &listed, "SELECT COUNT(*) FROM recovery_points WHERE "
                                                 "id = ?", "i", pt->rowid));
    vv_db_unlock(cn->s->db);
    if (!listed) { /* pruned while it travelled: its chunks may be collected */
        point_end(cn->s, pt, "Cancelled", NULL,
                  "the recovery point was deleted before it reached the secondary");
        return;
    }
    snprintf(msg, sizeof(msg),
             "recovery point %s cannot be read on the primary (%s); it is not replicated: run "
             "'vmvault vault verify --name %s'",
             pt->name, vv_strerror(r), v->name);
    vv_error("replication: %s", msg);
    vv_db_lock(cn->s->db);
    vv_best_effort(vv_db_run(cn->s->db, "UPDATE recovery_points SET damaged = ? WHERE id = ?",
                             "ii", (int64_t)vv_server_now(cn->s), pt->rowid));
    vv_db_unlock(cn->s->db);
    point_end(cn->s, pt, "Failed", "RecoveryPointDamaged", msg);
}

/* The manifest, indexes and chunk ids of a point from the store. */
struct loaded {
    struct vv_manifest m;
    struct vv_index *ixs;
    uint8_t (*ids)[VV_ENTRY_LEN];
    size_t nids;
};

static void loaded_release(struct loaded *l)
{
    for (size_t d = 0; l->ixs && d < l->m.ndisks; d++)
        vv_index_release(&l->ixs[d]);
    free(l->ixs);
    free(l->ids);
    vv_manifest_release(&l->m);
}

static int point_load(struct vv_repo *repo, const char *name, struct loaded *l)
{
    int r;

    memset(l, 0, sizeof(*l));
    vv_manifest_init(&l->m);
    if ((r = vv_repo_point_load(repo, name, &l->m)) != 0)
        return r;
    if (!(l->ixs = calloc(l->m.ndisks ? l->m.ndisks : 1, sizeof(*l->ixs))))
        return VV_E_NOMEM;
    for (size_t d = 0; d < l->m.ndisks; d++)
        if ((r = vv_repo_index_load(repo, &l->m, &l->m.disks[d], &l->ixs[d])) != 0)
            return r;
    return vv_repo_point_ids(repo, name, &l->ids, &l->nids);
}

/* Send one point whole: chunks, indexes, commit (again from the chunks when the
 * secondary lost some meanwhile). 0 when it is there, <0 otherwise (cn->err). */
static int send_point(struct conn *cn, struct vv_repo *repo, const struct rvault *v,
                      struct rpoint *pt, const struct loaded *l)
{
    uint32_t cs = l->m.ndisks ? l->m.disks[0].chunk_size : 0;
    int r = VV_E_INVAL;

    for (int attempt = 0; attempt < 3; attempt++) {
        if ((r = send_chunks(cn, repo, v, pt, l->ids, l->nids, cs)) != 0)
            return r;
        point_progress(cn->s, pt, "indexes and commit",
                       pt->total_est);
        if ((r = send_indexes(cn, v, pt, &l->m, l->ixs)) != 0)
            return r;
        if ((r = send_commit(cn, v, pt, &l->m)) == 0 || strcmp(cn->code, "MissingChunks") != 0)
            return r;
        vv_warn("replication: the secondary lacks chunks of %s at its commit; asking again",
                pt->name);
    }
    return r;
}

static int replicate_point(struct conn *cn, const struct rvault *v, struct rpoint *pt)
{
    struct vv_repo *repo;
    struct loaded l;
    int r;

    cn->sent = 0;
    cn->t0_ms = vv_server_now_ms(cn->s);
    if ((r = vv_server_repo(cn->s, v->uuid, &repo)) != 0)
        return r;
    r = point_load(repo, pt->name, &l);
    if (r) { /* deleted since it was listed (Cancelled), or damaged here */
        loaded_release(&l);
        point_unreadable(cn, v, pt, r);
        return 0;
    }
    r = send_point(cn, repo, v, pt, &l);
    loaded_release(&l);
    if (r == 0) {
        point_done(cn, v, pt);
    } else if (r == VV_E_CANCELLED && point_stopped(cn->s, pt) == VV_E_CANCELLED &&
               !atomic_load(&cn->s->stopping)) {
        point_end(cn->s, pt, "Cancelled", NULL,
                  "cancelled; the point is sent again at the next round (a GeoRedundant "
                  "vault replicates every point)");
        snprintf(cn->err, sizeof(cn->err), "the replication of %s was cancelled", pt->name);
    } else if (r == VV_E_HASH || r == VV_E_CHECKSUM || r == VV_E_AUTH || r == VV_E_CODEC ||
               r == VV_E_TRUNCATED || r == VV_E_NOTFOUND) {
        point_unreadable(cn, v, pt, r);
        r = 0;
    } else if (r != VV_E_CANCELLED) {
        char what[1500];
        snprintf(what, sizeof(what), "waiting for the secondary: %s", cn->err);
        point_progress(cn->s, pt, what, cn->sent);
    }
    return r;
}

/* ---- changes of points already there ---------------------------------------------- */

/* Send the queued changes of v's replicated points, in order. 0 or <0. */
static int send_queue(struct conn *cn, const struct rvault *v)
{
    struct vv_server *s = cn->s;
    json_t *rows, *row;
    size_t i;
    int r = 0;

    vv_db_lock(s->db);
    rows = vv_db_rows(s->db,
                      "SELECT q.id, q.point, q.kind, (SELECT " POINT_META_SQL
                      " FROM recovery_points rp WHERE rp.vault_id = q.vault_id AND "
                      "  rp.name = q.point) AS \"meta:json\" "
                      "FROM repl_queue q WHERE q.vault_id = ? ORDER BY q.id LIMIT 200",
                      "i", v->id);
    vv_db_unlock(s->db);
    if (!rows)
        return VV_E_NOMEM;
    json_array_foreach(rows, i, row) {
        const char *kind = json_string_value(json_object_get(row, "kind"));
        json_t *meta = json_object_get(row, "meta");
        char path[300];

        snprintf(path, sizeof(path), "/replication/vaults/%s/points/%s", v->uuid,
                 json_string_value(json_object_get(row, "point")));
        if (!strcmp(kind, "Delete"))
            r = call_json(cn, "DELETE", path, NULL, NULL);
        else if (json_is_object(meta))
            r = call_json(cn, "PATCH", path, json_incref(meta), NULL);
        else
            r = 0; /* gone since: its Delete follows */
        if (r == VV_E_INVAL && cn->status == 404)
            r = 0; /* never reached the secondary, or purged there already */
        if (r)
            break;
        vv_db_lock(s->db);
        vv_best_effort(vv_db_run(s->db, "DELETE FROM repl_queue WHERE id = ?", "i",
                                 (int64_t)json_integer_value(json_object_get(row, "id"))));
        vv_db_unlock(s->db);
    }
    json_decref(rows);
    return r;
}

/* ---- the thread ------------------------------------------------------------------- */

#define ENSURED_MAX 256
struct ensured {
    int64_t vault_id;
    time_t at;
};

/* 1 when v has points or changes to send. Catalog locked. */
static int vault_pending(struct vv_server *s, const struct rvault *v)
{
    int64_t n = 0;
    vv_best_effort(vv_db_int(s->db, &n,
                             "SELECT EXISTS (SELECT 1 FROM recovery_points WHERE vault_id = ?1 "
                             "  AND replicated IS NULL AND damaged IS NULL) "
                             "OR EXISTS (SELECT 1 FROM repl_queue WHERE vault_id = ?1)",
                             "i", v->id));
    return n != 0;
}

static void vault_failed(struct vv_server *s, const struct rvault *v, const char *why)
{
    vv_db_lock(s->db);
    vv_best_effort(vv_db_run(s->db,
                             "UPDATE vaults SET repl_error = ?, repl_error_since = "
                             "COALESCE(repl_error_since, ?) WHERE id = ?",
                             "sii", why, (int64_t)vv_server_now(s), v->id));
    vv_db_unlock(s->db);
}

/* One round for one vault: its replica's state, its queued changes, then its points
 * one by one in commit order. 0 or <0 (cn->err). */
static int vault_round(struct conn *cn, const struct rvault *v, time_t *ensured)
{
    struct vv_server *s = cn->s;
    time_t now = vv_server_now(s);
    struct rpoint pt;
    int r, pending;

    vv_db_lock(s->db);
    pending = vault_pending(s, v);
    vv_db_unlock(s->db);
    if (!pending && now - *ensured < ENSURE_EVERY)
        return 0;
    if (window_closed(cn))
        return 0;
    if ((r = ensure_vault(cn, v)) != 0)
        return r;
    *ensured = now;
    while ((r = send_queue(cn, v)) == 0 && !atomic_load(&s->stopping) && !window_closed(cn)) {
        vv_db_lock(s->db);
        r = next_point(s, v, &pt);
        if (r == 1) {
            snprintf(pt.region, sizeof(pt.region), "%s", cn->p.region);
            r = point_job(s, v, &pt);
        }
        else if (r == 0)
            r = 1; /* none left */
        vv_db_unlock(s->db);
        if (r == 0)
            r = replicate_point(cn, v, &pt);
        rpoint_release(&pt);
        if (r)
            break;
    }
    if (r == 1 || r == VV_E_CANCELLED)
        r = 0;
    if (r == 0) {
        vv_db_lock(s->db);
        vv_best_effort(vv_db_run(s->db,
                                 "UPDATE vaults SET repl_error = NULL, repl_error_since = NULL "
                                 "WHERE id = ? AND repl_error IS NOT NULL",
                                 "i", v->id));
        vv_db_unlock(s->db);
    }
    return r;
}

/* The vaults to replicate. Catalog locked. New array of objects, or NULL. */
static json_t *geo_vaults(struct vv_server *s)
{
    return vv_db_rows(s->db,
                      "SELECT id, uuid, name, soft_delete_days AS d, soft_delete_state AS st "
                      "FROM vaults WHERE redundancy = 'GeoRedundant' AND replica_of IS NULL "
                      "ORDER BY id",
                      "");
}

static time_t *ensured_slot(struct ensured *e, int64_t vault_id)
{
    size_t free_slot = ENSURED_MAX;
    for (size_t i = 0; i < ENSURED_MAX; i++) {
        if (e[i].vault_id == vault_id)
            return &e[i].at;
        if (!e[i].vault_id && free_slot == ENSURED_MAX)
            free_slot = i;
    }
    if (free_slot == ENSURED_MAX)
        free_slot = (size_t)vault_id % ENSURED_MAX;
    e[free_slot] = (struct ensured){vault_id, 0};
    return &e[free_slot].at;
}

/* One pass over every GeoRedundant vault. 0 when all went well, <0 when one failed. */
static int round_all(struct vv_server *s, struct ensured *ens)
{
    struct peer p;
    struct conn cn;
    json_t *vaults = NULL, *x;
    size_t i;
    int r, failed = 0;

    r = peer_load(s, &p);
    if (r == 1) {
        vv_db_lock(s->db);
        vaults = geo_vaults(s);
        vv_db_unlock(s->db);
    }
    if (r != 1 || !vaults) {
        json_decref(vaults);
        return r < 0 ? r : 0;
    }
    if (conn_open(&cn, s, &p) != 0) {
        json_decref(vaults);
        return VV_E_NOMEM;
    }
    json_array_foreach(vaults, i, x) {
        struct rvault v = {0};
        v.id = json_integer_value(json_object_get(x, "id"));
        snprintf(v.uuid, sizeof(v.uuid), "%s", json_string_value(json_object_get(x, "uuid")));
        snprintf(v.name, sizeof(v.name), "%s", json_string_value(json_object_get(x, "name")));
        v.sd_days = json_integer_value(json_object_get(x, "d"));
        snprintf(v.sd_state, sizeof(v.sd_state), "%s",
                 json_string_value(json_object_get(x, "st")));
        if (atomic_load(&s->stopping))
            break;
        if (vault_round(&cn, &v, ensured_slot(ens, v.id)) != 0) {
            vv_warn("replication of vault '%s': %s", v.name, cn.err);
            vault_failed(s, &v, cn.err);
            failed = 1;
        }
    }
    /* the pairing's contact: written when the secondary answered or a call failed, not
     * on a round that had nothing to send */
    vv_db_lock(s->db);
    if (failed)
        vv_best_effort(vv_db_run(s->db, "UPDATE peers SET last_error = ? WHERE role = "
                                        "'Secondary'", "s", cn.err));
    else if (cn.answered)
        vv_best_effort(vv_db_run(s->db,
                                 "UPDATE peers SET last_contact = ?, last_error = NULL "
                                 "WHERE role = 'Secondary'",
                                 "i", (int64_t)vv_server_now(s)));
    vv_db_unlock(s->db);
    conn_close(&cn);
    json_decref(vaults);
    return failed ? VV_E_IO : 0;
}

static void *repl_main(void *arg)
{
    struct vv_server *s = arg;
    struct vv_replicator *rp = s->repl;
    struct ensured *ens = calloc(ENSURED_MAX, sizeof(*ens));
    int backoff = 1;

    while (ens && !atomic_load(&s->stopping)) {
        struct timespec until;
        int r = round_all(s, ens);

        backoff = r ? (backoff < 8 ? backoff * 2 : 8) : 1;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += r ? backoff : 1;
        pthread_mutex_lock(&rp->mu);
        while (!rp->rung && !atomic_load(&s->stopping) &&
               pthread_cond_timedwait(&rp->wake, &rp->mu, &until) == 0)
            ;
        rp->rung = 0;
        pthread_mutex_unlock(&rp->mu);
    }
    free(ens);
    return NULL;
}

int vv_replicator_start(struct vv_server *s)
{
    struct vv_replicator *rp = calloc(1, sizeof(*rp));

    if (!rp)
        return VV_E_NOMEM;
    pthread_mutex_init(&rp->mu, NULL);
    pthread_cond_init(&rp->wake, NULL);
    s->repl = rp;
    if (pthread_create(&rp->thread, NULL, repl_main, s) != 0) {
        s->repl = NULL;
        free(rp);
        vv_error("cannot start the replication thread");
        return VV_E_IO;
    }
    return 0;
}

void vv_replicator_wake(struct vv_server *s)
{
    struct vv_replicator *rp = s->repl;
    if (!rp)
        return;
    pthread_mutex_lock(&rp->mu);
    rp->rung = 1;
    pthread_cond_signal(&rp->wake);
    pthread_mutex_unlock(&rp->mu);
}

void vv_replicator_stop(struct vv_server *s)
{
    struct vv_replicator *rp = s->repl;
    if (!rp)
        return;
    vv_replicator_wake(s);
    pthread_join(rp->thread, NULL);
    pthread_mutex_destroy(&rp->mu);
    pthread_cond_destroy(&rp->wake);
    s->repl = NULL;
    free(rp);
}

/* ---- a vault's replication state -------------------------------------------------- */

static json_t *time_or_null(int64_t t)
{
    char buf[32];
    if (!t)
        return json_null();
    vv_time_format((time_t)t, buf, sizeof(buf));
    return json_string(buf);
}

/* State and reason of a primary's vault from its figures. */
static void primary_state(struct vv_server *s, const json_t *v, const json_t *peer, int64_t lag,
                          int64_t pending, time_t now, const char **state, char *reason,
                          size_t n)
{
    const char *err = json_string_value(json_object_get(v, "repl_error"));
    const char *w = json_string_value(json_object_get(peer, "repl_window"));
    int from, to;

    *state = "Healthy";
    reason[0] = '\0';
    if (err) {
        char since[32];
        vv_time_format((time_t)json_integer_value(json_object_get(v, "repl_error_since")), since,
                       sizeof(since));
        *state = "Broken";
        snprintf(reason, n, "since %s: %s", since, err);
    } else if (lag > s->repl_lag_alert) {
        *state = "Lagging";
        snprintf(reason, n,
                 "the oldest recovery point not yet on the secondary was committed %lld s ago "
                 "(the alert is at %lld s, vmvaultd --replication-lag-alert)%s",
                 (long long)lag, (long long)s->repl_lag_alert,
                 w && vv_window_parse(w, &from, &to) == 0 && !vv_window_open(from, to, now)
                     ? "; replication waits for its window"
                     : "");
    } else if (pending && w && vv_window_parse(w, &from, &to) == 0 &&
               !vv_window_open(from, to, now)) {
        *state = "Lagging";
        snprintf(reason, n, "%lld point(s) wait for the replication window %s (UTC)",
                 (long long)pending, w);
    }
}

/* The object for a vault this server replicates (redundancy GeoRedundant). */
static json_t *primary_json(struct vv_server *s, const json_t *v, int64_t vault_id, time_t now)
{
    json_t *peer, *pend, *out;
    const char *state;
    char reason[1100];
    int64_t lag, count;
    int r;

    peer = vv_db_row(s->db, &r, "SELECT region, url, repl_window FROM peers "
                                "WHERE role = 'Secondary'", "");
    if (!peer)
        return json_pack("{s:s,s:s,s:s,s:n,s:I,s:I,s:I,s:I}", "role", "Primary", "state",
                         "NotConfigured", "reason",
                         "this server is not paired with a secondary, so this GeoRedundant "
                         "vault keeps one copy: pair it ('vmvault pairing invite' on the "
                         "secondary, then 'vmvault pairing create' here)",
                         "secondaryRegion", "replicationLagSeconds", (json_int_t)0,
                         "pendingPoints", (json_int_t)0, "pendingBytes", (json_int_t)0,
                         "lagAlertSeconds", (json_int_t)s->repl_lag_alert);
    pend = vv_db_row(s->db, &r,
                     "SELECT COUNT(*) AS n, COALESCE(MIN(COALESCE(committed, time)), 0) AS t, "
                     "  COALESCE(SUM((SELECT SUM(json_extract(d.value, '$.dataChunks') * "
                     "    json_extract(d.value, '$.chunkSize')) FROM json_each(rp.disks) d)), 0) "
                     "  AS b FROM recovery_points rp WHERE vault_id = ? AND replicated IS NULL",
                     "i", vault_id);
    count = json_integer_value(json_object_get(pend, "n"));
    lag = count ? (int64_t)now - json_integer_value(json_object_get(pend, "t")) : 0;
    if (lag < 0)
        lag = 0;
    primary_state(s, v, peer, lag, count, now, &state, reason, sizeof(reason));
    out = json_pack("{s:s,s:s,s:s?,s:O,s:s,s:I,s:I,s:I,s:o,s:I,s:I,s:I}", "role", "Primary",
                    "state", state, "reason", reason[0] ? reason : NULL, "secondaryRegion",
                    json_object_get(peer, "region"), "secondaryUrl",
                    json_string_value(json_object_get(peer, "url")), "replicationLagSeconds",
                    (json_int_t)lag, "pendingPoints", (json_int_t)count, "pendingBytes",
                    (json_int_t)json_integer_value(json_object_get(pend, "b")),
                    "lastReplicatedTime",
                    time_or_null(json_integer_value(json_object_get(v, "repl_last"))),
                    "transferRateBytesPerSecond",
                    (json_int_t)json_integer_value(json_object_get(v, "repl_rate")), "bytesSent",
                    (json_int_t)json_integer_value(json_object_get(v, "repl_bytes")),
                    "lagAlertSeconds", (json_int_t)s->repl_lag_alert);
    if (out && !json_string_value(json_object_get(peer, "repl_window")))
        json_object_set_new(out, "replicationWindow", json_null());
    else if (out)
        json_object_set(out, "replicationWindow", json_object_get(peer, "repl_window"));
    json_decref(peer);
    json_decref(pend);
    return out;
}

/* The object for a replica vault (this server is the secondary). */
static json_t *replica_json(struct vv_server *s, const json_t *v, int64_t vault_id)
{
    int64_t damaged = 0, points = 0;
    char reason[300] = "";

    vv_best_effort(vv_db_int(s->db, &damaged,
                             "SELECT COUNT(*) FROM recovery_points WHERE vault_id = ? AND "
                             "damaged IS NOT NULL",
                             "i", vault_id));
    vv_best_effort(vv_db_int(s->db, &points,
                             "SELECT COUNT(*) FROM recovery_points WHERE vault_id = ?", "i",
                             vault_id));
    if (damaged)
        snprintf(reason, sizeof(reason),
                 "%lld recovery point(s) have damaged chunks here (moved aside by a "
                 "verification); the primary sends them again",
                 (long long)damaged);
    return json_pack("{s:s,s:s,s:s?,s:O,s:o,s:I,s:I,s:I,s:I}", "role", "Replica", "state",
                     damaged ? "Lagging" : "Healthy", "reason", reason[0] ? reason : NULL,
                     "primaryRegion", json_object_get(v, "replica_of"), "lastReplicatedTime",
                     time_or_null(json_integer_value(json_object_get(v, "repl_last"))),
                     "bytesReceived",
                     (json_int_t)json_integer_value(json_object_get(v, "repl_bytes")),
                     "chunksReceived",
                     (json_int_t)json_integer_value(json_object_get(v, "repl_chunks")),
                     "pointCount", (json_int_t)points, "damagedPoints", (json_int_t)damaged);
}

json_t *vv_repl_vault_json(struct vv_server *s, int64_t vault_id, time_t now)
{
    json_t *v, *out;
    int r;

    v = vv_db_row(s->db, &r,
                  "SELECT redundancy, replica_of, repl_error, repl_error_since, repl_last, "
                  "repl_rate, repl_bytes, repl_chunks FROM vaults WHERE id = ?",
                  "i", vault_id);
    if (!v)
        return NULL;
    if (json_string_value(json_object_get(v, "replica_of")))
        out = replica_json(s, v, vault_id);
    else if (!strcmp(json_string_value(json_object_get(v, "redundancy")), "GeoRedundant"))
        out = primary_json(s, v, vault_id, now);
    else
        out = json_pack("{s:s,s:s,s:s}", "role", "None", "state", "NotReplicated", "reason",
                        "this LocallyRedundant vault keeps one copy, in this server's store; "
                        "a GeoRedundant vault is also copied to the paired secondary");
    json_decref(v);
    return out;
}
