"""munmap's own cost per THP, without serialization: the seed scenario at a
small memory size with ``kernel.method=none`` (no IPI, no counter), cut at
trace records that are already there (they cost nothing):

    PYTHONPATH=. python benchmarks/munmap_breakdown.py [--memory 64MiB] [--set k=v ...]

* rmap: from a THP's PMD clear (``PMD_SET_BE``) to its deposited table's free
  (``PT_FREE``): ``tlb_remove_pmd_tlb_entry``, ``page_remove_rmap`` (compound
  mapcount atomic, ``NR_ANON_THPS``, ``TestClearPageDoubleMap``,
  ``NR_ANON_MAPPED``, ``deferred_split_huge_page``), the table's withdrawal;
* counters, gather and the loop: from there to the next THP's clear:
  ``pte_free``, ``add_mm_counter``, the unlock, ``tlb_remove_page_size``, the
  next PMD's lock and re-check (the last THP: to the end of its zap loop);
* TLB flush: from the last THP's table free to the page-batch flush
  (``free_pgtables`` finding no table, then ``radix__tlb_flush``);
* free path: ``tlb_batch_pages_flush`` (``PAGES_FLUSH`` records) with
  ``kernel.memcg_depth=0``, and memcg: the same window's growth at the
  scenario's depth.

Each row is the total over the run divided by the THPs (us per THP).
"""

import numpy as np
from seed_breakdown import main, seed_run

from powersim.kernel.trace import PAGES_FLUSH, PMD_SET_BE, PT_FREE


def trace_of(overrides):
    sc, _sim, res, tr = seed_run(["kernel.method=none", *overrides])
    return res, tr[tr["thread"] == 0], sc.machine.freq_mhz, sc.kernel.memcg_depth


def window(tr, kind):
    t = tr[tr["kind"] == kind]
    return int((t["cycle"][t["a"] == 1] - t["cycle"][t["a"] == 0]).sum())


def breakdown(overrides):
    res, tr, mhz, depth = trace_of(overrides)
    _, tr0, _, _ = trace_of([*overrides, "kernel.memcg_depth=0"])
    clears = tr[tr["kind"] == PMD_SET_BE]["cycle"].astype(np.int64)
    frees = tr[tr["kind"] == PT_FREE]["cycle"].astype(np.int64)
    flush = tr[(tr["kind"] == PAGES_FLUSH) & (tr["a"] == 0)]["cycle"].astype(np.int64)
    n = len(clears)
    free_path = window(tr0, PAGES_FLUSH)
    rows = (("rmap (clear -> table free)", (frees - clears).sum()),
            ("counters, gather, loop", (clears[1:] - frees[:-1]).sum()),
            ("TLB flush", flush[-1] - frees[-1]),
            ("free path (no memcg)", free_path),
            (f"memcg ({depth} levels)", window(tr, PAGES_FLUSH) - free_path))
    total = res.op_seconds * mhz * 1e6
    print(f"{n} THPs, method none, us per THP (op {res.op_seconds * 1e6 / n:.3f}):")
    for name, cyc in rows:
        print(f"  {name:28s} {cyc / mhz / n:8.3f}  {100 * cyc / total:5.1f} %")
    rest = total - sum(c for _, c in rows)
    print(f"  {'rest (entry, first lock, exit)':28s} {rest / mhz / n:8.3f}  "
          f"{100 * rest / total:5.1f} %")


if __name__ == "__main__":
    main(breakdown, __doc__)
