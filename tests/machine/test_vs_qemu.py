"""Differential tests of the machine core against qemu-ppc64le -cpu power9.

Each corpus entry is a body of user-level integer code (see tests/qemu_ref.py
for the layout and the shared initial state).  Directed entries store every
result, XER and CR into numbered 8-byte *slots* of the scratch region, so one
mismatch names the exact instruction and operands; random entries compare the
final register file.  Only architecturally defined bits are compared: the ISA
leaves some results undefined (divide by zero/overflow, the high word of the
32-bit multiply-high and divide results, CR0 LT/GT/EQ of their Rc forms in
64-bit mode, the non-selected fields of mfocrf), and each such case carries a
mask that says so.

What qemu 7.2 does in the undefined cases (observed, not compared): a divide
by zero or overflow returns the dividend (its low word, zero-extended, for
divw/divwu) and sets CR0 from it; the 32-bit mulhw/mulhwu/divw/divwu leave
RT[0:31] zero; mfocrf zeroes the other fields; mfxer returns whatever mtxer
wrote into XER's reserved low-word bits, so XER compares only SO, OV, CA,
OV32, CA32 and the byte count (qemu_ref.XER_MASK).
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field

import pytest

from powersim import isa
from powersim.asm import assemble
from qemu_ref import (BODY_ADDR, CODE_ADDR, DATA_ADDR, MISSING_TOOLS, SKIP_REASON,
                      XER_MASK, State, diff, powersim_source, qemu_source, run_powersim,
                      run_qemu)

needs_tools = pytest.mark.skipif(bool(MISSING_TOOLS), reason=SKIP_REASON)
pytestmark = pytest.mark.qemu

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1
# XER bits as mfxer shows them (IBM bit b of 64 -> 1 << (63 - b)).
SO, OV, CA, OV32, CA32 = 1 << 31, 1 << 30, 1 << 29, 1 << 19, 1 << 18
CR0_LGE = 0xE0000000  # CR0 LT/GT/EQ in mfcr's image
ZERO, TMP, BASE = "r30", "r29", "r28"  # directed programs: r30 stays 0

VALUES = (0, 1, M64, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000,
          0xFFFF_FFFF, 0x8000_0000, 0x7FFF_FFFF)
PATTERNS = VALUES + (0x80, 0x8000, 0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210,
                     0x1_0000_0000, 0xFFFF_FFFF_0000_0000, 0x0000_8000_8000_0080)


@dataclass
class Case:
    body: str
    data: bytes = b""
    slots: list = field(default_factory=list)  # (name, mask) per 8-byte slot


class Prog:
    """Builds a directed body.  The region starts with ``consts`` (loaded by
    value with ``load``) or with ``raw`` bytes; result slots follow."""

    def __init__(self, consts=VALUES, raw: bytes | None = None):
        self.consts = list(consts)
        self.data = struct.pack(f"<{len(self.consts)}Q", *self.consts) if raw is None else raw
        self.lines: list[str] = []
        self.slots: list = [(f"data[{i}]", M64) for i in range(len(self.data) // 8)]
        self.labels = 0

    def emit(self, *lines):
        self.lines.extend(lines)

    def load(self, reg, value):
        self.emit(f"ld {reg},{8 * self.consts.index(value)}(r31)")

    def slot(self, name, mask=M64) -> int:
        """Reserve a slot; returns its offset from r31."""
        self.slots.append((name, mask))
        return 8 * (len(self.slots) - 1)

    def save(self, reg, name, mask=M64):
        self.emit(f"std {reg},{self.slot(name, mask)}(r31)")

    def save_flags(self, name, cr_mask=M64):
        self.emit(f"mfxer {TMP}")
        self.save(TMP, f"{name} xer")
        self.emit(f"mfcr {TMP}")
        self.save(TMP, f"{name} cr", cr_mask)

    def set_xer(self, bits):
        if bits:
            self.emit(f"lis {TMP},{bits >> 16}", f"ori {TMP},{TMP},{bits & 0xFFFF}",
                      f"mtxer {TMP}")
        else:
            self.emit(f"mtxer {ZERO}")

    def set_cr(self, value):
        self.emit(f"lis {TMP},{_s16(value >> 16)}", f"ori {TMP},{TMP},{value & 0xFFFF}",
                  f"mtcrf 0xff,{TMP}")

    def label(self) -> str:
        self.labels += 1
        return f"L{self.labels}"

    def case(self) -> Case:
        # Leave no undefined value behind in a register: results live in slots.
        self.emit(*(f"li r{i},0" for i in range(3, 30)), f"mtcrf 0xff,{ZERO}",
                  f"mtxer {ZERO}")
        return Case("\n".join(f"    {x}" if not x.endswith(":") else x
                              for x in self.lines), self.data, self.slots)


def _s16(v):
    v &= 0xFFFF
    return v - 0x10000 if v & 0x8000 else v


# --- directed corpus ---------------------------------------------------------------

XO_BINARY = ("add", "addc", "adde", "subf", "subfc", "subfe")
XO_UNARY = ("addze", "addme", "subfze", "subfme", "neg")
CARRY_IN = {"adde", "subfe", "addze", "addme", "subfze", "subfme"}
SUFFIXES = ("", ".", "o", "o.")


def arith_case(op, suffix) -> Case:
    """Every boundary pair (or value) with CA in and out, OV/OV32/CA32 too."""
    p = Prog()
    for ca in ((0, CA | CA32) if op in CARRY_IN else (0,)):
        for a in VALUES:
            for b in (VALUES if op in XO_BINARY else (None,)):
                p.set_xer(ca)
                p.load("r3", a)
                if b is None:
                    p.emit(f"{op}{suffix} r5,r3")
                else:
                    p.load("r4", b)
                    p.emit(f"{op}{suffix} r5,r3,r4")
                name = f"{op}{suffix} {a:#x},{b if b is None else hex(b)} ca_in={ca:#x}"
                p.save("r5", name)
                p.save_flags(name)
                p.emit(f"mtcrf 0xff,{ZERO}")
    return p.case()


MUL_DIV = ("mulld", "mullw", "mulhd", "mulhdu", "mulhw", "mulhwu",
           "divd", "divdu", "divw", "divwu")
WORD_RESULT = {"mulhw", "mulhwu", "divw", "divwu"}  # RT[0:31] undefined


def _div_undefined(op, a, b) -> bool:
    if op in ("divw", "divwu"):
        a, b = a & M32, b & M32
        smin, bits = 0x8000_0000, 32
    else:
        smin, bits = 1 << 63, 64
    if b == 0:
        return True
    return op in ("divd", "divw") and a == smin and b == (1 << bits) - 1


def muldiv_case(op, suffix) -> Case:
    p = Prog()
    for a in VALUES:
        for b in VALUES:
            p.set_xer(0)
            p.load("r3", a)
            p.load("r4", b)
            p.emit(f"{op}{suffix} r5,r3,r4")
            undefined = op.startswith("div") and _div_undefined(op, a, b)
            rt_mask = 0 if undefined else (M32 if op in WORD_RESULT else M64)
            # LT/GT/EQ follow RT: undefined with it, and for the 32-bit forms in
            # 64-bit mode (ISA 3.0B, divw/divwu/mulhw/mulhwu: "undefined if in
            # 64-bit mode").
            cr_mask = M64 & ~CR0_LGE if undefined or op in WORD_RESULT else M64
            name = f"{op}{suffix} {a:#x},{b:#x}"
            p.save("r5", name, rt_mask)
            p.save_flags(name, cr_mask)
            p.emit(f"mtcrf 0xff,{ZERO}")
    return p.case()


def mulli_case() -> Case:
    p = Prog()
    for a in VALUES:
        for imm in (0, 1, -1, 0x7FFF, -0x8000, 3):
            p.load("r3", a)
            p.emit(f"mulli r5,r3,{imm}")
            p.save("r5", f"mulli {a:#x},{imm}")
    return p.case()


def d_form_arith_case() -> Case:
    """addi/addis (incl. RA=0), addic/addic. (CA), subfic (CA)."""
    p = Prog()
    for a in VALUES:
        for imm in (0, 1, -1, 0x7FFF, -0x8000):
            p.load("r3", a)
            p.set_xer(0)
            for op in ("addi", "addis", "addic", "addic.", "subfic"):
                p.emit(f"{op} r5,r3,{imm}")
                p.save("r5", f"{op} {a:#x},{imm}")
                p.save_flags(f"{op} {a:#x},{imm}")
                p.emit(f"mtcrf 0xff,{ZERO}", f"mtxer {ZERO}")
    p.emit("addi r5,0,-5", "addis r6,0,-5")
    p.save("r5", "addi r5,0,-5")
    p.save("r6", "addis r6,0,-5")
    return p.case()


LOGICAL = ("and", "andc", "or", "orc", "xor", "nand", "nor", "eqv")
LOGICAL_IMM = ("andi.", "andis.", "ori", "oris", "xori", "xoris")
UNARY = ("extsb", "extsh", "extsw", "cntlzw", "cntlzd", "cnttzw", "cnttzd")
POPCNT = ("popcntb", "popcntw", "popcntd")


def logical_case() -> Case:
    p = Prog(PATTERNS)
    for a in VALUES + PATTERNS[10:12]:
        for b in VALUES[2:] + PATTERNS[10:12]:
            p.load("r3", a)
            p.load("r4", b)
            for op in LOGICAL:
                p.emit(f"{op} r5,r3,r4", f"{op}. r6,r3,r4", f"mfcr {TMP}")
                p.save("r5", f"{op} {a:#x},{b:#x}")
                p.save("r6", f"{op}. {a:#x},{b:#x}")
                p.save(TMP, f"{op}. {a:#x},{b:#x} cr")
    return p.case()


def logical_imm_case() -> Case:
    p = Prog(PATTERNS)
    for a in PATTERNS:
        p.load("r3", a)
        for op in LOGICAL_IMM:
            for imm in (0, 1, 0x7FFF, 0x8000, 0xFFFF):
                p.emit(f"{op} r5,r3,{imm:#x}", f"mfcr {TMP}")
                p.save("r5", f"{op} {a:#x},{imm:#x}")
                p.save(TMP, f"{op} {a:#x},{imm:#x} cr")
    return p.case()


def unary_case() -> Case:
    p = Prog(PATTERNS)
    for a in PATTERNS:
        p.load("r3", a)
        for op in UNARY + POPCNT:
            for rc in (("", ".") if op in UNARY else ("",)):
                p.emit(f"{op}{rc} r5,r3", f"mfcr {TMP}")
                p.save("r5", f"{op}{rc} {a:#x}")
                p.save(TMP, f"{op}{rc} {a:#x} cr")
    return p.case()


SHIFT_AMOUNTS = (0, 1, 31, 32, 33, 63, 64, 65, 127, 128, 0xFFFF_FFFF_FFFF_FF1F)
SHIFTS = ("slw", "srw", "sraw", "sld", "srd", "srad")


def shift_case(op) -> Case:
    """Register shifts: amounts past the width, and junk above the amount field
    (only bits 57:63 / 58:63 count); sraw/srad also set CA and CA32."""
    values = (M64, 0x8000_0000_0000_0000, 0x0123_4567_89AB_CDEF, 0x8000_0001,
              0xFFFF_FFFF, 0x7FFF_FFFF_8000_0000, 1)
    p = Prog(values + SHIFT_AMOUNTS)
    for a in values:
        for n in SHIFT_AMOUNTS:
            for rc in ("", "."):
                p.load("r3", a)
                p.load("r4", n)
                p.emit(f"{op}{rc} r5,r3,r4")
                p.save("r5", f"{op}{rc} {a:#x},{n}")
                p.save_flags(f"{op}{rc} {a:#x},{n}")
                p.emit(f"mtcrf 0xff,{ZERO}", f"mtxer {ZERO}")
    return p.case()


def shift_imm_case() -> Case:
    values = (M64, 0x8000_0000_0000_0000, 0x0123_4567_89AB_CDEF, 0x8000_0001,
              0xFFFF_FFFF, 1, 0x8000_0000)
    p = Prog(values)
    for a in values:
        p.load("r3", a)
        for op, amounts in (("srawi", (0, 1, 31)), ("sradi", (0, 1, 31, 32, 63))):
            for n in amounts:
                for rc in ("", "."):
                    p.emit(f"{op}{rc} r5,r3,{n}")
                    p.save("r5", f"{op}{rc} {a:#x},{n}")
                    p.save_flags(f"{op}{rc} {a:#x},{n}")
                    p.emit(f"mtcrf 0xff,{ZERO}", f"mtxer {ZERO}")
    return p.case()


ROT_VALUES = (0x0123_4567_89AB_CDEF, M64, 0x8000_0000_0000_0001, 0xFFFF_FFFF)
WORD_MASKS = ((0, 31), (5, 10), (31, 0), (10, 5), (16, 15), (0, 0), (31, 31), (1, 0))


def rlw_case() -> Case:
    """rlwinm/rlwnm/rlwimi: 32-bit rotates replicate the word into both halves,
    so wrapping masks (mb > me) expose the high word."""
    p = Prog(ROT_VALUES + (0, 1, 31, 32, 63))
    for a in ROT_VALUES:
        for mb, me in WORD_MASKS:
            for sh in (0, 1, 31):
                for rc in ("", "."):
                    p.load("r3", a)
                    p.emit(f"rlwinm{rc} r5,r3,{sh},{mb},{me}")
                    p.emit(f"mfcr {TMP}")
                    p.save("r5", f"rlwinm{rc} {a:#x},{sh},{mb},{me}")
                    p.save(TMP, f"rlwinm{rc} cr")
                p.load("r6", ROT_VALUES[0] if a != ROT_VALUES[0] else M64)
                p.emit(f"rlwimi r6,r3,{sh},{mb},{me}")
                p.save("r6", f"rlwimi {a:#x},{sh},{mb},{me}")
            for n in (0, 1, 31, 32, 63):
                p.load("r4", n)
                p.emit(f"rlwnm. r5,r3,r4,{mb},{me}", f"mfcr {TMP}")
                p.save("r5", f"rlwnm. {a:#x},{n},{mb},{me}")
                p.save(TMP, "rlwnm. cr")
    return p.case()


def rld_case() -> Case:
    p = Prog(ROT_VALUES + (0, 1, 31, 32, 63, 64, 127))
    for a in ROT_VALUES:
        p.load("r3", a)
        for sh in (0, 1, 31, 32, 63):
            for m in (0, 1, 31, 32, 63):
                for op in ("rldicl", "rldicr", "rldic"):
                    p.emit(f"{op}. r5,r3,{sh},{m}", f"mfcr {TMP}")
                    p.save("r5", f"{op}. {a:#x},{sh},{m}")
                    p.save(TMP, f"{op}. cr")
                p.load("r6", M64 if a != M64 else 0)
                p.emit(f"rldimi r6,r3,{sh},{m}")
                p.save("r6", f"rldimi {a:#x},{sh},{m}")
        for n in (0, 1, 31, 32, 63, 64, 127):
            p.load("r4", n)
            for m in (0, 1, 32, 63):
                for op in ("rldcl", "rldcr"):
                    p.emit(f"{op} r5,r3,r4,{m}")
                    p.save("r5", f"{op} {a:#x},{n},{m}")
    return p.case()


COMPARES = (("cmpw", None), ("cmpd", None), ("cmplw", None), ("cmpld", None),
            ("cmpwi", (-1, 0, 1, 0x7FFF, -0x8000)), ("cmpdi", (-1, 0, 1, 0x7FFF, -0x8000)),
            ("cmplwi", (0, 1, 0x8000, 0xFFFF)), ("cmpldi", (0, 1, 0x8000, 0xFFFF)))


def compare_case(with_so: bool) -> Case:
    """Every compare into rotating CR fields; XER.SO is copied into the
    target field when set."""
    p = Prog()
    field_no = 0
    for op, imms in COMPARES:
        for a in VALUES:
            p.load("r3", a)
            for b in (VALUES if imms is None else imms):
                p.set_xer(SO if with_so else 0)
                if imms is None:
                    p.load("r4", b)
                    p.emit(f"{op} cr{field_no},r3,r4")
                else:
                    p.emit(f"{op} cr{field_no},r3,{b}")
                p.emit(f"mfcr {TMP}")
                p.save(TMP, f"{op} cr{field_no},{a:#x},{b:#x}")
                p.emit(f"mtcrf 0xff,{ZERO}")
                field_no = (field_no + 1) % 8
    # the generic forms with an explicit L operand
    p.load("r3", 0x8000_0000)
    p.load("r4", 0x7FFF_FFFF)
    p.emit("cmp cr2,0,r3,r4", "cmp cr3,1,r3,r4", "cmpl cr4,0,r3,r4", "cmpl cr5,1,r3,r4",
           f"mfcr {TMP}")
    p.save(TMP, "cmp/cmpl with L")
    return p.case()


CR_PATTERN = 0x9A3C_5F06
CR_LOGIC = ("crand", "cror", "crxor", "crnand", "crnor", "creqv", "crandc", "crorc")


def cr_case() -> Case:
    """CR logical ops, mcrf, mtcrf, mtocrf/mfocrf, mfcr."""
    p = Prog((CR_PATTERN, 0x1234_5678, M64))
    triples = ((0, 1, 2), (5, 5, 5), (31, 0, 16), (12, 31, 7), (2, 3, 3))
    for op in CR_LOGIC:
        for bt, ba, bb in triples:
            p.set_cr(CR_PATTERN)
            p.emit(f"{op} {bt},{ba},{bb}", f"mfcr {TMP}")
            p.save(TMP, f"{op} {bt},{ba},{bb}")
    for bf, bfa in ((0, 7), (3, 3), (7, 0), (5, 2)):
        p.set_cr(CR_PATTERN)
        p.emit(f"mcrf {bf},{bfa}", f"mfcr {TMP}")
        p.save(TMP, f"mcrf {bf},{bfa}")
    for fxm in (0x00, 0x01, 0x80, 0x5A, 0xFF):
        p.set_cr(CR_PATTERN)
        p.load("r3", 0x1234_5678)
        p.emit(f"mtcrf {fxm:#x},r3", f"mfcr {TMP}")
        p.save(TMP, f"mtcrf {fxm:#x}")
    for i in range(8):
        fxm = 0x80 >> i
        p.set_cr(CR_PATTERN)
        p.load("r3", M64)
        p.emit(f"mtocrf {fxm:#x},r3", f"mfcr {TMP}", f"mfocrf r5,{fxm:#x}")
        p.save(TMP, f"mtocrf {fxm:#x}")
        # mfocrf: only the selected field of RT is defined
        p.save("r5", f"mfocrf {fxm:#x}", 0xF << (28 - 4 * i))
    return p.case()


def isel_case() -> Case:
    p = Prog((0x1111, 0x2222))
    for bc in (0, 1, 2, 3, 9, 14, 28, 31):
        p.set_cr(CR_PATTERN)
        p.load("r3", 0x1111)
        p.load("r4", 0x2222)
        p.emit(f"isel r5,r3,r4,{bc}", f"isel r6,0,r4,{bc}")
        p.save("r5", f"isel {bc}")
        p.save("r6", f"isel RA=0 {bc}")
    return p.case()


LOAD_DATA = bytes(range(0x70, 0x100)) + bytes(range(0x00, 0x10))
LOADS = (  # mnemonic, form: D or DS displacement, or indexed
    ("lbz", "d"), ("lhz", "d"), ("lha", "d"), ("lwz", "d"), ("lwa", "ds"), ("ld", "ds"),
    ("lbzx", "x"), ("lhzx", "x"), ("lhax", "x"), ("lwzx", "x"), ("lwax", "x"), ("ldx", "x"),
    ("lhbrx", "x"), ("lwbrx", "x"), ("ldbrx", "x"),
    ("lbzu", "d"), ("lhzu", "d"), ("lhau", "d"), ("lwzu", "d"), ("ldu", "ds"),
    ("lbzux", "x"), ("lhzux", "x"), ("lhaux", "x"), ("lwzux", "x"), ("lwaux", "x"),
    ("ldux", "x"),
)


def _update_form(op) -> bool:
    return op.endswith(("u", "ux"))


def load_case(aligned: bool) -> Case:
    """Every load (zero/sign-extending, byte-reversed, update) at offsets whose
    bytes have the sign bit set and clear; update forms also save RA (= EA)."""
    p = Prog(raw=LOAD_DATA)
    for op, form in LOADS:
        offsets = (0x10, 0x48, 0x88) if aligned else (0x11, 0x4B, 0x8D)
        if form == "ds" and not aligned:
            continue  # DS displacements are multiples of 4
        for off in offsets:
            p.emit(f"mr {BASE},r31")
            if form == "x":
                p.emit(f"li r4,{off}", f"{op} r5,{BASE},r4")
            else:
                p.emit(f"{op} r5,{off}({BASE})")
            p.save("r5", f"{op} @{off:#x}")
            if _update_form(op):
                p.emit(f"subf {BASE},r31,{BASE}")  # EA as an offset
                p.save(BASE, f"{op} @{off:#x} RA")
    return p.case()


STORES = (("stb", "d"), ("sth", "d"), ("stw", "d"), ("std", "ds"),
          ("stbx", "x"), ("sthx", "x"), ("stwx", "x"), ("stdx", "x"),
          ("sthbrx", "x"), ("stwbrx", "x"), ("stdbrx", "x"),
          ("stbu", "d"), ("sthu", "d"), ("stwu", "d"), ("stdu", "ds"),
          ("stbux", "x"), ("sthux", "x"), ("stwux", "x"), ("stdux", "x"))


def store_case() -> Case:
    """Each store writes 0x0123456789abcdef into its own zeroed slot pair (at a
    +0 and a +3 / +4 offset), so partial-width and byte order both show."""
    p = Prog((0x0123_4567_89AB_CDEF,))
    for op, form in STORES:
        for delta in ((0,) if form == "ds" else (0, 3)):
            off = p.slot(f"{op} +{delta}")
            p.slot(f"{op} +{delta} (next)")
            p.load("r3", 0x0123_4567_89AB_CDEF)
            p.emit(f"mr {BASE},r31")
            if form == "x":
                p.emit(f"li r4,{off + delta}", f"{op} r3,{BASE},r4")
            else:
                p.emit(f"{op} r3,{off + delta}({BASE})")
            if _update_form(op):
                p.emit(f"subf {BASE},r31,{BASE}")
                p.save(BASE, f"{op} RA")
    return p.case()


BRANCH_BO = (0, 2, 4, 6, 7, 8, 10, 12, 14, 15, 16, 18, 20, 24, 25, 26, 27)


def bc_case() -> Case:
    """bc with every valid BO (incl. 'at' hints) against CR bit 1/0 and CTR
    0/1/2: records taken/not-taken and CTR after."""
    p = Prog()
    for bo in BRANCH_BO:
        for crbit in (1, 0):
            for ctr in (0, 1, 2):
                p.set_cr(0x4000_0000 if crbit else 0)  # CR bit 1 (cr0.gt)
                p.emit(f"li {TMP},{ctr}", f"mtctr {TMP}", "li r5,0")
                taken = p.label()
                p.emit(f"bc {bo},1,{taken}", "ori r5,r5,1", f"{taken}:", "mfctr r6")
                p.save("r5", f"bc {bo},cr.gt={crbit},ctr={ctr} fallthrough")
                p.save("r6", f"bc {bo},cr.gt={crbit},ctr={ctr} ctr")
    return p.case()


def branch_reg_case() -> Case:
    """bclr/bcctr with and without LK (LR is exact: same layout on both sides),
    b/bl/ba/bla, bcl, and bdnz / bdnzt loops."""
    p = Prog()
    for kind, spr in (("bclr", "lr"), ("bcctr", "ctr")):
        for bo, bi in ((20, 0), (12, 2), (4, 2), (12, 1), (16, 0), (18, 0)):
            if kind == "bcctr" and not bo & 4:
                continue  # bcctr with CTR decrement is an invalid form
            for lk in ("", "l"):
                target = p.label()
                p.set_cr(0x2000_0000)  # cr0.eq
                p.emit(f"li {TMP},2", "mtctr " + TMP, f"lis {TMP},{target}@ha",
                       f"addi {TMP},{TMP},{target}@l", f"mt{spr} {TMP}", "li r5,0",
                       f"{kind}{lk} {bo},{bi}" + (",0" if kind == "bcctr" else ""),
                       "ori r5,r5,1", f"{target}:", "mflr r6", "mfctr r7")
                name = f"{kind}{lk} {bo},{bi}"
                p.save("r5", f"{name} fallthrough")
                p.save("r6", f"{name} lr")
                p.save("r7", f"{name} ctr")
    t1, t2, t3, t4 = p.label(), p.label(), p.label(), p.label()
    p.emit(f"bl {t1}", f"{t1}:", "mflr r5", f"b {t2}", "li r5,-1", f"{t2}:",
           f"bla {t3}", f"{t3}:", "mflr r6", f"bcl 20,31,{t4}", f"{t4}:", "mflr r7")
    p.save("r5", "bl lr")
    p.save("r6", "bla lr")
    p.save("r7", "bcl 20,31 lr")
    loop = p.label()
    p.emit("li r5,0", f"li {TMP},10", f"mtctr {TMP}", f"{loop}:", "addi r5,r5,3",
           f"bdnz {loop}", "mfctr r6")
    p.save("r5", "bdnz loop sum")
    p.save("r6", "bdnz loop ctr")
    loop = p.label()  # bdnzf: leaves when CR bit 2 (cr0.eq) is set, r5 = 4
    p.emit("li r5,0", f"li {TMP},10", f"mtctr {TMP}", f"{loop}:", "addi r5,r5,1",
           "cmpwi r5,4", f"bdnzf 2,{loop}", "mfctr r6", f"mfcr {TMP}")
    p.save("r5", "bdnzf loop count")
    p.save("r6", "bdnzf loop ctr")
    p.save(TMP, "bdnzf loop cr")
    return p.case()


def larx_case(width) -> Case:
    """larx/stcx. on one thread: success; a second stcx. after the first one
    consumed the reservation fails; a stcx. with no reservation fails; CR0.SO
    copies XER.SO."""
    sfx = {1: "b", 2: "h", 4: "w", 8: "d"}[width]
    p = Prog((0x1122_3344_5566_7788,))
    word = p.slot(f"{sfx} word")
    p.emit(f"addi {BASE},r31,{word}", "li r3,0x77", f"st{sfx}cx. r3,0,{BASE}",
           f"mfcr {TMP}")
    p.save(TMP, f"st{sfx}cx. without reservation cr")
    p.emit("ld r3,0(r31)", f"std r3,{word}(r31)")
    for so in (0, SO):
        p.set_xer(so)
        p.emit(f"l{sfx}arx r5,0,{BASE}", "addi r5,r5,1", f"st{sfx}cx. r5,0,{BASE}",
               f"mfcr {TMP}")
        p.save("r5", f"l{sfx}arx value+1 so={so:#x}")
        p.save(TMP, f"st{sfx}cx. after l{sfx}arx cr so={so:#x}")
        p.emit("addi r5,r5,1", f"st{sfx}cx. r5,0,{BASE}", f"mfcr {TMP}")
        p.save(TMP, f"second st{sfx}cx. cr so={so:#x}")
        p.emit(f"mtcrf 0xff,{ZERO}")
    return p.case()


def so_sticky_case() -> Case:
    """XER.SO: set by an overflowing OE=1 op, kept by later non-overflowing
    ones (OV clears), copied into CR0 by Rc=1 ops and into compare results;
    cleared only by mtxer."""
    p = Prog()
    p.load("r3", 0x7FFF_FFFF_FFFF_FFFF)
    p.load("r4", 1)
    steps = ("addo r5,r3,r4", "addo r5,r4,r4", "add. r5,r4,r4", "cmpw cr3,r4,r4",
             "subfo. r5,r4,r4", "mulldo r5,r3,r3", "mulldo r5,r4,r4", "nego r5,r4",
             "mullwo. r5,r3,r3", "addco r5,r4,r4", "mtxer r30", "add. r5,r4,r4")
    for step in steps:
        p.emit(step)
        p.save("r5", step)
        p.save_flags(step)
    return p.case()


def _true_relations(a, b, bits) -> int:
    """TO bits (lt gt eq ltu gtu = 16 8 4 2 1) that hold for a ? b at a width."""
    m = (1 << bits) - 1
    ua, ub = a & m, b & m
    sa, sb = ua - (ua >> (bits - 1) << bits), ub - (ub >> (bits - 1) << bits)
    return ((16 if sa < sb else 0) | (8 if sa > sb else 0) | (4 if sa == sb else 0)
            | (2 if ua < ub else 0) | (1 if ua > ub else 0))


def trap_cache_case() -> Case:
    """Traps whose TO holds none of the true relations must not trap (a taken
    trap ends the qemu run with SIGTRAP, so only the not-taken side is
    testable here); barriers and cache hints change nothing; dcbz zeroes
    the aligned 128-byte block [SK-dt d-cache-block-size]."""
    p = Prog()
    for a in VALUES:
        p.load("r3", a)
        for b in VALUES:
            p.load("r4", b)
            p.emit(f"tw {31 & ~_true_relations(a, b, 32)},r3,r4",
                   f"td {31 & ~_true_relations(a, b, 64)},r3,r4")
        for imm in (-1, 0, 1, 0x7FFF, -0x8000):
            p.emit(f"twi {31 & ~_true_relations(a, imm, 32)},r3,{imm}",
                   f"tdi {31 & ~_true_relations(a, imm, 64)},r3,{imm}")
        p.emit(f"li r5,{VALUES.index(a) + 1}")
        p.save("r5", f"reached after traps with RA={a:#x}")
    p.emit("sync", "lwsync", "ptesync", "isync", "eieio", "dcbt 0,r31", "dcbtst 0,r31",
           "dcbf 0,r31", "dcbst 0,r31", "icbi 0,r31")
    first = 8 * len(p.slots)
    assert first % 128 == 0 and DATA_ADDR % 128 == 0
    p.load("r3", M64)
    for i in range(48):  # three blocks of ones; dcbz clears the first two
        p.save("r3", f"block {i // 16} word {i % 16}")
    p.emit(f"addi r3,r31,{first + 128 + 8}", "dcbz 0,r3", f"li r4,{first + 8}",
           "dcbz r31,r4")
    return p.case()


def spr_case() -> Case:
    """mtspr/mfspr by number and by extended mnemonic for XER, LR and CTR;
    mtxer keeps only XER's defined fields (the rest is masked)."""
    p = Prog((M64, 0x0123_4567_89AB_CDEF))
    p.load("r3", M64)
    p.emit("mtspr 1,r3", "mfxer r5", f"mtxer {ZERO}")
    p.save("r5", "mtspr 1 all-ones; mfxer", XER_MASK)
    p.load("r3", 0x0123_4567_89AB_CDEF)
    p.emit("mtspr 8,r3", "mfspr r5,8", "mflr r6", "mtspr 9,r5", "mfspr r7,9", "mfctr r8")
    for r in ("r5", "r6", "r7", "r8"):
        p.save(r, f"lr/ctr round trip {r}")
    p.emit(f"mtlr {ZERO}", f"mtctr {ZERO}")
    return p.case()


