"""The race checker (powersim/kernel/checker.py) on hand-made traces, and the
racing workload for safety: walkers on seven CPUs
hammer a THP region while CPU 0 splits and collapses its THPs; with method
``none`` the checker reports races (the same count on a second run), with each
safe method none over more than 100,000 walks."""

from collections import Counter

import numpy as np
import pytest

from powersim.errors import PowersimError

from powersim.kernel import checker
from powersim.kernel.image import Kernel, call, wait_until
from powersim.kernel.layout import MARK_FREE, PACA_IRQ_DBELL
from powersim.kernel.mm import PMD_SIZE, THP_EA
from powersim.kernel.params import KernelParams
from powersim.kernel.trace import (PMD_SET, PMD_SET_BE, PT_ALLOC, PT_FREE, SERIALIZED, WALK_BEGIN,
                                   WALK_DEREF, WALK_END, WALK_PMD, WALK_RESTORED)
from powersim.machine.params import MachineParams
from powersim.mmu import MMUTest

# --- the checker on hand-made records ----------------------------------------------------
SLOT, TABLE, OTHER = 0x10_0000, 0x20_0000, 0x20_0100
TABLE_PMD = (2 << 62) | TABLE | 5           # _PAGE_PRESENT | table | NLS
LEAF_PMD = (3 << 62) | (1 << 40)            # _PAGE_PRESENT | _PAGE_PTE | RPN


def records(*rows):
    """rows: (cycle, cpu, kind, a, b) -> a trace array as Machine.trace() gives."""
    dt = [("cycle", "i8"), ("seq", "i8"), ("thread", "i8"), ("kind", "i8"), ("a", "u8"),
          ("b", "u8")]
    return np.array([(c, i, t, k, a, b) for i, (c, t, k, a, b) in enumerate(rows)], dt)


def be(v):
    return int.from_bytes(v.to_bytes(8, "little"), "big")


def walk(cpu, cycle, pmd, ptep):
    return [(cycle, cpu, WALK_PMD, SLOT, pmd), (cycle + 50, cpu, WALK_DEREF, ptep, 0)]


def test_clean_trace_has_no_race():
    tr = records((1, 0, PT_ALLOC, TABLE, 0), (2, 0, PMD_SET, SLOT, TABLE_PMD),
                 *walk(1, 10, TABLE_PMD, TABLE + 8),
                 (100, 0, PMD_SET_BE, SLOT, 0), (200, 0, PT_FREE, TABLE, 0),
                 (300, 0, PMD_SET, SLOT, LEAF_PMD), *walk(2, 400, LEAF_PMD, SLOT),
                 *walk(3, 500, 0, 0))
    assert checker.check(tr) == [] and checker.count_walks(tr) == 3


def test_dereference_of_a_freed_table_is_a_race():
    tr = records((2, 0, PMD_SET, SLOT, TABLE_PMD), (10, 1, WALK_PMD, SLOT, TABLE_PMD),
                 (20, 0, PMD_SET_BE, SLOT, be(0)), (30, 0, PT_FREE, TABLE, 0),
                 (40, 1, WALK_DEREF, TABLE + 16, 0))
    assert checker.check(tr) == [checker.Race(40, 1, "freed", SLOT, TABLE + 16, TABLE)]


def test_dereference_of_a_reused_table_is_a_race():
    tr = records((10, 1, WALK_PMD, SLOT, TABLE_PMD), (30, 0, PT_FREE, TABLE, 0),
                 (35, 0, PT_ALLOC, TABLE, 0), (36, 0, PMD_SET, OTHER, TABLE_PMD),
                 (40, 1, WALK_DEREF, TABLE, 0))
    assert [r.kind for r in checker.check(tr)] == ["reused"]


@pytest.mark.parametrize("read,new,kind", [(LEAF_PMD, TABLE_PMD, "leaf_to_table"),
                                           (TABLE_PMD, LEAF_PMD, "table_to_leaf")])
