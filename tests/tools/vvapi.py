#!/usr/bin/env python3
"""vvapi.py: raw REST API work against a vmvault server, for the end-to-end tests.

Python 3 standard library only (plus the `zstd` command for compressed uploads).

  vvapi.py [--url URL] [--token TOKEN | --state FILE] COMMAND ...

  call METHOD PATH [BODY]      any request; prints the JSON answer, exits 1 on an error
                               answer (stderr: "HTTP <status> <code>: <message>")
  index --chunk-size N --virtual-size N --out FILE ENTRY...
                               a serialized disk index (docs/format.md); ENTRY is a
                               chunk id (64 hex), "hole" or "zero". --version, --count,
                               --reserved override header fields to build bad ones.
  gen --seed S --size N --out FILE   deterministic chunk data; prints its SHA-256
  image --seed S --item VM [--disk D] [--chunks N] [--chunk-size N] --out FILE
                               the raw disk that "agent backup --seed S" backs up for
                               disk D (vda) of VM; prints its SHA-256
  sha256 FILE...               the chunk id of each file's content

  Agent commands (the token and host come from the --state file):
  agent register --creds FILE --host NAME [--region R] [--secret S] [--vault-id ID]
                 [--token T]   register with a vault credentials file; writes --state.
                               --token: the host's own agent token (re-keying a
                               registered host)
  agent inventory NAME:UUID[:STATE] ...   report the host's VMs (disk vda, 4 MiB)
  agent claim [--wait N]       claim the next job; prints it; exit 3 when there is none
  agent progress --job ID [--done N --total N] [--task NAME=STATUS ...]
  agent complete --job ID --status S [--error-code C --error-message M]
  agent missing [--job ID] ID ...   the "missing chunks" call; prints the answer
  agent put-chunk [--job ID] --id ID --file FILE [--zstd]
                               --job: the running Backup job that pins the chunks
                               (without it, nothing stays pinned after the call)
  agent put-index --job ID --disk D --file FILE
  agent commit --job ID [--disk D ...]   commit the job's recovery point
  agent backup (--job ID | --next) [--seed S] [--chunks N] [--chunk-size N]
               [--threads T] [--zstd] [--no-complete]
                               what a host agent does for a Backup job: generate
                               the disk's data, ask which chunks are missing, upload
                               them in parallel, upload the index, commit, complete
                               (Cancelled when the server asks). Prints a summary.
  agent restore (--job ID | --next) --out DIR [--batch N] [--no-complete]
                               what a host agent does for a Restore job: read the
                               job's recovery point and each disk's index through the
                               agent routes, fetch the chunks they name in batches
                               (POST /agent/chunks/fetch?job=), check each against its
                               id, write every disk (or the job's "disks") as the
                               sparse raw file DIR/<vm>-<disk>.raw (never over a
                               file), report progress, complete (Cancelled when the
                               server asks; Failed with RestoreFailed, exit 1, when a
                               chunk or index does not check). Prints a summary with
                               each disk's file and SHA-256.
  agent run [--parallel N] [--threads T] [--chunks N] [--seed S] [--wait W]
                               claim and run Backup jobs until none is left
  agent stress --owner-token T --vault V [--parallel N] [--threads T] [--chunks N]
               [--seed S] [--log FILE]
                               until the server stops answering: start backups of
                               every item (as the owner) and run them (as the agent),
                               many chunk uploads and commits at once. Appends to
                               --log "chunk <id>" for every upload and "point <name>"
                               for every commit the server acknowledged.

Exit status: 0 success, 1 an error answer, 3 no job to claim, 5 connection failure.
"""
import argparse
import concurrent.futures
import hashlib
import http.client
import json
import os
import random
import struct
import subprocess
import sys
import threading
import time
import urllib.parse

JSON = "application/json"
OCTETS = "application/octet-stream"


class ApiError(Exception):
    def __init__(self, method, path, status, body):
        self.status = status
        self.body = body
        self.code = "-"
        self.message = body[:300].decode("utf-8", "replace")
        try:
            err = json.loads(body)["error"]
            self.code, self.message = err["code"], err["message"]
        except Exception:
            pass
        super().__init__(f"HTTP {status} {self.code}: {self.message} ({method} {path})")


