"""Page-table pages and THP PMD operations ([LM-pmd], docs/KERNEL.md
"mm operations"), as assembled routines.

Radix table entries are big-endian in memory [MW] while the kernel runs
little-endian, so a read is ``ldbrx`` and a plain write ``stdbrx``.  An atomic
read-modify-write cannot byte-reverse inside the reservation, so
``pmd_hugepage_update`` does what Linux's ``radix__pte_update`` does: it
converts ``clr``/``set`` to big-endian first, runs ``ldarx; andc; or; stdcx.``
on the big-endian value, and converts the old value back [L-pgt].

Routines (r3.. arguments, r3 result; ELFv2 volatile registers clobbered):

=================================  =============================================
``pte_alloc_one()``                a zeroed PTE table from the pool, or 0
``pte_free(table)``                back on the pool's free list
``pmd_offset(mm, addr)``           the PMD slot of ``addr``, 0 if no PMD table
``pmd_hugepage_update(mm, addr,    atomic ``*pmdp = (*pmdp & ~clr) | set``;
pmdp, clr, set)``                  returns the old entry (CPU byte order)
``pmdp_huge_get_and_clear(mm,      clear, then the method's serialize
addr, pmdp)``
``pmdp_huge_get_and_clear_full(mm, the same; ``zap_flush_per_pmd`` methods add a
addr, pmdp, full)``                2M flush when not ``full``
``pmdp_invalidate(mm, addr,        hardware-invalid, software-present; 2M flush;
pmdp)``                            serialize
``pmdp_collapse_flush(mm, addr,    plain clear; serialize; collapsed-PMD flush
pmdp)``
``pmd_populate(mm, pmdp, table)``  publish a PTE table pointer
``pgtable_trans_huge_deposit(mm,   push ``table`` on the PMD table's deposit list
pmdp, table)``
``pgtable_trans_huge_withdraw(mm,  pop one deposited table
pmdp)``
``tlb_remove_table_deferred(       queue ``table`` for a free after a grace period,
table)``                           then ``rcu_poll_deferred``
``rcu_poll_deferred()``            free the current grace period's tables if it
                                   has ended; returns how many were freed
``stamp_u64(slot, addr)``          test hook: ``marks[slot] = *(u64 *)addr``
=================================  =============================================

The deposit list is headed in ``mem_map`` (the PMD table frame's
``pmd_huge_pte``, as radix Linux keeps it in the PMD page's struct page) and
linked through the first doubleword of each deposited table; Linux links a
list_head there and zeroes it on withdraw [L-pgt].  Singly linked here (LIFO
instead of FIFO: which deposited table a withdraw gets does not matter).

Deferred free (RCU-like, for methods whose walkers do not block the freeing
CPU; docs/KERNEL.md "mm operations").  The rule:

* Every CPU has a counter ``PACA_QS``.  ``rcu_qs`` adds 2 at a quiescent
  point: the command loop, before each command (a CPU there is in no
  lockless walk and has irqs enabled).  ``rcu_eqs`` adds 1 on entering and
  on leaving ``wait``/``stop``: the counter is odd while the CPU is idle (an
  extended quiescent state: it runs only interrupt handlers, which walk no
  page tables).  Each update is ``lwsync; store; sync``: the CPU's earlier
  page-table loads are ordered before it, its later ones after it, so a walk
  after the update sees every unlink made before the freeing CPU read it.
* ``tlb_remove_table_deferred(table)`` (the table already unlinked and the
  TLB/PWC flushed) appends it to the pending list.  If no grace period is
  running, one starts: ``sync``, then a snapshot of every CPU's counter (the
  starting CPU's own slot is stored as 1: it is not in a walk), and the
  pending tables become the current batch.
* The grace period has ended when every CPU's snapshot is odd or its counter
  has changed since.  Only the freeing side checks (``rcu_poll_deferred``,
  also called at the end of every ``tlb_remove_table_deferred``); then the
  batch goes to ``pte_free`` after an ``lwsync`` (the counter reads before
  the frees' stores), and a new grace period starts for the tables queued
  meanwhile.  A table is never freed while a CPU is still inside the
  irq-off section it was in when the grace period started.

Walkers that loop many walks inside one CALL pass no quiescent point until
they return; such loops can call ``rcu_qs`` between walks (cond_resched).
"""

