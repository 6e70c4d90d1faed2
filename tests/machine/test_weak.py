"""The cache model's side of the weak memory model: a store to a line other
cores have read since its last store pays for invalidating their copies
(memory.upgrade_cost), by how far the farthest of them is.  The litmus tests
(tests/test_litmus.py) cover the orderings themselves."""

import pytest

from powersim.machine.params import MachineParams

UPGRADE = """
_start:
    li r4, 0x3000
    cmpdi r3, 0
    beq writer
    cmpdi r3, {reader}
    beq reader
    attn
writer:
    li r5, 1
    std r5, 0(r4)           # the writer owns the line
    sync
    li r6, 3000
    mtspr 1007, r6          # SIMSTALL: wait until the reader has read it
    mfspr r10, 1006         # SIMCYC
    std r5, 0(r4)
    sync                    # waits until the store owns the line
    mfspr r11, 1006
    attn
reader:
    li r6, 1000
    mtspr 1007, r6
    {load}
    attn
"""

# (topology, the reader's PIR, the upgrade's cost in cycles from the parameters)
WHERE = {
    "same-pair": ({"cores_per_chip": 2}, 4, lambda p: 0),
    "other-pair": ({"cores_per_chip": 4}, 8, lambda p: p.lat_remote - p.lat_l1),
    "other-chip": ({"chips": 2, "cores_per_chip": 1}, 0x100, lambda p: p.lat_xchip - p.lat_l1),
}


def _store_sync(run, where, load, model):
    topo, reader, _ = WHERE[where]
    res = run(UPGRADE.format(reader=reader, load="ld r7, 0(r4)" if load else "nop"), smt=1,
              exact=True, params=MachineParams(memory_model=model), **topo)
    assert all(t.halted for t in res.threads)
    g = res.threads[0].gpr
    return g[11] - g[10]


@pytest.mark.parametrize("where", list(WHERE))
def test_a_store_after_another_core_read_the_line_pays_the_upgrade(run, where):
    """Sequentially consistent: sync waits for the ownership, the store's clock
    plus the upgrade, instead of its own cost alone."""
    extra = WHERE[where][2](MachineParams())
    read = _store_sync(run, where, True, "sc")
    alone = _store_sync(run, where, False, "sc")
    if extra:
        assert extra < read <= extra + alone
    else:
        assert read == alone


def test_the_upgrade_delays_a_buffered_store_too(run):
    """Under "power" the store is performed (and seen by all, which sync waits
    for) no earlier than the line is owned."""
    p = MachineParams()
    read = _store_sync(run, "other-chip", True, "power")
    alone = _store_sync(run, "other-chip", False, "power")
    assert read - alone >= p.lat_xchip - p.lat_l1
