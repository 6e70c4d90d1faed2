"""The idle loop as v5.4 runs it on PowerNV POWER9: cpuidle's menu governor
over the firmware's stop states, the stop entry, and the wake-up at 0x100.

States.  The firmware lists each enabled state with a PSSCR value, an exit
latency and a target residency (``STATES``: skiboot's table [SK-slw]).  The
governor believes those numbers; the hardware's wake-up is the machine's
``stop_lite_ns`` / ``stop_ns`` (measured, and for the deep states about ten
times skiboot's estimate [Sampat-ipi]).

Governor (``menu_select`` of v5.4 [L-menu]), per CPU, in timebase ticks:

* ``next_timer``: time to the next timer event.  The tiny kernel's only timer
  is the end of the idle command (``until``); ``delta_next`` is the same, or
  the next tick boundary while the tick runs.
* ``predicted = min(next_timer, typical interval)``, the typical interval from
  the last 8 observed intervals (``get_typical_interval``: their average when
  the spread is small, dropping the largest values while 3/4 remain).  The
  correction factor is left out: the one case it would change, a short
  prediction with the tick running, is decided by the typical interval too.
* **Tick stopped** and ``predicted`` below one tick: ``predicted =
  delta_next`` (the time to the next timer: with no timer, the deepest state).
  Tick running: the exit latency may not exceed ``predicted`` (no I/O
  waiters: performance multiplier 1).
* The deepest enabled state whose residency and exit latency fit.
* The tick is kept (and the state made to fit before the next tick) when
  ``predicted`` is below one tick and the tick still runs; otherwise it is
  stopped until the idle command ends.
* After the wake-up (``menu_update``): the observed interval, less the exit
  latency (halved instead when shorter than twice it), 45 ms for a wake-up by
  the tick when no timer was due within one tick, is stored in the ring
  (capped at MAX_INTERESTING, 50 ms, so the variance stays within 64 bits).

Stop and wake-up.  ``power9_idle_stop`` saves r1 and executes ``stop`` with
the PSSCR the caller set.  A state with ESL = EC = 0 (stop0_lite) resumes
after the ``stop``; the others wake through the system reset vector 0x100,
which reloads r1 and returns to ``power9_idle_stop``'s caller with SRR1's wake
reason [L-idle].  The machine keeps GPRs and SPRs across every state, so the
state-loss restore Linux does after the deep states is not executed.
"""

from powersim.kernel.idle_states import STATES, psscr
from powersim.kernel.layout import (CI_INTERVAL_COUNT, CI_INTERVALS, CI_NEXT, CI_R1,
                                    CI_STATE_BYTES, CI_TICK_STOPPED, LINE_SHIFT, PACA_CPU)
from powersim.kernel.pgtable import sleep_for
from powersim.kernel.trace import IDLE_STOP, trace

SPR_PSSCR, SPR_SRR1 = 855, 27
ALL_ONES = (1 << 64) - 1
MAX_INTERESTING_US = 50000          # menu.c: intervals longer than this are all "long"
TICK_WAKEUP_US = 9 * MAX_INTERESTING_US // 10   # what menu_update records for a tick wake-up
VARIANCE_OK_US2 = 400               # get_typical_interval: a spread of 20 us is "typical"

# The table at Layout.cpuidle_states: a header of timebase constants (so the
# image does not depend on the timebase), then one entry per enabled state.
H_TICK, H_TICK_WAKEUP, H_MAX_INTERESTING, H_VARIANCE_OK = 0, 8, 16, 24


def state_table(names, tb_mhz: int, hz: int) -> list:
    """The u64 rows load() writes at Layout.cpuidle_states: the header, then
    (residency ticks, exit latency ticks, PSSCR, index) per enabled state,
    shallowest first, then the end mark."""
    header = (tb_mhz * 10**6 // hz, TICK_WAKEUP_US * tb_mhz, MAX_INTERESTING_US * tb_mhz,
              VARIANCE_OK_US2 * tb_mhz * tb_mhz)
    rows = [(STATES[n][4] * tb_mhz, STATES[n][3] * tb_mhz, psscr(n), i)
            for i, n in enumerate(names)]
    return [header, *rows, (ALL_ONES, 0, 0, 0)]


def _this_cpuidle(b, dst, lay):
    """dst = this CPU's cpuidle line."""
    b.ld(dst, f"{PACA_CPU}(r13)")
    b.sldi(dst, dst, LINE_SHIFT)
    b.li64("r0", lay.cpuidle_base)
    b.add(dst, dst, "r0")


