/*
 * rebuild.c: `vmvaultd catalog rebuild` (see rebuild.h): a new catalog from what the
 * stores under DATA/vaults hold. Each vault folder's store has its metadata object
 * (vault.json: the vault, its hosts and protected items) and its points' manifests
 * (time, consistency, parent, VM, disks and their sizes); the vault key opens them,
 * or a wrapped key export given with --key when vault.key is lost.
 *
 * Invariant: nothing under DATA/vaults is removed or changed, except a vault.key
 * written back from a wrapped export; an existing catalog is moved aside, never
 * overwritten. Running it again over the same stores (with --force) gives the same
 * catalog.
 */
#include "rebuild.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


#include "catalog/catalog.h"
#include "err.h"
#include "json.h"
#include "key.h"
#include "log.h"
#include "policy/policy.h"
#include "store/repo.h"
#include "util.h"

#define NOT_REBUILT                                                                         \
    "users, API tokens, policies (each vault gets its DefaultPolicy again), host "          \
    "registrations, jobs and the audit log are not kept in the stores and were not "        \
    "rebuilt: restore them from a catalog backup ('vmvaultd backup-catalog') if you have "  \
    "one. The next start creates the user 'owner' with a new token in DATA/owner.token; "   \
    "each host registers again with new vault credentials"

/* A rebuild under way. Owner of everything it points to but s, o and the db. */
struct rebuild {
    struct vv_server *s;
    const struct vv_options *o;
    time_t now;
    char passphrase[1024]; /* "" when none was given */
    json_t *problems;
    json_int_t vaults, hosts, items, points;
};

/* What one vault's metadata object says (defaults where it says nothing). */
struct vault_meta {
    char name[80], location[80], redundancy[32], sd_state[16];
    int64_t sd_days, created;
    json_t *items; /* borrowed from j; may be NULL */
    json_t *j;     /* owned */
};

