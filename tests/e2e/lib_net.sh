# lib_net.sh: sourced after lib.sh (and, if used, lib_server.sh and lib_virt.sh) by the
# end-to-end tests that put a process (the host agent) in a network of its own: a
# network namespace linked to the root namespace by a veth pair, a firewall inside it,
# a real HTTP proxy (tinyproxy) in front of it, and cuts of the link mid-transfer.
#
# The namespace is vvn-RUN, RUN a random suffix per test process ($NET_RUN, at most 6
# characters: interface names are short), so parallel runs never clash. Its link is a
# /30 out of 10.201.0.0/16 that no other run uses (picked under a lock): vvh-RUN in the
# root namespace holds NET_HOST_IP, vvp-RUN inside holds NET_NS_IP. Inside there is
# loopback and that /30, no default route and no IPv6 on the link: any other address
# fails at once ("Network is unreachable"). Whatever the namespace must reach (vmvaultd,
# the proxy, a test's own server) listens on NET_HOST_IP in the root namespace:
# 127.0.0.1 in there is the namespace's own loopback (srv_start DATA --listen
# "$NET_HOST_IP:0" --tls auto: the last --listen counts, and vmvaultd serves plain HTTP
# on loopback only). Unix sockets with a path work from inside, firewall or not
# (libvirt's /var/run/libvirt/libvirt-sock, QEMU's NBD sockets: `net_exec virsh -c
# qemu:///system list` works); only abstract ones (@name) belong to a network namespace.
# Commands run through net_exec (ip netns exec) see /etc/netns/vvn-RUN/resolv.conf as
# /etc/resolv.conf: "nameserver NET_HOST_IP, options timeout:1 attempts:2", where no
# server answers (unless the host runs one on all its addresses), so a name that
# /etc/hosts does not know fails (curl exit 6, "Could not resolve host: NAME"): for curl
# at once when open (ICMP port unreachable; getent hosts takes 1 s) or locked down (the
# query is refused locally, EPERM), in about 2 s while the link is cut.
#
# libcurl (the agent, curl) takes its proxy from http_proxy (lowercase only) for http://
# URLs and https_proxy / HTTPS_PROXY for https:// ones: through the proxy an https://
# vault URL gives a request line "CONNECT HOST:PORT HTTP/1.1", an http:// one
# "METHOD http://HOST:PORT/api/... HTTP/1.1". The files (proxy config and log) live in
# NET_DIR ($WORK/net).
#
# Setup (fatal: on error they print a FAIL line and end the test; call them at the top
# level of the test, not inside $(...), a pipe or check):
#   net_up                    makes the namespace and its link (loopback up). Sets
#                             NET_NS, NET_HOST_IP, NET_NS_IP, NET_HOST_DEV, NET_NS_DEV.
#                             A second call does nothing.
#   proxy_start [--auth USER:PASS]
#                             starts tinyproxy (package tinyproxy-bin) in the root
#                             namespace on NET_HOST_IP and a free port, with its own
#                             config ($NET_DIR/tinyproxy.conf), LogLevel Info into
#                             PROXY_LOG ($NET_DIR/tinyproxy.log, kept across restarts).
#                             Clients allowed: NET_NS_IP, NET_HOST_IP. CONNECT goes to
#                             any port (the config has no ConnectPort line). --auth:
#                             BasicAuth USER PASS ([A-Za-z0-9._-]+ each); a request
#                             without credentials gets "407 Proxy Authentication
#                             Required", one with wrong credentials "401 Unauthorized"
#                             (tinyproxy 1.11's answer, not 407). Sets PROXY_URL
#                             (http://NET_HOST_IP:PORT), PROXY_PORT, PROXY_PID,
#                             PROXY_LOG, and with --auth PROXY_AUTH (USER:PASS) and
#                             PROXY_AUTH_URL (http://USER:PASS@NET_HOST_IP:PORT). A
#                             running proxy is stopped first (its port changes).
#   net_bg CMD [ARG...]       starts CMD inside the namespace in the background; sets
#                             NET_PID to CMD's own pid (ip netns exec execs it).
# Actions (return 0, or non-zero with the reason on stderr; wrap them in `check`):
#   net_exec CMD [ARG...]     runs CMD inside the namespace with the caller's environment
#                             and returns its status. CMD is a program, not a shell
#                             function: use `net_exec bash -c '...'` for shell code.
#   net_lockdown [--drop|--reject] [IP[:PORT] ...]
#                             replaces the firewall inside the namespace (nftables table
#                             inet vvlock, hook output): let out only loopback, packets
#                             of connections already established (also those made
#                             before the lockdown) and new ones to IP:PORT (TCP) or to
#                             IP (anything); deny the rest. By default (--drop) the rest
#                             is dropped, as a deny-all host firewall does: a TCP connect
#                             hangs until the client gives up (curl exit 28 "Failed to
#                             connect to IP port P after N ms: Timeout was reached" with
#                             --connect-timeout; with no timeout of its own, the
#                             kernel's ETIMEDOUT after 134 s: curl exit 28 "Failed to
#                             connect to IP port P after 133643 ms: Couldn't connect to
#                             server"), a UDP send fails at once with EPERM ("Operation
#                             not permitted"; DNS lookups fail at once). With --reject
#                             the rest is answered with ICMP admin-prohibited
#                             (firewalld's default): a TCP connect fails at once with
#                             EHOSTUNREACH, curl exit 7 "Failed to connect to IP port P
#                             after 0 ms: Couldn't connect to server" (curl -v: "connect
#                             to IP port P failed: No route to host", where a closed
#                             port says "Connection refused").
#   net_unlock                removes that firewall.
#   net_denied                prints how many packets the firewall denied so far.
#   net_cut [--reset]         cuts the link both ways, as a broken route does: every
#                             packet but ARP arriving at either end of the veth pair is
#                             dropped (tables netdev vvcut inside and netdev vvcut-RUN
#                             in the root namespace, hook ingress), so neither side's
#                             kernel sees an error: TCP connections stall (the sender
#                             retransmits, a receiver just waits) until a timeout of the
#                             program's own (curl -y/-Y: exit 28 "Operation too slow.
#                             Less than N bytes/sec transferred the last M seconds";
#                             libcurl CURLE_OPERATION_TIMEDOUT), new connections time
#                             out (the kernel's own limit: curl exit 28 after 134 s, as
#                             under net_lockdown), UDP vanishes (DNS: exit 6 after 2 s).
#                             ARP goes through so that the outcome does not hang on the
#                             neighbour cache: dropped too, a connect made during the cut
#                             failed after 14 s with "No route to host" (curl exit 7).
#                             --reset first resets every TCP connection between the
#                             namespace and the host (ss -K on the host's side, whose
#                             kernel then sends a RST): a client inside sees ECONNRESET
#                             once it has read what it already received (curl exit 56
#                             "Recv failure: Connection reset by peer"), the host side's
#                             program ECONNABORTED.
#   net_restore               ends the cut. New connections work at once; a stalled
#                             one goes on with its sender's next retransmission, unless
#                             a timeout ended it before: the wait between them doubles,
#                             so that came 3 s after the end of a 10 s cut, 23 s after
#                             a 30 s one.
#   proxy_stop                SIGTERM (SIGKILL after 5 s) and wait; the log stays.
#   proxy_saw PATTERN         status 0 when the proxy logged a request whose request line
#                             matches the grep -E PATTERN, e.g. "^CONNECT $NET_HOST_IP:443 "
#                             or "^GET http://$NET_HOST_IP:8080/"; else the request
#                             lines it saw on stderr. A request line is logged for every
#                             request, also those answered 407/401/403 (no other line
#                             tells these apart; a relayed one is followed by
#                             "Established connection to host ...").
#   net_wait_listen IP PORT [TIMEOUT]
#                             waits (default 20 s) until a TCP server listens on IP:PORT
#                             in the root namespace.
#   net_cleanup               stops the proxy, ends every process still in the namespace
#                             (SIGTERM, SIGKILL after 3 s), deletes the root side's
#                             vvcut-RUN table, the veth pair, the namespace (its tables
#                             go with it) and /etc/netns/vvn-RUN. Runs at exit on its
#                             own: net_up wraps the EXIT trap set so far (behind
#                             lib_virt.sh's when that is the current one, so that
#                             virt_up or virt_domain coming later do not wrap it again);
#                             a test that sets its own EXIT trap later must call
#                             net_cleanup in it. Also exits on SIGINT/SIGTERM when the
#                             test has no trap for them. Idempotent.
# Queries (print):
#   net_free_port             a TCP port free on NET_HOST_IP now.
#   proxy_requests [PATTERN]  the request lines the proxy logged ("METHOD URL VERSION"),
#                             those matching the grep -E PATTERN when given.
#
# What tinyproxy 1.11 logs at LogLevel Info, one request (the first word of each line
# is the level, and "CONNECT" is the name of a level, not the method):
#   CONNECT   Dec 02 14:52:04.442 [15781]: Connect (file descriptor 5): 10.201.250.2
#   CONNECT   Dec 02 14:52:04.443 [15781]: Request (file descriptor 5): CONNECT
#             10.201.250.1:18443 HTTP/1.1
#   INFO      Dec 02 14:52:04.443 [15781]: No upstream proxy for 10.201.250.1
#   INFO      Dec 02 14:52:04.444 [15781]: opensock: opening connection to
#             10.201.250.1:18443
#   CONNECT   Dec 02 14:52:04.444 [15781]: Established connection to host
#             "10.201.250.1" using file descriptor 6.
#   INFO      Dec 02 14:52:04.506 [15781]: Closed connection between local client
#             (fd:5) and remote client (fd:6)
# (one line each: cut here to fit).
# A plain HTTP request's line is "Request (file descriptor 5): GET http://HOST:PORT/PATH
# HTTP/1.1". A request refused for its credentials (407/401) logs the first two lines
# only; a CONNECT to a port the config does not allow: "Refused CONNECT method on port N"
# (answer 403).
#
# Things to know: the firewall (inet vvlock) filters output inside the namespace, the
# cut filters ingress at both ends; the two are independent. The cut uses neither an
# output nor an egress hook: a drop in an output hook is a local error for the sender
# (UDP gets EPERM, so DNS would fail at once instead of timing out), one in a netdev
# egress hook makes an uploading TCP sender give up with ETIMEDOUT within about 9 s,
# and `ip link set ... down` removes the namespace's route (new connections fail at once
# with "Network is unreachable"); a drop at ingress leaves both kernels waiting, as a
# real network failure does.
# TCP buffers are large here (tcp_rmem max 32 MiB, tcp_wmem 4 MiB): a slow reader may
# already hold tens of MiB in its socket when the cut comes and read on for seconds, so
# cut a download that is far larger than that, or an upload (the sender's 4 MiB fill
# at once). curl --limit-rate also delays its -y/-Y check by several seconds.
# Leftovers of a test killed with SIGKILL: `ip netns list | grep vvn-`, `ip link | grep
# vvh-`, /etc/netns/vvn-*: remove them only when their test process is gone.
NET_RUN=${NET_RUN:-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')}
NET_DIR=$WORK/net
NET_NS= NET_HOST_IP= NET_NS_IP= NET_HOST_DEV= NET_NS_DEV= NET_PID=
NET_ETC=
PROXY_URL= PROXY_PORT= PROXY_PID= PROXY_AUTH= PROXY_AUTH_URL=
PROXY_LOG=$NET_DIR/tinyproxy.log
PROXY_START_TIMEOUT=${PROXY_START_TIMEOUT:-20}
NET_LOCK=${NET_LOCK:-/run/lock/vmvault-e2e-net.lock}
_NET_PY=${PY:-}
_NET_PREV_TRAP=
_NET_TRAPPED=0
_NET_CLEANED=0

_net_err() { echo "$*" >&2; return 1; }
_net_fatal() { fail "$1" "$2"; finish; }
_net_in_subshell() { [ "${BASHPID:-$$}" != "$$" ]; }
_net_need() { [ -n "$NET_NS" ] || _net_err "no test network: call net_up first"; }

# Runs net_cleanup at exit ahead of the EXIT trap that was there before. When that is
# lib_virt.sh's (_virt_exit), net_cleanup goes behind it instead: _virt_trap, run again
# by virt_domain, leaves a trap of its own alone, and would otherwise wrap this one and
# make the two call each other.
_net_trap() {
    _net_in_subshell && return 0
    [ "$_NET_TRAPPED" = 1 ] && return 0
    local cur
    cur=$(trap -p EXIT)
    if [ "$cur" = "trap -- '_virt_exit' EXIT" ] && declare -F _virt_exit >/dev/null; then
        _NET_PREV_TRAP=${_VIRT_PREV_TRAP-}
        _VIRT_PREV_TRAP=_net_exit
    else
        if [ -n "$cur" ]; then
            eval "set -- $cur"
            _NET_PREV_TRAP=$3
        fi
        trap _net_exit EXIT
    fi
    _NET_TRAPPED=1
    # without a trap, bash dies of these signals without running its EXIT trap, which
    # would leave the namespace and the proxy behind; same for SIGPIPE (a test piped
    # into head), whose handler ignores it from then on: the EXIT trap's first write
    # (set -x) would raise it again before _net_exit gets to ignore it
    [ -n "$(trap -p INT)" ] || trap 'exit 130' INT
    [ -n "$(trap -p TERM)" ] || trap 'exit 143' TERM
    case $(trap -p PIPE) in
        "" | "trap -- 'exit 141' SIGPIPE") trap 'trap "" PIPE; exit 141' PIPE ;;
    esac
}

