#!/usr/bin/env bash
# The agent's way to the vault in a locked-down network. The host agent runs in a
# network namespace whose firewall drops everything but a real proxy (tinyproxy); the
# vault serves HTTPS with a self-signed certificate whose key the agent pins:
#   - without a proxy setting the direct way is blocked and check-connectivity names
#     the tcp step; with HttpProxy.* in agent.conf it passes, and a backup goes
#     through the proxy (its log shows the CONNECT) and restores byte-identical;
#   - a proxy that wants credentials: ProxyAuthenticationRequired until agent.conf has
#     them;
#   - the proxy setting removed while a backup runs: the job fails with
#     ExtensionSnapshotFailedNoNetwork, the vault learns it once the way is back;
#   - a wrong pin: VaultCertificateMismatch;
#   - the link cut mid-transfer: the backup goes on when it returns, correct, without
#     sending again what had arrived.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_server.sh"
. "$(dirname "$0")/lib_virt.sh"
. "$(dirname "$0")/lib_agent.sh"
. "$(dirname "$0")/lib_net.sh"
cd "$WORK"
virt_up
net_up
srv_start "$WORK/data" --listen "$NET_HOST_IP:0" --tls auto --agent-timeout 3600 || finish
VAULT_PORT=${SRV_URL##*:}
export VMVAULT_CERTIFICATE_PIN
VMVAULT_CERTIFICATE_PIN=$(grep -o 'public-key pin sha256//[A-Za-z0-9+/=]*' "$SRV_LOG" | head -n 1 | cut -d' ' -f3)
check "the vault serves https on the host side of the link" test "${SRV_URL%%://*}" = https
check "the CLI reaches it with the pinned key" "$VMVAULT" vault list
check "a wrong pin makes the CLI refuse the vault" sh -c \
    "VMVAULT_CERTIFICATE_PIN='sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' '$VMVAULT' vault list 2>&1 | grep -q 'not the pinned one'"
agent_setup
check "the credentials carry the pin, and the agent keeps it" \
    sh -c "grep -q '$VMVAULT_CERTIFICATE_PIN' '$WORK/creds.json' && grep -q '$VMVAULT_CERTIFICATE_PIN' '$AG/agent.json'"
virt_domain web --running --disk vda:qcow2:64M:71:16
VM=$VIRT_DOM
virt_domain slow --running --disk vda:qcow2:64M:72:16
SLOW=$VIRT_DOM
virt_domain cut --running --disk vda:qcow2:64M:73:16
CUT=$VIRT_DOM
agent_ns() { net_exec "$VMVAULT_AGENT" "$@" --state-dir "$AG"; }
run_ns() { agent_ns run --once --threads 3 "$@" >>"$WORK/agent.log" 2>&1; }
# agent_bg ARGS...: `vmvault-agent run --once ARGS` in the namespace, in the background
# (its pid in APID), logging into agent.log.
agent_bg() {
    net_bg bash -c 'exec "$0" run --once --state-dir "$1" "${@:2}" >>"$WORK/agent.log" 2>&1' \
        "$VMVAULT_AGENT" "$AG" "$@"
    APID=$NET_PID
}
export WORK
job() { "$VMVAULT" job show --vault-name v1 --name "$1" 2>/dev/null | json_value "$2" 2>/dev/null; }
# wait_job JOB EXPR [SECONDS]: until python EXPR holds for the job.
wait_job() {
    for _ in $(seq 1 $((${3:-30} * 10))); do
        [ "$(job "$1" "bool($2)")" = True ] && return 0
        sleep 0.1
    done
    return 1
}
check "the agent in the namespace reports the host's VMs" run_ns
for d in "$VM" "$SLOW" "$CUT"; do
    check "protect $d" "$VMVAULT" protection enable-for-vm --vault-name v1 --vm "$d" --policy-name DefaultPolicy
done

# 1. Deny-all but the proxy.
proxy_start
net_lockdown "$NET_HOST_IP:$PROXY_PORT"
agent_ns check-connectivity > check1.txt 2>&1; rc=$?
check "check-connectivity fails without the proxy (exit 1)" test "$rc" = 1
check "and names the tcp step, with what to allow" sh -c \
    "grep -Eq '^tcp +fail' check1.txt && grep -q 'allow outbound TCP from this host to $NET_HOST_IP port $VAULT_PORT' check1.txt"
printf '# the proxy this host must use\nHttpProxy.Host=%s\nHttpProxy.Port=%s\n' "$NET_HOST_IP" "$PROXY_PORT" > "$AG/agent.conf"
chmod 600 "$AG/agent.conf"
check "with HttpProxy.* in agent.conf every step passes" agent_ns check-connectivity
check_out "its JSON says so step by step" \
    'j["ok"] and [s["step"] + ":" + s["status"] for s in j["steps"]] == ["config:pass", "proxy:pass", "dns:skip", "tcp:skip", "tls:pass", "http:pass", "auth:pass", "upload:pass"]' \
    agent_ns check-connectivity --output json
J=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name "$VM")
virt_snapshot_expected web p1
check "a backup through the proxy" run_ns
check "completes" test "$(job "$J" "$NO_GA_DONE")" = True
check "the proxy carried it, in a CONNECT tunnel to the vault" proxy_saw "^CONNECT $NET_HOST_IP:$VAULT_PORT "
check "the firewall denied the direct attempts" test "$(net_denied)" -gt 0
P1=$(latest_point_of web)
check "the point restores byte-identical" restored_disk_equals "$P1" vda "$(virt_expected_at web vda p1)"

