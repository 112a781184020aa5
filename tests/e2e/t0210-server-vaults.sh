#!/usr/bin/env bash
# The vault server from an empty data folder: it writes the owner token (0600) and
# says where; vaults, policies and backup properties through the CLI and the API,
# with every refusal carrying its code; then a SIGTERM (clean exit) and a restart on
# the same folder, with nothing lost.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_server.sh"
cd "$WORK"
D=$WORK/data

srv_start "$D" || finish
pass "server starts with no configuration"
check "owner.token is written" test -s "$D/owner.token"
check "owner.token is mode 0600" test "$(stat -c %a "$D/owner.token")" = 600
check "the log says where the owner token is" grep -qF "$D/owner.token" "$SRV_LOG"
check "vmvaultd.url holds the real listening address" \
    sh -c "grep -Eq '^http://127\.0\.0\.1:[1-9][0-9]*\$' '$D/vmvaultd.url'"
check "the catalog is in the data folder" test -s "$D/catalog.db"
TOKEN0=$OWNER_TOKEN

API_TOKEN=- check_api "health answers without a token" 200 "" GET /api/v1/health
check_json "health says ok and its version" 'j["status"] == "ok" and j["version"]'
check_api "whoami" 200 "" GET /api/v1/whoami
check_json "the first user is 'owner', role Owner" 'j["user"] == "owner" and j["role"] == "Owner"'

# ---- vaults ----------------------------------------------------------------------
check_out "vault create" \
    'j["name"] == "v1" and j["location"] == "westeurope" and j["storageRedundancy"] == "GeoRedundant" and j["softDelete"] == {"state": "Enabled", "retentionDays": 14} and j["protectedItemCount"] == 0 and j["recoveryPointCount"] == 0 and j["containerCount"] == 0' \
    "$VMVAULT" vault create --name v1 --location westeurope
V1ID=$("$VMVAULT" vault show --name v1 2>/dev/null | json_value 'j["id"]')
check "the vault id is a UUID" \
    sh -c "printf '%s' '$V1ID' | grep -Eq '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\$'"
check "the vault has its own chunk store" test -d "$D/vaults/$V1ID/store"
check "the vault has its own key, mode 0600" test "$(stat -c %a "$D/vaults/$V1ID/vault.key" 2>&1)" = 600

check_api "vault create by API with options" 201 "" POST /api/v1/vaults \
    '{"name": "v2", "location": "northeurope", "storageRedundancy": "LocallyRedundant", "softDelete": {"state": "Disabled", "retentionDays": 30}}'
check_json "options are kept" \
    'j["storageRedundancy"] == "LocallyRedundant" and j["softDelete"] == {"state": "Disabled", "retentionDays": 30} and j["location"] == "northeurope"'
V2ID=$(api_field 'j["id"]')
check "each vault has its own id and store" sh -c "[ '$V1ID' != '$V2ID' ] && [ -d '$D/vaults/$V2ID/store' ]"
check "each vault has its own key" sh -c "! cmp -s '$D/vaults/$V1ID/vault.key' '$D/vaults/$V2ID/vault.key'"

check_out "vault list shows both" 'sorted(v["name"] for v in L) == ["v1", "v2"]' "$VMVAULT" vault list
check_out "vault show" 'j["name"] == "v1" and j["id"] == "'"$V1ID"'"' "$VMVAULT" vault show --name v1
check "vault list --output table" sh -c "'$VMVAULT' vault list --output table | grep v1 | grep -q westeurope"
check_fails "a duplicate vault name is refused" 1 "VaultAlreadyExists" \
    "$VMVAULT" vault create --name v1 --location westeurope
check_api "a duplicate vault name by API" 409 VaultAlreadyExists POST /api/v1/vaults '{"name": "v1", "location": "eastus"}'
check_fails "show of an unknown vault" 1 "VaultNotFound" "$VMVAULT" vault show --name nosuch
check_api "unknown vault by API" 404 VaultNotFound GET /api/v1/vaults/nosuch
check_api "a bad vault name is refused" 400 InvalidParameter POST /api/v1/vaults '{"name": "-bad", "location": "westeurope"}'
check_api "a 65-character vault name is refused" 400 InvalidParameter POST /api/v1/vaults \
    "{\"name\": \"$(printf 'a%.0s' $(seq 65))\", \"location\": \"westeurope\"}"
