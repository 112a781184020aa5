/*
 * cmd_debug.c: `vmvault debug ...`, the storage engine on a local store, without a
 * vault server: create a vault key, back up a raw image (full or incremental from a
 * list of changed extents), restore it, verify points or the whole store, list, show
 * and delete points. Developers and the end-to-end tests and benchmark use it; the
 * vault server drives the same library functions.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "engine/engine.h"
#include "err.h"
#include "json.h"
#include "log.h"
#include "output.h"
#include "store/repo.h"
#include "util.h"

const char vv_debug_usage[] =
    "usage: vmvault debug <command> [<options>]\n"
    "\n"
    "Drive the storage engine on a local store folder, without a vault server.\n"
    "Every command takes --store DIR and --key-file FILE (or the environment\n"
    "variables VMVAULT_STORE and VMVAULT_KEY_FILE). The key file seals every object\n"
    "in the store with AES-256-GCM; keep it outside the store and back it up: without\n"
    "it the store cannot be read.\n"
    "\n"
    "Commands:\n"
    "  keygen          create a new vault key file\n"
    "  image-backup    back up a raw disk image or block device (full or incremental)\n"
    "  image-restore   restore one disk of a recovery point to a sparse file or device\n"
    "  verify          re-read and re-hash a point, every point, or every chunk\n"
    "  list            list the recovery points in the store\n"
    "  show            print a recovery point's manifest as JSON\n"
    "  delete          delete a recovery point (its chunks stay for garbage collection)\n"
    "\n"
    "Run 'vmvault debug <command> --help' for a command's options.\n";

static const char keygen_usage[] =
    "usage: vmvault debug keygen --key-file FILE\n"
    "\n"
    "Create a new random 256-bit vault key in FILE (mode 0600). Refuses to overwrite\n"
    "an existing file. Keep the key outside the store it seals, and back it up.\n";

static const char backup_usage[] =
    "usage: vmvault debug image-backup --store DIR --key-file FILE --image PATH\n"
    "                                  [--disk-name NAME] [--chunk-size SIZE]\n"
    "                                  [--fixed-chunks]\n"
    "                                  [--parent POINT --changed-extents FILE]\n"
    "                                  [--retain-until TIME] [--vm-name NAME]\n"
    "                                  [--domain-xml FILE] [--threads N]\n"
    "                                  [--output table|json]\n"
    "\n"
    "Back up a raw disk image file or block device into the store as a new recovery\n"
    "point, and print its id. The store folder is created when it does not exist.\n"
    "\n"
    "A full backup reads only the allocated parts of the image (SEEK_DATA/SEEK_HOLE),\n"
    "cuts them into content-defined chunks (the same bytes at another offset make the\n"
    "same chunks, stored once), skips all-zero chunks, and stores each chunk the store\n"
    "does not already have, compressed (zstd) and sealed (AES-256-GCM). With --parent\n"
    "and --changed-extents, only the 64 KiB granules touched by the listed extents are\n"
    "read again; everything else is taken from the parent point.\n"
    "\n"
    "Options:\n"
    "  --store DIR              store folder (env VMVAULT_STORE)\n"
    "  --key-file FILE          vault key (env VMVAULT_KEY_FILE); see 'debug keygen'\n"
    "  --image PATH             raw image file or block device to read\n"
    "  --disk-name NAME         name of the disk in the point (default: disk0);\n"
    "                           lower-case letters, digits, '.', '_', '-'\n"
    "  --chunk-size SIZE        average chunk size of a full backup (chunks are a\n"
    "                           quarter to four times it), a power of two from 4K\n"
    "                           to 16M (default: 256K); incrementals keep the parent's\n"
    "  --fixed-chunks           a full backup cuts chunks at multiples of the chunk\n"
    "                           size instead, aligned on the disk\n"
    "  --parent POINT           recovery point this incremental builds on\n"
    "  --changed-extents FILE   extents changed since the parent, one 'OFFSET LENGTH'\n"
    "                           pair per line (bytes; K/M/G suffixes; '#' comments);\n"
    "                           '-' reads standard input\n"
    "  --retain-until TIME      expiry of the point, e.g. 2026-12-31T00:00:00Z\n"
    "  --vm-name NAME           VM name to record in the manifest\n"
    "  --domain-xml FILE        libvirt domain XML to save with the point\n"
    "  --threads N              worker threads (default: CPUs + 2)\n"
    "  --output table|json      output format (default: table)\n"
    "\n"
    "Exit status: 0 on success, 1 on failure, 2 on a usage error.\n";

static const char restore_usage[] =
    "usage: vmvault debug image-restore --store DIR --key-file FILE --point POINT\n"
    "                                   --target PATH [--disk-name NAME] [--force]\n"
    "                                   [--threads N] [--output table|json]\n"
    "\n"
    "Restore one disk of a recovery point. A file target is written as a sparse file:\n"
    "holes and zero chunks stay holes, every other byte is identical to the backed-up\n"
    "disk. It is written as PATH.partial and renamed to PATH only when complete, so a\n"
    "failed restore never leaves a half-written PATH. A block device target must be at\n"
    "least the disk's size; its zero ranges are zeroed. Every chunk is checked against\n"
    "its SHA-256 id before it is written.\n"
    "\n"
    "Options:\n"
    "  --point POINT        recovery point id (see 'vmvault debug list')\n"
    "  --disk-name NAME     disk to restore (default: the point's only disk)\n"
    "  --target PATH        file or block device to write\n"
    "  --force              replace an existing file at PATH\n"
    "  --threads N          worker threads (default: CPUs + 2)\n"
    "  --output table|json  output format (default: table)\n";

static const char verify_usage[] =
    "usage: vmvault debug verify --store DIR --key-file FILE\n"
    "                            (--point POINT | --all | --chunks) [--threads N]\n"
    "                            [--output table|json]\n"
    "\n"
    "Prove that stored data can be restored. --point checks one recovery point end to\n"
    "end: its manifest, each disk index against the manifest's SHA-256, and every\n"
    "chunk it references (read, authenticated, decompressed, re-hashed). --all does\n"
    "that for every point; --chunks re-reads and re-hashes every chunk in the store.\n"
    "Every missing or damaged object is reported by name.\n"
    "\n"
    "Exit status: 0 when everything verified, 3 when anything is missing or damaged,\n"
    "1 on other failures, 2 on a usage error.\n";

static const char list_usage[] =
    "usage: vmvault debug list --store DIR --key-file FILE [--output table|json]\n"
    "\n"
    "List the recovery points in the store, oldest first: id, creation time,\n"
    "consistency, parent, disks and their sizes.\n";

static const char show_usage[] =
    "usage: vmvault debug show --store DIR --key-file FILE --point POINT\n"
    "\n"
    "Print a recovery point's manifest as JSON.\n";

static const char delete_usage[] =
    "usage: vmvault debug delete --store DIR --key-file FILE --point POINT\n"
    "\n"
    "Delete a recovery point. Its manifest goes first, so the point disappears at\n"
    "once; its chunks stay until garbage collection finds them unreferenced.\n";

/* The options of the debug commands: paths are taken as given (the engine says
 * what is wrong with them); the store and key file may come from the environment. */
