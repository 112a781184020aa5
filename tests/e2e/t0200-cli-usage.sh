#!/usr/bin/env bash
# The API verbs' command line: every group and verb has a full --help; bad input is a
# usage error (exit 2) naming the problem and sends no request; a missing or
# unreachable server is exit 1 saying what to do; at the end, a real vmvaultd shows
# what reaches it (nothing for a rejected command; canonical field values).
. "$(dirname "$0")/lib.sh"
cd "$WORK"

# A clean environment: no saved login, no proxy in the way of 127.0.0.1.
export HOME=$WORK/home
mkdir -p "$HOME"
unset XDG_CONFIG_HOME VMVAULT_URL VMVAULT_TOKEN
export no_proxy='*' NO_PROXY='*'
DEAD=http://127.0.0.1:1

# --- help ---------------------------------------------------------------------
check "vmvault --help lists the API groups" sh -c \
    "'$VMVAULT' --help | grep -q '^  vault ' && '$VMVAULT' --help | grep -q '^  recoverypoint '"
verbs=(
    "login" "logout"
    "vault create" "vault list" "vault show" "vault delete" "vault credentials"
    "vault backup-properties show" "vault backup-properties set"
    "policy create" "policy set" "policy list" "policy show" "policy delete"
    "policy get-default-for-vm"
    "container list" "container show" "container unregister" "container allow-replacement"
    "protectable-item list" "restore restore-disks"
    "protection enable-for-vm" "protection disable" "protection resume" "protection backup-now"
    "item list" "item show"
    "job list" "job show" "job stop" "job wait"
    "recoverypoint list" "recoverypoint show" "recoverypoint undelete"
    "user create" "user list" "user delete" "token create" "token list" "token revoke"
)
for g in vault "vault backup-properties" policy container protectable-item protection item \
         job recoverypoint user token restore; do
    # shellcheck disable=SC2086
    check "$g --help" sh -c "'$VMVAULT' $g --help | head -n 1 | grep -q '^usage: vmvault $g <command>'"
    # shellcheck disable=SC2086
    check_fails "$g without a command is a usage error" 2 "^usage: vmvault $g" "$VMVAULT" $g
done
for v in "${verbs[@]}"; do
    # shellcheck disable=SC2086
    out=$("$VMVAULT" $v --help 2>&1); rc=$?
    if [ "$rc" != 0 ]; then fail "$v --help" "exit $rc"
    elif ! printf '%s\n' "$out" | head -n 1 | grep -q "^usage: vmvault $v"; then
        fail "$v --help" "first line: $(printf '%s\n' "$out" | head -n 1)"
    elif ! printf '%s\n' "$out" | grep -q '^Example'; then fail "$v --help" "no example"
    elif ! printf '%s\n' "$out" | grep -q '^Exit status'; then fail "$v --help" "no exit status"
    elif ! printf '%s\n' "$out" | grep -q '^Options:'; then fail "$v --help" "no options"
    elif [ "$v" != logout ] && ! printf '%s\n' "$out" | grep -q -- '--output json|table'; then
        fail "$v --help" "no --output"
    else pass "$v --help"; fi
done
check "-h is --help" sh -c "'$VMVAULT' job wait -h | grep -q '^usage: vmvault job wait'"
check "vmvault help GROUP" sh -c "'$VMVAULT' help policy | grep -q '^usage: vmvault policy'"

# --- usage errors: exit 2, precise, before anything else ------------------------
check_fails "unknown verb" 2 "'frob' is not a 'vault' command" "$VMVAULT" vault frob
check_fails "unknown nested verb" 2 "'frob' is not a 'vault backup-properties' command" \
    "$VMVAULT" vault backup-properties frob
check_fails "unknown option" 2 "vmvault vault list: unknown option '--bogus'" \
    "$VMVAULT" vault list --bogus
check_fails "unknown short option" 2 "unknown option '-x'" "$VMVAULT" vault list -x
check_fails "option of another verb" 2 "option --location does not apply here" \
    "$VMVAULT" vault show --name v1 --location westeurope
check_fails "option without its value" 2 "option '--name' needs a value" "$VMVAULT" vault show --name
check_fails "an option taken as a value" 2 "option --name needs a value \(got '--output'\)" \
    "$VMVAULT" vault show --name --output table
