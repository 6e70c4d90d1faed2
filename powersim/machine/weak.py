"""POWER's weak memory model (``machine.memory_model = "power"``): store
buffers, propagation that is not multi-copy atomic, coherence by the time a
store is performed, and the barriers that order them, after the storage
subsystem of Sarkar et al. [Sarkar-PLDI11] and the Power ISA's Book II
[ISA-mem].  With ``"sc"`` none of this runs and every store is visible to
every thread when it executes.

The model
---------
A store executes at its thread's clock ``tc`` (the timing is memory.py's
and lsu.py's, unchanged) but other threads see it later.  Each store to a
line other threads use becomes an *entry* with three times:

* ``tg``: when it is performed at its L2: ``tc`` plus the trip to the L2
  (``lat_l2``: POWER's L1 data cache is store-through, a store is performed
  in the L2), plus the ownership latency (memory.fill_cost), plus a drain
  jitter; no earlier than the thread's floor (below), and later than every
  store to the same doubleword the thread could see.  ``tg`` orders the stores to a doubleword: that is the
  coherence order, which need not be the order they executed in (2+2W, S).
* its visibility to each other thread: the other thread of its half core
  (threads 0-1 and 2-3 of an SMT4 core, taken to share a store queue slice:
  UNVERIFIED) at ``tc`` plus ``smt_store_forward`` plus a jitter; everyone
  else at ``tg`` plus a one-way fabric trip (none within the core pair, half a ``lat_remote`` on the chip, half a
  ``lat_xchip`` across chips) plus a per-observer propagation jitter.  So two
  observers can see two stores in opposite orders (IRIW) and a store can
  reach a sibling before other cores (WRC).
* ``full``: when every thread sees it (``tg`` plus the largest trip and
  jitter).

A load reads, byte by byte, the newest store (in coherence order) it can
see at the time it is *satisfied*, its own stores always.  Loads issue in
program order at the thread's clock (the issue model), but a load is
satisfied when its data is read: an L1 hit when it issues, a miss when the
line arrives (the miss latency later: the owner's copy is read on the way,
and ``tg`` plus the trip is when a store reaches this thread).  So:

* a later load that hits can be satisfied before an earlier one that
  misses (load-to-load reordering: WRC, MP without a dependency);
* a store after a load that misses can be performed before the load is
  satisfied (load-to-store reordering: S);
* but never against a dependency or a barrier: a load waits for its address
  registers (ready when the earlier load's data arrives), a store is
  performed no earlier than its address and data registers are ready, a
  load of a line is never satisfied before an earlier load of the same line
  (read-read coherence, a few slots a thread: load_floor), a store to a line
  comes after what the thread's loads of it read, and lwsync and isync put a
  floor under later loads; hwsync waits for every earlier load.

A load sees only stores that have executed (the scheduler runs threads in
clock order), so it is never satisfied from a store that depends on it: LB
never appears (stronger than the architecture, never a forbidden outcome).

A core's copy of a line at an older version still serves while every newer
version is another core's buffered store (copy_current): a load hits it
until this thread can see them (their invalidation has not arrived: the
load reads the older value), a store owns it until they are performed (the
other core has not taken the line's ownership yet: this store is performed
first and comes first in coherence, S).  Whether a thread holds a copy is
the cache model's (memory.py); the litmus harness preloads locations at
random, as litmus7 does.

Barriers (system.barrier):

* ``sync``/``ptesync`` wait until the thread's stores and every store it has
  read are visible to all and its loads are satisfied (``TS_STDONE``,
  ``TS_OBS``, ``TS_LDMAX``): cumulative.
* ``lwsync`` raises the thread's floor ``TS_FLOOR`` to that time without
  waiting: later stores are seen by nobody before the earlier stores, and
  the stores read before it, are seen by all, nor performed before the
  earlier loads are satisfied; later loads are satisfied no earlier than
  the earlier ones (``TS_LDFLOOR``, also raised by ``isync``), but they may
  still read values older than the earlier stores' (SB+lwsyncs,
  IRIW+lwsyncs stay allowed).  ``eieio`` raises ``TS_FLOOR`` for the
  thread's own stores.
* ``larx`` reads like a load but holds a reservation only if it read the
  newest value; ``stcx.`` is a buffered store like any other.

Representation
--------------
Memory always holds the newest value in coherence order, so the MMU's table
walks, instruction fetch, larx's reservation logic and Python see it (as
"sc" would: stronger, never a forbidden outcome).  The entries, in a pool
``sbe`` (layout.py E_*), hang off their line (``lines[L_SB][line]``) newest
``tg`` first and keep, under their byte mask, the bytes just before them
(E_PREV), so a load that cannot see the newest stores finds the older value.
A store to a line no other thread uses, from a thread with no floor pending,
needs no entry (memory alone is right for its only user).  An entry is
dropped once every thread's clock has passed its ``full`` (``gmin``: no
thread can read at an earlier time), when a walk meets it or when the pool is
full.
"""

