"""Parameter sweeps: a grid of scenario overrides, run point by point
on a local process pool or a Dask cluster, every finished point written at once
to a results Store.

    grid = parse_grid(["workload.memory=16MiB,64MiB", "kernel.method=ipi,count"])
    points = make_points("workloads/example-small.toml", grid, seeds=2)
    report = run_sweep(points, Store("results.sqlite"), jobs=2)

(The pool spawns its workers, so a script calling run_sweep needs the usual
``if __name__ == "__main__":`` guard.)

Everything is checked before any point runs: each grid key and each value (an
unknown key, an empty list or a value the parameter does not allow is a
ConfigError naming the key), then every point's full scenario (combinations
such as ``workload.vcpus`` above the machine's threads).

Execution has one code path: ``_drive`` submits ``run_point(task)`` with
``executor.submit`` and collects futures through ``add_done_callback``; the
executor is a ``concurrent.futures.ProcessPoolExecutor`` (``--jobs``) or a
``distributed.Client`` (``--scheduler`` / ``--dask-local``), both of which
have exactly that interface.  Only the parent process writes the database.

The pool is powersim.pool's (spawned workers that die with the sweep; why spawn
there).
"""

import itertools
import os
import queue
import sys
import time

from powersim.config import ConfigError, load_scenario
from powersim.errors import PowersimError
from powersim.store import point_key


# --- the grid --------------------------------------------------------------------------
def _split_values(text: str) -> list:
    """"a,b,[1,2]" -> ["a", "b", "[1,2]"]: commas inside [] or quotes do not split."""
    out, cur, depth, quote = [], [], 0, None
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur).strip())
    return out


def _strip_set(msg: str, text: str) -> str:
    """load_scenario's message for an override, without its "--set 'text': " head."""
    head = f"--set {text!r}: "
    return msg[len(head):] if msg.startswith(head) else msg


def parse_grid(specs, scenario=None, base=()) -> list:
    """["section.key=v1,v2", ...] -> [(key, [v1, v2]), ...] (values as written).

    With ``scenario`` (a path), every value is checked against the scenario file
    with the ``base`` overrides applied: ConfigError names the key and the value.
    """
    if scenario is not None:
        load_scenario(scenario, list(base))     # the file and --set alone first
    grid, seen = [], set()
    for spec in specs:
        target, eq, raw = spec.partition("=")
        key = target.strip()
        section, dot, name = key.partition(".")
        if not eq or not dot or not name or not section:
            raise ConfigError(f"--grid {spec!r}: write section.key=value1,value2,... "
                              "e.g. --grid workload.memory=16MiB,64MiB")
        if key in seen:
            raise ConfigError(f"--grid {key}: given twice; give each key once with all "
                              "its values")
        seen.add(key)
        values = _split_values(raw)
        if not raw.strip():
            raise ConfigError(f"--grid {key}=: empty list of values; write "
                              f"{key}=value1,value2,... with at least one value")
        if not all(values):
            raise ConfigError(f"--grid {key}={raw}: empty value (two commas, or one at "
                              f"an end); write {key}=value1,value2,...")
        if scenario is not None:
            for v in values:
                text = f"{key}={v}"
                try:
                    load_scenario(scenario, list(base) + [text])
                except ConfigError as e:
                    raise ConfigError(f"--grid {text}: {_strip_set(str(e), text)}") from None
        uniq = list(dict.fromkeys(values))
        grid.append((key, uniq))
    return grid


def make_points(scenario, grid, seeds=None, base=()) -> list:
    """Every point of the grid (x seeds 1..seeds), in grid order, seeds innermost,
    each resolved and checked: [{"key", "scenario", "overrides", "seed",
    "config"}].  Points that resolve to the same configuration are kept once."""
    if seeds is not None:
        if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
            raise ConfigError(f"--seeds {seeds!r}: allowed an integer >= 1 (runs "
                              "workload.seed = 1..N)")
        if any(k == "workload.seed" for k, _ in grid):
            raise ConfigError("--grid workload.seed: not together with --seeds; use one "
                              "of the two")
    base = list(base)
    load_scenario(scenario, base)   # the file and --set alone, before any grid key
    keys = [k for k, _ in grid]
    seed_list = [None] if seeds is None else list(range(1, seeds + 1))
    points, seen = [], set()
    for combo in itertools.product(*[vals for _, vals in grid]):
        for seed in seed_list:
            ov = base + [f"{k}={v}" for k, v in zip(keys, combo)]
            if seed is not None:
                ov.append(f"workload.seed={seed}")
            try:
                sc = load_scenario(scenario, ov)
            except ConfigError as e:
                shown = " ".join(f"{k}={v}" for k, v in zip(keys, combo))
                raise ConfigError(f"grid point {shown}: {e}") from None
            cfg = sc.to_dict()
            key = point_key(_identity(cfg))
            if key in seen:
                continue
            seen.add(key)
            points.append({"key": key, "scenario": str(scenario), "overrides": ov,
                           "seed": sc.workload.seed, "method": sc.kernel.method,
                           "config": cfg})
    return points


