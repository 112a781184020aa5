#!/usr/bin/env bash
# Garbage collection while backups run, with a real vault, real agents and real
# libvirt domains. In each of several rounds two hosts' agents back up at the same
# time a VM whose disk barely changes (a dedup-heavy backup: its changed region goes
# back to data whose only points a prune removed, so it races the collection for
# chunks that are garbage: it reuses them or uploads them again) and a VM that gets
# megabytes of new random data (a backup of new chunks, uploaded slowly), while the
# vault collects its garbage over and over and prunes now and then. The vault's
# clock (--clock-file) moves 3 minutes per round so that short-lived points expire
# and the rounds leave garbage to delete.
#  - every backup completes, every collection and prune completes with stats that add
#    up (live + removed <= total; with no backup running, live + removed = total and
#    every catalog point is read), and the collections do remove chunks;
#  - the prune keeps exactly the points it should;
#  - after every round, every point in the catalog restores byte for byte to its
#    VM's disk at its backup time (so every point restores after the collections
#    that ran during and after its backup);
#  - at the end a second collection finds nothing left to remove, the server stops
#    cleanly and `vmvaultd check` re-reads and re-hashes every chunk of every point.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_server.sh"
. "$(dirname "$0")/lib_virt.sh"
. "$(dirname "$0")/lib_agent.sh"
cd "$WORK"
# Garbage appears from round 3 on (points expire one round after the next's).
ROUNDS=${VV_GC_ROUNDS:-8}
[ "$ROUNDS" -ge 3 ] 2>/dev/null || ROUNDS=3
T_BEGIN=$SECONDS

CLOCK=$WORK/clock
# clock EPOCH: the vault's clock jumps to EPOCH (seconds, UTC).
clock() { printf '%s\n' "$1" > "$CLOCK.tmp" && mv "$CLOCK.tmp" "$CLOCK"; }
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
# Far from 02:00 (DefaultPolicy's runs) and 03:00 (the daily prune): no scheduled job
# interferes while the clock moves 3 minutes per round.
T0=$(date -u -d 2030-01-07T10:00:00Z +%s)
clock "$T0"

virt_up
srv_start "$WORK/data" --clock-file "$CLOCK" --agent-timeout 3600 || finish

# Two hosts (two agents, each with its own state folder) on this libvirt: host1
# protects "same", host2 "fresh", so that both backups run at once. The domains are
# shut off: each backup reads the whole image and asks the vault about every chunk.
AG2=$WORK/agent2
agent_setup
"$VMVAULT_AGENT" register --vault-credentials "$WORK/creds.json" --host-name host2 \
    --state-dir "$AG2" >>"$WORK/agent2.log" 2>&1
check "two hosts registered" test -s "$AG/agent.json" -a -s "$AG2/agent.json"
virt_domain same --disk vda:qcow2:256M:51:96
SAME=$VIRT_DOM
virt_domain fresh --disk vda:qcow2:128M:52:32
FRESH=$VIRT_DOM
check "host1's agent reports its VMs" agent_run
check "host2's agent reports its VMs" \
    "$VMVAULT_AGENT" run --once --state-dir "$AG2" --threads 3
check "protect the barely changing VM on host1" "$VMVAULT" protection enable-for-vm \
    --vault-name v1 --vm "$SAME" --container-name host1 --policy-name DefaultPolicy
check "protect the fast changing VM on host2" "$VMVAULT" protection enable-for-vm \
    --vault-name v1 --vm "$FRESH" --container-name host2 --policy-name DefaultPolicy

# rand_write NAME TARGET OFFSET FILE: FILE's bytes at OFFSET of the shut-off domain's
# disk and of its expected image.
rand_write() {
    local len out
    len=$(stat -c %s "$4")
    out=$(qemu-io -f "$(virt_disk_format "$1" "$2")" -c "write -s $4 $3 $len" \
        "$(virt_disk_path "$1" "$2")" 2>&1) || { echo "$out"; return 1; }
    out=$(qemu-io -f raw -c "write -s $4 $3 $len" "$(virt_expected "$1" "$2")" 2>&1) ||
        { echo "$out"; return 1; }
}
# The dedup-heavy VM alternates between two 16 MiB random blobs at one place.
head -c 16M /dev/urandom > "$WORK/blob0"
head -c 16M /dev/urandom > "$WORK/blob1"

