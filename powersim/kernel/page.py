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

from powersim.asm_builder import (R0, R3, R4, R5, R6, R7, R8, R9, R10, R11, R12, R13, R27, R28,
                                   R29, R30, R31)
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
    b.ld(dst, f"{PACA_CPU}({R13})")
    b.sldi(dst, dst, 7)
    b.li64(R0, base)
    b.add(dst, dst, R0)


def _vmstat_mod(b, lay, diff_off, thr_off, counter, delta, t1, t2, t3):
    """``__mod_zone_page_state`` / ``__mod_node_page_state`` [L-vmstat]:
    ``x = delta + this CPU's s8 diff``; beyond the threshold, ``atomic_long_add``
    of x to the counter at address ``counter`` (an immediate) and x = 0.
    ``delta``: an immediate, or a register holding it."""
    this_cpu_line(b, t1, lay.pcp)
    b.lbz(t2, f"{diff_off}({t1})")
    b.extsb(t2, t2)
    if isinstance(delta, str):
        b.add(t2, t2, delta)
    else:
        b.addi(t2, t2, delta)
    b.lbz(t3, f"{thr_off}({t1})")
    b.cmpd(t2, t3)
    b.bgt(fold := b.local("fold"))
    b.neg(t3, t3)
    b.cmpd(t2, t3)
    b.bge(keep := b.local("keep"))
    b.label(fold)
    b.li64(t3, counter)
    atomic_rmw(b, t3, "add", t2, R0)
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
    b.li64(R0, RPN_MASK)
    b.and_(dst, entry, R0)
    b.li64(R0, THP_FRAMES)
    b.subf(dst, R0, dst)
    b.srdi(dst, dst, PAGE_SHIFT)


def index_to_page(b, dst, index, lay):
    """``dst = pfn_to_page``: the struct page of a vmemmap index."""
    b.sldi(dst, index, 6)
    b.li64(R0, lay.vmemmap)
    b.add(dst, dst, R0)


# --- rmap and counters ----------------------------------------------------------------
def _emit_rmap(b, lay):
    b.label("page_remove_rmap_thp")     # (page): page_remove_anon_compound_rmap
    page, flags = R31, R30
    epilogue = prologue(b, 48, [page, flags])
    b.mr(page, R3)
    b.addi(R4, page, STRUCT_PAGE + SP_COMPOUND_MAPCOUNT)
    b.li(R5, -1)
    atomic_rmw(b, R4, "add", R5, R6, word=True, ordered=True)         # atomic_add_negative
    b.cmpdi(R6, 0)
    b.bge(out := b.local("out"))        # still mapped by another PMD
    _vmstat_step_node(b, lay, PCP_NODE_ANON_THPS, lay.pgdat + PGDAT_ANON_THPS)
    b.addi(R4, page, STRUCT_PAGE + SP_FLAGS)        # TestClearPageDoubleMap
    b.li64(R5, 1 << PG_double_map)
    atomic_rmw(b, R4, "andc", R5, R6, ordered=True)
    _flag_test(b, R4, page, PG_mlocked)             # PageMlocked: clear_page_mlock
    _vmstat_mod(b, lay, PCP_NODE_ANON_MAPPED, PCP_NODE_THRESHOLD,
                lay.pgdat + PGDAT_ANON_MAPPED, -FRAMES_PER_THP, R4, R5, R6)
    b.mr(R3, page)
    b.bl("deferred_split_huge_page")
    b.label(out)
    epilogue()

    b.label("deferred_split_huge_page")     # (page)
    epilogue = prologue(b, 48, [page, flags])
    b.mr(page, R3)
    b.ld(R4, f"{SP_FLAGS}({page})")         # PageSwapCache: swapbacked and swapcache
    b.li64(R5, 1 << PG_swapbacked | 1 << PG_swapcache)
    b.and_(R4, R4, R5)
    b.cmpd(R4, R5)
    b.beq(out := b.local("out"))
    b.li64(R3, lay.pgdat + SQ_LOCK)
    _irqsave_lock(b, flags, R3, R4)
    b.addi(R4, page, 2 * STRUCT_PAGE + SP_DEFERRED_LIST)
    b.ld(R5, f"0({R4})")
    b.cmpd(R5, R4)                          # list_empty(page_deferred_list(page))
    b.bne(unlock := b.local("unlock"))
    this_cpu_line(b, R6, lay.pcp)           # count_vm_event(THP_DEFERRED_SPLIT_PAGE)
    b.ld(R7, f"{PCP_THP_DEFERRED}({R6})")
    b.addi(R7, R7, 1)
    b.std(R7, f"{PCP_THP_DEFERRED}({R6})")
    b.li64(R6, lay.pgdat + SQ_LIST)
    _list_add(b, R4, R6, R7, tail=True)
    b.li64(R6, lay.pgdat + SQ_LEN)
    b.ld(R7, f"0({R6})")
    b.addi(R7, R7, 1)
    b.std(R7, f"0({R6})")
    b.ld(R6, f"{SP_MEM_CGROUP}({page})")    # memcg_set_shrinker_bit, not for the root
    b.cmpdi(R6, 0)
    b.beq(unlock)
    b.ld(R7, f"{MEMCG_PARENT}({R6})")
    b.cmpdi(R7, 0)
    b.beq(unlock)
    b.addi(R6, R6, MEMCG_SHRINKER_MAP)
    b.li(R7, 1)                             # smp_mb__before_atomic; set_bit
    b.sync()
    atomic_rmw(b, R6, "or", R7, R8)
    b.label(unlock)
    b.li64(R3, lay.pgdat + SQ_LOCK)
    _unlock_irqrestore(b, flags, R3)
    b.label(out)
    epilogue()


