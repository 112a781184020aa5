#!/usr/bin/env bash
# The server's edge against clients that hold memory and connections: a request is
# authenticated and its role checked from its headers alone, before a byte of its body
# is read (unauthenticated 100 MiB uploads cost the server nothing; a Reader's POST to
# an Operator route gets its 403 while its body is still unsent); all bodies in flight
# share one memory budget (503 ServerBusy with Retry-After past it); thousands of idle
# connections leave the health check and authenticated work answering at once; one
# address gets a bounded number of connections; a connection that does not complete
# its request's headers within the header timeout is closed, however slowly they
# trickle in, while a request in progress (a long poll) is not. Then the same over
# HTTPS, where idle connections stall in the handshake.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_server.sh"
cd "$WORK"
PROBE="$PY -S $TOP/tests/tools/edgeprobe.py"
MiB=1048576

# probe NAME ARGS...: edgeprobe.py's JSON answer into $NAME.json (plain URL).
probe() { local n=$1; shift; timeout 120 $PROBE --url "$SRV_URL" "$@" > "$n.json" 2> "$n.err"; }
# check_probe NAME FILE EXPR: EXPR (python, on j) is true of the probe's answer.
check_probe() {
    local v
    v=$(json_value "bool($3)" < "$2.json" 2>/dev/null)
    if [ "$v" = True ]; then pass "$1"
    else fail "$1" "($3) is not true of: $(cat "$2.json" "$2.err" 2>/dev/null | one_line 600)"; fi
}
# The server's peak resident memory so far (VmHWM), in KiB.
peak_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$SRV_PID/status"; }

srv_start "$WORK/data" --body-budget 20M --max-connections-per-address 100 || finish

# The slow clients run all along: a connection that never sends a byte, and one that
# sends its headers a byte a second. Both must be closed at the header timeout (15 s).
probe silent silent --max 40 & BG_PIDS+=($!)
probe slow slowloris --interval 1 --max 40 & BG_PIDS+=($!)

# ---- callers: a vault, a Reader, a registered host ---------------------------------
"$VMVAULT" vault create --name v1 --location westeurope >/dev/null 2>&1
"$VMVAULT" user create --name reader --role Reader >/dev/null 2>&1
READER=$("$VMVAULT" token create --user reader 2>/dev/null | json_value 'j["token"]' 2>/dev/null)
run_vvapi call POST /api/v1/vaults/v1/credentials '{}' > creds.json 2>/dev/null
run_vvapi --state a.json agent register --creds creds.json --host host1 >/dev/null 2>&1
AGENT=$(json_get a.json 'j["token"]' 2>/dev/null)
if [ -n "$READER" ] && [ -n "$AGENT" ]; then pass "a Reader's and a host agent's tokens"
else fail "a Reader's and a host agent's tokens" "reader '$READER' agent '$AGENT'"; fi

# ---- 1. nothing is read before the token is checked --------------------------------
curl -sS -m 5 "$SRV_URL/api/v1/health" >/dev/null
RSS0=$(peak_kib)
IDX=/api/v1/agent/jobs/00000000-0000-4000-8000-000000000000/disks/vda/index
CHK=/api/v1/agent/chunks/$(printf '%064d' 0)
for i in 1 2 3; do
    probe up-idx$i upload PUT "$IDX" $((100 * MiB)) --wait 10 & BG_PIDS+=($!); pids="${pids:-} $!"
    probe up-chk$i upload PUT "$CHK" $((100 * MiB)) --wait 10 & BG_PIDS+=($!); pids="$pids $!"
done
wait $pids
for i in 1 2 3; do
    for r in idx chk; do
        check_probe "unauthenticated 100 MiB upload ($r route, $i) gets 401 at once, its body unread" \
            "up-$r$i" 'j["status"] == 401 and j["seconds"] < 2 and j["sent"] < 32 * 1048576'
    done
done
RSS1=$(peak_kib)
if [ -n "$RSS0" ] && [ -n "$RSS1" ] && [ $((RSS1 - RSS0)) -lt 16384 ]; then
    pass "six unauthenticated 100 MiB uploads leave the server's memory alone (peak ${RSS0} -> ${RSS1} KiB)"
else
    fail "six unauthenticated 100 MiB uploads leave the server's memory alone" "peak (VmHWM) ${RSS0} -> ${RSS1} KiB"
fi
probe tok-bad early PUT "$CHK" $((16 * MiB)) --token vva_00000000_garbage --wait 5
check_probe "an unknown token is refused before its body (401)" tok-bad 'j["status"] == 401 and j["seconds"] < 2'

# ---- a token's role is checked before its body is sent or parsed -------------------
probe reader-op early POST /api/v1/vaults/v1/protectedItems 1000000 --token "$READER" --wait 5
check_probe "a Reader's POST to an Operator route gets 403 while its body is unsent" reader-op \
    'j["status"] == 403 and j["sent"] == 0 and j["seconds"] < 2'
