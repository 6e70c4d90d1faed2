"""The layout of the machine's state arrays and every integer constant the
numba core reads, as plain definitions: no numba, no computation at import.
state.py, exec.py, the kernel generators, the trace exporter and the tests
import them from here; the jitted modules too (numba freezes them as
constants, so powersim.machine.jit keys the cache on this file's text as
well).  Register masks are LSB-style (``1 << (63 - ibm_bit)``), from [L-reg].
"""


from powersim.ops import NDEP

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
TS_FRAC = 9         # issue slots used in the current cycle, in 1/SLOT_ONE cycles
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
# The issue model (interp.py): the cycle each register (ops.py DEP_*) is ready,
# the latest of them (what a draining instruction waits for), and the load-miss
# queue: completion clocks of the last LMQ_MAX misses, a ring.
TS_RDY0 = TS_ERAT0 + ERAT_MAX
TS_DRAIN = TS_RDY0 + NDEP
TS_LMQ_I = TS_DRAIN + 1
TS_LMQ0 = TS_LMQ_I + 1
LMQ_MAX = 32
# The weak memory model (weak.py): the floor under the visibility of the thread's
# next buffered store (raised by lwsync/eieio) and the time by which every store
# it has read is visible to all threads (a sync waits for it); the latest time a
# load was satisfied at, the floor under the next loads' (raised by lwsync), and
# LS_SLOTS recent (line, time) pairs of loads satisfied after they issued, so a
# later load of the line is not satisfied earlier (read-read coherence).
TS_FLOOR = TS_LMQ0 + LMQ_MAX
TS_OBS = TS_FLOOR + 1
TS_LDMAX = TS_OBS + 1
TS_LDFLOOR = TS_LDMAX + 1
LS_SLOTS = 4
TS_LS0 = TS_LDFLOOR + 1     # line of slot k at TS_LS0 + 2k, its time at TS_LS0 + 2k + 1
TS_MOVED = TS_LS0 + 2 * LS_SLOTS  # 1 while the thread waits in the scheduler's moved queue
TS_MOVQ = TS_MOVED + 1      # the moved queue: row k's column holds the k-th thread whose
                            # clock another thread lowered (sched.moved), row 0's
TS_NMOVQ = TS_MOVQ + 1      # column its length
NTS = TS_NMOVQ + 1
SLOT_ONE = 4096     # one cycle of issue slots (TS_FRAC fixed point)
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
    "trace_records", "trace_dropped", "cycles_stall", "mispredicts", "lmq_full",
    "stores_buffered", "loads_stale", "store_buffer_overflows", "slices", "boundaries",
)
ST_CYCLES_STOP = 0
ST_CYCLES_SPIN = 1
ST_SPIN_SLEEPS = 2
ST_STOP_ENTRIES = 3
ST_WAKEUPS = 4
ST_SPIN_SKIPPED_INSNS = 5
ST_LOADS = 6
ST_STORES = 7
ST_L1_MISS = 8
ST_L2_HITS = 9
ST_L3_HITS = 10
ST_C2C_CHIP = 11
ST_C2C_XCHIP = 12
ST_DRAM = 13
ST_STCX_OK = 14
ST_STCX_FAIL = 15
ST_DOORBELLS_SENT = 16
ST_DOORBELLS_RECV = 17
ST_XIVE_SENT = 18
ST_XIVE_RECV = 19
ST_INT_100 = 20
ST_INT_200 = 21
ST_INT_300 = 22
ST_INT_500 = 23
ST_INT_700 = 24
ST_INT_900 = 25
ST_INT_A00 = 26
ST_INT_C00 = 27
ST_INT_E40 = 28
ST_INT_E80 = 29
ST_INT_EA0 = 30
ST_CHECKSTOP = 31
ST_INT_380 = 32
ST_INT_400 = 33
ST_INT_480 = 34
ST_INT_E00 = 35
ST_TLB_HITS = 36
ST_TLB_MISSES = 37
ST_PWC_HITS = 38
ST_WALK_READS = 39
ST_ERAT_MISSES = 40
ST_TLBIE = 41
ST_TLBIEL = 42
ST_TRACE_RECORDS = 43
ST_TRACE_DROPPED = 44
ST_CYCLES_STALL = 45
ST_MISPREDICTS = 46
ST_LMQ_FULL = 47        # L1 misses that waited for a free load-miss queue entry
ST_SB_STORES = 48       # stores that went through the store buffers (weak.py)
ST_SB_STALE = 49        # loads that read an older value than the newest store's
ST_SB_OVERFLOW = 50     # times the store-buffer pool was full (0 in any sane run)
ST_SLICES = 51          # times the scheduler ran the thread (host cost: interp.py)
ST_BOUNDARIES = 52      # boundary checks within its slices (interrupts, slice end)
NSTAT = len(STAT_NAMES)