def _directed() -> dict:
    cases = {}
    for op in XO_BINARY + XO_UNARY:
        for sfx in SUFFIXES:
            cases[f"arith-{op}{sfx}"] = lambda op=op, sfx=sfx: arith_case(op, sfx)
    for op in MUL_DIV:
        for sfx in (("", ".") if op.startswith("mulh") else SUFFIXES):
            cases[f"muldiv-{op}{sfx}"] = lambda op=op, sfx=sfx: muldiv_case(op, sfx)
    for op in SHIFTS:
        cases[f"shift-{op}"] = lambda op=op: shift_case(op)
    for w in (1, 2, 4, 8):
        cases[f"larx-{w}"] = lambda w=w: larx_case(w)
    cases.update({
        "mulli": mulli_case, "d-form-arith": d_form_arith_case,
        "logical": logical_case, "logical-imm": logical_imm_case, "unary": unary_case,
        "shift-imm": shift_imm_case, "rlw": rlw_case, "rld": rld_case,
        "compare": lambda: compare_case(False), "compare-so": lambda: compare_case(True),
        "cr": cr_case, "isel": isel_case,
        "load-aligned": lambda: load_case(True), "load-unaligned": lambda: load_case(False),
        "store": store_case, "bc": bc_case, "branch-reg": branch_reg_case,
        "so-sticky": so_sticky_case, "spr": spr_case, "trap-cache": trap_cache_case,
    })
    return cases


