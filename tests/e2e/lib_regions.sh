# lib_regions.sh: sourced after lib.sh, lib_server.sh (and lib_virt.sh when used) by the
# end-to-end tests of replication: two regions, each a network namespace of its own
# with its own vmvaultd, joined by a veth pair, and cuts of that link.
#
# Region A (the primary) is the namespace vvra-RUN, region B (the secondary) vvrb-RUN,
# RUN a random suffix per test process ($REG_RUN, 6 characters: interface names are
# short). The veth pair vvra-RUN (in A, REG_IP_A) / vvrb-RUN (in B, REG_IP_B) holds a
# /30 out of 10.202.0.0/16 that no other namespace uses (picked under lib_net.sh's
# lock file). Each namespace has loopback and that /30, nothing else: a namespace's
# own ports are all free, so the servers listen on fixed ports and keep them across
# restarts (agents and the pairing know a server by its URL). Unix sockets with a path
# work from inside (libvirt's), so a host agent runs in its region's namespace.
#
# R below is A or B. Setup (fatal: a FAIL line and the end of the test; call them at
# the top level of the test):
#   reg_up                    makes both namespaces and the link; installs the cleanup
#                             trap. Sets REG_NS_A, REG_NS_B, REG_IP_A, REG_IP_B.
#   reg_srv_start R DATA [ARGS...]
#                             starts vmvaultd in region R on DATA (made if missing),
#                             logging into $WORK/srv-R.log, and waits for its health
#                             route. A listens on 127.0.0.1:$REG_PORT_A (plain HTTP),
#                             B on REG_IP_B:$REG_PORT_B with --tls auto; ARGS follow.
#                             Sets REG_URL_R, REG_PID_R, REG_OWNER_R (owner.token),
#                             REG_DATA_R, and for B REG_PIN_B (the certificate's pin).
#                             Returns 1 with a FAIL line when it does not come up.
# Actions (status 0, or non-zero with the reason on stderr):
#   reg_srv_restart R         starts R's server again, same data folder and arguments
#   reg_srv_stop R            SIGTERM, wait (SIGKILL after 30 s); the exit status
#   reg_srv_kill R            SIGKILL, wait
#   reg_exec R CMD [ARG...]   CMD inside R's namespace (a program, not a function)
#   reg_bg R CMD [ARG...]     the same in the background; REG_BG_PID is CMD's pid
#   reg_cli R ARGS...         the CLI in R's namespace against R's server, as the
#                             owner ($REG_TOKEN overrides the token); B's pin is set
#   reg_api R METHOD PATH [BODY]
#                             curl in R's namespace (B's key pinned) with the bearer
#                             $REG_TOKEN (default R's owner; '-' none); sets API_STATUS
#                             and API_BODY like lib_server.sh's api, so api_field,
#                             api_code, api_show and check_json read its answer
#   check_reg_api NAME STATUS CODE R METHOD PATH [BODY]
#                             one check: reg_api's answer has STATUS and, when CODE is
#                             not empty, the error code CODE (check_api for a region)
#   reg_cut                   cuts the link: packets from the peer are dropped on
#                             arrival in each namespace (nftables, ingress of the veth
#                             end, ARP passes), so both kernels just wait, as on a
#                             broken route
#   reg_restore               ends the cut
# Queries (print):
#   reg_link_bytes            the bytes of the IP packets from A that reached B so far
#                             (headers included; counted behind a cut's drop, so what a
#                             cut dropped is not counted)
#   reg_cleanup               stops both servers, ends every process left in the
#                             namespaces, deletes the link and the namespaces. Runs at
#                             exit on its own (behind lib_virt.sh's cleanup). Idempotent.
REG_RUN=${REG_RUN:-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')}
REG_NS_A= REG_NS_B= REG_IP_A= REG_IP_B=
REG_PORT_A=${REG_PORT_A:-18080}
REG_PORT_B=${REG_PORT_B:-18443}
REG_URL_A= REG_URL_B= REG_PID_A= REG_PID_B= REG_OWNER_A= REG_OWNER_B= REG_PIN_B=
REG_DATA_A= REG_DATA_B= REG_BG_PID= REG_TOKEN=
REG_ARGS_A=() REG_ARGS_B=()
REG_LOCK=${NET_LOCK:-/run/lock/vmvault-e2e-net.lock}
_REG_PREV_TRAP=
_REG_TRAPPED=0
_REG_CLEANED=0

_reg_err() { echo "$*" >&2; return 1; }
_reg_fatal() { fail "$1" "$2"; finish; }
_reg_in_subshell() { [ "${BASHPID:-$$}" != "$$" ]; }
_reg_ns() { case ${1-} in A) echo "$REG_NS_A" ;; B) echo "$REG_NS_B" ;; *) _reg_err "no region '${1-}' (A or B)" ;; esac; }