from powersim.asm_builder import R0, R1, R3, R4, R5, R6, R7, R8, R9, R10, R13, R28, R29, R30, R31
from powersim.kernel.irq import DEC_MAX, hard_irq, prologue
from powersim.kernel.layout import (LINE, MM_LOCK, MM_PGD, PACA_CPU, PACA_MARKS, PACA_QS,
                                    POOL_FREE, POOL_HEAD, POOL_LOCK, PT_FRAME_SHIFT,
                                    PTE_TABLE_BYTES, RCU_CUR, RCU_LOCK, RCU_TOTAL)
from powersim.kernel.trace import PMD_SET, PMD_SET_BE, PT_ALLOC, PT_FREE, SERIALIZED, trace
from powersim.radix import GEOMETRY, NLB_MASK, SW0, V

PMD_SHIFT = 21                              # 64K geometry: a PMD leaf maps 2 MiB [L-r64k]
PUD_SHIFT = PMD_SHIFT + GEOMETRY["64K"][2]
PGD_SHIFT = PUD_SHIFT + GEOMETRY["64K"][1]
PTE_INDEX_SIZE = GEOMETRY["64K"][3]         # the NLS of a PMD pointing at a PTE table
assert PTE_TABLE_BYTES == 8 << PTE_INDEX_SIZE and NLB_MASK >> 60 == 0
_PAGE_PRESENT, _PAGE_INVALID = V, SW0      # [L-pgt]
RED_ZONE_SLOT = -8          # scratch doubleword below r1 (ELFv2 red zone; interrupt
                            # entry skips it, irq.RED_ZONE)


# --- macros ---------------------------------------------------------------------------
def bswap64(b, dst, src):
    """``dst = byte-reversed src`` through the red zone (POWER9 has no brd)."""
    b.li(R0, RED_ZONE_SLOT)
    b.stdbrx(src, R1, R0)
    b.ld(dst, f"{RED_ZONE_SLOT}({R1})")


def spin_lock(b, lock, tmp):
    """``arch_spin_lock`` of the 32-bit word at ``lock``: lwarx (EH hint),
    stwcx. of this CPU's token, isync (acquire); while taken, a store-free
    spin the machine sleeps through (waiting costs nothing) [L-bar].  Clobbers
    r0 and cr0."""
    top, busy, got = b.local("lock"), b.local("busy"), b.local("locked")
    b.ld(tmp, f"{PACA_CPU}({R13})")
    b.addi(tmp, tmp, 1)                 # the token: CPU number + 1 (never 0)
    b.label(top)
    b.lwarx(R0, 0, lock, 1)
    b.cmpwi(R0, 0)
    b.emit(f"bne- {busy}")
    b.stwcx_rc(tmp, 0, lock)
    b.emit(f"bne- {top}")
    b.isync()
    b.b(got)
    b.label(busy)
    b.lwz(R0, f"0({lock})")
    b.cmpwi(R0, 0)
    b.bne(busy)
    b.b(top)
    b.label(got)


def spin_unlock(b, lock):
    """``arch_spin_unlock``: lwsync (release), store 0 [L-bar].  Clobbers r0."""
    b.lwsync()
    b.li(R0, 0)
    b.stw(R0, f"0({lock})")



def flush_pmd_tlb_range(b, mm, addr):
    """flush_pmd_tlb_range(vma, addr, addr + 2M): one 2M page of ``mm`` at ``addr``
    (``radix__flush_tlb_range_psize``, no PWC).  Clobbers the argument registers."""
    b.mr(R3, mm)
    b.mr(R4, addr)
    b.addis(R5, addr, (1 << PMD_SHIFT) >> 16)
    b.li(R6, PMD_SHIFT)
    b.li(R7, 0)
    b.bl("radix__flush_tlb_range_psize")

