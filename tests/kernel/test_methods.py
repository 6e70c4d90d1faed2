"""The serialization methods (docs/KERNEL.md "Methods"; [LM-serialize], [LM-bras],
[LM-pmd], [LM-zap], [LM-cpumask]): IPI
accounting of a munmap of K THPs with C CPUs in mm_cpumask, the percpu mask
of walking CPUs, robust's per-PMD flushes, trim's mm_cpumask trimming, and a
walker inside its window holding the sender's serialize (marks: timebase
stamps).  Counts come from the machine's per-thread stats."""

import pytest

from powersim.errors import PowersimError
from powersim.kernel import methods
from powersim.kernel.image import Kernel, call, dump, wait_until
from powersim.kernel.layout import (MARK_FREE, MARK_WIN_ENTER, MARK_WIN_EXIT,
                                    MARK_WIN_HAPPENED, MM_ACTIVE_CPUS, MM_WALKERS, NMARKS,
                                    PACA_IRQ_DBELL, PACA_PERCPU, PACA_TRIM)
from powersim.kernel.methods import trim
from powersim.kernel.mm import PMD_SIZE, THP_EA
from powersim.kernel.params import KernelParams
from powersim.kernel.tlbflush import TLB_SETS_RADIX
from powersim.machine.layout import STAT_NAMES

BEFORE, AFTER = MARK_FREE, MARK_FREE + 1
LISTEN_TB = 3_000_000       # the other CPUs take interrupts in `wait` until then
NOERRATA = dict(tlbie_erat_bug=False, tlbie_stq_bug=False)
EIGHT = dict(cores_per_chip=2)


def kernel(method, k_thps=4, topo=None, **kp):
    return Kernel(thp_bytes=k_thps * PMD_SIZE, kparams=KernelParams(method=method, **kp),
                  **(topo or {}))


class Run:
    """A finished run: memory, per-CPU stats and marks."""

    def __init__(self, k, scripts, mm_cpus, running=None, edit=lambda m: None):
        self.k = k
        self.m = k.load(scripts, mm_cpus, running)
        edit(self.m)
        self.m.prepare()
        self.m.run(10**8)

    def u64(self, addr):
        return int.from_bytes(bytes(self.m.mem[addr:addr + 8]), "little")

    def stat(self, cpu, name):
        return int(self.m.stats[cpu][STAT_NAMES.index(name)])

    def sent(self):
        return sum(self.stat(c, "doorbells_sent") for c in range(self.k.layout.ncpus))

    def recv(self):
        return [self.stat(c, "doorbells_recv") for c in range(self.k.layout.ncpus)]

    def marks(self, cpu):
        base = self.k.layout.marks(cpu)
        return [self.u64(base + 8 * i) for i in range(NMARKS)]

    def mask(self):
        word = self.u64(self.k.layout.mm_cpumask)
        return {c for c in range(self.k.layout.ncpus) if word >> c & 1}


def on_cpu0(k, cmds, mm_cpus, running=None, edit=lambda m: None, others=None):
    """CPU 0 runs ``cmds`` between two stamps; the others listen (or run ``others``)."""
    scripts = {c: [wait_until(LISTEN_TB)] for c in range(1, k.layout.ncpus)}
    scripts.update(others or {})
    scripts[0] = [call("stamp", BEFORE)] + cmds + [call("stamp", AFTER)]
    run = Run(k, scripts, mm_cpus, running, edit)
    assert run.marks(0)[AFTER] < LISTEN_TB      # finished while the others listened
    return run


def munmap(first, count):
    return call("munmap", THP_EA + first * PMD_SIZE, count * PMD_SIZE)


def set_u64(addr, value):
    def edit(m):
        m.mem[addr:addr + 8] = list(value.to_bytes(8, "little"))
    return edit


# --- IPI accounting: munmap of K THPs, C CPUs in mm_cpumask, no walkers -----------------
@pytest.mark.parametrize("method", ["ipi", "trim"])
@pytest.mark.parametrize("k_thps,topo,ncpus", [(1, None, 4), (3, EIGHT, 8)])
def test_ipi_and_trim_send_k_rounds_of_c_minus_1(method, k_thps, topo, ncpus):
    """trim with every CPU of the mask running the mm: do_serialize keeps them
    all, so it counts exactly as ipi [LM-serialize]."""
    k = kernel(method, k_thps, topo)
    run = on_cpu0(k, [munmap(0, k_thps)], mm_cpus=range(ncpus))
    assert run.stat(0, "doorbells_sent") == run.sent() == k_thps * (ncpus - 1)
    assert run.recv() == [0] + [k_thps] * (ncpus - 1)
    assert run.mask() == set(range(ncpus))


