"""TLB flush routines and the mmu_gather ([LM-zap], [L-tlb], [L-ftrs]),
as assembled routines; the v5.4 forms of radix_tlb.c [L-tlb].

Sequences ([L-tlb]), each a routine:

* ``_tlbie_va_range(start, end, pid, shift, also_pwc)`` (A, per page):
  ``ptesync; [tlbie PID RIC=1]; tlbie va ... ; fixups(last va); eieio; tlbsync;
  ptesync``.  The errata fixups come once per sequence, after the last page
  (fixup_tlbie_va_range) [L-tlb].
* ``_tlbie_pid_tlb(pid)`` / ``_tlbie_pid_all(pid)`` (B, RIC 0 / 2):
  ``ptesync; tlbie IS=1; fixups; eieio; tlbsync; ptesync``.
* ``_tlbiel_pid_tlb(pid)`` / ``_tlbiel_pid_all(pid)`` (C): ``ptesync``; set 0
  with the RIC, sets 1..127 with RIC 0 (POWER9_TLB_SETS_RADIX); ``ptesync;
  slbia 3; isync``.
* ``_tlbiel_va_range(start, end, pid, shift, also_pwc)`` (local single pages):
  ``ptesync; [tlbiel PID RIC=1]; tlbiel va ...; ptesync``.

Errata fixups ([L-ftrs], KernelParams), once per sequence, in this order
(fixup_tlbie_pid / fixup_tlbie_va_range [L-tlb]): ERAT bug: ``ptesync; tlbie``
of all of PID 0; STQ bug: ``ptesync; tlbie`` with the PID again (of the last
page for a range, of VA (1 << 52) - 1 with the 64K AP for a PID flush).

Decisions: ``flush_type_needed(mm, fullmm)`` -> NONE / LOCAL / GLOBAL, by
every flush routine; its form is the method's ``flush_type_v512`` hook:

* v5.4 (all but ``trim``): ``mm_is_thread_local(mm)``: ``active_cpus <= 1``
  and this CPU in ``mm_cpumask`` -> LOCAL (tlbiel), else GLOBAL (tlbie).
  The single-threaded trim is v5.12 only (v4.17's form is not modelled).
* v5.12 (``trim``, [LM-zap]): ``active_cpus`` 0 -> NONE; 1 and this CPU
  in the mask -> LOCAL (if current->mm != mm, on the trim clock: this CPU
  trims itself, NONE); fullmm -> GLOBAL; ``mm_users <= 1`` and running
  the mm -> ``exit_flush_lazy_tlbs`` then LOCAL; on the trim clock (every 1073rd
  flush on this CPU) ``exit_flush_lazy_tlbs`` then LOCAL (running the mm) or
  NONE; else GLOBAL.
* ``switch_mm(next)`` / ``switch_mm_irqs_off(next)`` [LM-cpumask]: the
  other half, which grows mm_cpumask (the SWITCH_MM command).
* ``radix__flush_tlb_range_psize(mm, start, end, shift, also_pwc)``: smp_mb,
  then ``(end - start) >> shift`` pages (pages of the flushed size, as Linux
  counts them) above the global (33) / local (256) ceiling -> a PID flush
  (RIC 2 with ``also_pwc``), else the per-page sequence.
* ``radix__flush_tlb_collapsed_pmd(mm, addr)``: 64K base pages: PWC + the
  2 MiB as 64K pages, never escalated.
* ``__flush_all_mm(mm)``: RIC 2 PID flush, local or global.

mmu_gather (a struct on the caller's stack, the TLB_* offsets; v5.4
asm-generic/tlb.h and mm/mmu_gather.c):
``tlb_gather_mmu(tlb, mm, start, end)`` (fullmm = start == 0 and end == ~0,
as in v5.4), ``__tlb_adjust_range(tlb, addr, size)`` (widen the range),
``tlb_remove_pmd_tlb_entry(tlb, pmdp, addr)`` (by 2 MiB),
``tlb_change_page_size(tlb, shift)`` (a gather of another page size is flushed
first, unless fullmm), ``tlb_remove_table(tlb, table)`` (batch an unlinked
page-table page; a full batch forces ``tlb_flush_mmu``),
``tlb_finish_mmu(tlb)`` = ``tlb_flush_mmu(tlb)``: ``radix__tlb_flush`` (fullmm
-> ``__flush_all_mm``; else the range flush at the gathered page size, with
the PWC when page tables were freed: a RIC 1 PID flush before the pages, or
RIC 2 for a PID flush), ``__tlb_reset_range`` (also clears ``freed_tables``),
then ``tlb_table_flush`` (mm.py: the batched tables to the method's
``free_pgtable``, only after the flush).
"""

