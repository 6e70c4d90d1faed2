"""Serialization methods written in C (docs/KERNEL.md "Methods in C").

``kernel.method`` may be the path of a C file instead of a method module's
name.  The file defines the hooks of ``include/powersim/method.h`` (the same
meaning as the Builder hooks of ``powersim.kernel.methods``) using the
headers of ``include/``, which give it the tiny kernel's world under Linux's
names; the layouts it shares with the Builder kernel (``struct paca_struct``,
``struct mm_struct``, NR_CPUS, ...) come from a header generated here from
``powersim.kernel.layout``, so the two cannot drift.

Build (``build_image``), for one Layout:

1. compile the file with Debian's cross compiler (``CC``, flags ``CFLAGS``)
   against ``include/`` and the generated header (the object is cached on
   disk, keyed by the source, the headers, the flags and the compiler);
2. assemble the Builder kernel once with placeholders for the C hooks it
   calls, to learn where its routines are;
3. link the object with GNU ld at the first page after the Builder code, its
   references to kernel routines resolved to their addresses; one copy of
   its ``.data..percpu`` per CPU follows (``PERCPU_STRIDE`` apart);
4. assemble the Builder kernel again, the C symbols now defined (``.set``)
   at their ELFv2 local entry points, and append the linked bytes.

Conventions: ``_start`` loads the C code's TOC pointer into r2 on every CPU
and nothing else writes r2 (the Builder code never uses it and the interrupt
entry saves and restores it; the C code only ever sets it to the same value),
so the kernel calls a C function with a plain ``bl`` to its local entry, as
one kernel function calls another in Linux.  A C function may clobber r0,
r3-r12, CTR, LR, XER and CR0/1/5-7 (ELFv2); the Builder call sites keep
nothing there across a call (``tests/kernel/test_cmethod.py`` checks the
kernel never names cr1, cr5-cr7).  Every instruction of the C code must be
one powersim models: each word of each function is decoded, and an unknown one
is an error naming the function.
"""

import hashlib
import os
import re
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

from powersim.errors import PowersimError
from powersim.kernel import layout as L

TRIPLE = "powerpc64le-linux-gnu-"
CC, LD, AR, OBJDUMP = (TRIPLE + t for t in ("gcc", "ld", "ar", "objdump"))
INSTALL = "apt-get install gcc-powerpc64le-linux-gnu"
INCLUDE = Path(__file__).resolve().parent / "include"
# What powersim models of POWER9: no floating point or vector unit, no ISA 3.0
# modulo / multiply-add / extswsli (-mno-modulo turns all three off), no HTM;
# ELFv2, the medium code model and -ffixed-r13 (the PACA) as Linux builds ppc64.
CFLAGS = ("-mcpu=power9", "-mlittle-endian", "-mabi=elfv2", "-O2", "-std=gnu11",
          "-ffreestanding", "-fno-pie", "-fno-common", "-fno-strict-aliasing",
          "-fno-stack-protector", "-fno-asynchronous-unwind-tables", "-mcmodel=medium",
          "-msoft-float", "-mno-altivec", "-mno-vsx", "-mno-modulo", "-mno-htm",
          "-mno-crypto", "-mno-float128", "-mtraceback=no", "-ffixed-r13", "-nostdinc",
          "-Wall", "-Werror=implicit-function-declaration")
LIB_CFLAGS = ("-fno-tree-loop-distribute-patterns",)   # memset must not call memset
FLAGS = {"serialize_at_clear": 1, "serialize_at_collapse": 1, "zap_flush_per_pmd": 0,
         "walker_recheck": 0, "flush_type_v512": 0}
FLAG_PREFIX = "__method_flag_"
SERIALIZE = "serialize_against_pte_lookup"
BEGIN, END = "begin_lockless_pgtbl_walk", "end_lockless_pgtbl_walk"
FREE = "pgtable_free_tlb"
V512 = ("tick_and_test_trim_clock", "exit_flush_lazy_tlbs", "do_exit_flush_lazy_tlb")
TOC = "__c_toc"             # the Builder's name for the C code's TOC pointer value
OWN = "__powersim_"         # symbols the linker script defines
FORMAT = b"powersim-c-method 1\n"


