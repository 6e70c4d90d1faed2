"""The kernel's mm operations: page-table pool, THP PMD operations, TLB flush
sequences, mmu_gather, zap/munmap ([LM-pmd], [LM-zap], [L-tlb], [L-ftrs]).

Counts come from the machine's per-thread stats (doorbells_sent, tlbie,
tlbiel) and from the page tables and pool in emulated memory after the run."""

from types import SimpleNamespace

import pytest

from powersim.errors import PowersimError
from powersim.kernel import methods
from powersim.kernel.image import Kernel, call, dump, wait_until
from powersim.kernel.layout import (MARK_FREE, MM_LOCK, POOL_FREE, POOL_HEAD, PTE_TABLE_BYTES,
                                    RCU_TOTAL)
from powersim.kernel.methods import none
from powersim.kernel.mm import PMD_SIZE, THP_EA
from powersim.kernel.params import KernelParams
from powersim.kernel.tlbflush import TLB_SETS_RADIX
from powersim.mmu import MMUTest
from powersim.radix import LEAF, NLB_MASK, SW0, V, be64

BEFORE, AFTER = MARK_FREE, MARK_FREE + 1
LISTEN_TB = 3_000_000       # targets take interrupts in `wait` until this timebase
NOERRATA = dict(tlbie_erat_bug=False, tlbie_stq_bug=False)


def kernel(k_thps, method="ipi", topo=None, **kp):
    return Kernel(thp_bytes=k_thps * PMD_SIZE, kparams=KernelParams(method=method, **kp),
                  **(topo or {}))


def run_on_cpu0(k, cmds, mm_cpus):
    """CPU 0 runs ``cmds`` between two stamps; every other CPU listens for IPIs."""
    scripts = {0: [call("stamp", BEFORE)] + cmds + [call("stamp", AFTER)]}
    scripts.update({c: [wait_until(LISTEN_TB)] for c in range(1, k.layout.ncpus)})
    run = k.run(scripts, mm_cpus=mm_cpus)
    assert run.result.threads[0].halted and run.marks(0)[AFTER] < LISTEN_TB
    return run


def munmap(first, count):
    return call("munmap", THP_EA + first * PMD_SIZE, count * PMD_SIZE)


def free_list(run, k):
    """The pool's free tables, walking the list in emulated memory."""
    pool, out = k.layout.pgtable_pool, []
    t = run.u64(pool + POOL_HEAD)
    while t:
        out.append(t)
        t = run.u64(t)
        assert len(out) <= k.layout.pte_tables
    assert run.u64(pool + POOL_FREE) == len(out)
    return out


def pmd(run, k, i):
    return be64(run.machine.mem, k.process.pmds[i])


def tlbies(run, cpu=0):
    return run.stats(cpu)["tlbie"]


# --- the process as built -------------------------------------------------------------
def test_process_is_thp_mapped_with_a_deposit_per_pmd():
    k = kernel(4)
    run = run_on_cpu0(k, [], mm_cpus=[0])
    p = k.process
    assert len(set(p.pmds)) == 4 and len(set(p.deposited)) == 4
    for i in range(4):
        e = pmd(run, k, i)
        # _PAGE_PTE | _PAGE_PRESENT, R and C set, user read/write, a 2M-aligned frame
        assert e & (V | LEAF) == V | LEAF and e & 0x180 == 0x180 and e & 0xF == 0x6
        assert e & 0x01FF_FFFF_FFE0_0000 != 0 and e & 0x1F_F000 == 0
    assert sorted(free_list(run, k)) == sorted(p.free)
    assert not set(p.free) & set(p.deposited)


# --- munmap ---------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["ipi", "none", "robust"])
def test_munmap_clears_every_pmd_and_frees_every_deposit(method):
    """zap_deposited_table frees with pte_free at once, whatever the method's
    page-table free (robust's waits for a grace period): the deposited tables
    are back in the pool when munmap returns, none waits in the deferred free."""
    k = kernel(5, method)
    run = run_on_cpu0(k, [munmap(0, 5)], mm_cpus=range(4))
    assert all(pmd(run, k, i) == 0 for i in range(5))
    free = free_list(run, k)
    assert set(free) == set(k.process.deposited) | set(k.process.free)
    assert len(free) == k.layout.pte_tables
    assert run.u64(k.layout.mm + MM_LOCK) == 0          # the PMD lock is released


