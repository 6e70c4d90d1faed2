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
from powersim.machine.layout import HALTKEY, INF, PR_QUANTUM, S_HALT, TS_CLK, TS_STATE


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
def sched_sync(ts, key, tree):
    """Re-read every thread's key (another thread's clock may have moved)."""
    for u in range(ts.shape[0]):
        k = sched_key(ts, u)
        if k != key[u]:
            key[u] = k
            sched_fix(key, tree, u)

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
