"""``robust``: the v5.8 state (Aneesh Kumar's series, [LM-pmd], [LM-walk]).

* No serialize at PMD clear (``pmdp_huge_get_and_clear``) or
  ``pmdp_invalidate``: walkers follow the 2020 rules (read each level once,
  tolerate a stale value, check ``_PAGE_PTE``/present before use) and
  GUP-fast re-checks the PMD and PTE after taking its page reference, backing
  off if either changed (the v6.1 ``70cbc3cc78a9`` re-check, modelled here
  as the walker's side of "robust").
* ``pmdp_huge_get_and_clear_full`` flushes the 2M entry at once for a
  non-fullmm zap (``zap_flush_per_pmd``, v5.8 MADV_DONTNEED race fix).
* ``pmdp_collapse_flush`` still sends the IPI round: radix collapse kept
  ``serialize_against_pte_lookup`` from v5.8 until v6.1 (``bedf03416913``),
  and this module models v5.8, so collapse is serialized as in ``ipi``.
* Walkers keep the irq-off bracket (GUP-fast's irq-off blocks the RCU-like
  page-table free); page-table pages are freed through the deferred free.
"""

from powersim.kernel.methods import ipi

NAME = "robust"
zap_flush_per_pmd = True
walker_recheck = True
walker_begin, walker_end = ipi.walker_begin, ipi.walker_end


def emit(b, lay):
    """serialize_against_pte_lookup, for the collapse call site only."""
    ipi.emit_serialize(b)


def serialize(b, collapse=False):
    if collapse:
        b.bl("serialize_against_pte_lookup")
    else:
        b.comment("kernel.method = robust (v5.8): no IPI at PMD clear/invalidate")


def free_pgtable(b):
    """RCU-like: freed once every CPU has passed a quiescent point (pgtable.py)."""
    b.bl("tlb_remove_table_deferred")
