"""Invalidation edge cases: tlbiel vs tlbie, IS = VA/PID/LPID/all, AP
matching, RIC = 0/1/2, stale entries and the freed-page-table hazard
([ISA-tlbie], [L-tlb]).

Each test changes a PTE in memory so that a stale cached translation is
visible as a different real address, then checks who still sees it."""

import pytest

from powersim import radix as rx

EA = 0x9_0000_0000
RA_OLD, RA_NEW = 0x40_0000, 0x80_0000
CORE0, CORE1 = 0, 4                         # thread 0 of each core (t // SMT)


def remap(w, pid, ea, ra, size="64K", perms=rx.READ | rx.RW):
    """Change a leaf in memory (what Linux does before invalidating)."""
    shift = rx.PAGE_SHIFTS[size]
    addr = w.pt.entry_addr(pid, ea, shift, create=False)
    old = rx.be64(w.mem, addr)
    rx.put_be64(w.mem, addr, (old & ~(rx.RPN_MASK | 0xF)) | ra | perms)


def warm(w, threads, ea=EA):
    for t in threads:
        assert w.ra(t, ea) == RA_OLD + (ea - EA)


def test_changed_pte_stays_visible_through_a_stale_tlb_entry_until_invalidated(w):
    w.pt.map(1, EA, RA_OLD, "64K", rx.READ | rx.RW)
    warm(w, [CORE0])
    remap(w, 1, EA, RA_NEW)
    w.m.ptesync(CORE0)
    stale = w.translate(CORE0, EA + 8, agree=False)
    assert (stale.tlb_hit, stale.ra) == (True, RA_OLD + 8)
    assert w.m.invariant_violations()             # the checker sees the stale entry
    w.invalidate(CORE0, w.rb_va(EA, 16), w.rs_pid(1))
    assert w.ra(CORE0, EA + 8) == RA_NEW + 8
    assert w.m.invariant_violations() == []


def test_tlbiel_touches_only_its_own_core(w):
    w.pt.map(1, EA, RA_OLD, "64K", rx.READ | rx.RW)
    warm(w, [CORE0, CORE1])
    remap(w, 1, EA, RA_NEW)
    w.invalidate(CORE0, w.rb_va(EA, 16), w.rs_pid(1), local=True)
    assert w.ra(CORE0 + 1, EA) == RA_NEW          # every thread of core 0 sees the new PTE
    assert w.translate(CORE1, EA, agree=False).ra == RA_OLD   # core 1 keeps its entry


def test_tlbie_reaches_every_core(w):
    w.pt.map(1, EA, RA_OLD, "64K", rx.READ | rx.RW)
    warm(w, [CORE0, CORE1])
    remap(w, 1, EA, RA_NEW)
    w.invalidate(CORE1, w.rb_va(EA, 16), w.rs_pid(1))
    assert [w.ra(t, EA) for t in (CORE0, CORE1)] == [RA_NEW, RA_NEW]
    assert w.m.invariant_violations() == []


@pytest.mark.parametrize("size,wrong_shift", [("64K", 12), ("64K", 21), ("2M", 16),
                                              ("2M", 30)])
def test_tlbie_va_with_non_matching_ap_leaves_the_entry(w, size, wrong_shift):
    """IS = 0 invalidates the entry of the given page size (AP) only."""
    shift = rx.PAGE_SHIFTS[size]
    w.pt.map(1, EA, RA_OLD, size, rx.READ | rx.RW)
    warm(w, [CORE0])
    remap(w, 1, EA, RA_NEW, size)
    w.invalidate(CORE0, w.rb_va(EA, wrong_shift), w.rs_pid(1))
    assert w.translate(CORE0, EA, agree=False).ra == RA_OLD
    w.invalidate(CORE0, w.rb_va(EA + (1 << shift) - 1, shift), w.rs_pid(1))  # any EA in it
    assert w.ra(CORE0, EA) == RA_NEW


def test_tlbie_va_leaves_other_pages_and_other_pids(w):
    w.pt.map(1, EA, RA_OLD, "64K", rx.READ | rx.RW)
    w.pt.map(1, EA + 0x1_0000, RA_OLD + 0x1_0000, "64K", rx.READ | rx.RW)
    w.pt.map(2, EA, RA_OLD, "64K", rx.READ | rx.RW)
    w.set_thread(1, pid=2)
    warm(w, [CORE0, 1])
    warm(w, [CORE0], EA + 0x1_0000)
    w.invalidate(CORE0, w.rb_va(EA, 16), w.rs_pid(1))
    assert w.translate(CORE0, EA).tlb_hit is False
    assert w.translate(CORE0, EA + 0x1_0000).tlb_hit is True
    assert w.translate(1, EA).tlb_hit is True      # PID 2's entry for the same EA


