"""The results of a scenario run (powersim.sim): a JSON document, deterministic
apart from ``host``, and a summary table.

counters.ipi_rounds counts the trace port's SERIALIZED records: one per
serialize a PMD clear/invalidate/collapse ran, whether or not that method sent
IPIs in it.  serialize_latency: those rounds' durations (sim.serialize_cycles)
in simulated ns, absent when there was no round.
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

    @classmethod
    def build(cls, sim, res, op_cycles: int, round_cycles: list):
        sc = sim.scenario
        hz = sc.machine.freq_mhz * 1e6
        th = res.threads

        def total(name):
            return sum(t.stats[name] for t in th)

        counters = {"ipi_sent": total("doorbells_sent") + total("xive_sent"),
                    "ipi_rounds": len(round_cycles), "tlbie": total("tlbie"),
                    "tlbiel": total("tlbiel"), "guest_exits": 0, "walks": 0, "races": 0,
                    "instructions": res.instructions}
        wall = res.host_seconds
        return cls(scenario=str(sim.path), method=sc.kernel.method, seed=sc.workload.seed,
                   config=sc.to_dict(), op_seconds=op_cycles / hz,
                   sim_seconds=th[0].cycles / hz, counters=counters,
                   host={"wall_seconds": wall,
                         "mips": res.instructions / wall / 1e6 if wall else 0.0},
                   notes=["sim_seconds: CPU 0's clock at its end (boot included)",
                          "serialize_latency: from the PMD clear's trace record to the "
                          "serialize's return, in ns"],
                   serialize_latency=_spread(np.array(round_cycles) * 1e3
                                             / sc.machine.freq_mhz))

    def to_dict(self) -> dict:
        return {k: v for k, v in attrs.asdict(self).items() if v is not None}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    def summary(self) -> str:
        c = self.counters
        rows = [("op time", f"{self.op_seconds * 1e6:.3f} us"),
                ("IPIs sent", c["ipi_sent"]), ("serialize rounds", c["ipi_rounds"]),
                *(() if self.serialize_latency is None else
                  [("round p50/max", "{median:.0f}/{max:.0f} ns".format(
                      **self.serialize_latency))]),
                ("tlbie", c["tlbie"]), ("tlbiel", c["tlbiel"]),
                ("instructions", c["instructions"]),
                ("host wall", f"{self.host['wall_seconds']:.3f} s"),
                ("MIPS", f"{self.host['mips']:.2f}")]
        w = max(len(k) for k, _ in rows)
        head = f"{self.scenario}  method={self.method}  seed={self.seed}"
        return "\n".join([head] + [f"{k.ljust(w)}  {str(v).rjust(14)}" for k, v in rows])


def _spread(ns):
    if not len(ns):
        return None
    return {"min": float(ns.min()), "median": float(np.median(ns)),
            "p99": float(np.percentile(ns, 99)), "max": float(ns.max())}