def _vmstat_step_node(b, lay, diff_off, counter, step=-1):
    """``__dec_node_page_state`` / ``__inc_node_page_state`` (``step`` -1 / +1)
    [L-vmstat]: the diff moved by one; past the threshold, the counter gets the
    diff plus half the threshold beyond it (the overstep) and the diff is left
    at minus that overstep."""
    this_cpu_line(b, R4, lay.pcp)
    b.lbz(R5, f"{diff_off}({R4})")
    b.extsb(R5, R5)
    b.addi(R5, R5, step)
    b.lbz(R6, f"{PCP_NODE_THRESHOLD}({R4})")
    if step < 0:
        b.neg(R7, R6)
        b.cmpd(R5, R7)
        b.bge(keep := b.local("keep"))
    else:
        b.cmpd(R5, R6)
        b.ble(keep := b.local("keep"))
    b.srdi(R6, R6, 1)                   # overstep
    if step < 0:
        b.subf(R7, R6, R5)              # v - overstep; the diff is +overstep
    else:
        b.add(R7, R5, R6)               # v + overstep; the diff is -overstep
        b.neg(R6, R6)
    b.li64(R8, counter)
    atomic_rmw(b, R8, "add", R7, R0)
    b.mr(R5, R6)
    b.label(keep)
    b.stb(R5, f"{diff_off}({R4})")


def _emit_pte_rmap(b, lay):
    """The rmap of a THP's 64K pages once split_huge_pmd mapped them by PTEs."""
    b.label("page_remove_rmap_pte")     # (page): page_remove_rmap(page, false), anon
    page = R31
    epilogue = prologue(b, 48, [page])
    b.mr(page, R3)
    b.addi(R4, page, SP_MAPCOUNT)
    b.li(R5, -1)
    atomic_rmw(b, R4, "add", R5, R6, word=True, ordered=True)         # atomic_add_negative
    b.cmpdi(R6, 0)
    b.bge(out := b.local("out"))        # still mapped by someone else
    _vmstat_step_node(b, lay, PCP_NODE_ANON_MAPPED, lay.pgdat + PGDAT_ANON_MAPPED)
    _flag_test(b, R4, page, PG_mlocked)
    compound_head(b, R3, page, R4)      # PageTransCompound: deferred_split_huge_page
    b.cmpd(R3, page)
    b.bne(split := b.local("split"))
    _flag_test(b, R4, page, PG_head)
    b.beq(out)
    b.label(split)
    b.bl("deferred_split_huge_page")
    b.label(out)
    epilogue()

    b.label("split_huge_pmd_rmap")      # (page): __split_huge_pmd_locked's struct pages
    epilogue = prologue(b, 48, [page])
    b.mr(page, R3)
    b.addi(R4, page, SP_REFCOUNT)       # page_ref_add(page, HPAGE_PMD_NR - 1): the PTEs'
    b.li(R5, FRAMES_PER_THP - 1)
    atomic_rmw(b, R4, "add", R5, R6, word=True)
    _each_subpage_mapcount(b, page, 1)  # atomic_inc(&page[i]._mapcount) per PTE
    b.lwa(R4, f"{STRUCT_PAGE + SP_COMPOUND_MAPCOUNT}({page})")     # > 1: DoubleMap
    b.addi(R4, page, STRUCT_PAGE + SP_COMPOUND_MAPCOUNT)          # (one mapping: never)
    b.li(R5, -1)
    atomic_rmw(b, R4, "add", R5, R6, word=True, ordered=True)         # atomic_add_negative
    b.cmpdi(R6, 0)
    b.bge(out := b.local("out"))
    _vmstat_step_node(b, lay, PCP_NODE_ANON_THPS, lay.pgdat + PGDAT_ANON_THPS)
    b.addi(R4, page, STRUCT_PAGE + SP_FLAGS)        # TestClearPageDoubleMap (never set)
    b.li64(R5, 1 << PG_double_map)
    atomic_rmw(b, R4, "andc", R5, R6, ordered=True)
    b.label(out)
    epilogue()

    b.label("collapse_huge_page_rmap")  # (page): the frames mapped by a PMD again
    epilogue = prologue(b, 48, [page])
    b.mr(page, R3)
    _each_subpage_mapcount(b, page, -1)
    b.addi(R4, page, STRUCT_PAGE + SP_COMPOUND_MAPCOUNT)
    b.li(R5, 1)
    atomic_rmw(b, R4, "add", R5, R6, word=True)
    _vmstat_step_node(b, lay, PCP_NODE_ANON_THPS, lay.pgdat + PGDAT_ANON_THPS, 1)
    b.addi(R4, page, SP_REFCOUNT)
    b.li(R5, 1 - FRAMES_PER_THP)
    atomic_rmw(b, R4, "add", R5, R6, word=True)
    epilogue()


