/*
 * scripts.c: parse, check and print the consistency settings (scripts.h).
 */
#include "scripts.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

#define P "scriptSettings."

void vv_scripts_default(struct vv_script_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->timeout_s = VV_SCRIPT_TIMEOUT_DEFAULT;
    s->continue_on_failure = 1;
    s->fs_freeze = 1;
}

int vv_scripts_any(const struct vv_script_settings *s)
{
    return s->pre.path[0] || s->post.path[0];
}

static const json_t *member(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return v && !json_is_null(v) ? v : NULL;
}

/* A string of 1..max bytes without NUL or control characters. */
static int clean_string(const json_t *v, const char *field, size_t max, const char **out,
                        char *err, size_t errlen)
{
    const char *s = "";
    if (!json_is_string(v))
        return vv_invalid(err, errlen, P "%s: must be a string", field);
    s = json_string_value(v);
    if (strlen(s) != json_string_length(v))
        return vv_invalid(err, errlen, P "%s: must not contain NUL characters", field);
    if (!s[0] || strlen(s) > max)
        return vv_invalid(err, errlen, P "%s: must be 1 to %zu bytes long", field, max);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return vv_invalid(err, errlen, P "%s: must not contain control characters", field);
    *out = s;
    return 0;
}

static int small_int(const json_t *v, const char *field, int min, int max, int *out, char *err,
                     size_t errlen)
{
    json_int_t n;
    if (!json_is_integer(v))
        return vv_invalid(err, errlen, P "%s: must be an integer from %d to %d", field, min, max);
    n = json_integer_value(v);
    if (n < min || n > max)
        return vv_invalid(err, errlen, P "%s: must be %d to %d, not %lld", field, min, max,
                    (long long)n);
    *out = (int)n;
    return 0;
}

static int boolean(const json_t *v, const char *field, uint8_t *out, char *err, size_t errlen)
{
    if (!json_is_boolean(v))
        return vv_invalid(err, errlen, P "%s: must be true or false", field);
    *out = json_is_true(v) ? 1 : 0;
    return 0;
}

/* One script: which is "pre" or "post". */
static int parse_script(const json_t *in, const char *which, struct vv_script *sc, char *err,
                        size_t errlen)
{
    char loc[40], params[40], retries[40];
    const json_t *v, *pv = NULL, *rv = NULL;
    const char *s = "";
    int r, n = 0;

    snprintf(loc, sizeof(loc), "%sScriptLocation", which);
    snprintf(params, sizeof(params), "%sScriptParams", which);
    snprintf(retries, sizeof(retries), "%sScriptNoOfRetries", which);
    v = member(in, loc);
    pv = member(in, params);
    rv = member(in, retries);
    if (!v) {
        if (pv || rv)
            return vv_invalid(err, errlen, P "%s: needs %s", pv ? params : retries, loc);
        return 0;
    }
    if ((r = clean_string(v, loc, VV_SCRIPT_PATH_MAX, &s, err, errlen)) < 0)
        return r;
    if (s[0] != '/')
        return vv_invalid(err, errlen, P "%s: must be an absolute path inside the guest, like "
                    "/usr/local/sbin/quiesce-db", loc);
    memcpy(sc->path, s, strlen(s) + 1);
    if (pv) {
        size_t i;
        json_t *e;
        char f[64];
        if (!json_is_array(pv) || json_array_size(pv) > VV_SCRIPT_PARAMS_MAX)
            return vv_invalid(err, errlen, P "%s: must be an array of at most %d strings", params,
                        VV_SCRIPT_PARAMS_MAX);
        json_array_foreach((json_t *)(uintptr_t)pv, i, e) {
            snprintf(f, sizeof(f), "%s[%zu]", params, i);
            if ((r = clean_string(e, f, VV_SCRIPT_PARAM_MAX, &s, err, errlen)) < 0)
                return r;
            memcpy(sc->params[i], s, strlen(s) + 1);
        }
        sc->nparams = (uint8_t)json_array_size(pv);
    }
    if (rv) {
        if ((r = small_int(rv, retries, 0, VV_SCRIPT_RETRIES_MAX, &n, err, errlen)) < 0)
            return r;
        sc->retries = (uint8_t)n;
    }
    return 0;
}

