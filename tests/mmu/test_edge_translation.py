"""Translation edge cases: leaf sizes, quadrants, real mode, segment faults,
PID range, bad trees ([ISA-radix])."""

import pytest

from powersim import radix as rx

EA = 0x1234_0000_0000        # quadrant 0, 1G-aligned, inside 52 bits
RA = 0x40_0000               # 4 MiB: 1G pages below are mapped with RA 0


# --- every leaf size for both base page sizes ([ISA-radix]) ----------
@pytest.mark.parametrize("base,size", [("64K", "64K"), ("64K", "2M"), ("64K", "1G"),
                                       ("4K", "4K"), ("4K", "2M"), ("4K", "1G")])
def test_every_leaf_size_translates_offset_within_page(world, base, size):
    w = world(base_page=base)
    shift = rx.PAGE_SHIFTS[size]
    ra = 0 if shift == 30 else RA           # RA aligned to the page size
    ea = EA + (5 << shift if shift < 30 else 1 << 30)
    w.pt.map(1, ea, ra, size, rx.READ | rx.RW)
    off = (1 << shift) - 8                  # last doubleword: every offset bit set
    r = w.translate(0, ea + off)
    assert (r.ra, r.page_shift, r.fault) == (ra + off, shift, None)
    # the byte past the page is outside the mapping
    assert w.outcome(w.translate(0, ea + (1 << shift))) == w.dsi(rx.DSISR_NOPTE,
                                                                  ea + (1 << shift))


@pytest.mark.parametrize("base", ["64K", "4K"])
def test_cold_walk_reads_pate_prte_and_each_level(world, base):
    """Section 3.8: PATE, the PRTE (its address goes through PID 0's 1G linear
    map: root + 1G leaf), the PRTE itself, then one entry per level."""
    w = world(base_page=base)
    size = base
    w.pt.map(1, EA, RA, size, rx.READ)
    r = w.translate(0, EA)
    assert r.table_accesses == 1 + 2 + 1 + 4
    assert r.tlb_hit is False


# --- quadrants ([ISA-radix]) --------------------------------------------------------
def test_quadrant3_uses_pid0_whatever_pidr_holds(w):
    w.pt.map(1, RA, 2 * RA, "64K", rx.READ)     # PID 1 maps the same low 52 bits elsewhere
    assert w.ra(0, RA + 0x10) == 2 * RA + 0x10
    assert w.ra(0, w.KERNEL | RA + 0x10) == RA + 0x10     # PID 0's linear map
    w.set_thread(0, pid=7)                        # PID 7 has no tree at all
    assert w.ra(0, w.KERNEL | RA + 0x10) == RA + 0x10


def test_quadrant2_in_hypervisor_mode_uses_lpidr_and_pid0(w):
    """EA[0:1] = 10 in HV mode: (LPIDR, 0); LPIDR is 0 here, so PID 0's tree."""
    assert w.ra(0, 0x8000_0000_0000_0000 | RA + 0x28) == RA + 0x28


def test_quadrant1_in_hypervisor_mode_uses_pidr(w):
    w.pt.map(1, RA, 2 * RA, "64K", rx.READ)
    assert w.ra(0, 0x4000_0000_0000_0000 | RA + 0x28) == 2 * RA + 0x28


@pytest.mark.parametrize("quadrant", [0, 1, 2, 3])
@pytest.mark.parametrize("access", ["load", "store", "fetch"])
def test_ea_beyond_52_bits_is_a_segment_interrupt_in_each_quadrant(w, quadrant, access):
    """EA bits between the quadrant and bit 52 must be zero ([ISA-radix]):
    DSeg 0x380 with DAR = EA, or ISeg 0x480."""
    w.pt.map(1, 0, RA, "2M", rx.READ | rx.RW | rx.EXEC)
    for bit in (52, 61):
        ea = quadrant << 62 | 1 << bit | 0x100
        expect = (("fault", rx.VEC_ISEG, 0, None) if access == "fetch"
                  else ("fault", rx.VEC_DSEG, 0, ea))
        assert w.outcome(w.translate(0, ea, access)) == expect


def test_pid_beyond_process_table_is_no_translation(w):
    """16 * PID >= 2^(12 + PRTS) ([ISA-radix]): DSI/ISI 0x40000000."""
    prts = rx.be64(w.mem, w.pt.patb + 8) & 0x1F
    pid = (1 << (12 + prts)) // 16              # the first PID past the table
    w.set_thread(0, pid=pid)
    for access in ("load", "store", "fetch"):
        assert w.outcome(w.translate(0, 0x1000, access)) == w.si(rx.DSISR_NOPTE, 0x1000,
                                                                  access)
    # quadrant 3 still works: it uses PID 0 whatever PIDR holds
    assert w.ra(0, w.KERNEL | 0x1000) == 0x1000


def test_last_pid_inside_process_table_walks_its_tree(w):
    prts = rx.be64(w.mem, w.pt.patb + 8) & 0x1F
    pid = (1 << (12 + prts)) // 16 - 1
    w.pt.map(pid, EA, RA, "64K", rx.READ)
    w.set_thread(0, pid=pid)
    assert w.ra(0, EA + 8) == RA + 8


