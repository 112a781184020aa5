#!/usr/bin/env bash
# Access control: users of each role and their tokens made through the CLI; each role
# allowed and denied exactly what docs/api.md's roles table says; revoked, missing and
# garbage tokens are 401; agent tokens reach only their own host's work; destructive
# operations land in the audit log with their actor.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_server.sh"
cd "$WORK"
srv_start "$WORK/data" || finish

# ---- users and tokens ------------------------------------------------------------
for u in reader:Reader operator:Operator contrib:Contributor owner2:Owner; do
    check_out "user create ${u%%:*} (${u#*:})" "j[\"name\"] == \"${u%%:*}\" and j[\"role\"] == \"${u#*:}\"" \
        "$VMVAULT" user create --name "${u%%:*}" --role "${u#*:}"
done
check_refused "a duplicate user is refused" 1 UserAlreadyExists "" "$VMVAULT" user create --name reader --role Reader
check_api "an unknown role is refused" 400 InvalidParameter POST /api/v1/users '{"name": "zed", "role": "Admin"}'
check "the refusal names the field" grep -q role "$API_BODY"
check_api "a bad user name is refused" 400 InvalidParameter POST /api/v1/users '{"name": "a b", "role": "Reader"}'
check_out "user list shows every user with its role" \
    '{u["name"]: u["role"] for u in L} == {"owner": "Owner", "reader": "Reader", "operator": "Operator", "contrib": "Contributor", "owner2": "Owner"}' \
    "$VMVAULT" user list

# token create prints the secret once; TOK_x and TID_x per user
for u in reader operator contrib owner2; do
    out=$("$VMVAULT" token create --user "$u" 2>"$WORK/.err") || cat "$WORK/.err" >&2
    t=$(printf '%s' "$out" | json_value 'j["token"]' 2>/dev/null)
    id=$(printf '%s' "$out" | json_value 'j["id"]' 2>/dev/null)
    if [ -n "$t" ] && [ -n "$id" ]; then pass "token create for $u"
    else fail "token create for $u" "$(tail -n 3 "$WORK/.err") $(printf "%s" "$out" | tail -n 3)"; fi
    printf -v "TOK_$u" '%s' "$t"; printf -v "TID_$u" '%s' "$id"
done
check_refused "a token for an unknown user" 1 UserNotFound "" "$VMVAULT" token create --user nobody
check_out "token list shows tokens without secrets" \
    '"'"$TID_reader"'" in [t["id"] for t in L] and all("token" not in t for t in L) and all(t["revoked"] is False for t in L if t["user"] != "owner")' \
    "$VMVAULT" token list
check "token list hides the secret" sh -c "! '$VMVAULT' token list | grep -qF '$TOK_reader'"
for u in reader operator contrib owner2; do
    t=TOK_$u; API_TOKEN=${!t} api GET /api/v1/whoami
    check_json "whoami as $u" 'j["user"] == "'"$u"'" and j["token"] == "'"$(eval echo \$TID_$u)"'"'
done

# ---- a vault with a registered host, to have items and jobs ------------------------
"$VMVAULT" vault create --name v1 --location westeurope >/dev/null 2>&1
"$VMVAULT" vault create --name vdel --location westeurope >/dev/null 2>&1
run_vvapi call POST /api/v1/vaults/v1/credentials '{}' > creds1.json 2>/dev/null
check "agent registers" run_vvapi --state a1.json agent register --creds creds1.json --host host1
check "agent reports inventory" run_vvapi --state a1.json agent inventory \
    web1:11111111-1111-4111-8111-111111111111 web2:22222222-2222-4222-8222-222222222222 \
    web3:33333333-3333-4333-8333-333333333333
AGENT1=$(json_get a1.json 'j["token"]' 2>/dev/null)
cat > pol.json <<'EOF'
{"timeZone": "UTC",
 "schedulePolicy": {"scheduleRunFrequency": "Daily", "scheduleRunTimes": ["02:00"]},
 "instantRpRetentionRangeInDays": 2,
 "retentionPolicy": {"dailySchedule": {"retentionDuration": {"count": 30, "durationType": "Days"}}}}
EOF

