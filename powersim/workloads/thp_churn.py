"""thp_churn: CPU 0 (khugepaged and a thread doing partial MADV_DONTNEED)
splits THPs (``split_huge_pmd``) at ``workload.split_rate`` and collapses them
back (``collapse_huge_page``) at ``workload.collapse_rate`` for
``workload.duration_us``, while every other CPU of the process runs a lockless
walker on the region: the race study of tests/kernel/test_races.py as a
scenario.

Walkers (every CPU but 0, all in mm_cpumask and running the mm):

* the first half (at least one) run ``walker_window``: a walk whose bracketed
  read-to-use window lasts a fixed number of loop iterations (a long-held PMD
  value: what a split or collapse under the walker breaks), one window per
  slot of the duration, each on another THP and 64K page;
* the others run ``gup_fast_paced`` back to back (period 0) for the duration.

The schedule is planned in Python (deterministic): split k is due at
(k + 1/2) / split_rate, collapse k at (k + 1) / collapse_rate; a split takes
the next huge THP in turn, a collapse the oldest split one (an event with no
candidate is dropped).  The race checker (powersim.kernel.checker) counts
races in ``counters.races``: ``none`` shows them, the safe methods none.
With ``workload.unmap_us``, CPU 0 also munmaps the whole region at that time
(a walker window then may end on a page munmap already freed: the
``use_after_free`` race, for ``none``).  The
measured operation is the whole churn (CPU 0's script from its first event to
its last).  Extra counters: ``splits``, ``collapses`` (planned events).
"""

from powersim.config import THP_SIZE, ConfigError
from powersim.results import Row
from powersim.workloads import Plan, bracket, lasting

WINDOWS = 24                # walker_window slots per window CPU
WINDOW_FILL = 2             # a window lasts about 1/WINDOW_FILL of its slot
LOOP_CYCLES = 1             # cycles per iteration of walker_window's bdnz loop (measured
                            # on the core model; a longer window only delays the next)
START_US = 1                # every CPU starts 1 us after boot


def ncpus(sim) -> int:
    mp = sim.scenario.machine
    return mp.chips * mp.cores_per_chip * mp.smt


def events(sim) -> list:
    """[(timebase, "split" | "collapse", THP index)], in time order."""
    wl, mp = sim.scenario.workload, sim.scenario.machine
    tb = mp.timebase_mhz          # ticks per us
    span = wl.duration_us * tb
    due = []
    for rate, kind, half in ((wl.split_rate, "split", 1), (wl.collapse_rate, "collapse", 2)):
        k = 0                   # the k-th event at (k + half / 2) / rate seconds
        while rate and (t := (2 * k + half) * tb * 10**6 // (2 * rate)) < span:
            due.append((t, kind == "collapse", kind))
            k += 1
    nthp = wl.memory // THP_SIZE
    huge, split, turn, out = set(range(nthp)), [], 0, []
    for t, _, kind in sorted(due):
        if kind == "split" and huge:
            while turn % nthp not in huge:
                turn += 1
            i = turn % nthp
            turn += 1
            huge.discard(i)
            split.append(i)
            out.append((t + START_US * tb, kind, i))
        elif kind == "collapse" and split:
            i = split.pop(0)
            huge.add(i)
            out.append((t + START_US * tb, kind, i))
    return out


def plan(sim) -> Plan:
    from powersim.kernel.image import call, wait_until
    from powersim.kernel.mm import THP_EA
    wl, mp = sim.scenario.workload, sim.scenario.machine
    n = ncpus(sim)
    if n < 2:
        raise ConfigError(f"machine: {n} hardware thread; thp_churn needs at least 2 (CPU 0 "
                          "churns, the others walk): raise machine.cores_per_chip or "
                          "machine.smt")
    mm = sim.kernel.layout.mm
    tb = mp.timebase_mhz
    start, end = START_US * tb, (START_US + wl.duration_us) * tb
    churn = []
    unmap = [((START_US + wl.unmap_us) * tb, "munmap", 0)] if wl.unmap_us else []
    for t, kind, i in sorted(events(sim) + unmap):
        if kind == "munmap":            # later splits and collapses find nothing
            churn += [wait_until(t), call("munmap", THP_EA, wl.memory)]
            continue
        routine = "split_huge_pmd" if kind == "split" else "collapse_huge_page"
        churn += [wait_until(t), call(routine, mm, THP_EA + i * THP_SIZE)]
    limit = sim.kernel.layout.script_cmds - 1 - 5
    if len(churn) > limit:
        raise ConfigError(f"workload.split_rate = {wl.split_rate}, workload.collapse_rate = "
                          f"{wl.collapse_rate}, workload.duration_us = {wl.duration_us}: "
                          f"{len(churn) // 2} churn events, allowed at most {limit // 2} "
                          "(one command script per CPU): lower the rates or the duration")
    scripts = {0: bracket(*churn) + [wait_until(end + tb)]}   # the run stops when CPU 0
                                                            # halts: after the walkers
    nthp = wl.memory // THP_SIZE
    walkers = range(1, n)
    nwin = max(1, len(walkers) // 2)
    slot = max(1, (end - start) // WINDOWS)
    iters = max(1, slot * mp.freq_mhz // tb // WINDOW_FILL // LOOP_CYCLES)
    for c in walkers[:nwin]:
        s = []
        for j in range(WINDOWS):      # each window on another THP and 64K page
            ea = THP_EA + (7 * j + c) % nthp * THP_SIZE + (j % 32 << 16)
            s += [wait_until(start + j * slot + (c - 1) * slot // nwin),
                  call("walker_window", mm, ea, iters)]
        scripts[c] = s
    for c in walkers[nwin:]:
        scripts[c] = [wait_until(start), call("gup_fast_paced", THP_EA, wl.memory, 0, end)]
    for c in walkers:
        scripts[c].append(wait_until(sim.until_tb))     # then answer IPIs only
    return Plan(scripts=scripts, mm_cpus=tuple(range(n)), mm_users=n, measured=0,
                progress=lasting(sim, end + tb))


def measure(sim, run) -> dict:
    ev = events(sim)
    return {"counters": {"splits": sum(1 for e in ev if e[1] == "split"),
                         "collapses": sum(1 for e in ev if e[1] == "collapse")}}


def summary_rows(res) -> list:
    """The planned events (the races are the common rows of every walked run)."""
    return [Row("splits", res.counters["splits"]), Row("collapses", res.counters["collapses"])]
