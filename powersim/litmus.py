"""PPC litmus tests in herd's format [Herd]: the parser and the condition.

    from powersim.litmus import load
    t = load("tests/litmus/SB.litmus")
    t.name, t.verdict                 # "SB", "Allowed"
    t.threads[0]                      # [(line, "li r1,1"), ...]
    t.init_regs[(0, 2)]               # "x" (an address) or an int
    t.holds({(0, 3): 0, (1, 3): 0})   # the condition's proposition on a final state

The format (herd7/litmus7 [Herd]):

    PPC SB
    "Fre PodWR Fre PodWR"              <- optional quoted line; key=value lines
    (* powersim: Allowed [Sarkar-PLDI11] *)   <- the architectural verdict (ours)
    {
    0:r2=x; 0:r4=y; x=0;               <- registers: a location's address or an
    1:r2=y; 1:r4=x;                       integer; locations: an integer
    }
     P0           | P1           ;
     li r1,1      | li r1,1      ;
     stw r1,0(r2) | stw r1,0(r2) ;
     lwz r3,0(r4) | lwz r3,0(r4) ;
    exists (0:r3=0 /\\ 1:r3=0)

An optional ``locations [x; 0:r1;]`` line before the condition adds to what
the histogram shows.  The condition is ``exists P``, ``~exists P`` or
``forall P``; P combines ``N:rK=V`` and ``loc=V`` with ``/\\``, ``\\/``,
``~``, ``true``, ``false`` and parentheses.  A *witness* is a final state
satisfying P (``exists``, ``~exists``) or violating it (``forall``); the
verdict (``Allowed`` or ``Forbidden``, from the ``(* powersim: ... *)``
comment) says whether POWER permits a witness.  Every mistake raises
LitmusError naming the file, the line and what is allowed.  The runner is
powersim/litmus_run.py.
"""

import re

import attrs

from powersim.errors import PowersimError

# r25..r31 run the harness loop (powersim/litmus_run.py)
RESERVED = range(25, 32)
VERDICTS = ("Allowed", "Forbidden")
_IDENT = re.compile(r"(?!\d)\w+$")
_REG = re.compile(r"r(\d+)$")
_INT = re.compile(r"-?(?:0[xX][0-9a-fA-F]+|\d+)$")
_VERDICT = re.compile(r"\(\*\s*powersim:\s*(\w+)")
_REGS_IN = re.compile(r"(?<![\w.])r(\d+)\b")
_LABEL_DEF = re.compile(r"^\s*((?!\d)\w+)\s*:")


class LitmusError(PowersimError):
    """A malformed litmus test: file, line and what is allowed."""

    def __init__(self, file: str, line: int, reason: str):
        self.file, self.line, self.reason = file, line, reason
        super().__init__(f"{file}:{line}: {reason}")


@attrs.define
class Litmus:
    name: str
    path: str
    threads: list           # per thread: [(line, instruction text), ...]
    init_regs: dict         # {(thread, reg): int or location name}
    init_mem: dict          # {location: int}
    locations: list         # every location, in order of first mention
    kind: str               # "exists", "~exists" or "forall"
    prop: tuple             # the proposition (see _Cond)
    cond_text: str
    verdict: str | None     # "Allowed", "Forbidden" or None (no powersim comment)
    shown: list = attrs.Factory(list)   # `locations [...]`: (thread, reg) or location

    def observed(self) -> tuple:
        """What a final state holds: ((thread, reg), ...) sorted, then the
        locations, those the condition or a `locations [...]` line names."""
        regs, locs = set(), set()
        _atoms(self.prop, regs, locs)
        for x in self.shown:
            (locs if isinstance(x, str) else regs).add(x)
        return tuple(sorted(regs)), tuple(x for x in self.locations if x in locs)

    def holds(self, state: dict) -> bool:
        """The proposition on ``state`` ({(thread, reg): v, loc: v}, unsigned)."""
        return _eval(self.prop, state)

    def witness(self, state: dict) -> bool:
        """A state the verdict is about (module docstring)."""
        return self.holds(state) != (self.kind == "forall")

    def regs_used(self, t: int) -> list:
        """Registers thread ``t``'s code or initial state names, ascending."""
        used = {r for (tt, r) in self.init_regs if tt == t}
        for _, text in self.threads[t]:
            used.update(int(n) for n in _REGS_IN.findall(text))
        return sorted(used)