def _each_subpage_mapcount(b, page, delta):
    """``atomic_inc`` / ``atomic_dec`` of every subpage's _mapcount (no barrier)."""
    b.li(R5, FRAMES_PER_THP)
    b.mtctr(R5)
    b.addi(R4, page, SP_MAPCOUNT)
    b.li(R5, delta)
    b.label(loop := b.local("sub"))
    atomic_rmw(b, R4, "add", R5, R6, word=True)
    b.addi(R4, R4, STRUCT_PAGE)
    b.bdnz(loop)


# --- the free path ----------------------------------------------------------------------
def compound_head(b, dst, page, tmp):
    """``dst = compound_head(page)``: a tail's compound_head has bit 0 set."""
    b.ld(tmp, f"{SP_COMPOUND_HEAD}({page})")
    b.mr(dst, page)
    b.andi_rc(R0, tmp, 1)
    b.beq(head := b.local("head"))
    b.addi(dst, tmp, -1)
    b.label(head)


def _put_page_testzero(b, page, tmp):
    """``put_page_testzero``: a fully ordered atomic_dec_and_test of _refcount;
    cr0 eq when it reached 0."""
    b.addi(R12, page, SP_REFCOUNT)
    b.li(R11, -1)
    atomic_rmw(b, R12, "add", R11, tmp, word=True, ordered=True)
    b.cmpwi(tmp, 0)


