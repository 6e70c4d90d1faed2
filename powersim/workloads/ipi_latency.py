"""ipi_latency: IPI round trips between CPU pairs (a microbenchmark).

CPU 0 sends ``workload.rounds`` synchronous IPIs to one target of each pair
kind the machine has, in this order:

same_core   CPU 1, a sibling thread of CPU 0's core (needs machine.smt >= 2)
same_chip   thread 0 of core 1 of chip 0 (needs machine.cores_per_chip >= 2)
other_chip  thread 0 of core 0 of chip 1 (needs machine.chips >= 2)

Each round is the kernel's ``ipi_round_trips`` (powersim/kernel/smp.py): a
synchronous ``smp_call_function_many(one-CPU mask, do_nothing, NULL, wait=1)``
[LM-ipi] between two trace-port records, so the round trip is the real
send path (csd lock and llist_add, ``smp_mb``, message byte, ``sync``,
``msgsnd`` or the XIVE ESB trigger store per ``kernel.ipi``), the delivery
latency the machine charges (db_core / db_chip / db_xchip, or xive_* and
esb_*), the target's interrupt entry (cost_intr) and receive path, and the
sender's ``csd_lock_wait`` seeing the csd_unlock.  Nothing is computed in
Python but the spread of the recorded cycles.

The targets run ``workload.vcpu_state`` (powersim.workloads.vcpu: host =
WAIT_UNTIL, guest, idle) until the run ends; the others end at once.

Results: ``ipi_latency_ns`` = {pair kind: {min, median, p99, max}} (ns);
op_seconds is all the rounds of all the kinds, from the first call's entry to
the last one's return.
"""

import numpy as np

from powersim.config import ConfigError
from powersim.results import spread_ns, spread_rows
from powersim.workloads import Plan, bracket, vcpu

PAIR_KINDS = ("same_core", "same_chip", "other_chip")


def targets(mp) -> dict:
    """{pair kind: target CPU} for CPU 0 on a machine of ``mp``'s shape (CPU
    numbers in PIR order: chip, core, thread; as Kernel numbers them)."""
    per_core, per_chip = mp.smt, mp.smt * mp.cores_per_chip
    out = {}
    if mp.smt >= 2:
        out["same_core"] = 1
    if mp.cores_per_chip >= 2:
        out["same_chip"] = per_core
    if mp.chips >= 2:
        out["other_chip"] = per_chip
    return out


def plan(sim) -> Plan:
    from powersim.kernel.image import call
    mp, wl = sim.scenario.machine, sim.scenario.workload
    tg = targets(mp)
    if not tg:
        raise ConfigError(f"machine.chips = {mp.chips}, machine.cores_per_chip = "
                          f"{mp.cores_per_chip}, machine.smt = {mp.smt}: ipi_latency needs a "
                          "second CPU (smt >= 2, cores_per_chip >= 2 or chips >= 2)")
    ops = [call("ipi_round_trips", {cpu}, wl.rounds) for cpu in tg.values()]
    scripts = {cpu: vcpu.script(sim, cpu, sim.until_tb) for cpu in tg.values()}
    scripts[0] = bracket(*ops)
    cpus = (0, *tg.values())
    return Plan(scripts=scripts, mm_cpus=cpus, mm_users=len(cpus), measured=0)


def round_trips(trace, cpu: int = 0) -> list:
    """The cycles of each ``ipi_round_trips`` round on ``cpu``, in order."""
    from powersim.kernel.smp import IPI_RTT_KIND
    rec = trace[(trace["kind"] == IPI_RTT_KIND) & (trace["thread"] == cpu)]
    begin = rec[rec["b"] == 0]["cycle"].astype(np.int64)
    end = rec[rec["b"] == 1]["cycle"].astype(np.int64)
    if len(begin) != len(end):
        raise ConfigError(f"ipi_latency: {len(begin)} rounds started but {len(end)} ended")
    return list(end - begin)


def measure(sim, run) -> dict:
    mp, wl = sim.scenario.machine, sim.scenario.workload
    rtt = round_trips(run.trace, run.plan.measured)
    kinds = list(targets(mp))
    if len(rtt) != wl.rounds * len(kinds):
        raise ConfigError(f"ipi_latency: {len(rtt)} rounds recorded, expected "
                          f"workload.rounds = {wl.rounds} x {len(kinds)} pair kinds")
    return {"ipi_latency_ns": {k: spread_ns(rtt[i * wl.rounds:(i + 1) * wl.rounds],
                                            mp.freq_mhz)
                               for i, k in enumerate(kinds)},
            "counters": {"guest_exits": vcpu.guest_exits(run, targets(mp).values())}}


def summary_rows(res) -> list:
    """The round trips' spread per pair kind (and per any other kind a
    generator sharing ``ipi_latency_ns`` adds)."""
    return [row for kind, spread in res.ipi_latency_ns.items()
            for row in spread_rows(kind, spread)]
