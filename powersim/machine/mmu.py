"""The radix MMU: micro-cache and ERAT, TLB, page walk cache, the table
walk and translation with its faults, tlbie/tlbiel over the fabric, and
the entry of the powersim.mmu test API (``mmu_call``).

Radix MMU ([L-pgt], [Q-rad], [L-tlb])
-------------------------------------
MSR[IR]/[DR] with LPCR[HR] select radix translation: PTCR -> PATE -> PRTE
(through the partition-scoped tree) -> tree, with the checks and faults of
powersim.radix.reference_translate.  Per core: a TLB (1024 entries, 4-way,
LRU per row), a page walk cache of level 0-2 PDEs and cached PATE/PRTEs; every table
entry fetched goes through the latency model.  A per-thread micro-cache of
the last data and instruction page lets most accesses skip the TLB lookup
without changing timing.  TLB lookups and walks are ordered operations (they
read tables other threads write).  A tlbie takes effect on every core when
issued; a per-chip engine and per-core acknowledgements time it, and tlbsync
sleeps until the last acknowledgement.  In fast mode a thread that runs ahead
within its quantum may still use a translation removed by a tlbie issued at
an earlier clock; exact mode never does.
"""

from powersim.machine.bits import bswap, srl
from powersim.machine.jit import jit
from powersim.machine.layout import (
    ACC_FETCH, ACC_LOAD, ACC_STORE, ATT_MASK, ATT_NI_IO, DSISR_BADTREE, DSISR_ISSTORE,
    DSISR_NOPTE, DSISR_PROTFAULT, DSISR_PRTABLE, DSISR_SET_RC, EA52, EAA_EXEC, EAA_PRIV,
    EAA_READ, EAA_RW, ERAT_MAX, LINE_SHIFT, LPCR_HR, M32, MC_LOAD, MC_STORE, MM_PATE0,
    MM_PATE1, MM_PATE_V, MM_PRTE, MM_STAMP, MM_TLBIE_FREE, MSR_DR, MSR_HV, MSR_IR, MSR_PR,
    NLB_MASK, PATE_HR, PE_LEVEL, PE_LPID, PE_LRU, PE_PDE, PE_PDEA, PE_PID, PE_TAG, PE_V,
    PRTE_SLOTS, PR_CORES_PER_CHIP, PR_COST_PTESYNC, PR_COST_TLBIE, PR_COST_TLBIEL,
    PR_COST_TLBSYNC, PR_ERAT_ENTRIES, PR_ERAT_MISS, PR_LAT_L1, PR_MEMORY, PR_PWC_ENTRIES,
    PR_PWC_WAYS, PR_RC_HW_UPDATE, PR_SMT, PR_TLBIE_APPLY, PR_TLBIE_CHIP, PR_TLBIE_OCCUPANCY,
    PR_TLBIE_XCHIP, PTE_C, PTE_LEAF, PTE_R, PTE_V, RA_MASK, RPN_MASK, SEG_MASK, SPR_AMR,
    SPR_DAR, SPR_DSISR, SPR_HDAR, SPR_HDSISR, SPR_IAMR, SPR_LPCR, SPR_LPIDR, SPR_PIDR,
    SPR_PTCR, SRR1_ISI_N_G, ST_ERAT_MISSES, ST_PWC_HITS, ST_TLBIE, ST_TLBIEL, ST_TLB_HITS,
    ST_TLB_MISSES, ST_WALK_READS, TBL_MASK, TE_LPID, TE_LRU, TE_PID, TE_PTE, TE_PTEA,
    TE_SHIFT, TE_TAG, TE_V, TLB_ROWS, TLB_SETS, TLB_WAYS, TS_CHIP, TS_CLK, TS_CORE,
    TS_DDELTA, TS_DPAGE, TS_DPERM, TS_ERAT0, TS_ERAT_NEXT, TS_IPAGE, TS_MSR, TS_STDONE,
    TS_TLBI_ACK,
)
from powersim.machine.memory import FILL_WALK, fill_cost, store_line


@jit()
def mc_flush(ts, t0, n):
    """Empty the micro-caches of threads t0 .. t0 + n - 1."""
    for u in range(t0, t0 + n):
        ts[u, TS_DPAGE] = -1
        ts[u, TS_IPAGE] = -1

