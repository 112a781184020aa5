/*
 * trust_check.c: what the agent takes from the vault (agent/trust.c), checked on a
 * real file system: log text made printable and capped, Restore.Roots values, target
 * folders inside and outside the restore roots (symbolic links as parents, as the
 * last component and as a root, "..", prefixes of a root), a job's run folder, and
 * the state files written without following a link (agent/state.c).
 *
 * Linked into test_agent_adapters (nbd_xml_check.c calls trust_checks).
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
#include "buf.h"
#include "err.h"
#include "log.h"
#include "trust_check.h"
#include "util.h"

static int *n_checks, *n_failures;
static char top[1024]; /* this run's folder, resolved */
static struct vv_agent ag;

static void check(const char *name, int ok, const char *why)
{
    (*n_checks)++;
    if (ok) {
        printf("PASS trust: %s\n", name);
        return;
    }
    (*n_failures)++;
    printf("FAIL trust: %s: %s\n", name, why);
}

/* top/rel into out. */
static const char *at(char *out, size_t n, const char *rel)
{
    snprintf(out, n, "%s/%s", top, rel);
    return out;
}

static int is_dir(const char *rel)
{
    char p[PATH_MAX];
    struct stat st;
    return lstat(at(p, sizeof(p), rel), &st) == 0 && S_ISDIR(st.st_mode);
}

static int exists(const char *rel)
{
    char p[PATH_MAX];
    struct stat st;
    return lstat(at(p, sizeof(p), rel), &st) == 0;
}

static void mk(const char *rel)
{
    char p[PATH_MAX];
    if (mkdir(at(p, sizeof(p), rel), 0755) != 0)
        printf("  cannot create %s: %s\n", p, strerror(errno));
}

static void ln(const char *target_rel, const char *rel)
{
    char t[PATH_MAX], p[PATH_MAX];
    if (symlink(at(t, sizeof(t), target_rel), at(p, sizeof(p), rel)) != 0)
        printf("  cannot link %s: %s\n", p, strerror(errno));
}

/* The file top/rel holds exactly text. */
static int holds(const char *rel, const char *text)
{
    char p[PATH_MAX];
    struct vv_buf b;
    int ok;

    vv_buf_init(&b, 1 << 20);
    ok = vv_read_file(at(p, sizeof(p), rel), &b) == 0 && b.len == strlen(text) &&
         !memcmp(b.data, text, b.len);
    vv_buf_release(&b);
    return ok;
}

static void write_file(const char *rel, const char *text)
{
    char p[PATH_MAX];
    FILE *f = fopen(at(p, sizeof(p), rel), "wx");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        printf("  cannot write %s\n", p);
}

/* ---- vv_agent_shown ------------------------------------------------------------- */

static void check_shown(void)
{
    char out[VV_SHOWN_MAX], small[12], long_in[400];
    const char *s;

    s = vv_agent_shown("Backup\nINFO: job forged\r\x1b[2J", out, sizeof(out));
    check("shown: a newline, a carriage return and an escape become '?'",
          !strcmp(s, "Backup?INFO: job forged??[2J"), s);
    s = vv_agent_shown("caf\xc3\xa9\x7f", out, sizeof(out));
    check("shown: bytes outside ASCII and DEL become '?'", !strcmp(s, "caf???"), s);
    s = vv_agent_shown(NULL, out, sizeof(out));
    check("shown: NULL is shown as (none)", !strcmp(s, "(none)"), s);
    memset(long_in, 'a', sizeof(long_in) - 1);
    long_in[sizeof(long_in) - 1] = '\0';
    s = vv_agent_shown(long_in, out, sizeof(out));
    check("shown: a long value is cut to the buffer with '...'",
          strlen(s) == sizeof(out) - 1 && !strcmp(s + strlen(s) - 3, "..."), s);
    s = vv_agent_shown("12345678901", small, sizeof(small));
    check("shown: a value that fits exactly is kept whole", !strcmp(s, "12345678901"), s);
    s = vv_agent_shown("123456789012", small, sizeof(small));
    check("shown: one byte too many is cut", !strcmp(s, "12345678..."), s);
    s = vv_agent_shown("abc", small, 4);
    check("shown: a buffer under 8 bytes gets an empty string", !strcmp(s, ""), s);
}

/* ---- Restore.Roots --------------------------------------------------------------- */

static void check_roots_set(void)
{
    struct vv_agent a;
    char many[1024] = "";

    memset(&a, 0, sizeof(a));
    check("roots: two absolute folders are taken",
          vv_agent_roots_set(&a, "/srv/a  /srv/b/") == 0 &&
              !strcmp(a.restore_roots, "/srv/a  /srv/b/"),
          a.restore_roots);
    check("roots: an empty value is refused", vv_agent_roots_set(&a, "  ") == VV_E_INVAL,
          "taken");
    check("roots: a relative folder is refused",
          vv_agent_roots_set(&a, "/srv/a images") == VV_E_INVAL, "taken");
    check("roots: '..' is refused", vv_agent_roots_set(&a, "/srv/a/../etc") == VV_E_INVAL,
          "taken");
    check("roots: '.' is refused", vv_agent_roots_set(&a, "/srv/./a") == VV_E_INVAL, "taken");
    check("roots: '//' is refused", vv_agent_roots_set(&a, "/srv//a") == VV_E_INVAL, "taken");
    check("roots: a control character is refused",
          vv_agent_roots_set(&a, "/srv/a\n/etc") == VV_E_INVAL, "taken");
    for (int i = 0; i < 17; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "/r%d ", i);
    check("roots: 17 folders are refused", vv_agent_roots_set(&a, many) == VV_E_INVAL, "taken");
}