def _emit_release(b, lay):
    head = R31                          # compound_head(page)
    b.label("put_page")                 # (page): a reference dropped
    epilogue = prologue(b, 48, [head])
    compound_head(b, head, R3, R4)
    _put_page_testzero(b, head, R4)
    b.bne(out := b.local("out"))
    b.mr(R3, head)
    b.bl("__put_compound_page")         # (__put_page: every page here is a THP)
    b.label(out)
    epilogue()

    b.label("release_pages")            # (pages, nr)
    pages, nr, page, flags = R31, R30, R29, R28
    epilogue = prologue(b, 64, [pages, nr, page, flags])
    b.mr(pages, R3)
    b.mr(nr, R4)
    b.label(loop := b.local("page"))
    b.cmpdi(nr, 0)
    b.beq(done := b.local("done"))
    b.ld(page, f"0({pages})")
    b.addi(pages, pages, 8)
    b.addi(nr, nr, -1)
    b.li64(R4, lay.pgdat + HUGE_ZERO_PAGE)      # is_huge_zero_page
    b.ld(R4, f"0({R4})")
    b.cmpd(R4, page)
    b.beq(loop)
    compound_head(b, page, page, R4)
    _put_page_testzero(b, page, R4)
    b.bne(loop)
    b.mr(R3, page)                      # PageCompound: __put_compound_page
    b.bl("__put_compound_page")
    b.b(loop)
    b.label(done)
    # mem_cgroup_uncharge_list and free_unref_page_list of the (empty) order-0 list
    local_irq_save(b, flags, R4)
    local_irq_restore(b, flags)
    epilogue()

    page = R31
    b.label("__put_compound_page")      # (page)
    epilogue = prologue(b, 48, [page])
    b.mr(page, R3)
    b.bl("__page_cache_release")        # !PageHuge
    b.lbz(R4, f"{STRUCT_PAGE + SP_COMPOUND_DTOR}({page})")  # get_compound_page_dtor
    b.mr(R3, page)
    b.cmpdi(R4, TRANSHUGE_PAGE_DTOR)
    b.bne(plain := b.local("plain"))
    b.bl("free_transhuge_page")
    epilogue()
    b.label(plain)
    b.bl("free_compound_page")
    epilogue()

    page, flags = R31, R30
    b.label("__page_cache_release")     # (page)
    epilogue = prologue(b, 48, [page, flags])
    b.mr(page, R3)
    _flag_test(b, R4, page, PG_lru)
    b.beq(off := b.local("off"))
    b.li64(R3, lay.pgdat + PGDAT_LRU_LOCK)
    _irqsave_lock(b, flags, R3, R4)
    b.ld(R4, f"{SP_FLAGS}({page})")     # __ClearPageLRU; page_off_lru: __ClearPageActive
    b.li64(R5, 1 << PG_lru | 1 << PG_active)
    b.andc(R4, R4, R5)
    b.std(R4, f"{SP_FLAGS}({page})")
    b.addi(R4, page, SP_LRU)            # del_page_from_lru_list
    _list_del(b, R4, R5, R6)
    b.li64(R3, lay.pgdat + PGDAT_LRU_LOCK)
    _unlock_irqrestore(b, flags, R3)
    b.label(off)
    b.ld(R4, f"{SP_FLAGS}({page})")     # __ClearPageWaiters
    b.andi_rc(R0, R4, 1 << PG_waiters)
    b.xor(R4, R4, R0)
    b.std(R4, f"{SP_FLAGS}({page})")
    b.mr(R3, page)
    b.bl("mem_cgroup_uncharge")
    epilogue()

    page, flags = R31, R30
    b.label("free_transhuge_page")      # (page)
    epilogue = prologue(b, 48, [page, flags])
    b.mr(page, R3)
    b.li64(R3, lay.pgdat + SQ_LOCK)
    _irqsave_lock(b, flags, R3, R4)
    b.addi(R4, page, 2 * STRUCT_PAGE + SP_DEFERRED_LIST)
    b.ld(R5, f"0({R4})")
    b.cmpd(R5, R4)
    b.beq(unlock := b.local("unlock"))  # not listed
    b.li64(R6, lay.pgdat + SQ_LEN)
    b.ld(R7, f"0({R6})")
    b.addi(R7, R7, -1)
    b.std(R7, f"0({R6})")
    _list_del(b, R4, R5, R6)
    b.label(unlock)
    b.li64(R3, lay.pgdat + SQ_LOCK)
    _unlock_irqrestore(b, flags, R3)
    b.mr(R3, page)
    b.label("free_compound_page")       # (page): __free_pages_ok(page, compound_order)
    b.lbz(R4, f"{STRUCT_PAGE + SP_COMPOUND_ORDER}({R3})")
    b.bl("__free_pages_ok")
    epilogue()


