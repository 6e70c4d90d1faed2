"""Speed-up of `powersim sweep --jobs 2` over `--jobs 1`:
the same grid run by the real command into two fresh databases, wall time of
the whole command (worker start and numba cache load included: what a user
waits for).  The numba cache is warmed first by one `powersim run`.

    python benchmarks/bench_sweep.py [--grid SECTION.KEY=V1,V2 ...] [--repeat N]

Prints the two commands, their wall times (best of --repeat), the speed-up,
and the load average before each run (other work on the machine skews it).
Never asserted by a test.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = "workloads/example-small.toml"
GRID = ["workload.memory=16GiB,32GiB,48GiB,64GiB", "kernel.method=ipi,count,percpu,robust"]


def run(cmd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{p.stderr}")
    return wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", action="append", help=f"default: {' '.join(GRID)}")
    ap.add_argument("--repeat", type=int, default=1, help="runs per --jobs value (best)")
    a = ap.parse_args()
    grid = a.grid or GRID
    py = [sys.executable, "-m", "powersim"]
    run(py + ["run", SCENARIO, "--set", "workload.memory=4MiB", "--quiet"])   # warm cache
    walls = {}
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in (1, 2):
            best = None
            for i in range(a.repeat):
                db = Path(tmp) / f"j{jobs}-{i}.sqlite"
                cmd = ["sweep", SCENARIO, *[x for g in grid for x in ("--grid", g)],
                       "--db", str(db), "--jobs", str(jobs), "--quiet"]
                load = os.getloadavg()[0]
                w = run(py + cmd)
                shown = cmd[:cmd.index("--db")] + ["--db", "DB", "--jobs", str(jobs)]
                print(f"$ powersim {' '.join(shown)}: {w:6.1f} s  "
                      f"(load average before: {load:.2f})", flush=True)
                best = w if best is None else min(best, w)
            walls[jobs] = best
    points = 1
    for g in grid:
        points *= len(g.partition("=")[2].split(","))
    print(f"{points} points on {os.cpu_count()} CPUs: --jobs 1 {walls[1]:.1f} s, "
          f"--jobs 2 {walls[2]:.1f} s, speed-up {walls[1] / walls[2]:.2f}x")


if __name__ == "__main__":
    main()
