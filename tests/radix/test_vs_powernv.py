"""Radix translation on QEMU's POWER9 machine (powernv9, bare metal) against
powersim.radix.reference_translate on the very same memory image.

Each scenario builds page tables with ``PageTables`` in a 4 MiB buffer, writes
marker values where the mappings should land, and runs one program (the
convention of tests/qemu_powernv.py) doing its accesses with MSR[DR] = 1.  The
outcome of each access (the loaded value, or the interrupt with DSISR, DAR,
SRR0 and SRR1) must equal what the reference walker predicts, and the
scenario's own expectation (so both cannot be wrong the same way).

QEMU 7.2 sets R/C in hardware where POWER9 raises a DSI
[P9-rc], so every page here is mapped with R and C set.

The ``run`` fixture runs each scenario on both machines: QEMU boots the image
through its big-endian trampoline, ``run_scenario_on_powersim`` loads the same
bytes and starts at ``_start``; both outcomes must equal the reference's.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np
import pytest

import qemu_powernv as pnv
from powersim import radix as rx
from powersim.asm import Builder, assemble
from powersim.errors import PowersimError

PID = 1
MSR_AT_ACCESS = pnv.START_MSR | pnv.MSR_DR  # what SRR1 holds after a data fault
SLOTS_OFF = pnv.SLOTS_BASE - pnv.RESULTS_ADDR  # first slot, within the results region


@dataclass(frozen=True)
class Outcome:
    vector: int = 0            # 0: the access completed
    value: int | None = None   # loaded doubleword (loads that completed)
    dsisr: int | None = None   # DSI/HDSI only (a segment interrupt leaves DSISR alone)
    dar: int | None = None
    srr0: int | None = None
    srr1: int | None = None


@dataclass
class Scenario:
    accesses: list = field(default_factory=list)
    pidr: int = PID
    mem: np.ndarray = field(default_factory=lambda: np.zeros(pnv.IMAGE_SIZE, dtype=np.uint8))

    def __post_init__(self):
        self.pt = rx.PageTables(self.mem, alloc_base=pnv.TABLES_ADDR)

    def put(self, ra: int, value: int):
        """A marker doubleword at real address ``ra`` (little-endian, as loaded)."""
        self.mem[ra:ra + 8] = np.frombuffer(value.to_bytes(8, "little"), dtype=np.uint8)

    def load(self, ea: int):
        self.accesses.append(pnv.Access("load", ea))
        return self

    def store(self, ea: int, value: int):
        self.accesses.append(pnv.Access("store", ea, value))
        return self

    def build(self) -> bytes:
        """The image of this scenario's program + memory (``self.symbols``:
        the program's symbols)."""
        img = assemble(pnv.mmu_program(self.accesses, ptcr=self.pt.ptcr, pidr=self.pidr),
                       filename="mmu_scenario.s")
        self.symbols = img.symbols
        return pnv.build_image(img.data, self.mem)


def results_len(n: int) -> int:
    return SLOTS_OFF + pnv.SLOT * n


def parse_results(results: bytes, accesses) -> list:
    """Outcomes from a results region written by the mmu_program convention."""
    assert struct.unpack_from("<Q", results, 0)[0] == pnv.DONE_MAGIC
    out = []
    for i, a in enumerate(accesses):
        slot = SLOTS_OFF + pnv.SLOT * i
        def word(off, slot=slot):
            return struct.unpack_from("<Q", results, slot + off)[0]
        vector = word(pnv.S_VECTOR)
        if vector == 0:
            out.append(Outcome(value=word(pnv.S_VALUE) if a.kind == "load" else None))
        else:
            out.append(Outcome(vector, None,
                               word(pnv.S_DSISR) if vector in (rx.VEC_DSI, rx.VEC_HDSI) else None,
                               word(pnv.S_DAR), word(pnv.S_SRR0), word(pnv.S_SRR1)))
    return out


def run_scenario_on_qemu(image: bytes, accesses) -> list:
    if pnv.MISSING:
        pytest.skip(pnv.SKIP_REASON)
    return parse_results(pnv.run_powernv(image, pnv.RESULTS_ADDR, results_len(len(accesses))),
                         accesses)


def run_scenario_on_powersim(image: bytes, accesses) -> list:
    """The same image on powersim: load it at 0 (Machine.load), start one
    thread at _start, run to attn, parse_results(mem[RESULTS_ADDR:...])."""
    from powersim.machine.params import MachineParams
    from powersim.machine.layout import X_DONE
    from powersim.machine.state import Machine
    m = Machine(MachineParams(memory=pnv.IMAGE_SIZE))
    m.load(image, 0)
    m.start(pnv.START, 1)          # _start: the trampoline is QEMU's way there
    status = m.run(max_cycles=10_000_000)
    assert status == X_DONE, f"powersim did not reach attn (exit {status})"
    return parse_results(m.mem[pnv.RESULTS_ADDR:pnv.RESULTS_ADDR + results_len(len(accesses))]
                         .tobytes(), accesses)


