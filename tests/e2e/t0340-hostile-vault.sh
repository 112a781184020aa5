#!/usr/bin/env bash
# A compromised vault against the real host agent: tests/tools/hostile_vault.py
# speaks the vault's agent API and hands vmvault-agent restore jobs with hostile
# ids, names, folders, manifests and domain XML. Each is refused with its code
# (reported to the test vault) or, where it is a legitimate restore in disguise,
# carried out only where the host allows: under the restore roots, onto the disks of
# the VM's current definition, into a domain that keeps only what a restored VM
# needs. A canary folder outside the roots stands for /etc: it must not change.
# Domains are named vvhostile-*-RUN and are only defined (never started), except
# the one the agent defines itself; all are undefined at exit.
. "$(dirname "$0")/lib.sh"
VMVAULT_AGENT=${VMVAULT_AGENT:-$TOP/build/vmvault-agent}
case $VMVAULT_AGENT in /*) ;; *) VMVAULT_AGENT=$PWD/$VMVAULT_AGENT ;; esac
cd "$WORK"
HV_PID= LOOP= DOMS=()
hv_cleanup() {
    local d
    [ -n "$HV_PID" ] && kill "$HV_PID" 2>/dev/null && wait "$HV_PID" 2>/dev/null
    for d in "${DOMS[@]}"; do virsh -c qemu:///system undefine "$d" >/dev/null 2>&1; done
    [ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
    return 0
}
trap 'hv_cleanup; [ "${VV_KEEP:-0}" = 1 ] || rm -rf "$WORK"' EXIT
. "$TOP/tests/e2e/lib_virt.sh"
virt_up
RUN=$VIRT_RUN
ROOT=$WORK/roots/r1 CANARY=$WORK/canary AG=$WORK/agent IMG=$WORK/img
mkdir -p "$ROOT" "$CANARY" "$IMG" "$AG"
chmod 700 "$AG"
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$CANARY/passwd"
canary_state() { (cd "$CANARY" && find . -printf '%p %y %s %l\n' | sort && sha256sum passwd); }
canary_state >"$WORK/canary.before"

# ---- this host's VMs: one with a disk file, one on a loop device -----------------
uuid() { python3 -c 'import uuid; print(uuid.uuid4())'; }
# define_dom NAME UUID DISKXML: a shut-off TCG domain with one disk (the caller
# lists it in DOMS: check runs this in a subshell).
define_dom() {
    cat >"$WORK/$1.xml" <<EOF
<domain type='qemu'><name>$1</name><uuid>$2</uuid><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>$3</devices></domain>
EOF
    virsh -c qemu:///system define "$WORK/$1.xml" >/dev/null
}
python3 -c "import sys; sys.stdout.buffer.write(b'\xab' * (1 << 20))" >"$IMG/orig.raw"
ORIG=vvhostile-orig-$RUN ORIG_UUID=$(uuid) BLK=vvhostile-blk-$RUN BLK_UUID=$(uuid)
ALT=vvhostile-alt-$RUN
DOMS=("$ORIG" "$BLK" "$ALT")
check "a shut-off VM with a file disk is defined" define_dom "$ORIG" "$ORIG_UUID" \
    "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='$IMG/orig.raw'/><target dev='vda' bus='virtio'/></disk>"
python3 -c "import sys; sys.stdout.buffer.write(b'\xcd' * (1 << 20))" >"$IMG/blk.img"
if LOOP=$(losetup -f --show "$IMG/blk.img" 2>/dev/null); then
    check "a shut-off VM on a block device is defined" define_dom "$BLK" "$BLK_UUID" \
        "<disk type='block' device='disk'><driver name='qemu' type='raw'/><source dev='$LOOP'/><target dev='vda' bus='virtio'/></disk>"
else
    LOOP=
    echo "SKIP the block-device cases: no loop device here"
fi

# ---- the planted links ---------------------------------------------------------
ln -s "$CANARY" "$ROOT/tocanary"
mkdir -p "$ROOT/plant1" "$ROOT/plant2" "$ROOT/plant3"
ln -s "$CANARY/passwd" "$ROOT/plant1/vm1-vda.raw"
ln -s "$CANARY/passwd" "$ROOT/plant2/vm1-vda.raw.partial"
ln -s "$CANARY/passwd" "$ROOT/plant3/vm1-vda.qcow2.partial"

# ---- the scenario: case name -> job (and the point the vault returns for it) ----
export ROOT CANARY ORIG_UUID BLK_UUID ALT RUN
python3 - "$WORK/scenario.json" "$WORK/cases.txt" <<'EOF'
import json, os, sys, uuid
E = os.environ
ROOT, CANARY = E["ROOT"], E["CANARY"]
HOSTILE_XML = f"""<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>x</name><memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{CANARY}/passwd</kernel></os>
  <devices>
    <emulator>/tmp/evil-qemu</emulator>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/>
      <source file='{CANARY}/passwd'><seclabel model='dac' relabel='no'/></source>
      <target dev='vda' bus='virtio'/></disk>
    <filesystem type='mount' accessmode='passthrough'><source dir='/'/><target dir='hostroot'/></filesystem>
    <hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x00' slot='0x1f' function='0x7'/></source></hostdev>
    <serial type='file'><source path='{CANARY}/serial.log'/><target port='0'/></serial>
  </devices>
  <seclabel type='none' model='dac' relabel='no'/>
  <qemu:commandline><qemu:arg value='-drive'/><qemu:arg value='file={CANARY}/passwd'/></qemu:commandline>
</domain>"""
def point(disks=(("vda", 1 << 20),), xml=None):
    p = {"name": "rp-20261207-100000-000-0badc0de", "time": "2026-12-07T10:00:00Z",
         "consistency": "CrashConsistent", "parent": "", "vmName": "vm1",
         "disks": [{"name": n, "virtualSize": s} for n, s in disks]}
    if xml:
        p["domainXml"] = xml
    return p
SAVED_ORIG = f"""<domain type='qemu'><name>vm1</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{CANARY}/passwd'/>
<target dev='vda' bus='virtio'/></disk></devices></domain>"""
def disks_params(d, **kw):
    p = {"restoreMode": "RestoreDisks", "targetDirectory": d, "vmName": "vm1",
         "vmUuid": str(uuid.uuid4()), "format": "raw", "recoveryPoint": "rp-20261207-100000-000-0badc0de"}
    p.update(kw)
    return p
cases = [
    ("id-traversal", "../../escape", disks_params(ROOT + "/a"), point()),
    ("id-newline-xml", "a\n<job id='x'/>", disks_params(ROOT + "/a"), point()),
    ("vmname-slash", None, disks_params(ROOT + "/b", vmName="../../canary/x"), point()),
    ("vmname-newline", None, disks_params(ROOT + "/b", vmName="vm\nx"), point()),
    ("targetvmname-xml", None, disks_params(ROOT + "/b", restoreMode="AlternateLocation",
                                            targetVmName="<evil name='x'/>&"), point()),
    ("disks-param-dotdot", None, disks_params(ROOT + "/b", disks=["../vda"]), point()),
    ("point-disk-slash", None, disks_params(ROOT + "/b"), point((("../../canary/passwd", 1 << 20),))),
    ("point-disk-xml", None, disks_params(ROOT + "/b"), point((("vda'/><hostdev", 1 << 20),))),
    ("dir-outside", None, disks_params(CANARY), point()),
    ("dir-dotdot", None, disks_params(ROOT + "/../../canary"), point()),
    ("dir-symlink", None, disks_params(ROOT + "/tocanary"), point()),
    ("dir-symlink-parent", None, disks_params(ROOT + "/tocanary/sub"), point()),
    ("planted-final", None, disks_params(ROOT + "/plant1"), point()),
    ("planted-partial", None, disks_params(ROOT + "/plant2"), point()),
    ("planted-partial-qcow2", None, disks_params(ROOT + "/plant3", format="qcow2"), point()),
    ("orig-bad-uuid", None, {"restoreMode": "OriginalLocation", "vmName": "vm1", "vmUuid": "../../x"}, point()),
    ("orig-saved-path", None, {"restoreMode": "OriginalLocation", "vmName": "vm1",
                               "vmUuid": E["ORIG_UUID"]}, point(xml=SAVED_ORIG)),
    ("orig-missing-disk", None, {"restoreMode": "OriginalLocation", "vmName": "vm1",
                                 "vmUuid": E["ORIG_UUID"]}, point((("vdb", 1 << 20),), SAVED_ORIG)),
    ("alt-whitelist", None, disks_params(ROOT + "/alt", restoreMode="AlternateLocation",
                                         targetVmName=E["ALT"]), point(xml=HOSTILE_XML)),
    ("blk-too-small", None, {"restoreMode": "OriginalLocation", "vmName": "vm1",
                             "vmUuid": E["BLK_UUID"]}, point((("vda", 2 << 20),))),
    ("blk-in-place", None, {"restoreMode": "OriginalLocation", "vmName": "vm1",
                            "vmUuid": E["BLK_UUID"]}, point()),
]
# Backups of the shut-off VM, last (its disk is restored above): the commit's answer
# names the point; the operation, item and vmName carry lines meant to forge the log.
FORGE = "\nerror: forged by the vault"
def backup(name):
    return {"vmUuid": E["ORIG_UUID"], "vmName": "vm1" + FORGE, "lastRecoveryPoint": "",
            "scriptSettings": None}
commits = [
    ("backup-name-traversal", {"name": "../../canary/x"}),
    ("backup-name-newline", {"name": "rp-20261207-100000-000-0badc0de" + FORGE}),
    ("backup-name-missing", {}),
    ("backup-good", {"name": "rp-20261207-110000-000-600dc0de"}),
]
jobs = []
with open(sys.argv[2], "w") as f:
    for name, jid, params, pt in cases:
        jid = jid or str(uuid.uuid4())
        jobs.append({"job": {"id": jid, "operation": "Restore", "item": "vm1", "status": "InProgress",
                             "params": params}, "point": pt})
        f.write(f"{name} {json.dumps(jid)}\n")
    jid = str(uuid.uuid4())
    jobs.append({"job": {"id": jid, "operation": "Nope" + FORGE, "item": "vm1" + FORGE,
                         "status": "InProgress", "params": {}}})
    f.write(f"operation-forged {json.dumps(jid)}\n")
    for name, answer in commits:
        jid = str(uuid.uuid4())
        jobs.append({"job": {"id": jid, "operation": "Backup", "item": "vm1" + FORGE,
                             "status": "InProgress", "params": backup(name)}, "commit": answer})
        f.write(f"{name} {json.dumps(jid)}\n")
json.dump({"jobs": jobs}, open(sys.argv[1], "w"), indent=1)
EOF

# ---- the vault and the agent ---------------------------------------------------
python3 "$TOP/tests/tools/hostile_vault.py" "$WORK/scenario.json" "$WORK/vault.jsonl" "$WORK/port" &
HV_PID=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT=$(cat "$WORK/port" 2>/dev/null)
check "the hostile vault listens" test -n "$PORT"
cat >"$AG/agent.json" <<EOF
{"vaultUrl": "http://127.0.0.1:$PORT", "vaultName": "hv", "vaultId": "$(uuid)",
 "hostName": "hostile-$RUN", "region": "westeurope", "connect": "qemu:///system", "token": "vva_hostile"}
EOF
printf 'Restore.Roots=%s\nNetwork.RetrySeconds=0\n' "$ROOT" >"$AG/agent.conf"
chmod 600 "$AG/agent.json" "$AG/agent.conf"
agent_once() { timeout 300 "$VMVAULT_AGENT" run --once --state-dir "$AG" --threads 2 >"$WORK/agent.log" 2>&1; }
check "the agent runs every job and exits cleanly" agent_once || tail -n 20 "$WORK/agent.log"

# ending NAME: the body the agent sent to end case NAME's job ("" when none).
ending() {
    local id
    id=$(awk -v n="$1" '$1 == n { sub(/^[^ ]+ /, ""); print }' "$WORK/cases.txt")
    python3 -c '
import json, sys
want = json.loads(sys.argv[2])
for line in open(sys.argv[1]):
    e = json.loads(line)
    if "complete" in e and e["complete"] == want:
        print(json.dumps(e["body"]))
' "$WORK/vault.jsonl" "$id"
}
# refused NAME CODE: case NAME's job ended Failed with CODE.
refused() {
    local b
    b=$(ending "$1")
    python3 -c 'import json,sys; b=json.loads(sys.argv[1] or "{}"); sys.exit(0 if b.get("status") == "Failed" and b.get("error", {}).get("code") == sys.argv[2] else 1)' "$b" "$2" ||
        { echo "ended with: ${b:-nothing}"; return 1; }
}

check "a job id with '../' is not run (no ending sent, nothing created)" \
    sh -c "test -z '$(ending id-traversal)' && ! ls '$WORK' | grep -q escape && grep -q 'not a UUID' '$WORK/agent.log'"
check "a job id with a newline and XML is not run" test -z "$(ending id-newline-xml)"
check "a vmName with '/' and '..' is refused (InvalidJobParameters)" refused vmname-slash InvalidJobParameters
check "a vmName with a newline is refused (InvalidJobParameters)" refused vmname-newline InvalidJobParameters
check "a targetVmName with XML metacharacters is refused (InvalidJobParameters)" refused targetvmname-xml InvalidJobParameters
check "a disk list naming '../vda' is refused (InvalidJobParameters)" refused disks-param-dotdot InvalidJobParameters
check "the refusal names the field and shows the value without its newline" grep -q "vmName 'vm?x'" "$WORK/vault.jsonl"
check "a point whose disk name holds '/' is refused (InvalidRecoveryPoint)" refused point-disk-slash InvalidRecoveryPoint
check "a point whose disk name holds XML is refused (InvalidRecoveryPoint)" refused point-disk-xml InvalidRecoveryPoint
check "a target folder outside the roots is refused (TargetNotAllowed)" refused dir-outside TargetNotAllowed
check "a target folder with '..' is refused (TargetNotAllowed)" refused dir-dotdot TargetNotAllowed
check "a target folder that is a link out of the roots is refused (TargetNotAllowed)" refused dir-symlink TargetNotAllowed
check "a target folder under such a link is refused (TargetNotAllowed)" refused dir-symlink-parent TargetNotAllowed
check "nothing was created through the link" test ! -e "$CANARY/sub"
check "a link planted at the disk's file name is refused (TargetExists)" refused planted-final TargetExists
check "a link planted at the partial file is refused (TargetExists)" refused planted-partial TargetExists
check "the same for a qcow2 restore (TargetExists)" refused planted-partial-qcow2 TargetExists
check "the planted links are left as they were" sh -c "test -L '$ROOT/plant2/vm1-vda.raw.partial' && test -L '$ROOT/plant3/vm1-vda.qcow2.partial' && test -L '$ROOT/plant1/vm1-vda.raw'"
check "OriginalLocation with a vmUuid that is not a UUID is refused (InvalidJobParameters)" refused orig-bad-uuid InvalidJobParameters
check_b() { python3 -c 'import json,sys; b=json.loads(sys.argv[1] or "{}"); sys.exit(0 if eval(sys.argv[2]) else 1)' "$(ending "$1")" "$2" || { echo "ended with: $(ending "$1")"; return 1; }; }
check "OriginalLocation ignores the saved XML's disk path (/etc/passwd) and completes" check_b orig-saved-path 'b["status"] == "Completed"'
check "it wrote the disk of the VM's current definition" cmp -n $((1 << 20)) "$IMG/orig.raw" /dev/zero
check "and kept the old file aside" bash -c "cmp -s <(python3 -c \"import sys; sys.stdout.buffer.write(b'\\xab' * (1 << 20))\") $IMG/orig.raw.pre-restore-*"
check "a disk the current definition lacks is refused (DiskNotInDomain)" refused orig-missing-disk DiskNotInDomain
check "AlternateLocation completes with the dropped devices as a warning" check_b alt-whitelist \
    'b["status"] == "CompletedWithWarnings" and [w["code"] for w in b["warnings"]] == ["DomainDevicesDropped"] and all(x in b["warnings"][0]["message"] for x in ("devices/hostdev", "devices/filesystem", "qemu:commandline", "devices/emulator", "os/kernel", "seclabel"))'
virsh -c qemu:///system dumpxml --inactive "$ALT" >"$WORK/alt.xml" 2>&1
check "the restored domain is defined" grep -q "<name>$ALT</name>" "$WORK/alt.xml"
check "it has no host device, passthrough filesystem, qemu:commandline or serial file" \
    sh -c "! grep -Eq 'hostdev|<filesystem|commandline|serial type=.file|relabel=.no' '$WORK/alt.xml'"
check "its emulator is the host's default" sh -c "! grep -q evil-qemu '$WORK/alt.xml'"
check "its only disk source is the file the agent wrote" \
    sh -c "grep -c '<source file=' '$WORK/alt.xml' | grep -qx 1 && grep -q \"<source file='$ROOT/alt/$ALT-vda.raw'/>\" '$WORK/alt.xml' && ! grep -q '$CANARY' '$WORK/alt.xml'"
if [ -n "$LOOP" ]; then
    check "a block device smaller than the disk is refused (BlockDeviceTooSmall)" refused blk-too-small BlockDeviceTooSmall
    check "a block-device disk is written in place" check_b blk-in-place 'b["status"] == "Completed"'
    check "it is still the block device, holding the restored bytes" \
        sh -c "test -b '$LOOP' && cmp -n $((1 << 20)) '$LOOP' /dev/zero && cmp -n $((1 << 20)) '$IMG/blk.img' /dev/zero"
    check "no file was put next to it" sh -c "! ls /dev | grep -q 'vmvault-restore\|pre-restore'"
fi
# agent.conf's Restore.Roots takes absolute folders only
mkdir -m 700 "$WORK/ag2" && cp "$AG/agent.json" "$WORK/ag2/"
for bad in "relative/dir" "/var/lib/../../etc" "/a//b"; do
    printf 'Restore.Roots=/var/lib/libvirt/images %s\n' "$bad" >"$WORK/ag2/agent.conf"
    check_fails "Restore.Roots '$bad' is refused with its line" 1 "line 1: bad value for 'Restore.Roots'" \
        timeout 60 "$VMVAULT_AGENT" run --once --state-dir "$WORK/ag2"
done
# ---- a hostile vault's answers to backups, and lines meant to forge the log --------
check "an unknown operation ends UnsupportedOperation" refused operation-forged UnsupportedOperation
check "a committed point named '../../canary/x' fails the backup (InvalidRecoveryPoint)" \
    refused backup-name-traversal InvalidRecoveryPoint
check "a committed point name with a newline fails the backup (InvalidRecoveryPoint)" \
    refused backup-name-newline InvalidRecoveryPoint
check "a commit answer without a name fails the backup (InvalidRecoveryPoint)" \
    refused backup-name-missing InvalidRecoveryPoint
check "a good point name completes the backup (the control)" check_b backup-good \
    'b["status"] in ("Completed", "CompletedWithWarnings")'
check "only the good point name reached the chain file" \
    python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["point"] == "rp-20261207-110000-000-600dc0de" else 1)' \
    "$AG/chains/$ORIG_UUID.json"
check "no file was made from a hostile point name" sh -c "! find '$AG' '$CANARY' -name 'x' | grep ."
check "the operation, item and vmName were logged on their own line" \
    sh -c "grep -q 'Nope?error: forged by the vault of .vm1?error: forged' '$WORK/agent.log' && grep -q 'backup of vm1?error: forged' '$WORK/agent.log'"
check "no log line was forged by the vault" sh -c "! grep -q '^error: forged' '$WORK/agent.log'"
canary_state >"$WORK/canary.after"
check "nothing outside the restore roots changed (the canary folder)" cmp "$WORK/canary.before" "$WORK/canary.after"
check "nothing the roots do not allow was written under them" \
    sh -c "! find '$ROOT' -newer '$WORK/scenario.json' -type f | grep -v '^$ROOT/alt/$ALT-vda.raw\$' | grep ."
finish
