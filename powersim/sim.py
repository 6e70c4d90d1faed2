"""A scenario run: ``run_scenario(load_scenario(path))`` -> Results.

``Simulation`` checks the scenario, builds the kernel (refusing page tables
that do not fit the machine memory), asks the workload generator
(powersim.workloads) for its plan, runs it and builds the Results.

The measured operation is bracketed by trace-port records (docs/CONTRACTS.md
"Trace port": the record carries the storing thread's clock and costs nothing)
from a 3-instruction ``mark`` routine written into the free space below the
kernel data (workloads.bracket).

The run goes in slices of simulated time and ends when the measured CPU has
finished its script: the other CPUs' commands last until ``until_tb``, far
beyond the operation, and sleeping costs no host time.  Between slices a
progress bar counts the work the workload's plan names against its known total
(PMDs torn down, simulated time of a timed workload: ``workloads.Progress``),
with tqdm's rate and time left, and the measured CPU's simulated time.
"""

import contextlib
import sys
import time

import attrs

from powersim.config import ConfigError, Scenario, format_size
from powersim.workloads import MARK_KIND, Run, get, mark_addr

UNTIL_TB = 1 << 42          # timebase the listeners last: ~2.4 hours at 512 MHz [SK-dt]
SLICE_SECONDS = 0.25        # simulated seconds between progress-bar updates


def _mark_routine(addr: int) -> bytes:
    """mark(slot): one trace record (kind MARK_KIND, a = slot) at this clock."""
    from powersim.asm import Builder
    from powersim.machine.layout import TRACE_BASE
    b = Builder()
    b.li64("r5", TRACE_BASE)
    b.std("r3", f"{8 * MARK_KIND}(r5)")
    b.blr()
    return b.assemble(base=addr, filename="<mark>").data