# agents_bg: both agents in the background (PIDs in A1, A2); host2's uploads are
# slowed down so that its new chunks stay uncommitted while collections run.
agents_bg() {
    "$VMVAULT_AGENT" run --once --state-dir "$AG" --threads 3 >>"$WORK/agent.log" 2>&1 &
    A1=$!
    "$VMVAULT_AGENT" run --once --state-dir "$AG2" --threads 3 --max-upload-rate 8M \
        >>"$WORK/agent2.log" 2>&1 &
    A2=$!
    BG_PIDS+=("$A1" "$A2")
}
# job_end ID [SECONDS]: poll the job (REST) until it ends; its JSON in $JOB_JSON.
JOB_JSON=$WORK/job.json
job_end() {
    local deadline=$((SECONDS + ${2:-120})) st
    while :; do
        api GET "/api/v1/vaults/v1/jobs/$1"
        st=$(api_field 'j["status"]')
        case $st in InProgress|Cancelling|'') ;; *) cp "$API_BODY" "$JOB_JSON"; return 0 ;; esac
        [ $SECONDS -lt $deadline ] || { cp "$API_BODY" "$JOB_JSON"; return 1; }
        sleep 0.02
    done
}
job_status() { api GET "/api/v1/vaults/v1/jobs/$1"; api_field 'j["status"]'; }
# server_job prune|gc LOG: queue it with the CLI, wait for it, append its JSON to LOG.
server_job() {
    local id
    id=$(jobid "$VMVAULT" vault "$1" --name v1)
    [ -n "$id" ] || { echo '{"id": null, "status": "NotQueued"}' >> "$2"; return 1; }
    job_end "$id" 300
    { tr -d '\n' < "$API_BODY"; echo; } >> "$2"
}
# collector LOG JOB: until $WORK/stop exists, one collection after the other (each
# waited for and appended to LOG); every third one is followed by a prune while JOB
# (the dedup-heavy backup) runs, so that what the prune frees stays garbage until the
# next round's race. In a subshell: its own answer file.
collector() {
    local k=0 API_BODY=$WORK/.api-body-gc JOB_JSON=$WORK/job-gc.json
    while [ ! -e "$WORK/stop" ]; do
        server_job gc "$1" || break
        k=$((k + 1))
        if [ $((k % 3)) = 0 ] && [ "$(job_status "$2")" = InProgress ]; then
            server_job prune "${1%.jsonl}.prune" || break
        fi
    done
    # at least one collection during the backups
    [ "$k" -gt 0 ] || server_job gc "$1"
}
# points ITEM: the names of an item's recovery points in the catalog, sorted.
points() {
    "$VMVAULT" recoverypoint list --vault-name v1 --item-name "$1" 2>/dev/null |
        json_value '"\n".join(sorted(x["name"] for x in L))'
}
# The VM and tag of every point ever committed: TAG[point]="vm tag".
declare -A TAG
# verify_catalog: every point of both items restores byte-identical to its disk at
# backup time; prints the ones that do not.
verify_catalog() {
    local p vm t bad=0 n=0 exp
    for p in $(points "$SAME") $(points "$FRESH"); do
        n=$((n + 1))
        read -r vm t <<<"${TAG[$p]:-? ?}"
        if ! exp=$(virt_expected_at "$vm" vda "$t" 2>&1); then
            echo "$p: not a point this test committed ($exp)"; bad=1; continue
        fi
        restored_disk_equals "$p" vda "$exp" >/dev/null 2>&1 || { echo "$p ($vm $t) differs or cannot be restored"; bad=1; }
    done
    [ "$n" -gt 0 ] || { echo "no points in the catalog"; return 1; }
    return "$bad"
}
# gc_sane LOG CONCURRENT: every collection in LOG completed with stats that add up.
# With CONCURRENT=0 (no backup ran) also live + removed == total, and it read every
# point the catalog holds ($NPOINTS).
gc_sane() {
    "$PY" - "$1" "$2" "${NPOINTS:-0}" <<'PY'
import json, sys
bad = []
for line in open(sys.argv[1]):
    j = json.loads(line)
    s = j.get("stats") or {}
    keys = ("recoveryPoints", "chunksTotal", "chunksLive", "chunksRemoved", "bytesFreed")
    ok = (j.get("status") == "Completed" and j.get("operation") == "GarbageCollection"
          and all(isinstance(s.get(k), int) and s[k] >= 0 for k in keys)
          and s["chunksLive"] + s["chunksRemoved"] <= s["chunksTotal"]
          and (s["chunksRemoved"] > 0) == (s["bytesFreed"] > 0))
    if ok and sys.argv[2] == "0":
        ok = (s["chunksLive"] + s["chunksRemoved"] == s["chunksTotal"]
              and s["recoveryPoints"] == int(sys.argv[3]))
    if not ok:
        bad.append("%s %s %s %s" % (j.get("id"), j.get("status"), j.get("error"), s))
if bad:
    print("; ".join(bad)[:600])
    sys.exit(1)
PY
}
# sum_kept LOG: chunks the collections in LOG neither found referenced nor removed:
# those they kept for the backups running then.
sum_kept() {
    "$PY" -c 'import json,sys; print(sum(s["chunksTotal"] - s["chunksLive"] - s["chunksRemoved"] for s in ((json.loads(l).get("stats") or {"chunksTotal": 0, "chunksLive": 0, "chunksRemoved": 0}) for l in open(sys.argv[1]))))' "$1"
}
# sum_removed LOG: chunks removed by the collections in LOG.
sum_removed() {
    "$PY" -c 'import json,sys; print(sum((json.loads(l).get("stats") or {}).get("chunksRemoved", 0) for l in open(sys.argv[1])))' "$1"
}

