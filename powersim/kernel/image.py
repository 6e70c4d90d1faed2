"""Build the tiny kernel's image, write its initial memory, run it.

    from powersim.kernel.image import Kernel, call, wait_until, idle
    k = Kernel(chips=1, cores_per_chip=2, smt=4, ipi="doorbell")
    run = k.run({0: [call("smp_call_function_many", k.layout.mm_cpumask,
                          "ipi_mark", 7, 1)],
                 1: [idle()], ...}, mm_cpus=range(8))
    run.marks(1)[MARK_COUNT], run.result.threads[0].stats["doorbells_sent"]

Boot (docs/KERNEL.md "Boot"): every thread starts at ``_start`` with r3 =
PIR, finds its CPU number in the PIR table and its PACA, sets r1 and r13,
hard-enables (the soft mask starts at 0) and runs its command loop.

Command script (one per CPU, ``CMD_SIZE`` = 48 bytes per command: op, then
five u64 operands; the loop reads all six and dispatches on op):

==============  ====  =========================================================
command         op    operands
==============  ====  =========================================================
END             0     none: ``attn`` (the script always ends with one)
CALL            1     routine address, then up to 4 arguments in r3..r6
WAIT_UNTIL      2     timebase value: sleep in ``wait`` with the decrementer set
                      to fire then (interrupts are taken meanwhile)
IDLE            3     PSSCR value, count: ``count`` times ``stop`` in that state
                      until an interrupt, which is then taken
                      (cpuidle.power9_idle_stop)
SWITCH_MM       5     mm address, 0 for none: ``switch_mm`` (grows mm_cpumask
                      on a first switch, sets current->mm and PIDR)
GUEST           6     until (timebase), fault period (timebase ticks, 0: none),
                      first fault (timebase), region bytes, fault stride bytes:
                      a vCPU in guest mode until ``until`` (see cmd_guest)
IDLE_GOV        7     until (timebase): the idle loop, each ``stop`` in the state
                      the menu governor picks (cpuidle.py)
==============  ====  =========================================================
"""

from powersim.asm_builder import (R0, R1, R3, R4, R5, R6, R7, R8, R9, R10, R11, R12, R13, R14,
                                   R20, R21, R22, R23, R24, R25)
import time

import attrs
import numpy as np

from powersim.asm import Builder, disassemble
from powersim.errors import PowersimError
from powersim.kernel import (cmethod, cpuidle, image_cache, irq, methods, mm, page, pgtable,
                             smp, thp, tlbflush, walkers)
from powersim.kernel.layout import (CI_INTERVAL_COUNT, CI_INTERVALS, CMD_CALL, CMD_END,
                                    CMD_GUEST, CMD_IDLE, CMD_IDLE_GOV, CMD_SIZE,
                                    CMD_WAIT_UNTIL, DATA_BASE, KERNELBASE,
                                    LINE_SHIFT, MM_ACTIVE_CPUS, MM_USERS, NMARKS, PACA_CPU,
                                    PACA_CURRENT_MM, PACA_GUEST_EXIT, PACA_GUEST_EXITS,
                                    PACA_KSTACK, PACA_MARKS, PACA_PIR, PACA_SCRIPT, Layout)
from powersim.kernel.params import KernelParams
from powersim.kernel.trace import WALK_BEGIN, WALK_END, trace
from powersim.machine.params import MachineParams

CMD_SWITCH_MM = 5           # the op docs/KERNEL.md reserves
MAX_CALL_ARGS = 4


# --- commands -------------------------------------------------------------------------
def call(routine: str, *args):
    """CALL ``routine`` (a symbol) with up to 4 arguments: ints, symbol names, or
    sets of CPU numbers (passed as the address of a cpumask bitmap)."""
    if len(args) > MAX_CALL_ARGS:
        raise PowersimError(f"CALL {routine}: {len(args)} arguments, allowed at most "
                            f"{MAX_CALL_ARGS}")
    return (CMD_CALL, routine) + tuple(args)


