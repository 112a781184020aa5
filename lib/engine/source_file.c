/*
 * source_file.c: a raw image file or block device as a backup source. Allocation is
 * read with lseek(SEEK_DATA/SEEK_HOLE); a block device or a filesystem without them
 * reports everything as data (the zero-chunk check then keeps zeros out of the store).
 */
#include "engine/source.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "util.h"

struct file_source {
    struct vv_source base;
    int fd;
    int is_blk;
};

static int file_read(struct vv_source *s, void *buf, size_t len, uint64_t off)
{
    struct file_source *f = (struct file_source *)s;
    if (vv_pread_full(f->fd, buf, len, off) < 0) {
        return vv_fail(VV_E_IO,
                       "cannot read %s at offset %llu: %s", s->desc, (unsigned long long)off,
                       strerror(errno));
    }
    return 0;
}

static int file_map(struct vv_source *s, uint64_t off, uint64_t len,
                    int (*cb)(uint64_t off, uint64_t len, void *arg), void *arg)
{
    struct file_source *f = (struct file_source *)s;
    uint64_t end = off + len > s->size ? s->size : off + len;

    if (f->is_blk)
        return off < end ? cb(off, end - off, arg) : 0;
    while (off < end) {
        off_t d = lseek(f->fd, (off_t)off, SEEK_DATA), h;
        int r;
        if (d < 0) {
            if (errno == ENXIO)
                return 0; /* only a hole remains */
            if (errno == EINVAL) /* no SEEK_DATA support: all data */
                return cb(off, end - off, arg);
            return vv_fail(VV_E_IO, "cannot map %s: %s", s->desc, strerror(errno));
        }
        if ((uint64_t)d >= end)
            return 0;
        h = lseek(f->fd, d, SEEK_HOLE);
        if (h < 0) {
            return vv_fail(VV_E_IO, "cannot map %s: %s", s->desc, strerror(errno));
        }
        if ((uint64_t)h > end)
            h = (off_t)end;
        if ((r = cb((uint64_t)d, (uint64_t)(h - d), arg)) != 0)
            return r;
        off = (uint64_t)h;
    }
    return 0;
}

static void file_close(struct vv_source *s)
{
    struct file_source *f = (struct file_source *)s;
    close(f->fd);
    free(s->desc);
    free(f);
}

static const struct vv_source_ops file_ops = {file_read, file_map, file_close};

int vv_source_file_open(const char *path, struct vv_source **out)
{
    struct file_source *f;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    *out = NULL;
    if (fd < 0) {
        vv_error("cannot open %s: %s", path, strerror(errno));
        return errno == ENOENT ? VV_E_NOTFOUND : VV_E_IO;
    }
    if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
        vv_error("%s is not a regular file or block device", path);
        close(fd);
        return VV_E_INVAL;
    }
    if (!(f = calloc(1, sizeof(*f))) || !(f->base.desc = strdup(path))) {
        free(f);
        close(fd);
        return VV_E_NOMEM;
    }
    f->fd = fd;
    f->base.ops = &file_ops;
    if (S_ISBLK(st.st_mode)) {
        uint64_t sz = 0;
        if (ioctl(fd, BLKGETSIZE64, &sz) < 0) {
            vv_error("cannot get the size of %s: %s", path, strerror(errno));
            file_close(&f->base);
            return VV_E_IO;
        }
        f->is_blk = 1;
        f->base.size = sz;
    } else {
        f->base.size = (uint64_t)st.st_size;
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    *out = &f->base;
    return 0;
}

void vv_source_close(struct vv_source *s)
{
    if (s)
        s->ops->close(s);
}
