#!/usr/bin/env bash
# Chunk transfer as a host agent over raw HTTP, and the rules on every body: missing
# ids answered exactly, raw and zstd uploads, a chunk that does not match its id
# refused and not stored, a commit naming a chunk never uploaded refused with nothing
# committed, bad indexes, bad JSON, unknown fields, oversized bodies, unknown routes
# and methods. Then a good commit, an incremental on it (only what its parent does not
# name is looked up), and the offline check passes (and sees damage).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_server.sh"
cd "$WORK"
D=$WORK/data
VV=$VVAPI
srv_start "$D" || finish

U1=11111111-1111-4111-8111-111111111111
run_vvapi call POST /api/v1/vaults '{"name": "v1", "location": "westeurope"}' > v1.json
V1ID=$(json_get v1.json 'j["id"]')
run_vvapi call POST /api/v1/vaults/v1/credentials '{}' > creds.json
check "agent registers" run_vvapi --state a.json agent register --creds creds.json --host host1
run_vvapi --state a.json agent inventory "web1:$U1" >/dev/null
AG=$(json_get a.json 'j["token"]')
run_vvapi call POST /api/v1/vaults/v1/protectedItems '{"vm": "web1"}' >/dev/null
run_vvapi call POST /api/v1/vaults/v1/protectedItems/web1/backup '{}' > job.json
J=$(json_get job.json 'j["id"]')
check_out "the agent claims the backup job" 'j["id"] == "'"$J"'"' run_vvapi --state a.json agent claim --wait 5
STORE=$D/vaults/$V1ID/store
chunk_file() { echo "$STORE/chunks/${1:0:2}/$1"; }
# agent API calls: aapi METHOD PATH [BODY]
aapi() { API_TOKEN=$AG api "$@"; }
acheck() { API_TOKEN=$AG check_api "$@"; }
OCT=application/octet-stream

# ---- which chunks are missing ------------------------------------------------------
for i in 1 2 3 4 5; do
    eval "C$i=\$($VV gen --seed chunk$i --size 65536 --out c$i.bin)"
done
"$PY" -S -c 'import sys; sys.stdout.write("vmvault " * 32768)' > text.bin   # 256 KiB, compressible
CT=$($VV sha256 text.bin)

API_CTYPE=$OCT acheck "upload a chunk raw" 201 "" PUT "/api/v1/agent/chunks/$C1" @c1.bin
check_json "stored" 'j["id"] == "'"$C1"'" and j["stored"] is True'
API_HDRS=("Content-Encoding: zstd")
zstd -q -c c2.bin > c2.zst
API_CTYPE=$OCT acheck "upload a chunk zstd-compressed" 201 "" PUT "/api/v1/agent/chunks/$C2" @c2.zst
check_json "stored" 'j["id"] == "'"$C2"'" and j["stored"] is True'
zstd -q -19 -c text.bin > text.zst
API_CTYPE=$OCT acheck "upload a compressible chunk zstd-compressed" 201 "" PUT "/api/v1/agent/chunks/$CT" @text.zst
API_HDRS=()
check "the chunk is in the store" test -s "$(chunk_file "$C1")"
check "the zstd chunk is in the store" test -s "$(chunk_file "$C2")"
check "chunks are sealed, never stored plain" sh -c "! grep -q 'vmvault vmvault' '$(chunk_file "$CT")'"
API_CTYPE=$OCT aapi PUT "/api/v1/agent/chunks/$C1" @c1.bin
if [ "$API_STATUS" = 200 ] || [ "$API_STATUS" = 201 ]; then
    check_json "a chunk the vault has: stored false" 'j["stored"] is False'
else fail "a chunk the vault has is accepted again" "$(api_show)"; fi