# Runs reg_cleanup at exit: behind lib_virt.sh's cleanup when that is the EXIT trap
# (virt_domain would otherwise wrap this trap again), else ahead of the trap set so far.
_reg_trap() {
    _reg_in_subshell && return 0
    [ "$_REG_TRAPPED" = 1 ] && return 0
    local cur
    cur=$(trap -p EXIT)
    if [ "$cur" = "trap -- '_virt_exit' EXIT" ] && declare -F _virt_exit >/dev/null; then
        _REG_PREV_TRAP=${_VIRT_PREV_TRAP-}
        _VIRT_PREV_TRAP=_reg_exit
    else
        if [ -n "$cur" ]; then
            eval "set -- $cur"
            _REG_PREV_TRAP=$3
        fi
        trap _reg_exit EXIT
    fi
    _REG_TRAPPED=1
    [ -n "$(trap -p INT)" ] || trap 'exit 130' INT
    [ -n "$(trap -p TERM)" ] || trap 'exit 143' TERM
}

_reg_exit() {
    local rc=$?
    trap '' PIPE INT TERM    # a second signal must not cut the cleanup short
    reg_cleanup "$rc"
    if [ -n "$_REG_PREV_TRAP" ]; then
        (exit "$rc")
        eval "$_REG_PREV_TRAP"
    fi
    exit "$rc"
}

# _reg_subnet: the third and fourth bytes of a 10.202.0.0/16 /30 that no namespace's
# address is in (run under the lock); the search starts where RUN says.
_reg_subnet() {
    local used=" " a h i idx o
    for a in $( { ip -4 -o addr show; ip -all netns exec ip -4 -o addr show; } 2>/dev/null |
                grep -Eo ' 10\.202\.[0-9]+\.[0-9]+/' | tr -d ' /'); do
        o=${a##*.}
        a=${a#10.202.}
        used+="${a%%.*}.$((o & ~3)) "
    done
    h=$(printf '%s' "$REG_RUN" | cksum | cut -d' ' -f1)
    for ((i = 0; i < 16384; i++)); do
        idx=$(((h + i) % 16384))
        a="$((idx / 64)).$((idx % 64 * 4))"
        case $used in *" $a "*) ;; *) echo "$a"; return 0 ;; esac
    done
    _reg_err "no free /30 left in 10.202.0.0/16"
}

