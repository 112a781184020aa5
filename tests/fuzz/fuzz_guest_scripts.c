/*
 * fuzz_guest_scripts.c: vv_guest_scripts_parse on untrusted bytes (they come from a
 * guest's /etc/vmvault/VMSnapshotScriptPluginConfig.json, read through its guest
 * agent), then vv_scripts_resolve with what it gave.
 *
 * A refusal is VV_E_INVAL with a non-empty reason of one line of printable ASCII and
 * leaves the output alone. A file that parses keeps the documented bounds: each
 * script's path is "" or an absolute path of at most VV_SCRIPT_PATH_MAX bytes, it has
 * no parameters or retries when it has no path, at most VV_SCRIPT_PARAMS_MAX
 * parameters of at most VV_SCRIPT_PARAM_MAX bytes, no control characters anywhere,
 * retries 0..VV_SCRIPT_RETRIES_MAX, timeout 0..VV_SCRIPT_TIMEOUT_MAX and
 * continue-on-failure -1, 0 or 1. Resolved against settings that ask for scripts
 * without naming one, it runs exactly the file's scripts within the vault's time
 * limit (or refuses a file that lists none); against settings that name a script
 * the file does not list, it refuses and runs nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "policy/scripts.h"

static void check_text(const char *s, size_t cap)
{
    const char *end = memchr(s, '\0', cap + 1);
    if (!end)
        abort();
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            abort();
}

static void check_script(const struct vv_script *sc)
{
    check_text(sc->path, VV_SCRIPT_PATH_MAX);
    if (sc->path[0] && sc->path[0] != '/')
        abort();
    if (!sc->path[0] && (sc->nparams || sc->retries))
        abort();
    if (sc->nparams > VV_SCRIPT_PARAMS_MAX || sc->retries > VV_SCRIPT_RETRIES_MAX)
        abort();
    for (uint8_t i = 0; i < sc->nparams; i++)
        check_text(sc->params[i], VV_SCRIPT_PARAM_MAX);
}

static void check_reason(const char *why)
{
    if (!why[0])
        abort();
    for (; *why; why++)
        if ((unsigned char)*why < 0x20 || (unsigned char)*why >= 0x7f)
            abort();
}

static void check_resolve(const struct vv_guest_scripts *g)
{
    struct vv_script_settings v;
    struct vv_script_plan pl;
    char why[900];
    int r;

    vv_scripts_default(&v);
    v.enabled = 1;
    v.timeout_s = 45;
    r = vv_scripts_resolve(&v, g, &pl, why, sizeof(why));
    if (r == 0) {
        if (memcmp(&pl.pre, &g->pre, sizeof(pl.pre)) || memcmp(&pl.post, &g->post, sizeof(pl.post)) ||
            !pl.timeout_s || pl.timeout_s > 45 || (!g->pre.path[0] && !g->post.path[0]))
            abort();
    } else if (r != VV_E_INVAL || g->pre.path[0] || g->post.path[0]) {
        abort();
    } else {
        check_reason(why);
    }
    /* a vault that names a script no file can list (not an absolute path) */
    memcpy(v.asked_pre.path, "/\x01", 3);
    memset(&pl, 0x33, sizeof(pl));
    if (vv_scripts_resolve(&v, g, &pl, why, sizeof(why)) != VV_E_INVAL || pl.pre.path[0] ||
        pl.post.path[0])
        abort();
    check_reason(why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vv_guest_scripts g, sentinel;
    char err[300];
    int r;

    memset(&sentinel, 0xa5, sizeof(sentinel));
    g = sentinel;
    err[0] = '\0';
    r = vv_guest_scripts_parse(data, size, &g, err, sizeof(err));
    if (r != 0) {
        if (r != VV_E_INVAL || memcmp(&g, &sentinel, sizeof(g)) != 0)
            abort();
        check_reason(err);
        return 0;
    }
    check_script(&g.pre);
    check_script(&g.post);
    if (g.timeout_s > VV_SCRIPT_TIMEOUT_MAX || g.continue_on_failure < -1 ||
        g.continue_on_failure > 1)
        abort();
    check_resolve(&g);
    return 0;
}