acheck "missing chunks" 200 "" POST /api/v1/agent/chunks/missing "{\"ids\": [\"$C1\", \"$C2\", \"$C3\", \"$C4\", \"$CT\"]}"
check_json "answers exactly the missing ones" 'j == {"missing": ["'"$C3"'", "'"$C4"'"]}'
acheck "missing chunks keep the order asked" 200 "" POST /api/v1/agent/chunks/missing "{\"ids\": [\"$C4\", \"$C1\", \"$C3\"]}"
check_json "in order" 'j["missing"] == ["'"$C4"'", "'"$C3"'"]'
acheck "nothing missing" 200 "" POST /api/v1/agent/chunks/missing "{\"ids\": [\"$C1\", \"$C2\"]}"
check_json "an empty list" 'j["missing"] == []'
acheck "an id that is not 64 hex digits" 400 InvalidParameter POST /api/v1/agent/chunks/missing '{"ids": ["abc"]}'
"$PY" -S -c 'import json; print(json.dumps({"ids": ["%064x" % i for i in range(10001)]}))' > ids10001.json
acheck "at most 10000 ids" 400 InvalidParameter POST /api/v1/agent/chunks/missing @ids10001.json
"$PY" -S -c 'import json; print(json.dumps({"ids": ["%064x" % i for i in range(1, 10001)]}))' > ids10000.json
acheck "10000 ids are fine" 200 "" POST /api/v1/agent/chunks/missing @ids10000.json
check_json "all missing" 'len(j["missing"]) == 10000'

# ---- a chunk whose bytes do not match its id ---------------------------------------
API_CTYPE=$OCT acheck "a chunk that does not match its id" 400 ChunkHashMismatch PUT "/api/v1/agent/chunks/$C3" @c4.bin
check "the message names the id" grep -q "$C3" "$API_BODY"
zstd -q -c c4.bin > c4.zst
API_HDRS=("Content-Encoding: zstd")
API_CTYPE=$OCT acheck "a zstd chunk that does not match its id" 400 ChunkHashMismatch PUT "/api/v1/agent/chunks/$C3" @c4.zst
API_CTYPE=$OCT aapi PUT "/api/v1/agent/chunks/$C3" @c3.bin
if [ "$API_STATUS" = 400 ]; then pass "a body that is not zstd is refused"
else fail "a body that is not zstd is refused" "$(api_show), expected 400"; fi
head -c 1000 c2.zst > trunc.zst
API_CTYPE=$OCT aapi PUT "/api/v1/agent/chunks/$C2" @trunc.zst
if [ "$API_STATUS" = 400 ]; then pass "a truncated zstd frame is refused"
else fail "a truncated zstd frame is refused" "$(api_show), expected 400"; fi
API_HDRS=()
check "a refused chunk is not stored" test ! -e "$(chunk_file "$C3")"
acheck "missing still lists it" 200 "" POST /api/v1/agent/chunks/missing "{\"ids\": [\"$C3\"]}"
check_json "still missing" 'j["missing"] == ["'"$C3"'"]'
API_CTYPE=$OCT aapi PUT "/api/v1/agent/chunks/..%2F..%2Fconfig" @c1.bin
if [ "$API_STATUS" = 400 ] || [ "$API_STATUS" = 404 ]; then pass "a path as chunk id is refused"
else fail "a path as chunk id is refused" "$(api_show), expected 400 or 404"; fi
API_CTYPE=$OCT acheck "a chunk id that is not hex" 400 InvalidParameter PUT "/api/v1/agent/chunks/$(printf 'z%.0s' $(seq 64))" @c1.bin
API_HDRS=("Content-Encoding: gzip")
API_CTYPE=$OCT acheck "a chunk in an unsupported encoding" 415 UnsupportedMediaType PUT "/api/v1/agent/chunks/$C3" @c3.bin
API_HDRS=()
check "is not stored" test ! -e "$(chunk_file "$C3")"
API_CTYPE=$OCT check_api "a user token cannot upload chunks" 403 AuthorizationFailed PUT "/api/v1/agent/chunks/$C3" @c3.bin

# ---- several chunks in one upload -----------------------------------------------------
# records: 32-byte id, encoding (0 raw, 1 zstd, 2 identity), big-endian length, payload
for i in 6 7 8 9; do
    eval "C$i=\$($VV gen --seed batch$i --size 65536 --out c$i.bin)"
