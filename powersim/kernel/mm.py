"""munmap / zap of THP-mapped memory [LM-zap] and the Python side that
builds the process whose region they unmap.

Routines:

* ``munmap(start, len)`` on the mm (``current->mm``: the layout's one mm):
  ``tlb_gather_mmu(mm, start, end)``, ``unmap_vmas``, ``tlb_finish_mmu``.
  ``exit_mmap(start, len)``: the same for the process's one VMA with a fullmm
  gather (``tlb_gather_mmu(mm, 0, -1)``), as at process exit.
* ``unmap_vmas(tlb, start, end)``: for each 2 MiB PMD of [start, end) (2 MiB
  multiples: partial THPs would need a split): a huge PMD -> ``zap_huge_pmd``,
  a PMD pointing to a PTE table (a split THP) -> ``zap_pte_range``.
* ``zap_huge_pmd(tlb, pmdp, addr)``: ``tlb_change_page_size(2M)``, PMD lock,
  re-check it is still huge (``__pmd_trans_huge_lock``),
  ``pmdp_huge_get_and_clear_full(.., tlb->fullmm)`` (the method's serialize
  happens in there), ``tlb_remove_pmd_tlb_entry``, ``page_remove_rmap(page,
  true)``, ``zap_deposited_table``, ``add_mm_counter(MM_ANONPAGES, -32)``,
  unlock, ``tlb_remove_page_size`` (page.py: the gather frees it after a flush).
* ``zap_pte_range(tlb, pmdp, addr)``: ``tlb_change_page_size(64K)``, the PTE
  lock (mm->page_table_lock: no split locks), re-check the PMD still points
  to a table, then each present PTE: ``ptep_get_and_clear_full`` (a plain
  store for fullmm, else the atomic ``radix__pte_update``, which is
  ``pmd_hugepage_update``'s code) and ``tlb_remove_tlb_entry`` (widen by
  64K), then for a frame with a struct page (``vm_normal_page``; the
  tlb_flush workload's base pages have none) ``rss[MM_ANONPAGES]--``,
  ``page_remove_rmap(page, false)`` and ``__tlb_remove_page``, which breaks
  out of a full gather (``force_flush``: ``tlb_flush_mmu_tlbonly`` under the
  lock, ``tlb_flush_mmu_free`` after it, then again from the next PTE);
  ``add_mm_rss_vec``; unlock.
* ``free_pgtables(tlb, start, end)`` (after unmap_vmas, as unmap_region does):
  each PMD of the range that still points to a PTE table: ``pmd_clear``
  (plain store), then ``pte_free_tlb``: ``tlb_flush_pmd_range(addr, 64K)``,
  ``freed_tables = 1``, ``tlb_remove_table``.  PMD/PUD pages stay (the range
  is never a whole PUD here).
* ``tlb_table_flush(tlb)``: after the TLB flush, every batched table to the
  method's ``free_pgtable`` hook (immediate, or ``tlb_remove_table_deferred``).
* ``zap_deposited_table(mm, pmdp)``: withdraw the deposited PTE table and
  ``pte_free`` it at once, as Linux does: no walker can hold a table that was
  only deposited (never in a PMD since the last serialize).

``build_process`` writes PID 1's tables: ``nbytes`` at ``THP_EA`` mapped by
2 MiB leaves (``_PAGE_PTE | _PAGE_PRESENT``, R and C set as Linux sets them for
a THP it maps, user read/write), each with one PTE table from the pool
deposited (pgtable_trans_huge_deposit); the rest of the pool on the free list.
Data pages are frame numbers only: host memory grows with page tables and the
struct pages (page.build_struct_pages, 64 B per 64K frame), never with data.
"""

from powersim.asm_builder import (R0, R1, R3, R4, R5, R6, R7, R8, R9, R22, R23, R24, R25, R26,
                                   R27, R28, R29, R30, R31)
import array

import attrs
import numpy as np

