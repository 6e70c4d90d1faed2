"""The load/store unit: the MEMORY family (load, store, larx, stcx.) and dcbz,
each a function the interpreter inlines (``inline="always"``: no call, no
tuple left after LLVM; the tuples only name what travels together).

Both take the instruction as ``ins = (op, rt, ra, rb, imm, fl, cost)`` (cost:
what the fetch charged, taken back when the access must yield) and the
slice's registers as ``st = (pc, clk, msr, oend, cr, xer, nld, impure)``, and
return the updated clock, CR, load count and purity, a synchronous
interrupt (vector, SRR0, SRR1 reason), the dispatcher flags ``D_*``
(layout.py) and, for a load, the cycles its result comes later than an L1
hit (the miss latency: the clock does not wait for it, a use of the result
does; interp.py "Issue model").  An L1 miss takes an entry of the thread's
load-miss queue (``lmq_entries``) until its line arrives; with all in use,
the load issues when the oldest completes.  Timing and ordering: memory.py and sched.py docstrings.
"""

from powersim.machine.bits import bswap, setcr, sext
from powersim.machine.irq import mmio
from powersim.machine.jit import jit
from powersim.machine.layout import (
    CTL_TRACE_N, D_LEAVE, D_OTHERS, D_RECHECK, D_STAY, D_UNDO, ESB_BASE, ESB_STRIDE, EV_XIVE,
    LINE_SHIFT, L_RSV, L_SB, L_SEEN, L_SHARED, L_VER, L_WATCH, L_WTHR, MC_LOAD, MC_STORE, MSR_DR,
    PR_ESB_LOAD, PR_ESB_STORE, PR_LAT_L1, PR_LMQ_ENTRIES, PR_MEMORY, PR_MEMORY_MODEL, PR_TRACE_EVENTS, RA_MASK, SPIN_LINES, ST_LOADS,
    ST_LMQ_FULL, ST_STCX_FAIL, ST_STCX_OK, ST_STORES, ST_XIVE_SENT, TIMA_BASE, TRACE_BASE, TRACE_MARGIN,
    TRACE_SIZE, TS_CHIP, TS_LD0, TS_LDV0, TS_LMQ0, TS_LMQ_I, TS_RDY0, TS_RES, TS_STDONE,
)
from powersim.machine.memory import (
    FILL_LOAD, FILL_STORE, fill_cost, invalidate_code, l1_set, note_read, rd, store_effects, store_line, trace_record, wr,
)
from powersim.machine.mmu import data_xlate
from powersim.machine.weak import load_floor, load_satisfied, sb_buffered, sb_read, sb_write
from powersim.ops import (
    F_BYTEREV, F_INDEXED, F_SIGNED, F_SIZE_SHIFT, F_UPDATE, OP_LARX, OP_LOAD, OP_STCX,
    OP_STORE,
)


