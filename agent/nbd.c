/*
 * nbd.c: backup sources over NBD with libnbd (see nbd.h).
 *
 * A source owns up to VV_NBD_MAX_CONNS libnbd handles, each its own connection.
 * libnbd serialises the synchronous calls made on one handle, so concurrent reads
 * on a single handle would queue behind each other; instead every read, map or
 * dirty-bitmap walk borrows an idle handle from the pool for the duration of one
 * request. Further connections are only made when the server allows them: QEMU's
 * NBD server advertises multi-conn when it accepts several clients, and the
 * qemu-nbd started here is told --shared=N.
 *
 * vv_nbd_open_image starts qemu-nbd with systemd-style socket activation on a
 * listening socket made here: the socket is bound in a fresh 0700 folder, the
 * client sockets are connected to it (they wait in the listen backlog), then its
 * name and folder are removed before qemu-nbd is started, so no other process can
 * ever connect to the export and nothing is left on disk. qemu-nbd's stderr goes to
 * an unlinked file, read back to explain a failed start (a locked image, a bad
 * format). Without --persistent qemu-nbd exits once the last connection closes.
 */
#include "nbd.h"

#include <errno.h>
#include <fcntl.h>
#include <libnbd.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "util.h"

#define CTX_ALLOC "base:allocation"
#define CTX_BITMAP_PREFIX "qemu:dirty-bitmap:"
#define STATE_DIRTY 1u                 /* qemu:dirty-bitmap: the block changed */
#define STATUS_REQ_MAX (1ull << 30)    /* bytes asked per NBD_CMD_BLOCK_STATUS */
/* Bytes per NBD_CMD_READ. QEMU's NBD server reads each request into a buffer of its
 * size, and buffers of megabytes cost it a page fault per 4 KiB on every request:
 * its CPU for the bench's full read was 3.5 s with 256 KiB requests, 5.6 s with
 * 1 MiB and 10.9 s with 4 MiB (bench/README.md). */
#define READ_REQ_MAX (256u << 10)
#define QEMU_NBD_STOP_MS 3000          /* wait for qemu-nbd to exit before SIGTERM */

struct nbd_source {
    struct vv_source base;
    struct nbd_handle *h[VV_NBD_MAX_CONNS];
    int nh;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned idle;      /* bit i set: h[i] is not in use */
    char *bitmap_ctx;   /* "qemu:dirty-bitmap:NAME", or NULL */
    uint32_t read_max;  /* bytes per pread */
    pid_t pid;          /* the qemu-nbd started by vv_nbd_open_image, or 0 */
    int errfd;          /* its stderr (unlinked file), or -1 */
};

static const struct vv_source_ops nbd_ops;

/* ---- errors -------------------------------------------------------------------- */

static int code_of_errno(int e)
{
    switch (e) {
    case ENOMEM:
        return VV_E_NOMEM;
    case EINVAL:
    case ERANGE:
    case EOVERFLOW:
        return VV_E_INVAL;
    case ENOENT:
        return VV_E_NOTFOUND;
    case ENOTSUP:
        return VV_E_UNSUPPORTED;
    case ECANCELED:
        return VV_E_CANCELLED;
    default:
        return VV_E_IO;
    }
}

/* Log "WHAT: libnbd's message" once; return the matching code. After the handshake
 * every failure is an I/O failure (io != 0) whatever errno the server sent. */
