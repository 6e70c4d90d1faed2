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
``P_SRC``    the registers the instruction reads, ``P_DST`` those it writes, for the
             core's scoreboard: ``DEP_BITS``-bit fields, lowest first, each a
             ready-array index + 1 (GPRs 0..31, CR fields ``DEP_CR0``.., ``DEP_LR``,
             ``DEP_CTR``, ``DEP_XER``).  ``P_DST`` also carries ``DEP_BLOCK`` (the
             instruction is serializing: its latency is charged to the thread's
             clock before it executes, as for every instruction in a model
             without overlap) and ``DEP_DRAIN`` (it first waits for every result
             in flight: hwsync, isync, rfid, mtspr of a non-jump SPR, CR moves).
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
P_SRC = 10
P_DST = 11
NFIELDS = 12

# --- the scoreboard's ready-array indices (P_SRC / P_DST) -------------------
DEP_CR0 = 32            # CR field f is DEP_CR0 + f
DEP_LR = 40
DEP_CTR = 41
DEP_XER = 42
NDEP = 43
DEP_BITS = 6
DEP_MASK = (1 << DEP_BITS) - 1
DEP_BLOCK = 1 << 62
DEP_DRAIN = 1 << 61
DEP_REGS = DEP_DRAIN - 1    # the P_DST fields without the flags

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
# uses.  Numbers are free to change (numba's cache is keyed on this file too,
# powersim.machine.jit), but each family below must stay one contiguous range:
# the interpreter dispatches on ``FAM_LO <= op <= FAM_HI`` (a test checks that
# every family is contiguous and complete).

# illegal
OP_ILLEGAL = 0
# addsub: XO-form add/subtract: RT <- (~)RA + RB | 0 | -1 (+ carry), CA/OV in XER
OP_ADD = 1
OP_ADDC = 2
OP_ADDE = 3
OP_ADDZE = 4
OP_ADDME = 5
OP_SUBF = 6
OP_SUBFC = 7
OP_SUBFE = 8
OP_SUBFZE = 9
OP_SUBFME = 10
OP_NEG = 11
ADDSUB_LO, ADDSUB_HI = OP_ADD, OP_NEG
# addimm: D-form add/subtract with an immediate
OP_ADDI = 12
OP_ADDIS = 13
OP_ADDIC = 14
OP_SUBFIC = 15
ADDIMM_LO, ADDIMM_HI = OP_ADDI, OP_SUBFIC
# muldiv: multiply/divide: RT <- f(RA, RB / SI), OV in XER
OP_MULLI = 16
OP_MULLD = 17
OP_MULLW = 18
OP_MULHD = 19
OP_MULHDU = 20
OP_MULHW = 21
OP_MULHWU = 22
OP_DIVD = 23
OP_DIVDU = 24
OP_DIVW = 25
OP_DIVWU = 26
MULDIV_LO, MULDIV_HI = OP_MULLI, OP_DIVWU
# logical: RA <- RS op RB / UI (andi./andis. always record)
OP_AND = 27
OP_ANDC = 28
OP_OR = 29
OP_ORC = 30
OP_XOR = 31
OP_NAND = 32
OP_NOR = 33
OP_EQV = 34
OP_ANDI = 35
OP_ANDIS = 36
OP_ORI = 37
OP_ORIS = 38
OP_XORI = 39
OP_XORIS = 40
LOGICAL_LO, LOGICAL_HI = OP_AND, OP_XORIS
# unary: RA <- f(RS, RB or SH): extend, count, shift (CA)
OP_EXTSB = 41
OP_EXTSH = 42
OP_EXTSW = 43
OP_CNTLZW = 44
OP_CNTLZD = 45
OP_CNTTZW = 46
OP_CNTTZD = 47
OP_POPCNTB = 48
OP_POPCNTW = 49
OP_POPCNTD = 50
OP_SLW = 51
OP_SRW = 52
OP_SRAW = 53
OP_SRAWI = 54
OP_SLD = 55
OP_SRD = 56
OP_SRAD = 57
OP_SRADI = 58
UNARY_LO, UNARY_HI = OP_EXTSB, OP_SRADI
# rotate: RA <- rotate(RS) & mask (| RA & ~mask for the *imi forms)
OP_RLWINM = 59
OP_RLWNM = 60
OP_RLWIMI = 61
OP_RLDICL = 62
OP_RLDICR = 63
OP_RLDIC = 64
OP_RLDIMI = 65
OP_RLDCL = 66
OP_RLDCR = 67
ROTATE_LO, ROTATE_HI = OP_RLWINM, OP_RLDCR
# compare: CR field BF <- compare(RA, RB / SI / UI)
OP_CMP = 68
OP_CMPL = 69
OP_CMPI = 70
OP_CMPLI = 71
COMPARE_LO, COMPARE_HI = OP_CMP, OP_CMPLI
# trap: program interrupt if the TO condition holds
OP_TW = 72
OP_TD = 73
OP_TWI = 74
OP_TDI = 75
TRAP_LO, TRAP_HI = OP_TW, OP_TDI
# isel
OP_ISEL = 76
# memory: loads and stores (size and kind in P_FLAGS)
OP_LOAD = 77
OP_STORE = 78
OP_LARX = 79
OP_STCX = 80
MEMORY_LO, MEMORY_HI = OP_LOAD, OP_STCX
# branch: branches
OP_B = 81
OP_BC = 82
OP_BCLR = 83
OP_BCCTR = 84
BRANCH_LO, BRANCH_HI = OP_B, OP_BCCTR
# crfield: condition-register moves and logic
OP_CRLOGIC = 85
OP_MCRF = 86
OP_MFCR = 87
OP_MTCRF = 88
OP_MFOCRF = 89
OP_MTOCRF = 90
CRFIELD_LO, CRFIELD_HI = OP_CRLOGIC, OP_MTOCRF
# sprmove: SPR moves (LR, CTR, XER, DEC, SIMCYC ... in the interpreter)
OP_MFSPR = 91
OP_MTSPR = 92
SPRMOVE_LO, SPRMOVE_HI = OP_MFSPR, OP_MTSPR
# system
OP_MFMSR = 93
OP_MTMSR = 94
OP_MTMSRD = 95
OP_SYNC = 96
OP_ISYNC = 97
OP_EIEIO = 98
OP_TLBIE = 99
OP_TLBIEL = 100
OP_TLBSYNC = 101
OP_SLBIA = 102
OP_MSGSND = 103
OP_MSGSNDP = 104
OP_MSGCLR = 105
OP_MSGCLRP = 106
OP_MSGSYNC = 107
OP_STOP = 108
OP_WAIT = 109
OP_ATTN = 110
OP_RFID = 111
OP_HRFID = 112
OP_SC = 113
SYSTEM_LO, SYSTEM_HI = OP_MFMSR, OP_SC
# cache: cache-management instructions
OP_CACHE = 114
OP_DCBZ = 115
CACHE_LO, CACHE_HI = OP_CACHE, OP_DCBZ
NOPS = 116

