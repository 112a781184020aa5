#!/usr/bin/env bash
# Protection from end to end: vault credentials from the CLI, hosts registering and
# reporting VMs over raw HTTP, enable protection with every refusal carrying its code,
# backup-now jobs that a host agent (played over HTTP) claims, reports on, uploads,
# commits and completes, job stop / wait, stop and resume protection, delete backup
# data; with a restart in the middle and nothing lost.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_server.sh"
cd "$WORK"
D=$WORK/data
srv_start "$D" || finish

U1=11111111-1111-4111-8111-111111111111   # web1 on host1 (and, moved, on host1b)
U2=22222222-2222-4222-8222-222222222222   # web2 on host1
U3=33333333-3333-4333-8333-333333333333   # web2 on host3 (same name, other VM)
U4=44444444-4444-4444-8444-444444444444   # east1 on host2, region eastus
# jobid CMD...: the job id the command printed (empty on failure)
jobid() { "$@" 2>/dev/null | json_value '(j.get("job") or j)["id"]' 2>/dev/null; }

"$VMVAULT" vault create --name v1 --location westeurope >/dev/null 2>&1
"$VMVAULT" vault create --name v2 --location westeurope >/dev/null 2>&1
V1ID=$("$VMVAULT" vault show --name v1 2>/dev/null | json_value 'j["id"]')

# ---- vault credentials and registration ---------------------------------------------
check "vault credentials writes a file" "$VMVAULT" vault credentials --name v1 --file creds1.json
check "the credentials file is mode 0600" test "$(stat -c %a creds1.json 2>&1)" = 600
check "the credentials file holds the vault, its URL and a secret" test "$(json_get creds1.json \
    'j["vaultName"] == "v1" and j["vaultId"] == "'"$V1ID"'" and j["vaultUrl"].rstrip("/") == "'"$SRV_URL"'" and j["location"] == "westeurope" and len(j["registrationSecret"]) >= 32 and j["expiresAt"].endswith("Z") and j["certificateFingerprint"] is None' 2>&1)" = True
check_refused "credentials of an unknown vault" 1 VaultNotFound "" "$VMVAULT" vault credentials --name nosuch --file x.json
check_api "credentials expire in 1 to 240 hours (0 refused)" 400 InvalidParameter POST /api/v1/vaults/v1/credentials '{"expiresInHours": 0}'
check_api "credentials expire in 1 to 240 hours (241 refused)" 400 InvalidParameter POST /api/v1/vaults/v1/credentials '{"expiresInHours": 241}'
check_api "credentials for one hour" 201 "" POST /api/v1/vaults/v1/credentials '{"expiresInHours": 1}'
check_json "expire in an hour" '3500 <= (__import__("datetime").datetime.strptime(j["expiresAt"], "%Y-%m-%dT%H:%M:%SZ") - __import__("datetime").datetime.utcnow()).total_seconds() <= 3700'
cp "$API_BODY" creds1h.json

check_out "a host registers with the credentials file" \
    'j["token"].startswith("vva_") and j["container"]["name"] == "host1" and j["container"]["region"] == "westeurope" and j["vault"]["name"] == "v1" and j["vault"]["id"] == "'"$V1ID"'"' \
    run_vvapi --state host1.json agent register --creds creds1.json --host host1
check_refused "a wrong registration secret" 1 "HTTP 401 InvalidRegistrationSecret" "" \
    run_vvapi --state bad.json agent register --creds creds1.json --host hostx --secret vvr_0000000000000000000000000000000000000000
check "and nothing is written for it" test ! -e bad.json
"$VMVAULT" vault credentials --name v2 --file creds2.json >/dev/null 2>&1
check_refused "another vault's secret" 1 "HTTP 401 InvalidRegistrationSecret" "" \
    run_vvapi --state bad.json agent register --creds creds1.json --host hostx --secret "$(json_get creds2.json 'j["registrationSecret"]')"
API_TOKEN=- check_api "registration without a host name" 400 InvalidParameter POST /api/v1/agent/register \
    "{\"vaultId\": \"$V1ID\", \"registrationSecret\": \"$(json_get creds1.json 'j["registrationSecret"]')\"}"
check "another host registers with the one-hour secret, region eastus" \
    run_vvapi --state host2.json agent register --creds creds1h.json --host host2 --region eastus
