"""Sweeps: grid checking before any point runs, a Dask LocalCluster
over TCP storing the same results as the local pool, and a sweep killed with
SIGKILL part-way then resumed, every point stored once."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from powersim.config import ConfigError
from powersim.store import Store
from powersim.sweep import make_points, parse_grid, run_point, run_sweep

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = "workloads/example-small.toml"       # 1 chip x 2 cores x SMT4, vcpus 8
GRID8 = ["workload.memory=4MiB,8MiB,12MiB,16MiB", "kernel.method=ipi,count"]


def powersim(*args, **kw):
    """`powersim ARGS` as a subprocess of this Python, from the repository root."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    return subprocess.run([sys.executable, "-m", "powersim", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, **kw)


def without_host(rows):
    out = {}
    for r in rows:
        res = dict(r["results"])
        res.pop("host")
        out[r["key"]] = res
    return out


# --- the grid ----------------------------------------------------------------------------
def test_grid_values_split_on_top_level_commas_only():
    g = parse_grid(["kernel.method=ipi, count", "machine.stop_ns=[1,2],[3,4]"])
    assert g == [("kernel.method", ["ipi", "count"]),
                 ("machine.stop_ns", ["[1,2]", "[3,4]"])]


def test_points_are_the_product_times_seeds_and_resolved():
    pts = make_points(ROOT / SCENARIO, parse_grid(GRID8, ROOT / SCENARIO), seeds=2)
    assert len(pts) == 4 * 2 * 2 and len({p["key"] for p in pts}) == 16
    assert [p["seed"] for p in pts[:4]] == [1, 2, 1, 2]
    assert pts[0]["config"]["workload"]["memory"] == 4 << 20
    assert pts[0]["overrides"] == ["workload.memory=4MiB", "kernel.method=ipi",
                                   "workload.seed=1"]
    # the same resolved configuration is one point: 4MiB and 4194304 are the same
    same = make_points(ROOT / SCENARIO, parse_grid(["workload.memory=4MiB,4194304"]))
    assert len(same) == 1


def test_seeds_and_a_seed_grid_together_are_refused():
    with pytest.raises(ConfigError, match="workload.seed"):
        make_points(ROOT / SCENARIO, parse_grid(["workload.seed=1,2"]), seeds=2)
    with pytest.raises(ConfigError, match="--seeds 0"):
        make_points(ROOT / SCENARIO, [], seeds=0)


@pytest.mark.parametrize("grid, words", [
    ("kernel.metod=ipi,count", ["kernel.metod", "unknown key", "method"]),
    ("kernel.method=", ["kernel.method", "empty"]),
    ("kernel.method=ipi,,count", ["kernel.method", "empty"]),
    ("kernel.method=ipi,fastest", ["kernel.method", "fastest", "allowed"]),
    ("workload.memory=4MiB,3MiB", ["workload.memory", "multiple of the 2MiB"]),
    ("workload.vcpus=8,9", ["workload.vcpus", "9"]),
    ("kernelmethod=ipi", ["kernelmethod", "section.key"]),
])
def test_bad_grid_fails_before_any_point_exit_2_naming_the_key(tmp_path, grid, words):
    db = tmp_path / "r.sqlite"
    p = powersim("sweep", SCENARIO, "--grid", "workload.seed=1,2", "--grid", grid,
                 "--db", str(db), "--jobs", "1")
    assert p.returncode == 2, p.stderr
    line = p.stderr.strip()
    assert line.startswith("powersim: error:") and "\n" not in line
    for w in words:
        assert w in line
    assert not db.exists()          # nothing ran, not even the database was opened


def test_bad_executor_options_fail_before_the_database(tmp_path):
    db = tmp_path / "r.sqlite"
    p = powersim("sweep", SCENARIO, "--jobs", "0", "--db", str(db))
    assert p.returncode == 2 and "--jobs 0: allowed an integer >= 1" in p.stderr
    p = powersim("sweep", SCENARIO, "--jobs", "2", "--dask-local", "2", "--db", str(db))
    assert p.returncode == 2 and "not allowed with argument" in p.stderr
    assert not db.exists()