@jit(inline="always")
def load_store(t, ins, st, mc, memv, code, thr, cache, xl, io, log, prm):
    """One load, store, larx or stcx. of thread t (module docstring); ``mc``
    is the data micro-cache (page, RA - EA, permissions) and the core's L1
    base index, ``log`` = (tlog, ctl)."""
    op, rt, ra, rb, imm, fl, cost = ins
    pc, clk, msr, oend, cr, xer, nld, impure = st
    dpage, ddelta, dperm, core = mc
    gpr, sprs, ts, stats, _ = thr
    lines, l1, sbe = cache[0], cache[1], cache[4]
    weak = prm[PR_MEMORY_MODEL] != 0
    tlog, ctl = log
    g = gpr[t]
    m64 = memv[3]
    memsize = prm[PR_MEMORY]
    d = 0
    sz = (fl >> F_SIZE_SHIFT) & 15
    ea = (g[ra] if ra else 0) + (g[rb] if fl & F_INDEXED else imm)
    if sz == 8 and op == OP_STORE and not ea & 7 and \
            0 <= (ea & RA_MASK) - TRACE_BASE < TRACE_SIZE:
        # trace port (TRACE_BASE): instrumentation, so undo the fetch's cost
        clk -= cost
        trace_record(t, clk, ((ea & RA_MASK) - TRACE_BASE) >> 3, g[rt], g[0], tlog, stats, ctl)
        impure += 1         # not a spin: the loop's records must all appear
        d = D_UNDO
        if ctl[CTL_TRACE_N] >= tlog.shape[0] - TRACE_MARGIN:
            d |= D_LEAVE | D_RECHECK    # let Python drain the log (X_TRACE_FULL)
        if fl & F_UPDATE:
            g[ra] = ea
        return clk, cr, nld, impure, 0, 0, 0, d, 0
    if not msr & MSR_DR:
        rea = ea & RA_MASK
    elif ea >> 12 == dpage and dperm & (MC_STORE if op == OP_STORE or op == OP_STCX
                                        else MC_LOAD):
        rea = ea + ddelta
    else:
        if clk - cost >= oend:      # ordered, as below: yield
            return clk - cost, cr, nld, impure, 0, 0, 0, D_STAY | D_UNDO | D_LEAVE | D_RECHECK, 0
        rea, xv, xr, c = data_xlate(t, ea, op == OP_STORE or op == OP_STCX, msr, clk, m64, ts,
                                    sprs, cache, xl, stats, prm)
        clk += c
        d = D_RECHECK
        if xv != 0:
            return clk, cr, nld, impure, xv, pc, xr, D_STAY | D_RECHECK, 0
    if rea + sz > memsize:
        line = -1
        ordered = True
        hit = False
    else:
        # a private line (last written by this thread, or never) needs no
        # ordering and, when its L1 copy is current, no latency model
        line = rea >> LINE_SHIFT
        w = lines[L_WTHR][line] - 1     # -1: none
        private = w == t or w < 0
        if not private:
            lines[L_SHARED][line] |= 1
        elif lines[L_SHARED][line]:
            private = False
        # a line's first fetch into the chip is ordered too: which thread
        # brings it in decides who else finds it in the L2/L3
        ordered = not private or op == OP_LARX or op == OP_STCX or \
            ((lines[L_SEEN][line] >> ts[t, TS_CHIP]) & 1) == 0
        i1 = l1_set(core, line)         # way 0 holds the set's most recent line
        hit = private and l1[i1, 0] == line and l1[i1, 1] == lines[L_VER][line]
    if ordered and clk - cost >= oend:
        # ordered operation while others are behind: undo the fetch, yield
        return (clk - cost, cr, nld, impure, 0, 0, 0, d | D_STAY | D_UNDO | D_LEAVE | D_RECHECK,
                0)
    lat = 0
    if rea + sz > memsize:
        i0 = stats[t, ST_XIVE_SENT]
        d |= D_OTHERS       # an ESB access may post to a thread
        v, ok = mmio(t, rea, sz, g[rt] if op == OP_STORE else 0, op == OP_STORE, clk, ts, sprs,
                     io, stats, prm)
        if prm[PR_TRACE_EVENTS] and stats[t, ST_XIVE_SENT] != i0:
            trace_record(t, clk, EV_XIVE, io[0][(rea - ESB_BASE) // ESB_STRIDE], 0, tlog,
                         stats, ctl)
        if not ok:
            return clk, cr, nld, impure, 0x200, pc, 0, d | D_STAY | D_RECHECK, 0
        if op == OP_LOAD:
            v = v if fl & F_BYTEREV else bswap(v, sz)   # registers are big-endian
            g[rt] = sext(v, sz) if fl & F_SIGNED else v
        if ESB_BASE <= rea < TIMA_BASE:     # the XIVE's ESB pages, off-core
            if op == OP_LOAD:
                clk += prm[PR_ESB_LOAD]
            elif clk + prm[PR_ESB_STORE] > ts[t, TS_STDONE]:
                ts[t, TS_STDONE] = clk + prm[PR_ESB_STORE]  # sync waits for it
        impure += 1
        d |= D_LEAVE | D_RECHECK
    elif op == OP_LOAD or op == OP_LARX:
        if not hit:
            lat = fill_cost(t, line, clk, FILL_LOAD, ts, cache, stats, prm)
            if lat > 0:
                clk = lmq_take(t, clk, clk + lat + prm[PR_LAT_L1], ts, stats, prm)
        stale = False
        if not private:
            note_read(t, line, ts, lines)
        if weak and not private and lines[L_SB][line]:
            # satisfied when its data is read: a miss's when the line arrives (weak.py)
            s = max(clk + lat, load_floor(t, line, ts))
            v, stale = sb_read(t, rea, sz, s, min(clk, oend) - 1, lines, sbe, m64, ts, stats,
                               prm)
            load_satisfied(t, line, s, clk, ts)
            impure += stale     # a value older than the newest: no spin fixed point
        else:
            v = rd(memv, rea, sz)
        if fl & F_BYTEREV:
            v = bswap(v, sz)
        g[rt] = sext(v, sz) if fl & F_SIGNED else v
        stats[t, ST_LOADS] += 1
        if nld <= SPIN_LINES:
            k = 0
            while k < nld and ts[t, TS_LD0 + k] != line:
                k += 1
            if k == nld:
                if nld < SPIN_LINES:
                    ts[t, TS_LD0 + nld] = line
                    ts[t, TS_LDV0 + nld] = lines[L_VER][line]
                nld += 1
        if op == OP_LARX:
            d |= D_LEAVE | D_RECHECK    # let the others catch up: atomics interleave
            old = ts[t, TS_RES]
            new = -1 if stale else line     # no reservation on a value not the newest
            if old != new:
                if old >= 0:
                    lines[L_RSV][old] -= 1
                if new >= 0:
                    lines[L_RSV][new] += 1
                ts[t, TS_RES] = new
    else:
        ok = True
        if op == OP_STCX:
            ok = ts[t, TS_RES] == line
            if ts[t, TS_RES] >= 0:
                lines[L_RSV][ts[t, TS_RES]] -= 1
                ts[t, TS_RES] = -1
            cr = setcr(cr, 0, (2 if ok else 0) | ((xer >> 31) & 1))
            stats[t, ST_STCX_OK if ok else ST_STCX_FAIL] += 1
            d |= D_LEAVE | D_RECHECK    # an atomic is a cross-thread interaction
        if ok:
            own = 0 if hit else fill_cost(t, line, clk, FILL_STORE, ts, cache, stats, prm)
            if op == OP_STCX:
                lat = own       # its CR0 comes with ownership; later loads need not wait
            v = g[rt]
            if fl & F_BYTEREV:
                v = bswap(v, sz)
            if sb_buffered(t, line, clk, private, lines, ts, prm):
                # performed once its address and data are ready (a store does not
                # wait for them to issue: interp.py)
                ready = max(ts[t, TS_RDY0 + rt], ts[t, TS_RDY0 + ra] if ra else 0,
                            ts[t, TS_RDY0 + rb] if fl & F_INDEXED else 0)
                sb_write(t, rea, sz, v, clk, own, ready, min(clk, oend) - 1, lines, sbe, m64,
                         ts, stats, prm)
            else:
                wr(memv, rea, sz, v)
                if clk + own > ts[t, TS_STDONE]:
                    ts[t, TS_STDONE] = clk + own
            store_line(t, line, clk, ts, cache)
            if lines[L_RSV][line] > 0 or lines[L_WATCH][line] > 0:
                if store_effects(t, line, clk, ts, lines):
                    d |= D_LEAVE | D_OTHERS | D_RECHECK
            invalidate_code(code, rea, sz, prm)
            stats[t, ST_STORES] += 1
        impure += 1
    if fl & F_UPDATE:
        g[ra] = ea
    return clk, cr, nld, impure, 0, 0, 0, d, lat


@jit()
def lmq_take(t, clk, done, ts, stats, prm):
    """A load miss completing at ``done`` takes the oldest load-miss queue
    entry, first waiting for it to free; -> the clock it issues at."""
    k = ts[t, TS_LMQ_I]
    free = ts[t, TS_LMQ0 + k]
    if free > clk:
        stats[t, ST_LMQ_FULL] += 1
        done += free - clk
        clk = free
    ts[t, TS_LMQ0 + k] = done
    ts[t, TS_LMQ_I] = (k + 1) % prm[PR_LMQ_ENTRIES]
    return clk


@jit(inline="always")
def dcbz(t, ea, pc, clk, msr, oend, memv, code, thr, cache, xl, prm):
    """dcbz: zero the 128-byte line of ``ea`` as a store.  Returns (clk,
    vector, SRR0, SRR1 reason, D_* flags)."""
    _, sprs, ts, stats, _ = thr
    lines, sbe = cache[0], cache[4]
    rea, xv, xr, c = data_xlate(t, ea, True, msr, clk, memv[3], ts, sprs, cache, xl, stats, prm)
    clk += c
    if xv != 0:
        return clk, xv, pc, xr, D_STAY | D_RECHECK
    if rea + 128 > prm[PR_MEMORY]:
        return clk, 0x200, pc, 0, D_STAY | D_RECHECK
    line = rea >> LINE_SHIFT
    own = fill_cost(t, line, clk, FILL_STORE, ts, cache, stats, prm)
    w = lines[L_WTHR][line] - 1
    private = (w == t or w < 0) and not lines[L_SHARED][line]     # as load_store's
    if sb_buffered(t, line, clk, private, lines, ts, prm):
        sb_write(t, rea, 128, 0, clk, own, 0, min(clk, oend) - 1, lines, sbe, memv[3], ts,
                 stats, prm)
    else:
        memv[0][rea:rea + 128] = 0
        if clk + own > ts[t, TS_STDONE]:
            ts[t, TS_STDONE] = clk + own
    store_line(t, line, clk, ts, cache)
    d = 0
    if store_effects(t, line, clk, ts, lines):
        d = D_LEAVE | D_OTHERS | D_RECHECK
    invalidate_code(code, rea, 128, prm)
    stats[t, ST_STORES] += 1
    return clk, 0, 0, 0, d