check "a third host registers" run_vvapi --state host3.json agent register --creds creds1.json --host host3
check_out "host1 reports its VMs" 'True' run_vvapi --state host1.json agent inventory "web1:$U1" "web2:$U2:shutoff"
check "host2 reports its VM" run_vvapi --state host2.json agent inventory "east1:$U4"
check "host3 reports its VM" run_vvapi --state host3.json agent inventory "web2:$U3"

check_out "container list" 'sorted(c["name"] for c in L) == ["host1", "host2", "host3"]' \
    "$VMVAULT" container list --vault-name v1
check_out "container show" \
    'j["name"] == "host1" and j["region"] == "westeurope" and j["agentVersion"] == "0.1.0" and j["protectableItemCount"] == 2 and j["protectedItemCount"] == 0' \
    "$VMVAULT" container show --vault-name v1 --name host1
check_out "a host registered with another region shows it" 'j["region"] == "eastus"' \
    "$VMVAULT" container show --vault-name v1 --name host2
check_refused "show of an unknown container" 1 ContainerNotFound "" "$VMVAULT" container show --vault-name v1 --name nosuch
check_out "protectable-item list" \
    'sorted((i["name"], i["container"], i["uuid"], i["protectionState"]) for i in L) == [("east1", "host2", "'$U4'", "NotProtected"), ("web1", "host1", "'$U1'", "NotProtected"), ("web2", "host1", "'$U2'", "NotProtected"), ("web2", "host3", "'$U3'", "NotProtected")]' \
    "$VMVAULT" protectable-item list --vault-name v1
check_out "protectable items carry state, region and disks" \
    '[(i["state"], i["region"], i["disks"][0]["name"]) for i in L if i["uuid"] == "'$U2'"] == [("shutoff", "westeurope", "vda")]' \
    "$VMVAULT" protectable-item list --vault-name v1
check_api "protectable items of one container" 200 "" GET "/api/v1/vaults/v1/protectableItems?container=host2"
check_json "only that container's" '[i["name"] for i in L] == ["east1"]'
check "inventory replaces what was reported before" run_vvapi --state host3.json agent inventory "web2:$U3" "tmp9:99999999-9999-4999-8999-999999999999"
check "twice" run_vvapi --state host3.json agent inventory "web2:$U3"
check_out "so a VM gone from the host is gone from the list" '"tmp9" not in [i["name"] for i in L]' \
    "$VMVAULT" protectable-item list --vault-name v1

# ---- enable protection, and what is refused ----------------------------------------
check "redundancy can change before any item is protected" \
    "$VMVAULT" vault backup-properties set --name v1 --backup-storage-redundancy LocallyRedundant
check "and back" "$VMVAULT" vault backup-properties set --name v1 --backup-storage-redundancy GeoRedundant
cat > daily.json <<'EOF'
{"timeZone": "UTC",
 "schedulePolicy": {"scheduleRunFrequency": "Daily", "scheduleRunTimes": ["01:00"]},
 "instantRpRetentionRangeInDays": 2,
 "retentionPolicy": {"dailySchedule": {"retentionDuration": {"count": 14, "durationType": "Days"}}}}
EOF
"$VMVAULT" policy create --vault-name v1 --name daily --policy daily.json >/dev/null 2>&1
check_out "enable protection" \
    '(j.get("item") or j)["name"] == "web1" and (j.get("item") or j)["protectionState"] == "IRPending" and (j.get("item") or j)["policy"] == "daily" and (j.get("item") or j)["vmUuid"] == "'$U1'" and (j.get("item") or j)["container"] == "host1"' \
    "$VMVAULT" protection enable-for-vm --vault-name v1 --vm web1 --policy-name daily
check_out "a ConfigureBackup job, already completed" \
    '[(x["operation"], x["status"], x["item"]) for x in L] == [("ConfigureBackup", "Completed", "web1")]' \
    "$VMVAULT" job list --vault-name v1
check_out "enabling protection takes no backup" 'j["recoveryPointCount"] == 0 and j["lastBackupStatus"] is None and j["latestRecoveryPoint"] is None' \
    "$VMVAULT" item show --vault-name v1 --item-name web1
check_out "the protectable item says Protected" \
    '[i["protectionState"] for i in L if i["uuid"] == "'$U1'"] == ["Protected"]' \
    "$VMVAULT" protectable-item list --vault-name v1
