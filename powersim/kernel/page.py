"""struct pages of the data frames and the v5.4 paths that use them when a THP
is unmapped: the rmap and counters (``page_remove_rmap``), the mmu_gather's
page batches, and the free path (``release_pages``, the compound destructor,
``free_pages_prepare``, the buddy allocator), with memcg uncharge.

Data (powersim/kernel/layout.py): the vmemmap, one 64-byte ``struct page``
per 64K frame from ``mm.THP_FRAMES`` on, with v5.4's layout for the fields
these paths use [L-mmtypes]; the zone (lock, ``NR_FREE_PAGES``,
``free_area[MAX_ORDER]`` with one free list per order: every page here is
MIGRATE_MOVABLE), the node (``lru_lock``, the active anon LRU list, node
counters, the deferred split queue), the memcg hierarchy (a page counter per
level, leaf first) and a per-CPU line of vmstat diffs (folded into the zone and
node counters past ``stat_threshold``, [L-vmstat]), memcg per-CPU statistics
and event counters.  ``build_struct_pages`` writes them as Linux leaves them
for a mapped anonymous THP (``prep_compound_page``, ``prep_transhuge_page``,
``page_add_new_anon_rmap``, ``lru_cache_add``, ``mem_cgroup_commit_charge``).

Routines (r3.. arguments):

* ``page_remove_rmap_thp(page)``: ``page_remove_rmap(page, true)`` for an
  anonymous THP [L-rmap] (``page_remove_anon_compound_rmap``): the
  compound mapcount atomic, ``__dec_node_page_state(NR_ANON_THPS)``,
  ``TestClearPageDoubleMap``, ``NR_ANON_MAPPED``, ``deferred_split_huge_page``
  (v5.4 queues every fully unmapped THP; later kernels only partly mapped ones).
* ``page_remove_rmap_pte(page)``: ``page_remove_rmap(page, false)`` of a split
  THP's 64K page (its _mapcount, ``NR_ANON_MAPPED``, the split queue);
  ``split_huge_pmd_rmap(page)`` / ``collapse_huge_page_rmap(page)``: the struct
  pages of a THP becoming PTE-mapped (thp.py) and PMD-mapped again.
* ``tlb_remove_page_size(tlb, page)``: into the gather's batch; a full gather
  (``__tlb_remove_page_size`` returns true) is flushed at once (tlbflush.py).
* ``tlb_batch_pages_flush(tlb)``: after the TLB flush, every batch to
  ``free_pages_and_swap_cache`` -> ``release_pages`` [L-swap].
* ``put_page(page)``: a walker's reference dropped (the free path if last).
* ``__put_compound_page``, ``__page_cache_release`` (LRU removal under
  ``lru_lock``, ``mem_cgroup_uncharge``), ``free_transhuge_page`` (the split
  queue under its lock), ``__free_pages_ok`` -> ``free_pages_prepare`` (the
  tail loop) and ``free_one_page`` (``zone->lock``, ``__free_one_page``: buddy
  merging up to order MAX_ORDER - 1) [L-page-alloc].

Not modelled: ``lru_add_drain`` (the per-CPU pagevecs are empty), the
memcg-aware split queues (one queue, the node's), LRU size statistics,
``get_pfnblock_migratetype`` (all MOVABLE), memcg thresholds and soft limit
trees (none registered: only their rate-limit counters run), the page
owner / poisoning debug hooks (configured off).
"""

import numpy as np

from powersim.kernel.irq import local_irq_restore, local_irq_save, prologue
from powersim.kernel.layout import (FRAMES_PER_THP, GATHER_PAGE_BYTES, KERNELBASE, LINE,
                                    MAX_ORDER, MM_RSS_ANON, PACA_CPU, STRUCT_PAGE, THP_FRAMES)
from powersim.kernel.pgtable import spin_lock, spin_unlock
from powersim.kernel.trace import PAGE_FREE, PAGES_FLUSH, trace
from powersim.radix import PAGE_SHIFTS, RPN_MASK

PAGE_SHIFT = PAGE_SHIFTS["64K"]     # the data frames' base pages [L-r64k]

# struct page (64-bit) [L-mmtypes]
SP_FLAGS = 0
SP_LRU = 8                  # lru.next, lru.prev; tail pages: compound_head at 8 (bit 0)
SP_COMPOUND_HEAD = 8
SP_COMPOUND_DTOR = 16       # first tail: u8 compound_dtor, u8 compound_order,
SP_COMPOUND_ORDER = 17      # s32 compound_mapcount
SP_COMPOUND_MAPCOUNT = 20
SP_MAPPING = 24             # second tail: deferred_list (next, prev) at 24
SP_DEFERRED_LIST = 24
SP_INDEX = 32
SP_PRIVATE = 40             # a free block's order
SP_MAPCOUNT = 48            # s32 _mapcount; page_type of a free block
SP_REFCOUNT = 52            # s32 _refcount
SP_MEM_CGROUP = 56

# page flags (enum pageflags) [L-pageflags]
PG_locked, PG_uptodate, PG_lru, PG_active, PG_waiters = 0, 2, 4, 5, 7
PG_slab, PG_swapcache, PG_reserved, PG_private, PG_private_2 = 9, 10, 12, 13, 14
PG_writeback, PG_head, PG_swapbacked, PG_unevictable, PG_mlocked = 15, 16, 19, 20, 21
PG_double_map = PG_private_2        # in the first tail page's flags
NR_PAGEFLAGS = 23           # with CONFIG_MEMORY_FAILURE (PG_hwpoison = 22)
PAGE_FLAGS_CHECK_AT_FREE = sum(1 << f for f in (
    PG_lru, PG_locked, PG_private, PG_private_2, PG_writeback, PG_reserved, PG_slab,
    PG_active, PG_unevictable, PG_mlocked))
PAGE_FLAGS_CHECK_AT_PREP = (1 << NR_PAGEFLAGS) - 1
PAGE_MAPPING_ANON = 1
TAIL_MAPPING = 0x5DEADBEEF0000000 + 0x400   # POISON_POINTER_DELTA (ppc64) + 0x400
PAGE_TYPE_BASE, PG_BUDDY = 0xF0000000, 0x80     # PageBuddy: page_type & both == BASE
TRANSHUGE_PAGE_DTOR = 3     # enum compound_dtor_id
THP_ORDER = FRAMES_PER_THP.bit_length() - 1     # HPAGE_PMD_ORDER: 5 with 64K pages

