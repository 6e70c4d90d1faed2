"""`powersim compare --jobs N`: the methods in worker processes give the same
results, in the same order, as one after the other; a cold numba cache is
compiled by one worker only."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from powersim import cli

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = "workloads/example-small.toml"       # 1 chip x 2 cores x SMT4, vcpus 8
METHODS = "ipi,count,robust"                    # ipi, the slowest, is submitted first
HOST_ROWS = ("host wall", "MIPS")


def compare(capsys, tmp_path, jobs):
    out = tmp_path / f"jobs{jobs}.json"
    assert cli.main(["compare", SCENARIO, "--methods", METHODS, "--set",
                     "workload.memory=6MiB", "--seed", "3", "--jobs", str(jobs),
                     "--json", str(out)]) == 0
    captured = capsys.readouterr()
    docs = json.loads(out.read_text())
    for d in docs:
        assert d.pop("host")["wall_seconds"] > 0
    # the cells (column widths follow the host wall's digits, as in two sequential runs)
    table = [r.split() for r in captured.out.splitlines() if not r.startswith(HOST_ROWS)]
    return docs, table, captured.err


def test_jobs_2_gives_the_results_and_table_of_jobs_1(capsys, tmp_path):
    seq, seq_table, seq_err = compare(capsys, tmp_path, 1)
    par, par_table, par_err = compare(capsys, tmp_path, 2)
    assert [d["method"] for d in par] == METHODS.split(",")
    assert all(d["seed"] == 3 for d in par)
    assert par == seq
    assert par_table == seq_table and len(par_table) > 10
    assert "[1/3] ipi" in seq_err                                   # one at a time here
    assert "compare: 3 methods in 2 processes" in par_err           # and a worker there
    assert sum(" done: " in line for line in par_err.splitlines()) == 3
    assert "in a worker" in par_err         # the first method goes to the worker


def test_bad_jobs_are_refused_before_anything_runs(capsys):
    assert cli.main(["compare", SCENARIO, "--methods", "ipi", "--jobs", "0"]) == 2
    assert "--jobs 0" in capsys.readouterr().err


def test_an_error_in_a_worker_is_the_error_of_the_sequential_run(capsys):
    args = ["compare", SCENARIO, "--methods", "ipi,count", "--quiet",
            "--set", "workload.memory=8MiB", "--set", "machine.trace_capacity=10"]
    assert cli.main([*args, "--jobs", "1"]) == 2
    seq = capsys.readouterr().err
    assert cli.main([*args, "--jobs", "2"]) == 2
    assert capsys.readouterr().err == seq and "machine.trace_capacity = 10" in seq


@pytest.mark.slow
def test_a_cold_numba_cache_is_compiled_once_by_two_workers(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"),
               POWERSIM_CACHE=str(tmp_path / "ps"),
               PYTHONPATH=os.pathsep.join([str(ROOT)] + [p for p in
                                                         [os.environ.get("PYTHONPATH")] if p]))
    p = subprocess.run([sys.executable, "-m", "powersim", "compare", SCENARIO, "--methods",
                        "ipi,count", "--set", "workload.memory=4MiB", "--jobs", "2"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    lines = p.stderr.splitlines()
    notice = [x for x in lines if "compiling the numba core" in x]
    assert notice == ["powersim: compiling the numba core (first run only, about a minute)..."]
    assert sum(x.startswith(("[1/2]", "[2/2]")) for x in lines) == 2
