"""powersim.isa without external tools: round trips, strict decoding,
predecoded rows (powersim/ops.py layout) and table validation."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from powersim import isa, ops
from powersim.errors import EncodeError, PowersimError

T = isa.table()
INSNS = T.insns


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(INSNS), st.integers(0, 0xFFFFFFFF))
def test_decode_encode_round_trip(ins, bits):
    """Any field values under a form's fixed bits decode to that instruction
    (unless an invalid form) and encode back to the same word, up to the
    fields the row's "set" computes (a one-bit mtcrf mask becomes mtocrf)."""
    word = ins.match | (bits & ~ins.mask & 0xFFFFFFFF)
    d = T.decode(word)
    if d is None:
        assert ins.invalid is not None and ins.invalid(
            {f.name: f.extract(word) for f in ins.fields})
        return
    assert d.insn is ins
    values = [d.fields[o.name] for o in ins.operands]
    pc = 0x1000
    values = [pc + v if o.kind == "target" and not ins.absolute else v
              for o, v in zip(ins.operands, values)]
    for f, e in ins.sets:
        word = word & ~f.mask | f.insert(e(d.fields))
    assert T.encode(ins, values, pc=pc) == word


@settings(max_examples=1500, deadline=None)
@given(st.integers(0, 0xFFFFFFFF))
def test_any_word_decodes_or_is_illegal_and_never_raises(word):
    d = T.decode(word)
    row = T.predecode(np.array([word], dtype=np.uint32))[0]
    assert row[ops.P_WORD] == word
    if d is None:
        assert row[ops.P_OP] == ops.OP_ILLEGAL
        assert T.disasm(word) is None
    else:
        assert word & d.insn.mask == d.insn.match
        assert row[ops.P_OP] == d.insn.op
        assert isinstance(T.disasm(word), str)


def test_words_outside_the_subset_are_illegal():
    for word in (0x00000000, 0xFFFFFFFF, 0xFC00002A,          # fadd: no FP in the subset
                 0x7C00007C,                                  # wait, ISA 2.06 form
                 0x7C6000A7,                                  # mfmsr with Rc = 1 (reserved)
                 0x7C6400A6,                                  # mfmsr with RA != 0 (reserved)
                 0x38000000 | 1 << 26):                       # primary opcode 15 | 14 mix
        d = T.decode(word)
        if word == 0x38000000 | 1 << 26:
            assert d.insn.mnemonic == "addis"                  # control: a legal word
        else:
            assert d is None, hex(word)


def test_update_forms_with_ra_zero_or_rt_are_invalid():
    assert T.decode(0xE8640009).insn.mnemonic == "ldu"        # ldu r3,8(r4)
    assert T.decode(0xE8600009) is None                        # RA = 0
    assert T.decode(0xE8630009) is None                        # RA = RT
    with pytest.raises(EncodeError, match="invalid form"):
        T.encode(T.lookup("ldu"), [3, 8, 3])


# the example encodings of [OBJ]
@pytest.mark.parametrize("mnemonic,values,word", [
    ("ld", [3, 8, 4], 0xE8640008),
    ("stdu", [1, -32, 1], 0xF821FFE1),
    ("mtspr", [48, 3], 0x7C700BA6),
    ("mtspr", [464, 3], 0x7C7073A6),
    ("mfspr", [3, 1023], 0x7C7FFAA6),
    ("mtmsrd", [3, 1], 0x7C610164),
    ("ldarx", [3, 4, 5, 1], 0x7C6428A9),
    ("tlbie", [4, 5, 2, 1, 1], 0x7CAB2264),
    ("tlbiel", [4, 5, 1, 1, 1], 0x7CA72224),
    ("slbia", [7], 0x7CE003E4),
    ("sc", [1], 0x44000022),
    ("sldi", [3, 4, 12], 0x788364E4),
    ("srdi", [3, 4, 12], 0x7883A302),
    ("cmpd", [None, 3, 4], 0x7C232000),
    ("ptesync", [], 0x7C4004AC),
    ("bdnz", [8], 0x42000008),
    ("beq+", [None, 8], 0x41E20008),
    ("ba", [0x100], 0x48000102),
    ("mflr", [3], 0x7C6802A6),
    ("nop", [], 0x60000000),
    # GNU as's operand rules [OBJ]
    ("li", [3, 0xFFFF8000], 0x38608000),          # 32-bit sign-extended spelling
    ("ba", [0xFFFFFFF0], 0x4BFFFFF2),
    ("ori", [3, 3, 0x100000005], 0x60630005),
    ("cmplwi", [None, 3, -1], 0x2803FFFF),        # cmpli's UI also takes -32768..-1
    ("subi", [3, 4, 32768], 0x38648000),          # the negated SI: -32767..32768
    ("extldi", [3, 4, 0, 5], 0x78832FE4),         # a bit count 0 is the whole register
    ("bc+", [12, 0, 8], 0x41E00008),              # hints on the base branches
    ("bclr-", [4, 5], 0x4CC50020),
    ("bc+", [15, 0, 8], 0x41E00008),              # BO already carrying the hint
    ("mtcrf", [8, 3], 0x7C708120),                # one-field mask: mtocrf
    ("mtcrf", [0x81, 3], 0x7C681120),
])
def test_reference_encodings(mnemonic, values, word):
    ins = T.lookup(mnemonic)
    assert T.encode(ins, values, pc=0) == word
    assert T.decode(word) is not None


