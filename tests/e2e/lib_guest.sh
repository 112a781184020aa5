# lib_guest.sh: sourced after lib.sh and lib_virt.sh (and after virt_up has run) by the
# end-to-end tests that need a real Linux guest running the real QEMU guest agent
# (qemu-ga): file-system freeze and thaw, scripts run inside the guest. The guest is
# tests/tools/make-guest.sh's kernel and initramfs on a TCG domain; its only disk, vda,
# is an ext4 file system without partition table, mounted on /mnt in the guest. The
# guest logs freeze/thaw to /.freeze-hook.log on that disk and, booted with --workload,
# keeps appending checksummed records to /workload.log (make-guest.sh tells how).
#
# Domains are lib_virt.sh's: named vvt-NAME-$VIRT_RUN, recorded under $VIRT_DIR/NAME
# (virt_name, virt_state, virt_start, virt_stop, virt_disk_path NAME vda,
# virt_read_disk, virt_checkpoint, ... work on them) and removed by virt_cleanup.
#
# Setup (fatal: on error they print a FAIL line and end the test):
#   guest_build               makes the kernel and initramfs (once; a later run of
#                             make-guest.sh only checks they are up to date) in
#                             $GUEST_DIR: $TOP/build/guest when QEMU's user can reach
#                             it, else /var/tmp/vmvault-guest. Sets GUEST_KERNEL and
#                             GUEST_INITRD. guest_domain calls it.
#   guest_disk FILE SIZE_MB [SRC_DIR]
#                             FILE becomes a qcow2 image holding a fresh ext4 file system
#                             of SIZE_MB MiB (inode tables and journal written out, so
#                             the guest's kernel has no initialisation left to write),
#                             filled with a copy of SRC_DIR when given (modes kept:
#                             scripts stay executable).
#   guest_domain NAME DISK [--workload]
#                             defines and starts NAME: TCG, $GUEST_MEM_MB MiB (256), one
#                             vcpu, machine pc, the guest kernel with "console=ttyS0"
#                             (and "workload=1"), DISK (qcow2 or raw) as vda, the agent's
#                             virtio channel org.qemu.guest_agent.0, the serial console
#                             written to $VIRT_DIR/NAME/console.log, no network, no
#                             display. Sets VIRT_DOM. Does not wait for the agent.
# Actions (return 0, or non-zero with the reason on stderr; wrap them in `check`):
#   guest_wait_agent NAME [TIMEOUT]       waits (default $GUEST_AGENT_TIMEOUT, 120 s)
#                             until the agent answers guest-ping; on timeout the reason
#                             names libvirt's last answer and the console's last lines.
#   guest_exec NAME CMD [ARG...]
#                             runs CMD in the guest (guest-exec, then guest-exec-status
#                             until it ended, every 0.2 s at most); prints its stdout
#                             (its stderr on stderr) and returns its exit status: 128+N
#                             when signal N ended it, 124 when it still runs after
#                             $GUEST_EXEC_TIMEOUT s (120), 125 with libvirt's error on
#                             stderr when the agent failed (no agent, no such CMD). CMD
#                             is looked up in PATH=/bin (busybox applets, sh, ...); the
#                             disk's files are under /mnt.
#   guest_put_file NAME PATH MODE TEXT    writes TEXT (no newline added) to PATH inside
#                             the guest (its folders made 0755 as needed), owned by
#                             root, with octal MODE; through guest_exec (sh -c, the
#                             text passed as an argument, so any bytes but NUL do).
#                             The guest's / is its initramfs: what is written there is
#                             gone when the domain starts again.
#   guest_stop_agent NAME [TIMEOUT]       ends qemu-ga inside the guest (it kills
#                             itself through guest-exec, one second after answering),
#                             and waits (default 60 s) until guest-ping fails. The
#                             domain keeps running; the agent stays gone until the guest
#                             boots again.
#   guest_fs_recover IMG.raw  replays the journal of the ext4 raw image IMG.raw in place
#                             (e2fsck -E journal_only) when it has one to replay, as the
#                             guest's kernel would when mounting it: prints "recovered",
#                             or "clean" for an image taken while the guest had its file
#                             system frozen (or unmounted), which needs nothing. Read an
#                             image copied from a running or destroyed guest only after
#                             this: its newest writes may be in the journal alone, and
#                             files half-made. `e2fsck -fn` passes on a recovered image.
# Queries (print):
#   guest_agent NAME JSON     one agent command (virsh qemu-agent-command); prints its
#                             answer, e.g. {"return":{}}; libvirt's error on stderr.
#   guest_freeze_status NAME  thawed or frozen (guest-fsfreeze-status).
#   guest_console NAME [LINES]            the serial console (its last LINES lines).
#   guest_read_file IMG.raw PATH          the file PATH of the ext4 raw image IMG.raw
#                             (debugfs, no mount, the image left as it is: see
#                             guest_fs_recover).
#   guest_check_workload FILE status 0 when FILE (a workload log) holds only complete
#                             records with correct checksums, numbered 1, 2, 3, ...
#                             without gap, and ends with a newline (no torn last record);
#                             prints the number of records (or the first bad line, on
#                             stderr).
#
# Things to know: TCG is slow; the guest's agent answers some 5 to 10 s after the
# domain starts (more on a loaded machine). The disk's folders must be traversable by
# libvirt-qemu ($WORK is). While qemu-ga does not run (not yet, or no more) libvirt
# answers agent commands with "Guest agent is not responding: QEMU guest agent is not
# connected"; a domain without the channel with "argument unsupported: QEMU guest agent
# is not configured".
GUEST_MEM_MB=${GUEST_MEM_MB:-256}
GUEST_AGENT_TIMEOUT=${GUEST_AGENT_TIMEOUT:-120}
GUEST_EXEC_TIMEOUT=${GUEST_EXEC_TIMEOUT:-120}
GUEST_DIR=${GUEST_DIR:-}
GUEST_KERNEL=
GUEST_INITRD=

