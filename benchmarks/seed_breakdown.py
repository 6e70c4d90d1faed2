"""Where a serialize round of the seed goes: the seed scenario at a small
memory size (every round does the same work), run with the machine's event
records on, each round cut at the sender's msgsnds and the last target's
doorbell interrupt.

    PYTHONPATH=. python benchmarks/seed_breakdown.py [--memory 64MiB] [--set k=v ...]

Prints, as the mean over the rounds (us): queue (csd_lock + llist_add for
every target, before the first msgsnd), kick (first to last msgsnd: message
byte, host_ipi, sync, msgsnd per target), wake-up (the last target's msgsnd to
its 0xE80 interrupt: doorbell delivery, the stop state's wake-up, the 0x100
path), finish (that interrupt to the sender's serialize return: the handler,
the csd unlock the sender sees, the return), and their sum against the round.
"""

import argparse

import numpy as np

from powersim.config import load_scenario
from powersim.kernel.trace import PMD_SET_BE, SERIALIZED
from powersim.machine.layout import EV_INTR, EV_MSGSND
from powersim.sim import Simulation

SEED = "workloads/seed-munmap-496g.toml"


def breakdown(overrides):
    sc = load_scenario(SEED, ["machine.trace_events=true", *overrides])
    sim = Simulation(sc, SEED)
    res = sim.run(progress=False)
    tr = sim.last_run.trace
    mhz = sc.machine.freq_mhz
    pir_cpu = {pir: cpu for cpu, pir in enumerate(sim.kernel.layout.pirs)}
    starts = tr[(tr["kind"] == PMD_SET_BE) & (tr["thread"] == 0)]["cycle"].astype(np.int64)
    ends = tr[(tr["kind"] == SERIALIZED) & (tr["thread"] == 0)]["cycle"].astype(np.int64)
    sends = tr[(tr["kind"] == EV_MSGSND) & (tr["thread"] == 0)]
    e80 = tr[(tr["kind"] == EV_INTR) & (tr["a"] == 0xE80)]
    rows = []
    for t0, t1 in zip(starts, ends):
        mine = sends[(sends["cycle"] > t0) & (sends["cycle"] < t1)]
        first, last = int(mine["cycle"][0]), int(mine["cycle"][-1])
        target = pir_cpu[int(mine["a"][-1]) & 0x7FF_FFFF]
        got = e80[(e80["thread"] == target) & (e80["cycle"] > last)]["cycle"][0]
        rows.append((first - t0, last - first, int(got) - last, t1 - int(got), t1 - t0,
                     len(mine)))
    a = np.array(rows, dtype=float)
    us = a[:, :5].mean(axis=0) / mhz
    print(f"{len(rows)} rounds of {int(a[0, 5])} IPIs, mean per round (us):")
    for name, v in zip(("queue", "kick", "wake-up (last target)", "finish"), us[:4]):
        print(f"  {name:24s} {v:10.3f}")
    print(f"  {'sum':24s} {us[:4].sum():10.3f}   round {us[4]:.3f}")
    print(f"  per target: queue {us[0] / a[0, 5] * 1000:.0f} ns, kick "
          f"{us[1] / (a[0, 5] - 1) * 1000:.0f} ns")
    print(f"op {res.op_seconds * 1e3:.3f} ms for {len(rows)} rounds")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--memory", default="64MiB")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    a = p.parse_args()
    breakdown([f"workload.memory={a.memory}", *a.set])