def test_deposited_tables_are_freed_without_a_grace_period():
    """robust frees page tables after a grace period, but zap_deposited_table
    frees the deposits with pte_free at once [L-pgt]: with CPU 1 in a long
    irq-off section for the whole munmap (no grace period can end), all five
    are back in the pool and nothing waits in the deferred free."""
    k = kernel(5, "robust")
    scripts = {0: [munmap(0, 5)], 1: [call("irq_off_window", 1_000_000)]}
    run = k.run(scripts, mm_cpus=range(4))
    assert set(free_list(run, k)) == set(k.process.deposited) | set(k.process.free)
    assert run.u64(k.layout.rcu + RCU_TOTAL) == 0


def test_munmap_of_part_of_the_region_leaves_the_rest():
    k = kernel(4)
    run = run_on_cpu0(k, [munmap(1, 2)], mm_cpus=[0])
    assert [pmd(run, k, i) != 0 for i in range(4)] == [True, False, False, True]
    free = set(free_list(run, k))
    dep = k.process.deposited
    assert len(free) == len(k.process.free) + 2
    # two of the deposits came back, and the survivors' ones are still deposited
    assert len(free & set(dep)) == 2


@pytest.mark.parametrize("topo,ncpus", [(dict(), 4), (dict(cores_per_chip=2), 8)])
@pytest.mark.parametrize("k_thps", [1, 3])
def test_ipi_method_sends_one_round_per_thp(topo, ncpus, k_thps):
    """[LM-serialize], [LM-zap]: K THPs, C CPUs in mm_cpumask -> K rounds of C - 1 IPIs."""
    k = kernel(k_thps, "ipi", topo)
    run = run_on_cpu0(k, [munmap(0, k_thps)], mm_cpus=range(ncpus))
    assert run.stats(0)["doorbells_sent"] == k_thps * (ncpus - 1)
    for c in range(1, ncpus):
        assert run.stats(c)["doorbells_recv"] == k_thps
        assert run.stats(c)["doorbells_sent"] == 0


def test_ipi_round_goes_only_to_the_mask():
    k = kernel(2, "ipi", dict(cores_per_chip=2))
    run = run_on_cpu0(k, [munmap(0, 2)], mm_cpus=[0, 3, 6])
    assert run.stats(0)["doorbells_sent"] == 2 * 2
    assert [run.stats(c)["doorbells_recv"] for c in range(8)] == [0, 0, 0, 2, 0, 0, 2, 0]


def test_none_method_sends_no_ipi():
    k = kernel(3, "none")
    run = run_on_cpu0(k, [munmap(0, 3)], mm_cpus=range(4))
    assert sum(run.stats(c)["doorbells_sent"] for c in range(4)) == 0
    assert all(pmd(run, k, i) == 0 for i in range(3))


# --- the gather's flush ---------------------------------------------------------------
@pytest.mark.parametrize("erat,stq", [(False, False), (True, False), (False, True),
                                      (True, True)])
@pytest.mark.parametrize("k_thps,per_page", [(1, True), (33, True), (34, False)])
def test_global_flush_range_or_pid_with_errata(k_thps, per_page, erat, stq):
    """Global (4 CPUs in the mask): up to 33 2M pages one tlbie each, above that one
    PID tlbie; each sequence adds one tlbie per errata flag ([L-tlb], [L-ftrs])."""
    k = kernel(k_thps, "none", tlbie_erat_bug=erat, tlbie_stq_bug=stq)
    run = run_on_cpu0(k, [munmap(0, k_thps)], mm_cpus=range(4))
    assert tlbies(run) == (k_thps if per_page else 1) + erat + stq
    assert run.stats(0)["tlbiel"] == 0
    assert sum(tlbies(run, c) for c in range(1, 4)) == 0


def test_errata_flags_follow_the_machine_by_default():
    k = Kernel()
    assert (k.kparams.tlbie_erat_bug, k.kparams.tlbie_stq_bug) == \
        (k.params.erratum_tlbie_erat, k.params.erratum_tlbie_stq)
    assert k.kparams.tlbie_fixups() == k.params.tlbie_fixups()


