"""The Power ISA subset as data: loads powersim/data/power9.toml (package data,
read through importlib.resources) and derives encode, decode,
GNU-objdump-style disassembly and the predecoded rows of ops.py.

Everything instruction-specific lives in the table; this module only knows
how fields are laid out (IBM bit numbering, bit 0 = MSB of the word), how
extended mnemonics map onto base instructions, and the branch-hint rule of
Power ISA Book I 2.4 (the BO "at" bits).
"""

from __future__ import annotations

import ast
import functools
import importlib.resources
import itertools
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from powersim import ops
from powersim.errors import EncodeError, PowersimError

TABLE_PATH = importlib.resources.files("powersim") / "data" / "power9.toml"

KINDS = ("gpr", "gpr0", "crf", "crbit", "simm", "uimm", "disp", "target", "spr", "imm")
VARIANTS = {"oe": ("OE", "o"), "rc": ("Rc", "."), "lk": ("LK", "l"), "aa": ("AA", "a")}
CR_BITS = ("lt", "gt", "eq", "so")
_M32 = 0xFFFFFFFF
_M64 = (1 << 64) - 1
# Brute-force inversion of an extended mnemonic's computed operand (disasm)
# is only allowed for small operands.
_MAX_INVERT_BITS = 8


class IsaTableError(PowersimError):
    """The instruction table is inconsistent (names the row and what is wrong)."""


# --- expressions over field values (alias "set", "imm", "aux") ---------------

_EXPR_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load,
               ast.Add, ast.Sub, ast.Mult, ast.BitOr, ast.BitAnd, ast.LShift, ast.RShift,
               ast.Mod, ast.USub, ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt,
               ast.GtE)


@dataclass(frozen=True)
class Expr:
    """A small integer expression; evaluates on ints and on numpy arrays alike."""
    src: str
    names: frozenset
    code: object = field(repr=False, compare=False)

    @classmethod
    def parse(cls, src, where):
        try:
            tree = ast.parse(str(src), mode="eval")
        except SyntaxError:
            raise IsaTableError(f"{where}: cannot parse expression {src!r}") from None
        for node in ast.walk(tree):
            if not isinstance(node, _EXPR_NODES) or (
                    isinstance(node, ast.Constant) and type(node.value) is not int):
                raise IsaTableError(f"{where}: expression {src!r} may use only integers, "
                                    "field names, + - * % & | << >> and comparisons")
        names = frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name))
        return cls(str(src), names, compile(tree, where, "eval"))

    def __call__(self, env):
        return eval(self.code, {"__builtins__": {}}, env)  # noqa: S307 - validated AST


# --- fields and operands -----------------------------------------------------

@dataclass(frozen=True)
class Field:
    """A (possibly split) instruction field: ``parts`` are (ibm_start, length)
    pairs, most significant part first."""
    name: str
    kind: str
    parts: tuple
    shift: int = 0
    signed: bool = False
    signopt: bool = False
    imm: bool = False

    @functools.cached_property
    def width(self):
        return sum(n for _, n in self.parts)

    @functools.cached_property
    def mask(self):
        return functools.reduce(lambda m, p: m | (((1 << p[1]) - 1) << (32 - p[0] - p[1])),
                                self.parts, 0)

    @functools.cached_property
    def range(self):
        n, s = self.width, self.shift
        lo = -(1 << (n - 1)) if self.signed or self.signopt else 0
        hi = (1 << n) - 1 if (self.signopt or not self.signed) else (1 << (n - 1)) - 1
        return lo << s, hi << s

    def extract(self, word):
        """Field value of ``word`` (an int or an int64 numpy array)."""
        v = 0
        for start, n in self.parts:
            v = (v << n) | ((word >> (32 - start - n)) & ((1 << n) - 1))
        if self.signed:
            sign = 1 << (self.width - 1)
            v = (v ^ sign) - sign
        return v << self.shift

    def insert(self, value):
        """The word bits holding ``value`` (already range-checked)."""
        raw = (value >> self.shift) & ((1 << self.width) - 1)
        bits, left = 0, self.width
        for start, n in self.parts:
            left -= n
            bits |= ((raw >> left) & ((1 << n) - 1)) << (32 - start - n)
        return bits


