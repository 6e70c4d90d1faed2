"""The assembler against GNU as (byte identity of linked flat images), its
layout and symbols, and the Builder's macros checked by evaluating them."""

import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from powersim import isa
from powersim.asm import Builder, assemble, disassemble
from powersim.errors import AsmError

M64 = (1 << 64) - 1
AS, LD, OBJCOPY = (f"powerpc64le-linux-gnu-{t}" for t in ("as", "ld", "objcopy"))
HAVE_GNU = all(shutil.which(t) for t in (AS, LD, OBJCOPY))
needs_gnu = pytest.mark.skipif(not HAVE_GNU, reason="GNU binutils for powerpc64le not installed")


def gnu_image(source: str, base: int, data_base: int, tmp_path) -> bytes:
    """GNU as -mpower9 -mregnames, linked with .text at ``base`` and .data at
    ``data_base``, as one flat binary from ``base`` [OBJ]."""
    src, obj, elf, out = (tmp_path / n for n in ("g.s", "g.o", "g.elf", "g.bin"))
    src.write_text(source)
    for cmd in ([AS, "-mpower9", "-mregnames", "-o", obj, src],
                [LD, f"-Ttext={base:#x}", f"-Tdata={data_base:#x}", "-e", f"{base:#x}",
                 "--no-warn-rwx-segments", "-o", elf, obj],
                [OBJCOPY, "-O", "binary", "-j", ".text", "-j", ".data", elf, out]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    return out.read_bytes()


def data_base(img) -> int:
    return img.symbols.get("data_start", img.base + len(img.data))


# Every feature of the assembler in one program (base < 2 GiB so that @h/@ha
# of a label link without overflow, as ld requires).
FEATURES = r"""
# every assembler feature, compared byte for byte with GNU as + ld
	.machine power9
	.abiversion 2
	.text
	.globl _start
	.global far
	.type _start,@function
_start:	li r3,1; LI %r4,2 ; addi 5,6,-7	# three statements, then a comment
	/* a block
	   comment */ nop
	ld r3,8(r4); std r3,-16(r1); ldu r5,0x10(%r6); lwz r7,(2*4)(r8); stb 9,-1(10)
	ld r9,data_word-data_start(r10)
	addi r3,r3,_start@l
	lis r3,_start@ha; addi r3,r3,_start@l
	lis r4,far@h; ori r4,r4,far@l
	lis r5,data_start@highest; ori r5,r5,data_start@higher; sldi r5,r5,32
	oris r5,r5,data_start@high; ori r5,r5,data_start@l; ld r5,data_word@l(r5)
	li r6,data_start@higha; li r6,data_start@highera; li r6,data_start@highesta
	li r3,0x12348765@l; ori r3,r3,0x12348765@l; lis r3,0x12348765@ha; lis r3,0x1234ffff@h
	ori r3,r3,0xc000800080008000@highest; li r3,(1+2)@l; lis r3,-1@h
	li r3,'A'; li r3,'\n'; li r3,'B ; li r3,010; li r3,0b1011; li r3,-0x8000; lis r3,0xffff
	cmpd cr7,r3,r4; cmpd r5,r6; cmpdi 7,r3,-1; cmpldi cr1,r5,0xffff
	crand 4*cr1+eq,4*cr7+lt,so; cror 31,0,gt
	beq cr7,1f; bne- 1f; beq+ cr1,1f
1:	b 1b
	bdnz 1b; bl far; bc 12,4*cr2+gt,1b; b .; b .+8
	mtctr r3; mfspr r4,1023; mtspr 48,r3; mr r3,r4
	ldarx r3,0,r4; ldarx r3,0,r4,1; stdcx. r3,0,r4; sync; lwsync; isync
	tlbie r4,r5; tlbie r4,r5,2,1,1
	.byte 7
	.align 4
aligned16:
	.long 0x60000000 + 3, -1, (1<<31), 0xffffffff
	.byte 1, 2, 0xff, -1
	.balign 8, 0xee
	.p2align 3
	.short 0x1234, -2; .hword 7
	.align 2
	.int aligned16 - _start
	.quad _start, data_start, ., far - 8, 2+3&1, 1|2+4&5, 1<<2+1, -16>>2, -7/2, -7%2
	.quad 2<3, 3>=3, 1==2, 5!=4, 5<>5, 4<=4, 9>8, !0, ~0^0xff, 1&&2, 0||0
	.quad 0x8000000000000000/2, (3+4)*5, 17%5, -(3), +4, 0xffffffffffffffff
	.space 6, 0x5a
	.skip 2
	.zero 4
	.align 3, 0x11
	.set SIZE, 4*8
	.equ COUNT, SIZE/8
	total = SIZE + COUNT
	li r3,total; li r4,later_set
	.set later_set, 99
	.org 0x400
far:	blr
	.size _start, .-_start
	.localentry _start, 1
1:	b 1b; b 2f
2:	nop
	.p2align 5
	.data
data_start:
	.quad data_start, _start, data_word
data_word:
	.long 42
	.section .data
	.align 4
	.quad . - data_start
	.balign 16,,4
	.byte 5
	.p2align 4,0x77,2
	.p2align 3,0x77,8
	.org 0x40, 0x33
	.short data_word@l, data_word@h
	.section .text
	nop
	.byte 1, 2, 3
"""


@needs_gnu
@pytest.mark.parametrize("base", [0, 0x10000, 0x7FFF0000])
def test_features_match_gnu(base, tmp_path):
    img = assemble(FEATURES, base=base, filename="features.s")
    assert img.data == gnu_image(FEATURES, base, data_base(img), tmp_path)


@needs_gnu
def test_kernel_address_sequence_matches_gnu(tmp_path):
    # 64-bit addresses need @highest/@higher/@high/@l (ld rejects @h there).
    src = ("_start: lis r3,v@highest; ori r3,r3,v@higher; sldi r3,r3,32\n"
           " oris r3,r3,v@high; ori r3,r3,v@l; ld r4,v@l(r3); b far\n"
           " .org 0x1000\nfar: blr\n .data\ndata_start: .space 0x9000\nv: .quad v, _start\n")
    base = 0xC000000000000000
    img = assemble(src, base=base)
    assert img.data == gnu_image(src, base, data_base(img), tmp_path)


def test_flat_layout_data_follows_text_aligned():
    img = assemble("nop\n.byte 1\n.data\nd: .quad d\n", base=0x100)
    assert img.symbols["d"] == 0x108          # text ends at 0x105, .data aligned to 8
    assert img.data[8:] == (0x108).to_bytes(8, "little") and len(img.data) == 16
    img = assemble("nop\n.data\n.align 5\nd: .long 1\n", base=0x100)
    assert img.symbols["d"] == 0x120          # the largest .data alignment wins
    assert img.data[4:0x20] == bytes(0x1C)    # the gap is zero


def test_text_alignment_pads_with_nops_only_for_whole_words():
    img = assemble("li r3,1\n.align 4\n.byte 9\n.align 3\n.long 5\n")
    nop = (0x60000000).to_bytes(4, "little")
    assert img.data[4:16] == nop * 3
    assert img.data[17:24] == bytes(7)        # 7 bytes: not whole words, zeros
    data = assemble(".data\nd: .long 1\n.align 4\n.long 2\n").data
    assert nop not in data                    # .data pads with zeros


def test_symbols_lines_and_set_values():
    src = "start:\n  li r3,1\nx = 0x40\n  .quad start\n.Lhidden:\nend:\n"
    img = assemble(src, base=0x200, filename="p.s")
    assert img.symbols == {"start": 0x200, "end": 0x20C, "x": 0x40}
    assert img.lines == {0x200: ("p.s", 2, "li r3,1"), 0x204: ("p.s", 4, ".quad start")}


def test_numeric_local_labels_are_not_symbols_and_resolve_nearest():
    img = assemble("1: b 1f\n1: b 1b\n b 1b\n1: b 1b\n")
    t = isa.table()
    words = [int.from_bytes(img.data[i:i + 4], "little") for i in range(0, 16, 4)]
    assert [t.disasm(w, addr=4 * i) for i, w in enumerate(words)] == \
        ["b 0x4", "b 0x4", "b 0x4", "b 0xc"]
    assert img.symbols == {}


def test_register_spellings_are_equivalent():
    a = assemble("add r3,r4,r5\ncmpd cr7,r3,r4\nbc 12,4*cr1+eq,0\n").data
    b = assemble("add %r3,%r4,%r5\ncmpd 7,3,4\nbc 12,6,0\n").data
    assert a == b


def test_expression_rules_without_gnu():
    # GNU precedence (bitwise binds tighter than +), logical >>, C division.
    img = assemble(".quad 2+3&1, 1|2+4&5, -16>>2, -7/2, 2<3, 'A\n")
    vals = [int.from_bytes(img.data[i:i + 8], "little", signed=True) for i in range(0, 48, 8)]
    assert vals == [3, 7, (2**64 - 16) >> 2, -3, -1, 65]


@pytest.mark.parametrize("value,reloc,insn,expect", [
    (0x1234FFFF, "l", "li", -1), (0x1234FFFF, "l", "ori", 0xFFFF),
    (0x87654321, "ha", "lis", 0x8765 - 0x10000), (0x87654321, "h", "ori", 0x8765),
    (0xC000FFFFFFFF8000, "highesta", "ori", 0xC001), (0xC000800080008000, "higher", "ori", 0x8000),
])
def test_relocation_operators_on_constants(value, reloc, insn, expect):
    src = {"li": f"li r3,{value:#x}@{reloc}", "ori": f"ori r3,r3,{value:#x}@{reloc}",
           "lis": f"lis r3,{value:#x}@{reloc}"}[insn]
    word = int.from_bytes(assemble(src).data, "little")
    assert word & 0xFFFF == expect & 0xFFFF


def test_round_trip_asm_disasm_asm():
    img = assemble(FEATURES, base=0x10000)
    body = "\n".join(line.split(None, 2)[2] for line in disassemble(img.data, img.base))
    again = assemble(body, base=0x10000, filename="round.s")
    assert again.data == img.data


# --- Builder ---------------------------------------------------------------------

def run(words, regs=None):
    """A reference evaluation of li/lis/addi/addis/ori/oris/sldi words."""
    regs = dict(regs or {})
    for w in words:
        po, rt, ra, ui = w >> 26, (w >> 21) & 31, (w >> 16) & 31, w & 0xFFFF
        si = ui - ((ui & 0x8000) << 1)
        if po in (14, 15):                    # addi / addis (RA = 0: the literal 0)
            regs[rt] = ((regs.get(ra, 0) if ra else 0) + (si << (16 * (po == 15)))) & M64
        elif po in (24, 25):                  # ori / oris: RS in bits 6:10
            regs[ra] = regs.get(rt, 0) | (ui << (16 * (po == 25)))
        elif po == 30 and (w >> 2) & 7 == 1:  # rldicr (sldi n = rldicr n,63-n)
            sh = ((w >> 11) & 31) | ((w >> 1) & 1) << 5
            me = ((w >> 6) & 31) | ((w >> 5) & 1) << 5
            rot = ((regs.get(rt, 0) << sh) | (regs.get(rt, 0) >> (64 - sh))) & M64
            regs[ra] = rot & (M64 ^ ((1 << (63 - me)) - 1))
        else:
            raise AssertionError(f"unexpected instruction {w:#010x}")
    return regs


def words_of(img):
    return [int.from_bytes(img.data[i:i + 4], "little") for i in range(0, len(img.data), 4)]


LI64_CASES = [0, 1, -1, 0x7FFF, -0x8000, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, -0x80000000,
              0x80000000, 0xFFFFFFFF, 0x100000000, 0xFFFFFFFF00000000, 0x8000000000000000,
              0x7FFFFFFFFFFFFFFF, 0xC000000000001234, 0xFFFFFFFFFFFF8000, 0x123456789ABCDEF0,
              0x0000800000008000, -0x80000001]


@pytest.mark.parametrize("value", LI64_CASES)
def test_li64_loads_the_value_in_the_fewest_instructions(value):
    b = Builder()
    b.li64("r5", value)
    words = words_of(b.assemble())
    assert run(words)[5] == value & M64
    v = value - (1 << 64) if value >= 1 << 63 else value
    most = (1 if -0x8000 <= v < 0x8000 else 2 if -(1 << 31) <= v < 1 << 31
            else 3 if 0 <= v < 1 << 32 else 5 if v & 0xFFFF and v & 0xFFFF0000 else 4)
    assert len(words) <= most


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1))
def test_li64_loads_any_64_bit_value(value):
    b = Builder()
    b.li64(9, value)
    words = words_of(b.assemble())
    assert run(words)[9] == value & M64 and len(words) <= 5