check_refused "an item already protected" 1 ItemAlreadyProtected "" \
    "$VMVAULT" protection enable-for-vm --vault-name v1 --vm web1 --policy-name daily
check_refused "a VM whose host is in another region" 1 VmRegionMismatch "" \
    "$VMVAULT" protection enable-for-vm --vault-name v1 --vm east1 --policy-name DefaultPolicy
check_api "region mismatch by API" 409 VmRegionMismatch POST /api/v1/vaults/v1/protectedItems '{"vm": "east1"}'
check_refused "an unknown VM" 1 ProtectableItemNotFound "" \
    "$VMVAULT" protection enable-for-vm --vault-name v1 --vm nosuch --policy-name DefaultPolicy
check_refused "an unknown policy" 1 PolicyNotFound "" \
    "$VMVAULT" protection enable-for-vm --vault-name v1 --vm "$U2" --policy-name nosuch
check_refused "a policy in use cannot be deleted" 1 PolicyInUse "" "$VMVAULT" policy delete --vault-name v1 --name daily
check_out "the policy counts its item" 'j["protectedItemsCount"] == 1' "$VMVAULT" policy show --vault-name v1 --name daily
check_refused "redundancy is locked once an item is protected" 1 StorageModelModifyError "" \
    "$VMVAULT" vault backup-properties set --name v1 --backup-storage-redundancy LocallyRedundant
check_out "and shown locked, unchanged" 'j["storageRedundancy"] == "GeoRedundant" and j["storageRedundancyLocked"] is True' \
    "$VMVAULT" vault backup-properties show --name v1
check_api "soft delete settings may still change" 200 "" PATCH /api/v1/vaults/v1/backupProperties '{"softDelete": {"state": "Enabled", "retentionDays": 20}}'
check_refused "a vault with items cannot be deleted" 1 VaultNotEmpty "" "$VMVAULT" vault delete --name v1
check_out "and is still there" 'j["protectedItemCount"] == 1 and j["containerCount"] == 3' "$VMVAULT" vault show --name v1

# a second vault may not protect the same VM (by UUID), even under another host name
check "a host of v2 registers" run_vvapi --state host1b.json agent register --creds creds2.json --host host1b
check "and reports web1 (same UUID)" run_vvapi --state host1b.json agent inventory "web1:$U1"
check_out "v2 sees it protected in another vault" '[i["protectionState"] for i in L] == ["ProtectedInAnotherVault"]' \
    "$VMVAULT" protectable-item list --vault-name v2
check_refused "a second vault protecting the same VM" 1 VmAlreadyProtectedInAnotherVault "" \
    "$VMVAULT" protection enable-for-vm --vault-name v2 --vm web1 --policy-name DefaultPolicy

# two hosts with a VM named web2: items need their container
check "enable protection by VM UUID" "$VMVAULT" protection enable-for-vm --vault-name v1 --vm "$U2" --policy-name DefaultPolicy
check_api "enable protection with a container" 201 "" POST /api/v1/vaults/v1/protectedItems '{"vm": "web2", "container": "host3"}'
check_json "answers the item and its job" 'j["item"]["container"] == "host3" and j["job"]["operation"] == "ConfigureBackup" and j["job"]["status"] == "Completed"'
check_api "an ambiguous item name" 409 AmbiguousItemName GET /api/v1/vaults/v1/protectedItems/web2
check_refused "an ambiguous item name in the CLI" 1 AmbiguousItemName "" "$VMVAULT" item show --vault-name v1 --item-name web2
check_out "resolved by --container-name" 'j["vmUuid"] == "'$U3'"' \
    "$VMVAULT" item show --vault-name v1 --item-name web2 --container-name host3
check_api "and by ?container=" 200 "" GET "/api/v1/vaults/v1/protectedItems/web2?container=host1"
check_json "the right one" 'j["vmUuid"] == "'$U2'"'
check_out "item list" 'sorted((i["name"], i["container"], i["protectionState"]) for i in L) == [("web1", "host1", "IRPending"), ("web2", "host1", "IRPending"), ("web2", "host3", "IRPending")]' \
    "$VMVAULT" item list --vault-name v1
check_api "item list by container" 200 "" GET "/api/v1/vaults/v1/protectedItems?container=host3"
check_json "only that container's" '[(i["name"], i["container"]) for i in L] == [("web2", "host3")]'
check_api "item list by policy" 200 "" GET "/api/v1/vaults/v1/protectedItems?policy=daily"
check_json "only that policy's" '[i["name"] for i in L] == ["web1"]'
check_refused "show of an unknown item" 1 ItemNotFound "" "$VMVAULT" item show --vault-name v1 --item-name nosuch