def _emit_memcg(b, lay):
    """``mem_cgroup_uncharge(page)`` [L-memcg]: ``uncharge_page`` then
    ``uncharge_batch`` for the one page."""
    b.label("mem_cgroup_uncharge")      # (page)
    page, memcg, nr, flags, c = R31, R30, R29, R28, R27
    epilogue = prologue(b, 64, [page, memcg, nr, flags, c])
    b.mr(page, R3)
    b.ld(memcg, f"{SP_MEM_CGROUP}({page})")
    b.cmpdi(memcg, 0)
    b.beq(out := b.local("out"))        # not charged (no memcg)
    b.lbz(R4, f"{STRUCT_PAGE + SP_COMPOUND_ORDER}({page})")     # compound_nr
    b.li(nr, 1)
    b.sld(nr, nr, R4)
    b.li(R0, 0)
    b.std(R0, f"{SP_MEM_CGROUP}({page})")       # page->mem_cgroup = NULL
    # uncharge_batch: page_counter_uncharge up the hierarchy, unless the root
    b.ld(R4, f"{MEMCG_PARENT}({memcg})")
    b.cmpdi(R4, 0)
    b.beq(stats := b.local("stats"))
    b.mr(c, memcg)
    b.label(up := b.local("up"))        # page_counter_cancel: atomic_long_sub_return
    b.neg(R5, nr)
    atomic_rmw(b, c, "add", R5, R6, ordered=True)
    b.ld(R6, f"{MEMCG_PARENT}({c})")    # propagate_protected_usage: no min/low set
    b.ld(c, f"{MEMCG_PARENT}({c})")
    b.cmpdi(c, 0)
    b.bne(up)
    b.label(stats)
    local_irq_save(b, flags, R4)
    for stat, pcp, neg in ((MEMCG_STAT_RSS, PCP_MEMCG_RSS, True),
                           (MEMCG_STAT_RSS_HUGE, PCP_MEMCG_RSS_HUGE, True),
                           (MEMCG_STAT_PGPGOUT, PCP_MEMCG_PGPGOUT, False)):
        _memcg_mod(b, lay, memcg, nr if neg else None, stat, pcp)
    this_cpu_line(b, R4, lay.pcp)       # nr_page_events; memcg_check_events
    b.ld(R5, f"{PCP_MEMCG_EVENTS}({R4})")
    b.add(R5, R5, nr)
    b.std(R5, f"{PCP_MEMCG_EVENTS}({R4})")
    b.ld(R6, f"{PCP_MEMCG_TARGET}({R4})")
    b.subf_rc(R7, R5, R6)
    b.bge(restore := b.local("restore"))
    b.addi(R6, R5, THRESHOLDS_EVENTS_TARGET)        # no threshold registered
    b.std(R6, f"{PCP_MEMCG_TARGET}({R4})")
    b.label(restore)
    local_irq_restore(b, flags)
    b.ld(R4, f"{MEMCG_PARENT}({memcg})")
    b.cmpdi(R4, 0)
    b.beq(out)
    this_cpu_line(b, R4, lay.pcp)       # css_put_many: percpu_ref, this_cpu_sub
    b.ld(R5, f"{PCP_CSS_REF}({R4})")
    b.subf(R5, nr, R5)
    b.std(R5, f"{PCP_CSS_REF}({R4})")
    b.label(out)
    epilogue()


def _memcg_mod(b, lay, memcg, nr, stat, pcp):
    """``__mod_memcg_state(memcg, idx, -nr)`` (``nr`` None: the PGPGOUT event, +1):
    the per-CPU value folded up the hierarchy beyond MEMCG_CHARGE_BATCH."""
    this_cpu_line(b, R4, lay.pcp)
    b.ld(R5, f"{pcp}({R4})")
    if nr is None:
        b.addi(R5, R5, 1)
    else:
        b.subf(R5, nr, R5)
    b.sradi(R6, R5, 63)                 # abs
    b.xor(R7, R5, R6)
    b.subf(R7, R6, R7)
    b.cmpdi(R7, MEMCG_CHARGE_BATCH)
    b.ble(keep := b.local("keep"))
    b.mr(R8, memcg)
    b.label(up := b.local("up"))
    b.addi(R9, R8, MEMCG_STAT + stat)
    atomic_rmw(b, R9, "add", R5, R0)
    b.ld(R8, f"{MEMCG_PARENT}({R8})")
    b.cmpdi(R8, 0)
    b.bne(up)
    b.li(R5, 0)
    b.label(keep)
    b.std(R5, f"{pcp}({R4})")