def test_lookup_variants_and_unknown():
    assert T.lookup("addo.").flags & (ops.F_OE | ops.F_RC) == ops.F_OE | ops.F_RC
    assert T.lookup("beqlrl").base.mnemonic == "bclrl"
    assert T.lookup("mr.").base.mnemonic == "or."
    assert T.lookup("bdnz-").hint == "-"
    assert T.lookup("blr+") is None          # BO = 20 takes no hint
    assert T.lookup("frobnicate") is None
    ld = T.lookup("ld")
    assert [[o.name for o in g] for g in ld.groups] == [["RT"], ["DS", "RA0"]]
    assert ld.groups[1][0].kind == "disp" and ld.groups[1][0].align == 4
    assert isa.SPRS["ptcr"] == 464 and isa.SPRS["ctr"] == 9


@pytest.mark.parametrize("mnemonic,values,match", [
    ("addi", [3, 4, 32768], r"SI = 32768 .* -32768\.\.32767"),
    ("ld", [3, 6, 4], r"DS = 6 .* multiple of 4"),
    ("add", [3, 4, 32], r"RB = 32 .* 0\.\.31"),
    ("add", [3, 4], r"missing operand RB"),
    ("nop", [1], r"at most 0 allowed"),
    ("b", [0x2000000], r"LI = 33554432"),
    ("sldi", [3, 4, 64], r"n6 = 64 .* 0\.\.63"),
    ("li", [3, "5"], r"must be an integer"),
    ("li", [3, 0xFFFF7FFF], r"SI = 4294934527 .* -32768\.\.32767"),
    ("b", [0x100000010], r"LI = 4294967312"),     # a displacement beyond 32 bits
    ("subi", [3, 4, -32768], r"NSI = -32768 .* -32767\.\.32768"),
    ("bc+", [20, 0, 8], r"BO = 20 takes no '\+' hint; allowed: 4, 7, 12, 15, 16, 18, 25, 27"),
    ("bc-", [15, 0, 8], r"BO = 15 takes no '-' hint"),
])
def test_encode_errors_name_operand_and_range(mnemonic, values, match):
    with pytest.raises(EncodeError, match=match):
        T.encode(T.lookup(mnemonic), values)


def test_every_branch_disassembly_reassembles():
    """disasm -> powersim.asm -> the same word for every decodable branch
    word over all BO and BH values (hinted spellings included), each LK/AA
    variant, and boundary CR bits and displacements."""
    asm = pytest.importorskip("powersim.asm")
    values = {"BO": range(32), "BH": range(4), "BI": (0, 6, 31),
              "BD": (8, -8, 0x7FFC, -0x8000), "LI": (8, -8, 0x1FFFFFC, -0x2000000)}
    words = []
    for ins in INSNS:
        if ins.opname in ("b", "bc", "bclr", "bcctr"):
            for vals in itertools.product(*(values[o.name] for o in ins.operands)):
                word = ins.match
                for o, v in zip(ins.operands, vals):
                    word |= o.field.insert(v)
                if T.decode(word) is not None:
                    words.append(word)
    base = 0x10000
    texts = [T.disasm(w, addr=base + 4 * k) for k, w in enumerate(words)]
    data = asm.assemble("\n".join(texts), base=base).data
    again = [int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4)]
    bad = [f"{w:08x} {t!r} -> {a:08x}" for w, t, a in zip(words, texts, again) if w != a]
    assert len(again) == len(words) > 2000 and not bad, "\n".join(bad[:40])
    assert any(t.startswith(("bc+ ", "bclr- ", "bcctrl+ ")) for t in texts)


def test_branch_targets_are_absolute_addresses():
    b = T.lookup("b")
    assert T.encode(b, [0x1000], pc=0x1100) == 0x4BFFFF00   # b .-0x100
    assert T.disasm(0x4BFFFF00, addr=0x1100) == "b 0x1000"
    assert T.disasm(0x419E0028, addr=0x100) == "beq cr7,0x128"