_net_exit() {
    local rc=$?
    trap '' PIPE
    net_cleanup "$rc"
    if [ -n "$_NET_PREV_TRAP" ]; then
        (exit "$rc")
        eval "$_NET_PREV_TRAP"
    fi
    exit "$rc"
}

# _net_subnet: the third and fourth bytes of a 10.201.0.0/16 /30 that no address of the
# root namespace is in (run under the lock); the search starts at a place that RUN
# decides.
_net_subnet() {
    local used=" " a h i idx o
    for a in $(ip -4 -o addr show | grep -Eo ' 10\.201\.[0-9]+\.[0-9]+/' | tr -d ' /'); do
        o=${a##*.}
        a=${a#10.201.}
        used+="${a%%.*}.$((o & ~3)) "
    done
    h=$(printf '%s' "$NET_RUN" | cksum | cut -d' ' -f1)
    for ((i = 0; i < 16384; i++)); do
        idx=$(((h + i) % 16384))
        a="$((idx / 64)).$((idx % 64 * 4))"
        case $used in *" $a "*) ;; *) echo "$a"; return 0 ;; esac
    done
    _net_err "no free /30 left in 10.201.0.0/16"
}

_net_noipv6() { [ -w "$1" ] && echo 1 > "$1"; return 0; }

net_up() {
    [ -n "$NET_NS" ] && return 0
    _net_in_subshell && _net_fatal "test network is up" "net_up must run at the top level of the test (not in \$(...), a pipe or check)"
    local t
    [ "$(id -u)" = 0 ] || _net_fatal "test network is up" "network namespaces need root"
    for t in ip:iproute2 ss:iproute2 nft:nftables flock:util-linux; do
        command -v "${t%%:*}" >/dev/null 2>&1 ||
            _net_fatal "test network is up" "${t%%:*} is not installed (package ${t#*:}; scripts/install-deps.sh installs it)"
    done
    _net_trap
    mkdir -p "$NET_DIR"
    # the interpreter itself: a version manager's shim costs a third of a second a call
    [ -n "$_NET_PY" ] || _NET_PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || _NET_PY=python3
    local ns=vvn-$NET_RUN hdev=vvh-$NET_RUN pdev=vvp-$NET_RUN fd sub base last out
    mkdir -p "$(dirname "$NET_LOCK")" 2>/dev/null
    exec {fd}>>"$NET_LOCK" || _net_fatal "test network is up" "cannot open the lock file $NET_LOCK"
    if ! flock -w 60 "$fd"; then
        exec {fd}>&-
        _net_fatal "test network is up" "another test held $NET_LOCK for 60 s"
    fi
    if ! sub=$(_net_subnet); then
        exec {fd}>&-
        _net_fatal "test network is up" "no free /30 left in 10.201.0.0/16"
    fi
    base=10.201.${sub%.*} last=${sub#*.}
    # each name goes into NET_* once this test made it, for net_cleanup to remove; what
    # failed to be made may be another run's
    if ! out=$(ip netns add "$ns" 2>&1); then
        exec {fd}>&-
        _net_fatal "test network is up" "ip netns add $ns: $out"
    fi
    NET_NS=$ns
    if ! out=$(ip link add "$hdev" type veth peer name "$pdev" netns "$ns" 2>&1); then
        exec {fd}>&-
        _net_fatal "test network is up" "ip link add $hdev: $out"
    fi
    NET_HOST_DEV=$hdev NET_NS_DEV=$pdev
    NET_HOST_IP=$base.$((last + 1)) NET_NS_IP=$base.$((last + 2))
    # (set -e has no effect in a condition, hence the &&)
    if ! out=$({
        _net_noipv6 "/proc/sys/net/ipv6/conf/$hdev/disable_ipv6" &&
        ip netns exec "$ns" sh -c "f=/proc/sys/net/ipv6/conf/$pdev/disable_ipv6; [ ! -w \$f ] || echo 1 > \$f" &&
        ip addr add "$NET_HOST_IP/30" dev "$hdev" &&
        ip link set "$hdev" up &&
        ip -n "$ns" addr add "$NET_NS_IP/30" dev "$pdev" &&
        ip -n "$ns" link set "$pdev" up &&
        ip -n "$ns" link set lo up
    } 2>&1); then
        exec {fd}>&-
        _net_fatal "test network is up" "$(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
    fi
    # ip netns exec mounts /etc/netns/NS/FILE over /etc/FILE; made under the lock, as
    # net_cleanup removes /etc/netns when it is empty
    if [ -e /etc/resolv.conf ]; then
        NET_ETC=/etc/netns/$ns
        if ! { mkdir -p "$NET_ETC" &&
               printf 'nameserver %s\noptions timeout:1 attempts:2\n' "$NET_HOST_IP" > "$NET_ETC/resolv.conf"; }; then
            exec {fd}>&-
            _net_fatal "test network is up" "cannot write $NET_ETC/resolv.conf"
        fi
    fi
    exec {fd}>&-
    # the link carries packets once both ends are up: a TCP connect from inside to the
    # host gets an answer (accepted, or refused when nothing listens on that port)
    local deadline=$((SECONDS + 10))
    while :; do
        out=$(timeout 3 ip netns exec "$ns" bash -c "exec 3<>/dev/tcp/$NET_HOST_IP/9" 2>&1) && break
        case $out in *refused*) break ;; esac
        [ $SECONDS -lt $deadline ] ||
            _net_fatal "test network is up" "$NET_HOST_IP does not answer from inside $ns within 10 s: $out"
        sleep 0.1
    done
}

