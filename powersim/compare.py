"""`powersim compare`: one scenario under several methods, each run in its own
worker process (powersim.pool) or, with ``jobs=1``, one after the other here.

    results = run_methods("workloads/example-small.toml", ["ipi", "count"],
                          overrides=["workload.memory=8MiB"], jobs=2)

A method's run is deterministic (its scenario and seed), so the Results are
the same whichever process ran it and in whatever order the runs finished,
apart from ``host`` (wall time, MIPS); they come back in the order of
``methods``.  Every method's scenario is checked before any runs.

Progress: with one job, each method's own bar as ``powersim run`` shows it,
after a ``[k/N] method`` line; with several, the workers show no bar (their
bars would overwrite each other) and this process prints a line per method as
it finishes.  A worker that has to compile the numba core says so on stderr,
on a line of its own (and only one worker compiles: powersim.pool.compile_lock).

Memory: each worker builds its own kernel and page tables, so ``jobs``
methods' page tables are in memory at once (sequentially, one at a time).
"""

import os
import sys
import time

from powersim.errors import PowersimError


def run_one(path, overrides) -> dict:
    """One method's run (in a worker): {"results": Results} or {"error": message},
    with the worker's wall time for the whole of it (build included)."""
    t0 = time.perf_counter()
    try:
        from powersim.config import load_scenario
        from powersim.sim import Simulation
        res = Simulation(load_scenario(path, overrides), path).run(progress=False)
        out = {"results": res}
    except PowersimError as e:
        out = {"error": str(e)}
    out["wall"] = time.perf_counter() - t0
    return out


def default_jobs() -> int:
    return os.cpu_count() or 1


def run_methods(path, methods, overrides=(), seed=None, jobs=None, progress=True) -> list:
    """The Results of ``path`` under each of ``methods`` (kernel.method), with the
    ``overrides`` ("section.key=value") and ``seed`` (workload.seed), in the order
    of ``methods``, on ``jobs`` worker processes (default os.cpu_count(); 1: here,
    one after the other)."""
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        from powersim.config import ConfigError
        raise ConfigError(f"--jobs {jobs!r}: allowed an integer >= 1")
    tail = [] if seed is None else [f"workload.seed={seed}"]
    per_method = [[*overrides, f"kernel.method={m}", *tail] for m in methods]
    scs = [_load(path, ov) for ov in per_method]    # all checked before any run
    jobs = min(jobs or default_jobs(), len(methods))
    if jobs <= 1:
        return _sequential(path, methods, scs, progress)
    return _parallel(path, methods, per_method, jobs, progress)


def _load(path, overrides):
    from powersim.config import load_scenario
    return load_scenario(path, overrides)


def _sequential(path, methods, scs, progress) -> list:
    from powersim.sim import Simulation
    results = []
    for m, sc in zip(methods, scs):
        if progress:
            print(f"[{len(results) + 1}/{len(scs)}] {m}", file=sys.stderr, flush=True)
        results.append(Simulation(sc, path).run(progress=progress))
    return results


def _parallel(path, methods, per_method, jobs, progress) -> list:
    import queue

    from powersim.pool import spawn_pool, stop
    n = len(methods)
    t0 = time.perf_counter()
    if progress:
        print(f"compare: {n} methods on {jobs} worker processes", file=sys.stderr, flush=True)
    done_q = queue.Queue()
    ex = spawn_pool(jobs)
    results = [None] * n
    try:
        futures = {}
        for i, ov in enumerate(per_method):     # in order: the first methods start first
            f = ex.submit(run_one, path, ov)
            futures[f] = i
            f.add_done_callback(done_q.put)
        for k in range(1, n + 1):
            f = done_q.get()
            i = futures[f]
            try:
                out = f.result()
            except Exception as e:      # the worker died (killed, out of memory)
                raise PowersimError(f"method {methods[i]}: its worker process died "
                                    f"({type(e).__name__}: {e})") from None
            if "error" in out:
                raise PowersimError(out["error"])
            results[i] = out["results"]
            if progress:
                print(f"[{k}/{n}] {methods[i]} done: {out['wall']:.2f} s in its worker, "
                      f"{time.perf_counter() - t0:.1f} s since the start",
                      file=sys.stderr, flush=True)
    except BaseException:
        stop(ex)    # Ctrl-C or an error: the other runs are of no use
        raise
    # every result is in and the workers are idle: kill them rather than wait ~0.4 s for
    # their exit (numba's teardown); nothing of theirs is unwritten (the numba and
    # kernel-image caches are written, atomically, before a run returns)
    stop(ex)
    return results
