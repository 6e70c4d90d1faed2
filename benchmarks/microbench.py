"""Validation microbenchmarks of the core's timing model (interp.py "Issue
model"), each beside its published figure and source (the programs:
powersim/microbench.py):

* load-to-use latency by level, from a pointer chase over a working set that
  fits the level (the second pass is timed);
* dependent vs independent integer adds;
* 64 loads of cold lines: a pointer chase vs independent loads;
* a loop on thread 0 of an SMT4 core whose siblings halted at once, vs SMT1.

Cycle counts are deterministic; tests/machine/test_issue_model.py asserts
the ratios.

    PYTHONPATH=. python benchmarks/microbench.py
"""

from powersim.machine.params import MachineParams
from powersim.microbench import adds, chase_cycles_per_load, cold_loads, smt_loop


def main():
    p = MachineParams()
    rows = [
        ("L1 load-to-use", f"{p.lat_l1} cycles", "[GCC] power9-load",
         chase_cycles_per_load(64)),
        ("L2 hit (core pair)", f"{p.lat_l2} cycles", "[AT-P8] POWER8 proxy, ~13",
         chase_cycles_per_load(1024)),
        ("L3 hit", f"{p.lat_l3} cycles", "[AT-P8] POWER8 proxy, 27-28",
         chase_cycles_per_load(8192)),
        ("DRAM", f"{p.lat_dram_ns} ns = {p.ns_to_cycles(p.lat_dram_ns)} cycles",
         "[AT-P8] POWER8 proxy, 89-91 ns", chase_cycles_per_load(256, 1152, timed_pass=1)),
    ]
    print(f"{'load-to-use (pointer chase)':28s} {'published':>24s}  {'source':30s} simulated")
    for name, pub, src, sim in rows:
        print(f"{name:28s} {pub:>24s}  {src:30s} {sim:6.1f} cycles/load")
    dep, ind = adds(True), adds(False)
    print(f"\n2,000 adds (8 a loop iteration): dependent {dep} cycles, independent {ind} "
          f"cycles: {dep / ind:.2f}x (ALU latency 2 [GCC]; 4 slices [LLVM], a taken branch "
          "a cycle)")
    chase, indep = cold_loads(True), cold_loads(False)
    print(f"64 cold loads: chase {chase} cycles, independent {indep} cycles: "
          f"{chase / indep:.2f}x (lmq_entries = {p.lmq_entries} misses in flight)")
    smt1, smt4, busy = smt_loop(1), smt_loop(4), smt_loop(4, siblings_run=True)
    print(f"loop alone: SMT1 core {smt1} cycles, SMT4 core with 3 halted siblings {smt4} "
          f"cycles ({smt4 / smt1:.2f}x); with 4 threads running the loop {busy} cycles "
          f"({busy / smt1:.2f}x)")


if __name__ == "__main__":
    main()
