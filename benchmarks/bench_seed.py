"""Host speed of the seed scenario: `workloads/seed-munmap-496g.toml`
(2 chips x 16 cores x SMT4, CPU 0 munmaps THP-backed memory, one IPI round to
the 127 other CPUs per 2 MiB page with method `ipi`) at a given memory size, for
a list of methods.  Prints, per method, the host wall time of the simulation
(Machine.run only: kernel build, numba compile/cache load and result building
excluded; best of --repeat), simulated instructions, simulated MIPS, the
simulated munmap time, and the machine's description.

    python benchmarks/bench_seed.py                       # 256MiB: 128 rounds
    python benchmarks/bench_seed.py --memory 496GiB       # the full seed (253,952 rounds)
    python benchmarks/bench_seed.py --methods ipi,count,robust --repeat 3

Never asserted by a test (no wall-clock assertions).
"""

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCENARIO = ROOT / "workloads" / "seed-munmap-496g.toml"


def machine_description() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{model}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, "
            f"load average {load}")


def run_once(memory: str, method: str, extra=()):
    """(Machine.run host seconds, instructions, simulated op seconds) of one run
    (``extra``: more --set overrides)."""
    from powersim.config import load_scenario
    from powersim.machine import state
    from powersim.machine.layout import TS_INSN
    from powersim.sim import Simulation
    sc = load_scenario(str(SCENARIO), [f"workload.memory={memory}",
                                       f"kernel.method={method}", *extra])
    sim = Simulation(sc, str(SCENARIO))
    spent = []
    orig = state.Machine.run

    def timed(self, *a, **k):       # time only the simulation (Machine.run calls)
        t0 = time.perf_counter()
        try:
            return orig(self, *a, **k)
        finally:
            spent.append(time.perf_counter() - t0)
            timed.machine = self
    state.Machine.run = timed
    try:
        res = sim.run(progress=False)
    finally:
        state.Machine.run = orig
    insns = int(timed.machine.ts[:, TS_INSN].sum())
    return sum(spent), insns, res.op_seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memory", default="256MiB", help="workload.memory (default 256MiB)")
    ap.add_argument("--methods", default="ipi,count",
                    help="comma-separated kernel.method values (default ipi,count)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per method (best wall)")
    a = ap.parse_args()
    print(f"machine: {machine_description()}")
    print(f"scenario: {SCENARIO.relative_to(ROOT)} --set workload.memory={a.memory}")
    t0 = time.perf_counter()
    run_once("4MiB", "ipi")         # compile the numba core or load it from the cache
    print(f"warm-up (compile or cache load, small run): {time.perf_counter() - t0:.1f} s")
    print(f"{'method':8} {'wall s':>9} {'instructions':>15} {'MIPS':>7} {'sim op s':>10}")
    for method in a.methods.split(","):
        runs = [run_once(a.memory, method) for _ in range(max(1, a.repeat))]
        wall, insns, op = min(runs)
        print(f"{method:8} {wall:9.3f} {insns:15,} {insns / wall / 1e6:7.1f} {op:10.4f}",
              flush=True)


if __name__ == "__main__":
    main()
