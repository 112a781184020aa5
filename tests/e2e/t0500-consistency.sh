#!/usr/bin/env bash
# Application-, file-system- and crash-consistent points of a real Linux guest running
# the real qemu-guest-agent, which writes fsync'ed records all the while:
#   - without scripts the point is FileSystemConsistent; with a policy's or the item's
#     pre/post-scripts that succeed, ApplicationConsistent; every such point restores
#     to a filesystem e2fsck finds clean without a journal to replay, whose workload
#     log has no torn record and whose freeze hook log ends with the freeze;
#   - a failing pre-script with continueBackupOnFailure gives a warning and a
#     FileSystemConsistent point, without it a Failed job and nothing kept; the
#     post-script runs both times;
#   - the agent killed while the guest is frozen: the thaw guard thaws it within the
#     documented bound; a freeze longer than --freeze-timeout is cut short and the
#     point is CrashConsistent with a warning;
#   - the guest agent stopped: CrashConsistent with a warning that says what to do;
#     with scripts and no continue-on-failure, a Failed job;
#   - the VM shut off: CrashConsistent without a warning.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_server.sh"
. "$(dirname "$0")/lib_virt.sh"
. "$(dirname "$0")/lib_agent.sh"
. "$(dirname "$0")/lib_guest.sh"
cd "$WORK"
virt_up
srv_start "$WORK/data" --agent-timeout 3 || finish
agent_setup
guest_build