check_api "a vault needs a location" 400 InvalidParameter POST /api/v1/vaults '{"name": "v9"}'
check "the refusal names the field" grep -q location "$API_BODY"
check_api "an unknown redundancy is refused" 400 InvalidParameter POST /api/v1/vaults \
    '{"name": "v9", "location": "westeurope", "storageRedundancy": "ZoneRedundantish"}'
check_api "soft-delete retention below 14 days is refused" 400 InvalidParameter POST /api/v1/vaults \
    '{"name": "v9", "location": "westeurope", "softDelete": {"state": "Enabled", "retentionDays": 7}}'
check "the refusal names the field" grep -q retentionDays "$API_BODY"
check_api "refused vaults were not created" 404 VaultNotFound GET /api/v1/vaults/v9

check_out "vault create v3" 'j["name"] == "v3"' "$VMVAULT" vault create --name v3 --location westeurope
check "vault delete" "$VMVAULT" vault delete --name v3
check_fails "a deleted vault is gone" 1 "VaultNotFound" "$VMVAULT" vault show --name v3
check_fails "delete of an unknown vault" 1 "VaultNotFound" "$VMVAULT" vault delete --name v3
check_out "the list no longer has it" '"v3" not in [v["name"] for v in L]' "$VMVAULT" vault list

# ---- policies --------------------------------------------------------------------
check_out "a new vault has DefaultPolicy" '[p["name"] for p in L] == ["DefaultPolicy"]' \
    "$VMVAULT" policy list --vault-name v1
check_out "DefaultPolicy: daily, 30-day retention, 2-day snapshots" \
    'j["schedulePolicy"]["scheduleRunFrequency"] == "Daily" and j["retentionPolicy"]["dailySchedule"]["retentionDuration"] == {"count": 30, "durationType": "Days"} and j["instantRpRetentionRangeInDays"] == 2 and j["protectedItemsCount"] == 0' \
    "$VMVAULT" policy show --vault-name v1 --name DefaultPolicy
check_out "policy get-default-for-vm" 'j["name"] == "DefaultPolicy" and j["vault"] == "v1"' \
    "$VMVAULT" policy get-default-for-vm --vault-name v1

cat > daily60.json <<'EOF'
{"timeZone": "Europe/Berlin",
 "schedulePolicy": {"scheduleRunFrequency": "Daily", "scheduleRunTimes": ["21:30"]},
 "instantRpRetentionRangeInDays": 3,
 "retentionPolicy": {"dailySchedule": {"retentionDuration": {"count": 60, "durationType": "Days"}}}}
EOF
cat > weekly.json <<'EOF'
{"timeZone": "UTC",
 "schedulePolicy": {"scheduleRunFrequency": "Weekly", "scheduleRunDays": ["Sunday"], "scheduleRunTimes": ["03:00"]},
 "instantRpRetentionRangeInDays": 5,
 "retentionPolicy": {"weeklySchedule": {"daysOfTheWeek": ["Sunday"], "retentionDuration": {"count": 12, "durationType": "Weeks"}}}}
EOF
check_out "policy create (daily)" \
    'j["name"] == "daily60" and j["timeZone"] == "Europe/Berlin" and j["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"] == 60 and j["instantRpRetentionRangeInDays"] == 3' \
    "$VMVAULT" policy create --vault-name v1 --name daily60 --policy daily60.json
check_out "policy create (weekly)" \
    'j["name"] == "weekly" and j["schedulePolicy"]["scheduleRunDays"] == ["Sunday"] and j["retentionPolicy"]["weeklySchedule"]["retentionDuration"] == {"count": 12, "durationType": "Weeks"}' \
    "$VMVAULT" policy create --vault-name v1 --name weekly --policy weekly.json
