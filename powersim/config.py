"""Scenario files: ``[machine]``, ``[kernel]`` and ``[workload]`` TOML sections
mapped onto MachineParams, KernelParams and WorkloadParams (each parameter
declared once, gem5 style), plus ``--set section.key=value`` overrides.

    sc = load_scenario("workloads/example-small.toml", ["kernel.method=count"])
    sc.machine, sc.kernel, sc.workload; sc.to_dict()

Everything here is checked in plain Python before numba is imported, so bad
input fails at once with a ConfigError naming the key, the value and what is
allowed.
"""

import difflib
import importlib.util
import pkgutil
import re
import tomllib

import attrs

from powersim.errors import PowersimError
from powersim.kernel.idle_states import STATES
from powersim.kernel.params import KernelParams
from powersim.machine.params import MachineParams, ParamError, choice, param


class ConfigError(PowersimError):
    """A scenario file or override that is not allowed."""


# The workload generators: powersim/workloads/<name>.py each.
GENERATORS = ("munmap_thp", "vcpus", "gup_storm", "thp_churn", "ipi_latency", "tlb_flush",
              "ipi_idle")
THP_SIZE = 2 << 20      # a radix PMD maps 2 MiB with either base page size [L-tlb]


@attrs.define(frozen=True)
class WorkloadParams:
    generator: str = choice("munmap_thp", "name", "workload generator building the initial "
                            "state and the event schedule", "simulator choice: one module per "
                            "workload (powersim/workloads/)", GENERATORS)
    memory: int = param(1 << 30, "bytes", "size of the THP-mapped region (a multiple of the "
                        "2 MiB THP size)", "the seed scenario munmaps 496 GiB [N1], [N4]",
                        THP_SIZE, 1 << 50)
    base_page: int = choice(64 << 10, "bytes", "base page size (64 KiB as on POWER9 "
                            "distribution kernels, or 4 KiB)", "[L-r64k], [L-r4k]",
                            (64 << 10, 4 << 10))
    vcpus: int = param(1, "threads", "vCPU threads of the process (at most one per hardware "
                       "thread)", "the seed scenario's QEMU has 128 [N1], [N2]", 1, 1 << 16)
    fullmm: bool = param(False, "flag", "tear the region down by process exit (fullmm) "
                         "instead of munmap", "fullmm skips the per-PMD flush of v5.8+ "
                         "[LM-pmd], [LM-zap]")
    seed: int = param(1, "seed", "random seed of the workload's event schedule (runs are "
                      "deterministic for a given seed)", "simulator choice: randomness drawn "
                      "in Python from this seed only", 0,
                      (1 << 64) - 1)
    # --- the vCPU threads (munmap_thp, vcpus) -------------------------------------
    vcpu_state: str = choice("host", "name", "what the vCPU threads do while the measured "
                             "operation runs: host (in the host kernel, waiting), guest (in "
                             "guest mode: no instructions; an interrupt costs a guest exit "
                             "and entry, kernel.guest_*_cycles), idle (stop state chosen by "
                             "the idle governor)", "the three states a vCPU thread's CPU can "
                             "be in: [N16] (guest exit), [SK-slw], [P9-wake] (idle)",
                             ("host", "guest", "idle"))
    vcpu_placement: str = choice("pinned", "name", "pinned: vCPU i runs on CPU i; migrating: "
                                 "each vCPU moves to the next CPU every migrate_us, so it "
                                 "visits every CPU (what grows mm_cpumask)",
                                 "mm_cpumask only grows on powerpc [LM-cpumask]",
                                 ("pinned", "migrating"))
    migrate_us: int = param(1000, "us", "time between migrations of a migrating vCPU",
                            "rationale: CFS balancing runs at millisecond scale", 1, 1 << 40)
    kvm_fault_rate: int = param(0, "1/s", "KVM page-fault exits per second per vCPU in guest "
                                "mode, each running the lockless KVM walk (0: none)",
                                "the KVM walk is a lockless walker [LM-walk]", 0, 1 << 30)
    wake_rate: int = param(0, "1/s", "IPIs per second the process's main thread (the last "
                           "CPU, not a vCPU) sends to mm_cpumask (vcpus: "
                           "smp_call_function_many, no wait): what ends idle periods and "
                           "forces guest exits (0: none)", "rationale: an event-loop thread "
                           "kicking its vCPUs (QEMU's qemu_cpu_kick)", 0, 1 << 30)
    duration_us: int = param(200, "us", "simulated time the vcpus, gup_storm and thp_churn "
                             "generators run for", "rationale: long enough for tens of "
                             "events at the default rates", 1, 1 << 40)
    # --- gup_storm, thp_churn ------------------------------------------------------
    gup_threads: int = param(4, "threads", "threads calling gup_fast on the region "
                             "(gup_storm)", "rationale: a few pinning threads, each on its own CPU",
                             1, 1 << 16)
    gup_rate: int = param(200000, "1/s", "gup_fast calls per second per thread (gup_storm)",
                          "rationale: a DMA-heavy workload pinning pages continuously",
                          1, 1 << 30)
    split_rate: int = param(20000, "1/s", "THP splits per second (thp_churn: partial "
                            "MADV_DONTNEED)", "rationale: fast enough to race walkers in "
                            "a short run", 0, 1 << 30)
    collapse_rate: int = param(20000, "1/s", "THP collapses per second (thp_churn: "
                               "khugepaged)", "rationale: as split_rate", 0, 1 << 30)
    unmap_us: int = param(0, "us", "when CPU 0 munmaps the whole region, into the churn "
                          "(thp_churn; 0: never): walkers then meet freed pages",
                          "rationale: the process's exit or a munmap racing its own walkers",
                          0, 1 << 40)
    # --- microbenchmarks -------------------------------------------------------------
    rounds: int = param(16, "rounds", "round trips per pair (ipi_latency)",
                        "rationale: enough for a stable median", 1, 1 << 20)
    pages: int = param(64, "pages", "base pages flushed (tlb_flush)",
                       "rationale: around the 33/256-page flush ceilings [N7], [N8]", 1, 1 << 30)
    tlb_op: str = choice("munmap", "name", "operation of tlb_flush: munmap or mprotect of "
                         "`pages` base pages", "both flush through radix__flush_tlb_range [LM-zap]",
                         ("munmap", "mprotect"))
    target_state: str = choice("stop5", "name", "what the IPI target does (ipi_idle): busy "
                               "(in the kernel, taking interrupts at once) or an idle state "
                               "it stops in before each IPI",
                               "[Sampat-ipi] measured busy and stop0_lite..stop5",
                               ("busy", *STATES))


