"""Permission and R/C edge cases: EAA bits, privileged pages, ATT, and the
POWER9 R/C interrupt ([ISA-radix], [P9-rc])."""

import attrs
import pytest

from powersim import radix as rx

EA = 0x5_0000_0000
RA = 0x40_0000
ALL = ("load", "store", "fetch")


def expect(w, ea, access, allowed, fail_cause):
    return ("ra", RA + (ea - EA), 16) if allowed else w.si(fail_cause, ea, access)


# --- EAA ([ISA-radix]; [Q-rad] ppc_radix64_check_prot) ------------------------------
# perms -> the accesses they allow (RW implies read, [ISA-radix])
EAA_CASES = [
    (0, ()),
    (rx.READ, ("load",)),
    (rx.RW, ("load", "store")),
    (rx.READ | rx.RW, ("load", "store")),
    (rx.EXEC, ("fetch",)),
    (rx.READ | rx.EXEC, ("load", "fetch")),
    (rx.READ | rx.RW | rx.EXEC, ALL),
]


@pytest.mark.parametrize("perms,allowed", EAA_CASES)
@pytest.mark.parametrize("pr", [False, True], ids=["privileged", "problem"])
def test_eaa_bits_decide_each_access_kind(w, perms, allowed, pr):
    """A denied load/store is a DSI 0x08000000 (+0x02000000 for a store); a
    denied fetch an ISI with SRR1 0x10000000 (no-execute)."""
    w.pt.map(1, EA, RA, "64K", perms)
    w.set_thread(0, pr=pr)
    for access in ALL:
        cause = rx.SRR1_ISI_N_G if access == "fetch" else rx.DSISR_PROTFAULT
        got = w.outcome(w.translate(0, EA + 0x18, access))
        assert got == expect(w, EA + 0x18, access, access in allowed, cause), access


@pytest.mark.parametrize("access", ALL)
def test_privileged_page_from_problem_state_is_denied(w, access):
    w.pt.map(1, EA, RA, "64K", rx.PRIV | rx.READ | rx.RW | rx.EXEC)
    w.set_thread(0, pr=True)
    cause = rx.SRR1_ISI_N_G if access == "fetch" else rx.DSISR_PROTFAULT
    assert w.outcome(w.translate(0, EA + 8, access)) == w.si(cause, EA + 8, access)


@pytest.mark.parametrize("access", ALL)
def test_privileged_page_from_privileged_state_is_allowed(w, access):
    w.pt.map(1, EA, RA, "64K", rx.PRIV | rx.READ | rx.RW | rx.EXEC)
    assert w.ra(0, EA + 8, access) == RA + 8


def test_store_to_read_only_page_sets_protection_and_store_bits(w):
    w.pt.map(1, EA, RA, "64K", rx.READ | rx.EXEC)
    assert w.outcome(w.translate(0, EA + 0x40, "store")) == (
        "fault", rx.VEC_DSI, 0x0A00_0000, EA + 0x40)       # [L-reg] PROTFAULT|ISSTORE


def test_fetch_from_no_execute_page(w):
    w.pt.map(1, EA, RA, "64K", rx.READ | rx.RW)
    assert w.outcome(w.translate(0, EA + 0x40, "fetch")) == ("fault", rx.VEC_ISI,
                                                             0x1000_0000, None)


# --- AMR/IAMR key 0 ([ISA-radix]: privileged access to a user page; Linux KUAP/KUEP) ---
AMR_NO_WRITE, AMR_NO_READ, IAMR_NO_EXEC = 1 << 63, 1 << 62, 1 << 62


@pytest.mark.parametrize("amr,iamr,denied", [(AMR_NO_WRITE, 0, "store"),
                                             (AMR_NO_READ, 0, "load"),
                                             (0, IAMR_NO_EXEC, "fetch")])
def test_amr_iamr_deny_kernel_access_to_user_pages(w, amr, iamr, denied):
    w.pt.map(1, EA, RA, "64K", rx.READ | rx.RW | rx.EXEC)
    w.set_thread(0, amr=amr, iamr=iamr)
    for access in ALL:
        cause = rx.SRR1_ISI_N_G if access == "fetch" else rx.DSISR_PROTFAULT
        assert w.outcome(w.translate(0, EA, access)) == expect(w, EA, access,
                                                               access != denied, cause)


def test_amr_does_not_restrict_privileged_pages(w):
    w.pt.map(1, EA, RA, "64K", rx.PRIV | rx.READ | rx.RW | rx.EXEC)
    w.set_thread(0, amr=AMR_NO_WRITE | AMR_NO_READ, iamr=IAMR_NO_EXEC)
    assert [w.ra(0, EA, a) for a in ALL] == [RA] * 3


