"""Host memory of the munmap scenario: peak RSS of a fresh process that builds
the kernel (page tables and struct pages: 64 B per 64 KiB frame) and runs the
munmap, for each size asked (by default the seed's 496 GiB and 4 TiB).

    PYTHONPATH=. python benchmarks/bench_memory.py [--method count] [--memory 496GiB ...]

The machine memory is sized for each run: the page tables, the vmemmap and
the kernel's data, rounded up to 64 MiB (machine.memory is at most 16 GiB).
The numba core is compiled (or found in the cache) in a process of its own
first, so the figures never include a compile.
"""

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
from powersim.config import load_scenario
from powersim.sim import Simulation
sc = load_scenario("workloads/seed-munmap-496g.toml", sys.argv[1:])
t = time.perf_counter()
res = Simulation(sc, "seed").run(progress=False)
print(json.dumps({"op_seconds": res.op_seconds, "host_seconds": time.perf_counter() - t,
                  "gather_flushes": res.counters["gather_flushes"],
                  "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

WARM = r"""
from powersim.machine.params import MachineParams
from powersim.machine.state import Machine
Machine(MachineParams()).prepare()
"""
TARGETS = {"496GiB": 1.5 * 1024, "4TiB": 6 * 1024}     # MiB: the figures to stay under


def machine_memory(nbytes: int) -> int:
    """Page tables (~1/7000 of the region), struct pages (1/1024) and 64 MiB for
    the kernel, in 64 MiB steps."""
    need = nbytes // 1024 + nbytes // 7000 + (64 << 20)
    return -(-need // (64 << 20)) * (64 << 20)


def measure(size: str, method: str) -> dict:
    from powersim.config import parse_size
    nbytes = parse_size(size)
    args = [f"workload.memory={size}", f"kernel.method={method}",
            f"machine.memory={machine_memory(nbytes)}"]
    out = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--method", default="count")
    p.add_argument("--memory", action="append", default=None)
    a = p.parse_args()
    subprocess.run([sys.executable, "-c", WARM], check=True)
    for size in a.memory or ["496GiB", "4TiB"]:
        r = measure(size, a.method)
        target = TARGETS.get(size)
        verdict = "" if target is None else \
            f" ({'under' if r['maxrss_mib'] < target else 'OVER'} {target:,.0f} MiB)"
        print(f"{size:>8s} {a.method}: peak RSS {r['maxrss_mib']:7,.0f} MiB{verdict}, op "
              f"{r['op_seconds']:.3f} s simulated, {r['gather_flushes']} gather flushes, "
              f"host {r['host_seconds']:.0f} s", flush=True)
