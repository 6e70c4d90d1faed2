"""The MMU edge cases reached from assembly run on the machine: the program
sets LPCR/PTCR/PIDR itself, turns MSR[DR]/[IR] on with mtmsrd/rfid, edits
big-endian table entries with stdbrx/ldbrx, takes DSI/DSeg/ISI in its own
handlers (placed with .org) and does ptesync/tlbie/tlbsync itself.

Page tables come from MMUTest's builder (m.pt) in the same memory; the
program is loaded at 0 and records what it saw in RESULTS (real address).
"""

import re

from powersim import radix as rx
from powersim.asm import Builder, assemble

RESULTS = 0x8000                 # below the page tables (checked in prog())
EA = 0x2_0000_0000               # quadrant 0, PID 1
RA = 0x40_0000
RA2 = 0x50_0000                  # both below MMUTest's tables (memory // 2)
MSR_IR, MSR_DR = 1 << 5, 1 << 4
MSR_START = (1 << 63) | (1 << 60) | (1 << 12) | 1   # SF|HV|ME|LE (docs/CONTRACTS.md)
RB_EA_64K = EA | rx.AP[16] << 5  # tlbie RB for EA's 64K page ([ISA-tlbie])

# A DSI handler recording DSISR, DAR, SRR0 at r31 (post-incremented), then
# running the fix-up code at label `fixup` (which ends with rfid).
RECORD_DSI = """
    .org 0x300
    mfspr r20, 18
    mfspr r21, 19
    mfspr r22, 26
    std r20, 0(r31)
    std r21, 8(r31)
    std r22, 16(r31)
    addi r31, r31, 24
    b fixup
"""

PROLOGUE = """
    .org 0x1000
_start:
    mfspr r4, 318
    oris r4, r4, {lpcr_hi:#x}       # LPCR[UPRT|HR]: radix host [L-reg]
    mtspr 318, r4
    li64 r4, {ptcr:#x}
    mtspr 464, r4                   # PTCR
    li r4, 1
    mtspr 48, r4                    # PIDR = 1
    isync
    li64 r31, {records:#x}
    li64 r29, {ea:#x}
"""

DR_ON = """
    mfmsr r5
    ori r5, r5, 0x10
    mtmsrd r5
    isync
"""


def prog(w, body: str, handlers: str = RECORD_DSI, **values) -> tuple[str, dict]:
    """The full source and its symbols."""
    assert w.pt.patb >= 0x10000, "MMUTest's tables must leave room for the program"
    src = handlers + PROLOGUE.format(lpcr_hi=(0x0040_0000 | 0x0010_0000) >> 16,
                                     ptcr=w.pt.ptcr, records=RESULTS + 0x100, ea=EA) + body
    src = src.format(**values) if values else src
    # `li64 rN, VALUE` is the Builder's macro, not an assembler mnemonic
    src = re.sub(r"^\s*li64 (r\d+), (\S+)\n",
                 lambda mo: Builder().li64(mo[1], int(mo[2], 0)).text(), src, flags=re.M)
    return src, assemble(src).symbols


def run(w, src):
    res = w.m.run_asm(src, threads=1, max_cycles=2_000_000)
    t = res.threads[0]
    assert t.halted, "the program did not reach attn"
    return t


def records(w, n):
    """n DSI records (DSISR, DAR, SRR0) from the handler, little-endian."""
    words = w.mem[RESULTS + 0x100:RESULTS + 0x100 + 24 * n].view("<u8")
    return [tuple(int(x) for x in words[3 * i:3 * i + 3]) for i in range(n)]


def put_le(w, ra, value):
    w.mem[ra:ra + 8] = list(value.to_bytes(8, "little"))


