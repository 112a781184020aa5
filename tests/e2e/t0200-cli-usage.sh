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
    "vault verify" "pairing invite" "pairing create" "pairing show" "pairing update"
    "pairing delete"
)
for g in vault "vault backup-properties" policy container protectable-item protection item \
         job recoverypoint user token restore pairing; do
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
    elif [ "$v" != logout ] && [ "$v" != login ] &&
         ! printf '%s\n' "$out" | grep -q -- '--use-secondary-region'; then
        fail "$v --help" "no --use-secondary-region"
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

# pairing, replication and cross-region restore
check "vmvault --help lists pairing" sh -c "'$VMVAULT' --help | grep -q '^  pairing '"
check "pairing update --help says K, M, G are powers of 1024" sh -c \
    "'$VMVAULT' pairing update --help | grep -q 'powers of 1024'"
check_fails "pairing update needs a change" 2 "give at least one of --max-replication-rate" \
    "$VMVAULT" pairing update
for r in 5Q 50MB/s -1 1.5G M; do
    check_fails "bad --max-replication-rate '$r'" 2 "--max-replication-rate '$r' is not a rate" \
        "$VMVAULT" pairing update --max-replication-rate "$r"
done
check_fails "--max-replication-rate below 1K" 2 "--max-replication-rate '1000' is out of range" \
    "$VMVAULT" pairing update --max-replication-rate 1000
check_fails "--max-replication-rate above 1024G" 2 "is out of range" \
    "$VMVAULT" pairing update --max-replication-rate 2T
for w in 25:00-01:00 22:00-24:00 1:00-2:00 22:00/06:00 22:60-06:00 22:00-06:00x never; do
    check_fails "bad --replication-window '$w'" 2 "--replication-window '$w' is not a window" \
        "$VMVAULT" pairing update --replication-window "$w"
done
check_fails "an empty --replication-window" 2 "starts and ends at the same time.*'always'" \
    "$VMVAULT" pairing update --replication-window 06:00-06:00
for r in 0 none NONE 1K 50M 1g 123456 1024G; do
    check_fails "good --max-replication-rate $r gets to the network" 1 "cannot reach" \
        env VMVAULT_URL=$DEAD VMVAULT_TOKEN=t "$VMVAULT" pairing update --max-replication-rate "$r"
done
for w in 22:00-06:00 00:00-23:59 always Always; do
    check_fails "good --replication-window $w gets to the network" 1 "cannot reach" \
        env VMVAULT_URL=$DEAD VMVAULT_TOKEN=t "$VMVAULT" pairing update --replication-window "$w"
done
check_fails "pairing create needs an invitation" 2 "give --invitation FILE, or --url and --code" \
    "$VMVAULT" pairing create
check_fails "pairing create: --url without --code" 2 "give --invitation FILE, or --url and --code" \
    "$VMVAULT" pairing create --url http://127.0.0.1:9
check_fails "pairing create: --invitation goes alone" 2 "--invitation goes alone" \
    "$VMVAULT" pairing create --invitation f --code c
check_fails "pairing create: https needs the pin" 2 "--certificate-pin is required with an https:// URL" \
    "$VMVAULT" pairing create --url https://h:8443 --code vvp_x
check_fails "pairing create: a pin is sha256//" 2 "--certificate-pin 'md5//x' must be sha256//BASE64" \
    "$VMVAULT" pairing create --url https://h:8443 --code vvp_x --certificate-pin md5//x
check_fails "pairing create: --url scheme" 2 "--url 'ftp://h' must start with http:// or https://" \
    "$VMVAULT" pairing create --url ftp://h --code vvp_x
check_fails "pairing delete needs --peer-role" 2 "pairing delete: --peer-role is required" \
    "$VMVAULT" pairing delete
check_fails "bad --peer-role" 2 "use one of Secondary, Primary" \
    "$VMVAULT" pairing delete --peer-role Replica
check_fails "pairing invite validity 0" 2 "from 1 to 168 \(got '0'\)" \
    "$VMVAULT" pairing invite --expires-in-hours 0