def emit_vector(b, lay):
    """0x100: the only system reset this kernel sees is the wake-up from a stop
    state with ESL = EC = 1; SRR0 is the instruction after ``stop``."""
    b.emit(".org 0x100")
    b.label("system_reset")
    b.mfspr("r3", SPR_SRR1)             # power9_idle_stop returns the wake reason
    _this_cpuidle(b, "r4", lay)
    b.ld("r1", f"{CI_R1}(r4)")
    b.blr()                             # LR: power9_idle_stop's caller


def emit(b, lay):
    """power9_idle_stop, get_typical_interval and cmd_idle_gov."""
    b.label("power9_idle_stop")         # () PSSCR set, hard-disabled -> r3 = SRR1 or 0
    _this_cpuidle(b, "r4", lay)
    b.std("r1", f"{CI_R1}(r4)")
    b.stop()
    b.li("r3", 0)                       # stop0_lite: resumed here, nothing lost
    b.blr()
    _emit_typical_interval(b, lay)
    _emit_idle_gov(b, lay)


def _emit_typical_interval(b, lay):
    """``get_typical_interval(r3 = cpuidle line) -> r3`` (ticks; all ones: none)."""
    b.label("get_typical_interval")
    b.li64("r4", ALL_ONES)              # thresh: discard intervals above it
    b.label(again := b.local("again"))
    b.li("r5", 0)                       # max
    b.li("r6", 0)                       # sum
    b.li("r7", 0)                       # divisor
    _each_interval(b, "sum", lambda skip: (
        b.cmpld("r9", "r4"), b.bgt(skip), b.add("r6", "r6", "r9"), b.addi("r7", "r7", 1),
        b.cmpld("r9", "r5"), b.ble(skip), b.mr("r5", "r9")))
    b.divdu("r10", "r6", "r7")          # avg (divisor >= 1: a drop keeps the smaller ones)
    b.li("r11", 0)                      # variance
    _each_interval(b, "var", lambda skip: (
        b.cmpld("r9", "r4"), b.bgt(skip), b.subf("r9", "r10", "r9"),
        b.mulld("r9", "r9", "r9"), b.add("r11", "r11", "r9")))
    b.divdu("r11", "r11", "r7")
    b.li64("r12", lay.cpuidle_states)
    b.ld("r12", f"{H_VARIANCE_OK}(r12)")
    b.cmpld("r11", "r12")
    b.ble(typical := b.local("typ"))
    b.mulld("r12", "r10", "r10")        # avg^2 > 36 variance (stddev < avg / 6) ...
    b.mulli("r0", "r11", 36)
    b.cmpld("r12", "r0")
    b.ble(drop := b.local("drop"))
    b.cmpdi("r7", CI_INTERVAL_COUNT * 3 // 4)   # ... over at least 3/4 of the samples
    b.bge(typical)
    b.label(drop)
    b.cmpdi("r7", CI_INTERVAL_COUNT * 3 // 4)
    b.ble(none := b.local("none"))      # down to 3/4: no typical interval
    b.addi("r4", "r5", -1)              # drop the largest and try again
    b.b(again)
    b.label(typical)
    b.mr("r3", "r10")
    b.blr()
    b.label(none)
    b.li64("r3", ALL_ONES)
    b.blr()


def _each_interval(b, name, body):
    """for r9 in intervals (at r3): body(skip label).  Uses r8, CTR."""
    b.li("r8", CI_INTERVALS - 8)
    b.li("r9", CI_INTERVAL_COUNT)
    b.mtctr("r9")
    b.label(top := b.local(name))
    b.addi("r8", "r8", 8)
    b.ldx("r9", "r3", "r8")
    skip = b.local(name + "s")
    body(skip)
    b.label(skip)
    b.bdnz(top)


def _emit_idle_gov(b, lay):
    """cmd_idle_gov (r4 until): idle until timebase ``until``, each ``stop`` in
    the state menu_select picks (see the module docstring)."""
    until, line, now, table, tick = "r20", "r21", "r22", "r23", "r24"
    state, next_timer, predicted, deadline = "r25", "r26", "r27", "r28"
    b.label("cmd_idle_gov")
    b.mr(until, "r4")
    _this_cpuidle(b, line, lay)
    b.li("r0", 0)                       # tick_nohz_idle_enter: the tick still runs
    b.std("r0", f"{CI_TICK_STOPPED}({line})")
    b.li64(table, lay.cpuidle_states)
    b.ld(tick, f"{H_TICK}({table})")    # TICK in timebase ticks
    b.addi(table, table, CI_STATE_BYTES)    # the first state
    b.label(loop := b.local("idle"))
    b.mftb(now)
    b.cmpld(now, until)
    b.bge("cmd_loop")
    b.subf(next_timer, now, until)
    b.mr("r3", line)
    b.bl("get_typical_interval")
    b.mr(predicted, next_timer)
    b.cmpld("r3", predicted)
    b.bge(have := b.local("pred"))
    b.mr(predicted, "r3")
    b.label(have)
    b.li64("r12", ALL_ONES)             # latency_req: none while the tick is stopped
    b.ld("r5", f"{CI_TICK_STOPPED}({line})")
    b.cmpdi("r5", 0)
    b.beq(running := b.local("running"))
    b.cmpld(predicted, tick)            # the tick-stopped rule
    b.bge(select := b.local("select"))
    b.mr(predicted, next_timer)
    b.b(select)
    b.label(running)
    b.mr("r12", predicted)              # interactivity_req = predicted / 1
    b.label(select)                     # the deepest state that fits
    b.mr(state, table)
    b.mr("r7", table)
    b.label(scan := b.local("scan"))
    b.ld("r8", "0(r7)")                 # target residency (the end: all ones)
    b.cmpld("r8", predicted)
    b.bgt(chosen := b.local("chosen"))
    b.ld("r8", "8(r7)")                 # exit latency
    b.cmpld("r8", "r12")
    b.bgt(chosen)
    b.mr(state, "r7")
    b.addi("r7", "r7", CI_STATE_BYTES)
    b.b(scan)
    b.label(chosen)
    b.mr(deadline, until)
    b.ld("r5", f"{CI_TICK_STOPPED}({line})")
    b.cmpdi("r5", 0)
    b.bne(sleep := b.local("sleep"))
    b.cmpld(predicted, tick)
    b.bge(stop_tick := b.local("stoptick"))
    b.divdu("r9", now, tick)            # keep the tick: sleep until the next one ...
    b.addi("r9", "r9", 1)
    b.mulld("r9", "r9", tick)
    b.cmpld("r9", until)
    b.bge(fit := b.local("fit"))
    b.mr(deadline, "r9")
    b.label(fit)                        # ... in a state whose residency fits before it
    b.subf("r10", now, deadline)
    b.label(shallower := b.local("shallower"))
    b.cmpld(state, table)
    b.ble(sleep)
    b.ld("r8", f"0({state})")
    b.cmpld("r8", "r10")
    b.ble(sleep)
    b.addi(state, state, -CI_STATE_BYTES)
    b.b(shallower)
    b.label(stop_tick)
    b.li("r5", 1)
    b.std("r5", f"{CI_TICK_STOPPED}({line})")
    b.label(sleep)
    b.ld("r11", f"16({state})")
    b.mtspr(SPR_PSSCR, "r11")
    b.ld("r11", f"24({state})")
    trace(b, IDLE_STOP, "r11", scratch="r9")    # the state picked (zero-cost record)
    b.mftb(now)                         # entered
    b.subf_rc("r6", now, deadline)
    b.ble(loop)
    sleep_for(b, "r6", "r7", "stop")
    b.mftb("r9")
    b.subf("r9", now, "r9")             # observed interval
    _emit_menu_update(b, line, table, state, next_timer, deadline, until, tick)
    b.b(loop)


def _emit_menu_update(b, line, table, state, next_timer, deadline, until, tick):
    """r9 = the observed interval -> the ring (menu_update)."""
    b.ld("r5", f"{CI_TICK_STOPPED}({line})")
    b.cmpdi("r5", 0)
    b.bne(measured := b.local("measured"))
    b.cmpld(deadline, until)            # slept until a tick ...
    b.beq(measured)
    b.mftb("r5")
    b.cmpld("r5", deadline)             # ... and woke at it (not an IPI before) ...
    b.blt(measured)
    b.cmpld(next_timer, tick)           # ... with no timer within the tick
    b.ble(measured)
    b.ld("r9", f"{H_TICK_WAKEUP - CI_STATE_BYTES}({table})")
    b.b(store := b.local("store"))
    b.label(measured)
    b.ld("r5", f"8({state})")           # exit latency
    b.sldi("r6", "r5", 1)
    b.cmpld("r9", "r6")
    b.ble(half := b.local("half"))
    b.subf("r9", "r5", "r9")
    b.b(cap := b.local("cap"))
    b.label(half)
    b.srdi("r9", "r9", 1)
    b.label(cap)
    b.ld("r5", f"{H_MAX_INTERESTING - CI_STATE_BYTES}({table})")
    b.cmpld("r9", "r5")
    b.ble(store)
    b.mr("r9", "r5")
    b.label(store)
    b.ld("r5", f"{CI_NEXT}({line})")
    b.sldi("r6", "r5", 3)
    b.stdx("r9", line, "r6")
    b.addi("r5", "r5", 1)
    b.andi_rc("r5", "r5", CI_INTERVAL_COUNT - 1)
    b.std("r5", f"{CI_NEXT}({line})")
