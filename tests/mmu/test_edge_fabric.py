"""The tlbie fabric: tlbsync waits for the slowest core's acknowledgement,
the per-chip tlbie engine serialises concurrent tlbies, and the POWER9
errata work-arounds cost their extra tlbies ([L-tlb], [L-ftrs]; parameters in
MachineParams: tlbie_occupancy, tlbie_chip, tlbie_xchip, tlbie_apply, cost_tlbie,
cost_tlbsync, erratum_*).

Expected cycle counts are derived from those parameters; the fabric model
they describe (powersim/machine/core.py ``tlbi``): a tlbie issued at cycle T
starts when its chip's engine is free (S = max(T, free)), occupies it for
tlbie_occupancy, reaches each core after tlbie_chip (same chip) or
tlbie_xchip (other chip), and that core acknowledges tlbie_apply later;
tlbsync completes at max(its own cost, the latest acknowledgement)."""

import attrs
import pytest

from powersim import radix as rx
from powersim.machine.layout import TS_CLK
from powersim.machine.params import MachineParams

EA = 0xB_0000_0000
RA = 0x40_0000
BASE = MachineParams()


def clock(w, t):
    return int(w.m.machine.ts[t, TS_CLK])


def tlbie_then_tlbsync(w, t=0):
    """Cycles from issuing one global tlbie (idle machine) to tlbsync completing."""
    w.pt.map(1, EA, RA, "64K", rx.READ)
    w.translate(t, EA)
    before = clock(w, t)
    w.m.tlbie(t, w.rb_va(EA, 16), w.rs_pid(1))
    w.m.tlbsync(t)
    return clock(w, t) - before


def test_tlbsync_waits_for_the_acknowledgement_of_a_core_on_another_chip(world):
    same_chip = tlbie_then_tlbsync(world(chips=1, cores_per_chip=2))
    other_chip = tlbie_then_tlbsync(world(chips=2, cores_per_chip=1))
    assert same_chip == BASE.tlbie_chip + BASE.tlbie_apply
    assert other_chip == BASE.tlbie_xchip + BASE.tlbie_apply


@pytest.mark.parametrize("xchip", [2000, 5000])
def test_a_slower_remote_core_delays_tlbsync_by_exactly_its_delay(world, xchip):
    p = attrs.evolve(BASE, tlbie_xchip=xchip)
    assert tlbie_then_tlbsync(world(chips=2, cores_per_chip=1, params=p)) == \
        xchip + BASE.tlbie_apply


def test_tlbsync_with_nothing_outstanding_costs_only_itself(w):
    before = clock(w, 0)
    w.m.tlbsync(0)
    assert clock(w, 0) - before == BASE.cost_tlbsync


def test_tlbiel_costs_no_fabric_round_trip(w):
    w.pt.map(1, EA, RA, "64K", rx.READ)
    w.translate(0, EA)
    before = clock(w, 0)
    w.m.tlbie(0, w.rb_va(EA, 16), w.rs_pid(1), local=True)
    assert clock(w, 0) - before == BASE.cost_tlbiel
    w.m.tlbsync(0)                                # nothing global outstanding
    assert clock(w, 0) - before == BASE.cost_tlbiel + BASE.cost_tlbsync


def test_concurrent_tlbies_queue_in_the_chip_engine(w):
    """Two threads of one chip issue a tlbie at the same cycle: the second
    starts when the engine is free again, tlbie_occupancy later."""
    w.pt.map(1, EA, RA, "64K", rx.READ)
    start = max(clock(w, 0), clock(w, 4))
    for t in (0, 4):
        w.m.machine.ts[t, TS_CLK] = start
        w.m.tlbie(t, w.rb_va(EA, 16), w.rs_pid(1))
    w.m.tlbsync(0)
    w.m.tlbsync(4)
    first = BASE.tlbie_chip + BASE.tlbie_apply
    assert clock(w, 0) - start == first
    assert clock(w, 4) - start == BASE.tlbie_occupancy + first


def _global_flush(w, t, params):
    """Linux's _tlbie_va ([L-tlb]) with the fixups params asks for,
    in fixup_tlbie_va's order; returns its cycles on thread t."""
    before = clock(w, t)
    w.m.ptesync(t)
    w.m.tlbie(t, w.rb_va(EA, 16), w.rs_pid(1))
    for fix in params.tlbie_fixups():
        w.m.ptesync(t)
        w.m.tlbie(t, w.rb_va(EA, 16), w.rs_pid(0 if fix == "erat" else 1))
    w.m.tlbsync(t)
    w.m.ptesync(t)
    return clock(w, t) - before


def test_errata_sequences_cost_their_extra_tlbies(world):
    """Each extra tlbie needs the chip's engine again: at least
    tlbie_occupancy more per fixup, and the tlbie counter shows them."""
    from powersim.machine.layout import ST_TLBIE
    fixed = attrs.evolve(BASE, erratum_tlbie_erat=False, erratum_tlbie_stq=False)
    costs, counts = {}, {}
    for name, p in (("errata", BASE), ("fixed", fixed)):
        w = world(params=p)
        w.pt.map(1, EA, RA, "64K", rx.READ)
        w.translate(0, EA)
        costs[name] = _global_flush(w, 0, p)
        counts[name] = int(w.m.machine.stats[0, ST_TLBIE])
        assert w.translate(0, EA).tlb_hit is False
    assert BASE.tlbie_fixups() == ("erat", "stq")      # every POWER9 / DD2.2 ([L-ftrs])
    assert counts == {"errata": 3, "fixed": 1}
    assert costs["errata"] - costs["fixed"] >= 2 * BASE.tlbie_occupancy


def test_errata_flags_select_fixups_in_linux_order():
    assert attrs.evolve(BASE, erratum_tlbie_stq=False).tlbie_fixups() == ("erat",)
    assert attrs.evolve(BASE, erratum_tlbie_erat=False).tlbie_fixups() == ("stq",)
    assert attrs.evolve(BASE, erratum_tlbie_erat=False,
                        erratum_tlbie_stq=False).tlbie_fixups() == ()
