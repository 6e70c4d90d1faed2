"""`powersim ...`: the command line.  Imports are lazy so that `--help` is
instant and nothing is compiled before a command needs it."""

import argparse
import sys

from powersim.errors import PowersimError


def _int(text: str) -> int:
    """An integer in any base Python accepts (0x..., 0o..., 0b..., decimal)."""
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="powersim",
        description="A cycle-approximate POWER9 SMT4 emulator that runs a tiny "
                    "Linux-like mm layer in real Power ISA code.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    a = sub.add_parser("asm", help="assemble GNU-as syntax into a flat little-endian image",
                       description="Assemble a GNU-as-syntax source (the subset a small "
                                   "kernel needs) into raw little-endian bytes.")
    a.add_argument("source", metavar="IN.s")
    a.add_argument("-o", "--output", metavar="OUT.bin", help="write the image here")
    a.add_argument("--base", type=_int, default=0, metavar="ADDR",
                   help="address of the first byte of the image (default 0)")
    a.add_argument("--symbols", action="store_true", help="print the symbol table")

    d = sub.add_parser("disasm", help="disassemble a raw image, one word per line",
                       description="Print address, hex word and disassembly for each "
                                   "32-bit little-endian word (.long 0x... outside the subset).")
    d.add_argument("image", metavar="IN.bin")
    d.add_argument("--base", type=_int, default=0, metavar="ADDR",
                   help="address of the first byte of the image (default 0)")

    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "asm":
            from powersim.asm import cmd_asm
            return cmd_asm(args)
        if args.command == "disasm":
            from powersim.asm import cmd_disasm
            return cmd_disasm(args)
        raise AssertionError(args.command)
    except PowersimError as e:
        print(f"powersim: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"powersim: error: {e.filename or ''}: {e.strerror}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
