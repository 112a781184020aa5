#!/usr/bin/env bash
# Block devices as source and target: a loop device is backed up (every byte is
# "allocated"; zero chunks are still never stored) and restored onto another loop
# device that held other data, whose zero ranges must be zeroed.
. "$(dirname "$0")/lib.sh"
cd "$WORK"
export VMVAULT_STORE=$WORK/store VMVAULT_KEY_FILE=$WORK/vault.key
if ! losetup -f >/dev/null 2>&1; then
    echo "SKIP loop devices are not available here: $(losetup -f 2>&1)"
    finish
fi
python3 "$TOP/tests/tools/mkimage.py" create img --size 96M --seed 9 --allocated-mb 40
"$VMVAULT" debug keygen --key-file vault.key >/dev/null
src=$(losetup -f --show -r img)
# the target starts full of 0xff: zero and hole ranges must come out as zeros
python3 -c "import sys; f=open('tgt','wb'); [f.write(b'\xff'*(1<<20)) for _ in range(100)]"
tgt=$(losetup -f --show tgt)
trap 'losetup -d "$src" "$tgt" 2>/dev/null; rm -rf "$WORK"' EXIT

check "backup from a block device" sh -c "'$VMVAULT' debug image-backup --image $src --output json > b.json"
P=$(json_get b.json 'j["recoveryPoint"]')
check "zero chunks of a device are not stored" \
    test "$(json_get b.json 'j["chunks"]["zero"] > j["chunks"]["new"]')" = True
check "restore onto a block device" "$VMVAULT" debug image-restore --point "$P" --target "$tgt"
check "device holds the image's bytes" cmp -n $((96 << 20)) "$tgt" img
check_fails "a device smaller than the disk is refused" 1 "smaller than the disk" \
    sh -c "truncate -s 8M small && d=\$(losetup -f --show small) && '$VMVAULT' debug image-restore --point $P --target \$d; rc=\$?; losetup -d \$d; exit \$rc"
finish
