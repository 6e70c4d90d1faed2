"""THP split and khugepaged collapse ([LM-thp], docs/KERNEL.md "mm
operations"), as assembled routines.

``split_huge_pmd(mm, addr)`` -> 1 split / 0 no huge PMD there
    ``__split_huge_pmd_locked`` (v5.4 mm/huge_memory.c): under the PMD lock,
    ``pmdp_invalidate`` (hardware-invalid, software-present, 2M flush, the
    method's serialize), withdraw the deposited PTE table, fill its 32 PTEs
    (64K base pages) from the old PMD: consecutive frames, the same
    permission and R/C bits, ``_PAGE_PTE | _PAGE_PRESENT`` (Linux builds them
    with ``mk_pte(page + i, vma->vm_page_prot)`` and carries write/young from
    the old PMD; here the PMD's own bits stand for both), ``smp_wmb``
    (lwsync: the PTEs before the pointer), ``pmd_populate``; unlock.  The
    struct pages as __split_huge_pmd_locked leaves them (page.py
    ``split_huge_pmd_rmap``): 31 more references on the head (one per PTE),
    each subpage's _mapcount up, the compound mapcount down (NR_ANON_THPS).

``collapse_huge_page(mm, addr)`` -> 1 collapsed / 0 not a full PTE table
    v5.4 mm/khugepaged.c order: PMD lock; re-check it points to a table whose
    32 PTEs are all present (``__collapse_huge_page_isolate``, checked before
    the clear here so that no restore path is needed); ``pmdp_collapse_flush``
    (plain clear, the method's serialize with ``collapse=True``,
    ``radix__flush_tlb_collapsed_pmd``); unlock.  Then
    ``__collapse_huge_page_copy`` clears every PTE (``pte_clear``: the copy
    itself is data, which is frames only here), the new huge PMD is built
    (``mk_huge_pmd`` + ``pmd_mkdirty``: the first PTE's permissions, its frame
    rounded down to 2 MiB, R and C set, ``_PAGE_PTE | _PAGE_PRESENT``),
    ``smp_wmb``; PMD lock; ``pgtable_trans_huge_deposit`` of the old PTE
    table (Linux re-deposits it rather than freeing it: ``pgtable =
    pmd_pgtable(_pmd)``), ``set_pmd_at`` (a plain store, radix__set_pte_at);
    unlock.  khugepaged copies into a new huge page and frees the old pages;
    here the frames stay the same, so their struct pages return to the
    PMD-mapped state (page.py ``collapse_huge_page_rmap``: each subpage's
    _mapcount down, the compound mapcount and NR_ANON_THPS up, the PTEs' 31
    references dropped), not Linux's instructions for it.

``split_collapse_paced(period, split_lead, collapse_lead, until)``: test hook,
a split then a collapse of current->mm's first THP on a timebase grid (the
barrier tests' churn, tests/kernel/test_barriers.py).
"""

from powersim.asm_builder import R0, R3, R4, R5, R6, R7, R8, R9, R26, R27, R28, R29, R30, R31
from powersim.kernel import page, pgtable
from powersim.kernel.irq import prologue
from powersim.kernel.mm import PAGE_SHIFT, PMD_SIZE, pmd_kind
from powersim.kernel.trace import PMD_SET, trace
from powersim.radix import C, R

PTRS_PER_PTE = PMD_SIZE >> PAGE_SHIFT
_SUBPMD_RPN = PMD_SIZE - (1 << PAGE_SHIFT)      # RPN bits of a 64K page inside 2 MiB

# The frame of split_huge_pmd and collapse_huge_page: _begin, _end and both bodies
# share it, so it is named once here.
MM, HADDR, PMDP, PTL = R31, R30, R29, R28       # PTL: the PMD lock, held
RET = OLD_PMD = NEW_PMD = R27       # the result at _end; the old / the new PMD in a body
PGTABLE = R26                       # the PTE table withdrawn / deposited


def _locked(b, lock, mm):
    pgtable.pmd_lock_addr(b, lock, mm)
    pgtable.spin_lock(b, lock, R4)


def _begin(b, name):
    """``name(mm, addr)``: r31 = mm, r30 = haddr, r29 = pmdp (returns 0 when the
    walk finds no PMD table); r28 = the PMD lock, taken.  Returns the epilogue."""
    b.label(name)
    epilogue = prologue(b, 80, [MM, HADDR, PMDP, PTL, RET, PGTABLE])
    b.mr(MM, R3)
    b.rldicr(HADDR, R4, 0, 63 - pgtable.PMD_SHIFT)      # haddr = addr & HPAGE_PMD_MASK
    b.mr(R4, HADDR)
    b.bl("pmd_offset")
    b.mr_rc(PMDP, R3)
    b.beq(nothing := b.local("nopmd"))
    _locked(b, PTL, MM)
    return epilogue, nothing


def _end(b, epilogue, nothing, unlock):
    """The common exit of split/collapse: return 1 when the change was made, 0 when
    the re-check at ``unlock`` or the walk at ``nothing`` found nothing to do."""
    b.li(RET, 1)
    b.b(out := b.local("out"))
    b.label(unlock)
    b.li(RET, 0)
    b.label(out)
    pgtable.spin_unlock(b, PTL)
    b.mr(R3, RET)
    epilogue()
    b.label(nothing)
    b.li(R3, 0)
    epilogue()


def _struct_page(b, dst, pmd, lay):
    """``dst = pmd_page(pmd)``."""
    page.frame_index(b, dst, pmd)
    page.index_to_page(b, dst, dst, lay)


