"""``trim``: v5.12 (Nicholas Piggin, Dec 2020; [LM-serialize], [LM-zap], [LM-cpumask]).  The
call sites and IPI round of ``ipi``, but the round runs ``do_serialize(mm)``
on each target, which trims mm_cpumask: a CPU not currently using the mm
(``current->mm != mm``, PACA_CURRENT_MM) leaves the mask, decrements
``context.active_cpus`` and flushes the PID from its own TLB with ``tlbiel``
RIC=2 (``exit_lazy_flush_tlb(mm, always_flush=false)`` [L-tlb]).  So the
next serialize of the same mm goes only to CPUs that still run it.

The TLB flushes take the v5.12 decision (``flush_type_v512``: tlbflush.py's
``flush_type_needed``): NONE when ``active_cpus`` is 0, and every 1073rd
flush on a CPU (``tick_and_test_trim_clock``) an ``exit_flush_lazy_tlbs``:
an IPI round of ``exit_lazy_flush_tlb(mm, always_flush=true)`` [L-tlb].
Walkers bracket with local_irq_save/restore; page-table pages are freed at
once."""

from powersim.asm_builder import R3, R4, R5, R6, R7, R8, R9, R13
from powersim.kernel.irq import prologue
from powersim.kernel.layout import LINE, MM_ACTIVE_CPUS, MM_PID, PACA_CURRENT_MM, PACA_TRIM
from powersim.kernel.methods import ipi
from powersim.kernel.smp import test_this_cpu_in_mask

NAME = "trim"
zap_flush_per_pmd = False
walker_recheck = False
flush_type_v512 = True      # tlbflush.flush_type_needed in its v5.12 form [LM-zap]
serialize, free_pgtable = ipi.serialize, ipi.free_pgtable
walker_begin, walker_end = ipi.walker_begin, ipi.walker_end
TRIM_CLOCK_MAX = 1073       # mm_cpumask_trim_clock_max [L-tlb] (v5.12 radix_tlb.c)


def _emit_exit_lazy_flush_tlb(b, name, always_flush):
    """``name(mm)``: ``exit_lazy_flush_tlb(mm, always_flush)`` [L-tlb] (v5.12)."""
    mm = R3
    b.label(name)
    flush = b.local("flush")

    def keep():                         # beq: this CPU stays in the mask
        if always_flush:
            b.beq(flush)
        else:
            b.beqlr()
    b.ld(R4, f"{PACA_CURRENT_MM}({R13})")
    b.cmpd(R4, mm)
    keep()                              # this CPU runs the mm
    test_this_cpu_in_mask(b)            # r6 = mask word address, r7 = bit, cr0: r8 == 0
    keep()                              # a racing IPI already trimmed it
    b.addi(R8, mm, MM_ACTIVE_CPUS)      # atomic_dec(&mm->context.active_cpus)
    b.label(dec := b.local("dec"))
    b.ldarx(R9, 0, R8)
    b.addi(R9, R9, -1)
    b.stdcx_rc(R9, 0, R8)
    b.emit(f"bne- {dec}")
    b.label(clr := b.local("clr"))      # cpumask_clear_cpu: atomic andc
    b.ldarx(R9, 0, R6)
    b.andc(R9, R9, R7)
    b.stdcx_rc(R9, 0, R6)
    b.emit(f"bne- {clr}")
    b.label(flush)
    b.ld(R3, f"{MM_PID}({mm})")
    b.b("_tlbiel_pid_all")              # _tlbiel_pid(pid, RIC_FLUSH_ALL), tail call


def emit(b, lay):
    """serialize_against_pte_lookup (round of do_serialize), do_serialize,
    exit_flush_lazy_tlbs (round of do_exit_flush_lazy_tlb), and
    tick_and_test_trim_clock."""
    ipi.emit_serialize(b, func="do_serialize", info_is_mm=True)
    _emit_exit_lazy_flush_tlb(b, "do_serialize", always_flush=False)
    _emit_exit_lazy_flush_tlb(b, "do_exit_flush_lazy_tlb", always_flush=True)

    b.label("exit_flush_lazy_tlbs")     # (mm): every CPU of the mask trims and flushes
    epilogue = prologue(b)
    b.mr(R5, R3)
    b.addi(R3, R3, LINE)
    b.load_addr(R4, "do_exit_flush_lazy_tlb")
    b.li(R6, 1)
    b.bl("smp_call_function_many")
    epilogue()

    b.label("tick_and_test_trim_clock")     # () -> 1 every TRIM_CLOCK_MAX-th call
    b.ld(R4, f"{PACA_TRIM}({R13})")
    b.addi(R4, R4, 1)
    b.li(R3, 0)
    b.cmpdi(R4, TRIM_CLOCK_MAX)
    b.bne(keep := b.local("tick"))
    b.li(R4, 0)
    b.li(R3, 1)
    b.label(keep)
    b.std(R4, f"{PACA_TRIM}({R13})")
    b.blr()