def _emit_free_pages(b, lay):
    b.label("__free_pages_ok")          # (page, order)
    page, order, flags = R31, R30, R29
    epilogue = prologue(b, 48, [page, order, flags])
    b.mr(page, R3)
    b.mr(order, R4)
    b.bl("free_pages_prepare")
    b.cmpdi(R3, 0)
    b.beq(out := b.local("out"))        # a bad page: not freed
    trace(b, PAGE_FREE, page, order, scratch=R4)
    local_irq_save(b, flags, R4)
    this_cpu_line(b, R4, lay.pcp)       # __count_vm_events(PGFREE, 1 << order)
    b.ld(R5, f"{PCP_PGFREE}({R4})")
    b.li(R6, 1)
    b.sld(R6, R6, order)
    b.add(R5, R5, R6)
    b.std(R5, f"{PCP_PGFREE}({R4})")
    b.mr(R3, page)
    b.mr(R4, order)
    b.bl("free_one_page")
    local_irq_restore(b, flags)
    b.label(out)
    epilogue()

    b.label("free_pages_prepare")       # (page, order) -> 1 ok / 0 bad
    b.li(R5, 0)                         # bad
    b.li64(R9, PAGE_FLAGS_CHECK_AT_FREE)
    b.li64(R10, PAGE_FLAGS_CHECK_AT_PREP)
    b.addi(R6, R3, STRUCT_PAGE + SP_FLAGS)      # ClearPageDoubleMap: clear_bit
    b.li64(R7, 1 << PG_double_map)
    atomic_rmw(b, R6, "andc", R7, R8)
    b.li(R6, 1)
    b.sld(R6, R6, R4)
    b.addic_rc(R6, R6, -1)
    b.beq(head := b.local("head"))      # order 0: no tail pages
    b.mtctr(R6)                         # the tail pages
    b.addi(R6, R3, STRUCT_PAGE)
    b.li(R0, 0)
    b.label(tail := b.local("tail"))
    b.std(R0, f"{SP_MAPPING}({R6})")    # free_tail_pages_check: mapping, compound_head
    b.std(R0, f"{SP_COMPOUND_HEAD}({R6})")
    _free_pages_check(b, R6, R5)
    b.andc(R7, R7, R10)                 # flags &= ~PAGE_FLAGS_CHECK_AT_PREP
    b.std(R7, f"{SP_FLAGS}({R6})")
    b.addi(R6, R6, STRUCT_PAGE)
    b.bdnz(tail)
    b.label(head)
    b.ld(R7, f"{SP_MAPPING}({R3})")     # PageMappingFlags: mapping = NULL
    b.andi_rc(R7, R7, 3)
    b.beq(mapped := b.local("mapped"))
    b.std(R0, f"{SP_MAPPING}({R3})")
    b.label(mapped)
    _free_pages_check(b, R3, R5)
    b.andc(R7, R7, R10)
    b.std(R7, f"{SP_FLAGS}({R3})")
    b.cntlzd(R3, R5)                    # !bad
    b.srdi(R3, R3, 6)
    b.blr()

    b.label("free_one_page")            # (page, order)
    epilogue = prologue(b, 48, [page, order])
    b.mr(page, R3)
    b.mr(order, R4)
    b.li64(R3, lay.zone + ZONE_LOCK)
    spin_lock(b, R3, R4)
    b.li64(R4, lay.zone + ZONE_ISOLATE)     # has_isolate_pageblock
    b.ld(R4, f"0({R4})")
    b.mr(R3, page)
    b.mr(R4, order)
    b.bl("__free_one_page")
    b.li64(R3, lay.zone + ZONE_LOCK)
    spin_unlock(b, R3)
    epilogue()
    _emit_free_one_page(b, lay)


def _free_pages_check(b, page, bad):
    """``free_pages_check``: _mapcount == -1 and mapping, _refcount, mem_cgroup
    and the CHECK_AT_FREE flags all 0, else ``bad`` += 1.  Leaves r7 = flags."""
    b.lwa(R7, f"{SP_MAPCOUNT}({page})")
    b.addi(R7, R7, 1)
    b.ld(R8, f"{SP_MAPPING}({page})")
    b.emit(f"or {R7},{R7},{R8}")
    b.lwz(R8, f"{SP_REFCOUNT}({page})")
    b.emit(f"or {R7},{R7},{R8}")
    b.ld(R8, f"{SP_MEM_CGROUP}({page})")
    b.emit(f"or {R8},{R7},{R8}")
    b.ld(R7, f"{SP_FLAGS}({page})")
    b.and_(R11, R7, R9)
    b.emit(f"or. {R8},{R8},{R11}")
    b.beq(ok := b.local("ok"))
    b.addi(bad, bad, 1)
    b.label(ok)


