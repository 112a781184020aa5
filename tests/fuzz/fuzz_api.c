/*
 * fuzz_api.c: the REST API on untrusted requests, without HTTP. A real catalog and
 * store in a temporary folder hold one vault, one registered host with one VM, and
 * a protected item, and, as the secondary of a paired primary, one replica vault
 * (REPLICA_UUID) with one point; each input is a request run as the Owner, as the
 * host's agent (first byte odd) or as the primary's replication token (first byte
 * with bit 1 set and bit 0 clear, e.g. '2'):
 *
 *   byte 0: who | "METHOD /path\n" | body
 *
 * Every answer must be a JSON document with a status the API documents; a 500 is a
 * bug (the catalog and disk are healthy here), and so is an error without a code.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "auth.h"
#include "catalog/catalog.h"
#include "json.h"
#include "key.h"
#include "log.h"
#include "router.h"
#include "server.h"
#include "util.h"

static struct vv_server srv;
static struct vv_ident owner, agent, replication;

#define REPLICA_UUID "7c1e2a3b-0000-4000-8000-00000000abcd"
static int ready;

static void cleanup(void)
{
    char dir[sizeof(srv.data_dir)];
    snprintf(dir, sizeof(dir), "%s", srv.data_dir);
    vv_server_release(&srv);
    if (vv_rmtree(dir) != 0)
        abort();
}

/* Run one request; returns the status and (when out is set) the parsed body. */
static int run(const struct vv_ident *who, const char *method, const char *path, const char *body,
               size_t n, json_t **out)
{
    struct vv_http_req req = {method, path, (const uint8_t *)body, n, NULL, NULL};
    struct vv_http_resp resp = {0};
    json_t *j = NULL;

    vv_router_handle_as(&srv, &req, &resp, who);
    if (resp.iov && resp.status == 200) { /* chunks sent in pieces: not JSON */
        vv_http_resp_release(&resp);
        return 200;
    }
    if (resp.body_len)
        j = vv_json_parse(resp.body, resp.body_len, NULL, 0);
    if (resp.status == 500 || (resp.body_len && !j) || (!resp.body_len && resp.status != 204)) {
        fprintf(stderr, "%s %s -> %d %.*s\n", method, path, resp.status, (int)resp.body_len,
                resp.body ? resp.body : "");
        abort();
    }
    if (resp.status >= 400) {
        json_t *code = json_object_get(json_object_get(j, "error"), "code");
        if (!json_is_string(code) || !json_string_length(code))
            abort();
    }
    free(resp.body);
    if (out)
        *out = j;
    else
        json_decref(j);
    return resp.status;
}

static void setup_replica(void);

static void setup(void)
{
    static const char inv[] =
        "{\"vms\":[{\"name\":\"web1\",\"uuid\":\"5b0f1c2d-0000-4000-8000-000000000001\","
        "\"state\":\"running\",\"disks\":[{\"name\":\"vda\",\"size\":1048576}]}]}";
    char path[4200], body[512], tmpl[] = "/tmp/vvfuzzapi-XXXXXX";
    json_t *cred = NULL, *reg = NULL;

    vv_log_set_level(getenv("VV_FUZZ_LOG") ? VV_LOG_DEBUG : VV_LOG_QUIET);
    if (!mkdtemp(tmpl))
        abort();
    vv_server_init(&srv);
    snprintf(srv.data_dir, sizeof(srv.data_dir), "%s", tmpl);
    snprintf(path, sizeof(path), "%s/catalog.db", tmpl);
    if (vv_db_open(path, &srv.db) || vv_catalog_migrate(srv.db) ||
        vv_bootstrap_owner(&srv, time(NULL)))
        abort();
    atexit(cleanup);
    snprintf(owner.user, sizeof(owner.user), "owner");
    owner.role = VV_ROLE_OWNER;
    owner.user_id = 1;

    static const char vault[] = "{\"name\":\"v1\",\"location\":\"westeurope\"}";
    static const char enable[] = "{\"vm\":\"web1\"}";
    if (run(&owner, "POST", "/api/v1/vaults", vault, sizeof(vault) - 1, NULL) != 201 ||
        run(&owner, "POST", "/api/v1/vaults/v1/credentials", "", 0, &cred) != 201)
        abort();
    snprintf(body, sizeof(body),
             "{\"vaultId\":\"%s\",\"registrationSecret\":\"%s\",\"hostName\":\"host1\"}",
             json_string_value(json_object_get(cred, "vaultId")),
             json_string_value(json_object_get(cred, "registrationSecret")));
    json_decref(cred);
    if (run(NULL, "POST", "/api/v1/agent/register", body, strlen(body), &reg) != 201)
        abort();
    snprintf(body, sizeof(body), "Bearer %s", json_string_value(json_object_get(reg, "token")));
    json_decref(reg);
    vv_db_lock(srv.db);
    if (vv_authenticate(&srv, body, time(NULL), &agent) != 0)
        abort();
    vv_db_unlock(srv.db);
    if (run(&agent, "PUT", "/api/v1/agent/inventory", inv, sizeof(inv) - 1, NULL) != 200 ||
        run(&owner, "POST", "/api/v1/vaults/v1/protectedItems", enable, sizeof(enable) - 1,
            NULL) != 201)
        abort();
    setup_replica();
    ready = 1;
}

