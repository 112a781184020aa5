/*
 * thaw_guard.c: the thaw guard (thaw_guard.h).
 *
 * Protocol on the two pipes, one line each way:
 *   guard -> agent  "ready"   connected to libvirt, watching
 *   agent -> guard  "done"    the agent thawed the guest; the guard answers "ok" and
 *                             ends
 *   guard -> agent  "thawed"  the limit was reached and the guard thawed the guest;
 *                             it then waits for "done" (or the pipe's end) and ends
 * End of file on the guard's stdin without "done" means the agent died: thaw now.
 */
#include "thaw_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "util.h"
#include "virt.h"

extern char **environ;

#define READY_WAIT_MS 20000
#define STOP_WAIT_MS 30000

/* Read one line (without its newline) from fd within ms milliseconds: its length,
 * 0 at end of file, <0 on timeout or error. */
static int read_line(int fd, char *buf, size_t n, int ms)
{
    size_t k = 0;
    while (k + 1 < n) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t got;
        int pr = poll(&p, 1, ms);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return -1;
        got = read(fd, buf + k, 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        if (buf[k] == '\n')
            break;
        k++;
    }
    buf[k] = '\0';
    return (int)k;
}

static void say(int fd, const char *line)
{
    if (vv_write_all(fd, line, strlen(line)) != 0)
        vv_debug("thaw guard: the other end is gone");
}

int vv_thaw_guard_start(const char *uri, const char *uuid, unsigned limit_s,
                        struct vv_thaw_guard *g)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, r = VV_E_IO;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    char limit[16], line[32], uri_arg[512], uuid_arg[64], name[] = "vmvault-agent",
        sub[] = "thaw-guard";
    char *argv[6];
    sigset_t none;

    memset(g, 0, sizeof(*g));
    g->to = g->from = -1;
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
        vv_error("thaw guard: pipe: %s", strerror(errno));
        goto fail;
    }
    snprintf(limit, sizeof(limit), "%u", limit_s);
    snprintf(uri_arg, sizeof(uri_arg), "%s", uri);
    snprintf(uuid_arg, sizeof(uuid_arg), "%s", uuid);
    argv[0] = name;
    argv[1] = sub;
    argv[2] = uri_arg;
    argv[3] = uuid_arg;
    argv[4] = limit;
    argv[5] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawnattr_init(&at);
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&at, &none);
    /* Its own session: a signal to the agent's process group does not reach it. */
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK);
    r = posix_spawn(&g->pid, "/proc/self/exe", &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (r != 0) {
        vv_error("thaw guard: cannot start: %s", strerror(r));
        g->pid = 0;
        r = VV_E_IO;
        goto fail;
    }
    close(in[0]);
    close(out[1]);
    in[0] = out[1] = -1;
    g->to = in[1];
    g->from = out[0];
    if (read_line(g->from, line, sizeof(line), READY_WAIT_MS) <= 0 || strcmp(line, "ready")) {
        vv_error("thaw guard: did not become ready");
        vv_best_effort(vv_thaw_guard_stop(g));
        return VV_E_IO;
    }
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
    }
    return r;
}

int vv_thaw_guard_stop(struct vv_thaw_guard *g)
{
    char line[32];
    int r = VV_E_IO, st;

    if (!g->pid)
        return 0;
    say(g->to, "done\n");
    if (read_line(g->from, line, sizeof(line), STOP_WAIT_MS) > 0)
        r = !strcmp(line, "thawed") ? 1 : 0;
    if (r < 0)
        kill(g->pid, SIGKILL);
    close(g->to);
    close(g->from);
    while (waitpid(g->pid, &st, 0) < 0 && errno == EINTR)
        ;
    memset(g, 0, sizeof(*g));
    g->to = g->from = -1;
    return r;
}

/* ---- the guard process ------------------------------------------------------------ */

/* Thaw, retrying every second for up to limit_s seconds. */
static int thaw_now(struct vv_virt *v, const char *uuid, unsigned limit_s, const char *why_now)
{
    char why[512];
    for (unsigned i = 0;; i++) {
        int r = vv_virt_fs_thaw(v, uuid, why, sizeof(why));
        if (r >= 0) {
            vv_warn("thaw guard: %s; thawed the filesystems of VM %s", why_now, uuid);
            return 0;
        }
        if (r == VV_E_NOTFOUND || i >= limit_s) {
            vv_error("thaw guard: %s, and VM %s could not be thawed: %s; thaw it with "
                     "'virsh domfsthaw'",
                     why_now, uuid, why);
            return r;
        }
        sleep(1);
    }
}

int vv_thaw_guard_main(int argc, char **argv)
{
    struct vv_virt *v = NULL;
    uint64_t limit;
    char line[32];
    int n;

    if (argc != 4 || vv_parse_u64(argv[3], &limit) != 0 || limit < 1 || limit > 3600) {
        fprintf(stderr, "vmvault-agent thaw-guard: started by vmvault-agent itself, not by "
                        "hand\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    /* A service stop signals the whole unit: the agent thaws and says so, and only
     * then does the guard end. */
    signal(SIGTERM, SIG_IGN);
    vv_log_set_timestamps(1);
    if (vv_virt_open(argv[1], &v) != 0)
        return 1;
    say(1, "ready\n");
    n = read_line(0, line, sizeof(line), (int)limit * 1000);
    if (n > 0 && !strcmp(line, "done")) {
        say(1, "ok\n");
    } else if (n < 0) {
        char why[96];
        snprintf(why, sizeof(why), "the guest stayed frozen longer than %llu s",
                 (unsigned long long)limit);
        thaw_now(v, argv[2], (unsigned)limit, why);
        say(1, "thawed\n");
        read_line(0, line, sizeof(line), -1);
    } else {
        thaw_now(v, argv[2], (unsigned)limit, "vmvault-agent ended while the guest was frozen");
    }
    vv_virt_close(v);
    return 0;
}