DIRECTED = _directed()


# --- seeded random straight-line programs --------------------------------------------

RANDOM_SEEDS = range(20)
RANDOM_LENGTH = 200
RANDOM_DATA = 256  # bytes of random data the memory ops read and write
FREE_REGS = [f"r{i}" for i in range(31)]  # r31 is the harness's scratch base


def _li64(reg, v) -> list:
    return [f"lis {reg},{_s16(v >> 48)}", f"ori {reg},{reg},{v >> 32 & 0xFFFF}",
            f"rldicr {reg},{reg},32,31", f"oris {reg},{reg},{v >> 16 & 0xFFFF}",
            f"ori {reg},{reg},{v & 0xFFFF}"]


def random_case(seed) -> Case:
    """A program over the user-level integer subset with results fully defined
    by the ISA (no divides, no mulhw[u]): every GPR except r31 starts random,
    CR random, XER random CA/OV/SO, the region random; then RANDOM_LENGTH
    ops: ALU, loads/stores into the region, CTR moves and forward branches."""
    rng = random.Random(seed)
    reg = lambda: rng.choice(FREE_REGS)  # noqa: E731
    # RA = r0 reads as the literal 0 in addi/addis/addic/isel...: write it so
    ra0 = lambda: (lambda r: "0" if r == "r0" else r)(reg())  # noqa: E731
    interesting = VALUES + (0x0123_4567_89AB_CDEF, 0xFFFF_FFFF_0000_0000)
    lines = []
    for r in FREE_REGS:
        v = rng.choice(interesting) if rng.random() < 0.3 else rng.getrandbits(64)
        lines += _li64(r, v)
    lines += [f"mtcrf 0xff,r{rng.randrange(31)}"]
    xer = rng.choice((0, CA, CA | CA32, SO | OV, SO | CA))
    lines += [f"lis r0,{xer >> 16}", "mtxer r0", f"ori r0,r0,{rng.randrange(1 << 16)}"]

    def rc():
        return rng.choice(("", "."))

    gens = [
        lambda: f"{rng.choice(XO_BINARY + ('mulld', 'mullw'))}{rng.choice(SUFFIXES)} "
                f"{reg()},{reg()},{reg()}",
        lambda: f"{rng.choice(('mulhd', 'mulhdu'))}{rc()} {reg()},{reg()},{reg()}",
        lambda: f"{rng.choice(XO_UNARY)}{rng.choice(SUFFIXES)} {reg()},{reg()}",
        lambda: f"{rng.choice(('addi', 'addis'))} {reg()},{ra0()},"
                f"{rng.randrange(-0x8000, 0x8000)}",
        lambda: f"{rng.choice(('addic', 'addic.', 'subfic', 'mulli'))} "
                f"{reg()},{reg()},{rng.randrange(-0x8000, 0x8000)}",
        lambda: f"{rng.choice(LOGICAL_IMM)} {reg()},{reg()},{rng.randrange(0x10000)}",
        lambda: f"{rng.choice(LOGICAL + SHIFTS)}{rc()} {reg()},{reg()},{reg()}",
        lambda: f"{rng.choice(UNARY)}{rc()} {reg()},{reg()}",
        lambda: f"{rng.choice(POPCNT)} {reg()},{reg()}",
        lambda: f"srawi{rc()} {reg()},{reg()},{rng.randrange(32)}",
        lambda: f"sradi{rc()} {reg()},{reg()},{rng.randrange(64)}",
        lambda: f"rlwinm{rc()} {reg()},{reg()},{rng.randrange(32)},{rng.randrange(32)},"
                f"{rng.randrange(32)}",
        lambda: f"rlwnm{rc()} {reg()},{reg()},{reg()},{rng.randrange(32)},{rng.randrange(32)}",
        lambda: f"rlwimi{rc()} {reg()},{reg()},{rng.randrange(32)},{rng.randrange(32)},"
                f"{rng.randrange(32)}",
        lambda: f"{rng.choice(('rldicl', 'rldicr', 'rldic', 'rldimi'))}{rc()} {reg()},{reg()},"
                f"{rng.randrange(64)},{rng.randrange(64)}",
        lambda: f"{rng.choice(('rldcl', 'rldcr'))}{rc()} {reg()},{reg()},{reg()},{rng.randrange(64)}",
        lambda: f"{rng.choice(('cmpw', 'cmpd', 'cmplw', 'cmpld'))} cr{rng.randrange(8)},"
                f"{reg()},{reg()}",
        lambda: f"{rng.choice(('cmpwi', 'cmpdi'))} cr{rng.randrange(8)},{reg()},"
                f"{rng.randrange(-0x8000, 0x8000)}",
        lambda: f"{rng.choice(('cmplwi', 'cmpldi'))} cr{rng.randrange(8)},{reg()},"
                f"{rng.randrange(0x10000)}",
        lambda: f"{rng.choice(CR_LOGIC)} {rng.randrange(32)},{rng.randrange(32)},{rng.randrange(32)}",
        lambda: f"mcrf {rng.randrange(8)},{rng.randrange(8)}",
        lambda: f"isel {reg()},{ra0()},{reg()},{rng.randrange(32)}",
        lambda: f"mtcrf {rng.randrange(256):#x},{reg()}",
        lambda: f"mfcr {reg()}",
        lambda: f"mfxer {reg()}",
    ]
    alu = list(gens)

    def branch_over():
        """A forward conditional branch (any valid BO, so CTR counts down too)
        over one to three ALU ops."""
        skipped = [rng.choice(alu)() for _ in range(rng.randint(1, 3))]
        return [f"bc {rng.choice(BRANCH_BO)},{rng.randrange(32)},1f", *skipped, "1:"]

    gens += [
        lambda: f"{rng.choice(('lbz', 'lhz', 'lha', 'lwz', 'stb', 'sth', 'stw'))} {reg()},"
                f"{rng.randrange(RANDOM_DATA - 7)}(r31)",
        lambda: f"{rng.choice(('lwa', 'ld', 'std'))} {reg()},"
                f"{4 * rng.randrange((RANDOM_DATA - 7) // 4)}(r31)",
        lambda: f"{rng.choice(('lhbrx', 'lwbrx', 'ldbrx', 'sthbrx', 'stwbrx', 'stdbrx'))} "
                f"{reg()},0,r31",
        lambda: f"mtctr {reg()}",
        lambda: f"mfctr {reg()}",
        branch_over,
    ]
    for _ in range(RANDOM_LENGTH):
        x = rng.choice(gens)()
        lines += x if isinstance(x, list) else [x]
    return Case("\n".join(x if x.endswith(":") else "    " + x for x in lines),
                data=bytes(rng.getrandbits(8) for _ in range(RANDOM_DATA)))


