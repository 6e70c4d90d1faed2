"""The assembler: a GNU-as-syntax subset to a flat little-endian image.

    from powersim.asm import assemble, Builder
    img = assemble("_start: li r3,5\\n b _start\\n", base=0x100)
    img.data, img.base, img.symbols["_start"], img.lines[0x100]

Every instruction word comes from ``isa.table().encode`` (one encoder); the
output is byte-identical to GNU as -mpower9 -mregnames linked at the same
address [OBJ] (tests/test_asm.py checks it).

Layout of the flat image.  There are two sections, each with its own
location counter.  ``.text`` starts at ``base``; ``.data`` follows the end of
``.text`` rounded up to the larger of 8 and the largest alignment requested
in ``.data``; the gap is zero.  As in GNU as, ``.org`` and ``.align`` are
relative to the start of their section (so ``--base`` should be a multiple of
the largest ``.align`` used in ``.text``).  Alignment padding in ``.text`` is
``nop`` when it is a whole number of words and zero bytes otherwise, like GNU
as on PowerPC [OBJ]; ``.org``/``.space`` padding is zero.

Two passes: the first parses every statement, assigns addresses and defines
labels; the second evaluates operands (forward references resolve here) and
encodes.  ``.org``, ``.space`` and ``.align`` sizes must be known in the
first pass.  Errors are collected (the first few are reported together) and
raised as one ``AsmError`` naming file and line.
"""

import difflib
import re
import sys
from dataclasses import dataclass, field

from powersim.asm_builder import Builder  # re-exported: the public API is powersim.asm
from powersim.asm_expr import (ExprError, Undefined, apply_reloc, bad_register, evaluate, wrap,
                               looks_like_register, split_reloc, tokenize)
from powersim.errors import AsmError, EncodeError

NOP = 0x60000000  # ori 0,0,0 [OBJ]
DATA_ALIGN = 8  # minimum alignment of .data in the flat image
MAX_REPORTED = 5  # errors listed in one AsmError
MAX_COLLECTED = 50  # stop collecting after this many
MAX_SECTION = 1 << 28  # bytes; a kernel image is far smaller, a typo in .org is not

_DATA_WIDTH = {".byte": 1, ".short": 2, ".hword": 2, ".long": 4, ".int": 4, ".quad": 8}
_IGNORED = {".globl", ".global", ".type", ".size", ".localentry", ".machine", ".abiversion"}
_ALIGN = {".align", ".p2align", ".balign"}
_SPACE = {".space", ".skip", ".zero"}
_SECTIONS = (".text", ".data")
_FILLED = {".space", ".skip", ".org"} | _ALIGN  # directives with a FILL second operand
_DIRECTIVES = (sorted(_DATA_WIDTH) + sorted(_IGNORED) + sorted(_ALIGN) + sorted(_SPACE)
               + [".org", ".set", ".equ", ".section", ".text", ".data"])

_LABEL = re.compile(r"\s*([A-Za-z_.$][\w.$]*|\d+)\s*:(?!:)")
_ASSIGN = re.compile(r"\s*([A-Za-z_.$][\w.$]*)\s*=(?!=)(.*)$")
_SYMBOL = re.compile(r"[A-Za-z_.$][\w.$]*$")


@dataclass(frozen=True)
class Image:
    """An assembled flat image (docs/CONTRACTS.md)."""
    data: bytes
    base: int
    symbols: dict  # name -> address or .set value; local labels (1:, .L...) left out, as GNU
    lines: dict  # address -> (file, line, source text) of each instruction/data statement


@dataclass
class _Stmt:
    line: int
    text: str
    section: int  # index into _SECTIONS
    offset: int  # within the section
    name: str  # mnemonic or directive
    operands: list  # token lists
    raw: list  # the operand texts, for messages
    size: int = 0
    insn: object = None
    symbol: str = ""  # for .set


@dataclass
class _State:
    filename: str
    base: int
    errors: list = field(default_factory=list)
    stmts: list = field(default_factory=list)
    labels: dict = field(default_factory=dict)  # name -> (section, offset)
    sets: dict = field(default_factory=dict)  # name -> current value (pass 1: section-relative)
    set_final: dict = field(default_factory=dict)  # name -> value after layout
    local_count: dict = field(default_factory=dict)  # "1" -> definitions so far
    section: int = 0
    offsets: list = field(default_factory=lambda: [0, 0])  # location counters
    sizes: list = field(default_factory=lambda: [0, 0])  # high-water marks
    align: list = field(default_factory=lambda: [4, DATA_ALIGN])
    section_base: list = field(default_factory=lambda: [0, 0])
    labels_abs: dict = field(default_factory=dict)  # name -> address, after layout
    dot: int = 0

    def error(self, line: int, reason: str):
        if len(self.errors) < MAX_COLLECTED:
            self.errors.append((line, reason))


