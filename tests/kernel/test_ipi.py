"""The kernel foundation: boot and command loop, interrupt entry with
soft-masking and replay, smp_call_function_many over doorbells and XIVE.

Stamps are timebase values written by the kernel's own `stamp`, `ipi_mark`
and `irq_off_window` routines into per-CPU marks lines; the machine exposes
no cycle counter to software, so the assertions are about order, not cycles."""

import pytest

from powersim.errors import PowersimError
from powersim.kernel.image import Kernel, call, dump, idle, wait_until
from powersim.kernel.layout import (CSD_FLAGS, MARK_COUNT, MARK_FREE, MARK_FUNC_TB, MARK_INFO,
                                    MARK_WIN_ENTER, MARK_WIN_EXIT, MARK_WIN_HAPPENED,
                                    MARK_WIN_RESTORED, PACA_IRQ_DBELL, PACA_IRQ_DEC, PACA_IRQ_EE,
                                    PACA_IRQ_HARD_DIS, Layout)

SENT = {"doorbell": "doorbells_sent", "xive": "xive_sent"}
RECV = {"doorbell": "doorbells_recv", "xive": "xive_recv"}
VEC = {"doorbell": "int_e80", "xive": "int_ea0"}
BEFORE, AFTER = MARK_FREE, MARK_FREE + 1        # the senders' stamp slots
INFO = 77


def sender(mask, wait=1, at=None):
    """Stamp, one IPI round running ipi_mark(INFO) on `mask`, stamp."""
    first = [wait_until(at)] if at is not None else []
    return first + [call("stamp", BEFORE),
                    call("smp_call_function_many", mask, "ipi_mark", INFO, wait),
                    call("stamp", AFTER)]


def assert_quiescent(run, k):
    """Every csd unlocked, every queue and message word empty, irqs enabled."""
    lay = k.layout
    for s in range(lay.ncpus):
        assert run.u64(lay.call_single_queue(s)) == 0
        assert run.u64(lay.ipi_message(s)) == 0
        assert run.u64(lay.paca(s)) & 0xFFFF == 0         # soft mask, irq_happened
        for t in range(lay.ncpus):
            assert run.u64(lay.csd(s, t) + CSD_FLAGS) == 0
    assert all(t.halted for t in run.result.threads)


@pytest.mark.parametrize("ipi,topo", [("doorbell", dict(cores_per_chip=2)),
                                      ("doorbell", dict(chips=2)),
                                      ("xive", dict(cores_per_chip=2))])
def test_round_to_all_cpus(ipi, topo):
    k = Kernel(ipi=ipi, **topo)
    n = k.layout.ncpus
    scripts = {0: sender(k.layout.mm_cpumask)}
    scripts.update({c: [idle()] for c in range(1, n)})
    run = k.run(scripts, mm_cpus=range(n))
    funcs = []
    for c in range(1, n):
        m = run.marks(c)
        assert m[MARK_COUNT] == 1 and m[MARK_INFO] == INFO      # ran func(info) once
        assert run.stats(c)[RECV[ipi]] == 1 and run.stats(c)[VEC[ipi]] == 1
        funcs.append(m[MARK_FUNC_TB])
    me = run.marks(0)
    assert me[MARK_COUNT] == 0                  # the sender is not a target
    assert me[BEFORE] < min(funcs)
    # the wait ends after the last target ran func (csd_unlock comes after func)
    assert me[AFTER] > max(funcs)
    assert run.stats(0)[SENT[ipi]] == n - 1     # C CPUs in the mask: C - 1 IPIs
    assert sum(run.stats(c)[SENT[ipi]] for c in range(n)) == n - 1
    assert_quiescent(run, k)