@pytest.mark.parametrize("base,wide", [(0xC000000000000000, True), (0x10000000, False)])
def test_load_addr_loads_the_symbol_address(base, wide):
    b = Builder()
    b.label("_start")
    b.load_addr("r7", "target", wide=wide)
    b.emit("blr")
    b.space(0x9000)
    b.label("target")
    img = b.assemble(base=base)
    assert run(words_of(img)[:5 if wide else 2])[7] == img.symbols["target"]


def test_load_addr_narrow_refuses_a_64_bit_address():
    b = Builder()
    b.label("target")
    b.load_addr("r7", "target", wide=False)
    with pytest.raises(AsmError, match=r"target@h: address 0xc000000000000000 does not fit"):
        b.assemble(base=0xC000000000000000)


def decode_fields(img):
    t = isa.table()
    return [(t.decode(w).insn.mnemonic, t.decode(w).fields) for w in words_of(img)]


def test_atomic_inc_is_a_larx_stcx_loop():
    b = Builder()
    b.atomic_inc("r3", "r9", delta=-2)
    img = b.assemble(base=0x100)
    decoded = decode_fields(img)
    assert [name for name, _ in decoded] == ["ldarx", "addi", "stdcx.", "bc"]
    (_, lx), (_, ad), (_, sx), (_, br) = decoded
    assert lx["RT"] == ad["RT"] == ad["RA0"] == sx["RS"] == 9 and ad["SI"] == -2
    assert lx["RB"] == sx["RB"] == 3 and br["BD"] == -12   # back to the ldarx
    assert (br["BO"], br["BI"]) == (0b00110, 2)  # bne- : branch if cr0.eq clear, "at" = 10