# _guest_qemu_can TEST PATH: `test TEST PATH` holds for QEMU's user (-x DIR: it can
# reach DIR; -r FILE: it can read FILE). True when that user is unknown.
_guest_qemu_can() {
    id -u "$VIRT_QEMU_USER" >/dev/null 2>&1 && command -v runuser >/dev/null 2>&1 || return 0
    runuser -u "$VIRT_QEMU_USER" -- test "$1" "$2"
}

guest_build() {
    [ -n "$GUEST_INITRD" ] && return 0
    local out
    if [ -z "$GUEST_DIR" ]; then
        mkdir -p "$TOP/build" 2>/dev/null
        if _guest_qemu_can -x "$TOP/build"; then GUEST_DIR=$TOP/build/guest
        else GUEST_DIR=/var/tmp/vmvault-guest; fi
    fi
    out=$("$TOP/tests/tools/make-guest.sh" "$GUEST_DIR" 2>&1) ||
        _virt_fatal "guest_build" "make-guest.sh: $(printf '%s' "$out" | _virt_one_line)"
    GUEST_KERNEL=$(printf '%s\n' "$out" | tail -n 1)
    GUEST_INITRD=$GUEST_DIR/initrd.gz
    _guest_qemu_can -r "$GUEST_INITRD" && _guest_qemu_can -r "$GUEST_KERNEL" ||
        _virt_fatal "guest_build" "$VIRT_QEMU_USER cannot read $GUEST_KERNEL and $GUEST_INITRD"
}

guest_disk() {
    local file=${1-} mb=${2-} src=${3-} raw out
    [ -n "$file" ] && [[ $mb =~ ^[0-9]+$ ]] && [ "$mb" -ge 2 ] ||
        { _virt_err "usage: guest_disk FILE SIZE_MB [SRC_DIR] (at least 2 MiB)"; return 1; }
    [ -z "$src" ] || [ -d "$src" ] || { _virt_err "guest_disk: no folder '$src'"; return 1; }
    raw=$file.mkfs.raw
    rm -f "$raw" && truncate -s "${mb}M" "$raw" || return 1
    out=$(mkfs.ext4 -F -q -E lazy_itable_init=0,lazy_journal_init=0 ${src:+-d "$src"} "$raw" 2>&1) ||
        { rm -f "$raw"; _virt_err "mkfs.ext4 $raw: $(printf '%s' "$out" | _virt_one_line)"; return 1; }
    out=$(qemu-img convert -f raw -O qcow2 "$raw" "$file" 2>&1)
    local rc=$?
    rm -f "$raw"
    [ "$rc" = 0 ] || { _virt_err "qemu-img convert to $file: $(printf '%s' "$out" | _virt_one_line)"; return 1; }
    chmod 644 "$file"
}

