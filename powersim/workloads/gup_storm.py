"""gup_storm: ``workload.gup_threads`` threads of the process (CPUs 1..n, in
mm_cpumask, running the mm) call GUP-fast on the THP region at
``workload.gup_rate`` calls per second each for ``workload.duration_us``, while
CPU 0, the process's main thread, munmaps the region (the measured operation)
a quarter of the way into the storm.

Each thread runs the kernel's ``gup_fast_paced`` (powersim.kernel.walkers):
one call per period on a fixed timebase grid, the same grid for every thread
(the k-th calls of all threads are due at the same tick: the worst case for
contention on a shared line such as ``count``'s ``mm->lockless_pgtbl_walkers``),
sleeping in ``wait`` between calls.  Each call is bracketed by WALK_BEGIN /
WALK_END trace records (zero-cost), so ``gup_ns`` -- the distribution of a
GUP-fast call's simulated duration, walker bracket, walk, page reference and
all interrupts taken inside it (the IPIs of CPU 0's munmap) -- comes from the
records' cycle stamps, not from a formula.

Before the munmap the walks find huge PMDs (a page reference taken); during it
they meet serializing or cleared PMDs; after it they find none (no reference):
a fast path of the same bracket.

Results: ``counters.walks``/``races`` (common), ``counters.gup_calls``,
``counters.gup_pinned`` (calls that took a reference) and top-level ``gup_ns``
{min, median, p99, max}.
"""

import numpy as np

from powersim.config import ConfigError
from powersim.results import Row, spread_ns, spread_rows
from powersim.workloads import Plan, bracket, lasting

MUNMAP_AT = 4               # CPU 0 starts the munmap at duration / MUNMAP_AT


def _tb(sim, us: int) -> int:
    return us * sim.scenario.machine.timebase_mhz


def threads(sim) -> range:
    """The CPUs of the GUP threads (1..gup_threads), or ConfigError."""
    wl, mp = sim.scenario.workload, sim.scenario.machine
    ncpus = mp.chips * mp.cores_per_chip * mp.smt
    if wl.gup_threads + 1 > ncpus:
        raise ConfigError(f"workload.gup_threads = {wl.gup_threads}: the machine has {ncpus} "
                          f"hardware threads and CPU 0 runs the munmap; allowed at most "
                          f"{ncpus - 1}")
    return range(1, wl.gup_threads + 1)


def plan(sim) -> Plan:
    from powersim.kernel.image import call, wait_until
    from powersim.kernel.mm import THP_EA
    wl, mp = sim.scenario.workload, sim.scenario.machine
    cpus = threads(sim)
    period = max(1, mp.timebase_mhz * 10**6 // wl.gup_rate)    # timebase ticks per call
    start = _tb(sim, 1)         # every thread's first call: 1 us after boot (common grid)
    end = start + _tb(sim, wl.duration_us)
    scripts = {c: [wait_until(start), call("gup_fast_paced", THP_EA, wl.memory, period, end),
                   wait_until(sim.until_tb)] for c in cpus}     # then answer IPIs only
    stop = end + _tb(sim, 1)
    scripts[0] = ([wait_until(start + _tb(sim, wl.duration_us) // MUNMAP_AT)]
                  + bracket(call("munmap", THP_EA, wl.memory)) + [wait_until(stop)])
    return Plan(scripts=scripts, mm_cpus=(0, *cpus), mm_users=len(cpus) + 1, measured=0,
                progress=lasting(sim, stop))


def call_cycles(trace, cpus) -> np.ndarray:
    """Cycles of each completed call bracketed by WALK_BEGIN / WALK_END on ``cpus``."""
    from powersim.kernel.trace import WALK_BEGIN, WALK_END
    out = []
    for c in cpus:
        tr = trace[(trace["thread"] == c) & np.isin(trace["kind"], (WALK_BEGIN, WALK_END))]
        begin = None
        for r in tr:
            if int(r["kind"]) == WALK_BEGIN:
                begin = int(r["cycle"])
            elif begin is not None:
                out.append(int(r["cycle"]) - begin)
                begin = None
    return np.array(out, dtype=np.int64)


def measure(sim, run) -> dict:
    from powersim.kernel.trace import WALK_END
    cpus = threads(sim)
    tr = run.trace
    ends = tr[np.isin(tr["thread"], list(cpus)) & (tr["kind"] == WALK_END)]
    cycles = call_cycles(tr, cpus)
    out = {"counters": {"gup_calls": int(len(cycles)),
                        "gup_pinned": int(np.count_nonzero(ends["a"] == 1))}}
    if len(cycles):
        out["gup_ns"] = spread_ns(cycles, sim.scenario.machine.freq_mhz)
    return out


def summary_rows(res) -> list:
    """The calls and their latency: the walker-side cost of the method."""
    c = res.counters
    return [Row("gup calls", c["gup_calls"]), Row("gup pinned", c["gup_pinned"]),
            *spread_rows("gup", res.gup_ns, ("median", "p99"), ratio=("median",))]