# ---- Reader --------------------------------------------------------------------------
R=$TOK_reader
check_out "Reader can list vaults" '"v1" in [v["name"] for v in L]' cli_as "$R" vault list
check_out "Reader can show policies" '[p["name"] for p in L] == ["DefaultPolicy"]' cli_as "$R" policy list --vault-name v1
check "Reader can list containers" cli_as "$R" container list --vault-name v1
check "Reader can list protectable items" cli_as "$R" protectable-item list --vault-name v1
check "Reader can list jobs" cli_as "$R" job list --vault-name v1
check_refused "Reader cannot create a vault" 1 AuthorizationFailed "" cli_as "$R" vault create --name rv --location westeurope
API_TOKEN=$R check_api "Reader cannot create a vault (API: 403)" 403 AuthorizationFailed POST /api/v1/vaults '{"name": "rv", "location": "westeurope"}'
check_refused "Reader cannot create a policy" 1 AuthorizationFailed "" cli_as "$R" policy create --vault-name v1 --name rp --policy pol.json
check_refused "Reader cannot enable protection" 1 AuthorizationFailed "" cli_as "$R" protection enable-for-vm --vault-name v1 --vm web1 --policy-name DefaultPolicy
check_refused "Reader cannot get vault credentials" 1 AuthorizationFailed "" cli_as "$R" vault credentials --name v1 --file r-creds.json
check "and no credentials file is written" test ! -e r-creds.json
check_refused "Reader cannot list users" 1 AuthorizationFailed "" cli_as "$R" user list
API_TOKEN=$R check_api "Reader cannot read the audit log" 403 AuthorizationFailed GET /api/v1/audit
API_TOKEN=$R check_api "Reader cannot change backup properties" 403 AuthorizationFailed PATCH /api/v1/vaults/v1/backupProperties '{"storageRedundancy": "LocallyRedundant"}'

# ---- Operator --------------------------------------------------------------------
O=$TOK_operator
check_out "Operator can list vaults" '"v1" in [v["name"] for v in L]' cli_as "$O" vault list
check "Operator can enable protection" cli_as "$O" protection enable-for-vm --vault-name v1 --vm web1 --policy-name DefaultPolicy
out=$(cli_as "$O" protection backup-now --vault-name v1 --item-name web1 2>"$WORK/.err") || cat "$WORK/.err" >&2
J1=$(printf '%s' "$out" | json_value 'j["id"]' 2>/dev/null)
if [ -n "$J1" ]; then pass "Operator can back up now"; else fail "Operator can back up now" "$out"; fi
check "Operator can cancel a job" cli_as "$O" job stop --vault-name v1 --name "$J1"
check_out "the job is cancelled" 'j["status"] == "Cancelled"' cli_as "$O" job show --vault-name v1 --name "$J1"
check_refused "Operator cannot create a policy" 1 AuthorizationFailed "" cli_as "$O" policy create --vault-name v1 --name op --policy pol.json
check_refused "Operator cannot change a policy" 1 AuthorizationFailed "" cli_as "$O" policy set --vault-name v1 --name DefaultPolicy --policy pol.json
check_refused "Operator cannot disable protection deleting data" 1 AuthorizationFailed "" \
    cli_as "$O" protection disable --vault-name v1 --item-name web1 --delete-backup-data
check_refused "Operator cannot disable protection (retain data)" 1 AuthorizationFailed "" \
    cli_as "$O" protection disable --vault-name v1 --item-name web1
check_out "the item is still protected" 'j["protectionState"] in ("IRPending", "Protected")' \
    cli_as "$O" item show --vault-name v1 --item-name web1
check_refused "Operator cannot create a vault" 1 AuthorizationFailed "" cli_as "$O" vault create --name ov --location westeurope
check_refused "Operator cannot set backup properties" 1 AuthorizationFailed "" \
    cli_as "$O" vault backup-properties set --name v1 --backup-storage-redundancy LocallyRedundant
check_refused "Operator cannot get vault credentials" 1 AuthorizationFailed "" cli_as "$O" vault credentials --name v1 --file o-creds.json
API_TOKEN=$O check_api "Operator cannot unregister a container" 403 AuthorizationFailed DELETE /api/v1/vaults/v1/containers/host1
check_refused "Operator cannot create users" 1 AuthorizationFailed "" cli_as "$O" user create --name x --role Owner