/* ---- target folders of a restore --------------------------------------------------- */

/* vv_agent_restore_dir on top/rel (or rel itself when absolute): its result; the
 * resolved path in resolved, the reason in why. */
static int target(const char *rel, char *resolved, size_t n, char *why, size_t wn)
{
    char p[PATH_MAX];
    int fd = -1, r;

    why[0] = resolved[0] = '\0';
    r = vv_agent_restore_dir(&ag, rel[0] == '/' ? rel : at(p, sizeof(p), rel), &fd, resolved, n,
                             why, wn);
    if ((r == 0) != (fd >= 0))
        r = -9999;
    if (fd >= 0)
        close(fd);
    return r;
}

static void check_targets_inside(void)
{
    char res[PATH_MAX], why[2048], want[PATH_MAX];
    int r;

    r = target("root1/new", res, sizeof(res), why, sizeof(why));
    check("restore dir: a new folder under a root is created", r == 0 && is_dir("root1/new"), why);
    check("restore dir: its resolved path is given",
          !strcmp(res, at(want, sizeof(want), "root1/new")), res);
    mk("root1/old");
    check("restore dir: an existing folder under a root is taken",
          target("root1/old/", res, sizeof(res), why, sizeof(why)) == 0, why);
    check("restore dir: the root itself is taken",
          target("root1", res, sizeof(res), why, sizeof(why)) == 0, why);
    r = target("rootlink/x", res, sizeof(res), why, sizeof(why));
    check("restore dir: under a root given as a symbolic link (resolved)",
          r == 0 && is_dir("root2/x") && !strcmp(res, at(want, sizeof(want), "root2/x")), why);
    check("restore dir: the folder a root's link points to is that root",
          target("root2/y", res, sizeof(res), why, sizeof(why)) == 0, why);
    ln("root1/old", "root1/inlink");
    check("restore dir: a symbolic link in a parent that stays inside is resolved",
          target("root1/inlink/z", res, sizeof(res), why, sizeof(why)) == 0 &&
              is_dir("root1/old/z"),
          why);
}

static void check_targets_outside(void)
{
    char res[PATH_MAX], why[2048];
    int r;

    r = target("outside/x", res, sizeof(res), why, sizeof(why));
    check("restore dir: a folder outside the roots is refused, naming the roots",
          r == VV_E_INVAL && strstr(why, "Restore.Roots") && !exists("outside/x"), why);
    r = target("root1/../outside/x", res, sizeof(res), why, sizeof(why));
    check("restore dir: '..' is refused", r == VV_E_INVAL && !exists("outside/x"), why);
    ln("outside", "root1/esc");
    r = target("root1/esc/x", res, sizeof(res), why, sizeof(why));
    check("restore dir: a symbolic link in a parent that leads out is refused",
          r == VV_E_INVAL && !exists("outside/x"), why);
    r = target("root1/esc", res, sizeof(res), why, sizeof(why));
    check("restore dir: a last component that is a link out is not followed",
          r == VV_E_INVAL && !exists("outside/esc"), why);
    r = target("root1/inlink", res, sizeof(res), why, sizeof(why));
    check("restore dir: a last component that is a link inside is not followed either",
          r == VV_E_INVAL, why);
    write_file("root1/file", "x");
    check("restore dir: a regular file is not a folder",
          target("root1/file", res, sizeof(res), why, sizeof(why)) == VV_E_INVAL, why);
    mk("root1x");
    check("restore dir: a folder whose name only starts with a root's is outside",
          target("root1x/y", res, sizeof(res), why, sizeof(why)) == VV_E_INVAL &&
              !exists("root1x/y"),
          why);
    check("restore dir: a relative folder is refused",
          vv_agent_restore_dir(&ag, "root1/x", &r, res, sizeof(res), why, sizeof(why)) ==
                  VV_E_INVAL && r == -1,
          why);
    check("restore dir: / is refused",
          target("/", res, sizeof(res), why, sizeof(why)) == VV_E_INVAL, why);
    check("restore dir: no folder named is refused",
          vv_agent_restore_dir(&ag, NULL, &r, res, sizeof(res), why, sizeof(why)) ==
                  VV_E_INVAL && r == -1,
          why);
    check("restore dir: a control character is refused",
          target("root1/a\nb", res, sizeof(res), why, sizeof(why)) == VV_E_INVAL &&
              !exists("root1/a\nb"),
          why);
    check("restore dir: a missing parent is refused",
          target("root1/none/x", res, sizeof(res), why, sizeof(why)) == VV_E_INVAL, why);
}

