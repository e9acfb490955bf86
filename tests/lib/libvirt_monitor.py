#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A QMP client framed as libvirt's monitor (src/qemu/qemu_monitor_json.c).

    libvirt_monitor.py SOCKET OUT.json

libvirt writes each command as compact JSON with an id "libvirt-N" and
CRLF, and splits what it reads on CRLF only: a message not ended by CRLF
is never seen.  This client does the same, then runs libvirt's balloon
discovery: qom-list /machine/peripheral for the child<virtio-balloon-pci>
named after the device alias (balloon0), qom-set of its
guest-stats-polling-interval, qom-get of guest-stats, query-balloon.
OUT.json maps each step to the exact bytes received (latin-1), for a
byte-for-byte comparison.  Exit 1 when a reply never completes or the
discovery fails.
"""
import json
import socket
import sys

ALIAS, MODEL = "balloon0", "virtio-balloon-pci"


class Monitor:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(30)
        self.s.connect(path)
        self.buf = b""
        self.n = 0
        self.raw = {}

    def message(self):
        while b"\r\n" not in self.buf:
            data = self.s.recv(65536)
            if not data:
                raise EOFError("connection closed in the middle of a message")
            self.buf += data
        msg, self.buf = self.buf.split(b"\r\n", 1)
        return msg + b"\r\n"

    def command(self, cmd, args=None):
        self.n += 1
        ident = f"libvirt-{self.n}"
        req = {"execute": cmd}
        if args is not None:
            req["arguments"] = args
        req["id"] = ident
        self.s.sendall(json.dumps(req, separators=(",", ":")).encode() + b"\r\n")
        while True:
            raw = self.message()
            reply = json.loads(raw)
            if "event" not in reply:
                break
        if reply.get("id") != ident:
            raise ValueError(f"reply to {ident} carries id {reply.get('id')!r}")
        self.raw[ident] = raw.decode("latin-1")
        return reply


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    mon = Monitor(sys.argv[1])
    mon.raw["greeting"] = mon.message().decode("latin-1")
    assert "QMP" in json.loads(mon.raw["greeting"])
    assert "return" in mon.command("qmp_capabilities")
    props = mon.command("qom-list", {"path": "/machine/peripheral"})["return"]
    found = [p for p in props if p["name"] == ALIAS and p["type"] == f"child<{MODEL}>"]
    if not found:
        print(f"no {ALIAS} of type child<{MODEL}> in {props}", file=sys.stderr)
        return 1
    path = f"/machine/peripheral/{ALIAS}"
    ival = {"path": path, "property": "guest-stats-polling-interval"}
    assert "return" in mon.command("qom-set", dict(ival, value=5))
    stats = mon.command("qom-get", {"path": path, "property": "guest-stats"})["return"]
    assert "stats" in stats and "last-update" in stats
    mon.command("query-balloon")
    assert mon.command("qom-get", ival)["return"] == 5
    assert "return" in mon.command("qom-set", dict(ival, value=0))
    with open(sys.argv[2], "w") as f:
        json.dump(mon.raw, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
