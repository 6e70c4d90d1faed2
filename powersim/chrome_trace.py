"""Chrome trace-event JSON of a run: ``powersim run --trace
FILE.json [--trace-window START:END]``; the file opens in Perfetto
(ui.perfetto.dev) or chrome://tracing.

One process, "machine", with one track per CPU ("CPU n (PIR 0x..)", CPU n
being hardware thread n in PIR order).  Times are simulated microseconds
(``ts``/``dur``; cycles / machine.freq_ghz).  Every event comes from the
trace log (docs/CONTRACTS.md "Trace port"), so none of them costs simulated
time:

* machine events (``machine.trace_events``, kinds layout.EV_*): interrupts as
  duration events from entry to the rfid/hrfid that returns ("IPI (XIVE
  0xEA0)", "doorbell 0xE80", "decrementer 0x900", ...); IPI sends as instant
  events on the sender naming the target, with a flow arrow to the target's
  interrupt that takes it; hwsync/ptesync/tlbsync waits past their base cost;
  stop/wait sleeps until the wake-up; SIMSTALL stalls, which the kernel uses
  for the guest entry (cmd_guest), the guest exit (the interrupt entry,
  irq.py) and Linux's IPI receive work (the IPI handlers,
  kernel.ipi_receive_cycles), and the "guest" periods between a guest entry
  and the next interrupt;
* kernel records (powersim.kernel.trace): walker irq-off windows
  (WALK_BEGIN..WALK_END) and serialize rounds (the PMD clear's record to
  SERIALIZED, as sim.serialize_cycles measures them);
* the measured operation (workloads.bracket's marks 2..3, kind MARK_KIND).

The trace ends with the run, when the measured CPU has finished (the other
CPUs' records from the rest of the last time slice are left out); what is
still open then (a sleep, a guest period) ends there, marked "unfinished".

``chrome_trace(run, window=None)``: ``run`` is a workloads.Run (e.g.
``Simulation.last_run``); ``window`` = (start, end) in simulated
microseconds keeps only the events overlapping it (``parse_window``).
"""

import bisect
import re

from powersim.config import ConfigError

PID = 0
VECTOR_NAMES = {0x100: "system reset 0x100", 0x200: "machine check 0x200",
                0x300: "DSI 0x300", 0x380: "data segment 0x380", 0x400: "ISI 0x400",
                0x480: "instruction segment 0x480", 0x500: "external 0x500",
                0x700: "program 0x700", 0x900: "decrementer 0x900",
                0xA00: "doorbell (privileged) 0xA00", 0xC00: "system call 0xC00",
                0xE00: "HDSI 0xE00", 0xE40: "HEAI 0xE40", 0xE80: "doorbell 0xE80",
                0xEA0: "IPI (XIVE 0xEA0)"}
WAIT_NAMES = {0: "hwsync wait", 2: "ptesync wait", 3: "tlbsync wait"}
_UNITS = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}
_TIME = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(ns|us|ms|s)?\s*")


def parse_window(text: str) -> tuple:
    """``START:END`` in simulated time (units ns, us, ms, s; a plain number is
    microseconds) -> (start_us, end_us); ConfigError naming the option."""
    allowed = ("allowed: START:END with START < END, each a non-negative time with "
               "a unit ns, us, ms or s (a plain number is microseconds), e.g. 0:50us "
               "or 1ms:2ms")
    parts = str(text).split(":")
    if len(parts) != 2:
        raise ConfigError(f"--trace-window = {text!r}: {allowed}")
    out = []
    for p in parts:
        m = _TIME.fullmatch(p)
        if not m:
            raise ConfigError(f"--trace-window = {text!r}: {p!r} is not a time; {allowed}")
        out.append(float(m.group(1)) * _UNITS[m.group(2) or "us"])
    if not out[0] < out[1]:
        raise ConfigError(f"--trace-window = {text!r}: START must be below END; {allowed}")
    return tuple(out)


