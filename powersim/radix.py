"""POWER9 radix page tables in Python: bit layouts, a table builder and a
deliberately simple reference walker.

The numba core has its own walker (it must be fast and cache translations);
this module is the independent, readable one that tests compare it with, and
the API tests use to build page tables in emulated memory.

Facts: [ISA-radix], [P9-rc] ([L-pgt], [L-mmu], [Q-rad],
[MW]).  Bit masks are LSB-style (``1 << (63 - ibm_bit)``).  Table entries are
big-endian in memory whatever MSR[LE] says ([MW], [ISA-radix]).
"""

from __future__ import annotations

import attrs
import numpy as np

from powersim.errors import PowersimError

# --- entry bits ([ISA-radix], [L-pgt], [Q-rad]) --------------------------
V = 1 << 63              # valid / _PAGE_PRESENT
LEAF = 1 << 62           # L / _PAGE_PTE
SW0 = 1 << 61            # _PAGE_INVALID (Linux: hardware-invalid, software-present)
RPN_MASK = 0x01FF_FFFF_FFFF_F000
NLB_MASK = 0x0FFF_FFFF_FFFF_FF00  # next-level base (PDE), RPDB (PATE/PRTE)
NLS_MASK = 0x1F
R = 0x100                # referenced / _PAGE_ACCESSED
C = 0x80                 # changed / _PAGE_DIRTY
ATT_MASK = 0x30
ATT_NI_IO = 0x20         # non-idempotent I/O (guarded)
ATT_TOLERANT_IO = 0x30
PRIV = 0x8               # EAA[0]: no problem-state access
READ = 0x4
RW = 0x2
EXEC = 0x1

# PATE doubleword 0 / PRTE doubleword 0 ([ISA-radix], [L-mmu])
PATE_HR = 1 << 63
RTS_52 = (0x2 << 61) | (0x5 << 5)   # RTS = 21: a 52-bit tree ([L-radix.h])

# --- faults ([ISA-radix], [L-reg]) -------------------------------------------
DSISR_NOPTE = 0x4000_0000
DSISR_PROTFAULT = 0x0800_0000
DSISR_ISSTORE = 0x0200_0000
DSISR_BADTREE = 0x0008_0000
DSISR_SET_RC = 0x0004_0000
SRR1_ISI_NOPT = 0x4000_0000
SRR1_ISI_N_G = 0x1000_0000
SRR1_ISI_PROT = 0x0800_0000

VEC_DSI, VEC_DSEG, VEC_ISI, VEC_ISEG, VEC_HDSI = 0x300, 0x380, 0x400, 0x480, 0xE00

LOAD, STORE, FETCH = 0, 1, 2
ACCESS_NAMES = {"load": LOAD, "store": STORE, "fetch": FETCH}

# Page sizes and their AP codes ([SK-dt] ibm,processor-radix-AP-encodings)
PAGE_SHIFTS = {"4K": 12, "64K": 16, "2M": 21, "1G": 30}
AP = {12: 0, 16: 5, 21: 1, 30: 2}

# Supported geometries ([ISA-radix], [L-r64k], [L-r4k], [L-kvm]): index bits
# per level from the root; the tree always covers 52 bits of EA.
GEOMETRY = {"64K": (13, 9, 9, 5), "4K": (13, 9, 9, 9)}


def be64(mem: np.ndarray, addr: int) -> int:
    """Read a big-endian doubleword of emulated memory (a page-table entry)."""
    return int.from_bytes(mem[addr:addr + 8].tobytes(), "big")


def put_be64(mem: np.ndarray, addr: int, value: int) -> None:
    mem[addr:addr + 8] = np.frombuffer(value.to_bytes(8, "big"), dtype=np.uint8)


@attrs.frozen
class Fault:
    """A translation failure as the architecture reports it."""
    vector: int     # 0x300 DSI, 0x380 DSeg, 0x400 ISI, 0x480 ISeg, 0xE00 HDSI
    cause: int      # DSISR (data) or the SRR1 cause bits (fetch); 0 for segment faults
    dar: int | None  # DAR for data faults, None for fetch


@attrs.frozen
class Translation:
    ra: int           # real address
    page_shift: int   # 12, 16, 21 or 30
    pte: int          # the leaf entry
    pte_addr: int     # where it sits
    accesses: tuple   # real addresses of the entries fetched, in order


