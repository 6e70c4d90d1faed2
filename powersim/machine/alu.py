"""The integer instruction families whose result is a pure function of their
operands (ops.py ROTATE, UNARY, MULDIV): one function each, called by the
interpreter's dispatcher.
"""

from powersim.machine.bits import (
    clz64, mask64, mulhdu, popcnt_bytes, rotl64, sdiv, sext, srl, udiv,
)
from powersim.machine.jit import jit
from powersim.machine.layout import M32, MIN64, XER_CA, XER_CA32
from powersim.ops import (
    OP_CNTLZD, OP_CNTLZW, OP_CNTTZD, OP_CNTTZW, OP_DIVD, OP_DIVDU, OP_DIVW, OP_EXTSB,
    OP_EXTSH, OP_EXTSW, OP_MULHD, OP_MULHDU, OP_MULHW, OP_MULHWU, OP_MULLD, OP_MULLI,
    OP_MULLW, OP_POPCNTB, OP_POPCNTD, OP_POPCNTW, OP_RLDCL, OP_RLDCR, OP_RLDICL, OP_RLDICR,
    OP_RLDIMI, OP_RLWIMI, OP_RLWNM, OP_SLD, OP_SLW, OP_SRAD, OP_SRAW, OP_SRAWI, OP_SRD,
    OP_SRW,
)


@jit()
def rotate(op, s, old, b, imm, aux):
    """rlwinm .. rldcr: RS rotated and masked (old RA merged for the *imi forms)."""
    if op <= OP_RLWIMI:
        n = (b & 31) if op == OP_RLWNM else imm
        lo = s & M32
        r = rotl64(lo | (lo << 32), n)
        m = mask64((aux & 0xFF) + 32, (aux >> 8) + 32)
        res = (r & m) | (old & ~m) if op == OP_RLWIMI else r & m
    else:
        n = (b & 63) if (op == OP_RLDCL or op == OP_RLDCR) else imm
        r = rotl64(s, n)
        if op == OP_RLDICL or op == OP_RLDCL:
            m = mask64(aux, 63)
        elif op == OP_RLDICR or op == OP_RLDCR:
            m = mask64(0, aux)
        else:
            m = mask64(aux, 63 - n)     # rldic, rldimi
        res = (r & m) | (old & ~m) if op == OP_RLDIMI else r & m
    return res

@jit()
def unary_shift(op, s, b, imm, xer):
    """extsb .. sradi (RA <- f(RS, RB or SH)): (result, XER with CA/CA32)."""
    if op == OP_EXTSB:
        res = sext(s, 1)
    elif op == OP_EXTSH:
        res = sext(s, 2)
    elif op == OP_EXTSW:
        res = sext(s, 4)
    elif op == OP_CNTLZW:
        res = clz64(s & M32) - 32
    elif op == OP_CNTLZD:
        res = clz64(s)
    elif op == OP_CNTTZW:
        x = s & M32
        res = 32 if x == 0 else 63 - clz64(x & -x)
    elif op == OP_CNTTZD:
        res = 64 if s == 0 else 63 - clz64(s & -s)
    elif op == OP_POPCNTB:
        res = popcnt_bytes(s)
    elif op == OP_POPCNTW:
        x = popcnt_bytes(s)
        x += srl(x, 8)
        x += srl(x, 16)
        res = x & 0x0000003F0000003F
    elif op == OP_POPCNTD:
        res = srl(popcnt_bytes(s) * 0x0101010101010101, 56)
    elif op == OP_SLW or op == OP_SRW:
        n = b & 63
        res = 0 if n > 31 else ((s << n) & M32 if op == OP_SLW else srl(s & M32, n))
    elif op == OP_SLD or op == OP_SRD:
        n = b & 127
        res = 0 if n > 63 else (s << n if op == OP_SLD else srl(s, n))
    else:   # sraw srawi srad sradi: CA set iff negative and 1s shifted out
        if op == OP_SRAW or op == OP_SRAWI:
            n = (b & 63) if op == OP_SRAW else imm
            x = sext(s, 4)
            n = min(n, 32)
        else:
            n = (b & 127) if op == OP_SRAD else imm
            x = s
            n = min(n, 64)
        res = x >> min(n, 63)
        lost = (x & ((1 << n) - 1)) if n < 64 else x
        ca = 1 if (x < 0 and lost != 0) else 0
        xer = (xer & ~(XER_CA | XER_CA32)) | (ca << 29) | (ca << 18)
    return res, xer

@jit()
def muldiv(op, a, b):
    """mulli, mulld .. divwu: (result, overflow); division by zero or MIN / -1
    gives 0 with overflow (as QEMU)."""
    ov = 0
    if op == OP_MULLI or op == OP_MULLD:
        res = a * b
        if op == OP_MULLD:
            hi = mulhdu(a, b) - (b if a < 0 else 0) - (a if b < 0 else 0)
            ov = 0 if hi == (res >> 63) else 1
    elif op == OP_MULLW:
        res = sext(a, 4) * sext(b, 4)
        ov = 0 if res == sext(res, 4) else 1
    elif op == OP_MULHD:
        res = mulhdu(a, b) - (b if a < 0 else 0) - (a if b < 0 else 0)
    elif op == OP_MULHDU:
        res = mulhdu(a, b)
    elif op == OP_MULHW:
        res = srl(sext(a, 4) * sext(b, 4), 32) & M32
    elif op == OP_MULHWU:
        res = srl((a & M32) * (b & M32), 32)
    elif op == OP_DIVD:
        if b == 0 or (a == MIN64 and b == -1):
            res, ov = 0, 1
        else:
            res = sdiv(a, b)
    elif op == OP_DIVDU:
        if b == 0:
            res, ov = 0, 1
        else:
            res = udiv(a, b)
    elif op == OP_DIVW:
        a4, b4 = sext(a, 4), sext(b, 4)
        if b4 == 0 or (a4 == -(1 << 31) and b4 == -1):
            res, ov = 0, 1
        else:
            res = sdiv(a4, b4) & M32
    else:
        if b & M32 == 0:
            res, ov = 0, 1
        else:
            res = (a & M32) // (b & M32)
    return res, ov
