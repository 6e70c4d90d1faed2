"""SWITCH_MM (switch_mm_irqs_off, [LM-cpumask]) growing mm_cpumask, and the
v5.12 flush_type_needed of ``trim`` [LM-zap]: NONE when active_cpus is
0, the trim clock's exit_flush_lazy_tlbs on the 1073rd flush of a CPU.
Counts come from the machine's per-thread stats."""

import pytest

from powersim.errors import PowersimError
from powersim.kernel.image import Kernel, call, switch_mm, wait_until
from powersim.kernel.layout import MM_ACTIVE_CPUS, MM_PID, PACA_CURRENT_MM
from powersim.kernel.methods import trim
from powersim.kernel.mm import PMD_SIZE, THP_EA
from powersim.kernel.params import KernelParams
from powersim.kernel.tlbflush import SPR_PIDR, TLB_SETS_RADIX
from powersim.machine.layout import STAT_NAMES

NOERRATA = dict(tlbie_erat_bug=False, tlbie_stq_bug=False)
EIGHT = dict(cores_per_chip=2)
SWITCHED_TB = 200_000       # the others have switched in (and out) by then
LISTEN_TB = 3_000_000       # the others take interrupts in `wait` until then


def kernel(method, k_thps=2, topo=None):
    return Kernel(thp_bytes=k_thps * PMD_SIZE, kparams=KernelParams(method=method, **NOERRATA),
                  **(topo or {}))


class Run:
    def __init__(self, k, scripts, mm_cpus=(), running=None, mm_users=2):
        self.k = k
        self.run = k.run(scripts, mm_cpus=mm_cpus, running=running, mm_users=mm_users)
        self.m = self.run.machine

    def u64(self, addr):
        return self.run.u64(addr)

    def stat(self, cpu, name):
        return int(self.m.stats[cpu][STAT_NAMES.index(name)])

    def total(self, name):
        return sum(self.stat(c, name) for c in range(self.k.layout.ncpus))

    def mask(self):
        word = self.u64(self.k.layout.mm_cpumask)
        return {c for c in range(self.k.layout.ncpus) if word >> c & 1}

    def active(self):
        return self.u64(self.k.layout.mm + MM_ACTIVE_CPUS)


def listen(cmds=()):
    return list(cmds) + [wait_until(LISTEN_TB)]


def munmap(first, count):
    return call("munmap", THP_EA + first * PMD_SIZE, count * PMD_SIZE)


# --- SWITCH_MM ---------------------------------------------------------------------------
def test_switch_mm_sets_exactly_its_bit_once():
    k = kernel("ipi")
    mm = k.layout.mm
    run = Run(k, {2: [switch_mm(mm), switch_mm(mm)]})
    assert run.mask() == {2} and run.active() == 1
    assert run.u64(k.layout.paca(2) + PACA_CURRENT_MM) == mm
    assert run.m.sprs[2, SPR_PIDR] == run.u64(mm + MM_PID) != 0
    assert all(run.u64(k.layout.paca(c) + PACA_CURRENT_MM) == 0 for c in (0, 1, 3))


def test_switch_mm_keeps_a_preset_mask_and_switches_away():
    """Kernel.run(mm_cpus=...) presets the mask: a switch of a CPU already in it
    adds nothing; switching to no mm leaves the mask alone (v5.4 never clears)."""
    k = kernel("ipi")
    run = Run(k, {1: [switch_mm(k.layout.mm), switch_mm(0)], 3: [switch_mm(k.layout.mm)]},
              mm_cpus=[0, 1], running=[0])
    assert run.mask() == {0, 1, 3} and run.active() == 3
    assert run.u64(k.layout.paca(1) + PACA_CURRENT_MM) == 0 and run.m.sprs[1, SPR_PIDR] == 0


@pytest.mark.parametrize("bad", [-1, "mm", 1 << 64, None])
def test_switch_mm_rejects_a_bad_operand(bad):
    with pytest.raises(PowersimError) as e:
        switch_mm(bad)
    assert "SWITCH_MM" in str(e.value) and "allowed" in str(e.value)


def _switch_in_and_out(k, away, then, mm_users=2):
    """CPUs 1..7 switch in; those in ``away`` switch out again; after
    SWITCHED_TB CPU 0 switches in and runs ``then``."""
    mm = k.layout.mm
    scripts = {c: listen([switch_mm(mm)] + ([switch_mm(0)] if c in away else []))
               for c in range(1, 8)}
    scripts[0] = [switch_mm(mm), wait_until(SWITCHED_TB)] + then
    return Run(k, scripts, mm_users=mm_users)


@pytest.mark.parametrize("method", ["ipi", "trim"])
def test_the_mask_grows_by_switches_and_only_trim_drops_cpus_switched_away(method):
    """Two munmaps of one THP each: ipi's rounds both go to all 7 others;
    trim's first round drops the 4 CPUs that switched away, the second goes to
    the 3 that still run the mm."""
    away = {2, 3, 5, 7}
    run = _switch_in_and_out(kernel(method, 2, EIGHT), away, [munmap(0, 1), munmap(1, 1)])
    kept = set(range(8)) - (away if method == "trim" else set())
    assert run.mask() == kept and run.active() == len(kept)
    second_round = len(kept) - 1
    assert run.stat(0, "doorbells_sent") == run.total("doorbells_sent") == 7 + second_round
    assert [run.stat(c, "doorbells_recv") for c in range(8)] == \
        [0] + [1 + (c in kept) for c in range(1, 8)]


