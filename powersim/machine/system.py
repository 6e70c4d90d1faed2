"""Privileged and system instructions (ops.py SYSTEM family, kept out of the
interpreter's hot loop: smaller compile, no cost for common ops) and their
trace events.
"""

from powersim.machine.bits import sext, srl
from powersim.machine.irq import (
    clk_of_tb, deliver, doorbell_lat, post, set_evt, sleep_wake_time, tb_now,
)
from powersim.machine.jit import jit
from powersim.machine.layout import (
    DB_SERVER, D_LEAVE, D_OTHERS, D_RECHECK, D_STAY, D_UNDO, EV_MSGSND, EV_RFID, EV_SLEEP,
    EV_STALL, EV_WAIT, M32, MSR_DR, MSR_EE, MSR_HV, MSR_IR, MSR_PR, MSR_RI, PB_DEC, PB_HDB,
    PB_PDB, PR_COST_EIEIO, PR_COST_HWSYNC, PR_COST_ISYNC, PR_COST_LWSYNC, PR_COST_MSGSYNC,
    PR_COST_PTESYNC, PR_COST_RFID, PR_COST_TLBSYNC, PR_MEMORY_MODEL, PR_STOP, PR_STOP_LITE, PR_TRACE_EVENTS,
    PR_WAIT, PSSCR_EC, PSSCR_RL, SPR_AMR, SPR_CTR, SPR_DEC, SPR_HSRR0, SPR_HSRR1, SPR_IAMR,
    SPR_LPCR, SPR_LPIDR, SPR_LR, SPR_PIDR, SPR_PIR, SPR_PSSCR, SPR_PTCR, SPR_SIMCYC,
    SPR_SIMSTALL, SPR_SRR0, SPR_SRR1, SPR_TBL, SPR_TBU, SPR_XER, SRR1_PROGPRIV,
    ST_CYCLES_STALL, ST_DOORBELLS_RECV, ST_DOORBELLS_SENT, ST_STOP_ENTRIES, SYS_HV,
    SYS_LEAVE, SYS_SLEPT, S_STOP, TS_CLK, TS_CORE, TS_DEC_TB, TS_ESL, TS_FLOOR, TS_LDFLOOR, TS_LDMAX, TS_OBS, TS_PC,
    TS_PEND,
    TS_PIR, TS_RL, TS_SLEEP_T, TS_STATE, TS_STDONE, TS_THR, TS_TLBI_ACK, TS_T_DEC,
    TS_WAKE_LAT, XER_CA, XER_CA32, XER_OV, XER_OV32, XER_SO,
)
from powersim.machine.memory import trace_record
from powersim.machine.mmu import erat_flush, mc_flush, spr_mmu, tlbi
from powersim.ops import (
    OP_EIEIO, OP_HRFID, OP_ILLEGAL, OP_ISYNC, OP_MFMSR, OP_MFSPR, OP_MSGCLR, OP_MSGCLRP,
    OP_MSGSND, OP_MSGSNDP, OP_MTMSR, OP_MTMSRD, OP_RFID, OP_SC, OP_SLBIA, OP_STOP, OP_SYNC,
    OP_TLBIE, OP_TLBIEL, OP_TLBSYNC, OP_WAIT, P_AUX, P_IMM, P_OP, P_RB, P_RT,
)


@jit()
def sys_event(t, op, v, c0, clk, npc, msr, sf, psscr, tlog, stats, ctl, prm):
    """The EV_* record of a sysop() that ran from clock c0 to clk (trace_events)."""
    if op == OP_RFID or op == OP_HRFID:
        trace_record(t, clk, EV_RFID, npc, msr, tlog, stats, ctl)
    elif op == OP_MSGSND or op == OP_MSGSNDP:
        trace_record(t, c0, EV_MSGSND, v, 1 if op == OP_MSGSNDP else 0, tlog, stats, ctl)
    elif op == OP_TLBSYNC and clk > c0 + prm[PR_COST_TLBSYNC]:
        trace_record(t, c0, EV_WAIT, clk, 3, tlog, stats, ctl)
    elif (op == OP_STOP or op == OP_WAIT) and sf & SYS_SLEPT:
        trace_record(t, c0, EV_SLEEP, 1 if op == OP_STOP else 0, psscr, tlog, stats, ctl)