done
batch() {   # batch OUT ID:ENC:FILE ... (a FILE of "-" is a record cut after its head)
    "$PY" -S - "$@" <<'PY'
import struct, sys
out = open(sys.argv[1], "wb")
for rec in sys.argv[2:]:
    cid, enc, path = rec.split(":")
    data = open(path, "rb").read()
    out.write(bytes.fromhex(cid) + bytes([int(enc)]) + struct.pack(">I", len(data)) + data)
PY
}
zstd -q -c c7.bin > c7.zst
batch b1.bin "$C6:0:c6.bin" "$C7:1:c7.zst" "$C8:2:c8.bin" "$C1:0:c1.bin"
API_CTYPE=$OCT acheck "a batch of raw, zstd and identity chunks" 200 "" POST /api/v1/agent/chunks @b1.bin
check_json "three stored, one the vault had" 'j == {"stored": 3, "present": 1}'
check "each chunk of the batch is in the store" sh -c "test -s '$(chunk_file "$C6")' && test -s '$(chunk_file "$C7")' && test -s '$(chunk_file "$C8")'"
acheck "the batch's chunks are no longer missing" 200 "" POST /api/v1/agent/chunks/missing "{\"ids\": [\"$C6\", \"$C7\", \"$C8\", \"$C9\"]}"
check_json "only the chunk never sent" 'j["missing"] == ["'"$C9"'"]'
batch b2.bin "$C9:0:c9.bin" "$C3:0:c4.bin" "$C4:0:c4.bin"
API_CTYPE=$OCT acheck "a batch with a chunk that does not match its id" 400 ChunkHashMismatch POST /api/v1/agent/chunks @b2.bin
check "the refusal names the record, its id and what was stored" sh -c "grep -q 'record 1' '$API_BODY' && grep -q '$C3' '$API_BODY' && grep -q 'first 1 were stored' '$API_BODY'"
check "records before it are stored, the bad one and those after it are not" sh -c "test -s '$(chunk_file "$C9")' && test ! -e '$(chunk_file "$C3")' && test ! -e '$(chunk_file "$C4")'"
batch b3.bin "$C3:7:c3.bin"
API_CTYPE=$OCT acheck "a record in an unknown encoding" 400 InvalidParameter POST /api/v1/agent/chunks @b3.bin
check "the refusal names the encoding" grep -q "encoding 7" "$API_BODY"
head -c 20 b3.bin > b4.bin
API_CTYPE=$OCT acheck "a record cut inside its head" 400 InvalidParameter POST /api/v1/agent/chunks @b4.bin
check "the refusal says it is cut short" grep -q "cut short" "$API_BODY"
batch b5.bin "$C3:0:c3.bin"; head -c 60000 b5.bin > b6.bin
API_CTYPE=$OCT acheck "a record shorter than its length" 400 InvalidParameter POST /api/v1/agent/chunks @b6.bin
check "the refusal gives both lengths" grep -q "declares 65536 bytes but 59963 follow" "$API_BODY"
batch b7.bin "$C3:1:c3.bin"
API_CTYPE=$OCT acheck "a zstd record that is not zstd" 400 InvalidParameter POST /api/v1/agent/chunks @b7.bin
API_CTYPE=$OCT acheck "an empty batch" 400 InvalidParameter POST /api/v1/agent/chunks ""
"$PY" -S - "$C5" <<'PY'
import struct, sys, hashlib
out = open("b8.bin", "wb")
for i in range(1025):
    d = b"%d" % i
    out.write(hashlib.sha256(d).digest() + b"\0" + struct.pack(">I", len(d)) + d)
PY
API_CTYPE=$OCT acheck "more than 1024 records" 400 InvalidParameter POST /api/v1/agent/chunks @b8.bin
check "the refusal says 1024 were stored" grep -q "first 1024 were stored" "$API_BODY"
check "refused records are not stored" test ! -e "$(chunk_file "$C3")"
API_CTYPE=$OCT check_api "a user token cannot upload a batch" 403 AuthorizationFailed POST /api/v1/agent/chunks @b1.bin

# ---- several chunks in one download ----------------------------------------------------
# the answer: the records of a batch upload, in the order asked (1 zstd, 2 as stored)
unbatch() {   # unbatch ANSWER ID:FILE ...: each record holds that id, in that place, and
              # its payload (decompressed when zstd) is that file's content
    "$PY" -S - "$@" <<'PY'
import struct, subprocess, sys
data = open(sys.argv[1], "rb").read()
p = 0
for want in sys.argv[2:]:
    cid, path = want.split(":")
    assert data[p:p + 32] == bytes.fromhex(cid), "record for %s is not in its place" % cid
    enc, n = data[p + 32], struct.unpack(">I", data[p + 33:p + 37])[0]
    body = data[p + 37:p + 37 + n]
    if enc == 1:
        body = subprocess.run(["zstd", "-q", "-d", "-c"], input=body, capture_output=True, check=True).stdout
    else:
        assert enc == 2, "encoding %d" % enc
    assert body == open(path, "rb").read(), "payload of %s differs" % cid
    p += 37 + n
assert p == len(data), "%d bytes too many" % (len(data) - p)
PY
}
# (the downloads themselves are checked below, once a restore job can name them)