static int nbd_fail(int io, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int nbd_fail(int io, const char *fmt, ...)
{
    const char *msg = nbd_get_error();
    int e = nbd_get_errno();
    char what[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    vv_error("%s: %s", what, msg && *msg ? msg : "unknown NBD error");
    if (e == ENOMEM)
        return VV_E_NOMEM;
    return io ? VV_E_IO : code_of_errno(e);
}

/* ---- the pool of handles --------------------------------------------------------- */

static int pool_get(struct nbd_source *n)
{
    int i;

    pthread_mutex_lock(&n->mu);
    while (!n->idle)
        pthread_cond_wait(&n->cv, &n->mu);
    i = __builtin_ctz(n->idle);
    n->idle &= ~(1u << i);
    pthread_mutex_unlock(&n->mu);
    return i;
}

static void pool_put(struct nbd_source *n, int i)
{
    pthread_mutex_lock(&n->mu);
    n->idle |= 1u << i;
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

/* ---- read ------------------------------------------------------------------------ */

static int nbd_src_read(struct vv_source *s, void *buf, size_t len, uint64_t off)
{
    struct nbd_source *n = (struct nbd_source *)s;
    unsigned char *p = buf;
    int i, r = 0;

    if (off > s->size || len > s->size - off) {
        vv_error("read of %zu bytes at offset %llu is past the end of %s", len,
                 (unsigned long long)off, s->desc);
        return VV_E_INVAL;
    }
    if (!len)
        return 0;
    i = pool_get(n);
    while (len) {
        size_t k = len < n->read_max ? len : n->read_max;
        if (nbd_pread(n->h[i], p, k, off, 0) < 0) {
            r = nbd_fail(1, "cannot read %s at offset %llu", s->desc, (unsigned long long)off);
            break;
        }
        p += k;
        off += k;
        len -= k;
    }
    pool_put(n, i);
    return r;
}

/* ---- block status ------------------------------------------------------------------ */

/* The (length, flags) pairs one reply gave for one meta context. */
struct status_reply {
    const char *ctx;
    uint32_t *e;
    size_t n, cap; /* uint32_t entries, two per extent */
    int seen;
};

static int status_cb(void *user, const char *ctx, uint64_t off, uint32_t *entries, size_t nr,
                     int *error)
{
    struct status_reply *a = user;

    (void)off;
    if (strcmp(ctx, a->ctx) != 0 || a->seen)
        return 0;
    if (nr > a->cap) {
        uint32_t *e = realloc(a->e, nr * sizeof(*e));
        if (!e) {
            *error = ENOMEM;
            return -1;
        }
        a->e = e;
        a->cap = nr;
    }
    memcpy(a->e, entries, nr * sizeof(*entries));
    a->n = nr & ~(size_t)1;
    a->seen = 1;
    return 0;
}

/* Walk [off, end) in the meta context ctx: fn gets every extent the server
 * describes, in order, clipped to end, with its flags. The server may answer
 * shorter than asked; the walk advances by what it answered. A handle is borrowed
 * only for the request itself, never while fn runs. Returns 0, fn's non-zero
 * value, or a vv_err. */
static int status_walk(struct nbd_source *n, const char *ctx, uint64_t off, uint64_t end,
                       int (*fn)(void *arg, uint64_t off, uint64_t len, uint32_t flags),
                       void *arg)
{
    struct status_reply a = {ctx, NULL, 0, 0, 0};
    int r = 0;

    while (off < end && !r) {
        uint64_t want = end - off > STATUS_REQ_MAX ? STATUS_REQ_MAX : end - off, pos = off;
        nbd_extent_callback cb = {.callback = status_cb, .user_data = &a, .free = NULL};
        int i = pool_get(n), rc;

        a.n = 0;
        a.seen = 0;
        rc = nbd_block_status(n->h[i], want, off, cb, 0);
        if (rc < 0)
            r = nbd_fail(1, "cannot read the %s extents of %s at offset %llu", ctx,
                         n->base.desc, (unsigned long long)off);
        pool_put(n, i);
        if (r)
            break;
        if (!a.seen) {
            vv_error("the NBD server of %s sent no %s extents at offset %llu", n->base.desc,
                     ctx, (unsigned long long)off);
            r = VV_E_IO;
            break;
        }
        for (size_t k = 0; k < a.n && pos < end; k += 2) {
            uint64_t len = a.e[k];
            if (!len)
                break;
            if (len > end - pos)
                len = end - pos;
            if ((r = fn(arg, pos, len, a.e[k + 1])) != 0)
                break;
            pos += len;
        }
        if (!r && pos == off) {
            vv_error("the NBD server of %s described no %s extent at offset %llu",
                     n->base.desc, ctx, (unsigned long long)off);
            r = VV_E_IO;
        }
        off = pos;
    }
    free(a.e);
    return r;
}

struct map_merge {
    int (*cb)(uint64_t off, uint64_t len, void *arg);
    void *arg;
    uint64_t off, len; /* pending allocated extent, len 0 when none */
};

static int map_fn(void *arg, uint64_t off, uint64_t len, uint32_t flags)
{
    struct map_merge *m = arg;
    int r;

    if (flags & LIBNBD_STATE_HOLE)
        return 0;
    if (m->len && m->off + m->len == off) {
        m->len += len;
        return 0;
    }
    if (m->len && (r = m->cb(m->off, m->len, m->arg)) != 0)
        return r;
    m->off = off;
    m->len = len;
    return 0;
}

static int nbd_src_map(struct vv_source *s, uint64_t off, uint64_t len,
                       int (*cb)(uint64_t off, uint64_t len, void *arg), void *arg)
{
    struct nbd_source *n = (struct nbd_source *)s;
    struct map_merge m = {cb, arg, 0, 0};
    uint64_t end;
    int r;

    if (off >= s->size)
        return 0;
    end = len > s->size - off ? s->size : off + len;
    r = status_walk(n, CTX_ALLOC, off, end, map_fn, &m);
    if (!r && m.len)
        r = cb(m.off, m.len, arg);
    return r;
}

struct dirty_list {
    struct vv_extent *e;
    size_t n, cap;
};

static int dirty_fn(void *arg, uint64_t off, uint64_t len, uint32_t flags)
{
    struct dirty_list *d = arg;

    if (!(flags & STATE_DIRTY))
        return 0;
    if (d->n && d->e[d->n - 1].off + d->e[d->n - 1].len == off) {
        d->e[d->n - 1].len += len;
        return 0;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 64;
        struct vv_extent *e = realloc(d->e, cap * sizeof(*e));
        if (!e)
            return VV_E_NOMEM;
        d->e = e;
        d->cap = cap;
    }
    d->e[d->n].off = off;
    d->e[d->n].len = len;
    d->n++;
    return 0;
}

int vv_nbd_dirty_extents(struct vv_source *s, struct vv_extent **out, size_t *n)
{
    struct nbd_source *src = (struct nbd_source *)s;
    struct dirty_list d = {NULL, 0, 0};
    int r;

    *out = NULL;
    *n = 0;
    if (!s || s->ops != &nbd_ops || !src->bitmap_ctx) {
        vv_error("%s was not opened with a dirty bitmap", s ? s->desc : "(null)");
        return VV_E_INVAL;
    }
    if ((r = status_walk(src, src->bitmap_ctx, 0, s->size, dirty_fn, &d)) != 0) {
        if (r == VV_E_NOMEM)
            vv_error("out of memory listing the dirty extents of %s", s->desc);
        free(d.e);
        return r;
    }
    *out = d.e;
    *n = d.n;
    return 0;
}

/* ---- qemu-nbd -------------------------------------------------------------------- */

/* Wait up to ms for pid; its wait status, or -1 when it still runs, -2 when gone. */
static int child_wait(pid_t pid, int ms)
{
    struct timespec pause = {0, 5 * 1000 * 1000};
    int st;

    for (int waited = 0;; waited += 5) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            return st;
        if (w < 0 && errno != EINTR)
            return -2;
        if (waited >= ms)
            return -1;
        nanosleep(&pause, NULL);
    }
}

/* Make sure pid has exited: give it ms to leave on its own, then SIGTERM. */
static int child_stop(pid_t pid, int ms)
{
    int st = child_wait(pid, ms);

    if (st == -1) {
        kill(pid, SIGTERM);
        while (waitpid(pid, &st, 0) < 0) {
            if (errno != EINTR)
                return -2;
        }
    }
    return st;
}

/* qemu-nbd's stderr as one line (newlines folded) into buf. */
static void child_stderr(int fd, char *buf, size_t cap)
{
    ssize_t k = fd >= 0 ? pread(fd, buf, cap - 1, 0) : -1;
    size_t len = k > 0 ? (size_t)k : 0;

    buf[len] = '\0';
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        buf[--len] = '\0';
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t')
            buf[i] = ' ';
}

static void describe_status(int st, char *buf, size_t cap)
{
    if (st >= 0 && WIFEXITED(st))
        snprintf(buf, cap, "exit status %d", WEXITSTATUS(st));
    else if (st >= 0 && WIFSIGNALED(st))
        snprintf(buf, cap, "signal %d", WTERMSIG(st));
    else
        snprintf(buf, cap, "still running");
}

/* The full path of prog on PATH, malloc'd, or NULL. */
static char *find_program(const char *prog)
{
    const char *path = getenv("PATH");

    if (!path || !*path)
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t dl = colon ? (size_t)(colon - path) : strlen(path);
        struct stat st;
        char *full;

        if (asprintf(&full, "%.*s/%s", (int)(dl ? dl : 1), dl ? path : ".", prog) < 0)
            return NULL;
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0)
            return full;
        free(full);
        path += dl;
        if (*path == ':')
            path++;
    }
    return NULL;
}

