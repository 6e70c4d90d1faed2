"""The results of a scenario run (powersim.sim): a JSON document, deterministic
apart from ``host``, and a summary table.

counters.ipi_rounds counts the trace port's SERIALIZED records: one per
serialize a PMD clear/invalidate/collapse ran, whether or not that method sent
IPIs in it.  serialize_latency: those rounds' durations (sim.serialize_cycles)
in simulated ns, absent when there was no round.  race_records: the race
checker's races (powersim.kernel.checker.Race as dicts), absent when none.

Below the common rows, the summary and the compare table show each workload's
own rows (``workload_rows``): the race checker's wherever there were lockless
walks to check, then those the generator module declares with
``summary_rows(results) -> list of Row`` next to its ``measure()``.
"""

import json
from typing import Callable, NamedTuple

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
    idle_stops: dict = None         # stop entries the menu governor made, by state name
    race_records: list = None       # the race checker's races, in replay order

    @classmethod
    def build(cls, sim, res, op_cycles: int, round_cycles, extra: dict = None):
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
                         "mips": res.instructions / wall / 1e6 if wall else 0.0,
                         "slices_per_insn": total("slices") / max(res.instructions, 1),
                         "boundaries_per_insn": total("boundaries") /
                         max(res.instructions, 1)},
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
        rows = [("op time", seconds(self.op_seconds)),
                ("IPIs sent", c["ipi_sent"]), ("serialize rounds", c["ipi_rounds"]),
                *(() if lat is None else
                  [("round median", ns(lat["median"])), ("round max", ns(lat["max"]))]),
                ("tlbie", c["tlbie"]), ("tlbiel", c["tlbiel"]),
                ("guest exits", c["guest_exits"]),
                ("instructions", c["instructions"]),
                ("host wall", f"{self.host['wall_seconds']:.3f} s"),
                ("MIPS", f"{self.host['mips']:.2f}"),
                *((row.name, row.text()) for row in workload_rows(self))]
        w = max(len(k) for k, _ in rows)
        head = f"{self.scenario}  method={self.method}  seed={self.seed}"
        return "\n".join([head] + [f"{k.ljust(w)}  {str(v).rjust(14)}" for k, v in rows])

    def race_list(self, n: int) -> str:
        """The first ``n`` race records, one a line, with the simulated time the
        Chrome trace (--trace) shows them at."""
        walks = self.counters["walks"]
        if not self.race_records:
            return (f"races: none in {walks} lockless walks" if walks else
                    "races: none (no lockless walk to check)")
        races = self.race_records[:n]
        from powersim.machine.params import MachineParams
        mhz = MachineParams(**self.config["machine"]).freq_mhz
        rows = [("cycle", "time", "cpu", "kind", "slot", "ptep", "table")] + [
            (str(r["cycle"]), f"{r['cycle'] / mhz:.3f} us", str(r["cpu"]), r["kind"],
             f"{r['slot']:#x}", f"{r['ptep']:#x}", f"{r['table']:#x}" if r["table"] else "-")
            for r in races]
        w = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        head = (f"first {len(races)} of {self.counters['races']} races (at the walker's use of "
                "the entry; slot: the PMD it read, ptep: what it dereferenced, table: the PTE "
                "table it held)")
        return "\n".join([head] + ["  ".join(x.ljust(w[i]) if i == 3 else x.rjust(w[i])
                                              for i, x in enumerate(row)) for row in rows])


class Row(NamedTuple):
    """One row a workload adds to the summary and the compare table."""
    name: str
    value: object                   # a number; None shows "-"
    fmt: Callable = str             # the value as the table shows it
    ratio: bool = False             # compare: add "<name> ratio", each value over the first's

    def text(self) -> str:
        return "-" if self.value is None else self.fmt(self.value)


def workload_rows(res) -> list:
    """The rows below the common ones: the race checker's, then those the
    generator declares (``summary_rows`` in its module, tuples or Rows)."""
    from powersim.workloads import get
    declared = getattr(get(res.config["workload"]["generator"]), "summary_rows", None)
    return race_rows(res) + [Row(*r) for r in (declared(res) if declared else ())]


