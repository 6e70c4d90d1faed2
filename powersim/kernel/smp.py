"""``smp_call_function_many`` and the IPI receive path (linux-mm 3.7,
docs/KERNEL.md "IPIs").

Sender: csd_lock each target's per-(sender, target) csd, fill it, llist_add it
to the target's call_single_queue, remember the target for a kick only when
its queue was empty; kick them all (``smp_mb; message byte = 1``, then for
``ipi="doorbell"`` doorbell_global_ipi: ``kvmppc_set_host_ipi`` (``smp_mb;
host_ipi = 1`` in the target's PACA) and ``sync; msgsnd`` [L-dbell]
[L-kvm-ipi], or for ``ipi="xive"`` the ESB trigger store [L-xive]); then, if
``wait``, csd_lock_wait on each target in turn.  Receiver (irq.py's
doorbell_exception: ``msgsync; lwsync``, ``host_ipi = 0; smp_mb``):
``smp_ipi_demux`` (mb, xchg of the message word) then
``flush_smp_call_function_queue``: run ``func(info)``; a synchronous csd is
unlocked (store-release) only after ``func`` returns.
"""

from powersim.asm_builder import (R0, R3, R4, R5, R6, R12, R24, R25, R26, R27, R28, R29, R30,
                                   R31)
from powersim.errors import PowersimError
from powersim.kernel.irq import ipi_receive_cost, local_irq_restore, local_irq_save, prologue
from powersim.kernel.layout import (CSD_FLAG_LOCK, CSD_FLAG_SYNCHRONOUS, CSD_FLAGS,
                                    CSD_FUNC, CSD_INFO, CSD_NEXT, LINE, LINE_SHIFT,
                                    MARK_COUNT, MARK_FUNC_TB, MARK_INFO, MARK_WIN_ENTER,
                                    MARK_WIN_EXIT, MARK_WIN_HAPPENED, MARK_WIN_RESTORED,
                                    PACA_CPU, PACA_HOST_IPI, PACA_IRQ_HAPPENED, PACA_MARKS,
                                    PACA_PIR, PPC_MSG_CALL_FUNCTION)
from powersim.kernel.pgtable import sleep_for
from powersim.machine.layout import DB_SERVER, ESB_BASE, ESB_STRIDE, ESB_TRIG, K_IPI_RTT, \
    K_IPI_WAKE, TIMA_BASE, TM_ACK_HV, TM_QW3, TRACE_BASE

IPI_KINDS = ("doorbell", "xive")
ESB_SET_PQ_00 = 0xC00       # management-page load: old PQ, then PQ = 00 [L-xive]
ESB_SHIFT = ESB_STRIDE.bit_length() - 1     # one ESB block per PIR (CONTRACTS.md)
assert ESB_STRIDE == 1 << ESB_SHIFT and ESB_TRIG & 0xFFFF == 0


def check_ipi(ipi):
    if ipi not in IPI_KINDS:
        raise PowersimError(f"kernel.ipi = {ipi!r}: allowed {', '.join(IPI_KINDS)}")
    return ipi


def _per_cpu(b, dst, base, cpu_reg, shift=LINE_SHIFT):
    """``dst = base + (cpu << shift)``: a per-CPU line."""
    b.sldi(dst, cpu_reg, shift)
    b.li64("r0", base)
    b.add(dst, dst, "r0")


def _this_cpu(b, dst, base):
    b.ld(dst, f"{PACA_CPU}(r13)")
    _per_cpu(b, dst, base, dst)


def test_this_cpu_in_mask(b):
    """cpumask_test_cpu(this cpu, mm_cpumask(r3)): r6 = the address of this CPU's
    mask word (mm + LINE + 8 * (cpu / 64)), r7 = its bit, r8 = word & bit, cr0 set
    from r8.  Clobbers r5."""
    b.ld("r5", f"{PACA_CPU}(r13)")
    b.srdi("r6", "r5", 6)
    b.sldi("r6", "r6", 3)
    b.addi("r6", "r6", LINE)
    b.add("r6", "r6", "r3")
    b.li("r7", 1)
    b.clrldi("r5", "r5", 58)
    b.sld("r7", "r7", "r5")
    b.ld("r8", "0(r6)")
    b.and_("r8", "r8", "r7")
    b.cmpdi("r8", 0)