def wait_until(tb: int):
    """WAIT_UNTIL timebase ``tb`` (512 MHz ticks since boot [SK-dt])."""
    if not isinstance(tb, int) or not 0 <= tb < 1 << 63:
        raise PowersimError(f"WAIT_UNTIL {tb!r}: allowed a timebase value 0..2**63-1")
    return (CMD_WAIT_UNTIL, tb)


def idle(psscr: int = 0, count: int = 1):
    """IDLE: ``count`` times ``stop`` with this PSSCR value (e.g.
    ``cpuidle.psscr("stop5")``) until an interrupt, which is taken each time."""
    if not isinstance(psscr, int) or isinstance(psscr, bool) or not 0 <= psscr < 1 << 32:
        raise PowersimError(f"IDLE psscr={psscr!r}: allowed a 32-bit PSSCR value (e.g. "
                            "powersim.kernel.cpuidle.psscr('stop2'))")
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count < 1 << 63:
        raise PowersimError(f"IDLE count={count!r}: allowed an integer >= 1")
    return (CMD_IDLE, psscr, count)


def _tb(name, v):
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 1 << 63:
        raise PowersimError(f"{name} {v!r}: allowed an integer 0..2**63-1")
    return v


def guest(until_tb: int, period_tb: int = 0, first_tb: int = 0, region: int = 0,
          stride: int = 0):
    """GUEST: a vCPU in guest mode until timebase ``until_tb``.  With a fault
    ``period_tb``, it takes a KVM page fault at ``first_tb`` and every period
    after, the k-th on ``mm.THP_EA + (k * stride) mod region``."""
    for name, v in (("until", until_tb), ("period", period_tb), ("first", first_tb),
                    ("region", region), ("stride", stride)):
        _tb(f"GUEST {name}", v)
    if period_tb and not region:
        raise PowersimError("GUEST: a fault period needs a region of at least one byte")
    return (CMD_GUEST, until_tb, period_tb, first_tb, region, stride)


def idle_gov(until_tb: int):
    """IDLE_GOV: the idle loop until timebase ``until_tb``, in the stop states
    the menu governor picks among kernel.idle_states (cpuidle.py)."""
    return (CMD_IDLE_GOV, _tb("IDLE_GOV until", until_tb))


def switch_mm(mm: int):
    """SWITCH_MM to the mm at ``mm`` (e.g. ``Kernel.layout.mm``), or 0: this CPU
    runs no mm (then ``trim`` may drop it from mm_cpumask)."""
    if not isinstance(mm, (int, np.integer)) or isinstance(mm, bool) or not 0 <= mm < 1 << 64:
        raise PowersimError(f"SWITCH_MM {mm!r}: allowed an mm address (Kernel.layout.mm) "
                            "or 0 for no mm")
    return (CMD_SWITCH_MM, int(mm))


