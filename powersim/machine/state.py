"""The Machine: validates the configuration, owns every state array
(struct-of-arrays, numpy), loads an image, starts threads and drives the
numba core.  Nothing here re-implements what the core does.

Topology and PIR.  Thread index t = (chip * cores_per_chip + core) * smt +
thread, and PIR = chip << 8 | core << 2 | thread, the POWER9 numbering of
skiboot (``P9_PIR2COREID(pir) = (pir >> 2) & 0x3f``, chip in bits 8:14)
[SK-dt]; so t order is PIR order.  Cores 2k and 2k+1 of a chip form the core
pair sharing L2 and L3 [RCS].
"""

import sys
from pathlib import Path

import numpy as np

from powersim import ops
from powersim.errors import PowersimError
from powersim.machine import core
from powersim.machine.layout import (
    CTL_TRACE_DROP, CTL_TRACE_N, E_LINE, E_NEXT, H_FREE, HID0_HILE, INF, L1_SETS, L1_WAYS, L2_SETS, L2_WAYS, L3_SETS, L3_WAYS,
    LINE_SHIFT, LINE_TYPES, LPCR_HVICE,
    LPCR_ILE, MSR_HV, MSR_LE, MSR_ME, MSR_SF, NE, NL, NMM, NPE, NSPR, NSTAT, NTE, NTR, NTS,
    OP_STALE, SB_ENTRIES, SPR_DEC, SPR_HID0, SPR_LPCR, SPR_PIR, ST_CYCLES_SPIN, ST_CYCLES_STOP, S_HALT,
    S_RUN, S_SPIN, S_STOP, TLB_ROWS, TLB_WAYS, TS_CHIP, TS_CLK,
    TS_CORE, TS_CPPR, TS_DPAGE, TS_EVT, TS_IPAGE, TS_MSR, TS_PAIR, TS_PC, TS_PIR, TS_RES,
    TS_SLEEP_T, TS_SPIN_PC, TS_STATE, TS_THR, TS_T_DEC, TS_T_HDB, TS_T_HVI,
    TS_T_PDB, X_DECODE, X_MAXCYC, X_TRACE_FULL,
)
from powersim.machine.params import MachineParams

# Hypervisor-only SPRs: HSPRG0/1 .. LPIDR (304-319), PTCR, HID0 [OBJ]; the rest
# follow the architecture's rule that SPR numbers with bit 0x10 set are
# privileged.
_HV_SPRS = list(range(304, 320)) + [464, SPR_HID0]
CODE_CHUNK = 64 << 10   # the predecoded table grows by this much at a time
DRAIN_BLOCK = 36 << 20  # drained trace records are kept in blocks of this many bytes
                        # (above glibc's largest mmap threshold, 32 MiB: see _drain_trace)


TRACE_DTYPE = np.dtype([("cycle", np.int64), ("seq", np.int64), ("thread", np.int64),
                        ("kind", np.int64), ("a", np.uint64), ("b", np.uint64)])
# a drained record: its seq is its place in host order, thread and kind are small
# (< 4096 threads, < TRACE_KINDS kinds): 32 bytes, not the log's 48
DRAINED_DTYPE = np.dtype([("cycle", np.int64), ("a", np.uint64), ("b", np.uint64),
                          ("thread", np.int16), ("kind", np.int16)], align=True)


def new_lines(nlines: int) -> tuple:
    """The per-line state of `nlines` lines, all zero: one array per field, in
    L_* order and of its LINE_TYPES type (layout.py), ``lines[L_VER][line]``."""
    assert len(LINE_TYPES) == NL
    return tuple(np.zeros(nlines, t) for t in LINE_TYPES)


def _spr_classes() -> np.ndarray:
    cls = np.where((np.arange(NSPR) & 0x10) != 0, 1, 0).astype(np.int64)
    cls[_HV_SPRS] = 2
    return cls