# ---- backup now, job stop, job wait ------------------------------------------------
out=$("$VMVAULT" protection backup-now --vault-name v1 --item-name web1 --retain-until 2030-12-27 2>"$WORK/.err") || cat "$WORK/.err" >&2
J1=$(printf '%s' "$out" | json_value 'j["id"]' 2>/dev/null)
check_out "backup-now prints the Backup job it started" \
    'j["operation"] == "Backup" and j["status"] == "InProgress" and j["item"] == "web1" and j["container"] == "host1" and j["retainUntil"] == "2030-12-27T23:59:59Z" and j["createdBy"] == "owner" and j["endTime"] is None' \
    printf '%s' "$out"
check_refused "a second backup while one is queued" 1 OperationInProgress "" \
    "$VMVAULT" protection backup-now --vault-name v1 --item-name web1
check "job stop of a queued job" "$VMVAULT" job stop --vault-name v1 --name "$J1"
check_out "is cancelled at once" 'j["status"] == "Cancelled" and j["endTime"]' "$VMVAULT" job show --vault-name v1 --name "$J1"
check_exit "the agent gets no cancelled job" 3 run_vvapi --state host1.json agent claim --wait 0
out=$("$VMVAULT" protection backup-now --vault-name v1 --item-name web1 --retain-until 27-12-2031 2>"$WORK/.err") || cat "$WORK/.err" >&2
J2=$(printf '%s' "$out" | json_value 'j["id"]' 2>/dev/null)
check_out "backup-now accepts DD-MM-YYYY" 'j["retainUntil"] == "2031-12-27T23:59:59Z"' printf '%s' "$out"
njobs=$("$VMVAULT" job list --vault-name v1 2>/dev/null | json_value 'len(L)')
for bad in 2031-13-01 31-02-2031 tomorrow 2031/12/27 27-12-31; do
    check_fails "--retain-until $bad is refused" 2 "retain-until" \
        "$VMVAULT" protection backup-now --vault-name v1 --item-name web2 --container-name host1 --retain-until "$bad"
done
check_out "and starts no job" "len(L) == $njobs" "$VMVAULT" job list --vault-name v1
check_api "retainUntil more than 99 years ahead is refused" 400 InvalidParameter \
    POST "/api/v1/vaults/v1/protectedItems/web2/backup?container=host1" '{"retainUntil": "2199-01-01"}'
check_api "a retainUntil that is not a date is refused" 400 InvalidParameter \
    POST "/api/v1/vaults/v1/protectedItems/web2/backup?container=host1" '{"retainUntil": "soon"}'

timeout 60 "$VMVAULT" job wait --vault-name v1 --name "$J2" > wait2.out 2>&1 &
WAIT2=$!; BG_PIDS+=("$WAIT2")
check_out "the agent claims the job, with its parameters" 'j["id"] == "'"$J2"'" and j["operation"] == "Backup" and j["item"] == "web1" and "params" in j' \
    run_vvapi --state host1.json agent claim --wait 5
check_out "progress: no cancel requested" 'j["cancelRequested"] is False' \
    run_vvapi --state host1.json agent progress --job "$J2" --done 1048576 --total 4194304 \
    --task "Take Snapshot=Completed" --task "Transfer data to vault=InProgress"
check_out "job show reports the progress" \
    'j["status"] == "InProgress" and j["bytesDone"] == 1048576 and j["bytesTotal"] == 4194304 and j["progressPercent"] == 25 and [t["status"] for t in j["tasks"]] == ["Completed", "InProgress"]' \
    "$VMVAULT" job show --vault-name v1 --name "$J2"
check "job wait is still waiting" kill -0 "$WAIT2"
check_out "the agent uploads, commits and completes" 'j["status"] == "Completed" and j["recoveryPoint"]["name"].startswith("rp-")' \
    run_vvapi --state host1.json agent backup --job "$J2" --item web1
wait "$WAIT2"; rc=$?
check "job wait exits 0 on Completed" test "$rc" = 0
check "job wait shows the completed job" grep -q Completed wait2.out
check_out "item: Protected, with its point" \
    'j["protectionState"] == "Protected" and j["recoveryPointCount"] == 1 and j["lastBackupStatus"] == "Completed" and j["lastBackupTime"] and j["latestRecoveryPoint"]' \
    "$VMVAULT" item show --vault-name v1 --item-name web1
