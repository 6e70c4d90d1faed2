"""The programs of the core's validation microbenchmarks (benchmarks/
microbench.py prints them beside their published figures,
tests/machine/test_issue_model.py asserts their ratios): each returns
simulated cycles, deterministic for a given model."""

from powersim.machine.exec import run_asm
from powersim.machine.layout import SPR_SIMCYC

CHASE_BASE = 0x100000
MFSPR_LAT = 6           # the closing mfspr's own latency [GCC] power9-mfjmpr

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


def ring(nodes, last=None):
    """Image data: each node's first doubleword points at the next."""
    nxt = nodes[1:] + [nodes[0] if last is None else last]
    return "\n".join(f"    .org {a:#x}\n    .quad {b:#x}" for a, b in zip(nodes, nxt))


def adds(dependent):
    """2,000 adds, 8 a loop iteration: each on the previous one's result, or
    all independent."""
    body = "\n    ".join(["add r3, r3, r4"] * 8 if dependent else
                         [f"add r{5 + k}, r4, r4" for k in range(8)])
    src = f"_start:\n    li r4, 1\n    li r6, 250\n    mtctr r6\n1:  {body}\n    bdnz 1b\n    attn\n"
    return run_asm(src, threads=1).threads[0].cycles


def cold_loads(dependent, n=64, stride=384):
    """n loads of never-touched lines: a pointer chase (each address the
    previous load's result) or n independent loads of the same lines."""
    nodes = [0x10000 + k * stride for k in range(n)]
    loads = ["ld r3, 0(r3)"] * n if dependent else \
        [f"ld r{5 + k % 20}, {a - nodes[0]}(r10)" for k, a in enumerate(nodes)]
    src = ("_start:\n    lis r3, 1\n    lis r10, 1\n" + "\n".join("    " + x for x in loads)
           + "\n    add r4, r3, r3\n    attn\n" + ring(nodes, last=0))
    return run_asm(src, threads=1, memory=4 << 20).threads[0].cycles


def smt_loop(smt, siblings_run=False):
    """Thread 0's cycles for LOOP on a core of ``smt`` threads whose others
    halt at once (or run the loop too)."""
    src = LOOP.replace("bne 2f", "nop") if siblings_run else LOOP
    return run_asm(src, smt=smt).threads[0].cycles


def chase_cycles_per_load(nlines, stride=128, timed_pass=2):
    """Cycles per load of a pointer chase over a ring of nlines lines, timed
    on pass ``timed_pass`` (1: cold lines, from DRAM)."""
    nodes = [CHASE_BASE + k * stride for k in range(nlines)]
    warm = "" if timed_pass == 1 else f"""
    li r6, {nlines}
    mtctr r6
1:  ld r3, 0(r3)
    bdnz 1b
    add r3, r3, r4"""
    src = f"""
_start:
    lis r3, {CHASE_BASE >> 16}
    li r4, 0{warm}
    li r6, {nlines}
    mtctr r6
    mfspr r20, {SPR_SIMCYC}
2:  ld r3, 0(r3)
    bdnz 2b
    add r5, r3, r4          # waits for the last load
    mfspr r21, {SPR_SIMCYC}
    attn
{ring(nodes)}
"""
    g = run_asm(src, threads=1, memory=16 << 20).threads[0].gpr
    return (g[21] - g[20] - MFSPR_LAT - 2) / nlines