check_fails "stray argument" 2 "unexpected argument 'v1'" "$VMVAULT" vault show v1
check_fails "missing --name" 2 "vault show: --name is required" "$VMVAULT" vault show
check_fails "missing --location" 2 "vault create: --location is required" \
    "$VMVAULT" vault create --name v1
check_fails "missing --vault-name" 2 "policy list: --vault-name is required" "$VMVAULT" policy list
check_fails "missing --policy" 2 "policy create: --policy is required" \
    "$VMVAULT" policy create --vault-name v1 --name p
check_fails "missing --vm" 2 "enable-for-vm: --vm is required" \
    "$VMVAULT" protection enable-for-vm --vault-name v1 --policy-name DefaultPolicy
check_fails "missing --policy-name" 2 "enable-for-vm: --policy-name is required" \
    "$VMVAULT" protection enable-for-vm --vault-name v1 --vm web1
check_fails "missing --item-name" 2 "backup-now: --item-name is required" \
    "$VMVAULT" protection backup-now --vault-name v1
check_fails "item show needs --name" 2 "item show: --name is required" \
    "$VMVAULT" item show --vault-name v1
check_fails "item show: --name and --item-name disagree" 2 "different items" \
    "$VMVAULT" item show --vault-name v1 --name a --item-name b
check_fails "recoverypoint show needs --name" 2 "recoverypoint show: --name is required" \
    "$VMVAULT" recoverypoint show --vault-name v1 --item-name web1
check_fails "missing --file" 2 "credentials: --file is required" \
    "$VMVAULT" vault credentials --name v1
check_fails "missing --user" 2 "token create: --user is required" "$VMVAULT" token create
check_fails "missing --id" 2 "token revoke: --id is required" "$VMVAULT" token revoke
check_fails "missing --role" 2 "user create: --role is required" "$VMVAULT" user create --name a
check_fails "missing --url" 2 "login: --url is required" "$VMVAULT" login --token t
check_fails "login URL scheme" 2 "must start with http:// or https://" \
    "$VMVAULT" login --url ftp://h --token t
check_fails "backup-properties set needs a change" 2 "give at least one of" \
    "$VMVAULT" vault backup-properties set --name v1
check_fails "bad --output" 2 "--output 'xml' is invalid: use 'json' or 'table'" \
    "$VMVAULT" vault list --output xml
check_fails "bad -o" 2 "--output 'yaml' is invalid" "$VMVAULT" job list --vault-name v -o yaml
check_fails "vault name with a slash" 2 "--vault-name 'a/b' is invalid" \
    "$VMVAULT" policy list --vault-name a/b
check_fails "vault name starting with '_'" 2 "--name '_v' is invalid" \
    "$VMVAULT" vault show --name _v
long=$(printf 'v%.0s' $(seq 65))
check_fails "vault name of 65 characters" 2 "is invalid" "$VMVAULT" vault show --name "$long"
check_fails "bad redundancy" 2 "use one of GeoRedundant, LocallyRedundant" \
    "$VMVAULT" vault create --name v1 --location l --backup-storage-redundancy Zone
check_fails "bad soft delete state" 2 "use one of Enable, Disable" \
    "$VMVAULT" vault create --name v1 --location l --soft-delete-feature-state On
check_fails "soft delete duration too short" 2 "from 14 to 180" \
    "$VMVAULT" vault create --name v1 --location l --soft-delete-duration 13
check_fails "soft delete duration not a number" 2 "from 14 to 180" \
    "$VMVAULT" vault backup-properties set --name v1 --soft-delete-duration 2w
check_fails "credentials validity too long" 2 "from 1 to 240" \
    "$VMVAULT" vault credentials --name v1 --file f --expires-in-hours 241
check_fails "bad role" 2 "use one of Reader, Operator, Contributor, Owner" \
    "$VMVAULT" user create --name a --role Admin
check_fails "bad job status" 2 "--status 'Running' is invalid" \
    "$VMVAULT" job list --vault-name v1 --status Running
check_fails "bad job operation" 2 "--operation 'Copy' is invalid" \
    "$VMVAULT" job list --vault-name v1 --operation Copy