net_exec() {
    _net_need || return 1
    ip netns exec "$NET_NS" "$@"
}

net_bg() {
    _net_need || _net_fatal "net_bg" "no test network: call net_up first"
    _net_in_subshell && _net_fatal "net_bg" "net_bg must run at the top level of the test (NET_PID would be lost)"
    ip netns exec "$NET_NS" "$@" &
    NET_PID=$!
}

# _net_nft [--root]: nft -f - (the ruleset on stdin) inside the namespace, or in the
# root namespace with --root.
_net_nft() {
    if [ "${1-}" = --root ]; then nft -f -
    else ip netns exec "$NET_NS" nft -f -; fi
}

net_lockdown() {
    _net_need || return 1
    local verdict="drop" a rules=""
    while [ $# -gt 0 ]; do
        case $1 in
            --reject) verdict="reject with icmpx admin-prohibited"; shift ;;
            --drop) verdict="drop"; shift ;;
            --) shift; break ;;
            -*) _net_err "net_lockdown: unknown option '$1'"; return 1 ;;
            *) break ;;
        esac
    done
    for a in "$@"; do
        if [[ $a =~ ^([0-9]{1,3}(\.[0-9]{1,3}){3})(:([0-9]{1,5}))?$ ]]; then
            if [ -n "${BASH_REMATCH[4]}" ]; then
                rules+="        ip daddr ${BASH_REMATCH[1]} tcp dport ${BASH_REMATCH[4]} accept"$'\n'
            else
                rules+="        ip daddr ${BASH_REMATCH[1]} accept"$'\n'
            fi
        else
            _net_err "net_lockdown: '$a' is not IP:PORT or IP (IPv4)"; return 1
        fi
    done
    # declaring the table before deleting it makes the delete succeed when there was
    # none; the whole file is one transaction
    _net_nft <<EOF
