#!/usr/bin/env python3
"""edgeprobe.py: raw-socket probes of the vault server's edge, for tests/e2e/t0800-edge.sh.

Python 3 standard library only. Each command prints one JSON object on stdout; the
test decides what passes. Every wait is bounded; every socket is closed at exit.

  edgeprobe.py [--tls] --url http://127.0.0.1:PORT COMMAND ...

  early METHOD PATH LENGTH [--token T] [--send N] [--wait S]
        send the headers of a request whose Content-Length is LENGTH, then up to N
        bytes of its body (default 0) while no answer has come, and wait up to S
        seconds (default 5) for the answer: {"status", "seconds", "sent"}
  upload METHOD PATH LENGTH [--token T] [--wait S]
        the same, sending the whole body as fast as the server takes it, stopping at
        the first byte of an answer: {"status", "seconds", "sent"}
  hold METHOD PATH LENGTH --token T --send N --ready FILE [--max S]
        send the headers and N bytes of the body, then touch FILE and keep the request
        open (no answer expected) until killed or S seconds (default 60) pass
  idle --count N --sources A.B.C.D-E [--token T] [--keep S]
        open N connections spread over the loopback source addresses A.B.C.D..E, send
        nothing on them, then time GET /api/v1/health and (with --token) GET
        /api/v1/whoami on fresh connections, and count how many of the N the server
        still holds: {"opened", "refused", "health_status", "health_seconds",
        "whoami_status", "whoami_seconds", "still_open"}
  per-address --count N --source A.B.C.D
        open N connections from one address, then one more: {"opened", "first_open",
        "extra_closed", "extra_seconds"}; first_open counts the N still open after it
  slowloris [--interval S] [--max S]
        send the headers of GET /api/v1/health one byte every S seconds (default 1)
        and time how long the server lets it go on (at most --max, default 60):
        {"closed", "seconds", "bytes"}
  silent [--max S]
        open a connection and send nothing: {"closed", "seconds"}
"""
import argparse
import json
import resource
import select
import socket
import ssl
import sys
import time
import urllib.parse


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Target:
    def __init__(self, url, tls):
        u = urllib.parse.urlsplit(url)
        self.host = u.hostname
        self.port = u.port or (443 if u.scheme == "https" else 80)
        self.tls = tls or u.scheme == "https"
        self.ctx = None
        if self.tls:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            self.ctx.check_hostname = False
            self.ctx.verify_mode = ssl.CERT_NONE

    def connect(self, source=None, handshake=True, timeout=5.0):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout)
        if source:
            s.bind((source, 0))
        s.connect((self.host, self.port))
        if self.tls and handshake:
            s = self.ctx.wrap_socket(s, server_hostname=self.host)
        return s


