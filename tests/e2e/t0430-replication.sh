#!/usr/bin/env bash
# Replication between two regions: two vmvaultd, each in a network namespace of its
# own (region A the primary, region B the secondary, joined by a veth pair), a real
# host agent in each region and real libvirt domains:
#   1. pairing: invitation on B, pairing created on A with it, shown on both sides;
#      only an Owner may pair; a wrong code and a wrong certificate pin are refused;
#   2. a point backed up on A appears on B within seconds, lag 0, a Replication job;
#   3. an incremental sends about the bytes the agent sent for it, no more;
#   9. a LocallyRedundant vault sends nothing; the replica vault refuses changes that do
#      not come from replication, and the replication routes refuse other tokens;
#   4. the link cut mid-point: the lag grows and the state says why; restored, the
#      point completes without sending again what had arrived;
#   5. kill -9 of the primary, then of the secondary, mid-point: the point completes,
#      and B never lists a point before all of it is there;
#  10. the rate limit and the replication window are honoured;
#   8. a chunk damaged on B is caught by B's verify, moved aside, and repaired by A;
#   6. A stopped: B lists the points and restores them through its own host: as
#      disks, as a new VM and in place, byte-identical;
#   7. data deleted on A is soft deleted on B, and purged by B's prune only once B's
#      own soft-delete window has passed;
#  11. unpairing: both sides forget it, the replica vault stays as an ordinary vault of
#      the secondary (the failover), which its Owner may then delete.
# Figures (replication delay, bytes, bytes sent again after a cut) are printed as
# "INFO" lines.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_server.sh"
. "$(dirname "$0")/lib_virt.sh"
. "$(dirname "$0")/lib_agent.sh"
. "$(dirname "$0")/lib_regions.sh"
cd "$WORK"
export XDG_CONFIG_HOME=$WORK/cfg
RATE=${REPL_RATE:-20M}       # the replication rate while a point is cut, killed...
BIG_MB=${REPL_BIG_MB:-240}   # new random data of each such point
AGA=$WORK/agent-a AGB=$WORK/agent-b AGL=$WORK/agent-l
CLOCK_B=$WORK/clock-b
MiB=1048576