# --- the image ------------------------------------------------------------------------
def _emit_boot(b, lay, kp, method):
    script = R14                        # the CPU's command script, across commands
    b.label("_start")
    b.li64(R4, lay.pir_table)
    b.sldi(R5, R3, 3)
    b.ldx(R5, R4, R5)                   # CPU number, -1: not a CPU of this kernel
    b.cmpdi(R5, 0)
    b.bge(ok := b.local("cpu"))
    b.attn()
    b.label(ok)
    b.sldi(R5, R5, LINE_SHIFT)
    b.li64(R13, lay.paca_base)
    b.add(R13, R13, R5)
    b.ld(R1, f"{PACA_KSTACK}({R13})")
    b.li(R0, 0)
    b.std(R0, f"0({R1})")               # null back chain
    if hasattr(method, "boot"):         # a C method: r2 = its TOC pointer (cmethod.py)
        method.boot(b)
    irq.hard_irq(b, R4, enable=True)
    b.ld(script, f"{PACA_SCRIPT}({R13})")

    b.label("cmd_loop")
    pgtable.rcu_qs(b, R3)               # a quiescent point of the deferred free
    for i, r in enumerate((R3, R4, R5, R6, R7, R8)):
        b.ld(r, f"{8 * i}({script})")
    b.addi(script, script, CMD_SIZE)
    for op, name in ((CMD_CALL, "cmd_call"), (CMD_WAIT_UNTIL, "cmd_wait_until"),
                     (CMD_IDLE, "cmd_idle"), (CMD_SWITCH_MM, "cmd_switch_mm"),
                     (CMD_GUEST, "cmd_guest"), (CMD_IDLE_GOV, "cmd_idle_gov")):
        b.cmpdi(R3, op)
        b.beq(name)
    b.label("cmd_end")
    b.attn()

    b.label("cmd_call")                 # ELFv2: r12 = entry address
    b.mr(R12, R4)
    b.mtctr(R12)
    b.mr(R3, R5)
    b.mr(R4, R6)
    b.mr(R5, R7)
    b.mr(R6, R8)
    b.bctrl()
    b.b("cmd_loop")

    b.label("cmd_switch_mm")            # r4 = mm or 0
    b.mr(R3, R4)
    b.bl("switch_mm")
    b.b("cmd_loop")

    b.label("cmd_wait_until")           # r4 = target timebase
    b.mftb(R5)
    b.subf_rc(R6, R5, R4)
    b.ble("cmd_loop")
    pgtable.sleep_for(b, R6, R7, "wait")
    b.b("cmd_wait_until")

    count = R20
    b.label("cmd_idle")                 # r4 = PSSCR, r5 = count
    b.mtspr(cpuidle.SPR_PSSCR, R4)
    b.mr(count, R5)
    b.label(again := b.local("idle"))
    irq.hard_irq(b, R5, enable=False)       # idle is entered hard-disabled; the
    pgtable.rcu_eqs(b, R5)                  # interrupt that woke it is taken at the
    b.bl("power9_idle_stop")            # enable
    pgtable.rcu_eqs(b, R5)
    irq.hard_irq(b, R5, enable=True)
    b.addi(count, count, -1)
    b.cmpdi(count, 0)
    b.bgt(again)
    b.b("cmd_loop")
    _emit_guest(b, kp)


def _sleep_until(b, target, tmp, tmp2, insn):
    """Set the decrementer to fire at timebase ``target`` (at most DEC_MAX
    ahead) and ``wait``/``stop`` in the idle extended quiescent state."""
    b.mftb(tmp)
    b.subf(tmp, tmp, target)
    pgtable.sleep_for(b, tmp, tmp2, insn)


def _emit_guest(b, kp):
    """cmd_guest (r4 until, r5 period, r6 first fault, r7 region, r8 stride): a
    vCPU in guest mode executes nothing; it is modelled as a ``wait`` that any
    host interrupt ends.  Each entry costs guest_entry_cycles (SPR_SIMSTALL) and
    arms PACA_GUEST_EXIT, which the interrupt entry (irq.py) charges and clears:
    so an IPI is handled only after the forced exit, and the vCPU re-enters the
    guest after the handler.  A due KVM page fault runs the lockless KVM walk
    (kvmppc_book3s_instantiate_page) in the host between exit and entry."""
    until, period, next_fault, region, stride, offset = R20, R21, R22, R23, R24, R25
    b.label("cmd_guest")
    for dst, src in ((until, R4), (period, R5), (next_fault, R6), (region, R7),
                     (stride, R8)):
        b.mr(dst, src)
    b.li(offset, 0)                     # of the next fault in the region
    b.label("guest_loop")
    b.mftb(R9)
    b.cmpld(R9, until)
    b.bge("cmd_loop")
    b.cmpdi(period, 0)                  # a fault due?
    b.beq(enter := b.local("enter"))
    b.cmpld(R9, next_fault)
    b.blt(enter)
    b.add(next_fault, next_fault, period)
    b.ld(R3, f"{PACA_CURRENT_MM}({R13})")
    b.li64(R4, mm.THP_EA)
    b.add(R4, R4, offset)
    b.add(offset, offset, stride)       # offset = (offset + stride) mod region
    b.divdu(R9, offset, region)
    b.mulld(R9, R9, region)
    b.subf(offset, R9, offset)
    trace(b, WALK_BEGIN, R4, scratch=R9)        # the fault's entry and return (zero-
    b.bl("kvmppc_book3s_instantiate_page")
    trace(b, WALK_END, R3, scratch=R9)          # cost records: kvm_fault_ns)
    b.b("guest_loop")
    b.label(enter)
    b.li64(R9, kp.guest_exit_cycles)    # from here on an interrupt is a guest exit
    b.std(R9, f"{PACA_GUEST_EXIT}({R13})")
    b.li64(R9, kp.guest_entry_cycles)
    b.mtspr(irq.SPR_SIMSTALL, R9)       # an interrupt that came during the entry is
    irq.hard_irq(b, R9, enable=False)       # taken here: the guest exits at once
    b.ld(R9, f"{PACA_GUEST_EXIT}({R13})")
    b.cmpdi(R9, 0)
    b.beq(exited := b.local("exited"))  # (the entry consumed the exit cost)
    b.mr(R11, until)                    # sleep until min(until, next fault)
    b.cmpdi(period, 0)
    b.beq(go := b.local("go"))
    b.cmpld(next_fault, until)
    b.bge(go)
    b.mr(R11, next_fault)
    b.label(go)
    _sleep_until(b, R11, R9, R10, "wait")           # hard-disabled: wakes, then
    b.label(exited)
    irq.hard_irq(b, R9, enable=True)    # takes the interrupt that ended the guest run
    b.lwz(R9, f"{PACA_GUEST_EXITS}({R13})")
    b.addi(R9, R9, 1)
    b.stw(R9, f"{PACA_GUEST_EXITS}({R13})")
    b.b("guest_loop")