check_fails "--limit 0" 2 "from 1 to 1000" "$VMVAULT" job list --vault-name v1 --limit 0
check_fails "--limit 1001" 2 "from 1 to 1000" "$VMVAULT" job list --vault-name v1 --limit 1001
check_fails "--interval 0" 2 "--interval must be" "$VMVAULT" job wait --vault-name v1 --name j --interval 0
check_fails "--timeout -5" 2 "--timeout must be" "$VMVAULT" job wait --vault-name v1 --name j --timeout -5
check_fails "token validity" 2 "from 1 to 3650" "$VMVAULT" token create --user a --expires-in-days 0
check_fails "bad --start-date" 2 "--start-date '2026-13-01' is not a date" \
    "$VMVAULT" job list --vault-name v1 --start-date 2026-13-01
for d in 2026-02-30 30-02-2026 29-02-2027 31-04-2026 2026-1-1 tomorrow 2026/12/31 \
         12-31-2026 2026-12-31T00:00:00Z; do
    check_fails "bad --retain-until $d" 2 "--retain-until '$d' is not a date" \
        "$VMVAULT" protection backup-now --vault-name v1 --item-name web1 --retain-until "$d"
done

# --- no server configured, or not reachable: exit 1 with what to do ----------------
check_fails "no URL or token configured" 1 "run 'vmvault login --url URL --token TOKEN'.*VMVAULT_URL" \
    "$VMVAULT" vault list
check_fails "a URL but no token" 1 "no token for the vault server at $DEAD.*VMVAULT_TOKEN" \
    env VMVAULT_URL=$DEAD "$VMVAULT" vault list
check_fails "unreachable server" 1 "^vmvault: cannot reach the vault server at $DEAD: Connection refused" \
    env VMVAULT_URL=$DEAD VMVAULT_TOKEN=t "$VMVAULT" vault list
check_fails "unreachable server: what to check" 1 "Check that vmvaultd is running" \
    env VMVAULT_URL=$DEAD VMVAULT_TOKEN=t "$VMVAULT" vault list
check_fails "unreachable server names where the URL comes from" 1 "comes from VMVAULT_URL" \
    env VMVAULT_URL=$DEAD VMVAULT_TOKEN=t "$VMVAULT" vault list
check_fails "a URL that is not http" 1 "must start with http:// or https://" \
    env VMVAULT_URL=vault:8080 VMVAULT_TOKEN=t "$VMVAULT" vault list
for d in 2026-12-31 31-12-2026 29-02-2028; do
    check_fails "good --retain-until $d gets to the network" 1 "cannot reach" \
        env VMVAULT_URL=$DEAD VMVAULT_TOKEN=t \
        "$VMVAULT" protection backup-now --vault-name v1 --item-name web1 --retain-until "$d"
done
check_fails "login to an unreachable server" 1 "cannot reach the vault server at $DEAD" \
    "$VMVAULT" login --url $DEAD --token t
check "a failed login saves nothing" test ! -e "$HOME/.config/vmvault/config.json"
check "logout when not logged in" sh -c "'$VMVAULT' logout | grep -q 'Not logged in'"

# The config file, and the environment over it.
mkdir -p "$HOME/.config/vmvault"
printf '{"url": "%s", "token": "t"}\n' "$DEAD" > "$HOME/.config/vmvault/config.json"
chmod 600 "$HOME/.config/vmvault/config.json"
check_fails "URL from the config file" 1 "comes from $HOME/.config/vmvault/config.json" \
    "$VMVAULT" vault list
check_fails "VMVAULT_URL overrides the config file" 1 "at http://127.0.0.1:2:" \
    env VMVAULT_URL=http://127.0.0.1:2 "$VMVAULT" vault list
chmod 644 "$HOME/.config/vmvault/config.json"
check_fails "a config readable by others is flagged" 1 "readable by others; run 'chmod 600" \
    "$VMVAULT" vault list
mkdir -p "$WORK/xdg/vmvault"
echo '{"url": 5}' > "$WORK/xdg/vmvault/config.json"
check_fails "XDG_CONFIG_HOME is honoured; a bad config is named" 1 \
    "$WORK/xdg/vmvault/config.json is not a valid config file" \
    env XDG_CONFIG_HOME="$WORK/xdg" "$VMVAULT" vault list
check "logout removes the config file" sh -c \
    "'$VMVAULT' logout | grep -q Removed && test ! -e '$HOME/.config/vmvault/config.json'"