def _table():
    from powersim import isa
    return isa.table()


def assemble(source: str, base: int = 0, filename: str = "<input>", table=None) -> Image:
    """Assemble GNU-as-syntax ``source`` into a flat image starting at ``base``.

    ``table`` is the instruction table (default ``isa.table()``).  Raises
    AsmError naming file, line and reason.
    """
    _check_base(base, "base address", filename)
    st = _State(filename, base)
    t = table if table is not None else _table()
    for lineno, raw in enumerate(_strip_block_comments(source).split("\n"), 1):
        for piece in _statements(raw):
            try:
                _pass1(st, t, lineno, piece)
            except (AsmError, ExprError) as e:
                st.error(lineno, _reason(e))
    _layout(st)
    out = [bytearray(st.sizes[0]), bytearray(st.sizes[1])]
    lines = {}
    for s in st.stmts:
        st.dot = st.section_base[s.section] + s.offset
        try:
            _pass2(st, t, s, out[s.section])
        except (AsmError, ExprError) as e:
            st.error(s.line, _reason(e))
        if s.size and (s.insn is not None or s.name in _DATA_WIDTH):
            lines[st.dot] = (filename, s.line, s.text)
    if st.errors:
        _raise(st)
    gap = st.section_base[1] - st.base - st.sizes[0]
    data = bytes(out[0]) + bytes(gap) + bytes(out[1]) if st.sizes[1] else bytes(out[0])
    symbols = {name: addr for name, addr in st.labels_abs.items()
               if "\x02" not in name and not name.startswith(".L")}  # assembler-local
    symbols.update(st.sets)
    return Image(data=data, base=base, symbols=symbols, lines=lines)


def _check_base(base, what: str, filename: str):
    if not isinstance(base, int) or not 0 <= base < 1 << 64 or base % 4:
        raise AsmError(f"{what} {base!r} must be a multiple of 4 in 0..2**64-4", filename)


def _reason(e) -> str:
    return e.reason if isinstance(e, AsmError) else str(e)


def _raise(st: _State):
    st.errors.sort(key=lambda e: e[0])
    (line, reason), rest = st.errors[0], st.errors[1:]
    more = [f"{st.filename}:{ln}: {r}" for ln, r in rest[:MAX_REPORTED - 1]]
    if len(rest) > MAX_REPORTED - 1:
        more.append(f"... and {len(rest) - MAX_REPORTED + 1} more errors")
    raise AsmError("\n".join([reason] + more), st.filename, line)


# --- lexing of lines ----------------------------------------------------------

def _strip_block_comments(source: str) -> str:
    """Replace /* ... */ by spaces, keeping the newlines so line numbers hold."""
    return re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group()), source, flags=re.S)


def _split(text: str, sep: str) -> list:
    """Split at ``sep`` outside character constants and parentheses; cut at '#'."""
    if "'" not in text and "(" not in text:  # the common case, without the scan
        return text.split("#", 1)[0].split(sep)
    parts, depth, cur, i = [], 0, [], 0
    while i < len(text):
        c = text[i]
        if c == "'":  # a character constant: 'c, 'c' or '\n' (GNU as)
            n = 3 if text[i + 1:i + 2] == "\\" else 2
            n += text[i + n:i + n + 1] == "'"
            cur.append(text[i:i + n])
            i += n
            continue
        if c == "#":
            break
        depth += (c == "(") - (c == ")")
        if c == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _statements(line: str) -> list:
    return [s for s in _split(line, ";") if s.strip()]


# --- pass 1: parse, place, define labels --------------------------------------

