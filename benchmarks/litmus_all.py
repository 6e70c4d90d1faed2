"""Every litmus test of tests/litmus/ on every placement, in fast and exact mode:
the witnesses of its condition, the number of final states and the host speed,
one line per (test, placement, mode); exit status 1 when an outcome POWER
forbids appeared (what the fast test suite checks on a subset).

    PYTHONPATH=. python benchmarks/litmus_all.py                  # 10,000 iterations
    PYTHONPATH=. python benchmarks/litmus_all.py --iterations 100000 --placements smt,cores
"""

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_seed import machine_description  # noqa: E402

from powersim.litmus import load  # noqa: E402
from powersim.litmus_run import PLACEMENTS, run_litmus  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iterations", type=int, default=10000)
    ap.add_argument("--placements", default=",".join(PLACEMENTS))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-delay", type=int, default=300, help="start delays 0..CYCLES")
    ap.add_argument("--memory-model", default="power", choices=("power", "sc"))
    args = ap.parse_args()
    print(machine_description())
    files = sorted((ROOT / "tests" / "litmus").glob("*.litmus"))
    run_litmus(load(str(files[0])), iterations=1)       # load the compiled core once
    t0 = time.perf_counter()
    mismatches, runs, iterations, host = [], 0, 0, 0.0
    print(f"{'test':20} {'placement':9} {'mode':5} {'verdict':9} {'witnesses':>9} "
          f"{'states':>6} {'iter/s':>9}  status")
    for f in files:
        t = load(str(f))
        for placement in args.placements.split(","):
            for exact in (False, True):
                out = run_litmus(t, iterations=args.iterations, placement=placement,
                                 exact=exact, seed=args.seed, max_delay=args.max_delay,
                                 memory_model=args.memory_model)
                runs, iterations, host = runs + 1, iterations + out.iterations, \
                    host + out.host_seconds
                mode = "exact" if exact else "fast"
                print(f"{t.name:20} {placement:9} {mode:5} {t.verdict:9} {out.witnesses:>9} "
                      f"{len(out.histogram):>6} {out.iterations_per_second:>9,.0f}  "
                      f"{out.status}", flush=True)
                if out.status == "MISMATCH":
                    mismatches.append(f"{t.name} {placement} {mode}")
    wall = time.perf_counter() - t0
    print(f"{runs} runs of {args.iterations} iterations: {wall:.1f} s wall, {host:.1f} s in "
          f"the machine, {iterations / host:,.0f} iterations/s there; "
          f"{len(mismatches)} MISMATCH" + (": " + ", ".join(mismatches) if mismatches else ""))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
