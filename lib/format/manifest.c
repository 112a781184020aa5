/* manifest.c: recovery-point manifest (see manifest.h). */
#include "manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "util.h"

static const char *const consistency_names[] = {
    "CrashConsistent", "FileSystemConsistent", "ApplicationConsistent"};

const char *vv_consistency_name(enum vv_consistency c)
{
    return (unsigned)c < 3 ? consistency_names[c] : "Unknown";
}

int vv_consistency_parse(const char *s, enum vv_consistency *out)
{
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, consistency_names[i])) {
            *out = (enum vv_consistency)i;
            return 0;
        }
    return VV_E_INVAL;
}

int vv_point_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n < 4 || n >= VV_POINT_ID_MAX || strncmp(id, "rp-", 3) != 0)
        return 0;
    for (size_t i = 3; i < n; i++)
        if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9') || id[i] == '-'))
            return 0;
    return 1;
}

int vv_point_id_new(uint64_t now_ms, char out[VV_POINT_ID_MAX])
{
    time_t now = (time_t)(now_ms / 1000);
    struct tm tm;
    uint8_t rnd[4];
    char hex[9];
    int r = vv_random(rnd, sizeof(rnd));
    if (r < 0)
        return r;
    vv_hex_encode(rnd, sizeof(rnd), hex);
    gmtime_r(&now, &tm);
    snprintf(out, VV_POINT_ID_MAX, "rp-%04d%02d%02d-%02d%02d%02d-%03u-%s", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (unsigned)(now_ms % 1000), hex);
    return 0;
}

int vv_disk_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n >= VV_DISK_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return 0;
    }
    return 1;
}

void vv_manifest_init(struct vv_manifest *m) { memset(m, 0, sizeof(*m)); }

void vv_manifest_release(struct vv_manifest *m)
{
    for (size_t i = 0; i < m->ndisks; i++) {
        free(m->disks[i].name);
        free(m->disks[i].source);
    }
    free(m->disks);
    free(m->vm_name);
    free(m->vm_uuid);
    free(m->domain_xml);
    memset(m, 0, sizeof(*m));
}

int vv_manifest_add_disk(struct vv_manifest *m, const char *name, const char *source,
                         struct vv_manifest_disk **out)
{
    struct vv_manifest_disk *d;
    if (!vv_disk_name_valid(name) || m->ndisks >= VV_MAX_DISKS)
        return VV_E_INVAL;
    if (vv_manifest_find_disk(m, name))
        return VV_E_EXISTS;
    d = realloc(m->disks, (m->ndisks + 1) * sizeof(*d));
    if (!d)
        return VV_E_NOMEM;
    m->disks = d;
    d = &m->disks[m->ndisks];
    memset(d, 0, sizeof(*d));
    d->name = strdup(name);
    d->source = source ? strdup(source) : NULL;
    if (!d->name || (source && !d->source)) {
        free(d->name);
        free(d->source);
        return VV_E_NOMEM;
    }
    m->ndisks++;
    if (out)
        *out = d;
    return 0;
}

const struct vv_manifest_disk *vv_manifest_find_disk(const struct vv_manifest *m,
                                                     const char *name)
{
    for (size_t i = 0; i < m->ndisks; i++)
        if (!strcmp(m->disks[i].name, name))
            return &m->disks[i];
    return NULL;
}

static json_t *opt_str(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *opt_time(time_t t)
{
    char buf[32];
    if (!t)
        return json_null();
    vv_time_format(t, buf, sizeof(buf));
    return json_string(buf);
}

json_t *vv_manifest_disks_json(const struct vv_manifest *m)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < m->ndisks; i++) {
        const struct vv_manifest_disk *d = &m->disks[i];
        json_array_append_new(
            arr, json_pack("{s:s,s:s?,s:I,s:I,s:I,s:I,s:I}", "name", d->name, "source", d->source,
                           "virtualSize", (json_int_t)d->virtual_size, "chunkSize",
                           (json_int_t)d->chunk_size, "dataChunks", (json_int_t)d->data_chunks,
                           "zeroChunks", (json_int_t)d->zero_chunks, "holeChunks",
                           (json_int_t)d->hole_chunks));
    }
    return arr;
}

