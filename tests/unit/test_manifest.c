/*
 * test_manifest.c: the recovery-point manifest: point ids and disk names, a full
 * round trip, and the strict parser refusing each kind of malformed manifest while
 * accepting unknown extra fields.
 */
#include <stdlib.h>

#include "err.h"
#include "harness.h"
#include "json.h"
#include "format/manifest.h"
#include "util.h"

static const char *xml = "<domain type='kvm'>\n  <name>web \"01\"</name>\n"
                         "  <description>tab\there, backslash \\ and caf\xc3\xa9</description>\n"
                         "</domain>\n";

static void fill_full(struct vv_manifest *m)
{
    struct vv_manifest_disk *d;
    static const char *names[] = {"vda", "vdb", "sdc.data_1-x"};
    vv_manifest_init(m);
    snprintf(m->id, sizeof(m->id), "rp-20261127-183728-042-1a2b3c4d");
    snprintf(m->parent, sizeof(m->parent), "rp-20261126-183712-512-9f8e7d6c");
    m->created = 1795804648;
    m->expires = 1795804648 + 30 * 86400;
    m->consistency = VV_APPLICATION_CONSISTENT;
    m->vm_name = strdup("web01");
    m->vm_uuid = strdup("5f0c1e2a-1111-2222-3333-444455556666");
    m->domain_xml = strdup(xml);
    for (int i = 0; i < 3; i++) {
        CHECK_OK(vv_manifest_add_disk(m, names[i], i == 1 ? NULL : "/var/lib/img \"x\".qcow2",
                                      &d));
        d->virtual_size = (4ull << 30) + (uint64_t)i * 12345;
        d->chunk_size = 65536u << i;
        for (int j = 0; j < VV_SHA256_LEN; j++)
            d->index_sha256[j] = (uint8_t)(i * 40 + j);
        d->data_chunks = 7812 + (uint64_t)i;
        d->zero_chunks = 240;
        d->hole_chunks = (uint64_t)i * 1000000000000ull;
    }
}

static int str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static void check_same(const struct vv_manifest *a, const struct vv_manifest *b)
{
    CHECK(!strcmp(a->id, b->id));
    CHECK(!strcmp(a->parent, b->parent));
    CHECK_EQ(a->created, b->created);
    CHECK_EQ(a->expires, b->expires);
    CHECK_EQ(a->consistency, b->consistency);
    CHECK(str_eq(a->vm_name, b->vm_name));
    CHECK(str_eq(a->vm_uuid, b->vm_uuid));
    CHECK(str_eq(a->domain_xml, b->domain_xml));
    CHECK_EQ(a->ndisks, b->ndisks);
    for (size_t i = 0; i < a->ndisks && i < b->ndisks; i++) {
        const struct vv_manifest_disk *x = &a->disks[i], *y = &b->disks[i];
        CHECK(!strcmp(x->name, y->name));
        CHECK(str_eq(x->source, y->source));
        CHECK_EQ(x->virtual_size, y->virtual_size);
        CHECK_EQ(x->chunk_size, y->chunk_size);
        CHECK_MEM(x->index_sha256, y->index_sha256, VV_SHA256_LEN);
        CHECK_EQ(x->data_chunks, y->data_chunks);
        CHECK_EQ(x->zero_chunks, y->zero_chunks);
        CHECK_EQ(x->hole_chunks, y->hole_chunks);
    }
}

