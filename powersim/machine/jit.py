"""How the machine core is compiled and cached: ``jit``, the one decorator of
every jitted function in ``powersim/machine/``.

The cache key
-------------
numba's on-disk cache stamps each function with its *own* source file only,
and freezes the globals it reads (``OP_*``, ``TS_*``, ``PR_*`` ...) as
constants: an edit of a constant in another module (``ops.py``,
``layout.py``) would be silently ignored by a warm cache (numba docs,
"Notes on Caching": cache invalidation does not see changes in functions or
globals defined in a different file).  So every jitted function is cached in
a folder named by a digest of *every* source the jitted code can read --
all of ``powersim/machine/*.py`` and ``powersim/ops.py`` -- and the numba
version (``cache_dir()``).  Any edit of those files, or another numba, gives
an empty folder and a fresh compile; an unchanged tree finds its folder
again.  The folder is numba's own ``NUMBA_CACHE_DIR`` mechanism
(``numba.config.CACHE_DIR``), set only while a function is decorated, under
``$NUMBA_CACHE_DIR`` when the user set it, else ``__pycache__/numba`` beside
this file (or ``~/.cache/powersim/numba`` when that is read-only), where only
the four most recently used digests are kept.

Constant arguments
------------------
Numba types a constant argument of a jitted call (``srl(x, 32)``, a global
such as ``TRACE_BASE``, ``True``) as a Literal and compiles a separate
version of the callee for each value: 129 versions of the 72 functions of
the core, about 20 s of a 75 s first compile.  ``jit`` drops the literal
before numba looks up or compiles a version; the call then converts the
constant to the plain type (int64, bool), exactly as when a variable is
passed, so no result changes.  Nothing is compiled here: the dispatchers
stay lazy (explicit signatures would compile at import).
"""

import hashlib
import os
from pathlib import Path

import numba
from numba import njit
from numba.core import config as nbconfig
from numba.core import types as nbtypes

_MACHINE = Path(__file__).resolve().parent
_PKG = _MACHINE.parent


def sources() -> list:
    """Every file whose text the jitted code depends on (the cache key)."""
    return sorted(_MACHINE.glob("*.py")) + [_PKG / "ops.py"]


def digest() -> str:
    """SHA-256 over the numba version and the name and text of each source."""
    h = hashlib.sha256(f"numba {numba.__version__}\n".encode())
    for f in sources():
        h.update(f"\0{f.name}\0".encode())
        h.update(f.read_bytes())
    return h.hexdigest()


_cache_dir = None


def cache_dir() -> str:
    """The folder numba caches the core in: ``<base>/powersim-<digest>``."""
    global _cache_dir
    if _cache_dir is None:
        base = os.environ.get("NUMBA_CACHE_DIR")
        if not base:
            base = _MACHINE / "__pycache__" / "numba"
            try:
                base.mkdir(parents=True, exist_ok=True)
                writable = os.access(base, os.W_OK)
            except OSError:
                writable = False
            if not writable:
                xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
                base = Path(xdg) / "powersim" / "numba"
            else:
                _prune(base, keep=KEEP, current=f"powersim-{digest()[:20]}")
        _cache_dir = str(Path(base) / f"powersim-{digest()[:20]}")
    return _cache_dir


KEEP = 4        # digest folders kept in the in-tree default location


def _prune(base: Path, keep: int, current: str):
    """Remove all but the ``keep`` most recently used digest folders of an
    in-tree cache (each edit of the sources leaves one behind, ~5 MB).  A
    user-set NUMBA_CACHE_DIR is never pruned."""
    import shutil
    old = sorted((d for d in base.glob("powersim-*") if d.name != current),
                 key=lambda d: d.stat().st_mtime, reverse=True)
    for d in old[keep - 1:]:
        shutil.rmtree(d, ignore_errors=True)


def jit(**options):
    """``njit(cache=True, **options)``, cached under ``cache_dir()``, compiled
    once per non-literal argument-type tuple (module docstring)."""
    def deco(f):
        old = nbconfig.CACHE_DIR
        nbconfig.CACHE_DIR = cache_dir()    # the locator is chosen at decoration
        try:
            d = njit(cache=True, **options)(f)
        finally:
            nbconfig.CACHE_DIR = old
        plain = d.get_call_template     # numba's hook for calls from jitted code

        def get_call_template(args, kws):
            return plain(tuple(nbtypes.unliteral(a) for a in args),
                         {k: nbtypes.unliteral(v) for k, v in kws.items()})
        d.get_call_template = get_call_template
        return d
    return deco
