/* json.c: jansson adapter (see json.h). */
#include "json.h"

#include <stdio.h>

#include "err.h"

json_t *vv_json_parse(const void *data, size_t n, char *err, size_t errlen)
{
    json_error_t je;
    json_t *v = json_loadb(data, n, JSON_REJECT_DUPLICATES, &je);
    if (!v && err)
        snprintf(err, errlen, "line %d column %d: %s", je.line, je.column, je.text);
    return v;
}

char *vv_json_dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

int vv_json_get_str(const json_t *obj, const char *name, int required, const char **out,
                    char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, name);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (!required)
            return 0;
        snprintf(err, errlen, "field '%s' is missing", name);
        return VV_E_CORRUPT;
    }
    if (!json_is_string(v)) {
        snprintf(err, errlen, "field '%s' must be a string", name);
        return VV_E_CORRUPT;
    }
    *out = json_string_value(v);
    return 0;
}

int vv_json_get_u64(const json_t *obj, const char *name, int required, uint64_t *out,
                    char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v)) {
        if (!required)
            return 0;
        snprintf(err, errlen, "field '%s' is missing", name);
        return VV_E_CORRUPT;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        snprintf(err, errlen, "field '%s' must be a non-negative integer", name);
        return VV_E_CORRUPT;
    }
    *out = (uint64_t)json_integer_value(v);
    return 0;
}