RP=$("$VMVAULT" recoverypoint list --vault-name v1 --item-name web1 2>/dev/null | json_value 'L[0]["name"]')
check_out "recoverypoint list" \
    'len(L) == 1 and L[0]["name"] == "'"$RP"'" and L[0]["item"] == "web1" and L[0]["recoveryPointType"] == "CrashConsistent"' \
    "$VMVAULT" recoverypoint list --vault-name v1 --item-name web1
check_out "recoverypoint show: what was committed" \
    'j["name"] == "'"$RP"'" and j["job"] == "'"$J2"'" and j["expiresAt"] == "2031-12-27T23:59:59Z" and [(d["name"], d["chunkSize"], d["virtualSize"], d["dataChunks"], d["zeroChunks"], d["holeChunks"]) for d in j["disks"]] == [("vda", 65536, 753664, 8, 2, 2)]' \
    "$VMVAULT" recoverypoint show --vault-name v1 --item-name web1 --rp-name "$RP"
check_refused "show of an unknown point" 1 RecoveryPointNotFound "" \
    "$VMVAULT" recoverypoint show --vault-name v1 --item-name web1 --rp-name rp-20200101-000000-000-00000000
check_out "the job names its recovery point" 'j["status"] == "Completed" and j["recoveryPoint"] == "'"$RP"'" and j["endTime"] and j["error"] is None' \
    "$VMVAULT" job show --vault-name v1 --name "$J2"
check "the point is in the vault's store" test -s "$D/vaults/$V1ID/store/points/$RP/manifest"
check_out "the vault counts it" 'j["protectedItemCount"] == 3 and j["recoveryPointCount"] == 1' "$VMVAULT" vault show --name v1

# a claimed job stopped: Cancelling until the agent stops it
J3=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name web1)
run_vvapi --state host1.json agent claim --wait 5 >/dev/null 2>&1
check "job stop of a running job" "$VMVAULT" job stop --vault-name v1 --name "$J3"
check_out "is Cancelling" 'j["status"] == "Cancelling"' "$VMVAULT" job show --vault-name v1 --name "$J3"
check_out "the agent is told to stop" 'j["cancelRequested"] is True' \
    run_vvapi --state host1.json agent progress --job "$J3" --done 0 --total 100
check "the agent completes it Cancelled" run_vvapi --state host1.json agent complete --job "$J3" --status Cancelled
check_out "the job is Cancelled" 'j["status"] == "Cancelled" and j["endTime"]' "$VMVAULT" job show --vault-name v1 --name "$J3"
check_refused "a finished job cannot be stopped" 1 JobNotCancellable "" "$VMVAULT" job stop --vault-name v1 --name "$J3"
check_refused "stop of an unknown job" 1 JobNotFound "" "$VMVAULT" job stop --vault-name v1 --name 00000000-0000-4000-8000-000000000000

# a failed job: job wait exits non-zero and the error is kept
J4=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name web1)
run_vvapi --state host1.json agent claim --wait 5 >/dev/null 2>&1
timeout 60 "$VMVAULT" job wait --vault-name v1 --name "$J4" > wait4.out 2>&1 &
WAIT4=$!; BG_PIDS+=("$WAIT4")
check "the agent fails the job" run_vvapi --state host1.json agent complete --job "$J4" --status Failed \
    --error-code ExtensionSnapshotFailedNoNetwork --error-message "no network in the guest"
wait "$WAIT4"; rc=$?
check "job wait exits non-zero on Failed" test "$rc" != 0 -a "$rc" != 124
check_out "the failed job keeps its error" \
    'j["status"] == "Failed" and j["error"] == {"code": "ExtensionSnapshotFailedNoNetwork", "message": "no network in the guest"}' \
    "$VMVAULT" job show --vault-name v1 --name "$J4"
check_out "the item shows the failure, its point kept" 'j["lastBackupStatus"] == "Failed" and j["recoveryPointCount"] == 1 and j["protectionState"] == "Protected"' \
    "$VMVAULT" item show --vault-name v1 --item-name web1
