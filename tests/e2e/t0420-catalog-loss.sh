#!/usr/bin/env bash
# Losing the catalog loses nothing: the disaster-recovery runbook
# (docs/disaster-recovery.md) end to end. Two vaults, three protected VMs and five
# recovery points made by a host agent played over HTTP; an online catalog backup
# (by command and on the server's schedule); the vault key exported as Owner
# (audited; refused to a Contributor). Then the catalog is deleted: the server
# refuses to start and touches nothing; `vmvaultd catalog rebuild` (with v1's key
# brought back from its export after vault.key is deleted too) lists the vaults,
# items (stopped, data retained) and points again, and every point restores
# byte-identical. Then what a user does after the rebuild: the hosts register again
# (a Contributor allows their replacement) and every point is restored through the
# vault by a Restore job that the played agent runs over the agent routes, each disk
# compared byte for byte with what was backed up. An unknown folder and an unknown
# point are moved aside, not deleted. Finally the catalog backup is restored.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_server.sh"
cd "$WORK"
D=$WORK/data
CBK=$WORK/catalog-backups
PASS_OK='correct horse battery staple'
printf '%s\n' "$PASS_OK" > pass.txt
printf 'not the passphrase\n' > wrong.txt
check_fails "backup-catalog needs --to" 2 "give --to FILE" "$VMVAULTD" backup-catalog --data-dir "$D"
check_fails "--key belongs to catalog rebuild" 2 "catalog rebuild" "$VMVAULTD" --data-dir "$D" --key v1=x
check_fails "a backup period under a minute is refused" 2 "60 seconds" \
    "$VMVAULTD" --data-dir "$D" --catalog-backup-dir "$CBK" --catalog-backup-every 10
check_fails "backup-catalog without a catalog says where it looked" 1 "no catalog at" \
    "$VMVAULTD" backup-catalog --data-dir "$WORK/none" --to "$WORK/none.db"
# older scheduled backups, and a file of someone else's, in the backup folder
mkdir -p "$CBK"
for t in 20200101T000000Z 20200102T000000Z 20200103T000000Z; do echo old > "$CBK/catalog-$t.db"; done
echo mine > "$CBK/notes.txt"
srv_start "$D" --catalog-backup-dir "$CBK" --catalog-backup-keep 2 || finish
OLD_OWNER=$OWNER_TOKEN

U1=42000000-0000-4000-8000-000000000001
U2=42000000-0000-4000-8000-000000000002
U3=42000000-0000-4000-8000-000000000003
jobid() { "$@" 2>/dev/null | json_value '(j.get("job") or j)["id"]' 2>/dev/null; }

"$VMVAULT" vault create --name v1 --location westeurope >/dev/null 2>&1
"$VMVAULT" vault create --name v2 --location westeurope --backup-storage-redundancy LocallyRedundant \
    --soft-delete-duration 30 >/dev/null 2>&1
V1ID=$("$VMVAULT" vault show --name v1 2>/dev/null | json_value 'j["id"]')
V2ID=$("$VMVAULT" vault show --name v2 2>/dev/null | json_value 'j["id"]')
check "each store describes its vault (vault.json)" test "$(json_get "$D/vaults/$V2ID/store/vault.json" \
    'j["name"] == "v2" and j["vaultId"] == "'"$V2ID"'" and j["storageRedundancy"] == "LocallyRedundant" and j["softDelete"]["retentionDays"] == 30' 2>&1)" = True
"$VMVAULT" vault credentials --name v1 --file c1.json >/dev/null 2>&1
"$VMVAULT" vault credentials --name v2 --file c2.json >/dev/null 2>&1
run_vvapi --state h1.json agent register --creds c1.json --host host1 >/dev/null
run_vvapi --state h1.json agent inventory "web1:$U1" "db1:$U2" >/dev/null
run_vvapi --state h2.json agent register --creds c2.json --host host2 >/dev/null
run_vvapi --state h2.json agent inventory "app1:$U3" >/dev/null
for p in v1:web1 v1:db1 v2:app1; do
    "$VMVAULT" protection enable-for-vm --vault-name "${p%%:*}" --vm "${p#*:}" --policy-name DefaultPolicy >/dev/null 2>&1