@jit()
def erat_flush(ts, t0, n):
    for u in range(t0, t0 + n):
        for k in range(ERAT_MAX):
            ts[u, TS_ERAT0 + k] = 0
    mc_flush(ts, t0, n)

@jit()
def erat_fill(t, ea, shift, ts, prm):
    """Look a translation up in t's ERAT, inserting it on a miss (FIFO; the
    micro-cache must stay a subset, so an eviction empties it).  True on a hit."""
    key = ((ea >> shift) << 5) | shift
    n = prm[PR_ERAT_ENTRIES]
    for k in range(n):
        if ts[t, TS_ERAT0 + k] == key:
            return True
    k = ts[t, TS_ERAT_NEXT]
    if ts[t, TS_ERAT0 + k] != 0:
        mc_flush(ts, t, 1)
    ts[t, TS_ERAT0 + k] = key
    ts[t, TS_ERAT_NEXT] = (k + 1) % n
    return False

@jit()
def table_read(t, addr, clk, m64, ts, cache, stats, prm):
    """One page-table fetch through the cache model: (entry, cycles).  Entries
    are big-endian ([MW], section 3.8); beyond RAM they read as 0 (invalid),
    as radix.reference_translate reads them."""
    stats[t, ST_WALK_READS] += 1
    if addr < 0 or addr + 8 > prm[PR_MEMORY]:
        return 0, prm[PR_LAT_L1]
    c = prm[PR_LAT_L1] + fill_cost(t, addr >> LINE_SHIFT, clk, FILL_WALK, ts, cache, stats, prm)
    return bswap(m64[addr >> 3], 8), c

@jit()
def perm_cause(pte, acc, msr, amr, iamr):
    """Fault cause of `acc` on the leaf `pte`, 0 if allowed: EAA, ATT and AMR/IAMR
    key 0 (section 3.5, [Q-rad] ppc_radix64_check_prot), then R/C (3.10)."""
    fetch = acc == ACC_FETCH
    if fetch and (pte & ATT_MASK) == ATT_NI_IO:
        return SRR1_ISI_N_G
    pr = (msr & MSR_PR) != 0
    if pte & EAA_PRIV and pr:
        allowed = 0
    else:
        allowed = (EAA_READ if pte & (EAA_READ | EAA_RW) else 0) | (pte & (EAA_RW | EAA_EXEC))
        if not pr and not pte & EAA_PRIV:   # kernel access to a user page
            if amr < 0:
                allowed &= ~EAA_RW
            if (amr >> 62) & 1:
                allowed &= ~EAA_READ
            if (iamr >> 62) & 1:
                allowed &= ~EAA_EXEC
    need = EAA_READ if acc == ACC_LOAD else EAA_RW if acc == ACC_STORE else EAA_EXEC
    if not allowed & need:
        return SRR1_ISI_N_G if fetch else DSISR_PROTFAULT
    if not pte & PTE_R or (acc == ACC_STORE and not pte & PTE_C):
        return DSISR_SET_RC
    return 0

@jit()
def ap_shift(ap):
    """Page shift of a tlbie AP code ([SK-dt] radix AP encodings); 0 if none."""
    return 12 if ap == 0 else 16 if ap == 5 else 21 if ap == 1 else 30 if ap == 2 else 0

@jit()
def tlb_row(core, tag, shift):
    return (core * TLB_ROWS + 2 * (tag & (TLB_SETS - 1)) + (1 if shift > 16 else 0)) * TLB_WAYS

@jit()
def pwc_row(core, tag, level, prm):
    sets = prm[PR_PWC_ENTRIES] // prm[PR_PWC_WAYS]
    return (core * sets + ((tag + level) & (sets - 1))) * prm[PR_PWC_WAYS]

@jit()
def victim(arr, b, n):
    """An empty way of row b..b+n-1, else the least recently used (TLB and PWC
    rows share the V = column 0, LRU = column 7 layout)."""
    v = b
    for w in range(b, b + n):
        if arr[w, 0] == 0:
            return w
        if arr[w, 7] < arr[v, 7]:
            v = w
    return v