/* What qemu-nbd needs after fork, prepared before it (the child of a threaded
 * process may only make async-signal-safe calls). */
struct spawn_plan {
    char *exe;
    char *image;       /* the image argument */
    char *argv[8];
    char **envp;
    char format_arg[32], shared_arg[32];
    char pid_env[32]; /* "LISTEN_PID=" + the child's pid, written in the child */
    int lfd, errfd, nullfd;
};

static char arg_prog[] = "qemu-nbd", arg_ro[] = "--read-only", arg_end[] = "--",
            env_fds[] = "LISTEN_FDS=1";

static void plan_release(struct spawn_plan *p)
{
    free(p->exe);
    free(p->image);
    free(p->envp);
    if (p->lfd >= 0)
        close(p->lfd);
    if (p->nullfd >= 0)
        close(p->nullfd);
}

/* Child side: stdin /dev/null, stdout and stderr the capture file, fd 3 the
 * listening socket, nothing else open, default signals; then exec. */
static void __attribute__((noreturn)) spawn_child(struct spawn_plan *p)
{
    static const char msg[] = "vmvault: cannot execute qemu-nbd\n";
    static const int sigs[] = {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD};
    struct sigaction dfl;
    sigset_t none;
    int l, e, z;
    char digits[24], *w;
    pid_t pid = getpid();
    int nd = 0;

    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &dfl, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    l = fcntl(p->lfd, F_DUPFD, 10);
    e = fcntl(p->errfd, F_DUPFD, 10);
    z = fcntl(p->nullfd, F_DUPFD, 10);
    if (l < 0 || e < 0 || z < 0 || dup2(z, 0) < 0 || dup2(e, 1) < 0 || dup2(e, 2) < 0 ||
        dup2(l, 3) < 0)
        _exit(126);
    if (close_range(4, ~0u, 0) < 0)
        for (int fd = 4; fd < 1024; fd++)
            close(fd);

    do
        digits[nd++] = (char)('0' + pid % 10);
    while ((pid /= 10) > 0);
    w = p->pid_env + strlen("LISTEN_PID=");
    while (nd)
        *w++ = digits[--nd];
    *w = '\0';

    execve(p->exe, p->argv, p->envp);
    if (write(2, msg, sizeof(msg) - 1) < 0) {
        /* nothing more to say */
    }
    _exit(127);
}

