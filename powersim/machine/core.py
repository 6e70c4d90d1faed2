"""The numba core: interpreter, memory/latency model, interrupts, doorbells,
XIVE, idle states and the scheduler.  Everything here sees only numpy arrays
and the integer constants of powersim.ops and powersim.machine.layout.

Timing model (cycle-approximate)
--------------------------------
* Each thread has its own clock.  An instruction costs its ``P_LAT`` (from
  isa/, [GCC]/[LLVM]) scaled by the core's SMT sharing factor
  (``smt_cost_pct`` for the number of threads the core was *started* with:
  a static SMT mode, so a thread's timing never depends on how its siblings
  are interleaved).  Latencies are charged serially: no overlap of
  independent instructions.
* Memory: 128-byte lines.  Every line has a version bumped by each store; a
  per-core L1 (256 sets) and a per-core-pair L2 (4096 sets), both modelled
  direct-mapped, hold (line, version) tags, so a copy is valid while nobody
  else has written the line.  A miss is served, in order, by the L2 of the
  pair, the last writer's cache (same pair, same chip or other chip), the
  chip's L3 (a line some core of the chip has held), or DRAM.
* Stores retire into a store queue: the thread pays ``P_LAT`` and the
  ownership latency sets when the store is globally performed; ``sync``
  waits for it.  ``stcx.`` waits for ownership (so contended atomics pay a
  cache-to-cache transfer per attempt, as on real hardware).

Memory-ordering model: sequentially consistent.  Every access is performed
in the order the scheduler executes instructions (global (cycle, PIR) order
in exact mode; per-thread runs of up to one quantum in fast mode).  Barriers
therefore only cost time; store buffering (SB litmus) is never observable.

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

Radix MMU (reference/power9.md sections 3-4)
---------------------------------------------
MSR[IR]/[DR] with LPCR[HR] select radix translation: PTCR -> PATE -> PRTE
(through the partition-scoped tree) -> tree, with the checks and faults of
powersim.radix.reference_translate.  Per core: a TLB (1024 entries, 4-way,
LRU per row), a page walk cache of level 0-2 PDEs and cached PATE/PRTEs; every table
entry fetched goes through the latency model.  A per-thread micro-cache of
the last data and instruction page lets most accesses skip the TLB lookup
without changing timing.  TLB lookups and walks are ordered operations (they
read tables other threads write).  A tlbie takes effect on every core when
issued; a per-chip engine and per-core acknowledgements time it, and tlbsync
sleeps until the last acknowledgement.  In fast mode a thread that runs ahead
within its quantum may still use a translation removed by a tlbie issued at
an earlier clock; exact mode never does.

Instrumentation
---------------
The trace port (TRACE_BASE) logs (cycle, thread, kind, RS, r0) records and
SPR_SIMCYC reads the thread's clock; the port costs nothing on any clock, so
traced and untraced programs time identically.

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

import numpy as np

from powersim.ops import (
    P_OP, P_RT, P_RA, P_RB, P_IMM, P_AUX, P_FLAGS, P_LAT, F_RC, F_OE, F_LK, F_AA,
    F_SIGNED, F_UPDATE, F_BYTEREV, F_INDEXED, F_SIZE_SHIFT,
    OP_ADD, OP_ADDE, OP_ADDZE, OP_ADDME, OP_SUBF, OP_SUBFE,
    OP_SUBFZE, OP_SUBFME, OP_NEG, OP_ADDI, OP_ADDIS, OP_ADDIC, OP_SUBFIC, OP_MULLI,
    OP_MULLD, OP_MULLW, OP_MULHD, OP_MULHDU, OP_MULHW, OP_MULHWU, OP_DIVD, OP_DIVDU,
    OP_DIVW, OP_DIVWU, OP_AND, OP_ANDC, OP_OR, OP_ORC, OP_XOR, OP_NAND, OP_NOR,
    OP_EQV, OP_ANDI, OP_ANDIS, OP_ORI, OP_ORIS, OP_XORI, OP_XORIS, OP_EXTSB,
    OP_EXTSH, OP_EXTSW, OP_CNTLZW, OP_CNTLZD, OP_CNTTZW, OP_CNTTZD, OP_POPCNTB,
    OP_POPCNTW, OP_POPCNTD, OP_SLW, OP_SRW, OP_SRAW, OP_SRAWI, OP_SLD, OP_SRD,
    OP_SRAD, OP_SRADI, OP_RLWINM, OP_RLWNM, OP_RLWIMI, OP_RLDICL, OP_RLDICR,
    OP_RLDIMI, OP_RLDCL, OP_RLDCR, OP_CMP, OP_CMPL, OP_CMPI, OP_CMPLI,
    OP_TW, OP_TD, OP_TWI, OP_TDI, OP_ISEL, OP_LOAD, OP_STORE, OP_LARX, OP_STCX,
    OP_B, OP_BC, OP_BCLR, OP_BCCTR, OP_CRLOGIC, OP_MCRF, OP_MFCR, OP_MTCRF,
    OP_MFOCRF, OP_MTOCRF, OP_MFSPR, OP_MTSPR, OP_MFMSR, OP_MTMSR, OP_MTMSRD,
    OP_SYNC, OP_ISYNC, OP_EIEIO, OP_TLBIE, OP_TLBIEL, OP_TLBSYNC, OP_SLBIA,
    OP_MSGSND, OP_MSGSNDP, OP_MSGCLR, OP_MSGCLRP, OP_MSGSYNC, OP_STOP, OP_WAIT,
    OP_ATTN, OP_RFID, OP_HRFID, OP_SC, OP_CACHE, OP_DCBZ, OP_ILLEGAL,
)
from powersim.machine.jit import jit as _jit

# =============================================================================
# Layout of the state arrays and other integer constants, shared with state.py
# and exec.py.  They live in this file on purpose: numba keys its cache on this
# file's text, so changing a constant here recompiles the core.  Register
# masks are LSB-style (``1 << (63 - ibm_bit)``), from [L-reg].
# =============================================================================

# --- per-thread control state: ts[t, TS_*] ---------------------------------
TS_PC = 0
TS_CLK = 1          # the thread's clock (cycles)
TS_STATE = 2        # S_*
TS_MSR = 3
TS_CR = 4
TS_PIR = 5
TS_CORE = 6         # global core index
TS_CHIP = 7
TS_PAIR = 8         # global core-pair (L2/L3 slice) index
TS_SCALE = 9        # instruction cost scale, fixed point /256 (SMT sharing)
TS_RES = 10         # reserved line (larx), -1 for none
TS_PEND = 11        # pending interrupts (PB_*)
TS_EVT = 12         # earliest of the arrival times below
TS_T_DEC = 13       # arrival times of not yet pending interrupts (INF: none)
TS_T_HDB = 14
TS_T_PDB = 15
TS_T_HVI = 16
TS_DEC_VAL = 17     # value last written to DEC and the timebase at that write
TS_DEC_TB = 18
TS_XPQ = 19         # XIVE IPI source PQ bits (P = 2, Q = 1)
TS_CPPR = 20        # XIVE TIMA HV ring (QW3) [L-xive]
TS_IPB = 21
TS_NSR = 22
TS_STDONE = 23      # when the thread's last store is globally performed
TS_SPIN_PC = 24     # spin detection: branch address of the previous arrival
TS_SPIN_CNT = 25    # consecutive pure arrivals at that branch
TS_SPIN_T = 26      # clock at the previous arrival
TS_SPIN_N = 27      # instruction count at the previous arrival
TS_NLD = 28         # loads since the previous arrival (lines in TS_LD0..)
TS_IMPURE = 29      # stores / time reads / MMIO since the previous arrival
TS_LD0 = 30         # up to SPIN_LINES loaded lines
SPIN_LINES = 4
TS_WAKE_LAT = 34    # stop/wait: wake-up latency to add to the event time
TS_ESL = 35         # stop: 1 = wake through system reset (0x100)
TS_RL = 36          # stop: requested level (for SRR1 state loss)
TS_SLEEP_T = 37     # when the current stop/sleep began
TS_SPIN_P = 38      # spin sleep: iteration period (cycles)
TS_SPIN_I = 39      # spin sleep: instructions per iteration
TS_INSN = 40        # instructions executed
TS_THR = 41         # thread number within the core
TS_LDV0 = 42        # versions of the TS_LD0.. lines when first loaded in the iteration
# MMU micro-cache (ERAT-like, one data and one instruction 4 KiB page): EA >> 12
# (-1: empty), RA - EA, and for data MC_LOAD | MC_STORE.  It only filters TLB
# lookups (same timing as a TLB hit) and is emptied by anything that could
# change a translation: tlbie/tlbiel/slbia, MSR or MMU SPR writes, interrupts,
# and the eviction of a TLB entry of the core.
TS_DPAGE = TS_LDV0 + SPIN_LINES
TS_DDELTA = TS_DPAGE + 1
TS_DPERM = TS_DPAGE + 2
TS_IPAGE = TS_DPAGE + 3
TS_IDELTA = TS_DPAGE + 4
TS_TLBI_ACK = TS_DPAGE + 5  # when every tlbie this thread issued is acknowledged
# Optional ERAT (MachineParams.erat_entries > 0): fully associative, FIFO, keys
# (EA >> page shift) << 5 | page shift (0: empty); flushed by tlbie/tlbiel of
# the core, slbia and mtspr PIDR/PTCR/LPIDR/LPCR/AMR/IAMR.
ERAT_MAX = 64
TS_ERAT_NEXT = TS_DPAGE + 6
TS_ERAT0 = TS_DPAGE + 7
NTS = TS_ERAT0 + ERAT_MAX
MC_LOAD = 1
MC_STORE = 2

# --- thread states ------------------------------------------------------------
S_RUN = 0
S_HALT = 1          # executed attn (or checkstop)
S_STOP = 2          # stop / wait: woken by any pending interrupt
S_SPIN = 3          # detected spin loop: woken by a write to a loaded line or an
                    # enabled interrupt

# --- pending interrupt bits --------------------------------------------------
PB_DEC = 1
PB_HDB = 2
PB_PDB = 4
PB_HVI = 8

# --- stats[t, ST_*] -----------------------------------------------------------
STAT_NAMES = (             # "cycles_run" (clock minus stop, spin, stall) is added by exec.py
    "cycles_stop", "cycles_spin", "spin_sleeps", "stop_entries",
    "wakeups", "spin_skipped_insns",
    "loads", "stores", "l1_miss", "l2_hits", "l3_hits", "c2c_chip", "c2c_xchip",
    "dram", "stcx_ok", "stcx_fail", "doorbells_sent", "doorbells_recv",
    "xive_sent", "xive_recv",
    "int_100", "int_200", "int_300", "int_500", "int_700", "int_900", "int_a00",
    "int_c00", "int_e40", "int_e80", "int_ea0", "checkstop",
    "int_380", "int_400", "int_480", "int_e00",
    "tlb_hits", "tlb_misses", "pwc_hits", "walk_reads", "erat_misses", "tlbie", "tlbiel",
    "trace_records", "trace_dropped", "cycles_stall",
)
globals().update({"ST_" + n.upper(): i for i, n in enumerate(STAT_NAMES)})
NSTAT = len(STAT_NAMES)

# --- per-line state: lines[line, L_*] (128-byte lines [SK-dt]) -----------------
LINE_SHIFT = 7
L_VER = 0           # bumped by every store: a cached copy is valid while its version matches
L_WCORE = 1         # core of the last writer + 1 (0: none; zero-initialised lines stay
                    # untouched host pages until used, issue #8)
L_SEEN = 2          # bit mask of chips whose L3 has held the line
L_WATCH = 3         # number of spin sleepers watching the line
L_RSV = 4           # number of reservations on the line
L_WTIME = 5         # clock of the last store (causality in fast mode)
L_WTHR = 6          # thread of the last store + 1 (0: none)
L_SHARED = 7        # 1 once a thread accessed a line another thread wrote: then every
                    # access to it is ordered (fast mode keeps communication in time order)
NL = 8

L1_SETS = 256       # 32 KiB / 128 B [SK-dt], modelled direct-mapped
L2_SETS = 4096      # 512 KiB / 128 B per core pair [SK-dt]

# --- prm[P_*]: parameters in cycles --------------------------------------------
PRM_NAMES = (
    "max_cycles", "exact", "quantum", "freq_mhz", "tb_mhz", "memsize", "code_bytes",
    "lat_l2", "lat_l3", "lat_remote", "lat_xchip", "lat_dram",
    "hwsync", "lwsync", "ptesync", "isync", "eieio", "msgsync", "intr", "rfid",
    "db_core", "db_chip", "db_xchip", "xive_chip", "xive_xchip", "xive_interval",
    "xive_prio", "stop_lite", "wait", "ncores", "npir",
    "lat_l1", "smt", "rc_hw", "pwc_sets", "pwc_ways", "tlbiel", "tlbie", "tlbsync",
    "tlbie_occ", "tlbie_chip", "tlbie_xchip", "tlbie_apply", "erat_n", "erat_miss",
    "esb_load", "esb_store", "trace_events", "watch",
)
globals().update({"PR_" + n.upper(): i for i, n in enumerate(PRM_NAMES)})
PR_STOP0 = len(PRM_NAMES)       # 16 stop wake-up latencies follow
NPRM = PR_STOP0 + 16

# --- exit reasons (ctl[0]) ------------------------------------------------------
X_DONE = 0          # every thread halted
X_MAXCYC = 1        # max_cycles reached
X_DECODE = 2        # a fetched row is stale or beyond the table: ctl[1] = address
X_IDLE = 3          # nothing can ever run again (all sleeping with no event)
X_TRACE_FULL = 4    # the trace log is nearly full: Python drains it and resumes
TRACE_MARGIN = 4096     # records a slice may still add after the check
X_WATCH = 5         # the watched thread (prm "watch" - 1) halted
# ctl[2], ctl[3]: the trace log's fill count and the records dropped when it was full
CTL_TRACE_N = 2
CTL_TRACE_DROP = 3

INF = (1 << 62)

# --- MSR and SPR facts [L-reg] ---------------------------------------------------
MSR_SF = -(1 << 63)
MSR_HV = 1 << 60
MSR_EE = 1 << 15
MSR_PR = 1 << 14
MSR_ME = 1 << 12
MSR_IR = 1 << 5
MSR_DR = 1 << 4
MSR_RI = 1 << 1
MSR_LE = 1 << 0
SRR1_MSR_KEEP = ~0x783F0000       # SRR1 bits 33:36 and 42:47 carry the reason
SRR1_PROGTRAP = 0x00020000
SRR1_PROGPRIV = 0x00040000
SRR1_WAKE_HVI = 0x00240000
SRR1_WAKE_DEC = 0x00180000
SRR1_WAKE_PDB = 0x00140000
SRR1_WAKE_HDB = 0x000C0000
SRR1_WS_NOLOSS = 0x00010000
SRR1_WS_HVLOSS = 0x00030000
LPCR_ILE = 0x02000000
LPCR_HVICE = 0x2
HID0_HILE = 1 << (63 - 4)         # POWER9 HID0[HILE] [L-reg]
PSSCR_ESL = 0x00200000
PSSCR_EC = 0x00100000
PSSCR_RL = 0xF

SPR_XER, SPR_LR, SPR_CTR = 1, 8, 9
SPR_AMR = 13
SPR_DSISR, SPR_DAR, SPR_DEC = 18, 19, 22
SPR_SRR0, SPR_SRR1 = 26, 27
SPR_PIDR = 48
SPR_IAMR = 61
SPR_TBL, SPR_TBU = 268, 269
SPR_HDSISR, SPR_HDAR = 306, 307
SPR_HSRR0, SPR_HSRR1 = 314, 315
SPR_LPCR = 318
SPR_LPIDR = 319
SPR_PTCR = 464
SPR_PSSCR = 855
# The simulator's cycle counter: read-only (mtspr ignored), user-readable (bit
# 0x10 clear), the reading thread's clock after the mfspr.  1006 is otherwise
# unused here; software timestamps without the timebase's coarser unit.
SPR_SIMCYC = 1006
# The simulator's stall: mtspr adds the value (cycles, if positive) to the
# writing thread's clock at no host cost; mfspr reads 0.  It charges a cost that
# is modelled as a named parameter instead of executed (e.g. a KVM guest exit).
SPR_SIMSTALL = 1007
SPR_HID0 = 1008
SPR_PIR = 1023
NSPR = 1024

XER_SO = 1 << 31
XER_OV = 1 << 30
XER_CA = 1 << 29
XER_OV32 = 1 << 19
XER_CA32 = 1 << 18

# --- MMIO windows (physical; above any RAM size we allow) -------------------------
# XIVE IPI ESBs: per PIR a 128 KiB block, the management (EOI) page first, then
# the trigger page (2 x 64 KiB pages, as skiboot lays out IPI ESBs [SK-xive]).
ESB_BASE = 0x0006_0000_0000_0000
ESB_STRIDE = 0x20000
ESB_TRIG = 0x10000
# TIMA: one window; the accessing thread selects its own context [L-xive].
TIMA_BASE = 0x0006_0302_0000_0000
TIMA_SIZE = 0x10000
TM_QW3 = 0x30               # HV physical ring
TM_ACK_HV = 0x830           # 16-bit load: acknowledge [L-xive]
# Trace port (simulator instrumentation, like gem5's m5ops; not POWER9 hardware):
# an 8-byte store (std/stdx/stdu/stdbrx...) to TRACE_BASE + 8 * kind, kind 0..255,
# appends (cycle, seq, thread, kind, RS, r0) to the machine's trace log.  It is
# recognised on the effective address with the top 4 bits ignored, before any
# translation (so it needs no mapping and works with MSR[DR] = 1, e.g. at
# 0xC006_0304_0000_0000 in the kernel's linear-map quadrant), and costs nothing:
# no cycles, no instruction count, no cache, store-queue or TLB effect, and no
# yield in fast mode (so not even the host interleaving changes).  The log is in
# host order; Machine.trace() sorts it by (cycle, thread, program order), the
# global order exact mode executes in (and fast mode keeps for shared memory).
# Other accesses to the window in real mode are bus errors (machine check).
TRACE_BASE = 0x0006_0304_0000_0000
TRACE_KINDS = 256
TRACE_SIZE = 8 * TRACE_KINDS
TR_CYCLE, TR_SEQ, TR_THREAD, TR_KIND, TR_A, TR_B = range(6)    # trace log columns
NTR = 6
# Machine event records (prm trace_events, MachineParams.trace_events; off by
# default): the core itself appends these to the trace log, at no cycle cost,
# for powersim.chrome_trace.  Kinds 0xF8..0xFF are reserved for them
# (docs/CONTRACTS.md "Trace port"); cycle is the event's start.
EV_INTR = 0xF8      # interrupt taken (entry clock): a = vector, b = interrupted PC
EV_RFID = 0xF9      # rfid/hrfid (clock after it): a = return address, b = new MSR
EV_MSGSND = 0xFA    # msgsnd/msgsndp: a = RB (target), b = 1 for msgsndp
EV_XIVE = 0xFB      # XIVE IPI trigger forwarded: a = target (source) thread index
EV_WAIT = 0xFC      # a sync/tlbsync waited past its base cost: a = end clock,
                    # b = 0 hwsync, 2 ptesync, 3 tlbsync
EV_SLEEP = 0xFD     # stop/wait entered: a = 1 stop, 0 wait, b = PSSCR
EV_WAKE = 0xFE      # woke from stop/wait (clock of the wake-up, before a 0x100)
EV_STALL = 0xFF     # mtspr SIMSTALL: a = cycles, b = PC
RA_MASK = 0x0FFF_FFFF_FFFF_FFFF

# --- radix MMU (reference/power9.md sections 3-4; [L-pgt], [Q-rad], [MW]) ---------
PTE_V = -(1 << 63)          # valid
PTE_LEAF = 1 << 62
RPN_MASK = 0x01FF_FFFF_FFFF_F000
NLB_MASK = 0x0FFF_FFFF_FFFF_FF00
PTE_R = 0x100
PTE_C = 0x80
ATT_MASK = 0x30
ATT_NI_IO = 0x20
EAA_PRIV = 0x8
EAA_READ = 0x4
EAA_RW = 0x2
EAA_EXEC = 0x1
PATE_HR = -(1 << 63)
TBL_MASK = 0x0FFF_FFFF_FFFF_F000    # PTCR PATB, PATE dw1 PRTB
EA52 = (1 << 52) - 1
SEG_MASK = 0x3FF0_0000_0000_0000    # EA bits 2:11 must be 0 (section 3.6, [Q-rad])
DSISR_NOPTE = 0x4000_0000
DSISR_PROTFAULT = 0x0800_0000
DSISR_ISSTORE = 0x0200_0000
DSISR_BADTREE = 0x0008_0000
DSISR_SET_RC = 0x0004_0000
DSISR_PRTABLE = 0x0002_0000
SRR1_ISI_N_G = 0x1000_0000
ACC_LOAD = 0
ACC_STORE = 1
ACC_FETCH = 2
LPCR_HR = 0x0010_0000
LPCR_UPRT = 0x0040_0000

# TLB: 1024 entries, 4-way, per core [SK-dt]; tlbiel sees 128 congruence
# classes in radix mode [L-hash.h].  Both hold if each class is two rows of 4
# ways, one for base pages (4K/64K) and one for large pages (2M/1G): row =
# 2 * ((EA >> page shift) & 127) + large.  Replacement: LRU per row.
TLB_SETS = 128
TLB_WAYS = 4
TLB_ROWS = 2 * TLB_SETS
TE_V = 0        # 1 = valid
TE_TAG = 1      # EA >> shift (quadrant bits included)
TE_SHIFT = 2
TE_PID = 3
TE_LPID = 4
TE_PTE = 5      # the leaf entry as walked
TE_PTEA = 6     # its real address
TE_LRU = 7
NTE = 8
# Page walk cache: PDEs of levels 0..2 (the ones pointing at 2^39/2^30/2^21-byte
# regions), set-associative, LRU; geometry from MachineParams [MW].
PE_V = 0
PE_TAG = 1      # (EA & EA52) >> (39 - 9 * level)
PE_LEVEL = 2
PE_PID = 3
PE_LPID = 4
PE_PDE = 5
PE_PDEA = 6
PE_LRU = 7
NPE = 8
# Per-core MMU row: LRU clock, cached PATE (LPID 0), cached PRTEs, and (in the
# row of a chip's first core) that chip's tlbie engine.
MM_STAMP = 0
MM_PATE_V = 1
MM_PATE0 = 2
MM_PATE1 = 3
MM_TLBIE_FREE = 4
MM_PRTE = 5             # PRTE_SLOTS pairs (PID + 1, PRTE dw0), direct-mapped by PID
PRTE_SLOTS = 16
NMM = MM_PRTE + 2 * PRTE_SLOTS

OP_STALE = -1       # a row whose word was overwritten: re-predecode before executing
SPIN_SNAP = 8       # pure arrivals before the spin snapshot (amortises its cost)
M32 = 0xFFFFFFFF
MIN64 = -(1 << 63)
DB_SERVER = 5       # msgsnd message type "server" [L-dbell]


# ---------------------------------------------------------------- bit helpers
@_jit()
def srl(a, n):
    """Logical shift right of a 64-bit pattern held in an int64."""
    if n == 0:
        return a
    if n >= 64:
        return 0
    return (a >> n) & ((1 << (64 - n)) - 1)


@_jit()
def rotl64(x, n):
    n &= 63
    if n == 0:
        return x
    return (x << n) | srl(x, 64 - n)


@_jit()
def mask64(mb, me):
    """MASK(mb, me) in IBM bit numbering (wraps when mb > me)."""
    a = srl(-1, mb)
    b = -1 << (63 - me)
    return (a & b) if mb <= me else (a | b)


@_jit()
def clz64(x):
    if x == 0:
        return 64
    n = 0
    if srl(x, 32) == 0:
        n += 32
        x <<= 32
    if srl(x, 48) == 0:
        n += 16
        x <<= 16
    if srl(x, 56) == 0:
        n += 8
        x <<= 8
    if srl(x, 60) == 0:
        n += 4
        x <<= 4
    if srl(x, 62) == 0:
        n += 2
        x <<= 2
    if srl(x, 63) == 0:
        n += 1
    return n


@_jit()
def popcnt_bytes(x):
    """Per-byte population counts (popcntb)."""
    x = x - (srl(x, 1) & 0x5555555555555555)
    x = (x & 0x3333333333333333) + (srl(x, 2) & 0x3333333333333333)
    return (x + srl(x, 4)) & 0x0F0F0F0F0F0F0F0F


@_jit()
def sext(v, sz):
    s = 64 - 8 * sz
    return (v << s) >> s


@_jit()
def bswap(v, sz):
    r = 0
    for i in range(sz):
        r = (r << 8) | (srl(v, 8 * i) & 0xFF)
    return r


@_jit()
def ult(a, b):
    return (a ^ MIN64) < (b ^ MIN64)


@_jit()
def cmpbits(a, b, signed):
    """CR field LT/GT/EQ bits (SO added by the caller)."""
    if a == b:
        return 2
    if signed:
        return 8 if a < b else 4
    return 8 if ult(a, b) else 4


@_jit()
def setcr(cr, field, v):
    sh = 28 - 4 * field
    return (cr & ~(0xF << sh) & M32) | (v << sh)


@_jit()
def cr0(cr, res, xer):
    return setcr(cr, 0, cmpbits(res, 0, True) | ((xer >> 31) & 1))


@_jit()
def mulhdu(a, b):
    al, ah, bl, bh = a & M32, srl(a, 32), b & M32, srl(b, 32)
    ll, m1, m2 = al * bl, ah * bl, al * bh
    t = srl(ll, 32) + (m1 & M32) + (m2 & M32)
    return ah * bh + srl(m1, 32) + srl(m2, 32) + srl(t, 32)


@_jit()
def udiv(a, b):
    return np.int64(np.uint64(a) // np.uint64(b))


@_jit()
def sdiv(a, b):
    """Signed division truncating toward zero (b != 0, not MIN / -1), through
    the unsigned magnitudes so that MIN64 needs no special case."""
    q = udiv(-a if a < 0 else a, -b if b < 0 else b)
    return q if (a < 0) == (b < 0) else -q


@_jit()
def trap_cond(to, a, b):
    return (((to & 16) and a < b) or ((to & 8) and a > b) or ((to & 4) and a == b)
            or ((to & 2) and ult(a, b)) or ((to & 1) and ult(b, a)))


# ---------------------------------------------------------------- memory
@_jit()
def rd(mem, m16, m32, m64, ra, sz):
    """Little-endian read of sz bytes at real address ra (bounds checked by caller)."""
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


@_jit()
def wr(mem, m16, m32, m64, ra, sz, v):
    if sz == 8 and (ra & 7) == 0:
        m64[ra >> 3] = v
    elif sz == 4 and (ra & 3) == 0:
        m32[ra >> 2] = v & M32
    elif sz == 2 and (ra & 1) == 0:
        m16[ra >> 1] = v & 0xFFFF
    else:
        for i in range(sz):
            mem[ra + i] = srl(v, 8 * i) & 0xFF


@_jit()
def fill_cost(t, line, clk, ts, lines, l1, l2, stats, prm):
    """Extra cycles (beyond an L1 hit) to bring `line` into t's L1 at `clk`, and
    fill the tags.  A value cannot be seen before it was written: a line
    written by another core at a later clock (possible when fast mode lets
    threads run apart) first waits for that clock; in exact mode this never
    applies."""
    core = ts[t, TS_CORE]
    ver = lines[line, L_VER]
    wait = max(0, lines[line, L_WTIME] - clk)
    i1 = core * L1_SETS + (line & (L1_SETS - 1))
    if l1[i1, 0] == line and l1[i1, 1] == ver:
        return wait
    stats[t, ST_L1_MISS] += 1
    pair = ts[t, TS_PAIR]
    chip = ts[t, TS_CHIP]
    i2 = pair * L2_SETS + (line & (L2_SETS - 1))
    w = lines[line, L_WCORE] - 1     # -1: none
    cpc = prm[PR_NCORES]
    if l2[i2, 0] == line and l2[i2, 1] == ver:
        extra = prm[PR_LAT_L2]
        stats[t, ST_L2_HITS] += 1
    elif w >= 0 and w != core and w // cpc == chip:
        if (w % cpc) >> 1 == (core % cpc) >> 1:
            extra = prm[PR_LAT_L2]          # the pair's shared L2 [RCS]
            stats[t, ST_L2_HITS] += 1
        else:
            extra = prm[PR_LAT_REMOTE]
            stats[t, ST_C2C_CHIP] += 1
    elif w >= 0 and w != core:
        extra = prm[PR_LAT_XCHIP]
        stats[t, ST_C2C_XCHIP] += 1
    elif (lines[line, L_SEEN] >> chip) & 1:
        extra = prm[PR_LAT_L3]
        stats[t, ST_L3_HITS] += 1
    else:
        extra = prm[PR_LAT_DRAM]
        stats[t, ST_DRAM] += 1
    lines[line, L_SEEN] |= 1 << chip
    l1[i1, 0] = line
    l1[i1, 1] = ver
    l2[i2, 0] = line
    l2[i2, 1] = ver
    return wait + extra


@_jit()
def store_line(t, line, clk, ts, lines, l1, l2):
    """Make t's core the owner of the new version of `line`."""
    ver = lines[line, L_VER] + 1
    lines[line, L_VER] = ver
    lines[line, L_WCORE] = ts[t, TS_CORE] + 1
    lines[line, L_WTIME] = clk
    lines[line, L_WTHR] = t + 1
    i1 = ts[t, TS_CORE] * L1_SETS + (line & (L1_SETS - 1))
    i2 = ts[t, TS_PAIR] * L2_SETS + (line & (L2_SETS - 1))
    l1[i1, 0] = line
    l1[i1, 1] = ver
    l2[i2, 0] = line
    l2[i2, 1] = ver


