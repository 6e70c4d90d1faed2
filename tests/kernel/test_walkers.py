"""Lockless walkers [LM-walk]: __find_linux_pte, gup_fast and the KVM
fault walk, run as kernel code on PMDs set up in Python (huge, table, none,
serializing), with the expected slots computed from the tables in Python."""

import numpy as np
import pytest

from powersim.kernel.image import Kernel, call, dump
from powersim.kernel.layout import (MARK_FREE, MM_WALKERS, NMARKS, PACA_KVM_RETRIES,
                                    PACA_PERCPU, STRUCT_PAGE, THP_FRAMES)
from powersim.kernel.methods import METHODS
from powersim.kernel.mm import PMD_SIZE, THP_EA
from powersim.kernel.page import SP_REFCOUNT
from powersim.kernel.params import KernelParams
from powersim.radix import LEAF, NLB_MASK, READ, RW, SW0, V, be64, put_be64

S = MARK_FREE               # first free marks slot
PTE_INDEX = 5               # the 64K page inside the 2M region the tests use
PTE_RPN = THP_FRAMES + 2 * (2 << 20) + 5 * 0x10000     # frame 5 of THP 2 (the PTE-mapped one)
R_C = 0x180


def kernel(method="ipi", k_thps=3):
    return Kernel(thp_bytes=k_thps * PMD_SIZE, kparams=KernelParams(method=method))


def ea_of(i, page=PTE_INDEX, off=0x123):
    return THP_EA + i * PMD_SIZE + (page << 16) + off


def run_edited(k, cmds, edit=lambda m: None, mm_cpus=(0,)):
    """CPU 0 runs ``cmds`` after ``edit(machine)`` has changed the initial tables."""
    m = k.load({0: cmds}, mm_cpus)
    edit(m)
    m.prepare()
    m.run(10**8)
    return m


def u64(m, addr):
    return int.from_bytes(bytes(m.mem[addr:addr + 8]), "little")


def marks(m, k):
    base = k.layout.marks(0)
    return [u64(m, base + 8 * i) for i in range(NMARKS)]


def make_table(k, i):
    """PMD i -> a free pool table whose PTE_INDEX-th entry maps PTE_RPN."""
    table = k.process.free[0]

    def edit(m):
        put_be64(m.mem, table + 8 * PTE_INDEX, V | LEAF | PTE_RPN | R_C | READ | RW)
        put_be64(m.mem, k.process.pmds[i], V | table | 5)     # NLS 5: 32 PTEs
    return table, edit


def make_serializing(k, i):
    def edit(m):    # what pmdp_invalidate leaves: hardware-invalid, software-present
        e = be64(m.mem, k.process.pmds[i])
        put_be64(m.mem, k.process.pmds[i], (e & ~V) | SW0)
    return edit


def make_none(k, i):
    def edit(m):
        put_be64(m.mem, k.process.pmds[i], 0)
    return edit


# --- __find_linux_pte ------------------------------------------------------------------
@pytest.mark.parametrize("method", ["ipi", "robust"])
def test_find_linux_pte_huge_returns_the_pmd_slot(method):
    k = kernel(method)
    m = run_edited(k, [call("walk_mark", S, k.layout.mm, ea_of(1))])
    ptep, is_thp, pmdp, pmd = marks(m, k)[S:S + 4]
    assert (ptep, is_thp, pmdp) == (k.process.pmds[1], 1, k.process.pmds[1])
    assert pmd == be64(m.mem, k.process.pmds[1]) and pmd & (V | LEAF) == V | LEAF


def test_find_linux_pte_table_returns_the_pte_slot():
    k = kernel()
    table, edit = make_table(k, 2)
    m = run_edited(k, [call("walk_mark", S, k.layout.mm, ea_of(2))], edit)
    ptep, is_thp, pmdp, pmd = marks(m, k)[S:S + 4]
    assert ptep == table + 8 * PTE_INDEX and is_thp == 0
    assert pmdp == k.process.pmds[2] and pmd & NLB_MASK == table


@pytest.mark.parametrize("make", [make_none, make_serializing])
def test_find_linux_pte_null_on_none_and_serializing(make):
    k = kernel()
    m = run_edited(k, [call("walk_mark", S, k.layout.mm, ea_of(0)),
                       call("walk_mark", S + 4, k.layout.mm, ea_of(1))], make(k, 0))
    mk = marks(m, k)
    assert mk[S] == 0 and mk[S + 1] == 0
    assert mk[S + 4] == k.process.pmds[1]           # the untouched neighbour still walks


def test_find_linux_pte_null_where_nothing_is_mapped():
    k = kernel()
    m = run_edited(k, [call("walk_mark", S, k.layout.mm, THP_EA + 5 * PMD_SIZE),
                       call("walk_mark", S + 4, k.layout.mm, 0x1000_0000_0000)])
    mk = marks(m, k)
    assert mk[S] == 0 and mk[S + 4] == 0
    assert mk[S + 2] == k.process.pmds[0] + 5 * 8   # reached the PMD table: slot 5, none