@jit()
def sysop(t, ins, pc, clk, msr, g, ts, sprs, stats, xl, prm):
    """Privileged and system instructions (``ins``: the predecoded row), kept
    out of the hot loop (smaller compile, no cost for common ops).  Returns
    (npc, clk, msr, vector, srr0, srr1 reason, SYS_* flags); vector 0 = no
    interrupt."""
    op = ins[P_OP]
    rt = ins[P_RT]
    rb = ins[P_RB]
    imm = ins[P_IMM]
    aux = ins[P_AUX]
    npc = pc + 4
    sp = sprs[t]
    hvonly = (op == OP_HRFID or op == OP_MSGSND or op == OP_MSGCLR or
              op == OP_TLBIE or op == OP_TLBSYNC or op == OP_SLBIA)
    if op != OP_SC and op != OP_WAIT and op != OP_ILLEGAL:
        if msr & MSR_PR:
            return npc, clk, msr, 0x700, pc, SRR1_PROGPRIV, 0
        if hvonly and not (msr & MSR_HV):
            return npc, clk, msr, 0xE40, pc, 0, 0
    if op == OP_MFMSR:
        g[rt] = msr
    elif op == OP_MTMSRD or op == OP_MTMSR:
        v = g[rt]
        if aux == 1:
            msr = (msr & ~(MSR_EE | MSR_RI)) | (v & (MSR_EE | MSR_RI))
        else:
            keep = MSR_HV | (~M32 if op == OP_MTMSR else 0)
            msr = (msr & keep) | (v & ~keep)
            if msr & MSR_PR:
                msr |= MSR_EE | MSR_IR | MSR_DR
    elif op == OP_RFID or op == OP_HRFID:
        s1 = sp[SPR_SRR1] if op == OP_RFID else sp[SPR_HSRR1]
        npc = (sp[SPR_SRR0] if op == OP_RFID else sp[SPR_HSRR0]) & ~3
        hv = msr & s1 & MSR_HV if op == OP_RFID else s1 & MSR_HV
        msr = (s1 & ~MSR_HV) | hv
        if msr & MSR_PR:
            msr |= MSR_EE | MSR_IR | MSR_DR
        clk += prm[PR_COST_RFID]
    elif op == OP_SC:
        return npc, clk, msr, 0xC00, npc, 0, SYS_HV if imm == 1 else 0
    elif op == OP_MSGSND or op == OP_MSGSNDP:
        v = g[rb]
        if srl(v, 27) & 0x1F == DB_SERVER:
            core0 = ts[t, TS_CORE]
            for u in range(ts.shape[0]):
                if op == OP_MSGSND and not (v & 0x04000000):
                    hit = ts[u, TS_PIR] == (v & 0x3FFF)
                else:   # msgsndp or broadcast: threads of this core by TIR
                    hit = ts[u, TS_CORE] == core0 and (
                        (v & 0x04000000 and u != t) or
                        (op == OP_MSGSNDP and ts[u, TS_THR] == (v & 0x3F)))
                if hit:
                    post(u, PB_HDB if op == OP_MSGSND else PB_PDB,
                         clk + doorbell_lat(t, u, ts, prm), ts, sprs)
                    stats[t, ST_DOORBELLS_SENT] += 1
                    stats[u, ST_DOORBELLS_RECV] += 1
        return npc, clk, msr, 0, 0, 0, SYS_LEAVE
    elif op == OP_MSGCLR or op == OP_MSGCLRP:
        if srl(g[rb], 27) & 0x1F == DB_SERVER:
            ts[t, TS_PEND] &= ~(PB_HDB if op == OP_MSGCLR else PB_PDB)
    elif op == OP_STOP or op == OP_WAIT:
        ts[t, TS_CLK] = clk
        deliver(t, clk, ts, prm)
        if ts[t, TS_PEND] == 0:     # with an exception already pending: a no-op
            psscr = sp[SPR_PSSCR]
            rl = psscr & PSSCR_RL
            esl = 1 if op == OP_STOP and psscr & PSSCR_EC else 0
            if op == OP_WAIT:
                lat = prm[PR_WAIT]
            elif esl or rl > 0:
                lat = prm[PR_STOP + rl]
            else:
                lat = prm[PR_STOP_LITE]
            ts[t, TS_WAKE_LAT] = lat
            ts[t, TS_ESL] = esl
            ts[t, TS_RL] = rl
            ts[t, TS_SLEEP_T] = clk
            ts[t, TS_STATE] = S_STOP
            ts[t, TS_PC] = npc
            stats[t, ST_STOP_ENTRIES] += 1
            return npc, sleep_wake_time(t, ts, sprs), msr, 0, 0, 0, SYS_SLEPT
    elif op == OP_TLBIE or op == OP_TLBIEL:
        clk = tlbi(t, op == OP_TLBIEL, g[rb], g[rt], imm, aux & 1, (aux >> 1) & 1, clk, ts, xl, stats, prm)
    elif op == OP_TLBSYNC:      # sleeps until every earlier tlbie is acknowledged
        return npc, max(clk + prm[PR_COST_TLBSYNC], ts[t, TS_TLBI_ACK]), msr, 0, 0, 0, SYS_LEAVE
    elif op == OP_SLBIA:
        erat_flush(ts, t, 1)
    else:
        return npc, clk, msr, 0xE40, pc, 0, 0       # illegal word: HEAI [L-exc]
    return npc, clk, msr, 0, 0, 0, 0


