"""Multithreaded behaviour: atomics, doorbells, stop, XIVE, spin sleeping,
determinism and exact/fast agreement.  Expected cycle counts are derived
from the parameter values, never hard-coded."""

import json

import pytest

from conftest import params
from powersim.machine.params import MachineParams

ATOMIC = """
_start:
    li r4, 0x2000
    li r6, {n}
    mtctr r6
1:  ldarx r5, 0, r4
    addi r5, r5, 1
    stdcx. r5, 0, r4
    bne- 1b
    bdnz 1b
    attn
"""


@pytest.mark.parametrize("exact", [False, True])
def test_atomic_increments(run, exact):
    n = 10000
    res = run(ATOMIC.format(n=n), smt=4, cores_per_chip=2, exact=exact, dumps=((0x2000, 8),))
    assert int.from_bytes(res.dumps[0x2000], "little") == 8 * n
    assert sum(t.stats["stcx_ok"] for t in res.threads) == 8 * n
    # the line bounces between the two cores: transfers are charged
    assert sum(t.stats["l2_hits"] + t.stats["c2c_chip"] for t in res.threads) > 0
    assert all(t.halted for t in res.threads)


def test_contended_atomics_cost_transfers(run):
    """The same increments cost more per operation when the line moves across chips."""
    def per_op(**topo):
        res = run(ATOMIC.format(n=2000), smt=1, exact=True, **topo)
        return res.cycles
    one = per_op(cores_per_chip=1)
    two_chips = per_op(chips=2, cores_per_chip=1)
    assert two_chips > one


PINGPONG = """
_start:
    cmpdi r3, {a}
    beq ping
    cmpdi r3, {b}
    beq pong
    attn
ping:
    li r10, {n}
    mtctr r10
    li r9, {b}
    oris r9, r9, 0x2800     # message type 5 (server) << 27 [L-dbell]
1:  msgsnd r9
    stop                    # PSSCR = 0: stop0_lite, resumes after stop
    msgclr r9
    bdnz 1b
    attn
pong:
    li r10, {n}
    mtctr r10
    li r9, {a}
    oris r9, r9, 0x2800
1:  stop
    msgclr r9
    msgsnd r9
    bdnz 1b
    attn
"""

FLAT_SMT = dict(smt_cost_pct=(100, 100, 100, 100))


def pingpong(run, topo, b, n=20, exact=False, **kw):
    p = params(**FLAT_SMT, **kw)
    res = run(PINGPONG.format(a=0, b=b, n=n), params=p, exact=exact, **topo)
    ping = res.threads[0]
    assert ping.halted and ping.stats["doorbells_sent"] == n
    assert ping.stats["doorbells_recv"] == n and ping.stats["stop_entries"] == n
    return ping.cycles


@pytest.mark.parametrize("exact", [False, True])
def test_doorbell_pingpong_latencies(run, exact):
    p = MachineParams()
    n = 20
    core = pingpong(run, dict(smt=2), b=1, n=n, exact=exact)
    chip = pingpong(run, dict(smt=1, cores_per_chip=2), b=4, n=n, exact=exact)
    xchip = pingpong(run, dict(smt=1, chips=2), b=256, n=n, exact=exact)
    # each round trip is two deliveries; everything else is the same code
    assert chip - core == 2 * n * (p.db_chip - p.db_core)
    assert xchip - chip == 2 * n * (p.db_xchip - p.db_chip)


def test_doorbell_latency_follows_parameter(run):
    base = pingpong(run, dict(smt=1, cores_per_chip=2), b=4, n=10)
    slower = pingpong(run, dict(smt=1, cores_per_chip=2), b=4, n=10,
                      db_chip=MachineParams().db_chip + 321)
    assert slower - base == 2 * 10 * 321


STOPWAKE = """
    .org 0x100
    mfspr r20, 26
    mfspr r21, 27
    mftb r22
    attn
    .org 0x1000
_start:
    cmpdi r3, 0
    bne sleeper
    li r4, 3000             # let the sleeper enter stop first
    mtctr r4
1:  addi r5, r5, 1
    bdnz 1b
    li r9, 1
    oris r9, r9, 0x2800
    msgsnd r9
    attn
sleeper:
    lis r4, 0x30            # PSSCR: ESL | EC, RL = {rl}
    ori r4, r4, {rl}
    mtspr 855, r4
    stop
    li r23, 1               # not reached: ESL=EC=1 wakes through 0x100
    attn
"""


