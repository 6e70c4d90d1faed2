"""The gup_storm, thp_churn and vcpus workload generators:
what each model implies, checked on small runs of their scenario files."""

import pytest

from powersim import sim
from powersim.config import ConfigError, load_scenario

GUP = "workloads/gup-storm.toml"            # 4 GUP threads, 16 MiB, 200 us at 200,000/s
CHURN = "workloads/race-split-collapse.toml"
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
    assert storms["count"].counters["ipi_sent"] == 0            # nobody in a walk then
    assert storms["ipi"].op_seconds > storms["none"].op_seconds


def test_gup_storm_needs_a_cpu_for_the_munmap():
    with pytest.raises(ConfigError, match="workload.gup_threads = 8"):
        run(GUP, "workload.gup_threads=8")


# --- thp_churn --------------------------------------------------------------------------
@pytest.mark.parametrize("method,racy", [("none", True), ("ipi", False), ("count", False),
                                         ("percpu", False), ("robust", False),
                                         ("trim", False)])
def test_churn_races_only_without_serialization(method, racy):
    r = run(CHURN, f"kernel.method={method}")
    c = r.counters
    assert (c["races"] > 0) == racy
    assert c["splits"] == 14 and c["collapses"] == 13      # 10,000/s each over 1.4 ms
    assert c["walks"] > 5000 and c["ipi_rounds"] == 27     # one serialize per event


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
def test_idle_governor_level_follows_the_wakeup_interval(rate, us, shallow):
    """Wake-ups every 20 us: the prediction stays below stop1's 50 us residency
    (only RL 0); every 20 ms: it climbs past 10 ms (stop4)."""
    r = run(VCPUS, "workload.vcpu_state=idle", "workload.vcpu_placement=pinned",
            f"workload.wake_rate={rate}", f"workload.duration_us={us}")
    levels = {int(k): v for k, v in r.idle_stops.items()}
    assert sum(levels.values()) >= 4 * 9
    if shallow:
        assert set(levels) == {0}
    else:
        assert max(levels) >= 4 and r.counters["guest_exits"] == 0


def test_vcpus_and_the_main_thread_must_fit():
    with pytest.raises(ConfigError, match="workload.vcpus = 8"):
        run(VCPUS, "workload.vcpus=8")
