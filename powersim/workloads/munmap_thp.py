"""munmap_thp: PID 1 maps ``workload.memory`` of THPs at ``mm.THP_EA``; CPU 0
tears the region down (``munmap``, or ``exit_mmap`` when ``workload.fullmm``)
while CPUs 1..vcpus-1, the process's other threads, are in mm_cpumask and run
``workload.vcpu_state`` (powersim.workloads.vcpu); CPUs beyond ``vcpus`` are
not in the mask.  Idle vCPU threads are not running on their CPUs: those CPUs
run the idle task (current->mm is none) but stay in mm_cpumask, as after the
threads ran there.  The measured operation is the munmap call from its entry
to its return."""

from powersim.config import THP_SIZE
from powersim.workloads import Plan, Progress, bracket, vcpu


def plan(sim) -> Plan:
    from powersim.kernel.image import call
    from powersim.kernel.mm import THP_EA
    from powersim.kernel.trace import PMD_SET_BE
    wl = sim.scenario.workload
    op = call("exit_mmap" if wl.fullmm else "munmap", THP_EA, wl.memory)
    scripts = {c: vcpu.script(sim, c, sim.until_tb) for c in range(1, wl.vcpus)}
    scripts[0] = bracket(op)
    running = (0,) if wl.vcpu_state == "idle" else None
    # every THP PMD the teardown clears logs one PMD_SET_BE (pmd_hugepage_update)
    return Plan(scripts=scripts, mm_cpus=tuple(range(wl.vcpus)), running=running,
                mm_users=max(2, wl.vcpus), measured=0,
                progress=Progress(wl.memory // THP_SIZE, "PMD", PMD_SET_BE))


def measure(sim, run) -> dict:
    """The guest exits; the gather's page-batch flushes and the cycles the
    measured CPU spent freeing their pages (tlb_batch_pages_flush)."""
    from powersim.kernel.page import PCP_GATHER_FLUSHES
    from powersim.kernel.trace import PAGES_FLUSH
    lay, tr = run.kernel.layout, run.trace
    flushes = int.from_bytes(bytes(run.machine.mem[lay.pcp + PCP_GATHER_FLUSHES:][:8]), "little")
    mine = tr[(tr["kind"] == PAGES_FLUSH) & (tr["thread"] == run.plan.measured)]
    begin, end = mine["cycle"][mine["a"] == 0], mine["cycle"][mine["a"] == 1]
    return {"counters": {"guest_exits": vcpu.guest_exits(run, range(1, sim.scenario.workload.vcpus)),
                         "gather_flushes": flushes,
                         "page_free_ns": round(int((end - begin).sum()) * 1000
                                               / sim.scenario.machine.freq_mhz)}}


def summary_rows(res) -> list:
    """The gather's flushes and the page-freeing share of the op time."""
    from powersim.results import Row
    c = res.counters
    share = c["page_free_ns"] * 1e-9 / res.op_seconds if res.op_seconds else None
    return [Row("gather flushes", c["gather_flushes"]),
            Row("page freeing", share, fmt=lambda v: f"{100 * v:.2f} %")]