TEST(point_ids_and_disk_names)
{
    char id[VV_POINT_ID_MAX], id2[VV_POINT_ID_MAX], long_id[80];
    CHECK(vv_point_id_valid("rp-1"));
    CHECK(vv_point_id_valid("rp-20261127-183728-042-1a2b3c4d"));
    CHECK(!vv_point_id_valid("rp-"));
    CHECK(!vv_point_id_valid("rp-ABC"));
    CHECK(!vv_point_id_valid("rp-a_b"));
    CHECK(!vv_point_id_valid("rp-a/b"));
    CHECK(!vv_point_id_valid("xx-abc"));
    CHECK(!vv_point_id_valid(""));
    CHECK(!vv_point_id_valid(NULL));
    memset(long_id, 'a', sizeof(long_id));
    memcpy(long_id, "rp-", 3);
    long_id[63] = '\0';
    CHECK(vv_point_id_valid(long_id));
    long_id[63] = 'a';
    long_id[64] = '\0';
    CHECK(!vv_point_id_valid(long_id));

    CHECK_OK(vv_point_id_new(1795804648042ull, id));
    CHECK(vv_point_id_valid(id));
    CHECK(!strncmp(id, "rp-20261127-183728-042-", 23));
    CHECK_EQ(strlen(id), 31);
    CHECK_OK(vv_point_id_new(1795804648042ull, id2));
    CHECK(strcmp(id, id2) != 0); /* random suffix */
    CHECK_OK(vv_point_id_new(1795804648043ull, id2));
    CHECK(strcmp(id, id2) < 0); /* later sorts later */

    CHECK(vv_disk_name_valid("vda"));
    CHECK(vv_disk_name_valid("0"));
    CHECK(vv_disk_name_valid("a.b_c-d"));
    CHECK(!vv_disk_name_valid(""));
    CHECK(!vv_disk_name_valid(".vda"));
    CHECK(!vv_disk_name_valid("-vda"));
    CHECK(!vv_disk_name_valid("Vda"));
    CHECK(!vv_disk_name_valid("a/b"));
    CHECK(!vv_disk_name_valid(NULL));

    enum vv_consistency c;
    for (int i = 0; i < 3; i++) {
        CHECK_OK(vv_consistency_parse(vv_consistency_name((enum vv_consistency)i), &c));
        CHECK_EQ(c, i);
    }
    CHECK_EQ(vv_consistency_parse("crashconsistent", &c), VV_E_INVAL);
    CHECK_EQ(vv_consistency_parse(NULL, &c), VV_E_INVAL);
}

TEST(add_disk_refuses_bad_and_duplicate_names)
{
    struct vv_manifest m;
    vv_manifest_init(&m);
    CHECK_OK(vv_manifest_add_disk(&m, "vda", NULL, NULL));
    CHECK_EQ(vv_manifest_add_disk(&m, "vda", "/x", NULL), VV_E_EXISTS);
    CHECK_EQ(vv_manifest_add_disk(&m, "VDA", NULL, NULL), VV_E_INVAL);
    CHECK_EQ(vv_manifest_add_disk(&m, "", NULL, NULL), VV_E_INVAL);
    CHECK_EQ(m.ndisks, 1);
    CHECK(vv_manifest_find_disk(&m, "vda") != NULL);
    CHECK(vv_manifest_find_disk(&m, "vdb") == NULL);
    for (int i = 1; i < VV_MAX_DISKS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "d%d", i);
        CHECK_OK(vv_manifest_add_disk(&m, name, NULL, NULL));
    }
    CHECK_EQ(vv_manifest_add_disk(&m, "one-too-many", NULL, NULL), VV_E_INVAL);
    vv_manifest_release(&m);
    vv_manifest_release(&m); /* safe twice */
}

TEST(round_trip_all_fields)
{
    struct vv_manifest m, back, again;
    char err[256] = "";
    char *text, *text2;

    fill_full(&m);
    text = vv_manifest_serialize(&m);
    CHECK(text != NULL);
    CHECK_OK(vv_manifest_parse(text, strlen(text), &back, err, sizeof(err)));
    check_same(&m, &back);
    CHECK(!strcmp(back.domain_xml, xml));
    /* serializing the parsed manifest gives the same text */
    text2 = vv_manifest_serialize(&back);
    CHECK(text2 && !strcmp(text, text2));
    CHECK_OK(vv_manifest_parse(text2, strlen(text2), &again, err, sizeof(err)));
    check_same(&m, &again);
    /* the documented field names and forms */
    CHECK(strstr(text, "\"format\":1") != NULL);
    CHECK(strstr(text, "\"createdAt\":\"2026-11-27T18:37:28Z\"") != NULL);
    CHECK(strstr(text, "\"recoveryPointType\":\"ApplicationConsistent\"") != NULL);
    CHECK(strstr(text, "\"parentId\":\"rp-20261126-183712-512-9f8e7d6c\"") != NULL);
    CHECK(strstr(text, "\"indexSha256\":\"000102030405") != NULL);
    free(text);
    free(text2);
    vv_manifest_release(&m);
    vv_manifest_release(&back);
    vv_manifest_release(&again);
}

