"""The sweep results store: one row per point, keyed by the
resolved configuration; WAL; concurrent writers; CSV/JSON export."""

import csv
import io
import json
import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from powersim import cli
from powersim.config import load_scenario
from powersim.store import Store, StoreError, export_rows, point_key

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "workloads/example-small.toml")


def fake_row(i, method="ipi"):
    """A stored row as a sweep writes it (results shaped like Results.to_dict())."""
    cfg = load_scenario(SCENARIO, [f"workload.seed={i}", f"kernel.method={method}"]).to_dict()
    return {"key": point_key(cfg), "scenario": "workloads/example-small.toml",
            "overrides": [f"kernel.method={method}", f"workload.seed={i}"], "seed": i,
            "method": method, "op_seconds": 1e-6 * i,
            "results": {"config": cfg, "op_seconds": 1e-6 * i, "sim_seconds": 2e-6 * i,
                        "counters": {"ipi_sent": 7 * i, "tlbie": 3}, "method": method,
                        "seed": i, "host": {"wall_seconds": 0.5, "mips": 3.0}},
            "host": "h", "pid": 1, "wall_seconds": 0.75, "finished": "2026-01-01T00:00:00+00:00"}


def test_point_key_depends_on_the_resolved_configuration_only():
    a = load_scenario(SCENARIO, ["workload.memory=4MiB"]).to_dict()
    b = load_scenario(SCENARIO, ["workload.memory=4194304"]).to_dict()
    c = load_scenario(SCENARIO, ["workload.memory=4MiB", "workload.seed=2"]).to_dict()
    assert point_key(a) == point_key(b) != point_key(c)
    assert len(point_key(a)) == 64


def test_a_point_is_stored_once_in_wal_mode(tmp_path):
    with Store(tmp_path / "r.sqlite") as st:
        assert st.add(fake_row(1)) is True
        assert st.add(fake_row(1)) is False         # INSERT OR IGNORE on the key
        assert st.add(fake_row(2)) is True
        assert st.count() == 2 and st.keys() == {fake_row(1)["key"], fake_row(2)["key"]}
        rows = st.rows()
        assert rows[0]["overrides"] == ["kernel.method=ipi", "workload.seed=1"]
        assert rows[1]["results"]["counters"]["ipi_sent"] == 14
        assert st.integrity() == "ok"
    c = sqlite3.connect(tmp_path / "r.sqlite")
    assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _writer(path, ids, q):
    try:
        with Store(path) as st:
            q.put(sum(st.add(fake_row(i)) for i in ids))
    except BaseException as e:      # report, do not hang the test
        q.put(repr(e))


def test_two_concurrent_writers_never_corrupt_nor_duplicate(tmp_path):
    path = str(tmp_path / "c.sqlite")
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    # overlapping keys: 1..40 and 21..60, both creating the database at once
    procs = [ctx.Process(target=_writer, args=(path, ids, q))
             for ids in (range(1, 41), range(21, 61))]
    for p in procs:
        p.start()
    added = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert all(isinstance(n, int) for n in added), added
    assert sum(added) == 60
    with Store(path) as st:
        keys = [r["key"] for r in st.rows()]
        assert len(keys) == len(set(keys)) == 60 and st.integrity() == "ok"


def test_export_csv_and_json(tmp_path):
    rows = [fake_row(1), fake_row(2, "count")]
    with Store(tmp_path / "r.sqlite") as st:
        for r in rows:
            st.add(r)
        stored = st.rows()
    table = list(csv.DictReader(io.StringIO(export_rows(stored, "csv"))))
    assert [t["kernel.method"] for t in table] == ["ipi", "count"]
    assert [t["workload.seed"] for t in table] == ["1", "2"]
    assert table[1]["counters.ipi_sent"] == "14" and float(table[0]["op_seconds"]) == 1e-6
    js = json.loads(export_rows(stored, "json"))
    assert js[1]["results"]["config"]["kernel"]["method"] == "count"


def test_results_cli(tmp_path, capsys):
    db = tmp_path / "r.sqlite"
    with Store(db) as st:
        st.add(fake_row(3))
    assert cli.main(["results", str(db), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["seed"] == 3
    assert cli.main(["results", str(db), "-o", str(tmp_path / "o.csv")]) == 0
    assert (tmp_path / "o.csv").read_text().startswith("key,scenario,seed,method")
    assert cli.main(["results", str(tmp_path / "none.sqlite")]) == 2
    err = capsys.readouterr().err
    assert "none.sqlite: no such results database" in err and err.count("\n") == 1
    assert not (tmp_path / "none.sqlite").exists()


def test_not_a_store(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(StoreError, match="junk.sqlite"):
        Store(junk)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(StoreError, match="no points table"):
        Store(other, create=False)