# --- tests -----------------------------------------------------------------------------

@needs_tools
def test_harness_initial_state():
    """An empty body: everything zero, r31 = DATA_ADDR, the region = data."""
    data = bytes(range(1, 25))
    r = run_qemu("", data)
    assert r.gpr[:31] == [0] * 31
    assert (r.cr, r.xer, r.lr, r.ctr) == (0, 0, 0, 0)
    assert r.mem == data


@needs_tools
def test_harness_sees_known_results():
    """Facts computed here independently of qemu: the harness must report them."""
    body = "\n".join([
        "ld r3,0(r31)", "addc r4,r3,r3", "li r5,1", "addo. r6,r3,r3",
        "std r3,8(r31)", "bl 1f", "1: mflr r7", "li r8,7", "mtctr r8",
    ])
    x = 0x8000_0000_0000_0001
    r = run_qemu(body, struct.pack("<Q", x) + bytes(8))
    assert r.gpr[3] == x
    assert r.gpr[4] == (2 * x) & M64 == r.gpr[6] == 2
    # addc carried out of bit 0 only; addo. overflowed 64-bit, not 32-bit
    assert r.xer & (SO | OV | CA | OV32 | CA32) == SO | OV | CA
    assert r.cr >> 28 == 0b0101  # CR0 = GT | SO
    assert r.mem[8:16] == struct.pack("<Q", x)
    assert r.gpr[7] == r.lr == BODY_ADDR + 4 * 6
    assert r.ctr == 7