# ---- indexes -----------------------------------------------------------------------
CS=65536
idx() { local out=$1; shift; $VV index --out "$out" "$@"; }
idx bad1.bin --chunk-size $CS --virtual-size $((4 * CS)) "$C1" hole zero          # 3 entries for 4
idx bad2.bin --chunk-size $CS --virtual-size $((3 * CS)) --count 4 "$C1" hole zero "$C2"
idx bad3.bin --chunk-size $CS --virtual-size $((3 * CS)) --version 3 "$C1" hole zero
idx bad4.bin --chunk-size 3000 --virtual-size 9000 "$C1" hole zero
idx bad5.bin --chunk-size $CS --virtual-size $((3 * CS)) --reserved 1 "$C1" hole zero
idx bad6.bin --chunk-size $((32 * 1024 * 1024)) --virtual-size $((32 * 1024 * 1024)) "$C1"
cp bad1.bin bad7.bin; head -c 10 bad1.bin > bad8.bin
idx good.bin --chunk-size $CS --virtual-size $((3 * CS)) "$C1" hole zero
printf 'x' >> bad7.bin
for b in "1:an index with too few entries" "2:an index whose count is wrong" "3:an index of an unknown version" \
         "4:a chunk size that is not a power of two" "5:a non-zero reserved field" "6:a chunk size over 16 MiB" \
         "7:a trailing byte" "8:a truncated header"; do
    API_CTYPE=$OCT acheck "${b#*:} is refused" 400 InvalidIndex PUT "/api/v1/agent/jobs/$J/disks/vda/index" "@bad${b%%:*}.bin"
done
API_CTYPE=$OCT acheck "a bad disk name is refused" 400 InvalidParameter PUT "/api/v1/agent/jobs/$J/disks/Vda/index" @good.bin
API_CTYPE=$OCT acheck "an index for an unknown job" 404 JobNotFound PUT "/api/v1/agent/jobs/00000000-0000-4000-8000-000000000000/disks/vda/index" @good.bin

# ---- a commit naming a chunk never uploaded ---------------------------------------
idx miss.bin --chunk-size $CS --virtual-size $((5 * CS)) "$C1" hole "$C5" zero "$C2"
API_CTYPE=$OCT aapi PUT "/api/v1/agent/jobs/$J/disks/vda/index" @miss.bin
case $API_STATUS in 2??) pass "an index naming an absent chunk is accepted for upload";;
    *) fail "an index naming an absent chunk is accepted for upload" "$(api_show)";; esac
COMMIT='{"consistency": "CrashConsistent", "parent": "", "vmName": "web1", "vmUuid": "'$U1'", "domainXml": "<domain type='"'kvm'"'><name>web1</name></domain>", "disks": [{"name": "vda", "source": "/var/lib/libvirt/images/web1.qcow2"}]}'
acheck "a commit with a missing chunk is refused" 409 MissingChunks POST "/api/v1/agent/jobs/$J/recoveryPoint" "$COMMIT"
check "the refusal lists the missing id" grep -q "$C5" "$API_BODY"
check "and not the present ones" sh -c "! grep -q '$C1' '$API_BODY'"
check_api "no recovery point appears" 200 "" GET /api/v1/vaults/v1/protectedItems/web1/recoveryPoints
check_json "none listed" 'L == []'
check_api "the item has none" 200 "" GET /api/v1/vaults/v1/protectedItems/web1
check_json "count 0, IRPending" 'j["recoveryPointCount"] == 0 and j["protectionState"] == "IRPending"'
check "none in the store" test -z "$(store_points "$V1ID")"
check_api "the job is still running" 200 "" GET "/api/v1/vaults/v1/jobs/$J"
check_json "InProgress" 'j["status"] == "InProgress" and j["recoveryPoint"] is None'

