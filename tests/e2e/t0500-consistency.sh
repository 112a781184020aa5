#!/usr/bin/env bash
# Application-, file-system- and crash-consistent points of a real Linux guest running
# the real qemu-guest-agent, which writes fsync'ed records all the while:
#   - without scripts the point is FileSystemConsistent; with a policy's or the item's
#     settings that turn scripts on, the scripts the guest's own
#     /etc/vmvault/VMSnapshotScriptPluginConfig.json lists run, with that file's
#     parameters, and the point is ApplicationConsistent; every such point restores
#     to a filesystem e2fsck finds clean without a journal to replay, whose workload
#     log has no torn record and whose freeze hook log ends with the freeze;
#   - the guest decides what runs in it: without that file no script runs (a warning
#     says so); settings that name a command the file does not list (stored before
#     the file existed) run nothing, the command's marker never appears in the guest,
#     and the warning names the file and what it lacks (without
#     continueBackupOnFailure, a Failed job); settings that name exactly what the
#     file lists keep working; a file not owned by root or not mode 0600 is refused;
#     a request that names a script is refused (400, naming the file), and an
#     Operator may not set script settings (403); changes are audited;
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
# what a vault could ask for, and a guest never listed
cat > src/scripts/evil.sh <<'EOF'
#!/bin/sh
echo "evil $*" >> /mnt/scripts.log
touch /mnt/evil-ran
sync
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
# The guest's own script file: guest_conf JSON [MODE].
CONF=/etc/vmvault/VMSnapshotScriptPluginConfig.json
guest_conf() { guest_put_file app "$CONF" "${2:-600}" "$1"; }
GOOD_CONF='{"pluginName": "ScriptRunner", "preScriptLocation": "/mnt/scripts/pre.sh", "preScriptParams": ["--flush", "all tables"], "postScriptLocation": "/mnt/scripts/post.sh", "postScriptParams": ["--resume"], "timeoutInSeconds": 30}'
clear_log() { guest_exec app sh -c ': > /mnt/scripts.log; sync' >/dev/null; }
guest_log() { guest_exec app cat /mnt/scripts.log; }
# stored_settings JSON: the item's script settings written into the catalog, as
# settings stored before the guest's file existed were (the API refuses them now).
stored_settings() {
    sqlite3 -cmd '.timeout 10000' "$SRV_DATA/catalog.db" \
        "UPDATE protected_items SET script_settings = '$1' WHERE name = '$VM'"
}

check "the agent reports the guest" agent_run
check "protect it with DefaultPolicy" "$VMVAULT" protection enable-for-vm --vault-name v1 --vm "$VM" --policy-name DefaultPolicy
check_out "it has no script settings" 'j["scriptSettings"] is None and j["scriptSettingsSource"] == "None"' \
    "$VMVAULT" item show --vault-name v1 --name "$VM"

# 0. Who may set script settings: a Contributor, not an Operator.
"$VMVAULT" user create --name op --role Operator >/dev/null 2>&1
OP=$("$VMVAULT" token create --user op 2>/dev/null | json_value 'j["token"]' 2>/dev/null)
check "an Operator's token" test -n "$OP"
API_TOKEN=$OP check_api "an Operator's protect with scriptSettings is refused" 403 AuthorizationFailed \
    POST /api/v1/vaults/v1/protectedItems "{\"vm\": \"$VM\", \"scriptSettings\": {\"scriptsEnabled\": true}}"
check_json "and told to protect without them and ask a Contributor" \
    '"Contributor" in j["error"]["message"] and "update-for-vm --script-settings" in j["error"]["message"]'
API_TOKEN=$OP check_api "without scriptSettings the Operator gets past that (the VM is protected already)" 409 ItemAlreadyProtected \
    POST /api/v1/vaults/v1/protectedItems "{\"vm\": \"$VM\"}"
check_refused "an Operator cannot change an item's script settings" 1 AuthorizationFailed "Contributor" \
    cli_as "$OP" protection update-for-vm --vault-name v1 --item-name "$VM" --script-settings "$(settings '{"scriptsEnabled": true}')"
"$VMVAULT" policy get-default-for-vm --vault-name v1 --output json > pol.json
API_TOKEN=$OP check_api "nor a policy's" 403 AuthorizationFailed PUT /api/v1/vaults/v1/policies/DefaultPolicy "$(cat pol.json)"

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

# 2. A policy with scripts on: the guest's file lists them. A request may not name one.
"$VMVAULT" policy get-default-for-vm --vault-name v1 --output json > pol.json
"$PY" -S - pol.json <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
old = dict(p, scriptSettings={"preScriptLocation": "/mnt/scripts/evil.sh", "timeoutInSeconds": 30})
json.dump(old, open("oldpol.json", "w"))
p["scriptSettings"] = {"scriptsEnabled": True, "timeoutInSeconds": 30}
json.dump(p, open(sys.argv[1], "w"))
PY
check_refused "a policy that names a script is refused, naming the guest's file" 1 InvalidParameter \
    "scriptSettings.preScriptLocation: .*$CONF" \
    "$VMVAULT" policy create --vault-name v1 --name OldPolicy --policy oldpol.json
