"""The interpreter: the scheduler loop and the instruction dispatcher.

Host cost
---------
The scheduler and the interpreter are one loop (run_threads, called once per
Machine.run) and the next thread comes from a tournament tree (sched_*), so a
switch between threads costs O(log threads), not a scan plus a call with two
dozen array arguments.  run_threads is compiled without NRT reference
counting (``_nrt=False``, inherited by every function it calls): numba's
pruning leaves an atomic incref/decref per array argument at every call of a
large function, which cost more than the interpreted instructions.  Nothing
under run_threads may therefore allocate an array.
"""

from powersim.machine.alu import muldiv, rotate, unary_shift
from powersim.machine.bits import bswap, cmpbits, cr0, setcr, sext, srl, trap_cond
from powersim.machine.irq import (
    clk_of_tb, deliver, interrupt, mmio, resume, resume_ev, set_evt, spin_check,
    take_pending, tb_now,
)
from powersim.machine.jit import jit
from powersim.machine.layout import (
    ACC_FETCH, CTL_TRACE_N, ESB_BASE, ESB_STRIDE, EV_INTR, EV_STALL, EV_WAIT, EV_XIVE,
    HALTKEY, L1_SETS, LINE_SHIFT, L_RSV, L_SHARED, L_VER, L_WATCH, L_WTHR, M32, MC_LOAD,
    MC_STORE, MSR_DR, MSR_HV, MSR_IR, MSR_PR, OP_STALE, PB_DEC, PR_COST_EIEIO,
    PR_COST_HWSYNC, PR_COST_INTR, PR_COST_ISYNC, PR_COST_LWSYNC, PR_COST_MSGSYNC,
    PR_COST_PTESYNC, PR_ESB_LOAD, PR_ESB_STORE, PR_EXACT, PR_MAX_CYCLES, PR_MEMORY,
    PR_TRACE_EVENTS, PR_WATCH, RA_MASK, SPIN_LINES, SPR_AMR, SPR_CTR, SPR_DEC, SPR_IAMR,
    SPR_LPCR, SPR_LPIDR, SPR_LR, SPR_PIDR, SPR_PIR, SPR_PSSCR, SPR_PTCR, SPR_SIMCYC,
    SPR_SIMSTALL, SPR_TBL, SPR_TBU, SPR_XER, SRR1_PROGPRIV, SRR1_PROGTRAP, ST_CYCLES_STALL,
    ST_LOADS, ST_STCX_FAIL, ST_STCX_OK, ST_STORES, ST_XIVE_SENT, SYS_HV, SYS_LEAVE,
    SYS_SLEPT, S_HALT, S_RUN, TIMA_BASE, TRACE_BASE, TRACE_MARGIN, TRACE_SIZE, TS_CLK,
    TS_CORE, TS_CR, TS_DDELTA, TS_DEC_TB, TS_DPAGE, TS_DPERM, TS_EVT, TS_IDELTA, TS_IMPURE,
    TS_INSN, TS_IPAGE, TS_LD0, TS_LDV0, TS_MSR, TS_NLD, TS_PC, TS_PEND, TS_RES, TS_SCALE,
    TS_SPIN_PC, TS_STATE, TS_STDONE, TS_TLBI_ACK, TS_T_DEC, XER_CA, XER_CA32, XER_OV,
    XER_OV32, XER_SO, X_DECODE, X_DONE, X_MAXCYC, X_TRACE_FULL, X_WATCH,
)
from powersim.machine.memory import (
    fill_cost, invalidate_code, rd, store_effects, store_line, trace_record, wr,
)
from powersim.machine.mmu import data_xlate, fault_regs, mc_flush, spr_mmu, xlate
from powersim.machine.sched import sched_fix, sched_key, sched_sync, slice_ends
from powersim.machine.system import sys_event, sysop
from powersim.ops import (
    F_AA, F_BYTEREV, F_INDEXED, F_LK, F_OE, F_RC, F_SIGNED, F_SIZE_SHIFT, F_UPDATE, OP_ADD,
    OP_ADDE, OP_ADDI, OP_ADDIC, OP_ADDIS, OP_ADDME, OP_ADDZE, OP_AND, OP_ANDC, OP_ANDI,
    OP_ANDIS, OP_ATTN, OP_B, OP_BC, OP_BCCTR, OP_BCLR, OP_CACHE, OP_CMP, OP_CMPI, OP_CMPL,
    OP_CMPLI, OP_CRLOGIC, OP_DCBZ, OP_DIVWU, OP_EIEIO, OP_EQV, OP_EXTSB, OP_ISEL, OP_ISYNC,
    OP_LARX, OP_LOAD, OP_MCRF, OP_MFCR, OP_MFOCRF, OP_MFSPR, OP_MSGSND, OP_MSGSNDP,
    OP_MSGSYNC, OP_MTCRF, OP_MTOCRF, OP_MTSPR, OP_MULLD, OP_MULLI, OP_NAND, OP_NEG, OP_NOR,
    OP_OR, OP_ORC, OP_ORI, OP_ORIS, OP_RLDCR, OP_RLWINM, OP_SRADI, OP_STCX, OP_STORE,
    OP_SUBF, OP_SUBFE, OP_SUBFIC, OP_SUBFME, OP_SUBFZE, OP_SYNC, OP_TD, OP_TDI, OP_TLBIE,
    OP_TW, OP_TWI, OP_XOR, OP_XORI, OP_XORIS, P_AUX, P_FLAGS, P_IMM, P_LAT, P_OP, P_RA,
    P_RB, P_RT,
)