@attrs.define
class Simulation:
    scenario: Scenario
    path: str = ""
    until_tb: int = UNTIL_TB
    kernel: object = attrs.field(init=False)
    last_run: object = attrs.field(init=False, default=None)   # the last run's Run (chrome_trace)

    def __attrs_post_init__(self):
        self.kernel = self._build()

    def _build(self):
        """The Kernel for the scenario, or ConfigError when its page tables do not
        fit the machine memory."""
        from powersim.errors import PowersimError
        from powersim.kernel.cmethod import CMethodError
        from powersim.kernel.image import Kernel
        sc = self.scenario
        mp = sc.machine
        try:
            return Kernel(chips=mp.chips, cores_per_chip=mp.cores_per_chip, smt=mp.smt,
                          ipi=sc.kernel.ipi, params=mp, kparams=sc.kernel,
                          thp_bytes=sc.workload.memory)
        except CMethodError:        # the C method's own message (compiler output, ...)
            raise
        except PowersimError as e:
            raise ConfigError(f"workload.memory = {format_size(sc.workload.memory)}: its page "
                              f"tables do not fit machine.memory = {format_size(mp.memory)} "
                              f"({e}); lower "
                              "workload.memory or raise machine.memory") from None

    def run(self, progress=True):
        from powersim.machine.exec import _results
        from powersim.results import Results
        sc = self.scenario
        gen = get(sc.workload.generator)
        if self.kernel._tables is None:     # an earlier run took them
            self.kernel = self._build()
        plan = gen.plan(self)
        m = self.kernel.load(plan.scripts, mm_cpus=plan.mm_cpus, running=plan.running,
                             mm_users=plan.mm_users, take_tables=True)  # no second copy
        m.load(_mark_routine(mark_addr()), mark_addr())
        from powersim.pool import compile_lock
        with compile_lock(), _without_blas_probe():   # one process compiles, others wait
            m.prepare()
        from powersim.startup import startup_over
        startup_over()      # the collector back on, if the program deferred it
        hz = sc.machine.freq_mhz * 10**6
        step = int(SLICE_SECONDS * hz)
        limit = -(-self.until_tb * sc.machine.freq_mhz // sc.machine.timebase_mhz) + 10**7
        m.watch = plan.measured     # stop when the measured CPU is done
        bar = _ProgressBar(m, plan, hz) if progress else None
        t0 = time.perf_counter()
        for _ in m.run_iter(limit, step):   # ends at X_WATCH: the measured CPU halted
            if bar:
                bar.update()
        if bar:
            bar.close()
        wall = time.perf_counter() - t0
        res = _results(m, (), wall, release_trace=True)    # not held twice
        if m.trace_dropped:     # the marks and round records must all be there
            raise ConfigError(f"machine.trace_capacity = {sc.machine.trace_capacity}: "
                              f"{m.trace_dropped} trace records were dropped; raise it "
                              "(allowed up to 2**24) or lower workload.memory")
        tr = res.trace
        marks = tr[(tr["kind"] == MARK_KIND) & (tr["thread"] == plan.measured)]["cycle"]
        if len(marks) != 4 or not res.threads[plan.measured].halted:
            raise ConfigError(_unfinished(sc, plan.measured, res.threads[plan.measured],
                                          self.until_tb))
        run = Run(machine=m, kernel=self.kernel, result=res, trace=tr, plan=plan)
        self.last_run = run
        extra = gen.measure(self, run) if hasattr(gen, "measure") else {}
        return Results.build(self, res, op_cycles=int((marks[3] - marks[2])
                                                      - (marks[1] - marks[0])),
                             round_cycles=serialize_cycles(tr), extra=extra)


_BLAS = "scipy.linalg.cython_blas"


@contextlib.contextmanager
def _without_blas_probe():
    """Loading the numba core (Machine.prepare) makes numba import
    numba.np.arraymath, which probes for a BLAS by importing scipy.linalg: ~0.2 s
    of every run's start-up (with numpy.f2py and charset_normalizer behind it),
    for a flag (numba's _HAVE_BLAS) that only picks np.correlate/np.convolve's
    inner product, neither of which the core uses.  While the core loads, that
    one import fails at once (None in sys.modules), as when scipy is not
    installed -- scipy is no dependency of powersim; np.dot & co. still import
    scipy when something compiles them later.  A no-op once numba.np.arraymath is
    imported."""
    if "numba.np.arraymath" in sys.modules or _BLAS in sys.modules:
        yield
        return
    sys.modules[_BLAS] = None
    try:
        yield
    finally:
        if _BLAS in sys.modules and sys.modules[_BLAS] is None:
            del sys.modules[_BLAS]


def _unfinished(sc, cpu, thread, until_tb) -> str:
    """Why the measured CPU did not end its operation: a checkstop (an interrupt
    whose vector holds no handler) or time out."""
    from powersim.kernel.cmethod import is_c_method
    gen, method = sc.workload.generator, sc.kernel.method
    if thread.stats.get("checkstop"):
        took = ", ".join(f"{k} x{v}" for k, v in thread.stats.items()
                         if k.startswith("int_") and v)
        return (f"CPU {cpu} stopped in the {gen} operation (checkstop; interrupts taken: "
                f"{took}): the kernel has no handler for one of them"
                + (f"; look for a wild access in the C method {method}"
                   if is_c_method(method) else ""))
    return (f"CPU {cpu} did not finish the {gen} operation within {until_tb} timebase "
            "ticks: lower workload.memory"
            + (f", or check that the C method {method} returns" if is_c_method(method) else ""))


class _RecordCount:
    """Trace-port records of one kind stored by one thread so far, counted
    between run slices: each drained chunk of the log once, the live log anew."""

    def __init__(self, machine, thread: int, kind: int):
        self.machine, self.thread, self.kind = machine, thread, kind
        self.chunks = self.counted = 0

    def _count(self, rows) -> int:
        return int(((rows["kind"] == self.kind) & (rows["thread"] == self.thread)).sum())

    def __call__(self) -> int:
        *drained, live = self.machine.trace_chunks(self.chunks)
        self.counted += sum(self._count(c) for c in drained)
        self.chunks += len(drained)
        return self.counted + self._count(live)


class _ProgressBar:
    """The tqdm bar of a run (on stderr): the plan's Progress against its total,
    with the measured CPU's simulated time in the postfix; without a Progress,
    simulated seconds and no total."""

    def __init__(self, m, plan, hz: float):
        from tqdm import tqdm

        from powersim.machine.layout import TS_CLK
        self.seconds = lambda: int(m.ts[plan.measured, TS_CLK]) / hz
        p = plan.progress
        self.total = None if p is None else p.total
        if p is None:
            self.done = self.seconds
            self.bar = tqdm(desc="simulating", unit="sim s", mininterval=0.5,
                            bar_format="{desc}: {n:.3f} sim s [{elapsed}, {rate_fmt}]")
        else:
            self.done = (_RecordCount(m, plan.measured, p.kind) if p.kind is not None
                         else lambda: int(self.seconds() * 1e6))
            self.bar = tqdm(desc="simulating", total=p.total, unit=f" {p.unit}",
                            mininterval=0.5)

    def update(self):
        done = self.done()
        if self.total is not None:
            self.bar.set_postfix_str(f"sim {self.seconds():.6f} s", refresh=False)
            done = min(done, self.total)
        self.bar.update(done - self.bar.n)

    def close(self):
        self.bar.close()


def serialize_cycles(tr):
    """Cycles of each serialize round: from the PMD_SET_BE record of its PMD
    clear (pgtable.pmd_hugepage_update, right after the stdcx.) to its SERIALIZED
    record on the same thread.  Both sit a few instructions outside the
    serialize itself (a bswap, blr, two mr: the same ~6 instructions in every
    method).  A round without a preceding clear (collapse: a plain PMD_SET) is
    measured from that record."""
    import numpy as np
    from powersim.kernel.checker import kind_mask
    from powersim.kernel.trace import PMD_SET, PMD_SET_BE, SERIALIZED
    last, k = {}, 0
    idx = np.flatnonzero(kind_mask(tr["kind"], (PMD_SET, PMD_SET_BE, SERIALIZED)))
    # an int64 array, not a list of ints: 8 bytes a round (2 M rounds at 4 TiB)
    out = np.empty(np.count_nonzero(tr["kind"] == SERIALIZED), np.int64)
    for i in range(0, len(idx), 1 << 16):       # (chunks: fast on 2 M rounds)
        c = tr[idx[i:i + (1 << 16)]]
        for kind, thread, cycle in zip(c["kind"].tolist(), c["thread"].tolist(),
                                       c["cycle"].tolist()):
            if kind == SERIALIZED:
                out[k] = cycle - last[thread]
                k += 1
            else:
                last[thread] = cycle
    return out


def run_scenario(scenario: Scenario, path: str = "", progress: bool = False):
    """Build and run ``scenario``: its Results (the API sweeps and tests use)."""
    return Simulation(scenario, path).run(progress=progress)