@dataclass(frozen=True)
class Operand:
    name: str
    kind: str
    optional: bool = False
    default: int | None = None
    bits: int = 0
    align: int = 1
    range: tuple = (0, 0)                                    # allowed values
    field: Field | None = field(default=None, repr=False)   # None for a [vars] operand


@dataclass(eq=False)
class Insn:
    """A base instruction variant ("add.", "bcl") or an extended mnemonic."""
    mnemonic: str
    groups: tuple
    form: str
    opname: str
    op: int
    unit: int
    lat: int
    lat_src: str
    flags: int
    base: Insn | None = None          # extended mnemonics: the base variant
    sets: tuple = ()                  # ((Field, Expr), ...): the row's "set"
    disasm_preferred: bool = False
    absolute: bool = False
    hint: str = ""
    match: int = 0
    mask: int = 0
    imm: Expr | None = None
    aux: Expr | None = None
    invalid: Expr | None = None       # true for the ISA's invalid forms (decode -> None)

    @functools.cached_property
    def operands(self):
        return tuple(itertools.chain.from_iterable(self.groups))

    @functools.cached_property
    def fields(self):
        """Fields of the base instruction that operands fill."""
        return tuple(op.field for op in (self.base or self).operands)

    @property
    def is_alias(self):
        return self.base is not None

    def __repr__(self):
        return f"Insn({self.mnemonic!r})"


@dataclass(frozen=True)
class Decoded:
    insn: Insn
    fields: dict


# --- the table ------------------------------------------------------------------

def _operand_groups(spec, fields, vars_, where):
    """"RT,D(RA0),EH=0" -> ((RT,), (D, RA0), (EH,))"""
    groups = []
    for text in filter(None, (s.strip() for s in spec.split(","))):
        names = text.replace(")", "").split("(")
        group = []
        for name in names:
            name, _, default = name.partition("=")
            if name in fields:
                f = fields[name]
                o = Operand(name, f.kind, bits=f.width, align=1 << f.shift, range=f.range,
                            field=f)
            elif name in vars_:
                v = vars_[name]
                f = Field(name, v["kind"], ((0, v["bits"]),), signed=v["kind"] == "simm",
                          signopt=v.get("signopt", False))
                lo, hi = v.get("range", f.range)
                if v.get("negative"):   # GNU's PPC_OPERAND_NEGATIVE: the field takes -value
                    lo, hi = -hi, -lo
                o = Operand(name, v["kind"], bits=v["bits"], range=(lo, hi))
            else:
                raise IsaTableError(f"{where}: unknown operand {name!r} (not in [fields] or [vars])")
            if default:
                o = replace(o, optional=True, default=int(default, 0))
            group.append(o)
        groups.append(tuple(group))
    return tuple(groups)