def reference_translate(mem: np.ndarray, ea: int, access: int, *, ptcr: int,
                        pidr: int = 0, lpidr: int = 0, msr_pr: bool = False,
                        msr_hv: bool = True, translation_on: bool = True,
                        amr: int = 0, iamr: int = 0) -> Translation | Fault:
    """Translate one effective address the way POWER9 does (no caches).

    Follows the walk of [ISA-radix] step by step; where the ISA leaves
    a choice, it does what QEMU's target/ppc/mmu-radix64.c does ([Q-rad]).
    """
    is_fetch = access == FETCH

    def si(cause: int) -> Fault:
        if is_fetch:
            return Fault(VEC_ISI, cause, None)
        return Fault(VEC_DSI, cause | (DSISR_ISSTORE if access == STORE else 0), ea)

    if not translation_on:  # real mode (HV): top 4 EA bits ignored, HRMOR not modelled
        ra = ea & 0x0FFF_FFFF_FFFF_FFFF
        return Translation(ra, 12, 0, 0, ())

    # Quadrant and segment check ([ISA-radix]): EA bits 2:11 must be 0.
    quadrant = ea >> 62
    if ea & 0x3FF0_0000_0000_0000 or (not msr_hv and quadrant in (1, 2)):
        return Fault(VEC_ISEG if is_fetch else VEC_DSEG, 0, None if is_fetch else ea)
    if msr_hv:
        lpid, pid = {0: (0, pidr), 1: (lpidr, pidr), 2: (lpidr, 0), 3: (0, 0)}[quadrant]
    else:
        lpid, pid = {0: (lpidr, pidr), 3: (lpidr, 0)}[quadrant]
    if lpid != 0:
        raise PowersimError("guest partitions (LPID != 0) are not modelled")

    accesses = []
    patb, pats = ptcr & 0x0FFF_FFFF_FFFF_F000, ptcr & 0x1F
    if 16 * lpid >= 1 << (12 + pats):
        return Fault(VEC_HDSI, DSISR_BADTREE, ea)
    pate0, pate1 = be64(mem, patb + 16 * lpid), be64(mem, patb + 16 * lpid + 8)
    accesses += [patb + 16 * lpid]
    if not pate0 & PATE_HR or (pate0 & NLS_MASK) < 5:
        return Fault(VEC_HDSI, DSISR_BADTREE, ea)

    prtb, prts = pate1 & 0x0FFF_FFFF_FFFF_F000, pate1 & 0x1F
    if 16 * pid >= 1 << (12 + prts):
        return si(DSISR_NOPTE)
    # On a radix host the PRTE's address goes through the LPID-0 partition-scoped
    # tree of PATE dw0 ([Q-rad] process_scoped_xlate); Linux maps it 1:1.
    prte_ra = _walk(mem, prtb + 16 * pid, pate0, accesses)
    if isinstance(prte_ra, int):
        return Fault(VEC_HDSI, prte_ra | 0x0002_0000, ea)  # DSISR_PRTABLE_FAULT
    prte0 = be64(mem, prte_ra.ra)
    accesses.append(prte_ra.ra)
    if prte0 == 0:
        return si(DSISR_BADTREE)

    leaf = _walk(mem, ea & ((1 << 52) - 1), prte0, accesses)
    if isinstance(leaf, int):
        return si(leaf)
    pte = leaf.pte

    # Permissions ([ISA-radix]; [Q-rad] ppc_radix64_check_prot)
    if is_fetch and (pte & ATT_MASK) == ATT_NI_IO:
        return si(SRR1_ISI_N_G)
    if pte & PRIV and msr_pr:
        allowed = 0
    else:
        allowed = (READ if pte & (READ | RW) else 0) | (RW if pte & RW else 0) | (pte & EXEC)
        if not msr_pr and not pte & PRIV:  # kernel access to a user page: AMR/IAMR key 0
            if amr >> 63 & 1:
                allowed &= ~RW
            if amr >> 62 & 1:
                allowed &= ~READ
            if iamr >> 62 & 1:
                allowed &= ~EXEC
    need = {LOAD: READ, STORE: RW, FETCH: EXEC}[access]
    if not allowed & need:
        return si(SRR1_ISI_N_G if is_fetch else DSISR_PROTFAULT)

    # POWER9 does not set R/C in hardware: it faults ([P9-rc]).
    if not pte & R or (access == STORE and not pte & C):
        return si(DSISR_SET_RC)
    return Translation(leaf.ra, leaf.page_shift, pte, leaf.pte_addr, tuple(accesses))


def _walk(mem, ea: int, root: int, accesses: list):
    """Walk one radix tree from a PATE/PRTE doubleword 0.  Returns a
    Translation (without checks) or the DSISR cause bits of the failure."""
    base, nls, shift, level = root & NLB_MASK, root & NLS_MASK, 52, 0
    rts = ((root >> 58) & 0x18 | (root >> 5) & 7) + 31
    if rts != 52:
        return DSISR_BADTREE
    while True:
        # POWER9 UM 4.10.4.1 via [Q-rad] ppc_radix64_is_valid_level
        if not ((level == 0 and nls == 13) or (level in (1, 2) and nls == 9)
                or (level == 3 and nls in (9, 5))):
            return DSISR_BADTREE
        shift -= nls
        addr = (base & ~((1 << (nls + 3)) - 1)) + 8 * ((ea >> shift) & ((1 << nls) - 1))
        entry = be64(mem, addr)
        accesses.append(addr)
        if not entry & V:
            return DSISR_NOPTE
        if entry & LEAF:
            if shift not in AP:  # a 512G leaf at the root is no POWER9 page size
                return DSISR_BADTREE
            mask = (1 << shift) - 1
            return Translation((entry & RPN_MASK & ~mask) | (ea & mask), shift, entry, addr, ())
        base, nls, level = entry & NLB_MASK, entry & NLS_MASK, level + 1