# --- real mode ([ISA-radix]) -------------------------------------------------
@pytest.mark.parametrize("access", ["load", "store", "fetch"])
def test_real_mode_bypasses_translation(w, access):
    w.set_thread(0, dr=False, ir=False)
    ea = 0xF000_0000_0012_3458                  # top 4 EA bits ignored; nothing mapped
    r = w.translate(0, ea, access)
    assert (r.fault, r.ra, r.table_accesses) == (None, 0x12_3458, 0)


def test_data_translation_on_instruction_translation_off(w):
    """MSR[DR] and MSR[IR] select translation independently."""
    w.pt.map(1, EA, RA, "64K", rx.READ)
    w.set_thread(0, dr=True, ir=False)
    assert w.outcome(w.translate(0, 0x2000, "load")) == w.dsi(rx.DSISR_NOPTE, 0x2000)
    assert w.ra(0, 0x2000, "fetch") == 0x2000


# --- invalid entry at each of the four levels ([ISA-radix]) ------------------
@pytest.mark.parametrize("level", [0, 1, 2, 3])
@pytest.mark.parametrize("access", ["load", "store", "fetch"])
def test_invalid_entry_at_each_level(w, level, access):
    ea = EA + 0x3_0000
    w.pt.map(1, ea, RA, "64K", rx.READ | rx.RW | rx.EXEC)
    entries = w.level_entries(1, ea)
    assert len(entries) == 4
    rx.put_be64(w.mem, entries[level], rx.be64(w.mem, entries[level]) & ~rx.V)
    assert w.outcome(w.translate(0, ea + 0x44, access)) == w.si(rx.DSISR_NOPTE, ea + 0x44,
                                                                 access)


def test_sw_invalid_bit_alone_does_not_make_an_entry_valid(w):
    """Linux's _PAGE_INVALID (SW0) marks a PTE software-present, hardware-invalid:
    V = 0 still means no translation."""
    addr = w.pt.map(1, EA, RA, "64K", rx.READ)
    rx.put_be64(w.mem, addr, (rx.be64(w.mem, addr) & ~rx.V) | rx.SW0)
    assert w.outcome(w.translate(0, EA)) == w.dsi(rx.DSISR_NOPTE, EA)


# --- badly formed trees ([ISA-radix]) -----------------------------------
def _set_nls(w, addr, nls):
    rx.put_be64(w.mem, addr, (rx.be64(w.mem, addr) & ~rx.NLS_MASK) | nls)


@pytest.mark.parametrize("where,nls", [("prte", 12), ("prte", 9), ("pud", 8), ("pmd", 13),
                                       ("pte", 7), ("pte", 4)])
@pytest.mark.parametrize("access", ["load", "fetch"])
def test_unsupported_geometry_is_a_bad_tree(w, where, nls, access):
    """Only 13/9/9/(5|9) is POWER9 geometry: anything else gives 0x00080000."""
    w.pt.map(1, EA, RA, "64K", rx.READ | rx.EXEC)
    entries = w.level_entries(1, EA)
    addr = {"prte": w.pt.prtb + 16 * 1, "pud": entries[0], "pmd": entries[1],
            "pte": entries[2]}[where]
    _set_nls(w, addr, nls)
    assert w.outcome(w.translate(0, EA, access)) == w.si(rx.DSISR_BADTREE, EA, access)


def test_tree_size_other_than_52_bits_is_a_bad_tree(w):
    """RTS must be 21 (52 bits, [L-radix.h]); RTS2 = 4 gives 51 bits."""
    w.pt.map(1, EA, RA, "64K", rx.READ)
    prte = w.pt.prtb + 16
    rx.put_be64(w.mem, prte, (rx.be64(w.mem, prte) & ~0xE0) | 0x4 << 5)
    assert w.outcome(w.translate(0, EA, "store")) == w.dsi(rx.DSISR_BADTREE, EA, store=True)


def test_leaf_at_the_root_is_a_bad_tree(w):
    """A 512G leaf at the PGD level is no POWER9 page size ([ISA-radix])."""
    addr = w.level_entries(1, EA)[0]
    rx.put_be64(w.mem, addr, rx.V | rx.LEAF | rx.R | rx.C | rx.READ)
    assert w.outcome(w.translate(0, EA)) == w.dsi(rx.DSISR_BADTREE, EA)


@pytest.mark.parametrize("pate0_change", ["clear_hr", "rpds_4"])
def test_malformed_partition_table_entry_is_an_hdsi(w, pate0_change):
    """PATE dword 0 must have HR = 1 and RPDS >= 5 ([Q-rad]); otherwise HDSI
    0xE00 with 0x00080000 ([ISA-radix])."""
    w.pt.map(1, EA, RA, "64K", rx.READ)
    pate0 = rx.be64(w.mem, w.pt.patb)
    bad = pate0 & ~rx.PATE_HR if pate0_change == "clear_hr" else (pate0 & ~rx.NLS_MASK) | 4
    rx.put_be64(w.mem, w.pt.patb, bad)
    assert w.outcome(w.translate(0, EA + 8)) == ("fault", rx.VEC_HDSI, rx.DSISR_BADTREE,
                                                 EA + 8)