from powersim.errors import PowersimError
from powersim.kernel import page, pgtable
from powersim.kernel.irq import prologue
from powersim.kernel.layout import (FRAMES_PER_THP, KERNELBASE, MM_PGD, MM_PID, MM_RSS_ANON,
                                    POOL_FREE, POOL_HEAD, PT_FRAME_SHIFT, PTE_TABLE_BYTES,
                                    THP_FRAMES)
from powersim.kernel.tlbflush import (TLB_FREED_TABLES, TLB_FULLMM, TLB_MM, TLB_NR_TABLES,
                                      TLB_SIZE, TLB_TABLES)
from powersim.kernel.trace import PMD_SET, trace
from powersim.radix import LEAF, PAGE_SHIFTS, READ, RW, C, PageTables, R, V

PMD_SIZE = 1 << pgtable.PMD_SHIFT
THP_EA = 0x7000_0000_0000       # an mmap-area user address, 1 GiB aligned
PROCESS_PID = 1
PAGE_SHIFT = PAGE_SHIFTS["64K"]     # base pages (64K geometry) [L-r64k]
BASE_EA = THP_EA + (512 << 20)  # the base-page region (fault_in_base_pages), in the THP
                                # region's PMD table: the THPs must end below it
BASE_PTE = V | LEAF | R | C | READ | RW     # a written anonymous user page (do_anonymous_page)


def pmd_kind(b, dst, entry):
    """``dst`` = the top two bits of a PMD: 3 huge leaf, 2 table pointer, else
    none (0) or serializing (1: _PAGE_PTE without _PAGE_PRESENT)."""
    b.rldicl(dst, entry, 2, 62)
    b.cmpdi(dst, 2)


# The frame of a loop over the PMDs of [start, end) of a gather (unmap_vmas,
# free_pgtables), set up by _pmd_loop_head.
_TLB, _ADDR, _END, _PMDP = R28, R31, R30, R29


def _pmd_loop_head(b):
    """The head of a loop over the PMDs of [start, end) of a gather, the routine's
    (tlb, start, end) arguments: r28 = tlb, r31 = addr, r30 = end, r29 = pmdp and
    r4 = the PMD's value inside the body; a missing PMD table skips to ``nxt``.
    Returns (loop, nxt, done) for ``_pmd_loop_tail``."""
    b.mr(_TLB, R3)
    b.mr(_ADDR, R4)
    b.mr(_END, R5)
    b.label(loop := b.local("pmd"))
    b.cmpld(_ADDR, _END)
    b.bge(done := b.local("done"))
    b.ld(R3, f"{TLB_MM}({_TLB})")
    b.mr(R4, _ADDR)
    b.bl("pmd_offset")
    b.mr_rc(_PMDP, R3)
    b.beq(nxt := b.local("next"))
    b.ldbrx(R4, 0, _PMDP)
    return loop, nxt, done


def _pmd_loop_tail(b, loop, nxt, done):
    b.label(nxt)
    b.addis(_ADDR, _ADDR, PMD_SIZE >> 16)
    b.b(loop)
    b.label(done)

