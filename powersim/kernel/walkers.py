"""Lockless page-table walkers [LM-walk], as assembled routines; each is
bracketed by the method's ``walker_begin``/``walker_end`` hooks (irq
soft-disable, Bras v5/v6 counting, ...; see powersim.kernel.methods).

Routines (r3.. arguments, r3 result; ELFv2 volatile registers clobbered):

=====================================  ==========================================
``__find_linux_pte(pgdir, ea)``        r3 = the PTE slot (``pte_t *``), or 0 on a
                                       none or serializing entry; r4 = is_thp;
                                       r5, r6 = the slot and value of the last
                                       level read above the PTE (the PMD, or the
                                       PUD for a 1G leaf), for re-checks
``gup_fast(mm, ea)``                   r3 = 1 with one page reference taken (r4 =
                                       the head struct page), 0: the slow path
                                       would run (r4 = 1 if it backed off after
                                       the re-check, else 0)
``gup_fast_window(mm, ea, n)``         test hook: ``gup_fast`` with n loop
                                       iterations between the walk and the get
``kvmppc_book3s_instantiate_page(mm,   the PTE (CPU byte order), or 0: returned
ea)``                                  to the guest (PACA_KVM_RETRIES + 1)
``walker_window(mm, ea, n)``           test hook: a walk whose bracketed window
                                       lasts n loop iterations, stamped in the
                                       marks line (MARK_WIN_*); returns the slot;
                                       the slot counts as used at the window's
                                       end (with walker_recheck: if the PMD is
                                       unchanged), where the page of the entry
                                       read at the walk, a present leaf, gets a
                                       reference as GUP-fast takes it, put back
                                       after the bracket
``gup_fast_loop(ea, len, n, slot)``    n GUP-fast walks of current->mm, the i-th at
                                       ``ea + (i * 64K) mod len``, each reference
                                       put back (put_page) and a quiescent point
                                       (``rcu_qs``, cond_resched) between walks;
                                       marks[slot] = walks that got a reference,
                                       marks[slot + 1] = walks that backed off
``gup_fast_paced(ea, len, period,     GUP-fast walks of current->mm's region as
until)``                               ``gup_fast_loop`` (each reference put back,
                                       ``rcu_qs`` between), one per ``period``
                                       timebase ticks on a fixed grid from the
                                       call (missed slots skipped; 0: back to
                                       back), sleeping in ``wait`` between, until
                                       timebase ``until``; each call bracketed by
                                       WALK_BEGIN (a = ea) and WALK_END (a = its
                                       result) trace records; r3 = calls made
``walker_windows_paced(ea, n, period,   test hook: walker_windows of current->mm on
until)``                               a timebase grid: the k-th window at ``k *
                                       period + (k mod 128)`` (a sweep across 128
                                       ticks), at ``ea + (k * 64K) mod 2M``, until
                                       timebase ``until``
``walk_mark(slot, mm, ea)``            test hook: ``__find_linux_pte(mm->pgd, ea)``
                                       in the walker bracket; r3..r6 to marks
                                       ``slot..slot+3``
``call_mark(slot, func, a, b)``        test hook: ``marks[slot] = func(a, b)``
=====================================  ==========================================

``__find_linux_pte`` reads each level once (``ldbrx``: entries are big-endian
[MW]) and takes every decision on that one value [LM-walk] rule 1.  A
huge PMD is returned as the PTE pointer (the pmd-as-pte cast).  GUP-fast reads
the PTE once through the returned pointer, checks present and ``_PAGE_PTE``
(rule 3), then takes the reference on the head struct page of the frame
(``page_cache_add_speculative``: a fully ordered ``page_ref_add_unless(page, 1,
0)``, which fails on a page whose count already dropped to 0: the slow path);
with ``walker_recheck`` (robust) it re-reads the PMD and the PTE and drops the
reference with ``put_page`` if either changed (mm/gup.c, v6.1
``70cbc3cc78a9``).  A ``PAGE_GET`` trace record names the page where the
walker uses it (before the atomic; with the re-check, once it passed), for
the race checker's use-after-free.
"""