class CMethodError(PowersimError):
    """A C method that cannot be used: missing compiler, compile or link error,
    a hook missing, an instruction powersim does not model."""


def is_c_method(name) -> bool:
    return isinstance(name, str) and name.endswith(".c")


def check_path(name: str):
    """None when ``name`` is an existing ``.c`` file, else why not (config.py
    checks this before anything is compiled)."""
    if not is_c_method(name):
        return "a C method is a file ending in .c"
    p = Path(name)
    if not p.exists():
        return "no such file"
    if not p.is_file():
        return "not a file"
    if not os.access(p, os.R_OK):
        return "not readable"
    return None


def _source(path) -> bytes:
    why = check_path(path)
    if why:
        raise CMethodError(f"kernel.method = {path!r}: {why}")
    return Path(path).read_bytes()


# --- the generated header ------------------------------------------------------------
_NESTED = {"context": "mm_context_t", "kvm_hstate": "struct kvmppc_host_state"}


def _decl(ctype: str, name: str) -> str:
    m = re.fullmatch(r"(.*?)\[(\d+)\]", ctype)
    if m:
        return f"{m.group(1)} {name}[{m.group(2)}]"
    return f"{ctype}{'' if ctype.endswith('*') else ' '}{name}"


def _union(fields, size=None) -> list:
    """Members placing each (offset, ctype, name) at its offset: a union of one
    padded anonymous struct per member (dotted names grouped into a nested
    struct, which ``_nested`` defines)."""
    out, seen = [], set()
    for off, ctype, name in fields:
        if "." in name:
            top = name.split(".")[0]
            if top in seen:
                continue
            seen.add(top)
            off = min(o for o, _, n in fields if n.split(".")[0] == top)
            ctype, name = _NESTED[top], top
        pad = f"char __pad_{name}[{off}]; " if off else ""
        out.append(f"\t\tstruct {{ {pad}{_decl(ctype, name)}; }};")
    if size:
        out.append(f"\t\tchar __size[{size}];")
    return out


def _nested(fields) -> list:
    """typedefs/structs of the nested members (offsets relative to their first)."""
    out = []
    for top, cname in _NESTED.items():
        sub = [(o, t, n.split(".", 1)[1]) for o, t, n in fields if n.split(".")[0] == top]
        if not sub:
            continue
        base = min(o for o, _, _ in sub)
        sub = [(o - base, t, n) for o, t, n in sub]
        body = "\n".join(["\tunion {"] + _union(sub) + ["\t};"])
        if cname.startswith("struct "):
            out.append(f"{cname} {{\n{body}\n}};")
        else:
            out.append(f"typedef struct {{\n{body}\n}} {cname};")
    return out


def _asserts(struct_name, fields, size) -> list:
    ends = sorted(o for o, _, _ in fields) + [size]
    out = []
    for off, _, name in fields:
        slot = min(e for e in ends if e > off) - off
        out.append(f"_Static_assert(offsetof({struct_name}, {name}) == {off} && "
                   f"sizeof(((({struct_name} *)0)->{name})) <= {slot}, \"{name}\");")
    return out