# --- the families the dispatcher inlines (interp.py)
@jit(inline="always")
def spr_move(t, op, rt, n, st, thr, sprcls, xl, log, prm):
    """SPRMOVE (mfspr, mtspr) of SPR n with RT/RS rt; st = (pc, clk, msr, lr,
    ctr, xer, impure), the slice's copies of those registers.  LR, CTR, XER
    live in the slice's locals; TB, DEC, SIMCYC read the clock; SIMSTALL
    adds to it; MMU SPRs drop translations (mmu.spr_mmu).  -> (lr, ctr, xer,
    clk, impure, vector, SRR0, SRR1 reason, D_* flags)"""
    pc, clk, msr, lr, ctr, xer, impure = st
    gpr, sprs, ts, stats, _ = thr
    tlog, ctl = log
    g = gpr[t]
    sp = sprs[t]
    cls = sprcls[n]     # 0 user, 1 privileged, 2 hypervisor (state.py)
    if cls >= 1 and (msr & MSR_PR):
        return lr, ctr, xer, clk, impure, 0x700, pc, SRR1_PROGPRIV, D_STAY | D_RECHECK
    if cls == 2 and not (msr & MSR_HV):
        return lr, ctr, xer, clk, impure, 0xE40, pc, 0, D_STAY | D_RECHECK
    d = 0
    if op == OP_MFSPR:
        if n == SPR_LR:
            v = lr
        elif n == SPR_CTR:
            v = ctr
        elif n == SPR_XER:
            v = xer
        elif n == SPR_TBL or n == SPR_TBU:
            v = tb_now(clk, prm)
            if n == SPR_TBU:
                v = srl(v, 32)
            impure += 1
        elif n == SPR_DEC:
            v = sext(sp[SPR_DEC] - (tb_now(clk, prm) - ts[t, TS_DEC_TB]), 4)
            impure += 1
        elif n == SPR_SIMCYC:
            v = clk
            impure += 1
        elif n == SPR_SIMSTALL:
            v = 0
        else:
            v = sp[n]
        g[rt] = v
        return lr, ctr, xer, clk, impure, 0, 0, 0, d
    v = g[rt]
    impure += 1
    if n == SPR_LR:
        lr = v
    elif n == SPR_CTR:
        ctr = v
    elif n == SPR_XER:
        xer = v & (XER_SO | XER_OV | XER_CA | XER_OV32 | XER_CA32 | 0x7F)
    elif n == SPR_DEC:
        # DEC counts down at the timebase; the interrupt is the 0 -> -1 edge
        dv = sext(v, 4)
        sp[SPR_DEC] = dv
        ts[t, TS_DEC_TB] = tb_now(clk, prm)
        ts[t, TS_PEND] &= ~PB_DEC
        ts[t, TS_T_DEC] = clk if dv < 0 else clk_of_tb(ts[t, TS_DEC_TB] + dv + 1, prm)
        set_evt(ts, t)
        d = D_RECHECK
    elif n == SPR_SIMSTALL:
        if v > 0:
            if prm[PR_TRACE_EVENTS]:
                trace_record(t, clk, EV_STALL, v, pc, tlog, stats, ctl)
            clk += v
            stats[t, ST_CYCLES_STALL] += v
    elif n != SPR_PIR and n != SPR_SIMCYC:     # both read-only
        sp[n] = v
        d = D_RECHECK       # e.g. LPCR[HVICE] may unmask a pending interrupt
        if n == SPR_PIDR or n == SPR_PTCR or n == SPR_LPIDR or n == SPR_AMR or \
                n == SPR_IAMR or n == SPR_LPCR:
            spr_mmu(t, n, ts, xl, prm)
    return lr, ctr, xer, clk, impure, 0, 0, 0, d


