"""Kernel configuration, each parameter declared once (gem5 style, like
powersim.machine.params): type, default, unit, one-line description, source.

    kp = KernelParams(method="none", tlbie_stq_bug=False).validate()
    kp = KernelParams.for_machine(machine_params)   # errata flags as the CPU has them
"""

import attrs

from powersim.errors import PowersimError
from powersim.machine.params import param


class KernelParamError(PowersimError):
    """A kernel parameter outside what is allowed."""


@attrs.define(frozen=True)
class KernelParams:
    method: str = param("ipi", "name", "serialization of THP PMD changes against lockless "
                        "walkers (one module in powersim/kernel/methods/)",
                        "DESIGN.md 'Serialization methods'")
    # CPU_FTR bits Linux sets from the PVR (dt_cpu_ftrs.c); the code generators of
    # tlbflush.py emit the work-around of power9.md section 4.3 when they are set.
    tlbie_erat_bug: bool = param(True, "flag", "CPU_FTR_P9_TLBIE_ERAT_BUG: after each tlbie "
                                 "sequence add `ptesync; tlbie` with PID 0 (all POWER9)",
                                 "[L-ftrs] commit 047e6575aec7")
    tlbie_stq_bug: bool = param(True, "flag", "CPU_FTR_P9_TLBIE_STQ_BUG: after each tlbie "
                                "sequence repeat a tlbie after a ptesync (Nimbus < DD2.3)",
                                "[L-ftrs] commit a5d4b5891c2f")
    tlb_single_page_flush_ceiling: int = param(
        33, "pages", "a global range flush of more pages becomes a full-PID tlbie",
        "[L-tlb] tlb_single_page_flush_ceiling", 0, 1 << 20)
    tlb_local_single_page_flush_ceiling: int = param(
        256, "pages", "a local range flush of more pages becomes a 128-set tlbiel PID flush",
        "[L-tlb] tlb_local_single_page_flush_ceiling (POWER9_TLB_SETS_RADIX * 2)", 0, 1 << 20)

    @classmethod
    def for_machine(cls, machine_params, **kw):
        """The errata flags Linux would set on that machine's CPU ([L-ftrs])."""
        kw.setdefault("tlbie_erat_bug", machine_params.erratum_tlbie_erat)
        kw.setdefault("tlbie_stq_bug", machine_params.erratum_tlbie_stq)
        return cls(**kw)

    def validate(self):
        """Raise KernelParamError naming the parameter, the value and what is allowed."""
        from powersim.kernel import methods
        methods.get(self.method)
        for f in attrs.fields(type(self)):
            v, md = getattr(self, f.name), f.metadata
            if isinstance(f.default, bool):
                if not isinstance(v, bool):
                    raise KernelParamError(f"kernel.{f.name} = {v!r}: must be True or False")
            elif isinstance(f.default, int):
                if isinstance(v, bool) or not isinstance(v, int) or not md["lo"] <= v <= md["hi"]:
                    raise KernelParamError(f"kernel.{f.name} = {v!r}: allowed integers "
                                           f"{md['lo']}..{md['hi']} {md['unit']}")
        return self

    def tlbie_fixups(self) -> tuple:
        """The extra tlbies after a tlbie sequence, in fixup_tlbie_va's order: "erat"
        (PID 0) then "stq" (the same tlbie again), each after a ptesync [L-tlb]."""
        return tuple(n for n, on in (("erat", self.tlbie_erat_bug),
                                     ("stq", self.tlbie_stq_bug)) if on)
