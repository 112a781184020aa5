/*
 * db_sqlite.c: the SQLite adapter behind db.h. The database runs in WAL mode with
 * foreign keys enforced and synchronous=FULL: a transaction that returned is on disk.
 *
 * Prepared statements are kept for reuse, keyed by their SQL text: every request
 * authenticates with the same query, and parsing it again cost more than running it
 * (a backup's chunk uploads are thousands of requests). A statement in use is never
 * handed out twice; when the cache is full, an idle one is finalized to make room.
 */
#include "catalog/db.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "log.h"

#define STMT_CACHE 64

struct cached_stmt {
    sqlite3_stmt *s; /* NULL: a free slot */
    uint64_t hash;   /* of the SQL text */
    int busy;        /* handed out, not yet freed */
};

struct vv_db {
    sqlite3 *h;
    pthread_mutex_t mu;
    pthread_mutex_t cache_mu; /* guards cache[] and next_evict */
    struct cached_stmt cache[STMT_CACHE];
    unsigned next_evict;
    char reserve[4200]; /* see reserve_make; "" when none */
};

/* A full disk. The catalog keeps a reserve file of RESERVE_BYTES beside it, made at
 * open; the first write that finds the disk full (SQLITE_FULL) deletes it, and is
 * tried once more when SQLite kept its transaction (else the caller's next try has
 * the room), so that the end of a job (Failed, VaultStorageFull) is still recorded.
 * The reserve is made again at the next open when space allows. */
#define RESERVE_BYTES (8 << 20)

static void reserve_make(struct vv_db *db, const char *path)
{
    int fd, r;
    if ((size_t)snprintf(db->reserve, sizeof(db->reserve), "%s-reserve", path) >=
        sizeof(db->reserve)) {
        db->reserve[0] = '\0';
        return;
    }
    fd = open(db->reserve, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    r = fd < 0 ? errno : posix_fallocate(fd, 0, RESERVE_BYTES);
    if (fd >= 0)
        close(fd);
    if (r != 0) {
        vv_warn("catalog: cannot make its space reserve %s: %s; a full disk may then keep "
                "a job's end from being recorded: free space on that file system",
                db->reserve, strerror(r));
        if (fd >= 0)
            unlink(db->reserve);
    }
}

/* Delete the reserve: 1 when there was one to delete. */
static int reserve_release(struct vv_db *db)
{
    if (!db->reserve[0] || unlink(db->reserve) != 0)
        return 0;
    vv_error("catalog: the disk of %s is full: its %d MiB reserve was released to go on; "
             "free space on that file system (it is made again at the next start)",
             db->reserve, RESERVE_BYTES >> 20);
    return 1;
}

struct vv_stmt {
    sqlite3_stmt *s;
    struct vv_db *db;
    struct cached_stmt *slot; /* NULL: not cached, finalized when freed */
};

static uint64_t sql_hash(const char *sql)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *sql; sql++)
        h = (h ^ (unsigned char)*sql) * 1099511628211ull;
    return h;
}

/* An idle cached statement for sql (marked busy), or NULL. */
static struct cached_stmt *cache_take(struct vv_db *db, const char *sql, uint64_t hash)
{
    struct cached_stmt *hit = NULL;
    pthread_mutex_lock(&db->cache_mu);
    for (int i = 0; i < STMT_CACHE && !hit; i++) {
        struct cached_stmt *c = &db->cache[i];
        if (c->s && !c->busy && c->hash == hash && !strcmp(sqlite3_sql(c->s), sql))
            hit = c;
    }
    if (hit)
        hit->busy = 1;
    pthread_mutex_unlock(&db->cache_mu);
    return hit;
}

/* Keep s (just prepared, about to be used) in a free or idle slot; NULL when every
 * slot is busy. */
