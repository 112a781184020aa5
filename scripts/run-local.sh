#!/usr/bin/env bash
# make run: prepares a ready-to-use local vault store and shows how to use it.
#
# The data folder (VMVAULT_DATA, default ./var in the source tree) gets a vault key
# (vault.key, mode 0600) and a store folder (store/). Both are created once and
# reused on later runs; nothing is ever overwritten.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
DATA=${VMVAULT_DATA:-$TOP/var}
VMVAULT=$TOP/build/vmvault
mkdir -p "$DATA"
chmod 700 "$DATA"
[ -e "$DATA/vault.key" ] || "$VMVAULT" debug keygen --key-file "$DATA/vault.key"
export VMVAULT_STORE=$DATA/store VMVAULT_KEY_FILE=$DATA/vault.key
points=0
if [ -d "$DATA/store" ]; then
    points=$("$VMVAULT" debug list --output json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
fi
cat <<MSG

vmvault is built: $VMVAULT
Local vault store: $DATA/store ($points recovery points)
Vault key:         $DATA/vault.key  (keep a copy elsewhere: without it the store cannot be read)

Use it from this shell with:
  export VMVAULT_STORE=$DATA/store VMVAULT_KEY_FILE=$DATA/vault.key
  $VMVAULT debug image-backup --image /path/to/disk.img --disk-name vda
  $VMVAULT debug list
  $VMVAULT debug image-restore --point <id> --target /tmp/restored.img
  $VMVAULT debug verify --all

'$VMVAULT --help' lists every command.
MSG