RUNNERS = {"powernv9": run_scenario_on_qemu, "powersim": run_scenario_on_powersim}


@pytest.fixture(params=[pytest.param("powernv9", marks=pytest.mark.qemu), "powersim"])
def run(request):
    return RUNNERS[request.param]


def reference_outcomes(scn: Scenario) -> list:
    """What reference_translate predicts, access by access (completed stores
    update a copy of memory, so later loads see them)."""
    mem = scn.mem.copy()
    out = []
    for i, a in enumerate(scn.accesses):
        t = rx.reference_translate(mem, a.ea, rx.ACCESS_NAMES[a.kind], ptcr=scn.pt.ptcr,
                                   pidr=scn.pidr)
        if isinstance(t, rx.Fault):
            out.append(Outcome(t.vector, None, t.cause if t.vector != rx.VEC_DSEG else None,
                               t.dar, scn.symbols[f"access{i}"], MSR_AT_ACCESS))
        elif a.kind == "load":
            out.append(Outcome(value=int.from_bytes(mem[t.ra:t.ra + 8].tobytes(), "little")))
        else:
            mem[t.ra:t.ra + 8] = np.frombuffer(a.value.to_bytes(8, "little"), dtype=np.uint8)
            out.append(Outcome())
    return out


def check(scn: Scenario, run) -> list:
    """Run the scenario, compare with the reference walker; return the outcomes."""
    got = run(scn.build(), scn.accesses)
    assert got == reference_outcomes(scn)
    return got


def fault(vector, dsisr, ea, scn, i):
    """The outcome of access ``i`` faulting (SRR0 is its address); after check()."""
    return Outcome(vector, None, dsisr, ea, scn.symbols[f"access{i}"], MSR_AT_ACCESS)


# --- scenarios ---------------------------------------------------------------
EA_USER = 0x1000_0000          # quadrant 0, PID 1
RA_64K = 0x1F_0000             # inside the image (below 4 MiB), 64K-aligned
RA_2M = 0x20_0000


def test_load_through_64k_page(run):
    scn = Scenario()
    scn.pt.map(PID, EA_USER, RA_64K, "64K", rx.READ | rx.RW)
    scn.put(RA_64K + 0x1238, 0x1122_3344_5566_7788)
    scn.put(RA_64K + 0xFFF8, 0x0BAD_F00D_0000_FFF8)   # last doubleword of the page
    scn.load(EA_USER + 0x1238).load(EA_USER + 0xFFF8)
    assert check(scn, run) == [Outcome(value=0x1122_3344_5566_7788),
                               Outcome(value=0x0BAD_F00D_0000_FFF8)]


def test_load_through_2m_leaf(run):
    scn = Scenario()
    ea = 0x4000_0000
    scn.pt.map(PID, ea, RA_2M, "2M", rx.READ | rx.RW)
    for off in (0x0, 0x1_2348, 0x1F_FFF8):  # past 64K: EA bits a PTE level would index
        scn.put(RA_2M + off, 0x2000_0000_0000_0000 | off)
        scn.load(ea + off)
    assert check(scn, run) == [Outcome(value=0x2000_0000_0000_0000 | off)
                               for off in (0x0, 0x1_2348, 0x1F_FFF8)]


def test_unmapped_ea_gives_dsi_no_translation(run):
    scn = Scenario()
    scn.pt.map(PID, EA_USER, RA_64K, "64K", rx.READ | rx.RW)
    near = EA_USER + 0x1_0000 + 0x18      # next PTE of the same table: invalid leaf
    far = 0x7_0000_0000_0040              # empty PGD slot: invalid at the root
    scn.load(near).load(far)
    assert check(scn, run) == [fault(rx.VEC_DSI, rx.DSISR_NOPTE, near, scn, 0),
                               fault(rx.VEC_DSI, rx.DSISR_NOPTE, far, scn, 1)]


