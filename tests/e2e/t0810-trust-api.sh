#!/usr/bin/env bash
# Trust at the API, without libvirt: a registration secret cannot take over a
# registered host (409 ContainerAlreadyRegistered) unless the host re-keys with its
# own token or a Contributor allowed its replacement; chunk pins and reads need a
# running job of the caller's host of the right kind (Backup for pins, Restore for
# reads) and a job's pins are capped; resuming with another policy needs a
# Contributor, and points whose expiry a resume brought forward are soft deleted by
# the prune (listed, undeletable), not removed; registrations, credentials,
# replacements, restores and cancels are in the audit log with their actor.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_server.sh"
VMVAULT_AGENT=${VMVAULT_AGENT:-$TOP/build/vmvault-agent}
case $VMVAULT_AGENT in /*) ;; *) VMVAULT_AGENT=$PWD/$VMVAULT_AGENT ;; esac
cd "$WORK"
VV=$VVAPI
CLOCK=$WORK/clock
clock() { printf '%s\n' "$1" > "$CLOCK.tmp" && mv "$CLOCK.tmp" "$CLOCK"; }
# wait_for SECONDS COMMAND...: until COMMAND succeeds, at most SECONDS
wait_for() {
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do [ $SECONDS -lt "$deadline" ] || return 1; sleep 0.1; done
}
clock 2027-01-04T12:00:00Z
# --handler-threads 16: at most 4 long polls wait at once (a quarter), 2 per host
srv_start "$WORK/data" --clock-file "$CLOCK" --prune-time 03:00 --job-pin-limit 8 \
    --handler-threads 16 || finish

for u in operator:Operator contrib:Contributor; do
    "$VMVAULT" user create --name "${u%%:*}" --role "${u#*:}" >/dev/null 2>&1
    t=$("$VMVAULT" token create --user "${u%%:*}" 2>/dev/null | json_value 'j["token"]')
    printf -v "TOK_${u%%:*}" '%s' "$t"
done
O=$TOK_operator C=$TOK_contrib
"$VMVAULT" vault create --name v1 --location westeurope >/dev/null 2>&1
check "a Contributor issues vault credentials" cli_as "$C" vault credentials --name v1 --file creds.json

# ---- registration: no takeover ----------------------------------------------------------
check "host1 registers" run_vvapi --state a1.json agent register --creds creds.json --host host1
A1=$(json_get a1.json 'j["token"]')
check "host2 registers" run_vvapi --state a2.json agent register --creds creds.json --host host2
A2=$(json_get a2.json 'j["token"]')
SECRET=$(json_get creds.json 'j["registrationSecret"]')
VID=$(json_get creds.json 'j["vaultId"]')
REG='{"vaultId": "'$VID'", "registrationSecret": "'$SECRET'", "hostName": "host1"}'
API_TOKEN=- check_api "registering host1's name again with the secret alone is refused" 409 ContainerAlreadyRegistered POST /api/v1/agent/register "$REG"
check "the refusal names the host and the way out" sh -c "grep -q host1 '$API_BODY' && grep -q allow-replacement '$API_BODY'"
API_TOKEN=$A1 check_api "host1's token still works after the attempt" 204 "" GET "/api/v1/agent/jobs/next?wait=0"
API_TOKEN=$A2 check_api "another host's token does not re-key host1" 409 ContainerAlreadyRegistered POST /api/v1/agent/register "$REG"
API_TOKEN=vva_00000000_0000000000000000000000000000000000000000000000000000000000000000 \
    check_api "a made-up token does not re-key host1" 409 ContainerAlreadyRegistered POST /api/v1/agent/register "$REG"
check "host1 re-keys with its own token" run_vvapi --state a1b.json agent register --creds creds.json --host host1 --token "$A1"
API_TOKEN=$A1 check_api "the re-keyed host's old token is refused" 401 Unauthenticated GET "/api/v1/agent/jobs/next?wait=0"
A1=$(json_get a1b.json 'j["token"]')
API_TOKEN=$A1 check_api "its new token works" 204 "" GET "/api/v1/agent/jobs/next?wait=0"
API_TOKEN=$O check_api "an Operator cannot allow a replacement" 403 AuthorizationFailed POST /api/v1/vaults/v1/containers/host2/allowReplacement '{}'
check_api "allowing the replacement of an unknown host is 404" 404 ContainerNotFound POST /api/v1/vaults/v1/containers/nohost/allowReplacement '{}'
check_out "a Contributor allows host2's replacement for an hour (CLI)" 'j["container"] == "host2" and j["replacementAllowedUntil"].startswith("2027-01-04T13:")' \
    cli_as "$C" container allow-replacement --vault-name v1 --name host2
check "then a reinstalled host2 registers" run_vvapi --state a2b.json agent register --creds creds.json --host host2
API_TOKEN=$A2 check_api "the replaced host's old token is refused" 401 Unauthenticated GET "/api/v1/agent/jobs/next?wait=0"
A2=$(json_get a2b.json 'j["token"]')
REG2=${REG/host1/host2}
API_TOKEN=- check_api "the allowance is used up by that registration" 409 ContainerAlreadyRegistered POST /api/v1/agent/register "$REG2"
BIG='{"vaultId": "'$VID'", "registrationSecret": "'$SECRET'", "hostName": "host9", "region": "'$(head -c 5000 /dev/zero | tr '\0' a)'"}'
API_TOKEN=- check_api "a registration body over 4 KiB is refused without a token" 413 RequestTooLarge POST /api/v1/agent/register "$BIG"

# the real agent: registering again from its state folder re-keys; a fresh one is refused
if [ -x "$VMVAULT_AGENT" ]; then
    check "vmvault-agent registers hostA" "$VMVAULT_AGENT" register --vault-credentials creds.json --host-name hostA --state-dir sa
    check "vmvault-agent registers hostA again from its state folder (re-key)" "$VMVAULT_AGENT" register --vault-credentials creds.json --host-name hostA --state-dir sa
    check_refused "a fresh state folder cannot take hostA's name" 1 ContainerAlreadyRegistered "allow-replacement" \
        "$VMVAULT_AGENT" register --vault-credentials creds.json --host-name hostA --state-dir sb
    API_TOKEN=$(json_get sa/agent.json 'j["token"]') check_api "hostA's agent still works" 204 "" GET "/api/v1/agent/jobs/next?wait=0"
else
    fail "vmvault-agent is built" "$VMVAULT_AGENT is missing"
fi

# ---- pins: only for a running Backup job of the caller's host, capped -------------------
cat > p30.json <<'EOF'
{"timeZone": "UTC",
 "schedulePolicy": {"scheduleRunFrequency": "Daily", "scheduleRunTimes": ["02:00"]},
 "instantRpRetentionRangeInDays": 2,
 "retentionPolicy": {"dailySchedule": {"retentionDuration": {"count": 30, "durationType": "Days"}}}}
EOF
sed 's/"count": 30/"count": 7/' p30.json > p7.json
"$VMVAULT" policy create --vault-name v1 --name p30 --policy p30.json >/dev/null 2>&1
"$VMVAULT" policy create --vault-name v1 --name p7 --policy p7.json >/dev/null 2>&1
U1=11111111-1111-4111-8111-111111111111 U2=22222222-2222-4222-8222-222222222222
run_vvapi --state a1b.json agent inventory "web1:$U1" >/dev/null
run_vvapi --state a2b.json agent inventory "db1:$U2" >/dev/null
check "protect web1 (host1)" "$VMVAULT" protection enable-for-vm --vault-name v1 --vm web1 --policy-name p30
check "protect db1 (host2)" "$VMVAULT" protection enable-for-vm --vault-name v1 --vm db1 --policy-name p30
check "the store's vault.json names web1 and its host at once" \
    "$PY" -S -c 'import json, sys; j = json.load(open(sys.argv[1])); sys.exit(not any(i["name"] == "web1" and i["host"] == "host1" for i in j["items"]))' \
    "$SRV_DATA/vaults/$VID/store/vault.json"
for i in 1 2 3 4 5 6 7 8 9 10; do eval "K$i=\$($VV gen --seed pin$i --size 4096 --out k$i.bin)"; done
ids() { local s="" x; for x in "$@"; do s="$s${s:+, }\"$x\""; done; printf '{"ids": [%s]}' "$s"; }
J=$("$VMVAULT" protection backup-now --vault-name v1 --item-name web1 | json_value 'j["id"]')
JD=$("$VMVAULT" protection backup-now --vault-name v1 --item-name db1 | json_value 'j["id"]')
aapi() { API_TOKEN=$A1 api "$@"; }
acheck() { API_TOKEN=$A1 check_api "$@"; }
acheck "pins for a job that is not claimed yet are refused" 409 JobNotClaimable POST "/api/v1/agent/chunks/missing?job=$J" "$(ids "$K1")"
check_out "host1 claims its backup" 'j["id"] == "'"$J"'"' run_vvapi --state a1b.json agent claim --wait 5
check_out "host2 claims its backup" 'j["id"] == "'"$JD"'"' run_vvapi --state a2b.json agent claim --wait 5
acheck "?job= that is not a job id is refused" 400 InvalidParameter POST "/api/v1/agent/chunks/missing?job=lots-of-pins" "$(ids "$K1")"
acheck "?job= naming no job is refused" 404 JobNotFound POST "/api/v1/agent/chunks/missing?job=00000000-0000-4000-8000-000000000000" "$(ids "$K1")"
acheck "?job= naming another host's job is refused" 404 JobNotFound POST "/api/v1/agent/chunks/missing?job=$JD" "$(ids "$K1")"
API_CTYPE=application/octet-stream acheck "an upload for another host's job is refused" 404 JobNotFound PUT "/api/v1/agent/chunks/$K1?job=$JD" @k1.bin
acheck "pins for host1's running backup" 200 "" POST "/api/v1/agent/chunks/missing?job=$J" "$(ids "$K1" "$K2" "$K3" "$K4" "$K5")"
acheck "pins past the job's limit (8) are refused" 429 PinLimitReached POST "/api/v1/agent/chunks/missing?job=$J" "$(ids "$K6" "$K7" "$K8" "$K9")"
check "the refusal says the limit and its setting" sh -c "grep -q 'at most 8' '$API_BODY' && grep -q -- --job-pin-limit '$API_BODY'"
for k in 1 6 7; do   # pins 6, 7 and 8
    API_CTYPE=application/octet-stream acheck "upload $k within the limit" 201 "" PUT "/api/v1/agent/chunks/$(eval echo \$K$k)?job=$J" "@k$k.bin"
done
API_CTYPE=application/octet-stream acheck "an upload past the limit is refused" 429 PinLimitReached PUT "/api/v1/agent/chunks/$K8?job=$J" @k8.bin
API_CTYPE=application/octet-stream acheck "an upload naming no job pins nothing and is accepted" 201 "" PUT "/api/v1/agent/chunks/$K2" @k2.bin
acheck "host1 fails its backup" 200 "" POST "/api/v1/agent/jobs/$J/complete" '{"status": "Failed", "error": {"code": "Test", "message": "test"}}'
acheck "pins for an ended job are refused" 409 JobAlreadyEnded POST "/api/v1/agent/chunks/missing?job=$J" "$(ids "$K1")"
$VV index --chunk-size 4096 --virtual-size 4096 --out k.idx "$K1"
API_CTYPE=application/octet-stream acheck "an index for an ended job is refused" 409 JobAlreadyEnded PUT "/api/v1/agent/jobs/$J/disks/vda/index" @k.idx
API_TOKEN=$A2 check_api "host2 fails its backup" 200 "" POST "/api/v1/agent/jobs/$JD/complete" '{"status": "Failed", "error": {"code": "Test", "message": "test"}}'
# a real backup within the limit (2 data chunks: 2 questions + 2 uploads)
J=$("$VMVAULT" protection backup-now --vault-name v1 --item-name web1 --retain-until 2027-01-09 | json_value 'j["id"]')
check_out "a backup within the pin limit completes" 'j["status"] == "Completed"' \
    run_vvapi --state a1b.json agent backup --next --chunks 3 --chunk-size 4096 --seed b1
P1=$("$VMVAULT" job show --vault-name v1 --name "$J" | json_value 'j["recoveryPoint"]')
J=$("$VMVAULT" protection backup-now --vault-name v1 --item-name web1 | json_value 'j["id"]')
check_out "and a second one" 'j["status"] == "Completed"' \
    run_vvapi --state a1b.json agent backup --next --chunks 3 --chunk-size 4096 --seed b2
P2=$("$VMVAULT" job show --vault-name v1 --name "$J" | json_value 'j["recoveryPoint"]')

# ---- reads: only for a running Restore job of the caller's host -------------------------
B=$("$VMVAULT" protection backup-now --vault-name v1 --item-name web1 | json_value 'j["id"]')
check_out "host1 claims a backup" 'j["id"] == "'"$B"'"' run_vvapi --state a1b.json agent claim --wait 5
acheck "a chunk read that names no job is refused" 400 InvalidParameter GET "/api/v1/agent/chunks/$K1"
acheck "a chunk read for a backup job is refused" 409 WrongJobKind GET "/api/v1/agent/chunks/$K1?job=$B"
acheck "a batch read for a backup job is refused" 409 WrongJobKind POST "/api/v1/agent/chunks/fetch?job=$B" "$(ids "$K1")"
acheck "pins for a backup work meanwhile" 200 "" POST "/api/v1/agent/chunks/missing?job=$B" "$(ids "$K1")"
staged=0
for i in $(seq 0 255); do
    API_CTYPE=application/octet-stream aapi PUT "/api/v1/agent/jobs/$B/disks/d$i/index" @k.idx
    [ "$API_STATUS" = 201 ] && staged=$((staged + 1))
done
check "a backup stages the indexes of up to 256 disks" test "$staged" = 256
API_CTYPE=application/octet-stream acheck "an index for a 257th disk is refused" 409 TooManyDisks PUT "/api/v1/agent/jobs/$B/disks/d256/index" @k.idx
API_CTYPE=application/octet-stream acheck "a staged disk's index can be sent again" 201 "" PUT "/api/v1/agent/jobs/$B/disks/d0/index" @k.idx
acheck "host1 ends that backup" 200 "" POST "/api/v1/agent/jobs/$B/complete" '{"status": "Cancelled"}'
RJ=$("$VMVAULT" restore restore-disks --vault-name v1 --item-name web1 --rp-name "$P2" --target-dir /var/tmp/vv-t0810 2>/dev/null | json_value 'j["id"]')
check "a restore job for host1" test -n "$RJ"
acheck "reads for an unclaimed restore are refused" 409 JobNotClaimable GET "/api/v1/agent/chunks/$K1?job=$RJ"
check_out "host1 claims the restore" 'j["id"] == "'"$RJ"'"' run_vvapi --state a1b.json agent claim --wait 5
# the chunks of P2 (vvapi's backup --seed b2: data chunks 0 and 2 of disk vda)
point_chunk() { "$PY" -S -c 'import sys; sys.path.insert(0, sys.argv[1]); import vvapi; print(vvapi.sha256(vvapi.chunk_data(sys.argv[2], int(sys.argv[3]))))' "$TOP/tests/tools" "$@"; }
Q0=$(point_chunk b2:web1:vda:0 4096) Q2=$(point_chunk b2:web1:vda:2 2048)
acheck "a chunk read for the running restore" 200 "" GET "/api/v1/agent/chunks/$Q0?job=$RJ"
acheck "a batch read for the running restore" 200 "" POST "/api/v1/agent/chunks/fetch?job=$RJ" "$(ids "$Q2" "$Q0")"
acheck "a chunk the restored point does not name is refused" 403 ChunkNotInRecoveryPoint GET "/api/v1/agent/chunks/$K1?job=$RJ"
check "the refusal names the chunk and the point" sh -c "grep -q '$K1' '$API_BODY' && grep -q '$P2' '$API_BODY'"
acheck "a batch with one chunk outside the point is refused" 403 ChunkNotInRecoveryPoint POST "/api/v1/agent/chunks/fetch?job=$RJ" "$(ids "$Q0" "$K2")"
API_TOKEN=$A2 check_api "another host cannot read for host1's restore" 404 JobNotFound GET "/api/v1/agent/chunks/$Q0?job=$RJ"
acheck "reads for a restore job id that is not one are refused" 400 InvalidParameter GET "/api/v1/agent/chunks/$Q0?job=x"
acheck "pins for a restore job are refused" 409 WrongJobKind POST "/api/v1/agent/chunks/missing?job=$RJ" "$(ids "$K1")"
acheck "host1 ends the restore" 200 "" POST "/api/v1/agent/jobs/$RJ/complete" '{"status": "Completed"}'
acheck "reads for an ended restore are refused" 409 JobAlreadyEnded GET "/api/v1/agent/chunks/$Q0?job=$RJ"
X=$("$VMVAULT" protection backup-now --vault-name v1 --item-name web1 | json_value 'j["id"]')
check "an Operator cancels a job" cli_as "$O" job stop --vault-name v1 --name "$X"
run_vvapi --state a1b.json agent claim --wait 2 >/dev/null 2>&1
API_TOKEN=$A1 api POST "/api/v1/agent/jobs/$X/complete" '{"status": "Cancelled"}'

# ---- resume: a change of policy needs a Contributor; what it shortens is soft deleted --
check "a Contributor stops web1's protection, data kept" cli_as "$C" protection disable --vault-name v1 --item-name web1
check_api "the points are kept forever" 200 "" GET /api/v1/vaults/v1/protectedItems/web1/recoveryPoints
check_json "no expiry" 'len(L) == 2 and all(p["expiresAt"] is None for p in L)'
clock 2027-01-14T12:00:00Z      # p1 asked to be kept until 2027-01-09
njobs_running() { "$VMVAULT" job list --vault-name v1 --operation Prune 2>/dev/null | json_value 'len([x for x in L if x["status"] == "InProgress"])'; }
no_prune_running() { [ "$(njobs_running)" = 0 ]; }
wait_for 20 no_prune_running
API_TOKEN=$O check_api "an Operator cannot resume with another policy" 403 AuthorizationFailed POST /api/v1/vaults/v1/protectedItems/web1/resume '{"policy": "p7"}'
check "the refusal names the Contributor role" grep -q Contributor "$API_BODY"
API_TOKEN=$O check_api "an Operator resumes with the item's own policy" 200 "" POST /api/v1/vaults/v1/protectedItems/web1/resume '{"policy": "p30"}'
check_api "p1's expiry is back in the past" 200 "" GET "/api/v1/vaults/v1/protectedItems/web1/recoveryPoints/$P1"
check_json "expiresAt 2027-01-09" 'j["expiresAt"].startswith("2027-01-09") and j["softDeleted"] is False'
PJ=$(API_TOKEN=$O api POST /api/v1/vaults/v1/prune '{}'; api_field 'j["id"]')
prune_done() { [ "$("$VMVAULT" job show --vault-name v1 --name "$PJ" | json_value 'j["status"]')" = Completed ]; }
check "the prune completes" wait_for 20 prune_done
check_api "p1 is still listed" 200 "" GET /api/v1/vaults/v1/protectedItems/web1/recoveryPoints
check_json "soft deleted with a purge time, p2 untouched" \
    '{p["name"]: p["softDeleted"] for p in L} == {"'"$P1"'": True, "'"$P2"'": False} and [p for p in L if p["name"] == "'"$P1"'"][0]["purgeAt"] is not None'
check "p1 is still in the store" test -d "$SRV_DATA/vaults/$VID/store/points/$P1"
check_api "web1's counts" 200 "" GET /api/v1/vaults/v1/protectedItems/web1
check_json "the soft-deleted point is counted apart from the restorable one" 'j["recoveryPointCount"] == 1 and j["softDeletedPointCount"] == 1'
check_api "the vault's counts" 200 "" GET /api/v1/vaults/v1
check_json "the vault counts restorable points, the soft-deleted one apart" 'j["recoveryPointCount"] == 1 and j["softDeletedPointCount"] == 1'
check_api "the vault overview" 200 "" GET /api/v1/vaults/v1/overview
check_json "the overview counts the soft-deleted point apart" 'j["storage"]["recoveryPoints"] == 1 and j["storage"]["softDeletedPoints"] == 1'
check_api "a soft-deleted point cannot be restored" 409 RecoveryPointSoftDeleted POST "/api/v1/vaults/v1/protectedItems/web1/recoveryPoints/$P1/restore" '{"targetDirectory": "/var/tmp/vv-t0810"}'
API_TOKEN=$O check_api "an Operator undeletes p1" 200 "" POST "/api/v1/vaults/v1/protectedItems/web1/recoveryPoints/$P1/undelete" '{}'
check_json "p1 is back, kept without expiry" 'j["softDeleted"] is False and j["expiresAt"] is None'
check_api "undeleting a point that is not deleted" 409 RecoveryPointNotDeleted POST "/api/v1/vaults/v1/protectedItems/web1/recoveryPoints/$P2/undelete" '{}'
PJ=$(API_TOKEN=$O api POST /api/v1/vaults/v1/prune '{}'; api_field 'j["id"]')
check "another prune completes" wait_for 20 prune_done
check_api "the undeleted point stays" 200 "" GET "/api/v1/vaults/v1/protectedItems/web1/recoveryPoints/$P1"
check_json "not deleted again" 'j["softDeleted"] is False'
check "a Contributor stops protection again" cli_as "$C" protection disable --vault-name v1 --item-name web1
API_TOKEN=$C check_api "a Contributor resumes with another policy" 200 "" POST /api/v1/vaults/v1/protectedItems/web1/resume '{"policy": "p7"}'
check_json "on p7" 'j["policy"] == "p7"'

# ---- a policy edit that shortens retention: its points are soft deleted too --------------
check "a Contributor lengthens p7 to 30 days" cli_as "$C" policy set --vault-name v1 --name p7 --policy p30.json
clock 2027-01-15T02:30:00Z
check_out "the scheduled backup of Jan 15 runs" 'j["status"] == "Completed"' \
    run_vvapi --state a1b.json agent backup --next --chunks 3 --chunk-size 4096 --seed s1
S1=$(API_TOKEN=$O api GET /api/v1/vaults/v1/protectedItems/web1/recoveryPoints; api_field '[p["name"] for p in L if p["kind"] == "Scheduled"][0]')
clock 2027-01-16T02:30:00Z
check_out "the scheduled backup of Jan 16 runs" 'j["status"] == "Completed"' \
    run_vvapi --state a1b.json agent backup --next --chunks 3 --chunk-size 4096 --seed s2
check "a Contributor shortens p7 back to 7 days" cli_as "$C" policy set --vault-name v1 --name p7 --policy p7.json
check_api "the Jan 15 point now expires on Jan 22" 200 "" GET "/api/v1/vaults/v1/protectedItems/web1/recoveryPoints/$S1"
check_json "expiresAt 2027-01-22" 'j["expiresAt"].startswith("2027-01-22")'
clock 2027-01-23T02:40:00Z
run_vvapi --state a1b.json agent backup --next --chunks 3 --chunk-size 4096 --seed s3 >/dev/null 2>&1
PJ=$(API_TOKEN=$O api POST /api/v1/vaults/v1/prune '{}'; api_field 'j["id"]')
check "a prune after that expiry completes" wait_for 20 prune_done
check_api "the Jan 15 point is listed" 200 "" GET "/api/v1/vaults/v1/protectedItems/web1/recoveryPoints/$S1"
check_json "soft deleted, not removed" 'j["softDeleted"] is True and j["purgeAt"] is not None'

# ---- the audit log ----------------------------------------------------------------------
check_api "audit log" 200 "" GET "/api/v1/audit?limit=1000"
audit_has() { # NAME ACTOR TARGET ACTION
    check_json "audit: $1" 'any(e["actor"] == "'"$2"'" and e["target"] == "'"$3"'" and e["action"] == "'"$4"'" for e in L)'
}
audit_has "credentials issued by contrib" contrib v1 IssueRegistrationSecret
audit_has "host1 registered" registration:host1 host1 RegisterContainer
audit_has "the takeover attempt on host1" registration:host1 host1 RegisterContainerRefused
audit_has "host1 re-keyed" registration:host1 host1 ReRegisterContainer
audit_has "host2's replacement allowed by contrib" contrib host2 AllowContainerReplacement
audit_has "host2 replaced" registration:host2 host2 ReplaceContainer
audit_has "the restore requested by owner" owner web1 RestoreRequested
check_json "audit: the restore names its point and mode" 'any(e["action"] == "RestoreRequested" and "'"$P2"'" in (e.get("detail") or "") and "RestoreDisks" in (e.get("detail") or "") for e in L)'
audit_has "the cancel by operator" operator "$X" CancelJob
audit_has "the resume by operator" operator web1 ResumeProtection
audit_has "the resume by contrib" contrib web1 ResumeProtection
audit_has "p1 soft deleted by the prune" vmvaultd web1 SoftDeleteRecoveryPoint
audit_has "p1 undeleted by operator" operator web1 UndeleteRecoveryPoint
# ---- long polls: at most 2 per host, a quarter of the handler threads in all -------------
# host3..host5 have no VM and no job: every poll of theirs waits its whole time
cli_as "$C" vault credentials --name v1 --file creds3.json >/dev/null 2>&1   # the first have expired
for h in host3 host4 host5; do
    check "$h registers" run_vvapi --state "$h.json" agent register --creds creds3.json --host "$h"
done
A3=$(json_get host3.json 'j["token"]') A4=$(json_get host4.json 'j["token"]') A5=$(json_get host5.json 'j["token"]')
poll_bg() { # OUT TOKEN: a 6 s long poll in the background, its status into OUT
    curl -sS -m 30 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $2" \
        "$SRV_URL/api/v1/agent/jobs/next?wait=6" > "$1" 2>/dev/null &
    BG_PIDS+=($!)
}
poll_codes() { local f; for f in "$1".*; do [ -s "$f" ] && { cat "$f"; echo; }; done; }
polls_answered() { [ "$(poll_codes "$1" | grep -c .)" -ge "$2" ]; }   # PREFIX N
poll_count() { poll_codes "$1" | grep -c "^$2\$"; }                    # PREFIX STATUS
rm -f poll3.* poll4.*
T0=$SECONDS
for i in $(seq 1 20); do poll_bg "poll3.$i" "$A3"; done   # more than the 16 handler threads
check "18 of host3's 20 parallel polls are answered at once" wait_for 4 polls_answered poll3 18
check "the health check answers at once meanwhile" curl -fsS -m 2 -o /dev/null "$SRV_URL/api/v1/health"
API_TOKEN=$A3 check_api "a third waiting poll of host3 is refused" 429 TooManyPolls GET "/api/v1/agent/jobs/next?wait=5"
check "with Retry-After" sh -c "curl -sS -m 5 -D - -o /dev/null -H 'Authorization: Bearer $A3' '$SRV_URL/api/v1/agent/jobs/next?wait=5' | grep -qi '^Retry-After: 5'"
API_TOKEN=$A3 check_api "a poll that does not wait is answered meanwhile" 204 "" GET "/api/v1/agent/jobs/next?wait=0"
poll_bg poll4.1 "$A4"; poll_bg poll4.2 "$A4"
sleep 1
API_TOKEN=$A5 check_api "a fifth waiting poll in all is refused (a quarter of 16 threads)" 429 TooManyPolls GET "/api/v1/agent/jobs/next?wait=5"
check "the refusal says the server's polls are all taken" grep -q "all taken\|as many polls" "$API_BODY"
check "the health check still answers at once" curl -fsS -m 2 -o /dev/null "$SRV_URL/api/v1/health"
check "all polls end within their wait" wait_for 15 polls_answered poll3 20
check "host4's polls end too" wait_for 10 polls_answered poll4 2
check "host3: 2 polls waited (204)" test "$(poll_count poll3 204)" = 2
check "host3: 18 were refused (429)" test "$(poll_count poll3 429)" = 18
check "host4: both polls waited (204)" test "$(poll_count poll4 204)" = 2
check "they waited their time, not more" test $((SECONDS - T0)) -lt 25
API_TOKEN=$A5 check_api "a poll after them waits again" 204 "" GET "/api/v1/agent/jobs/next?wait=1"

# ---- options: --job-pin-limit is checked; check takes no serving options ----------------
check_fails "--job-pin-limit 0 is refused" 2 "job-pin-limit must be 1 to" "$VMVAULTD" --job-pin-limit 0
check "--help documents --job-pin-limit" sh -c "'$VMVAULTD' --help | grep -q -- '--job-pin-limit N'"
for o in "--body-budget 64M" "--handler-threads 8" "--max-connections 100" \
         "--max-connections-per-address 4" "--header-timeout 5" "--job-pin-limit 100"; do
    # shellcheck disable=SC2086
    check_fails "vmvaultd check refuses ${o%% *}" 2 "check: .*do not apply here" "$VMVAULTD" check --data-dir "$WORK/nodata" $o
    # shellcheck disable=SC2086
    check_fails "vmvaultd backup-catalog refuses ${o%% *}" 2 "backup-catalog takes only" "$VMVAULTD" backup-catalog --to "$WORK/nocopy.db" --data-dir "$WORK/nodata" $o
done

rc=0; srv_stop || rc=$?
check "the server exits 0 on SIGTERM" test "$rc" = 0

# ---- a full disk: a vault's creation, a catalog backup, an index's staging folder -------
if [ "$(id -u)" != 0 ]; then
    echo "SKIP the full-disk checks: they need root to mount a tmpfs"
    finish
fi
MNT=$WORK/mnt
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=32m,nr_inodes=20000,mode=0755 tmpfs "$MNT"; then
    fail "a 32 MiB tmpfs is mounted" "mount failed"
    finish
fi
# the server first (its files are open there), then the mount, then the usual cleanup
trap 'rc=$?; srv_stop >/dev/null 2>&1; umount "$MNT" 2>/dev/null || umount -l "$MNT"; (exit $rc); _srv_cleanup' EXIT
D=$MNT/data
srv_start "$D" --min-free 0 || finish
run_vvapi call POST /api/v1/vaults '{"name": "f1", "location": "westeurope"}' >/dev/null
run_vvapi call POST /api/v1/vaults/f1/credentials '{}' > fcreds.json
check "host1 registers with the full-disk vault" run_vvapi --state f.json agent register --creds fcreds.json --host host1
run_vvapi --state f.json agent inventory "web1:$U1" >/dev/null
run_vvapi call POST /api/v1/vaults/f1/protectedItems '{"vm": "web1"}' >/dev/null
AF=$(json_get f.json 'j["token"]')
fill_blocks() { dd if=/dev/zero of="$MNT/filler" bs=64k count=1024 2>/dev/null; sync; }
fill_inodes() { "$PY" -S -c '
import os, sys
os.makedirs(sys.argv[1], exist_ok=True)
for i in range(30000):      # bounded: the tmpfs has 20000 inodes
    try: open(os.path.join(sys.argv[1], str(i)), "w").close()
    except OSError: break' "$MNT/inodes"; }
nvaults() { find "$D/vaults" -mindepth 1 -maxdepth 1 -type d | wc -l; }
N0=$(nvaults)
fill_blocks
check_api "creating a vault on a full disk: 507 VaultStorageFull" 507 VaultStorageFull POST /api/v1/vaults '{"name": "f2", "location": "westeurope"}'
check "no folder of the failed vault is left" test "$(nvaults)" = "$N0"
check_fails "a catalog backup on a full disk says VaultStorageFull" 1 "VaultStorageFull" \
    "$VMVAULTD" backup-catalog --to "$MNT/catalog-copy.db" --data-dir "$D"
check "and leaves no copy" test ! -e "$MNT/catalog-copy.db"
rm -f "$MNT/filler"
srv_stop; srv_start "$D" --min-free 0 || finish   # the catalog's reserve back
run_vvapi call POST /api/v1/vaults/f1/protectedItems/web1/backup '{}' > fj.json
FJ=$(json_get fj.json 'j["id"]')
check_out "host1 claims the backup" 'j["id"] == "'"$FJ"'"' run_vvapi --state f.json agent claim --wait 5
$VV index --chunk-size 4096 --virtual-size 4096 --out f.idx "$K1"
fill_inodes
API_CTYPE=application/octet-stream API_TOKEN=$AF check_api "an index upload whose staging folder cannot be made: 507 VaultStorageFull" \
    507 VaultStorageFull PUT "/api/v1/agent/jobs/$FJ/disks/vda/index" @f.idx
rm -rf "$MNT/inodes"
check_api "the job" 200 "" GET "/api/v1/vaults/f1/jobs/$FJ"
check_json "ended Failed with VaultStorageFull" 'j["status"] == "Failed" and (j.get("error") or {}).get("code") == "VaultStorageFull"'
finish