@_jit()
def store_effects(t, line, clk, ts, lines):
    """Cross-thread effects of a store to `line`: reservations lost, spinners
    woken.  Returns 1 when another thread was affected."""
    hit = 0
    # L_RSV counts the threads holding a reservation on the line, L_WATCH the
    # spinners watching it: the scans stop when all of them are found
    if lines[line, L_RSV] > 0:
        own = 1 if ts[t, TS_RES] == line else 0
        for u in range(ts.shape[0]):
            if lines[line, L_RSV] == own:
                break
            if u != t and ts[u, TS_RES] == line:
                ts[u, TS_RES] = -1
                lines[line, L_RSV] -= 1
                hit = 1
    if lines[line, L_WATCH] > 0:
        found = 0
        for u in range(ts.shape[0]):
            if found == lines[line, L_WATCH]:
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
                    hit = 1
    return hit


@_jit()
def invalidate_code(code, ra, sz, prm):
    """A store into the predecoded region leaves a stale mark, never a stale row."""
    if ra < prm[PR_CODE_BYTES]:
        for i in range(ra >> 2, min((ra + sz - 1) >> 2, code.shape[0] - 1) + 1):
            code[i, P_OP] = OP_STALE


# ---------------------------------------------------------------- radix MMU
@_jit()
def mc_flush(ts, t0, n):
    """Empty the micro-caches of threads t0 .. t0 + n - 1."""
    for u in range(t0, t0 + n):
        ts[u, TS_DPAGE] = -1
        ts[u, TS_IPAGE] = -1