def header(lay) -> str:
    """``generated/powersim_layout.h`` for ``lay``: the constants and the
    structures the C code shares with the Builder kernel."""
    irq = {n: getattr(L, n) for n in ("PACA_IRQ_HARD_DIS", "PACA_IRQ_DBELL", "PACA_IRQ_EE",
                                      "PACA_IRQ_DEC")}
    lines = ["/* Generated by powersim/kernel/cmethod.py from powersim/kernel/layout.py",
             " * for this machine; do not edit. */",
             "#ifndef _GENERATED_POWERSIM_LAYOUT_H", "#define _GENERATED_POWERSIM_LAYOUT_H",
             "", "#include <linux/types.h>", "",
             f"#define NR_CPUS {lay.ncpus}", f"#define L1_CACHE_BYTES {L.LINE}",
             f"#define KERNELBASE {L.KERNELBASE:#x}UL",
             f"#define PACA_BASE {lay.paca_base:#x}UL",
             f"#define PERCPU_STRIDE {L.PERCPU_STRIDE}",
             "#define IRQS_ENABLED 0", f"#define IRQS_DISABLED {L.IRQS_DISABLED}",
             *(f"#define {n} {v:#x}" for n, v in irq.items()), "",
             "struct mm_struct;", ""]
    lines += _nested(L.PACA_FIELDS) + _nested(L.MM_FIELDS)
    lines += ["", "struct paca_struct {", "\tunion {", *_union(L.PACA_FIELDS, L.LINE),
              "\t};", "};", "",
              "struct mm_struct {", "\tunion {", *_union(L.MM_FIELDS, L.LINE), "\t};",
              "\tunsigned long cpu_bitmap[];\t/* mm_cpumask(mm) */", "};", ""]
    lines += _asserts("struct paca_struct", L.PACA_FIELDS, L.LINE)
    lines += _asserts("struct mm_struct", L.MM_FIELDS, L.LINE)
    lines += ["_Static_assert(sizeof(struct paca_struct) == L1_CACHE_BYTES, \"paca\");",
              (f"_Static_assert(offsetof(struct mm_struct, cpu_bitmap) == {L.LINE}, "
               "\"mm_cpumask\");"), "", "#endif", ""]
    return "\n".join(lines)


# --- tools ---------------------------------------------------------------------------
_tool_ids = {}


def _need(tool: str, path) -> str:
    exe = shutil.which(tool)
    if exe is None:
        raise CMethodError(f"kernel.method = {str(path)!r}: a C method needs the ppc64le "
                           f"cross compiler and binutils ({tool} not found); on Debian or "
                           f"Ubuntu: {INSTALL}")
    return exe


def compiler_id(path="") -> str:
    """The compiler's and linker's version lines (part of every cache key)."""
    if "id" not in _tool_ids:
        parts = []
        for tool in (CC, LD):
            out = _run([_need(tool, path), "--version"], path, "version")
            parts.append(out.splitlines()[0] if out else tool)
        _tool_ids["id"] = " | ".join(parts)
    return _tool_ids["id"]


def _run(argv, path, what, cwd=None) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, check=False,
                          env={**os.environ, "LC_ALL": "C"})     # plain quotes
    if proc.returncode != 0:
        out = (proc.stderr + proc.stdout).strip()
        raise CMethodError(f"{path}: {what} failed ({Path(argv[0]).name} exit "
                           f"{proc.returncode}):\n{out}")
    return proc.stdout


def _include_digest() -> bytes:
    h = hashlib.sha256()
    for f in sorted(INCLUDE.rglob("*")):
        if f.is_file():
            h.update(str(f.relative_to(INCLUDE)).encode() + b"\0" + f.read_bytes())
    return h.digest()


def digest(path) -> bytes:
    """What a kernel image built with the C method at ``path`` depends on
    beyond the Layout: the source, the headers, the flags and the tools."""
    h = hashlib.sha256(FORMAT)
    for part in (_source(path), _include_digest(), repr(CFLAGS + LIB_CFLAGS).encode(),
                 compiler_id(path).encode()):
        h.update(hashlib.sha256(part).digest())
    return h.digest()


# --- compiling (cached) --------------------------------------------------------------
def _cache_file(kind: str, key: str):
    from powersim.kernel import image_cache
    d = image_cache.cache_dir()
    return None if d is None else d.parent / "c-methods" / f"{key}.{kind}"


def _cached(kind, key, make) -> bytes:
    from powersim.kernel import image_cache
    f = _cache_file(kind, key)
    if f is not None:
        try:
            blob = f.read_bytes()
            if blob.startswith(FORMAT):
                data = blob[len(FORMAT) + 65:]
                if hashlib.sha256(data).hexdigest().encode() == blob[len(FORMAT):][:64]:
                    return data
        except OSError:
            pass
    data = make()
    if f is not None:
        image_cache.store_bytes(f, FORMAT + hashlib.sha256(data).hexdigest().encode()
                                + b"\n" + data)
    return data


