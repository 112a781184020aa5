# lib_agent.sh: sourced after lib.sh, lib_server.sh and lib_virt.sh by the host
# agent's end-to-end tests.
#
#   VMVAULT_AGENT             the agent binary under test (absolute)
#   AG                        the agent's state folder ($WORK/agent)
#   agent_setup               vault v1 (westeurope), its credentials, host1 registered,
#                             $WORK its restore root (agent.conf's Restore.Roots)
#   agent_run [ARGS...]       one `vmvault-agent run --once` (report, run queued jobs);
#                             on failure prints the end of $WORK/agent.log
#   jobid COMMAND...          the id of the job a CLI command printed
#   latest_point_of NAME      the latest recovery point of the test domain NAME
#   restored_disk_equals POINT DISK FILE
#                             one disk of a point, restored from the vault's store
#                             with `vmvault debug image-restore`, equals FILE
#   NO_GA_DONE                python expression true of the job (j) of a backup of a
#                             running test domain (they have no guest agent): it
#                             completed, warning only that the guest agent is missing
VMVAULT_AGENT=${VMVAULT_AGENT:-$TOP/build/vmvault-agent}
case $VMVAULT_AGENT in /*) ;; *) VMVAULT_AGENT=$PWD/$VMVAULT_AGENT ;; esac
AG=$WORK/agent
NO_GA_DONE='j["status"] == "CompletedWithWarnings" and [w["code"] for w in j["warnings"]] == ["GuestAgentNotConfigured"] and j["snapshot"]["recoveryPointType"] == "CrashConsistent"'

agent_setup() {
    "$VMVAULT" vault create --name v1 --location westeurope >/dev/null 2>&1
    "$VMVAULT" vault credentials --name v1 --file "$WORK/creds.json" >/dev/null 2>&1
    "$VMVAULT_AGENT" register --vault-credentials "$WORK/creds.json" --host-name host1 \
        --state-dir "$AG" >>"$WORK/agent.log" 2>&1
    # restores in these tests go under $WORK: the host allows it as a restore root
    printf 'Restore.Roots=%s\n' "$WORK" >"$AG/agent.conf" && chmod 600 "$AG/agent.conf"
}

agent_run() {
    local rc
    "$VMVAULT_AGENT" run --once --state-dir "$AG" --threads 3 "$@" >>"$WORK/agent.log" 2>&1
    rc=$?
    [ "$rc" = 0 ] || { echo "vmvault-agent exited with status $rc:"; tail -n 8 "$WORK/agent.log"; }
    return "$rc"
}

jobid() { "$@" 2>/dev/null | json_value 'j["id"]' 2>/dev/null; }

latest_point_of() {
    "$VMVAULT" item show --vault-name v1 --name "$(virt_name "$1")" 2>/dev/null |
        json_value 'j["latestRecoveryPoint"]'
}

restored_disk_equals() {
    local v out=$WORK/restored.raw
    v=$(ls "$SRV_DATA/vaults")
    rm -f "$out"
    "$VMVAULT" debug image-restore --store "$SRV_DATA/vaults/$v/store" \
        --key-file "$SRV_DATA/vaults/$v/vault.key" --point "$1" --disk-name "$2" \
        --target "$out" >/dev/null || return 1
    cmp "$out" "$3"
}