@jit()
def tlb_find(core, ea, pid, lpid, tlb, mmu):
    """The TLB entry translating `ea` for (pid, lpid), or -1.  The page size is
    not known before the lookup, so every size's row is probed."""
    for k in range(4):
        shift = 12 if k == 0 else 16 if k == 1 else 21 if k == 2 else 30
        tag = ea >> shift
        b = tlb_row(core, tag, shift)
        for w in range(b, b + TLB_WAYS):
            if tlb[w, TE_V] and tlb[w, TE_TAG] == tag and tlb[w, TE_SHIFT] == shift and \
                    tlb[w, TE_PID] == pid and tlb[w, TE_LPID] == lpid:
                mmu[core, MM_STAMP] += 1
                tlb[w, TE_LRU] = mmu[core, MM_STAMP]
                return w
    return -1

@jit()
def tlb_insert(core, ea, shift, pid, lpid, pte, ptea, tlb, mmu, ts, prm):
    tag = ea >> shift
    w = victim(tlb, tlb_row(core, tag, shift), TLB_WAYS)
    if tlb[w, TE_V]:    # the micro-caches must stay a subset of the TLB
        mc_flush(ts, core * prm[PR_SMT], prm[PR_SMT])
    mmu[core, MM_STAMP] += 1
    tlb[w, TE_V] = 1
    tlb[w, TE_TAG] = tag
    tlb[w, TE_SHIFT] = shift
    tlb[w, TE_PID] = pid
    tlb[w, TE_LPID] = lpid
    tlb[w, TE_PTE] = pte
    tlb[w, TE_PTEA] = ptea
    tlb[w, TE_LRU] = mmu[core, MM_STAMP]

@jit()
def walk(t, ea, root, pid, lpid, use_pwc, clk, m64, ts, cache, xl, stats,
         prm):
    """Walk one radix tree from a PATE/PRTE doubleword 0 (section 3.8; the same
    steps as radix._walk), starting below the deepest PDE the page walk cache
    holds when use_pwc.  Returns (DSISR cause or 0, leaf PTE, its address,
    page shift, cycles)."""
    _, pwc, mmu = xl
    if ((srl(root, 58) & 0x18) | (srl(root, 5) & 7)) + 31 != 52:   # RTS: 52-bit trees only
        return DSISR_BADTREE, 0, 0, 0, 0
    core = ts[t, TS_CORE]
    ea52 = ea & EA52
    base = root & NLB_MASK
    nls = root & 0x1F
    shift = 52
    level = 0
    cost = 0
    if use_pwc:
        # levels 0..2 always have 13/9/9 index bits (section 3.7), so the EA
        # bits a cached PDE covers are fixed: 2^39, 2^30, 2^21 bytes
        lv = 2
        while lv >= 0:
            tag = ea52 >> (39 - 9 * lv)
            b = pwc_row(core, tag, lv, prm)
            for w in range(b, b + prm[PR_PWC_WAYS]):
                if pwc[w, PE_V] and pwc[w, PE_TAG] == tag and pwc[w, PE_LEVEL] == lv and \
                        pwc[w, PE_PID] == pid and pwc[w, PE_LPID] == lpid:
                    mmu[core, MM_STAMP] += 1
                    pwc[w, PE_LRU] = mmu[core, MM_STAMP]
                    stats[t, ST_PWC_HITS] += 1
                    base = pwc[w, PE_PDE] & NLB_MASK
                    nls = pwc[w, PE_PDE] & 0x1F
                    shift = 39 - 9 * lv
                    level = lv + 1
                    lv = 0
                    break
            lv -= 1
    while True:
        # POWER9 UM 4.10.4.1 via [Q-rad] ppc_radix64_is_valid_level
        if not ((level == 0 and nls == 13) or ((level == 1 or level == 2) and nls == 9)
                or (level == 3 and (nls == 9 or nls == 5))):
            return DSISR_BADTREE, 0, 0, 0, cost
        shift -= nls
        addr = (base & ~((1 << (nls + 3)) - 1)) + 8 * ((ea52 >> shift) & ((1 << nls) - 1))
        entry, c = table_read(t, addr, clk + cost, m64, ts, cache, stats, prm)
        cost += c
        if not entry & PTE_V:
            return DSISR_NOPTE, 0, 0, 0, cost
        if entry & PTE_LEAF:
            if shift != 12 and shift != 16 and shift != 21 and shift != 30:
                return DSISR_BADTREE, 0, 0, 0, cost     # e.g. a 512G leaf
            return 0, entry, addr, shift, cost
        if use_pwc and level <= 2:
            tag = ea52 >> shift
            w = victim(pwc, pwc_row(core, tag, level, prm), prm[PR_PWC_WAYS])
            mmu[core, MM_STAMP] += 1
            pwc[w, PE_V] = 1
            pwc[w, PE_TAG] = tag
            pwc[w, PE_LEVEL] = level
            pwc[w, PE_PID] = pid
            pwc[w, PE_LPID] = lpid
            pwc[w, PE_PDE] = entry
            pwc[w, PE_PDEA] = addr
            pwc[w, PE_LRU] = mmu[core, MM_STAMP]
        base = entry & NLB_MASK
        nls = entry & 0x1F
        level += 1