# ---- bodies: bad JSON, unknown fields, wrong types, media types ---------------------
check_api "malformed JSON" 400 InvalidJson POST /api/v1/vaults '{"name": "x",'
check_api "not JSON at all" 400 InvalidJson POST /api/v1/vaults 'name=x&location=y'
printf '{"name": "\xff\xfe", "location": "westeurope"}' > badutf8.json
check_api "invalid UTF-8" 400 InvalidJson POST /api/v1/vaults @badutf8.json
API_CTYPE=text/plain check_api "a JSON body sent as text/plain" 415 UnsupportedMediaType POST /api/v1/vaults '{"name": "ct1", "location": "westeurope"}'
check_api "and no vault was created" 404 VaultNotFound GET /api/v1/vaults/ct1
API_CTYPE="application/json; charset=utf-8" check_api "application/json with a charset is JSON" 201 "" POST /api/v1/vaults '{"name": "ct2", "location": "westeurope"}'
check_api "the test vault goes again" 200 "" DELETE /api/v1/vaults/ct2
"$PY" -S -c 'import sys; sys.stdout.write("[" * 300000)' > deep.json
check_api "300000 nested brackets" 400 InvalidJson POST /api/v1/vaults @deep.json
check_api "trailing garbage after the object" 400 InvalidJson POST /api/v1/vaults '{"name": "x", "location": "y"} {}'
acheck "malformed JSON to an agent call" 400 InvalidJson POST /api/v1/agent/chunks/missing '{"ids": ['
acheck "malformed JSON in a commit" 400 InvalidJson POST "/api/v1/agent/jobs/$J/recoveryPoint" '{"consistency": '
api POST /api/v1/vaults '[1, 2]'
if [ "$API_STATUS" = 400 ] && { [ "$(api_code)" = InvalidJson ] || [ "$(api_code)" = InvalidParameter ]; }; then
    pass "a JSON array is not an object"
else fail "a JSON array is not an object" "$(api_show)"; fi
check_api "an unknown field" 400 InvalidParameter POST /api/v1/vaults '{"name": "x1", "location": "westeurope", "colour": "red"}'
check "the refusal names the field" grep -q colour "$API_BODY"
check_api "an unknown nested field" 400 InvalidParameter POST /api/v1/vaults '{"name": "x1", "location": "westeurope", "softDelete": {"state": "Enabled", "retentionDays": 14, "x": 1}}'
check_api "a wrong type" 400 InvalidParameter POST /api/v1/vaults '{"name": 5, "location": "westeurope"}'
check_api "null for a name" 400 InvalidParameter POST /api/v1/vaults '{"name": null, "location": "westeurope"}'
acheck "an unknown field in an agent call" 400 InvalidParameter POST /api/v1/agent/chunks/missing "{\"ids\": [], \"all\": true}"
acheck "an unknown field in progress" 400 InvalidParameter POST "/api/v1/agent/jobs/$J/progress" '{"bytesDone": 1, "bytesTotal": 2, "tasks": [], "eta": 5}'
acheck "an unknown field in a commit" 400 InvalidParameter POST "/api/v1/agent/jobs/$J/recoveryPoint" "${COMMIT%\}}, \"colour\": \"red\"}"
acheck "an unknown consistency" 400 InvalidParameter POST "/api/v1/agent/jobs/$J/recoveryPoint" "${COMMIT/CrashConsistent/Sloppy}"
acheck "an unknown completion status" 400 InvalidParameter POST "/api/v1/agent/jobs/$J/complete" '{"status": "Done"}'
check_api "refused bodies created nothing" 404 VaultNotFound GET /api/v1/vaults/x1

