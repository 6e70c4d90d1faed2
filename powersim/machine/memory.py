"""Physical memory and the latency model: little-endian reads and writes,
128-byte lines with versions, L1/L2 tags, the last writer, L3 and DRAM,
store ownership and its cross-thread effects (reservations lost, spinners
woken), stale predecoded code, and the trace-port log.

Timing model (cycle-approximate)
--------------------------------
* Each thread has its own clock, its issue frontier (interp.py "Issue
  model"): an instruction issues once its sources are ready, its result is
  ready ``P_LAT`` later (plus a load's miss latency from here).
* Memory: 128-byte lines.  Every line has a version bumped by each store; a
  per-core L1 (32 sets x 8 ways) and a per-core-pair L2 (512 sets x 8 ways),
  LRU, hold (line, version) tags, so a copy is valid while nobody else has
  written the line.  A miss is served, in order, by the L2 of the pair, the
  last writer's cache (same pair, same chip or other chip), the pair's L3
  region (4096 sets x 20 ways, filled with the L2, LRU), another region of
  the chip's L3 (a line some core of the chip has held: ``lat_remote``), or
  DRAM.
* Stores retire into a store queue: the ownership latency sets when the
  store is globally performed; ``sync`` waits for it.  ``stcx.`` waits for
  ownership (so contended atomics pay a cache-to-cache transfer per attempt,
  as on real hardware).

Memory-ordering model: weak.py (``memory_model = "power"``: stores reach
other threads late, in orders barriers constrain) or sequentially consistent
(``"sc"``: every access is performed in the order the scheduler executes
instructions, so barriers only cost time).  Either way, accesses to lines
threads share happen in global (cycle, PIR) order, in fast mode too (sched.py).

Instrumentation
---------------
The trace port (TRACE_BASE) logs (cycle, thread, kind, RS, r0) records and
SPR_SIMCYC reads the thread's clock; the port costs nothing on any clock, so
traced and untraced programs time identically.
"""

import numpy as np

from powersim.machine.bits import srl
from powersim.machine.jit import jit
from powersim.machine.layout import (
    CTL_TRACE_DROP, CTL_TRACE_N, L1_SETS, L1_WAYS, L2_SETS, L2_WAYS, L3_SETS, L3_WAYS, L_RSV, L_SB, L_SEEN, L_SHARED, L_VER, L_WATCH,
    L_WTHR, L_WTIME, M32, OP_STALE, PR_CODE_BYTES, PR_CORES_PER_CHIP, PR_LAT_DRAM,
    PR_LAT_L1, PR_LAT_L2, PR_LAT_L3, PR_LAT_REMOTE, PR_LAT_XCHIP, ST_C2C_CHIP, ST_C2C_XCHIP,
    ST_DRAM, ST_L1_MISS, ST_L2_HITS, ST_L3_HITS, ST_TRACE_DROPPED, ST_TRACE_RECORDS, SH_CHIP, SH_PAIR, SH_XCHIP, S_SPIN,
    TR_A, TR_B, TR_CYCLE, TR_KIND, TR_SEQ, TR_THREAD, TS_CHIP, TS_CLK, TS_CORE, TS_LD0,
    TS_NLD, TS_PAIR, TS_RES, TS_SLEEP_T, TS_SPIN_P, TS_STATE,
)
from powersim.machine.sched import moved
from powersim.machine.weak import copy_current
from powersim.ops import P_OP

FILL_WALK, FILL_LOAD, FILL_STORE = 0, 1, 2     # fill_cost's kinds


@jit()
def rd(memv, ra, sz):
    """Little-endian read of sz bytes at real address ra (bounds checked by caller)."""
    mem, m16, m32, m64 = memv
    if sz == 8 and (ra & 7) == 0:
        return m64[ra >> 3]
    if sz == 4 and (ra & 3) == 0:
        return np.int64(m32[ra >> 2])
    if sz == 2 and (ra & 1) == 0:
        return np.int64(m16[ra >> 1])
    if sz == 1:
        return np.int64(mem[ra])
    v = 0
    for i in range(sz):
        v |= np.int64(mem[ra + i]) << (8 * i)
    return v

@jit()
def wr(memv, ra, sz, v):
    mem, m16, m32, m64 = memv
    if sz == 8 and (ra & 7) == 0:
        m64[ra >> 3] = v
    elif sz == 4 and (ra & 3) == 0:
        m32[ra >> 2] = v & M32
    elif sz == 2 and (ra & 1) == 0:
        m16[ra >> 1] = v & 0xFFFF
    else:
        for i in range(sz):
            mem[ra + i] = srl(v, 8 * i) & 0xFF

@jit()
def way_of(tags, base, ways, line):
    """The way of the set starting at row ``base`` holding ``line``, or -1."""
    for w in range(ways):
        if tags[base + w, 0] == line:
            return w
    return -1

