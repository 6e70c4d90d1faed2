"""vcpus: ``workload.vcpus`` vCPU threads of one process for
``workload.duration_us``, each in ``workload.vcpu_state`` (host: waiting in
the host kernel; guest: guest mode, taking ``kvm_fault_rate`` KVM page-fault
exits per second that run the lockless KVM walk; idle: the idle governor's
stop states; see powersim.workloads.vcpu).

Placement (``workload.vcpu_placement``):

pinned      vCPU i runs on CPU i for the whole run.
migrating   every ``migrate_us`` each vCPU moves to the next CPU (vCPU i is on
            CPU (i + k) mod H in the k-th period, H the CPUs vCPUs may use):
            the new CPU runs SWITCH_MM to the mm (its first switch sets its
            bit in mm_cpumask: what grows the mask), the old one switches away
            with SWITCH_MM 0 (its bit stays, as in Linux) and waits in the host.

With ``workload.wake_rate`` the process's main thread, on the last CPU (then
not a vCPU CPU, and in mm_cpumask), sends an IPI round to mm_cpumask
(``smp_call_function_many(mm_cpumask, ipi_mark, k, wait=0)``) that often: the
wake-ups that end idle periods (the idle governor learns their interval) and
force guest exits.

The measured operation is CPU 0's script (vCPU 0's first period on it, and
whatever it hosts afterwards), so ``op_seconds`` is about ``duration_us``.

Results: ``counters.guest_exits`` (every exit from guest mode: a host interrupt
-- a KVM fault's timer, an IPI, the end of the guest period), ``walks``,
``kvm_faults`` (KVM walks run), ``ipis_handled`` (ipi_mark runs); top-level
``mm_cpumask_weight`` at the end, ``kvm_fault_ns`` (a KVM fault walk's
duration, from the WALK_BEGIN / WALK_END records around it in cmd_guest) and
``idle_stops`` (stop entries the menu governor made, by state name, from its
IDLE_STOP records).
"""

import random

import numpy as np

from powersim.config import THP_SIZE, ConfigError
from powersim.workloads import Plan, bracket, lasting
from powersim.results import Row, spread_ns, spread_rows
from powersim.workloads.gup_storm import call_cycles

START_US = 1                # every CPU starts 1 us after boot
MARK_SLOTS = 5              # the bracket marks around CPU 0's script, its tail wait
TAIL_US = 10                # CPU 0 halts this long after the end (the run stops then)


def shape(sim):
    """(CPUs, the waker CPU or None, CPUs vCPUs may run on), or ConfigError."""
    wl, mp = sim.scenario.workload, sim.scenario.machine
    n = mp.chips * mp.cores_per_chip * mp.smt
    waker = n - 1 if wl.wake_rate else None
    hosts = n - 1 if wl.wake_rate else n
    if wl.vcpus > hosts:
        raise ConfigError(f"workload.vcpus = {wl.vcpus}: the machine has {n} hardware threads"
                          + (", one of them the main thread sending wake_rate IPIs"
                             if wl.wake_rate else "") + f"; allowed at most {hosts}")
    return n, waker, hosts


def periods(sim) -> list:
    """[(start, end)] timebase of each placement period."""
    wl, mp = sim.scenario.workload, sim.scenario.machine
    tb = mp.timebase_mhz
    start, end = START_US * tb, (START_US + wl.duration_us) * tb
    if wl.vcpu_placement == "pinned":
        return [(start, end)]
    step = wl.migrate_us * tb
    return [(t, min(end, t + step)) for t in range(start, end, step)]


