#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""QMP cases run through QEMU's own client library, qemu.qmp.

    qmp_cases.py run SOCKET RAM_BYTES OUT.json   every case, a guest driving
                                                  the balloon; save results
    qmp_cases.py idle SOCKET OUT.json            discovery and refusals only,
                                                  no guest (QEMU: -S, no
                                                  driver; vballoond: no guest)
    qmp_cases.py compare QEMU.json OURS.json     one line per case; exit 1
                                                  when a case differs that is
                                                  not a documented difference

The same script drives QEMU's monitor (virtio-balloon-pci, id=balloon0; for
`run`, a guest with the in-tree driver loaded) and vballoond (for `run`, a
guest with the same driver on its vhost-user device, named balloon0).  Each case records
what the library returned: the value, or the error's class and text.
Values that legitimately differ between two guests (stats, timestamps) are
reduced to their shape.  DOCUMENTED lists the cases where vballoond
differs on purpose; each names the point of docs/qmp.md that explains it.
"""
import asyncio
import json
import sys

from qemu.qmp import ExecuteError, QMPClient
from qemu.qmp.message import Message

# case -> the docs/qmp.md "Differences from QEMU" point that explains it
DOCUMENTED = {
    "query-version": "version: micro 0 and package 'vballoond'",
    "query-commands": "commands: ours only, plus x-vb-*",
    "qom-list-device": "QOM: three properties of a balloon device",
    "qom-list-root": "QOM: a minimal tree",
    "greeting-capabilities": "no out-of-band execution",
    "guest-stats-keys": "stats: the Linux 6.12 tags too",
    "balloon-change-event": "events: data.guest added",
    "query-balloon-guest-arg": "guest argument",
    "x-vb-list": "x-vb-* extensions",
    "idle-query-status": "query-status: always running",
    "idle-query-balloon": "absent guests",
}

GIB = 1 << 30


def error_of(err):
    return {"error": err.error_class, "desc": str(err)}


class Cases:
    def __init__(self, qmp, ram):
        self.qmp = qmp
        self.ram = ram
        self.out = {}

    async def call(self, cmd, args=None):
        try:
            return {"return": await self.qmp.execute(cmd, args)}
        except ExecuteError as err:
            return error_of(err)

    async def case(self, name, cmd, args=None, shape=None):
        r = await self.call(cmd, args)
        if shape and "return" in r:
            r = {"return": shape(r["return"])}
        self.out[name] = r
        return r

    async def raw(self, name, msg):
        try:
            r = {"return": await self.qmp.execute_msg(Message(msg))}
        except ExecuteError as err:
            r = error_of(err)
        self.out[name] = r

    async def wait_actual(self, want, secs=180):
        r = None
        for _ in range(secs * 5):
            r = await self.call("query-balloon")
            if r.get("return", {}).get("actual") == want:
                return True
            await asyncio.sleep(0.2)
        print(f"actual never reached {want}: {r}", file=sys.stderr)
        return False

    async def discovery(self):
        await self.case("query-version", "query-version")
        await self.case("query-version-shape", "query-version",
                        shape=lambda v: sorted(v["qemu"]) + sorted(v))
        await self.case("query-status", "query-status")
        await self.case("query-commands", "query-commands",
                        shape=lambda v: sorted(c["name"] for c in v))
        await self.case("query-commands-balloon", "query-commands",
                        shape=lambda v: sorted(c["name"] for c in v if c["name"] in
                                               ("balloon", "query-balloon", "qom-get",
                                                "qom-set", "qom-list", "query-version",
                                                "query-status", "qmp_capabilities")))
        await self.case("qom-list-root", "qom-list", {"path": "/"})
        await self.case("qom-list-peripheral", "qom-list", {"path": "/machine/peripheral"},
                        shape=lambda v: [p for p in v if p["name"] == "type" or
                                         p["type"].startswith("child<virtio-balloon")])
        await self.case("qom-list-device", "qom-list", {"path": "/machine/peripheral/balloon0"})
        await self.case("qom-list-device-stats", "qom-list",
                        {"path": "/machine/peripheral/balloon0"},
                        shape=lambda v: [p for p in v if p["name"] in
                                         ("type", "guest-stats", "guest-stats-polling-interval")])
        dev = {"path": "/machine/peripheral/balloon0"}
        await self.case("qom-get-type", "qom-get", dict(dev, property="type"))
        await self.case("qom-get-type-partial", "qom-get", {"path": "balloon0", "property": "type"})
        await self.case("qom-get-container", "qom-get",
                        {"path": "/machine/peripheral", "property": "type"})
        await self.case("qom-get-interval-0", "qom-get",
                        dict(dev, property="guest-stats-polling-interval"))

    async def errors(self):
        dev = {"path": "/machine/peripheral/balloon0"}
        ival = dict(dev, property="guest-stats-polling-interval")
        for name, cmd, args in [
            ("balloon-0", "balloon", {"value": 0}),
            ("balloon-negative", "balloon", {"value": -1}),
            ("balloon-2^63", "balloon", {"value": 2 ** 63}),
            ("balloon-2^64", "balloon", {"value": 2 ** 64}),
            ("balloon-string", "balloon", {"value": "1G"}),
            ("balloon-float", "balloon", {"value": 1.5}),
            ("balloon-bool", "balloon", {"value": True}),
            ("balloon-missing", "balloon", {}),
            ("balloon-unexpected", "balloon", {"value": GIB, "foo": 1}),
            ("query-balloon-unexpected", "query-balloon", {"foo": 1}),
            ("query-balloon-guest-arg", "query-balloon", {"guest": "balloon0"}),
            ("query-version-unexpected", "query-version", {"x": 1}),
            ("unknown-command", "no-such-command", None),
            ("capabilities-again", "qmp_capabilities", None),
            ("qom-list-missing-path", "qom-list", {}),
            ("qom-list-no-such-path", "qom-list", {"path": "/nope"}),
            ("qom-get-no-such-device", "qom-get",
             {"path": "/machine/peripheral/nope", "property": "type"}),
            ("qom-get-no-such-property", "qom-get", dict(dev, property="colour")),
            ("qom-get-missing-property", "qom-get", dev),
            ("qom-set-stats", "qom-set", dict(dev, property="guest-stats", value=1)),
            ("qom-set-type", "qom-set", dict(dev, property="type", value="x")),
            ("qom-set-interval-negative", "qom-set", dict(ival, value=-1)),
            ("qom-set-interval-string", "qom-set", dict(ival, value="2")),
            ("qom-set-interval-2^32", "qom-set", dict(ival, value=2 ** 32)),
            ("qom-set-interval-missing", "qom-set", ival),
            ("x-vb-list", "x-vb-list", None),
        ]:
            await self.case(name, cmd, args)
        await self.raw("unexpected-member", {"execute": "query-status", "foo": 1})
        await self.raw("arguments-not-object", {"execute": "query-status", "arguments": [1]})

    async def stats(self):
        dev = {"path": "/machine/peripheral/balloon0"}
        await self.case("qom-set-interval", "qom-set",
                        dict(dev, property="guest-stats-polling-interval", value=1))
        await self.case("qom-get-interval-1", "qom-get",
                        dict(dev, property="guest-stats-polling-interval"))
        r = None
        for _ in range(300):
            r = await self.call("qom-get", dict(dev, property="guest-stats"))
            if r.get("return", {}).get("last-update", 0) > 0:
                break
            await asyncio.sleep(0.2)
        ret = r.get("return", {})
        self.out["guest-stats-reported"] = {"return": ret.get("last-update", 0) > 0}
        qemu72 = ("stat-swap-in", "stat-swap-out", "stat-major-faults", "stat-minor-faults",
                  "stat-free-memory", "stat-total-memory", "stat-available-memory",
                  "stat-disk-caches", "stat-htlb-pgalloc", "stat-htlb-pgfail")
        st = ret.get("stats", {})
        self.out["guest-stats-keys"] = {"return": sorted(st)}
        self.out["guest-stats-qemu-keys"] = {"return": [k for k in qemu72 if k in st]}
        self.out["guest-stats-qemu-keys-are-ints"] = {
            "return": all(isinstance(st.get(k), int) for k in qemu72)}
        self.out["guest-stats-total-below-ram"] = {
            "return": 0 < st.get("stat-total-memory", 0) <= self.ram}
        await self.case("qom-set-interval-off", "qom-set",
                        dict(dev, property="guest-stats-polling-interval", value=0))

    async def balloon(self):
        await self.case("query-balloon-full", "query-balloon")
        target = self.ram - 128 * (1 << 20)
        with self.qmp.listener(("BALLOON_CHANGE",)) as events:
            await self.case("balloon-set", "balloon", {"value": target})
            self.out["balloon-reached"] = {"return": await self.wait_actual(target)}
            last = None
            try:
                while True:
                    ev = await asyncio.wait_for(events.get(), 3)
                    last = ev
            except asyncio.TimeoutError:
                pass
        self.out["balloon-change-event"] = {
            "return": last and {"event": last["event"], "data": dict(last["data"])}}
        self.out["balloon-change-event-actual"] = {
            "return": last and last["data"]["actual"]}
        await self.case("balloon-back", "balloon", {"value": self.ram})
        self.out["balloon-back-reached"] = {"return": await self.wait_actual(self.ram)}


async def run(sock, ram, out):
    qmp = QMPClient("qmp-cases")
    await qmp.connect(sock)
    c = Cases(qmp, ram)
    c.out["greeting-keys"] = {"return": sorted(qmp.greeting._raw["QMP"])}
    c.out["greeting-capabilities"] = {"return": list(qmp.greeting.QMP.capabilities)}
    await c.discovery()
    await c.errors()
    if ram:
        await c.stats()
        await c.balloon()
    else:	# no guest: what differs on purpose then, under its own names
        c.out["idle-query-status"] = c.out.pop("query-status")
        await c.case("idle-query-balloon", "query-balloon")
        await c.case("idle-balloon", "balloon", {"value": GIB})
    await qmp.disconnect()
    with open(out, "w") as f:
        json.dump(c.out, f, indent=1, sort_keys=True)


def compare(qemu_file, ours_file):
    qemu = json.load(open(qemu_file))
    ours = json.load(open(ours_file))
    bad = 0
    for name in sorted(set(qemu) | set(ours)):
        a, b = qemu.get(name), ours.get(name)
        if a == b:
            print(f"same        {name}: {json.dumps(a)[:150]}")
        elif name in DOCUMENTED:
            print(f"documented  {name}: qemu {json.dumps(a)[:150]} / vballoond "
                  f"{json.dumps(b)[:150]} ({DOCUMENTED[name]})")
        else:
            bad += 1
            print(f"DIFFERENT   {name}: qemu {json.dumps(a)} / vballoond {json.dumps(b)}")
    print(f"{len(set(qemu) | set(ours))} cases, {bad} differ without a documented reason")
    return 1 if bad else 0


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "run":
        asyncio.run(run(sys.argv[2], int(sys.argv[3]), sys.argv[4]))
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == "idle":
        asyncio.run(run(sys.argv[2], 0, sys.argv[3]))
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == "compare":
        return compare(sys.argv[2], sys.argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
