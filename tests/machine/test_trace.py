"""The trace port, the SIMCYC cycle counter SPR and MMUTest.attach (the race
support; docs/CONTRACTS.md "powersim.machine" and "powersim.mmu")."""

import numpy as np
import pytest

from powersim import isa, radix
from powersim.errors import PowersimError
from powersim.machine.layout import (NSTAT, SPR_AMR, SPR_PTCR, SPR_SIMCYC, ST_INT_200,
                                   ST_STORES, ST_TRACE_DROPPED, ST_TRACE_RECORDS, TRACE_BASE,
                                   TS_CLK, TS_INSN, TS_PIR)
from powersim.machine.exec import build
from powersim.machine.state import Machine
from powersim.mmu import MMUTest
from powersim.ops import P_LAT

from conftest import HANDLERS, params


def li64(reg, v):
    """Load a 64-bit constant (no Builder: the programs here are plain text)."""
    return (f"lis {reg},{v >> 48 & 0xFFFF}\n ori {reg},{reg},{v >> 32 & 0xFFFF}\n"
            f" sldi {reg},{reg},32\n oris {reg},{reg},{v >> 16 & 0xFFFF}\n"
            f" ori {reg},{reg},{v & 0xFFFF}\n")


def machine(src, exact=False, **kw):
    kw.setdefault("smt", 1)
    m, _ = build(src, **kw)
    m.run(10**7, exact)
    return m


def lat(insn):
    """The P_LAT of one instruction at SMT1 (what it costs the thread's clock)."""
    name, _, ops = insn.partition(" ")
    word = isa.table().encode(isa.table().lookup(name),
                              [int(x) for x in ops.split(",") if x])
    return int(isa.table().predecode(np.array([word], np.uint32))[0, P_LAT])


# ------------------------------------------------------------------ trace port
def test_a_record_holds_cycle_thread_kind_rs_and_r0():
    m = machine(f"""_start:
        {li64("r31", TRACE_BASE)}
        li r5, 42
        li r0, -7
        mfspr r6, {SPR_SIMCYC}
        std r5, 24(r31)          # kind 3
        addi r5, r5, 1
        li r7, 200
        stdx r5, r31, r7         # kind 25
        mfspr r8, {SPR_SIMCYC}
        attn
    """)
    tr = m.trace()
    g = m.gpr[0]
    assert tr["kind"].tolist() == [3, 25]
    assert tr["a"].tolist() == [42, 43]
    assert tr["b"].tolist() == [(1 << 64) - 7] * 2
    assert tr["thread"].tolist() == [0, 0]
    # a trace store happens at the clock the previous instruction left
    assert tr["cycle"][0] == g[6]
    # the two independent adds between them issue in the mfspr's cycle
    assert tr["cycle"][1] == g[6]
    assert g[8] == tr["cycle"][1] + lat(f"mfspr 8,{SPR_SIMCYC}")
    st = m.stats[0]
    assert (st[ST_TRACE_RECORDS], st[ST_STORES]) == (2, 0)


LOOP = """_start:
    {base}
    cmpdi r3, 0
    beq 1f
    lis r10, 0x20            # thread 1 works on its own data page
1:  lis r9, 0x10
    add r9, r9, r10
    li r4, 50
    mtctr r4
2:  ld r5, 0(r9)
    addi r5, r5, 3
    std r5, 0(r9)
    {trace}
    addi r9, r9, 128         # a new line each time: cache misses
    bdnz 2b
    sync
    attn
"""


@pytest.mark.parametrize("exact", [False, True])
def test_trace_stores_cost_nothing(exact):
    base = li64("r31", TRACE_BASE)
    plain = machine(LOOP.format(base=base, trace=""), exact, smt=2)
    traced = machine(LOOP.format(base=base, trace="std r5, 8(r31)\n stdu r9, 16(r31)"),
                     exact, smt=2)
    np.testing.assert_array_equal(traced.ts[:, TS_CLK], plain.ts[:, TS_CLK])
    np.testing.assert_array_equal(traced.ts[:, TS_INSN], plain.ts[:, TS_INSN])
    others = [i for i in range(NSTAT) if i not in (ST_TRACE_RECORDS, ST_TRACE_DROPPED)]
    np.testing.assert_array_equal(traced.stats[:, others], plain.stats[:, others])
    np.testing.assert_array_equal(traced.mem[1 << 20:], plain.mem[1 << 20:])   # the data
    tr = traced.trace()
    # stdu moves r31 on by 16 each iteration: iteration i writes kinds 2i+1, 2i+2,
    # and within a thread the records stay in program order
    for t in range(2):
        mine = tr[tr["thread"] == t]
        assert mine["kind"].tolist() == list(range(1, 101))
        assert set(mine[mine["kind"] % 2 == 1]["a"].tolist()) == {3}
    # globally in (cycle, thread) order, whatever order the host ran the threads in
    assert np.all(np.diff(tr["cycle"] * 2 + tr["thread"]) >= 0)
    assert tr["seq"].tolist() == list(range(200))