class Table:
    """The parsed, validated instruction table.  Use :func:`table`."""

    def __init__(self, data, path=TABLE_PATH):
        self.path = path
        where = path.name
        try:
            self.fields = {name: Field(name, d["kind"], tuple(tuple(p) for p in d["at"]),
                                       d.get("shift", 0), d.get("signed", False),
                                       d.get("signopt", False), d.get("imm", False))
                           for name, d in data["fields"].items()}
            self.vars = data["vars"]
            self.forms = data["forms"]
            self.latency = data["latency"]
            rows, alias_rows = data["insn"]["rows"], data["alias"]["rows"]
            conds, sprs = data["cond"], data["spr"]
        except (KeyError, TypeError) as e:
            raise IsaTableError(f"{where}: missing or malformed section {e}") from None
        for f in self.fields.values():
            if f.kind not in KINDS:
                raise IsaTableError(f"{where}: field {f.name}: unknown kind {f.kind!r}; "
                                    f"allowed: {', '.join(KINDS)}")
        self.insns = []                      # base variants, table order
        self._rows = {}                      # row name -> its variants
        self._names = {}
        self._by_po = {}
        for row in rows:
            self._add_base(row, where)
        self._check_overlaps(where)
        self.sprs = {name: d["num"] for name, d in sprs.items()}
        self.aliases = []
        self._disasm_aliases = {}
        for row in alias_rows:
            for expanded in self._expand_each(row, conds, where):
                self._add_alias(expanded, where)
        for name, d in sprs.items():
            for kind in d.get("alias", "").split():
                num = d.get(kind, d["num"])
                operands = "RS" if kind == "mt" else "RT"
                self._add_alias({"name": kind + name, "insn": kind + "spr", "operands": operands,
                                 "set": {"SPR": str(num)}, "disasm": True}, where)

    # -- building ------------------------------------------------------------

    def _add_base(self, row, where):
        name = row.get("name", "?")
        w = f"{where}: insn {name}"
        form = row.get("form")
        if form not in self.forms:
            raise IsaTableError(f"{w}: unknown form {form!r}; allowed: {', '.join(self.forms)}")
        opname = row.get("op")
        if opname not in ops.OP:
            raise IsaTableError(f"{w}: unknown op {opname!r}; allowed: see powersim/ops.py _OPS")
        lat = self.latency.get(row.get("lat"))
        if lat is None or lat.get("unit") not in ops.UNITS:
            raise IsaTableError(f"{w}: unknown latency class {row.get('lat')!r} (or its unit); "
                                f"allowed: {', '.join(self.latency)}")
        groups = _operand_groups(row.get("operands", ""), self.fields, {}, w)
        fixed = {"PO": row["po"], **row.get("fixed", {})}
        if self.forms[form]:
            fixed[self.forms[form]] = row.get("xo", 0)
        size = row.get("size", 0)
        operands = list(itertools.chain.from_iterable(groups))
        flags = ((ops.F_RC if row.get("rc") else 0) | (ops.F_SIGNED if row.get("sext") else 0)
                 | (ops.F_UPDATE if row.get("update") else 0)
                 | (ops.F_BYTEREV if row.get("brev") else 0)
                 | (ops.F_INDEXED if size and any(o.name == "RB" for o in operands) else 0)
                 | (size << ops.F_SIZE_SHIFT))
        imm = row.get("imm") or next((o.name for o in operands if o.field.imm), None)
        common = dict(groups=groups, form=form, opname=opname, op=ops.OP[opname],
                      unit=ops.UNITS[lat["unit"]], lat=lat["cycles"], lat_src=lat["src"],
                      imm=Expr.parse(imm, w) if imm else None,
                      aux=Expr.parse(row["aux"], w) if "aux" in row else None,
                      invalid=Expr.parse(row["invalid"], w) if "invalid" in row else None,
                      sets=self._sets(row, groups, w))
        variants = [v for v in row.get("var", "").split()]
        for v in variants:
            if v not in VARIANTS:
                raise IsaTableError(f"{w}: unknown variant {v!r}; allowed: {', '.join(VARIANTS)}")
        for picks in itertools.product((False, True), repeat=len(variants)):
            vfixed, suffix, vflags = dict(fixed), "", flags
            for v, on in zip(variants, picks):
                fname, sfx = VARIANTS[v]
                vfixed[fname] = int(on)
                if on:
                    suffix += sfx
                    vflags |= {"oe": ops.F_OE, "rc": ops.F_RC, "lk": ops.F_LK, "aa": ops.F_AA}[v]
            ins = Insn(name + suffix, flags=vflags, absolute=bool(vflags & ops.F_AA), **common)
            self._register_base(ins, vfixed, w)
            self._rows.setdefault(name, []).append(ins)

    def _register_base(self, ins, fixed, w):
        opmask = 0
        for o in ins.operands:
            if o.field.mask & opmask:
                raise IsaTableError(f"{w}: operand {o.name} overlaps another operand")
            opmask |= o.field.mask
        for f, _ in ins.sets:
            if f.mask & opmask:
                raise IsaTableError(f"{w}: set field {f.name} overlaps an operand")
        match = 0
        for fname, value in fixed.items():
            f = self.fields.get(fname)
            if f is None:
                raise IsaTableError(f"{w}: unknown fixed field {fname!r}")
            if f.mask & opmask:
                raise IsaTableError(f"{w}: fixed field {fname} overlaps an operand")
            lo, hi = f.range
            if not lo <= value <= hi:
                raise IsaTableError(f"{w}: fixed {fname} = {value} outside {lo}..{hi}")
            match |= f.insert(value)
        ins.match, ins.mask = match, _M32 & ~opmask
        if ins.mnemonic in self._names:
            raise IsaTableError(f"{w}: mnemonic {ins.mnemonic!r} defined twice")
        self._names[ins.mnemonic] = ins
        self.insns.append(ins)
        self._by_po.setdefault(match >> 26, []).append(ins)

    def _check_overlaps(self, where):
        for group in self._by_po.values():
            for a, b in itertools.combinations(group, 2):
                if not (a.match ^ b.match) & a.mask & b.mask:
                    raise IsaTableError(f"{where}: encodings of {a.mnemonic!r} and "
                                        f"{b.mnemonic!r} overlap")

    @staticmethod
    def _expand_each(row, conds, where):
        if "each" not in row:
            return [row]
        table = conds.get(row["each"])
        if table is None:
            raise IsaTableError(f"{where}: alias {row.get('name')}: unknown each table "
                                f"{row['each']!r}; allowed: {', '.join(conds)}")
        out = []
        for cname, values in table.items():
            subst = {"c": cname, **{k: str(v) for k, v in values.items()}}
            out.append({**row, "name": row["name"].format(**subst),
                        "set": {k: str(v).format(**subst) for k, v in row.get("set", {}).items()}})
        return out

    def _add_alias(self, row, where):
        w = f"{where}: alias {row.get('name')}"
        base_name = row.get("insn")
        # with its suffix variants ("or" -> "or."; "bc" -> "bcl", ...)
        bases = self._rows.get(base_name)
        if not bases:
            raise IsaTableError(f"{w}: unknown base instruction {base_name!r}")
        base0 = bases[0]
        groups = _operand_groups(row.get("operands", ""), self.fields, self.vars, w)
        sets = self._sets(row, groups, w)
        for o in itertools.chain.from_iterable(groups):
            if o.field is None and not any(o.name in e.names for _, e in sets):
                raise IsaTableError(f"{w}: operand {o.name} is used by no 'set' expression")
        if row.get("disasm"):
            for o in itertools.chain.from_iterable(groups):
                if o.field is None and o.bits > _MAX_INVERT_BITS:
                    raise IsaTableError(f"{w}: a disasm alias cannot compute operand {o.name} "
                                        f"wider than {_MAX_INVERT_BITS} bits")
        for b in bases:
            suffix = b.mnemonic[len(base0.mnemonic):]
            al = Insn(row["name"] + suffix, groups, b.form, b.opname, b.op, b.unit, b.lat,
                      b.lat_src, b.flags, base=b, sets=sets,
                      disasm_preferred=bool(row.get("disasm")), absolute=b.absolute)
            if al.mnemonic in self._names:
                raise IsaTableError(f"{w}: mnemonic {al.mnemonic!r} defined twice")
            self._names[al.mnemonic] = al
            self.aliases.append(al)
            if al.disasm_preferred:
                self._disasm_aliases.setdefault(b, []).append(al)

    def _sets(self, row, groups, w):
        """A row's "set": ((Field, Expr over its operands), ...)."""
        sets = tuple((self._field(fname, w), Expr.parse(src, w))
                     for fname, src in row.get("set", {}).items())
        known = {o.name for g in groups for o in g}
        for f, e in sets:
            if not e.names <= known:
                raise IsaTableError(f"{w}: set {f.name} = {e.src!r} uses unknown names "
                                    f"{sorted(e.names - known)}")
        return sets

    def _field(self, name, w):
        if name not in self.fields:
            raise IsaTableError(f"{w}: unknown field {name!r}")
        return self.fields[name]

    # -- the API -----------------------------------------------------------------

    def lookup(self, mnemonic):
        """The Insn for a mnemonic ("ld", "add.", "beq+", "mtctr"), or None."""
        ins = self._names.get(mnemonic)
        if ins is None and mnemonic[-1:] in ("+", "-"):
            plain = self._names.get(mnemonic[:-1])
            if plain is not None and _takes_hint(plain):
                ins = replace(plain, mnemonic=mnemonic, hint=mnemonic[-1])
                self._names[mnemonic] = ins
        return ins

    def encode(self, ins, values, pc=0):
        """Encode ``values`` (flat, in operand order; None = omitted optional)."""
        ops_ = ins.operands
        values = list(values)
        if len(values) > len(ops_):
            raise EncodeError(f"{ins.mnemonic}: {len(values)} operands given, at most "
                              f"{len(ops_)} allowed ({_signature(ins)})")
        values += [None] * (len(ops_) - len(values))
        env = {}
        for o, v in zip(ops_, values):
            if v is None:
                if not o.optional:
                    raise EncodeError(f"{ins.mnemonic}: missing operand {o.name} ({_signature(ins)})")
                v = o.default
            if not isinstance(v, (int, np.integer)):
                raise EncodeError(f"{ins.mnemonic}: operand {o.name} must be an integer, got {v!r}")
            v = int(v)
            # a pc-relative displacement reaches GNU's check through a fixup,
            # which first requires it to fit 32 bits (gas/write.c fixup_segment)
            wrap = True
            if o.kind == "target" and not ins.absolute:
                v -= pc
                wrap = -(1 << 32) < v < 1 << 32
            env[o.name] = _check(ins, o.name, v, o.range, o.align, wrap)
        base = ins.base or ins
        word = base.match
        for o in ops_:
            if o.field is not None:
                word = (word & ~o.field.mask) | o.field.insert(env[o.name])
        word = _set_fields(ins, ins.sets, env, word)
        if ins.base is not None:   # the base row's own "set" sees its field values
            word = _set_fields(ins, base.sets, {f.name: f.extract(word) for f in base.fields},
                               word)
        if ins.hint:
            word = _apply_hint(ins, word, self.fields["BO"])
        if base.invalid is not None and self.decode(word) is None:
            raise EncodeError(f"{ins.mnemonic}: invalid form (the ISA forbids "
                              f"{base.invalid.src})")
        return word

    def decode(self, word):
        """Decoded(insn, fields) for a word in the subset; None otherwise (never raises)."""
        word = int(word) & _M32
        for ins in self._by_po.get(word >> 26, ()):
            if word & ins.mask == ins.match:
                fields = {f.name: f.extract(word) for f in ins.fields}
                if ins.invalid is not None and ins.invalid(fields):
                    return None
                return Decoded(ins, fields)
        return None

    def disasm(self, word, addr=0):
        """objdump -d -M power9 text of ``word`` at ``addr``; None outside the subset."""
        d = self.decode(word)
        if d is None:
            return None
        word, base = int(word) & _M32, d.insn
        hint, plain = "", word
        if "BO" in d.fields:
            bo = d.fields["BO"]
            for h in "+-":
                raw = _unhinted(bo, h)
                if raw is not None:
                    hint, plain = h, (word & ~self.fields["BO"].mask) | self.fields["BO"].insert(raw)
        for al in self._disasm_aliases.get(base, ()):
            values = self._invert(al, plain, addr)
            if values is not None:
                return _format(al.mnemonic + hint, al, values, addr)
        values = [o.field.extract(word) for o in base.operands]
        values = [addr + v if o.kind == "target" and not base.absolute else v
                  for o, v in zip(base.operands, values)]
        return _format(base.mnemonic + hint, base, values, addr)

    def _invert(self, al, word, addr):
        """Operand values for which ``al`` encodes to ``word``, or None."""
        env = {}
        for o in al.operands:
            if o.field is not None:
                v = o.field.extract(word)
                env[o.name] = v
        for o in al.operands:
            if o.field is None:
                f, e = next(((f, e) for f, e in al.sets if o.name in e.names), (None, None))
                target = f.extract(word)
                lo, hi = o.range
                env[o.name] = next((v for v in range(lo, hi + 1)
                                    if e({**env, o.name: v}) == target), None)
                if env[o.name] is None:
                    return None
        values = [env[o.name] + addr if o.kind == "target" and not al.absolute else env[o.name]
                  for o in al.operands]
        try:
            ok = self.encode(al, values, pc=addr) == word
        except EncodeError:
            return None
        return values if ok else None

    def predecode(self, words):
        """uint32 words -> int64 rows (n, ops.NFIELDS); layout in powersim/ops.py."""
        w = np.asarray(words, dtype=np.uint32).astype(np.int64).ravel()
        n = w.size
        rows = np.zeros((n, ops.NFIELDS), dtype=np.int64)
        rows[:, ops.P_WORD] = w
        idx = np.full(n, len(self.insns), dtype=np.int64)   # sentinel = illegal
        po = w >> 26
        for p, group in self._by_po.items():
            sel = np.flatnonzero(po == p)
            if sel.size == 0:
                continue
            ws = w[sel]
            for ins in group:
                hit = (ws & ins.mask) == ins.match
                if ins.invalid is not None and hit.any():
                    hit &= ~np.asarray(ins.invalid({f.name: f.extract(ws) for f in ins.fields}),
                                       dtype=bool)
                idx[sel[hit]] = self._index[ins]
        legal = idx < len(self.insns)
        for col, attr in ((ops.P_OP, "op"), (ops.P_FLAGS, "flags"), (ops.P_LAT, "lat"),
                          (ops.P_UNIT, "unit")):
            rows[:, col] = self._static[attr][idx]
        rows[:, ops.P_RT] = np.where(legal, (w >> 21) & 31, 0)
        rows[:, ops.P_RA] = np.where(legal, (w >> 16) & 31, 0)
        rows[:, ops.P_RB] = np.where(legal, (w >> 11) & 31, 0)
        bf = self.fields["BF"]
        for col, key in ((ops.P_RT, "bf"), (ops.P_IMM, "imm"), (ops.P_AUX, "aux")):
            for expr, ids in self._computed[key].items():
                sel = np.flatnonzero(np.isin(idx, ids))
                if sel.size:
                    ws = w[sel]
                    env = {f.name: f.extract(ws) for f in self.fields.values()}
                    rows[sel, col] = bf.extract(ws) if key == "bf" else expr(env)
        for k in np.unique(idx[legal]):
            sel = np.flatnonzero(idx == k)
            rows[sel, ops.P_SRC], rows[sel, ops.P_DST] = dependencies(self.insns[k], rows[sel])
        return rows

    @functools.cached_property
    def _index(self):
        return {ins: i for i, ins in enumerate(self.insns)}

    @functools.cached_property
    def _static(self):
        return {a: np.array([getattr(i, a) for i in self.insns] + [0], dtype=np.int64)
                for a in ("op", "flags", "lat", "unit")}

    @functools.cached_property
    def _computed(self):
        """For P_RT (compares), P_IMM, P_AUX: expression -> indices of the insns using it."""
        out = {"bf": {}, "imm": {}, "aux": {}}
        for i, ins in enumerate(self.insns):
            if any(f.name == "BF" for f in ins.fields):
                out["bf"].setdefault(None, []).append(i)
            for key in ("imm", "aux"):
                e = getattr(ins, key)
                if e is not None:
                    out[key].setdefault(e, []).append(i)
        return out