static const struct vv_optdef debug_defs[] = {
    {O_STORE, "store", VV_K_ANY, 0, 0, NULL, "VMVAULT_STORE"},
    {O_KEY_FILE, "key-file", VV_K_ANY, 0, 0, NULL, "VMVAULT_KEY_FILE"},
    {O_IMAGE, "image", VV_K_ANY, 0, 0, NULL, NULL},
    {O_DISK_NAME, "disk-name", VV_K_DISK, 0, 0, NULL, NULL},
    {O_CHUNK_SIZE, "chunk-size", VV_K_CHUNK, 0, 0, NULL, NULL},
    {O_FIXED_CHUNKS, "fixed-chunks", VV_K_FLAG, 0, 0, NULL, NULL},
    {O_PARENT, "parent", VV_K_POINT, 0, 0, NULL, NULL},
    {O_CHANGED_EXTENTS, "changed-extents", VV_K_ANY, 0, 0, NULL, NULL},
    {O_POINT, "point", VV_K_POINT, 0, 0, NULL, NULL},
    {O_TARGET, "target", VV_K_ANY, 0, 0, NULL, NULL},
    {O_RETAIN_UNTIL, "retain-until", VV_K_UTC, 0, 0, NULL, NULL},
    {O_VM_NAME, "vm-name", VV_K_ANY, 0, 0, NULL, NULL},
    {O_DOMAIN_XML, "domain-xml", VV_K_ANY, 0, 0, NULL, NULL},
    {O_THREADS, "threads", VV_K_UINT, 1, 256, NULL, NULL},
    {O_OUTPUT, "output", VV_K_OUTPUT, 0, 0, NULL, NULL},
    {O_FORCE, "force", VV_K_FLAG, 0, 0, NULL, NULL},
    {O_ALL, "all", VV_K_FLAG, 0, 0, NULL, NULL},
    {O_CHUNKS, "chunks", VV_K_FLAG, 0, 0, NULL, NULL},
    {O_HELP, "help", VV_K_HELP, 0, 0, NULL, NULL},
};

static const struct vv_optset debug_options = {
    debug_defs, sizeof(debug_defs) / sizeof(debug_defs[0]), "+h", 0, VV_DIALECT_DEBUG,
};

