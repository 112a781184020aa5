#!/usr/bin/env bash
# The vault server over HTTPS. --tls auto makes a self-signed pair in the data folder
# (EC P-256, 10 years; key 0600, folder 0700) and keeps it across restarts; clients
# check it by its public-key pin, or use it as their CA file (it is valid for
# 127.0.0.1 and localhost); vault credentials carry the https URL, the pin and the
# fingerprint. Plain HTTP to the TLS port, and handshakes that stall or carry
# garbage, cost the server nothing. Plain HTTP beyond loopback is refused unless
# --allow-plain-http. A CA-signed pair with an intermediate, made by openssl, serves
# with --tls-cert/--tls-key; a missing, malformed, foreign or exposed key stops the
# start with a message (exit 2 for files named on the command line, as for every
# bad option; exit 1 for a broken pair in the data folder, a start-up failure).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_server.sh"
cd "$WORK"
D=$WORK/data

if ! command -v openssl >/dev/null; then
    fail "openssl is installed" "the tests of certificates need the openssl command (scripts/install-deps.sh)"
    finish
fi

# pin_of CERT: the public-key pin of a PEM certificate, computed by openssl.
pin_of() {
    echo "sha256//$(openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform der |
        openssl dgst -sha256 -binary | base64)"
}
fingerprint_of() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }

# vvd ARGS...: vmvaultd in the foreground (killed after 20 s: a start that should
# have been refused), its output printed and kept in a log the sanitizer scan reads.
vvd() {
    local rc
    timeout 20 "$VMVAULTD" "$@" > "$WORK/.vvd.out" 2>&1; rc=$?
    cat "$WORK/.vvd.out" | tee -a "$WORK/refused.log"
    return "$rc"
}

# check_closed NAME COMMAND...: the command (a curl) fails, and not by its timeout:
# the server closed the connection instead of leaving it hanging.
check_closed() {
    local name=$1 rc; shift
    "$@" >/dev/null 2>"$WORK/.closed-err"; rc=$?
    if [ "$rc" != 0 ] && [ "$rc" != 28 ]; then pass "$name"
    else fail "$name" "curl exit $rc: $(one_line < "$WORK/.closed-err")"; fi
}