check_fails "pairing invite validity 169" 2 "from 1 to 168 \(got '169'\)" \
    "$VMVAULT" pairing invite --expires-in-hours 169
check_fails "pairing invite validity not a number" 2 "from 1 to 168" \
    "$VMVAULT" pairing invite --expires-in-hours 1d
check_fails "vault verify needs --name" 2 "vault verify: --name is required" "$VMVAULT" vault verify
check_fails "restore --target-host is a name" 2 "--target-host 'a/b' is invalid" \
    "$VMVAULT" restore restore-disks --vault-name v1 --item-name web1 --rp-name RP \
    --target-dir /srv --target-host a/b
check_fails "login takes --secondary-region, not --use-secondary-region" 2 \
    "--use-secondary-region does not apply here: save the secondary region's session with --secondary-region" \
    "$VMVAULT" login --use-secondary-region --url http://h --token t
check_fails "logout: --use-secondary-region does not apply" 2 "does not apply here" \
    "$VMVAULT" logout --use-secondary-region
check_fails "debug commands have no secondary region" 2 "unknown option '--use-secondary-region'" \
    "$VMVAULT" debug list --store s --key-file k --use-secondary-region
for op in Replication Verify; do
    check_fails "job list --operation $op gets to the network" 1 "cannot reach" \
        env VMVAULT_URL=$DEAD VMVAULT_TOKEN=t "$VMVAULT" job list --vault-name v1 --operation "${op,,}"
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

# The secondary region's session: its own variables and config member, never the
# primary's.
check_fails "no secondary session" 1 \
    "no secondary region session: run 'vmvault login --secondary-region --url URL --token TOKEN'" \
    "$VMVAULT" vault list --use-secondary-region
check_fails "the primary's variables never reach the secondary" 1 "no secondary region session" \
    env VMVAULT_URL=$DEAD VMVAULT_TOKEN=t "$VMVAULT" recoverypoint list --vault-name v1 \
    --item-name web1 --use-secondary-region
check_fails "a secondary URL but no token" 1 \
    "no token for the secondary region's vault server at $DEAD.*VMVAULT_SECONDARY_TOKEN" \
    env VMVAULT_SECONDARY_URL=$DEAD "$VMVAULT" vault list --use-secondary-region
check_fails "VMVAULT_SECONDARY_URL is used" 1 "The URL comes from VMVAULT_SECONDARY_URL;" \
    env VMVAULT_SECONDARY_URL=$DEAD VMVAULT_SECONDARY_TOKEN=t VMVAULT_URL=http://127.0.0.1:2 \
    VMVAULT_TOKEN=t "$VMVAULT" vault list --use-secondary-region
check_fails "--use-secondary-region anywhere on the line" 1 "at $DEAD:" \
    env VMVAULT_SECONDARY_URL=$DEAD VMVAULT_SECONDARY_TOKEN=t "$VMVAULT" job show \
    --use-secondary-region --vault-name v1 --name j
check_fails "a bad secondary pin is named" 1 "the certificate pin 'x' is not of the form sha256//BASE64" \
    env VMVAULT_SECONDARY_URL=$DEAD VMVAULT_SECONDARY_TOKEN=t VMVAULT_SECONDARY_CERTIFICATE_PIN=x \
    "$VMVAULT" vault list --use-secondary-region
printf '{"url": "http://127.0.0.1:2", "token": "t", "secondary": {"url": "%s", "token": "t"}}\n' \
    "$DEAD" > "$HOME/.config/vmvault/config.json"
chmod 600 "$HOME/.config/vmvault/config.json"
check_fails "the secondary session from the config file" 1 \
    "comes from $HOME/.config/vmvault/config.json \(written by 'vmvault login --secondary-region'\)" \
    "$VMVAULT" vault list --use-secondary-region
