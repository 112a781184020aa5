#!/usr/bin/env bash
# A backup killed (SIGKILL) at any moment leaves the store consistent: no recovery
# point appears, every chunk that exists verifies, and the next backup completes and
# restores byte for byte.
. "$(dirname "$0")/lib.sh"
cd "$WORK"
export VMVAULT_STORE=$WORK/store VMVAULT_KEY_FILE=$WORK/vault.key
python3 "$TOP/tests/tools/mkimage.py" create img --size 1G --seed 3 --allocated-mb 300
"$VMVAULT" debug keygen --key-file vault.key >/dev/null

for delay in 0.05 0.2 0.4 0.7 1.0; do
    "$VMVAULT" debug image-backup --image img --threads 1 >/dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    if [ ! -e store ]; then
        # killed before the store folder existed: nothing was created
        check_fails "a backup killed at ${delay}s before creating the store left none" 1 \
            "cannot open store" "$VMVAULT" debug list
        continue
    fi
    if [ ! -e store/config ]; then
        # killed while the store itself was being created
        check_fails "a store whose creation was killed at ${delay}s says so" 1 \
            "store creation was interrupted" "$VMVAULT" debug list
        continue
    fi
    n=$("$VMVAULT" debug list --output json 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo 0)
    if [ "$n" != 0 ]; then
        # the backup finished before the kill: the point must be whole
        check "a point that exists after kill at ${delay}s verifies" "$VMVAULT" debug verify --all
        "$VMVAULT" debug list --output json | python3 -c 'import json,sys; [print(p["id"]) for p in json.load(sys.stdin)]' |
            while read -r p; do "$VMVAULT" debug delete --point "$p" >/dev/null; done
    else
        pass "no recovery point after kill at ${delay}s"
    fi
    check "every stored chunk verifies after kill at ${delay}s" "$VMVAULT" debug verify --chunks
done

check "a backup after the kills completes" sh -c "'$VMVAULT' debug image-backup --image img --output json > b.json"
P=$(json_get b.json 'j["recoveryPoint"]')
check "chunks left by killed backups are reused" test "$(json_get b.json 'j["chunks"]["dedup"] > 0')" = True
check "it restores" "$VMVAULT" debug image-restore --point "$P" --target r.img
check "byte-identical" cmp r.img img
finish