def test_dsi_on_missing_pte_handler_installs_it_and_the_load_retries(w):
    w.pt.map(1, EA + 0x1_0000, RA + 0x1_0000, "64K", rx.READ)   # creates the PTE table
    pte_addr = w.pt.entry_addr(1, EA, 16, create=False)
    assert rx.be64(w.mem, pte_addr) == 0
    put_le(w, RA + 0x28, 0xFEED_0000_0000_0028)
    pte = rx.V | rx.LEAF | RA | rx.R | rx.C | rx.READ | rx.RW
    src, sym = prog(w, DR_ON + """
load:
    ld r6, 0x28(r29)
    attn
fixup:
    li64 r24, {pte:#x}
    li64 r25, {pte_addr:#x}
    stdbrx r24, 0, r25              # table entries are big-endian
    ptesync
    rfid
""", pte=pte, pte_addr=pte_addr)
    t = run(w, src)
    assert t.gpr[6] == 0xFEED_0000_0000_0028
    assert t.gpr[31] == RESULTS + 0x100 + 24                       # exactly one DSI
    assert records(w, 1) == [(rx.DSISR_NOPTE, EA + 0x28, sym["load"])]
    assert rx.be64(w.mem, pte_addr) == pte


def test_store_to_read_only_page_handler_upgrades_and_flushes(w):
    pte_addr = w.pt.map(1, EA, RA, "64K", rx.READ)
    src, sym = prog(w, DR_ON + """
    li r7, 0x5A
store:
    std r7, 0x30(r29)
    attn
fixup:
    li64 r25, {pte_addr:#x}
    ldbrx r9, 0, r25
    ori r9, r9, {rw}
    stdbrx r9, 0, r25
    ptesync
    li64 r10, {rb:#x}
    li r11, 1
    sldi r11, r11, 32               # RS = PID 1 << 32
    tlbiel r10, r11, 0, 1, 1
    ptesync
    rfid
""", pte_addr=pte_addr, rw=rx.RW, rb=RB_EA_64K)
    t = run(w, src)
    assert records(w, 1) == [(0x0A00_0000, EA + 0x30, sym["store"])]   # PROT|ISSTORE
    assert t.gpr[31] == RESULTS + 0x100 + 24
    assert int(w.mem[RA + 0x30:RA + 0x38].view("<u8")[0]) == 0x5A


def test_rc_faults_handler_sets_r_then_c(w):
    """POWER9 raises DSI 0x00040000 for R, 0x02040000 for C on a store
    ([P9-rc]); the handler sets what the access needs, like Linux."""
    pte_addr = w.pt.map(1, EA, RA, "64K", rx.READ | rx.RW, rc=False)
    src, sym = prog(w, DR_ON + """
load1:
    ld r6, 0(r29)
    li r7, 0x33
store:
    std r7, 8(r29)
load2:
    ld r8, 8(r29)
    attn
fixup:
    li64 r25, {pte_addr:#x}
    ldbrx r9, 0, r25
    ori r9, r9, {r_bit}
    andis. r10, r20, {isstore_hi:#x}
    beq 1f
    ori r9, r9, {c_bit}
1:  stdbrx r9, 0, r25
    ptesync
    rfid
""", pte_addr=pte_addr, r_bit=rx.R, c_bit=rx.C, isstore_hi=rx.DSISR_ISSTORE >> 16)
    t = run(w, src)
    assert records(w, 2) == [(rx.DSISR_SET_RC, EA, sym["load1"]),
                             (rx.DSISR_SET_RC | rx.DSISR_ISSTORE, EA + 8, sym["store"])]
    assert t.gpr[31] == RESULTS + 0x100 + 48          # the second load did not fault
    assert t.gpr[8] == 0x33
    assert rx.be64(w.mem, pte_addr) & (rx.R | rx.C) == rx.R | rx.C


