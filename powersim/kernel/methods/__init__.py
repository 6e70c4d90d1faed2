"""Serialization methods (docs/KERNEL.md "Methods"), one
module each, all exposing the same Builder hooks so that the mm routines and
the walkers are the same code for every method and only the hook bodies differ:

``NAME``
    the ``kernel.method`` value.
``zap_flush_per_pmd``
    True when ``pmdp_huge_get_and_clear_full`` must flush the 2M TLB entry at
    once for a non-fullmm zap (v5.8+, [LM-pmd]).
``walker_recheck``
    True when GUP-fast re-reads the PMD and PTE after taking its page
    reference and backs off if either changed (``robust``, [LM-walk]).
``emit(b, lay)``
    the method's own routines (called once per image).
``serialize(b, collapse=False)``
    code at each call site of [LM-pmd] (PMD clear, invalidate, and with
    ``collapse=True`` the collapse flush) for that method; r3 = the mm;
    clobbers the volatile registers.
``free_pgtable(b)``
    free the page-table page in r3 (immediate, or deferred past a grace
    period); clobbers the volatile registers.
``walker_begin(b, mm, flags)`` / ``walker_end(b, mm, flags)``
    the bracket of a lockless page-table walk [LM-bras], [LM-walk]: ``mm`` and
    ``flags`` are callee-saved registers holding the mm and receiving (begin)
    / giving back (end) the saved irq state; clobber r0, r3-r12, LR, CTR, cr0.

Test-only variants (``kernel.drop_barrier``, docs/KERNEL.md "Barriers"): the
kernel of a method with exactly one barrier left out, so that the race tests
can show what each barrier closes under a weak memory model.  They are not
methods of their own (``kernel.method`` offers none of them):
``without_barrier(module, drop)`` wraps a method module with the hooks that
leave the barrier out (``split_wmb`` is thp.py's, for every method).

A method may also be a C file (``kernel.method = "path/to/method.c"``): its
hooks are C functions (``powersim/kernel/include/powersim/method.h``), which
``powersim.kernel.cmethod`` compiles, links and wraps in this interface.
"""

from powersim.errors import PowersimError
from powersim.kernel.methods import count, ipi, none, percpu, robust, trim

METHODS = {m.NAME: m for m in (ipi, count, percpu, robust, trim, none)}


def without_barrier(method, drop):
    """``method`` (a module) with the barrier ``drop`` (a BARRIERS key) left out of
    its hooks; the module itself for "none" and "split_wmb" (thp.py's barrier)."""
    import functools
    import types
    from powersim.kernel.params import check_barrier
    if drop in ("none", "split_wmb"):
        return method
    why = check_barrier(drop, method.NAME)
    if why:
        raise PowersimError(why)
    hooks = types.SimpleNamespace(**{n: v for n, v in vars(method).items()
                                     if not n.startswith("__")})
    if drop == "walker_mb":
        hooks.walker_begin = functools.partial(method.walker_begin, mb=False)
    else:                       # serialize_mb
        hooks.emit = functools.partial(method.emit, mb=False)
    return hooks


def get(name):
    """The method module called ``name``; for the path of a C method (``.c``),
    the path itself once it is checked: its hooks exist only once it is
    compiled for a layout (powersim.kernel.cmethod, image.build_image)."""
    from powersim.kernel import cmethod
    if cmethod.is_c_method(name):
        why = cmethod.check_path(name)
        if why:
            raise PowersimError(f"kernel.method = {name!r}: {why}")
        return name
    if name not in METHODS:
        raise PowersimError(f"kernel.method = {name!r}: allowed {', '.join(METHODS)}, or the "
                            "path of a C method file (.c)")
    return METHODS[name]