@jit()
def xlate(t, ea, acc, msr, clk, m64, ts, sprs, cache, xl, stats, prm):
    """EA -> RA for one access: real mode, or TLB, else PATE -> PRTE -> tree
    with the checks in the order of radix.reference_translate (section 3.8).
    Returns (RA, page shift, leaf PTE, vector or 0, cause, cycles); the cause
    is the DSISR (0x300, 0xE00) or the SRR1 bits (0x400)."""
    tlb, _, mmu = xl
    fetch = acc == ACC_FETCH
    if not msr & (MSR_IR if fetch else MSR_DR):    # real mode: top 4 EA bits ignored
        return ea & RA_MASK, 12, 0, 0, 0, 0
    sp = sprs[t]
    if not sp[SPR_LPCR] & LPCR_HR:
        # the hash MMU (LPCR[HR] = 0) is not modelled: addresses pass untranslated
        return ea & RA_MASK, 12, PTE_R | PTE_C | EAA_READ | EAA_RW | EAA_EXEC, 0, 0, 0
    q = srl(ea, 62)
    hv = (msr & MSR_HV) != 0
    if ea & SEG_MASK or (not hv and (q == 1 or q == 2)):
        return 0, 0, 0, 0x480 if fetch else 0x380, 0, 0
    pid = sp[SPR_PIDR] & M32 if q <= 1 else 0           # quadrants (section 3.6)
    lpid = 0 if hv and (q == 0 or q == 3) else sp[SPR_LPIDR]
    vsi = 0x400 if fetch else 0x300
    store = DSISR_ISSTORE if acc == ACC_STORE else 0
    if lpid != 0:       # guest partitions are not modelled: a bad partition entry
        return 0, 0, 0, 0xE00, DSISR_BADTREE, 0
    core = ts[t, TS_CORE]
    cost = 0
    w = tlb_find(core, ea, pid, lpid, tlb, mmu)
    if w >= 0 and perm_cause(tlb[w, TE_PTE], acc, msr, sp[SPR_AMR],
                             sp[SPR_IAMR]) == DSISR_SET_RC:
        # a cached PTE lacking R/C is re-read rather than faulted on: kernels
        # set R/C in memory with no tlbie after the fault (section 3.10)
        tlb[w, TE_V] = 0
        mc_flush(ts, core * prm[PR_SMT], prm[PR_SMT])
        w = -1
    if w >= 0:
        stats[t, ST_TLB_HITS] += 1
        pte = tlb[w, TE_PTE]
        ptea = tlb[w, TE_PTEA]
        shift = tlb[w, TE_SHIFT]
    else:
        stats[t, ST_TLB_MISSES] += 1
        if mmu[core, MM_PATE_V]:
            pate0 = mmu[core, MM_PATE0]
            pate1 = mmu[core, MM_PATE1]
        else:   # LPID 0: the first entry; PATS cannot exclude it
            patb = sp[SPR_PTCR] & TBL_MASK
            pate0, cost = table_read(t, patb, clk, m64, ts, cache, stats, prm)
            # dw1 shares the line (one access); read only if dw0 was in RAM
            pate1 = bswap(m64[(patb + 8) >> 3], 8) if pate0 & PATE_HR else 0
            if pate0 & PATE_HR and (pate0 & 0x1F) >= 5:
                mmu[core, MM_PATE_V] = 1
                mmu[core, MM_PATE0] = pate0
                mmu[core, MM_PATE1] = pate1
        if not pate0 & PATE_HR or (pate0 & 0x1F) < 5:      # RPDS < 5: [Q-rad]
            return 0, 0, 0, 0xE00, DSISR_BADTREE, cost
        if 16 * pid >= 1 << (12 + (pate1 & 0x1F)):     # beyond PRTS
            return 0, 0, 0, vsi, DSISR_NOPTE | store, cost
        slot = MM_PRTE + 2 * (pid & (PRTE_SLOTS - 1))
        if mmu[core, slot] == pid + 1:
            prte0 = mmu[core, slot + 1]
        else:
            # the PRTE's address goes through the partition-scoped tree ([Q-rad])
            cause, pte, ptea, shift, c = walk(t, (pate1 & TBL_MASK) + 16 * pid, pate0, 0, 0,
                                              False, clk + cost, m64, ts, cache, xl, stats, prm)
            cost += c
            if cause:
                return 0, 0, 0, 0xE00, cause | DSISR_PRTABLE, cost
            mask = (1 << shift) - 1
            prte_ra = (pte & RPN_MASK & ~mask) | (((pate1 & TBL_MASK) + 16 * pid) & mask)
            prte0, c = table_read(t, prte_ra, clk + cost, m64, ts, cache, stats, prm)
            cost += c
            if prte0 == 0:
                return 0, 0, 0, vsi, DSISR_BADTREE | store, cost
            mmu[core, slot] = pid + 1
            mmu[core, slot + 1] = prte0
        cause, pte, ptea, shift, c = walk(t, ea, prte0, pid, lpid, True, clk + cost, m64, ts,
                                          cache, xl, stats, prm)
        cost += c
        if cause:
            return 0, 0, 0, vsi, cause | (store if not fetch else 0), cost
    cause = perm_cause(pte, acc, msr, sp[SPR_AMR], sp[SPR_IAMR])
    if cause == DSISR_SET_RC and prm[PR_RC_HW_UPDATE]:
        # hardware R/C update (not POWER9's behaviour, section 3.10): a store
        # to the PTE through the memory model
        pte |= PTE_R | (PTE_C if acc == ACC_STORE else 0)
        m64[ptea >> 3] = bswap(pte, 8)
        cost += prm[PR_LAT_L1] + fill_cost(t, ptea >> LINE_SHIFT, clk + cost, FILL_WALK, ts, cache,
                                           stats, prm)
        store_line(t, ptea >> LINE_SHIFT, clk + cost, ts, cache)
        cause = 0
    if cause:
        return 0, 0, 0, vsi, cause | (store if not fetch else 0), cost
    if w < 0:
        tlb_insert(core, ea, shift, pid, lpid, pte, ptea, tlb, mmu, ts, prm)
    if prm[PR_ERAT_ENTRIES] and not erat_fill(t, ea, shift, ts, prm) and w >= 0:
        stats[t, ST_ERAT_MISSES] += 1   # a TLB hit that missed the ERAT
        cost += prm[PR_ERAT_MISS]
    mask = (1 << shift) - 1
    return (pte & RPN_MASK & ~mask) | (ea & mask), shift, pte, 0, 0, cost