from powersim.asm_builder import R24, R25, R26, R27, R28, R29, R30, R31
from powersim.kernel.irq import prologue
from powersim.kernel.layout import (MARK_WIN_ENTER, MARK_WIN_EXIT, MARK_WIN_HAPPENED,
                                    MARK_WIN_RESTORED, MM_PGD, PACA_IRQ_HAPPENED,
                                    PACA_KVM_RETRIES, PACA_MARKS)
from powersim.kernel.page import SP_REFCOUNT, compound_head, frame_index, index_to_page
from powersim.kernel.pgtable import (PGD_SHIFT, PMD_SHIFT, PUD_SHIFT, _next_table, rcu_qs,
                                     sleep_for, sleep_until)
from powersim.kernel.trace import (PAGE_GET, WALK_BEGIN, WALK_DEREF, WALK_END, WALK_PMD,
                                   WALK_RESTORED, trace)
from powersim.radix import GEOMETRY, PAGE_SHIFTS, SW0, V

PGD_BITS, PUD_BITS, PMD_BITS, PTE_BITS = GEOMETRY["64K"]
PAGE_SHIFT = PAGE_SHIFTS["64K"]


def _index(b, dst, ea, shift, bits):
    """``dst = ((ea >> shift) & (2**bits - 1)) * 8``: the slot offset at a level."""
    b.rldicl(dst, ea, 64 - shift, 64 - bits)
    b.sldi(dst, dst, 3)


def _bit(b, dst, entry, bit):
    """``dst = (entry >> (63 - bit)) & 1`` for a bit in IBM numbering."""
    b.rldicl(dst, entry, bit + 1, 63)


def _emit_find_linux_pte(b):
    b.label("__find_linux_pte")         # (pgdir r3, ea r4)
    null = b.local("null")
    b.mr("r7", "r4")
    b.li("r4", 0)                       # is_thp
    b.mr("r5", "r3")                    # the table being walked
    for shift, bits, last in ((PGD_SHIFT, PGD_BITS, False), (PUD_SHIFT, PUD_BITS, True)):
        _index(b, "r8", "r7", shift, bits)
        b.ldbrx("r6", "r5", "r8")       # READ_ONCE
        b.cmpdi("r6", 0)
        b.beq(null)
        if last:                        # a 1G leaf: return the PUD slot
            _bit(b, "r9", "r6", 1)      # _PAGE_PTE
            b.cmpdi("r9", 0)
            b.beq(table := b.local("pud"))
            b.add("r5", "r5", "r8")
            b.mr("r3", "r5")
            b.blr()
            b.label(table)
        _next_table(b, "r5", "r6")
    _index(b, "r8", "r7", PMD_SHIFT, PMD_BITS)
    b.add("r5", "r5", "r8")             # pmdp
    b.ldbrx("r6", 0, "r5")              # pmd = READ_ONCE(*pmdp)
    trace(b, WALK_PMD, "r5", "r6", scratch="r8")
    b.cmpdi("r6", 0)
    b.beq(null)                         # pmd_none: collapse caught here
    b.li64("r8", V | SW0)               # pmd_is_serializing: INVALID && !PRESENT
    b.and_("r8", "r6", "r8")
    b.li64("r9", SW0)
    b.cmpd("r8", "r9")
    b.beq(null)
    _bit(b, "r9", "r6", 1)              # trans huge: the pmd-as-pte cast
    b.cmpdi("r9", 0)
    b.beq(pte := b.local("pte"))
    b.li("r4", 1)
    b.mr("r3", "r5")
    b.blr()
    b.label(pte)                        # pte_offset_kernel(&pmd, ea)
    _next_table(b, "r3", "r6")
    _index(b, "r8", "r7", PAGE_SHIFT, PTE_BITS)
    b.add("r3", "r3", "r8")
    b.blr()
    b.label(null)
    b.li("r3", 0)
    b.blr()


def _pte_head_page(b, dst, pte, lay, nopage):
    """``dst = compound_head(pte_page(pte))``; a frame beyond the vmemmap
    branches to ``nopage`` (the slow path; the workloads' walkers map none)."""
    frame_index(b, dst, pte)
    b.li64("r3", lay.vmemmap_frames)
    b.cmpld(dst, "r3")
    b.bge(nopage)
    index_to_page(b, dst, dst, lay)
    compound_head(b, dst, dst, "r3")