check "a policy with scripts on" "$VMVAULT" policy create --vault-name v1 --name AppPolicy --policy pol.json
check "move the item to it" "$VMVAULT" protection disable --vault-name v1 --item-name "$VM" --yes
check "and resume it there" "$VMVAULT" protection resume --vault-name v1 --item-name "$VM" --policy-name AppPolicy
check_out "its backups use the policy's script settings" 'j["scriptSettingsSource"] == "Policy"' \
    "$VMVAULT" item show --vault-name v1 --name "$VM"
check_exit "the guest has no script file yet" 1 guest_exec app test -e "$CONF"
new_backup
check "a backup with scripts on, in a guest without its script file" agent_run
check_out "completes with GuestScriptConfigMissing, which names the file" \
    '[w["code"] for w in j["warnings"]] == ["GuestScriptConfigMissing"] and "'"$CONF"'" in j["warnings"][0]["message"] and "no script ran" in j["warnings"][0]["message"] and j["status"] == "CompletedWithWarnings"' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
check_out "no script ran, the freeze held: FileSystemConsistent" \
    '(s := j["snapshot"]) and s["scriptConfig"] == {"path": "'"$CONF"'", "status": "Missing"} and "preScript" not in s and "postScript" not in s and s["recoveryPointType"] == "FileSystemConsistent"' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
check "the guest lists its scripts in its own file (root, 0600)" guest_conf "$GOOD_CONF"
check "stat in the guest sees root and 0600" test "$(guest_exec app stat -c '%u %a' "$CONF")" = "0 600"
clear_log
new_backup
check "a backup with the scripts the guest's file lists" agent_run
check_out "completes, the scripts succeeded and the freeze held" \
    '(s := j["snapshot"]) and j["status"] == "Completed" and s["recoveryPointType"] == "ApplicationConsistent" and s["scriptConfig"]["status"] == "Used" and s["preScript"]["status"] == "Succeeded" and s["preScript"]["path"] == "/mnt/scripts/pre.sh" and s["preScript"]["exitCode"] == 0 and s["preScript"]["attempts"] == 1 and s["postScript"]["status"] == "Succeeded" and s["fsFreeze"]["status"] == "Succeeded"' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
P=$(latest_point)
check_out "the point is ApplicationConsistent" 'j["recoveryPointType"] == "ApplicationConsistent"' \
    "$VMVAULT" recoverypoint show --vault-name v1 --item-name "$VM" --name "$P"
check "it restores clean, records whole, the freeze in the hook's log" point_ok "$P"
scripts_log "$P" > "$WORK/slog"
check "the point holds the pre-script's line, with the file's parameters, and not yet the post-script's" \
    sh -c "tail -n 1 '$WORK/slog' | grep -q '^pre --flush all tables '"
GLOG=$(guest_log)
check "the post-script ran after it, with the file's parameters (in the guest: pre, then post --resume)" \
    test "$(echo "$GLOG" | cut -d' ' -f1-2 | tr '\n' ' ')" = "pre --flush post --resume "
check_out "the point list shows its type" 'L[0]["recoveryPointType"] == "ApplicationConsistent"' \
    "$VMVAULT" recoverypoint list --vault-name v1 --item-name "$VM"

# 3. The item's own settings: a failing pre-script (the guest's file lists it), continuing.
check "the guest's file lists a pre-script that fails, retried once" guest_conf \
    '{"preScriptLocation": "/mnt/scripts/busy.sh", "preScriptNoOfRetries": 1, "postScriptLocation": "/mnt/scripts/post.sh"}'
check "the item's own settings replace the policy's" "$VMVAULT" protection update-for-vm --vault-name v1 --item-name "$VM" \
    --script-settings "$(settings '{"scriptsEnabled": true, "continueBackupOnFailure": true}')"
check_out "the item says so" 'j["scriptSettingsSource"] == "Item" and j["scriptSettings"]["scriptsEnabled"] is True and "preScriptLocation" not in j["scriptSettings"]' \
    "$VMVAULT" item show --vault-name v1 --name "$VM"
check_refused "a script timeout over 1800 s is refused" 1 InvalidParameter "timeoutInSeconds: must be 1 to 1800" \
    "$VMVAULT" protection update-for-vm --vault-name v1 --item-name "$VM" --script-settings "$(settings '{"timeoutInSeconds": 3600}')"
check_api "the same through the API names the field" 400 InvalidParameter PATCH "/api/v1/vaults/v1/protectedItems/$VM" \
    '{"scriptSettings": {"timeoutInSeconds": 3600}}'