def test_atomic_add_return_is_fully_ordered():
    b = Builder()
    b.atomic_add_return("r3", "r4", "r5")
    b.atomic_add_return("r3", "r4", 7)
    decoded = decode_fields(b.assemble())
    assert [name for name, _ in decoded] == ["sync", "ldarx", "add", "stdcx.", "bc", "sync",
                                             "sync", "ldarx", "addi", "stdcx.", "bc", "sync"]
    assert all(f["LS"] == 0 for name, f in decoded if name == "sync")   # hwsync [L-bar]
    assert decoded[2][1] == {"RT": 4, "RA": 4, "RB": 5}
    assert decoded[8][1]["SI"] == 7 and decoded[10][1]["BD"] == -12


CONDS = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
         "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b}


@pytest.mark.parametrize("cond", sorted(CONDS))
def test_spin_until_loops_while_the_condition_is_false(cond):
    b = Builder()
    b.spin_until("r3", "r4", cond, 5, offset=16)
    (ld, f0), (cmp, f1), (bc, f2) = decode_fields(b.assemble())
    assert (ld, cmp, bc) == ("ld", "cmpi", "bc")
    assert f0["DS"] == 16 and f0["RA0"] == 3 and f0["RT"] == f1["RA"] == 4 and f1["SI"] == 5
    assert f1["L10"] == 1 and f1["BF"] == 0   # a 64-bit compare into cr0
    assert f2["BD"] == -8                     # a backward branch to the load, no store
    bo, bi = f2["BO"], f2["BI"]
    for loaded in (3, 5, 7):
        crbits = [loaded < 5, loaded > 5, loaded == 5]
        taken = crbits[bi & 3] == bool(bo & 0b01000)  # BO 011at: if set; 001at: if clear
        assert taken == (not CONDS[cond](loaded, 5))


