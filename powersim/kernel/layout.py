"""Where every kernel object lives (docs/KERNEL.md "Memory layout").

One attrs class computes all addresses from the number of CPUs and the PIR of
each.  Every per-CPU object sits on its own 128-byte line, as in Linux, so that
sharing costs what it costs [SK-dt] (128-byte lines).  Addresses are
``KERNELBASE + phys``; this part runs in hypervisor real mode, so KERNELBASE is
0 (switching translation on later changes only that constant).

    lay = Layout(pirs=[0, 1, 2, 3])
    lay.paca(2), lay.csd(sender=0, target=3), lay.mm_cpumask
"""

import attrs

from powersim.errors import PowersimError

KERNELBASE = 0          # real mode; 0xc000_0000_0000_0000 once the MMU is on
LINE = 128              # [SK-dt] cache-line / reservation granule
LINE_SHIFT = 7
DATA_BASE = 0x100000    # kernel data starts at 1 MiB; the code image must end below it
C_LIMIT = DATA_BASE - 4096  # a C method's text, data and per-CPU areas end below this (the
                            # last page below the data holds the workloads' mark routine)
PERCPU_STRIDE = 512     # a C method's DEFINE_PER_CPU area: one copy per CPU, this far apart
STACK_SIZE = 16 << 10   # one 16 KiB stack per CPU (docs/KERNEL.md)

# --- PACA field offsets (one line per CPU) -------------------------------------
PACA_SOFT_MASK = 0      # u8 irq_soft_mask: 0 enabled, IRQS_DISABLED [LM-softmask]
PACA_IRQ_HAPPENED = 1   # u8 PACA_IRQ_* bits recorded while soft-masked
PACA_HOST_IPI = 2       # u8 kvm_hstate.host_ipi: an IPI is on its way (doorbell senders set
                        # it, the doorbell handler clears it) [L-kvm-ipi]
PACA_GUEST_EXITS = 4    # u32 guest exits this CPU took (cmd_guest)
PACA_CPU = 8            # u64 this CPU's number
PACA_PERCPU = 16        # u64 per-CPU lockless walker counter (Bras v6)
PACA_TRIM = 24          # u64 trim clock (tick_and_test_trim_clock)
PACA_KSTACK = 32        # u64 initial stack pointer
PACA_SCRIPT = 40        # u64 address of this CPU's command script
PACA_EX = 48            # interrupt-entry save area: r10, r11, r12, CR (4 x u64)
PACA_PIR = 80           # u64 this CPU's PIR
PACA_MARKS = 88         # u64 address of this CPU's marks line (test stamps)
PACA_QS = 96            # u64 quiescent-state counter (pgtable.py deferred free): +2 at
                        # each command, odd while waiting/idle (extended quiescent state)
PACA_CURRENT_MM = 104   # u64 current->mm: the mm this CPU runs (0: none; trim)
PACA_KVM_RETRIES = 112  # u64 KVM faults returned to the guest (walk found no PTE)
PACA_GUEST_EXIT = 120   # u64 cycles the next interrupt's guest exit costs (0: in host)

# The same fields as C sees them (struct paca_struct of a C method's generated header,
# powersim/kernel/cmethod.py): offset, C type, name (Linux's where Linux has the field;
# a dotted name is a member of a nested struct, as kvm_hstate.host_ipi).
PACA_FIELDS = ((PACA_SOFT_MASK, "u8", "irq_soft_mask"),
               (PACA_IRQ_HAPPENED, "u8", "irq_happened"),
               (PACA_HOST_IPI, "u8", "kvm_hstate.host_ipi"),
               (PACA_GUEST_EXITS, "u32", "guest_exits"),
               (PACA_CPU, "u64", "paca_index"),
               (PACA_PERCPU, "u64", "lockless_pgtbl_walk_count"),
               (PACA_TRIM, "u64", "mm_cpumask_trim_clock"),
               (PACA_KSTACK, "u64", "kstack"),
               (PACA_SCRIPT, "u64", "script"),
               (PACA_EX, "u64[4]", "exgen"),
               (PACA_PIR, "u64", "hw_cpu_id"),
               (PACA_MARKS, "u64", "marks"),
               (PACA_QS, "u64", "rcu_qs"),
               (PACA_CURRENT_MM, "struct mm_struct *", "current_mm"),
               (PACA_KVM_RETRIES, "u64", "kvm_retries"),
               (PACA_GUEST_EXIT, "u64", "guest_exit_cycles"))

