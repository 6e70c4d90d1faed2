"""Bit-level helpers of the interpreter: shifts, rotates and masks of 64-bit
patterns held in int64, counts, byte swaps, CR bits, wide multiply and
division.  Nothing here touches machine state.
"""

import numpy as np

from powersim.machine.jit import jit
from powersim.machine.layout import M32, MIN64, XER_CA, XER_CA32, XER_OV, XER_OV32, XER_SO


@jit()
def srl(a, n):
    """Logical shift right of a 64-bit pattern held in an int64."""
    if n == 0:
        return a
    if n >= 64:
        return 0
    return (a >> n) & ((1 << (64 - n)) - 1)

@jit()
def rotl64(x, n):
    n &= 63
    if n == 0:
        return x
    return (x << n) | srl(x, 64 - n)

@jit()
def mask64(mb, me):
    """MASK(mb, me) in IBM bit numbering (wraps when mb > me)."""
    a = srl(-1, mb)
    b = -1 << (63 - me)
    return (a & b) if mb <= me else (a | b)

@jit()
def clz64(x):
    if x == 0:
        return 64
    n = 0
    if srl(x, 32) == 0:
        n += 32
        x <<= 32
    if srl(x, 48) == 0:
        n += 16
        x <<= 16
    if srl(x, 56) == 0:
        n += 8
        x <<= 8
    if srl(x, 60) == 0:
        n += 4
        x <<= 4
    if srl(x, 62) == 0:
        n += 2
        x <<= 2
    if srl(x, 63) == 0:
        n += 1
    return n

@jit()
def popcnt_bytes(x):
    """Per-byte population counts (popcntb)."""
    x = x - (srl(x, 1) & 0x5555555555555555)
    x = (x & 0x3333333333333333) + (srl(x, 2) & 0x3333333333333333)
    return (x + srl(x, 4)) & 0x0F0F0F0F0F0F0F0F

@jit()
def sext(v, sz):
    s = 64 - 8 * sz
    return (v << s) >> s

@jit()
def bswap(v, sz):
    r = 0
    for i in range(sz):
        r = (r << 8) | (srl(v, 8 * i) & 0xFF)
    return r

@jit()
def ult(a, b):
    return (a ^ MIN64) < (b ^ MIN64)

@jit()
def cmpbits(a, b, signed):
    """CR field LT/GT/EQ bits (SO added by the caller)."""
    if a == b:
        return 2
    if signed:
        return 8 if a < b else 4
    return 8 if ult(a, b) else 4

@jit()
def setcr(cr, field, v):
    sh = 28 - 4 * field
    return (cr & ~(0xF << sh) & M32) | (v << sh)

@jit()
def cr0(cr, res, xer):
    return setcr(cr, 0, cmpbits(res, 0, True) | ((xer >> 31) & 1))

@jit()
def mulhdu(a, b):
    al, ah, bl, bh = a & M32, srl(a, 32), b & M32, srl(b, 32)
    ll, m1, m2 = al * bl, ah * bl, al * bh
    t = srl(ll, 32) + (m1 & M32) + (m2 & M32)
    return ah * bh + srl(m1, 32) + srl(m2, 32) + srl(t, 32)

@jit()
def udiv(a, b):
    return np.int64(np.uint64(a) // np.uint64(b))

@jit()
def sdiv(a, b):
    """Signed division truncating toward zero (b != 0, not MIN / -1), through
    the unsigned magnitudes so that MIN64 needs no special case."""
    q = udiv(-a if a < 0 else a, -b if b < 0 else b)
    return q if (a < 0) == (b < 0) else -q

@jit()
def trap_cond(to, a, b):
    return (((to & 16) and a < b) or ((to & 8) and a > b) or ((to & 4) and a == b)
            or ((to & 2) and ult(a, b)) or ((to & 1) and ult(b, a)))


@jit(inline="always")
def with_ca(xer, c):
    """XER with CA and CA32 from the carries ``c`` out of bits 0 and 32."""
    return (xer & ~(XER_CA | XER_CA32)) | (srl(c, 63) << 29) | (((c >> 31) & 1) << 18)


@jit(inline="always")
def with_ov(xer, ov, ov32):
    """XER with OV, OV32 set to ov, ov32 (0/1) and SO sticky."""
    xer = (xer & ~(XER_OV | XER_OV32)) | (ov << 30) | (ov32 << 19)
    return xer | XER_SO if ov else xer


@jit(inline="always")
def fxm_mask(fxm):
    """The CR bits of the fields an FXM selects (mtcrf, mfocrf, mtocrf)."""
    m = 0
    for f in range(8):
        if (fxm >> (7 - f)) & 1:
            m |= 0xF << (28 - 4 * f)
    return m