def test_stale_tlb_entry_until_tlbie_tlbsync_ptesync(w):
    """The program edits its PTE through the kernel linear map (quadrant 3)
    with DR on: the old translation stays in use until the global
    invalidation sequence of [L-tlb] _tlbie_va."""
    pte_addr = w.pt.map(1, EA, RA, "64K", rx.READ | rx.RW)
    put_le(w, RA, 0x1111)
    put_le(w, RA2, 0x2222)
    new_pte = rx.be64(w.mem, pte_addr) & ~rx.RPN_MASK | RA2
    src, _ = prog(w, DR_ON + """
    ld r6, 0(r29)
    li64 r24, {new_pte:#x}
    li64 r25, {linear_pte:#x}
    stdbrx r24, 0, r25
    ptesync
    ld r7, 0(r29)                   # still the old page
    li64 r10, {rb:#x}
    li r11, 1
    sldi r11, r11, 32
    tlbie r10, r11, 0, 1, 1
    eieio
    tlbsync
    ptesync
    ld r8, 0(r29)                   # the new page
    attn
fixup:
    attn
""", new_pte=new_pte, linear_pte=0xC000_0000_0000_0000 | pte_addr, rb=RB_EA_64K)
    t = run(w, src)
    assert (t.gpr[6], t.gpr[7], t.gpr[8]) == (0x1111, 0x1111, 0x2222)
    assert t.gpr[31] == RESULTS + 0x100               # no DSI at all
    assert w.m.invariant_violations() == []


def test_ea_beyond_52_bits_takes_the_data_segment_interrupt(w):
    w.pt.map(1, EA, RA, "64K", rx.READ)
    put_le(w, RA + 0x10, 0xABCD)
    handlers = """
    .org 0x380
    mfspr r21, 19
    mfspr r22, 26
    std r21, 8(r31)
    std r22, 16(r31)
    addi r31, r31, 24
    addi r22, r22, 4                # step over the access
    mtspr 26, r22
    rfid
"""
    src, sym = prog(w, DR_ON + """
    li64 r28, {bad:#x}
bad_load:
    ld r6, 0(r28)
    ld r7, 0x10(r29)
    attn
""", handlers=handlers, bad=EA | 1 << 52)
    t = run(w, src)
    assert records(w, 1) == [(0, EA | 1 << 52, sym["bad_load"])]  # DSISR not recorded
    assert t.gpr[31] == RESULTS + 0x100 + 24
    assert t.gpr[7] == 0xABCD                                    # the next access works


def test_instruction_fetch_through_translation_and_isi_on_no_execute(w):
    """rfid to the program's own code through an executable mapping of RA 0,
    which then branches to a read-only page: ISI, SRR1 0x10000000, SRR0 = its EA."""
    w.pt.map(1, EA, 0, "64K", rx.READ | rx.EXEC)                # the program, executable
    w.pt.map(1, EA + 0x1_0000, RA, "64K", rx.READ)             # no execute
    handlers = """
    .org 0x400
    mfspr r21, 26
    mfspr r22, 27
    attn
"""
    src, _ = prog(w, """
    li64 r4, {ea:#x}
    ori r4, r4, user                # the EA of `user` (the program sits at RA 0)
    mtspr 26, r4
    mfmsr r4
    ori r4, r4, {irdr}
    mtspr 27, r4
    rfid
user:
    li r10, 0x77
    li64 r4, {nx:#x}
    mtctr r4
    bctr
""", handlers=handlers, ea=EA, irdr=MSR_IR | MSR_DR, nx=EA + 0x1_0000)
    t = run(w, src)
    assert t.gpr[10] == 0x77                                     # translated fetch ran
    assert t.gpr[21] == EA + 0x1_0000
    srr1 = t.gpr[22]
    assert srr1 & 0x580C_0000 == rx.SRR1_ISI_N_G                 # cause bits ([ISA-radix])
    assert srr1 & 0xFFFF == (MSR_START | MSR_IR | MSR_DR) & 0xFFFF


