"""A bare-metal oracle for MMU tests: run a flat image on QEMU's POWER9
machine (``qemu-system-ppc64 -M powernv9``) and read back a results region.

What QEMU 7.2 does at reset on powernv9 (measured with ``info registers`` on a
one-instruction image; qemu/qemu hw/ppc/pnv_core.c ``pnv_core_cpu_reset`` sets
nip = 0x10, MSR |= HV and r3 = PNV_FDT_ADDR):
the ``-bios`` file is copied to physical 0 and every thread starts at NIA
0x10 with MSR = 0x9000000000000000 (SF|HV: big-endian, ME clear, translation
off), HID0 = 0, LPCR = 0xc, HRMOR = 0 and r3 = 0x1000000 (where the device
tree would be).  Nothing of skiboot runs.

One image, two machines.  ``build_image`` lays out
``[BE trampoline at 0x10][LE program from powersim.asm at 0][page tables and
data]`` as one byte string.  The trampoline brings QEMU to the state powersim
starts threads in (docs/CONTRACTS.md: HV real mode, MSR = SF|HV|ME|LE,
HID0[HILE], LPCR[ILE|HVICE], r3 = PIR) and ``hrfid``s to ``_start``; powersim
loads the same bytes at 0 and starts at ``_start`` directly, so everything
from ``_start`` on (including turning radix on) is code both machines run.

Program convention (``mmu_program`` writes it):

* ``_start`` runs with translation off, sets LPCR[UPRT|HR], PTCR and PIDR,
  then does each access with MSR[DR] = 1 (``mtmsrd``), DR off again, and
  stores what was loaded into the access's slot of the results region.
* Interrupt handlers at 0x300/0x380/0x400/0x480/0xE00 (entered with DR = 0)
  record vector, DSISR, DAR, SRR0 and SRR1 (HDSISR/HDAR/HSRR0/HSRR1 for
  0xE00) in the current slot (r30), step SRR0 past the faulting access and
  return.  Fetch faults cannot be stepped over, so 0x400/0x480 end the run.
* Completion: DONE_MAGIC in the results region's first doubleword (what the
  harness polls), then ``attn`` (halts a powersim thread; QEMU 7.2 does not
  know ``attn`` and loops on the emulation-assistance interrupt it raises,
  which is harmless because the harness has already seen DONE_MAGIC).

Registers r26-r31 belong to the convention (handlers and slot pointer).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from powersim import radix as rx
from powersim.asm import Builder, assemble
from powersim.errors import PowersimError

QEMU = "qemu-system-ppc64"
MISSING = shutil.which(QEMU) is None
SKIP_REASON = f"needs {QEMU} (apt-get install qemu-system-ppc)"

# --- the image --------------------------------------------------------------
ENTRY = 0x10                 # QEMU hw/ppc/pnv_core.c pnv_core_cpu_reset (and measured)
VECTORS_END = 0x100          # the trampoline must end before the reset vector
START = 0x1000               # _start: after the interrupt vectors
RESULTS_ADDR = 0x10000       # results region (DONE_MAGIC, then one slot per access)
TABLES_ADDR = 0x100000       # PageTables' bump allocator starts here
FW_MAX = 16 << 20            # measured: QEMU 7.2 refuses a larger -bios (the FDT goes at 16 MiB)
IMAGE_SIZE = 4 << 20         # the memory buffer MMU scenarios build in
DONE_MAGIC = 0x600D_D0E5_0F_7E57

# Bits set by the trampoline / the program (LSB numbering)
HID0_POWER9_HILE = 1 << 59   # PPC_BIT(4): qemu/qemu target/ppc/cpu.h, skiboot include/processor.h
LPCR_ILE = 0x0200_0000       # [L-reg]: non-HV interrupts set MSR[LE]
LPCR_HVICE = 0x2             # [L-reg], [ISA-radix]
LPCR_UPRT = 0x0040_0000      # [L-reg], [ISA-radix]
LPCR_HR = 0x0010_0000        # [L-reg], [ISA-radix]
MSR_SF, MSR_HV, MSR_ME, MSR_DR, MSR_LE = 1 << 63, 1 << 60, 1 << 12, 1 << 4, 1
START_MSR = MSR_SF | MSR_HV | MSR_ME | MSR_LE   # docs/CONTRACTS.md thread start state

# One results slot per access (doublewords; all little-endian like the program)
SLOT = 64
S_VECTOR, S_VALUE, S_DSISR, S_DAR, S_SRR0, S_SRR1 = 0, 8, 16, 24, 32, 40
SLOTS_BASE = RESULTS_ADDR + 8


class HarnessError(RuntimeError):
    """QEMU itself failed: would not start, or the program never finished."""


def trampoline() -> bytes:
    """Big-endian code for 0x10 up to the LE ``_start``.  Assembled with
    powersim's (LE) assembler and byte-swapped word by word."""
    text = f"""
        lis r4,{HID0_POWER9_HILE >> 48:#x}
        sldi r4,r4,32
        mtspr 1008,r4                # HID0: HV interrupts little-endian
        isync
        mfspr r4,318
        oris r4,r4,{LPCR_ILE >> 16:#x}
        ori r4,r4,{LPCR_HVICE:#x}
        mtspr 318,r4                 # LPCR
        mfspr r3,1023                # r3 = PIR, as powersim starts threads
        lis r4,{START >> 16:#x}
        ori r4,r4,{START & 0xFFFF:#x}
        mtspr 314,r4                 # HSRR0 = _start
        lis r4,{(START_MSR >> 48) - 0x10000:#x}
        sldi r4,r4,32
        ori r4,r4,{START_MSR & 0xFFFF:#x}
        mtspr 315,r4                 # HSRR1 = SF|HV|ME|LE
        hrfid
    """
    le = assemble(text, base=ENTRY, filename="trampoline.s").data
    be = b"".join(le[i:i + 4][::-1] for i in range(0, len(le), 4))
    assert ENTRY + len(be) <= VECTORS_END
    return be


