"""struct pages and the THP free path of munmap ([L-rmap], [L-mmu-gather],
[L-swap], [L-page-alloc], [L-memcg]): the state the vmemmap, the zone, the
node and the memcg are left in, read back from emulated memory."""

import numpy as np
import pytest

from powersim.kernel import page as P
from powersim.kernel.checker import check
from powersim.kernel.image import Kernel, KernelRun, call, wait_until
from powersim.kernel.layout import FRAMES_PER_THP, LINE, MARK_FREE, MAX_ORDER, MM_RSS_ANON
from powersim.kernel.mm import PMD_SIZE, THP_EA
from powersim.kernel.params import KernelParams

BLOCK = 1 << (MAX_ORDER - 1)        # frames in a block of the largest order


def munmapped(thps, method="ipi", **kp):
    k = Kernel(thp_bytes=thps * PMD_SIZE, kparams=KernelParams(method=method, **kp))
    run = k.run({0: [call("munmap", THP_EA, thps * PMD_SIZE)]}, mm_cpus=[0])
    assert run.result.threads[0].halted
    return k.layout, run


def struct_pages(lay, run):
    mem = run.machine.mem
    return mem[lay.vmemmap:lay.vmemmap + P.STRUCT_PAGE * lay.vmemmap_frames] \
        .view(np.int32).reshape(-1, P.STRUCT_PAGE // 4)


def free_area(run, lay, order):
    """The blocks on free_area[order]'s list (struct page addresses) and nr_free."""
    head = lay.zone + P.ZONE_FREE_AREA + order * P.FREE_AREA_BYTES
    out, e = [], run.u64(head)
    while e != head:
        out.append(e - P.SP_LRU)
        e = run.u64(e)
        assert len(out) <= lay.vmemmap_frames
    return out, run.u64(head + P.FA_NR_FREE)


def u8(run):
    return lambda a: int(run.machine.mem[a])


def test_gather_batch_sizes_follow_the_page_size():
    assert P.max_gather_batch(64 << 10) == 8190
    assert P.max_gather_batch_count(64 << 10) == 1
    assert P.max_gather_batch(4 << 10) == 510 and P.max_gather_batch_count(4 << 10) == 19
    assert P.gather_flushes(8198, 64 << 10) == 1 and P.gather_flushes(8199, 64 << 10) == 2
    assert P.gather_flushes(253_952, 64 << 10) == 31        # the seed


def test_munmap_frees_every_struct_page_into_the_buddy_lists():
    thps = 16
    lay, run = munmapped(thps)
    sp = struct_pages(lay, run)[:thps * FRAMES_PER_THP]
    assert (sp[:, P.SP_REFCOUNT // 4] == 0).all()
    heads = np.arange(0, len(sp), BLOCK)
    others = np.setdiff1d(np.arange(len(sp)), heads)
    assert (sp[others, P.SP_MAPCOUNT // 4] == -1).all()         # mapcount reset
    assert (sp[:, P.SP_MEM_CGROUP // 4] == 0).all()
    tails = np.flatnonzero(np.arange(len(sp)) % FRAMES_PER_THP)
    assert (sp[tails, P.SP_COMPOUND_HEAD // 4] == 0).all()      # compound_head cleared
    # 16 THPs of order 5 merge into two blocks of order MAX_ORDER - 1 (16 MiB)
    buddy = -1 ^ P.PG_BUDDY             # _mapcount -1 less PG_buddy: PageBuddy
    assert (sp[heads, P.SP_MAPCOUNT // 4] == buddy).all()
    assert (sp[heads, P.SP_PRIVATE // 4] == MAX_ORDER - 1).all()
    blocks, nr_free = free_area(run, lay, MAX_ORDER - 1)
    assert sorted(blocks) == [lay.vmemmap + P.STRUCT_PAGE * h for h in heads]
    assert nr_free == 2
    for order in range(MAX_ORDER - 1):
        assert free_area(run, lay, order) == ([], 0)
    assert P.zone_free_pages(run.u64, u8(run), lay) == thps * FRAMES_PER_THP


def test_munmap_leaves_counters_and_lists_empty():
    thps = 8
    lay, run = munmapped(thps)
    s8 = [P.s8(u8(run)(lay.pcp + c * LINE + P.PCP_NODE_ANON_THPS)) for c in range(lay.ncpus)]
    assert np.int64(np.uint64(run.u64(lay.pgdat + P.PGDAT_ANON_THPS))) + sum(s8) == 0
    assert run.u64(lay.mm + MM_RSS_ANON) == 0
    assert run.u64(lay.pgdat + P.SQ_LEN) == 0
    assert run.u64(lay.pgdat + P.SQ_LIST) == lay.pgdat + P.SQ_LIST
    assert run.u64(lay.pgdat + P.PGDAT_LRU) == lay.pgdat + P.PGDAT_LRU     # LRU empty
    assert [run.u64(lay.memcg + i * LINE) for i in range(3)] == [0, 0, 0]
    assert run.u64(lay.pcp + P.PCP_PGFREE) == thps * FRAMES_PER_THP
    assert run.u64(lay.pcp + P.PCP_GATHER_FLUSHES) == 1


def test_munmap_of_part_frees_only_that_part():
    k = Kernel(thp_bytes=8 * PMD_SIZE, kparams=KernelParams(method="ipi"))
    run = k.run({0: [call("munmap", THP_EA + PMD_SIZE, 2 * PMD_SIZE)]}, mm_cpus=[0])
    lay = k.layout
    sp = struct_pages(lay, run)
    refs = sp[:8 * FRAMES_PER_THP:FRAMES_PER_THP, P.SP_REFCOUNT // 4]
    assert list(refs) == [1, 0, 0, 1, 1, 1, 1, 1]
    assert free_area(run, lay, 5)[1] == 2       # THPs 1 and 2 are not buddies
    assert P.zone_free_pages(run.u64, u8(run), lay) == 2 * FRAMES_PER_THP
    assert run.u64(lay.mm + MM_RSS_ANON) == 6 * FRAMES_PER_THP


def test_no_memcg_uncharges_nothing():
    lay, run = munmapped(2, memcg_depth=0)
    assert P.zone_free_pages(run.u64, u8(run), lay) == 2 * FRAMES_PER_THP
    assert run.u64(lay.memcg) == 0


@pytest.mark.slow
def test_a_zap_past_one_gather_flushes_twice():
    thps = 8198 + 2
    lay, run = munmapped(thps)
    assert run.u64(lay.pcp + P.PCP_GATHER_FLUSHES) == P.gather_flushes(thps, 64 << 10) == 2
    assert P.zone_free_pages(run.u64, u8(run), lay) == thps * FRAMES_PER_THP


# --- a walker's reference on the struct page ---------------------------------------------
S = MARK_FREE


def free_blocks(run, lay):
    return {o: free_area(run, lay, o)[1] for o in range(MAX_ORDER) if free_area(run, lay, o)[1]}


def test_a_reference_held_across_the_zap_keeps_the_page_until_put_back():
    """CPU 1 takes a GUP-fast reference on THP 0 and holds it while CPU 0
    unmaps the 8 THPs; the zap's put leaves the page to the walker, which frees
    it when it puts it back (put_page), merging the whole 16 MiB block."""
    k = Kernel(thp_bytes=8 * PMD_SIZE, kparams=KernelParams(method="ipi"))
    lay = k.layout
    m = k.load({0: [wait_until(2_000), call("munmap", THP_EA, 8 * PMD_SIZE)],
                1: [call("call_mark", S, "gup_fast", lay.mm, THP_EA + 0x1234),
                    wait_until(200_000), call("put_page", lay.vmemmap + 5 * P.STRUCT_PAGE)]},
               mm_cpus=(0, 1))
    m.prepare()
    m.run(150_000 * 2400 // 512)            # munmap done, the reference still held
    run = KernelRun(machine=m, layout=lay, result=None)
    assert run.marks(1)[S] == 1
    head = struct_pages(lay, run)[0]
    assert head[P.SP_REFCOUNT // 4] == 1 and head[P.SP_MAPCOUNT // 4] == -1
    assert free_blocks(run, lay) == {5: 1, 6: 1, 7: 1}      # THPs 1, 2-3, 4-7
    assert P.zone_free_pages(run.u64, u8(run), lay) == 7 * FRAMES_PER_THP
    m.run(10**8)
    assert free_blocks(run, lay) == {MAX_ORDER - 1: 1}
    assert P.zone_free_pages(run.u64, u8(run), lay) == 8 * FRAMES_PER_THP
    assert struct_pages(lay, run)[0][P.SP_REFCOUNT // 4] == 0


def uaf_run(method):
    """CPU 1's GUP-fast walk of THP 0 reads the PMD, then spends ~60 us before
    taking its reference while CPU 0 unmaps the region: (the races the checker
    finds, THP 0's refcount at the end: the walker's reference, or 0 freed)."""
    k = Kernel(thp_bytes=8 * PMD_SIZE, kparams=KernelParams(method=method))
    lay = k.layout
    run = k.run({0: [wait_until(2_000), call("munmap", THP_EA, 8 * PMD_SIZE)],
                 1: [call("gup_fast_window", lay.mm, THP_EA, 150_000),
                     wait_until(300_000)]},             # then takes the IPIs
                mm_cpus=(0, 1))
    return check(run.result.trace), struct_pages(lay, run)[0][P.SP_REFCOUNT // 4]


def test_none_lets_the_walker_get_a_page_already_freed():
    races, ref = uaf_run("none")
    assert [r.kind for r in races] == ["use_after_free"] and ref == 0


@pytest.mark.parametrize("method", ["ipi", "count", "percpu", "robust", "trim"])
def test_safe_methods_never_hand_a_walker_a_freed_page(method):
    races, ref = uaf_run(method)
    assert races == [] and ref == (0 if method == "robust" else 1)


# --- split THPs: their PTE-mapped pages are freed too --------------------------------------
def node_counter(run, lay, counter, diff):
    return int(np.int64(np.uint64(run.u64(lay.pgdat + counter)))) + sum(
        P.s8(u8(run)(lay.pcp + c * LINE + diff)) for c in range(lay.ncpus))


@pytest.mark.parametrize("ops", [("split_huge_pmd",), ("split_huge_pmd", "collapse_huge_page")])
def test_munmap_frees_split_and_collapsed_thps_alike(ops):
    k = Kernel(thp_bytes=8 * PMD_SIZE, kparams=KernelParams(method="ipi"))
    lay = k.layout
    cmds = [call(op, lay.mm, THP_EA + i * PMD_SIZE) for i in (1, 6) for op in ops]
    after_split = k.run({0: cmds}, mm_cpus=[0])
    sp = struct_pages(lay, after_split)
    thp1 = sp[FRAMES_PER_THP:2 * FRAMES_PER_THP]
    if ops == ("split_huge_pmd",):      # 32 PTE mappings: a reference and a mapcount each
        assert thp1[0, P.SP_REFCOUNT // 4] == FRAMES_PER_THP
        assert (thp1[:, P.SP_MAPCOUNT // 4] == 0).all()
        assert thp1[1, P.SP_COMPOUND_MAPCOUNT // 4] == -1
        assert node_counter(after_split, lay, P.PGDAT_ANON_THPS, P.PCP_NODE_ANON_THPS) == 6
    else:                               # back to one PMD mapping
        assert thp1[0, P.SP_REFCOUNT // 4] == 1 and (thp1[:, P.SP_MAPCOUNT // 4] == -1).all()
        assert node_counter(after_split, lay, P.PGDAT_ANON_THPS, P.PCP_NODE_ANON_THPS) == 8
    run = k.run({0: cmds + [call("munmap", THP_EA, 8 * PMD_SIZE)]}, mm_cpus=[0])
    sp = struct_pages(lay, run)[:8 * FRAMES_PER_THP]
    assert (sp[:, P.SP_REFCOUNT // 4] == 0).all()
    assert free_blocks(run, lay) == {MAX_ORDER - 1: 1}
    assert P.zone_free_pages(run.u64, u8(run), lay) == 8 * FRAMES_PER_THP
    assert node_counter(run, lay, P.PGDAT_ANON_THPS, P.PCP_NODE_ANON_THPS) == 0
    assert node_counter(run, lay, P.PGDAT_ANON_MAPPED, P.PCP_NODE_ANON_MAPPED) == 0
    assert run.u64(lay.mm + MM_RSS_ANON) == 0 and run.u64(lay.pgdat + P.SQ_LEN) == 0


def test_exit_mmap_frees_like_munmap():
    """The fullmm gather (process exit) frees the same pages the same way."""
    k = Kernel(thp_bytes=8 * PMD_SIZE, kparams=KernelParams(method="robust"))
    run = k.run({0: [call("exit_mmap", THP_EA, 8 * PMD_SIZE)]}, mm_cpus=[0])
    lay = k.layout
    assert free_blocks(run, lay) == {MAX_ORDER - 1: 1}
    assert P.zone_free_pages(run.u64, u8(run), lay) == 8 * FRAMES_PER_THP
    assert run.u64(lay.pcp + P.PCP_GATHER_FLUSHES) == 1