probe reader-own early POST /api/v1/users 1000000 --token "$READER" --wait 5
check_probe "a Reader's POST to an Owner route gets 403 while its body is unsent" reader-own \
    'j["status"] == 403 and j["seconds"] < 2'
probe agent-user early POST /api/v1/vaults 1000000 --token "$AGENT" --wait 5
check_probe "an agent's POST to a user route gets 403 while its body is unsent" agent-user \
    'j["status"] == 403 and j["seconds"] < 2'
probe user-agent early PUT "$CHK" $((16 * MiB)) --token "$OWNER_TOKEN" --wait 5
check_probe "an Owner's upload to an agent route gets 403 while its body is unsent" user-agent \
    'j["status"] == 403 and j["seconds"] < 2'
probe no-route early PUT /api/v1/nowhere $((100 * MiB)) --token "$OWNER_TOKEN" --wait 5
check_probe "an unknown route gets 404 while its body is unsent" no-route \
    'j["status"] == 404 and j["seconds"] < 2'
probe too-big early PUT "$CHK" $((100 * MiB)) --token "$AGENT" --wait 5
check_probe "an agent's upload over the route's cap gets 413 while its body is unsent" too-big \
    'j["status"] == 413 and j["seconds"] < 2'
API_TOKEN=$READER check_api "a Reader's own routes still work" 200 "" GET /api/v1/vaults

# ---- the body budget (20 MiB here) -------------------------------------------------
rm -f held.ready
timeout 60 $PROBE --url "$SRV_URL" hold PUT "$CHK" $((16 * MiB)) --token "$AGENT" \
    --send $MiB --ready held.ready --max 30 > held.json 2>held.err & HOLD=$!; BG_PIDS+=($HOLD)
for _ in $(seq 1 100); do [ -e held.ready ] && break; sleep 0.1; done
head -c $((16 * MiB)) /dev/zero > big.bin
code=$(curl -sS -m 20 -o busy.json -D busy.hdr -w '%{http_code}' -X PUT -H "Authorization: Bearer $AGENT" \
    -H "Content-Type: application/octet-stream" --data-binary @big.bin "$SRV_URL$CHK" 2>busy.err)
if [ "$code" = 503 ] && grep -q ServerBusy busy.json && grep -qi '^Retry-After: [0-9]' busy.hdr; then
    pass "a second 16 MiB upload past the body budget gets 503 ServerBusy with Retry-After"
else
    fail "a second 16 MiB upload past the body budget gets 503 ServerBusy with Retry-After" \
        "HTTP $code $(one_line < busy.json) $(grep -i retry-after busy.hdr | one_line) $(one_line < busy.err)"
fi
check "the 503 names the budget and its option" grep -q -- "--body-budget" busy.json
head -c $((8 * MiB)) /dev/zero > mid.bin
code=$(curl -sS -m 20 -o chunked.json -w '%{http_code}' -X PUT -H "Authorization: Bearer $AGENT" \
    -H "Content-Type: application/octet-stream" -H "Transfer-Encoding: chunked" \
    --data-binary @mid.bin "$SRV_URL$CHK" 2>chunked.err)
if [ "$code" = 503 ] && grep -q ServerBusy chunked.json; then
    pass "a chunked upload (no Content-Length) is charged as it grows: 503 past the budget"
else
    fail "a chunked upload (no Content-Length) is charged as it grows: 503 past the budget" \
        "HTTP $code $(one_line < chunked.json) $(one_line < chunked.err)"
fi
kill "$HOLD" 2>/dev/null; wait "$HOLD" 2>/dev/null
sleep 0.5
code=$(curl -sS -m 20 -o after.json -w '%{http_code}' -X PUT -H "Authorization: Bearer $AGENT" \
    -H "Content-Type: application/octet-stream" --data-binary @big.bin "$SRV_URL$CHK" 2>/dev/null)
if [ "$code" != 503 ] && [ "$code" != 000 ]; then
    pass "once the first upload is gone its budget is back (HTTP $code from the handler)"
else fail "once the first upload is gone its budget is back" "HTTP $code $(one_line < after.json)"; fi
head -c $((21 * MiB)) /dev/zero > huge.bin
code=$(curl -sS -m 20 -o huge.json -w '%{http_code}' -X PUT -H "Authorization: Bearer $AGENT" \
    -H "Content-Type: application/octet-stream" --data-binary @huge.bin "$SRV_URL$IDX" 2>/dev/null)
if [ "$code" = 413 ] && grep -q RequestTooLarge huge.json && grep -q -- "--body-budget" huge.json; then
    pass "a body larger than the whole budget gets 413 (it could never fit)"
else fail "a body larger than the whole budget gets 413" "HTTP $code $(one_line < huge.json)"; fi

