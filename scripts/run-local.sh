#!/usr/bin/env bash
# make run: starts the vault server with its embedded defaults and, when libvirt is
# there, a host agent registered to it, so this machine's VMs show up at once.
#
#   data folder  VMVAULTD_DATA_DIR, default ./var/vmvaultd in the source tree
#   address      VMVAULTD_LISTEN, default 127.0.0.1:8080
#   agent state  ./var/agent (the agent is skipped with VMVAULT_NO_AGENT=1)
#
# The first start creates the catalog and the user 'owner', whose token is written to
# DATA/owner.token (mode 0600), a vault 'local' in region 'local', and registers this
# host with it. Ctrl-C (or SIGTERM) stops the agent and the server cleanly.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
DATA=${VMVAULTD_DATA_DIR:-$TOP/var/vmvaultd}
LISTEN=${VMVAULTD_LISTEN:-127.0.0.1:8080}
AGENT_STATE=$TOP/var/agent
URL=http://$LISTEN
mkdir -p "$DATA"
chmod 700 "$DATA"

"$TOP/build/vmvaultd" --data-dir "$DATA" --listen "$LISTEN" &
SERVER=$!
AGENT=
stop() {
    [ -n "$AGENT" ] && kill -TERM "$AGENT" 2>/dev/null && wait "$AGENT" 2>/dev/null
    kill -TERM "$SERVER" 2>/dev/null
    wait "$SERVER" 2>/dev/null
    exit 0
}
trap stop INT TERM
for _ in $(seq 1 100); do
    curl -fsS -m 1 "$URL/api/v1/health" >/dev/null 2>&1 && break
    kill -0 "$SERVER" 2>/dev/null || { echo "vmvaultd did not start" >&2; exit 1; }
    sleep 0.1
done
export VMVAULT_URL=$URL VMVAULT_TOKEN
VMVAULT_TOKEN=$(cat "$DATA/owner.token")
VMVAULT=$TOP/build/vmvault

agent_note="no local agent (VMVAULT_NO_AGENT=1)"
if [ "${VMVAULT_NO_AGENT:-0}" != 1 ]; then
    # libvirt: start its daemons as root when nothing runs them (no systemd here).
    if ! virsh -c qemu:///system list >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        pgrep -x virtlogd >/dev/null || virtlogd -d
        pgrep -x libvirtd >/dev/null || libvirtd -d
        for _ in $(seq 1 50); do virsh -c qemu:///system list >/dev/null 2>&1 && break; sleep 0.1; done
    fi
    if ! virsh -c qemu:///system list >/dev/null 2>&1; then
        agent_note="no local agent: libvirt (qemu:///system) does not answer"
    else
        if ! "$VMVAULT" vault show --name local >/dev/null 2>&1; then
            "$VMVAULT" vault create --name local --location local >/dev/null
        fi
        if [ ! -e "$AGENT_STATE/agent.json" ]; then
            "$VMVAULT" vault credentials --name local --file "$DATA/local.vaultcredentials" --force >/dev/null
            "$TOP/build/vmvault-agent" register --vault-credentials "$DATA/local.vaultcredentials" \
                --state-dir "$AGENT_STATE" >/dev/null
        fi
        "$TOP/build/vmvault-agent" run --state-dir "$AGENT_STATE" &
        AGENT=$!
        agent_note="a host agent for this machine's libvirt VMs, registered with vault 'local'"
    fi
fi

cat <<MSG

vmvault runs: the vault server at $URL (data folder $DATA)
and $agent_note.
From another shell:
  export PATH=$TOP/build:\$PATH
  vmvault login --url $URL --token - < $DATA/owner.token
  vmvault protectable-item list --vault-name local --output table
  vmvault protection enable-for-vm --vault-name local --vm VM --policy-name DefaultPolicy
  vmvault protection backup-now --vault-name local --item-name VM
  vmvault job list --vault-name local --output table
Stop with Ctrl-C.

MSG
wait "$SERVER"
