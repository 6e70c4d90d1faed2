"""Machine.run is resumable: stopping at max_cycles and calling again with a
larger limit is the same run as one call (state, stats, clocks, trace), in fast
and exact mode; Machine.run_iter slices a run the same way."""

import numpy as np
import pytest

from powersim.errors import PowersimError
from powersim.kernel.image import Kernel, call, wait_until
from powersim.kernel.mm import PMD_SIZE, THP_EA
from powersim.kernel.params import KernelParams
from powersim.machine.layout import S_HALT, TS_CLK, TS_STATE, X_DONE, X_MAXCYC
from powersim.machine.params import MachineParams

LISTEN_TB = 300_000         # the listeners' `wait` ends after the munmap


def ipi_machine():
    """The seed workload in small (powersim/sim.py): CPU 0 munmaps 3 THPs with
    the ipi method, one IPI round to the 7 other CPUs of mm_cpumask per PMD
    (doorbells; they sleep in `wait`, take the interrupt, run the handler and
    unlock the csd), with trace records for every PMD update and round; then
    every CPU halts."""
    k = Kernel(thp_bytes=3 * PMD_SIZE, kparams=KernelParams(method="ipi"),
               cores_per_chip=2, params=MachineParams(cores_per_chip=2))
    n = k.layout.ncpus
    scripts = {c: [wait_until(LISTEN_TB)] for c in range(1, n)}
    scripts[0] = [call("munmap", THP_EA, 3 * PMD_SIZE)]
    m = k.load(scripts, mm_cpus=range(n))
    m.prepare()
    return m


def state(m):
    return dict(ts=m.ts.copy(), stats=m.stats.copy(), gpr=m.gpr.copy(), sprs=m.sprs.copy(),
                lines=np.stack(m.lines), chipfree=m.chipfree.copy(), trace=m.trace(),
                mem=m.mem.tobytes())


def assert_same(a, b):
    for key in a:
        if key == "mem":
            assert a[key] == b[key], key
        else:
            assert np.array_equal(a[key], b[key]), key


@pytest.fixture(scope="module")
def straight():
    """One call per mode; the run must end with every thread halted and have
    enough trace records to compare."""
    out = {}
    for exact in (False, True):
        m = ipi_machine()
        assert m.run(10**8, exact) == X_DONE
        st = state(m)
        assert len(st["trace"]) > 0 and (m.ts[:, TS_STATE] == S_HALT).all()
        out[exact] = (st, int(m.ts[:, TS_CLK].max()))
    return out


@pytest.mark.parametrize("exact", [False, True])
def test_seven_slices_are_one_run(straight, exact):
    ref, end = straight[exact]
    m = ipi_machine()
    limits = [end * k // 7 for k in range(1, 7)] + [10**8]
    statuses = [m.run(lim, exact) for lim in limits]
    assert statuses[:6] == [X_MAXCYC] * 6 and statuses[6] == X_DONE
    assert_same(state(m), ref)


def test_a_paused_run_is_charged_and_uncharged(straight):
    """At a pause the sleepers are charged up to the limit (clock = limit, as a
    single call ending there reports them); the next call takes it back."""
    ref, end = straight[False]
    m = ipi_machine()
    assert m.run(end // 2) == X_MAXCYC
    clocks = m.ts[:, TS_CLK]
    running = m.ts[:, TS_STATE] != S_HALT
    assert (clocks[running] >= end // 2).all()
    assert m.run(10**8) == X_DONE
    assert_same(state(m), ref)


def test_run_iter_yields_progress_and_ends_in_the_same_state(straight):
    ref, end = straight[False]
    m = ipi_machine()
    seen = list(m.run_iter(10**8, step=max(1, end // 5)))
    assert len(seen) >= 5 and seen == sorted(seen) and seen[-1] == 10**8
    assert m.status == X_DONE
    assert_same(state(m), ref)


def test_run_iter_rejects_a_bad_step():
    m = ipi_machine()
    with pytest.raises(PowersimError, match="step = 0"):
        next(m.run_iter(10**8, step=0))
