#!/usr/bin/env bash
# Restores through the host agent: a recovery point's disks to files (raw and
# qcow2), byte-identical to the disks at backup time; as a new domain (new name,
# UUID and MACs) that starts under libvirt; over the original disks of a shut-off VM
# with the old files kept aside; refusals with their codes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_server.sh"
. "$(dirname "$0")/lib_virt.sh"
. "$(dirname "$0")/lib_agent.sh"
cd "$WORK"
virt_up
srv_start "$WORK/data" || finish
status_of() { "$VMVAULT" job show --vault-name v1 --name "$1" 2>/dev/null | json_value 'j["status"]'; }
# same_disk FILE FORMAT EXPECTED: the guest-visible bytes of FILE equal EXPECTED.
same_disk() { qemu-img convert -U -f "$2" -O raw "$1" "$WORK/cmp.raw" && cmp "$WORK/cmp.raw" "$3"; }

agent_setup
virt_domain app --running --disk vda:qcow2:48M:31:16 --disk vdb:raw:40M:32:12
APP=$VIRT_DOM
agent_run
"$VMVAULT" protection enable-for-vm --vault-name v1 --vm "$APP" --policy-name DefaultPolicy >/dev/null 2>&1
J=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name "$APP")
virt_snapshot_expected app p1
agent_run
P1=$("$VMVAULT" item show --vault-name v1 --name "$APP" 2>/dev/null | json_value 'j["latestRecoveryPoint"]')
check "a first backup" test "$(status_of "$J")" = CompletedWithWarnings
virt_write app vda 3M 512K 0x42 >/dev/null 2>&1
virt_write app vdb 17M 4K 0x43 >/dev/null 2>&1
virt_snapshot_expected app p2
J=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name "$APP")
agent_run
P2=$("$VMVAULT" item show --vault-name v1 --name "$APP" 2>/dev/null | json_value 'j["latestRecoveryPoint"]')
check "an incremental backup" test "$(status_of "$J")" = CompletedWithWarnings

# Disks to files.
OUT=$WORK/restore1
J=$(jobid "$VMVAULT" restore restore-disks --vault-name v1 --item-name "$APP" --rp-name "$P1" --target-dir "$OUT")
check "restore-disks starts a Restore job" test -n "$J"
check "the agent carries it out" agent_run
check_out "the Restore job completes" 'j["status"] == "Completed" and j["operation"] == "Restore" and j["progressPercent"] == 100' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
check "the full point's qcow2 disk is restored as qcow2, byte-identical" same_disk "$OUT/$APP-vda.qcow2" qcow2 "$(virt_expected_at app vda p1)"
check "the raw disk as raw, byte-identical" same_disk "$OUT/$APP-vdb.raw" raw "$(virt_expected_at app vdb p1)"
check "restored files are readable only by root" test "$(stat -c %a "$OUT/$APP-vda.qcow2")" = 600
check "no partial file is left" sh -c "! ls '$OUT' | grep -q partial"
OUT2=$WORK/restore2
J=$(jobid "$VMVAULT" restore restore-disks --vault-name v1 --item-name "$APP" --rp-name "$P2" --target-dir "$OUT2" --format raw --diskslist vda)
agent_run
check "the incremental point, one disk, as raw: byte-identical" same_disk "$OUT2/$APP-vda.raw" raw "$(virt_expected_at app vda p2)"
check "only the disk asked for" test ! -e "$OUT2/$APP-vdb.raw"
J=$(jobid "$VMVAULT" restore restore-disks --vault-name v1 --item-name "$APP" --rp-name "$P2" --target-dir "$OUT2" --format raw --diskslist vda)
agent_run
check_out "an existing target is refused (TargetExists) and left alone" \
    'j["status"] == "Failed" and j["error"]["code"] == "TargetExists"' "$VMVAULT" job show --vault-name v1 --name "$J"
check "the file is untouched" same_disk "$OUT2/$APP-vda.raw" raw "$(virt_expected_at app vda p2)"

# As a new domain.
NEW=vvt-copy-$VIRT_RUN
J=$(jobid "$VMVAULT" restore restore-disks --vault-name v1 --item-name "$APP" --rp-name "$P2" \
    --target-dir "$WORK/virt/copy" --restore-mode AlternateLocation --target-vm-name "$NEW")
