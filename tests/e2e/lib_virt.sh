# lib_virt.sh: sourced after lib.sh (and, if used, lib_server.sh) by the end-to-end
# tests that need real libvirt/QEMU domains (the host agent's tests). Domains are
# TCG ('qemu' type, no OS, 64 MiB, 1 vcpu, machine pc, no network, no display); their
# disks are files under $WORK/virt made from tests/tools/mkimage.py, and the harness
# keeps, for every disk, an "expected" raw image equal to what the guest sees.
#
# NAME below is the test's own short name for a domain ([A-Za-z0-9_][A-Za-z0-9_.-]*);
# the libvirt name is vvt-NAME-RUN, RUN a random suffix per test process ($VIRT_RUN),
# so parallel runs and leftovers never clash. All bookkeeping lives in files under
# $VIRT_DIR: every function also works inside $(...) or under `check`.
#
# Setup (fatal: on error they print a FAIL line and end the test):
#   virt_up                   virtlogd and libvirtd answer on qemu:///system (started as
#                             root when they do not; a daemon this harness started is
#                             left running at exit, like a system service). Sets VIRSH.
#   virt_domain NAME [--running] --disk TARGET:FORMAT:SIZE[:SEED[:ALLOC_MB]] ...
#                             defines NAME (sets VIRT_DOM to its libvirt name). TARGET
#                             vda..vdz (bus virtio), FORMAT raw or qcow2, SIZE like 64M
#                             (at least 1M), SEED mkimage's seed (default: 1 for vda, 2
#                             for vdb, ...), ALLOC_MB mkimage's data budget (default a
#                             quarter of the disk; mkimage fills 16 MiB slots after the
#                             first, so a disk under 32M only gets a 5000-byte tail).
#                             --running starts it.
# Actions (return 0, or non-zero with the reason on stderr; wrap them in `check`):
#   virt_start NAME / virt_stop NAME      start / power off (virsh destroy).
#   virt_write NAME TARGET OFFSET LENGTH BYTE
#                             LENGTH bytes of BYTE (0xcd or 205) at OFFSET, written by
#                             QEMU into the running domain's disk (HMP qemu-io on the
#                             disk's device, so dirty bitmaps see it), flushed and read
#                             back; then the same bytes go into the expected image.
#                             OFFSET and LENGTH take K/M/G suffixes (powers of 1024).
#   virt_write_offline NAME TARGET OFFSET LENGTH BYTE
#                             the same for a shut-off domain (qemu-io on the image).
#   virt_snapshot_expected NAME TAG       sparse copies of NAME's expected images,
#                             kept as they are now under TAG.
#   virt_read_disk NAME TARGET OUT.raw    the disk's current content as raw (flushed
#                             first and read with qemu-img -U when running).
#   virt_disk_equals NAME TARGET [FILE]   the disk's current content equals FILE
#                             (default: its expected image); prints where they differ.
#   virt_checkpoint NAME CP   virsh checkpoint-create-as CP: a bitmap on every qcow2
#                             disk, raw disks left out (libvirt refuses raw disks).
#   virt_cleanup              aborts domain jobs, destroys and undefines (with checkpoint
#                             and snapshot metadata) every domain made by virt_domain (or
#                             registered with _virt_register, see lib_guest.sh) in this
#                             test, deletes their QEMU logs and $VIRT_DIR (kept with
#                             VV_KEEP=1). Never touches other domains. Runs at exit on
#                             its own: virt_up and virt_domain wrap the EXIT trap set so
#                             far (lib.sh's, lib_server.sh's); a test that sets its own
#                             EXIT trap later must call virt_cleanup in it. Idempotent.
# Queries (print):
#   virt_name NAME            the libvirt name.           virt_uuid NAME: its UUID.
#   virt_state NAME           virsh domstate (running, shut off, ...).
#   virt_disk_path NAME TARGET            the disk image file.
#   virt_disk_format NAME TARGET          raw or qcow2.   virt_disk_size: in bytes.
#   virt_qom NAME TARGET      QOM path of the disk's device (for HMP qemu-io -d).
#   virt_expected NAME TARGET             the expected raw image.
#   virt_expected_at NAME TARGET TAG      the expected image saved under TAG.
#   virt_checkpoints NAME     checkpoint names, parents first, one per line.
#   virt_has_job NAME         status 0 when a domain job (a backup) is active.
#   virt_rundir               a folder QEMU's user may create sockets and files in
#                             (NBD sockets of pull-mode backups); made on first use.
#
# For other domain builders (lib_guest.sh): _virt_register NAME REAL records the domain
# REAL as the test's NAME (call it once $VIRT_DIR/NAME exists, before defining REAL);
# a line "TARGET FORMAT BYTES PATH" in $VIRT_DIR/NAME/disks names a disk that lives at
# PATH instead of $VIRT_DIR/NAME/NAME-TARGET.FORMAT. A failed test's cleanup also shows
# the end of $VIRT_DIR/NAME/console.log, the serial console, when a domain has one.
#
# Things to know: QEMU runs as libvirt-qemu, so image folders must be traversable
# (WORK is 0755) and a backup's NBD socket folder writable by that user (virt_rundir).
# QEMU holds locks on running images: read them with -U. HMP qemu-io prints its
# results into the domain's log, not into the monitor answer, hence the read-back.
VIRSH="virsh -c qemu:///system"
VIRT_DIR=$WORK/virt
VIRT_RUN=${VIRT_RUN:-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')}
VIRT_DOM=
VIRT_QEMU_USER=${VIRT_QEMU_USER:-libvirt-qemu}
VIRT_QEMU_LOGS=${VIRT_QEMU_LOGS:-/var/log/libvirt/qemu}
VIRT_UP_TIMEOUT=${VIRT_UP_TIMEOUT:-30}
VIRT_STARTED=
_VIRT_PREV_TRAP=
_VIRT_CLEANED=0

_virt_err() { echo "$*" >&2; return 1; }

# _virt_fatal WHAT WHY: a FAIL line and the end of the test (or of the subshell).
_virt_fatal() { fail "$1" "$2"; finish; }

# _virt_bytes SIZE: SIZE (123, 4K, 8M, 1G, 2T, 64MiB) in bytes.
_virt_bytes() {
    local s=${1^^} n u
    s=${s%B}; s=${s%I}
    if [[ $s =~ ^([0-9]+)([KMGT]?)$ ]]; then
        n=${BASH_REMATCH[1]} u=${BASH_REMATCH[2]}
        n=$((10#$n))
        case $u in K) n=$((n << 10)) ;; M) n=$((n << 20)) ;; G) n=$((n << 30)) ;; T) n=$((n << 40)) ;; esac
        echo "$n"
    else
        _virt_err "not a size: '$1'"
    fi
}