# _reg_link SUB: the namespaces, the pair and its addresses (SUB from _reg_subnet).
_reg_link() {
    local base=10.202.${1%.*} last=${1#*.} ns
    ip netns add "vvra-$REG_RUN" || return 1
    REG_NS_A=vvra-$REG_RUN
    ip netns add "vvrb-$REG_RUN" || return 1
    REG_NS_B=vvrb-$REG_RUN
    ip link add "vvra-$REG_RUN" netns "$REG_NS_A" type veth peer name "vvrb-$REG_RUN" netns "$REG_NS_B" || return 1
    REG_IP_A=$base.$((last + 1)) REG_IP_B=$base.$((last + 2))
    ip -n "$REG_NS_A" addr add "$REG_IP_A/30" dev "vvra-$REG_RUN" &&
    ip -n "$REG_NS_B" addr add "$REG_IP_B/30" dev "vvrb-$REG_RUN" || return 1
    for ns in "$REG_NS_A" "$REG_NS_B"; do
        ip netns exec "$ns" sh -c 'for f in /proc/sys/net/ipv6/conf/*/disable_ipv6; do [ ! -w $f ] || echo 1 > $f; done'
        ip -n "$ns" link set lo up || return 1
    done
    ip -n "$REG_NS_A" link set "vvra-$REG_RUN" up && ip -n "$REG_NS_B" link set "vvrb-$REG_RUN" up || return 1
    # what reaches B from A, counted behind a cut's drop (priority 0)
    ip netns exec "$REG_NS_B" nft -f - <<EOF
table netdev vvregcount {
    chain in {
        type filter hook ingress device "vvrb-$REG_RUN" priority 10; policy accept;
        ip saddr $REG_IP_A counter
    }
}
EOF
}

reg_up() {
    [ -n "$REG_NS_A" ] && return 0
    _reg_in_subshell && _reg_fatal "two regions are up" "reg_up must run at the top level of the test"
    [ "$(id -u)" = 0 ] || _reg_fatal "two regions are up" "network namespaces need root"
    local t fd sub out deadline
    for t in ip:iproute2 nft:nftables flock:util-linux curl:curl; do
        command -v "${t%%:*}" >/dev/null 2>&1 ||
            _reg_fatal "two regions are up" "${t%%:*} is not installed (package ${t#*:}; scripts/install-deps.sh installs it)"
    done
    _reg_trap
    mkdir -p "$(dirname "$REG_LOCK")" 2>/dev/null
    exec {fd}>>"$REG_LOCK" || _reg_fatal "two regions are up" "cannot open the lock file $REG_LOCK"
    flock -w 60 "$fd" || { exec {fd}>&-; _reg_fatal "two regions are up" "another test held $REG_LOCK for 60 s"; }
    sub=$(_reg_subnet) || { exec {fd}>&-; _reg_fatal "two regions are up" "no free /30 left in 10.202.0.0/16"; }
    if ! _reg_link "$sub" >"$WORK/.reg-err" 2>&1; then
        exec {fd}>&-
        _reg_fatal "two regions are up" "$(tail -n 3 "$WORK/.reg-err" | tr '\n' ' ')"
    fi
    exec {fd}>&-
    deadline=$((SECONDS + 10))
    until out=$(timeout 3 ip netns exec "$REG_NS_A" bash -c "exec 3<>/dev/tcp/$REG_IP_B/9" 2>&1) || [[ $out == *refused* ]]; do
        [ $SECONDS -lt $deadline ] || _reg_fatal "two regions are up" "$REG_IP_B does not answer from region A within 10 s: $out"
        sleep 0.1
    done
}

reg_exec() { local ns; ns=$(_reg_ns "${1-}") || return 1; shift; ip netns exec "$ns" "$@"; }

reg_bg() {
    local ns
    ns=$(_reg_ns "${1-}") || _reg_fatal "reg_bg" "no region '${1-}'"
    shift
    ip netns exec "$ns" "$@" &
    REG_BG_PID=$!
}

# reg_srv_start R DATA [ARGS...]
reg_srv_start() {
    local r=$1 data=$2; shift 2
    [ -x "$VMVAULTD" ] || { fail "vmvaultd is built" "$VMVAULTD does not exist; run make"; finish; }
    mkdir -p "$data"
    data=$(cd "$data" && pwd)
    if [ "$r" = A ]; then
        REG_ARGS_A=(--listen "127.0.0.1:$REG_PORT_A" "$@") REG_DATA_A=$data
    else
        REG_ARGS_B=(--listen "$REG_IP_B:$REG_PORT_B" --tls auto "$@") REG_DATA_B=$data
    fi
    reg_srv_restart "$r"
}

# reg_srv_restart R: starts R's server with what reg_srv_start was given.
reg_srv_restart() {
    local r=$1 data pid url log rc args deadline
    if [ "$r" = A ]; then data=$REG_DATA_A args=("${REG_ARGS_A[@]}") url=http://127.0.0.1:$REG_PORT_A
    else data=$REG_DATA_B args=("${REG_ARGS_B[@]}") url=https://$REG_IP_B:$REG_PORT_B; fi
    log=$WORK/srv-$r.log
    echo "---- start $(date -u +%FT%TZ) ${args[*]}" >> "$log"
    reg_bg "$r" "$VMVAULTD" --data-dir "$data" --log-level debug "${args[@]}" >>"$log" 2>&1
    pid=$REG_BG_PID
    SRV_ALL_PIDS+=("$pid")
    eval "REG_PID_$r=$pid REG_URL_$r=$url"
    deadline=$((SECONDS + SRV_START_TIMEOUT))
    until reg_exec "$r" curl -kfsS -m 2 "$url/api/v1/health" >/dev/null 2>&1; do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"; rc=$?
            fail "server $r starts" "vmvaultd exited with status $rc: $(tail -n 5 "$log" | one_line)"
            eval "REG_PID_$r="; return 1
        fi
        if [ $SECONDS -ge $deadline ]; then
            fail "server $r starts" "no answer on $url/api/v1/health within ${SRV_START_TIMEOUT}s: $(tail -n 5 "$log" | one_line)"
            return 1
        fi
        sleep 0.05
    done
    eval "REG_OWNER_$r=\$(tr -d ' \n\r' < \"\$data/owner.token\")"
    [ "$r" = A ] || REG_PIN_B=$(grep -o 'public-key pin sha256//[A-Za-z0-9+/=]*' "$log" | tail -n 1 | cut -d' ' -f3)
    return 0
}

reg_srv_stop() {
    local pid rc
    eval "pid=\${REG_PID_$1-}"
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
    kill -0 "$pid" 2>/dev/null && { echo "     server $1 did not stop within 30 s of SIGTERM; killing it"; kill -9 "$pid"; }
    wait "$pid" 2>/dev/null; rc=$?
    eval "REG_PID_$1="
    return "$rc"
}

reg_srv_kill() {
    local pid
    eval "pid=\${REG_PID_$1-}"
    [ -n "$pid" ] || return 0
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    eval "REG_PID_$1="
    return 0
}

reg_cli() {
    local r=$1 url tok; shift
    eval "url=\$REG_URL_$r tok=\${REG_TOKEN:-\$REG_OWNER_$r}"
    if [ "$r" = B ]; then
        VMVAULT_URL=$url VMVAULT_TOKEN=$tok VMVAULT_CERTIFICATE_PIN=$REG_PIN_B reg_exec B "$VMVAULT" "$@"
    else
        env -u VMVAULT_CERTIFICATE_PIN VMVAULT_URL="$url" VMVAULT_TOKEN="$tok" ip netns exec "$REG_NS_A" "$VMVAULT" "$@"
    fi
}

reg_api() {
    local r=$1 method=$2 path=$3 body=${4-} url tok
    eval "url=\$REG_URL_$r tok=\${REG_TOKEN:-\$REG_OWNER_$r}"
    local args=(-sS -m 60 -o "$API_BODY" -w '%{http_code}' -X "$method")
    [ "$r" = A ] || args+=(-k --pinnedpubkey "$REG_PIN_B")
    [ "$tok" = - ] || args+=(-H "Authorization: Bearer $tok")
    [ -z "$body" ] || args+=(-H "Content-Type: application/json" --data-binary "$body")
    : > "$API_BODY"
    API_STATUS=$(reg_exec "$r" curl "${args[@]}" "$url$path" 2>"$WORK/.api-err") || true
    [ -n "$API_STATUS" ] || API_STATUS=000
}

# check_reg_api NAME STATUS CODE R METHOD PATH [BODY]: lib_server.sh's check_api
# through reg_api.
check_reg_api() {
    local name=$1 want=$2 code=$3; shift 3
    reg_api "$@"
    api_verdict "$name" "$want" "$code" "$@"
}

# _reg_nft R: nft -f - (the rules on stdin) in R's namespace.
_reg_nft() { reg_exec "$1" nft -f -; }

reg_cut() {
    local r peer dev
    for r in A B; do
        if [ "$r" = A ]; then peer=$REG_IP_B dev=vvra-$REG_RUN; else peer=$REG_IP_A dev=vvrb-$REG_RUN; fi
        _reg_nft "$r" <<EOF || return 1
table netdev vvregcut
delete table netdev vvregcut
table netdev vvregcut {
    chain in {
        type filter hook ingress device "$dev" priority 0; policy accept;
        ip saddr $peer counter drop
    }
}
EOF
    done
}

reg_restore() {
    local r rc=0
    for r in A B; do
        printf 'table netdev vvregcut\ndelete table netdev vvregcut\n' | _reg_nft "$r" || rc=1
    done
    return "$rc"
}

reg_link_bytes() {
    local n
    n=$(reg_exec B nft list chain netdev vvregcount in 2>/dev/null | grep -Eo 'counter packets [0-9]+ bytes [0-9]+' | awk '{ print $5 }')
    [ -n "$n" ] || { _reg_err "no byte counter in region B (reg_up made none)"; return 1; }
    echo "$n"
}

reg_cleanup() {
    local rc=${1:-0} ns pids p i
    [ "$_REG_CLEANED" = 1 ] && return 0
    _reg_in_subshell || _REG_CLEANED=1
    reg_srv_stop A >/dev/null 2>&1
    reg_srv_stop B >/dev/null 2>&1
    for ns in $REG_NS_A $REG_NS_B; do
        [ -e "/run/netns/$ns" ] || continue
        pids=$(ip netns pids "$ns" 2>/dev/null)
        if [ -n "$pids" ]; then
            kill -TERM $pids 2>/dev/null
            for ((i = 0; i < 60; i++)); do
                [ -n "$(ip netns pids "$ns" 2>/dev/null)" ] || break
                sleep 0.05
            done
            pids=$(ip netns pids "$ns" 2>/dev/null)
            [ -z "$pids" ] || kill -9 $pids 2>/dev/null
            for p in $pids; do wait "$p" 2>/dev/null; done
        fi
        ip netns del "$ns"
    done
    return 0
}
