/*
 * scripts.c: the vault's consistency settings, the guest's script file, and what a
 * backup runs when both are known (scripts.h).
 */
#include "scripts.h"

#include <stdio.h>
#include <string.h>

#include "err.h"

#define VAULT "scriptSettings."
#define GUEST "VMSnapshotScriptPluginConfig.json: "

/* The keys with which settings from before the guest's file named a script. */
static const char *const named_keys[] = {
    "preScriptLocation",  "preScriptParams",  "preScriptNoOfRetries",
    "postScriptLocation", "postScriptParams", "postScriptNoOfRetries", NULL};

void vv_scripts_default(struct vv_script_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->timeout_s = VV_SCRIPT_TIMEOUT_DEFAULT;
    s->continue_on_failure = 1;
    s->fs_freeze = 1;
}

int vv_scripts_any(const struct vv_script_settings *s)
{
    return s->enabled || s->asked_pre.path[0] || s->asked_post.path[0];
}

static const json_t *member(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return v && !json_is_null(v) ? v : NULL;
}

static int listed(const char *key, const char *const *keys)
{
    for (; *keys; keys++)
        if (!strcmp(key, *keys))
            return 1;
    return 0;
}

/* 0 when every key of in is in keys or keys2 (may be NULL); else VV_E_INVAL naming
 * the first other key (printable, cut short) after where, then hint. */
static int only_keys(const json_t *in, const char *where, const char *const *keys,
                     const char *const *keys2, const char *hint, char *err, size_t errlen)
{
    const char *key;
    json_t *jv;

    json_object_foreach((json_t *)(uintptr_t)in, key, jv) {
        char shown[48];
        size_t i = 0;
        if (listed(key, keys) || (keys2 && listed(key, keys2)))
            continue;
        for (; key[i] && i < 40; i++)
            shown[i] = ((unsigned char)key[i] < 0x20 || (unsigned char)key[i] >= 0x7f) ? '?'
                                                                                     : key[i];
        shown[i] = '\0';
        return vv_invalid(err, errlen, "%s%s: unknown field (%s)", where, shown, hint);
    }
    return 0;
}

/* A string of min..max bytes without NUL or control characters. */
static int clean_string(const json_t *v, const char *where, const char *field, size_t min,
                        size_t max, const char **out, char *err, size_t errlen)
{
    const char *s = "";
    if (!json_is_string(v))
        return vv_invalid(err, errlen, "%s%s: must be a string", where, field);
    s = json_string_value(v);
    if (strlen(s) != json_string_length(v))
        return vv_invalid(err, errlen, "%s%s: must not contain NUL characters", where, field);
    if (strlen(s) < min || strlen(s) > max)
        return vv_invalid(err, errlen, "%s%s: must be %zu to %zu bytes long", where, field, min,
                          max);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return vv_invalid(err, errlen, "%s%s: must not contain control characters", where,
                              field);
    *out = s;
    return 0;
}

static int small_int(const json_t *v, const char *where, const char *field, int min, int max,
                     int *out, char *err, size_t errlen)
{
    json_int_t n;
    if (!json_is_integer(v))
        return vv_invalid(err, errlen, "%s%s: must be an integer from %d to %d", where, field,
                          min, max);
    n = json_integer_value(v);
    if (n < min || n > max)
        return vv_invalid(err, errlen, "%s%s: must be %d to %d, not %lld", where, field, min, max,
                          (long long)n);
    *out = (int)n;
    return 0;
}

static int boolean(const json_t *v, const char *where, const char *field, uint8_t *out,
                   char *err, size_t errlen)
{
    if (!json_is_boolean(v))
        return vv_invalid(err, errlen, "%s%s: must be true or false", where, field);
    *out = json_is_true(v) ? 1 : 0;
    return 0;
}

/* The parameters pv of a script into sc: at most 16 strings of min_len..256 bytes. */
static int parse_params(const json_t *pv, const char *where, const char *field, size_t min_len,
                        struct vv_script *sc, char *err, size_t errlen)
{
    const char *s = "";
    size_t i;
    json_t *e;
    char f[64];
    int r;

