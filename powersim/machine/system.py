"""Privileged and system instructions (ops.py SYSTEM family, kept out of the
interpreter's hot loop: smaller compile, no cost for common ops) and their
trace events.
"""

from powersim.machine.bits import srl
from powersim.machine.irq import deliver, doorbell_lat, post, sleep_wake_time
from powersim.machine.jit import jit
from powersim.machine.layout import (
    DB_SERVER, EV_MSGSND, EV_RFID, EV_SLEEP, EV_WAIT, M32, MSR_DR, MSR_EE, MSR_HV, MSR_IR,
    MSR_PR, MSR_RI, PB_HDB, PB_PDB, PR_COST_RFID, PR_COST_TLBSYNC, PR_STOP, PR_STOP_LITE,
    PR_WAIT, PSSCR_EC, PSSCR_RL, SPR_HSRR0, SPR_HSRR1, SPR_PSSCR, SPR_SRR0, SPR_SRR1,
    SRR1_PROGPRIV, ST_DOORBELLS_RECV, ST_DOORBELLS_SENT, ST_STOP_ENTRIES, SYS_HV, SYS_LEAVE,
    SYS_SLEPT, S_STOP, TS_CLK, TS_CORE, TS_ESL, TS_PC, TS_PEND, TS_PIR, TS_RL, TS_SLEEP_T,
    TS_STATE, TS_THR, TS_TLBI_ACK, TS_WAKE_LAT,
)
from powersim.machine.memory import trace_record
from powersim.machine.mmu import erat_flush, tlbi
from powersim.ops import (
    OP_HRFID, OP_ILLEGAL, OP_MFMSR, OP_MSGCLR, OP_MSGCLRP, OP_MSGSND, OP_MSGSNDP, OP_MTMSR,
    OP_MTMSRD, OP_RFID, OP_SC, OP_SLBIA, OP_STOP, OP_TLBIE, OP_TLBIEL, OP_TLBSYNC, OP_WAIT,
    P_AUX, P_IMM, P_OP, P_RB, P_RT,
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