@_jit()
def erat_flush(ts, t0, n):
    for u in range(t0, t0 + n):
        for k in range(ERAT_MAX):
            ts[u, TS_ERAT0 + k] = 0
    mc_flush(ts, t0, n)


@_jit()
def erat_fill(t, ea, shift, ts, prm):
    """Look a translation up in t's ERAT, inserting it on a miss (FIFO; the
    micro-cache must stay a subset, so an eviction empties it).  True on a hit."""
    key = ((ea >> shift) << 5) | shift
    n = prm[PR_ERAT_N]
    for k in range(n):
        if ts[t, TS_ERAT0 + k] == key:
            return True
    k = ts[t, TS_ERAT_NEXT]
    if ts[t, TS_ERAT0 + k] != 0:
        mc_flush(ts, t, 1)
    ts[t, TS_ERAT0 + k] = key
    ts[t, TS_ERAT_NEXT] = (k + 1) % n
    return False


@_jit()
def table_read(t, addr, clk, m64, ts, lines, l1, l2, stats, prm):
    """One page-table fetch through the cache model: (entry, cycles).  Entries
    are big-endian ([MW], section 3.8); beyond RAM they read as 0 (invalid),
    as radix.reference_translate reads them."""
    stats[t, ST_WALK_READS] += 1
    if addr < 0 or addr + 8 > prm[PR_MEMSIZE]:
        return 0, prm[PR_LAT_L1]
    c = prm[PR_LAT_L1] + fill_cost(t, addr >> LINE_SHIFT, clk, ts, lines, l1, l2, stats, prm)
    return bswap(m64[addr >> 3], 8), c