@pytest.mark.parametrize("wait", [1, 0])
def test_synchronous_csd_unlocked_after_func_returns(wait):
    """func = a long irq_off_window(n): with wait=1 the sender returns only after
    every target finished it (csd_unlock after func); with wait=0 it does not wait."""
    k = Kernel(cores_per_chip=2)
    targets = (2, 5)
    scripts = {0: [call("stamp", BEFORE),
                   call("smp_call_function_many", set(targets), "irq_off_window", 20_000,
                        wait),
                   call("stamp", AFTER)]}
    scripts.update({t: [idle()] for t in targets})
    run = k.run(scripts)
    ends = [run.marks(t)[MARK_WIN_RESTORED] for t in targets]
    assert all(run.marks(t)[MARK_WIN_ENTER] > run.marks(0)[BEFORE] for t in targets)
    if wait:
        assert run.marks(0)[AFTER] > max(ends)
    else:
        assert run.marks(0)[AFTER] < min(ends)
    assert_quiescent(run, k)


@pytest.mark.parametrize("ipi", ["doorbell", "xive"])
def test_ipi_in_irq_off_window_is_recorded_then_replayed(ipi):
    """THE soft-masking sequence [LM-softmask]: the IPI reaches a target inside
    local_irq_save .. local_irq_restore; it is recorded, not handled; it runs
    right after the restore; the sender's wait ends after that."""
    k = Kernel(ipi=ipi, cores_per_chip=2)
    target, send_at = 5, 2000                   # timebase ticks: inside the window
    scripts = {0: sender({target}, at=send_at),
               target: [call("irq_off_window", 200_000)]}
    run = k.run(scripts)
    w, s = run.marks(target), run.marks(0)
    assert w[MARK_WIN_ENTER] < s[BEFORE] < w[MARK_WIN_EXIT]     # sent inside the window
    kind = PACA_IRQ_DBELL if ipi == "doorbell" else PACA_IRQ_EE | PACA_IRQ_HARD_DIS
    assert w[MARK_WIN_HAPPENED] == kind         # recorded (and hard-disabled for EE)
    assert w[MARK_COUNT] == 1
    # not handled inside the window; replayed by local_irq_restore
    assert w[MARK_WIN_EXIT] < w[MARK_FUNC_TB] <= w[MARK_WIN_RESTORED]
    assert s[AFTER] > w[MARK_FUNC_TB]
    # the window's length bounds how long the sender waited
    assert s[AFTER] - s[BEFORE] >= w[MARK_WIN_EXIT] - s[BEFORE]
    # taken once (the masked entry); the replay is a call, not a second interrupt
    assert run.stats(target)[VEC[ipi]] == 1
    assert_quiescent(run, k)


def test_decrementer_in_irq_off_window_is_recorded_then_replayed():
    k = Kernel(smt=1)
    run = k.run({0: [call("set_dec", 1000), call("irq_off_window", 100_000),
                     call("stamp", AFTER)]})
    w = run.marks(0)
    assert w[MARK_WIN_HAPPENED] == PACA_IRQ_DEC
    assert w[MARK_WIN_EXIT] - w[MARK_WIN_ENTER] > 1000     # it fired inside the window
    assert run.stats(0)["int_900"] == 1         # masked entry only; the replay is a call
    assert w[MARK_WIN_RESTORED] >= w[MARK_WIN_EXIT]
    assert_quiescent(run, k)                    # irq_happened consumed by the replay


def test_unmasked_target_runs_func_without_waiting_for_the_window():
    """Control for the test above: the same round to a CPU that is not in an
    irq-off window is handled at once, long before the other CPU's window ends."""
    k = Kernel(cores_per_chip=2)
    scripts = {0: sender({4}, at=2000), 5: [call("irq_off_window", 200_000)], 4: [idle()]}
    run = k.run(scripts)
    assert run.marks(4)[MARK_FUNC_TB] < run.marks(5)[MARK_WIN_EXIT]
    assert run.marks(0)[AFTER] < run.marks(5)[MARK_WIN_EXIT]
    assert run.marks(5)[MARK_WIN_HAPPENED] == 0 and run.marks(5)[MARK_COUNT] == 0