SECTIONS = {"machine": MachineParams, "kernel": KernelParams, "workload": WorkloadParams}


def _tuple_as_list(_inst, _field, v):
    return list(v) if isinstance(v, tuple) else v


@attrs.define(frozen=True)
class Scenario:
    machine: MachineParams
    kernel: KernelParams
    workload: WorkloadParams

    def to_dict(self) -> dict:
        """The fully resolved configuration (tuples as lists, JSON-ready)."""
        return {name: attrs.asdict(getattr(self, name), value_serializer=_tuple_as_list)
                for name in SECTIONS}


# --- human sizes ----------------------------------------------------------------
_SIZE_UNITS = {"": 1, "B": 1, "K": 1 << 10, "KiB": 1 << 10, "M": 1 << 20, "MiB": 1 << 20,
               "G": 1 << 30, "GiB": 1 << 30, "T": 1 << 40, "TiB": 1 << 40}
_SIZE_RE = re.compile(r"\s*(\d+)\s*([A-Za-z]*)\s*")


def parse_size(text: str) -> int:
    """"496GiB" -> 532575944704; binary units only (K = KiB)."""
    m = _SIZE_RE.fullmatch(text)
    if not m or m.group(2) not in _SIZE_UNITS:
        raise ValueError(f"not a size: write a non-negative integer and a unit among "
                         f"{', '.join(u for u in _SIZE_UNITS if u)} (e.g. \"2MiB\")")
    return int(m.group(1)) * _SIZE_UNITS[m.group(2)]


