#!/usr/bin/env bash
# make run: starts the vault server with its embedded defaults, in the foreground.
#
#   data folder  VMVAULTD_DATA_DIR, default ./var/vmvaultd in the source tree
#   address      VMVAULTD_LISTEN, default 127.0.0.1:8080
#
# The first start creates the catalog and the user 'owner', whose token is written to
# DATA/owner.token (mode 0600). Ctrl-C (or SIGTERM) stops the server cleanly.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
DATA=${VMVAULTD_DATA_DIR:-$TOP/var/vmvaultd}
LISTEN=${VMVAULTD_LISTEN:-127.0.0.1:8080}
mkdir -p "$DATA"
chmod 700 "$DATA"
cat <<MSG

Starting the vault server: $TOP/build/vmvaultd --data-dir $DATA --listen $LISTEN
From another shell:
  export PATH=$TOP/build:\$PATH
  export VMVAULT_URL=http://$LISTEN VMVAULT_TOKEN=\$(cat $DATA/owner.token)
  vmvault vault create --name v1 --location westeurope
  vmvault vault list --output table
  vmvault policy get-default-for-vm --vault-name v1
Stop it with Ctrl-C.

MSG
exec "$TOP/build/vmvaultd" --data-dir "$DATA" --listen "$LISTEN"
