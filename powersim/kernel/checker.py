"""The race checker (docs/KERNEL.md "Race checker"): races are observations.

Replays the trace-port records (powersim.kernel.trace) in their (cycle, seq)
order with shadow state:

* per PTE-table page: live or freed, and its allocation generation (bumped by
  every ``PT_ALLOC``; tables built before the run are live, generation 0);
* per PMD slot: the kind of its current entry (none, serializing, leaf,
  table), from ``PMD_SET``/``PMD_SET_BE``, or learnt from the first walker
  read of a slot never written during the run;
* per CPU: the PMD the walker holds (its last ``WALK_PMD``: slot, kind, and
  for a table pointer the table and its generation at that read).

At each ``WALK_DEREF`` (the walker uses the entry it loaded through a PTE
pointer derived from the held PMD) it reports the hazards the serialization
methods exist to prevent ([LM-walk]: a walker holds a PMD value it read
once; 3.3-3.5: what split, collapse and table freeing do under it):

``freed``       the table the walker dereferences was freed since it read the
                pointer to it (and not reallocated);
``reused``      ... freed and allocated again (the generation changed);
``leaf_to_table``  the pmd-as-pte cast: the slot read as a huge leaf now holds
                a table pointer;
``table_to_leaf``  the slot read as a table pointer now holds a huge leaf
                (the walker reads a table no longer mapped by it).

and, with the walker's memory-ordering hazards (a weak memory model lets a
walker read a PMD or PTE value that is already stale):

``unserialized``  the walker uses a PMD value that its slot no longer held when
                the serialize of that change returned (a ``SERIALIZED`` record
                of the thread that made the change, while the walker held the
                old value and had not used it yet; not robust's at a clear,
                where its walkers re-check instead), and that the slot still
                does not hold: what ``serialize_against_pte_lookup`` exists to rule
                out (the Dekker/SB pattern of ``count`` and ``percpu`` without
                one of their smp_mb);
``stale_pte``   the walker read, through a table pointer that a split
                published (``pmd_populate`` after ``pmdp_invalidate``) and the
                slot still holds, a PTE that is not present: split fills every
                PTE before it publishes the table (its smp_wmb), so the walker
                saw the table's contents from before the fill (the MP pattern).
                ``zap_pte_range`` restates the slot (a ``PMD_SET`` of the same
                table) before it clears PTEs, so its clears are no such race.

At each ``PAGE_GET`` (the walker takes its reference on the struct page the
entry it used points to) a race of its own kind:

``use_after_free``  the page is already back in the buddy allocator (its
                ``PAGE_FREE``; nothing allocates it again); its refcount is 0, so
                the speculative get fails, but had the block been allocated
                again the walker would hold someone else's page.
"""

import attrs
import numpy as np

from powersim.errors import PowersimError
from powersim.kernel.layout import KERNELBASE
from powersim.kernel.trace import (PAGE_FREE, PAGE_GET, PMD_SET, PMD_SET_BE, PT_ALLOC, PT_FREE,
                                   SERIALIZED, WALK_DEREF, WALK_PMD)
from powersim.radix import NLB_MASK

NONE, SERIALIZING, TABLE, LEAF = "none", "serializing", "table", "leaf"
RACE_KINDS = ("freed", "reused", "leaf_to_table", "table_to_leaf", "use_after_free",
              "unserialized", "stale_pte")
_PHYS = (1 << 60) - 1       # the linear map's quadrant bits off: one name per page


@attrs.frozen
class Race:
    cycle: int
    cpu: int
    kind: str           # one of RACE_KINDS
    slot: int           # the PMD slot the walker read
    ptep: int           # the address it dereferenced
    table: int          # the PTE table it held (0 for a leaf)


def pmd_kind(value: int) -> str:
    """The kind of a PMD in CPU byte order (mm.pmd_kind: the top two bits)."""
    top = value >> 62
    if value == 0:
        return NONE
    return {3: LEAF, 2: TABLE}.get(top, SERIALIZING)


def _swap(v: int) -> int:
    return int.from_bytes(int(v).to_bytes(8, "little"), "big")


def _phys(addr: int) -> int:
    return (int(addr) - KERNELBASE if int(addr) >= KERNELBASE else int(addr)) & _PHYS


_KINDS = (PT_ALLOC, PT_FREE, PMD_SET, PMD_SET_BE, WALK_PMD, WALK_DEREF, PAGE_FREE, PAGE_GET,
          SERIALIZED)
_CHUNK = 1 << 16


def kind_mask(kind, kinds) -> np.ndarray:
    """``np.isin(kind, kinds)`` for a trace's kind column, in 1 byte a record
    (np.isin copies a strided column and offsets it: 16 bytes a record)."""
    mask = np.zeros(len(kind), bool)
    for k in kinds:
        mask |= kind == k
    return mask


def _in_order(trace) -> bool:
    """Whether the records already are in (cycle, seq) order, as Machine.trace()
    gives them (checked a chunk at a time: no temporaries as long as the trace)."""
    cycle, seq = trace["cycle"], trace["seq"]
    for i in range(0, len(trace) - 1, _CHUNK):
        dc = np.diff(cycle[i:i + _CHUNK + 1])
        if (dc < 0).any() or ((dc == 0) & (np.diff(seq[i:i + _CHUNK + 1]) < 0)).any():
            return False
    return True