# ---- Contributor -----------------------------------------------------------------
C=$TOK_contrib
check_out "Contributor can create a vault" 'j["name"] == "cv"' cli_as "$C" vault create --name cv --location westeurope
check_out "Contributor can create a policy" 'j["name"] == "cpol"' cli_as "$C" policy create --vault-name v1 --name cpol --policy pol.json
check "Contributor can change a policy" cli_as "$C" policy set --vault-name v1 --name cpol --policy pol.json
check "Contributor can delete a policy" cli_as "$C" policy delete --vault-name v1 --name cpol
check "Contributor can set backup properties" cli_as "$C" vault backup-properties set --name cv --backup-storage-redundancy LocallyRedundant
check "Contributor can get vault credentials" cli_as "$C" vault credentials --name v1 --file c-creds.json
check "Contributor (and Operator) can enable protection" cli_as "$C" protection enable-for-vm --vault-name v1 --vm web2 --policy-name DefaultPolicy
check "Contributor can disable protection" cli_as "$C" protection disable --vault-name v1 --item-name web1
check_out "the item is stopped" 'j["protectionState"] == "ProtectionStopped"' "$VMVAULT" item show --vault-name v1 --item-name web1
check "Operator can resume protection" cli_as "$O" protection resume --vault-name v1 --item-name web1
check "Contributor can delete backup data" cli_as "$C" protection disable --vault-name v1 --item-name web2 --delete-backup-data
check_out "the item's data is soft deleted" 'j["deleteState"] == "ToBeDeleted"' "$VMVAULT" item show --vault-name v1 --item-name web2
check_refused "Reader cannot undelete" 1 AuthorizationFailed "" cli_as "$R" protection undelete --vault-name v1 --item-name web2
check "Operator can undelete" cli_as "$O" protection undelete --vault-name v1 --item-name web2
check_refused "Contributor cannot delete a vault" 1 AuthorizationFailed "" cli_as "$C" vault delete --name cv
check_out "the vault is still there" 'j["name"] == "cv"' "$VMVAULT" vault show --name cv
check_refused "Contributor cannot create users" 1 AuthorizationFailed "" cli_as "$C" user create --name x --role Reader
check_refused "Contributor cannot create tokens" 1 AuthorizationFailed "" cli_as "$C" token create --user contrib
check_refused "Contributor cannot list tokens" 1 AuthorizationFailed "" cli_as "$C" token list
check_refused "Contributor cannot revoke tokens" 1 AuthorizationFailed "" cli_as "$C" token revoke --id "$TID_reader"
API_TOKEN=$C check_api "Contributor cannot read the audit log" 403 AuthorizationFailed GET /api/v1/audit
API_TOKEN=$C check_api "Contributor cannot delete users" 403 AuthorizationFailed DELETE /api/v1/users/reader

# ---- Owner (the second one) ------------------------------------------------------
W=$TOK_owner2
check "Owner can delete a vault" cli_as "$W" vault delete --name cv
check_out "Owner can create users" 'j["role"] == "Reader"' cli_as "$W" user create --name temp --role Reader
check "Owner can list tokens" cli_as "$W" token list
API_TOKEN=$W check_api "Owner can read the audit log" 200 "" GET /api/v1/audit

# ---- revoked, missing and garbage tokens -----------------------------------------
check "token revoke" "$VMVAULT" token revoke --id "$TID_reader"
check_refused "a revoked token is refused at once" 1 Unauthenticated "" cli_as "$R" vault list
API_TOKEN=$R check_api "a revoked token gets 401" 401 Unauthenticated GET /api/v1/vaults
check_out "token list shows it revoked" '[t["revoked"] for t in L if t["id"] == "'"$TID_reader"'"] == [True]' \
    "$VMVAULT" token list
check_refused "revoke of an unknown token" 1 TokenNotFound "" "$VMVAULT" token revoke --id t-00000000
API_TOKEN=- check_api "no token gets 401" 401 Unauthenticated GET /api/v1/vaults
API_TOKEN=vvt_00000000_garbage check_api "a garbage token gets 401" 401 Unauthenticated GET /api/v1/vaults
API_TOKEN="${OWNER_TOKEN}x" check_api "the owner token with a byte added gets 401" 401 Unauthenticated GET /api/v1/vaults
API_HDRS=("Authorization: Basic $(printf 'owner:%s' "$OWNER_TOKEN" | base64 -w0)")
API_TOKEN=- check_api "Basic authentication gets 401" 401 Unauthenticated GET /api/v1/vaults
API_HDRS=("Authorization: Bearer")
API_TOKEN=- check_api "an empty bearer token gets 401" 401 Unauthenticated GET /api/v1/whoami
API_HDRS=()
API_TOKEN=- check_api "no token on a vault's jobs gets 401" 401 Unauthenticated GET /api/v1/vaults/v1/jobs
API_TOKEN=- check_api "no token on a write gets 401" 401 Unauthenticated POST /api/v1/vaults '{"name": "anon", "location": "westeurope"}'
check_refused "the CLI without a token says so" 1 Unauthenticated "" env VMVAULT_TOKEN=garbage "$VMVAULT" vault list
check "user delete" "$VMVAULT" user delete --name operator
check_refused "a deleted user's tokens stop working" 1 Unauthenticated "" cli_as "$O" vault list
check_refused "delete of an unknown user" 1 UserNotFound "" "$VMVAULT" user delete --name operator
check "an Owner may delete another Owner" "$VMVAULT" user delete --name owner2
check_refused "the last Owner cannot be deleted" 1 LastOwner "" "$VMVAULT" user delete --name owner
check_api "whoami still works for owner" 200 "" GET /api/v1/whoami

