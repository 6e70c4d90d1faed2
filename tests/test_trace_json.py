"""`powersim run --trace`: the Chrome trace-event JSON of a
small munmap -- per-CPU tracks, one IPI send per target and one IPI interrupt
on each target per serialize round, guest entry/exit stalls, --trace-window,
and tracing (machine.trace_events) not changing the simulated results."""

import json
from collections import Counter

import pytest

from powersim import cli, sim
from powersim.chrome_trace import chrome_trace, parse_window
from powersim.config import ConfigError, load_scenario
from powersim.machine.layout import EV_INTR

SCENARIO = "workloads/example-small.toml"   # 1 chip x 2 cores x SMT4, vcpus 8
SMALL = ["workload.memory=4MiB"]            # 2 THPs: 2 serialize rounds
TARGETS = range(1, 8)                       # CPU 0 unmaps, 1..7 are in mm_cpumask


def simulate(extra=(), events=True):
    sc = load_scenario(SCENARIO, SMALL + [f"machine.trace_events={str(events).lower()}",
                                          *extra])
    s = sim.Simulation(sc, SCENARIO)
    return s.run(progress=False), s.last_run


@pytest.fixture(scope="module")
def xive():
    return simulate(["kernel.ipi=xive"])


@pytest.fixture(scope="module")
def doorbell():
    return simulate(["kernel.ipi=doorbell"])


def spans(doc, cat=None, name=None):
    return [e for e in doc["traceEvents"] if e["ph"] == "X" and
            (cat is None or e["cat"] == cat) and (name is None or e["name"] == name)]


def within(e, r):
    """Event e starts inside the duration event r (microseconds, 1 ps rounding)."""
    return r["ts"] - 1e-6 <= e["ts"] <= r["ts"] + r["dur"] + 1e-6


def test_tracing_changes_no_simulated_result(xive):
    res, run = xive
    off, run_off = simulate(["kernel.ipi=xive"], events=False)
    assert res.counters == off.counters and res.op_seconds == off.op_seconds
    assert res.serialize_latency == off.serialize_latency
    # the kernel's own records are the same records at the same cycles
    kern = run.trace[run.trace["kind"] < 0xF8]
    assert len(kern) == len(run_off.trace) and (kern["cycle"] == run_off.trace["cycle"]).all()
    assert (run.trace["kind"] >= 0xF8).sum() > 0 and (run_off.trace["kind"] >= 0xF8).sum() == 0


def test_json_loads_with_one_named_track_per_cpu(xive):
    doc = json.loads(json.dumps(chrome_trace(xive[1])))
    assert doc["displayTimeUnit"] == "ns"
    meta = [e for e in doc["traceEvents"] if e["ph"] == "M"]
    assert {"ph": "M", "name": "process_name", "pid": 0, "args": {"name": "machine"}} in meta
    names = {e["tid"]: e["args"]["name"] for e in meta if e["name"] == "thread_name"}
    assert names == {t: f"CPU {t} (PIR {t:#x})" for t in range(8)}
    tids = {e["tid"] for e in doc["traceEvents"] if e["ph"] != "M"}
    assert tids == set(range(8))
    assert len(spans(doc, "op")) == 1


@pytest.mark.parametrize("ipi, vector", [("xive", "IPI (XIVE 0xEA0)"),
                                         ("doorbell", "doorbell 0xE80")])
def test_each_round_sends_one_ipi_per_target_and_each_target_takes_one(ipi, vector, request):
    res, run = request.getfixturevalue(ipi)
    doc = chrome_trace(run)
    rounds = spans(doc, "serialize")
    assert len(rounds) == res.counters["ipi_rounds"] == 2
    op = spans(doc, "op")[0]
    sends = [e for e in doc["traceEvents"] if e["ph"] == "i" and e["cat"] == "ipi"]
    intrs = spans(doc, "interrupt", vector)
    assert len(sends) == res.counters["ipi_sent"] == 2 * len(TARGETS)
    for r in rounds:
        assert r["tid"] == 0 and within(r, op)
        sent = Counter(e["args"]["target"] for e in sends if e["tid"] == 0 and within(e, r))
        assert sent == {u: 1 for u in TARGETS}
        taken = Counter(e["tid"] for e in intrs if within(e, r))
        assert taken == {u: 1 for u in TARGETS}
    # every send has a flow arrow ending at the target's interrupt
    starts = {e["id"]: e for e in doc["traceEvents"] if e["ph"] == "s"}
    ends = {e["id"]: e for e in doc["traceEvents"] if e["ph"] == "f"}
    assert len(starts) == len(ends) == len(sends)
    for i, f in ends.items():
        assert any(e["tid"] == f["tid"] and e["ts"] == f["ts"] for e in intrs)
        assert f["ts"] > starts[i]["ts"]