def emit(b, lay, method):
    """munmap, exit_mmap, unmap_vmas, zap_huge_pmd, zap_deposited_table."""
    b.label("zap_deposited_table")      # (mm, pmdp)
    epilogue = prologue(b)
    b.bl("pgtable_trans_huge_withdraw")
    b.bl("pte_free")                    # mm_dec_nr_ptes; pte_free [L-pgt]
    epilogue()

    b.label("zap_huge_pmd")             # (tlb, pmdp, addr) -> 1 zapped / 0 not huge
    tlb, pmdp, addr, mm, pg = R31, R30, R29, R28, R27    # pg: the page, once zapped
    epilogue = prologue(b, 64, [tlb, pmdp, addr, mm, pg])
    b.mr(tlb, R3)
    b.mr(pmdp, R4)
    b.mr(addr, R5)
    b.li(R4, pgtable.PMD_SHIFT)
    b.bl("tlb_change_page_size")
    b.ld(mm, f"{TLB_MM}({tlb})")
    pgtable.pmd_lock_addr(b, R3, mm)
    pgtable.spin_lock(b, R3, R4)
    b.li(pg, 0)
    b.ldbrx(R4, 0, pmdp)                # still huge under the lock?
    b.rldicl(R4, R4, 2, 63)             # _PAGE_PTE
    b.cmpdi(R4, 0)
    b.beq(unlock := b.local("notthp"))
    b.mr(R3, mm)
    b.mr(R4, addr)
    b.mr(R5, pmdp)
    b.ld(R6, f"{TLB_FULLMM}({tlb})")
    b.bl("pmdp_huge_get_and_clear_full")
    page.frame_index(b, pg, R3)         # pmd_page
    page.index_to_page(b, pg, pg, lay)
    b.mr(R3, tlb)
    b.mr(R4, pmdp)
    b.mr(R5, addr)
    b.bl("tlb_remove_pmd_tlb_entry")
    b.mr(R3, pg)
    b.bl("page_remove_rmap_thp")        # page_remove_rmap(page, true)
    b.ld(R4, f"{page.SP_MAPPING}({pg})")    # PageAnon
    b.andi_rc(R4, R4, page.PAGE_MAPPING_ANON)
    b.beq(unlock)
    b.mr(R3, mm)
    b.mr(R4, pmdp)
    b.bl("zap_deposited_table")
    b.addi(R3, mm, MM_RSS_ANON)         # add_mm_counter(mm, MM_ANONPAGES, -HPAGE_PMD_NR)
    b.li(R4, -FRAMES_PER_THP)
    page.atomic_rmw(b, R3, "add", R4, R5)
    b.label(unlock)
    pgtable.pmd_lock_addr(b, R3, mm)
    pgtable.spin_unlock(b, R3)
    b.li(R3, 0)
    b.cmpdi(pg, 0)
    b.beq(out := b.local("out"))        # not huge under the lock: nothing zapped
    b.mr(R3, tlb)
    b.mr(R4, pg)
    b.bl("tlb_remove_page_size")
    b.li(R3, 1)
    b.label(out)
    epilogue()

    _emit_pte_level(b, lay, method)

    b.label("unmap_vmas")               # (tlb, start, end): zap_pmd_range
    epilogue = prologue(b, 64, [_ADDR, _END, _PMDP, _TLB])
    loop, nxt, done = _pmd_loop_head(b)
    b.mr(R3, _TLB)
    b.mr(R5, _ADDR)
    b.rldicl(R6, R4, 2, 63)             # pmd_trans_huge: _PAGE_PTE
    b.cmpdi(R6, 0)
    b.mr(R4, _PMDP)
    b.beq(ptes := b.local("ptes"))
    b.bl("zap_huge_pmd")
    b.b(nxt)
    b.label(ptes)
    b.ldbrx(R6, 0, _PMDP)               # a table pointer: present without _PAGE_PTE
    b.rldicl(R6, R6, 1, 63)
    b.cmpdi(R6, 0)
    b.beq(nxt)
    b.bl("zap_pte_range")
    _pmd_loop_tail(b, loop, nxt, done)
    epilogue()

    # munmap(start, len): gather [start, end); exit_mmap(start, len): the process's
    # one VMA [start, start + len) under a fullmm gather (tlb_gather_mmu(mm, 0, -1))
    for name, fullmm in (("munmap", False), ("exit_mmap", True)):
        b.label(name)
        start, end = R31, R30
        epilogue = prologue(b, 32 + TLB_SIZE + 16, [start, end])
        b.mr(start, R3)
        b.add(end, R3, R4)
        b.addi(R3, R1, 32)              # struct mmu_gather on the stack
        b.li64(R4, lay.mm)
        if fullmm:
            b.li(R5, 0)
            b.li(R6, -1)
        else:
            b.mr(R5, start)
            b.mr(R6, end)
        b.bl("tlb_gather_mmu")
        b.addi(R3, R1, 32)
        b.mr(R4, start)
        b.mr(R5, end)
        b.bl("unmap_vmas")
        b.addi(R3, R1, 32)
        b.mr(R4, start)
        b.mr(R5, end)
        b.bl("free_pgtables")
        b.addi(R3, R1, 32)
        b.bl("tlb_finish_mmu")
        epilogue()
    _emit_base_pages(b, lay)


