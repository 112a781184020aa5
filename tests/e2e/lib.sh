# lib.sh: sourced by every end-to-end test (tests/e2e/tNNNN-*.sh).
#
# Each check prints "PASS name" or "FAIL name: why"; tests/run.sh counts them.
# VMVAULT is the binary under test (build/vmvault, or build/san/vmvault for the
# sanitizer run); WORK is a fresh folder removed at exit unless VV_KEEP=1.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VMVAULT=${VMVAULT:-$TOP/build/vmvault}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vve2e-XXXXXX")
chmod 755 "$WORK"
[ "${VV_KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
T_FAILED=0

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; T_FAILED=1; }

# check NAME COMMAND...: passes when the command exits 0.
check() {
    local name=$1; shift
    local out
    if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$(printf '%s' "$out" | tail -n 5)"; fi
}

# check_fails NAME EXPECTED_EXIT PATTERN COMMAND...: passes when the command exits
# with EXPECTED_EXIT and its output (stdout+stderr) matches the grep -E PATTERN.
check_fails() {
    local name=$1 want=$2 pat=$3; shift 3
    local out rc
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" != "$want" ]; then
        fail "$name" "exit $rc, expected $want; output: $(printf '%s' "$out" | tail -n 3)"
    elif ! printf '%s' "$out" | grep -Eq -- "$pat"; then
        fail "$name" "output does not match /$pat/: $(printf '%s' "$out" | tail -n 3)"
    else
        pass "$name"
    fi
}

# json_get FILE EXPR: a value out of a JSON document (python3 expression on 'j').
json_get() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

finish() { exit "$T_FAILED"; }