def cpumask_set_cpu(b, mask, cpu, tmps, off=0):
    """A plain (non-atomic) set of bit ``cpu`` in the cpumask at ``mask + off``;
    ``tmps`` are four scratch registers (word offset, word, bit, shift)."""
    woff, word, bit, sh = tmps
    b.srdi(woff, cpu, 6)
    b.sldi(woff, woff, 3)
    if off:
        b.addi(woff, woff, off)
    b.ldx(word, mask, woff)
    b.li(bit, 1)
    b.clrldi(sh, cpu, 58)
    b.sld(bit, bit, sh)
    b.emit(f"or {word},{word},{bit}")
    b.stdx(word, mask, woff)


def _xchg_zero(b, dst, addr, tmp):
    """``dst = xchg(*addr, 0)``, fully ordered like Linux's xchg [L-bar]."""
    top = b.local("xchg")
    b.sync()
    b.label(top)
    b.ldarx(dst, 0, addr)
    b.li(tmp, 0)
    b.stdcx_rc(tmp, 0, addr)
    b.emit(f"bne- {top}")
    b.sync()


def _for_each_cpu(b, ncpus, cpu_reg, mask_reg, body, skip_reg=None):
    """``for cpu_reg in mask (bitmap at mask_reg), except skip_reg: body()``.
    Uses r0, r11, r12 and cr0 for the bit test."""
    top, nxt, done = b.local("cpu"), b.local("next"), b.local("done")
    b.li(cpu_reg, 0)
    b.label(top)
    b.cmpdi(cpu_reg, ncpus)
    b.bge(done)
    if skip_reg is not None:
        b.cmpd(cpu_reg, skip_reg)
        b.beq(nxt)
    b.srdi("r11", cpu_reg, 6)
    b.sldi("r11", "r11", 3)
    b.ldx("r11", mask_reg, "r11")
    b.clrldi("r12", cpu_reg, 58)
    b.srd("r11", "r11", "r12")
    b.andi_rc("r11", "r11", 1)
    b.beq(nxt)
    body()
    b.label(nxt)
    b.addi(cpu_reg, cpu_reg, 1)
    b.b(top)
    b.label(done)


def _csd_lock_wait(b, csd):
    """Spin (store-free, so the machine sleeps through it) until LOCK is clear,
    then acquire (smp_cond_load_acquire: ld; lwsync) [L-bar]."""
    spin = b.local("csdwait")
    b.label(spin)
    b.ld("r0", f"{CSD_FLAGS}({csd})")
    b.andi_rc("r0", "r0", CSD_FLAG_LOCK)
    b.bne(spin)
    b.lwsync()


