"""Lexer and expression evaluator of the assembler (GNU as syntax, 64-bit).

Values are 64-bit two's-complement integers, as GNU as computes them on a
64-bit host: results wrap, ``>>`` is a logical shift, ``/`` and ``%``
truncate toward zero, comparisons give -1 for true, ``&&``/``||`` give 1.
Operator precedence is GNU's, which is not C's [OBJ] (``2+3&1`` is 3):

    * / % << >>   (highest)
    | ^ &
    + -
    == != <> < <= > >=
    &&
    ||            (lowest)

Register names (``as -mregnames``) are values too: ``r0..r31`` (``sp`` = r1,
``rtoc`` = r2), ``cr0..cr7`` and the condition bits ``lt gt eq so un``, so
``4*cr1+eq`` is 6.  A ``%`` prefix is accepted (``%r3``).
"""

import re

MASK64 = (1 << 64) - 1

# GNU as -mregnames register table: name -> (class, number).
REGISTERS = {f"r{i}": ("r", i) for i in range(32)}
REGISTERS.update({f"cr{i}": ("cr", i) for i in range(8)})
REGISTERS.update(sp=("r", 1), rtoc=("r", 2), lt=("crbit", 0), gt=("crbit", 1),
                 eq=("crbit", 2), so=("crbit", 3), un=("crbit", 3))

# Relocation-style operators: name -> (shift, adjust).  The result is the
# 16-bit field ((v + adjust) >> shift) & 0xffff; "a" variants add 0x8000 so
# that a later signed low half compensates [OBJ].
RELOCS = {
    "l": (0, 0), "h": (16, 0), "ha": (16, 0x8000), "high": (16, 0),
    "higha": (16, 0x8000), "higher": (32, 0), "highera": (32, 0x8000),
    "highest": (48, 0), "highesta": (48, 0x8000),
}

_BINARY = {  # operator -> rank (higher binds tighter), as GNU expr.c op_rank
    "*": 8, "/": 8, "%": 8, "<<": 8, ">>": 8,
    "|": 7, "^": 7, "&": 7,
    "+": 5, "-": 5,
    "==": 4, "!=": 4, "<>": 4, "<": 4, "<=": 4, ">": 4, ">=": 4,
    "&&": 3, "||": 2,
}

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<num>0[xX][0-9a-fA-F]+|0[bB][01]+(?![\w$])|\d+(?![\w$]))
  | (?P<local>\d+[bf](?![\w$]))
  | (?P<char>'(?:\\.|[^\\])'?)
  | (?P<reg>%[A-Za-z]\w*)
  | (?P<name>[A-Za-z_.$][\w.$]*)
  | (?P<at>@[A-Za-z]+)
  | (?P<op><<|>>|==|!=|<>|<=|>=|&&|\|\||[-+*/%&|^~!<>()])
""", re.VERBOSE)

_ESCAPES = {"n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, "'": 39, '"': 34}


class ExprError(Exception):
    """A bad expression; the assembler adds file and line."""


class Undefined(ExprError):
    """A symbol with no value (yet)."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"undefined symbol {name!r}")


def wrap(v: int) -> int:
    """v as a signed 64-bit value."""
    v &= MASK64
    return v - (1 << 64) if v >> 63 else v


def _number(text: str) -> int:
    if text[:2] in ("0x", "0X"):
        return int(text[2:], 16)
    if text[:2] in ("0b", "0B"):
        return int(text[2:], 2)
    if len(text) > 1 and text[0] == "0":  # a leading 0 means octal [OBJ]
        try:
            return int(text[1:], 8)
        except ValueError:
            raise ExprError(f"bad octal number {text!r} (a leading 0 means octal)") from None
    return int(text)


def tokenize(text: str) -> list:
    """Tokens of one operand: (kind, value) with kind in num, local (digits,
    'b'|'f'), name, reg ((class, n)), at (relocation name), op."""
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ExprError(f"unexpected character {text[pos]!r} in {text.strip()!r}")
        pos, kind, tok = m.end(), m.lastgroup, m.group()
        if kind == "space":
            continue
        if kind == "num":
            out.append(("num", _number(tok)))
        elif kind == "local":
            out.append(("local", (tok[:-1], tok[-1])))
        elif kind == "char":
            body = tok[1:].rstrip("'") if len(tok) > 2 else tok[1:]
            if body.startswith("\\"):
                esc = body[1:]
                if esc not in _ESCAPES:
                    raise ExprError(f"unknown escape in character constant {tok!r}")
                out.append(("num", _ESCAPES[esc]))
            else:
                out.append(("num", ord(body)))
        elif kind == "reg" and out and (out[-1][0] != "op" or out[-1][1] == ")"):
            out.append(("op", "%"))  # after a value, % is the modulo operator
            pos = m.start() + 1
        elif kind == "reg":
            reg = REGISTERS.get(tok[1:].lower())
            if reg is None:
                raise ExprError(bad_register(tok))
            out.append(("reg", reg))
        elif kind == "name":
            reg = REGISTERS.get(tok.lower())
            out.append(("reg", reg) if reg else ("name", tok))
        elif kind == "at":
            if tok[1:].lower() not in RELOCS:
                raise ExprError(f"unknown relocation operator {tok!r} "
                                f"(allowed: {', '.join('@' + r for r in RELOCS)})")
            out.append(("at", tok[1:].lower()))
        else:
            out.append(("op", tok))
    return out