check_json "scriptSettings.timeoutInSeconds: must be 1 to 1800, not 3600" 'j["error"]["message"].startswith("scriptSettings.timeoutInSeconds: must be 1 to 1800")'
check_refused "an item's settings that name a script are refused" 1 InvalidParameter "no longer names the scripts.*$CONF" \
    "$VMVAULT" protection update-for-vm --vault-name v1 --item-name "$VM" --script-settings "$(settings '{"preScriptLocation": "/mnt/scripts/evil.sh"}')"
check_api "through the API too: 400, naming the guest's file" 400 InvalidParameter PATCH "/api/v1/vaults/v1/protectedItems/$VM" \
    '{"scriptSettings": {"scriptsEnabled": true, "postScriptLocation": "/mnt/scripts/evil.sh", "postScriptParams": ["x"]}}'
check_json "the message says where scripts are named now" \
    'j["error"]["message"].startswith("scriptSettings.postScriptLocation: the vault no longer names the scripts") and "'"$CONF"'" in j["error"]["message"] and "0600" in j["error"]["message"]'
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
    --script-settings "$(settings '{"scriptsEnabled": true, "continueBackupOnFailure": false}')"
clear_log
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
check "the post-script ran after the failed pre-script, tried twice as the guest's file says (in the guest: busy, busy, then post)" \
    test "$(echo "$GLOG" | cut -d' ' -f1 | tr '\n' ' ')" = "busy busy post "
check "back to the policy's scripts" "$VMVAULT" protection update-for-vm --vault-name v1 --item-name "$VM" --script-settings none
check_out "the item uses its policy's again" 'j["scriptSettings"] is None and j["scriptSettingsSource"] == "Policy"' \
    "$VMVAULT" item show --vault-name v1 --name "$VM"
check_api "every change of script settings is in the audit log" 200 "" GET "/api/v1/audit?limit=1000"
check_json "with the policy's, the item's and who made them" \
    'any(e["action"] == "SetPolicyScriptSettings" and e["target"] == "AppPolicy" and "scriptsEnabled" in e["detail"] for e in L) and sum(e["action"] == "SetItemScriptSettings" and e["target"] == "'"$VM"'" and e["actor"] == "owner" for e in L) >= 3 and any(e["action"] == "SetItemScriptSettings" and e["detail"].endswith("scriptSettings=null") for e in L)'

# 5. The guest decides what runs in it. Settings stored before the guest's file, that
# name a command it does not list: refused, nothing runs, the warning names the file.
check "the guest's file lists pre.sh and post.sh" guest_conf "$GOOD_CONF"
check "the item's stored settings name evil.sh" stored_settings \
    '{"preScriptLocation": "/mnt/scripts/evil.sh", "preScriptParams": ["--now"], "continueBackupOnFailure": true}'
clear_log
new_backup
check "a backup whose settings ask for a command the guest did not list" agent_run
check_out "completes with ScriptNotInGuestConfig, naming the file and what it lacks" \
    'j["status"] == "CompletedWithWarnings" and [w["code"] for w in j["warnings"]] == ["ScriptNotInGuestConfig"] and (m := j["warnings"][0]["message"]) and "/mnt/scripts/evil.sh" in m and "'"$CONF"'" in m and "lists /mnt/scripts/pre.sh as its preScriptLocation" in m and "no script ran" in m' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
check_out "no script ran, the freeze held: FileSystemConsistent" \
    '(s := j["snapshot"]) and s["scriptConfig"]["status"] == "Refused" and "preScript" not in s and "postScript" not in s and s["recoveryPointType"] == "FileSystemConsistent"' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
check_exit "the command never ran in the guest (no /mnt/evil-ran)" 1 guest_exec app test -e /mnt/evil-ran
check "nor did the guest's own scripts (the scripts' log is empty)" test -z "$(guest_log)"
check "the same settings without continueBackupOnFailure" stored_settings \
    '{"preScriptLocation": "/mnt/scripts/evil.sh", "continueBackupOnFailure": false}'
before=$(points)
new_backup
check "a backup that needs the refused command" agent_run
check_out "fails with ScriptNotInGuestConfig and says nothing was backed up" \
    'j["status"] == "Failed" and j["error"]["code"] == "ScriptNotInGuestConfig" and "nothing was backed up" in j["error"]["message"] and "'"$CONF"'" in j["error"]["message"]' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
check "no point was added" test "$(points)" = "$before"
check_exit "the command still never ran" 1 guest_exec app test -e /mnt/evil-ran
check "stored settings that name exactly what the guest lists" stored_settings \
    '{"preScriptLocation": "/mnt/scripts/pre.sh", "preScriptParams": ["--flush", "all tables"], "postScriptLocation": "/mnt/scripts/post.sh", "postScriptParams": ["--resume"]}'
