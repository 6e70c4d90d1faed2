"""An on-disk cache of assembled kernel images (start-up time).

Assembling the kernel (image.build_image) costs ~0.5-0.75 s of Python per
run; the image depends only on the generator's inputs, so it is kept on disk:

    img = cached_build(build_image, layout, ipi, kparams)

Key: a SHA-256 of the format version, the Layout fields, the ipi name, the
KernelParams fields and the text of every source the generator reads (the
kernel package, the assembler, the ISA table, and the modules whose constants
the kernel imports).  Any edit of those sources therefore misses.  With a
method in C, also its source, the C headers, the flags and the compiler
(cmethod.digest); cmethod.py keeps its compiled objects next to the images
(``c-methods/``, through ``store_bytes``).

Location: ``$POWERSIM_CACHE/kernel-images`` or ``~/.cache/powersim/kernel-images``;
``POWERSIM_CACHE=off`` disables the cache.  A file is written to a temporary
name and renamed (os.replace), so concurrent writers never leave a torn file;
a file that does not parse or whose checksum is wrong is ignored (rebuilt and
overwritten).  At most MAX_FILES images are kept (the oldest are removed).
"""

import base64
import hashlib
import json
import os
import tempfile
import zlib
from pathlib import Path

import attrs

FORMAT = b"powersim-kernel-image 1\n"
MAX_FILES = 256
_PKG = Path(__file__).resolve().parents[1]          # powersim/
_SOURCES = ("asm.py", "asm_builder.py", "asm_expr.py", "isa.py", "ops.py", "radix.py",
            "errors.py", "machine/layout.py", "machine/params.py", "data/power9.toml")
_src_digest = None


def cache_dir():
    """The image directory, or None when POWERSIM_CACHE=off."""
    root = os.environ.get("POWERSIM_CACHE")
    if root is not None and root.strip().lower() in ("off", "0", "none", "false"):
        return None
    base = Path(root) if root else Path.home() / ".cache" / "powersim"
    return base / "kernel-images"


def _sources_digest() -> bytes:
    global _src_digest
    if _src_digest is None:
        h = hashlib.sha256()
        files = sorted((_PKG / "kernel").rglob("*.py")) + [_PKG / s for s in _SOURCES]
        for f in files:
            h.update(str(f.relative_to(_PKG.parent) if f.is_relative_to(_PKG.parent)
                         else f.name).encode())
            try:
                h.update(f.read_bytes())
            except OSError:
                h.update(b"<missing>")
        _src_digest = h.digest()
    return _src_digest


def _fields(obj) -> str:
    if attrs.has(type(obj)):
        return repr(sorted(attrs.asdict(obj, recurse=False).items()))
    return repr(obj)


def key(layout, ipi: str, kparams) -> str:
    from powersim.kernel import cmethod
    h = hashlib.sha256(FORMAT)
    h.update(_sources_digest())
    for part in (_fields(layout), repr(ipi), _fields(kparams)):
        h.update(b"\0" + part.encode())
    if cmethod.is_c_method(kparams.method):     # its source, headers, flags, compiler
        h.update(b"\0" + cmethod.digest(kparams.method))
    return h.hexdigest()


def _encode(img) -> bytes:
    doc = {"data": base64.b64encode(img.data).decode(), "base": img.base,
           "symbols": img.symbols,
           "lines": [[a, f, n, t] for a, (f, n, t) in img.lines.items()]}
    payload = zlib.compress(json.dumps(doc, separators=(",", ":")).encode(), 1)
    return FORMAT + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def _decode(blob: bytes):
    """The Image in ``blob``, or None when it is not a valid cache file."""
    from powersim.asm import Image
    try:
        if not blob.startswith(FORMAT):
            return None
        digest, payload = blob[len(FORMAT):].split(b"\n", 1)
        if hashlib.sha256(payload).hexdigest().encode() != digest:
            return None
        doc = json.loads(zlib.decompress(payload))
        return Image(data=base64.b64decode(doc["data"]), base=int(doc["base"]),
                     symbols={str(k): int(v) for k, v in doc["symbols"].items()},
                     lines={int(a): (f, int(n), t) for a, f, n, t in doc["lines"]})
    except (ValueError, TypeError, KeyError, zlib.error):
        return None


def _store(path: Path, img):
    store_bytes(path, _encode(img))


def store_bytes(path: Path, blob: bytes):
    """Write ``blob`` to ``path`` atomically (temporary name, then rename), then
    keep at most MAX_FILES files of its kind there; errors only cost a rebuild."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        _prune(path.parent, path.suffix)
    except OSError:
        pass        # a read-only or full cache only costs the rebuild


def _prune(d: Path, suffix=".img"):
    files = list(d.glob(f"*{suffix}"))
    if len(files) <= MAX_FILES:
        return
    def mtime(f):
        try:
            return f.stat().st_mtime
        except OSError:
            return 0.0
    for f in sorted(files, key=mtime)[:len(files) - MAX_FILES]:
        try:
            f.unlink()
        except OSError:
            pass


def cached_build(build, layout, ipi: str, kparams):
    """``build(layout, ipi, kparams)``, from the cache when an identical build is
    stored there (then byte-identical to a fresh one)."""
    d = cache_dir()
    if d is None:
        return build(layout, ipi, kparams)
    path = d / f"{key(layout, ipi, kparams)}.img"
    try:
        img = _decode(path.read_bytes())
    except OSError:
        img = None
    if img is not None:
        return img
    img = build(layout, ipi, kparams)
    _store(path, img)
    return img
