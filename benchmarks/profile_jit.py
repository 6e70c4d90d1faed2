"""Where the host time of a run goes, by source line of the numba core.

numba's compiled code has no symbols perf can read, but LLVM registers every
function it loads with gdb's JIT interface, and with NUMBA_DEBUGINFO=1 that
registration carries DWARF line tables [numba-gdb].  So: start the command under a
separate numba cache built with debug info (optimisation unchanged; the
first start compiles it, a minute or two), sample it with `perf record -e
cpu-clock` once it runs, and ask gdb, attached to the same process, for the
source line of each sampled address.

    python benchmarks/profile_jit.py [--seconds 15] [--after 20] -- \
        run workloads/seed-munmap-496g.toml --set workload.memory=8GiB

prints the share of samples per source file of powersim/machine, the
interpreter loop's share per part (scheduler, boundary, fetch, issue,
dispatch, results, backward branches) and the hottest lines.  Lines that
LLVM could not attribute (spills and reloads at the loop's head) show up at
run_threads' own first lines.  Needs Debian's linux-perf and gdb; perf must
be allowed to sample (cpu-clock is a software event, so it works in VMs
without hardware counters).  Never used by a test.
"""

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INTERP = ROOT / "powersim" / "machine" / "interp.py"


def regions():
    """(first line, last line, name) of the parts of run_threads, found by the
    comments that open them in interp.py."""
    marks = [("# ---- the scheduler", "scheduler and slice set-up"),
             ("# ---- boundary", "boundary"), ("# ---- fetch", "fetch and decode"),
             ("# ---- issue", "issue"), ("# ---- dispatch", "dispatch"),
             ("results ready", "results and issue slots"),
             ("# ---- taken backward branch", "backward branch (spin detection)"),
             ("# ---- the slice ended", "slice end")]
    text = INTERP.read_text().splitlines()
    starts = []
    for mark, name in marks:
        n = next((i + 1 for i, s in enumerate(text) if mark in s), None)
        if n is not None:
            starts.append((n, name))
    starts.sort()
    out = [(1, starts[0][0] - 1, "helpers and run_threads' head (spills, reloads)")]
    for (a, name), nxt in zip(starts, starts[1:] + [(len(text) + 1, "")]):
        out.append((a, nxt[0] - 1, name))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=15, help="sampling time (default 15)")
    ap.add_argument("--after", type=float, default=20,
                    help="seconds to wait after the run started compiled code (default 20)")
    ap.add_argument("--top", type=int, default=30, help="hottest lines to print (default 30)")
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "powersim-debuginfo"),
                    help="numba cache folder of the debug-info build")
    ap.add_argument("args", nargs=argparse.REMAINDER, help="-- powersim arguments")
    a = ap.parse_args()
    args = [x for x in a.args if x != "--"]
    if not args:
        ap.error("give the powersim command after --, e.g. -- run workloads/example-small.toml")
    for tool in ("perf", "gdb"):
        if not shutil.which(tool):
            sys.exit(f"profile_jit: {tool} not found (Debian: apt-get install linux-perf gdb)")
    env = dict(os.environ, NUMBA_DEBUGINFO="1", NUMBA_CACHE_DIR=a.cache,
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    p = subprocess.Popen([sys.executable, "-m", "powersim", *args], cwd=ROOT, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # the run is in compiled code once the compile notice (if any) is done
    t0 = time.time()
    time.sleep(a.after)
    if p.poll() is not None:
        sys.exit(f"profile_jit: the run ended after {time.time() - t0:.0f} s, before "
                 "sampling: give a longer run or a smaller --after")
    data = Path(tempfile.mkdtemp()) / "perf.data"
    subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", "1999", "-p", str(p.pid),
                    "-o", str(data), "--", "sleep", str(a.seconds)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rep = subprocess.run(["perf", "report", "-i", str(data), "--sort=sym", "--stdio"],
                         capture_output=True, text=True).stdout
    rows = []
    for line in rep.splitlines():
        m = re.match(r"\s+([0-9.]+)%\s.*\s(0x[0-9a-f]+)\s*$", line)
        if m:
            rows.append((float(m.group(1)), m.group(2)))
        else:
            m = re.match(r"\s+([0-9.]+)%\s.*\[\.\]\s(\S+)", line)
            if m:
                rows.append((float(m.group(1)), m.group(2)))
    addrs = [x for _, x in rows if x.startswith("0x")]
    cmds = []
    for x in addrs:
        cmds += ["-ex", f"info line *{x}"]
    where = {}
    if addrs:
        out = subprocess.run(["gdb", "-p", str(p.pid), "-batch", "-nx"] + cmds,
                             capture_output=True, text=True).stdout.splitlines()
        out = [s for s in out if s.startswith("Line ") or s.startswith("No line")]
        where = dict(zip(addrs, out))
    p.kill()
    byfile, byline = collections.Counter(), collections.Counter()
    for pct, x in rows:
        m = re.match(r'Line (\d+) of "([^"]+)"', where.get(x, ""))
        if m:
            f = Path(m.group(2)).name
            byline[(f, int(m.group(1)))] += pct
            byfile[f] += pct
        else:
            byfile["(no line: " + ("JIT code" if x.startswith("0x") else x) + ")"] += pct
    total = sum(byfile.values()) or 1
    print(f"powersim {' '.join(args)}: {len(rows)} sampled addresses, {a.seconds:.0f} s")
    print("by file:")
    for f, v in byfile.most_common(15):
        print(f"  {100 * v / total:5.1f} %  {f}")
    print("interp.py (run_threads) by part:")
    reg = collections.Counter()
    for (f, n), v in byline.items():
        if f == "interp.py":
            name = next((r for lo, hi, r in regions() if lo <= n <= hi), "?")
            reg[name] += v
    for r, v in reg.most_common():
        print(f"  {100 * v / total:5.1f} %  {r}")
    print("hottest lines:")
    for (f, n), v in byline.most_common(a.top):
        src = ROOT / "powersim" / "machine" / f
        text = src.read_text().splitlines()[n - 1].strip() if src.exists() else ""
        print(f"  {100 * v / total:5.1f} %  {f}:{n}  {text[:70]}")


if __name__ == "__main__":
    main()