new_backup
check "a backup with them" agent_run
check_out "keep working: Completed, ApplicationConsistent" \
    'j["status"] == "Completed" and j["snapshot"]["recoveryPointType"] == "ApplicationConsistent" and j["snapshot"]["preScript"]["status"] == "Succeeded"' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
check "the agent's log says to drop the paths from the vault's settings" grep -q "still name their scripts" "$WORK/agent.log"
check "back to the policy's settings" "$VMVAULT" protection update-for-vm --vault-name v1 --item-name "$VM" --script-settings none

# 6. The guest's file must be root's, mode 0600: else it is not trusted.
check "the file readable by all (0644)" guest_conf "$GOOD_CONF" 644
clear_log
new_backup
check "a backup" agent_run
check_out "completes with GuestScriptConfigUnsafe: the mode, and what to do" \
    '[w["code"] for w in j["warnings"]] == ["GuestScriptConfigUnsafe"] and "has mode 0644, not 0600" in j["warnings"][0]["message"] and "chmod 600" in j["warnings"][0]["message"] and j["snapshot"]["scriptConfig"]["status"] == "Unsafe"' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
check "no script ran" test -z "$(guest_log)"
check "the file owned by uid 1000" guest_exec app sh -c "chmod 600 $CONF && chown 1000 $CONF"
new_backup
check "a backup" agent_run
check_out "completes with GuestScriptConfigUnsafe: the owner" \
    '[w["code"] for w in j["warnings"]] == ["GuestScriptConfigUnsafe"] and "owned by uid 1000, not by root" in j["warnings"][0]["message"]' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
check "no script ran" test -z "$(guest_log)"
check "the file root's and 0600 again, in a folder anyone may write" guest_exec app sh -c "chown 0 $CONF && chmod 777 /etc/vmvault"
new_backup
check "a backup" agent_run
check_out "completes with GuestScriptConfigUnsafe: the folder" \
    '[w["code"] for w in j["warnings"]] == ["GuestScriptConfigUnsafe"] and "is in /etc/vmvault, which others than root can write" in j["warnings"][0]["message"]' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
check "the file a symbolic link to a root-owned 0600 file" guest_exec app sh -c \
    "chmod 755 /etc/vmvault && mv $CONF /etc/vmvault/real.json && ln -s real.json $CONF"
new_backup
check "a backup" agent_run
check_out "completes with GuestScriptConfigUnsafe: not a regular file" \
    '[w["code"] for w in j["warnings"]] == ["GuestScriptConfigUnsafe"] and "is a symbolic link, not a regular file" in j["warnings"][0]["message"]' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
check "no script ran" test -z "$(guest_log)"
check "a file with a field vmvault does not read (Azure's fsFreezeEnabled)" guest_conf \
    '{"preScriptLocation": "/mnt/scripts/pre.sh", "fsFreezeEnabled": true}'
new_backup
check "a backup" agent_run
check_out "completes with GuestScriptConfigInvalid, naming the field" \
    '[w["code"] for w in j["warnings"]] == ["GuestScriptConfigInvalid"] and "VMSnapshotScriptPluginConfig.json: fsFreezeEnabled: unknown field" in j["warnings"][0]["message"] and j["snapshot"]["scriptConfig"]["status"] == "Invalid"' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
check "no script ran" test -z "$(guest_log)"
check "the file root's and 0600 again" guest_conf "$GOOD_CONF"

# 7. The agent killed while the guest is frozen: the thaw guard thaws it.
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

# 8. A freeze longer than --freeze-timeout: the guard cuts it short.
J=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name "$VM")
check "the agent runs a backup whose freeze lasts longer than the limit" env VMVAULT_AGENT_FREEZE_HOLD_MS=6000 "$VMVAULT_AGENT" run --once --state-dir "$AG" \
    --freeze-timeout 2 >>"$WORK/agent.log" 2>&1
check_out "completes CrashConsistent with FsFreezeTimedOut" \
    'j["status"] == "CompletedWithWarnings" and "FsFreezeTimedOut" in [w["code"] for w in j["warnings"]] and j["snapshot"]["recoveryPointType"] == "CrashConsistent" and j["snapshot"]["fsFreeze"]["status"] == "TimedOut"' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
check "the guest is thawed" test "$(guest_freeze_status app)" = thawed

# 9. The guest agent stopped: crash-consistent, with a warning that says what to do.
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
    --script-settings "$(settings '{"scriptsEnabled": true, "continueBackupOnFailure": false}')"
new_backup
check "a backup that needs its scripts" agent_run
check_out "fails with GuestAgentNotResponding" 'j["status"] == "Failed" and j["error"]["code"] == "GuestAgentNotResponding"' \
    "$VMVAULT" job show --vault-name v1 --name "$J"

# 10. Shut off: crash-consistent, no warning.
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
