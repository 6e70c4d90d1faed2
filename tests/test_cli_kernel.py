"""`powersim kernel`: the built kernel image, its symbols and disassembly."""

import pytest

from powersim.cli import main

ROUTINES = ("_start", "h_doorbell", "smp_call_function_many", "serialize_against_pte_lookup",
            "pmdp_huge_get_and_clear", "munmap")


def test_dump_shows_each_routine_under_its_symbol(capsys):
    assert main(["kernel", "--dump"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for name in ROUTINES:
        i = lines.index(f"{name}:")
        addr, word, text = lines[i + 1].split(None, 2)   # the routine's first instruction
        assert int(addr, 16) % 4 == 0 and len(word) == 8 and not text.startswith(".long")


def test_symbols_and_raw_image(tmp_path, capsys):
    out = tmp_path / "k.bin"
    assert main(["kernel", "-o", str(out)]) == 0
    table = dict(reversed(line.split()) for line in capsys.readouterr().out.splitlines())
    assert set(ROUTINES) <= set(table)
    assert out.stat().st_size > int(table["munmap"], 16)


@pytest.mark.parametrize("argv,needle", [(["--method", "bogus"], "kernel.method = 'bogus'"),
                                         (["--cores", "65"], "cores_per_chip = 65")])
def test_bad_input_names_the_value(argv, needle, capsys):
    assert main(["kernel", *argv]) == 2
    assert needle in capsys.readouterr().err
