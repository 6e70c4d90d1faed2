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
"""

from powersim.kernel import page, pgtable
from powersim.kernel.irq import prologue
from powersim.kernel.mm import PAGE_SHIFT, PMD_SIZE, pmd_kind
from powersim.kernel.trace import PMD_SET, trace
from powersim.radix import C, R

PTRS_PER_PTE = PMD_SIZE >> PAGE_SHIFT
_SUBPMD_RPN = PMD_SIZE - (1 << PAGE_SHIFT)      # RPN bits of a 64K page inside 2 MiB


def _locked(b, lock, mm):
    pgtable.pmd_lock_addr(b, lock, mm)
    pgtable.spin_lock(b, lock, "r4")


def _begin(b, name):
    """``name(mm, addr)``: r31 = mm, r30 = haddr, r29 = pmdp (returns 0 when the
    walk finds no PMD table); r28 = the PMD lock, taken.  Returns the epilogue."""
    b.label(name)
    epilogue = prologue(b, 80, ["r31", "r30", "r29", "r28", "r27", "r26"])
    b.mr("r31", "r3")
    b.rldicr("r30", "r4", 0, 63 - pgtable.PMD_SHIFT)    # haddr = addr & HPAGE_PMD_MASK
    b.mr("r4", "r30")
    b.bl("pmd_offset")
    b.mr_rc("r29", "r3")
    b.beq(nothing := b.local("nopmd"))
    _locked(b, "r28", "r31")
    return epilogue, nothing


def _end(b, epilogue, nothing, unlock):
    """The common exit of split/collapse: return 1 when the change was made, 0 when
    the re-check at ``unlock`` or the walk at ``nothing`` found nothing to do."""
    b.li("r27", 1)
    b.b(out := b.local("out"))
    b.label(unlock)
    b.li("r27", 0)
    b.label(out)
    pgtable.spin_unlock(b, "r28")
    b.mr("r3", "r27")
    epilogue()
    b.label(nothing)
    b.li("r3", 0)
    epilogue()


def _struct_page(b, dst, pmd, lay):
    """``dst = pmd_page(pmd)``."""
    page.frame_index(b, dst, pmd)
    page.index_to_page(b, dst, dst, lay)


def _emit_split(b, lay):
    epilogue, nothing = _begin(b, "split_huge_pmd")
    b.ldbrx("r4", 0, "r29")
    pmd_kind(b, "r5", "r4")
    b.cmpdi("r5", 3)                    # a present huge leaf
    b.bne(unlock := b.local("unlock"))
    b.mr("r3", "r31")
    b.mr("r4", "r30")
    b.mr("r5", "r29")
    b.bl("pmdp_invalidate")
    b.mr("r27", "r3")                   # old_pmd
    b.mr("r3", "r31")
    b.mr("r4", "r29")
    b.bl("pgtable_trans_huge_withdraw")
    b.mr("r26", "r3")
    b.li("r5", PTRS_PER_PTE)            # set_pte_at: plain big-endian stores [L-pgt]
    b.mtctr("r5")
    b.addi("r6", "r26", -8)
    b.mr("r7", "r27")
    b.label(fill := b.local("fill"))
    b.addi("r6", "r6", 8)
    b.stdbrx("r7", 0, "r6")
    b.addis("r7", "r7", (1 << PAGE_SHIFT) >> 16)    # the next 64K frame
    b.bdnz(fill)
    _struct_page(b, "r3", "r27", lay)
    b.bl("split_huge_pmd_rmap")         # the PTEs' references and mapcounts (page.py)
    b.lwsync()                          # smp_wmb: the PTEs before the PMD [L-bar]
    b.mr("r3", "r31")
    b.mr("r4", "r29")
    b.mr("r5", "r26")
    b.bl("pmd_populate")
    _end(b, epilogue, nothing, unlock)


def _emit_collapse(b, lay):
    epilogue, nothing = _begin(b, "collapse_huge_page")
    b.ldbrx("r4", 0, "r29")
    pmd_kind(b, "r5", "r4")             # a table pointer (cr0 from pmd_kind)
    b.bne(unlock := b.local("unlock"))
    pgtable._next_table(b, "r26", "r4")
    b.li("r5", PTRS_PER_PTE)            # isolate: every PTE present
    b.mtctr("r5")
    b.addi("r6", "r26", -8)
    b.label(check := b.local("check"))
    b.ldu("r7", "8(r6)")
    b.andi_rc("r7", "r7", 0x80)           # V (bit 63 of the big-endian entry: byte 0)
    b.beq(unlock)
    b.bdnz(check)
    b.mr("r3", "r31")
    b.mr("r4", "r30")
    b.mr("r5", "r29")
    b.bl("pmdp_collapse_flush")
    pgtable.spin_unlock(b, "r28")
    b.ldbrx("r27", 0, "r26")            # _pmd = mk_huge_pmd(first PTE), mkdirty
    b.li64("r5", _SUBPMD_RPN)
    b.andc("r27", "r27", "r5")
    b.ori("r27", "r27", R | C)
    b.li("r5", PTRS_PER_PTE)            # __collapse_huge_page_copy: pte_clear each
    b.mtctr("r5")
    b.addi("r6", "r26", -8)
    b.li("r0", 0)
    b.label(clear := b.local("clear"))
    b.stdu("r0", "8(r6)")
    b.bdnz(clear)
    _struct_page(b, "r3", "r27", lay)
    b.bl("collapse_huge_page_rmap")     # the frames PMD-mapped again (page.py)
    b.lwsync()                          # smp_wmb: the copy before set_pmd_at [L-bar]
    _locked(b, "r28", "r31")
    b.mr("r3", "r31")
    b.mr("r4", "r29")
    b.mr("r5", "r26")
    b.bl("pgtable_trans_huge_deposit")
    b.stdbrx("r27", 0, "r29")           # set_pmd_at: radix__set_pte_at, a plain store [L-pgt]
    trace(b, PMD_SET, "r29", "r27", scratch="r5")
    _end(b, epilogue, nothing, unlock)


def emit(b, lay):
    """split_huge_pmd, collapse_huge_page."""
    _emit_split(b, lay)
    _emit_collapse(b, lay)