@jit()
def fault_regs(t, vec, cause, ea, sprs):
    """Set DSISR/DAR (or HDSISR/HDAR) for a translation fault; returns the
    SRR1 reason bits (the cause, for ISI)."""
    sp = sprs[t]
    if vec == 0x300:
        sp[SPR_DSISR] = cause
        sp[SPR_DAR] = ea
    elif vec == 0x380:
        sp[SPR_DAR] = ea
    elif vec == 0xE00:
        sp[SPR_HDSISR] = cause
        sp[SPR_HDAR] = ea
    elif vec == 0x400:
        return cause
    return 0

@jit()
def data_xlate(t, ea, store, msr, clk, m64, ts, sprs, cache, xl, stats,
               prm):
    """Translate a data access that missed the micro-cache and refill it.
    Returns (RA, vector or 0, SRR1 reason, cycles)."""
    acc = ACC_STORE if store else ACC_LOAD
    ra, shift, pte, vec, cause, cost = xlate(t, ea, acc, msr, clk, m64, ts, sprs, cache, xl, stats, prm)
    if vec:
        return 0, vec, fault_regs(t, vec, cause, ea, sprs), cost
    if not msr & MSR_DR:    # dcbz in real mode
        return ra, 0, 0, cost
    sp = sprs[t]
    ts[t, TS_DPAGE] = ea >> 12
    ts[t, TS_DDELTA] = ra - ea
    ts[t, TS_DPERM] = \
        (MC_LOAD if perm_cause(pte, ACC_LOAD, msr, sp[SPR_AMR], sp[SPR_IAMR]) == 0 else 0) | \
        (MC_STORE if perm_cause(pte, ACC_STORE, msr, sp[SPR_AMR], sp[SPR_IAMR]) == 0 else 0)
    return ra, 0, 0, cost