def test_diff_names_and_masks():
    a = State(gpr=[0] * 32, cr=0, xer=0, lr=0, ctr=0, mem=bytes(16))
    b = State(gpr=[0] * 5 + [0xFFFF_FFFF_0000_0000] + [0] * 26, cr=0x2000_0000,
              xer=SO, lr=0, ctr=0, mem=bytes(8) + b"\1" + bytes(7))
    lines = diff(a, b, slots=[("first", M64), ("second", M64)])
    text = "\n".join(lines)
    assert "r5" in text and "cr0=0010" in text and "SO" in text and "second" in text
    assert diff(a, b, masks={"r5": M32, "cr": 0, "xer": 0},
                slots=[("first", M64), ("second", 0)]) == []


@needs_tools
def test_same_prologue_and_layout():
    """Both wrappers share the prologue text; powersim's image has _start at
    CODE_ADDR and the region at DATA_ADDR, as the qemu linker script does."""
    q, s = qemu_source("nop", b"\1" * 8), powersim_source("nop", b"\1" * 8)
    assert q.split("_start:\n")[1].split("nop")[0] == s.split("_start:\n")[1].split("nop")[0]
    img = assemble(s, base=0, filename="layout.s")
    assert img.symbols["_start"] == CODE_ADDR
    assert img.data[DATA_ADDR:DATA_ADDR + 8] == b"\1" * 8