touch existing.json
check_fails "credentials never replace a file without --force" 1 "existing.json exists; add --force" \
    env VMVAULT_URL=$DEAD VMVAULT_TOKEN=t \
    "$VMVAULT" vault credentials --name v1 --file existing.json
check_fails "policy file missing" 1 "cannot read nofile.json: no such file" \
    env VMVAULT_URL=$DEAD VMVAULT_TOKEN=t \
    "$VMVAULT" policy create --vault-name v1 --name p --policy nofile.json
echo '{"timeZone": "UTC",' > bad.json
check_fails "policy file not JSON" 1 "bad.json is not valid JSON" \
    env VMVAULT_URL=$DEAD VMVAULT_TOKEN=t \
    "$VMVAULT" policy create --vault-name v1 --name p --policy bad.json

# --- what reaches the real server ---------------------------------------------------
. "$TOP/tests/e2e/lib_server.sh"
srv_start "$WORK/srv" || finish
reqs() { grep -c 'info: request ' "$SRV_LOG"; }
n0=$(reqs)
"$VMVAULT" vault create --name v1 --location l --soft-delete-duration 300 >/dev/null 2>&1
"$VMVAULT" protection backup-now --vault-name v1 --item-name w --retain-until 2026-02-29 >/dev/null 2>&1
"$VMVAULT" user create --name a --role Boss >/dev/null 2>&1
check "rejected commands send no request" test "$(reqs)" = "$n0"

check_fails "the server's error is 'vmvault: CODE: message', exit 1" 1 \
    "^vmvault: VaultNotFound: vault 'nope' does not exist$" "$VMVAULT" vault show --name nope
"$VMVAULT" vault create --name v2 --location westeurope --backup-storage-redundancy locallyredundant \
    --soft-delete-feature-state Disable >/dev/null 2>&1
check_out "vault create sends the API's field names, values in their canonical spelling" \
    'j["storageRedundancy"] == "LocallyRedundant" and j["softDelete"]["state"] == "Disabled"' \
    "$VMVAULT" vault show --name v2
check "a JSON answer prints pretty with 2-space indent" sh -c \
    "'$VMVAULT' vault show --name v2 | grep -q '^  \"name\": \"v2\",'"
check "a table has headers and the row" sh -c \
    "'$VMVAULT' vault show --name v2 --output table | head -n 1 | grep -q '^Name  *Location' &&
     '$VMVAULT' vault show --name v2 -o table | tail -n 1 | grep -q '^v2  *westeurope'"
"$VMVAULT" vault backup-properties set --name v2 --soft-delete-duration 30 >/dev/null 2>&1
check_out "backup-properties set keeps the soft delete state it was not given" \
    'j["softDelete"] == {"state": "Disabled", "retentionDays": 30}' \
    "$VMVAULT" vault backup-properties show --name v2
echo '{"vault": "v2", "protectedItemsCount": 3, "name": "x", "timeZone": "UTC",
  "schedulePolicy": {"scheduleRunFrequency": "Daily", "scheduleRunTimes": ["03:00"]},
  "retentionPolicy": {"dailySchedule": {"retentionDuration": {"count": 7, "durationType": "Days"}}}}' |
    "$VMVAULT" policy create --vault-name v2 --name Nightly --policy - >/dev/null 2>&1
check_out "policy create: name set, read-only fields dropped, stdin read" \
    'j["name"] == "Nightly" and j["schedulePolicy"]["scheduleRunTimes"] == ["03:00"]' \
    "$VMVAULT" policy show --vault-name v2 --name Nightly
"$VMVAULT" protection backup-now --vault-name v2 --item-name 'my vm' --container-name host1 \
    --retain-until 31-12-2026 >/dev/null 2>&1
check "item names are escaped and the container goes as a query" \
    grep -q "path=/api/v1/vaults/v2/protectedItems/my vm/backup status=404" "$SRV_LOG"
check "job filters in their canonical spelling" \
    "$VMVAULT" job list --vault-name v2 --status failed --operation backup --start-date 01-11-2026 --limit 5
check "vault delete proceeds when stdin is not a terminal" sh -c \
    "'$VMVAULT' vault delete --name v2 </dev/null >/dev/null && ! '$VMVAULT' vault show --name v2 >/dev/null 2>&1"
finish