def build_image(program: bytes, mem: np.ndarray) -> bytes:
    """The flat image: ``mem`` (page tables and data, built by the caller at
    TABLES_ADDR and above) with the LE ``program`` (assembled at 0) and the
    trampoline laid over it; trailing zeros trimmed (RAM is zero anyway)."""
    if len(mem) > FW_MAX:
        raise PowersimError(f"memory image of {len(mem):#x} bytes; "
                            f"QEMU loads at most {FW_MAX:#x}")
    if len(program) > RESULTS_ADDR:
        raise PowersimError(f"program of {len(program):#x} bytes overlaps the results "
                            f"at {RESULTS_ADDR:#x}")
    if any(program[ENTRY:VECTORS_END]):
        raise PowersimError(f"the program uses {ENTRY:#x}..{VECTORS_END:#x}, where the "
                            "trampoline goes")
    if mem[:TABLES_ADDR].any():
        raise PowersimError(f"memory below {TABLES_ADDR:#x} is the program's; put tables "
                            "and data above")
    out = bytearray(mem.tobytes())
    out[:len(program)] = program
    tramp = trampoline()
    out[ENTRY:ENTRY + len(tramp)] = tramp
    return bytes(out).rstrip(b"\0")


# --- the program ------------------------------------------------------------
@dataclass(frozen=True)
class Access:
    kind: str        # "load" or "store" (8 bytes: ld / std)
    ea: int
    value: int = 0   # stored by a store


def mmu_program(accesses, *, ptcr: int, pidr: int) -> str:
    """LE assembly for the convention in the module docstring.  Access i's
    instruction is labelled ``access{i}`` (what SRR0 shows on its fault)."""
    b = Builder()
    # Data faults: record, step over the access, return to it with DR still on.
    for vec in (rx.VEC_DSI, rx.VEC_DSEG):
        b.emit(f".org {vec:#x}").li("r26", vec).b("fault")
    for vec in (rx.VEC_ISI, rx.VEC_ISEG):
        b.emit(f".org {vec:#x}").li("r26", vec).b("fetch_fault")
    b.emit(f".org {rx.VEC_HDSI:#x}").li("r26", rx.VEC_HDSI).b("hfault")
    b.emit(f".org {START:#x}")
    b.label("_start")
    b.mfspr("r4", 318).oris("r4", "r4", (LPCR_UPRT | LPCR_HR) >> 16).mtspr(318, "r4")
    b.li64("r4", ptcr).mtspr(464, "r4")
    b.li64("r4", pidr).mtspr(48, "r4").isync()
    b.li("r27", MSR_DR)
    for i, a in enumerate(accesses):
        if a.kind not in ("load", "store"):
            raise PowersimError(f"access kind {a.kind!r}: allowed 'load', 'store'")
        b.comment(f"access {i}: {a.kind} {a.ea:#x}")
        b.li64("r30", SLOTS_BASE + SLOT * i).li64("r29", a.ea).li64("r28", a.value)
        b.mfmsr("r31").emit("or r31,r31,r27").mtmsrd("r31").isync()
        b.label(f"access{i}")
        b.emit("ld r28,0(r29)" if a.kind == "load" else "std r28,0(r29)")
        b.mfmsr("r31").andc("r31", "r31", "r27").mtmsrd("r31").isync()
        b.std("r28", f"{S_VALUE}(r30)")
    b.label("finish")
    b.li64("r4", RESULTS_ADDR).li64("r5", DONE_MAGIC).std("r5", "0(r4)")
    b.emit("attn")
    # SPRs: DSISR DAR SRR0 SRR1, or HDSISR HDAR HSRR0 HSRR1 for the HDSI [OBJ]
    for name, dsisr, dar, s0, s1, rfi in (("fault", 18, 19, 26, 27, "rfid"),
                                          ("hfault", 306, 307, 314, 315, "hrfid")):
        b.label(name)
        b.std("r26", f"{S_VECTOR}(r30)")
        b.mfspr("r26", dsisr).std("r26", f"{S_DSISR}(r30)")
        b.mfspr("r26", dar).std("r26", f"{S_DAR}(r30)")
        b.mfspr("r26", s1).std("r26", f"{S_SRR1}(r30)")
        b.mfspr("r26", s0).std("r26", f"{S_SRR0}(r30)")
        b.addi("r26", "r26", 4).mtspr(s0, "r26")
        b.emit(rfi)
    b.label("fetch_fault")
    b.std("r26", f"{S_VECTOR}(r30)")
    b.mfsrr0("r26").std("r26", f"{S_SRR0}(r30)")
    b.mfsrr1("r26").std("r26", f"{S_SRR1}(r30)")
    b.b("finish")
    return b.text()