guest_domain() {
    _virt_trap
    local name=${1-} disk=${2-} cmdline="console=ttyS0" fmt bytes out
    [[ $name =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] || _virt_fatal "guest_domain" "bad domain name '$name'"
    [ -n "$disk" ] || _virt_fatal "guest_domain $name" "usage: guest_domain NAME DISK [--workload]"
    shift 2
    while [ $# -gt 0 ]; do
        case $1 in
            --workload) cmdline+=" workload=1" ;;
            *) _virt_fatal "guest_domain $name" "unknown argument '$1'" ;;
        esac
        shift
    done
    [ -f "$disk" ] || _virt_fatal "guest_domain $name" "no disk image '$disk'"
    disk=$(readlink -f "$disk")
    guest_build
    local d=$VIRT_DIR/$name real=vvt-$name-$VIRT_RUN xmlbad='[<>&"'\'']'
    [ ! -e "$d" ] || _virt_fatal "guest_domain $name" "this test already has a domain '$name'"
    [[ $d$disk$GUEST_DIR =~ $xmlbad ]] && _virt_fatal "guest_domain $name" "a path cannot go into XML: $d $disk $GUEST_DIR"
    mkdir -p "$d" && chmod 755 "$VIRT_DIR" "$d" || _virt_fatal "guest_domain $name" "cannot make $d"
    _guest_qemu_can -x "$(dirname "$disk")" ||
        _virt_fatal "guest_domain $name" "$VIRT_QEMU_USER cannot reach $(dirname "$disk"): every folder on the way must be traversable (chmod o+x)"
    out=$(qemu-img info -U --output=json "$disk" 2>&1) &&
        fmt=$(printf '%s' "$out" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["format"], j["virtual-size"])') ||
        _virt_fatal "guest_domain $name" "qemu-img info $disk: $(printf '%s' "$out" | _virt_one_line)"
    read -r fmt bytes <<<"$fmt"
    case $fmt in raw|qcow2) ;; *) _virt_fatal "guest_domain $name" "$disk is $fmt, not qcow2 or raw" ;; esac
    echo "vda $fmt $bytes $disk" > "$d/disks"
    cat > "$d/domain.xml" <<EOF
<domain type='qemu'>
  <name>$real</name>
  <memory unit='MiB'>$GUEST_MEM_MB</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$GUEST_KERNEL</kernel>
    <initrd>$GUEST_INITRD</initrd>
    <cmdline>$cmdline</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='$fmt'/>
      <source file='$disk'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='file'>
      <source path='$d/console.log'/>
      <target port='0'/>
    </serial>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
    _virt_register "$name" "$real"
    out=$($VIRSH define "$d/domain.xml" 2>&1) || _virt_fatal "guest_domain $name" "virsh define: $(printf '%s' "$out" | _virt_one_line)"
    VIRT_DOM=$real
    out=$(virt_start "$name" 2>&1) || _virt_fatal "guest_domain $name" "$out"
    return 0
}

guest_console() {
    local d
    d=$(_virt_meta "${1-}") || return 1
    [ -f "$d/console.log" ] || return 0
    if [ -n "${2-}" ]; then tail -n "$2" "$d/console.log"; else cat "$d/console.log"; fi | tr -d '\r'
}

guest_agent() {
    local n out
    n=$(virt_name "${1-}") || return 1
    [ -n "${2-}" ] || { _virt_err "usage: guest_agent NAME JSON"; return 1; }
    out=$(timeout 90 $VIRSH qemu-agent-command "$n" --timeout 60 "$2" 2>&1) ||
        { _virt_err "$(printf '%s' "$out" | _virt_one_line)"; return 1; }
    printf '%s\n' "$out" | sed '/^$/d'
}