table inet vvlock
delete table inet vvlock
table inet vvlock {
    chain output {
        type filter hook output priority filter; policy drop;
        oif "lo" accept
        ct state established,related accept
$rules        counter $verdict
    }
}
EOF
}

net_unlock() {
    _net_need || return 1
    printf 'table inet vvlock\ndelete table inet vvlock\n' | _net_nft
}

net_denied() {
    _net_need || return 1
    local n
    n=$(ip netns exec "$NET_NS" nft list chain inet vvlock output 2>/dev/null |
        grep -Eo 'counter packets [0-9]+' | tail -n 1 | awk '{ print $3 }')
    echo "${n:-0}"
}

net_cut() {
    _net_need || return 1
    local reset=0 deadline left out
    case ${1-} in
        --reset) reset=1 ;;
        "") ;;
        *) _net_err "net_cut: unknown argument '$1'"; return 1 ;;
    esac
    if [ "$reset" = 1 ]; then
        out=$(ss -K -tnH dst "$NET_NS_IP" 2>&1) || { _net_err "ss -K failed: $out"; return 1; }
        # the RSTs cross the veth pair in a softirq: wait until the namespace's side of
        # every connection is gone before cutting; a connection the agent opened again
        # in the meantime is reset too
        deadline=$((SECONDS + 5))
        while :; do
            left=$(ip netns exec "$NET_NS" ss -tnH state established dst "$NET_HOST_IP" 2>/dev/null)
            [ -z "$left" ] && break
            if [ $SECONDS -ge $deadline ]; then
                _net_err "connections still established after ss -K (a kernel without CONFIG_INET_DIAG_DESTROY?): $left"
                return 1
            fi
            sleep 0.05
            ss -K -tnH dst "$NET_NS_IP" >/dev/null 2>&1
        done
    fi
    _net_nft --root <<EOF || return 1
