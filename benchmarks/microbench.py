"""Validation microbenchmarks of the core's timing model (interp.py "Issue
model"), each beside its published figure and source:

* load-to-use latency by level, from a pointer chase over a working set that
  fits the level (the second pass is timed);
* dependent vs independent integer adds;
* 64 loads of cold lines: a pointer chase vs independent loads;
* a loop on thread 0 of an SMT4 core whose siblings halted at once, vs SMT1.

Cycle counts are deterministic; tests/machine/test_issue_model.py asserts
the ratios.

    PYTHONPATH=. python benchmarks/microbench.py
"""

from powersim.machine.exec import run_asm
from powersim.machine.layout import SPR_SIMCYC
from powersim.machine.params import MachineParams

BASE = 0x100000


def chase_cycles_per_load(nlines, stride=128, timed_pass=2):
    """Cycles per load of a pointer chase over nlines lines (a ring), timed
    on pass ``timed_pass`` (1: cold lines, from DRAM)."""
    nodes = [BASE + k * stride for k in range(nlines)]
    data = "\n".join(f"    .org {a:#x}\n    .quad {b:#x}" for a, b in zip(nodes, nodes[1:] + nodes[:1]))
    warm = "" if timed_pass == 1 else f"""
    li r6, {nlines}
    mtctr r6
1:  ld r3, 0(r3)
    bdnz 1b
    add r3, r3, r4"""
    src = f"""
_start:
    lis r3, {BASE >> 16}
    li r4, 0{warm}
    li r6, {nlines}
    mtctr r6
    mfspr r20, {SPR_SIMCYC}
2:  ld r3, 0(r3)
    bdnz 2b
    add r5, r3, r4          # waits for the last load
    mfspr r21, {SPR_SIMCYC}
    attn
{data}
"""
    g = run_asm(src, threads=1, memory=16 << 20).threads[0].gpr
    mf = 6                   # the second mfspr's own latency [GCC] power9-mfjmpr
    return (g[21] - g[20] - mf - 2) / nlines


def adds(dependent):
    body = "\n    ".join(["add r3, r3, r4"] * 8 if dependent else
                         [f"add r{5 + k}, r4, r4" for k in range(8)])
    src = f"_start:\n    li r4, 1\n    li r6, 250\n    mtctr r6\n1:  {body}\n    bdnz 1b\n    attn\n"
    return run_asm(src, threads=1).threads[0].cycles


def cold_loads(dependent, n=64, stride=384):
    nodes = [0x10000 + k * stride for k in range(n)]
    loads = ["ld r3, 0(r3)"] * n if dependent else \
        [f"ld r{5 + k % 20}, {a - nodes[0]}(r10)" for k, a in enumerate(nodes)]
    data = "\n".join(f"    .org {a:#x}\n    .quad {b:#x}" for a, b in zip(nodes, nodes[1:] + [0]))
    src = ("_start:\n    lis r3, 1\n    lis r10, 1\n" + "\n".join("    " + x for x in loads)
           + "\n    add r4, r3, r3\n    attn\n" + data)
    return run_asm(src, threads=1, memory=4 << 20).threads[0].cycles


LOOP = """
_start:
    cmpdi r3, 0
    bne 2f
    li r6, 2000
    mtctr r6
1:  addi r5, r5, 1
    xor r7, r5, r6
    bdnz 1b
2:  attn
"""


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
    smt1 = run_asm(LOOP, smt=1).threads[0].cycles
    smt4 = run_asm(LOOP, smt=4).threads[0].cycles
    busy = run_asm(LOOP.replace("bne 2f", "nop"), smt=4).threads[0].cycles
    print(f"loop alone: SMT1 core {smt1} cycles, SMT4 core with 3 halted siblings {smt4} "
          f"cycles ({smt4 / smt1:.2f}x); with 4 threads running the loop {busy} cycles "
          f"({busy / smt1:.2f}x)")


if __name__ == "__main__":
    main()