from powersim.machine.bits import srl
from powersim.machine.jit import jit
from powersim.machine.layout import (
    E_DW, E_LB, E_LINE, E_MASK, E_NEXT, E_PREV, E_SEQ, E_TC, E_TG, E_T, E_VAL, E_VER, H_FREE,
    L_SB, LS_SLOTS, L_VER, PR_CHIPS, PR_CORES_PER_CHIP, PR_LAT_L2, PR_LAT_REMOTE, PR_LAT_XCHIP, PR_MEMORY_MODEL, PR_SMT_STORE_FORWARD,
    PR_STORE_JITTER, ST_SB_OVERFLOW, ST_SB_STALE, ST_SB_STORES, ST_STORES, TS_CHIP, TS_CORE,
    TS_FLOOR, TS_LDFLOOR, TS_LDMAX, TS_LS0, TS_OBS, TS_PAIR, TS_STDONE, TS_THR,
)

NEVER = 1 << 62


@jit(inline="always")
def jitter(seq, slot, prm):
    """0..store_jitter-1, a hash of the store's number and the observer slot
    (0: the drain)."""
    j = prm[PR_STORE_JITTER]
    if j <= 1:
        return 0
    x = seq * -7046029254386353131 + slot * 2685821657736338717
    x ^= srl(x, 31)
    x *= -4658895280553007687
    x ^= srl(x, 29)
    return srl(x, 1) & (j - 1) if j & (j - 1) == 0 else srl(x, 1) % j


@jit(inline="always")
def dw_mask(off, n):
    """The bits of bytes off..off+n-1 of a little-endian doubleword."""
    return (-1 if n == 8 else (1 << (8 * n)) - 1) << (8 * off)


@jit(inline="always")
def sb_buffered(t, line, clk, private, lines, ts, prm):
    """Whether thread t's store to ``line`` at clk goes through the store
    buffers: under "power", unless the line is private to t, has no entry and
    t has no floor pending (then memory alone is right for its only user)."""
    return prm[PR_MEMORY_MODEL] != 0 and (not private or lines[L_SB][line] != 0 or
                                          ts[t, TS_FLOOR] > clk)


@jit(inline="always")
def reach(prm):
    """How long after tg every thread sees a store, at most: full - tg (the
    fabric trip plus the jitter, or a sibling's forwarding plus the jitter,
    tg being no earlier than tc)."""
    if prm[PR_CHIPS] > 1:
        d = prm[PR_LAT_XCHIP] // 2
    elif prm[PR_CORES_PER_CHIP] > 2:
        d = prm[PR_LAT_REMOTE] // 2
    else:
        d = 0
    return max(d, prm[PR_SMT_STORE_FORWARD]) + max(prm[PR_STORE_JITTER] - 1, 0)


@jit(inline="always")
def seen_at(sbe, e, r, ts, prm):
    """When thread r sees entry e."""
    w = sbe[e, E_T]
    if w == r:
        return sbe[e, E_TC]
    rc = ts[r, TS_CORE]
    rh = ts[r, TS_THR] >> 1
    jp = jitter(sbe[e, E_SEQ], 1 + 2 * rc + rh, prm)
    if ts[w, TS_CORE] == rc and ts[w, TS_THR] >> 1 == rh:
        return max(sbe[e, E_TC] + prm[PR_SMT_STORE_FORWARD] + jp, sbe[e, E_LB])
    if ts[w, TS_PAIR] == ts[r, TS_PAIR]:
        d = 0
    elif ts[w, TS_CHIP] == ts[r, TS_CHIP]:
        d = prm[PR_LAT_REMOTE] // 2
    else:
        d = prm[PR_LAT_XCHIP] // 2
    return sbe[e, E_TG] + d + jp


@jit()
def copy_current(t, line, ver, clk, store, lines, sbe, ts, prm):
    """Whether thread t's cached copy of ``line`` at version ``ver`` still
    serves at clk: every newer version is a buffered store of another core
    that t cannot see yet (a load: the invalidation has not reached it) or
    that is not yet performed (a store: the other core has not yet taken the
    line's ownership from it)."""
    k = lines[L_VER][line] - ver
    if k <= 0 or k > 62:
        return False
    got = 0
    e = lines[L_SB][line]
    while e:
        dv = sbe[e, E_VER] - ver
        if dv > 0:
            if ts[sbe[e, E_T], TS_CORE] == ts[t, TS_CORE]:
                return False
            if store:
                if sbe[e, E_TG] <= clk:
                    return False
            elif seen_at(sbe, e, t, ts, prm) <= clk:
                return False
            got |= 1 << (dv - 1)
        e = sbe[e, E_NEXT]
    return got == (1 << k) - 1