class Client:
    def __init__(self, url, token=None):
        if not url:
            raise SystemExit("vvapi: no server URL (--url or VMVAULT_URL)")
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.base = u.path.rstrip("/")
        self.token = token

    def request(self, method, path, body=None, ctype=JSON, headers=None):
        """(status, body bytes) of one request on a fresh connection."""
        h = {}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if body is not None:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
            elif isinstance(body, str):
                body = body.encode()
            h["Content-Type"] = ctype
        h.update(headers or {})
        conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        try:
            conn.request(method, self.base + path, body=body, headers=h)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def raw(self, method, path, body=None, ctype=JSON, headers=None):
        """(status, body bytes) of a 2xx request; ApiError else."""
        status, data = self.request(method, path, body, ctype, headers)
        if not 200 <= status < 300:
            raise ApiError(method, path, status, data)
        return status, data

    def call(self, method, path, body=None, ctype=JSON, headers=None):
        """The parsed JSON answer of a 2xx request (None when empty); ApiError else."""
        status, data = self.raw(method, path, body, ctype, headers)
        if status == 204:
            return None
        return json.loads(data) if data.strip() else None


# ---- disk indexes and chunk data -------------------------------------------------

HOLE = b"\x00" * 32
ZERO = b"\xff" * 32


def build_index(chunk_size, virtual_size, entries, version=1, count=None, reserved=0):
    """The serialized disk index (docs/format.md, "Disk index")."""
    if count is None:
        count = -(-virtual_size // chunk_size)
    out = [struct.pack("<IIQQQ", version, chunk_size, virtual_size, count, reserved)]
    for e in entries:
        if isinstance(e, bytes):
            out.append(e)
        elif e == "hole":
            out.append(HOLE)
        elif e == "zero":
            out.append(ZERO)
        else:
            b = bytes.fromhex(e)
            if len(b) != 32:
                raise ValueError(f"not a chunk id: {e}")
            out.append(b)
    return b"".join(out)


def parse_index(data):
    """A serialized disk index (docs/format.md, "Disk index"), version 2 or 1, checked:
    {"version", "chunkSize", "virtualSize", "entries": [(off, len, chunk_off, kind,
    id hex or None)]}, kind "hole", "zero" or "data". ValueError when it does not parse."""
    if len(data) < 32:
        raise ValueError(f"an index of {len(data)} bytes is shorter than its header")
    version, chunk_size, vsize, count = struct.unpack_from("<IIQQ", data, 0)
    entries = []
    if version == 1:
        if count != -(-vsize // chunk_size) or len(data) != 32 + 32 * count:
            raise ValueError("a version 1 index whose count or length does not fit")
        for i in range(count):
            e = data[32 + 32 * i:64 + 32 * i]
            n = min(chunk_size, vsize - i * chunk_size)
            if e == HOLE:
                entries.append((i * chunk_size, n, 0, "hole", None))
            elif e == ZERO:
                entries.append((i * chunk_size, n, 0, "zero", None))
            else:
                entries.append((i * chunk_size, n, 0, "data", e.hex()))
    elif version == 2:
        if len(data) != 32 + 56 * count:
            raise ValueError(f"a version 2 index of {count} entries is {len(data)} bytes")
        pos = 0
        for i in range(count):
            off, n, coff, kind, cid = struct.unpack_from("<QQII32s", data, 32 + 56 * i)
            if off != pos or n == 0 or kind > 2:
                raise ValueError(f"entry {i} (offset {off}, length {n}, kind {kind}) "
                                 "breaks the index")
            if kind == 2 and coff + n > 16 << 20:
                raise ValueError(f"entry {i} reaches past 16 MiB of its chunk")
            entries.append((off, n, coff, ("hole", "zero", "data")[kind],
                            cid.hex() if kind == 2 else None))
            pos = off + n
        if pos != vsize:
            raise ValueError(f"the entries end at {pos}, not at the virtual size {vsize}")
    else:
        raise ValueError(f"index version {version}")
    return {"version": version, "chunkSize": chunk_size, "virtualSize": vsize,
            "entries": entries}


def parse_records(data):
    """The records of a batch upload or fetch answer: [(id hex, encoding, payload)]."""
    out, p = [], 0
    while p < len(data):
        if len(data) - p < 37:
            raise ValueError(f"a record cut short at byte {p}")
        n = struct.unpack_from(">I", data, p + 33)[0]
        if len(data) - p - 37 < n:
            raise ValueError(f"the payload of record {len(out)} is cut short")
        out.append((data[p:p + 32].hex(), data[p + 32], data[p + 37:p + 37 + n]))
        p += 37 + n
    return out


def chunk_data(key, size):
    return random.Random(key).randbytes(size)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def zstd_compress(data):
    return subprocess.run(["zstd", "-q", "-3", "-c"], input=data, stdout=subprocess.PIPE,
                          check=True).stdout


def zstd_decompress(data):
    return subprocess.run(["zstd", "-q", "-d", "-c"], input=data, stdout=subprocess.PIPE,
                          check=True).stdout


# ---- agent -----------------------------------------------------------------------

def load_state(path):
    with open(path) as f:
        return json.load(f)


def save_state(path, st):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(st, f, indent=1)
    os.replace(tmp, path)


def disk_layout(chunks, chunk_size):
    """Kinds of a disk's chunks: every 6th (from 1) a hole, every 6th (from 4) zero,
    the rest data; the last chunk is data and half as long."""
    kinds = []
    for i in range(chunks):
        if i == chunks - 1:
            kinds.append("data")
        elif i % 6 == 1:
            kinds.append("hole")
        elif i % 6 == 4:
            kinds.append("zero")
        else:
            kinds.append("data")
    virtual_size = chunks * chunk_size - chunk_size // 2
    return kinds, virtual_size


def disk_plan(seed, item, disk, chunks, chunk_size):
    """What a played backup with seed writes of disk of VM item: (kinds, virtual size,
    the index entries, {chunk id: data})."""
    kinds, vsize = disk_layout(chunks, chunk_size)
    ids, data = [], {}
    for i, k in enumerate(kinds):
        if k != "data":
            ids.append(k)
            continue
        b = chunk_data(f"{seed}:{item}:{disk}:{i}", min(chunk_size, vsize - i * chunk_size))
        cid = sha256(b)
        ids.append(cid)
        data[cid] = b
    return kinds, vsize, ids, data


def disk_image(seed, item, disk, chunks, chunk_size):
    """The raw disk (bytes) that disk_plan describes: holes and zero chunks read zero."""
    kinds, vsize, ids, data = disk_plan(seed, item, disk, chunks, chunk_size)
    return b"".join(data[c] if k == "data" else b"\0" * min(chunk_size, vsize - i * chunk_size)
                    for i, (k, c) in enumerate(zip(kinds, ids)))


class Cancelled(Exception):
    pass


def agent_backup(cl, st, job, seed, chunks, chunk_size, threads, use_zstd, complete=True):
    """Run one Backup job the way a host agent does. Returns a summary dict."""
    jid = job["id"]
    item = job.get("item") or (job.get("params") or {}).get("vmName")
    vm = st.get("vms", {}).get(item, {"uuid": (job.get("params") or {}).get("vmUuid", ""),
                                       "disks": [{"name": "vda", "source": "/dev/null"}]})
    summary = {"job": jid, "item": item, "uploaded": 0, "disks": []}

    def progress(done, total, tasks):
        a = cl.call("POST", f"/api/v1/agent/jobs/{jid}/progress",
                    {"tasks": tasks, "bytesDone": done, "bytesTotal": total})
        return bool(a and a.get("cancelRequested"))

    try:
        plans = []
        total = 0
        for d in vm["disks"]:
            kinds, vsize, ids, data = disk_plan(seed, item, d["name"], chunks, chunk_size)
            total += sum(min(chunk_size, vsize - i * chunk_size)
                         for i, k in enumerate(kinds) if k == "data")
            plans.append((d, kinds, vsize, ids, data))
        if progress(0, total, [{"name": "Take Snapshot", "status": "Completed"},
                               {"name": "Transfer data to vault", "status": "InProgress"}]):
            raise Cancelled()
        done = 0
        lock = threading.Lock()
        for d, kinds, vsize, ids, data in plans:
            want = list(data)
            missing = []
            for i in range(0, len(want), 10000):
                missing += cl.call("POST", f"/api/v1/agent/chunks/missing?job={jid}",
                                   {"ids": want[i:i + 10000]})["missing"]

            def put(cid):
                body = data[cid]
                hdr = {}
                if use_zstd:
                    body = zstd_compress(body)
                    hdr["Content-Encoding"] = "zstd"
                cl.call("PUT", f"/api/v1/agent/chunks/{cid}?job={jid}", body, OCTETS, hdr)
                return len(data[cid])

            with concurrent.futures.ThreadPoolExecutor(max(1, threads)) as ex:
                for n in ex.map(put, missing):
                    with lock:
                        done += n
                        summary["uploaded"] += 1
            if progress(done, total, [{"name": "Take Snapshot", "status": "Completed"},
                                      {"name": "Transfer data to vault", "status": "InProgress"}]):
                raise Cancelled()
            idx = build_index(chunk_size, vsize, ids)
            cl.call("PUT", f"/api/v1/agent/jobs/{jid}/disks/{d['name']}/index", idx, OCTETS)
            summary["disks"].append({
                "name": d["name"], "virtualSize": vsize, "chunkSize": chunk_size,
                "dataChunks": kinds.count("data"), "zeroChunks": kinds.count("zero"),
                "holeChunks": kinds.count("hole")})
        rp = cl.call("POST", f"/api/v1/agent/jobs/{jid}/recoveryPoint", {
            "consistency": "CrashConsistent", "parent": "",
            "vmName": item, "vmUuid": vm["uuid"],
            "domainXml": f"<domain type='kvm'><name>{item}</name><uuid>{vm['uuid']}</uuid></domain>",
            "disks": [{"name": d["name"], "source": d["source"]} for d in vm["disks"]]})
        summary["recoveryPoint"] = rp
        progress(done, total, [{"name": "Take Snapshot", "status": "Completed"},
                               {"name": "Transfer data to vault", "status": "Completed"}])
        if complete:
            cl.call("POST", f"/api/v1/agent/jobs/{jid}/complete", {"status": "Completed"})
        summary["status"] = "Completed"
    except Cancelled:
        cl.call("POST", f"/api/v1/agent/jobs/{jid}/complete", {"status": "Cancelled"})
        summary["status"] = "Cancelled"
    return summary


class RestoreFailed(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


FETCH_BYTES = 32 << 20  # what one fetch asks for at most (the server's cap is 64 MiB)


def restore_disk(cl, jid, vm, disk, ix, out_dir, batch, tick):
    """Disk disk of a Restore job's point, from its index ix: fetch every chunk it names
    once, check it, write each slice; holes and zero ranges stay holes. The sparse raw
    file out_dir/<vm>-<disk>.raw, made under a temporary name and renamed into place
    without replacing anything. tick(bytes) after each batch: True to cancel."""
    name = disk["name"]
    path = os.path.join(out_dir, f"{vm}-{name}.raw")
    tmp = path + ".partial"
    uses = {}  # chunk id -> [(off, len, chunk_off)], in the index's order
    for off, n, coff, kind, cid in ix["entries"]:
        if kind == "data":
            uses.setdefault(cid, []).append((off, n, coff))
    ids = list(uses)
    need = {cid: max(c + n for _, n, c in u) for cid, u in uses.items()}
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise RestoreFailed("TargetExists", f"{tmp} exists")
    done = 0
    try:
        os.ftruncate(fd, ix["virtualSize"])
        i = 0
        while i < len(ids):
            part, size = [], 0
            while i < len(ids) and len(part) < batch and \
                    (not part or size + need[ids[i]] <= FETCH_BYTES):
                part.append(ids[i])
                size += need[ids[i]]
                i += 1
            body = cl.raw("POST", f"/api/v1/agent/chunks/fetch?job={jid}", {"ids": part})[1]
            try:
                recs = parse_records(body)
            except ValueError as e:
                raise RestoreFailed("RestoreFailed", f"a fetch answer for disk {name}: {e}")
            if [r[0] for r in recs] != part:
                raise RestoreFailed("RestoreFailed", f"a fetch answer for disk {name} does not "
                                    f"hold the {len(part)} chunks asked for, in order")
            n = 0
            for cid, enc, payload in recs:
                if enc == 1:
                    try:
                        plain = zstd_decompress(payload)
                    except subprocess.CalledProcessError:
                        raise RestoreFailed("RestoreFailed", f"chunk {cid} is not a zstd frame")
                elif enc == 2:
                    plain = payload
                else:
                    raise RestoreFailed("RestoreFailed", f"chunk {cid} came with encoding {enc}")
                if sha256(plain) != cid:
                    raise RestoreFailed("RestoreFailed", f"chunk {cid} does not hash to its id")
                if len(plain) < need[cid]:
                    raise RestoreFailed("RestoreFailed", f"chunk {cid} is {len(plain)} bytes, "
                                        f"the index reads {need[cid]}")
                for off, ln, coff in uses[cid]:
                    os.pwrite(fd, plain[coff:coff + ln], off)
                    n += ln
            done += n
            if tick(n):
                raise Cancelled()
        os.fsync(fd)
    except BaseException:
        os.unlink(tmp)
        raise
    finally:
        os.close(fd)
    if os.path.lexists(path):
        os.unlink(tmp)
        raise RestoreFailed("TargetExists", f"{path} exists")
    os.rename(tmp, path)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return {"name": name, "file": path, "virtualSize": ix["virtualSize"],
            "indexVersion": ix["version"], "chunksFetched": len(ids), "bytesWritten": done,
            "sha256": h.hexdigest()}


def agent_restore(cl, job, out_dir, batch, complete=True):
    """Run one Restore job the way a host agent does, through the agent routes: the
    job's point (GET .../recoveryPoint), each disk's index, the chunks they name
    (POST /agent/chunks/fetch?job=), each disk written under out_dir. Returns a
    summary dict."""
    jid = job["id"]
    params = job.get("params") or {}
    summary = {"job": jid, "recoveryPoint": params.get("recoveryPoint"), "disks": []}
    prog = {"done": 0, "total": 0}

    def progress(status, n=0):
        prog["done"] += n
        a = cl.call("POST", f"/api/v1/agent/jobs/{jid}/progress",
                    {"tasks": [{"name": "Transfer data from vault", "status": status}],
                     "bytesDone": prog["done"], "bytesTotal": prog["total"]})
        return bool(a and a.get("cancelRequested"))

    def end(status, code=None, message=None):
        body = {"status": status}
        if code:
            body["error"] = {"code": code, "message": message[:1000]}
            summary["error"] = body["error"]
        cl.call("POST", f"/api/v1/agent/jobs/{jid}/complete", body)

    try:
        if job.get("operation", "Restore") != "Restore":
            raise RestoreFailed("InvalidJobParameters", f"job {jid} is a {job.get('operation')} "
                                "job, not a Restore")
        if progress("InProgress"):
            raise Cancelled()
        point = cl.call("GET", f"/api/v1/agent/jobs/{jid}/recoveryPoint")
        if params.get("recoveryPoint") and point.get("name") != params["recoveryPoint"]:
            raise RestoreFailed("InvalidRecoveryPoint", "the vault sent point "
                                f"{point.get('name')} for a restore of {params['recoveryPoint']}")
        summary["recoveryPoint"] = point.get("name")
        vm = params.get("vmName") or point.get("vmName") or "vm"
        for n in [vm] + [d.get("name") or "" for d in point.get("disks") or []]:
            if not n or "/" in n or n.startswith("."):
                raise RestoreFailed("InvalidRecoveryPoint", f"{n!r} cannot name a file")
        want = params.get("disks")
        disks = [d for d in point.get("disks") or [] if not want or d.get("name") in want]
        if not disks or (want and len(disks) != len(set(want))):
            raise RestoreFailed("InvalidJobParameters", f"the point has disks "
                                f"{[d.get('name') for d in point.get('disks') or []]}, "
                                f"the job asks for {want}")
        plans = []
        for d in disks:
            data = cl.raw("GET", f"/api/v1/agent/jobs/{jid}/disks/{d['name']}/index")[1]
            try:
                ix = parse_index(data)
            except ValueError as e:
                raise RestoreFailed("RestoreFailed", f"the index of disk {d['name']}: {e}")
            if ix["virtualSize"] != d.get("virtualSize"):
                raise RestoreFailed("RestoreFailed", f"the index of disk {d['name']} is "
                                    f"{ix['virtualSize']} bytes, the point says "
                                    f"{d.get('virtualSize')}")
            plans.append((d, ix))
            prog["total"] += sum(e[1] for e in ix["entries"] if e[3] == "data")
        os.makedirs(out_dir, exist_ok=True)
        for d, ix in plans:
            summary["disks"].append(restore_disk(cl, jid, vm, d, ix, out_dir, batch,
                                                 lambda n: progress("InProgress", n)))
        progress("Completed")
        if complete:
            end("Completed")
        summary["status"] = "Completed"
    except Cancelled:
        end("Cancelled")
        summary["status"] = "Cancelled"
    except RestoreFailed as e:
        end("Failed", e.code, str(e))
        summary["status"] = "Failed"
    except ApiError as e:
        try:  # what the real agent does when the vault refuses: the job fails
            end("Failed", "RestoreFailed", f"the vault refused: {e}")
        except Exception:
            pass
        raise
    return summary


def agent_stress(a, cl, st):
    url = f"http://{cl.host}:{cl.port}{cl.base}"
    owner = Client(url, a.owner_token)
    log = open(a.log, "a", buffering=1) if a.log else None
    lock = threading.Lock()
    stop = threading.Event()
    counter = [0]

    def note(line):
        if log:
            with lock:
                log.write(line + "\n")

    def starter():
        items = [i["name"] for i in owner.call("GET", f"/api/v1/vaults/{a.vault}/protectedItems")["value"]]
        while not stop.is_set():
            for name in items:
                try:
                    owner.call("POST", f"/api/v1/vaults/{a.vault}/protectedItems/{name}/backup", {})
                except ApiError as e:
                    if e.code != "OperationInProgress":  # its last backup still runs
                        raise
            stop.wait(0.1)

    class LoggingClient(Client):
        def call(self, method, path, body=None, ctype=JSON, headers=None):
            ans = super().call(method, path, body, ctype, headers)
            if method == "PUT" and path.startswith("/api/v1/agent/chunks/"):
                note("chunk " + path.split("?")[0].rsplit("/", 1)[1])
            elif method == "POST" and path.endswith("/recoveryPoint"):
                note("point " + ans["name"])
            return ans

    lc = LoggingClient(url, cl.token)

    def worker():
        while not stop.is_set():
            try:
                job = lc.call("GET", "/api/v1/agent/jobs/next?wait=1")
            except ApiError as e:
                if e.code != "TooManyPolls":  # a host waits in at most 2 polls at once
                    raise
                stop.wait(0.2)
                continue
            if job is None:
                continue
            with lock:
                counter[0] += 1
                n = counter[0]
            agent_backup(lc, st, job, f"{a.seed}/{n}", a.chunks, a.chunk_size, a.threads,
                         a.zstd)

    errors = []

    def guard(fn):
        def run():
            try:
                fn()
            except Exception as e:  # the server went away, or answered an error
                errors.append(e)
                stop.set()
        return run

    threads = [threading.Thread(target=guard(starter), daemon=True)] + \
        [threading.Thread(target=guard(worker), daemon=True) for _ in range(a.parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    raise errors[0] if errors else SystemExit(0)


def agent_cmd(a, cl):
    c = a.acmd
    if c == "register":
        creds = json.load(open(a.creds))
        url = a.url or creds.get("vaultUrl")
        rc = Client(url, a.token)
        body = {"vaultId": a.vault_id or creds.get("vaultId"),
                "registrationSecret": a.secret or creds.get("registrationSecret"),
                "hostName": a.host, "agentVersion": "0.1.0"}
        if a.region:
            body["region"] = a.region
        ans = rc.call("POST", "/api/v1/agent/register", body)
        st = {"url": url, "token": ans["token"], "host": a.host,
              "vault": ans["vault"]["name"], "vaultId": ans["vault"]["id"], "vms": {}}
        save_state(a.state, st)
        return ans
    st = load_state(a.state)
    if c == "inventory":
        vms, out = {}, []
        for spec in a.vms:
            p = spec.split(":")
            name, uuid, state = p[0], p[1], (p[2] if len(p) > 2 else "running")
            disks = [{"name": "vda", "size": 4194304,
                      "source": f"/var/lib/libvirt/images/{name}.qcow2", "format": "qcow2"}]
            vms[name] = {"uuid": uuid, "disks": disks}
            out.append({"name": name, "uuid": uuid, "state": state, "disks": disks})
        ans = cl.call("PUT", "/api/v1/agent/inventory", {"vms": out})
        st["vms"] = vms
        save_state(a.state, st)
        return ans
    if c == "claim":
        q = f"?wait={a.wait}" if a.wait is not None else ""
        job = cl.call("GET", "/api/v1/agent/jobs/next" + q)
        if job is None:
            sys.exit(3)
        return job
    if c == "progress":
        tasks = []
        for t in a.task or []:
            n, s = t.split("=", 1)
            tasks.append({"name": n, "status": s})
        body = {"tasks": tasks, "bytesDone": a.done, "bytesTotal": a.total}
        return cl.call("POST", f"/api/v1/agent/jobs/{a.job}/progress", body)
    if c == "complete":
        body = {"status": a.status}
        if a.error_code:
            body["error"] = {"code": a.error_code, "message": a.error_message or a.error_code}
        return cl.call("POST", f"/api/v1/agent/jobs/{a.job}/complete", body)
    if c == "missing":
        q = f"?job={a.job}" if a.job else ""
        return cl.call("POST", "/api/v1/agent/chunks/missing" + q, {"ids": a.ids})
    if c == "put-chunk":
        data = open(a.file, "rb").read()
        hdr = {}
        if a.zstd:
            data = zstd_compress(data)
            hdr["Content-Encoding"] = "zstd"
        q = f"?job={a.job}" if a.job else ""
        return cl.call("PUT", f"/api/v1/agent/chunks/{a.id}" + q, data, OCTETS, hdr)
    if c == "put-index":
        return cl.call("PUT", f"/api/v1/agent/jobs/{a.job}/disks/{a.disk}/index",
                       open(a.file, "rb").read(), OCTETS)
    if c == "commit":
        item = a.vm
        vm = st["vms"].get(item, {"uuid": "", "disks": []})
        disks = [{"name": d, "source": f"/var/lib/libvirt/images/{item}-{d}.qcow2"}
                 for d in (a.disk or ["vda"])]
        return cl.call("POST", f"/api/v1/agent/jobs/{a.job}/recoveryPoint", {
            "consistency": a.consistency, "parent": "", "vmName": item,
            "vmUuid": vm["uuid"], "domainXml": f"<domain><name>{item}</name></domain>",
            "disks": disks})
    if c == "backup":
        if a.next:
            job = cl.call("GET", "/api/v1/agent/jobs/next?wait=5")
            if job is None:
                sys.exit(3)
        else:
            job = {"id": a.job, "item": a.item}
        return agent_backup(cl, st, job, a.seed, a.chunks, a.chunk_size, a.threads, a.zstd,
                            complete=not a.no_complete)
    if c == "restore":
        if a.next:
            job = cl.call("GET", "/api/v1/agent/jobs/next?wait=5")
            if job is None:
                sys.exit(3)
        else:
            job = {"id": a.job, "operation": "Restore"}  # its point says the rest
        if a.batch < 1:
            raise SystemExit("vvapi: --batch must be at least 1")
        s = agent_restore(cl, job, a.out, a.batch, complete=not a.no_complete)
        if s["status"] == "Failed":
            print(json.dumps(s))
            sys.exit(1)
        return s
    if c == "stress":
        return agent_stress(a, cl, st)
    if c == "run":
        results = []
        lock = threading.Lock()

        def worker():
            while True:
                try:
                    job = cl.call("GET", f"/api/v1/agent/jobs/next?wait={a.wait}")
                except ApiError as e:
                    if e.code != "TooManyPolls":  # a host waits in at most 2 polls at once
                        raise
                    time.sleep(0.2)
                    continue
                if job is None:
                    return
                if job.get("operation") != "Backup":
                    cl.call("POST", f"/api/v1/agent/jobs/{job['id']}/complete",
                            {"status": "Completed"})
                    continue
                s = agent_backup(cl, st, job, a.seed, a.chunks, a.chunk_size, a.threads,
                                 a.zstd)
                with lock:
                    results.append({"job": s["job"], "status": s["status"],
                                    "recoveryPoint": (s.get("recoveryPoint") or {}).get("name")})

        with concurrent.futures.ThreadPoolExecutor(a.parallel) as ex:
            for f in [ex.submit(worker) for _ in range(a.parallel)]:
                f.result()
        return results
    raise SystemExit(f"vvapi: unknown agent command {c}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default=os.environ.get("VMVAULT_URL"))
    ap.add_argument("--token")
    ap.add_argument("--state", help="agent state file (token, host, VMs)")
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("call")
    p.add_argument("method")
    p.add_argument("path")
    p.add_argument("body", nargs="?")

    p = sub.add_parser("index")
    p.add_argument("--chunk-size", type=int, required=True)
    p.add_argument("--virtual-size", type=int, required=True)
    p.add_argument("--version", type=int, default=1)
    p.add_argument("--count", type=int)
    p.add_argument("--reserved", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("entries", nargs="*")

    p = sub.add_parser("gen")
    p.add_argument("--seed", required=True)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--out", required=True)

    p = sub.add_parser("image")
    p.add_argument("--seed", required=True)
    p.add_argument("--item", required=True)
    p.add_argument("--disk", default="vda")
    p.add_argument("--chunks", type=int, default=12)
    p.add_argument("--chunk-size", type=int, default=65536)
    p.add_argument("--out", required=True)

    p = sub.add_parser("sha256")
    p.add_argument("files", nargs="+")

    p = sub.add_parser("agent")
    asub = p.add_subparsers(dest="acmd", required=True)
    q = asub.add_parser("register")
    q.add_argument("--creds", required=True)
    q.add_argument("--host", required=True)
    q.add_argument("--region")
    q.add_argument("--secret")
    q.add_argument("--vault-id")
    q.add_argument("--token", help="the host's own agent token: re-key a registered host")
    q = asub.add_parser("inventory")
    q.add_argument("vms", nargs="*")
    q = asub.add_parser("claim")
    q.add_argument("--wait", type=int)
    q = asub.add_parser("progress")
    q.add_argument("--job", required=True)
    q.add_argument("--done", type=int, default=0)
    q.add_argument("--total", type=int, default=0)
    q.add_argument("--task", action="append")
    q = asub.add_parser("complete")
    q.add_argument("--job", required=True)
    q.add_argument("--status", required=True)
    q.add_argument("--error-code")
    q.add_argument("--error-message")
    q = asub.add_parser("missing")
    q.add_argument("--job", help="the running Backup job the pins are for")
    q.add_argument("ids", nargs="*")
    q = asub.add_parser("put-chunk")
    q.add_argument("--job", help="the running Backup job the pin is for")
    q.add_argument("--id", required=True)
    q.add_argument("--file", required=True)
    q.add_argument("--zstd", action="store_true")
    q = asub.add_parser("put-index")
    q.add_argument("--job", required=True)
    q.add_argument("--disk", required=True)
    q.add_argument("--file", required=True)
    q = asub.add_parser("commit")
    q.add_argument("--job", required=True)
    q.add_argument("--vm", required=True)
    q.add_argument("--disk", action="append")
    q.add_argument("--consistency", default="CrashConsistent")
    q = asub.add_parser("restore")
    g = q.add_mutually_exclusive_group(required=True)
    g.add_argument("--job", help="a Restore job this host has claimed")
    g.add_argument("--next", action="store_true", help="claim the next job (a Restore)")
    q.add_argument("--out", required=True, help="the folder the disks are written to")
    q.add_argument("--batch", type=int, default=64, help="chunks per fetch (1 to 256)")
    q.add_argument("--no-complete", action="store_true")
    for name in ("backup", "run", "stress"):
        q = asub.add_parser(name)
        q.add_argument("--seed", default="1")
        q.add_argument("--chunks", type=int, default=12)
        q.add_argument("--chunk-size", type=int, default=65536)
        q.add_argument("--threads", type=int, default=4)
        q.add_argument("--zstd", action="store_true")
        if name == "backup":
            g = q.add_mutually_exclusive_group(required=True)
            g.add_argument("--job")
            g.add_argument("--next", action="store_true")
            q.add_argument("--item", help="the job's item, when --job is given")
            q.add_argument("--no-complete", action="store_true")
        else:
            q.add_argument("--parallel", type=int, default=4)
            q.add_argument("--wait", type=int, default=0)
        if name == "stress":
            q.add_argument("--owner-token", required=True)
            q.add_argument("--vault", required=True)
            q.add_argument("--log")

    a = ap.parse_args()
    try:
        if a.cmd == "index":
            idx = build_index(a.chunk_size, a.virtual_size, a.entries, a.version, a.count,
                              a.reserved)
            with open(a.out, "wb") as f:
                f.write(idx)
            return 0
        if a.cmd == "gen":
            b = chunk_data(a.seed, a.size)
            with open(a.out, "wb") as f:
                f.write(b)
            print(sha256(b))
            return 0
        if a.cmd == "image":
            b = disk_image(a.seed, a.item, a.disk, a.chunks, a.chunk_size)
            with open(a.out, "wb") as f:
                f.write(b)
            print(sha256(b))
            return 0
        if a.cmd == "sha256":
            for fn in a.files:
                print(sha256(open(fn, "rb").read()))
            return 0
        token = a.token
        url = a.url
        if a.state and os.path.exists(a.state):
            st = load_state(a.state)
            token = token or st["token"]
            url = url or st["url"]
        if a.cmd == "call":
            body = a.body
            if body is not None and body.startswith("@"):
                body = open(body[1:], "rb").read()
            ans = Client(url, token or os.environ.get("VMVAULT_TOKEN")).call(
                a.method, a.path, body)
        else:
            if a.acmd != "register" and not a.state:
                raise SystemExit("vvapi: agent commands need --state")
            ans = agent_cmd(a, Client(url, token) if a.acmd != "register" else None)
        if ans is not None:
            print(json.dumps(ans))
        return 0
    except ApiError as e:
        print(str(e), file=sys.stderr)
        return 1
    except (ConnectionError, http.client.HTTPException, OSError) as e:
        print(f"connection failed: {e}", file=sys.stderr)
        return 5


if __name__ == "__main__":
    sys.exit(main())
