"""Helpers for the MMU edge-case tests (copy World to write your own).

Every translation made through ``World.translate`` is also run through the
independent pure-Python walker ``powersim.radix.reference_translate`` on the
same emulated memory, and the two must agree; each test then asserts the
architected result itself ([ISA-radix], [ISA-tlbie]), so a test
fails if the MMU or the reference walker strays from the facts.

Machines are small (1 chip x 2 cores x SMT4, 16 MiB) so building one is cheap;
the numba core is compiled once per session (numba's cache).
"""

from __future__ import annotations

import numpy as np
import pytest

from powersim import radix as rx
from powersim.machine.layout import SPR_AMR, SPR_IAMR
from powersim.mmu import MMUTest

MEMORY = 16 << 20
SMT = 4
U64 = (1 << 64) - 1


class World:
    """An MMUTest plus what each thread runs with, so the reference walker
    can be asked the same question; also the expected-outcome helpers."""

    KERNEL = 0xC000_0000_0000_0000   # quadrant 3: PID 0 ([ISA-radix])
    # RB IS field and RIC of tlbie ([ISA-tlbie], [L-tlb])
    IS_VA, IS_PID, IS_LPID, IS_ALL = 0x000, 0x400, 0x800, 0xC00
    RIC_TLB, RIC_PWC, RIC_ALL = 0, 1, 2

    def __init__(self, base_page="64K", chips=1, cores_per_chip=2, params=None):
        self.m = MMUTest(chips=chips, cores_per_chip=cores_per_chip, smt=SMT,
                         base_page=base_page, memory=MEMORY, params=params)
        self.pt = self.m.pt
        self.mem = self.m.machine.mem
        self.ctx = {}
        for t in range(chips * cores_per_chip * SMT):
            self.set_thread(t)

    def set_thread(self, t, pid=1, pr=False, dr=True, ir=True, amr=0, iamr=0):
        self.m.set_thread(t, pid=pid, pr=pr, dr=dr, ir=ir)
        # MMUTest.set_thread has no AMR/IAMR argument: set the SPRs directly
        self.m.machine.sprs[t, [SPR_AMR, SPR_IAMR]] = np.array([amr, iamr],
                                                               np.uint64).view(np.int64)
        self.ctx[t] = dict(pid=pid, pr=pr, dr=dr, ir=ir, amr=amr, iamr=iamr)

    def reference(self, t, ea, access="load"):
        c = self.ctx[t]
        return rx.reference_translate(
            self.mem, ea, rx.ACCESS_NAMES[access], ptcr=self.pt.ptcr, pidr=c["pid"],
            msr_pr=c["pr"], translation_on=c["ir"] if access == "fetch" else c["dr"],
            amr=c["amr"], iamr=c["iamr"])

    def translate(self, t, ea, access="load", agree=True):
        """The MMU's answer; with ``agree`` it must equal the reference
        walker's (only false where a test wants a stale cached translation)."""
        r = self.m.translate(t, ea, access)
        if agree:
            assert self.outcome(r) == self.outcome(self.reference(t, ea, access)), (
                f"thread {t} {access} {ea:#x}: MMU and reference walker disagree")
        return r

    def ra(self, t, ea, access="load", agree=True) -> int:
        r = self.translate(t, ea, access, agree)
        assert r.fault is None, f"{access} {ea:#x} faulted: {r.fault}"
        return r.ra

    def invalidate(self, t, rb, rs, ric=0, local=False):
        """A complete invalidation as Linux issues it ([L-tlb] _tlbie_va, _tlbiel_pid):
        ptesync; tlbie[l]; [eieio;] tlbsync; ptesync."""
        self.m.ptesync(t)
        self.m.tlbie(t, rb, rs, ric=ric, prs=1, r=1, local=local)
        if not local:
            self.m.tlbsync(t)
        self.m.ptesync(t)

    def level_entries(self, pid, ea):
        """Addresses of the entries the walk of ``ea`` reads at each level
        (root first), following valid directory entries in memory."""
        base, shift, out = self.pt.root(pid), 52, []
        for nls in self.pt.geometry:
            shift -= nls
            addr = base + 8 * ((ea >> shift) & ((1 << nls) - 1))
            out.append(addr)
            entry = rx.be64(self.mem, addr)
            if not entry & rx.V or entry & rx.LEAF:
                break
            base = entry & rx.NLB_MASK
        return out

    # --- expected outcomes ---------------------------------------------------------
    @staticmethod
    def outcome(r):
        """(ra, page_shift) or the fault triple, from an MMU result or the
        reference walker's Translation/Fault."""
        fault = r if isinstance(r, rx.Fault) else getattr(r, "fault", None)
        if fault is not None:
            return ("fault", fault.vector, fault.cause, fault.dar)
        return ("ra", r.ra, r.page_shift)

    @staticmethod
    def dsi(cause, ea, store=False):
        """The architected DSI ([ISA-radix]): vector 0x300, DSISR, DAR = EA."""
        return ("fault", rx.VEC_DSI, cause | (rx.DSISR_ISSTORE if store else 0), ea)

    @staticmethod
    def isi(cause):
        """The architected ISI: vector 0x400, the cause in SRR1, no DAR."""
        return ("fault", rx.VEC_ISI, cause, None)

    @classmethod
    def si(cls, cause, ea, access):
        """DSI or ISI for ``access`` with the same cause bits."""
        return cls.isi(cause) if access == "fetch" else cls.dsi(cause, ea, access == "store")

    @staticmethod
    def rb_va(ea: int, page_shift: int) -> int:
        """RB of a single-VA tlbie: EPN | AP << 5 (IS = 0, [ISA-tlbie])."""
        return (ea & ~0xFFF & U64) | rx.AP[page_shift] << 5

    @staticmethod
    def rs_pid(pid: int, lpid: int = 0) -> int:
        """RS of a tlbie: PID in the high word, LPID in the low one."""
        return pid << 32 | lpid


# Tests get World through fixtures: conftest modules cannot be imported by name
# (every test directory has one).
@pytest.fixture
def world():
    """World(base_page=..., chips=..., cores_per_chip=..., params=...) factory."""
    return World


@pytest.fixture
def w():
    return World()