IRQS_DISABLED = 1
PACA_IRQ_HARD_DIS = 0x01    # [LM-softmask] hw_irq.h
PACA_IRQ_DBELL = 0x02
PACA_IRQ_EE = 0x04
PACA_IRQ_DEC = 0x08

# --- call_single_data (one line per (sender, target)) --------------------------
CSD_NEXT, CSD_FUNC, CSD_INFO, CSD_FLAGS = 0, 8, 16, 24
CSD_FLAG_LOCK = 0x01        # kernel/smp.c [LM-ipi]
CSD_FLAG_SYNCHRONOUS = 0x02

# --- ipi_message: the `messages` word, one byte per message (LE: byte n = bit 8n)
PPC_MSG_CALL_FUNCTION = 0   # arch/powerpc/include/asm/smp.h [LM-ipi]

# --- mm_struct (line 0; the cpumask bitmap starts on the next line) ------------
MM_PGD, MM_ACTIVE_CPUS, MM_WALKERS, MM_LOCK = 0, 8, 16, 24
MM_PID = 32                 # mm->context.id, the PID its translations are tagged with
MM_USERS = 40               # mm->mm_users: threads of the process (flush_type_needed)
MM_RSS_ANON = 48            # mm->rss_stat.count[MM_ANONPAGES] (atomic_long, pages)
# As C sees them (struct mm_struct, like PACA_FIELDS): each counter is a Linux atomic_t
# (32-bit, lwarx/stwcx.) in the low half of its u64 slot, whose upper half stays 0;
# the lock is the 32-bit word spin_lock takes; mm_cpumask(mm) is at mm + LINE.
MM_FIELDS = ((MM_PGD, "pgd_t *", "pgd"),
             (MM_ACTIVE_CPUS, "atomic_t", "context.active_cpus"),
             (MM_WALKERS, "atomic_t", "lockless_pgtbl_walkers"),
             (MM_LOCK, "spinlock_t", "page_table_lock"),
             (MM_PID, "unsigned long", "context.id"),
             (MM_USERS, "atomic_t", "mm_users"),
             (MM_RSS_ANON, "long", "rss_anon"))    # rss_stat.count[MM_ANONPAGES]

# --- page-table page pool (docs/KERNEL.md): one line, the free list of PTE tables
POOL_LOCK, POOL_HEAD, POOL_FREE = 0, 8, 16     # spin lock word, first free table, count
PTE_TABLE_BYTES = 256       # 64K geometry: 32 PTEs x 8 bytes per PTE table [L-r64k]
PT_FRAME_SHIFT = 12         # mem_map: one u64 (pmd_huge_pte) per 4 KiB frame of tables

# --- struct pages, zone, node, memcg, per-CPU stats (powersim/kernel/page.py)
STRUCT_PAGE = 64            # sizeof(struct page), 64-bit [L-mmtypes]
THP_FRAMES = 1 << 40        # RA of the first data frame (no memory behind it): the
                            # vmemmap's first struct page is its pfn's
FRAMES_PER_THP = 32         # HPAGE_PMD_NR with 64K pages: 2 MiB / 64 KiB [L-r64k]
MAX_ORDER = 9               # FORCE_MAX_ZONEORDER for ppc64 with 64K pages [L-ppc-kconfig]
ZONE_BYTES = 3 * LINE       # a line of lock and counters, then free_area[MAX_ORDER]
PGDAT_BYTES = 2 * LINE      # lru_lock and the LRU list and node counters; the split queue
MEMCG_MAX_DEPTH = 8         # kernel.memcg_depth's upper bound: one line per level
GATHER_PAGE_BYTES = 64 << 10    # the mmu_gather's batch page (__get_free_pages order 0)

