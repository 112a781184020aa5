# lib_server.sh: sourced after lib.sh by the end-to-end tests that run the vault
# server (vmvaultd) for real and talk to it through the CLI and raw HTTP.
#
#   srv_start DATA [ARGS...]  start vmvaultd on DATA (made if missing), listening on a
#                             free loopback port; waits until /api/v1/health answers.
#                             Sets SRV_URL, SRV_PID, SRV_LOG, OWNER_TOKEN and exports
#                             VMVAULT_URL / VMVAULT_TOKEN for the CLI.
#   srv_stop                  SIGTERM and wait; returns the server's exit status.
#   srv_kill                  SIGKILL and wait.
#   srv_restart               srv_stop (checked: clean exit 0), then srv_start again
#                             (same data folder and arguments).
#   api METHOD PATH [BODY]    curl with the bearer token $API_TOKEN (default: the
#                             owner's). BODY is a JSON string or @FILE. Sets
#                             API_STATUS and API_BODY (a file); API_CTYPE overrides
#                             the content type, API_HDRS (array) adds headers.
#   check_api NAME STATUS CODE METHOD PATH [BODY]
#                             one check: the answer has STATUS and, when CODE is not
#                             empty, the error code CODE.
#   api_field EXPR            a value of the last API answer (python expression on j).
#   json_value EXPR           a value of the JSON on stdin; L is j["value"] for a
#                             {"value": [...]} list answer, else j.
#   run_vvapi ARGS...         tests/tools/vvapi.py with the server's URL.
#   cli_as TOKEN ARGS...      the CLI with another token.
VMVAULTD=${VMVAULTD:-$TOP/build/vmvaultd}
case $VMVAULTD in /*) ;; *) VMVAULTD=$PWD/$VMVAULTD ;; esac
case $VMVAULT in /*) ;; *) VMVAULT=$PWD/$VMVAULT ;; esac
# the interpreter itself (not a shim), without site packages: starts in a fraction
PY=$(python3 -c 'import sys; print(sys.executable)')
VVAPI="$PY -S $TOP/tests/tools/vvapi.py"
SRV_DATA= SRV_PID= SRV_URL= SRV_LOG= OWNER_TOKEN=
SRV_ARGS=()
SRV_ALL_PIDS=()
BG_PIDS=()
API_BODY=$WORK/.api-body
API_TOKEN=
API_CTYPE=application/json
API_HDRS=()
SRV_START_TIMEOUT=${SRV_START_TIMEOUT:-60}

_srv_cleanup() {
    local rc=$? p
    for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    if [ -n "$SRV_PID" ] && kill -0 "$SRV_PID" 2>/dev/null; then
        kill -TERM "$SRV_PID" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.05; done
    fi
    for p in "${SRV_ALL_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    # Sanitizer reports in any server log are failures even if no check noticed.
    local f
    for f in "$WORK"/*.log; do
        [ -e "$f" ] || continue
        if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f"; then
            echo "FAIL sanitizer report in $(basename "$f"):"
            grep -E -A 12 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f" | head -n 40 | sed 's/^/     /'
            rc=1
        fi
    done
    [ "${VV_KEEP:-0}" = 1 ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
    exit "$rc"
}
trap _srv_cleanup EXIT

# The last lines of the current server log, indented (for failure messages).
srv_log_tail() { [ -n "$SRV_LOG" ] && tail -n "${1:-15}" "$SRV_LOG" | sed 's/^/     /'; }

srv_start() {
    local data=$1; shift
    SRV_ARGS=("$@")
    if [ ! -x "$VMVAULTD" ]; then
        fail "vmvaultd is built" "$VMVAULTD does not exist; run make"
        finish
    fi
    mkdir -p "$data"
    SRV_DATA=$(cd "$data" && pwd)
    SRV_LOG=$WORK/$(basename "$SRV_DATA").log
    rm -f "$SRV_DATA/vmvaultd.url"
    echo "---- start $(date -u +%FT%TZ) $*" >> "$SRV_LOG"
    "$VMVAULTD" --data-dir "$SRV_DATA" --listen 127.0.0.1:0 --log-level debug "$@" >>"$SRV_LOG" 2>&1 &
    SRV_PID=$!
    SRV_ALL_PIDS+=("$SRV_PID")
    local deadline=$((SECONDS + SRV_START_TIMEOUT))
    SRV_URL=
    while [ $SECONDS -lt $deadline ]; do
        if ! kill -0 "$SRV_PID" 2>/dev/null; then
            wait "$SRV_PID"; local rc=$?
            echo "FAIL server starts: vmvaultd exited with status $rc"; srv_log_tail 20
            T_FAILED=1; SRV_PID=; return 1
        fi
        if [ -z "$SRV_URL" ] && [ -s "$SRV_DATA/vmvaultd.url" ]; then
            SRV_URL=$(tr -d ' \n\r' < "$SRV_DATA/vmvaultd.url")
        fi
        # -k: an https:// URL (vmvaultd --tls ...) is up once it answers; its
        # certificate is the business of the test that asked for it.
        if [ -n "$SRV_URL" ] && curl -kfsS -m 2 "$SRV_URL/api/v1/health" >/dev/null 2>&1; then
            OWNER_TOKEN=
            [ -r "$SRV_DATA/owner.token" ] && OWNER_TOKEN=$(tr -d ' \n\r' < "$SRV_DATA/owner.token")
            export VMVAULT_URL=$SRV_URL VMVAULT_TOKEN=$OWNER_TOKEN
            return 0
        fi
        sleep 0.05
    done
    echo "FAIL server starts: no answer on /api/v1/health within ${SRV_START_TIMEOUT}s (url '${SRV_URL}')"
    srv_log_tail 20
    T_FAILED=1
    return 1
}

# srv_stop: SIGTERM, wait (at most 30 s, then SIGKILL), return the exit status.
srv_stop() {
    [ -n "$SRV_PID" ] || return 0
    local pid=$SRV_PID rc
    kill -TERM "$pid" 2>/dev/null
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "     server did not stop within 30 s of SIGTERM; killing it"
        kill -9 "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null; rc=$?
    SRV_PID=
    return "$rc"
}

srv_kill() {
    [ -n "$SRV_PID" ] || return 0
    kill -9 "$SRV_PID" 2>/dev/null
    wait "$SRV_PID" 2>/dev/null
    SRV_PID=
}

# srv_restart NAME: stops the server (a check that it exits 0 on SIGTERM) and starts it
# again on the same data folder.
srv_restart() {
    local rc
    srv_stop; rc=$?
    if [ "$rc" = 0 ]; then pass "${1:-server} stops cleanly on SIGTERM (exit 0)"
    else fail "${1:-server} stops cleanly on SIGTERM (exit 0)" "exit status $rc; $(srv_log_tail 8)"; fi
    srv_start "$SRV_DATA" "${SRV_ARGS[@]}"
}

api() {
    local method=$1 path=$2 body=${3-} tok=${API_TOKEN:-$OWNER_TOKEN}
    local args=(-sS -m 60 -o "$API_BODY" -w '%{http_code}' -X "$method")
    [ "$tok" = - ] || args+=(-H "Authorization: Bearer $tok")
    if [ -n "$body" ]; then
        args+=(-H "Content-Type: $API_CTYPE" --data-binary "$body")
    fi
    local h
    for h in "${API_HDRS[@]}"; do args+=(-H "$h"); done
    : > "$API_BODY"
    API_STATUS=$(curl "${args[@]}" "$SRV_URL$path" 2>"$WORK/.api-err") || true
    [ -n "$API_STATUS" ] || API_STATUS=000
}

# api_field EXPR: EXPR evaluated on the last answer's JSON (j); prints nothing when the
# answer is not JSON or EXPR fails.
api_field() { "$PY" -S - "$API_BODY" "$1" <<'PY' 2>/dev/null
import json, sys
try:
    j = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(1)
L = j["value"] if isinstance(j, dict) and isinstance(j.get("value"), list) else j
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list)) or v is None else v)
PY
}

json_value() { "$PY" -S -c '
import json, sys
j = json.load(sys.stdin)
L = j["value"] if isinstance(j, dict) and isinstance(j.get("value"), list) else j
v = eval(sys.argv[1])
print(json.dumps(v) if isinstance(v, (dict, list)) or v is None else v)' "$1"; }

# one_line [N]: stdin on one line, runs of blanks squeezed, at most N (400) characters;
# failure messages stay on their FAIL line.
one_line() { tr '\n\t' '  ' | tr -s ' ' | head -c "${1:-400}"; }
# The error code of the last answer, or "-".
api_code() { local c; c=$(api_field 'j["error"]["code"]') && echo "$c" || echo -; }
api_show() {
    printf 'HTTP %s %s' "$API_STATUS" "$(one_line < "$API_BODY")"
    [ "$API_STATUS" != 000 ] || printf ' (%s)' "$(one_line < "$WORK/.api-err")"
}

check_api() {
    local name=$1 want=$2 code=$3; shift 3
    api "$@"
    api_verdict "$name" "$want" "$code" "$@"
}

# api_verdict NAME STATUS CODE WHAT...: PASS when the last answer has STATUS (and
# error CODE when not empty); WHAT names the request in the FAIL line.
api_verdict() {
    local name=$1 want=$2 code=$3; shift 3
    if [ "$API_STATUS" != "$want" ]; then
        fail "$name" "$* -> $(api_show), expected $want${code:+ $code}"
    elif [ -n "$code" ] && [ "$(api_code)" != "$code" ]; then
        fail "$name" "$* -> $(api_show), expected code $code"
    else
        pass "$name"
    fi
}

# check_json NAME EXPR: passes when python expression EXPR (on j/L of the last
# answer) is true.
check_json() {
    local name=$1 expr=$2 v
    v=$(api_field "bool($expr)")
    if [ "$v" = True ]; then pass "$name"
    else fail "$name" "($expr) is not true of $(api_show | one_line 600)"; fi
}

# check_out NAME EXPR COMMAND...: runs COMMAND (it must exit 0 and print JSON) and
# passes when python expression EXPR on that JSON (j, L) is true.
check_out() {
    local name=$1 expr=$2 out rc v; shift 2
    out=$("$@" 2>"$WORK/.cmd-err"); rc=$?
    if [ "$rc" != 0 ]; then
        fail "$name" "exit $rc: $(one_line < "$WORK/.cmd-err") $(printf '%s' "$out" | one_line)"
        return
    fi
    v=$(printf '%s' "$out" | json_value "bool($expr)" 2>&1)
    if [ "$v" = True ]; then pass "$name"
    else fail "$name" "($expr) is not true of: $(printf '%s' "$out" | one_line 600)"; fi
}

run_vvapi() { $VVAPI --url "$SRV_URL" "$@"; }
cli_as() { local t=$1; shift; env VMVAULT_TOKEN="$t" "$VMVAULT" "$@"; }

# store_points VAULT_ID: the recovery points present in a vault's store (those with a
# manifest), sorted, one per line.
store_points() {
    local d=$SRV_DATA/vaults/$1/store/points
    [ -d "$d" ] || return 0
    find "$d" -mindepth 2 -maxdepth 2 -name manifest -printf '%h\n' | xargs -r -n1 basename | sort
}

# check_refused NAME EXIT CODE PATTERN COMMAND...: passes when COMMAND exits EXIT and
# its output (stdout+stderr) has the error code CODE and matches grep -E PATTERN
# (anywhere, on any line; an empty PATTERN matches).
check_refused() {
    local name=$1 want=$2 code=$3 pat=$4 out rc; shift 4
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" != "$want" ]; then
        fail "$name" "exit $rc, expected $want ($code); output: $(printf '%s' "$out" | one_line)"
    elif ! printf '%s' "$out" | grep -q -- "$code"; then
        fail "$name" "output lacks $code: $(printf '%s' "$out" | one_line)"
    elif [ -n "$pat" ] && ! printf '%s' "$out" | grep -Eq -- "$pat"; then
        fail "$name" "output does not match /$pat/: $(printf '%s' "$out" | one_line)"
    else
        pass "$name"
    fi
}

# check_exit NAME EXIT COMMAND...: passes when COMMAND exits with EXIT.
check_exit() {
    local name=$1 want=$2 out rc; shift 2
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" = "$want" ]; then pass "$name"
    else fail "$name" "exit $rc, expected $want; output: $(printf '%s' "$out" | one_line)"; fi
}