# ---- size caps -----------------------------------------------------------------------
# a valid body padded with spaces to exactly 1 MiB is fine; one byte more is not
"$PY" -S - <<'PY'
b = b'{"name": "big", "location": "westeurope"}'
open("1mib.json", "wb").write(b[:-1] + b" " * (1048576 - len(b)) + b"}")
open("1mib+1.json", "wb").write(b[:-1] + b" " * (1048577 - len(b)) + b"}")
open("9mib.json", "wb").write(b[:-1] + b" " * (9 * 1048576) + b"}")
PY
check_api "a JSON body of exactly 1 MiB" 201 "" POST /api/v1/vaults @1mib.json
check_api "a JSON body over 1 MiB" 413 RequestTooLarge POST /api/v1/vaults @1mib+1.json
check_api "a 9 MiB JSON body" 413 RequestTooLarge POST /api/v1/vaults @9mib.json
API_HDRS=("Transfer-Encoding: chunked")
check_api "a 9 MiB JSON body without Content-Length" 413 RequestTooLarge POST /api/v1/vaults @9mib.json
API_HDRS=()
acheck "an agent JSON body over its cap" 413 RequestTooLarge POST "/api/v1/agent/jobs/$J/progress" @9mib.json
$VV gen --seed big16 --size $((16 * 1048576)) --out c16m.bin > c16m.id
$VV gen --seed big16 --size $((16 * 1048576 + 1)) --out c16m1.bin > c16m1.id
$VV gen --seed big17 --size $((17 * 1048576)) --out c17m.bin > c17m.id
API_CTYPE=$OCT acheck "a chunk of exactly 16 MiB" 201 "" PUT "/api/v1/agent/chunks/$(cat c16m.id)" @c16m.bin
API_CTYPE=$OCT acheck "a chunk of 16 MiB + 1 byte" 413 RequestTooLarge PUT "/api/v1/agent/chunks/$(cat c16m1.id)" @c16m1.bin
API_CTYPE=$OCT acheck "a 17 MiB chunk" 413 RequestTooLarge PUT "/api/v1/agent/chunks/$(cat c17m.id)" @c17m.bin
API_CTYPE=$OCT acheck "a batch of 17 MiB" 413 RequestTooLarge POST /api/v1/agent/chunks @c17m.bin
batch b9.bin "$(cat c16m1.id):0:c16m1.bin"
API_CTYPE=$OCT acheck "a batch record of 16 MiB + 1 byte" 413 RequestTooLarge POST /api/v1/agent/chunks @b9.bin
"$PY" -S -c 'import sys; sys.stdout.buffer.write(bytes(17 * 1048576))' | zstd -q -c > zeros17m.zst
Z17=$("$PY" -S -c 'import hashlib; print(hashlib.sha256(bytes(17*1048576)).hexdigest())')
API_HDRS=("Content-Encoding: zstd")
API_CTYPE=$OCT aapi PUT "/api/v1/agent/chunks/$Z17" @zeros17m.zst
case $API_STATUS in 413|400) pass "a small zstd body that expands over 16 MiB is refused";;
    *) fail "a small zstd body that expands over 16 MiB is refused" "$(api_show), expected 413 (or 400)";; esac
check "and not stored" test ! -e "$(chunk_file "$Z17")"
API_HDRS=("Transfer-Encoding: chunked")
API_CTYPE=$OCT acheck "a 17 MiB chunk without Content-Length" 413 RequestTooLarge PUT "/api/v1/agent/chunks/$(cat c17m.id)" @c17m.bin
API_HDRS=()
check "oversized chunks are not stored" sh -c "[ ! -e '$(chunk_file "$(cat c16m1.id)")' ] && [ ! -e '$(chunk_file "$(cat c17m.id)")' ]"
API_TOKEN=- check_api "the server still answers" 200 "" GET /api/v1/health
check "the server is still running" kill -0 "$SRV_PID"

# ---- routes and methods ------------------------------------------------------------
check_api "an unknown route" 404 RouteNotFound GET /api/v1/nope
check_api "an unknown API version" 404 RouteNotFound GET /api/v2/vaults
check_api "a path under a vault that is no route" 404 RouteNotFound GET /api/v1/vaults/v1/nope/x
check_api "the root serves the dashboard" 200 "" GET /
check_api "a file beside the dashboard that is not there" 404 "" GET /nope.js
check_api "a wrong method" 405 MethodNotAllowed DELETE /api/v1/health
check_api "PUT on the vault list" 405 MethodNotAllowed PUT /api/v1/vaults '{}'
check_api "PATCH on a vault" 405 MethodNotAllowed PATCH /api/v1/vaults/v1 '{}'
acheck "GET on the missing-chunks call" 405 MethodNotAllowed GET /api/v1/agent/chunks/missing
hdrs=$(curl -sS -D - -o /dev/null -X DELETE "$SRV_URL/api/v1/health" | tr -d '\r')
if printf '%s\n' "$hdrs" | grep -i '^allow:' | grep -q GET; then pass "a 405 says which methods are allowed (Allow: GET)"
else fail "a 405 says which methods are allowed (Allow: GET)" "DELETE /api/v1/health answered: $(printf '%s' "$hdrs" | one_line)"; fi
API_TOKEN=- check_api "an unknown route needs no token to be unknown" 404 RouteNotFound GET /api/v1/nope