# --- per-line state: lines[L_*][line] (128-byte lines [SK-dt]) -----------------
# ``lines`` is a tuple of one array per field, in L_* order, each of the
# narrowest type that holds its range (LINE_TYPES): 23 bytes a line.  Arrays
# start all zero and the host allocates a page of one only when it is first
# written, so a field the run never writes (spinners, reservations) costs no
# host memory at all.
LINE_SHIFT = 7
L_VER = 0           # bumped by every store: a cached copy is valid while its version matches
                    # (int32: it wraps; equality is all that is asked of it)
L_SEEN = 1          # bit mask of chips whose L3 has held the line (16 bits: MAX_CHIPS)
L_WATCH = 2         # number of spin sleepers watching the line
L_RSV = 3           # number of reservations on the line
L_WTIME = 4         # clock of the last store (causality in fast mode), exact in cycles
L_WTHR = 5          # thread of the last store + 1 (0: none; zero-initialised lines stay
                    # untouched host pages until used); its core is the last writer's
L_SHARED = 6        # bit 0: set once a thread accessed a line another thread wrote: then
                    # every access to it is ordered (fast mode keeps communication in time
                    # order); bits 1-2: the farthest core that read it since its last store
                    # (SH_PAIR, SH_CHIP, SH_XCHIP from the writer: memory.py), 0 for none
SH_PAIR, SH_CHIP, SH_XCHIP = 1, 2, 3     # how far one core is from another
L_SB = 7            # newest store-buffer entry on the line (weak.py; 0: none)
NL = 8
# numpy type of each L_* field; 16 bits hold a thread + 1 or a count of threads
# (at most 16 chips x 64 cores x SMT4 = 4096 threads), or a store-buffer entry
LINE_TYPES = ("i4", "u2", "i2", "i2", "i8", "i2", "i1", "i2")

# --- store-buffer entries: sbe[e, E_*] (weak.py); row 0 is the pool's header --
E_DW = 0            # doubleword address (real address >> 3)
E_VAL = 1           # the stored bytes, in their place in the little-endian doubleword
E_MASK = 2          # which bits of the doubleword the store wrote (whole bytes)
E_PREV = 3          # under E_MASK: the doubleword's bytes just before the store
E_T = 4             # the storing thread
E_TC = 5            # when it executed
E_TG = 6            # when it is performed at its L2: the coherence order of the doubleword
E_LB = 7            # the floor under its visibility (the thread's TS_FLOOR then)
E_SEQ = 8           # its number (thread, store count), the seed of its jitter
E_NEXT = 9          # the next older entry of the line (0: none); free list link
E_LINE = 10         # its line, -1 when free
E_VER = 11          # the line's version (L_VER) the store made
NE = 12
H_FREE = 0          # sbe[0, H_FREE]: first free entry (0: none)
SB_ENTRIES = (1 << 15) - 1    # entry numbers fit L_SB's 16 bits

# Set-associative, LRU (way 0 the most recent): 32 KiB and 512 KiB [SK-dt].
# 8 ways each is UNVERIFIED: the POWER9 user's manual was not at hand; 8-way is
# the figure commonly quoted for POWER9's L1D and L2 (POWER4's L2 was 8-way too)
L1_WAYS = 8
L1_SETS = 32        # 32 KiB / 128 B / 8 ways, per core
L2_WAYS = 8
L2_SETS = 512       # 512 KiB / 128 B / 8 ways, per core pair
# The L3 region of a core pair: 10 MiB [RCS], 20 ways (UNVERIFIED, as the L1/L2
# ways); tags (line + 1, version), 0 = empty, so untouched sets cost no host memory
L3_WAYS = 20
L3_SETS = 4096      # 10 MiB / 128 B / 20 ways