table netdev vvcut-$NET_RUN
delete table netdev vvcut-$NET_RUN
table netdev vvcut-$NET_RUN {
    chain in {
        type filter hook ingress device "$NET_HOST_DEV" priority 0; policy accept;
        ether type arp accept
        counter drop
    }
}
EOF
    _net_nft <<EOF
table netdev vvcut
delete table netdev vvcut
table netdev vvcut {
    chain in {
        type filter hook ingress device "$NET_NS_DEV" priority 0; policy accept;
        ether type arp accept
        counter drop
    }
}
EOF
}

net_restore() {
    _net_need || return 1
    printf 'table netdev vvcut\ndelete table netdev vvcut\n' | _net_nft || return 1
    printf 'table netdev vvcut-%s\ndelete table netdev vvcut-%s\n' "$NET_RUN" "$NET_RUN" | _net_nft --root
}

net_free_port() {
    _net_need || return 1
    "${_NET_PY:-python3}" -S -c 'import socket, sys
s = socket.socket()
s.bind((sys.argv[1], 0))
print(s.getsockname()[1])' "$NET_HOST_IP"
}

# _net_listening IP PORT: a TCP socket listens on IP:PORT in the root namespace.
_net_listening() { ss -Hltn "( sport = :$2 )" 2>/dev/null | grep -q " $1:$2 "; }