# _virt_byte BYTE: 0xcd or 205 as 0xcd.
_virt_byte() {
    local b=$1
    if [[ $b =~ ^0[xX][0-9a-fA-F]{1,2}$ ]]; then printf '0x%02x\n' "$((b))"
    elif [[ $b =~ ^[0-9]{1,3}$ ]] && [ "$((10#$b))" -le 255 ]; then printf '0x%02x\n' "$((10#$b))"
    else _virt_err "not a byte value: '$b'"; fi
}

_virt_in_subshell() { [ "${BASHPID:-$$}" != "$$" ]; }

# Runs virt_cleanup at exit ahead of the EXIT trap that was there before.
_virt_trap() {
    _virt_in_subshell && return 0
    local cur
    cur=$(trap -p EXIT)
    [ "$cur" = "trap -- '_virt_exit' EXIT" ] && return 0
    if [ -n "$cur" ]; then
        eval "set -- $cur"
        _VIRT_PREV_TRAP=$3
    else
        _VIRT_PREV_TRAP=
    fi
    trap _virt_exit EXIT
    # bash dies of SIGPIPE (a test piped into head) without its EXIT trap, which would
    # leave a QEMU running; children still get the default action
    trap 'exit 141' PIPE
}

_virt_exit() {
    local rc=$?
    trap '' PIPE    # a closed stdout must not cut the cleanup short
    virt_cleanup "$rc"
    if [ -n "$_VIRT_PREV_TRAP" ]; then
        (exit "$rc")
        eval "$_VIRT_PREV_TRAP"
    fi
    exit "$rc"
}

