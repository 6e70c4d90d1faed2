"""Fit the one calibrated parameter, machine.esb_store_ns, to the 275 s seed
munmap [N1] (docs/VALIDATION.md).

The seed's op time is linear in esb_store_ns (each of the 253,952 IPI rounds
sends 127 XIVE triggers, each sync waiting for the previous trigger store) and
in the number of THPs (every round is the same work).  So: run the seed
scenario at a reduced memory for two values of the parameter, fit
op = a + b * esb_store_ns, scale to the full region, and solve for the target.
Then verify with the full run (`powersim run workloads/seed-munmap-496g.toml`).

    PYTHONPATH=. python benchmarks/calibrate.py [--memory 256MiB] [--target 275]
"""

import argparse

from powersim.config import format_size, load_scenario, parse_size
from powersim.sim import run_scenario

SEED = "workloads/seed-munmap-496g.toml"


def op_seconds(memory: int, esb_ns: int) -> float:
    sc = load_scenario(SEED, [f"workload.memory={memory}", f"machine.esb_store_ns={esb_ns}"])
    return run_scenario(sc, SEED).op_seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memory", default="256MiB", help="reduced region (default 256MiB)")
    ap.add_argument("--target", type=float, default=275.0, help="seconds (default 275, N1)")
    ap.add_argument("--points", default="4000,12000", help="two esb_store_ns values")
    args = ap.parse_args()
    mem = parse_size(args.memory)
    full = load_scenario(SEED).workload.memory
    x0, x1 = (int(v) for v in args.points.split(","))
    y0, y1 = (op_seconds(mem, x) * full / mem for x in (x0, x1))
    b = (y1 - y0) / (x1 - x0)
    a = y0 - b * x0
    fit = (args.target - a) / b
    print(f"seed scaled from {format_size(mem)} to {format_size(full)}:")
    print(f"  esb_store_ns={x0}: {y0:.1f} s   esb_store_ns={x1}: {y1:.1f} s")
    print(f"  op = {a:.2f} s + {b * 1000:.3f} s per us of esb_store")
    print(f"  target {args.target} s -> esb_store_ns = {fit:.0f}")


if __name__ == "__main__":
    main()
