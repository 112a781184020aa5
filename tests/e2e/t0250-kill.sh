#!/usr/bin/env bash
# kill -9 of the vault server in the middle of many parallel chunk uploads and
# recovery-point commits, at several moments. After each restart the server answers,
# every acknowledged chunk and point is still there, the points the API lists are
# exactly those in the store (none half-committed), and the offline check (catalog
# and store, every point fully verified) passes. A backup after all that succeeds.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_server.sh"
cd "$WORK"
D=$WORK/data
TOOLS=$TOP/tests/tools
srv_start "$D" || finish

run_vvapi call POST /api/v1/vaults '{"name": "v1", "location": "westeurope"}' > v1.json
V1ID=$(json_get v1.json 'j["id"]')
run_vvapi call POST /api/v1/vaults/v1/credentials '{}' > creds.json
check "agent registers" run_vvapi --state a.json agent register --creds creds.json --host host1
vms=()
for i in 1 2 3 4 5 6 7 8; do vms+=("vm$i:0000000$i-1111-4111-8111-11111111111$i"); done
check "agent reports 8 VMs" run_vvapi --state a.json agent inventory "${vms[@]}"
for i in 1 2 3 4 5 6 7 8; do run_vvapi call POST /api/v1/vaults/v1/protectedItems "{\"vm\": \"vm$i\"}" >/dev/null; done
check_api "8 items protected" 200 "" GET /api/v1/vaults/v1/protectedItems
check_json "8" 'len(L) == 8'

# api_points: every recovery point the API lists in v1, sorted, one per line.
api_points() {
    "$PY" -S - "$SRV_URL" "$OWNER_TOKEN" <<'PY'
import sys
sys.path.insert(0, __import__("os").environ["TOOLS"])
import vvapi
c = vvapi.Client(sys.argv[1], sys.argv[2])
names = []
for it in c.call("GET", "/api/v1/vaults/v1/protectedItems")["value"]:
    q = "?container=" + it["container"]
    names += [p["name"] for p in c.call("GET", f"/api/v1/vaults/v1/protectedItems/{it['name']}/recoveryPoints{q}")["value"]]
for n in sorted(names):
    print(n)
PY
}
export TOOLS

# settle: jobs left running by the killed server are ended: cancelled when queued,
# and completed as Failed by the agent when it had claimed them. Prints what is left.
settle() {
    "$PY" -S - "$SRV_URL" "$OWNER_TOKEN" a.json <<'PY'
import json, sys
sys.path.insert(0, __import__("os").environ["TOOLS"])
import vvapi
c = vvapi.Client(sys.argv[1], sys.argv[2])
ag = vvapi.Client(sys.argv[1], json.load(open(sys.argv[3]))["token"])
def open_jobs():
    return [j for j in c.call("GET", "/api/v1/vaults/v1/jobs?limit=1000")["value"]
            if j["status"] in ("InProgress", "Cancelling")]
for j in open_jobs():
    try:
        c.call("POST", f"/api/v1/vaults/v1/jobs/{j['id']}/cancel", {})
    except vvapi.ApiError as e:
        print("cancel", j["id"], e, file=sys.stderr)
for j in open_jobs():
    try:
        ag.call("POST", f"/api/v1/agent/jobs/{j['id']}/complete",
                {"status": "Failed", "error": {"code": "AgentRestarted", "message": "the vault went away"}})
    except vvapi.ApiError as e:
        print("complete", j["id"], e, file=sys.stderr)
print(len(open_jobs()))
PY
}

# wait_log FILE WHAT N: waits (at most 60 s) until FILE has N lines starting "WHAT ".
wait_log() {
    local deadline=$((SECONDS + 60))
    while [ "$(grep -c "^$2 " "$1")" -lt "$3" ]; do
        [ $SECONDS -lt $deadline ] || return 1
        kill -0 "$load" 2>/dev/null || return 1
        sleep 0.01
    done
}

