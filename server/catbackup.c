/* catbackup.c: online catalog backups, by command and on a schedule (see catbackup.h). */
#include "catbackup.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "err.h"
#include "log.h"
#include "store/usage.h"
#include "util.h"

#define PREFIX "catalog-"
#define SUFFIX ".db"

/* The schedule; written once before the maintenance thread starts, then only read
 * (next: by that thread alone). */
static struct {
    char dir[VV_PATH_MAX]; /* "" when off */
    int64_t every;
    int keep;
    time_t next;
} plan;

void vv_catbackup_configure(const char *dir, int64_t every, int keep)
{
    snprintf(plan.dir, sizeof(plan.dir), "%s", dir);
    plan.every = every;
    plan.keep = keep;
    plan.next = 0;
}

static int is_scheduled_name(const char *n)
{
    size_t len = strlen(n);
    return len == strlen(PREFIX) + 16 + strlen(SUFFIX) && !strncmp(n, PREFIX, strlen(PREFIX)) &&
           !strcmp(n + len - strlen(SUFFIX), SUFFIX);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Remove the oldest scheduled backups beyond plan.keep. */
static void prune_old(void)
{
    DIR *d = opendir(plan.dir);
    struct dirent *e;
    char **names = NULL, path[VV_PATH_MAX];
    size_t n = 0, cap = 0;

    if (!d)
        return;
    while ((e = readdir(d))) {
        if (!is_scheduled_name(e->d_name))
            continue;
        if (n == cap) {
            char **grown = realloc(names, (cap = cap ? cap * 2 : 32) * sizeof(*names));
            if (!grown)
                break;
            names = grown;
        }
        if (!(names[n] = strdup(e->d_name)))
            break;
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), cmp_names); /* the UTC time sorts by name */
    for (size_t i = 0; i < n; i++) {
        if (n - i > (size_t)plan.keep &&
            vv_path_join(path, sizeof(path), "%s/%s", plan.dir, names[i]) == 0) {
            if (unlink(path) == 0)
                vv_info("catalog backup: removed %s (keeping the newest %d)", path, plan.keep);
            else
                vv_warn("catalog backup: cannot remove the old backup %s", path);
        }
        free(names[i]);
    }
    free(names);
}

/* The error of a failed backup to path: VV_E_IO is VV_E_NOSPC (and says so, with the
 * way out) when the file system holding path has less room than the catalog needs. */
static int backup_err(struct vv_server *s, const char *path, int r)
{
    char dir[VV_PATH_MAX], cat[VV_PATH_MAX], *slash;
    uint64_t avail = 0, total = 0;
    struct stat st;

    if (r != VV_E_IO)
        return r;
    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else
        slash == dir ? (void)(dir[1] = '\0') : (void)(*slash = '\0');
    if (vv_path_join(cat, sizeof(cat), "%s/catalog.db", s->data_dir) != 0 ||
        stat(cat, &st) != 0 || vv_store_space(dir, &avail, &total) != 0 ||
        avail >= (uint64_t)st.st_size + (1u << 20))
        return r;
    vv_error("catalog backup to %s: VaultStorageFull: the file system of %s has %llu KiB "
             "free and the catalog takes %llu KiB; free space there or back up to another "
             "disk", path, dir, (unsigned long long)(avail >> 10),
             (unsigned long long)((uint64_t)st.st_size >> 10));
    return VV_E_NOSPC;
}

/* The time in the name of the newest scheduled backup in plan.dir; 0 when none. */
static time_t newest_backup(void)
{
    DIR *d = opendir(plan.dir);
    struct dirent *e;
    time_t newest = 0;

    if (!d)
        return 0;
    while ((e = readdir(d))) {
        struct tm tm;
        const char *end;
        time_t t;
        if (!is_scheduled_name(e->d_name))
            continue;
        memset(&tm, 0, sizeof(tm));
        end = strptime(e->d_name + strlen(PREFIX), "%Y%m%dT%H%M%SZ", &tm);
        if (end && !strcmp(end, SUFFIX) && (t = timegm(&tm)) > newest)
            newest = t;
    }
    closedir(d);
    return newest;
}

void vv_catbackup_tick(struct vv_server *s, time_t now)
{
    char path[VV_PATH_MAX], stamp[32];
    struct tm tm;
    int r;

    /* After a start, the schedule goes on from the newest backup there is: restarts do
     * not each add a backup and push the older ones out. */
    if (plan.dir[0] && plan.next == 0) {
        time_t t = newest_backup();
        plan.next = t ? t + (time_t)plan.every : now;
    }
    if (!plan.dir[0] || now < plan.next)
        return;
    plan.next = now + plan.every;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    if (vv_path_join(path, sizeof(path), "%s/" PREFIX "%s" SUFFIX, plan.dir, stamp) != 0) {
        vv_error("catalog backup: the path in %s is too long; use a shorter "
                 "--catalog-backup-dir", plan.dir);
        return;
    }
    if ((r = vv_mkdir_p(plan.dir, 0700)) != 0 || (r = vv_db_backup(s->db, path)) != 0) {
        vv_error("catalog backup to %s failed (%s, see above); the next one is tried in "
                 "%lld s", path, vv_errname(backup_err(s, path, r)), (long long)plan.every);
        return;
    }
    vv_info("catalog backup: %s written", path);
    prune_old();
}

int vv_catbackup_command(struct vv_server *s, const char *to)
{
    char path[VV_PATH_MAX];
    int r;

    if (vv_path_join(path, sizeof(path), "%s/catalog.db", s->data_dir) != 0) {
        fprintf(stderr, "vmvaultd backup-catalog: the path of the catalog in %s is too long\n",
                s->data_dir);
        return 1;
    }
    if (access(path, F_OK) != 0) {
        fprintf(stderr, "vmvaultd backup-catalog: no catalog at %s: give the server's "
                        "--data-dir\n", path);
        return 1;
    }
    if (vv_db_open(path, &s->db) != 0)
        return 1;
    r = vv_db_backup(s->db, to);
    vv_db_close(s->db);
    s->db = NULL;
    if (r != 0) {
        if (backup_err(s, to, r) == VV_E_NOSPC)
            fprintf(stderr, "vmvaultd backup-catalog: VaultStorageFull: no room for the copy "
                            "at %s (see above); free space there or give --to a file on "
                            "another disk\n", to);
        return 1;
    }
    printf("catalog %s backed up to %s\n"
           "Restore: stop vmvaultd, copy it to %s (removing catalog.db-wal and "
           "catalog.db-shm), start vmvaultd.\n", path, to, path);
    return 0;
}
