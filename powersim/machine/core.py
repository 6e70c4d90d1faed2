"""The numba core's entry points: ``run`` (Machine.run) and ``mmu_call``
(the powersim.mmu test API).  The core itself is in rooms, one concern a
module, each importing only from the ones above it:

    layout   numba-free: state-array layouts, PR_* slots, SPRs, MMIO, trace kinds
    jit      the decorator, numba's cache keyed on every source below
    bits     shifts, rotates, masks, counts, CR bits (no machine state)
    alu      integer families that are pure functions (ROTATE, UNARY, MULDIV)
    memory   physical memory, lines, L1/L2/L3/DRAM latency, stores, trace log
    mmu      micro-cache, ERAT, TLB, PWC, radix walk, tlbie fabric, mmu_call
    weak     the weak memory model: store-buffer entries, visibility, coherence
    irq      timebase, interrupts, doorbells, XIVE and MMIO, stop/wait, spin sleep
    system   SPR moves, barriers, privileged and system instructions (sysop)
    lsu      the load/store family and dcbz
    sched    the tournament tree and slice bounds
    interp   run_threads: the scheduler loop and the instruction dispatcher
    core     run (this file)

Everything jitted sees only numpy arrays and the integer constants of
powersim.ops and powersim.machine.layout.
"""

import numpy as np

from powersim.machine.interp import run_threads
from powersim.machine.jit import jit
from powersim.machine.mmu import mmu_call
from powersim.machine.sched import sched_build, sched_clear

__all__ = ["run", "mmu_call"]


@jit()
def run(memv, code, thr, cache, xl, io, sprcls, tlog, prm, ctl):
    """Run until every thread halted, max_cycles, or an exit that needs
    Python (ctl[0] = X_*).  Threads asleep at max_cycles are left as they are
    (Machine.run charges their sleep up to max_cycles and undoes it when it
    resumes), so calling again with a larger max_cycles continues the same
    run.  The arrays travel in groups (Machine._args): memv = (mem, m16, m32,
    m64) views of RAM, thr = (gpr, sprs, ts, stats, snap) per-thread state,
    cache = (lines, l1, l2, l3, sbe) the memory model, xl = (tlb, pwc, mmu) the
    translation caches, io = (pir2t, chipfree) the XIVE routing."""
    ts = thr[2]
    n = 2
    while n < ts.shape[0]:
        n *= 2
    key = np.empty(n, np.int64)
    tree = np.empty(2 * n, np.int64)
    issue = np.zeros((ts.shape[0], 3), np.int64)     # sched.issue_costs' cache
    sched_build(ts, key, tree)
    ctl[0] = run_threads(memv, code, thr, cache, xl, io, sprcls, tlog, prm, ctl, key, tree,
                         issue)
    sched_clear(ts)
