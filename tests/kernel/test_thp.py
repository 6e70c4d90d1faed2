"""THP split and collapse, zap of split PMDs, page-table freeing through the
mmu_gather, and the RCU-like deferred free ([LM-pmd], [LM-zap], [LM-thp]; powersim/kernel/
thp.py, mm.py, pgtable.py).

The page tables are read back from emulated memory after the run and
translated with ``powersim.radix.reference_translate``; TLB coherence is the
MMU invariant checker (``MMUTest.attach``) on every core, with every core's
TLB primed with the THP translations before the run."""

from types import SimpleNamespace

import pytest

from powersim.kernel import methods
from powersim.kernel.image import Kernel, KernelRun, call, dump, wait_until
from powersim.kernel.layout import (MARK_FREE, MARK_WIN_ENTER, MARK_WIN_EXIT, MARK_WIN_RESTORED,
                                    POOL_FREE, PT_FRAME_SHIFT, PTE_TABLE_BYTES)
from powersim.kernel.methods import none
from powersim.kernel.mm import PMD_SIZE, THP_EA
from powersim.kernel.params import KernelParams
from powersim.machine.exec import _results
from powersim.mmu import MMUTest
from powersim.radix import LEAF, LOAD, NLB_MASK, NLS_MASK, RPN_MASK, V, be64, reference_translate

LISTEN_TB = 3_000_000       # the other CPUs take interrupts in `wait` until then
NOERRATA = dict(tlbie_erat_bug=False, tlbie_stq_bug=False)
PAGE = 1 << 16
OFFSETS = (0, PAGE + 8, 17 * PAGE + 0x1234, PMD_SIZE - 8)   # EAs inside one THP
EIGHT = dict(cores_per_chip=2)


def kernel(k_thps, method="none", topo=None, **kp):
    return Kernel(thp_bytes=k_thps * PMD_SIZE, kparams=KernelParams(method=method, **kp),
                  **(topo or {}))


def split(k, i):
    return call("split_huge_pmd", k.layout.mm, THP_EA + i * PMD_SIZE + 0x12345)


def collapse(k, i):
    return call("collapse_huge_page", k.layout.mm, THP_EA + i * PMD_SIZE)


def munmap(first, count):
    return call("munmap", THP_EA + first * PMD_SIZE, count * PMD_SIZE)


def translate_all(k, mem, n):
    return [reference_translate(mem, THP_EA + i * PMD_SIZE + off, LOAD, ptcr=k.process.ptcr,
                                pidr=1) for i in range(n) for off in OFFSETS]


def run_primed(k, cmds, mm_cpus, scripts=None):
    """CPU 0 runs ``cmds``, the others listen (or run ``scripts``).  Before the
    run every thread translates every THP with data relocation on, so every
    core's TLB and PWC hold the user translations.  After it, the MMU
    invariant must hold on every core.  Returns (run, view, translations before)."""
    scripts = dict(scripts or {})
    scripts[0] = cmds
    for c in range(1, k.layout.ncpus):
        scripts.setdefault(c, [wait_until(LISTEN_TB)])
    m = k.load(scripts, mm_cpus)
    before = translate_all(k, m.mem, len(k.process.pmds))
    view = MMUTest.attach(m, k.process.ptcr)
    for t in range(m.nthreads):
        view.set_thread(t, pid=1, dr=True)
        for i in range(len(k.process.pmds)):
            assert view.translate(t, THP_EA + i * PMD_SIZE, "load").ra is not None
        view.set_thread(t, pid=1, dr=False)
    assert all(view.tlb_entries(c) and view.pwc_entries(c) for c in range(m.ncores))
    m.run(10**8)
    run = KernelRun(machine=m, layout=k.layout, result=_results(m, (), 0.0))
    assert all(t.halted for t in run.result.threads)
    assert view.invariant_violations() == []        # every core, every run
    return run, view, before


def pool_free(k, run):
    return run.u64(k.layout.pgtable_pool + POOL_FREE)


def deposit_head(k, run, i):
    return run.u64(k.layout.mem_map +
                   ((k.process.pmds[i] - k.layout.pgtables) >> PT_FRAME_SHIFT) * 8)