SAME_LAST= FRESH_LAST=
FRESH_KEPT=()       # fresh's long-lived points
TOTAL_REMOVED=0 ROUNDS_REMOVING=0 CONC_REMOVED=0 KEPT=0
for r in $(seq 1 "$ROUNDS"); do
    t_round=$SECONDS
    now=$((T0 + r * 180))
    clock "$now"
    short=$(iso $((now + 60)))     # expired when the next round moves the clock
    conc=$WORK/gc-r$r.jsonl seq_log=$WORK/seq-r$r.jsonl
    : > "$conc"; : > "$seq_log"

    # The writes, and the disks as they are for this round's points.
    ok=1
    rand_write same vda 200M "$WORK/blob$((r % 2))" >/dev/null || ok=0
    head -c 16M /dev/urandom > "$WORK/new.bin"
    rand_write fresh vda 64M "$WORK/new.bin" >/dev/null || ok=0
    virt_snapshot_expected same "r$r" && virt_snapshot_expected fresh "r$r" || ok=0
    [ "$ok" = 1 ] || fail "round $r: writing the disks" "qemu-io failed"

    # Both backups: "same" always short-lived; "fresh" short-lived in odd rounds,
    # kept 30 days (the default) in even ones.
    api POST "/api/v1/vaults/v1/protectedItems/$SAME/backup" "{\"retainUntil\": \"$short\"}"
    J1=$(api_field 'j["id"]')
    if [ $((r % 2)) = 1 ]; then
        api POST "/api/v1/vaults/v1/protectedItems/$FRESH/backup" "{\"retainUntil\": \"$short\"}"
        J2=$(api_field 'j["id"]')
    else
        J2=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name "$FRESH")
    fi
    if [ -z "$J1" ] || [ -z "$J2" ]; then
        fail "round $r: both backups are queued" "jobs '$J1' '$J2': $(api_show)"
        break
    fi

    # Collections over and over while the agents run (a collector in the background,
    # one collection after the other); the first one goes before, with, or just after
    # the agents' start.
    rm -f "$WORK/stop"
    case $((r % 3)) in
        0) collector "$conc" "$J1" & CPID=$!; sleep 0.2; agents_bg ;;
        1) agents_bg; collector "$conc" "$J1" & CPID=$! ;;
        2) agents_bg; sleep 0.3; collector "$conc" "$J1" & CPID=$! ;;
    esac
    BG_PIDS+=("$CPID")
    t_wait=$((SECONDS + 300))
    while { kill -0 "$A1" || kill -0 "$A2"; } 2>/dev/null && [ $SECONDS -lt $t_wait ]; do sleep 0.05; done
    if kill -0 "$A1" 2>/dev/null || kill -0 "$A2" 2>/dev/null; then
        fail "round $r: the agents end" "still running after 300 s"
        kill -9 "$A1" "$A2" 2>/dev/null
    fi
    wait "$A1"; rc1=$?
    wait "$A2"; rc2=$?
    touch "$WORK/stop"
    wait "$CPID"
    ngc=$(wc -l < "$conc")
    check "round $r: both agents exit 0" test "$rc1:$rc2" = 0:0

    # Both backups completed and committed a point.
    for jv_id in "$J1:same" "$J2:fresh"; do
        j=${jv_id%%:*} vm=${jv_id#*:}
        job_end "$j" 60
        if [ "$(json_get "$WORK/job.json" 'j["status"] == "Completed" and bool(j["recoveryPoint"])')" = True ]; then
            pass "round $r: the backup of '$vm' completed"
            p=$(json_get "$WORK/job.json" 'j["recoveryPoint"]')
            TAG[$p]="$vm r$r"
            if [ "$vm" = same ]; then
                SAME_LAST=$p
                s_stats=$(json_get "$WORK/job.json" '"%d new, %d dedup" % (j["stats"]["chunksNew"], j["stats"]["chunksDeduplicated"])')
            else
                FRESH_LAST=$p
                f_stats=$(json_get "$WORK/job.json" '"%d new, %d dedup" % (j["stats"]["chunksNew"], j["stats"]["chunksDeduplicated"])')
                [ $((r % 2)) = 0 ] && FRESH_KEPT+=("$p")
            fi
        else
            fail "round $r: the backup of '$vm' completed" \
                "$(json_get "$WORK/job.json" '"%s %s" % (j.get("status"), j.get("error"))' 2>&1 | one_line)"
        fi
    done
    check "round $r: the collections during the backups completed with sane stats" gc_sane "$conc" 1
    touch "${conc%.jsonl}.prune"
    nprune=$(wc -l < "${conc%.jsonl}.prune")
    check "round $r: the prunes during the backups (if any) completed" "$PY" -c '
import json, sys
sys.exit(any(json.loads(l)["status"] != "Completed" for l in open(sys.argv[1])))' "${conc%.jsonl}.prune"

    # With nothing running: a collection (it must read every point of the catalog and
    # account for every chunk), then the prune that makes the next round's garbage.
    NPOINTS=$(( $(points "$SAME" | grep -c .) + $(points "$FRESH" | grep -c .) ))
    server_job gc "$seq_log"
    check "round $r: a collection after the backups reads every point, accounts for every chunk" \
        gc_sane "$seq_log" 0
    server_job prune "$seq_log.prune"
    check "round $r: the prune completes" test "$(json_get "$WORK/job.json" 'j["status"]')" = Completed
    want_same=$SAME_LAST
    want_fresh=$(printf '%s\n' "${FRESH_KEPT[@]}" "$FRESH_LAST" | sed '/^$/d' | sort -u)
    check "round $r: the catalog holds exactly the points it should" \
        test "$(points "$SAME")|$(points "$FRESH")" = "$want_same|$want_fresh"
    out=$(verify_catalog 2>&1) && pass "round $r: every point in the catalog restores byte-identical" ||
        fail "round $r: every point in the catalog restores byte-identical" "$(printf '%s' "$out" | one_line)"

    removed=$(( $(sum_removed "$conc") + $(sum_removed "$seq_log") ))
    cr=$(sum_removed "$conc") kept=$(sum_kept "$conc")
    KEPT=$((KEPT + kept))
    TOTAL_REMOVED=$((TOTAL_REMOVED + removed)); CONC_REMOVED=$((CONC_REMOVED + cr))
    [ "$removed" -gt 0 ] && ROUNDS_REMOVING=$((ROUNDS_REMOVING + 1))
    echo "     round $r: same ${s_stats:-?}, fresh ${f_stats:-?}; $ngc collections and $nprune prunes during the backups, which removed $cr chunks and kept $kept for them; $removed removed in the round, $NPOINTS points; $((SECONDS - t_round)) s"
done

echo "     chunks removed: $TOTAL_REMOVED in $ROUNDS_REMOVING of $ROUNDS rounds, $CONC_REMOVED while backups ran; $KEPT kept for running backups"
# Fresh's short-lived points of odd rounds hold data nothing else has: from round 3
# on, every odd round starts with their chunks as garbage.
check "the collections removed chunks in every round that started with garbage" \
    test "$TOTAL_REMOVED" -gt 0 -a "$ROUNDS_REMOVING" -ge $(((ROUNDS - 1) / 2))
check "some of them while backups ran" test "$CONC_REMOVED" -gt 0
check "collections ran while backups held unreferenced chunks, and kept those" test "$KEPT" -gt 0

# The end: the last garbage goes, and a second collection finds none.
final=$WORK/final.jsonl
NPOINTS=$(( $(points "$SAME" | grep -c .) + $(points "$FRESH" | grep -c .) ))
server_job gc "$final"
server_job gc "$WORK/final2.jsonl"
check "a last collection completes" gc_sane "$final" 0
check_out "and one after it finds nothing to remove" \
    'j["status"] == "Completed" and j["stats"]["chunksRemoved"] == 0 and j["stats"]["chunksLive"] == j["stats"]["chunksTotal"] > 0' \
    cat "$WORK/job.json"
out=$(verify_catalog 2>&1) && pass "every point left restores byte-identical" ||
    fail "every point left restores byte-identical" "$(printf '%s' "$out" | one_line)"
srv_stop; rc=$?
check "the server stops cleanly (exit 0)" test "$rc" = 0
check "vmvaultd check re-reads every point and chunk" "$VMVAULTD" check --data-dir "$SRV_DATA"
echo "     $ROUNDS rounds in $((SECONDS - T_BEGIN)) s"
finish
