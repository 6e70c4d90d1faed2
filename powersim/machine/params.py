"""Machine parameters, each declared once (gem5 style): name, type, default,
unit, one-line description and its source tag (docs/REFERENCES.md), or a
rationale where the value is UNVERIFIED.

``MachineParams.validate()`` runs in Python before anything is compiled;
``to_array()`` converts everything to cycles for the numba core.

The core's parameter array
--------------------------
Each field is spelled once, here.  Its slot in the int64 array the numba core
reads (``prm[PR_*]``, powersim/machine/layout.py) and its conversion follow
from the declaration: the fields in declaration order after the per-run
slots ``RUN_SLOTS``, a tuple taking one slot per entry, converted by unit
(``CONVERT``: ns -> cycles with the ``_ns`` suffix dropped from the slot
name, GHz -> MHz, flags -> 0/1, anything else as declared).  layout.py
spells the resulting ``PR_*`` numbers out for ruff and IDEs;
``layout_block()`` regenerates them and a test keeps the two equal.
"""

import attrs

from powersim.errors import PowersimError


class ParamError(PowersimError):
    """A machine parameter outside its allowed range."""


def param(default, unit, doc, source, lo=None, hi=None):
    """One parameter declaration; lo/hi bound integers and floats."""
    return attrs.field(default=default, converter=tuple if isinstance(default, tuple) else None,
                       metadata=dict(unit=unit, doc=doc, source=source, lo=lo, hi=hi))


def choice(default, unit, doc, source, choices):
    """A parameter whose value must be one of ``choices``."""
    f = param(default, unit, doc, source)
    f.metadata["choices"] = tuple(choices)
    return f


MAX_CORES_PER_CHIP = 64   # the P9 PIR has 6 core bits [SK-dt] (PIR = chip<<8 | core<<2 | thread)
MAX_CHIPS = 16            # 16 chip bits are used for the L3 "seen by chip" mask