TEST(round_trip_minimal)
{
    struct vv_manifest m, back;
    char err[256];
    char *text;
    struct vv_manifest_disk *d;

    vv_manifest_init(&m);
    snprintf(m.id, sizeof(m.id), "rp-1");
    m.created = 1;
    CHECK_OK(vv_manifest_add_disk(&m, "vda", NULL, &d));
    d->chunk_size = 4096;
    text = vv_manifest_serialize(&m);
    CHECK(text != NULL);
    CHECK(strstr(text, "\"parentId\":null") != NULL);
    CHECK(strstr(text, "\"expiresAt\":null") != NULL);
    CHECK(strstr(text, "\"vm\":null") != NULL);
    CHECK(strstr(text, "\"domainXml\":null") != NULL);
    CHECK_OK(vv_manifest_parse(text, strlen(text), &back, err, sizeof(err)));
    check_same(&m, &back);
    CHECK_EQ(back.parent[0], '\0');
    CHECK(back.vm_name == NULL && back.vm_uuid == NULL && back.domain_xml == NULL);
    CHECK_EQ(back.consistency, VV_CRASH_CONSISTENT);
    free(text);
    vv_manifest_release(&m);
    vv_manifest_release(&back);
}

/* The full manifest as a jansson object, for mutation. */
static json_t *full_json(void)
{
    struct vv_manifest m;
    char *text;
    json_t *j;
    fill_full(&m);
    text = vv_manifest_serialize(&m);
    j = vv_json_parse(text, strlen(text), NULL, 0);
    free(text);
    vv_manifest_release(&m);
    return j;
}

/* Parse j; return the code, check a failure left a reason and an empty manifest. */
static int parse_json(json_t *j)
{
    struct vv_manifest m;
    char err[256] = "";
    char *text = vv_json_dump(j);
    int r = vv_manifest_parse(text, strlen(text), &m, err, sizeof(err));
    if (r < 0) {
        CHECK(err[0] != '\0');
        CHECK(m.ndisks == 0 && m.disks == NULL && m.domain_xml == NULL && m.vm_name == NULL);
    }
    vv_manifest_release(&m);
    free(text);
    json_decref(j);
    return r;
}

static json_t *disk0(json_t *j) { return json_array_get(json_object_get(j, "disks"), 0); }

#define EXPECT_CORRUPT(label, stmt)                                                         \
    do {                                                                                    \
        json_t *j = full_json();                                                            \
        stmt;                                                                               \
        int r_ = parse_json(j);                                                             \
        if (r_ != VV_E_CORRUPT)                                                             \
            vv_test_fail(__FILE__, __LINE__, "%s: %s", label, vv_errname(r_));              \
    } while (0)

TEST(parse_accepts_the_unmodified_json)
{
    CHECK_OK(parse_json(full_json()));
}