check_refused "job wait on an unknown job" 1 JobNotFound "" "$VMVAULT" job wait --vault-name v1 --name 00000000-0000-4000-8000-000000000000
check_api "jobs by operation" 200 "" GET "/api/v1/vaults/v1/jobs?operation=Backup"
check_json "four Backup jobs, newest first" '[x["id"] for x in L] == ["'"$J4"'", "'"$J3"'", "'"$J2"'", "'"$J1"'"]'
check_api "jobs by status" 200 "" GET "/api/v1/vaults/v1/jobs?status=Cancelled"
check_json "the two cancelled" 'sorted(x["id"] for x in L) == sorted(["'"$J1"'", "'"$J3"'"])'
check_api "jobs by item, limited" 200 "" GET "/api/v1/vaults/v1/jobs?item=web1&limit=2"
check_json "two of web1's" 'len(L) == 2 and all(x["item"] == "web1" for x in L)'
check_api "an unknown status filter is refused" 400 InvalidParameter GET "/api/v1/vaults/v1/jobs?status=Sleeping"

# ---- stop protection (retain data), resume -----------------------------------------
check_out "disable protection keeping the data" \
    '(j.get("item") or j)["protectionState"] == "ProtectionStopped" and (j.get("item") or j)["recoveryPointCount"] == 1' \
    "$VMVAULT" protection disable --vault-name v1 --item-name web1
check_out "a DisableBackup job" '[x["status"] for x in L if x["operation"] == "DisableBackup"] == ["Completed"]' \
    "$VMVAULT" job list --vault-name v1
check_out "the points are kept" 'len(L) == 1' "$VMVAULT" recoverypoint list --vault-name v1 --item-name web1
check_refused "backup-now of a stopped item" 1 ItemNotProtected "" \
    "$VMVAULT" protection backup-now --vault-name v1 --item-name web1
check_refused "disable of a stopped item" 1 ItemAlreadyStopped "" \
    "$VMVAULT" protection disable --vault-name v1 --item-name web1
check_refused "a stopped VM is still protected in v1 for v2" 1 VmAlreadyProtectedInAnotherVault "" \
    "$VMVAULT" protection enable-for-vm --vault-name v2 --vm web1 --policy-name DefaultPolicy
check_out "resume" '(j.get("item") or j)["protectionState"] == "Protected" and (j.get("item") or j)["policy"] == "daily"' \
    "$VMVAULT" protection resume --vault-name v1 --item-name web1
check_refused "resume of a protected item" 1 ItemAlreadyProtected "" \
    "$VMVAULT" protection resume --vault-name v1 --item-name web1

# ---- restart: nothing lost ---------------------------------------------------------
srv_restart "the server"
check_out "containers are kept" 'sorted(c["name"] for c in L) == ["host1", "host2", "host3"]' \
    "$VMVAULT" container list --vault-name v1
check_out "items are kept" 'sorted((i["name"], i["container"], i["protectionState"], i["policy"]) for i in L) == [("web1", "host1", "Protected", "daily"), ("web2", "host1", "IRPending", "DefaultPolicy"), ("web2", "host3", "IRPending", "DefaultPolicy")]' \
    "$VMVAULT" item list --vault-name v1
check_out "recovery points are kept" '[p["name"] for p in L] == ["'"$RP"'"]' \
    "$VMVAULT" recoverypoint list --vault-name v1 --item-name web1
check_out "jobs are kept" \
    '{x["id"]: x["status"] for x in L if x["operation"] == "Backup"} == {"'"$J1"'": "Cancelled", "'"$J2"'": "Completed", "'"$J3"'": "Cancelled", "'"$J4"'": "Failed"}' \
    "$VMVAULT" job list --vault-name v1
check_out "protectable items are kept" 'len(L) == 4' "$VMVAULT" protectable-item list --vault-name v1
check_exit "agent tokens are kept" 3 run_vvapi --state host1.json agent claim --wait 0
check_out "a backup after the restart" 'j["status"] == "Completed"' \
    sh -c "'$VMVAULT' protection backup-now --vault-name v1 --item-name web1 >/dev/null && $VVAPI --state host1.json agent backup --next --seed 2"
check_out "a second point" 'j["recoveryPointCount"] == 2' "$VMVAULT" item show --vault-name v1 --item-name web1
check "both points are in the store" test "$(store_points "$V1ID" | grep -c .)" = 2