# XER[CA] readers and writers (the scoreboard's DEP_XER)
_CA_READ = {"adde", "addze", "addme", "subfe", "subfze", "subfme"}
_CA_WRITE = _CA_READ | {"addc", "subfc", "addic", "subfic", "sraw", "srawi", "srad", "sradi"}
_JUMP_SPRS = {1: ops.DEP_XER, 8: ops.DEP_LR, 9: ops.DEP_CTR}
_NO_DRAIN = {"eieio", "msgsync", "mfmsr"}


def _pack(regs, n):
    """Ready-array indices (arrays, -1 = none) -> P_SRC/P_DST fields, lowest first."""
    v = np.zeros(n, np.int64)
    sh = np.zeros(n, np.int64)
    for r in regs:
        r = np.broadcast_to(np.asarray(r, np.int64), (n,))
        on = r >= 0
        v |= np.where(on, (r + 1) << sh, 0)
        sh += np.where(on, ops.DEP_BITS, 0)
    return v


def dependencies(ins, rows):
    """(P_SRC, P_DST) of rows predecoded from ``ins`` (layout in ops.py): the
    registers read and written, from the operand names (RT a target, RS/RB
    sources, RA a target when it comes first or updates, RA0 a source unless
    0) and the semantic op (CR, LR, CTR, XER)."""
    n = len(rows)
    rt, ra, rb, imm = (rows[:, c] for c in (ops.P_RT, ops.P_RA, ops.P_RB, ops.P_IMM))
    names = [o.field.name for o in ins.operands]
    op, none = ins.opname, np.full(n, -1, np.int64)
    src, dst, flags = [], [], 0
    if ins.op >= ops.SYSTEM_LO and ins.op <= ops.SYSTEM_HI or \
            op in ("mfcr", "mtcrf", "mfocrf", "mtocrf"):
        drain = (op not in _NO_DRAIN) & ~((op == "sync") & (imm == 1))     # lwsync
        flags = ops.DEP_BLOCK | np.where(drain, ops.DEP_DRAIN, 0)
    elif op in ("mfspr", "mtspr"):
        spr = [_JUMP_SPRS.get(int(x), -1) for x in imm]
        sprs = np.array(spr, np.int64)
        if op == "mfspr":
            src.append(sprs)
            dst.append(rt)
        else:
            src.append(rt)
            dst.append(sprs)
        block = sprs < 0
        return (_pack(src, n), _pack(dst, n) | np.where(
            block, ops.DEP_BLOCK | (ops.DEP_DRAIN if op == "mtspr" else 0), 0))
    if "RT" in names:
        dst.append(rt)
    if "RS" in names:
        src.append(rt)
    if "RB" in names:
        src.append(rb)
    if "RA0" in names:
        src.append(np.where(ra != 0, ra, -1))
    if "RA" in names:
        if names[0] == "RA":
            dst.append(ra)
            if op in ("rlwimi", "rldimi"):
                src.append(ra)
        else:
            src.append(ra)
            if ins.flags & ops.F_UPDATE:
                dst.append(ra)
    if ins.op >= ops.COMPARE_LO and ins.op <= ops.COMPARE_HI:
        dst.append(ops.DEP_CR0 + rt)            # P_RT holds BF for compares
    elif op == "mcrf":
        dst.append(ops.DEP_CR0 + rt)
        src.append(ops.DEP_CR0 + (ra >> 2))
    elif op == "crlogic":
        dst.append(ops.DEP_CR0 + (rt >> 2))
        src += [ops.DEP_CR0 + (ra >> 2), ops.DEP_CR0 + (rb >> 2)]
    elif op == "isel":
        src.append(ops.DEP_CR0 + (imm >> 2))
    elif ins.op >= ops.BRANCH_LO and ins.op <= ops.BRANCH_HI and op != "b":
        src.append(np.where(rt & 16, none, ops.DEP_CR0 + (ra >> 2)))   # BO, BI
        dec = (rt & 4) == 0 if op != "bcctr" else np.zeros(n, bool)
        src.append(np.where(dec | (op == "bcctr"), ops.DEP_CTR, -1))
        dst.append(np.where(dec, ops.DEP_CTR, -1))
        if op == "bclr":
            src.append(ops.DEP_LR)
    if ins.flags & ops.F_LK:
        dst.append(ops.DEP_LR)
    if ins.flags & ops.F_RC or op == "stcx":
        dst.append(ops.DEP_CR0)
    if op in _CA_READ:
        src.append(ops.DEP_XER)
    if op in _CA_WRITE or ins.flags & ops.F_OE:
        dst.append(ops.DEP_XER)
    return _pack(src[:4], n), _pack(dst[:3], n) | flags