@jit(inline="always")
def barrier(t, op, imm, clk, ts, log, stats, prm):
    """sync (L = imm: 0 hwsync, 1 lwsync, 2 ptesync), isync, eieio, msgsync.
    hwsync/ptesync wait for the thread's stores to be globally performed,
    ptesync also for its invalidations (section 4.2).  Under the weak memory
    model (weak.py) "performed" means seen by every thread, and hwsync/ptesync
    also wait for the stores the thread has read (cumulativity) and for its
    loads to be satisfied; lwsync and eieio raise the floor under the
    thread's next stores instead of waiting, lwsync and isync also the floor
    under its next loads.  -> clk"""
    weak = prm[PR_MEMORY_MODEL] != 0
    if op == OP_SYNC:
        if imm == 1:
            if weak:
                ts[t, TS_FLOOR] = max(ts[t, TS_FLOOR], ts[t, TS_STDONE], ts[t, TS_OBS],
                                      ts[t, TS_LDMAX])
                ts[t, TS_LDFLOOR] = max(ts[t, TS_LDFLOOR], ts[t, TS_LDMAX])
            return clk + prm[PR_COST_LWSYNC]
        base = prm[PR_COST_HWSYNC if imm == 0 else PR_COST_PTESYNC]
        c0 = clk + base
        clk = max(c0, ts[t, TS_STDONE], ts[t, TS_TLBI_ACK] if imm == 2 else 0,
                  max(ts[t, TS_OBS], ts[t, TS_LDMAX]) if weak else 0)
        if prm[PR_TRACE_EVENTS] and clk > c0:
            trace_record(t, c0 - base, EV_WAIT, clk, imm, log[0], stats, log[1])
        return clk
    if op == OP_ISYNC:
        if weak:
            ts[t, TS_LDFLOOR] = max(ts[t, TS_LDFLOOR], ts[t, TS_LDMAX])
        return clk + prm[PR_COST_ISYNC]
    if op == OP_EIEIO:
        if weak:
            ts[t, TS_FLOOR] = max(ts[t, TS_FLOOR], ts[t, TS_STDONE])
        return clk + prm[PR_COST_EIEIO]
    return clk + prm[PR_COST_MSGSYNC]


@jit(inline="always")
def system(t, ins, st, thr, xl, log, prm):
    """Everything else (SYSTEM family but the barriers, attn, illegal words):
    sysop out of line; msgsnd[p] and tlbie are ordered (they yield while
    another thread is behind, as larx does).  st = (pc, clk, msr, oend,
    cost).  -> (npc, clk, msr, vector, SRR0, SRR1 reason, to hypervisor, D_*)"""
    pc, clk, msr, oend, cost = st
    gpr, sprs, ts, stats, _ = thr
    op = ins[P_OP]
    if (op == OP_MSGSND or op == OP_MSGSNDP or op == OP_TLBIE) and clk - cost >= oend:
        return pc + 4, clk - cost, msr, 0, 0, 0, False, D_STAY | D_UNDO | D_LEAVE | D_RECHECK
    g = gpr[t]
    c0 = clk
    npc, clk, msr, xv, xs, xr, sf = sysop(t, ins, pc, clk, msr, g, ts, sprs, stats, xl, prm)
    if prm[PR_TRACE_EVENTS]:
        sys_event(t, op, g[ins[P_RB]], c0, clk, npc, msr, sf, sprs[t, SPR_PSSCR], log[0],
                  stats, log[1], prm)
    mc_flush(ts, t, 1)      # MSR or translations may have changed
    # e.g. msgsnd posts a doorbell; MSR, interrupts or sleep state may have changed
    d = D_OTHERS | D_RECHECK
    if sf & SYS_LEAVE:
        d |= D_LEAVE
    if xv != 0:
        d |= D_STAY
    return npc, clk, msr, xv, xs, xr, (sf & SYS_HV) != 0, d
