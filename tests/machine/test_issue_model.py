"""The issue model (interp.py "Issue model"): dependency-driven issue,
overlapping misses, SMT by running threads, set-associative LRU caches.
Cycle counts are deterministic, so the ratios are asserted exactly as the
model computes them (benchmarks/microbench.py prints the same figures; the
programs are in powersim/microbench.py)."""

import pytest

from powersim.machine.exec import run_asm
from powersim.machine.params import MachineParams
from powersim.microbench import adds, chase_cycles_per_load, cold_loads, smt_loop

def test_dependent_adds_take_2_5x_independent():
    assert adds(dependent=True) >= 2.5 * adds(dependent=False)


def test_pointer_chase_takes_3x_independent_misses():
    assert cold_loads(dependent=True) >= 3 * cold_loads(dependent=False)


def test_single_thread_on_smt4_core_runs_at_smt1_speed():
    """Thread 0's siblings halt at once: the core runs it alone."""
    assert smt_loop(4) <= 1.25 * smt_loop(1)


def test_a_chase_pays_each_level_s_latency():
    p = MachineParams()
    assert round(chase_cycles_per_load(1024)) == p.lat_l2      # beyond L1, within L2
    assert round(chase_cycles_per_load(256, 1152, timed_pass=1)) == p.ns_to_cycles(p.lat_dram_ns)


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
