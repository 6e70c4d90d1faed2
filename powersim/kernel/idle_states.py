"""POWER9's idle states as the firmware lists them to Linux (numba-free: the
scenario checks use it before anything is compiled)."""

from powersim.machine.layout import PSSCR_EC, PSSCR_ESL

# name: (PSSCR RL, MTL, ESL = EC, exit latency us, target residency us) [SK-slw]:
# the latencies are the firmware's estimates, which cpuidle's governor believes;
# the hardware's wake-up is the machine's stop_lite_ns / stop_ns.
STATES = {
    "stop0_lite": (0, 3, False, 1, 10),
    "stop0": (0, 3, True, 2, 20),
    "stop1": (1, 3, True, 5, 50),
    "stop2": (2, 3, True, 10, 100),
    "stop4": (4, 7, True, 100, 10000),
    "stop5": (5, 7, True, 200, 20000),
    "stop8": (8, 11, True, 2000, 20000),
    "stop11": (11, 11, True, 10000, 100000),
}


def psscr(name: str) -> int:
    """The PSSCR value of a state: RL, MTL, TR = 3, and ESL = EC = 1 unless lite."""
    rl, mtl, esl, _, _ = STATES[name]
    return (PSSCR_ESL | PSSCR_EC if esl else 0) | 3 << 8 | mtl << 4 | rl