def test_stop_wakes_on_doorbell_after_latency(run):
    def go(stop_ns):
        p = params(**FLAT_SMT, stop_ns=stop_ns)
        return run(STOPWAKE.format(rl=2), params=p, smt=2).threads
    base = MachineParams().stop_ns
    slower = base[:2] + (base[2] + 5000,) + base[3:]
    a0, a1 = go(base)
    b0, b1 = go(slower)
    assert a1.stats["int_100"] == 1 and a1.gpr[23] == 0
    assert a1.gpr[21] & 0x003C0000 == 0x000C0000     # wake reason: hypervisor doorbell
    assert a1.gpr[21] & 0x00030000 == 0x00010000     # shallow stop: no state loss
    assert a1.stats["stop_entries"] == 1 and a1.stats["wakeups"] == 1
    p = MachineParams()
    assert b1.cycles - a1.cycles == p.ns_to_cycles(base[2] + 5000) - p.ns_to_cycles(base[2])
    # woken no earlier than the doorbell's arrival plus the stop2 wake-up latency
    assert a1.stats["cycles_stop"] >= p.db_core + p.ns_to_cycles(base[2])


SPIN = """
_start:
    cmpdi r3, 0
    bne waker
    li r4, 0x2000
1:  ld r5, 0(r4)
    cmpdi r5, 0
    beq 1b
    attn
waker:
    cmpdi r3, 1
    bne 2f
    lis r4, {dec_hi}
    ori r4, r4, {dec_lo}
    mtdec r4
    stop                    # stop0_lite with EE = 0: the DEC wakes it, resumes here
    li r4, 0x2000
    li r5, 1
    std r5, 0(r4)
2:  attn
"""


def test_spin_wait_sleeps_until_written(run):
    p = MachineParams()
    ticks = 10**9 * p.timebase_mhz // p.freq_mhz        # ~1e9 cycles of decrementer
    res = run(SPIN.format(dec_hi=ticks >> 16, dec_lo=ticks & 0xFFFF), smt=2,
              max_cycles=2 * 10**9)
    spinner, waker = res.threads[0], res.threads[1]
    assert spinner.halted and waker.halted
    assert spinner.cycles >= 10**9 and spinner.cycles >= waker.cycles - 100
    assert spinner.stats["spin_sleeps"] == 1 and spinner.stats["wakeups"] >= 1
    assert spinner.instructions < 200            # it slept rather than spun
    assert spinner.stats["spin_skipped_insns"] > 10**7
    assert spinner.stats["cycles_spin"] > 9 * 10**8


def test_spin_forever_ends_at_max_cycles(run):
    res = run("_start:\n li r4, 0x2000\n1: ld r5, 0(r4)\n cmpdi r5, 0\n beq 1b\n attn\n",
              smt=1, max_cycles=10**9)
    t = res.threads[0]
    assert not t.halted and t.cycles == 10**9
    assert t.stats["spin_sleeps"] == 1 and t.instructions < 100


XIVE = """
    .org 0xea0
    li r21, 6
    sldi r21, r21, 48       # ESB_BASE
    lis r22, 6
    ori r22, r22, 0x0302
    sldi r22, r22, 32       # TIMA_BASE = 0x0006_0302_0000_0000
    ori r22, r22, 0x830
    lhbrx r20, 0, r22       # acknowledge: (NSR << 8) | CPPR
    li r23, 1               # our own IPI source: pir 1 * 0x20000
    sldi r23, r23, 17
    or r23, r23, r21
    ori r23, r23, 0xc00
    ldbrx r24, 0, r23       # EOI: SET_PQ_00 returns the old PQ
    mftb r25
    attn
    .org 0x1000
_start:
    cmpdi r3, 1
    beq target
    li r4, 6
    sldi r4, r4, 48
    lis r5, 3               # pir 1 block + trigger page = 0x30000
    or r4, r4, r5
    mftb r26
    li r5, 0
    std r5, 0(r4)           # 8-byte trigger store [L-xive]
    attn
target:
    li r6, 0x100
    ori r6, r6, 0x8000
    mtmsrd r6, 1            # EE on
1:  b 1b
"""


