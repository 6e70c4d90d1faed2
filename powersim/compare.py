"""`powersim compare`: one scenario under several methods, run by ``jobs``
processes at once -- this one and ``jobs - 1`` spawned workers (powersim.pool),
each taking the next method in order as it becomes free -- or, with
``jobs=1``, one after the other here.

    results = run_methods("workloads/example-small.toml", ["ipi", "count"],
                          overrides=["workload.memory=8MiB"], jobs=2)

A method's run is deterministic (its scenario and seed), so the Results are
the same whichever process ran it and in whatever order the runs finished,
apart from ``host`` (wall time, MIPS); they come back in the order of
``methods``.  Every method's scenario is checked before any runs.

Progress: with one job, each method's own bar as ``powersim run`` shows it,
after a ``[k/N] method`` line; with several, no bar (the processes' bars would
overwrite each other) but a line per method as it finishes.  A process that
has to compile the numba core says so on stderr, on a line of its own, and only
one compiles (powersim.pool.compile_lock) while the others wait for it.

Speed: each extra process first loads numba's cached core (about a second of
CPU), so ``--jobs 2`` gains only when the methods' runs are longer than that
and a second CPU is free; results are the same either way.

Memory: each process builds its own kernel and page tables, so ``jobs``
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


class _Board:
    """The methods to hand out (in order) and the outcomes, shared by this
    process's thread and the thread feeding the pool."""

    def __init__(self, methods, progress):
        import threading
        self.methods, self.progress = methods, progress
        self.lock = threading.Lock()
        self.finished = threading.Event()
        self.next = self.done = 0
        self.results = [None] * len(methods)
        self.error = None
        self.t0 = time.perf_counter()

    def take(self):
        """The index of the next method to run, or None (all handed out, or an error)."""
        with self.lock:
            if self.next >= len(self.methods) or self.error is not None:
                return None
            self.next += 1
            return self.next - 1

    def record(self, i, out, where):
        with self.lock:
            if "error" in out:
                self.error = self.error or out["error"]
                self.finished.set()
                return
            self.results[i] = out["results"]
            self.done += 1
            if self.progress:
                print(f"[{self.done}/{len(self.methods)}] {self.methods[i]} done: "
                      f"{out['wall']:.2f} s {where}, "
                      f"{time.perf_counter() - self.t0:.1f} s since the start",
                      file=sys.stderr, flush=True)
            if self.done == len(self.methods):
                self.finished.set()


def _parallel(path, methods, per_method, jobs, progress) -> list:
    """``jobs - 1`` spawned workers and this process take the methods in order,
    each the next one as it becomes free: one process start-up (a second or so of
    CPU: imports, numba's cached core) fewer than ``jobs`` workers."""
    import queue
    import threading

    from powersim.pool import spawn_pool, stop
    n = len(methods)
    board = _Board(methods, progress)
    if progress:
        print(f"compare: {n} methods in {jobs} processes (this one and {jobs - 1} "
              f"worker{'s' if jobs > 2 else ''})", file=sys.stderr, flush=True)
    ex = spawn_pool(jobs - 1)
    done_q = queue.Queue()

    def submit():
        i = board.take()
        if i is None:
            return False
        f = ex.submit(run_one, path, per_method[i])
        f.add_done_callback(lambda f, i=i: done_q.put((i, f)))
        return True

    def feed():     # a worker's outcome in, its next method out
        inflight = sum(submit() for _ in range(jobs - 1))
        while inflight:
            i, f = done_q.get()
            inflight -= 1
            if f is None:       # stop
                return
            try:
                out = f.result()
            except Exception as e:      # the worker died (killed, out of memory)
                out = {"error": f"method {methods[i]}: its worker process died "
                                f"({type(e).__name__}: {e})"}
            board.record(i, out, "in a worker")
            inflight += submit()

    feeder = threading.Thread(target=feed, name="compare-feeder", daemon=True)
    try:
        feeder.start()
        while (i := board.take()) is not None:      # this process's share
            board.record(i, run_one(path, per_method[i]), "here")
        while not board.finished.wait(0.5):
            pass
    except BaseException:
        done_q.put((None, None))
        stop(ex)    # Ctrl-C or an error: the other runs are of no use
        raise
    done_q.put((None, None))
    # every result is in and the workers are idle: kill them rather than wait ~0.4 s for
    # their exit (numba's teardown); nothing of theirs is unwritten (the numba and
    # kernel-image caches are written, atomically, before a run returns)
    stop(ex)
    if board.error is not None:
        raise PowersimError(board.error)
    return board.results