def _check(ins, name, v, rng, align, wrap=False):
    """``v`` if allowed, else an EncodeError naming the range.  With ``wrap``,
    GNU as's rule for operands of at most 32 bits (gas/config/tc-ppc.c
    ppc_insert_operand) [OBJ]: a value above the range that fits once
    sign-extended from 32 bits (v - 2^32: li r3,0xffff8000) or below it that
    fits as a 32-bit unsigned (v + 2^32) stands for that value."""
    lo, hi = rng
    fit = v - (1 << 32) if wrap and v > hi else v + (1 << 32) if wrap and v < lo else v
    if not lo <= fit <= hi or fit % align:
        al = f", a multiple of {align}" if align > 1 else ""
        raise EncodeError(f"{ins.mnemonic}: operand {name} = {v} not allowed: "
                          f"must be in {lo}..{hi}{al}")
    return fit


def _set_fields(ins, sets, env, word):
    for f, e in sets:
        v = _check(ins, f"{f.name} (= {e.src})", e(env), f.range, 1 << f.shift)
        word = (word & ~f.mask) | f.insert(v)
    return word


def _signature(ins):
    return ins.mnemonic + " " + ",".join(
        "(".join(f"[{o.name}]" if o.optional else o.name for o in g) + (")" if len(g) > 1 else "")
        for g in ins.groups)


