"""The garbage collector around a run's start-up and the program's exit.

Python's cyclic collector scans every tracked object in a full collection, and
a run's start-up creates a lot of them (numba's types, templates and registries
when it loads the core: some 10^5-10^6) without any cyclic garbage worth
collecting; measured on a small run (`powersim run workloads/example-small.toml
--set workload.memory=8MiB`): ~0.15-0.2 s of collections during start-up and
~0.25 s at interpreter exit, out of ~1.3 s.  So:

* ``defer_gc()`` (the `powersim run` / `compare` program, and each pool worker)
  switches the collector off until ``startup_over()``, which powersim.sim calls
  once the numba core is loaded: it freezes what exists by then (the modules
  and numba's objects live until exit anyway; gc.freeze moves them out of the
  collector's sight) and switches the collector back on for the run itself.
  A no-op when nothing was deferred, so a library user's collector is left as
  it is.
* ``freeze_for_exit()`` (the program, after its command) freezes everything
  so that the interpreter's last collection has nothing to scan; stdout and
  stderr are flushed as usual.
"""

import gc

_deferred = False


def defer_gc():
    global _deferred
    if gc.isenabled():
        gc.disable()
        _deferred = True


def startup_over():
    global _deferred
    if _deferred:
        _deferred = False
        gc.freeze()
        gc.enable()


def freeze_for_exit():
    startup_over()
    gc.freeze()