agent_run
check_out "AlternateLocation completes" 'j["status"] == "Completed"' "$VMVAULT" job show --vault-name v1 --name "$J"
trap 'virsh -c qemu:///system destroy "$NEW" >/dev/null 2>&1; virsh -c qemu:///system undefine "$NEW" >/dev/null 2>&1; virt_cleanup; _srv_cleanup' EXIT
check "the new domain is defined" virsh -c qemu:///system dominfo "$NEW"
check "with a new UUID" test "$(virsh -c qemu:///system domuuid "$NEW")" != "$(virt_uuid app)"
check "it keeps the saved definition (memory, vCPUs)" sh -c "virsh -c qemu:///system dumpxml '$NEW' | grep -q \"<memory unit='KiB'>65536</memory>\""
check "its disks are the restored files" sh -c "virsh -c qemu:///system domblklist '$NEW' | grep -q '$WORK/virt/copy/$NEW-vda.qcow2'"
chmod 755 "$WORK/virt/copy"
check "it starts under libvirt" virsh -c qemu:///system start "$NEW"
check "its disk holds the point's bytes" same_disk "$WORK/virt/copy/$NEW-vdb.raw" raw "$(virt_expected_at app vdb p2)"
virsh -c qemu:///system destroy "$NEW" >/dev/null 2>&1

# Over the original disks.
J=$(jobid "$VMVAULT" restore restore-disks --vault-name v1 --item-name "$APP" --rp-name "$P1" --restore-mode OriginalLocation)
agent_run
check_out "OriginalLocation is refused while the VM runs (VmRunning)" \
    'j["status"] == "Failed" and j["error"]["code"] == "VmRunning"' "$VMVAULT" job show --vault-name v1 --name "$J"
virt_stop app
J=$(jobid "$VMVAULT" restore restore-disks --vault-name v1 --item-name "$APP" --rp-name "$P1" --restore-mode OriginalLocation)
agent_run
check_out "on the shut-off VM it completes" 'j["status"] == "Completed"' "$VMVAULT" job show --vault-name v1 --name "$J"
for t in vda vdb; do
    check "$t is back to the first point" same_disk "$(virt_disk_path app $t)" "$(virt_disk_format app $t)" "$(virt_expected_at app $t p1)"
    check "the $t it had is kept aside" sh -c "ls '$(virt_disk_path app $t)'.pre-restore-* >/dev/null"
done
check "the VM starts on its restored disks" virsh -c qemu:///system start "$APP"

# Selective disks: a VM protected without its vdb backs up and restores vda only.
virt_domain sel --disk vda:qcow2:32M:51:8 --disk vdb:raw:16M:52:4
SEL=$VIRT_DOM
agent_run
check "protect a VM excluding its vdb" "$VMVAULT" protection enable-for-vm --vault-name v1 --vm "$SEL" \
    --policy-name DefaultPolicy --diskslist vdb --disk-list-setting exclude
check_out "the item shows its disk settings" 'j["diskSettings"] == {"setting": "exclude", "disks": ["vdb"]}' \
    "$VMVAULT" item show --vault-name v1 --name "$SEL"
J=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name "$SEL")
agent_run
PS=$("$VMVAULT" item show --vault-name v1 --name "$SEL" 2>/dev/null | json_value 'j["latestRecoveryPoint"]')
check_out "its recovery point holds vda only" '[d["name"] for d in j["disks"]] == ["vda"]' \
    "$VMVAULT" recoverypoint show --vault-name v1 --item-name "$SEL" --name "$PS"
J=$(jobid "$VMVAULT" restore restore-disks --vault-name v1 --item-name "$SEL" --rp-name "$PS" --target-dir "$WORK/sel")
agent_run
check "and vda restores byte-identical" same_disk "$WORK/sel/$SEL-vda.qcow2" qcow2 "$(virt_expected sel vda)"
check_refused "half of a disk setting is a usage error" 2 "go together" "" \
    "$VMVAULT" protection enable-for-vm --vault-name v1 --vm "$SEL" --policy-name DefaultPolicy --diskslist vda

check_refused "a restore without a target folder is a usage error" 2 "target-dir" "" \
    "$VMVAULT" restore restore-disks --vault-name v1 --item-name "$APP" --rp-name "$P1"
check_refused "an unknown point" 1 RecoveryPointNotFound "" \
    "$VMVAULT" restore restore-disks --vault-name v1 --item-name "$APP" --rp-name rp-20200101-000000-000-00000000 --target-dir /tmp/x
srv_stop
check "vmvaultd check passes" "$VMVAULTD" check --data-dir "$SRV_DATA"
finish
