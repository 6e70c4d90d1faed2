"""``ipi``: the v5.4 baseline.  Every THP PMD clear, invalidate and collapse
flush is followed by ``serialize_against_pte_lookup``: ``smp_mb()`` then a
synchronous ``smp_call_function_many(mm_cpumask, do_nothing)`` round, which
cannot complete while any CPU of the mask is inside an irq-off lockless walk
[LM-serialize], [LM-softmask].  Walkers only soft-disable interrupts around the walk
([LM-walk], v5.4 GUP-fast).  Page-table pages are freed at once.

The helpers here (the irq bracket, the IPI round) are shared by the methods
built on the same mechanism (``none``, ``count``, ``robust``, ``trim``)."""

from powersim.asm_builder import R3, R4, R5, R6, R31
from powersim.kernel.irq import local_irq_restore, local_irq_save, prologue
from powersim.kernel.layout import LINE

NAME = "ipi"
zap_flush_per_pmd = False       # v5.8 added it together with dropping the IPI
walker_recheck = False          # v6.1 GUP-fast re-check (robust only)


def emit_serialize(b, func="do_nothing", gate=None, info_is_mm=False, mb=True):
    """``serialize_against_pte_lookup(r3 = mm)`` [LM-serialize]: ``smp_mb`` (left
    out with ``mb=False``), then ``gate(skip)`` (r31 = mm; may branch to ``skip``
    to send nothing), then a synchronous round of ``func`` to mm_cpumask (info =
    mm or NULL)."""
    mm = R31                            # gate() finds it here too
    b.label("serialize_against_pte_lookup")
    epilogue = prologue(b, 48, [mm])
    if mb:
        b.sync()                        # smp_mb: the PMD store before reading the mask
    b.mr(mm, R3)
    skip = b.local("noround")
    if gate:
        gate(skip)
    b.addi(R3, mm, LINE)                # mm_cpumask(mm) (layout.mm_cpumask)
    b.load_addr(R4, func)
    if info_is_mm:
        b.mr(R5, mm)
    else:
        b.li(R5, 0)
    b.li(R6, 1)                         # wait
    b.bl("smp_call_function_many")
    b.label(skip)
    epilogue()


def emit(b, lay):
    emit_serialize(b)


def serialize(b, collapse=False):
    b.bl("serialize_against_pte_lookup")


def free_pgtable(b):
    b.bl("pte_free")


def walker_begin(b, mm, flags):
    """``local_irq_save(flags)`` [LM-walk]: an IPI that arrives now waits in
    irq_happened until walker_end."""
    local_irq_save(b, flags, R4)


def walker_end(b, mm, flags):
    local_irq_restore(b, flags)
