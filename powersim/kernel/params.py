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
                        "docs/KERNEL.md \"Methods\", one tag each")
    ipi: str = param("xive", "name", "how IPIs are sent: xive (an ESB trigger store, the "
                     "POWER9 powernv path) or doorbell (msgsnd)",
                     "[L-xive] xive_cause_ipi; [L-dbell] for doorbells")
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

    # A host interrupt that arrives while a vCPU is in guest mode forces a full
    # guest exit and, after the host handled it, a guest entry: thousands of
    # instructions of KVM that the tiny kernel charges as these two costs
    # (SPR_SIMSTALL) instead of executing.
    guest_exit_cycles: int = param(
        4667, "cycles", "KVM guest exit forced by a host interrupt (vCPU in guest mode)",
        "[linux-mm N16]: 9,333 cycles full exit + entry on P9 radix before Piggin's 2021 "
        "series (the v5.4 era); only the sum is published, split evenly", 0, 1 << 30)
    guest_entry_cycles: int = param(
        4666, "cycles", "KVM guest entry after the host handled the interrupt",
        "[linux-mm N16], the other half of the 9,333-cycle exit + entry", 0, 1 << 30)

    # The idle governor (image.cmd_idle_gov) picks among these stop levels.
    idle_levels: tuple = param((0, 1, 2, 4, 5, 8, 11), "PSSCR RL", "stop levels the idle "
                               "governor may use, shallowest first (ibm,enabled-stop-levels)",
                               "power9.md section 6 table (skiboot's states)")
    idle_residency_us: tuple = param((10, 50, 100, 10000, 20000, 20000, 100000), "us",
                                     "target residency of each idle_levels entry",
                                     "[SK-slw] estimates, power9.md section 6", 0, 1 << 30)

    @classmethod
    def for_machine(cls, machine_params, **kw):
        """The errata flags Linux would set on that machine's CPU ([L-ftrs])."""
        kw.setdefault("tlbie_erat_bug", machine_params.erratum_tlbie_erat)
        kw.setdefault("tlbie_stq_bug", machine_params.erratum_tlbie_stq)
        return cls(**kw)

    def validate(self, check_method=True):
        """Raise KernelParamError naming the parameter, the value and what is allowed."""
        if check_method:    # (the methods import the numba core)
            from powersim.kernel import methods
            methods.get(self.method)
        if self.ipi not in ("xive", "doorbell"):
            raise KernelParamError(f"kernel.ipi = {self.ipi!r}: allowed xive, doorbell")
        for f in attrs.fields(type(self)):
            v, md = getattr(self, f.name), f.metadata
            if isinstance(f.default, bool):
                if not isinstance(v, bool):
                    raise KernelParamError(f"kernel.{f.name} = {v!r}: must be True or False")
            elif isinstance(f.default, tuple):
                if not v or not all(isinstance(x, int) and not isinstance(x, bool) and
                                    0 <= x < 1 << 30 for x in v):
                    raise KernelParamError(f"kernel.{f.name} = {v!r}: allowed a non-empty "
                                           f"list of integers >= 0 ({md['unit']})")
            elif isinstance(f.default, int):
                if isinstance(v, bool) or not isinstance(v, int) or not md["lo"] <= v <= md["hi"]:
                    raise KernelParamError(f"kernel.{f.name} = {v!r}: allowed integers "
                                           f"{md['lo']}..{md['hi']} {md['unit']}")
        if len(self.idle_levels) != len(self.idle_residency_us) or \
                list(self.idle_levels) != sorted(set(self.idle_levels)) or \
                self.idle_levels[-1] > 15 or len(self.idle_levels) > 8:
            raise KernelParamError(
                f"kernel.idle_levels = {list(self.idle_levels)}, kernel.idle_residency_us "
                f"= {list(self.idle_residency_us)}: allowed up to 8 increasing levels 0..15, "
                "one residency each")
        return self

    def tlbie_fixups(self) -> tuple:
        """The extra tlbies after a tlbie sequence, in fixup_tlbie_va's order: "erat"
        (PID 0) then "stq" (the same tlbie again), each after a ptesync [L-tlb]."""
        return tuple(n for n, on in (("erat", self.tlbie_erat_bug),
                                     ("stq", self.tlbie_stq_bug)) if on)
