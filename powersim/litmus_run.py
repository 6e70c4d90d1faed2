"""`powersim litmus`: run a litmus test (powersim/litmus.py) many times on the
machine and count its final states.

    from powersim.litmus import load
    from powersim.litmus_run import run_litmus
    out = run_litmus(load("tests/litmus/SB.litmus"), iterations=10000, placement="cores")
    out.histogram        # [(state text, count, is a witness), ...], most frequent first
    out.witnesses, out.status, out.iterations_per_second

One machine run executes a batch of iterations.  Test thread k runs on the
hardware thread ``placement`` gives it and loops: it writes every location's
initial value, meets the other test threads at a barrier (a counter, ldarx/
stdcx.) whose last arrival sets a common start time, waits until that time
plus its own delay (the cycle counter and mtspr SIMSTALL; a table per thread
and iteration drawn from ``seed``), sets its registers as the initial state
says, runs the test's code and stores the registers the condition names.
With ``preload="random"`` (the default) each thread first loads a random
subset of the locations (drawn with the delays), so its cache holds a shared
copy of some and none of the others, as litmus7's random cache preloading
does ([Herd], litmus/preload.ml); with ``"none"`` the caches are as the
initial writes left them (the last writer of a location holds it).
Every iteration uses fresh 128-byte lines for the test's locations (one line
each), so no iteration sees another's stores and the final memory of every
iteration is still there after the run.  Hardware threads that run no test
thread halt at once.
"""

import re
import time

import attrs
import numpy as np

from powersim.errors import AsmError, PowersimError
from powersim.litmus import LitmusError, labels_of
from powersim.machine.layout import (LINE_SHIFT, S_HALT, SPR_SIMCYC, SPR_SIMSTALL, TS_CLK,
                                     TS_STATE)

PLACEMENTS = ("smt", "cores", "chips", "mixed")
PRELOADS = ("random", "none")
MAX_DELAY = (1 << 32) - 1       # a delay table word: delay | preload mask << 32
LINE = 1 << LINE_SHIFT
START_MARGIN = 1000         # cycles from the last barrier arrival to the start time
MAX_BATCH = 10000           # iterations per machine run (cmpdi's 16-bit immediate)
CODE_LIMIT = 0x10000
BARRIER = 0x10000
TABLES = BARRIER + 2 * LINE     # the barrier: the counter's line, the start time's
# harness registers (litmus.RESERVED): the iteration, this iteration's locations,
# the result and delay pointers, the barrier, two temporaries
R_I, R_LOC, R_RES, R_DELAY, R_BAR, R_T1, R_T2 = (f"r{n}" for n in (31, 30, 29, 28, 27, 26, 25))
# mixed: SMT siblings, another core of the chip, another chip (chip, core, thread)
_MIXED = ((0, 0, 0), (0, 0, 1), (0, 1, 0), (1, 0, 0))


def placement_shape(placement: str, nthreads: int):
    """(chips, cores_per_chip, smt, [PIR of test thread k])."""
    if placement not in PLACEMENTS:
        raise PowersimError(f"placement {placement!r}: allowed {', '.join(PLACEMENTS)}")
    if placement == "cores":
        return 1, nthreads, 1, [k << 2 for k in range(nthreads)]
    if placement == "chips":
        return nthreads, 1, 1, [k << 8 for k in range(nthreads)]
    if nthreads > 4:
        raise PowersimError(f"placement {placement}: at most 4 test threads (this test has "
                            f"{nthreads}); use cores or chips")
    if placement == "smt":
        return 1, 1, (nthreads if nthreads in (1, 2) else 4), list(range(nthreads))
    slots = _MIXED[:nthreads]
    return (2 if nthreads == 4 else 1), 2, 2, [c << 8 | k << 2 | t for c, k, t in slots]