# ---- a good commit, then the offline check ---------------------------------------------
API_CTYPE=$OCT acheck "upload the missing chunk" 201 "" PUT "/api/v1/agent/chunks/$C5" @c5.bin
API_CTYPE=$OCT aapi PUT "/api/v1/agent/jobs/$J/disks/vda/index" @miss.bin
acheck "commit" 201 "" POST "/api/v1/agent/jobs/$J/recoveryPoint" "$COMMIT"
check_json "the recovery point as committed" \
    'j["name"].startswith("rp-") and j["item"] == "web1" and j["consistency"] == "CrashConsistent" and [(d["name"], d["virtualSize"], d["chunkSize"], d["dataChunks"], d["zeroChunks"], d["holeChunks"]) for d in j["disks"]] == [("vda", 5 * 65536, 65536, 3, 1, 1)]'
RP=$(api_field 'j["name"]')
acheck "complete the job" 200 "" POST "/api/v1/agent/jobs/$J/complete" '{"status": "Completed"}'
check_api "the point is listed" 200 "" GET /api/v1/vaults/v1/protectedItems/web1/recoveryPoints
check_json "once" '[p["name"] for p in L] == ["'"$RP"'"]'
check "and in the store" test "$(store_points "$V1ID")" = "$RP"
check_api "the job ends Completed" 200 "" GET "/api/v1/vaults/v1/jobs/$J"
check_json "naming its point" 'j["status"] == "Completed" and j["recoveryPoint"] == "'"$RP"'"'
aapi POST "/api/v1/agent/jobs/$J/recoveryPoint" "$COMMIT"
case $API_STATUS in 4??) pass "a completed job takes no more commits";;
    *) fail "a completed job takes no more commits" "$(api_show), expected a 4xx refusal";; esac
check_api "still one point" 200 "" GET /api/v1/vaults/v1/protectedItems/web1/recoveryPoints
check_json "one" 'len(L) == 1'

# ---- an incremental: what its parent names is taken as present, the rest is checked --
run_vvapi call POST /api/v1/vaults/v1/protectedItems/web1/backup '{}' > job2.json
J2=$(json_get job2.json 'j["id"]')
check_out "the agent claims the incremental's job" 'j["id"] == "'"$J2"'"' run_vvapi --state a.json agent claim --wait 5
C6=$($VV gen --seed chunk6 --size 65536 --out c6.bin)
idx inc.bin --chunk-size $CS --virtual-size $((5 * CS)) "$C1" hole "$C5" "$C6" "$C2"
API_CTYPE=$OCT aapi PUT "/api/v1/agent/jobs/$J2/disks/vda/index" @inc.bin
INC=${COMMIT/'"parent": ""'/'"parent": "'$RP'"'}
acheck "an incremental naming a chunk never uploaded is refused" 409 MissingChunks \
    POST "/api/v1/agent/jobs/$J2/recoveryPoint" "$INC"
check_json "only that chunk is missing" 'j["error"]["missingCount"] == 1 and j["error"]["missing"] == ["'"$C6"'"]'
API_CTYPE=$OCT acheck "upload it" 201 "" PUT "/api/v1/agent/chunks/$C6" @c6.bin
acheck "then the incremental commits" 201 "" POST "/api/v1/agent/jobs/$J2/recoveryPoint" "$INC"
RP2=$(api_field 'j["name"]')
acheck "complete the incremental's job" 200 "" POST "/api/v1/agent/jobs/$J2/complete" '{"status": "Completed"}'
check_api "two points" 200 "" GET /api/v1/vaults/v1/protectedItems/web1/recoveryPoints
check_json "the incremental beside its parent" 'sorted(p["name"] for p in L) == sorted(["'"$RP"'", "'"$RP2"'"])'
# ---- several chunks in one download, for a running restore job -------------------------
run_vvapi call POST "/api/v1/vaults/v1/protectedItems/web1/recoveryPoints/$RP2/restore" \
    '{"restoreMode": "RestoreDisks", "targetDirectory": "/var/tmp/vv-t0240"}' > rjob.json