int vv_scripts_from_json(const json_t *in, struct vv_script_settings *out, char *err,
                         size_t errlen)
{
    static const char *const keys[] = {
        "preScriptLocation",  "preScriptParams",  "preScriptNoOfRetries",
        "postScriptLocation", "postScriptParams", "postScriptNoOfRetries",
        "timeoutInSeconds",   "continueBackupOnFailure", "fsFreezeEnabled", NULL};
    struct vv_script_settings s;
    const char *key;
    const json_t *v;
    json_t *jv;
    int r, n = 0;

    vv_scripts_default(&s);
    if (err && errlen)
        err[0] = '\0';
    if (!json_is_object(in))
        return vv_invalid(err, errlen, "scriptSettings: must be an object");
    json_object_foreach((json_t *)(uintptr_t)in, key, jv) {
        int ok = 0;
        for (const char *const *k = keys; *k && !ok; k++)
            ok = !strcmp(key, *k);
        if (!ok) {
            char shown[48];
            size_t i = 0;
            for (; key[i] && i < 40; i++)
                shown[i] = ((unsigned char)key[i] < 0x20 || (unsigned char)key[i] >= 0x7f)
                               ? '?' : key[i];
            shown[i] = '\0';
            return vv_invalid(err, errlen, P "%s: unknown field (the fields are those of "
                        "VMSnapshotScriptPluginConfig.json, see docs/api.md)", shown);
        }
    }
    if ((r = parse_script(in, "pre", &s.pre, err, errlen)) < 0 ||
        (r = parse_script(in, "post", &s.post, err, errlen)) < 0)
        return r;
    if ((v = member(in, "timeoutInSeconds"))) {
        if ((r = small_int(v, "timeoutInSeconds", 1, VV_SCRIPT_TIMEOUT_MAX, &n, err, errlen)) < 0)
            return r;
        s.timeout_s = (uint16_t)n;
    }
    if ((v = member(in, "continueBackupOnFailure")) &&
        (r = boolean(v, "continueBackupOnFailure", &s.continue_on_failure, err, errlen)) < 0)
        return r;
    if ((v = member(in, "fsFreezeEnabled")) &&
        (r = boolean(v, "fsFreezeEnabled", &s.fs_freeze, err, errlen)) < 0)
        return r;
    *out = s;
    return 0;
}

static int put_script(json_t *o, const char *which, const struct vv_script *sc)
{
    char k[40];
    json_t *a;
    int bad = 0;

    if (!sc->path[0])
        return 0;
    a = json_array();
    for (uint8_t i = 0; a && i < sc->nparams; i++)
        bad |= json_array_append_new(a, json_string(sc->params[i])) != 0;
    snprintf(k, sizeof(k), "%sScriptLocation", which);
    bad |= json_object_set_new(o, k, json_string(sc->path)) != 0;
    snprintf(k, sizeof(k), "%sScriptParams", which);
    bad |= json_object_set_new(o, k, a) != 0;
    snprintf(k, sizeof(k), "%sScriptNoOfRetries", which);
    bad |= json_object_set_new(o, k, json_integer(sc->retries)) != 0;
    return bad;
}

json_t *vv_scripts_to_json(const struct vv_script_settings *s)
{
    json_t *o = json_object();
    int bad = !o;

    if (o) {
        bad |= put_script(o, "pre", &s->pre);
        bad |= put_script(o, "post", &s->post);
        bad |= json_object_set_new(o, "timeoutInSeconds", json_integer(s->timeout_s)) != 0;
        bad |= json_object_set_new(o, "continueBackupOnFailure",
                                   json_boolean(s->continue_on_failure)) != 0;
        bad |= json_object_set_new(o, "fsFreezeEnabled", json_boolean(s->fs_freeze)) != 0;
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}