def _page_ref_add_unless_zero(b, page, fail):
    """``page_ref_add_unless(page, 1, 0)`` (``page_cache_add_speculative``): a
    fully ordered atomic on ``_refcount`` that fails, to ``fail``, on a page
    whose count is 0 (already on its way to the allocator) [L-bar]."""
    b.addi("r4", page, SP_REFCOUNT)
    b.sync()
    b.label(retry := b.local("ref"))
    b.lwarx("r3", 0, "r4")
    b.cmpwi("r3", 0)
    b.beq(fail)
    b.addi("r3", "r3", 1)
    b.stwcx_rc("r3", 0, "r4")
    b.emit(f"bne- {retry}")
    b.sync()


def _emit_gup_fast(b, lay, method):
    b.label("gup_fast")                 # (mm, ea) -> 1 referenced / 0 not
    b.li("r5", 0)
    b.label("gup_fast_window")          # (mm, ea, n): n delay iterations before the get
    mm, flags, result, ptep, pte, pmdp, pmd, ref = R31, R30, R29, R28, R27, R26, R25, R24
    epilogue = prologue(b, 112, [f"r{r}" for r in range(23, 32)])
    b.mr(mm, "r3")
    b.mr(ref, "r4")
    b.mr("r23", "r5")
    b.li(result, 0)
    method.walker_begin(b, mm, flags)
    b.ld("r3", f"{MM_PGD}({mm})")
    b.mr("r4", ref)
    b.bl("__find_linux_pte")
    b.mr_rc(ptep, "r3")
    b.li(ref, 0)                        # r4 result: nothing found
    b.beq(out := b.local("out"))
    b.mr(pmdp, "r5")
    b.mr(pmd, "r6")
    b.ldbrx(pte, 0, ptep)               # pte = READ_ONCE(*ptep), never reloaded
    if not method.walker_recheck:       # used as loaded (robust: once re-checked)
        trace(b, WALK_DEREF, ptep, pte, scratch="r3")
    _bit(b, "r3", pte, 0)               # present ...
    _bit(b, "r4", pte, 1)               # ... and _PAGE_PTE (a leaf, not a table pointer)
    b.and_("r3", "r3", "r4")
    b.cmpdi("r3", 0)
    b.beq(out)
    b.cmpdi("r23", 0)                   # the test hook's delay
    b.beq(get := b.local("get"))
    b.mtctr("r23")
    b.label(delay := b.local("delay"))
    b.bdnz(delay)
    b.label(get)
    _pte_head_page(b, ref, pte, lay, nopage := b.local("nopage"))
    if not method.walker_recheck:       # the page used as found (robust: once re-checked)
        trace(b, PAGE_GET, ref, scratch="r3")
    _page_ref_add_unless_zero(b, ref, nopage)
    if method.walker_recheck:           # the entries unchanged since the walk?
        backoff = b.local("backoff")
        for slot, seen in ((pmdp, pmd), (ptep, pte)):
            b.ldbrx("r3", 0, slot)
            b.cmpd("r3", seen)
            b.bne(backoff)
        trace(b, WALK_DEREF, ptep, pte, scratch="r3")
        trace(b, PAGE_GET, ref, scratch="r3")
    b.li(result, 1)
    b.b(out)
    if method.walker_recheck:
        b.label(backoff)                # put_page: drop the speculative reference
        b.mr("r3", ref)
        b.bl("put_page")
        b.li(ref, 1)                    # r4 result: backed off
        b.b(out)
    b.label(nopage)
    b.li(ref, 0)
    b.label(out)
    method.walker_end(b, mm, flags)
    b.mr("r3", result)
    b.mr("r4", ref)                     # the head struct page, or 1: backed off, 0: none
    epilogue()


