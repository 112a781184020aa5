#!/usr/bin/env bash
# The real-domain harness (lib_virt.sh) on real libvirt/QEMU: a running TCG domain
# with a qcow2 and a raw disk reads back equal to its expected images, before and
# after writes made through QEMU (which a checkpoint's bitmap counts exactly); a
# shut-off domain takes offline writes; expected images saved under a tag match what
# a pull-mode backup exports while the disk changes under it; cleanup removes every
# domain and file the test made, aborting the running backup, and nothing else.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_virt.sh"
START=$(date +%s.%N)

virt_up
pass "libvirt answers on qemu:///system"

virt_domain vm --running --disk vda:qcow2:64M:11 --disk vdb:raw:32M:12
VM=$VIRT_DOM
check "the domain runs" test "$(virt_state vm)" = running
check "its name is vvt-vm-<run suffix>" test "$VM" = "vvt-vm-$VIRT_RUN" -a "$(virt_name vm)" = "$VM"
check "it is a TCG domain with 64 MiB and no network" sh -c \
    "$VIRSH dumpxml $VM > $WORK/vm.xml && grep -q \"<domain type='qemu'\" $WORK/vm.xml &&
     grep -q \"<memory unit='KiB'>65536<\" $WORK/vm.xml && ! grep -q '<interface' $WORK/vm.xml"
check "vda is qcow2, vdb raw" sh -c "qemu-img info -U '$(virt_disk_path vm vda)' | grep -q 'file format: qcow2' &&
     qemu-img info -U '$(virt_disk_path vm vdb)' | grep -q 'file format: raw'"
check "the disks are 64 MiB and 32 MiB" test "$(virt_disk_size vm vda) $(virt_disk_size vm vdb)" = "67108864 33554432"
check "the expected images hold data" test "$(du -k "$(virt_expected vm vda)" | cut -f1)" -gt 1024
check "the disk devices are virtio-disk0 and virtio-disk1" \
    test "$(virt_qom vm vda) $(virt_qom vm vdb)" = \
    "/machine/peripheral/virtio-disk0/virtio-backend /machine/peripheral/virtio-disk1/virtio-backend"
for t in vda vdb; do
    check "running $t reads back equal to its expected image" virt_disk_equals vm "$t"
done

check "a checkpoint is created" virt_checkpoint vm cp1
check "the checkpoint is listed" test "$(virt_checkpoints vm)" = cp1

check "write 1M of 0xcd into vda at 8M" virt_write vm vda 8M 1M 0xcd
check "an unaligned write into vda" virt_write vm vda 12345 777 1
check "a write over vda's last 4 KiB" virt_write vm vda $((64 * 1048576 - 4096)) 4K 0xff
check "a write into a hole of vdb" virt_write vm vdb 5M 300K 0x5a
for t in vda vdb; do
    check "$t equals its expected image after the writes" virt_disk_equals vm "$t"
done
# 8M+1M is 16 clusters of 64 KiB, the other two writes one cluster each
dirty() {
    $VIRSH qemu-monitor-command "$VM" '{"execute":"query-named-block-nodes","arguments":{"flat":true}}' |
        python3 -c 'import json,sys; print(sum(b["count"] for n in json.load(sys.stdin)["return"] for b in n.get("dirty-bitmaps", []) if b["name"] == "cp1"))'
}
check "the checkpoint's bitmap counts exactly the written clusters" test "$(dirty)" = $((18 * 65536))

cp --sparse=always "$(virt_expected vm vdb)" "$WORK/vdb.before"
check_fails "a write past the disk's end is refused" 1 "beyond" virt_write vm vdb 32M 1 0x01
check_fails "a bad byte value is refused" 1 "not a byte" virt_write vm vdb 0 1 0x100
check_fails "an unknown disk is refused" 1 "no disk 'vdz'" virt_write vm vdz 0 1 0x01
check_fails "writing offline into a running domain is refused" 1 "is running" virt_write_offline vm vdb 0 1 0x01
check "refused writes leave the expected image alone" cmp "$WORK/vdb.before" "$(virt_expected vm vdb)"