def pmd_lock_addr(b, dst, mm):
    """The PMD lock: mm->page_table_lock (no split PMD locks)."""
    b.addi(dst, mm, MM_LOCK)


def _mem_map_slot(b, dst, pmdp, lay):
    """``dst = &pmd_huge_pte`` of the PMD table holding ``pmdp``."""
    b.li64(R0, lay.pgtables)
    b.subf(dst, R0, pmdp)
    b.srdi(dst, dst, PT_FRAME_SHIFT)
    b.sldi(dst, dst, 3)
    b.li64(R0, lay.mem_map)
    b.add(dst, dst, R0)


def _next_table(b, dst, entry):
    """``dst = entry & NLB_MASK`` (real mode: __va(pa) = pa)."""
    b.rldicl(dst, entry, 0, 4)
    b.rldicr(dst, dst, 0, 55)


def _qs_bump(b, tmp, delta):
    b.lwsync()                          # this CPU's earlier page-table loads first
    b.ld(tmp, f"{PACA_QS}({R13})")
    b.addi(tmp, tmp, delta)
    b.std(tmp, f"{PACA_QS}({R13})")
    b.sync()                            # before its later ones (store -> load)


def rcu_qs(b, tmp):
    """A quiescent point of the deferred free: PACA_QS += 2."""
    _qs_bump(b, tmp, 2)


def rcu_eqs(b, tmp):
    """Enter or leave the idle extended quiescent state: PACA_QS += 1."""
    _qs_bump(b, tmp, 1)


def sleep_for(b, ticks, tmp, insn):
    """``wait`` or (``insn`` = "stop") ``power9_idle_stop`` with the PSSCR
    already set, in the idle extended quiescent state with the decrementer set
    to fire after ``ticks`` > 0 timebase ticks (clobbered: clamped to DEC_MAX;
    "stop" is a call, so r3-r12 and LR are clobbered too).  Hard-disabled from
    the mtdec: a decrementer that fires before the sleep stays pending and ends
    it (taken at the enable after), instead of being reset to DEC_MAX by its
    handler just before the sleep (a ~4 s sleep)."""
    b.li64(tmp, DEC_MAX)
    b.cmpd(ticks, tmp)
    b.ble(short := b.local("dec"))
    b.mr(ticks, tmp)
    b.label(short)
    hard_irq(b, tmp, enable=False)
    b.mtdec(ticks)
    rcu_eqs(b, tmp)
    if insn == "stop":
        b.bl("power9_idle_stop")
    else:
        getattr(b, insn)()
    rcu_eqs(b, tmp)
    hard_irq(b, tmp, enable=True)


def sleep_until(b, target, tmp, tmp2):
    """``wait`` until timebase ``target`` (at once if it has passed), waking as
    often as it must (DEC_MAX, other interrupts).  Clobbers ``tmp``, ``tmp2``."""
    b.label(again := b.local("until"))
    b.mftb(tmp)
    b.subf_rc(tmp, tmp, target)
    b.ble(done := b.local("due"))
    sleep_for(b, tmp, tmp2, "wait")
    b.b(again)
    b.label(done)