def _atoms(p, regs, locs):
    if p[0] == "reg":
        regs.add((p[1], p[2]))
    elif p[0] == "mem":
        locs.add(p[1])
    for q in p[1:]:
        if isinstance(q, tuple):
            _atoms(q, regs, locs)


def _eval(p, state) -> bool:
    op = p[0]
    if op == "and":
        return _eval(p[1], state) and _eval(p[2], state)
    if op == "or":
        return _eval(p[1], state) or _eval(p[2], state)
    if op == "not":
        return not _eval(p[1], state)
    if op == "const":
        return p[1]
    if op == "reg":
        return state[(p[1], p[2])] == p[3]
    return state[p[1]] == p[2]


def _int(text: str) -> int:
    """A decimal or 0x integer as the unsigned 64-bit value a register holds."""
    digits = text.lstrip("-")
    v = int(digits, 16 if digits[:2] in ("0x", "0X") else 10)
    return (-v if text.startswith("-") else v) & ((1 << 64) - 1)


class _Reader:
    """The file as (line number, text) with comments removed."""

    def __init__(self, text: str, path: str):
        self.path = path
        self.verdict = None
        self.lines = self._strip_comments(text)
        self.i = 0

    def error(self, line: int, reason: str):
        raise LitmusError(self.path, line, reason)

    def _strip_comments(self, text: str) -> list:
        out, depth, start = [], 0, 0
        for n, line in enumerate(text.splitlines(), 1):
            kept, j = [], 0
            while j < len(line):
                if line.startswith("(*", j):
                    if depth == 0:
                        start = n
                        self._verdict(line[j:], n)
                    depth += 1
                    j += 2
                elif depth and line.startswith("*)", j):
                    depth -= 1
                    j += 2
                else:
                    if not depth:
                        kept.append(line[j])
                    j += 1
            out.append((n, "".join(kept).strip()))
        if depth:
            self.error(start, "unterminated comment: '(*' needs a closing '*)'")
        return out

    def _verdict(self, text: str, n: int):
        m = _VERDICT.match(text)
        if m is None:
            return
        if m.group(1) not in VERDICTS:
            self.error(n, f"verdict {m.group(1)!r}: allowed '(* powersim: Allowed *)' "
                          "or '(* powersim: Forbidden *)'")
        if self.verdict is not None:
            self.error(n, "a second powersim verdict: give one per test")
        self.verdict = m.group(1)

    def next(self):
        """The next non-empty line, or (last line, None) at the end."""
        while self.i < len(self.lines):
            n, text = self.lines[self.i]
            self.i += 1
            if text:
                return n, text
        return (self.lines[-1][0] if self.lines else 1), None


def parse(text: str, path: str = "<litmus>") -> Litmus:
    """Parse one litmus test (module docstring); raises LitmusError."""
    rd = _Reader(text, path)
    n, line = rd.next()
    head = (line or "").split()
    if len(head) != 2 or head[0] != "PPC":
        rd.error(n, f"expected the header 'PPC NAME', got {line!r}" if line else
                 "empty file: expected the header 'PPC NAME'")
    name = head[1]
    n, line = rd.next()
    while line is not None and not line.startswith("{"):
        if not (line.startswith('"') or re.match(r"[A-Za-z][\w-]*\s*=", line)):
            rd.error(n, f"expected the initial state '{{ ... }}' (or a \"...\" or key=value "
                        f"line before it), got {line!r}")
        n, line = rd.next()
    if line is None:
        rd.error(n, "no initial state: expected '{ 0:r2=x; ... }' after the header")
    init_regs, init_mem, locations, where = _parse_init(rd, n, line[1:])
    n, line = rd.next()
    threads = _parse_threads(rd, n, line)
    for (t, r), at in where.items():
        if t >= len(threads):
            rd.error(at, f"initial state names {t}:r{r}: the test has threads "
                         f"0..{len(threads) - 1}")
    kind, prop, cond_text, shown = _parse_condition(rd, len(threads))
    for x in _prop_locs(prop) + [x for x in shown if isinstance(x, str)]:
        if x not in locations:
            locations.append(x)
    return Litmus(name=name, path=path, threads=threads, init_regs=init_regs,
                  init_mem=init_mem, locations=locations, kind=kind, prop=prop,
                  cond_text=cond_text, verdict=rd.verdict, shown=shown)


def _prop_locs(p) -> list:
    regs, locs = set(), set()
    _atoms(p, regs, locs)
    return sorted(locs)