def _state(sim, vcpu: int, k: int, t0: int, t1: int):
    """The command of vCPU ``vcpu`` from ``t0`` to ``t1`` (period ``k``)."""
    from powersim.kernel.image import guest, idle_gov, wait_until
    wl, mp = sim.scenario.workload, sim.scenario.machine
    if wl.vcpu_state == "host":
        return wait_until(t1)
    if wl.vcpu_state == "idle":
        return idle_gov(t1)
    if not wl.kvm_fault_rate:
        return guest(t1)
    period = max(1, mp.timebase_mhz * 10**6 // wl.kvm_fault_rate)
    rng = random.Random((wl.seed * 1_000_003 + vcpu) * 65_537 + k)   # per (seed, vCPU, k)
    nthp = wl.memory // THP_SIZE
    stride = THP_SIZE * (rng.randrange(nthp) | 1) + (rng.randrange(32) << 16)
    return guest(t1, period, t0 + rng.randrange(period), wl.memory, stride)


def plan(sim) -> Plan:
    from powersim.kernel.image import call, switch_mm, wait_until
    wl, mp = sim.scenario.workload, sim.scenario.machine
    n, waker, hosts = shape(sim)
    mm = sim.kernel.layout.mm
    scripts = {c: [] for c in range(hosts)}
    running = set(range(wl.vcpus))          # vCPU i on CPU i in the first period
    for k, (t0, t1) in enumerate(periods(sim)):
        on = {(v + k) % hosts: v for v in range(wl.vcpus)}
        for c in range(hosts):
            s = scripts[c]
            if c in on:
                if c not in running:
                    s.append(switch_mm(mm))
                    running.add(c)
                s.append(_state(sim, on[c], k, t0, t1))
            else:
                if c in running:
                    s.append(switch_mm(0))
                    running.discard(c)
                if s and s[-1][0] == wait_until(0)[0]:
                    s[-1] = wait_until(t1)      # one wait over idle periods in a row
                else:
                    s.append(wait_until(t1))
    mm_cpus = set(range(wl.vcpus))
    end = periods(sim)[-1][1]
    if waker is not None:
        step = mp.timebase_mhz * 10**6 // wl.wake_rate
        w = []
        for k, t in enumerate(range(periods(sim)[0][0] + step, end, max(1, step))):
            w += [wait_until(t), call("smp_call_function_many", sim.kernel.layout.mm_cpumask,
                                      "ipi_mark", k, 0)]
        scripts[waker] = w
        mm_cpus.add(waker)
    limit = sim.kernel.layout.script_cmds - 1 - MARK_SLOTS
    for c, s in scripts.items():
        if len(s) > limit:
            what = ("workload.wake_rate = {}".format(wl.wake_rate) if c == waker else
                    f"workload.migrate_us = {wl.migrate_us}")
            raise ConfigError(f"{what}, workload.duration_us = {wl.duration_us}: CPU {c} "
                              f"needs {len(s)} commands, allowed at most {limit} (one "
                              "command script per CPU): raise migrate_us or lower "
                              "wake_rate or duration_us")
    for c in scripts:
        if c:
            scripts[c].append(wait_until(sim.until_tb))     # then answer IPIs only
    # the run stops when CPU 0 halts: it waits until every vCPU has left its last
    # period (the guest exit on the final timer costs ~2 us) before it does
    stop = end + TAIL_US * mp.timebase_mhz
    scripts[0] = bracket(*scripts[0]) + [wait_until(stop)]
    return Plan(scripts=scripts, mm_cpus=tuple(sorted(mm_cpus)), running=tuple(sorted(mm_cpus)),
                mm_users=max(1, len(mm_cpus)), measured=0, progress=lasting(sim, stop))


def mm_cpumask_weight(run) -> int:
    lay = run.kernel.layout
    bits = bytes(run.machine.mem[lay.mm_cpumask:lay.mm_cpumask + lay.mask_bytes])
    return sum(bin(x).count("1") for x in bits)


def idle_stops(trace, kp) -> dict:
    """{state name: stops} the menu governor made in ``trace`` (IDLE_STOP records)."""
    from powersim.kernel.trace import IDLE_STOP
    names = kp.idle_state_list()
    picked, counts = np.unique(trace[trace["kind"] == IDLE_STOP]["a"], return_counts=True)
    return {names[int(i)]: int(c) for i, c in zip(picked, counts)}


def measure(sim, run) -> dict:
    from powersim.kernel.layout import MARK_COUNT
    from powersim.kernel.trace import WALK_BEGIN
    from powersim.workloads import vcpu
    n, waker, hosts = shape(sim)
    tr = run.trace
    cpus = list(range(hosts))
    mine = np.isin(tr["thread"], cpus)
    marks = run.kernel.layout.marks
    out = {"counters": {"guest_exits": vcpu.guest_exits(run, cpus),
                        "kvm_faults": int(np.count_nonzero(mine & (tr["kind"] == WALK_BEGIN))),
                        "ipis_handled": sum(int.from_bytes(bytes(
                            run.machine.mem[marks(c) + 8 * MARK_COUNT:
                                            marks(c) + 8 * MARK_COUNT + 8]), "little")
                            for c in cpus)},
           "mm_cpumask_weight": mm_cpumask_weight(run)}
    cycles = call_cycles(tr, cpus)
    if len(cycles):
        out["kvm_fault_ns"] = spread_ns(cycles, sim.scenario.machine.freq_mhz)
    stops = idle_stops(tr[mine], sim.scenario.kernel)
    if stops:
        out["idle_stops"] = stops
    return out


def summary_rows(res) -> list:
    """The mask the migrations grew, the KVM faults' walks and the idle stops."""
    stops = res.idle_stops or {}
    return [Row("mm_cpumask weight", res.mm_cpumask_weight),
            Row("kvm faults", res.counters["kvm_faults"]),
            *spread_rows("kvm fault", res.kvm_fault_ns, ("median", "p99"), ratio=("median",)),
            Row("idle stops", sum(stops.values())),
            *(Row(f"  {name}", n) for name, n in stops.items())]