char *vv_manifest_serialize(const struct vv_manifest *m)
{
    json_t *root = json_object(), *disks = json_array(), *vm;
    char *text = NULL;

    if (!root || !disks)
        goto out;
    vm = (m->vm_name || m->vm_uuid) ? json_pack("{s:o,s:o}", "name", opt_str(m->vm_name),
                                                 "uuid", opt_str(m->vm_uuid))
                                     : json_null();
    json_object_set_new(root, "format", json_integer(VV_MANIFEST_FORMAT));
    json_object_set_new(root, "id", json_string(m->id));
    json_object_set_new(root, "parentId", m->parent[0] ? json_string(m->parent) : json_null());
    json_object_set_new(root, "createdAt", opt_time(m->created));
    json_object_set_new(root, "expiresAt", opt_time(m->expires));
    json_object_set_new(root, "recoveryPointType", json_string(vv_consistency_name(m->consistency)));
    json_object_set_new(root, "vm", vm);
    json_object_set_new(root, "domainXml", opt_str(m->domain_xml));
    for (size_t i = 0; i < m->ndisks; i++) {
        const struct vv_manifest_disk *d = &m->disks[i];
        char hex[2 * VV_SHA256_LEN + 1];
        vv_hex_encode(d->index_sha256, VV_SHA256_LEN, hex);
        json_array_append_new(
            disks, json_pack("{s:s,s:o,s:I,s:I,s:s,s:I,s:I,s:I}", "name", d->name, "source",
                             opt_str(d->source), "virtualSize", (json_int_t)d->virtual_size,
                             "chunkSize", (json_int_t)d->chunk_size, "indexSha256", hex,
                             "dataChunks", (json_int_t)d->data_chunks, "zeroChunks",
                             (json_int_t)d->zero_chunks, "holeChunks",
                             (json_int_t)d->hole_chunks));
    }
    json_object_set(root, "disks", disks);
    text = vv_json_dump(root);
out:
    json_decref(disks);
    json_decref(root);
    return text;
}

static int dup_opt(const char *s, char **out)
{
    *out = NULL;
    if (s && !(*out = strdup(s)))
        return VV_E_NOMEM;
    return 0;
}

static int get_time(const json_t *o, const char *name, int required, time_t *out, char *err,
                    size_t errlen)
{
    const char *s;
    int r = vv_json_get_str(o, name, required, &s, err, errlen);
    *out = 0;
    if (r < 0 || !s)
        return r;
    if (vv_time_parse(s, out) < 0 || *out <= 0) {
        snprintf(err, errlen, "field '%s' must be a UTC time like 2026-11-27T18:37:28Z", name);
        return VV_E_CORRUPT;
    }
    return 0;
}

static int parse_disk(const json_t *o, struct vv_manifest *m, char *err, size_t errlen)
{
    const char *name, *source, *hex;
    uint64_t cs = 0;
    struct vv_manifest_disk *d;
    int r;

    if (!json_is_object(o)) {
        snprintf(err, errlen, "each disk must be an object");
        return VV_E_CORRUPT;
    }
    if ((r = vv_json_get_str(o, "name", 1, &name, err, errlen)) < 0 ||
        (r = vv_json_get_str(o, "source", 0, &source, err, errlen)) < 0 ||
        (r = vv_json_get_str(o, "indexSha256", 1, &hex, err, errlen)) < 0)
        return r;
    r = vv_manifest_add_disk(m, name, source, &d);
    if (r == VV_E_INVAL || r == VV_E_EXISTS) {
        snprintf(err, errlen, "disk name '%.64s' is %s", name,
                 r == VV_E_EXISTS ? "repeated" : "invalid");
        return VV_E_CORRUPT;
    }
    if (r < 0)
        return r;
    if ((r = vv_json_get_u64(o, "virtualSize", 1, &d->virtual_size, err, errlen)) < 0 ||
        (r = vv_json_get_u64(o, "chunkSize", 1, &cs, err, errlen)) < 0 ||
        (r = vv_json_get_u64(o, "dataChunks", 1, &d->data_chunks, err, errlen)) < 0 ||
        (r = vv_json_get_u64(o, "zeroChunks", 1, &d->zero_chunks, err, errlen)) < 0 ||
        (r = vv_json_get_u64(o, "holeChunks", 1, &d->hole_chunks, err, errlen)) < 0)
        return r;
    if (cs < 4096 || cs > (16u << 20) || (cs & (cs - 1))) {
        snprintf(err, errlen, "disk '%s': chunkSize %llu is not a power of two in 4K..16M",
                 name, (unsigned long long)cs);
        return VV_E_CORRUPT;
    }
    d->chunk_size = (uint32_t)cs;
    if (vv_hex_decode(hex, d->index_sha256, VV_SHA256_LEN) < 0) {
        snprintf(err, errlen, "disk '%s': indexSha256 must be 64 hex digits", name);
        return VV_E_CORRUPT;
    }
    return 0;
}

