"""tlb_flush: munmap or mprotect of ``workload.pages`` base pages of a
multi-threaded process (a microbenchmark), showing the range
flush decisions ([LM-zap], powersim/kernel/tlbflush.py):

* other CPUs in mm_cpumask (``workload.vcpus`` >= 2): GLOBAL, ``tlbie`` per
  page up to kernel.tlb_single_page_flush_ceiling (33 [N7]), beyond it one
  full-PID ``tlbie``;
* only this CPU (``vcpus`` = 1): LOCAL, ``tlbiel`` per page up to
  kernel.tlb_local_single_page_flush_ceiling (256 [N8]), beyond it the
  128-set ``tlbiel`` PID flush [N9].

Plus the POWER9 errata repeats the kernel parameters ask for [L-ftrs],
once per sequence.

Setup (before the measured window, no TLB flush): CPU 0 write-faults the pages
in at ``mm.BASE_EA`` (``fault_in_base_pages``: PTE tables from the pool, one per
2 MiB).  Measured: CPU 0's ``munmap`` (``workload.tlb_op = "munmap"``: zap of the
PTEs, free_pgtables frees the PTE tables, so the flush carries the PWC: a RIC 1
PID ``tlbie``/``tlbiel`` before the pages, or a RIC 2 PID flush) or
``change_protection`` (``"mprotect"``: PROT_READ, then flush_tlb_range at the
base page size).  CPUs 1..vcpus-1, the process's other threads, are in
mm_cpumask and run ``workload.vcpu_state``.  The counters tlbie / tlbiel are
the whole run's, which is the operation's: nothing else flushes.

Only 64 KiB base pages (the kernel's page tables use the 64K geometry
[L-r64k]); at most MAX_PAGES pages (the kernel's spare PTE-table pool).
"""

from powersim.config import ConfigError, format_size
from powersim.results import Row, seconds
from powersim.workloads import Plan, bracket, vcpu

SPARE_PTE_TABLES = 64       # powersim.kernel.image.Kernel: free PTE tables beyond the deposits
PAGES_PER_TABLE = 32        # 64K pages per PTE table (2 MiB) [L-r64k]
MAX_PAGES = SPARE_PTE_TABLES * PAGES_PER_TABLE


def check(sim):
    from powersim.kernel.mm import BASE_EA, THP_EA
    wl, mp = sim.scenario.workload, sim.scenario.machine
    if wl.base_page != 64 << 10:
        raise ConfigError(f"workload.base_page = {format_size(wl.base_page)}: tlb_flush "
                          "allowed 64KiB only (the kernel's page tables use the 64K geometry)")
    if wl.pages > MAX_PAGES:
        raise ConfigError(f"workload.pages = {wl.pages}: tlb_flush allowed 1..{MAX_PAGES} (the "
                          f"kernel's {SPARE_PTE_TABLES} spare PTE tables of "
                          f"{PAGES_PER_TABLE} pages)")
    if THP_EA + wl.memory > BASE_EA:
        raise ConfigError(f"workload.memory = {format_size(wl.memory)}: tlb_flush allowed at "
                          f"most {format_size(BASE_EA - THP_EA)} (the THP region must end "
                          "below the base-page region)")
    ncpus = mp.chips * mp.cores_per_chip * mp.smt
    if wl.vcpus > ncpus:
        raise ConfigError(f"workload.vcpus = {wl.vcpus}: allowed 1..{ncpus} (the machine's "
                          "hardware threads)")


def plan(sim) -> Plan:
    from powersim.kernel.image import call
    from powersim.kernel.mm import BASE_EA
    check(sim)
    wl = sim.scenario.workload
    size = wl.pages << 16
    op = call("munmap" if wl.tlb_op == "munmap" else "change_protection", BASE_EA, size)
    scripts = {c: vcpu.script(sim, c, sim.until_tb) for c in range(1, wl.vcpus)}
    scripts[0] = [call("fault_in_base_pages", BASE_EA, size)] + bracket(op)
    return Plan(scripts=scripts, mm_cpus=tuple(range(wl.vcpus)), mm_users=max(2, wl.vcpus),
                measured=0)


def measure(sim, run) -> dict:
    return {"counters": {"guest_exits": vcpu.guest_exits(run, range(1, sim.scenario.workload.vcpus))}}


def summary_rows(res) -> list:
    """The flush's cost per page, beside the common tlbie / tlbiel counts."""
    pages = res.config["workload"]["pages"]
    return [Row("pages", pages), Row("per page", res.op_seconds / pages, seconds)]
