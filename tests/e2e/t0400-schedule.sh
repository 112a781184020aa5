#!/usr/bin/env bash
# Policies at work, with the vault's clock moved by the test (vmvaultd --clock-file)
# instead of days of sleep, a real agent and a real libvirt domain:
#  - a nightly 02:30 Europe/Berlin policy runs on time across the spring-forward day
#    (02:30 does not exist on 2027-03-28: it runs once, at 03:00 CEST);
#  - a restart never runs a slot twice; after downtime the item runs once, and the
#    job says how many runs it stands for;
#  - every point gets its expiry from the policy (daily and weekly tiers, wall-clock
#    days across DST); the daily prune removes expired points, the collection frees
#    their chunks, and every point still live restores byte for byte;
#  - policy set recomputes expiries both ways; retain-as-per-policy; soft delete,
#    undelete, and the purge once the soft-delete days are over.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_server.sh"
. "$(dirname "$0")/lib_virt.sh"
. "$(dirname "$0")/lib_agent.sh"
cd "$WORK"
CLOCK=$WORK/clock

# clock TIME: the vault's clock jumps to TIME (UTC).
clock() { printf '%s\n' "$1" > "$CLOCK.tmp" && mv "$CLOCK.tmp" "$CLOCK"; }
# jobs OPERATION [EXPR]: how many jobs of the vault of that operation (matching EXPR).
njobs() {
    "$VMVAULT" job list --vault-name v1 --operation "$1" 2>/dev/null |
        json_value "len([x for x in L if ${2:-True}])"
}
# wait_for SECONDS COMMAND...: until the command succeeds.
wait_for() {
    local t=$1; shift
    for _ in $(seq 1 $((t * 10))); do "$@" && return 0; sleep 0.1; done
    return 1
}
backups_are() { [ "$(njobs Backup)" = "$1" ]; }
# the newest Backup job
newest_backup() { "$VMVAULT" job list --vault-name v1 --operation Backup | json_value 'L[0]["id"]'; }
point_of() { "$VMVAULT" job show --vault-name v1 --name "$1" | json_value 'j["recoveryPoint"]'; }
rp_show() { "$VMVAULT" recoverypoint show --vault-name v1 --item-name "$ITEM" --name "$1"; }
item_show() { "$VMVAULT" item show --vault-name v1 --name "$ITEM"; }
points() { "$VMVAULT" recoverypoint list --vault-name v1 --item-name "$ITEM" | json_value '" ".join(sorted(x["name"] for x in L))'; }
job_done() { [ "$("$VMVAULT" job show --vault-name v1 --name "$1" | json_value 'j["status"]')" = Completed ]; }
store_chunk_bytes() { du -sb "$SRV_DATA"/vaults/*/store/chunks | cut -f1; }
more_prunes() { [ "$(njobs Prune)" -gt "$1" ]; }
newest() { "$VMVAULT" job list --vault-name v1 --operation "$1" | json_value 'L[0]["id"]'; }
# daily_prune TIME NAME: the clock jumps to TIME, past the daily prune time; checks
# that the scheduler queues a Prune and that it completes; sets PJ (the prune) and GJ
# (the collection queued with it).
daily_prune() {
    local n
    n=$(njobs Prune)
    clock "$1"
    check "$2: the scheduler queues the daily prune" wait_for 5 more_prunes "$n"
    PJ=$(newest Prune)
    check "$2: the prune completes" wait_for 10 job_done "$PJ"
    GJ=$(newest GarbageCollection)
}

clock 2027-03-26T23:00:00Z
virt_up
srv_start "$WORK/data" --clock-file "$CLOCK" --prune-time 03:30 || finish
# Restarts keep the port: the registered agent knows the vault by its URL.
SRV_ARGS+=(--listen "${SRV_URL#http://}")
check_out "the vault's clock is the test's" 'j["time"].startswith("2027-03-26T23:00")' \
    sh -c "curl -sS '$SRV_URL/api/v1/health'"
agent_setup
virt_domain sched --disk vda:qcow2:32M:41:8
ITEM=$VIRT_DOM
check "the agent reports the domain" agent_run

cat > nightly.json <<'EOF'
{"timeZone": "Europe/Berlin",
 "schedulePolicy": {"scheduleRunFrequency": "Daily", "scheduleRunTimes": ["02:30"]},
 "instantRpRetentionRangeInDays": 2,
 "retentionPolicy": {
   "dailySchedule": {"retentionDuration": {"count": 7, "durationType": "Days"}},
   "weeklySchedule": {"daysOfTheWeek": ["Sunday"],
                      "retentionDuration": {"count": 3, "durationType": "Weeks"}}}}
EOF
check "create the nightly Berlin policy" "$VMVAULT" policy create --vault-name v1 --name Nightly --policy nightly.json
check_out "next-runs: 02:30 CET, then 03:00 CEST on the spring-forward day, then 02:30 CEST" \
    '[x["utc"] for x in L] == ["2027-03-27T01:30:00Z", "2027-03-28T01:00:00Z", "2027-03-29T00:30:00Z"]' \
    "$VMVAULT" policy next-runs --vault-name v1 --name Nightly --from 2027-03-27 --count 3
check_out "next-runs shows the local times too" \
    '[x["local"][:16] for x in L] == ["2027-03-28T03:00", "2027-03-29T02:30"]' \
    "$VMVAULT" policy next-runs --vault-name v1 --name Nightly --from 2027-03-28 --count 2
check "protect the domain with it" "$VMVAULT" protection enable-for-vm --vault-name v1 --vm "$ITEM" --policy-name Nightly
check_out "the item shows its next run" 'j["nextRun"] == "2027-03-27T01:30:00Z" and j["nextRunLocal"][:16] == "2027-03-27T02:30"' item_show

# Three nights, across the DST change.
i=0
P=()
for run in 2027-03-27T01:30:00Z 2027-03-28T01:00:00Z 2027-03-29T00:30:00Z; do
    i=$((i + 1))
    check "night $i: new data on the disk" virt_write_offline sched vda 4M 1M $((16 + i))
    virt_snapshot_expected sched "p$i"
    before=$(python3 -c "import datetime,sys; t=datetime.datetime.strptime(sys.argv[1], '%Y-%m-%dT%H:%M:%SZ'); print((t-datetime.timedelta(seconds=20)).strftime('%Y-%m-%dT%H:%M:%SZ'))" "$run")
    clock "$before"
    sleep 2
    check "night $i: no backup before $run" backups_are $((i - 1))
    clock "${run%Z}Z"
    check "night $i: the scheduler queues the backup at $run" wait_for 5 backups_are "$i"
    J=$(newest_backup)
    check_out "night $i: the job is the scheduled run of $run" \
        'j["trigger"] == "Scheduled" and j["scheduledFor"] == "'"$run"'" and j["missedRuns"] == 0 and j["createdBy"] == "scheduler"' \
        "$VMVAULT" job show --vault-name v1 --name "$J"
    check "night $i: the agent runs it" agent_run
    check "night $i: it completes" job_done "$J"
    P[$i]=$(point_of "$J")
done
check_out "night 1's point is kept 7 wall-clock days (to 02:30 CEST, 00:30 UTC)" \
    'j["kind"] == "Scheduled" and j["expiresAt"] == "2027-04-03T00:30:00Z" and j["retainedBy"] == ["Instant", "Daily"]' \
    rp_show "${P[1]}"
check_out "the Sunday point is also the weekly one: 3 weeks" \
    'j["expiresAt"] == "2027-04-18T01:00:00Z" and j["retainedBy"] == ["Instant", "Daily", "Weekly"]' \
    rp_show "${P[2]}"
check_out "the item's next run is tomorrow 02:30 CEST" 'j["nextRun"] == "2027-03-30T00:30:00Z"' item_show

srv_restart "the server"
sleep 3
check "a restart does not run the same slot again" backups_are 3

# Downtime over three runs: one backup when the vault is back.
srv_stop >/dev/null
clock 2027-04-01T12:00:00Z
srv_start "$SRV_DATA" "${SRV_ARGS[@]}" || finish
check "after downtime the item runs once" wait_for 5 backups_are 4
sleep 2
check "and only once" backups_are 4
J=$(newest_backup)
check_out "the job stands for the three missed runs and says so" \
    'j["scheduledFor"] == "2027-04-01T00:30:00Z" and j["missedRuns"] == 2 and "3 scheduled runs" in j["note"]' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
check "write new data" virt_write_offline sched vda 4M 1M 20
virt_snapshot_expected sched p4
check "the agent runs it" agent_run
check "it completes" job_done "$J"
P[4]=$(point_of "$J")

# Days later: the daily prune (03:30 UTC) removes what expired, the collection frees it.
BYTES_BEFORE=$(store_chunk_bytes)
daily_prune 2027-04-05T12:00:00Z "a week later"
check_out "it removed the two expired points (nights 1 and 3) and kept the others" \
    'j["createdBy"] == "scheduler" and j["stats"]["pointsPruned"] == 2' \
    "$VMVAULT" job show --vault-name v1 --name "$PJ"
check "the collection after it completes" wait_for 20 job_done "$GJ"
check_out "the collection freed the chunks only those points had" \
    'j["stats"]["chunksRemoved"] >= 2 and j["stats"]["bytesFreed"] > 0' \
    "$VMVAULT" job show --vault-name v1 --name "$GJ"
check "the store is smaller" test "$(store_chunk_bytes)" -lt "$BYTES_BEFORE"
check "the missed-runs backup of this morning is queued" wait_for 5 backups_are 5
J=$(newest_backup)
check "write new data" virt_write_offline sched vda 4M 1M 21
virt_snapshot_expected sched p5
check "the agent runs it" agent_run
check "it completes" job_done "$J"
P[5]=$(point_of "$J")
check_out "the item keeps nights 2 and 4 and today's point" \
    'sorted(x["name"] for x in L) == sorted(["'"${P[2]}"'", "'"${P[4]}"'", "'"${P[5]}"'"])' \
    "$VMVAULT" recoverypoint list --vault-name v1 --item-name "$ITEM"
for n in 2 4 5; do
    check "point of night $n restores byte for byte" restored_disk_equals "${P[$n]}" vda "$(virt_expected_at sched vda "p$n")"
done

# Policy changes recompute the expiry of existing points, both ways.
python3 - <<'PY'
import json
p = json.load(open("nightly.json"))
del p["retentionPolicy"]["weeklySchedule"]
p["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"] = 30
json.dump(p, open("long.json", "w"))
p["retentionPolicy"]["dailySchedule"]["retentionDuration"]["count"] = 7
json.dump(p, open("short.json", "w"))
PY
check "policy set: 30 days, no weekly tier" "$VMVAULT" policy set --vault-name v1 --name Nightly --policy long.json
check_out "the Sunday point now lives 30 days" \
    'j["expiresAt"] == "2027-04-27T01:00:00Z" and j["retainedBy"] == ["Instant", "Daily"]' rp_show "${P[2]}"
check "policy set: 7 days" "$VMVAULT" policy set --vault-name v1 --name Nightly --policy short.json
check_out "the Sunday point now expired on 2027-04-04" 'j["expiresAt"] == "2027-04-04T01:00:00Z"' rp_show "${P[2]}"
J=$(jobid "$VMVAULT" vault prune --name v1)
check "an on-demand prune completes" wait_for 10 job_done "$J"
# The change brought the Sunday point's expiry forward: the prune soft deletes it
# (recoverable for the vault's 14 soft-delete days) instead of removing it.
check_out "it soft deleted the Sunday point, whose expiry the change brought forward" \
    'j["stats"]["pointsPruned"] == 0 and j["stats"]["pointsSoftDeleted"] == 1' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
check_out "two points are left to restore, the Sunday point is soft deleted" \
    'len([x for x in L if not x["softDeleted"]]) == 2 and [x["name"] for x in L if x["softDeleted"]] == ["'"${P[2]}"'"]' \
    "$VMVAULT" recoverypoint list --vault-name v1 --item-name "$ITEM"

# Retain as per policy: no more runs, points still expire as the policy says.
check "stop protection, retaining data as per policy" "$VMVAULT" protection disable --vault-name v1 --item-name "$ITEM" --retain-as-per-policy --yes
check_out "the item is BackupsSuspended with no next run" \
    'j["protectionState"] == "BackupsSuspended" and j["nextRun"] is None and j["policy"] == "Nightly"' item_show
check "resume it" "$VMVAULT" protection resume --vault-name v1 --item-name "$ITEM"
check_out "it is protected again with a next run" 'j["protectionState"] == "Protected" and j["nextRun"] is not None' item_show

# Soft delete, undelete, and the purge 14 days later.
check "delete its backup data" "$VMVAULT" protection disable --vault-name v1 --item-name "$ITEM" --delete-backup-data --yes
check_out "the data is soft deleted for 14 days" \
    'j["deleteState"] == "ToBeDeleted" and j["purgeAt"].startswith("2027-04-19T12:") and j["protectionState"] == "ProtectionStopped"' item_show
check_out "its points are still there" 'len(L) == 3' "$VMVAULT" recoverypoint list --vault-name v1 --item-name "$ITEM"
check_fails "but nothing restores from soft-deleted data" 1 "ItemSoftDeleted" \
    "$VMVAULT" restore restore-disks --vault-name v1 --item-name "$ITEM" --rp-name "${P[5]}" --target-dir "$WORK"
check_fails "the vault cannot be deleted while data is soft deleted" 1 "VaultNotEmpty: .*soft deleted" \
    "$VMVAULT" vault delete --name v1 --yes
check_fails "a soft-deleted item cannot be resumed" 1 "ItemSoftDeleted" \
    "$VMVAULT" protection resume --vault-name v1 --item-name "$ITEM"
check "undelete it" "$VMVAULT" protection undelete --vault-name v1 --item-name "$ITEM"
check_out "it is stopped with its data kept forever" \
    'j["deleteState"] == "NotDeleted" and j["protectionState"] == "ProtectionStopped" and j["nextRun"] is None' item_show
check_out "its points no longer expire" 'all(x["expiresAt"] is None for x in L) and len(L) == 3' \
    "$VMVAULT" recoverypoint list --vault-name v1 --item-name "$ITEM"
check "delete its backup data again" "$VMVAULT" protection disable --vault-name v1 --item-name "$ITEM" --delete-backup-data --yes
clock 2027-04-19T11:00:00Z
sleep 2
check_out "13 days later it is still there" 'j["deleteState"] == "ToBeDeleted"' item_show
daily_prune 2027-04-20T04:00:00Z "14 days after the delete"
check_out "it purged the item and its three points" \
    'j["stats"]["itemsPurged"] == 1 and j["stats"]["pointsPurged"] == 3' \
    "$VMVAULT" job show --vault-name v1 --name "$PJ"
check_out "the item is gone" 'L == []' "$VMVAULT" item list --vault-name v1
api GET /api/v1/audit
check_json "the audit log says so" 'any(x["action"] == "PurgeBackupData" and x["actor"] == "vmvaultd" for x in L)'
check "the collection after it completes" wait_for 20 job_done "$GJ"
check_out "nothing is live any more" 'j["stats"]["chunksLive"] == 0 and j["stats"]["chunksRemoved"] > 0' \
    "$VMVAULT" job show --vault-name v1 --name "$GJ"
check "the vault can now be deleted" "$VMVAULT" vault delete --name v1 --yes
finish
