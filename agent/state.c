/*
 * state.c: the agent's state folder and agent.json (see agent.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "log.h"
#include "util.h"

int vv_state_init(const char *dir)
{
    int r = vv_mkdir_p(dir, 0711);
    if (r)
        return r;
    /* Others may pass through (QEMU, another user, reaches the NBD socket and scratch
     * files under run/) but not list it; every file with a secret is 0600. */
    if (chmod(dir, 0711) != 0) {
        vv_error("cannot set the mode of %s: %s", dir, strerror(errno));
        return VV_E_IO;
    }
    return 0;
}

/* fsync the folder that holds path, so that a rename into it lasts: 0, or VV_E_IO said. */
static int sync_parent(const char *path)
{
    char dir[VV_PATH_MAX];
    char *slash;
    int fd;

    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else
        slash[slash == dir ? 1 : 0] = '\0';
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        vv_error("cannot make %s durable (fsync of its folder %s): %s; check the file "
                 "system holding the state folder",
                 path, dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return VV_E_IO;
    }
    close(fd);
    return 0;
}

int vv_state_write(const char *path, const void *data, size_t n)
{
    char tmp[VV_PATH_MAX];
    struct stat st;
    int fd;

    if (vv_path_join(tmp, sizeof(tmp), "%s.tmp", path) != 0)
        return vv_fail(VV_E_TOOBIG, "cannot write %s: the path is too long", path);
    /* A .tmp of ours left by a crash is removed; a link there is removed too, never
     * followed (unlink acts on the link itself), and the file is then made anew. */
    if (lstat(tmp, &st) == 0 && unlink(tmp) != 0)
        return vv_fail(VV_E_IO, "cannot remove %s left by an earlier run: %s; remove it by "
                                "hand", tmp, strerror(errno));
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || vv_write_all(fd, data, n) != 0 || fsync(fd) != 0) {
        vv_error("cannot write %s: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        return VV_E_IO;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        vv_error("cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return VV_E_IO;
    }
    return sync_parent(path);
}

static int copy_str(const json_t *o, const char *name, char *out, size_t len)
{
    const char *v = json_string_value(json_object_get(o, name));
    if (!v || strlen(v) >= len)
        return VV_E_CORRUPT;
    snprintf(out, len, "%s", v);
    return 0;
}

int vv_state_load(struct vv_agent *a)
{
    char path[VV_PATH_MAX], err[200];
    struct vv_buf b;
    json_t *j;
    int r;

    if (vv_path_join(path, sizeof(path), "%s/agent.json", a->state_dir) != 0)
        return vv_fail(VV_E_TOOBIG, "the path of %s/agent.json is too long", a->state_dir);
    vv_buf_init(&b, 1 << 20);
    r = vv_read_file(path, &b);
    if (r == VV_E_NOTFOUND) {
        vv_error("this host is not registered: %s does not exist; run 'vmvault-agent register "
                 "--vault-credentials FILE' first",
                 path);
        vv_buf_release(&b);
        return r;
    }
    if (r) {
        vv_error("cannot read %s: %s", path, vv_strerror(r));
        vv_buf_release(&b);
        return r;
    }
    j = vv_json_parse(b.data, b.len, err, sizeof(err));
    vv_buf_release(&b);
    if (!j || copy_str(j, "vaultUrl", a->url, sizeof(a->url)) ||
        copy_str(j, "token", a->token, sizeof(a->token)) ||
        copy_str(j, "hostName", a->host, sizeof(a->host)) ||
        copy_str(j, "vaultName", a->vault, sizeof(a->vault)) ||
        copy_str(j, "vaultId", a->vault_id, sizeof(a->vault_id)) ||
        copy_str(j, "region", a->region, sizeof(a->region))) {
        vv_error("%s is damaged%s%s; register the host again", path, j ? "" : ": ",
                 j ? "" : err);
        json_decref(j);
        return VV_E_CORRUPT;
    }
    {
        /* another registration on this host (another vault) names its checkpoints
         * differently, so neither removes the other's */
        uint8_t h[VV_SHA256_LEN];
        char who[200], hex[2 * VV_SHA256_LEN + 1];
        snprintf(who, sizeof(who), "%s/%s", a->vault_id, a->host);
        if (vv_sha256(who, strlen(who), h) != 0)
            return VV_E_CRYPTO;
        vv_hex_encode(h, sizeof(h), hex);
        snprintf(a->cp_prefix, sizeof(a->cp_prefix), "vmvault-%.8s-", hex);
    }
    if (json_is_string(json_object_get(j, "certificatePin")))
        snprintf(a->pin, sizeof(a->pin), "%s",
                 json_string_value(json_object_get(j, "certificatePin")));
    if (!a->uri[0] && json_is_string(json_object_get(j, "connect")))
        snprintf(a->uri, sizeof(a->uri), "%s", json_string_value(json_object_get(j, "connect")));
    json_decref(j);
    return 0;
}

int vv_state_save(const struct vv_agent *a)
{
    char path[VV_PATH_MAX];
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "vaultUrl", a->url, "vaultName",
                          a->vault, "vaultId", a->vault_id, "hostName", a->host, "region",
                          a->region, "connect", a->uri, "token", a->token);
    char *text;
    int r;

    if (vv_path_join(path, sizeof(path), "%s/agent.json", a->state_dir) != 0) {
        json_decref(j);
        return vv_fail(VV_E_TOOBIG, "the path of %s/agent.json is too long", a->state_dir);
    }
    if (j && a->pin[0])
        json_object_set_new(j, "certificatePin", json_string(a->pin));
    text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (!text)
        return VV_E_NOMEM;
    r = vv_state_write(path, text, strlen(text));
    free(text);
    return r;
}
