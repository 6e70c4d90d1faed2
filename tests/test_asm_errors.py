"""Every assembler error names file, line and the reason (and what is allowed)."""

import pytest

from powersim.asm import Builder, assemble
from powersim.errors import AsmError, PowersimError

CASES = [
    # (source, line of the error, fragments of the message)
    ("nop\n ldd r3,8(r4)\n", 2, ["unknown mnemonic 'ldd'", "did you mean 'ld'?"]),
    ("ld r3\n", 1, ["'ld' takes 2 operands", "(ld RT,DS(RA0))", "got 1"]),
    ("cmpd r3\n", 1, ["'cmpd' takes 2 to 3 operands", "[BF]", "got 1"]),
    ("nop 1\n", 1, ["'nop' takes 0 operands", "got 1"]),
    ("li r3,0x8000\n", 1, ["li: operand SI = 32768", "-32768..32767"]),
    ("ori r3,r3,-1\n", 1, ["operand UI = -1", "0..65535"]),
    ("ld r3,6(r4)\n", 1, ["operand DS = 6", "a multiple of 4"]),
    ("beq far\n.org 0x8000\nfar: nop\n", 1, ["operand BD = 32768", "-32768..32764"]),
    ("b nowhere\n", 1, ["undefined symbol 'nowhere'"]),
    ("x = nowhere + 1\nli r3,x\n", 1, ["undefined symbol 'nowhere'"]),
    ("b 1f\n", 1, ["undefined local label 1f", "no later '1:'"]),
    ("b 1b\n", 1, ["local label 1b has no earlier '1:'"]),
    ("a: nop\n\na: nop\n", 3, ["duplicate label 'a'"]),
    ("a = 1\na: nop\n", 2, ["duplicate label 'a'"]),
    ("a: nop\n.set a, 4\n", 2, ["duplicate label 'a'", "cannot be .set"]),
    ("nop\n.org 6\n", 2, ["misaligned .org 0x6 in .text", "multiple of 4"]),
    ("nop\nnop\nnop\n.org 8\n", 4,
     [".org 0x8 moves backwards", "already 0xc", "only moves forward"]),
    ("li r32,1\n", 1, ["bad register name 'r32'", "r0..r31"]),
    ("li %x1,1\n", 1, ["bad register name '%x1'", "cr0..cr7"]),
    ("li cr3,1\n", 1, ["operand 1 (RT) of 'li' must be a GPR (r0..r31), got 'cr3'"]),
    ("addi r3,r4,r5\n", 1, ["operand 3 (SI) of 'addi' must be a number, got 'r5'"]),
    ("cmpd r7,r3,r4\n", 1, ["operand 1 (BF) of 'cmpd' must be a CR field (cr0..cr7)"]),
    ("li r3,1/0\n", 1, ["division by zero in expression"]),
    (".quad 1\n.quad 5%(2-2)\n", 2, ["division by zero in expression"]),
    ("li r3,1+\n", 1, ["expression ends too early"]),
    ("li r3,(1\n", 1, ["missing ')'"]),
    ("li r3,09\n", 1, ["bad octal number '09'"]),
    ("li r3,4@lo\n", 1, ["unknown relocation operator '@lo'", "@highesta"]),
    ("li r3,4@l+1\n", 1, ["must follow the whole expression"]),
    ("ld r3,8\n", 1, ["operand 2 of 'ld' must be DS(RA0)", "8(r4)"]),
    (".quadd 1\n", 1, ["unknown directive .quadd", "did you mean .quad?", "supported:"]),
    (".section .bss\n", 1, ["unsupported section '.bss'", "allowed: .text, .data"]),
    (".space n\nn = 4\n", 1, [".space size must be known", "'n' is not (it is defined later"]),
    (".data\nd: .quad 1\n.text\n.space d\n", 4, ["'d' is not", "in the other section"]),
    (".space -4\n", 1, [".space size -4 is negative"]),
    (".byte 256\n", 1, ["value 0x100 does not fit in .byte", "-0x80..0xff"]),
    (".short 1, 0x10000\n", 1, ["does not fit in .short"]),
    (".balign 12\n", 1, [".balign 12", "power of two"]),
    (".align 17\n", 1, [".align 17", "0..16"]),
    (".space 2, 300\n", 1, ["fill value 0x12c must be a byte"]),
    (".org\n", 1, [".org takes 1..2 operands"]),
    (".set x\n", 1, [".set takes a symbol and an expression"]),
    (".byte 1\nnop\n", 2, ["instruction at misaligned address", "offset 0x1"]),
    (".quad\n", 1, [".quad needs at least one value"]),
    (".org 0x100000000\n", 1, [".text would grow to 0x100000000 bytes", "at most 0x10000000"]),
]


@pytest.mark.parametrize("source,line,fragments", CASES, ids=[c[2][0][:40] for c in CASES])
def test_error_names_file_line_and_reason(source, line, fragments):
    with pytest.raises(AsmError) as info:
        assemble(source, filename="bad.s")
    e = info.value
    assert isinstance(e, PowersimError)
    assert (e.file, e.line) == ("bad.s", line)
    assert str(e).startswith(f"bad.s:{line}: ")
    for fragment in fragments:
        assert fragment in str(e)


def test_the_same_source_without_the_mistake_assembles():
    # the cases above fail because of the mistake, not the rest of the line
    assert len(assemble("nop\n ld r3,8(r4)\n").data) == 8
    assert len(assemble("a: nop\n\nb: nop\n").data) == 8
    assert len(assemble("li r3,0x7fff\nori r3,r3,0xffff\n").data) == 8


def test_several_errors_are_reported_together_in_line_order():
    src = "foo\nnop\nb nowhere\nli r3,1/0\nbar\nbaz\nqux\nquux\n"
    with pytest.raises(AsmError) as info:
        assemble(src, filename="many.s")
    lines = str(info.value).splitlines()
    assert lines[0] == "many.s:1: unknown mnemonic 'foo'"
    assert lines[1] == "many.s:3: undefined symbol 'nowhere'"
    assert lines[2] == "many.s:4: division by zero in expression"
    assert lines[-1] == "... and 2 more errors" and len(lines) == 6


@pytest.mark.parametrize("bad", ["bogus", "li r3,09", "li r3,,", ".long 09", "x = 09"])
def test_an_error_reports_only_itself(bad):
    # a bad statement keeps its size, so the .org below does not move backwards
    with pytest.raises(AsmError) as info:
        assemble(f"{bad}\nb 1f\n.org 8\n1: nop\n")
    assert str(info.value).startswith("<input>:1: ") and "\n" not in str(info.value)


@pytest.mark.parametrize("base", [-4, 2, 0x1001, 1 << 64])
def test_bad_base_is_refused(base):
    with pytest.raises(AsmError, match=r"must be a multiple of 4 in 0\.\.2\*\*64-4"):
        assemble("nop\n", base=base)


def test_builder_refuses_an_unknown_spin_condition():
    with pytest.raises(AsmError, match="cond 'equal' must be one of eq, ne, lt, ge, gt, le"):
        Builder().spin_until("r3", "r4", "equal", 0)
