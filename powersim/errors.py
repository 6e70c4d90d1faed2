"""Named exceptions.  Every error a user can cause is a PowersimError: the CLI
prints its message and exits with status 2, never with a traceback."""


class PowersimError(Exception):
    """Bad input from the user (file, option, scenario).  The message says what
    is wrong and what is allowed."""


class AsmError(PowersimError):
    """An assembly error at a source position."""

    def __init__(self, reason: str, file: str = "<input>", line: int = 0):
        self.reason, self.file, self.line = reason, file, line
        super().__init__(f"{file}:{line}: {reason}" if line else f"{file}: {reason}")


class EncodeError(PowersimError):
    """An operand that does not fit its field (the assembler adds file:line)."""