def test_tlbie_from_one_core_reaches_a_thread_of_another(w):
    """Thread 4 (core 1) caches the old translation; thread 0 (core 0) edits
    the PTE and runs tlbie; eieio; tlbsync; ptesync, then raises a flag; after
    the flag thread 4 must see the new page (its TLB and ERAT were hit)."""
    pte_addr = w.pt.map(1, EA, RA, "64K", rx.READ | rx.RW)
    put_le(w, RA, 0x1111)
    put_le(w, RA2, 0x2222)
    new_pte = rx.be64(w.mem, pte_addr) & ~rx.RPN_MASK | RA2
    src, _ = prog(w, """
    cmpdi r3, 0
    beq writer
    cmpdi r3, 4
    beq reader
    attn
reader:""" + DR_ON + """
    ld r6, 0(r29)                   # the old page, now cached on core 1
    li64 r9, {flags:#x}
    li r10, 1
    std r10, 0(r9)                  # flag 0: cached
1:  ld r11, 8(r9)
    cmpdi r11, 0
    beq 1b                          # wait for flag 1: invalidated
    ld r7, 0(r29)
    attn
writer:""" + DR_ON + """
    li64 r9, {flags:#x}
1:  ld r11, 0(r9)
    cmpdi r11, 0
    beq 1b
    li64 r24, {new_pte:#x}
    li64 r25, {linear_pte:#x}
    stdbrx r24, 0, r25
    ptesync
    li64 r10, {rb:#x}
    li r11, 1
    sldi r11, r11, 32
    tlbie r10, r11, 0, 1, 1
    eieio
    tlbsync
    ptesync
    li r10, 1
    std r10, 8(r9)
    attn
fixup:
    attn
""", flags=0xC000_0000_0000_0000 | RESULTS, new_pte=new_pte,
        linear_pte=0xC000_0000_0000_0000 | pte_addr, rb=RB_EA_64K)
    res = w.m.run_asm(src, threads=5, max_cycles=2_000_000)
    assert all(t.halted for t in res.threads[:5])
    assert (res.threads[4].gpr[6], res.threads[4].gpr[7]) == (0x1111, 0x2222)
    assert res.threads[0].gpr[31] == res.threads[4].gpr[31] == RESULTS + 0x100  # no DSI


def test_context_switch_by_mtspr_pidr_needs_no_invalidation(w):
    """TLB entries are PID-tagged: after mtspr PIDR the same EA reaches the
    other process's page at once (Linux switch_mm on radix issues no tlbie)."""
    w.pt.map(1, EA, RA, "64K", rx.READ)
    w.pt.map(2, EA, RA2, "64K", rx.READ)
    put_le(w, RA, 0x1111)
    put_le(w, RA2, 0x2222)
    src, _ = prog(w, DR_ON + """
    ld r6, 0(r29)
    li r4, 2
    mtspr 48, r4                    # PIDR = 2
    isync
    ld r7, 0(r29)
    li r4, 1
    mtspr 48, r4                    # and back
    isync
    ld r8, 0(r29)
    attn
fixup:
    attn
""")
    t = run(w, src)
    assert (t.gpr[6], t.gpr[7], t.gpr[8]) == (0x1111, 0x2222, 0x1111)
    assert [e["pid"] for e in w.m.tlb_entries(0) if e["ea"] == EA] in ([1, 2], [2, 1])


def test_hardware_rc_update_parameter_in_running_code(world):
    """With rc_hw_update (not POWER9's behaviour, [P9-rc]) the same
    accesses complete without a DSI and leave R and C set in the PTE."""
    from powersim.machine.params import MachineParams
    w = world(params=MachineParams(rc_hw_update=True))
    pte_addr = w.pt.map(1, EA, RA, "64K", rx.READ | rx.RW, rc=False)
    src, _ = prog(w, DR_ON + """
    ld r6, 0(r29)
    li r7, 0x44
    std r7, 8(r29)
    attn
fixup:
    attn
""")
    t = run(w, src)
    assert t.gpr[31] == RESULTS + 0x100                          # no DSI
    assert int(w.mem[RA + 8:RA + 16].view("<u8")[0]) == 0x44
    assert rx.be64(w.mem, pte_addr) & (rx.R | rx.C) == rx.R | rx.C
