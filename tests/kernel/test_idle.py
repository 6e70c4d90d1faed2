"""The idle loop: stop states entered with their firmware PSSCR and woken by an
IPI (stop0_lite resumes after ``stop``, the others through 0x100), and
cpuidle's menu governor (v5.4) choosing among them, the tick-stopped rule
above all: a CPU woken only by IPIs stays in the deepest state."""

import numpy as np
import pytest

from powersim.kernel.idle_states import STATES, psscr
from powersim.kernel.image import Kernel, call, idle, idle_gov
from powersim.kernel.params import KernelParams
from powersim.kernel.smp import IPI_WAKE_KIND
from powersim.kernel.trace import IDLE_STOP

TB_MHZ = 512
MS = TB_MHZ * 1000                     # timebase ticks


def wake_run(target_script, rounds, interval=2 * MS, **kp):
    """CPU 0 sends ``rounds`` IPIs to CPU 4 (another core), one per interval."""
    k = Kernel(cores_per_chip=2, kparams=KernelParams(**kp))
    run = k.run({0: [call("ipi_wake_rounds", {4}, rounds, interval)], 4: target_script},
                mm_cpus=[0, 4], max_cycles=4 * 10**8)
    tr = run.machine.trace()
    rec = tr[tr["kind"] == IPI_WAKE_KIND]
    lat_us = (rec[rec["b"] == 1]["cycle"].astype(np.int64)
              - rec[rec["b"] == 0]["cycle"].astype(np.int64)) / 2400
    names = k.kparams.idle_state_list()
    picks = [names[int(i)] for i in tr[(tr["kind"] == IDLE_STOP) & (tr["thread"] == 4)]["a"]]
    assert len(lat_us) == rounds and run.result.threads[0].halted
    return run, lat_us, picks


@pytest.mark.parametrize("state,low,high", [("stop0_lite", 3, 4), ("stop0", 3, 4),
                                            ("stop2", 15, 19), ("stop5", 1000, 1100)])
def test_a_stop_state_wakes_at_its_measured_latency(state, low, high):
    """The one-way latency (call to callback) lands on the measured table;
    ESL = EC = 1 states wake through the system reset vector."""
    run, lat, _ = wake_run([idle(psscr(state), 3)], 3)
    assert low < np.median(lat) < high
    resets = run.stats(4)["int_100"]
    assert resets == (3 if STATES[state][2] else 0) and run.stats(4)["int_e80"] == 3


def test_the_tick_stopped_rule_keeps_an_ipi_woken_cpu_in_the_deepest_state():
    """A long-idle CPU (its history full of 45 ms intervals) stops the tick
    and, woken every 2 ms by IPIs, keeps predicting the time to its next timer
    (none within the run): stop5 every time, a ~1.07 ms wake-up each, no tick."""
    run, lat, picks = wake_run([idle_gov(100 * MS)], 10)
    assert len(picks) == 11 and set(picks) == {"stop5"}
    assert np.median(lat) > 1000 and run.stats(4)["int_900"] == 1     # the end of idle


def test_with_the_tick_running_the_same_ipis_keep_it_shallow():
    """The same IPIs to a CPU whose history already says 2 ms: the prediction
    is below one tick (10 ms at HZ = 100), so the tick keeps running and the
    exit latency may not exceed the prediction: stop2 (stop4 needs 10 ms of
    residency), a ~17 us wake-up, and the tick fires every 10 ms."""
    run, lat, picks = wake_run([idle_gov(100 * MS)], 10, idle_history_us=2000)
    assert picks[:10] == ["stop2"] * 10
    assert np.median(lat) < 20 and run.stats(4)["int_900"] >= 2


def test_fewer_enabled_states_cap_the_choice():
    _, lat, picks = wake_run([idle_gov(100 * MS)], 6, idle_states="stop0_lite,stop1,stop2")
    assert set(picks) == {"stop2"} and np.median(lat) < 20