# The guest's disk: scripts the backups run inside it.
mkdir -p src/scripts
cat > src/scripts/pre.sh <<'EOF'
#!/bin/sh
echo "pre $* $(date +%s)" >> /mnt/scripts.log
sync
EOF
cat > src/scripts/post.sh <<'EOF'
#!/bin/sh
echo "post $* $(date +%s)" >> /mnt/scripts.log
sync
EOF
cat > src/scripts/busy.sh <<'EOF'
#!/bin/sh
echo "busy $(date +%s)" >> /mnt/scripts.log
sync
echo "database is busy, try later" >&2
exit 3
EOF
chmod 755 src/scripts/*.sh
guest_disk "$WORK/app.qcow2" 64 src
guest_domain app "$WORK/app.qcow2" --workload
VM=$VIRT_DOM
check "the guest's agent answers" guest_wait_agent app

job() { "$VMVAULT" job show --vault-name v1 --name "$1" 2>/dev/null | json_value "$2" 2>/dev/null; }
latest_point() { "$VMVAULT" item show --vault-name v1 --name "$VM" 2>/dev/null | json_value 'j["latestRecoveryPoint"]'; }
points() { "$VMVAULT" recoverypoint list --vault-name v1 --item-name "$VM" 2>/dev/null | json_value 'len(L)'; }
ours() { virt_checkpoints app | grep -c '^vmvault-'; }
# new_backup: a backup now; its job id in J (then `check ... agent_run` runs it).
new_backup() { J=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name "$VM"); }
# restore_raw POINT OUT: the point's vda as a raw image.
restore_raw() {
    local v
    v=$(ls "$SRV_DATA/vaults")
    rm -f "$2"
    "$VMVAULT" debug image-restore --store "$SRV_DATA/vaults/$v/store" \
        --key-file "$SRV_DATA/vaults/$v/vault.key" --point "$1" --disk-name vda \
        --target "$2" >/dev/null
}
# point_ok POINT: its vda is a clean filesystem (nothing to replay, e2fsck -fn passes)
# whose workload log is whole and whose freeze hook log ends with "freeze".
point_ok() {
    local img=$WORK/check.raw st n
    restore_raw "$1" "$img" || { echo "restore failed"; return 1; }
    st=$(guest_fs_recover "$img") || return 1
    [ "$st" = clean ] || { echo "the restored filesystem had a journal to replay ($st)"; return 1; }
    e2fsck -fn "$img" >"$WORK/e2fsck.out" 2>&1 || { echo "e2fsck -fn:"; tail -n 5 "$WORK/e2fsck.out"; return 1; }
    guest_read_file "$img" /workload.log > "$WORK/workload.log" || return 1
    n=$(guest_check_workload "$WORK/workload.log") || { echo "torn or bad workload record"; return 1; }
    [ "$n" -gt 0 ] || { echo "no workload record"; return 1; }
    guest_read_file "$img" /.freeze-hook.log > "$WORK/hook.log" || return 1
    [ "$(tail -n 1 "$WORK/hook.log" | cut -d' ' -f1)" = freeze ] ||
        { echo "the freeze hook log does not end with the freeze:"; cat "$WORK/hook.log"; return 1; }
}
# scripts_log POINT: the scripts' log inside the point's vda.
scripts_log() { restore_raw "$1" "$WORK/s.raw" && guest_read_file "$WORK/s.raw" /scripts.log; }
settings() { printf '%s\n' "$1" > "$WORK/settings.json"; echo "$WORK/settings.json"; }

check "the agent reports the guest" agent_run
check "protect it with DefaultPolicy" "$VMVAULT" protection enable-for-vm --vault-name v1 --vm "$VM" --policy-name DefaultPolicy
check_out "it has no script settings" 'j["scriptSettings"] is None and j["scriptSettingsSource"] == "None"' \
    "$VMVAULT" item show --vault-name v1 --name "$VM"

# 1. No scripts: the freeze alone, FileSystemConsistent.
new_backup
check "a backup of the running guest" agent_run
check_out "completes without warning" 'j["status"] == "Completed" and j["warnings"] == []' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
check_out "its snapshot: the guest agent answered, the filesystems were frozen briefly and thawed" \
    '(s := j["snapshot"]) and s["recoveryPointType"] == "FileSystemConsistent" and s["guestAgent"] == "Available" and s["fsFreeze"]["status"] == "Succeeded" and s["fsFreeze"]["frozenFilesystems"] >= 1 and 0 < s["fsFreeze"]["milliseconds"] < 20000 and s["fsFreeze"]["thawed"] and "preScript" not in s' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
echo "     the guest was frozen $(job "$J" 'j["snapshot"]["fsFreeze"]["milliseconds"]') ms"
P=$(latest_point)
check_out "the point is FileSystemConsistent" 'j["recoveryPointType"] == "FileSystemConsistent"' \
    "$VMVAULT" recoverypoint show --vault-name v1 --item-name "$VM" --name "$P"
check "it restores to a clean filesystem, whole records and the freeze in the hook's log" point_ok "$P"
check "the guest is thawed" test "$(guest_freeze_status app)" = thawed
check "the guest goes on writing" sh -c "sleep 1; [ \"\$(virsh -c qemu:///system domstate '$VM')\" = running ]"
check_out "job show tells the consistency and how long the guest was frozen" \
    'j["snapshot"]["recoveryPointType"] == "FileSystemConsistent"' "$VMVAULT" job show --vault-name v1 --name "$J" --output json
check "the table says it in a line" sh -c "'$VMVAULT' job show --vault-name v1 --name '$J' --output table | grep -Eq 'FileSystemConsistent, frozen [0-9]+ ms'"

# 2. A policy with scripts: ApplicationConsistent.
"$VMVAULT" policy get-default-for-vm --vault-name v1 --output json > pol.json
"$PY" -S - pol.json <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["scriptSettings"] = {"preScriptLocation": "/mnt/scripts/pre.sh", "preScriptParams": ["--flush", "all tables"],
                       "postScriptLocation": "/mnt/scripts/post.sh", "timeoutInSeconds": 30}
json.dump(p, open(sys.argv[1], "w"))
PY
check "a policy with pre- and post-scripts" "$VMVAULT" policy create --vault-name v1 --name AppPolicy --policy pol.json
check "move the item to it" "$VMVAULT" protection disable --vault-name v1 --item-name "$VM" --yes
check "and resume it there" "$VMVAULT" protection resume --vault-name v1 --item-name "$VM" --policy-name AppPolicy
check_out "its backups use the policy's script settings" 'j["scriptSettingsSource"] == "Policy"' \
    "$VMVAULT" item show --vault-name v1 --name "$VM"
new_backup
check "a backup with the policy's scripts" agent_run
check_out "completes, the scripts succeeded and the freeze held" \
    '(s := j["snapshot"]) and j["status"] == "Completed" and s["recoveryPointType"] == "ApplicationConsistent" and s["preScript"]["status"] == "Succeeded" and s["preScript"]["exitCode"] == 0 and s["preScript"]["attempts"] == 1 and s["postScript"]["status"] == "Succeeded" and s["fsFreeze"]["status"] == "Succeeded"' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
P=$(latest_point)
check_out "the point is ApplicationConsistent" 'j["recoveryPointType"] == "ApplicationConsistent"' \
    "$VMVAULT" recoverypoint show --vault-name v1 --item-name "$VM" --name "$P"
check "it restores clean, records whole, the freeze in the hook's log" point_ok "$P"
scripts_log "$P" > "$WORK/slog"
check "the point holds the pre-script's line, with its arguments, and not yet the post-script's" \
    sh -c "tail -n 1 '$WORK/slog' | grep -q '^pre --flush all tables '"
check_out "the point list shows its type" 'L[0]["recoveryPointType"] == "ApplicationConsistent"' \
    "$VMVAULT" recoverypoint list --vault-name v1 --item-name "$VM"

# 3. The item's own settings: a failing pre-script, continuing.
check "the item's own settings replace the policy's" "$VMVAULT" protection update-for-vm --vault-name v1 --item-name "$VM" \
    --script-settings "$(settings '{"preScriptLocation": "/mnt/scripts/busy.sh", "preScriptNoOfRetries": 1, "postScriptLocation": "/mnt/scripts/post.sh", "continueBackupOnFailure": true}')"
check_out "the item says so" 'j["scriptSettingsSource"] == "Item" and j["scriptSettings"]["preScriptLocation"] == "/mnt/scripts/busy.sh"' \
    "$VMVAULT" item show --vault-name v1 --name "$VM"
check_refused "a script timeout over 1800 s is refused" 1 InvalidParameter "timeoutInSeconds: must be 1 to 1800" \
    "$VMVAULT" protection update-for-vm --vault-name v1 --item-name "$VM" --script-settings "$(settings '{"timeoutInSeconds": 3600}')"
check_api "the same through the API names the field" 400 InvalidParameter PATCH "/api/v1/vaults/v1/protectedItems/$VM" \
    '{"scriptSettings": {"timeoutInSeconds": 3600}}'
check_json "scriptSettings.timeoutInSeconds: must be 1 to 1800, not 3600" 'j["error"]["message"].startswith("scriptSettings.timeoutInSeconds: must be 1 to 1800")'
new_backup
check "a backup whose pre-script fails" agent_run
check_out "completes with a PreScriptFailed warning that quotes the script" \
    'j["status"] == "CompletedWithWarnings" and [w["code"] for w in j["warnings"]] == ["PreScriptFailed"] and "exited with status 3" in j["warnings"][0]["message"] and "database is busy" in j["warnings"][0]["message"] and "(2 attempts)" in j["warnings"][0]["message"]' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
check_out "the pre-script was tried twice, the post-script still ran, the freeze held" \
    '(s := j["snapshot"]) and s["preScript"]["status"] == "Failed" and s["preScript"]["attempts"] == 2 and s["preScript"]["exitCode"] == 3 and s["postScript"]["status"] == "Succeeded" and s["recoveryPointType"] == "FileSystemConsistent"' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
P=$(latest_point)
check_out "the point is FileSystemConsistent" 'j["recoveryPointType"] == "FileSystemConsistent"' \
    "$VMVAULT" recoverypoint show --vault-name v1 --item-name "$VM" --name "$P"
check "and restores clean" point_ok "$P"

# 4. The same without continueBackupOnFailure: the backup fails, nothing is kept.
before=$(points)
CPS=$(ours)
check "no continue on failure" "$VMVAULT" protection update-for-vm --vault-name v1 --item-name "$VM" \
    --script-settings "$(settings '{"preScriptLocation": "/mnt/scripts/busy.sh", "postScriptLocation": "/mnt/scripts/post.sh", "continueBackupOnFailure": false}')"
guest_exec app sh -c ': > /mnt/scripts.log; sync' >/dev/null
freezes() { guest_exec app grep -c '^freeze' /mnt/.freeze-hook.log; }
F0=$(freezes)
new_backup
check "a backup whose pre-script fails" agent_run
check_out "fails with PreScriptFailed and says nothing was backed up" \
    'j["status"] == "Failed" and j["error"]["code"] == "PreScriptFailed" and "nothing was backed up" in j["error"]["message"] and j["tasks"][0]["status"] == "Failed"' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
check "no point was added" test "$(points)" = "$before"
check "no checkpoint was added" test "$(ours)" = "$CPS"
check "the guest was not frozen this time" test "$(freezes)" = "$F0"
GLOG=$(guest_exec app cat /mnt/scripts.log)
check "the post-script ran after the failed pre-script (in the guest: busy, then post)" \
    test "$(echo "$GLOG" | cut -d' ' -f1 | tr '\n' ' ')" = "busy post "
check "back to the policy's scripts" "$VMVAULT" protection update-for-vm --vault-name v1 --item-name "$VM" --script-settings none
check_out "the item uses its policy's again" 'j["scriptSettings"] is None and j["scriptSettingsSource"] == "Policy"' \
    "$VMVAULT" item show --vault-name v1 --name "$VM"

# 5. The agent killed while the guest is frozen: the thaw guard thaws it.
J=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name "$VM")
VMVAULT_AGENT_FREEZE_HOLD_MS=60000 "$VMVAULT_AGENT" run --once --state-dir "$AG" >>"$WORK/agent.log" 2>&1 &
APID=$!
BG_PIDS+=("$APID")
frozen=0
for _ in $(seq 1 600); do
    [ "$(guest_freeze_status app 2>/dev/null)" = frozen ] && { frozen=1; break; }
    sleep 0.1
done
check "the guest is frozen while the agent holds the freeze" test "$frozen" = 1
t0=$(date +%s%N)
kill -9 "$APID" 2>/dev/null; wait "$APID" 2>/dev/null
thawed=0
for _ in $(seq 1 100); do
    [ "$(guest_freeze_status app 2>/dev/null)" = thawed ] && { thawed=1; break; }
    sleep 0.1
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "     the guard thawed the guest ${ms} ms after the agent was killed"
check "the thaw guard thaws it within 5 s of the agent's death (documented: about a second)" \
    test "$thawed" = 1 -a "$ms" -lt 5000
check "the guard says so in the agent's log" grep -q "thaw guard: vmvault-agent ended while the guest was frozen" "$WORK/agent.log"
check "the restarted agent cleans up and removes the freeze marker" agent_run
check "no freeze marker is left" test -z "$(ls -A "$AG/frozen" 2>/dev/null)"
check "the vault fails the job whose agent vanished" sh -c "for i in \$(seq 1 150); do [ \"\$('$VMVAULT' job show --vault-name v1 --name '$J' 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"status\"])')\" = Failed ] && exit 0; sleep 0.1; done; exit 1"
check "the guest is still thawed" test "$(guest_freeze_status app)" = thawed

# 6. A freeze longer than --freeze-timeout: the guard cuts it short.
J=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name "$VM")
check "the agent runs a backup whose freeze lasts longer than the limit" env VMVAULT_AGENT_FREEZE_HOLD_MS=6000 "$VMVAULT_AGENT" run --once --state-dir "$AG" \
    --freeze-timeout 2 >>"$WORK/agent.log" 2>&1
check_out "completes CrashConsistent with FsFreezeTimedOut" \
    'j["status"] == "CompletedWithWarnings" and "FsFreezeTimedOut" in [w["code"] for w in j["warnings"]] and j["snapshot"]["recoveryPointType"] == "CrashConsistent" and j["snapshot"]["fsFreeze"]["status"] == "TimedOut"' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
check "the guest is thawed" test "$(guest_freeze_status app)" = thawed

# 7. The guest agent stopped: crash-consistent, with a warning that says what to do.
check "stop qemu-ga inside the guest" guest_stop_agent app
new_backup
check "a backup without an answering guest agent" agent_run
check_out "completes CrashConsistent with GuestAgentNotResponding, telling to start qemu-guest-agent" \
    'j["status"] == "CompletedWithWarnings" and [w["code"] for w in j["warnings"]] == ["GuestAgentNotResponding"] and "qemu-guest-agent" in j["warnings"][0]["message"] and "scripts did not run" in j["warnings"][0]["message"] and j["snapshot"]["guestAgent"] == "NotResponding"' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
P=$(latest_point)
check_out "the point is CrashConsistent" 'j["recoveryPointType"] == "CrashConsistent"' \
    "$VMVAULT" recoverypoint show --vault-name v1 --item-name "$VM" --name "$P"
check "job wait prints the warning" sh -c "'$VMVAULT' job wait --vault-name v1 --name '$J' 2>&1 >/dev/null | grep -q 'warning: GuestAgentNotResponding'"
check "scripts required: no continue on failure" "$VMVAULT" protection update-for-vm --vault-name v1 --item-name "$VM" \
    --script-settings "$(settings '{"preScriptLocation": "/mnt/scripts/pre.sh", "continueBackupOnFailure": false}')"
new_backup
check "a backup that needs its scripts" agent_run
check_out "fails with GuestAgentNotResponding" 'j["status"] == "Failed" and j["error"]["code"] == "GuestAgentNotResponding"' \
    "$VMVAULT" job show --vault-name v1 --name "$J"

# 8. Shut off: crash-consistent, no warning.
check "shut the guest off" virt_stop app
new_backup
check "a backup of the shut-off guest" agent_run
check_out "completes CrashConsistent without warning" \
    'j["status"] == "Completed" and j["warnings"] == [] and j["snapshot"]["recoveryPointType"] == "CrashConsistent" and j["snapshot"]["guestAgent"] == "NotApplicable"' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
P=$(latest_point)
check_out "the point is CrashConsistent" 'j["recoveryPointType"] == "CrashConsistent"' \
    "$VMVAULT" recoverypoint show --vault-name v1 --item-name "$VM" --name "$P"
check "no thaw guard is left running" sh -c "! pgrep -f '^vmvault-agent thaw-guard' >/dev/null"
srv_stop
check "vmvaultd check passes" "$VMVAULTD" check --data-dir "$SRV_DATA"
finish