net_wait_listen() {
    local deadline=$((SECONDS + ${3:-20}))
    until _net_listening "$1" "$2"; do
        [ $SECONDS -lt $deadline ] || { _net_err "nothing listens on $1:$2 after ${3:-20} s"; return 1; }
        sleep 0.05
    done
}

proxy_start() {
    local auth= try port pid deadline conf=$NET_DIR/tinyproxy.conf why n0 n1
    _net_need 2>/dev/null || _net_fatal "proxy is up" "no test network: call net_up first"
    _net_in_subshell && _net_fatal "proxy is up" "proxy_start must run at the top level of the test (not in \$(...), a pipe or check)"
    while [ $# -gt 0 ]; do
        case $1 in
            --auth)
                [ $# -ge 2 ] || _net_fatal "proxy is up" "proxy_start --auth wants USER:PASS"
                auth=$2; shift 2 ;;
            *) _net_fatal "proxy is up" "proxy_start: unknown argument '$1'" ;;
        esac
    done
    if [ -n "$auth" ] && ! [[ $auth =~ ^[A-Za-z0-9._-]+:[A-Za-z0-9._-]+$ ]]; then
        _net_fatal "proxy is up" "proxy_start --auth wants USER:PASS of [A-Za-z0-9._-], not '$auth'"
    fi
    command -v tinyproxy >/dev/null 2>&1 ||
        _net_fatal "proxy is up" "tinyproxy is not installed (package tinyproxy-bin; scripts/install-deps.sh installs it)"
    proxy_stop
    for try in 1 2 3 4 5; do
        port=$(net_free_port) || _net_fatal "proxy is up" "no free port on $NET_HOST_IP"
        {
            echo "Port $port"
            echo "Listen $NET_HOST_IP"
            echo "Timeout 600"
            echo "LogFile \"$PROXY_LOG\""
            echo "LogLevel Info"
            echo "MaxClients 100"
            echo "Allow $NET_NS_IP"
            echo "Allow $NET_HOST_IP"
            # no ConnectPort line: CONNECT to every port
            [ -z "$auth" ] || echo "BasicAuth ${auth%%:*} ${auth#*:}"
        } > "$conf"
        echo "---- proxy_start $(date -u +%FT%TZ) port $port${auth:+ auth ${auth%%:*}}" >> "$NET_DIR/tinyproxy.out"
        n0=$(cat "$PROXY_LOG" 2>/dev/null | wc -l) n1=$(wc -l < "$NET_DIR/tinyproxy.out")
        # -d: stays in the foreground, so that $! is tinyproxy itself
        tinyproxy -d -c "$conf" >> "$NET_DIR/tinyproxy.out" 2>&1 &
        pid=$!
        echo "$pid" > "$NET_DIR/proxy.pid"
        deadline=$((SECONDS + PROXY_START_TIMEOUT))
        while kill -0 "$pid" 2>/dev/null && ! _net_listening "$NET_HOST_IP" "$port" && [ $SECONDS -lt $deadline ]; do
            sleep 0.05
        done
        if _net_listening "$NET_HOST_IP" "$port" && kill -0 "$pid" 2>/dev/null; then
            PROXY_PID=$pid PROXY_PORT=$port PROXY_URL=http://$NET_HOST_IP:$port
            PROXY_AUTH=$auth PROXY_AUTH_URL=
            [ -z "$auth" ] || PROXY_AUTH_URL=http://$auth@$NET_HOST_IP:$port
            return 0
        fi
        if kill -0 "$pid" 2>/dev/null; then
            kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
            rm -f "$NET_DIR/proxy.pid"
            _net_fatal "proxy is up" "tinyproxy does not listen on $NET_HOST_IP:$port after ${PROXY_START_TIMEOUT}s: $(tail -n 3 "$PROXY_LOG" "$NET_DIR/tinyproxy.out" 2>/dev/null | tr '\n' ' ')"
        fi
        wait "$pid" 2>/dev/null
        rm -f "$NET_DIR/proxy.pid"
        why=$( { tail -n +$((n0 + 1)) "$PROXY_LOG"; tail -n +$((n1 + 1)) "$NET_DIR/tinyproxy.out"; } 2>/dev/null)
        # another process took the port in between: try another one
        printf '%s' "$why" | grep -q 'Address already in use\|Could not create listening sockets' || break
    done
    why=$(printf '%s' "$why" | grep -v '^INFO ' | tail -n 4 | tr '\n' ' ')
    _net_fatal "proxy is up" "tinyproxy exited: $why"
}