@jit(_nrt=False)     # no refcounting: module docstring, "Host cost"
def run_threads(memv, code, thr, cache, xl, io, sprcls, tlog, prm, ctl, key, tree):
    """The scheduler and the interpreter in one loop (one call per run, so
    the per-slice cost is no function call with two dozen arrays): run until
    every thread halted (X_DONE), the earliest clock reached max_cycles
    (X_MAXCYC) or an exit that needs Python; returns X_*.

    Scheduling (module docstring): the earliest thread t by (clock, index)
    runs a slice until its clock reaches `end`, it sleeps/halts, or it
    interacts with another thread.  Ordered operations (larx, stcx.,
    doorbells, MMIO, and accesses to lines that threads share) execute only
    while t is the globally earliest thread (clock < `oend`), so communication
    happens in global time order in fast mode too.  max_cycles is a pause
    that never changes a scheduling decision: a slice is cut at max_cycles
    only where the cut cannot change who runs next (exact mode, or no other
    thread with a finite clock); a fast-mode quantum may cross it.  So
    stopping at max_cycles and calling again with a larger limit is the same
    run as one call (Machine.run)."""
    mem, _, _, m64 = memv
    gpr, sprs, ts, stats, snap = thr
    lines, l1, _ = cache
    memsize = prm[PR_MEMORY]
    ncode = code.shape[0]
    maxc = prm[PR_MAX_CYCLES]
    exact = prm[PR_EXACT] != 0
    drain = tlog.shape[0] > 2 * TRACE_MARGIN
    watch = prm[PR_WATCH] - 1
    while True:
        if drain and ctl[CTL_TRACE_N] >= tlog.shape[0] - TRACE_MARGIN:
            return X_TRACE_FULL
        if watch >= 0 and ts[watch, TS_STATE] == S_HALT:
            return X_WATCH
        # ---- the scheduler: the earliest thread, and the next earliest
        t = tree[1]
        bc = key[t]
        if bc >= HALTKEY:
            return X_DONE
        if bc >= maxc:
            return X_MAXCYC
        if ts[t, TS_STATE] != S_RUN:
            if prm[PR_TRACE_EVENTS]:
                resume_ev(t, ts, sprs, lines, stats, prm, tlog, ctl)
            else:
                resume(t, ts, sprs, lines, stats, prm)
            key[t] = sched_key(ts, t)
            sched_fix(key, tree, t)
            continue
        oend, end = slice_ends(t, key, tree, maxc, exact, prm)
        # ---- one slice of thread t
        g = gpr[t]
        sp = sprs[t]
        scale = ts[t, TS_SCALE]
        l1base = ts[t, TS_CORE] * L1_SETS
        pc = ts[t, TS_PC]
        clk = ts[t, TS_CLK]
        msr = ts[t, TS_MSR]
        cr = ts[t, TS_CR]
        lr = sp[SPR_LR]
        ctr = sp[SPR_CTR]
        xer = sp[SPR_XER]
        ninsn = ts[t, TS_INSN]
        nld = ts[t, TS_NLD]
        impure = ts[t, TS_IMPURE]
        lim = -1            # run the boundary checks before the first instruction
        xv = 0              # synchronous interrupt raised by the instruction: vector,
        xs = 0              # SRR0,
        xr = 0              # SRR1 reason,
        xh = False          # and whether it goes to the hypervisor (sc 1)
        leave = False       # stop the slice at the next boundary
        others = False      # another thread's clock may have moved (sched_sync)
        exitcode = -1
        dpage = ipage = -1  # the micro-cache, reloaded from ts at every boundary
        ddelta = dperm = idelta = 0
        while True:
            if clk >= lim:
                # ---- boundary: write back, take interrupts, decide whether to go on
                ts[t, TS_PC] = pc
                ts[t, TS_CLK] = clk
                ts[t, TS_MSR] = msr
                ts[t, TS_CR] = cr
                sp[SPR_LR] = lr
                sp[SPR_CTR] = ctr
                sp[SPR_XER] = xer
                ts[t, TS_INSN] = ninsn
                ts[t, TS_NLD] = nld
                ts[t, TS_IMPURE] = impure
                if xv != 0:
                    if prm[PR_TRACE_EVENTS]:
                        trace_record(t, clk, EV_INTR, xv, xs, tlog, stats, ctl)
                    interrupt(t, xv, xs, xr, xv >= 0xE00, xh or xv >= 0xE00, ts, sprs, stats,
                              prm)
                    xv = 0
                    xh = False
                if leave or ts[t, TS_STATE] != S_RUN:
                    if exitcode >= 0 or ts[t, TS_STATE] != S_RUN:
                        break
                    # the scheduler's next pick: t again, when it is still the earliest
                    # (then the next slice is this one going on, with the same end)
                    if others:
                        sched_sync(ts, key, tree)
                        others = False
                    else:
                        key[t] = ts[t, TS_CLK]
                        sched_fix(key, tree, t)
                    if tree[1] != t or key[t] >= maxc or \
                            (drain and ctl[CTL_TRACE_N] >= tlog.shape[0] - TRACE_MARGIN):
                        break
                    oend, end = slice_ends(t, key, tree, maxc, exact, prm)
                    leave = False
                deliver(t, ts[t, TS_CLK], ts, prm)
                if ts[t, TS_PEND]:
                    i0 = ts[t, TS_IMPURE]
                    take_pending(t, ts, sprs, stats, prm)
                    if prm[PR_TRACE_EVENTS] and ts[t, TS_IMPURE] != i0:
                        trace_record(t, ts[t, TS_CLK] - prm[PR_COST_INTR], EV_INTR, ts[t, TS_PC],
                                     pc, tlog, stats, ctl)
                if ts[t, TS_STATE] != S_RUN or ts[t, TS_CLK] >= end:
                    break
                pc = ts[t, TS_PC]
                clk = ts[t, TS_CLK]
                msr = ts[t, TS_MSR]
                impure = ts[t, TS_IMPURE]
                lim = min(end, ts[t, TS_EVT])
                dpage = ts[t, TS_DPAGE]
                ddelta = ts[t, TS_DDELTA]
                dperm = ts[t, TS_DPERM]
                ipage = ts[t, TS_IPAGE]
                idelta = ts[t, TS_IDELTA]
            # ---- fetch
            if not msr & MSR_IR:
                fa = pc & RA_MASK
            elif pc >> 12 == ipage:
                fa = pc + idelta
            else:
                if clk >= oend:     # a TLB lookup or walk is ordered: it reads shared tables
                    leave = True
                    lim = -1
                    continue
                fa, _, _, xv, xr, c = xlate(t, pc, ACC_FETCH, msr, clk, m64, ts, sprs, cache,
                                            xl, stats, prm)
                clk += c
                lim = -1            # reload the micro-cache at the next boundary
                if xv != 0:
                    xs = pc
                    xr = fault_regs(t, xv, xr, pc, sprs)
                    continue
                ts[t, TS_IPAGE] = pc >> 12
                ts[t, TS_IDELTA] = fa - pc
            i = fa >> 2
            if i >= ncode or code[i, P_OP] == OP_STALE:
                if fa + 4 > memsize:
                    xv, xs, xr = 0x200, pc, 0
                    lim = -1
                    continue
                ctl[1] = fa
                exitcode = X_DECODE
                leave = True
                lim = -1
                continue
            op = code[i, P_OP]
            rt = code[i, P_RT]
            ra = code[i, P_RA]
            rb = code[i, P_RB]
            imm = code[i, P_IMM]
            fl = code[i, P_FLAGS]
            ninsn += 1
            clk += (code[i, P_LAT] * scale) >> 8
            npc = pc + 4

            if op == OP_ADDI:
                g[rt] = (g[ra] if ra else 0) + imm
            elif op == OP_LOAD or op == OP_STORE or op == OP_LARX or op == OP_STCX:
                sz = (fl >> F_SIZE_SHIFT) & 15
                ea = (g[ra] if ra else 0) + (g[rb] if fl & F_INDEXED else imm)
                if sz == 8 and op == OP_STORE and not ea & 7 and \
                        0 <= (ea & RA_MASK) - TRACE_BASE < TRACE_SIZE:
                    # trace port (TRACE_BASE): instrumentation, so undo the fetch's cost
                    clk -= (code[i, P_LAT] * scale) >> 8
                    ninsn -= 1
                    trace_record(t, clk, ((ea & RA_MASK) - TRACE_BASE) >> 3, g[rt], g[0], tlog,
                                 stats, ctl)
                    impure += 1         # not a spin: the loop's records must all appear
                    if ctl[CTL_TRACE_N] >= tlog.shape[0] - TRACE_MARGIN:
                        leave = True    # let Python drain the log (X_TRACE_FULL)
                        lim = -1
                    if fl & F_UPDATE:
                        g[ra] = ea
                    pc = npc
                    continue
                if not msr & MSR_DR:
                    rea = ea & RA_MASK
                elif ea >> 12 == dpage and dperm & (MC_STORE if op == OP_STORE or op == OP_STCX
                                                    else MC_LOAD):
                    rea = ea + ddelta
                else:
                    if clk - ((code[i, P_LAT] * scale) >> 8) >= oend:
                        clk -= (code[i, P_LAT] * scale) >> 8    # ordered, as below: yield
                        ninsn -= 1
                        leave = True
                        lim = -1
                        continue
                    rea, xv, xr, c = data_xlate(t, ea, op == OP_STORE or op == OP_STCX, msr, clk,
                                                m64, ts, sprs, cache, xl,
                                                stats, prm)
                    clk += c
                    lim = -1
                    if xv != 0:
                        xs = pc
                        continue
                if rea + sz > memsize:
                    line = -1
                    ordered = True
                    hit = False
                else:
                    # a private line (last written by this thread, or never) needs no
                    # ordering and, when its L1 copy is current, no latency model
                    line = rea >> LINE_SHIFT
                    w = lines[line, L_WTHR] - 1     # -1: none
                    private = w == t or w < 0
                    if not private:
                        lines[line, L_SHARED] = 1
                    elif lines[line, L_SHARED]:
                        private = False
                    ordered = not private or op == OP_LARX or op == OP_STCX
                    i1 = l1base + (line & (L1_SETS - 1))
                    hit = private and l1[i1, 0] == line and l1[i1, 1] == lines[line, L_VER]
                if ordered and clk - ((code[i, P_LAT] * scale) >> 8) >= oend:
                    # ordered operation while others are behind: undo the fetch, yield
                    clk -= (code[i, P_LAT] * scale) >> 8
                    ninsn -= 1
                    leave = True
                    lim = -1
                    continue
                if rea + sz > memsize:
                    i0 = stats[t, ST_XIVE_SENT]
                    others = True       # an ESB access may post to a thread
                    v, ok = mmio(t, rea, sz, g[rt] if op == OP_STORE else 0, op == OP_STORE,
                                 clk, ts, sprs, io, stats, prm)
                    if prm[PR_TRACE_EVENTS] and stats[t, ST_XIVE_SENT] != i0:
                        trace_record(t, clk, EV_XIVE, io[0][(rea - ESB_BASE) // ESB_STRIDE], 0,
                                     tlog, stats, ctl)
                    if not ok:
                        xv, xs, xr = 0x200, pc, 0
                        lim = -1
                        continue
                    if op == OP_LOAD:
                        v = v if fl & F_BYTEREV else bswap(v, sz)   # registers are big-endian
                        g[rt] = sext(v, sz) if fl & F_SIGNED else v
                    if ESB_BASE <= rea < TIMA_BASE:     # the XIVE's ESB pages, off-core
                        if op == OP_LOAD:
                            clk += prm[PR_ESB_LOAD]
                        elif clk + prm[PR_ESB_STORE] > ts[t, TS_STDONE]:
                            ts[t, TS_STDONE] = clk + prm[PR_ESB_STORE]  # sync waits for it
                    impure += 1
                    leave = True
                    lim = -1
                else:
                    if op == OP_LOAD or op == OP_LARX:
                        if not hit:
                            clk += fill_cost(t, line, clk, ts, cache, stats, prm)
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
                                    ts[t, TS_LDV0 + nld] = lines[line, L_VER]
                                nld += 1
                        if op == OP_LARX:
                            leave = True    # let the others catch up: atomics interleave
                            lim = -1
                            old = ts[t, TS_RES]
                            if old != line:
                                if old >= 0:
                                    lines[old, L_RSV] -= 1
                                lines[line, L_RSV] += 1
                                ts[t, TS_RES] = line
                    else:
                        ok = True
                        if op == OP_STCX:
                            ok = ts[t, TS_RES] == line
                            if ts[t, TS_RES] >= 0:
                                lines[ts[t, TS_RES], L_RSV] -= 1
                                ts[t, TS_RES] = -1
                            cr = setcr(cr, 0, (2 if ok else 0) | ((xer >> 31) & 1))
                            stats[t, ST_STCX_OK if ok else ST_STCX_FAIL] += 1
                            leave = True        # an atomic is a cross-thread interaction
                            lim = -1
                        if ok:
                            own = 0 if hit else fill_cost(t, line, clk, ts, cache,
                                                          stats, prm)
                            if op == OP_STCX:
                                clk += own      # stcx. completes only with ownership
                            elif clk + own > ts[t, TS_STDONE]:
                                ts[t, TS_STDONE] = clk + own
                            v = g[rt]
                            wr(memv, rea, sz, bswap(v, sz) if fl & F_BYTEREV else v)
                            store_line(t, line, clk, ts, cache)
                            if lines[line, L_RSV] > 0 or lines[line, L_WATCH] > 0:
                                if store_effects(t, line, clk, ts, lines):
                                    leave = True
                                    others = True
                                    lim = -1
                            invalidate_code(code, rea, sz, prm)
                            stats[t, ST_STORES] += 1
                        impure += 1
                if fl & F_UPDATE:
                    g[ra] = ea
            elif op == OP_BC:
                bo = rt
                if (bo & 4) == 0:
                    ctr -= 1
                if ((bo & 4) or ((ctr != 0) ^ ((bo >> 1) & 1))) and \
                        ((bo & 16) or ((cr >> (31 - ra)) & 1) == ((bo >> 3) & 1)):
                    npc = imm if fl & F_AA else pc + imm
                if fl & F_LK:
                    lr = pc + 4
            elif op >= OP_ADD and op <= OP_NEG:
                a = g[ra]
                b = g[rb]
                cin = 0
                if op >= OP_SUBF:
                    a = ~a
                    cin = 1
                if op == OP_ADDZE or op == OP_SUBFZE:
                    b = 0
                elif op == OP_ADDME or op == OP_SUBFME:
                    b = -1
                elif op == OP_NEG:
                    b = 0
                if op == OP_ADDE or op == OP_ADDZE or op == OP_ADDME or op == OP_SUBFE or \
                        op == OP_SUBFZE or op == OP_SUBFME:
                    cin = (xer >> 29) & 1
                res = a + b + cin
                if op != OP_ADD and op != OP_SUBF and op != OP_NEG:
                    c = (a & b) | ((a | b) & ~res)
                    xer = (xer & ~(XER_CA | XER_CA32)) | (srl(c, 63) << 29) | \
                        (((c >> 31) & 1) << 18)
                if fl & F_OE:
                    o = (a ^ res) & (b ^ res)
                    ov = srl(o, 63)
                    xer = (xer & ~(XER_OV | XER_OV32)) | (ov << 30) | (((o >> 31) & 1) << 19)
                    if ov:
                        xer |= XER_SO
                g[rt] = res
                if fl & F_RC:
                    cr = cr0(cr, res, xer)
            elif op == OP_CMPI or op == OP_CMP or op == OP_CMPLI or op == OP_CMPL:
                a = g[ra]
                b = imm if (op == OP_CMPI or op == OP_CMPLI) else g[rb]
                signed = op == OP_CMPI or op == OP_CMP
                if code[i, P_AUX] == 0:
                    if signed:
                        a = sext(a, 4)
                        b = sext(b, 4)
                    else:
                        a &= M32
                        b &= M32
                cr = setcr(cr, rt, cmpbits(a, b, signed) | ((xer >> 31) & 1))
            elif op >= OP_AND and op <= OP_XORIS:
                s = g[rt]
                b = g[rb]
                if op == OP_AND:
                    res = s & b
                elif op == OP_ANDC:
                    res = s & ~b
                elif op == OP_OR:
                    res = s | b
                elif op == OP_ORC:
                    res = s | ~b
                elif op == OP_XOR:
                    res = s ^ b
                elif op == OP_NAND:
                    res = ~(s & b)
                elif op == OP_NOR:
                    res = ~(s | b)
                elif op == OP_EQV:
                    res = ~(s ^ b)
                elif op == OP_ANDI:
                    res = s & imm
                elif op == OP_ANDIS:
                    res = s & (imm << 16)
                elif op == OP_ORI:
                    res = s | imm
                elif op == OP_ORIS:
                    res = s | (imm << 16)
                elif op == OP_XORI:
                    res = s ^ imm
                else:
                    res = s ^ (imm << 16)
                g[ra] = res
                if fl & F_RC:
                    cr = cr0(cr, res, xer)
            elif op >= OP_RLWINM and op <= OP_RLDCR:
                res = rotate(op, g[rt], g[ra], g[rb], imm, code[i, P_AUX])
                g[ra] = res
                if fl & F_RC:
                    cr = cr0(cr, res, xer)
            elif op == OP_B:
                npc = imm if fl & F_AA else pc + imm
                if fl & F_LK:
                    lr = pc + 4
            elif op == OP_BCLR or op == OP_BCCTR:
                bo = rt
                if op == OP_BCLR and (bo & 4) == 0:
                    ctr -= 1
                target = (lr if op == OP_BCLR else ctr) & ~3
                if ((bo & 4) or ((ctr != 0) ^ ((bo >> 1) & 1))) and \
                        ((bo & 16) or ((cr >> (31 - ra)) & 1) == ((bo >> 3) & 1)):
                    npc = target
                if fl & F_LK:
                    lr = pc + 4
            elif op == OP_ADDIS:
                g[rt] = (g[ra] if ra else 0) + (imm << 16)
            elif op >= OP_EXTSB and op <= OP_SRADI:
                res, xer = unary_shift(op, g[rt], g[rb], imm, xer)
                g[ra] = res
                if fl & F_RC:
                    cr = cr0(cr, res, xer)
            elif op == OP_MFSPR or op == OP_MTSPR:
                n = imm
                cls = sprcls[n]     # 0 user, 1 privileged, 2 hypervisor (state.py)
                if cls >= 1 and (msr & MSR_PR):
                    xv, xs, xr = 0x700, pc, SRR1_PROGPRIV
                    lim = -1
                    continue
                if cls == 2 and not (msr & MSR_HV):
                    xv, xs, xr = 0xE40, pc, 0
                    lim = -1
                    continue
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
                else:
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
                        ts[t, TS_T_DEC] = clk if dv < 0 else \
                            clk_of_tb(ts[t, TS_DEC_TB] + dv + 1, prm)
                        set_evt(ts, t)
                        lim = -1
                    elif n == SPR_SIMSTALL:
                        if v > 0:
                            if prm[PR_TRACE_EVENTS]:
                                trace_record(t, clk, EV_STALL, v, pc, tlog, stats, ctl)
                            clk += v
                            stats[t, ST_CYCLES_STALL] += v
                    elif n != SPR_PIR and n != SPR_SIMCYC:     # both read-only
                        sp[n] = v
                        lim = -1        # e.g. LPCR[HVICE] may unmask a pending interrupt
                        if n == SPR_PIDR or n == SPR_PTCR or n == SPR_LPIDR or n == SPR_AMR or \
                                n == SPR_IAMR or n == SPR_LPCR:
                            spr_mmu(t, n, ts, xl, prm)
            elif op == OP_MULLI or (op >= OP_MULLD and op <= OP_DIVWU):
                res, ov = muldiv(op, g[ra], imm if op == OP_MULLI else g[rb])
                if fl & F_OE:
                    xer = (xer & ~(XER_OV | XER_OV32)) | (ov << 30) | (ov << 19)
                    if ov:
                        xer |= XER_SO
                g[rt] = res
                if fl & F_RC:
                    cr = cr0(cr, res, xer)
            elif op == OP_ADDIC or op == OP_SUBFIC:
                a = g[ra]
                if op == OP_SUBFIC:
                    a = ~a
                b = imm
                res = a + b + (1 if op == OP_SUBFIC else 0)
                c = (a & b) | ((a | b) & ~res)
                xer = (xer & ~(XER_CA | XER_CA32)) | (srl(c, 63) << 29) | (((c >> 31) & 1) << 18)
                g[rt] = res
                if fl & F_RC:
                    cr = cr0(cr, res, xer)
            elif op == OP_ISEL:
                g[rt] = (g[ra] if ra else 0) if (cr >> (31 - imm)) & 1 else g[rb]
            elif op == OP_CRLOGIC:
                a = (cr >> (31 - ra)) & 1
                b = (cr >> (31 - rb)) & 1
                r = (code[i, P_AUX] >> (2 * a + b)) & 1
                cr = (cr & ~(1 << (31 - rt)) & M32) | (r << (31 - rt))
            elif op == OP_MCRF:
                cr = setcr(cr, rt, (cr >> (28 - 4 * (ra >> 2))) & 0xF)
            elif op == OP_MFCR or op == OP_MFOCRF:
                m = M32
                if op == OP_MFOCRF:
                    m = 0
                    for f in range(8):
                        if (imm >> (7 - f)) & 1:
                            m |= 0xF << (28 - 4 * f)
                g[rt] = cr & m
            elif op == OP_MTCRF or op == OP_MTOCRF:
                m = 0
                for f in range(8):
                    if (imm >> (7 - f)) & 1:
                        m |= 0xF << (28 - 4 * f)
                cr = (cr & ~m & M32) | (g[rt] & m)
            elif op == OP_TW or op == OP_TD or op == OP_TWI or op == OP_TDI:
                a = g[ra]
                b = imm if (op == OP_TWI or op == OP_TDI) else g[rb]
                if op == OP_TW or op == OP_TWI:
                    a = sext(a, 4)
                    b = sext(b, 4)
                if trap_cond(rt, a, b):
                    xv, xs, xr = 0x700, pc, SRR1_PROGTRAP
                    lim = -1
                    continue
            elif op == OP_SYNC or op == OP_ISYNC or op == OP_EIEIO or op == OP_MSGSYNC:
                if op == OP_SYNC:
                    if imm == 1:
                        clk += prm[PR_COST_LWSYNC]
                    else:   # hwsync / ptesync wait for the stores to be globally performed,
                        # ptesync also for this thread's invalidations (section 4.2)
                        c0 = clk + prm[PR_COST_HWSYNC if imm == 0 else PR_COST_PTESYNC]
                        clk = max(c0, ts[t, TS_STDONE], ts[t, TS_TLBI_ACK] if imm == 2 else 0)
                        if prm[PR_TRACE_EVENTS] and clk > c0:
                            trace_record(t, c0 - prm[PR_COST_HWSYNC if imm == 0 else PR_COST_PTESYNC],
                                         EV_WAIT, clk, imm, tlog, stats, ctl)
                elif op == OP_ISYNC:
                    clk += prm[PR_COST_ISYNC]
                elif op == OP_EIEIO:
                    clk += prm[PR_COST_EIEIO]
                else:
                    clk += prm[PR_COST_MSGSYNC]
            elif op == OP_CACHE:
                pass        # dcbf/dcbst/dcbt/icbi: coherence is modelled without them
            elif op == OP_DCBZ:
                ea = ((g[ra] if ra else 0) + g[rb]) & ~127
                rea, xv, xr, c = data_xlate(t, ea, True, msr, clk, m64, ts, sprs, cache, xl, stats, prm)
                clk += c
                if xv != 0:
                    xs = pc
                    lim = -1
                    continue
                if rea + 128 > memsize:
                    xv, xs, xr = 0x200, pc, 0
                    lim = -1
                    continue
                line = rea >> LINE_SHIFT
                own = fill_cost(t, line, clk, ts, cache, stats, prm)
                if clk + own > ts[t, TS_STDONE]:
                    ts[t, TS_STDONE] = clk + own
                mem[rea:rea + 128] = 0
                store_line(t, line, clk, ts, cache)
                if store_effects(t, line, clk, ts, lines):
                    leave = True
                    others = True
                    lim = -1
                invalidate_code(code, rea, 128, prm)
                stats[t, ST_STORES] += 1
                impure += 1
            elif op == OP_ATTN:
                ts[t, TS_STATE] = S_HALT
                lim = -1
            else:
                # ---- privileged and system instructions (rare): out of line
                if (op == OP_MSGSND or op == OP_MSGSNDP or op == OP_TLBIE) and \
                        clk - ((code[i, P_LAT] * scale) >> 8) >= oend:
                    clk -= (code[i, P_LAT] * scale) >> 8      # ordered: as for larx
                    ninsn -= 1
                    leave = True
                    lim = -1
                    continue
                c0 = clk
                others = True       # e.g. msgsnd posts a doorbell
                npc, clk, msr, xv, xs, xr, sf = sysop(t, code[i], pc, clk, msr, g, ts, sprs,
                                                      stats, xl, prm)
                if prm[PR_TRACE_EVENTS]:
                    sys_event(t, op, g[rb], c0, clk, npc, msr, sf, sp[SPR_PSSCR], tlog, stats,
                              ctl, prm)
                mc_flush(ts, t, 1)  # MSR or translations may have changed
                lim = -1        # MSR, interrupts or sleep state may have changed: recheck
                impure += 1
                xh = (sf & SYS_HV) != 0
                if sf & SYS_LEAVE:
                    leave = True
                if xv != 0:
                    continue
                if sf & SYS_SLEPT:
                    pc = npc
                    continue
            if npc <= pc and (op == OP_BC or op == OP_B):
                # ---- taken backward branch: spin-loop detection (module docstring)
                if impure == 0 and nld <= SPIN_LINES:
                    ts[t, TS_CR] = cr       # the state spin_check compares (the
                    sp[SPR_LR] = lr         # boundary writes it back anyway)
                    sp[SPR_CTR] = ctr
                    sp[SPR_XER] = xer
                    w = spin_check(t, pc, clk, ninsn, nld, msr, g, ts, sprs, lines, snap, stats)
                    if w >= 0:
                        pc = npc
                        clk = w
                        lim = -1
                        continue
                else:
                    ts[t, TS_SPIN_PC] = -1
                nld = 0
                impure = 0
            pc = npc
        # ---- the slice ended: back to the scheduler
        if exitcode >= 0:
            return exitcode
        if others:
            sched_sync(ts, key, tree)
        else:
            key[t] = sched_key(ts, t)
            sched_fix(key, tree, t)