check_out "policy show" 'j["name"] == "daily60" and j["schedulePolicy"]["scheduleRunTimes"] == ["21:30"]' \
    "$VMVAULT" policy show --vault-name v1 --name daily60
check_out "policy list" 'sorted(p["name"] for p in L) == ["DefaultPolicy", "daily60", "weekly"]' \
    "$VMVAULT" policy list --vault-name v1
check_fails "a duplicate policy name is refused" 1 "PolicyAlreadyExists" \
    "$VMVAULT" policy create --vault-name v1 --name daily60 --policy daily60.json
check_fails "policies belong to their vault" 1 "PolicyNotFound" \
    "$VMVAULT" policy show --vault-name v2 --name daily60
check_fails "policy in an unknown vault" 1 "VaultNotFound" \
    "$VMVAULT" policy list --vault-name nosuch

# policy set: the Azure-style full date-time is accepted and its time kept
sed -e 's/"count": 60/"count": 90/' -e 's/"21:30"/"2026-01-01T02:30:00Z"/' daily60.json > daily90.json
check_out "policy set replaces the policy" 'j["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"] == 90' \
    "$VMVAULT" policy set --vault-name v1 --name daily60 --policy daily90.json
check_out "the new policy is shown, its time kept" \
    'j["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"] == 90 and "02:30" in j["schedulePolicy"]["scheduleRunTimes"][0]' \
    "$VMVAULT" policy show --vault-name v1 --name daily60
check_fails "policy set of an unknown policy" 1 "PolicyNotFound" \
    "$VMVAULT" policy set --vault-name v1 --name nosuch --policy daily60.json

# invalid policies: each refused, naming the field, and nothing created
bad_policy() { # NAME FIELD PYTHON-EDIT
    "$PY" -S - "$3" > "bad-$2.json" <<'PY'
import json, sys
p = json.load(open("daily60.json"))
exec(sys.argv[1])
print(json.dumps(p))
PY
    check_refused "invalid $1 is refused, naming $2" 1 InvalidParameter "$2" \
        "$VMVAULT" policy create --vault-name v1 --name "bad-$2" --policy "bad-$2.json"
}
bad_policy "run frequency" scheduleRunFrequency 'p["schedulePolicy"]["scheduleRunFrequency"] = "Monthly"'
bad_policy "run time" scheduleRunTimes 'p["schedulePolicy"]["scheduleRunTimes"] = ["02:17"]'
bad_policy "snapshot retention" instantRpRetentionRangeInDays 'p["instantRpRetentionRangeInDays"] = 9'
bad_policy "time zone" timeZone 'p["timeZone"] = "Mars/Olympus_Mons"'
bad_policy "daily retention" retentionDuration 'p["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"] = 3'
bad_policy "unknown field" colour 'p["colour"] = "red"'
check_out "refused policies were not created" 'sorted(p["name"] for p in L) == ["DefaultPolicy", "daily60", "weekly"]' \
    "$VMVAULT" policy list --vault-name v1
check_api "a bad policy name is refused" 400 InvalidParameter POST /api/v1/vaults/v1/policies \
    "$("$PY" -S -c 'import json; p=json.load(open("daily60.json")); p["name"]="bad name"; print(json.dumps(p))')"
check_api "malformed JSON in a policy" 400 InvalidJson POST /api/v1/vaults/v1/policies '{"name": "x", "timeZone": '

check_fails "DefaultPolicy cannot be deleted" 1 "DefaultPolicyNotDeletable" \
    "$VMVAULT" policy delete --vault-name v1 --name DefaultPolicy
check_api "nor by API" 409 DefaultPolicyNotDeletable DELETE /api/v1/vaults/v1/policies/DefaultPolicy
check "policy delete" "$VMVAULT" policy delete --vault-name v1 --name weekly
check_fails "a deleted policy is gone" 1 "PolicyNotFound" "$VMVAULT" policy show --vault-name v1 --name weekly
check_fails "delete of an unknown policy" 1 "PolicyNotFound" "$VMVAULT" policy delete --vault-name v1 --name weekly

