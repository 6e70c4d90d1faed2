"""Host performance of powersim in four figures, each with its spread over
repeats (min / median / max; this VM's timings vary by 20 % and more when other
jobs run, so the load average is printed before and after every figure):

  compile  first run on an empty numba cache (NUMBA_CACHE_DIR and POWERSIM_CACHE
           in a temporary folder): `powersim run workloads/example-small.toml
           --set workload.memory=8MiB --quiet`, with the number of "compiling"
           notices it printed (must be 1)
  warm     the same command as a fresh process on warm caches (the start-up
           time of a small run), and `powersim --help`
  seed     `powersim run workloads/seed-munmap-496g.toml --method M --set
           workload.memory=SIZE --json ...` as a fresh process: process wall, the
           simulation's own host wall (Results.host), simulated instructions and
           MIPS, simulated op time
  compare  `powersim compare workloads/seed-munmap-496g.toml --set
           workload.memory=SIZE --quiet` with --jobs 1 and --jobs 2, run in
           alternation so that both see the same background load

Every figure is a fresh `python -m powersim` process of this checkout (wall
time as the user sees it).  The seed figure also prints the scheduler's
slices and boundary checks per simulated instruction (the run's JSON, "host":
the per-slice cost is the host overhead the interpreter pays per switch).

    python benchmarks/perf.py                                   # everything, ~3 min
    python benchmarks/perf.py --only warm,seed --seed-memory 64GiB --method count
    python benchmarks/perf.py --only compare --compare-memory 4GiB --repeat 5

Never asserted by a test (no wall-clock assertions).
"""

import argparse
import json
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

SMALL = ["run", "workloads/example-small.toml", "--set", "workload.memory=8MiB", "--quiet"]
SEED = "workloads/seed-munmap-496g.toml"
NOTICE = "compiling the numba core"
FIGURES = ("compile", "warm", "seed", "compare")


def env_for(**extra):
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in
                                                       [os.environ.get("PYTHONPATH")] if p])
    return env


def powersim(args, env=None):
    """(wall seconds, stdout, stderr) of `python -m powersim ARGS` here."""
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "powersim", *args], cwd=ROOT,
                       env=env or env_for(), capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode:
        sys.exit(f"perf: powersim {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    return wall, p.stdout, p.stderr


def spread(values, unit="s", fmt="{:.2f}") -> str:
    """min / median / max (and the spread as a percentage of the median)."""
    lo, med, hi = min(values), statistics.median(values), max(values)
    pct = f"  +-{50 * (hi - lo) / med:.0f} %" if len(values) > 1 and med else ""
    f = fmt.format
    return (f"min {f(lo)} / median {f(med)} / max {f(hi)} {unit}  ({len(values)} runs"
            f"{pct})")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def figure_compile(a):
    walls, notices = [], []
    for _ in range(a.compile_repeat):
        with tempfile.TemporaryDirectory() as d:
            env = env_for(NUMBA_CACHE_DIR=os.path.join(d, "numba"),
                          POWERSIM_CACHE=os.path.join(d, "ps"))
            w, _out, err = powersim(SMALL, env)
            walls.append(w)
            notices.append(err.count(NOTICE))
    print(f"compile   {spread(walls)}  'compiling' notices: {notices}")
    print(f"          powersim {' '.join(SMALL)}  [empty NUMBA_CACHE_DIR, POWERSIM_CACHE]")


def figure_warm(a):
    powersim(SMALL)     # warm both caches (compiles when the core's sources changed)
    walls = [powersim(SMALL)[0] for _ in range(a.repeat)]
    helps = [powersim(["--help"])[0] for _ in range(a.repeat)]
    print(f"warm      {spread(walls)}")
    print(f"          powersim {' '.join(SMALL)}")
    print(f"--help    {spread(helps)}")


def figure_seed(a):
    rows = []
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "r.json")
        args = ["run", SEED, "--method", a.method, "--set", f"workload.memory={a.seed_memory}",
                "--quiet", "--json", out]
        for _ in range(a.seed_repeat):
            w, _o, _e = powersim(args)
            doc = json.loads(Path(out).read_text())
            h = doc["host"]
            rows.append((w, h["wall_seconds"], h["mips"], doc["counters"]["instructions"],
                         doc["op_seconds"], h["slices_per_insn"], h["boundaries_per_insn"]))
    insns = {r[3] for r in rows}
    print(f"seed      powersim {' '.join(args[:-2])}")
    print(f"          process wall     {spread([r[0] for r in rows])}")
    print(f"          simulation wall  {spread([r[1] for r in rows])}")
    print(f"          MIPS             {spread([r[2] for r in rows], 'MIPS', '{:.1f}')}")
    print(f"          instructions     {', '.join(f'{i:,}' for i in sorted(insns))}"
          f"{'' if len(insns) == 1 else '  (NOT deterministic!)'};  simulated op time "
          f"{rows[0][4]:.6f} s")
    print(f"          per instruction  {rows[0][5]:.4f} slices, {rows[0][6]:.4f} boundary "
          f"checks ({1 / max(rows[0][5], 1e-12):,.1f} instructions a slice)")