static void check_default_roots(void)
{
    char res[PATH_MAX], why[2048], p[PATH_MAX];
    struct stat st;
    struct vv_agent save = ag;

    ag.restore_roots[0] = '\0';
    check("restore dir: by default the state folder's restores/ is a root (made 0711)",
          target("state/restores/vm1", res, sizeof(res), why, sizeof(why)) == 0 &&
              stat(at(p, sizeof(p), "state/restores"), &st) == 0 && (st.st_mode & 07777) == 0711,
          why);
    check("restore dir: by default another folder of the state folder is outside",
          target("state/chains", res, sizeof(res), why, sizeof(why)) == VV_E_INVAL, why);
    ag = save;
}

/* ---- a job's run folder ---------------------------------------------------------- */

static void check_job_dir(void)
{
    char p[PATH_MAX];
    struct stat st;

    check("job dir: made 0700",
          vv_agent_job_dir(at(p, sizeof(p), "state/run/j1"), -1) == 0 &&
              lstat(p, &st) == 0 && (st.st_mode & 07777) == 0700,
          p);
    if (geteuid() == 0)
        check("job dir: 0730 with a group",
              vv_agent_job_dir(at(p, sizeof(p), "state/run/j2"), 100) == 0 &&
                  lstat(p, &st) == 0 && (st.st_mode & 07777) == 0730 && st.st_gid == 100,
              p);
    ln("outside", "state/run/j3");
    check("job dir: a symbolic link is refused and its target left alone",
          vv_agent_job_dir(at(p, sizeof(p), "state/run/j3"), 100) == VV_E_INVAL &&
              stat(at(p, sizeof(p), "outside"), &st) == 0 && (st.st_mode & 07777) == 0755,
          p);
    if (geteuid() == 0) {
        mk("state/run/j4");
        check("job dir: a folder of another user is refused",
              chown(at(p, sizeof(p), "state/run/j4"), 65534, 65534) == 0 &&
                  vv_agent_job_dir(p, -1) == VV_E_INVAL,
              p);
    }
}

/* ---- state files ----------------------------------------------------------------- */

static int state_write(const char *rel, const char *text)
{
    char p[PATH_MAX];
    return vv_state_write(at(p, sizeof(p), rel), text, strlen(text));
}

static void check_state_write(void)
{
    char p[PATH_MAX];
    struct stat st;

    check("state: a file is written 0600",
          state_write("state/a.json", "{}") == 0 && holds("state/a.json", "{}") &&
              stat(at(p, sizeof(p), "state/a.json"), &st) == 0 && (st.st_mode & 07777) == 0600,
          p);
    write_file("state/a.json.tmp", "stale");
    check("state: a stale .tmp left by a crash is replaced",
          state_write("state/a.json", "{\"v\":2}") == 0 && holds("state/a.json", "{\"v\":2}") &&
              !exists("state/a.json.tmp"),
          "not written");
    write_file("outside/victim", "keep");
    ln("outside/victim", "state/b.json.tmp");
    check("state: a .tmp that is a symbolic link is not followed",
          state_write("state/b.json", "new") == 0 && holds("state/b.json", "new") &&
              holds("outside/victim", "keep"),
          "the link's target changed or the file was not written");
    ln("outside/victim", "state/c.json");
    check("state: a file that is a symbolic link is replaced, its target kept",
          state_write("state/c.json", "new") == 0 && holds("outside/victim", "keep") &&
              lstat(at(p, sizeof(p), "state/c.json"), &st) == 0 && S_ISREG(st.st_mode),
          "the link's target changed or the link stayed");
}

void trust_checks(const char *work, int *checks, int *failures)
{
    char p[PATH_MAX], roots[2 * PATH_MAX + 8];
    enum vv_log_level lvl = vv_log_get_level();

    n_checks = checks;
    n_failures = failures;
    if (!realpath(work, p) || snprintf(top, sizeof(top), "%s/trust", p) >= (int)sizeof(top) ||
        mkdir(top, 0755) != 0) {
        check("trust: the work folder", 0, strerror(errno));
        return;
    }
    if (lvl > VV_LOG_DEBUG)
        vv_log_set_level(VV_LOG_QUIET); /* the refusals below are logged as errors */
    mk("root1");
    mk("root2");
    mk("outside");
    mk("state");
    mk("state/run");
    mk("state/chains");
    ln("root2", "rootlink");
    memset(&ag, 0, sizeof(ag));
    snprintf(ag.state_dir, sizeof(ag.state_dir), "%s/state", top);
    snprintf(roots, sizeof(roots), "%s/root1 %s/rootlink", top, top);
    check("roots: the test's roots are taken", vv_agent_roots_set(&ag, roots) == 0, roots);
    check_shown();
    check_roots_set();
    check_targets_inside();
    check_targets_outside();
    check_default_roots();
    check_job_dir();
    check_state_write();
    vv_log_set_level(lvl);
    check("trust: the work folder is removed", vv_rmtree(top) == 0, top);
}
