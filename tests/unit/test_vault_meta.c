/*
 * test_vault_meta.c: the vault metadata object of a store (vault.json, what `vmvaultd
 * catalog rebuild` reads): absent in a new store, written and read back byte for
 * byte, replaced, readable through the backend alone (without the vault key), and
 * kept out of the recovery points' listing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "harness.h"
#include "key.h"
#include "store/backend.h"
#include "store/repo.h"
#include "util.h"

static int count_point(const char *id, void *arg)
{
    (void)id;
    (*(int *)arg)++;
    return 0;
}

TEST(meta_round_trip)
{
    char dir[4300], key[4300];
    static const char one[] = "{\"format\":1,\"vaultId\":\"x\",\"name\":\"v1\",\"items\":[]}";
    static const char two[] = "{\"format\":1,\"vaultId\":\"x\",\"name\":\"v1\",\"items\":"
                              "[{\"name\":\"web1\",\"vmUuid\":\"u\",\"host\":\"h\",\"region\":\"r\"}]}";
    struct vv_repo *repo = NULL;
    struct vv_buf b = VV_BUF_INIT;
    int n = 0;

    snprintf(dir, sizeof(dir), "%s/meta-store", vv_test_tmpdir());
    snprintf(key, sizeof(key), "%s/meta.key", vv_test_tmpdir());
    unlink(key);
    CHECK_OK(vv_key_generate(key));
    CHECK_OK(vv_repo_open(dir, key, 1, &repo));
    if (!repo)
        return;
    CHECK_EQ(vv_repo_meta_get(repo, &b), VV_E_NOTFOUND);
    CHECK_OK(vv_repo_meta_put(repo, one, strlen(one)));
    CHECK_OK(vv_repo_meta_get(repo, &b));
    CHECK_EQ(b.len, strlen(one));
    CHECK_MEM(b.data, one, strlen(one));
    CHECK_OK(vv_repo_meta_put(repo, two, strlen(two)));
    CHECK_OK(vv_repo_meta_get(repo, &b));
    CHECK_EQ(b.len, strlen(two));
    CHECK_MEM(b.data, two, strlen(two));
    CHECK_OK(vv_repo_point_list(repo, count_point, &n));
    CHECK_EQ(n, 0);
    vv_repo_close(repo);

    /* the backend alone (no key) reads it: a store whose key is lost can be named */
    {
        struct vv_backend *be = vv_backend_local_open(dir, 0);
        CHECK(be != NULL);
        if (be) {
            CHECK_OK(vv_repo_meta_read(be, &b));
            CHECK_EQ(b.len, strlen(two));
            CHECK_MEM(b.data, two, strlen(two));
            vv_backend_free(be);
        }
    }
    vv_buf_release(&b);
}
