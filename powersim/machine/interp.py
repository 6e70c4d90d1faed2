"""The interpreter: the scheduler loop and the instruction dispatcher.

run_threads is three parts: the scheduler (pick the earliest thread, resume
it or start its slice), the boundary (write the slice's registers back,
take interrupts, decide whether the slice goes on) and, per instruction,
fetch and dispatch.  Dispatch calls one function per instruction family
(ops.py FAMILIES: alu.py, lsu.py, system.py, ``branch`` here), each inlined
by numba (``inline="always"``), so the loop costs no call; a family returns
the registers it changed and ``D_*`` flags (layout.py) that say whether the
pc advances, the boundary must run, the slice must end or other threads'
clocks moved.  A new family gets its function in the room of its concern
and one ``elif`` here.

Issue model
-----------
A thread's clock is its issue frontier, an interval/scoreboard model in
the manner of fast simulators (Sniper, ZSim) kept in order so that every
memory access still happens at the thread's clock (the ordering rules of
sched.py need nothing new):

* Each thread keeps the cycle each register is ready (ts[t, TS_RDY0 + r],
  GPRs, CR fields, LR, CTR, XER; the instruction's sources and targets are
  predecoded, ops.py ``P_SRC``/``P_DST``).  An instruction issues when its
  sources are ready (stall on use), its targets are ready ``P_LAT`` later, a
  load's plus its miss latency (lsu.py): a miss stalls only the first use
  of its result, so independent misses overlap up to the load-miss queue
  and a pointer chase does not.  A store does not wait for its data.
* Issue slots: ``issue_slices`` slice instructions (fixed point,
  load/store, multiply) or ``dispatch_width`` others per cycle, shared by
  the threads running on the core (sched.issue_costs, ``smt_cost_pct``).
* Interrupts are taken once every result in flight is ready.
* Serializing instructions (``DEP_BLOCK``: system instructions, barriers,
  mtspr/mfspr of other SPRs, CR moves) are charged their latency on the
  clock before they execute, as every instruction was before overlap was
  modelled; ``DEP_DRAIN`` ones (hwsync, ptesync, isync, rfid, mtspr,
  mtmsr, tlbie, attn...) first wait for every result in flight (TS_DRAIN).
* A taken branch ends its cycle's fetch group (at most one taken branch a
  cycle; UNVERIFIED: the usual front end, fetch follows one redirect a cycle).
* Branches issue without waiting: they are predicted, by the ``at`` hint of a
  CR-testing bc+/bc- (``bne-`` after stcx.), else statically (backward
  taken, forward not taken; bclr/bcctr by the link stack and count cache,
  always right).  A mispredicted one stalls the thread until its condition
  is ready plus ``mispredict_penalty``.  A dynamic predictor needs per-branch
  state the kernel's loops do not need: they are backward-taken loops and
  forward error checks.
* Not modelled: out-of-order issue past a stalled instruction (a later
  independent instruction waits behind it), fetch and decode limits,
  register-port and store-queue limits.

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

from powersim.machine.alu import (
    addic, addsub, compare, crfield, logical, muldiv_into, rotate_into, trap, unary_into,
)
from powersim.machine.irq import (
    deliver, interrupt, resume, resume_ev, spin_check, take_pending,
)
from powersim.machine.jit import jit
from powersim.machine.layout import (
    ACC_FETCH, CTL_TRACE_N, D_LEAVE, D_OTHERS, D_RECHECK, D_STAY, D_UNDO, EV_INTR, HALTKEY,
    MSR_IR, OP_STALE, PR_COST_INTR, PR_EXACT, PR_MAX_CYCLES, PR_MEMORY,
    PR_MISPREDICT_PENALTY, PR_TRACE_EVENTS, PR_WATCH, RA_MASK, SLOT_ONE, SPIN_LINES, SPIN_SNAP, SPR_CTR,
    SPR_LR, SPR_XER, SRR1_PROGTRAP, ST_BOUNDARIES, ST_MISPREDICTS, ST_SLICES, S_HALT, S_RUN, TRACE_MARGIN, TS_CLK,
    TS_CORE, TS_CR, TS_DDELTA, TS_DPAGE, TS_DPERM, TS_DRAIN, TS_EVT, TS_FRAC, TS_IDELTA,
    TS_IMPURE, TS_INSN, TS_IPAGE, TS_MSR, TS_NLD, TS_PC, TS_PEND, TS_RDY0, TS_SPIN_CNT, TS_SPIN_PC,
    TS_STATE, X_DECODE, X_DONE, X_MAXCYC, X_TRACE_FULL, X_WATCH,
)
from powersim.machine.lsu import dcbz, load_store
from powersim.machine.memory import trace_record
from powersim.machine.mmu import fault_regs, xlate
from powersim.machine.sched import issue_costs, sched_fix, sched_key, sched_sync, slice_ends
from powersim.machine.system import barrier, spr_move, system
from powersim.ops import (
    ADDSUB_HI, ADDSUB_LO, BRANCH_HI, BRANCH_LO, COMPARE_HI, COMPARE_LO, CRFIELD_HI,
    CRFIELD_LO, DEP_BITS, DEP_BLOCK, DEP_DRAIN, DEP_MASK, DEP_REGS, F_AA, F_LK, NDEP, LOGICAL_HI, LOGICAL_LO, MEMORY_HI, MEMORY_LO, MULDIV_HI,
    MULDIV_LO, OP_ADDI, OP_ADDIC, OP_ADDIS, OP_ATTN, OP_B, OP_BC, OP_BCCTR, OP_BCLR,
    OP_CACHE, OP_DCBZ, OP_EIEIO, OP_ISEL, OP_ISYNC, OP_MSGSYNC, OP_STORE, OP_SUBFIC, OP_SYNC,
    P_AUX,
    P_DST, P_FLAGS, P_IMM, P_LAT, P_OP, P_RA, P_RB, P_RT, P_SRC, P_UNIT, ROTATE_HI, ROTATE_LO, SPRMOVE_HI,
    SPRMOVE_LO, TRAP_HI, TRAP_LO, U_LSU, UNARY_HI, UNARY_LO,
)


@jit(inline="always")
def branch(op, bo, bi, imm, fl, pc, cr, lr, ctr):
    """BRANCH (b bc bclr bcctr): BO, BI, the displacement; LK sets LR, AA makes
    the target absolute.  -> (npc, lr, ctr)"""
    npc = pc + 4
    if op == OP_B:
        npc = imm if fl & F_AA else pc + imm
    else:
        if op != OP_BCCTR and (bo & 4) == 0:
            ctr -= 1
        if ((bo & 4) or ((ctr != 0) ^ ((bo >> 1) & 1))) and \
                ((bo & 16) or ((cr >> (31 - bi)) & 1) == ((bo >> 3) & 1)):
            if op == OP_BC:
                npc = imm if fl & F_AA else pc + imm
            else:
                npc = (lr if op == OP_BCLR else ctr) & ~3
    if fl & F_LK:
        lr = pc + 4
    return npc, lr, ctr


@jit(_nrt=False)     # no refcounting: module docstring, "Host cost"
def run_threads(memv, code, thr, cache, xl, io, sprcls, tlog, prm, ctl, key, tree, issue):
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
    m64 = memv[3]
    gpr, sprs, ts, stats, snap = thr
    lines = cache[0]
    log = (tlog, ctl)
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
        stats[t, ST_SLICES] += 1
        g = gpr[t]
        sp = sprs[t]
        rdy = ts[t, TS_RDY0:TS_RDY0 + NDEP]  # ready cycle of each register (ops.py DEP_*)
        core = ts[t, TS_CORE]
        frac = ts[t, TS_FRAC]
        drainv = ts[t, TS_DRAIN]
        c_slice = c_disp = 0   # issue-slot costs, set at every boundary
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
                stats[t, ST_BOUNDARIES] += 1
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
                ts[t, TS_FRAC] = frac
                ts[t, TS_DRAIN] = drainv
                if xv != 0:
                    if drainv > clk:    # an interrupt completes what came before it
                        clk = drainv
                        ts[t, TS_CLK] = clk
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
                        sched_sync(t, ts, key, tree)
                        others = False
                    else:
                        key[t] = ts[t, TS_CLK]
                        sched_fix(key, tree, t)
                    if tree[1] != t or key[t] >= maxc or \
                            (drain and ctl[CTL_TRACE_N] >= tlog.shape[0] - TRACE_MARGIN):
                        break
                    oend, end = slice_ends(t, key, tree, maxc, exact, prm)
                    leave = False
                if ts[t, TS_EVT] <= ts[t, TS_CLK]:     # deliver's own test, without the call
                    deliver(t, ts[t, TS_CLK], ts, prm)
                if ts[t, TS_PEND]:
                    i0 = ts[t, TS_IMPURE]
                    take_pending(t, ts, sprs, stats, prm)
                    if ts[t, TS_IMPURE] != i0:      # taken: after what came before it
                        ts[t, TS_CLK] = max(ts[t, TS_CLK], drainv + prm[PR_COST_INTR])
                    if prm[PR_TRACE_EVENTS] and ts[t, TS_IMPURE] != i0:
                        trace_record(t, ts[t, TS_CLK] - prm[PR_COST_INTR], EV_INTR, ts[t, TS_PC],
                                     pc, tlog, stats, ctl)
                if ts[t, TS_STATE] != S_RUN or ts[t, TS_CLK] >= end:
                    break
                pc = ts[t, TS_PC]
                clk = ts[t, TS_CLK]
                msr = ts[t, TS_MSR]
                impure = ts[t, TS_IMPURE]
                # the core's running threads change at smt_until: a boundary then
                c_slice, c_disp, smt_until = issue_costs(t, clk, ts, issue, prm)
                lim = min(end, ts[t, TS_EVT], smt_until)
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
            # ---- issue (module docstring, "Issue model")
            dst = code[i, P_DST]
            cost = 0
            if dst >= DEP_BLOCK:        # serializing: charged before it executes
                if dst & DEP_DRAIN and drainv > clk:
                    clk = drainv
                cost = code[i, P_LAT]
                clk += cost
                frac = 0
            elif op != OP_STORE and (op < BRANCH_LO or op > BRANCH_HI):
                s = code[i, P_SRC]
                while s:
                    r = rdy[(s & DEP_MASK) - 1]
                    if r > clk:
                        clk = r
                        frac = 0
                    s >>= DEP_BITS
            ninsn += 1
            npc = pc + 4
            xlat = 0

            # ---- dispatch: each family one inlined function (ops.py FAMILIES), in
            # the order of their frequency in the kernel's loops
            d = 0
            if op == OP_ADDI:
                g[rt] = (g[ra] if ra else 0) + imm
            elif op >= MEMORY_LO and op <= MEMORY_HI:
                clk, cr, nld, impure, xv, xs, xr, d, xlat = load_store(
                    t, (op, rt, ra, rb, imm, fl, cost), (pc, clk, msr, oend, cr, xer, nld, impure),
                    (dpage, ddelta, dperm, core), memv, code, thr, cache, xl, io, log, prm)
            elif op >= BRANCH_LO and op <= BRANCH_HI:
                npc, lr, ctr = branch(op, rt, ra, imm, fl, pc, cr, lr, ctr)
                if op == OP_BC and (rt & 0x14) != 0x14 and (npc != pc + 4) != (
                        (rt & 1) != 0 if (rt & 0x16) == 0x06 else imm <= 0):
                    # mispredicted (the at hint of bc+/bc-, else static: backward
                    # taken): wait for the branch to resolve, then refetch
                    s = code[i, P_SRC]
                    while s:
                        clk = max(clk, rdy[(s & DEP_MASK) - 1])
                        s >>= DEP_BITS
                    clk += prm[PR_MISPREDICT_PENALTY]
                    frac = 0
                    stats[t, ST_MISPREDICTS] += 1
                if npc != pc + 4:
                    frac = SLOT_ONE - c_disp     # a taken branch ends its fetch group
            elif op >= ADDSUB_LO and op <= ADDSUB_HI:
                cr, xer = addsub(op, rt, ra, rb, fl, g, cr, xer)
            elif op >= COMPARE_LO and op <= COMPARE_HI:
                cr = compare(op, rt, ra, rb, imm, code[i, P_AUX], g, cr, xer)
            elif op >= LOGICAL_LO and op <= LOGICAL_HI:
                cr = logical(op, rt, ra, rb, imm, fl, g, cr, xer)
            elif op >= ROTATE_LO and op <= ROTATE_HI:
                cr = rotate_into(op, rt, ra, rb, imm, code[i, P_AUX], fl, g, cr, xer)
            elif op == OP_ADDIS:
                g[rt] = (g[ra] if ra else 0) + (imm << 16)
            elif op >= UNARY_LO and op <= UNARY_HI:
                cr, xer = unary_into(op, rt, ra, rb, imm, fl, g, cr, xer)
            elif op >= SPRMOVE_LO and op <= SPRMOVE_HI:
                lr, ctr, xer, clk, impure, xv, xs, xr, d = spr_move(
                    t, op, rt, imm, (pc, clk, msr, lr, ctr, xer, impure), thr, sprcls, xl, log,
                    prm)
            elif op >= MULDIV_LO and op <= MULDIV_HI:
                cr, xer = muldiv_into(op, rt, ra, rb, imm, fl, g, cr, xer)
            elif op == OP_ADDIC or op == OP_SUBFIC:
                cr, xer = addic(op, rt, ra, imm, fl, g, cr, xer)
            elif op == OP_ISEL:
                g[rt] = (g[ra] if ra else 0) if (cr >> (31 - imm)) & 1 else g[rb]
            elif op >= CRFIELD_LO and op <= CRFIELD_HI:
                cr = crfield(op, rt, ra, rb, imm, code[i, P_AUX], g, cr)
            elif op >= TRAP_LO and op <= TRAP_HI:
                if trap(op, rt, ra, rb, imm, g):
                    xv, xs, xr, d = 0x700, pc, SRR1_PROGTRAP, D_STAY | D_RECHECK
            elif op == OP_SYNC or op == OP_ISYNC or op == OP_EIEIO or op == OP_MSGSYNC:
                clk = barrier(t, op, imm, clk, ts, log, stats, prm)
            elif op == OP_CACHE:
                pass        # dcbf/dcbst/dcbt/icbi: coherence is modelled without them
            elif op == OP_DCBZ:
                clk, xv, xs, xr, d = dcbz(t, ((g[ra] if ra else 0) + g[rb]) & ~127, pc, clk, msr,
                                          oend, memv, code, thr, cache, xl, prm)
            elif op == OP_ATTN:
                ts[t, TS_STATE] = S_HALT
                d = D_RECHECK
            else:       # privileged and system instructions (rare): sysop, out of line
                npc, clk, msr, xv, xs, xr, xh, d = system(t, code[i], (pc, clk, msr, oend, cost),
                                                          thr, xl, log, prm)
                if not d & D_UNDO:
                    impure += 1
            if d:       # what the family asks of the loop (layout.py D_*)
                if d & D_UNDO:
                    ninsn -= 1
                if d & D_LEAVE:
                    leave = True
                if d & D_OTHERS:
                    others = True
                if d & D_RECHECK:
                    lim = -1
                if d & D_STAY:
                    continue
            if not d & D_UNDO:
                # results ready, and the issue slot this instruction took
                dm = dst & DEP_REGS
                if dm:
                    rv = clk if dst >= DEP_BLOCK else clk + code[i, P_LAT] + xlat
                    if rv > drainv:
                        drainv = rv
                    while dm:
                        rdy[(dm & DEP_MASK) - 1] = rv
                        dm >>= DEP_BITS
                frac += c_slice if code[i, P_UNIT] <= U_LSU else c_disp
                if frac >= SLOT_ONE:
                    clk += frac // SLOT_ONE
                    frac %= SLOT_ONE
            if npc <= pc and (op == OP_BC or op == OP_B):
                # ---- taken backward branch: spin-loop detection (module docstring)
                if impure == 0 and nld <= SPIN_LINES:
                    if ts[t, TS_SPIN_PC] == pc and ts[t, TS_SPIN_CNT] < SPIN_SNAP - 1:
                        ts[t, TS_SPIN_CNT] += 1     # spin_check's count before its snapshot
                    else:
                        ts[t, TS_CR] = cr       # the state spin_check compares (the
                        sp[SPR_LR] = lr         # boundary writes it back anyway)
                        sp[SPR_CTR] = ctr
                        sp[SPR_XER] = xer
                        w = spin_check(t, pc, clk, ninsn, nld, msr, g, ts, sprs, lines, snap,
                                       stats)
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
            sched_sync(t, ts, key, tree)
        else:
            key[t] = sched_key(ts, t)
            sched_fix(key, tree, t)