def test_tlbie_by_pid_flushes_that_pid_on_every_core_only(w):
    for pid in (1, 2):
        w.pt.map(pid, EA, RA_OLD, "64K", rx.READ | rx.RW)
    w.set_thread(1, pid=2)
    w.set_thread(CORE1 + 1, pid=2)
    warm(w, [CORE0, 1, CORE1, CORE1 + 1])
    w.invalidate(CORE0, w.IS_PID, w.rs_pid(1))
    hits = [w.translate(t, EA).tlb_hit for t in (CORE0, 1, CORE1, CORE1 + 1)]
    assert hits == [False, True, False, True]


@pytest.mark.parametrize("rb", ["lpid", "all"])
def test_tlbie_by_lpid_and_all_flush_every_pid(w, rb):
    for pid in (1, 2):
        w.pt.map(pid, EA, RA_OLD, "64K", rx.READ | rx.RW)
    w.set_thread(CORE1, pid=2)
    warm(w, [CORE0, CORE1])
    w.translate(CORE0, w.KERNEL | RA_OLD)
    w.invalidate(CORE0, w.IS_LPID if rb == "lpid" else w.IS_ALL, w.rs_pid(0, lpid=0))
    assert [w.translate(t, EA).tlb_hit for t in (CORE0, CORE1)] == [False, False]
    assert w.translate(CORE0, w.KERNEL | RA_OLD).tlb_hit is False


def test_tlbie_for_another_lpid_leaves_lpid0(w):
    w.pt.map(1, EA, RA_OLD, "64K", rx.READ | rx.RW)
    warm(w, [CORE0])
    w.invalidate(CORE0, w.IS_LPID, w.rs_pid(0, lpid=5))
    assert w.translate(CORE0, EA).tlb_hit is True


# --- RIC: TLB vs page walk cache ([ISA-tlbie]) ---------------------------------------
def _pte_table_swap(w, ea_a, ea_b):
    """Free the PTE table holding ``ea_a`` and ``ea_b`` the way munmap + reuse
    does: the PMD now points at a fresh table (B -> RA_NEW), and the old table
    page is reused for something else (its B slot now says RA_OLD + 0x30000)."""
    pmd = w.level_entries(1, ea_a)[2]
    old_table = rx.be64(w.mem, pmd) & rx.NLB_MASK
    rx.put_be64(w.mem, pmd, 0)                    # unhook, then re-create via map()
    w.pt.map(1, ea_b, RA_NEW, "64K", rx.READ | rx.RW)
    slot_b = old_table + 8 * ((ea_b >> 16) & 0x1F)
    rx.put_be64(w.mem, slot_b, rx.V | rx.LEAF | (RA_OLD + 0x3_0000) | rx.R | rx.C | rx.READ)
    assert rx.be64(w.mem, pmd) & rx.NLB_MASK != old_table


def test_ric0_leaves_a_stale_directory_entry_usable_until_ric2(w):
    """The freed-page-table hazard: after RIC = 0 the page walk cache still
    points at the freed PTE table, so a walk reads whatever is there now."""
    a, b = EA, EA + 0x1_0000
    w.pt.map(1, a, RA_OLD, "64K", rx.READ | rx.RW)
    w.pt.map(1, b, RA_OLD + 0x1_0000, "64K", rx.READ | rx.RW)
    warm(w, [CORE0])                              # caches the PMD entry -> old table
    _pte_table_swap(w, a, b)
    w.invalidate(CORE0, w.IS_PID, w.rs_pid(1), ric=w.RIC_TLB)
    stale = w.translate(CORE0, b, agree=False)
    assert (stale.tlb_hit, stale.ra) == (False, RA_OLD + 0x3_0000)  # walked the freed table
    assert w.m.invariant_violations()
    w.invalidate(CORE0, w.IS_PID, w.rs_pid(1), ric=w.RIC_ALL)
    assert w.ra(CORE0, b) == RA_NEW
    assert w.m.invariant_violations() == []


def test_ric1_flushes_only_the_page_walk_cache(w):
    a, b = EA, EA + 0x1_0000
    w.pt.map(1, a, RA_OLD, "64K", rx.READ | rx.RW)
    w.pt.map(1, b, RA_OLD + 0x1_0000, "64K", rx.READ | rx.RW)
    warm(w, [CORE0])
    _pte_table_swap(w, a, b)                      # a is unmapped in the new table
    w.invalidate(CORE0, w.IS_PID, w.rs_pid(1), ric=w.RIC_PWC)
    kept = w.translate(CORE0, a, agree=False)
    assert (kept.tlb_hit, kept.ra) == (True, RA_OLD)  # the TLB was not touched
    fresh = w.translate(CORE0, b)                 # but the walk reads all 4 levels anew
    assert (fresh.tlb_hit, fresh.table_accesses >= 4, fresh.ra) == (False, True, RA_NEW)