@pytest.mark.parametrize("method", ["count", "percpu", "robust", "none"])
def test_methods_without_walkers_send_no_ipi(method):
    k = kernel(method, 3, EIGHT)
    run = on_cpu0(k, [munmap(0, 3)], mm_cpus=range(8))
    assert run.sent() == 0
    assert all(run.u64(p) == 0 for p in k.process.pmds)


@pytest.mark.parametrize("walking", [{2}, {1, 6}])
def test_percpu_sends_only_to_cpus_with_a_nonzero_counter(walking):
    k = kernel("percpu", 3, EIGHT)
    edits = [set_u64(k.layout.paca(c) + PACA_PERCPU, 1) for c in walking]
    run = on_cpu0(k, [munmap(0, 3)], mm_cpus=range(8),
                  edit=lambda m: [e(m) for e in edits])
    assert run.recv() == [3 if c in walking else 0 for c in range(8)]
    assert run.sent() == 3 * len(walking)


def test_percpu_counter_outside_the_mask_is_ignored():
    k = kernel("percpu", 2, EIGHT)
    run = on_cpu0(k, [munmap(0, 2)], mm_cpus=[0, 1, 2, 3],
                  edit=set_u64(k.layout.paca(5) + PACA_PERCPU, 1))
    assert run.sent() == 0


def test_count_sends_rounds_to_the_whole_mask_when_the_count_is_nonzero():
    k = kernel("count", 2, EIGHT)
    run = on_cpu0(k, [munmap(0, 2)], mm_cpus=range(8),
                  edit=set_u64(k.layout.mm + MM_WALKERS, 1))
    assert run.recv() == [0] + [2] * 7


@pytest.mark.parametrize("k_thps", [1, 4])
def test_robust_flushes_each_pmd_of_a_non_fullmm_zap(k_thps):
    """v5.8: no IPI, one 2M tlbie per PMD at the clear, then the gather's range
    flush (one tlbie per 2M page, <= 33 pages); fullmm: only the PID flush."""
    k = kernel("robust", k_thps, **NOERRATA)
    run = on_cpu0(k, [munmap(0, k_thps)], mm_cpus=range(4))
    assert run.sent() == 0 and run.stat(0, "tlbie") == 2 * k_thps
    run = on_cpu0(k, [call("exit_mmap", THP_EA, k_thps * PMD_SIZE)], mm_cpus=range(4))
    assert run.sent() == 0 and run.stat(0, "tlbie") == 1


@pytest.mark.parametrize("method,invalidate,collapse", [("robust", 0, 3), ("ipi", 3, 3),
                                                        ("count", 0, 0)])
def test_invalidate_and_collapse_call_sites(method, invalidate, collapse):
    """robust models v5.8: pmdp_invalidate sends nothing, pmdp_collapse_flush
    keeps its IPI round (dropped only in v6.1, [LM-pmd])."""
    k = kernel(method, 2)
    mm, pmds = k.layout.mm, k.process.pmds
    run = on_cpu0(k, [call("pmdp_invalidate", mm, THP_EA, pmds[0])], mm_cpus=range(4))
    assert run.sent() == invalidate
    run = on_cpu0(k, [call("pmdp_collapse_flush", mm, THP_EA + PMD_SIZE, pmds[1])],
                  mm_cpus=range(4))
    assert run.sent() == collapse


# --- trim -------------------------------------------------------------------------------
def test_trim_drops_cpus_not_using_the_mm_then_sends_fewer():
    """do_serialize on a CPU whose current->mm is another mm: out of mm_cpumask,
    active_cpus - 1, a 128-set tlbiel RIC=2 flush of the PID (exit_lazy_flush_tlb)."""
    k = kernel("trim", 2, EIGHT, **NOERRATA)
    mm_cpus, running = range(8), {0, 1, 4}
    run = on_cpu0(k, [munmap(0, 1), munmap(1, 1)], mm_cpus, running)
    assert run.recv() == [0, 2, 1, 1, 2, 1, 1, 1]      # first round 7, second round 2
    assert run.sent() == 7 + 2
    assert run.mask() == running
    assert run.u64(k.layout.mm + MM_ACTIVE_CPUS) == len(running)
    for c in range(1, 8):
        assert run.stat(c, "tlbiel") == (0 if c in running else TLB_SETS_RADIX)