@_jit()
def perm_cause(pte, acc, msr, amr, iamr):
    """Fault cause of `acc` on the leaf `pte`, 0 if allowed: EAA, ATT and AMR/IAMR
    key 0 (section 3.5, [Q-rad] ppc_radix64_check_prot), then R/C (3.10)."""
    fetch = acc == ACC_FETCH
    if fetch and (pte & ATT_MASK) == ATT_NI_IO:
        return SRR1_ISI_N_G
    pr = (msr & MSR_PR) != 0
    if pte & EAA_PRIV and pr:
        allowed = 0
    else:
        allowed = (EAA_READ if pte & (EAA_READ | EAA_RW) else 0) | (pte & (EAA_RW | EAA_EXEC))
        if not pr and not pte & EAA_PRIV:   # kernel access to a user page
            if amr < 0:
                allowed &= ~EAA_RW
            if (amr >> 62) & 1:
                allowed &= ~EAA_READ
            if (iamr >> 62) & 1:
                allowed &= ~EAA_EXEC
    need = EAA_READ if acc == ACC_LOAD else EAA_RW if acc == ACC_STORE else EAA_EXEC
    if not allowed & need:
        return SRR1_ISI_N_G if fetch else DSISR_PROTFAULT
    if not pte & PTE_R or (acc == ACC_STORE and not pte & PTE_C):
        return DSISR_SET_RC
    return 0


@_jit()
def ap_shift(ap):
    """Page shift of a tlbie AP code ([SK-dt] radix AP encodings); 0 if none."""
    return 12 if ap == 0 else 16 if ap == 5 else 21 if ap == 1 else 30 if ap == 2 else 0


@_jit()
def tlb_row(core, tag, shift):
    return (core * TLB_ROWS + 2 * (tag & (TLB_SETS - 1)) + (1 if shift > 16 else 0)) * TLB_WAYS


@_jit()
def pwc_row(core, tag, level, prm):
    sets = prm[PR_PWC_SETS]
    return (core * sets + ((tag + level) & (sets - 1))) * prm[PR_PWC_WAYS]


@_jit()
def victim(arr, b, n):
    """An empty way of row b..b+n-1, else the least recently used (TLB and PWC
    rows share the V = column 0, LRU = column 7 layout)."""
    v = b
    for w in range(b, b + n):
        if arr[w, 0] == 0:
            return w
        if arr[w, 7] < arr[v, 7]:
            v = w
    return v


@_jit()
def tlb_find(core, ea, pid, lpid, tlb, mmu):
    """The TLB entry translating `ea` for (pid, lpid), or -1.  The page size is
    not known before the lookup, so every size's row is probed."""
    for k in range(4):
        shift = 12 if k == 0 else 16 if k == 1 else 21 if k == 2 else 30
        tag = ea >> shift
        b = tlb_row(core, tag, shift)
        for w in range(b, b + TLB_WAYS):
            if tlb[w, TE_V] and tlb[w, TE_TAG] == tag and tlb[w, TE_SHIFT] == shift and \
                    tlb[w, TE_PID] == pid and tlb[w, TE_LPID] == lpid:
                mmu[core, MM_STAMP] += 1
                tlb[w, TE_LRU] = mmu[core, MM_STAMP]
                return w
    return -1