TEST(parse_rejects_missing_required_fields)
{
    static const char *top[] = {"format", "id", "createdAt", "recoveryPointType", "disks"};
    static const char *disk[] = {"name",      "indexSha256", "virtualSize", "chunkSize",
                                 "dataChunks", "zeroChunks",  "holeChunks"};
    for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
        EXPECT_CORRUPT(top[i], json_object_del(j, top[i]));
        EXPECT_CORRUPT(top[i], json_object_set_new(j, top[i], json_null()));
    }
    for (size_t i = 0; i < sizeof(disk) / sizeof(disk[0]); i++) {
        EXPECT_CORRUPT(disk[i], json_object_del(disk0(j), disk[i]));
        EXPECT_CORRUPT(disk[i], json_object_set_new(disk0(j), disk[i], json_null()));
    }
    /* optional ones may be missing or null */
    static const char *opt[] = {"parentId", "expiresAt", "vm", "domainXml"};
    for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++) {
        json_t *j = full_json();
        json_object_del(j, opt[i]);
        CHECK_OK(parse_json(j));
        j = full_json();
        json_object_set_new(j, opt[i], json_null());
        CHECK_OK(parse_json(j));
    }
    json_t *j = full_json();
    json_object_del(disk0(j), "source");
    CHECK_OK(parse_json(j));
}

TEST(parse_rejects_wrong_types)
{
    EXPECT_CORRUPT("format string", json_object_set_new(j, "format", json_string("1")));
    EXPECT_CORRUPT("format real", json_object_set_new(j, "format", json_real(1.0)));
    EXPECT_CORRUPT("format negative", json_object_set_new(j, "format", json_integer(-1)));
    EXPECT_CORRUPT("id number", json_object_set_new(j, "id", json_integer(5)));
    EXPECT_CORRUPT("parentId number", json_object_set_new(j, "parentId", json_integer(5)));
    EXPECT_CORRUPT("createdAt number", json_object_set_new(j, "createdAt", json_integer(1)));
    EXPECT_CORRUPT("createdAt form", json_object_set_new(j, "createdAt", json_string("2026-11-27 18:37:28")));
    EXPECT_CORRUPT("createdAt epoch", json_object_set_new(j, "createdAt", json_string("1970-01-01T00:00:00Z")));
    EXPECT_CORRUPT("expiresAt form", json_object_set_new(j, "expiresAt", json_string("tomorrow")));
    EXPECT_CORRUPT("expiresAt bool", json_object_set_new(j, "expiresAt", json_true()));
    EXPECT_CORRUPT("type number", json_object_set_new(j, "recoveryPointType", json_integer(0)));
    EXPECT_CORRUPT("vm string", json_object_set_new(j, "vm", json_string("web01")));
    EXPECT_CORRUPT("vm.name number", json_object_set_new(json_object_get(j, "vm"), "name", json_integer(1)));
    EXPECT_CORRUPT("vm.uuid array", json_object_set_new(json_object_get(j, "vm"), "uuid", json_array()));
    EXPECT_CORRUPT("domainXml object", json_object_set_new(j, "domainXml", json_object()));
    EXPECT_CORRUPT("disks object", json_object_set_new(j, "disks", json_object()));
    EXPECT_CORRUPT("disks empty", json_object_set_new(j, "disks", json_array()));
    EXPECT_CORRUPT("disk string", json_array_set_new(json_object_get(j, "disks"), 1, json_string("vdb")));
    EXPECT_CORRUPT("disk name number", json_object_set_new(disk0(j), "name", json_integer(1)));
    EXPECT_CORRUPT("disk name invalid", json_object_set_new(disk0(j), "name", json_string("VDA")));
    EXPECT_CORRUPT("disk name empty", json_object_set_new(disk0(j), "name", json_string("")));
    EXPECT_CORRUPT("disk source number", json_object_set_new(disk0(j), "source", json_integer(1)));
    EXPECT_CORRUPT("virtualSize string", json_object_set_new(disk0(j), "virtualSize", json_string("10")));
    EXPECT_CORRUPT("virtualSize negative", json_object_set_new(disk0(j), "virtualSize", json_integer(-1)));
    EXPECT_CORRUPT("virtualSize real", json_object_set_new(disk0(j), "virtualSize", json_real(1.5)));
    EXPECT_CORRUPT("dataChunks negative", json_object_set_new(disk0(j), "dataChunks", json_integer(-5)));
    EXPECT_CORRUPT("zeroChunks bool", json_object_set_new(disk0(j), "zeroChunks", json_false()));
    EXPECT_CORRUPT("holeChunks string", json_object_set_new(disk0(j), "holeChunks", json_string("0")));
    EXPECT_CORRUPT("indexSha256 number", json_object_set_new(disk0(j), "indexSha256", json_integer(0)));
    /* more than 256 disks */
    {
        json_t *j = full_json(), *disks = json_array();
        for (int i = 0; i < VV_MAX_DISKS + 1; i++) {
            json_t *d = json_deep_copy(disk0(j));
            char name[16];
            snprintf(name, sizeof(name), "d%d", i);
            json_object_set_new(d, "name", json_string(name));
            json_array_append_new(disks, d);
        }
        json_t *copy = json_deep_copy(j);
        json_object_set_new(j, "disks", disks);
        CHECK_EQ(parse_json(j), VV_E_CORRUPT);
        /* exactly 256 is fine */
        json_t *d256 = json_array();
        for (int i = 0; i < VV_MAX_DISKS; i++) {
            json_t *d = json_deep_copy(disk0(copy));
            char name[16];
            snprintf(name, sizeof(name), "d%d", i);
            json_object_set_new(d, "name", json_string(name));
            json_array_append_new(d256, d);
        }
        json_object_set_new(copy, "disks", d256);
        CHECK_OK(parse_json(copy));
    }
}

