#!/usr/bin/env bash
# A full disk under the vault: the server's data folder on a 64 MiB tmpfs, driven as a
# host agent over raw HTTP (like t0240). A chunk upload, an index upload and a commit
# that find the disk full answer 507 VaultStorageFull with the free space in the
# message, the job ends Failed with that code (recorded although SQLite shares the
# full disk), no empty point folder is left, and the store verifies. Below --min-free a backup is
# refused before it starts (backup now: 507 VaultStorageLow; a queued one when its
# agent claims it) and the vault overview shows the alert. Once space is freed a
# backup commits, and the overview's stored bytes (a background walk) follow it and a
# garbage collection. Needs root (mount).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_server.sh"
cd "$WORK"
if [ "$(id -u)" != 0 ]; then
    echo "SKIP t0270-full-disk: needs root to mount a tmpfs"
    exit 0
fi
MNT=$WORK/mnt
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=64m,mode=0755 tmpfs "$MNT"; then
    fail "a 64 MiB tmpfs is mounted" "mount failed"
    finish
fi
# the server first (its files are open there), then the mount, then the usual cleanup
trap 'rc=$?; srv_stop >/dev/null 2>&1; umount "$MNT" 2>/dev/null || umount -l "$MNT"; (exit $rc); _srv_cleanup' EXIT
D=$MNT/data
VV=$VVAPI
OCT=application/octet-stream
CS=65536

srv_start "$D" --min-free 0 || finish
U1=11111111-1111-4111-8111-111111111111
run_vvapi call POST /api/v1/vaults '{"name": "v1", "location": "westeurope"}' > v1.json
V1ID=$(json_get v1.json 'j["id"]')
run_vvapi call POST /api/v1/vaults/v1/credentials '{}' > creds.json
check "agent registers" run_vvapi --state a.json agent register --creds creds.json --host host1
run_vvapi --state a.json agent inventory "web1:$U1" >/dev/null
AG=$(json_get a.json 'j["token"]')
run_vvapi call POST /api/v1/vaults/v1/protectedItems '{"vm": "web1"}' >/dev/null
aapi() { API_TOKEN=$AG api "$@"; }
acheck() { API_TOKEN=$AG check_api "$@"; }
COMMIT='{"consistency": "CrashConsistent", "parent": "", "vmName": "web1", "vmUuid": "'$U1'", "disks": [{"name": "vda"}]}'

