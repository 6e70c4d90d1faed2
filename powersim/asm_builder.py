"""A small Python API for writing kernel routines: it writes assembly text,
which goes through ``assemble()`` like any source (one encoder).

    b = Builder()
    b.label("_start")
    b.li64("r5", 0xc000000000001234)
    b.atomic_inc("r5", "r6")
    b.emit("blr")
    img = b.assemble(base=0x100)

Any mnemonic is a method taking its operands as ints or strings:
``b.ld("r3", "8(r4)")``, ``b.addi(3, 4, 16)``.  The record form (Rc = 1, the
``.`` of ``and.``, ``andi.``, ``stdcx.``) is spelled ``_rc``:
``b.stdcx_rc("r3", 0, "r4")`` is ``stdcx. r3,0,r4``, ``b.and_rc`` is ``and.``.
A trailing ``_`` only escapes a Python keyword, as everywhere in Python:
``b.and_``, ``b.or_``, ``b.not_`` are the plain ``and``, ``or``, ``not``; any
other trailing ``_`` is an error (it used to mean the record form).  Branch
hints and anything else go through ``b.emit("bne- 1b")``.
"""

import keyword


from powersim.asm_expr import wrap
from powersim.errors import AsmError

_NEGATE = {"eq": "ne", "ne": "eq", "lt": "ge", "ge": "lt", "gt": "le", "le": "gt"}

# GPR names for routines that name their registers once at the top
# (``mm, flags, result = R31, R30, R29``) instead of repeating "r31" # mm.
R0, R1, R2, R3, R4, R5, R6, R7 = "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7"
R8, R9, R10, R11, R12, R13, R14, R15 = "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"
R16, R17, R18, R19, R20, R21, R22, R23 = ("r16", "r17", "r18", "r19", "r20", "r21", "r22",
                                          "r23")
R24, R25, R26, R27, R28, R29, R30, R31 = ("r24", "r25", "r26", "r27", "r28", "r29", "r30",
                                          "r31")


