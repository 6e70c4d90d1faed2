"""The integer instruction families (ops.py ADDSUB, ADDIMM, MULDIV, LOGICAL,
UNARY, ROTATE, COMPARE, CRFIELD, TRAP).  ``rotate``, ``unary_shift`` and
``muldiv`` compute a result from operands (called, not inlined: each is one
compiled function); the family functions below are inlined into the
dispatcher (``inline="always"``), write their target register in ``g`` and
return the CR (and XER) they leave.
"""

from powersim.machine.bits import (
    clz64, cmpbits, cr0, fxm_mask, mask64, mulhdu, popcnt_bytes, rotl64, sdiv, setcr, sext,
    srl, trap_cond, udiv, with_ca, with_ov,
)
from powersim.machine.jit import jit
from powersim.machine.layout import M32, MIN64, XER_CA, XER_CA32
from powersim.ops import (
    F_OE, F_RC, OP_ADD, OP_ADDE, OP_ADDME, OP_ADDZE, OP_AND, OP_ANDC, OP_ANDI, OP_ANDIS,
    OP_CMP, OP_CMPI, OP_CMPLI, OP_CNTLZD, OP_CNTLZW, OP_CNTTZD, OP_CNTTZW, OP_CRLOGIC,
    OP_DIVD, OP_DIVDU, OP_DIVW, OP_EQV, OP_EXTSB, OP_EXTSH, OP_EXTSW, OP_MCRF, OP_MFCR,
    OP_MFOCRF, OP_MULHD, OP_MULHDU, OP_MULHW, OP_MULHWU, OP_MULLD, OP_MULLI, OP_MULLW,
    OP_NAND, OP_NEG, OP_NOR, OP_OR, OP_ORC, OP_ORI, OP_ORIS, OP_POPCNTB, OP_POPCNTD,
    OP_POPCNTW, OP_RLDCL, OP_RLDCR, OP_RLDICL, OP_RLDICR, OP_RLDIMI, OP_RLWIMI, OP_RLWNM,
    OP_SLD, OP_SLW, OP_SRAD, OP_SRAW, OP_SRAWI, OP_SRD, OP_SRW, OP_SUBF, OP_SUBFE,
    OP_SUBFIC, OP_SUBFME, OP_SUBFZE, OP_TDI, OP_TW, OP_TWI, OP_XOR, OP_XORI,
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


# --- the families the dispatcher inlines: each writes its result register and
# returns the CR (and XER) it leaves; fl carries F_RC / F_OE (ops.py)
@jit(inline="always")
def addsub(op, rt, ra, rb, fl, g, cr, xer):
    """ADDSUB (add .. neg): RT <- (~)RA + RB | 0 | -1 (+ carry).  -> (cr, xer)"""
    a = g[ra]
    b = g[rb]
    cin = 0
    if op >= OP_SUBF:
        a = ~a
        cin = 1
    if op == OP_ADDZE or op == OP_SUBFZE:
        b = 0
    elif op == OP_ADDME or op == OP_SUBFME:
        b = -1
    elif op == OP_NEG:
        b = 0
    if op == OP_ADDE or op == OP_ADDZE or op == OP_ADDME or op == OP_SUBFE or \
            op == OP_SUBFZE or op == OP_SUBFME:
        cin = (xer >> 29) & 1
    res = a + b + cin
    if op != OP_ADD and op != OP_SUBF and op != OP_NEG:
        c = (a & b) | ((a | b) & ~res)
        xer = with_ca(xer, c)
    if fl & F_OE:
        o = (a ^ res) & (b ^ res)
        ov = srl(o, 63)
        xer = with_ov(xer, ov, (o >> 31) & 1)
    g[rt] = res
    if fl & F_RC:
        cr = cr0(cr, res, xer)
    return cr, xer


@jit(inline="always")
def addic(op, rt, ra, imm, fl, g, cr, xer):
    """addic, addic., subfic: RT <- (~)RA + SI (+1), CA set.  -> (cr, xer)"""
    a = g[ra]
    if op == OP_SUBFIC:
        a = ~a
    b = imm
    res = a + b + (1 if op == OP_SUBFIC else 0)
    c = (a & b) | ((a | b) & ~res)
    xer = with_ca(xer, c)
    g[rt] = res
    if fl & F_RC:
        cr = cr0(cr, res, xer)
    return cr, xer


@jit(inline="always")
def compare(op, bf, ra, rb, imm, aux, g, cr, xer):
    """COMPARE (cmp cmpl cmpi cmpli): CR field bf; aux = L (0: 32-bit).  -> cr"""
    a = g[ra]
    b = imm if (op == OP_CMPI or op == OP_CMPLI) else g[rb]
    signed = op == OP_CMPI or op == OP_CMP
    if aux == 0:
        if signed:
            a = sext(a, 4)
            b = sext(b, 4)
        else:
            a &= M32
            b &= M32
    return setcr(cr, bf, cmpbits(a, b, signed) | ((xer >> 31) & 1))


@jit(inline="always")
def logical(op, rs, ra, rb, imm, fl, g, cr, xer):
    """LOGICAL (and .. xoris): RA <- RS op RB / UI.  -> cr"""
    s = g[rs]
    b = g[rb]
    if op == OP_AND:
        res = s & b
    elif op == OP_ANDC:
        res = s & ~b
    elif op == OP_OR:
        res = s | b
    elif op == OP_ORC:
        res = s | ~b
    elif op == OP_XOR:
        res = s ^ b
    elif op == OP_NAND:
        res = ~(s & b)
    elif op == OP_NOR:
        res = ~(s | b)
    elif op == OP_EQV:
        res = ~(s ^ b)
    elif op == OP_ANDI:
        res = s & imm
    elif op == OP_ANDIS:
        res = s & (imm << 16)
    elif op == OP_ORI:
        res = s | imm
    elif op == OP_ORIS:
        res = s | (imm << 16)
    elif op == OP_XORI:
        res = s ^ imm
    else:
        res = s ^ (imm << 16)
    g[ra] = res
    if fl & F_RC:
        cr = cr0(cr, res, xer)
    return cr


@jit(inline="always")
def rotate_into(op, rs, ra, rb, imm, aux, fl, g, cr, xer):
    """ROTATE (rlwinm .. rldcr): RA <- rotate(). -> cr"""
    res = rotate(op, g[rs], g[ra], g[rb], imm, aux)
    g[ra] = res
    if fl & F_RC:
        cr = cr0(cr, res, xer)
    return cr


@jit(inline="always")
def unary_into(op, rs, ra, rb, imm, fl, g, cr, xer):
    """UNARY (extsb .. sradi): RA <- unary_shift().  -> (cr, xer)"""
    res, xer = unary_shift(op, g[rs], g[rb], imm, xer)
    g[ra] = res
    if fl & F_RC:
        cr = cr0(cr, res, xer)
    return cr, xer


@jit(inline="always")
def muldiv_into(op, rt, ra, rb, imm, fl, g, cr, xer):
    """MULDIV (mulli .. divwu): RT <- muldiv(), OV with F_OE.  -> (cr, xer)"""
    res, ov = muldiv(op, g[ra], imm if op == OP_MULLI else g[rb])
    if fl & F_OE:
        xer = with_ov(xer, ov, ov)
    g[rt] = res
    if fl & F_RC:
        cr = cr0(cr, res, xer)
    return cr, xer


@jit(inline="always")
def crfield(op, rt, ra, rb, imm, aux, g, cr):
    """CRFIELD (crlogic mcrf mfcr mtcrf mfocrf mtocrf); aux: crlogic's truth
    table, imm: FXM.  -> cr"""
    if op == OP_CRLOGIC:
        a = (cr >> (31 - ra)) & 1
        b = (cr >> (31 - rb)) & 1
        r = (aux >> (2 * a + b)) & 1
        return (cr & ~(1 << (31 - rt)) & M32) | (r << (31 - rt))
    if op == OP_MCRF:
        return setcr(cr, rt, (cr >> (28 - 4 * (ra >> 2))) & 0xF)
    if op == OP_MFCR or op == OP_MFOCRF:
        m = M32
        if op == OP_MFOCRF:
            m = fxm_mask(imm)
        g[rt] = cr & m
        return cr
    m = fxm_mask(imm)   # mtcrf, mtocrf
    return (cr & ~m & M32) | (g[rt] & m)


@jit(inline="always")
def trap(op, to, ra, rb, imm, g):
    """TRAP (tw td twi tdi): whether the TO condition holds."""
    a = g[ra]
    b = imm if (op == OP_TWI or op == OP_TDI) else g[rb]
    if op == OP_TW or op == OP_TWI:
        a = sext(a, 4)
        b = sext(b, 4)
    return trap_cond(to, a, b)
