"""Simulated MIPS of the numba core (simulated instructions per host second,
compile excluded: every configuration is run once to warm up first).

    python benchmarks/bench_mips.py

Targets: >= 30 MIPS single-thread, >= 20 MIPS with 128 threads,
and a 1e9-cycle spin-wait in < 50 ms of host time.
"""

import time

from powersim.machine.exec import run_asm

# ALU / load / store / branch mix: each thread walks its own 4 KiB buffer
MIX = """
_start:
    sldi r4, r3, 12
    addis r4, r4, 0x10
    lis r6, {iters_hi}
    ori r6, r6, {iters_lo}
    mtctr r6
    li r7, 0
    li r11, 0
1:  andi. r8, r7, 0xff8
    ldx r9, r4, r8
    add r9, r9, r7
    xor r10, r9, r7
    rldicl r10, r10, 3, 1
    cmpdi r10, 0
    bne 2f
    addi r11, r11, 1
2:  stdx r10, r4, r8
    addi r7, r7, 8
    bdnz 1b
    attn
"""

SPIN = """
_start:
    li r4, 0x2000
1:  ld r5, 0(r4)
    cmpdi r5, 0
    beq 1b
    attn
"""


def measure(label, src, repeat=3, **kw):
    run_asm(src, **kw)          # warm up: compile / load the numba cache
    best = None
    for _ in range(repeat):
        res = run_asm(src, **kw)
        if best is None or res.host_seconds < best.host_seconds:
            best = res
    mips = best.instructions / best.host_seconds / 1e6
    print(f"{label:42} {best.instructions:>12,} insns {best.cycles:>14,} cycles "
          f"{best.host_seconds * 1e3:9.1f} ms  {mips:7.1f} MIPS")
    return best


def main():
    t0 = time.perf_counter()
    run_asm(SPIN, smt=1, max_cycles=1000)
    print(f"first call (compile or cache load): {time.perf_counter() - t0:.1f} s")
    n1 = 1_000_000
    measure("1 thread, ALU/load/branch mix", MIX.format(iters_hi=n1 >> 16,
            iters_lo=n1 & 0xFFFF), smt=1)
    n = 20_000
    measure("128 threads (2 chips x 16 cores x SMT4)",
            MIX.format(iters_hi=n >> 16, iters_lo=n & 0xFFFF), chips=2, cores_per_chip=16,
            smt=4)
    res = measure("spin-wait of 1e9 cycles", SPIN, smt=1, max_cycles=10**9)
    print(f"  spin-wait: slept {res.threads[0].stats['spin_sleeps']} time(s), "
          f"{res.host_seconds * 1e3:.2f} ms host for {res.cycles:,} cycles")


if __name__ == "__main__":
    main()