@_jit()
def tlb_insert(core, ea, shift, pid, lpid, pte, ptea, tlb, mmu, ts, prm):
    tag = ea >> shift
    w = victim(tlb, tlb_row(core, tag, shift), TLB_WAYS)
    if tlb[w, TE_V]:    # the micro-caches must stay a subset of the TLB
        mc_flush(ts, core * prm[PR_SMT], prm[PR_SMT])
    mmu[core, MM_STAMP] += 1
    tlb[w, TE_V] = 1
    tlb[w, TE_TAG] = tag
    tlb[w, TE_SHIFT] = shift
    tlb[w, TE_PID] = pid
    tlb[w, TE_LPID] = lpid
    tlb[w, TE_PTE] = pte
    tlb[w, TE_PTEA] = ptea
    tlb[w, TE_LRU] = mmu[core, MM_STAMP]


@_jit()
def walk(t, ea, root, pid, lpid, use_pwc, clk, m64, ts, lines, l1, l2, pwc, mmu, stats,
         prm):
    """Walk one radix tree from a PATE/PRTE doubleword 0 (section 3.8; the same
    steps as radix._walk), starting below the deepest PDE the page walk cache
    holds when use_pwc.  Returns (DSISR cause or 0, leaf PTE, its address,
    page shift, cycles)."""
    if ((srl(root, 58) & 0x18) | (srl(root, 5) & 7)) + 31 != 52:   # RTS: 52-bit trees only
        return DSISR_BADTREE, 0, 0, 0, 0
    core = ts[t, TS_CORE]
    ea52 = ea & EA52
    base = root & NLB_MASK
    nls = root & 0x1F
    shift = 52
    level = 0
    cost = 0
    if use_pwc:
        # levels 0..2 always have 13/9/9 index bits (section 3.7), so the EA
        # bits a cached PDE covers are fixed: 2^39, 2^30, 2^21 bytes
        lv = 2
        while lv >= 0:
            tag = ea52 >> (39 - 9 * lv)
            b = pwc_row(core, tag, lv, prm)
            for w in range(b, b + prm[PR_PWC_WAYS]):
                if pwc[w, PE_V] and pwc[w, PE_TAG] == tag and pwc[w, PE_LEVEL] == lv and \
                        pwc[w, PE_PID] == pid and pwc[w, PE_LPID] == lpid:
                    mmu[core, MM_STAMP] += 1
                    pwc[w, PE_LRU] = mmu[core, MM_STAMP]
                    stats[t, ST_PWC_HITS] += 1
                    base = pwc[w, PE_PDE] & NLB_MASK
                    nls = pwc[w, PE_PDE] & 0x1F
                    shift = 39 - 9 * lv
                    level = lv + 1
                    lv = 0
                    break
            lv -= 1
    while True:
        # POWER9 UM 4.10.4.1 via [Q-rad] ppc_radix64_is_valid_level
        if not ((level == 0 and nls == 13) or ((level == 1 or level == 2) and nls == 9)
                or (level == 3 and (nls == 9 or nls == 5))):
            return DSISR_BADTREE, 0, 0, 0, cost
        shift -= nls
        addr = (base & ~((1 << (nls + 3)) - 1)) + 8 * ((ea52 >> shift) & ((1 << nls) - 1))
        entry, c = table_read(t, addr, clk + cost, m64, ts, lines, l1, l2, stats, prm)
        cost += c
        if not entry & PTE_V:
            return DSISR_NOPTE, 0, 0, 0, cost
        if entry & PTE_LEAF:
            if shift != 12 and shift != 16 and shift != 21 and shift != 30:
                return DSISR_BADTREE, 0, 0, 0, cost     # e.g. a 512G leaf
            return 0, entry, addr, shift, cost
        if use_pwc and level <= 2:
            tag = ea52 >> shift
            w = victim(pwc, pwc_row(core, tag, level, prm), prm[PR_PWC_WAYS])
            mmu[core, MM_STAMP] += 1
            pwc[w, PE_V] = 1
            pwc[w, PE_TAG] = tag
            pwc[w, PE_LEVEL] = level
            pwc[w, PE_PID] = pid
            pwc[w, PE_LPID] = lpid
            pwc[w, PE_PDE] = entry
            pwc[w, PE_PDEA] = addr
            pwc[w, PE_LRU] = mmu[core, MM_STAMP]
        base = entry & NLB_MASK
        nls = entry & 0x1F
        level += 1


@_jit()
def xlate(t, ea, acc, msr, clk, m64, ts, sprs, lines, l1, l2, tlb, pwc, mmu, stats, prm):
    """EA -> RA for one access: real mode, or TLB, else PATE -> PRTE -> tree
    with the checks in the order of radix.reference_translate (section 3.8).
    Returns (RA, page shift, leaf PTE, vector or 0, cause, cycles); the cause
    is the DSISR (0x300, 0xE00) or the SRR1 bits (0x400)."""
    fetch = acc == ACC_FETCH
    if not msr & (MSR_IR if fetch else MSR_DR):    # real mode: top 4 EA bits ignored
        return ea & RA_MASK, 12, 0, 0, 0, 0
    sp = sprs[t]
    if not sp[SPR_LPCR] & LPCR_HR:
        # the hash MMU (LPCR[HR] = 0) is not modelled: addresses pass untranslated
        return ea & RA_MASK, 12, PTE_R | PTE_C | EAA_READ | EAA_RW | EAA_EXEC, 0, 0, 0
    q = srl(ea, 62)
    hv = (msr & MSR_HV) != 0
    if ea & SEG_MASK or (not hv and (q == 1 or q == 2)):
        return 0, 0, 0, 0x480 if fetch else 0x380, 0, 0
    pid = sp[SPR_PIDR] & M32 if q <= 1 else 0           # quadrants (section 3.6)
    lpid = 0 if hv and (q == 0 or q == 3) else sp[SPR_LPIDR]
    vsi = 0x400 if fetch else 0x300
    store = DSISR_ISSTORE if acc == ACC_STORE else 0
    if lpid != 0:       # guest partitions are not modelled: a bad partition entry
        return 0, 0, 0, 0xE00, DSISR_BADTREE, 0
    core = ts[t, TS_CORE]
    cost = 0
    w = tlb_find(core, ea, pid, lpid, tlb, mmu)
    if w >= 0 and perm_cause(tlb[w, TE_PTE], acc, msr, sp[SPR_AMR],
                             sp[SPR_IAMR]) == DSISR_SET_RC:
        # a cached PTE lacking R/C is re-read rather than faulted on: kernels
        # set R/C in memory with no tlbie after the fault (section 3.10)
        tlb[w, TE_V] = 0
        mc_flush(ts, core * prm[PR_SMT], prm[PR_SMT])
        w = -1
    if w >= 0:
        stats[t, ST_TLB_HITS] += 1
        pte = tlb[w, TE_PTE]
        ptea = tlb[w, TE_PTEA]
        shift = tlb[w, TE_SHIFT]
    else:
        stats[t, ST_TLB_MISSES] += 1
        if mmu[core, MM_PATE_V]:
            pate0 = mmu[core, MM_PATE0]
            pate1 = mmu[core, MM_PATE1]
        else:   # LPID 0: the first entry; PATS cannot exclude it
            patb = sp[SPR_PTCR] & TBL_MASK
            pate0, cost = table_read(t, patb, clk, m64, ts, lines, l1, l2, stats, prm)
            # dw1 shares the line (one access); read only if dw0 was in RAM
            pate1 = bswap(m64[(patb + 8) >> 3], 8) if pate0 & PATE_HR else 0
            if pate0 & PATE_HR and (pate0 & 0x1F) >= 5:
                mmu[core, MM_PATE_V] = 1
                mmu[core, MM_PATE0] = pate0
                mmu[core, MM_PATE1] = pate1
        if not pate0 & PATE_HR or (pate0 & 0x1F) < 5:      # RPDS < 5: [Q-rad]
            return 0, 0, 0, 0xE00, DSISR_BADTREE, cost
        if 16 * pid >= 1 << (12 + (pate1 & 0x1F)):     # beyond PRTS
            return 0, 0, 0, vsi, DSISR_NOPTE | store, cost
        slot = MM_PRTE + 2 * (pid & (PRTE_SLOTS - 1))
        if mmu[core, slot] == pid + 1:
            prte0 = mmu[core, slot + 1]
        else:
            # the PRTE's address goes through the partition-scoped tree ([Q-rad])
            cause, pte, ptea, shift, c = walk(t, (pate1 & TBL_MASK) + 16 * pid, pate0, 0, 0,
                                              False, clk + cost, m64, ts, lines, l1, l2,
                                              pwc, mmu, stats, prm)
            cost += c
            if cause:
                return 0, 0, 0, 0xE00, cause | DSISR_PRTABLE, cost
            mask = (1 << shift) - 1
            prte_ra = (pte & RPN_MASK & ~mask) | (((pate1 & TBL_MASK) + 16 * pid) & mask)
            prte0, c = table_read(t, prte_ra, clk + cost, m64, ts, lines, l1, l2, stats, prm)
            cost += c
            if prte0 == 0:
                return 0, 0, 0, vsi, DSISR_BADTREE | store, cost
            mmu[core, slot] = pid + 1
            mmu[core, slot + 1] = prte0
        cause, pte, ptea, shift, c = walk(t, ea, prte0, pid, lpid, True, clk + cost, m64, ts,
                                          lines, l1, l2, pwc, mmu, stats, prm)
        cost += c
        if cause:
            return 0, 0, 0, vsi, cause | (store if not fetch else 0), cost
    cause = perm_cause(pte, acc, msr, sp[SPR_AMR], sp[SPR_IAMR])
    if cause == DSISR_SET_RC and prm[PR_RC_HW]:
        # hardware R/C update (not POWER9's behaviour, section 3.10): a store
        # to the PTE through the memory model
        pte |= PTE_R | (PTE_C if acc == ACC_STORE else 0)
        m64[ptea >> 3] = bswap(pte, 8)
        cost += prm[PR_LAT_L1] + fill_cost(t, ptea >> LINE_SHIFT, clk + cost, ts, lines, l1,
                                           l2, stats, prm)
        store_line(t, ptea >> LINE_SHIFT, clk + cost, ts, lines, l1, l2)
        cause = 0
    if cause:
        return 0, 0, 0, vsi, cause | (store if not fetch else 0), cost
    if w < 0:
        tlb_insert(core, ea, shift, pid, lpid, pte, ptea, tlb, mmu, ts, prm)
    if prm[PR_ERAT_N] and not erat_fill(t, ea, shift, ts, prm) and w >= 0:
        stats[t, ST_ERAT_MISSES] += 1   # a TLB hit that missed the ERAT
        cost += prm[PR_ERAT_MISS]
    mask = (1 << shift) - 1
    return (pte & RPN_MASK & ~mask) | (ea & mask), shift, pte, 0, 0, cost