def _pass1(st: _State, t, lineno: int, text: str):
    while m := _LABEL.match(text):
        _define_label(st, lineno, m.group(1))
        text = text[m.end():]
    text = text.strip()
    if not text:
        return
    if m := _ASSIGN.match(text):
        name, expr = m.group(1), m.group(2)
        _define_set(st, lineno, text, name, expr)
        return
    name, rest = (re.split(r"\s+", text, maxsplit=1) + [""])[:2]
    if name.startswith("."):
        _directive1(st, lineno, text, name.lower(), rest)
        return
    stmt = _new_stmt(st, lineno, text, name, _split(rest, ",") if rest else [])
    if st.offsets[st.section] % 4:
        raise AsmError(f"instruction at misaligned address (offset {st.offsets[st.section]:#x} "
                       f"in {_SECTIONS[st.section]} is not a multiple of 4; add .align 2)")
    _grow(st, stmt, 4)  # first, so that an error below does not shift later addresses
    _tokenize(st, stmt)
    stmt.insn = t.lookup(name.lower())  # mnemonics are case-insensitive, as in GNU as
    if stmt.insn is None:
        raise AsmError(_unknown_mnemonic(t, name))


def _new_stmt(st: _State, lineno: int, text: str, name: str, operands: list) -> _Stmt:
    s = _Stmt(lineno, text, st.section, st.offsets[st.section], name, [],
              [o.strip() for o in operands])
    st.stmts.append(s)
    return s


def _tokenize(st: _State, stmt: _Stmt):
    stmt.operands = [_localize(st, tokenize(o)) for o in stmt.raw]


def _localize(st: _State, tokens: list) -> list:
    """Rewrite ``1b``/``1f`` to the internal name of that definition of 1."""
    out = []
    for kind, v in tokens:
        if kind == "local":
            digits, way = v
            n = st.local_count.get(digits, 0) - (way == "b")
            if n < 0:
                raise AsmError(f"local label {digits}b has no earlier '{digits}:'")
            out.append(("name", f"{digits}\x02{n}"))
        else:
            out.append((kind, v))
    return out


def _define_label(st: _State, lineno: int, name: str):
    if name.isdigit():
        n = st.local_count.get(name, 0)
        st.local_count[name] = n + 1
        name = f"{name}\x02{n}"
    elif name in st.labels or name in st.sets:
        raise AsmError(f"duplicate label {name!r}")
    st.labels[name] = (st.section, st.offsets[st.section])


def _define_set(st: _State, lineno: int, text: str, name: str, expr: str):
    if name in st.labels:
        raise AsmError(f"duplicate label {name!r} (already a label, cannot be .set)")
    tokens = _localize(st, tokenize(expr))
    stmt = _new_stmt(st, lineno, text, ".set", [expr])
    stmt.operands, stmt.symbol = [tokens], name
    try:
        st.sets[name] = _eval1(st, stmt.operands[0])
    except Undefined:
        st.sets[name] = None  # a forward reference: resolved after layout


def _lookup1(st: _State, name: str) -> int:
    """Pass-1 value: labels are section offsets (enough for .org, .space, .align)."""
    if name == ".":
        return st.offsets[st.section]
    if name in st.labels:
        sec, off = st.labels[name]
        if sec != st.section:  # its address waits for the layout
            raise Undefined(name)
        return off
    if st.sets.get(name) is not None:
        return st.sets[name]
    raise Undefined(name)


def _eval1(st: _State, tokens: list) -> int:
    return evaluate(tokens, lambda n: _lookup1(st, n))


def _known(st: _State, stmt: _Stmt, i: int, what: str) -> int:
    try:
        return _eval1(st, stmt.operands[i])
    except Undefined as e:
        raise AsmError(f"{stmt.name} {what} must be known when it is reached; {e.name!r} "
                       f"is not (it is defined later, or in the other section)") from None


def _grow(st: _State, stmt: _Stmt, size: int):
    sec = st.section
    if st.offsets[sec] + size > MAX_SECTION:
        raise AsmError(f"{_SECTIONS[sec]} would grow to {st.offsets[sec] + size:#x} bytes "
                       f"(at most {MAX_SECTION:#x})")
    stmt.size = size
    st.offsets[sec] += size
    st.sizes[sec] = max(st.sizes[sec], st.offsets[sec])


