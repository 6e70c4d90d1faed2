"""Time, interrupts and sleeping: the timebase, asynchronous arrivals and
the pending set, interrupt entry, doorbells, XIVE (ESB PQ machine, TIMA)
and the other MMIO, stop/wait and spin-loop sleeps and their wake-ups.

Interrupts, doorbells, XIVE, idle
---------------------------------
Asynchronous interrupts arrive at a time (``TS_T_*``) and become pending at
the first instruction boundary at or after it; the most urgent enabled one
is taken (0xEA0, 0x900, 0xE80, 0xA00).  msgsnd reaches any thread by PIR
(0xE80), msgsndp a thread of the same core by TIR (0xA00), after
``db_core``/``db_chip``/``db_xchip`` cycles.  XIVE: one IPI source per
thread (PQ machine of [Q-xive]) routed to that thread at ``xive_ipi_prio``;
delivery sets the IPB bit after ``xive_chip``/``xive_xchip`` cycles, at most
one delivery per ``xive_interval`` per chip, and raises 0xEA0 (level) while
PIPR < CPPR; the event-queue memory is not written (the ack load returns the
priority; software knows the source).  ``stop``/``wait`` sleep until any
interrupt is pending (whatever MSR[EE]), then wake after the level's
latency: EC=1 through system reset 0x100 with the SRR1 wake reason, EC=0
resuming after the instruction.  State loss is reported in SRR1, not done.

Spin-loop detection
-------------------
At a taken backward branch the thread compares its architected state (GPRs,
CR, LR, CTR, XER) with the state at the previous arrival at the same branch.
If the iteration in between stored nothing, read no time/MMIO, took no
interrupt and loaded from at most four lines, and the state is unchanged,
the loop is at a fixed point: the thread sleeps until one of those lines is
written or an enabled interrupt arrives.  It then resumes at the first
iteration boundary after the write, charged the cycles as if it had spun.
To keep loops that are not spins cheap, the snapshot is taken at the
``SPIN_SNAP``-th consecutive pure arrival and compared at the next one.
"""

from powersim.machine.bits import clz64
from powersim.machine.jit import jit
from powersim.machine.layout import (
    ESB_BASE, ESB_STRIDE, ESB_TRIG, EV_INTR, EV_WAKE, HID0_HILE, INF, LPCR_HVICE, LPCR_ILE,
    L_VER, L_WATCH, MSR_EE, MSR_HV, MSR_LE, MSR_ME, MSR_PR, MSR_SF, PB_DEC, PB_HDB, PB_HVI,
    PB_PDB, PR_COST_INTR, PR_DB_CHIP, PR_DB_CORE, PR_DB_XCHIP, PR_FREQ_MHZ, PR_TIMEBASE_MHZ,
    PR_XIVE_CHIP, PR_XIVE_INTERVAL, PR_XIVE_IPI_PRIO, PR_XIVE_XCHIP, SPIN_SNAP, SPR_CTR,
    SPR_HID0, SPR_HSRR0, SPR_HSRR1, SPR_LPCR, SPR_LR, SPR_SRR0, SPR_SRR1, SPR_XER,
    SRR1_MSR_KEEP, SRR1_WAKE_DEC, SRR1_WAKE_HDB, SRR1_WAKE_HVI, SRR1_WAKE_PDB,
    SRR1_WS_HVLOSS, SRR1_WS_NOLOSS, ST_CHECKSTOP, ST_CYCLES_SPIN, ST_CYCLES_STOP,
    ST_INT_100, ST_INT_200, ST_INT_300, ST_INT_380, ST_INT_400, ST_INT_480, ST_INT_500,
    ST_INT_700, ST_INT_900, ST_INT_A00, ST_INT_C00, ST_INT_E00, ST_INT_E40, ST_INT_E80,
    ST_INT_EA0, ST_SPIN_SKIPPED_INSNS, ST_SPIN_SLEEPS, ST_WAKEUPS, ST_XIVE_RECV,
    ST_XIVE_SENT, S_HALT, S_RUN, S_SPIN, S_STOP, TIMA_BASE, TIMA_SIZE, TM_ACK_HV, TM_QW3,
    TS_CHIP, TS_CLK, TS_CORE, TS_CPPR, TS_CR, TS_ESL, TS_EVT, TS_IMPURE, TS_IPB, TS_LD0,
    TS_LDV0, TS_MSR, TS_NLD, TS_NSR, TS_PC, TS_PEND, TS_RL, TS_SLEEP_T, TS_SPIN_CNT,
    TS_SPIN_I, TS_SPIN_N, TS_SPIN_P, TS_SPIN_PC, TS_SPIN_T, TS_STATE, TS_T_DEC, TS_T_HDB,
    TS_T_HVI, TS_T_PDB, TS_WAKE_LAT, TS_XPQ,
)
from powersim.machine.memory import trace_record
from powersim.machine.mmu import mc_flush
from powersim.machine.sched import moved