# 2. A proxy that wants credentials.
proxy_start --auth backup:s3cret
net_lockdown "$NET_HOST_IP:$PROXY_PORT"
printf 'HttpProxy.Host=%s\nHttpProxy.Port=%s\n' "$NET_HOST_IP" "$PROXY_PORT" > "$AG/agent.conf"
agent_ns check-connectivity > check2.txt 2>&1
check "without credentials the check says ProxyAuthenticationRequired and what to set" sh -c \
    "grep -q 'ProxyAuthenticationRequired' check2.txt && grep -q 'HttpProxy.User and HttpProxy.Password' check2.txt"
printf 'HttpProxy.Host=%s\nHttpProxy.Port=%s\nHttpProxy.User=backup\nHttpProxy.Password=s3cret\n' \
    "$NET_HOST_IP" "$PROXY_PORT" > "$AG/agent.conf"
check "with them it passes" agent_ns check-connectivity
printf 'HttpProxy.Host=%s\nHttpProxy.Port=%s\nHttpProxy.Passwd=x\n' "$NET_HOST_IP" "$PROXY_PORT" > "$AG/agent.conf"
check_refused "a misspelt key in agent.conf is refused with its line" 1 "line 3" "unknown key 'HttpProxy.Passwd'" \
    agent_ns check-connectivity

# 3. The proxy setting removed while a backup runs: no network.
printf 'HttpProxy.Host=%s\nHttpProxy.Port=%s\nHttpProxy.User=backup\nHttpProxy.Password=s3cret\nNetwork.RetrySeconds=8\n' \
    "$NET_HOST_IP" "$PROXY_PORT" > "$AG/agent.conf"
J=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name "$SLOW")
agent_bg --threads 2 --max-upload-rate 512K
check "the backup is sending" wait_job "$J" 'j["bytesDone"] > 0'

printf 'Network.RetrySeconds=8\n' > "$AG/agent.conf"
proxy_stop
wait "$APID"
check "the vault does not know yet: the agent could not tell it" test "$(job "$J" 'j["status"]')" = InProgress
check "the agent kept the job's end in its outbox" test -s "$AG/outbox/$J.json"
check "the end says ExtensionSnapshotFailedNoNetwork and what to allow" \
    grep -q '"code":"ExtensionSnapshotFailedNoNetwork".*allow outbound TCP' "$AG/outbox/$J.json"