def _directive1(st: _State, lineno: int, text: str, name: str, rest: str):
    if name in _IGNORED:
        return
    if name in (".text", ".data", ".section"):
        sec = rest.split(",")[0].strip() if name == ".section" else name
        if sec not in _SECTIONS:
            raise AsmError(f"unsupported section {sec!r} (allowed: .text, .data)")
        st.section = _SECTIONS.index(sec)
        return
    args = _split(rest, ",") if rest else []
    if name in (".set", ".equ"):
        if len(args) != 2 or not _SYMBOL.match(args[0].strip()):
            raise AsmError(f"{name} takes a symbol and an expression: {name} NAME, EXPR")
        _define_set(st, lineno, text, args[0].strip(), args[1])
        return
    if name not in _DIRECTIVES:
        close = difflib.get_close_matches(name, _DIRECTIVES, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise AsmError(f"unknown directive {name}{hint} (supported: {', '.join(_DIRECTIVES)})")
    stmt = _new_stmt(st, lineno, text, name, args)
    if name in _DATA_WIDTH:
        if not args:
            raise AsmError(f"{name} needs at least one value")
        _grow(st, stmt, _DATA_WIDTH[name] * len(args))
        _tokenize(st, stmt)  # after the size: a bad value does not shift later addresses
        return
    _tokenize(st, stmt)
    if name in _SPACE:
        zero = name == ".zero"
        _arity(stmt, 1, 1 if zero else 2, f"{name} N" + ("" if zero else "[,FILL]"))
        n = _known(st, stmt, 0, "size")
        if n < 0:
            raise AsmError(f"{name} size {n} is negative")
        _grow(st, stmt, n)
    elif name in _ALIGN:
        _arity(stmt, 1, 3, f"{name} N[,FILL[,MAX]]")
        _grow(st, stmt, _align_pad(st, stmt))
    else:  # .org
        _arity(stmt, 1, 2, ".org ADDR[,FILL]")
        target = _known(st, stmt, 0, "address")
        here = st.offsets[st.section]
        if target < here:
            raise AsmError(f".org {target:#x} moves backwards (the location in "
                           f"{_SECTIONS[st.section]} is already {here:#x}); "
                           f".org only moves forward")
        if st.section == 0 and target % 4:
            raise AsmError(f"misaligned .org {target:#x} in .text (must be a multiple of 4)")
        _grow(st, stmt, target - here)


def _arity(stmt: _Stmt, lo: int, hi: int, syntax: str):
    if not lo <= len(stmt.operands) <= hi:
        raise AsmError(f"{stmt.name} takes {lo}..{hi} operands: {syntax}" if lo != hi
                       else f"{stmt.name} takes {lo} operand: {syntax}")


def _align_pad(st: _State, stmt: _Stmt) -> int:
    n = _known(st, stmt, 0, "alignment")
    if stmt.name == ".balign":
        if n <= 0 or n & (n - 1) or n > 1 << 16:
            raise AsmError(f".balign {n}: the alignment must be a power of two 1..65536 bytes")
        size = n
    else:  # on PowerPC .align is a power of two, like .p2align [OBJ]
        if not 0 <= n <= 16:
            raise AsmError(f"{stmt.name} {n}: the exponent must be 0..16 (bytes = 2**N)")
        size = 1 << n
    st.align[st.section] = max(st.align[st.section], size)
    pad = -st.offsets[st.section] % size
    if len(stmt.operands) == 3 and stmt.operands[2]:
        limit = _known(st, stmt, 2, "maximum")
        pad = 0 if pad > limit else pad
    return pad


# --- layout --------------------------------------------------------------------

def _layout(st: _State):
    st.section_base[0] = st.base
    end = st.base + st.sizes[0]
    st.section_base[1] = end + (-end % st.align[1])
    st.labels_abs = {name: st.section_base[sec] + off for name, (sec, off) in st.labels.items()}
    # Final .set values, for uses before the definition: evaluate the sets in
    # source order, a round per link of a chain of forward references.
    sets = [s for s in st.stmts if s.name == ".set"]
    for _ in range(len(sets) + 1):
        st.sets, previous = {}, dict(st.set_final)
        for s in sets:
            st.dot = st.section_base[s.section] + s.offset
            try:
                st.sets[s.symbol] = _eval2(st, s.operands[0])
            except ExprError:
                pass
        st.set_final = st.sets
        if st.set_final == previous:
            break
    st.sets = {}


def _lookup_final(st: _State, name: str) -> int:
    if name == ".":
        return st.dot
    if name in st.labels_abs:
        return st.labels_abs[name]
    if name in st.set_final:
        return st.set_final[name]
    raise Undefined(name)


def _lookup2(st: _State, name: str) -> int:
    """Pass-2 value: labels absolute; a .set symbol has its latest value in
    source order, or its final value when used before its definition."""
    if name in st.sets:
        return st.sets[name]
    try:
        return _lookup_final(st, name)
    except Undefined:
        if name.count("\x02"):
            digits = name.split("\x02")[0]
            raise ExprError(f"undefined local label {digits}f (no later '{digits}:')") from None
        if looks_like_register(name):
            raise ExprError(bad_register(name)) from None
        raise ExprError(f"undefined symbol {name!r}") from None


def _eval2(st: _State, tokens: list) -> int:
    return evaluate(tokens, lambda n: _lookup2(st, n))


# --- pass 2: values and bytes ----------------------------------------------------

def _pass2(st: _State, t, s: _Stmt, buf: bytearray):
    if s.name == ".set":
        st.sets[s.symbol] = _eval2(st, s.operands[0])
        return
    if s.insn is not None:
        word = _encode(st, t, s)
        buf[s.offset:s.offset + 4] = word.to_bytes(4, "little")
        return
    if s.name in _DATA_WIDTH:
        width = _DATA_WIDTH[s.name]
        start = st.dot
        for i, (tokens, raw) in enumerate(zip(s.operands, s.raw)):
            st.dot = start + i * width  # "." is each item's own address, as in GNU as
            v = _reloc_value(st, tokens, raw, signed=False)
            lo, hi = -(1 << (8 * width - 1)), (1 << (8 * width)) - 1
            if not lo <= v <= hi:
                raise AsmError(f"value {v:#x} does not fit in {s.name} (allowed {lo:#x}..{hi:#x})")
            at = s.offset + i * width
            buf[at:at + width] = (v & hi).to_bytes(width, "little")
        return
    if s.name in _FILLED and len(s.operands) > 1 and s.operands[1]:
        fill = _eval2(st, s.operands[1])
        if not -0x80 <= fill <= 0xFF:
            raise AsmError(f"{s.name} fill value {fill:#x} must be a byte (-0x80..0xff)")
        buf[s.offset:s.offset + s.size] = bytes([fill & 0xFF]) * s.size
    elif s.name in _ALIGN and s.section == 0 and s.size % 4 == 0:
        buf[s.offset:s.offset + s.size] = NOP.to_bytes(4, "little") * (s.size // 4)


def _syntax(ins) -> str:
    parts = []
    for g in ins.groups:
        text = g[0].name if len(g) == 1 else f"{g[0].name}({g[1].name})"
        parts.append(f"[{text}]" if g[0].optional else text)
    return f"{ins.mnemonic} {','.join(parts)}".strip()


def _encode(st: _State, t, s: _Stmt) -> int:
    ins, given = s.insn, s.operands
    groups = ins.groups
    optional = sum(1 for g in groups if g[0].optional)
    required = len(groups) - optional
    if not required <= len(given) <= len(groups):
        takes = str(required) if not optional else f"{required} to {len(groups)}"
        raise AsmError(f"{s.name!r} takes {takes} operand{'s' * (len(groups) != 1)} "
                       f"({_syntax(ins)}), got {len(given)}")
    spare = len(given) - required  # optional groups filled, first ones first (GNU)
    values, it = [], iter(zip(given, s.raw))
    for pos, g in enumerate(groups, 1):
        if g[0].optional:
            if spare == 0:
                values.extend([None] * len(g))
                continue
            spare -= 1
        tokens, raw = next(it)
        if len(g) == 1:
            values.append(_operand(st, s, g[0], tokens, raw, pos))
        else:
            disp, reg = _split_disp(s, g, tokens, pos)
            values.append(_operand(st, s, g[0], disp, raw, pos))
            values.append(_operand(st, s, g[1], reg, raw, pos))
    try:
        return t.encode(ins, values, pc=wrap(st.dot))  # values are signed 64-bit
    except EncodeError as e:
        raise AsmError(str(e)) from None


def _split_disp(s: _Stmt, g, tokens: list, pos: int):
    """``disp(reg)`` -> (disp tokens, reg tokens)."""
    if tokens and tokens[-1] == ("op", ")"):
        depth = 0
        for i in range(len(tokens) - 1, -1, -1):
            depth += (tokens[i] == ("op", ")")) - (tokens[i] == ("op", "("))
            if depth == 0:
                if i > 0:
                    return tokens[:i], tokens[i + 1:-1]
                break
    raise AsmError(f"operand {pos} of {s.name!r} must be {g[0].name}({g[1].name}), "
                   f"e.g. 8(r4) ({_syntax(s.insn)})")


_KIND_REGS = {"gpr": {"r"}, "gpr0": {"r"}, "crf": {"cr"}, "crbit": {"cr", "crbit"}}
_KIND_WHAT = {"gpr": "a GPR (r0..r31)", "gpr0": "a GPR (r0..r31)", "crf": "a CR field (cr0..cr7)",
              "crbit": "a CR bit (0..31, e.g. 4*cr1+eq)"}


def _operand(st: _State, s: _Stmt, op, tokens: list, raw: str, pos: int) -> int:
    regs = {v[0] for kind, v in tokens if kind == "reg"}
    allowed = _KIND_REGS.get(op.kind, set())
    wrong = regs - allowed
    if wrong or (op.kind in ("gpr", "gpr0", "crf") and regs and len(tokens) != 1):
        what = _KIND_WHAT.get(op.kind, "a number")
        raise AsmError(f"operand {pos} ({op.name}) of {s.name!r} must be {what}, "
                       f"got {raw!r} ({_syntax(s.insn)})")
    return _reloc_value(st, tokens, raw, signed=op.kind in ("simm", "disp"))


def _reloc_value(st: _State, tokens: list, raw: str, signed: bool) -> int:
    """An expression with an optional @l/@ha/... operator.  On a label, @h and
    @ha must fit 32 signed bits, as ld checks R_PPC64_ADDR16_HI/HA [OBJ]
    (GNU as does not check constants, so neither do we)."""
    expr, reloc = split_reloc(tokens)
    v = _eval2(st, expr)
    if not reloc:
        return v
    adjust = 0x8000 if reloc == "ha" else 0
    label = any(kind == "name" and t in st.labels_abs for kind, t in expr)
    if reloc in ("h", "ha") and label and not -(1 << 31) <= v + adjust < 1 << 31:
        raise AsmError(f"{raw}: address {v & (1 << 64) - 1:#x} does not fit "
                       f"in 32 signed bits; use @high/@higha, or @highest, @higher, "
                       f"@high, @l for a 64-bit address")
    return apply_reloc(v, reloc, signed)


def _unknown_mnemonic(t, name: str) -> str:
    known = {i.mnemonic for i in t.insns} | {a.mnemonic for a in t.aliases}
    close = difflib.get_close_matches(name.lower(), sorted(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown mnemonic {name!r}{hint}"


# --- command line ----------------------------------------------------------------

def cmd_asm(args) -> int:
    """``powersim asm IN.s [-o OUT.bin] [--base ADDR] [--symbols]``."""
    with open(args.source, encoding="utf-8") as f:
        source = f.read()
    img = assemble(source, base=args.base, filename=args.source)
    if args.output:
        with open(args.output, "wb") as f:
            f.write(img.data)
    if args.symbols:
        for name, addr in sorted(img.symbols.items(), key=lambda kv: (kv[1], kv[0])):
            print(f"{addr & (1 << 64) - 1:#018x} {name}")
    return 0


def disassemble(data: bytes, base: int = 0, table=None) -> list:
    """One line per 32-bit LE word: address, hex word, disassembly (``.long``
    for a word outside the subset); a trailing partial word as ``.byte``."""
    t = table if table is not None else _table()
    out = []
    whole = len(data) - len(data) % 4
    for at in range(0, whole, 4):
        word = int.from_bytes(data[at:at + 4], "little")
        text = t.disasm(word, addr=base + at) or f".long {word:#010x}"
        out.append(f"{base + at:#018x}  {word:08x}  {text}")
    if whole < len(data):
        tail = data[whole:]
        out.append(f"{base + whole:#018x}  {tail.hex():8}  "
                   f".byte {','.join(f'{b:#04x}' for b in tail)}")
    return out


def cmd_disasm(args) -> int:
    """``powersim disasm IN.bin [--base ADDR]``."""
    _check_base(args.base, "--base", args.image)
    with open(args.image, "rb") as f:
        data = f.read()
    sys.stdout.write("".join(line + "\n" for line in disassemble(data, args.base)))
    return 0


__all__ = ["Image", "assemble", "disassemble", "Builder", "cmd_asm", "cmd_disasm"]