from powersim.asm_builder import (R0, R3, R4, R5, R6, R7, R8, R9, R10, R11, R12, R13, R26, R27,
                                   R28, R29, R30, R31)
from powersim.kernel.irq import local_irq_restore, local_irq_save, prologue
from powersim.kernel.layout import (LINE, MM_ACTIVE_CPUS, MM_PID, MM_USERS, PACA_CPU,
                                    PACA_CURRENT_MM)
from powersim.kernel import page
from powersim.kernel.page import BATCH_MAX, BATCH_NEXT, BATCH_NR, BATCH_PAGES, MMU_GATHER_BUNDLE
from powersim.kernel.pgtable import PMD_SHIFT, flush_pmd_tlb_range
from powersim.kernel.smp import test_this_cpu_in_mask
from powersim.radix import AP, PAGE_SHIFTS

RIC_FLUSH_TLB, RIC_FLUSH_PWC, RIC_FLUSH_ALL = 0, 1, 2
# enum tlb_flush_type [L-tlb], numbered so that mm_is_thread_local's 0 / 1 are
# GLOBAL / LOCAL: the v5.4 decision is that routine itself
FLUSH_TYPE_GLOBAL, FLUSH_TYPE_LOCAL, FLUSH_TYPE_NONE = 0, 1, 2
TLB_SETS_RADIX = 128        # POWER9_TLB_SETS_RADIX [L-hash.h]
IS_PID = 0x400              # RB IS = 1: all entries of the PID in RS [L-tlb]
STQ_PID_VA = ((1 << 52) - 1) & ~0xFFF       # fixup_tlbie_pid's "probably unused" VA
SPR_PIDR = 48               # [OBJ]
SLBIA_ERAT_USER = 3         # PPC_RADIX_INVALIDATE_ERAT_USER [L-tlb]

# struct mmu_gather (u64 fields)
TLB_MM, TLB_START, TLB_END, TLB_FULLMM, TLB_FREED_TABLES, TLB_PAGE_SHIFT, TLB_NR_TABLES = \
    range(0, 56, 8)