static struct cached_stmt *cache_put(struct vv_db *db, sqlite3_stmt *s, uint64_t hash)
{
    struct cached_stmt *slot = NULL;
    sqlite3_stmt *old = NULL;
    pthread_mutex_lock(&db->cache_mu);
    for (int i = 0; i < STMT_CACHE && !slot; i++)
        if (!db->cache[i].s)
            slot = &db->cache[i];
    for (int i = 0; i < STMT_CACHE && !slot; i++) {
        struct cached_stmt *c = &db->cache[db->next_evict++ % STMT_CACHE];
        if (!c->busy) {
            old = c->s;
            slot = c;
        }
    }
    if (slot) {
        slot->s = s;
        slot->hash = hash;
        slot->busy = 1;
    }
    pthread_mutex_unlock(&db->cache_mu);
    sqlite3_finalize(old);
    return slot;
}

static int map_err(struct vv_db *db, int rc, const char *what)
{
    int ext = sqlite3_extended_errcode(db->h);
    /* Extended result codes are on: compare the primary code in the low byte. */
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
            return VV_E_EXISTS;
        vv_debug("catalog: %s: %s", what, sqlite3_errmsg(db->h));
        return VV_E_INVAL;
    }
    if ((rc & 0xff) == SQLITE_NOMEM)
        return VV_E_NOMEM;
    vv_error("catalog: %s: %s", what, sqlite3_errmsg(db->h));
    if ((rc & 0xff) != SQLITE_FULL)
        return VV_E_IO;
    reserve_release(db); /* the caller's next try has room */
    return VV_E_NOSPC;
}

int vv_db_open(const char *path, struct vv_db **out)
{
    struct vv_db *db = calloc(1, sizeof(*db));
    int rc;

    if (!db)
        return VV_E_NOMEM;
    rc = sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                           SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) {
        vv_error("catalog: cannot open %s: %s", path, db->h ? sqlite3_errmsg(db->h) : "out of memory");
        sqlite3_close(db->h);
        free(db);
        return VV_E_IO;
    }
    pthread_mutex_init(&db->mu, NULL);
    pthread_mutex_init(&db->cache_mu, NULL);
    sqlite3_busy_timeout(db->h, 10000);
    sqlite3_extended_result_codes(db->h, 1);
    if (vv_db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                       "PRAGMA foreign_keys=ON;") != 0) {
        vv_db_close(db);
        return VV_E_IO;
    }
    reserve_make(db, path);
    *out = db;
    return 0;
}

void vv_db_close(struct vv_db *db)
{
    if (!db)
        return;
    for (int i = 0; i < STMT_CACHE; i++)
        sqlite3_finalize(db->cache[i].s);
    sqlite3_close(db->h);
    pthread_mutex_destroy(&db->mu);
    pthread_mutex_destroy(&db->cache_mu);
    free(db);
}

/* Copy db's pages into the open database dst, a slice at a time under db's lock. */
static int backup_pages(struct vv_db *db, sqlite3 *dst)
{
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", db->h, "main");
    int rc;

    if (!b)
        return sqlite3_errcode(dst);
    do {
        pthread_mutex_lock(&db->mu);
        rc = sqlite3_backup_step(b, 512);
        pthread_mutex_unlock(&db->mu);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
            sqlite3_sleep(20);
    } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    sqlite3_backup_finish(b);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* fsync the file or folder at path. 0 or -1 (errno). */
static int sync_path(const char *path, int dir)
{
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC), r;
    if (fd < 0)
        return -1;
    r = fsync(fd);
    close(fd);
    return r;
}

