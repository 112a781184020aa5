#!/usr/bin/env bash
# Jobs whose host agent vanished end by themselves, with a code that says what to
# check: AgentStoppedResponding (it claimed the job, then went silent),
# AgentUnreachable (it never came for the job), a job being cancelled becomes
# Cancelled; a restart fails the jobs it cut off (VaultRestarted); an expired
# registration secret is refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_server.sh"
cd "$WORK"
D=$WORK/data
srv_start "$D" --agent-timeout 2 || finish

U1=11111111-1111-4111-8111-111111111111
U2=22222222-2222-4222-8222-222222222222
U3=33333333-3333-4333-8333-333333333333
"$VMVAULT" vault create --name v1 --location westeurope >/dev/null 2>&1
"$VMVAULT" vault credentials --name v1 --file creds.json >/dev/null 2>&1
run_vvapi --state host1.json agent register --creds creds.json --host host1 >/dev/null 2>&1
run_vvapi --state host1.json agent inventory "web1:$U1" "web2:$U2" "web3:$U3" >/dev/null 2>&1
for vm in web1 web2 web3; do
    "$VMVAULT" protection enable-for-vm --vault-name v1 --vm $vm --policy-name DefaultPolicy >/dev/null 2>&1
done
jobid() { "$@" 2>/dev/null | json_value 'j["id"]' 2>/dev/null; }
# wait_status JOB STATUS: polls the job until it has STATUS (at most 20 s).
wait_status() {
    local s
    for _ in $(seq 1 200); do
        s=$("$VMVAULT" job show --vault-name v1 --name "$1" 2>/dev/null | json_value 'j["status"]' 2>/dev/null)
        [ "$s" = "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

# A claimed job whose agent goes silent.
J1=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name web1)
check "the agent claims the job" run_vvapi --state host1.json agent claim
check "the agent reports progress once" run_vvapi --state host1.json agent progress --job "$J1" --done 1 --total 10 --task "Take Snapshot=InProgress"
check "a job whose agent went silent fails on its own" wait_status "$J1" Failed
check_out "with AgentStoppedResponding and what to check" \
    'j["error"]["code"] == "AgentStoppedResponding" and "vmvault-agent" in j["error"]["message"] and j["endTime"]' \
    "$VMVAULT" job show --vault-name v1 --name "$J1"
check_out "the item shows the failed backup" 'j["lastBackupStatus"] == "Failed"' \
    "$VMVAULT" item show --vault-name v1 --name web1
check_refused "the silent agent can no longer report on it" 1 "HTTP 409 JobAlreadyEnded" "" \
    run_vvapi --state host1.json agent progress --job "$J1" --done 2

# A job no agent comes for.
J2=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name web2)
check "a job no agent claims fails on its own" wait_status "$J2" Failed
check_out "with AgentUnreachable naming the host" \
    'j["error"]["code"] == "AgentUnreachable" and "host1" in j["error"]["message"]' \
    "$VMVAULT" job show --vault-name v1 --name "$J2"

# A job being cancelled whose agent vanished ends Cancelled, not Failed.
J3=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name web3)
run_vvapi --state host1.json agent claim >/dev/null 2>&1
check "the claimed job is stopped" "$VMVAULT" job stop --vault-name v1 --name "$J3"
check "a cancelling job whose agent vanished ends Cancelled" wait_status "$J3" Cancelled
check_out "without an error" 'j["error"] is None' "$VMVAULT" job show --vault-name v1 --name "$J3"
srv_stop

# A live agent keeps its job: restart with the default timeout, claim, then restart
# under the job: the restart fails it.
srv_start "$D" || finish
J4=$(jobid "$VMVAULT" protection backup-now --vault-name v1 --item-name web1)
run_vvapi --state host1.json agent claim >/dev/null 2>&1
sleep 3
check_out "with the default timeout the job keeps running" 'j["status"] == "InProgress"' \
    "$VMVAULT" job show --vault-name v1 --name "$J4"
srv_kill
srv_start "$D" || finish
check_out "a restart fails the job it cut off (VaultRestarted)" \
    'j["status"] == "Failed" and j["error"]["code"] == "VaultRestarted"' \
    "$VMVAULT" job show --vault-name v1 --name "$J4"
check_out "a new backup of the item runs and completes" 'True' \
    sh -c "'$VMVAULT' protection backup-now --vault-name v1 --item-name web1 >/dev/null && $VVAPI --url '$SRV_URL' --state host1.json agent backup --next"
check_out "and the item is protected" 'j["protectionState"] == "Protected" and j["lastBackupStatus"] == "Completed"' \
    "$VMVAULT" item show --vault-name v1 --name web1

# Credentials that expired: the secret is refused with its own code. (Time is moved
# on in the stopped server's catalog, as if the two days had passed.)
"$VMVAULT" vault credentials --name v1 --file old.json >/dev/null 2>&1
srv_stop
sqlite3 "$D/catalog.db" "UPDATE registration_secrets SET expires = strftime('%s','now') - 1" 2>/dev/null
srv_start "$D" || finish
check_refused "an expired registration secret is refused" 1 "HTTP 401 RegistrationSecretExpired" "vault credentials" \
    run_vvapi --state late.json agent register --creds old.json --host late
check "and no host was registered" sh -c "! '$VMVAULT' container show --vault-name v1 --name late >/dev/null 2>&1"
check "fresh credentials register the host" sh -c "'$VMVAULT' vault credentials --name v1 --file new.json >/dev/null && $VVAPI --url '$SRV_URL' --state late.json agent register --creds new.json --host late >/dev/null"
srv_stop
check "vmvaultd check passes at the end" "$VMVAULTD" check --data-dir "$D"
finish
