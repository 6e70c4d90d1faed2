"""`powersim litmus`: the parser on every test of tests/litmus/ and on malformed
input, and the runner on the machine.  The tests' verdicts are POWER's
([Sarkar-PLDI11], [Herd]).  Under the weak memory model (machine/weak.py) every
Forbidden outcome stays absent and the relaxed outcomes POWER hardware shows
appear (RELAXED_ON_POWER), in fast and exact mode, on cores and on SMT
siblings; under ``sc`` only interleavings appear."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from powersim import cli
from powersim.errors import PowersimError
from powersim.litmus import LitmusError, load, parse
from powersim.litmus_run import placement_shape, run_litmus

ROOT = Path(__file__).resolve().parents[1]
LITMUS = ROOT / "tests" / "litmus"
FILES = sorted(LITMUS.glob("*.litmus"))
NAMES = [f.stem for f in FILES]
FORBIDDEN = [f.stem for f in FILES if load(str(f)).verdict == "Forbidden"]

# the shapes the suite must cover, each with its barrier/dependency variants
REQUIRED = ["SB", "SB+syncs", "SB+lwsyncs", "MP", "MP+syncs", "MP+lwsyncs", "MP+lwsync+addr",
            "MP+sync+ctrlisync", "LB", "LB+datas", "LB+syncs", "WRC", "WRC+syncs",
            "WRC+lwsync+addr", "IRIW", "IRIW+syncs", "IRIW+lwsyncs", "R", "R+syncs", "2+2W",
            "2+2W+syncs", "S", "S+syncs", "S+lwsyncs", "CoRR", "CoWW", "CoRW", "CoWR"]
# relaxed outcomes POWER hardware shows [Sarkar-PLDI11] (LB is allowed but never
# seen on hardware)
RELAXED_ON_POWER = ["SB", "SB+lwsyncs", "MP", "WRC", "IRIW", "IRIW+lwsyncs", "R", "2+2W", "S"]
# run with the full 10,000 iterations in every mode by the fast subset; the slow
# test runs every Forbidden test the same way (benchmarks/litmus_all.py prints it)
REPRESENTATIVE = ["SB+syncs", "MP+lwsyncs", "WRC+lwsync+addr", "IRIW+syncs", "2+2W+lwsyncs",
                  "CoRR"]
MODES = [(p, e) for p in ("smt", "cores") for e in (False, True)]
MODE_IDS = [f"{p}-{'exact' if e else 'fast'}" for p, e in MODES]


def test_the_suite_has_every_required_test():
    assert len(FILES) >= 25
    assert set(REQUIRED) <= set(NAMES)
    assert set(RELAXED_ON_POWER) <= set(NAMES)


@pytest.mark.parametrize("path", FILES, ids=NAMES)
def test_every_file_parses_with_a_verdict(path):
    t = load(str(path))
    assert t.name == path.stem
    assert t.verdict in ("Allowed", "Forbidden")
    assert all(t.threads) and t.observed() != ((), ())
    if t.name in RELAXED_ON_POWER:
        assert t.verdict == "Allowed"


SB = """PPC SB
(* powersim: Allowed *)
{
0:r2=x; 0:r4=y;
1:r2=y; 1:r4=x;
}
 P0           | P1           ;
 li r1,1      | li r1,1      ;
 stw r1,0(r2) | stw r1,0(r2) ;
 lwz r3,0(r4) | lwz r3,0(r4) ;