@pytest.mark.parametrize("k_thps,tlbiel", [(3, 3), (257, TLB_SETS_RADIX)])
def test_local_flush_when_only_this_cpu_is_in_the_mask(k_thps, tlbiel):
    """mm_is_thread_local: tlbiel per page up to 256 pages, then the 128-set PID
    flush; no tlbie, so no errata repeats; ipi sends nobody an IPI."""
    k = kernel(k_thps, "ipi")
    run = run_on_cpu0(k, [munmap(0, k_thps)], mm_cpus=[0])
    assert run.stats(0)["tlbiel"] == tlbiel
    assert tlbies(run) == 0 and run.stats(0)["doorbells_sent"] == 0


def test_single_cpu_mask_of_another_cpu_is_global():
    k = kernel(2, "none", **NOERRATA)
    run = run_on_cpu0(k, [munmap(0, 2)], mm_cpus=[1])
    assert tlbies(run) == 2 and run.stats(0)["tlbiel"] == 0


@pytest.mark.parametrize("mm_cpus,tlbie,tlbiel", [(range(4), 1 + 2, 0),
                                                  ([0], 0, TLB_SETS_RADIX)])
def test_exit_mmap_is_a_fullmm_pid_flush(mm_cpus, tlbie, tlbiel):
    """fullmm: one RIC=2 PID flush whatever the range (tlbie + errata, or 128 tlbiel)."""
    k = kernel(3, "none")
    run = run_on_cpu0(k, [call("exit_mmap", THP_EA, 3 * PMD_SIZE)], mm_cpus=mm_cpus)
    assert tlbies(run) == tlbie and run.stats(0)["tlbiel"] == tlbiel
    assert all(pmd(run, k, i) == 0 for i in range(3))
    assert len(free_list(run, k)) == k.layout.pte_tables


def test_munmap_of_nothing_mapped_flushes_nothing():
    k = kernel(1, "ipi")
    run = run_on_cpu0(k, [call("munmap", THP_EA + 8 * PMD_SIZE, 4 * PMD_SIZE)],
                      mm_cpus=range(4))
    assert tlbies(run) == 0 and run.stats(0)["doorbells_sent"] == 0
    assert pmd(run, k, 0) != 0


def test_zap_flush_per_pmd_hook_flushes_each_pmd_unless_fullmm(monkeypatch):
    """The method flag for v5.8+ methods (robust): pmdp_huge_get_and_clear_full
    flushes the 2M entry at once when the zap is not fullmm.  Exercised with a
    method module that has only that flag set."""
    flushing = SimpleNamespace(NAME="flushing", zap_flush_per_pmd=True, emit=none.emit,
                               serialize=none.serialize, free_pgtable=none.free_pgtable,
                               walker_recheck=False, walker_begin=none.walker_begin,
                               walker_end=none.walker_end)
    monkeypatch.setitem(methods.METHODS, flushing.NAME, flushing)
    k = kernel(3, flushing.NAME, **NOERRATA)
    run = run_on_cpu0(k, [munmap(0, 3)], mm_cpus=range(4))
    assert tlbies(run) == 3 + 3         # one per PMD, then the gather's 3-page range
    run = run_on_cpu0(k, [call("exit_mmap", THP_EA, 3 * PMD_SIZE)], mm_cpus=range(4))
    assert tlbies(run) == 1             # fullmm: only the final PID flush


# --- single PMD operations --------------------------------------------------------------
def test_pmdp_invalidate_is_hardware_invalid_software_present():
    """clr _PAGE_PRESENT, set _PAGE_INVALID (the ldarx/stdcx. RMW of the big-endian
    entry: with clr/set not byte-swapped it would clear C, bit 0x80, instead), one
    2M flush, then the serialize round."""
    k = kernel(2, "ipi", **NOERRATA)
    mm, p = k.layout.mm, k.process.pmds[1]
    run0 = run_on_cpu0(k, [], mm_cpus=[0])
    before = pmd(run0, k, 1)
    run = run_on_cpu0(k, [call("pmdp_invalidate", mm, THP_EA + PMD_SIZE, p)],
                      mm_cpus=range(4))
    assert pmd(run, k, 1) == (before & ~V) | SW0
    assert pmd(run, k, 0) == pmd(run0, k, 0)
    assert tlbies(run) == 1 and run.stats(0)["doorbells_sent"] == 3