def build_image(lay: Layout, ipi: str, kp: KernelParams):
    """Assemble the kernel for ``lay``: vectors, boot and command loop, interrupt
    entry, IPIs, test hooks, the mm operations of method ``kp.method``.  Linked
    at KERNELBASE.  A method in C (a ``.c`` path) is compiled, linked after the
    Builder code and called from it (cmethod.py)."""
    if cmethod.is_c_method(kp.method):
        return cmethod.build_image(lambda hooks: _assemble(lay, ipi, kp, hooks),
                                   kp.method, lay)
    return _assemble(lay, ipi, kp, methods.without_barrier(methods.get(kp.method),
                                                           kp.drop_barrier))


def _assemble(lay, ipi, kp, method):
    b = Builder()
    cpuidle.emit_vector(b, lay)
    irq.emit_vectors(b)
    b.emit(".org 0x1000")
    _emit_boot(b, lay, kp, method)
    irq.emit_entries(b, kp)
    cpuidle.emit(b, lay)
    smp.emit_smp_call_function_many(b, lay, smp.check_ipi(ipi))
    smp.emit_receive(b, lay, kp)
    smp.emit_funcs(b)
    method.emit(b, lay)
    pgtable.emit(b, lay, method)
    tlbflush.emit(b, lay, kp, method)
    mm.emit(b, lay, method)
    thp.emit(b, lay, split_wmb=kp.drop_barrier != "split_wmb")
    walkers.emit(b, lay, method)
    img = b.assemble(base=KERNELBASE, filename="<kernel>")
    if len(img.data) > DATA_BASE:
        raise PowersimError(f"kernel image is {len(img.data)} bytes: must end below the "
                            f"data at {DATA_BASE:#x}")
    return img


def dump(img) -> list:
    """The image disassembled, each routine preceded by its symbol name."""
    names = {}
    for name, addr in img.symbols.items():
        if not name.startswith(".L"):
            names.setdefault(addr, []).append(name)
    out = []
    for line in disassemble(img.data, img.base):
        addr = int(line.split()[0], 16)
        out.extend(f"{n}:" for n in sorted(names.get(addr, ())))
        out.append(line)
    return out


# --- running --------------------------------------------------------------------------
@attrs.frozen
class KernelRun:
    """A finished run: the machine (memory, stats) and the per-thread results."""
    machine: object
    layout: Layout
    result: object

    def u64(self, addr: int) -> int:
        return int.from_bytes(bytes(self.machine.mem[addr:addr + 8]), "little")

    def marks(self, cpu: int) -> list:
        base = self.layout.marks(cpu)
        return [self.u64(base + 8 * i) for i in range(NMARKS)]

    def stats(self, cpu: int) -> dict:
        return self.result.threads[cpu].stats