@_jit()
def fault_regs(t, vec, cause, ea, sprs):
    """Set DSISR/DAR (or HDSISR/HDAR) for a translation fault; returns the
    SRR1 reason bits (the cause, for ISI)."""
    sp = sprs[t]
    if vec == 0x300:
        sp[SPR_DSISR] = cause
        sp[SPR_DAR] = ea
    elif vec == 0x380:
        sp[SPR_DAR] = ea
    elif vec == 0xE00:
        sp[SPR_HDSISR] = cause
        sp[SPR_HDAR] = ea
    elif vec == 0x400:
        return cause
    return 0


@_jit()
def data_xlate(t, ea, store, msr, clk, m64, ts, sprs, lines, l1, l2, tlb, pwc, mmu, stats,
               prm):
    """Translate a data access that missed the micro-cache and refill it.
    Returns (RA, vector or 0, SRR1 reason, cycles)."""
    acc = ACC_STORE if store else ACC_LOAD
    ra, shift, pte, vec, cause, cost = xlate(t, ea, acc, msr, clk, m64, ts, sprs, lines, l1,
                                             l2, tlb, pwc, mmu, stats, prm)
    if vec:
        return 0, vec, fault_regs(t, vec, cause, ea, sprs), cost
    if not msr & MSR_DR:    # dcbz in real mode
        return ra, 0, 0, cost
    sp = sprs[t]
    ts[t, TS_DPAGE] = ea >> 12
    ts[t, TS_DDELTA] = ra - ea
    ts[t, TS_DPERM] = \
        (MC_LOAD if perm_cause(pte, ACC_LOAD, msr, sp[SPR_AMR], sp[SPR_IAMR]) == 0 else 0) | \
        (MC_STORE if perm_cause(pte, ACC_STORE, msr, sp[SPR_AMR], sp[SPR_IAMR]) == 0 else 0)
    return ra, 0, 0, cost


@_jit()
def tlbi_core(core, rb, rs, ric, prs, local, tlb, pwc, mmu, ts, prm):
    """Apply one radix tlbie/tlbiel to a core's TLB, PWC and cached table
    entries (section 4.1).  RIC 0: TLB, 1: PWC, 2: both plus cached PRTEs (and
    the PATE for IS = 3 or PRS = 0).  IS 0: the VA of size AP, 1: the PID in
    RS, 2: the LPID, 3: all; tlbiel with IS != 0 only touches congruence class
    SET of the TLB.  Only process-scoped translations are cached here, so
    PRS = 0 reaches just the cached table entries."""
    is_ = (rb >> 10) & 3
    pid = srl(rs, 32) & M32
    lpid = rs & M32
    if prs and ric != 1:
        shift = ap_shift((rb >> 5) & 7)
        lo = core * TLB_ROWS * TLB_WAYS
        hi = lo + TLB_ROWS * TLB_WAYS
        if local and is_ != 0:
            lo = (core * TLB_ROWS + 2 * ((rb >> 12) & (TLB_SETS - 1))) * TLB_WAYS
            hi = lo + 2 * TLB_WAYS
        for w in range(lo, hi):
            if tlb[w, TE_V] and (is_ == 3 or (tlb[w, TE_LPID] == lpid and (
                    is_ == 2 or (tlb[w, TE_PID] == pid and (is_ == 1 or (
                        tlb[w, TE_SHIFT] == shift and tlb[w, TE_TAG] == rb >> shift)))))):
                tlb[w, TE_V] = 0
    if prs and ric != 0:
        ways = prm[PR_PWC_SETS] * prm[PR_PWC_WAYS]
        for w in range(core * ways, (core + 1) * ways):
            if pwc[w, PE_V] and (is_ == 3 or (pwc[w, PE_LPID] == lpid and (
                    is_ == 2 or (pwc[w, PE_PID] == pid and (is_ == 1 or (
                        pwc[w, PE_TAG] == (rb & EA52) >> (39 - 9 * pwc[w, PE_LEVEL]))))))):
                pwc[w, PE_V] = 0
    if ric == 2:
        for k in range(PRTE_SLOTS):
            if not prs or is_ >= 2 or mmu[core, MM_PRTE + 2 * k] == pid + 1:
                mmu[core, MM_PRTE + 2 * k] = 0
        if not prs or is_ == 3:
            mmu[core, MM_PATE_V] = 0
    erat_flush(ts, core * prm[PR_SMT], prm[PR_SMT])


