"""The kernel's TLB flush paths against Nicholas Piggin's 2017 measurements on
POWER9 radix (the commit messages of "powerpc/64s/radix: Improve TLB flushing
for page table freeing", "Optimize TLB range flush barriers" and "Optimize
flush_tlb_range", [NP-flush]): each published figure (patched kernel) beside
the simulated op time of workloads/tlb-flush.toml.  Kernels of that time had
no tlbie errata work-around, so both errata flags are off.  Local = the
process on one CPU (tlbiel); global = 8 CPUs in mm_cpumask (tlbie).

    PYTHONPATH=. python benchmarks/flush_paths.py
"""

import sys

from powersim import sim
from powersim.config import load_scenario

SCENARIO = "workloads/tlb-flush.toml"
NO_ERRATA = ["machine.erratum_tlbie_erat=false", "machine.erratum_tlbie_stq=false"]
# (what, tlb_op, pages, published local us, published global us)
PUBLISHED = [("munmap, page-table freeing", "munmap", n, lo, gl) for n, lo, gl in zip(
    (1, 2, 4, 8, 16, 32, 64), (1.4, 1.5, 1.7, 1.9, 2.6, 3.7, 6.2),
    (2.1, 2.5, 3.4, 5.2, 8.7, 15.7, 6.2))] + [
    ("munmap, range flush barriers", "munmap", 30, 3.4, 14.4)] + [
    ("mprotect, flush_tlb_range", "mprotect", n, lo, gl) for n, lo, gl in
    ((1, 1.2, 1.6), (30, 6.9, 17.9), (34, 9.0, 8.0))]


def simulated_us(op, pages, vcpus, extra=()):
    sets = [f"workload.tlb_op={op}", f"workload.pages={pages}", f"workload.vcpus={vcpus}",
            *NO_ERRATA, *extra]
    res = sim.Simulation(load_scenario(SCENARIO, sets), SCENARIO).run(progress=False)
    return res.op_seconds * 1e6


def main(extra=()):
    print(f"{'path':30s} {'pages':>5s} | {'local us':>8s} {'sim':>7s} {'ratio':>5s} | "
          f"{'global us':>9s} {'sim':>7s} {'ratio':>5s}")
    for what, op, n, lo, gl in PUBLISHED:
        sl, sg = simulated_us(op, n, 1, extra), simulated_us(op, n, 8, extra)
        print(f"{what:30s} {n:5d} | {lo:8.1f} {sl:7.2f} {sl / lo:5.2f} | "
              f"{gl:9.1f} {sg:7.2f} {sg / gl:5.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