# ---- backup properties -----------------------------------------------------------
check_out "backup-properties show" \
    'j["storageRedundancy"] == "GeoRedundant" and j["storageRedundancyLocked"] is False and j["softDelete"] == {"state": "Enabled", "retentionDays": 14}' \
    "$VMVAULT" vault backup-properties show --name v1
check "backup-properties set (no item yet: allowed)" \
    "$VMVAULT" vault backup-properties set --name v1 --backup-storage-redundancy LocallyRedundant
check_out "the new redundancy is shown" 'j["storageRedundancy"] == "LocallyRedundant"' \
    "$VMVAULT" vault backup-properties show --name v1
check_out "and on the vault" 'j["storageRedundancy"] == "LocallyRedundant"' "$VMVAULT" vault show --name v1
check_api "soft delete settings by API" 200 "" PATCH /api/v1/vaults/v1/backupProperties \
    '{"softDelete": {"state": "Enabled", "retentionDays": 30}}'
check_json "are kept" 'j["softDelete"] == {"state": "Enabled", "retentionDays": 30} and j["storageRedundancy"] == "LocallyRedundant"'
check_api "an unknown redundancy is refused" 400 InvalidParameter PATCH /api/v1/vaults/v1/backupProperties \
    '{"storageRedundancy": "Everywhere"}'
check_api "retention over 180 days is refused" 400 InvalidParameter PATCH /api/v1/vaults/v1/backupProperties \
    '{"softDelete": {"state": "Enabled", "retentionDays": 181}}'
check_api "an unknown property is refused" 400 InvalidParameter PATCH /api/v1/vaults/v1/backupProperties \
    '{"encryption": "none"}'
check_fails "backup properties of an unknown vault" 1 "VaultNotFound" \
    "$VMVAULT" vault backup-properties show --name nosuch

# ---- restart: nothing lost -------------------------------------------------------
srv_restart "the server"
check "owner.token is kept across restarts" test "$(tr -d ' \n' < "$D/owner.token")" = "$TOKEN0"
check_api "the owner token still works" 200 "" GET /api/v1/whoami
check_out "vaults are kept" 'sorted(v["name"] for v in L) == ["v1", "v2"]' "$VMVAULT" vault list
check_out "a vault keeps its id and settings" \
    'j["id"] == "'"$V1ID"'" and j["location"] == "westeurope" and j["storageRedundancy"] == "LocallyRedundant"' \
    "$VMVAULT" vault show --name v1
check_out "v2 keeps its options" \
    'j["storageRedundancy"] == "LocallyRedundant" and j["softDelete"] == {"state": "Disabled", "retentionDays": 30}' \
    "$VMVAULT" vault show --name v2
check_out "backup properties are kept" \
    'j["storageRedundancy"] == "LocallyRedundant" and j["softDelete"] == {"state": "Enabled", "retentionDays": 30}' \
    "$VMVAULT" vault backup-properties show --name v1
check_out "policies are kept" 'sorted(p["name"] for p in L) == ["DefaultPolicy", "daily60"]' \
    "$VMVAULT" policy list --vault-name v1
check_out "a changed policy stays changed" \
    'j["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"] == 90 and j["timeZone"] == "Europe/Berlin"' \
    "$VMVAULT" policy show --vault-name v1 --name daily60
check_fails "a deleted vault stays deleted" 1 "VaultNotFound" "$VMVAULT" vault show --name v3
check_fails "duplicates are still refused" 1 "VaultAlreadyExists" \
    "$VMVAULT" vault create --name v2 --location westeurope
check_out "a new vault after the restart" 'j["name"] == "v4" and j["id"] not in ("'"$V1ID"'", "'"$V2ID"'")' \
    "$VMVAULT" vault create --name v4 --location westeurope
check "policy delete after the restart" "$VMVAULT" policy delete --vault-name v1 --name daily60

rc=0; srv_stop || rc=$?
check "the server exits 0 on SIGTERM at the end" test "$rc" = 0
finish