done
# saved FILE COMMAND...: COMMAND's output, also kept in FILE; COMMAND's exit status
saved() { local out=$1 rc; shift; "$@" > "$out"; rc=$?; cat "$out"; return $rc; }
# backup VAULT ITEM STATE SEED: one backup now, run by the played agent; its summary
# (the recovery point it made) in bk-SEED.json
backup() {
    "$VMVAULT" protection backup-now --vault-name "$1" --item-name "$2" >/dev/null 2>&1
    check_out "backup of $2 ($4) completes" 'j["status"] == "Completed"' \
        saved "bk-$4.json" run_vvapi --state "$3" agent backup --next --seed "$4" --chunks 9
}
backup v1 web1 h1.json a
backup v1 web1 h1.json b
backup v1 db1 h1.json c
backup v2 app1 h2.json d
backup v2 app1 h2.json e

# every point: "vault item point", and its disk's SHA-256 restored from the store
list_points() {
    local p
    for p in v1:web1 v1:db1 v2:app1; do
        "$VMVAULT" recoverypoint list --vault-name "${p%%:*}" --item-name "${p#*:}" 2>/dev/null |
            json_value '"\n".join(sorted(x["name"] for x in L))' | sed "s/^/${p%%:*} ${p#*:} /"
    done
}
restore_sums() {
    local v item rp vid
    while read -r v item rp; do
        vid=$V1ID; [ "$v" = v2 ] && vid=$V2ID
        rm -f r.img
        "$VMVAULT" debug image-restore --store "$D/vaults/$vid/store" --key-file "$D/vaults/$vid/vault.key" \
            --point "$rp" --target r.img >/dev/null 2>&1 || echo "restore of $rp failed"
        echo "$rp $(sha256sum < r.img | cut -c1-64)"
    done
}
list_points > points-before.txt
check "five points before the loss" test "$(wc -l < points-before.txt)" = 5
restore_sums < points-before.txt > sums-before.txt
check "every point restores before the loss" sh -c "! grep -q failed sums-before.txt"

# ---- (d) catalog backups while the server runs ------------------------------------
check "backup-catalog copies the live catalog" "$VMVAULTD" backup-catalog --data-dir "$D" --to "$WORK/manual.db"
check "the copy lists both vaults" test "$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select group_concat(name) from (select name from vaults order by name)").fetchone()[0])' "$WORK/manual.db" 2>&1)" = "v1,v2"
check_fails "backup-catalog never replaces a file" 1 "already exists" "$VMVAULTD" backup-catalog --data-dir "$D" --to "$WORK/manual.db"
new_backup() { ls "$CBK"/catalog-*.db 2>/dev/null | grep -v 'catalog-2020'; }
for _ in $(seq 1 50); do [ -n "$(new_backup)" ] && break; sleep 0.2; done
check "the server backs its catalog up on its schedule" test -n "$(new_backup)"
check "it keeps the newest 2 of its backups and nothing else is touched" sh -c \
    "test \$(ls '$CBK'/catalog-*.db | wc -l) = 2 && test -e '$CBK/catalog-20200103T000000Z.db' && test -e '$CBK/notes.txt'"

# ---- (e) key export: Owner only, audited ------------------------------------------
check "an Owner exports v1's key wrapped with a passphrase" \
    "$VMVAULT" vault key export --name v1 --file k1.json --passphrase-file pass.txt
check "the export is mode 0600" test "$(stat -c %a k1.json 2>&1)" = 600
check "the export holds no plain key" sh -c "! grep -q \"\$(tail -n 1 '$D/vaults/$V1ID/vault.key')\" k1.json"
check "the export says how it is wrapped" test "$(json_get k1.json \
    'j["format"] == "vmvault-wrapped-key-v1" and j["vaultId"] == "'"$V1ID"'" and j["kdf"]["name"] == "pbkdf2-hmac-sha256" and j["kdf"]["iterations"] >= 600000 and j["key"]["cipher"] == "aes-256-gcm"' 2>&1)" = True
check_api "the export is audited" 200 "" GET /api/v1/audit
check_json "ExportVaultKey by owner" 'any(a["action"] == "ExportVaultKey" and a["target"] == "v1" and a["actor"] == "owner" for a in (j["value"] if isinstance(j, dict) else j))'
check_api "a short passphrase is refused" 400 InvalidParameter POST /api/v1/vaults/v1/key/export '{"passphrase": "short"}'
"$VMVAULT" user create --name contrib --role Contributor >/dev/null 2>&1
CT=$("$VMVAULT" token create --user contrib 2>/dev/null | json_value 'j["token"]')
API_TOKEN=$CT check_api "a Contributor cannot export a vault key" 403 AuthorizationFailed \
    POST /api/v1/vaults/v1/key/export "{\"passphrase\": \"$PASS_OK\"}"
srv_stop

