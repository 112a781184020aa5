/*
 * db.h: the catalog's database, as vmvaultd sees it. db_sqlite.c is the one adapter
 * for SQLite (WAL, foreign keys, synchronous=FULL); a PostgreSQL adapter can sit
 * behind the same functions. Foreign error codes become vv_err values here:
 * VV_E_EXISTS for a uniqueness conflict, VV_E_INVAL for another constraint,
 * VV_E_IO for the rest (logged with the database's message).
 *
 * One connection serves the whole server; vv_db_lock / vv_db_unlock serialise its
 * users (every request's catalog work runs under the lock, and transactions never
 * span an unlock).
 *
 * Statements bind their parameters from a format string, one letter per '?':
 *   's' const char * (NULL binds NULL)   'i' int64_t   'n' NULL (no argument)
 */
#ifndef VV_DB_H
#define VV_DB_H

#include "err.h"

#include <stdarg.h>
#include <stdint.h>

#include "json.h"

struct vv_db;
struct vv_stmt;

/* Open or create the database file. Owner: the caller, vv_db_close(). */
int vv_db_open(const char *path, struct vv_db **out) VV_MUST_CHECK;
void vv_db_close(struct vv_db *db);

void vv_db_lock(struct vv_db *db);
void vv_db_unlock(struct vv_db *db);

/* Run SQL without results (several statements allowed, no parameters). */
int vv_db_exec(struct vv_db *db, const char *sql) VV_MUST_CHECK;
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
int vv_db_begin(struct vv_db *db) VV_MUST_CHECK;
int vv_db_commit(struct vv_db *db) VV_MUST_CHECK;
void vv_db_rollback(struct vv_db *db);

/* Prepare and bind. Owner: the caller, vv_stmt_free(). */
int vv_db_prepare(struct vv_db *db, struct vv_stmt **out, const char *sql, const char *fmt, ...)
    VV_MUST_CHECK;
/* 1 when a row is ready, 0 when done, <0 vv_err. */
int vv_stmt_step(struct vv_stmt *st) VV_MUST_CHECK;
void vv_stmt_free(struct vv_stmt *st);
int vv_stmt_ncols(struct vv_stmt *st) VV_MUST_CHECK;
const char *vv_stmt_name(struct vv_stmt *st, int col);
int vv_stmt_is_null(struct vv_stmt *st, int col) VV_MUST_CHECK;
int vv_stmt_is_int(struct vv_stmt *st, int col) VV_MUST_CHECK;
int64_t vv_stmt_int(struct vv_stmt *st, int col);
/* Borrowed until the next step or free; "" for NULL. */
const char *vv_stmt_text(struct vv_stmt *st, int col);

/* Run a statement to completion. Returns the number of rows it changed, or <0. */
int vv_db_run(struct vv_db *db, const char *sql, const char *fmt, ...) VV_MUST_CHECK;
/* The first column of the first row as an integer: 1 and *out set, 0 when there is
 * no row, <0 on error. */
int vv_db_int(struct vv_db *db, int64_t *out, const char *sql, const char *fmt, ...) VV_MUST_CHECK;
/* The first column of the first row as text: 1 and out filled (truncated to outlen),
 * 0 when no row, <0 on error. */
int vv_db_text(struct vv_db *db, char *out, size_t outlen, const char *sql, const char *fmt,
               ...) VV_MUST_CHECK;
/* Every row as a JSON object keyed by column name; integers, text and NULL map to
 * JSON. A column named "x:json" holds JSON text, placed under "x"; "x:bool" an
 * integer placed as true/false. Returns a new array (caller json_decref()s) or NULL
 * on error. */
json_t *vv_db_rows(struct vv_db *db, const char *sql, const char *fmt, ...);
/* The first row as an object, or NULL with *err = VV_E_NOTFOUND (no row) or the
 * error. Caller json_decref()s. */
json_t *vv_db_row(struct vv_db *db, int *err, const char *sql, const char *fmt, ...);
/* Copy the whole database, consistent as of one moment, into a new file at path
 * (SQLite's online backup API: the server keeps serving; from another process too,
 * as the database is in WAL mode). path must not exist (VV_E_EXISTS). The copy is
 * written next to path under a temporary name, fsynced, checked (quick_check) and
 * renamed into place, then its folder fsynced: path is either whole or absent. The
 * connection's lock is held one slice of pages at a time, never for the whole copy.
 * 0, VV_E_EXISTS or VV_E_IO (logged with the cause). */
int vv_db_backup(struct vv_db *db, const char *path) VV_MUST_CHECK;

/* rowid of the last insert. */
int64_t vv_db_last_id(struct vv_db *db);

#endif