exists (0:r3=0 /\\ 1:r3=0)
"""


def test_parse_sb():
    t = parse(SB, "sb.litmus")
    assert t.name == "SB" and t.verdict == "Allowed" and t.kind == "exists"
    assert t.threads[1] == [(8, "li r1,1"), (9, "stw r1,0(r2)"), (10, "lwz r3,0(r4)")]
    assert t.init_regs == {(0, 2): "x", (0, 4): "y", (1, 2): "y", (1, 4): "x"}
    assert t.locations == ["x", "y"] and t.observed() == (((0, 3), (1, 3)), ())
    assert t.witness({(0, 3): 0, (1, 3): 0}) and not t.witness({(0, 3): 1, (1, 3): 0})


def test_parse_condition_operators():
    body = SB.replace("(* powersim: Allowed *)\n", "").rsplit("exists", 1)[0]
    t = parse(body + "forall (~(0:r3=1 \\/ x=-1) /\\ true \\/ 1:r3=0x10)\n", "c.litmus")
    assert t.kind == "forall" and t.verdict is None
    assert t.holds({(0, 3): 0, (1, 3): 5, "x": 0})
    assert not t.holds({(0, 3): 0, (1, 3): 5, "x": (1 << 64) - 1})
    assert t.holds({(0, 3): 1, (1, 3): 16, "x": 0})
    assert not t.witness({(0, 3): 1, (1, 3): 16, "x": 0})
    t = parse(body + "~exists (x=1)\n", "c.litmus")
    assert t.kind == "~exists" and t.witness({"x": 1, (0, 3): 0, (1, 3): 0})


def test_locations_line_adds_to_the_histogram():
    t = parse(SB.replace("exists", "locations [x; 0:r1; z;]\nexists"), "l.litmus")
    assert t.observed() == (((0, 1), (0, 3), (1, 3)), ("x", "z"))
    out = run_litmus(t, iterations=50, placement="smt")
    assert all(s.startswith("0:r1=1; 0:r3=") and s.endswith(" x=1; z=0;")
               for s, _, _ in out.histogram)


def _lines(text, line, new):
    rows = text.splitlines()
    rows[line - 1] = new
    return "\n".join(rows) + "\n"


MALFORMED = [
    # (text, line of the error, fragments of the message)
    ("", 1, ["empty file", "'PPC NAME'"]),
    (SB.replace("PPC SB", "ARM SB"), 1, ["expected the header 'PPC NAME'"]),
    (SB.replace("{\n", "0:r2=x;\n{\n"), 3, ["expected the initial state"]),
    (SB.replace("(* powersim: Allowed *)", "(* powersim: Maybe *)"), 2,
     ["verdict 'Maybe'", "'(* powersim: Forbidden *)'"]),
    (SB.replace("(* powersim: Allowed *)", "(* powersim: Allowed"), 2,
     ["unterminated comment"]),
    (SB.replace("0:r2=x; 0:r4=y;", "0:r2=x; 0:r4;"), 4,
     ["initial state item '0:r4'", "'N:rK=location'"]),
    (SB.replace("0:r2=x; 0:r4=y;", "0:r2=x; 0:r30=y;"), 4,
     ["register r30", "harness", "r0..r24"]),
    (SB.replace("0:r2=x; 0:r4=y;", "0:r2=x; 0:f4=y;"), 4, ["registers r0..r31"]),
    (SB.replace("}\n", ""), 6, ["opened on line 3 has no closing '}'"]),
    (SB.replace("}\n", "").split(" P0")[0], 5, ["opened on line 3 has no closing '}'"]),
    (SB.replace("1:r4=x;", "1:r4=x; 2:r1=3;"), 5, ["2:r1", "threads 0..1"]),
    (SB.replace(" P0           | P1           ;", " P1 | P0 ;"), 7,
     ["thread table header", "'P0 | P1 | ... ;'"]),
    (_lines(SB, 9, " stw r1,0(r2) | stw r1,0(r2) | nop ;"), 9,
     ["3 columns", "declares 2 threads"]),
    (_lines(SB, 9, " stw r1,0(r2) | stw r28,0(r2) ;"), 9, ["P1", "uses r28", "harness"]),
    (SB.replace("exists (0:r3=0 /\\ 1:r3=0)\n", ""), 10, ["no condition"]),
    (SB.replace("exists (", "maybe ("), 11, ["expected 'exists', '~exists' or 'forall'"]),
    (SB.replace("exists", "locations [x; 2:r1;]\nexists"), 11,
     ["locations item '2:r1'", "thread N in 0..1"]),
    (SB.replace("exists", "locations x\nexists"), 11, ["expected 'locations [x; 0:r1"]),
    (SB.replace("exists (0:r3=0 /\\ 1:r3=0)", "locations [x;]"), 11,
     ["no condition after the locations"]),
    (SB.replace("1:r3=0)", ")"), 11, ["condition: unexpected ')'", "'N:rK=V'"]),
    (SB.replace("1:r3=0)", "1:r3=0"), 11, ["condition: ends too early"]),
    (SB.replace("1:r3=0)", "5:r3=0)"), 11, ["5:r3", "threads are 0..1"]),
    (SB.replace("1:r3=0)", "1:r3=z)"), 11, ["the value must be an integer"]),
    (SB.replace("1:r3=0)", "1:r3=0) junk"), 11, ["unexpected 'junk'"]),
]


@pytest.mark.parametrize("text,line,fragments", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_input_names_file_line_and_what_is_allowed(text, line, fragments):
    with pytest.raises(LitmusError) as e:
        parse(text, "bad.litmus")
    assert e.value.line == line, str(e.value)
    msg = str(e.value)
    assert msg.startswith(f"bad.litmus:{line}: ")
    for f in fragments:
        assert f in msg, msg


def test_an_assembly_error_names_the_litmus_line(tmp_path):
    t = parse(_lines(SB, 10, " lwz r3,0(r4) | frob r3,0(r4) ;"), "bad.litmus")
    with pytest.raises(LitmusError) as e:
        run_litmus(t, iterations=1)
    assert str(e.value).startswith("bad.litmus:10: P1: ")
    assert "frob" in str(e.value)


def test_a_test_that_never_ends_is_an_error():
    t = parse(_lines(SB, 10, " lwz r3,0(r4) | LC00: b LC00 ;"), "loop.litmus")
    with pytest.raises(PowersimError, match="loop.litmus: SB did not finish 1 iterations"):
        run_litmus(t, iterations=1)


def test_cli_errors_are_one_line_without_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.litmus"
    bad.write_text(SB.replace("1:r3=0)", ")"))
    assert cli.main(["litmus", str(LITMUS / "SB.litmus"), str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"powersim: error: {bad}:11: condition:") and "Traceback" not in err
    assert cli.main(["litmus", str(tmp_path / "nope.litmus")]) == 2
    assert "nope.litmus" in capsys.readouterr().err


def test_litmus_help_does_not_import_numba():
    code = ("import sys, powersim.cli as c\n"
            "try:\n    c.main(['litmus', '--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'numba' not in sys.modules, 'numba imported'\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "--placement" in r.stdout


def test_placements():
    assert placement_shape("smt", 2) == (1, 1, 2, [0, 1])
    assert placement_shape("smt", 3) == (1, 1, 4, [0, 1, 2])
    assert placement_shape("cores", 4) == (1, 4, 1, [0, 4, 8, 12])
    assert placement_shape("chips", 2) == (2, 1, 1, [0, 0x100])
    assert placement_shape("mixed", 4) == (2, 2, 2, [0, 1, 4, 0x100])
    with pytest.raises(Exception, match="allowed smt, cores, chips, mixed"):
        placement_shape("numa", 2)


# ------------------------------------------------------------------ the machine
def test_sb_outcomes_are_interleavings_when_sc_and_the_seed_decides(capsys):
    t = load(str(LITMUS / "SB.litmus"))
    a = run_litmus(t, iterations=500, placement="cores", seed=3, memory_model="sc")
    assert a.iterations == sum(c for _, c, _ in a.histogram) == 500
    # sequentially consistent: at least one thread sees the other's store
    assert {s for s, _, _ in a.histogram} <= {"0:r3=0; 1:r3=1;", "0:r3=1; 1:r3=0;",
                                              "0:r3=1; 1:r3=1;"}
    assert len(a.histogram) >= 2 and a.witnesses == 0 and a.status == "OK"
    assert run_litmus(t, iterations=500, placement="cores", seed=3,
                      memory_model="sc").histogram == a.histogram
    assert run_litmus(t, iterations=500, placement="cores", seed=4,
                      memory_model="sc").histogram != a.histogram
    # the weak model: SB's relaxed outcome, the same histogram for the same seed
    w = run_litmus(t, iterations=500, placement="cores", seed=3)
    assert w.witnesses > 0 and w.status == "OK" and w.memory_model == "power"
    assert run_litmus(t, iterations=500, placement="cores", seed=3).histogram == w.histogram


def test_final_memory_and_batches():
    """2+2W reads the final locations; 2500 iterations take three machine runs."""
    t = load(str(LITMUS / "2+2W.litmus"))
    out = run_litmus(t, iterations=2500, placement="chips", batch=1000, memory_model="sc")
    states = {s for s, _, _ in out.histogram}
    assert states <= {"x=1; y=2;", "x=2; y=1;", "x=1; y=1;"} and len(states) >= 2
    assert sum(c for _, c, _ in out.histogram) == 2500


def test_a_forbidden_outcome_observed_is_a_mismatch(tmp_path, capsys):
    """A Forbidden verdict on an outcome the machine produces: exit status 1."""
    bad = tmp_path / "SB-wrong.litmus"
    bad.write_text(SB.replace("Allowed", "Forbidden").replace("0:r3=0 /\\", "0:r3=1 /\\"))
    js = tmp_path / "out.json"
    assert cli.main(["litmus", str(bad), "--iterations", "200", "--json", str(js)]) == 1
    out = capsys.readouterr().out
    assert "Verdict (POWER): Forbidden: MISMATCH" in out and "Observation SB Observed" in out
    doc = json.loads(js.read_text())
    assert doc[0]["status"] == "MISMATCH" and doc[0]["observed"] and doc[0]["witnesses"] > 0


def test_cli_report(capsys):
    assert cli.main(["litmus", str(LITMUS / "SB.litmus"), str(LITMUS / "MP+syncs.litmus"),
                     "--iterations", "300", "--placement", "smt", "--memory-model", "sc"]) == 0
    out = capsys.readouterr().out
    assert "Observation SB Never 0 300" in out and "Verdict (POWER): Allowed: OK" in out
    assert "the machine is sequentially consistent here" in out
    assert "Verdict (POWER): Forbidden: OK" in out and "2 tests, 0 MISMATCH" in out


@pytest.mark.parametrize("placement,exact", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("name", REPRESENTATIVE)
def test_forbidden_never_appears(name, placement, exact):
    out = run_litmus(load(str(LITMUS / f"{name}.litmus")), iterations=10000,
                     placement=placement, exact=exact)
    assert out.verdict == "Forbidden"
    assert out.witnesses == 0 and out.status == "OK", out.histogram


@pytest.mark.slow
@pytest.mark.parametrize("placement,exact", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("name", [n for n in FORBIDDEN if n not in REPRESENTATIVE])
def test_forbidden_never_appears_all(name, placement, exact):
    test_forbidden_never_appears(name, placement, exact)


@pytest.mark.slow
@pytest.mark.parametrize("placement,exact", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("name", RELAXED_ON_POWER)
def test_relaxed_outcome_appears(name, placement, exact):
    """30,000 iterations: the rarest (S on cores, WRC on SMT siblings) show a
    few times in 30,000."""
    out = run_litmus(load(str(LITMUS / f"{name}.litmus")), iterations=30000,
                     placement=placement, exact=exact)
    assert out.witnesses > 0


@pytest.mark.parametrize("name", ["SB", "MP", "IRIW", "2+2W"])
def test_no_relaxed_outcome_when_sc(name):
    out = run_litmus(load(str(LITMUS / f"{name}.litmus")), iterations=3000,
                     placement="cores", memory_model="sc")
    assert out.witnesses == 0, out.histogram


def test_preload_puts_copies_in_the_caches_and_is_checked():
    """Random preloading (the default) changes which loads hit a copy the
    newer stores have not reached, so the histogram differs from no preload;
    bad values are errors naming what is allowed."""
    t = load(str(LITMUS / "MP.litmus"))
    a = run_litmus(t, iterations=3000, placement="cores")
    b = run_litmus(t, iterations=3000, placement="cores", preload="none")
    assert (a.preload, b.preload) == ("random", "none")
    assert a.histogram != b.histogram
    with pytest.raises(PowersimError, match="preload 'all': allowed random, none"):
        run_litmus(t, iterations=10, preload="all")
    with pytest.raises(PowersimError, match=r"max_delay = 4294967296: allowed 0\.\.4294967295"):
        run_litmus(t, iterations=10, max_delay=1 << 32)


@pytest.mark.parametrize("name", ["SB", "MP", "WRC", "S"])
def test_fast_and_exact_mode_give_the_same_histogram(name):
    """Every access to a line two threads use is ordered in fast mode too, so
    the threads interleave there as in exact mode (preloads included)."""
    t = load(str(LITMUS / f"{name}.litmus"))
    fast = run_litmus(t, iterations=3000, placement="cores")
    exact = run_litmus(t, iterations=3000, placement="cores", exact=True)
    assert fast.histogram == exact.histogram