class PageTables:
    """Builds a partition table, a process table and per-PID radix trees in
    emulated memory, the way Linux lays them out on a radix host.

    Example::

        mem = np.zeros(64 << 20, dtype=np.uint8)
        pt = PageTables(mem, alloc_base=0x100000)
        pt.map(pid=1, ea=0x10000000, ra=0x400000, size="2M", perms=READ | RW)
        pt.ptcr     # value to put in PTCR (SPR 464)

    Table pages come from a bump allocator starting at ``alloc_base``.  The
    PID-0 tree gets a 1 GiB linear map of real memory at 0xc000..., which is
    also what translates process-table addresses (see reference_translate).
    """

    def __init__(self, mem: np.ndarray, alloc_base: int, *, base_page: str = "64K",
                 process_table_pids: int = 256, linear_map: bool = True):
        if base_page not in GEOMETRY:
            raise PowersimError(f"base page {base_page!r}: allowed {sorted(GEOMETRY)}")
        self.mem, self.next_free = mem, alloc_base
        self.geometry = GEOMETRY[base_page]
        self.base_page = base_page
        prts = max(0, (16 * process_table_pids - 1).bit_length() - 12)
        self.patb = self._alloc(1 << 12)
        self.prtb = self._alloc(1 << (12 + prts))
        self.roots: dict[int, int] = {}
        self.ptcr = self.patb | 0  # PATS = 0: one 4 KiB page, 256 LPIDs
        kernel_root = self.root(0)
        put_be64(mem, self.patb, PATE_HR | RTS_52 | kernel_root | self.geometry[0])
        put_be64(mem, self.patb + 8, self.prtb | prts)
        if linear_map:
            for gb in range(0, max(1, -(-len(mem) // (1 << 30)))):
                self.map(0, 0xC000_0000_0000_0000 + (gb << 30), gb << 30, "1G",
                         READ | RW | EXEC | PRIV)

    def _alloc(self, size: int) -> int:
        addr = -(-self.next_free // size) * size  # tables are aligned to their size
        if addr + size > len(self.mem):
            raise PowersimError(f"page-table allocator ran out of memory at {addr:#x}")
        self.mem[addr:addr + size] = 0
        self.next_free = addr + size
        return addr

    def root(self, pid: int) -> int:
        """The root directory of ``pid``'s tree (created on first use)."""
        if pid not in self.roots:
            if 16 * pid >= 1 << (12 + (be64(self.mem, self.patb + 8) & 0x1F)):
                raise PowersimError(f"PID {pid} is beyond the process table")
            self.roots[pid] = self._alloc(8 << self.geometry[0])
            put_be64(self.mem, self.prtb + 16 * pid, RTS_52 | self.roots[pid] | self.geometry[0])
        return self.roots[pid]

    def entry_addr(self, pid: int, ea: int, page_shift: int, create: bool = True) -> int:
        """Address of the entry that maps ``ea`` at the level of ``page_shift``."""
        base, shift = self.root(pid), 52
        for level, nls in enumerate(self.geometry):
            shift -= nls
            addr = base + 8 * ((ea >> shift) & ((1 << nls) - 1))
            if shift == page_shift:
                return addr
            entry = be64(self.mem, addr)
            if entry & V and entry & LEAF:
                raise PowersimError(f"{ea:#x} is already inside a {1 << shift:#x}-byte page")
            if not entry & V:
                if not create:
                    raise PowersimError(f"no table maps {ea:#x} at level {level + 1}")
                nxt = self.geometry[level + 1]
                table = self._alloc(8 << nxt)
                put_be64(self.mem, addr, V | table | nxt)
                entry = be64(self.mem, addr)
            base = entry & NLB_MASK
        raise PowersimError(f"page size 2^{page_shift} does not fit the {self.base_page} geometry")

    def map(self, pid: int, ea: int, ra: int, size: str, perms: int,
            rc: bool = True, att: int = 0) -> int:
        """Map one page; returns the address of its leaf entry.  ``perms`` is an
        OR of PRIV/READ/RW/EXEC; ``rc`` sets R and C as Linux does for kernel and
        THP mappings."""
        if size not in PAGE_SHIFTS:
            raise PowersimError(f"page size {size!r}: allowed {list(PAGE_SHIFTS)}")
        shift = PAGE_SHIFTS[size]
        if size == "4K" and self.base_page == "64K" or size == "64K" and self.base_page == "4K":
            raise PowersimError(f"a {size} page needs the {size} base-page geometry")
        if ea & ((1 << shift) - 1) or ra & ((1 << shift) - 1):
            raise PowersimError(f"EA {ea:#x} / RA {ra:#x} not aligned to {size}")
        addr = self.entry_addr(pid, ea, shift)
        put_be64(self.mem, addr, V | LEAF | ra | (R | C if rc else 0) | att | perms)
        return addr

    def unmap(self, pid: int, ea: int, size: str) -> int:
        addr = self.entry_addr(pid, ea, PAGE_SHIFTS[size], create=False)
        put_be64(self.mem, addr, 0)
        return addr