# --- deferred page-table free (pgtable.py, RCU-like): a line, then the grace
# period's snapshot of every CPU's PACA_QS, then the pending tables (u64 each)
RCU_LOCK, RCU_CUR, RCU_TOTAL = 0, 8, 16     # spin lock, tables in the current grace
                                            # period (first), tables pending in all

# --- per-CPU command script (docs/KERNEL.md "The per-CPU command loop") --------
CMD_SIZE = 48               # op, then 5 u64 operands
CMD_END, CMD_CALL, CMD_WAIT_UNTIL, CMD_IDLE = 0, 1, 2, 3
CMD_GUEST, CMD_IDLE_GOV = 6, 7

# --- per-CPU cpuidle line (cpuidle.py): the menu governor's state and the stop path's r1
CI_INTERVALS = 0        # u64[8]: the last 8 idle intervals (timebase ticks), a ring
CI_NEXT = 64            # u64: the ring's next slot (0..7)
CI_TICK_STOPPED = 72    # u64: 1 while the idle loop runs with the tick stopped
CI_R1 = 80              # u64: r1 at the stop instruction (the 0x100 wake-up reloads it)
CI_INTERVAL_COUNT = 8
CI_STATE_BYTES = 32     # cpuidle table: a header (cpuidle.H_*), then per state its target
                        # residency, exit latency (timebase ticks), PSSCR, index; a
                        # residency of all ones ends it

# --- per-CPU marks line: u64 slots the test hooks write (timebase stamps) -------
MARK_COUNT = 0          # ipi_mark: times run on this CPU
MARK_FUNC_TB = 1        # ipi_mark: timebase of the last run
MARK_INFO = 2           # ipi_mark: the info argument it got
MARK_WIN_ENTER = 3      # irq_off_window: after local_irq_save
MARK_WIN_HAPPENED = 4   # irq_off_window: irq_happened just before local_irq_restore
MARK_WIN_EXIT = 5       # irq_off_window: just before local_irq_restore
MARK_WIN_RESTORED = 6   # irq_off_window: after local_irq_restore returned
MARK_FREE = 7           # slots MARK_FREE.. are for `stamp`
NMARKS = LINE // 8


