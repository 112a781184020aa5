/*
 * containers.c: registered hosts (containers) and the VMs they report
 * (protectable items).
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "err.h"

#define T(col) "strftime('%Y-%m-%dT%H:%M:%SZ', " col ", 'unixepoch')"

#define CONTAINER_SELECT                                                                   \
    "SELECT c.name, v.name AS vault, c.region, c.agent_version AS agentVersion, "           \
    "  " T("c.registered") " AS registeredAt, " T("c.last_seen") " AS lastSeen, "           \
    "  (SELECT COUNT(*) FROM protectable_items x WHERE x.container_id = c.id) "             \
    "    AS protectableItemCount, "                                                       \
    "  (SELECT COUNT(*) FROM protected_items p WHERE p.container_id = c.id) "               \
    "    AS protectedItemCount "                                                          \
    "FROM containers c JOIN vaults v ON v.id = c.vault_id WHERE c.vault_id = ? "

void vv_api_container_list(struct vv_call *c)
{
    int64_t vid;
    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0))
        return;
    vv_reply_list(c, vv_db_rows(c->srv->db, CONTAINER_SELECT "ORDER BY c.name", "i", vid));
}

void vv_api_container_show(struct vv_call *c)
{
    int64_t vid;
    int err;
    json_t *v;
    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0))
        return;
    v = vv_db_row(c->srv->db, &err, CONTAINER_SELECT "AND c.name = ?", "is", vid, c->param[1]);
    if (!v) {
        if (err == VV_E_NOTFOUND)
            vv_reply_error(c, 404, "ContainerNotFound",
                           "no host '%s' is registered with vault '%s'", c->param[1], c->param[0]);
        else
            vv_reply_internal(c, err);
        return;
    }
    vv_reply(c, 200, v);
}

void vv_api_container_delete(struct vv_call *c)
{
    int64_t vid, cid = 0, items = 0;
    int r;

    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0))
        return;
    r = vv_db_int(c->srv->db, &cid, "SELECT id FROM containers WHERE vault_id = ? AND name = ?",
                  "is", vid, c->param[1]);
    if (r <= 0) {
        if (r == 0)
            vv_reply_error(c, 404, "ContainerNotFound",
                           "no host '%s' is registered with vault '%s'", c->param[1], c->param[0]);
        else
            vv_reply_internal(c, r);
        return;
    }
    if (vv_db_int(c->srv->db, &items, "SELECT COUNT(*) FROM protected_items WHERE container_id = ?",
                  "i", cid) < 0) {
        vv_reply_internal(c, VV_E_IO);
        return;
    }
    if (items) {
        vv_reply_error(c, 409, "ContainerHasProtectedItems",
                       "host '%s' has %lld protected item(s) in vault '%s'; stop their "
                       "protection with their backup data deleted first",
                       c->param[1], (long long)items, c->param[0]);
        return;
    }
    if ((r = vv_db_run(c->srv->db, "DELETE FROM containers WHERE id = ?", "i", cid)) < 0) {
        vv_reply_internal(c, r);
        return;
    }
    vv_audit(c, "UnregisterContainer", c->param[1], c->param[0]);
    vv_reply(c, 200, NULL);
}

void vv_api_protectable_list(struct vv_call *c)
{
    const char *container = vv_http_query(c->req, "container");
    int64_t vid;

    if (vv_find_vault(c, c->param[0], &vid, NULL, NULL, 0))
        return;
    vv_reply_list(
        c, vv_db_rows(c->srv->db,
                      "SELECT x.name, x.uuid, c.name AS container, c.region, x.state, "
                      "  x.disks AS \"disks:json\", "
                      "  CASE WHEN p.id IS NULL THEN 'NotProtected' "
                      "       WHEN p.vault_id = c.vault_id AND p.deleted IS NOT NULL "
                      "         THEN 'SoftDeleted' "
                      "       WHEN p.vault_id = c.vault_id THEN 'Protected' "
                      "       ELSE 'ProtectedInAnotherVault' END AS protectionState "
                      "FROM protectable_items x JOIN containers c ON c.id = x.container_id "
                      "  LEFT JOIN protected_items p ON p.vm_uuid = x.uuid "
                      "WHERE c.vault_id = ? AND (? IS NULL OR c.name = ?) "
                      "ORDER BY c.name, x.name",
                      "iss", vid, container, container));
}