@attrs.define
class Kernel:
    """The kernel for one machine shape (every hardware thread is a CPU)."""
    chips: int = 1
    cores_per_chip: int = 1
    smt: int = 4
    ipi: str = attrs.field(default="doorbell", validator=lambda _s, _a, v: smp.check_ipi(v))
    params: MachineParams = attrs.field(factory=MachineParams)
    kparams: KernelParams = None        # None: KernelParams.for_machine(params)
    thp_bytes: int = 0                  # PID 1's THP region at mm.THP_EA (2 MiB multiple)
    layout: Layout = attrs.field(init=False)
    image: object = attrs.field(init=False)
    process: mm.Process = attrs.field(init=False, default=None)
    _tables: np.ndarray = attrs.field(init=False, default=None, repr=False)

    def __attrs_post_init__(self):
        self.params = attrs.evolve(self.params, chips=self.chips,
                                   cores_per_chip=self.cores_per_chip,
                                   smt=self.smt).validate()
        pirs = [chip << 8 | core << 2 | thr for chip in range(self.chips)
                for core in range(self.cores_per_chip) for thr in range(self.smt)]
        if self.kparams is None:
            self.kparams = KernelParams.for_machine(self.params)
        self.kparams.validate()
        spare = 64                      # free PTE tables beyond the deposited ones
        # the fixed tables (partition/process tables, PGD) fit in 512 KiB; add one
        # 4 KiB PMD table per GiB and one PUD table per 512 GiB of THPs [L-r64k]
        gib = -(-self.thp_bytes // (1 << 30))
        self.layout = Layout(pirs=pirs, pte_tables=mm.thp_count(self.thp_bytes) + spare,
                             thps=mm.thp_count(self.thp_bytes),
                             pgtable_bytes=(512 << 10) + 4096 * (gib + -(-gib // 512)))
        if self.layout.end > self.params.memory:
            raise PowersimError(f"kernel data ends at {self.layout.end:#x}, beyond memory "
                                f"= {self.params.memory:#x}: raise memory")
        self.image = image_cache.cached_build(build_image, self.layout, self.ipi,
                                              self.kparams)   # (start-up time)
        # the process's tables, built once here (so a region that does not fit fails
        # now) and copied into each machine by load()
        # (machine-sized but zero: the host allocates only the pages written, and
        # load(take_tables=True) hands the array to the machine as its memory)
        self._tables = np.zeros(self.params.memory, np.uint8)
        self.process = mm.build_process(self._tables, self.layout, self.thp_bytes)
        page.build_struct_pages(self._tables, self.layout, self.layout.thps,
                                self.layout.mm, self.kparams.memcg_depth)

    def _operand(self, v, masks):
        if isinstance(v, str):
            if v not in self.image.symbols:
                raise PowersimError(f"script: unknown kernel symbol {v!r} (see "
                                    "powersim.kernel.image.dump for the routines)")
            return self.image.symbols[v]
        if isinstance(v, (set, frozenset, range, list, tuple)):
            addr = self.layout.cpumask(len(masks))
            masks.append((addr, self.layout.mask(v)))
            return addr
        if isinstance(v, (int, np.integer)):
            return int(v) & ((1 << 64) - 1)
        raise PowersimError(f"script operand {v!r}: allowed an int, a symbol name or a "
                            "set of CPU numbers")

    def _write(self, mem, addr, data: bytes):
        a = addr - KERNELBASE
        mem[a:a + len(data)] = np.frombuffer(data, np.uint8)

    def _w64(self, mem, addr, value):
        self._write(mem, addr, (value & ((1 << 64) - 1)).to_bytes(8, "little"))

    def load(self, scripts: dict, mm_cpus=(), running=None, mm_users=2,
             take_tables=False):
        """A Machine with the image and the initial data written, threads started.
        ``running``: the CPUs whose current->mm is the mm (default: ``mm_cpus``);
        ``mm_users``: the process's threads (1: single-threaded, which v5.12's
        flush_type_needed trims on every flush).  ``take_tables``: the machine
        takes the kernel's built tables as its memory instead of a copy (no
        second copy of the page tables: 4 TiB runs); the Kernel
        cannot load another machine afterwards."""
        from powersim.machine.state import Machine
        if not isinstance(mm_users, int) or isinstance(mm_users, bool) or mm_users < 1:
            raise PowersimError(f"mm_users = {mm_users!r}: allowed an int >= 1 (the "
                                "process's threads)")
        lay = self.layout
        for cpu in scripts:
            lay.paca(cpu)       # validates the CPU number
        if self._tables is None:
            raise PowersimError("Kernel.load: this kernel's tables were taken by an earlier "
                                "load(take_tables=True); build a new Kernel")
        if take_tables:
            m = Machine(self.params, mem=self._tables)     # build_process's data, in place
            self._tables = None
        else:
            m = Machine(self.params)
            end = lay.end - KERNELBASE
            m.mem[DATA_BASE:end] = self._tables[DATA_BASE:end]     # build_process
        m.load(self.image.data, self.image.base - KERNELBASE)
        mem = m.mem
        table = [-1] * (lay.pirs[-1] + 1)
        masks = []
        for cpu, pir in enumerate(lay.pirs):
            table[pir] = cpu
            self._w64(mem, lay.cpu_pir + 8 * cpu, pir)
            paca = lay.paca(cpu)
            for off, v in ((PACA_CPU, cpu), (PACA_KSTACK, lay.stack_top(cpu)),
                           (PACA_SCRIPT, lay.script(cpu)), (PACA_PIR, pir),
                           (PACA_MARKS, lay.marks(cpu))):
                self._w64(mem, paca + off, v)
            cmds = list(scripts.get(cpu, ())) + [(CMD_END,)]
            if len(cmds) > lay.script_cmds:
                raise PowersimError(f"CPU {cpu}: {len(cmds) - 1} commands, allowed at most "
                                    f"{lay.script_cmds - 1}")
            for i, cmd in enumerate(cmds):
                words = [cmd[0]] + [self._operand(v, masks) for v in cmd[1:]]
                words += [0] * (CMD_SIZE // 8 - len(words))
                self._write(mem, lay.script(cpu) + i * CMD_SIZE,
                            b"".join(w.to_bytes(8, "little") for w in words))
        for i, v in enumerate(table):
            self._w64(mem, lay.pir_table + 8 * i, v)
        mm_cpus = sorted(set(mm_cpus))
        for cpu in mm_cpus if running is None else running:
            self._w64(mem, lay.paca(cpu) + PACA_CURRENT_MM, lay.mm)
        self._write(mem, lay.mm_cpumask, lay.mask(mm_cpus))
        self._w64(mem, lay.mm + MM_ACTIVE_CPUS, len(mm_cpus))
        self._w64(mem, lay.mm + MM_USERS, mm_users)
        for addr, data in masks:
            self._write(mem, addr, data)
        kp, tb = self.kparams, self.params.timebase_mhz
        rows = cpuidle.state_table(kp.idle_state_list(), tb, kp.hz)
        self._write(mem, lay.cpuidle_states, b"".join(
            v.to_bytes(8, "little") for row in rows for v in row))
        history = (kp.idle_history_us * tb).to_bytes(8, "little") * CI_INTERVAL_COUNT
        for cpu in range(lay.ncpus):
            self._write(mem, lay.cpuidle_base + (cpu << LINE_SHIFT) + CI_INTERVALS, history)
        m.start(self.image.symbols["_start"])
        return m

    def run(self, scripts: dict, mm_cpus=(), max_cycles=10**8, exact=False,
            running=None, mm_users=2) -> KernelRun:
        """Run ``scripts`` ({cpu: [commands]}; CPUs without one just END)."""
        from powersim.machine.exec import _results
        from powersim.machine.state import check_max_cycles
        check_max_cycles(max_cycles)
        m = self.load(scripts, mm_cpus, running, mm_users)
        m.prepare()
        t0 = time.perf_counter()
        m.run(max_cycles, exact)
        return KernelRun(machine=m, layout=self.layout,
                         result=_results(m, (), time.perf_counter() - t0))
