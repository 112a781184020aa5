#!/usr/bin/env bash
# The web dashboard, end to end: vmvaultd serves it from the binary with its security
# headers and ETags; then Debian's headless chromium (tests/browser/*.mjs, through
# playwright-core) signs in, creates a vault, protects a real libvirt domain that a
# real agent reports under a new policy, runs Backup now with a chosen retain-until
# date while its progress bar moves, sees the recovery point and its consistency,
# restores its disks (checked here byte for byte), and, as a Reader, finds the
# buttons that act disabled and the server refusing. The server is not paired: the
# replication card says NotConfigured (GeoRedundant) or NotReplicated
# (LocallyRedundant) with the API's reason and lag, and the Pairing view says so.
# Then a second vmvaultd on loopback (region northeurope, TLS with its own key) is
# paired as its secondary: the GeoRedundant vault's card says Healthy with no lag and
# its Replication job is listed; on the secondary the replica vault is marked, its
# changing buttons are disabled, the server refuses a backup of it, and a host of the
# secondary's region restores from it (checked byte for byte). With the
# secondary stopped and a new point waiting, the card and the alerts say why.
# Screenshots of every step are kept in $WORK/shots and copied to
# /tmp/vv-dashboard-shots/.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_server.sh"
. "$(dirname "$0")/lib_virt.sh"
. "$(dirname "$0")/lib_agent.sh"
cd "$WORK"
BROWSER_DIR=$TOP/tests/browser
SHOTS=$WORK/shots
FINAL_SHOTS=/tmp/vv-dashboard-shots
for need in /usr/bin/chromium "$BROWSER_DIR/node_modules/playwright-core/package.json"; do
    if [ ! -e "$need" ]; then
        fail "the browser test's tools are installed" "$need is missing: run scripts/install-deps.sh"
        finish
    fi
done
command -v node >/dev/null || { fail "node is installed" "run scripts/install-deps.sh"; finish; }

virt_up
srv_start "$WORK/data" --region westeurope || finish