@jit(inline="always")
def load_floor(t, line, ts):
    """The earliest time a load of ``line`` by t may be satisfied at: after
    lwsync's floor and after any earlier load of the line (read-read
    coherence)."""
    s = ts[t, TS_LDFLOOR]
    for k in range(LS_SLOTS):
        if ts[t, TS_LS0 + 2 * k] == line:
            s = max(s, ts[t, TS_LS0 + 2 * k + 1])
    return s


@jit()
def load_satisfied(t, line, s, clk, ts):
    """Record that t's load of ``line`` issued at clk was satisfied at s.  A
    slot taken from a line whose time is still ahead raises the floor under
    every load instead (stronger, never wrong)."""
    if s > ts[t, TS_LDMAX]:
        ts[t, TS_LDMAX] = s
    if s <= clk:
        return
    j = 0
    for k in range(LS_SLOTS):
        if ts[t, TS_LS0 + 2 * k] == line:
            j = k
            break
        if ts[t, TS_LS0 + 2 * k + 1] < ts[t, TS_LS0 + 2 * j + 1]:
            j = k
    old = ts[t, TS_LS0 + 2 * j + 1]
    if ts[t, TS_LS0 + 2 * j] == line:
        s = max(s, old)
    elif old > clk and old > ts[t, TS_LDFLOOR]:
        ts[t, TS_LDFLOOR] = old
    ts[t, TS_LS0 + 2 * j] = line
    ts[t, TS_LS0 + 2 * j + 1] = s


@jit()
def sb_free_from(e, sbe):
    """Return entry e and every older one of its list to the pool."""
    while e:
        nx = sbe[e, E_NEXT]
        sbe[e, E_LINE] = -1
        sbe[e, E_NEXT] = sbe[0, H_FREE]
        sbe[0, H_FREE] = e
        e = nx


@jit()
def sb_prune(line, gmin, lines, sbe, prm):
    """Drop the entries of ``line`` every thread sees by ``gmin`` (an older
    entry of a line has an earlier tg, so they are the list's tail)."""
    r = reach(prm)
    p = 0
    e = lines[L_SB][line]
    while e and sbe[e, E_TG] + r > gmin:
        p = e
        e = sbe[e, E_NEXT]
    if e:
        if p:
            sbe[p, E_NEXT] = 0
        else:
            lines[L_SB][line] = 0
        sb_free_from(e, sbe)


@jit()
def sb_retire(gmin, lines, sbe, prm):
    """Prune every line that has entries (the pool is full)."""
    for i in range(1, sbe.shape[0]):
        line = sbe[i, E_LINE]
        if line >= 0 and lines[L_SB][line] == i:
            sb_prune(line, gmin, lines, sbe, prm)


@jit()
def sb_read(t, rea, sz, clk, gmin, lines, sbe, m64, ts, stats, prm):
    """The little-endian value of the sz bytes at rea as thread t sees them at
    clk, and whether an entry it cannot see yet hid a newer value (then a larx
    must not hold a reservation)."""
    sb_prune(rea >> 7, gmin, lines, sbe, prm)
    head = lines[L_SB][rea >> 7]
    obs = ts[t, TS_OBS]
    r = reach(prm)
    v = 0
    stale = False
    a = rea
    end = rea + sz
    while a < end:
        dw = a >> 3
        off = a & 7
        n = min(8 - off, end - a)
        need = dw_mask(off, n)
        got = 0
        res = 0
        inv = 0
        invm = 0
        e = head
        while e and need & ~got:
            if sbe[e, E_DW] == dw:
                mm = sbe[e, E_MASK] & need & ~got
                if mm:
                    if seen_at(sbe, e, t, ts, prm) <= clk:
                        res |= sbe[e, E_VAL] & mm
                        got |= mm
                        if sbe[e, E_T] != t:
                            obs = max(obs, sbe[e, E_TG] + r)
                    else:
                        inv = (inv & ~mm) | (sbe[e, E_PREV] & mm)
                        invm |= mm
                        stale = True
            e = sbe[e, E_NEXT]
        rest = need & ~got
        x = res | (inv & rest & invm) | (m64[dw] & rest & ~invm)
        v |= srl(x, 8 * off) << (8 * (a - rea))
        a += n
    ts[t, TS_OBS] = obs
    if stale:
        stats[t, ST_SB_STALE] += 1
    return v, stale