def _emit_base_pages(b, lay):
    """Base-page (64K) mappings for the tlb_flush workload.

    ``fault_in_base_pages(start, len)`` -> 1, or 0 when a PMD table or a PTE
    table is missing: what a write fault on each 64K page of [start, start +
    len) leaves (v5.4 handle_pte_fault -> do_anonymous_page, summarised):
    ``__pte_alloc`` when the PMD is none (``pte_alloc_one``, ``smp_wmb``,
    ``pmd_populate``), then ``set_pte_at`` (a plain big-endian store [L-pgt])
    of a present, referenced, dirty, read/write user PTE (BASE_PTE) whose
    frame is ``THP_FRAMES + (addr - THP_EA)``.  New entries need no TLB flush.
    ``start`` must be 2 MiB aligned; the region must lie in a PMD table that
    exists (BASE_EA: the THP region's).

    ``change_protection(start, len)``: mprotect(PROT_READ) of [start, start +
    len) (v5.4 mm/mprotect.c change_protection_range -> change_pmd_range ->
    change_pte_range, summarised; the flush as [LM-zap]): for each PMD
    pointing to a PTE table, under the PTE lock (mm->page_table_lock), each
    present PTE of the range: ``ptep_modify_prot_start`` (radix: the atomic
    ``pte_update(clr _PAGE_PRESENT, set _PAGE_INVALID)``, i.e.
    ``pmd_hugepage_update``'s code), then ``ptep_modify_prot_commit`` =
    ``set_pte_at`` of the old entry without write permission (present again).
    Then, if any PTE changed, ``flush_tlb_range(vma, start, end)`` at the base
    page size: ``radix__flush_tlb_range_psize(mm, start, end, 16, 0)``, so
    the 33 (global) / 256 (local) ceilings decide a per-page or a PID flush.
    Not modelled: huge PMDs in the range (skipped), and v5.4's extra 2M-page
    flush of the range's 2 MiB aligned part (``hflush`` in
    __radix__flush_tlb_range, CONFIG_TRANSPARENT_HUGEPAGE).
    """
    b.label("fault_in_base_pages")      # (start, len) -> 1 / 0
    addr, end, mm, pmdp = R31, R30, R29, R28
    epilogue = prologue(b, 64, [addr, end, mm, pmdp])
    b.mr(addr, R3)
    b.add(end, R3, R4)
    b.li64(mm, lay.mm)
    b.label(loop := b.local("page"))
    b.cmpld(addr, end)
    b.bge(ok := b.local("ok"))
    b.mr(R3, mm)
    b.mr(R4, addr)
    b.bl("pmd_offset")
    b.mr_rc(pmdp, R3)
    b.beq(fail := b.local("fail"))
    b.ldbrx(R4, 0, pmdp)
    b.cmpdi(R4, 0)
    b.bne(have := b.local("have"))
    b.bl("pte_alloc_one")               # __pte_alloc
    b.mr_rc(R5, R3)
    b.beq(fail)
    b.lwsync()                          # smp_wmb: the zeroed table before the PMD [L-bar]
    b.mr(R3, mm)
    b.mr(R4, pmdp)
    b.bl("pmd_populate")
    b.ldbrx(R4, 0, pmdp)
    b.label(have)
    pmd_kind(b, R5, R4)                 # a table pointer?
    b.bne(fail)
    pgtable._next_table(b, R6, R4)
    b.rldicl(R7, addr, 64 - PAGE_SHIFT, 64 - (pgtable.PMD_SHIFT - PAGE_SHIFT))
    b.sldi(R7, R7, 3)                   # pte_index(addr) * 8
    b.li64(R9, (THP_FRAMES - THP_EA) & ((1 << 64) - 1))
    b.add(R9, R9, addr)                 # the page's frame
    b.li64(R8, BASE_PTE)
    b.emit(f"or {R8},{R8},{R9}")
    b.stdbrx(R8, R6, R7)                # set_pte_at
    b.addis(addr, addr, (1 << PAGE_SHIFT) >> 16)
    b.b(loop)
    b.label(ok)
    b.li(R3, 1)
    epilogue()
    b.label(fail)
    b.li(R3, 0)
    epilogue()

    b.label("change_protection")        # (start, len): mprotect(PROT_READ)
    addr, end, start, pages = R31, R30, R25, R24   # start: kept for the flush
    mm, pmdp, pmd_end, ptep = R28, R29, R27, R26
    epilogue = prologue(b, 96, [f"r{r}" for r in range(24, 32)])
    b.mr(addr, R3)
    b.add(end, R3, R4)
    b.mr(start, R3)
    b.li64(mm, lay.mm)
    b.li(pages, 0)
    b.label(pmds := b.local("pmd"))
    b.cmpld(addr, end)
    b.bge(flush := b.local("flush"))
    b.addis(pmd_end, addr, PMD_SIZE >> 16)      # next = pmd_addr_end(addr, end)
    b.rldicr(pmd_end, pmd_end, 0, 63 - pgtable.PMD_SHIFT)
    b.cmpld(pmd_end, end)
    b.ble(capped := b.local("cap"))
    b.mr(pmd_end, end)
    b.label(capped)
    b.mr(R3, mm)
    b.mr(R4, addr)
    b.bl("pmd_offset")
    b.mr_rc(pmdp, R3)
    b.beq(nxt := b.local("next"))       # no PMD table
    b.ldbrx(R4, 0, pmdp)
    pmd_kind(b, R5, R4)                 # pmd_none_or_clear_bad / trans_huge: skip
    b.bne(nxt)
    pgtable.pmd_lock_addr(b, R3, mm)            # pte_offset_map_lock
    pgtable.spin_lock(b, R3, R4)
    b.ldbrx(R4, 0, pmdp)                # still a table pointer under the lock?
    pmd_kind(b, R5, R4)
    b.bne(unlock := b.local("unlock"))
    trace(b, PMD_SET, pmdp, R4, scratch=R5)     # (the checker: its PTEs change from here)
    pgtable._next_table(b, ptep, R4)
    b.rldicl(R4, addr, 64 - PAGE_SHIFT, 64 - (pgtable.PMD_SHIFT - PAGE_SHIFT))
    b.sldi(R4, R4, 3)
    b.add(ptep, ptep, R4)               # pte_offset(pmd, addr)
    b.label(ptes := b.local("pte"))
    b.ldbrx(R4, 0, ptep)
    b.rldicl(R4, R4, 1, 63)             # pte_present
    b.cmpdi(R4, 0)
    b.beq(skip := b.local("skip"))
    b.mr(R3, mm)                        # ptep_modify_prot_start
    b.mr(R4, addr)
    b.mr(R5, ptep)
    b.li64(R6, V)
    b.li64(R7, pgtable._PAGE_INVALID)
    b.bl("pmd_hugepage_update")
    b.li64(R4, pgtable._PAGE_INVALID | RW)      # pte_modify(old, PAGE_READONLY)
    b.andc(R3, R3, R4)
    b.li64(R4, V)
    b.emit(f"or {R3},{R3},{R4}")
    b.stdbrx(R3, 0, ptep)               # ptep_modify_prot_commit: set_pte_at
    b.addi(pages, pages, 1)
    b.label(skip)
    b.addi(ptep, ptep, 8)
    b.addis(addr, addr, (1 << PAGE_SHIFT) >> 16)
    b.cmpld(addr, pmd_end)
    b.blt(ptes)
    b.label(unlock)
    pgtable.pmd_lock_addr(b, R3, mm)
    pgtable.spin_unlock(b, R3)
    b.label(nxt)
    b.mr(addr, pmd_end)
    b.b(pmds)
    b.label(flush)
    b.cmpdi(pages, 0)                   # if (pages) flush_tlb_range(vma, start, end)
    b.beq(out := b.local("out"))
    b.mr(R3, mm)
    b.mr(R4, start)
    b.mr(R5, end)
    b.li(R6, PAGE_SHIFT)
    b.li(R7, 0)
    b.bl("radix__flush_tlb_range_psize")
    b.label(out)
    epilogue()


