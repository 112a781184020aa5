#!/usr/bin/env python3
"""hostile_vault.py: a test server that plays a compromised vault to a real
vmvault-agent (tests/e2e/t0340-hostile-vault.sh).

It speaks the vault's agent API (docs/api.md, "Agents") as far as a restore or a
backup needs: inventory, the job queue, progress, completion, a job's recovery
point and its disks' indexes; for a backup, chunk questions (it claims to hold every
chunk), chunk and index uploads (taken and dropped) and the commit. What it hands
out comes from a scenario file (JSON):

  {"jobs": [{"job": {...the job object, with "id", "operation", "params"...},
             "point": {...the recovery point manifest, or absent...},
             "commit": {...its answer to the backup's commit, or absent...}}, ...]}

Every index it serves is an all-zero disk of the point's virtualSize, so a restore
it lets through writes no chunk and needs no chunk route. Every request and every
job ending is appended, one JSON object per line, to the log file.

usage: hostile_vault.py SCENARIO.json LOG.jsonl PORTFILE
Binds 127.0.0.1 on a free port, writes the port to PORTFILE, serves until killed.
"""
import json
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCENARIO, LOG, PORTFILE = sys.argv[1:4]
with open(SCENARIO) as f:
    JOBS = json.load(f)["jobs"]
QUEUE = list(JOBS)
POINTS = {j["job"]["id"]: j.get("point") for j in JOBS}
COMMITS = {j["job"]["id"]: j.get("commit") for j in JOBS}
LOCK = threading.Lock()


def log(entry):
    with LOCK, open(LOG, "a") as f:
        f.write(json.dumps(entry) + "\n")


def zero_index(size):
    """A version 2 disk index: one zero entry over size bytes (lib/format/index.h)."""
    head = struct.pack("<IIQQII", 2, 256 << 10, size, 1 if size else 0, 64 << 10, 0)
    if not size:
        return head
    return head + struct.pack("<QQII", 0, size, 0, 1) + bytes(32)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the log file has it all
        pass

    def reply(self, status, body=None, ctype="application/json"):
        data = b""
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def do_PUT(self):
        self.body()
        log({"method": "PUT", "path": self.path})
        self.reply(204)

    def do_POST(self):
        b = self.body()
        log({"method": "POST", "path": self.path})
        parts = self.path.split("?")[0].split("/")
        if self.path.endswith("/progress"):
            return self.reply(200, {"cancelRequested": False})
        if self.path.endswith("/complete"):
            log({"complete": "/".join(parts[5:-1]), "body": b})
            return self.reply(200, {})
        path = self.path.split("?")[0]
        if path == "/api/v1/agent/chunks/missing":
            return self.reply(200, {"missing": []})
        if path == "/api/v1/agent/chunks":
            return self.reply(200, {})
        # /api/v1/agent/jobs/<id>/recoveryPoint: the commit, answered from the scenario
        if len(parts) == 7 and parts[6] == "recoveryPoint" and parts[5] in COMMITS:
            return self.reply(201, COMMITS[parts[5]] or {})
        self.reply(404, {"error": {"code": "NotFound", "message": "not here"}})

    def do_GET(self):
        log({"method": "GET", "path": self.path})
        path = self.path.split("?")[0]
        if path == "/api/v1/agent/jobs/next":
            with LOCK:
                job = QUEUE.pop(0)["job"] if QUEUE else None
            return self.reply(200, job) if job else self.reply(204)
        parts = path.split("/")
        # /api/v1/agent/jobs/<id>/recoveryPoint, /api/v1/agent/jobs/<id>/disks/<d>/index
        if len(parts) == 7 and parts[6] == "recoveryPoint" and POINTS.get(parts[5]):
            return self.reply(200, POINTS[parts[5]])
        if len(parts) == 9 and parts[6] == "disks" and parts[8] == "index":
            point = POINTS.get(parts[5]) or {}
            for d in point.get("disks", []):
                if d.get("name") == parts[7]:
                    return self.reply(200, zero_index(d["virtualSize"]),
                                      "application/octet-stream")
        self.reply(404, {"error": {"code": "NotFound", "message": "not here"}})


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(PORTFILE + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(PORTFILE + ".tmp", PORTFILE)
    srv.serve_forever()


if __name__ == "__main__":
    main()
