"""powersim: a cycle-approximate POWER9 SMT4 emulator that runs a tiny mm kernel."""

__version__ = "0.1.0"
