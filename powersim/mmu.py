"""A test-friendly handle on the radix MMU of the numba core.

``MMUTest`` is a Machine with radix page tables (powersim.radix.PageTables)
in its memory and every thread's PTCR and LPCR[HR|UPRT] set.  Translations,
tlbie/tlbiel/tlbsync/ptesync go through ``core.mmu_call``, i.e. the very
functions the interpreter runs; ``run_asm`` runs code on the same machine
with the same tables and TLBs.  Contract: docs/CONTRACTS.md "powersim.mmu".

    from powersim import radix
    from powersim.mmu import MMUTest
    m = MMUTest(cores_per_chip=2)
    m.pt.map(1, 0x10000000, 0x400000, "64K", radix.READ | radix.RW)
    m.set_thread(0, pid=1)
    r = m.translate(0, 0x10000008, "load")
    assert r.ra == 0x400008 and not r.tlb_hit

Memory layout: the page tables are allocated from ``memory // 2`` upwards;
code (``run_asm`` loads its image at 0) and data frames use the lower half.
"""

from __future__ import annotations

import time

import attrs

from powersim import radix
from powersim.errors import PowersimError
from powersim.machine import layout
from powersim.machine.params import MachineParams

K_TRANSLATE, K_TLBIE, K_TLBIEL, K_TLBSYNC, K_PTESYNC, K_MTSPR = range(6)
U64 = (1 << 64) - 1


@attrs.frozen
class XlateResult:
    """One translation: ``ra``/``page_shift`` (None on a fault), ``fault``
    (radix.Fault with the vector, DSISR or SRR1 cause bits, DAR), whether the
    TLB hit, how many PDEs came from the page walk cache, how many table
    entries were read, and the cycles the translation added to the access."""
    ra: int | None
    page_shift: int | None
    fault: radix.Fault | None
    tlb_hit: bool
    pwc_hits: int
    table_accesses: int
    cycles: int


