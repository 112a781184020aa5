/* err.c: names and sentences for enum vv_err. */
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

static const struct {
    int code;
    const char *name;
    const char *text;
} errs[] = {
    {VV_OK, "VV_OK", "success"},
    {VV_E_NOMEM, "VV_E_NOMEM", "out of memory"},
    {VV_E_IO, "VV_E_IO", "input/output error"},
    {VV_E_INVAL, "VV_E_INVAL", "invalid argument"},
    {VV_E_NOTFOUND, "VV_E_NOTFOUND", "not found"},
    {VV_E_EXISTS, "VV_E_EXISTS", "already exists"},
    {VV_E_BAD_MAGIC, "VV_E_BAD_MAGIC", "not a vmvault object (bad magic)"},
    {VV_E_BAD_VERSION, "VV_E_BAD_VERSION", "unknown object format version"},
    {VV_E_BAD_HEADER, "VV_E_BAD_HEADER", "object header is invalid"},
    {VV_E_TRUNCATED, "VV_E_TRUNCATED", "object length does not match its header"},
    {VV_E_CHECKSUM, "VV_E_CHECKSUM", "checksum mismatch: object is corrupted"},
    {VV_E_AUTH, "VV_E_AUTH", "authentication failed: object was modified"},
    {VV_E_WRONG_KEY, "VV_E_WRONG_KEY", "object is sealed with a different vault key"},
    {VV_E_CODEC, "VV_E_CODEC", "decompression failed"},
    {VV_E_HASH, "VV_E_HASH", "content does not match its chunk id"},
    {VV_E_CORRUPT, "VV_E_CORRUPT", "structure is invalid"},
    {VV_E_TOOBIG, "VV_E_TOOBIG", "size exceeds the allowed maximum"},
    {VV_E_CRYPTO, "VV_E_CRYPTO", "cryptographic library failure"},
    {VV_E_UNSUPPORTED, "VV_E_UNSUPPORTED", "not supported"},
    {VV_E_CANCELLED, "VV_E_CANCELLED", "cancelled"},
    {VV_E_KEY, "VV_E_KEY", "vault key is missing or invalid"},
    {VV_E_NOSPC, "VV_E_NOSPC", "no space left on the storage device"},
};

const char *vv_strerror(int err)
{
    for (unsigned i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
        if (errs[i].code == err)
            return errs[i].text;
    return "unknown error";
}

const char *vv_errname(int err)
{
    for (unsigned i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
        if (errs[i].code == err)
            return errs[i].name;
    return "VV_E_UNKNOWN";
}

int vv_invalid(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return VV_E_INVAL;
}

int vv_err_from_errno(int e)
{
    return e == ENOSPC || e == EDQUOT ? VV_E_NOSPC : VV_E_IO;
}