def _emit_split(b, lay, wmb=True):
    epilogue, nothing = _begin(b, "split_huge_pmd")
    b.ldbrx(R4, 0, PMDP)
    pmd_kind(b, R5, R4)
    b.cmpdi(R5, 3)                      # a present huge leaf
    b.bne(unlock := b.local("unlock"))
    b.mr(R3, MM)
    b.mr(R4, HADDR)
    b.mr(R5, PMDP)
    b.bl("pmdp_invalidate")
    b.mr(OLD_PMD, R3)
    b.mr(R3, MM)
    b.mr(R4, PMDP)
    b.bl("pgtable_trans_huge_withdraw")
    b.mr(PGTABLE, R3)
    b.li(R5, PTRS_PER_PTE)              # set_pte_at: plain big-endian stores [L-pgt]
    b.mtctr(R5)
    b.addi(R6, PGTABLE, -8)
    b.mr(R7, OLD_PMD)
    b.label(fill := b.local("fill"))
    b.addi(R6, R6, 8)
    b.stdbrx(R7, 0, R6)
    b.addis(R7, R7, (1 << PAGE_SHIFT) >> 16)        # the next 64K frame
    b.bdnz(fill)
    _struct_page(b, R3, OLD_PMD, lay)
    b.bl("split_huge_pmd_rmap")         # the PTEs' references and mapcounts (page.py)
    if wmb:                             # (kernel.drop_barrier = split_wmb: left out)
        b.lwsync()                      # smp_wmb: the PTEs before the PMD [L-bar]
    b.mr(R3, MM)
    b.mr(R4, PMDP)
    b.mr(R5, PGTABLE)
    b.bl("pmd_populate")
    _end(b, epilogue, nothing, unlock)


def _emit_collapse(b, lay):
    epilogue, nothing = _begin(b, "collapse_huge_page")
    b.ldbrx(R4, 0, PMDP)
    pmd_kind(b, R5, R4)                 # a table pointer (cr0 from pmd_kind)
    b.bne(unlock := b.local("unlock"))
    pgtable._next_table(b, PGTABLE, R4)
    b.li(R5, PTRS_PER_PTE)              # isolate: every PTE present
    b.mtctr(R5)
    b.addi(R6, PGTABLE, -8)
    b.label(check := b.local("check"))
    b.ldu(R7, f"8({R6})")
    b.andi_rc(R7, R7, 0x80)               # V (bit 63 of the big-endian entry: byte 0)
    b.beq(unlock)
    b.bdnz(check)
    b.mr(R3, MM)
    b.mr(R4, HADDR)
    b.mr(R5, PMDP)
    b.bl("pmdp_collapse_flush")
    pgtable.spin_unlock(b, PTL)
    b.ldbrx(NEW_PMD, 0, PGTABLE)        # _pmd = mk_huge_pmd(first PTE), mkdirty
    b.li64(R5, _SUBPMD_RPN)
    b.andc(NEW_PMD, NEW_PMD, R5)
    b.ori(NEW_PMD, NEW_PMD, R | C)
    b.li(R5, PTRS_PER_PTE)              # __collapse_huge_page_copy: pte_clear each
    b.mtctr(R5)
    b.addi(R6, PGTABLE, -8)
    b.li(R0, 0)
    b.label(clear := b.local("clear"))
    b.stdu(R0, f"8({R6})")
    b.bdnz(clear)
    _struct_page(b, R3, NEW_PMD, lay)
    b.bl("collapse_huge_page_rmap")     # the frames PMD-mapped again (page.py)
    b.lwsync()                          # smp_wmb: the copy before set_pmd_at [L-bar]
    _locked(b, PTL, MM)
    b.mr(R3, MM)
    b.mr(R4, PMDP)
    b.mr(R5, PGTABLE)
    b.bl("pgtable_trans_huge_deposit")
    b.stdbrx(NEW_PMD, 0, PMDP)          # set_pmd_at: radix__set_pte_at, a plain store [L-pgt]
    trace(b, PMD_SET, PMDP, NEW_PMD, scratch=R5)
    _end(b, epilogue, nothing, unlock)


def _emit_churn_paced(b, lay):
    """``split_collapse_paced(period, split_lead, collapse_lead, until)``: test
    hook on current->mm's first THP: for each k, split_huge_pmd at timebase
    ``k * period - split_lead``, then collapse_huge_page at ``k * period -
    collapse_lead`` (leads are signed), until timebase ``until``."""
    from powersim.kernel.mm import THP_EA
    b.label("split_collapse_paced")
    period, split_lead, collapse_lead, until, k = R31, R30, R29, R28, R27
    epilogue = prologue(b, 64, [period, split_lead, collapse_lead, until, k])
    for dst, src in ((period, R3), (split_lead, R4), (collapse_lead, R5), (until, R6)):
        b.mr(dst, src)
    b.mftb(R3)                          # the first k whose split is still ahead
    b.add(R3, R3, split_lead)
    b.divdu(k, R3, period)
    b.addi(k, k, 1)
    done = b.local("done")
    b.label(loop := b.local("round"))
    for lead, routine in ((split_lead, "split_huge_pmd"), (collapse_lead, "collapse_huge_page")):
        b.mulld(R7, k, period)
        b.subf(R7, lead, R7)
        b.cmpld(R7, until)
        b.bge(done)
        pgtable.sleep_until(b, R7, R8, R9)
        b.li64(R3, lay.mm)
        b.li64(R4, THP_EA)
        b.bl(routine)
    b.addi(k, k, 1)
    b.b(loop)
    b.label(done)
    epilogue()


def emit(b, lay, split_wmb=True):
    """split_huge_pmd (``split_wmb=False``: without the smp_wmb before
    pmd_populate), collapse_huge_page, and the test hook split_collapse_paced."""
    _emit_split(b, lay, split_wmb)
    _emit_collapse(b, lay)
    _emit_churn_paced(b, lay)