# --- ATT ([ISA-radix]: fetch from non-idempotent I/O fails with SRR1 0x10000000) ------
def test_fetch_from_guarded_io_page_even_with_execute(w):
    w.pt.map(1, EA, RA, "64K", rx.READ | rx.RW | rx.EXEC, att=rx.ATT_NI_IO)
    assert w.outcome(w.translate(0, EA, "fetch")) == w.isi(rx.SRR1_ISI_N_G)
    assert w.ra(0, EA, "load") == RA                      # data access is allowed
    assert w.ra(0, EA, "store") == RA


def test_fetch_from_tolerant_cache_inhibited_page_follows_qemu(w):
    """ATT = 11 (tolerant I/O, cache-inhibited, not guarded): QEMU allows the
    fetch, Microwatt refuses it; powersim's reference follows QEMU ([Q-rad])."""
    w.pt.map(1, EA, RA, "64K", rx.READ | rx.EXEC, att=rx.ATT_TOLERANT_IO)
    assert w.ra(0, EA + 4, "fetch") == RA + 4


def test_guarded_check_precedes_missing_execute(w):
    """Both ATT = 10 and no EXEC: the cause is the same SRR1 bit either way, and
    it is not a protection (0x08000000) fault."""
    w.pt.map(1, EA, RA, "64K", rx.READ, att=rx.ATT_NI_IO)
    assert w.outcome(w.translate(0, EA, "fetch")) == w.isi(0x1000_0000)


# --- R/C ([P9-rc]: POWER9 raises DSI/ISI 0x00040000 rather than updating) -------
@pytest.mark.parametrize("access", ALL)
def test_reference_bit_clear_faults_every_access(w, access):
    w.pt.map(1, EA, RA, "64K", rx.READ | rx.RW | rx.EXEC, rc=False)
    assert w.outcome(w.translate(0, EA + 0x10, access)) == w.si(rx.DSISR_SET_RC, EA + 0x10,
                                                                 access)


def test_change_bit_clear_faults_only_stores(w):
    addr = w.pt.map(1, EA, RA, "64K", rx.READ | rx.RW | rx.EXEC, rc=False)
    rx.put_be64(w.mem, addr, rx.be64(w.mem, addr) | rx.R)          # R set, C clear
    assert w.ra(0, EA + 0x10, "load") == RA + 0x10
    assert w.ra(0, EA + 0x10, "fetch") == RA + 0x10
    assert w.outcome(w.translate(0, EA + 0x10, "store")) == (
        "fault", rx.VEC_DSI, 0x0204_0000, EA + 0x10)               # SET_RC|ISSTORE


def test_permission_fault_takes_precedence_over_rc(w):
    """[MW]: a store to a read-only page with R/C clear reports protection."""
    w.pt.map(1, EA, RA, "64K", rx.READ, rc=False)
    assert w.outcome(w.translate(0, EA, "store")) == w.dsi(rx.DSISR_PROTFAULT, EA, store=True)


def test_setting_rc_after_the_fault_lets_the_access_complete(w):
    """What Linux's fault handler does: set R|C in the PTE, then retry.  No
    TLB entry was made for the faulting access, so no invalidation is needed."""
    addr = w.pt.map(1, EA, RA, "64K", rx.READ | rx.RW, rc=False)
    assert w.translate(0, EA, "store").fault is not None
    rx.put_be64(w.mem, addr, rx.be64(w.mem, addr) | rx.R | rx.C)
    w.m.ptesync(0)
    assert w.ra(0, EA, "store") == RA


def test_hardware_rc_update_parameter_sets_rc_instead_of_faulting(world):
    """The ISA's other choice ([P9-rc]), behind a parameter: the access
    completes and R (and C for a store) are set in the PTE in memory."""
    from powersim.machine.params import MachineParams
    fields = attrs.fields_dict(MachineParams)
    if "rc_hw_update" not in fields:
        pytest.skip("MachineParams has no rc_hw_update parameter")
    w = world(params=MachineParams(rc_hw_update=True))
    addr = w.pt.map(1, EA, RA, "64K", rx.READ | rx.RW, rc=False)
    assert w.m.translate(0, EA, "load").ra == RA
    assert rx.be64(w.mem, addr) & (rx.R | rx.C) == rx.R
    assert w.m.translate(0, EA + 8, "store").ra == RA + 8
    assert rx.be64(w.mem, addr) & (rx.R | rx.C) == rx.R | rx.C
