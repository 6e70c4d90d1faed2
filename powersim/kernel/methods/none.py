"""``none``: no serialization at all (unsafe; the race checker's negative
control).  Walkers keep the irq-off bracket (it serializes against nothing
here).  Page-table pages are freed at once."""

from powersim.kernel.methods import ipi

NAME = "none"
zap_flush_per_pmd = False
walker_recheck = False
free_pgtable = ipi.free_pgtable
walker_begin, walker_end = ipi.walker_begin, ipi.walker_end


def emit(b, lay):
    """No routines of its own."""


def serialize(b, collapse=False):
    b.comment("kernel.method = none: no serialization against lockless walkers")