def _gcc(path, src, out, hdr, extra=()):
    gen = Path(out).parent / "include"
    (gen / "generated").mkdir(parents=True, exist_ok=True)
    (gen / "generated" / "powersim_layout.h").write_text(hdr)
    isystem = _run([_need(CC, path), "-print-file-name=include"], path, "gcc").strip()
    _run([_need(CC, path), *CFLAGS, *extra, "-isystem", isystem, "-I", str(gen),
          "-I", str(INCLUDE), "-c", str(src), "-o", str(out)], path, "compiling")


def compile_objects(path, lay):
    """(method object, library archive) bytes for ``lay``, from the cache when
    the same inputs were compiled before."""
    hdr = header(lay)
    src = _source(path)
    tools = compiler_id(path)
    key = hashlib.sha256(b"\0".join((FORMAT, src, hdr.encode(), _include_digest(),
                                     repr(CFLAGS).encode(), tools.encode()))).hexdigest()
    lib_key = hashlib.sha256(b"\0".join((FORMAT, b"lib", hdr.encode(), _include_digest(),
                                         repr(CFLAGS + LIB_CFLAGS).encode(),
                                         tools.encode()))).hexdigest()

    def method_obj():
        with tempfile.TemporaryDirectory(prefix="powersim-c-") as d:
            out = Path(d) / "method.o"
            _gcc(path, Path(path), out, hdr)
            return out.read_bytes()

    def lib_archive():
        with tempfile.TemporaryDirectory(prefix="powersim-c-") as d:
            obj = Path(d) / "string.o"
            _gcc(path, INCLUDE / "lib" / "string.c", obj, hdr, LIB_CFLAGS)
            _run([_need(AR, path), "rcsD", "libpowersim.a", "string.o"], path, "ar", cwd=d)
            return (Path(d) / "libpowersim.a").read_bytes()
    return _cached("o", key, method_obj), _cached("a", lib_key, lib_archive)


# --- ELF (just what the linked method needs) -----------------------------------------
SHT_SYMTAB, SHT_NOBITS = 2, 8
SHF_ALLOC, SHF_EXECINSTR = 0x2, 0x4
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STT_OBJECT, STT_FUNC = 1, 2
SHN_UNDEF, SHN_ABS = 0, 0xFFF1


class Elf:
    """Sections and symbols of an ELF64 little-endian file."""

    def __init__(self, data: bytes):
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            raise CMethodError("not an ELF64 little-endian file")
        self.data = data
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
        raw = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
               for i in range(shnum)]
        names = raw[shstrndx]
        self.sections = [{"name": self._str(names[4], s[0]), "type": s[1], "flags": s[2],
                          "addr": s[3], "offset": s[4], "size": s[5], "link": s[6]}
                         for s in raw]
        self.symbols = []
        for sec in self.sections:
            if sec["type"] != SHT_SYMTAB:
                continue
            strtab = self.sections[sec["link"]]["offset"]
            for at in range(sec["offset"] + 24, sec["offset"] + sec["size"], 24):
                name, info, other, shndx, value, size = struct.unpack_from("<IBBHQQ", data, at)
                self.symbols.append({"name": self._str(strtab, name), "bind": info >> 4,
                                     "type": info & 15, "other": other, "shndx": shndx,
                                     "value": value, "size": size})

    def _str(self, table_off, at) -> str:
        end = self.data.index(b"\0", table_off + at)
        return self.data[table_off + at:end].decode()

    def defined_globals(self):
        return [s for s in self.symbols if s["bind"] in (STB_GLOBAL, STB_WEAK)
                and s["shndx"] != SHN_UNDEF]

    @staticmethod
    def local_entry(sym) -> int:
        """ELFv2: the local entry point (st_other bits 5-7) [ABI-v2]."""
        return sym["value"] + (((1 << ((sym["other"] >> 5) & 7)) >> 2) << 2)