# ---- agents ----------------------------------------------------------------------
A1=$AGENT1
API_TOKEN=$A1 check_api "agent whoami" 200 "" GET /api/v1/whoami
check_json "says agent, its container and vault" 'j["agent"] is True and j["container"] == "host1" and j["vault"] == "v1"'
API_TOKEN=$A1 check_api "an agent token cannot list vaults" 403 AuthorizationFailed GET /api/v1/vaults
API_TOKEN=$A1 check_api "an agent token cannot read items" 403 AuthorizationFailed GET /api/v1/vaults/v1/protectedItems
API_TOKEN=$A1 check_api "an agent token cannot start a backup" 403 AuthorizationFailed POST /api/v1/vaults/v1/protectedItems/web1/backup '{}'
API_TOKEN=$A1 check_api "an agent token cannot create users" 403 AuthorizationFailed POST /api/v1/users '{"name": "evil", "role": "Owner"}'
API_TOKEN=$A1 check_api "an agent token cannot create vaults" 403 AuthorizationFailed POST /api/v1/vaults '{"name": "evil", "location": "westeurope"}'
check_refused "an agent token in the CLI" 1 AuthorizationFailed "" cli_as "$A1" vault list
check_api "a user token cannot claim agent jobs" 403 AuthorizationFailed GET /api/v1/agent/jobs/next
check_api "a user token cannot report inventory" 403 AuthorizationFailed PUT /api/v1/agent/inventory '{"vms": []}'

# host2 in the same vault and host3 in another: neither can touch host1's job
check "a second host registers" run_vvapi --state a2.json agent register --creds creds1.json --host host2
run_vvapi --state a2.json agent inventory db1:44444444-4444-4444-8444-444444444444 >/dev/null 2>&1
run_vvapi call POST /api/v1/vaults/vdel/credentials '{}' > credsdel.json 2>/dev/null
check "a host of another vault registers" run_vvapi --state a3.json agent register --creds credsdel.json --host host3
A2=$(json_get a2.json 'j["token"]' 2>/dev/null); A3=$(json_get a3.json 'j["token"]' 2>/dev/null)
out=$("$VMVAULT" protection backup-now --vault-name v1 --item-name web1 2>"$WORK/.err") || cat "$WORK/.err" >&2
J2=$(printf '%s' "$out" | json_value 'j["id"]' 2>/dev/null)
check "a backup job for host1" test -n "$J2"
API_TOKEN=$A2 check_api "another host does not get host1's job" 204 "" GET "/api/v1/agent/jobs/next?wait=0"
API_TOKEN=$A3 check_api "another vault's host does not get it" 204 "" GET "/api/v1/agent/jobs/next?wait=0"
check_out "host1 claims its job" 'j["id"] == "'"$J2"'" and j["operation"] == "Backup" and j["item"] == "web1"' \
    run_vvapi --state a1.json agent claim --wait 5
calls=(progress '{"tasks": [], "bytesDone": 1, "bytesTotal": 2}'
       complete '{"status": "Failed", "error": {"code": "X", "message": "x"}}'
       recoveryPoint '{"consistency": "CrashConsistent", "parent": "", "vmName": "web1", "vmUuid": "11111111-1111-4111-8111-111111111111", "domainXml": "<domain/>", "disks": [{"name": "vda", "source": "x"}]}')