# A lock-protected counter: inside each critical section a thread records the
# counter value it read.  Critical sections are serialised in time, so in
# (cycle, seq) order the values must be 0, 1, 2, ... exactly.
LOCKED = f"""_start:
    {li64("r31", TRACE_BASE)}
    lis r9, 0x10             # lock
    addi r10, r9, 0x400      # counter, another line
    li r4, 20
    mtctr r4
1:  li r6, 1
2:  lwarx r5, 0, r9
    cmpwi r5, 0
    bne- 2b
    stwcx. r6, 0, r9
    bne- 2b
    isync
    ld r7, 0(r10)
    mr r0, r3
    std r7, 8(r31)           # kind 1: (counter seen, PIR in b)
    addi r7, r7, 1
    std r7, 0(r10)
    lwsync
    li r6, 0
    stw r6, 0(r9)
    li r8, 40
3:  addic. r8, r8, -1        # private work between critical sections
    bne 3b
    bdnz 1b
    attn
"""


@pytest.mark.parametrize("exact", [False, True])
def test_records_follow_memory_order_across_threads(exact):
    m = machine(LOCKED, exact, smt=2, cores_per_chip=2)
    tr = m.trace()
    assert tr["a"].tolist() == list(range(80))
    assert sorted(set(tr["thread"].tolist())) == [0, 1, 2, 3]
    # b carries r0 (the PIR) of the writer, i.e. the recording thread
    pir = m.ts[tr["thread"], TS_PIR]
    np.testing.assert_array_equal(tr["b"].astype(np.int64), pir)


def test_fast_and_exact_mode_give_the_same_trace():
    fast, exact = (machine(LOCKED, e, smt=2, cores_per_chip=2).trace() for e in (False, True))
    np.testing.assert_array_equal(fast, exact)


def test_a_full_log_counts_dropped_records_and_keeps_the_first():
    src = f"""_start:
        {li64("r31", TRACE_BASE)}
        li r4, 5
        mtctr r4
        li r5, 0
    1:  addi r5, r5, 1
        std r5, 0(r31)
        bdnz 1b
        attn
    """
    m = machine(src, params=params(trace_capacity=3))
    assert m.trace()["a"].tolist() == [1, 2, 3]
    assert m.trace_dropped == 2
    assert (m.stats[0, ST_TRACE_RECORDS], m.stats[0, ST_TRACE_DROPPED]) == (3, 2)
    assert m.gpr[0, 5] == 5          # the program ran to the end


def test_other_accesses_to_the_window_are_machine_checks():
    m = machine(f"""{open_handlers()}
    _start:
        {li64("r31", TRACE_BASE)}
        stw r5, 0(r31)
        li r20, 0
        attn
    """)
    assert m.stats[0, ST_INT_200] == 1 and len(m.trace()) == 0


def test_the_port_needs_no_mapping_with_data_translation_on():
    m = MMUTest(cores_per_chip=1, smt=1, memory=16 << 20)
    res = m.run_asm(f"""_start:
        {li64("r31", 0xC000_0000_0000_0000 | TRACE_BASE)}
        li r5, 77
        mfmsr r4
        ori r4, r4, 0x10         # MSR[DR]: radix translation, nothing mapped
        mtmsrd r4
        std r5, 16(r31)
        attn
    """)
    st = res.threads[0].stats
    assert res.trace[["kind", "a"]].tolist() == [(2, 77)]
    assert (st["int_300"], st["int_380"], st["tlb_misses"]) == (0, 0, 0)


def open_handlers():
    return HANDLERS.replace(".org 0x700", ".org 0x200\n    attn\n    .org 0x700")


