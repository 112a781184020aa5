/*
 * json.h: the adapter for jansson. Modules include this, never jansson.h directly:
 * json_t is the project's JSON value, and the checked accessors below turn malformed
 * input into VV_E_CORRUPT / VV_E_INVAL with the field's name in the message.
 */
#ifndef VV_JSON_H
#define VV_JSON_H

#include "err.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Parse n bytes of UTF-8 JSON (one value, nothing after it). On failure returns NULL
 * and writes a one-line reason ("line 3 column 7: ...") into err. Owner: the caller,
 * json_decref(). Nesting deeper than jansson's limit and invalid UTF-8 are refused. */
json_t *vv_json_parse(const void *data, size_t n, char *err, size_t errlen);

/* Compact serialization (keys in insertion order). Caller frees with free(). */
char *vv_json_dump(const json_t *v);

/* Checked accessors: on success 0; on a missing field (when required) or a wrong
 * type/range: VV_E_CORRUPT and a reason in err. Strings are borrowed from obj. */
int vv_json_get_str(const json_t *obj, const char *name, int required, const char **out,
                    char *err, size_t errlen) VV_MUST_CHECK;
int vv_json_get_u64(const json_t *obj, const char *name, int required, uint64_t *out,
                    char *err, size_t errlen) VV_MUST_CHECK;

#endif
