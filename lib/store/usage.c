/* usage.c: store usage in the background and file-system space (see usage.h). */
#include "store/usage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

struct entry {
    struct entry *next;
    struct vv_usage u;
    uint64_t changes; /* the counter when the last walk began */
    time_t started;   /* when the last walk began */
    char dir[];       /* the store's folder */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct entry *entries; /* guarded by mu; never freed (see usage.h) */

/* Bytes and files under the folder open as fd (closed here), recursively. */
static void walk(int fd, int depth, uint64_t *bytes, uint64_t *objects)
{
    DIR *d = fdopendir(fd);
    struct dirent *e;

    if (!d) {
        close(fd);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* gone meanwhile (a temporary file) */
        if (S_ISREG(st.st_mode)) {
            *bytes += (uint64_t)st.st_size;
            (*objects)++;
        } else if (S_ISDIR(st.st_mode) && depth < 16) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
            if (sub >= 0)
                walk(sub, depth + 1, bytes, objects);
        }
    }
    closedir(d);
}

int vv_store_usage_measure(const char *dir, uint64_t *bytes, uint64_t *objects)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    *bytes = *objects = 0;
    if (fd < 0)
        return vv_fail(VV_E_IO, "cannot measure store %s: %s", dir, strerror(errno));
    walk(fd, 0, bytes, objects);
    return 0;
}

static void *walker(void *arg)
{
    struct entry *e = arg;
    uint64_t bytes = 0, objects = 0;
    int r = vv_store_usage_measure(e->dir, &bytes, &objects);

    pthread_mutex_lock(&mu);
    if (r == 0) {
        e->u.bytes = bytes;
        e->u.objects = objects;
        e->u.measured = e->started;
    }
    e->u.measuring = 0;
    pthread_mutex_unlock(&mu);
    return NULL;
}

static struct entry *find(const char *dir)
{
    struct entry *e;
    size_t n = strlen(dir);
    for (e = entries; e; e = e->next)
        if (!strcmp(e->dir, dir))
            return e;
    if (!(e = calloc(1, sizeof(*e) + n + 1)))
        return NULL;
    memcpy(e->dir, dir, n + 1);
    e->next = entries;
    entries = e;
    return e;
}

/* Start a walk of e (mu held). */
static void start_walk(struct entry *e, uint64_t changes, time_t now)
{
    pthread_attr_t a;
    pthread_t t;
    int r;

    e->changes = changes;
    e->started = now;
    e->u.measuring = 1;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    r = pthread_create(&t, &a, walker, e);
    pthread_attr_destroy(&a);
    if (r != 0) {
        e->u.measuring = 0;
        vv_warn("cannot start measuring store %s: %s; its usage figure stays as it was",
                e->dir, strerror(r));
    }
}

int vv_store_usage_get(const char *dir, uint64_t changes, time_t now, struct vv_usage *out)
{
    struct entry *e;

    pthread_mutex_lock(&mu);
    if (!(e = find(dir))) {
        pthread_mutex_unlock(&mu);
        memset(out, 0, sizeof(*out));
        return VV_E_NOMEM;
    }
    if (!e->u.measuring &&
        (e->u.measured == 0 || now - e->started >= VV_USAGE_MAX_AGE || now < e->started ||
         (changes != e->changes && now - e->started >= VV_USAGE_MIN_INTERVAL)))
        start_walk(e, changes, now);
    *out = e->u;
    pthread_mutex_unlock(&mu);
    return 0;
}

int vv_store_space(const char *path, uint64_t *avail, uint64_t *total)
{
    struct statvfs sv;
    if (statvfs(path, &sv) != 0) {
        *avail = *total = 0;
        return vv_fail(VV_E_IO, "cannot read the free space of %s: %s", path, strerror(errno));
    }
    *avail = (uint64_t)sv.f_bavail * sv.f_frsize;
    *total = (uint64_t)sv.f_blocks * sv.f_frsize;
    return 0;
}
