"""TLB and page-walk-cache edge cases: hits after a walk, sharing between SMT
siblings, tagging, set conflicts ([SK-dt]: 1024 entries,
4-way, per core; [ISA-radix])."""

import pytest

from powersim import radix as rx

EA = 0x7_0000_0000
RA = 0x40_0000
TLB_ENTRIES, TLB_WAYS = 1024, 4            # [SK-dt] tlb-size 0x400, tlb-sets 4


def test_tlb_hit_after_walk_costs_fewer_cycles_and_no_table_access(w):
    w.pt.map(1, EA, RA, "64K", rx.READ)
    first = w.translate(0, EA + 0x100)
    again = w.translate(0, EA + 0x8000)           # same page, other offset
    assert (first.tlb_hit, first.table_accesses > 0) == (False, True)
    assert (again.tlb_hit, again.table_accesses, again.ra) == (True, 0, RA + 0x8000)
    assert again.cycles < first.cycles


@pytest.mark.parametrize("size", ["2M", "1G"])
def test_large_page_tlb_entry_covers_the_whole_page(w, size):
    shift = rx.PAGE_SHIFTS[size]
    ra = 0 if shift == 30 else RA
    w.pt.map(1, EA, ra, size, rx.READ)
    w.translate(0, EA)
    far = w.translate(0, EA + (1 << shift) - 8)    # last doubleword of the page
    assert (far.tlb_hit, far.table_accesses, far.ra) == (True, 0, ra + (1 << shift) - 8)


def test_smt_siblings_share_the_tlb_other_cores_do_not(w):
    """Per-core TLB shared by the 4 threads ([SK-dt]); thread t is on core t // 4."""
    w.pt.map(1, EA, RA, "64K", rx.READ)
    w.translate(0, EA)
    for sibling in (1, 2, 3):
        assert w.translate(sibling, EA + 8 * sibling).tlb_hit is True
    assert [(e["ea"], e["pid"]) for e in w.m.tlb_entries(0) if e["ea"] == EA] == [(EA, 1)]
    assert w.m.tlb_entries(1) == []
    other = w.translate(4, EA)
    assert (other.tlb_hit, other.table_accesses > 0) == (False, True)
    assert w.translate(5, EA).tlb_hit is True      # now core 1 has its own copy


def test_tlb_entries_are_pid_tagged(w):
    """A sibling running another PID must not hit the first PID's entry."""
    w.pt.map(1, EA, RA, "64K", rx.READ)
    w.pt.map(2, EA, 2 * RA, "64K", rx.READ)
    w.set_thread(1, pid=2)
    assert w.ra(0, EA) == RA
    r = w.translate(1, EA)
    assert (r.tlb_hit, r.ra) == (False, 2 * RA)
    assert w.ra(0, EA) == RA                      # PID 1's entry is still there


def test_kernel_quadrant_entry_is_shared_across_pids(w):
    """Quadrant 3 is PID 0 for every thread: one entry serves all PIDs."""
    w.translate(0, w.KERNEL | RA)
    w.set_thread(1, pid=2)
    r = w.translate(1, w.KERNEL | RA + 0x10)
    assert (r.tlb_hit, r.ra) == (True, RA + 0x10)


def test_tlb_entry_reports_page_size(w):
    w.pt.map(1, EA, RA, "2M", rx.READ)
    w.translate(0, EA)
    again = w.translate(0, EA + 0x12_3450)
    assert (again.tlb_hit, again.page_shift, again.ra) == (True, 21, RA + 0x12_3450)


def test_page_walk_cache_shortens_a_walk_in_the_same_pte_table(w):
    """A neighbouring 64K page under the same PMD: only its PTE is read."""
    w.pt.map(1, EA, RA, "64K", rx.READ)
    w.pt.map(1, EA + 0x1_0000, RA + 0x1_0000, "64K", rx.READ)
    cold = w.translate(0, EA)
    warm = w.translate(0, EA + 0x1_0000)
    assert (warm.tlb_hit, warm.pwc_hits > 0, warm.table_accesses) == (False, True, 1)
    assert warm.cycles < cold.cycles


def test_set_conflicts_evict_the_least_recently_used_way(w):
    """TLB_WAYS + 1 pages whose EPNs differ only above the set index (a stride of
    1024 pages is a multiple of any power-of-two set count up to the entry
    count): the first one touched is evicted, the others stay."""
    stride = TLB_ENTRIES << 16
    eas = [EA + i * stride for i in range(TLB_WAYS + 1)]
    assert len({w.m.tlb_set(ea, 16) for ea in eas}) == 1
    for i, ea in enumerate(eas):
        w.pt.map(1, ea, RA + (i << 16), "64K", rx.READ)
    for ea in eas[:TLB_WAYS]:
        w.translate(0, ea)
    w.translate(0, eas[1])                        # eas[0] is now the LRU way
    w.translate(0, eas[TLB_WAYS])                 # ... and is evicted here
    assert w.translate(0, eas[2]).tlb_hit is True
    evicted = w.translate(0, eas[0])
    assert (evicted.tlb_hit, evicted.ra) == (False, RA)


def test_distinct_sets_do_not_evict_each_other(w):
    """TLB_WAYS + 1 consecutive pages fall in different congruence classes."""
    eas = [EA + (i << 16) for i in range(TLB_WAYS + 1)]
    assert len({w.m.tlb_set(ea, 16) for ea in eas}) == len(eas)
    for i, ea in enumerate(eas):
        w.pt.map(1, ea, RA + (i << 16), "64K", rx.READ)
        w.translate(0, ea)
    assert all(w.translate(0, ea).tlb_hit for ea in eas)


def test_faulting_translation_leaves_no_tlb_entry(w):
    """A translation that faults (here on R/C) is not cached: after the PTE is
    fixed the retry walks and succeeds without an invalidation."""
    addr = w.pt.map(1, EA, RA, "64K", rx.READ, rc=False)
    assert w.translate(0, EA).fault is not None
    rx.put_be64(w.mem, addr, rx.be64(w.mem, addr) | rx.R | rx.C)
    w.m.ptesync(0)
    r = w.translate(0, EA)
    assert (r.fault, r.ra, r.tlb_hit) == (None, RA, False)