def head_bytes(t, method, path, length, token, extra=()):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s:%d" % (t.host, t.port)]
    if token:
        lines.append("Authorization: Bearer " + token)
    if length is not None:
        lines.append("Content-Length: %d" % length)
        lines.append("Content-Type: application/octet-stream")
    lines.extend(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def status_of(data):
    """The status code of the answer's first line, or 0."""
    try:
        return int(data.split(b"\r\n", 1)[0].split(b" ")[1])
    except (IndexError, ValueError):
        return 0


def ready(s, wait, events=select.POLLIN):
    """The poll events of s within wait seconds (poll: descriptors past 1024 are fine)."""
    p = select.poll()
    p.register(s, events)
    got = p.poll(int(wait * 1000))
    return got[0][1] if got else 0


def readable(s, wait):
    if isinstance(s, ssl.SSLSocket) and s.pending():
        return True
    return bool(ready(s, wait))


def read_answer(s, deadline):
    """The first bytes of the answer (up to its blank line), b"" when none came."""
    data = b""
    while time.monotonic() < deadline and b"\r\n\r\n" not in data:
        if not readable(s, max(0.0, deadline - time.monotonic())):
            break
        try:
            got = s.recv(65536)
        except (OSError, ssl.SSLError):
            break
        if not got:
            break
        data += got
    return data


def send_body(s, t0, want, wait, stop_on_answer):
    """Send up to want bytes of body while no answer is readable: (sent, answer)."""
    piece = b"\0" * (1 << 20)
    sent = 0
    s.setblocking(False)
    deadline = t0 + wait
    while sent < want and time.monotonic() < deadline:
        ev = ready(s, max(0.0, deadline - time.monotonic()), select.POLLIN | select.POLLOUT)
        if ev & (select.POLLIN | select.POLLHUP | select.POLLERR) and stop_on_answer:
            break
        if not ev & select.POLLOUT:
            continue
        try:
            sent += s.send(piece[: min(len(piece), want - sent)])
        except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            continue
        except OSError:
            break
    s.setblocking(True)
    s.settimeout(max(0.1, deadline - time.monotonic()))
    return sent, read_answer(s, deadline)


def cmd_early(t, a, whole):
    t0 = time.monotonic()
    s = t.connect()
    s.sendall(head_bytes(t, a.method, a.path, a.length, a.token))
    want = a.length if whole else a.send
    sent, ans = send_body(s, t0, want, a.wait, True) if want else (0, read_answer(s, t0 + a.wait))
    s.close()
    return {"status": status_of(ans), "seconds": round(time.monotonic() - t0, 3), "sent": sent}


def cmd_hold(t, a):
    s = t.connect()
    s.sendall(head_bytes(t, a.method, a.path, a.length, a.token))
    if a.send:
        s.sendall(b"\0" * a.send)
    open(a.ready, "w").close()
    ans = read_answer(s, time.monotonic() + a.max)
    s.close()
    return {"status": status_of(ans)}


def sources(spec):
    base, last = spec.rsplit("-", 1)
    prefix, first = base.rsplit(".", 1)
    last = last.rsplit(".", 1)[-1]
    return ["%s.%d" % (prefix, i) for i in range(int(first), int(last) + 1)]


def still_open(socks):
    """How many of socks the server has not closed (no EOF, no reset, nothing to read)."""
    n = 0
    for s in socks:
        try:
            if not ready(s, 0):
                n += 1
        except (OSError, ValueError):
            pass
    return n


def timed_get(t, path, token, wait=10.0):
    t0 = time.monotonic()
    try:
        s = t.connect(timeout=wait)
        s.sendall(head_bytes(t, "GET", path, None, token, ["Connection: close"]))
        ans = read_answer(s, t0 + wait)
        s.close()
    except OSError:
        ans = b""
    return status_of(ans), round(time.monotonic() - t0, 3)


def cmd_idle(t, a):
    raise_nofile()
    addrs = sources(a.sources)
    socks, refused = [], 0
    for i in range(a.count):
        try:
            socks.append(t.connect(addrs[i % len(addrs)], handshake=False))
        except OSError:
            refused += 1
    time.sleep(0.5)
    out = {"opened": len(socks), "refused": refused}
    out["health_status"], out["health_seconds"] = timed_get(t, "/api/v1/health", None)
    if a.token:
        out["whoami_status"], out["whoami_seconds"] = timed_get(t, "/api/v1/whoami", a.token)
    out["still_open"] = still_open(socks)
    for s in socks:
        s.close()
    return out


def cmd_per_address(t, a):
    raise_nofile()
    socks = [t.connect(a.source, handshake=False) for _ in range(a.count)]
    time.sleep(0.3)
    t0 = time.monotonic()
    extra = t.connect(a.source, handshake=False)
    closed = False
    if readable(extra, 3.0):
        try:
            closed = extra.recv(1) == b""
        except OSError:
            closed = True
    out = {"opened": len(socks), "extra_closed": closed,
           "extra_seconds": round(time.monotonic() - t0, 3), "first_open": still_open(socks)}
    for s in socks + [extra]:
        s.close()
    return out


def wait_closed(s, t0, limit):
    """Seconds until the server closes s (EOF or reset), or None within limit."""
    while time.monotonic() - t0 < limit:
        if readable(s, 0.2):
            try:
                if s.recv(4096) == b"":
                    return time.monotonic() - t0
            except (OSError, ssl.SSLError):
                return time.monotonic() - t0
    return None


def cmd_slowloris(t, a):
    t0 = time.monotonic()
    s = t.connect()
    msg = head_bytes(t, "GET", "/api/v1/health", None, None, ["X-Slow: " + "a" * 4000])
    sent = 0
    while sent < len(msg) - 4 and time.monotonic() - t0 < a.max:
        try:
            s.sendall(msg[sent : sent + 1])
        except (OSError, ssl.SSLError):
            break
        sent += 1
        if wait_closed(s, time.monotonic(), a.interval) is not None:
            break
    closed = wait_closed(s, time.monotonic(), 0.5) is not None or sent < len(msg) - 4
    s.close()
    return {"closed": closed and time.monotonic() - t0 < a.max,
            "seconds": round(time.monotonic() - t0, 3), "bytes": sent}


def cmd_silent(t, a):
    t0 = time.monotonic()
    s = t.connect(handshake=False)
    secs = wait_closed(s, t0, a.max)
    s.close()
    return {"closed": secs is not None, "seconds": round(secs if secs is not None else a.max, 3)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("--tls", action="store_true")
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("early", "upload", "hold"):
        q = sub.add_parser(name)
        q.add_argument("method")
        q.add_argument("path")
        q.add_argument("length", type=int)
        q.add_argument("--token")
        q.add_argument("--send", type=int, default=0)
        q.add_argument("--wait", type=float, default=5.0)
        q.add_argument("--ready")
        q.add_argument("--max", type=float, default=60.0)
    q = sub.add_parser("idle")
    q.add_argument("--count", type=int, required=True)
    q.add_argument("--sources", required=True)
    q.add_argument("--token")
    q = sub.add_parser("per-address")
    q.add_argument("--count", type=int, required=True)
    q.add_argument("--source", required=True)
    q = sub.add_parser("slowloris")
    q.add_argument("--interval", type=float, default=1.0)
    q.add_argument("--max", type=float, default=60.0)
    q = sub.add_parser("silent")
    q.add_argument("--max", type=float, default=60.0)
    a = p.parse_args()
    t = Target(a.url, a.tls)
    if a.cmd in ("early", "upload"):
        out = cmd_early(t, a, a.cmd == "upload")
    elif a.cmd == "hold":
        out = cmd_hold(t, a)
    elif a.cmd == "idle":
        out = cmd_idle(t, a)
    elif a.cmd == "per-address":
        out = cmd_per_address(t, a)
    elif a.cmd == "slowloris":
        out = cmd_slowloris(t, a)
    else:
        out = cmd_silent(t, a)
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
