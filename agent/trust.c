/*
 * trust.c: what the agent takes from the vault, and where a restore may write.
 *
 * The agent runs as root; the vault is trusted with the data, not with the host. A
 * folder a vault names for a restore is resolved here and must lie under one of the
 * host's restore roots (agent.conf's Restore.Roots; by default
 * VV_RESTORE_ROOTS_DEFAULT and the agent's own restores/ folder, made 0711 when
 * first needed). A job's own folder
 * under run/ is created here, never through a symbolic link. Text from the vault or
 * a guest reaches a log line only through vv_agent_shown (printable, capped).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "err.h"
#include "log.h"
#include "util.h"

#define ROOTS_MAX 16

/* 1 when p (len bytes) is absolute, has no empty, "." or ".." component (one
 * trailing '/' aside), and no control character. */
static int path_plain(const char *p, size_t len)
{
    size_t i = 1;

    if (len == 0 || p[0] != '/' || len >= VV_PATH_MAX)
        return 0;
    for (size_t k = 0; k < len; k++)
        if ((unsigned char)p[k] < 0x20 || p[k] == 0x7f)
            return 0;
    while (i < len) {
        size_t j = i, cl;
        while (j < len && p[j] != '/')
            j++;
        cl = j - i;
        if (cl == 0 && j + 1 < len)
            return 0; /* "//" */
        if ((cl == 1 && p[i] == '.') || (cl == 2 && p[i] == '.' && p[i + 1] == '.'))
            return 0;
        i = j + 1;
    }
    return 1;
}

const char *vv_agent_shown(const char *s, char *out, size_t n)
{
    size_t k = 0, len;

    if (n < 8) {
        if (n)
            out[0] = '\0';
        return out;
    }
    if (!s)
        s = "(none)";
    len = strlen(s);
    for (; k < len && k < (len < n ? len : n - 4); k++) {
        unsigned char c = (unsigned char)s[k];
        out[k] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
    }
    if (k < len)
        memcpy(out + k, "...", 4);
    else
        out[k] = '\0';
    return out;
}

int vv_agent_roots_set(struct vv_agent *a, const char *v)
{
    size_t n = 0, len = strlen(v);

    if (len == 0 || len >= sizeof(a->restore_roots))
        return VV_E_INVAL;
    for (const char *p = v; *p;) {
        size_t l;
        p += strspn(p, " \t");
        if (!*p)
            break;
        l = strcspn(p, " \t");
        if (!path_plain(p, l) || ++n > ROOTS_MAX)
            return VV_E_INVAL;
        p += l;
    }
    if (n == 0)
        return VV_E_INVAL;
    snprintf(a->restore_roots, sizeof(a->restore_roots), "%s", v);
    return 0;
}

/* The roots as text, "a b c" (default when agent.conf names none), into out: one
 * copy taken under the configuration's lock (agent.conf may be read again meanwhile),
 * which a restore then uses throughout. */
static void roots_text(const struct vv_agent *a, char *out, size_t n)
{
    vv_agent_roots_copy(a, out, n);
    if (!out[0])
        snprintf(out, n, "%s %s/restores", VV_RESTORE_ROOTS_DEFAULT, a->state_dir);
}

/* 1 when the resolved path p is root r (resolved) or under it. */
static int under(const char *p, const char *r)
{
    size_t rl = strlen(r);

    if (rl == 1 && r[0] == '/')
        return 1;
    return !strncmp(p, r, rl) && (p[rl] == '\0' || p[rl] == '/');
}

/* The agent's own restores/ folder, made 0711 when it is one of the roots (text)
 * and missing, before a target folder in it is resolved. */
static void own_root_make(const struct vv_agent *a, const char *text)
{
    char own[VV_PATH_MAX];
    size_t ol;

    if (vv_path_join(own, sizeof(own), "%s/restores", a->state_dir) != 0)
        return;
    ol = strlen(own);
    for (const char *s = text; *s;) {
        size_t l;
        s += strspn(s, " \t");
        l = strcspn(s, " \t");
        if (l && (l == ol || (l == ol + 1 && s[ol] == '/')) && !strncmp(s, own, ol)) {
            if (mkdir(own, 0711) == 0)
                vv_info("created the restore root %s (0711)", own);
            return;
        }
        s += l;
    }
}