def test_a_slot_that_changed_kind_under_the_walker_is_a_race(read, new, kind):
    ptep = SLOT if read == LEAF_PMD else TABLE + 8
    tr = records(*walk(1, 10, read, ptep)[:1], (20, 0, PMD_SET_BE, SLOT, be(new)),
                 *walk(1, 10, read, ptep)[1:])
    assert checker.check(tr) == [checker.Race(60, 1, kind, SLOT, ptep,
                                              TABLE if read == TABLE_PMD else 0)]
    # the same change after the walker's dereference is no race
    late = records(*walk(1, 10, read, ptep), (70, 0, PMD_SET_BE, SLOT, be(new)))
    assert checker.count_races(late) == 0


def test_serializing_entry_under_a_leaf_walker_is_no_race():
    """The walker reads the invalidated entry through the cast: not present, unused."""
    tr = records(*walk(1, 10, LEAF_PMD, SLOT)[:1],
                 (20, 0, PMD_SET_BE, SLOT, be(LEAF_PMD & ~(1 << 63) | 1 << 60)),
                 *walk(1, 10, LEAF_PMD, SLOT)[1:])
    assert checker.check(tr) == []


def test_dereference_without_a_walk_is_a_clear_error():
    with pytest.raises(PowersimError, match="without a walker PMD read"):
        checker.check(records((5, 2, WALK_DEREF, TABLE, 0)))


# --- the racing workload -----------------------------------------------------------------
N_THPS = 4                  # a small region: every walker meets every split and collapse
WINDOW_CPUS = (1, 2, 3)     # walker_window: long read-to-use windows
GUP_CPUS = (4, 5, 6, 7)     # gup_fast_loop
GUP_WALKS = 125_000         # per CPU: enough to walk through the whole churn
ROUNDS = 13                 # split, then collapse half a round later, of one THP per round;
                            # then split THPs 0 and 1 and munmap them (their tables freed)
ROUND_TB = 400_000          # timebase ticks per round (~1.9M cycles at 2.4 GHz)
WINDOWS, WINDOW_ITERS = 60, 120_000
END_TB = 40_000_000         # every CPU answers IPIs until the churn is done


