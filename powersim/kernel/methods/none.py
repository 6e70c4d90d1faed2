"""``none``: no serialization at all (unsafe; the race checker's negative
control).  Page-table pages are freed at once."""

NAME = "none"
zap_flush_per_pmd = False


def emit(b, lay):
    """No routines of its own."""


def serialize(b):
    b.comment("kernel.method = none: no serialization against lockless walkers")


def free_pgtable(b):
    b.bl("pte_free")