#define STORE_KEY {O_STORE, VV_REQ}, {O_KEY_FILE, VV_REQ}

static const struct vv_verb keygen_verb = {"debug keygen", keygen_usage, {{O_KEY_FILE, VV_REQ}}};
static const struct vv_verb backup_verb = {
    "debug image-backup", backup_usage,
    {STORE_KEY, {O_IMAGE, VV_REQ}, {O_DISK_NAME, 0}, {O_CHUNK_SIZE, 0}, {O_FIXED_CHUNKS, 0},
     {O_PARENT, 0}, {O_CHANGED_EXTENTS, 0}, {O_RETAIN_UNTIL, 0}, {O_VM_NAME, 0},
     {O_DOMAIN_XML, 0}, {O_THREADS, 0}, {O_OUTPUT, 0}}};
static const struct vv_verb restore_verb = {
    "debug image-restore", restore_usage,
    {STORE_KEY, {O_POINT, VV_REQ}, {O_DISK_NAME, 0}, {O_TARGET, VV_REQ}, {O_FORCE, 0},
     {O_THREADS, 0}, {O_OUTPUT, 0}}};
static const struct vv_verb verify_verb = {
    "debug verify", verify_usage,
    {STORE_KEY, {O_POINT, 0}, {O_ALL, 0}, {O_CHUNKS, 0}, {O_THREADS, 0}, {O_OUTPUT, 0}}};
static const struct vv_verb list_verb = {"debug list", list_usage, {STORE_KEY, {O_OUTPUT, 0}}};
static const struct vv_verb show_verb = {"debug show", show_usage, {STORE_KEY, {O_POINT, VV_REQ}}};
static const struct vv_verb delete_verb = {"debug delete", delete_usage,
                                           {STORE_KEY, {O_POINT, VV_REQ}}};

/* The options as the commands use them. */
struct opts {
    const char *store, *key_file, *image, *disk, *parent, *changed, *point, *target;
    const char *retain, *vm_name, *domain_xml;
    uint64_t chunk_size;
    int threads, json, force, all, chunks, fixed;
};

/* Parse argv for verb v into o. Returns -1 to go on, or an exit code. */
static int parse(const struct vv_verb *v, int argc, char **argv, struct opts *o)
{
    struct vv_args a;
    int r = vv_opts_parse(&debug_options, v, argc, argv, &a);

    if (r >= 0)
        return r;
    o->store = vv_arg(&a, O_STORE);
    o->key_file = vv_arg(&a, O_KEY_FILE);
    o->image = vv_arg(&a, O_IMAGE);
    o->disk = vv_arg(&a, O_DISK_NAME);
    o->parent = vv_arg(&a, O_PARENT);
    o->changed = vv_arg(&a, O_CHANGED_EXTENTS);
    o->point = vv_arg(&a, O_POINT);
    o->target = vv_arg(&a, O_TARGET);
    o->retain = vv_arg(&a, O_RETAIN_UNTIL);
    o->vm_name = vv_arg(&a, O_VM_NAME);
    o->domain_xml = vv_arg(&a, O_DOMAIN_XML);
    o->chunk_size = vv_arg_num(&a, O_CHUNK_SIZE);
    o->threads = (int)vv_arg_num(&a, O_THREADS);
    o->json = a.json;
    o->force = vv_arg(&a, O_FORCE) != NULL;
    o->all = vv_arg(&a, O_ALL) != NULL;
    o->chunks = vv_arg(&a, O_CHUNKS) != NULL;
    o->fixed = vv_arg(&a, O_FIXED_CHUNKS) != NULL;
    return -1;
}

/* fsync the folder holding path, so a rename into it survives a crash. */
static void sync_parent(const char *path)
{
    char dir[VV_PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd;
    if (vv_path_join(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) + (slash == path) : 1,
                     slash ? path : ".") != 0)
        return; /* no longer than the path itself, which was opened */
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        fsync(fd);
        close(fd);
    }
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int open_repo(const struct opts *o, int create, struct vv_repo **repo)
{
    int r = vv_repo_open(o->store, o->key_file, create, repo);
    if (r < 0) {
        fprintf(stderr, "vmvault: cannot open store %s: %s\n", o->store, vv_strerror(r));
        return VV_EXIT_FAIL;
    }
    return VV_EXIT_OK;
}

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s)
        puts(s);
    free(s);
    json_decref(j);
}

static int cmd_keygen(int argc, char **argv)
{
    struct opts o;
    int r = parse(&keygen_verb, argc, argv, &o);
    if (r >= 0)
        return r;
    r = vv_key_generate(o.key_file);
    if (r < 0) {
        fprintf(stderr, "vmvault: cannot create key %s: %s\n", o.key_file,
                r == VV_E_EXISTS ? "the file exists (keys are never overwritten)" : vv_strerror(r));
        return VV_EXIT_FAIL;
    }
    printf("Created vault key %s. Back it up: without it the store cannot be read.\n",
           o.key_file);
    return VV_EXIT_OK;
}

