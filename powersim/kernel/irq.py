"""Interrupt entry with Linux soft-masking and replay (linux-mm 3.8,
docs/KERNEL.md "Interrupts and soft-masking").

Conventions: r13 always holds this CPU's PACA (it is never used for anything
else), r1 a valid stack.  Vectors (0x900 decrementer via SRR0/1, 0xE80
hypervisor doorbell and 0xEA0 XIVE via HSRR0/1 [L-exc]) save r10-r12 and CR in
the PACA and branch to a per-kind ``*_common`` that

* soft-masked: ORs the kind into ``paca->irq_happened`` and returns at once
  (XIVE is level-triggered, so it is also hard-disabled: EE cleared in HSRR1,
  PACA_IRQ_HARD_DIS set; the decrementer is reset to 0x7fffffff);
* enabled: saves the volatile state on the stack, runs ``irq_dispatch`` with
  the soft mask set, restores and returns.

``local_irq_restore``/``enable`` go through ``arch_local_irq_restore``,
which replays recorded kinds with the same ``irq_dispatch`` the direct path
uses.  Handlers run hard-disabled (MSR[EE] = 0), so (H)SRR0/1 need no saving.
"""

from powersim.kernel.layout import (IRQS_DISABLED, PACA_EX, PACA_GUEST_EXIT, PACA_HOST_IPI,
                                    PACA_IRQ_DBELL, PACA_IRQ_DEC, PACA_IRQ_EE,
                                    PACA_IRQ_HARD_DIS, PACA_IRQ_HAPPENED, PACA_SOFT_MASK)
from powersim.machine.layout import SPR_SIMSTALL    # a modelled cost, at no host cost

HSRR1, SRR1 = 315, 27
MSR_EE, MSR_RI = 0x8000, 0x2
DEC_MAX = 0x7FFFFFFF    # what a masked/handled decrementer is reset to [linux-mm 3.8]

# (vector, kind, HSRR?) of each interrupt the kernel takes [L-exc]
VECTORS = ((0x900, "decrementer", PACA_IRQ_DEC, False),
           (0xE80, "h_doorbell", PACA_IRQ_DBELL, True),
           (0xEA0, "h_virt_irq", PACA_IRQ_EE, True))

