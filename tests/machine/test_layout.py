"""The constants the core reads are plain definitions with one source each:
op families are contiguous ranges, SPR numbers agree with powersim/data/power9.toml,
the parameter slots are the ones MachineParams declares, trace kinds come
from one registry, and layout.py imports no numba."""

import subprocess
import sys
from pathlib import Path

from powersim import isa, ops
from powersim.machine import layout, params

ROOT = Path(__file__).resolve().parents[2]


def test_each_op_family_is_one_contiguous_complete_range():
    seen = set()
    for fam, members in ops.FAMILIES.items():
        names = members.split()
        nums = [ops.OP[n] for n in names]
        lo, hi = getattr(ops, fam + "_LO"), getattr(ops, fam + "_HI")
        assert nums == list(range(lo, hi + 1)), fam     # contiguous, in order
        inside = {n for n, v in ops.OP.items() if lo <= v <= hi}
        assert inside == set(names), fam                 # complete: nothing else inside
        assert not seen & set(names), fam
        seen |= set(names)
    singles = set(ops.OP) - seen
    assert singles == {"illegal", "isel"}
    assert sorted(ops.OP.values()) == list(range(ops.NOPS))


def test_every_op_of_the_isa_table_exists():
    used = {ins.opname for ins in isa.table().insns}
    assert used <= set(ops.OP) and len(used) > 100


# layout name -> powersim/data/power9.toml [spr] name where they differ
SPR_ALIASES = {
    "AMR": "uamr",      # the core keeps AMR at 13, the problem-state number
    "TBL": "tb",        # mftb reads 268 (284 is the write-only TBL of mttbl)
}
SIMULATOR_SPRS = {"SIMCYC", "SIMSTALL"}     # not POWER9 registers (docs/CONTRACTS.md)


def test_spr_numbers_agree_with_the_isa_table():
    sprs = {k[4:]: v for k, v in vars(layout).items() if k.startswith("SPR_")}
    assert sprs and set(sprs) >= SIMULATOR_SPRS
    for name, num in sprs.items():
        if name in SIMULATOR_SPRS:
            assert num not in isa.SPRS.values(), name
            continue
        assert isa.SPRS[SPR_ALIASES.get(name, name.lower())] == num, name
    assert layout.NSPR == 1024


def test_parameter_slots_are_generated_from_machine_params():
    text = (ROOT / "powersim" / "machine" / "layout.py").read_text()
    block = text.split("# --- generated: params.layout_block() ---\n")[1]
    block = block.split("# --- end generated ---")[0]
    assert block == params.layout_block(), \
        "regenerate: python -m powersim.machine.params (paste into layout.py)"
    for name, i, _ in params.core_slots():
        assert getattr(layout, "PR_" + name.upper()) == i
    p = params.MachineParams()
    a = p.to_array(max_cycles=5, exact=1, code_bytes=4096, watch=0)
    assert len(a) == layout.NPRM
    assert a[layout.PR_LAT_DRAM] == p.ns_to_cycles(p.lat_dram_ns)
    assert a[layout.PR_STOP + 15] == p.ns_to_cycles(p.stop_ns[15])
    assert a[layout.PR_FREQ_MHZ] == 2400 and a[layout.PR_COST_HWSYNC] == p.cost_hwsync


def test_trace_kinds_have_one_registry():
    kinds = {k: v for k, v in vars(layout).items()
             if (k.startswith("K_") or k.startswith("EV_")) and isinstance(v, int)}
    assert len(set(kinds.values())) == len(kinds)          # no kind allocated twice
    assert set(layout.KIND_NAMES) == set(kinds.values())
    assert all(0 <= v < layout.TRACE_KINDS for v in kinds.values())
    from powersim.kernel import smp, trace
    from powersim.workloads import MARK_KIND
    assert MARK_KIND == layout.K_MARK and smp.IPI_RTT_KIND == layout.K_IPI_RTT
    assert set(trace.KERNEL_KINDS) == {v for k, v in kinds.items()
                                       if k.startswith("K_") and v < 0x80}


def test_layout_and_ops_import_no_numba():
    code = ("import sys, powersim.machine.layout, powersim.ops, powersim.kernel.trace; "
            "print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"