static int load_changed(const char *path, struct vv_extent **ext, size_t *n)
{
    struct vv_buf b;
    int r;
    vv_buf_init(&b, 256u << 20);
    r = vv_read_file(strcmp(path, "-") ? path : "/dev/stdin", &b);
    if (r < 0)
        fprintf(stderr, "vmvault: cannot read changed extents %s: %s\n", path, vv_strerror(r));
    else if ((r = vv_extents_parse((const char *)b.data, b.len, ext, n)) < 0)
        fprintf(stderr, "vmvault: %s is not a changed-extents list\n", path);
    vv_buf_release(&b);
    return r;
}

/* The combinations of image-backup options that do not go together. Returns -1 to
 * go on, or VV_EXIT_USAGE. */
static int check_backup_opts(const struct opts *o)
{
    if (!o->parent != !o->changed)
        return vv_cli_usage_error("debug image-backup",
                                  "--parent and --changed-extents go together");
    if (o->parent && o->chunk_size)
        return vv_cli_usage_error("debug image-backup",
                                  "--chunk-size applies to full backups only (an incremental "
                                  "keeps its parent's)");
    if (o->parent && o->fixed)
        return vv_cli_usage_error("debug image-backup",
                                  "--fixed-chunks applies to full backups only");
    return -1;
}

/* The parent point id and the index of its disk. Returns 0, or -1 after printing
 * why. */
static int load_parent(struct vv_repo *repo, const char *id, const char *disk,
                       struct vv_manifest *parent, struct vv_index *pix)
{
    const struct vv_manifest_disk *pd;
    int r = vv_repo_point_load(repo, id, parent);

    if (r < 0) {
        fprintf(stderr, "vmvault: parent point %s: %s\n", id,
                r == VV_E_NOTFOUND ? "does not exist" : vv_strerror(r));
        return -1;
    }
    if (!(pd = vv_manifest_find_disk(parent, disk))) {
        fprintf(stderr, "vmvault: parent point %s has no disk named '%s'\n", id, disk);
        return -1;
    }
    if (vv_repo_index_load(repo, parent, pd, pix) < 0) {
        fprintf(stderr, "vmvault: parent point %s: its index of disk %s cannot be read\n",
                id, disk);
        return -1;
    }
    return 0;
}

/* The new point's manifest but its disk: id, times, parent, VM name and domain
 * XML. Returns 0, or -1 (after printing why when there is more to say). */
