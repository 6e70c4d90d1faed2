"""`powersim run` for the munmap_thp workload: IPI counts per
method, the measured operation's time, deterministic JSON, bad input."""

import json
import types

import numpy as np
import pytest
from tables import table_rows

from powersim import cli, sim
from powersim.config import load_scenario

SCENARIO = "workloads/example-small.toml"   # 1 chip x 2 cores x SMT4, vcpus 8
SMALL = ["workload.memory=8MiB"]            # 4 THPs


def simulate(method, extra=()):
    sc = load_scenario(SCENARIO, SMALL + [f"kernel.method={method}", *extra])
    return sim.Simulation(sc, SCENARIO).run(progress=False)


@pytest.fixture(scope="module")
def runs():
    return {m: simulate(m) for m in ("ipi", "count")}


def test_ipi_sends_a_round_of_vcpus_minus_1_per_thp(runs):
    c = runs["ipi"].counters
    assert c["ipi_rounds"] == 4 and c["ipi_sent"] == 4 * 7


def test_count_sends_none_in_the_same_rounds(runs):
    c = runs["count"].counters
    assert c["ipi_sent"] == 0 and c["ipi_rounds"] == 4


def test_op_time_is_positive_and_ipis_cost_time(runs):
    assert 0 < runs["count"].op_seconds < runs["ipi"].op_seconds
    assert runs["ipi"].op_seconds < runs["ipi"].sim_seconds


def test_serialize_rounds_with_ipis_take_longer(runs):
    ipi, count = (runs[m].serialize_latency for m in ("ipi", "count"))
    assert 0 < count["min"] <= count["median"] <= count["p99"] <= count["max"]
    assert ipi["min"] > count["max"]


def test_cpus_outside_the_mask_get_no_ipi():
    r = simulate("ipi", ["workload.vcpus=3"])
    assert r.counters["ipi_sent"] == 4 * 2


def test_fullmm_runs_exit_mmap():
    """exit_mmap flushes the whole PID once instead of per 2M page ([L-tlb])."""
    munmap = simulate("count")
    exitmm = simulate("count", ["workload.fullmm=true"])
    assert exitmm.counters["tlbie"] < munmap.counters["tlbie"]


def without_host(text):
    doc = json.loads(text)
    assert doc.pop("host")["wall_seconds"] > 0
    return doc


def test_host_reports_the_schedulers_slices_per_instruction(runs):
    """Every slice starts with a boundary check, so there are at least as many
    boundaries as slices; the IPI workload switches threads far more often per
    instruction than count's (every csd access is an ordered operation)."""
    ipi, count = (runs[m].host for m in ("ipi", "count"))
    for h in (ipi, count):
        assert 0 < h["slices_per_insn"] <= h["boundaries_per_insn"] <= 1
    assert ipi["slices_per_insn"] > count["slices_per_insn"]


def test_two_runs_give_the_same_json_apart_from_host(tmp_path, runs):
    out = tmp_path / "r.json"
    assert cli.main(["run", SCENARIO, "--set", SMALL[0], "--quiet", "--json", str(out)]) == 0
    again = without_host(out.read_text())
    assert again == without_host(runs["ipi"].to_json())
    assert again["config"]["workload"]["memory"] == 8 << 20
    assert set(again["counters"]) == {"ipi_sent", "ipi_rounds", "tlbie", "tlbiel",
                                      "guest_exits", "walks", "races", "instructions",
                                      "gather_flushes", "page_free_ns"}


def test_summary_table_is_printed(capsys):
    assert cli.main(["run", SCENARIO, "--set", SMALL[0], "--method", "count"]) == 0
    out = capsys.readouterr().out
    assert "method=count" in out and "IPIs sent" in out and "MIPS" in out
    # a munmap with no lockless walker adds no race row: the common table, then
    # munmap_thp's own rows
    lines = out.splitlines()
    assert lines[-3].startswith("MIPS") and "races" not in out
    assert lines[-2].split() == ["gather", "flushes", "1"] and lines[-1].startswith("page freeing")


def test_a_generator_declares_its_rows_once_for_run_and_compare(monkeypatch, runs):
    """What a new generator writes: summary_rows(results), tuples or Rows."""
    from powersim import workloads
    from powersim.results import Row, compare_table, ns
    gen = types.SimpleNamespace(summary_rows=lambda r: [
        ("wakeup median", r.op_seconds * 1e9, ns, True), Row("nothing", None)])
    monkeypatch.setattr(workloads, "get", lambda _name: gen)
    ipi, count = runs["ipi"], runs["count"]
    t = table_rows(ipi.summary())
    assert list(t)[-3:] == ["MIPS", "wakeup median", "nothing"]
    assert t["wakeup median"] == [ns(ipi.op_seconds * 1e9)] and t["nothing"] == ["-"]
    c = table_rows(compare_table([ipi, count]))
    assert c["wakeup median"] == [ns(ipi.op_seconds * 1e9), ns(count.op_seconds * 1e9)]
    assert c["wakeup median ratio"] == c["ratio"]
    assert "nothing ratio" not in c