_virt_answers() { timeout 10 $VIRSH list --name >/dev/null 2>&1; }

# _virt_daemons: as root, starts virtlogd and libvirtd when they do not run (through
# systemd when it is the init system). QEMU cannot start without virtlogd even when
# libvirtd answers, so both are checked.
_virt_daemons() {
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        systemctl start virtlogd.socket libvirtd.service >/dev/null 2>&1 && return 0
    fi
    if ! pgrep -x virtlogd >/dev/null; then
        command -v virtlogd >/dev/null 2>&1 || _virt_fatal "libvirt is up" "virtlogd is not installed (package libvirt-daemon-system)"
        virtlogd -d || _virt_fatal "libvirt is up" "virtlogd -d failed"
        VIRT_STARTED+=" virtlogd"
    fi
    if ! pgrep -x libvirtd >/dev/null; then
        command -v libvirtd >/dev/null 2>&1 || _virt_fatal "libvirt is up" "libvirtd is not installed (package libvirt-daemon-system)"
        libvirtd -d || _virt_fatal "libvirt is up" "libvirtd -d failed"
        VIRT_STARTED+=" libvirtd"
    fi
}

virt_up() {
    _virt_trap
    local t
    for t in virsh qemu-img qemu-io python3; do
        command -v "$t" >/dev/null 2>&1 ||
            _virt_fatal "libvirt is up" "$t is not installed (scripts/install-deps.sh installs libvirt-daemon-system qemu-system-x86 qemu-utils)"
    done
    [ "$(id -u)" = 0 ] && _virt_daemons
    local deadline=$((SECONDS + VIRT_UP_TIMEOUT))
    while :; do
        _virt_answers && return 0
        [ $SECONDS -lt $deadline ] || break
        sleep 0.2
    done
    local why="qemu:///system does not answer within ${VIRT_UP_TIMEOUT}s"
    [ "$(id -u)" = 0 ] || why+=" (only root may start libvirtd)"
    _virt_fatal "libvirt is up" "$why (started:${VIRT_STARTED:- none}): $(timeout 10 $VIRSH list 2>&1 | _virt_one_line)"
}

_virt_one_line() { tr '\n\t' '  ' | tr -s ' ' | head -c "${1:-400}"; }