static int fill_manifest(const struct opts *o, struct vv_manifest *m)
{
    struct timespec ts;
    struct vv_buf xml;
    int r;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (vv_point_id_new((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000, m->id) < 0)
        return -1;
    m->created = ts.tv_sec;
    if (o->retain && vv_time_parse(o->retain, &m->expires) != 0)
        m->expires = 0; /* not reached: the option was checked when parsed */
    if (o->parent)
        snprintf(m->parent, sizeof(m->parent), "%s", o->parent);
    m->consistency = VV_CRASH_CONSISTENT;
    if (o->vm_name && !(m->vm_name = strdup(o->vm_name)))
        return -1;
    if (!o->domain_xml)
        return 0;
    vv_buf_init(&xml, 16u << 20);
    if ((r = vv_read_file(o->domain_xml, &xml)) < 0 || vv_buf_append(&xml, "", 1) < 0) {
        fprintf(stderr, "vmvault: cannot read domain XML %s: %s\n", o->domain_xml,
                vv_strerror(r));
        vv_buf_release(&xml);
        return -1;
    }
    m->domain_xml = (char *)vv_buf_detach(&xml, NULL);
    return 0;
}

static void print_backup(const struct opts *o, const struct vv_manifest *m, const char *disk,
                         const struct vv_index *ix, const struct vv_backup_stats *st,
                         double secs)
{
    char a[32], b[32], c[32];

    if (o->json) {
        print_json(json_pack(
            "{s:s,s:o,s:s,s:s,s:I,s:I,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I},s:{s:I,s:I,s:I},s:f}",
            "recoveryPoint", m->id, "parent", o->parent ? json_string(o->parent) : json_null(),
            "disk", disk, "source", o->image, "virtualSize", (json_int_t)ix->virtual_size,
            "chunkSize", (json_int_t)ix->chunk_size, "chunks", "total",
            (json_int_t)st->chunks_total, "read", (json_int_t)st->chunks_read, "new",
            (json_int_t)st->chunks_new, "dedup", (json_int_t)st->chunks_dedup, "zero",
            (json_int_t)st->chunks_zero, "hole", (json_int_t)st->chunks_hole, "kept",
            (json_int_t)st->chunks_kept, "bytes", "read", (json_int_t)st->bytes_read, "new",
            (json_int_t)st->bytes_new, "stored", (json_int_t)st->bytes_stored, "seconds", secs));
        return;
    }
    vv_bytes_text(ix->virtual_size, a);
    vv_bytes_text(ix->chunk_size, b);
    printf("Recovery point  %s\n", m->id);
    printf("Parent          %s\n", o->parent ? o->parent : "none (full backup)");
    printf("Disk            %s: %s, %s, chunks of %s\n", disk, o->image, a, b);
    vv_bytes_text(st->bytes_read, a);
    printf("Read            %s in %llu chunks (%llu all-zero; %llu hole runs and %llu "
           "unchanged ranges not read)\n",
           a, (unsigned long long)st->chunks_read, (unsigned long long)st->chunks_zero,
           (unsigned long long)st->chunks_hole, (unsigned long long)st->chunks_kept);
    vv_bytes_text(st->bytes_new, a);
    vv_bytes_text(st->bytes_stored, c);
    printf("Stored          %llu new chunks, %s compressed and sealed to %s\n",
           (unsigned long long)st->chunks_new, a, c);
    printf("Deduplicated    %llu chunks already in the store\n",
           (unsigned long long)st->chunks_dedup);
    vv_bytes_text(secs > 0 ? (unsigned long long)((double)st->bytes_read / secs) : 0, a);
    printf("Elapsed         %.2f s (%s/s read)\n", secs, a);
}

static int cmd_backup(int argc, char **argv)
{
    struct opts o;
    struct vv_repo *repo = NULL;
    struct vv_source *src = NULL;
    struct vv_manifest m, parent;
    struct vv_index ix = {0}, pix = {0};
    struct vv_backup_stats st;
    struct vv_extent *ext = NULL;
    struct vv_manifest_disk *d;
    struct vv_engine_opts eo = {0, NULL, NULL, 0};
    size_t next = 0;
    double t0 = now_seconds();
    const char *disk;
    int r = parse(&backup_verb, argc, argv, &o), rc = VV_EXIT_FAIL;

    if (r >= 0 || (r = check_backup_opts(&o)) >= 0)
        return r;
    disk = o.disk ? o.disk : "disk0";
    eo.threads = o.threads;
    eo.fixed_chunks = o.fixed;
    memset(&st, 0, sizeof(st));
    vv_manifest_init(&m);
    vv_manifest_init(&parent);

    if (open_repo(&o, 1, &repo) != VV_EXIT_OK ||
        (o.changed && load_changed(o.changed, &ext, &next) < 0) ||
        (o.parent && load_parent(repo, o.parent, disk, &parent, &pix) < 0) ||
        vv_source_file_open(o.image, &src) < 0)
        goto out;
    r = vv_disk_backup(repo, src, o.chunk_size ? (uint32_t)o.chunk_size : VV_CHUNK_SIZE_DEFAULT,
                       o.parent ? &pix : NULL, ext, next, &eo, &ix, &st);
    if (r < 0) {
        fprintf(stderr, "vmvault: backup of %s failed: %s\n", o.image, vv_strerror(r));
        goto out;
    }
    if (fill_manifest(&o, &m) < 0 || vv_manifest_add_disk(&m, disk, o.image, &d) < 0)
        goto out;
    if ((r = vv_repo_point_commit(repo, &m, &ix)) < 0) {
        fprintf(stderr, "vmvault: cannot commit recovery point: %s\n", vv_strerror(r));
        goto out;
    }
    print_backup(&o, &m, disk, &ix, &st, now_seconds() - t0);
    rc = VV_EXIT_OK;
out:
    free(ext);
    vv_index_release(&ix);
    vv_index_release(&pix);
    vv_manifest_release(&m);
    vv_manifest_release(&parent);
    vv_source_close(src);
    vv_repo_close(repo);
    return rc;
}

/* Where image-restore writes: the name of the partial file in partial (n bytes),
 * *is_file 0 for a block device. Returns -1 to go on, else the exit status. */
static int check_target(const struct opts *o, char *partial, size_t n, int *is_file)
{
    struct stat sb;

    *is_file = 1;
    if ((size_t)snprintf(partial, n, "%s.partial", o->target) >= n)
        return vv_cli_usage_error("debug image-restore", "--target path is too long");
    if (stat(o->target, &sb) == 0) {
        if (S_ISBLK(sb.st_mode)) {
            *is_file = 0;
        } else if (!S_ISREG(sb.st_mode) || !o->force) {
            fprintf(stderr, "vmvault: %s exists; add --force to replace it\n", o->target);
            return VV_EXIT_FAIL;
        }
    }
    return -1;
}

/* The disk of m to restore: --disk-name, or the only one. NULL after printing why. */
static const struct vv_manifest_disk *pick_disk(const struct vv_manifest *m,
                                                const struct opts *o)
{
    const struct vv_manifest_disk *d;

    if (o->disk) {
        d = vv_manifest_find_disk(m, o->disk);
    } else if (m->ndisks == 1) {
        d = &m->disks[0];
    } else {
        fprintf(stderr, "vmvault: point %s has %zu disks; choose one with --disk-name\n",
                o->point, m->ndisks);
        return NULL;
    }
    if (!d)
        fprintf(stderr, "vmvault: point %s has no disk named '%s'\n", o->point, o->disk);
    return d;
}

/* Restore ix to o->target: a file through partial, renamed when complete; a block
 * device in place. Returns 0, or -1 after printing why. */
static int write_target(struct vv_repo *repo, const struct vv_index *ix, const struct opts *o,
                        const char *partial, int is_file, const struct vv_engine_opts *eo,
                        struct vv_restore_stats *st)
{
    int fd, r;

    if (is_file) {
        unlink(partial);
        fd = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    } else {
        fd = open(o->target, O_WRONLY | O_CLOEXEC);
    }
    if (fd < 0) {
        fprintf(stderr, "vmvault: cannot open %s: %s\n", is_file ? partial : o->target,
                strerror(errno));
        return -1;
    }
    r = vv_disk_restore(repo, ix, fd, eo, st);
    if (r == 0 && close(fd) < 0)
        r = VV_E_IO;
    if (r < 0) {
        fprintf(stderr, "vmvault: restore of %s failed: %s\n", o->point, vv_strerror(r));
        if (is_file)
            unlink(partial);
        return -1;
    }
    if (is_file && rename(partial, o->target) < 0) {
        fprintf(stderr, "vmvault: cannot rename %s to %s: %s\n", partial, o->target,
                strerror(errno));
        unlink(partial);
        return -1;
    }
    if (is_file)
        sync_parent(o->target);
    return 0;
}

static void print_restore(const struct opts *o, const struct vv_manifest *m,
                          const struct vv_manifest_disk *d, const struct vv_index *ix,
                          const struct vv_restore_stats *st, double secs)
{
    char a[32], b[32];

    if (o->json) {
        print_json(json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:f}", "recoveryPoint", m->id, "disk",
                             d->name, "target", o->target, "virtualSize",
                             (json_int_t)ix->virtual_size, "chunksWritten",
                             (json_int_t)st->chunks_written, "bytesWritten",
                             (json_int_t)st->bytes_written, "seconds", secs));
        return;
    }
    vv_bytes_text(ix->virtual_size, a);
    vv_bytes_text(st->bytes_written, b);
    printf("Restored disk %s of %s to %s: %s (%s of data in %llu chunks) in %.2f s\n",
           d->name, m->id, o->target, a, b, (unsigned long long)st->chunks_written, secs);
}

