"""`powersim exec`: output, JSON, and clear errors before any compile."""

import json
from pathlib import Path

import pytest

from powersim import cli
from powersim.machine import core


@pytest.fixture
def no_core(monkeypatch):
    """Fail the test if the numba core would be entered."""
    def forbidden(*a, **k):
        raise AssertionError("the core was run")
    monkeypatch.setattr(core, "run", forbidden)


def write(tmp_path, text, name="prog.s"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_exec_json_and_dump(tmp_path):
    src = write(tmp_path, "_start:\n mfspr r5, 1023\n sldi r6, r3, 3\n addi r6, r6, 0x2000\n"
                          " stdx r5, 0, r6\n attn\n")
    out = tmp_path / "out.json"
    rc = cli.main(["exec", src, "--cores", "2", "--dump", "0x2000:64", "--json", str(out)])
    assert rc == 0
    doc = json.loads(out.read_text())
    assert [t["pir"] for t in doc["threads"]] == [0, 1, 2, 3, 4, 5, 6, 7]
    assert all(t["halted"] and t["gpr"][5] == t["pir"] == t["gpr"][3] for t in doc["threads"])
    dump = bytes.fromhex(doc["dumps"]["0x2000"])
    assert [int.from_bytes(dump[8 * i:8 * i + 8], "little") for i in range(8)] == \
        list(range(8))            # core 1 has PIRs 4..7 (chip << 8 | core << 2 | thread)
    assert doc["instructions"] == sum(t["instructions"] for t in doc["threads"])
    assert doc["cycles"] == max(t["cycles"] for t in doc["threads"])
    assert set(doc["threads"][0]["stats"]) >= {"loads", "stores", "int_e80", "spin_sleeps"}


def test_exec_summary(tmp_path, capsys):
    src = write(tmp_path, "_start:\n li r3, 0x55\n attn\n")
    assert cli.main(["exec", src, "--smt", "1"]) == 0
    out = capsys.readouterr().out
    assert "1 threads" in out and "r3 0x55" in out and "halted" in out


@pytest.mark.parametrize("text,args,message", [
    ("foo:\n attn\n", [], "no `_start` symbol"),
    ("_start:\n attn\n .space 0x4000000\n", [], "does not fit in memory"),
    ("_start:\n attn\n", ["--cores", "65"], "cores_per_chip = 65: allowed 1..64"),
    ("_start:\n attn\n", ["--smt", "8"], "smt = 8: allowed 1, 2, 4"),
    ("_start:\n attn\n", ["--smt", "3"], "smt = 3: allowed 1, 2, 4"),
    ("_start:\n attn\n", ["--threads", "9"], "threads = 9: this machine has 4"),
    ("_start:\n attn\n", ["--dump", "0x10"], "expected ADDR:LEN"),
    ("_start:\n attn\n", ["--max-cycles", "0"], "max_cycles = 0"),
])
def test_exec_errors(tmp_path, capsys, no_core, text, args, message):
    src = write(tmp_path, text)
    assert cli.main(["exec", src] + args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_exec_missing_file(tmp_path, capsys, no_core):
    assert cli.main(["exec", str(tmp_path / "nope.s")]) == 2
    assert "nope.s" in capsys.readouterr().err


def test_cli_does_not_import_the_core():
    """`powersim --help` stays instant: nothing numba is imported or compiled."""
    import subprocess
    import sys
    code = ("import sys, powersim.cli as c; c.build_parser().format_help(); "
            "print('numba' in sys.modules, 'powersim.machine.core' in sys.modules)")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=root).stdout.split()
    assert out == ["False", "False"]