def test_predecode_rows():
    words = np.array([
        0xE8640009,   # ldu r3,8(r4)
        0x7C6428A9,   # ldarx r3,r4,r5,1
        0xA8640008,   # lha r3,8(r4)
        0x7C642C2C,   # lwbrx r3,r4,r5
        0x2F830010,   # cmpwi cr7,r3,16
        0x7C232000,   # cmpd r3,r4
        0x54830E3E,   # rlwinm r3,r4,1,24,31
        0x78834400,   # rldicl r3,r4,8,16
        0x7CAB2264,   # tlbie r4,r5,2,1,1
        0x4C221A02,   # crand 1,2,3
        0x4182FFF8,   # beq .-8
        0x7C7073A6,   # mtspr 464,r3
        0x7C2004AC,   # lwsync
        0x7C642A15,   # add. r3,r4,r5
        0x00000000,   # illegal
    ], dtype=np.uint32)
    r = T.predecode(words)
    assert r.shape == (len(words), ops.NFIELDS) and r.dtype == np.int64
    size = lambda n: n << ops.F_SIZE_SHIFT  # noqa: E731
    ldu, ldarx, lha, lwbrx, cmpwi, cmpd, rlwinm, rldicl, tlbie, crand, beq, mtspr, lws, add, bad = r
    assert list(ldu[:7]) == [ops.OP_LOAD, 3, 4, 0, 8, 0, ops.F_UPDATE | size(8)]
    assert ldu[ops.P_LAT] == 4 and ldu[ops.P_UNIT] == ops.U_LSU
    assert ldarx[ops.P_OP] == ops.OP_LARX and ldarx[ops.P_FLAGS] == ops.F_INDEXED | size(8)
    assert lha[ops.P_FLAGS] == ops.F_SIGNED | size(2) and lha[ops.P_LAT] == 6
    assert lwbrx[ops.P_FLAGS] == ops.F_BYTEREV | ops.F_INDEXED | size(4)
    assert (cmpwi[ops.P_OP], cmpwi[ops.P_RT], cmpwi[ops.P_IMM], cmpwi[ops.P_AUX]) == (
        ops.OP_CMPI, 7, 16, 0)
    assert (cmpd[ops.P_OP], cmpd[ops.P_RT], cmpd[ops.P_AUX]) == (ops.OP_CMP, 0, 1)
    assert (rlwinm[ops.P_IMM], rlwinm[ops.P_AUX]) == (1, 24 | 31 << 8)
    assert (rldicl[ops.P_IMM], rldicl[ops.P_AUX]) == (8, 16)
    assert (tlbie[ops.P_OP], tlbie[ops.P_RB], tlbie[ops.P_RT], tlbie[ops.P_IMM],
            tlbie[ops.P_AUX]) == (ops.OP_TLBIE, 4, 5, 2, 3)
    assert (crand[ops.P_OP], crand[ops.P_AUX]) == (ops.OP_CRLOGIC, 0b1000)
    assert (beq[ops.P_OP], beq[ops.P_RT], beq[ops.P_RA], beq[ops.P_IMM]) == (ops.OP_BC, 12, 2, -8)
    assert (mtspr[ops.P_OP], mtspr[ops.P_IMM], mtspr[ops.P_LAT]) == (ops.OP_MTSPR, 464, 5)
    assert (lws[ops.P_OP], lws[ops.P_IMM], lws[ops.P_UNIT]) == (ops.OP_SYNC, 1, ops.U_SYS)
    assert add[ops.P_FLAGS] == ops.F_RC and add[ops.P_LAT] == 2
    assert list(bad[:ops.P_WORD]) == [0] * ops.P_WORD


def test_predecode_matches_decode_on_random_words():
    words = np.random.default_rng(7).integers(0, 2**32, 20000, dtype=np.uint64).astype(np.uint32)
    r = T.predecode(words)
    for w, row in zip(words[:3000], r[:3000]):
        d = T.decode(int(w))
        assert row[ops.P_OP] == (d.insn.op if d else ops.OP_ILLEGAL)
    assert (r[:, ops.P_OP] != ops.OP_ILLEGAL).any() and (r[:, ops.P_OP] == ops.OP_ILLEGAL).any()


def _table_with(mutate):
    import tomllib
    data = tomllib.loads(isa.TABLE_PATH.read_text())
    mutate(data)
    return isa.Table(data)


@pytest.mark.parametrize("mutate,match", [
    (lambda d: d["insn"]["rows"][0].update(op="frob"), r"lbz: unknown op 'frob'"),
    (lambda d: d["insn"]["rows"][0].update(form="Q"), r"lbz: unknown form 'Q'"),
    (lambda d: d["insn"]["rows"][0].update(lat="slow"), r"unknown latency class 'slow'"),
    (lambda d: d["insn"]["rows"][1].update(po=34), r"'lbz' and 'lbzu' overlap"),
    (lambda d: d["insn"]["rows"][0].update(operands="RT,D(RX)"), r"unknown operand 'RX'"),
    (lambda d: d["alias"]["rows"][0].update(insn="orx"), r"nop: unknown base .*'orx'"),
    (lambda d: d["alias"]["rows"][0].update(set={"RA": "1 +"}), r"cannot parse"),
    (lambda d: d["alias"]["rows"][0].update(set={"RA": "__import__"}), r"unknown names"),
    (lambda d: d["insn"]["rows"][0].update(set={"RT": "0"}), r"set field RT overlaps an operand"),
])
def test_table_validation_errors(mutate, match):
    with pytest.raises(isa.IsaTableError, match=match) as e:
        _table_with(mutate)
    assert isinstance(e.value, PowersimError)


def test_table_loads_unchanged_copy():
    t = _table_with(lambda d: None)
    assert len(t.insns) == len(T.insns) and t.lookup("ld") is not None