static int cmd_restore(int argc, char **argv)
{
    struct opts o;
    struct vv_repo *repo = NULL;
    struct vv_manifest m;
    struct vv_index ix = {0};
    struct vv_restore_stats st = {0, 0, 0};
    struct vv_engine_opts eo = {0, NULL, NULL, 0};
    const struct vv_manifest_disk *d;
    char partial[VV_PATH_MAX];
    double t0 = now_seconds();
    int is_file, r = parse(&restore_verb, argc, argv, &o), rc = VV_EXIT_FAIL;

    if (r >= 0 || (r = check_target(&o, partial, sizeof(partial), &is_file)) >= 0)
        return r;
    eo.threads = o.threads;
    vv_manifest_init(&m);
    if (open_repo(&o, 0, &repo) != VV_EXIT_OK)
        goto out;
    r = vv_repo_point_load(repo, o.point, &m);
    if (r < 0) {
        fprintf(stderr, "vmvault: recovery point %s: %s\n", o.point,
                r == VV_E_NOTFOUND ? "does not exist" : vv_strerror(r));
        goto out;
    }
    if (!(d = pick_disk(&m, &o)) || vv_repo_index_load(repo, &m, d, &ix) < 0 ||
        write_target(repo, &ix, &o, partial, is_file, &eo, &st) < 0)
        goto out;
    print_restore(&o, &m, d, &ix, &st, now_seconds() - t0);
    rc = VV_EXIT_OK;
out:
    vv_index_release(&ix);
    vv_manifest_release(&m);
    vv_repo_close(repo);
    return rc;
}