def _parse_init(rd, n, rest):
    """`{ 0:r2=x; x=1; }` over one or more lines."""
    regs, mem, locations, where = {}, {}, [], {}

    def loc(x):
        if x not in locations:
            locations.append(x)
        return x

    text, opened = rest, n
    while "}" not in text:
        for item in text.split(";"):
            _init_item(rd, n, item.strip(), regs, mem, loc, where)
        n, text = rd.next()
        if text is None or re.match(r"P0\s*[|;]", text):
            rd.error(n, f"the initial state opened on line {opened} has no closing '}}'")
    inner, after = text.split("}", 1)
    for item in inner.split(";"):
        _init_item(rd, n, item.strip(), regs, mem, loc, where)
    if after.strip():
        rd.error(n, f"unexpected {after.strip()!r} after '}}': the thread table starts "
                    "on the next line")
    for x in mem:
        loc(x)
    return regs, mem, locations, where


def _init_item(rd, n, item, regs, mem, loc, where):
    if not item:
        return
    lhs, eq, rhs = (s.strip() for s in item.partition("="))
    allowed = ("allowed 'N:rK=location', 'N:rK=integer' or 'location=integer', "
               "separated by ';'")
    if not eq or not rhs:
        rd.error(n, f"initial state item {item!r}: {allowed}")
    if ":" in lhs:
        t, _, reg = lhs.partition(":")
        m = _REG.match(reg)
        if not t.isdigit() or m is None or int(m.group(1)) > 31:
            rd.error(n, f"initial state item {item!r}: {allowed} (registers r0..r31)")
        r = int(m.group(1))
        where[(int(t), r)] = n
        if r in RESERVED:
            rd.error(n, f"register r{r} in {item!r}: r25..r31 run the powersim harness; "
                        "allowed r0..r24")
        if _INT.match(rhs):
            regs[(int(t), r)] = _int(rhs)
        elif _IDENT.match(rhs):
            regs[(int(t), r)] = loc(rhs)
        else:
            rd.error(n, f"initial state item {item!r}: {allowed}")
    elif _IDENT.match(lhs) and _INT.match(rhs):
        mem[loc(lhs)] = _int(rhs)
    else:
        rd.error(n, f"initial state item {item!r}: {allowed}")


def _parse_threads(rd, n, line):
    """The `P0 | P1 ;` header and the instruction rows, up to the condition."""
    if line is None:
        rd.error(n, "no thread table: expected 'P0 | P1 ;' after the initial state")
    cells = _row(rd, n, line)
    for i, c in enumerate(cells):
        if c != f"P{i}":
            rd.error(n, f"thread table header {line!r}: expected 'P0 | P1 | ... ;' "
                        f"(column {i} is {c!r})")
    threads = [[] for _ in cells]
    while True:
        save = rd.i
        n, line = rd.next()
        if line is None or not line.rstrip().endswith(";") or "|" not in line \
                and len(cells) > 1:
            rd.i = save
            break
        row = _row(rd, n, line)
        if len(row) != len(cells):
            rd.error(n, f"{len(row)} columns: the header declares {len(cells)} threads "
                        "(one instruction or nothing per column, separated by '|')")
        for t, text in enumerate(row):
            if text:
                _check_insn(rd, n, t, text)
                threads[t].append((n, text))
    if not any(threads):
        rd.error(n, "the threads have no instructions")
    return threads


def _row(rd, n, line):
    if not line.endswith(";"):
        rd.error(n, f"thread table row {line!r}: each row ends with ';'")
    return [c.strip() for c in line[:-1].split("|")]


def _check_insn(rd, n, t, text):
    for r in (int(x) for x in _REGS_IN.findall(text)):
        if r in RESERVED:
            rd.error(n, f"P{t}: {text!r} uses r{r}: r25..r31 run the powersim harness; "
                        "allowed r0..r24")


def labels_of(code) -> set:
    """The labels a thread's code defines (`LC00:` or `LC00: isync`)."""
    return {m.group(1) for _, text in code for m in [_LABEL_DEF.match(text)] if m}


# ---------------------------------------------------------------- the condition
_TOKEN = re.compile(r"\s*(/\\|\\/|~|\(|\)|\d+:r\d+|(?!\d)\w+|=|-?(?:0[xX][0-9a-fA-F]+|\d+)"
                    r"|\S)")


