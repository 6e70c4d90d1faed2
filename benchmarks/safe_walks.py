"""The five safe methods on a race scenario under the weak memory model, until
each has made at least a million lockless walks: walks, races (by kind) and the
host time per method.  The safe methods must show no race.

The scenario (1 chip x 2 cores x SMT4, one THP): CPU 0 splits and collapses the
THP on a timebase grid; CPU 4 (the other core) opens one walker window per
round, swept across the collapse's PMD clear (the aimed SB scenario of
tests/kernel/test_barriers.py); CPUs 1-3 and 5-7 call GUP-fast on the THP back
to back (``gup_fast_paced``).  It runs in segments of ``--rounds`` rounds (a new
machine each, so the trace stays small), until the walks reach ``--walks``.

    PYTHONPATH=. python benchmarks/safe_walks.py [--walks 1000000] [--model power]
"""

import argparse
import sys
import time
from collections import Counter

from powersim.kernel import checker
from powersim.kernel.image import Kernel, call, wait_until
from powersim.kernel.mm import PMD_SIZE, THP_EA
from powersim.kernel.params import KernelParams
from powersim.machine.params import MachineParams

SAFE = ("ipi", "count", "percpu", "robust", "trim")
PERIOD = 10_000                 # timebase ticks per round
SPLIT_LEAD, COLLAPSE_LEAD = PERIOD // 2, -32    # as test_barriers.AIM["collapse"]
WINDOW_ITERS = 300
WINDOW_CPU, GUP_CPUS = 4, (1, 2, 3, 5, 6, 7)


def segment(k, rounds):
    """One run of ``rounds`` rounds: (walks, races)."""
    until = PERIOD * (rounds + 1)
    scripts = {0: [call("split_collapse_paced", PERIOD, SPLIT_LEAD, COLLAPSE_LEAD, until)],
               WINDOW_CPU: [call("walker_windows_paced", THP_EA, WINDOW_ITERS, PERIOD, until)]}
    for c in GUP_CPUS:
        scripts[c] = [call("gup_fast_paced", THP_EA, PMD_SIZE, 0, until)]
    for c in (WINDOW_CPU, *GUP_CPUS):
        scripts[c].append(wait_until(until + PERIOD))     # answering the last IPIs
    run = k.run(scripts, mm_cpus=range(8), max_cycles=10**10)
    if not all(t.halted for t in run.result.threads) or run.machine.trace_dropped:
        raise SystemExit(f"{k.kparams.method}: the run did not finish (or dropped trace "
                         "records)")
    tr = run.machine.trace()
    return checker.count_walks(tr), checker.check(tr)


def measure(method, model, walks, rounds, progress=True):
    t0 = time.perf_counter()
    k = Kernel(thp_bytes=PMD_SIZE, cores_per_chip=2, kparams=KernelParams(method=method),
               params=MachineParams(memory_model=model, trace_capacity=1 << 21))
    done, races = 0, []
    while done < walks:
        n, r = segment(k, rounds)
        done, races = done + n, races + r
        if progress:
            print(f"\r{method}: {done:,} / {walks:,} walks, {len(races)} races, "
                  f"{time.perf_counter() - t0:.0f} s", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    return done, races, time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--walks", type=int, default=1_000_000, help="walks per method (at least)")
    ap.add_argument("--model", default="power", choices=("power", "sc"),
                    help="machine.memory_model")
    ap.add_argument("--rounds", type=int, default=128, help="rounds per segment")
    ap.add_argument("--methods", default=",".join(SAFE), help="comma-separated")
    args = ap.parse_args(argv)
    rows = [(m, *measure(m, args.model, args.walks, args.rounds))
            for m in args.methods.split(",")]
    print(f"memory_model = {args.model}")
    print(f"{'method':8s} {'walks':>10s} {'races':>6s} {'host s':>7s} {'walks/s':>8s}  kinds")
    for m, walks, races, secs in rows:
        kinds = ", ".join(f"{k} {n}" for k, n in Counter(r.kind for r in races).items())
        print(f"{m:8s} {walks:10,d} {len(races):6d} {secs:7.1f} {walks / secs:8.0f}  {kinds}")
    return 1 if any(races for _, _, races, _ in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
