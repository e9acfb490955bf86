#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Regenerate the small seed corpus of the fuzzers (host/fuzz/corpus/).
import os, struct

here = os.path.dirname(os.path.abspath(__file__))

def msg(req, payload=b"", flags=1):
    return struct.pack("<III", req, flags, len(payload)) + payload

def rec(nfds, req, payload=b"", flags=1):
    return bytes([nfds]) + msg(req, payload, flags)

NR = 0x9  # flags: version 1 | NEED_REPLY
u64 = lambda v: struct.pack("<Q", v)
state = lambda i, n: struct.pack("<II", i, n)
GPA = 0x100000

def uml_records():
    out = rec(0, 3) + rec(0, 1) + rec(0, 15) + rec(0, 16, u64(0x228), NR)
    out += rec(1, 21, b"", NR)                      # backend req fd
    out += rec(0, 24, struct.pack("<III", 0, 16, 0) + bytes(16))
    out += rec(0, 2, u64((1 << 32) | 0x7), NR)
    table = struct.pack("<II", 1, 0) + struct.pack("<QQQQ", GPA, 1 << 20, GPA, 0) + bytes(32)
    out += rec(1, 5, table, NR)
    for q in range(3):
        base = GPA + q * 0x2000
        out += rec(1, 13, u64(q), NR)
        out += rec(0, 8, state(q, 16), NR) + rec(0, 10, state(q, 0), NR)
        out += rec(0, 9, struct.pack("<IIQQQQ", q, 0, base, base + 0x1000, base + 0x100, 2**64 - 1), NR)
    for q in range(3):
        out += rec(2, 12, u64(q), NR) + rec(0, 18, state(q, 1), NR)
    out += rec(0, 1) + rec(0, 11, state(0, 0))
    return out

def write(fuzzer, name, data):
    d = os.path.join(here, "corpus", fuzzer)
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, name), "wb").write(data)

write("fuzz_vhost_user", "uml-handshake-records", b"\x01" + uml_records())
stream = msg(3) + msg(1) + msg(15) + msg(16, u64(0x228), NR) + \
    msg(24, struct.pack("<III", 0, 16, 0) + bytes(16)) + msg(2, u64(1 << 32), NR) + \
    msg(8, state(0, 256), NR) + msg(99, b"", NR)
write("fuzz_vhost_user", "uml-handshake-stream", b"\x00" + stream)
write("fuzz_vhost_user", "oversize", b"\x00" + struct.pack("<III", 1, 1, 100000))

# fuzz_virtq: [queue][features][desc table 16*16][avail 6+32][data]
def desc(addr, ln, flags, nxt):
    return struct.pack("<QIHH", addr, ln, flags, nxt)

DATA = GPA + 0x1000
def ring(descs, heads):
    t = b"".join(descs) + bytes(16 * (16 - len(descs)))
    av = struct.pack("<HH", 0, len(heads)) + b"".join(struct.pack("<H", h) for h in heads)
    av += bytes(6 + 32 - len(av))
    return t + av

pfns = b"".join(struct.pack("<I", (GPA >> 12) + 0x20 + i) for i in range(8))
write("fuzz_virtq", "inflate-8-pfns", bytes([0, 0xff]) + ring([desc(DATA, 32, 0, 0)], [0]) + pfns)
write("fuzz_virtq", "deflate-8-pfns", bytes([1, 0xff]) + ring([desc(DATA, 32, 0, 0)], [0]) + pfns)
stats = b"".join(struct.pack("<HQ", t, 1000 * t) for t in range(10))
write("fuzz_virtq", "stats", bytes([2, 0xff]) + ring([desc(DATA, len(stats), 0, 0)], [0]) + stats)
write("fuzz_virtq", "loop", bytes([0, 0xff]) + ring([desc(DATA, 4, 1, 1), desc(DATA, 4, 1, 0)], [0]))
rng = struct.pack("<QII", (GPA >> 12) + 0x40, 16, 0)
write("fuzz_virtq", "ranges", bytes([0, 0xff]) + ring([desc(DATA, 16, 0, 0)], [0]) + rng)
write("fuzz_virtq", "report", bytes([4, 0xff]) + ring([desc(GPA + 0x10000, 0x4000, 2, 0)], [0]))
