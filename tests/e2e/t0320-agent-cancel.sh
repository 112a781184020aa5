#!/usr/bin/env bash
# Cancel, kill and stop in the middle of a transfer: a backup stopped by the operator
# ends Cancelled, one whose agent is killed is failed by the vault, one whose agent is
# stopped ends AgentStopped; each time the host keeps no libvirt backup job, no stray
# checkpoint and no run file, the vault holds no partial point, and the next backups
# (full, then incremental) succeed and restore byte-identical.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_server.sh"
. "$(dirname "$0")/lib_virt.sh"
. "$(dirname "$0")/lib_agent.sh"
cd "$WORK"
virt_up
srv_start "$WORK/data" --agent-timeout 3 || finish
# agent_bg ARGS...: the agent in the background, its own PID in APID.
agent_bg() {
    "$VMVAULT_AGENT" run --once --state-dir "$AG" "$@" >>"$WORK/agent.log" 2>&1 &
    APID=$!
    BG_PIDS+=("$APID")
}
job() { "$VMVAULT" job show --vault-name v1 --name "$1" 2>/dev/null | json_value "$2" 2>/dev/null; }
# wait_for JOB EXPR [SECONDS]: poll until python EXPR holds for the job.
wait_for() {
    for _ in $(seq 1 $((${3:-20} * 10))); do
        [ "$(job "$1" "bool($2)")" = True ] && return 0
        sleep 0.1
    done
    return 1
}
ours() { virt_checkpoints "$1" | grep -c '^vmvault-'; }
points() { "$VMVAULT" recoverypoint list --vault-name v1 --item-name "$VM" 2>/dev/null | json_value 'len(L)'; }
host_clean() {
    ! virsh -c qemu:///system domjobinfo "$VM" 2>/dev/null | grep -q Backup &&
        [ -z "$(ls -A "$AG/run" 2>/dev/null)" ]
}

agent_setup
virt_domain big --running --disk vda:qcow2:160M:41:96 --disk vdb:raw:64M:42:32
VM=$VIRT_DOM
agent_run
"$VMVAULT" protection enable-for-vm --vault-name v1 --vm "$VM" --policy-name DefaultPolicy >/dev/null 2>&1

# The operator cancels during the transfer.
J1=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name "$VM")
agent_bg --max-upload-rate 1M
check "the backup reaches the transfer phase" wait_for "$J1" 'j["tasks"][1]["status"] == "InProgress" and j["bytesDone"] > 0'
check "job stop during the transfer" "$VMVAULT" job stop --vault-name v1 --name "$J1"
check "the job ends Cancelled within seconds" wait_for "$J1" 'j["status"] == "Cancelled"' 15
check_out "the transfer sub-task says Cancelled" 'j["tasks"][0]["status"] == "Completed" and j["tasks"][1]["status"] == "Cancelled"' \
    "$VMVAULT" job show --vault-name v1 --name "$J1"
wait "$APID" 2>/dev/null
check "the host is clean: no backup job, no run files" host_clean
check "and no checkpoint of the cancelled backup" test "$(ours big)" = 0
check "no recovery point was created" test "$(points)" = 0

# The agent is killed during a transfer.
J3=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name "$VM")
agent_bg --max-upload-rate 1M
check "a backup reaches the transfer phase" wait_for "$J3" 'j["tasks"][1]["status"] == "InProgress" and j["bytesDone"] > 0'
kill -9 "$APID" 2>/dev/null; wait "$APID" 2>/dev/null
check "the killed agent left a libvirt backup job behind" sh -c "virsh -c qemu:///system domjobinfo '$VM' | grep -q Backup"
check "the restarted agent cleans the host up" agent_run
check "no backup job, no run files" host_clean
check "no checkpoint of the killed backup is left" test "$(ours big)" = 0
check "the vault fails the job whose agent vanished" wait_for "$J3" 'j["status"] == "Failed" and j["error"]["code"] == "AgentStoppedResponding"' 15
check "no partial recovery point" test "$(points)" = 0

# SIGTERM during a transfer: the agent stops cleanly and says so.
J5=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name "$VM")
agent_bg --max-upload-rate 1M
wait_for "$J5" 'j["tasks"][1]["status"] == "InProgress" and j["bytesDone"] > 0' >/dev/null
kill -TERM "$APID"
wait "$APID"; rc=$?
check "a stopped agent exits cleanly (status 0)" test "$rc" = 0
check_out "its job failed with AgentStopped" 'j["status"] == "Failed" and j["error"]["code"] == "AgentStopped"' \
    "$VMVAULT" job show --vault-name v1 --name "$J5"
check "the host is clean after SIGTERM" host_clean
check "with no checkpoint left" test "$(ours big)" = 0

# After all that, backups succeed: a full one, then an incremental.
J2=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name "$VM")
virt_snapshot_expected big p1
check "the next backup runs" agent_run
check "and completes" test "$(job "$J2" "$NO_GA_DONE")" = True
P1=$("$VMVAULT" item show --vault-name v1 --name "$VM" 2>/dev/null | json_value 'j["latestRecoveryPoint"]')
check "its vda restores byte-identical" restored_disk_equals "$P1" vda "$(virt_expected_at big vda p1)"
virt_write big vda 100M 8M 0x3c >/dev/null 2>&1
virt_write big vdb 10M 4M 0x3d >/dev/null 2>&1
virt_snapshot_expected big p2
J4=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name "$VM")
check "an incremental runs" agent_run
check_out "and completes as an incremental" "$NO_GA_DONE"' and j["stats"]["incremental"]' \
    "$VMVAULT" job show --vault-name v1 --name "$J4"
P2=$("$VMVAULT" item show --vault-name v1 --name "$VM" 2>/dev/null | json_value 'j["latestRecoveryPoint"]')
check "vda restores byte-identical" restored_disk_equals "$P2" vda "$(virt_expected_at big vda p2)"
check "vdb restores byte-identical" restored_disk_equals "$P2" vdb "$(virt_expected_at big vdb p2)"
check "the chain keeps one checkpoint" test "$(ours big)" = 1
srv_stop
check "vmvaultd check passes" "$VMVAULTD" check --data-dir "$SRV_DATA"
finish