def workload(method, model="power"):
    """Scripts for 1 chip x 2 cores x SMT4 (fixed: the run is deterministic);
    ``model``: machine.memory_model."""
    k = Kernel(thp_bytes=N_THPS * PMD_SIZE, cores_per_chip=2,
               kparams=KernelParams(method=method),
               params=MachineParams(trace_capacity=1 << 20, memory_model=model))
    mm = k.layout.mm
    churn = []
    for r in range(ROUNDS):
        ea = THP_EA + (r % N_THPS) * PMD_SIZE
        churn += [wait_until((2 * r + 1) * ROUND_TB // 2), call("split_huge_pmd", mm, ea),
                  wait_until((r + 1) * ROUND_TB), call("collapse_huge_page", mm, ea)]
    churn += [wait_until((ROUNDS + 1) * ROUND_TB), call("split_huge_pmd", mm, THP_EA),
              call("split_huge_pmd", mm, THP_EA + PMD_SIZE),
              wait_until((2 * ROUNDS + 3) * ROUND_TB // 2), call("munmap", THP_EA, 2 * PMD_SIZE)]
    scripts = {0: churn}
    for c in WINDOW_CPUS:       # each window on a different THP and 64K page
        scripts[c] = [call("walker_window", mm, THP_EA + (7 * j + c) % N_THPS * PMD_SIZE
                           + (j % 32 << 16), WINDOW_ITERS) for j in range(WINDOWS)]
    for c in GUP_CPUS:
        scripts[c] = [call("gup_fast_loop", THP_EA, N_THPS * PMD_SIZE, GUP_WALKS, MARK_FREE)]
    for c in scripts:
        if c:
            scripts[c].append(wait_until(END_TB))
    return k, scripts


def race_run(method, model="power"):
    k, scripts = workload(method, model)
    run = k.run(scripts, mm_cpus=range(8), max_cycles=10**9)
    assert all(t.halted for t in run.result.threads)
    assert run.machine.trace_dropped == 0
    tr = run.machine.trace()
    walks = checker.count_walks(tr)
    gup = [run.marks(c)[MARK_FREE] + run.marks(c)[MARK_FREE + 1] for c in GUP_CPUS]
    churned = [int(x) for x in tr[tr["thread"] == 0]["cycle"][[0, -1]]]
    # every split, collapse and munmap of the churn completed its invalidation: no TLB
    # or walk-cache entry on any core may disagree with the final page tables
    assert MMUTest.attach(run.machine, k.process.ptcr).invariant_violations() == []
    return checker.check(tr), walks, gup, churned, tr


@pytest.mark.parametrize("method", ["ipi", "count", "percpu", "robust", "trim"])
def test_safe_methods_show_no_race(method):
    races, walks, gup, (_, last), tr = race_run(method)
    assert races == []
    assert walks >= 100_000 and all(g > GUP_WALKS // 2 for g in gup)
    assert np.count_nonzero(tr["kind"] == PT_FREE) >= (0 if method == "robust" else 2)
    # the churn happened while the GUP walkers were walking
    walker_end = min(int(tr[tr["thread"] == c]["cycle"].max()) for c in GUP_CPUS)
    assert last < walker_end


def test_none_races_and_the_count_is_deterministic():
    races, walks, _, _, _ = race_run("none")
    assert len(races) >= 1 and walks >= 100_000
    assert {r.cpu for r in races} <= set(WINDOW_CPUS + GUP_CPUS)
    again, _, _, _, _ = race_run("none")
    assert again == races
    print("none:", len(races), Counter(r.kind for r in races), "walks", walks)


# --- soft-masking from cycle stamps ---------------------------------------------------
@pytest.mark.parametrize("method", ["ipi", "trim"])
def test_ipi_in_a_walker_window_is_recorded_then_replayed_at_restore(method):
    """CPU 5 sits in walker_window (irq soft-disabled) when CPU 0's serialize IPI
    arrives: at the window's end irq_happened holds the doorbell (recorded, not
    handled); the doorbell is handled in local_irq_restore (the walker's
    doorbells_recv is 1 and the restore took the replay's time); CPU 0's wait
    ends after the walker left its window, within the replay's time."""
    walker, window = 5, 200_000
    k = Kernel(thp_bytes=2 * PMD_SIZE, cores_per_chip=2, kparams=KernelParams(method=method))
    scripts = {c: [wait_until(3_000_000)] for c in range(1, 8)}
    scripts[walker] = [call("walker_window", k.layout.mm, THP_EA + PMD_SIZE, window)]
    scripts[0] = [wait_until(2000), call("pmdp_huge_get_and_clear", k.layout.mm, THP_EA,
                                         k.process.pmds[0])]
    run = k.run(scripts, mm_cpus=range(8))
    tr = run.machine.trace()

    def one(cpu, kind):
        (rec,) = tr[(tr["thread"] == cpu) & (tr["kind"] == kind)]
        return int(rec["cycle"]), int(rec["a"])
    begin, _ = one(walker, WALK_BEGIN)
    end, happened = one(walker, WALK_END)
    restored, _ = one(walker, WALK_RESTORED)
    served, _ = one(0, SERIALIZED)
    first_pmd_change = int(tr[(tr["thread"] == 0) & (tr["kind"] == PMD_SET_BE)]["cycle"][0])
    assert begin < first_pmd_change < end               # the IPI came inside the window
    assert happened == PACA_IRQ_DBELL                    # recorded, not handled
    assert run.stats(walker)["doorbells_recv"] == 1      # handled, then: in the restore
    replay = restored - end
    assert replay > 100 and end < served <= restored + replay
    bare = Kernel(thp_bytes=2 * PMD_SIZE, cores_per_chip=2,
                  kparams=KernelParams(method=method)).run(
        {walker: scripts[walker]}, mm_cpus=range(8)).machine.trace()
    (bare_end,) = bare[bare["kind"] == WALK_END]["cycle"]
    (bare_restored,) = bare[bare["kind"] == WALK_RESTORED]["cycle"]
    assert bare_restored - bare_end < replay             # the restore without a replay
