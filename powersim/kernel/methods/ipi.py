"""``ipi``: the v5.4 baseline.  Every THP PMD clear, invalidate and collapse
flush is followed by ``serialize_against_pte_lookup``: ``smp_mb()`` then a
synchronous ``smp_call_function_many(mm_cpumask, do_nothing)`` round, which
cannot complete while any CPU of the mask is inside an irq-off lockless walk
(linux-mm 3.1, 3.8).  Page-table pages are freed at once."""

from powersim.kernel.irq import prologue
from powersim.kernel.layout import LINE

NAME = "ipi"
zap_flush_per_pmd = False       # v5.8 added it together with dropping the IPI


def emit(b, lay):
    """``serialize_against_pte_lookup(r3 = mm)`` [linux-mm 3.1]."""
    b.label("serialize_against_pte_lookup")
    epilogue = prologue(b)
    b.sync()                            # smp_mb: the PMD store before reading the mask
    b.addi("r3", "r3", LINE)            # mm_cpumask(mm) (layout.mm_cpumask)
    b.load_addr("r4", "do_nothing")
    b.li("r5", 0)
    b.li("r6", 1)                       # wait
    b.bl("smp_call_function_many")
    epilogue()


def serialize(b):
    b.bl("serialize_against_pte_lookup")


def free_pgtable(b):
    b.bl("pte_free")