def test_store_to_read_only_page_is_a_protection_fault(run):
    scn = Scenario()
    scn.pt.map(PID, EA_USER, RA_64K, "64K", rx.READ)
    scn.put(RA_64K + 0x40, 0x5EAD_0000_0000_0040)
    scn.store(EA_USER + 0x40, 0xDEAD).load(EA_USER + 0x40)
    got = check(scn, run)
    # PROTFAULT | ISSTORE = 0x0A000000 [L-reg] ([ISA-radix])
    assert got[0] == fault(rx.VEC_DSI, 0x0A00_0000, EA_USER + 0x40, scn, 0)
    assert got[1] == Outcome(value=0x5EAD_0000_0000_0040)  # the store did not happen


def test_store_then_load_back_through_user_and_linear_map(run):
    scn = Scenario()
    scn.pt.map(PID, EA_USER, RA_64K, "64K", rx.READ | rx.RW)
    scn.store(EA_USER + 0x80, 0xC0FF_EE00_1234_5678)
    scn.load(EA_USER + 0x80).load(0xC000_0000_0000_0000 + RA_64K + 0x80)
    assert check(scn, run) == [Outcome(), Outcome(value=0xC0FF_EE00_1234_5678),
                               Outcome(value=0xC0FF_EE00_1234_5678)]


def test_ea_beyond_52_bits_gives_data_segment_interrupt(run):
    scn = Scenario()
    scn.pt.map(PID, EA_USER, RA_64K, "64K", rx.READ | rx.RW)
    scn.put(RA_64K + 0x8, 0x5E6_0000_0000_0008)
    bad = (1 << 52) | EA_USER | 0x8       # the mapped EA plus bit 52 (LSB numbering)
    scn.load(bad).load(EA_USER + 0x8)
    got = check(scn, run)
    assert got[0] == fault(rx.VEC_DSEG, None, bad, scn, 0)
    assert got[1] == Outcome(value=0x5E6_0000_0000_0008)


def test_quadrant3_uses_pid0_whatever_pidr_holds(run):
    scn = Scenario()
    low = RA_64K + 0x100                  # the same low 52 bits in both quadrants
    scn.pt.map(PID, RA_64K, RA_2M, "64K", rx.READ | rx.RW)  # PID 1: low -> RA_2M + 0x100
    scn.put(low, 0x0000_0000_0000_0003)           # what PID 0's linear map reaches
    scn.put(RA_2M + 0x100, 0x0000_0000_0000_0001)  # what PID 1's tree reaches
    scn.load(0xC000_0000_0000_0000 | low).load(low)
    assert check(scn, run) == [Outcome(value=3), Outcome(value=1)]


def test_malformed_partition_table_entry_gives_hdsi(run):
    scn = Scenario()
    scn.pt.map(PID, EA_USER, RA_64K, "64K", rx.READ | rx.RW)
    pate0 = rx.be64(scn.mem, scn.pt.patb)
    rx.put_be64(scn.mem, scn.pt.patb, pate0 & ~rx.PATE_HR)  # not a radix host any more
    scn.load(EA_USER + 0x8)
    assert check(scn, run) == [fault(rx.VEC_HDSI, rx.DSISR_BADTREE, EA_USER + 0x8, scn, 0)]