# ---- delete backup data ------------------------------------------------------------
check_refused "a host with protected items cannot be unregistered" 1 ContainerHasProtectedItems "" \
    run_vvapi call DELETE /api/v1/vaults/v1/containers/host1
check_out "with soft delete on, deleting the data soft deletes it for the vault's 20 days" \
    'j["item"]["deleteState"] == "ToBeDeleted" and j["item"]["recoveryPointCount"] == 2 and j["job"]["operation"] == "DeleteBackupData"' \
    "$VMVAULT" protection disable --vault-name v1 --item-name web1 --delete-backup-data
check "its points stay in the store meanwhile" test "$(store_points "$V1ID" | grep -c .)" = 2
check_out "the VM shows as soft deleted" '[i["protectionState"] for i in L if i["uuid"] == "'$U1'"] == ["SoftDeleted"]' \
    "$VMVAULT" protectable-item list --vault-name v1
check_refused "it cannot be protected again before it is undeleted" 1 ItemSoftDeleted "" \
    "$VMVAULT" protection enable-for-vm --vault-name v1 --vm web1 --policy-name DefaultPolicy
check_refused "it cannot be deleted twice" 1 ItemAlreadyDeleted "" \
    "$VMVAULT" protection disable --vault-name v1 --item-name web1 --delete-backup-data
check_out "undelete brings it back, stopped with its data" \
    'j["item"]["deleteState"] == "NotDeleted" and j["item"]["protectionState"] == "ProtectionStopped" and j["job"]["operation"] == "Undelete"' \
    "$VMVAULT" protection undelete --vault-name v1 --item-name web1
check_refused "undelete of an item that is not deleted" 1 ItemNotDeleted "" \
    "$VMVAULT" protection undelete --vault-name v1 --item-name web1
check "turn the vault's soft delete off" "$VMVAULT" vault backup-properties set --name v1 --soft-delete-feature-state Disable
check_out "disable protection deleting the data: now at once" 'j.get("item") is None' \
    "$VMVAULT" protection disable --vault-name v1 --item-name web1 --delete-backup-data
check_refused "the item is gone" 1 ItemNotFound "" "$VMVAULT" item show --vault-name v1 --item-name web1
check_api "its points are gone" 404 ItemNotFound GET /api/v1/vaults/v1/protectedItems/web1/recoveryPoints
check "and gone from the store" test -z "$(store_points "$V1ID")"
check_out "DeleteBackupData jobs" '[x["status"] for x in L if x["operation"] == "DeleteBackupData"] == ["Completed", "Completed"]' \
    "$VMVAULT" job list --vault-name v1
check_out "the VM is protectable again" '[i["protectionState"] for i in L if i["uuid"] == "'$U1'"] == ["NotProtected"]' \
    "$VMVAULT" protectable-item list --vault-name v1
check_out "and another vault may protect it now" '(j.get("item") or j)["vmUuid"] == "'$U1'"' \
    "$VMVAULT" protection enable-for-vm --vault-name v2 --vm web1 --policy-name DefaultPolicy
check "delete the other items' data" sh -c "'$VMVAULT' protection disable --vault-name v1 --item-name web2 --container-name host1 --delete-backup-data >/dev/null && '$VMVAULT' protection disable --vault-name v1 --item-name web2 --container-name host3 --delete-backup-data >/dev/null"
check_out "no item left" 'L == []' "$VMVAULT" item list --vault-name v1
check "redundancy may change again" "$VMVAULT" vault backup-properties set --name v1 --backup-storage-redundancy LocallyRedundant
check "the policy is no longer in use" "$VMVAULT" policy delete --vault-name v1 --name daily
check "a host without protected items can be unregistered" run_vvapi call DELETE /api/v1/vaults/v1/containers/host2
check "an empty vault can be deleted" "$VMVAULT" vault delete --name v1
check_refused "and is gone" 1 VaultNotFound "" "$VMVAULT" vault show --name v1

srv_restart "the server, again"
check_refused "the deleted vault stays deleted" 1 VaultNotFound "" "$VMVAULT" vault show --name v1
check_out "v2 keeps its item" '[(i["name"], i["protectionState"]) for i in L] == [("web1", "IRPending")]' \
    "$VMVAULT" item list --vault-name v2
rc=0; srv_stop || rc=$?
check "the server exits 0 on SIGTERM" test "$rc" = 0
check "vmvaultd check finds the data consistent" "$VMVAULTD" check --data-dir "$D"
finish