def test_target_with_queued_csd_is_not_kicked_again():
    """Two senders, one target inside an irq-off window: the second csd joins a
    non-empty queue, so only the first sender sends a doorbell; both functions
    run after the window, in queueing order, each sender waiting for its own."""
    k = Kernel(cores_per_chip=2)
    target = 3
    scripts = {1: sender({target}, at=2000), 6: sender({target}, at=3000),
               target: [call("irq_off_window", 200_000)]}
    run = k.run(scripts)
    w = run.marks(target)
    assert w[MARK_COUNT] == 2
    assert run.stats(1)["doorbells_sent"] == 1 and run.stats(6)["doorbells_sent"] == 0
    assert run.stats(target)["doorbells_recv"] == 1
    for s in (1, 6):
        assert w[MARK_WIN_ENTER] < run.marks(s)[BEFORE] < w[MARK_WIN_EXIT]
        assert run.marks(s)[AFTER] > w[MARK_WIN_EXIT]
    assert_quiescent(run, k)


def test_second_round_waits_for_csd_and_kicks_again():
    """wait=0 twice to the same target: the second round's csd_lock waits until
    the target has unlocked the first csd, whose queue is empty again by then,
    so each round sends its doorbell (C - 1 per round)."""
    k = Kernel(cores_per_chip=2)
    n = k.layout.ncpus
    round_ = call("smp_call_function_many", k.layout.mm_cpumask, "ipi_mark", INFO, 0)
    scripts = {0: [round_, round_, call("smp_call_function_many", k.layout.mm_cpumask,
                                        "do_nothing", 0, 1)]}
    scripts.update({c: [idle(), idle(), idle()] for c in range(1, n)})
    run = k.run(scripts, mm_cpus=range(n))
    assert run.stats(0)["doorbells_sent"] == 3 * (n - 1)
    for c in range(1, n):
        assert run.marks(c)[MARK_COUNT] == 2
    assert_quiescent(run, k)


def test_wait_until_sleeps_on_the_decrementer():
    k = Kernel(smt=2)

    def wake(at):
        run = k.run({0: [wait_until(at), call("stamp", BEFORE)], 1: [idle()]},
                    max_cycles=10**7)
        t = run.result.threads[0]
        assert t.stats["int_900"] == 1          # the decrementer, handled unmasked
        assert t.instructions < 500             # it slept in `wait`, it did not spin
        assert not run.result.threads[1].halted     # nothing woke the idle CPU
        stamp = run.marks(0)[BEFORE]
        assert stamp >= at
        return stamp
    # the wake-up follows the requested time tick for tick (same path, same cost)
    first, later = wake(50_000), wake(80_000)
    assert abs((later - first) - 30_000) <= 1


def test_dump_shows_every_routine():
    k = Kernel(cores_per_chip=2)
    text = "\n".join(dump(k.image))
    for name in ("_start", "cmd_loop", "decrementer", "h_doorbell", "h_virt_irq",
                 "irq_dispatch", "timer_interrupt", "doorbell_exception",
                 "xive_ipi_interrupt", "arch_local_irq_restore", "replay_soft_interrupts",
                 "smp_call_function_many", "smp_ipi_demux", "flush_smp_call_function_queue",
                 "do_nothing", "ipi_mark", "irq_off_window"):
        assert f"\n{name}:\n" in text
    assert k.image.symbols["h_doorbell"] == 0xE80 and k.image.symbols["h_virt_irq"] == 0xEA0
    assert "msgsnd" in text and "hrfid" in text and "ldarx" in text
    xive = "\n".join(dump(Kernel(ipi="xive").image))
    assert "msgsnd" not in xive