# --- split ------------------------------------------------------------------------------
def test_split_publishes_a_pte_table_mapping_the_same_frames():
    k = kernel(2, topo=EIGHT)
    run, _, before = run_primed(k, [split(k, 0)], mm_cpus=range(8))
    old = before[0].pte                 # the huge PMD
    e = be64(run.machine.mem, k.process.pmds[0])
    table = e & NLB_MASK                # one of the deposits of the PMD page (LIFO list)
    assert e & (V | LEAF) == V and e & NLS_MASK == 5 and table in k.process.deposited
    left = set(k.process.deposited) - {table}
    assert deposit_head(k, run, 0) == left.pop()    # withdrawn: the other one is left
    for i in range(PMD_SIZE // PAGE):
        pte = be64(run.machine.mem, table + 8 * i)
        assert pte & RPN_MASK == (old & RPN_MASK) + i * PAGE
        assert pte & ~RPN_MASK == old & ~RPN_MASK       # V, _PAGE_PTE, R, C, permissions
    after = translate_all(k, run.machine.mem, 2)
    assert [t.ra for t in after] == [t.ra for t in before]
    assert [t.page_shift for t in after] == [16] * len(OFFSETS) + [21] * len(OFFSETS)
    assert be64(run.machine.mem, k.process.pmds[1]) == before[len(OFFSETS)].pte     # untouched


def test_split_of_a_split_pmd_changes_nothing():
    k = kernel(1)
    table = k.process.deposited[0]

    def state(cmds):
        run, _, _ = run_primed(k, cmds, mm_cpus=[0])
        mem = run.machine.mem
        return (bytes(mem[table:table + PTE_TABLE_BYTES]), be64(mem, k.process.pmds[0]),
                deposit_head(k, run, 0), run.stats(0)["tlbiel"])
    once, twice = state([split(k, 0)]), state([split(k, 0), split(k, 0)])
    assert once == twice and once[2] == 0 and once[1] & NLB_MASK == table


# --- collapse ---------------------------------------------------------------------------
def test_collapse_restores_the_huge_leaf_and_redeposits_the_table():
    k = kernel(2, topo=EIGHT)
    run, _, before = run_primed(k, [split(k, 1), collapse(k, 1)], mm_cpus=range(8))
    assert be64(run.machine.mem, k.process.pmds[1]) == before[len(OFFSETS)].pte  # R and C set again
    table = deposit_head(k, run, 1)     # re-deposited on top of the other THP's
    assert table in k.process.deposited and run.u64(table) in k.process.deposited
    assert not run.machine.mem[table + 8:table + PTE_TABLE_BYTES].any()   # PTEs cleared
    assert [t.ra for t in translate_all(k, run.machine.mem, 2)] == [t.ra for t in before]
    assert pool_free(k, run) == len(k.process.free)


def test_collapse_of_a_huge_pmd_changes_nothing():
    k = kernel(1)
    run, _, before = run_primed(k, [collapse(k, 0)], mm_cpus=range(4))
    assert be64(run.machine.mem, k.process.pmds[0]) == before[0].pte
    assert deposit_head(k, run, 0) == k.process.deposited[0]


@pytest.mark.parametrize("method,rounds", [("ipi", 1), ("none", 0)])
@pytest.mark.parametrize("topo,ncpus", [(dict(), 4), (EIGHT, 8)])
def test_split_and_collapse_each_send_one_ipi_round(method, rounds, topo, ncpus):
    k = kernel(1, method, topo)
    run, _, _ = run_primed(k, [split(k, 0)], mm_cpus=range(ncpus))
    assert run.stats(0)["doorbells_sent"] == rounds * (ncpus - 1)
    run, _, _ = run_primed(k, [split(k, 0), collapse(k, 0)], mm_cpus=range(ncpus))
    assert run.stats(0)["doorbells_sent"] == 2 * rounds * (ncpus - 1)
    assert [run.stats(c)["doorbells_recv"] for c in range(1, ncpus)] == [2 * rounds] * (ncpus - 1)


# --- zap of split PMDs, page-table freeing ----------------------------------------------
@pytest.mark.parametrize("method", ["ipi", "none"])
@pytest.mark.parametrize("n_split", [1, 2])
def test_split_then_munmap_frees_every_table(method, n_split):
    k = kernel(3, method, EIGHT)
    run, view, _ = run_primed(k, [split(k, i) for i in range(n_split)] + [munmap(0, 3)],
                              mm_cpus=range(8))
    assert all(be64(run.machine.mem, p) == 0 for p in k.process.pmds)
    assert pool_free(k, run) == k.layout.pte_tables     # as many as at the start, and more
    assert all(e["pid"] != 1 for c in range(2) for e in view.tlb_entries(c))
    # the freed tables made the PID's page-walk cache go too (RIC 1 / RIC 2)
    assert all(e["pid"] != 1 for c in range(2) for e in view.pwc_entries(c))


def test_munmap_without_freed_tables_keeps_the_page_walk_cache():
    """Control for the test above: huge PMDs only, so no table is freed and the
    range flush is RIC 0: the PWC keeps the PID's upper-level entries."""
    k = kernel(3, "none", EIGHT)
    _, view, _ = run_primed(k, [munmap(0, 3)], mm_cpus=range(8))
    assert all(any(e["pid"] == 1 for e in view.pwc_entries(c)) for c in range(2))


@pytest.mark.parametrize("n_split,tlbie", [
    (1, 1 + 1 + 32),        # split's 2M flush; munmap: RIC 1 PWC, then 32 64K pages
    (2, 2 + 1)])            # 64 pages > 33: one PID flush, RIC 2
def test_freed_tables_put_the_pwc_in_the_final_flush(n_split, tlbie):
    k = kernel(n_split, "none", **NOERRATA)
    run, _, _ = run_primed(k, [split(k, i) for i in range(n_split)] + [munmap(0, n_split)],
                           mm_cpus=range(4))
    assert run.stats(0)["tlbie"] == tlbie


def test_mixed_page_sizes_flush_before_the_size_changes():
    """tlb_change_page_size: zapping the 64K PTEs of THP 0, then the huge PMD of
    THP 1, flushes the 32 64K pages first (no tables freed yet: no PWC), then the
    rest at 2M with the PWC for the freed table."""
    k = kernel(2, "none", **NOERRATA)
    run, _, _ = run_primed(k, [split(k, 0), munmap(0, 2)], mm_cpus=range(4))
    assert run.stats(0)["tlbie"] == 1 + 32 + (1 + 2)
    assert pool_free(k, run) == k.layout.pte_tables


def test_table_batch_fills_and_flushes_early():
    """More freed tables than the gather's batch (TLB_MAX_TABLES = 8): the full
    batch forces a flush and free mid-way; every table still comes back."""
    k = kernel(10, "none")
    run, _, _ = run_primed(k, [split(k, i) for i in range(10)] + [munmap(0, 10)],
                           mm_cpus=range(4))
    assert pool_free(k, run) == k.layout.pte_tables
    assert all(be64(run.machine.mem, p) == 0 for p in k.process.pmds)


def test_exit_mmap_of_split_pmds_frees_every_table():
    k = kernel(2, "none", EIGHT)
    run, _, _ = run_primed(k, [split(k, 0), call("exit_mmap", THP_EA, 2 * PMD_SIZE)],
                           mm_cpus=range(8))
    assert pool_free(k, run) == k.layout.pte_tables


# --- the deferred (RCU-like) free -------------------------------------------------------
S_MUNMAP, S_POLL1, P_POLL1, S_POLL2, P_POLL2 = range(MARK_FREE, MARK_FREE + 5)


@pytest.fixture
def deferred(monkeypatch):
    """A method whose page-table free is tlb_remove_table_deferred (otherwise
    `none`), as the methods engineer wires it for `robust`."""
    hooks = {n: v for n, v in vars(none).items() if not n.startswith("_")}
    hooks.update(NAME="deferred", free_pgtable=lambda b: b.bl("tlb_remove_table_deferred"))
    monkeypatch.setitem(methods.METHODS, "deferred", SimpleNamespace(**hooks))
    return "deferred"


@pytest.mark.parametrize("method", ["deferred", "none"])
def test_deferred_free_waits_for_a_cpu_in_an_irq_off_window(deferred, method):
    """CPU 1 sits in an irq-off window; CPU 0 splits, munmaps (the table is
    queued) and polls inside the window: nothing freed; it polls again after
    CPU 1 left the window and passed the command loop: freed.  `none` (an
    immediate free) is the control: freed at once."""
    k = kernel(1, method)
    pool = k.layout.pgtable_pool + POOL_FREE
    cmds = [split(k, 0), wait_until(2000), call("stamp", S_MUNMAP), munmap(0, 1),
            call("rcu_poll_deferred"), call("stamp", S_POLL1), call("stamp_u64", P_POLL1, pool),
            wait_until(LISTEN_TB), call("rcu_poll_deferred"), call("stamp", S_POLL2),
            call("stamp_u64", P_POLL2, pool)]
    run, _, _ = run_primed(k, cmds, range(4), {1: [call("irq_off_window", 200_000)]})
    c0, c1 = run.marks(0), run.marks(1)
    assert c1[MARK_WIN_ENTER] < c0[S_MUNMAP] < c0[S_POLL1] < c1[MARK_WIN_EXIT]
    assert c1[MARK_WIN_RESTORED] < c0[S_POLL2]
    everything = k.layout.pte_tables
    assert c0[P_POLL1] == (everything - 1 if method == "deferred" else everything)
    assert c0[P_POLL2] == everything == pool_free(k, run)


def test_deferred_free_is_not_held_up_by_idle_cpus(deferred):
    """CPUs waiting (odd counter: extended quiescent state) do not block the
    grace period: the free happens in the munmap's own poll."""
    k = kernel(2, deferred)
    pool = k.layout.pgtable_pool + POOL_FREE
    run, _, _ = run_primed(k, [split(k, 0), split(k, 1), wait_until(2000), munmap(0, 2),
                               call("stamp_u64", P_POLL1, pool)], range(4))
    assert run.marks(0)[P_POLL1] == k.layout.pte_tables


@pytest.mark.parametrize("method", ["ipi", "none"])
def test_dump_shows_the_routines(method):
    text = "\n".join(dump(kernel(1, method).image))
    for name in ("split_huge_pmd", "collapse_huge_page", "zap_pte_range", "free_pgtables",
                 "tlb_table_flush", "tlb_remove_table", "tlb_change_page_size",
                 "__tlb_adjust_range", "tlb_flush_mmu", "tlb_finish_mmu",
                 "tlb_remove_table_deferred", "rcu_poll_deferred", "rcu_start_gp"):
        assert f"\n{name}:\n" in text
