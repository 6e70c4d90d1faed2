"""Kernel configuration, each parameter declared once (gem5 style, like
powersim.machine.params): type, default, unit, one-line description, source.

    kp = KernelParams(method="none", tlbie_stq_bug=False).validate()
    kp = KernelParams.for_machine(machine_params)   # errata flags as the CPU has them
"""

import attrs

from powersim.errors import PowersimError
from powersim.machine.params import choice, param


class KernelParamError(PowersimError):
    """A kernel parameter outside what is allowed."""


# kernel.drop_barrier -> (the methods it applies to (None: every method), what it removes)
BARRIERS = {
    "none": (None, "nothing: the kernel as built for its method"),
    "walker_mb": (("count", "percpu"), "the smp_mb (sync) after the walker's count "
                  "increment in begin_lockless_pgtbl_walk (SB with serialize's smp_mb)"),
    "serialize_mb": (("count",), "serialize_against_pte_lookup's smp_mb (sync) between "
                     "the PMD store and the count read (SB with the walker's smp_mb)"),
    "split_wmb": (None, "the smp_wmb (lwsync) before split's pmd_populate: the PTEs "
                  "before the PMD that publishes them (MP with the walker's dependent loads)"),
}


def check_barrier(drop, method_name):
    """Why ``kernel.drop_barrier = drop`` does not apply to ``method_name``, or ''."""
    if drop not in BARRIERS:
        return f"kernel.drop_barrier = {drop!r}: allowed {', '.join(BARRIERS)}"
    only = BARRIERS[drop][0]
    if only is not None and method_name not in only:
        what = ("a C method (write the variant in C)" if method_name.endswith(".c")
                else f"kernel.method = {method_name!r}")
        return (f"kernel.drop_barrier = {drop!r} is for kernel.method {' or '.join(only)}, "
                f"not {what}")
    return ""


@attrs.define(frozen=True)
class KernelParams:
    method: str = param("ipi", "name", "serialization of THP PMD changes against lockless "
                        "walkers (one module in powersim/kernel/methods/)",
                        "docs/KERNEL.md \"Methods\", one tag each")
    drop_barrier: str = choice("none", "name", "TEST ONLY: build the kernel with one "
                               "barrier left out, to show what it closes (none; walker_mb: "
                               "count/percpu; serialize_mb: count; split_wmb: any method)",
                               "docs/KERNEL.md \"Barriers\"",
                               tuple(BARRIERS))
    ipi: str = param("doorbell", "name", "how IPIs are sent: doorbell (a global msgsnd by "
                     "PIR, what v5.4 uses on PowerNV POWER9) or xive (an ESB trigger store, "
                     "only with doorbell=off)",
                     "[L-dbell] pnv_smp_probe: cause_ipi = doorbell_global_ipi on ISA 3.0; "
                     "[L-xive] xive_cause_ipi")
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

    # Linux's IPI receive path is far longer than the tiny kernel's: the exception
    # entry from a running task, irq_enter/irq_exit, tracing, the generic IPI
    # dispatch.  Its cost is charged (SPR_SIMSTALL) at the start of each IPI handler.
    ipi_receive_cycles: int = param(
        5348, "cycles", "receive-side work of an IPI that the tiny kernel does not "
        "execute, charged before each doorbell/XIVE IPI handler",
        "[Sampat-ipi]: 3.1 us measured from smp_call_function_single to the callback on a "
        "busy POWER9 CPU, less the 0.872 us the tiny kernel's own path takes on this model "
        "(workloads/ipi-idle.toml with workload.target_state=busy and this set to 0): "
        "2.228 us = 5,348 cycles at 2.4 GHz", 0, 1 << 30)

    # The idle loop (cpuidle.py): the menu governor picks among these states.
    idle_states: str = param("stop0_lite,stop0,stop1,stop2,stop4,stop5", "names",
                             "idle states the firmware enables (ibm,enabled-stop-levels), "
                             "comma-separated, any of stop0_lite, stop0, stop1, stop2, stop4, "
                             "stop5, stop8, stop11",
                             "[SK-stop] skiboot >= 6.0 enables stop0, 1, 2, 4, 5 by default "
                             "(commit 04a50cf04)")
    hz: int = param(100, "Hz", "scheduler tick rate: the menu governor keeps the tick (and "
                    "a shallow state) when it predicts less than one tick of idle",
                    "[L-menu] powernv_defconfig CONFIG_HZ_100", 1, 10000)
    idle_history_us: int = param(45000, "us", "each CPU's 8 past idle intervals at boot: "
                                 "45,000 is what menu records for a tick wake-up of a long "
                                 "idle CPU (9/10 of MAX_INTERESTING); 0 is a CPU with no "
                                 "history (at most MAX_INTERESTING, 50,000)",
                                 "[L-menu] menu_update, v5.4", 0, 50000)

    # The memory cgroup the unmapping process is charged to (page.py): uncharging
    # walks the page counters from its cgroup up to the root.
    memcg_depth: int = param(3, "levels", "page counters from the process's memory cgroup "
                             "up to the root, each uncharged at a THP free (0: no memcg)",
                             "UNVERIFIED: a QEMU guest under libvirt and systemd is charged to "
                             "machine.slice/machine-qemu-N.scope, whose counters and the "
                             "root's make 3 [L-memcg] page_counter_uncharge", 0, 8)

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
        why = check_barrier(self.drop_barrier, self.method)
        if why:
            raise KernelParamError(why)
        if self.ipi not in ("xive", "doorbell"):
            raise KernelParamError(f"kernel.ipi = {self.ipi!r}: allowed xive, doorbell")
        for f in attrs.fields(type(self)):
            v, md = getattr(self, f.name), f.metadata
            if isinstance(f.default, bool):
                if not isinstance(v, bool):
                    raise KernelParamError(f"kernel.{f.name} = {v!r}: must be True or False")
            elif isinstance(f.default, int):
                if isinstance(v, bool) or not isinstance(v, int) or not md["lo"] <= v <= md["hi"]:
                    raise KernelParamError(f"kernel.{f.name} = {v!r}: allowed integers "
                                           f"{md['lo']}..{md['hi']} {md['unit']}")
        self.idle_state_list()
        return self

    def idle_state_list(self) -> tuple:
        """kernel.idle_states as names, shallowest first (KernelParamError if not)."""
        from powersim.kernel.idle_states import STATES
        names = tuple(n.strip() for n in self.idle_states.split(","))
        bad = [n for n in names if n not in STATES]
        if bad or not names or len(set(names)) != len(names):
            raise KernelParamError(f"kernel.idle_states = {self.idle_states!r}: allowed a "
                                   f"comma-separated set of {', '.join(STATES)}")
        return tuple(n for n in STATES if n in names)

    def tlbie_fixups(self) -> tuple:
        """The extra tlbies after a tlbie sequence, in fixup_tlbie_va's order: "erat"
        (PID 0) then "stq" (the same tlbie again), each after a ptesync [L-tlb]."""
        return tuple(n for n, on in (("erat", self.tlbie_erat_bug),
                                     ("stq", self.tlbie_stq_bug)) if on)