def _parse_condition(rd, nthreads):
    n, line = rd.next()
    if line is None:
        rd.error(n, "no condition: expected 'exists (...)', '~exists (...)' or "
                    "'forall (...)' after the thread table")
    shown = []
    if line.startswith("locations"):
        shown = _locations(rd, n, line, nthreads)
        n, line = rd.next()
        if line is None:
            rd.error(n, "no condition after the locations: expected 'exists (...)', "
                        "'~exists (...)' or 'forall (...)'")
    first, text = n, line
    while True:
        n2, more = rd.next()
        if more is None:
            break
        text += " " + more
    m = re.match(r"(~\s*exists|exists|forall)\b(.*)$", text, re.S)
    if m is None:
        rd.error(first, f"expected 'exists', '~exists' or 'forall' and a proposition, got "
                        f"{line!r}")
    kind = re.sub(r"\s+", "", m.group(1))
    cond = _Cond(rd, first, m.group(2), nthreads)
    prop = cond.parse()
    return kind, prop, f"{kind} {m.group(2).strip()}", shown


def _locations(rd, n, line, nthreads) -> list:
    """`locations [x; 0:r1;]`: more registers and locations for the histogram."""
    m = re.match(r"locations\s*\[(.*)\]\s*;?$", line)
    if m is None:
        rd.error(n, f"{line!r}: expected 'locations [x; 0:r1; ...]'")
    shown = []
    for item in filter(None, (x.strip() for x in m.group(1).split(";"))):
        reg = re.match(r"(\d+):r(\d+)$", item)
        if reg and int(reg.group(1)) < nthreads and int(reg.group(2)) <= 31:
            shown.append((int(reg.group(1)), int(reg.group(2))))
        elif _IDENT.match(item):
            shown.append(item)
        else:
            rd.error(n, f"locations item {item!r}: allowed a location or N:rK with thread "
                        f"N in 0..{nthreads - 1} and register r0..r31")
    return shown


class _Cond:
    """Recursive descent: or := and (\\/ and)*; and := un (/\\ un)*;
    un := ~un | (or) | true | false | N:rK=V | loc=V."""

    ALLOWED = ("allowed: 'N:rK=V', 'loc=V', '/\\', '\\/', '~', 'true', 'false' and "
               "parentheses")

    def __init__(self, rd, line, text, nthreads):
        self.rd, self.line, self.nthreads = rd, line, nthreads
        self.toks, pos = [], 0
        text = text.rstrip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                break
            self.toks.append(m.group(1))
            pos = m.end()
        self.i = 0

    def error(self, what):
        self.rd.error(self.line, f"condition: {what}; {self.ALLOWED}")

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self):
        tok = self.peek()
        if tok is None:
            self.error("ends too early")
        self.i += 1
        return tok

    def parse(self):
        p = self.disj()
        if self.peek() is not None:
            self.error(f"unexpected {self.peek()!r}")
        return p

    def _chain(self, token, op, operand):
        """operand (token operand)*, left-associative."""
        p = operand()
        while self.peek() == token:
            self.take()
            p = (op, p, operand())
        return p

    def disj(self):
        return self._chain("\\/", "or", self.conj)

    def conj(self):
        return self._chain("/\\", "and", self.unary)

    def unary(self):
        tok = self.take()
        if tok == "~":
            return ("not", self.unary())
        if tok == "(":
            p = self.disj()
            if self.take() != ")":
                self.error("a '(' has no matching ')'")
            return p
        if tok in ("true", "false"):
            return ("const", tok == "true")
        if not (re.match(r"\d+:r\d+$", tok) or _IDENT.match(tok)):
            self.error(f"unexpected {tok!r}")
        if self.take() != "=":
            self.error(f"{tok!r} is not followed by '='")
        v = self.take()
        if not _INT.match(v):
            self.error(f"{tok}={v}: the value must be an integer")
        if re.match(r"\d+:r\d+$", tok):
            t, r = (int(x) for x in re.match(r"(\d+):r(\d+)", tok).groups())
            if t >= self.nthreads or r > 31:
                self.error(f"{tok}: threads are 0..{self.nthreads - 1}, registers r0..r31")
            return ("reg", t, r, _int(v))
        return ("mem", tok, _int(v))


def load(path: str) -> Litmus:
    """Read and parse a litmus file (OSError for a missing file)."""
    with open(path, encoding="utf-8") as f:
        return parse(f.read(), path)