def random_scenario(seed: int, n_pages: int = 10, n_accesses: int = 48) -> Scenario:
    """Pages of every size at random EAs (one per 1G region of quadrant 0, so
    they never nest), random permissions, and a random mix of loads and
    stores to them, to unmapped EAs, to EAs beyond 52 bits and through the
    linear map.  Stores can only land in the data area (RA_2M..4 MiB)."""
    rng = np.random.default_rng(seed)
    scn = Scenario()
    data = slice(RA_2M, pnv.IMAGE_SIZE)
    scn.mem[data] = rng.integers(0, 256, data.stop - data.start, dtype=np.uint8)
    regions = rng.choice(1 << 22, n_pages, replace=False)  # 1G regions of the 52-bit space
    pages = []
    for region in regions:
        size = str(rng.choice(["64K", "2M", "1G"], p=[0.5, 0.35, 0.15]))
        shift = rx.PAGE_SHIFTS[size]
        if size == "1G":   # RA 0 holds program and tables: read-only, reads stay in the image
            ra, perms, span = 0, rx.READ, pnv.IMAGE_SIZE
        else:
            ra = RA_2M + (int(rng.integers(0, RA_2M >> shift)) << shift)
            perms, span = int(rng.choice([rx.READ, rx.READ | rx.RW, rx.READ | rx.RW])), 1 << shift
        ea = (int(region) << 30) + (int(rng.integers(0, 1 << (30 - shift))) << shift)
        scn.pt.map(PID, ea, ra, size, perms)
        pages.append((ea, span))
    for _ in range(n_accesses):
        ea, span = pages[rng.integers(len(pages))]
        ea += 8 * int(rng.integers(0, span // 8))
        kind = rng.choice(["mapped", "mapped", "mapped", "unmapped", "beyond52", "linear"])
        if kind == "unmapped":
            ea ^= 1 << 30 + int(rng.integers(0, 22))  # another 1G region (mapped or not)
        elif kind == "beyond52":
            ea |= 1 << int(rng.integers(52, 62))
        elif kind == "linear":
            ea = 0xC000_0000_0000_0000 + RA_2M + 8 * int(rng.integers(0, RA_2M // 8))
        if rng.integers(2) and kind != "linear":
            scn.store(ea, int(rng.integers(0, 1 << 63)))
        else:
            scn.load(ea)
    return scn


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_mappings_and_accesses_match_reference(run, seed):
    scn = random_scenario(seed)
    got = check(scn, run)
    # The mix really covers completed loads and stores and each kind of fault.
    kinds = {(a.kind, o.vector, o.dsisr) for a, o in zip(scn.accesses, got)}
    assert {("load", 0, None), ("store", 0, None), ("load", rx.VEC_DSEG, None),
            ("load", rx.VEC_DSI, rx.DSISR_NOPTE),
            ("store", rx.VEC_DSI, rx.DSISR_PROTFAULT | rx.DSISR_ISSTORE)} <= kinds


# --- the harness itself ---------------------------------------------------------
def start_state_program() -> str:
    """Records r3, MSR, HID0 and LPCR as _start sees them."""
    b = Builder().emit(f".org {pnv.START:#x}").label("_start")
    b.li64("r4", pnv.RESULTS_ADDR).std("r3", "8(r4)")
    for i, spr in enumerate(("msr", 1008, 318)):
        (b.mfmsr("r5") if spr == "msr" else b.mfspr("r5", spr)).std("r5", f"{16 + 8 * i}(r4)")
    b.li64("r5", pnv.DONE_MAGIC).std("r5", "0(r4)").emit("attn")
    return b.text()


@pytest.mark.qemu
@pytest.mark.skipif(pnv.MISSING, reason=pnv.SKIP_REASON)
def test_trampoline_reaches_powersims_start_state():
    """_start sees on QEMU the r3, MSR, HID0[HILE] and LPCR[ILE|HVICE] that
    powersim starts threads with (docs/CONTRACTS.md).  (Not run on powersim
    itself here: its first numba compile alone would take a minute.)"""
    img = assemble(start_state_program())
    image = pnv.build_image(img.data, np.zeros(pnv.TABLES_ADDR + 8, dtype=np.uint8))
    _, pir, msr, hid0, lpcr = struct.unpack("<5Q", pnv.run_powernv(image, pnv.RESULTS_ADDR, 40))
    assert (pir, msr, hid0 & pnv.HID0_POWER9_HILE, lpcr & (pnv.LPCR_ILE | pnv.LPCR_HVICE)) == (
        0, pnv.START_MSR, pnv.HID0_POWER9_HILE, pnv.LPCR_ILE | pnv.LPCR_HVICE)


@pytest.mark.qemu
@pytest.mark.skipif(pnv.MISSING, reason=pnv.SKIP_REASON)
def test_program_that_never_finishes_is_reported():
    img = assemble(f".org {pnv.START:#x}\n_start: b _start\n")
    image = pnv.build_image(img.data, np.zeros(pnv.TABLES_ADDR, dtype=np.uint8))
    with pytest.raises(pnv.HarnessError, match=f"(?s)no DONE_MAGIC.*NIP {pnv.START:016x}"):
        pnv.run_powernv(image, pnv.RESULTS_ADDR, 8, timeout=1.5)


@pytest.mark.qemu
@pytest.mark.skipif(pnv.MISSING, reason=pnv.SKIP_REASON)
def test_qemu_refusing_the_image_is_reported_with_its_stderr():
    with pytest.raises(pnv.HarnessError, match="QEMU stderr: .*Could not load OPAL firmware"):
        pnv.run_powernv(b"\1" * (pnv.FW_MAX + 8), pnv.RESULTS_ADDR, 8, timeout=10)


@pytest.mark.parametrize("program,mem,match", [
    (b"\0" * 0x10 + b"\1", np.zeros(16, dtype=np.uint8), "trampoline"),
    (b"", np.ones(16, dtype=np.uint8), "put tables and data above"),
    (b"", np.zeros(pnv.FW_MAX + 8, dtype=np.uint8), "QEMU loads at most"),
])
def test_bad_layout_is_a_clear_error(program, mem, match):
    with pytest.raises(PowersimError, match=match):
        pnv.build_image(program, mem)
