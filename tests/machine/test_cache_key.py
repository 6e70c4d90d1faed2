"""numba's cache is keyed on every source the jitted code reads
(powersim.machine.jit): a constant changed in a module other than the
jitted function's own is seen by the next run, never hidden by a warm cache."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from powersim.machine import jit

ROOT = Path(__file__).resolve().parents[2]

# alu.rotate() (rlwinm .. rldcr) reads the op numbers of powersim/ops.py
PROBE = """
from powersim import ops
from powersim.machine import alu
f = alu.rotate
v = f(ops.OP_RLDICL, 0x1234, 0, 0, 8, 0)
print(v, sum(f.stats.cache_hits.values()),
      sum(f.stats.cache_misses.values()))
"""


def _run(pkg, cache):
    env = dict(os.environ, PYTHONPATH=str(pkg), NUMBA_CACHE_DIR=str(cache))
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         env=env, cwd=pkg, check=True).stdout.split()
    value, hits, misses = (int(x) for x in out)
    return value, hits, misses


def test_a_constant_in_another_file_recompiles(tmp_path):
    pkg = tmp_path / "src"
    shutil.copytree(ROOT / "powersim", pkg / "powersim",
                    ignore=shutil.ignore_patterns("__pycache__"))
    cache = tmp_path / "numba"
    first = _run(pkg, cache)
    assert first[2] == 1                    # compiled
    again = _run(pkg, cache)
    assert again == (first[0], 1, 0)        # loaded from the cache
    # renumber ops (a non-entry module): rlwimi now sorts after every rld* op,
    # so rotate() takes its 32-bit branch for rldicl
    with open(pkg / "powersim" / "ops.py", "a") as f:
        f.write("\nOP_RLWIMI = 1000\n")
    changed = _run(pkg, cache)
    assert changed[2] == 1 and changed[1] == 0      # recompiled, not loaded
    assert changed[0] != first[0]                   # and sees the new constant
    assert len(list(cache.iterdir())) == 2          # one folder per digest


def test_the_key_covers_every_machine_module_and_ops():
    names = {f.name for f in jit.sources()}
    assert {"ops.py", "jit.py", "core.py", "params.py"} <= names
    assert names >= {f.name for f in (ROOT / "powersim" / "machine").glob("*.py")}
    assert jit.cache_dir().endswith(jit.digest()[:20])


def test_the_in_tree_cache_keeps_the_current_and_recent_digests(tmp_path):
    import time
    for i, name in enumerate(["powersim-a", "powersim-b", "powersim-c", "powersim-cur"]):
        (tmp_path / name).mkdir()
        os.utime(tmp_path / name, (time.time() - 100 + i, time.time() - 100 + i))
    os.utime(tmp_path / "powersim-cur", (0, 0))         # the oldest, but current
    jit._prune(tmp_path, keep=2, current="powersim-cur")
    assert sorted(d.name for d in tmp_path.iterdir()) == ["powersim-c", "powersim-cur"]