# the zone (lay.zone): a line of lock and counters, then free_area[order] (24 bytes each:
# free_list[MIGRATE_MOVABLE] next, prev; nr_free)
ZONE_LOCK, ZONE_FREE_PAGES, ZONE_ISOLATE = 0, 8, 16     # vm_stat[NR_FREE_PAGES]
ZONE_FREE_AREA, FREE_AREA_BYTES, FA_NR_FREE = LINE, 24, 16
# the node (lay.pgdat): lru_lock, the active anon LRU, node counters; then the split queue
PGDAT_LRU_LOCK, PGDAT_LRU, PGDAT_ANON_THPS, PGDAT_ANON_MAPPED = 0, 8, 24, 32
SQ = LINE                   # split_queue_lock, split_queue (next, prev), split_queue_len
SQ_LOCK, SQ_LIST, SQ_LEN = SQ, SQ + 8, SQ + 24
HUGE_ZERO_PAGE = 48         # in the node line: huge_zero_page (none allocated: 0)
# a memcg level (lay.memcg + LINE * level, leaf first): its page counter "memory"
MEMCG_USAGE, MEMCG_PARENT, MEMCG_SHRINKER_MAP, MEMCG_STAT = 0, 8, 16, 24  # + vmstats
MEMCG_CHARGE_BATCH = 32     # [L-memcg] __mod_memcg_state folds beyond it
# per CPU (lay.pcp + LINE * cpu): s8 vmstat diffs and thresholds, u64 counters
PCP_ZONE_FREE, PCP_ZONE_THRESHOLD = 0, 1
PCP_NODE_ANON_THPS, PCP_NODE_ANON_MAPPED, PCP_NODE_THRESHOLD = 2, 3, 4
PCP_PGFREE, PCP_THP_DEFERRED = 8, 16            # vm_event_states
PCP_MEMCG_RSS, PCP_MEMCG_RSS_HUGE, PCP_MEMCG_PGPGOUT = 24, 32, 40   # memcg vmstats_percpu
PCP_MEMCG_EVENTS, PCP_MEMCG_TARGET, PCP_CSS_REF = 48, 56, 64
PCP_GATHER_FLUSHES = 72     # the simulator's count of page-batch flushes (not Linux's)
THRESHOLDS_EVENTS_TARGET = 128  # [L-memcg] memcg_check_events' rate limit
MEMCG_STAT_RSS, MEMCG_STAT_RSS_HUGE, MEMCG_STAT_PGPGOUT = 0, 8, 16

# struct mmu_gather_batch: next, u32 nr, u32 max, pages[] [L-mmu-gather]
BATCH_NEXT, BATCH_NR, BATCH_MAX, BATCH_PAGES = 0, 8, 12, 16
MMU_GATHER_BUNDLE = 8


def max_gather_batch(page_bytes: int) -> int:
    """MAX_GATHER_BATCH: the pointers a batch page holds after its header."""
    return (page_bytes - BATCH_PAGES) // 8


def max_gather_batch_count(page_bytes: int) -> int:
    """MAX_GATHER_BATCH_COUNT = 10000UL / MAX_GATHER_BATCH."""
    return 10000 // max_gather_batch(page_bytes)


