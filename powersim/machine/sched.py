"""The scheduler: a tournament tree over the threads and the bounds of a
slice.

Scheduler
---------
Threads advance in (cycle, PIR) order.  Exact mode runs the thread with the
smallest (clock, PIR) until it is no longer the smallest, i.e. every
instruction in global time order.  Fast mode lets it run until its clock
passes the next thread's clock by ``quantum`` cycles, but communication stays
in global time order: an *ordered* operation (larx, stcx., msgsnd[p], MMIO,
and any access to a line that two threads have touched with a store between
them, flagged L_SHARED) executes only while the thread is the globally
earliest one; otherwise the thread yields until the others catch up.  A load
never sees a store from a later clock (L_WTIME).  Threads that only touch
their own lines therefore run ahead freely and get exactly the exact-mode
cycles, and shared-memory protocols (locks, flags) see the same interleaving
as in exact mode.  Sleeping threads (stop, wait, detected spin loops) carry
the time of their known wake-up event as their clock (infinity if none), so
waiting costs no host work.  max_cycles is a pause, never a scheduling input:
a run stopped there and resumed with a larger limit is the same run
(run_threads, Machine.run).
"""

from powersim.machine.jit import jit
from powersim.machine.layout import (
    HALTKEY, INF, PR_DISPATCH_WIDTH, PR_ISSUE_SLICES, PR_QUANTUM, PR_SMT, PR_SMT_COST_PCT,
    SLOT_ONE, S_HALT, S_STOP, TS_CLK, TS_MOVED, TS_MOVQ, TS_NMOVQ, TS_SLEEP_T, TS_STATE,
    TS_THR,
)


@jit()
def sched_key(ts, u):
    return HALTKEY if ts[u, TS_STATE] == S_HALT else ts[u, TS_CLK]

@jit()
def sched_fix(key, tree, u):
    """Replay leaf u's matches up to the root."""
    i = (u + (tree.shape[0] >> 1)) >> 1
    while i >= 1:
        a = tree[2 * i]
        b = tree[2 * i + 1]
        tree[i] = a if key[a] < key[b] or (key[a] == key[b] and a < b) else b
        i >>= 1

@jit()
def sched_build(ts, key, tree):
    n = key.shape[0]
    for u in range(n):
        key[u] = sched_key(ts, u) if u < ts.shape[0] else HALTKEY
        tree[n + u] = u
    for i in range(n - 1, 0, -1):
        a = tree[2 * i]
        b = tree[2 * i + 1]
        tree[i] = a if key[a] < key[b] or (key[a] == key[b] and a < b) else b

@jit()
def moved(ts, u):
    """Another thread lowered thread u's clock (a post, a store waking a
    spinner): queue u for the next sched_sync, once."""
    if ts[u, TS_MOVED] == 0:
        ts[u, TS_MOVED] = 1
        n = ts[0, TS_NMOVQ]
        ts[n, TS_MOVQ] = u
        ts[0, TS_NMOVQ] = n + 1

@jit()
def sched_sync(t, ts, key, tree):
    """Re-read the keys that may have changed: running thread t's and those
    of the threads in the moved queue (the only clocks one thread changes in
    another, and no thread halts another), so a switch costs O(changed), not
    O(threads).  The tree is a function of the keys alone, so the order of
    the fixes does not matter."""
    for k in range(ts[0, TS_NMOVQ] + 1):
        u = t if k == 0 else ts[k - 1, TS_MOVQ]
        ts[u, TS_MOVED] = 0
        kv = sched_key(ts, u)
        if kv != key[u]:
            key[u] = kv
            sched_fix(key, tree, u)
    ts[0, TS_NMOVQ] = 0

@jit()
def sched_clear(ts):
    """Empty the moved queue at the end of a run (the next one re-reads every
    key), so that a paused run leaves the same state as one call."""
    for u in range(ts.shape[0]):
        ts[u, TS_MOVED] = 0
        ts[u, TS_MOVQ] = 0
    ts[0, TS_NMOVQ] = 0

@jit()
def sched_second(key, tree):
    """The thread with the second smallest key (the root's best beaten rival)."""
    n = tree.shape[0] >> 1
    best = tree[1]
    s = -1
    i = 1
    while i < n:
        a = tree[2 * i]
        if a == best:
            c = tree[2 * i + 1]
            i = 2 * i
        else:
            c = a
            i = 2 * i + 1
        if s < 0 or key[c] < key[s] or (key[c] == key[s] and c < s):
            s = c
    return s

@jit()
def slice_ends(t, key, tree, maxc, exact, prm):
    """(oend, end) of earliest thread t's slice: ordered operations only
    while its clock is below oend (the next thread's clock, or one past it for a
    higher index), and the slice up to end (oend in exact mode, one quantum
    past the next thread's clock in fast mode)."""
    nxt = sched_second(key, tree)
    second = key[nxt]
    if second >= INF:
        return maxc, maxc
    oend = second + 1 if t < nxt else second
    return oend, (min(oend, maxc) if exact else second + prm[PR_QUANTUM])

@jit()
def issue_costs(t, clk, ts, issue, prm):
    """(slice, dispatch, until) for thread t at ``clk``: the issue-slot costs
    of one instruction in 1/SLOT_ONE cycles (a slice instruction -- fixed
    point, load/store, multiply -- takes one of ``issue_slices`` per cycle,
    any other one of ``dispatch_width``), scaled by ``smt_cost_pct`` for the
    threads *running* on t's core at ``clk``, and the clock until which that
    count holds.  A sibling in stop, wait or halted leaves its slots to the
    others from the clock it stopped at (TS_SLEEP_T, or its clock when
    halted) to its wake-up; a detected spin loop still spins.  Judged at
    ``clk``, not by the sibling's state now, so a thread running ahead in
    fast mode and one behind see the same core.  ``issue`` (threads x 3, zero
    at the start of a run) keeps each thread's last count plus one and the
    two costs it gave."""
    t0 = t - ts[t, TS_THR]
    n = 0
    until = INF
    for u in range(t0, t0 + prm[PR_SMT]):
        s = ts[u, TS_STATE]
        run = True
        if s == S_HALT:
            off, on = ts[u, TS_CLK], INF
        elif s == S_STOP:
            off, on = ts[u, TS_SLEEP_T], ts[u, TS_CLK]
        else:
            off, on = INF, INF
        if off <= clk < on:
            run = False
        if clk < off:
            until = min(until, off)
        elif clk < on:
            until = min(until, on)
        if run:
            n += 1
    if issue[t, 0] != n + 1:    # the divisions only when the count changes
        one = SLOT_ONE * prm[PR_SMT_COST_PCT + max(n, 1) - 1] // 100
        issue[t, 0] = n + 1
        issue[t, 1] = one // prm[PR_ISSUE_SLICES]
        issue[t, 2] = one // prm[PR_DISPATCH_WIDTH]
    return issue[t, 1], issue[t, 2], until