@pytest.mark.parametrize("value,message", [("-1", "not a non-negative integer: '-1'"),
                                           ("three", "not an integer: 'three'")])
def test_bad_races_count_is_an_argparse_error(monkeypatch, capsys, value, message):
    monkeypatch.setattr(sim.Simulation, "run", lambda *_a, **_k: pytest.fail("ran"))
    with pytest.raises(SystemExit) as e:
        cli.main(["run", SCENARIO, "--races", value])
    err = capsys.readouterr().err
    assert e.value.code == 2 and f"argument --races: {message}" in err
    assert "Traceback" not in err


def test_races_with_no_walker_says_so(capsys):
    assert cli.main(["run", SCENARIO, "--set", SMALL[0], "--quiet", "--races", "3"]) == 0
    assert capsys.readouterr().out == "races: none (no lockless walk to check)\n"


@pytest.mark.parametrize("args,named", [
    (["--set", "workload.memry=8MiB"], "workload.memry"),
    (["--method", "ipx"], "kernel.method"),
    (["--set", "workload.vcpus=9"], "workload.vcpus"),
    (["--set", "workload.generator=gup_strom"], "workload.generator"),
    (["--set", "workload.memory=1TiB"], "machine.memory"),
    (["--set", "machine.smt=3"], "machine.smt = 3: allowed 1, 2, 4"),
])
def test_bad_input_exits_2_naming_the_key_without_running(monkeypatch, capsys, args, named):
    def never(*_a, **_k):
        raise AssertionError("ran")
    monkeypatch.setattr(sim.Simulation, "run", never)
    assert cli.main(["run", SCENARIO, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("powersim: error:") and named in err


def test_progress_bar_counts_pmds_against_the_region_and_shows_sim_time(capsys):
    sim.Simulation(load_scenario(SCENARIO, SMALL), SCENARIO).run(progress=True)
    last = capsys.readouterr().err.split("\r")[-1]
    assert "100%" in last and "4/4" in last and "PMD/s" in last and "sim 0.000" in last


def test_record_count_reads_each_drained_chunk_once():
    from powersim.machine.state import TRACE_DTYPE

    def rows(*kt):
        r = np.zeros(len(kt), TRACE_DTYPE)
        r["kind"], r["thread"] = zip(*kt) if kt else ((), ())
        return r

    class Log:      # Machine.trace_chunks over a growing list of drained chunks
        drained, live = [rows((4, 0), (4, 1))], rows((4, 0))

        def trace_chunks(self, start=0):
            return self.drained[start:] + [self.live]
    log = Log()
    count = sim._RecordCount(log, thread=0, kind=4)
    assert count() == 2
    log.drained.append(rows((4, 0), (5, 0), (4, 0)))
    log.live = rows()
    assert count() == 3 and count() == 3 and count.chunks == 2


def test_a_full_trace_log_is_refused_naming_the_capacity(capsys):
    assert cli.main(["run", SCENARIO, "--set", SMALL[0], "--quiet",
                     "--set", "machine.trace_capacity=10"]) == 2
    assert "machine.trace_capacity = 10" in capsys.readouterr().err


def test_compare_prints_each_method_with_its_ratio(capsys, tmp_path, runs):
    out = tmp_path / "c.json"
    assert cli.main(["compare", SCENARIO, "--methods", "ipi,count", "--set", SMALL[0],
                     "--quiet", "--json", str(out)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1].split() == ["method", "ipi", "count"]
    ratio = dict((r.split()[0], r.split()[1:]) for r in table[2:])["ratio"]
    expect = runs["count"].op_seconds / runs["ipi"].op_seconds
    assert ratio == ["1.0000", f"{expect:.4f}"]
    docs = json.loads(out.read_text())
    assert [d["method"] for d in docs] == ["ipi", "count"]
    assert without_host(json.dumps(docs[1])) == without_host(runs["count"].to_json())


@pytest.mark.parametrize("methods,named", [("ipi,,count", "--methods"),
                                           ("ipi,fastest", "kernel.method")])
def test_compare_refuses_bad_methods_before_running(monkeypatch, capsys, methods, named):
    monkeypatch.setattr(sim.Simulation, "run", lambda *_a, **_k: pytest.fail("ran"))
    assert cli.main(["compare", SCENARIO, "--methods", methods]) == 2
    assert named in capsys.readouterr().err


def test_every_generator_value_has_its_module():
    from powersim import workloads
    from powersim.config import GENERATORS
    for name in GENERATORS:
        assert callable(workloads.get(name).plan), name