# ---- the files, as served -------------------------------------------------------
hdr() { curl -sS -D - -o "$WORK/.body" "$@" | tr -d '\r'; }
H=$(hdr "$SRV_URL/")
check "/ is the dashboard's HTML" sh -c "printf '%s' \"\$1\" | grep -q '^HTTP/1.1 200' && printf '%s' \"\$1\" | grep -qi '^content-type: text/html; charset=utf-8' && grep -q '<script src=\"/app.js\"' '$WORK/.body'" _ "$H"
check "its Content-Security-Policy allows only the server itself" sh -c "printf '%s' \"\$1\" | grep -qi \"^content-security-policy: default-src 'none'; script-src 'self'; style-src 'self';.*connect-src 'self'\"" _ "$H"
ETAG=$(printf '%s' "$H" | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
check "it has an ETag and is revalidated (no-cache)" sh -c "[ -n '$ETAG' ] && printf '%s' \"\$1\" | grep -qi '^cache-control: no-cache'" _ "$H"
check "a matching If-None-Match gets 304" sh -c "curl -sS -o /dev/null -w '%{http_code}' -H 'If-None-Match: $ETAG' '$SRV_URL/' | grep -qx 304"
check "app.js is JavaScript, app.css CSS" sh -c "
    curl -sSI '$SRV_URL/app.js' | grep -qi '^content-type: text/javascript' &&
    curl -sSI '$SRV_URL/app.css' | grep -qi '^content-type: text/css'"
check "the served script is the one in the tree" sh -c "curl -sS '$SRV_URL/app.js' | cmp - '$TOP/server/web/app.js'"
check "no file of the page names another host" sh -c "! grep -Eq '(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/' '$TOP'/server/web/*"
check "an unknown file is 404, a POST 405, and the API still answers" sh -c "
    [ \"\$(curl -sS -o /dev/null -w '%{http_code}' '$SRV_URL/nope.js')\" = 404 ] &&
    [ \"\$(curl -sS -o /dev/null -w '%{http_code}' -X POST '$SRV_URL/')\" = 405 ] &&
    [ \"\$(curl -sS -o /dev/null -w '%{http_code}' '$SRV_URL/api/v1/health')\" = 200 ] &&
    [ \"\$(curl -sS -o /dev/null -w '%{http_code}' '$SRV_URL/api/v1/nope')\" = 404 ]"

# browser NAME SCRIPT [VAR=VALUE...]: one playwright script; its PASS/FAIL lines are ours.
browser() {
    local name=$1 script=$2 out rc; shift 2
    out=$(env VV_URL="$SRV_URL" VV_SHOTS="$SHOTS" "$@" timeout 300 node "$BROWSER_DIR/$script" 2>&1); rc=$?
    printf '%s\n' "$out" | grep -E '^(PASS|FAIL) '
    if [ "$rc" != 0 ]; then
        T_FAILED=1
        printf '%s\n' "$out" | grep -qE '^FAIL ' ||
            echo "FAIL $name: node exited $rc: $(printf '%s' "$out" | tail -n 5 | tr '\n' ' ')"
    fi
}
copy_shots() { mkdir -p "$FINAL_SHOTS" && rm -f "$FINAL_SHOTS"/*.png && cp "$SHOTS"/*.png "$FINAL_SHOTS"/; }

# ---- sign in, create the vault ------------------------------------------------------
browser "sign in and create a vault" t-vault.mjs VV_TOKEN="$OWNER_TOKEN" VV_VAULT=v1
check_out "the vault the page created exists" 'j["location"] == "westeurope"' "$VMVAULT" vault show --name v1
browser "the replication card and pairing of an unpaired server" t-replication.mjs VV_TOKEN="$OWNER_TOKEN" \
    VV_VAULT=v1 VV_LRS_VAULT=v2
check_out "the LocallyRedundant vault the page created exists, not a replica" 'j["storageRedundancy"] == "LocallyRedundant" and not j.get("replicaOf")' \
    "$VMVAULT" vault show --name v2

# ---- a host with a domain; a second host in another region -------------------------
"$VMVAULT" vault credentials --name v1 --file creds.json >/dev/null 2>&1
check "host1 registers" "$VMVAULT_AGENT" register --vault-credentials creds.json --host-name host1 --state-dir "$AG"
# the page restores under $WORK: the host allows it as a restore root
printf 'Restore.Roots=%s\n' "$WORK" >"$AG/agent.conf" && chmod 600 "$AG/agent.conf"
# mkimage puts about 32 MiB of data on the disk, about 16 MiB once compressed: at
# 1.5 MiB/s the transfer lasts about ten seconds, long enough to watch the progress
# bar move. One worker: the agent reads a batch (8 MiB) ahead of what it sends, so
# progress moves in four steps of about two and a half seconds each.
virt_domain web --running --disk vda:qcow2:160M:41:64
VM=$VIRT_DOM
"$VMVAULT_AGENT" run --state-dir "$AG" --threads 1 --max-upload-rate 1536K >>"$WORK/agent.log" 2>&1 &
APID=$!
BG_PIDS+=("$APID")
check "host2 registers in another region and reports once" sh -c "
    '$VMVAULT_AGENT' register --vault-credentials creds.json --host-name host2 --region northeurope \
        --state-dir '$WORK/agent2' && '$VMVAULT_AGENT' run --once --state-dir '$WORK/agent2'" 
reported() {
    for _ in $(seq 1 100); do
        [ "$("$VMVAULT" protectable-item list --vault-name v1 2>/dev/null |
            json_value "len([x for x in L if x['name'] == '$VM'])")" = 2 ] && return 0
        sleep 0.2
    done
    return 1
}
check "both hosts report the domain" reported

# ---- + Backup, Backup now, progress, points, restore ---------------------------------
RESTORE=$WORK/restore
mkdir -p "$RESTORE" && chmod 755 "$RESTORE"
browser "configure, back up and restore" t-backup.mjs VV_TOKEN="$OWNER_TOKEN" VV_VAULT=v1 VV_VM="$VM" \
    VV_OTHER_HOST=host2 VV_RESTORE_DIR="$RESTORE"
P=$("$VMVAULT" item show --vault-name v1 --name "$VM" 2>/dev/null | json_value 'j["latestRecoveryPoint"]')
check "the disk restored from the page equals the domain's disk at its backup" sh -c "
    f=\$(ls '$RESTORE'/*vda* 2>/dev/null | head -n 1) && [ -n \"\$f\" ] &&
    qemu-img compare -q \"\$f\" '$(virt_expected web vda)'"
check "the page's backup point is the item's latest" test -n "$P"

# ---- a Reader ----------------------------------------------------------------------
"$VMVAULT" user create --name reader --role Reader >/dev/null 2>&1
RTOKEN=$("$VMVAULT" token create --user reader --name browser 2>/dev/null | json_value 'j["token"]')
check "a Reader token is made" test -n "$RTOKEN"
browser "a Reader's dashboard" t-reader.mjs VV_TOKEN="$RTOKEN" VV_VAULT=v1 VV_VM="$VM"
backups() { "$VMVAULT" job list --vault-name v1 --operation Backup 2>/dev/null | json_value 'len(L)'; }
check "the Reader's refused backup left no job" test "$(backups)" = 1

kill -TERM "$APID" 2>/dev/null; wait "$APID"; rc=$?
if [ "$rc" = 0 ]; then pass "the agent stops cleanly on SIGTERM"
else fail "the agent stops cleanly on SIGTERM" "exit status $rc; $(tail -n 3 "$WORK/agent.log")"; fi

# ---- a paired secondary ---------------------------------------------------------------
# srv_start keeps one server in its variables: the primary's are kept aside meanwhile.
P_URL=$SRV_URL P_PID=$SRV_PID P_DATA=$SRV_DATA P_LOG=$SRV_LOG P_OWNER=$OWNER_TOKEN P_ARGS=("${SRV_ARGS[@]}")
srv_start "$WORK/sec" --region northeurope --tls auto || finish
SEC_URL=$SRV_URL SEC_PID=$SRV_PID SEC_OWNER=$OWNER_TOKEN
SEC_PIN=$(grep -o 'public-key pin sha256//[A-Za-z0-9+/=]*' "$SRV_LOG" | tail -n 1 | cut -d' ' -f3)
SRV_URL=$P_URL SRV_PID=$P_PID SRV_DATA=$P_DATA SRV_LOG=$P_LOG OWNER_TOKEN=$P_OWNER SRV_ARGS=("${P_ARGS[@]}")
export VMVAULT_URL=$SRV_URL VMVAULT_TOKEN=$OWNER_TOKEN
check "the secondary invites" env VMVAULT_URL="$SEC_URL" VMVAULT_TOKEN="$SEC_OWNER" \
    VMVAULT_CERTIFICATE_PIN="$SEC_PIN" "$VMVAULT" pairing invite --out "$WORK/invitation.json"
check "the primary pairs with the invitation" "$VMVAULT" pairing create --invitation "$WORK/invitation.json"
replicated() {
    for _ in $(seq 1 150); do
        api GET /api/v1/vaults/v1/backupProperties
        [ "$(api_field 'bool((lambda r: r["state"] == "Healthy" and r["pendingPoints"] == 0 and r["lastReplicatedTime"])(j["replication"]))')" = True ] && return 0
        sleep 0.2
    done
    echo "v1's replication: $(api_field 'j.get("replication")')"
    return 1
}
check "v1 replicates to the secondary within 30 s" replicated
browser "the primary's replication card, job and pairing" t-paired.mjs VV_TOKEN="$OWNER_TOKEN" VV_VAULT=v1 \
    VV_REGION=northeurope
# a host of the secondary's region registers with the replica vault, to restore there
SAG=$WORK/agent-sec RESTORE2=$WORK/restore-sec
mkdir -p "$RESTORE2" && chmod 755 "$RESTORE2"
check "host3 registers with the replica vault on the secondary" sh -c "
    VMVAULT_URL='$SEC_URL' VMVAULT_TOKEN='$SEC_OWNER' VMVAULT_CERTIFICATE_PIN='$SEC_PIN' \
        '$VMVAULT' vault credentials --name v1 --file '$WORK/creds-sec.json' >/dev/null &&
    '$VMVAULT_AGENT' register --vault-credentials '$WORK/creds-sec.json' --host-name host3 \
        --region northeurope --state-dir '$SAG'"
printf 'Restore.Roots=%s\n' "$WORK" >"$SAG/agent.conf" && chmod 600 "$SAG/agent.conf"
"$VMVAULT_AGENT" run --state-dir "$SAG" >>"$WORK/agent-sec.log" 2>&1 &
SAPID=$!
BG_PIDS+=("$SAPID")
# the secondary's key is its own (self-signed): the browser and node accept it here
browser "the replica vault on the secondary" t-replica.mjs VV_URL="$SEC_URL" VV_TOKEN="$SEC_OWNER" \
    VV_SELF_SIGNED=1 NODE_TLS_REJECT_UNAUTHORIZED=0 VV_VAULT=v1 VV_VM="$VM" VV_PRIMARY_REGION=westeurope \
    VV_LRS_VAULT=v2 VV_TARGET_HOST=host3 VV_RESTORE_DIR="$RESTORE2"
check "the disk restored from the replica equals the domain's disk at its backup" sh -c "
    f=\$(ls '$RESTORE2'/*vda* 2>/dev/null | head -n 1) && [ -n \"\$f\" ] &&
    qemu-img compare -q \"\$f\" '$(virt_expected web vda)'"
kill -TERM "$SAPID" 2>/dev/null; wait "$SAPID"
kill -TERM "$SEC_PID" 2>/dev/null; wait "$SEC_PID"; rc=$?
if [ "$rc" = 0 ]; then pass "the secondary stops cleanly on SIGTERM"
else fail "the secondary stops cleanly on SIGTERM" "exit status $rc; $(tail -n 3 "$WORK/sec.log")"; fi

# ---- the secondary gone, a new point waits ----------------------------------------------
check "a second backup on the primary, the secondary stopped" sh -c "
    '$VMVAULT' protection backup-now --vault-name v1 --item-name '$VM' >/dev/null &&
    '$VMVAULT_AGENT' run --once --state-dir '$AG' >>'$WORK/agent.log' 2>&1"
not_healthy() {
    for _ in $(seq 1 150); do
        api GET /api/v1/vaults/v1/overview
        [ "$(api_field '(lambda r: r["state"] in ("Broken", "Lagging") and r["pendingPoints"] >= 1)(j["replication"])')" = True ] && return 0
        sleep 0.2
    done
    echo "v1's replication: $(api_field 'j.get("replication")')"
    return 1
}
check "v1's replication says it is not Healthy within 30 s" not_healthy
browser "the primary's card once replication fails" t-broken.mjs VV_TOKEN="$OWNER_TOKEN" VV_VAULT=v1
copy_shots
check "screenshots of every step were saved" sh -c "[ \$(ls '$SHOTS'/*.png | wc -l) -ge 16 ] && [ \$(ls '$FINAL_SHOTS'/*.png | wc -l) -ge 16 ]"
finish