/* 1 when the resolved path p lies under one of the roots (text). */
static int in_roots(const char *text, const char *p)
{
    char root[VV_PATH_MAX], real[PATH_MAX];
    const char *s = text;

    while (*s) {
        size_t l;
        s += strspn(s, " \t");
        if (!*s)
            break;
        l = strcspn(s, " \t");
        snprintf(root, sizeof(root), "%.*s", (int)l, s);
        s += l;
        if (realpath(root, real) && under(p, real))
            return 1;
    }
    return 0;
}

/* Split dir into its resolved parent + last component, into out: 0, or the reason. */
static int resolve_parent(const char *dir, char *out, size_t n, char *why, size_t wn)
{
    char parent[VV_PATH_MAX], real[PATH_MAX];
    const char *base;
    size_t len = strlen(dir);

    while (len > 1 && dir[len - 1] == '/')
        len--;
    if (!path_plain(dir, len)) {
        snprintf(why, wn, "the target folder must be an absolute path without '.', '..', "
                          "empty components or control characters");
        return VV_E_INVAL;
    }
    snprintf(parent, sizeof(parent), "%.*s", (int)len, dir);
    base = strrchr(parent, '/');
    if (len == 1) {
        snprintf(why, wn, "the target folder cannot be /");
        return VV_E_INVAL;
    }
    parent[base == parent ? 1 : base - parent] = '\0';
    base = dir + (base - parent) + 1;
    if (!realpath(parent, real)) {
        snprintf(why, wn, "the target folder's parent %s cannot be resolved: %s", parent,
                 strerror(errno));
        return VV_E_INVAL;
    }
    if (vv_path_join(out, n, "%s/%.*s", strcmp(real, "/") ? real : "",
                     (int)(len - (size_t)(base - dir)), base) != 0) {
        snprintf(why, wn, "the target folder's path is too long");
        return VV_E_INVAL;
    }
    return 0;
}

int vv_agent_restore_dir(const struct vv_agent *a, const char *dir, int *dirfd, char *resolved,
                         size_t n, char *why, size_t wn)
{
    char roots[2 * VV_PATH_MAX];
    struct stat st;
    int r, fd;

    *dirfd = -1;
    if (!dir) {
        snprintf(why, wn, "the job names no target folder");
        return VV_E_INVAL;
    }
    roots_text(a, roots, sizeof(roots));
    own_root_make(a, roots);
    if ((r = resolve_parent(dir, resolved, n, why, wn)) != 0)
        return r;
    if (!in_roots(roots, resolved)) {
        snprintf(why, wn, "the target folder %s (%s) is outside this host's restore roots "
                          "(%s); restore under one of them, or add the folder to Restore.Roots "
                          "in %s/agent.conf",
                 dir, resolved, roots, a->state_dir);
        return VV_E_INVAL;
    }
    if (mkdir(resolved, 0755) != 0 && errno != EEXIST) {
        snprintf(why, wn, "cannot create the target folder %s: %s", resolved, strerror(errno));
        return VV_E_IO;
    }
    fd = open(resolved, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(why, wn, "the target folder %s is not a folder (a symbolic link is not "
                          "followed): %s", resolved, strerror(errno));
        if (fd >= 0)
            close(fd);
        return VV_E_INVAL;
    }
    *dirfd = fd;
    return 0;
}

int vv_agent_job_dir(const char *path, long gid)
{
    struct stat st;
    mode_t mode = gid >= 0 ? 0730 : 0700;
    int fd;

    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return vv_fail(VV_E_IO, "cannot create %s: %s", path, strerror(errno));
    fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
        if (fd >= 0)
            close(fd);
        return vv_fail(VV_E_INVAL, "%s is not a folder of this agent (a symbolic link or "
                                   "another user's); remove it and run the job again",
                       path);
    }
    if ((gid >= 0 && fchown(fd, (uid_t)-1, (gid_t)gid) != 0) || fchmod(fd, mode) != 0) {
        int e = errno;
        close(fd);
        return vv_fail(VV_E_IO, "cannot set the owner or mode of %s: %s", path, strerror(e));
    }
    close(fd);
    return 0;
}
