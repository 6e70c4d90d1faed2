"""Differential-testing harness: run one snippet of Power ISA code under
``qemu-ppc64le -cpu power9`` (the reference) and under powersim, from the same
initial state and at the same addresses, and compare the final state.

A *body* is GNU-as text in the subset powersim's assembler accepts (labels,
numeric local labels, ``.long``/``.quad``/``.space``, ``@h/@l/@ha/@higher/
@highest``).  Both sides lay memory out identically, so addresses produced by
the body (``bl``/``mflr``, update-form EAs, CTR/LR targets) compare exactly:

* ``DATA_ADDR`` (0x2000): the scratch region, ``len(data)`` rounded up to 8
  bytes (or ``size``), initialised with ``data``; powersim reads it back with
  ``run_asm(dumps=...)``, the qemu side writes it to stdout.
* ``CODE_ADDR`` (0x10000): ``_start`` = prologue, body, epilogue.

Initial state on both sides (the prologue, identical text): r0-r30, CR, XER,
LR and CTR are zero; r31 = DATA_ADDR; no reservation is held.  The body must
not write r31 (copy it to use update forms); r31 is the only register
excluded from comparison.  On powersim, memory below DATA_ADDR (where the
interrupt vectors are) is zero, so an unexpected interrupt never reaches
``attn`` and run_powersim says so.

The epilogues differ (so they come after the body): qemu stores r0-r30, CR,
XER, LR and CTR just past the scratch region (using r31 as the base and r0 as
a temporary after r0 itself is saved), then ``write(1, r31, n)`` and
``exit(0)`` with ``sc``; powersim ends with ``attn`` and its register file is
read directly.  Nothing the body leaves behind is clobbered before capture.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass, field

DATA_ADDR = 0x2000
CODE_ADDR = 0x10000
MAX_DATA = 0x7000  # the qemu save area past it is addressed by a D-form offset from r31
GPR_EXCLUDED = (31,)  # the scratch base; the body must not write it

TOOLS = ("powerpc64le-linux-gnu-as", "powerpc64le-linux-gnu-ld", "qemu-ppc64le")
MISSING_TOOLS = [t for t in TOOLS if shutil.which(t) is None]
SKIP_REASON = ("needs " + ", ".join(MISSING_TOOLS) +
               " (apt-get install binutils-powerpc64le-linux-gnu qemu-user)")

# Linux ppc64 syscall numbers (arch/powerpc/kernel/syscalls/syscall.tbl).
_SYS_EXIT, _SYS_WRITE = 1, 4

_LINKER_SCRIPT = f"""\
ENTRY(_start)
SECTIONS
{{
  .data {DATA_ADDR:#x} : {{ *(.data) }}
  .text {CODE_ADDR:#x} : {{ *(.text) }}
  /DISCARD/ : {{ *(.note*) *(.comment) }}
}}
"""


class HarnessError(RuntimeError):
    """The reference run itself failed (assembly, link, or a crash under qemu)."""


@dataclass
class State:
    """Final architected state of one run.  gpr[31] is DATA_ADDR by contract."""
    gpr: list
    cr: int
    xer: int
    lr: int
    ctr: int
    mem: bytes
    extra: dict = field(default_factory=dict)  # side-specific facts (cycles, ...)


QemuResult = State


_PROLOGUE = [f"li r{i},0" for i in range(31)] + [
    "mtcrf 0xff,r0", "mtxer r0", "mtlr r0", "mtctr r0", f"li r31,{DATA_ADDR:#x}"]
BODY_ADDR = CODE_ADDR + 4 * len(_PROLOGUE)  # the body's first instruction


def _prologue() -> str:
    return "".join(f"    {x}\n" for x in _PROLOGUE)


def _data_directives(data: bytes, size: int) -> str:
    """``data`` zero-padded to ``size`` bytes as .quad lines (the directive both
    assemblers share; little-endian like the machine)."""
    padded = data.ljust(size, b"\0")
    quads = struct.unpack(f"<{size // 8}Q", padded)
    return "".join(f"    .quad {q:#x}\n" for q in quads)


def _region_size(data: bytes, size: int | None) -> int:
    n = len(data) if size is None else size
    if len(data) > n:
        raise ValueError(f"data is {len(data)} bytes, more than size={n}")
    n = max(8, (n + 7) & ~7)
    if n > MAX_DATA:
        raise ValueError(f"scratch region of {n} bytes; at most {MAX_DATA} allowed")
    return n


_SAVE_SLOTS = 31 + 4  # r0-r30, cr, xer, lr, ctr


def qemu_source(body: str, data: bytes = b"", size: int | None = None) -> str:
    n = _region_size(data, size)
    save = [f"    std r{i},{n + 8 * i}(r31)" for i in range(31)]
    for k, spr in enumerate(("mfcr", "mfxer", "mflr", "mfctr")):
        save += [f"    {spr} r0", f"    std r0,{n + 8 * (31 + k)}(r31)"]
    return (
        "    .abiversion 2\n"  # ELFv2: e_entry is code, not a function descriptor
        "    .data\n"
        + _data_directives(data, n)
        + f"    .space {8 * _SAVE_SLOTS}\n"
        "    .text\n    .globl _start\n_start:\n"
        + _prologue() + body.rstrip() + "\n"
        + "\n".join(save) + "\n"
        f"    li r0,{_SYS_WRITE}\n    li r3,1\n    mr r4,r31\n"
        f"    li r5,{n + 8 * _SAVE_SLOTS}\n    sc\n"
        f"    li r0,{_SYS_EXIT}\n    li r3,0\n    sc\n"
    )


def powersim_source(body: str, data: bytes = b"", size: int | None = None) -> str:
    """The same layout as the qemu ELF, as one flat image loaded at 0."""
    n = _region_size(data, size)
    return (
        f"    .space {DATA_ADDR:#x}\n"
        + _data_directives(data, n)
        + f"    .space {CODE_ADDR - DATA_ADDR - n:#x}\n"
        "_start:\n"
        + _prologue() + body.rstrip() + "\n"
        "    attn\n"
    )


def _run(cmd, cwd, what, timeout=60.0):
    try:
        p = subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise HarnessError(f"{what} did not finish in {timeout} s (a loop in the body?)") from None
    if p.returncode != 0:
        err = p.stderr.decode(errors="replace") if isinstance(p.stderr, bytes) else p.stderr
        raise HarnessError(f"{what} failed (exit {p.returncode}):\n{err}")
    return p


def run_qemu(body: str, data: bytes = b"", size: int | None = None,
             timeout: float = 20.0) -> State:
    """Run ``body`` as a static ppc64le ELF under ``qemu-ppc64le -cpu power9``."""
    if MISSING_TOOLS:
        raise HarnessError(SKIP_REASON)
    n = _region_size(data, size)
    with tempfile.TemporaryDirectory(prefix="qemu_ref_") as d:
        with open(os.path.join(d, "prog.s"), "w") as f:
            f.write(qemu_source(body, data, size))
        with open(os.path.join(d, "link.ld"), "w") as f:
            f.write(_LINKER_SCRIPT)
        _run(["powerpc64le-linux-gnu-as", "-mpower9", "-mregnames", "-o", "prog.o",
              "prog.s"], d, "powerpc64le-linux-gnu-as")
        _run(["powerpc64le-linux-gnu-ld", "-static", "--no-warn-rwx-segments",
              "-z", "max-page-size=0x1000", "-T", "link.ld", "-o", "prog", "prog.o"],
             d, "powerpc64le-linux-gnu-ld")
        out = _run(["qemu-ppc64le", "-cpu", "power9", "./prog"], d, "qemu-ppc64le",
                   timeout=timeout).stdout
    if len(out) != n + 8 * _SAVE_SLOTS:
        raise HarnessError(f"qemu wrote {len(out)} bytes, expected {n + 8 * _SAVE_SLOTS}")
    regs = struct.unpack(f"<{_SAVE_SLOTS}Q", out[n:])
    return State(gpr=list(regs[:31]) + [DATA_ADDR], cr=regs[31], xer=regs[32],
                 lr=regs[33], ctr=regs[34], mem=out[:n])


def run_powersim(body: str, data: bytes = b"", size: int | None = None,
                 max_cycles: int = 10**7) -> State:
    """Run the same body on one hardware thread of powersim's machine core."""
    from powersim.machine.exec import run_asm  # lazily: the qemu half needs no numba
    n = _region_size(data, size)
    res = run_asm(powersim_source(body, data, size), chips=1, cores_per_chip=1,
                  threads=1, max_cycles=max_cycles, dumps=((DATA_ADDR, n),),
                  filename="body.s")
    t = res.threads[0]
    if not t.halted:
        raise HarnessError(f"powersim thread 0 did not reach attn within {max_cycles} "
                           "cycles (typically an unexpected interrupt: it vectors into the "
                           "zero-filled low memory and keeps faulting there)")
    return State(gpr=[int(g) for g in t.gpr], cr=int(t.cr), xer=int(t.xer),
                 lr=int(t.lr), ctr=int(t.ctr), mem=bytes(res.dumps[DATA_ADDR]),
                 extra={"cycles": int(t.cycles), "instructions": int(t.instructions)})


# --- comparison ----------------------------------------------------------------

_XER_BITS = (("SO", 63 - 32), ("OV", 63 - 33), ("CA", 63 - 34),
             ("OV32", 63 - 44), ("CA32", 63 - 45))
XER_MASK = sum(1 << b for _, b in _XER_BITS) | 0x7F  # + the byte count (57:63)


def _xer_text(x: int) -> str:
    flags = [name for name, b in _XER_BITS if x >> b & 1]
    return f"{x:#x} [{' '.join(flags) or '-'}]"


def _cr_text(c: int) -> str:
    return " ".join(f"cr{i}={c >> (28 - 4 * i) & 0xF:04b}" for i in range(8))


def diff(a: State, b: State, names=("qemu", "powersim"), masks: dict | None = None,
         slots: list | None = None) -> list:
    """Readable differences between two states.  ``masks`` maps a field name
    ("r5", "cr", "xer", "lr", "ctr") to the bits that are architecturally
    defined for this test (0 ignores the field); r31 is never compared.
    ``slots`` names the 8-byte words of the region and their defined bits,
    as ``[(name, mask), ...]``; words past the list compare in full."""
    masks, slots = masks or {}, slots or []
    fields = [(f"r{i}", a.gpr[i], b.gpr[i]) for i in range(32) if i not in GPR_EXCLUDED]
    fields += [("cr", a.cr, b.cr), ("xer", a.xer, b.xer), ("lr", a.lr, b.lr),
               ("ctr", a.ctr, b.ctr)]
    out = []
    for name, x, y in fields:
        m = masks.get(name, (1 << 64) - 1)
        if name == "xer":
            m &= XER_MASK
        if (x ^ y) & m == 0:
            continue
        if name == "cr":
            out.append(f"cr : {names[0]} {_cr_text(x)}\n     {names[1]} {_cr_text(y)}")
        elif name == "xer":
            out.append(f"xer: {names[0]} {_xer_text(x)}  {names[1]} {_xer_text(y)}")
        else:
            out.append(f"{name:4s}: {names[0]} {x:#018x}  {names[1]} {y:#018x}"
                       + (f"  (mask {m:#x})" if m != (1 << 64) - 1 else ""))
    if len(a.mem) != len(b.mem):
        out.append(f"region size: {names[0]} {len(a.mem)}  {names[1]} {len(b.mem)}")
    for k in range(min(len(a.mem), len(b.mem)) // 8):
        x, y = (int.from_bytes(m[8 * k:8 * k + 8], "little") for m in (a.mem, b.mem))
        name, m = slots[k] if k < len(slots) else ("", (1 << 64) - 1)
        if (x ^ y) & m:
            out.append(f"mem[r31+{8 * k:#x}] {name}: {names[0]} {x:#018x}  "
                       f"{names[1]} {y:#018x}" + (f"  (mask {m:#x})" if m != (1 << 64) - 1 else ""))
    return out