def test_layout_one_line_per_object_no_overlap():
    lay = Layout(pirs=[0, 1, 2, 3, 4, 5, 6, 7, 0x100, 0x101])
    n = lay.ncpus
    addrs = ([lay.paca(c) for c in range(n)] + [lay.ipi_message(c) for c in range(n)] +
             [lay.call_single_queue(c) for c in range(n)] + [lay.marks(c) for c in range(n)] +
             [lay.csd(s, t) for s in range(n) for t in range(n)] +
             [lay.cfd_ipi_mask(c) for c in range(n)] + [lay.mm, lay.mm_cpumask])
    assert all(a % 128 == 0 for a in addrs)
    assert len(set(addrs)) == len(addrs)
    assert lay.pir_table + 8 * 0x101 < lay.cpu_pir
    assert lay.stack_top(n - 1) < lay.end
    assert lay.mask([0, 9]) == (1 | 1 << 9).to_bytes(8, "little")


@pytest.mark.parametrize("make", [
    lambda: Kernel(ipi="msgsndp"),
    lambda: idle(1 << 32),
    lambda: idle(0, count=0),
    lambda: wait_until(-1),
    lambda: call("x", 1, 2, 3, 4, 5),
    lambda: Kernel().run({0: [call("no_such_routine")]}),
    lambda: Kernel().run({9: []}),
    lambda: Layout(pirs=[1, 0]),
])
def test_bad_input_is_a_clear_error(make):
    with pytest.raises(PowersimError) as e:
        make()
    assert "allowed" in str(e.value) or "unknown" in str(e.value)


def test_runs_are_deterministic():
    k = Kernel(ipi="xive", cores_per_chip=2)
    scripts = {0: sender(range(8), at=2000), 5: [call("irq_off_window", 50_000)]}
    scripts.update({c: [idle()] for c in (1, 2, 3, 4, 6, 7)})

    def once():
        run = k.run(scripts)
        return ([run.marks(c) for c in range(8)],
                [(t.cycles, t.instructions, t.stats) for t in run.result.threads])
    assert once() == once()


def _mnemonics(k, start, stop):
    """The mnemonics of the image from symbol ``start`` up to the first ``stop``."""
    lines = dump(k.image)
    i = lines.index(f"{start}:") + 1
    out = []
    for line in lines[i:]:
        if line.endswith(":"):
            continue
        out.append(line.split()[2])
        if out[-1] == stop:
            return out
    raise AssertionError(f"no {stop} after {start}")


def test_doorbell_send_orders_every_store_before_msgsnd():
    """doorbell_global_ipi as v5.4 sends it [L-dbell]: smp_mb; message byte;
    kvmppc_set_host_ipi (smp_mb; host_ipi byte); sync; msgsnd, with nothing
    stored between the last sync and the msgsnd."""
    seq = _mnemonics(Kernel(cores_per_chip=2), "smp_call_function_many", "msgsnd")
    kinds = [m for m in seq if m in ("hwsync", "lwsync", "msgsnd") or m.startswith("st")]
    assert kinds[-6:] == ["hwsync", "stb", "hwsync", "stb", "hwsync", "msgsnd"]


def test_doorbell_receive_syncs_before_reading_the_message():
    """msgsync; lwsync before anything of the sender's is read, then host_ipi
    cleared with a full barrier before smp_ipi_demux_relaxed."""
    seq = _mnemonics(Kernel(cores_per_chip=2), "doorbell_exception", "b")
    loads = [i for i, m in enumerate(seq) if m.startswith("l") and m not in ("li", "lwsync")]
    assert seq.index("msgsync") < seq.index("lwsync") < seq.index("stb") < seq.index("hwsync")
    assert not loads


@pytest.mark.parametrize("handled", [True, False])
def test_host_ipi_is_set_by_the_sender_and_cleared_by_the_handler(handled):
    """host_ipi (PACA byte 2) is 1 from the send until the target's doorbell
    handler clears it: a target that halted never clears it."""
    k = Kernel(cores_per_chip=2)
    target = [idle()] if handled else []
    run = k.run({0: sender({4}, wait=int(handled)), 4: target}, mm_cpus=[0, 4])
    assert run.marks(4)[MARK_COUNT] == int(handled)
    assert run.u64(k.layout.paca(4)) >> 16 & 0xFF == int(not handled)
