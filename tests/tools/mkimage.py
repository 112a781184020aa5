#!/usr/bin/env python3
"""Deterministic test disk images for the end-to-end tests.

  mkimage.py create IMG --size 3G --seed 1 [--allocated-mb 400]
      A sparse raw image: scattered regions of random data, text, data repeated
      elsewhere in the image (dedup), regions written with zeros (allocated but
      zero), and holes everywhere else.
  mkimage.py mutate IMG --percent 1 --seed 2 --extents-out FILE
      Overwrite about PERCENT % of the allocated bytes in scattered writes of
      4 KiB to 64 KiB (as a guest's writes land), write one new region into a
      hole and zero one allocated region; FILE gets the changed 'OFFSET LENGTH'
      extents, as a dirty bitmap would report them.
"""
import argparse
import os
import random
import sys

MiB = 1 << 20


def parse_size(s):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    s = s.strip().upper().rstrip("B").rstrip("I")
    if s and s[-1] in units:
        return int(s[:-1]) * units[s[-1]]
    return int(s)


_POOL = None


def text_block(rng, n):
    """Log-like text: a rotation of a shared line pool, cut differently per call."""
    global _POOL
    if _POOL is None:
        _POOL = _make_pool(random.Random(12345), 1 << 20)
    start = rng.randrange(0, len(_POOL))
    out = bytearray()
    stamp = rng.randrange(0, 10 ** 8)
    while len(out) < n:
        out += b"%08d " % stamp + _POOL[start:start + 65536]
        start = (start + 65536 + rng.randrange(0, 4096)) % len(_POOL)
        stamp += 1
    return bytes(out[:n])


def _make_pool(rng, n):
    words = ["backup", "vault", "disk", "chunk", "index", "kernel", "error", "ok",
             "request", "GET", "/api/v1/items", "200", "404", "user", "session"]
    out = bytearray()
    i = 0
    while len(out) < n:
        line = "%08d %s\n" % (i, " ".join(rng.choice(words) for _ in range(rng.randint(4, 14))))
        out += line.encode()
        i += 1
    return bytes(out[:n])


def data_extents(fd, size):
    off, out = 0, []
    while off < size:
        try:
            d = os.lseek(fd, off, os.SEEK_DATA)
        except OSError:
            break
        h = os.lseek(fd, d, os.SEEK_HOLE)
        out.append((d, h - d))
        off = h
    return out


def create(args):
    size = parse_size(args.size)
    rng = random.Random(args.seed)
    budget = args.allocated_mb * MiB
    fd = os.open(args.img, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.ftruncate(fd, size)
    written = []
    used = 0
    slots = size // (16 * MiB)
    order = list(range(1, slots))  # slot 0 stays a hole: the disk starts sparse
    rng.shuffle(order)
    for slot in order:
        if used >= budget:
            break
        base = slot * 16 * MiB + rng.randrange(0, 8) * 4096 * 7  # not always chunk aligned
        n = min(rng.randint(1, 8) * MiB + rng.randrange(0, 64) * 1024, budget - used)
        kind = rng.choice(["random", "random", "text", "text", "zero", "dup"])
        if kind == "random":
            data = rng.randbytes(n)
        elif kind == "text":
            data = text_block(rng, n)
        elif kind == "zero":
            data = bytes(n)
        else:
            if not written:
                continue
            src_off, src_len = rng.choice(written)
            n = min(n, src_len)
            # same bytes at the same alignment within a chunk: dedups at any chunk size
            rfd = os.open(args.img, os.O_RDONLY)
            data = os.pread(rfd, n, src_off)
            os.close(rfd)
            base = (slot * 16 * MiB) + (src_off % (16 * MiB))
        if base + n > size:
            continue
        os.pwrite(fd, data, base)
        if kind != "zero":
            written.append((base, n))
        used += n
    # the very last bytes of the disk are allocated too (a partial last chunk)
    tail = text_block(rng, 5000)
    os.pwrite(fd, tail, size - len(tail))
    os.fsync(fd)
    os.close(fd)


def mutate(args):
    rng = random.Random(args.seed)
    fd = os.open(args.img, os.O_RDWR)
    size = os.fstat(fd).st_size
    exts = data_extents(fd, size)
    allocated = sum(l for _, l in exts)
    target = allocated * args.percent // 100
    changed = []
    done = 0
    while done < target:
        off, ln = rng.choice(exts)
        n = rng.choice([4096, 8192, 16384, 32768, 65536])
        if ln < n:
            continue
        o = off + rng.randrange(0, (ln - n) // 4096 + 1) * 4096
        os.pwrite(fd, rng.randbytes(n), o)
        changed.append((o, n))
        done += n
    # new data where there was a hole (the guest allocated a block)
    hole = 16 * MiB * 0 + 5 * MiB
    os.pwrite(fd, rng.randbytes(300 * 1024), hole)
    changed.append((hole, 300 * 1024))
    # an allocated region overwritten with zeros
    off, ln = exts[len(exts) // 2]
    n = min(ln, 1 * MiB)
    os.pwrite(fd, bytes(n), off)
    changed.append((off, n))
    os.fsync(fd)
    os.close(fd)
    with open(args.extents_out, "w") as f:
        f.write("# offset length\n")
        for o, n in changed:
            f.write("%d %d\n" % (o, n))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("create")
    c.add_argument("img")
    c.add_argument("--size", default="3G")
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--allocated-mb", type=int, default=400)
    m = sub.add_parser("mutate")
    m.add_argument("img")
    m.add_argument("--percent", type=int, default=1)
    m.add_argument("--seed", type=int, default=2)
    m.add_argument("--extents-out", required=True)
    args = p.parse_args()
    (create if args.cmd == "create" else mutate)(args)


if __name__ == "__main__":
    sys.exit(main())