guest_wait_agent() {
    local name=${1-} limit=${2:-$GUEST_AGENT_TIMEOUT} n out deadline
    n=$(virt_name "$name") || return 1
    deadline=$((SECONDS + limit))
    while :; do
        out=$(timeout 30 $VIRSH qemu-agent-command "$n" --timeout 10 '{"execute":"guest-ping"}' 2>&1) && return 0
        _virt_running "$name" || { _virt_err "$n is not running ($(virt_state "$name" 2>&1)); console: $(guest_console "$name" 5 | _virt_one_line)"; return 1; }
        [ $SECONDS -lt $deadline ] || break
        sleep 0.5
    done
    _virt_err "no guest agent in $n after ${limit}s: $(printf '%s' "$out" | _virt_one_line 200); console: $(guest_console "$name" 5 | _virt_one_line)"
}

# _guest_json_str S: S as a JSON string, quotes included.
_guest_json_str() {
    local s=$1 out= c i
    s=${s//\\/\\\\}; s=${s//\"/\\\"}
    s=${s//$'\n'/\\n}; s=${s//$'\t'/\\t}; s=${s//$'\r'/\\r}
    if [[ $s == *[$'\001'-$'\037']* ]]; then
        for ((i = 0; i < ${#s}; i++)); do
            c=${s:i:1}
            if [[ $c == [$'\001'-$'\037'] ]]; then printf -v c '\\u%04x' "'$c"; fi
            out+=$c
        done
        s=$out
    fi
    printf '"%s"' "$s"
}

# _guest_exec_call DOM COMMAND ARGUMENTS: one agent command (ARGUMENTS a JSON object);
# its answer in _ge_out, or libvirt's error on stderr and status 125.
_guest_exec_call() {
    _ge_out=$(timeout 90 $VIRSH qemu-agent-command "$1" --timeout 60 \
              "{\"execute\":\"$2\",\"arguments\":$3}" 2>&1) && return 0
    echo "$2: $(printf '%s' "$_ge_out" | _virt_one_line)" >&2
    return 125
}

guest_exec() {
    local n args= a pid pause=0.05 deadline re _ge_out
    n=$(virt_name "${1-}") || return 125
    [ -n "${2-}" ] || { _virt_err "usage: guest_exec NAME CMD [ARG...]"; return 125; }
    for a in "${@:3}"; do args+=${args:+,}$(_guest_json_str "$a"); done
    _guest_exec_call "$n" guest-exec "{\"path\":$(_guest_json_str "$2"),\"arg\":[$args],\"capture-output\":true}" ||
        return 125
    re='"pid": *([0-9]+)'
    [[ $_ge_out =~ $re ]] || { _virt_err "guest-exec answered: $_ge_out"; return 125; }
    pid=${BASH_REMATCH[1]}
    deadline=$((SECONDS + GUEST_EXEC_TIMEOUT))
    while :; do
        _guest_exec_call "$n" guest-exec-status "{\"pid\":$pid}" || return 125
        [[ $_ge_out =~ \"exited\":\ *true ]] && break
        [ $SECONDS -lt $deadline ] || { _virt_err "$2 still runs after ${GUEST_EXEC_TIMEOUT}s"; return 124; }
        sleep "$pause"
        case $pause in 0.05) pause=0.1 ;; *) pause=0.2 ;; esac
    done
    re='"out-data": *"([^"]*)"'
    [[ $_ge_out =~ $re ]] && printf '%s' "${BASH_REMATCH[1]}" | base64 -d
    re='"err-data": *"([^"]*)"'
    [[ $_ge_out =~ $re ]] && printf '%s' "${BASH_REMATCH[1]}" | base64 -d >&2
    re='"signal": *([0-9]+)'
    [[ $_ge_out =~ $re ]] && return $((128 + BASH_REMATCH[1]))
    re='"exitcode": *([0-9]+)'
    [[ $_ge_out =~ $re ]] && return "${BASH_REMATCH[1]}"
    return 0
}

guest_put_file() {
    local name=${1-} path=${2-} mode=${3-}
    [ -n "$name" ] && [[ $path == /* ]] && [[ $mode =~ ^[0-7]{3,4}$ ]] && [ $# = 4 ] ||
        { _virt_err "usage: guest_put_file NAME /PATH MODE TEXT"; return 1; }
    guest_exec "$name" sh -c 'umask 022; mkdir -p "${1%/*}" && rm -f "$1" && umask 077 &&
        printf "%s" "$3" > "$1" && chmod "$2" "$1"' sh "$path" "$mode" "$4" >/dev/null
}

guest_stop_agent() {
    local name=${1-} limit=${2:-60} n out deadline
    n=$(virt_name "$name") || return 1
    # qemu-ga must answer guest-exec before it dies: the kill comes from a detached shell
    out=$(guest_exec "$name" sh -c '(sleep 1; kill $(cat /run/qemu-ga.pid)) </dev/null >/dev/null 2>&1 &' 2>&1) ||
        { _virt_err "stopping the guest agent of $n: $out"; return 1; }
    deadline=$((SECONDS + limit))
    while timeout 30 $VIRSH qemu-agent-command "$n" --timeout 5 '{"execute":"guest-ping"}' >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || { _virt_err "the guest agent of $n still answers after ${limit}s"; return 1; }
        sleep 0.5
    done
}

guest_freeze_status() {
    local out re='"return": *"([a-z]+)"'
    out=$(guest_agent "${1-}" '{"execute":"guest-fsfreeze-status"}') || return 1
    [[ $out =~ $re ]] || { _virt_err "guest-fsfreeze-status answered: $out"; return 1; }
    echo "${BASH_REMATCH[1]}"
}

guest_read_file() {
    local img=${1-} path=${2-} err rc
    [ -f "$img" ] && [ -n "$path" ] || { _virt_err "usage: guest_read_file IMG.raw PATH"; return 1; }
    err=$(mktemp "${TMPDIR:-/tmp}/vvguest-XXXXXX") || return 1
    # debugfs says "File not found" on stderr, with status 0; its banner goes there too
    debugfs -R "cat \"$path\"" "$img" 2>"$err"
    rc=$?
    if [ "$rc" != 0 ] || grep -qv '^debugfs [0-9]' "$err"; then
        _virt_err "debugfs cat $path in $img: $(_virt_one_line < "$err")"
        rc=1
    fi
    rm -f "$err"
    return "$rc"
}

guest_fs_recover() {
    local img=${1-} out
    [ -f "$img" ] || { _virt_err "usage: guest_fs_recover IMG.raw"; return 1; }
    out=$(dumpe2fs -h "$img" 2>&1) || { _virt_err "dumpe2fs $img: $(printf '%s' "$out" | _virt_one_line)"; return 1; }
    if ! printf '%s\n' "$out" | grep -q '^Filesystem features:.*needs_recovery'; then
        echo clean; return 0
    fi
    # status 1 means "file system changed", which a replay is
    out=$(e2fsck -y -E journal_only "$img" 2>&1)
    [ $? -le 1 ] || { _virt_err "e2fsck -E journal_only $img: $(printf '%s' "$out" | _virt_one_line)"; return 1; }
    echo recovered
}

guest_check_workload() {
    [ -f "${1-}" ] || { _virt_err "no workload log '${1-}'"; return 1; }
    python3 - "$1" <<'EOF'
import hashlib, re, sys
data = open(sys.argv[1], "rb").read()
lines = data.split(b"\n")
if lines[-1] != b"":
    sys.stderr.write("torn last record (no newline): %r\n" % lines[-1][:80])
    sys.exit(1)
for i, l in enumerate(lines[:-1], 1):
    m = re.fullmatch(rb"rec (\d+) (\d+) ([0-9a-f]{16})", l)
    if not m:
        sys.stderr.write("line %d is not a record: %r\n" % (i, l[:80]))
        sys.exit(1)
    if hashlib.sha256(b"rec %s %s" % (m[1], m[2])).hexdigest()[:16].encode() != m[3]:
        sys.stderr.write("line %d has a bad checksum: %r\n" % (i, l))
        sys.exit(1)
    if int(m[1]) != i:
        sys.stderr.write("line %d is record %s\n" % (i, m[1].decode()))
        sys.exit(1)
print(len(lines) - 1)
EOF
}
