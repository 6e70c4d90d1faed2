"""Local worker processes, shared by `powersim compare` and `powersim sweep`.

    ex = spawn_pool(workers)
    try:
        ...ex.submit(fn, arg)...
    except BaseException:
        stop(ex)        # kill the workers now: points or methods in flight are lost
        raise
    ex.shutdown()

The pool uses the 'spawn' start method.  Not 'fork': the parent runs tqdm's
monitor thread (and Dask's threads in a sweep with ``--dask-local``), and
forking a process that has threads is unsafe (deprecated from Python 3.12);
fork would save nothing anyway, since the parent never imports numba: each
worker loads the numba core from numba's cache on its first run either way (a
second or so; about half a minute when the cache is cold, and then only one
worker compiles: ``compile_lock``).  Not 'forkserver': its workers are
children of the fork server, which lives as long as a worker holds its
alive-pipe, so a parent killed with SIGKILL left the server and an idle
worker running for ever (seen in test_sweep's kill test).  Spawned workers
are the parent's own children and ask the kernel to SIGKILL them when it dies
(prctl PR_SET_PDEATHSIG), so a killed parent leaves nothing running.
"""

import contextlib
import os
import sys


def worker_init(parent: int):
    """Pool worker: die with the parent (Linux PR_SET_PDEATHSIG), leave Ctrl-C to it."""
    import signal

    from powersim.startup import defer_gc
    defer_gc()      # no collections until its first run has loaded the numba core
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
        if os.getppid() != parent:      # the parent died before prctl took effect
            os._exit(1)


def spawn_pool(workers: int):
    """A ProcessPoolExecutor of ``workers`` spawned processes (worker_init each)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    return ProcessPoolExecutor(max_workers=workers, initializer=worker_init,
                               initargs=(os.getpid(),),
                               mp_context=multiprocessing.get_context("spawn"))


def stop(ex):
    """Kill the pool's workers now (the executor only waits for them)."""
    for p in list((getattr(ex, "_processes", None) or {}).values()):
        p.kill()
    ex.shutdown(wait=False, cancel_futures=True)


@contextlib.contextmanager
def compile_lock():
    """Held around ``Machine.prepare()`` (powersim.sim) while the numba core is
    not yet in numba's cache: the first process to get here compiles it (and says
    so on stderr, once) while the others wait, then load what it wrote, instead
    of every process compiling the same core at once (N times the CPU, N notices).
    An exclusive ``flock`` on ``.compile.lock`` in the core's cache folder
    (powersim.machine.jit.cache_dir); a no-op once the core is compiled in this
    process or cached on disk, so warm runs never wait for each other.  Where the
    lock cannot be taken (no flock, a read-only folder) it is simply not held."""
    from powersim.machine import core
    if core.run.signatures:     # compiled or loaded in this process already
        yield
        return
    from powersim.machine.jit import cache_dir
    try:
        from powersim.machine.state import _core_cached
        cached = _core_cached()
    except (ImportError, AttributeError):    # the check moved: lock anyway (costs a wait)
        cached = False
    if cached:
        yield
        return
    try:
        import fcntl
        os.makedirs(cache_dir(), exist_ok=True)
        fd = os.open(os.path.join(cache_dir(), ".compile.lock"), os.O_RDWR | os.O_CREAT,
                     0o644)
    except (ImportError, OSError):
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)      # released when fd is closed, or the process dies
        yield
    finally:
        os.close(fd)
