"""Kernel.load(take_tables=True) and Machine(mem=...) (no second copy
of the page tables in a scenario run)."""

import numpy as np
import pytest

from powersim.errors import PowersimError
from powersim.kernel.image import Kernel, idle
from powersim.machine.params import MachineParams
from powersim.machine.state import Machine


def test_taken_tables_give_the_same_machine_once():
    k = Kernel(chips=1, cores_per_chip=1, smt=4, thp_bytes=8 << 20)
    scripts = {c: [idle()] for c in range(1, 4)}
    copied = k.load(scripts, mm_cpus=range(4))
    taken = k.load(scripts, mm_cpus=range(4), take_tables=True)
    assert np.array_equal(copied.mem, taken.mem)
    assert taken.mem.nbytes == k.params.memory
    with pytest.raises(PowersimError, match="take_tables"):
        k.load(scripts, mm_cpus=range(4))


@pytest.mark.parametrize("mem", [np.zeros(4096, np.uint8), np.zeros(64 << 20, np.int8),
                                 [0] * 16])
def test_machine_rejects_a_wrong_memory_array(mem):
    with pytest.raises(PowersimError, match="memory = 67108864"):
        Machine(MachineParams(memory=64 << 20), mem=mem)