def figure_compare(a):
    args = ["compare", SEED, "--set", f"workload.memory={a.compare_memory}", "--methods",
            a.compare_methods, "--quiet"]
    powersim(args[:2] + ["--set", "workload.memory=4MiB", "--methods", "ipi", "--quiet",
                         "--jobs", "1"])      # warm-up
    walls = {1: [], 2: []}
    tables = {1: set(), 2: set()}
    for _ in range(a.repeat):
        for j in (1, 2):
            w, out, _e = powersim([*args, "--jobs", str(j)])
            walls[j].append(w)
            tables[j].add("\n".join(" ".join(r.split()) for r in out.splitlines()
                                    if not r.startswith(("host wall", "MIPS"))))
    print(f"compare   powersim {' '.join(args)} --jobs J")
    for j in (1, 2):
        print(f"          --jobs {j}  {spread(walls[j])}")
    r = statistics.median(walls[1]) / statistics.median(walls[2])
    same = len(tables[1] | tables[2]) == 1
    print(f"          speed-up (median --jobs 1 / median --jobs 2): {r:.2f}x;  tables "
          f"(without host wall, MIPS) {'identical' if same else 'DIFFER'}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(FIGURES),
                    help=f"comma-separated figures (default all: {','.join(FIGURES)})")
    ap.add_argument("--repeat", type=int, default=5,
                    help="runs of the warm start and of each compare (default 5)")
    ap.add_argument("--compile-repeat", type=int, default=1,
                    help="first compiles (default 1: ~30-60 s each)")
    ap.add_argument("--method", default="ipi", help="the seed's method (default ipi)")
    ap.add_argument("--seed-memory", default="4GiB",
                    help="the seed's workload.memory (default 4GiB; the seed is 496GiB)")
    ap.add_argument("--seed-repeat", type=int, default=3, help="seed runs (default 3)")
    ap.add_argument("--compare-memory", default="2GiB",
                    help="the seed's workload.memory for compare (default 2GiB)")
    ap.add_argument("--compare-methods", default="ipi,count,percpu,robust,trim",
                    help="compare's methods (default the five safe ones)")
    a = ap.parse_args()
    only = [f.strip() for f in a.only.split(",")]
    bad = set(only) - set(FIGURES)
    if bad:
        ap.error(f"--only: unknown {sorted(bad)}; allowed {','.join(FIGURES)}")
    print(f"machine: {machine_description()}")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("note: PYTHONDONTWRITEBYTECODE is set: powersim's modules are compiled from "
              "source in every process (~0.1 s of each start-up)")
    for f in FIGURES:
        if f in only:
            t0 = time.perf_counter()
            before = load()
            globals()[f"figure_{f}"](a)
            print(f"          [load average {before} -> {load()}; "
                  f"{time.perf_counter() - t0:.0f} s]", flush=True)


if __name__ == "__main__":
    main()