# Full-entry stack frame: ELFv2 32-byte header, r0, r2..r12, CR, LR, CTR, XER, red zone.
_SAVED_GPRS = (0,) + tuple(range(2, 13))
_F_GPR = {r: 32 + 8 * i for i, r in enumerate(_SAVED_GPRS)}
_F_CR, _F_LR, _F_CTR, _F_XER = (32 + 8 * (len(_SAVED_GPRS) + i) for i in range(4))
RED_ZONE = 288          # ELFv2 protected zone below r1, skipped as Linux does
FRAME = -(-(_F_XER + 8) // 16) * 16 + RED_ZONE


# --- macros used by kernel routines ------------------------------------------------
def local_irq_disable(b, tmp):
    """Soft-disable: only the PACA mask changes; MSR[EE] stays 1 [linux-mm 3.8]."""
    b.li(tmp, IRQS_DISABLED)
    b.stb(tmp, f"{PACA_SOFT_MASK}(r13)")


def local_irq_save(b, reg, tmp):
    """``reg = irq_soft_mask; irq_soft_mask = IRQS_DISABLED``."""
    b.lbz(reg, f"{PACA_SOFT_MASK}(r13)")
    local_irq_disable(b, tmp)


def local_irq_restore(b, reg):
    """``arch_local_irq_restore(reg)``: a call (clobbers r0, r3-r12, LR, CTR, cr0),
    replaying what was recorded when the mask goes back to 0."""
    b.mr("r3", reg)
    b.bl("arch_local_irq_restore")


def local_irq_enable(b):
    b.li("r3", 0)
    b.bl("arch_local_irq_restore")


def hard_irq(b, tmp, enable: bool):
    """``__hard_irq_enable/disable``: mtmsrd L=1 sets EE (and keeps RI) [L-reg]."""
    b.li(tmp, MSR_RI)
    if enable:
        b.ori(tmp, tmp, MSR_EE)
    b.mtmsrd(tmp, 1)


def prologue(b, frame=32, saved=()):
    """ELFv2 prologue: LR to the caller's frame, new frame, callee-saved regs
    at the top of the frame.  Returns the matching epilogue emitter."""
    b.mflr("r0")
    b.std("r0", "16(r1)")
    b.stdu("r1", f"-{frame}(r1)")
    slots = [(r, frame - 8 * (i + 1)) for i, r in enumerate(saved)]
    for r, off in slots:
        b.std(r, f"{off}(r1)")

    def epilogue():
        for r, off in slots:
            b.ld(r, f"{off}(r1)")
        b.addi("r1", "r1", frame)
        b.ld("r0", "16(r1)")
        b.mtlr("r0")
        b.blr()
    return epilogue


# --- the code -----------------------------------------------------------------------
def emit_vectors(b):
    """The vector stubs (at most 8 instructions fit before 0xEA0/0xEC0)."""
    for vec, name, kind, _ in VECTORS:
        b.emit(f".org {vec:#x}")
        b.label(name)
        for i, r in enumerate(("r10", "r11", "r12")):
            b.std(r, f"{PACA_EX + 8 * i}(r13)")
        b.mfcr("r12")
        b.li("r11", kind)
        b.b(f"{name}_common")


def _return(b, hsrr):
    """Restore CR and r10-r12 from the PACA and return from the interrupt."""
    b.mtcrf(255, "r12")
    for i, r in enumerate(("r10", "r11", "r12")):
        b.ld(r, f"{PACA_EX + 8 * i}(r13)")
    b.emit("hrfid" if hsrr else "rfid")


def _reset_dec(b, tmp):
    b.li64(tmp, DEC_MAX)
    b.mtdec(tmp)


def emit_entries(b, kp):
    """``<vector>_common`` (masked check and masked path) for each vector, the
    shared full entry, and the handlers."""
    for _vec, name, kind, hsrr in VECTORS:
        b.label(f"{name}_common")
        b.lbz("r10", f"{PACA_SOFT_MASK}(r13)")
        b.cmpdi("r10", 0)
        b.beq(f"irq_full_{'hsrr' if hsrr else 'srr'}")
        b.comment(f"soft-masked: record {name} in irq_happened and return")
        b.lbz("r10", f"{PACA_IRQ_HAPPENED}(r13)")
        b.ori("r10", "r10", kind)
        if kind == PACA_IRQ_EE:     # PACA_IRQ_MUST_HARD_MASK: level-triggered
            b.ori("r10", "r10", PACA_IRQ_HARD_DIS)
            b.mfspr("r11", HSRR1)
            b.xori("r11", "r11", MSR_EE)     # EE was 1, or it would not have been taken
            b.mtspr(HSRR1, "r11")
        if kind == PACA_IRQ_DEC:
            _reset_dec(b, "r11")
        b.stb("r10", f"{PACA_IRQ_HAPPENED}(r13)")
        _return(b, hsrr)
    for hsrr in (False, True):
        _emit_full_entry(b, hsrr)
    _emit_dispatch(b, kp)
    _emit_restore_and_replay(b)


def _emit_full_entry(b, hsrr):
    """Unmasked: r11 = kind, r12 = CR, r10-r12 in the PACA save area."""
    b.label(f"irq_full_{'hsrr' if hsrr else 'srr'}")
    b.stdu("r1", f"-{FRAME}(r1)")
    b.std("r12", f"{_F_CR}(r1)")
    for r in _SAVED_GPRS:
        if r < 10:
            b.std(f"r{r}", f"{_F_GPR[r]}(r1)")
    for i, r in enumerate((10, 11, 12)):
        b.ld("r0", f"{PACA_EX + 8 * i}(r13)")
        b.std("r0", f"{_F_GPR[r]}(r1)")
    for spr, off in (("lr", _F_LR), ("ctr", _F_CTR), ("xer", _F_XER)):
        b.emit(f"mf{spr} r0")
        b.std("r0", f"{off}(r1)")
    local_irq_disable(b, "r0")          # handlers run soft- and hard-disabled
    # in guest mode (image.cmd_guest) the interrupt first costs the guest exit
    b.ld("r0", f"{PACA_GUEST_EXIT}(r13)")
    b.mtspr(SPR_SIMSTALL, "r0")         # 0 in the host: no cost
    b.li("r0", 0)
    b.std("r0", f"{PACA_GUEST_EXIT}(r13)")
    b.mr("r3", "r11")
    b.bl("irq_dispatch")
    b.li("r0", 0)                       # the mask was 0 on entry
    b.stb("r0", f"{PACA_SOFT_MASK}(r13)")
    for spr, off in (("lr", _F_LR), ("ctr", _F_CTR), ("xer", _F_XER)):
        b.ld("r0", f"{off}(r1)")
        b.emit(f"mt{spr} r0")
    b.ld("r0", f"{_F_CR}(r1)")
    b.mtcrf(255, "r0")
    for r in _SAVED_GPRS[1:]:
        b.ld(f"r{r}", f"{_F_GPR[r]}(r1)")
    # Clear the interrupted code's reservation, as Linux does on every
    # interrupt return (POWER9 checks the address: ldarx form) [L-exc]
    b.ldarx("r0", 0, "r1")
    b.ld("r0", f"{_F_GPR[0]}(r1)")
    b.addi("r1", "r1", FRAME)
    b.emit("hrfid" if hsrr else "rfid")


def ipi_receive_cost(b, kp):
    """What Linux's IPI receive path costs beyond the tiny kernel's instructions
    (kernel.ipi_receive_cycles), charged at no host cost."""
    if kp.ipi_receive_cycles:
        b.li64("r0", kp.ipi_receive_cycles)
        b.mtspr(SPR_SIMSTALL, "r0")


def _emit_dispatch(b, kp):
    """``irq_dispatch(kind)``: the handler of one PACA_IRQ_* kind (tail calls),
    shared by the direct path and the replay."""
    b.label("irq_dispatch")
    b.cmpdi("r3", PACA_IRQ_DEC)
    b.beq("timer_interrupt")
    b.cmpdi("r3", PACA_IRQ_EE)
    b.beq("xive_ipi_interrupt")
    b.b("doorbell_exception")

    b.label("timer_interrupt")
    b.comment("no timer events yet: re-arm far away (WAIT_UNTIL re-checks the timebase)")
    _reset_dec(b, "r3")
    b.blr()

    b.label("doorbell_exception")
    ipi_receive_cost(b, kp)
    b.comment("a global doorbell's data is ordered by msgsync; lwsync [L-dbell]")
    b.msgsync()
    b.lwsync()
    b.li("r4", 0)                       # kvmppc_clear_host_ipi: host_ipi = 0; smp_mb()
    b.stb("r4", f"{PACA_HOST_IPI}(r13)")    # [L-kvm-ipi]
    b.sync()
    b.b("smp_ipi_demux_relaxed")


def _emit_restore_and_replay(b):
    """``arch_local_irq_restore(mask)`` in its v5.4 order: the mask is stored
    first, so an interrupt after that store is taken directly and one before it
    is in irq_happened; replay runs soft- and hard-disabled [linux-mm 3.8]."""
    b.label("arch_local_irq_restore")
    b.stb("r3", f"{PACA_SOFT_MASK}(r13)")
    b.cmpdi("r3", 0)
    b.bnelr()
    b.lbz("r4", f"{PACA_IRQ_HAPPENED}(r13)")
    b.cmpdi("r4", 0)
    b.beqlr()
    epilogue = prologue(b)
    hard_irq(b, "r5", enable=False)
    local_irq_disable(b, "r5")
    b.bl("replay_soft_interrupts")
    b.li("r5", 0)
    b.stb("r5", f"{PACA_SOFT_MASK}(r13)")
    hard_irq(b, "r5", enable=True)
    epilogue()

    b.label("replay_soft_interrupts")
    epilogue = prologue(b)
    for kind in (PACA_IRQ_DEC, PACA_IRQ_EE, PACA_IRQ_DBELL):    # Linux's replay order
        skip = b.local("replay")
        b.lbz("r4", f"{PACA_IRQ_HAPPENED}(r13)")
        b.andi_rc("r5", "r4", kind)
        b.beq(skip)
        b.xori("r4", "r4", kind)
        b.stb("r4", f"{PACA_IRQ_HAPPENED}(r13)")
        b.li("r3", kind)
        b.bl("irq_dispatch")
        b.label(skip)
    b.lbz("r4", f"{PACA_IRQ_HAPPENED}(r13)")
    b.andi_rc("r4", "r4", 0xFF & ~PACA_IRQ_HARD_DIS)   # the caller hard-enables next
    b.stb("r4", f"{PACA_IRQ_HAPPENED}(r13)")
    epilogue()
