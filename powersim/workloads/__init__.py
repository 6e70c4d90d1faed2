"""Workload generators: one module per ``workload.generator``
value, each with

``plan(sim) -> Plan``
    the initial state and the event schedule: one command script per CPU
    (powersim.kernel.image commands), the CPUs in mm_cpumask, and which CPU's
    script brackets the measured operation with ``bracket``;
``measure(sim, run) -> dict`` (optional)
    generator-specific results from the finished run (``Run``): extra
    ``counters`` entries and top-level fields.

``powersim.sim.Simulation`` builds the kernel, runs the plan and turns the run
into Results; a generator module never touches the machine directly.
"""

import importlib

import attrs

from powersim.machine.layout import K_MARK

MARK_KIND = K_MARK          # the bracket marks' trace kind (layout.py's registry)
MARK_ADDR_FROM_DATA = 64    # the mark routine sits this far below the kernel data


@attrs.frozen
class Progress:
    """What the run's progress bar counts against its known ``total``: trace-port
    records of ``kind`` stored by the measured CPU (one per ``unit`` of work,
    e.g. a PMD torn down), or, with ``kind`` None, microseconds of the measured
    CPU's simulated clock (a workload that lasts a known time)."""
    total: int
    unit: str = "sim us"
    kind: int = None


def lasting(sim, end_tb: int) -> Progress:
    """The Progress of a workload whose measured CPU halts at timebase ``end_tb``."""
    return Progress(total=end_tb // sim.scenario.machine.timebase_mhz)


@attrs.define
class Plan:
    scripts: dict                   # {cpu: [commands]}
    mm_cpus: tuple = ()             # CPUs in mm_cpumask at the start
    running: tuple = None           # CPUs whose current->mm is the mm (None: mm_cpus)
    mm_users: int = 2               # the process's threads
    measured: int = 0               # CPU whose script brackets the measured operation
    until_tb: int = 0               # timebase the listeners' commands last until
    progress: Progress = None       # None: the bar counts simulated seconds, no total


@attrs.frozen
class Run:
    """A finished run, for ``measure``."""
    machine: object                 # powersim.machine.state.Machine
    kernel: object                  # powersim.kernel.image.Kernel
    result: object                  # powersim.machine.exec.RunResult
    trace: object                   # Machine.trace() records
    plan: Plan

    def paca_u32(self, cpu: int, off: int) -> int:
        a = self.kernel.layout.paca(cpu) + off
        return int.from_bytes(bytes(self.machine.mem[a:a + 4]), "little")


def mark_addr() -> int:
    from powersim.kernel.layout import DATA_BASE
    return DATA_BASE - MARK_ADDR_FROM_DATA


def bracket(*ops) -> list:
    """The script around the measured commands ``ops``: mark, mark, mark, ops,
    mark.  The first pair measures one command dispatch plus the mark routine,
    which Simulation subtracts from the last pair, so the operation is timed from
    the first command's entry to the last one's return."""
    from powersim.kernel.image import call
    return [call(mark_addr(), s) for s in range(3)] + [*ops, call(mark_addr(), 3)]


def get(name: str):
    return importlib.import_module(f"powersim.workloads.{name}")