@jit()
def tlbi_core(core, rb, rs, ric, prs, local, xl, ts, prm):
    """Apply one radix tlbie/tlbiel to a core's TLB, PWC and cached table
    entries (section 4.1).  RIC 0: TLB, 1: PWC, 2: both plus cached PRTEs (and
    the PATE for IS = 3 or PRS = 0).  IS 0: the VA of size AP, 1: the PID in
    RS, 2: the LPID, 3: all; tlbiel with IS != 0 only touches congruence class
    SET of the TLB.  Only process-scoped translations are cached here, so
    PRS = 0 reaches just the cached table entries."""
    tlb, pwc, mmu = xl
    is_ = (rb >> 10) & 3
    pid = srl(rs, 32) & M32
    lpid = rs & M32
    if prs and ric != 1:
        shift = ap_shift((rb >> 5) & 7)
        lo = core * TLB_ROWS * TLB_WAYS
        hi = lo + TLB_ROWS * TLB_WAYS
        if is_ == 0:
            # an entry of (tag, size) lives only in tlb_row(tag, size): one row
            # holds every entry a VA invalidation can match (none if AP is not
            # a radix page size)
            lo = tlb_row(core, rb >> shift, shift) if shift else 0
            hi = lo + TLB_WAYS if shift else 0
        elif local:
            lo = (core * TLB_ROWS + 2 * ((rb >> 12) & (TLB_SETS - 1))) * TLB_WAYS
            hi = lo + 2 * TLB_WAYS
        for w in range(lo, hi):
            if tlb[w, TE_V] and (is_ == 3 or (tlb[w, TE_LPID] == lpid and (
                    is_ == 2 or (tlb[w, TE_PID] == pid and (is_ == 1 or (
                        tlb[w, TE_SHIFT] == shift and tlb[w, TE_TAG] == rb >> shift)))))):
                tlb[w, TE_V] = 0
    if prs and ric != 0:
        ways = prm[PR_PWC_ENTRIES]      # sets x ways
        rows = 1 if is_ != 0 else 3
        for lv in range(rows):
            if is_ == 0:
                # a PDE of level lv and tag lives only in pwc_row(tag, lv): the
                # three rows (levels 0..2) the VA's tags select hold every match
                lo = pwc_row(core, (rb & EA52) >> (39 - 9 * lv), lv, prm)
                hi = lo + prm[PR_PWC_WAYS]
            else:
                lo = core * ways
                hi = lo + ways
            for w in range(lo, hi):
                if pwc[w, PE_V] and (is_ == 3 or (pwc[w, PE_LPID] == lpid and (
                        is_ == 2 or (pwc[w, PE_PID] == pid and (is_ == 1 or (
                            pwc[w, PE_TAG] == (rb & EA52) >> (39 - 9 * pwc[w, PE_LEVEL]))))))):
                    pwc[w, PE_V] = 0
    if ric == 2:
        for k in range(PRTE_SLOTS):
            if not prs or is_ >= 2 or mmu[core, MM_PRTE + 2 * k] == pid + 1:
                mmu[core, MM_PRTE + 2 * k] = 0
        if not prs or is_ == 3:
            mmu[core, MM_PATE_V] = 0
    erat_flush(ts, core * prm[PR_SMT], prm[PR_SMT])

