"""A scenario run: ``Simulation(load_scenario(path)).run()`` -> Results.

Generator ``munmap_thp`` (issue #6 item 2): PID 1 maps ``workload.memory`` of
THPs at ``mm.THP_EA``; CPU 0 tears the region down (``munmap``, or ``exit_mmap``
when ``workload.fullmm``) while the other ``vcpus - 1`` CPUs are in mm_cpumask
and listen for IPIs; CPUs beyond ``vcpus`` are not in the mask.

The measured operation is bracketed by trace-port records (docs/CONTRACTS.md
"Trace port": the record carries the storing thread's clock and costs nothing)
from a 3-instruction routine written into the free space below the kernel data.
The script runs mark, mark, mark, op, mark: the first pair measures the cost of
one command dispatch plus the mark routine, which is subtracted from the third
pair, so ``op_cycles`` is the operation from its entry to its return.

The listening CPUs run WAIT_UNTIL (interrupts are taken meanwhile, any number
of them) rather than IDLE: an IDLE command returns after one interrupt and a
script holds at most ``Layout.script_cmds`` commands, fewer than the IPI rounds
of a large region.  They listen until ``LISTEN_TB``, far beyond the operation
(sleeping costs no host time); a run whose CPU 0 is not done by then is refused.
"""

import time

import attrs

from powersim.config import ConfigError, Scenario, format_size

IMPLEMENTED = ("munmap_thp",)
MARK_KIND = 0xF0            # trace-port kind of the bracket marks (kernel kinds are 1..10)
LISTEN_TB = 1 << 33         # timebase ticks the listeners wait: ~16.8 s at 512 MHz [SK-dt]


def check_implemented(scenario: Scenario):
    gen = scenario.workload.generator
    if gen not in IMPLEMENTED:
        raise ConfigError(f"workload.generator = {gen!r}: generator {gen} is not implemented "
                          f"yet; implemented: {', '.join(IMPLEMENTED)}")


def _mark_routine(addr: int) -> bytes:
    """mark(slot): one trace record (kind MARK_KIND, a = slot) at this clock."""
    from powersim.asm import Builder
    from powersim.machine.core import TRACE_BASE
    b = Builder()
    b.li64("r5", TRACE_BASE)
    b.std("r3", f"{8 * MARK_KIND}(r5)")
    b.blr()
    return b.assemble(base=addr, filename="<mark>").data


@attrs.define
class Simulation:
    """Checks the generator, then builds the kernel (refusing page tables that do
    not fit); ``run`` runs it."""
    scenario: Scenario
    path: str = ""
    kernel: object = attrs.field(init=False)

    def __attrs_post_init__(self):
        check_implemented(self.scenario)
        self.kernel = self._build()

    def _build(self):
        """The Kernel for the scenario, or ConfigError when its page tables do not
        fit the machine memory."""
        from powersim.errors import PowersimError
        from powersim.kernel.image import Kernel
        sc = self.scenario
        mp = sc.machine
        try:
            return Kernel(chips=mp.chips, cores_per_chip=mp.cores_per_chip, smt=mp.smt,
                          params=mp, kparams=sc.kernel, thp_bytes=sc.workload.memory)
        except PowersimError as e:
            raise ConfigError(f"workload.memory = {format_size(sc.workload.memory)}: its page "
                              f"tables do not fit machine.memory = {format_size(mp.memory)} "
                              f"({e}); lower "
                              "workload.memory or raise machine.memory") from None

    def run(self, progress=True):
        from powersim.kernel.image import call, wait_until
        from powersim.kernel.layout import DATA_BASE
        from powersim.kernel.mm import THP_EA
        from powersim.machine.exec import _results
        from powersim.results import Results
        sc, wl = self.scenario, self.scenario.workload
        k = self.kernel
        # below the data and past the image's predecoded 64 KiB chunks (the image
        # is ~13 KiB), so Machine.load predecodes the routine
        mark_addr = DATA_BASE - 64
        op = call("exit_mmap" if wl.fullmm else "munmap", THP_EA, wl.memory)
        scripts = {c: [wait_until(LISTEN_TB)] for c in range(1, wl.vcpus)}
        scripts[0] = [call(mark_addr, s) for s in range(3)] + [op, call(mark_addr, 3)]
        m = k.load(scripts, mm_cpus=range(wl.vcpus))
        m.load(_mark_routine(mark_addr), mark_addr)
        m.prepare()
        if progress:
            # no bar: Machine.run can resume after max_cycles, but each stop charges
            # the sleepers' cycles_stop again and cuts a fast-mode quantum, so a
            # sliced run would not be the same run
            print("running...", flush=True)
        t0 = time.perf_counter()
        mp = sc.machine     # the listeners' last wake-up and attn fit well within 10**7
        m.run(-(-LISTEN_TB * mp.freq_mhz // mp.timebase_mhz) + 10**7)
        wall = time.perf_counter() - t0
        res = _results(m, (), wall)
        if m.trace_dropped:     # the marks and round records must all be there
            raise ConfigError(f"machine.trace_capacity = {sc.machine.trace_capacity}: "
                              f"{m.trace_dropped} trace records were dropped; raise it "
                              "(allowed up to 2**24) or lower workload.memory")
        tr = res.trace
        marks = tr[(tr["kind"] == MARK_KIND) & (tr["thread"] == 0)]["cycle"]
        if len(marks) != 4 or not res.threads[0].halted:
            raise ConfigError(f"CPU 0 did not finish the {wl.generator} operation within "
                              f"{LISTEN_TB} timebase ticks: lower workload.memory")
        return Results.build(self, res, op_cycles=int((marks[3] - marks[2])
                                                      - (marks[1] - marks[0])),
                             round_cycles=serialize_cycles(tr))


def serialize_cycles(tr) -> list:
    """Cycles of each serialize round: from the PMD_SET_BE record of its PMD
    clear (pgtable.pmd_hugepage_update, right after the stdcx.) to its SERIALIZED
    record on the same thread.  Both sit a few instructions outside the
    serialize itself (a bswap, blr, two mr: the same ~6 instructions in every
    method).  A round without a preceding clear (collapse: a plain PMD_SET) is
    measured from that record."""
    from powersim.kernel.trace import PMD_SET, PMD_SET_BE, SERIALIZED
    last, out = {}, []
    for r in tr:
        if r["kind"] in (PMD_SET, PMD_SET_BE):
            last[int(r["thread"])] = int(r["cycle"])
        elif r["kind"] == SERIALIZED:
            out.append(int(r["cycle"]) - last[int(r["thread"])])
    return out