# A pull-mode backup exports the disks as they were when it began.
check "expected images are saved under a tag" virt_snapshot_expected vm t1
if virt_has_job vm; then fail "no domain job before the backup" "virt_has_job says there is one"
else pass "no domain job before the backup"; fi
RUN=$(virt_rundir)
cat > "$WORK/backup.xml" <<EOF
<domainbackup mode='pull'>
  <server transport='unix' socket='$RUN/nbd.sock'/>
  <disks>
    <disk name='vda' backup='yes' type='file'><scratch file='$RUN/vda.scratch'/></disk>
    <disk name='vdb' backup='yes' type='file'><scratch file='$RUN/vdb.scratch'/></disk>
  </disks>
</domainbackup>
EOF
check "a pull-mode backup begins (NBD socket in virt_rundir)" $VIRSH backup-begin "$VM" "$WORK/backup.xml"
check "the backup is a domain job" virt_has_job vm
check "a write during the backup" virt_write vm vda 8M 64K 0x77
check "a write into vdb during the backup" virt_write vm vdb 0 4K 0x78
check "vda holds that write" virt_disk_equals vm vda
check "the current expected image differs from the saved one" \
    test "$(cmp -s "$(virt_expected vm vda)" "$(virt_expected_at vm vda t1)"; echo $?)" = 1
for t in vda vdb; do
    check "the backup's export of $t equals the expected image saved under t1" sh -c \
        "nbdcopy 'nbd+unix:///$t?socket=$RUN/nbd.sock' $WORK/export-$t.raw &&
         cmp $WORK/export-$t.raw '$(virt_expected_at vm $t t1)'"
done
check "the backup made no checkpoint" test "$(virt_checkpoints vm)" = cp1

# A shut-off domain.
virt_domain off --disk vda:qcow2:16M --disk vdb:raw:8M:5:2
OFF=$VIRT_DOM
check "a domain without --running is shut off" test "$(virt_state off)" = "shut off"
check_fails "virt_write refuses a shut-off domain" 1 "not running" virt_write off vda 0 4K 0x11
check "an offline write into qcow2 vda" virt_write_offline off vda 1M 128K 0xab
check "an offline write into raw vdb" virt_write_offline off vdb 0 4K 0x11
for t in vda vdb; do
    check "shut-off $t equals its expected image" virt_disk_equals off "$t"
done
check "the shut-off domain starts" virt_start off
check "once running its vda still equals the expected image" virt_disk_equals off vda

# Cleanup removes what the harness made, and only that: a domain named like the
# harness's but defined behind its back stays.
FOREIGN=vvt-foreign-$VIRT_RUN
printf "<domain type='qemu'><name>%s</name><memory unit='MiB'>16</memory><os><type arch='x86_64' machine='pc'>hvm</type></os></domain>\n" \
    "$FOREIGN" > "$WORK/foreign.xml"
$VIRSH define "$WORK/foreign.xml" >/dev/null
CLEAN_START=$(date +%s.%N)
virt_cleanup
CLEAN_TIME=$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $CLEAN_START}")
check "a domain the harness did not make is left alone" $VIRSH domstate "$FOREIGN"
$VIRSH undefine "$FOREIGN" >/dev/null 2>&1
rm -f "$VIRT_QEMU_LOGS/$FOREIGN.log"
check "no test domain is left" test -z "$($VIRSH list --all --name | grep -- "-$VIRT_RUN\$")"
check "no QEMU process of the test is left" sh -c "! pgrep -f 'guest=vvt-[a-z]*-$VIRT_RUN,' >/dev/null"
check "the harness's folder is gone" test ! -e "$VIRT_DIR"
left=
for n in "$VM" "$OFF"; do
    for f in "/etc/libvirt/qemu/$n.xml" "/run/libvirt/qemu/$n.xml" "/var/lib/libvirt/qemu/checkpoint/$n" \
             "$VIRT_QEMU_LOGS/$n.log"; do
        [ -e "$f" ] && left+=" $f"
    done
done
check "libvirt keeps no file of the test domains (definition, checkpoints, log)" test -z "$left"
check "virt_cleanup runs again harmlessly" virt_cleanup
echo "t0300 took $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $START}") s (cleanup $CLEAN_TIME s)"
finish