@attrs.define(frozen=True)
class MachineParams:
    # --- topology -------------------------------------------------------------
    chips: int = param(1, "chips", "number of chips (sockets)", "[RCS]", 1, MAX_CHIPS)
    cores_per_chip: int = param(1, "cores", "SMT4 cores per chip (PIR has 6 core bits)",
                                "[RCS] 24 per real chip; 64 is the PIR limit", 1,
                                MAX_CORES_PER_CHIP)
    smt: int = choice(4, "threads", "hardware threads per core (a POWER9 core runs SMT1, "
                      "SMT2 or SMT4)", "[SK-dt]", (1, 2, 4))
    freq_ghz: float = param(2.4, "GHz", "core clock", "[SK-dt] op920 HDAT clock-frequency",
                            0.1, 10.0)
    timebase_mhz: int = param(512, "MHz", "timebase / decrementer frequency", "[SK-dt]", 1,
                              10000)
    memory: int = param(64 << 20, "bytes", "emulated RAM at physical address 0 (the "
                        "coherence model adds 23 bytes per 128-byte line)",
                        "sized for kernel code and page tables; data pages are frames", 1 << 16,
                        16 << 30)
    # --- scheduling -----------------------------------------------------------
    quantum: int = param(2000, "cycles", "how far a thread may run ahead of the others "
                         "in fast mode", "rationale: below the smallest cross-core latency "
                         "of interest (doorbells, DRAM)", 1, 1 << 30)
    smt_cost_pct: tuple = param((100, 150, 190, 220), "%",
                                "issue-slot cost of an instruction with 1..4 threads "
                                "running on its core (not in stop, wait or halted), "
                                "relative to single-thread",
                                "UNVERIFIED: 4 slices x 11 entries and 6-wide dispatch "
                                "shared [LLVM]; SMT4 throughput gain ~1.8x assumed")
    # --- the issue model: in-order issue, stall on use, non-blocking loads ------
    dispatch_width: int = param(6, "insns/cycle", "instructions a thread alone on its core "
                                "dispatches per cycle (branches, CR and SPR moves take "
                                "only a dispatch slot)", "[LLVM] 6-wide dispatch", 1, 16)
    issue_slices: int = param(4, "insns/cycle", "fixed-point, load/store and multiply "
                              "instructions issued per cycle (one per execution slice)",
                              "[LLVM] 4 slices", 1, 16)
    mispredict_penalty: int = param(16, "cycles", "a mispredicted conditional branch: "
                                    "cycles from its resolution (its CR/CTR source ready) "
                                    "to the next instruction's issue; the predictor is static "
                                    "(backward taken, forward not taken)", "[LLVM] "
                                    "MispredictPenalty", 0, 1000)
    lmq_entries: int = param(8, "entries", "L1 load misses a thread has outstanding at "
                             "once (the load-miss queue); the next miss waits for the "
                             "oldest", "UNVERIFIED: POWER9's per-thread LMQ size is not "
                             "public here; POWER-class cores keep 8-16 misses per core", 1, 32)
    # --- memory hierarchy (128-byte lines [SK-dt]) ---------------------------
    lat_l1: int = param(4, "cycles", "L1 load-to-use (the load's P_LAT already includes it)",
                        "[GCC]", 1, 100)
    lat_l2: int = param(14, "cycles", "L2 hit (core pair)", "[AT-P8] proxy, UNVERIFIED", 1,
                        1000)
    lat_l3: int = param(30, "cycles", "L3 hit, local region", "[AT-P8] proxy, UNVERIFIED",
                        1, 1000)
    lat_remote: int = param(80, "cycles", "cache-to-cache transfer, other core pair, "
                            "same chip", "UNVERIFIED estimate ([EST]: 50-100)", 1, 10000)
    lat_xchip: int = param(250, "cycles", "cache-to-cache transfer from another chip",
                           "UNVERIFIED: about 100 ns of fabric hops", 1, 100000)
    lat_dram_ns: int = param(90, "ns", "DRAM access", "[AT-P8] proxy 89-91 ns, UNVERIFIED",
                             1, 10000)
    # --- barriers -------------------------------------------------------------
    cost_hwsync: int = param(50, "cycles", "sync (hwsync) with an empty store queue",
                             "UNVERIFIED ([EST]: 20-150)", 0, 100000)
    cost_lwsync: int = param(10, "cycles", "lwsync", "UNVERIFIED ([EST]: 5-30)", 0,
                             100000)
    cost_ptesync: int = param(60, "cycles", "ptesync", "UNVERIFIED: hwsync plus table-walk "
                              "drain", 0, 100000)
    cost_isync: int = param(15, "cycles", "isync (refetch)", "UNVERIFIED ([EST]: 10-20)",
                            0, 100000)
    cost_eieio: int = param(5, "cycles", "eieio", "UNVERIFIED", 0, 100000)
    cost_msgsync: int = param(20, "cycles", "msgsync", "UNVERIFIED", 0, 100000)
    # --- memory ordering (weak.py) ---------------------------------------------
    memory_model: str = choice("power", "model", "\"power\": stores reach other threads "
                               "late and in different orders (store buffers, propagation "
                               "that is not multi-copy atomic, coherence by the time a store "
                               "is performed), ordered only by barriers as the architecture "
                               "says; \"sc\": every store is visible to every thread when it "
                               "executes (sequential consistency, for comparison)",
                               "[ISA-mem], [Sarkar-PLDI11]", ("power", "sc"))
    smt_store_forward: int = param(4, "cycles", "a store is visible to the other thread of "
                                   "its half core (threads 0-1 or 2-3, taken to share a store "
                                   "queue slice) this long after it executes (plus the "
                                   "jitter), before other cores see it",
                                   "UNVERIFIED: an L1 hit's latency; the sharing is why "
                                   "POWER is not multi-copy atomic [Sarkar-PLDI11]", 0, 10000)
    store_jitter: int = param(32, "cycles", "spread of a store's drain to its L2 and of its "
                              "propagation to each other core (a deterministic hash of the "
                              "store and the core, 0..jitter-1): the arbitration of the L2's "
                              "store machines and of the fabric, not otherwise modelled",
                              "UNVERIFIED: a rationale, not a measurement; with 0 stores "
                              "from one thread reach each core in program order", 0, 10000)
    # --- interrupts -----------------------------------------------------------
    cost_intr: int = param(40, "cycles", "interrupt entry (flush + redirect)",
                           "UNVERIFIED ([EST]: 20-60)", 0, 100000)
    cost_rfid: int = param(40, "cycles", "rfid / hrfid (context synchronising)",
                           "UNVERIFIED ([EST]: 20-60)", 0, 100000)
    db_core: int = param(100, "cycles", "doorbell delivery to a thread of the same core",
                         "UNVERIFIED estimate", 1, 1 << 30)
    db_chip: int = param(600, "cycles", "doorbell delivery to another core of the chip",
                         "UNVERIFIED (section 2: 0.3-1.5 us end to end)", 1, 1 << 30)
    db_xchip: int = param(1500, "cycles", "doorbell delivery to another chip",
                          "UNVERIFIED (section 2: 0.3-1.5 us end to end)", 1, 1 << 30)
    xive_chip: int = param(1000, "cycles", "XIVE trigger store to IPB update, same chip",
                           "UNVERIFIED ([EST]: 0.5-2 us end to end)", 1, 1 << 30)
    xive_xchip: int = param(2000, "cycles", "XIVE trigger to IPB update, other chip",
                            "UNVERIFIED ([EST]: 0.5-2 us end to end)", 1, 1 << 30)
    xive_interval: int = param(20, "cycles", "per-chip XIVE throughput: minimum cycles "
                               "between two event deliveries", "UNVERIFIED", 0, 1 << 30)
    esb_load_ns: int = param(100, "ns", "a load from an XIVE ESB page (e.g. the PQ=00 "
                             "EOI of an IPI): cache-inhibited round trip to the XIVE unit",
                             "UNVERIFIED: about one on-chip fabric round trip", 0, 1 << 30)
    esb_store_ns: int = param(100, "ns", "a store to an XIVE ESB page (the IPI trigger): "
                              "time until it is performed, which the next sync waits for",
                              "UNVERIFIED: about one on-chip fabric round trip, as esb_load_ns",
                              0, 1 << 30)
    xive_ipi_prio: int = param(6, "priority", "priority of the per-thread XIVE IPI source",
                               "[SK-xive] 7 is reserved for escalation; 6 UNVERIFIED", 0, 7)
    # --- idle ------------------------------------------------------------------
    # Wake-up latencies, hardware's: the one-way IPI latency measured to a target
    # in each state less the same measurement to a busy target (3.1 us) [Sampat-ipi].
    stop_lite_ns: int = param(400, "ns", "stop0_lite (ESL = EC = 0) wake-up",
                              "[Sampat-ipi] measured: 3.5 us to stop0_lite - 3.1 us busy", 0,
                              1 << 40)
    stop_ns: tuple = param((600, 700, 14000, 14000, 1034900, 1065900, 1065900, 1065900,
                            2000000, 2000000, 2000000, 10000000, 10000000, 10000000,
                            10000000, 10000000), "ns",
                           "wake-up of stop RL = 0..15 with ESL = EC = 1 (or RL > 0); a level "
                           "no firmware lists takes the next shallower listed level's value",
                           "[Sampat-ipi] measured less the busy 3.1 us: stop0 3.7, stop1 3.8, "
                           "stop2 17.1, stop4 1,038, stop5 1,069 us; stop8 and stop11: "
                           "[SK-slw] estimates (2 ms, 10 ms), not measured")
    wait_ns: int = param(0, "ns", "wake-up from `wait`", "rationale: no power state entered",
                         0, 1 << 40)
    # --- radix MMU ([ISA-radix], [ISA-tlbie], [L-tlb]) --------------------------
    rc_hw_update: bool = param(False, "flag", "set R/C in hardware instead of raising the "
                               "DSI/ISI with DSISR 0x00040000", "POWER9 faults: [P9-rc] "
                               "[Q-rad]; True is QEMU 7.2's behaviour")
    pwc_entries: int = param(256, "entries", "page walk cache (PDEs of the 3 upper levels) "
                             "per core", "[MW] (the POWER9 size is not public)", 1, 1 << 16)
    pwc_ways: int = param(4, "ways", "page walk cache associativity", "[MW]", 1, 64)
    cost_tlbiel: int = param(20, "cycles", "tlbiel (local, applied at once)",
                             "UNVERIFIED estimate", 0, 1 << 20)
    cost_tlbie: int = param(20, "cycles", "tlbie issue cost on the issuing thread (the "
                            "round trip is paid in tlbsync)", "UNVERIFIED estimate", 0, 1 << 20)
    cost_tlbsync: int = param(20, "cycles", "tlbsync with nothing outstanding",
                              "UNVERIFIED estimate", 0, 1 << 20)
    tlbie_occupancy: int = param(480, "cycles", "per-chip tlbie engine busy time per tlbie "
                                 "(concurrent tlbies queue)", "UNVERIFIED: [EST] "
                                 "suggests a few hundred ns; 200 ns", 0, 1 << 20)
    tlbie_chip: int = param(300, "cycles", "tlbie delivery to a core of the issuing chip",
                            "UNVERIFIED: [EST] puts the whole global sequence at "
                            "0.5-3 us", 0, 1 << 20)
    tlbie_xchip: int = param(1200, "cycles", "tlbie delivery to a core of another chip",
                             "UNVERIFIED: [EST], 0.5-3 us on 2 sockets", 0, 1 << 20)
    tlbie_apply: int = param(20, "cycles", "a core applying a tlbie and sending its "
                             "acknowledgement (after its stores drained, [EST])",
                             "UNVERIFIED estimate", 0, 1 << 20)
    erat_entries: int = param(0, "entries", "per-thread ERAT in front of the TLB (0: not "
                              "modelled, a TLB hit costs nothing)", "UNVERIFIED: [EST] "
                              "suggests 64, fully associative (POWER8 had 48/64)", 0, 64)
    erat_miss: int = param(10, "cycles", "ERAT miss that hits the TLB (with erat_entries > 0)",
                           "UNVERIFIED estimate", 0, 1 << 20)
    # --- instrumentation ---------------------------------------------------------
    trace_capacity: int = param(1 << 16, "records", "size of the trace-port log (core.py "
                                "TRACE_BASE); records beyond it are counted in the "
                                "trace_dropped stat", "simulator instrumentation, not "
                                "hardware (48 bytes a record)", 0, 1 << 24)
    trace_events: bool = param(False, "flag", "also log machine events in the trace log "
                               "(interrupt entry/return, msgsnd and XIVE triggers, sync/"
                               "tlbsync waits, stop/wait sleeps, SIMSTALL; kinds 0xF8..0xFF) "
                               "for `powersim run --trace`; costs no simulated time",
                               "simulator instrumentation, not hardware (docs/CONTRACTS.md "
                               "\"Trace port\")")
    # POWER9 errata: the core models the fixed hardware; kernel code generators
    # read these flags and emit (and pay for) the work-arounds of [L-ftrs].
    erratum_tlbie_erat: bool = param(True, "flag", "CPU_FTR_P9_TLBIE_ERAT_BUG: after each "
                                     "tlbie add `ptesync; tlbie` with PID 0 (all POWER9)",
                                     "[L-ftrs] commit 047e6575aec7")
    erratum_tlbie_stq: bool = param(True, "flag", "CPU_FTR_P9_TLBIE_STQ_BUG: repeat every "
                                    "tlbie after a ptesync (Nimbus below DD2.3, e.g. the DD2.2 "
                                    "of Talos II)", "[L-ftrs] commit a5d4b5891c2f")

    def validate(self):
        """Raise ParamError naming the parameter, the value and what is allowed."""
        for f in attrs.fields(type(self)):
            v, md = getattr(self, f.name), f.metadata
            if isinstance(v, tuple):
                if not all(isinstance(x, int) and x >= 0 for x in v):
                    raise ParamError(f"{f.name} = {v!r}: must be non-negative integers")
                continue
            if isinstance(f.default, bool):
                if not isinstance(v, bool):
                    raise ParamError(f"{f.name} = {v!r}: must be True or False")
                continue
            if isinstance(f.default, str):
                if v not in md["choices"]:
                    raise ParamError(f"{f.name} = {v!r}: allowed "
                                     f"{', '.join(map(repr, md['choices']))}")
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ParamError(f"{f.name} = {v!r}: must be a number")
            if (md["lo"] is not None and v < md["lo"]) or (md["hi"] is not None and v > md["hi"]):
                raise ParamError(f"{f.name} = {v!r}: allowed {md['lo']}..{md['hi']} "
                                 f"{md['unit']}")
            if v not in md.get("choices", (v,)):
                raise ParamError(f"{f.name} = {v!r}: allowed "
                                 f"{', '.join(map(str, md['choices']))}")
        if len(self.smt_cost_pct) != 4:
            raise ParamError(f"smt_cost_pct = {self.smt_cost_pct!r}: needs 4 entries (1..4 "
                             "threads)")
        if len(self.stop_ns) != 16:
            raise ParamError(f"stop_ns = {self.stop_ns!r}: needs 16 entries (RL 0..15)")
        if self.pwc_entries % self.pwc_ways or \
                (self.pwc_entries // self.pwc_ways) & (self.pwc_entries // self.pwc_ways - 1):
            raise ParamError(f"pwc_entries = {self.pwc_entries}, pwc_ways = {self.pwc_ways}: "
                             "entries / ways must be a power of two (the number of sets)")
        if self.memory % 4096:
            raise ParamError(f"memory = {self.memory}: must be a multiple of 4096 bytes")
        return self

    def tlbie_fixups(self) -> tuple:
        """The extra tlbies a kernel issues after each tlbie, in the order
        Linux's fixup_tlbie_va does them ([L-ftrs]): "erat" (same VA, PID 0)
        then "stq" (the same tlbie again), each preceded by a ptesync."""
        return tuple(n for n, on in (("erat", self.erratum_tlbie_erat),
                                     ("stq", self.erratum_tlbie_stq)) if on)

    @property
    def freq_mhz(self) -> int:
        return int(round(self.freq_ghz * 1000))

    def ns_to_cycles(self, ns: int) -> int:
        return (ns * self.freq_mhz + 999) // 1000

    def to_array(self, **run) -> list:
        """The core's parameter array as a list of ints (the slots of
        ``core_slots()``): ``run`` gives the per-run ``RUN_SLOTS``, each field
        is converted by its unit (``CONVERT``) and clamped at 0."""
        out = [max(0, int(run[n])) for n in RUN_SLOTS]
        for f in attrs.fields(type(self)):
            _, _, conv = CONVERT.get(f.metadata["unit"], ("", "", None))
            v = getattr(self, f.name)
            for x in (v if isinstance(v, tuple) else (v,)):
                out.append(max(0, int(conv(self, x) if conv else x)))
        return out

    @classmethod
    def describe(cls):
        """[(name, default, unit, description, source)] for docs and --help."""
        return [(f.name, f.default, f.metadata["unit"], f.metadata["doc"],
                 f.metadata["source"]) for f in attrs.fields(cls)]


# --- the core's parameter array (module docstring) ----------------------------
RUN_SLOTS = ("max_cycles", "exact", "code_bytes", "watch")   # set per Machine.run


def _ns(p, v):
    return p.ns_to_cycles(v)


def _mhz(p, v):
    return p.freq_mhz


def _model(p, v):
    return MEMORY_MODELS.index(v)


MEMORY_MODELS = ("sc", "power")     # the core's PR_MEMORY_MODEL values, in this order

# unit -> (field-name suffix, slot-name suffix, conversion to the core's value)
CONVERT = {"ns": ("_ns", "", _ns), "GHz": ("_ghz", "_mhz", _mhz), "model": ("", "", _model)}


def _slot_name(f) -> str:
    suffix, new, _ = CONVERT.get(f.metadata["unit"], ("", "", None))
    if suffix and f.name.endswith(suffix):
        return f.name[:-len(suffix)] + new
    return f.name


def core_slots() -> list:
    """[(slot name, first index, width)] of the core's parameter array."""
    out = [(n, i, 1) for i, n in enumerate(RUN_SLOTS)]
    i = len(RUN_SLOTS)
    for f in attrs.fields(MachineParams):
        width = len(f.default) if isinstance(f.default, tuple) else 1
        out.append((_slot_name(f), i, width))
        i += width
    return out


def layout_block() -> str:
    """The ``PR_*`` definitions of powersim/machine/layout.py, as generated."""
    slots = core_slots()
    lines = [f"PR_{n.upper()} = {i}" + (f"  # {w} slots" if w > 1 else "")
             for n, i, w in slots]
    n, i, w = slots[-1]
    lines.append(f"NPRM = {i + w}")
    return "\n".join(lines) + "\n"



if __name__ == "__main__":      # regenerate the PR_* block of layout.py
    print(layout_block(), end="")