def test_a_failing_point_is_reported_not_stored(tmp_path):
    pts = make_points(ROOT / SCENARIO, parse_grid(["workload.memory=4MiB"]))
    bad = dict(pts[0], config=json.loads(json.dumps(pts[0]["config"])))
    bad["config"]["workload"]["colour"] = "blue"     # from another powersim version, say
    out = run_point(bad)
    assert "results" not in out and "workload.colour" in out["error"]
    assert "\n" not in out["error"]


# --- Dask = local pool -----------------------------------------------------------------
@pytest.mark.dask
def test_dask_localcluster_over_tcp_stores_what_the_pool_stores(tmp_path):
    distributed = pytest.importorskip("distributed")
    pts = make_points(SCENARIO, parse_grid(GRID8, SCENARIO))
    assert len(pts) == 8
    with Store(tmp_path / "pool.sqlite") as st:
        rep = run_sweep(pts, st, jobs=2, progress=False)
        assert (rep.ran, rep.stored, rep.errors) == (8, 8, [])
        pool = st.rows()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        with Store(tmp_path / "dask.sqlite") as st:
            rep = run_sweep(pts, st, scheduler=cluster.scheduler_address, progress=False)
            assert (rep.ran, rep.stored, rep.errors) == (8, 8, [])
            dask = st.rows()
            pids = {r["pid"] for r in dask}
            # resumable there too: nothing left to run
            assert run_sweep(pts, st, scheduler=cluster.scheduler_address,
                             progress=False).ran == 0
    assert os.getpid() not in pids and len(pids) >= 1
    a, b = without_host(pool), without_host(dask)
    assert a == b and len(a) == 8
    ipi = [r for r in a.values() if r["method"] == "ipi"]
    assert all(r["counters"]["ipi_sent"] > 0 for r in ipi)


# --- SIGKILL part-way, then resume -----------------------------------------------------
@pytest.mark.slow
def test_sigkill_midway_then_rerun_stores_every_point_once(tmp_path):
    db = tmp_path / "k.sqlite"
    # 8 real points of about half a second each (mostly building the kernel), one worker
    args = ["sweep", SCENARIO, "--grid", "workload.memory=64MiB,128MiB,256MiB,512MiB",
            "--grid", "kernel.method=ipi,robust", "--db", str(db), "--jobs", "1",
            "--quiet"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "powersim", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    stored = 0
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if db.exists():
                try:
                    with sqlite3.connect(db, timeout=5) as c:
                        stored = c.execute("SELECT count(*) FROM points").fetchone()[0]
                except sqlite3.OperationalError:    # the table is not there yet
                    stored = 0
                if stored >= 2:
                    break
            time.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    with sqlite3.connect(db, timeout=5) as c:
        killed_at = c.execute("SELECT count(*) FROM points").fetchone()[0]
    assert 2 <= killed_at < 8
    _wait_workers_gone(proc.pid)

    p = powersim(*args)
    assert p.returncode == 0, p.stderr
    assert f"{killed_at} already stored, {8 - killed_at} run now" in p.stderr
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        keys = [r[0] for r in c.execute("SELECT key FROM points")]
    assert len(keys) == len(set(keys)) == 8
    want = {p["key"] for p in make_points(SCENARIO, parse_grid(args[3:6:2], SCENARIO))}
    assert set(keys) == want


def _wait_workers_gone(sid, timeout=30):
    """The killed sweep's pool workers die with it (PR_SET_PDEATHSIG): no process
    of its session is left."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [d for d in os.listdir("/proc") if d.isdigit() and _session(d) == sid]
        if not left:
            return
        time.sleep(0.1)
    raise AssertionError(f"processes of the killed sweep still running: {left}")


def _session(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return None if fields[0] == "Z" else int(fields[3])     # zombies are gone
    except (OSError, IndexError, ValueError):
        return None