# ---- (a) the catalog is lost: refuse to start, touch nothing ----------------------
snapshot() { (cd "$D/vaults" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
snapshot > files-before.txt
rm -f "$D"/catalog.db "$D"/catalog.db-wal "$D"/catalog.db-shm
timeout 60 "$VMVAULTD" --data-dir "$D" --listen 127.0.0.1:0 > refuse.log 2>&1; rc=$?
check "a server without its catalog refuses to start" test "$rc" = 1
check "the refusal names the way out" grep -q "vmvaultd catalog rebuild" refuse.log
check "the refusal names the catalog backup" grep -q "backup-catalog" refuse.log
check "nothing under vaults/ was removed or changed" cmp -s files-before.txt <(snapshot)
check "no catalog was created" test ! -e "$D/catalog.db"

# ---- (b) rebuild, with v1's key lost too -------------------------------------------
mv "$D/vaults/$V1ID/vault.key" lost-v1.key
"$VMVAULTD" catalog rebuild --data-dir "$D" > rb1.json 2> rb1.err; rc=$?
check "without v1's key the rebuild is partial (exit 3)" test "$rc" = 3
check "and says which key is missing and how to bring it back" test "$(json_get rb1.json \
    'j["status"] == "partial" and j["vaults"] == 1 and any(p["problem"] == "KeyMissing" and "--key" in p["detail"] for p in j["problems"])' 2>&1)" = True
"$VMVAULTD" catalog rebuild --data-dir "$D" > rb2.json 2> rb2.err; rc=$?
check "a rebuild over a catalog that is not empty is refused" test "$rc" = 1
check "the refusal names --force" grep -q -- "--force" rb2.err
"$VMVAULTD" catalog rebuild --data-dir "$D" --force --key "v1=$WORK/k1.json" --passphrase-file wrong.txt > rb3.json 2>&1; rc=$?
check "a wrong passphrase is refused" sh -c "test $rc = 3 && grep -q 'wrong passphrase' rb3.json"
check "and writes no key" test ! -e "$D/vaults/$V1ID/vault.key"
VMVAULTD_KEY_PASSPHRASE=$PASS_OK "$VMVAULTD" catalog rebuild --data-dir "$D" --force \
    --key "v1=$WORK/k1.json" > rb4.json 2> rb4.err; rc=$?
cat rb4.err >> rebuild.log
check "the rebuild with the key export succeeds" test "$rc" = 0
check "it reports what it found and what it cannot rebuild" test "$(json_get rb4.json \
    'j["status"] == "rebuilt" and j["vaults"] == 2 and j["hosts"] == 2 and j["protectedItems"] == 3 and j["recoveryPoints"] == 5 and j["problems"] == [] and "users" in j["notRebuilt"] and bool(j["catalogMovedAside"])' 2>&1)" = True
check "the old catalog was moved aside, not deleted" sh -c "ls '$D'/catalog.db.before-rebuild-* >/dev/null"
check "v1's key is back, the same key" cmp -s lost-v1.key "$D/vaults/$V1ID/vault.key"
VMVAULTD_KEY_PASSPHRASE=$PASS_OK "$VMVAULTD" catalog rebuild --data-dir "$D" --force > rb5.json 2>> rebuild.log
check "a second rebuild finds the same" test "$(json_get rb5.json \
    '(j["vaults"], j["protectedItems"], j["recoveryPoints"], j["problems"]) == (2, 3, 5, [])' 2>&1)" = True
check "nothing under vaults/ changed in the rebuild" cmp -s files-before.txt <(snapshot)
srv_start "$D" || finish
check_out "the vaults are back, as they were" \
    '{v["name"]: (v["id"], v["location"], v["storageRedundancy"], v["softDelete"]["retentionDays"]) for v in L} == {"v1": ("'"$V1ID"'", "westeurope", "GeoRedundant", 14), "v2": ("'"$V2ID"'", "westeurope", "LocallyRedundant", 30)}' \
    "$VMVAULT" vault list
check_out "the items are back: protection stopped, data retained" \
    'sorted((i["name"], i["protectionState"]) for i in L) == [("db1", "ProtectionStopped"), ("web1", "ProtectionStopped")]' \
    "$VMVAULT" item list --vault-name v1
check_out "under their hosts" 'sorted(c["name"] for c in L) == ["host1"]' "$VMVAULT" container list --vault-name v1
list_points > points-after.txt
check "every point is listed again" cmp -s points-before.txt points-after.txt
restore_sums < points-after.txt > sums-after.txt
check "every point restores byte-identical" cmp -s sums-before.txt sums-after.txt
check "nothing under vaults/ changed at start" cmp -s files-before.txt <(snapshot)

# ---- (b2) after the rebuild, restores as a user runs them --------------------------
# Users and host registrations are not rebuilt: a Contributor and an Operator again;
# each host registers again with new vault credentials, after a Contributor allowed
# its replacement (the rebuilt catalog lists its name). Then every point of every
# vault is restored through the vault: an Operator asks, the host's played agent
# claims the Restore job, reads the point, its index and its chunks over the agent
# routes (?job=, only that point's chunks) and writes the disk; the disk must be the
# bytes the backup sent (vvapi.py image, from the backup's seed) and hash as the point
# did before the loss.
"$VMVAULT" user create --name contrib --role Contributor >/dev/null 2>&1
"$VMVAULT" user create --name oper --role Operator >/dev/null 2>&1
CT=$("$VMVAULT" token create --user contrib 2>/dev/null | json_value 'j["token"]')
OT=$("$VMVAULT" token create --user oper 2>/dev/null | json_value 'j["token"]')
for hv in host1:v1 host2:v2; do
    h=${hv%%:*} v=${hv#*:}
    cli_as "$CT" vault credentials --name "$v" --file "c-$h-new.json" >/dev/null 2>&1
    check_refused "$h cannot register again before its replacement is allowed" 1 ContainerAlreadyRegistered "" \
        run_vvapi --state "$h-new.json" agent register --creds "c-$h-new.json" --host "$h"
    check_out "a Contributor allows $h's replacement" 'j["container"] == "'"$h"'" and j["vault"] == "'"$v"'"' \
        cli_as "$CT" container allow-replacement --vault-name "$v" --name "$h"
    check_out "$h registers again with new vault credentials" \
        'j["container"]["name"] == "'"$h"'" and j["vault"]["name"] == "'"$v"'" and j["token"].startswith("vva_")' \
        run_vvapi --state "$h-new.json" agent register --creds "c-$h-new.json" --host "$h"
done
# every point the API lists, walking every vault and item: "vault item point"
all_points() {
    local v i
    for v in $("$VMVAULT" vault list 2>/dev/null | json_value '" ".join(x["name"] for x in L)'); do
        for i in $("$VMVAULT" item list --vault-name "$v" 2>/dev/null | json_value '" ".join(x["name"] for x in L)'); do
            "$VMVAULT" recoverypoint list --vault-name "$v" --item-name "$i" 2>/dev/null |
                json_value '"\n".join(x["name"] for x in L)' | sed "s/^/$v $i /"
        done
    done | sort
}
all_points > points-api.txt
check "the API lists the five points in its vaults" cmp -s <(sort points-after.txt) points-api.txt
for s in a b c d e; do echo "$(json_get "bk-$s.json" 'j["recoveryPoint"]["name"]') $s"; done > seeds.txt
# restored_through_vault VAULT ITEM POINT: status 0 when an Operator's restore of
# POINT, run by the played agent of the item's host, gives the disk that was backed
# up; else why not
restored_through_vault() {
    local v=$1 item=$2 rp=$3 h=host1 seed rj want
    [ "$v" = v2 ] && h=host2
    seed=$(awk -v p="$rp" '$1 == p {print $2}' seeds.txt)
    [ -n "$seed" ] || { echo "no backup of this suite made $rp"; return 1; }
    $VVAPI image --seed "$seed" --item "$item" --chunks 9 --out "exp-$rp.img" >/dev/null || return 1
    cli_as "$OT" restore restore-disks --vault-name "$v" --item-name "$item" --rp-name "$rp" \
        --target-dir /var/tmp/vv-t0420 --format raw > "rjob-$rp.json" 2>&1
    rj=$(json_get "rjob-$rp.json" 'j["id"]' 2>/dev/null)
    [ -n "$rj" ] || { echo "the Operator's restore was refused: $(one_line < "rjob-$rp.json")"; return 1; }
    run_vvapi --state "$h-new.json" agent restore --next --out "restored/$rp" > "rs-$rp.json" 2>&1 ||
        { echo "the played agent's restore failed: $(one_line < "rs-$rp.json")"; return 1; }
    [ "$(json_get "rs-$rp.json" 'j["job"] == "'"$rj"'" and j["status"] == "Completed" and j["recoveryPoint"] == "'"$rp"'" and [d["name"] for d in j["disks"]] == ["vda"]' 2>&1)" = True ] ||
        { echo "the agent ran another job or point: $(one_line < "rs-$rp.json")"; return 1; }
    cmp "exp-$rp.img" "restored/$rp/$item-vda.raw" || return 1
    want=$(awk -v p="$rp" '$1 == p {print $2}' sums-before.txt)
    [ "$(sha256sum < "restored/$rp/$item-vda.raw" | cut -c1-64)" = "$want" ] ||
        { echo "the disk does not hash as the point did before the loss ($want)"; return 1; }
    API_TOKEN=$OT api GET "/api/v1/vaults/$v/jobs/$rj"
    [ "$(api_field 'j["operation"] == "Restore" and j["status"] == "Completed" and j["createdBy"] == "oper"')" = True ] ||
        { echo "the vault's job did not end Completed: $(api_show)"; return 1; }
}
while read -r v item rp <&3; do
    seed=$(awk -v p="$rp" '$1 == p {print $2}' seeds.txt)
    check "backup '$seed' of $item in vault $v restores byte-identical through the vault after the rebuild" \
        restored_through_vault "$v" "$item" "$rp"
done 3< points-api.txt

# ---- (c) what the catalog does not know is moved aside, not deleted ---------------
srv_stop
mkdir -p "$D/vaults/planted"; echo "someone's data" > "$D/vaults/planted/file"
RP1=$(awk 'NR==1 {print $3}' points-before.txt)
UNKNOWN=rp-20200101-000000-000-0000beef
cp -a "$D/vaults/$V1ID/store/points/$RP1" "$D/vaults/$V1ID/store/points/$UNKNOWN"
HALF=rp-20200101-000000-000-0000aaaa
mkdir -p "$D/vaults/$V1ID/store/points/$HALF"
cp "$D/vaults/$V1ID/store/points/$RP1/vda.index" "$D/vaults/$V1ID/store/points/$HALF/"
# a prune or delete cut short: the catalog deleted the point's row, the store still has it
GONE=rp-20200101-000000-000-0000dead
cp -a "$D/vaults/$V1ID/store/points/$RP1" "$D/vaults/$V1ID/store/points/$GONE"
sqlite3 "$D/catalog.db" "CREATE TEMP TABLE t AS SELECT * FROM recovery_points WHERE name = '$RP1';
  UPDATE t SET id = NULL, name = '$GONE'; INSERT INTO recovery_points SELECT * FROM t;
  DELETE FROM recovery_points WHERE name = '$GONE';"
srv_start "$D" || finish
check "the unknown folder left vaults/" test ! -e "$D/vaults/planted"
check "it is in the quarantine, whole" sh -c "grep -q \"someone's data\" '$D'/quarantine/*/vaults/planted/file"
check "the unknown point left the store" test ! -e "$D/vaults/$V1ID/store/points/$UNKNOWN"
check "it is in the quarantine, whole" sh -c "cmp -s '$D'/quarantine/*/$V1ID/points/$UNKNOWN/manifest '$D/vaults/$V1ID/store/points/$RP1/manifest'"
check "both moves are reported with the way back" sh -c "grep -q 'moved .*planted aside' '$SRV_LOG' && grep -q 'moved .*$UNKNOWN aside' '$SRV_LOG' && grep -q 'To bring it back' '$SRV_LOG'"
check "a commit cut short before its manifest is removed" test ! -e "$D/vaults/$V1ID/store/points/$HALF"
check "a removal the catalog recorded and the store missed is finished, not moved aside" \
    sh -c "test ! -e '$D/vaults/$V1ID/store/points/$GONE' && ! ls '$D'/quarantine/*/$V1ID/points/$GONE >/dev/null 2>&1 && grep -q 'finishing the removal of point $GONE' '$SRV_LOG'"
list_points > points-after2.txt
check "the known points are all still there" cmp -s points-before.txt points-after2.txt

# ---- (d) restore the catalog backup ----------------------------------------------
srv_stop
rm -f "$D"/catalog.db "$D"/catalog.db-wal "$D"/catalog.db-shm
cp "$WORK/manual.db" "$D/catalog.db"
srv_start "$D" || finish
export VMVAULT_TOKEN=$OLD_OWNER OWNER_TOKEN=$OLD_OWNER
check_api "the restored catalog has the users and tokens of before" 200 "" GET /api/v1/whoami
check_out "and the items as they were (protected)" \
    'sorted((i["name"], i["protectionState"]) for i in L) == [("db1", "Protected"), ("web1", "Protected")]' \
    "$VMVAULT" item list --vault-name v1
list_points > points-after3.txt
check "and every point" cmp -s points-before.txt points-after3.txt
finish