def race_rows(res) -> list:
    """Lockless walks and races, by kind, wherever there were walks to check."""
    from powersim.kernel.checker import RACE_KINDS
    walks = res.counters.get("walks")
    if not walks:
        return []
    kinds = [r["kind"] for r in res.race_records or ()]
    return [Row("lockless walks", walks), Row("races", res.counters["races"]),
            *(Row(f"  {k}", kinds.count(k)) for k in RACE_KINDS if k in kinds)]


def spread_rows(label: str, spread: dict, stats=("min", "median", "p99", "max"),
                ratio=()) -> list:
    """Rows "<label> <stat>" of a ``spread_ns`` dict ("-" when it is None);
    the stats in ``ratio`` get a ratio row in compare."""
    return [Row(f"{label} {s}", None if spread is None else spread[s], ns, s in ratio)
            for s in stats]


def compare_table(results: list) -> str:
    """Results of one scenario under several methods, side by side, with each
    op time's ratio to the first method's, then the workloads' own rows."""
    def p50(r):
        lat = r.serialize_latency
        return "-" if lat is None else ns(lat["median"])

    base = results[0].op_seconds
    rows = [("op time", lambda r: seconds(r.op_seconds)),
            ("ratio", lambda r: _ratio(r.op_seconds, base)),
            ("IPIs sent", lambda r: r.counters["ipi_sent"]),
            ("serialize rounds", lambda r: r.counters["ipi_rounds"]),
            ("round median", p50),
            ("tlbie", lambda r: r.counters["tlbie"]), ("tlbiel", lambda r: r.counters["tlbiel"]),
            ("guest exits", lambda r: r.counters["guest_exits"]),
            ("instructions", lambda r: r.counters["instructions"]),
            ("host wall", lambda r: f"{r.host['wall_seconds']:.3g} s"),
            ("MIPS", lambda r: f"{r.host['mips']:.1f}")]
    cells = [["method"] + [r.method for r in results]] + \
        [[name] + [str(f(r)) for r in results] for name, f in rows] + _workload_cells(results)
    w0 = max(len(c[0]) for c in cells)
    w = max(len(x) for c in cells for x in c[1:])
    return "\n".join([results[0].scenario] + [c[0].ljust(w0) + "".join(
        x.rjust(w + 2) for x in c[1:]) for c in cells])


def _workload_cells(results) -> list:
    """[name, cell per result] of every workload row any result has ("-" where
    one has not), each ratio row right after its row."""
    per = [{row.name: row for row in workload_rows(r)} for r in results]
    out = []
    for name in _merged(per):
        got = [rows.get(name) for rows in per]
        out.append([name] + [row.text() if row else "-" for row in got])
        if any(row and row.ratio for row in got):
            base = got[0].value if got[0] else None
            out.append([f"{name} ratio"] + [_ratio(row and row.value, base) for row in got])
    return out


def _merged(lists) -> list:
    """The names of ``lists`` once each, every new one right after the name it
    follows in its own list (a race kind only the second method has stays
    under "races")."""
    names = []
    for names_of_one in lists:
        at = 0
        for n in names_of_one:
            if n in names:
                at = names.index(n) + 1
            else:
                names.insert(at, n)
                at += 1
    return names


def _ratio(value, base) -> str:
    return "-" if value is None or not base else f"{value / base:.4f}"


def seconds(s: float) -> str:
    """A duration in seconds, in the unit that shows it best: "1.082 ms"."""
    for unit, f in (("s", 1), ("ms", 1e3), ("us", 1e6)):
        if s >= 1 / f:
            return f"{s * f:.3f} {unit}"
    return f"{s * 1e9:.1f} ns"


def ns(value: float) -> str:
    """A duration in ns, as ``seconds`` shows it."""
    return seconds(value * 1e-9)


def spread_ns(cycles, freq_mhz) -> dict:
    """{min, median, p99, max} of durations given in cycles, in ns (None if
    there are none)."""
    d = np.asarray(cycles) * 1e3 / freq_mhz
    if not len(d):
        return None
    return {"min": float(d.min()), "median": float(np.median(d)),
            "p99": float(np.percentile(d, 99)), "max": float(d.max())}
