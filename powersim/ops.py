"""The contract between the decoder (isa.py) and the numba core (machine/).

Every instruction word is predecoded once into one row of an int64 array with
``NFIELDS`` columns.  The numba interpreter sees only these rows and the
integer constants below: no Python objects, no enums.

Row layout
----------
``P_OP``     semantic operation (``OP_*``); ``OP_ILLEGAL`` for a word outside the
             subset (the core raises the Hypervisor Emulation Assistance
             interrupt, 0xE40, for it).
``P_RT``     instruction bits 6:10 (IBM numbering): RT/RS/FRT, BO, TO, BF<<2|L
             for compares is *not* used: compares get BF in ``P_RT`` (bits 6:8).
``P_RA``     bits 11:15: RA, BI, BA.
``P_RB``     bits 16:20: RB, BB.
``P_IMM``    the form's immediate, already decoded to a signed Python int:
             D-form SI (sign-extended) or UI (zero-extended, per instruction);
             DS-form DS<<2 (sign-extended); branch displacements LI<<2 / BD<<2
             (sign-extended, relative unless ``F_AA``); XFX the SPR number;
             MD/XS-form SH (0..63); M-form SH (0..31); X-form shift SH for
             srawi (0..31); mtcrf/mtocrf/mfocrf FXM; sync L; dcbf L; slbia IH;
             wait WC (always 0: POWER9 accepts only WC = 0); stop 0;
             tlbie/tlbiel RIC; sc LEV; isel BC (condition bit).
``P_AUX``    a second immediate: MD-form MB or ME (6 bits, as the ISA names it
             for that instruction); M-form MB | ME << 8; tlbie PRS | R << 1;
             CR-logical truth table (bit (2*a+b) of the 4-bit table is the
             result for inputs a, b); mtmsrd L; compares L (1 = 64-bit).
``P_FLAGS``  bit set: ``F_RC`` record (Rc=1 or implied ``.``), ``F_OE``,
             ``F_LK``, ``F_AA``, ``F_SIGNED`` (sign-extending load),
             ``F_UPDATE`` (update form, RA <- EA), ``F_BYTEREV``, ``F_INDEXED``
             (EA = (RA|0) + RB rather than (RA|0) + IMM), and the access size
             in bytes in bits ``F_SIZE_SHIFT``.. (1, 2, 4 or 8).
``P_LAT``    result latency in cycles on the issuing thread (from the ISA table).
``P_UNIT``   execution unit (``U_*``).
``P_WORD``   the raw 32-bit word (for disassembly in traces and for HEAI).
"""

# --- row layout -------------------------------------------------------------
P_OP = 0
P_RT = 1
P_RA = 2
P_RB = 3
P_IMM = 4
P_AUX = 5
P_FLAGS = 6
P_LAT = 7
P_UNIT = 8
P_WORD = 9
NFIELDS = 10

# --- flags ------------------------------------------------------------------
F_RC = 1 << 0
F_OE = 1 << 1
F_LK = 1 << 2
F_AA = 1 << 3
F_SIGNED = 1 << 4
F_UPDATE = 1 << 5
F_BYTEREV = 1 << 6
F_INDEXED = 1 << 7
F_SIZE_SHIFT = 8  # access size in bytes, 4 bits
F_SIZE_MASK = 0xF << F_SIZE_SHIFT

# --- execution units (the ISA table's "unit" column) ----------------------
U_ALU = 0
U_MUL = 1
U_DIV = 2
U_LSU = 3
U_BR = 4
U_CR = 5
U_SPR = 6
U_SYS = 7
UNITS = {"alu": U_ALU, "mul": U_MUL, "div": U_DIV, "lsu": U_LSU, "br": U_BR,
         "cr": U_CR, "spr": U_SPR, "sys": U_SYS}

# --- semantic operations ------------------------------------------------------
# The names (lower case, without OP_) are what powersim/data/power9.toml's "op" column
# uses.  Numbers are stable: append, never renumber (numba caches them).
_OPS = """
illegal
add addc adde addze addme subf subfc subfe subfze subfme neg
addi addis addic subfic mulli
mulld mullw mulhd mulhdu mulhw mulhwu divd divdu divw divwu
and andc or orc xor nand nor eqv andi andis ori oris xori xoris
extsb extsh extsw cntlzw cntlzd cnttzw cnttzd popcntb popcntw popcntd
slw srw sraw srawi sld srd srad sradi
rlwinm rlwnm rlwimi rldicl rldicr rldic rldimi rldcl rldcr
cmp cmpl cmpi cmpli tw td twi tdi isel
load store larx stcx
b bc bclr bcctr
crlogic mcrf mfcr mtcrf mfocrf mtocrf
mfspr mtspr mfmsr mtmsr mtmsrd
sync isync eieio
tlbie tlbiel tlbsync slbia
msgsnd msgsndp msgclr msgclrp msgsync
stop wait attn rfid hrfid sc
cache dcbz
""".split()

OP = {name: i for i, name in enumerate(_OPS)}
globals().update({"OP_" + name.upper(): i for name, i in OP.items()})
NOPS = len(_OPS)
