"""What the vCPU threads of the process run while the measured operation runs
(``workload.vcpu_state``): shared by the munmap_thp and vcpus generators.

host    WAIT_UNTIL: in the host kernel, waiting; interrupts are taken at once.
guest   GUEST: in guest mode, executing nothing; a host interrupt costs a guest
        exit before its handler and a guest entry after it
        (kernel.guest_exit_cycles / guest_entry_cycles), and with
        ``kvm_fault_rate`` the vCPU takes KVM page-fault exits that run the
        lockless KVM walk.
idle    IDLE_GOV: the CPU's idle loop (the vCPU thread is not running), in the
        stop states cpuidle's menu governor picks (powersim.kernel.cpuidle).
"""

import random

from powersim.config import THP_SIZE


def script(sim, cpu: int, until_tb: int) -> list:
    """The commands of vCPU thread ``cpu`` until timebase ``until_tb``."""
    from powersim.kernel.image import guest, idle_gov, wait_until
    wl, mp = sim.scenario.workload, sim.scenario.machine
    if wl.vcpu_state == "host":
        return [wait_until(until_tb)]
    if wl.vcpu_state == "idle":
        return [idle_gov(until_tb)]
    if not wl.kvm_fault_rate:
        return [guest(until_tb)]
    period = max(1, mp.timebase_mhz * 10**6 // wl.kvm_fault_rate)
    rng = random.Random(wl.seed * 1_000_003 + cpu)      # deterministic per (seed, cpu)
    first = rng.randrange(period)
    nthp = wl.memory // THP_SIZE
    stride = THP_SIZE * (rng.randrange(nthp) | 1) + (rng.randrange(32) << 16)
    return [guest(until_tb, period, first, wl.memory, stride)]


def guest_exits(run, cpus) -> int:
    from powersim.kernel.layout import PACA_GUEST_EXITS
    return sum(run.paca_u32(c, PACA_GUEST_EXITS) for c in cpus)