def _lines(nbytes: int) -> int:
    return -(-nbytes // LINE) * LINE


@attrs.frozen
class Layout:
    """Addresses of the kernel's data for CPUs numbered 0..n-1 with PIRs ``pirs``
    (CPU number = position in PIR order, as the machine numbers threads)."""

    pirs: tuple = attrs.field(converter=tuple)
    script_cmds: int = 64       # command slots per CPU
    nmasks: int = 8             # cpumask bitmaps the scripts can pass to routines
    pgtable_bytes: int = 512 << 10  # radix.PageTables region: partition/process tables,
                                    # PGDs, PUDs, PMDs (PageTables aligns each table)
    pte_tables: int = 64        # PTE tables in the page-table pool
    thps: int = 0               # THPs whose struct pages the vmemmap holds (page.py)

    def __attrs_post_init__(self):
        if not self.pirs:
            raise PowersimError("kernel layout: no CPUs (allowed: at least one PIR)")
        if list(self.pirs) != sorted(set(self.pirs)) or not 0 <= self.pirs[-1] < 1 << 14:
            raise PowersimError(f"kernel layout: PIRs {self.pirs}: allowed distinct, "
                                "increasing PIRs in 0..16383")
        if self.pte_tables < 1 or self.pgtable_bytes < 256 << 10:
            raise PowersimError(f"kernel layout: pte_tables = {self.pte_tables}, pgtable_bytes "
                                f"= {self.pgtable_bytes}: allowed >= 1 and >= 256 KiB")
        if self.script_cmds < 1:
            raise PowersimError(f"kernel layout: script_cmds = {self.script_cmds}: "
                                "allowed >= 1")

    @property
    def vmemmap_frames(self) -> int:
        """struct pages in the vmemmap: the THP region's frames, rounded up to a
        whole block of the largest buddy order (so every buddy has a struct page)."""
        block = 1 << (MAX_ORDER - 1)
        return -(-self.thps * FRAMES_PER_THP // block) * block

    @property
    def ncpus(self) -> int:
        return len(self.pirs)

    @property
    def mask_bytes(self) -> int:
        """A cpumask bitmap: u64 words, bit c of word c // 64 is CPU c."""
        return -(-self.ncpus // 64) * 8

    # Regions, in order from DATA_BASE; each starts on a line.
    def _region_sizes(self):
        n = self.ncpus
        return (("paca", n * LINE), ("ipi_message", n * LINE), ("csq", n * LINE),
                ("cfd", n * _lines(self.mask_bytes)), ("csd", n * n * LINE),
                ("mm", LINE + _lines(self.mask_bytes)), ("marks", n * LINE),
                ("cpumasks", self.nmasks * _lines(self.mask_bytes)),
                ("pir_table", _lines(8 * (self.pirs[-1] + 1))),
                ("cpu_pir", _lines(8 * n)),
                ("scripts", n * _lines(CMD_SIZE * self.script_cmds)),
                ("pgtable_pool", LINE),
                ("mem_map", 8 * (self.pgtable_bytes >> PT_FRAME_SHIFT)),
                ("pte_pool", self.pte_tables * PTE_TABLE_BYTES),
                ("pgtables", self.pgtable_bytes),
                ("vmemmap", STRUCT_PAGE * self.vmemmap_frames),
                ("zone", ZONE_BYTES), ("pgdat", PGDAT_BYTES),
                ("memcg", MEMCG_MAX_DEPTH * LINE), ("pcp", n * LINE),
                ("gather_pages", n * GATHER_PAGE_BYTES),
                ("rcu", LINE + _lines(8 * n) + _lines(8 * self.pte_tables)),
                ("cpuidle", n * LINE), ("cpuidle_states", _lines(CI_STATE_BYTES * 10)),
                ("stacks", n * STACK_SIZE))

    def _base(self, region: str) -> int:
        at = KERNELBASE + DATA_BASE
        for name, size in self._region_sizes():
            if name == region:
                return at
            at += -(-size // 4096) * 4096     # regions page-aligned, for readability
        raise KeyError(region)

    @property
    def end(self) -> int:
        """First address after the kernel's data."""
        return self._base("stacks") + self.ncpus * STACK_SIZE

    def _cpu(self, cpu: int) -> int:
        if not 0 <= cpu < self.ncpus:
            raise PowersimError(f"kernel layout: CPU {cpu}: allowed 0..{self.ncpus - 1}")
        return cpu

    # --- per-CPU objects ---------------------------------------------------------
    def paca(self, cpu):
        return self._base("paca") + self._cpu(cpu) * LINE

    def ipi_message(self, cpu):
        return self._base("ipi_message") + self._cpu(cpu) * LINE

    def call_single_queue(self, cpu):
        return self._base("csq") + self._cpu(cpu) * LINE

    def cfd_ipi_mask(self, cpu):
        """The sender's cfd->cpumask_ipi: targets whose queue was empty."""
        return self._base("cfd") + self._cpu(cpu) * _lines(self.mask_bytes)

    def csd(self, sender, target):
        return self._base("csd") + (self._cpu(sender) * self.ncpus + self._cpu(target)) * LINE

    def marks(self, cpu):
        return self._base("marks") + self._cpu(cpu) * LINE

    def cpumask(self, i):
        """Scratch cpumask ``i`` (0..nmasks-1) for script arguments."""
        if not 0 <= i < self.nmasks:
            raise PowersimError(f"kernel layout: cpumask {i}: allowed 0..{self.nmasks - 1}")
        return self._base("cpumasks") + i * _lines(self.mask_bytes)

    def script(self, cpu):
        return self._base("scripts") + self._cpu(cpu) * _lines(CMD_SIZE * self.script_cmds)

    def stack_top(self, cpu):
        """Initial r1: the top of the CPU's stack minus the ELFv2 minimum frame."""
        return self._base("stacks") + (self._cpu(cpu) + 1) * STACK_SIZE - 32

    # --- machine-wide -----------------------------------------------------------
    @property
    def cpuidle_base(self):
        """Per-CPU cpuidle lines (CI_* fields; cpuidle.py)."""
        return self._base("cpuidle")

    @property
    def cpuidle_states(self):
        """The enabled idle states, shallowest first, CI_STATE_BYTES each, ended by
        a residency of all ones (cpuidle.py)."""
        return self._base("cpuidle_states")

    @property
    def paca_base(self):
        return self._base("paca")

    @property
    def ipi_message_base(self):
        return self._base("ipi_message")

    @property
    def csq_base(self):
        return self._base("csq")

    @property
    def cfd_base(self):
        return self._base("cfd")

    @property
    def cfd_stride(self):
        return _lines(self.mask_bytes)

    @property
    def csd_base(self):
        return self._base("csd")

    @property
    def mm(self):
        return self._base("mm")

    @property
    def mm_cpumask(self):
        return self.mm + LINE

    @property
    def pir_table(self):
        """u64 per PIR: the CPU number, -1 for a PIR that is no CPU."""
        return self._base("pir_table")

    @property
    def cpu_pir(self):
        """u64 per CPU: its PIR (msgsnd target tag, XIVE ESB)."""
        return self._base("cpu_pir")

    @property
    def pgtable_pool(self):
        """The pool line: POOL_LOCK, POOL_HEAD, POOL_FREE."""
        return self._base("pgtable_pool")

    @property
    def pte_pool(self):
        """The PTE tables of the pool (PTE_TABLE_BYTES each)."""
        return self._base("pte_pool")

    @property
    def pgtables(self):
        """Where radix.PageTables allocates (``pgtable_bytes`` bytes)."""
        return self._base("pgtables")

    @property
    def rcu(self):
        """The deferred-free line: RCU_LOCK, RCU_CUR, RCU_TOTAL."""
        return self._base("rcu")

    @property
    def rcu_snapshot(self):
        """u64 per CPU: its PACA_QS when the current grace period started."""
        return self.rcu + LINE

    @property
    def rcu_tables(self):
        """u64 per pending table (capacity pte_tables): the current grace period's
        first, then those queued since."""
        return self.rcu_snapshot + _lines(8 * self.ncpus)

    @property
    def mem_map(self):
        """u64 per 4 KiB frame of the pgtables region: for a PMD table's frame,
        ``pmd_huge_pte`` (the head of its deposited PTE tables) [L-pgt]."""
        return self._base("mem_map")

    @property
    def vmemmap(self):
        """struct page per 64K data frame from mm.THP_FRAMES on (STRUCT_PAGE each)."""
        return self._base("vmemmap")

    @property
    def zone(self):
        """The one zone: lock and counters (page.ZONE_*), then free_area."""
        return self._base("zone")

    @property
    def pgdat(self):
        """The one node: lru_lock, the LRU list, node counters; split queue line."""
        return self._base("pgdat")

    @property
    def memcg(self):
        """The memcg hierarchy, leaf first: one line (page counter) per level."""
        return self._base("memcg")

    @property
    def pcp(self):
        """Per-CPU line of vmstat diffs and event counters (page.PCP_*)."""
        return self._base("pcp")

    @property
    def gather_pages(self):
        """Per CPU, the mmu_gather's batch page (GATHER_PAGE_BYTES each)."""
        return self._base("gather_pages")

    def mask(self, cpus) -> bytes:
        """The bitmap bytes of a set of CPUs."""
        words = [0] * (self.mask_bytes // 8)
        for c in cpus:
            self._cpu(c)
            words[c // 64] |= 1 << (c % 64)
        return b"".join(w.to_bytes(8, "little") for w in words)