# --- what the object defines ---------------------------------------------------------
class Definitions:
    """The hooks and flags a compiled method object defines."""

    def __init__(self, path, obj: bytes):
        self.path = path
        elf = Elf(obj)
        self.functions, self.flags = set(), dict(FLAGS)
        self.globals = set()
        for s in elf.defined_globals():
            if s["name"].startswith(FLAG_PREFIX):
                flag = s["name"][len(FLAG_PREFIX):]
                if flag not in FLAGS:
                    raise CMethodError(f"{path}: METHOD_FLAG({flag}, ...): unknown flag; "
                                       f"allowed {', '.join(FLAGS)}")
                if s["shndx"] != SHN_ABS or s["value"] not in (0, 1):
                    raise CMethodError(f"{path}: METHOD_FLAG({flag}, ...): allowed 0 or 1")
                self.flags[flag] = s["value"]
                continue
            self.globals.add(s["name"])
            if s["type"] == STT_FUNC:
                self.functions.add(s["name"])
        f = self.functions
        serializes = self.flags["serialize_at_clear"] or self.flags["serialize_at_collapse"]
        if serializes and SERIALIZE not in f:
            raise CMethodError(f"{path}: defines no {SERIALIZE}(struct mm_struct *mm), which "
                               "the kernel calls at every THP PMD clear, invalidate and "
                               "collapse (see <powersim/method.h>)")
        if (BEGIN in f) != (END in f):
            raise CMethodError(f"{path}: defines {BEGIN if BEGIN in f else END} but not "
                               f"{END if BEGIN in f else BEGIN}: define both or neither")
        missing = [n for n in V512 if n not in f]
        if self.flags["flush_type_v512"] and missing:
            raise CMethodError(f"{path}: METHOD_FLAG(flush_type_v512, 1) needs "
                               f"{', '.join(missing)} (see <powersim/method.h>)")

    def called(self) -> list:
        """The C functions the Builder kernel calls by name."""
        names = [SERIALIZE] if SERIALIZE in self.functions else []
        names += [n for n in (BEGIN, END, FREE) if n in self.functions]
        return names + (list(V512) if self.flags["flush_type_v512"] else [])


# --- the hooks the Builder kernel calls (a method module's interface) -----------------
class Hooks:
    """The Builder side of a C method: the same interface as a module of
    powersim.kernel.methods.  ``symbols``: the C names to define in the Builder
    source (name -> address; 0 placeholders in the first assembly)."""

    def __init__(self, defs: Definitions, symbols: dict, toc: int):
        self.NAME = defs.path
        self.defs, self.symbols, self.toc = defs, symbols, toc
        for flag in ("zap_flush_per_pmd", "walker_recheck", "flush_type_v512"):
            setattr(self, flag, bool(defs.flags[flag]))

    def boot(self, b):
        """In _start, before anything can call C: r2 = the TOC pointer."""
        b.load_addr("r2", TOC)

    def emit(self, b, lay):
        b.comment(f"kernel.method = {self.NAME}: C functions (cmethod.py)")
        b.emit(f".set {TOC},{self.toc:#x}")
        for name, addr in sorted(self.symbols.items()):
            b.emit(f".set {name},{addr:#x}")

    def serialize(self, b, collapse=False):
        if self.defs.flags["serialize_at_collapse" if collapse else "serialize_at_clear"]:
            b.bl(SERIALIZE)
        else:
            b.comment(f"{self.NAME}: no serialize at this call site")

    def free_pgtable(self, b):
        b.bl(FREE if FREE in self.defs.functions else "pte_free")

    def walker_begin(self, b, mm, flags):
        if BEGIN not in self.defs.functions:
            from powersim.kernel.methods import ipi
            return ipi.walker_begin(b, mm, flags)
        b.mr("r3", mm)
        b.bl(BEGIN)
        b.mr(flags, "r3")

    def walker_end(self, b, mm, flags):
        if END not in self.defs.functions:
            from powersim.kernel.methods import ipi
            return ipi.walker_end(b, mm, flags)
        b.mr("r3", mm)
        b.mr("r4", flags)
        b.bl(END)