@jit()
def make_mru(tags, base, w, ways, line, ver):
    """Put (line, ver) in way 0 of the set at ``base``, shifting the ways
    before ``w`` down (w < 0: a miss, the LRU way is evicted)."""
    if w < 0:
        w = ways - 1
    for k in range(w, 0, -1):
        tags[base + k, 0] = tags[base + k - 1, 0]
        tags[base + k, 1] = tags[base + k - 1, 1]
    tags[base, 0] = line
    tags[base, 1] = ver

@jit()
def l1_set(core, line):
    return (core * L1_SETS + (line & (L1_SETS - 1))) * L1_WAYS

@jit()
def l2_set(pair, line):
    return (pair * L2_SETS + (line & (L2_SETS - 1))) * L2_WAYS

@jit()
def l3_set(pair, line):
    return (pair * L3_SETS + (line & (L3_SETS - 1))) * L3_WAYS

@jit()
def fill_cost(t, line, clk, kind, ts, cache, stats, prm):
    """Extra cycles (beyond an L1 hit) to bring `line` into t's L1 at `clk`, and
    fill the tags (LRU; the pair's L3 region too, as if inclusive).  For a load
    or a store (``kind`` FILL_LOAD, FILL_STORE) under the weak memory model, an
    older copy still serves while the newer stores have not reached this core
    (weak.copy_current).  A value cannot be seen before it was written: a line
    written by another core at a later clock (possible when fast mode lets
    threads run apart) first waits for that clock; in exact mode this never
    applies."""
    lines, l1, l2, l3 = cache[0], cache[1], cache[2], cache[3]
    core = ts[t, TS_CORE]
    ver = lines[L_VER][line]
    wait = max(0, lines[L_WTIME][line] - clk)
    s1 = l1_set(core, line)
    w1 = way_of(l1, s1, L1_WAYS, line)
    if w1 >= 0 and l1[s1 + w1, 1] == ver:
        if w1 > 0:
            make_mru(l1, s1, w1, L1_WAYS, line, ver)
        return wait + (upgrade_cost(t, line, ts, lines, prm) if kind == FILL_STORE else 0)
    if w1 >= 0 and kind and lines[L_SB][line] and copy_current(
            t, line, l1[s1 + w1, 1], clk, kind == FILL_STORE, lines, cache[4], ts, prm):
        if w1 > 0:
            make_mru(l1, s1, w1, L1_WAYS, line, l1[s1 + w1, 1])
        return wait
    stats[t, ST_L1_MISS] += 1
    pair = ts[t, TS_PAIR]
    chip = ts[t, TS_CHIP]
    s2 = l2_set(pair, line)
    w2 = way_of(l2, s2, L2_WAYS, line)
    wt = lines[L_WTHR][line] - 1    # the last writer's thread and core (-1: none)
    w = ts[wt, TS_CORE] if wt >= 0 else -1
    cpc = prm[PR_CORES_PER_CHIP]
    if w2 >= 0 and l2[s2 + w2, 1] == ver:
        lat = prm[PR_LAT_L2]
        stats[t, ST_L2_HITS] += 1
    elif w >= 0 and w != core and w // cpc == chip:
        if (w % cpc) >> 1 == (core % cpc) >> 1:
            lat = prm[PR_LAT_L2]          # the pair's shared L2 [RCS]
            stats[t, ST_L2_HITS] += 1
        else:
            lat = prm[PR_LAT_REMOTE]
            stats[t, ST_C2C_CHIP] += 1
    elif w >= 0 and w != core:
        lat = prm[PR_LAT_XCHIP]
        stats[t, ST_C2C_XCHIP] += 1
    else:
        s3 = l3_set(pair, line)
        w3 = way_of(l3, s3, L3_WAYS, line + 1)
        if w3 >= 0 and l3[s3 + w3, 1] == ver:
            lat = prm[PR_LAT_L3]
            stats[t, ST_L3_HITS] += 1
        elif (lines[L_SEEN][line] >> chip) & 1:
            lat = prm[PR_LAT_REMOTE]       # another region's L3 of the chip
            stats[t, ST_C2C_CHIP] += 1
        else:
            lat = prm[PR_LAT_DRAM]
            stats[t, ST_DRAM] += 1
        make_mru(l3, s3, w3, L3_WAYS, line + 1, ver)
    extra = max(0, lat - prm[PR_LAT_L1])     # the load's P_LAT already has the L1 hit
    lines[L_SEEN][line] |= 1 << chip
    make_mru(l1, s1, w1, L1_WAYS, line, ver)
    make_mru(l2, s2, w2, L2_WAYS, line, ver)
    return wait + extra

@jit(inline="always")
def distance(t, u, ts):
    """How far thread u's core is from t's: 0 (the same core), SH_PAIR,
    SH_CHIP or SH_XCHIP."""
    if ts[t, TS_CORE] == ts[u, TS_CORE]:
        return 0
    if ts[t, TS_PAIR] == ts[u, TS_PAIR]:
        return SH_PAIR
    return SH_CHIP if ts[t, TS_CHIP] == ts[u, TS_CHIP] else SH_XCHIP

