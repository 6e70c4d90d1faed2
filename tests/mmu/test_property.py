"""Property test: the MMU (TLB, page walk cache, tlbie fabric) against the
cache-less reference walker (powersim.radix.reference_translate).

Random trees of mixed page sizes for two PIDs, random translations on eight
threads of two cores, and random edits of leaf entries, each followed by a
correct invalidation ([L-tlb]: ptesync; tlbie (VA with its AP, the PID,
or all); eieio; tlbsync; ptesync, or the IPI-style tlbiel on every core).
After every completed invalidation no cached entry may disagree with memory
(``invariant_violations() == []``) and every translation must agree with the
reference (World.translate checks that on each call).
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from powersim import radix as rx

PIDS = (1, 2)
THREADS = 8                       # 2 cores x SMT4
SIZES = {"64K": ("64K", "2M", "1G"), "4K": ("4K", "2M", "1G")}
PERMS = (rx.READ, rx.READ | rx.RW, rx.READ | rx.RW | rx.EXEC, rx.EXEC,
         rx.PRIV | rx.READ | rx.RW)
DATA_MB = 15                      # RAs of small pages below 15 MiB (16 MiB machines)
SCRATCH = 0x60_0000               # moved tables: 64K apart, below MMUTest's (memory // 2)


@st.composite
def page(draw, base):
    """(pid, ea, size, ra, perms, rc): one per (pid, 1G region) so pages never nest."""
    size = draw(st.sampled_from(SIZES[base]))
    shift = rx.PAGE_SHIFTS[size]
    pid = draw(st.sampled_from(PIDS))
    region = draw(st.integers(0, 31))
    slot = 0 if shift == 30 else draw(st.integers(0, 7))
    return (pid, region, (region << 30) + (slot << shift), size,
            draw(ra_for(size)), draw(st.sampled_from(PERMS)), draw(st.booleans()))


def ra_for(size):
    return st.integers(0, 1 << 16).map(lambda n: aligned_ra(n, size))


def aligned_ra(n: int, size: str) -> int:
    """An RA inside the machine, aligned to the page (1G pages: RA 0)."""
    shift = rx.PAGE_SHIFTS[size]
    return 0 if shift == 30 else ((n << 16) % (DATA_MB << 20)) & ~((1 << shift) - 1)


@st.composite
def scenario(draw):
    base = draw(st.sampled_from(("64K", "4K")))
    pages = draw(st.lists(page(base), min_size=1, max_size=8,
                          unique_by=lambda p: (p[0], p[1])))
    pids = draw(st.lists(st.sampled_from(PIDS), min_size=THREADS, max_size=THREADS))
    idx = st.integers(0, len(pages) - 1)
    translate = st.tuples(st.just("translate"), st.integers(0, THREADS - 1), idx,
                          st.floats(0, 1, exclude_max=True),
                          st.sampled_from(("load", "store", "fetch")))
    modify = st.tuples(st.just("modify"), st.integers(0, THREADS - 1), idx,
                       st.sampled_from(("remap", "perms", "unmap", "rc", "move_table")),
                       st.sampled_from(("va", "pid", "all", "tlbiel_everywhere")),
                       st.integers(0, 1 << 16))
    ops = draw(st.lists(st.one_of(translate, translate, modify), min_size=5, max_size=30))
    return base, pages, pids, ops


def move_table(w, pid, ea, new_base):
    """Move the table holding ``ea``'s leaf to ``new_base``: copy it, repoint
    its directory entry, clear the old page.  To the caches this is Linux
    freeing a page-table page and allocating another ([L-tlb] _tlbie_pid: RIC = 2)."""
    pde_addr = w.level_entries(pid, ea)[-2]
    pde = rx.be64(w.mem, pde_addr)
    old, size = pde & rx.NLB_MASK, 8 << (pde & rx.NLS_MASK)
    w.mem[new_base:new_base + size] = w.mem[old:old + size]
    w.mem[old:old + size] = 0
    rx.put_be64(w.mem, pde_addr, (pde & ~rx.NLB_MASK) | new_base)


def invalidate(w, t, pid, ea, shift, how):
    if how == "va":
        w.invalidate(t, w.rb_va(ea, shift), w.rs_pid(pid))
    elif how == "pid":
        w.invalidate(t, w.IS_PID, w.rs_pid(pid))
    elif how == "all":
        w.invalidate(t, w.IS_ALL, 0, ric=w.RIC_ALL)
    else:  # Linux's IPI + tlbiel alternative: every core flushes itself
        for core_t in range(0, THREADS, 4):
            w.invalidate(core_t, w.rb_va(ea, shift), w.rs_pid(pid), local=True)


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(scn=scenario())
def test_cached_translations_agree_with_reference_after_each_invalidation(world, scn):
    base, pages, pids, ops = scn
    w = world(base_page=base)
    addrs = [w.pt.map(pid, ea, ra, size, perms, rc=rc)
             for pid, _, ea, size, ra, perms, rc in pages]
    for t, pid in enumerate(pids):
        w.set_thread(t, pid=pid)
    moved = 0
    for op in ops:
        if op[0] == "translate":
            _, t, i, frac, access = op
            pid, _, ea, size, *_ = pages[i]
            w.set_thread(t, pid=pid)
            w.translate(t, ea + (int(frac * (1 << rx.PAGE_SHIFTS[size])) & ~7), access)
            continue
        _, t, i, change, how, rnd = op
        pid, _, ea, size, *_ = pages[i]
        shift = rx.PAGE_SHIFTS[size]
        pte = rx.be64(w.mem, addrs[i])
        if change == "remap":
            pte = (pte & ~rx.RPN_MASK) | aligned_ra(rnd, size)
        elif change == "perms":
            pte = (pte & ~0xF) | PERMS[rnd % len(PERMS)]
        elif change == "rc":
            pte ^= rx.R if rnd & 1 else rx.C
        elif change == "unmap":
            pte = 0
        if change != "move_table":
            rx.put_be64(w.mem, addrs[i], pte)
            invalidate(w, t, pid, ea, shift, how)
        else:
            move_table(w, pid, ea, SCRATCH + (moved << 16))
            moved += 1
            addrs = [w.pt.entry_addr(p[0], p[2], rx.PAGE_SHIFTS[p[3]], create=False)
                     for p in pages]
            w.invalidate(t, w.IS_PID, w.rs_pid(pid), ric=w.RIC_ALL)
        assert w.m.invariant_violations() == []
        for tt in range(THREADS):       # every thread of both cores agrees afterwards
            for p in pages:
                w.set_thread(tt, pid=p[0])
                w.translate(tt, p[2], "load")