class Machine:
    """One emulated machine.  ``Machine(MachineParams(...))`` validates before
    any allocation or compile; then ``load(data)``, ``start(entry, n)`` and
    ``run(max_cycles, exact)``."""

    def __init__(self, params: MachineParams, mem=None):
        self.p = params.validate()
        p = self.p
        if mem is not None and not (isinstance(mem, np.ndarray) and mem.dtype == np.uint8
                                    and mem.shape == (p.memory,)
                                    and mem.flags.c_contiguous and mem.flags.writeable):
            raise PowersimError(f"Machine(mem=...): allowed a writable contiguous uint8 "
                                f"array of memory = {p.memory} bytes")
        self.ncores = p.chips * p.cores_per_chip
        self.npairs_per_chip = (p.cores_per_chip + 1) // 2
        self.nthreads = self.ncores * p.smt
        n = self.nthreads
        # np.zeros: the host allocates a page only when it is first written
        self.mem = np.zeros(p.memory, np.uint8) if mem is None else mem
        self.m16 = self.mem.view(np.uint16)
        self.m32 = self.mem.view(np.uint32)
        self.m64 = self.mem.view(np.int64)
        self.gpr = np.zeros((n, 32), np.int64)
        self.sprs = np.zeros((n, NSPR), np.int64)
        self.ts = np.zeros((n, NTS), np.int64)
        self.stats = np.zeros((n, NSTAT), np.int64)
        self.snap = np.zeros((n, 36), np.int64)
        # all-zero (no writer yet: L_WTHR holds the writer + 1), so the pages of
        # lines the run never touches are never allocated by the host
        self.lines = new_lines(p.memory >> LINE_SHIFT)
        # the store-buffer entries of the weak memory model (weak.py), a free list
        self.sbe = np.zeros((SB_ENTRIES + 1, NE), np.int64)
        self.sbe[1:, E_LINE] = -1
        self.sbe[1:-1, E_NEXT] = np.arange(2, SB_ENTRIES + 1)
        self.sbe[0, H_FREE] = 1
        self.l1 = np.full((self.ncores * L1_SETS * L1_WAYS, 2), -1, np.int64)
        self.l2 = np.full((p.chips * self.npairs_per_chip * L2_SETS * L2_WAYS, 2), -1, np.int64)
        self.l3 = np.zeros((p.chips * self.npairs_per_chip * L3_SETS * L3_WAYS, 2), np.int64)
        self.pir2t = np.full(p.chips << 8, -1, np.int64)
        self.chipfree = np.zeros(p.chips, np.int64)
        # radix MMU: per-core TLB, page walk cache and cached table entries (mmu.py)
        self.tlb = np.zeros((self.ncores * TLB_ROWS * TLB_WAYS, NTE), np.int64)
        self.pwc = np.zeros((self.ncores * p.pwc_entries, NPE), np.int64)
        self.mmu = np.zeros((self.ncores, NMM), np.int64)
        self.sprcls = _spr_classes()
        self.ctl = np.zeros(4, np.int64)
        self.tlog = np.zeros((p.trace_capacity, NTR), np.int64)    # trace port (layout.py)
        self._drained = []     # records drained from a full log (DRAINED_DTYPE chunks)
        self._block = np.empty((0, NTR), np.int64), 0   # the block they go to, rows used
        self.watch = -1     # run() returns X_WATCH when this thread halts (-1: none)
        self.code = np.zeros((0, ops.NFIELDS), np.int64)
        self.redecodes = 0
        for t in range(n):
            core_g, thr = divmod(t, p.smt)
            chip, c = divmod(core_g, p.cores_per_chip)
            pir = chip << 8 | c << 2 | thr
            self.pir2t[pir] = t
            row = self.ts[t]
            row[TS_PIR], row[TS_CORE], row[TS_CHIP], row[TS_THR] = pir, core_g, chip, thr
            row[TS_PAIR] = chip * self.npairs_per_chip + c // 2
            row[TS_STATE] = S_HALT
            row[TS_RES] = row[TS_SPIN_PC] = row[TS_DPAGE] = row[TS_IPAGE] = -1
            row[[TS_EVT, TS_T_DEC, TS_T_HDB, TS_T_PDB, TS_T_HVI]] = INF
            row[TS_CPPR] = 0xFF     # as Linux leaves it after xive_setup_cpu [L-xive]
            self.sprs[t, SPR_PIR] = pir
            self.sprs[t, SPR_DEC] = 0x7FFFFFFF

    # ------------------------------------------------------------------ set-up
    def load(self, data: bytes, base: int = 0):
        """Copy an image to physical `base` and predecode it."""
        end = base + len(data)
        if base < 0 or end > self.p.memory:
            raise PowersimError(
                f"image of {len(data)} bytes at {base:#x} does not fit in memory of "
                f"{self.p.memory} bytes (allowed: end address <= {self.p.memory:#x}; "
                f"raise memory)")
        self.mem[base:end] = np.frombuffer(bytes(data), np.uint8)
        self._grow_code(end)

    def _grow_code(self, upto: int):
        """Predecode memory up to `upto` (rounded up to CODE_CHUNK)."""
        from powersim import isa
        new_bytes = min(self.p.memory, -(-max(upto, 1) // CODE_CHUNK) * CODE_CHUNK)
        old = self.code.shape[0]
        if new_bytes // 4 <= old:
            return
        rows = isa.table().predecode(self.m32[old:new_bytes // 4])
        self.code = np.ascontiguousarray(np.concatenate([self.code, rows]), np.int64)

    def _redecode(self, addr: int):
        """Exit X_DECODE: grow the table or re-predecode overwritten words."""
        from powersim import isa
        if addr >> 2 >= self.code.shape[0]:
            self._grow_code(addr + 4)
        stale = np.nonzero(self.code[:, ops.P_OP] == OP_STALE)[0]
        if len(stale):
            self.code[stale] = isa.table().predecode(self.m32[stale])
            self.redecodes += len(stale)

    def start(self, entry: int, nthreads=None):
        """Start the first `nthreads` threads (PIR order; all when None) at
        `entry` in hypervisor real mode, r3 = PIR; the others stay halted."""
        n = self.nthreads if nthreads is None else nthreads
        if not 1 <= n <= self.nthreads:
            raise PowersimError(f"threads = {n}: this machine has {self.nthreads} hardware "
                                f"threads (allowed 1..{self.nthreads})")
        for t in range(n):
            row = self.ts[t]
            row[TS_STATE] = S_RUN
            row[TS_PC] = entry
            row[TS_MSR] = MSR_SF | MSR_HV | MSR_ME | MSR_LE
            self.gpr[t, 3] = row[TS_PIR]
            self.sprs[t, SPR_LPCR] = LPCR_ILE | LPCR_HVICE
            self.sprs[t, SPR_HID0] = HID0_HILE
            self.ts[t, TS_T_DEC] = self._cycles_of_tb(0x80000000)
            self.ts[t, TS_EVT] = self.ts[t, TS_T_DEC]

    def _cycles_of_tb(self, tb: int) -> int:
        return -(-tb * self.p.freq_mhz // self.p.timebase_mhz)

    def prm(self, max_cycles: int, exact: bool) -> np.ndarray:
        """The core's parameter array (layout.PR_*, params.MachineParams.to_array)."""
        return np.array(self.p.to_array(max_cycles=max_cycles, exact=int(exact),
                                        code_bytes=self.code.shape[0] * 4,
                                        watch=self.watch + 1), np.int64)

    # ------------------------------------------------------------------ running
    def run(self, max_cycles: int = 10**9, exact: bool = False) -> int:
        """Run until every thread halted or max_cycles; returns X_DONE/X_MAXCYC
        (or X_WATCH once thread ``self.watch`` halted, if it is set).

        Resumable: run(A) then run(B) with B > A (same `exact`) ends in the same
        state, stats and trace as run(B) alone.  max_cycles never changes a
        scheduling decision (interp.run_threads), and at X_MAXCYC the threads
        asleep are charged their sleep up to max_cycles (clock = max_cycles, as
        if they had been looked at then); the next call first takes that back."""
        check_max_cycles(max_cycles)
        self.prepare()
        self._uncharge()
        while True:
            core.run(*self._args(self.prm(max_cycles, exact)))
            if self.ctl[0] == X_TRACE_FULL:
                self._drain_trace()
                continue
            if self.ctl[0] != X_DECODE:
                break
            self._redecode(int(self.ctl[1]))
        if self.ctl[0] == X_MAXCYC:
            self._charge(max_cycles)
        return int(self.ctl[0])

    def run_iter(self, max_cycles: int = 10**9, step: int = 10**7, exact: bool = False):
        """Machine.run in slices of `step` cycles, for a progress bar: yields the
        earliest clock of the threads still running (max_cycles once all halted
        or the limit is reached) after each slice.  The run is the same as
        run(max_cycles, exact); its status is ``self.status`` afterwards."""
        check_max_cycles(max_cycles)
        if not isinstance(step, int) or step < 1:
            raise PowersimError(f"step = {step!r}: allowed a positive number of cycles")
        limit = 0
        while True:
            limit = min(limit + step, max_cycles)
            self.status = self.run(limit, exact)
            if self.status != X_MAXCYC or limit >= max_cycles:
                yield max_cycles
                return
            yield min(int(self.ts[u, TS_CLK]) for u in range(self.nthreads)
                      if self.ts[u, TS_STATE] != S_HALT)

    def _charge(self, max_cycles):
        """X_MAXCYC: the sleepers would only sleep until max_cycles: charge them
        that (stats cycles_stop / cycles_spin, clock = max_cycles; one that fell
        asleep after max_cycles, in a quantum that crossed it, keeps its
        clock), remembering how to take it back."""
        undo = []
        for u in range(self.nthreads):
            st = self.ts[u, TS_STATE]
            if st == S_STOP or st == S_SPIN:
                col = ST_CYCLES_STOP if st == S_STOP else ST_CYCLES_SPIN
                d = max(0, max_cycles - int(self.ts[u, TS_SLEEP_T]))
                undo.append((u, col, d, int(self.ts[u, TS_CLK])))
                self.stats[u, col] += d
                self.ts[u, TS_CLK] = max(max_cycles, int(self.ts[u, TS_SLEEP_T]))
        self._undo = undo

    def _uncharge(self):
        for u, col, d, clk in getattr(self, "_undo", ()):
            self.stats[u, col] -= d
            self.ts[u, TS_CLK] = clk
        self._undo = []

    def _args(self, prm):
        return ((self.mem, self.m16, self.m32, self.m64), self.code,
                (self.gpr, self.sprs, self.ts, self.stats, self.snap),
                (self.lines, self.l1, self.l2, self.l3, self.sbe), (self.tlb, self.pwc, self.mmu),
                (self.pir2t, self.chipfree), self.sprcls, self.tlog, prm, self.ctl)

    def _drain_trace(self):
        """Exit X_TRACE_FULL: move the log's records to host memory, keeping
        their host order in TR_SEQ across drains, and empty the log."""
        n = int(self.ctl[CTL_TRACE_N])
        block, used = self._block
        if used + n > len(block):
            # chunks are views of blocks of DRAIN_BLOCK bytes: the C allocator maps
            # so large a block on its own and gives it back to the system when it
            # is freed (trace(release=True)); a chunk-sized copy could stay in its
            # heap.  np.empty: the block's unused end is never touched
            block, used = np.empty(max(n, DRAIN_BLOCK // DRAINED_DTYPE.itemsize),
                                   DRAINED_DTYPE), 0
        chunk = block[used:used + n]
        live = self._records(n)
        for name in DRAINED_DTYPE.names:
            chunk[name] = live[name]
        self._block = block, used + n
        self._drained.append(chunk)
        self.ctl[CTL_TRACE_N] = 0

    def trace(self, release: bool = False) -> np.ndarray:
        """The trace-port records (layout.py TRACE_BASE) so far: a structured array
        with int64 fields cycle, seq, thread (index in PIR order), kind and
        uint64 fields a (the stored register) and b (r0), sorted by (cycle,
        thread, program order) -- the (cycle, thread id) order in which exact
        mode executes and fast mode performs shared-memory accesses (runs are
        deterministic).  seq numbers the records in that order, so it is the same
        in both modes whenever the cycles are.

        ``release=True`` (a finished run's last look) gives the drained chunks up
        as they are copied, so the records are not held twice; the machine then
        has no trace left (trace() and trace_chunks() refuse)."""
        self._check_trace()
        parts = self._drained + [self._records(int(self.ctl[CTL_TRACE_N]))]
        if release:
            self._drained = self._block = None
        total = sum(len(p) for p in parts)
        # the sort is stable, so the records of one (cycle, thread) keep host order,
        # which is their program order: the order of the sorted records, and then
        # each record's place in it (inv), filled in blocks (no N-long temporaries)
        order = np.lexsort((np.concatenate([p["thread"].astype(np.int16) for p in parts]),
                            np.concatenate([p["cycle"] for p in parts])))
        inv = np.empty(total, np.int32 if total < 1 << 31 else np.int64)
        for i in range(0, total, 1 << 20):
            inv[order[i:i + (1 << 20)]] = np.arange(i, min(total, i + (1 << 20)))
        del order
        out = np.empty(total, TRACE_DTYPE)
        start = 0
        while parts:
            p = parts.pop(0)      # released parts are freed once copied
            at = inv[start:start + len(p)]
            for name in DRAINED_DTYPE.names:
                out[name][at] = p[name]
            start += len(p)
            del p, at
        del inv
        for i in range(0, total, 1 << 20):     # seq: the place in this order
            out["seq"][i:i + (1 << 20)] = np.arange(i, min(total, i + (1 << 20)))
        return out

    def _check_trace(self):
        if self._drained is None:
            raise PowersimError("the trace was released (Machine.trace(release=True))")

    def trace_chunks(self, start: int = 0) -> list:
        """The trace-port records so far as structured arrays with (at least) the
        fields cycle, thread, kind, a and b, in host order, no sort, no copy: the
        drained chunks from index ``start`` on, then the live log last.  Cheap
        enough to read between run slices."""
        self._check_trace()
        return self._drained[start:] + [self._records(int(self.ctl[CTL_TRACE_N]))]

    def _records(self, n: int) -> np.ndarray:
        """The live log's first n records as a TRACE_DTYPE view (its TR_* columns)."""
        return self.tlog[:n].view(TRACE_DTYPE)[:, 0]

    @property
    def trace_dropped(self) -> int:
        """Trace records lost because the log (trace_capacity) was full."""
        return int(self.ctl[CTL_TRACE_DROP])

    def mmu_call(self, kind: int, t: int, a=0, b=0, c=0, d=0, e=0) -> tuple:
        """core.mmu_call on thread t (the powersim.mmu test API's way in)."""
        a, b = (v - (1 << 64) if v >> 63 else v for v in (a, b))    # as int64 patterns
        args = tuple(int(v) for v in (a, b, c, d, e))     # one type: UniTuple(int64)
        return core.mmu_call(kind, t, args, self.m64, self.ts, self.sprs,
                             (self.lines, self.l1, self.l2, self.l3, self.sbe), (self.tlb, self.pwc, self.mmu),
                             self.stats, self.prm(1, False))

    def prepare(self):
        """Compile the core (or load it from numba's cache) now, so that run()
        times only simulation; says so on stderr when it has to compile."""
        if not core.run.signatures:
            import numba
            announce_compile()
            core.run.compile(tuple(numba.typeof(a) for a in self._args(self.prm(1, False))))


def check_max_cycles(max_cycles):
    if not isinstance(max_cycles, int) or not 1 <= max_cycles < INF:
        raise PowersimError(f"max_cycles = {max_cycles!r}: allowed 1..{INF - 1}")


def _core_cached() -> bool:
    """Whether numba's cache holds core.run for the current sources: its index
    exists (in the folder named by their digest, powersim.machine.jit) and
    carries core.py's stamp."""
    try:
        # private numba API (Dispatcher._cache, _CacheFile._load_index; numba < 0.69 in
        # pyproject.toml): the index numba itself checks before loading a cached core
        return bool(core.run._cache._cache_file._load_index())
    except Exception:   # another numba version: any index in the digest's folder
        return any(Path(core.run._cache._cache_path).glob("core.run-*.nbi"))


def announce_compile():
    """Say on stderr when the numba core is about to be compiled (once: a
    compiled core is cached in memory and on disk)."""
    if not _core_cached():
        print("powersim: compiling the numba core (first run only, about a minute)...",
              file=sys.stderr, flush=True)
