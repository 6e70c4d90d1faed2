"""Cost of radix translation on the interpreter's hot path: simulated MIPS of
bench_mips.py's ALU/load/store/branch mix with MSR[IR|DR] on (64K pages,
PID 1, warm TLB) next to the same program with translation off.

    python benchmarks/bench_mmu.py

Target: translation on within 25 % of the translation-off MIPS.
Both runs execute the same instructions: a prologue rfid's to the mix with
MSR[IR|DR] set or not; the pages map EA = RA, so addresses are identical.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_mips import MIX  # noqa: E402

from powersim import radix  # noqa: E402
from powersim.mmu import MMUTest  # noqa: E402

PROLOGUE = """
_start:
    li r5, 1
    mtspr 48, r5            # PIDR = 1
    lis r5, body@h
    ori r5, r5, body@l
    mtspr 26, r5            # SRR0
    mfmsr r5
    ori r5, r5, {msr_bits}
    mtspr 27, r5            # SRR1: MSR with IR|DR (or unchanged)
    rfid
"""
IDENTITY = 4 << 20      # code at 0 and the per-thread buffers at 1 MiB + PIR * 4 KiB


def program(iters, translate):
    return PROLOGUE.format(msr_bits=0x30 if translate else 0) + \
        MIX.replace("_start:", "body:").format(iters_hi=iters >> 16, iters_lo=iters & 0xFFFF)


def machine(**topo):
    m = MMUTest(**topo)
    for ea in range(0, IDENTITY, 1 << 16):
        m.pt.map(1, ea, ea, "64K", radix.READ | radix.RW | radix.EXEC)
    return m


def measure(label, iters, translate, repeat=5, **topo):
    machine(**topo).run_asm(program(1000, translate), threads=None)   # warm up the compile
    best = None
    for _ in range(repeat):
        res = machine(**topo).run_asm(program(iters, translate), threads=None)
        if best is None or res.host_seconds < best.host_seconds:
            best = res
    assert all(t.halted for t in best.threads), "the benchmark program did not finish"
    mips = best.instructions / best.host_seconds / 1e6
    tlb = sum(t.stats["tlb_hits"] + t.stats["tlb_misses"] for t in best.threads)
    print(f"{label:48} {best.instructions:>12,} insns {best.host_seconds * 1e3:9.1f} ms "
          f"{mips:7.1f} MIPS  ({tlb} TLB lookups)")
    return mips


def main():
    t0 = time.perf_counter()
    machine(smt=1).run_asm(program(10, True), threads=None)
    print(f"first call (compile or cache load): {time.perf_counter() - t0:.1f} s")
    for label, iters, topo in (("1 thread", 1_000_000, dict(smt=1, cores_per_chip=1)),
                               ("128 threads (2 chips x 16 cores x SMT4)", 20_000,
                                dict(chips=2, cores_per_chip=16, smt=4))):
        off = measure(f"{label}, translation off", iters, False, **topo)
        on = measure(f"{label}, translation on", iters, True, **topo)
        print(f"  translation on / off: {on / off:.2f} (target >= 0.75)")


if __name__ == "__main__":
    main()