def _emit_gup_loop(b, lay):
    b.label("gup_fast_loop")            # (ea, len, n, slot)
    # ea, len, n, &marks[slot], the offset in the region, successes, backoffs
    ea, length, n, marks, offset, successes, backoffs = R31, R30, R29, R28, R27, R26, R25
    epilogue = prologue(b, 96, [f"r{r}" for r in range(25, 32)])
    b.mr(ea, "r3")
    b.mr(length, "r4")
    b.mr_rc(n, "r5")
    b.ld(marks, f"{PACA_MARKS}(r13)")
    b.sldi("r6", "r6", 3)
    b.add(marks, marks, "r6")
    b.li(offset, 0)
    b.li(successes, 0)
    b.li(backoffs, 0)
    b.beq(done := b.local("done"))
    b.label(loop := b.local("walk"))
    b.li64("r3", lay.mm)
    b.add("r4", ea, offset)
    b.bl("gup_fast")
    b.cmpdi("r3", 0)
    b.bne(got := b.local("got"))
    b.add(backoffs, backoffs, "r4")
    b.b(nxt := b.local("next"))
    b.label(got)
    b.addi(successes, successes, 1)
    b.mr("r3", "r4")
    b.bl("put_page")
    b.label(nxt)
    rcu_qs(b, "r3")
    b.addis(offset, offset, (1 << PAGE_SHIFT) >> 16)
    b.cmpld(offset, length)
    b.blt(wrap := b.local("wrap"))
    b.li(offset, 0)
    b.label(wrap)
    b.addi(n, n, -1)
    b.cmpdi(n, 0)
    b.bne(loop)
    b.label(done)
    b.std(successes, f"0({marks})")
    b.std(backoffs, f"8({marks})")
    epilogue()


def _emit_gup_paced(b, lay):
    b.label("gup_fast_paced")           # (ea, len, period, until) -> calls made
    # period, until and the next call in timebase ticks; cur: the call's EA, then the
    # head struct page it returned
    ea, length, period, until, offset, next_call, calls, cur = \
        R31, R30, R29, R28, R27, R26, R25, R24
    epilogue = prologue(b, 96, [f"r{r}" for r in range(24, 32)])
    for dst, src in ((ea, "r3"), (length, "r4"), (period, "r5"), (until, "r6")):
        b.mr(dst, src)
    b.li(offset, 0)
    b.li(calls, 0)
    b.mftb(next_call)                   # the first call at once
    b.label(loop := b.local("paced"))
    b.mftb("r3")
    b.cmpld("r3", until)
    b.bge(done := b.local("done"))
    b.subf_rc("r4", "r3", next_call)    # ticks to the next call
    b.ble(go := b.local("go"))
    b.subf("r5", "r3", until)           # ... but not past ``until``
    b.cmpld("r4", "r5")
    b.ble(sleep := b.local("sleep"))
    b.mr("r4", "r5")
    b.label(sleep)
    sleep_for(b, "r4", "r5", "wait")
    b.b(loop)
    b.label(go)
    b.add(next_call, next_call, period) # the next slot of the fixed grid; slots
    b.cmpld(next_call, "r3")            # already missed are skipped, not caught up
    b.bge(slot := b.local("slot"))
    b.mr(next_call, "r3")
    b.label(slot)
    b.add(cur, ea, offset)
    trace(b, WALK_BEGIN, cur, scratch="r4")   # the gup_fast call's entry ...
    b.li64("r3", lay.mm)
    b.mr("r4", cur)
    b.bl("gup_fast")
    trace(b, WALK_END, "r3", scratch="r5")      # ... and return (a: its result)
    b.mr(cur, "r4")
    b.cmpdi("r3", 0)
    b.beq(nxt := b.local("next"))
    b.mr("r3", cur)
    b.bl("put_page")
    b.label(nxt)
    rcu_qs(b, "r3")
    b.addi(calls, calls, 1)
    b.addis(offset, offset, (1 << PAGE_SHIFT) >> 16)
    b.cmpld(offset, length)
    b.blt(loop)
    b.li(offset, 0)
    b.b(loop)
    b.label(done)
    b.mr("r3", calls)
    epilogue()


