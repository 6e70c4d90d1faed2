"""ipi_idle: the wake-up latency of an IPI to a CPU in a given idle state, as
the cpuidle latency test measures it on POWER9 [Sampat-ipi].

CPU 0 sends ``workload.rounds`` IPIs, one every interval (twice the target
state's wake-up plus 1 ms, so the target is back in its state), each a
synchronous ``smp_call_function_many`` to one target: thread 0 of core 1 of
chip 0 (another core of the sender's chip).  The target runs
``workload.target_state``: ``busy`` waits in the host kernel (WAIT_UNTIL:
interrupts taken at once); a stop state is entered with its firmware PSSCR
before each IPI (IDLE, ``rounds`` times).  The kernel's ``ipi_wake_rounds``
records each round's start just before the call, as the test reads the clock
just before ``smp_call_function_single``; the callback records its entry.

Results: ``ipi_latency_ns.wakeup`` = {min, median, p99, max} from the call to
the target's callback; op_seconds is all the rounds.
"""

import numpy as np

from powersim.config import ConfigError
from powersim.results import spread_ns
from powersim.workloads import Plan, Progress, bracket, ipi_latency

TARGET = "thread 0 of core 1"


def target_cpu(mp) -> int:
    if mp.cores_per_chip < 2:
        raise ConfigError(f"machine.cores_per_chip = {mp.cores_per_chip}: ipi_idle needs a "
                          "second core on the chip (allowed >= 2)")
    return mp.smt


def interval_tb(sim) -> int:
    """Timebase ticks between rounds: 2 x the state's wake-up + 1 ms."""
    from powersim.kernel.idle_states import STATES
    mp, state = sim.scenario.machine, sim.scenario.workload.target_state
    wake_ns = 0
    if state != "busy":
        rl, _, esl, _, _ = STATES[state]
        wake_ns = mp.stop_ns[rl] if esl or rl else mp.stop_lite_ns
    return (2 * wake_ns + 10**6) * mp.timebase_mhz // 1000


def plan(sim) -> Plan:
    from powersim.kernel.idle_states import psscr
    from powersim.kernel.image import call, idle, wait_until
    from powersim.kernel.smp import IPI_WAKE_KIND
    mp, wl = sim.scenario.machine, sim.scenario.workload
    cpu = target_cpu(mp)
    if wl.target_state == "busy":
        target = [wait_until(sim.until_tb)]
    else:
        target = [idle(psscr(wl.target_state), wl.rounds)]
    scripts = {cpu: target,
               0: bracket(call("ipi_wake_rounds", {cpu}, wl.rounds, interval_tb(sim)))}
    return Plan(scripts=scripts, mm_cpus=(0, cpu), mm_users=2, measured=0,
                progress=Progress(wl.rounds, "round", IPI_WAKE_KIND))   # one sent a round


def wakeups(trace) -> np.ndarray:
    """Cycles from each round's start to the target's callback, in order."""
    from powersim.kernel.smp import IPI_WAKE_KIND
    rec = trace[trace["kind"] == IPI_WAKE_KIND]
    sent = rec[rec["b"] == 0]
    seen = rec[rec["b"] == 1]
    if len(sent) != len(seen) or np.any(sent["a"] != seen["a"]):
        raise ConfigError(f"ipi_idle: {len(sent)} IPIs sent but {len(seen)} callbacks ran")
    return seen["cycle"].astype(np.int64) - sent["cycle"].astype(np.int64)


def measure(sim, run) -> dict:
    lat = wakeups(run.trace)
    if len(lat) != sim.scenario.workload.rounds:
        raise ConfigError(f"ipi_idle: {len(lat)} rounds recorded, expected workload.rounds "
                          f"= {sim.scenario.workload.rounds}")
    return {"ipi_latency_ns": {"wakeup": spread_ns(lat, sim.scenario.machine.freq_mhz)}}


summary_rows = ipi_latency.summary_rows     # the wakeup spread, printed as the pair kinds are