# --- running QEMU -----------------------------------------------------------
@dataclass
class PowernvRun:
    results: bytes
    registers: str     # the monitor's `info registers` after completion
    seconds: float
    command: list


class _Qmp:
    """A minimal QMP client on a unix socket (one command at a time; events skipped)."""

    def __init__(self, path: str, deadline: float, proc: subprocess.Popen):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        while True:
            try:
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if proc.poll() is not None:
                    raise HarnessError(f"QEMU exited with status {proc.returncode}") from None
                if time.monotonic() > deadline:
                    raise HarnessError(f"QEMU's QMP socket {path} never appeared") from None
                time.sleep(0.01)
        self.sock.settimeout(max(0.1, deadline - time.monotonic()))
        self.buf = b""
        self._reply()  # greeting
        self.call("qmp_capabilities")

    def _reply(self) -> dict:
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise HarnessError("QEMU closed the QMP socket")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def call(self, command: str, **arguments):
        self.sock.sendall(json.dumps({"execute": command, "arguments": arguments}).encode() + b"\n")
        msg = self._reply()
        if "error" in msg:
            raise HarnessError(f"QMP {command}: {msg['error']}")
        return msg.get("return")

    def registers(self) -> str:
        text = self.call("human-monitor-command", **{"command-line": "info registers"})
        return text.replace("\r\n", "\n").strip("\n")

    def read(self, addr: int, length: int, path: str) -> bytes:
        """Physical memory, raw bytes (pmemsave: no endianness conversion)."""
        self.call("pmemsave", val=addr, size=length, filename=path)
        with open(path, "rb") as f:
            return f.read()


def _wait_and_read(q: _Qmp, results_addr: int, results_len: int, dump: str,
                   deadline: float, timeout: float):
    while struct.unpack("<Q", q.read(results_addr, 8, dump))[0] != DONE_MAGIC:
        if time.monotonic() > deadline:
            raise HarnessError(f"no DONE_MAGIC at {results_addr:#x} after {timeout} s; "
                               f"registers:\n{q.registers()}")
        time.sleep(0.01)  # QEMU keeps running while we wait; 10 ms costs nothing
    return q.read(results_addr, results_len, dump), q.registers()


def run_powernv_full(image: bytes, results_addr: int, results_len: int,
                     timeout: float = 20.0) -> PowernvRun:
    """Boot ``image`` as the powernv9 firmware, wait until the results
    region's first doubleword is DONE_MAGIC, read the region and the
    registers, stop QEMU.  Raises HarnessError (with QEMU's stderr) if QEMU
    fails or the program does not finish within ``timeout`` seconds."""
    if MISSING:
        raise HarnessError(SKIP_REASON)
    t0 = time.monotonic()
    deadline = t0 + timeout
    with tempfile.TemporaryDirectory(prefix="powernv") as tmp:
        bios, qmp, dump = (os.path.join(tmp, n) for n in ("image.bin", "qmp.sock", "mem.bin"))
        with open(bios, "wb") as f:
            f.write(image)
        cmd = [QEMU, "-M", "powernv9", "-smp", "1", "-m", "1G", "-bios", bios,
               "-display", "none", "-serial", "none", "-monitor", "none",
               "-qmp", f"unix:{qmp},server=on,wait=off"]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        failure = q = None
        try:
            q = _Qmp(qmp, deadline, proc)
            results, regs = _wait_and_read(q, results_addr, results_len, dump, deadline, timeout)
        except (HarnessError, OSError, ValueError) as e:  # ValueError: a garbled QMP reply
            failure = e
        finally:
            if q is not None:
                q.sock.close()
            proc.kill()
            err = proc.communicate()[1].decode(errors="replace").strip()
    if failure is not None:
        raise HarnessError(f"{failure}\ncommand: {' '.join(cmd)}\n"
                           f"QEMU stderr: {err or '(empty)'}") from failure
    return PowernvRun(results, regs, time.monotonic() - t0, cmd)


def run_powernv(image: bytes, results_addr: int, results_len: int, timeout: float = 20.0) -> bytes:
    """The results region of ``image`` run to completion on powernv9."""
    return run_powernv_full(image, results_addr, results_len, timeout).results