RJ=$(json_get rjob.json 'j["id"]')
check_out "the agent claims the restore job" 'j["id"] == "'"$RJ"'"' run_vvapi --state a.json agent claim --wait 5
acheck "a download that names no job is refused" 400 InvalidParameter POST /api/v1/agent/chunks/fetch "{\"ids\": [\"$C1\"]}"
acheck "a download naming an ended backup job is refused" 409 JobAlreadyEnded POST "/api/v1/agent/chunks/fetch?job=$J2" "{\"ids\": [\"$C1\"]}"
# the restored point names C1, C5, C6 and C2 (C2 was uploaded as a zstd frame)
acheck "fetch several chunks at once" 200 "" POST "/api/v1/agent/chunks/fetch?job=$RJ" "{\"ids\": [\"$C2\", \"$C1\", \"$C6\", \"$C5\"]}"
check "each chunk comes in the order asked, whole" unbatch "$API_BODY" "$C2:c2.bin" "$C1:c1.bin" "$C6:c6.bin" "$C5:c5.bin"
acheck "fetch one chunk" 200 "" POST "/api/v1/agent/chunks/fetch?job=$RJ" "{\"ids\": [\"$C6\"]}"
check "it comes whole" unbatch "$API_BODY" "$C6:c6.bin"
acheck "fetch a chunk the restored point does not name" 403 ChunkNotInRecoveryPoint POST "/api/v1/agent/chunks/fetch?job=$RJ" "{\"ids\": [\"$C1\", \"$C7\"]}"
mv "$(chunk_file "$C5")" c5.aside
acheck "fetch a chunk of the point the vault lacks" 404 ChunkNotFound POST "/api/v1/agent/chunks/fetch?job=$RJ" "{\"ids\": [\"$C1\", \"$C5\"]}"
check "the refusal names it" grep -q "$C5" "$API_BODY"
mv c5.aside "$(chunk_file "$C5")"
acheck "fetch nothing" 400 InvalidParameter POST "/api/v1/agent/chunks/fetch?job=$RJ" '{"ids": []}'
acheck "fetch an id that is not 64 hex digits" 400 InvalidParameter POST "/api/v1/agent/chunks/fetch?job=$RJ" '{"ids": ["abc"]}'
"$PY" -S -c 'import json; print(json.dumps({"ids": ["%064x" % i for i in range(257)]}))' > ids257.json
acheck "fetch more than 256 chunks" 400 InvalidParameter POST "/api/v1/agent/chunks/fetch?job=$RJ" @ids257.json
acheck "fetch with an unknown field" 400 InvalidParameter POST "/api/v1/agent/chunks/fetch?job=$RJ" "{\"ids\": [\"$C1\"], \"all\": true}"
check_api "a user token cannot fetch chunks" 403 AuthorizationFailed POST "/api/v1/agent/chunks/fetch?job=$RJ" "{\"ids\": [\"$C1\"]}"
acheck "one chunk for the restore job" 200 "" GET "/api/v1/agent/chunks/$C1?job=$RJ"
acheck "complete the restore job" 200 "" POST "/api/v1/agent/jobs/$RJ/complete" '{"status": "Completed"}'
acheck "an ended restore job reads nothing" 409 JobAlreadyEnded GET "/api/v1/agent/chunks/$C1?job=$RJ"
rc=0; srv_stop || rc=$?
check "the server exits 0 on SIGTERM" test "$rc" = 0
check "vmvaultd check: consistent (exit 0)" "$VMVAULTD" check --data-dir "$D"

victim=$(chunk_file "$C2")
cp "$victim" victim.bak
"$PY" -S - "$victim" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 0x01; open(p, "wb").write(b)
PY
check_fails "vmvaultd check finds a damaged chunk (exit 3)" 3 "$C2" "$VMVAULTD" check --data-dir "$D"
mv victim.bak "$victim"
mv "$(chunk_file "$C5")" c5.stored
check_fails "vmvaultd check finds a missing chunk (exit 3)" 3 "$C5" "$VMVAULTD" check --data-dir "$D"
mv c5.stored "$(chunk_file "$C5")"
check "repaired, it passes again" "$VMVAULTD" check --data-dir "$D"
ORPHAN=rp-20200101-000000-000-0badc0de
cp -a "$STORE/points/$RP" "$STORE/points/$ORPHAN"
check_fails "vmvaultd check reports a point the catalog does not know (exit 3)" 3 "$ORPHAN" \
    "$VMVAULTD" check --data-dir "$D"
rm -rf "${STORE:?}/points/$ORPHAN"
check "and passes without it" "$VMVAULTD" check --data-dir "$D"
srv_start "$D" || finish
check_api "after all that the point is still there" 200 "" GET /api/v1/vaults/v1/protectedItems/web1/recoveryPoints
check_json "unchanged" 'sorted(p["name"] for p in L) == sorted(["'"$RP"'", "'"$RP2"'"])'
rc=0; srv_stop || rc=$?
check "the server exits 0 on SIGTERM at the end" test "$rc" = 0
finish