@pytest.mark.parametrize("mm_cpus,tlbie,tlbiel", [(range(4), 1 + 32 + 2, 0),
                                                  ([0], 0, 1 + 32)])
def test_pmdp_collapse_flush(mm_cpus, tlbie, tlbiel):
    """Plain clear, serialize, then the PWC and the 2 MiB as 32 64K pages."""
    k = kernel(1, "ipi")
    run = run_on_cpu0(k, [call("pmdp_collapse_flush", k.layout.mm, THP_EA,
                               k.process.pmds[0])], mm_cpus=mm_cpus)
    assert pmd(run, k, 0) == 0
    assert tlbies(run) == tlbie and run.stats(0)["tlbiel"] == tlbiel
    assert run.stats(0)["doorbells_sent"] == len(mm_cpus) - 1


def test_clear_then_populate_publishes_the_withdrawn_table():
    """The split's last steps: withdraw the deposit, pmd_populate it."""
    k = kernel(1, "none")
    mm, p = k.layout.mm, k.process.pmds[0]
    run = run_on_cpu0(k, [call("pmdp_huge_get_and_clear", mm, THP_EA, p),
                          call("pgtable_trans_huge_withdraw", mm, p),
                          call("pmd_populate", mm, p, k.process.deposited[0])], mm_cpus=[0])
    e = pmd(run, k, 0)
    assert e & V and not e & LEAF and e & NLB_MASK == k.process.deposited[0]
    assert e & 0x1F == 5                # NLS: 32 PTEs (64K geometry)
    assert run.u64(k.process.deposited[0]) == 0     # the link was cleared


# --- the pool --------------------------------------------------------------------------
def test_pool_alloc_pops_and_zeroes_free_pushes():
    k = kernel(0, "none")
    free = k.process.free
    run = run_on_cpu0(k, [call("pte_alloc_one"), call("pte_alloc_one"),
                          call("pte_free", free[0])], mm_cpus=[0])
    assert free_list(run, k) == [free[0]] + list(free[2:])
    # the second table was handed out zeroed (its link is gone)
    mem = run.machine.mem
    assert not mem[free[1]:free[1] + PTE_TABLE_BYTES].any()


# --- image, input -----------------------------------------------------------------------
@pytest.mark.parametrize("method", ["ipi", "none"])
def test_dump_shows_the_mm_routines(method):
    text = "\n".join(dump(kernel(1, method).image))
    names = ["pte_alloc_one", "pte_free", "pmd_offset", "pmd_hugepage_update",
             "pmdp_huge_get_and_clear", "pmdp_huge_get_and_clear_full", "pmdp_invalidate",
             "pmdp_collapse_flush", "pmd_populate", "pgtable_trans_huge_deposit",
             "pgtable_trans_huge_withdraw", "_tlbie_pid_tlb", "_tlbie_pid_all",
             "_tlbiel_pid_tlb", "_tlbiel_pid_all", "_tlbie_va_range", "_tlbiel_va_range",
             "mm_is_thread_local", "radix__flush_tlb_range_psize",
             "radix__flush_tlb_collapsed_pmd", "__flush_all_mm", "tlb_gather_mmu",
             "tlb_remove_pmd_tlb_entry", "tlb_finish_mmu", "radix__tlb_flush",
             "zap_deposited_table", "zap_huge_pmd", "unmap_vmas", "munmap", "exit_mmap"]
    for name in names:
        assert f"\n{name}:\n" in text
    assert ("serialize_against_pte_lookup:" in text) == (method == "ipi")
    assert "tlbsync" in text and "stdbrx" in text and "slbia" in text


