"""Serialization methods (DESIGN.md table, docs/KERNEL.md "Methods"), one
module each, all exposing the same Builder hooks so that the mm routines are
the same code for every method and only the hook bodies differ:

``NAME``
    the ``kernel.method`` value.
``zap_flush_per_pmd``
    True when ``pmdp_huge_get_and_clear_full`` must flush the 2M TLB entry at
    once for a non-fullmm zap (v5.8+, linux-mm 3.3).
``emit(b, lay)``
    the method's own routines (called once per image).
``serialize(b)``
    code at each call site of linux-mm 3.3 (PMD clear, invalidate, collapse
    flush) for that method; r3 = the mm; clobbers the volatile registers.
``free_pgtable(b)``
    free the page-table page in r3 (immediate, or deferred past a grace
    period); clobbers the volatile registers.
"""

from powersim.errors import PowersimError
from powersim.kernel.methods import ipi, none

METHODS = {m.NAME: m for m in (ipi, none)}


def get(name):
    """The method module called ``name``."""
    if name not in METHODS:
        raise PowersimError(f"kernel.method = {name!r}: allowed {', '.join(METHODS)}")
    return METHODS[name]