# _virt_meta NAME: NAME's folder, or an error when the harness did not make NAME.
_virt_meta() {
    local d=$VIRT_DIR/${1-}
    if ! [[ ${1-} =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] || [ ! -f "$d/name" ]; then
        _virt_err "no test domain '${1-}'"; return 1
    fi
    echo "$d"
}

virt_name() { local d; d=$(_virt_meta "${1-}") || return 1; cat "$d/name"; }

# _virt_disk NAME TARGET: sets _vd_fmt, _vd_size, _vd_path, _vd_exp, _vd_dir, _vd_real.
_virt_disk() {
    local d line= t f s p
    d=$(_virt_meta "${1-}") || return 1
    [[ ${2-} =~ ^vd[a-z]$ ]] && line=$(grep -m1 "^${2-} " "$d/disks" 2>/dev/null)
    [ -n "$line" ] || { _virt_err "domain '${1-}' has no disk '${2-}'"; return 1; }
    read -r t f s p <<<"$line"
    _vd_fmt=$f _vd_size=$s _vd_dir=$d
    _vd_path=${p:-$d/${1-}-${2-}.$f}
    _vd_exp=$d/${1-}-${2-}.expected.raw
    _vd_real=$(cat "$d/name")
}

virt_disk_path()   { _virt_disk "${1-}" "${2-}" && echo "$_vd_path"; }
virt_disk_format() { _virt_disk "${1-}" "${2-}" && echo "$_vd_fmt"; }
virt_disk_size()   { _virt_disk "${1-}" "${2-}" && echo "$_vd_size"; }
virt_expected()    { _virt_disk "${1-}" "${2-}" && echo "$_vd_exp"; }
virt_expected_at() {
    _virt_disk "${1-}" "${2-}" || return 1
    local f=$_vd_dir/at/${3-}/${1-}-${2-}.expected.raw
    [ -f "$f" ] || { _virt_err "no expected image of ${1-} ${2-} saved under '${3-}'"; return 1; }
    echo "$f"
}

virt_uuid()  { local n; n=$(virt_name "${1-}") || return 1; $VIRSH domuuid "$n" | sed '/^$/d'; }
virt_state() { local n; n=$(virt_name "${1-}") || return 1; $VIRSH domstate "$n" | sed '/^$/d'; }
_virt_running() { [ "$(virt_state "${1-}" 2>/dev/null)" = running ]; }

virt_rundir() {
    local d=$VIRT_DIR/.run
    if [ ! -d "$d" ]; then
        mkdir -p "$d" || return 1
        chmod 755 "$VIRT_DIR" "$d"
        if id -u "$VIRT_QEMU_USER" >/dev/null 2>&1; then chown "$VIRT_QEMU_USER" "$d" || return 1
        else chmod 1777 "$d"; fi
    fi
    echo "$d"
}

# _virt_register NAME REAL: the libvirt domain REAL is the test's NAME from now on (for
# virt_name, virt_cleanup, ...). Recorded before REAL is defined, so that cleanup cannot
# miss it.
_virt_register() {
    echo "$2" > "$VIRT_DIR/$1/name"
    echo "$1" >> "$VIRT_DIR/domains"
}

virt_domain() {
    _virt_trap
    local name=${1-} running=0 specs=() s
    shift || true
    [[ $name =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] || _virt_fatal "virt_domain" "bad domain name '$name'"
    while [ $# -gt 0 ]; do
        case $1 in
            --running) running=1 ;;
            --disk) [ $# -ge 2 ] || _virt_fatal "virt_domain $name" "--disk needs TARGET:FORMAT:SIZE"
                    specs+=("$2"); shift ;;
            *) _virt_fatal "virt_domain $name" "unknown argument '$1'" ;;
        esac
        shift
    done
    [ ${#specs[@]} -gt 0 ] || _virt_fatal "virt_domain $name" "no --disk"
    local d=$VIRT_DIR/$name real=vvt-$name-$VIRT_RUN xmlbad='[<>&"'\'']'
    [ ! -e "$d" ] || _virt_fatal "virt_domain $name" "this test already has a domain '$name'"
    [[ $d =~ $xmlbad ]] && _virt_fatal "virt_domain $name" "the path $d cannot go into XML"
    mkdir -p "$d" && chmod 755 "$VIRT_DIR" "$d" || _virt_fatal "virt_domain $name" "cannot make $d"
    if id -u "$VIRT_QEMU_USER" >/dev/null 2>&1 && command -v runuser >/dev/null 2>&1 &&
        ! runuser -u "$VIRT_QEMU_USER" -- test -x "$d"; then
        _virt_fatal "virt_domain $name" "$VIRT_QEMU_USER cannot reach $d: every folder on the way must be traversable (chmod o+x; TMPDIR=${TMPDIR:-})"
    fi
    : > "$d/disks"
    local disks_xml= t f size seed alloc bytes idx exp img out
    for s in "${specs[@]}"; do
        IFS=: read -r t f size seed alloc <<<"$s"
        [[ $t =~ ^vd[a-z]$ ]] || _virt_fatal "virt_domain $name" "disk '$s': target must be vda..vdz"
        ! grep -q "^$t " "$d/disks" || _virt_fatal "virt_domain $name" "disk '$s': $t twice"
        case $f in raw|qcow2) ;; *) _virt_fatal "virt_domain $name" "disk '$s': format must be raw or qcow2" ;; esac
        bytes=$(_virt_bytes "$size" 2>&1) || _virt_fatal "virt_domain $name" "disk '$s': $bytes"
        [ "$bytes" -ge $((1 << 20)) ] || _virt_fatal "virt_domain $name" "disk '$s': at least 1M"
        idx=$(( $(printf '%d' "'${t:2:1}") - 97 ))
        seed=${seed:-$((idx + 1))}
        alloc=${alloc:-$(( (bytes >> 20) / 4 > 0 ? (bytes >> 20) / 4 : 1 ))}
        exp=$d/$name-$t.expected.raw img=$d/$name-$t.$f
        out=$(python3 "$TOP/tests/tools/mkimage.py" create "$exp" --size "$bytes" --seed "$seed" --allocated-mb "$alloc" 2>&1) ||
            _virt_fatal "virt_domain $name" "mkimage $s: $(printf '%s' "$out" | _virt_one_line)"
        if [ "$f" = qcow2 ]; then
            out=$(qemu-img convert -f raw -O qcow2 "$exp" "$img" 2>&1)
        else
            out=$(cp --sparse=always "$exp" "$img" 2>&1)
        fi || _virt_fatal "virt_domain $name" "making $img: $(printf '%s' "$out" | _virt_one_line)"
        chmod 644 "$img"
        echo "$t $f $bytes" >> "$d/disks"
        disks_xml+="    <disk type='file' device='disk'>
      <driver name='qemu' type='$f'/>
      <source file='$img'/>
      <target dev='$t' bus='virtio'/>
    </disk>
"
    done
    cat > "$d/domain.xml" <<EOF
<domain type='qemu'>
  <name>$real</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
$disks_xml    <memballoon model='none'/>
  </devices>
</domain>
EOF
    _virt_register "$name" "$real"
    out=$($VIRSH define "$d/domain.xml" 2>&1) || _virt_fatal "virt_domain $name" "virsh define: $(printf '%s' "$out" | _virt_one_line)"
    VIRT_DOM=$real
    if [ "$running" = 1 ]; then
        out=$(virt_start "$name" 2>&1) || _virt_fatal "virt_domain $name" "$out"
    fi
    return 0
}