    if (!json_is_array(pv) || json_array_size(pv) > VV_SCRIPT_PARAMS_MAX)
        return vv_invalid(err, errlen, "%s%s: must be an array of at most %d strings", where,
                          field, VV_SCRIPT_PARAMS_MAX);
    json_array_foreach((json_t *)(uintptr_t)pv, i, e) {
        snprintf(f, sizeof(f), "%s[%zu]", field, i);
        if ((r = clean_string(e, where, f, min_len, VV_SCRIPT_PARAM_MAX, &s, err, errlen)) < 0)
            return r;
        memcpy(sc->params[i], s, strlen(s) + 1);
    }
    sc->nparams = (uint8_t)json_array_size(pv);
    return 0;
}

/*
 * One script ("pre" or "post") of in into sc. In the vault's settings (guest 0) the
 * location, when given, is 1..1024 bytes, and params and retries need it; in the
 * guest's file (guest 1) a location "" lists no script, params may be "", and params
 * and retries of an unlisted script are checked but dropped.
 */
static int parse_script(const json_t *in, const char *where, int guest, const char *which,
                        struct vv_script *sc, char *err, size_t errlen)
{
    char loc[40], params[40], retries[40];
    const json_t *v, *pv, *rv;
    const char *s = "";
    int r, n = 0;

    snprintf(loc, sizeof(loc), "%sScriptLocation", which);
    snprintf(params, sizeof(params), "%sScriptParams", which);
    snprintf(retries, sizeof(retries), "%sScriptNoOfRetries", which);
    v = member(in, loc);
    pv = member(in, params);
    rv = member(in, retries);
    if (!v && !guest && (pv || rv))
        return vv_invalid(err, errlen, "%s%s: needs %s", where, pv ? params : retries, loc);
    if (v && (r = clean_string(v, where, loc, guest ? 0 : 1, VV_SCRIPT_PATH_MAX, &s, err,
                               errlen)) < 0)
        return r;
    if (s[0] && s[0] != '/')
        return vv_invalid(err, errlen, "%s%s: must be an absolute path inside the guest, like "
                          "/usr/local/sbin/quiesce-db", where, loc);
    memcpy(sc->path, s, strlen(s) + 1);
    if (pv && (r = parse_params(pv, where, params, guest ? 0 : 1, sc, err, errlen)) < 0)
        return r;
    if (rv) {
        if ((r = small_int(rv, where, retries, 0, VV_SCRIPT_RETRIES_MAX, &n, err, errlen)) < 0)
            return r;
        sc->retries = (uint8_t)n;
    }
    if (!sc->path[0])
        memset(sc, 0, sizeof(*sc));
    return 0;
}

int vv_scripts_from_json(const json_t *in, struct vv_script_settings *out, char *err,
                         size_t errlen)
{
    static const char *const keys[] = {"scriptsEnabled", "timeoutInSeconds",
                                       "continueBackupOnFailure", "fsFreezeEnabled", NULL};
    struct vv_script_settings s;
    const json_t *v;
    int r, n = 0;

    vv_scripts_default(&s);
    if (err && errlen)
        err[0] = '\0';
    if (!json_is_object(in))
        return vv_invalid(err, errlen, "scriptSettings: must be an object");
    if ((r = only_keys(in, VAULT, keys, named_keys,
                       "the fields are scriptsEnabled, timeoutInSeconds, "
                       "continueBackupOnFailure and fsFreezeEnabled, see docs/api.md",
                       err, errlen)) < 0 ||
        (r = parse_script(in, VAULT, 0, "pre", &s.asked_pre, err, errlen)) < 0 ||
        (r = parse_script(in, VAULT, 0, "post", &s.asked_post, err, errlen)) < 0)
        return r;
    s.enabled = s.asked_pre.path[0] || s.asked_post.path[0];
    if ((v = member(in, "scriptsEnabled")) &&
        (r = boolean(v, VAULT, "scriptsEnabled", &s.enabled, err, errlen)) < 0)
        return r;
    if ((v = member(in, "timeoutInSeconds"))) {
        if ((r = small_int(v, VAULT, "timeoutInSeconds", 1, VV_SCRIPT_TIMEOUT_MAX, &n, err,
                           errlen)) < 0)
            return r;
        s.timeout_s = (uint16_t)n;
    }
    if ((v = member(in, "continueBackupOnFailure")) &&
        (r = boolean(v, VAULT, "continueBackupOnFailure", &s.continue_on_failure, err,
                     errlen)) < 0)
        return r;
    if ((v = member(in, "fsFreezeEnabled")) &&
        (r = boolean(v, VAULT, "fsFreezeEnabled", &s.fs_freeze, err, errlen)) < 0)
        return r;
    *out = s;
    return 0;
}