def gather_flushes(thps: int, page_bytes: int) -> int:
    """Page-batch flushes of a zap of ``thps`` THPs: every full gather (the
    on-stack bundle plus MAX_GATHER_BATCH_COUNT batch pages) and the last."""
    full = MMU_GATHER_BUNDLE + max_gather_batch_count(page_bytes) * max_gather_batch(page_bytes)
    return -(-thps // full) if thps else 0


def vmstat_threshold(ncpus: int, managed_pages: int, page_shift: int = 16) -> int:
    """calculate_normal_threshold [L-vmstat]: 2 * fls(cpus) * (1 + fls(MiB / 128)),
    at most 125."""
    mem = managed_pages >> (27 - page_shift)
    return min(125, 2 * ncpus.bit_length() * (1 + mem.bit_length()))


# --- Builder helpers ------------------------------------------------------------------
def atomic_rmw(b, addr, op, val, tmp, *, word=False, ordered=False):
    """``tmp = *addr op val`` stored atomically (lwarx/stwcx. for a 32-bit atomic_t,
    ldarx/stdcx. for atomic_long); ``ordered``: the value-returning form, a
    ``sync`` on each side (PPC_ATOMIC_ENTRY/EXIT_BARRIER) [L-bar].  ``op`` is a
    mnemonic taking (tmp, tmp, val); leaves tmp = the new value, cr0 of stcx."""
    larx, stcx = (b.lwarx, b.stwcx_rc) if word else (b.ldarx, b.stdcx_rc)
    if ordered:
        b.sync()
    b.label(retry := b.local("atomic"))
    larx(tmp, 0, addr)
    getattr(b, op)(tmp, tmp, val)
    stcx(tmp, 0, addr)
    b.emit(f"bne- {retry}")
    if ordered:
        b.sync()
    if word:
        b.extsw(tmp, tmp)


def this_cpu_line(b, dst, base):
    """``dst`` = this CPU's line of the per-CPU region at ``base``."""
    b.ld(dst, f"{PACA_CPU}(r13)")
    b.sldi(dst, dst, 7)
    b.li64("r0", base)
    b.add(dst, dst, "r0")


def _vmstat_mod(b, lay, diff_off, thr_off, counter, delta, t1, t2, t3):
    """``__mod_zone_page_state`` / ``__mod_node_page_state`` [L-vmstat]:
    ``x = delta + this CPU's s8 diff``; beyond the threshold, ``atomic_long_add``
    of x to the counter at address ``counter`` (an immediate) and x = 0."""
    this_cpu_line(b, t1, lay.pcp)
    b.lbz(t2, f"{diff_off}({t1})")
    b.extsb(t2, t2)
    b.addi(t2, t2, delta)
    b.lbz(t3, f"{thr_off}({t1})")
    b.cmpd(t2, t3)
    b.bgt(fold := b.local("fold"))
    b.neg(t3, t3)
    b.cmpd(t2, t3)
    b.bge(keep := b.local("keep"))
    b.label(fold)
    b.li64(t3, counter)
    atomic_rmw(b, t3, "add", t2, "r0")
    b.li(t2, 0)
    b.label(keep)
    b.stb(t2, f"{diff_off}({t1})")


def _list_del(b, entry, t1, t2):
    """``list_del(entry)``: unlink, then LIST_POISON1/2 in next/prev."""
    b.ld(t1, f"0({entry})")
    b.ld(t2, f"8({entry})")
    b.std(t2, f"8({t1})")               # next->prev = prev
    b.std(t1, f"0({t2})")               # prev->next = next
    b.li64(t1, 0x5DEADBEEF0000100)
    b.std(t1, f"0({entry})")
    b.li64(t1, 0x5DEADBEEF0000122)
    b.std(t1, f"8({entry})")


def _list_add(b, entry, head, t1, tail=False):
    """``list_add(entry, head)`` (``list_add_tail`` with ``tail``)."""
    if tail:
        b.ld(t1, f"8({head})")          # prev = head->prev
        b.std(head, f"0({entry})")
        b.std(t1, f"8({entry})")
        b.std(entry, f"0({t1})")
        b.std(entry, f"8({head})")
    else:
        b.ld(t1, f"0({head})")          # next = head->next
        b.std(t1, f"0({entry})")
        b.std(head, f"8({entry})")
        b.std(entry, f"8({t1})")
        b.std(entry, f"0({head})")


def _irqsave_lock(b, flags, lock, tmp):
    """``spin_lock_irqsave(lock)``; ``flags`` keeps the soft mask."""
    local_irq_save(b, flags, tmp)
    spin_lock(b, lock, tmp)


def _unlock_irqrestore(b, flags, lock):
    spin_unlock(b, lock)
    local_irq_restore(b, flags)


def _flag_test(b, dst, page, bit, off=SP_FLAGS):
    """``dst = (page->flags >> bit) & 1`` (cr0 set)."""
    b.ld(dst, f"{off}({page})")
    b.rldicl_rc(dst, dst, 64 - bit, 63)


def frame_index(b, dst, entry):
    """``dst`` = the vmemmap index of a PTE's (or huge PMD's) frame: its pfn less
    THP_FRAMES's (CPU byte order; unsigned: frames below come out huge)."""
    b.li64("r0", RPN_MASK)
    b.and_(dst, entry, "r0")
    b.li64("r0", THP_FRAMES)
    b.subf(dst, "r0", dst)
    b.srdi(dst, dst, PAGE_SHIFT)


def index_to_page(b, dst, index, lay):
    """``dst = pfn_to_page``: the struct page of a vmemmap index."""
    b.sldi(dst, index, 6)
    b.li64("r0", lay.vmemmap)
    b.add(dst, dst, "r0")


# --- rmap and counters ----------------------------------------------------------------
def _emit_rmap(b, lay):
    b.label("page_remove_rmap_thp")     # (page): page_remove_anon_compound_rmap
    page, flags = "r31", "r30"
    epilogue = prologue(b, 48, [page, flags])
    b.mr(page, "r3")
    b.addi("r4", page, STRUCT_PAGE + SP_COMPOUND_MAPCOUNT)
    b.li("r5", -1)
    atomic_rmw(b, "r4", "add", "r5", "r6", word=True, ordered=True)   # atomic_add_negative
    b.cmpdi("r6", 0)
    b.bge(out := b.local("out"))        # still mapped by another PMD
    _vmstat_step_node(b, lay, PCP_NODE_ANON_THPS, lay.pgdat + PGDAT_ANON_THPS)
    b.addi("r4", page, STRUCT_PAGE + SP_FLAGS)      # TestClearPageDoubleMap
    b.li64("r5", 1 << PG_double_map)
    atomic_rmw(b, "r4", "andc", "r5", "r6", ordered=True)
    _flag_test(b, "r4", page, PG_mlocked)           # PageMlocked: clear_page_mlock
    _vmstat_mod(b, lay, PCP_NODE_ANON_MAPPED, PCP_NODE_THRESHOLD,
                lay.pgdat + PGDAT_ANON_MAPPED, -FRAMES_PER_THP, "r4", "r5", "r6")
    b.mr("r3", page)
    b.bl("deferred_split_huge_page")
    b.label(out)
    epilogue()

    b.label("deferred_split_huge_page")     # (page)
    epilogue = prologue(b, 48, [page, flags])
    b.mr(page, "r3")
    b.ld("r4", f"{SP_FLAGS}({page})")       # PageSwapCache: swapbacked and swapcache
    b.li64("r5", 1 << PG_swapbacked | 1 << PG_swapcache)
    b.and_("r4", "r4", "r5")
    b.cmpd("r4", "r5")
    b.beq(out := b.local("out"))
    b.li64("r3", lay.pgdat + SQ_LOCK)
    _irqsave_lock(b, flags, "r3", "r4")
    b.addi("r4", page, 2 * STRUCT_PAGE + SP_DEFERRED_LIST)
    b.ld("r5", "0(r4)")
    b.cmpd("r5", "r4")                      # list_empty(page_deferred_list(page))
    b.bne(unlock := b.local("unlock"))
    this_cpu_line(b, "r6", lay.pcp)         # count_vm_event(THP_DEFERRED_SPLIT_PAGE)
    b.ld("r7", f"{PCP_THP_DEFERRED}(r6)")
    b.addi("r7", "r7", 1)
    b.std("r7", f"{PCP_THP_DEFERRED}(r6)")
    b.li64("r6", lay.pgdat + SQ_LIST)
    _list_add(b, "r4", "r6", "r7", tail=True)
    b.li64("r6", lay.pgdat + SQ_LEN)
    b.ld("r7", "0(r6)")
    b.addi("r7", "r7", 1)
    b.std("r7", "0(r6)")
    b.ld("r6", f"{SP_MEM_CGROUP}({page})")  # memcg_set_shrinker_bit, not for the root
    b.cmpdi("r6", 0)
    b.beq(unlock)
    b.ld("r7", f"{MEMCG_PARENT}(r6)")
    b.cmpdi("r7", 0)
    b.beq(unlock)
    b.addi("r6", "r6", MEMCG_SHRINKER_MAP)
    b.li("r7", 1)                           # smp_mb__before_atomic; set_bit
    b.sync()
    atomic_rmw(b, "r6", "or", "r7", "r8")
    b.label(unlock)
    b.li64("r3", lay.pgdat + SQ_LOCK)
    _unlock_irqrestore(b, flags, "r3")
    b.label(out)
    epilogue()


def _vmstat_step_node(b, lay, diff_off, counter, step=-1):
    """``__dec_node_page_state`` / ``__inc_node_page_state`` (``step`` -1 / +1)
    [L-vmstat]: the diff moved by one; past the threshold, the counter gets the
    diff plus half the threshold beyond it (the overstep) and the diff is left
    at minus that overstep."""
    this_cpu_line(b, "r4", lay.pcp)
    b.lbz("r5", f"{diff_off}(r4)")
    b.extsb("r5", "r5")
    b.addi("r5", "r5", step)
    b.lbz("r6", f"{PCP_NODE_THRESHOLD}(r4)")
    if step < 0:
        b.neg("r7", "r6")
        b.cmpd("r5", "r7")
        b.bge(keep := b.local("keep"))
    else:
        b.cmpd("r5", "r6")
        b.ble(keep := b.local("keep"))
    b.srdi("r6", "r6", 1)               # overstep
    if step < 0:
        b.subf("r7", "r6", "r5")        # v - overstep; the diff is +overstep
    else:
        b.add("r7", "r5", "r6")         # v + overstep; the diff is -overstep
        b.neg("r6", "r6")
    b.li64("r8", counter)
    atomic_rmw(b, "r8", "add", "r7", "r0")
    b.mr("r5", "r6")
    b.label(keep)
    b.stb("r5", f"{diff_off}(r4)")


def _emit_pte_rmap(b, lay):
    """The rmap of a THP's 64K pages once split_huge_pmd mapped them by PTEs."""
    b.label("page_remove_rmap_pte")     # (page): page_remove_rmap(page, false), anon
    page = "r31"
    epilogue = prologue(b, 48, [page])
    b.mr(page, "r3")
    b.addi("r4", page, SP_MAPCOUNT)
    b.li("r5", -1)
    atomic_rmw(b, "r4", "add", "r5", "r6", word=True, ordered=True)   # atomic_add_negative
    b.cmpdi("r6", 0)
    b.bge(out := b.local("out"))        # still mapped by someone else
    _vmstat_step_node(b, lay, PCP_NODE_ANON_MAPPED, lay.pgdat + PGDAT_ANON_MAPPED)
    _flag_test(b, "r4", page, PG_mlocked)
    compound_head(b, "r3", page, "r4")  # PageTransCompound: deferred_split_huge_page
    b.cmpd("r3", page)
    b.bne(split := b.local("split"))
    _flag_test(b, "r4", page, PG_head)
    b.beq(out)
    b.label(split)
    b.bl("deferred_split_huge_page")
    b.label(out)
    epilogue()

    b.label("split_huge_pmd_rmap")      # (page): __split_huge_pmd_locked's struct pages
    epilogue = prologue(b, 48, [page])
    b.mr(page, "r3")
    b.addi("r4", page, SP_REFCOUNT)     # page_ref_add(page, HPAGE_PMD_NR - 1): the PTEs'
    b.li("r5", FRAMES_PER_THP - 1)
    atomic_rmw(b, "r4", "add", "r5", "r6", word=True)
    _each_subpage_mapcount(b, page, 1)  # atomic_inc(&page[i]._mapcount) per PTE
    b.lwa("r4", f"{STRUCT_PAGE + SP_COMPOUND_MAPCOUNT}({page})")   # > 1: DoubleMap
    b.addi("r4", page, STRUCT_PAGE + SP_COMPOUND_MAPCOUNT)        # (one mapping: never)
    b.li("r5", -1)
    atomic_rmw(b, "r4", "add", "r5", "r6", word=True, ordered=True)   # atomic_add_negative
    b.cmpdi("r6", 0)
    b.bge(out := b.local("out"))
    _vmstat_step_node(b, lay, PCP_NODE_ANON_THPS, lay.pgdat + PGDAT_ANON_THPS)
    b.addi("r4", page, STRUCT_PAGE + SP_FLAGS)      # TestClearPageDoubleMap (never set)
    b.li64("r5", 1 << PG_double_map)
    atomic_rmw(b, "r4", "andc", "r5", "r6", ordered=True)
    b.label(out)
    epilogue()

    b.label("collapse_huge_page_rmap")  # (page): the frames mapped by a PMD again
    epilogue = prologue(b, 48, [page])
    b.mr(page, "r3")
    _each_subpage_mapcount(b, page, -1)
    b.addi("r4", page, STRUCT_PAGE + SP_COMPOUND_MAPCOUNT)
    b.li("r5", 1)
    atomic_rmw(b, "r4", "add", "r5", "r6", word=True)
    _vmstat_step_node(b, lay, PCP_NODE_ANON_THPS, lay.pgdat + PGDAT_ANON_THPS, 1)
    b.addi("r4", page, SP_REFCOUNT)
    b.li("r5", 1 - FRAMES_PER_THP)
    atomic_rmw(b, "r4", "add", "r5", "r6", word=True)
    epilogue()


def _each_subpage_mapcount(b, page, delta):
    """``atomic_inc`` / ``atomic_dec`` of every subpage's _mapcount (no barrier)."""
    b.li("r5", FRAMES_PER_THP)
    b.mtctr("r5")
    b.addi("r4", page, SP_MAPCOUNT)
    b.li("r5", delta)
    b.label(loop := b.local("sub"))
    atomic_rmw(b, "r4", "add", "r5", "r6", word=True)
    b.addi("r4", "r4", STRUCT_PAGE)
    b.bdnz(loop)


# --- the free path ----------------------------------------------------------------------
def compound_head(b, dst, page, tmp):
    """``dst = compound_head(page)``: a tail's compound_head has bit 0 set."""
    b.ld(tmp, f"{SP_COMPOUND_HEAD}({page})")
    b.mr(dst, page)
    b.andi_rc("r0", tmp, 1)
    b.beq(head := b.local("head"))
    b.addi(dst, tmp, -1)
    b.label(head)


def _put_page_testzero(b, page, tmp):
    """``put_page_testzero``: a fully ordered atomic_dec_and_test of _refcount;
    cr0 eq when it reached 0."""
    b.addi("r12", page, SP_REFCOUNT)
    b.li("r11", -1)
    atomic_rmw(b, "r12", "add", "r11", tmp, word=True, ordered=True)
    b.cmpwi(tmp, 0)


def _emit_release(b, lay):
    b.label("put_page")                 # (page): a reference dropped
    epilogue = prologue(b, 48, ["r31"])
    compound_head(b, "r31", "r3", "r4")
    _put_page_testzero(b, "r31", "r4")
    b.bne(out := b.local("out"))
    b.mr("r3", "r31")
    b.bl("__put_compound_page")         # (__put_page: every page here is a THP)
    b.label(out)
    epilogue()

    b.label("release_pages")            # (pages, nr)
    pages, nr, page, flags = "r31", "r30", "r29", "r28"
    epilogue = prologue(b, 64, [pages, nr, page, flags])
    b.mr(pages, "r3")
    b.mr(nr, "r4")
    b.label(loop := b.local("page"))
    b.cmpdi(nr, 0)
    b.beq(done := b.local("done"))
    b.ld(page, f"0({pages})")
    b.addi(pages, pages, 8)
    b.addi(nr, nr, -1)
    b.li64("r4", lay.pgdat + HUGE_ZERO_PAGE)    # is_huge_zero_page
    b.ld("r4", "0(r4)")
    b.cmpd("r4", page)
    b.beq(loop)
    compound_head(b, page, page, "r4")
    _put_page_testzero(b, page, "r4")
    b.bne(loop)
    b.mr("r3", page)                    # PageCompound: __put_compound_page
    b.bl("__put_compound_page")
    b.b(loop)
    b.label(done)
    # mem_cgroup_uncharge_list and free_unref_page_list of the (empty) order-0 list
    local_irq_save(b, flags, "r4")
    local_irq_restore(b, flags)
    epilogue()

    b.label("__put_compound_page")      # (page)
    epilogue = prologue(b, 48, ["r31"])
    b.mr("r31", "r3")
    b.bl("__page_cache_release")        # !PageHuge
    b.lbz("r4", f"{STRUCT_PAGE + SP_COMPOUND_DTOR}(r31)")  # get_compound_page_dtor
    b.mr("r3", "r31")
    b.cmpdi("r4", TRANSHUGE_PAGE_DTOR)
    b.bne(plain := b.local("plain"))
    b.bl("free_transhuge_page")
    epilogue()
    b.label(plain)
    b.bl("free_compound_page")
    epilogue()

    b.label("__page_cache_release")     # (page)
    epilogue = prologue(b, 48, ["r31", "r30"])
    b.mr("r31", "r3")
    _flag_test(b, "r4", "r31", PG_lru)
    b.beq(off := b.local("off"))
    b.li64("r3", lay.pgdat + PGDAT_LRU_LOCK)
    _irqsave_lock(b, "r30", "r3", "r4")
    b.ld("r4", f"{SP_FLAGS}(r31)")      # __ClearPageLRU; page_off_lru: __ClearPageActive
    b.li64("r5", 1 << PG_lru | 1 << PG_active)
    b.andc("r4", "r4", "r5")
    b.std("r4", f"{SP_FLAGS}(r31)")
    b.addi("r4", "r31", SP_LRU)         # del_page_from_lru_list
    _list_del(b, "r4", "r5", "r6")
    b.li64("r3", lay.pgdat + PGDAT_LRU_LOCK)
    _unlock_irqrestore(b, "r30", "r3")
    b.label(off)
    b.ld("r4", f"{SP_FLAGS}(r31)")      # __ClearPageWaiters
    b.andi_rc("r0", "r4", 1 << PG_waiters)
    b.xor("r4", "r4", "r0")
    b.std("r4", f"{SP_FLAGS}(r31)")
    b.mr("r3", "r31")
    b.bl("mem_cgroup_uncharge")
    epilogue()

    b.label("free_transhuge_page")      # (page)
    epilogue = prologue(b, 48, ["r31", "r30"])
    b.mr("r31", "r3")
    b.li64("r3", lay.pgdat + SQ_LOCK)
    _irqsave_lock(b, "r30", "r3", "r4")
    b.addi("r4", "r31", 2 * STRUCT_PAGE + SP_DEFERRED_LIST)
    b.ld("r5", "0(r4)")
    b.cmpd("r5", "r4")
    b.beq(unlock := b.local("unlock"))  # not listed
    b.li64("r6", lay.pgdat + SQ_LEN)
    b.ld("r7", "0(r6)")
    b.addi("r7", "r7", -1)
    b.std("r7", "0(r6)")
    _list_del(b, "r4", "r5", "r6")
    b.label(unlock)
    b.li64("r3", lay.pgdat + SQ_LOCK)
    _unlock_irqrestore(b, "r30", "r3")
    b.mr("r3", "r31")
    b.label("free_compound_page")       # (page): __free_pages_ok(page, compound_order)
    b.lbz("r4", f"{STRUCT_PAGE + SP_COMPOUND_ORDER}(r3)")
    b.bl("__free_pages_ok")
    epilogue()


def _emit_memcg(b, lay):
    """``mem_cgroup_uncharge(page)`` [L-memcg]: ``uncharge_page`` then
    ``uncharge_batch`` for the one page."""
    b.label("mem_cgroup_uncharge")      # (page)
    page, memcg, nr, flags, c = "r31", "r30", "r29", "r28", "r27"
    epilogue = prologue(b, 64, [page, memcg, nr, flags, c])
    b.mr(page, "r3")
    b.ld(memcg, f"{SP_MEM_CGROUP}({page})")
    b.cmpdi(memcg, 0)
    b.beq(out := b.local("out"))        # not charged (no memcg)
    b.lbz("r4", f"{STRUCT_PAGE + SP_COMPOUND_ORDER}({page})")   # compound_nr
    b.li(nr, 1)
    b.sld(nr, nr, "r4")
    b.li("r0", 0)
    b.std("r0", f"{SP_MEM_CGROUP}({page})")     # page->mem_cgroup = NULL
    # uncharge_batch: page_counter_uncharge up the hierarchy, unless the root
    b.ld("r4", f"{MEMCG_PARENT}({memcg})")
    b.cmpdi("r4", 0)
    b.beq(stats := b.local("stats"))
    b.mr(c, memcg)
    b.label(up := b.local("up"))        # page_counter_cancel: atomic_long_sub_return
    b.neg("r5", nr)
    atomic_rmw(b, c, "add", "r5", "r6", ordered=True)
    b.ld("r6", f"{MEMCG_PARENT}({c})")  # propagate_protected_usage: no min/low set
    b.ld(c, f"{MEMCG_PARENT}({c})")
    b.cmpdi(c, 0)
    b.bne(up)
    b.label(stats)
    local_irq_save(b, flags, "r4")
    for stat, pcp, neg in ((MEMCG_STAT_RSS, PCP_MEMCG_RSS, True),
                           (MEMCG_STAT_RSS_HUGE, PCP_MEMCG_RSS_HUGE, True),
                           (MEMCG_STAT_PGPGOUT, PCP_MEMCG_PGPGOUT, False)):
        _memcg_mod(b, lay, memcg, nr if neg else None, stat, pcp)
    this_cpu_line(b, "r4", lay.pcp)     # nr_page_events; memcg_check_events
    b.ld("r5", f"{PCP_MEMCG_EVENTS}(r4)")
    b.add("r5", "r5", nr)
    b.std("r5", f"{PCP_MEMCG_EVENTS}(r4)")
    b.ld("r6", f"{PCP_MEMCG_TARGET}(r4)")
    b.subf_rc("r7", "r5", "r6")
    b.bge(restore := b.local("restore"))
    b.addi("r6", "r5", THRESHOLDS_EVENTS_TARGET)    # no threshold registered
    b.std("r6", f"{PCP_MEMCG_TARGET}(r4)")
    b.label(restore)
    local_irq_restore(b, flags)
    b.ld("r4", f"{MEMCG_PARENT}({memcg})")
    b.cmpdi("r4", 0)
    b.beq(out)
    this_cpu_line(b, "r4", lay.pcp)     # css_put_many: percpu_ref, this_cpu_sub
    b.ld("r5", f"{PCP_CSS_REF}(r4)")
    b.subf("r5", nr, "r5")
    b.std("r5", f"{PCP_CSS_REF}(r4)")
    b.label(out)
    epilogue()


def _memcg_mod(b, lay, memcg, nr, stat, pcp):
    """``__mod_memcg_state(memcg, idx, -nr)`` (``nr`` None: the PGPGOUT event, +1):
    the per-CPU value folded up the hierarchy beyond MEMCG_CHARGE_BATCH."""
    this_cpu_line(b, "r4", lay.pcp)
    b.ld("r5", f"{pcp}(r4)")
    if nr is None:
        b.addi("r5", "r5", 1)
    else:
        b.subf("r5", nr, "r5")
    b.sradi("r6", "r5", 63)             # abs
    b.xor("r7", "r5", "r6")
    b.subf("r7", "r6", "r7")
    b.cmpdi("r7", MEMCG_CHARGE_BATCH)
    b.ble(keep := b.local("keep"))
    b.mr("r8", memcg)
    b.label(up := b.local("up"))
    b.addi("r9", "r8", MEMCG_STAT + stat)
    atomic_rmw(b, "r9", "add", "r5", "r0")
    b.ld("r8", f"{MEMCG_PARENT}(r8)")
    b.cmpdi("r8", 0)
    b.bne(up)
    b.li("r5", 0)
    b.label(keep)
    b.std("r5", f"{pcp}(r4)")


def _emit_free_pages(b, lay):
    b.label("__free_pages_ok")          # (page, order)
    page, order, flags = "r31", "r30", "r29"
    epilogue = prologue(b, 48, [page, order, flags])
    b.mr(page, "r3")
    b.mr(order, "r4")
    b.bl("free_pages_prepare")
    b.cmpdi("r3", 0)
    b.beq(out := b.local("out"))        # a bad page: not freed
    trace(b, PAGE_FREE, page, order, scratch="r4")
    local_irq_save(b, flags, "r4")
    this_cpu_line(b, "r4", lay.pcp)     # __count_vm_events(PGFREE, 1 << order)
    b.ld("r5", f"{PCP_PGFREE}(r4)")
    b.li("r6", 1)
    b.sld("r6", "r6", order)
    b.add("r5", "r5", "r6")
    b.std("r5", f"{PCP_PGFREE}(r4)")
    b.mr("r3", page)
    b.mr("r4", order)
    b.bl("free_one_page")
    local_irq_restore(b, flags)
    b.label(out)
    epilogue()

    b.label("free_pages_prepare")       # (page, order) -> 1 ok / 0 bad
    b.li("r5", 0)                       # bad
    b.li64("r9", PAGE_FLAGS_CHECK_AT_FREE)
    b.li64("r10", PAGE_FLAGS_CHECK_AT_PREP)
    b.addi("r6", "r3", STRUCT_PAGE + SP_FLAGS)  # ClearPageDoubleMap: clear_bit
    b.li64("r7", 1 << PG_double_map)
    atomic_rmw(b, "r6", "andc", "r7", "r8")
    b.li("r6", 1)
    b.sld("r6", "r6", "r4")
    b.addic_rc("r6", "r6", -1)
    b.beq(head := b.local("head"))      # order 0: no tail pages
    b.mtctr("r6")                       # the tail pages
    b.addi("r6", "r3", STRUCT_PAGE)
    b.li("r0", 0)
    b.label(tail := b.local("tail"))
    b.std("r0", f"{SP_MAPPING}(r6)")    # free_tail_pages_check: mapping, compound_head
    b.std("r0", f"{SP_COMPOUND_HEAD}(r6)")
    _free_pages_check(b, "r6", "r5")
    b.andc("r7", "r7", "r10")           # flags &= ~PAGE_FLAGS_CHECK_AT_PREP
    b.std("r7", f"{SP_FLAGS}(r6)")
    b.addi("r6", "r6", STRUCT_PAGE)
    b.bdnz(tail)
    b.label(head)
    b.ld("r7", f"{SP_MAPPING}(r3)")     # PageMappingFlags: mapping = NULL
    b.andi_rc("r7", "r7", 3)
    b.beq(mapped := b.local("mapped"))
    b.std("r0", f"{SP_MAPPING}(r3)")
    b.label(mapped)
    _free_pages_check(b, "r3", "r5")
    b.andc("r7", "r7", "r10")
    b.std("r7", f"{SP_FLAGS}(r3)")
    b.cntlzd("r3", "r5")                # !bad
    b.srdi("r3", "r3", 6)
    b.blr()

    b.label("free_one_page")            # (page, order)
    epilogue = prologue(b, 48, [page, order])
    b.mr(page, "r3")
    b.mr(order, "r4")
    b.li64("r3", lay.zone + ZONE_LOCK)
    spin_lock(b, "r3", "r4")
    b.li64("r4", lay.zone + ZONE_ISOLATE)   # has_isolate_pageblock
    b.ld("r4", "0(r4)")
    b.mr("r3", page)
    b.mr("r4", order)
    b.bl("__free_one_page")
    b.li64("r3", lay.zone + ZONE_LOCK)
    spin_unlock(b, "r3")
    epilogue()
    _emit_free_one_page(b, lay)


def _free_pages_check(b, page, bad):
    """``free_pages_check``: _mapcount == -1 and mapping, _refcount, mem_cgroup
    and the CHECK_AT_FREE flags all 0, else ``bad`` += 1.  Leaves r7 = flags."""
    b.lwa("r7", f"{SP_MAPCOUNT}({page})")
    b.addi("r7", "r7", 1)
    b.ld("r8", f"{SP_MAPPING}({page})")
    b.emit("or r7,r7,r8")
    b.lwz("r8", f"{SP_REFCOUNT}({page})")
    b.emit("or r7,r7,r8")
    b.ld("r8", f"{SP_MEM_CGROUP}({page})")
    b.emit("or r8,r7,r8")
    b.ld("r7", f"{SP_FLAGS}({page})")
    b.and_("r11", "r7", "r9")
    b.emit("or. r8,r8,r11")
    b.beq(ok := b.local("ok"))
    b.addi(bad, bad, 1)
    b.label(ok)


def _emit_free_one_page(b, lay):
    """``__free_one_page`` [L-page-alloc]: the zone's free-page counter, then
    merge with each free buddy of the same order up to MAX_ORDER - 1, set the
    order, and add the block to its free list (at the tail when the next
    order's buddy is free, so that it merges soon)."""
    b.label("__free_one_page")          # (page, order), zone->lock held
    page, order, pfn, vmemmap = "r31", "r30", "r29", "r28"
    epilogue = prologue(b, 64, [page, order, pfn, vmemmap])
    b.mr(page, "r3")
    b.mr(order, "r4")
    b.li64(vmemmap, lay.vmemmap)
    b.subf(pfn, vmemmap, page)
    b.srdi(pfn, pfn, 6)                 # page_to_pfn (from the vmemmap's first frame)
    b.li("r5", 1)
    b.sld("r5", "r5", order)            # __mod_zone_freepage_state(zone, 1 << order)
    b.mr("r3", "r5")
    b.bl("zone_free_pages_add")
    b.label(merge := b.local("merge"))
    b.cmpldi(order, MAX_ORDER - 1)
    b.bge(done := b.local("done"))
    b.li("r5", 1)
    b.sld("r5", "r5", order)
    b.xor("r6", pfn, "r5")              # buddy_pfn = pfn ^ (1 << order)
    b.sldi("r7", "r6", 6)
    b.add("r7", "r7", vmemmap)          # buddy
    _page_is_buddy(b, "r7", order, "r8", "r9")
    b.bne(done)
    b.addi("r8", "r7", SP_LRU)          # del_page_from_free_area
    _list_del(b, "r8", "r9", "r11")
    b.lwz("r8", f"{SP_MAPCOUNT}(r7)")   # __ClearPageBuddy; set_page_private(0)
    b.ori("r8", "r8", PG_BUDDY)
    b.stw("r8", f"{SP_MAPCOUNT}(r7)")
    b.li("r0", 0)
    b.std("r0", f"{SP_PRIVATE}(r7)")
    _free_area(b, "r8", lay, order)
    b.ld("r9", f"{FA_NR_FREE}(r8)")
    b.addi("r9", "r9", -1)
    b.std("r9", f"{FA_NR_FREE}(r8)")
    b.and_(pfn, pfn, "r6")              # combined_pfn
    b.sldi(page, pfn, 6)
    b.add(page, page, vmemmap)
    b.addi(order, order, 1)
    b.b(merge)
    b.label(done)
    b.std(order, f"{SP_PRIVATE}({page})")   # set_page_order: private, __SetPageBuddy
    b.lwz("r8", f"{SP_MAPCOUNT}({page})")
    b.rlwinm("r8", "r8", 0, 25, 23)     # & ~PG_buddy
    b.stw("r8", f"{SP_MAPCOUNT}({page})")
    b.li("r12", 0)                      # at the head, unless the higher buddy is free
    b.cmpldi(order, MAX_ORDER - 2)
    b.bge(add := b.local("add"))
    b.li("r5", 2)
    b.sld("r5", "r5", order)            # the order + 1 buddy of the combined block
    b.li("r6", 1)
    b.sld("r6", "r6", order)
    b.andc("r6", pfn, "r6")
    b.xor("r6", "r6", "r5")
    b.sldi("r7", "r6", 6)
    b.add("r7", "r7", vmemmap)
    b.addi("r11", order, 1)
    _page_is_buddy(b, "r7", "r11", "r8", "r9")
    b.bne(add)
    b.li("r12", 1)
    b.label(add)
    _free_area(b, "r8", lay, order)
    b.addi("r9", page, SP_LRU)
    b.cmpdi("r12", 0)
    b.bne(tail := b.local("tail"))
    _list_add(b, "r9", "r8", "r11")
    b.b(count := b.local("count"))
    b.label(tail)
    _list_add(b, "r9", "r8", "r11", tail=True)
    b.label(count)
    b.ld("r9", f"{FA_NR_FREE}(r8)")
    b.addi("r9", "r9", 1)
    b.std("r9", f"{FA_NR_FREE}(r8)")
    epilogue()

    b.label("zone_free_pages_add")      # (nr): __mod_zone_page_state(NR_FREE_PAGES)
    b.mr("r5", "r3")
    this_cpu_line(b, "r6", lay.pcp)
    b.lbz("r7", f"{PCP_ZONE_FREE}(r6)")
    b.extsb("r7", "r7")
    b.add("r7", "r7", "r5")
    b.lbz("r8", f"{PCP_ZONE_THRESHOLD}(r6)")
    b.cmpd("r7", "r8")
    b.bgt(fold := b.local("fold"))
    b.neg("r8", "r8")
    b.cmpd("r7", "r8")
    b.bge(keep := b.local("keep"))
    b.label(fold)
    b.li64("r8", lay.zone + ZONE_FREE_PAGES)
    atomic_rmw(b, "r8", "add", "r7", "r0")
    b.li("r7", 0)
    b.label(keep)
    b.stb("r7", f"{PCP_ZONE_FREE}(r6)")
    b.blr()


def _page_is_buddy(b, buddy, order, t1, t2):
    """``page_is_buddy``: PageBuddy(buddy) and page_order(buddy) == order;
    cr0 eq when it is (one zone: the zone ids match)."""
    b.lwz(t1, f"{SP_MAPCOUNT}({buddy})")
    b.li64(t2, PAGE_TYPE_BASE | PG_BUDDY)
    b.and_(t1, t1, t2)
    b.li64(t2, PAGE_TYPE_BASE)
    b.cmpd(t1, t2)
    b.bne(no := b.local("no"))
    b.ld(t1, f"{SP_PRIVATE}({buddy})")
    b.cmpd(t1, order)
    b.label(no)


def _free_area(b, dst, lay, order):
    """``dst = &zone->free_area[order]``."""
    b.mulli(dst, order, FREE_AREA_BYTES)
    b.li64("r0", lay.zone + ZONE_FREE_AREA)
    b.add(dst, dst, "r0")


# --- the gather's page batches -----------------------------------------------------------
def _emit_gather(b, lay, tlb_active, tlb_batch_count, tlb_local):
    b.label("tlb_remove_page_size")     # (tlb, page): queue; flush a full gather
    epilogue = prologue(b, 48, ["r31"])
    b.mr("r31", "r3")
    b.bl("__tlb_remove_page_size")
    b.cmpdi("r3", 0)
    b.beq(out := b.local("out"))
    b.mr("r3", "r31")
    b.bl("tlb_flush_mmu")
    b.label(out)
    epilogue()

    b.label("__tlb_remove_page_size")   # (tlb, page) -> 1: flush now
    b.ld("r5", f"{tlb_active}(r3)")
    b.lwz("r6", f"{BATCH_NR}(r5)")
    b.sldi("r7", "r6", 3)
    b.addi("r7", "r7", BATCH_PAGES)
    b.stdx("r4", "r5", "r7")            # batch->pages[batch->nr++] = page
    b.addi("r6", "r6", 1)
    b.stw("r6", f"{BATCH_NR}(r5)")
    b.lwz("r7", f"{BATCH_MAX}(r5)")
    b.li("r4", 0)
    b.cmpw("r6", "r7")
    b.bne(out := b.local("out"))
    # tlb_next_batch
    b.ld("r6", f"{BATCH_NEXT}(r5)")
    b.cmpdi("r6", 0)
    b.beq(new := b.local("new"))
    b.std("r6", f"{tlb_active}(r3)")
    b.b(out)
    b.label(new)
    b.ld("r6", f"{tlb_batch_count}(r3)")
    b.cmpdi("r6", max_gather_batch_count(GATHER_PAGE_BYTES))
    b.li("r4", 1)
    b.beq(out)                          # MAX_GATHER_BATCH_COUNT reached: flush
    b.addi("r6", "r6", 1)               # __get_free_pages(GFP_NOWAIT, 0): the CPU's page
    b.std("r6", f"{tlb_batch_count}(r3)")
    b.ld("r6", f"{PACA_CPU}(r13)")
    b.sldi("r6", "r6", GATHER_PAGE_BYTES.bit_length() - 1)
    b.li64("r0", lay.gather_pages)
    b.add("r6", "r6", "r0")
    b.li("r0", 0)
    b.std("r0", f"{BATCH_NEXT}(r6)")
    b.stw("r0", f"{BATCH_NR}(r6)")
    b.li("r0", max_gather_batch(GATHER_PAGE_BYTES))
    b.stw("r0", f"{BATCH_MAX}(r6)")
    b.std("r6", f"{BATCH_NEXT}(r5)")
    b.std("r6", f"{tlb_active}(r3)")
    b.li("r4", 0)
    b.label(out)
    b.mr("r3", "r4")
    b.blr()

    b.label("tlb_batch_pages_flush")    # (tlb): free_pages_and_swap_cache per batch
    epilogue = prologue(b, 48, ["r31", "r30"])
    b.mr("r31", "r3")
    b.addi("r30", "r3", tlb_local)
    b.lwz("r4", f"{BATCH_NR}(r30)")
    b.cmpwi("r4", 0)
    b.beq(reset := b.local("reset"))
    this_cpu_line(b, "r5", lay.pcp)
    b.ld("r6", f"{PCP_GATHER_FLUSHES}(r5)")
    b.addi("r6", "r6", 1)
    b.std("r6", f"{PCP_GATHER_FLUSHES}(r5)")
    b.li("r6", 0)
    trace(b, PAGES_FLUSH, "r6", scratch="r5")
    b.label(loop := b.local("batch"))
    b.lwz("r4", f"{BATCH_NR}(r30)")
    b.cmpwi("r4", 0)
    b.beq(freed := b.local("freed"))
    b.addi("r3", "r30", BATCH_PAGES)
    b.bl("free_pages_and_swap_cache")
    b.li("r0", 0)
    b.stw("r0", f"{BATCH_NR}(r30)")
    b.ld("r30", f"{BATCH_NEXT}(r30)")
    b.cmpdi("r30", 0)
    b.bne(loop)
    b.label(freed)
    b.li("r6", 1)
    trace(b, PAGES_FLUSH, "r6", scratch="r5")
    b.label(reset)
    b.addi("r4", "r31", tlb_local)      # tlb->active = &tlb->local
    b.std("r4", f"{tlb_active}(r31)")
    epilogue()

    b.label("free_pages_and_swap_cache")    # (pages, nr)
    epilogue = prologue(b, 48, ["r31", "r30"])
    b.mr("r31", "r3")
    b.mr("r30", "r4")
    b.mtctr("r4")
    b.li64("r6", 1 << PG_swapcache)
    b.label(loop := b.local("swap"))    # free_swap_cache: PageSwapCache (none here)
    b.ld("r5", "0(r3)")
    b.ld("r5", f"{SP_FLAGS}(r5)")
    b.and_("r5", "r5", "r6")
    b.addi("r3", "r3", 8)
    b.bdnz(loop)
    b.mr("r3", "r31")
    b.mr("r4", "r30")
    b.bl("release_pages")
    epilogue()


def emit(b, lay, tlb_active, tlb_batch_count, tlb_local):
    """Every routine above; the gather's field offsets come from tlbflush.py."""
    _emit_rmap(b, lay)
    _emit_pte_rmap(b, lay)
    _emit_release(b, lay)
    _emit_memcg(b, lay)
    _emit_free_pages(b, lay)
    _emit_gather(b, lay, tlb_active, tlb_batch_count, tlb_local)


# --- the initial state --------------------------------------------------------------------
def _u64(mem, addr, value):
    a = addr - KERNELBASE
    mem[a:a + 8] = np.frombuffer((value & ((1 << 64) - 1)).to_bytes(8, "little"), np.uint8)


def build_struct_pages(mem, lay, thps: int, mm_addr: int,
                       memcg_depth: int):
    """Write the vmemmap for ``thps`` mapped anonymous THPs (their heads on the
    active anon LRU in order, charged to the memcg leaf), the zone, node, memcg
    and per-CPU lines, and the mm's MM_ANONPAGES."""
    nframes = lay.vmemmap_frames
    base = lay.vmemmap - KERNELBASE
    sp = mem[base:base + nframes * STRUCT_PAGE].view(np.uint64).reshape(nframes, 8)
    n = thps * FRAMES_PER_THP
    sp.view(np.int32)[:, SP_MAPCOUNT // 4] = -1
    sp.view(np.int32)[n:, SP_REFCOUNT // 4] = 1     # beyond the region: allocated order-0
    leaf = lay.memcg if memcg_depth else 0
    thp_bytes = FRAMES_PER_THP * STRUCT_PAGE
    lru_head = lay.pgdat + PGDAT_LRU
    for lo in range(0, thps, 1 << 16):          # in chunks: small temporaries at 4 TiB
        hi = min(thps, lo + (1 << 16))
        _write_thps(sp[lo * FRAMES_PER_THP:hi * FRAMES_PER_THP], lay.vmemmap + lo * thp_bytes,
                    lo, thps, mm_addr, leaf, lru_head)
    if thps:
        _u64(mem, lru_head, lay.vmemmap + SP_LRU)
        _u64(mem, lru_head + 8, lay.vmemmap + (thps - 1) * thp_bytes + SP_LRU)
    else:
        for off in (0, 8):
            _u64(mem, lay.pgdat + PGDAT_LRU + off, lay.pgdat + PGDAT_LRU)
    for off in (0, 8):
        _u64(mem, lay.pgdat + SQ_LIST + off, lay.pgdat + SQ_LIST)
    for order in range(MAX_ORDER):
        fa = lay.zone + ZONE_FREE_AREA + order * FREE_AREA_BYTES
        _u64(mem, fa, fa)
        _u64(mem, fa + 8, fa)
    _u64(mem, lay.pgdat + PGDAT_ANON_THPS, thps)
    _u64(mem, lay.pgdat + PGDAT_ANON_MAPPED, n)
    for level in range(memcg_depth):
        line = lay.memcg + level * LINE
        _u64(mem, line + MEMCG_USAGE, n)
        _u64(mem, line + MEMCG_PARENT, line + LINE if level + 1 < memcg_depth else 0)
    _u64(mem, mm_addr + MM_RSS_ANON, n)
    threshold = vmstat_threshold(lay.ncpus, nframes)
    for cpu in range(lay.ncpus):
        line = lay.pcp + cpu * LINE - KERNELBASE
        mem[line + PCP_ZONE_THRESHOLD] = threshold
        mem[line + PCP_NODE_THRESHOLD] = threshold
        _u64(mem, lay.pcp + cpu * LINE + PCP_MEMCG_TARGET, THRESHOLDS_EVENTS_TARGET)


def _write_thps(sp, first, lo, thps, mm_addr, leaf, lru_head):
    """THPs lo.. of ``thps`` (their struct pages ``sp``, the first at ``first``):
    prep_compound_page, prep_transhuge_page, the anon rmap, the LRU links, the
    memcg charge."""
    k = len(sp) // FRAMES_PER_THP
    t = sp.reshape(k, FRAMES_PER_THP, 8)
    heads = np.uint64(first) + np.arange(k, dtype=np.uint64) * np.uint64(
        FRAMES_PER_THP * STRUCT_PAGE)
    t[:, 1:, SP_COMPOUND_HEAD // 8] = (heads + np.uint64(1))[:, None]
    t[:, 1:, SP_MAPPING // 8] = np.uint64(TAIL_MAPPING)
    t[:, 0, SP_FLAGS // 8] = np.uint64(sum(1 << f for f in (
        PG_head, PG_lru, PG_active, PG_uptodate, PG_swapbacked)))
    t[:, 0, SP_MAPPING // 8] = np.uint64(mm_addr | PAGE_MAPPING_ANON)     # anon_vma
    t[:, 0, SP_INDEX // 8] = (np.arange(lo, lo + k, dtype=np.uint64)
                              * np.uint64(FRAMES_PER_THP))
    t[:, 0, SP_MEM_CGROUP // 8] = np.uint64(leaf)
    t.view(np.int32)[:, 0, SP_REFCOUNT // 4] = 1
    b8 = t.view(np.uint8)
    b8[:, 1, SP_COMPOUND_DTOR] = TRANSHUGE_PAGE_DTOR
    b8[:, 1, SP_COMPOUND_ORDER] = THP_ORDER
    t.view(np.int32)[:, 1, SP_COMPOUND_MAPCOUNT // 4] = 0     # one PMD mapping
    dl = heads + np.uint64(2 * STRUCT_PAGE + SP_DEFERRED_LIST)   # INIT_LIST_HEAD
    t[:, 2, SP_DEFERRED_LIST // 8] = dl
    t[:, 2, SP_DEFERRED_LIST // 8 + 1] = dl
    lru = heads + np.uint64(SP_LRU)             # the heads on the LRU, in order
    step = np.uint64(FRAMES_PER_THP * STRUCT_PAGE)
    t[:, 0, SP_LRU // 8] = lru + step
    t[:, 0, SP_LRU // 8 + 1] = lru - step
    if lo == 0:
        t[0, 0, SP_LRU // 8 + 1] = np.uint64(lru_head)
    if lo + k == thps:
        t[-1, 0, SP_LRU // 8] = np.uint64(lru_head)


def s8(v: int) -> int:
    return v - 256 if v >= 128 else v


def zone_free_pages(mem_u64, mem_u8, lay) -> int:
    """zone_page_state_snapshot(NR_FREE_PAGES): the counter plus every CPU's diff."""
    total = mem_u64(lay.zone + ZONE_FREE_PAGES)
    return total + sum(s8(mem_u8(lay.pcp + c * LINE + PCP_ZONE_FREE)) for c in range(lay.ncpus))