proxy_stop() {
    local pid=${PROXY_PID:-} i
    [ -n "$pid" ] || pid=$(cat "$NET_DIR/proxy.pid" 2>/dev/null)
    [ -n "$pid" ] || return 0
    if kill -TERM "$pid" 2>/dev/null; then
        for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -9 "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    rm -f "$NET_DIR/proxy.pid"
    PROXY_PID=
    return 0
}

proxy_requests() {
    [ -f "$PROXY_LOG" ] || return 0
    sed -n 's/^[A-Z]* .*: Request (file descriptor [0-9]*): //p' "$PROXY_LOG" |
        if [ -n "${1-}" ]; then grep -E -- "$1"; else cat; fi
    return 0
}

proxy_saw() {
    [ -n "$(proxy_requests "${1-}")" ] && return 0
    local seen
    seen=$(proxy_requests | tail -n 8)
    _net_err "the proxy saw no request matching /${1-}/; it saw: ${seen:-nothing}"
}

net_cleanup() {
    local rc=${1:-0} pids p i
    [ "$_NET_CLEANED" = 1 ] && return 0
    _net_in_subshell || _NET_CLEANED=1
    proxy_stop
    if { [ "$rc" != 0 ] || [ "${T_FAILED:-0}" != 0 ]; } && [ -s "$PROXY_LOG" ]; then
        echo "     proxy log (last lines):"
        grep -v '^INFO ' "$PROXY_LOG" | tail -n 8 | sed 's/^/       /'
    fi
    [ -n "$NET_NS" ] || return 0
    if [ -e "/run/netns/$NET_NS" ]; then
        # what the test started in there (net_exec, net_bg) and left running
        pids=$(ip netns pids "$NET_NS" 2>/dev/null)
        if [ -n "$pids" ]; then
            kill -TERM $pids 2>/dev/null
            for ((i = 0; i < 60; i++)); do
                [ -n "$(ip netns pids "$NET_NS" 2>/dev/null)" ] || break
                sleep 0.05
            done
            pids=$(ip netns pids "$NET_NS" 2>/dev/null)
            [ -z "$pids" ] || kill -9 $pids 2>/dev/null
            for p in $pids; do wait "$p" 2>/dev/null; done
        fi
    fi
    nft list table netdev "vvcut-$NET_RUN" >/dev/null 2>&1 && nft delete table netdev "vvcut-$NET_RUN"
    [ -n "$NET_HOST_DEV" ] && ip link show "$NET_HOST_DEV" >/dev/null 2>&1 && ip link del "$NET_HOST_DEV"
    [ -e "/run/netns/$NET_NS" ] && ip netns del "$NET_NS"
    if [ -n "$NET_ETC" ]; then
        (
            exec 9>>"$NET_LOCK" && flock -w 30 9
            rm -rf "$NET_ETC"
            rmdir /etc/netns 2>/dev/null
        )
    fi
    return 0
}