# BO hint bits (Power ISA Book I 2.4): BO = 0b001at / 0b011at and 0b1a00t /
# 0b1a01t; "at" = 11 is likely taken ("+"), 10 likely not taken ("-").
def _hinted(bo, hint):
    """BO with the hint applied, or None when this BO takes no hint."""
    if bo & 0b10100 == 0b00100 and bo & 0b11 == 0:
        return bo | (0b11 if hint == "+" else 0b10)
    if bo & 0b10100 == 0b10000 and bo & 0b01001 == 0:
        return bo | (0b01001 if hint == "+" else 0b01000)
    return None


def _takes_hint(ins):
    """GNU as accepts "+"/"-" on the base branches (BO an operand) and on the
    extended mnemonics whose fixed BO takes a hint [OBJ]."""
    if any(o.name == "BO" for o in ins.operands):
        return True
    bo = next((e for f, e in ins.sets if f.name == "BO"), None)
    return bo is not None and not bo.names and _hinted(bo({}), "+") is not None


def _apply_hint(ins, word, field):
    """``word`` with the hint of ``ins`` in its BO.  As GNU as (binutils
    opcodes/ppc-opc.c insert_bdm/insert_bdp, valid_bo) [OBJ], the given BO
    may be hint-free or already carry that same hint."""
    bo = field.extract(word)
    plain = bo if _hinted(bo, ins.hint) is not None else _unhinted(bo, ins.hint)
    if plain is None:
        allowed = [b for b in range(32) if _hinted(b, ins.hint) is not None
                   or _unhinted(b, ins.hint) is not None]
        raise EncodeError(f"{ins.mnemonic}: BO = {bo} takes no {ins.hint!r} hint; "
                          f"allowed: {', '.join(map(str, allowed))}")
    return (word & ~field.mask) | field.insert(_hinted(plain, ins.hint))