@_jit()
def tlbi(t, local, rb, rs, ric, prs, r, clk, ts, tlb, pwc, mmu, stats, prm):
    """tlbiel: this core, at once.  tlbie: through the issuing chip's tlbie
    engine (one at a time, `tlbie_occ` each), delivered to every core after
    `tlbie_chip`/`tlbie_xchip`; a core acknowledges once its threads' stores
    are performed (section 9.3) plus `tlbie_apply`.  TS_TLBI_ACK keeps the
    latest acknowledgement for tlbsync.  The invalidation itself is applied
    at issue (the architecture allows any time before tlbsync completes).
    R = 0 (hash format) finds nothing to invalidate.  Returns the new clock."""
    smt = prm[PR_SMT]
    if local:
        stats[t, ST_TLBIEL] += 1
        if r:
            tlbi_core(ts[t, TS_CORE], rb, rs, ric, prs, True, tlb, pwc, mmu, ts, prm)
        return clk + prm[PR_TLBIEL]
    stats[t, ST_TLBIE] += 1
    chip = ts[t, TS_CHIP]
    eng = chip * prm[PR_NCORES]         # the engine's state lives in the chip's first core row
    start = max(clk, mmu[eng, MM_TLBIE_FREE])
    mmu[eng, MM_TLBIE_FREE] = start + prm[PR_TLBIE_OCC]
    ack = ts[t, TS_TLBI_ACK]
    for k in range(ts.shape[0] // smt):
        if r:
            tlbi_core(k, rb, rs, ric, prs, False, tlb, pwc, mmu, ts, prm)
        arrive = start + (prm[PR_TLBIE_CHIP] if ts[k * smt, TS_CHIP] == chip
                          else prm[PR_TLBIE_XCHIP])
        for u in range(k * smt, (k + 1) * smt):
            arrive = max(arrive, ts[u, TS_STDONE])
        ack = max(ack, arrive + prm[PR_TLBIE_APPLY])
    ts[t, TS_TLBI_ACK] = ack
    return clk + prm[PR_TLBIE]


@_jit()
def spr_mmu(t, n, ts, tlb, pwc, mmu, prm):
    """Translation effects of an mtspr ([MW] notes, section 4.1): PIDR, LPIDR,
    AMR, IAMR, LPCR change this thread's translations; PTCR drops every
    translation the core holds."""
    erat_flush(ts, t, 1)
    if n == SPR_PTCR:
        tlbi_core(ts[t, TS_CORE], 3 << 10, 0, 2, 1, False, tlb, pwc, mmu, ts, prm)


@_jit()
def mmu_call(kind, t, a, b, c, d, e, m64, ts, sprs, lines, l1, l2, tlb, pwc, mmu, stats,
             prm):
    """The entry of the powersim.mmu test API (the same functions the
    interpreter runs).  kind 0: translate EA a for access b on thread t ->
    (RA, shift, vector, cause, cycles); 1/2: tlbie/tlbiel RB=a RS=b RIC=c
    PRS=d R=e; 3: tlbsync; 4: ptesync (both advance t's clock); 5: mtspr SPR a
    = b with its translation effects (no time)."""
    clk = ts[t, TS_CLK]
    if kind == 5:
        sprs[t, a] = b
        spr_mmu(t, a, ts, tlb, pwc, mmu, prm)
        return 0, 0, 0, 0, 0
    if kind == 0:
        ra, shift, pte, vec, cause, cost = xlate(t, a, b, ts[t, TS_MSR], clk, m64, ts, sprs,
                                                 lines, l1, l2, tlb, pwc, mmu, stats, prm)
        return ra, shift, vec, cause, cost
    if kind == 1 or kind == 2:
        ts[t, TS_CLK] = tlbi(t, kind == 2, a, b, c, d, e, clk, ts, tlb, pwc, mmu, stats, prm)
    else:
        ts[t, TS_CLK] = max(clk + prm[PR_TLBSYNC if kind == 3 else PR_PTESYNC],
                            ts[t, TS_TLBI_ACK], ts[t, TS_STDONE] if kind == 4 else 0)
    return 0, 0, 0, 0, ts[t, TS_CLK] - clk


# ---------------------------------------------------------------- time and events
@_jit()
def tb_now(clk, prm):
    return clk * prm[PR_TB_MHZ] // prm[PR_FREQ_MHZ]


@_jit()
def clk_of_tb(tb, prm):
    return (tb * prm[PR_FREQ_MHZ] + prm[PR_TB_MHZ] - 1) // prm[PR_TB_MHZ]


@_jit()
def set_evt(ts, t):
    ts[t, TS_EVT] = min(min(ts[t, TS_T_DEC], ts[t, TS_T_HDB]),
                        min(ts[t, TS_T_PDB], ts[t, TS_T_HVI]))


@_jit()
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


@_jit()
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
    elif st == S_SPIN and enabled(ts, sprs, u, kind):
        w = max(when, ts[u, TS_SLEEP_T])
        if w < ts[u, TS_CLK]:
            ts[u, TS_CLK] = w


@_jit()
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


@_jit()
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
        ts[t, TS_IPB] |= 1 << (7 - prm[PR_XIVE_PRIO])
        ts[t, TS_T_HVI] = INF
        xive_notify(t, ts)
    set_evt(ts, t)


@_jit()
def doorbell_lat(s, u, ts, prm):
    if ts[s, TS_CORE] == ts[u, TS_CORE]:
        return prm[PR_DB_CORE]
    if ts[s, TS_CHIP] == ts[u, TS_CHIP]:
        return prm[PR_DB_CHIP]
    return prm[PR_DB_XCHIP]


# ---------------------------------------------------------------- interrupts
@_jit()
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


@_jit()
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
    ts[t, TS_CLK] += prm[PR_INTR]
    ts[t, TS_IMPURE] += 1
    stats[t, stat_of_vector(vec)] += 1


@_jit()
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


@_jit()
def wake_reason(pend):
    if pend & PB_HVI:
        return SRR1_WAKE_HVI
    if pend & PB_DEC:
        return SRR1_WAKE_DEC
    if pend & PB_HDB:
        return SRR1_WAKE_HDB
    return SRR1_WAKE_PDB


@_jit()
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


@_jit()
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
            lines[ts[t, TS_LD0 + k], L_WATCH] -= 1
        ts[t, TS_NLD] = 0
        ts[t, TS_SPIN_CNT] = 0
        ts[t, TS_STATE] = S_RUN
    stats[t, ST_WAKEUPS] += 1


# ---------------------------------------------------------------- MMIO (XIVE)
@_jit()
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


@_jit()
def esb_eoi(src, clk, ts, sprs, chipfree, stats, prm):
    old = ts[src, TS_XPQ]
    if old == 2:
        ts[src, TS_XPQ] = 0
    elif old == 3:          # re-forward the coalesced event
        ts[src, TS_XPQ] = 0
        xive_trigger(src, clk, src, ts, sprs, chipfree, stats, prm)
    return old


@_jit()
def mmio(t, ra, sz, val, is_store, clk, ts, sprs, pir2t, chipfree, stats, prm):
    """An access outside RAM: (register value, ok); ok False is a bus error
    (machine check).  The caller applies big-endian register semantics."""
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


@_jit()
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


@_jit()
def sys_event(t, op, v, c0, clk, npc, msr, sf, psscr, tlog, stats, ctl, prm):
    """The EV_* record of a sysop() that ran from clock c0 to clk (trace_events)."""
    if op == OP_RFID or op == OP_HRFID:
        trace_record(t, clk, EV_RFID, npc, msr, tlog, stats, ctl)
    elif op == OP_MSGSND or op == OP_MSGSNDP:
        trace_record(t, c0, EV_MSGSND, v, 1 if op == OP_MSGSNDP else 0, tlog, stats, ctl)
    elif op == OP_TLBSYNC and clk > c0 + prm[PR_TLBSYNC]:
        trace_record(t, c0, EV_WAIT, clk, 3, tlog, stats, ctl)
    elif (op == OP_STOP or op == OP_WAIT) and sf & SYS_SLEPT:
        trace_record(t, c0, EV_SLEEP, 1 if op == OP_STOP else 0, psscr, tlog, stats, ctl)


@_jit()
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


@_jit()
def rotate(op, s, old, b, imm, aux):
    """rlwinm .. rldcr: RS rotated and masked (old RA merged for the *imi forms)."""
    if op <= OP_RLWIMI:
        n = (b & 31) if op == OP_RLWNM else imm
        lo = s & M32
        r = rotl64(lo | (lo << 32), n)
        m = mask64((aux & 0xFF) + 32, (aux >> 8) + 32)
        res = (r & m) | (old & ~m) if op == OP_RLWIMI else r & m
    else:
        n = (b & 63) if (op == OP_RLDCL or op == OP_RLDCR) else imm
        r = rotl64(s, n)
        if op == OP_RLDICL or op == OP_RLDCL:
            m = mask64(aux, 63)
        elif op == OP_RLDICR or op == OP_RLDCR:
            m = mask64(0, aux)
        else:
            m = mask64(aux, 63 - n)     # rldic, rldimi
        res = (r & m) | (old & ~m) if op == OP_RLDIMI else r & m
    return res


@_jit()
def unary_shift(op, s, b, imm, xer):
    """extsb .. sradi (RA <- f(RS, RB or SH)): (result, XER with CA/CA32)."""
    if op == OP_EXTSB:
        res = sext(s, 1)
    elif op == OP_EXTSH:
        res = sext(s, 2)
    elif op == OP_EXTSW:
        res = sext(s, 4)
    elif op == OP_CNTLZW:
        res = clz64(s & M32) - 32
    elif op == OP_CNTLZD:
        res = clz64(s)
    elif op == OP_CNTTZW:
        x = s & M32
        res = 32 if x == 0 else 63 - clz64(x & -x)
    elif op == OP_CNTTZD:
        res = 64 if s == 0 else 63 - clz64(s & -s)
    elif op == OP_POPCNTB:
        res = popcnt_bytes(s)
    elif op == OP_POPCNTW:
        x = popcnt_bytes(s)
        x += srl(x, 8)
        x += srl(x, 16)
        res = x & 0x0000003F0000003F
    elif op == OP_POPCNTD:
        res = srl(popcnt_bytes(s) * 0x0101010101010101, 56)
    elif op == OP_SLW or op == OP_SRW:
        n = b & 63
        res = 0 if n > 31 else ((s << n) & M32 if op == OP_SLW else srl(s & M32, n))
    elif op == OP_SLD or op == OP_SRD:
        n = b & 127
        res = 0 if n > 63 else (s << n if op == OP_SLD else srl(s, n))
    else:   # sraw srawi srad sradi: CA set iff negative and 1s shifted out
        if op == OP_SRAW or op == OP_SRAWI:
            n = (b & 63) if op == OP_SRAW else imm
            x = sext(s, 4)
            n = min(n, 32)
        else:
            n = (b & 127) if op == OP_SRAD else imm
            x = s
            n = min(n, 64)
        res = x >> min(n, 63)
        lost = (x & ((1 << n) - 1)) if n < 64 else x
        ca = 1 if (x < 0 and lost != 0) else 0
        xer = (xer & ~(XER_CA | XER_CA32)) | (ca << 29) | (ca << 18)
    return res, xer


@_jit()
def muldiv(op, a, b):
    """mulli, mulld .. divwu: (result, overflow); division by zero or MIN / -1
    gives 0 with overflow (as QEMU)."""
    ov = 0
    if op == OP_MULLI or op == OP_MULLD:
        res = a * b
        if op == OP_MULLD:
            hi = mulhdu(a, b) - (b if a < 0 else 0) - (a if b < 0 else 0)
            ov = 0 if hi == (res >> 63) else 1
    elif op == OP_MULLW:
        res = sext(a, 4) * sext(b, 4)
        ov = 0 if res == sext(res, 4) else 1
    elif op == OP_MULHD:
        res = mulhdu(a, b) - (b if a < 0 else 0) - (a if b < 0 else 0)
    elif op == OP_MULHDU:
        res = mulhdu(a, b)
    elif op == OP_MULHW:
        res = srl(sext(a, 4) * sext(b, 4), 32) & M32
    elif op == OP_MULHWU:
        res = srl((a & M32) * (b & M32), 32)
    elif op == OP_DIVD:
        if b == 0 or (a == MIN64 and b == -1):
            res, ov = 0, 1
        else:
            res = sdiv(a, b)
    elif op == OP_DIVDU:
        if b == 0:
            res, ov = 0, 1
        else:
            res = udiv(a, b)
    elif op == OP_DIVW:
        a4, b4 = sext(a, 4), sext(b, 4)
        if b4 == 0 or (a4 == -(1 << 31) and b4 == -1):
            res, ov = 0, 1
        else:
            res = sdiv(a4, b4) & M32
    else:
        if b & M32 == 0:
            res, ov = 0, 1
        else:
            res = (a & M32) // (b & M32)
    return res, ov


@_jit()
def spin_check(t, pc, clk, ninsn, nld, g, cr, lr, ctr, xer, msr, ts, sprs, lines, snap,
               stats):
    """A pure iteration ended at the taken backward branch at `pc` (module
    docstring).  Returns the wake-up clock if the thread now sleeps, else -1."""
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
            same = lines[ts[t, TS_LD0 + k], L_VER] == ts[t, TS_LDV0 + k]
            k += 1
        if same:
            ts[t, TS_SPIN_P] = max(clk - ts[t, TS_SPIN_T], 1)
            ts[t, TS_SPIN_I] = ninsn - ts[t, TS_SPIN_N]
            for k in range(nld):
                lines[ts[t, TS_LD0 + k], L_WATCH] += 1
            ts[t, TS_STATE] = S_SPIN
            ts[t, TS_SLEEP_T] = clk
            ts[t, TS_MSR] = msr
            stats[t, ST_SPIN_SLEEPS] += 1
            return sleep_wake_time(t, ts, sprs)
        cnt = 0
    ts[t, TS_SPIN_CNT] = cnt
    return -1


SYS_LEAVE = 1       # sysop() result flags: end the slice,
SYS_HV = 2          # the synchronous interrupt goes to the hypervisor (sc 1),
SYS_SLEPT = 4       # the thread entered stop/wait (clk = its wake-up time)


@_jit()
def sysop(t, op, rt, rb, imm, aux, pc, clk, msr, g, ts, sprs, stats, tlb, pwc, mmu, prm):
    """Privileged and system instructions, kept out of the hot loop (smaller
    compile, no cost for common ops).  Returns (npc, clk, msr, vector, srr0,
    srr1 reason, SYS_* flags); vector 0 = no interrupt."""
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
        clk += prm[PR_RFID]
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
                lat = prm[PR_STOP0 + rl]
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
        clk = tlbi(t, op == OP_TLBIEL, g[rb], g[rt], imm, aux & 1, (aux >> 1) & 1, clk, ts,
                   tlb, pwc, mmu, stats, prm)
    elif op == OP_TLBSYNC:      # sleeps until every earlier tlbie is acknowledged
        return npc, max(clk + prm[PR_TLBSYNC], ts[t, TS_TLBI_ACK]), msr, 0, 0, 0, SYS_LEAVE
    elif op == OP_SLBIA:
        erat_flush(ts, t, 1)
    else:
        return npc, clk, msr, 0xE40, pc, 0, 0       # illegal word: HEAI [L-exc]
    return npc, clk, msr, 0, 0, 0, 0


# ---------------------------------------------------------------- the scheduler
# A tournament tree over the threads (``sched_*``): leaf u holds the key
# (clock, u), HALTKEY for a halted thread; each inner node the index of the
# smaller key of its two children.  The root is the thread the linear
# scan of (clock, index) would pick; the second smallest key is the smallest
# of the winners the root's path beat.  A thread's key changes when it runs,
# resumes or halts, and when another thread's store, doorbell or XIVE event
# moves its wake-up earlier (post, store_effects): the slices that may do
# that re-check every leaf.
HALTKEY = INF + 1


@_jit()
def sched_key(ts, u):
    return HALTKEY if ts[u, TS_STATE] == S_HALT else ts[u, TS_CLK]


@_jit()
def sched_fix(key, tree, u):
    """Replay leaf u's matches up to the root."""
    i = (u + (tree.shape[0] >> 1)) >> 1
    while i >= 1:
        a = tree[2 * i]
        b = tree[2 * i + 1]
        tree[i] = a if key[a] < key[b] or (key[a] == key[b] and a < b) else b
        i >>= 1


@_jit()
def sched_build(ts, key, tree):
    n = key.shape[0]
    for u in range(n):
        key[u] = sched_key(ts, u) if u < ts.shape[0] else HALTKEY
        tree[n + u] = u
    for i in range(n - 1, 0, -1):
        a = tree[2 * i]
        b = tree[2 * i + 1]
        tree[i] = a if key[a] < key[b] or (key[a] == key[b] and a < b) else b


@_jit()
def sched_sync(ts, key, tree):
    """Re-read every thread's key (another thread's clock may have moved)."""
    for u in range(ts.shape[0]):
        k = sched_key(ts, u)
        if k != key[u]:
            key[u] = k
            sched_fix(key, tree, u)


@_jit()
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


# ---------------------------------------------------------------- the interpreter
@_jit()
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


@_jit(_nrt=False)     # no refcounting: module docstring, "Host cost"
def run_threads(mem, m16, m32, m64, code, gpr, sprs, ts, stats, lines, l1, l2, snap, pir2t,
                chipfree, sprcls, tlb, pwc, mmu, tlog, prm, ctl, key, tree):
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
    memsize = prm[PR_MEMSIZE]
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
                        trace_record(t, ts[t, TS_CLK] - prm[PR_INTR], EV_INTR, ts[t, TS_PC],
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
                fa, _, _, xv, xr, c = xlate(t, pc, ACC_FETCH, msr, clk, m64, ts, sprs, lines,
                                            l1, l2, tlb, pwc, mmu, stats, prm)
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
                                                m64, ts, sprs, lines, l1, l2, tlb, pwc, mmu,
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
                                 clk, ts, sprs, pir2t, chipfree, stats, prm)
                    if prm[PR_TRACE_EVENTS] and stats[t, ST_XIVE_SENT] != i0:
                        trace_record(t, clk, EV_XIVE, pir2t[(rea - ESB_BASE) // ESB_STRIDE], 0,
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
                            clk += fill_cost(t, line, clk, ts, lines, l1, l2, stats, prm)
                        v = rd(mem, m16, m32, m64, rea, sz)
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
                            own = 0 if hit else fill_cost(t, line, clk, ts, lines, l1, l2,
                                                          stats, prm)
                            if op == OP_STCX:
                                clk += own      # stcx. completes only with ownership
                            elif clk + own > ts[t, TS_STDONE]:
                                ts[t, TS_STDONE] = clk + own
                            v = g[rt]
                            wr(mem, m16, m32, m64, rea, sz, bswap(v, sz) if fl & F_BYTEREV else v)
                            store_line(t, line, clk, ts, lines, l1, l2)
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
                            spr_mmu(t, n, ts, tlb, pwc, mmu, prm)
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
                        clk += prm[PR_LWSYNC]
                    else:   # hwsync / ptesync wait for the stores to be globally performed,
                        # ptesync also for this thread's invalidations (section 4.2)
                        c0 = clk + prm[PR_HWSYNC if imm == 0 else PR_PTESYNC]
                        clk = max(c0, ts[t, TS_STDONE], ts[t, TS_TLBI_ACK] if imm == 2 else 0)
                        if prm[PR_TRACE_EVENTS] and clk > c0:
                            trace_record(t, c0 - prm[PR_HWSYNC if imm == 0 else PR_PTESYNC],
                                         EV_WAIT, clk, imm, tlog, stats, ctl)
                elif op == OP_ISYNC:
                    clk += prm[PR_ISYNC]
                elif op == OP_EIEIO:
                    clk += prm[PR_EIEIO]
                else:
                    clk += prm[PR_MSGSYNC]
            elif op == OP_CACHE:
                pass        # dcbf/dcbst/dcbt/icbi: coherence is modelled without them
            elif op == OP_DCBZ:
                ea = ((g[ra] if ra else 0) + g[rb]) & ~127
                rea, xv, xr, c = data_xlate(t, ea, True, msr, clk, m64, ts, sprs, lines, l1, l2,
                                            tlb, pwc, mmu, stats, prm)
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
                own = fill_cost(t, line, clk, ts, lines, l1, l2, stats, prm)
                if clk + own > ts[t, TS_STDONE]:
                    ts[t, TS_STDONE] = clk + own
                mem[rea:rea + 128] = 0
                store_line(t, line, clk, ts, lines, l1, l2)
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
                npc, clk, msr, xv, xs, xr, sf = sysop(t, op, rt, rb, imm, code[i, P_AUX], pc, clk,
                                                      msr, g, ts, sprs, stats, tlb, pwc, mmu, prm)
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
                    w = spin_check(t, pc, clk, ninsn, nld, g, cr, lr, ctr, xer, msr, ts, sprs,
                                   lines, snap, stats)
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


@_jit()
def run(mem, m16, m32, m64, code, gpr, sprs, ts, stats, lines, l1, l2, snap, pir2t,
        chipfree, sprcls, tlb, pwc, mmu, tlog, prm, ctl):
    """Run until every thread halted, max_cycles, or an exit that needs
    Python (ctl[0] = X_*).  Threads asleep at max_cycles are left as they are
    (Machine.run charges their sleep up to max_cycles and undoes it when it
    resumes), so calling again with a larger max_cycles continues the same
    run."""
    n = 2
    while n < ts.shape[0]:
        n *= 2
    key = np.empty(n, np.int64)
    tree = np.empty(2 * n, np.int64)
    sched_build(ts, key, tree)
    ctl[0] = run_threads(mem, m16, m32, m64, code, gpr, sprs, ts, stats, lines, l1, l2, snap,
                         pir2t, chipfree, sprcls, tlb, pwc, mmu, tlog, prm, ctl, key, tree)