# --- flush_type_needed, v5.12 (trim) -----------------------------------------------------
@pytest.mark.parametrize("method,flushes", [("trim", False), ("ipi", True)])
def test_no_active_cpus_means_no_flush_under_trim(method, flushes):
    """active_cpus == 0 (no CPU ever switched to the mm): trim's munmap and
    exit (fullmm) flush nothing; ipi's v5.4 decision still tlbies."""
    k = kernel(method, 2)
    run = Run(k, {0: [munmap(0, 1), call("exit_mmap", THP_EA, 2 * PMD_SIZE)]})
    assert all(run.u64(p) == 0 for p in k.process.pmds)   # the zaps did happen
    assert run.total("doorbells_sent") == 0 and run.total("tlbiel") == 0
    assert (run.total("tlbie") > 0) == flushes


@pytest.mark.parametrize("n,trimmed", [(trim.TRIM_CLOCK_MAX - 1, False),
                                       (trim.TRIM_CLOCK_MAX, True)])
def test_trim_clock_trims_on_the_1073rd_flush(n, trimmed):
    """All 8 CPUs switch in, 2 and 3 switch away (active_cpus 8: every flush of
    CPU 0 is GLOBAL, one tlbie per 2M page).  The trim clock's period-th flush
    is instead exit_flush_lazy_tlbs (an IPI to each other CPU of the mask,
    each flushes the PID locally, 2 and 3 leave) and LOCAL (one tlbiel: CPU 0
    runs the mm).  The serialize round of a PMD clear afterwards then goes to
    the 5 CPUs still in the mask; without the trim it goes to all 7 (and
    do_serialize drops 2 and 3 then)."""
    k = kernel("trim", 1, EIGHT)
    clear = call("pmdp_huge_get_and_clear", k.layout.mm, THP_EA, k.process.pmds[0])
    run = _switch_in_and_out(k, {2, 3}, [call("flush_range_loop", k.layout.mm, THP_EA, n),
                                         clear])
    kept = {0, 1, 4, 5, 6, 7}
    assert run.mask() == kept and run.active() == len(kept)
    serialize_round = len(kept) - 1 if trimmed else 7
    assert run.total("doorbells_sent") == 7 * trimmed + serialize_round
    assert [run.stat(c, "doorbells_recv") for c in range(1, 8)] == \
        [1 + (trimmed and c in kept) for c in range(1, 8)]
    assert run.stat(0, "tlbie") == n - trimmed and run.stat(0, "tlbiel") == trimmed
    assert [run.stat(c, "tlbiel") for c in range(1, 8)] == \
        [TLB_SETS_RADIX * (trimmed or c not in kept) for c in range(1, 8)]


def test_trim_clock_drops_the_only_cpu_when_it_does_not_run_the_mm():
    """CPU 0 alone in the mask, current->mm another mm: LOCAL (one tlbiel per
    flush) until the clock fires; then it trims itself (128-set tlbiel RIC=2),
    active_cpus becomes 0 and the following flushes are NONE."""
    k = kernel("trim", 1)
    extra = 5
    run = Run(k, {0: [call("flush_range_loop", k.layout.mm, THP_EA,
                           trim.TRIM_CLOCK_MAX + extra)]}, mm_cpus=[0], running=())
    assert run.mask() == set() and run.active() == 0
    assert run.stat(0, "tlbiel") == trim.TRIM_CLOCK_MAX - 1 + TLB_SETS_RADIX
    assert run.total("tlbie") == 0 and run.total("doorbells_sent") == 0


@pytest.mark.parametrize("mm_users", [1, 2])
def test_single_threaded_mm_trims_the_others_on_its_own_flush(mm_users):
    """mm_users <= 1 and CPU 0 runs the mm: its first flush IPIs the others of
    the mask (exit_flush_lazy_tlbs: those not running the mm leave) and is
    LOCAL; the next is LOCAL with no IPI (active_cpus 1).  A multi-threaded
    mm flushes GLOBAL (two tlbies) and sends nothing."""
    k = kernel("trim", 1, EIGHT)
    run = _switch_in_and_out(k, set(range(1, 8)),
                             [call("flush_range_loop", k.layout.mm, THP_EA, 2)], mm_users)
    single = mm_users == 1
    assert run.mask() == ({0} if single else set(range(8)))
    assert run.total("doorbells_sent") == 7 * single
    assert run.stat(0, "tlbiel") == 2 * single and run.stat(0, "tlbie") == 2 * (not single)


@pytest.mark.parametrize("bad", [0, "1", True])
def test_mm_users_must_be_a_positive_int(bad):
    with pytest.raises(PowersimError) as e:
        Run(kernel("trim", 1), {}, mm_users=bad)
    assert "mm_users" in str(e.value) and "allowed" in str(e.value)