@jit()
def tb_now(clk, prm):
    return clk * prm[PR_TIMEBASE_MHZ] // prm[PR_FREQ_MHZ]

@jit()
def clk_of_tb(tb, prm):
    return (tb * prm[PR_FREQ_MHZ] + prm[PR_TIMEBASE_MHZ] - 1) // prm[PR_TIMEBASE_MHZ]

@jit()
def set_evt(ts, t):
    ts[t, TS_EVT] = min(min(ts[t, TS_T_DEC], ts[t, TS_T_HDB]),
                        min(ts[t, TS_T_PDB], ts[t, TS_T_HVI]))

@jit()
def enabled(ts, sprs, t, bits):
    """The pending interrupts among `bits` that would be taken now."""
    msr = ts[t, TS_MSR]
    ee = (msr & MSR_EE) != 0
    hv = (msr & MSR_HV) != 0 and (msr & MSR_PR) == 0
    r = 0
    if bits & PB_HVI and (sprs[t, SPR_LPCR] & LPCR_HVICE) and (ee or not hv):
        r |= PB_HVI
    if bits & PB_HDB and (ee or not hv):
        r |= PB_HDB
    if ee:
        r |= bits & (PB_DEC | PB_PDB)
    return r

@jit()
def post(u, kind, when, ts, sprs):
    """An interrupt of `kind` (PB_*) reaches thread u at cycle `when`."""
    col = TS_T_DEC if kind == PB_DEC else TS_T_HDB if kind == PB_HDB else \
        TS_T_PDB if kind == PB_PDB else TS_T_HVI
    if when < ts[u, col]:
        ts[u, col] = when
    set_evt(ts, u)
    st = ts[u, TS_STATE]
    if st == S_STOP:
        w = max(when, ts[u, TS_SLEEP_T]) + ts[u, TS_WAKE_LAT]
        if w < ts[u, TS_CLK]:
            ts[u, TS_CLK] = w
            moved(ts, u)
    elif st == S_SPIN and enabled(ts, sprs, u, kind):
        w = max(when, ts[u, TS_SLEEP_T])
        if w < ts[u, TS_CLK]:
            ts[u, TS_CLK] = w
            moved(ts, u)

@jit()
def xive_notify(u, ts):
    """Recompute the HV ring's PIPR/NSR and the 0xEA0 line ([Q-xive] tctx_notify)."""
    ipb = ts[u, TS_IPB]
    pipr = 0xFF if ipb == 0 else clz64(ipb) - 56
    if pipr < ts[u, TS_CPPR]:
        ts[u, TS_NSR] = 0x80            # HE = PHYS [L-xive]
        ts[u, TS_PEND] |= PB_HVI
    else:
        ts[u, TS_NSR] = 0
        ts[u, TS_PEND] &= ~PB_HVI
    return pipr

@jit()
def deliver(t, clk, ts, prm):
    """Move arrivals due by `clk` into the pending set."""
    if ts[t, TS_EVT] > clk:
        return
    if ts[t, TS_T_DEC] <= clk:
        ts[t, TS_PEND] |= PB_DEC
        ts[t, TS_T_DEC] = INF
    if ts[t, TS_T_HDB] <= clk:
        ts[t, TS_PEND] |= PB_HDB
        ts[t, TS_T_HDB] = INF
    if ts[t, TS_T_PDB] <= clk:
        ts[t, TS_PEND] |= PB_PDB
        ts[t, TS_T_PDB] = INF
    if ts[t, TS_T_HVI] <= clk:
        ts[t, TS_IPB] |= 1 << (7 - prm[PR_XIVE_IPI_PRIO])
        ts[t, TS_T_HVI] = INF
        xive_notify(t, ts)
    set_evt(ts, t)