def bad_register(text: str) -> str:
    return (f"bad register name {text!r} (GPRs are r0..r31, CR fields cr0..cr7, "
            f"CR bits lt, gt, eq, so, un)")


def looks_like_register(name: str) -> bool:
    """r32, cr9, ...: a register-shaped name that is not a register."""
    return re.fullmatch(r"%?(r|cr)\d+", name, re.IGNORECASE) is not None


def split_reloc(tokens: list):
    """(expression tokens, relocation name or None): ``expr@ha`` applies the
    operator to the whole expression before it, as GNU as does."""
    ats = [i for i, t in enumerate(tokens) if t[0] == "at"]
    if not ats:
        return tokens, None
    if len(ats) > 1 or ats[0] != len(tokens) - 1 or ats[0] == 0:
        raise ExprError("a relocation operator (@l, @ha, ...) must follow the whole expression")
    return tokens[:-1], tokens[-1][1]


def apply_reloc(value: int, reloc: str, signed: bool) -> int:
    """GNU as on a constant [OBJ]: take the 16-bit field, sign-extend it when
    the instruction field is signed (``li r3,0xffff@l`` is ``li r3,-1``)."""
    shift, adjust = RELOCS[reloc]
    field = (((value + adjust) & MASK64) >> shift) & 0xFFFF
    return field - 0x10000 if signed and field & 0x8000 else field


def evaluate(tokens: list, lookup) -> int:
    """Value of an expression; ``lookup(name)`` gives a symbol's value or
    raises Undefined.  Register tokens count as their numbers."""
    if not tokens:
        raise ExprError("missing expression")
    parser = _Parser(tokens, lookup)
    value = parser.binary(0)
    if parser.pos != len(tokens):
        raise ExprError(f"unexpected {_show(tokens[parser.pos])} in expression")
    return value


def _show(tok) -> str:
    kind, v = tok
    if kind == "at":
        return f"'@{v}'"
    return f"'{v}'" if kind in ("op", "name") else repr(str(v))


class _Parser:
    def __init__(self, tokens, lookup):
        self.tokens, self.lookup, self.pos = tokens, lookup, 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def binary(self, min_rank: int) -> int:
        left = self.unary()
        while True:
            kind, op = self.peek()
            rank = _BINARY.get(op) if kind == "op" else None
            if rank is None or rank <= min_rank:
                return left
            self.pos += 1
            left = _apply(op, left, self.binary(rank))

    def unary(self) -> int:
        kind, v = self.peek()
        if kind is None:
            raise ExprError("expression ends too early")
        self.pos += 1
        if kind == "op" and v in "-~!+" and len(v) == 1:
            x = self.unary()
            return {"-": lambda: wrap(-x), "~": lambda: wrap(~x),
                    "!": lambda: int(x == 0), "+": lambda: x}[v]()
        if kind == "op" and v == "(":
            x = self.binary(0)
            if self.peek() != ("op", ")"):
                raise ExprError("missing ')'")
            self.pos += 1
            return x
        if kind == "num":
            return wrap(v)
        if kind == "reg":
            return v[1]
        if kind == "name":
            return wrap(self.lookup(v))
        raise ExprError(f"unexpected {_show((kind, v))} in expression")


def _apply(op: str, a: int, b: int) -> int:
    if op in ("/", "%"):
        if b == 0:
            raise ExprError("division by zero in expression")
        q = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)  # C truncation
        return wrap(q if op == "/" else a - b * q)
    if op in ("<<", ">>"):
        if not 0 <= b < 64:
            return 0
        return wrap(a << b if op == "<<" else (a & MASK64) >> b)
    if op in ("==", "!=", "<>", "<", "<=", ">", ">="):
        truth = {"==": a == b, "!=": a != b, "<>": a != b, "<": a < b,
                 "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        return -1 if truth else 0
    if op == "&&":
        return int(bool(a) and bool(b))
    if op == "||":
        return int(bool(a) or bool(b))
    return wrap({"*": a * b, "|": a | b, "^": a ^ b, "&": a & b,
                 "+": a + b, "-": a - b}[op])