TEST(parse_rejects_bad_ids_and_parents)
{
    static const char *bad[] = {"", "rp-", "RP-1", "rp-A", "rp_1", "x", "rp-1/..", "rp-1 ",
                                "rp-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        EXPECT_CORRUPT(bad[i], json_object_set_new(j, "id", json_string(bad[i])));
        EXPECT_CORRUPT(bad[i], json_object_set_new(j, "parentId", json_string(bad[i])));
    }
    EXPECT_CORRUPT("parent equal to id",
                   json_object_set_new(j, "parentId", json_string("rp-20261127-183728-042-1a2b3c4d")));
}

TEST(parse_rejects_duplicate_disks_and_bad_disk_fields)
{
    EXPECT_CORRUPT("duplicate name",
                   json_object_set_new(json_array_get(json_object_get(j, "disks"), 2), "name",
                                       json_string("vda")));
    static const json_int_t bad_cs[] = {0, 1, 2048, 4095, 4097, 6144, 65535, 3 << 20, 32 << 20,
                                        1ll << 40};
    for (size_t i = 0; i < sizeof(bad_cs) / sizeof(bad_cs[0]); i++)
        EXPECT_CORRUPT("chunk size", json_object_set_new(disk0(j), "chunkSize", json_integer(bad_cs[i])));
    static const json_int_t good_cs[] = {4096, 1 << 20, 16 << 20};
    for (size_t i = 0; i < sizeof(good_cs) / sizeof(good_cs[0]); i++) {
        json_t *j = full_json();
        json_object_set_new(disk0(j), "chunkSize", json_integer(good_cs[i]));
        CHECK_OK(parse_json(j));
    }
    static const char *bad_sha[] = {
        "",
        "00",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",   /* 63 */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0", /* 65 */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e 1",
    };
    for (size_t i = 0; i < sizeof(bad_sha) / sizeof(bad_sha[0]); i++)
        EXPECT_CORRUPT(bad_sha[i], json_object_set_new(disk0(j), "indexSha256", json_string(bad_sha[i])));
}

