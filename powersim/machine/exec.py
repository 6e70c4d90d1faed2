"""`powersim exec PROG.s` and its Python twin ``run_asm``: assemble a program,
load it at physical 0, start the hardware threads at ``_start`` in hypervisor
real mode (MSR: SF HV ME LE; HID0[HILE] and LPCR[ILE] set) with r3 = PIR, and
run until every thread has executed ``attn`` or max_cycles.

    from powersim.machine.exec import run_asm
    res = run_asm(src, chips=1, cores_per_chip=1, smt=4, threads=None)
    res.threads[0].gpr[5], res.threads[0].cycles, res.dumps[0x1000]
    res.trace      # trace-port records (layout.py TRACE_BASE), Machine.trace()
"""

import json
import sys
import time

import attrs
import numpy as np

from powersim.errors import PowersimError
from powersim.machine.layout import (S_HALT, SPR_CTR, SPR_LR, SPR_XER, STAT_NAMES, TS_CLK,
                                   TS_CR, TS_INSN, TS_MSR, TS_PIR, TS_STATE)
from powersim.machine.params import MachineParams

U64 = (1 << 64) - 1


@attrs.define
class ThreadResult:
    pir: int
    gpr: list
    cr: int
    lr: int
    ctr: int
    xer: int
    msr: int
    cycles: int
    instructions: int
    halted: bool
    stats: dict

    def to_dict(self):
        return attrs.asdict(self)


@attrs.define
class Result:
    threads: list
    dumps: dict
    cycles: int
    instructions: int
    host_seconds: float
    trace: np.ndarray       # Machine.trace(): structured, sorted by (cycle, seq)

    def to_json(self) -> str:
        doc = {"threads": [t.to_dict() for t in self.threads],
               "dumps": {f"{a:#x}": d.hex() for a, d in self.dumps.items()},
               "cycles": self.cycles, "instructions": self.instructions,
               "host_seconds": self.host_seconds,
               "trace": [[int(v) for v in r] for r in self.trace.tolist()]}
        return json.dumps(doc, indent=1)


def _results(m, dumps, host_seconds: float, release_trace: bool = False) -> Result:
    """Every hardware thread, in PIR order (threads never started show as halted);
    ``release_trace``: the machine gives its trace records up (Machine.trace)."""
    threads = []
    for t in range(m.nthreads):
        ts, st = m.ts[t], m.stats[t]
        stats = {n: int(st[i]) for i, n in enumerate(STAT_NAMES)}
        stats["cycles_run"] = (int(ts[TS_CLK]) - stats["cycles_stop"] - stats["cycles_spin"]
                               - stats["cycles_stall"])
        threads.append(ThreadResult(
            pir=int(ts[TS_PIR]), gpr=[int(v) & U64 for v in m.gpr[t]],
            cr=int(ts[TS_CR]) & U64, lr=int(m.sprs[t, SPR_LR]) & U64,
            ctr=int(m.sprs[t, SPR_CTR]) & U64, xer=int(m.sprs[t, SPR_XER]) & U64,
            msr=int(ts[TS_MSR]) & U64, cycles=int(ts[TS_CLK]), instructions=int(ts[TS_INSN]),
            halted=bool(ts[TS_STATE] == S_HALT), stats=stats))
    return Result(threads=threads,
                  dumps={a: bytes(m.mem[a:a + n]) for a, n in dumps},
                  cycles=max(t.cycles for t in threads),
                  instructions=sum(t.instructions for t in threads),
                  host_seconds=host_seconds, trace=m.trace(release_trace))


def build(source: str, chips=1, cores_per_chip=1, smt=4, threads=None, dumps=(),
          memory=64 << 20, filename="prog.s", params=None):
    """Validate, assemble and load (no compile yet): (machine, dumps)."""
    from powersim.asm import assemble
    from powersim.machine.state import Machine
    p = attrs.evolve(params or MachineParams(), chips=chips, cores_per_chip=cores_per_chip,
                     smt=smt, memory=memory).validate()
    img = assemble(source, base=0, filename=filename)
    if "_start" not in img.symbols:
        raise PowersimError(f"{filename}: no `_start` symbol: define the entry point, "
                            "e.g. `_start:` before the first instruction")
    dumps = tuple((int(a), int(n)) for a, n in dumps)
    for a, n in dumps:
        if a < 0 or n <= 0 or a + n > p.memory:
            raise PowersimError(f"dump {a:#x}:{n}: must be a non-empty range inside memory "
                                f"(0..{p.memory:#x})")
    nthreads = p.chips * p.cores_per_chip * p.smt
    if threads is not None and not 1 <= threads <= nthreads:
        raise PowersimError(f"threads = {threads}: this machine has {nthreads} hardware "
                            f"threads (allowed 1..{nthreads})")
    m = Machine(p)
    m.load(img.data, img.base)
    m.start(img.symbols["_start"], threads)
    return m, dumps


def run_asm(source: str, chips=1, cores_per_chip=1, smt=4, threads=None, max_cycles=10**9,
            exact=False, dumps=(), memory=64 << 20, filename="prog.s", params=None) -> Result:
    """Assemble and run `source`; see the module docstring.  `params` is a
    MachineParams whose topology fields are overridden by the arguments."""
    from powersim.machine.state import check_max_cycles
    check_max_cycles(max_cycles)
    m, dumps = build(source, chips, cores_per_chip, smt, threads, dumps, memory, filename,
                     params)
    m.prepare()
    t0 = time.perf_counter()
    m.run(max_cycles, exact)
    return _results(m, dumps, time.perf_counter() - t0)


def _dump_arg(text: str):
    try:
        a, n = text.split(":")
        return int(a, 0), int(n, 0)
    except ValueError:
        raise PowersimError(f"--dump {text!r}: expected ADDR:LEN, e.g. 0x1000:64") from None


def cmd_exec(args) -> int:
    with open(args.source, encoding="utf-8") as f:
        source = f.read()
    res = run_asm(source, chips=args.chips, cores_per_chip=args.cores, smt=args.smt,
                  threads=args.threads, max_cycles=args.max_cycles, exact=args.exact,
                  dumps=[_dump_arg(d) for d in args.dump], filename=args.source,
                  params=MachineParams(memory_model=args.memory_model))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(res.to_json())
        return 0
    out = sys.stdout
    mips = res.instructions / res.host_seconds / 1e6 if res.host_seconds > 0 else 0.0
    print(f"{len(res.threads)} threads, {res.cycles} cycles, {res.instructions} instructions, "
          f"{res.host_seconds:.3f} s host ({mips:.1f} MIPS)", file=out)
    for t in res.threads:
        state = "halted" if t.halted else "running"
        print(f"  pir {t.pir:#06x}: {state:7} cycles {t.cycles:>12} insns {t.instructions:>10} "
              f"r3 {t.gpr[3]:#x}", file=out)
    for a, d in res.dumps.items():
        print(f"  dump {a:#x}: {d.hex()}", file=out)
    return 0