virt_start() {
    local n out
    n=$(virt_name "${1-}") || return 1
    out=$($VIRSH start "$n" 2>&1) && return 0
    _virt_err "virsh start $n: $(printf '%s' "$out" | _virt_one_line) $(tail -n 5 "$VIRT_QEMU_LOGS/$n.log" 2>/dev/null | _virt_one_line)"
}

virt_stop() {
    local n out
    n=$(virt_name "${1-}") || return 1
    _virt_running "${1-}" || return 0
    out=$($VIRSH destroy "$n" 2>&1) || _virt_err "virsh destroy $n: $(printf '%s' "$out" | _virt_one_line)"
}

virt_qom() {
    local a
    _virt_disk "${1-}" "${2-}" || return 1
    a=$($VIRSH dumpxml "$_vd_real" --xpath "//devices/disk[target/@dev='${2-}']/alias/@name" 2>/dev/null |
        sed -n 's/.*name="\([^"]*\)".*/\1/p' | head -n 1)
    # libvirt names a virtio disk's device after its target: vda virtio-disk0, vdb 1...
    [ -n "$a" ] || a=virtio-disk$(( $(printf '%d' "'${2:2:1}") - 97 ))
    echo "/machine/peripheral/$a/virtio-backend"
}

# _virt_hmp_io NAME QOM CMD: one qemu-io command on the device through HMP. Its own
# output lands in the domain's log; the monitor answers only with errors.
_virt_hmp_io() {
    local out
    out=$($VIRSH qemu-monitor-command "$1" --hmp "qemu-io -d $2 \"$3\"" 2>&1) ||
        { _virt_err "qemu-io '$3' on $1: $(printf '%s' "$out" | _virt_one_line)"; return 1; }
    if printf '%s' "$out" | grep -Eiq 'error|fail|not found|invalid|unknown|denied|usage'; then
        _virt_err "qemu-io '$3' on $1: $(printf '%s' "$out" | _virt_one_line)"; return 1
    fi
}

