"""An MMU edge-case test to copy: a changed PTE stays visible through a stale
TLB entry until it is invalidated.  Run:  python -m pytest -q examples/"""

from powersim import radix
from powersim.mmu import MMUTest


def test_stale_tlb_entry_until_tlbie():
    m = MMUTest(cores_per_chip=2)
    pte = m.pt.map(1, 0x10000000, 0x400000, "64K", radix.READ | radix.RW)
    m.set_thread(0, pid=1)

    first = m.translate(0, 0x10000008, "load")       # cold: walks the tree
    assert first.ra == 0x400008 and not first.tlb_hit and first.table_accesses > 0

    radix.put_be64(m.machine.mem, pte, 0)            # unmap in memory only
    stale = m.translate(0, 0x10000008, "load")       # the TLB still has it
    assert stale.tlb_hit and stale.ra == 0x400008
    assert m.invariant_violations()                  # ...and the checker says so

    # tlbie RB = EA | AP(64K) << 5, RS = PID << 32, RIC=0 PRS=1 R=1; then tlbsync; ptesync
    m.tlbie(0, 0x10000000 | radix.AP[16] << 5, 1 << 32)
    m.tlbsync(0)
    m.ptesync(0)
    gone = m.translate(0, 0x10000008, "load")
    assert gone.fault == radix.Fault(radix.VEC_DSI, radix.DSISR_NOPTE, 0x10000008)
    assert m.invariant_violations() == []