TEST(parse_rejects_unknown_point_type)
{
    static const char *bad[] = {"", "crashconsistent", "Crash", "CrashConsistent ", "Unknown"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        EXPECT_CORRUPT(bad[i], json_object_set_new(j, "recoveryPointType", json_string(bad[i])));
    for (int c = 0; c < 3; c++) {
        json_t *j = full_json();
        json_object_set_new(j, "recoveryPointType",
                            json_string(vv_consistency_name((enum vv_consistency)c)));
        CHECK_OK(parse_json(j));
    }
}

TEST(parse_rejects_other_formats)
{
    json_t *j = full_json();
    json_object_set_new(j, "format", json_integer(2));
    CHECK_EQ(parse_json(j), VV_E_BAD_VERSION);
    j = full_json();
    json_object_set_new(j, "format", json_integer(0));
    CHECK_EQ(parse_json(j), VV_E_BAD_VERSION);
    j = full_json();
    json_object_set_new(j, "format", json_integer(1ll << 40));
    CHECK_EQ(parse_json(j), VV_E_BAD_VERSION);
}

TEST(parse_rejects_non_json)
{
    static const char *bad[] = {"",      "{",          "}",    "[]",  "null", "1",
                                "\"x\"", "not json",   "{}",   "{\"format\":1}",
                                "{\"format\":1,\"format\":1}"};
    struct vv_manifest m;
    char err[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        int r = vv_manifest_parse(bad[i], strlen(bad[i]), &m, err, sizeof(err));
        if (r != VV_E_CORRUPT)
            vv_test_fail(__FILE__, __LINE__, "'%s': %s", bad[i], vv_errname(r));
        CHECK(err[0] != '\0');
        vv_manifest_release(&m);
    }
    /* trailing bytes after a valid manifest, a duplicated key, invalid UTF-8 */
    {
        json_t *j = full_json();
        char *text = vv_json_dump(j), *t2 = malloc(strlen(text) + 32);
        snprintf(t2, strlen(text) + 32, "%s x", text);
        CHECK_EQ(vv_manifest_parse(t2, strlen(t2), &m, err, sizeof(err)), VV_E_CORRUPT);
        /* a duplicated "id" key */
        snprintf(t2, strlen(text) + 32, "{\"id\":\"rp-2\",%s", text + 1);
        CHECK_EQ(vv_manifest_parse(t2, strlen(t2), &m, err, sizeof(err)), VV_E_CORRUPT);
        /* invalid UTF-8 inside a string */
        char *p = strstr(text, "web01");
        CHECK(p != NULL);
        if (p) {
            p[0] = (char)0xc3;
            p[1] = (char)0x28;
        }
        CHECK_EQ(vv_manifest_parse(text, strlen(text), &m, err, sizeof(err)), VV_E_CORRUPT);
        /* a NUL byte inside a string, raw or escaped */
        free(text);
        text = vv_json_dump(j);
        size_t tl = strlen(text);
        p = strstr(text, "web01");
        CHECK(p != NULL);
        if (p) {
            p[2] = '\0';
            CHECK_EQ(vv_manifest_parse(text, tl, &m, err, sizeof(err)), VV_E_CORRUPT);
        }
        free(text);
        json_object_set_new(json_object_get(j, "vm"), "name", json_stringn("we\0b", 4));
        text = vv_json_dump(j);
        CHECK(text != NULL && strstr(text, "\\u0000") != NULL);
        if (text)
            CHECK_EQ(vv_manifest_parse(text, strlen(text), &m, err, sizeof(err)), VV_E_CORRUPT);
        free(text);
        free(t2);
        json_decref(j);
    }
}

TEST(parse_accepts_unknown_fields)
{
    json_t *j = full_json();
    json_object_set_new(j, "futureField", json_pack("{s:[i,i],s:s}", "a", 1, 2, "b", "c"));
    json_object_set_new(j, "zzz", json_null());
    json_object_set_new(disk0(j), "encryption", json_string("none"));
    json_object_set_new(json_object_get(j, "vm"), "hypervisor", json_string("kvm"));
    struct vv_manifest m, ref;
    char err[256];
    char *text = vv_json_dump(j);
    CHECK_OK(vv_manifest_parse(text, strlen(text), &m, err, sizeof(err)));
    fill_full(&ref);
    check_same(&ref, &m);
    vv_manifest_release(&ref);
    vv_manifest_release(&m);
    free(text);
    json_decref(j);
}