TLB_TABLES = 56             # the batch (mmu_table_batch): TLB_MAX_TABLES table addresses
TLB_MAX_TABLES = 8          # small, so that a full batch's early flush is exercised
# the page batches (page.py): tlb->active, tlb->batch_count, then tlb->local, the
# on-stack mmu_gather_batch with its MMU_GATHER_BUNDLE page pointers
TLB_ACTIVE = TLB_TABLES + 8 * TLB_MAX_TABLES
TLB_BATCH_COUNT = TLB_ACTIVE + 8
TLB_LOCAL = TLB_BATCH_COUNT + 8
TLB_SIZE = -(-(TLB_LOCAL + BATCH_PAGES + 8 * MMU_GATHER_BUNDLE) // 16) * 16   # ELFv2 frames
TASK_SIZE = 1 << 52         # __tlb_reset_range's start: above every user address


def _fixups(b, kp, stq_rb, rs):
    """fixup_tlbie_pid / fixup_tlbie_va_range [L-tlb]: ERAT bug: ``ptesync;
    tlbie`` of all of PID 0 (not filtered by the snoop filter); STQ bug:
    ``ptesync; tlbie stq_rb`` with the PID again.  Uses r11, r12."""
    if not kp.tlbie_fixups():
        return
    b.li(R11, IS_PID)
    b.li(R12, 0)
    for fix in kp.tlbie_fixups():
        b.ptesync()
        if fix == "erat":
            b.tlbie(R11, R12, RIC_FLUSH_TLB, 1, 1)
        else:
            b.tlbie(stq_rb, rs, RIC_FLUSH_TLB, 1, 1)


def _emit_pid_flushes(b, kp):
    for ric, suffix in ((RIC_FLUSH_TLB, "tlb"), (RIC_FLUSH_ALL, "all")):
        b.label(f"_tlbie_pid_{suffix}")     # (pid)
        b.sldi(R5, R3, 32)                  # RS = pid << 32
        b.li(R4, IS_PID)
        b.ptesync()
        b.tlbie(R4, R5, ric, 1, 1)
        if "stq" in kp.tlbie_fixups():
            b.li64(R6, STQ_PID_VA | AP[PAGE_SHIFTS["64K"]] << 5)
        _fixups(b, kp, R6, R5)
        b.eieio()
        b.tlbsync()
        b.ptesync()
        b.blr()

        b.label(f"_tlbiel_pid_{suffix}")    # (pid)
        b.sldi(R5, R3, 32)
        b.li(R4, IS_PID)
        b.ptesync()
        b.tlbiel(R4, R5, ric, 1, 1)         # set 0 with the RIC (RIC 2: the whole PWC)
        b.li(R6, 1)
        b.label(loop := b.local("set"))
        b.sldi(R4, R6, 12)                  # RB SET field
        b.ori(R4, R4, IS_PID)
        b.tlbiel(R4, R5, RIC_FLUSH_TLB, 1, 1)
        b.addi(R6, R6, 1)
        b.cmpdi(R6, TLB_SETS_RADIX)
        b.blt(loop)
        b.ptesync()                         # ppc_after_tlbiel_barrier
        b.slbia(SLBIA_ERAT_USER)
        b.isync()
        b.blr()


def _ap_bits(b, dst, shift_reg):
    """``dst = mmu_get_ap(psize) << 5`` for a page shift of radix.AP."""
    done = b.local("ap")
    for shift, ap in AP.items():
        b.li(dst, ap << 5)
        b.cmpdi(shift_reg, shift)
        b.beq(done)
    b.label(done)


def _emit_va_ranges(b, kp):
    for local in (False, True):
        insn = b.tlbiel if local else b.tlbie
        b.label("_tlbiel_va_range" if local else "_tlbie_va_range")
        # (start r3, end r4, pid r5, shift r6, also_pwc r7)
        b.sldi(R5, R5, 32)
        b.li(R8, 1)
        b.sld(R8, R8, R6)                   # page size
        _ap_bits(b, R9, R6)
        b.ptesync()
        b.cmpdi(R7, 0)
        b.beq(nopwc := b.local("nopwc"))
        b.li(R10, IS_PID)
        insn(R10, R5, RIC_FLUSH_PWC, 1, 1)
        b.label(nopwc)
        b.label(loop := b.local("page"))
        b.rldicr(R10, R3, 0, 51)            # va & ~PPC_BITMASK(52, 63)
        b.emit(f"or {R10},{R10},{R9}")
        insn(R10, R5, RIC_FLUSH_TLB, 1, 1)
        b.add(R3, R3, R8)
        b.cmpld(R3, R4)
        b.blt(loop)
        if local:
            b.ptesync()
        else:
            _fixups(b, kp, R10, R5)         # r10: the last page's RB
            b.eieio()
            b.tlbsync()
            b.ptesync()
        b.blr()


def _emit_flush_type_v512(b):
    """``flush_type_needed(mm, fullmm)``, v5.12 (54bb503345b8, 9393544842d6
    [LM-zap]), with the trim method's routines.  Not modelled: copros
    (no nest MMU)."""
    mm, fullmm = R31, R30
    b.label("flush_type_needed")
    epilogue = prologue(b, 48, [mm, fullmm])
    b.mr(mm, R3)
    b.mr(fullmm, R4)
    none, local, glob = b.local("none"), b.local("local"), b.local("global")
    b.ld(R5, f"{MM_ACTIVE_CPUS}({R3})")
    b.cmpdi(R5, 0)
    b.beq(none)
    b.cmpdi(R5, 1)
    b.bne(multi := b.local("multi"))
    b.bl("cpu_in_mm_cpumask")
    b.cmpdi(R3, 0)
    b.beq(multi)
    b.ld(R4, f"{PACA_CURRENT_MM}({R13})")
    b.cmpd(R4, mm)
    b.beq(local)                        # the only CPU, running the mm
    b.bl("tick_and_test_trim_clock")    # asynchronous flushes may trim to nothing
    b.cmpdi(R3, 0)
    b.beq(local)
    b.mr(R3, mm)
    b.bl("do_exit_flush_lazy_tlb")      # exit_lazy_flush_tlb(mm, true) on this CPU
    b.b(none)
    b.label(multi)
    b.cmpdi(fullmm, 0)
    b.bne(glob)                         # fullmm: a tlbie beats IPI + tlbiel
    b.ld(R4, f"{MM_USERS}({mm})")
    b.cmpdi(R4, 1)
    b.bgt(clock := b.local("clock"))
    b.ld(R4, f"{PACA_CURRENT_MM}({R13})")
    b.cmpd(R4, mm)
    b.bne(clock)
    b.mr(R3, mm)                        # single-threaded, flushing its own mm:
    b.bl("exit_flush_lazy_tlbs")        # the others trim and flush; LOCAL suffices
    b.b(local)
    b.label(clock)
    b.bl("tick_and_test_trim_clock")
    b.cmpdi(R3, 0)
    b.beq(glob)
    b.mr(R3, mm)
    b.bl("exit_flush_lazy_tlbs")        # the others trim and flush
    b.ld(R4, f"{PACA_CURRENT_MM}({R13})")
    b.cmpd(R4, mm)
    b.beq(local)
    b.mr(R3, mm)
    b.bl("cpu_in_mm_cpumask")
    b.cmpdi(R3, 0)
    b.beq(none)
    b.mr(R3, mm)
    b.bl("do_exit_flush_lazy_tlb")
    b.label(none)
    b.li(R3, FLUSH_TYPE_NONE)
    b.b(out := b.local("out"))
    b.label(local)
    b.li(R3, FLUSH_TYPE_LOCAL)
    b.b(out)
    b.label(glob)
    b.li(R3, FLUSH_TYPE_GLOBAL)
    b.label(out)
    epilogue()


def _emit_decisions(b, lay, kp, method):
    v512 = getattr(method, "flush_type_v512", False)
    b.label("mm_is_thread_local")       # (mm) -> 1 local / 0 global
    if not v512:
        b.label("flush_type_needed")    # v5.4: (mm, fullmm ignored) [L-tlb]
    b.ld(R4, f"{MM_ACTIVE_CPUS}({R3})")
    b.cmpdi(R4, 1)
    b.bgt(no := b.local("global"))
    b.label("cpu_in_mm_cpumask")        # (mm) -> 1 when this CPU's bit is set
    b.ld(R5, f"{PACA_CPU}({R13})")
    b.srdi(R6, R5, 6)
    b.sldi(R6, R6, 3)
    b.addi(R6, R6, LINE)                # mm_cpumask(mm) = mm + LINE
    b.ldx(R6, R3, R6)
    b.clrldi(R5, R5, 58)
    b.srd(R6, R6, R5)
    b.andi_rc(R3, R6, 1)
    b.blr()
    b.label(no)
    b.li(R3, 0)
    b.blr()
    if v512:
        _emit_flush_type_v512(b)

    def unless_none(reg, out):
        """NONE (v5.12 only): skip the flush."""
        if v512:
            b.cmpdi(reg, FLUSH_TYPE_NONE)
            b.beq(out)

    mm = R31                            # pick()'s callers keep mm there

    def pick(args, local_target, global_target, fullmm):
        """Call local_target or global_target (or nothing) by
        flush_type_needed(r31, fullmm); ``args()`` loads their arguments (after
        the decision, which clobbers the volatile registers; cr0 kept)."""
        b.mr(R3, mm)
        b.li(R4, fullmm)
        b.bl("flush_type_needed")
        unless_none(R3, out := b.local("out"))
        b.cmpdi(R3, FLUSH_TYPE_GLOBAL)
        args()
        b.beq(glob := b.local("g"))
        b.bl(local_target)
        b.b(out)
        b.label(glob)
        b.bl(global_target)
        b.label(out)

    # (mm, start, end, shift, also_pwc)
    mm, start, end, shift, also_pwc, pid = R31, R30, R29, R28, R27, R26
    b.label("radix__flush_tlb_range_psize")
    epilogue = prologue(b, 80, [f"r{r}" for r in range(26, 32)])
    b.mr(mm, R3)
    b.mr(start, R4)
    b.mr(end, R5)
    b.mr(shift, R6)
    b.mr(also_pwc, R7)
    b.ld(pid, f"{MM_PID}({R3})")
    b.sync()                            # smp_mb: pairs with switch_mm's [LM-cpumask]
    b.li(R4, 0)
    b.bl("flush_type_needed")
    b.subf(R4, start, end)
    b.srd(R4, R4, shift)                # nr_pages
    b.mr(R0, R3)
    b.mr(R3, pid)
    unless_none(R0, done := b.local("done"))
    b.cmpdi(R0, FLUSH_TYPE_GLOBAL)
    b.beq(glob := b.local("global"))

    def pid_flush_above(ceiling, insn):
        """More than ``ceiling`` pages: a PID flush (RIC 2 when also_pwc), else
        fall to the returned per-page range label."""
        b.cmpldi(R4, ceiling)
        b.ble(per_page := b.local("range"))
        b.cmpdi(also_pwc, 0)
        b.bne(pwc := b.local("all"))
        b.bl(f"_{insn}_pid_tlb")
        b.b(done)
        b.label(pwc)
        b.bl(f"_{insn}_pid_all")
        b.b(done)
        return per_page

    lrange = pid_flush_above(kp.tlb_local_single_page_flush_ceiling, "tlbiel")
    b.label(glob)
    grange = pid_flush_above(kp.tlb_single_page_flush_ceiling, "tlbie")
    for label, target in ((lrange, "_tlbiel_va_range"), (grange, "_tlbie_va_range")):
        b.label(label)
        b.mr(R3, start)
        b.mr(R4, end)
        b.mr(R5, pid)
        b.mr(R6, shift)
        b.mr(R7, also_pwc)
        b.bl(target)
        b.b(done)
    b.label(done)
    epilogue()

    mm, addr = R31, R30
    b.label("radix__flush_tlb_collapsed_pmd")   # (mm, addr)
    epilogue = prologue(b, 48, [mm, addr])
    b.mr(mm, R3)
    b.mr(addr, R4)
    b.sync()

    def range_args():
        b.mr(R3, addr)
        b.addis(R4, addr, (1 << PMD_SHIFT) >> 16)
        b.ld(R5, f"{MM_PID}({mm})")
        b.li(R6, PAGE_SHIFTS["64K"])    # PAGE_SIZE pages (64K base)
        b.li(R7, 1)                     # the PWC first
    pick(range_args, "_tlbiel_va_range", "_tlbie_va_range", 0)
    epilogue()

    mm, pid = R31, R30
    b.label("__flush_all_mm")           # (mm): RIC 2 PID flush
    epilogue = prologue(b, 48, [mm, pid])
    b.mr(mm, R3)
    b.ld(pid, f"{MM_PID}({R3})")
    b.sync()
    pick(lambda: b.mr(R3, pid), "_tlbiel_pid_all", "_tlbie_pid_all", 1)
    epilogue()


def _emit_gather(b):
    b.label("tlb_gather_mmu")           # (tlb, mm, start, end)
    b.std(R4, f"{TLB_MM}({R3})")
    b.addi(R7, R6, 1)                   # fullmm = !(start | (end + 1))
    b.emit(f"or. {R7},{R7},{R5}")
    b.li(R7, 0)
    b.bne(part := b.local("part"))
    b.li(R7, 1)
    b.label(part)
    b.std(R7, f"{TLB_FULLMM}({R3})")
    b.li(R0, 0)
    b.std(R0, f"{TLB_PAGE_SHIFT}({R3})")
    b.std(R0, f"{TLB_NR_TABLES}({R3})")
    b.std(R0, f"{TLB_BATCH_COUNT}({R3})")       # tlb->local: no next, empty, the bundle
    b.std(R0, f"{TLB_LOCAL + BATCH_NEXT}({R3})")
    b.stw(R0, f"{TLB_LOCAL + BATCH_NR}({R3})")
    b.li(R7, MMU_GATHER_BUNDLE)
    b.stw(R7, f"{TLB_LOCAL + BATCH_MAX}({R3})")
    b.addi(R7, R3, TLB_LOCAL)
    b.std(R7, f"{TLB_ACTIVE}({R3})")
    b.label("__tlb_reset_range")        # (tlb): fullmm: ~0..~0; else TASK_SIZE..0
    b.li(R0, 0)
    b.std(R0, f"{TLB_FREED_TABLES}({R3})")
    b.ld(R7, f"{TLB_FULLMM}({R3})")
    b.li(R5, -1)
    b.li(R6, -1)
    b.cmpdi(R7, 0)
    b.bne(full := b.local("full"))
    b.li64(R5, TASK_SIZE)
    b.li(R6, 0)
    b.label(full)
    b.std(R5, f"{TLB_START}({R3})")
    b.std(R6, f"{TLB_END}({R3})")
    b.blr()

    b.label("tlb_remove_pmd_tlb_entry")     # (tlb, pmdp, addr)
    b.mr(R4, R5)
    b.lis(R5, (1 << PMD_SHIFT) >> 16)
    b.label("__tlb_adjust_range")       # (tlb, addr, size)
    b.ld(R6, f"{TLB_START}({R3})")
    b.cmpld(R4, R6)
    b.bge(keep := b.local("start"))
    b.std(R4, f"{TLB_START}({R3})")
    b.label(keep)
    b.add(R4, R4, R5)
    b.ld(R6, f"{TLB_END}({R3})")
    b.cmpld(R4, R6)
    b.ble(keep := b.local("end"))
    b.std(R4, f"{TLB_END}({R3})")
    b.label(keep)
    b.blr()

    tlb, shift = R31, R30
    b.label("tlb_change_page_size")     # (tlb, shift)
    epilogue = prologue(b, 48, [tlb, shift])
    b.mr(tlb, R3)
    b.mr(shift, R4)
    b.ld(R5, f"{TLB_PAGE_SHIFT}({R3})")
    b.cmpdi(R5, 0)
    b.beq(same := b.local("same"))
    b.cmpd(R5, R4)
    b.beq(same)
    b.ld(R5, f"{TLB_FULLMM}({R3})")
    b.cmpdi(R5, 0)
    b.bne(same)
    b.bl("tlb_flush_mmu")
    b.label(same)
    b.std(shift, f"{TLB_PAGE_SHIFT}({tlb})")
    epilogue()

    b.label("tlb_remove_table")         # (tlb, table): into the batch, flushed when full
    b.ld(R5, f"{TLB_NR_TABLES}({R3})")
    b.sldi(R6, R5, 3)
    b.addi(R6, R6, TLB_TABLES)
    b.stdx(R4, R3, R6)
    b.addi(R5, R5, 1)
    b.std(R5, f"{TLB_NR_TABLES}({R3})")
    b.cmpdi(R5, TLB_MAX_TABLES)
    b.bltlr()
    b.b("tlb_flush_mmu")

    tlb = R31
    b.label("tlb_finish_mmu")           # (tlb)
    b.label("tlb_flush_mmu")            # (tlb): TLB first, then the tables and pages
    epilogue = prologue(b, 48, [tlb])
    b.mr(tlb, R3)
    b.bl("tlb_flush_mmu_tlbonly")
    b.mr(R3, tlb)
    b.bl("tlb_flush_mmu_free")
    epilogue()

    tlb = R31
    b.label("tlb_flush_mmu_tlbonly")    # (tlb)
    b.ld(R4, f"{TLB_END}({R3})")
    b.cmpdi(R4, 0)
    b.beqlr()                           # nothing gathered
    epilogue = prologue(b, 48, [tlb])
    b.mr(tlb, R3)
    b.bl("radix__tlb_flush")
    b.mr(R3, tlb)
    b.bl("__tlb_reset_range")
    epilogue()

    tlb = R31
    b.label("tlb_flush_mmu_free")       # (tlb): the tables, then the pages
    epilogue = prologue(b, 48, [tlb])
    b.mr(tlb, R3)
    b.bl("tlb_table_flush")
    b.mr(R3, tlb)
    b.bl("tlb_batch_pages_flush")
    epilogue()

    b.label("radix__tlb_flush")         # (tlb)
    b.ld(R8, f"{TLB_FULLMM}({R3})")
    b.cmpdi(R8, 0)
    b.ld(R4, f"{TLB_START}({R3})")
    b.ld(R5, f"{TLB_END}({R3})")
    b.ld(R6, f"{TLB_PAGE_SHIFT}({R3})")
    b.ld(R7, f"{TLB_FREED_TABLES}({R3})")       # the _pwc_ variant when tables were freed
    b.ld(R3, f"{TLB_MM}({R3})")
    b.beq("radix__flush_tlb_range_psize")
    b.b("__flush_all_mm")


def _emit_switch_mm(b):
    """``switch_mm(next)`` (irq save / restore around) and
    ``switch_mm_irqs_off(next)`` (mmu_context.c [LM-cpumask]): first run of
    ``next`` on this CPU: ``inc_mm_active_cpus``, set the CPU's mm_cpumask bit
    (both atomic), ``smp_mb`` (the mask store before the PID load; pairs with
    the flusher's smp_mb before reading the mask).  Then, unless ``next`` is
    already current, current->mm = next and ``mtspr PIDR; isync``
    (radix__switch_mmu_context [L-tlb]).  ``next`` = 0: no mm (PID 0), so
    that the trim can drop this CPU."""
    next_mm, flags = R31, R30
    b.label("switch_mm")
    epilogue = prologue(b, 48, [next_mm, flags])
    b.mr(next_mm, R3)
    local_irq_save(b, flags, R4)        # irqs off: no do_serialize sees a half switch
    b.mr(R3, next_mm)
    b.bl("switch_mm_irqs_off")
    local_irq_restore(b, flags)
    epilogue()

    b.label("switch_mm_irqs_off")
    b.li(R4, 0)                         # PID 0 when switching to no mm
    b.cmpdi(R3, 0)
    b.beq(switch := b.local("switch"))
    test_this_cpu_in_mask(b)            # r6 = mask word address, r7 = bit, cr0: r8 == 0
    b.bne(used := b.local("used"))      # cpumask_test_cpu: already in the mask
    b.addi(R8, R3, MM_ACTIVE_CPUS)      # inc_mm_active_cpus: atomic_inc
    b.label(inc := b.local("inc"))
    b.ldarx(R9, 0, R8)
    b.addi(R9, R9, 1)
    b.stdcx_rc(R9, 0, R8)
    b.emit(f"bne- {inc}")
    b.label(set_ := b.local("set"))     # cpumask_set_cpu: atomic or
    b.ldarx(R9, 0, R6)
    b.emit(f"or {R9},{R9},{R7}")
    b.stdcx_rc(R9, 0, R6)
    b.emit(f"bne- {set_}")
    b.sync()                            # smp_mb [LM-cpumask]
    b.label(used)
    b.ld(R4, f"{MM_PID}({R3})")
    b.label(switch)
    b.ld(R5, f"{PACA_CURRENT_MM}({R13})")
    b.cmpd(R5, R3)
    b.beqlr()                           # prev == next: nothing else to do
    b.std(R3, f"{PACA_CURRENT_MM}({R13})")
    b.mtspr(SPR_PIDR, R4)
    b.isync()
    b.blr()


def _emit_flush_loop(b):
    """Test hook ``flush_range_loop(mm, start, n)``: ``n`` flushes of the one 2M
    page at ``start`` (``radix__flush_tlb_range_psize``, no PWC): drives the
    per-CPU trim clock to its 1073rd tick."""
    mm, start, n = R31, R30, R29
    b.label("flush_range_loop")
    epilogue = prologue(b, 64, [mm, start, n])
    b.mr(mm, R3)
    b.mr(start, R4)
    b.mr(n, R5)
    b.label(loop := b.local("loop"))
    b.cmpdi(n, 0)
    b.beq(out := b.local("out"))
    flush_pmd_tlb_range(b, mm, start)
    b.addi(n, n, -1)
    b.b(loop)
    b.label(out)
    epilogue()


def emit(b, lay, kp, method):
    """Every routine of this module (``kp``: KernelParams; ``method``: the
    methods module, whose ``flush_type_v512`` picks the decision's form)."""
    _emit_pid_flushes(b, kp)
    _emit_va_ranges(b, kp)
    _emit_decisions(b, lay, kp, method)
    _emit_switch_mm(b)
    _emit_flush_loop(b)
    _emit_gather(b)
    page.emit(b, lay, TLB_ACTIVE, TLB_BATCH_COUNT, TLB_LOCAL)