def test_exit_flush_lazy_tlbs_trims_and_always_flushes():
    """The trim clock's IPI round (always_flush): CPUs not running the mm leave
    the mask; every target flushes the PID locally, those that stay too."""
    k = kernel("trim", 1, EIGHT)
    run = on_cpu0(k, [call("exit_flush_lazy_tlbs", k.layout.mm)], range(6), {0, 1, 4})
    assert run.mask() == {0, 1, 4} and run.sent() == 5
    assert run.u64(k.layout.mm + MM_ACTIVE_CPUS) == 3
    assert [run.stat(c, "tlbiel") for c in range(8)] == [0] + [TLB_SETS_RADIX] * 5 + [0, 0]


def test_ipi_never_trims():
    k = kernel("ipi", 2, EIGHT)
    run = on_cpu0(k, [munmap(0, 1), munmap(1, 1)], range(8), running={0})
    assert run.sent() == 14 and run.mask() == set(range(8))


def test_trim_clock_fires_every_1073rd_tick():
    k = kernel("trim", 0)
    ticks = [call("call_mark", MARK_FREE + 2 + i, "tick_and_test_trim_clock", 0, 0)
             for i in range(3)]
    run = on_cpu0(k, ticks, [0], edit=set_u64(k.layout.paca(0) + PACA_TRIM,
                                               trim.TRIM_CLOCK_MAX - 2))
    assert run.marks(0)[MARK_FREE + 2:MARK_FREE + 5] == [0, 1, 0]
    assert run.u64(k.layout.paca(0) + PACA_TRIM) == 1


# --- a walker in its window holds the serialize ----------------------------------------
WALKER, SEND_TB, WINDOW = 5, 2000, 200_000


@pytest.mark.parametrize("method,waits", [("ipi", True), ("count", True), ("percpu", True),
                                          ("trim", True), ("robust", False),
                                          ("none", False)])
def test_walker_in_its_window_delays_the_serialize(method, waits):
    """CPU 5 parks in walker_window (its method's bracket); CPU 0 clears another
    THP's PMD while it is inside.  Methods that serialize by IPI cannot finish
    before the walker leaves its window (the doorbell is recorded in
    irq_happened meanwhile); robust and none do not wait."""
    k = kernel(method, 2, EIGHT)
    walker = [call("walker_window", k.layout.mm, THP_EA + PMD_SIZE, WINDOW)]
    cmds = [wait_until(SEND_TB), call("stamp", BEFORE),
            call("pmdp_huge_get_and_clear", k.layout.mm, THP_EA, k.process.pmds[0])]
    run = on_cpu0(k, cmds, range(8), others={WALKER: walker})
    s, w = run.marks(0), run.marks(WALKER)
    assert w[MARK_WIN_ENTER] < s[BEFORE] < w[MARK_WIN_EXIT]    # cleared during the walk
    assert (s[AFTER] > w[MARK_WIN_EXIT]) == waits
    assert (w[MARK_WIN_HAPPENED] == PACA_IRQ_DBELL) == waits
    expected = {"ipi": [0] + [1] * 7, "count": [0] + [1] * 7, "trim": [0] + [1] * 7,
                "percpu": [1 if c == WALKER else 0 for c in range(8)]}
    assert run.recv() == expected.get(method, [0] * 8)
    assert run.u64(k.layout.mm + MM_WALKERS) == 0


# --- the hook set ------------------------------------------------------------------------
HOOKS = ("NAME", "zap_flush_per_pmd", "walker_recheck", "emit", "serialize",
         "free_pgtable", "walker_begin", "walker_end")


def test_every_method_has_the_hook_set_and_builds():
    assert sorted(methods.METHODS) == sorted(["ipi", "count", "percpu", "robust", "trim",
                                              "none"])
    for name, mod in methods.METHODS.items():
        assert [h for h in HOOKS if not hasattr(mod, h)] == [] and mod.NAME == name
        assert methods.get(name) is mod


def test_unknown_method_is_a_clear_error():
    with pytest.raises(PowersimError) as e:
        methods.get("rcu")
    assert "allowed" in str(e.value) and "percpu" in str(e.value)


@pytest.mark.parametrize("method,names", [
    ("count", ["serialize_against_pte_lookup"]),
    ("percpu", ["serialize_against_pte_lookup"]),
    ("robust", ["serialize_against_pte_lookup", "tlb_remove_table_deferred"]),
    ("trim", ["serialize_against_pte_lookup", "do_serialize", "do_exit_flush_lazy_tlb",
              "exit_flush_lazy_tlbs", "tick_and_test_trim_clock"])])
def test_dump_shows_the_method_routines(method, names):
    text = "\n".join(dump(kernel(method, 1).image))
    for name in names + ["gup_fast", "__find_linux_pte"]:
        assert f"\n{name}:\n" in text
