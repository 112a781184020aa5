#!/usr/bin/env bash
# A multi-GiB sparse image with mixed content is backed up, 1% of it changes, it is
# backed up incrementally, and both points restore byte for byte to what the image
# held at each backup, with holes kept as holes. Then verification, damage detection
# and the refusal of a wrong key.
. "$(dirname "$0")/lib.sh"
MK="python3 $TOP/tests/tools/mkimage.py"
cd "$WORK"
export VMVAULT_STORE=$WORK/store VMVAULT_KEY_FILE=$WORK/vault.key

$MK create img --size 3G --seed 7 --allocated-mb 400
cp --sparse=always img img.at-p1
check "keygen creates a 0600 key" "$VMVAULT" debug keygen --key-file vault.key
check "key file mode is 0600" test "$(stat -c %a vault.key)" = 600
check_fails "keygen refuses to overwrite a key" 1 "exists" "$VMVAULT" debug keygen --key-file vault.key

check "full backup" sh -c "'$VMVAULT' debug image-backup --image img --disk-name vda --output json > full.json"
P1=$(json_get full.json 'j["recoveryPoint"]')
check "full backup reads only allocated chunks" \
    test "$(json_get full.json 'j["chunks"]["read"] < j["virtualSize"] // j["chunkSize"] // 4')" = True
check "full backup skips zero chunks" test "$(json_get full.json 'j["chunks"]["zero"] > 0')" = True
check "full backup dedups repeated data" test "$(json_get full.json 'j["chunks"]["dedup"] > 0')" = True

$MK mutate img --percent 1 --seed 11 --extents-out changed.txt
check "incremental backup" sh -c "'$VMVAULT' debug image-backup --image img --disk-name vda \
    --parent $P1 --changed-extents changed.txt --output json > incr.json"
P2=$(json_get incr.json 'j["recoveryPoint"]')
check "incremental reads only the changed granules" \
    test "$(json_get incr.json 'j["chunks"]["read"] <= 400 and j["bytes"]["read"] <= 400 * 65536 and j["chunks"]["kept"] > 1000')" = True
check "incremental stores far less than the full" \
    test "$(json_get incr.json 'j["bytes"]["stored"] * 5 < '"$(json_get full.json 'j["bytes"]["stored"]')")" = True

check "restore of the full point" "$VMVAULT" debug image-restore --point "$P1" --target r1.img
check "full point restores byte-identical" cmp r1.img img.at-p1
check "restore of the incremental point" "$VMVAULT" debug image-restore --point "$P2" --target r2.img
check "incremental point restores byte-identical" cmp r2.img img
alloc_src=$(du -k img | cut -f1); alloc_r2=$(du -k r2.img | cut -f1)
check "restored image stays sparse" test "$alloc_r2" -le $((alloc_src + 1024))
check "list shows both points, oldest first" sh -c \
    "'$VMVAULT' debug list | awk 'NR==2{a=\$1} NR==3{b=\$1} END{exit !(a==\"$P1\" && b==\"$P2\")}'"

check "verify every point" "$VMVAULT" debug verify --all
check "verify every chunk" "$VMVAULT" debug verify --chunks

check_fails "restore refuses to overwrite a file" 1 "exists; add --force" \
    "$VMVAULT" debug image-restore --point "$P1" --target r1.img
check_fails "unknown point is a clear error" 1 "does not exist" \
    "$VMVAULT" debug image-restore --point rp-20200101-000000-000-00000000 --target x.img
check_fails "malformed point id is a usage error" 2 "not a recovery point id" \
    "$VMVAULT" debug image-restore --point ../../etc --target x.img

# A store opened with another key is refused before anything is read.
"$VMVAULT" debug keygen --key-file other.key >/dev/null
check_fails "wrong key is refused" 1 "sealed with vault key" \
    "$VMVAULT" debug list --key-file other.key

# Damage one chunk referenced by the incremental point only: verify names it and
# fails, the restore of that point fails cleanly, the full point still restores.
victim=$(python3 - "$P1" "$P2" <<'PY'
import os,sys
# the newest chunk files belong to the incremental
best=None
for root,_,files in os.walk("store/chunks"):
    for f in files:
        p=os.path.join(root,f); t=os.stat(p).st_mtime_ns
        if best is None or t>best[0]: best=(t,p)
print(best[1])
PY
)
python3 - "$victim" <<'PY'
import sys
p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=0x40; open(p,'wb').write(b)
PY
chunk=$(basename "$victim")
check_fails "verify names the damaged chunk" 3 "chunk $chunk is damaged: checksum mismatch" \
    "$VMVAULT" debug verify --all
check_fails "restore of a damaged point fails" 1 "restore of $P2 failed" \
    "$VMVAULT" debug image-restore --point "$P2" --target r3.img
check "a failed restore leaves no file behind" test ! -e r3.img -a ! -e r3.img.partial
check "the undamaged full point still restores" "$VMVAULT" debug image-restore --point "$P1" --target r4.img
check "full point still byte-identical" cmp r4.img img.at-p1
finish
