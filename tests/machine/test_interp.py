"""Architected semantics of single instructions, checked against values
computed here in Python (the QEMU differential tests cover more)."""

import pytest

from conftest import HANDLERS

M64 = (1 << 64) - 1


def li64(reg, v):
    """Load a 64-bit constant with lis/ori/sldi/oris/ori."""
    v &= M64
    return (f"lis {reg}, {(v >> 48) - ((v >> 63) << 16)}\n ori {reg}, {reg}, {(v >> 32) & 0xFFFF}\n"
            f" sldi {reg}, {reg}, 32\n oris {reg}, {reg}, {(v >> 16) & 0xFFFF}\n"
            f" ori {reg}, {reg}, {v & 0xFFFF}\n")


def run_op(run, setup, body):
    src = "_start:\n" + "".join(li64(r, v) for r, v in setup.items()) + body + "\n attn\n"
    return run(src).threads[0]


@pytest.mark.parametrize("a,b", [(1, 2), (M64, 1), (1 << 63, 1 << 63), (0x7FFFFFFFFFFFFFFF, 1),
                                 (0xFFFFFFFF, 1)])
def test_add_carry_overflow(run, a, b):
    t = run_op(run, {"r4": a, "r5": b}, "addco. r3, r4, r5\n mfxer r6\n mfcr r7")
    s = (a + b) & M64
    assert t.gpr[3] == s
    ca = (a + b) >> 64
    sa, sb, ss = [(x ^ (1 << 63)) - (1 << 63) for x in (a, b, s)]
    ov = int(sa + sb != ss)
    ca32 = ((a & 0xFFFFFFFF) + (b & 0xFFFFFFFF)) >> 32
    xer = t.gpr[6]
    assert (xer >> 29) & 1 == ca and (xer >> 30) & 1 == ov and (xer >> 31) & 1 == ov
    assert (xer >> 18) & 1 == ca32
    lt, gt, eq = ss < 0, ss > 0, ss == 0
    assert (t.gpr[7] >> 28) == (lt << 3 | gt << 2 | eq << 1 | ov)


def test_subf_extended_chain(run):
    # 128-bit subtraction through subfc/subfe
    a, b = (5 << 64) | 3, (2 << 64) | 7
    t = run_op(run, {"r4": a & M64, "r5": a >> 64, "r6": b & M64, "r7": b >> 64},
               "subfc r8, r6, r4\n subfe r9, r7, r5")
    d = a - b
    assert (t.gpr[9] << 64 | t.gpr[8]) == d


@pytest.mark.parametrize("x", [0x123456789ABCDEF0, 0xFEDCBA9876543210, 1, 0])
def test_rotates_and_counts(run, x):
    t = run_op(run, {"r4": x},
               "rldicl r5, r4, 8, 16\n rlwinm r6, r4, 4, 8, 27\n cntlzd r7, r4\n"
               " popcntd r8, r4\n sradi r9, r4, 4\n srdi r10, r4, 12\n cnttzd r11, r4")
    rot = ((x << 8) | (x >> 56)) & M64
    assert t.gpr[5] == rot & (M64 >> 16)
    w = x & 0xFFFFFFFF
    r32 = ((w << 4) | (w >> 28)) & 0xFFFFFFFF
    assert t.gpr[6] == r32 & (((1 << 20) - 1) << 4)   # MB=8..ME=27, IBM numbering
    assert t.gpr[7] == (64 - x.bit_length())
    assert t.gpr[8] == bin(x).count("1")
    sx = (x ^ (1 << 63)) - (1 << 63)
    assert t.gpr[9] == (sx >> 4) & M64
    assert t.gpr[10] == x >> 12
    assert t.gpr[11] == (64 if x == 0 else (x & -x).bit_length() - 1)


@pytest.mark.parametrize("a,b", [(7, -2), (-7, 2), (1 << 40, 3), (-(1 << 63), -1),
                                 (-(1 << 63), 3), (5, -(1 << 63))])
def test_mul_div(run, a, b):
    t = run_op(run, {"r4": a, "r5": b},
               "mulld r6, r4, r5\n mulhd r7, r4, r5\n mulhdu r8, r4, r5\n divd r9, r4, r5\n"
               " divdu r10, r4, r5")
    ua, ub = a & M64, b & M64
    assert t.gpr[6] == (a * b) & M64
    assert t.gpr[7] == ((a * b) >> 64) & M64
    assert t.gpr[8] == (ua * ub) >> 64
    if not (a == -(1 << 63) and b == -1):
        q = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
        assert t.gpr[9] == q & M64
    assert t.gpr[10] == ua // ub


def test_loads_stores_endianness(run):
    t = run_op(run, {"r4": 0x1122334455667788, "r9": 0x2000},
               "std r4, 0(r9)\n lwz r5, 0(r9)\n lhz r6, 6(r9)\n lbz r7, 1(r9)\n"
               " ldbrx r8, 0, r9\n lwa r10, 4(r9)\n stwbrx r4, r0, r9\n lwz r11, 0(r9)\n"
               " li r12, 0x2008\n stdu r4, 8(r9)")
    assert t.gpr[5] == 0x55667788 and t.gpr[6] == 0x1122 and t.gpr[7] == 0x77
    assert t.gpr[8] == 0x8877665544332211
    assert t.gpr[10] == 0x11223344
    assert t.gpr[11] == 0x88776655
    assert t.gpr[9] == 0x2008


