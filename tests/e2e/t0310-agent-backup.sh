#!/usr/bin/env bash
# The host agent on real libvirt/QEMU domains: a host registers, its domains appear as
# protectable items, a running and a shut-off domain (qcow2 and raw disks) are backed
# up; writes through QEMU make the next backup of the running one an incremental that
# reads only the dirty extents of its qcow2 disk; every point restores byte-identical
# to the disks at its backup time; a deleted checkpoint makes the next backup fall back
# with a warning and still be right; no stray checkpoint, job or file is left.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_server.sh"
. "$(dirname "$0")/lib_virt.sh"
. "$(dirname "$0")/lib_agent.sh"
cd "$WORK"
virt_up
srv_start "$WORK/data" || finish
agent() { "$VMVAULT_AGENT" "$@" --state-dir "$AG" >>"$WORK/agent.log" 2>&1; }
ours() { virt_checkpoints "$1" | grep -c '^vmvault-'; }

"$VMVAULT" vault create --name v1 --location westeurope >/dev/null 2>&1
"$VMVAULT" vault credentials --name v1 --file creds.json >/dev/null 2>&1
check "the agent registers the host" agent register --vault-credentials creds.json --host-name host1
check "its state folder is not listable by others" test "$(stat -c %a "$AG")" = 711
check "its credential is readable only by root" test "$(stat -c %a "$AG/agent.json")" = 600

virt_domain web --running --disk vda:qcow2:64M:11:16 --disk vdb:raw:32M:12:8
WEB=$VIRT_DOM
virt_domain db --disk vda:qcow2:32M:21:8 --disk vdb:raw:16M:22:4
DB=$VIRT_DOM
check "the agent reports the host's VMs" agent_run
check_out "both domains are protectable items, with their disks" \
    'len([x for x in L if x["name"] in ("'"$WEB"'", "'"$DB"'") and [d["name"] for d in x["disks"]] == ["vda", "vdb"]]) == 2' \
    "$VMVAULT" protectable-item list --vault-name v1
check_out "the running one is running, the other shut off" \
    '{x["name"]: x["state"] for x in L}["'"$WEB"'"] == "running" and {x["name"]: x["state"] for x in L}["'"$DB"'"] == "shut off"' \
    "$VMVAULT" protectable-item list --vault-name v1
for d in "$WEB" "$DB"; do
    check "protect $d" "$VMVAULT" protection enable-for-vm --vault-name v1 --vm "$d" --policy-name DefaultPolicy
done

# First backups: full.
J1=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name "$WEB")
J2=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name "$DB")
virt_snapshot_expected web full
check "the agent runs both backups" agent_run
check_out "the running domain's backup completes, warning that it has no guest agent" \
    "$NO_GA_DONE"' and [t["status"] for t in j["tasks"]] == ["Completed", "Completed"] and j["recoveryPoint"] and "org.qemu.guest_agent.0" in j["warnings"][0]["message"]' \
    "$VMVAULT" job show --vault-name v1 --name "$J1"
check_out "the shut-off domain's backup completes without warning" \
    'j["status"] == "Completed" and j["warnings"] == [] and [t["status"] for t in j["tasks"]] == ["Completed", "Completed"] and j["recoveryPoint"]' \
    "$VMVAULT" job show --vault-name v1 --name "$J2"
P1=$(latest_point_of web)
P2=$(latest_point_of db)
for t in vda vdb; do
    check "running domain, full point: $t restores byte-identical" restored_disk_equals "$P1" $t "$(virt_expected_at web $t full)"
    check "shut-off domain, full point: $t restores byte-identical" restored_disk_equals "$P2" $t "$(virt_expected db $t)"
done
check_out "the points are crash-consistent and keep the domain XML" \
    'j["recoveryPointType"] == "CrashConsistent" and [d["name"] for d in j["disks"]] == ["vda", "vdb"]' \
    "$VMVAULT" recoverypoint show --vault-name v1 --item-name "$WEB" --name "$P1"
check "the running domain keeps exactly one checkpoint of ours" test "$(ours web)" = 1
check "no backup job is left running in libvirt" sh -c "! virsh -c qemu:///system domjobinfo '$WEB' 2>/dev/null | grep -q Backup"