def _emit_kvm_fault(b, method):
    b.label("kvmppc_book3s_instantiate_page")   # (mm, ea) -> pte / 0: back to the guest
    epilogue = prologue(b, 64, ["r31", "r30", "r29"])
    b.mr("r31", "r3")
    b.mr("r30", "r4")
    method.walker_begin(b, "r31", "r29")
    b.ld("r3", f"{MM_PGD}(r31)")
    b.mr("r4", "r30")
    b.bl("__find_linux_pte")
    b.li("r30", 0)
    b.cmpdi("r3", 0)
    b.bne(found := b.local("found"))
    b.comment("PTE disappeared temporarily (THP split/collapse): return to the guest")
    b.ld("r4", f"{PACA_KVM_RETRIES}(r13)")
    b.addi("r4", "r4", 1)
    b.std("r4", f"{PACA_KVM_RETRIES}(r13)")
    b.b(out := b.local("out"))
    b.label(found)
    b.ldbrx("r30", 0, "r3")             # pte = *ptep, once
    trace(b, WALK_DEREF, "r3", "r30", scratch="r4")
    b.label(out)
    method.walker_end(b, "r31", "r29")
    b.mr("r3", "r30")
    epilogue()


def _window_get(b, lay, page, entry, traced):
    """The window's ``get_page``: ``page`` = the head struct page of ``entry``
    (the value read at the walk) if a present leaf, with a reference taken
    (``page_ref_add_unless``), or 0 (nothing there, or a count already 0).
    ``traced``: the PAGE_GET record before the atomic.  Keeps r5, r6."""
    b.li(page, 0)
    b.mr("r7", entry)
    _bit(b, "r3", "r7", 0)              # present and a leaf
    _bit(b, "r4", "r7", 1)
    b.and_("r3", "r3", "r4")
    b.cmpdi("r3", 0)
    b.beq(done := b.local("noget"))
    _pte_head_page(b, page, "r7", lay, fail := b.local("getfail"))
    if traced:
        trace(b, PAGE_GET, page, scratch="r3")
    _page_ref_add_unless_zero(b, page, fail)
    b.b(done)
    b.label(fail)
    b.li(page, 0)
    b.label(done)


def _emit_window(b, lay, method):
    b.label("walker_window")            # (mm, ea, n) -> ptep
    # r31 mm, r30 n, r29 irq flags, r28 marks, r27 ea, then the slot, r26 the page,
    # r25 the entry read through the slot at the walk (what the end uses)
    epilogue = prologue(b, 96, [f"r{r}" for r in range(25, 32)])
    b.mr("r31", "r3")
    b.mr("r27", "r4")
    b.mr("r30", "r5")
    b.ld("r28", f"{PACA_MARKS}(r13)")
    method.walker_begin(b, "r31", "r29")
    trace(b, WALK_BEGIN, "r27", scratch="r4")
    b.mftb("r4")
    b.std("r4", f"{8 * MARK_WIN_ENTER}(r28)")
    b.ld("r3", f"{MM_PGD}(r31)")
    b.mr("r4", "r27")
    b.bl("__find_linux_pte")
    b.mr_rc("r27", "r3")
    b.li("r25", 0)
    b.beq(held := b.local("held"))
    b.ldbrx("r25", 0, "r27")            # the entry, read once
    b.label(held)
    b.mtctr("r30")
    b.label(loop := b.local("win"))
    b.bdnz(loop)
    if method.walker_recheck:           # robust: a speculative get, then the slot is used
        _window_get(b, lay, "r26", "r25", traced=False)     # only if the PMD read by
        b.ldbrx("r4", 0, "r5")          # the walk is unchanged (r5, r6 live)
        b.cmpd("r4", "r6")
        b.bne(stale := b.local("stale"))
        trace(b, WALK_DEREF, "r27", "r25", scratch="r4")
        b.cmpdi("r26", 0)
        b.beq(used := b.local("used"))
        trace(b, PAGE_GET, "r26", scratch="r4")
        b.b(used)
        b.label(stale)
        b.cmpdi("r26", 0)
        b.beq(used)
        b.mr("r3", "r26")               # put_page: the speculative reference back
        b.bl("put_page")
        b.li("r26", 0)
        b.label(used)
    else:
        trace(b, WALK_DEREF, "r27", "r25", scratch="r4")    # the window's end uses the slot
        _window_get(b, lay, "r26", "r25", traced=True)  # (0: none) and its page
    b.lbz("r4", f"{PACA_IRQ_HAPPENED}(r13)")
    trace(b, WALK_END, "r4", scratch="r3")     # a: what was recorded, not yet handled
    b.std("r4", f"{8 * MARK_WIN_HAPPENED}(r28)")
    b.mftb("r4")
    b.std("r4", f"{8 * MARK_WIN_EXIT}(r28)")
    method.walker_end(b, "r31", "r29")
    trace(b, WALK_RESTORED, "r27", scratch="r4")
    b.mftb("r4")
    b.std("r4", f"{8 * MARK_WIN_RESTORED}(r28)")
    b.cmpdi("r26", 0)
    b.beq(put := b.local("put"))
    b.mr("r3", "r26")                   # put_page once the window is over
    b.bl("put_page")
    b.label(put)
    b.mr("r3", "r27")
    epilogue()