# --- gup_fast ---------------------------------------------------------------------------
def refs(m, k):
    """Each THP head page's references beyond its mapping's."""
    return [int(m.mem[a:a + 4].view(np.int32)[0]) - 1
            for a in (k.layout.vmemmap + i * 32 * STRUCT_PAGE + SP_REFCOUNT
                      for i in range(k.layout.thps))]


def ref_index(ra):
    return (ra - THP_FRAMES) // PMD_SIZE


@pytest.mark.parametrize("method", sorted(METHODS))
def test_gup_fast_takes_exactly_one_reference_per_call(method):
    k = kernel(method)
    table, edit = make_table(k, 2)
    calls = [(0, ea_of(0)), (0, ea_of(0, page=7)), (0, ea_of(0)), (1, ea_of(1)),
             (2, ea_of(2))]
    m = run_edited(k, [call("call_mark", S + n, "gup_fast", k.layout.mm, ea)
                       for n, (_, ea) in enumerate(calls)], edit)
    assert marks(m, k)[S:S + len(calls)] == [1] * len(calls)
    r = refs(m, k)
    head = [ref_index(be64(m.mem, p) & 0x01FF_FFFF_FFE0_0000) for p in k.process.pmds[:2]]
    assert r[head[0]] == 3 and r[head[1]] == 1 and r[ref_index(PTE_RPN)] == 1
    assert sum(r) == len(calls)
    # the bracket left nothing behind: irqs enabled, counters back to 0
    paca = k.layout.paca(0)
    assert u64(m, paca) & 0xFFFF == 0 and u64(m, paca + PACA_PERCPU) == 0
    assert u64(m, k.layout.mm + MM_WALKERS) == 0


@pytest.mark.parametrize("make", [make_none, make_serializing])
def test_gup_fast_takes_no_reference_on_a_missing_entry(make):
    k = kernel()
    m = run_edited(k, [call("call_mark", S, "gup_fast", k.layout.mm, ea_of(0))], make(k, 0))
    assert marks(m, k)[S] == 0 and sum(refs(m, k)) == 0


def test_gup_fast_refuses_a_non_present_pte():
    k = kernel()
    table, edit = make_table(k, 2)
    m = run_edited(k, [call("call_mark", S, "gup_fast", k.layout.mm, ea_of(2, page=6))], edit)
    assert marks(m, k)[S] == 0 and sum(refs(m, k)) == 0


# --- KVM fault walk ----------------------------------------------------------------------
@pytest.mark.parametrize("method", ["ipi", "count", "percpu"])
def test_kvm_fault_reads_the_pte_or_returns_to_the_guest(method):
    k = kernel(method)
    m = run_edited(k, [call("call_mark", S, "kvmppc_book3s_instantiate_page",
                            k.layout.mm, ea_of(1)),
                       call("call_mark", S + 1, "kvmppc_book3s_instantiate_page",
                            k.layout.mm, ea_of(0))], make_serializing(k, 0))
    mk = marks(m, k)
    assert mk[S] == be64(m.mem, k.process.pmds[1]) and mk[S + 1] == 0
    assert u64(m, k.layout.paca(0) + PACA_KVM_RETRIES) == 1


def test_dump_shows_the_walkers():
    text = "\n".join(dump(kernel("robust").image))
    for name in ("__find_linux_pte", "gup_fast", "kvmppc_book3s_instantiate_page",
                 "walker_window"):
        assert f"\n{name}:\n" in text
    assert "ldbrx" in text


@pytest.mark.parametrize("method", ["count", "robust"])
def test_gup_fast_loop_counts_walks_and_puts_every_reference(method):
    """64K steps over 3 THPs, the middle PMD serializing: 2 of every 3 THPs'
    pages are found; every reference taken is put back."""
    k = kernel(method)
    n = 3 * 32 + 10                     # wraps around the region once
    m = run_edited(k, [call("gup_fast_loop", THP_EA, 3 * PMD_SIZE, n, S)],
                   make_serializing(k, 1))
    assert marks(m, k)[S] == 2 * 32 + 10 and sum(refs(m, k)) == 0


def churn_run(method, n=3000):
    """CPU 1 hammers THP 0 with n GUP-fast walks while CPU 0 splits and collapses
    it 30 times: (walks that got a reference, back-offs, references left)."""
    k = kernel(method)
    churn = [call(op, k.layout.mm, THP_EA) for _ in range(30)
             for op in ("split_huge_pmd", "collapse_huge_page")]
    m = k.load({0: churn, 1: [call("gup_fast_loop", THP_EA, PMD_SIZE, n, S)]}, (0, 1))
    m.prepare()
    m.run(10**8)
    got, backoffs = (u64(m, k.layout.marks(1) + 8 * (S + i)) for i in range(2))
    return got, backoffs, sum(refs(m, k))


@pytest.mark.parametrize("method", ["robust", "count"])
def test_gup_fast_recheck_backs_off_under_split_and_collapse(method):
    """Fixed schedule, deterministic: robust's re-check catches entries that
    changed after the walk and drops those references; the other methods do
    not re-check.  Every reference taken is put back either way."""
    got, backoffs, left = churn_run(method)
    assert 0 < got < 3000 and left == 0
    assert (backoffs > 0) == (method == "robust")
    assert churn_run(method) == (got, backoffs, left)
