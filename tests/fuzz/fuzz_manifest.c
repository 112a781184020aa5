/*
 * fuzz_manifest.c: vv_manifest_parse on untrusted bytes. A manifest that parses
 * serializes, parses again to the same fields, and serializes again to the same text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "format/manifest.h"

static int str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static void same(const struct vv_manifest *a, const struct vv_manifest *b)
{
    if (strcmp(a->id, b->id) || strcmp(a->parent, b->parent) || a->created != b->created ||
        a->expires != b->expires || a->consistency != b->consistency ||
        !str_eq(a->vm_name, b->vm_name) || !str_eq(a->vm_uuid, b->vm_uuid) ||
        !str_eq(a->domain_xml, b->domain_xml) || a->ndisks != b->ndisks)
        abort();
    for (size_t i = 0; i < a->ndisks; i++) {
        const struct vv_manifest_disk *x = &a->disks[i], *y = &b->disks[i];
        if (strcmp(x->name, y->name) || !str_eq(x->source, y->source) ||
            x->virtual_size != y->virtual_size || x->chunk_size != y->chunk_size ||
            memcmp(x->index_sha256, y->index_sha256, VV_SHA256_LEN) ||
            x->data_chunks != y->data_chunks || x->zero_chunks != y->zero_chunks ||
            x->hole_chunks != y->hole_chunks)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vv_manifest m, m2;
    char err[256];
    char *text, *text2;

    int r;

    err[0] = '\0';
    if ((r = vv_manifest_parse(data, size, &m, err, sizeof(err))) != 0) {
        if (m.ndisks || m.disks || m.vm_name || m.vm_uuid || m.domain_xml)
            abort();
        if ((r == VV_E_CORRUPT || r == VV_E_BAD_VERSION) && !err[0])
            abort(); /* a refusal always says why */
        return 0;
    }
    if (!vv_point_id_valid(m.id) || m.ndisks < 1 || m.ndisks > VV_MAX_DISKS ||
        !strcmp(m.id, m.parent))
        abort();
    text = vv_manifest_serialize(&m);
    if (!text)
        abort();
    if (vv_manifest_parse(text, strlen(text), &m2, err, sizeof(err)) != 0)
        abort();
    same(&m, &m2);
    text2 = vv_manifest_serialize(&m2);
    if (!text2 || strcmp(text, text2) != 0)
        abort();
    free(text);
    free(text2);
    vv_manifest_release(&m);
    vv_manifest_release(&m2);
    return 0;
}
