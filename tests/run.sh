#!/usr/bin/env bash
# Runs every test: unit tests, fuzz-corpus replays and end-to-end tests, first on the
# plain build (build/) and then on the ASan+UBSan build (build/san/). Each check
# prints one line; the run ends with "N passed, N failed" and exits 1 when anything
# failed. `make test` builds both and calls this.
#
#   tests/run.sh                 everything
#   tests/run.sh --quick         the plain build only
#   VV_ONLY=t0100 tests/run.sh   only the suites whose name contains t0100
#
# Before the tests: the source rules (scripts/check-source) and, for each build, that
# each program links only the libraries it uses (scripts/check-links).
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
builds=(build build/san)
[ "${1:-}" = --quick ] && builds=(build)
passed=0 failed=0 skipped=0
failures=() fail_lines=()

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# run_suite LABEL COMMAND...: runs one test program, echoes its PASS/FAIL lines
# prefixed with LABEL and adds them up. A program that exits non-zero without
# printing a FAIL line (a crash, a sanitizer report) counts as one failure.
run_suite() {
    local label=$1; shift
    local out rc p f
    if [ -n "${VV_ONLY:-}" ] && [[ "$label" != *"$VV_ONLY"* ]]; then return; fi
    out=$("$@" 2>&1); rc=$?
    p=$(printf '%s\n' "$out" | grep -c '^PASS ')
    f=$(printf '%s\n' "$out" | grep -c '^FAIL ')
    skipped=$((skipped + $(printf '%s\n' "$out" | grep -c '^SKIP ')))
    printf '%s\n' "$out" | grep -E '^(PASS|FAIL|SKIP|     )' | sed "s|^|[$label] |"
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        f=1
        echo "[$label] FAIL exited with status $rc:"
        fail_lines+=("[$label] FAIL exited with status $rc")
        printf '%s\n' "$out" | tail -n 30 | sed "s|^|[$label]   |"
    fi
    passed=$((passed + p)); failed=$((failed + f))
    [ "$f" = 0 ] || failures+=("$label")
    while IFS= read -r line; do fail_lines+=("[$label] $line"); done \
        < <(printf '%s\n' "$out" | grep -E '^FAIL ')
}

# replay LABEL BINARY CORPUS: one check per corpus.
replay() {
    local label=$1 bin=$2 corpus=$3 out
    if [ -n "${VV_ONLY:-}" ] && [[ "$label" != *"$VV_ONLY"* ]]; then return; fi
    if out=$("$bin" "$corpus" 2>&1); then
        echo "[$label] PASS $(printf '%s' "$out" | tail -n 1) replayed"
        passed=$((passed + 1))
    else
        echo "[$label] FAIL"
        printf '%s\n' "$out" | tail -n 30 | sed "s|^|[$label]   |"
        failed=$((failed + 1)); failures+=("$label")
    fi
}

# The source rules (scripts/check-source): banned functions, adapters' headers,
# function length, include cycles. One check per rule broken, or one PASS.
source_rules() {
    local out
    if out=$(scripts/check-source); then echo "PASS source rules: $out"; else
        printf '%s\n' "$out" | sed 's/^/FAIL /'; return 1; fi
}
run_suite "source" scripts/check-source --self-test
run_suite "source" source_rules

for b in "${builds[@]}"; do
    tag=${b#build}; tag=${tag#/}; tag=${tag:-plain}
    run_suite "$tag links" scripts/check-links "$b"
    for t in "$b"/tests/test_*; do
        [ -x "$t" ] && run_suite "$tag $(basename "$t")" "$t"
    done
    for t in "$b"/tests/replay_fuzz_*; do
        [ -x "$t" ] || continue
        name=$(basename "$t"); name=${name#replay_fuzz_}
        replay "$tag fuzz-$name" "$t" "tests/fuzz/corpus/$name"
    done
    for t in tests/e2e/t[0-9]*.sh; do
        run_suite "$tag $(basename "$t" .sh)" env VMVAULT="$TOP/$b/vmvault" VMVAULTD="$TOP/$b/vmvaultd" VMVAULT_AGENT="$TOP/$b/vmvault-agent" bash "$t"
    done
done

# The failures again at the end, where a log's tail shows them.
if [ ${#failures[@]} -gt 0 ]; then
    echo "failed suites:"
    printf '  %s\n' "${failures[@]}"
fi
if [ ${#fail_lines[@]} -gt 0 ]; then
    echo "failed checks:"
    printf '  %s\n' "${fail_lines[@]:0:40}"
fi
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" = 0 ]