static int plan_env(struct spawn_plan *p)
{
    size_t n = 0, k = 0;

    while (environ[n])
        n++;
    if (!(p->envp = calloc(n + 3, sizeof(*p->envp))))
        return VV_E_NOMEM;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LISTEN_", 7) != 0)
            p->envp[k++] = environ[i];
    snprintf(p->pid_env, sizeof(p->pid_env), "LISTEN_PID=");
    p->envp[k++] = p->pid_env;
    p->envp[k++] = env_fds;
    p->envp[k] = NULL;
    return 0;
}

/* The child's arguments for serving path read-only in format to nconn clients:
 * 0, or VV_E_NOMEM. */
static int plan_args(struct spawn_plan *p, const char *path, const char *format, int nconn)
{
    snprintf(p->format_arg, sizeof(p->format_arg), "--format=%s", format);
    snprintf(p->shared_arg, sizeof(p->shared_arg), "--shared=%d", nconn);
    /* A relative name gets "./" so that neither "-x" nor "proto:..." is parsed. */
    if (asprintf(&p->image, "%s%s", path[0] == '/' ? "" : "./", path) < 0) {
        p->image = NULL;
        return VV_E_NOMEM;
    }
    p->argv[0] = arg_prog;
    p->argv[1] = arg_ro;
    p->argv[2] = p->format_arg;
    p->argv[3] = p->shared_arg;
    p->argv[4] = arg_end;
    p->argv[5] = p->image;
    p->argv[6] = NULL;
    return plan_env(p) < 0 ? VV_E_NOMEM : 0;
}