int vv_db_backup(struct vv_db *db, const char *path)
{
    char tmp[4200], dir[4200], *slash;
    sqlite3 *dst = NULL;
    sqlite3_stmt *st = NULL;
    int rc, ok = 0;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return vv_fail(VV_E_IO, "catalog backup: the path %s is too long", path);
    if (access(path, F_OK) == 0)
        return vv_fail(VV_E_EXISTS, "catalog backup: %s already exists; give a new file name "
                       "(a backup never replaces a file)", path);
    unlink(tmp);
    rc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc == SQLITE_OK)
        rc = backup_pages(db, dst);
    if (rc == SQLITE_OK &&
        (rc = sqlite3_prepare_v2(dst, "PRAGMA quick_check", -1, &st, NULL)) == SQLITE_OK)
        ok = sqlite3_step(st) == SQLITE_ROW &&
             !strcmp((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    if (rc != SQLITE_OK || !ok)
        vv_error("catalog backup to %s failed: %s; check that its folder exists, is "
                 "writable and has room", path,
                 rc != SQLITE_OK ? (dst ? sqlite3_errmsg(dst) : sqlite3_errstr(rc))
                                 : "the copy does not pass quick_check");
    sqlite3_close(dst);
    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash)
        slash == dir ? (void)(dir[1] = '\0') : (void)(*slash = '\0');
    else
        snprintf(dir, sizeof(dir), ".");
    if (rc == SQLITE_OK && ok &&
        (sync_path(tmp, 0) != 0 || link(tmp, path) != 0 || sync_path(dir, 1) != 0)) {
        vv_error("catalog backup: cannot put %s in place: %s", path, strerror(errno));
        ok = 0;
    }
    unlink(tmp);
    return rc == SQLITE_OK && ok ? 0 : VV_E_IO;
}

void vv_db_lock(struct vv_db *db) { pthread_mutex_lock(&db->mu); }
void vv_db_unlock(struct vv_db *db) { pthread_mutex_unlock(&db->mu); }