@jit()
def sb_alloc(t, gmin, lines, sbe, stats, prm):
    f = sbe[0, H_FREE]
    if f == 0:
        sb_retire(gmin, lines, sbe, prm)
        f = sbe[0, H_FREE]
        if f == 0:      # everything seen by all at once: wrong, and counted
            stats[t, ST_SB_OVERFLOW] += 1
            sb_retire(NEVER, lines, sbe, prm)
            f = sbe[0, H_FREE]
    sbe[0, H_FREE] = sbe[f, E_NEXT]
    return f


@jit()
def sb_put(t, dw, val, mask, tg, clk, vclk, ver, seq, gmin, lines, sbe, m64, ts, stats, prm):
    """One buffered store's bytes within a doubleword (E_* fields); it comes
    after every store to the doubleword t sees at vclk."""
    line = dw >> 4
    sb_prune(line, gmin, lines, sbe, prm)
    n = sb_alloc(t, gmin, lines, sbe, stats, prm)
    head = lines[L_SB][line]
    # after everything on the doubleword this thread sees, and a tg of its own
    e = head
    while e:
        if sbe[e, E_DW] == dw and sbe[e, E_TG] >= tg and seen_at(sbe, e, t, ts, prm) <= vclk:
            tg = sbe[e, E_TG] + 1
        e = sbe[e, E_NEXT]
    again = True
    while again:
        again = False
        e = head
        while e:
            if sbe[e, E_DW] == dw and sbe[e, E_TG] == tg:
                tg += 1
                again = True
            e = sbe[e, E_NEXT]
    # each byte: its value before the store, and the store's value to the next
    # newer store of the byte (or to memory, which holds the newest)
    prev = 0
    for b in range(8):
        bm = 0xFF << (8 * b)
        if not mask & bm:
            continue
        pred = succ = 0
        e = head
        while e:
            if sbe[e, E_DW] == dw and sbe[e, E_MASK] & bm:
                if sbe[e, E_TG] > tg:
                    succ = e
                else:
                    pred = e
                    break
            e = sbe[e, E_NEXT]
        if pred:
            prev |= sbe[pred, E_VAL] & bm
        elif succ:
            prev |= sbe[succ, E_PREV] & bm
        else:
            prev |= m64[dw] & bm
        if succ:
            sbe[succ, E_PREV] = (sbe[succ, E_PREV] & ~bm) | (val & bm)
        else:
            m64[dw] = (m64[dw] & ~bm) | (val & bm)
    sbe[n, E_DW] = dw
    sbe[n, E_VAL] = val & mask
    sbe[n, E_MASK] = mask
    sbe[n, E_PREV] = prev
    sbe[n, E_T] = t
    sbe[n, E_TC] = clk
    sbe[n, E_TG] = tg
    sbe[n, E_LB] = ts[t, TS_FLOOR]
    sbe[n, E_SEQ] = seq
    sbe[n, E_LINE] = line
    sbe[n, E_VER] = ver
    # into the line's list, newest tg first
    if head == 0 or sbe[head, E_TG] <= tg:
        sbe[n, E_NEXT] = head
        lines[L_SB][line] = n
    else:
        p = head
        while sbe[p, E_NEXT] and sbe[sbe[p, E_NEXT], E_TG] > tg:
            p = sbe[p, E_NEXT]
        sbe[n, E_NEXT] = sbe[p, E_NEXT]
        sbe[p, E_NEXT] = n
    full = tg + reach(prm)
    if full > ts[t, TS_STDONE]:
        ts[t, TS_STDONE] = full


@jit()
def sb_write(t, rea, sz, v, clk, own, ready, gmin, lines, sbe, m64, ts, stats, prm):
    """Thread t's store of the sz little-endian bytes v at rea, executed at clk
    with ownership ``own`` cycles away and its address and data ready at
    ``ready``, through the store buffers.  It is coherence-after what t's
    loads of the line read (load_floor)."""
    seq = stats[t, ST_STORES] * 4096 + t
    line = rea >> 7
    tg = max(max(clk, ready) + prm[PR_LAT_L2] + own + jitter(seq, 0, prm), ts[t, TS_FLOOR])
    vclk = max(clk, load_floor(t, line, ts))
    ver = lines[L_VER][line] + 1
    a = rea
    end = rea + sz
    while a < end:
        off = a & 7
        n = min(8 - off, end - a)
        mask = dw_mask(off, n)
        val = (srl(v, 8 * (a - rea)) << (8 * off)) & mask
        sb_put(t, a >> 3, val, mask, tg, clk, vclk, ver, seq, gmin, lines, sbe, m64, ts, stats,
               prm)
        a += n
    stats[t, ST_SB_STORES] += 1