def test_xive_ipi(run):
    res = run(XIVE, smt=2)
    sender, target = res.threads[0], res.threads[1]
    assert target.halted and target.stats["int_ea0"] == 1
    prio = MachineParams().xive_ipi_prio
    assert target.gpr[20] == (0x80 << 8) | prio    # NSR HE=PHYS, CPPR = the priority
    assert target.gpr[24] == 2                     # PQ was 10 (pending)
    assert sender.stats["xive_sent"] == 1 and target.stats["xive_recv"] == 1
    p = MachineParams()
    lat_tb = (p.xive_chip * p.timebase_mhz) // p.freq_mhz
    assert target.gpr[25] - sender.gpr[26] >= lat_tb


def test_two_runs_identical_json(run):
    def doc():
        d = json.loads(run(ATOMIC.format(n=500), smt=4, cores_per_chip=2).to_json())
        d.pop("host_seconds")
        return json.dumps(d)
    assert doc() == doc()


INDEP = """
_start:
    sldi r4, r3, 12
    addis r4, r4, 0x10      # own 4 KiB region at 1 MiB + PIR * 4 KiB
    li r6, 150
    mtctr r6
    li r7, 0
1:  andi. r8, r7, 15
    sldi r8, r8, 7          # 16 lines per thread
    ldx r9, r4, r8
    add r9, r9, r7
    mulld r10, r9, r9
    stdx r10, r4, r8
    addi r7, r7, 1
    bdnz 1b
    attn
"""


def test_exact_and_fast_agree_128_threads(run):
    fast = run(INDEP, chips=2, cores_per_chip=16, smt=4)
    exact = run(INDEP, chips=2, cores_per_chip=16, smt=4, exact=True)
    assert len(fast.threads) == 128
    assert [t.cycles for t in fast.threads] == [t.cycles for t in exact.threads]
    assert [t.gpr for t in fast.threads] == [t.gpr for t in exact.threads]
    assert fast.cycles == exact.cycles and fast.instructions == exact.instructions
    # SMT sharing: a core started with 4 threads is slower per thread than alone
    alone = run(INDEP, chips=1, cores_per_chip=1, smt=4, threads=1)
    assert alone.threads[0].cycles < fast.threads[0].cycles


MSGSNDP = """
    .org 0xa00
    mfspr r20, 26
    mfspr r21, 27
    attn
    .org 0x1000
_start:
    cmpdi r3, 2
    beq target
    cmpdi r3, 0
    bne 2f
    li r9, 2                # TIR 2 of this core
    oris r9, r9, 0x2800
    msgsndp r9
2:  attn
target:
    li r6, 0x100
    ori r6, r6, 0x8000
    mtmsrd r6, 1
1:  b 1b
"""


def test_msgsndp_same_core_privileged_doorbell(run):
    res = run(MSGSNDP, smt=4)
    t = res.threads[2]
    assert t.halted and t.stats["int_a00"] == 1 and t.stats["doorbells_recv"] == 1
    assert res.threads[0].stats["doorbells_sent"] == 1
    assert t.gpr[21] & 0x8000                       # SRR1 has the interrupted EE = 1


XIVE3 = """
    .org 0xea0
    attn
    .org 0x1000
_start:
    cmpdi r3, 0
    bne target
    li r4, 6
    sldi r4, r4, 48
    li r5, 0
    lis r6, 3               # pir 1 trigger page
    stdx r5, r4, r6
    lis r6, 5               # pir 2
    stdx r5, r4, r6
    lis r6, 7               # pir 3
    stdx r5, r4, r6
    attn
target:
    li r6, 0x100
    ori r6, r6, 0x8000
    mtmsrd r6, 1
1:  b 1b
"""


def test_xive_per_chip_throughput(run):
    interval = 7000
    res = run(XIVE3, smt=4, params=params(xive_interval=interval))
    t1, t3 = res.threads[1], res.threads[3]
    assert all(t.stats["int_ea0"] == 1 for t in res.threads[1:])
    assert t3.cycles - t1.cycles == 2 * interval


SYNC = """
_start:
    li r5, 0x4000
    std r5, 0(r5)
    {barrier}
    attn
"""


