"""The gup_storm, thp_churn and vcpus workload generators: what each model
implies, checked on small runs of their scenario files, and the rows each one
adds to the summary and to compare."""

import pytest
from tables import table_rows

from powersim import cli, sim
from powersim.config import ConfigError, load_scenario
from powersim.kernel.checker import RACE_KINDS
from powersim.results import ns

GUP = "workloads/gup-storm.toml"            # 4 GUP threads, 16 MiB, 200 us at 200,000/s
CHURN = "workloads/race-split-collapse.toml"
SEED = "workloads/seed-munmap-496g.toml"
VCPUS = "workloads/vcpus.toml"              # 4 vCPUs (guest, migrating), main thread CPU 7


def run(path, *sets):
    return sim.Simulation(load_scenario(path, list(sets)), path).run(progress=False)


# --- gup_storm --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def storms():
    return {m: run(GUP, f"kernel.method={m}") for m in ("none", "ipi", "count")}


def test_gup_storm_calls_at_the_rate_for_the_duration(storms):
    r = storms["none"]
    assert r.counters["gup_calls"] == 4 * 200 * 200_000 // 10**6    # threads x calls each
    assert r.counters["walks"] == r.counters["gup_calls"]           # one PMD read per call
    assert 0 < r.counters["gup_pinned"] < r.counters["gup_calls"]   # until the munmap
    assert r.counters["races"] == 0
    g = r.gup_ns
    assert 0 < g["min"] <= g["median"] <= g["p99"] <= g["max"]


def test_count_walkers_pay_their_atomics_on_every_call(storms):
    """count brackets each walk with an atomic inc/dec of the shared
    lockless_pgtbl_walkers and two syncs: a higher median and minimum."""
    none, count = storms["none"].gup_ns, storms["count"].gup_ns
    assert count["min"] > none["min"] and count["median"] > none["median"]


def test_ipi_munmap_sends_each_round_to_the_gup_threads(storms):
    c = storms["ipi"].counters
    assert c["ipi_rounds"] == 8 and c["ipi_sent"] == 8 * 4      # 8 THPs, 4 threads
    # count sends only in the rounds that found a walker inside a walk
    assert storms["count"].counters["ipi_sent"] < c["ipi_sent"]
    assert storms["ipi"].op_seconds > storms["none"].op_seconds


def test_gup_storm_needs_a_cpu_for_the_munmap():
    with pytest.raises(ConfigError, match="workload.gup_threads = 8"):
        run(GUP, "workload.gup_threads=8")


def test_compare_shows_gup_latency_per_method(capsys, storms):
    assert cli.main(["compare", GUP, "--methods", "none,ipi,count", "--quiet"]) == 0
    t = table_rows(capsys.readouterr().out)
    gup = [storms[m].gup_ns for m in ("none", "ipi", "count")]
    assert t["gup median"] == [ns(g["median"]) for g in gup]
    assert t["gup p99"] == [ns(g["p99"]) for g in gup]
    assert t["gup median ratio"] == [f"{g['median'] / gup[0]['median']:.4f}" for g in gup]
    assert float(t["gup median ratio"][2]) > 1         # count's atomics (test above)
    assert t["gup calls"] == ["160"] * 3 and t["races"] == ["0"] * 3


# --- thp_churn --------------------------------------------------------------------------
@pytest.mark.parametrize("method,racy", [("none", True), ("ipi", False), ("count", False),
                                         ("percpu", False), ("robust", False),
                                         ("trim", False)])
def test_churn_races_only_without_serialization(method, racy):
    r = run(CHURN, f"kernel.method={method}")
    c = r.counters
    assert (c["races"] > 0) == racy
    assert c["splits"] == 14 and c["collapses"] == 13      # 10,000/s each over 1.4 ms
    # one serialize per event before the munmap at 1,331 us (13 splits, 13 collapses),
    # then one per THP it finds huge (all 4); the split after it finds nothing
    assert c["walks"] > 5000 and c["ipi_rounds"] == 30
    kinds = {x["kind"] for x in r.race_records or ()}
    assert ("use_after_free" in kinds) == racy


def test_run_prints_the_races_by_kind(capsys):
    assert cli.main(["run", CHURN, "--method", "none"]) == 0
    t = table_rows(capsys.readouterr().out)
    races = int(t["races"][0])
    kinds = {k: int(t[f"  {k}"][0]) for k in RACE_KINDS if f"  {k}" in t}
    assert races > 0 and kinds and sum(kinds.values()) == races
    assert int(t["lockless walks"][0]) > 5000