check_fails "without the flag, the primary session" 1 "at http://127.0.0.1:2:" "$VMVAULT" vault list
check_fails "VMVAULT_SECONDARY_URL overrides the saved secondary" 1 "at http://127.0.0.1:3:" \
    env VMVAULT_SECONDARY_URL=http://127.0.0.1:3 "$VMVAULT" vault list --use-secondary-region
check "logout --secondary-region keeps the primary session" sh -c \
    "'$VMVAULT' logout --secondary-region | grep -q 'Removed the secondary' &&
     python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(not (\"secondary\" not in j and j[\"url\"] == \"http://127.0.0.1:2\"))' '$HOME/.config/vmvault/config.json'"
check "logout --secondary-region without one" sh -c \
    "'$VMVAULT' logout --secondary-region | grep -q 'Not logged in to a secondary region'"
echo '{"url": "http://127.0.0.1:2", "token": "t", "secondary": 5}' > "$HOME/.config/vmvault/config.json"
check_fails "a bad secondary member is named" 1 "member 'secondary': not a JSON object.*login --secondary-region" \
    "$VMVAULT" vault list --use-secondary-region
check_fails "a bad secondary member does not stop the primary" 1 "at http://127.0.0.1:2:" \
    "$VMVAULT" vault list
rm -f "$HOME/.config/vmvault/config.json"

# Invitation files: written new with mode 0600 or not at all; read back strictly.
echo keep > existing-inv.json
check_fails "invite never writes over a file" 1 "cannot create existing-inv.json: File exists" \
    env VMVAULT_URL=$DEAD VMVAULT_TOKEN=t "$VMVAULT" pairing invite --out existing-inv.json
check "and the file is untouched" test "$(cat existing-inv.json)" = keep
ln -s "$WORK/link-target" inv-link.json
check_fails "invite never writes through a symbolic link" 1 "cannot create inv-link.json" \
    env VMVAULT_URL=$DEAD VMVAULT_TOKEN=t "$VMVAULT" pairing invite --out inv-link.json
check "and nothing was made at the link's target" test ! -e "$WORK/link-target"
check_fails "invite to an unreachable server" 1 "cannot reach" \
    env VMVAULT_URL=$DEAD VMVAULT_TOKEN=t "$VMVAULT" pairing invite --out new-inv.json
check "leaves no file behind" test ! -e new-inv.json
check_fails "invitation file missing" 1 "cannot read noinv.json: no such file" \
    "$VMVAULT" pairing create --invitation noinv.json
inv() { printf '%s\n' "$1" > "$WORK/inv.json"; chmod 600 "$WORK/inv.json"; }
inv '{"url": "https://h:8443",'
check_fails "invitation not JSON" 1 "inv.json is not valid JSON" \
    "$VMVAULT" pairing create --invitation "$WORK/inv.json"
inv '["https://h:8443"]'
check_fails "invitation not an object" 1 "inv.json must hold a JSON object \(an invitation\)" \
    "$VMVAULT" pairing create --invitation "$WORK/inv.json"
inv '{"url": "https://h:8443", "certificatePin": "sha256//x"}'
check_fails "invitation without code" 1 "inv.json: the field 'code' is missing" \
    "$VMVAULT" pairing create --invitation "$WORK/inv.json"
inv '{"url": "https://h:8443", "code": 5, "certificatePin": "sha256//x"}'
check_fails "invitation code not a string" 1 "inv.json: the field 'code' is not a string" \
    "$VMVAULT" pairing create --invitation "$WORK/inv.json"
inv '{"url": "https://h:8443", "code": "vvp_a b", "certificatePin": "sha256//x"}'
check_fails "invitation code with a space" 1 "the field 'code' must be 1 to 1024 printable characters without spaces" \
    "$VMVAULT" pairing create --invitation "$WORK/inv.json"
inv '{"code": "vvp_a", "certificatePin": "sha256//x"}'
check_fails "invitation without url" 1 "inv.json: the field 'url' is missing" \
    "$VMVAULT" pairing create --invitation "$WORK/inv.json"
inv '{"url": "ftp://h", "code": "vvp_a"}'
check_fails "invitation url scheme" 1 "the field 'url' \('ftp://h'\) must start with http:// or https://" \
    "$VMVAULT" pairing create --invitation "$WORK/inv.json"
inv '{"url": "https://h:8443", "code": "vvp_a"}'
check_fails "invitation with https needs its pin" 1 "the field 'certificatePin' is missing; it is required with an https:// url" \
    "$VMVAULT" pairing create --invitation "$WORK/inv.json"
inv '{"url": "https://h:8443", "code": "vvp_a", "certificatePin": "md5//x"}'
check_fails "invitation pin form" 1 "the field 'certificatePin' must be sha256//BASE64" \
    "$VMVAULT" pairing create --invitation "$WORK/inv.json"
inv '{"url": "http://127.0.0.1:1", "code": "vvp_a", "certificatePin": null, "region": "x"}'
chmod 644 "$WORK/inv.json"
check_fails "a good invitation gets to the network; a readable one is flagged" 1 \
    "inv.json holds a pairing code and is readable by others" \
    env VMVAULT_URL=$DEAD VMVAULT_TOKEN=t "$VMVAULT" pairing create --invitation "$WORK/inv.json"
check_fails "an invitation on standard input" 1 "cannot reach the vault server at $DEAD" \
    sh -c "env VMVAULT_URL=$DEAD VMVAULT_TOKEN=t '$VMVAULT' pairing create --invitation - < '$WORK/inv.json'"
check_fails "a code on standard input" 1 "cannot reach the vault server at $DEAD" \
    sh -c "echo vvp_a | env VMVAULT_URL=$DEAD VMVAULT_TOKEN=t '$VMVAULT' pairing create --url http://h:1 --code -"
check_fails "no code on standard input" 1 "no pairing code on standard input" \
    sh -c "env VMVAULT_URL=$DEAD VMVAULT_TOKEN=t '$VMVAULT' pairing create --url http://h:1 --code - < /dev/null"

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

# --- two sessions in one config file (this server plays both regions) ---------------
CONF=$HOME/.config/vmvault/config.json
conf() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$CONF" "$1" 2>&1; }
"$VMVAULT" login --url "$SRV_URL" --token "$OWNER_TOKEN" >/dev/null 2>&1
check "login --secondary-region saves the secondary session" sh -c \
    "'$VMVAULT' login --secondary-region --url '$SRV_URL' --token '$OWNER_TOKEN' -o table | grep -q 'secondary region'"
check "the primary session is kept" test "$(conf 'j["url"] == j["secondary"]["url"] == "'"$SRV_URL"'"')" = True
check "the config stays mode 0600" test "$(stat -c %a "$CONF")" = 600
cp "$CONF" "$WORK/conf-before"
check_fails "a refused secondary login" 1 "Unauthenticated" \
    "$VMVAULT" login --secondary-region --url "$SRV_URL" --token vvt_bogus
check "changes nothing" cmp -s "$CONF" "$WORK/conf-before"
check_out "a command with --use-secondary-region uses the saved secondary session" \
    'isinstance(j, list)' env -u VMVAULT_URL -u VMVAULT_TOKEN "$VMVAULT" vault list --use-secondary-region
"$VMVAULT" login --url "$SRV_URL" --token "$OWNER_TOKEN" >/dev/null 2>&1
check "a primary login keeps the secondary session" test "$(conf '"secondary" in j')" = True
check "logout removes both sessions" sh -c "'$VMVAULT' logout | grep -q Removed && test ! -e '$CONF'"
echo 'not json' > "$CONF"
check_fails "a login over a broken config moves it aside" 0 "moved it aside to $CONF.invalid-" \
    "$VMVAULT" login --secondary-region --url "$SRV_URL" --token "$OWNER_TOKEN"
check "the broken config is kept, the new one holds the session" sh -c \
    "grep -qx 'not json' '$CONF'.invalid-* && grep -q secondary '$CONF'"
rm -f "$CONF" "$CONF".invalid-*

# --- replication, verify and pairing as this lone server answers them ---------------
"$VMVAULT" vault create --name r1 --location westeurope >/dev/null 2>&1
check_out "backup-properties show passes the replication object through" \
    'j["replication"]["state"] == "NotConfigured" and j["replication"]["role"] in ("Primary", "None")' \
    "$VMVAULT" vault backup-properties show --name r1
out=$("$VMVAULT" vault backup-properties show --name r1 -o table 2>&1)
if printf '%s\n' "$out" | grep -q '^Replication$' &&
   printf '%s\n' "$out" | grep -Eq '^  State +NotConfigured$' &&
   printf '%s\n' "$out" | grep -Eq '^  Reason +.*pairing create'; then
    pass "backup-properties show -o table shows the replication lines"
else fail "backup-properties show -o table shows the replication lines" "$(printf '%s' "$out" | one_line)"; fi
check_out "vault verify queues a Verify job" 'j["operation"] == "Verify"' \
    "$VMVAULT" vault verify --name r1
check "vault verify -o table says how to follow the job" sh -c \
    "'$VMVAULT' vault verify --name r1 -o table | grep -q 'Follow it with: vmvault job wait --vault-name r1 --name '"
check_out "pairing show: an empty list when not paired" 'j == []' "$VMVAULT" pairing show
check "pairing show -o table says not paired" sh -c "'$VMVAULT' pairing show -o table | grep -q '^Not paired'"
out=$("$VMVAULT" pairing invite --out "$WORK/inv-new.json" --expires-in-hours 2 2>&1); rc=$?
if [ "$rc" != 0 ]; then fail "pairing invite --out writes the invitation" "exit $rc: $(printf '%s' "$out" | one_line)"
elif [ "$(stat -c %a "$WORK/inv-new.json")" != 600 ]; then
    fail "pairing invite --out writes the invitation" "mode $(stat -c %a "$WORK/inv-new.json")"
elif [ "$(json_get "$WORK/inv-new.json" 'len(j["code"]) >= 20 and j["url"] == "'"$SRV_URL"'"')" != True ]; then
    fail "pairing invite --out writes the invitation" "$(one_line < "$WORK/inv-new.json")"
elif printf '%s' "$out" | grep -q "$(json_get "$WORK/inv-new.json" 'j["code"]')"; then
    fail "pairing invite --out writes the invitation" "the code was printed too"
else pass "pairing invite --out writes the invitation"; fi
check_out "pairing invite prints the invitation without --out" \
    'len(j["code"]) >= 20 and "certificatePin" in j and j["region"]' "$VMVAULT" pairing invite -o table
check_fails "pairing update when not paired: NotPaired" 1 "^vmvault: NotPaired: .*pairing create" \
    "$VMVAULT" pairing update --replication-window always
check_fails "pairing delete when not paired: NotPaired" 1 "^vmvault: NotPaired: " \
    "$VMVAULT" pairing delete --peer-role Secondary
"$VMVAULT" vault create --name lr1 --location westeurope --backup-storage-redundancy LocallyRedundant >/dev/null 2>&1
check "backup-properties -o table: a LocallyRedundant vault is NotReplicated, without lag lines" sh -c \
    "out=\$('$VMVAULT' vault backup-properties show --name lr1 -o table) &&
     printf '%s\n' \"\$out\" | grep -Eq '^  State +NotReplicated\$' &&
     ! printf '%s\n' \"\$out\" | grep -q 'Lag'"
"$VMVAULT" user create --name reader1 --role Reader >/dev/null 2>&1
READER=$("$VMVAULT" token create --user reader1 2>/dev/null | json_value 'j["token"]' 2>/dev/null)
check_fails "pairing invite as a Reader: AuthorizationFailed, and no file" 1 "AuthorizationFailed" \
    cli_as "$READER" pairing invite --out "$WORK/inv-reader.json"
check "no invitation file from a refused invite" test ! -e "$WORK/inv-reader.json"
finish