# One round per moment: load, kill -9 once the server has acknowledged N chunk uploads
# or N commits (many more are in flight then), restart, check.
# spec: WHAT:N:CHUNKS-PER-DISK:PARALLEL-JOBS
round=0
for spec in "chunk:3:8:8" "point:2:4:8" "chunk:150:24:4" "point:12:6:8" "chunk:60:16:6" "point:30:3:8"; do
    IFS=: read -r what n chunks par <<< "$spec"
    round=$((round + 1))
    : > "stress$round.log"
    $VVAPI --url "$SRV_URL" --state a.json agent stress --owner-token "$OWNER_TOKEN" \
        --vault v1 --parallel "$par" --threads 4 --chunks "$chunks" --chunk-size 131072 \
        --seed "r$round" --log "stress$round.log" > "stress$round.out" 2>&1 &
    load=$!; BG_PIDS+=("$load")
    wait_log "stress$round.log" "$what" "$n"; reached=$?
    srv_kill
    for _ in $(seq 1 200); do kill -0 "$load" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$load" 2>/dev/null
    wait "$load" 2>/dev/null; lrc=$?
    nchunks=$(grep -c '^chunk ' "stress$round.log"); npoints=$(grep -c '^point ' "stress$round.log")
    echo "     round $round: killed after $nchunks acknowledged chunk uploads and $npoints commits"
    check "round $round: the load reached $n ${what}s before the kill" test "$reached" = 0
    if [ "$lrc" = 1 ]; then
        fail "round $round: no error answers under load" "$(tail -n 3 "stress$round.out")"
    else
        pass "round $round: no error answers under load"
    fi

    srv_start "$D" || finish
    pass "round $round: the server comes back after kill -9"
    api_points > api.txt 2>api.err
    check "round $round: the API lists its points" test ! -s api.err
    store_points "$V1ID" > store.txt
    check "round $round: points listed by the API are exactly those in the store" \
        sh -c "diff api.txt store.txt >&2"
    grep '^point ' "stress$round.log" | cut -d' ' -f2 | sort > acked.txt
    check "round $round: every acknowledged commit survived ($npoints)" \
        sh -c "comm -23 acked.txt api.txt | tee /dev/stderr | (! grep -q .)"
    grep '^chunk ' "stress$round.log" | cut -d' ' -f2 | sort -u > acked-chunks.txt
    "$PY" -S -c 'import json,sys; print(json.dumps({"ids": [l.strip() for l in open(sys.argv[1]) if l.strip()][:10000]}))' \
        acked-chunks.txt > acked-chunks.json
    API_TOKEN=$(json_get a.json 'j["token"]') api POST /api/v1/agent/chunks/missing @acked-chunks.json
    check_json "round $round: every acknowledged chunk survived ($nchunks)" 'j["missing"] == []'
    left=$(settle 2>settle.err)
    check "round $round: jobs cut off by the kill can be ended" test "$left" = 0
    rc=0; srv_stop || rc=$?
    check "round $round: then the server stops cleanly" test "$rc" = 0
    check "round $round: vmvaultd check passes (catalog, store, every point verified)" \
        "$VMVAULTD" check --data-dir "$D"
    srv_start "$D" || finish
done

check "the catalog passes SQLite's integrity check" "$PY" -S -c \
    "import sqlite3, sys; c = sqlite3.connect('file:$D/catalog.db?mode=ro', uri=True); r = c.execute('pragma integrity_check').fetchall(); print(r); sys.exit(r != [('ok',)])"
before=$(api_points | grep -c .)
check_api "a backup after the kills" 202 "" POST /api/v1/vaults/v1/protectedItems/vm1/backup '{}'
J=$(api_field 'j["id"]')
check_out "runs to completion" 'j["status"] == "Completed" and j["recoveryPoint"]["name"].startswith("rp-")' \
    run_vvapi --state a.json agent backup --next --seed final --chunks 16
check_api "its job is Completed" 200 "" GET "/api/v1/vaults/v1/jobs/$J"
check_json "Completed" 'j["status"] == "Completed" and j["recoveryPoint"]'
check "and its point is listed" test "$(api_points | grep -c .)" = $((before + 1))
rc=0; srv_stop || rc=$?
check "the server exits 0 on SIGTERM" test "$rc" = 0
check "vmvaultd check passes at the end" "$VMVAULTD" check --data-dir "$D"
finish