@jit()
def doorbell_lat(s, u, ts, prm):
    if ts[s, TS_CORE] == ts[u, TS_CORE]:
        return prm[PR_DB_CORE]
    if ts[s, TS_CHIP] == ts[u, TS_CHIP]:
        return prm[PR_DB_CHIP]
    return prm[PR_DB_XCHIP]

@jit()
def stat_of_vector(vec):
    if vec == 0x100:
        return ST_INT_100
    if vec == 0x200:
        return ST_INT_200
    if vec == 0x300:
        return ST_INT_300
    if vec == 0x500:
        return ST_INT_500
    if vec == 0x700:
        return ST_INT_700
    if vec == 0x900:
        return ST_INT_900
    if vec == 0xA00:
        return ST_INT_A00
    if vec == 0xC00:
        return ST_INT_C00
    if vec == 0xE40:
        return ST_INT_E40
    if vec == 0x380:
        return ST_INT_380
    if vec == 0x400:
        return ST_INT_400
    if vec == 0x480:
        return ST_INT_480
    if vec == 0xE00:
        return ST_INT_E00
    if vec == 0xE80:
        return ST_INT_E80
    return ST_INT_EA0

@jit()
def interrupt(t, vec, srr0, reason, hsrr, to_hv, ts, sprs, stats, prm):
    """Architected interrupt entry: save (H)SRR0/1, new MSR, jump to the vector.
    Vectors are taken in real mode (no AIL)."""
    msr = ts[t, TS_MSR]
    mc_flush(ts, t, 1)
    if vec == 0xE40 and srr0 == 0xE40:
        # the HEAI vector itself is not code: the thread would loop forever
        ts[t, TS_STATE] = S_HALT
        stats[t, ST_CHECKSTOP] += 1
        return
    srr1 = (msr & SRR1_MSR_KEEP) | reason
    if hsrr:
        sprs[t, SPR_HSRR0] = srr0
        sprs[t, SPR_HSRR1] = srr1
    else:
        sprs[t, SPR_SRR0] = srr0
        sprs[t, SPR_SRR1] = srr1
    hv = MSR_HV if (to_hv or (msr & MSR_HV)) else 0
    if hv:
        le = MSR_LE if sprs[t, SPR_HID0] & HID0_HILE else 0
    else:
        le = MSR_LE if sprs[t, SPR_LPCR] & LPCR_ILE else 0
    ts[t, TS_MSR] = MSR_SF | hv | (msr & MSR_ME) | le
    ts[t, TS_PC] = vec
    ts[t, TS_CLK] += prm[PR_COST_INTR]
    ts[t, TS_IMPURE] += 1
    stats[t, stat_of_vector(vec)] += 1

@jit()
def take_pending(t, ts, sprs, stats, prm):
    """Take the most urgent enabled pending interrupt, if any: 0xEA0, 0x900,
    0xE80, 0xA00 in that order (a documented choice)."""
    e = enabled(ts, sprs, t, ts[t, TS_PEND])
    if e == 0:
        return
    # one call site with variables: numba compiles a callee per literal argument
    if e & PB_HVI:      # level-sensitive: stays pending until the TIMA ack
        bit, vec, hv = 0, 0xEA0, True
    elif e & PB_DEC:
        bit, vec, hv = PB_DEC, 0x900, False
    elif e & PB_HDB:
        bit, vec, hv = PB_HDB, 0xE80, True
    else:
        bit, vec, hv = PB_PDB, 0xA00, False
    ts[t, TS_PEND] &= ~bit
    interrupt(t, vec, ts[t, TS_PC], 0, hv, hv, ts, sprs, stats, prm)

@jit()
def wake_reason(pend):
    if pend & PB_HVI:
        return SRR1_WAKE_HVI
    if pend & PB_DEC:
        return SRR1_WAKE_DEC
    if pend & PB_HDB:
        return SRR1_WAKE_HDB
    return SRR1_WAKE_PDB

@jit()
def sleep_wake_time(t, ts, sprs):
    """Clock at which a sleeping thread must be looked at again (INF: never)."""
    if ts[t, TS_STATE] == S_STOP:
        e = ts[t, TS_EVT]
        return INF if e >= INF else max(e, ts[t, TS_SLEEP_T]) + ts[t, TS_WAKE_LAT]
    w = INF     # S_SPIN: only enabled interrupts end the sleep early
    for kind, col in ((PB_DEC, TS_T_DEC), (PB_HDB, TS_T_HDB), (PB_PDB, TS_T_PDB),
                      (PB_HVI, TS_T_HVI)):
        if ts[t, col] < w and enabled(ts, sprs, t, kind):
            w = ts[t, col]
    return w if w >= INF else max(w, ts[t, TS_SLEEP_T])