def _replay(trace):
    """(cycle, thread, kind, a, b) of the records check() looks at, in (cycle,
    seq) order: for a structured array, filtered and sorted by numpy and turned
    into Python ints a chunk at a time (millions of records)."""
    if isinstance(trace, np.ndarray) and trace.dtype.names:
        if _in_order(trace):    # Machine.trace(): no sort, and nothing past the last
            deref = np.flatnonzero(kind_mask(trace["kind"], (WALK_DEREF, PAGE_GET)))
            end = deref[-1] + 1 if len(deref) else 0
            idx = np.flatnonzero(kind_mask(trace["kind"][:end], _KINDS))
        else:
            idx = np.flatnonzero(np.isin(trace["kind"], _KINDS))     # (no copy of the
            idx = idx[np.lexsort((trace["seq"][idx], trace["cycle"][idx]))]   # records)
            deref = np.flatnonzero(np.isin(trace["kind"][idx], (WALK_DEREF, PAGE_GET)))
            # races are found only at a WALK_DEREF or PAGE_GET: the records after the
            # last one cannot add any (a munmap without walkers replays nothing)
            idx = idx[:deref[-1] + 1] if len(deref) else idx[:0]
        for i in range(0, len(idx), _CHUNK):
            c = trace[idx[i:i + _CHUNK]]
            yield from zip(c["cycle"].tolist(), c["thread"].tolist(), c["kind"].tolist(),
                           c["a"].astype(np.uint64).tolist(),
                           c["b"].astype(np.uint64).tolist())
        return
    for r in sorted(trace, key=lambda r: (int(r["cycle"]), int(r["seq"]))):
        yield int(r["cycle"]), int(r["thread"]), int(r["kind"]), int(r["a"]), int(r["b"])


def check(trace) -> list:
    """The races in ``trace`` (``Machine.trace()`` records, or any sequence of
    records with fields cycle, seq, thread, kind, a, b), in replay order."""
    gen, live, slots, held, races, freed = {}, {}, {}, {}, [], set()
    values = {}         # slot -> its current entry (CPU byte order)
    published = {}      # slot -> the table pointer a split published there, unchanged since
    changed = {}        # thread -> the slot it changed last (what its SERIALIZED serializes)
    pending = set()     # CPUs whose held PMD has not been used yet
    unserialized = set()    # ... and was already stale when a serialize of it returned
    for cycle, cpu, kind, a, b in _replay(trace):
        if kind == PAGE_FREE:       # (a walker's get names a head page: the block's first)
            freed.add(_phys(a))
        elif kind == PAGE_GET:
            page = _phys(a)
            if page in freed:
                slot = held.get(cpu, (0,))[0]
                races.append(Race(cycle, cpu, "use_after_free", slot, page, 0))
        elif kind == PT_ALLOC:
            t = _phys(a)
            gen[t] = gen.get(t, 0) + 1
            live[t] = True
        elif kind == PT_FREE:
            live[_phys(a)] = False
        elif kind in (PMD_SET, PMD_SET_BE):
            slot, value = _phys(a), _swap(b) if kind == PMD_SET_BE else b
            k = pmd_kind(value)
            if k == TABLE and slots.get(slot) == SERIALIZING:
                published[slot] = value         # split: pmd_populate after the invalidate
            else:
                published.pop(slot, None)
            slots[slot], values[slot], changed[cpu] = k, value, slot
        elif kind == SERIALIZED and b:      # (b = 0: the walkers re-check instead)
            slot = changed.get(cpu)
            for c in pending:
                h = held[c]
                if h[0] == slot and h[4] != values.get(slot, h[4]):
                    unserialized.add(c)
        elif kind == WALK_PMD:
            slot, value = _phys(a), b
            k = pmd_kind(value)
            slots.setdefault(slot, k)
            values.setdefault(slot, value)
            table = _phys(value & NLB_MASK) if k == TABLE else 0
            held[cpu] = (slot, k, table, gen.get(table, 0), value)
            pending.add(cpu)
            unserialized.discard(cpu)
        elif kind == WALK_DEREF:
            if a == 0:
                continue            # the walk found nothing: nothing used
            if cpu not in held:
                raise PowersimError(f"trace record at cycle {cycle}: CPU {cpu} "
                                    f"dereferences {a:#x} without a walker PMD read")
            slot, k, table, g, value = held[cpu]
            race = None
            if k == LEAF and slots[slot] == TABLE:
                race = "leaf_to_table"
            elif k == TABLE:
                if not live.get(table, True):
                    race = "freed"
                elif gen.get(table, 0) != g:
                    race = "reused"
                elif slots[slot] == LEAF:
                    race = "table_to_leaf"
            if race is None and cpu in unserialized and values[slot] != value:
                race = "unserialized"
            if race is None and k == TABLE and published.get(slot) == value \
                    and not b >> 63:    # a PTE read through it, not present
                race = "stale_pte"
            pending.discard(cpu)
            unserialized.discard(cpu)
            if race:
                races.append(Race(cycle, cpu, race, slot, _phys(a), table))
    return races


def count_races(trace) -> int:
    return len(check(trace))


def count_walks(trace) -> int:
    """Walks that reached the PMD level (one ``WALK_PMD`` each)."""
    if isinstance(trace, np.ndarray) and trace.dtype.names:
        return int(np.count_nonzero(trace["kind"] == WALK_PMD))
    return sum(1 for r in trace if int(r["kind"]) == WALK_PMD)
