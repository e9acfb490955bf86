#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/qmp.py - timing client for QMP sockets (QEMU's and vballoond's).

One connection per measurement, polling every few milliseconds, so the
timings are not dominated by spawning a client per poll.  Prints one JSON
object on stdout.

  qmp.py SOCK balloon BYTES [--guest NAME] [--pid PID] [--guest-pid PID]
         [--timeout S] [--event]
      set the target, wait until query-balloon's actual == BYTES;
      {"ms": elapsed, "cpu_ms": CPU time of PID meanwhile (scheduler runtime),
       "guest_cpu_ms": the same for --guest-pid (a UML guest's kernel)}
      Polled every 4 ms by default (QEMU).  With --event (vballoond) the
      client does not poll: it waits for the BALLOON_CHANGE event that
      reports actual == BYTES and takes "ms" from its timestamp, which
      vballoond sets to when actual changed even when the event was held
      back by the one-per-second throttle; "wait_ms" is how long the
      client waited for it.
  qmp.py SOCK balloon-many BYTES NAME... [--pid PID] [--timeout S]
      set the same target on several guests of one daemon at once, wait
      for all; {"ms", "cpu_ms"}
  qmp.py SOCK hint --guest NAME [--pid PID] [--timeout S]
      x-vb-hint-start, wait for state "stopped", x-vb-hint-done;
      {"ms", "hinted_bytes", "cpu_ms"}
  qmp.py SOCK migrate URI [--max-bandwidth BYTES_PER_S] [--timeout S]
      migrate and wait for completion; {"total_ms", "ram_bytes", ...}
  qmp.py SOCK stop-cont PAIRS
      PAIRS pairs of `stop` then `cont` (a VM pause storm) on one
      connection, each command sent as soon as the one before was
      answered; {"pairs", "ms"}
  qmp.py SOCK cmd JSON
      the reply's "return" value
  qmp.py SOCK sample [--interval S] GUEST=RAMFILE...
      until killed, one line per interval on stdout: the wall clock in ms,
      then per guest its actual (x-vb-list: one request for all) and the
      bytes its RAM file holds on the host (st_blocks); one connection
  qmp.py SOCK mom --budget BYTES [--floor BYTES] GUEST...
      until killed, every 10 s, a policy in the manner of oVirt's MoM: when
      the guests' total is over the budget, each guest with more than 20%
      of its size free gives 5% of its RAM (not below the floor); else
      each with less than 20% free gets 5% back (not above its RAM); one
      line per resize on stdout
"""
import json
import os
import socket
import sys
import time


class QMPError(Exception):
    pass


class QMP:
    def __init__(self, path, timeout=30.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.events = []
        greeting = self._read()
        if "QMP" not in greeting:
            raise QMPError("no QMP greeting: %r" % greeting)
        self.execute("qmp_capabilities")

    def _read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise QMPError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def execute(self, name, args=None):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._read()
            if "event" in reply:
                self.events.append(reply)
                continue
            if "error" in reply:
                raise QMPError("%s: %s" % (name, reply["error"].get("desc")))
            return reply.get("return")


def cpu_ms(pid):
    """CPU time of PID in ms (None without a pid): the scheduler's runtime
    of all its threads (/proc/PID/task/*/schedstat, ns), else utime + stime
    (10 ms ticks).  A thread that exits in between is not counted."""
    if not pid:
        return None
    try:
        ns = 0
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                ns += int(f.read().split()[0])
        return ns / 1e6
    except (OSError, ValueError, IndexError):
        pass
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks * 1000.0 / os.sysconf("SC_CLK_TCK")


def opt(args, name, default=None, conv=str):
    if name in args:
        i = args.index(name)
        val = conv(args[i + 1])
        del args[i:i + 2]
        return val
    return default


def wait_actual(q, value, guests, deadline):
    pending = list(guests)
    while pending:
        for g in list(pending):
            a = q.execute("query-balloon", {"guest": g} if g else None)
            if a["actual"] == value:
                pending.remove(g)
        if not pending:
            break
        if time.monotonic() > deadline:
            raise QMPError("timeout: actual %d, want %d" % (a["actual"], value))
        time.sleep(0.004)


def event_time(ev):
    ts = ev["timestamp"]
    return ts["seconds"] + ts["microseconds"] / 1e6


def wait_event(q, value, guests, deadline):
    """Wall time (event timestamp) at which the last guest reached value."""
    pending = set(guests)
    last = None
    while pending:
        while not q.events:
            left = deadline - time.monotonic()
            if left <= 0:
                raise QMPError("timeout: no BALLOON_CHANGE to %d" % value)
            q.sock.settimeout(left)
            q.events.append(q._read())
        ev = q.events.pop(0)
        if ev.get("event") != "BALLOON_CHANGE":
            continue
        d = ev.get("data", {})
        g = d.get("guest") if None not in pending else None
        if g in pending and d.get("actual") == value:
            pending.discard(g)
            t = event_time(ev)
            last = t if last is None else max(last, t)
    return last


def set_targets(q, value, guests):
    """QMP balloon to VALUE for each guest ("" or None: the only one)."""
    for g in guests:
        args = {"value": value}
        if g:
            args["guest"] = g
        q.execute("balloon", args)


def cpu_start(pids):
    """CPU time of each named process now: {"cpu_ms": PID, ...} -> values."""
    return {k: cpu_ms(p) for k, p in pids.items() if p}


def cpu_done(out, c0, pids):
    """Adds to out the CPU each process of cpu_start used since."""
    for k, c in c0.items():
        out[k] = round(cpu_ms(pids[k]) - c, 1)
    return out


def do_balloon(q, value, guests, pids, timeout, event=False):
    if event:
        return do_balloon_event(q, value, guests, pids, timeout)
    c0 = cpu_start(pids)
    t0 = time.monotonic()
    set_targets(q, value, guests)
    wait_actual(q, value, guests, t0 + timeout)
    ms = (time.monotonic() - t0) * 1000.0
    return cpu_done({"ms": round(ms, 1)}, c0, pids)


def do_balloon_event(q, value, guests, pids, timeout):
    todo = []
    for g in guests:
        a = q.execute("query-balloon", {"guest": g} if g else None)
        if a["actual"] != value:
            todo.append(g)
    q.events.clear()
    c0 = cpu_start(pids)
    w0 = time.time()
    m0 = time.monotonic()
    set_targets(q, value, guests)
    t = wait_event(q, value, todo, m0 + timeout) if todo else w0
    out = {"ms": round((t - w0) * 1000.0, 2),
           "wait_ms": round((time.monotonic() - m0) * 1000.0, 1)}
    return cpu_done(out, c0, pids)


def do_hint(q, guest, pid, timeout):
    c0 = cpu_ms(pid)
    t0 = time.monotonic()
    q.execute("x-vb-hint-start", {"guest": guest})
    while True:
        st = q.execute("x-vb-hint-status", {"guest": guest})
        if st["state"] == "stopped":
            break
        if time.monotonic() > t0 + timeout:
            raise QMPError("hint round did not stop: %r" % st)
        time.sleep(0.004)
    ms = (time.monotonic() - t0) * 1000.0
    out = {"ms": round(ms, 1), "hinted_bytes": st["hinted-bytes"]}
    if pid:
        out["cpu_ms"] = round(cpu_ms(pid) - c0, 1)
    q.execute("x-vb-hint-done", {"guest": guest})
    return out


def do_migrate(q, uri, bandwidth, timeout):
    if bandwidth is not None:
        q.execute("migrate-set-parameters", {"max-bandwidth": bandwidth})
    t0 = time.monotonic()
    q.execute("migrate", {"uri": uri})
    while True:
        r = q.execute("query-migrate")
        st = r.get("status")
        if st == "completed":
            break
        if st in ("failed", "cancelled"):
            raise QMPError("migration %s: %r" % (st, r))
        if time.monotonic() > t0 + timeout:
            raise QMPError("migration did not complete: %r" % r)
        time.sleep(0.01)
    ram = r.get("ram", {})
    return {"total_ms": r.get("total-time"), "downtime_ms": r.get("downtime"),
            "ram_bytes": ram.get("transferred"), "ram_total": ram.get("total"),
            "normal_pages": ram.get("normal"),
            "duplicate_pages": ram.get("duplicate"),
            "wall_ms": round((time.monotonic() - t0) * 1000.0, 1)}


def do_sample(q, pairs, interval):
    while True:
        line = ["%d" % (time.time() * 1000)]
        actual = {g["name"]: g["actual"] for g in q.execute("x-vb-list")}
        for g, path in pairs:
            line += ["%d" % actual[g], "%d" % (os.stat(path).st_blocks * 512)]
        print(" ".join(line), flush=True)
        time.sleep(interval)


MOM_PERIOD_S = 10.0
MOM_STEP = 0.05			# of the guest's RAM, per period
MOM_FREE = 0.20			# free share of its size a guest keeps


def mom_free(q, g):
    stats = q.execute("qom-get", {"path": g, "property": "guest-stats"})["stats"]
    free = stats.get("stat-free-memory", -1)
    return free if 0 <= free < 1 << 62 else None


def do_mom(q, guests, budget, floor):
    for g in guests:
        q.execute("qom-set", {"path": g, "property": "guest-stats-polling-interval",
                              "value": 2})
    while True:
        time.sleep(MOM_PERIOD_S)
        sizes = {g: q.execute("query-balloon", {"guest": g})["actual"] for g in guests}
        over = sum(sizes.values()) > budget
        for g in guests:
            ram = q.execute("x-vb-query", {"guest": g})
            ram = (ram[0] if isinstance(ram, list) else ram)["ram-size"]
            free, size = mom_free(q, g), sizes[g]
            if free is None:
                continue
            step = int(ram * MOM_STEP)
            if over and free > MOM_FREE * size:
                new = max(floor, size - step)
            elif not over and free < MOM_FREE * size:
                new = min(ram, size + step)
            else:
                continue
            if new != size:
                q.execute("balloon", {"value": new, "guest": g})
                print("%d %s %d -> %d" % (time.time() * 1000, g, size, new), flush=True)
def do_stop_cont(q, pairs):
    t0 = time.monotonic()
    for _ in range(pairs):
        q.execute("stop")
        q.execute("cont")
        q.events.clear()
    return {"pairs": pairs, "ms": round((time.monotonic() - t0) * 1000.0, 1)}


def main(argv):
    args = list(argv[1:])
    guest = opt(args, "--guest")
    pid = opt(args, "--pid", None, int)
    pids = {"cpu_ms": pid, "guest_cpu_ms": opt(args, "--guest-pid", None, int)}
    timeout = opt(args, "--timeout", 600.0, float)
    bw = opt(args, "--max-bandwidth", None, int)
    budget = opt(args, "--budget", None, int)
    interval = opt(args, "--interval", 0.1, float)
    floor = opt(args, "--floor", 136 << 20, int)
    event = "--event" in args
    if event:
        args.remove("--event")
    if len(args) < 2:
        sys.exit(__doc__)
    q = QMP(args[0])
    cmd = args[1]
    if cmd == "balloon" and len(args) == 3:
        out = do_balloon(q, int(args[2]), [guest], pids, timeout, event)
    elif cmd == "balloon-many" and len(args) >= 4:
        out = do_balloon(q, int(args[2]), args[3:], pids, timeout, event)
    elif cmd == "hint" and guest:
        out = do_hint(q, guest, pid, timeout)
    elif cmd == "migrate" and len(args) == 3:
        out = do_migrate(q, args[2], bw, timeout)
    elif cmd == "sample" and len(args) >= 3:
        do_sample(q, [a.split("=", 1) for a in args[2:]], interval)
    elif cmd == "mom" and len(args) >= 3 and budget:
        do_mom(q, args[2:], budget, floor)
    elif cmd == "stop-cont" and len(args) == 3:
        out = do_stop_cont(q, int(args[2]))
    elif cmd == "cmd" and len(args) == 3:
        msg = json.loads(args[2])
        out = q.execute(msg["execute"], msg.get("arguments"))
    else:
        sys.exit(__doc__)
    print(json.dumps(out))


if __name__ == "__main__":
    try:
        main(sys.argv)
    except (QMPError, OSError, ValueError, KeyError) as e:
        print("qmp.py: %s" % e, file=sys.stderr)
        sys.exit(1)