def _emit_free_one_page(b, lay):
    """``__free_one_page`` [L-page-alloc]: the zone's free-page counter, then
    merge with each free buddy of the same order up to MAX_ORDER - 1, set the
    order, and add the block to its free list (at the tail when the next
    order's buddy is free, so that it merges soon)."""
    b.label("__free_one_page")          # (page, order), zone->lock held
    page, order, pfn, vmemmap = R31, R30, R29, R28
    epilogue = prologue(b, 64, [page, order, pfn, vmemmap])
    b.mr(page, R3)
    b.mr(order, R4)
    b.li64(vmemmap, lay.vmemmap)
    b.subf(pfn, vmemmap, page)
    b.srdi(pfn, pfn, 6)                 # page_to_pfn (from the vmemmap's first frame)
    b.li(R5, 1)
    b.sld(R5, R5, order)                # __mod_zone_freepage_state(zone, 1 << order)
    b.mr(R3, R5)
    b.bl("zone_free_pages_add")
    b.label(merge := b.local("merge"))
    b.cmpldi(order, MAX_ORDER - 1)
    b.bge(done := b.local("done"))
    b.li(R5, 1)
    b.sld(R5, R5, order)
    b.xor(R6, pfn, R5)                  # buddy_pfn = pfn ^ (1 << order)
    b.sldi(R7, R6, 6)
    b.add(R7, R7, vmemmap)              # buddy
    _page_is_buddy(b, R7, order, R8, R9)
    b.bne(done)
    b.addi(R8, R7, SP_LRU)              # del_page_from_free_area
    _list_del(b, R8, R9, R11)
    b.lwz(R8, f"{SP_MAPCOUNT}({R7})")   # __ClearPageBuddy; set_page_private(0)
    b.ori(R8, R8, PG_BUDDY)
    b.stw(R8, f"{SP_MAPCOUNT}({R7})")
    b.li(R0, 0)
    b.std(R0, f"{SP_PRIVATE}({R7})")
    _free_area(b, R8, lay, order)
    b.ld(R9, f"{FA_NR_FREE}({R8})")
    b.addi(R9, R9, -1)
    b.std(R9, f"{FA_NR_FREE}({R8})")
    b.and_(pfn, pfn, R6)                # combined_pfn
    b.sldi(page, pfn, 6)
    b.add(page, page, vmemmap)
    b.addi(order, order, 1)
    b.b(merge)
    b.label(done)
    b.std(order, f"{SP_PRIVATE}({page})")   # set_page_order: private, __SetPageBuddy
    b.lwz(R8, f"{SP_MAPCOUNT}({page})")
    b.rlwinm(R8, R8, 0, 25, 23)         # & ~PG_buddy
    b.stw(R8, f"{SP_MAPCOUNT}({page})")
    b.li(R12, 0)                        # at the head, unless the higher buddy is free
    b.cmpldi(order, MAX_ORDER - 2)
    b.bge(add := b.local("add"))
    b.li(R5, 2)
    b.sld(R5, R5, order)                # the order + 1 buddy of the combined block
    b.li(R6, 1)
    b.sld(R6, R6, order)
    b.andc(R6, pfn, R6)
    b.xor(R6, R6, R5)
    b.sldi(R7, R6, 6)
    b.add(R7, R7, vmemmap)
    b.addi(R11, order, 1)
    _page_is_buddy(b, R7, R11, R8, R9)
    b.bne(add)
    b.li(R12, 1)
    b.label(add)
    _free_area(b, R8, lay, order)
    b.addi(R9, page, SP_LRU)
    b.cmpdi(R12, 0)
    b.bne(tail := b.local("tail"))
    _list_add(b, R9, R8, R11)
    b.b(count := b.local("count"))
    b.label(tail)
    _list_add(b, R9, R8, R11, tail=True)
    b.label(count)
    b.ld(R9, f"{FA_NR_FREE}({R8})")
    b.addi(R9, R9, 1)
    b.std(R9, f"{FA_NR_FREE}({R8})")
    epilogue()

    b.label("zone_free_pages_add")      # (nr): __mod_zone_page_state(NR_FREE_PAGES)
    b.mr(R5, R3)
    _vmstat_mod(b, lay, PCP_ZONE_FREE, PCP_ZONE_THRESHOLD, lay.zone + ZONE_FREE_PAGES, R5,
                R6, R7, R8)
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
    b.li64(R0, lay.zone + ZONE_FREE_AREA)
    b.add(dst, dst, R0)