def test_duration_events_nest_on_every_track(xive, doorbell):
    for _, run in (xive, doorbell):
        by = {}
        for e in spans(chrome_trace(run)):
            by.setdefault(e["tid"], []).append(e)
        for es in by.values():
            stack = []
            for e in sorted(es, key=lambda e: (e["ts"], -e["dur"])):
                while stack and stack[-1]["ts"] + stack[-1]["dur"] <= e["ts"] + 2e-6:
                    stack.pop()
                assert not stack or e["ts"] + e["dur"] <= \
                    stack[-1]["ts"] + stack[-1]["dur"] + 2e-6, (stack[-1], e)
                stack.append(e)


def test_guest_entry_and_exit_stalls():
    res, run = simulate(["workload.vcpu_state=guest"])
    doc = chrome_trace(run)
    exits = spans(doc, "guest", "guest exit")
    ipis = spans(doc, "interrupt", "doorbell 0xE80")
    work = spans(doc, "interrupt", "IPI receive work")
    # no timer in the guest: each of the 2 IPI rounds forces one exit per vCPU
    assert Counter(e["tid"] for e in exits) == {u: 2 for u in TARGETS}
    assert res.counters["guest_exits"] == len(exits)
    assert all(any(i["tid"] == x["tid"] and within(x, i) for i in ipis) for x in exits)
    assert Counter(e["tid"] for e in work) == {u: 2 for u in TARGETS}
    assert all(w["dur"] > 0 and any(i["tid"] == w["tid"] and within(w, i) for i in ipis)
               for w in work)
    assert {e["tid"] for e in spans(doc, "guest", "guest entry")} == set(TARGETS)
    periods = spans(doc, "guest", "guest")
    assert periods and all(p["dur"] > 0 for p in periods)


def test_window_keeps_exactly_the_overlapping_events(xive):
    run = xive[1]
    full = chrome_trace(run)
    lo, hi = parse_window("10us:30000ns")
    part = chrome_trace(run, (lo, hi))

    def overlaps(e):
        return e["ts"] <= hi and e["ts"] + e.get("dur", 0) >= lo
    kept = [e for e in part["traceEvents"] if e["ph"] in "Xi"]
    assert kept and all(overlaps(e) for e in kept)
    want = [e for e in full["traceEvents"] if e["ph"] in "Xi" and overlaps(e)]
    assert sorted(map(json.dumps, kept)) == sorted(map(json.dumps, want))
    assert len(want) < len([e for e in full["traceEvents"] if e["ph"] in "Xi"])
    assert all(lo <= e["ts"] <= hi for e in part["traceEvents"] if e["ph"] in "sf")


def test_machine_events_off_by_default():
    assert load_scenario(SCENARIO).machine.trace_events is False
    assert EV_INTR == 0xF8


@pytest.mark.parametrize("text, want", [("0:50us", (0, 50)), ("1ms:2ms", (1000, 2000)),
                                        ("100ns:1", (0.1, 1)), ("0.5:1.5s", (0.5, 1.5e6))])
def test_parse_window(text, want):
    assert parse_window(text) == pytest.approx(want)


@pytest.mark.parametrize("text", ["", "5", "5:2", "1:1", "-1:5", "a:5us", "1:5min", "1:2:3"])
def test_bad_window_is_rejected(text):
    with pytest.raises(ConfigError, match="--trace-window"):
        parse_window(text)


def test_cli_bad_window_exits_2_before_running(tmp_path, capsys):
    out = tmp_path / "t.json"
    assert cli.main(["run", SCENARIO, "--quiet", "--trace", str(out),
                     "--trace-window", "50us:10us"]) == 2
    err = capsys.readouterr().err
    assert "--trace-window = '50us:10us'" in err and "START must be below END" in err
    assert "Traceback" not in err and not out.exists()
    assert cli.main(["run", SCENARIO, "--quiet", "--trace-window", "0:5"]) == 2
    assert "needs --trace" in capsys.readouterr().err


def test_cli_writes_the_trace(tmp_path):
    out = tmp_path / "t.json"
    assert cli.main(["run", SCENARIO, "--quiet", "--set", SMALL[0], "--trace", str(out),
                     "--trace-window", "0:20us"]) == 0
    doc = json.loads(out.read_text())
    ev = [e for e in doc["traceEvents"] if e["ph"] in "Xi"]
    assert ev and all(e["ts"] <= 20 and e["ts"] + e.get("dur", 0) >= 0 for e in ev)
    assert any(e["name"] == "doorbell 0xE80" for e in ev)
