"""`powersim asm` and `powersim disasm` through cli.main and one real process."""

import os
import subprocess
import sys

from powersim import cli, isa
from powersim.asm import assemble

SRC = """\
_start:	li r3,5
	bl helper
	b .
	.org 0x20
helper:	ld r4,8(r3)
	blr
	.data
table:	.quad helper
"""


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_asm_writes_the_image_and_prints_symbols_by_address(tmp_path, capsys):
    src, out = write(tmp_path, "k.s", SRC), str(tmp_path / "k.bin")
    assert cli.main(["asm", src, "-o", out, "--base", "0x1000", "--symbols"]) == 0
    with open(out, "rb") as f:
        assert f.read() == assemble(SRC, base=0x1000).data
    assert capsys.readouterr().out.splitlines() == [
        "0x0000000000001000 _start", "0x0000000000001020 helper", "0x0000000000001028 table"]


def test_asm_without_output_only_checks(tmp_path, capsys):
    src = write(tmp_path, "k.s", SRC)
    assert cli.main(["asm", src]) == 0
    assert capsys.readouterr().out == ""
    assert cli.main(["asm", src, "--symbols"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "0x0000000000000020 helper"
    assert os.listdir(tmp_path) == ["k.s"]


def test_disasm_prints_address_word_and_text(tmp_path, capsys):
    data = assemble(SRC, base=0x1000).data[:0x28] + bytes([0, 0, 0, 0, 0xAB, 0xCD])
    img = tmp_path / "k.bin"
    img.write_bytes(data)
    assert cli.main(["disasm", str(img), "--base", "0x1000"]) == 0
    lines = capsys.readouterr().out.splitlines()
    t = isa.table()
    assert lines[0] == "0x0000000000001000  38600005  li r3,5"
    assert lines[1] == f"0x0000000000001004  4800001d  {t.disasm(0x4800001D, 0x1004)}"
    assert lines[1].endswith("bl 0x1020")
    assert lines[3] == "0x000000000000100c  00000000  .long 0x00000000"   # .org padding
    assert lines[8] == "0x0000000000001020  e8830008  ld r4,8(r3)"
    assert lines[-1] == "0x000000000000102c  abcd      .byte 0xab,0xcd"   # a partial word
    assert len(lines) == 12


def test_round_trip_through_the_commands(tmp_path, capsys):
    src, first = write(tmp_path, "k.s", SRC), str(tmp_path / "k.bin")
    assert cli.main(["asm", src, "-o", first, "--base", "0x4000"]) == 0
    assert cli.main(["disasm", first, "--base", "0x4000"]) == 0
    body = "".join(line.split(None, 2)[2] + "\n" for line in capsys.readouterr().out.splitlines())
    again, second = write(tmp_path, "again.s", body), str(tmp_path / "again.bin")
    assert cli.main(["asm", again, "-o", second, "--base", "0x4000"]) == 0
    with open(first, "rb") as a, open(second, "rb") as b:
        assert a.read() == b.read()


def test_errors_exit_2_with_file_line_and_reason(tmp_path, capsys):
    src = write(tmp_path, "bad.s", "nop\n  ldd r3,8(r4)\n")
    assert cli.main(["asm", src, "-o", str(tmp_path / "x.bin")]) == 2
    err = capsys.readouterr().err
    assert err == f"powersim: error: {src}:2: unknown mnemonic 'ldd'; did you mean 'ld'?\n"
    assert not (tmp_path / "x.bin").exists()


def test_missing_input_files_exit_2(tmp_path, capsys):
    missing = str(tmp_path / "nope.s")
    assert cli.main(["asm", missing]) == 2
    assert cli.main(["disasm", missing]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"powersim: error: {missing}: No such file or directory"] * 2


def test_disasm_refuses_a_misaligned_base(tmp_path, capsys):
    img = tmp_path / "k.bin"
    img.write_bytes(bytes(4))
    assert cli.main(["disasm", str(img), "--base", "2"]) == 2
    assert "--base 2 must be a multiple of 4 in 0..2**64-4" in capsys.readouterr().err


def test_a_real_process_reports_without_traceback(tmp_path):
    src = write(tmp_path, "bad.s", "b nowhere\n")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    r = subprocess.run([sys.executable, "-m", "powersim", "asm", src], capture_output=True,
                       text=True, env=env)
    assert r.returncode == 2
    assert r.stderr == f"powersim: error: {src}:1: undefined symbol 'nowhere'\n"
    assert "Traceback" not in r.stderr and r.stdout == ""