def _unhinted(bo, hint):
    """The hint-free BO if ``bo`` carries ``hint``, else None."""
    for plain in (bo & ~0b11, bo & ~0b01001):
        if plain != bo and _hinted(plain, hint) == bo:
            return plain
    return None


def _fmt(o, v, absolute):
    k = o.kind
    if k == "gpr" or (k == "gpr0" and v):
        return f"r{v}"
    if k == "crf":
        return f"cr{v}"
    if k == "crbit":
        return CR_BITS[v & 3] if v < 4 else f"4*cr{v >> 2}+{CR_BITS[v & 3]}"
    if k == "target":   # objdump prints absolute targets as 32-bit addresses
        return f"0x{v & (_M32 if absolute else _M64):x}"
    return str(v)


def _format(mnemonic, ins, values, addr):
    """objdump's layout: an optional operand is left out when it and every
    optional operand after it have their default values
    (binutils opcodes/ppc-dis.c)."""
    flat = ins.operands
    omit = [o.optional and all(v == p.default for p, v in zip(flat[i:], values[i:]) if p.optional)
            for i, o in enumerate(flat)]
    texts, i = [], 0
    for g in ins.groups:
        parts = [_fmt(o, values[i + j], ins.absolute) for j, o in enumerate(g) if not omit[i + j]]
        i += len(g)
        if parts:
            texts.append(parts[0] + "".join(f"({p})" for p in parts[1:]))
    return mnemonic + (" " + ",".join(texts) if texts else "")


@functools.cache
def table(path=TABLE_PATH):
    """The parsed and validated table (cached)."""
    path = Path(path) if isinstance(path, str) else path     # a Path or a Traversable
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise IsaTableError(f"cannot read instruction table {path}: {e}") from None
    return Table(data, path)


SPRS = table().sprs
