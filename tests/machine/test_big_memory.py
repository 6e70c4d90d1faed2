"""Memory above 4 GiB: addresses beyond 2**32 load, store, reserve and dump
like low ones (np.zeros allocates lazily: only the touched host pages count)."""

from powersim.machine.exec import run_asm

GIB = 1 << 30


def test_loads_and_stores_above_4_gib():
    memory = 16 * GIB
    high = 12 * GIB + 0x1000            # beyond 2**32, line index beyond 2**25
    top = memory - 8                    # the last doubleword
    res = run_asm(f"""
_start:
    lis r9, 0
    ori r9, r9, {high >> 32}
    sldi r9, r9, 32
    oris r9, r9, {(high >> 16) & 0xFFFF}
    ori r9, r9, {high & 0xFFFF}
    lis r4, 0x1234
    ori r4, r4, 0x5678
    std r4, 0(r9)
    stw r4, 12(r9)
    ld r5, 0(r9)
    lwz r6, 12(r9)
    ldarx r7, 0, r9
    addi r7, r7, 1
    stdcx. r7, 0, r9
    mfcr r8
    ld r10, 0(r9)
    lis r11, 0
    ori r11, r11, {top >> 32}
    sldi r11, r11, 32
    oris r11, r11, {(top >> 16) & 0xFFFF}
    ori r11, r11, {top & 0xFFFF}
    std r4, 0(r11)
    ld r12, 0(r11)
    attn
""", memory=memory, threads=1, dumps=((high, 16), (top, 8)))
    t = res.threads[0]
    assert t.gpr[5] == 0x12345678 and t.gpr[6] == 0x12345678
    assert t.gpr[8] >> 28 == 0b0010             # stdcx. succeeded (cr0 EQ)
    assert t.gpr[10] == 0x12345679 and t.gpr[12] == 0x12345678
    assert res.dumps[high] == (0x12345679).to_bytes(8, "little") + bytes(4) + \
        (0x12345678).to_bytes(4, "little")
    assert res.dumps[top] == (0x12345678).to_bytes(8, "little")