# _virt_range NAME TARGET OFFSET LENGTH BYTE: checks the arguments of a write; sets
# _vw_off, _vw_len, _vw_byte (and _vd_* of the disk).
_virt_range() {
    [ $# = 5 ] || { _virt_err "usage: virt_write NAME TARGET OFFSET LENGTH BYTE"; return 1; }
    _virt_disk "$1" "$2" || return 1
    _vw_off=$(_virt_bytes "$3") && _vw_len=$(_virt_bytes "$4") && _vw_byte=$(_virt_byte "$5") || return 1
    [ "$_vw_len" -gt 0 ] || { _virt_err "empty write"; return 1; }
    if [ $((_vw_off + _vw_len)) -gt "$_vd_size" ]; then
        _virt_err "write $_vw_off+$_vw_len ends beyond the $_vd_size bytes of $1 $2"; return 1
    fi
}

_virt_expect_write() {
    local out
    out=$(qemu-io -f raw -c "write -P $_vw_byte $_vw_off $_vw_len" "$_vd_exp" 2>&1) ||
        { _virt_err "updating $_vd_exp: $(printf '%s' "$out" | _virt_one_line)"; return 1; }
}

virt_write() {
    _virt_range "$@" || return 1
    _virt_running "$1" || { _virt_err "domain '$1' is not running (virt_write_offline writes to a shut-off one)"; return 1; }
    local qom out
    qom=$(virt_qom "$1" "$2") || return 1
    _virt_hmp_io "$_vd_real" "$qom" "write -P $_vw_byte $_vw_off $_vw_len" || return 1
    _virt_hmp_io "$_vd_real" "$qom" "flush" || return 1
    out=$(qemu-io -U -r -f "$_vd_fmt" -c "read -P $_vw_byte $_vw_off $_vw_len" "$_vd_path" 2>&1) ||
        { _virt_err "$1 $2 does not hold the write after it: $(printf '%s' "$out" | _virt_one_line)"; return 1; }
    _virt_expect_write
}

virt_write_offline() {
    _virt_range "$@" || return 1
    _virt_running "$1" && { _virt_err "domain '$1' is running (use virt_write)"; return 1; }
    local out
    out=$(qemu-io -f "$_vd_fmt" -c "write -P $_vw_byte $_vw_off $_vw_len" "$_vd_path" 2>&1) ||
        { _virt_err "qemu-io on $_vd_path: $(printf '%s' "$out" | _virt_one_line)"; return 1; }
    _virt_expect_write
}

virt_snapshot_expected() {
    local d t f s at
    d=$(_virt_meta "${1-}") || return 1
    [[ ${2-} =~ ^[A-Za-z0-9_.-]+$ ]] || { _virt_err "bad tag '${2-}'"; return 1; }
    at=$d/at/${2-}
    rm -rf "$at" && mkdir -p "$at" || return 1
    while read -r t f s; do
        cp --sparse=always "$d/${1-}-$t.expected.raw" "$at/" || return 1
    done < "$d/disks"
}

virt_read_disk() {
    local out
    _virt_disk "${1-}" "${2-}" || return 1
    [ -n "${3-}" ] || { _virt_err "usage: virt_read_disk NAME TARGET OUT.raw"; return 1; }
    if _virt_running "${1-}"; then
        _virt_hmp_io "$_vd_real" "$(virt_qom "${1-}" "${2-}")" flush || return 1
    fi
    out=$(qemu-img convert -U -f "$_vd_fmt" -O raw "$_vd_path" "${3-}" 2>&1) ||
        { _virt_err "qemu-img convert $_vd_path: $(printf '%s' "$out" | _virt_one_line)"; return 1; }
}

virt_disk_equals() {
    local want tmp out rc
    _virt_disk "${1-}" "${2-}" || return 1
    want=${3:-$_vd_exp}
    tmp=$(mktemp "$VIRT_DIR/.read-XXXXXX") || return 1
    virt_read_disk "${1-}" "${2-}" "$tmp" || { rm -f "$tmp"; return 1; }
    out=$(cmp "$tmp" "$want" 2>&1); rc=$?
    rm -f "$tmp"
    [ "$rc" = 0 ] || _virt_err "${1-} ${2-} differs from $want: $out"
}

virt_checkpoint() {
    local d n t f s args=() out
    d=$(_virt_meta "${1-}") || return 1
    n=$(cat "$d/name")
    [ -n "${2-}" ] || { _virt_err "usage: virt_checkpoint NAME CHECKPOINT"; return 1; }
    while read -r t f s; do
        if [ "$f" = qcow2 ]; then args+=(--diskspec "$t,checkpoint=bitmap")
        else args+=(--diskspec "$t,checkpoint=no"); fi
    done < "$d/disks"
    out=$($VIRSH checkpoint-create-as "$n" "${2-}" "${args[@]}" 2>&1) ||
        _virt_err "checkpoint ${2-} of $n: $(printf '%s' "$out" | _virt_one_line)"
}

virt_checkpoints() {
    local n
    n=$(virt_name "${1-}") || return 1
    $VIRSH checkpoint-list "$n" --name --topological | sed '/^$/d'
}

virt_has_job() {
    local n t
    n=$(virt_name "${1-}") || return 1
    t=$($VIRSH domjobinfo "$n" 2>/dev/null | sed -n 's/^Job type: *//p' | tr -d ' ')
    [ -n "$t" ] && [ "$t" != None ]
}

virt_cleanup() {
    local rc=${1:-0} name n out names=() pids=() p
    [ "$_VIRT_CLEANED" = 1 ] && return 0
    _virt_in_subshell || _VIRT_CLEANED=1
    [ -d "$VIRT_DIR" ] || return 0
    if [ -f "$VIRT_DIR/domains" ]; then
        while read -r name; do
            n=$(cat "$VIRT_DIR/$name/name" 2>/dev/null) || continue
            if ! $VIRSH domstate "$n" >/dev/null 2>&1; then
                rm -f "$VIRT_QEMU_LOGS/$n.log"; continue
            fi
            names+=("$name")
            virt_has_job "$name" && $VIRSH domjobabort "$n" >/dev/null 2>&1
            if { [ "$rc" != 0 ] || [ "${T_FAILED:-0}" != 0 ]; } && [ -s "$VIRT_QEMU_LOGS/$n.log" ]; then
                echo "     QEMU log of $n since its last start (last lines):"
                # what follows the last command line (whose lines end with a backslash)
                awk '/\\$/ { last = NR } { l[NR] = $0 } END { for (i = last + 2; i <= NR; i++) print l[i] }' \
                    "$VIRT_QEMU_LOGS/$n.log" | tail -n 10 | sed 's/^/       /'
            fi
            if { [ "$rc" != 0 ] || [ "${T_FAILED:-0}" != 0 ]; } && [ -s "$VIRT_DIR/$name/console.log" ]; then
                echo "     serial console of $n (last lines):"
                tail -n 15 "$VIRT_DIR/$name/console.log" | tr -d '\r' | sed 's/^/       /'
            fi
            # in parallel: a destroy can take a second or more
            if _virt_running "$name"; then
                $VIRSH destroy "$n" >/dev/null 2>&1 &
                pids+=($!)
            fi
        done < "$VIRT_DIR/domains"
    fi
    for p in "${pids[@]}"; do wait "$p"; done
    for name in "${names[@]}"; do
        n=$(cat "$VIRT_DIR/$name/name")
        if ! out=$($VIRSH undefine "$n" --checkpoints-metadata --snapshots-metadata 2>&1); then
            $VIRSH domstate "$n" >/dev/null 2>&1 &&
                echo "     cleanup: could not undefine $n: $(printf '%s' "$out" | _virt_one_line)"
        fi
        rm -f "$VIRT_QEMU_LOGS/$n.log"
    done
    if [ "${VV_KEEP:-0}" = 1 ]; then echo "kept $VIRT_DIR" >&2
    else rm -rf "$VIRT_DIR"; fi
}