@pytest.mark.parametrize("make", [
    lambda: Kernel(thp_bytes=PMD_SIZE + 4096),
    lambda: Kernel(thp_bytes=-PMD_SIZE),
    lambda: Kernel(kparams=KernelParams(method="rcu")),
    lambda: Kernel(kparams=KernelParams(tlbie_stq_bug=1)),
    lambda: Kernel(kparams=KernelParams(tlb_single_page_flush_ceiling=-1)),
])
def test_bad_input_is_a_clear_error(make):
    with pytest.raises(PowersimError) as e:
        make()
    assert "allowed" in str(e.value) or "must be" in str(e.value)


# --- TLB coherence ----------------------------------------------------------------------
def _mmu_view(machine, ptcr):
    """The powersim.mmu checker on the kernel's machine and tables (MMUTest's
    methods only read ``machine`` and ``pt.patb``/``pt.ptcr``)."""
    view = MMUTest.__new__(MMUTest)
    view.machine = machine
    view.pt = SimpleNamespace(ptcr=ptcr, patb=ptcr & ~0xFFF)
    return view


def _run_with_primed_tlbs(k, cmds, mm_cpus):
    """Every thread first translates every THP (PID 1, data relocation on), so
    every core's TLB holds the 2M entries; then the kernel runs in real mode."""
    scripts = {0: cmds}
    scripts.update({c: [wait_until(LISTEN_TB)] for c in range(1, k.layout.ncpus)})
    m = k.load(scripts, mm_cpus)
    view = _mmu_view(m, k.process.ptcr)
    for t in range(m.nthreads):
        view._mmu_sprs(t)
        view.set_thread(t, pid=1, dr=True)
        for i in range(len(k.process.pmds)):
            assert view.translate(t, THP_EA + i * PMD_SIZE + 8, "load").ra is not None
        view.set_thread(t, pid=1, dr=False)
    before = [len(view.tlb_entries(c)) for c in range(m.ncores)]
    m.run(10**8)
    return view, before


def user_tlb_entries(view):
    return [e for c in range(view.machine.ncores) for e in view.tlb_entries(c) if e["pid"] == 1]


@pytest.mark.parametrize("mm_cpus", [range(8), [0]])
@pytest.mark.parametrize("cmd", ["munmap", "exit_mmap"])
def test_no_stale_tlb_entry_after_unmap(mm_cpus, cmd):
    """After munmap/exit_mmap no core keeps a translation the tables no longer
    have (the MMU invariant checker of powersim.mmu).  With only CPU 0 in the mask
    the flush is local, so only core 0's entries may be (and are) dropped."""
    k = kernel(3, "none", dict(cores_per_chip=2))
    view, before = _run_with_primed_tlbs(k, [call(cmd, THP_EA, 3 * PMD_SIZE)], mm_cpus)
    assert before == [3, 3]
    assert all(be64(view.machine.mem, p) == 0 for p in k.process.pmds)
    if len(mm_cpus) > 1:
        assert view.invariant_violations() == [] and user_tlb_entries(view) == []
    else:       # core 1 never ran the mm's threads in Linux's view: not in the mask
        assert [len(view.tlb_entries(c)) for c in range(2)] == [0, 3]


def test_checker_sees_a_clear_without_flush():
    """Negative control: pmdp_huge_get_and_clear alone (no gather) leaves the TLBs
    stale, and the checker reports it on both cores."""
    k = kernel(1, "none", dict(cores_per_chip=2))
    view, _ = _run_with_primed_tlbs(
        k, [call("pmdp_huge_get_and_clear", k.layout.mm, THP_EA, k.process.pmds[0])],
        range(8))
    bad = view.invariant_violations()
    assert len(bad) == 2 and all("the tables do not" in s for s in bad)


def test_ipi_rounds_are_on_the_measured_path():
    """The same munmap with the IPI rounds takes longer (timebase stamps around it)
    than without them, and repeating a run gives identical results."""
    def elapsed(method):
        k = kernel(4, method, dict(cores_per_chip=2))
        run = run_on_cpu0(k, [munmap(0, 4)], mm_cpus=range(8))
        return run.marks(0)[AFTER] - run.marks(0)[BEFORE], run.stats(0)
    ipi, none_ = elapsed("ipi"), elapsed("none")
    assert ipi[0] > none_[0] > 0
    assert elapsed("ipi") == ipi
