"""``count``: Leonardo Bras's v5 series (2019-10, [LM-bras]).  Walkers
count themselves in ``mm->lockless_pgtbl_walkers``:

    begin: atomic_inc(walkers); local_irq_save; smp_mb
    end:   smp_mb; local_irq_restore; atomic_dec(walkers)

and ``serialize_against_pte_lookup`` sends its IPI round to mm_cpumask only
when the count is non-zero (no spin-until-zero).  Call sites and page-table
freeing are those of ``ipi``."""

from powersim.asm_builder import R3, R4, R31
from powersim.kernel.irq import local_irq_restore, local_irq_save
from powersim.kernel.layout import MM_WALKERS
from powersim.kernel.methods import ipi

NAME = "count"
zap_flush_per_pmd = False
walker_recheck = False
serialize, free_pgtable = ipi.serialize, ipi.free_pgtable


def emit(b, lay, mb=True):
    """serialize_against_pte_lookup, gated on running_lockless_pgtbl_walk
    (``mb=False``: without its smp_mb, kernel.drop_barrier = serialize_mb)."""
    mm = R31                # where ipi.emit_serialize keeps mm

    def gate(skip):
        b.ld(R4, f"{MM_WALKERS}({mm})")     # atomic_read: a plain load after the smp_mb
        b.cmpdi(R4, 0)
        b.beq(skip)
    ipi.emit_serialize(b, gate=gate, mb=mb)


def _atomic_add(b, mm, delta):
    """``atomic_add(delta, &mm->lockless_pgtbl_walkers)``: ldarx/stdcx., no
    barriers (atomic_inc/dec return nothing, so Linux orders nothing) [L-bar].
    Uses r3, r4."""
    b.addi(R3, mm, MM_WALKERS)
    b.label(retry := b.local("atomic"))
    b.ldarx(R4, 0, R3)
    b.addi(R4, R4, delta)
    b.stdcx_rc(R4, 0, R3)
    b.emit(f"bne- {retry}")


def walker_begin(b, mm, flags, mb=True):
    """``mb=False``: without the smp_mb (kernel.drop_barrier = walker_mb)."""
    _atomic_add(b, mm, 1)
    local_irq_save(b, flags, R4)
    if mb:
        b.sync()            # no page-table read before the count is visible


def walker_end(b, mm, flags):
    b.sync()                # every page-table read done before the count drops
    local_irq_restore(b, flags)
    _atomic_add(b, mm, -1)