def _msgsnd_targets(t, rb, msgsndp, ts):
    """Threads a msgsnd(p) with RB = rb from thread t reaches (core.sysop)."""
    from powersim.machine.layout import DB_SERVER, TS_CORE, TS_PIR, TS_THR
    if (rb >> 27) & 0x1F != DB_SERVER:
        return []
    out = []
    for u in range(ts.shape[0]):
        if not msgsndp and not rb & 0x04000000:
            hit = ts[u, TS_PIR] == rb & 0x3FFF
        else:
            hit = ts[u, TS_CORE] == ts[t, TS_CORE] and (
                (rb & 0x04000000 and u != t) or (msgsndp and ts[u, TS_THR] == rb & 0x3F))
        if hit:
            out.append(u)
    return out


IPI_HANDLERS = ("doorbell_exception", "xive_ipi_interrupt")   # their stall: Linux's work


def _routine_of(symbols):
    """pc -> the name of the kernel routine that contains it."""
    import bisect
    named = sorted((a, n) for n, a in symbols.items() if not n.startswith("."))
    addrs = [a for a, _ in named]
    return lambda pc: named[bisect.bisect_right(addrs, pc) - 1][1] if pc >= addrs[0] else ""


def chrome_trace(run, window=None) -> dict:
    """The trace-event JSON document (a dict) of the finished ``run``."""
    from powersim.kernel import trace as kt
    from powersim.machine import layout
    from powersim.workloads import MARK_KIND
    m = run.machine
    mhz = m.p.freq_mhz
    tr = run.trace
    nthreads = m.ts.shape[0]
    pirs = [int(m.ts[t, layout.TS_PIR]) for t in range(nthreads)]
    measured = run.plan.measured if run.plan is not None else 0
    # the run ends when the measured CPU has finished (sim.Simulation); the others
    # ran on to the end of the last time slice, which is not part of the run
    end = int(m.ts[measured, layout.TS_CLK])
    tr = tr[tr["cycle"] <= end]

    def us(c):
        return round(c / mhz, 6)

    routine = _routine_of(run.kernel.image.symbols)

    ev = []

    def dur(t, name, cat, c0, c1, **args):
        e = {"ph": "X", "name": name, "cat": cat, "pid": PID, "tid": t, "ts": us(c0),
             "dur": round(us(max(c0, c1)) - us(c0), 6)}     # ends at us(c1) exactly
        if args:
            e["args"] = args
        ev.append(e)

    intr = [[] for _ in range(nthreads)]        # open interrupts: (cycle, vector, pc)
    entries = [[] for _ in range(nthreads)]     # (cycle, vector) of every entry
    sleep = [None] * nthreads
    guest = [None] * nthreads                   # cycle a guest period began
    walk = [None] * nthreads
    last_clear = {}
    marks = {}
    sends = []                                  # (cycle, sender, target, vector, how)
    rounds = 0
    for c, t, k, a, b in zip(*(tr[f].tolist() for f in ("cycle", "thread", "kind", "a", "b"))):
        if k == layout.EV_INTR:
            if guest[t] is not None:
                dur(t, "guest", "guest", guest[t], c)
                guest[t] = None
            intr[t].append((c, a, b))
            entries[t].append((c, a))
        elif k == layout.EV_RFID:
            if intr[t]:
                c0, vec, pc = intr[t].pop()
                dur(t, VECTOR_NAMES.get(vec, f"interrupt {vec:#x}"), "interrupt", c0, c,
                    vector=hex(vec), interrupted_pc=hex(pc), return_to=hex(a))
        elif k == layout.EV_SLEEP:
            sleep[t] = (c, a, b)
        elif k == layout.EV_WAKE:
            if sleep[t] is not None:
                c0, stop, psscr = sleep[t]
                dur(t, "stop" if stop else "wait", "sleep", c0, c,
                    **({"psscr": hex(psscr), "rl": psscr & 0xF} if stop else {}))
                sleep[t] = None
        elif k == layout.EV_WAIT:
            dur(t, WAIT_NAMES.get(b, f"wait {b}"), "wait", c, a)
        elif k == layout.EV_STALL:
            if routine(b) in IPI_HANDLERS:
                dur(t, "IPI receive work", "interrupt", c, c + a, cycles=a, pc=hex(b))
            elif intr[t]:
                dur(t, "guest exit", "guest", c, c + a, cycles=a, pc=hex(b))
            else:
                dur(t, "guest entry", "guest", c, c + a, cycles=a, pc=hex(b))
                guest[t] = c + a
        elif k == layout.EV_MSGSND:
            for u in _msgsnd_targets(t, a, b, m.ts):
                sends.append((c, t, u, 0xA00 if b else 0xE80, "msgsndp" if b else "msgsnd"))
        elif k == layout.EV_XIVE:
            sends.append((c, t, a, 0xEA0, "XIVE trigger"))
        elif k == kt.WALK_BEGIN:
            walk[t] = (c, a)
        elif k == kt.WALK_END:
            if walk[t] is not None:
                dur(t, "walker irq-off", "walker", walk[t][0], c, ea=hex(walk[t][1]),
                    irq_happened=hex(a))
                walk[t] = None
        elif k in (kt.PMD_SET, kt.PMD_SET_BE):
            last_clear[t] = c
        elif k == kt.SERIALIZED:
            if t in last_clear:
                dur(t, f"serialize round {rounds}", "serialize", last_clear[t], c,
                    round=rounds, mm=hex(a))
            rounds += 1
        elif k == MARK_KIND and t == measured:
            marks[a] = c
    # what is still open at the end of the run
    for t in range(nthreads):
        for c0, vec, pc in intr[t]:
            dur(t, VECTOR_NAMES.get(vec, f"interrupt {vec:#x}"), "interrupt", c0, end,
                vector=hex(vec), interrupted_pc=hex(pc), unfinished=True)
        if sleep[t] is not None:
            c0, stop, psscr = sleep[t]
            dur(t, "stop" if stop else "wait", "sleep", c0, max(c0, end), unfinished=True,
                **({"psscr": hex(psscr), "rl": psscr & 0xF} if stop else {}))
        if guest[t] is not None:
            dur(t, "guest", "guest", guest[t], max(guest[t], end), unfinished=True)
    if 2 in marks and 3 in marks:
        dur(measured, "measured operation", "op", marks[2], marks[3])
    # IPI sends: an instant on the sender, a flow arrow to the interrupt taking it
    flows = []
    for n, (c, t, u, vec, how) in enumerate(sends):
        ev.append({"ph": "i", "s": "t", "name": f"IPI send -> CPU {u}", "cat": "ipi",
                   "pid": PID, "tid": t, "ts": us(c),
                   "args": {"target": u, "target_pir": hex(pirs[u]), "how": how}})
        starts = [e for e in entries[u] if e[1] == vec]
        i = bisect.bisect_left(starts, (c, -1))
        if i < len(starts):
            flows.append(({"ph": "s", "id": n, "name": "IPI", "cat": "ipi", "pid": PID,
                           "tid": t, "ts": us(c)},
                          {"ph": "f", "bp": "e", "id": n, "name": "IPI", "cat": "ipi",
                           "pid": PID, "tid": u, "ts": us(starts[i][0])}))
    if window is not None:
        lo, hi = window

        def inside(e):
            return e["ts"] <= hi and e["ts"] + e.get("dur", 0) >= lo
        ev = [e for e in ev if inside(e)]
        flows = [f for f in flows if inside(f[0]) and inside(f[1])]
    ev.sort(key=lambda e: (e["tid"], e["ts"], -e.get("dur", 0), e["name"]))
    meta = [{"ph": "M", "name": "process_name", "pid": PID, "args": {"name": "machine"}}]
    for t in range(nthreads):
        meta.append({"ph": "M", "name": "thread_name", "pid": PID, "tid": t,
                     "args": {"name": f"CPU {t} (PIR {pirs[t]:#x})"}})
        meta.append({"ph": "M", "name": "thread_sort_index", "pid": PID, "tid": t,
                     "args": {"sort_index": t}})
    return {"traceEvents": meta + ev + [e for f in flows for e in f],
            "displayTimeUnit": "ns",
            "otherData": {"time_unit": "simulated microseconds", "freq_mhz": mhz,
                          "window_us": list(window) if window is not None else None,
                          "trace_records": int(len(tr))}}