def _emit_pte_level(b, lay, method):
    """zap_pte_range, free_pgtables, tlb_table_flush."""
    b.label("zap_pte_range")            # (tlb, pmdp, addr)
    tlb, mm, lock, ptep, addr, end, pmdp, force, rss, pg = \
        R31, R28, R27, R26, R30, R29, R25, R24, R23, R22
    epilogue = prologue(b, 112, [f"r{r}" for r in range(22, 32)])
    b.mr(tlb, R3)
    b.mr(pmdp, R4)
    b.mr(addr, R5)
    b.addis(end, R5, PMD_SIZE >> 16)    # the end of the PMD
    b.li(R4, PAGE_SHIFT)
    b.bl("tlb_change_page_size")
    b.ld(mm, f"{TLB_MM}({tlb})")
    pgtable.pmd_lock_addr(b, lock, mm)
    b.label(again := b.local("again"))
    b.li(force, 0)
    b.li(rss, 0)
    pgtable.spin_lock(b, lock, R4)
    b.ldbrx(R4, 0, pmdp)                # still a table pointer under the lock?
    pmd_kind(b, R5, R4)
    b.bne(unlock := b.local("unlock"))
    trace(b, PMD_SET, pmdp, R4, scratch=R5)     # (the checker: its PTEs change from here)
    pgtable._next_table(b, ptep, R4)
    b.rldicl(R4, addr, 64 - PAGE_SHIFT, 64 - (pgtable.PMD_SHIFT - PAGE_SHIFT))
    b.sldi(R4, R4, 3)
    b.add(ptep, ptep, R4)               # pte_offset_map_lock(addr)
    b.label(loop := b.local("pte"))
    b.ldbrx(R4, 0, ptep)
    b.rldicl(R5, R4, 1, 63)             # pte_present
    b.cmpdi(R5, 0)
    b.beq(nxt := b.local("next"))
    page.frame_index(b, pg, R4)         # vm_normal_page: NULL without a struct page
    b.li64(R5, lay.vmemmap_frames)
    b.cmpld(pg, R5)
    b.li(R5, 0)
    b.bge(cleared := b.local("nopage"))
    page.index_to_page(b, R5, pg, lay)
    b.label(cleared)
    b.mr(pg, R5)
    b.ld(R4, f"{TLB_FULLMM}({tlb})")
    b.cmpdi(R4, 0)
    b.beq(atomic := b.local("atomic"))
    b.li(R0, 0)                         # fullmm: nobody else uses the mm, a plain store
    b.std(R0, f"0({ptep})")
    b.b(gathered := b.local("gathered"))
    b.label(atomic)
    b.mr(R3, mm)
    b.mr(R4, addr)
    b.mr(R5, ptep)
    b.li(R6, -1)
    b.li(R7, 0)
    b.bl("pmd_hugepage_update")
    b.label(gathered)
    b.mr(R3, tlb)                       # tlb_remove_tlb_entry
    b.mr(R4, addr)
    b.lis(R5, (1 << PAGE_SHIFT) >> 16)
    b.bl("__tlb_adjust_range")
    b.cmpdi(pg, 0)
    b.beq(nxt)
    b.addi(rss, rss, -1)                # rss[MM_ANONPAGES]-- (PageAnon)
    b.mr(R3, pg)
    b.bl("page_remove_rmap_pte")
    b.mr(R3, tlb)                       # __tlb_remove_page: a full gather breaks out
    b.mr(R4, pg)
    b.bl("__tlb_remove_page_size")
    b.mr_rc(force, R3)
    b.beq(nxt)
    b.addi(ptep, ptep, 8)
    b.addis(addr, addr, (1 << PAGE_SHIFT) >> 16)
    b.b(unlock)
    b.label(nxt)
    b.addi(ptep, ptep, 8)
    b.addis(addr, addr, (1 << PAGE_SHIFT) >> 16)
    b.cmpld(addr, end)
    b.blt(loop)
    b.label(unlock)
    b.cmpdi(rss, 0)                     # add_mm_rss_vec
    b.beq(counted := b.local("counted"))
    b.addi(R3, mm, MM_RSS_ANON)
    page.atomic_rmw(b, R3, "add", rss, R5)
    b.label(counted)
    b.cmpdi(force, 0)
    b.beq(unlocked := b.local("unlocked"))
    b.mr(R3, tlb)                       # the TLB before the PTE lock goes
    b.bl("tlb_flush_mmu_tlbonly")
    b.label(unlocked)
    pgtable.spin_unlock(b, lock)
    b.cmpdi(force, 0)
    b.beq(done := b.local("done"))
    b.mr(R3, tlb)
    b.bl("tlb_flush_mmu_free")
    b.cmpld(addr, end)
    b.blt(again)
    b.label(done)
    epilogue()

    b.label("free_pgtables")            # (tlb, start, end)
    table = R27                         # the PTE table being freed
    epilogue = prologue(b, 80, [_ADDR, _END, _PMDP, _TLB, table])
    loop, nxt, done = _pmd_loop_head(b)
    pmd_kind(b, R5, R4)
    b.bne(nxt)
    pgtable._next_table(b, table, R4)
    b.li(R0, 0)                         # pmd_clear
    b.std(R0, f"0({_PMDP})")
    trace(b, PMD_SET, _PMDP, R0, scratch=R5)
    b.mr(R3, _TLB)                      # pte_free_tlb: tlb_flush_pmd_range(addr, 64K)
    b.mr(R4, _ADDR)
    b.lis(R5, (1 << PAGE_SHIFT) >> 16)
    b.bl("__tlb_adjust_range")
    b.li(R0, 1)
    b.std(R0, f"{TLB_FREED_TABLES}({_TLB})")
    b.mr(R3, _TLB)
    b.mr(R4, table)
    b.bl("tlb_remove_table")
    _pmd_loop_tail(b, loop, nxt, done)
    epilogue()

    b.label("tlb_table_flush")          # (tlb): free the batch, after the TLB flush
    tlb, i = R31, R30
    epilogue = prologue(b, 48, [tlb, i])
    b.mr(tlb, R3)
    b.li(i, 0)
    b.label(loop := b.local("table"))
    b.ld(R4, f"{TLB_NR_TABLES}({tlb})")
    b.cmpd(i, R4)
    b.bge(done := b.local("done"))
    b.sldi(R5, i, 3)
    b.addi(R5, R5, TLB_TABLES)
    b.ldx(R3, tlb, R5)
    method.free_pgtable(b)
    b.addi(i, i, 1)
    b.b(loop)
    b.label(done)
    b.li(R0, 0)
    b.std(R0, f"{TLB_NR_TABLES}({tlb})")
    epilogue()