/* Collected point ids, sorted (ids start with their UTC time, so this is by age). */
struct id_list {
    char (*ids)[VV_POINT_ID_MAX];
    size_t n, cap;
};

static int collect_point(const char *id, void *arg)
{
    struct id_list *l = arg;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? 2 * l->cap : 64;
        void *p = realloc(l->ids, ncap * sizeof(*l->ids));
        if (!p)
            return VV_E_NOMEM;
        l->ids = p;
        l->cap = ncap;
    }
    snprintf(l->ids[l->n++], VV_POINT_ID_MAX, "%s", id);
    return 0;
}

static int cmp_ids(const void *a, const void *b) { return strcmp(a, b); }

static int list_points(struct vv_repo *repo, struct id_list *l)
{
    int r = vv_repo_point_list(repo, collect_point, l);
    if (r < 0)
        fprintf(stderr, "vmvault: cannot list points: %s\n", vv_strerror(r));
    else if (l->n)
        qsort(l->ids, l->n, sizeof(*l->ids), cmp_ids);
    return r;
}

/* Verify the points in l, adding to st; each missing or damaged one is named on
 * stderr and sets *damaged. Returns 0, or the first other error (a vv_err). */
static int verify_points(struct vv_repo *repo, const struct id_list *l,
                         const struct vv_engine_opts *eo, struct vv_verify_stats *st,
                         int *damaged)
{
    for (size_t i = 0; i < l->n; i++) {
        int one = vv_point_verify(repo, l->ids[i], eo, st);
        if (one == VV_E_CORRUPT || one == VV_E_NOTFOUND) {
            fprintf(stderr, "vmvault: recovery point %s %s\n", l->ids[i],
                    one == VV_E_NOTFOUND ? "does not exist" : "is DAMAGED");
            *damaged = 1;
        } else if (one < 0) {
            return one;
        }
    }
    return 0;
}

static void print_verify(const struct opts *o, const struct vv_verify_stats *st, int damaged,
                         double secs)
{
    char a[32];

    if (o->json) {
        print_json(json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:f}", "result",
                             damaged ? "damaged" : "ok", "points", (json_int_t)st->points,
                             "chunksChecked", (json_int_t)st->chunks_checked, "chunksMissing",
                             (json_int_t)st->chunks_missing, "chunksDamaged",
                             (json_int_t)st->chunks_bad, "bytesChecked",
                             (json_int_t)st->bytes_checked, "seconds", secs));
        return;
    }
    vv_bytes_text(st->bytes_checked, a);
    printf("%s: %llu points, %llu chunks checked (%s), %llu missing, %llu damaged, "
           "%.2f s\n",
           damaged ? "DAMAGED" : "OK", (unsigned long long)st->points,
           (unsigned long long)st->chunks_checked, a, (unsigned long long)st->chunks_missing,
           (unsigned long long)st->chunks_bad, secs);
}

static int cmd_verify(int argc, char **argv)
{
    struct opts o;
    struct vv_repo *repo = NULL;
    struct vv_verify_stats st;
    struct vv_engine_opts eo = {0, NULL, NULL, 0};
    struct id_list l = {NULL, 0, 0};
    double t0 = now_seconds();
    int r = parse(&verify_verb, argc, argv, &o), rc = VV_EXIT_FAIL, damaged = 0;

    if (r >= 0)
        return r;
    if (!!o.point + o.all + o.chunks != 1)
        return vv_cli_usage_error("debug verify", "give exactly one of --point, --all, --chunks");
    eo.threads = o.threads;
    memset(&st, 0, sizeof(st));
    if (open_repo(&o, 0, &repo) != VV_EXIT_OK)
        goto out;
    if (o.chunks)
        r = vv_store_verify(repo, &eo, &st);
    else if ((r = o.point ? collect_point(o.point, &l) : list_points(repo, &l)) >= 0)
        r = verify_points(repo, &l, &eo, &st, &damaged);
    if (r == VV_E_CORRUPT)
        damaged = 1;
    else if (r < 0) {
        fprintf(stderr, "vmvault: verify failed: %s\n", vv_strerror(r));
        goto out;
    }
    print_verify(&o, &st, damaged, now_seconds() - t0);
    rc = damaged ? VV_EXIT_DAMAGED : VV_EXIT_OK;
out:
    free(l.ids);
    vv_repo_close(repo);
    return rc;
}