@attrs.define
class Layout:
    """Where a batch of ``n`` iterations keeps its tables and locations."""
    n: int
    nthreads: int
    nobs: list          # registers stored per iteration, per thread
    nlocs: int

    @property
    def delays(self) -> int:
        return TABLES

    def results(self, k: int) -> int:
        base = TABLES + 8 * self.nthreads * self.n
        return base + 8 * self.n * sum(self.nobs[:k])

    @property
    def locs(self) -> int:
        end = self.results(self.nthreads)
        return -(-end // LINE) * LINE

    @property
    def stride(self) -> int:
        return LINE * max(self.nlocs, 1)

    @property
    def memory(self) -> int:
        end = self.locs + self.stride * self.n
        return max(1 << 20, -(-end // (1 << 20)) * (1 << 20))


def _li(reg: str, value: int) -> list:
    from powersim.asm_builder import Builder
    return Builder().li64(reg, value).text().splitlines()


class _Program:
    """Assembly lines, each with the litmus line it came from (or None)."""

    def __init__(self):
        self.lines = []

    def add(self, *texts, origin=None):
        self.lines.extend((t, origin) for t in texts)

    def text(self) -> str:
        return "".join(t + "\n" for t, _ in self.lines)


def program(test, lay: Layout, pirs: list) -> _Program:
    """The machine program for one batch (module docstring)."""
    p = _Program()
    p.add("_start:")
    for k, pir in enumerate(pirs):
        p.add(f"\tli {R_T1},{pir}", f"\tcmpd r3,{R_T1}", f"\tbeq _h{k}")
    p.add("\tattn")
    regs, _ = test.observed()
    for k in range(len(pirs)):
        _thread(p, test, lay, k, [r for t, r in regs if t == k])
    return p


def _thread(p, test, lay, k, obs):
    p.add(f"_h{k}:")
    for reg, v in ((R_LOC, lay.locs), (R_RES, lay.results(k)),
                   (R_DELAY, lay.delays + 8 * k * lay.n), (R_BAR, BARRIER)):
        p.add(*_li(reg, v))
    p.add(f"\tli {R_I},0", f"_h{k}_loop:")
    # every thread writes every location's initial value: a line two threads
    # stored to is ordered in fast mode too (machine/sched.py), so the delays
    # decide the interleaving in both modes
    for j, x in enumerate(test.locations):
        p.add(*_li(R_T1, test.init_mem.get(x, 0)), f"\tstd {R_T1},{LINE * j}({R_LOC})")
    _barrier(p, k, lay.nthreads, len(test.locations))
    for r in test.regs_used(k):
        v = test.init_regs.get((k, r), 0)
        if isinstance(v, str):
            p.add(f"\taddi r{r},{R_LOC},{LINE * test.locations.index(v)}")
        else:
            p.add(*_li(f"r{r}", v))
    labels = labels_of(test.threads[k])
    rename = re.compile(r"\b(" + "|".join(map(re.escape, sorted(labels))) + r")\b") \
        if labels else None
    for line, text in test.threads[k]:
        if rename is not None:
            text = rename.sub(lambda m: f"P{k}_{m.group(1)}", text)
        p.add("\t" + text, origin=(line, k))
    for j, r in enumerate(obs):
        p.add(f"\tstd r{r},{8 * j}({R_RES})")
    p.add(f"\taddi {R_RES},{R_RES},{8 * len(obs)}", f"\taddi {R_DELAY},{R_DELAY},8",
          f"\taddi {R_LOC},{R_LOC},{lay.stride}", f"\taddi {R_I},{R_I},1",
          f"\tcmpdi {R_I},{lay.n}", f"\tblt _h{k}_loop",
          "\tsync", "\tattn")       # every store performed before the host reads memory


def _barrier(p, k, nthreads, nlocs):
    """Wait until every thread has finished the previous iteration and written
    this one's locations (sync makes the stores visible first); the last to
    arrive sets a start time START_MARGIN cycles ahead; each thread loads the
    locations its preload mask names (the delay word's high half), and starts
    its code at that time plus its delay (the cycle counter and SIMSTALL).  A
    thread woken later than that starts at once."""
    gen, go = f"{LINE}({R_BAR})", f"{LINE + 8}({R_BAR})"
    p.add("\tsync", f"_h{k}_inc:", f"\tldarx {R_T1},0,{R_BAR}", f"\taddi {R_T1},{R_T1},1",
          f"\tstdcx. {R_T1},0,{R_BAR}", f"\tbne- _h{k}_inc",
          f"\taddi {R_T2},{R_I},1", f"\tmulli {R_T2},{R_T2},{nthreads}",
          f"\tcmpd {R_T1},{R_T2}", f"\tbne _h{k}_spin",
          # the last to arrive: the start time, then the generation
          f"\tmfspr {R_T1},{SPR_SIMCYC}", f"\taddi {R_T1},{R_T1},{START_MARGIN}",
          f"\tstd {R_T1},{go}", "\tlwsync", f"\taddi {R_T2},{R_I},1", f"\tstd {R_T2},{gen}",
          f"_h{k}_spin:", f"\taddi {R_T2},{R_I},1",
          f"_h{k}_wait:", f"\tld {R_T1},{gen}", f"\tcmpd {R_T1},{R_T2}", f"\tblt _h{k}_wait",
          "\tisync", f"\tld {R_T1},0({R_DELAY})", f"\tsrdi {R_T1},{R_T1},32")
    for j in range(nlocs):
        p.add(f"\tandi. {R_T2},{R_T1},{1 << j}", f"\tbeq _h{k}_pl{j}",
              f"\tld {R_T2},{LINE * j}({R_LOC})", f"_h{k}_pl{j}:")
    p.add(f"\tld {R_T1},{go}", f"\tld {R_T2},0({R_DELAY})", f"\tclrldi {R_T2},{R_T2},32",
          f"\tadd {R_T1},{R_T1},{R_T2}", f"\tmfspr {R_T2},{SPR_SIMCYC}",
          f"\tsubf. {R_T1},{R_T2},{R_T1}", f"\tble _h{k}_go",
          f"\tmtspr {SPR_SIMSTALL},{R_T1}", f"_h{k}_go:")


@attrs.define
class Outcome:
    name: str
    path: str
    placement: str
    pirs: list
    memory_model: str
    exact: bool
    seed: int
    iterations: int
    max_delay: int
    preload: str
    condition: str
    histogram: list         # [(state text, count, witness), ...]
    witnesses: int
    verdict: str | None
    cycles: int
    host_seconds: float

    @property
    def status(self) -> str:
        """MISMATCH when a Forbidden witness appeared (a model bug), OK otherwise,
        "no verdict" for a test without one."""
        if self.verdict is None:
            return "no verdict"
        return "MISMATCH" if self.verdict == "Forbidden" and self.witnesses else "OK"

    @property
    def iterations_per_second(self) -> float:
        return self.iterations / self.host_seconds if self.host_seconds > 0 else 0.0

    def to_dict(self) -> dict:
        d = attrs.asdict(self)
        d["histogram"] = [{"state": s, "count": c, "witness": w} for s, c, w in self.histogram]
        d.update(status=self.status, observed=self.witnesses > 0,
                 iterations_per_second=self.iterations_per_second)
        return d


def run_litmus(test, iterations=10000, placement="cores", exact=False, seed=1,
               max_delay=300, batch=MAX_BATCH, memory_model="power",
               preload="random") -> Outcome:
    """Run ``test`` ``iterations`` times (module docstring)."""
    if iterations < 1:
        raise PowersimError(f"iterations = {iterations}: allowed 1 or more")
    if not 1 <= batch <= MAX_BATCH:
        raise PowersimError(f"batch = {batch}: allowed 1..{MAX_BATCH}")
    if not 0 <= max_delay <= MAX_DELAY:
        raise PowersimError(f"max_delay = {max_delay}: allowed 0..{MAX_DELAY} cycles")
    if preload not in PRELOADS:
        raise PowersimError(f"preload {preload!r}: allowed {', '.join(PRELOADS)}")
    nthreads = len(test.threads)
    shape = placement_shape(placement, nthreads)
    regs, locs = test.observed()
    counts, cycles, host = {}, 0, 0.0
    for b, first in enumerate(range(0, iterations, batch)):
        n = min(batch, iterations - first)
        rows, c, s = _batch(test, shape, n, exact, np.random.default_rng([seed, b]),
                            max_delay, memory_model, preload)
        cycles, host = cycles + c, host + s
        states, k = np.unique(rows, axis=0, return_counts=True)
        for st, cnt in zip(map(tuple, states.tolist()), k.tolist()):
            counts[st] = counts.get(st, 0) + cnt
    histogram, witnesses = [], 0
    for st, cnt in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        state = dict(zip(regs + locs, st))
        w = test.witness(state)
        witnesses += cnt if w else 0
        histogram.append((_state_text(regs, locs, st), cnt, w))
    return Outcome(name=test.name, path=test.path, placement=placement, pirs=shape[3],
                   memory_model=memory_model, exact=exact, seed=seed, iterations=iterations, max_delay=max_delay,
                   preload=preload,
                   condition=test.cond_text, histogram=histogram, witnesses=witnesses,
                   verdict=test.verdict, cycles=cycles, host_seconds=host)


def _state_text(regs, locs, values) -> str:
    """herd's spelling: ``0:r3=0; 1:r3=1; x=2;`` (signed values)."""
    names = [f"{t}:r{r}" for t, r in regs] + list(locs)
    return " ".join(f"{nm}={v - (1 << 64) if v >= 1 << 63 else v};"
                    for nm, v in zip(names, values))


def _batch(test, shape, n, exact, rng, max_delay, memory_model="power", preload="random"):
    """One machine run of ``n`` iterations: (rows of final values, cycles, host s)."""
    from powersim.machine.exec import build
    from powersim.machine.params import MachineParams

    chips, cores, smt, pirs = shape
    regs, locs = test.observed()
    nthreads = len(test.threads)
    nobs = [sum(1 for t, _ in regs if t == k) for k in range(nthreads)]
    lay = Layout(n=n, nthreads=nthreads, nobs=nobs, nlocs=len(test.locations))
    prog = program(test, lay, pirs)
    if 4 * len(prog.lines) > CODE_LIMIT:
        raise LitmusError(test.path, 0, "the test's code is too long for the harness "
                          f"(limit about {CODE_LIMIT // 4} instructions in all threads)")
    try:
        m, _ = build(prog.text(), chips, cores, smt, None, (), lay.memory, test.path,
                     MachineParams(memory_model=memory_model))
    except AsmError as e:
        origin = prog.lines[e.line - 1][1] if 0 < e.line <= len(prog.lines) else None
        if origin is None:
            raise
        raise LitmusError(test.path, origin[0], f"P{origin[1]}: {e.reason}") from None
    words = m.mem.view(np.uint64)
    delays = rng.integers(0, max_delay + 1, size=(nthreads, n), dtype=np.uint64)
    if preload == "random":
        masks = rng.integers(0, 1 << len(test.locations), size=(nthreads, n), dtype=np.uint64)
        delays |= masks << np.uint64(32)
    words[lay.delays // 8: lay.delays // 8 + nthreads * n] = delays.ravel()
    loc_words = words[lay.locs // 8: (lay.locs + lay.stride * n) // 8].reshape(n, -1)
    limit = n * (max_delay + 50_000) + 1_000_000
    m.prepare()     # loads (or compiles) the core: not part of the run's time
    t0 = time.perf_counter()
    m.run(limit, exact)
    host = time.perf_counter() - t0
    if not (m.ts[:, TS_STATE] == S_HALT).all():
        raise PowersimError(f"{test.path}: {test.name} did not finish {n} iterations within "
                            f"{limit} cycles (a loop in the test's code?)")
    cols = []
    for k in range(nthreads):
        if nobs[k]:
            a = lay.results(k) // 8
            cols.append(words[a: a + n * nobs[k]].reshape(n, nobs[k]))
    for x in locs:
        cols.append(loc_words[:, LINE // 8 * test.locations.index(x)][:, None])
    rows = np.hstack(cols) if cols else np.zeros((n, 0), np.uint64)
    return rows.copy(), int(m.ts[:, TS_CLK].max()), host


NOTE_NOT_SEEN = {
    "power": "note: allowed on POWER but not observed in these iterations: rare here (try "
             "more\n      iterations, another placement or a smaller --max-delay) or beyond "
             "the model\n      (README, \"The memory model\")",
    "sc": "note: allowed on POWER but not observed: the machine is sequentially consistent "
          "here\n      (--memory-model sc), so relaxed outcomes cannot appear"}


def report(out: Outcome) -> str:
    """herd's histogram (``*>`` marks a witness) and our verdict line."""
    mode = ("exact" if out.exact else "fast") + f" mode, memory model {out.memory_model}, " \
        f"preload {out.preload}"
    pirs = ", ".join(f"{p:#x}" for p in out.pirs)
    lines = [f"Test {out.name} ({out.path}): {len(out.pirs)} threads on {out.placement} "
             f"(PIR {pirs}), {mode}, {out.iterations} iterations, seed {out.seed}",
             f"Histogram ({len(out.histogram)} states)"]
    width = len(str(max((c for _, c, _ in out.histogram), default=0)))
    lines += [f"{c:<{width}} {'*>' if w else ':>'}{s}" for s, c, w in out.histogram]
    seen = "Observed" if out.witnesses else "Never"
    lines.append(f"Condition {out.condition}")
    lines.append(f"Observation {out.name} {seen} {out.witnesses} "
                 f"{out.iterations - out.witnesses}")
    verdict = out.verdict or "none (no '(* powersim: Allowed|Forbidden *)' comment)"
    lines.append(f"Verdict (POWER): {verdict}: {out.status}")
    if out.status == "MISMATCH":
        lines.append("error: an outcome POWER forbids was observed (a memory model bug)")
    elif out.verdict == "Allowed" and not out.witnesses:
        lines.append(NOTE_NOT_SEEN[out.memory_model])
    lines.append(f"Host: {out.host_seconds:.3f} s, {out.iterations_per_second:,.0f} "
                 f"iterations/s, {out.cycles} cycles")
    return "\n".join(lines)


def cmd_litmus(args) -> int:
    """`powersim litmus FILE ...`: exit status 1 when a Forbidden outcome appeared."""
    import json

    from powersim.litmus import load
    tests = [load(f) for f in args.files]       # every file parses before any runs
    outcomes = []
    for i, t in enumerate(tests):
        out = run_litmus(t, iterations=args.iterations, placement=args.placement,
                         exact=args.exact, seed=args.seed, max_delay=args.max_delay,
                         memory_model=args.memory_model, preload=args.preload)
        outcomes.append(out)
        print(("\n" if i else "") + report(out), flush=True)
    if len(outcomes) > 1:
        bad = [o.name for o in outcomes if o.status == "MISMATCH"]
        print(f"\n{len(outcomes)} tests, {len(bad)} MISMATCH" +
              (f": {', '.join(bad)}" if bad else ""))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump([o.to_dict() for o in outcomes], f, indent=1)
            f.write("\n")
    return 1 if any(o.status == "MISMATCH" for o in outcomes) else 0
