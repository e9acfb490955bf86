#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Write the seed corpora of every fuzzer (host/fuzz/corpus/NAME); regression
inputs (regress-*) are kept there by hand.

    hardening/fuzz-seeds.py [TOP]

Seeds are small inputs in the harnesses' formats (see the comments at the
top of host/fuzz/fuzz_*.c): UML's vhost-user handshake as a byte stream and
as fd-carrying records, rings behind each balloon queue, and for
fuzz_balloon and fuzz_control one program per request kind, so a short run
starts from inputs that reach every handler.
"""
import os
import struct
import sys

TOP = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
RAM_BASE_PFN = 0x10000 >> 12
STD = 0x3F                      # MUST_TELL_HOST .. PAGE_REPORTING
RANGES = 1 << 20
CONT = 1 << 21
Q_INFL, Q_DEFL, Q_STATS, Q_HINT, Q_REPORT = range(5)


def pfns(offsets, mode=0):
    return b"".join(bytes([mode]) + struct.pack("<I", o) for o in offsets)


def chain(q, segs, flags=0):
    """segs: list of (kind, lenbyte, payload)."""
    out = bytes([0, q, len(segs) - 1, flags])
    for kind, lenbyte, payload in segs:
        out += bytes([kind, lenbyte]) + payload
    return out


def prog(features, ops, sel=0, extra=b""):
    return bytes([sel]) + extra + struct.pack("<I", features) + b"".join(ops)


INFO = bytes([10])
balloon = {
    "inflate-pfns": prog(STD, [chain(Q_INFL, [(0, 7, pfns(range(16, 24)))]), INFO]),
    "inflate-deflate": prog(STD, [chain(Q_INFL, [(0, 3, pfns([40, 41, 42, 43]))]),
                                  chain(Q_DEFL, [(0, 3, pfns([40, 41, 42, 43]))]), INFO]),
    "inflate-edges": prog(STD, [chain(Q_INFL, [(0, 3, pfns([0, 255, 0, 300], 2))])]),
    "inflate-outside": prog(STD, [chain(Q_INFL, [(0, 1, pfns([0xFFFFFFFF, 1], 3))])]),
    "ranges": prog(STD | RANGES, [chain(Q_INFL, [(1, 7, bytes([3]) + pfns([32]) +
                                                  bytes([0x89]) + pfns([64]))]),
                                  chain(Q_DEFL, [(1, 3, bytes([3]) + pfns([32]))])]),
    "ranges-huge": prog(STD | RANGES | CONT, [chain(Q_INFL, [(1, 3, bytes([0x80]) + pfns([16]) +
                                                              struct.pack("<I", 0xFFFFFFFF))])],
                        sel=4, extra=bytes([9])),
    "stats": prog(STD, [bytes([9]), chain(Q_STATS, [(2, 29, b"".join(
        bytes([t]) + struct.pack("<Q", v) for t, v in
        [(4, 1 << 28), (5, 1 << 29), (6, 1 << 28), (0, 1), (19, 7), (15, 2 ** 64 - 1)]))]), INFO]),
    "hint-round": prog(STD, [bytes([8, 0]),
                             chain(Q_HINT, [(3, 0, struct.pack("<I", 2))]),
                             chain(Q_HINT, [(0x10, 255, b"")]),
                             chain(Q_HINT, [(3, 0, struct.pack("<I", 0))]),
                             bytes([8, 1]), bytes([8, 2]), INFO], sel=1),
    "reporting": prog(STD, [chain(Q_REPORT, [(0x10, 255, b""), (0x10, 255, b"")]), INFO]),
    "poison": prog(STD, [chain(Q_INFL, [(0, 3, pfns([50, 51, 52, 53]))])], sel=0x20,
                   extra=b"") [:1] + struct.pack("<I", STD) + struct.pack("<I", 0xAA) +
               chain(Q_INFL, [(0, 3, pfns([50, 51, 52, 53]))]),
    "loop": prog(STD, [chain(Q_INFL, [(0, 1, pfns([20])), (0, 1, pfns([21]))], flags=1)]),
    "absurd-idx": prog(STD, [chain(Q_DEFL, [(0, 1, pfns([20]))], flags=8) + b"\xff\x7f"]),
    "target-reload": prog(STD, [bytes([7, 0, 0x10, 0]), chain(Q_INFL, [(0, 3, pfns([60, 61, 62, 63]))]),
                                bytes([11]), chain(Q_DEFL, [(0, 3, pfns([60, 61]))]),
                                bytes([5, 4, 4, 0x10, 0, 0, 0]), bytes([6, 0, 8])]),
}

cmds = [
    '{"execute":"query-balloon"}',
    '{"execute":"balloon","arguments":{"value":2097152,"guest":"alpha"}}',
    '{"execute":"balloon","arguments":{"value":-1}}',
    '{"execute":"query-balloon","arguments":{"guest":"beta"}}',
    '{"execute":"qom-get","arguments":{"path":"/machine/peripheral-anon/device[0]","property":"guest-stats"}}',
    '{"execute":"qom-set","arguments":{"path":"alpha","property":"guest-stats-polling-interval","value":2}}',
    '{"execute":"x-vb-query","arguments":{"guest":"alpha"}}',
    '{"execute":"x-vb-list"}',
    '{"execute":"x-vb-hint-start","arguments":{"guest":"alpha"}}',
    '{"execute":"x-vb-hint-status","arguments":{"guest":"alpha"}}',
    '{"execute":"x-vb-hint-ranges","arguments":{"guest":"alpha"}}',
    '{"execute":"x-vb-hint-stop","arguments":{"guest":"alpha"}}',
    '{"execute":"x-vb-hint-done","arguments":{"guest":"alpha"}}',
    '{"execute":"x-vb-stats-request","arguments":{"guest":"alpha"}}',
    '{"execute":"query-commands","id":{"a":[1,2,3]}}',
    '{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}',
    '{"execute":"nope"}', '[1,2,3]', '{"execute":7}', '{"arguments":{}}',
    '{"execute":"balloon","arguments":{"value":1e400}}',
    '{"execute":"balloon","arguments":{"value":"1G"}}',
]
control = {}
for i, c in enumerate(cmds):
    control["exec-%02d" % i] = b"\x00" + c.encode()
stream = "\n".join(['{"execute":"qmp_capabilities"}'] + cmds).encode() + b"\n"
control["stream-whole"] = b"\x01\x00" + stream
control["stream-chunks"] = b"\x01\x01" + stream
control["stream-vanish"] = b"\x01\x81" + stream
control["stream-no-caps"] = b"\x01\x00" + b'{"execute":"query-balloon"}\n'
control["stream-garbage"] = b"\x01\x02" + b'{"execute":"qmp_capabilities"}\n}}}{\n{"execute"\n:"x-vb-list"}\n\xff\xfe\n'
control["stream-deep"] = b"\x01\x00" + b"[" * 40 + b"]" * 40 + b"\n"
control["stream-long"] = b"\x01\x3f" + b'{"execute":"' + b"a" * 70000 + b'"}\n'
# Raw bytes the control socket must frame and refuse as QEMU does (CRLF,
# braces inside strings, stray bytes, invalid UTF-8, unknown members), and
# (first byte 0x03: HEAD 0 BODY 0 TAIL, BODY repeated) a text over the limit.
CAPS = b'{"execute":"qmp_capabilities"}'
control["stream-crlf-framing"] = b"\x01\x00" + CAPS + \
    b'{"execute":"query-status","id":1}\r\n{"execute":"query-version"}\r\n'
control["stream-brace-in-string"] = b"\x01\x01" + CAPS + \
    b'{"execute":"query-balloon","id":"}{\\"["}' + \
    b'{"execute":"qom-list","arguments":{"path":"/machine/peripheral"}}'
control["stream-invalid-utf8"] = b"\x01\x00" + CAPS + b"".join(
    b'{"execute":"query-status","id":"' + s + b'"}'
    for s in (b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf", b"\xc3\xa9\xf0\x9f\x98\x80"))
control["stream-stray-bytes"] = b"\x01\x00" + CAPS + \
    b'}{"execute":"query-status"}garbage\n5 "str" null ]]{"execute":"query-status","id":9}'
control["stream-unknown-members"] = b"\x01\x00" + CAPS + \
    b'{"execute":"query-status","foo":1}' + \
    b'{"execute":"balloon","arguments":{"value":1,"x":2}}{"id":null}'
control["stream-oversize-string"] = b"\x03\x00" + CAPS + \
    b'{"execute":"query-status","id":"\x00' + b"a" * 4096 + \
    b'\x00"}{"execute":"query-status","id":2}'
for name, c in [
        ("qom-discovery", '{"execute":"qom-list","arguments":{"path":"/machine/peripheral/alpha"}}'),
        ("qom-get-type", '{"execute":"qom-get","arguments":{"path":"alpha","property":"type"}}'),
        ("id-null", '{"execute":"query-balloon","id":null,"arguments":{"guest":"beta"}}'),
        ("balloon-2p63", '{"execute":"balloon","arguments":'
                         '{"value":9223372036854775808,"guest":"alpha"}}'),
        ("caps-args", '{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}')]:
    control["exec-" + name] = b"\x00" + c.encode()

# ---- fuzz_vhost_user and fuzz_virtq ----
# vhost-user requests and flags by number (include/vhost_user_wire.h).
GET_FEATURES, SET_FEATURES, SET_OWNER, SET_MEM_TABLE = 1, 2, 3, 5
SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE = 8, 9, 10, 11
SET_VRING_KICK, SET_VRING_CALL = 12, 13
GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, SET_VRING_ENABLE = 15, 16, 18
SET_BACKEND_REQ_FD, GET_CONFIG = 21, 24
VERSION = 0x1
NR = 0x9                        # version 1 | NEED_REPLY
GPA = 0x100000


def msg(req, payload=b"", flags=VERSION):
    return struct.pack("<III", req, flags, len(payload)) + payload


def rec(nfds, req, payload=b"", flags=VERSION):
    return bytes([nfds]) + msg(req, payload, flags)


def u64(v):
    return struct.pack("<Q", v)


def state(i, n):
    return struct.pack("<II", i, n)


def uml_records():
    out = rec(0, SET_OWNER) + rec(0, GET_FEATURES) + rec(0, GET_PROTOCOL_FEATURES)
    out += rec(0, SET_PROTOCOL_FEATURES, u64(0x228), NR)
    out += rec(1, SET_BACKEND_REQ_FD, b"", NR)
    out += rec(0, GET_CONFIG, struct.pack("<III", 0, 16, 0) + bytes(16))
    out += rec(0, SET_FEATURES, u64((1 << 32) | 0x7), NR)
    table = struct.pack("<II", 1, 0) + struct.pack("<QQQQ", GPA, 1 << 20, GPA, 0) + bytes(32)
    out += rec(1, SET_MEM_TABLE, table, NR)
    for q in range(3):
        base = GPA + q * 0x2000
        out += rec(1, SET_VRING_CALL, u64(q), NR)
        out += rec(0, SET_VRING_NUM, state(q, 16), NR) + rec(0, SET_VRING_BASE, state(q, 0), NR)
        out += rec(0, SET_VRING_ADDR, struct.pack("<IIQQQQ", q, 0, base, base + 0x1000,
                                                  base + 0x100, 2**64 - 1), NR)
    for q in range(3):
        out += rec(2, SET_VRING_KICK, u64(q), NR) + rec(0, SET_VRING_ENABLE, state(q, 1), NR)
    out += rec(0, GET_FEATURES) + rec(0, GET_VRING_BASE, state(0, 0))
    return out


stream = msg(SET_OWNER) + msg(GET_FEATURES) + msg(GET_PROTOCOL_FEATURES) + \
    msg(SET_PROTOCOL_FEATURES, u64(0x228), NR) + \
    msg(GET_CONFIG, struct.pack("<III", 0, 16, 0) + bytes(16)) + \
    msg(SET_FEATURES, u64(1 << 32), NR) + msg(SET_VRING_NUM, state(0, 256), NR) + msg(99, b"", NR)
vhost_user = {
    "uml-handshake-records": b"\x01" + uml_records(),
    "uml-handshake-stream": b"\x00" + stream,
    "oversize": b"\x00" + struct.pack("<III", GET_FEATURES, VERSION, 100000),
}


# fuzz_virtq: [queue][features][desc table 16*16][avail 6+32][data]
def desc(addr, ln, flags, nxt):
    return struct.pack("<QIHH", addr, ln, flags, nxt)


DATA = GPA + 0x1000


def ring(descs, heads):
    t = b"".join(descs) + bytes(16 * (16 - len(descs)))
    av = struct.pack("<HH", 0, len(heads)) + b"".join(struct.pack("<H", h) for h in heads)
    av += bytes(6 + 32 - len(av))
    return t + av


ring_pfns = b"".join(struct.pack("<I", (GPA >> 12) + 0x20 + i) for i in range(8))
ring_stats = b"".join(struct.pack("<HQ", t, 1000 * t) for t in range(10))
virtq = {
    "inflate-8-pfns": bytes([0, 0xff]) + ring([desc(DATA, 32, 0, 0)], [0]) + ring_pfns,
    "deflate-8-pfns": bytes([1, 0xff]) + ring([desc(DATA, 32, 0, 0)], [0]) + ring_pfns,
    "stats": bytes([2, 0xff]) + ring([desc(DATA, len(ring_stats), 0, 0)], [0]) + ring_stats,
    "loop": bytes([0, 0xff]) + ring([desc(DATA, 4, 1, 1), desc(DATA, 4, 1, 0)], [0]),
    "ranges": bytes([0, 0xff]) + ring([desc(DATA, 16, 0, 0)], [0]) +
    struct.pack("<QII", (GPA >> 12) + 0x40, 16, 0),
    "report": bytes([4, 0xff]) + ring([desc(GPA + 0x10000, 0x4000, 2, 0)], [0]),
}


for name, seeds in (("fuzz_vhost_user", vhost_user), ("fuzz_virtq", virtq),
                    ("fuzz_balloon", balloon), ("fuzz_control", control)):
    d = os.path.join(TOP, "host", "fuzz", "corpus", name)
    os.makedirs(d, exist_ok=True)
    for k, v in seeds.items():
        with open(os.path.join(d, k), "wb") as f:
            f.write(v)
    print("%s: %d seeds in %s" % (name, len(seeds), d))