int vv_db_exec(struct vv_db *db, const char *sql)
{
    char *msg = NULL;
    int autocommit = sqlite3_get_autocommit(db->h);
    int rc = sqlite3_exec(db->h, sql, NULL, NULL, &msg);
    /* a full disk: once more with the reserve's space, unless SQLite rolled back; only
     * a single statement (COMMIT, an UPDATE), never a script whose earlier statements
     * already ran */
    if ((rc & 0xff) == SQLITE_FULL && !strchr(sql, ';') && reserve_release(db) &&
        sqlite3_get_autocommit(db->h) == autocommit) {
        sqlite3_free(msg);
        msg = NULL;
        rc = sqlite3_exec(db->h, sql, NULL, NULL, &msg);
    }
    if ((rc & 0xff) == SQLITE_FULL)
        reserve_release(db); /* the caller's next try has room */
    if (rc != SQLITE_OK) {
        vv_error("catalog: %s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return (rc & 0xff) == SQLITE_CONSTRAINT ? VV_E_INVAL
               : (rc & 0xff) == SQLITE_FULL     ? VV_E_NOSPC
                                                : VV_E_IO;
    }
    return 0;
}

int vv_db_begin(struct vv_db *db) { return vv_db_exec(db, "BEGIN IMMEDIATE"); }
int vv_db_commit(struct vv_db *db) { return vv_db_exec(db, "COMMIT"); }
void vv_db_rollback(struct vv_db *db)
{
    if (!sqlite3_get_autocommit(db->h))
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

static int bind_args(struct vv_stmt *st, const char *fmt, va_list ap)
{
    int n = sqlite3_bind_parameter_count(st->s);
    int i = 0;

    for (; fmt && fmt[i]; i++) {
        int rc, col = i + 1;
        switch (fmt[i]) {
        case 's': {
            const char *v = va_arg(ap, const char *);
            rc = v ? sqlite3_bind_text(st->s, col, v, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(st->s, col);
            break;
        }
        case 'i':
            rc = sqlite3_bind_int64(st->s, col, (sqlite3_int64)va_arg(ap, int64_t));
            break;
        case 'n':
            rc = sqlite3_bind_null(st->s, col);
            break;
        default:
            vv_error("catalog: bad bind format '%s'", fmt);
            return VV_E_INVAL;
        }
        if (rc != SQLITE_OK)
            return map_err(st->db, rc, "bind");
    }
    if (i != n) {
        vv_error("catalog: statement wants %d parameters, format gives %d", n, i);
        return VV_E_INVAL;
    }
    return 0;
}

static int prepare_v(struct vv_db *db, struct vv_stmt **out, const char *sql, const char *fmt,
                     va_list ap)
{
    struct vv_stmt *st = calloc(1, sizeof(*st));
    uint64_t hash = sql_hash(sql);
    int rc;

    if (!st)
        return VV_E_NOMEM;
    st->db = db;
    if ((st->slot = cache_take(db, sql, hash))) {
        st->s = st->slot->s;
    } else {
        rc = sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->s, NULL);
        if (rc != SQLITE_OK) {
            vv_error("catalog: cannot prepare \"%s\": %s", sql, sqlite3_errmsg(db->h));
            free(st);
            return VV_E_IO;
        }
        st->slot = cache_put(db, st->s, hash);
    }
    rc = bind_args(st, fmt, ap);
    if (rc) {
        vv_stmt_free(st);
        return rc;
    }
    *out = st;
    return 0;
}

int vv_db_prepare(struct vv_db *db, struct vv_stmt **out, const char *sql, const char *fmt, ...)
{
    va_list ap;
    int r;
    va_start(ap, fmt);
    r = prepare_v(db, out, sql, fmt, ap);
    va_end(ap);
    return r;
}

int vv_stmt_step(struct vv_stmt *st)
{
    int autocommit = sqlite3_get_autocommit(st->db->h);
    int rc = sqlite3_step(st->s);
    /* a full disk: once more with the reserve's space, unless SQLite rolled back */
    if ((rc & 0xff) == SQLITE_FULL && reserve_release(st->db) &&
        sqlite3_get_autocommit(st->db->h) == autocommit) {
        sqlite3_reset(st->s);
        rc = sqlite3_step(st->s);
    }
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return map_err(st->db, rc, sqlite3_sql(st->s));
}

void vv_stmt_free(struct vv_stmt *st)
{
    if (!st)
        return;
    if (st->slot) {
        struct vv_db *db = st->db;
        sqlite3_reset(st->s);
        sqlite3_clear_bindings(st->s);
        pthread_mutex_lock(&db->cache_mu);
        st->slot->busy = 0;
        pthread_mutex_unlock(&db->cache_mu);
    } else {
        sqlite3_finalize(st->s);
    }
    free(st);
}

int vv_stmt_ncols(struct vv_stmt *st) { return sqlite3_column_count(st->s); }
const char *vv_stmt_name(struct vv_stmt *st, int col) { return sqlite3_column_name(st->s, col); }
int vv_stmt_is_null(struct vv_stmt *st, int col)
{
    return sqlite3_column_type(st->s, col) == SQLITE_NULL;
}
int vv_stmt_is_int(struct vv_stmt *st, int col)
{
    return sqlite3_column_type(st->s, col) == SQLITE_INTEGER;
}
int64_t vv_stmt_int(struct vv_stmt *st, int col) { return sqlite3_column_int64(st->s, col); }
const char *vv_stmt_text(struct vv_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st->s, col);
    return t ? (const char *)t : "";
}

int vv_db_run(struct vv_db *db, const char *sql, const char *fmt, ...)
{
    struct vv_stmt *st;
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = prepare_v(db, &st, sql, fmt, ap);
    va_end(ap);
    if (r)
        return r;
    while ((r = vv_stmt_step(st)) == 1)
        ;
    vv_stmt_free(st);
    return r < 0 ? r : sqlite3_changes(db->h);
}

/* Run the statement and hand its first row to take (when there is one). */
static int first_row(struct vv_db *db, const char *sql, const char *fmt, va_list ap,
                     void (*take)(struct vv_stmt *st, void *arg), void *arg)
{
    struct vv_stmt *st;
    int r = prepare_v(db, &st, sql, fmt, ap);
    if (r)
        return r;
    r = vv_stmt_step(st);
    if (r == 1)
        take(st, arg);
    vv_stmt_free(st);
    return r;
}

static void take_int(struct vv_stmt *st, void *arg) { *(int64_t *)arg = vv_stmt_int(st, 0); }

struct text_out {
    char *out;
    size_t len;
};

static void take_text(struct vv_stmt *st, void *arg)
{
    struct text_out *t = arg;
    snprintf(t->out, t->len, "%s", vv_stmt_text(st, 0));
}

int vv_db_int(struct vv_db *db, int64_t *out, const char *sql, const char *fmt, ...)
{
    va_list ap;
    int r;
    va_start(ap, fmt);
    r = first_row(db, sql, fmt, ap, take_int, out);
    va_end(ap);
    return r;
}

int vv_db_text(struct vv_db *db, char *out, size_t outlen, const char *sql, const char *fmt, ...)
{
    struct text_out t = {out, outlen};
    va_list ap;
    int r;
    va_start(ap, fmt);
    r = first_row(db, sql, fmt, ap, take_text, &t);
    va_end(ap);
    return r;
}

/* One row as an object, with the ":json" / ":bool" column conventions. */
static json_t *row_object(struct vv_stmt *st)
{
    json_t *o = json_object();
    int n = vv_stmt_ncols(st);

    if (!o)
        return NULL;
    for (int c = 0; c < n; c++) {
        const char *name = vv_stmt_name(st, c);
        const char *colon = strchr(name, ':');
        char key[128];
        json_t *v;

        snprintf(key, sizeof(key), "%.*s", colon ? (int)(colon - name) : (int)strlen(name), name);
        if (vv_stmt_is_null(st, c))
            v = json_null();
        else if (colon && !strcmp(colon, ":json")) {
            const char *t = vv_stmt_text(st, c);
            v = vv_json_parse(t, strlen(t), NULL, 0);
            if (!v)
                v = json_null();
        } else if (colon && !strcmp(colon, ":bool"))
            v = json_boolean(vv_stmt_int(st, c) != 0);
        else if (vv_stmt_is_int(st, c))
            v = json_integer((json_int_t)vv_stmt_int(st, c));
        else
            v = json_string(vv_stmt_text(st, c));
        if (!v || json_object_set_new(o, key, v) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static json_t *rows_v(struct vv_db *db, int *err, int first_only, const char *sql,
                      const char *fmt, va_list ap)
{
    struct vv_stmt *st;
    json_t *arr = NULL, *one = NULL;
    int r;

    r = prepare_v(db, &st, sql, fmt, ap);
    if (r) {
        *err = r;
        return NULL;
    }
    if (!first_only && !(arr = json_array())) {
        vv_stmt_free(st);
        *err = VV_E_NOMEM;
        return NULL;
    }
    while ((r = vv_stmt_step(st)) == 1) {
        json_t *o = row_object(st);
        if (!o) {
            r = VV_E_NOMEM;
            break;
        }
        if (first_only) {
            one = o;
            break;
        }
        json_array_append_new(arr, o);
    }
    vv_stmt_free(st);
    if (r < 0) {
        json_decref(arr);
        json_decref(one);
        *err = r;
        return NULL;
    }
    if (first_only && !one) {
        *err = VV_E_NOTFOUND;
        return NULL;
    }
    *err = 0;
    return first_only ? one : arr;
}

json_t *vv_db_rows(struct vv_db *db, const char *sql, const char *fmt, ...)
{
    va_list ap;
    json_t *r;
    int err;
    va_start(ap, fmt);
    r = rows_v(db, &err, 0, sql, fmt, ap);
    va_end(ap);
    return r;
}

json_t *vv_db_row(struct vv_db *db, int *err, const char *sql, const char *fmt, ...)
{
    va_list ap;
    json_t *r;
    va_start(ap, fmt);
    r = rows_v(db, err, 1, sql, fmt, ap);
    va_end(ap);
    return r;
}

int64_t vv_db_last_id(struct vv_db *db) { return (int64_t)sqlite3_last_insert_rowid(db->h); }