# --- the gather's page batches -----------------------------------------------------------
def _emit_gather(b, lay, tlb_active, tlb_batch_count, tlb_local):
    tlb = R31
    b.label("tlb_remove_page_size")     # (tlb, page): queue; flush a full gather
    epilogue = prologue(b, 48, [tlb])
    b.mr(tlb, R3)
    b.bl("__tlb_remove_page_size")
    b.cmpdi(R3, 0)
    b.beq(out := b.local("out"))
    b.mr(R3, tlb)
    b.bl("tlb_flush_mmu")
    b.label(out)
    epilogue()

    b.label("__tlb_remove_page_size")   # (tlb, page) -> 1: flush now
    b.ld(R5, f"{tlb_active}({R3})")
    b.lwz(R6, f"{BATCH_NR}({R5})")
    b.sldi(R7, R6, 3)
    b.addi(R7, R7, BATCH_PAGES)
    b.stdx(R4, R5, R7)                  # batch->pages[batch->nr++] = page
    b.addi(R6, R6, 1)
    b.stw(R6, f"{BATCH_NR}({R5})")
    b.lwz(R7, f"{BATCH_MAX}({R5})")
    b.li(R4, 0)
    b.cmpw(R6, R7)
    b.bne(out := b.local("out"))
    # tlb_next_batch
    b.ld(R6, f"{BATCH_NEXT}({R5})")
    b.cmpdi(R6, 0)
    b.beq(new := b.local("new"))
    b.std(R6, f"{tlb_active}({R3})")
    b.b(out)
    b.label(new)
    b.ld(R6, f"{tlb_batch_count}({R3})")
    b.cmpdi(R6, max_gather_batch_count(GATHER_PAGE_BYTES))
    b.li(R4, 1)
    b.beq(out)                          # MAX_GATHER_BATCH_COUNT reached: flush
    b.addi(R6, R6, 1)                   # __get_free_pages(GFP_NOWAIT, 0): the CPU's page
    b.std(R6, f"{tlb_batch_count}({R3})")
    b.ld(R6, f"{PACA_CPU}({R13})")
    b.sldi(R6, R6, GATHER_PAGE_BYTES.bit_length() - 1)
    b.li64(R0, lay.gather_pages)
    b.add(R6, R6, R0)
    b.li(R0, 0)
    b.std(R0, f"{BATCH_NEXT}({R6})")
    b.stw(R0, f"{BATCH_NR}({R6})")
    b.li(R0, max_gather_batch(GATHER_PAGE_BYTES))
    b.stw(R0, f"{BATCH_MAX}({R6})")
    b.std(R6, f"{BATCH_NEXT}({R5})")
    b.std(R6, f"{tlb_active}({R3})")
    b.li(R4, 0)
    b.label(out)
    b.mr(R3, R4)
    b.blr()

    tlb, batch = R31, R30               # batch: from &tlb->local along ->next
    b.label("tlb_batch_pages_flush")    # (tlb): free_pages_and_swap_cache per batch
    epilogue = prologue(b, 48, [tlb, batch])
    b.mr(tlb, R3)
    b.addi(batch, R3, tlb_local)
    b.lwz(R4, f"{BATCH_NR}({batch})")
    b.cmpwi(R4, 0)
    b.beq(reset := b.local("reset"))
    this_cpu_line(b, R5, lay.pcp)
    b.ld(R6, f"{PCP_GATHER_FLUSHES}({R5})")
    b.addi(R6, R6, 1)
    b.std(R6, f"{PCP_GATHER_FLUSHES}({R5})")
    b.li(R6, 0)
    trace(b, PAGES_FLUSH, R6, scratch=R5)
    b.label(loop := b.local("batch"))
    b.lwz(R4, f"{BATCH_NR}({batch})")
    b.cmpwi(R4, 0)
    b.beq(freed := b.local("freed"))
    b.addi(R3, batch, BATCH_PAGES)
    b.bl("free_pages_and_swap_cache")
    b.li(R0, 0)
    b.stw(R0, f"{BATCH_NR}({batch})")
    b.ld(batch, f"{BATCH_NEXT}({batch})")
    b.cmpdi(batch, 0)
    b.bne(loop)
    b.label(freed)
    b.li(R6, 1)
    trace(b, PAGES_FLUSH, R6, scratch=R5)
    b.label(reset)
    b.addi(R4, tlb, tlb_local)          # tlb->active = &tlb->local
    b.std(R4, f"{tlb_active}({tlb})")
    epilogue()

    pages, nr = R31, R30
    b.label("free_pages_and_swap_cache")    # (pages, nr)
    epilogue = prologue(b, 48, [pages, nr])
    b.mr(pages, R3)
    b.mr(nr, R4)
    b.mtctr(R4)
    b.li64(R6, 1 << PG_swapcache)
    b.label(loop := b.local("swap"))    # free_swap_cache: PageSwapCache (none here)
    b.ld(R5, f"0({R3})")
    b.ld(R5, f"{SP_FLAGS}({R5})")
    b.and_(R5, R5, R6)
    b.addi(R3, R3, 8)
    b.bdnz(loop)
    b.mr(R3, pages)
    b.mr(R4, nr)
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