agent_ns check-connectivity > check3.txt 2>&1
check "check-connectivity names the failing step" grep -Eq '^tcp +fail' check3.txt
proxy_start --auth backup:s3cret
net_lockdown "$NET_HOST_IP:$PROXY_PORT"
printf 'HttpProxy.Host=%s\nHttpProxy.Port=%s\nHttpProxy.User=backup\nHttpProxy.Password=s3cret\n' \
    "$NET_HOST_IP" "$PROXY_PORT" > "$AG/agent.conf"
check "with the proxy back the agent delivers it" run_ns
check_out "the job failed with ExtensionSnapshotFailedNoNetwork" \
    'j["status"] == "Failed" and j["error"]["code"] == "ExtensionSnapshotFailedNoNetwork" and "HttpProxy.Host" in j["error"]["message"]' \
    "$VMVAULT" job show --vault-name v1 --name "$J"
check "the outbox is empty" test -z "$(ls -A "$AG/outbox" 2>/dev/null)"

# 4. A wrong pin.
cp "$AG/agent.json" agent.json.good
sed -i 's#"certificatePin": "sha256//[A-Za-z0-9+/=]*"#"certificatePin": "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="#' "$AG/agent.json"
agent_ns check-connectivity > check4.txt 2>&1
check "a wrong pin fails the tls step with VaultCertificateMismatch" sh -c \
    "grep -Eq '^tls +fail +VaultCertificateMismatch' check4.txt"
cp agent.json.good "$AG/agent.json"

# 5. The link cut in the middle of a transfer, then back.
net_unlock
printf 'Network.RetrySeconds=120\n' > "$AG/agent.conf"
virt_snapshot_expected cut p2
MARK=$(wc -l < "$SRV_LOG")
: > "$WORK/agent.log"
J=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name "$CUT")
agent_bg --threads 2 --max-upload-rate 256K
# puts_since: how many chunk uploads the vault has received since MARK (under a rate
# limit an upload holds about a quarter of a second's worth: 64 KiB here).
puts_since() { tail -n +"$MARK" "$SRV_LOG" | grep -cE 'request method=POST path=/api/v1/agent/chunks(\?| )'; }
for _ in $(seq 1 300); do [ "$(puts_since)" -ge 4 ] && break; sleep 0.1; done
check "the backup is on its way: the vault has some of its chunks" test "$(puts_since)" -ge 4
check "and not all of them" test "$(job "$J" 'j["status"]')" = InProgress

check "cut the link (connections reset)" net_cut --reset
sleep 14   # longer than a connect attempt (10 s): requests fail and are tried again
check "bring it back" net_restore
wait "$APID"; rc=$?
check "the agent finishes (exit 0)" test "$rc" = 0
check "the backup completes" test "$(job "$J" "$NO_GA_DONE")" = True
check "the agent retried while the link was down" grep -q "trying again for up to 120 s" "$WORK/agent.log"
P2=$(latest_point_of cut)
check "the point restores byte-identical" restored_disk_equals "$P2" vda "$(virt_expected_at cut vda p2)"
# Chunks the vault acknowledged were not sent again: no chunk got two 2xx answers,
# but for the few whose answer the cut may have swallowed (one per upload worker).
DUPS=$(tail -n +"$MARK" "$SRV_LOG" | grep -E 'request method=PUT path=/api/v1/agent/chunks/[0-9a-f]+ status=20[01]' |
    sed -E 's/.*path=([^ ]+) .*/\1/' | sort | uniq -d | wc -l)
echo "     chunks acknowledged twice: $DUPS"
check "what arrived was not sent again (at most one per worker in flight)" test "$DUPS" -le 2
srv_stop
check "vmvaultd check passes" "$VMVAULTD" check --data-dir "$SRV_DATA"
finish
