"""``percpu``: Leonardo Bras's v6 series (2020-02, [LM-bras]).  Each CPU
counts its own lockless walks in its PACA (``lockless_pgtbl_walk_counter``,
plain increment/decrement, no atomics):

    begin: local_irq_save; counter++; smp_mb
    end:   smp_mb; counter--; local_irq_restore

``serialize_against_pte_lookup`` builds an on-stack cpumask of the CPUs of
mm_cpumask whose counter is > 0 and sends the IPI round only to them.  Call
sites and page-table freeing are those of ``ipi``."""

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
    epilogue = prologue(b, -(-(32 + 8 * words + 16) // 16) * 16, ["r31", "r30"])
    b.sync()                            # smp_mb: the PMD store before the counters
    b.addi("r31", "r3", LINE)           # mm_cpumask(mm)
    b.li("r0", 0)
    for w in range(words):              # cm = {} on the stack, at 32(r1)
        b.std("r0", f"{32 + 8 * w}(r1)")

    def add_if_walking():               # r30 = cpu
        _per_cpu(b, "r5", lay.paca_base, "r30")
        b.ld("r5", f"{PACA_PERCPU}(r5)")    # per_cpu(counter, cpu): a plain load
        b.cmpdi("r5", 0)
        b.ble(out := b.local("idle"))
        cpumask_set_cpu(b, "r1", "r30", ("r6", "r7", "r8", "r9"), off=32)
        b.label(out)
    _for_each_cpu(b, lay.ncpus, "r30", "r31", add_if_walking)
    b.addi("r3", "r1", 32)
    b.load_addr("r4", "do_nothing")
    b.li("r5", 0)
    b.li("r6", 1)
    b.bl("smp_call_function_many")
    epilogue()


def _counter_add(b, delta):
    b.ld("r4", f"{PACA_PERCPU}(r13)")
    b.addi("r4", "r4", delta)
    b.std("r4", f"{PACA_PERCPU}(r13)")


def walker_begin(b, mm, flags):
    local_irq_save(b, flags, "r4")
    _counter_add(b, 1)
    b.sync()


def walker_end(b, mm, flags):
    b.sync()
    _counter_add(b, -1)
    local_irq_restore(b, flags)
