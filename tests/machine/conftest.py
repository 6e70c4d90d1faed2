"""Helpers for the machine tests: every configuration goes through the same
jitted core (same argument types), so it compiles once per session."""

import attrs
import pytest

from powersim.machine.exec import run_asm
from powersim.machine.params import MachineParams

# vector handlers that record (H)SRR0/1 in r20/r21 and halt; .org is relative
# to the start of .text, which is loaded at physical 0
HANDLERS = """
    .org 0x100
    mfspr r20, 26
    mfspr r21, 27
    attn
    .org 0x700
    mfspr r20, 26
    mfspr r21, 27
    attn
    .org 0xc00
    mfspr r20, 26
    mfspr r21, 27
    attn
    .org 0xe40
    mfspr r20, 314
    mfspr r21, 315
    attn
    .org 0x1000
"""


@pytest.fixture
def run():
    def _run(src, params=None, **kw):
        kw.setdefault("smt", 1)
        return run_asm(src, params=params, **kw)
    return _run


def params(**kw):
    return attrs.evolve(MachineParams(), **kw)
