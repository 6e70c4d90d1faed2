"""Race-checker trace points (docs/KERNEL.md "Race checker"): the record kinds
and the ``trace`` macro that emits one trace-port store (docs/CONTRACTS.md
"Trace port": an 8-byte store to ``TRACE_BASE + 8 * kind`` logs (cycle,
thread, kind, RS, r0) and costs nothing; only the 3-instruction load of the
port address into a scratch register is executed code).

==================  =====================  =======================================
kind                a                      b (r0)
==================  =====================  =======================================
``PT_ALLOC``        the new PTE table      --  (``pte_alloc_one``)
``PT_FREE``         the PTE table          --  (``pte_free``: immediate and
                                           deferred frees both end there)
``PMD_SET``         the PMD slot           the new entry, CPU byte order
                                           (``pmd_populate``, ``set_pmd_at``,
                                           plain ``pmd_clear`` stores; and
                                           ``zap_pte_range`` restating the table
                                           pointer before it clears its PTEs)
``PMD_SET_BE``      the PMD slot           the new entry as stored (big-endian
                                           image: ``pmd_hugepage_update``, i.e.
                                           get_and_clear and invalidate)
``WALK_PMD``        the PMD slot           the value the walker read (once)
``WALK_DEREF``      the PTE slot the       the entry the walker read through it
                    walker loads through   (CPU byte order)  (a = 0: nothing
                                           found; the PMD slot itself for the
                                           pmd-as-pte cast)
``WALK_BEGIN``      the EA                 --  (``walker_window``: the bracket
                                           entered; ``gup_fast_paced`` and the
                                           KVM fault in ``cmd_guest``: the call)
``WALK_END``        ``irq_happened``       --  (``walker_window``: the window's
                    (the call's result)    end, before ``walker_end``;
                                           ``gup_fast_paced``, ``cmd_guest``:
                                           the call returned)
``WALK_RESTORED``   the slot               --  (``walker_window``: after
                                           ``walker_end``, i.e. after the replay
                                           of what was recorded)
``SERIALIZED``      the mm                 1 when the walkers rely on it, 0
                                           when they re-check instead (robust at
                                           a clear/invalidate)  (the method's
                                           serialize at a PMD clear/invalidate/
                                           collapse returned)
``IDLE_STOP``       the state's index in   --  (``cmd_idle_gov``: the state the
                    kernel.idle_states         menu governor picked)
``PAGE_FREE``       the struct page        the order (``__free_pages_ok``: the
                                           block goes back to the buddy allocator)
``PAGE_GET``        the struct page        --  (``gup_fast``, ``walker_window``'s
                                           end: the head page the walker takes
                                           its reference on)
``PAGES_FLUSH``     0 entering, 1 leaving  --  (``tlb_batch_pages_flush`` with pages
                                           queued: the free path's share)
==================  =====================  =======================================

``WALK_DEREF`` is emitted where the walker *uses* the loaded entry: right
after the load, or, for a method with ``walker_recheck`` (robust), only once
the re-check has passed (a backed-off walk used nothing).
"""

from powersim.machine.layout import TRACE_BASE
from powersim.machine.layout import K_IDLE_STOP as IDLE_STOP
from powersim.machine.layout import K_PAGE_FREE as PAGE_FREE
from powersim.machine.layout import K_PAGE_GET as PAGE_GET
from powersim.machine.layout import K_PAGES_FLUSH as PAGES_FLUSH
from powersim.machine.layout import K_PMD_SET as PMD_SET
from powersim.machine.layout import K_PMD_SET_BE as PMD_SET_BE
from powersim.machine.layout import K_PT_ALLOC as PT_ALLOC
from powersim.machine.layout import K_PT_FREE as PT_FREE
from powersim.machine.layout import K_SERIALIZED as SERIALIZED
from powersim.machine.layout import K_WALK_BEGIN as WALK_BEGIN
from powersim.machine.layout import K_WALK_DEREF as WALK_DEREF
from powersim.machine.layout import K_WALK_END as WALK_END
from powersim.machine.layout import K_WALK_PMD as WALK_PMD
from powersim.machine.layout import K_WALK_RESTORED as WALK_RESTORED

# the kinds this module emits (the registry, layout.py, allocates every kind)
KERNEL_KINDS = (PT_ALLOC, PT_FREE, PMD_SET, PMD_SET_BE, WALK_PMD, WALK_DEREF, WALK_BEGIN,
                WALK_END, WALK_RESTORED, SERIALIZED, IDLE_STOP, PAGE_FREE, PAGE_GET,
                PAGES_FLUSH)


def trace(b, kind, reg_a, reg_b=None, *, scratch):
    """Log (kind, ``reg_a``, ``reg_b``) through the trace port.  Clobbers
    ``scratch`` (the port address) and, when ``reg_b`` is given, r0."""
    assert scratch not in (reg_a, reg_b, "r0") and kind in KERNEL_KINDS
    if reg_b is not None and reg_b != "r0":
        b.mr("r0", reg_b)
    b.li64(scratch, TRACE_BASE)
    b.std(reg_a, f"{8 * kind}({scratch})")