@needs_tools
@pytest.mark.parametrize("name", sorted(DIRECTED) + [f"random-{s}" for s in RANDOM_SEEDS])
def test_qemu_runs_corpus(name):
    """Every corpus program assembles with GNU as and runs to completion under
    qemu (catches corpus typos without the machine core); random programs
    really change the registers they draw from."""
    if name.startswith("random-"):
        case = random_case(int(name.split("-")[1]))
        r = run_qemu(case.body, case.data)
        assert sum(g != 0 for g in r.gpr[:31]) > 10 and r.mem != case.data
    else:
        case = DIRECTED[name]()
        r = run_qemu(case.body, case.data, size=8 * len(case.slots))
        assert len(r.mem) == 8 * len(case.slots)
        assert any(r.mem[len(case.data):])  # results were stored


# Entries that use instructions powersim's ISA subset may leave out.
OPTIONAL_MNEMONICS = {"larx-1": ("lbarx", "stbcx."), "larx-2": ("lharx", "sthcx.")}


@needs_tools
@pytest.mark.parametrize("name", sorted(DIRECTED))
def test_directed_vs_qemu(name):
    missing = [m for m in OPTIONAL_MNEMONICS.get(name, ()) if isa.table().lookup(m) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not in powersim's ISA subset (the ISA table)")
    case = DIRECTED[name]()
    size = 8 * len(case.slots)
    q = run_qemu(case.body, case.data, size=size)
    s = run_powersim(case.body, case.data, size=size)
    problems = diff(q, s, slots=case.slots)
    assert not problems, f"{name}: powersim differs from qemu\n" + "\n".join(problems)


@needs_tools
@pytest.mark.parametrize("seed", RANDOM_SEEDS)
def test_random_vs_qemu(seed):
    case = random_case(seed)
    q = run_qemu(case.body, case.data)
    s = run_powersim(case.body, case.data)
    problems = diff(q, s, slots=case.slots)
    assert not problems, (f"random seed {seed}: powersim differs from qemu\n"
                          + "\n".join(problems))