class MMUTest:
    def __init__(self, chips=1, cores_per_chip=2, smt=4, base_page="64K", memory=64 << 20,
                 params=None):
        from powersim.machine.state import Machine
        p = attrs.evolve(params or MachineParams(), chips=chips, cores_per_chip=cores_per_chip,
                         smt=smt, memory=memory).validate()
        self.machine = m = Machine(p)
        self.pt = radix.PageTables(m.mem, alloc_base=p.memory // 2, base_page=base_page)
        for t in range(m.nthreads):
            m.ts[t, layout.TS_MSR] = layout.MSR_SF | layout.MSR_HV | layout.MSR_ME | layout.MSR_LE
            self._mmu_sprs(t)

    @classmethod
    def attach(cls, machine, ptcr, pt=None) -> "MMUTest":
        """Wrap an existing Machine (e.g. the kernel's) whose radix tables are
        in its memory at `ptcr` (the PTCR value; partition 0's PATE is used),
        so that translate/tlbie/tlb_entries/invariant_violations work on it.
        `pt` is the radix.PageTables that built the tables, if any (m.pt).
        Nothing in the machine changes until set_thread or an MMU call."""
        from powersim.machine.state import Machine
        if not isinstance(machine, Machine):
            raise PowersimError(f"attach: machine must be a powersim.machine.state.Machine, "
                                f"not {type(machine).__name__}")
        patb = ptcr & layout.TBL_MASK if isinstance(ptcr, int) else -1
        if not 0 < patb or patb + 16 > machine.p.memory or not 0 <= ptcr <= U64:
            raise PowersimError(f"attach: ptcr {ptcr!r}: its partition table base must lie "
                                f"in memory (allowed: a 64-bit PTCR value with 0 < PATB <= "
                                f"{machine.p.memory - 16:#x})")
        if pt is not None and pt.ptcr != ptcr:
            raise PowersimError(f"attach: pt.ptcr {pt.ptcr:#x} differs from ptcr {ptcr:#x} "
                                "(allowed: the PageTables that built these tables, or None)")
        self = cls.__new__(cls)
        self.machine, self.pt, self._ptcr = machine, pt, ptcr
        return self

    @property
    def ptcr(self) -> int:
        """The PTCR of the tables: pt's, or the one given to attach."""
        return self.pt.ptcr if self.pt is not None else self._ptcr

    def _mmu_sprs(self, t):
        """PTCR (with its translation effects when it changes) and LPCR[HR|UPRT]."""
        m = self.machine
        if m.sprs[t, layout.SPR_PTCR] != self.ptcr:
            m.mmu_call(K_MTSPR, t, layout.SPR_PTCR, self.ptcr)
        m.sprs[t, layout.SPR_LPCR] |= layout.LPCR_HR | layout.LPCR_UPRT

    def _thread(self, t):
        if not isinstance(t, int) or not 0 <= t < self.machine.nthreads:
            raise PowersimError(f"thread {t!r}: allowed 0..{self.machine.nthreads - 1}")
        return t

    def set_thread(self, t, pid=1, pr=False, dr=True, ir=False, amr=None, iamr=None):
        """Set PIDR, MSR[PR], [DR], [IR] and (unless None) AMR and IAMR of thread
        t (MSR[HV] stays set), plus this MMUTest's PTCR and LPCR[HR|UPRT]; the
        SPR writes have the effects of mtspr (ERAT and micro-cache flushed)."""
        m = self.machine
        self._thread(t)
        if not isinstance(pid, int) or not 0 <= pid < 1 << 20:
            raise PowersimError(f"pid {pid!r}: allowed 0..{(1 << 20) - 1} (20 PID bits)")
        for name, v in (("amr", amr), ("iamr", iamr)):
            if v is not None and (not isinstance(v, int) or not 0 <= v <= U64):
                raise PowersimError(f"{name} {v!r}: allowed a 64-bit unsigned value or None")
        self._mmu_sprs(t)
        msr = int(m.ts[t, layout.TS_MSR]) & ~(layout.MSR_PR | layout.MSR_DR | layout.MSR_IR)
        m.ts[t, layout.TS_MSR] = msr | (layout.MSR_PR if pr else 0) | \
            (layout.MSR_DR if dr else 0) | (layout.MSR_IR if ir else 0)
        for n, v in ((layout.SPR_PIDR, pid), (layout.SPR_AMR, amr), (layout.SPR_IAMR, iamr)):
            if v is not None:
                m.mmu_call(K_MTSPR, t, n, v)

    def translate(self, t, ea, access) -> XlateResult:
        """Translate `ea` for `access` ("load", "store", "fetch") on thread t with
        its current MSR and SPRs, filling the TLB/PWC as the hardware would."""
        self._thread(t)
        if access not in radix.ACCESS_NAMES:
            raise PowersimError(f"access {access!r}: allowed {sorted(radix.ACCESS_NAMES)}")
        if not 0 <= ea <= U64:
            raise PowersimError(f"ea {ea:#x}: must be a 64-bit unsigned value")
        st = self.machine.stats[t]
        before = st[[layout.ST_TLB_HITS, layout.ST_PWC_HITS, layout.ST_WALK_READS]].copy()
        ra, shift, vec, cause, cycles = self.machine.mmu_call(
            K_TRANSLATE, t, ea, radix.ACCESS_NAMES[access])
        hits, pwc, reads = (int(x) for x in st[[layout.ST_TLB_HITS, layout.ST_PWC_HITS,
                                                 layout.ST_WALK_READS]] - before)
        fault = None
        if vec:
            data = access != "fetch" and vec != 0x480
            fault = radix.Fault(int(vec), int(cause) & U64, ea if data else None)
        return XlateResult(None if vec else int(ra) & U64, None if vec else int(shift), fault,
                           hits > 0, pwc, reads, int(cycles))

    def tlbie(self, t, rb, rs, ric=0, prs=1, r=1, local=False):
        """Execute one tlbie (or tlbiel with local=True) on thread t."""
        self._thread(t)
        for name, v, hi in (("ric", ric, 3), ("prs", prs, 1), ("r", r, 1)):
            if not 0 <= v <= hi:
                raise PowersimError(f"{name} = {v}: allowed 0..{hi}")
        self.machine.mmu_call(K_TLBIEL if local else K_TLBIE, t, rb & U64, rs & U64, ric,
                              prs, r)

    def tlbsync(self, t) -> int:
        """Wait (advance thread t's clock) until t's tlbies are acknowledged
        everywhere; returns the cycles waited."""
        return int(self.machine.mmu_call(K_TLBSYNC, self._thread(t))[4])

    def ptesync(self, t) -> int:
        return int(self.machine.mmu_call(K_PTESYNC, self._thread(t))[4])

    # ------------------------------------------------------------ inspection
    def tlb_entries(self, core_index) -> list:
        """The valid TLB entries of a core: dicts with set, way, ea (of the page),
        page_shift, pid, lpid, pte, pte_addr."""
        m = self.machine
        if not 0 <= core_index < m.ncores:
            raise PowersimError(f"core {core_index}: allowed 0..{m.ncores - 1}")
        n = layout.TLB_ROWS * layout.TLB_WAYS
        out = []
        for i, e in enumerate(m.tlb[core_index * n:(core_index + 1) * n]):
            if e[layout.TE_V]:
                shift = int(e[layout.TE_SHIFT])
                out.append(dict(set=i // (2 * layout.TLB_WAYS), way=i % layout.TLB_WAYS,
                                ea=(int(e[layout.TE_TAG]) << shift) & U64, page_shift=shift,
                                pid=int(e[layout.TE_PID]), lpid=int(e[layout.TE_LPID]),
                                pte=int(e[layout.TE_PTE]) & U64, pte_addr=int(e[layout.TE_PTEA])))
        return out

    @staticmethod
    def tlb_set(ea, page_shift) -> int:
        """The congruence class (tlbiel SET) of a page (layout.py TLB comment)."""
        return (ea >> page_shift) & (layout.TLB_SETS - 1)

    def pwc_entries(self, core_index) -> list:
        """The valid page-walk-cache entries of a core: dicts with level, pid,
        lpid, ea (start of the region the PDE covers, quadrant bits clear),
        pde, pde_addr."""
        m = self.machine
        n = m.p.pwc_entries
        out = []
        for e in m.pwc[core_index * n:(core_index + 1) * n]:
            if e[layout.PE_V]:
                lv = int(e[layout.PE_LEVEL])
                out.append(dict(level=lv, pid=int(e[layout.PE_PID]), lpid=int(e[layout.PE_LPID]),
                                ea=int(e[layout.PE_TAG]) << (39 - 9 * lv),
                                pde=int(e[layout.PE_PDE]) & U64, pde_addr=int(e[layout.PE_PDEA])))
        return out

    def invariant_violations(self) -> list:
        """[] when every TLB and PWC entry of every core agrees with the page
        tables in memory: a TLB entry must map its page to the same real
        address, size and leaf permissions/attributes (R/C may differ: they
        only ever add faults, [P9-rc]); a cached PDE must be the entry a
        walk of the current tree reads at that level.  Otherwise a list of
        strings naming core, entry and difference."""
        m, out = self.machine, []
        keep = radix.V | radix.LEAF | radix.RPN_MASK | radix.ATT_MASK | 0xF
        for c in range(m.ncores):
            for e in self.tlb_entries(c):
                ref = self._leaf(e["pid"], e["ea"])
                if not isinstance(ref, radix.Translation):
                    out.append(f"core {c}: TLB maps {e['ea']:#x} (PID {e['pid']}), "
                               f"the tables do not ({ref})")
                elif (ref.ra, ref.page_shift, ref.pte & keep) != \
                        (e["pte"] & radix.RPN_MASK & -(1 << e["page_shift"]), e["page_shift"],
                         e["pte"] & keep):
                    out.append(f"core {c}: TLB entry {e['ea']:#x} (PID {e['pid']}) -> "
                               f"{e['pte']:#x}, tables -> {ref.pte:#x} at {ref.pte_addr:#x}")
            for e in self.pwc_entries(c):
                path = self._path(e["pid"], e["ea"])
                if e["level"] >= len(path) or path[e["level"]] != (e["pde_addr"], e["pde"]):
                    out.append(f"core {c}: PWC level {e['level']} PDE {e['pde']:#x} at "
                               f"{e['pde_addr']:#x} for {e['ea']:#x} (PID {e['pid']}) is not "
                               "in the current tree")
        return out

    def _prte0(self, pid):
        mem = self.machine.mem
        patb = self.ptcr & layout.TBL_MASK
        return radix.be64(mem, (radix.be64(mem, patb + 8) & layout.TBL_MASK) + 16 * pid)

    def _leaf(self, pid, ea):
        """The leaf for (pid, ea) in the current tables, without permission or
        R/C checks (process table read 1:1, as PageTables lays it out)."""
        res = radix._walk(self.machine.mem, ea & ((1 << 52) - 1), self._prte0(pid), [])
        return res if isinstance(res, radix.Translation) else f"DSISR {res:#x}"

    def _path(self, pid, ea):
        """[(address, entry)] of the valid directory entries a walk reads."""
        mem, root, path = self.machine.mem, self._prte0(pid), []
        base, nls, shift = root & radix.NLB_MASK, root & radix.NLS_MASK, 52
        while nls and len(path) < 3:
            shift -= nls
            addr = (base & ~((1 << (nls + 3)) - 1)) + 8 * ((ea >> shift) & ((1 << nls) - 1))
            entry = radix.be64(mem, addr)
            if not entry & radix.V or entry & radix.LEAF:
                break
            path.append((addr, entry))
            base, nls = entry & radix.NLB_MASK, entry & radix.NLS_MASK
        return path

    # ------------------------------------------------------------ running code
    def run_asm(self, source, threads=1, max_cycles=10**9, exact=False, dumps=(),
                filename="prog.s"):
        """Assemble `source`, load it at 0 (below the tables), start `threads`
        threads at _start in hypervisor real mode with this machine's PTCR and
        LPCR[HR|UPRT], and run.  TLBs, PWCs and tables are kept."""
        from powersim.asm import assemble
        from powersim.machine.exec import _results
        m = self.machine
        img = assemble(source, base=0, filename=filename)
        if "_start" not in img.symbols:
            raise PowersimError(f"{filename}: no `_start` symbol")
        patb = self.ptcr & layout.TBL_MASK
        if len(img.data) > patb:
            raise PowersimError(f"{filename}: image of {len(img.data)} bytes reaches the page "
                                f"tables at {patb:#x} (allowed: below it)")
        dumps = tuple((int(a), int(n)) for a, n in dumps)
        m.load(img.data, 0)
        m.start(img.symbols["_start"], threads)
        for t in range(m.nthreads):
            self._mmu_sprs(t)
        m.prepare()
        t0 = time.perf_counter()
        m.run(max_cycles, exact)
        return _results(m, dumps, time.perf_counter() - t0)
