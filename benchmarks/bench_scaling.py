"""How host cost grows with the work: the seed scenario
(`workloads/seed-munmap-496g.toml`) on a small grid, the host wall time of the
simulation (Machine.run only, as bench_seed.py: kernel build, numba cache load
and result building excluded; best of --repeat), and the fitted log-log
exponents

    ipi:           wall ~ THPs^a x CPUs^b   (CPUs = workload.vcpus, the CPUs in
                                             mm_cpumask, each sent an IPI a round)
    count, robust: wall ~ THPs^a            (all 128 CPUs in mm_cpumask)

Linear cost is a = b = 1.

    python benchmarks/bench_scaling.py
    python benchmarks/bench_scaling.py --thps 64,128,256 --cpus 16,32,64 \
        --thps-other 2048,8192,32768 --repeat 2

Never asserted by a test (no wall-clock assertions).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_seed import machine_description, run_once  # noqa: E402

THP = 2 << 20


def ints(s):
    return [int(x) for x in s.split(",") if x]


def wall(thps, method, cpus, repeat):
    best = None
    for _ in range(repeat):
        w, insns, _op = run_once(f"{thps * THP // (1 << 20)}MiB", method,
                                 extra=[f"workload.vcpus={cpus}"])
        best = w if best is None or w < best else best
    return best, insns


def fit(rows, ncols):
    """Least squares of log wall on [1, log x1, ..., log xn]: the exponents."""
    X = np.array([[1.0] + [np.log(r[i]) for i in range(ncols)] for r in rows])
    y = np.log([r[-1] for r in rows])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    return coef[1:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--thps", default="64,128,256", help="THPs for ipi (default 64,128,256)")
    ap.add_argument("--cpus", default="16,32,64",
                    help="CPUs in mm_cpumask for ipi (default 16,32,64)")
    ap.add_argument("--thps-other", default="2048,8192,32768",
                    help="THPs for count and robust (default 2048,8192,32768)")
    ap.add_argument("--methods", default="ipi,count,robust")
    ap.add_argument("--repeat", type=int, default=2, help="runs per point (best wall)")
    a = ap.parse_args()
    methods = a.methods.split(",")
    print(f"machine: {machine_description()}")
    print("scenario: workloads/seed-munmap-496g.toml --set workload.memory=<THPs x 2MiB> "
          "--set workload.vcpus=<CPUs>; wall = Machine.run host seconds, best of "
          f"{a.repeat}")
    if "ipi" in methods:
        rows = []
        print(f"{'method':7s} {'THPs':>6s} {'CPUs':>5s} {'wall s':>8s} {'insns':>12s} "
              f"{'us/(THP*CPU)':>13s}")
        for n in ints(a.thps):
            for c in ints(a.cpus):
                w, insns = wall(n, "ipi", c, a.repeat)
                rows.append((n, c, w))
                print(f"{'ipi':7s} {n:6d} {c:5d} {w:8.3f} {insns:12d} {1e6 * w / (n * c):13.2f}",
                      flush=True)
        ea, eb = fit(rows, 2)
        print(f"ipi: wall ~ THPs^{ea:.2f} x CPUs^{eb:.2f}")
    for m in methods:
        if m == "ipi":
            continue
        rows = []
        for n in ints(a.thps_other):
            w, insns = wall(n, m, 128, a.repeat)
            rows.append((n, w))
            print(f"{m:7s} {n:6d} {128:5d} {w:8.3f} {insns:12d} {1e6 * w / n:13.2f} us/THP",
                  flush=True)
        (ea,) = fit(rows, 1)
        print(f"{m}: wall ~ THPs^{ea:.2f}")
    print(f"machine after: {machine_description()}")


if __name__ == "__main__":
    main()