def test_unaligned_and_dump(run):
    res = run("_start:\n li r9, 0x2001\n lis r4, 0x1234\n ori r4, r4, 0x5678\n stw r4, 0(r9)\n"
              " lwz r5, 0(r9)\n attn\n", dumps=((0x2000, 8),))
    assert res.threads[0].gpr[5] == 0x12345678
    assert res.dumps[0x2000] == bytes([0, 0x78, 0x56, 0x34, 0x12, 0, 0, 0])


def test_branches_cr_and_ctr(run):
    t = run_op(run, {}, """
    li r3, 0
    li r4, 10
    mtctr r4
1:  addi r3, r3, 1
    bdnz 1b
    cmpdi cr3, r3, 10
    li r5, 0
    bne cr3, 2f
    li r5, 1
2:  bl sub
    b 3f
sub: li r6, 7
    blr
3:  crxor 0, 14, 14
    mfcr r7
    li r8, 1
    li r9, 2
    isel r10, r8, r9, 14
""")
    assert t.gpr[3] == 10 and t.gpr[5] == 1 and t.gpr[6] == 7
    assert (t.gpr[7] >> 28) & 8 == 0       # crxor cleared cr0.lt
    assert (t.gpr[7] >> (28 - 12)) & 0xF == 2   # cr3 = EQ
    assert t.gpr[10] == 1                  # cr3.eq (bit 14) is set


def test_illegal_word_raises_heai(run):
    res = run(HANDLERS + "_start:\n li r3, 1\nbad: .long 0\n attn\n")
    t = res.threads[0]
    assert t.stats["int_e40"] == 1
    assert t.gpr[20] == 0x1004            # HSRR0 = the illegal word
    assert t.gpr[21] & 1                  # HSRR1 = MSR (LE set)


def test_trap_raises_program(run):
    t = run(HANDLERS + "_start:\n nop\n trap\n").threads[0]
    assert t.stats["int_700"] == 1
    assert t.gpr[20] == 0x1004
    assert t.gpr[21] & 0x00020000         # SRR1_PROGTRAP [L-reg]


def test_privileged_in_problem_state(run):
    # rfid to problem state, then mfmsr is privileged
    t = run(HANDLERS + """_start:
    lis r4, user@h
    ori r4, r4, user@l
    mtspr 26, r4
    mfmsr r5
    ori r5, r5, 0x4000
    mtspr 27, r5
    rfid
user: mfmsr r6
    attn
""").threads[0]
    assert t.stats["int_700"] == 1
    assert t.gpr[21] & 0x00040000         # SRR1_PROGPRIV [L-reg]
    assert t.gpr[21] & 0x4000             # came from PR = 1
    assert t.gpr[20] == 0x101c


def test_system_call(run):
    t = run(HANDLERS + "_start:\n li r3, 9\n sc\n").threads[0]
    assert t.stats["int_c00"] == 1 and t.gpr[20] == 0x1008


def test_store_into_code_is_redecoded(run):
    t = run_op(run, {}, """
    li r7, 0
    lis r8, 0x38a0
    ori r8, r8, 42      # li r5, 42
    lis r9, patch@h
    ori r9, r9, patch@l
again:
patch: li r5, 1
    addi r7, r7, 1
    cmpdi r7, 2
    beq done
    stw r8, 0(r9)
    b again
done:
""")
    assert t.gpr[5] == 42 and t.gpr[7] == 2


def test_decrementer_interrupt_wakes_spinner(run):
    t = run("""
    .org 0x900
    mftb r20
    attn
    .org 0x1000
_start:
    li r4, 1000
    mtdec r4
    mftb r5
    li r6, 0x100
    ori r6, r6, 0x8000
    mtmsrd r6, 1        # EE on
1:  b 1b
""").threads[0]
    assert t.stats["int_900"] == 1 and t.stats["spin_sleeps"] == 1
    assert t.gpr[20] - t.gpr[5] >= 1000
    assert t.instructions < 100


def test_parameter_validation_names_the_parameter():
    from powersim.machine.params import MachineParams, ParamError
    import attrs
    with pytest.raises(ParamError, match=r"lat_l2 = 0: allowed 1\.\.1000 cycles"):
        attrs.evolve(MachineParams(), lat_l2=0).validate()
    with pytest.raises(ParamError, match="stop_ns .* needs 16 entries"):
        attrs.evolve(MachineParams(), stop_ns=(1, 2)).validate()
    with pytest.raises(ParamError, match="memory = 1048581: must be a multiple of 4096"):
        attrs.evolve(MachineParams(), memory=(1 << 20) + 5).validate()
    rows = MachineParams.describe()
    assert all(unit and doc and source for _, _, unit, doc, source in rows)