int vv_manifest_parse(const void *data, size_t len, struct vv_manifest *m, char *err,
                      size_t errlen)
{
    char jerr[160];
    json_t *root = vv_json_parse(data, len, jerr, sizeof(jerr)), *v, *disks;
    const char *s;
    uint64_t fmt = 0;
    int r = VV_E_CORRUPT;

    vv_manifest_init(m);
    if (!root) {
        snprintf(err, errlen, "not JSON: %s", jerr);
        return VV_E_CORRUPT;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "manifest must be a JSON object");
        goto out;
    }
    if ((r = vv_json_get_u64(root, "format", 1, &fmt, err, errlen)) < 0)
        goto out;
    if (fmt != VV_MANIFEST_FORMAT) {
        snprintf(err, errlen, "manifest format %llu is not supported (this build reads %d)",
                 (unsigned long long)fmt, VV_MANIFEST_FORMAT);
        r = VV_E_BAD_VERSION;
        goto out;
    }
    if ((r = vv_json_get_str(root, "id", 1, &s, err, errlen)) < 0)
        goto out;
    r = VV_E_CORRUPT;
    if (!vv_point_id_valid(s)) {
        snprintf(err, errlen, "field 'id' is not a recovery point id");
        goto out;
    }
    snprintf(m->id, sizeof(m->id), "%s", s);
    if ((r = vv_json_get_str(root, "parentId", 0, &s, err, errlen)) < 0)
        goto out;
    if (s) {
        if (!vv_point_id_valid(s) || !strcmp(s, m->id)) {
            snprintf(err, errlen, "field 'parentId' is not a valid parent id");
            r = VV_E_CORRUPT;
            goto out;
        }
        snprintf(m->parent, sizeof(m->parent), "%s", s);
    }
    if ((r = get_time(root, "createdAt", 1, &m->created, err, errlen)) < 0 ||
        (r = get_time(root, "expiresAt", 0, &m->expires, err, errlen)) < 0)
        goto out;
    if ((r = vv_json_get_str(root, "recoveryPointType", 1, &s, err, errlen)) < 0)
        goto out;
    if (vv_consistency_parse(s, &m->consistency) < 0) {
        snprintf(err, errlen, "field 'recoveryPointType' has unknown value '%.40s'", s);
        r = VV_E_CORRUPT;
        goto out;
    }
    v = json_object_get(root, "vm");
    if (v && !json_is_null(v)) {
        const char *name, *uuid;
        if (!json_is_object(v)) {
            snprintf(err, errlen, "field 'vm' must be an object");
            r = VV_E_CORRUPT;
            goto out;
        }
        if ((r = vv_json_get_str(v, "name", 0, &name, err, errlen)) < 0 ||
            (r = vv_json_get_str(v, "uuid", 0, &uuid, err, errlen)) < 0 ||
            (r = dup_opt(name, &m->vm_name)) < 0 || (r = dup_opt(uuid, &m->vm_uuid)) < 0)
            goto out;
    }
    if ((r = vv_json_get_str(root, "domainXml", 0, &s, err, errlen)) < 0 ||
        (r = dup_opt(s, &m->domain_xml)) < 0)
        goto out;
    disks = json_object_get(root, "disks");
    r = VV_E_CORRUPT;
    if (!json_is_array(disks) || json_array_size(disks) == 0 ||
        json_array_size(disks) > VV_MAX_DISKS) {
        snprintf(err, errlen, "field 'disks' must be an array of 1 to %d disks", VV_MAX_DISKS);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(disks); i++)
        if ((r = parse_disk(json_array_get(disks, i), m, err, errlen)) < 0)
            goto out;
    r = 0;
out:
    json_decref(root);
    if (r < 0)
        vv_manifest_release(m);
    return r;
}