for who in A2 A3; do
    for ((i = 0; i < ${#calls[@]}; i += 2)); do
        what=${calls[i]}
        API_TOKEN=${!who} api POST "/api/v1/agent/jobs/$J2/$what" "${calls[i+1]}"
        if [ "$API_STATUS" = 403 ] && [ "$(api_code)" = AuthorizationFailed ] || [ "$API_STATUS" = 404 ]; then
            pass "$who ($([ $who = A2 ] && echo 'same vault' || echo 'other vault')) cannot $what host1's job"
        else
            fail "$who cannot $what host1's job" "$(api_show), expected 403 AuthorizationFailed or 404"
        fi
    done
    $VVAPI index --chunk-size 65536 --virtual-size 65536 --out idx.bin hole
    API_TOKEN=${!who} API_CTYPE=application/octet-stream api PUT "/api/v1/agent/jobs/$J2/disks/vda/index" @idx.bin
    if [ "$API_STATUS" = 403 ] && [ "$(api_code)" = AuthorizationFailed ] || [ "$API_STATUS" = 404 ]; then
        pass "$who cannot upload an index for host1's job"
    else
        fail "$who cannot upload an index for host1's job" "$(api_show), expected 403 AuthorizationFailed or 404"
    fi
done
API_CTYPE=application/json
check_out "host1's job is untouched" 'j["status"] == "InProgress" and j["bytesDone"] in (0, None)' \
    "$VMVAULT" job show --vault-name v1 --name "$J2"
check_out "host1 completes its own job" 'True' sh -c "$VVAPI --state a1.json agent backup --job '$J2' --item web1"
check_out "the job is completed" 'j["status"] == "Completed"' "$VMVAULT" job show --vault-name v1 --name "$J2"
check_api "unregistering a host revokes its agent token" 200 "" DELETE /api/v1/vaults/v1/containers/host2
API_TOKEN=$A2 check_api "the unregistered host's token gets 401" 401 Unauthenticated GET "/api/v1/agent/jobs/next?wait=0"
run_vvapi --state a1x.json agent register --creds creds1.json --host host1 > takeover.out 2>&1
check "registering a registered host's name without its token is refused (409)" grep -q ContainerAlreadyRegistered takeover.out
API_TOKEN=$A1 check_api "and the host's own token still works" 204 "" GET "/api/v1/agent/jobs/next?wait=0"
check "re-registering a host with its own token replaces its agent token" run_vvapi --state a1b.json agent register --creds creds1.json --host host1 --token "$A1"
API_TOKEN=$A1 check_api "the replaced agent token gets 401" 401 Unauthenticated GET "/api/v1/agent/jobs/next?wait=0"
API_TOKEN=$(json_get a1b.json 'j["token"]') check_api "the new agent token works" 204 "" GET "/api/v1/agent/jobs/next?wait=0"

# ---- audit log -------------------------------------------------------------------
"$VMVAULT" vault create --name gone --location westeurope >/dev/null 2>&1
"$VMVAULT" vault delete --name gone >/dev/null 2>&1
check_api "audit log" 200 "" GET "/api/v1/audit?limit=1000"
audit_has() { # NAME ACTOR TARGET-SUBSTRING [ACTION]
    check_json "audit: $1" 'any(e["actor"] == "'"$2"'" and "'"$3"'" in json.dumps(e["target"]) '"${4:+and e[\"action\"] == \"$4\"}"' and e["time"].endswith("Z") for e in L)'
}
audit_has "vault delete by owner2" owner2 cv DeleteVault
audit_has "vault delete by owner" owner gone DeleteVault
audit_has "policy delete by contrib" contrib cpol
audit_has "disable protection by contrib" contrib web1
audit_has "delete backup data by contrib" contrib web2
audit_has "backup properties change by contrib" contrib cv
audit_has "token revoke by owner" owner "$TID_reader"
audit_has "user delete by owner" owner operator
audit_has "user delete of an Owner" owner owner2
audit_has "container unregister by owner" owner host2
check_json "audit entries carry who, when and what" 'all(set(e) >= {"time", "actor", "action", "target"} for e in L) and len(L) >= 10'
check_api "the audit log honours limit" 200 "" GET "/api/v1/audit?limit=2"
check_json "limit=2 gives two entries" 'len(L) == 2'

# nothing about access is lost on restart
srv_restart "the server"
API_TOKEN=$W check_api "a deleted Owner's token stays refused after restart" 401 Unauthenticated GET /api/v1/whoami
API_TOKEN=$R check_api "a revoked token stays revoked after restart" 401 Unauthenticated GET /api/v1/whoami
API_TOKEN=$C check_api "a live token survives the restart" 200 "" GET /api/v1/whoami
check_json "with its role" 'j["role"] == "Contributor"'
check_api "the audit log survives the restart" 200 "" GET "/api/v1/audit?limit=1000"
check_json "with every entry" 'len(L) >= 10'
rc=0; srv_stop || rc=$?
check "the server exits 0 on SIGTERM at the end" test "$rc" = 0
finish
