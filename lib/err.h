/*
 * err.h: the project's one error enum.
 *
 * Every function that can fail returns 0 (or a non-negative count) on success and a
 * negative vv_err on failure. The site that knows the context logs it once
 * (vv_log_error) and passes the code up; callers never log the same failure again.
 * Codes are stable: tests and users see their names through vv_strerror/vv_errname.
 */
#ifndef VV_ERR_H
#define VV_ERR_H

#include <stddef.h>

#include "banned.h"

/* On a function that returns a vv_err: ignoring its result is a compile error. */
#define VV_MUST_CHECK __attribute__((warn_unused_result))

/* Says at a call that its failure is allowed to pass: the callee has logged it and
 * the caller has nothing to undo or report (cleanup on the way out, a report that
 * the outbox retries, a timestamp). vv_best_effort(vv_virt_checkpoint_delete(...)); */
static inline void vv_best_effort(int err) { (void)err; }

enum vv_err {
    VV_OK = 0,
    VV_E_NOMEM = -1,        /* out of memory */
    VV_E_IO = -2,           /* an operating-system call failed (errno logged) */
    VV_E_INVAL = -3,        /* invalid argument or input */
    VV_E_NOTFOUND = -4,     /* object, point or file does not exist */
    VV_E_EXISTS = -5,       /* object already exists */
    VV_E_BAD_MAGIC = -6,    /* not a vmvault object */
    VV_E_BAD_VERSION = -7,  /* format version this build does not know */
    VV_E_BAD_HEADER = -8,   /* header fields inconsistent or unknown */
    VV_E_TRUNCATED = -9,    /* object shorter or longer than its header says */
    VV_E_CHECKSUM = -10,    /* CRC32C mismatch: object corrupted at rest */
    VV_E_AUTH = -11,        /* AES-GCM authentication failed: tampered */
    VV_E_WRONG_KEY = -12,   /* sealed with another vault key */
    VV_E_CODEC = -13,       /* decompression failed or sizes disagree */
    VV_E_HASH = -14,        /* content does not match its SHA-256 id */
    VV_E_CORRUPT = -15,     /* index or manifest structurally invalid */
    VV_E_TOOBIG = -16,      /* a size exceeds its cap */
    VV_E_CRYPTO = -17,      /* the crypto library failed */
    VV_E_UNSUPPORTED = -18, /* valid but not supported here */
    VV_E_CANCELLED = -19,   /* operation cancelled */
    VV_E_KEY = -20,         /* key file missing, unreadable or malformed */
    VV_E_NOSPC = -21,       /* no space left on the store's file system (ENOSPC, EDQUOT) */
};

/* Write a one-line reason into err (errlen bytes; nothing when err is NULL) and
 * return VV_E_INVAL: the parsers' way to refuse input with a message. */
int vv_invalid(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The code for a failed system call's errno e: VV_E_NOSPC for a full file system
 * (ENOSPC, EDQUOT), else VV_E_IO. */
int vv_err_from_errno(int e);

/* Human sentence for a code; never NULL, static storage. */
const char *vv_strerror(int err);
/* Stable identifier for a code ("VV_E_CHECKSUM"); never NULL, static storage. */
const char *vv_errname(int err);

#endif