def test_ric2_flushes_tlb_and_walk_cache(w):
    w.pt.map(1, EA, RA_OLD, "64K", rx.READ | rx.RW)
    warm(w, [CORE0, CORE1])
    w.invalidate(CORE0, w.IS_PID, w.rs_pid(1), ric=w.RIC_ALL)
    for t in (CORE0, CORE1):
        r = w.translate(t, EA)
        assert (r.tlb_hit, r.table_accesses >= 4) == (False, True)   # every level read


def test_ric2_drops_a_cached_process_table_entry(w):
    """Moving a PID's tree: the PRTE changes in memory, and only RIC = 2
    forgets the cached copy ([ISA-radix])."""
    w.pt.map(1, EA, RA_OLD, "64K", rx.READ | rx.RW)
    warm(w, [CORE0])
    old_root = w.pt.roots.pop(1)
    prte = w.pt.prtb + 16
    old_prte = rx.be64(w.mem, prte)
    rx.put_be64(w.mem, prte, 0)
    w.pt.map(1, EA, RA_NEW, "64K", rx.READ | rx.RW)    # builds a new tree and PRTE
    assert w.pt.roots[1] != old_root and rx.be64(w.mem, prte) != old_prte
    w.invalidate(CORE0, w.IS_PID, w.rs_pid(1), ric=w.RIC_ALL)
    assert w.ra(CORE0, EA) == RA_NEW
    assert w.m.invariant_violations() == []


def test_tlbie_va_of_a_kernel_quadrant_page(w):
    """Quadrant 3 (PID 0) EAs have the top bits set; RB carries them in its EPN."""
    kva = w.KERNEL | RA_OLD
    warm_kernel = w.translate(CORE0, kva)
    assert (warm_kernel.ra, w.translate(CORE0, kva).tlb_hit) == (RA_OLD, True)
    w.invalidate(CORE0, w.rb_va(kva, 30), w.rs_pid(0))
    assert w.translate(CORE0, kva).tlb_hit is False


def test_tlbiel_by_pid_touches_only_the_congruence_class_in_rb(w):
    """tlbiel with IS != 0 invalidates one of the 128 radix congruence classes
    given by RB SET (bits 40:51, ``set << 12``); Linux loops over all 128
    ([L-tlb] _tlbiel_pid)."""
    sets = 128                                    # POWER9_TLB_SETS_RADIX [L-hash.h]
    eas = [EA, EA + 0x1_0000]                     # consecutive pages: classes s, s + 1
    for i, ea in enumerate(eas):
        w.pt.map(1, ea, RA_OLD + (i << 16), "64K", rx.READ | rx.RW)
        w.translate(CORE0, ea)
    first = w.m.tlb_set(eas[0], 16)
    assert w.m.tlb_set(eas[1], 16) == (first + 1) % sets
    w.invalidate(CORE0, first << 12 | w.IS_PID, w.rs_pid(1), local=True)
    assert [w.translate(CORE0, ea).tlb_hit for ea in eas] == [False, True]
    for s in range(sets):
        w.m.tlbie(CORE0, s << 12 | w.IS_PID, w.rs_pid(1), local=True)
    assert [w.translate(CORE0, ea).tlb_hit for ea in eas] == [False, False]


@pytest.mark.parametrize("ric", ["RIC_PWC", "RIC_ALL"])
def test_tlbie_va_drops_the_walk_cache_entries_on_its_path_only(w, ric):
    """A single-VA tlbie with RIC = 1 or 2 forgets the cached PDEs of every
    level above the VA's page (its walk reads all four levels again; RIC = 2
    also the process table entry) and keeps those of a region whose upper
    levels differ (2^40 bytes away: another level-0 entry), on every core."""
    far = EA + (1 << 40)
    for base in (EA, far):
        w.pt.map(1, base, RA_OLD, "64K", rx.READ | rx.RW)
        w.pt.map(1, base + 0x1_0000, RA_OLD + 0x1_0000, "64K", rx.READ | rx.RW)
    warm(w, [CORE0, CORE1])
    for t in (CORE0, CORE1):
        assert w.ra(t, far) == RA_OLD
    w.invalidate(CORE0, w.rb_va(EA, 16), w.rs_pid(1), ric=getattr(w, ric))
    for t in (CORE0, CORE1):
        near = w.translate(t, EA + 0x1_0000)
        assert (near.tlb_hit, near.pwc_hits, near.table_accesses >= 4) == (False, 0, True)
        kept = w.translate(t, far + 0x1_0000)
        assert (kept.tlb_hit, kept.pwc_hits > 0, kept.table_accesses) == (False, True, 1)