# ---- 2. connections ---------------------------------------------------------------
# 3000 connections, fewer where the open-file limit (of this shell and of the server,
# which raises its own to the hard limit) cannot hold them
NIDLE=3000 HARD=$(ulimit -Hn)
[ "$HARD" != unlimited ] && [ "$HARD" -lt 6400 ] && NIDLE=$((HARD / 2 - 200))
probe idle idle --count "$NIDLE" --sources 127.0.0.2-31 --token "$OWNER_TOKEN"
check_probe "$NIDLE idle connections from 30 addresses are all accepted" idle "j['opened'] == $NIDLE"
check_probe "with them open, GET /api/v1/health answers within 2 s" idle \
    'j["health_status"] == 200 and j["health_seconds"] < 2'
check_probe "with them open, an authenticated request answers within 2 s" idle \
    'j["whoami_status"] == 200 and j["whoami_seconds"] < 2'
check_probe "and the server still holds them all" idle "j['still_open'] >= $NIDLE - 10"
probe perip per-address --count 100 --source 127.0.0.40
check_probe "the 101st connection from one address is closed at once" perip \
    'j["extra_closed"] and j["extra_seconds"] < 2'
check_probe "while its first 100 stay open" perip 'j["first_open"] == 100'
check_api "the API works on after all that" 200 "" GET /api/v1/whoami

wait "${BG_PIDS[0]}" "${BG_PIDS[1]}" 2>/dev/null
check_probe "a connection that sends nothing is closed at the header timeout (15 s)" silent \
    'j["closed"] and 12 <= j["seconds"] <= 20'
check_probe "headers sent a byte a second are cut off at the header timeout (15 s)" slow \
    'j["closed"] and 12 <= j["seconds"] <= 22'
check "the server logs why it closed them" grep -q "sent no complete request headers" "$SRV_LOG"
srv_stop; rc=$?
if [ "$rc" = 0 ]; then pass "the server stops cleanly after all that (exit 0)"
else fail "the server stops cleanly after all that (exit 0)" "exit $rc; $(srv_log_tail 8)"; fi

# ---- the same over HTTPS ------------------------------------------------------------
srv_start "$WORK/tls" --tls auto --header-timeout 3 || finish
probe tslow slowloris --interval 0.5 --max 20 & BG_PIDS+=($!); TSLOW=$!
probe tidle idle --count 1000 --sources 127.0.0.50-59 --token "$OWNER_TOKEN"
check_probe "HTTPS: 1000 connections stalled before the handshake are accepted" tidle 'j["opened"] == 1000'
check_probe "HTTPS: with them open, health and an authenticated request answer within 2 s" tidle \
    'j["health_status"] == 200 and j["health_seconds"] < 2 and j["whoami_status"] == 200 and j["whoami_seconds"] < 2'
probe tup upload PUT "$IDX" $((100 * MiB)) --wait 10
check_probe "HTTPS: an unauthenticated 100 MiB upload gets 401 at once" tup \
    'j["status"] == 401 and j["seconds"] < 2'
probe tsilent silent --max 20
check_probe "HTTPS: a connection stalled in the handshake is closed at the header timeout (3 s)" tsilent \
    'j["closed"] and 2 <= j["seconds"] <= 8'
# A request in progress is not cut at the header timeout: an agent's long poll of 6 s
# waits suspended, past the 3 s, and ends with its 204.
tcurl() { curl -ksS -m 20 -H "Content-Type: application/json" "$@"; }
tcurl -H "Authorization: Bearer $OWNER_TOKEN" -d '{"name": "v1", "location": "westeurope"}' \
    "$SRV_URL/api/v1/vaults" >/dev/null 2>&1
tcurl -H "Authorization: Bearer $OWNER_TOKEN" -d '{}' "$SRV_URL/api/v1/vaults/v1/credentials" > tcreds.json 2>/dev/null
treg=$(json_value '{"vaultId": j["vaultId"], "registrationSecret": j["registrationSecret"], "hostName": "host1", "agentVersion": "0.1.0"}' < tcreds.json 2>/dev/null)
TAGENT=$(tcurl -d "$treg" "$SRV_URL/api/v1/agent/register" 2>/dev/null | json_value 'j["token"]' 2>/dev/null)
out=$(tcurl -o /dev/null -w '%{http_code} %{time_total}' -H "Authorization: Bearer $TAGENT" \
    "$SRV_URL/api/v1/agent/jobs/next?wait=6" 2>&1)
if [ "${out%% *}" = 204 ] && awk -v t="${out#* }" 'BEGIN { exit !(t >= 5.5) }'; then
    pass "HTTPS: a 6 s long poll outlives the 3 s header timeout (204 after ${out#* } s)"
else fail "HTTPS: a 6 s long poll outlives the 3 s header timeout" "curl: $out (agent token '${TAGENT:0:8}')"; fi
wait "$TSLOW" 2>/dev/null
check_probe "HTTPS: headers sent slowly are cut off at the header timeout (3 s)" tslow \
    'j["closed"] and 2 <= j["seconds"] <= 9'
srv_stop; rc=$?
if [ "$rc" = 0 ]; then pass "HTTPS: the server stops cleanly (exit 0)"
else fail "HTTPS: the server stops cleanly (exit 0)" "exit $rc; $(srv_log_tail 8)"; fi
finish