@jit()
def note_read(t, line, ts, lines):
    """t loaded `line`, last written by another thread: its core now holds a
    shared copy the writer's next store must invalidate (upgrade_cost)."""
    w = lines[L_WTHR][line] - 1
    if w >= 0:
        d = distance(t, w, ts)
        if d > lines[L_SHARED][line] >> 1:
            lines[L_SHARED][line] = (d << 1) | 1

@jit()
def upgrade_cost(t, line, ts, lines, prm):
    """Extra cycles for t's store to `line`, whose copy in t's L1 is current,
    to own it: none when t's core wrote it last and no other core has read it
    since (or only the other core of the pair, which shares the L2 where
    stores are performed); else the invalidation of the farthest copy, a
    snoop round taken to cost what a cache-to-cache transfer from there does
    (UNVERIFIED: the address phase of the same fabric transfer, without its
    data)."""
    d = lines[L_SHARED][line] >> 1
    w = lines[L_WTHR][line] - 1
    if w >= 0:
        d = max(d, distance(t, w, ts))
    if d <= SH_PAIR:
        return 0
    return (prm[PR_LAT_REMOTE] if d == SH_CHIP else prm[PR_LAT_XCHIP]) - prm[PR_LAT_L1]

@jit()
def store_line(t, line, clk, ts, cache):
    """Make t's core the owner of the new version of `line` (no other copy
    left)."""
    lines, l1, l2, l3 = cache[0], cache[1], cache[2], cache[3]
    lines[L_SHARED][line] &= 1
    lines[L_VER][line] += 1
    ver = lines[L_VER][line]     # as stored (it wraps)
    lines[L_WTIME][line] = clk
    lines[L_WTHR][line] = t + 1
    s1 = l1_set(ts[t, TS_CORE], line)
    s2 = l2_set(ts[t, TS_PAIR], line)
    make_mru(l1, s1, way_of(l1, s1, L1_WAYS, line), L1_WAYS, line, ver)
    make_mru(l2, s2, way_of(l2, s2, L2_WAYS, line), L2_WAYS, line, ver)
    s3 = l3_set(ts[t, TS_PAIR], line)
    make_mru(l3, s3, way_of(l3, s3, L3_WAYS, line + 1), L3_WAYS, line + 1, ver)

@jit()
def store_effects(t, line, clk, ts, lines):
    """Cross-thread effects of a store to `line`: reservations lost, spinners
    woken.  Returns 1 when another thread was affected."""
    hit = 0
    # L_RSV counts the threads holding a reservation on the line, L_WATCH the
    # spinners watching it: the scans stop when all of them are found
    if lines[L_RSV][line] > 0:
        own = 1 if ts[t, TS_RES] == line else 0
        for u in range(ts.shape[0]):
            if lines[L_RSV][line] == own:
                break
            if u != t and ts[u, TS_RES] == line:
                ts[u, TS_RES] = -1
                lines[L_RSV][line] -= 1
                hit = 1
    if lines[L_WATCH][line] > 0:
        found = 0
        for u in range(ts.shape[0]):
            if found == lines[L_WATCH][line]:
                break
            if ts[u, TS_STATE] != S_SPIN:
                continue
            for k in range(ts[u, TS_NLD]):
                if ts[u, TS_LD0 + k] == line:
                    found += 1
                    a1 = ts[u, TS_SLEEP_T]
                    p = ts[u, TS_SPIN_P]
                    nt = a1 if clk <= a1 else a1 + ((clk - a1 + p - 1) // p) * p
                    if nt < ts[u, TS_CLK]:
                        ts[u, TS_CLK] = nt
                        moved(ts, u)
                    hit = 1
    return hit

@jit()
def invalidate_code(code, ra, sz, prm):
    """A store into the predecoded region leaves a stale mark, never a stale row."""
    if ra < prm[PR_CODE_BYTES]:
        for i in range(ra >> 2, min((ra + sz - 1) >> 2, code.shape[0] - 1) + 1):
            code[i, P_OP] = OP_STALE

@jit()
def trace_record(t, clk, kind, a, b, tlog, stats, ctl):
    """Append one trace-port record; a full log counts it as dropped."""
    n = ctl[CTL_TRACE_N]
    if n >= tlog.shape[0]:
        ctl[CTL_TRACE_DROP] += 1
        stats[t, ST_TRACE_DROPPED] += 1
        return
    tlog[n, TR_CYCLE] = clk
    tlog[n, TR_SEQ] = n
    tlog[n, TR_THREAD] = t
    tlog[n, TR_KIND] = kind
    tlog[n, TR_A] = a
    tlog[n, TR_B] = b
    ctl[CTL_TRACE_N] = n + 1
    stats[t, ST_TRACE_RECORDS] += 1