# --- linking -------------------------------------------------------------------------
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")


def _script(base: int, imports: dict) -> str:
    provide = "".join(f"PROVIDE({n} = {a:#x});\n" for n, a in sorted(imports.items())
                      if _IDENT.match(n))
    return f"""ENTRY({OWN}start)
SECTIONS
{{
  . = {base:#x};
  {OWN}start = .;
  .text : {{ *(.text .text.*) }}
  . = ALIGN(8);
  .rodata : {{ *(.rodata .rodata.*) }}
  .got : {{ *(.got) *(.toc) }}
  .data : {{ *(.data .data.[!.]*) }}
  .bss : {{ *(.bss .bss.*) *(COMMON) }}
  . = ALIGN({L.LINE});
  {OWN}percpu_start = .;
  .data..percpu : {{ *(.data..percpu) }}
  {OWN}percpu_end = .;
  /DISCARD/ : {{ *(.comment) *(.note*) *(.eh_frame*) *(.gnu.attributes) }}
}}
{provide}"""


def _link(path, obj, lib, base, imports) -> Elf:
    with tempfile.TemporaryDirectory(prefix="powersim-c-") as d:
        d = Path(d)
        (d / "method.o").write_bytes(obj)
        (d / "libpowersim.a").write_bytes(lib)
        (d / "method.ld").write_text(_script(base, imports))
        _run([_need(LD, path), "-static", "-nostdlib", "-no-pie", "-T", "method.ld",
              "-o", "method.elf", "method.o", "libpowersim.a"], path, "linking", cwd=d)
        return Elf((d / "method.elf").read_bytes())


def _check_text(path, elf: Elf):
    """Every word of every function must be an instruction powersim models."""
    from powersim import isa
    t = isa.table()
    bad = []
    for s in elf.symbols:
        if s["type"] != STT_FUNC or s["shndx"] in (SHN_UNDEF, SHN_ABS) or not s["size"]:
            continue
        sec = elf.sections[s["shndx"]]
        if not sec["flags"] & SHF_EXECINSTR:
            continue
        for at in range(s["value"], s["value"] + s["size"] - 3, 4):
            word, = struct.unpack_from("<I", elf.data, sec["offset"] + at - sec["addr"])
            if t.decode(word) is None:
                bad.append((s["name"], at - s["value"], at, word))
    if bad:
        shown = "; ".join(f"{n}+{off:#x}: {_objdump_word(word)}"
                          for n, off, _, word in bad[:5])
        raise CMethodError(f"{path}: {len(bad)} instruction(s) powersim does not model "
                           f"({shown}); rewrite that code or use inline asm with modelled "
                           "instructions (powersim/data/power9.toml lists them)")


def _objdump_word(word: int) -> str:
    """What GNU objdump calls ``word`` (``.long`` if it cannot run)."""
    exe = shutil.which(OBJDUMP)
    if exe:
        with tempfile.TemporaryDirectory(prefix="powersim-c-") as d:
            f = Path(d) / "w.bin"
            f.write_bytes(struct.pack("<I", word))
            proc = subprocess.run([exe, "-D", "-b", "binary", "-m", "powerpc:common64", "-EL",
                                   "-M", "power9", str(f)], capture_output=True, text=True, check=False)
            m = re.search(r"^\s*0:\s+(?:[0-9a-f]{2} ){4}\s*(.*)$", proc.stdout, re.MULTILINE)
            if m:
                return " ".join(m.group(1).split())
    return f".long {word:#010x}"