# family -> its members, in number order (the test's reference)
FAMILIES = {
    "ADDSUB": "add addc adde addze addme subf subfc subfe subfze subfme neg",
    "ADDIMM": "addi addis addic subfic",
    "MULDIV": "mulli mulld mullw mulhd mulhdu mulhw mulhwu divd divdu divw divwu",
    "LOGICAL": "and andc or orc xor nand nor eqv andi andis ori oris xori xoris",
    "UNARY": "extsb extsh extsw cntlzw cntlzd cnttzw cnttzd popcntb popcntw popcntd "
             "slw srw sraw srawi sld srd srad sradi",
    "ROTATE": "rlwinm rlwnm rlwimi rldicl rldicr rldic rldimi rldcl rldcr",
    "COMPARE": "cmp cmpl cmpi cmpli",
    "TRAP": "tw td twi tdi",
    "MEMORY": "load store larx stcx",
    "BRANCH": "b bc bclr bcctr",
    "CRFIELD": "crlogic mcrf mfcr mtcrf mfocrf mtocrf",
    "SPRMOVE": "mfspr mtspr",
    "SYSTEM": "mfmsr mtmsr mtmsrd sync isync eieio tlbie tlbiel tlbsync slbia msgsnd msgsndp "
              "msgclr msgclrp msgsync stop wait attn rfid hrfid sc",
    "CACHE": "cache dcbz",
}

# name (as powersim/data/power9.toml spells it) -> number
OP = {k[3:].lower(): v for k, v in sorted(globals().items(), key=lambda kv: str(kv[0]))
      if k.startswith("OP_")}