def _identity(cfg: dict) -> dict:
    """What a point's key hashes: its configuration and, for a method written in
    C, the file's contents (an edited method is a new point, not a stored one)."""
    import hashlib

    from powersim.kernel.cmethod import is_c_method
    path = cfg["kernel"]["method"]
    if not is_c_method(path):
        return cfg
    with open(path, "rb") as f:
        return {**cfg, "kernel.method source sha256": hashlib.sha256(f.read()).hexdigest()}


# --- one point (runs in a worker: pool process or Dask worker) ------------------------
def run_point(task: dict) -> dict:
    """Run one point: {"key", "host", "pid", "wall_seconds", "finished"} and
    "results" (Results.to_dict()) or "error" (one line).  The scenario is rebuilt
    from the resolved configuration, so workers need no copy of the file."""
    import datetime
    import socket
    import traceback
    t0 = time.perf_counter()
    out = {"key": task["key"], "host": socket.gethostname(), "pid": os.getpid()}
    try:
        from powersim.config import scenario_from_dict
        from powersim.sim import run_scenario
        sc = scenario_from_dict(task["config"])
        if sc.to_dict() != task["config"]:
            raise ConfigError("this worker's powersim resolves the point's configuration "
                              "differently: install the same powersim on every worker")
        out["results"] = run_scenario(sc, task["scenario"]).to_dict()
    except PowersimError as e:
        out["error"] = str(e)
    except Exception as e:     # keep the sweep going; the worker's stderr has the trace
        traceback.print_exc()
        out["error"] = f"internal error: {type(e).__name__}: {e}"
    out["wall_seconds"] = time.perf_counter() - t0
    out["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="seconds")
    return out


# --- the driver ------------------------------------------------------------------------
class SweepReport:
    def __init__(self, total, before):
        self.total, self.before = total, before
        self.ran = self.stored = self.elsewhere = 0
        self.errors = []     # [(overrides, message)]

    def line(self, db) -> str:
        s = (f"sweep: {self.total} points: {self.before} already stored, {self.ran} run now "
             f"({self.stored} stored")
        if self.elsewhere:
            s += f", {self.elsewhere} stored meanwhile by another sweep"
        return s + f"), {len(self.errors)} failed; database {db}"


def _drive(submit, capacity, tasks, store, report, bar):
    """The one code path for every executor: keep about 2 x capacity() points in
    flight, each submitted as submit(run_point, task); store each result as it
    arrives.  A point another sweep stored meanwhile is not submitted."""
    done_q = queue.Queue()
    todo = iter(tasks)
    inflight = {}

    def fill():
        want = max(2, 2 * capacity())   # asked once a round (a scheduler call for Dask)
        while len(inflight) < want:
            t = next(todo, None)
            if t is None:
                return
            if store.has(t["key"]):
                report.elsewhere += 1
                bar.update(1)
                continue
            f = submit(run_point, {k: t[k] for k in ("key", "scenario", "config")})
            inflight[f] = t
            f.add_done_callback(done_q.put)

    fill()
    while inflight:
        try:
            f = done_q.get(timeout=0.5)
        except queue.Empty:     # workers may have joined (an adaptive or SLURM cluster)
            fill()
            continue
        t = inflight.pop(f)
        try:
            out = f.result()
        except Exception as e:    # the worker died (pool broken, Dask KilledWorker...)
            out = {"error": f"worker lost: {type(e).__name__}: {e}"}
        report.ran += 1
        if "error" in out:
            report.errors.append((t["overrides"], out["error"]))
            bar.write(f"point {' '.join(t['overrides']) or '(scenario as is)'}: "
                      f"{out['error']}")
        else:
            row = {"key": t["key"], "scenario": t["scenario"], "overrides": t["overrides"],
                   "seed": t["seed"], "method": t["method"],
                   "op_seconds": out["results"].get("op_seconds"),
                   "results": out["results"], "host": out["host"], "pid": out["pid"],
                   "wall_seconds": out["wall_seconds"], "finished": out["finished"]}
            if store.add(row):
                report.stored += 1
            else:
                report.elsewhere += 1
        bar.update(1)
        fill()
    bar.close()     # before the pool's shutdown, so the bar's time is the sweep's


class _NoBar:
    def update(self, n):
        pass

    def write(self, s):
        print(s, file=sys.stderr)

    def close(self):
        pass


def check_executor(jobs=None, scheduler=None, dask_local=None):
    if sum(x is not None for x in (jobs, scheduler, dask_local)) > 1:
        raise ConfigError("--jobs, --scheduler and --dask-local: give at most one")
    for name, v in (("--jobs", jobs), ("--dask-local", dask_local)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ConfigError(f"{name} {v!r}: allowed an integer >= 1")


def run_sweep(points, store, jobs=None, scheduler=None, dask_local=None, progress=True):
    """Run the points not yet in ``store``: on a local process pool of ``jobs``
    workers (default os.cpu_count()), on the Dask cluster at ``scheduler``, or on
    a LocalCluster of ``dask_local`` single-threaded worker processes over TCP on
    127.0.0.1.  Returns a SweepReport."""
    check_executor(jobs, scheduler, dask_local)
    stored = store.keys()
    todo = [p for p in points if p["key"] not in stored]
    report = SweepReport(len(points), len(points) - len(todo))
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(points), initial=report.before, unit="point", desc="sweep",
                   file=sys.stderr, dynamic_ncols=True, smoothing=0.05)
    else:
        bar = _NoBar()
    try:
        if todo:
            if scheduler is not None or dask_local is not None:
                _run_dask(todo, store, report, bar, scheduler, dask_local)
            else:
                _run_pool(todo, store, report, bar, jobs or os.cpu_count() or 1)
    finally:
        bar.close()
    return report


def _run_pool(todo, store, report, bar, jobs):
    from concurrent.futures import BrokenExecutor

    from powersim.pool import spawn_pool, stop
    workers = min(jobs, len(todo))
    ex = spawn_pool(workers)
    try:
        _drive(ex.submit, lambda: workers, todo, store, report, bar)
    except BrokenExecutor as e:     # a worker died (killed, out of memory): no new points
        stop(ex)
        raise PowersimError(f"the process pool broke, a worker died ({e}); the "
                            f"{report.stored} points finished in this run are stored: "
                            "run the same command again to resume") from None
    except BaseException:
        stop(ex)    # Ctrl-C or an error: points in flight are lost, stored ones kept
        raise
    ex.shutdown()


def _run_dask(todo, store, report, bar, scheduler, dask_local):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError("--scheduler/--dask-local need Dask: pip install "
                          "'powersim[dist]'") from None
    cluster = None
    try:
        if scheduler is not None:
            try:
                client = Client(scheduler, timeout="30s")
            except (OSError, TimeoutError, ValueError) as e:
                raise ConfigError(f"--scheduler {scheduler}: cannot connect ({e})") from None
        else:
            cluster = LocalCluster(n_workers=dask_local, threads_per_worker=1,
                                   processes=True, protocol="tcp", host="127.0.0.1",
                                   dashboard_address=None)
            client = Client(cluster)
        with client:
            def capacity():
                return sum(client.nthreads().values())
            futures = []

            def submit(fn, task):
                f = client.submit(fn, task, key=f"powersim-point-{task['key']}",
                                  retries=1)
                futures.append(f)
                return f
            try:
                _drive(submit, capacity, todo, store, report, bar)
            except BaseException:
                client.cancel(futures)
                raise
    finally:
        if cluster is not None:
            # a worker that has loaded the numba core can take over the nanny's 4 s to
            # exit; it is then killed, harmlessly, with a WARNING per worker: not shown
            import logging
            nanny = logging.getLogger("distributed.nanny")
            level = nanny.level
            nanny.setLevel(logging.ERROR)
            try:
                cluster.close()
            finally:
                nanny.setLevel(level)


# --- `powersim sweep` ------------------------------------------------------------------
def cmd_sweep(args) -> int:
    from powersim.store import Store
    check_executor(args.jobs, args.scheduler, args.dask_local)
    grid = parse_grid(args.grid, args.scenario, args.overrides)
    points = make_points(args.scenario, grid, args.seeds, args.overrides)
    if args.plot:
        from powersim.plot import require_matplotlib
        require_matplotlib("--plot")
    with Store(args.db) as store:
        try:
            report = run_sweep(points, store, jobs=args.jobs, scheduler=args.scheduler,
                               dask_local=args.dask_local, progress=not args.quiet)
        except KeyboardInterrupt:
            print(f"powersim: interrupted; {store.count()} points stored in {args.db}: run "
                  "the same command again to resume", file=sys.stderr)
            return 130
        print(report.line(args.db), file=sys.stderr)
        if args.plot and (report.before + report.stored + report.elsewhere):
            from powersim.plot import default_axes, plot
            x, y, hue, facet = default_axes([k for k, _ in grid])
            plot(store.rows(keys={p["key"] for p in points}), x=x, y=y, hue=hue,
                 facet=facet, out=args.plot)
            print(f"plot: {y} vs {x}"
                  + (f" by {hue}" if hue else "") + (f", one panel per {facet}" if facet
                                                     else "") + f" -> {args.plot}",
                  file=sys.stderr)
    return 1 if report.errors else 0