def test_sync_waits_for_store_to_be_performed(run):
    """hwsync after a store that misses to DRAM waits for the DRAM latency;
    lwsync does not."""
    from powersim import isa
    import numpy as np
    lat = {}
    for b, word in (("sync", 0x7c0004ac), ("lwsync", 0x7c2004ac)):
        lat[b] = int(isa.table().predecode(np.array([word], np.uint32))[0, 7])
    p = params(lat_dram_ns=2000)
    own = p.ns_to_cycles(2000) - p.lat_l1
    hw = run(SYNC.format(barrier="sync"), params=p).threads[0].cycles
    lw = run(SYNC.format(barrier="lwsync"), params=p).threads[0].cycles
    assert own > lat["sync"] + p.cost_hwsync
    assert hw - lw == own - lat["lwsync"] - p.cost_lwsync


WAIT = """
_start:
    cmpdi r3, 0
    bne waiter
    li r4, 2000
    mtctr r4
1:  bdnz 1b
    li r9, 1
    oris r9, r9, 0x2800
    msgsnd r9
    attn
waiter:
    wait
    li r7, 1
    attn
"""


def test_wait_resumes_on_doorbell(run):
    def waiter(db_core):
        res = run(WAIT, smt=2, params=params(**FLAT_SMT, db_core=db_core))
        w = res.threads[1]
        assert w.halted and w.gpr[7] == 1 and w.stats["stop_entries"] == 1
        return w.cycles
    base = MachineParams().db_core
    assert waiter(base + 500) - waiter(base) == 500


LOCK = """
_start:
    li r4, 0x2000           # the lock
    li r8, 0x3000           # the counter it protects
    li r6, 200
    mtctr r6
    li r10, 1
top:
1:  ld r5, 0(r4)            # spin with plain loads while held
    cmpdi r5, 0
    bne 1b
    ldarx r5, 0, r4
    cmpdi r5, 0
    bne 1b
    stdcx. r10, 0, r4
    bne 1b
    isync
    ld r9, 0(r8)
    addi r9, r9, 1
    std r9, 0(r8)
    lwsync
    li r5, 0
    std r5, 0(r4)           # release
    bdnz top
    attn
"""


@pytest.mark.parametrize("topo", [dict(smt=4, cores_per_chip=2),
                                  dict(smt=2, chips=2, cores_per_chip=2)])
def test_spinlock_fast_matches_exact(run, topo):
    """Shared-memory communication keeps global time order in fast mode, and
    spinning waiters are woken by the release (no lost wake-up)."""
    fast = run(LOCK, dumps=((0x3000, 8),), **topo)
    exact = run(LOCK, dumps=((0x3000, 8),), exact=True, **topo)
    n = len(fast.threads) * 200
    for res in (fast, exact):
        assert int.from_bytes(res.dumps[0x3000], "little") == n
        assert all(t.halted for t in res.threads)
    assert sum(t.stats["spin_sleeps"] for t in exact.threads) > 0
    assert [t.cycles for t in fast.threads] == [t.cycles for t in exact.threads]


HDB_IRQ = """
    .org 0xe80
    li r20, 1
    std r20, 0x2000(0)      # tell the interrupted loop
    mfspr r21, 314          # HSRR0
    hrfid
    .org 0x1000
_start:
    cmpdi r3, 0
    bne target
    li r4, 500
    mtctr r4
1:  bdnz 1b
    li r9, 1
    oris r9, r9, 0x2800
    msgsnd r9
    attn
target:
    mfmsr r6
    ori r6, r6, 0x8000
    mtmsrd r6, 1            # EE on: the doorbell is taken as an interrupt
    li r4, 0x2000
1:  ld r5, 0(r4)
    cmpdi r5, 0
    beq 1b
    mfmsr r7
    attn
"""


def test_hypervisor_doorbell_interrupt_and_hrfid(run):
    t = run(HDB_IRQ, smt=2).threads[1]
    assert t.halted and t.stats["int_e80"] == 1 and t.stats["spin_sleeps"] == 1
    assert 0x1030 <= t.gpr[21] <= 0x103c            # interrupted inside the spin loop
    assert t.gpr[7] & 0x8000 and t.gpr[7] & (1 << 60)   # hrfid restored EE, still HV