static void problem(struct rebuild *rb, const char *vault, const char *what, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

static void problem(struct rebuild *rb, const char *vault, const char *what, const char *fmt,
                    ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    json_array_append_new(rb->problems, json_pack("{s:s,s:s,s:s}", "vault", vault, "problem",
                                                  what, "detail", detail));
}

/* ---- the catalog: refuse, or move the old one aside, then a new one ----------------- */

/* 1 when the catalog at path lists any vault or user, 0 when it is empty, <0 when it
 * cannot be read. */
static int catalog_has_rows(const char *path)
{
    struct vv_db *db;
    int64_t tables = 0, rows = 0;
    int r;

    if ((r = vv_db_open(path, &db)) != 0)
        return r;
    r = vv_db_int(db, &tables,
                  "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                  "('vaults', 'users')", "");
    if (r >= 0 && tables == 2)
        r = vv_db_int(db, &rows, "SELECT (SELECT COUNT(*) FROM vaults) + "
                                 "(SELECT COUNT(*) FROM users)", "");
    vv_db_close(db);
    return r < 0 ? r : rows > 0;
}

/* Move path (and its -wal, -shm) aside to path.before-rebuild-<stamp>. 0 or -1. */
static int move_catalog_aside(const char *path, time_t now, char *aside, size_t n)
{
    static const char *const tails[] = {"", "-wal", "-shm"};
    char stamp[32], from[VV_PATH_MAX], to[VV_PATH_MAX];
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    /* never over an earlier one moved aside in the same second */
    for (int k = 1; k < 100; k++) {
        if (vv_path_join(aside, n, k == 1 ? "%s.before-rebuild-%s" : "%s.before-rebuild-%s-%d",
                         path, stamp, k) != 0)
            return -1;
        if (access(aside, F_OK) != 0)
            break;
    }
    if (access(aside, F_OK) == 0)
        return -1;
    for (int i = 0; i < 3; i++) {
        if (vv_path_join(from, sizeof(from), "%s%s", path, tails[i]) != 0 ||
            vv_path_join(to, sizeof(to), "%s%s", aside, tails[i]) != 0)
            return -1;
        if (rename(from, to) != 0 && errno != ENOENT) {
            fprintf(stderr, "vmvaultd catalog rebuild: cannot move %s aside to %s: %s\n", from,
                    to, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Open a new, empty catalog at DATA/catalog.db into s->db. The path of the old one
 * moved aside goes into aside ("" when there was none). 0, or 1 after saying why. */
static int catalog_prepare(struct rebuild *rb, char *aside, size_t n)
{
    char path[VV_PATH_MAX];
    int r;

    aside[0] = '\0';
    if (vv_path_join(path, sizeof(path), "%s/catalog.db", rb->s->data_dir) != 0) {
        fprintf(stderr, "vmvaultd catalog rebuild: the path of %s is too long\n",
                rb->s->data_dir);
        return 1;
    }
    if (access(path, F_OK) == 0) {
        if ((r = catalog_has_rows(path)) < 0) {
            fprintf(stderr, "vmvaultd catalog rebuild: %s cannot be read (see above); move it "
                            "aside yourself, or run again with --force to have it moved\n",
                    path);
            if (!rb->o->force)
                return 1;
        } else if (r > 0 && !rb->o->force) {
            fprintf(stderr,
                    "vmvaultd catalog rebuild: %s is not empty: it lists vaults or users. "
                    "Refusing to replace it. If it is wrong or outdated, stop vmvaultd and "
                    "run again with --force: the old catalog is moved aside, not deleted\n",
                    path);
            return 1;
        }
        if (move_catalog_aside(path, rb->now, aside, n) != 0)
            return 1;
    }
    if (vv_db_open(path, &rb->s->db) != 0 || vv_catalog_migrate(rb->s->db) != 0) {
        fprintf(stderr, "vmvaultd catalog rebuild: cannot create a new catalog at %s (see "
                        "above)\n", path);
        return 1;
    }
    return 0;
}

/* ---- one vault ----------------------------------------------------------------------- */


/* The vault's DefaultPolicy, as a new vault gets it. 0 or <0 vv_err. */
static int default_policy(struct rebuild *rb, int64_t vid)
{
    return vv_server_policy_insert_default(rb->s, vid, rb->now);
}

static void meta_defaults(struct vault_meta *vm, const char *uuid)
{
    memset(vm, 0, sizeof(*vm));
    snprintf(vm->name, sizeof(vm->name), "vault-%.8s", uuid);
    snprintf(vm->location, sizeof(vm->location), "unknown");
    snprintf(vm->redundancy, sizeof(vm->redundancy), "GeoRedundant");
    snprintf(vm->sd_state, sizeof(vm->sd_state), "Enabled");
    vm->sd_days = 14;
}

/* Read the store's metadata object into vm; what is missing or invalid keeps its
 * default and is reported. */
static void meta_load(struct rebuild *rb, const char *store, const char *uuid,
                      struct vault_meta *vm)
{
    struct vv_backend *be = vv_backend_local_open(store, 0);
    struct vv_buf b = VV_BUF_INIT;
    const char *name = NULL, *loc = NULL, *red = NULL, *st = NULL, *id = NULL;
    json_int_t days = 0, created = 0;
    char err[200] = "";
    int r;

    meta_defaults(vm, uuid);
    r = be ? vv_repo_meta_read(be, &b) : VV_E_NOTFOUND;
    if (r == 0)
        vm->j = vv_json_parse(b.data, b.len, err, sizeof(err));
    vv_buf_release(&b);
    vv_backend_free(be);
    if (!vm->j ||
        json_unpack_ex(vm->j, NULL, 0, "{s:s,s:s,s:s,s:s,s:{s:s,s:I},s?I}", "vaultId", &id,
                       "name", &name, "location", &loc, "storageRedundancy", &red, "softDelete",
                       "state", &st, "retentionDays", &days, "created", &created) != 0) {
        problem(rb, uuid, "MetadataMissing",
                "%s/vault.json is missing or unreadable%s%s: the vault is rebuilt as '%s' in "
                "location 'unknown'; its items are taken from its recovery points",
                store, err[0] ? ": " : "", err, vm->name);
        return;
    }
    if (strcmp(id, uuid) != 0)
        problem(rb, uuid, "MetadataMismatch", "vault.json names vault id %s, the folder %s; "
                "the folder's id is used", id, uuid);
    if (vv_name_valid(name))
        snprintf(vm->name, sizeof(vm->name), "%s", name);
    if (vv_region_valid(loc))
        snprintf(vm->location, sizeof(vm->location), "%s", loc);
    if (!strcmp(red, "LocallyRedundant"))
        snprintf(vm->redundancy, sizeof(vm->redundancy), "%s", red);
    if (!strcmp(st, "Disabled"))
        snprintf(vm->sd_state, sizeof(vm->sd_state), "%s", st);
    if (days >= 14 && days <= 180)
        vm->sd_days = days;
    vm->created = created > 0 ? created : 0;
    vm->items = json_object_get(vm->j, "items");
}

/* The passphrase-wrapped key given for this vault (--key NAME=FILE or ID=FILE) written
 * back as key_path. 0, or -1 after reporting. */
static int key_restore(struct rebuild *rb, const char *uuid, const struct vault_meta *vm,
                       const char *key_path)
{
    for (int i = 0; i < rb->o->nkeys; i++) {
        const char *eq = strchr(rb->o->keys[i], '=');
        size_t n = (size_t)(eq - rb->o->keys[i]);
        char id[64], vname[128], err[256] = "";
        struct vv_buf b = VV_BUF_INIT;
        struct vv_key k;
        int r;

        if (!((n == strlen(uuid) && !strncmp(rb->o->keys[i], uuid, n)) ||
              (n == strlen(vm->name) && !strncmp(rb->o->keys[i], vm->name, n))))
            continue;
        b.limit = 65536;
        if ((r = vv_read_file(eq + 1, &b)) == 0)
            r = vv_key_unwrap((const char *)b.data, b.len, rb->passphrase, &k, id, vname, err,
                              sizeof(err));
        vv_buf_release(&b);
        if (r == 0 && strcmp(id, uuid) != 0) {
            snprintf(err, sizeof(err), "it is the key of vault %s (%s), not of %s", vname, id,
                     uuid);
            r = VV_E_INVAL;
        }
        if (r == 0 && (r = vv_key_save(key_path, &k)) != 0)
            snprintf(err, sizeof(err), "cannot write the vault's vault.key");
        vv_key_clear(&k);
        if (r == 0)
            return 0;
        problem(rb, uuid, "KeyExportUnusable", "%s: %s", eq + 1, err[0] ? err : vv_strerror(r));
        return -1;
    }
    problem(rb, uuid, "KeyMissing",
            "%s does not exist and no --key was given for vault '%s': not rebuilt (the next "
            "start moves its folder aside). Put its vault.key back, or run again with --force "
            "--key %s=EXPORT_FILE", key_path, vm->name, vm->name);
    return -1;
}

/* The id of the vault's container for host (made when new, region given). <0 vv_err. */
static int64_t container_id(struct rebuild *rb, int64_t vid, const char *host, const char *region)
{
    int64_t id = 0;
    int r = vv_db_int(rb->s->db, &id, "SELECT id FROM containers WHERE vault_id = ? AND name = ?",
                      "is", vid, host);
    if (r != 0)
        return r < 0 ? r : id;
    r = vv_db_run(rb->s->db,
                  "INSERT INTO containers(vault_id, name, region, registered) VALUES (?,?,?,?)",
                  "issi", vid, host, region, (int64_t)rb->now);
    if (r < 0)
        return r;
    rb->hosts++;
    return vv_db_last_id(rb->s->db);
}

/* A protected item, stopped with its data retained. <0 vv_err (VV_E_EXISTS: the VM is
 * already an item of another vault). */
static int item_insert(struct rebuild *rb, int64_t vid, const char *name, const char *vm_uuid,
                       const char *host, const char *region)
{
    int64_t cid = container_id(rb, vid, host, region);
    int r;

    if (cid < 0)
        return (int)cid;
    r = vv_db_run(rb->s->db,
                  "INSERT INTO protected_items(vault_id, container_id, name, vm_uuid, state, "
                  "created, stop_mode) VALUES (?,?,?,?,'ProtectionStopped',?,'Retain')",
                  "iissi", vid, cid, name, vm_uuid, (int64_t)rb->now);
    if (r >= 0)
        rb->items++;
    return r < 0 ? r : 0;
}

/* The items the metadata object lists. */
static void items_from_meta(struct rebuild *rb, int64_t vid, const char *uuid,
                            const struct vault_meta *vm)
{
    size_t i;
    json_t *it;

    json_array_foreach(vm->items, i, it) {
        const char *name, *vmu, *host, *region;
        int r;
        if (json_unpack(it, "{s:s,s:s,s:s,s:s}", "name", &name, "vmUuid", &vmu, "host", &host,
                        "region", &region) != 0 || !vv_name_valid(host) ||
            !vv_region_valid(region) || !vv_name_valid(name) || !vv_uuid_valid(vmu)) {
            problem(rb, uuid, "MetadataItemInvalid", "item %zu of vault.json is not usable", i);
            continue;
        }
        if ((r = item_insert(rb, vid, name, vmu, host, region)) < 0)
            problem(rb, uuid, "ItemNotRebuilt", "VM %s (%s): %s", name, vmu,
                    r == VV_E_EXISTS ? "already an item of another vault" : vv_strerror(r));
    }
}

static char *disks_text(const struct vv_manifest *m)
{
    json_t *arr = vv_manifest_disks_json(m);
    char *text;
    if (!arr)
        return NULL;
    text = vv_json_dump(arr);
    json_decref(arr);
    return text;
}

/* The item of the point's VM (made under the host "unknown-host" when the metadata
 * did not list it). >0 its id, or <0 vv_err. */
static int64_t point_item(struct rebuild *rb, int64_t vid, const char *uuid,
                          const struct vault_meta *vm, const struct vv_manifest *m)
{
    int64_t id = 0;
    char name[80];
    int r = vv_db_int(rb->s->db, &id,
                      "SELECT id FROM protected_items WHERE vault_id = ? AND vm_uuid = ?", "is",
                      vid, m->vm_uuid);
    if (r != 0)
        return r < 0 ? r : id;
    if (m->vm_name && vv_name_valid(m->vm_name))
        snprintf(name, sizeof(name), "%s", m->vm_name);
    else
        snprintf(name, sizeof(name), "vm-%.8s", m->vm_uuid);
    problem(rb, uuid, "ItemHostUnknown",
            "VM %s (%s) is not in vault.json: its item is rebuilt under the host "
            "'unknown-host'", name, m->vm_uuid);
    if ((r = item_insert(rb, vid, name, m->vm_uuid, "unknown-host", vm->location)) < 0)
        return r;
    return vv_db_last_id(rb->s->db);
}

struct ids {
    char (*v)[VV_POINT_ID_MAX];
    size_t n, cap;
};

static int collect_id(const char *id, void *arg)
{
    struct ids *ids = arg;
    if (ids->n == ids->cap) {
        void *g = realloc(ids->v, (ids->cap = ids->cap ? ids->cap * 2 : 64) * sizeof(*ids->v));
        if (!g)
            return VV_E_NOMEM;
        ids->v = g;
    }
    snprintf(ids->v[ids->n++], VV_POINT_ID_MAX, "%s", id);
    return 0;
}

static int cmp_id(const void *a, const void *b) { return strcmp(a, b); }

/* One point of the store into the catalog. */
static void point_insert(struct rebuild *rb, struct vv_repo *repo, int64_t vid, const char *uuid,
                         const struct vault_meta *vm, const char *id)
{
    struct vv_manifest m;
    char *disks = NULL;
    int64_t item = 0;
    int r = vv_repo_point_load(repo, id, &m);

    if (r == 0 && !m.vm_uuid)
        r = VV_E_CORRUPT;
    if (r == 0 && (item = point_item(rb, vid, uuid, vm, &m)) < 0)
        r = (int)item;
    if (r == 0 && !(disks = disks_text(&m)))
        r = VV_E_NOMEM;
    if (r == 0)
        r = vv_db_run(rb->s->db,
                      "INSERT INTO recovery_points(name, vault_id, item_id, time, expires, "
                      "consistency, parent, disks, kind, retain_until) "
                      "VALUES (?,?,?,?,NULL,?,?,?,'OnDemand',NULLIF(?, 0))",
                      "siiisssi", m.id, vid, item, (int64_t)m.created,
                      vv_consistency_name(m.consistency), m.parent, disks, (int64_t)m.expires);
    if (r >= 0)
        r = vv_db_run(rb->s->db,
                      "UPDATE protected_items SET last_backup_status = 'Completed', "
                      "last_backup_time = MAX(COALESCE(last_backup_time, 0), ?) WHERE id = ?",
                      "ii", (int64_t)m.created, item);
    if (r >= 0)
        rb->points++;
    else
        problem(rb, uuid, "RecoveryPointNotRebuilt", "%s: %s (left in the store untouched)", id,
                vv_strerror(r));
    free(disks);
    vv_manifest_release(&m);
}

/* The vault's row, its default policy, items and points, in one transaction. */
static void vault_insert(struct rebuild *rb, struct vv_repo *repo, const char *uuid,
                         struct vault_meta *vm)
{
    struct ids ids = {NULL, 0, 0};
    int64_t vid, taken = 0;
    int r;

    if ((r = vv_db_begin(rb->s->db)) != 0)
        goto out;
    if (vv_db_int(rb->s->db, &taken, "SELECT COUNT(*) FROM vaults WHERE name = ?", "s",
                  vm->name) > 0 && taken) {
        problem(rb, uuid, "VaultNameTaken", "another store is also named '%s': this one is "
                "rebuilt as '%.55s-%.8s'", vm->name, vm->name, uuid);
        char renamed[sizeof(vm->name)];
        snprintf(renamed, sizeof(renamed), "%.55s-%.8s", vm->name, uuid); /* 64 at most */
        snprintf(vm->name, sizeof(vm->name), "%s", renamed);
    }
    r = vv_db_run(rb->s->db,
                  "INSERT INTO vaults(name, uuid, location, redundancy, soft_delete_state, "
                  "soft_delete_days, created) VALUES (?,?,?,?,?,?,?)",
                  "sssssii", vm->name, uuid, vm->location, vm->redundancy, vm->sd_state,
                  vm->sd_days, vm->created ? vm->created : (int64_t)rb->now);
    if (r < 0)
        goto out;
    vid = vv_db_last_id(rb->s->db);
    if ((r = default_policy(rb, vid)) < 0)
        goto out;
    items_from_meta(rb, vid, uuid, vm);
    if ((r = vv_repo_point_list(repo, collect_id, &ids)) < 0)
        problem(rb, uuid, "PointsUnlisted", "the store's points cannot be listed: %s",
                vv_strerror(r));
    qsort(ids.v, ids.n, sizeof(*ids.v), cmp_id); /* ids sort by time: parents first */
    for (size_t i = 0; i < ids.n; i++)
        point_insert(rb, repo, vid, uuid, vm, ids.v[i]);
    r = vv_db_commit(rb->s->db);
out:
    if (r < 0 || r > 0) {
        vv_db_rollback(rb->s->db);
        problem(rb, uuid, "VaultNotRebuilt", "the catalog refused it: %s", vv_strerror(r));
    } else {
        rb->vaults++;
    }
    free(ids.v);
}

/* One entry of DATA/vaults. */
static void rebuild_vault(struct rebuild *rb, const char *uuid)
{
    char dir[VV_PATH_MAX], store[VV_PATH_MAX], key[VV_PATH_MAX];
    struct vault_meta vm;
    struct vv_repo *repo;
    struct stat st;
    int r;

    if (vv_path_join(dir, sizeof(dir), "%s/vaults/%s", rb->s->data_dir, uuid) != 0 ||
        vv_path_join(store, sizeof(store), "%s/store", dir) != 0 ||
        vv_path_join(key, sizeof(key), "%s/vault.key", dir) != 0)
        return;
    if (!vv_uuid_valid(uuid) || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        problem(rb, uuid, "NotAVaultFolder", "%s is not a vault folder: left as it is (the "
                "next start moves it aside)", dir);
        return;
    }
    meta_load(rb, store, uuid, &vm);
    if (access(key, F_OK) != 0 && key_restore(rb, uuid, &vm, key) != 0) {
        json_decref(vm.j);
        return;
    }
    if ((r = vv_repo_open(store, key, 0, &repo)) != 0) {
        problem(rb, uuid, "StoreUnreadable", "%s cannot be opened with %s: %s", store, key,
                vv_strerror(r));
        json_decref(vm.j);
        return;
    }
    vault_insert(rb, repo, uuid, &vm);
    vv_repo_close(repo);
    json_decref(vm.j);
}

/* ---- the command ----------------------------------------------------------------------- */

static int names_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every entry of DATA/vaults, in name order. */
static void rebuild_all(struct rebuild *rb)
{
    char dir[VV_PATH_MAX], **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    DIR *d;

    if (vv_path_join(dir, sizeof(dir), "%s/vaults", rb->s->data_dir) != 0 || !(d = opendir(dir)))
        return;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **g = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*names));
            if (!g)
                break;
            names = g;
        }
        if (!(names[n] = strdup(e->d_name)))
            break;
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), names_cmp);
    for (size_t i = 0; i < n; i++) {
        rebuild_vault(rb, names[i]);
        free(names[i]);
    }
    free(names);
}

/* The passphrase for --key: --passphrase-file, else $VMVAULTD_KEY_PASSPHRASE. 0 or 1. */
static int passphrase_load(struct rebuild *rb)
{
    const char *env = getenv("VMVAULTD_KEY_PASSPHRASE");
    struct vv_buf b = VV_BUF_INIT;

    if (!rb->o->nkeys)
        return 0;
    if (rb->o->passphrase_file) {
        b.limit = sizeof(rb->passphrase) - 1;
        if (vv_read_file(rb->o->passphrase_file, &b) != 0) {
            fprintf(stderr, "vmvaultd catalog rebuild: cannot read --passphrase-file %s\n",
                    rb->o->passphrase_file);
            vv_buf_release(&b);
            return 1;
        }
        while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
            b.len--;
        snprintf(rb->passphrase, sizeof(rb->passphrase), "%.*s", (int)b.len, (char *)b.data);
        memset(b.data, 0, b.len);
        vv_buf_release(&b);
    } else if (env && *env) {
        snprintf(rb->passphrase, sizeof(rb->passphrase), "%s", env);
    } else {
        fprintf(stderr, "vmvaultd catalog rebuild: --key needs the export's passphrase: give "
                        "--passphrase-file FILE or set VMVAULTD_KEY_PASSPHRASE\n");
        return 1;
    }
    return 0;
}

static int report(struct rebuild *rb, const char *aside)
{
    int bad = json_array_size(rb->problems) > 0;
    json_t *rep = json_pack("{s:s,s:I,s:I,s:I,s:I,s:s?,s:O,s:s}", "status",
                            bad ? "partial" : "rebuilt", "vaults", rb->vaults, "hosts", rb->hosts,
                            "protectedItems", rb->items, "recoveryPoints", rb->points,
                            "catalogMovedAside", aside[0] ? aside : NULL, "problems",
                            rb->problems, "notRebuilt", NOT_REBUILT);
    char *text = rep ? json_dumps(rep, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;

    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(rep);
    return bad ? 3 : 0;
}

int vv_rebuild_main(struct vv_server *s, const struct vv_options *o)
{
    struct rebuild rb = {s, o, vv_server_now(s), "", json_array(), 0, 0, 0, 0};
    char aside[VV_PATH_MAX];
    int r;

    if (!rb.problems || passphrase_load(&rb) != 0 ||
        catalog_prepare(&rb, aside, sizeof(aside)) != 0) {
        json_decref(rb.problems);
        memset(rb.passphrase, 0, sizeof(rb.passphrase));
        return 1;
    }
    rebuild_all(&rb);
    memset(rb.passphrase, 0, sizeof(rb.passphrase));
    r = report(&rb, aside);
    json_decref(rb.problems);
    vv_server_release(s);
    return r;
}
