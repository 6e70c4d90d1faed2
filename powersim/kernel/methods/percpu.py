"""``percpu``: Leonardo Bras's v6 series (2020-02, [LM-bras]).  Each CPU
counts its own lockless walks in its PACA (``lockless_pgtbl_walk_counter``,
plain increment/decrement, no atomics):

    begin: local_irq_save; counter++; smp_mb
    end:   smp_mb; counter--; local_irq_restore

``serialize_against_pte_lookup`` builds an on-stack cpumask of the CPUs of
mm_cpumask whose counter is > 0 and sends the IPI round only to them.  Call
sites and page-table freeing are those of ``ipi``."""

from powersim.asm_builder import R0, R1, R3, R4, R5, R6, R7, R8, R9, R13, R30, R31
from powersim.kernel.irq import local_irq_restore, local_irq_save, prologue
from powersim.kernel.layout import LINE, PACA_PERCPU
from powersim.kernel.methods import ipi
from powersim.kernel.smp import _for_each_cpu, _per_cpu, cpumask_set_cpu

NAME = "percpu"
zap_flush_per_pmd = False
walker_recheck = False
serialize, free_pgtable = ipi.serialize, ipi.free_pgtable


def emit(b, lay):
    """serialize_against_pte_lookup with the mask of walking CPUs."""
    b.label("serialize_against_pte_lookup")     # (mm)
    words = lay.mask_bytes // 8
    mask, cpu = R31, R30                # mm_cpumask(mm); the for_each_cpu cursor
    epilogue = prologue(b, -(-(32 + 8 * words + 16) // 16) * 16, [mask, cpu])
    b.sync()                            # smp_mb: the PMD store before the counters
    b.addi(mask, R3, LINE)              # mm_cpumask(mm)
    b.li(R0, 0)
    for w in range(words):              # cm = {} on the stack, at 32(r1)
        b.std(R0, f"{32 + 8 * w}({R1})")

    def add_if_walking():
        _per_cpu(b, R5, lay.paca_base, cpu)
        b.ld(R5, f"{PACA_PERCPU}({R5})")    # per_cpu(counter, cpu): a plain load
        b.cmpdi(R5, 0)
        b.ble(out := b.local("idle"))
        cpumask_set_cpu(b, R1, cpu, (R6, R7, R8, R9), off=32)
        b.label(out)
    _for_each_cpu(b, lay.ncpus, cpu, mask, add_if_walking)
    b.addi(R3, R1, 32)
    b.load_addr(R4, "do_nothing")
    b.li(R5, 0)
    b.li(R6, 1)
    b.bl("smp_call_function_many")
    epilogue()


def _counter_add(b, delta):
    b.ld(R4, f"{PACA_PERCPU}({R13})")
    b.addi(R4, R4, delta)
    b.std(R4, f"{PACA_PERCPU}({R13})")


def walker_begin(b, mm, flags, mb=True):
    """``mb=False``: without the smp_mb (kernel.drop_barrier = walker_mb)."""
    local_irq_save(b, flags, R4)
    _counter_add(b, 1)
    if mb:
        b.sync()            # no page-table read before the counter is visible


def walker_end(b, mm, flags):
    b.sync()
    _counter_add(b, -1)
    local_irq_restore(b, flags)