static int cmd_list(int argc, char **argv)
{
    struct opts o;
    struct vv_repo *repo = NULL;
    struct id_list l = {NULL, 0, 0};
    json_t *arr = NULL;
    int r = parse(&list_verb, argc, argv, &o), rc = VV_EXIT_FAIL;

    if (r >= 0)
        return r;
    if (open_repo(&o, 0, &repo) != VV_EXIT_OK || list_points(repo, &l) < 0)
        goto out;
    if (o.json)
        arr = json_array();
    else
        printf("%-30s  %-20s  %-21s  %-30s  %s\n", "RECOVERY POINT", "CREATED", "TYPE",
               "PARENT", "DISKS");
    for (size_t i = 0; i < l.n; i++) {
        struct vv_manifest m;
        char created[32], disks[512] = "";
        size_t dl = 0;
        if (vv_repo_point_load(repo, l.ids[i], &m) < 0) {
            fprintf(stderr, "vmvault: point %s cannot be read (run 'vmvault debug verify "
                            "--point %s')\n", l.ids[i], l.ids[i]);
            continue;
        }
        vv_time_format(m.created, created, sizeof(created));
        for (size_t k = 0; k < m.ndisks && dl < sizeof(disks) - 64; k++) {
            char sz[32];
            vv_bytes_text(m.disks[k].virtual_size, sz);
            dl += (size_t)snprintf(disks + dl, sizeof(disks) - dl, "%s%s (%s)", k ? ", " : "",
                                   m.disks[k].name, sz);
        }
        if (arr)
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:o,s:s}", "id", m.id,
                                                 "createdAt", created, "recoveryPointType",
                                                 vv_consistency_name(m.consistency), "parentId",
                                                 m.parent[0] ? json_string(m.parent) : json_null(),
                                                 "disks", disks));
        else
            printf("%-30s  %-20s  %-21s  %-30s  %s\n", m.id, created,
                   vv_consistency_name(m.consistency), m.parent[0] ? m.parent : "-", disks);
        vv_manifest_release(&m);
    }
    if (arr)
        print_json(arr);
    rc = VV_EXIT_OK;
out:
    free(l.ids);
    vv_repo_close(repo);
    return rc;
}

static int cmd_show(int argc, char **argv)
{
    struct opts o;
    struct vv_repo *repo = NULL;
    struct vv_manifest m;
    char *text, err[64];
    int r = parse(&show_verb, argc, argv, &o), rc = VV_EXIT_FAIL;

    if (r >= 0)
        return r;
    vv_manifest_init(&m);
    if (open_repo(&o, 0, &repo) != VV_EXIT_OK)
        goto out;
    if ((r = vv_repo_point_load(repo, o.point, &m)) < 0) {
        fprintf(stderr, "vmvault: recovery point %s: %s\n", o.point,
                r == VV_E_NOTFOUND ? "does not exist" : vv_strerror(r));
        goto out;
    }
    if ((text = vv_manifest_serialize(&m))) {
        json_t *j = vv_json_parse(text, strlen(text), err, sizeof(err));
        free(text);
        if (j)
            print_json(j);
    }
    rc = VV_EXIT_OK;
out:
    vv_manifest_release(&m);
    vv_repo_close(repo);
    return rc;
}

static int cmd_delete(int argc, char **argv)
{
    struct opts o;
    struct vv_repo *repo = NULL;
    int r = parse(&delete_verb, argc, argv, &o), rc = VV_EXIT_FAIL;

    if (r >= 0)
        return r;
    if (open_repo(&o, 0, &repo) != VV_EXIT_OK)
        goto out;
    if ((r = vv_repo_point_delete(repo, o.point)) < 0) {
        fprintf(stderr, "vmvault: cannot delete %s: %s\n", o.point,
                r == VV_E_NOTFOUND ? "it does not exist" : vv_strerror(r));
        goto out;
    }
    printf("Deleted recovery point %s.\n", o.point);
    rc = VV_EXIT_OK;
out:
    vv_repo_close(repo);
    return rc;
}

static const struct vv_command debug_commands[] = {
    {"keygen", cmd_keygen, "create a new vault key file", keygen_usage},
    {"image-backup", cmd_backup, "back up a raw image or block device", backup_usage},
    {"image-restore", cmd_restore, "restore a disk of a recovery point", restore_usage},
    {"verify", cmd_verify, "verify points or every chunk", verify_usage},
    {"list", cmd_list, "list recovery points", list_usage},
    {"show", cmd_show, "print a point's manifest", show_usage},
    {"delete", cmd_delete, "delete a recovery point", delete_usage},
    {NULL, NULL, NULL, NULL},
};

int vv_cmd_debug(int argc, char **argv)
{
    const struct vv_command *c;
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(vv_debug_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? VV_EXIT_USAGE : VV_EXIT_OK;
    }
    if (!(c = vv_cli_find(debug_commands, argv[1]))) {
        fprintf(stderr, "vmvault debug: '%s' is not a debug command. Run 'vmvault debug "
                        "--help'.\n", argv[1]);
        return VV_EXIT_USAGE;
    }
    return c->run(argc - 1, argv + 1);
}