# fill: take every free byte of the tmpfs (bounded: the tmpfs is 64 MiB)
fill() { dd if=/dev/zero of="$MNT/filler.$1" bs=64k count=2048 2>/dev/null; sync; }
unfill() { rm -f "$MNT"/filler.*; }
# new_job NAME: a backup job, claimed by the agent; its id in $J
new_job() {
    run_vvapi call POST /api/v1/vaults/v1/protectedItems/web1/backup '{}' > "$1.json"
    J=$(json_get "$1.json" 'j["id"]')
    run_vvapi --state a.json agent claim --wait 5 > "$1.claim.json"
}
# job_is NAME STATUS CODE: the job's status and error code
job_is() {
    check_api "$1: the job can be read" 200 "" GET "/api/v1/vaults/v1/jobs/$J"
    check_json "$1: the job ended $2 with $3" \
        'j["status"] == "'"$2"'" and (j.get("error") or {}).get("code") == "'"$3"'"'
}
no_point_folders() {
    local n
    n=$(find "$D/vaults/$V1ID/store/points" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    [ "$n" = 0 ] || { find "$D/vaults/$V1ID/store/points" | head; return 1; }
}

# ---- a chunk upload on a full disk ---------------------------------------------------
new_job j1
for i in 1 2 3; do eval "C$i=\$($VV gen --seed full$i --size $CS --out c$i.bin)"; done
API_CTYPE=$OCT acheck "a chunk is stored while there is space" 201 "" PUT "/api/v1/agent/chunks/$C1?job=$J" @c1.bin
fill 1
API_CTYPE=$OCT acheck "a chunk upload on a full disk: 507 VaultStorageFull" 507 VaultStorageFull PUT "/api/v1/agent/chunks/$C2?job=$J" @c2.bin
check "the message says how much is free and what it needed" grep -Eq 'free in .*needed 64\.0 KiB' "$API_BODY"
job_is "upload" Failed VaultStorageFull
check "the catalog's reserve carried the job's end" grep -q "reserve was released" "$SRV_LOG"
check "no temporary file is left in the store" sh -c "! find '$D/vaults/$V1ID/store' -name '.tmp-*' | grep -q ."

# ---- an index upload on a full disk -----------------------------------------------------
unfill
srv_restart "after the upload case"
new_job j1b
$VV index --out ix.bin --chunk-size $CS --virtual-size $((4 * CS)) "$C1" "$C2" hole "$C3"
fill 1b
API_CTYPE=$OCT acheck "an index upload on a full disk: 507 VaultStorageFull" 507 VaultStorageFull PUT "/api/v1/agent/jobs/$J/disks/vda/index" @ix.bin
job_is "index" Failed VaultStorageFull

# ---- a commit on a full disk ----------------------------------------------------------
unfill
srv_restart "after the index case"
new_job j2
for i in 1 2 3; do API_CTYPE=$OCT aapi PUT "/api/v1/agent/chunks/$(eval echo \$C$i)?job=$J" "@c$i.bin"; done
API_CTYPE=$OCT acheck "the index is uploaded" 201 "" PUT "/api/v1/agent/jobs/$J/disks/vda/index" @ix.bin
fill 2
acheck "a commit on a full disk: 507 VaultStorageFull" 507 VaultStorageFull POST "/api/v1/agent/jobs/$J/recoveryPoint" "$COMMIT"
job_is "commit" Failed VaultStorageFull
check "the failed commit leaves no point folder" no_point_folders
check_api "no recovery point is listed" 200 "" GET /api/v1/vaults/v1/protectedItems/web1/recoveryPoints
check_json "none" 'len(j["value"]) == 0'
run_vvapi call GET /api/v1/vaults/v1/jobs > jobs.json
check "no job stays InProgress" "$PY" -S -c 'import json,sys; j=json.load(open("jobs.json")); sys.exit(any(x["status"] == "InProgress" for x in j["value"]))'

# ---- below --min-free ----------------------------------------------------------------
unfill
srv_stop
srv_start "$D" --min-free 0 || finish
new_job j3q   # queued below, claimed while space is short
srv_stop
srv_start "$D" --min-free 60M || finish
check_api "backup now below --min-free: 507 VaultStorageLow" 507 VaultStorageLow POST /api/v1/vaults/v1/protectedItems/web1/backup '{}'
check "the refusal names the threshold" grep -q "min-free" "$API_BODY"
check_api "the overview answers" 200 "" GET /api/v1/vaults/v1/overview
check_json "the overview alerts on the free space" \
    'j["storage"]["lowSpace"] is True and j["alerts"][0]["code"] == "VaultStorageLow" and j["storage"]["freeBytes"] < j["storage"]["minFreeBytes"]'
srv_stop
srv_start "$D" --min-free 0 || finish
run_vvapi call POST /api/v1/vaults/v1/protectedItems/web1/backup '{}' > j4.json
J=$(json_get j4.json 'j["id"]')
srv_stop
srv_start "$D" --min-free 60M || finish
API_TOKEN=$AG api GET "/api/v1/agent/jobs/next?wait=1"
if [ "$API_STATUS" = 204 ]; then pass "a queued backup is not handed out below --min-free"
else fail "a queued backup is not handed out below --min-free" "$(api_show)"; fi
job_is "claim" Failed VaultStorageLow

# ---- space again: a backup commits ------------------------------------------------------
srv_stop
srv_start "$D" --min-free 1M || finish
check_api "the overview has no space alert" 200 "" GET /api/v1/vaults/v1/overview
check_json "no alert" 'j["storage"]["lowSpace"] is False and all(a["code"] != "VaultStorageLow" for a in j["alerts"])'
new_job j5
C4=$($VV gen --seed full4 --size $CS --out c4.bin)   # uploaded, then named by no point
for i in 1 2 3 4; do API_CTYPE=$OCT aapi PUT "/api/v1/agent/chunks/$(eval echo \$C$i)?job=$J" "@c$i.bin"; done
API_CTYPE=$OCT aapi PUT "/api/v1/agent/jobs/$J/disks/vda/index" @ix.bin
acheck "with space the commit succeeds" 201 "" POST "/api/v1/agent/jobs/$J/recoveryPoint" "$COMMIT"
acheck "the job completes" 200 "" POST "/api/v1/agent/jobs/$J/complete" '{"status": "Completed"}'
# the overview's stored bytes come from a background walk: a bounded wait for one
# that began after T (ISO times compare as text)
measured_after() {
    local t=$1 _
    for _ in $(seq 1 40); do
        api GET /api/v1/vaults/v1/overview
        api_field '(j["storage"]["usedBytesMeasuredAt"] or "") > "'"$t"'"' | grep -q True && return 0
        sleep 0.5
    done
    return 1
}
T=$(date -u +%FT%TZ)
measured_after "$T"
check_json "the overview counts the new point's bytes (four chunks now)" \
    'j["storage"]["usedBytes"] > 4 * 65536 and j["storage"]["recoveryPoints"] == 1 and j["storage"]["measuring"] is False'
USED=$(api_field 'j["storage"]["usedBytes"]')
run_vvapi call POST /api/v1/vaults/v1/garbageCollection '{}' > gc.json
J=$(json_get gc.json 'j["id"]')
for _ in $(seq 1 60); do
    api GET "/api/v1/vaults/v1/jobs/$J"
    api_field 'j["status"]' | grep -q InProgress || break
    sleep 0.5
done
check_json "garbage collection removes the chunk no point names" 'j["status"] == "Completed" and j["stats"]["chunksRemoved"] == 1'
T=$(date -u +%FT%TZ)
measured_after "$T"
check_json "the overview's stored bytes drop by that chunk after the collection" \
    'j["storage"]["usedBytes"] <= '"$USED"' - 65536'
srv_stop
check "the store and catalog verify (vmvaultd check)" "$VMVAULTD" check --data-dir "$D"
finish