def test_builder_methods_and_text():
    b = Builder()
    top = b.local()
    b.label(top)
    b.comment("load")
    b.ld("r3", "8(r4)")
    b.addi(3, 4, 16)
    b.stdcx_rc("r3", 0, "r4")
    b.and_("r5", "r6", "r7")        # `_` escapes the keyword: plain `and`
    b.and_rc("r5", "r6", "r7")
    b.or_("r5", "r6", "r7")
    b.bne(top)
    b.align(8)
    b.quad(1, top)
    assert top != b.local()
    text = b.text()
    assert "ld r3,8(r4)" in text and "stdcx. r3,0,r4" in text and "# load" in text
    assert "\tand r5,r6,r7" in text and "\tand. r5,r6,r7" in text and "\tor r5,r6,r7" in text
    assert b.assemble().data == assemble(text).data
    with pytest.raises(AttributeError, match="not a known mnemonic"):
        b.frobnicate(1)
    with pytest.raises(AttributeError, match="record form andi. is b.andi_rc"):
        b.andi_("r3", "r3", 1)     # the old record spelling fails loudly


@needs_gnu
def test_builder_text_matches_gnu(tmp_path):
    b = Builder()
    b.label("_start")
    for v in LI64_CASES:
        b.li64("r5", v)
    b.atomic_inc("r3", "r4")
    b.atomic_add_return("r3", "r4", "r5")
    b.spin_until("r3", "r4", "ne", 0)
    b.load_addr("r6", "_start")
    b.section(".data")
    b.label("data_start")
    b.quad(0x1234, "_start")
    img = b.assemble(base=0x4000)
    assert img.data == gnu_image(b.text(), 0x4000, data_base(img), tmp_path)
