"""The issue model (interp.py "Issue model"): dependency-driven issue,
overlapping misses, SMT by running threads, set-associative LRU caches.
Cycle counts are deterministic, so the ratios are asserted exactly as the
model computes them (benchmarks/microbench.py prints the same figures)."""

import pytest

from powersim.machine.exec import run_asm

ADDS = """
_start:
    li r4, 1
    li r6, 250
    mtctr r6
1:  {body}
    bdnz 1b
    attn
"""
DEP = "\n    ".join(["add r3, r3, r4"] * 8)
INDEP = "\n    ".join(f"add r{5 + k}, r4, r4" for k in range(8))


def chase_source(n=64, stride=384, dependent=True):
    """n loads of never-touched lines: a pointer chase (each address the
    previous load's result) or n independent loads of the same lines."""
    base = 0x10000
    nodes = [base + k * stride for k in range(n)]
    loads = ["ld r3, 0(r3)"] * n if dependent else \
        [f"ld r{5 + k % 20}, {a - base}(r10)" for k, a in enumerate(nodes)]
    data = "\n".join(f"    .org {a:#x}\n    .quad {b:#x}" for a, b in zip(nodes, nodes[1:] + [0]))
    return f"""
_start:
    lis r3, {base >> 16}
    lis r10, {base >> 16}
    {chr(10).join('    ' + x for x in loads)}
    add r4, r3, r3
    attn
{data}
"""


def cycles(src, **kw):
    return run_asm(src, threads=1, **kw).threads[0].cycles


def test_dependent_adds_take_2_5x_independent():
    dep, ind = cycles(ADDS.format(body=DEP)), cycles(ADDS.format(body=INDEP))
    assert dep >= 2.5 * ind


def test_pointer_chase_takes_3x_independent_misses():
    chase = cycles(chase_source(dependent=True), memory=4 << 20)
    indep = cycles(chase_source(dependent=False), memory=4 << 20)
    assert chase >= 3 * indep


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


def test_single_thread_on_smt4_core_runs_at_smt1_speed():
    """Thread 0's siblings halt at once: the core runs it alone."""
    smt1 = run_asm(LOOP, smt=1).threads[0].cycles
    smt4 = run_asm(LOOP, smt=4).threads[0].cycles
    assert smt4 <= 1.25 * smt1


def conflict_source(lines, stride, rounds=4):
    body = "\n".join(f"    ld r5, {k * stride - 32768}(r10)" for k in range(lines))
    return f"""
_start:
    lis r10, 0x11           # 1 MiB + 32 KiB: the offsets start at -32 KiB
    li r6, {rounds}
    mtctr r6
1:
{body}
    bdnz 1b
    attn
"""


@pytest.mark.parametrize("lines, misses", [(8, 8), (9, 9 * 4)])
def test_l1_is_8_way_lru(lines, misses):
    """8 lines at a 4 KiB stride (one L1 set) stay; a 9th evicts each in turn."""
    res = run_asm(conflict_source(lines, 4096), threads=1)
    assert res.threads[0].stats["l1_miss"] == misses


L3_SET_WALK = """
_start:
    li r6, 4
    mtctr r6
1:  lis r10, 0x10
    li r7, {lines}
2:  ld r5, 0(r10)
    addis r10, r10, 8       # 512 KiB: the same L1, L2 and L3 set
    addi r7, r7, -1
    cmpdi r7, 0
    bne 2b
    bdnz 1b
    attn
"""


@pytest.mark.parametrize("lines, l3_hits", [(20, 20 * 3), (21, 0)])
def test_l3_region_is_20_way_lru(lines, l3_hits):
    """20 lines of one L3 set stay in the pair's 10 MiB region; a 21st evicts
    each in turn (then they come from another region of the chip's L3)."""
    res = run_asm(L3_SET_WALK.format(lines=lines), threads=1, memory=16 << 20)
    assert res.threads[0].stats["l3_hits"] == l3_hits