class Builder:
    """Collects assembly lines; see the module docstring."""

    def __init__(self):
        self._lines = []
        self._labels = 0

    # --- plain text ------------------------------------------------------------
    def emit(self, line: str) -> "Builder":
        """Append one line of assembly, e.g. ``b.emit("ld r3,8(r4)")``."""
        self._lines.append("\t" + line)
        return self

    def label(self, name: str) -> "Builder":
        """Define ``name`` here: ``b.label("loop")``."""
        self._lines.append(f"{name}:")
        return self

    def local(self, hint: str = "L") -> str:
        """A fresh label name, unique within this Builder (an assembler-local
        ``.L`` name): ``top = b.local(); b.label(top); ...; b.bdnz(top)``."""
        self._labels += 1
        return f".L{hint}{self._labels}"

    def comment(self, text: str) -> "Builder":
        """A ``#`` comment line: ``b.comment("take the lock")``."""
        self._lines.append("\t# " + text.replace("\n", " "))
        return self

    def section(self, name: str) -> "Builder":
        """Switch to ``.text`` or ``.data``: ``b.section(".data")``."""
        self._lines.append(f"\t.section {name}")
        return self

    def align(self, nbytes: int) -> "Builder":
        """Align to ``nbytes`` (a power of two): ``b.align(8)`` is ``.balign 8``."""
        return self.emit(f".balign {nbytes}")

    def quad(self, *values) -> "Builder":
        """64-bit data: ``b.quad(0, "handler")``."""
        return self.emit(".quad " + ",".join(map(str, values)))

    def space(self, nbytes: int) -> "Builder":
        """``nbytes`` zero bytes: ``b.space(64)``."""
        return self.emit(f".space {nbytes}")

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if name.endswith("_rc"):
            mnemonic = name[:-3] + "."
        elif name.endswith("_"):
            if not keyword.iskeyword(name[:-1]):
                raise AttributeError(f"Builder has no method {name!r}: a trailing `_` only "
                                     f"escapes a Python keyword (b.and_, b.or_); the record "
                                     f"form {name[:-1]}. is b.{name[:-1]}_rc")
            mnemonic = name[:-1]
        else:
            mnemonic = name
        from powersim import isa
        if isa.table().lookup(mnemonic) is None:
            raise AttributeError(f"Builder has no method {name!r}: {mnemonic!r} is not a "
                                 f"known mnemonic")

        def insn(*operands):
            return self.emit(f"{mnemonic} {','.join(map(str, operands))}".rstrip())
        insn.__name__ = name
        return insn

    # --- macros -------------------------------------------------------------------
    def li64(self, reg, value: int) -> "Builder":
        """Load a 64-bit constant with the shortest li/lis/ori/oris/sldi sequence:
        ``li`` (16-bit signed), ``lis[+ori]`` (32-bit signed), ``li 0+oris[+ori]``
        (32-bit unsigned), else the upper half, ``sldi 32``, ``[oris][+ori]``.
        ``b.li64("r5", 0xc000000000001234)``."""
        v = wrap(value)
        if -(1 << 31) <= v < 1 << 31:
            return self._load32(reg, v)
        if 0 <= v < 1 << 32:
            self.emit(f"li {reg},0")
        else:
            self._load32(reg, v >> 32)
            self.emit(f"sldi {reg},{reg},32")
        return self._or_low32(reg, v & 0xFFFFFFFF)

    def _load32(self, reg, v: int) -> "Builder":
        """v: a signed 32-bit value."""
        if -0x8000 <= v < 0x8000:
            return self.emit(f"li {reg},{v}")
        self.emit(f"lis {reg},{v >> 16}")
        if v & 0xFFFF:
            self.emit(f"ori {reg},{reg},{v & 0xFFFF}")
        return self

    def _or_low32(self, reg, low: int) -> "Builder":
        if low >> 16:
            self.emit(f"oris {reg},{reg},{low >> 16}")
        if low & 0xFFFF:
            self.emit(f"ori {reg},{reg},{low & 0xFFFF}")
        return self

    def load_addr(self, reg, symbol, wide: bool = True) -> "Builder":
        """Load the address of ``symbol`` (a name, resolved by the assembler, or
        an int, via li64).  ``wide`` (default) works for any 64-bit address
        (5 instructions: @highest, @higher, sldi 32, @high, @l);
        ``wide=False`` is ``lis @h`` + ``ori @l``, for
        addresses below 2 GiB (the assembler refuses a higher one, as ld
        does).  ``b.load_addr("r3", "runqueue")``."""
        if isinstance(symbol, int):
            return self.li64(reg, symbol)
        if wide:
            self.emit(f"lis {reg},{symbol}@highest")
            self.emit(f"ori {reg},{reg},{symbol}@higher")
            self.emit(f"sldi {reg},{reg},32")
            self.emit(f"oris {reg},{reg},{symbol}@high")
        else:
            self.emit(f"lis {reg},{symbol}@h")
        return self.emit(f"ori {reg},{reg},{symbol}@l")

    def atomic_inc(self, addr_reg, tmp_reg, delta: int = 1) -> "Builder":
        """``*addr += delta`` atomically (Linux atomic64_add: a ldarx/stdcx. loop
        with no barriers [L-bar]).  Clobbers ``tmp_reg`` and cr0."""
        top = self.local("inc")
        self.label(top)
        self.emit(f"ldarx {tmp_reg},0,{addr_reg}")
        self.emit(f"addi {tmp_reg},{tmp_reg},{delta}")
        self.emit(f"stdcx. {tmp_reg},0,{addr_reg}")
        return self.emit(f"bne- {top}")

    def atomic_add_return(self, addr_reg, result_reg, delta) -> "Builder":
        """``result = (*addr += delta)`` atomically, fully ordered like Linux
        atomic64_add_return: sync before and after the loop [L-bar].  ``delta``
        is an int (addi) or a register (add).  Clobbers cr0."""
        top = self.local("add")
        self.emit("sync")
        self.label(top)
        self.emit(f"ldarx {result_reg},0,{addr_reg}")
        if isinstance(delta, int):
            self.emit(f"addi {result_reg},{result_reg},{delta}")
        else:
            self.emit(f"add {result_reg},{result_reg},{delta}")
        self.emit(f"stdcx. {result_reg},0,{addr_reg}")
        self.emit(f"bne- {top}")
        return self.emit("sync")

    def spin_until(self, addr_reg, tmp_reg, cond: str, value, offset: int = 0) -> "Builder":
        """Spin until ``*(u64 *)(addr + offset) <cond> value`` (signed compare;
        ``cond`` one of eq ne lt le gt ge; ``value`` an int for cmpdi or a
        register for cmpd).  The loop is a load, a compare and one backward
        branch, with no store: the machine's spin detection (waiting costs
        nothing) relies on loops of this shape to put
        the thread to sleep until the location is written, so keep spin loops
        store-free.  Clobbers ``tmp_reg`` and cr0.
        ``b.spin_until("r3", "r4", "eq", 0)`` waits for ``*(u64 *)r3 == 0``."""
        if cond not in _NEGATE:
            raise AsmError(f"spin_until: cond {cond!r} must be one of {', '.join(_NEGATE)}",
                           "<builder>")
        top = self.local("spin")
        self.label(top)
        self.emit(f"ld {tmp_reg},{offset}({addr_reg})")
        self.emit(f"{'cmpdi' if isinstance(value, int) else 'cmpd'} {tmp_reg},{value}")
        return self.emit(f"b{_NEGATE[cond]} {top}")

    # --- output ---------------------------------------------------------------------
    def text(self) -> str:
        """The assembly source written so far."""
        return "".join(line + "\n" for line in self._lines)

    def assemble(self, base: int = 0, filename: str = "<builder>"):
        """``assemble(self.text(), base, filename)``: an Image."""
        from powersim.asm import assemble
        return assemble(self.text(), base=base, filename=filename)
