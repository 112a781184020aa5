#!/usr/bin/env bash
# The command line: every command has a full --help, bad input is a usage error
# (exit 2) that names the problem, and nothing is created by a rejected command.
. "$(dirname "$0")/lib.sh"
cd "$WORK"

check "vmvault --help lists commands" sh -c "'$VMVAULT' --help | grep -q 'debug'"
check "vmvault --version" sh -c "'$VMVAULT' --version | grep -Eq '^vmvault [0-9]+\.[0-9]+'"
check_fails "no arguments is a usage error" 2 "usage: vmvault" "$VMVAULT"
check_fails "unknown command" 2 "'frobnicate' is not a command" "$VMVAULT" frobnicate
check "vmvault --help lists pairing" sh -c "'$VMVAULT' --help | grep -q '^  pairing '"
check "vmvault help pairing" sh -c "'$VMVAULT' help pairing | grep -q '^usage: vmvault pairing <command>'"
check_fails "debug takes no --use-secondary-region" 2 "unknown option '--use-secondary-region'" \
    "$VMVAULT" debug list --store s --key-file k --use-secondary-region
for c in keygen image-backup image-restore verify list show delete; do
    check "debug $c --help" sh -c "'$VMVAULT' debug $c --help | grep -q '^usage: vmvault debug $c'"
done
check_fails "unknown debug command" 2 "not a debug command" "$VMVAULT" debug nope
check_fails "unknown option" 2 "unknown option '--bogus'" "$VMVAULT" debug list --store s --key-file k --bogus
check_fails "option not for this command" 2 "--image does not apply here" \
    "$VMVAULT" debug list --store s --key-file k --image x
check_fails "missing --store" 2 "--store is required" env -u VMVAULT_STORE "$VMVAULT" debug list --key-file k
check_fails "bad chunk size" 2 "power of two" \
    "$VMVAULT" debug image-backup --store s --key-file k --image x --chunk-size 3000
check_fails "chunk size too large" 2 "power of two" \
    "$VMVAULT" debug image-backup --store s --key-file k --image x --chunk-size 32M
check_fails "bad disk name" 2 "disk-name" \
    "$VMVAULT" debug image-backup --store s --key-file k --image x --disk-name 'A/B'
check_fails "parent without extents" 2 "go together" \
    "$VMVAULT" debug image-backup --store s --key-file k --image x --parent rp-20260101-000000-000-aaaaaaaa
check_fails "bad retain-until" 2 "UTC time" \
    "$VMVAULT" debug image-backup --store s --key-file k --image x --retain-until tomorrow
check_fails "bad --output" 2 "table' or 'json" "$VMVAULT" debug list --store s --key-file k --output xml
check_fails "bad --threads" 2 "threads must be" "$VMVAULT" debug verify --store s --key-file k --all --threads 0
check_fails "verify needs one target" 2 "exactly one" "$VMVAULT" debug verify --store s --key-file k
check "rejected commands created nothing" test ! -e s

"$VMVAULT" debug keygen --key-file k >/dev/null
chmod 644 k
check_fails "a readable key file is refused" 1 "chmod 600" "$VMVAULT" debug list --store s --key-file k
chmod 600 k
check_fails "missing key file says how to create one" 1 "debug keygen" \
    "$VMVAULT" debug list --store s --key-file nokey
check_fails "missing store is an error, not created" 1 "cannot open store" \
    "$VMVAULT" debug list --store s --key-file k
check "and still not created" test ! -e s
printf '10 abc\n' > bad.ext
truncate -s 1M x
"$VMVAULT" debug image-backup --store s --key-file k --image x --output json > full.json
P=$(json_get full.json 'j["recoveryPoint"]')
check_fails "malformed changed-extents file" 1 "line 1: expected 'OFFSET LENGTH'" \
    "$VMVAULT" debug image-backup --store s --key-file k --image x --parent "$P" --changed-extents bad.ext
check_fails "a directory is not an image" 1 "not a regular file or block device" \
    "$VMVAULT" debug image-backup --store s --key-file k --image "$WORK"
finish
