"""Run GNU binutils for ppc64le from tests: the reference assembler and
disassembler ([OBJ]).  One tool run per call, so a
whole corpus costs one process start, not one per instruction.

    gnu_assemble(source_text) -> bytes       the .text section
    gnu_objdump(data, base=0) -> list[str]   one "mnemonic operands" per word
    HAVE_GNU                                  False when the tools are missing
"""

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

PREFIX = "powerpc64le-linux-gnu-"
AS, OBJCOPY, OBJDUMP = (PREFIX + t for t in ("as", "objcopy", "objdump"))
HAVE_GNU = all(shutil.which(t) for t in (AS, OBJCOPY, OBJDUMP))
AS_FLAGS = ("-mpower9", "-mregnames")

# "    1000:\t20 11 70 7c \tmtocrf  1,r3"
_LINE = re.compile(r"^\s*([0-9a-f]+):\t(?:[0-9a-f]{2} ){4}\t?(.*)$")


class GnuError(RuntimeError):
    """A GNU tool rejected its input; the message carries its stderr."""


def _run(args):
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise GnuError(f"{' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout


def gnu_assemble(source_text: str) -> bytes:
    """Assemble with `as -mpower9 -mregnames`; return the raw .text bytes."""
    with tempfile.TemporaryDirectory() as d:
        src, obj, out = (Path(d) / n for n in ("a.s", "a.o", "a.bin"))
        src.write_text(source_text + "\n")
        _run([AS, *AS_FLAGS, "-o", str(obj), str(src)])
        _run([OBJCOPY, "-O", "binary", "-j", ".text", str(obj), str(out)])
        return out.read_bytes()


def gnu_objdump(data: bytes, base: int = 0) -> list[str]:
    """Disassemble little-endian words loaded at ``base`` with
    `objdump -M power9`; one text per word, whitespace normalised to
    "mnemonic op1,op2" (".long 0x..." for words objdump does not know)."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "a.bin"
        path.write_bytes(data)
        out = _run([OBJDUMP, "-D", "-z", "-b", "binary", "-m", "powerpc:common64", "-EL",
                    "-M", "power9", f"--adjust-vma={base:#x}", str(path)])
    texts = []
    for line in out.splitlines():
        m = _LINE.match(line)
        if m:
            texts.append(" ".join(m.group(2).split()))
    if len(texts) != len(data) // 4:
        raise GnuError(f"objdump printed {len(texts)} instructions for {len(data) // 4} words")
    return texts
