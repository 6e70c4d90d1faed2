"""The results of a scenario run (powersim.sim): a JSON document, deterministic
apart from ``host``, and a summary table.

counters.ipi_rounds counts the trace port's SERIALIZED records: one per
serialize a PMD clear/invalidate/collapse ran, whether or not that method sent
IPIs in it.  serialize_latency: those rounds' durations (sim.serialize_cycles)
in simulated ns, absent when there was no round.  race_records: the race
checker's races (powersim.kernel.checker.Race as dicts), absent when none.
"""

import json

import attrs
import numpy as np


@attrs.define
class Results:
    scenario: str
    method: str
    seed: int
    config: dict
    op_seconds: float
    sim_seconds: float
    counters: dict
    host: dict
    notes: list
    serialize_latency: dict = None
    ipi_latency_ns: dict = None         # ipi_latency: {pair kind: {min, median, p99, max}}
    # generator-specific top-level fields (absent when None): gup_storm, vcpus
    gup_ns: dict = None             # a gup_fast call's duration, ns {min, median, p99, max}
    mm_cpumask_weight: int = None   # CPUs in mm_cpumask at the end of the run
    kvm_fault_ns: dict = None       # a KVM page-fault walk's duration, ns
    idle_stops: dict = None         # stop entries the idle governor made, by PSSCR RL
    race_records: list = None       # the race checker's races, in replay order

    @classmethod
    def build(cls, sim, res, op_cycles: int, round_cycles: list, extra: dict = None):
        """``extra``: the generator's ``measure``: ``counters`` entries added to
        (or replacing) the common ones, other keys as top-level fields."""
        sc = sim.scenario
        hz = sc.machine.freq_mhz * 1e6
        th = res.threads

        def total(name):
            return sum(t.stats[name] for t in th)

        from powersim.kernel.checker import check, count_walks
        tr = res.trace
        races = [attrs.asdict(r) for r in check(tr)]
        counters = {"ipi_sent": total("doorbells_sent") + total("xive_sent"),
                    "ipi_rounds": len(round_cycles), "tlbie": total("tlbie"),
                    "tlbiel": total("tlbiel"), "guest_exits": 0, "walks": count_walks(tr),
                    "races": len(races), "instructions": res.instructions}
        extra = dict(extra or {})
        counters.update(extra.pop("counters", {}))
        wall = res.host_seconds
        return cls(**extra, scenario=str(sim.path), method=sc.kernel.method, seed=sc.workload.seed,
                   config=sc.to_dict(), op_seconds=op_cycles / hz,
                   sim_seconds=th[0].cycles / hz, counters=counters,
                   host={"wall_seconds": wall,
                         "mips": res.instructions / wall / 1e6 if wall else 0.0},
                   notes=["sim_seconds: CPU 0's clock at its end (boot included)",
                          "serialize_latency: from the PMD clear's trace record to the "
                          "serialize's return, in ns"],
                   serialize_latency=spread_ns(round_cycles, sc.machine.freq_mhz),
                   race_records=races or None)

    def to_dict(self) -> dict:
        return {k: v for k, v in attrs.asdict(self).items() if v is not None}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    def summary(self) -> str:
        c = self.counters
        lat = self.serialize_latency
        rows = [("op time", _seconds(self.op_seconds)),
                ("IPIs sent", c["ipi_sent"]), ("serialize rounds", c["ipi_rounds"]),
                *(() if lat is None else
                  [("round median", _seconds(lat["median"] * 1e-9)),
                   ("round max", _seconds(lat["max"] * 1e-9))]),
                ("tlbie", c["tlbie"]), ("tlbiel", c["tlbiel"]),
                ("guest exits", c["guest_exits"]),
                ("instructions", c["instructions"]),
                ("host wall", f"{self.host['wall_seconds']:.3f} s"),
                ("MIPS", f"{self.host['mips']:.2f}")]
        w = max(len(k) for k, _ in rows)
        head = f"{self.scenario}  method={self.method}  seed={self.seed}"
        return "\n".join([head] + [f"{k.ljust(w)}  {str(v).rjust(14)}" for k, v in rows])


def compare_table(results: list) -> str:
    """Results of one scenario under several methods, side by side, with each
    op time's ratio to the first method's."""
    def t(r):
        return _seconds(r.op_seconds)

    def p50(r):
        lat = r.serialize_latency
        return "-" if lat is None else _seconds(lat["median"] * 1e-9)

    base = results[0].op_seconds
    rows = [("op time", t), ("ratio", lambda r: f"{r.op_seconds / base:.4f}" if base else "-"),
            ("IPIs sent", lambda r: r.counters["ipi_sent"]),
            ("serialize rounds", lambda r: r.counters["ipi_rounds"]),
            ("round median", p50),
            ("tlbie", lambda r: r.counters["tlbie"]), ("tlbiel", lambda r: r.counters["tlbiel"]),
            ("guest exits", lambda r: r.counters["guest_exits"]),
            ("instructions", lambda r: r.counters["instructions"]),
            ("host wall", lambda r: f"{r.host['wall_seconds']:.3g} s"),
            ("MIPS", lambda r: f"{r.host['mips']:.1f}")]
    cells = [["method"] + [r.method for r in results]] + \
        [[name] + [str(f(r)) for r in results] for name, f in rows]
    w0 = max(len(c[0]) for c in cells)
    w = max(len(x) for c in cells for x in c[1:])
    return "\n".join([results[0].scenario] + [c[0].ljust(w0) + "".join(
        x.rjust(w + 2) for x in c[1:]) for c in cells])


def _seconds(s: float) -> str:
    for unit, f in (("s", 1), ("ms", 1e3), ("us", 1e6)):
        if s >= 1 / f:
            return f"{s * f:.3f} {unit}"
    return f"{s * 1e9:.1f} ns"


def spread_ns(cycles, freq_mhz) -> dict:
    """{min, median, p99, max} of durations given in cycles, in ns (None if
    there are none)."""
    ns = np.asarray(cycles) * 1e3 / freq_mhz
    if not len(ns):
        return None
    return {"min": float(ns.min()), "median": float(np.median(ns)),
            "p99": float(np.percentile(ns, 99)), "max": float(ns.max())}
