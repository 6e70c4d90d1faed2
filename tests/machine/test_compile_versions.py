"""First compile: a core helper called from jitted code with constant
arguments compiles one version, not one per constant (machine.jit)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
from numba import njit
from numba.core import types

from powersim.machine import bits, core, layout

ROOMS = ("bits", "alu", "memory", "mmu", "irq", "system", "lsu", "sched", "interp", "core")


@njit
def _callers(x, n, flag):
    # literal ints, a literal bool, a global constant and plain variables
    return (bits.srl(x, 3), bits.srl(x, 60), bits.srl(x, n), bits.srl(x, layout.SPIN_SNAP),
            bits.cmpbits(x, 0, True), bits.cmpbits(x, n, flag))


def _literal(sig):
    return any(isinstance(t, types.Literal) for t in sig)


def test_constant_arguments_share_one_version():
    before = {f: set(f.signatures) for f in (bits.srl, bits.cmpbits)}
    got = _callers(np.int64(-1), np.int64(5), False)
    assert got == (2**61 - 1, 15, 2**59 - 1, 2**56 - 1, 8, 4)
    for f, old in before.items():
        new = set(f.signatures) - old
        assert not any(_literal(s) for s in f.signatures), f.signatures
        assert len(new) <= 1, (f.py_func.__name__, new)


def test_core_functions_stay_lazy_and_cached():
    # every jitted function keeps cache=True, and importing compiles nothing
    import importlib
    mods = [importlib.import_module("powersim.machine." + r) for r in ROOMS]
    disp = [f for m in mods for f in vars(m).values()
            if hasattr(f, "py_func") and f.py_func.__module__ == m.__name__]
    assert len(disp) > 50
    # Dispatcher._cache is private numba API (pinned below 0.69 in pyproject.toml)
    assert all(type(f._cache).__name__ == "FunctionCache" for f in disp)
    assert core.run._cache._cache_path.startswith(jit_cache_dir())
    code = ("import importlib\n"
            f"mods = [importlib.import_module('powersim.machine.' + r) for r in {ROOMS!r}]\n"
            "print(sum(len(f.signatures) for m in mods for f in vars(m).values() "
            "if hasattr(f, 'py_func')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2], check=True)
    assert out.stdout.strip() == "0"


def jit_cache_dir():
    from powersim.machine import jit
    return jit.cache_dir()