def _emit_windows_paced(b, lay):
    b.label("walker_windows_paced")     # (ea, n, period, until)
    ea, n, period, until, k = R31, R30, R29, R28, R27
    epilogue = prologue(b, 64, [ea, n, period, until, k])
    for dst, src in ((ea, "r3"), (n, "r4"), (period, "r5"), (until, "r6")):
        b.mr(dst, src)
    b.mftb("r3")                        # the first grid point ahead
    b.divdu(k, "r3", period)
    b.addi(k, k, 1)
    b.label(loop := b.local("paced"))
    b.mulld("r7", k, period)
    b.andi_rc("r8", k, 127)
    b.add("r7", "r7", "r8")
    b.cmpld("r7", until)
    b.bge(done := b.local("done"))
    sleep_until(b, "r7", "r8", "r9")
    b.li64("r3", lay.mm)
    b.rldicl("r4", k, PAGE_SHIFT, 64 - PMD_SHIFT)   # (k * 64K) mod 2M
    b.add("r4", "r4", ea)
    b.mr("r5", n)
    b.bl("walker_window")
    rcu_qs(b, "r3")
    b.addi(k, k, 1)
    b.b(loop)
    b.label(done)
    epilogue()


def _emit_mark_hooks(b, method):
    b.label("walk_mark")                # (slot, mm, ea)
    epilogue = prologue(b, 64, ["r31", "r30", "r29", "r28"])
    b.ld("r31", f"{PACA_MARKS}(r13)")
    b.sldi("r3", "r3", 3)
    b.add("r31", "r31", "r3")           # &marks[slot]
    b.mr("r30", "r4")
    b.mr("r28", "r5")
    method.walker_begin(b, "r30", "r29")
    b.ld("r3", f"{MM_PGD}(r30)")
    b.mr("r4", "r28")
    b.bl("__find_linux_pte")
    for i, r in enumerate(("r3", "r4", "r5", "r6")):
        b.std(r, f"{8 * i}(r31)")
    method.walker_end(b, "r30", "r29")
    epilogue()

    b.label("call_mark")                # (slot, func, a, b)
    epilogue = prologue(b, 48, ["r31"])
    b.ld("r31", f"{PACA_MARKS}(r13)")
    b.sldi("r3", "r3", 3)
    b.add("r31", "r31", "r3")
    b.mr("r12", "r4")                   # ELFv2: r12 = entry address
    b.mtctr("r12")
    b.mr("r3", "r5")
    b.mr("r4", "r6")
    b.bctrl()
    b.std("r3", "0(r31)")
    epilogue()


def emit(b, lay, method):
    """Every walker routine, bracketed by ``method``'s hooks."""
    _emit_find_linux_pte(b)
    _emit_gup_fast(b, lay, method)
    _emit_gup_loop(b, lay)
    _emit_gup_paced(b, lay)
    _emit_kvm_fault(b, method)
    _emit_window(b, lay, method)
    _emit_windows_paced(b, lay)
    _emit_mark_hooks(b, method)