/* In a new folder dir (a mkdtemp template): qemu-nbd's listening socket p->lfd, the
 * file p->errfd for its stderr, and nconn connections cfd[] waiting in the socket's
 * backlog. The names are removed again before return, so nobody else can join.
 * 0, or VV_E_IO or VV_E_TOOBIG said (the connections made are closed; p's fds are the
 * caller's). */
static int plan_sockets(struct spawn_plan *p, char *dir, const char *tmp, const char *path,
                        int nconn, int *cfd)
{
    char sock[VV_PATH_MAX], errpath[VV_PATH_MAX];
    struct sockaddr_un sa;
    int r = 0;

    if (!mkdtemp(dir)) {
        vv_error("cannot create a folder for the NBD socket of %s under %s: %s", path, tmp,
                 strerror(errno));
        return VV_E_IO;
    }
    /* dir is under a TMPDIR of at most 64 bytes: sock fits in sun_path */
    if (vv_path_join(sock, sizeof(sock), "%s/s", dir) != 0 ||
        vv_path_join(errpath, sizeof(errpath), "%s/e", dir) != 0) {
        rmdir(dir);
        return vv_fail(VV_E_TOOBIG, "the path of %s/s is too long", dir);
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, sock, strlen(sock) + 1);

    p->errfd = open(errpath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    p->nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    p->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (p->errfd < 0 || p->nullfd < 0 || p->lfd < 0 ||
        bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(p->lfd, 16) < 0) {
        vv_error("cannot set up the NBD socket for %s: %s", path, strerror(errno));
        r = VV_E_IO;
    }
    for (int i = 0; r == 0 && i < nconn; i++) {
        cfd[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (cfd[i] < 0 || connect(cfd[i], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            vv_error("cannot connect to the NBD socket for %s: %s", path, strerror(errno));
            r = VV_E_IO;
        }
    }
    for (int i = 0; r && i < nconn; i++)
        if (cfd[i] >= 0) {
            close(cfd[i]);
            cfd[i] = -1;
        }
    unlink(sock);
    unlink(errpath);
    rmdir(dir);
    return r;
}

/* Start qemu-nbd serving path and connect nconn sockets to it; on success *pid,
 * *errfd and cfd[0..nconn) are the caller's. */
static int qemu_nbd_start(const char *path, const char *format, int nconn, pid_t *pid,
                          int *errfd, int *cfd)
{
    struct spawn_plan p;
    const char *tmp = getenv("TMPDIR");
    char dir[VV_PATH_MAX];
    int r, i;
    pid_t child;

    memset(&p, 0, sizeof(p));
    p.lfd = p.errfd = p.nullfd = -1;
    for (i = 0; i < nconn; i++)
        cfd[i] = -1;
    *errfd = -1;

    if (!(p.exe = find_program("qemu-nbd"))) {
        vv_error("cannot serve %s: qemu-nbd is not on PATH (it comes with qemu-utils)", path);
        return VV_E_UNSUPPORTED;
    }
    if (!tmp || tmp[0] != '/' || strlen(tmp) > 64)
        tmp = "/tmp";
    if (vv_path_join(dir, sizeof(dir), "%s/vmvault-nbd-XXXXXX", tmp) != 0) {
        r = vv_fail(VV_E_TOOBIG, "the path of %s/vmvault-nbd-XXXXXX is too long", tmp);
        goto fail;
    }
    if ((r = plan_args(&p, path, format, nconn)) != 0 ||
        (r = plan_sockets(&p, dir, tmp, path, nconn, cfd)) != 0)
        goto fail;
    child = fork();
    if (child < 0) {
        vv_error("cannot start qemu-nbd for %s: %s", path, strerror(errno));
        r = VV_E_IO;
        for (i = 0; i < nconn; i++)
            if (cfd[i] >= 0) {
                close(cfd[i]);
                cfd[i] = -1;
            }
        goto fail;
    }
    if (child == 0)
        spawn_child(&p);
    *pid = child;
    *errfd = p.errfd;
    p.errfd = -1;
    plan_release(&p);
    return 0;

fail:
    if (p.errfd >= 0)
        close(p.errfd);
    plan_release(&p);
    return r;
}

/* ---- sources --------------------------------------------------------------------- */

static void nbd_src_close(struct vv_source *s)
{
    struct nbd_source *n = (struct nbd_source *)s;

    for (int i = 0; i < n->nh; i++) {
        if (!n->h[i])
            continue;
        nbd_shutdown(n->h[i], 0);
        nbd_close(n->h[i]);
    }
    if (n->pid > 0) {
        int st = child_stop(n->pid, QEMU_NBD_STOP_MS);
        if (st >= 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0) &&
            !(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM)) {
            char how[48], msg[1024];
            describe_status(st, how, sizeof(how));
            child_stderr(n->errfd, msg, sizeof(msg));
            vv_warn("qemu-nbd serving %s ended with %s%s%s", s->desc, how, *msg ? ": " : "",
                    msg);
        }
    }
    if (n->errfd >= 0)
        close(n->errfd);
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cv);
    free(n->bitmap_ctx);
    free(s->desc);
    free(n);
}

static const struct vv_source_ops nbd_ops = {nbd_src_read, nbd_src_map, nbd_src_close};

static struct nbd_source *src_new(void)
{
    struct nbd_source *n = calloc(1, sizeof(*n));

    if (!n)
        return NULL;
    n->base.ops = &nbd_ops;
    n->errfd = -1;
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    return n;
}

/* A new handle asking for export_name and the source's meta contexts. */
static struct nbd_handle *handle_new(struct nbd_source *n, const char *export_name, int *r)
{
    struct nbd_handle *h = nbd_create();

    if (!h) {
        *r = nbd_fail(0, "cannot create an NBD handle for %s", n->base.desc);
        return NULL;
    }
    if (nbd_set_export_name(h, export_name) < 0 || nbd_add_meta_context(h, CTX_ALLOC) < 0 ||
        (n->bitmap_ctx && nbd_add_meta_context(h, n->bitmap_ctx) < 0)) {
        *r = nbd_fail(0, "cannot set up the NBD handle for %s", n->base.desc);
        nbd_close(h);
        return NULL;
    }
    return h;
}

/* 1 when h negotiated every context the source needs, 0 when not, <0 on error. */
static int handle_has_contexts(struct nbd_source *n, struct nbd_handle *h, const char **missing)
{
    const char *want[2] = {CTX_ALLOC, n->bitmap_ctx};

    for (int i = 0; i < 2 && want[i]; i++) {
        int c = nbd_can_meta_context(h, want[i]);
        if (c < 0)
            return nbd_fail(1, "cannot query the meta contexts of %s", n->base.desc);
        if (!c) {
            *missing = want[i];
            return 0;
        }
    }
    return 1;
}

/* Size and request limits from the first handle. */
static int src_setup(struct nbd_source *n)
{
    int64_t size = nbd_get_size(n->h[0]), max;

    if (size < 0)
        return nbd_fail(1, "cannot get the size of %s", n->base.desc);
    n->base.size = (uint64_t)size;
    max = nbd_get_block_size(n->h[0], LIBNBD_SIZE_MAXIMUM);
    n->read_max = max >= 4096 && max < READ_REQ_MAX ? (uint32_t)max : READ_REQ_MAX;
    return 0;
}

struct ctx_names {
    char buf[1024];
    size_t len;
};

static int list_ctx_cb(void *user, const char *name)
{
    struct ctx_names *c = user;
    int k = snprintf(c->buf + c->len, sizeof(c->buf) - c->len, "%s%s", c->len ? ", " : "",
                     name);

    if (k > 0)
        c->len = c->len + (size_t)k < sizeof(c->buf) ? c->len + (size_t)k : sizeof(c->buf) - 1;
    return 0;
}

/* The meta contexts the server offers for the export, for a message: on a
 * connection of its own, in option mode (empty list query = all of them). */
static void offered_contexts(const char *socket_path, const char *export_name,
                             struct ctx_names *c)
{
    struct nbd_handle *h = nbd_create();
    nbd_context_callback cb = {.callback = list_ctx_cb, .user_data = c, .free = NULL};

    c->buf[0] = '\0';
    c->len = 0;
    if (!h)
        return;
    if (nbd_set_opt_mode(h, true) == 0 && nbd_set_export_name(h, export_name) == 0 &&
        nbd_connect_unix(h, socket_path) == 0) {
        if (nbd_opt_list_meta_context(h, cb) < 0)
            c->buf[0] = '\0';
        nbd_opt_abort(h);
    }
    nbd_close(h);
}

int vv_nbd_open_unix(const char *socket_path, const char *export_name, const char *bitmap,
                     struct vv_source **out)
{
    struct nbd_source *n;
    const char *missing = NULL;
    int r = 0, c;

    *out = NULL;
    if (!socket_path || !*socket_path || !export_name || (bitmap && !*bitmap)) {
        vv_error("NBD: a socket path, an export name and a non-empty bitmap name are needed");
        return VV_E_INVAL;
    }
    if (!(n = src_new()))
        return VV_E_NOMEM;
    if (asprintf(&n->base.desc, "nbd+unix:///%s?socket=%s", export_name, socket_path) < 0)
        n->base.desc = NULL;
    if (bitmap && asprintf(&n->bitmap_ctx, "%s%s", CTX_BITMAP_PREFIX, bitmap) < 0)
        n->bitmap_ctx = NULL;
    if (!n->base.desc || (bitmap && !n->bitmap_ctx)) {
        nbd_src_close(&n->base);
        return VV_E_NOMEM;
    }
    if (!(n->h[0] = handle_new(n, export_name, &r))) {
        nbd_src_close(&n->base);
        return r;
    }
    n->nh = 1;
    if (nbd_connect_unix(n->h[0], socket_path) < 0) {
        r = nbd_fail(0, "cannot open %s", n->base.desc);
        if (r == VV_E_INVAL || r == VV_E_UNSUPPORTED)
            r = VV_E_IO;
        nbd_src_close(&n->base);
        return r;
    }
    if ((c = handle_has_contexts(n, n->h[0], &missing)) <= 0) {
        if (!c) {
            struct ctx_names offered;
            offered_contexts(socket_path, export_name, &offered);
            vv_error("the NBD server of %s does not offer the meta context %s (it offers: %s)",
                     n->base.desc, missing, offered.buf[0] ? offered.buf : "none");
            c = missing == n->bitmap_ctx ? VV_E_NOTFOUND : VV_E_UNSUPPORTED;
        }
        nbd_src_close(&n->base);
        return c;
    }
    if ((r = src_setup(n)) < 0) {
        nbd_src_close(&n->base);
        return r;
    }
    /* More connections only when the server says several clients are fine. */
    if (nbd_can_multi_conn(n->h[0]) == 1) {
        while (n->nh < VV_NBD_MAX_CONNS) {
            struct nbd_handle *h = handle_new(n, export_name, &r);
            if (!h)
                break;
            if (nbd_connect_unix(h, socket_path) < 0 || handle_has_contexts(n, h, &missing) != 1) {
                vv_debug("%s: extra NBD connection refused (%s); using %d", n->base.desc,
                         nbd_get_error() ? nbd_get_error() : "contexts differ", n->nh);
                nbd_close(h);
                break;
            }
            n->h[n->nh++] = h;
        }
    }
    n->idle = (1u << n->nh) - 1;
    vv_debug("opened %s: %llu bytes, %d connection(s)%s%s", n->base.desc,
             (unsigned long long)n->base.size, n->nh, n->bitmap_ctx ? ", bitmap " : "",
             n->bitmap_ctx ? n->bitmap_ctx : "");
    *out = &n->base;
    return 0;
}

/* Whether path can be served in format: 0, or the failure said. */
static int image_usable(const char *path, const char *format)
{
    struct stat st;

    if (!path || !*path || !format) {
        vv_error("NBD: an image path and a format are needed");
        return VV_E_INVAL;
    }
    if (strcmp(format, "raw") != 0 && strcmp(format, "qcow2") != 0) {
        vv_error("cannot read %s: image format '%s' is not supported (raw or qcow2)", path,
                 format);
        return VV_E_UNSUPPORTED;
    }
    if (stat(path, &st) < 0) {
        vv_error("cannot open %s: %s", path, strerror(errno));
        return errno == ENOENT ? VV_E_NOTFOUND : VV_E_IO;
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        vv_error("%s is not a regular file or block device", path);
        return VV_E_INVAL;
    }
    return 0;
}

/* No connection to qemu-nbd came up: stop it and say why, in its own words when it
 * left some (the unused connections cfd[1..] are closed). */
static void image_failed(struct nbd_source *n, int *cfd, const char *path, const char *format)
{
    char msg[1024], how[48], nbuf[256];
    const char *nerr = nbd_get_error();
    int st;

    snprintf(nbuf, sizeof(nbuf), "%s", nerr ? nerr : "");
    for (int k = 1; k < VV_NBD_MAX_CONNS; k++)
        if (cfd[k] >= 0)
            close(cfd[k]);
    /* Close every handle first: a qemu-nbd that did start then exits. */
    for (int k = 0; k < n->nh; k++)
        nbd_close(n->h[k]);
    n->nh = 0;
    st = child_stop(n->pid, QEMU_NBD_STOP_MS);
    n->pid = 0;
    child_stderr(n->errfd, msg, sizeof(msg));
    describe_status(st, how, sizeof(how));
    if (*msg)
        vv_error("qemu-nbd cannot serve %s (%s): %s", path, format, msg);
    else
        vv_error("qemu-nbd cannot serve %s (%s): %s; %s", path, format,
                 *nbuf ? nbuf : "NBD handshake failed", how);
}

/* Hand the connections cfd[] to the handles; those that fail to connect are closed
 * and n->nh is the number that did. 0, or VV_E_IO said when none did. */
static int image_connect(struct nbd_source *n, int *cfd, const char *path, const char *format)
{
    int i;

    for (i = 0; i < VV_NBD_MAX_CONNS; i++) {
        /* libnbd owns the socket from here, even when the handshake fails. */
        int fd = cfd[i];
        cfd[i] = -1;
        if (nbd_connect_socket(n->h[i], fd) < 0)
            break;
    }
    if (i == 0) {
        image_failed(n, cfd, path, format);
        return VV_E_IO;
    }
    if (i < VV_NBD_MAX_CONNS) {
        vv_debug("%s: only %d of %d NBD connections: %s", path, i, VV_NBD_MAX_CONNS,
                 nbd_get_error() ? nbd_get_error() : "?");
        for (int k = i + 1; k < VV_NBD_MAX_CONNS; k++)
            if (cfd[k] >= 0)
                close(cfd[k]);
        for (int k = i; k < VV_NBD_MAX_CONNS; k++) {
            nbd_close(n->h[k]);
            n->h[k] = NULL;
        }
        n->nh = i;
    }
    return 0;
}

int vv_nbd_open_image(const char *path, const char *format, struct vv_source **out)
{
    struct nbd_source *n;
    int cfd[VV_NBD_MAX_CONNS], r = 0;
    const char *missing = NULL;

    *out = NULL;
    if ((r = image_usable(path, format)) != 0)
        return r;
    if (!(n = src_new()))
        return VV_E_NOMEM;
    if (!(n->base.desc = strdup(path))) {
        nbd_src_close(&n->base);
        return VV_E_NOMEM;
    }
    for (int i = 0; i < VV_NBD_MAX_CONNS; i++) {
        if (!(n->h[i] = handle_new(n, "", &r))) {
            nbd_src_close(&n->base);
            return r;
        }
        n->nh++;
    }
    if ((r = qemu_nbd_start(path, format, VV_NBD_MAX_CONNS, &n->pid, &n->errfd, cfd)) < 0 ||
        (r = image_connect(n, cfd, path, format)) < 0) {
        nbd_src_close(&n->base);
        return r;
    }
    if ((r = handle_has_contexts(n, n->h[0], &missing)) <= 0) {
        if (!r) {
            vv_error("qemu-nbd serving %s does not offer the meta context %s", path, missing);
            r = VV_E_UNSUPPORTED;
        }
        nbd_src_close(&n->base);
        return r;
    }
    if ((r = src_setup(n)) < 0) {
        nbd_src_close(&n->base);
        return r;
    }
    n->idle = (1u << n->nh) - 1;
    vv_debug("serving %s (%s) with qemu-nbd pid %ld: %llu bytes, %d connection(s)", path,
             format, (long)n->pid, (unsigned long long)n->base.size, n->nh);
    *out = &n->base;
    return 0;
}
