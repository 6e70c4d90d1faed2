"""Start-up time of `powersim run`: the wall time of

    powersim run workloads/example-small.toml --set workload.memory=8MiB --quiet

as a fresh process (python -m powersim), in three states:

  warm        numba cache and kernel-image cache warm (the target: < 3 s)
  cold-image  numba cache warm, an empty kernel-image cache (POWERSIM_CACHE)
  compile     an empty numba cache (NUMBA_CACHE_DIR) and image cache: the first
              run of a fresh install (target: < 60 s, "compiling" said once)

and, for the warm state, where the time goes (python -X importtime's top
imports are not repeated here: run it by hand).  Prints the machine's
description with its load average.

    python benchmarks/bench_startup.py                 # warm + cold-image, 5 runs each
    python benchmarks/bench_startup.py --compile       # also the fresh-compile run
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_seed import machine_description  # noqa: E402

CMD = [sys.executable, "-m", "powersim", "run", "workloads/example-small.toml",
       "--set", "workload.memory=8MiB", "--quiet"]
NOTICE = "compiling the numba core"


def timed(env):
    """(wall seconds, stderr) of one run of CMD."""
    t0 = time.perf_counter()
    p = subprocess.run(CMD, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode:
        sys.exit(f"bench_startup: {' '.join(CMD)} failed ({p.returncode}):\n{p.stderr}")
    return wall, p.stderr


def series(name, env, n):
    walls = []
    for _ in range(n):
        w, err = timed(env)
        walls.append(w)
        if NOTICE in err:
            print(f"  ({name}: the run compiled the core; its time is not a start-up time)")
    print(f"{name:11s} best {min(walls):6.2f} s  median {statistics.median(walls):6.2f} s  "
          f"({n} runs: {' '.join(f'{w:.2f}' for w in walls)})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs per state (default 5)")
    ap.add_argument("--compile", action="store_true",
                    help="also time a first run on an empty numba cache (~1 min)")
    a = ap.parse_args()
    print(f"machine: {machine_description()}")
    print(f"command: {' '.join(CMD[2:])}  (python -m powersim ...)")
    env = dict(os.environ)
    timed(env)      # warm both caches (compiles the core if core.py changed)
    series("warm", env, a.repeat)
    with tempfile.TemporaryDirectory() as d:
        walls = []
        for i in range(a.repeat):
            e = dict(env, POWERSIM_CACHE=os.path.join(d, str(i)))
            walls.append(timed(e)[0])
        print(f"{'cold-image':11s} best {min(walls):6.2f} s  median "
              f"{statistics.median(walls):6.2f} s  ({a.repeat} runs, empty POWERSIM_CACHE)")
    if a.compile:
        with tempfile.TemporaryDirectory() as d:
            e = dict(env, NUMBA_CACHE_DIR=os.path.join(d, "numba"),
                     POWERSIM_CACHE=os.path.join(d, "ps"))
            w, err = timed(e)
            n1 = err.count(NOTICE)
            w2, err2 = timed(e)
            n2 = err2.count(NOTICE)
            print(f"compile     first run {w:6.2f} s (notice shown {n1}x), second run "
                  f"{w2:6.2f} s (notice shown {n2}x)  [empty NUMBA_CACHE_DIR]")
    print(f"machine after: {machine_description()}")


if __name__ == "__main__":
    main()