# --- prm[PR_*]: the parameter array, in cycles ---------------------------------
# Generated from MachineParams (powersim/machine/params.py: one slot per field in
# declaration order after the per-run slots, converted by unit); do not edit by
# hand: regenerate with `python -m powersim.machine.params` (a test checks).
# --- generated: params.layout_block() ---
PR_MAX_CYCLES = 0
PR_EXACT = 1
PR_CODE_BYTES = 2
PR_WATCH = 3
PR_CHIPS = 4
PR_CORES_PER_CHIP = 5
PR_SMT = 6
PR_FREQ_MHZ = 7
PR_TIMEBASE_MHZ = 8
PR_MEMORY = 9
PR_QUANTUM = 10
PR_SMT_COST_PCT = 11  # 4 slots
PR_DISPATCH_WIDTH = 15
PR_ISSUE_SLICES = 16
PR_MISPREDICT_PENALTY = 17
PR_LMQ_ENTRIES = 18
PR_LAT_L1 = 19
PR_LAT_L2 = 20
PR_LAT_L3 = 21
PR_LAT_REMOTE = 22
PR_LAT_XCHIP = 23
PR_LAT_DRAM = 24
PR_COST_HWSYNC = 25
PR_COST_LWSYNC = 26
PR_COST_PTESYNC = 27
PR_COST_ISYNC = 28
PR_COST_EIEIO = 29
PR_COST_MSGSYNC = 30
PR_MEMORY_MODEL = 31
PR_SMT_STORE_FORWARD = 32
PR_STORE_JITTER = 33
PR_COST_INTR = 34
PR_COST_RFID = 35
PR_DB_CORE = 36
PR_DB_CHIP = 37
PR_DB_XCHIP = 38
PR_XIVE_CHIP = 39
PR_XIVE_XCHIP = 40
PR_XIVE_INTERVAL = 41
PR_ESB_LOAD = 42
PR_ESB_STORE = 43
PR_XIVE_IPI_PRIO = 44
PR_STOP_LITE = 45
PR_STOP = 46  # 16 slots
PR_WAIT = 62
PR_RC_HW_UPDATE = 63
PR_PWC_ENTRIES = 64
PR_PWC_WAYS = 65
PR_COST_TLBIEL = 66
PR_COST_TLBIE = 67
PR_COST_TLBSYNC = 68
PR_TLBIE_OCCUPANCY = 69
PR_TLBIE_CHIP = 70
PR_TLBIE_XCHIP = 71
PR_TLBIE_APPLY = 72
PR_ERAT_ENTRIES = 73
PR_ERAT_MISS = 74
PR_TRACE_CAPACITY = 75
PR_TRACE_EVENTS = 76
PR_ERRATUM_TLBIE_ERAT = 77
PR_ERRATUM_TLBIE_STQ = 78
NPRM = 79
# --- end generated ---

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
# --- trace-port kinds: the one registry ------------------------------------------
# Every kind any layer writes through the trace port is allocated here; the kernel
# (powersim/kernel/trace.py, smp.py), the workloads' bracket marks and the core's
# own event records import their numbers, and KIND_NAMES names each one.
# Kernel race-checker trace points (powersim/kernel/trace.py documents a and b):
K_PT_ALLOC = 1
K_PT_FREE = 2
K_PMD_SET = 3
K_PMD_SET_BE = 4
K_WALK_PMD = 5
K_WALK_DEREF = 6
K_WALK_BEGIN = 7
K_WALK_END = 8
K_WALK_RESTORED = 9
K_SERIALIZED = 10
K_IDLE_STOP = 11
K_PAGE_FREE = 12        # a = the struct page, b = the order (__free_pages_ok)
K_PAGE_GET = 13         # a = the struct page a walker takes a reference on (gup_fast)
K_PAGES_FLUSH = 14      # a = 0 entering, 1 leaving tlb_batch_pages_flush (a page batch freed)
# Instrumentation of the workloads (not kernel code paths):
K_MARK = 0xF0           # powersim.workloads bracket marks around the measured op
K_IPI_RTT = 0xF1        # kernel/smp.py ipi_round_trips: a = round index
K_IPI_WAKE = 0xF2       # kernel/smp.py ipi_wake_rounds: a = round; b = 0 the sender
                        # before the call, 1 the target's callback entered
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
KIND_NAMES = {
    K_PT_ALLOC: "pt_alloc", K_PT_FREE: "pt_free", K_PMD_SET: "pmd_set",
    K_PMD_SET_BE: "pmd_set_be", K_WALK_PMD: "walk_pmd", K_WALK_DEREF: "walk_deref",
    K_WALK_BEGIN: "walk_begin", K_WALK_END: "walk_end", K_WALK_RESTORED: "walk_restored",
    K_SERIALIZED: "serialized", K_IDLE_STOP: "idle_stop", K_PAGE_FREE: "page_free",
    K_PAGE_GET: "page_get", K_PAGES_FLUSH: "pages_flush",
    K_MARK: "mark", K_IPI_RTT: "ipi_rtt", K_IPI_WAKE: "ipi_wake",
    EV_INTR: "ev_intr", EV_RFID: "ev_rfid", EV_MSGSND: "ev_msgsnd", EV_XIVE: "ev_xive",
    EV_WAIT: "ev_wait", EV_SLEEP: "ev_sleep", EV_WAKE: "ev_wake", EV_STALL: "ev_stall",
}
RA_MASK = 0x0FFF_FFFF_FFFF_FFFF

# --- radix MMU ([L-pgt], [Q-rad], [MW]) ----------------------------------------
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
SYS_LEAVE = 1       # sysop() result flags: end the slice,
SYS_HV = 2          # the synchronous interrupt goes to the hypervisor (sc 1),
SYS_SLEPT = 4       # the thread entered stop/wait (clk = its wake-up time)
HALTKEY = INF + 1   # the scheduler's key of a halted thread (sched.py)
# What an instruction family asks of the dispatcher (interp.py; bits of its `d`):
D_STAY = 1          # do not advance the pc (a yield or a synchronous interrupt)
D_RECHECK = 2       # run the boundary checks before the next instruction
D_LEAVE = 4         # end the slice at the next boundary
D_OTHERS = 8        # another thread's clock may have moved: re-read the moved ones (sched_sync)
D_UNDO = 16         # the instruction did not count (yield, trace port): ninsn - 1