/* Pair as the secondary of a primary and receive its vault (key wrapped, as the
 * primary sends it): the replication identity and REPLICA_UUID. */
static void setup_replica(void)
{
    char body[8192], bearer[200], code[VV_TOKEN_MAX], hash[65], *wrapped = NULL;
    json_t *ans = NULL;
    struct vv_key k;
    uint8_t raw[VV_AES_KEY_LEN] = {1, 2, 3};

    if (vv_secret_new(code, hash) ||
        vv_db_run(srv.db, "INSERT INTO pair_invites (hash, created, expires) VALUES (?, 0, ?)",
                  "si", hash, (int64_t)time(NULL) + 3600) < 0)
        abort();
    snprintf(body, sizeof(body),
             "{\"code\":\"%s\",\"primaryName\":\"p\",\"primaryRegion\":\"regiona\"}", code);
    if (run(NULL, "POST", "/api/v1/replication/pair", body, strlen(body), &ans) != 201)
        abort();
    snprintf(bearer, sizeof(bearer), "Bearer %s",
             json_string_value(json_object_get(ans, "token")));
    if (vv_key_from_bytes(&k, raw) ||
        vv_key_wrap(&k, json_string_value(json_object_get(ans, "wrapSecret")), 100000, "r1",
                    REPLICA_UUID, &wrapped))
        abort();
    json_decref(ans);
    vv_db_lock(srv.db);
    if (vv_authenticate(&srv, bearer, time(NULL), &replication) != 0)
        abort();
    vv_db_unlock(srv.db);
    {
        json_t *b = json_pack("{s:s,s:i,s:s}", "name", "r1", "softDeleteDays", 14, "wrappedKey",
                              wrapped);
        char *t = vv_json_dump(b);
        json_decref(b);
        if (!t || run(&replication, "PUT", "/api/v1/replication/vaults/" REPLICA_UUID, t,
                      strlen(t), NULL) != 201)
            abort();
        free(t);
    }
    free(wrapped);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char line[512], method[16], path[480];
    const uint8_t *nl;
    size_t len;

    if (!ready)
        setup();
    if (size < 2)
        return 0;
    nl = memchr(data + 1, '\n', size - 1);
    if (!nl)
        return 0;
    len = (size_t)(nl - (data + 1));
    if (len >= sizeof(line))
        return 0;
    memcpy(line, data + 1, len);
    line[len] = 0;
    if (memchr(line, 0, len) || sscanf(line, "%15s %479s", method, path) != 2 || path[0] != '/')
        return 0;
    run((data[0] & 1) ? &agent : (data[0] & 2) ? &replication : &owner, method, path,
        (const char *)(nl + 1),
        size - (size_t)(nl + 1 - data), NULL);
    return 0;
}