@attrs.frozen
class Process:
    """What build_process wrote: every THP's PMD slot and deposited PTE table,
    the free tables (``array.array('q')``: indexing gives Python ints, 8 bytes
    an entry where tuples of ints cost ~160 MB at 4 TiB), and the
    PTCR of the tables."""
    pmds: array.array
    deposited: array.array
    free: array.array
    ptcr: int


def thp_count(nbytes: int) -> int:
    if not isinstance(nbytes, int) or nbytes < 0 or nbytes % PMD_SIZE:
        raise PowersimError(f"THP region of {nbytes!r} bytes: allowed a multiple of 2 MiB "
                            f"({PMD_SIZE}), >= 0")
    return nbytes // PMD_SIZE


def _w64(mem, addr, value):
    a = addr - KERNELBASE
    mem[a:a + 8] = np.frombuffer(value.to_bytes(8, "little"), np.uint8)


def build_process(mem, lay, nbytes: int) -> Process:
    """Write PID 1's page tables, its THP region of ``nbytes`` at THP_EA, the
    deposits and the pool's free list into ``mem``; point the mm at them."""
    n = thp_count(nbytes)
    if n > lay.pte_tables:
        raise PowersimError(f"THP region of {n} huge pages needs {n} deposited PTE tables: "
                            f"the pool has pte_tables = {lay.pte_tables}")
    pt = PageTables(mem, lay.pgtables - KERNELBASE, base_page="64K")
    pmds = [pt.map(PROCESS_PID, THP_EA + i * PMD_SIZE, THP_FRAMES + i * PMD_SIZE, "2M",
                   READ | RW) for i in range(n)]
    pt.root(PROCESS_PID)
    if pt.next_free > lay.pgtables - KERNELBASE + lay.pgtable_bytes:
        raise PowersimError(f"page tables need {pt.next_free - lay.pgtables:#x} bytes: "
                            f"raise pgtable_bytes = {lay.pgtable_bytes:#x}")
    # (vectorized: the Layout properties cost ~10 us a call at 2 M THPs)
    pool, mem_map, pgtables = lay.pte_pool, lay.mem_map, lay.pgtables
    tables = np.arange(lay.pte_tables, dtype=np.int64) * PTE_TABLE_BYTES + pool
    m64 = mem[:len(mem) // 8 * 8].view(np.int64)
    if n:                                       # pgtable_trans_huge_deposit, in PMD order:
        frame = (np.asarray(pmds, np.int64) - (pgtables - KERNELBASE)) >> PT_FRAME_SHIFT
        order = np.argsort(frame, kind="stable")    # each frame's list, in deposit order
        fr, tab = frame[order], tables[:n][order]
        heads = (mem_map - KERNELBASE) // 8 + fr
        first = np.r_[True, fr[1:] != fr[:-1]]
        nxt = np.empty_like(tab)
        nxt[1:] = tab[:-1]
        nxt[first] = m64[heads[first]]          # the head before this build's deposits
        m64[(tab - KERNELBASE) // 8] = nxt      # table->next = the previous head
        last = np.r_[fr[1:] != fr[:-1], True]
        m64[heads[last]] = tab[last]            # pmd_huge_pte = the last deposited
    free_a = tables[n:]
    if len(free_a):
        nxt = np.r_[free_a[1:], 0]
        m64[(free_a - KERNELBASE) // 8] = nxt
    _w64(mem, lay.pgtable_pool + POOL_HEAD, int(free_a[0]) if len(free_a) else 0)
    _w64(mem, lay.pgtable_pool + POOL_FREE, len(free_a))
    _w64(mem, lay.mm + MM_PGD, pt.root(PROCESS_PID))
    _w64(mem, lay.mm + MM_PID, PROCESS_PID)
    return Process(*(array.array("q", a.tobytes()) for a in
                     (np.asarray(pmds, np.int64) + KERNELBASE, tables[:n], free_a)),
                   ptcr=pt.ptcr)