# Writes through QEMU, then an incremental.
check "write 1 MiB into vda" virt_write web vda 8M 1M 0xcd
check "write 64 KiB into vdb" virt_write web vdb 4M 64K 0xab
virt_snapshot_expected web inc1
J3=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name "$WEB")
: > "$WORK/agent.log"
check "the agent runs the incremental" agent_run
check_out "it completes" "$NO_GA_DONE" "$VMVAULT" job show --vault-name v1 --name "$J3"
check "the agent says it was incremental" grep -q "(incremental)" "$WORK/agent.log"
check_out "the job reports an incremental that read only vda's dirty chunks and the raw vdb" \
    'j["stats"]["incremental"] and j["stats"]["chunksRead"] <= 4 + 32 * 4 and j["stats"]["bytesRead"] <= 10 * 1048576 and j["stats"]["chunksKept"] >= 2' \
    "$VMVAULT" job show --vault-name v1 --name "$J3"
check_out "and what it sent: only the changed chunks are new" \
    'j["stats"]["chunksNew"] <= 5 and j["stats"]["bytesSent"] < 2 * 1048576 and j["stats"]["chunksDeduplicated"] >= 1' \
    "$VMVAULT" job show --vault-name v1 --name "$J3"
check_out "progress ends at 100% of what was planned" 'j["progressPercent"] == 100 and j["bytesDone"] == j["bytesTotal"] and j["bytesTotal"] > 0' \
    "$VMVAULT" job show --vault-name v1 --name "$J3"
P3=$(latest_point_of web)
check_out "the incremental's parent is the full point" 'j["parent"] == "'"$P1"'"' \
    "$VMVAULT" recoverypoint show --vault-name v1 --item-name "$WEB" --name "$P3"
for t in vda vdb; do
    check "incremental point: $t restores byte-identical to the disk now" restored_disk_equals "$P3" $t "$(virt_expected_at web $t inc1)"
    check "full point: $t still restores to the disk as it was" restored_disk_equals "$P1" $t "$(virt_expected_at web $t full)"
done
check "still exactly one checkpoint of ours" test "$(ours web)" = 1

# A deleted checkpoint: the next backup falls back, warns, and is still right.
CP=$(virt_checkpoints web | grep '^vmvault-' | tail -n 1)
virsh -c qemu:///system checkpoint-delete "$WEB" "$CP" >/dev/null 2>&1
check "write again into vda" virt_write web vda 20M 256K 0x5a
virt_snapshot_expected web inc2
J4=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name "$WEB")
check "the agent runs the backup" agent_run
check_out "without its checkpoint the backup completes with a warning" \
    'j["status"] == "CompletedWithWarnings" and j["error"] is None and [w["code"] for w in j["warnings"]] == ["GuestAgentNotConfigured", "IncrementalChainBroken"] and "checkpoint" in j["warnings"][1]["message"]' \
    "$VMVAULT" job show --vault-name v1 --name "$J4"
P4=$(latest_point_of web)
for t in vda vdb; do
    check "the fallback point: $t restores byte-identical" restored_disk_equals "$P4" $t "$(virt_expected_at web $t inc2)"
done
check "a new chain started with one checkpoint" test "$(ours web)" = 1
J5=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name "$WEB")
: > "$WORK/agent.log"
agent_run
check_out "and the next backup is incremental again" "$NO_GA_DONE" \
    "$VMVAULT" job show --vault-name v1 --name "$J5"
check "from the new chain" grep -q "(incremental)" "$WORK/agent.log"

# The shut-off domain changed offline: its next backup reads the images again.
check "an offline write into the shut-off domain" virt_write_offline db vdb 1M 128K 0x77
J6=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name "$DB")
agent_run
check_out "the shut-off domain's second backup completes" 'j["status"] == "Completed"' \
    "$VMVAULT" job show --vault-name v1 --name "$J6"
P6=$(latest_point_of db)
for t in vda vdb; do
    check "shut-off domain, second point: $t restores byte-identical" restored_disk_equals "$P6" $t "$(virt_expected db $t)"
done
check "no run files are left on the host" sh -c "[ -z \"\$(ls -A '$AG/run' 2>/dev/null)\" ]"

# Another vault's agent on this host names its checkpoints with another prefix: ours
# starts, cleans up its own leftovers and leaves that one alone.
FOREIGN=vmvault-ffffffff-0badc0de-1
check "a checkpoint of another registration on the running domain" virt_checkpoint web "$FOREIGN"
prefixed() { virt_checkpoints web | grep -vx "$FOREIGN" | grep -Eq '^vmvault-[0-9a-f]{8}-[0-9a-f]{8}-[0-9]+$'; }
check "our checkpoint carries this registration's prefix" prefixed
check "the agent starts and cleans up" agent_run
foreign_kept() { virt_checkpoints web | grep -qx "$FOREIGN"; }
check "the other registration's checkpoint is still there" foreign_kept
virsh -c qemu:///system checkpoint-delete "$WEB" "$FOREIGN" >/dev/null 2>&1
srv_stop
check "vmvaultd check passes" "$VMVAULTD" check --data-dir "$SRV_DATA"
finish
