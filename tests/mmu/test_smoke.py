"""Smoke tests of the radix MMU hardware model and its test API (the edge
cases live in test_edge_*.py).  Facts: [ISA-radix], [ISA-tlbie]."""

import attrs
import pytest

from powersim import radix as rx
from powersim.errors import PowersimError
from powersim.machine import layout
from powersim.machine.params import MachineParams, ParamError
from powersim.mmu import MMUTest

MEM = 16 << 20
USER = 0x1000_0000
FRAME = 0x40_0000


def mmu(**kw):
    m = MMUTest(memory=MEM, **kw)
    for t in range(m.machine.nthreads):
        m.set_thread(t, pid=1)
    return m


def test_walk_then_tlb_hit_agrees_with_reference():
    m = mmu()
    m.pt.map(1, USER, FRAME, "64K", rx.READ | rx.RW)
    cold = m.translate(0, USER + 0x1238, "load")
    ref = rx.reference_translate(m.machine.mem, USER + 0x1238, rx.LOAD, ptcr=m.pt.ptcr,
                                 pidr=1)
    assert (cold.ra, cold.page_shift) == (ref.ra, ref.page_shift) == (FRAME + 0x1238, 16)
    assert not cold.tlb_hit and cold.table_accesses == len(ref.accesses)
    warm = m.translate(1, USER + 0x10, "store")      # an SMT sibling: same TLB
    assert warm.tlb_hit and warm.table_accesses == 0 and warm.cycles < cold.cycles
    other = m.translate(4, USER + 0x10, "load")      # another core: its own TLB
    assert not other.tlb_hit and other.pwc_hits == 0
    assert m.invariant_violations() == []


def test_stale_tlb_entry_until_tlbie_then_invariant_holds():
    m = mmu()
    m.pt.map(1, USER, FRAME, "64K", rx.READ | rx.RW)
    m.translate(0, USER, "load")
    m.pt.map(1, USER, FRAME + 0x10000, "64K", rx.READ | rx.RW)   # no invalidation yet
    assert m.translate(0, USER, "load").ra == FRAME                # stale, as on hardware
    assert len(m.invariant_violations()) == 1
    m.ptesync(0)
    m.tlbie(0, USER | rx.AP[16] << 5, 1 << 32)
    waited = m.tlbsync(0)
    m.ptesync(0)
    assert waited > 0 and m.invariant_violations() == []
    assert m.translate(0, USER, "load").ra == FRAME + 0x10000


def test_tlbsync_waits_longer_for_another_chip():
    waits = []
    for chips in (1, 2):
        m = mmu(chips=chips, cores_per_chip=1)
        m.tlbie(0, 0xC00, 0)                 # IS = 3: everything
        waits.append(m.tlbsync(0))
    p = MachineParams()
    assert waits[1] - waits[0] == p.tlbie_xchip - p.tlbie_chip


def test_tlbie_engine_queues_concurrent_tlbies():
    m = mmu(cores_per_chip=1)
    m.tlbie(0, 0xC00, 0)
    m.tlbie(1, 0xC00, 0)                     # same chip, same time: waits for the engine
    assert m.tlbsync(1) - m.tlbsync(0) == MachineParams().tlbie_occupancy


def test_tlbiel_set_touches_only_its_congruence_class():
    m = mmu()
    a, b = USER, USER + 0x10000              # consecutive 64K pages: adjacent sets
    for ea in (a, b):
        m.pt.map(1, ea, FRAME, "64K", rx.READ)
        m.translate(0, ea, "load")
    m.tlbie(0, MMUTest.tlb_set(a, 16) << 12 | 0x400, 1 << 32, local=True)   # IS = 1, SET
    left = {e["ea"] for e in m.tlb_entries(0)}
    assert b in left and a not in left


def test_hardware_rc_update_parameter():
    m = mmu(params=attrs.evolve(MachineParams(), rc_hw_update=True))
    pte_addr = m.pt.map(1, USER, FRAME, "64K", rx.READ | rx.RW, rc=False)
    assert m.translate(0, USER, "store").fault is None
    assert rx.be64(m.machine.mem, pte_addr) & (rx.R | rx.C) == rx.R | rx.C
    m2 = mmu()
    m2.pt.map(1, USER, FRAME, "64K", rx.READ | rx.RW, rc=False)
    assert m2.translate(0, USER, "store").fault == rx.Fault(0x300, rx.DSISR_SET_RC |
                                                            rx.DSISR_ISSTORE, USER)


def test_exec_program_maps_a_page_and_takes_its_own_dsi():
    m = mmu()
    m.pt.map(1, USER, FRAME, "64K", rx.READ | rx.RW)
    m.machine.mem[FRAME + 8:FRAME + 16] = list((0x1122334455667788).to_bytes(8, "little"))
    res = m.run_asm(f"""
    .org 0x300
        mfspr r20, 18       # DSISR
        mfspr r21, 19       # DAR
        attn
    _start:
        li r5, 1
        mtspr 48, r5        # PIDR
        lis r5, user@h
        ori r5, r5, user@l
        mtspr 26, r5
        mfmsr r5
        ori r5, r5, 0x10    # MSR[DR]
        mtspr 27, r5
        rfid
    user:
        lis r4, {USER >> 16:#x}
        ld r6, 8(r4)
        addis r4, r4, 1
        ld r7, 0(r4)        # the next 64K page is unmapped
        attn
    """)
    t = res.threads[0]
    assert t.halted and t.gpr[6] == 0x1122334455667788
    assert t.gpr[20] == rx.DSISR_NOPTE and t.gpr[21] == USER + 0x10000
    assert t.stats["int_300"] == 1


def test_optional_erat_charges_a_miss_that_hits_the_tlb():
    m = mmu(params=attrs.evolve(MachineParams(), erat_entries=2))
    pages = [USER + (k << 16) for k in range(3)]
    for ea in pages:
        m.pt.map(1, ea, FRAME, "64K", rx.READ)
        assert not m.translate(0, ea, "load").tlb_hit      # walks fill TLB and ERAT
    again = m.translate(0, pages[2], "load")     # still in the 2-entry ERAT
    evicted = m.translate(0, pages[0], "load")   # pushed out by pages 1 and 2
    assert again.tlb_hit and evicted.tlb_hit
    assert (again.cycles, evicted.cycles) == (0, MachineParams().erat_miss)
    assert m.machine.stats[0, layout.ST_ERAT_MISSES] == 1


def test_bad_input_is_a_clear_error():
    m = mmu()
    with pytest.raises(PowersimError, match="access 'read'"):
        m.translate(0, USER, "read")
    with pytest.raises(PowersimError, match="thread 99"):
        m.translate(99, USER, "load")
    with pytest.raises(ParamError, match="rc_hw_update"):
        MachineParams(rc_hw_update=1).validate()
    with pytest.raises(ParamError, match="power of two"):
        MachineParams(pwc_entries=96, pwc_ways=4).validate()
