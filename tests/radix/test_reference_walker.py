"""The pure-Python reference walker on hand-built trees ([ISA-radix])."""

import numpy as np
import pytest

from powersim import radix as rx
from powersim.errors import PowersimError

MEM = 16 << 20


@pytest.fixture
def pt():
    return rx.PageTables(np.zeros(MEM, dtype=np.uint8), alloc_base=0x100000)


def xlate(pt, ea, access=rx.LOAD, **kw):
    kw.setdefault("pidr", 1)
    return rx.reference_translate(pt.mem, ea, access, ptcr=pt.ptcr, **kw)


@pytest.mark.parametrize("base,size", [("64K", "64K"), ("64K", "2M"), ("64K", "1G"),
                                       ("4K", "4K"), ("4K", "2M"), ("4K", "1G")])
def test_every_leaf_size_translates(base, size):
    pt = rx.PageTables(np.zeros(MEM, dtype=np.uint8), alloc_base=0x100000, base_page=base)
    shift = rx.PAGE_SHIFTS[size]
    ea, ra = 3 << 30, 0  # RA 0 is fine: only the translation is checked
    pt.map(1, ea, ra, size, rx.READ | rx.RW)
    t = xlate(pt, ea + (1 << shift) - 8)
    assert t.ra == ra + (1 << shift) - 8 and t.page_shift == shift
    # PATE, the PRTE lookup through the linear map (2 levels to a 1G leaf) and
    # the PRTE itself, then one access per level down to the leaf.
    levels = {30: 2, 21: 3}.get(shift, 4)
    assert len(t.accesses) == 1 + 2 + 1 + levels


def test_zero_process_table_entry_is_badly_formed(pt):
    # [Q-rad]: Linux leaves PRTEs of unused PIDs zero; QEMU reports a bad tree.
    assert xlate(pt, 0x10000000).cause == rx.DSISR_BADTREE


def test_invalid_entry_store_sets_isstore(pt):
    pt.root(1)
    f = xlate(pt, 0x10000000, rx.STORE)
    assert f == rx.Fault(rx.VEC_DSI, rx.DSISR_NOPTE | rx.DSISR_ISSTORE, 0x10000000)


def test_fetch_fault_reports_in_srr1_without_dar(pt):
    pt.map(1, 0x10000, 0x20000, "64K", rx.READ)
    f = xlate(pt, 0x10000, rx.FETCH)
    assert f == rx.Fault(rx.VEC_ISI, rx.SRR1_ISI_N_G, None)


def test_rc_fault_when_r_or_c_clear(pt):
    pt.map(1, 0x10000, 0x20000, "64K", rx.READ | rx.RW, rc=False)
    assert xlate(pt, 0x10000).cause == rx.DSISR_SET_RC
    assert xlate(pt, 0x10000, rx.STORE).cause == rx.DSISR_SET_RC | rx.DSISR_ISSTORE


def test_privileged_page_from_problem_state_and_store_to_readonly(pt):
    pt.map(1, 0x10000, 0x20000, "64K", rx.READ | rx.PRIV)
    assert xlate(pt, 0x10000, msr_pr=True).cause == rx.DSISR_PROTFAULT
    assert isinstance(xlate(pt, 0x10000), rx.Translation)
    assert xlate(pt, 0x10000, rx.STORE).cause == rx.DSISR_PROTFAULT | rx.DSISR_ISSTORE


def test_segment_fault_for_ea_beyond_52_bits_and_quadrant3_uses_pid0(pt):
    assert xlate(pt, 1 << 52).vector == rx.VEC_DSEG
    assert xlate(pt, 1 << 52, rx.FETCH) == rx.Fault(rx.VEC_ISEG, 0, None)
    t = xlate(pt, 0xC000_0000_0012_3458)  # the PID-0 linear map, whatever PIDR says
    assert t.ra == 0x12_3458 and t.page_shift == 30


def test_pid_beyond_process_table(pt):
    assert xlate(pt, 0x1000, pidr=4096).cause == rx.DSISR_NOPTE


def test_bad_geometry_is_badly_formed_tree(pt):
    pt.map(1, 0x10000, 0x20000, "64K", rx.READ)
    root = pt.roots[1]
    # Rewrite the PGD entry's NLS from 9 to 8: not a POWER9 geometry.
    entry = rx.be64(pt.mem, root)
    rx.put_be64(pt.mem, root, entry & ~rx.NLS_MASK | 8)
    assert xlate(pt, 0x10000).cause == rx.DSISR_BADTREE


def test_builder_rejects_overlap_and_misalignment(pt):
    pt.map(1, 0x200000, 0x200000, "2M", rx.READ)
    with pytest.raises(PowersimError, match="already inside"):
        pt.map(1, 0x210000, 0, "64K", rx.READ)
    with pytest.raises(PowersimError, match="not aligned"):
        pt.map(1, 0x10001000, 0, "64K", rx.READ)