def emit_smp_call_function_many(b, lay, ipi):
    """``smp_call_function_many(r3 = cpumask, r4 = func, r5 = info, r6 = wait)``."""
    n = lay.ncpus
    mask, func, info, flags, cpu = R31, R30, R29, R28, R27     # flags: of our csds
    csds, ipi_mask, target = R26, R25, R24   # this sender's csd row, cfd->cpumask_ipi
    b.label("smp_call_function_many")
    epilogue = prologue(b, 96, [f"r{r}" for r in range(24, 32)])
    b.mr(mask, R3)
    b.mr(func, R4)
    b.mr(info, R5)
    b.li(flags, CSD_FLAG_LOCK)
    b.cmpdi("r6", 0)
    b.beq(sync_done := b.local("async"))
    b.li(flags, CSD_FLAG_LOCK | CSD_FLAG_SYNCHRONOUS)
    b.label(sync_done)
    b.ld(cpu, f"{PACA_CPU}(r13)")
    b.mulli(ipi_mask, cpu, lay.cfd_stride)
    b.li64(R0, lay.cfd_base)
    b.add(ipi_mask, ipi_mask, R0)
    b.li(R0, 0)
    for w in range(lay.mask_bytes // 8):
        b.std(R0, f"{8 * w}({ipi_mask})")
    b.mulli(csds, cpu, n * LINE)
    b.li64(R0, lay.csd_base)
    b.add(csds, csds, R0)

    def csd_of_target():                # r3 = &csd[self][target]
        b.sldi(R3, target, LINE_SHIFT)
        b.add(R3, R3, csds)

    def queue():
        csd_of_target()
        _csd_lock_wait(b, "r3")         # csd_lock: wait for the previous use ...
        b.std(flags, f"{CSD_FLAGS}(r3)")    # ... then LOCK (| SYNCHRONOUS if wait)
        b.std(func, f"{CSD_FUNC}(r3)")
        b.std(info, f"{CSD_INFO}(r3)")
        b.lwsync()                      # smp_wmb: csd filled before it is published
        _per_cpu(b, "r5", lay.csq_base, target)
        # llist_add: first = READ_ONCE(head); do new->next = first;
        # while (!try_cmpxchg(head, &first, new))  (cmpxchg: sync ... sync [L-bar])
        retry, cas, fail, added = (b.local(h) for h in ("lladd", "cas", "casf", "added"))
        b.ld("r6", "0(r5)")
        b.label(retry)
        b.std("r6", f"{CSD_NEXT}(r3)")
        b.sync()
        b.label(cas)
        b.ldarx("r7", 0, "r5")
        b.cmpd("r7", "r6")
        b.emit(f"bne- {fail}")
        b.stdcx_rc("r3", 0, "r5")
        b.emit(f"bne- {cas}")
        b.sync()
        b.b(added)
        b.label(fail)
        b.mr("r6", "r7")
        b.b(retry)
        b.label(added)
        b.cmpdi("r6", 0)                # queue was empty: this target needs a kick
        b.bne(kicked := b.local("nokick"))
        cpumask_set_cpu(b, ipi_mask, target, ("r4", "r5", "r6", "r7"))
        b.label(kicked)

    def kick():
        # smp_muxed_ipi_message_pass: smp_mb(); message byte = 1; cause_ipi
        _per_cpu(b, "r4", lay.ipi_message_base, target)
        b.sync()
        b.li("r5", 1)
        b.stb("r5", f"{PPC_MSG_CALL_FUNCTION}(r4)")
        if ipi == "doorbell":           # doorbell_global_ipi [L-dbell]
            # kvmppc_set_host_ipi: smp_mb(); paca_ptrs[cpu]->host_ipi = 1 [L-kvm-ipi]
            _per_cpu(b, "r4", lay.paca_base, target)
            b.sync()
            b.stb("r5", f"{PACA_HOST_IPI}(r4)")
        b.sldi("r6", target, 3)
        b.li64("r0", lay.cpu_pir)
        b.ldx("r6", "r6", "r0")         # target PIR
        b.sync()                        # msgsnd is "treated as a store"; out_be64 syncs too
        if ipi == "doorbell":
            b.oris("r6", "r6", (DB_SERVER << 27) >> 16)
            b.msgsnd("r6")
        else:                           # xive_cause_ipi: 8-byte store to the trigger page
            b.sldi("r6", "r6", ESB_SHIFT)
            b.li64("r0", ESB_BASE + ESB_TRIG)
            b.add("r6", "r6", "r0")
            b.li("r5", 0)
            b.std("r5", "0(r6)")

    def wait():
        csd_of_target()
        _csd_lock_wait(b, "r3")

    _for_each_cpu(b, n, target, mask, queue, skip_reg=cpu)
    _for_each_cpu(b, n, target, ipi_mask, kick)
    b.andi_rc(R0, flags, CSD_FLAG_SYNCHRONOUS)
    b.beq(nowait := b.local("nowait"))
    _for_each_cpu(b, n, target, mask, wait, skip_reg=cpu)
    b.label(nowait)
    epilogue()


def emit_receive(b, lay, kp):
    """smp_ipi_demux[_relaxed], flush_smp_call_function_queue and the XIVE
    IPI handler."""
    b.label("smp_ipi_demux")
    b.sync()                            # mb() [linux-mm 3.7]
    b.label("smp_ipi_demux_relaxed")
    messages = R31
    epilogue = prologue(b, 48, [messages])
    _this_cpu(b, messages, lay.ipi_message_base)
    again = b.local("demux")
    b.label(again)
    _xchg_zero(b, R4, messages, R5)
    b.andi_rc(R4, R4, 1 << (8 * PPC_MSG_CALL_FUNCTION))   # LE: byte n is bits 8n..
    b.beq(none := b.local("nocall"))
    b.bl("flush_smp_call_function_queue")
    b.label(none)
    b.ld(R4, f"0({messages})")          # while (info->messages)
    b.cmpdi(R4, 0)
    b.bne(again)
    epilogue()

    b.label("flush_smp_call_function_queue")
    csd, nxt, flags = R31, R30, R29     # nxt: the list reversed, then the _safe next
    epilogue = prologue(b, 64, [csd, nxt, flags])
    _this_cpu(b, R3, lay.csq_base)
    _xchg_zero(b, R4, R3, R5)           # llist_del_all
    b.li(nxt, 0)                        # llist_reverse_order: run in queueing order
    rev, revdone = b.local("rev"), b.local("revd")
    b.label(rev)
    b.cmpdi(R4, 0)
    b.beq(revdone)
    b.ld(R5, f"{CSD_NEXT}({R4})")
    b.std(nxt, f"{CSD_NEXT}({R4})")
    b.mr(nxt, R4)
    b.mr(R4, R5)
    b.b(rev)
    b.label(revdone)
    run, done, sync = b.local("run"), b.local("rund"), b.local("sync")
    b.label(run)
    b.mr_rc(csd, nxt)
    b.beq(done)
    b.ld(nxt, f"{CSD_NEXT}({csd})")     # _safe iteration: csd may be reused after unlock
    b.ld(flags, f"{CSD_FLAGS}({csd})")
    b.ld(R12, f"{CSD_FUNC}({csd})")
    b.ld(R3, f"{CSD_INFO}({csd})")
    b.mtctr(R12)
    b.andi_rc(R0, flags, CSD_FLAG_SYNCHRONOUS)
    b.bne(sync)
    b.lwsync()                          # async: csd_unlock (store-release) before func
    b.li(R0, 0)
    b.std(R0, f"{CSD_FLAGS}({csd})")
    b.bctrl()
    b.b(run)
    b.label(sync)
    b.bctrl()                           # synchronous: func, then csd_unlock
    b.lwsync()
    b.li(R0, 0)
    b.std(R0, f"{CSD_FLAGS}({csd})")
    b.b(run)
    b.label(done)
    epilogue()

    b.label("xive_ipi_interrupt")
    epilogue = prologue(b, 32)
    ipi_receive_cost(b, kp)
    b.li64("r4", TIMA_BASE + TM_ACK_HV)
    b.lhbrx("r5", 0, "r4")              # acknowledge: CPPR = the IPI's priority
    b.sync()                            # mb() after the ack [L-xive]
    b.bl("smp_ipi_demux")               # xive_muxed_ipi_action
    b.ld("r4", f"{PACA_PIR}(r13)")      # EOI our IPI source: SET_PQ_00 load
    b.sldi("r4", "r4", ESB_SHIFT)
    b.li64("r0", ESB_BASE + ESB_SET_PQ_00)
    b.add("r4", "r4", "r0")
    b.ldbrx("r5", 0, "r4")
    b.andi_rc("r5", "r5", 1)              # Q was set: it triggered again, re-trigger
    b.beq(noq := b.local("noq"))
    b.addis("r4", "r4", ESB_TRIG >> 16)        # the trigger page of the same source
    b.addi("r4", "r4", -ESB_SET_PQ_00)
    b.std("r5", "0(r4)")
    b.label(noq)
    b.li64("r4", TIMA_BASE + TM_QW3 + 1)
    b.li("r5", 0xFF)                    # queue empty: CPPR back to 0xFF [L-xive]
    b.stb("r5", "0(r4)")
    epilogue()


def emit_funcs(b):
    """IPI callbacks and test hooks (they write this CPU's marks line)."""
    b.label("do_nothing")
    b.blr()

    b.label("ipi_mark")                 # func(info): count, stamp, keep info
    b.ld("r4", f"{PACA_MARKS}(r13)")
    b.ld("r5", f"{8 * MARK_COUNT}(r4)")
    b.addi("r5", "r5", 1)
    b.std("r5", f"{8 * MARK_COUNT}(r4)")
    b.mftb("r5")
    b.std("r5", f"{8 * MARK_FUNC_TB}(r4)")
    b.std("r3", f"{8 * MARK_INFO}(r4)")
    b.blr()

    b.label("stamp")                    # stamp(slot): marks[slot] = timebase
    b.ld("r4", f"{PACA_MARKS}(r13)")
    b.mftb("r5")
    b.sldi("r3", "r3", 3)
    b.stdx("r5", "r4", "r3")
    b.blr()

    b.label("set_dec")                  # set_dec(ticks): a decrementer interrupt then
    b.mtdec("r3")
    b.blr()

    # irq_off_window(n): a walker-shaped irq-off window of n loop iterations
    b.label("irq_off_window")
    epilogue = prologue(b, 48, ["r31", "r30"])
    b.ld("r30", f"{PACA_MARKS}(r13)")
    local_irq_save(b, "r31", "r4")
    b.mftb("r4")
    b.std("r4", f"{8 * MARK_WIN_ENTER}(r30)")
    b.mtctr("r3")
    b.label(loop := b.local("win"))
    b.bdnz(loop)
    b.lbz("r4", f"{PACA_IRQ_HAPPENED}(r13)")
    b.std("r4", f"{8 * MARK_WIN_HAPPENED}(r30)")
    b.mftb("r4")
    b.std("r4", f"{8 * MARK_WIN_EXIT}(r30)")
    local_irq_restore(b, "r31")
    b.mftb("r4")
    b.std("r4", f"{8 * MARK_WIN_RESTORED}(r30)")
    epilogue()
    emit_ipi_round_trips(b)
    emit_ipi_wake_rounds(b)


IPI_RTT_KIND = K_IPI_RTT     # trace-port kind of ipi_round_trips' records
IPI_WAKE_KIND = K_IPI_WAKE   # trace-port kind of ipi_wake_rounds' records


def emit_ipi_round_trips(b):
    """``ipi_round_trips(mask r3, n r4)`` (the ipi_latency workload): ``n``
    synchronous rounds ``smp_call_function_many(mask, do_nothing, NULL, 1)``
    (linux-mm 3.7: a one-CPU mask is smp_call_function_single's IPI), each
    between two trace-port records of kind IPI_RTT_KIND (a = round index, b =
    0 before / 1 after the call; the records cost nothing).  The round trip is
    the real send path, the target's interrupt entry and receive path, and the
    csd_unlock the sender's csd_lock_wait sees."""
    b.label("ipi_round_trips")
    mask, n, rnd = R31, R30, R29
    epilogue = prologue(b, 64, [mask, n, rnd])
    b.mr(mask, R3)
    b.mr(n, R4)
    b.li(rnd, 0)
    b.label(loop := b.local("rtt"))
    b.cmpd(rnd, n)
    b.bge(done := b.local("rttd"))
    b.li64(R5, TRACE_BASE)
    b.li(R0, 0)
    b.std(rnd, f"{8 * IPI_RTT_KIND}({R5})")
    b.mr(R3, mask)
    b.load_addr(R4, "do_nothing")
    b.li(R5, 0)
    b.li(R6, 1)                         # wait
    b.bl("smp_call_function_many")
    b.li64(R5, TRACE_BASE)
    b.li(R0, 1)
    b.std(rnd, f"{8 * IPI_RTT_KIND}({R5})")
    b.addi(rnd, rnd, 1)
    b.b(loop)
    b.label(done)
    epilogue()


def emit_ipi_wake_rounds(b):
    """``ipi_wake_rounds(mask r3, n r4, interval r5)`` (the ipi_idle workload):
    every ``interval`` timebase ticks, a record (IPI_WAKE_KIND, round, 0) and
    ``smp_call_function_many(mask, ipi_wake_mark, round, 1)``, as the cpuidle
    latency test times ``smp_call_function_single`` [Sampat-ipi]; the callback
    ``ipi_wake_mark`` records (IPI_WAKE_KIND, round, 1) at its entry."""
    b.label("ipi_wake_mark")            # (round): the record is the callback's first store
    b.li64("r4", TRACE_BASE)
    b.li("r0", 1)
    b.std("r3", f"{8 * IPI_WAKE_KIND}(r4)")
    b.blr()

    b.label("ipi_wake_rounds")
    mask, n, rnd, interval, slot = R31, R30, R29, R28, R27
    epilogue = prologue(b, 80, [mask, n, rnd, interval, slot])
    b.mr(mask, "r3")
    b.mr(n, "r4")
    b.mr(interval, "r5")
    b.li(rnd, 0)
    b.mftb(slot)
    b.label(loop := b.local("wake"))
    b.cmpd(rnd, n)
    b.bge(done := b.local("waked"))
    b.add(slot, slot, interval)
    b.label(wait := b.local("slot"))    # sleep until the round's slot
    b.mftb("r4")
    b.subf_rc("r6", "r4", slot)
    b.ble(go := b.local("go"))
    sleep_for(b, "r6", "r7", "wait")
    b.b(wait)
    b.label(go)
    b.li64("r5", TRACE_BASE)
    b.li("r0", 0)
    b.std(rnd, f"{8 * IPI_WAKE_KIND}(r5)")
    b.mr("r3", mask)
    b.load_addr("r4", "ipi_wake_mark")
    b.mr("r5", rnd)
    b.li("r6", 1)                       # wait
    b.bl("smp_call_function_many")
    b.addi(rnd, rnd, 1)
    b.b(loop)
    b.label(done)
    epilogue()