def format_size(n: int) -> str:
    """The largest binary unit that divides n exactly: 65536 -> "64KiB"."""
    for unit in ("TiB", "GiB", "MiB", "KiB"):
        if n and n % _SIZE_UNITS[unit] == 0:
            return f"{n // _SIZE_UNITS[unit]}{unit}"
    return str(n)


# --- checking -------------------------------------------------------------------
def _did_you_mean(word, allowed) -> str:
    close = difflib.get_close_matches(word, allowed, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def method_names() -> tuple:
    """The kernel.method values: the modules of powersim/kernel/methods/, found
    without importing them (they pull in the numba core)."""
    spec = importlib.util.find_spec("powersim.kernel.methods")
    return tuple(m.name for m in pkgutil.iter_modules(spec.submodule_search_locations))


def check_method(method):
    """kernel.method: a method module's name or the path of a C method file (the
    message of kernel.methods.get, without its imports; a C file is compiled
    only when its kernel is built)."""
    from powersim.kernel.cmethod import check_path, is_c_method
    allowed = method_names()
    if method in allowed:
        return
    c_files = "or the path of a C method file ending in .c (e.g. examples/methods/count.c)"
    if is_c_method(method):
        why = check_path(method)
        if why is None:
            return
        raise ConfigError(f"kernel.method = {method!r}: {why} (allowed "
                          f"{', '.join(allowed)}, {c_files})")
    raise ConfigError(f"kernel.method = {method!r}: allowed {', '.join(allowed)}, {c_files}"
                      f"{_did_you_mean(method, allowed)}")


def _convert(key, f, v):
    """v (from TOML) as the declared type of field f, else ConfigError."""
    md = f.metadata
    if f.type is bool:
        if not isinstance(v, bool):
            raise ConfigError(f"{key} = {v!r}: must be true or false")
        return v
    if f.type is int and md["unit"] == "bytes" and isinstance(v, str):
        try:
            v = parse_size(v)
        except ValueError as e:
            raise ConfigError(f"{key} = {v!r}: {e}") from None
    if f.type is tuple:
        if not isinstance(v, (list, tuple)) or not all(
                isinstance(x, int) and not isinstance(x, bool) for x in v):
            raise ConfigError(f"{key} = {v!r}: must be a list of integers")
        return tuple(v)
    if f.type is str:
        if not isinstance(v, str):
            raise ConfigError(f"{key} = {v!r}: must be a string")
    elif isinstance(v, bool) or not isinstance(v, (int, float)) or \
            (f.type is int and not isinstance(v, int)):
        kind = "an integer" if f.type is int else "a number"
        raise ConfigError(f"{key} = {v!r}: must be {kind} ({md['unit']})")
    if (md["lo"] is not None and v < md["lo"]) or (md["hi"] is not None and v > md["hi"]):
        raise ConfigError(f"{key} = {v!r}: allowed {md['lo']}..{md['hi']} {md['unit']}")
    if "choices" in md and v not in md["choices"]:
        shown = [format_size(c) if md["unit"] == "bytes" else c for c in md["choices"]]
        raise ConfigError(f"{key} = {v!r}: allowed {', '.join(map(str, shown))}"
                          + (_did_you_mean(v, md["choices"]) if isinstance(v, str) else ""))
    return float(v) if f.type is float else v


def _check_section(section):
    if section not in SECTIONS:
        raise ConfigError(f"unknown section [{section}]{_did_you_mean(section, list(SECTIONS))}"
                          f"; allowed {', '.join(SECTIONS)}")


def _field(section, key):
    """The attrs field declaring section.key, else ConfigError."""
    _check_section(section)
    fields = {f.name: f for f in attrs.fields(SECTIONS[section])}
    if key not in fields:
        raise ConfigError(f"unknown key {section}.{key}{_did_you_mean(key, list(fields))}; "
                          f"`powersim params --section {section}` lists the allowed keys")
    return fields[key]


def _section_kwargs(name, table) -> dict:
    if not isinstance(table, dict):
        raise ConfigError(f"[{name}] = {table!r}: must be a table of key = value")
    return {k: _convert(f"{name}.{k}", _field(name, k), v) for k, v in table.items()}


def scenario_from_dict(data: dict) -> Scenario:
    """Check and build a Scenario from {section: {key: value}}."""
    for name in data:
        _check_section(name)
    kw = {name: _section_kwargs(name, data.get(name, {})) for name in SECTIONS}
    try:
        mp = MachineParams(**kw["machine"]).validate()
    except ParamError as e:
        raise ConfigError(f"machine.{e}") from None
    method = kw["kernel"].get("method", KernelParams().method)
    check_method(method)
    kp = KernelParams.for_machine(mp, **kw["kernel"])
    try:
        kp.validate(check_method=False)     # method_names() checked it above
    except PowersimError as e:
        raise ConfigError(str(e)) from None
    wp = WorkloadParams(**kw["workload"])
    threads = mp.chips * mp.cores_per_chip * mp.smt
    if wp.vcpus > threads:
        raise ConfigError(f"workload.vcpus = {wp.vcpus}: more than the {threads} hardware "
                          f"threads (machine.chips {mp.chips} x cores_per_chip "
                          f"{mp.cores_per_chip} x smt {mp.smt}); allowed 1..{threads}")
    if wp.memory % THP_SIZE:
        raise ConfigError(f"workload.memory = {wp.memory}: must be a multiple of the 2MiB "
                          "THP size")
    return Scenario(mp, kp, wp)


def parse_override(text: str):
    """"section.key=value" -> (section, key, value); the value is a TOML literal,
    or else the text itself (so `kernel.method=count` needs no quotes)."""
    target, eq, raw = text.partition("=")
    section, dot, key = target.strip().partition(".")
    if not eq or not dot or not key:
        raise ConfigError(f"--set {text!r}: write section.key=value, e.g. "
                          "workload.memory=2GiB")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return section, key.strip(), value


def load_scenario(path, overrides=()) -> Scenario:
    """Read a scenario TOML file, apply ``section.key=value`` overrides, check all."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such scenario file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a scenario file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: TOML syntax error: {e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e.reason})") from None
    for text in overrides:
        section, key, value = parse_override(text)
        try:    # name the override, not the file, for what the override alone gets wrong
            _convert(f"{section}.{key}", _field(section, key), value)
        except ConfigError as e:
            raise ConfigError(f"--set {text!r}: {e}") from None
        table = data.setdefault(section, {})
        if isinstance(table, dict):
            table[key] = value
    try:
        return scenario_from_dict(data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


# --- `powersim params` -------------------------------------------------------------
def describe(sections=tuple(SECTIONS)):
    """[(section.key, type, default, unit, description, source)] for every parameter."""
    rows = []
    for name in sections:
        for f in attrs.fields(SECTIONS[name]):
            md, d = f.metadata, f.default
            shown = format_size(d) if md["unit"] == "bytes" else _toml_literal(d)
            kind = "list[int]" if f.type is tuple else f.type.__name__
            rows.append((f"{name}.{f.name}", kind, shown, md["unit"], md["doc"], md["source"]))
    return rows


def _toml_literal(v) -> str:
    """v as written in a scenario file."""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, tuple):
        return f"[{', '.join(map(str, v))}]"
    return str(v)


def cmd_params(args) -> int:
    rows = describe((args.section,) if args.section else tuple(SECTIONS))
    head = ("parameter", "type", "default", "unit")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
    widths[2] = min(widths[2], 24)  # long lists (machine.stop_ns) overflow, not widen
    for r in [head + ("description; source",)] + [r[:4] + (f"{r[4]}; source: {r[5]}",)
                                                  for r in rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[4])
    return 0