@jit()
def resume(t, ts, sprs, lines, stats, prm):
    """A sleeping thread reached its wake-up time."""
    clk = ts[t, TS_CLK]
    deliver(t, clk, ts, prm)
    if ts[t, TS_STATE] == S_STOP:
        if ts[t, TS_PEND] == 0:         # e.g. the doorbell was cleared: stay stopped
            ts[t, TS_CLK] = sleep_wake_time(t, ts, sprs)
            return
        stats[t, ST_CYCLES_STOP] += clk - ts[t, TS_SLEEP_T]
        ts[t, TS_STATE] = S_RUN
        if ts[t, TS_ESL]:
            loss = SRR1_WS_NOLOSS if ts[t, TS_RL] < 4 else SRR1_WS_HVLOSS
            interrupt(t, 0x100, ts[t, TS_PC], wake_reason(ts[t, TS_PEND]) | loss,
                      False, True, ts, sprs, stats, prm)
    else:
        slept = clk - ts[t, TS_SLEEP_T]
        stats[t, ST_CYCLES_SPIN] += slept
        stats[t, ST_SPIN_SKIPPED_INSNS] += (slept // ts[t, TS_SPIN_P]) * ts[t, TS_SPIN_I]
        for k in range(ts[t, TS_NLD]):
            lines[L_WATCH][ts[t, TS_LD0 + k]] -= 1
        ts[t, TS_NLD] = 0
        ts[t, TS_SPIN_CNT] = 0
        ts[t, TS_STATE] = S_RUN
    stats[t, ST_WAKEUPS] += 1

@jit()
def xive_trigger(src, clk, sender, ts, sprs, chipfree, stats, prm):
    """8-byte store to a source's trigger page: the PQ machine of [Q-xive]."""
    pq = ts[src, TS_XPQ]
    if pq == 0:
        ts[src, TS_XPQ] = 2
        chip = ts[src, TS_CHIP]
        lat = prm[PR_XIVE_CHIP] if ts[sender, TS_CHIP] == chip else prm[PR_XIVE_XCHIP]
        when = max(clk + lat, chipfree[chip])
        chipfree[chip] = when + prm[PR_XIVE_INTERVAL]
        post(src, PB_HVI, when, ts, sprs)
        stats[sender, ST_XIVE_SENT] += 1
        stats[src, ST_XIVE_RECV] += 1
    elif pq == 2:
        ts[src, TS_XPQ] = 3

@jit()
def esb_eoi(src, clk, ts, sprs, chipfree, stats, prm):
    old = ts[src, TS_XPQ]
    if old == 2:
        ts[src, TS_XPQ] = 0
    elif old == 3:          # re-forward the coalesced event
        ts[src, TS_XPQ] = 0
        xive_trigger(src, clk, src, ts, sprs, chipfree, stats, prm)
    return old

@jit()
def mmio(t, ra, sz, val, is_store, clk, ts, sprs, io, stats, prm):
    """An access outside RAM: (register value, ok); ok False is a bus error
    (machine check).  The caller applies big-endian register semantics."""
    pir2t, chipfree = io
    if ESB_BASE <= ra < ESB_BASE + pir2t.shape[0] * ESB_STRIDE:
        off = ra - ESB_BASE
        src = pir2t[off // ESB_STRIDE]
        if src < 0:
            return 0, False
        page = off % ESB_STRIDE
        if page >= ESB_TRIG:
            if is_store:
                xive_trigger(src, clk, t, ts, sprs, chipfree, stats, prm)
            return -1, True
        op = page & 0xF00
        if is_store:
            if op == 0x400:
                esb_eoi(src, clk, ts, sprs, chipfree, stats, prm)
            return 0, True
        old = ts[src, TS_XPQ]
        if op == 0x000:
            esb_eoi(src, clk, ts, sprs, chipfree, stats, prm)
        elif op >= 0xC00:
            ts[src, TS_XPQ] = (op - 0xC00) >> 8       # SET_PQ_00/01/10/11
        return old, True
    if TIMA_BASE <= ra < TIMA_BASE + TIMA_SIZE:
        off = ra - TIMA_BASE
        if is_store:
            if off == TM_QW3 + 1:
                ts[t, TS_CPPR] = val & 0xFF
                xive_notify(t, ts)
            return 0, True
        if off == TM_ACK_HV and sz == 2:           # [Q-xive] xive_tctx_accept
            nsr = ts[t, TS_NSR]
            if nsr & 0x80:
                pipr = xive_notify(t, ts)
                ts[t, TS_CPPR] = pipr
                ts[t, TS_IPB] &= ~(1 << (7 - pipr))
                xive_notify(t, ts)
            return (nsr << 8) | ts[t, TS_CPPR], True
        if TM_QW3 <= off and off + sz <= TM_QW3 + 8:
            ipb = ts[t, TS_IPB]
            v = 0
            for i in range(off - TM_QW3, off - TM_QW3 + sz):     # NSR CPPR IPB 0 0 0 0 PIPR
                b = ts[t, TS_NSR] if i == 0 else ts[t, TS_CPPR] if i == 1 else \
                    ipb if i == 2 else 0 if i < 7 else 0xFF if ipb == 0 else clz64(ipb) - 56
                v = (v << 8) | b
            return v, True
        return 0, True
    return 0, False

@jit()
def resume_ev(t, ts, sprs, lines, stats, prm, tlog, ctl):
    """resume() plus its EV_WAKE record (and EV_INTR 0x100 for an ESL=1 wake-up)."""
    st0 = ts[t, TS_STATE]
    c0 = ts[t, TS_CLK]
    p0 = ts[t, TS_PC]
    i0 = ts[t, TS_IMPURE]
    resume(t, ts, sprs, lines, stats, prm)
    if st0 == S_STOP and ts[t, TS_STATE] == S_RUN:
        trace_record(t, c0, EV_WAKE, 0, 0, tlog, stats, ctl)
        if ts[t, TS_IMPURE] != i0:
            trace_record(t, c0, EV_INTR, 0x100, p0, tlog, stats, ctl)

@jit()
def spin_check(t, pc, clk, ninsn, nld, msr, g, ts, sprs, lines, snap, stats):
    """A pure iteration ended at the taken backward branch at `pc` (module
    docstring), with the thread's registers g, ts[TS_CR] and sprs (LR, CTR,
    XER) current.  Returns the wake-up clock if the thread now sleeps, else -1."""
    cr = ts[t, TS_CR]
    lr = sprs[t, SPR_LR]
    ctr = sprs[t, SPR_CTR]
    xer = sprs[t, SPR_XER]
    if ts[t, TS_SPIN_PC] == pc:
        cnt = ts[t, TS_SPIN_CNT] + 1
    else:
        ts[t, TS_SPIN_PC] = pc
        cnt = 0
    if cnt == SPIN_SNAP:
        for k in range(32):
            snap[t, k] = g[k]
        snap[t, 32] = cr
        snap[t, 33] = lr
        snap[t, 34] = ctr
        snap[t, 35] = xer
        ts[t, TS_SPIN_T] = clk
        ts[t, TS_SPIN_N] = ninsn
    elif cnt > SPIN_SNAP:
        same = ctr == snap[t, 34] and cr == snap[t, 32] and \
            lr == snap[t, 33] and xer == snap[t, 35]
        k = 0
        while same and k < 32:
            same = g[k] == snap[t, k]
            k += 1
        # a line written since this iteration loaded it: no fixed point
        k = 0
        while same and k < nld:
            same = lines[L_VER][ts[t, TS_LD0 + k]] == ts[t, TS_LDV0 + k]
            k += 1
        if same:
            ts[t, TS_SPIN_P] = max(clk - ts[t, TS_SPIN_T], 1)
            ts[t, TS_SPIN_I] = ninsn - ts[t, TS_SPIN_N]
            for k in range(nld):
                lines[L_WATCH][ts[t, TS_LD0 + k]] += 1
            ts[t, TS_STATE] = S_SPIN
            ts[t, TS_SLEEP_T] = clk
            ts[t, TS_MSR] = msr
            stats[t, ST_SPIN_SLEEPS] += 1
            return sleep_wake_time(t, ts, sprs)
        cnt = 0
    ts[t, TS_SPIN_CNT] = cnt
    return -1