def test_run_lists_the_first_races(capsys):
    assert cli.main(["run", CHURN, "--method", "none", "--races", "3", "--quiet"]) == 0
    listed = capsys.readouterr().out.splitlines()
    r = run(CHURN, "kernel.method=none")
    assert listed[0].startswith(f"first 3 of {r.counters['races']} races")
    records = [line.split() for line in listed[2:]]
    assert [(int(c), t, int(cpu), kind, int(slot, 16)) for c, t, _us, cpu, kind, slot, *_
            in records] == [(x["cycle"], f"{x['cycle'] / 2400:.3f}", x["cpu"], x["kind"],
                             x["slot"]) for x in r.race_records[:3]]     # 2.4 GHz
    assert cli.main(["run", CHURN, "--method", "none", "--races", "0", "--quiet"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("first 0 of ")


def test_safe_method_prints_zero_races(capsys):
    assert cli.main(["run", CHURN, "--method", "count"]) == 0
    t = table_rows(capsys.readouterr().out)
    assert t["races"] == ["0"] and not any(f"  {k}" in t for k in RACE_KINDS)
    assert int(t["lockless walks"][0]) > 5000


def test_safe_method_has_no_race_to_list(capsys):
    assert cli.main(["run", CHURN, "--method", "count", "--quiet", "--races", "3"]) == 0
    r = run(CHURN, "kernel.method=count")
    assert capsys.readouterr().out == f"races: none in {r.counters['walks']} lockless walks\n"


def test_race_records_are_in_the_results_json():
    r = run(CHURN, "kernel.method=none")
    recs = r.to_dict()["race_records"]
    assert len(recs) == r.counters["races"]
    assert set(recs[0]) == {"cycle", "cpu", "kind", "slot", "ptep", "table"}
    assert "race_records" not in run(CHURN, "kernel.method=ipi").to_dict()


def test_compare_keeps_a_race_kind_under_races(capsys):
    """The kinds only the second method has stay right under "races"."""
    assert cli.main(["compare", CHURN, "--methods", "ipi,none", "--quiet"]) == 0
    names = list(table_rows(capsys.readouterr().out))
    at = names.index("races")
    assert names[at + 1].startswith("  ") and names[at + 1].strip() in RACE_KINDS
    assert names[-2:] == ["splits", "collapses"]


def test_churn_with_more_events_than_a_script_holds_is_refused():
    with pytest.raises(ConfigError, match="workload.split_rate = 100000"):
        run(CHURN, "workload.split_rate=100000")


# --- vcpus ------------------------------------------------------------------------------
def test_migrating_vcpus_grow_mm_cpumask():
    pinned = run(VCPUS, "workload.vcpu_placement=pinned", "workload.kvm_fault_rate=0")
    moving = run(VCPUS, "workload.kvm_fault_rate=0")
    assert pinned.mm_cpumask_weight == 4 + 1               # the vCPUs and the main thread
    assert moving.mm_cpumask_weight == 8                   # 6 periods: every CPU visited


def test_guest_exits_are_kvm_faults_plus_one_per_guest_period():
    r = run(VCPUS, "workload.vcpu_placement=pinned", "workload.wake_rate=0")
    c = r.counters
    assert c["kvm_faults"] == 4 * 30 == c["walks"]         # 100,000/s for 300 us each
    assert c["guest_exits"] == c["kvm_faults"] + 4         # and each guest period's end
    k = r.kvm_fault_ns
    assert 0 < k["min"] <= k["median"] <= k["max"]


def test_guest_exits_are_ipis_plus_one_per_guest_period():
    r = run(VCPUS, "workload.vcpu_placement=pinned", "workload.kvm_fault_rate=0")
    c = r.counters
    assert c["ipis_handled"] == 4 * 5 == c["ipi_sent"]     # 5 rounds to 4 vCPUs
    assert c["guest_exits"] == c["ipis_handled"] + 4


@pytest.mark.parametrize("rate,us,shallow", [(50_000, 400, True), (50, 200_000, False)])
def test_idle_governor_state_follows_the_wakeup_interval(rate, us, shallow):
    """Wake-ups every 20 us: once the 8 intervals of history say so, the menu
    governor predicts less than stop1's 50 us residency (RL 0 states only);
    every 20 ms: the tick stops and the states are stop4/stop5."""
    r = run(VCPUS, "workload.vcpu_state=idle", "workload.vcpu_placement=pinned",
            f"workload.wake_rate={rate}", f"workload.duration_us={us}")
    stops = r.idle_stops
    assert sum(stops.values()) >= 4 * 9
    rl0 = stops.get("stop0_lite", 0) + stops.get("stop0", 0)
    if shallow:
        assert rl0 >= 0.8 * sum(stops.values()) and not {"stop4", "stop5"} & set(stops)
    else:
        assert set(stops) <= {"stop4", "stop5"} and r.counters["guest_exits"] == 0


def test_vcpus_summary_shows_mask_kvm_faults_and_idle_stops():
    guest = run(VCPUS)
    t = table_rows(guest.summary())
    assert t["mm_cpumask weight"] == ["8"]                 # every CPU visited (above)
    assert t["kvm faults"] == [str(guest.counters["kvm_faults"])] != ["0"]
    assert t["kvm fault median"] == [ns(guest.kvm_fault_ns["median"])]
    assert t["idle stops"] == ["0"]
    idle = run(VCPUS, "workload.vcpu_state=idle", "workload.vcpu_placement=pinned")
    t = table_rows(idle.summary())
    stops = idle.idle_stops
    assert t["idle stops"] == [str(sum(stops.values()))] and sum(stops.values()) > 0
    assert all(t[f"  {name}"] == [str(n)] for name, n in stops.items())
    assert t["kvm fault median"] == ["-"]


def test_vcpus_and_the_main_thread_must_fit():
    with pytest.raises(ConfigError, match="workload.vcpus = 8"):
        run(VCPUS, "workload.vcpus=8")


@pytest.mark.parametrize("method,rounds_of_ipis", [("ipi", 4), ("trim", 1)])
def test_trim_drops_the_idle_vcpu_cpus_after_one_round(method, rounds_of_ipis):
    """The seed's situation on 8 CPUs: 7 idle CPUs in mm_cpumask that run no mm.
    v5.4's ipi sends every one of the 4 rounds to all 7; v5.12's trim sends the
    first round, whose do_serialize takes each idle CPU out of the mask, and
    then none."""
    r = run(SEED, "machine.chips=1", "machine.cores_per_chip=2", "workload.vcpus=8",
            "workload.memory=8MiB", f"kernel.method={method}")
    assert r.config["workload"]["vcpu_state"] == "idle"
    assert r.counters["ipi_rounds"] == 4
    assert r.counters["ipi_sent"] == rounds_of_ipis * 7