int vv_scripts_from_request(const json_t *in, struct vv_script_settings *out, char *err,
                            size_t errlen)
{
    if (json_is_object(in))
        for (const char *const *k = named_keys; *k; k++)
            if (member(in, *k))
                return vv_invalid(err, errlen,
                                  VAULT "%s: the vault no longer names the scripts a guest "
                                  "runs: each guest lists its own in " VV_GUEST_SCRIPT_CONFIG
                                  " (owned by root, mode 0600; see docs/api.md, \"The guest's "
                                  "script file\"). Remove %s and give \"scriptsEnabled\": true",
                                  *k, *k);
    return vv_scripts_from_json(in, out, err, errlen);
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
        bad |= json_object_set_new(o, "scriptsEnabled", json_boolean(s->enabled)) != 0;
        bad |= put_script(o, "pre", &s->asked_pre);
        bad |= put_script(o, "post", &s->asked_post);
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

/* ---- the guest's file ---------------------------------------------------------------- */

/* s as one line of printable ASCII (other bytes become '?'): reasons built from a
 * guest's bytes go into job warnings, which must be valid UTF-8. */
static void ascii_line(char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            *s = '?';
}

static int guest_object(const json_t *in, struct vv_guest_scripts *g, char *err, size_t errlen)
{
    static const char *const keys[] = {"pluginName", "timeoutInSeconds",
                                       "continueBackupOnFailure", NULL};
    const json_t *v;
    const char *s = "";
    int r, n = 0;

    if ((r = only_keys(in, GUEST, keys, named_keys,
                       "the fields are pluginName, preScriptLocation, preScriptParams, "
                       "preScriptNoOfRetries, postScriptLocation, postScriptParams, "
                       "postScriptNoOfRetries, timeoutInSeconds and continueBackupOnFailure; "
                       "freezing is the vault's fsFreezeEnabled",
                       err, errlen)) < 0)
        return r;
    if ((v = member(in, "pluginName")) &&
        ((r = clean_string(v, GUEST, "pluginName", 1, 64, &s, err, errlen)) < 0 ||
         strcmp(s, "ScriptRunner") != 0))
        return r < 0 ? r : vv_invalid(err, errlen, GUEST "pluginName: must be ScriptRunner");
    if ((r = parse_script(in, GUEST, 1, "pre", &g->pre, err, errlen)) < 0 ||
        (r = parse_script(in, GUEST, 1, "post", &g->post, err, errlen)) < 0)
        return r;
    if ((v = member(in, "timeoutInSeconds"))) {
        if ((r = small_int(v, GUEST, "timeoutInSeconds", 1, VV_SCRIPT_TIMEOUT_MAX, &n, err,
                           errlen)) < 0)
            return r;
        g->timeout_s = (uint16_t)n;
    }
    if ((v = member(in, "continueBackupOnFailure"))) {
        uint8_t c = 0;
        if ((r = boolean(v, GUEST, "continueBackupOnFailure", &c, err, errlen)) < 0)
            return r;
        g->continue_on_failure = (int8_t)c;
    }
    return 0;
}

int vv_guest_scripts_parse(const void *bytes, size_t len, struct vv_guest_scripts *out,
                           char *err, size_t errlen)
{
    struct vv_guest_scripts g;
    char jerr[160];
    json_t *in;
    int r;

    if (err && errlen)
        err[0] = '\0';
    if (len > VV_GUEST_SCRIPT_CONFIG_MAX)
        return vv_invalid(err, errlen, GUEST "is %zu bytes long, more than the %d read", len,
                          VV_GUEST_SCRIPT_CONFIG_MAX);
    if (!(in = vv_json_parse(bytes, len, jerr, sizeof(jerr)))) {
        ascii_line(jerr); /* jansson quotes the bytes it stopped at */
        return vv_invalid(err, errlen, GUEST "is not JSON (%s)", jerr);
    }
    memset(&g, 0, sizeof(g));
    g.continue_on_failure = -1;
    if (!json_is_object(in))
        r = vv_invalid(err, errlen, GUEST "must be one JSON object");
    else
        r = guest_object(in, &g, err, errlen);
    json_decref(in);
    if (r == 0)
        *out = g;
    else if (err && errlen)
        ascii_line(err);
    return r;
}

/* ---- what a backup runs -------------------------------------------------------------- */

static int same_script(const struct vv_script *a, const struct vv_script *b)
{
    if (strcmp(a->path, b->path) != 0 || a->nparams != b->nparams)
        return 0;
    for (uint8_t i = 0; i < a->nparams; i++)
        if (strcmp(a->params[i], b->params[i]) != 0)
            return 0;
    return 1;
}

/* The parameters of sc as a JSON-like list into out (cut short with "..."). */
static void params_text(const struct vv_script *sc, char *out, size_t n)
{
    size_t l = 0;

    out[0] = '\0';
    for (uint8_t i = 0; i < sc->nparams && l + 8 < n; i++) {
        snprintf(out + l, n - l, "%s\"%.60s\"", i ? ", " : "[", sc->params[i]);
        l = strlen(out);
    }
    if (l + 2 < n)
        snprintf(out + l, n - l, "%s", sc->nparams ? "]" : "[]");
}

/* VV_E_INVAL with why when asked (a script the vault asks for) is not what the
 * guest's file lists as listed. which is "pre" or "post". */
static int check_asked(const struct vv_script *asked, const struct vv_script *listed_sc,
                       const char *which, char *why, size_t n)
{
    char a[200], l[200];

    if (!asked->path[0] || same_script(asked, listed_sc))
        return 0;
    params_text(asked, a, sizeof(a));
    if (!listed_sc->path[0])
        return vv_invalid(why, n,
                          "the vault's settings ask for the %s-script %.200s %s, but "
                          VV_GUEST_SCRIPT_CONFIG " in the guest has no %sScriptLocation",
                          which, asked->path, a, which);
    params_text(listed_sc, l, sizeof(l));
    if (strcmp(asked->path, listed_sc->path) != 0)
        return vv_invalid(why, n,
                          "the vault's settings ask for the %s-script %.200s, but "
                          VV_GUEST_SCRIPT_CONFIG " in the guest lists %.200s as its "
                          "%sScriptLocation",
                          which, asked->path, listed_sc->path, which);
    return vv_invalid(why, n,
                      "the vault's settings ask for the %s-script %.200s with the parameters "
                      "%s, but " VV_GUEST_SCRIPT_CONFIG " in the guest lists it with %s as "
                      "its %sScriptParams",
                      which, asked->path, a, l, which);
}

int vv_scripts_resolve(const struct vv_script_settings *v, const struct vv_guest_scripts *g,
                       struct vv_script_plan *out, char *why, size_t n)
{
    int r;

    memset(out, 0, sizeof(*out));
    if (why && n)
        why[0] = '\0';
    if ((r = check_asked(&v->asked_pre, &g->pre, "pre", why, n)) < 0 ||
        (r = check_asked(&v->asked_post, &g->post, "post", why, n)) < 0) {
        if (why && n)
            ascii_line(why);
        return r;
    }
    if (!g->pre.path[0] && !g->post.path[0])
        return vv_invalid(why, n, VV_GUEST_SCRIPT_CONFIG " in the guest lists no script "
                          "(no preScriptLocation or postScriptLocation)");
    out->pre = g->pre;
    out->post = g->post;
    out->timeout_s = g->timeout_s && g->timeout_s < v->timeout_s ? g->timeout_s : v->timeout_s;
    out->continue_on_failure = v->continue_on_failure && g->continue_on_failure != 0;
    return 0;
}