def test_result_and_json_carry_the_trace():
    import json
    from powersim.machine.exec import run_asm
    res = run_asm(f"_start:\n {li64('r31', TRACE_BASE)}\n li r5, 9\n std r5, 40(r31)\n attn",
                  smt=1)
    assert res.trace["kind"].tolist() == [5] and res.threads[0].stats["trace_records"] == 1
    assert json.loads(res.to_json())["trace"][0][3:5] == [5, 9]


def test_trace_capacity_is_validated():
    from powersim.machine.params import ParamError
    with pytest.raises(ParamError, match="trace_capacity"):
        params(trace_capacity=-1).validate()


# ------------------------------------------------------------------ SIMCYC SPR
def test_the_cycle_spr_reads_the_thread_clock():
    mf = f"mfspr 6,{SPR_SIMCYC}"
    m = machine(f"""_start:
        mfspr r6, {SPR_SIMCYC}
        mulld r7, r6, r6
        mfspr r8, {SPR_SIMCYC}
        mtspr {SPR_SIMCYC}, r3       # read-only: ignored
        mfspr r9, {SPR_SIMCYC}
        attn
    """)
    g = m.gpr[0]
    assert 0 < g[6] < g[8] < g[9]
    assert g[6] == lat(mf)
    assert g[8] - g[6] == lat(mf)       # nothing waits for the mulld's result
    assert g[9] - g[8] == lat(f"mtspr {SPR_SIMCYC},3") + lat(mf)
    assert m.ts[0, TS_CLK] == g[9] + lat("attn")


def test_reading_the_cycle_spr_costs_like_another_mfspr():
    prog = "_start:\n li r4, 30\n mtctr r4\n1: mfspr r6, {n}\n bdnz 1b\n attn"
    a, b = (machine(prog.format(n=n)) for n in (SPR_SIMCYC, 256))    # 256: VRSAVE
    assert a.ts[0, TS_CLK] == b.ts[0, TS_CLK]


# ------------------------------------------------------------------ MMUTest.attach
def foreign_machine():
    """A Machine built without MMUTest, with radix tables in its memory."""
    m = Machine(params(cores_per_chip=1, smt=2, memory=16 << 20))
    pt = radix.PageTables(m.mem, alloc_base=8 << 20, base_page="64K")
    pt.map(1, 0x1000_0000, 0x40_0000, "64K", radix.READ | radix.RW)
    m.start(0)          # hypervisor real mode, as the kernel's threads begin
    return m, pt


def test_attach_translates_and_checks_a_foreign_machine():
    m, pt = foreign_machine()
    a = MMUTest.attach(m, pt.ptcr)
    assert m.sprs[1, SPR_PTCR] == 0           # attaching changes nothing
    a.set_thread(1, pid=1)
    assert m.sprs[1, SPR_PTCR] == pt.ptcr
    r = a.translate(1, 0x1000_0128, "load")
    assert (r.ra, r.page_shift, r.tlb_hit) == (0x40_0128, 16, False)
    assert a.translate(1, 0x1000_0128, "load").tlb_hit
    assert a.invariant_violations() == []
    pt.unmap(1, 0x1000_0000, "64K")          # tables change behind the TLB's back
    bad = a.invariant_violations()
    assert len(bad) == 1 and "0x10000000" in bad[0]


def test_set_thread_amr_takes_effect_and_none_keeps_it():
    m, pt = foreign_machine()
    a = MMUTest.attach(m, pt.ptcr, pt)
    a.set_thread(0, pid=1, amr=1 << 62)           # key 0 read disabled (kernel access)
    assert a.translate(0, 0x1000_0000, "load").fault is not None
    a.set_thread(0, pid=1)
    assert m.sprs[0, SPR_AMR] == 1 << 62
    a.set_thread(0, pid=1, amr=0)
    assert a.translate(0, 0x1000_0000, "load").ra == 0x40_0000


@pytest.mark.parametrize("args, what", [
    ((object(), 0x10000), "machine"), (("M", -5), "ptcr"), (("M", 1 << 40), "ptcr"),
    (("M", 0x90_0000, "PT"), "pt.ptcr")])
def test_attach_rejects_bad_arguments(args, what):
    m, pt = foreign_machine()
    args = tuple(m if x == "M" else pt if x == "PT" else x for x in args)
    with pytest.raises(PowersimError, match=what):
        MMUTest.attach(*args)
    with pytest.raises(PowersimError, match="amr"):
        MMUTest.attach(m, pt.ptcr).set_thread(0, amr=-1)