# ---- --tls auto: the pair is made once -------------------------------------------
srv_start "$D" --tls auto || finish
pass "server starts with --tls auto"
PORT=${SRV_URL##*:}
check "vmvaultd.url is https://127.0.0.1:PORT" \
    sh -c "grep -Eq '^https://127\.0\.0\.1:[1-9][0-9]*\$' '$D/vmvaultd.url'"
check "the log serves https" grep -q "serving https://127.0.0.1:$PORT/api/v1" "$SRV_LOG"
check "DATA/tls is mode 0700" test "$(stat -c %a "$D/tls")" = 700
check "DATA/tls/key.pem is mode 0600" test "$(stat -c %a "$D/tls/key.pem")" = 600
check "DATA/tls/cert.pem is a certificate" openssl x509 -in "$D/tls/cert.pem" -noout
check "no temporary files are left" test "$(ls "$D/tls" | tr '\n' ' ')" = "cert.pem key.pem "
openssl x509 -in "$D/tls/cert.pem" -noout -text > cert.txt 2>&1
check "the key is EC P-256" sh -c "openssl pkey -in '$D/tls/key.pem' -noout -text | grep -q 'NIST CURVE: P-256'"
check "the certificate is X.509 v3" grep -q "Version: 3 (0x2)" cert.txt
check "its CN is the listen host" sh -c "openssl x509 -in '$D/tls/cert.pem' -noout -subject | grep -q 'CN *= *127.0.0.1'"
check "its subjectAltName has 127.0.0.1 and localhost" \
    sh -c "grep -A1 'Subject Alternative Name' cert.txt | grep 'IP Address:127.0.0.1' | grep -q 'DNS:localhost'"
check "it is a server certificate, not a CA" \
    sh -c "grep -q 'TLS Web Server Authentication' cert.txt && grep -q 'CA:FALSE' cert.txt"
check "it is valid for 10 years" \
    sh -c "openssl x509 -in '$D/tls/cert.pem' -noout -checkend $((3650 * 86400)) >/dev/null && ! openssl x509 -in '$D/tls/cert.pem' -noout -checkend $((3660 * 86400)) >/dev/null"
check "the key belongs to the certificate" \
    sh -c "[ \"\$(openssl x509 -in '$D/tls/cert.pem' -pubkey -noout)\" = \"\$(openssl pkey -in '$D/tls/key.pem' -pubout)\" ]"
PIN=$(pin_of "$D/tls/cert.pem")
FP=$(fingerprint_of "$D/tls/cert.pem")
check "the log gives the pin and the fingerprint" \
    sh -c "grep -qF -- '$PIN' '$SRV_LOG' && grep -qF -- '$FP' '$SRV_LOG'"

# ---- clients: by pin, by CA file -------------------------------------------------
check "health with the pinned key" curl -fsS -m 10 -k --pinnedpubkey "$PIN" "$SRV_URL/api/v1/health"
check_exit "a wrong pin is refused (curl exit 90)" 90 \
    curl -sS -m 10 -k --pinnedpubkey "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" "$SRV_URL/api/v1/health"
check "cert.pem as the CA file verifies https://127.0.0.1:PORT" \
    curl -fsS -m 10 --cacert "$D/tls/cert.pem" "https://127.0.0.1:$PORT/api/v1/health"
check "and https://localhost:PORT" \
    curl -fsS -m 10 --cacert "$D/tls/cert.pem" "https://localhost:$PORT/api/v1/health"
check_exit "without the CA file or the pin the certificate is refused (curl exit 60)" 60 \
    curl -sS -m 10 "$SRV_URL/api/v1/health"
check "TLS 1.2 is served too" curl -fsS -m 10 -k --tls-max 1.2 "$SRV_URL/api/v1/health"

# The API itself, over HTTPS (api and check_api use curl: it takes the CA file from
# CURL_CA_BUNDLE).
export CURL_CA_BUNDLE=$D/tls/cert.pem
check_api "whoami over https" 200 "" GET /api/v1/whoami
check_api "vault create over https" 201 "" POST /api/v1/vaults '{"name": "v1", "location": "westeurope"}'
check_api "vault credentials" 201 "" POST /api/v1/vaults/v1/credentials '{}'
check_json "the credentials have the https vaultUrl" "j['vaultUrl'] == '$SRV_URL'"
check_json "the credentials carry the pin" "j['certificatePin'] == '$PIN'"
check_json "the credentials carry the fingerprint" "j['certificateFingerprint'] == '$FP'"
cp "$API_BODY" creds1.json

# ---- what a TLS port does with other traffic -------------------------------------
check_closed "plain HTTP to the TLS port gets a closed connection" \
    curl -sS -m 10 "http://127.0.0.1:$PORT/api/v1/health"
# Twenty connections that stall in the handshake, or send garbage, stay open while
# another client is served.
"$PY" - "$PORT" > stall.out 2>&1 <<'PY' &
import os, socket, sys, time
socks = []
for i in range(20):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    if i % 3 == 1:
        s.sendall(b"\x16\x03\x01\x02\x00\x01")   # a ClientHello cut short
    elif i % 3 == 2:
        s.sendall(os.urandom(512))              # not TLS at all
    socks.append(s)
print("open", flush=True)
time.sleep(8)
PY
STALL=$!
BG_PIDS+=("$STALL")
for _ in $(seq 1 100); do grep -q open stall.out 2>/dev/null && break; sleep 0.05; done
check "stalled and garbage handshakes are open" grep -q open stall.out
check "the server answers meanwhile" curl -fsS -m 3 -k --pinnedpubkey "$PIN" "$SRV_URL/api/v1/health"
kill "$STALL" 2>/dev/null; wait "$STALL" 2>/dev/null
check "the server still answers afterwards" curl -fsS -m 10 -k --pinnedpubkey "$PIN" "$SRV_URL/api/v1/health"
check "the server is still running" kill -0 "$SRV_PID"

# ---- a restart keeps the pair ----------------------------------------------------
cp "$D/tls/cert.pem" cert1.pem
cp "$D/tls/key.pem" key1.pem
srv_restart "server with --tls auto" || finish
check "the restart kept cert.pem" cmp -s cert1.pem "$D/tls/cert.pem"
check "the restart kept key.pem" cmp -s key1.pem "$D/tls/key.pem"
check "the old pin still works" curl -fsS -m 10 -k --pinnedpubkey "$PIN" "$SRV_URL/api/v1/health"
check_api "vault credentials after the restart" 201 "" POST /api/v1/vaults/v1/credentials '{}'
check_json "the same pin after the restart" "j['certificatePin'] == '$PIN' and j['certificateFingerprint'] == '$FP'"
srv_stop

# A broken pair in the data folder is a start-up failure (exit 1), never replaced
# behind the hosts' back.
chmod 644 "$D/tls/key.pem"
check_fails "an exposed DATA/tls/key.pem stops the start (exit 1)" 1 "key.pem is accessible by group or others.*chmod 600" \
    vvd --data-dir "$D" --listen 127.0.0.1:0 --tls auto
chmod 600 "$D/tls/key.pem"
mv "$D/tls/key.pem" key.moved
check_fails "a missing DATA/tls/key.pem stops the start (exit 1)" 1 "key.pem is not .*remove .*cert.pem too" \
    vvd --data-dir "$D" --listen 127.0.0.1:0 --tls auto
echo "-----BEGIN PRIVATE KEY-----" > "$D/tls/key.pem"; chmod 600 "$D/tls/key.pem"
check_fails "a malformed DATA/tls/key.pem stops the start (exit 1)" 1 "no PEM private key.*remove both" \
    vvd --data-dir "$D" --listen 127.0.0.1:0 --tls auto
mv key.moved "$D/tls/key.pem"
check "nothing replaced the pair" sh -c "cmp -s cert1.pem '$D/tls/cert.pem' && cmp -s key1.pem '$D/tls/key.pem'"
# A key without its certificate is what a first start cut short leaves: replaced.
rm "$D/tls/cert.pem"
srv_start "$D" --tls auto || finish
check "a key alone is replaced by a new pair" sh -c "! cmp -s key1.pem '$D/tls/key.pem' && test -s '$D/tls/cert.pem'"
check_exit "the old pin no longer matches" 90 curl -sS -m 10 -k --pinnedpubkey "$PIN" "$SRV_URL/api/v1/health"
check "the new pin does" curl -fsS -m 10 -k --pinnedpubkey "$(pin_of "$D/tls/cert.pem")" "$SRV_URL/api/v1/health"
srv_stop
unset CURL_CA_BUNDLE

# ---- plain HTTP is for loopback --------------------------------------------------
check_fails "plain HTTP on 0.0.0.0 is refused (exit 2), naming --tls auto and --tls-cert" 2 \
    "HTTPS with --tls auto .*--tls-cert FILE --tls-key FILE.*--allow-plain-http" \
    vvd --data-dir "$WORK/plain" --listen 0.0.0.0:0
check "the refusal names the address and why" \
    grep -q "refusing to serve plain HTTP on 0.0.0.0:0: API tokens .* clear text" "$WORK/.vvd.out"
check_fails "and on [::]" 2 "refusing to serve plain HTTP on \[::\]:0" \
    vvd --data-dir "$WORK/plain" --listen "[::]:0"
check_fails "and with --tls off" 2 "refusing to serve plain HTTP" \
    vvd --data-dir "$WORK/plain" --listen 0.0.0.0:0 --tls off
check "a refused start writes nothing" test ! -e "$WORK/plain"
srv_start "$WORK/plain" --listen 0.0.0.0:0 --allow-plain-http || finish
pass "with --allow-plain-http it starts on 0.0.0.0"
check "it serves http://" sh -c "grep -Eq '^http://127\.0\.0\.1:[1-9][0-9]*\$' '$WORK/plain/vmvaultd.url'"
check "no TLS folder is made" test ! -e "$WORK/plain/tls"
check_api "vault create (plain)" 201 "" POST /api/v1/vaults '{"name": "v1", "location": "westeurope"}'
check_api "vault credentials (plain)" 201 "" POST /api/v1/vaults/v1/credentials '{}'
check_json "plain HTTP credentials: http vaultUrl, no pin, no fingerprint" \
    "j['vaultUrl'] == '$SRV_URL' and j['vaultUrl'].startswith('http://') and j['certificatePin'] is None and j['certificateFingerprint'] is None"
srv_stop
if "$PY" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
    srv_start "$WORK/loop6" --listen "[::1]:0" || finish
    pass "plain HTTP on [::1] needs no flag"
    srv_stop
fi

# --tls auto on a wildcard address with a --public-url: the certificate is named
# after the public host.
srv_start "$WORK/pub" --tls auto --listen 0.0.0.0:0 --public-url https://vault.example.test:8443 || finish
check "the certificate is named after the --public-url host" \
    sh -c "openssl x509 -in '$WORK/pub/tls/cert.pem' -noout -subject | grep -q 'CN *= *vault.example.test'"
check "its subjectAltName has that name, 127.0.0.1 and localhost" \
    sh -c "openssl x509 -in '$WORK/pub/tls/cert.pem' -noout -text | grep -A1 'Subject Alternative Name' | grep 'DNS:vault.example.test' | grep 'IP Address:127.0.0.1' | grep -q 'DNS:localhost'"
check "it serves https on the wildcard address" \
    curl -fsS -m 10 --cacert "$WORK/pub/tls/cert.pem" "https://127.0.0.1:${SRV_URL##*:}/api/v1/health"
srv_stop

# ---- --tls-cert / --tls-key: a pair from a CA with an intermediate ----------------
mkdir pki && cd pki || finish
cat > ca.ext <<'EOF'
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
EOF
cat > leaf.ext <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
EOF
{
    openssl req -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.pem -days 2 -subj /CN=t0600-root &&
    openssl req -newkey rsa:2048 -nodes -keyout int.key -out int.csr -subj /CN=t0600-intermediate &&
    openssl x509 -req -in int.csr -CA root.pem -CAkey root.key -CAcreateserial -days 2 -extfile ca.ext -out int.pem &&
    openssl req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj /CN=127.0.0.1 &&
    openssl x509 -req -in leaf.csr -CA int.pem -CAkey int.key -CAcreateserial -days 2 -extfile leaf.ext -out leaf.pem &&
    cat leaf.pem int.pem > chain.pem
} > openssl.log 2>&1
check "openssl made a root, an intermediate and a server certificate" sh -c "test -s chain.pem || { tail -5 openssl.log; false; }"
cd "$WORK" || finish
P=$WORK/pki
srv_start "$WORK/given" --tls-cert "$P/chain.pem" --tls-key "$P/leaf.key" || finish
pass "server starts with --tls-cert (a chain) and --tls-key"
check "vmvaultd.url is https" sh -c "grep -q '^https://' '$WORK/given/vmvaultd.url'"
check "no TLS folder is made" test ! -e "$WORK/given/tls"
check "a client trusting only the root verifies the server (the intermediate is sent)" \
    curl -fsS -m 10 --cacert "$P/root.pem" "https://127.0.0.1:${SRV_URL##*:}/api/v1/health"
LPIN=$(pin_of "$P/leaf.pem")
check "the server certificate's pin works" curl -fsS -m 10 -k --pinnedpubkey "$LPIN" "$SRV_URL/api/v1/health"
export CURL_CA_BUNDLE=$P/root.pem
check_api "vault create (given pair)" 201 "" POST /api/v1/vaults '{"name": "v1", "location": "westeurope"}'
check_api "vault credentials (given pair)" 201 "" POST /api/v1/vaults/v1/credentials '{}'
check_json "they carry the server certificate's pin and fingerprint" \
    "j['vaultUrl'] == '$SRV_URL' and j['certificatePin'] == '$LPIN' and j['certificateFingerprint'] == '$(fingerprint_of "$P/leaf.pem")'"
unset CURL_CA_BUNDLE
srv_stop

# Files named on the command line that cannot serve: a usage error (exit 2), before
# anything is written.
G=$WORK/bad
echo "not a key" > "$P/garbage.pem"
openssl pkey -in "$P/leaf.key" -aes256 -passout pass:secret -out "$P/leaf.enc.key" 2>/dev/null
check_fails "a missing --tls-key file (exit 2)" 2 "--tls-key .*/nosuch.key: no such file" \
    vvd --data-dir "$G" --tls-cert "$P/chain.pem" --tls-key "$P/nosuch.key"
check_fails "a missing --tls-cert file (exit 2)" 2 "--tls-cert .*/nosuch.pem: no such file" \
    vvd --data-dir "$G" --tls-cert "$P/nosuch.pem" --tls-key "$P/leaf.key"
check_fails "a malformed key (exit 2)" 2 "no PEM private key" \
    vvd --data-dir "$G" --tls-cert "$P/chain.pem" --tls-key "$P/garbage.pem"
check_fails "a malformed certificate (exit 2)" 2 "no PEM certificate" \
    vvd --data-dir "$G" --tls-cert "$P/garbage.pem" --tls-key "$P/leaf.key"
check_fails "the key of another certificate (exit 2)" 2 "does not belong" \
    vvd --data-dir "$G" --tls-cert "$P/chain.pem" --tls-key "$P/int.key"
check_fails "an encrypted key (exit 2)" 2 "encrypted with a passphrase" \
    vvd --data-dir "$G" --tls-cert "$P/chain.pem" --tls-key "$P/leaf.enc.key"
check_fails "--tls-cert without --tls-key (exit 2)" 2 "go together" \
    vvd --data-dir "$G" --tls-cert "$P/chain.pem"
check_fails "--tls auto with --tls-cert (exit 2)" 2 "does not go with --tls-cert" \
    vvd --data-dir "$G" --tls auto --tls-cert "$P/chain.pem" --tls-key "$P/leaf.key"
check_fails "an unknown --tls mode (exit 2)" 2 "--tls must be auto or off" \
    vvd --data-dir "$G" --tls on
check "refused starts wrote nothing" test ! -e "$G"
check "--help documents the TLS options" \
    sh -c "'$VMVAULTD' --help | grep -q -- '--tls auto|off' && '$VMVAULTD' --help | grep -q -- '--tls-cert FILE' && '$VMVAULTD' --help | grep -q -- '--allow-plain-http'"

finish