# --- routines -------------------------------------------------------------------------
def _emit_pool(b, lay):
    b.label("pte_alloc_one")
    b.li64(R4, lay.pgtable_pool + POOL_LOCK)
    spin_lock(b, R4, R5)
    b.ld(R3, f"{POOL_HEAD - POOL_LOCK}({R4})")
    b.cmpdi(R3, 0)
    b.beq(empty := b.local("empty"))
    b.ld(R5, f"0({R3})")
    b.std(R5, f"{POOL_HEAD - POOL_LOCK}({R4})")
    b.ld(R5, f"{POOL_FREE - POOL_LOCK}({R4})")
    b.addi(R5, R5, -1)
    b.std(R5, f"{POOL_FREE - POOL_LOCK}({R4})")
    b.label(empty)
    spin_unlock(b, R4)
    b.cmpdi(R3, 0)
    b.beqlr()
    b.li(R5, 0)                         # __GFP_ZERO: every PTE none
    b.li(R6, PTE_TABLE_BYTES // 8)
    b.mtctr(R6)
    b.addi(R6, R3, -8)
    b.label(zero := b.local("zero"))
    b.stdu(R5, f"8({R6})")
    b.bdnz(zero)
    trace(b, PT_ALLOC, R3, scratch=R6)
    b.blr()

    b.label("pte_free")
    trace(b, PT_FREE, R3, scratch=R4)
    b.li64(R4, lay.pgtable_pool + POOL_LOCK)
    spin_lock(b, R4, R5)
    b.ld(R5, f"{POOL_HEAD - POOL_LOCK}({R4})")
    b.std(R5, f"0({R3})")
    b.std(R3, f"{POOL_HEAD - POOL_LOCK}({R4})")
    b.ld(R5, f"{POOL_FREE - POOL_LOCK}({R4})")
    b.addi(R5, R5, 1)
    b.std(R5, f"{POOL_FREE - POOL_LOCK}({R4})")
    spin_unlock(b, R4)
    b.blr()


def _emit_walk(b):
    """``pmd_offset(mm, addr)``: pgd -> pud -> the PMD slot, each level read once;
    0 when a level is none or a PUD is a 1G leaf."""
    b.label("pmd_offset")
    none = b.local("none")
    b.ld(R5, f"{MM_PGD}({R3})")
    for shift, bits, last in ((PGD_SHIFT, GEOMETRY["64K"][0], False),
                              (PUD_SHIFT, GEOMETRY["64K"][1], True)):
        b.rldicl(R6, R4, 64 - shift, 64 - bits)         # index at this level
        b.sldi(R6, R6, 3)
        b.ldbrx(R7, R5, R6)
        b.rldicl(R8, R7, 1, 63)         # V
        b.cmpdi(R8, 0)
        b.beq(none)
        if last:
            b.rldicl(R8, R7, 2, 63)         # L: a 1G leaf has no PMD table
            b.cmpdi(R8, 0)
            b.bne(none)
        _next_table(b, R5, R7)
    b.rldicl(R6, R4, 64 - PMD_SHIFT, 64 - GEOMETRY["64K"][2])
    b.sldi(R6, R6, 3)
    b.add(R3, R5, R6)
    b.blr()
    b.label(none)
    b.li(R3, 0)
    b.blr()


def _emit_pmd_ops(b, lay, method):
    b.label("pmd_hugepage_update")      # (mm, addr, pmdp r5, clr r6, set r7) -> old
    bswap64(b, R6, R6)                  # cpu_to_be64(clr), cpu_to_be64(set)
    bswap64(b, R7, R7)
    b.label(retry := b.local("upd"))
    b.ldarx(R8, 0, R5)
    b.andc(R9, R8, R6)
    b.emit(f"or {R9},{R9},{R7}")
    b.stdcx_rc(R9, 0, R5)
    b.emit(f"bne- {retry}")
    trace(b, PMD_SET_BE, R5, R9, scratch=R10)
    bswap64(b, R3, R8)                  # be64_to_cpu(old)
    b.blr()

    mm, addr, old, full = R31, R30, R29, R28   # the frame of each routine below

    def update_then(name, clr, set_, after):
        """``name(mm, addr, pmdp)``: old = pmd_hugepage_update(clr, set); after();
        return old.  r31 = mm, r30 = addr, r29 = old."""
        b.label(name)
        epilogue = prologue(b, 64, [mm, addr, old])
        b.mr(mm, R3)
        b.mr(addr, R4)
        b.li64(R6, clr)
        b.li64(R7, set_)
        b.bl("pmd_hugepage_update")
        b.mr(old, R3)
        after()
        b.mr(R3, old)
        epilogue()

    def serialize(collapse=False):
        b.mr(R3, mm)
        method.serialize(b, collapse=collapse)
        # b: 1 when the walkers rely on this serialize (0: robust's re-check instead)
        b.li(R0, int(collapse or not method.walker_recheck))
        trace(b, SERIALIZED, mm, R0, scratch=R3)

    update_then("pmdp_huge_get_and_clear", (1 << 64) - 1, 0, serialize)

    b.label("pmdp_huge_get_and_clear_full")     # (mm, addr, pmdp, full r6)
    if method.zap_flush_per_pmd:        # v5.8+: flush now unless the whole mm goes
        epilogue = prologue(b, 64, [mm, addr, old, full])
        b.mr(mm, R3)
        b.mr(addr, R4)
        b.mr(full, R6)
        b.bl("pmdp_huge_get_and_clear")
        b.mr(old, R3)
        b.cmpdi(full, 0)
        b.bne(full := b.local("full"))
        flush_pmd_tlb_range(b, mm, addr)
        b.label(full)
        b.mr(R3, old)
        epilogue()
    else:                               # v5.4: the generic one
        b.b("pmdp_huge_get_and_clear")

    def flush_then_serialize():
        flush_pmd_tlb_range(b, mm, addr)
        serialize()
    update_then("pmdp_invalidate", _PAGE_PRESENT, _PAGE_INVALID, flush_then_serialize)

    b.label("pmdp_collapse_flush")      # (mm, addr, pmdp) -> old
    epilogue = prologue(b, 64, [mm, addr, old])
    b.mr(mm, R3)
    b.mr(addr, R4)
    b.ldbrx(old, 0, R5)                 # pmd = *pmdp; pmd_clear(pmdp): a plain store
    b.li(R0, 0)
    b.std(R0, f"0({R5})")
    trace(b, PMD_SET, R5, R0, scratch=R6)
    serialize(collapse=True)
    b.mr(R3, mm)
    b.mr(R4, addr)
    b.bl("radix__flush_tlb_collapsed_pmd")
    b.mr(R3, old)
    epilogue()

    b.label("pmd_populate")             # (mm, pmdp r4, table r5): V | table | NLS
    b.li64(R6, _PAGE_PRESENT | PTE_INDEX_SIZE)
    b.emit(f"or {R6},{R6},{R5}")
    b.stdbrx(R6, 0, R4)
    trace(b, PMD_SET, R4, R6, scratch=R7)
    b.blr()

    b.label("pgtable_trans_huge_deposit")      # (mm, pmdp r4, table r5), PMD lock held
    _mem_map_slot(b, R6, R4, lay)
    b.ld(R7, f"0({R6})")
    b.std(R7, f"0({R5})")
    b.std(R5, f"0({R6})")
    b.blr()

    b.label("pgtable_trans_huge_withdraw")     # (mm, pmdp r4) -> table, PMD lock held
    _mem_map_slot(b, R6, R4, lay)
    b.ld(R3, f"0({R6})")
    b.ld(R7, f"0({R3})")
    b.std(R7, f"0({R6})")
    b.li(R0, 0)                         # the link was PTE slot 0: none again
    b.std(R0, f"0({R3})")
    b.blr()


def _emit_deferred(b, lay):
    """tlb_remove_table_deferred, rcu_poll_deferred (the rule: module docstring)."""
    b.label("rcu_start_gp")             # (r4 = &rcu line, its lock held)
    b.sync()                            # smp_mb: the unlinks before the counter reads
    b.ld(R5, f"{RCU_TOTAL}({R4})")
    b.std(R5, f"{RCU_CUR}({R4})")
    b.li64(R6, lay.paca_base + PACA_QS)
    b.li64(R7, lay.rcu_snapshot)
    b.li(R8, lay.ncpus)
    b.mtctr(R8)
    b.label(loop := b.local("snap"))
    b.ld(R9, f"0({R6})")
    b.std(R9, f"0({R7})")
    b.addi(R6, R6, LINE)
    b.addi(R7, R7, 8)
    b.bdnz(loop)
    b.ld(R5, f"{PACA_CPU}({R13})")      # this CPU: quiescent (odd)
    b.sldi(R5, R5, 3)
    b.li64(R7, lay.rcu_snapshot)
    b.li(R9, 1)
    b.stdx(R9, R7, R5)
    b.blr()

    rcu = R31                           # &rcu line lock
    b.label("tlb_remove_table_deferred")    # (table)
    epilogue = prologue(b, 48, [rcu])
    b.li64(rcu, lay.rcu + RCU_LOCK)
    spin_lock(b, rcu, R4)
    b.ld(R5, f"{RCU_TOTAL}({rcu})")     # pending[total++] = table (capacity: the pool)
    b.li64(R6, lay.rcu_tables)
    b.sldi(R7, R5, 3)
    b.stdx(R3, R6, R7)
    b.addi(R5, R5, 1)
    b.std(R5, f"{RCU_TOTAL}({rcu})")
    b.ld(R5, f"{RCU_CUR}({rcu})")
    b.cmpdi(R5, 0)
    b.bne(running := b.local("gp"))
    b.mr(R4, rcu)
    b.bl("rcu_start_gp")
    b.label(running)
    spin_unlock(b, rcu)
    b.bl("rcu_poll_deferred")
    epilogue()

    rcu, freed, ncur, slot = R31, R30, R29, R28    # ncur: the grace period's tables;
    #                                                slot: the cursor in rcu_tables
    b.label("rcu_poll_deferred")        # () -> tables freed
    epilogue = prologue(b, 64, [rcu, freed, ncur, slot])
    b.li64(rcu, lay.rcu + RCU_LOCK)
    spin_lock(b, rcu, R4)
    b.li(freed, 0)
    b.ld(ncur, f"{RCU_CUR}({rcu})")
    b.cmpdi(ncur, 0)
    b.beq(out := b.local("out"))
    b.li64(R6, lay.paca_base + PACA_QS)
    b.li64(R7, lay.rcu_snapshot)
    b.li(R8, lay.ncpus)
    b.mtctr(R8)
    b.label(loop := b.local("cpu"))
    b.ld(R9, f"0({R7})")
    b.andi_rc(R10, R9, 1)
    b.bne(qs := b.local("qs"))          # idle at the start, or the starting CPU
    b.ld(R10, f"0({R6})")
    b.cmpd(R9, R10)
    b.beq(out)                          # still in the section it was in: not yet
    b.label(qs)
    b.addi(R6, R6, LINE)
    b.addi(R7, R7, 8)
    b.bdnz(loop)
    b.lwsync()                          # the counter reads before the frees' stores
    b.li64(slot, lay.rcu_tables)
    b.label(free := b.local("free"))
    b.ld(R3, f"0({slot})")
    b.bl("pte_free")
    b.addi(slot, slot, 8)
    b.addi(freed, freed, 1)
    b.cmpd(freed, ncur)
    b.blt(free)
    b.ld(R5, f"{RCU_TOTAL}({rcu})")     # the tables queued since move to the front
    b.subf_rc(R5, ncur, R5)
    b.std(R5, f"{RCU_TOTAL}({rcu})")
    b.li(R0, 0)
    b.std(R0, f"{RCU_CUR}({rcu})")
    b.beq(out)
    b.mtctr(R5)
    b.li64(R6, lay.rcu_tables)
    b.label(move := b.local("move"))
    b.ld(R8, f"0({slot})")
    b.std(R8, f"0({R6})")
    b.addi(slot, slot, 8)
    b.addi(R6, R6, 8)
    b.bdnz(move)
    b.mr(R4, rcu)
    b.bl("rcu_start_gp")
    b.label(out)
    spin_unlock(b, rcu)
    b.mr(R3, freed)
    epilogue()

    b.label("stamp_u64")                # test hook (slot, addr): marks[slot] = *addr
    b.ld(R5, f"{PACA_MARKS}({R13})")
    b.ld(R4, f"0({R4})")
    b.sldi(R3, R3, 3)
    b.stdx(R4, R5, R3)
    b.blr()


def emit(b, lay, method):
    """Every routine of this module (``method``: a powersim.kernel.methods module)."""
    _emit_pool(b, lay)
    _emit_deferred(b, lay)
    _emit_walk(b)
    _emit_pmd_ops(b, lay, method)