info() { echo "     INFO $*"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# wait_for SECONDS COMMAND...: until COMMAND succeeds (every 0.2 s).
wait_for() {
    local t=$1; shift
    for _ in $(seq 1 $((t * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    return 1
}
# run_ok NAME COMMAND...: `check`, but COMMAND runs in this shell: what it sets stays.
run_ok() {
    local n=$1; shift
    if "$@" > "$WORK/.run-ok" 2>&1; then pass "$n"; else fail "$n" "$(tail -n 5 "$WORK/.run-ok" | one_line)"; fi
}
# cli_sec ARGS...: the CLI with the saved secondary session, from region B.
cli_sec() {
    reg_exec B env -u VMVAULT_URL -u VMVAULT_TOKEN -u VMVAULT_CERTIFICATE_PIN \
        XDG_CONFIG_HOME="$XDG_CONFIG_HOME" "$VMVAULT" "$@" --use-secondary-region
}
# agent_in R STATE: one `vmvault-agent run --once` in region R.
agent_in() {
    reg_exec "$1" "$VMVAULT_AGENT" run --once --state-dir "$2" --threads 3 >>"$WORK/agent-$1.log" 2>&1 ||
        { echo "agent in region $1 failed:"; tail -n 8 "$WORK/agent-$1.log"; return 1; }
}
# register R VAULT STATE HOST: credentials of VAULT on R's server, STATE's agent
# registered with them as HOST (restores allowed under $WORK).
register() {
    reg_cli "$1" vault credentials --name "$2" --file "$WORK/creds-$4.json" >/dev/null &&
    reg_exec "$1" "$VMVAULT_AGENT" register --vault-credentials "$WORK/creds-$4.json" \
        --host-name "$4" --state-dir "$3" >>"$WORK/agent-$1.log" 2>&1 &&
    printf 'Restore.Roots=%s\n' "$WORK" > "$3/agent.conf" && chmod 600 "$3/agent.conf"
}
# put_random NAME TARGET OFFSET_MIB MIB: the same random bytes into the shut-off test
# domain's raw disk and into its expected image.
put_random() {
    local img exp
    img=$(virt_disk_path "$1" "$2") && exp=$(virt_expected "$1" "$2") || return 1
    head -c "$(($4 * MiB))" /dev/urandom > "$WORK/rand.bin" &&
    dd if="$WORK/rand.bin" of="$img" bs=1M seek="$3" conv=notrunc status=none &&
    dd if="$WORK/rand.bin" of="$exp" bs=1M seek="$3" conv=notrunc status=none
    rm -f "$WORK/rand.bin"
}
# backup VAULT NAME STATE: a backup of test domain NAME on A by STATE's agent; sets BJ
# (the job), BP (its point) and BEND (when the agent was done).
backup() {
    BJ=$(reg_cli A protection backup-now --vault-name "$1" --item-name "$(virt_name "$2")" 2>/dev/null | json_value 'j["id"]')
    agent_in A "$3"
    BEND=$(now)
    reg_api A GET "/api/v1/vaults/$1/jobs/$BJ"
    BP=$(api_field 'j["recoveryPoint"]')
    case $(api_field 'j["status"]') in Completed|CompletedWithWarnings) ;; *) echo "backup job $BJ: $(api_show)"; return 1 ;; esac
}
# repl R VAULT EXPR: EXPR (python, r the replication object) of VAULT on R's server.
repl() { reg_api "$1" GET "/api/v1/vaults/$2/backupProperties"; api_field "(lambda r: $3)(j['replication'])"; }
repl_is() { [ "$(repl "$1" "$2" "bool($3)")" = True ]; }
# check_repl NAME SECONDS R VAULT EXPR: passes once EXPR holds of the replication
# object (r) within SECONDS; else fails showing the object.
check_repl() {
    local name=$1 t=$2; shift 2
    if wait_for "$t" repl_is "$@"; then pass "$name"
    else fail "$name" "($3) is not true of $(repl "$1" "$2" r | one_line 600)"; fi
}
# check_shown NAME EXPR SHOW: passes when EXPR holds of the last reg_api answer (j);
# else fails showing SHOW of it (an expression too).
check_shown() {
    if [ "$(api_field "bool($2)")" = True ]; then pass "$1"
    else fail "$1" "($2) is not true: $(api_field "$3" | one_line 500) (HTTP $API_STATUS)"; fi
}
received_b() { repl B v1 'r["bytesReceived"]'; }
# rjob POINT EXPR: EXPR (j) of the newest Replication job of POINT on A.
rjob() {
    reg_api A GET "/api/v1/vaults/v1/jobs?limit=1000"
    api_field "(lambda j: $2)([x for x in L if x.get('operation') == 'Replication' and x.get('recoveryPoint') == '$1'][0])"
}
rjob_is() { [ "$(rjob "$1" "bool($2)")" = True ]; }
# points_b ITEM: the names of ITEM's points B lists, sorted, on one line.
points_b() {
    reg_api B GET "/api/v1/vaults/v1/protectedItems/$1/recoveryPoints"
    [ "$API_STATUS" = 200 ] && api_field '" ".join(sorted(x["name"] for x in L))'
}
on_b() { [[ " $(points_b "$1") " == *" $2 "* ]]; }
chunk_bytes_b() { du -sb --apparent-size "$REG_DATA_B"/vaults/*/store/chunks 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }
# watch_b ITEM POINT FILE: until killed, every 0.2 s a line "LISTED RECEIVED" into
# FILE: 1 when B lists POINT, then B's bytesReceived ("-" when B does not answer).
watch_b() {
    local l r c=(-sk -m 5 --pinnedpubkey "$REG_PIN_B" -H "Authorization: Bearer $REG_OWNER_B")
    while :; do
        l=$(reg_exec B curl "${c[@]}" "$REG_URL_B/api/v1/vaults/v1/protectedItems/$1/recoveryPoints" 2>/dev/null | grep -c "\"$2\"")
        r=$(reg_exec B curl "${c[@]}" "$REG_URL_B/api/v1/vaults/v1/backupProperties" 2>/dev/null |
            json_value 'j["replication"]["bytesReceived"]' 2>/dev/null)
        echo "$l ${r:--}" >> "$3"
        sleep 0.2
    done
}
# wire_check NAME WIRE STORED: the link carried at most 5 % (TCP/IP and TLS headers)
# and 16 MiB more than the bytes the point added to B's chunk store: what had arrived
# before a cut or a kill was not sent again.
wire_check() {
    info "$1: the link carried $2 bytes from A to B for $3 stored: $(($2 - $3)) bytes more"
    check "$1: the link carried at most 1.05x + 16 MiB of what B stored" test "$2" -le $(($3 * 105 / 100 + 16 * MiB))
}
# first_listed FILE: B's bytesReceived when it first listed the point ("none": never).
first_listed() { awk '$1 > 0 { print $2; found = 1; exit } END { if (!found) print "none" }' "$1"; }
# same_disk FILE FORMAT EXPECTED: the guest-visible bytes of FILE equal EXPECTED.
same_disk() { qemu-img convert -U -f "$2" -O raw "$1" "$WORK/cmp.raw" && cmp "$WORK/cmp.raw" "$3" && rm -f "$WORK/cmp.raw"; }

date -u +%s > "$CLOCK_B"
virt_up
reg_up
reg_srv_start A "$WORK/data-a" --region regiona --agent-timeout 3600 || finish
reg_srv_start B "$WORK/data-b" --region regionb --clock-file "$CLOCK_B" --agent-timeout 3600 || finish
info "region A $REG_IP_A ($REG_URL_A), region B $REG_IP_B ($REG_URL_B)"

# ---- 1. Pairing ----------------------------------------------------------------
for r in A B; do
    reg_api "$r" POST /api/v1/users '{"name": "carol", "role": "Contributor"}'
    reg_api "$r" POST /api/v1/users/carol/tokens '{}'
    eval "CONTRIB_$r=\$(api_field 'j[\"token\"]')"
done
REG_TOKEN=$CONTRIB_B check_reg_api "1: a Contributor may not invite (403)" 403 AuthorizationFailed B POST /api/v1/pairing/invitations '{}'
check "1: an Owner invites on the secondary" reg_cli B pairing invite --out "$WORK/invitation.json"
check "1: the invitation file is 0600" test "$(stat -c %a "$WORK/invitation.json" 2>/dev/null)" = 600
check_out "1: it carries code, url, pin and region" \
    'j["code"].startswith("vvi_") and j["url"] == "'"$REG_URL_B"'" and j["certificatePin"] == "'"$REG_PIN_B"'" and j["region"] == "regionb"' \
    cat "$WORK/invitation.json"
CODE=$(json_value 'j["code"]' < "$WORK/invitation.json" 2>/dev/null)
REG_TOKEN=$CONTRIB_A check_reg_api "1: a Contributor may not pair (403)" 403 AuthorizationFailed \
    A POST /api/v1/pairing "{\"url\": \"$REG_URL_B\", \"code\": \"$CODE\", \"certificatePin\": \"$REG_PIN_B\"}"
check_fails "1: a wrong code is refused (InvalidPairingCode)" 1 InvalidPairingCode \
    reg_cli A pairing create --url "$REG_URL_B" --code "${CODE%????}AAAA" --certificate-pin "$REG_PIN_B"
check_fails "1: a wrong certificate pin is refused" 1 'SecondaryUnreachable|[Pp]in' \
    reg_cli A pairing create --url "$REG_URL_B" --code "$CODE" --certificate-pin 'sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='
check "1: the primary pairs with the invitation file" reg_cli A pairing create --invitation "$WORK/invitation.json"
check_out "1: pairing show on A: the peer is the Secondary in regionb" \
    'len(L) == 1 and L[0]["role"] == "Secondary" and L[0]["region"] == "regionb" and L[0]["url"] == "'"$REG_URL_B"'" and L[0]["state"] in ("Connected", "Unreachable")' \
    reg_cli A pairing show
check_out "1: pairing show on B: the peer is the Primary in regiona" \
    'len(L) == 1 and L[0]["role"] == "Primary" and L[0]["region"] == "regiona"' \
    reg_cli B pairing show
check_reg_api "1: a second pairing is refused (409 AlreadyPaired)" 409 AlreadyPaired \
    A POST /api/v1/pairing "{\"url\": \"$REG_URL_B\", \"code\": \"$CODE\", \"certificatePin\": \"$REG_PIN_B\"}"
REG_TOKEN=$CONTRIB_A check_reg_api "1: a Contributor may not unpair on A (403)" 403 AuthorizationFailed A DELETE '/api/v1/pairing?role=Secondary'
REG_TOKEN=$CONTRIB_B check_reg_api "1: nor on B (403)" 403 AuthorizationFailed B DELETE '/api/v1/pairing?role=Primary'
check_out "1: the pairing is still there" 'len(L) == 1' reg_cli A pairing show
reg_api B GET '/api/v1/audit?limit=50'
check_json "1: B's audit log has PairingInvited" 'any(x.get("action") == "PairingInvited" for x in L)'
reg_api A GET '/api/v1/audit?limit=50'
check_json "1: A's audit log has PairingCreated" 'any(x.get("action") == "PairingCreated" for x in L)'

# ---- 2. A point appears on B ---------------------------------------------------
check "2: a GeoRedundant vault on A" reg_cli A vault create --name v1 --location regiona
check "2: host A registers with it" register A v1 "$AGA" hostA
virt_domain app --disk vda:raw:64M:31:16
APP=$VIRT_DOM
virt_domain big --disk vda:raw:1G:33:8
BIG=$VIRT_DOM
check "2: host A's agent reports the domains" agent_in A "$AGA"
for d in "$APP" "$BIG"; do
    check "2: protect $d" reg_cli A protection enable-for-vm --vault-name v1 --vm "$d" --policy-name DefaultPolicy
done
run_ok "2: a first backup on A" backup v1 app "$AGA"
P1=$BP
virt_snapshot_expected app p1
check "2: the secondary session logs in" reg_exec A "$VMVAULT" login --secondary-region --url "$REG_URL_B" \
    --token "$REG_OWNER_B" --certificate-pin "$REG_PIN_B"
listed_sec() { cli_sec recoverypoint list --vault-name v1 --item-name "$APP" 2>/dev/null | grep -q "\"$P1\""; }
if wait_for 30 listed_sec; then
    pass "2: the point is listed on B (recoverypoint list --use-secondary-region) within 30 s"
    info "first point on B $(secs "$BEND" "$(now)") s after the backup's end"
else
    fail "2: the point is listed on B (recoverypoint list --use-secondary-region) within 30 s" \
        "$(cli_sec recoverypoint list --vault-name v1 --item-name "$APP" 2>&1 | one_line)"
    echo "     every later check needs a replicated point: the suite stops here"
    tail -n 15 "$WORK/srv-A.log" | sed 's/^/     A: /'
    finish
fi
check_repl "2: A's lag goes to 0, Healthy" 10 A v1 'r["replicationLagSeconds"] == 0 and r["state"] == "Healthy" and r["pendingPoints"] == 0'
repl A v1 r >/dev/null
check_json "2: A's replication object: Primary to regionb, replicated" \
    'j["replication"]["role"] == "Primary" and j["replication"]["secondaryRegion"] == "regionb" and j["replication"]["lastReplicatedTime"] and j["replication"]["reason"] is None'
check "2: a Replication job of the point, Completed, in A's job list" wait_for 10 rjob_is "$P1" \
    'j["status"] == "Completed" and j["bytesDone"] > 0 and j["stats"]["bytesSent"] > 0'
reg_api A GET "/api/v1/vaults/v1/jobs?operation=Replication"
check_json "2: the job list filters on operation Replication" 'len(L) >= 1 and all(x["operation"] == "Replication" for x in L)'
check_out "2: vmvault job list shows it" 'any(x["operation"] == "Replication" and x["recoveryPoint"] == "'"$P1"'" for x in L)' \
    reg_cli A job list --vault-name v1
reg_api A GET /api/v1/vaults/v1; VID=$(api_field 'j["id"]')
reg_api B GET /api/v1/vaults
check_json "2: B lists the replica vault: same name and id, location regionb, replicaOf regiona" \
    "[(v['name'], v['id'], v['location'], v['replicaOf']) for v in L] == [('v1', '$VID', 'regionb', 'regiona')]"
repl B v1 r >/dev/null
check_json "2: B's replication object: Replica of regiona, Healthy" \
    'j["replication"]["role"] == "Replica" and j["replication"]["state"] == "Healthy" and j["replication"]["bytesReceived"] > 0'
check "2: host B registers with the replica vault" register B v1 "$AGB" hostB
check "2: host B's agent reports to B" agent_in B "$AGB"

# ---- 3. An incremental sends the new bytes only --------------------------------
R0=$(received_b) W0=$(reg_link_bytes)
check "3: 4 MiB of new data on app's disk" put_random app vda 40 4
run_ok "3: an incremental backup on A" backup v1 app "$AGA"
P2=$BP
virt_snapshot_expected app p2
SENT=$(reg_cli A job show --vault-name v1 --name "$BJ" | json_value 'j["stats"]["bytesSent"]')
check "3: the incremental reaches B" wait_for 30 on_b "$APP" "$P2"
check_repl "3: lag back to 0" 10 A v1 'r["replicationLagSeconds"] == 0'
R1=$(received_b) W1=$(reg_link_bytes)
DELTA=$((R1 - R0)) WIRE=$((W1 - W0))
info "incremental: the agent sent $SENT bytes; B counts $DELTA bytes received, the link carried $WIRE bytes from A to B"
check "3: B counts at most 1.1x what the agent sent, + 256 KiB" \
    test "$DELTA" -gt 0 -a "$DELTA" -le $((SENT * 11 / 10 + 262144))
check "3: the link carried at most 1.1x what the agent sent, + 512 KiB" \
    test "$WIRE" -le $((SENT * 11 / 10 + 524288))

# ---- 9. LocallyRedundant sends nothing; the replica refuses changes ------------
check "9: a LocallyRedundant vault on A" reg_cli A vault create --name lr --location regiona --backup-storage-redundancy LocallyRedundant
check "9: a second host registers with it" register A lr "$AGL" hostA2
virt_domain loc --disk vda:raw:16M:35:4
check "9: it reports its domains" agent_in A "$AGL"
check "9: protect a domain in it" reg_cli A protection enable-for-vm --vault-name lr --vm "$(virt_name loc)" --policy-name DefaultPolicy
R0=$(received_b)
run_ok "9: a backup in the LocallyRedundant vault" backup lr loc "$AGL"
sleep 5
reg_api B GET /api/v1/vaults
check_json "9: B has no vault lr" '"lr" not in [v["name"] for v in L]'
check "9: B received nothing more" test "$(received_b)" = "$R0"
repl A lr r >/dev/null
check_json "9: lr's replication: role None, NotReplicated" 'j["replication"]["role"] == "None" and j["replication"]["state"] == "NotReplicated"'
reg_api A GET "/api/v1/vaults/lr/jobs?limit=1000"
check_json "9: and no Replication job" '[x for x in L if x["operation"] == "Replication"] == []'
check "9: host B's agent reports the new domain to B" agent_in B "$AGB"
check_reg_api "9: replica: backup now refused (409 ReplicaVaultReadOnly)" 409 ReplicaVaultReadOnly B POST "/api/v1/vaults/v1/protectedItems/$APP/backup" '{}'
check_reg_api "9: replica: protect refused" 409 ReplicaVaultReadOnly B POST /api/v1/vaults/v1/protectedItems "{\"vm\": \"$(virt_name loc)\", \"policy\": \"DefaultPolicy\"}"
check_reg_api "9: replica: policy create refused" 409 ReplicaVaultReadOnly B POST /api/v1/vaults/v1/policies \
    '{"name": "p2", "timeZone": "UTC", "schedulePolicy": {"scheduleRunFrequency": "Daily", "scheduleRunTimes": ["02:00"]}, "instantRpRetentionRangeInDays": 2, "retentionPolicy": {"dailySchedule": {"retentionDuration": {"count": 7, "durationType": "Days"}}}}'
check_reg_api "9: replica: point undelete refused" 409 ReplicaVaultReadOnly B POST "/api/v1/vaults/v1/protectedItems/$APP/recoveryPoints/$P1/undelete" '{}'
check_reg_api "9: replica: vault delete refused" 409 ReplicaVaultReadOnly B DELETE /api/v1/vaults/v1
check_reg_api "9: replica: backupProperties change refused" 409 ReplicaVaultReadOnly B PATCH /api/v1/vaults/v1/backupProperties '{"softDelete": {"state": "Disabled"}}'
check_reg_api "9: replication routes refuse B's owner token (403)" 403 "" B GET "/api/v1/replication/vaults/$VID"
check_reg_api "9: the owner may not delete a point through them (403)" 403 "" B DELETE "/api/v1/replication/vaults/$VID/points/$P1"
AGENT_TOKEN_B=$(json_value 'j["token"]' < "$AGB/agent.json" 2>/dev/null)
# denied NAME METHOD PATH: B answers 401 or 403 to host B's agent token.
denied() {
    REG_TOKEN=$AGENT_TOKEN_B reg_api B "$2" "$3"
    case $API_STATUS in 401|403) pass "$1" ;; *) fail "$1" "$2 $3 -> $(api_show), expected 401 or 403" ;; esac
}
denied "9: the replication routes refuse an agent token" GET "/api/v1/replication/vaults/$VID"
denied "9: an agent token may not delete a point through them" DELETE "/api/v1/replication/vaults/$VID/points/$P1"
check "9: the point is still on B" on_b "$APP" "$P1"

# ---- 4. The link cut mid-point -------------------------------------------------
check "4: rate limited to $RATE" reg_cli A pairing update --max-replication-rate "$RATE"
R0=$(received_b) S0=$(chunk_bytes_b) W0=$(reg_link_bytes)
check "4: $BIG_MB MiB of new random data on big's disk" put_random big vda 64 "$BIG_MB"
run_ok "4: its backup on A" backup v1 big "$AGA"
P4=$BP
check "4: the Replication job is a quarter through" wait_for 60 rjob_is "$P4" 'j["status"] == "InProgress" and j["bytesDone"] * 4 > j["bytesTotal"]'
info "cut at $(rjob "$P4" 'j["bytesDone"]') of $(rjob "$P4" 'j["bytesTotal"]') bytes"
check "4: cut the link" reg_cut
T0=$(now)
broken() { repl_is A v1 'r["state"] in ("Broken", "Lagging") and r["reason"] and __import__("re").search("(?i)unreach|reach|connect|time", r["reason"])'; }
if wait_for 120 broken; then
    pass "4: A's state turns Broken or Lagging, naming the unreachable secondary"
    info "state $(repl A v1 'r["state"]') after $(secs "$T0" "$(now)") s: $(repl A v1 'r["reason"]')"
else
    fail "4: A's state turns Broken or Lagging, naming the unreachable secondary" "$(api_show)"
fi
L1=$(repl A v1 'r["replicationLagSeconds"]'); sleep 3; L2=$(repl A v1 'r["replicationLagSeconds"]')
check "4: the lag grows ($L1 s, then $L2 s)" test "${L2:-0}" -gt "${L1:-0}"
check "4: the Replication job stays InProgress" rjob_is "$P4" 'j["status"] == "InProgress"'
TASKS=$(rjob "$P4" 'j["tasks"]')
if [[ ${TASKS,,} == *"waiting for the secondary"* ]]; then pass "4: its task says it waits for the secondary"
else fail "4: its task says it waits for the secondary" "tasks: $(printf '%s' "$TASKS" | one_line)"; fi
reg_api A GET /api/v1/vaults/v1/overview
check_json "4: A's overview alerts" 'any(a["code"] in ("ReplicationBroken", "ReplicationLagging") for a in j["alerts"]) and j["replication"]["state"] in ("Broken", "Lagging")'
if on_b "$BIG" "$P4"; then fail "4: B does not list the point during the cut" "it lists $(points_b "$BIG")"
else pass "4: B does not list the point during the cut"; fi
check "4: restore the link" reg_restore
T0=$(now)
if wait_for 240 rjob_is "$P4" 'j["status"] == "Completed"'; then
    pass "4: the point completes once the link is back"
    info "completed $(secs "$T0" "$(now)") s after the link came back"
else
    fail "4: the point completes once the link is back" "$(rjob "$P4" 'j')"
fi
check "4: B lists it" wait_for 10 on_b "$BIG" "$P4"
check_repl "4: A is Healthy again, lag 0" 20 A v1 'r["state"] == "Healthy" and r["replicationLagSeconds"] == 0'
R1=$(received_b) S1=$(chunk_bytes_b) W1=$(reg_link_bytes)
EXTRA=$(((R1 - R0) - (S1 - S0)))
info "cut: B counts $((R1 - R0)) bytes received, its chunk store grew $((S1 - S0)) bytes: $EXTRA bytes more; job stats $(rjob "$P4" 'j["stats"]')"
check "4: B counts at most 16 MiB more than it stored ($EXTRA bytes)" test "$EXTRA" -le $((16 * MiB))
wire_check "4" "$((W1 - W0))" "$((S1 - S0))"

# ---- 5. kill -9 of either server mid-point -------------------------------------
# kill_mid R OFFSET NAME: a point of big with new data at OFFSET MiB; R's server
# killed while the point replicates, then started again; B's listing watched.
kill_mid() {
    local r=$1 w=$WORK/watch-$1 first final p
    R0=$(received_b) S0=$(chunk_bytes_b) W0=$(reg_link_bytes)
    check "$3: $BIG_MB MiB of new data" put_random big vda "$2" "$BIG_MB"
    run_ok "$3: its backup on A" backup v1 big "$AGA"
    p=$BP
    : > "$w"
    watch_b "$BIG" "$p" "$w" &
    local wpid=$!
    BG_PIDS+=("$wpid")
    check "$3: the Replication job is a quarter through" wait_for 60 rjob_is "$p" 'j["status"] == "InProgress" and j["bytesDone"] * 4 > j["bytesTotal"]'
    info "$3: killed at $(rjob "$p" 'j["bytesDone"]') of $(rjob "$p" 'j["bytesTotal"]') bytes"
    reg_srv_kill "$r"
    check "$3: B does not list the point yet" sh -c "! grep -q '^1 ' '$w'"
    sleep 1
    run_ok "$3: the server starts again on its data" reg_srv_restart "$r"
    if wait_for 240 on_b "$BIG" "$p"; then pass "$3: the point completes on B"
    else fail "$3: the point completes on B" "$(points_b "$BIG"); $(rjob "$p" 'j' | one_line)"; fi
    check_repl "$3: A is Healthy, lag 0" 30 A v1 'r["state"] == "Healthy" and r["replicationLagSeconds"] == 0'
    sleep 1
    kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null
    final=$(received_b) S1=$(chunk_bytes_b) W1=$(reg_link_bytes)
    first=$(first_listed "$w")
    info "$3: B counts $((final - R0)) bytes received, its store grew $((S1 - S0)) bytes; bytesReceived when first listed: $first, at the end: $final"
    wire_check "$3" "$((W1 - W0))" "$((S1 - S0))"
    check "$3: B listed the point only once all of it had arrived" \
        test "$first" != none -a "$first" != - -a "${first:-0}" -ge $((final - MiB))
}
kill_mid A 320 "5a (kill -9 primary)"
kill_mid B 576 "5b (kill -9 secondary)"
reg_srv_stop B; rc=$?
check "5: B stops cleanly on SIGTERM" test "$rc" = 0
check "5: vmvaultd check passes on B's data" "$VMVAULTD" check --data-dir "$REG_DATA_B"
run_ok "5: B starts again" reg_srv_restart B

# ---- 10. The rate limit and the replication window -----------------------------
check "10: 80 MiB of new data" put_random big vda 832 80
run_ok "10: a point under the rate limit" backup v1 big "$AGA"
P10=$BP
check "10: its Replication job completes" wait_for 60 rjob_is "$P10" 'j["status"] == "Completed"'
RATE_BPS=$(_virt_bytes "$RATE")
STATS=$(rjob "$P10" 'j["stats"]')
SPEED=$(printf '%s' "$STATS" | json_value 'int(j["bytesSent"] / max(j["seconds"], 0.001))' 2>/dev/null)
info "rate limit $RATE_BPS bytes/s: the point went at ${SPEED:-?} bytes/s ($STATS)"
check "10: within 1.2x of the limit" test "${SPEED:-0}" -gt 0 -a "${SPEED:-0}" -le $((RATE_BPS * 12 / 10))
W=$(date -u -d '+2 hours' +%H:%M)-$(date -u -d '+3 hours' +%H:%M)
check "10: a replication window that excludes now ($W)" reg_cli A pairing update --replication-window "$W"
check "10: 4 MiB of new data" put_random big vda 920 4
run_ok "10: a point outside the window" backup v1 big "$AGA"
PW=$BP
check_repl "10: A says Lagging, points pending, naming the window" 20 A v1 'r["state"] == "Lagging" and r["pendingPoints"] >= 1 and "window" in (r["reason"] or "")'
sleep 3
if on_b "$BIG" "$PW"; then fail "10: the point waits for the window" "B lists it"; else pass "10: the point waits for the window"; fi
check "10: the window lifted (always)" reg_cli A pairing update --replication-window always --max-replication-rate none
check "10: then the point replicates" wait_for 60 on_b "$BIG" "$PW"
check_repl "10: Healthy, lag 0" 20 A v1 'r["state"] == "Healthy" and r["replicationLagSeconds"] == 0'
reg_api A GET "/api/v1/vaults/v1/protectedItems/$BIG/recoveryPoints"
POINTS_A=$(api_field '" ".join(sorted(x["name"] for x in L))')
reg_api B GET "/api/v1/vaults/v1/protectedItems/$BIG/recoveryPoints"
check_json "10: B lists exactly A's points of big, each once" \
    '[x["name"] for x in sorted(L, key=lambda x: x["name"])] == "'"$POINTS_A"'".split() and len(L) == 5'

# ---- 8. A damaged chunk on B ---------------------------------------------------
CH=$(find "$REG_DATA_B"/vaults/*/store/chunks -type f -size +4k 2>/dev/null | sort | head -n 1)
CID=$(basename "${CH:-none}")
check "8: one byte of a chunk on B overwritten" "$PY" -c '
import os, sys
with open(sys.argv[1], "r+b") as f:
    n = os.fstat(f.fileno()).st_size // 2
    f.seek(n); b = f.read(1); f.seek(n); f.write(bytes([b[0] ^ 0xff]))' "$CH"
cp "$CH" "$WORK/chunk.bad" 2>/dev/null
# verify_b: a Verify job on B, until it ends; sets VJ and prints the job.
verify_b() {
    VJ=$(cli_sec vault verify --name v1 2>/dev/null | json_value 'j["id"]')
    [ -n "$VJ" ] || { reg_api B POST /api/v1/vaults/v1/verify '{}'; VJ=$(api_field 'j["id"]'); }
    for _ in $(seq 1 600); do
        reg_api B GET "/api/v1/vaults/v1/jobs/$VJ"
        case $(api_field 'j["status"]') in Completed|Failed|CompletedWithWarnings|Cancelled) break ;; esac
        sleep 0.5
    done
    cat "$API_BODY"
}
verify_b > "$WORK/verify1.json"
check_out "8: B's verify fails with RecoveryPointDamaged, naming the damaged points" \
    'j["operation"] == "Verify" and j["status"] == "Failed" and j["error"]["code"] == "RecoveryPointDamaged" and "rp-" in j["error"]["message"]' \
    cat "$WORK/verify1.json"
check_out "8: its message names the damaged chunk" '"'"$CID"'" in j["error"]["message"]' cat "$WORK/verify1.json"
T0=$(now)
check "8: the chunk is moved aside into B's quarantine" sh -c "find '$REG_DATA_B/quarantine' -name '*$CID*' | grep -q ."
# the chunk is back in its place, another file than the damaged one (sealed anew)
repaired() { [ -s "$CH" ] && ! cmp -s "$CH" "$WORK/chunk.bad"; }
if wait_for 180 repaired; then pass "8: A sends the chunk again"; info "chunk repaired $(secs "$T0" "$(now)") s after the verify"
else fail "8: A sends the chunk again" "$(ls -l "$CH" 2>&1 | one_line); $(repl A v1 r | one_line)"; fi
check_out "8: B's verify passes afterwards" 'j["status"] == "Completed" and j["stats"]["damaged"] == 0' verify_b

# ---- 6. Restore from B, A stopped ----------------------------------------------
reg_srv_stop A
check_out "6: A stopped, B lists app's two points" \
    'sorted(x["name"] for x in L) == sorted(["'"$P1"'", "'"$P2"'"])' \
    cli_sec recoverypoint list --vault-name v1 --item-name "$APP"
check_fails "6: a restore on B without --target-host is refused (TargetHostRequired)" 1 TargetHostRequired \
    cli_sec restore restore-disks --vault-name v1 --item-name "$APP" --rp-name "$P2" --target-dir "$WORK/r0"
check_fails "6: an unknown target host (ContainerNotFound)" 1 ContainerNotFound \
    cli_sec restore restore-disks --vault-name v1 --item-name "$APP" --rp-name "$P2" --target-dir "$WORK/r0" --target-host nohost
# restore_b ARGS...: a restore on B through host B; the job must complete.
restore_b() {
    local j
    j=$(cli_sec restore restore-disks --vault-name v1 --item-name "$APP" --target-host hostB "$@" | json_value 'j["id"]') || return 1
    agent_in B "$AGB" || return 1
    cli_sec job show --vault-name v1 --name "$j"
}
RESTORED='j["operation"] == "Restore" and j["status"] in ("Completed", "CompletedWithWarnings")'
check_out "6: RestoreDisks of the incremental on host B completes" "$RESTORED" \
    restore_b --rp-name "$P2" --target-dir "$WORK/r1"
check "6: byte-identical" same_disk "$WORK/r1/$APP-vda.raw" raw "$(virt_expected_at app vda p2)"
NEW=vvt-copy-$VIRT_RUN
mkdir -p "$VIRT_DIR/copy" && _virt_register copy "$NEW"
check_out "6: AlternateLocation on host B completes" "$RESTORED" \
    restore_b --rp-name "$P2" --target-dir "$WORK/virt/copy" --restore-mode AlternateLocation --target-vm-name "$NEW"
check "6: the new domain is defined" $VIRSH dominfo "$NEW"
check "6: its disk holds the point's bytes" same_disk "$WORK/virt/copy/$NEW-vda.raw" raw "$(virt_expected_at app vda p2)"
check_out "6: OriginalLocation of the first point on host B completes" "$RESTORED" \
    restore_b --rp-name "$P1" --restore-mode OriginalLocation
check "6: app's disk is back to the first point" same_disk "$(virt_disk_path app vda)" raw "$(virt_expected_at app vda p1)"
run_ok "6: A starts again" reg_srv_restart A

# ---- 7. Deletion on A: soft deleted on B, purged after B's window ---------------
check "7: soft delete off on A's vault (deletions are immediate there)" \
    reg_cli A vault backup-properties set --name v1 --soft-delete-feature-state Disable
check "7: app's data deleted on A" reg_cli A protection disable --vault-name v1 --item-name "$APP" --delete-backup-data --yes
reg_api A GET "/api/v1/vaults/v1/protectedItems/$APP/recoveryPoints"
if [ "$API_STATUS" = 404 ] || [ "$(api_field 'L == []')" = True ]; then pass "7: A lists none of app's points"
else fail "7: A lists none of app's points" "$(api_show)"; fi
soft_b() {
    reg_api B GET "/api/v1/vaults/v1/protectedItems/$APP/recoveryPoints"
    [ "$(api_field "sorted(x['name'] for x in L if x.get('softDeleted')) == sorted(['$P1', '$P2'])")" = True ]
}
check "7: on B both points become soft deleted, still listed" wait_for 60 soft_b
PURGE=$(api_field 'min(x["purgeAt"] for x in L)')
reg_api B GET "/api/v1/vaults/v1/protectedItems/$APP"
check_shown "7: B's item is no longer shown Protected (its data is deleted on A)" 'j["protectionState"] != "Protected"' \
    '{k: j.get(k) for k in ("protectionState", "deleteState", "purgeAt", "recoveryPointCount", "softDeletedPointCount")}'
reg_api B GET /api/v1/vaults/v1/backupProperties
info "B's soft delete: $(api_field 'j.get("softDelete")'), points purged at $PURGE"
check "7: B's window is at least 14 days" "$PY" -c '
import datetime, sys
p = datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
sys.exit(0 if p - datetime.datetime.now(datetime.timezone.utc) > datetime.timedelta(days=13, hours=23) else 1)' "$PURGE"
# prune_b: a Prune job on B, until it ends.
prune_b() {
    local j
    reg_api B POST /api/v1/vaults/v1/prune '{}'; j=$(api_field 'j["id"]')
    for _ in $(seq 1 100); do
        reg_api B GET "/api/v1/vaults/v1/jobs/$j"
        [ "$(api_field 'j["status"]')" = Completed ] && return 0
        sleep 0.2
    done
    api_show; return 1
}
check "7: a prune on B now" prune_b
check "7: keeps the soft-deleted points" soft_b
"$PY" -c 'import datetime, sys
p = datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
print(int(p.timestamp()) + 86400)' "$PURGE" > "$CLOCK_B.tmp" && mv "$CLOCK_B.tmp" "$CLOCK_B"
sleep 1
check "7: B's clock past the purge time: a prune on B" prune_b
LEFT=$(points_b "$APP")
if [ "$API_STATUS" = 404 ] || { [ "$API_STATUS" = 200 ] && [ -z "$LEFT" ]; }; then pass "7: the points are gone from B"
else fail "7: the points are gone from B" "$(api_show)"; fi

# ---- 11. Unpairing --------------------------------------------------------------
REG_TOKEN=$CONTRIB_A check_fails "11: a Contributor may not unpair (403)" 1 AuthorizationFailed \
    reg_cli A pairing delete --peer-role Secondary --yes
check "11: the Owner unpairs on A" reg_cli A pairing delete --peer-role Secondary --yes
check_out "11: A shows no pairing" 'len(L) == 0' reg_cli A pairing show
unpaired_b() { [ "$(reg_cli B pairing show | json_value 'len(L)')" = 0 ]; }
check "11: B is told: it shows no pairing" wait_for 10 unpaired_b
reg_api A GET '/api/v1/audit?limit=50'
check_json "11: A's audit log has PairingDeleted" 'any(x.get("action") == "PairingDeleted" for x in L)'
check_repl "11: A's GeoRedundant vault is NotConfigured again" 5 A v1 'r["state"] == "NotConfigured"'
check_out "11: the replica vault keeps its points" 'len(L) >= 1' cli_sec recoverypoint list --vault-name v1 --item-name "$BIG"
reg_api B GET /api/v1/vaults/v1/overview
check_shown "11: B's vault is an ordinary vault of B now (the failover), no longer a replica" \
    'j["replication"]["role"] != "Replica"' 'j["replication"]'
reg_api B GET /api/v1/vaults
check_json "11: B's vault list shows v1 with replicaOf null" \
    'any(v["name"] == "v1" and v["replicaOf"] is None for v in L)'
reg_api B DELETE /api/v1/vaults/v1
if [ "$(api_code)" != ReplicaVaultReadOnly ]; then pass "11: the Owner may now delete the replica vault (no ReplicaVaultReadOnly)"
else fail "11: the Owner may now delete the replica vault (no ReplicaVaultReadOnly)" "$(api_show)"; fi
info "deleting the replica vault once unpaired: $(api_show)"

for r in A B; do
    reg_srv_stop "$r"; rc=$?
    check "$r stops cleanly on SIGTERM" test "$rc" = 0
done
check "vmvaultd check passes on A's data" "$VMVAULTD" check --data-dir "$REG_DATA_A"
check "vmvaultd check passes on B's data" "$VMVAULTD" check --data-dir "$REG_DATA_B"
finish