@jit()
def tlbi(t, local, rb, rs, ric, prs, r, clk, ts, xl, stats, prm):
    """tlbiel: this core, at once.  tlbie: through the issuing chip's tlbie
    engine (one at a time, `tlbie_occ` each), delivered to every core after
    `tlbie_chip`/`tlbie_xchip`; a core acknowledges once its threads' stores
    are performed (section 9.3) plus `tlbie_apply`.  TS_TLBI_ACK keeps the
    latest acknowledgement for tlbsync.  The invalidation itself is applied
    at issue (the architecture allows any time before tlbsync completes).
    R = 0 (hash format) finds nothing to invalidate.  Returns the new clock."""
    _, _, mmu = xl
    smt = prm[PR_SMT]
    if local:
        stats[t, ST_TLBIEL] += 1
        if r:
            tlbi_core(ts[t, TS_CORE], rb, rs, ric, prs, True, xl, ts, prm)
        return clk + prm[PR_COST_TLBIEL]
    stats[t, ST_TLBIE] += 1
    chip = ts[t, TS_CHIP]
    eng = chip * prm[PR_CORES_PER_CHIP]         # the engine's state lives in the chip's first core row
    start = max(clk, mmu[eng, MM_TLBIE_FREE])
    mmu[eng, MM_TLBIE_FREE] = start + prm[PR_TLBIE_OCCUPANCY]
    ack = ts[t, TS_TLBI_ACK]
    for k in range(ts.shape[0] // smt):
        if r:
            tlbi_core(k, rb, rs, ric, prs, False, xl, ts, prm)
        arrive = start + (prm[PR_TLBIE_CHIP] if ts[k * smt, TS_CHIP] == chip
                          else prm[PR_TLBIE_XCHIP])
        for u in range(k * smt, (k + 1) * smt):
            arrive = max(arrive, ts[u, TS_STDONE])
        ack = max(ack, arrive + prm[PR_TLBIE_APPLY])
    ts[t, TS_TLBI_ACK] = ack
    return clk + prm[PR_COST_TLBIE]

@jit()
def spr_mmu(t, n, ts, xl, prm):
    """Translation effects of an mtspr ([MW] notes, section 4.1): PIDR, LPIDR,
    AMR, IAMR, LPCR change this thread's translations; PTCR drops every
    translation the core holds."""
    erat_flush(ts, t, 1)
    if n == SPR_PTCR:
        tlbi_core(ts[t, TS_CORE], 3 << 10, 0, 2, 1, False, xl, ts, prm)

@jit()
def mmu_call(kind, t, args, m64, ts, sprs, cache, xl, stats, prm):
    """The entry of the powersim.mmu test API (the same functions the
    interpreter runs).  kind 0: translate EA a for access b on thread t ->
    (RA, shift, vector, cause, cycles); 1/2: tlbie/tlbiel RB=a RS=b RIC=c
    PRS=d R=e; 3: tlbsync; 4: ptesync (both advance t's clock); 5: mtspr SPR a
    = b with its translation effects (no time).  args = (a, b, c, d, e)."""
    a, b, c, d, e = args
    clk = ts[t, TS_CLK]
    if kind == 5:
        sprs[t, a] = b
        spr_mmu(t, a, ts, xl, prm)
        return 0, 0, 0, 0, 0
    if kind == 0:
        ra, shift, pte, vec, cause, cost = xlate(t, a, b, ts[t, TS_MSR], clk, m64, ts, sprs,
                                                 cache, xl, stats, prm)
        return ra, shift, vec, cause, cost
    if kind == 1 or kind == 2:
        ts[t, TS_CLK] = tlbi(t, kind == 2, a, b, c, d, e, clk, ts, xl, stats, prm)
    else:
        ts[t, TS_CLK] = max(clk + prm[PR_COST_TLBSYNC if kind == 3 else PR_COST_PTESYNC],
                            ts[t, TS_TLBI_ACK], ts[t, TS_STDONE] if kind == 4 else 0)
    return 0, 0, 0, 0, ts[t, TS_CLK] - clk