def _blob(path, elf: Elf, base: int, ncpus: int):
    """(bytes from ``base``, per-CPU template start, size): the allocated
    sections, then a copy of .data..percpu for each CPU after the first."""
    end = base
    secs = [s for s in elf.sections if s["flags"] & SHF_ALLOC and s["size"]]
    for s in secs:
        if s["addr"] < base:
            raise CMethodError(f"{path}: section {s['name']} linked at {s['addr']:#x}, "
                               f"below the C base {base:#x}")
        end = max(end, s["addr"] + s["size"])
    data = bytearray(end - base)
    for s in secs:
        if s["type"] != SHT_NOBITS:
            data[s["addr"] - base:s["addr"] - base + s["size"]] = \
                elf.data[s["offset"]:s["offset"] + s["size"]]
    syms = {s["name"]: s["value"] for s in elf.symbols if s["name"].startswith(OWN)}
    start, stop = syms[OWN + "percpu_start"], syms[OWN + "percpu_end"]
    size = stop - start
    if size > L.PERCPU_STRIDE:
        raise CMethodError(f"{path}: {size} bytes of DEFINE_PER_CPU data; allowed at most "
                           f"{L.PERCPU_STRIDE} (layout.PERCPU_STRIDE)")
    if size:
        template = bytes(data[start - base:stop - base])
        data += bytes(start + ncpus * L.PERCPU_STRIDE - base - len(data))
        for cpu in range(1, ncpus):
            at = start - base + cpu * L.PERCPU_STRIDE
            data[at:at + size] = template
    return bytes(data), start, size


def build_image(assemble, path, lay):
    """The kernel image with the C method at ``path``: ``assemble(hooks)`` builds
    the Builder kernel around a hook object (build_image in image.py)."""
    from powersim.asm import Image
    obj, lib = compile_objects(path, lay)
    defs = Definitions(path, obj)
    first = assemble(Hooks(defs, {n: 0 for n in defs.called()}, 0))
    builder = {n: a for n, a in first.symbols.items() if n not in defs.called() and n != TOC}
    clash = sorted(defs.globals & set(builder))
    if clash:
        raise CMethodError(f"{path}: defines {', '.join(clash)}, already a routine or symbol "
                           "of the kernel (`powersim kernel` lists them): make it static or "
                           "rename it")
    base = first.base + -(-len(first.data) // 4096) * 4096
    elf = _link(path, obj, lib, base, builder)
    _check_text(path, elf)
    data, percpu, percpu_size = _blob(path, elf, base, lay.ncpus)
    if base + len(data) > L.KERNELBASE + L.C_LIMIT:
        raise CMethodError(f"{path}: the C code, its data and per-CPU copies end at "
                           f"{base + len(data):#x}, beyond {L.KERNELBASE + L.C_LIMIT:#x} "
                           "(layout.C_LIMIT)")
    toc = next((s["value"] for s in elf.symbols if s["name"] == ".TOC."), 0)
    own = {s["name"]: s for s in elf.defined_globals()
           if s["shndx"] != SHN_ABS and not s["name"].startswith(OWN)}
    final = assemble(Hooks(defs, {n: (Elf.local_entry(s) if s["type"] == STT_FUNC
                                      else s["value"]) for n, s in own.items()}, toc))
    moved = [n for n, a in builder.items() if final.symbols.get(n) != a]
    if moved or len(final.data) != len(first.data):
        raise CMethodError(f"{path}: the kernel's layout changed between its two assemblies "
                           f"({', '.join(moved[:3]) or 'size'}): a bug in cmethod.py")
    symbols = dict(final.symbols)
    symbols.update({n: s["value"] for n, s in own.items()})     # functions: global entry
    for s in elf.symbols:                                       # static functions, data
        if s["bind"] == STB_LOCAL and s["type"] in (STT_FUNC, STT_OBJECT) and \
                s["shndx"] != SHN_ABS:
            symbols.setdefault(s["name"], s["value"])
    if percpu_size:                                             # CPU 0's copy
        symbols.setdefault("__per_cpu_start", percpu)
    image = final.data + bytes(base - final.base - len(final.data)) + data
    return Image(data=image, base=final.base, symbols=symbols, lines=dict(final.lines))
